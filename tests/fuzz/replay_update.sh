#!/bin/sh
# Replays the update fuzz corpus through zone_update_apply, the written
# file and the loader (TAP output); an invariant violation aborts the replay.
exec "${BUILDDIR:-.}/tests/fuzz/fuzz_update_replay" "${SRCDIR:-.}/tests/fuzz/corpus/update"

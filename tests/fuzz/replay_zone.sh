#!/bin/sh
# Replays the zone file fuzz corpus through zone_load and the query path
# (TAP output); an invariant violation aborts the replay.
exec "${BUILDDIR:-.}/tests/fuzz/fuzz_zone_replay" "${SRCDIR:-.}/tests/fuzz/corpus/zone"

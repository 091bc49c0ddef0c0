#!/bin/sh
# Replays the config fuzz corpus through config_load, the loader and the
# policy answers (TAP output); an invariant violation aborts the replay.
GTM_FUZZ_DATA="${SRCDIR:-.}/tests/data" exec "${BUILDDIR:-.}/tests/fuzz/fuzz_config_replay" \
    "${SRCDIR:-.}/tests/fuzz/corpus/config"

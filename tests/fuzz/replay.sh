#!/bin/sh
# Replays the packet fuzz corpus through the real query path (TAP output).
GTM_FUZZ_DATA="${SRCDIR:-.}/tests/data" exec "${BUILDDIR:-.}/tests/fuzz/fuzz_packet_replay" \
    "${SRCDIR:-.}/tests/fuzz/corpus/packet"

#!/bin/sh
# Replays the probe fuzz corpus (tests/fuzz/fuzz_probe.c) in TAP form; an
# invariant violation aborts the replay, which the TAP driver reports.
exec "${BUILDDIR:-.}/tests/fuzz/fuzz_probe_replay" "${SRCDIR:-.}/tests/fuzz/corpus/probe"

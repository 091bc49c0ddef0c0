#!/bin/sh
# Replays the fleet fuzz corpus (tests/fuzz/fuzz_fleet.c) in TAP form; an
# invariant violation aborts the replay, which the TAP driver reports.
exec "${BUILDDIR:-.}/tests/fuzz/fuzz_fleet_replay" "${SRCDIR:-.}/tests/fuzz/corpus/fleet"

#!/bin/sh
# Replays the peer channel fuzz corpus (tests/fuzz/fuzz_peer.c) in TAP
# form; an invariant violation aborts the replay, which the TAP driver
# reports.
exec "${BUILDDIR:-.}/tests/fuzz/fuzz_peer_replay" "${SRCDIR:-.}/tests/fuzz/corpus/peer"

#!/bin/sh
# Replays the admin API fuzz corpus through the request parsers (TAP output);
# an invariant violation aborts the replay, which the TAP driver reports.
exec "${BUILDDIR:-.}/tests/fuzz/fuzz_admin_replay" "${SRCDIR:-.}/tests/fuzz/corpus/admin"

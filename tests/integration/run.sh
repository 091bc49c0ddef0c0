#!/bin/sh
# Runs the integration tests (pytest, Debian's python3) against the real
# gtmd binary; conftest.py prints one TAP line per test for automake.
# In a ThreadSanitizer build (GTM_TSAN set by 'make check', see Makefile.am)
# only the tests marked "threads" run: they are the ones that exercise the
# workers, the prober and the admin thread at once, and TSan makes gtmd
# several times slower.
set -e
cd "${SRCDIR:-.}/tests/integration"
export GTMD="${GTMD:-${BUILDDIR:-../..}/gtmd}"
if [ -n "${GTM_TSAN:-}" ]; then
    set -- -m threads "$@"
fi
# The tests spend most of their time waiting (backends to fall, timers,
# etcd elections): with pytest-xdist (python3-pytest-xdist) they run in
# GTM_TEST_JOBS processes at once (default 3; 1 runs them one by one).
# Everything they make is named per process (ports from the kernel,
# namespaces and subnets per worker: netlab.slot()).
jobs=${GTM_TEST_JOBS:-3}
if [ "$jobs" -gt 1 ] && /usr/bin/python3 -c 'import xdist' 2>/dev/null; then
    set -- -n "$jobs" "$@"
fi
# rerun.py runs them, then runs again, alone, the few that failed (at
# most 10, never one whose sanitizer report failed its teardown): one
# that passes then counts as passed, marked FLAKY in its TAP line, with
# its first failure printed in full (rerun.py says why).
exec /usr/bin/python3 rerun.py "$@" .

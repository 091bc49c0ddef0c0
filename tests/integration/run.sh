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
/usr/bin/python3 -m pytest -q -p no:cacheprovider "$@" .

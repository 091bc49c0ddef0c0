#!/bin/sh
# Runs the integration tests (pytest, Debian's python3) against the real
# gtmd binary; conftest.py prints one TAP line per test for automake.
set -e
cd "${SRCDIR:-.}/tests/integration"
export GTMD="${GTMD:-${BUILDDIR:-../..}/gtmd}"
/usr/bin/python3 -m pytest -q -p no:cacheprovider "$@" .

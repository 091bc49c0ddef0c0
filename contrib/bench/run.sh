#!/bin/sh
# run.sh -- build gtmd (if it is not built yet or is out of date) and run the
# benchmark: gtmd against NSD, Knot and gdnsd on the same zone, plus the
# UDP/TCP echo ceiling. Options are passed on to bench.py; see
# contrib/bench/README.md or `run.sh --help`.
#
# Needs root (taskset is enough for the pinned runs; the CPU quota runs need
# a writable cgroup), 2+ CPUs, and the Debian 12 packages dnsperf, nsd,
# knot, gdnsd (contrib/deps.sh installs the build dependencies).
set -eu
top=$(cd "$(dirname "$0")/../.." && pwd)

if [ ! -f "$top/build/Makefile" ]; then
    (cd "$top" && autoreconf -fi && mkdir -p build && cd build && ../configure --enable-werror)
fi
if ! make -C "$top/build" -j2 >"${TMPDIR:-/tmp}/gtmbench-make.log" 2>&1; then
    echo "run.sh: the build failed (see ${TMPDIR:-/tmp}/gtmbench-make.log)" >&2
    [ -x "$top/build/gtmd" ] || exit 1
    echo "run.sh: benchmarking the existing $top/build/gtmd" >&2
fi
exec /usr/bin/python3 "$top/contrib/bench/bench.py" "$@"

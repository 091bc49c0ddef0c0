#!/bin/sh
# dnstap's CPU cost on the query path, in-process (dnstap_cpu.c): every
# query and response logged to a writer thread writing to /dev/null,
# against no dnstap, interleaved rounds; the process pinned to one core
# so the writer thread's CPU is counted and competes as in gtmd.
#
#   sh contrib/bench/dnstap_cpu.sh [WORKDIR [ROUNDS [SECONDS [SAMPLE]]]]
#   (default /tmp/gtmbench 7 1 1)
set -eu
top=$(cd "$(dirname "$0")/../.." && pwd)
wd=${1:-/tmp/gtmbench}
rounds=${2:-7}
secs=${3:-1}
sample=${4:-1}
mkdir -p "$wd"
zone="$wd/bench-10000.zone"
queries="$wd/queries-10000.txt"
if [ ! -f "$zone" ] || [ ! -f "$queries" ]; then
    /usr/bin/python3 "$top/contrib/bench/gen_zone.py" --zone "$zone" --names 10000 \
        --queries "$queries" >/dev/null
fi
if [ ! -f "$top/build/Makefile" ]; then
    [ -x "$top/configure" ] || (cd "$top" && autoreconf -fi)
    mkdir -p "$top/build"
    (cd "$top/build" && ../configure >/dev/null)
fi
make -C "$top/build" contrib/bench/dnstap_cpu >/dev/null
exec taskset -c 0 "$top/build/contrib/bench/dnstap_cpu" "$zone" "$queries" "$rounds" "$secs" "$sample"

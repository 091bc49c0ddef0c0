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
. "$top/contrib/bench/inproc.sh"
bench_build "$wd" contrib/bench/dnstap_cpu
exec taskset -c 0 "$top/build/contrib/bench/dnstap_cpu" "$zone" "$queries" "$rounds" "$secs" "$sample"

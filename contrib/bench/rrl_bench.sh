#!/bin/sh
# RRL benchmark: the CPU cost per query of the whole query path with and
# without response rate limiting (and with client cookies), in-process on
# the benchmark zone (gen_zone.py, kept in the work directory for later
# runs). Builds contrib/bench/rrl_bench in build/ and runs it.
#
#   sh contrib/bench/rrl_bench.sh [WORKDIR [ROUNDS [SECONDS [RRL]]]]
#   (default /tmp/gtmbench 7 1 '{"rate": 1000000}')
set -eu
top=$(cd "$(dirname "$0")/../.." && pwd)
wd=${1:-/tmp/gtmbench}
rounds=${2:-7}
secs=${3:-1}
rrl=${4:-'{"rate": 1000000}'}
. "$top/contrib/bench/inproc.sh"
bench_build "$wd" contrib/bench/rrl_bench
exec taskset -c 0 "$top/build/contrib/bench/rrl_bench" "$zone" "$queries" "$rounds" "$secs" "$rrl"

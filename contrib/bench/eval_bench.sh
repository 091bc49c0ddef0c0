#!/bin/sh
# eval_bench.sh -- policy_eval's cost in this tree against another tree
# (default: the main branch's worktree), as ns per evaluation.
#
#   sh contrib/bench/eval_bench.sh [OTHER_TREE] [ROUNDS] [EVALS]
#
# Each tree must have a configured build/ with libgtm.a made
# (make libgtm.a). Builds eval_bench.c against each, then runs them
# interleaved (other, this, other, this...) ROUNDS times (default 3), one
# process per round, and prints each run's median round and the medians'
# spread. This tree's binary also runs once with a 30 % dial in force.
set -eu
here=$(cd "$(dirname "$0")/../.." && pwd)
other=${1:-/work/main}
rounds=${2:-3}
evals=${3:-3000000}
out=${TMPDIR:-/tmp}/eval_bench.$$
mkdir -p "$out"
trap 'rm -rf "$out"' EXIT
build() { # tree binary [extra cflags]
    cc -O2 -std=gnu11 -pthread -I"$1/src" $3 -o "$2" "$here/contrib/bench/eval_bench.c" \
        "$1/build/libgtm.a" $(pkg-config --libs ldns libevent libevent_pthreads libevent_openssl jansson \
        libmaxminddb libcares openssl) -lm
}
build "$other" "$out/other" ""
build "$here" "$out/this" "-DWITH_DIALS"
median() { sort -n | awk '{v[NR]=$1} END {print (NR%2) ? v[(NR+1)/2] : (v[NR/2]+v[NR/2+1])/2}'; }
run() { "$1" 5 "$evals" ${2:-} 2>/dev/null | awk '{print $3}' | median; }
: > "$out/o"; : > "$out/t"
i=0
while [ "$i" -lt "$rounds" ]; do
    run "$out/other" >> "$out/o"
    run "$out/this" >> "$out/t"
    i=$((i + 1))
done
echo "other ($other): $(tr '\n' ' ' < "$out/o")ns/eval; median $(median < "$out/o")"
echo "this  ($here): $(tr '\n' ' ' < "$out/t")ns/eval; median $(median < "$out/t")"
echo "this, 30 % dial on the first region: $(run "$out/this" dial) ns/eval"

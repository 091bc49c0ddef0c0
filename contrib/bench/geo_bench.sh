#!/bin/sh
# Geo benchmark: generates a synthetic MaxMind DB (gen_geo_db.pl, kept in
# the work directory for later runs), builds contrib/bench/geo_bench in
# build/ and runs it: load time, memory, compile times and lookup speed.
#
#   sh contrib/bench/geo_bench.sh [WORKDIR [NETWORKS]]   (default /tmp/gtmbench 1050000)
set -eu
top=$(cd "$(dirname "$0")/../.." && pwd)
wd=${1:-/tmp/gtmbench}
n=${2:-1050000}
mkdir -p "$wd"
db="$wd/geo-bench-$n.mmdb"
[ -f "$db" ] || perl "$top/contrib/bench/gen_geo_db.pl" "$db" "$n"
if [ ! -f "$top/build/Makefile" ]; then
    [ -x "$top/configure" ] || (cd "$top" && autoreconf -fi)
    mkdir -p "$top/build"
    (cd "$top/build" && ../configure >/dev/null)
fi
make -C "$top/build" contrib/bench/geo_bench >/dev/null
"$top/build/contrib/bench/geo_bench" "$db"

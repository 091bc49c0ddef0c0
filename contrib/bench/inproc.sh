# inproc.sh -- sourced by the in-process benchmarks' scripts (rrl_bench.sh,
# dnstap_cpu.sh): bench_build WORKDIR TARGET makes the benchmark zone and
# query file in WORKDIR (gen_zone.py; kept for later runs), configures
# build/ when needed, builds build/TARGET, and sets $zone and $queries.
bench_build() {
    mkdir -p "$1"
    zone="$1/bench-10000.zone"
    queries="$1/queries-10000.txt"
    if [ ! -f "$zone" ] || [ ! -f "$queries" ]; then
        /usr/bin/python3 "$top/contrib/bench/gen_zone.py" --zone "$zone" --names 10000 \
            --queries "$queries" >/dev/null
    fi
    if [ ! -f "$top/build/Makefile" ]; then
        [ -x "$top/configure" ] || (cd "$top" && autoreconf -fi)
        mkdir -p "$top/build"
        (cd "$top/build" && ../configure >/dev/null)
    fi
    make -C "$top/build" "$2" >/dev/null
}

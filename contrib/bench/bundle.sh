#!/bin/sh
# bundle.sh OUTDIR -- gtmd, NSD, Knot and dnsperf with every shared library
# they load, runnable on a Linux x86-64 machine that has none of them (not
# Debian, another glibc, no package manager, no network): the scaling
# benchmark's binaries for cores_bench.py --bundle OUTDIR.
#
# Layout:
#   OUTDIR/bin/X          the real binaries (copied, not stripped), and
#                         udp_echo (contrib/bench/udp_echo.c, built with cc)
#   OUTDIR/lib/           every library ldd names (symlinks resolved, under
#                         their sonames), the dynamic loader, libgcc_s
#                         (glibc dlopens it for thread cancellation)
#   OUTDIR/X              a wrapper: OUTDIR/lib/ld-linux-x86-64.so.2
#                         --library-path OUTDIR/lib OUTDIR/bin/X "$@"
#   OUTDIR/MANIFEST       where each file came from, and the versions
#
# The loader never reads the host's /etc/ld.so.cache or /lib for these, so
# the host's glibc does not matter. A program started through the wrapper
# sees the loader as /proc/self/exe; none of these four reads it.
#
# Binaries by environment (defaults: this tree's build/gtmd or ./gtmd, then
# what PATH finds, then Debian's paths): GTMD, NSD, KNOTD, DNSPERF. A missing NSD, KNOTD or
# DNSPERF is left out with a warning (cores_bench.py then skips that
# server); a missing gtmd is an error.
set -eu

if [ $# -ne 1 ]; then
    echo "usage: $0 OUTDIR   (GTMD=path NSD=path KNOTD=path DNSPERF=path to choose binaries)" >&2
    exit 2
fi
OUT=$1
TOP=$(cd "$(dirname "$0")/../.." && pwd)

find_bin() { # name, env value, fallbacks...
    name=$1
    given=$2
    shift 2
    if [ -n "$given" ]; then
        echo "$given"
        return
    fi
    p=$(command -v "$name" 2>/dev/null || true)
    if [ -n "$p" ]; then
        echo "$p"
        return
    fi
    for f in "$@"; do
        if [ -x "$f" ]; then
            echo "$f"
            return
        fi
    done
}

# gtmd: this tree's build before any gtmd on PATH.
if [ -z "${GTMD:-}" ]; then
    for f in "$TOP/build/gtmd" "$TOP/gtmd"; do
        if [ -x "$f" ]; then
            GTMD=$f
            break
        fi
    done
fi
GTMD=$(find_bin gtmd "${GTMD:-}")
NSD=$(find_bin nsd "${NSD:-}" /usr/sbin/nsd)
KNOTD=$(find_bin knotd "${KNOTD:-}" /usr/sbin/knotd)
DNSPERF=$(find_bin dnsperf "${DNSPERF:-}" /usr/bin/dnsperf)

if [ -z "$GTMD" ] || [ ! -x "$GTMD" ]; then
    echo "bundle.sh: no gtmd (set GTMD=path/to/gtmd)" >&2
    exit 1
fi

mkdir -p "$OUT/bin" "$OUT/lib"
OUT=$(cd "$OUT" && pwd)
: >"$OUT/MANIFEST"

# Copies one library (path as ldd gave it) under its name in lib/.
copy_lib() {
    src=$1
    dst="$OUT/lib/$(basename "$src")"
    [ -e "$dst" ] && return 0
    cp -L "$src" "$dst"
    chmod u+w "$dst"
    echo "lib $(basename "$src") <- $(readlink -f "$src")" >>"$OUT/MANIFEST"
}

LOADER=
add_bin() { # name, path
    name=$1
    src=$2
    if [ -z "$src" ] || [ ! -x "$src" ]; then
        echo "bundle.sh: warning: no $name found; left out" >&2
        return 0
    fi
    cp -L "$src" "$OUT/bin/$name"
    chmod u+w "$OUT/bin/$name"
    echo "bin $name <- $(readlink -f "$src")" >>"$OUT/MANIFEST"
    if ldd "$src" | grep -q "not found"; then
        echo "bundle.sh: $src needs libraries ldd cannot find:" >&2
        ldd "$src" | grep "not found" >&2
        exit 1
    fi
    # "libx.so.1 => /path (0x...)" and the loader's own line "/lib64/ld-linux... (0x...)"
    ldd "$src" | while read -r a b c _; do
        if [ "$b" = "=>" ] && [ -n "$c" ] && [ "${c#/}" != "$c" ]; then
            copy_lib "$c"
        elif [ "${a#/}" != "$a" ]; then
            copy_lib "$a"
        fi
    done
    cat >"$OUT/$name" <<EOF
#!/bin/sh
# $name from this bundle, through the bundle's own loader and libraries.
case "\$0" in */*) d=\${0%/*} ;; *) d=. ;; esac
d=\$(cd "\$d" && pwd)
exec "\$d/lib/ld-linux-x86-64.so.2" --library-path "\$d/lib" "\$d/bin/$name" "\$@"
EOF
    chmod 755 "$OUT/$name"
}

add_bin gtmd "$GTMD"
add_bin nsd "$NSD"
add_bin knotd "$KNOTD"
add_bin dnsperf "$DNSPERF"
# The harness ceiling (udp_echo.c: echoes datagrams; cores_bench.py's
# "echo"), built here when a C compiler is at hand.
if command -v cc >/dev/null 2>&1; then
    cc -O2 -Wall -o "$OUT/udp_echo.built" "$TOP/contrib/bench/udp_echo.c"
    add_bin udp_echo "$OUT/udp_echo.built"
    rm -f "$OUT/udp_echo.built"
else
    echo "bundle.sh: warning: no cc: udp_echo left out" >&2
fi

if [ ! -e "$OUT/lib/ld-linux-x86-64.so.2" ]; then
    echo "bundle.sh: no ld-linux-x86-64.so.2 among the libraries (not x86-64 glibc?)" >&2
    exit 1
fi
# glibc dlopens libgcc_s for pthread_cancel and pthread_exit's unwinding;
# ldd does not list it.
if [ ! -e "$OUT/lib/libgcc_s.so.1" ]; then
    g=$(ldconfig -p 2>/dev/null | awk '/libgcc_s.so.1 .*x86-64/ {print $NF; exit}')
    [ -n "$g" ] && copy_lib "$g"
fi

{
    echo "built $(date -u +%Y-%m-%dT%H:%M:%SZ) on $(uname -srm)"
    "$OUT/gtmd" --version 2>&1 | head -1 || true
    [ -x "$OUT/nsd" ] && "$OUT/nsd" -v 2>&1 | head -1 || true
    [ -x "$OUT/knotd" ] && "$OUT/knotd" --version 2>&1 | head -1 || true
    [ -x "$OUT/dnsperf" ] && "$OUT/dnsperf" -h 2>&1 | grep -i "version" | head -1 || true
} >>"$OUT/MANIFEST"

du -sh "$OUT" | awk '{print "bundle.sh: " $2 " is " $1}'

#!/bin/sh
# check-includes.sh -- the module dependency order holds in src/ (TAP).
#
# Every #include "x/..." of a file in src/M/ must name a module x at or
# below M in the order
#   common < dns < dnstap < zone < xfr < health < geo < policy < guard < serve < anycast < drill
#   < fleet < answer < net < webhook < admin < control < daemon
# and, beyond the order, admin never includes net/ (it reads the served set
# and the counters through serve/). src/ctl is separate: it may include
# only its own folder. A quoted include without a folder, or of a folder
# that is not a module, fails too.
#
# Usage: check-includes.sh [SRCDIR]   (default: $SRCDIR, else the tree of
# this script). One TAP test per file; exit status 1 on any violation.

top=${1:-${SRCDIR:-$(dirname "$0")/..}}
order="common dns dnstap zone xfr health geo policy guard serve anycast drill fleet answer net webhook admin control daemon"

rank() {
    i=0
    for m in $order; do
        if [ "$m" = "$1" ]; then
            echo "$i"
            return
        fi
        i=$((i + 1))
    done
    echo -1
}

# Why "file includes inc" breaks the rules, or nothing when it does not.
violation() {
    mod=$1 inc=$2
    case $inc in
    */*) ;;
    *)
        echo "\"$inc\" has no module folder"
        return
        ;;
    esac
    to=${inc%%/*}
    if [ "$mod" = ctl ]; then
        [ "$to" = ctl ] || echo "ctl includes \"$inc\" (ctl may include only ctl/)"
        return
    fi
    if [ "$mod" = admin ] && [ "$to" = net ]; then
        echo "admin includes \"$inc\" (admin reads through serve/, never net/)"
        return
    fi
    rm_=$(rank "$mod")
    rt=$(rank "$to")
    if [ "$rt" -lt 0 ]; then
        echo "\"$inc\": $to is not a module"
    elif [ "$rt" -gt "$rm_" ]; then
        echo "$mod includes \"$inc\": $to is above $mod"
    fi
}

files=$(cd "$top" && find src -name '*.[ch]' | LC_ALL=C sort)
if [ -z "$files" ]; then
    echo "1..0 # SKIP no sources under $top/src"
    exit 0
fi
n=$(echo "$files" | wc -l)
echo "1..$n"
i=0
fail=0
for f in $files; do
    i=$((i + 1))
    mod=$(echo "$f" | cut -d/ -f2)
    if [ "$(rank "$mod")" -lt 0 ] && [ "$mod" != ctl ]; then
        echo "not ok $i - $f: src/$mod is not in the module order"
        fail=1
        continue
    fi
    bad=$(sed -n 's/^[[:space:]]*#[[:space:]]*include[[:space:]]*"\([^"]*\)".*/\1/p' "$top/$f" |
        while read -r inc; do
            violation "$mod" "$inc"
        done)
    if [ -n "$bad" ]; then
        echo "not ok $i - $f"
        echo "$bad" | sed 's/^/# /'
        fail=1
    else
        echo "ok $i - $f"
    fi
done
exit $fail

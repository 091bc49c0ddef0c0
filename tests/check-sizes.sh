#!/bin/sh
# check-sizes.sh -- no C file in src/ over 1000 lines and no function over
# 80 lines (TAP, one test per file; exit status 1 on any violation).
#
# A function is counted from the line holding its opening brace in column
# 0 to its closing brace in column 0 (the .clang-format style puts both
# there), so its signature lines are not counted.
#
# Usage: check-sizes.sh [SRCDIR]   (default: $SRCDIR, else the tree of
# this script).
top=${1:-${SRCDIR:-$(dirname "$0")/..}}
exec /usr/bin/python3 - "$top/src" <<'PY'
import os, re, sys

FILE_MAX, FN_MAX = 1000, 80
root = sys.argv[1]
files = sorted(os.path.join(d, f) for d, _, fs in os.walk(root) for f in fs
               if f.endswith(".c"))
bad = 0
for n, path in enumerate(files, 1):
    lines = open(path, encoding="utf-8", errors="replace").read().split("\n")
    why = []
    if len(lines) - 1 > FILE_MAX:
        why.append("%d lines (max %d)" % (len(lines) - 1, FILE_MAX))
    i = 0
    while i < len(lines):
        if lines[i].startswith("{"):
            j = i - 1
            while j > 0 and "(" not in lines[j]:
                j -= 1
            name = (re.findall(r"(\w+)\s*\(", lines[j]) or ["?"])[0]
            k = i + 1
            while k < len(lines) and not lines[k].startswith("}"):
                k += 1
            if k - i + 1 > FN_MAX:
                why.append("%s() is %d lines (max %d)" % (name, k - i + 1, FN_MAX))
            i = k
        i += 1
    rel = os.path.relpath(path, os.path.dirname(root))
    if why:
        bad += 1
        print("not ok %d - %s: %s" % (n, rel, "; ".join(why)))
    else:
        print("ok %d - %s" % (n, rel))
print("1..%d" % len(files))
sys.exit(1 if bad else 0)
PY

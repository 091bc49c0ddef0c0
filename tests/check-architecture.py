#!/usr/bin/python3
"""check-architecture.py -- doc/architecture.md says what src/ is (TAP).

The module table of doc/architecture.md ("| folder | what it holds | uses
|") must have one row per folder of src/, and each row's "uses" column
must name exactly the modules that folder's files include ("jansson,
libevent" for src/ctl, which includes none). The dependency diagram between the markers
"<!-- deps:begin -->" and "<!-- deps:end -->" must be the one this script
prints with --print: the include graph without the edges another path
already implies (its transitive reduction), as a Mermaid flowchart.

Usage: check-architecture.py [--print] [TOP]  (TOP: $SRCDIR, else the tree
of this script). One TAP test per module, one for the diagram.
"""
import os
import re
import sys

CTL_USES = {"jansson", "libevent"}


def modules(top):
    src = os.path.join(top, "src")
    return sorted(d for d in os.listdir(src) if os.path.isdir(os.path.join(src, d)))


def includes(top, mod):
    """The other modules that the files of src/MOD include."""
    used = set()
    d = os.path.join(top, "src", mod)
    for name in os.listdir(d):
        if not name.endswith((".c", ".h")):
            continue
        with open(os.path.join(d, name), errors="replace") as f:
            for m in re.finditer(r'^#include "([a-z_]+)/', f.read(), re.M):
                if m.group(1) != mod:
                    used.add(m.group(1))
    return used


def graph(top):
    mods = modules(top)
    return {m: includes(top, m) for m in mods}


def reduction(g):
    """The edges of g that no longer path implies."""
    def reach(a, skip):
        seen, todo = set(), [x for x in g[a] if (a, x) != skip]
        while todo:
            x = todo.pop()
            if x not in seen:
                seen.add(x)
                todo.extend(g.get(x, ()))
        return seen
    return {a: {b for b in g[a] if b not in reach(a, (a, b))} for a in g}


def diagram(g):
    r = reduction(g)
    lines = ["```mermaid", "flowchart BT"]
    for a in sorted(r):
        if not r[a] and not any(a in v for v in r.values()):
            lines.append("    %s" % a)
        for b in sorted(r[a]):
            lines.append("    %s --> %s" % (a, b))
    lines.append("```")
    return "\n".join(lines)


def table(doc):
    """{module: set of uses} from the module table's rows."""
    rows = {}
    for m in re.finditer(r"^\| `src/([a-z_]+)` \|.*\| ([^|]+) \|$", doc, re.M):
        rows[m.group(1)] = {u.strip() for u in m.group(2).split(",")} - {"—", ""}
    return rows


def main():
    args = [a for a in sys.argv[1:] if a != "--print"]
    top = args[0] if args else os.environ.get("SRCDIR") or \
        os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    g = graph(top)
    if "--print" in sys.argv:
        print(diagram(g))
        return 0
    with open(os.path.join(top, "doc", "architecture.md")) as f:
        doc = f.read()
    rows = table(doc)
    results = []
    for m in sorted(set(g) | set(rows)):
        want = g.get(m)
        if want is None:
            results.append((False, "%s: in the table, but src/%s does not exist" % (m, m)))
            continue
        if m == "ctl":
            ok = not want and rows.get(m) == CTL_USES
        else:
            ok = rows.get(m) == want
        why = "" if ok else " (table: %s; includes: %s)" % (
            ", ".join(sorted(rows.get(m, {"no row"}))), ", ".join(sorted(want)) or "none")
        results.append((ok, "src/%s: the table's uses column is what it includes%s" % (m, why)))
    found = re.search(r"<!-- deps:begin -->\n(.*?)\n<!-- deps:end -->", doc, re.S)
    ok = bool(found) and found.group(1).strip() == diagram(g)
    results.append((ok, "the dependency diagram is the include graph's (--print)%s" %
                    ("" if ok else ": run tests/check-architecture.py --print")))
    print("1..%d" % len(results))
    for i, (ok, what) in enumerate(results, 1):
        print("%s %d - %s" % ("ok" if ok else "not ok", i, what))
    return 0 if all(ok for ok, _ in results) else 1


if __name__ == "__main__":
    sys.exit(main())

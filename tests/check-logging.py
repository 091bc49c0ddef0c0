#!/usr/bin/python3
"""check-logging.py -- doc/logging.md lists every log event of src/ (TAP).

Reads every log_info/log_warn/log_error/log_msg call in src/ (its format:
the string literals after the call's level), and takes the event=NAME of
each. Checks that:
- every event of src/ has a row in doc/logging.md ("| `NAME` | level |
  keys | ..."), whose keys column names every key the event is logged
  with; an event whose name ends in a format (event=verdict_%s) needs a
  row for at least one name with that prefix, and each such row its keys;
- every row of doc/logging.md names an event that src/ logs (no stale
  rows);
- no log line says why it happened with a key other than why= (reason=
  and last_reason= were the old keys; see doc/logging.md, "Keys").

Usage: check-logging.py [--print] [TOP]   (TOP: $SRCDIR, else the tree of
this script). --print writes, for each event, its levels, keys and files,
as a start for a new row. One TAP test per check.
"""
import os
import re
import sys

CALL = re.compile(r"\blog_(info|warn|error|msg)\s*\(")
LITERAL = re.compile(r'"((?:[^"\\\n]|\\.)*)"')
# Keys that once said "why" and must not come back (doc/logging.md).
OLD_WHY_KEYS = ("reason", "last_reason")


def literal_run(text, i):
    """The C string literals that start at text[i] (after blanks and
    comments), concatenated, and unescaped just enough for keys: \\" -> "."""
    out = []
    n = len(text)
    while i < n:
        while i < n and text[i] in " \t\n":
            i += 1
        if text.startswith("/*", i):
            i = text.index("*/", i) + 2
            continue
        m = LITERAL.match(text, i)
        if not m:
            pri = re.match(r"PRI\w+", text[i:])  # "id=%" PRIu64 " next"
            if pri:
                out.append("...")
                i += pri.end()
                continue
            break
        out.append(m.group(1))
        i = m.end()
    return "".join(out).replace('\\"', '"').replace("\\\\", "\\")


def calls(top):
    """(file, line, level, format) of every log call in src/."""
    src = os.path.join(top, "src")
    for d, _, files in sorted(os.walk(src)):
        for f in sorted(files):
            if not f.endswith(".c") or f == "log.c":
                continue
            path = os.path.join(d, f)
            text = open(path, encoding="utf-8").read()
            for m in CALL.finditer(text):
                i, level = m.end(), m.group(1)
                if level == "msg":  # log_msg(LOG_LEVEL_X, fmt, ...)
                    comma = text.index(",", i)
                    lv = re.search(r"LOG_LEVEL_(\w+)", text[i:comma])
                    level = lv.group(1).lower() if lv else "?"
                    i = comma + 1
                fmt = literal_run(text, i)
                line = text.count("\n", 0, m.start()) + 1
                yield os.path.relpath(path, top), line, level, fmt


def fields(fmt):
    """The key=value fields of a format, in order: [(key, value)]; a value
    in double quotes is one field whatever it holds."""
    out = []
    for m in re.finditer(r'([a-z_][a-z0-9_]*)=("(?:[^"\\]|\\.)*"|\S*)', fmt):
        # Only at a field's start: the start of the line or after a blank.
        if m.start() == 0 or fmt[m.start() - 1] == " ":
            out.append((m.group(1), m.group(2)))
    return out


def events(top):
    """{event: {"levels", "keys", "where"}}; NAME%s for a dynamic name."""
    ev = {}
    for path, line, level, fmt in calls(top):
        fs = fields(fmt)
        if not fs or fs[0][0] != "event":
            continue
        name = fs[0][1]
        e = ev.setdefault(name, {"levels": set(), "keys": [], "where": []})
        e["levels"].add(level)
        for k, _ in fs[1:]:
            if k not in e["keys"]:
                e["keys"].append(k)
        e["where"].append("%s:%d" % (path, line))
    return ev


def old_why_keys(top):
    """file:line of each log line with a key of OLD_WHY_KEYS."""
    bad = []
    for path, line, _, fmt in calls(top):
        keys = [k for k, _ in fields(fmt)]
        if any(k in OLD_WHY_KEYS for k in keys):
            bad.append("%s:%d" % (path, line))
    return bad


def doc_rows(doc):
    """{event: set of keys} of the tables under "## Events": rows "| `name`
    | level | `key`, `key` | what |"."""
    rows = {}
    doc = doc[doc.find("\n## Events"):]  # the keys table above has rows too
    for m in re.finditer(r"^\| `([a-z0-9_]+)` \|([^|]*)\|([^|]*)\|", doc, re.M):
        rows[m.group(1)] = set(re.findall(r"`([a-z0-9_]+)`", m.group(3)))
    return rows


def main():
    args = [a for a in sys.argv[1:] if a != "--print"]
    top = args[0] if args else os.environ.get("SRCDIR") or \
        os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    ev = events(top)
    if "--print" in sys.argv:
        for name in sorted(ev):
            e = ev[name]
            print("| `%s` | %s | %s | %s |" % (
                name, "/".join(sorted(e["levels"])),
                ", ".join("`%s`" % k for k in e["keys"]) or "—", " ".join(e["where"])))
        return 0
    with open(os.path.join(top, "doc", "logging.md"), encoding="utf-8") as f:
        rows = doc_rows(f.read())
    results = []
    for name in sorted(ev):
        if name.endswith("%s"):  # rows for its names, not for other events
            mine = [r for r in rows if r.startswith(name[:-2]) and r not in ev]
        else:
            mine = [name] if name in rows else []
        want = set(ev[name]["keys"])
        lacking = sorted({k for r in mine for k in want - rows[r]})
        ok = bool(mine) and not lacking
        why = ""
        if not mine:
            why = " (logged at %s)" % ", ".join(ev[name]["where"])
        elif lacking:
            why = ": its keys column lacks %s (--print)" % ", ".join(lacking)
        results.append((ok, "event=%s has a row in doc/logging.md with its keys%s" % (name, why)))
    names = set(ev)
    prefixes = [n[:-2] for n in names if n.endswith("%s")]
    stale = sorted(r for r in rows
                   if r not in names and not any(r.startswith(p) for p in prefixes))
    results.append((not stale, "every row of doc/logging.md is an event src/ logs%s" % (
        ": not logged: " + ", ".join(stale) if stale else "")))
    bad = old_why_keys(top)
    results.append((not bad, "no log line says why with %s (use why=)%s" % (
        " or ".join(k + "=" for k in OLD_WHY_KEYS), ": " + ", ".join(bad) if bad else "")))
    print("1..%d" % len(results))
    for i, (ok, what) in enumerate(results, 1):
        print("%s %d - %s" % ("ok" if ok else "not ok", i, what))
    return 0 if all(ok for ok, _ in results) else 1


if __name__ == "__main__":
    sys.exit(main())

#!/usr/bin/python3
"""How long gtmd takes to read a catalog zone's member list (issue #53):
`gtmd check` on a configuration whose catalog zone's copy lists N
members (RFC 9432 version 2, one PTR per member), for N in --sizes.

Each round runs every binary on every size, interleaved; the result is
the median of the rounds' wall times with the spread (min-max), and the
median CPU time (user + system of the child, from wait4). The members
have no copies yet, so each is a pending secondary zone (the first 10
named in a warning line each, the rest counted in one): what a start or a reload does with the list
before any transfer.

    /usr/bin/python3 contrib/bench/catalog_bench.py [--sizes 5000,20000,100000]
        [--rounds 3] [--gtmd build/gtmd] [--baseline OTHER/gtmd]
"""
import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time


def write_case(d, n):
    """d/gtmd.json: one catalog zone cat.bench. whose copy d/cat.copy
    lists n members z0.member.bench. ... (their copies' directory made)."""
    os.makedirs(os.path.join(d, "members"))
    with open(os.path.join(d, "cat.copy"), "w") as f:
        f.write("$ORIGIN cat.bench.\n$TTL 0\n"
                "@ IN SOA invalid. invalid. 1 3600 600 2147483646 0\n"
                "@ IN NS invalid.\nversion IN TXT \"2\"\n")
        for i in range(n):
            f.write("m%d.zones IN PTR z%d.member.bench.\n" % (i, i))
    cfg = {"listen": ["127.0.0.1:15399"], "zones": [
        {"origin": "cat.bench.", "file": "cat.copy",
         "primary": {"addresses": ["127.0.0.1:15398"]}, "catalog": {"directory": "members"}}]}
    with open(os.path.join(d, "gtmd.json"), "w") as f:
        json.dump(cfg, f)


def check(gtmd, d, n, timeout):
    """(wall s, cpu s) of one `gtmd check`; exits when it fails or does
    not report the n members."""
    want = b"event=catalog zone=cat.bench. members=%d" % n
    t = time.monotonic()
    p = subprocess.Popen([gtmd, "check", "-c", os.path.join(d, "gtmd.json")],
                         stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    tail, seen = b"", False
    while True:  # n warnings go by: keep the last 4 KiB only
        chunk = p.stderr.read(1 << 16)
        if not chunk:
            break
        seen = seen or want in tail[-len(want):] + chunk
        tail = (tail + chunk)[-4096:]
        if time.monotonic() - t > timeout:
            p.kill()
            sys.exit("%s: over %d s" % (gtmd, timeout))
    _, status, ru = os.wait4(p.pid, 0)
    wall = time.monotonic() - t
    if os.waitstatus_to_exitcode(status) != 0 or not seen:
        sys.exit("%s check failed or listed no %d members: %s"
                 % (gtmd, n, tail.decode(errors="replace")))
    return wall, ru.ru_utime + ru.ru_stime


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--sizes", default="5000,20000,100000")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--gtmd", default=os.path.join(os.path.dirname(__file__), "../../build/gtmd"))
    ap.add_argument("--baseline", help="another gtmd binary, measured in the same rounds")
    ap.add_argument("--timeout", type=int, default=600, help="per check, seconds")
    a = ap.parse_args()
    sizes = [int(s) for s in a.sizes.split(",")]
    bins = [("gtmd", os.path.abspath(a.gtmd))]
    if a.baseline:
        bins.append(("baseline", os.path.abspath(a.baseline)))
    work = tempfile.mkdtemp(prefix="gtmd-catalog-bench-")
    try:
        dirs = {}
        for n in sizes:
            dirs[n] = os.path.join(work, str(n))
            write_case(dirs[n], n)
        res = {(b, n): [] for b, _ in bins for n in sizes}
        for r in range(a.rounds):
            for n in sizes:
                for b, path in bins:
                    res[(b, n)].append(check(path, dirs[n], n, a.timeout))
                    print("round %d %-8s %7d members: %.2f s wall, %.2f s cpu"
                          % (r + 1, b, n, *res[(b, n)][-1]), file=sys.stderr, flush=True)
        print("gtmd check of a catalog's member list; median of %d rounds (min-max)" % a.rounds)
        print("%-8s %9s %24s %12s" % ("binary", "members", "wall s", "cpu s"))
        for b, _ in bins:
            for n in sizes:
                w = [x[0] for x in res[(b, n)]]
                c = [x[1] for x in res[(b, n)]]
                print("%-8s %9d %8.2f (%.2f-%.2f) %12.2f" % (
                    b, n, statistics.median(w), min(w), max(w), statistics.median(c)))
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()

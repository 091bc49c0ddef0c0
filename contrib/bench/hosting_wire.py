#!/usr/bin/python3
"""hosting_wire.py -- CPU per answer of gtmd serving many zones (the hosting
layout of load_bench.py), against a base gtmd, in interleaved rounds.

A benchmark, not a test. bench.py measures one zone; a hosting server has
many, and every query first finds its zone (snapshot_find_zone: with more
than 8 zones, a hash probe per suffix of the name). This serves the
--zones x --zone-records layout of load_bench.py (generated once into
--workdir) from gtmd with one worker pinned to core 0, sends it --rate
queries per second for --duration seconds with dnsperf pinned to core 1
(names of every zone at random, 10 % of them names that do not exist), and
divides the answers by the CPU time gtmd used meanwhile (utime+stime from
/proc). Each round runs both binaries, in alternating order; it prints the
median and range of the rounds and the per-round ratio gtmd/base.

  hosting_wire.py --gtmd build/gtmd --gtmd-base OLD/gtmd --rounds 5

Port 15390 on 127.0.0.1 (--port); every gtmd is stopped by pid.
"""
import argparse
import json
import os
import random
import re
import signal
import statistics
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from load_bench import cpu_s, log, make_zones, query_ok  # noqa: E402  (the same zones)


def write_queries(zones, path, count, seed=7):
    """count "name type" lines: a record of the first zone's file moved to a
    random zone, or (one in ten) a name no zone has."""
    origin0, file0 = zones[0]
    recs = []
    with open(file0) as f:
        for line in f:
            w = line.split()
            if not w or line[0].isspace() or w[0].startswith(("$", ";")):
                continue
            types = [x for x in w[1:5] if x in ("A", "AAAA", "MX", "TXT", "CNAME", "SRV")]
            if types:
                recs.append((w[0], types[0]))
    rnd = random.Random(seed)
    with open(path, "w") as f:
        for _ in range(count):
            origin = zones[rnd.randrange(len(zones))][0]
            if rnd.random() < 0.1:
                f.write("nx%d.%s A\n" % (rnd.randrange(10 ** 6), origin))
                continue
            name, rtype = rnd.choice(recs)
            if name == "@":
                name = origin
            elif name.endswith("."):
                name = name[:-len(origin0)] + origin if name.endswith(origin0) else name
            else:
                name = name + "." + origin
            f.write("%s %s\n" % (name, rtype))


def one_run(a, binary, cfg, queries, probe_name):
    p = subprocess.Popen(["taskset", "-c", "0", binary, "-c", cfg],
                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        t0 = time.monotonic()
        while not query_ok(a.port, probe_name):
            if p.poll() is not None or time.monotonic() - t0 > 120:
                raise RuntimeError("%s did not start" % binary)
            time.sleep(0.05)
        time.sleep(0.5)
        c0 = cpu_s([p.pid])
        out = subprocess.run(["taskset", "-c", "1", "dnsperf", "-s", "127.0.0.1", "-p",
                              str(a.port), "-d", queries, "-l", str(a.duration), "-Q",
                              str(a.rate), "-c", "8"], capture_output=True, text=True).stdout
        used = cpu_s([p.pid]) - c0
    finally:
        p.send_signal(signal.SIGTERM)
        try:
            p.wait(20)
        except subprocess.TimeoutExpired:
            p.kill()  # stopped by pid whatever happens
            p.wait(10)
    done = re.search(r"Queries completed:\s+(\d+)", out)
    codes = re.search(r"Response codes:([^\n]*)", out)
    if not done or int(done.group(1)) == 0 or used <= 0:
        raise RuntimeError("no answers from %s:\n%s" % (binary, out))
    return int(done.group(1)), used, codes.group(1).strip() if codes else ""


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--zones", type=int, default=1000)
    ap.add_argument("--zone-records", type=int, default=1000)
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--duration", type=int, default=5, help="seconds of dnsperf per run (5)")
    ap.add_argument("--rate", type=int, default=100000, help="dnsperf -Q (100000)")
    ap.add_argument("--gtmd", required=True)
    ap.add_argument("--gtmd-base", required=True)
    ap.add_argument("--workdir", default="/tmp/gtmbench")
    ap.add_argument("--port", type=int, default=15390)
    a = ap.parse_args()
    a.layout = "hosting"
    os.makedirs(a.workdir, exist_ok=True)
    zones, probe_name = make_zones(a, a.workdir)
    queries = os.path.join(a.workdir, "hosting-wire.queries")
    write_queries(zones, queries, 200000)
    cfg = os.path.join(a.workdir, "hosting-wire.json")
    with open(cfg, "w") as f:
        json.dump({"listen": ["127.0.0.1:%d" % a.port], "workers": 1,
                   "zones": [{"origin": o, "file": p} for o, p in zones]}, f)
    bins = {"gtmd": a.gtmd, "base": a.gtmd_base}
    res = {k: [] for k in bins}
    for r in range(a.rounds):
        for k in (list(bins) if r % 2 == 0 else list(bins)[::-1]):
            done, used, codes = one_run(a, bins[k], cfg, queries, probe_name)
            res[k].append(done / used)
            log("round %d %-5s %d answers, %.2f CPU s, %.0f answers per CPU-second (%s)"
                % (r + 1, k, done, used, done / used, codes))
    print("%d zones x %d records, %d QPS for %d s, %d rounds: answers per CPU-second, "
          "median [min-max]" % (a.zones, a.zone_records, a.rate, a.duration, a.rounds))
    for k, v in res.items():
        print("  %-5s %8.0f [%.0f-%.0f]" % (k, statistics.median(v), min(v), max(v)))
    ratios = [x / y for x, y in zip(res["gtmd"], res["base"])]
    print("  gtmd/base per round: %s; median %.3f"
          % (" ".join("%.3f" % x for x in ratios), statistics.median(ratios)))


if __name__ == "__main__":
    main()

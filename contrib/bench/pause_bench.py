#!/usr/bin/python3
"""pause_bench.py -- single configuration changes after the node was idle.

config_bench.py --suite times changes that follow one another; an operator
(or ExternalDNS, once a minute) mostly makes one change after a pause. A
node that gives memory back when a stream of changes stops pays for it in
the next change. This starts gtmd on --records policy records
(config_bench.py's setup), makes --changes single changes, each
after a burst of --burst changes and --pause seconds of idle, and prints
each change's change -> served time (the new answer seen over DNS) and
its reload time from the log, with p50 and max; the same for --baseline
when given, in interleaved rounds.

  /usr/bin/python3 contrib/bench/pause_bench.py --gtmd build/gtmd \\
      --baseline /tmp/old/gtmd --records 100000 --pause 3 --changes 10 --rounds 3
"""
import argparse
import os
import re
import signal
import statistics
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import config_bench  # noqa: E402  (its setup, put and timed_change)


def one_round(binary, a, rnd):
    d = os.path.join(a.workdir, "pause-%d" % rnd)
    p = config_bench.start_gtmd(binary, d, a.records, a.port)
    try:
        k = 0

        def change(timed):
            """A name not changed before, moved from its first region's
            address to the other's (every change moves an answer)."""
            nonlocal k
            k += 1
            name = "r%d.bench.test." % ((k * 7919 + rnd * 31) % a.records)
            if not timed:
                return config_bench.put(a.port + 1, name, ["b", "a"], ttl=100 + k)[0]
            s, _, st = config_bench.timed_change(
                a.port, lambda: config_bench.put(a.port + 1, name, ["b", "a"], ttl=100 + k)[0],
                name, [config_bench.A2])
            if st not in (200, 201):
                raise SystemExit("change answered %s" % st)
            return s * 1e3
        served, loads = [], []
        for _ in range(a.changes):
            for _ in range(a.burst):  # a stream of changes, then it stops
                change(False)
            time.sleep(a.pause)
            served.append(change(True))
            time.sleep(0.2)  # its reload is logged
            with open(os.path.join(d, "gtmd.log")) as f:
                loads.append(float(re.findall(r"event=reload result=ok.*? ms=([0-9.]+)",
                                              f.read())[-1]))
        return served, loads
    finally:
        p.send_signal(signal.SIGTERM)
        p.wait(timeout=60)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--gtmd", required=True)
    ap.add_argument("--baseline")
    ap.add_argument("--records", type=int, default=100000)
    ap.add_argument("--burst", type=int, default=5, help="changes in a row first")
    ap.add_argument("--pause", type=float, default=3.0, help="idle seconds before each change")
    ap.add_argument("--changes", type=int, default=10)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--port", type=int, default=15360)
    ap.add_argument("--workdir", default=None)
    a = ap.parse_args()
    a.workdir = a.workdir or tempfile.mkdtemp(prefix="gtmd-pause-")
    bins = [("gtmd", a.gtmd)] + ([("baseline", a.baseline)] if a.baseline else [])
    res = {k: [] for k, _ in bins}
    for rnd in range(a.rounds):
        for kind, b in bins:
            served, loads = one_round(b, a, rnd)
            res[kind].append((served, loads))
            print("round %d %s: served ms %s; reload ms %s" %
                  (rnd + 1, kind, " ".join("%.1f" % x for x in served),
                   " ".join("%.1f" % x for x in loads)), flush=True)
    print("single changes after %.1f s idle, %d records, median of %d rounds [min-max]:" %
          (a.pause, a.records, a.rounds))
    for kind, _ in bins:
        def fig(f, i):
            v = [f(r[i]) for r in res[kind] if r[i]]
            return "%.1f [%.1f-%.1f]" % (statistics.median(v), min(v), max(v)) if v else "-"
        print("  %-8s change->served p50 %s ms, max %s ms; reload p50 %s ms, max %s ms" %
              (kind, fig(statistics.median, 0), fig(max, 0), fig(statistics.median, 1),
               fig(max, 1)))


if __name__ == "__main__":
    main()

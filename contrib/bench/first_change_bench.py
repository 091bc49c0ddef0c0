#!/usr/bin/python3
"""first_change_bench.py -- the first configuration changes after a start,
and a run of single changes after them, at a large estate (issue #55).

config_bench.py's run mode stops gtmd with a 30 s wait, and at 1,000,000
policy names gtmd's stop writes the versions still owed (8-11 s each for
the 150 MB document), so it ends in a timeout before it prints. This
starts gtmd on --records policy records (config_bench.py's setup), waits
--settle seconds after the first answer, makes --changes single changes
one after the other (each swaps a record's regions; names spread over
the estate), each timed from the call to the first DNS answer with the
new address (config_bench.timed_change), and prints the first five, the
p50, p99 and max of all (the first included), gtmd's CPU per change (and
that of its four busiest threads, by name: gtmd-store builds each change,
gtmd-writer dumps the document) and its RSS before and after; then stops
gtmd, waiting up to 300 s. With --batches N, then N batches of
--batch-size changes each (one POST /v1/config/changes of puts spread
over the estate, the same names each time, their regions swapped back and forth),
each timed from the call until its last name answers the new address.
With --mix add,delete,put the single changes take those kinds by turns
(add: a PUT of a name the estate lacks, served once it answers; delete: a
DELETE of one of its names, served once it answers NXDOMAIN; put: the
swap above), and p50, p99 and max are printed for each kind as well.

  /usr/bin/python3 contrib/bench/first_change_bench.py --gtmd build/gtmd \\
      --records 1000000 --changes 200
"""
import argparse
import http.client
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import config_bench as cb  # noqa: E402  (its setup, put and timed_change)


def delete(aport, name):
    """DELETE /v1/config/records/NAME: the HTTP status."""
    c = http.client.HTTPConnection("127.0.0.1", aport, timeout=600)
    c.request("DELETE", "/v1/config/records/" + name,
              headers={"Authorization": "Bearer " + cb.TOKEN})
    r = c.getresponse()
    r.read()
    c.close()
    return r.status


def single_change(a, kind, k):
    """The k-th change of its kind: (the name, a call making it, the
    answer that shows it served). Puts swap the regions of names spread
    over the estate (k * 7919); deletes remove others (k * 7919 + 3);
    adds make names the estate lacks (n<k>)."""
    if kind == "put":
        name = "r%d.bench.test." % (k * 7919 % a.records)
        return name, lambda: cb.put(a.port + 1, name, ["b", "a"])[0], [cb.A2]
    if kind == "delete":
        name = "r%d.bench.test." % ((k * 7919 + 3) % a.records)
        return name, lambda: delete(a.port + 1, name), []
    name = "n%d.bench.test." % k
    return name, lambda: cb.put(a.port + 1, name, ["b", "a"])[0], [cb.A2]


def timed_batch(a, p, b):
    """Batch b: --batch-size puts in one POST /v1/config/changes, the same
    names in every batch, spread over the estate (k * 7919 + 1, beside the
    singles' k * 7919), their regions ["b", "a"], then back to ["a", "b"]
    by turns, timed until the last name answers the new address (the API
    answers once it is served)."""
    names = ["r%d.bench.test." % ((k * 7919 + 1) % a.records)
             for k in range(a.batch_size)]
    regions, want = (["b", "a"], [cb.A2]) if b % 2 == 0 else (["a", "b"], [cb.A1])
    changes = [{"op": "put", "path": "records/" + n,
                "value": {"pool": "web", "policy": "failover", "regions": regions, "ttl": 30}}
               for n in names]
    rss0 = cb.rss_mb(p.pid)
    t0 = time.monotonic()
    st, _ = cb.post_changes(a.port + 1, changes)
    api = time.monotonic() - t0
    while cb.answer(a.port, names[-1]) != want and time.monotonic() - t0 < 60:
        pass
    print("batch %d: %d changes, HTTP %d, API answer %.1f ms, last name served %.1f ms; "
          "RSS %.1f -> %.1f MB" % (b, len(changes), st, 1000 * api,
                                   1000 * (time.monotonic() - t0), rss0, cb.rss_mb(p.pid)),
          flush=True)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--gtmd", required=True)
    ap.add_argument("--records", type=int, default=1000000)
    ap.add_argument("--changes", type=int, default=200)
    ap.add_argument("--settle", type=float, default=2.0)
    ap.add_argument("--port", type=int, default=15740)
    ap.add_argument("--workdir", default="/tmp/gtmd-first-change-bench")
    ap.add_argument("--batches", type=int, default=0)
    ap.add_argument("--batch-size", type=int, default=10000)
    ap.add_argument("--mix", default="put",
                    help="the single changes' kinds, taken by turns: add, delete, put")
    a = ap.parse_args()
    kinds = a.mix.split(",")
    if not kinds or any(k not in ("add", "delete", "put") for k in kinds):
        ap.error("--mix: a comma-separated list of add, delete, put")
    t0 = time.monotonic()
    p = cb.start_gtmd(a.gtmd, a.workdir, a.records, a.port)
    print("up in %.1f s, RSS %.1f MB" % (time.monotonic() - t0, cb.rss_mb(p.pid)), flush=True)
    try:
        time.sleep(a.settle)
        rss0, cpu0, th0 = cb.rss_mb(p.pid), cb.cpu_s(p.pid), cb.thread_cpu_s(p.pid)
        lat, by_kind = [], {}
        for k in range(a.changes):
            kind = kinds[k % len(kinds)]
            name, call, want = single_change(a, kind, k // len(kinds))
            s, api, st = cb.timed_change(a.port, call, name, want)
            if st != 201:
                print("change %d (%s %s): HTTP %s" % (k, kind, name, st))
            lat.append(s)
            by_kind.setdefault(kind, []).append(s)
            if k < 5:
                print("change %d (%s) served in %.1f ms (API %.1f ms)" %
                      (k, kind, 1000 * s, 1000 * api), flush=True)
        cpu1, th1 = cb.cpu_s(p.pid), cb.thread_cpu_s(p.pid)
        xs = sorted(lat)
        print("%d changes -> served: p50 %.1f ms, p99 %.1f ms, max %.1f ms; CPU per change "
              "%.1f ms; RSS %.1f MB before the first change, %.1f MB after the last" %
              (len(xs), 1000 * cb.pct(xs, 50), 1000 * cb.pct(xs, 99), 1000 * xs[-1],
               1000 * (cpu1 - cpu0) / max(1, a.changes), rss0, cb.rss_mb(p.pid)), flush=True)
        for kind in (kinds if len(kinds) > 1 else []):
            ys = sorted(by_kind.get(kind, []))
            if ys:
                print("  %s: %d changes, p50 %.1f ms, p99 %.1f ms, max %.1f ms" %
                      (kind, len(ys), 1000 * cb.pct(ys, 50), 1000 * cb.pct(ys, 99),
                       1000 * ys[-1]), flush=True)
        # The store thread builds and publishes each change; the writer's
        # dumps of the document are coalesced, so they vary with timing.
        # A reload that is not built in place runs on a loader thread of
        # its own at nice 19 (load_run_behind), which has ended by now:
        # its CPU is the process's less that of the threads still there.
        per = sorted(((th1.get(k, 0.0) - th0.get(k, 0.0), k) for k in th1), reverse=True)
        ended = (cpu1 - cpu0) - sum(v for v, _ in per)
        print("CPU per change by thread: " + ", ".join(
            "%s %.1f ms" % (k, 1000 * v / max(1, a.changes)) for v, k in per[:4] if v > 0) +
            ", threads that ended (the loader) %.1f ms" % (1000 * max(0.0, ended) /
                                                          max(1, a.changes)), flush=True)
        for b in range(a.batches):
            timed_batch(a, p, b)
    finally:
        cb.stop_gtmd(p, 300)


if __name__ == "__main__":
    main()

#!/usr/bin/python3
"""reload_bench.py -- SIGHUP reloads of a big zone under a steady UDP load:
latency per 100 ms window, lost queries, RSS before/during/after.

A benchmark, not a test. gtmd serves one zone of --records records
(gen_zone.py --records N, generated into the work directory once) with its
default workers; lat_load (lat_load.c, built here with cc -O2) sends
--rate queries per second of that zone's query mix (gen_zone.py --queries)
and times every answer. Per run: gtmd is started, answers, settles, then
--reloads reloads by SIGHUP, each waited for (event=reload in its log),
then --gap seconds of plain load. RSS (VmRSS) and the host's steal time
(/proc/stat: the VM's CPUs stopped by the hypervisor) are read every
100 ms; the reload windows with p99 over 10 ms are counted with and
without 20 ms or more of steal around them.
With --gtmd-base the base binary runs the same rounds, interleaved (the
order rotated each round).

Reported per binary: for the windows that overlap a reload (SIGHUP to
event=reload, plus one window), the worst p99 and max, the median p50;
the p99 of the other windows; lost and failed queries; the reload's ms;
RSS before the first reload, the peak, and after the last one (after/
before should be <= 1.10). The per-window table of each binary's first
reload of the last round is printed; every window of every run is in
results-reload-DATE.json in the work directory.

  reload_bench.py --rounds 3 --reloads 3 [--gtmd-base OLD_BINARY]

Port 15330 (and 15331 for the base) on 127.0.0.1 (--port). gtmd is
stopped by pid.
"""
import argparse
import json
import os
import shutil
import signal
import statistics
import subprocess
import sys
import time

TOP = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
HERE = os.path.join(TOP, "contrib", "bench")


sys.path.insert(0, HERE)
from load_bench import log, query_ok  # noqa: E402  (one readiness probe for both benches)


def rss_mb(pid):
    try:
        with open("/proc/%d/status" % pid) as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


def boost(pid, nice):
    """With autogroup scheduling (kernel.sched_autogroup_enabled, on here)
    a nice value counts only against threads of the same session: pid's
    session group gets the nice value as well, against the other jobs."""
    try:
        with open("/proc/%d/autogroup" % pid, "w") as f:
            f.write("%d" % nice)
    except OSError:
        pass


def cpu_load():
    with open("/proc/loadavg") as f:
        return f.read().split()[0]


def make_zone(a):
    z = os.path.join(a.workdir, "big-%d.zone" % a.records)
    q = os.path.join(a.workdir, "big-%d.queries" % a.records)
    if not (os.path.exists(z) and os.path.exists(q)):
        log("generating %s" % z)
        subprocess.check_call([sys.executable, os.path.join(HERE, "gen_zone.py"), "--zone",
                               z + ".tmp", "--names", "0", "--records", str(a.records),
                               "--queries", q + ".tmp"], stdout=subprocess.DEVNULL)
        os.rename(z + ".tmp", z)
        os.rename(q + ".tmp", q)
    name = None
    with open(z) as f:
        for line in f:
            w = line.split()
            if len(w) >= 4 and not line[0].isspace() and "A" in w[1:4] and not w[0].startswith("$"):
                name = w[0]
    return z, q, name if name.endswith(".") else name + ".bench.test."


class Gtmd:
    def __init__(self, label, binary, port, a, zone):
        self.label, self.port = label, port
        self.dir = os.path.join(a.workdir, "reload-" + label)
        os.makedirs(self.dir, exist_ok=True)
        self.bin = os.path.join(self.dir, "gtmd")
        shutil.copy(binary, self.bin)  # a rebuild during the run changes nothing
        self.cfg = os.path.join(self.dir, "gtmd.json")
        cfg = {"listen": ["127.0.0.1:%d" % port],
               "zones": [{"origin": "bench.test.", "file": zone}]}
        if a.workers:
            cfg["workers"] = a.workers
        with open(self.cfg, "w") as f:
            json.dump(cfg, f)
        self.logpath = os.path.join(self.dir, "gtmd.log")
        self.nice = a.nice
        self.apart = a.sessions == "apart"
        self.p = None

    def start(self, name, limit=120):
        self.logf = open(self.logpath, "w")
        self.p = subprocess.Popen([self.bin, "-c", self.cfg], stdout=self.logf,
                                  stderr=self.logf, start_new_session=self.apart,
                                  preexec_fn=lambda: os.nice(self.nice))
        boost(self.p.pid, self.nice)
        t0 = time.monotonic()
        while not query_ok(self.port, name):
            if self.p.poll() is not None or time.monotonic() - t0 > limit:
                raise RuntimeError("%s did not start: see %s" % (self.label, self.logpath))
            time.sleep(0.05)

    def reloads_done(self):
        with open(self.logpath) as f:
            return [line for line in f if "event=reload result=" in line]

    def stop(self):
        if self.p and self.p.poll() is None:
            os.kill(self.p.pid, signal.SIGTERM)
            try:
                self.p.wait(20)
            except subprocess.TimeoutExpired:
                os.kill(self.p.pid, signal.SIGKILL)
                self.p.wait()
        if self.p:
            self.logf.close()
        self.p = None


def steal_ms():
    """CPU time the hypervisor gave to others while this VM's CPUs wanted
    it (/proc/stat, all CPUs, in ms): a stall of the whole VM shows here,
    not in any process of it."""
    with open("/proc/stat") as f:
        fields = f.readline().split()
    return int(fields[8]) * 1000 // os.sysconf("SC_CLK_TCK") if len(fields) > 8 else 0


def sample_until(pid, samples, cond, limit):
    """Reads RSS and host steal every 100 ms until cond() or limit seconds."""
    t_end = time.monotonic() + limit
    while time.monotonic() < t_end:
        samples.append((time.monotonic_ns(), rss_mb(pid), steal_ms()))
        if cond():
            return True
        time.sleep(0.1)
    return False


def one_run(a, g, name, zone_q, lat_bin):
    g.start(name)
    time.sleep(a.settle)
    samples = []
    sample_until(g.p.pid, samples, lambda: False, 1.0)
    before = statistics.median(r for _, r, _ in samples[-5:])
    lat = subprocess.Popen([lat_bin, "-p", str(g.port), "-f", zone_q, "-r", str(a.rate),
                            "-d", "600", "-w", str(a.window), "-t", str(a.timeout)],
                           stdout=subprocess.PIPE, text=True,
                           start_new_session=a.sessions == "apart",
                           preexec_fn=lambda: os.nice(a.nice))
    boost(lat.pid, a.nice)
    sample_until(g.p.pid, samples, lambda: False, a.lead)
    reloads = []
    for i in range(a.reloads):
        n = len(g.reloads_done())
        t_hup = time.monotonic_ns()
        os.kill(g.p.pid, signal.SIGHUP)
        if not sample_until(g.p.pid, samples, lambda: len(g.reloads_done()) > n, 120):
            raise RuntimeError("%s: reload %d did not end" % (g.label, i + 1))
        t_done = time.monotonic_ns()
        line = g.reloads_done()[-1]
        ms = float(line.split("ms=")[1].split()[0]) if "ms=" in line else float("nan")
        reloads.append({"hup_ns": t_hup, "done_ns": t_done, "ms": ms, "ok": "result=ok" in line})
        sample_until(g.p.pid, samples, lambda: False, a.gap)
    lat.send_signal(signal.SIGINT)
    out, _ = lat.communicate(timeout=30)
    after = statistics.median(r for _, r, _ in samples[-5:])
    g.stop()
    wins, total = [], None
    for line in out.splitlines():
        w = line.split()
        if w and w[0] == "W":
            wins.append([int(x) for x in w[1:]])
        elif w and w[0] == "T":
            total = [int(x) for x in w[1:]]
    t0 = total[5]
    for r in reloads:
        r["from_ms"] = (r["hup_ns"] - t0) / 1e6
        r["to_ms"] = (r["done_ns"] - t0) / 1e6 + a.window
    return {"before": before, "after": after, "peak": max(r for _, r, _ in samples),
            "windows": wins, "total": total, "reloads": reloads,
            "rss": [((t - t0) / 1e6, r) for t, r, _ in samples],
            "steal": [((t - t0) / 1e6, st) for t, _, st in samples], "load": cpu_load()}


def steal_near(run, w, window):
    """Host steal (ms) from 200 ms before window w to 200 ms after its
    slowest answer: whether the VM itself was stopped then."""
    lo, hi = w[0] - 200, w[0] + window + w[7] / 1000 + 200
    pts = run.get("steal", [])
    before = [st for t, st in pts if t <= lo]
    after = [st for t, st in pts if t >= hi]
    if not before or not after:
        return None
    return after[0] - before[-1]


def during(run, window):
    """The windows that overlap a reload, and the others."""
    ins, outs = [], []
    for w in run["windows"]:
        hit = any(w[0] + window > r["from_ms"] and w[0] < r["to_ms"] for r in run["reloads"])
        (ins if hit else outs).append(w)
    return ins, outs


def summary(runs, window):
    """One row of figures over a binary's runs: medians [min-max] of the runs."""
    def mm(xs, f="%.1f"):
        return (f + " [" + f + "-" + f + "]") % (statistics.median(xs), min(xs), max(xs))
    rows = {"swap p50 ms": [], "swap p99 ms (worst window)": [], "swap max ms": [],
            "swap p99 ms (median window)": [], "swap windows p99 > 10 ms": [],
            "swap read p99 ms (worst window)": [],
            "steady p99 ms (median window)": [], "steady p99 ms (worst window)": [],
            "steady windows p99 > 10 ms": [],
            "reload ms": [], "RSS before MB": [],
            "RSS peak MB": [], "RSS after MB": [], "after/before": []}
    lost = failed = sent = late = 0
    slow = slow_steal = 0
    for run in runs:
        ins, outs = during(run, window)
        for w in ins:
            if w[6] > 10000:
                slow += 1
                st = steal_near(run, w, window)
                slow_steal += st is not None and st >= 20
        rows["swap p50 ms"].append(statistics.median(w[5] for w in ins) / 1000)
        rows["swap p99 ms (worst window)"].append(max(w[6] for w in ins) / 1000)
        rows["swap max ms"].append(max(w[7] for w in ins) / 1000)
        rows["swap p99 ms (median window)"].append(statistics.median(w[6] for w in ins) / 1000)
        rows["swap read p99 ms (worst window)"].append(max(w[8] for w in ins) / 1000)
        rows["swap windows p99 > 10 ms"].append(
            100.0 * sum(w[6] > 10000 for w in ins) / len(ins))
        rows["steady windows p99 > 10 ms"].append(
            100.0 * sum(w[6] > 10000 for w in outs) / len(outs))
        rows["steady p99 ms (median window)"].append(statistics.median(w[6] for w in outs) / 1000)
        rows["steady p99 ms (worst window)"].append(max(w[6] for w in outs) / 1000)
        rows["reload ms"] += [r["ms"] for r in run["reloads"]]
        rows["RSS before MB"].append(run["before"])
        rows["RSS peak MB"].append(run["peak"])
        rows["RSS after MB"].append(run["after"])
        rows["after/before"].append(run["after"] / run["before"])
        sent += run["total"][0]
        lost += run["total"][2]
        failed += run["total"][3]
        late += run["total"][4]
    out = {k + (" (% of windows)" if "> 10" in k else ""):
           mm(v, "%.2f" if k == "after/before" else "%.1f") for k, v in rows.items()}
    out["sent / lost / failed"] = "%d / %d / %d" % (sent, lost, failed)
    out["client late (>1 ms behind)"] = str(late)
    out["reload windows p99 > 10 ms with host steal >= 20 ms"] = "%d of %d" % (slow_steal, slow)
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--records", type=int, default=1000000)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--reloads", type=int, default=3, help="reloads per run (3)")
    ap.add_argument("--rate", type=int, default=50000, help="queries per second (50000)")
    ap.add_argument("--window", type=int, default=100, help="window ms (100)")
    ap.add_argument("--timeout", type=int, default=1000, help="a query is lost after ms (1000)")
    ap.add_argument("--lead", type=float, default=2.0, help="seconds of load before a reload")
    ap.add_argument("--gap", type=float, default=3.0, help="seconds of load after each reload")
    ap.add_argument("--settle", type=float, default=2.0, help="seconds after start-up")
    ap.add_argument("--nice", type=int, default=-10 if os.geteuid() == 0 else 0,
                    help="nice value of gtmd and the client and of their session groups (root: "
                    "-10), so that other jobs of a shared machine disturb them less; the "
                    "loader threads of a reload run at nice 19 within gtmd (its own doing)")
    ap.add_argument("--sessions", choices=("one", "apart"), default="one",
                    help="one: gtmd and the client in this script's session, so one scheduling "
                    "group (autogroup) and a thread's priority counts against every other; "
                    "apart: each in its own session and group (see contrib/bench/README.md)")
    ap.add_argument("--workers", type=int, default=0, help="gtmd workers (default: its own)")
    ap.add_argument("--gtmd", default=os.path.join(TOP, "build", "gtmd"))
    ap.add_argument("--gtmd-base", default=None, help="a second gtmd binary, the same rounds")
    ap.add_argument("--workdir", default="/tmp/gtmbench")
    ap.add_argument("--port", type=int, default=15330)
    a = ap.parse_args()
    os.makedirs(a.workdir, exist_ok=True)
    zone, zone_q, name = make_zone(a)
    lat_bin = os.path.join(a.workdir, "lat_load")
    subprocess.check_call(["cc", "-O2", "-Wall", "-o", lat_bin, os.path.join(HERE, "lat_load.c")])
    gs = [Gtmd("gtmd", a.gtmd, a.port, a, zone)]
    if a.gtmd_base:
        gs.append(Gtmd("gtmd-base", a.gtmd_base, a.port + 1, a, zone))
    runs = {g.label: [] for g in gs}
    try:
        for rnd in range(a.rounds):
            for g in gs[rnd % len(gs):] + gs[:rnd % len(gs)]:
                r = one_run(a, g, name, zone_q, lat_bin)
                runs[g.label].append(r)
                ins, _ = during(r, a.window)
                log("round %d %-9s reload ms %s, swap p99 worst %.1f ms max %.1f ms, lost %d, "
                    "failed %d, RSS %.0f -> peak %.0f -> %.0f MB, load %s"
                    % (rnd + 1, g.label, " ".join("%.0f" % x["ms"] for x in r["reloads"]),
                       max(w[6] for w in ins) / 1000, max(w[7] for w in ins) / 1000,
                       r["total"][2], r["total"][3], r["before"], r["peak"], r["after"], r["load"]))
    finally:
        for g in gs:
            g.stop()
    stamp = time.strftime("%Y%m%d-%H%M%S")
    with open(os.path.join(a.workdir, "results-reload-%s.json" % stamp), "w") as f:
        json.dump({"args": vars(a), "runs": runs}, f)
    print("%d-record zone, %d QPS, %d rounds x %d reloads, %d ms windows, timeout %d ms; "
          "median [min-max] of the runs" % (a.records, a.rate, a.rounds, a.reloads, a.window,
                                            a.timeout))
    sums = {k: summary(v, a.window) for k, v in runs.items()}
    keys = list(next(iter(sums.values())))
    print("%-44s" % "" + "".join("%-26s" % k for k in sums))
    for k in keys:
        print("%-44s" % k + "".join("%-26s" % sums[g][k] for g in sums))
    for label, rs in runs.items():
        r = rs[-1]
        rl = r["reloads"][0]
        print("\n%s, last round, first reload (SIGHUP at %.0f ms, done at %.0f ms); "
              "windows by send time:" % (label, rl["from_ms"], rl["to_ms"] - a.window))
        print("  start ms   sent  answered lost failed  p50 ms  p99 ms  max ms  read p99  max")
        for w in r["windows"]:
            if w[0] + a.window > rl["from_ms"] - 300 and w[0] < rl["to_ms"] + 300:
                print("  %8d %6d %8d %5d %5d %7.2f %7.2f %7.2f %9.2f %7.2f"
                      % (w[0], w[1], w[2], w[3], w[4], w[5] / 1000, w[6] / 1000, w[7] / 1000,
                         w[8] / 1000, w[9] / 1000))
    print("\ngtmd and client at nice %+d; load average at the end of each run: %s" % (a.nice,
          ", ".join("%s %s" % (k, r["load"]) for k, v in runs.items() for r in v)))


if __name__ == "__main__":
    main()

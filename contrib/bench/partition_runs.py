#!/usr/bin/python3
"""The partition scenario of issue #54, N consecutive runs per isolation
mode, on real namespaces (tests/integration/fleetlab.py: a 3-member etcd
e1..e3, 3 gtmd nodes n1..n3, backends us and eu in the root namespace;
policy failover us, eu; http check every 0.25 s, fall 2), quiet and then
loaded (two CPU hogs and a `dd oflag=dsync` loop in etcd's data
directory). Each run has three phases:

  leader_cut  the node whose first member is the etcd leader, and that
              leader, are cut off from the rest at the instant backend us
              dies: kill -> flip (served eu) on every node, then 1 s of
              answers (a node back on us is a flap), then the cut held
              until isolation.after + 0.5 s: the cut node must answer as
              its isolation mode says (serve: eu, its last view; refuse:
              REFUSED; servfail: SERVFAIL);
  member_cut  a node cut from the etcd member its watch uses (dropped, no
              reset) and,
              at that instant, an override (region us down) made through
              another node:
              ack -> served eu on every node (all three reach a quorum);
              an override not listed on every node 3 s after its ack is
              lost;
  alone_cut   a node alone cut from backend us for 2.5 s: an answer of
              it that is not us is a false failover.

Every node's /v1/status is read every 0.1 s throughout (one thread per
node); the slowest answer of each phase is printed. Needs root, iproute2
and etcd; leaves nothing running (the lab, the load and the backends are
stopped in a finally). Usage:
  GTMD=build/gtmd /usr/bin/python3 contrib/bench/partition_runs.py \\
      [--runs 5] [--modes serve,refuse,servfail] [--load quiet,loaded]
It prints one line per run and phase, then the maxima per mode and load,
and exits 0 whatever it measured (a benchmark).
"""
import argparse
import os
import subprocess
import sys
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "..", "tests", "integration"))

import netlab  # noqa: E402
from backends import poll  # noqa: E402
from fleetlab import Fleet, cut_off_with_leader, synced  # noqa: E402
from fleetlib import need_etcd  # noqa: E402
from test_fleet_partition import delete_override, listed, post_override  # noqa: E402
from test_fleet_partition import rcode_or_addrs  # noqa: E402

ISOLATION_AFTER = 3.0  # the fleet's stale_after (fleetlab), isolation.after's default
EXPECTED = {"serve": "eu", "refuse": "REFUSED", "servfail": "SERVFAIL"}


class StatusWatch:
    """One thread per node reads /v1/status every 0.1 s and keeps the
    slowest answer (an unanswered call counts as its 3 s timeout) of the
    current phase."""

    def __init__(self, nodes):
        self.nodes = nodes
        self.lock = threading.Lock()
        self.slowest = 0.0
        self.stop_ev = threading.Event()
        self.threads = [threading.Thread(target=self.loop, args=(n,), daemon=True)
                        for n in nodes]
        for t in self.threads:
            t.start()

    def loop(self, n):
        while not self.stop_ev.is_set():
            t = time.monotonic()
            try:
                n.get("/v1/status")
            except Exception:  # a timeout: counted as the time it took
                pass
            took = time.monotonic() - t
            with self.lock:
                self.slowest = max(self.slowest, took)
            self.stop_ev.wait(0.1)

    def take(self):
        """The slowest answer since the last take."""
        with self.lock:
            s, self.slowest = self.slowest, 0.0
        return s

    def stop(self):
        self.stop_ev.set()
        for t in self.threads:
            t.join(5)


class Load:
    """Two CPU hogs and a dd oflag=dsync loop in disk_dir; stop() kills
    them by pid and removes the file."""

    def __init__(self, disk_dir):
        self.path = os.path.join(disk_dir, "partition-runs-dd.bin")
        # Each hog ends by itself after 30 minutes should this script die
        # without its finally.
        hog = "import time\nend = time.monotonic() + 1800\nwhile time.monotonic() < end:\n    pass\n"
        self.procs = [subprocess.Popen([sys.executable, "-c", hog]) for _ in range(2)]
        dd = "while :; do dd if=/dev/zero of=%s bs=64k count=64 oflag=dsync 2>/dev/null; done" \
            % self.path
        self.procs.append(subprocess.Popen(["sh", "-c", dd], start_new_session=True))

    def stop(self):
        for p in self.procs:
            if p.poll() is None:
                if p.args[0] == "sh":
                    os.killpg(p.pid, 9)  # the loop and its dd (its own session)
                else:
                    p.kill()
            p.wait(10)
        if os.path.exists(self.path):
            os.unlink(self.path)


def all_serve(fleet, want, timeout=15.0):
    ok, _ = poll(lambda: all(n.answer() == want for n in fleet.nodes), timeout, 0.05)
    return ok


def own_up(fleet):
    """Every node's own probe says us is up: a run starts only then (after
    the alone_cut phase a node's probe needs rise x interval to come back;
    a node whose probe is still down when the next kill comes has, rightly,
    no death to see: its peers' later ups outvote it, and once it is cut
    off it waits for them to go stale)."""
    def up(n):
        e = n.endpoint("us1") or {}
        return (e.get("fleet") or {}).get("own") == "up"
    ok, _ = poll(lambda: all(up(n) for n in fleet.nodes), 20, 0.1)
    return ok


def first_seen(fleet, nodes, want, t0, timeout=10.0, every=0.02, slow=None):
    """{node: seconds after t0 it first answered want} (None: not in time).
    slow, a dict: the us1 fleet status of each node not there after 1 s."""
    took = {}

    def done():
        for n in nodes:
            if n.name not in took and n.answer() == want:
                took[n.name] = time.monotonic() - t0
            elif n.name not in took and slow is not None and n.name not in slow and \
                    time.monotonic() - t0 > 1.0:
                slow[n.name] = (n.endpoint("us1") or {}).get("fleet")
        return len(took) == len(nodes)
    poll(done, timeout, every)
    return {n.name: took.get(n.name) for n in nodes}


def phase_leader_cut(fleet, mode):
    lead = fleet.leader()
    cut = fleet.nodes[int(lead[1]) - 1]
    cut_off_with_leader(fleet, cut, lead)
    fleet.be["us"].stop()
    t0 = time.monotonic()
    slow = {}
    took = first_seen(fleet, fleet.nodes, fleet.EU, t0, slow=slow)
    for name, st in sorted(slow.items()):
        print("  slow %s at 1 s: %s" % (name, st), flush=True)
    flaps = 0
    t1 = time.monotonic()
    while time.monotonic() - t1 < 1.0:
        flaps += sum(1 for n in fleet.nodes if took[n.name] is not None and
                     n.answer() == fleet.US)
        time.sleep(0.05)
    # The cut node's answer once isolated: its view is older than
    # isolation.after (bounded by the 0.25 s tick), polled up to 3 s more.
    wait = ISOLATION_AFTER + 0.5 - (time.monotonic() - t0)
    if wait > 0:
        time.sleep(wait)
    want = EXPECTED[mode]

    def got():
        a = rcode_or_addrs(cut)
        return ("eu" if a == fleet.EU else a) == want
    iso_ok, _ = poll(got, 3.0, 0.1)
    fleet.lab.heal()
    fleet.be["us"].start()
    return {"cut": cut.name, "leader": lead, "took": took, "flaps": flaps, "isolation": iso_ok}


def phase_member_cut(fleet, run):
    n = fleet.nodes[run % 3]
    other = fleet.nodes[(run + 1) % 3]
    # The member n's watch uses now (after earlier phases it may not be
    # its first: the run measured nothing for that reason), cut
    # at the instant the override is made: n must move its session and
    # watch to another member and serve the override within 0.5 s.
    f = n.fleet() or {}
    member = [m for m in ("e1", "e2", "e3") if f.get("watch_etcd") == fleet.url(m)]
    member = member[0] if member else "e%d" % (run % 3 + 1)
    fleet.lab.cut(n.name, member)
    reason = "partition-runs-%d-%f" % (run, time.time())
    st, body, t_ack = post_override(other, reason)
    took = first_seen(fleet, fleet.nodes, fleet.EU, t_ack) if st == 201 else {}
    lost = 0
    for m in fleet.nodes:
        ok, _ = poll(lambda: listed(m, reason) is not None, 3.0, 0.1)
        lost += not ok
    oid = (body or {}).get("id") or (listed(other, reason) or {}).get("id")
    if oid:
        delete_override(other, oid)
    fleet.lab.heal()
    return {"node": n.name, "member": member, "via": other.name, "status": st, "took": took,
            "lost": lost}


def phase_alone_cut(fleet, run):
    n = fleet.nodes[(run + 2) % 3]
    fleet.lab.cut_addr(n.name, fleet.US[0])
    moved = 0
    t0 = time.monotonic()
    while time.monotonic() - t0 < 2.5:
        moved += n.answer() != fleet.US
        time.sleep(0.05)
    fleet.lab.heal_addrs()
    return {"node": n.name, "false_failovers": moved}


def fmt(took):
    return " ".join("%s=%s" % (k, "-" if v is None else "%.2f" % v) for k, v in sorted(took.items()))


def worst(took):
    vals = list(took.values())
    return None if not vals or None in vals else max(vals)


def one_mode(mode, load, runs, out):
    fleet = Fleet()
    watch = ld = None
    try:
        fleet.start_etcd()
        fleet.start_backends()
        fleet.start_nodes(timeout=1, fall=2, isolation={"after": ISOLATION_AFTER, "action": mode})
        if load == "loaded":
            ld = Load(fleet.etcd_dir)
        watch = StatusWatch(fleet.nodes)
        for run in range(runs):
            assert all_serve(fleet, fleet.US), "run %d: not all on us before" % run
            ok, _ = poll(lambda: all(synced(n) for n in fleet.nodes), 20, 0.1)
            assert ok, "run %d: not synced before" % run
            assert own_up(fleet), "run %d: a node's own probe is not up before" % run
            watch.take()
            la = os.getloadavg()[0]
            a = phase_leader_cut(fleet, mode)
            s_a = watch.take()
            print("%-8s %-6s run %d leader_cut  %s+%s cut: kill->flip %s flaps %d isolation(%s) %s "
                  "status_max %.2f load %.1f" % (mode, load, run + 1, a["cut"], a["leader"],
                                                 fmt(a["took"]), a["flaps"], EXPECTED[mode],
                                                 "ok" if a["isolation"] else "WRONG", s_a, la),
                  flush=True)
            assert all_serve(fleet, fleet.US, 20), "run %d: not back on us" % run
            ok, _ = poll(lambda: all(synced(n) for n in fleet.nodes), 20, 0.1)
            watch.take()
            b = phase_member_cut(fleet, run)
            s_b = watch.take()
            print("%-8s %-6s run %d member_cut  %s cut from %s (its watch's), override via %s "
                  "(%s): ack->served %s lost %d status_max %.2f load %.1f" %
                  (mode, load, run + 1, b["node"], b["member"], b["via"], b["status"],
                   fmt(b["took"]),
                   b["lost"], s_b, os.getloadavg()[0]), flush=True)
            assert all_serve(fleet, fleet.US, 20), "run %d: not back on us after override" % run
            c = phase_alone_cut(fleet, run)
            s_c = watch.take()
            print("%-8s %-6s run %d alone_cut   %s cut from us: false failovers %d "
                  "status_max %.2f load %.1f" % (mode, load, run + 1, c["node"],
                                                 c["false_failovers"], s_c, os.getloadavg()[0]),
                  flush=True)
            out.append({"mode": mode, "load": load, "flip": worst(a["took"]),
                        "served": worst(b["took"]), "status": max(s_a, s_b, s_c),
                        "ff": c["false_failovers"], "flaps": a["flaps"], "lost": b["lost"],
                        "isolation": a["isolation"]})
    finally:
        if watch:
            watch.stop()
        if ld:
            ld.stop()
        fleet.close()


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--modes", default="serve,refuse,servfail")
    ap.add_argument("--load", default="quiet,loaded")
    args = ap.parse_args()
    for why in (need_etcd(), netlab.why_not()):
        if why:
            print("partition_runs: " + why, file=sys.stderr)
            return 2
    out = []
    for load in args.load.split(","):
        for mode in args.modes.split(","):
            try:
                one_mode(mode, load, args.runs, out)
            except AssertionError as e:
                print("%-8s %-6s stopped: %s" % (mode, load, e), flush=True)
    print("\nmode     load   runs  kill->flip max  ack->served max  status max  "
          "false failovers  flaps  lost  isolation")
    for load in args.load.split(","):
        for mode in args.modes.split(","):
            rs = [r for r in out if r["mode"] == mode and r["load"] == load]
            if not rs:
                continue

            def mx(k):
                v = [r[k] for r in rs]
                return "late" if None in v else "%.2f s" % max(v)
            print("%-8s %-6s %4d  %14s  %15s  %8.2f s  %15d  %5d  %4d  %s" % (
                mode, load, len(rs), mx("flip"), mx("served"), max(r["status"] for r in rs),
                sum(r["ff"] for r in rs), sum(r["flaps"] for r in rs),
                sum(r["lost"] for r in rs),
                "%d/%d as documented" % (sum(r["isolation"] for r in rs), len(rs))))
    return 0


if __name__ == "__main__":
    sys.exit(main())

#!/usr/bin/python3
"""A randomized real-fault campaign on the fleet (issue #54 item 4, in
the manner of Jepsen): a 3-member etcd (e1..e3) and 3 gtmd nodes (n1..n3),
or 5 and 5 (--members 5 --nodes 5), each in its own network namespace
(tests/integration/fleetlab.py), two
HTTP backends us and eu in the root namespace, each its own process
(policy failover us, eu;
http check every 0.25 s, fall 2, rise 2). A nemesis (campaign_nemesis.py)
injects seeded random faults; a recorder queries every node's DNS every
20 ms and polls every node's /v1/status every 0.5 s; the checker
(campaign_check.py) reports every violation of I1-I4 and of the admin
API's 1 s bound, with the timeline around it.

Needs root (namespaces), iproute2 and etcd. Leaves nothing running: the
lab, load processes and backends are stopped in a finally, also on
SIGINT/SIGTERM. Usage:
  GTMD=build/gtmd /usr/bin/python3 contrib/bench/fleet_campaign.py \\
      --seed 1 --duration 180 [--members 5] [--nodes 5] [--load] \\
      [--no-clock-jumps] [--report out.json] [--logs DIR]
Clock jumps need libfaketime (every node then runs with it preloaded,
reading its offset from a file the nemesis rewrites); without it the
campaign runs without them and says so.
It prints the figures and exits 0 whatever it found (a benchmark); the
CI test (tests/integration/test_fleet_campaign.py) asserts on them.
"""
import argparse
import ctypes
import json
import os
import random
import signal
import socket
import subprocess
import sys
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(HERE, "..", "..", "tests", "integration"))

import campaign_check  # noqa: E402
import campaign_nemesis  # noqa: E402
import netlab  # noqa: E402
from backends import answer_addrs, fast_query, poll  # noqa: E402
from fleetlab import Fleet  # noqa: E402
from fleetlib import Backend, http_json, need_etcd  # noqa: E402

NAME = "app.example.com."
FALL, INTERVAL = 2, 0.25
# The fleet's stale_after (fleetlab's nodes): a peer's report that comes
# in up to this late still counts, so a report of a node that was cut off
# during a kill can move answers for that long after the revival; such a
# flap is told apart as I2-revival (campaign_check.py).
STALE_AFTER = 3.0
FAKETIME = "/usr/lib/x86_64-linux-gnu/faketime/libfaketime.so.1"


class NodeClocks:
    """Each node's wall clock as an offset that can jump: every node runs
    with libfaketime preloaded (as test_fleet_partition.py's clock skew),
    reading its offset from its own file, again at most 1 s after a change
    (FAKETIME_CACHE_DURATION), CLOCK_MONOTONIC untouched. The host's clock
    is never changed. The directory is the caller's (the fleet's)."""

    def __init__(self, directory):
        self.dir = directory

    def path(self, node):
        return os.path.join(self.dir, "faketime-" + node)

    def env(self, node):
        self.jump(node, 0.0)
        asan = os.environ.get("ASAN_OPTIONS", "")
        return {"LD_PRELOAD": FAKETIME, "FAKETIME_TIMESTAMP_FILE": self.path(node),
                "FAKETIME_CACHE_DURATION": "1", "FAKETIME_DONT_FAKE_MONOTONIC": "1",
                "ASAN_OPTIONS": (asan + ":" if asan else "") + "verify_asan_link_order=0"}

    def jump(self, node, seconds):
        """The node's clock becomes the true time plus seconds (written
        whole, then renamed: libfaketime never reads half a file)."""
        tmp = self.path(node) + ".tmp"
        with open(tmp, "w") as f:
            f.write("%+d\n" % int(round(seconds)))
        os.rename(tmp, self.path(node))


# A backend in its own process: a kill is a SIGKILL (its kernel closes
# the socket at once), and its probes are not served by a thread that
# waits for this process's GIL behind the recorder's threads (with the
# backends as threads here, a loaded machine made the nodes' 0.2 s probes
# of a live backend time out, a harness fault counted as the product's).
BACKEND = """import http.server, sys
class H(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        try:
            self.send_response(200)
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"ok")
        except OSError:
            pass
    def handle(self):
        try:
            super().handle()
        except OSError:  # a probe that gave up (its timeout) and reset
            pass
    def log_message(self, *a):
        pass
s = http.server.ThreadingHTTPServer((sys.argv[1], int(sys.argv[2])), H)
s.daemon_threads = True
s.serve_forever()
"""


# The campaign's own probe of each backend, in a process of its own (not
# behind the recorder's threads): every 50 ms, from the host, the way the
# nodes' health checks probe (an HTTP GET of /, 0.2 s timeout, 200 =
# answered). One line per probe, "monotonic_start backend ok", into the
# file argv[1]; time.monotonic() is CLOCK_MONOTONIC, the campaign's clock.
PROBER = r"""import socket, sys, threading, time
out = open(sys.argv[1], "w", buffering=1)
lock = threading.Lock()
def probe(addr, port, t0):
    try:
        s = socket.create_connection((addr, port), timeout=0.2)
        try:
            s.settimeout(max(0.001, 0.2 - (time.monotonic() - t0)))
            s.sendall(b"GET / HTTP/1.1\r\nHost: probe\r\nConnection: close\r\n\r\n")
            return s.recv(64).split(b" ")[1:2] == [b"200"]
        finally:
            s.close()
    except OSError:
        return False
def loop(name, addr, port):
    nxt = time.monotonic()
    while True:
        t0 = time.monotonic()
        ok = probe(addr, port, t0)
        with lock:
            out.write("%.4f %s %d\n" % (t0, name, ok))
        nxt += 0.05
        time.sleep(max(0.0, nxt - time.monotonic()))
        nxt = max(nxt, time.monotonic() - 0.05)
for spec in sys.argv[2:]:
    name, addr, port = spec.split(":")
    threading.Thread(target=loop, args=(name, addr, int(port)), daemon=True).start()
while True:
    time.sleep(3600)
"""


def _die_with_parent():
    """In the child: SIGKILL when the campaign dies, even by SIGKILL."""
    ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG


class ProcBackend(Backend):
    """Backend's interface (addr, port, start, stop), in a child process."""

    def __init__(self, addr, port):
        super().__init__(addr, port)
        self.proc = None

    def start(self):
        self.proc = subprocess.Popen([sys.executable, "-c", BACKEND, self.addr, str(self.port)],
                                     preexec_fn=_die_with_parent)

        def up():
            try:
                socket.create_connection((self.addr, self.port), timeout=0.2).close()
                return True
            except OSError:
                return False
        ok, _ = poll(up, 5.0, 0.01)  # the revival is when it accepts
        if not ok:
            raise RuntimeError("backend %s:%d did not start" % (self.addr, self.port))
        return self

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=10)
        self.proc = None


class Prober:
    """The campaign's own probes of the backends (PROBER, its own
    process, killed with the campaign): read back as {"us": [[t, ok]],
    "eu": [...]} in the campaign's clock (seconds since t0)."""

    def __init__(self, fleet, directory):
        self.path = os.path.join(directory, "probes.txt")
        specs = ["%s:%s:%d" % (n, fleet.be[n].addr, fleet.be[n].port) for n in ("us", "eu")]
        self.proc = subprocess.Popen([sys.executable, "-c", PROBER, self.path] + specs,
                                     preexec_fn=_die_with_parent)

    def stop(self, t0):
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait(timeout=10)
        out = {"us": [], "eu": []}
        with open(self.path) as f:
            for line in f:
                p = line.split()
                if len(p) == 3 and p[1] in out:  # the last line may be cut short
                    out[p[1]].append([round(float(p[0]) - t0, 4), p[2] == "1"])
        for v in out.values():
            v.sort()
        return out


def proc_backends(fleet):
    """Replaces the fleet's in-process backends by ProcBackends on the same
    addresses and port."""
    for name in ("us", "eu"):
        old = fleet.be[name]
        old.stop()
        fleet.be[name] = ProcBackend(old.addr, old.port).start()


class Overrides:
    """Overrides made and deleted through nodes, with the ledger of each
    operation's send, reply and acknowledgement times."""

    def __init__(self, fleet, clock):
        self.nodes = {n.name: n for n in fleet.nodes}
        self.clock = clock
        self.ops = []

    def _listed(self, node, reason):
        st, b = self.nodes[node].get("/v1/overrides")
        if st != 200:
            return None
        return next((o for o in b.get("overrides", []) if o.get("reason") == reason), None)

    def create(self, node, reason):
        """One POST (no retry: a refusal is part of the record). A 504
        (outcome unknown) is resolved by reading the list for 2 s."""
        op = {"op": "create", "node": node, "reason": reason, "id": None, "ack": None,
              "sent": self.clock()}
        st, b = self.nodes[node].post("/v1/overrides", {"target": "region:us", "state": "down",
                                                          "reason": reason})
        op["reply"], op["status"] = self.clock(), st
        if st == 201 and isinstance(b, dict):
            op["id"], op["ack"] = b.get("id"), op["reply"]
        elif st in (0, 504):
            o, _ = poll(lambda: self._listed(node, reason), 2.0, 0.1)
            if o:
                op["id"], op["ack"] = o.get("id"), self.clock()
        self.ops.append(op)
        return op

    def delete(self, create, node):
        """DELETEs the override of create through node until acknowledged
        (a 503 while the node cannot write is retried for up to 10 s; a
        404 after an unsure reply is a success). An unacknowledged create
        is looked up first, so that no override outlives the campaign."""
        oid = create.get("id")
        if oid is None:
            o = self._listed(node, create["reason"])
            if o is None:
                return
            oid = create["id"] = o.get("id")
        op = {"op": "delete", "node": node, "id": oid, "ack": None, "sent": self.clock()}
        unsure = False
        deadline = time.monotonic() + 10.0
        while time.monotonic() < deadline:
            st, _ = self.nodes[node].delete("/v1/overrides/" + oid)
            op["status"] = st
            if st in (200, 204) or (st == 404 and unsure):
                op["ack"] = self.clock()
                break
            if st == 404:  # never made (an unacknowledged create)
                break
            unsure = unsure or st in (0, 503, 504)
            time.sleep(0.1)
        op["reply"] = self.clock()
        self.ops.append(op)


class Recorder:
    """One thread per node querying its DNS every 20 ms (0.15 s timeout),
    one polling its /v1/status every 0.5 s (3 s timeout: a reply later
    than 1 s is a violation, its latency recorded, with the node's
    fleet.clock_offset_s)."""

    def __init__(self, fleet, clock):
        self.fleet = fleet
        self.clock = clock
        self.stop = threading.Event()
        self.answers = {n.name: [] for n in fleet.nodes}
        self.status = {n.name: [] for n in fleet.nodes}
        self.region = {fleet.US[0]: "us", fleet.EU[0]: "eu"}
        self.threads = []

    def _dns(self, n):
        out = self.answers[n.name]
        nxt = time.monotonic()
        while not self.stop.is_set():
            t = self.clock()
            r = fast_query(n.addr, n.port, NAME, "A", timeout=0.15)
            if r is None:
                a = None
            elif r.rcode() != 0:
                a = ["rcode%d" % r.rcode()]
            else:
                a = sorted(self.region.get(x, x) for x in answer_addrs(r, ("A",))) or ["empty"]
            out.append([round(t, 4), a])
            nxt += 0.02
            time.sleep(max(0.0, nxt - time.monotonic()))
            nxt = max(nxt, time.monotonic() - 0.02)  # no burst after a slow query

    def _status(self, n):
        out = self.status[n.name]
        while not self.stop.is_set():
            t0 = time.monotonic()
            st, b = http_json(n.admin + "/v1/status", headers=n.AUTH, timeout=3.0)
            lat = time.monotonic() - t0
            # The node's own clock offset, as it measures it: shows that a
            # clock jump reached it (recorded, not checked).
            fl = b.get("fleet") if st == 200 and isinstance(b, dict) else None
            off = fl.get("clock_offset_s") if isinstance(fl, dict) else None
            out.append([round(t0 - self.t0, 4), round(lat, 4) if st == 200 else None,
                        None if off is None else round(off, 3)])
            self.stop.wait(max(0.0, 0.5 - lat))

    def _loadavg(self):
        """The machine's 1-minute load average every 5 s: the campaign
        shares the machine, and its figures mean little without it."""
        while not self.stop.is_set():
            self.loadavg.append([round(time.monotonic() - self.t0, 1), os.getloadavg()[0]])
            self.stop.wait(5.0)

    def start(self, t0):
        self.t0 = t0
        self.loadavg = []
        for n in self.fleet.nodes:
            for fn in (self._dns, self._status):
                th = threading.Thread(target=fn, args=(n,), daemon=True)
                th.start()
                self.threads.append(th)
        th = threading.Thread(target=self._loadavg, daemon=True)
        th.start()
        self.threads.append(th)

    def finish(self):
        self.stop.set()
        for th in self.threads:
            th.join(timeout=5)


def params(load):
    extra = 0.5 if load else 0.0
    return {"bound_i1": FALL * INTERVAL + 0.5 + extra, "bound_i3": 0.5 + extra,
            "status_max": 1.0 + extra, "revive_window": STALE_AFTER + extra,
            "window": 2.0, "unanswered_window": 2.0}


def keep_logs(fleet, directory):
    """Copies every node's log and every etcd member's into directory
    before the lab removes them (a violation's cause is read there)."""
    import shutil
    os.makedirs(directory, exist_ok=True)
    for n in fleet.nodes:
        if os.path.exists(n.log_path):
            shutil.copy(n.log_path, os.path.join(directory, n.name + ".log"))
    for m in fleet.member_names:
        path = os.path.join(fleet.etcd_dir or "", m + ".log")
        if os.path.exists(path):
            shutil.copy(path, os.path.join(directory, m + ".log"))


def run_campaign(seed, duration, load=False, log=print, members=3, nodes=3, jumps=True,
                 logs=None):
    """Starts the lab, runs the nemesis for `duration` s with the recorder,
    heals, lets the fleet settle 3 s, and checks. Returns the report (a
    dict: the timeline without raw answers, violations, figures).
    jumps: clock jumps among the faults (when libfaketime is installed);
    logs: a directory to keep the nodes' and members' logs in."""
    for why in (need_etcd(), netlab.why_not()):
        if why:
            raise RuntimeError(why)
    jumps = jumps and os.path.exists(FAKETIME)
    fleet = Fleet(members=members, nodes=nodes)
    background = None
    rec = prober = None
    try:
        fleet.start_etcd()
        fleet.start_backends()
        proc_backends(fleet)
        clocks = NodeClocks(fleet.etcd_dir) if jumps else None
        fleet.start_nodes(timeout=1, fall=FALL, env_of=clocks.env if clocks else None)
        t0 = time.monotonic()
        t0_wall = time.time()  # the nodes' logs are in wall time: t = their time - t0_wall
        prober = Prober(fleet, fleet.etcd_dir)

        def clock():
            return time.monotonic() - t0
        if load:
            background = campaign_nemesis.Load(fleet.etcd_dir, duration + 30, tag="bg")
        rec = Recorder(fleet, clock)
        rec.start(t0)
        ovr = Overrides(fleet, clock)
        nem = campaign_nemesis.Nemesis(fleet, random.Random(seed), clock, ovr, clocks)
        log("campaign: seed %d, %d s, %d members, %d nodes%s%s, lab up" % (
            seed, duration, members, nodes, ", loaded" if load else "",
            "" if jumps else ", no clock jumps"))
        nem.run(duration, rec.stop)
        time.sleep(3.0)  # the fleet settles; the recorder goes on
        final = {}
        for n in fleet.nodes:
            st, b = n.get("/v1/overrides")
            final[n.name] = [o.get("id") for o in b.get("overrides", [])] if st == 200 else []
        t_end = clock()
        rec.finish()
        probes = prober.stop(t0)
    finally:
        if rec:
            rec.finish()
        if prober and prober.proc.poll() is None:
            prober.proc.kill()
            prober.proc.wait(timeout=10)
        if background:
            background.stop()
        if logs:
            keep_logs(fleet, logs)
        errors = fleet.close()
    tl = {"params": params(load), "nodes": [n.name for n in fleet.nodes],
          "members": list(fleet.member_names),
          "faults": nem.faults, "ops": ovr.ops, "answers": rec.answers, "status": rec.status,
          "final_overrides": final, "t_end": t_end, "probes": probes}
    result = campaign_check.check(tl)
    failed = {b: sum(1 for _, ok in v if not ok) for b, v in probes.items()}
    queries = sum(len(v) for v in rec.answers.values())
    unanswered = sum(1 for v in rec.answers.values() for _, a in v if a is None)
    offsets = {}  # node -> [lowest, highest] clock offset it reported
    for n, polls in rec.status.items():
        seen = [p[2] for p in polls if p[2] is not None]
        offsets[n] = [min(seen), max(seen)] if seen else None
    kinds = {}
    for f in nem.faults:
        kinds[f["kind"]] = kinds.get(f["kind"], 0) + 1
    report = {"seed": seed, "duration": duration, "load": load, "params": tl["params"],
              "t0_wall": t0_wall,
              "members": members, "nodes": nodes, "clock_jumps": jumps,
              "loadavg": os.getloadavg(), "clock_offsets": offsets,
              "loadavg_1min": [min(x for _, x in rec.loadavg), max(x for _, x in rec.loadavg),
                               sum(x for _, x in rec.loadavg) / len(rec.loadavg)],
              "faults": nem.faults, "fault_counts": kinds, "ops": ovr.ops,
              "queries": queries, "unanswered": unanswered,
              "probes": {b: [len(v), failed[b]] for b, v in probes.items()},
              "figures": result["figures"], "violations": result["violations"],
              "close_errors": errors,
              "timeline": tl}  # the raw record: campaign_check.py REPORT rechecks it
    return report


def summary(r):
    f = r["figures"]
    lines = ["seed %d, %d s, %d/%d%s: %d faults %s; %d queries (%d unanswered)" % (
        r["seed"], r["duration"], r["members"], r["nodes"], ", loaded" if r["load"] else "",
        len(r["faults"]),
        json.dumps(r["fault_counts"], sort_keys=True), r["queries"], r["unanswered"]),
        "the campaign's own backend probes (sent, failed): %s" % json.dumps(r["probes"]),
        "violations by invariant: %s" % json.dumps(f["violations_by_invariant"]),
        "violations by class: %s" % json.dumps(f["violations_by_class"]),
        "kill -> flip max per node (I1 applies): %s" % json.dumps(f.get("kill_to_flip_max")),
        "override ack -> served max per node: %s" % json.dumps(
            f.get("override_ack_to_served_max")),
        "status latency max per node: %s" % json.dumps(f.get("status_latency_max")),
        "clock offset seen per node (lowest, highest): %s" % json.dumps(r["clock_offsets"]),
        "load average at the end (1, 5, 15 min): %.2f %.2f %.2f" % tuple(r["loadavg"]),
        "1-minute load average every 5 s: min %.2f, max %.2f, mean %.2f" % tuple(
            r["loadavg_1min"]),
        "t = 0 at %s UTC (the nodes' logs)" % time.strftime(
            "%H:%M:%S", time.gmtime(r["t0_wall"]))]
    if r.get("close_errors"):
        lines.append("errors when stopping the lab: %s" % r["close_errors"])
    for v in r["violations"][:40]:
        lines.append("  %s %s t=%.3f [%s] %s" % (v["inv"], v["node"], v["t"], v["cls"],
                                                   v["detail"]))
    for v in r["violations"]:  # each backend-unanswered with its timeline, never hidden
        if v["inv"] == "backend-unanswered":
            lines.append("  timeline of %s %s t=%.3f: %s" % (v["inv"], v["node"], v["t"],
                                                            json.dumps(v["timeline"])))
    return "\n".join(lines)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--duration", type=int, default=180)
    ap.add_argument("--load", action="store_true",
                    help="two CPU hogs and a dd oflag=dsync loop for the whole run")
    ap.add_argument("--members", type=int, default=3, choices=(3, 5),
                    help="etcd members (the checker's quorum: more than half)")
    ap.add_argument("--nodes", type=int, default=3, choices=(3, 4, 5))
    ap.add_argument("--no-clock-jumps", action="store_true",
                    help="no clock jumps (every node then runs without libfaketime)")
    ap.add_argument("--report", help="write the report (JSON) here")
    ap.add_argument("--logs", help="keep the nodes' and members' logs in this directory")
    a = ap.parse_args()

    def stop(sig, frame):
        raise KeyboardInterrupt  # unwinds through the finally that cleans up
    signal.signal(signal.SIGTERM, stop)
    r = run_campaign(a.seed, a.duration, a.load, members=a.members, nodes=a.nodes,
                     jumps=not a.no_clock_jumps, logs=a.logs)
    print(summary(r))
    if a.report:
        with open(a.report, "w") as f:
            json.dump(r, f, indent=1)


if __name__ == "__main__":
    main()

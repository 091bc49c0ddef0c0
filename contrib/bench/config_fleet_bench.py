#!/usr/bin/python3
"""config_fleet_bench.py -- a configuration change through any node of a
3-node fleet ("config_api": {"fleet": true}) until every node serves it,
at a configuration of --records policy records (issue #38, item 4).

A benchmark, not a test. A 3-member etcd 3.4 cluster (Debian's
etcd-server, started by hand on loopback ports, its data in the work
directory, etcd's default request limit: a whole document goes in parts)
and three gtmd nodes on
127.0.0.1, each with the configuration API in fleet mode. The first node's
file bootstraps the fleet. Each change is a PUT of one record through
node 1, 2, 3 in turn that swaps its region order (its answer moves from
one address to the other); it is timed from the start of the call until
all three nodes answer the new address over DNS (each node polled in its
own thread, every millisecond). Rounds are interleaved between this
tree's gtmd and --baseline (another binary, e.g. main before versions
were deltas), a fresh fleet per round and binary; the figures are the
median of the rounds' p50/p99/max with the spread (min-max), and each
node's RSS after the changes and its CPU per change (user + system, all
its threads, the writer's included: the figure the machine's load moves
least).

The first --warmup changes after the fleet starts (3 by default) are
timed apart and not in p50/p99/max, as config_bench.py --suite does: they
pay for what a start leaves to the first changes (each node's first
writes of the whole document, its first copies of the records array and
of the document before anything can be reused), 0.3-0.9 s at 100,000
records on this machine, once per start. Their slowest is printed
("after a start").

  /usr/bin/python3 contrib/bench/config_fleet_bench.py --records 100000 --changes 100 \
      --rounds 3 [--baseline /tmp/base/build/gtmd]

Ports: free loopback ports picked for each fleet. Everything is stopped
by pid at the end.
"""
import argparse
import http.client
import json
import os
import shutil
import signal
import statistics
import subprocess
import sys
import threading
import time

TOP = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, "/usr/lib/python3/dist-packages")
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from config_bench import TOKEN, A1, A2, answer, cpu_s, rss_mb, write_setup  # noqa: E402
from update_bench import free_port  # noqa: E402

DNS_PORTS = []  # each node's, picked per fleet
# Seconds a change may take until every node serves it (--served-limit),
# and the fleet to start (--start-limit): 1,000,000 records take minutes
# to bootstrap into etcd on 2 cores.
LIMITS = {"served": 10.0, "start": 300.0}
ADMIN_PORTS = []
ETCD = shutil.which("etcd") or "/usr/bin/etcd"


def log(msg):
    sys.stderr.write("[config_fleet_bench %s] %s\n" % (time.strftime("%H:%M:%S"), msg))
    sys.stderr.flush()


def rec(regions):
    return {"pool": "web", "policy": "failover", "regions": regions, "ttl": 30}


def write_node(d, i, n, urls):
    """config_bench's setup of n records for node i, with the configuration
    API in fleet mode and the fleet section."""
    os.makedirs(d, exist_ok=True)
    path = write_setup(d, n, DNS_PORTS[i], ADMIN_PORTS[i])
    with open(path) as f:
        conf = json.load(f)
    conf["config_api"] = {"history_dir": "history", "keep": 20, "fleet": True}
    conf["fleet"] = {"etcd": urls, "prefix": "/gtmd/bench/", "node": "n%d" % (i + 1),
                     "stale_after": 10}
    with open(path, "w") as f:
        json.dump(conf, f)
    return path


def api(aport, method, path, body=None, timeout=60):
    c = http.client.HTTPConnection("127.0.0.1", aport, timeout=timeout)
    c.request(method, path, body=json.dumps(body) if body is not None else None,
              headers={"Authorization": "Bearer " + TOKEN, "Content-Type": "application/json"})
    r = c.getresponse()
    data = r.read()
    c.close()
    try:
        return r.status, json.loads(data)
    except ValueError:
        return r.status, data


def wait(fn, timeout, step=0.05):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        v = fn()
        if v:
            return v
        time.sleep(step)
    return None


class Etcd:
    def __init__(self, d):
        self.d = d
        self.procs = []
        self.client = [free_port() for _ in range(3)]
        self.peer = [free_port() for _ in range(3)]
        self.urls = ["http://127.0.0.1:%d" % p for p in self.client]
        self.cluster = ",".join("e%d=http://127.0.0.1:%d" % (k, self.peer[k]) for k in range(3))

    def start(self):
        for k in range(3):
            with open(os.path.join(self.d, "e%d.log" % k), "ab") as lg:
                self.procs.append(subprocess.Popen(
                    [ETCD, "--name", "e%d" % k, "--data-dir", os.path.join(self.d, "e%d" % k),
                     "--listen-client-urls", self.urls[k], "--advertise-client-urls", self.urls[k],
                     "--listen-peer-urls", "http://127.0.0.1:%d" % self.peer[k],
                     "--initial-advertise-peer-urls", "http://127.0.0.1:%d" % self.peer[k],
                     "--initial-cluster", self.cluster, "--initial-cluster-state", "new",
                     "--quota-backend-bytes", str(8 << 30), "--log-level", "error"],
                    stdout=lg, stderr=lg, stdin=subprocess.DEVNULL))

        def healthy():
            try:
                c = http.client.HTTPConnection("127.0.0.1", self.client[0], timeout=1)
                c.request("GET", "/health")
                ok = b'"true"' in c.getresponse().read()
                c.close()
                return ok
            except OSError:
                return False
        if not wait(healthy, 30):
            raise RuntimeError("etcd did not become healthy")

    def stop(self):
        for p in self.procs:
            p.terminate()
        for p in self.procs:
            try:
                p.wait(timeout=10)
            except subprocess.TimeoutExpired:
                p.kill()


def start_fleet(binary, d, n, etcd, procs):
    """Starts etcd (the caller's, not started yet) and the three nodes;
    procs (the caller's) gets each node as it starts, so that a failed
    start can be stopped."""
    shutil.rmtree(d, ignore_errors=True)
    os.makedirs(d)
    etcd.start()
    DNS_PORTS[:] = [free_port() for _ in range(3)]
    ADMIN_PORTS[:] = [free_port() for _ in range(3)]
    for i in range(3):
        nd = os.path.join(d, "n%d" % (i + 1))
        path = write_node(nd, i, n, etcd.urls)
        lg = open(os.path.join(nd, "gtmd.log"), "wb")
        procs.append(subprocess.Popen([binary, "-c", path], cwd=nd, stdout=lg, stderr=lg,
                                      stdin=subprocess.DEVNULL))
        if i == 0:  # the first node's file bootstraps the fleet
            if not wait(lambda: version(0) > 0, LIMITS["start"], 0.2):
                raise RuntimeError("node 1 did not bootstrap the fleet")
    if not wait(lambda: all(fleet_synced(i) for i in range(3)), LIMITS["start"], 0.2):
        raise RuntimeError("the nodes did not sync with etcd")
    v = version(0)
    if not wait(lambda: all(version(i) == v for i in range(3)), LIMITS["start"], 0.2):
        raise RuntimeError("the nodes did not reach version %d: %s" %
                           (v, [version(i) for i in range(3)]))
    return etcd, procs


def version(i):
    """The configuration version node i serves (-1: no answer). Read with
    the regions, not the whole document: at 1,000,000 records that is
    100 MB of JSON per look."""
    try:
        st, body = api(ADMIN_PORTS[i], "GET", "/v1/config/regions", timeout=30)
    except OSError:
        return -1
    return body.get("version", -1) if st == 200 and isinstance(body, dict) else -1


def fleet_synced(i):
    try:
        # The fleet's section only: the whole status of 1,000,000 names is
        # some 217 MB, and building it every 0.2 s loaded the nodes.
        st, body = api(ADMIN_PORTS[i], "GET", "/v1/status?sections=fleet", timeout=30)
    except (OSError, http.client.HTTPException):
        return False
    return st == 200 and (body.get("fleet") or {}).get("connection") == "synced"


def stop_fleet(etcd, procs):
    for p in procs:
        p.send_signal(signal.SIGTERM)
    for p in procs:
        try:
            p.wait(timeout=20)
        except subprocess.TimeoutExpired:
            p.kill()
    etcd.stop()


def one_change(k, name, regions, want):
    """Seconds from the PUT through node k until all three serve want."""
    done = [None] * 3
    t0 = time.monotonic()

    def poll(i):
        end = t0 + LIMITS["served"]
        while time.monotonic() < end:
            if answer(DNS_PORTS[i], name) == [want]:
                done[i] = time.monotonic() - t0
                return
            time.sleep(0.001)
    ts = [threading.Thread(target=poll, args=(i,)) for i in range(3)]
    for t in ts:
        t.start()
    st, body = api(ADMIN_PORTS[k], "PUT", "/v1/config/records/" + name, rec(regions))
    for t in ts:
        t.join()
    if st != 201:
        raise RuntimeError("PUT through node %d: %s %s" % (k + 1, st, body))
    if None in done:
        raise RuntimeError("%s not served by every node: %s" % (name, done))
    return max(done)


def run_round(binary, d, n, changes, warmup):
    t_start = time.monotonic()
    etcd, procs = Etcd(d), []
    try:
        start_fleet(binary, d, n, etcd, procs)
    except BaseException:
        # A fleet that did not start is stopped too (whatever stopped it,
        # a reply cut short or ^C): at 1,000,000 records its three gtmd and
        # etcd left running held 3 GB and two cores.
        stop_fleet(etcd, procs)
        raise
    log("  the fleet started and synced in %.1f s" % (time.monotonic() - t_start))
    try:
        lat, first = [], []
        cpu0 = [cpu_s(p.pid) for p in procs]
        for c in range(warmup + changes):
            if c == warmup:
                cpu0 = [cpu_s(p.pid) for p in procs]
            name = "r%d.bench.test." % ((c * 7919) % n)
            now = wait(lambda: answer(DNS_PORTS[0], name), 10.0, 0.1)
            if now not in ([A1], [A2]):
                raise RuntimeError("node 1 answers %s for %s" % (now, name))
            want_b = now == [A1]
            (lat if c >= warmup else first).append(
                one_change(c % 3, name, ["b", "a"] if want_b else ["a", "b"],
                           A2 if want_b else A1))
        series = list(lat)
        lat.sort()
        rss = [rss_mb(p.pid) for p in procs]
        # CPU per change per node: what the load of the machine does not
        # change (the wall times above move with it), the writer's work
        # behind the answers included.
        cpu = [(cpu_s(p.pid) - c0) / changes for p, c0 in zip(procs, cpu0)]
        return {"p50": lat[len(lat) // 2], "p99": lat[min(len(lat) - 1, int(len(lat) * 0.99))],
                "max": lat[-1], "rss": rss, "cpu": cpu, "series": series,
                "first": first, "first_max": max(first) if first else 0.0}
    finally:
        stop_fleet(etcd, procs)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--gtmd", default=os.path.join(TOP, "build", "gtmd"))
    ap.add_argument("--baseline", help="another gtmd binary, measured in the same rounds")
    ap.add_argument("--records", type=int, default=100000)
    ap.add_argument("--changes", type=int, default=100)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--workdir", default="/tmp/gtmconfigfleetbench")
    ap.add_argument("--warmup", type=int, default=3,
                    help="changes after the start timed apart (not in p50/p99/max)")
    ap.add_argument("--series", action="store_true",
                    help="also print each change's milliseconds, in order")
    ap.add_argument("--served-limit", type=float, default=10.0,
                    help="seconds a change may take until all 3 serve it (60 at 1,000,000)")
    ap.add_argument("--start-limit", type=float, default=300.0,
                    help="seconds the fleet may take to start and sync (900 at 1,000,000)")
    a = ap.parse_args()
    LIMITS.update(served=a.served_limit, start=a.start_limit)
    servers = [("gtmd", a.gtmd)] + ([("baseline", a.baseline)] if a.baseline else [])
    res = {s: [] for s, _ in servers}
    for r in range(a.rounds):
        for s, b in servers:
            log("round %d: %s, %d records, %d changes (load average %.1f)" %
                (r + 1, s, a.records, a.changes, os.getloadavg()[0]))
            try:
                x = run_round(b, a.workdir, a.records, a.changes, a.warmup)
            except RuntimeError as e:
                log("%s failed: %s" % (s, e))
                continue
            log("  p50 %.1f ms, p99 %.1f ms, max %.1f ms, RSS %s MB, CPU per change %s ms" %
                (x["p50"] * 1e3, x["p99"] * 1e3, x["max"] * 1e3,
                 ", ".join("%.0f" % m for m in x["rss"]),
                 ", ".join("%.0f" % (c * 1e3) for c in x["cpu"])))
            if a.series:
                log("  series (ms, in order): %s" % " ".join("%.0f" % (t * 1e3)
                                                              for t in x["series"]))
            if x["first"]:
                log("  the first %d after the start (ms): %s" %
                    (len(x["first"]), " ".join("%.0f" % (t * 1e3) for t in x["first"])))
            res[s].append(x)
    print("change through any node -> served on all 3 nodes, %d records, %d changes per round, "
          "median of %d rounds [min-max]:" % (a.records, a.changes, a.rounds))
    for s, _ in servers:
        xs = res[s]
        if not xs:
            print("  %-9s no round completed" % s)
            continue

        def fig(k, xs=xs):
            v = [x[k] * 1e3 for x in xs]
            return "%.1f ms [%.1f-%.1f]" % (statistics.median(v), min(v), max(v))
        rss = [max(x["rss"]) for x in xs]
        cpu = [sum(x["cpu"]) / len(x["cpu"]) * 1e3 for x in xs]
        print("  %-9s p50 %s  p99 %s  max %s  RSS per node (largest) %.0f MB [%.0f-%.0f]  "
              "CPU per change per node %.0f ms [%.0f-%.0f]  after a start (slowest of the "
              "first %d) %s  (%d rounds)" %
              (s, fig("p50"), fig("p99"), fig("max"), statistics.median(rss), min(rss), max(rss),
               statistics.median(cpu), min(cpu), max(cpu), a.warmup, fig("first_max"), len(xs)))


if __name__ == "__main__":
    main()

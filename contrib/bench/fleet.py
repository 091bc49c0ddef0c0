#!/usr/bin/python3
"""Figures of the prober fleet (doc/fleet.md), on this machine's loopback:
a real 3-member etcd cluster (Debian's etcd-server) and three gtmd nodes
with their own probe_source, as in tests/integration/test_fleet.py.

  kill-to-flip       a backend dies; seconds until every node answers with
                     the other region (interval 0.25 s, fall 2), per round
  override-to-served POST /v1/overrides on node 1; seconds until node 3
                     serves the change (median, p99 over --overrides)
  write rate         --endpoints endpoints probed by each of the 3 nodes
                     every second (tcp check): etcd writes per second when
                     nothing changes, and what a change of every endpoint
                     costs (raft proposals, keys, time)

This is a benchmark, never a test: it prints what it measured and asserts
nothing. Every loop is bounded. Usage:
  GTMD=build/gtmd /usr/bin/python3 contrib/bench/fleet.py [--flips 10]
      [--overrides 100] [--endpoints 10000] [--steady 30] [--skip-scale]
"""
import argparse
import json
import os
import re
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "..", "tests", "integration"))

from backends import fast_query, free_port_on, poll  # noqa: E402
from fleetlib import Backend, EtcdCluster, http_json, need_etcd, start_node  # noqa: E402

US, EU = ["127.0.0.31"], ["127.0.0.32"]


def answer(n):
    r = fast_query(n.addr, n.port, "app.example.com.", timeout=0.2)
    return None if r is None else sorted(rd.to_text() for rr in r.answer for rd in rr)


def pct(xs, p):
    xs = sorted(xs)
    return xs[min(len(xs) - 1, max(0, int(round(p / 100.0 * len(xs) + 0.5)) - 1))]


def wait_all(nodes, want, timeout):
    ok, t = poll(lambda: all(answer(n) == want for n in nodes), timeout, 0.01)
    if not ok:
        raise RuntimeError("nodes did not converge on %s" % want)
    return t


def kill_to_flip(nodes, be, rounds):
    out = []
    for _ in range(rounds):
        wait_all(nodes, US, 15)
        time.sleep(0.3)
        t0 = time.monotonic()
        be["us"].stop()
        seen = {}
        deadline = t0 + 10
        while len(seen) < len(nodes) and time.monotonic() < deadline:
            for i, n in enumerate(nodes):
                if i not in seen and answer(n) == EU:
                    seen[i] = time.monotonic() - t0
            time.sleep(0.005)
        out.append([seen.get(i) for i in range(len(nodes))])
        be["us"].start()
    return out


def override_to_served(n1, n3, count):
    lat, post = [], []
    for i in range(count):
        wait_all([n3], US, 10)
        t0 = time.monotonic()
        st, o = n1.post("/v1/overrides", {"target": "region:us", "state": "down",
                                          "reason": "bench %d" % i})
        t1 = time.monotonic()
        if st != 201:
            raise RuntimeError("override failed: %s %s" % (st, o))
        ok, _ = poll(lambda: answer(n3) == EU, 5, 0.001)
        if not ok:
            raise RuntimeError("node 3 never served override %s" % o["id"])
        lat.append(time.monotonic() - t0)
        post.append(t1 - t0)
        st, _ = n1.delete("/v1/overrides/" + o["id"])
    return lat, post


def etcd_metric(cluster, name):
    for m in cluster.members:
        try:
            with urllib.request.urlopen(m.url + "/metrics", timeout=2) as r:
                for line in r.read().decode().splitlines():
                    if line.startswith(name + " "):
                        return float(line.split()[1])
        except OSError:
            continue
    return None


def cpu_seconds(pid):
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def scale_config(n_endpoints, port):
    def mutate(c):
        c["checks"] = {"tcp": {"type": "tcp", "port": port, "interval": 1.0, "timeout": 0.5,
                               "rise": 2, "fall": 2}}
        eps = [{"name": "e%05d" % i, "address": "127.0.0.1", "region": "us" if i % 2 else "eu"}
               for i in range(n_endpoints)]
        c["pools"] = {"web": {"check": "tcp", "endpoints": eps}}
        c["records"] = {"app.example.com.": {"pool": "web", "ttl": 10, "policy": "failover",
                                             "regions": ["us", "eu"], "answers": 2}}
    return mutate


class Acceptor:
    """contrib/bench/accept_sink.c on 127.0.0.1:port: accepts and closes
    every connection (a tcp check passes at connect), in C, so 30,000
    connections a second are not the backend's problem."""

    def __init__(self, port):
        exe = os.path.join(tempfile.gettempdir(), "gtmd-fleet-accept-sink")
        subprocess.run(["cc", "-O2", "-o", exe, os.path.join(HERE, "accept_sink.c")],
                       check=True, timeout=120)
        self.proc = subprocess.Popen([exe, "-s", "600", str(port), "127.0.0.1"],
                                     stdout=subprocess.PIPE, stdin=subprocess.DEVNULL)
        line = self.proc.stdout.readline()
        if b"ready" not in line:
            raise RuntimeError("accept_sink did not start")
        threading.Thread(target=self.drain, daemon=True).start()

    def drain(self):
        for _ in self.proc.stdout:
            pass

    def close(self):
        self.proc.terminate()
        self.proc.wait(timeout=10)


def until_quiet(cluster, k0, quiet=3.0, limit=180):
    """Seconds from now until the last burst of key puts: once etcd's put
    counter moved by more than 100, the first moment after which it grows
    by at most 2 per 0.25 s (the node keys' own refresh) for quiet seconds.
    Bounded by limit; None when it never calms down."""
    t0 = time.monotonic()
    prev, last_t = k0, t0
    while time.monotonic() - t0 < limit:
        time.sleep(0.25)
        k = etcd_metric(cluster, "etcd_mvcc_put_total")
        now = time.monotonic()
        if k - prev > 2:
            last_t = now
        prev = k
        if k - k0 > 100 and now - last_t >= quiet:
            return round(last_t - t0, 2)
    return None


def log_spread(log, since):
    """Seconds after since of the first and last health_change to down and
    fleet_verdict to down in a node's log."""
    out = {}
    for kind, pat in (("probe", "event=health_change .* to=down"),
                      ("verdict", "event=fleet_verdict .* to=down")):
        ts = []
        for line in log.splitlines():
            if re.search(pat, line):
                t = time.mktime(time.strptime(line[:19], "%Y-%m-%dT%H:%M:%S")) - time.timezone
                t += float(line[19:23]) if line[19] == "." else 0
                if t >= since - 0.5:
                    ts.append(t - since)
        out[kind] = [round(min(ts), 2), round(max(ts), 2), len(ts)] if ts else None
    return out


def metric(n, name):
    return n.metric(name) or 0.0


def write_rate(n_endpoints, steady_s, made):
    cluster = EtcdCluster(3).start()
    try:
        port = free_port_on(["127.0.0.1"])
        nodes = []
        for i in (1, 2, 3):
            g = start_node(made, cluster.urls, i, port, start=False, stale_after=10)
            scale_config(n_endpoints, port)(g.config)
            g.start()
            nodes.append(g)
        # Everything starts down (connection refused); wait until the first
        # publication is done: keys written stop growing.
        def settled():
            a = [metric(n, "gtmd_fleet_etcd_keys_written_total") for n in nodes]
            time.sleep(1.5)
            b = [metric(n, "gtmd_fleet_etcd_keys_written_total") for n in nodes]
            return a == b and min(b) >= n_endpoints
        if not poll(settled, 120, 0.1)[0]:
            raise RuntimeError("first publication did not settle")
        res = {"endpoints": n_endpoints, "nodes": 3}
        p0 = etcd_metric(cluster, "etcd_server_proposals_committed_total")
        k0 = etcd_metric(cluster, "etcd_mvcc_put_total")
        c0 = [cpu_seconds(n.proc.pid) for n in nodes]
        w0 = sum(metric(n, "gtmd_fleet_etcd_writes_total") for n in nodes)
        t0 = time.monotonic()
        time.sleep(steady_s)
        dt = time.monotonic() - t0
        res["steady_s"] = round(dt, 1)
        res["steady_proposals_per_s"] = (etcd_metric(
            cluster, "etcd_server_proposals_committed_total") - p0) / dt
        res["steady_keys_put_per_s"] = (etcd_metric(cluster, "etcd_mvcc_put_total") - k0) / dt
        res["steady_gtmd_writes_per_s"] = (sum(metric(n, "gtmd_fleet_etcd_writes_total")
                                               for n in nodes) - w0) / dt
        res["gtmd_cpu_percent_per_node"] = [round(100 * (cpu_seconds(n.proc.pid) - c) / dt, 1)
                                            for n, c in zip(nodes, c0)]
        # Every endpoint comes up on every node: 3 x n changes.
        p0 = etcd_metric(cluster, "etcd_server_proposals_committed_total")
        k0 = etcd_metric(cluster, "etcd_mvcc_put_total")
        acc = Acceptor(port)
        res["flip_all_up_s"] = until_quiet(cluster, k0)
        res["flip_proposals"] = etcd_metric(cluster, "etcd_server_proposals_committed_total") - p0
        res["flip_keys_put"] = etcd_metric(cluster, "etcd_mvcc_put_total") - k0
        # Every endpoint goes down on every node: the kernel refuses the
        # connections, so this measures gtmd and etcd, not a backend.
        acc.close()
        p0 = etcd_metric(cluster, "etcd_server_proposals_committed_total")
        k0 = etcd_metric(cluster, "etcd_mvcc_put_total")
        t_close = time.time()
        res["flip_all_down_s"] = until_quiet(cluster, k0)
        res["flip_down_node1_log"] = log_spread(nodes[0].read_log(), t_close)
        res["etcd_wal_fsync_avg_ms"] = 1000 * etcd_metric(
            cluster, "etcd_disk_wal_fsync_duration_seconds_sum") / max(1, etcd_metric(
                cluster, "etcd_disk_wal_fsync_duration_seconds_count"))
        res["flip_down_proposals"] = etcd_metric(cluster,
                                                 "etcd_server_proposals_committed_total") - p0
        res["flip_down_keys_put"] = etcd_metric(cluster, "etcd_mvcc_put_total") - k0
        res["etcd_db_bytes"] = etcd_metric(cluster, "etcd_mvcc_db_total_size_in_bytes")
        res["etcd_keys"] = etcd_metric(cluster, "etcd_debugging_mvcc_keys_total")
        st, status = nodes[0].get("/v1/status")
        res["probes_per_s_node1"] = None
        log = nodes[0].read_log()
        m = re.findall(r"event=prober_stats probes=\d+ rate_per_s=([\d.]+)", log)
        if m:
            res["probes_per_s_node1"] = float(m[-1])
        for n in nodes:
            n.stop()
        return res
    finally:
        cluster.stop()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--flips", type=int, default=10)
    ap.add_argument("--overrides", type=int, default=100)
    ap.add_argument("--endpoints", type=int, default=10000)
    ap.add_argument("--steady", type=float, default=30)
    ap.add_argument("--skip-scale", action="store_true")
    ap.add_argument("--only-scale", action="store_true")
    ap.add_argument("--json", help="also write the results here")
    a = ap.parse_args()
    why = need_etcd()
    if why:
        sys.exit(why)
    made = []
    out = {}
    if a.only_scale:
        out["write_rate"] = write_rate(a.endpoints, a.steady, made)
        print("write rate:", json.dumps(out["write_rate"]), flush=True)
        return
    cluster = EtcdCluster(3).start()
    port = free_port_on(["127.0.0.31", "127.0.0.32"])
    be = {"us": Backend("127.0.0.31", port).start(), "eu": Backend("127.0.0.32", port).start()}
    try:
        # fall 2, as the figures in doc/fleet.md (the tests use fall 3)
        nodes = [start_node(made, cluster.urls, i, port, stale_after=10, fall=2)
                 for i in (1, 2, 3)]
        wait_all(nodes, US, 15)
        flips = kill_to_flip(nodes, be, a.flips)
        alln = [max(r) for r in flips if None not in r]
        out["kill_to_flip"] = {
            "rounds": len(flips), "per_round_all_nodes_s": [round(x, 3) for x in alln],
            "median_s": round(statistics.median(alln), 3), "max_s": round(max(alln), 3),
            "per_node_median_s": [round(statistics.median([r[i] for r in flips]), 3)
                                  for i in range(3)]}
        print("kill-to-flip:", json.dumps(out["kill_to_flip"]), flush=True)
        lat, post = override_to_served(nodes[0], nodes[2], a.overrides)
        out["override_to_served"] = {
            "count": len(lat), "median_s": round(statistics.median(lat), 4),
            "p99_s": round(pct(lat, 99), 4), "max_s": round(max(lat), 4),
            "post_median_s": round(statistics.median(post), 4),
            "post_p99_s": round(pct(post, 99), 4)}
        print("override-to-served:", json.dumps(out["override_to_served"]), flush=True)
        for n in nodes:
            n.stop()
    finally:
        be["us"].stop()
        be["eu"].stop()
        cluster.stop()
    if not a.skip_scale:
        out["write_rate"] = write_rate(a.endpoints, a.steady, made)
        print("write rate:", json.dumps(out["write_rate"]), flush=True)
    for n in made:
        if n.proc and n.proc.poll() is None:
            n.stop()
    if a.json:
        with open(a.json, "w") as f:
            json.dump(out, f, indent=1)


if __name__ == "__main__":
    main()

"""A fleet at a scale CI can run (issue #39; contrib/bench/fleet_scale.py
is the full-size benchmark): a 1-member etcd, 6 gtmd nodes of which 2
publish (the others are watchers, "publish": false), 1,000 endpoints in
4 regions and 10 pools, all tcp backends in this process (one listening
socket per loopback address 127.(10+r).x.y), 40 policy names.

Checks: with nothing changing, no report key is written and etcd's
writes are the publishers' heartbeats and the node records only; a
region killed at once is served elsewhere by every node, the watchers
included, with a number of etcd transactions bounded by nodes and ticks
(not endpoints) and fewer keys than endpoints; watchers probe nothing and
write no report; a node that starts afterwards reads etcd in pages
(read_page 10) and serves the same; the key layout falls back to one key
per endpoint while a live node announces layout 2, and comes back."""
import base64
import json
import os
import resource
import select
import shutil
import socket
import tempfile
import threading
import time

import pytest

from backends import free_port_on, poll, query_addrs
from conftest import free_port
from fleetlib import EtcdCluster, Node, fleet_config, http_json, need_etcd

pytestmark = pytest.mark.skipif(need_etcd() is not None, reason=need_etcd() or "")

REGIONS, PER_REGION, POOLS, NAMES = 4, 250, 10, 40
PUBLISHERS, WATCHERS = 2, 4
PREFIX = "/gtmd/scale/"
PER_POOL = PER_REGION // POOLS  # per region and pool


def addr(r, i):
    return "127.%d.%d.%d" % (10 + r, i // 250, 1 + i % 250)


class Backends:
    """REGIONS x PER_REGION tcp listeners accepting and closing every
    connection on one thread; down(r)/up(r) close and reopen a region."""

    def __init__(self, port):
        self.port = port
        self.socks = {}
        self.lock = threading.Lock()
        self.stop_flag = threading.Event()
        for r in range(REGIONS):
            self.up(r)
        self.thread = threading.Thread(target=self.run, daemon=True)
        self.thread.start()

    def up(self, r):
        with self.lock:
            for i in range(PER_REGION):
                if (r, i) not in self.socks:
                    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
                    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
                    s.bind((addr(r, i), self.port))
                    s.listen(256)
                    s.setblocking(False)
                    self.socks[(r, i)] = s

    def down(self, r):
        with self.lock:
            for i in range(PER_REGION):
                s = self.socks.pop((r, i), None)
                if s:
                    s.close()

    def run(self):
        ep = select.epoll()
        watched = {}
        try:
            while not self.stop_flag.is_set():  # bounded by stop()
                with self.lock:
                    now = {s.fileno(): s for s in self.socks.values()}
                for fd in list(watched):
                    if fd not in now or watched[fd] is not now[fd]:
                        try:
                            ep.unregister(fd)
                        except OSError:
                            pass
                        del watched[fd]
                for fd, s in now.items():
                    if fd not in watched:
                        ep.register(fd, select.EPOLLIN)
                        watched[fd] = s
                for fd, _ in ep.poll(0.05):
                    s = watched.get(fd)
                    for _ in range(16):
                        try:
                            c, _ = s.accept()
                            c.close()
                        except (BlockingIOError, OSError):
                            break
        finally:
            ep.close()

    def stop(self):
        self.stop_flag.set()
        self.thread.join(timeout=5)
        for r in range(REGIONS):
            self.down(r)


def node_config(urls, i, port, publishing, **extra):
    fn = fleet_config(urls, "n%d" % i, "127.0.0.%d" % (20 + i), port, prefix=PREFIX,
                      stale_after=4, publish=publishing, **extra)

    def make(workdir, dns_port):
        c = fn(workdir, dns_port)
        regions = ["r%d" % r for r in range(REGIONS)]
        c["regions"] = {r: {} for r in regions}
        c["checks"] = {"tcp": {"type": "tcp", "port": port, "interval": 1.0, "timeout": 0.5,
                               "rise": 2, "fall": 2}}
        c["pools"] = {"p%d" % p: {"check": "tcp", "endpoints": [
            {"name": "r%de%03d" % (r, p * PER_POOL + k), "address": addr(r, p * PER_POOL + k),
             "region": "r%d" % r} for r in range(REGIONS) for k in range(PER_POOL)]}
            for p in range(POOLS)}
        c["records"] = {"n%02d.example.com." % k: {
            "pool": "p%d" % (k % POOLS), "ttl": 10, "policy": "failover",
            "regions": regions[k % REGIONS:] + regions[:k % REGIONS]} for k in range(NAMES)}
        return c
    return make


def start(made, urls, i, port, publishing, **extra):
    workdir = tempfile.mkdtemp(prefix="gtmd-scale-")
    dns_port = free_port()
    g = Node(workdir, node_config(urls, i, port, publishing, **extra)(workdir, dns_port),
             dns_port)
    made.append(g)
    g.start()
    return g


def etcd_metric(cluster, name):
    st, body = 0, None
    for url in cluster.urls:
        try:
            import urllib.request
            with urllib.request.urlopen(url + "/metrics", timeout=3) as r:
                for line in r.read().decode().splitlines():
                    if line.startswith(name + " "):
                        return float(line.split()[1])
        except OSError:
            continue
    return None


def reports(cluster):
    """{key: (mod_revision, value)} of every key under PREFIX/reports/."""
    k = base64.b64encode((PREFIX + "reports/").encode()).decode()
    e = base64.b64encode((PREFIX + "reports0").encode()).decode()
    st, body = http_json(cluster.urls[0] + "/v3/kv/range", {"key": k, "range_end": e},
                         timeout=5)
    assert st == 200, body
    return {base64.b64decode(kv["key"]).decode()[len(PREFIX):]:
            (int(kv["mod_revision"]), base64.b64decode(kv["value"]).decode())
            for kv in body.get("kvs", [])}


def in_region(addrs, r):
    return bool(addrs) and all(a.startswith("127.%d." % (10 + r)) for a in addrs)


def first_region_names(r):
    return ["n%02d.example.com." % k for k in range(r, NAMES, REGIONS)]


def all_answer(nodes, names, ok):
    return all(ok(query_addrs(n, name)) for n in nodes for name in names)


@pytest.fixture
def fleet():
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard != resource.RLIM_INFINITY and hard < REGIONS * PER_REGION + 2000:
        pytest.skip("the descriptor limit (%d) is below what the test needs" % hard)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    cluster = EtcdCluster(1).start()
    port = free_port_on(["127.10.0.1"])
    be = Backends(port)
    made = []
    try:
        nodes = [start(made, cluster.urls, i, port, i <= PUBLISHERS)
                 for i in range(1, PUBLISHERS + WATCHERS + 1)]
        for r in range(REGIONS):
            ok, _ = poll(lambda: all_answer(nodes, first_region_names(r)[:3],
                                            lambda a: in_region(a, r)), 30, 0.2)
            assert ok, [n.read_log()[-2000:] for n in nodes[:1]]
        yield cluster, be, nodes, made, port
    finally:
        errors = []
        for g in made:
            try:
                g.stop()
            except AssertionError as e:
                errors.append(str(e))
            shutil.rmtree(g.workdir, ignore_errors=True)
        be.stop()
        cluster.stop()
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))
        if errors:
            pytest.fail("\n".join(errors), pytrace=False)


def test_fleet_at_scale(fleet):
    cluster, be, nodes, made, port = fleet
    pubs, watchers = nodes[:PUBLISHERS], nodes[PUBLISHERS:]
    # Every publisher's observations are in one key per pool (layout 3);
    # the watchers write none.
    ok, _ = poll(lambda: sorted(reports(cluster)) == sorted(
        "reports/n%d/p%d" % (i, p) for i in range(1, PUBLISHERS + 1) for p in range(POOLS)),
        10, 0.2)
    assert ok, sorted(reports(cluster))[:20]
    for w in watchers:
        f = w.fleet()
        assert f["publish"] is False and f["layout_written"] == 3, f
        ep = w.endpoint("r0e000")
        assert ep["state"]["probe"] == "unknown", ep  # a watcher probes nothing
    assert all(x["publish"] == (x["name"] in ("n1", "n2")) for x in nodes[0].fleet()["nodes"])

    # Steady state: no report written, and etcd's writes are the
    # publishers' heartbeats (2 a second each) and every node's record
    # (every stale_after / 2 = 2 s): nothing per endpoint or probe.
    time.sleep(2)
    r0, p0, t0 = reports(cluster), etcd_metric(cluster, "etcd_mvcc_put_total"), time.monotonic()
    w0 = [w.metric("gtmd_fleet_etcd_writes_total") for w in watchers]
    time.sleep(6)
    r1, p1, dt = reports(cluster), etcd_metric(cluster, "etcd_mvcc_put_total"), \
        time.monotonic() - t0
    w1 = [w.metric("gtmd_fleet_etcd_writes_total") for w in watchers]
    assert r1 == r0  # not one report rewritten
    bound = (PUBLISHERS * 2 + len(nodes) / 2.0) * 1.5 + 1
    assert (p1 - p0) / dt <= bound, ((p1 - p0) / dt, bound)
    # A watcher's writes: its node record only (no heartbeat write).
    assert all(b - a <= dt / 2 + 2 for a, b in zip(w0, w1)), (w0, w1)

    # A region killed at once: every node, watchers included, serves its
    # names elsewhere; etcd's transactions are bounded by nodes x ticks.
    names = first_region_names(0)
    k0 = [p.metric("gtmd_fleet_etcd_keys_written_total") for p in pubs]
    x0 = etcd_metric(cluster, "etcd_mvcc_txn_total")
    t0 = time.monotonic()
    be.down(0)
    ok, _ = poll(lambda: all_answer(nodes, names, lambda a: bool(a) and not any(
        x.startswith("127.10.") for x in a)), 20, 0.05)
    elapsed = time.monotonic() - t0
    assert ok, [(n.config["fleet"]["node"], query_addrs(n, names[0])) for n in nodes]
    time.sleep(1.5)  # the last publications
    elapsed_all = time.monotonic() - t0
    txns = etcd_metric(cluster, "etcd_mvcc_txn_total") - x0
    keys = [p.metric("gtmd_fleet_etcd_keys_written_total") - k for p, k in zip(pubs, k0)]
    ticks = elapsed_all / 0.25 + 2
    bound = PUBLISHERS * ticks + len(nodes) * (elapsed_all / 2.0 + 2)
    print("MEASURE region kill: served elsewhere on %d nodes after %.2f s; etcd txns %d "
          "(bound %d); keys written per publisher %s for %d endpoints" %
          (len(nodes), elapsed, txns, bound, keys, PER_REGION))
    assert txns <= bound, (txns, bound)
    # A key per pool and round, not per endpoint: fewer keys than the
    # region's endpoints (250), whatever the spread of the probes.
    assert all(k < PER_REGION for k in keys), keys

    # A node that starts now reads everything in pages of 10 keys and
    # serves the same answers.
    late = start(made, cluster.urls, 9, port, False, read_page=10)
    ok, _ = poll(lambda: all_answer([late], names, lambda a: bool(a) and not any(
        x.startswith("127.10.") for x in a)), 10, 0.1)
    assert ok, late.read_log()[-3000:]
    pages = late.fleet()["read_pages"]
    assert pages >= len(reports(cluster)) // 10, pages
    for name in first_region_names(1)[:3]:
        assert in_region(query_addrs(late, name), 1)

    # The region back: every node serves it again.
    be.up(0)
    ok, _ = poll(lambda: all_answer(nodes + [late], names, lambda a: in_region(a, 0)), 20, 0.05)
    assert ok


def test_layout_falls_back_while_an_older_node_is_live(fleet):
    """A node record of the release before (layout 2, no "formats": record
    format 2): the fleet's write format drops to 2 and with it the key
    layout (one gate, fleet_compat.h): the publishers write one key per
    endpoint again, and delete their pool keys once those are written. The
    node upgraded (its record announces formats [2, 3]) and then gone: back
    to one key per pool. Answers stay right throughout."""
    cluster, be, nodes, made, port = fleet
    url = cluster.urls[0]
    st, body = http_json(url + "/v3/lease/grant", {"TTL": 60}, timeout=3)
    assert st == 200, body
    lease = body["ID"]
    rec = json.dumps({"version": "old", "config_hash": "x", "last_seen": time.time(),
                      "node": "old", "layout": 2})
    k = base64.b64encode((PREFIX + "nodes/old").encode()).decode()
    st, _ = http_json(url + "/v3/kv/put", {"key": k, "value": base64.b64encode(
        rec.encode()).decode(), "lease": lease}, timeout=3)
    assert st == 200
    # Its configuration hash is of the form before "2:" (a whole-document
    # SHA-256): it cannot be compared with this release's sum of parts, so
    # it is neither a match nor a mismatch while the fleet is upgraded.
    old, _ = poll(lambda: next((x for x in nodes[0].fleet()["nodes"] if x["name"] == "old"),
                               None), 10)
    assert old and old["config_matches"] is None, old
    st_f = nodes[0].fleet()
    assert st_f["config_mismatch"] is False, st_f
    assert all(x["config_hash"].startswith("2:") and x["config_matches"]
               for x in st_f["nodes"] if x["name"] != "old"), st_f

    def layout(n):
        keys = reports(cluster)
        per_ep = [x for x in keys if x.startswith("reports/n%d/" % n) and x.count("/") == 3]
        pools = [x for x in keys if x.startswith("reports/n%d/" % n) and x.count("/") == 2]
        return len(per_ep), len(pools)

    total = REGIONS * PER_REGION
    ok, _ = poll(lambda: all(layout(i) == (total, 0) for i in range(1, PUBLISHERS + 1)), 30, 0.5)
    assert ok, [layout(i) for i in range(1, PUBLISHERS + 1)]
    assert nodes[0].fleet()["layout_written"] == 2
    for r in range(REGIONS):
        assert all_answer(nodes, first_region_names(r)[:2], lambda a: in_region(a, r))
    # Its format is remembered after it goes (a node of the release before
    # stopped for a moment must not move the fleet on): it comes back
    # upgraded first, as in a rolling upgrade.
    rec = json.dumps({"version": "new", "config_hash": "x", "last_seen": time.time(),
                      "node": "old", "layout": 3, "format": 3, "formats": [2, 3]})
    st, _ = http_json(url + "/v3/kv/put", {"key": k, "value": base64.b64encode(
        rec.encode()).decode(), "lease": lease}, timeout=3)
    assert st == 200
    st, _ = http_json(url + "/v3/lease/revoke", {"ID": lease}, timeout=3)
    assert st == 200
    ok, _ = poll(lambda: all(layout(i) == (0, POOLS) for i in range(1, PUBLISHERS + 1)), 30, 0.5)
    assert ok, [layout(i) for i in range(1, PUBLISHERS + 1)]
    for r in range(REGIONS):
        assert all_answer(nodes, first_region_names(r)[:2], lambda a: in_region(a, r))

"""One configuration for the fleet ("config_api": {"fleet": true};
doc/fleet.md, "One configuration for the fleet") on a real 3-member etcd
cluster with three gtmd nodes: the first node's file bootstraps the fleet,
a change through any node's API is served by every node within 1 s (p99
over 100 changes) and survives a restart of all nodes; concurrent writers
(412 with If-Match, carried over without); a hand edit on top of the
fleet's version becomes its next version; a file edited while the fleet
moved on is replaced (kept as .rejected); a node that cannot apply a
version keeps its last good one and says why. Every wait is a bounded
poll."""
import json
import os
import queue
import signal
import socket
import threading
import time
from urllib.parse import urlparse

from backends import poll
from fleetlib import (EtcdCluster, be, cluster, http_json, made,  # noqa: F401
                      need_etcd, start_node)  # be, cluster, made: fixtures


def fleet_nodes(cluster, be, made, n=3):
    nodes = [start_node(made, cluster.urls, i, be["port"], start=False) for i in range(1, n + 1)]
    for node in nodes:
        node.config["config_api"] = {"history_dir": "history", "fleet": True}
        node.start()
    return nodes


def version(n):
    st, body = n.get("/v1/config")
    assert st == 200, body
    return body["version"]


def all_at(nodes, v, timeout=10.0):
    ok, _ = poll(lambda: all(version(n) == v for n in nodes), timeout)
    assert ok, [version(n) for n in nodes]


def synced(nodes, timeout=10.0):
    """Every node synced, and at the same, nonzero version; that version."""
    ok, _ = poll(lambda: all((n.fleet() or {}).get("connection") == "synced" for n in nodes) and
                 len({version(n) for n in nodes}) == 1 and version(nodes[0]) > 0, timeout)
    assert ok, [(version(n), n.fleet()) for n in nodes]
    return version(nodes[0])


def put(n, path, body, headers=None):
    h = dict(n.AUTH)
    h.update(headers or {})
    return http_json(n.admin + "/v1/config/" + path, body, method="PUT", timeout=30, headers=h)


def record(addr_region="us"):
    return {"pool": "web", "ttl": 10, "policy": "failover",
            "regions": [addr_region, "eu" if addr_region == "us" else "us"]}


def reread(n):
    """The node's file as it is now (the fleet writes it): a restart must
    not put the test's copy back."""
    with open(n.conf_path) as f:
        n.config = json.load(f)


def test_changes_on_any_node_are_served_by_all_and_survive_restarts(cluster, be, made):
    nodes = fleet_nodes(cluster, be, made)
    v0 = synced(nodes)
    # One node's file bootstrapped the fleet; the others took that version.
    st, hist = nodes[0].get("/v1/config/history")
    assert st == 200 and hist["versions"][0]["version"] == v0, hist
    assert hist["versions"][0]["source"] in ("bootstrap", "file"), hist
    ok, _ = poll(lambda: nodes[0].answer() == ["127.0.0.31"], 10.0)
    assert ok
    lat = []
    for i in range(100):
        n = nodes[i % 3]
        name = "r%d.example.com." % i
        t0 = time.monotonic()
        st, body = put(n, "records/" + name, record())
        assert st == 201, body
        assert body["version"] == v0 + i + 1 and body.get("fleet") is True, body
        ok, t = poll(lambda: all(m.answer(name) == ["127.0.0.31"] for m in nodes), 5.0, 0.005)
        assert ok, (name, [m.answer(name) for m in nodes])
        lat.append(time.monotonic() - t0)
    lat.sort()
    p99 = lat[98]
    print("change to served on all 3 nodes: p50 %.3f s, p99 %.3f s, max %.3f s" %
          (lat[49], p99, lat[-1]))
    assert p99 < 1.0, lat[-5:]
    all_at(nodes, v0 + 100)
    # Every node's record in etcd says which version it serves.
    ok, _ = poll(lambda: all(x.get("config_version") == v0 + 100 and not x.get("config_error")
                             for x in nodes[0].fleet()["nodes"]), 5.0)
    assert ok, nodes[0].fleet()["nodes"]
    # Each node hears the others' records through its own watch, and a
    # record is put at most every 0.2 s (doc/fleet.md): polled, not read once.
    ok, _ = poll(lambda: nodes[1].fleet()["config_mismatch"] is False, 5.0)
    assert ok, nodes[1].fleet()
    # Every node kept every version (its history is the fleet's).
    for n in nodes:
        st, hist = n.get("/v1/config/history")
        assert [h["version"] for h in hist["versions"][:100]] == \
            list(range(v0 + 100, v0, -1)), hist["versions"][:3]
    # All nodes down, then up again: the same version, every record served,
    # and no new version.
    for n in nodes:
        n.stop()
    for n in nodes:
        reread(n)
        n.start()
    synced(nodes)
    for n in nodes:
        assert version(n) == v0 + 100
        # Copies made at the start: the fleet's held for the first version
        # on the first start, none kept on a restart at a fleet version.
        starts = [ln for ln in n.read_log().splitlines()
                  if "event=config_warm " in ln and "at=start" in ln]
        assert len(starts) == 2 and "fleet_copy=held" in starts[0] and \
            "fleet_copy=dropped" in starts[1], starts
        for i in (0, 50, 99):
            assert n.answer("r%d.example.com." % i) == ["127.0.0.31"], i


class WatchDelay:
    """A TCP proxy to one etcd member that holds back what etcd sends on a
    watch (a POST /v3/watch stream) for `delay` seconds, as a loaded
    machine or network does: the node behind it hears of versions late,
    while its other calls to etcd go through at once. Threads end with
    close() (every socket has a timeout; every loop checks `stop`)."""

    def __init__(self, upstream):
        u = urlparse(upstream)
        self.up = (u.hostname, u.port)
        self.delay = 0.0
        self.stop = False
        self.ls = socket.socket()
        self.ls.bind(("127.0.0.1", 0))
        self.ls.listen(16)
        self.ls.settimeout(0.2)
        self.url = "http://127.0.0.1:%d" % self.ls.getsockname()[1]
        self.socks = []
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self):
        while not self.stop:
            try:
                c, _ = self.ls.accept()
            except OSError:
                continue
            threading.Thread(target=self._conn, args=(c,), daemon=True).start()

    def _conn(self, c):
        try:
            u = socket.create_connection(self.up, timeout=5)
        except OSError:
            c.close()
            return
        self.socks += [c, u]
        for s in (c, u):
            s.settimeout(0.2)
        first = b""
        while not self.stop and b"\r\n" not in first:
            try:
                d = c.recv(65536)
            except socket.timeout:
                continue
            except OSError:
                return
            if not d:
                return
            first += d
        watch = b"/v3/watch" in first.split(b"\r\n", 1)[0]
        u.sendall(first)
        threading.Thread(target=self._pump, args=(c, u, False), daemon=True).start()
        self._pump(u, c, watch)

    def _pump(self, src, dst, held):
        q = queue.Queue()

        def send():
            while not self.stop:
                try:
                    due, d = q.get(timeout=0.2)
                except queue.Empty:
                    continue
                while not self.stop and time.monotonic() < due:
                    time.sleep(0.01)
                try:
                    dst.sendall(d)
                except OSError:
                    return
        threading.Thread(target=send, daemon=True).start()
        while not self.stop:
            try:
                d = src.recv(65536)
            except socket.timeout:
                continue
            except OSError:
                break
            if not d:
                break
            q.put((time.monotonic() + (self.delay if held else 0.0), d))

    def close(self):
        self.stop = True
        for s in self.socks + [self.ls]:
            try:
                s.close()
            except OSError:
                pass


def test_a_node_hearing_late_makes_a_change_on_the_fleets_newest_version(cluster, be, made):
    """A node whose watch hears of versions 0.6 s late (WatchDelay; the
    fleet restarts a watch that stays a second behind) takes a record that
    uses a pool another node added a moment before: refused on the version
    it had, it asks etcd how far the fleet is
    (fleet_config_sync), catches up and makes the change again on the
    newer version (config_fleet_newer): 201, not 400. A change that is
    invalid on the newest version too is still refused, and says why."""
    proxy = WatchDelay(cluster.urls[0])
    nodes = [start_node(made, [proxy.url] if i == 1 else cluster.urls, i, be["port"], start=False)
             for i in (1, 2)]
    try:
        for node in nodes:
            node.config["config_api"] = {"history_dir": "history", "fleet": True}
            node.start()
        n1, n2 = nodes
        v = synced(nodes)
        proxy.delay = 0.6
        pool = {"check": "web", "endpoints": [{"name": "us8", "address": "127.0.0.31",
                                               "region": "us"}]}
        st, body = put(n2, "pools/web8", pool)
        assert st == 201, body
        assert version(n1) == v, "n1 heard of n2's version at once: the watch was not held back"
        rec8 = {"pool": "web8", "ttl": 10, "policy": "failover", "regions": ["us"]}
        st, body = put(n1, "records/y8.example.com.", rec8)
        assert st == 201, body
        st, body = put(n1, "records/y7.example.com.", dict(rec8, pool="web7"))
        assert st == 400 and "web7" in json.dumps(body), body
        proxy.delay = 0.0
        all_at(nodes, v + 2)
        for n in nodes:
            ok, _ = poll(lambda: n.answer("y8.example.com.") == ["127.0.0.31"], 5.0)
            assert ok, (n.admin, n.answer("y8.example.com."))
    finally:
        proxy.close()


def test_edits_through_one_node_see_the_versions_other_nodes_made(cluster, be, made):
    """A node's edit is made on a copy of its newest document that reuses
    its last edit's objects, brought up to each version other nodes made
    since (config_api_cow_unused, jsonrecycle_advance): a pool another
    node added is there to validate against, a record another node
    deleted stays deleted, and every node ends with the same records."""
    n1, n2, n3 = fleet_nodes(cluster, be, made)
    v = synced([n1, n2, n3])
    st, body = put(n1, "records/x1.example.com.", record())
    assert st == 201, body
    st, body = put(n1, "records/x2.example.com.", record("eu"))  # n1 twice in a row
    assert st == 201, body
    # Another node adds a pool; then n1's edit uses it.
    pool = {"check": "web", "endpoints": [{"name": "us9", "address": "127.0.0.31", "region": "us"},
                                          {"name": "eu9", "address": "127.0.0.32", "region": "eu"}]}
    st, body = put(n2, "pools/web9", pool)
    assert st == 201, body
    rec9 = {"pool": "web9", "ttl": 10, "policy": "failover", "regions": ["eu", "us"]}
    st, body = put(n1, "records/y9.example.com.", rec9)
    assert st == 201, body
    # Another node deletes one of n1's records and changes the other; then
    # n1 changes a third: neither comes back as n1 had it.
    st, body = n3.delete("/v1/config/records/x1.example.com.")
    assert st == 201, body
    st, body = put(n3, "records/x2.example.com.", record("us"))
    assert st == 201, body
    st, body = put(n1, "records/z.example.com.", record("eu"))
    assert st == 201, body
    all_at([n1, n2, n3], v + 7)
    want = {"app.example.com.", "x2.example.com.", "y9.example.com.", "z.example.com."}
    for n in (n1, n2, n3):
        st, doc = n.get("/v1/config/records")
        assert st == 200 and set(doc["records"]) == want, (n.admin, sorted(doc["records"]))
        assert doc["records"]["x2.example.com."]["regions"] == ["us", "eu"], doc["records"]
        st, pools = n.get("/v1/config/pools")
        assert st == 200 and "web9" in pools["pools"], pools
        ok, _ = poll(lambda: n.answer("y9.example.com.") == ["127.0.0.32"] and
                     n.answer("x1.example.com.") == [] and
                     n.answer("x2.example.com.") == ["127.0.0.31"], 5.0)
        assert ok, (n.admin, n.answer("y9.example.com."), n.answer("x1.example.com."),
                    n.answer("x2.example.com."))
    # n1's next edit publishes nothing stale either: its version changes z only.
    st, body = put(n1, "records/z.example.com.", record("us"))
    assert st == 201, body
    all_at([n1, n2, n3], v + 8)
    st, doc = n2.get("/v1/config/records")
    assert set(doc["records"]) == want and \
        doc["records"]["x2.example.com."]["regions"] == ["us", "eu"], doc["records"]


def warm_lines(n, event):
    """The node's log lines of event (config_warm, config_fleet_warm)."""
    return [ln for ln in n.read_log().splitlines() if "event=%s " % event in ln]


def test_each_node_makes_its_copies_ahead_once_per_version(cluster, be, made):
    """Once synced, every node's idle store thread makes the copies a
    change would otherwise make on its path (config_api_warm: the document
    an edit through it copies; config_fleet_warm: the fleet base the next
    version's delta is applied to, on the main thread): at 1,000,000
    records each was 0.7-1.2 s of the first changes after a start (issue
    #55). The store thread asks again every second while idle (versions
    come from other nodes without a call), but each copy is tried once per
    version: no node makes the same one twice, idle or not. Nodes started
    from the fleet's document make both at the start, beside the compile
    (config_api_prewarm_begin): the fleet's copy is taken for the first
    version when that is the node's own document (at=start)."""
    nodes = fleet_nodes(cluster, be, made)
    v = synced(nodes, 30.0)
    for n in nodes:
        assert any("result=ready at=start" in ln for ln in warm_lines(n, "config_warm")), \
            (n.admin, warm_lines(n, "config_warm"))
        assert any("result=ready version=%d at=start" % v in ln
                   for ln in warm_lines(n, "config_fleet_warm")), \
            (n.admin, warm_lines(n, "config_fleet_warm"))

    def ready(n):
        return any("result=ready" in ln for ln in warm_lines(n, "config_fleet_warm")) and \
            any("result=ready" in ln for ln in warm_lines(n, "config_warm"))
    # Each copy comes within a second of the store thread's idle look
    # (ADMIN_STORE_WARM_AGAIN_MS), plus slack for ASan.
    ok, _ = poll(lambda: all(ready(n) for n in nodes), 15.0)
    assert ok, [warm_lines(n, "config_fleet_warm") + warm_lines(n, "config_warm") for n in nodes]
    st, body = put(nodes[1], "records/w1.example.com.", record())
    assert st == 201, body
    all_at(nodes, v + 1)
    # Idle for more than three of the store thread's looks: a copy tried
    # again and again would show here.
    time.sleep(3.5)
    for n in nodes:
        fleet = [ln.split("version=")[1].split()[0] for ln in warm_lines(n, "config_fleet_warm")]
        assert len(fleet) == len(set(fleet)) and str(v) in fleet, (n.admin, fleet)
        assert len(warm_lines(n, "config_warm")) <= 3, (n.admin, warm_lines(n, "config_warm"))
        assert n.answer("w1.example.com.") == ["127.0.0.31"], n.admin


def observed_by_all(nodes, name):
    """Every node shows endpoint name observed up by all three nodes."""
    def ok():
        for n in nodes:
            e = n.endpoint(name)
            if not e or (e.get("fleet") or {}).get("observations") != \
                    {"n1": "up", "n2": "up", "n3": "up"}:
                return False
        return True
    return ok


def test_the_fleet_follows_the_endpoints_each_version_probes(cluster, be, made):
    """A node hands its probed endpoints to the fleet when a version
    changes them; a version that changes records only hands over its
    configuration's hash alone (issue #38: adopting 10,000 endpoints again
    was a fifth of a fleet node's work per change). Either way the fleet
    judges exactly the endpoints the node serves: one a change adds gets
    every node's observation and is failed over by the fleet's verdict,
    ones a change of records leaves keep theirs, and the hashes still
    match across the nodes."""
    nodes = fleet_nodes(cluster, be, made)
    v = synced(nodes)
    ok, _ = poll(observed_by_all(nodes, "us1"), 10.0)
    assert ok, [n.endpoint("us1") for n in nodes]
    # Records only: the endpoints stay as they were, and still the fleet's.
    for i in range(3):
        st, body = put(nodes[i], "records/r%d.example.com." % i, record())
        assert st == 201, body
    all_at(nodes, v + 3)
    ok, _ = poll(lambda: all(x["config_matches"] for x in nodes[0].fleet()["nodes"]) and
                 not any(n.fleet()["config_mismatch"] for n in nodes), 5.0)
    assert ok, [n.fleet() for n in nodes]
    assert observed_by_all(nodes, "us1")(), [n.endpoint("us1") for n in nodes]
    # A pool added: its endpoints are observed by all, then judged by the fleet.
    pool = {"check": "web", "endpoints": [{"name": "us7", "address": "127.0.0.31", "region": "us"},
                                          {"name": "eu7", "address": "127.0.0.32", "region": "eu"}]}
    st, body = put(nodes[1], "pools/web7", pool)
    assert st == 201, body
    rec7 = {"pool": "web7", "ttl": 10, "policy": "failover", "regions": ["us", "eu"]}
    st, body = put(nodes[2], "records/s7.example.com.", rec7)
    assert st == 201, body
    all_at(nodes, v + 5)
    ok, _ = poll(observed_by_all(nodes, "us7"), 10.0)
    assert ok, [n.endpoint("us7") for n in nodes]
    ok, _ = poll(lambda: all(n.answer("s7.example.com.") == ["127.0.0.31"] for n in nodes), 5.0)
    assert ok
    be["us"].stop()
    try:
        ok, _ = poll(lambda: all(n.answer("s7.example.com.") == ["127.0.0.32"] and
                                 n.answer("r0.example.com.") == ["127.0.0.32"] for n in nodes),
                     10.0, 0.05)
        assert ok, [(n.answer("s7.example.com."), n.endpoint("us7")) for n in nodes]
        for n in nodes:
            assert n.endpoint("us7")["fleet"]["verdict"] == "down", n.endpoint("us7")
            assert n.endpoint("us1")["fleet"]["verdict"] == "down", n.endpoint("us1")
    finally:
        be["us"].start()
    ok, _ = poll(observed_by_all(nodes, "us7"), 10.0)
    assert ok, [n.endpoint("us7") for n in nodes]
    # The pool removed (its record first): the fleet drops it on every node.
    st, body = nodes[0].delete("/v1/config/records/s7.example.com.")
    assert st == 201, body
    st, body = nodes[0].delete("/v1/config/pools/web7")
    assert st == 201, body
    all_at(nodes, v + 7)
    ok, _ = poll(lambda: all(n.endpoint("us7") is None for n in nodes), 5.0)
    assert ok
    ok, _ = poll(observed_by_all(nodes, "us1"), 10.0)
    assert ok, [(n.endpoint("us1") or {}).get("fleet") for n in nodes]


def node_record_puts(cluster, name):
    """How many times etcd has written node name's record since its key
    was made (etcd's version of the key)."""
    import base64
    key = base64.b64encode(("/gtmd/it/nodes/" + name).encode()).decode()
    st, body = http_json(cluster.urls[0] + "/v3/kv/range", {"key": key}, timeout=3)
    assert st == 200 and body.get("kvs"), body
    return int(body["kvs"][0]["version"])


def test_a_stream_of_versions_puts_each_node_record_at_a_bounded_rate(cluster, be, made):
    """A node's record in etcd says which version it serves. Under a
    stream of changes it is put at most once every 0.2 s
    (FLEET_NODE_PUT_REST_S) and every stale_after / 2 (1.5 s), not once
    per version (three etcd commits per change in a 3-node fleet, each
    sent to every node's watch: issue #38); it still ends on the last
    version, and every node knows where the others are."""
    nodes = fleet_nodes(cluster, be, made)
    v = synced(nodes)
    names = ("n1", "n2", "n3")
    before = {n: node_record_puts(cluster, n) for n in names}
    t0 = time.monotonic()
    for i in range(30):
        st, body = put(nodes[i % 3], "records/s%d.example.com." % i, record())
        assert st == 201, body
    all_at(nodes, v + 30)
    ok, _ = poll(lambda: all(x.get("config_version") == v + 30 and x["config_matches"]
                             for n in nodes for x in n.fleet()["nodes"]), 3.0)
    took = time.monotonic() - t0
    assert ok, [n.fleet()["nodes"] for n in nodes]
    bound = took / 0.2 + took / 1.5 + 3
    for n in names:
        after = node_record_puts(cluster, n)
        count = after - before[n] if after >= before[n] else after  # made again: a new lease
        print("node record %s: %d puts for 30 versions in %.2f s (bound %.1f)" %
              (n, count, took, bound))
        assert 1 <= count <= bound, (n, count, took)


def test_concurrent_writers(cluster, be, made):
    n1, n2 = fleet_nodes(cluster, be, made, n=2)
    v = synced([n1, n2])
    # If-Match on the version both read: the second writer gets 412.
    st, body = put(n1, "regions/ap", {}, {"If-Match": '"%d"' % v})
    assert st == 201, body
    st, body = put(n2, "regions/sa", {}, {"If-Match": '"%d"' % v})
    assert st == 412, body
    assert body["version"] >= v, body
    # Without If-Match, two writers on different nodes at once: both land
    # (a change made on an older version is carried onto the newer one).
    all_at([n1, n2], v + 1)
    out = {}

    def write(n, name):
        out[name] = put(n, "records/" + name, record())
    ts = [threading.Thread(target=write, args=(n, "c%d.example.com." % i))
          for i, n in enumerate((n1, n2, n1, n2))]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    assert all(st == 201 for st, _ in out.values()), out
    # Each its own version, but for two writes on one node that queued
    # behind its reload: they share one (group commit, config_api_edit.c).
    vs = sorted(b["version"] for _, b in out.values())
    assert vs[0] >= v + 2 and vs[-1] == v + 1 + len(set(vs)) and len(set(vs)) >= 2, out
    all_at([n1, n2], vs[-1])
    st, doc = n2.get("/v1/config/records")
    assert all("c%d.example.com." % i in doc["records"] for i in range(4)), doc
    # The same resource changed on another node meanwhile: 409 names it.
    st, body = put(n1, "records/app.example.com.", record("eu"))
    assert st == 201, body


def test_hand_edit_on_top_of_the_fleet_version_is_published(cluster, be, made):
    n1, n2, n3 = fleet_nodes(cluster, be, made)
    v = synced([n1, n2, n3])
    reread(n2)
    n2.config["records"]["hand.example.com."] = record("eu")
    n2.write_config()
    n2.signal(signal.SIGHUP)
    ok, _ = poll(lambda: all(n.answer("hand.example.com.") == ["127.0.0.32"]
                             for n in (n1, n2, n3)), 10.0)
    assert ok, [n.answer("hand.example.com.") for n in (n1, n2, n3)]
    all_at([n1, n2, n3], v + 1)
    st, hist = n3.get("/v1/config/history")
    assert hist["versions"][0]["source"] == "file" and hist["versions"][0]["node"] == "n2", hist


def test_file_edited_while_the_fleet_moved_on_is_replaced(cluster, be, made):
    n1, n2, n3 = fleet_nodes(cluster, be, made)
    v = synced([n1, n2, n3])
    n3.stop()
    st, body = put(n1, "records/moved.example.com.", record())
    assert st == 201, body
    reread(n3)
    n3.config["records"]["stale.example.com."] = record()
    n3.start()  # writes the edited file
    all_at([n1, n2, n3], v + 1)
    assert n3.answer("moved.example.com.") == ["127.0.0.31"]
    assert n3.answer("stale.example.com.") == [], "the stale edit is served"
    rejected = n3.conf_path + ".rejected"
    assert os.path.exists(rejected)
    with open(rejected) as f:
        assert "stale.example.com." in json.load(f)["records"]
    assert "event=config_fleet_file result=replaced" in n3.read_log()


def test_a_node_that_cannot_apply_a_version_keeps_its_last_good_one(cluster, be, made):
    n1, n2 = fleet_nodes(cluster, be, made, n=2)
    v = synced([n1, n2])
    # A zone whose file only n1 has: valid there, not on n2.
    with open(os.path.join(n1.workdir, "extra.example.zone"), "w") as f:
        f.write("$ORIGIN extra.example.\n$TTL 60\n@ SOA ns hm 1 60 60 600 60\n@ NS ns\n"
                "ns A 127.0.0.9\nwww A 127.0.0.10\n")
    reread(n1)
    n1.config["zones"].append({"origin": "extra.example.", "file": "extra.example.zone"})
    n1.config["records"]["ok.example.com."] = record()
    n1.write_config()
    n1.signal(signal.SIGHUP)
    ok, _ = poll(lambda: version(n1) == v + 1, 10.0)
    assert ok, version(n1)
    ok, _ = poll(lambda: any(x["name"] == "n2" and x.get("config_error")
                             for x in n1.fleet()["nodes"]), 10.0)
    assert ok, n1.fleet()["nodes"]
    me = [x for x in n2.fleet()["nodes"] if x["self"]][0]
    assert me["config_version"] == v and "extra.example.zone" in me["config_error"], me
    assert version(n2) == v
    assert n2.answer() == ["127.0.0.31"], "n2 stopped serving its last good version"
    assert n2.answer("ok.example.com.") == []
    assert n1.answer("ok.example.com.") == ["127.0.0.31"]
    # The next version that n2 can apply brings it back in line.
    reread(n1)
    n1.config["zones"].pop()
    n1.write_config()
    n1.signal(signal.SIGHUP)
    all_at([n1, n2], v + 2)
    assert n2.answer("ok.example.com.") == ["127.0.0.31"]
    ok, _ = poll(lambda: not [x for x in n2.fleet()["nodes"] if x["self"]][0]["config_error"],
                 5.0)
    assert ok


def test_a_node_with_its_own_history_joins_with_the_fleet_numbers(cluster, be, made):
    """A node that kept versions of its own before "fleet": true moves them
    aside (history/before-fleet-TIME, FILE.before-fleet) and takes the
    fleet's numbers."""
    n1, n2 = [start_node(made, cluster.urls, i, be["port"], start=False) for i in (1, 2)]
    n1.config["config_api"] = {"history_dir": "history"}
    n1.start()
    for name in ("own1.example.com.", "own2.example.com."):
        st, body = put(n1, "records/" + name, record())
        assert st == 201, body
    assert version(n1) == 3
    n1.stop()
    n2.config["config_api"] = {"history_dir": "history", "fleet": True}
    n2.start()
    v = synced([n2])
    assert v == 1
    reread(n1)
    n1.config["config_api"]["fleet"] = True
    n1.start()
    all_at([n1, n2], 1)
    hist = os.path.join(n1.workdir, "history")
    aside = [d for d in os.listdir(hist) if d.startswith("before-fleet-")]
    assert len(aside) == 1 and "00000003.json" in os.listdir(os.path.join(hist, aside[0]))
    assert os.path.exists(n1.conf_path + ".before-fleet")
    # n2's file is the fleet's: n1's own records are not served any more.
    assert n1.answer("own1.example.com.") == []
    st, body = put(n1, "records/joined.example.com.", record())
    assert st == 201 and body["version"] == 2, body
    ok, _ = poll(lambda: n2.answer("joined.example.com.") == ["127.0.0.31"], 5.0)
    assert ok


def test_signed_fleet_takes_members_versions_and_refuses_forged_ones(cluster, be, made):
    """With "members", versions are signed: a member's change travels, and
    a version and head written by someone who is not a member (unsigned,
    or signed with a key no member has) change nothing and are counted."""
    import base64
    import tempfile
    from fleetlib import member_key
    d = tempfile.mkdtemp(prefix="gtmd-cfgkeys-")
    keys = {n: member_key(d, n) for n in ("n1", "n2", "mallory")}
    mem = {n: keys[n][1] for n in ("n1", "n2")}
    nodes = [start_node(made, cluster.urls, i, be["port"], start=False,
                        key_file=keys["n%d" % i][0], members=mem) for i in (1, 2)]
    for n in nodes:
        n.config["config_api"] = {"history_dir": "history", "fleet": True}
        n.start()
    v = synced(nodes)
    st, body = put(nodes[0], "records/signed.example.com.", record())
    assert st == 201 and body["version"] == v + 1, body
    ok, _ = poll(lambda: nodes[1].answer("signed.example.com.") == ["127.0.0.31"], 5.0)
    assert ok
    st, hist = nodes[1].get("/v1/config/history")
    assert hist["versions"][0]["signer"] == "n1", hist["versions"][0]

    def b64(s):
        return base64.b64encode(s.encode()).decode()
    evil = json.load(open(nodes[0].conf_path))
    evil["records"]["evil.example.com."] = record("eu")
    for k in ("listen", "admin", "fleet", "config_api", "probe_source"):
        evil.pop(k, None)
    forged = {"version": v + 2, "doc": evil, "author": "x", "change": "x", "source": "api",
              "node": "n2", "time": time.time(), "signer": "n2", "sig": "AAAA"}
    for key, val in (("config/v/%012d" % (v + 2), forged),
                     ("config/head", {"version": v + 2, "node": "n2"})):
        st, _ = http_json(cluster.urls[0] + "/v3/kv/put",
                          {"key": b64("/gtmd/it/" + key), "value": b64(json.dumps(val))},
                          timeout=3)
        assert st == 200
    ok, _ = poll(lambda: all(n.fleet()["rejected"]["unsigned"] >= 1 for n in nodes), 5.0)
    assert ok, [n.fleet()["rejected"] for n in nodes]
    time.sleep(1.0)
    for n in nodes:
        assert version(n) == v + 1
        assert n.answer("evil.example.com.") == []
    for p, _ in keys.values():
        os.unlink(p)
    os.rmdir(d)


def test_a_deleted_head_is_not_followed_and_numbering_goes_on(cluster, be, made):
    """config/head deleted from etcd (or reset): no node goes back, no
    node bootstraps anew, and the next change is the version after the
    one every node serves."""
    import base64
    n1, n2 = fleet_nodes(cluster, be, made, n=2)
    v = synced([n1, n2])
    st, body = put(n1, "records/before.example.com.", record())
    assert st == 201, body
    all_at([n1, n2], v + 1)
    key = base64.b64encode(b"/gtmd/it/config/head").decode()
    st, _ = http_json(cluster.urls[0] + "/v3/kv/deleterange", {"key": key}, timeout=3)
    assert st == 200
    # The watch brings the delete within a second under load; then nothing
    # moves back.
    ok, _ = poll(lambda: "event=fleet_config_head_back" in n1.read_log(), 5.0)
    assert ok, n1.read_log()[-2000:]
    time.sleep(0.5)
    all_at([n1, n2], v + 1)
    st, body = put(n2, "records/after.example.com.", record())
    assert st == 201 and body["version"] == v + 2, body
    ok, _ = poll(lambda: n1.answer("after.example.com.") == ["127.0.0.31"], 5.0)
    assert ok
    assert n1.answer("before.example.com.") == ["127.0.0.31"]


def test_a_version_that_is_not_one_changes_nothing_and_is_not_refetched_each_tick(
        cluster, be, made):
    """Without "members" etcd's writers are trusted, yet what they write
    must still be a version: a head naming a key that holds garbage, a
    record without its doc, or another version's number, is refused
    (counted, logged) and never applied; the node keeps serving its version
    and fetches again only every 5 s, not every tick."""
    import base64

    def b64(s):
        return base64.b64encode(s.encode()).decode()

    def etcd_put(key, value):
        st, _ = http_json(cluster.urls[0] + "/v3/kv/put",
                          {"key": b64("/gtmd/it/" + key), "value": b64(value)}, timeout=3)
        assert st == 200

    n1, n2 = fleet_nodes(cluster, be, made, n=2)
    v = synced([n1, n2])
    bad = {v + 1: "{not json", v + 2: json.dumps({"version": v + 2, "author": "x"}),
           v + 3: json.dumps({"version": v + 9, "doc": {}})}
    for ver, text in bad.items():
        etcd_put("config/v/%012d" % ver, text)
        etcd_put("config/head", json.dumps({"version": ver}))
        time.sleep(0.5)
    time.sleep(3.0)
    for n in (n1, n2):
        assert version(n) == v
        assert n.answer() == ["127.0.0.31"]
        assert n.fleet()["rejected"]["bad_fields"] >= 1, n.fleet()["rejected"]
        fails = n.read_log().count("event=fleet_config_fetch result=failed")
        # Three heads, each fetched at once and again after 5 s at most: a
        # fetch every tick (0.25 s) would be 14 or more in these 4.5 s.
        assert 1 <= fails <= 8, fails


def config_versions(cluster):
    """{version: record} of every configuration version in etcd, and head."""
    kv = cluster.get_prefix("/gtmd/it/config/")
    vers = {int(k.rsplit("/", 1)[1]): json.loads(v) for k, v in kv.items()
            if "/config/v/" in k and "/config/v/p/" not in k}
    return vers, json.loads(kv["/gtmd/it/config/head"])


def test_versions_travel_as_deltas_and_nodes_follow_the_chain(cluster, be, made):
    """A change is written to etcd as what it changes (one record of the
    document, not the document), every node builds the version from the
    one it has; a node that was down follows the chain of deltas from its
    own version; once the chain is `keep` long a whole document is written
    again and what is older than both is dropped; a delta that does not fit
    the version before it makes the node read again from the whole
    document, and a version that does not fit even then is refused, the node
    staying on its own."""
    import base64
    nodes = [start_node(made, cluster.urls, i, be["port"], start=False) for i in (1, 2, 3)]
    for n in nodes:
        n.config["config_api"] = {"history_dir": "history", "fleet": True, "keep": 6}
        n.start()
    v0 = synced(nodes)
    for i in range(3):
        st, body = put(nodes[i], "records/d%d.example.com." % i, record())
        assert st == 201 and body["version"] == v0 + i + 1, body
    vers, head = config_versions(cluster)
    assert "doc" in vers[v0], vers[v0].keys()
    for v in range(v0 + 1, v0 + 4):
        assert "doc" not in vers[v] and vers[v]["base"] == v - 1, vers[v].keys()
        assert vers[v]["delta"] == {"in": {"records": {"put": {
            "d%d.example.com." % (v - v0 - 1): record()}}}}, vers[v]["delta"]
    assert head["version"] == v0 + 3 and head["full"] == v0, head
    ok, _ = poll(lambda: all(m.answer("d2.example.com.") == ["127.0.0.31"] for m in nodes), 5.0)
    assert ok
    # n3 down for two changes (one a delete), then back: it follows them.
    nodes[2].stop()
    st, body = put(nodes[0], "records/d3.example.com.", record("eu"))
    assert st == 201, body
    st, body = http_json(nodes[1].admin + "/v1/config/records/d0.example.com.", method="DELETE",
                         timeout=30, headers=nodes[1].AUTH)
    assert st in (200, 201), body
    reread(nodes[2])
    nodes[2].start()
    all_at(nodes, v0 + 5)
    ok, _ = poll(lambda: nodes[2].answer("d3.example.com.") == ["127.0.0.32"] and
                 nodes[2].answer("d0.example.com.") == [], 5.0)
    assert ok, (nodes[2].answer("d3.example.com."), nodes[2].answer("d0.example.com."))
    # No node read a whole version again: not n3 after its restart, nor a
    # node that applied a version while the fetch of the next one, begun
    # before it said so, was under way (that fetch begins with a version
    # the node has, whose base it no longer holds: once ~1 run in 9 under
    # load, "version 2 changes version 1, which this node does not have").
    for n in nodes:
        assert "config_fleet_delta result=refetch" not in n.read_log(), n.config["fleet"]["node"]
    # The chain since the whole document reaches keep (6): the next version
    # is whole again, and the versions before it that keep does not hold
    # are gone.
    st, body = put(nodes[0], "records/d4.example.com.", record())
    assert st == 201 and body["version"] == v0 + 6, body
    vers, head = config_versions(cluster)
    assert "doc" in vers[v0 + 6] and head["full"] == v0 + 6, (vers[v0 + 6].keys(), head)
    # Its delta travels beside the document, for the nodes that have the
    # version before.
    assert vers[v0 + 6]["base"] == v0 + 5 and vers[v0 + 6]["delta"] == {"in": {"records": {
        "put": {"d4.example.com.": record()}}}}, vers[v0 + 6]
    assert min(vers) == v0 + 1, sorted(vers)
    st, body = put(nodes[1], "records/d5.example.com.", record())
    assert st == 201, body
    vers, head = config_versions(cluster)
    assert "delta" in vers[v0 + 7] and head["full"] == v0 + 6, head
    ok, _ = poll(lambda: all(m.answer("d5.example.com.") == ["127.0.0.31"] for m in nodes), 5.0)
    assert ok
    # A delta that does not fit its base (it drops a record no version has):
    # the nodes read again from the whole version, find it does not fit
    # there either, and stay on their version.

    def b64(s):
        return base64.b64encode(s.encode()).decode()
    bad = {"version": v0 + 8, "base": v0 + 7, "author": "x", "change": "x", "source": "api",
           "node": "n1", "time": time.time(),
           "delta": {"in": {"records": {"drop": ["nowhere.example.com."]}}}}
    for key, val in (("config/v/%012d" % (v0 + 8), bad),
                     ("config/head", {"version": v0 + 8, "node": "n1", "full": v0 + 6})):
        st, _ = http_json(cluster.urls[0] + "/v3/kv/put",
                          {"key": b64("/gtmd/it/" + key), "value": b64(json.dumps(val))},
                          timeout=3)
        assert st == 200
    ok, _ = poll(lambda: all("config_fleet_refused version=%d" % (v0 + 8) in n.read_log()
                             for n in nodes), 5.0)
    assert ok, nodes[0].read_log()[-1500:]
    for n in nodes:
        assert "config_fleet_delta result=refetch version=%d" % (v0 + 8) in n.read_log()
        assert version(n) == v0 + 7
        assert n.answer("d5.example.com.") == ["127.0.0.31"]


def test_a_failed_bootstrap_is_tried_again(be, made):
    """The first node's bootstrap that etcd refuses (its document is over
    this etcd's --max-request-bytes) leaves the fleet empty; the empty
    fleet is offered to the node again while it stays so (every 10 s,
    FLEET_CONFIG_EMPTY_AGAIN_S), so once the file is fixed and reloaded
    the fleet gets its first version without a restart."""
    import pytest
    why = need_etcd()
    if why:
        pytest.skip(why)
    # 256 KiB: a node's own records are far below it; 4,000 records of
    # compact JSON (some 380 KB) are one key over it (parts are 512 KiB).
    c = EtcdCluster(3, member_extra=["--max-request-bytes", "262144"]).start()
    try:
        n = start_node(made, c.urls, 1, be["port"], start=False)
        n.config["config_api"] = {"history_dir": "history", "fleet": True}
        for k in range(4000):
            n.config["records"]["big%d.example.com." % k] = record()
        n.start()
        ok, _ = poll(lambda: "config_fleet_bootstrap result=not_published" in n.read_log(), 30.0)
        assert ok, n.read_log()[-2000:]
        assert version(n) == 0
        for k in range(4000):
            del n.config["records"]["big%d.example.com." % k]
        n.write_config()
        n.proc.send_signal(signal.SIGHUP)
        # The next offer comes within 10 s of the last; ASan and a loaded
        # etcd get as much again and more.
        ok, _ = poll(lambda: version(n) == 1, 40.0)
        assert ok, n.read_log()[-2000:]
        assert "config_fleet_bootstrap result=published" in n.read_log()
        vers, head = config_versions(c)
        assert head["version"] == 1 and vers[1]["source"] == "bootstrap", head
        assert "big0.example.com." not in vers[1]["doc"]["records"], sorted(vers[1])
    finally:
        c.stop()


def test_a_large_whole_version_travels_in_parts(cluster, be, made):
    """A whole document larger than one part (here 6,000 records, over
    512 KiB of compact JSON, in parts of 64 KiB: "config_part_kib") is
    written in parts under config/v/p/ before its version, which names them
    with their digest; a node whose own document has that digest (the
    bootstrap, a node started from the same file) takes its own instead of
    reading it, and a node that starts later with another file reads it
    back, more than one page of 8 parts; a part changed in etcd
    makes a node refuse the version rather than serve what it holds. The
    chain of deltas after it goes on past keep while its bytes are below
    a quarter of the document's (head says both): small changes do not
    rewrite the document; a batch that makes the chain reach a quarter
    does, on the next version."""
    import base64
    nodes = [start_node(made, cluster.urls, i, be["port"], start=False) for i in (1, 2)]
    for n in nodes:
        n.config["config_api"] = {"history_dir": "history", "fleet": True, "keep": 3}
        n.config["fleet"]["config_part_kib"] = 64
        for k in range(6000):
            n.config["records"]["big%d.example.com." % k] = record()
    nodes[0].start()
    ok, _ = poll(lambda: version(nodes[0]) > 0 and
                 (nodes[0].fleet() or {}).get("connection") == "synced", 30.0)
    assert ok
    nodes[1].start()
    v0 = synced(nodes, 30.0)
    vers, head = config_versions(cluster)
    kv = cluster.get_prefix("/gtmd/it/config/v/p/")
    whole = vers[v0]
    # More parts than one read brings (8): the node that starts second
    # reads them in pages.
    assert "doc" not in whole and whole["parts"]["n"] > 8, whole.get("parts")
    assert len([k for k in kv if k.startswith("/gtmd/it/config/v/p/" + whole["parts"]["prefix"])]) \
        == whole["parts"]["n"], sorted(kv)[:3]
    for n in nodes:
        assert n.answer("big5999.example.com.") == ["127.0.0.31"]
    assert head["chain_bytes"] == 0 and head["full_bytes"] > 512 * 1024, head
    # Both nodes started from this very document (the same file): each
    # found the version's digest to be its own document's and took that
    # instead of reading the parts.
    def parts(n):
        return n.get("/v1/status")[1]["fleet"]["config_parts"]
    assert [parts(n) for n in nodes] == [{"read": 0, "skipped": 0, "own": 1}] * 2, \
        [parts(n) for n in nodes]
    assert all("event=fleet_config_own result=hashed" in n.read_log() for n in nodes)
    # Deltas on top, past keep (3): the chain is far below a quarter of the
    # document.
    before = [parts(n) for n in nodes]
    for i in range(4):
        st, body = put(nodes[i % 2], "records/big%d.example.com." % i, record("eu"))
        assert st == 201, body
    vers, head = config_versions(cluster)
    assert head["full"] == v0 and head["version"] == v0 + 4, head
    assert all("delta" in vers[v] and "parts" not in vers[v] for v in range(v0 + 1, v0 + 5))
    assert 0 < head["chain_bytes"] < head["full_bytes"] // 4, head
    # A batch of 2,000 records (a quarter of the document and more) is a
    # delta too; the version after it is whole again, in parts, and the
    # parts of the dropped whole version are gone.
    st, body = http_json(nodes[1].admin + "/v1/config/changes", {"changes": [
        {"op": "put", "path": "records/big%d.example.com." % k, "value": record("eu")}
        for k in range(10, 2010)]}, method="POST", timeout=30, headers=nodes[1].AUTH)
    assert st in (200, 201), body
    vers, head = config_versions(cluster)
    assert head["full"] == v0 and "delta" in vers[v0 + 5], head
    assert head["chain_bytes"] >= head["full_bytes"] // 4, head
    st, body = put(nodes[0], "records/big3000.example.com.", record("eu"))
    assert st == 201, body
    vers, head = config_versions(cluster)
    assert head["full"] == v0 + 6 and "parts" in vers[v0 + 6], head
    assert head["chain_bytes"] == 0, head
    assert vers[v0 + 6]["base"] == v0 + 5 and "delta" in vers[v0 + 6], vers[v0 + 6].keys()
    kv = cluster.get_prefix("/gtmd/it/config/v/p/")
    assert kv and all(k.startswith("/gtmd/it/config/v/p/%012d/" % (v0 + 6)) for k in kv), \
        sorted(kv)[:3]
    ok, _ = poll(lambda: all(n.answer("big2.example.com.") == ["127.0.0.32"] for n in nodes), 5.0)
    assert ok
    # The two nodes had the version before: they built the whole version
    # from its delta and never read its parts.
    after = [parts(n) for n in nodes]
    assert [a["read"] for a in after] == [b["read"] for b in before], (before, after)
    assert [a["skipped"] - b["skipped"] for a, b in zip(after, before)] == [1, 1], (before, after)
    # A node started now reads the whole version from its parts and the
    # chain after it.
    # A chain longer than a new node's keep (3) after the whole version:
    # the node reads the whole version and the 8 deltas, builds them, and
    # keeps the last 3 in its history.
    for k in range(7):
        st, body = put(nodes[k % 2], "records/seq%d.example.com." % k, record("eu"))
        assert st == 201, body
    n3 = start_node(made, cluster.urls, 3, be["port"], start=False)
    n3.config["config_api"] = {"history_dir": "history", "fleet": True, "keep": 3}
    n3.start()
    st, body = put(nodes[0], "records/late.example.com.", record())
    assert st == 201, body
    vers, head = config_versions(cluster)
    assert head["full"] == v0 + 6 and head["version"] == v0 + 14, head
    ok, _ = poll(lambda: n3.answer("late.example.com.") == ["127.0.0.31"] and
                 n3.answer("big2.example.com.") == ["127.0.0.32"] and
                 n3.answer("seq0.example.com.") == ["127.0.0.32"] and
                 n3.answer("seq6.example.com.") == ["127.0.0.32"] and
                 n3.answer("big5999.example.com.") == ["127.0.0.31"], 30.0)
    assert ok, n3.read_log()[-2000:]
    # Its own document (without the 6,000 records) is not the version's.
    assert parts(n3)["read"] == 1 and parts(n3)["own"] == 0, parts(n3)
    all_at(nodes + [n3], v0 + 14)
    st, hist = n3.get("/v1/config/history")
    assert [h["version"] for h in hist["versions"]] == [v0 + 14, v0 + 13, v0 + 12], hist
    st, old = n3.get("/v1/config/history/%d" % (v0 + 13))
    assert st == 200 and "seq6.example.com." in old["resources"]["records"] and \
        "late.example.com." not in old["resources"]["records"], st
    # A part changed in etcd: its digest no longer matches; a node that
    # must read it (a fresh one) refuses the version and says so.
    key = sorted(kv)[0]
    st, _ = http_json(cluster.urls[0] + "/v3/kv/put",
                      {"key": base64.b64encode(key.encode()).decode(),
                       "value": base64.b64encode(b"{}").decode()}, timeout=3)
    assert st == 200
    n4 = start_node(made, cluster.urls, 4, be["port"], start=False)
    n4.config["config_api"] = {"history_dir": "history", "fleet": True, "keep": 3}
    n4.start()
    ok, _ = poll(lambda: "parts do not have the digest" in n4.read_log(), 15.0)
    assert ok, n4.read_log()[-2000:]
    assert n4.answer("late.example.com.") == []


def test_whole_versions_while_a_member_does_not_read_deltas(cluster, be, made):
    """While a member announces no format 3 (a gtmd of the release before,
    which reads only "doc"; fleet_compat.h) every version is whole; once it
    announces format 3 (upgraded), changes are deltas again."""
    import base64

    def b64(s):
        return base64.b64encode(s.encode()).decode()
    n1, n2 = fleet_nodes(cluster, be, made, n=2)
    v = synced([n1, n2])
    st, body = put(n1, "records/a.example.com.", record())
    assert st == 201, body
    vers, _ = config_versions(cluster)
    assert "delta" in vers[v + 1], vers[v + 1].keys()
    old = {"version": "gtmd 1.0", "config_hash": "", "last_seen": time.time(),
           "started": time.time(), "vantage": None, "node": "n9", "layout": 2,
           "config_version": v + 1}
    st, _ = http_json(cluster.urls[0] + "/v3/kv/put",
                      {"key": b64("/gtmd/it/nodes/n9"), "value": b64(json.dumps(old))}, timeout=3)
    assert st == 200
    ok, _ = poll(lambda: any(x.get("node") == "n9" or x.get("name") == "n9"
                             for x in n1.fleet().get("nodes", [])), 5.0)
    assert ok, n1.fleet().get("nodes")
    st, body = put(n2, "records/b.example.com.", record())
    assert st == 201, body
    vers, head = config_versions(cluster)
    assert "doc" in vers[v + 2] and "delta" not in vers[v + 2] and head["full"] == v + 2, head
    # A whole version shares with the node's version before what it kept:
    # only the one record it changed is compiled again, on every node (the
    # last reload's line once the node serves that version).
    def compiled(n):
        lines = [x for x in n.read_log().splitlines() if "event=reload result=ok" in x]
        return lines[-1].split("records_compiled=")[1].split('"')[0] if lines else None
    ok, _ = poll(lambda: all(version(n) == v + 2 for n in (n1, n2)), 5.0)
    assert ok, [version(n) for n in (n1, n2)]
    assert [compiled(n) for n in (n1, n2)] == ["1", "1"], [compiled(n) for n in (n1, n2)]
    old["formats"] = [2, 3]
    st, _ = http_json(cluster.urls[0] + "/v3/kv/put",
                      {"key": b64("/gtmd/it/nodes/n9"), "value": b64(json.dumps(old))}, timeout=3)
    assert st == 200
    ok, _ = poll(lambda: all(n.get("/v1/status")[1]["fleet"]["compat"]["write_format"] == 3
                             for n in (n1, n2)), 5.0)
    assert ok, n1.get("/v1/status")[1]["fleet"].get("compat")
    st, body = put(n1, "records/c.example.com.", record())
    assert st == 201, body
    vers, head = config_versions(cluster)
    assert "delta" in vers[v + 3] and head["full"] == v + 2, head
    ok, _ = poll(lambda: all(n.answer("c.example.com.") == ["127.0.0.31"] and
                             n.answer("b.example.com.") == ["127.0.0.31"] for n in (n1, n2)), 5.0)
    assert ok


def test_an_invalid_change_is_refused_before_it_is_published(cluster, be, made):
    """A change through a node of a fleet is validated (in memory, as its
    reload would be) before it goes to etcd: a record naming a pool that
    does not exist, and one outside every zone, are refused with 400 and
    the JSON path in the configuration file; no version is published, no
    node serves them, and a valid change after them is the next version."""
    nodes = fleet_nodes(cluster, be, made)
    v0 = synced(nodes)
    _, head0 = config_versions(cluster)
    for name, body, want in (
            ("bad1.example.com.", dict(record(), pool="nope"), 'pool "nope" is not defined'),
            ("x.other.test.", record(), "is outside every zone")):
        st, res = put(nodes[1], "records/" + name, body)
        assert st == 400, res
        errs = " ".join(res["error"]["errors"])
        assert want in errs, errs
        assert '$.records["%s"]' % name in errs and nodes[1].conf_path in errs, errs
    _, head = config_versions(cluster)
    assert head["version"] == head0["version"], (head, head0)
    assert all(version(n) == v0 for n in nodes)
    assert all(n.answer("bad1.example.com.") == [] for n in nodes)
    st, res = put(nodes[2], "records/ok.example.com.", record())
    assert st == 201 and res["version"] == v0 + 1, res
    ok, _ = poll(lambda: all(m.answer("ok.example.com.") == ["127.0.0.31"] for m in nodes), 5.0)
    assert ok

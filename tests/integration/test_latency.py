"""policy "latency" against real probes (doc/policies.md, "Latency").

The backends are HTTP servers in this process that delay their reply's
first octet by the prober's source address (SlowBackend), so each vantage
point sees its own round-trip times: there is no netem here. One gtmd
alone (its own table), then a fleet of three nodes on a real etcd
cluster, each probing from its own probe_source (127.0.0.21, .22, .23),
sharing its table through etcd. Checks: interval 0.25 s, timeout 0.2 s
(0.5 s and 0.45 s where a backend turns slow: a slow endpoint must not
fail its probes on a loaded host); latency_half_life 2 s. Every wait is a
bounded poll."""
import http.server
import tempfile
import threading
import time

import pytest

from adminlib import Admin, admin_port, admin_section, gtmctl
from backends import fast_query, free_port_on, poll, query_addrs
from conftest import default_config
from fleetlib import Node, fleet_config, need_etcd  # noqa: F401
from fleetlib import cluster, made  # noqa: F401  (fixtures: etcd, the nodes' cleanup)

HALF_LIFE = 2.0


class SlowBackend:
    """An HTTP backend on ADDR:PORT whose reply waits delays[source] ms
    (default_ms for other sources) after the request: the first octet the
    http check times. failing: answer 503 (the check fails, fast). Every
    reply is recorded as (monotonic time its first octet is sent, source,
    delay)."""

    def __init__(self, addr, port, default_ms=0.0):
        self.addr, self.port = addr, port
        self.delays = {}
        self.default_ms = default_ms
        self.failing = False
        self.replies = []
        self.lock = threading.Lock()
        self.server = None

    def start(self):
        be = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):
                src = self.client_address[0]
                ms = be.delays.get(src, be.default_ms)
                time.sleep(ms / 1000.0)
                # Counted when the reply's first octet goes: the moment the
                # http check times (the probe may close before the body).
                with be.lock:
                    be.replies.append((time.monotonic(), src, ms))
                try:
                    self.send_response(503 if be.failing else 200)
                    self.send_header("Content-Length", "2")
                    self.send_header("Connection", "close")
                    self.end_headers()
                    self.wfile.write(b"ok")
                except OSError:  # the probe is done, or gave up (its timeout)
                    pass

            def log_message(self, *a):
                pass

        self.server = http.server.ThreadingHTTPServer((self.addr, self.port), Handler)
        self.server.daemon_threads = True
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    def replies_since(self, t, src=None, min_ms=None):
        with self.lock:
            return [r for r in self.replies if r[0] >= t and (src is None or r[1] == src)
                    and (min_ms is None or r[2] >= min_ms)]

    def stop(self):
        if self.server:
            self.server.shutdown()
            self.server.server_close()
            self.server = None


@pytest.fixture
def slow():
    made = []

    def factory(addrs, default_ms=0.0):
        port = free_port_on(addrs)
        bs = [SlowBackend(a, port, default_ms).start() for a in addrs]
        made.extend(bs)
        return port, bs

    yield factory
    for b in made:
        b.stop()


def check(port, **kw):
    c = {"type": "http", "port": port, "path": "/", "interval": 0.25, "timeout": 0.2,
         "rise": 2, "fall": 2, "latency_half_life": HALF_LIFE}
    c.update(kw)
    return c


def single_config(port, eps, record, **check_kw):
    """A make_gtmd config_fn: one region per endpoint (r1, r2, ...)."""
    def fn(workdir, gport):
        c = default_config(workdir, gport)
        c["regions"] = {"r%d" % (i + 1): {} for i in range(len(eps))}
        c["checks"] = {"web": check(port, **check_kw)}
        c["pools"] = {"web": {"check": "web", "endpoints": [
            {"name": n, "address": a, "region": "r%d" % (i + 1)}
            for i, (n, a) in enumerate(eps)]}}
        c["records"] = {"lat.example.com.": record}
        c["admin"] = admin_section(workdir, admin_port(gport), audit=False)
        return c
    return fn


def explain(g, **kw):
    q = "&".join("%s=%s" % kv for kv in kw.items())
    r = Admin.of(g).get("/v1/explain?name=lat.example.com." + ("&" + q if q else ""))
    assert r.status == 200, r
    return r.json["policy"]


def answer(g, name="lat.example.com.", ecs=None):
    return query_addrs(g, name, ecs=ecs)


def steady(g, want, n=40, **kw):
    """n answers in a row are exactly want."""
    return all(answer(g, **kw) == want for _ in range(n))


def counts(g, n, **kw):
    out = {}
    for _ in range(n):
        r = fast_query(g.addr, g.port, "lat.example.com.", **kw)
        for rr in (r.answer if r else []):
            for rd in rr:
                out[rd.to_text()] = out.get(rd.to_text(), 0) + 1
    return out


# ---- one node: its own round trips --------------------------------------

def test_fastest_then_never_a_dead_one(make_gtmd, slow):
    port, (a, b) = slow(["127.0.0.41", "127.0.0.42"])
    a.default_ms, b.default_ms = 5, 40
    g = make_gtmd(single_config(port, [("a", "127.0.0.41"), ("b", "127.0.0.42")],
                                {"pool": "web", "policy": "latency", "ttl": 5}))
    got, _ = poll(lambda: steady(g, ["127.0.0.41"]), 10, 0.1)
    assert got, "the fastest endpoint (5 ms against 40) is not the answer: %s" % answer(g)
    r = fast_query(g.addr, g.port, "lat.example.com.", ecs="192.0.2.0/24")
    assert r.options and r.options[0].scopelen == 0, "no vantage map: one answer for all (/0)"
    # explain, through gtmctl: this node's table, a the candidate, b not.
    p = gtmctl("--server", Admin.of(g).url, "--token-file",
               g.workdir + "/read.token", "explain", "lat.example.com.")
    out = p.stdout
    assert p.returncode == 0 and "latency vantage this node, tolerance 2 ms" in out, out
    rows = [ln.split() for ln in out.splitlines() if ln.startswith("  a ") or
            ln.startswith("  b ")]
    assert rows[0][0] == "a" and rows[0][-1] == "candidate" and rows[1][0] == "b", out
    assert float(rows[0][2]) < float(rows[1][2]), out
    # /v1/status shows this node's live averages.
    def status_eps():
        return {e["name"]: e for r in Admin.of(g).get("/v1/status").json["regions"]
                for e in r["endpoints"]}
    got, _ = poll(lambda: all((e["rtt"] or {}).get("samples", 0) >= 2
                              for e in status_eps().values()), 5, 0.1)
    eps = status_eps()
    assert got and eps["a"]["rtt"]["ewma_ms"] < eps["b"]["rtt"]["ewma_ms"], eps
    # A reload keeps the averages (they live in the health slots): the new
    # set answers the fastest at once, not the region order meanwhile.
    g.config["records"]["lat.example.com."]["ttl"] = 7
    g.write_config()
    assert Admin.of(g).post("/v1/reload").status == 200
    r = fast_query(g.addr, g.port, "lat.example.com.")
    assert r.answer and r.answer[0].ttl == 7 and answer(g) == ["127.0.0.41"], r
    # a fails its check while staying fast: once down it is never answered.
    a.failing = True
    got, _ = poll(lambda: answer(g) == ["127.0.0.42"], 5)
    assert got, "the failing fast endpoint is still answered"
    seen = counts(g, 300)
    assert set(seen) == {"127.0.0.42"}, "a down endpoint was answered for being fast: %s" % seen
    a.failing = False
    got, _ = poll(lambda: steady(g, ["127.0.0.41"]), 10, 0.1)
    assert got, "back up, the fast endpoint is not answered again"


def test_equal_endpoints_share_within_tolerance(make_gtmd, slow):
    port, (a, b, c) = slow(["127.0.0.41", "127.0.0.42", "127.0.0.43"])
    # Equal is within what this machine's scheduling lets a Python backend
    # hold: a tolerance of 40 ms absorbs a loaded host's jitter (15 ms did
    # not: a CI run beside other work saw a and b answer 1205 to 795 of
    # 2000, b's average that far behind a's for a while), and c at 120 ms
    # is well outside it.
    a.default_ms, b.default_ms, c.default_ms = 20, 20, 120
    g = make_gtmd(single_config(
        port, [("a", "127.0.0.41"), ("b", "127.0.0.42"), ("c", "127.0.0.43")],
        {"pool": "web", "policy": "latency",
         "latency": {"tolerance_ms": 40, "tolerance_pct": 10}}))
    got, _ = poll(lambda: set(counts(g, 100)) == {"127.0.0.41", "127.0.0.42"}, 10, 0.1)
    assert got, "the two equal endpoints do not both answer: %s" % counts(g, 100)
    seen = counts(g, 2000)
    total = sum(seen.values())
    assert total >= 1990, "answers lost: %d of 2000" % total
    assert "127.0.0.43" not in seen, "the slow endpoint (120 ms) shares: %s" % seen
    for addr in ("127.0.0.41", "127.0.0.42"):
        share = seen.get(addr, 0) / total
        assert 0.45 <= share <= 0.55, "uneven share within the tolerance: %s" % seen


def test_a_change_moves_the_answer_after_the_average_not_one_sample(make_gtmd, slow):
    port, (a, b) = slow(["127.0.0.41", "127.0.0.42"])
    a.default_ms, b.default_ms = 5, 40
    # A timeout far above the slow reply: a stays up, only slower (a loaded
    # host must not fail its probes and move the answer by health). A
    # half-life of 8 s: one sample weighs at most 8 % (a probe missed: 1 s
    # since the last sample), so even one as slow as the timeout allows
    # (450 ms, a starved backend) cannot carry a from 5 ms past b's 44.
    hl = 8.0
    g = make_gtmd(single_config(port, [("a", "127.0.0.41"), ("b", "127.0.0.42")],
                                {"pool": "web", "policy": "latency"}, interval=0.5,
                                timeout=0.45, latency_half_life=hl))
    got, _ = poll(lambda: steady(g, ["127.0.0.41"]), 10, 0.1)
    assert got, "the fastest endpoint is not the answer: %s" % answer(g)
    # Past the warm-up (the first 4 samples are averaged plainly): the
    # half-life alone weighs samples from here.
    got, _ = poll(lambda: explain(g)["endpoints"][0]["probes"] >= 8, 10, 0.1)
    assert got, "a is not probed"
    t0 = time.monotonic()
    a.default_ms = 100
    # Watch every 20 ms until the answer moves to b; then count a's slow
    # replies (samples) sent before the first answer without a.
    moved, _ = poll(lambda: answer(g) == ["127.0.0.42"], 30, 0.05)
    t_moved = time.monotonic()
    why = explain(g)
    assert moved, "a at 100 ms is still answered over b at 40 ms after 30 s"
    slow_samples = [r for r in a.replies_since(t0, min_ms=100) if r[0] < t_moved]
    assert len(slow_samples) >= 3, (
        "the answer moved after %d slow sample(s): one sample must not move it (%.2f s; a: %s"
        "; b: %s)" % (len(slow_samples), t_moved - t0,
                      [(round(r[0] - t0, 3), r[2]) for r in a.replies_since(t0 - 1)],
                      [(round(r[0] - t0, 3), r[2]) for r in b.replies_since(t0 - 1)]) +
        "\n".join(x for x in g.read_log().splitlines() if "health_change" in x) + str(why))
    # 5 -> 100 ms against 40 (+4 ms tolerance): the average crosses after
    # about 0.8 half-life (12 samples at 0.5 s).
    first = slow_samples[0][0]
    assert t_moved - first >= 0.25 * hl, (
        "moved %.2f s after the first slow sample (half-life %.1f s)" % (t_moved - first, hl))
    got, _ = poll(lambda: steady(g, ["127.0.0.42"]), 5, 0.1)
    assert got, "the answer does not stay on b"


def test_unknown_latency_follows_the_region_order(make_gtmd, slow):
    """An endpoint never measured (no check answers it yet: its pool has no
    check) is answered in the record's region order when no endpoint has a
    known latency; explain shows the table."""
    port, (a, b) = slow(["127.0.0.41", "127.0.0.42"])

    def fn(workdir, gport):
        c = single_config(port, [("a", "127.0.0.41"), ("b", "127.0.0.42")],
                          {"pool": "web", "policy": "latency", "regions": ["r2", "r1"]})(
                              workdir, gport)
        del c["pools"]["web"]["check"]
        del c["checks"]
        return c
    g = make_gtmd(fn)
    assert steady(g, ["127.0.0.42"]), "unknown latencies: the first region of the order"


def test_explain_shows_live_samples_and_why_the_scope_is_not_widened(make_gtmd, slow):
    """explain's table rows count the vantage point's samples and the age
    of its newest one at the time of the explain, not as of the table's
    last rebuild (only a move of the average rebuilds it: with steady
    round trips a live vantage point looked dead, "1 samples 20.3 s
    ago"); and a latency record's scope is said to be never widened,
    which is why, not a changing health state."""
    port, (a,) = slow(["127.0.0.41"])
    a.default_ms = 10
    # A half-life of 30 s: one sample weighs about 0.6 %, so the average
    # does not move past the margin (10 % and 2 ms) and the table stays
    # as first built.
    g = make_gtmd(single_config(
        port, [("a", "127.0.0.41")],
        {"pool": "web", "policy": "latency", "ttl": 5,
         "latency": {"vantage": {"network:10.1.0.0/16": "n1", "default": "n1"}}},
        latency_half_life=30))

    def row():
        t = explain(g, ecs="10.1.7.0/24")["latency"]["table"]
        return t[0] if t and t[0]["ewma_ms"] is not None else None
    got, _ = poll(lambda: (row() or {}).get("samples", 0) >= 6, 10, 0.1)
    assert got, "a is not measured: %s" % row()
    first = row()
    time.sleep(3.0)  # 12 probes at 0.25 s; a loaded host may run fewer
    p = explain(g, ecs="10.1.7.0/24")
    now = p["latency"]["table"][0]
    assert now["samples"] >= first["samples"] + 3, (first, now)
    assert now["age_s"] is not None and now["age_s"] < 2.0, (first, now)
    geo = p["geo"]
    assert geo["widened_scope"] is None and geo["scope"] == 16, geo
    assert geo["why_not_widened"].startswith("latency records are never widened"), geo
    # gtmctl prints both.
    out = gtmctl("--server", Admin.of(g).url, "--token-file", g.workdir + "/read.token",
                 "explain", "lat.example.com.", "--ecs", "10.1.7.0/24").stdout
    assert "not widened: latency records are never widened" in out, out
    ln = [x for x in out.splitlines() if x.startswith("  a ")]
    assert ln and float(ln[0].split("samples")[1].split()[0]) < 2.0, out


# ---- a fleet of three vantage points ------------------------------------

VANTAGE = {"network:10.1.0.0/16": "n1", "network:10.2.0.0/16": "n2",
           "network:10.3.0.0/16": "n3", "default": "n1"}


def fleet_node(made, urls, i, port, **extra):
    workdir = tempfile.mkdtemp(prefix="gtmd-lat-")
    from conftest import free_port
    gport = free_port()
    c = fleet_config(urls, "n%d" % i, "127.0.0.2%d" % i, port, latency_interval=0.5,
                     **extra)(workdir, gport)
    c["regions"] = {"r1": {}, "r2": {}, "r3": {}}
    # A timeout well above the slowest reply (150 ms): a loaded host must
    # not turn a slow endpoint into a failing one (no sample then).
    c["checks"] = {"web": check(port, fall=3, interval=0.5, timeout=0.45)}
    c["pools"] = {"web": {"check": "web", "endpoints": [
        {"name": "e%d" % k, "address": "127.0.0.5%d" % k, "region": "r%d" % k}
        for k in (1, 2, 3)]}}
    c["records"] = {
        "lat.example.com.": {"pool": "web", "policy": "latency", "ttl": 5,
                             "regions": ["r1", "r2", "r3"], "latency": {"vantage": VANTAGE}},
        "any.example.com.": {"pool": "web", "policy": "latency", "ttl": 5}}
    g = Node(workdir, c, gport)
    made.append(g)
    g.start()
    return g


def fleet_answers(ns):
    """{(node, client region): answer} for every node and client region."""
    return {(g.config["fleet"]["node"], k): answer(g, ecs="10.%d.7.0/24" % k)
            for g in ns for k in (1, 2, 3)}


def fleet_steady(ns, want, n=10):
    """n rounds in a row of fleet_answers are want (one round could match
    by chance while two endpoints are still within the tolerance)."""
    return all(fleet_answers(ns) == want for _ in range(n))


def test_fleet_each_region_gets_the_fastest_from_its_vantage(cluster, slow, made):  # noqa: F811
    port, bes = slow(["127.0.0.51", "127.0.0.52", "127.0.0.53"], default_ms=60)
    for k, be in enumerate(bes, 1):
        be.delays["127.0.0.2%d" % k] = 4  # each node is near its own region's backend
    t_start = time.monotonic()
    ns = [fleet_node(made, cluster.urls, i, port) for i in (1, 2, 3)]
    want = {(g.config["fleet"]["node"], k): ["127.0.0.5%d" % k] for g in ns for k in (1, 2, 3)}
    got, took = poll(lambda: fleet_steady(ns, want), 40, 0.2)
    assert got, "not every client region gets its vantage's fastest: %s" % fleet_answers(ns)
    # The vantage map's class gives the ECS scope, exactly.
    r = fast_query(ns[0].addr, ns[0].port, "lat.example.com.", ecs="10.2.7.0/24")
    assert r.options and r.options[0].scopelen == 16, "scope is not the key's /16"
    # Without a map, the node that answers is the vantage point (anycast).
    for i, g in enumerate(ns, 1):
        assert steady(g, ["127.0.0.5%d" % i], n=10, name="any.example.com."), (
            "n%d does not answer its own fastest for a record without a vantage map" % i)
    # explain on n1 shows n2's table for a client of n2's key.
    st, body = ns[0].get("/v1/explain?name=lat.example.com.&ecs=10.2.7.0/24")
    lat = body["policy"]["latency"]
    assert st == 200 and lat["vantage"] == "n2" and not lat["this_node"], lat
    assert lat["key"] == "network:10.2.0.0/16", lat
    rows = lat["table"]
    assert [x["endpoint"] for x in rows][0] == "e2" and rows[0]["within"], rows
    assert all(x["samples"] > 0 and x["ewma_ms"] is not None and x["age_s"] is not None
               for x in rows), rows
    assert rows[0]["ewma_ms"] < rows[1]["ewma_ms"] and not rows[1]["within"], rows

    # A latency change seen by n2 only moves n2's clients on every node.
    bes[1].delays["127.0.0.22"] = 150
    got, _ = poll(lambda: all(answer(g, ecs="10.2.7.0/24") != ["127.0.0.52"] for g in ns), 30, 0.2)
    assert got, "n2's clients still get e2 after it became slow from n2: %s" % fleet_answers(ns)
    # ... and only them: the other regions' clients keep their answers.
    for g in ns:
        for k in (1, 3):
            assert answer(g, ecs="10.%d.7.0/24" % k) == ["127.0.0.5%d" % k]

    # A dead endpoint is never answered for being fast: e1 fails for
    # everyone (a 503, as fast as ever); once down, n1's clients go to the
    # next fastest from n1 (60 ms e2 and e3 share).
    bes[0].failing = True
    got, _ = poll(lambda: all(answer(g, ecs="10.1.7.0/24") != ["127.0.0.51"] for g in ns), 15, 0.1)
    assert got, "e1 is still answered after failing"
    for g in ns:
        seen = {}
        for _ in range(100):
            for a in answer(g, ecs="10.1.7.0/24") or []:
                seen[a] = seen.get(a, 0) + 1
        assert "127.0.0.51" not in seen and set(seen) <= {"127.0.0.52", "127.0.0.53"}, seen

    # etcd's write rate from the tables stays bounded: at most one write
    # per node per latency_interval (0.5 s), whatever moved.
    elapsed = time.monotonic() - t_start
    for g in ns:
        w = g.metric("gtmd_fleet_latency_writes_total")
        read = g.metric("gtmd_fleet_latency_tables_read_total")
        assert w is not None and 1 <= w <= elapsed / 0.5 + 2, (w, elapsed)
        assert read and read >= 2, read


def test_fleet_signed_tables_count_and_forged_ones_do_not(cluster, slow, made,  # noqa: F811
                                                          tmp_path):
    """With "members" each table is signed on its node's lease: n1 uses
    n2's; a table for n2 written by someone else (the test, through etcd's
    gateway, signed by a key that is not n2's) is refused and changes no
    answer, and n2 writes its own over it; n2's own older table put back
    on its lease is refused as a replay (fleet_life.c)."""
    import base64
    import json
    from fleetlib import http_json, member_key
    keys = {n: member_key(tmp_path, n) for n in ("n1", "n2", "mallory")}
    members = {n: keys[n][1] for n in ("n1", "n2")}
    port, bes = slow(["127.0.0.51", "127.0.0.52", "127.0.0.53"], default_ms=40)
    for k, be in enumerate(bes, 1):
        be.delays["127.0.0.2%d" % k] = 4
    bes[2].delays["127.0.0.22"] = 100  # from n2: e2, then e1, then e3
    ns = [fleet_node(made, cluster.urls, i, port, key_file=keys["n%d" % i][0], members=members)
          for i in (1, 2)]
    got, _ = poll(lambda: steady(ns[0], ["127.0.0.52"], n=20, ecs="10.2.7.0/24"), 40, 0.2)
    assert got, "n1 does not use n2's signed table: %s" % answer(ns[0], ecs="10.2.7.0/24")
    held, _ = poll(lambda: (cluster.get_prefix("/gtmd/it/rtt/") or {}).get("/gtmd/it/rtt/n2"),
                   5, 0.1)
    assert held, cluster.get_prefix("/gtmd/it/")
    rec = json.loads(held)
    assert rec.get("signer") == "n2" and rec.get("sig") and rec.get("lease"), rec
    before = ns[0].fleet()["rejected"]
    forged = dict(rec, t=time.time(), signer="mallory",
                  e={"web/e1": [100, 50, 0], "web/e2": [90000, 50, 0], "web/e3": [90000, 50, 0]})
    forged.pop("sig")
    text = json.dumps(forged, separators=(",", ":"), sort_keys=True)
    with open(tmp_path / "msg", "wb") as f:
        f.write(b"gtmd-fleet-1\0/gtmd/it/rtt/n2\0" + text.encode())
    import subprocess
    sig = subprocess.run(["openssl", "pkeyutl", "-sign", "-rawin", "-inkey", keys["mallory"][0],
                          "-in", str(tmp_path / "msg")], check=True, capture_output=True,
                         timeout=20).stdout
    forged["sig"] = base64.b64encode(sig).decode()
    st, _ = http_json(cluster.urls[0] + "/v3/kv/put",
                      {"key": base64.b64encode(b"/gtmd/it/rtt/n2").decode(),
                       "value": base64.b64encode(json.dumps(forged).encode()).decode()})
    assert st == 200
    def refused():
        r = ns[0].fleet()["rejected"]
        return (sum(v for k, v in r.items() if k != "last") >
                sum(v for k, v in before.items() if k != "last") and
                r["last"]["key"] == "/gtmd/it/rtt/n2")
    ok, _ = poll(refused, 5, 0.05)
    assert ok, ns[0].fleet()["rejected"]
    # n2 saw its key overwritten by a record it does not accept: it writes
    # its own table again.
    def n2_own():
        v = (cluster.get_prefix("/gtmd/it/rtt/") or {}).get("/gtmd/it/rtt/n2")
        return v and json.loads(v).get("signer") == "n2"
    ok, _ = poll(n2_own, 10, 0.1)
    assert ok, "n2 did not write its table over the forged one"
    if not steady(ns[0], ["127.0.0.52"], n=20, ecs="10.2.7.0/24"):
        st, body = ns[0].get("/v1/explain?name=lat.example.com.&ecs=10.2.7.0/24")
        raise AssertionError("a forged table moved answers: %s; %s" % (
            body["policy"]["latency"], ns[0].read_log()[-3000:]))

    # n2's own table of a moment ago, put back on its lease once it wrote a
    # newer one (its averages moved: e2 became slow from n2): a replay,
    # refused (fleet_life.c), and n2's clients keep the newer view.
    def n2_table():
        v = (cluster.get_prefix("/gtmd/it/rtt/") or {}).get("/gtmd/it/rtt/n2")
        r = json.loads(v) if v else {}
        return r if r.get("signer") == "n2" and r.get("n", 0) > rec["n"] else None
    bes[1].delays["127.0.0.22"] = 150
    newer, _ = poll(n2_table, 30, 0.2)
    assert newer, "n2 wrote no newer table"
    got, _ = poll(lambda: steady(ns[0], ["127.0.0.51"], n=10, ecs="10.2.7.0/24"), 30, 0.2)
    assert got, "n2's clients do not follow its newer table: %s" % answer(ns[0], ecs="10.2.7.0/24")
    replays = ns[0].fleet()["rejected"]["replay"]
    st, _ = http_json(cluster.urls[0] + "/v3/kv/put",
                      {"key": base64.b64encode(b"/gtmd/it/rtt/n2").decode(),
                       "value": base64.b64encode(held.encode()).decode(), "lease": rec["lease"]})
    assert st == 200
    ok, _ = poll(lambda: ns[0].fleet()["rejected"]["replay"] > replays, 5, 0.05)
    assert ok, ns[0].fleet()["rejected"]
    assert steady(ns[0], ["127.0.0.51"], n=20, ecs="10.2.7.0/24"), "an old table was applied again"
    # n2 saw its older table put back and writes its own again.
    ok, _ = poll(lambda: (n2_table() or {}).get("n", 0) > newer["n"], 10, 0.1)
    assert ok, "n2 did not write its table again"


def test_health_aware_ttl_follows_the_rows_read(make_gtmd, slow):
    """With "ttl_min" (health-aware TTLs), a latency answer's TTL is the
    record's while steady, and shortens while the fastest endpoint is
    failing its first checks (its fall in progress may change the answer);
    once it is down and the next one serves steadily, the TTL is whole
    again."""
    port, (a, b) = slow(["127.0.0.41", "127.0.0.42"])
    a.default_ms, b.default_ms = 5, 40
    g = make_gtmd(single_config(port, [("a", "127.0.0.41"), ("b", "127.0.0.42")],
                                {"pool": "web", "policy": "latency", "ttl": 60, "ttl_min": 2},
                                interval=1.0, timeout=0.4, fall=3))

    def ttl_of(want):
        r = fast_query(g.addr, g.port, "lat.example.com.")
        addrs = [rd.to_text() for rr in (r.answer if r else []) for rd in rr]
        return r.answer[0].ttl if addrs == [want] else None

    got, _ = poll(lambda: steady(g, ["127.0.0.41"]) and ttl_of("127.0.0.41") == 60, 10, 0.1)
    assert got, "steady: a with the record's TTL (%s)" % ttl_of("127.0.0.41")
    a.failing = True
    short, _ = poll(lambda: (ttl_of("127.0.0.41") or 60) < 60 and ttl_of("127.0.0.41"), 5, 0.05)
    assert short and 2 <= short <= 3, "a failing, still up: the TTL is not shortened (%s)" % short
    got, _ = poll(lambda: ttl_of("127.0.0.42") == 60, 10, 0.1)
    assert got, "b serving steadily: the TTL is not whole again (%s)" % ttl_of("127.0.0.42")

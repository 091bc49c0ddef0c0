"""The prober fleet on a real 3-member etcd cluster (Debian's etcd-server,
started by hand on loopback ports) with three gtmd nodes, each probing from
its own source address (probe_source 127.0.0.21, .22, .23): the quorum rule,
failover on every node, shared overrides, losing the etcd leader and all of
etcd, a node's restart, expiry without the creating node, a prober-only
node, TLS and authentication, and the configuration's errors.

Backends: us1 on 127.0.0.31 and eu1 on 127.0.0.32 (fleetlib.Backend), an
http check every 0.25 s with fall 3 and rise 2; the record app.example.com.
fails over from us to eu. Every wait is a bounded poll."""
import json
import os
import re
import shutil
import subprocess
import tempfile
import time

import dns.edns
import pytest

from backends import poll
from conftest import GTMD
from fleetlib import (ETCDCTL, OPERATE_TOKEN, EtcdCluster, be, cluster,  # noqa: F401
                      fleet_config, http_json, made, need_etcd,
                      start_node)  # be, cluster, made: fixtures
from test_events import Stream


def events(n):
    """A GET /v1/events stream of node n (test_events.Stream)."""
    class At:
        port = int(n.config["admin"]["listen"].rsplit(":", 1)[1])
    return Stream(At, token=OPERATE_TOKEN)

US, EU = ["127.0.0.31"], ["127.0.0.32"]
PREFIX = "/gtmd/it/"


def three(cluster, be, made, **kw):
    return [start_node(made, cluster.urls, i, be["port"], **kw) for i in (1, 2, 3)]


def all_answer(nodes, want, timeout=8.0):
    """Polls until every node answers want; returns the seconds it took."""
    ok, t = poll(lambda: all(n.answer() == want for n in nodes), timeout)
    assert ok, "answers %s, wanted %s" % ([n.answer() for n in nodes], want)
    return t


def steady(nodes, want, seconds):
    """Every node answers want at every sample for seconds."""
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        got = [n.answer() for n in nodes]
        assert got == [want] * len(nodes), got
        time.sleep(0.05)


def fleet_synced(n):
    f = n.fleet()
    return f and f["connection"] == "synced" and len([x for x in f["nodes"] if x["live"]]) == 3


@pytest.mark.threads
def test_refused_from_one_vantage_point_does_not_fail_over(cluster, be, made):
    be["us"].refused = {"127.0.0.21"}
    n1 = start_node(made, cluster.urls, 1, be["port"], node=None, args=["--node", "n1"])
    n2 = start_node(made, cluster.urls, 2, be["port"])
    n3 = start_node(made, cluster.urls, 3, be["port"])
    nodes = [n1, n2, n3]
    assert poll(lambda: all(fleet_synced(n) for n in nodes), 10)[0]
    # n1's own probe says down; the others say up: quorum (2 of 3) not met.
    assert poll(lambda: n1.endpoint("us1")["state"]["probe"] == "down", 5)[0]
    all_answer(nodes, US)
    steady(nodes, US, 2.0)
    e = n1.endpoint("us1")
    assert e["state"]["probe"] == "down" and e["state"]["fleet"] == "up"
    assert e["state"]["effective"] == "up"
    assert e["fleet"]["disagrees"] is True and e["fleet"]["own"] == "down"
    assert e["fleet"]["observations"] == {"n1": "down", "n2": "up", "n3": "up"}
    assert re.fullmatch(r"up: 2 of 3 vantage points \((n2, n3|n3, n2); n1 says down\)",
                        e["fleet"]["explain"]), e["fleet"]["explain"]
    assert n1.metric("gtmd_fleet_disagreements") == 1
    assert n2.metric("gtmd_fleet_disagreements") == 0
    assert n2.metric("gtmd_fleet_nodes") == 3 and n2.metric("gtmd_fleet_connected") == 1
    st, ex = n3.get("/v1/explain?name=app.example.com")
    assert st == 200
    us1 = [x for x in ex["policy"]["endpoints"] if x["name"] == "us1"][0]
    assert us1["fleet"]["verdict"] == "up" and us1["fleet"]["observations"]["n1"] == "down"
    f = n2.fleet()
    names = {x["name"]: x for x in f["nodes"]}
    assert set(names) == {"n1", "n2", "n3"} and names["n2"]["self"]
    assert names["n1"]["vantage"] == ["127.0.0.21"] and names["n3"]["vantage"] == ["127.0.0.23"]
    assert all(x["config_matches"] for x in f["nodes"]) and not f["config_mismatch"]
    assert f["down_quorum"] == "majority" and not f["degraded"]
    # Which node answered: id.server / hostname.bind CH TXT and NSID give
    # the node name (--node for n1, the config's node for n3).
    for n, name in ((n1, "n1"), (n3, "n3")):
        for qname in ("id.server.", "hostname.bind."):
            r = n.query(qname, "TXT", rdclass="CH")
            assert [t.strings[0].decode() for rr in r.answer for t in rr] == [name], r
        r = n.query("app.example.com.", "A", use_edns=0,
                    options=[dns.edns.GenericOption(dns.edns.NSID, b"")])
        nsid = [o for o in r.options if o.otype == dns.edns.NSID]
        assert nsid and bytes(nsid[0].data if hasattr(nsid[0], "data") else nsid[0].nsid) == \
            name.encode(), r
    # A second vantage point refused: quorum met, every node fails over,
    # n3 included although its own probe still passes.
    be["us"].refused = {"127.0.0.21", "127.0.0.22"}
    all_answer(nodes, EU)
    e3 = n3.endpoint("us1")
    assert e3["state"]["probe"] == "up" and e3["state"]["fleet"] == "down"
    assert re.fullmatch(r"down: 2 of 3 vantage points \((n1, n2|n2, n1); n3 says up\)",
                        e3["fleet"]["explain"]), e3["fleet"]["explain"]
    # Logged just after the verdict is applied.
    ok, _ = poll(lambda: "event=fleet_verdict endpoint=endpoint:web/us1 from=up to=down" in
                 n3.read_log(), 5, 0.05)
    assert ok, n3.read_log()[-2000:]


def test_dead_backend_flips_all_three(cluster, be, made):
    nodes = three(cluster, be, made)
    all_answer(nodes, US)
    be["us"].stop()
    took = all_answer(nodes, EU, timeout=5)
    assert took < 3.0, took
    for n in nodes:
        assert n.endpoint("us1")["fleet"]["verdict"] == "down"
    be["us"].start()
    all_answer(nodes, US, timeout=8)


def stamps_current(node, peers=3):
    """node's status shows every live node's heartbeat stamp (issue #54),
    none pending, and holds the report each peer's heartbeat names."""
    f = node.fleet()
    live = [x for x in f["nodes"] if x["live"]] if f else []
    return len(live) == peers and all(
        x["as_of"] is not None and x["pending"] is False and x["rrev"] >= 1 and
        (x["self"] or x["rrev_held"] >= x["rrev"]) for x in live) and live


def test_reports_and_heartbeats_carry_probe_stamps(cluster, be, made):
    """A report says when its probe ran ("t") and its sequence ("rrev");
    a heartbeat how current its writer's reports are (as_of, rrev,
    pending), shown in /v1/status fleet.nodes[] (doc/fleet.md: the
    stamped rule's inputs; the live verdict does not use them yet)."""
    nodes = three(cluster, be, made)
    all_answer(nodes, US)
    # Heartbeats every 0.5 s, reports written within a tick: 10 s is
    # ample, also under ASan.
    live, _ = poll(lambda: stamps_current(nodes[0]), 10)
    assert live, nodes[0].fleet()["nodes"]
    now = time.time()
    for x in live:
        # as_of is the earliest last probe run (interval 0.25 s, timeout
        # 0.2 s) when the last heartbeat (every 0.5 s) was written, all on
        # this machine's clock: at most about 1 s old; 4 s leaves ASan room.
        assert -0.5 < now - x["as_of"] < 4.0, (now, x)
    prefix = nodes[0].fleet()["prefix"]
    reports = {k: json.loads(v) for k, v in cluster.get_prefix(prefix + "reports/").items()}
    assert reports, "no report in etcd"
    for k, v in reports.items():
        assert isinstance(v.get("rrev"), int) and v["rrev"] >= 1, (k, v)
        assert 0 < v["t"] <= time.time() + 0.5, (k, v)
    # A kill moves each node's probe: new reports, a higher sequence, and
    # the stamps are current again once written.
    before = {x["name"]: x["rrev"] for x in live}
    be["us"].stop()
    all_answer(nodes, EU, timeout=5)

    def moved_on():
        live = stamps_current(nodes[1])
        return live and all(x["rrev"] > before[x["name"]] for x in live)

    moved, _ = poll(moved_on, 10)
    assert moved, nodes[1].fleet()["nodes"]
    assert all(v == 0 for v in nodes[1].fleet()["stamps_refused"].values())
    be["us"].start()


@pytest.mark.threads
def test_override_on_one_node_is_served_by_another(cluster, be, made):
    n1, n2, n3 = nodes = three(cluster, be, made)
    all_answer(nodes, US)
    ev = events(n3)
    st, dry = n2.post("/v1/overrides", {"target": "region:us", "state": "down",
                                        "reason": "dry", "dry_run": True})
    assert st == 200 and dry["changes"][0]["after"]["serving_region"] == "eu"
    st, o = n1.post("/v1/overrides", {"target": "region:us", "state": "down",
                                      "reason": "drain us CHG-1"})
    assert st == 201, o
    assert o["node"] == "n1" and re.fullmatch(r"ovr-\d+", o["id"])
    # Applied on n1 before the reply; on the others on the watch.
    assert n1.answer() == EU
    all_answer(nodes, EU, timeout=2)
    st, lst = n3.get("/v1/overrides")
    assert [x["id"] for x in lst["overrides"]] == [o["id"]]
    assert lst["overrides"][0]["reason"] == "drain us CHG-1"
    # n3 tells its event stream that an override came from the fleet.
    assert ev.wait_for(lambda e: e[1] == "override" and e[2].get("override") == o["id"] and
                       e[2].get("source") == "fleet")
    ev.close()
    # The safety rule sees the fleet's override: eu down too would leave
    # the record unserved, on any node.
    st, err = n2.post("/v1/overrides", {"target": "region:eu", "state": "down", "reason": "x"})
    assert st == 409 and err["error"]["code"] == "unsafe"
    with open(os.path.join(n1.workdir, "audit.log")) as f:
        line = json.loads(f.readline())
    assert line["node"] == "n1" and line["status"] == 201
    keys = cluster.get_prefix(PREFIX + "overrides/")
    assert list(keys) == [PREFIX + "overrides/" + o["id"]]
    # Deleting it on n3 ends it everywhere; ids are never reused.
    st, d = n3.delete("/v1/overrides/" + o["id"])
    assert st == 200, d
    all_answer(nodes, US, timeout=2)
    st, d = n2.delete("/v1/overrides/" + o["id"])
    assert st == 404
    st, o2 = n2.post("/v1/overrides", {"target": "endpoint:web/eu1", "state": "up",
                                       "reason": "next"})
    assert st == 201 and int(o2["id"][4:]) > int(o["id"][4:])
    # n3 saves what its watch delivered, a moment after n2's reply.
    saved = None
    for _ in range(50):  # up to 5 s
        with open(os.path.join(n3.workdir, "state.json")) as f:
            saved = json.load(f)
        if [x["id"] for x in saved["overrides"]] == [o2["id"]]:
            break
        time.sleep(0.1)
    assert [x["id"] for x in saved["overrides"]] == [o2["id"]]


@pytest.mark.threads
def test_drills_are_fleet_wide(cluster, be, made):
    n1, n2, n3 = nodes = three(cluster, be, made)
    all_answer(nodes, US)
    # A live drill started on n1 is lost on every node.
    st, d = n1.post("/v1/drills", {"regions": ["us"], "mode": "live", "duration": 60,
                                   "reason": "fleet drill", "force": True})
    assert st == 201, d
    assert re.fullmatch(r"drl-\d+", d["id"]) and d["state"] == "active"
    assert n1.answer() == EU
    all_answer(nodes, EU, timeout=2)
    st, d3 = n3.get("/v1/drills/" + d["id"])
    assert st == 200 and d3["state"] == "active" and d3["ends"] == d["ends"]
    assert list(cluster.get_prefix(PREFIX + "drills/")) == [PREFIX + "drills/" + d["id"]]
    # One live drill per region, fleet-wide: n2 refuses a second one.
    st, err = n2.post("/v1/drills", {"regions": ["us"], "mode": "live", "duration": 60,
                                     "reason": "second", "force": True})
    assert st == 409 and err["error"]["code"] == "conflict"
    # Aborted on n2: it ends on every node and its key goes.
    st, ended = n2.delete("/v1/drills/" + d["id"])
    assert st == 200 and ended["result"] == "aborted", ended
    all_answer(nodes, US, timeout=2)
    assert cluster.get_prefix(PREFIX + "drills/") == {}
    ok, _ = poll(lambda: n1.get("/v1/drills/" + d["id"])[1]["result"] == "aborted", 3)
    assert ok
    # A short one started on n3 passes on every node at its end.
    st, s = n3.post("/v1/drills", {"regions": ["us"], "mode": "live", "duration": 2,
                                   "reason": "short", "force": True})
    assert st == 201, s
    assert int(s["id"][4:]) > int(d["id"][4:])
    all_answer(nodes, EU, timeout=2)
    all_answer(nodes, US, timeout=5)
    for n in nodes:
        ok, _ = poll(lambda: n.get("/v1/drills/" + s["id"])[1]["result"] == "passed", 3)
        assert ok, n.get("/v1/drills/" + s["id"])
    ok, _ = poll(lambda: cluster.get_prefix(PREFIX + "drills/") == {}, 5, 0.2)
    assert ok


def test_etcd_leader_lost_changes_no_answer(cluster, be, made):
    nodes = three(cluster, be, made)
    all_answer(nodes, US)
    leader = cluster.leader()
    assert leader is not None
    leader.stop(kill=True)
    steady(nodes, US, 3.0)
    # Writes may fail (503) during the election, then work again.
    def write():
        st, body = nodes[1].post("/v1/overrides", {"target": "region:us", "state": "down",
                                                  "reason": "after the election"})
        assert st in (201, 503), (st, body)
        return st == 201
    ok, took = poll(write, 20, 0.25)
    assert ok
    all_answer(nodes, EU, timeout=3)


@pytest.mark.threads
def test_etcd_lost_degrades_to_own_probes_then_resyncs(cluster, be, made):
    be["us"].refused = {"127.0.0.21"}
    n1, n2, n3 = nodes = three(cluster, be, made)
    assert poll(lambda: all(fleet_synced(n) for n in nodes), 10)[0]
    assert poll(lambda: n1.endpoint("us1")["state"]["probe"] == "down", 5)[0]
    all_answer(nodes, US)
    ev = events(n1)
    for m in cluster.members:
        m.stop(kill=True)
    t0 = time.monotonic()
    # Last known fleet state first: nothing changes...
    steady(nodes, US, 1.5)
    # ... and writes are refused, never half applied.
    st, err = n2.post("/v1/overrides", {"target": "region:us", "state": "down", "reason": "x"})
    assert st == 503 and err["error"]["code"] == "etcd_unavailable", (st, err)
    # After stale_after (3 s) n1 falls back to its own probe and fails over.
    # The view's age counts from its last heartbeat seen back on the watch
    # (every 0.5 s), sent up to 0.5 s before the first member died, and
    # stopping the three members takes a moment before t0.
    ok, _ = poll(lambda: n1.answer() == EU, 8)
    assert ok and time.monotonic() - t0 >= 2.0
    assert n2.answer() == US and n3.answer() == US
    assert n1.fleet()["degraded"] and n1.metric("gtmd_fleet_degraded") == 1
    assert n1.metric("gtmd_fleet_connected") == 0
    assert n1.endpoint("us1")["state"]["fleet"] is None
    # Logged just after the fallback is applied.
    ok, _ = poll(lambda: "event=fleet_degraded node=n1" in n1.read_log(), 5, 0.05)
    assert ok, n1.read_log()[-2000:]
    assert ev.wait_for(lambda e: e[1] == "fleet" and e[2]["action"] == "degraded")
    # Its own probe decides now: the verdict on us1 is gone from the SSE too
    # once the fleet comes back (below).
    # etcd back: a fresh read, and the fleet decides again.
    for m in cluster.members:
        m.start()
    ok, _ = poll(lambda: all(not n.fleet()["degraded"] for n in nodes), 20, 0.2)
    assert ok
    all_answer(nodes, US, timeout=5)
    # Logged just after the verdicts are recomputed.
    ok, _ = poll(lambda: "event=fleet_recovered node=n1" in n1.read_log(), 5, 0.05)
    assert ok, n1.read_log()[-2000:]
    assert ev.wait_for(lambda e: e[1] == "fleet" and e[2]["action"] == "recovered")
    ev.close()
    # Every member refused its calls: the session was kept while they were
    # retried (doc/fleet.md, "kept session"). Whether it then expired (a
    # fresh read) depends on whether the members came back within
    # stale_after of the last quorum reply, which this test does not fix.
    assert n1.fleet()["calls_kept"] >= 1, n1.fleet()
    assert n1.metric("gtmd_fleet_degraded_total") == 1


@pytest.mark.threads
def test_practice_drills_wait_while_the_fleet_is_degraded(cluster, be, made):
    """A practice drill due while etcd is lost is skipped with reason
    fleet_degraded (the fleet client tells the drill core), and runs again
    once the fleet has recovered."""
    practice = {"name": "eu-live", "regions": ["eu"], "mode": "live", "duration": 1,
                "interval": 2}
    n1 = start_node(made, cluster.urls, 1, be["port"], start=False)
    n1.config["drills"] = {"practice": [practice]}
    n1.start()

    def prac():
        st, body = n1.get("/v1/drills")
        assert st == 200, body
        return {p["name"]: p for p in body["practice"]}["eu-live"]
    assert poll(lambda: n1.fleet()["connection"] == "synced", 10)[0], n1.fleet()
    assert poll(lambda: prac()["last_start"] is not None, 5)[0], prac()
    for m in cluster.members:
        m.stop(kill=True)
    assert poll(lambda: n1.fleet()["degraded"], 10, 0.2)[0]
    t_degraded = time.time()
    ok, _ = poll(lambda: (prac()["skip"] or {}).get("reason") == "fleet_degraded", 6, 0.1)
    p = prac()
    assert ok, p
    assert "the fleet is degraded: no reply from etcd" in p["skip"]["why"], p
    assert p["last_start"] < t_degraded, "no practice started while degraded: %s" % p
    # Logged just after the skip is recorded.
    ok, _ = poll(lambda: "event=drill_practice_skip name=eu-live skip=fleet_degraded" in
                 n1.read_log(), 5, 0.05)
    assert ok, n1.read_log()[-2000:]
    for m in cluster.members:
        m.start()
    assert poll(lambda: not n1.fleet()["degraded"], 20, 0.2)[0]
    ok, _ = poll(lambda: prac()["last_start"] > t_degraded, 8, 0.2)
    assert ok, "the practice runs again once the fleet recovered: %s" % prac()


def test_restarted_node_rejoins_with_shared_overrides(cluster, be, made):
    n1, n2, n3 = nodes = three(cluster, be, made)
    all_answer(nodes, US)
    n3.stop()
    st, o = n1.post("/v1/overrides", {"target": "region:us", "state": "down",
                                      "reason": "while n3 was away"})
    assert st == 201
    os.unlink(os.path.join(n3.workdir, "state.json"))  # only etcd knows it now
    n3.start()
    # Its first answers already carry the fleet's override.
    assert n3.answer() == EU
    st, lst = n3.get("/v1/overrides")
    assert [x["id"] for x in lst["overrides"]] == [o["id"]]
    assert poll(lambda: fleet_synced(n1), 5)[0]


def test_expiry_happens_with_the_creating_node_stopped(cluster, be, made):
    n1, n2, n3 = nodes = three(cluster, be, made)
    all_answer(nodes, US)
    st, o = n1.post("/v1/overrides", {"target": "region:us", "state": "down",
                                      "reason": "short", "expires_in": 3})
    assert st == 201
    all_answer(nodes, EU, timeout=2)
    n1.stop()
    # n1's observations go with its lease; the override has its own.
    ok, _ = poll(lambda: n2.fleet()["nodes"] and
                 len([x for x in n2.fleet()["nodes"] if x["live"]]) == 2, 5)
    assert ok
    all_answer([n2, n3], US, timeout=8)
    ok, _ = poll(lambda: cluster.get_prefix(PREFIX + "overrides/") == {}, 8, 0.2)
    assert ok
    assert re.search(r'event=override_remove id=%s target="?region:us"? '
                     r'why=(expired|removed_in_fleet)' % o["id"], n2.read_log())


def test_prober_only_node_is_a_vantage_point(cluster, be, made):
    n1 = start_node(made, cluster.urls, 1, be["port"])
    n2 = start_node(made, cluster.urls, 2, be["port"])
    n3 = start_node(made, cluster.urls, 3, be["port"], listen=False)
    assert poll(lambda: all(fleet_synced(n) for n in (n1, n2, n3)), 10)[0]
    all_answer([n1, n2], US)
    be["us"].refused = {"127.0.0.21", "127.0.0.23"}  # n1 and the prober-only n3
    all_answer([n1, n2], EU)
    assert n2.endpoint("us1")["state"]["probe"] == "up"
    assert n2.endpoint("us1")["fleet"]["observations"]["n3"] == "down"


def make_tls(workdir):
    os.makedirs(workdir, exist_ok=True)
    cert, key = os.path.join(workdir, "etcd.pem"), os.path.join(workdir, "etcd.key")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-subj",
                    "/CN=etcd-test", "-days", "1", "-keyout", key, "-out", cert, "-addext",
                    "subjectAltName=IP:127.0.0.1"], check=True, capture_output=True, timeout=60)
    return cert, key


def test_tls_and_password(be, made):
    why = need_etcd()
    if why:
        pytest.skip(why)
    tmp = tempfile.mkdtemp(prefix="gtmd-etcd-tls-")
    cert, key = make_tls(tmp)
    c = EtcdCluster(1, scheme="https", member_extra=["--cert-file", cert, "--key-file", key])
    try:
        c.members[0].start()
        url = c.urls[0]
        ctl = [ETCDCTL, "--endpoints", url, "--cacert", cert]
        env = dict(os.environ, ETCDCTL_API="3")

        def ctl_ok(*args):
            return subprocess.run(ctl + list(args), env=env, capture_output=True,
                                  timeout=10).returncode == 0
        assert poll(lambda: ctl_ok("endpoint", "health"), 20, 0.2)[0]
        assert ctl_ok("user", "add", "root:s3cret-pw")
        assert ctl_ok("auth", "enable")
        with open(os.path.join(tmp, "pw"), "w") as f:
            f.write("s3cret-pw\n")
        with open(os.path.join(tmp, "bad"), "w") as f:
            f.write("wrong\n")
        tls = {"ca_file": cert}
        n1 = start_node(made, [url], 1, be["port"], tls=tls, username="root",
                        password_file=os.path.join(tmp, "pw"))
        n2 = start_node(made, [url], 2, be["port"], tls=tls, username="root",
                        password_file=os.path.join(tmp, "bad"))
        # A certificate from another CA is refused (no connection at all).
        other, _ = make_tls(os.path.join(tmp, "other"))
        n3 = start_node(made, [url], 3, be["port"], tls={"ca_file": other}, username="root",
                        password_file=os.path.join(tmp, "pw"))
        assert poll(lambda: n1.fleet()["connection"] == "synced", 10)[0]
        st, o = n1.post("/v1/overrides", {"target": "region:us", "state": "down", "reason": "t"})
        assert st == 201
        assert poll(lambda: n1.answer() == EU, 3)[0]
        # A wrong password never connects; the node serves its own probes.
        time.sleep(1)
        assert n2.fleet()["connection"] != "synced" and n2.answer() == US
        assert "event=fleet_etcd_auth result=failed" in n2.read_log()
        st, err = n2.post("/v1/overrides", {"target": "region:us", "state": "down", "reason": "t"})
        assert st == 503
        assert n3.fleet()["connection"] != "synced" and n3.answer() == US
        assert "event=fleet_etcd_error" in n3.read_log()
    finally:
        c.stop()
        shutil.rmtree(tmp, ignore_errors=True)


def test_config_errors_name_the_json_path(tmp_path):
    fn = fleet_config(["ftp://x", 5], "bad name", "127.0.0.21", 1, down_quorum="most",
                      stale_after=0.5, tls={"ca_file": "missing.pem", "nope": 1},
                      username="root", isolation={"after": 0, "action": "drop"},
                      decision="quorum")
    cfg = fn(str(tmp_path), 1)
    cfg["probe_source"] = ["127.0.0.21", "127.0.0.22", "::1:53"]
    path = tmp_path / "gtmd.json"
    path.write_text(json.dumps(cfg))
    r = subprocess.run([GTMD, "check", "-c", str(path)], capture_output=True, timeout=30)
    err = r.stderr.decode()
    assert r.returncode == 1
    for want in ("$.fleet.etcd[0]: must be a URL", "$.fleet.etcd[1]: must be a URL",
                 "$.fleet.node: \"bad name\" is not a node name", "$.fleet.down_quorum: must be",
                 "$.fleet.stale_after", "$.fleet.tls: unknown key \"nope\"",
                 "$.fleet.tls.ca_file: cannot read",
                 "$.fleet.password_file: username and password_file",
                 "$.probe_source: must be an array of one or two addresses",
                 "$.fleet.isolation.after",
                 '$.fleet.isolation.action: must be "serve", "refuse" or "servfail"',
                 '$.fleet.decision: must be "stamped" or "gaps"'):
        assert want in err, (want, err)
    cfg["probe_source"] = ["127.0.0.21", "127.0.0.22"]
    del cfg["fleet"]
    cfg["listen"] = []
    path.write_text(json.dumps(cfg))
    err = subprocess.run([GTMD, "check", "-c", str(path)], capture_output=True,
                         timeout=30).stderr.decode()
    assert "$.probe_source[1]: a second IPv4 address" in err
    assert "$.listen: must be a non-empty array" in err and "prober-only" in err
    # A valid file with a bad --node: gtmd refuses to start.
    ok = fleet_config(["http://127.0.0.1:1"], None, "127.0.0.21", 1)(str(tmp_path), 1)
    path.write_text(json.dumps(ok))
    assert subprocess.run([GTMD, "check", "-c", str(path)], capture_output=True,
                          timeout=30).returncode == 0
    r = subprocess.run([GTMD, "-c", str(path), "--node", "x y"], capture_output=True, timeout=30)
    assert r.returncode == 1
    assert '--node: "x y" is not a node name' in r.stderr.decode()


def test_every_tls_file_is_checked(tmp_path):
    """Each TLS file given is checked for readability on its own, whichever
    others are absent, and each error names its own JSON path."""
    def errors(tls):
        cfg = fleet_config(["https://127.0.0.1:1"], None, "127.0.0.21", 1, tls=tls)(
            str(tmp_path), 1)
        path = tmp_path / "gtmd.json"
        path.write_text(json.dumps(cfg))
        r = subprocess.run([GTMD, "check", "-c", str(path)], capture_output=True, timeout=30)
        lines = [x for x in r.stderr.decode().splitlines() if "cannot read" in x]
        return r.returncode, lines

    (tmp_path / "ca.pem").write_text("not checked for content here\n")
    (tmp_path / "client.key").write_text("x\n")
    # A client certificate without a CA file: both missing files are named.
    rc, lines = errors({"cert_file": "client.pem", "key_file": "gone.key"})
    assert rc == 1
    assert len(lines) == 2, lines
    assert "$.fleet.tls.cert_file: cannot read %s" % (tmp_path / "client.pem") in lines[0], lines
    assert "$.fleet.tls.key_file: cannot read %s" % (tmp_path / "gone.key") in lines[1], lines
    # Only the missing one of three.
    rc, lines = errors({"ca_file": "ca.pem", "cert_file": "client.pem", "key_file": "client.key"})
    assert rc == 1
    assert len(lines) == 1 and "$.fleet.tls.cert_file: cannot read" in lines[0], lines
    rc, lines = errors({"ca_file": "no-ca.pem", "cert_file": "ca.pem", "key_file": "client.key"})
    assert rc == 1
    assert len(lines) == 1 and "$.fleet.tls.ca_file: cannot read" in lines[0], lines
    # A key alone is still refused for its missing certificate, and read too.
    rc, lines = errors({"key_file": "gone.key"})
    assert rc == 1
    assert len(lines) == 1 and "$.fleet.tls.key_file: cannot read" in lines[0], lines
    # All present: no error.
    rc, lines = errors({"cert_file": "ca.pem", "key_file": "client.key"})
    assert rc == 0 and not lines, lines


def test_config_api_in_a_fleet_says_it_changes_this_node_only(cluster, be, made):
    """The configuration API on a fleet node (doc/automation.md, "Not yet"):
    the change is made to that node's file only, its reply says so, and
    the other nodes report the differing files (config_mismatch)."""
    n1, n2 = [start_node(made, cluster.urls, i, be["port"], start=False) for i in (1, 2)]
    for n in (n1, n2):
        n.config["config_api"] = {"history_dir": "history"}
        n.start()
    ok, _ = poll(lambda: all((n.fleet() or {}).get("connection") == "synced" for n in (n1, n2)),
                 10.0)
    assert ok, [n.fleet() for n in (n1, n2)]
    st, body = http_json(n1.admin + "/v1/config/regions/sa", {}, method="PUT", timeout=30,
                         headers=n1.AUTH)
    assert st == 201, body
    assert any("one of a fleet" in w for w in body.get("warnings", [])), body
    ok, _ = poll(lambda: (n2.fleet() or {}).get("config_mismatch") is True, 10.0)
    assert ok, n2.fleet()

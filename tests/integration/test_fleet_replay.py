"""Signed fleet records that cannot come back (issue #37, finding 1): a
writer to the etcd prefix who holds no member key (the test itself, with
plain puts through etcd's JSON gateway) captures what members signed and
puts it back later. An override deleted through the API, a drill aborted
through the API, an older value of an override under an id used again (the
id counter, a plain number, put back), a configuration head put back, and a
member's superseded report: none of them moves an answer on either of two
signed nodes; each is refused, counted (fleet.rejected.replay in status,
gtmd_fleet_rejected_total{reason="replay"}) and logged (event=fleet_rejected
... why=replay). A non-member can still delete (an override disappears) and
delay; doc/security.md lists both with the tests here that show them.
Needs etcd (skipped otherwise); every wait is a bounded poll."""
import base64
import json
import re
import time

import pytest

from backends import poll
from fleetlib import (b64, be, etcd, http_json, made, member_keys,  # noqa: F401
                      need_etcd, start_node)  # be, etcd, made: fixtures

US, EU = ["127.0.0.31"], ["127.0.0.32"]

pytestmark = pytest.mark.skipif(need_etcd() is not None, reason=need_etcd() or "")


@pytest.fixture(scope="module")
def keys():
    yield from member_keys(("n1", "n2", "n3"))


def etcd_put(etcd, key, value, lease=0):
    """A plain put, as any writer of the prefix can make (on a lease when
    given: any writer may name a lease that exists)."""
    body = {"key": b64(key), "value": b64(value)}
    if lease:
        body["lease"] = lease
    st, body = http_json(etcd.urls[0] + "/v3/kv/put", body, timeout=3)
    assert st == 200, (st, body)


def pool_state(raw, name):
    """An endpoint's state in a node's pool key (reports/NODE/POOL, key
    layout 3): "up", "down", or None when the key (or the name) is absent."""
    v = json.loads(raw or "{}")
    return "up" if name in v.get("up", []) else "down" if name in v.get("down", []) else None


def etcd_get(etcd, key):
    st, body = http_json(etcd.urls[0] + "/v3/kv/range", {"key": b64(key)}, timeout=3)
    assert st == 200, (st, body)
    kvs = body.get("kvs") or []
    return base64.b64decode(kvs[0]["value"]).decode() if kvs else None


def signed_node(etcd, keys, made, be, prefix, i):
    """Member n<i> started alone on prefix, once synced."""
    mem = {n: keys[n][1] for n in ("n1", "n2", "n3")}
    g = start_node(made, etcd.urls, i, be["port"], key_file=keys["n%d" % i][0], members=mem,
                   prefix=prefix)
    ok, _ = poll(lambda: (g.fleet() or {}).get("connection") == "synced", 10, 0.1)
    assert ok, g.fleet()
    return g


def signed_pair(etcd, keys, made, be, prefix, config_fleet=False, names=("n1", "n2", "n3")):
    """n1 and n2 of members names, synced and answering. A member never
    seen (n3) holds the fleet's write format at 2 (fleet_compat.h) and
    with it the key layout at 2: a test of pool keys passes
    names=("n1", "n2")."""
    mem = {n: keys[n][1] for n in names}
    nodes = [start_node(made, etcd.urls, i, be["port"], start=False, key_file=keys["n%d" % i][0],
                        members=mem, prefix=prefix) for i in (1, 2)]
    for g in nodes:
        if config_fleet:
            g.config["config_api"] = {"history_dir": "history", "fleet": True}
        g.start()
    ok, _ = poll(lambda: all(g.fleet() and g.fleet()["connection"] == "synced" and
                             len([x for x in g.fleet()["nodes"] if x["live"]]) == 2
                             for g in nodes), 20, 0.2)
    assert ok, [g.fleet() for g in nodes]
    ok, _ = poll(lambda: all(g.answer() == US for g in nodes), 10, 0.1)
    assert ok, [g.answer() for g in nodes]
    return nodes


def refused_as_replay(nodes, key, before=None):
    """Every node counts a replay (more than before), in status and metric,
    and logs it for key."""
    before = before or [0] * len(nodes)
    ok, _ = poll(lambda: all(g.fleet()["rejected"].get("replay", 0) > b
                             for g, b in zip(nodes, before)), 5, 0.05)
    assert ok, [g.fleet()["rejected"] for g in nodes]
    for g in nodes:
        assert g.metric('gtmd_fleet_rejected_total{reason="replay"}') >= 1
        ok, _ = poll(lambda: re.search(r"event=fleet_rejected key=%s why=replay " % re.escape(key),
                                       g.read_log()), 5, 0.05)
        assert ok, g.read_log()[-2000:]


def replays(g):
    return g.fleet()["rejected"].get("replay", 0)


def steady(nodes, want, seconds=2.0):
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        for g in nodes:
            assert g.answer() == want, (g.answer(), g.fleet()["rejected"])
        time.sleep(0.1)


def listed(g, kind, i):
    st, body = g.get("/v1/" + kind)
    assert st == 200, body
    if kind == "overrides":
        return any(o["id"] == i for o in body["overrides"])
    return any(d["id"] == i for d in body.get("active", []))


def test_a_deleted_override_put_back_is_refused(etcd, keys, made, be):
    """The finding: region:us down made through n1, deleted through n1, and
    its captured signed value put back at its key with a plain etcd put."""
    prefix = "/gtmd/rp1/"
    n1, n2 = signed_pair(etcd, keys, made, be, prefix)
    st, body = n1.post("/v1/overrides", {"target": "region:us", "state": "down",
                                        "reason": "maintenance"})
    assert st == 201, (st, body)
    key = prefix + "overrides/" + body["id"]
    ok, _ = poll(lambda: all(g.answer() == EU for g in (n1, n2)), 5, 0.05)
    assert ok, [g.answer() for g in (n1, n2)]
    captured = etcd_get(etcd, key)
    assert captured and json.loads(captured)["signer"] == "n1", captured
    st, _ = n1.delete("/v1/overrides/" + body["id"])
    assert st == 200
    ok, _ = poll(lambda: all(g.answer() == US and not listed(g, "overrides", body["id"])
                             for g in (n1, n2)), 5, 0.05)
    assert ok
    etcd_put(etcd, key, captured)
    steady([n1, n2], US)
    refused_as_replay([n1, n2], key)
    for g in (n1, n2):
        assert not listed(g, "overrides", body["id"])
    # A node that starts now (no memory of the deletion) refuses it too.
    n2.stop()
    n2.start()
    ok, _ = poll(lambda: (n2.fleet() or {}).get("connection") == "synced", 10, 0.1)
    assert ok
    refused_as_replay([n2], key)
    steady([n1, n2], US, 1.0)


def test_an_aborted_drill_put_back_is_refused(etcd, keys, made, be):
    prefix = "/gtmd/rp2/"
    n1, n2 = signed_pair(etcd, keys, made, be, prefix)
    st, d = n1.post("/v1/drills", {"regions": ["us"], "mode": "live", "duration": 120,
                                   "reason": "drill"})
    assert st == 201, d
    key = prefix + "drills/" + d["id"]
    ok, _ = poll(lambda: all(g.answer() == EU for g in (n1, n2)), 5, 0.05)
    assert ok
    captured = etcd_get(etcd, key)
    assert captured, etcd.get_prefix(prefix)
    st, ended = n2.delete("/v1/drills/" + d["id"])
    assert st == 200 and ended["result"] == "aborted", ended
    ok, _ = poll(lambda: all(g.answer() == US for g in (n1, n2)), 5, 0.05)
    assert ok
    etcd_put(etcd, key, captured)
    steady([n1, n2], US)
    for g in (n1, n2):
        assert not listed(g, "drills", d["id"])
        st, got = g.get("/v1/drills/" + d["id"])
        assert st == 200 and got["result"] == "aborted", got
    # A member that joins now has no history of that drill: it refuses it too.
    n3 = signed_node(etcd, keys, made, be, prefix, 3)
    steady([n3], US)
    assert not listed(n3, "drills", d["id"])
    refused_as_replay([n1, n2, n3], key)


def test_an_older_value_under_a_reused_id_is_refused(etcd, keys, made, be):
    """The id counter is a plain number anyone can put back: the next
    override then gets an id used before, and the first override's signed
    value, put back over the second, is refused (it is not the record that
    key was created for). Set back below a live record's id, it makes no
    creation replace that record."""
    prefix = "/gtmd/rp3/"
    n1, n2 = signed_pair(etcd, keys, made, be, prefix)
    st, first = n1.post("/v1/overrides", {"target": "region:us", "state": "down",
                                         "reason": "first"})
    assert st == 201, first
    key = prefix + "overrides/" + first["id"]
    old = etcd_get(etcd, key)
    st, _ = n1.delete("/v1/overrides/" + first["id"])
    assert st == 200
    ok, _ = poll(lambda: all(g.answer() == US for g in (n1, n2)), 5, 0.05)
    assert ok
    etcd_put(etcd, prefix + "seq/overrides", "0")
    ok, _ = poll(lambda: n2.get("/v1/overrides")[0] == 200, 2, 0.05)
    st, second = n2.post("/v1/overrides", {"target": "endpoint:web/eu1", "state": "up",
                                          "reason": "second"})
    assert st == 201 and second["id"] == first["id"], second
    ok, _ = poll(lambda: all(listed(g, "overrides", second["id"]) for g in (n1, n2)), 5, 0.05)
    assert ok
    # Set back once more, below a live record's id: a creation must not
    # replace that record (it is refused until the counter is repaired).
    etcd_put(etcd, prefix + "seq/overrides", "0")
    st, third = n1.post("/v1/overrides", {"target": "endpoint:web/us1", "state": "up",
                                         "reason": "third"})
    assert st in (409, 503), (st, third)
    for g in (n1, n2):
        st, body = g.get("/v1/overrides")
        assert [o["reason"] for o in body["overrides"]] == ["second"], body
    before = [replays(g) for g in (n1, n2)]
    etcd_put(etcd, key, old)
    steady([n1, n2], US)
    refused_as_replay([n1, n2], key, before)
    for g in (n1, n2):
        st, body = g.get("/v1/overrides")
        assert not [o for o in body["overrides"] if o["reason"] == "first"], body


def test_a_superseded_report_put_back_is_refused(etcd, keys, made, be):
    """A member's report of its current lease, put back after the member
    wrote a newer one for the same endpoint: the older state does not count
    again."""
    prefix = "/gtmd/rp4/"
    n1, n2 = signed_pair(etcd, keys, made, be, prefix, names=("n1", "n2"))
    key = prefix + "reports/n2/web"  # n2's pool key (key layout 3)
    up = etcd_get(etcd, key)
    assert up and pool_state(up, "us1") == "up", up
    be["us"].stop()
    ok, _ = poll(lambda: pool_state(etcd_get(etcd, key), "us1") == "down", 10, 0.1)
    assert ok
    ok, _ = poll(lambda: all(g.answer() == EU for g in (n1, n2)), 10, 0.1)
    assert ok
    # n2's "up" of a moment ago, put back: n1 must not count n2 as up again
    # (2 of 2 must say down: counted, it would bring us back on n1 until n2
    # wrote its report again), and n2 writes its own report back.
    etcd_put(etcd, key, up, json.loads(up)["lease"])  # n2's lease: still n2's
    refused_as_replay([n1, n2], key)  # n2 too: its own report, older than its last
    ok, _ = poll(lambda: pool_state(etcd_get(etcd, key), "us1") == "down", 5, 0.05)
    assert ok, etcd_get(etcd, key)
    steady([n1, n2], EU, 1.0)
    be["us"].start()


def test_a_superseded_heartbeat_and_node_record_put_back_are_refused(etcd, keys, made, be):
    """n2's heartbeat and node record of a moment ago, put back on n2's
    lease after n2 wrote newer ones: refused (an old heartbeat would count
    as n2 being heard, with an old clock)."""
    prefix = "/gtmd/rp7/"
    n1, n2 = signed_pair(etcd, keys, made, be, prefix)
    beat_key, node_key = prefix + "beat/n2", prefix + "nodes/n2"
    ok, _ = poll(lambda: etcd_get(etcd, beat_key), 5, 0.05)  # n2's first one, a tick after sync
    assert ok, sorted(etcd.get_prefix(prefix))
    beat, node = etcd_get(etcd, beat_key), etcd_get(etcd, node_key)
    lease = json.loads(beat)["lease"]
    ok, _ = poll(lambda: json.loads(etcd_get(etcd, beat_key))["n"] > json.loads(beat)["n"] and
                 json.loads(etcd_get(etcd, node_key))["n"] > json.loads(node)["n"], 10, 0.1)
    assert ok  # both written again (a node record every stale_after / 2)
    etcd_put(etcd, beat_key, beat, lease)
    refused_as_replay([n1], beat_key)
    before = [replays(n1)]
    etcd_put(etcd, node_key, node, lease)
    refused_as_replay([n1], node_key, before)
    assert len([x for x in n1.fleet()["nodes"] if x["live"]]) == 2
    steady([n1, n2], US, 1.0)


def test_a_gone_member_put_back_on_its_lease_granted_again_is_refused(etcd, keys, made, be):
    """etcd lets any client grant a lease with the id it chooses once the
    id is free: n2's node record and its report that us1 is up, put back on
    n2's own lease id granted again after n2 left, must not count: us1 is
    down on n1 (the only member left), and stays failed over."""
    prefix = "/gtmd/rp6/"
    n1, n2 = signed_pair(etcd, keys, made, be, prefix, names=("n1", "n2"))
    node_key, report_key = prefix + "nodes/n2", prefix + "reports/n2/web"
    node, up = etcd_get(etcd, node_key), etcd_get(etcd, report_key)
    assert node and up and pool_state(up, "us1") == "up", (node, up)
    lease = json.loads(node)["lease"]
    n2.stop()  # revokes its lease: its keys go
    ok, _ = poll(lambda: len([x for x in n1.fleet()["nodes"] if x["live"]]) == 1, 10, 0.1)
    assert ok, n1.fleet()
    be["us"].stop()
    ok, _ = poll(lambda: n1.answer() == EU, 10, 0.1)
    assert ok
    st, body = http_json(etcd.urls[0] + "/v3/lease/grant", {"TTL": 60, "ID": lease}, timeout=3)
    assert st == 200 and int(body["ID"]) == int(lease), body
    etcd_put(etcd, node_key, node, lease)
    etcd_put(etcd, report_key, up, lease)
    steady([n1], EU)
    refused_as_replay([n1], node_key)
    assert len([x for x in n1.fleet()["nodes"] if x["live"]]) == 1, n1.fleet()
    be["us"].start()


def test_a_configuration_head_put_back_is_refused(etcd, keys, made, be):
    """With config_api.fleet: head put back to an older signed version is
    not followed (no node goes back) and counted as a replay; a node that
    was down meanwhile and starts alone, with the old head in etcd, takes
    the newest version a member signed, not the superseded one head names;
    and one that starts while a member serves a newer version than head
    names counts the replay even when that version is gone from etcd."""
    prefix = "/gtmd/rp5/"
    n1, n2 = signed_pair(etcd, keys, made, be, prefix, config_fleet=True)

    def version(g):
        st, body = g.get("/v1/config")
        assert st == 200, body
        return body["version"]

    def restart(g):  # with its file as the fleet left it, not the test's copy
        with open(g.conf_path) as f:
            g.config = json.load(f)
        g.start()

    ok, _ = poll(lambda: version(n1) == version(n2) > 0, 10, 0.1)
    assert ok
    rec = {"pool": "web", "ttl": 10, "policy": "failover", "regions": ["us", "eu"]}

    def change(g, name):
        st, body = http_json(g.admin + "/v1/config/records/" + name, rec, method="PUT",
                             timeout=30, headers=g.AUTH)
        assert st == 201, body
        return body["version"]

    n2.stop()
    change(n1, "a.example.com.")
    head_a = etcd_get(etcd, prefix + "config/head")
    v_b = change(n1, "b.example.com.")
    etcd_put(etcd, prefix + "config/head", head_a)
    refused_as_replay([n1], prefix + "config/head")
    n1.stop()
    restart(n2)  # alone: no member says which version the fleet serves
    ok, _ = poll(lambda: version(n2) == v_b, 10, 0.1)
    assert ok, (version(n2), n2.read_log()[-2000:])
    refused_as_replay([n2], prefix + "config/head")
    # Head put back again, and the version past it deleted: a node that
    # starts now cannot fetch the newest, but counts the replay from what
    # its live peer serves, and goes back to nothing older than its own.
    restart(n1)
    ok, _ = poll(lambda: version(n1) == v_b, 10, 0.1)
    assert ok
    n2.stop()
    head_b = etcd_get(etcd, prefix + "config/head")
    v_c = change(n1, "c.example.com.")
    etcd_put(etcd, prefix + "config/head", head_b)
    st, _ = http_json(etcd.urls[0] + "/v3/kv/deleterange",
                      {"key": b64(prefix + "config/v/%012d" % v_c)}, timeout=3)
    assert st == 200
    restart(n2)
    # Twice: older than n2's own version, and than the one n1 serves (the
    # log says it once per key and reason in a row).
    ok, _ = poll(lambda: replays(n2) >= 2, 10, 0.1)
    assert ok, (n2.fleet()["rejected"], n2.read_log()[-2000:])
    assert "event=fleet_config_fetch result=failed version=%d" % v_c in n2.read_log()
    assert version(n2) == v_b and version(n1) == v_c
    assert n1.answer("c.example.com.") == US and n2.answer("b.example.com.") == US


def test_what_a_non_member_can_still_do_delete(etcd, keys, made, be):
    """What a writer of the prefix without a member key can still do
    (doc/security.md): delete. An override deleted (or overwritten with
    anything that is not its sealed record) is gone on every node; a drill
    likewise ends on every node; a member's report deleted is written
    again by its member, and a member whose node record is deleted comes
    back on a new lease."""
    prefix = "/gtmd/rp8/"
    n1, n2 = signed_pair(etcd, keys, made, be, prefix, names=("n1", "n2"))
    st, o = n1.post("/v1/overrides", {"target": "region:us", "state": "down", "reason": "x"})
    assert st == 201, o
    ok, _ = poll(lambda: all(g.answer() == EU for g in (n1, n2)), 5, 0.05)
    assert ok
    st, _ = http_json(etcd.urls[0] + "/v3/kv/deleterange",
                      {"key": b64(prefix + "overrides/" + o["id"])}, timeout=3)
    assert st == 200
    ok, _ = poll(lambda: all(g.answer() == US and not listed(g, "overrides", o["id"])
                             for g in (n1, n2)), 5, 0.05)
    assert ok
    st, d = n2.post("/v1/drills", {"regions": ["us"], "mode": "live", "duration": 120,
                                   "reason": "drill"})
    assert st == 201, d
    ok, _ = poll(lambda: all(g.answer() == EU for g in (n1, n2)), 5, 0.05)
    assert ok
    etcd_put(etcd, prefix + "drills/" + d["id"], "{}")  # not its record: as if deleted
    ok, _ = poll(lambda: all(g.answer() == US and not listed(g, "drills", d["id"])
                             for g in (n1, n2)), 5, 0.05)
    assert ok, [g.get("/v1/drills")[1] for g in (n1, n2)]
    key = prefix + "reports/n2/web"
    st, _ = http_json(etcd.urls[0] + "/v3/kv/deleterange", {"key": b64(key)}, timeout=3)
    assert st == 200
    ok, _ = poll(lambda: etcd_get(etcd, key) is not None, 5, 0.05)
    assert ok  # n2 wrote it again
    # n2's node record deleted: n2 takes it as its lease gone, and comes
    # back on a new one.
    lease = json.loads(etcd_get(etcd, prefix + "nodes/n2"))["lease"]
    st, _ = http_json(etcd.urls[0] + "/v3/kv/deleterange", {"key": b64(prefix + "nodes/n2")},
                      timeout=3)
    assert st == 200
    ok, _ = poll(lambda: json.loads(etcd_get(etcd, prefix + "nodes/n2") or "{}").get("lease")
                 not in (None, lease) and
                 len([x for x in n1.fleet()["nodes"] if x["live"]]) == 2, 10, 0.1)
    assert ok, n1.fleet()
    steady([n1, n2], US, 1.0)

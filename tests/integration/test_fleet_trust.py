"""Fleet members that cannot lie for each other (issue #24): with "members"
(Ed25519 public keys) and each node's "key_file", every record a node
publishes is signed, and a node counts only records signed by the member
they speak for. A writer to the etcd prefix who is not a member (the test
itself, with etcd's JSON gateway) forges the attacks that used to work:
20 fake nodes voting "down", a node's observation in another member's
name, an override and a live drill; none changes an answer, and each is
counted in status and metrics and logged. A huge id counter is refused
instead of wrapping the next id, and an adopted override past
max_overrides is refused. Needs etcd (skipped otherwise); every wait is
bounded."""
import base64
import json
import re
import subprocess
import tempfile
import time

import pytest

from backends import poll
from fleetlib import (b64, be, etcd, http_json, made, member_keys,  # noqa: F401
                      need_etcd, start_node)  # be, etcd, made: fixtures

PREFIX = "/gtmd/it/"
US, EU = ["127.0.0.31"], ["127.0.0.32"]

pytestmark = pytest.mark.skipif(need_etcd() is not None, reason=need_etcd() or "")


@pytest.fixture(scope="module")
def keys():
    yield from member_keys(("n1", "n2", "n3", "mallory"))


def members(keys):
    return {n: keys[n][1] for n in ("n1", "n2", "n3")}


def put(etcd, key, value, prefix=PREFIX):
    st, _ = http_json(etcd.urls[0] + "/v3/kv/put",
                      {"key": b64(prefix + key), "value": b64(value)}, timeout=3)
    assert st == 200, st


def signed_by(keypath, key, record, prefix=PREFIX):
    """record signed as fleet_sign.c does, with the private key at keypath
    (openssl pkeyutl -rawin), in the name record["signer"]."""
    text = json.dumps({k: v for k, v in record.items() if k != "sig"}, separators=(",", ":"),
                      sort_keys=True)
    msg = b"gtmd-fleet-1\0" + (prefix + key).encode() + b"\0" + text.encode()
    with tempfile.NamedTemporaryFile() as m:
        m.write(msg)
        m.flush()
        sig = subprocess.run(["openssl", "pkeyutl", "-sign", "-rawin", "-inkey", keypath, "-in",
                              m.name], check=True, capture_output=True, timeout=20).stdout
    return dict(record, sig=base64.b64encode(sig).decode())


def put_sealed(etcd, keypath, key, record, prefix=PREFIX):
    """An override or drill as a member writes it (fleet_life.c): its key
    created first, then the record put with "format": 2 and "born": the
    key's create revision, signed with the private key at keypath."""
    st, body = http_json(etcd.urls[0] + "/v3/kv/put",
                         {"key": b64(prefix + key), "value": b64("{}")}, timeout=3)
    assert st == 200, st
    born = int(body["header"]["revision"])
    put(etcd, key, json.dumps(signed_by(keypath, key, dict(record, format=2, born=born),
                                        prefix)), prefix)


def fleet_of(etcd, keys, made, be, n, **kw):
    """n members started (of members(keys) unless kw names members: one
    never seen holds the key layout at 2, fleet_compat.h)."""
    nodes = []
    mem = kw.pop("members", None) or members(keys)
    for i in range(1, n + 1):
        nodes.append(start_node(made, etcd.urls, i, be["port"], key_file=keys["n%d" % i][0],
                                members=mem, **kw))
    ok, _ = poll(lambda: all(g.fleet() and g.fleet()["connection"] == "synced" and
                             len([x for x in g.fleet()["nodes"] if x["live"]]) == n
                             for g in nodes), 20, 0.2)
    assert ok, [g.fleet() for g in nodes]
    ok, _ = poll(lambda: all(g.answer() == US for g in nodes), 10, 0.1)
    assert ok, [g.answer() for g in nodes]
    return nodes


def test_forged_votes_overrides_and_drills_change_nothing(etcd, keys, made, be):
    n1, n2 = fleet_of(etcd, keys, made, be, 2)
    down = json.dumps({"s": "down", "t": time.time()})
    for i in range(20):  # 20 fake vantage points voting us1 down
        put(etcd, "nodes/fake%d" % i, json.dumps({"version": "x", "config_hash": "h",
                                                  "last_seen": time.time(), "started": 1,
                                                  "vantage": [], "node": "fake%d" % i}))
        put(etcd, "obs/web/us1/fake%d" % i, down)  # the layout before, still read
        put(etcd, "reports/fake%d/web/us1" % i, down)
    # n3 is a member, but mallory holds no n3 key: a signature by another key.
    put(etcd, "obs/web/us1/n3", json.dumps(signed_by(keys["mallory"][0], "obs/web/us1/n3",
                                                     {"s": "down", "t": time.time(),
                                                      "signer": "n3"})))
    # n1's own key, signing in n2's name: impersonation. (A whole number of
    # seconds: jansson and Python write it alike; fleet_sign.c signs the
    # text jansson writes.)
    put(etcd, "obs/web/us1/n2", json.dumps(signed_by(keys["n1"][0], "obs/web/us1/n2",
                                                     {"s": "down", "t": int(time.time()),
                                                      "signer": "n1"})))
    put(etcd, "overrides/ovr-77", json.dumps({"id": "ovr-77", "target": "region:us",
                                              "state": "down", "reason": "forged",
                                              "author": "operate", "created": time.time(),
                                              "expires": 0, "node": "n1"}))
    put(etcd, "drills/drl-9", json.dumps({"id": "drl-9", "mode": "live", "targets": ["region:us"],
                                          "author": "operate", "node": "n1",
                                          "started": time.time(), "ends": time.time() + 600}))
    ok, _ = poll(lambda: all(sum(g.fleet()["rejected"][r] for r in
                                 ("unsigned", "bad_signature", "impersonation")) >= 3
                             for g in (n1, n2)), 10, 0.2)
    assert ok, [g.fleet()["rejected"] for g in (n1, n2)]
    end = time.monotonic() + 3
    while time.monotonic() < end:  # nothing moves, for 3 s
        for g in (n1, n2):
            assert g.answer() == US, (g.answer(), g.fleet())
        time.sleep(0.2)
    for g in (n1, n2):
        st, ovr = g.get("/v1/overrides")
        assert st == 200 and not [o for o in ovr["overrides"] if o["id"] == "ovr-77"], ovr
        assert len([x for x in g.fleet()["nodes"] if x["live"]]) == 2, g.fleet()
        rej = g.fleet()["rejected"]
        assert rej["unsigned"] >= 42 and rej["bad_signature"] >= 1, rej
        assert rej["impersonation"] >= 1, rej
        assert g.metric('gtmd_fleet_rejected_total{reason="unsigned"}') >= 42
        assert g.metric("gtmd_fleet_signed") == 1
        assert "event=fleet_rejected" in g.read_log()


def test_signed_override_still_travels(etcd, keys, made, be):
    n1, n2 = fleet_of(etcd, keys, made, be, 2, prefix="/gtmd/it2/")
    st, body = n1.post("/v1/overrides", {"target": "region:us", "state": "down",
                                        "reason": "maintenance", "force": True})
    assert st == 201, (st, body)
    ok, _ = poll(lambda: n2.answer() == EU, 5, 0.05)
    assert ok, (n2.answer(), n2.fleet()["rejected"], n2.read_log()[-1500:])
    st, _ = n1.delete("/v1/overrides/" + body["id"])
    assert st == 200
    ok, _ = poll(lambda: n2.answer() == US, 5, 0.05)
    assert ok


def test_huge_id_counter_is_refused_not_wrapped(etcd, keys, made, be):
    n1, = fleet_of(etcd, keys, made, be, 1, prefix="/gtmd/it3/")
    st, _ = http_json(etcd.urls[0] + "/v3/kv/put",
                      {"key": b64("/gtmd/it3/seq/overrides"), "value": b64("9223372036854775807")})
    assert st == 200
    ok, _ = poll(lambda: "key=seq/overrides" in n1.read_log(), 5, 0.05)
    assert ok, n1.read_log()[-2000:]
    st, body = n1.post("/v1/overrides", {"target": "region:eu", "state": "down",
                                        "reason": "x", "force": True})
    assert st == 503 and "id counter" in json.dumps(body), (st, body)
    assert not re.search(r"ovr--\d", n1.read_log())


def test_adoption_stops_at_this_nodes_max_overrides(etcd, keys, made, be):
    """An override adopted from etcd past this node's max_overrides is
    refused and logged, so a fleet cannot grow a node's list past what its
    own configuration allows (its state file stays one a start accepts)."""
    n1 = start_node(made, etcd.urls, 1, be["port"], key_file=keys["n1"][0],
                    members=members(keys), prefix="/gtmd/it4/")
    n2 = start_node(made, etcd.urls, 2, be["port"], start=False, key_file=keys["n2"][0],
                    members=members(keys), prefix="/gtmd/it4/")
    n2.config["max_overrides"] = 2
    n2.start()
    ok, _ = poll(lambda: all(g.fleet() and g.fleet()["connection"] == "synced"
                             for g in (n1, n2)), 20, 0.2)
    assert ok
    for i in range(3):
        st, body = n1.post("/v1/overrides", {"target": "endpoint:web/eu1", "state": "up",
                                            "reason": "r%d" % i})
        assert st == 201, (st, body)
    ok, _ = poll(lambda: "max_overrides (2) are in force" in n2.read_log(), 5, 0.05)
    assert ok, n2.read_log()[-2000:]
    st, body = n2.get("/v1/overrides")
    assert st == 200 and len(body["overrides"]) == 2, body
    st, body = n1.get("/v1/overrides")
    assert st == 200 and len(body["overrides"]) == 3, body


def test_a_members_old_report_cannot_be_replayed(etcd, keys, made, be):
    """A member's signed report carries the lease it was written on: put
    back after the member left (its lease gone, so its keys with it), it is
    refused (not_on_lease)."""
    n1, n2 = fleet_of(etcd, keys, made, be, 2, prefix="/gtmd/it5/",
                      members={n: keys[n][1] for n in ("n1", "n2")})
    got = etcd.get_prefix("/gtmd/it5/reports/")
    key = "/gtmd/it5/reports/n2/web"  # n2's pool key (key layout 3)
    assert key in got and json.loads(got[key]).get("lease"), got
    old = got[key]  # as n2 signed it, on its lease
    n2.stop()
    ok, _ = poll(lambda: len([x for x in n1.fleet()["nodes"] if x["live"]]) == 1, 10, 0.1)
    assert ok, n1.fleet()
    st, _ = http_json(etcd.urls[0] + "/v3/kv/put", {"key": b64(key), "value": b64(old)})
    assert st == 200
    ok, _ = poll(lambda: n1.fleet()["rejected"]["not_on_lease"] >= 1, 5, 0.05)
    assert ok, n1.fleet()["rejected"]
    assert n1.metric('gtmd_fleet_rejected_total{reason="not_on_lease"}') >= 1


def test_unsafe_member_override_is_refused_unless_forced(etcd, keys, made, be):
    """The safety rule is checked again on adoption: an override signed by a
    member (n1's key, written straight to etcd as a compromised n1 could)
    that would leave app.example.com with no serving region is refused by
    every node, n1 itself included, unless the signed record says "force";
    refused, it is
    reported (status, metric, log), and checked again every second, so it
    is adopted once it is safe on that node's view."""
    n1, n2 = fleet_of(etcd, keys, made, be, 2, prefix="/gtmd/it6/")
    # Through the API: the record carries, signed, the token's role and "force".
    st, body = n1.post("/v1/overrides", {"target": "endpoint:web/eu1", "state": "up",
                                        "reason": "api"})
    assert st == 201, (st, body)
    rec = json.loads(etcd.get_prefix("/gtmd/it6/overrides/")["/gtmd/it6/overrides/" +
                                                             body["id"]])
    assert rec["role"] == "operate" and rec["force"] is False and rec["signer"] == "n1", rec
    assert rec["format"] == 2 and rec["born"] > 0, rec  # sealed; n3 (a member never seen) holds format 2
    st, _ = n1.delete("/v1/overrides/" + body["id"])
    assert st == 200
    be["eu"].stop()  # eu down everywhere: taking us down would leave nothing served
    ok, _ = poll(lambda: all(g.endpoint("eu1")["state"]["fleet"] == "down" for g in (n1, n2)),
                 10, 0.1)
    assert ok, [g.endpoint("eu1") for g in (n1, n2)]

    def forged(i, force):
        key = "overrides/ovr-%d" % i
        put_sealed(etcd, keys["n1"][0], key, {
            "id": "ovr-%d" % i, "target": "region:us", "state": "down", "reason": "member",
            "author": "operate", "created": int(time.time()), "expires": None, "node": "n1",
            "role": "operate", "force": force, "signer": "n1"}, "/gtmd/it6/")

    def has(g, i):
        st, body = g.get("/v1/overrides")
        assert st == 200
        return any(o["id"] == "ovr-%d" % i for o in body["overrides"])

    # Forced first: adopted although it leaves app.example.com unserved here.
    # (Not while ovr-50 waits: with a forced "us down" in force, the same
    # unforced record leaves nothing newly unserved, so its next check
    # would adopt it, as this node's API would accept it.)
    forged(51, True)
    ok, _ = poll(lambda: has(n2, 51), 5, 0.05)
    assert ok, (n2.fleet()["rejected"], n2.read_log()[-2000:])
    # Logged just after it is applied (the API may list it a moment before).
    ok, _ = poll(lambda: re.search(r"event=fleet_forced key=/gtmd/it6/overrides/ovr-51 "
                                   r"signer=n1 role=operate", n2.read_log()), 5, 0.05)
    assert ok, n2.read_log()[-2000:]
    assert n2.fleet()["rejected"]["unsafe"] == 0, n2.fleet()["rejected"]
    st, _ = http_json(etcd.urls[0] + "/v3/kv/deleterange",
                      {"key": b64("/gtmd/it6/overrides/ovr-51")}, timeout=3)
    assert st == 200
    ok, _ = poll(lambda: not has(n2, 51), 5, 0.05)
    assert ok
    ok, _ = poll(lambda: n2.answer() == US, 5, 0.05)
    assert ok, n2.answer()
    forged(50, False)
    # n1 too: its own signature on a record read from etcd skips no check.
    ok, _ = poll(lambda: all(g.fleet()["rejected"]["unsafe"] >= 1 for g in (n1, n2)), 5, 0.05)
    assert ok, ([g.fleet()["rejected"] for g in (n1, n2)], n2.get("/v1/overrides"),
                n1.read_log()[-3000:])
    assert n2.fleet()["rejected"]["last"]["key"] == "/gtmd/it6/overrides/ovr-50"
    assert n2.metric('gtmd_fleet_rejected_total{reason="unsafe"}') >= 1
    # Logged just after it is counted.
    ok, _ = poll(lambda: re.search(r"event=fleet_rejected key=/gtmd/it6/overrides/ovr-50 "
                                   r"why=unsafe", n2.read_log()), 5, 0.05)
    assert ok, n2.read_log()[-2000:]
    end = time.monotonic() + 2.5  # checked again every second: still refused
    while time.monotonic() < end:
        for g in (n1, n2):
            assert not has(g, 50) and g.answer() == US, g.answer()
        time.sleep(0.25)
    be["eu"].start()  # eu back: ovr-50 is safe on n2's view now, and adopted
    ok, _ = poll(lambda: has(n2, 50), 15, 0.1)
    assert ok, (n2.endpoint("eu1"), n2.read_log()[-2000:])
    ok, _ = poll(lambda: "event=fleet_adopted key=/gtmd/it6/overrides/ovr-50 after=unsafe" in
                 n2.read_log(), 5, 0.05)
    assert ok, n2.read_log()[-2000:]
    ok, _ = poll(lambda: all(g.answer() == EU for g in (n1, n2)), 5, 0.05)
    assert ok, [g.answer() for g in (n1, n2)]

"""Drills through the admin API against the real gtmd and real HTTP backends
in three regions (backends.py): shadow changes nothing served, scoped loses
the targets for canary clients only (by ECS and by source address) with
narrow ECS scopes, live flips every affected record on the next query and
restores itself, abort by DELETE, both abort_if forms triggered by killing a
real backend in another region, a restart mid-drill, the 409 cases, bad
requests, visibility (status, explain, metrics, audit log) and the offline
`gtmd drill` agreeing with what a live drill really serves.

Regions: us (azs us-1a 127.0.0.11, us-1b 127.0.0.12), eu (127.0.0.21,
127.0.0.22), ap (127.0.0.31); http checks every 0.25 s, rise 2, fall 3
(with fall 2, two slow probes of a healthy backend on a loaded machine,
sanitizer builds on 2 cores, could take it out during the many single
answers the tests read; none measures fall timing). The fixture waits
until all five are up: a slow first probe marks one down at start-up.
Every wait is bounded. The tests where the drill thread, the prober, the
admin thread and the workers meet (loss views published under queries,
end timers, abort_if on health transitions, restart) are marked
"threads", so the TSan build runs them too."""
import ipaddress
import json
import os
import re
import signal
import subprocess
import time

import dns.edns
import pytest
from prometheus_client.parser import text_string_to_metric_families

from adminlib import OPERATE_TOKEN, READ_TOKEN, Admin, admin_port, admin_section, audit_lines
from backends import answer_addrs, backends, fast_query, free_port_on, poll  # noqa: F401
from conftest import GTMD, default_config

US = ["127.0.0.11", "127.0.0.12"]
EU = ["127.0.0.21", "127.0.0.22"]
AP = ["127.0.0.31"]
INTERVAL = 0.25


def drill_config(port_http, state_file=True, max_duration=None, fall=3):
    def fn(workdir, port):
        c = default_config(workdir, port)
        check = {"type": "http", "port": port_http, "path": "/", "interval": INTERVAL,
                 "timeout": 0.2, "rise": 2, "fall": fall}

        def ep(name, addr, region, az=None):
            e = {"name": name, "address": addr, "region": region}
            if az:
                e["az"] = az
            return e
        c["regions"] = {"us": {}, "eu": {}, "ap": {}}
        c["checks"] = {"web": check}
        c["pools"] = {"web": {"check": "web", "endpoints": [
            ep("us1", US[0], "us", "us-1a"), ep("us2", US[1], "us", "us-1b"),
            ep("eu1", EU[0], "eu", "eu-1a"), ep("eu2", EU[1], "eu", "eu-1a"),
            ep("ap1", AP[0], "ap")]}}
        c["records"] = {
            "fo.example.com.": {"pool": "web", "policy": "failover",
                                "regions": ["us", "eu", "ap"], "answers": 8, "ttl": 5},
            "eufo.example.com.": {"pool": "web", "policy": "failover", "regions": ["eu", "us"],
                                  "answers": 8, "ttl": 5},
            "all.example.com.": {"pool": "web", "policy": "all", "answers": 8, "ttl": 5},
            "uso.example.com.": {"pool": "web", "policy": "failover", "regions": ["us"],
                                 "answers": 8, "when_all_down": "empty", "ttl": 5},
        }
        c["admin"] = admin_section(workdir, admin_port(port))
        if state_file:
            c["state_file"] = "state.json"
        if max_duration:
            c["drills"] = {"max_duration": max_duration}
        return c
    return fn


@pytest.fixture
def world(make_gtmd, backends):
    """(gtmd, Admin, {address: Backend}) with every backend up."""
    addrs = US + EU + AP
    port = free_port_on(addrs)
    bs = backends.start_all([backends.http(a, port, start=False) for a in addrs])
    g = make_gtmd(drill_config(port))
    a = Admin.of(g).wait_ready()
    w = type("World", (), {})()
    w.g, w.a, w.b, w.port = g, a, dict(zip(addrs, bs)), port
    # A first probe decides alone (no fall): a slow one leaves an endpoint
    # down until rise, so wait for every endpoint rather than read once.
    wait_answers(g, "all", sorted(addrs))
    assert answers(g, "fo") == US
    return w


def query(g, name, ecs=None, source=None, timeout=1.0):
    """(sorted answers, ECS scope or None) of an A query; None if no reply."""
    r = fast_query(g.addr, g.port, name + ".example.com.", "A", timeout=timeout, ecs=ecs,
                   source=source)
    if r is None:
        return None
    scope = None
    for o in r.options:
        if isinstance(o, dns.edns.ECSOption):
            scope = o.scopelen
    return sorted(answer_addrs(r, ("A",))), scope


def answers(g, name, **kw):
    r = query(g, name, **kw)
    return None if r is None else r[0]


def wait_answers(g, name, want, timeout=4.0, **kw):
    ok, took = poll(lambda: answers(g, name, **kw) == want, timeout)
    assert ok, "%s: wanted %s, have %s\n%s" % (name, want, answers(g, name, **kw),
                                               g.read_log()[-3000:])
    return took


def start_drill(a, expect=201, **body):
    body.setdefault("reason", "integration test")
    r = a.post("/v1/drills", body)
    assert r.status == expect, r
    return r.json


def metrics(a):
    r = a.get("/metrics", token=READ_TOKEN)
    assert r.status == 200, r
    out = {}
    for fam in text_string_to_metric_families(r.body.decode()):
        for s in fam.samples:
            out[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return out


def metric(m, name, **labels):
    return m.get((name, tuple(sorted(labels.items()))))


def region(status, name):
    return next(r for r in status["regions"] if r["name"] == name)


def drill_get(a, did):
    r = a.get("/v1/drills/" + did, token=READ_TOKEN)
    assert r.status == 200, r
    return r.json


def wait_ended(a, did, timeout=5.0):
    ok, _ = poll(lambda: drill_get(a, did)["state"] == "ended", timeout)
    assert ok, drill_get(a, did)
    return drill_get(a, did)


# ---- shadow ----------------------------------------------------------------

def test_shadow_changes_nothing_served_and_reports_the_differences(world):
    g, a = world.g, world.a
    d = start_drill(a, regions=["us"], mode="shadow")
    assert d["mode"] == "shadow" and d["state"] == "active" and d["id"].startswith("drl-")
    assert d["ends"] - d["started"] == pytest.approx(3600), "default: drills.max_duration"
    changes = {(c["record"], c["type"]): c for c in d["report"]["whatif"]["records"]}
    assert changes[("fo.example.com.", "A")]["after"]["answers"] == EU
    assert changes[("fo.example.com.", "A")]["before"]["answers"] == US
    assert changes[("uso.example.com.", "A")]["after"]["outcome"] == "empty"
    assert ("eufo.example.com.", "A") not in changes, "a report lists the changes only"
    assert d["report"]["whatif"]["summary"]["newly_unserved"] == 1
    for _ in range(20):
        assert answers(g, "fo") == US and answers(g, "uso") == US
        assert answers(g, "all") == sorted(US + EU + AP)
    st = a.get("/v1/status", token=READ_TOKEN).json
    us = region(st, "us")
    assert us["state"]["drill"] is None and [x["id"] for x in us["state"]["drills"]] == [d["id"]]
    assert us["pools"]["web"]["state"] == "up"
    assert st["server"]["active_drills"] == 1 and [x["id"] for x in st["drills"]] == [d["id"]]
    e = a.get("/v1/explain?name=fo.example.com", token=READ_TOKEN).json
    assert e["policy"]["drills"] == [] and e["policy"]["regions"][0]["serving"] is True
    m = metrics(a)
    assert metric(m, "gtmd_drills_active", mode="shadow") == 1
    assert metric(m, "gtmd_drills_active", mode="live") == 0
    r = a.delete("/v1/drills/" + d["id"])
    assert r.status == 200 and r.json["result"] == "aborted", r
    assert metric(metrics(a), "gtmd_drills_ended_total", result="aborted") == 1


# ---- scoped ----------------------------------------------------------------

def covers_canary(answer_net, canaries):
    """Whether a resolver could hand an answer cached for answer_net to a
    client of a canary network."""
    return any(c.version == answer_net.version and answer_net.overlaps(c) for c in canaries)


@pytest.mark.threads
def test_scoped_loses_the_targets_for_canary_clients_only(world):
    g, a = world.g, world.a
    canary = ["10.1.2.0/24", "2001:db8:77::/48", "127.0.0.77/32", "127.0.0.78/32"]
    d = start_drill(a, regions=["us"], mode="scoped", canary=canary, duration=60, force=True)
    nets = [ipaddress.ip_network(c) for c in canary]
    # By ECS: inside the canary, the targets are lost and the scope is
    # no wider than the canary network.
    got, scope = query(g, "fo", ecs="10.1.2.0/24")
    assert got == EU and scope == 24
    got, scope = query(g, "fo", ecs="2001:db8:77:5::/64")
    assert got == EU and scope >= 48
    # Outside: the normal answer, with a scope whose network leaves every
    # canary network out (so no resolver hands it to canary clients).
    for ecs in ("10.1.3.0/24", "10.0.0.0/8", "10.1.0.0/16", "192.0.2.0/24",
                "2001:db8:78::/48", "2001:db8::/32"):
        got, scope = query(g, "fo", ecs=ecs)
        assert got == US, ecs
        net = ipaddress.ip_network(ecs.split("/")[0] + "/%d" % scope, strict=False)
        assert not covers_canary(net, nets), (ecs, scope)
    # By source address (no ECS): 127.0.0.x are all ours.
    for src in ("127.0.0.77", "127.0.0.78"):
        assert answers(g, "fo", source=src) == EU, src
        assert answers(g, "all", source=src) == sorted(EU + AP), src
    for src in ("127.0.0.79", "127.0.0.1", "127.0.0.76"):
        assert answers(g, "fo", source=src) == US, src
    # A record that does not use us is untouched for canary clients too.
    assert answers(g, "eufo", source="127.0.0.77") == EU
    e = a.get("/v1/explain?name=fo.example.com&client=127.0.0.77", token=READ_TOKEN).json
    us = e["policy"]["regions"][0]
    assert us["region"] == "us" and us["state"] == "down"
    assert us["why"] == "lost in drill %s (scoped): integration test" % d["id"]
    assert [x["id"] for x in e["policy"]["drills"]] == [d["id"]]
    assert e["policy"]["drills"][0]["mode"] == "scoped"
    assert e["reply"]["answer"] and all(EU[0] in x or EU[1] in x for x in e["reply"]["answer"])
    eps = {x["name"]: x["state"] for x in e["policy"]["endpoints"]}
    assert eps["us1"]["effective"] == "down" and eps["us1"]["drill"] == "down"
    e = a.get("/v1/explain?name=fo.example.com&client=127.0.0.1", token=READ_TOKEN).json
    assert e["policy"]["drills"] == [] and e["policy"]["regions"][0]["serving"] is True
    e = a.get("/v1/explain?name=fo.example.com&ecs=10.1.2.0/24", token=READ_TOKEN).json
    assert e["policy"]["ecs_scope"] == 24 and e["policy"]["regions"][0]["state"] == "down"
    # Status: the drill shows at the region; the region stays up for others.
    st = a.get("/v1/status", token=READ_TOKEN).json
    assert region(st, "us")["state"]["drills"][0]["mode"] == "scoped"
    assert region(st, "us")["pools"]["web"]["state"] == "up"
    assert a.delete("/v1/drills/" + d["id"]).status == 200
    got, scope = query(g, "fo", ecs="10.1.2.0/24")
    assert got == US and scope == 0, "after the drill: normal answers, scope 0 again"
    assert answers(g, "fo", source="127.0.0.77") == US


def test_scoped_az_drill_and_two_scoped_drills(world):
    g, a = world.g, world.a
    d1 = start_drill(a, azs=["us-1a"], mode="scoped", canary=["127.0.0.80/31"])
    d2 = start_drill(a, regions=["eu"], mode="scoped", canary=["127.0.0.81/32"])
    assert answers(g, "fo", source="127.0.0.80") == [US[1]]
    assert answers(g, "eufo", source="127.0.0.80") == EU
    assert answers(g, "eufo", source="127.0.0.81") == [US[1]], "inside both canaries"
    assert answers(g, "fo", source="127.0.0.82") == US
    assert a.delete("/v1/drills/" + d1["id"]).status == 200
    assert answers(g, "eufo", source="127.0.0.81") == US, "d2 still loses eu for .81"
    assert a.delete("/v1/drills/" + d2["id"]).status == 200


# ---- live ------------------------------------------------------------------

@pytest.mark.threads
def test_live_flips_every_record_on_the_next_query_and_restores_at_the_end(world):
    g, a = world.g, world.a
    d = start_drill(a, regions=["us"], mode="live", duration=2, force=True)
    # The very next query of every affected record avoids us: no waiting.
    assert answers(g, "fo") == EU
    assert answers(g, "all") == sorted(EU + AP)
    assert answers(g, "uso") == [], "uso falls to when_all_down (empty) under force"
    assert answers(g, "eufo") == EU
    st = a.get("/v1/status", token=READ_TOKEN).json
    us = region(st, "us")
    assert us["state"]["drill"] == "down" and us["state"]["drills"][0]["id"] == d["id"]
    assert us["pools"]["web"]["state"] == "down"
    ep = us["azs"][0]["endpoints"][0]
    assert ep["state"]["probe"] == "up" and ep["state"]["effective"] == "down"
    assert ep["state"]["drill"] == "down"
    e = a.get("/v1/explain?name=fo.example.com", token=READ_TOKEN).json
    assert e["policy"]["regions"][0]["why"] == \
        "lost in drill %s (live): integration test" % d["id"]
    m = metrics(a)
    assert metric(m, "gtmd_drills_active", mode="live") == 1
    assert metric(m, "gtmd_endpoint_up", pool="web", endpoint="us1", region="us",
                  az="us-1a") == 0
    # Restored by the drill thread at the end time, without any call.
    t0 = time.monotonic()
    wait_answers(g, "fo", US, timeout=4.0)
    assert time.monotonic() - t0 < 3.0
    assert answers(g, "all") == sorted(US + EU + AP) and answers(g, "uso") == US
    done = drill_get(a, d["id"])
    assert done["result"] == "passed" and done["end_reason"] == "duration reached"
    assert done["ended"] - done["started"] == pytest.approx(2.0, abs=0.3)
    m = metrics(a)
    assert metric(m, "gtmd_drills_ended_total", result="passed") == 1
    assert metric(m, "gtmd_drills_active", mode="live") == 0
    # The drill_end audit line is written just after the end is visible.
    ok, _ = poll(lambda: any(l.get("event") == "drill_end" and l["id"] == d["id"] and
                             l["result"] == "passed" for l in audit_lines(g)), 5, 0.05)
    lines = audit_lines(g)
    assert any(l.get("method") == "POST" and l["path"] == "/v1/drills" and l["status"] == 201 and
               l["result"] == {"id": d["id"]} for l in lines), lines
    assert ok, lines
    assert re.search(r"event=drill_start id=%s mode=live targets=region:us .* "
                     r'why="integration test"' % d["id"], g.read_log())
    assert re.search(r"event=drill_end id=%s mode=live result=passed" % d["id"], g.read_log())


def test_abort_by_delete_restores_at_once(world):
    g, a = world.g, world.a
    d = start_drill(a, azs=["us-1a"], mode="live", duration=60, reason="az drill")
    assert answers(g, "fo") == [US[1]]
    r = a.delete("/v1/drills/" + d["id"])
    assert r.status == 200 and r.json["result"] == "aborted", r
    assert r.json["end_reason"].startswith("aborted through the API")
    assert answers(g, "fo") == US, "restored on the next query"
    r = a.delete("/v1/drills/" + d["id"])
    assert r.status == 409 and r.code == "not_active", r
    r = a.delete("/v1/drills/drl-999")
    assert r.status == 404 and r.code == "not_found", r
    assert a.get("/v1/drills/drl-999", token=READ_TOKEN).status == 404
    lines = audit_lines(g)
    assert any(l.get("method") == "DELETE" and l["status"] == 200 for l in lines)
    assert any(l.get("event") == "drill_end" and l["result"] == "aborted" for l in lines)
    listed = a.get("/v1/drills", token=READ_TOKEN).json
    assert listed["active"] == [] and listed["history"][0]["id"] == d["id"]


@pytest.mark.threads
def test_real_failure_of_another_region_during_a_drill(world):
    g, a = world.g, world.a
    d = start_drill(a, regions=["us"], mode="live", duration=60, force=True)
    assert answers(g, "fo") == EU
    world.b[EU[0]].kill()
    world.b[EU[1]].kill()
    wait_answers(g, "fo", AP, timeout=4.0)
    assert drill_get(a, d["id"])["state"] == "active", "no abort_if: the drill goes on"
    assert a.delete("/v1/drills/" + d["id"]).status == 200
    assert answers(g, "fo") == US


def abort_after_kill(world, abort_if, kill):
    g, a = world.g, world.a
    d = start_drill(a, regions=["us"], mode="live", duration=60, abort_if=abort_if, force=True)
    assert answers(g, "fo") == EU
    world.b[kill].kill()
    done = wait_ended(a, d["id"], timeout=5.0)
    assert done["result"] == "aborted" and done["end_reason"].startswith("abort_if: pool web: ")
    # Ended on the health transition itself, not by a poll.
    log = g.read_log()
    change = re.search(r"^(\S+) info event=health_change endpoint=endpoint:web/\w+ from=up "
                       r"to=down", log, re.M)
    end = re.search(r"^(\S+) info event=drill_end id=%s " % d["id"], log, re.M)
    assert change and end, log[-3000:]
    ts = [time.mktime(time.strptime(x.group(1)[:19], "%Y-%m-%dT%H:%M:%S")) +
          float("0." + x.group(1)[20:23]) for x in (change, end)]
    assert 0 <= ts[1] - ts[0] < 0.2, "drill_end %.3f s after the health change" % (ts[1] - ts[0])
    assert answers(g, "fo") == US, "the drilled region serves again at once"
    # The drill_end audit line is written just after the end is visible.
    ok, _ = poll(lambda: any(l.get("event") == "drill_end" and l["result"] == "aborted"
                             for l in audit_lines(g)), 5, 0.05)
    assert ok, audit_lines(g)
    return done


@pytest.mark.threads
def test_abort_if_min_up_endpoints_on_a_real_failure_elsewhere(world):
    done = abort_after_kill(world, {"min_up_endpoints": 3}, EU[1])
    assert "2 of 3 endpoints outside the drill up, min_up_endpoints 3" in done["end_reason"]


def test_abort_if_min_up_share_on_a_real_failure_elsewhere(world):
    done = abort_after_kill(world, {"min_up_share": 0.9}, AP[0])
    assert "min_up_share 0.9" in done["end_reason"]


# ---- restart -----------------------------------------------------------------

@pytest.mark.threads
def test_restart_mid_drill_resumes_or_ends(world):
    g, a = world.g, world.a
    long = start_drill(a, regions=["us"], mode="live", duration=60, force=True)
    short = start_drill(a, regions=["eu"], mode="scoped", duration=1.5, canary=["127.0.0.90/32"],
                        force=True)
    assert answers(g, "fo") == EU and answers(g, "fo", source="127.0.0.90") == AP
    g.stop()
    time.sleep(1.6)  # the scoped drill's end passes while gtmd is stopped
    g.start()
    a.wait_ready()
    assert answers(g, "fo") == EU, "the live drill resumed before the first answer"
    assert answers(g, "fo", source="127.0.0.90") == EU, "the scoped drill is over"
    assert drill_get(a, long["id"])["state"] == "active"
    s = drill_get(a, short["id"])
    assert s["result"] == "passed" and s["end_reason"] == "duration reached while gtmd was stopped"
    assert s["ended"] == pytest.approx(short["ends"])
    assert re.search(r"event=drill_restore id=%s mode=live result=resumed" % long["id"],
                     g.read_log())
    # A crash (SIGKILL) loses nothing either: a start is on disk before 201.
    third = start_drill(a, azs=["eu-1a"], mode="live", duration=60, force=True)
    g.proc.send_signal(signal.SIGKILL)
    g.proc.wait(timeout=5)
    g.start()
    a.wait_ready()
    ids = [x["id"] for x in a.get("/v1/drills", token=READ_TOKEN).json["active"]]
    assert sorted(ids) == sorted([long["id"], third["id"]])
    assert answers(g, "fo") == AP
    new = start_drill(a, regions=["ap"], mode="shadow")
    assert int(new["id"][4:]) == int(third["id"][4:]) + 1, "ids go on after a restart"
    for x in (long, third, new):
        assert a.delete("/v1/drills/" + x["id"]).status == 200
    assert answers(g, "fo") == US


# ---- refusals ------------------------------------------------------------------

def test_409_cases(world):
    g, a = world.g, world.a
    r = a.post("/v1/drills", {"regions": ["us"], "mode": "live", "duration": 30, "reason": "x"})
    assert r.status == 409 and r.code == "unsafe", r
    assert r.json["error"]["records"] == [{"record": "uso.example.com.", "type": "A",
                                           "client": None}]
    assert answers(g, "fo") == US, "refused: nothing changed"
    r = a.post("/v1/drills", {"regions": ["us"], "mode": "scoped", "canary": ["10.0.0.0/8"],
                              "reason": "x"})
    assert r.status == 409 and r.code == "unsafe", "scoped drills follow the same rule"
    d = start_drill(a, regions=["us"], mode="live", duration=30, force=True)
    r = a.post("/v1/drills", {"regions": ["us"], "mode": "live", "duration": 30, "reason": "x",
                              "force": True})
    assert r.status == 409 and r.code == "conflict" and d["id"] in r.json["error"]["message"], r
    r = a.post("/v1/drills", {"azs": ["us-1b"], "mode": "live", "duration": 30, "reason": "x",
                              "force": True})
    assert r.status == 409 and r.code == "conflict", "an az of the drilled region: same region"
    start_drill(a, regions=["us"], mode="shadow")  # shadow and scoped may overlap
    r = a.post("/v1/drills", {"regions": ["eu"], "mode": "live", "duration": 30, "reason": "x",
                              "abort_if": {"min_up_endpoints": 2}})
    assert r.status == 409 and r.code == "abort_if_violated", r
    # us is under the live drill: only ap1 of us1, us2, ap1 is up outside eu.
    assert "1 of 3 endpoints outside the drill up" in r.json["error"]["message"]
    lines = [l for l in audit_lines(g) if l.get("status") == 409]
    assert len(lines) == 5, lines
    assert a.delete("/v1/drills/" + d["id"]).status == 200


@pytest.mark.parametrize("body, status, needle", [
    ({}, 400, "\"mode\" must be"),
    ({"regions": ["us"], "mode": "live", "reason": "x"}, 400, "needs \"duration\""),
    ({"regions": ["us"], "mode": "live", "reason": "x", "duration": 601}, 400,
     "longer than drills.max_duration (600 s)"),
    ({"regions": ["us"], "mode": "live", "reason": "x", "duration": -1}, 400,
     "\"duration\" must be"),
    ({"regions": "us", "mode": "shadow", "reason": "x"}, 400, "\"regions\" must be an array"),
    ({"regions": [5], "mode": "shadow", "reason": "x"}, 400, "\"regions\"[0] must be a name"),
    ({"azs": {}, "mode": "shadow", "reason": "x"}, 400, "\"azs\" must be an array"),
    ({"mode": "shadow", "reason": "x"}, 400, "needs \"regions\" and/or \"azs\""),
    ({"regions": ["us"], "mode": "chaos", "reason": "x"}, 400, "\"mode\" must be"),
    ({"regions": ["us"], "mode": "shadow"}, 400, "\"reason\" must be"),
    ({"regions": ["us"], "mode": "shadow", "reason": 7}, 400, "\"reason\" must be"),
    ({"regions": ["us"], "mode": "shadow", "reason": "x" * 1025}, 400, "\"reason\" must be"),
    ({"regions": ["us"], "mode": "scoped", "reason": "x"}, 400, "needs \"canary\""),
    ({"regions": ["us"], "mode": "scoped", "reason": "x", "canary": ["10.1.2.3/24"]}, 400,
     "has bits set past /24"),
    ({"regions": ["us"], "mode": "scoped", "reason": "x", "canary": ["nonsense"]}, 400,
     "must be a network"),
    ({"regions": ["us"], "mode": "live", "reason": "x", "duration": 5, "canary": ["10.0.0.0/8"]},
     400, "only for a scoped drill"),
    ({"regions": ["us"], "mode": "shadow", "reason": "x", "abort_if": 1}, 400,
     "\"abort_if\" must be an object"),
    ({"regions": ["us"], "mode": "shadow", "reason": "x", "abort_if": {"min_up_endpoints": -2}},
     400, "min_up_endpoints\" must be"),
    ({"regions": ["us"], "mode": "shadow", "reason": "x", "abort_if": {"min_up_share": 0}}, 400,
     "min_up_share\" must be"),
    ({"regions": ["us"], "mode": "shadow", "reason": "x", "abort_if": {"when": "never"}}, 400,
     "unknown key \"abort_if.when\""),
    ({"regions": ["us"], "mode": "shadow", "reason": "x", "force": "yes"}, 400,
     "must be booleans"),
    ({"regions": ["us"], "mode": "shadow", "reason": "x", "dry_run": 1}, 400, "must be booleans"),
    ({"regions": ["us"], "mode": "shadow", "reason": "x", "target": "region:us"}, 400,
     "unknown key \"target\""),
    ({"regions": ["us"], "mode": "shadow", "reason": "x", "clients": ["1.2.3.4"]}, 400,
     "only for a dry run"),
    ({"regions": ["mars"], "mode": "shadow", "reason": "x"}, 404, "no region \"mars\""),
    ({"azs": ["us-9z"], "mode": "shadow", "reason": "x"}, 404, "no az \"us-9z\""),
])
def test_bad_requests_get_clear_errors(make_gtmd, backends, body, status, needle):
    port = free_port_on(US + EU + AP)
    g = make_gtmd(drill_config(port, state_file=False, max_duration=600))
    a = Admin.of(g).wait_ready()
    r = a.post("/v1/drills", body)
    assert r.status == status, r
    assert r.code == ("bad_request" if status == 400 else "unknown_target"), r
    assert needle in r.json["error"]["message"], r.json
    assert a.get("/v1/drills", token=READ_TOKEN).json["active"] == []
    assert any(l.get("status") == status for l in audit_lines(g))


def test_auth_and_methods(world):
    a = world.a
    body = {"regions": ["us"], "mode": "shadow", "reason": "x"}
    assert a.post("/v1/drills", body, token=READ_TOKEN).status == 403
    assert a.post("/v1/drills", body, token=None).status == 401
    assert a.delete("/v1/drills/drl-1", token=READ_TOKEN).status == 403
    assert a.get("/v1/drills", token=None).status == 401
    assert a.get("/v1/drills", token=READ_TOKEN).status == 200
    r = a.post("/v1/drills", raw=b"{\"mode\": ")
    assert r.status == 400 and r.code == "bad_json", r
    r = a.post("/v1/drills/drl-1", body)
    assert r.status == 405, r


def test_dry_run_starts_nothing(world):
    g, a = world.g, world.a
    r = a.post("/v1/drills", {"regions": ["us"], "mode": "live", "dry_run": True,
                              "clients": ["10.1.2.3", "10.9.0.0/16"]})
    assert r.status == 200, r
    j = r.json
    assert j["dry_run"] is True and j["lost"] == ["region:us"] and j["exit"] == 3
    assert j["abort_if_broken"] is False
    assert len(j["records"]) == 4 * 2 and {x["client"] for x in j["records"]} == \
        {"10.1.2.3", "10.9.0.0/16"}
    assert a.get("/v1/drills", token=READ_TOKEN).json["active"] == []
    assert answers(g, "fo") == US
    assert not any(l.get("path") == "/v1/drills" for l in audit_lines(g)), \
        "a dry run is not audited"


# ---- the offline what-if agrees with a live drill --------------------------------

def offline(g, *args):
    r = subprocess.run([GTMD, "drill", "-c", g.conf_path, "--state",
                        os.path.join(g.workdir, "state.json"), "--json"] + list(args),
                       capture_output=True, text=True, timeout=20)
    assert r.returncode in (0, 3), r
    return r.returncode, json.loads(r.stdout)


def test_offline_what_if_agrees_with_the_live_drill(world):
    g, a = world.g, world.a
    world.b[EU[1]].kill()  # some real state the what-if must take from the file
    wait_answers(g, "eufo", [EU[0]])
    ok, _ = poll(lambda: '"down"' in open(os.path.join(g.workdir, "state.json")).read(), 3.0)
    assert ok, "the state file has eu2 down"
    rc, w = offline(g, "--region", "us")
    assert rc == 3, "uso falls to when_all_down"
    predicted = {r["record"]: r["after"]["answers"] for r in w["records"] if r["type"] == "A"}
    assert predicted["fo.example.com."] == [EU[0]]
    d = start_drill(a, regions=["us"], mode="live", duration=60, force=True)
    for name in ("fo", "eufo", "all", "uso"):
        assert answers(g, name) == predicted[name + ".example.com."], name
    # With the drill running, the state file holds it: "now" is the drill.
    rc, w = offline(g, "--region", "eu")
    now = {r["record"]: r["before"]["answers"] for r in w["records"] if r["type"] == "A"}
    for name in ("fo", "eufo", "all", "uso"):
        assert answers(g, name) == now[name + ".example.com."], name
    assert "1 drills active" in w["health"]
    assert a.delete("/v1/drills/" + d["id"]).status == 200


# ---- gtmctl drill ------------------------------------------------------------------

def ctl(world, *args, token="operate"):
    from adminlib import gtmctl
    tok = os.path.join(world.g.workdir, "%s.token" % token)
    return gtmctl("--server", world.a.url, "--token-file", tok, *args)


def test_gtmctl_drill_plan_start_status_list_abort(world):
    g = world.g
    r = ctl(world, "drill", "plan", "--region", "us", "--client", "10.1.2.3")
    assert r.returncode == 4, r  # uso would be unserved
    assert "plan: losing region:us" in r.stdout
    row = next(l for l in r.stdout.splitlines() if l.startswith("fo.example.com."))
    assert "10.1.2.3" in row and "eu: 127.0.0.21, 127.0.0.22" in row and row.endswith("moves")
    assert "would fall to when_all_down" in r.stdout
    r = ctl(world, "--json", "drill", "plan", "--region", "ap")
    assert r.returncode == 0, r
    j = json.loads(r.stdout)
    assert j["dry_run"] is True and j["lost"] == ["region:ap"] and j["exit"] == 0
    # Start, with the same checks as the API.
    r = ctl(world, "drill", "start", "--region", "us", "--mode", "live", "--reason", "gameday",
            "--duration", "30")
    assert r.returncode == 1 and "HTTP 409" in r.stderr, r
    assert "would leave unserved: uso.example.com. A" in r.stderr
    r = ctl(world, "drill", "start", "--region", "us", "--mode", "live", "--reason", "gameday",
            "--duration", "30", "--force", "--abort-min-up", "2", "--abort-min-share", "0.5")
    assert r.returncode == 0, r
    did = re.search(r"drill (drl-\d+) started: live", r.stdout).group(1)
    assert answers(g, "fo") == EU
    r = ctl(world, "--json", "drill", "status", did, token="read")
    d = json.loads(r.stdout)
    assert d["abort_if"] == {"min_up_endpoints": 2, "min_up_share": 0.5} and d["state"] == "active"
    r = ctl(world, "drill", "status", token="read")
    assert r.returncode == 0 and "drill %s: live, active" % did in r.stdout
    assert "reason    gameday (by operate)" in r.stdout
    r = ctl(world, "drill", "list", token="read")
    assert re.search(r"^%s\s+live\s+region:us\s+active" % did, r.stdout, re.M), r.stdout
    r = ctl(world, "status", token="read")
    assert re.search(r"^us\s+-\s+\(drill %s live: gameday\)$" % did, r.stdout, re.M), r.stdout
    assert re.search(r"drills 1$", r.stdout.splitlines()[0]), r.stdout
    r = ctl(world, "drill", "abort", did, token="read")
    assert r.returncode == 1 and "HTTP 403" in r.stderr
    r = ctl(world, "drill", "abort", did)
    assert r.returncode == 0 and "drill %s: live, ended" % did in r.stdout
    assert answers(g, "fo") == US
    r = ctl(world, "drill", "list", token="read")
    assert re.search(r"^%s\s+live\s+region:us\s+aborted" % did, r.stdout, re.M), r.stdout
    r = ctl(world, "drill", "abort", did)
    assert r.returncode == 1 and "has ended already" in r.stderr
    for bad in (["drill"], ["drill", "plan"], ["drill", "start", "--region", "us"],
                ["drill", "abort"], ["drill", "list", "x"], ["drill", "plan", "--region"],
                ["drill", "start", "--region", "us", "--mode", "live", "--reason", "x",
                 "--duration", "soon"]):
        r = ctl(world, *bad)
        assert r.returncode == 2 and "bad drill command" in r.stderr, (bad, r)

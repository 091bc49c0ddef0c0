"""Traffic dials (partial overrides) and gradual failback, on a real gtmd with
real backends (backends.py) that the tests kill and restore, queried over
real DNS from 200 client subnets given in ECS.

Which clients a dial or a ramp moves is a deterministic function of the
client's /24 and the salt (dials.py is a copy of gtmd's), so the tests
assert the exact set of clients, and that its size is within the binomial
bounds of the share (mean +- 4 sigma, e.g. 30 % of 200: 34..86); the
assertions do not depend on luck, only on the hash being gtmd's.

Checks every 1 s, timeout 0.8 s, rise 2, fall 3: these tests measure who is
answered from where, not failover timing, and a region that flaps under a
loaded machine would spoil a sweep. Every wait is bounded in count and
time."""
import subprocess
import time

import dns.edns
from adminlib import Admin, admin_port, admin_section
from backends import answer_addrs, backends, fast_query, free_port_on, poll  # noqa: F401
from conftest import GTMD, default_config
from dials import binomial_bounds, bucket, salt_of, subnets

US, EU = "127.0.0.11", "127.0.0.21"
NAME = "fo.example.com."
CLIENTS = subnets(200)


def dial_config(port, failback=None, state_file=False):
    def fn(workdir, gport):
        c = default_config(workdir, gport)
        if state_file:
            c["state_file"] = "state.json"
        c["regions"] = {"us": {}, "eu": {}}
        c["checks"] = {"web": {"type": "http", "port": port, "path": "/", "interval": 1.0,
                               "timeout": 0.8, "rise": 2, "fall": 3}}
        c["pools"] = {"web": {"check": "web", "endpoints": [
            {"name": "us1", "address": US, "region": "us"},
            {"name": "eu1", "address": EU, "region": "eu"}]}}
        rec = {"pool": "web", "policy": "failover", "regions": ["us", "eu"], "ttl": 5}
        if failback:
            rec["failback"] = failback
        c["records"] = {NAME: rec}
        c["admin"] = admin_section(workdir, admin_port(gport))
        return c
    return fn


def start(make_gtmd, backends, failback=None, state_file=False):
    port = free_port_on([US, EU])
    b_us, b_eu = backends.start_all([backends.http(US, port, start=False),
                                     backends.http(EU, port, start=False)])
    g = make_gtmd(dial_config(port, failback, state_file))
    a = Admin.of(g).wait_ready()
    ok, _ = poll(lambda: ask(g, CLIENTS[0])[0] == [US], 5.0)
    assert ok, g.read_log()[-2000:]
    return g, a, b_us, b_eu


def ask(g, ecs):
    """(answer, ECS scope) of NAME for a client subnet."""
    for _ in range(5):
        r = fast_query(g.addr, g.port, NAME, ecs=ecs, timeout=1.0)
        if r is not None:
            scope = None
            for o in r.options:
                if isinstance(o, dns.edns.ECSOption):
                    scope = o.scopelen
            return sorted(answer_addrs(r, ("A",))), scope
    raise AssertionError("no answer for %s" % ecs)


def sweep(g, clients=CLIENTS):
    """The set of clients answered from eu, and every scope seen."""
    moved, scopes = set(), set()
    for c in clients:
        ans, scope = ask(g, c)
        assert ans in ([US], [EU]), (c, ans)
        if ans == [EU]:
            moved.add(c)
        scopes.add(scope)
    return moved, scopes


def expected(salt, share_bp, clients=CLIENTS):
    return {c for c in clients if bucket(c, salt) < share_bp}


def test_dial_moves_its_share_the_same_clients_dry_run_and_expiry(make_gtmd, backends):
    g, a, b_us, b_eu = start(make_gtmd, backends)
    assert sweep(g)[0] == set()

    body = {"target": "region:us", "state": "down", "percent": 30,
            "reason": "shift 30 % to eu", "expires_in": 600}
    dry = a.post("/v1/overrides", dict(body, dry_run=True))
    assert dry.status == 200, dry
    salt = salt_of("region:us")
    assert dry.json["dial"] == {"percent": 30.0, "salt": salt}
    [ch] = [c for c in dry.json["changes"] if c["record"] == NAME and c["type"] == "A"]
    assert ch["before"]["answers"] == [US] and ch["after"]["answers"] == [EU]
    assert ch["moved_percent"] == 30.0

    want = expected(salt, 3000)
    lo, hi = binomial_bounds(len(CLIENTS), 0.30)
    print("dial 30%%: %d of %d clients predicted to move (bounds %.0f..%.0f)"
          % (len(want), len(CLIENTS), lo, hi))
    assert lo <= len(want) <= hi

    r = a.post("/v1/overrides", body)
    assert r.status == 201, r
    assert r.json["percent"] == 30.0 and r.json["salt"] == salt
    moved, scopes = sweep(g)
    # The dry run's "after" is what the moved clients get, its "before"
    # what the others keep; exactly the predicted clients moved.
    assert moved == want
    assert scopes == {24}, scopes  # one client's decision is cached for its /24 only
    assert sweep(g)[0] == want  # the same clients again
    # A client that sends /16 is decided on its /16 (scope 16): the key
    # keeps no bit it did not send.
    ans, scope = ask(g, "100.64.77.0/16")
    assert scope == 16
    assert ans == ([EU] if bucket("100.64.0.0/16", salt) < 3000 else [US])

    # Explain shows the dial and the client's bucket.
    c0 = sorted(want)[0]
    ex = a.get("/v1/explain?name=%s&ecs=%s" % (NAME, c0))
    assert ex.status == 200, ex
    us_reg = [x for x in ex.json["policy"]["regions"] if x["region"] == "us"][0]
    assert us_reg["dial"]["percent"] == 30.0
    assert us_reg["dial"]["bucket"] == bucket(c0, salt)
    assert us_reg["dial"]["client_in_dial"] is True

    # Expiry restores every client: the same dial again, with 8 s to live.
    a.clear_overrides()
    assert sweep(g)[0] == set()
    r = a.post("/v1/overrides", dict(body, expires_in=8))
    assert r.status == 201, r
    t_created = time.monotonic()
    assert ask(g, c0)[0] == [EU]
    ok, _ = poll(lambda: a.overrides() == [], 8.0 - (time.monotonic() - t_created) + 5.0, 0.1)
    assert ok
    assert sweep(g)[0] == set()


def test_dial_percent_edges_and_validation(make_gtmd, backends):
    g, a, b_us, b_eu = start(make_gtmd, backends)
    for bad in (-1, 100.5, "30", 12.345):
        r = a.post("/v1/overrides", {"target": "region:us", "state": "down", "percent": bad,
                                     "reason": "x"})
        assert r.status == 400, (bad, r)
    r = a.post("/v1/overrides", {"target": "endpoint:web/us1", "state": "down", "percent": 10,
                                 "reason": "x"})
    assert r.status == 400 and "region and az" in r.json["error"]["message"]
    # 100 % is a full override: no dial fields; every client moves.
    r = a.post("/v1/overrides", {"target": "region:us", "state": "down", "percent": 100,
                                 "reason": "all"})
    assert r.status == 201 and "percent" not in r.json
    assert sweep(g)[0] == set(CLIENTS)
    a.clear_overrides()
    # 0 % moves nobody; a given salt picks other clients.
    r = a.post("/v1/overrides", {"target": "region:us", "state": "down", "percent": 0,
                                 "reason": "none"})
    assert r.status == 201 and r.json["changes"] == []
    assert sweep(g)[0] == set()
    a.clear_overrides()
    r = a.post("/v1/overrides", {"target": "region:us", "state": "down", "percent": 50,
                                 "salt": 7, "reason": "salted"})
    assert r.status == 201
    assert sweep(g)[0] == expected(7, 5000)


def test_dial_survives_a_restart(make_gtmd, backends):
    g, a, b_us, b_eu = start(make_gtmd, backends, state_file=True)
    r = a.post("/v1/overrides", {"target": "region:us", "state": "down", "percent": 40,
                                 "salt": 12345, "reason": "kept", "expires_in": 600})
    assert r.status == 201, r
    want = expected(12345, 4000)
    assert sweep(g)[0] == want
    g.stop()
    g.start()
    a.wait_ready()
    [o] = a.overrides()
    assert o["id"] == r.json["id"] and o["percent"] == 40.0 and o["salt"] == 12345
    ok, _ = poll(lambda: ask(g, sorted(set(CLIENTS) - want)[0])[0] == [US], 5.0)
    assert ok
    assert sweep(g)[0] == want


def test_dial_safety_rule_and_real_outage(make_gtmd, backends):
    g, a, b_us, b_eu = start(make_gtmd, backends)
    # eu is down for real: a partial "down" on us would leave its share of
    # the clients with nothing: refused like a full one (409) unless forced.
    b_eu.kill()
    ok, _ = poll(lambda: a.get("/v1/status").json["regions"][1]["endpoints"][0]["state"]
                 ["effective"] == "down", 5.0, 0.1)
    assert ok
    r = a.post("/v1/overrides", {"target": "region:us", "state": "down", "percent": 20,
                                 "reason": "x"})
    assert r.status == 409 and r.json["error"]["code"] == "unsafe", r
    b_eu.restart()
    ok, _ = poll(lambda: a.post("/v1/overrides", {"target": "region:us", "state": "down",
                                                  "percent": 20, "reason": "x",
                                                  "dry_run": True}).json
                 ["would_leave_unserved"] == [], 5.0, 0.1)
    assert ok
    r = a.post("/v1/overrides", {"target": "region:us", "state": "down", "percent": 20,
                                 "reason": "x"})
    assert r.status == 201
    want = expected(salt_of("region:us"), 2000)
    assert sweep(g)[0] == want
    # us really fails: every client goes to eu whatever the dial says, and
    # comes back to the dial's split when us recovers.
    b_us.kill()
    ok, _ = poll(lambda: ask(g, sorted(set(CLIENTS) - want)[0])[0] == [EU], 5.0)
    assert ok
    assert sweep(g)[0] == set(CLIENTS)
    b_us.restart()
    ok, _ = poll(lambda: ask(g, sorted(set(CLIENTS) - want)[0])[0] == [US], 5.0)
    assert ok
    assert sweep(g)[0] == want


def ramp_of(a):
    us = [r for r in a.get("/v1/status").json["regions"] if r["name"] == "us"][0]
    return us["ramps"]


def test_failback_ramp(make_gtmd, backends):
    ramp_s = 20.0
    g, a, b_us, b_eu = start(make_gtmd, backends, failback={"ramp": ramp_s})
    salt = salt_of("region:us")
    assert ramp_of(a) == []  # the first verdicts of a start do not ramp
    b_us.kill()
    ok, _ = poll(lambda: ask(g, CLIENTS[0])[0] == [EU], 5.0)
    assert ok
    assert sweep(g)[0] == set(CLIENTS)

    b_us.restart()
    ok, _ = poll(lambda: ramp_of(a), 5.0, 0.05)
    assert ok, "no ramp began:\n" + g.read_log()[-2000:]
    # About half way: sample the ramp's share before and after a sweep;
    # the clients back are exactly those whose bucket is below the share
    # at the time they were asked (between the two samples).
    ok, _ = poll(lambda: ramp_of(a) and ramp_of(a)[0]["elapsed"] >= ramp_s / 2 - 1, ramp_s, 0.05)
    assert ok
    r0 = ramp_of(a)[0]
    held, _ = sweep(g)
    r1 = ramp_of(a)
    share0 = r0["percent"] * 100
    share1 = r1[0]["percent"] * 100 if r1 else 10000
    back = set(CLIENTS) - held
    print("ramp at %.2f s of %.0f: %.1f..%.1f %%, %d of %d clients back"
          % (r0["elapsed"], ramp_s, share0 / 100, share1 / 100, len(back), len(CLIENTS)))
    assert expected(salt, share0) <= back <= expected(salt, share1 + 1)
    # About half: the share is the elapsed fraction of the ramp, and the
    # clients it covers are within the binomial bounds of that share.
    assert 40 <= share0 / 100 <= 70
    lo, hi = binomial_bounds(len(CLIENTS), share0 / 10000)
    assert lo <= len(expected(salt, share0)) <= hi
    # Explain shows the ramp's progress and a held client's bucket.
    if held:
        c = sorted(held, key=lambda x: -bucket(x, salt))[0]
        ex = a.get("/v1/explain?name=%s&ecs=%s" % (NAME, c)).json
        us_reg = [x for x in ex["policy"]["regions"] if x["region"] == "us"][0]
        if "ramp" in us_reg:  # may have ended meanwhile on a slow machine
            assert us_reg["ramp"]["bucket"] == bucket(c, salt)
            assert us_reg["ramp"]["ramp"] == ramp_s

    # 100 % at the end; the status lists no ramp any more.
    ok, _ = poll(lambda: ramp_of(a) == [], ramp_s + 5, 0.1)
    assert ok
    assert sweep(g)[0] == set()


def test_failback_down_again_during_ramp_is_down_at_once(make_gtmd, backends):
    ramp_s = 30.0
    g, a, b_us, b_eu = start(make_gtmd, backends, failback={"ramp": ramp_s})
    b_us.kill()
    ok, _ = poll(lambda: ask(g, CLIENTS[0])[0] == [EU], 5.0)
    assert ok
    b_us.restart()
    ok, _ = poll(lambda: ramp_of(a) and ramp_of(a)[0]["percent"] >= 5, 10.0, 0.05)
    assert ok
    back = set(CLIENTS) - sweep(g)[0]
    assert back, "nobody back at %s" % ramp_of(a)
    some = sorted(back)[0]
    b_us.kill()
    ok, _ = poll(lambda: ask(g, some)[0] == [EU], 5.0)
    assert ok
    assert sweep(g)[0] == set(CLIENTS)
    assert ramp_of(a) == []
    # Its next recovery starts a new ramp.
    b_us.restart()
    ok, _ = poll(lambda: ramp_of(a) != [], 5.0, 0.05)
    assert ok


def test_failback_config_errors(make_gtmd):
    g = make_gtmd(dial_config(80, failback={"ramp": 0}), start=False)
    g.write_config()
    r = subprocess.run([GTMD, "check", "-c", g.conf_path], capture_output=True, text=True,
                       timeout=20)
    assert r.returncode != 0
    assert '$.records["fo.example.com."].failback.ramp' in r.stdout + r.stderr
    g2 = make_gtmd(dial_config(80, failback={"rampe": 5}), start=False)
    g2.write_config()
    r = subprocess.run([GTMD, "check", "-c", g2.conf_path], capture_output=True, text=True,
                       timeout=20)
    assert r.returncode != 0 and "failback" in r.stdout + r.stderr


def test_gtmctl_percent(make_gtmd, backends):
    import os
    from adminlib import gtmctl
    g, a, b_us, b_eu = start(make_gtmd, backends)
    pre = ["--server", a.url, "--token-file", os.path.join(g.workdir, "operate.token")]
    p = gtmctl(*pre, "override", "add", "region:us", "down", "--percent", "25", "--reason",
               "dial", "--dry-run")
    assert p.returncode == 0, p.stderr
    assert "fo.example.com. A: us -> eu (25 % of its clients)" in p.stdout, p.stdout
    p = gtmctl(*pre, "override", "add", "region:us", "down", "--percent", "25", "--salt", "9",
               "--reason", "dial")
    assert p.returncode == 0, p.stderr
    assert "forced down for 25 % of clients (salt 9)" in p.stdout, p.stdout
    p = gtmctl(*pre, "override", "list")
    assert p.returncode == 0 and " down/25% " in p.stdout, p.stdout
    assert sweep(g)[0] == expected(9, 2500)
    p = gtmctl(*pre, "override", "add", "region:us", "down", "--percent", "x", "--reason", "d")
    assert p.returncode == 2 and "--percent" in p.stderr

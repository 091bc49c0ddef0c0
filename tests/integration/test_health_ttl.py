"""Health-aware TTLs ("ttl_min", as gdnsd shortens TTLs near a change):
against real TCP backends that the test kills and restarts, the TTL of a
failover record is its configured "ttl" while the answer is steady, drops
to the time until the earliest possible change while a fall or a rise is
in progress (never below "ttl_min", never above "ttl"), and is "ttl"
again once the change is done; an override that expires ends the TTL of
the answer it gives at its expiry. A record without "ttl_min" keeps its TTL
throughout. explain shows the inputs.

interval 1 s, timeout 0.4 s, rise 3, fall 3: a fall in progress after the
first failure can change the answer after 2 more failures, so the TTL is
at most 3 s (2 intervals, rounded up, plus the probe in flight). Every
wait is bounded."""
import json
import subprocess

import pytest

from adminlib import Admin, admin_port, admin_section
from backends import backends, fast_query, free_port_on, poll  # noqa: F401
from conftest import GTMD, default_config

US, EU = "127.0.0.61", "127.0.0.62"
TTL, TTL_MIN = 60, 2


def config(port):
    def fn(workdir, dns_port):
        c = default_config(workdir, dns_port)
        c["regions"] = {"us": {}, "eu": {}}
        c["checks"] = {"tcp": {"type": "tcp", "port": port, "interval": 1.0, "timeout": 0.4,
                               "rise": 3, "fall": 3}}
        c["pools"] = {"web": {"check": "tcp", "endpoints": [
            {"name": "us1", "address": US, "region": "us"},
            {"name": "eu1", "address": EU, "region": "eu"}]}}
        c["records"] = {
            "app.example.com.": {"pool": "web", "policy": "failover", "regions": ["us", "eu"],
                                 "ttl": TTL, "ttl_min": TTL_MIN},
            "fixed.example.com.": {"pool": "web", "policy": "failover",
                                   "regions": ["us", "eu"], "ttl": TTL}}
        c["admin"] = admin_section(workdir, admin_port(dns_port))
        return c
    return fn


def answer(g, name):
    """(addresses, TTL) of name's A answer."""
    r = None
    for _ in range(3):
        r = fast_query(g.addr, g.port, name, "A", timeout=1.0)
        if r is not None:
            break
    assert r is not None, name
    addrs, ttls = set(), set()
    for rrset in r.answer:
        ttls.add(rrset.ttl)
        addrs.update(rd.address for rd in rrset)
    assert len(ttls) == 1, r
    return addrs, ttls.pop()


@pytest.fixture
def estate(make_gtmd, backends):
    port = free_port_on([US, EU])
    us, eu = backends.start_all([backends.tcp(US, port, start=False),
                                 backends.tcp(EU, port, start=False)])
    g = make_gtmd(config(port))
    assert poll(lambda: answer(g, "app.example.com.") == ({US}, TTL), 10)[0], \
        g.read_log()[-2000:]
    return g, us, eu


def test_ttl_shortens_during_fall_and_rise_and_returns(estate):
    g, us, _ = estate
    us.kill()
    seen = []

    def short():
        a = answer(g, "app.example.com.")
        seen.append(a)
        return a[0] == {US} and a[1] < TTL
    # Within 2 intervals of the kill the first failure is counted.
    assert poll(short, 4, 0.05)[0], (seen[-5:], g.read_log()[-2000:])
    low = [t for a, t in seen if a == {US} and t < TTL]
    assert low and all(TTL_MIN <= t <= 3 for t in low), seen
    # The control record keeps its TTL while the fall is in progress.
    assert answer(g, "fixed.example.com.") == ({US}, TTL)
    e = Admin.of(g).get("/v1/explain?name=app.example.com.&type=A").json["policy"]
    if e["selection"]["chosen"] == [US]:  # still in the fall
        h = e["ttl_health"]
        assert h["ttl_min"] == TTL_MIN and h["ttl_max"] == TTL, h
        assert h["change_in_s"] is not None and h["change_in_s"] <= 3, h
        assert TTL_MIN <= e["ttl"] <= 3, e
    # Failed over: steady again, the full TTL.
    assert poll(lambda: answer(g, "app.example.com.") == ({EU}, TTL), 8, 0.05)[0], \
        g.read_log()[-2000:]
    e = Admin.of(g).get("/v1/explain?name=app.example.com.&type=A").json["policy"]
    assert e["ttl"] == TTL and e["ttl_health"]["change_in_s"] is None, e
    # The rise: us answers again, passes its first checks (EU still serves,
    # with a TTL that ends when us can be back), then serves with TTL.
    us.start()
    seen.clear()

    def rising():
        a = answer(g, "app.example.com.")
        seen.append(a)
        return a[0] == {EU} and a[1] < TTL
    assert poll(rising, 4, 0.05)[0], (seen[-5:], g.read_log()[-2000:])
    assert all(TTL_MIN <= t <= 3 for a, t in seen if a == {EU} and t < TTL), seen
    assert poll(lambda: answer(g, "app.example.com.") == ({US}, TTL), 8, 0.05)[0]


def test_ttl_ends_before_an_override_expires(estate):
    """An override (here forcing us down for 20 s) changes the answer when
    it expires: the TTL of the answer it gives ends then; once it is
    deleted, the full TTL again."""
    g, _, _ = estate
    a = Admin.of(g)
    r = a.post("/v1/overrides", {"target": "region:us", "state": "down", "reason": "test",
                                 "expires_in": 20})
    assert r.status == 201, r.body
    oid = r.json["id"]
    addrs, ttl = answer(g, "app.example.com.")
    assert addrs == {EU} and 15 <= ttl <= 20, (addrs, ttl)
    assert answer(g, "fixed.example.com.") == ({EU}, TTL)
    assert a.delete("/v1/overrides/" + oid).status in (200, 204)
    assert answer(g, "app.example.com.") == ({US}, TTL)


def test_ttl_min_is_checked(tmp_path):
    base = config(1)(str(tmp_path), 5399)
    del base["admin"]
    base["records"]["app.example.com."]["ttl_min"] = 61
    p = tmp_path / "gtmd.json"
    p.write_text(json.dumps(base))
    r = subprocess.run([GTMD, "check", "-c", str(p)], capture_output=True, text=True, timeout=30)
    assert r.returncode == 1 and \
        '$.records["app.example.com."].ttl_min: 61 is above "ttl" (60)' in r.stderr, r.stderr
    base["records"]["app.example.com."]["ttl_min"] = -1
    p.write_text(json.dumps(base))
    r = subprocess.run([GTMD, "check", "-c", str(p)], capture_output=True, text=True, timeout=30)
    assert r.returncode == 1 and "ttl_min" in r.stderr, r.stderr

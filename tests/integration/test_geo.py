"""Geo routing end to end: geo and nearest records against real backends,
located by EDNS Client Subnet (dnspython's ECS option) or by the source
address, with tests/data/geo-city.mmdb (see make_geo_db.pl).

Expected regions and ECS scopes come from geo_oracle.py, which reads the
generator's table and knows nothing of gtmd: for every answer the test
checks the scope is exactly the widest prefix with the same answer under
the current health state, queries addresses inside it (same answer) and
one just outside (a different answer).

Unless a test says otherwise: interval 0.25 s, timeout 0.2 s, rise 2,
fall 3 (with fall 2, two slow probes of a backend on a loaded machine
flipped a region during the steady-state checks once). Every wait is
bounded. The failover and reload tests are marked
"threads" (workers, prober, health thread rebuilding the widened scopes,
reloads at once: the ThreadSanitizer build runs them)."""
import json
import os
import random
import re
import shutil
import signal
import socket
import struct
import subprocess
import threading
import time

import dns.edns
import dns.message
import dns.query
import dns.rcode
import pytest

import geo_oracle as oracle
from adminlib import Admin, admin_port, admin_section, gtmctl
from backends import answer_addrs, backends, fast_query, free_port_on, poll  # noqa: F401
from conftest import DATA, default_config, free_port, stop_process

REGIONS = {  # name: (backend address, location)
    "us": ("127.0.0.41", (38.9, -77.0)),     # Washington
    "eu": ("127.0.0.42", (50.1, 8.7)),       # Frankfurt
    "ap": ("127.0.0.43", (35.7, 139.7)),     # Tokyo
    "oc": ("127.0.0.44", (-33.9, 151.2)),    # Sydney
    "sa": ("127.0.0.45", (-23.5, -46.6)),    # Sao Paulo
}
BY_ADDR = {a: r for r, (a, _) in REGIONS.items()}

# Every key kind; precedence pairs answer differently (network vs the
# continent around it, subdivision vs its continent, country:AS (American
# Samoa, in OC) vs continent:OC, country:JP vs continent:AS (Asia)).
GEO = {
    "network:10.1.2.0/24": ["sa", "eu"],
    "network:2001:db8:1:2::/64": ["eu", "us"],
    "subdivision:US-CA": ["ap", "us"],
    "country:JP": ["ap", "oc"],
    "country:AS": ["oc", "ap"],
    "continent:AS": ["eu", "ap"],
    "continent:OC": ["sa", "oc"],
    "continent:EU": ["eu", "us"],
    "continent:NA": ["us", "eu"],
    "default": ["oc", "us"],
}
GEO_MAP = oracle.GeoMap(GEO)
NEAREST = oracle.Nearest(["us", "eu", "ap", "oc", "sa"], {r: v[1] for r, v in REGIONS.items()})

# (ECS network, key kind) spread over the database's v4 and v6 networks.
CASES = [
    ("10.1.2.0/24", "network"), ("10.1.2.128/25", "network"), ("10.1.3.0/24", "continent"),
    ("10.0.0.0/16", "continent"), ("10.128.0.0/9", "country"), ("10.200.0.0/14", "unknown"),
    ("127.0.0.0/24", "subdivision"), ("127.0.1.0/24", "continent"), ("127.0.2.0/24", "country"),
    ("127.0.3.0/24", "country"), ("127.0.4.0/24", "default"), ("127.0.5.0/24", "default"),
    ("127.0.6.0/24", "continent"), ("127.0.7.0/24", "unknown"), ("127.0.8.0/23", "continent"),
    ("127.0.10.0/24", "continent"), ("127.0.11.0/24", "default"), ("127.0.12.0/24", "unknown"),
    ("127.0.200.0/24", "unknown"), ("192.0.2.0/26", "continent"),
    ("192.0.2.64/27", "subdivision"), ("192.0.2.96/29", "continent"),
    ("192.0.2.128/25", "continent"), ("198.51.100.0/26", "continent"),
    ("198.51.100.64/27", "continent"), ("203.0.113.0/25", "continent"),
    ("203.0.113.252/30", "country"), ("100.64.0.0/11", "default"), ("172.20.0.0/14", "default"),
    ("192.168.1.0/24", "continent"), ("2001:db8::/48", "continent"),
    ("2001:db8:1::/56", "subdivision"), ("2001:db8:1:2::/64", "network"),
    ("2001:db8:1:3::/64", "continent"), ("2001:db8:2::/48", "country"),
    ("2001:db8:6::/48", "unknown"), ("2001:db8:8000:1::/64", "continent"),
    ("fd12:3456:789a:1::/64", "continent"), ("fd12:3456::/48", "default"),
    ("fd00::/16", "continent"), ("3fff::/20", "unknown"), ("::1/128", "continent"),
]

INTERVAL, TIMEOUT = 0.25, 0.2


def geo_config(port_http, geo=None, db="geo-city.mmdb", extra_records=None, ecs=None,
               admin=True):
    """A make_gtmd config_fn: the test zones, five regions with one checked
    backend each, geo.example.com (GEO) and near.example.com (nearest)."""
    def fn(workdir, port):
        c = default_config(workdir, port)
        shutil.copy(os.path.join(DATA, "geo-city.mmdb"), workdir)
        shutil.copy(os.path.join(DATA, "geo-country.mmdb"), workdir)
        c["geoip"] = {"database": db}
        c["regions"] = {r: {"location": list(loc)} for r, (_, loc) in REGIONS.items()}
        c["checks"] = {"web": {"type": "http", "port": port_http, "interval": INTERVAL,
                               "timeout": TIMEOUT, "rise": 2, "fall": 3}}
        c["pools"] = {"web": {"check": "web", "endpoints": [
            {"name": r, "address": a, "region": r} for r, (a, _) in REGIONS.items()]}}
        c["records"] = {
            "geo.example.com.": {"pool": "web", "policy": "geo", "geo": geo or GEO, "ttl": 30},
            "near.example.com.": {"pool": "web", "policy": "nearest", "ttl": 30},
        }
        c["records"].update(extra_records or {})
        if ecs is not None:
            c["ecs"] = ecs
        if admin:
            c["admin"] = admin_section(workdir, admin_port(port))
        return c
    return fn


@pytest.fixture
def geo(make_gtmd, backends):
    """gtmd with every backend up; yields (gtmd, {region: Backend})."""
    addrs = [a for a, _ in REGIONS.values()]
    port = free_port_on(addrs)
    bs = backends.start_all([backends.http(a, port, start=False) for a in addrs])
    g = make_gtmd(geo_config(port))
    g.http_port = port
    wait_scopes_current(g)
    yield g, dict(zip(REGIONS, bs))


def ask(g, name, ecs=None, source=None, rdtype="A", timeout=1.0):
    """(set of regions answering, ECS scope or None, response)."""
    r = None
    for _ in range(3):  # UDP on loopback: retry a lost datagram
        r = fast_query(g.addr, g.port, name, rdtype, timeout=timeout, ecs=ecs, source=source)
        if r is not None:
            break
    assert r is not None, "no answer to %s from %s/%s" % (name, ecs, source)
    regions = frozenset(BY_ADDR[a] for a in answer_addrs(r))
    scope = None
    for o in r.options:
        if isinstance(o, dns.edns.ECSOption):
            scope = o.scopelen
    return regions, scope, r


def ecs_addr(ecs):
    addr, plen = ecs.split("/")
    fam, a = oracle.parse(addr)
    return fam, a, int(plen)


def wait_scopes_current(g, timeout=5.0):
    """Waits until the widened scopes follow the current health state (the
    health thread rebuilds them after every probe transition)."""
    fam, a, _ = ecs_addr("10.1.3.0/24")
    want = oracle.expected_scope(GEO_MAP, fam, a)

    def ok():
        _, scope, _ = ask(g, "geo.example.com.", ecs="10.1.3.0/24")
        return scope == want
    assert poll(ok, timeout)[0], "scopes never settled:\n" + g.read_log()[-2000:]


def check_case(g, name, policy, ecs, down=()):
    """One ECS query: regions and scope as the oracle says; returns scope."""
    fam, a, _ = ecs_addr(ecs)
    regions, scope, _ = ask(g, name, ecs=ecs)
    want = oracle.answer(policy, fam, a, down)
    assert regions == want, "%s %s: got %s, want %s" % (name, ecs, sorted(regions), sorted(want))
    want_scope = oracle.expected_scope(policy, fam, a, down)
    assert scope == want_scope, "%s %s: scope %s, want %s (answer %s)" % (
        name, ecs, scope, want_scope, sorted(regions))
    return scope


def check_inside_outside(g, name, policy, ecs, scope, down=(), rng=random.Random(7)):
    """Addresses inside ecs's address/scope get the same answer; one just
    outside (the other half of the prefix one bit shorter) a different
    one, and both as the oracle says."""
    fam, a, _ = ecs_addr(ecs)
    bits = 32 if fam == 4 else 128
    want = oracle.answer(policy, fam, a, down)
    lo = (a >> (bits - scope)) << (bits - scope) if scope < bits else a
    hi = lo + (1 << (bits - scope)) - 1
    for p in {lo, hi, (lo + hi) // 2, rng.randint(lo, hi), rng.randint(lo, hi)}:
        got, _, _ = ask(g, name, ecs="%s/%d" % (oracle.to_text(fam, p), bits))
        assert got == want, "%s inside %s/%d: %s got %s, want %s" % (
            name, oracle.to_text(fam, lo), scope, oracle.to_text(fam, p), sorted(got),
            sorted(want))
    out = oracle.different_outside(policy, fam, a, scope, down)
    if out is not None:
        got, _, _ = ask(g, name, ecs="%s/%d" % (oracle.to_text(fam, out), bits))
        assert got != want and got == oracle.answer(policy, fam, out, down), (
            "%s just outside %s/%d: %s got %s" % (name, oracle.to_text(fam, lo), scope,
                                                   oracle.to_text(fam, out), sorted(got)))


def metrics(g):
    r = Admin.of(g).get("/metrics")
    assert r.status == 200
    out = {}
    for line in r.body.decode().splitlines():
        if line.startswith("gtmd_geo_lookups_total{"):
            labels, value = line.rsplit(" ", 1)
            out[labels[len("gtmd_geo_lookups_total"):]] = int(value)
    return out


def explain(g, name, **args):
    q = "&".join("%s=%s" % kv for kv in args.items())
    r = Admin.of(g).get("/v1/explain?name=%s&%s" % (name, q))
    assert r.status == 200, r
    return r.json


# ---- where the client is ------------------------------------------------

def test_every_key_kind_v4_and_v6(geo):
    g, _ = geo
    before = metrics(g)
    kinds = {}
    for ecs, kind in CASES:
        fam, a, _ = ecs_addr(ecs)
        assert GEO_MAP.key_for(fam, a)[1] == kind, (ecs, GEO_MAP.key_for(fam, a))
        check_case(g, "geo.example.com.", GEO_MAP, ecs)
        kinds[kind] = kinds.get(kind, 0) + 1
    after = metrics(g)
    for kind in ("network", "subdivision", "country", "continent", "default", "unknown"):
        label = '{policy="geo",outcome="%s"}' % kind
        # wait_scopes_current's queries count as continent lookups too.
        assert after[label] - before[label] >= kinds[kind], (label, before, after)
    # The two-letter ambiguity: country:AS is American Samoa, continent:AS Asia.
    assert ask(g, "geo.example.com.", ecs="127.0.3.0/24")[0] == {"oc"}
    assert ask(g, "geo.example.com.", ecs="198.51.100.0/26")[0] == {"eu"}
    assert ask(g, "geo.example.com.", ecs="10.128.0.0/9")[0] == {"ap"}  # Tokyo: country:JP


def test_nearest_v4_and_v6(geo):
    g, _ = geo
    for ecs, _ in CASES:
        check_case(g, "near.example.com.", NEAREST, ecs)
    # Spot checks that do not depend on the oracle's arithmetic.
    assert ask(g, "near.example.com.", ecs="10.0.0.0/16")[0] == {"eu"}      # Frankfurt
    assert ask(g, "near.example.com.", ecs="127.0.10.0/24")[0] == {"oc"}    # Sydney
    assert ask(g, "near.example.com.", ecs="100.96.0.0/11")[0] == {"sa"}    # Buenos Aires
    assert ask(g, "near.example.com.", ecs="127.0.6.0/24")[0] == {"us"}     # Sweden: no coords


def test_scopes_hold_inside_and_differ_outside(geo):
    g, _ = geo
    for name, policy in (("geo.example.com.", GEO_MAP), ("near.example.com.", NEAREST)):
        for ecs, _ in CASES:
            scope = check_case(g, name, policy, ecs)
            check_inside_outside(g, name, policy, ecs, scope)


def test_clients_without_location_get_default(geo):
    g, _ = geo
    for ecs in ("0.0.0.0/0", "::/0"):
        regions, scope, _ = ask(g, "geo.example.com.", ecs=ecs)
        assert regions == {"oc"} and scope == 0, (ecs, regions, scope)
        regions, scope, _ = ask(g, "near.example.com.", ecs=ecs)
        assert regions == {"us"} and scope == 0, (ecs, regions, scope)
    # No ECS: the source address. 127.0.200.9 is in no database network,
    # 127.0.7.9 in one without the used fields, 127.0.1.9 in Berlin.
    assert ask(g, "geo.example.com.", source="127.0.200.9")[:2] == ({"oc"}, None)
    assert ask(g, "geo.example.com.", source="127.0.7.9")[0] == {"oc"}
    assert ask(g, "geo.example.com.", source="127.0.1.9")[0] == {"eu"}
    assert ask(g, "near.example.com.", source="127.0.10.9")[0] == {"oc"}
    e = explain(g, "geo.example.com.", ecs="0.0.0.0/0")["policy"]["geo"]
    assert e["client"]["from"] == "ecs" and e["client"]["address"] is None, e
    assert "ECS source prefix 0" in e["client"]["why_unknown"] and e["location"] is None, e
    assert e["match"] == "unknown" and e["key"] == "default" and e["scope"] == 0, e


# ---- failover along the order ------------------------------------------

def wait_regions(g, name, ecs, want, timeout=4.0):
    got = []

    def ok():
        got.append(ask(g, name, ecs=ecs, timeout=0.3)[0])
        return got[-1] == want
    assert poll(ok, timeout)[0], "%s %s: wanted %s, saw %s" % (name, ecs, sorted(want),
                                                                 got[-3:])


@pytest.mark.threads
def test_failover_along_the_geo_order(geo):
    g, b = geo
    b["eu"].kill()
    wait_regions(g, "geo.example.com.", "10.1.3.0/24", {"us"})   # EU: eu, us
    wait_scopes_current_down(g, {"eu"})
    for ecs, _ in CASES:
        scope = check_case(g, "geo.example.com.", GEO_MAP, ecs, down={"eu"})
        check_inside_outside(g, "geo.example.com.", GEO_MAP, ecs, scope, down={"eu"})
    assert ask(g, "geo.example.com.", ecs="198.51.100.0/26")[0] == {"ap"}  # Asia: eu, ap
    b["us"].kill()
    # EU's whole list is down: fail open over its own regions only.
    wait_regions(g, "geo.example.com.", "10.1.3.0/24", {"eu", "us"})
    assert ask(g, "geo.example.com.", ecs="127.0.8.0/23")[0] == {"us", "eu"}  # NA: us, eu
    assert ask(g, "geo.example.com.", ecs="127.0.2.0/24")[0] == {"ap"}        # JP unaffected
    b["eu"].start()
    wait_regions(g, "geo.example.com.", "10.1.3.0/24", {"eu"})
    b["us"].start()
    wait_regions(g, "geo.example.com.", "127.0.8.0/23", {"us"})
    wait_scopes_current(g)


def wait_scopes_current_down(g, down, timeout=5.0):
    fam, a, _ = ecs_addr("10.1.3.0/24")
    want = oracle.expected_scope(GEO_MAP, fam, a, down)
    ok = poll(lambda: ask(g, "geo.example.com.", ecs="10.1.3.0/24")[1] == want, timeout)[0]
    assert ok, "scope never became %d with %s down" % (want, sorted(down))


@pytest.mark.threads
def test_failover_along_the_nearest_order(geo):
    g, b = geo
    fam, a, _ = ecs_addr("10.0.0.0/16")  # Frankfurt
    order = NEAREST.order(fam, a)
    assert order[0] == "eu"
    b["eu"].kill()
    wait_regions(g, "near.example.com.", "10.0.0.0/16", {order[1]})
    b[order[1]].kill()
    wait_regions(g, "near.example.com.", "10.0.0.0/16", {order[2]})
    down = {"eu", order[1]}
    ok = poll(lambda: ask(g, "near.example.com.", ecs="10.0.0.0/16")[1] ==
              oracle.expected_scope(NEAREST, fam, a, down), 5.0)[0]
    assert ok
    for ecs, _ in CASES:
        scope = check_case(g, "near.example.com.", NEAREST, ecs, down=down)
        check_inside_outside(g, "near.example.com.", NEAREST, ecs, scope, down=down)
    b["eu"].start()
    wait_regions(g, "near.example.com.", "10.0.0.0/16", {"eu"})


def test_drain_override_is_checked_per_geo_class(geo):
    g, _ = geo
    a = Admin.of(g)
    # network:10.1.2.0/24 has ["sa", "eu"]: draining both leaves it unserved.
    assert a.override("region:sa", "down").status == 201
    r = a.override("region:eu", "down", dry_run=True)
    assert r.status == 200, r
    ch = [c for c in r.json["changes"] if c["record"] == "geo.example.com."]
    assert any("network:10.1.2.0/24" in c.get("clients", []) and
               c["after"]["outcome"] == "fail_open" for c in ch), ch
    r = a.override("region:eu", "down")
    assert r.status == 409 and {"record": "geo.example.com.", "type": "A"} in \
        r.json["error"]["records"], r
    a.clear_overrides()


# ---- ECS handling ---------------------------------------------------------

def test_ecs_false_uses_the_source_address(make_gtmd, backends):
    addrs = [a for a, _ in REGIONS.values()]
    port = free_port_on(addrs)
    backends.start_all([backends.http(a, port, start=False) for a in addrs])
    rec = {"g2.example.com.": {"pool": "web", "policy": "geo", "geo": GEO, "ecs": False},
           "g3.example.com.": {"pool": "web", "policy": "geo", "geo": GEO, "ecs": True}}
    g = make_gtmd(geo_config(port, extra_records=rec))
    # Source 127.0.1.9 is Berlin (eu); the ECS says Tokyo (ap).
    regions, scope, _ = ask(g, "g2.example.com.", ecs="127.0.2.0/24", source="127.0.1.9")
    assert regions == {"eu"} and scope == 0, (regions, scope)
    regions, scope, _ = ask(g, "g3.example.com.", ecs="127.0.2.0/24", source="127.0.1.9")
    assert regions == {"ap"} and scope == 24, (regions, scope)
    e = explain(g, "g2.example.com.", ecs="127.0.2.0/24", client="127.0.1.9")["policy"]["geo"]
    assert e["client"]["ecs_ignored"] and e["client"]["from"] == "source address", e
    g.stop()
    # Top level: every record ignores ECS unless it says otherwise.
    g = make_gtmd(geo_config(port, extra_records=rec, ecs=False))
    for name, want in (("geo.example.com.", ({"eu"}, 0)), ("g3.example.com.", ({"ap"}, 24))):
        regions, scope, _ = ask(g, name, ecs="127.0.2.0/24", source="127.0.1.9")
        assert (regions, scope) == want, (name, regions, scope)


def ecs_wire(family, source, scope, addr):
    """A query for geo.example.com A whose OPT carries this ECS option."""
    q = dns.message.make_query("geo.example.com.", "A", use_edns=0)
    wire = bytearray(q.to_wire())
    opt = struct.pack("!HBB", family, source, scope) + bytes(addr)
    option = struct.pack("!HH", 8, len(opt)) + opt
    # The OPT record is the last 11 octets (RDLENGTH 0): append the option.
    assert wire[-2:] == b"\x00\x00"
    wire[-2:] = struct.pack("!H", len(option))
    return bytes(wire) + option


def test_malformed_ecs_is_formerr(geo):
    g, _ = geo
    bad = {
        "unknown family": ecs_wire(3, 24, 0, [10, 1, 3]),
        "v4 prefix 33": ecs_wire(1, 33, 0, [10, 1, 3, 0, 0]),
        "v6 prefix 129": ecs_wire(2, 129, 0, [0x20] * 17),
        "address longer than the prefix": ecs_wire(1, 16, 0, [10, 1, 3]),
        "address shorter than the prefix": ecs_wire(1, 24, 0, [10, 1]),
        "bits past the prefix": ecs_wire(1, 23, 0, [10, 1, 3]),
        "scope in a query": ecs_wire(1, 24, 24, [10, 1, 3]),
    }
    good = ecs_wire(1, 24, 0, [10, 1, 3])
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.settimeout(2)
    try:
        for what, wire in list(bad.items()) + [("valid", good)]:
            s.sendto(wire, (g.addr, g.port))
            r = dns.message.from_wire(s.recv(4096))
            want = dns.rcode.NOERROR if what == "valid" else dns.rcode.FORMERR
            assert r.rcode() == want, (what, dns.rcode.to_text(r.rcode()))
    finally:
        s.close()


# ---- reloads ----------------------------------------------------------------

class Querier(threading.Thread):
    """Queries geo.example.com with ECS from a fixed list in a loop."""

    def __init__(self, g, nets):
        super().__init__(daemon=True)
        self.g, self.nets = g, nets
        self.n, self.failures, self.seen = 0, [], {}
        self.stop_ev = threading.Event()

    def run(self):
        i = 0
        while not self.stop_ev.is_set() and self.n < 200000:
            ecs = self.nets[i % len(self.nets)]
            i += 1
            r = fast_query(self.g.addr, self.g.port, "geo.example.com.", "A", timeout=1.0,
                           ecs=ecs)
            self.n += 1
            if r is None or r.rcode() != dns.rcode.NOERROR or not answer_addrs(r):
                self.failures.append((ecs, None if r is None else dns.rcode.to_text(r.rcode())))
                continue
            self.seen.setdefault(ecs, set()).add(frozenset(BY_ADDR[a] for a in answer_addrs(r)))

    def stop(self):
        self.stop_ev.set()
        self.join(timeout=10)


def reload_api(g):
    r = Admin.of(g).post("/v1/reload", timeout=30)
    return r


@pytest.mark.threads
def test_database_reload_under_load(geo):
    g, _ = geo
    nets = ["127.0.0.0/24", "192.0.2.64/27", "10.1.3.0/24", "127.0.2.0/24", "2001:db8:1::/56"]
    # The country database has no subdivisions: San Francisco falls back
    # from subdivision:US-CA (ap) to continent:NA (us).
    qs = [Querier(g, nets) for _ in range(3)]
    for q in qs:
        q.start()
    try:
        time.sleep(0.2)
        for k in range(12):
            db = "geo-country.mmdb" if k % 2 == 0 else "geo-city.mmdb"
            g.config["geoip"]["database"] = db
            g.write_config()
            if k % 3 == 2:
                r = reload_api(g)
                assert r.status == 200 and r.json["result"] == "ok", r
                assert r.json["geo"]["database"].endswith(db), r.json
            else:
                n = g.read_log().count("event=reload result=ok")
                g.signal(signal.SIGHUP)
                assert poll(lambda: g.read_log().count("event=reload result=ok") > n, 10)[0]
            time.sleep(0.1)
    finally:
        for q in qs:
            q.stop()
    total = sum(q.n for q in qs)
    failures = [f for q in qs for f in q.failures]
    print("\nMEASURE geo database reloads under load: %d queries, %d failed" % (total,
                                                                                len(failures)))
    assert total > 300 and not failures, failures[:5]
    seen = {}
    for q in qs:
        for k, v in q.seen.items():
            seen.setdefault(k, set()).update(v)
    assert seen["127.0.0.0/24"] == {frozenset({"ap"}), frozenset({"us"})}, seen
    assert seen["10.1.3.0/24"] == {frozenset({"eu"})}, seen
    assert "result=failed" not in g.read_log()


def test_broken_database_on_reload_keeps_the_old_one(geo):
    g, _ = geo
    path = os.path.join(g.workdir, "geo-city.mmdb")
    good = open(path, "rb").read()
    cases = {
        "garbage": b"this is not a MaxMind DB\n" * 100,
        "truncated": good[:len(good) // 3],
        "no fields": open(os.path.join(DATA, "geo-nofields.mmdb"), "rb").read(),
        "missing": None,
    }
    for what, data in cases.items():
        if data is None:
            os.unlink(path)
        else:
            with open(path + ".tmp", "wb") as f:
                f.write(data)
            os.replace(path + ".tmp", path)
        r = reload_api(g)
        assert r.json["result"] == "failed", (what, r.json)
        assert any("$.geoip.database" in e and "geo-city.mmdb" in e for e in r.json["errors"]), (
            what, r.json)
        # Still served from the old database, scopes and all.
        check_case(g, "geo.example.com.", GEO_MAP, "192.0.2.64/27")
        check_case(g, "near.example.com.", NEAREST, "127.0.10.0/24")
    assert "reload failed, still serving generation" in g.read_log()
    with open(path, "wb") as f:
        f.write(good)
    assert reload_api(g).json["result"] == "ok"


# ---- visible ------------------------------------------------------------------

def test_explain_shows_location_key_distances_and_scope(geo):
    g, _ = geo
    e = explain(g, "geo.example.com.", ecs="127.0.0.0/24")
    p = e["policy"]
    assert p["record"]["policy"] == "geo" and p["ecs_scope"] == 24, p
    geo_ = p["geo"]
    assert geo_["client"] == {"from": "ecs", "ecs_ignored": False, "address": "127.0.0.0",
                              "ecs_source_prefix": 24}, geo_
    loc = geo_["location"]
    assert loc["network"] == "127.0.0.0/24" and loc["continent"] == "NA" and \
        loc["country"] == "US" and loc["subdivision"] == "US-CA", loc
    assert abs(loc["latitude"] - 37.7749) < 1e-6 and abs(loc["longitude"] + 122.4194) < 1e-6
    assert geo_["key"] == "subdivision:US-CA" and geo_["match"] == "subdivision", geo_
    assert geo_["region_order"] == ["ap", "us"] and geo_["scope"] == 24, geo_
    assert geo_["class_scope"] == 24 and geo_["widened_scope"] == 24, geo_
    n = explain(g, "near.example.com.", ecs="10.0.0.0/16")["policy"]["geo"]
    km = [d["km"] for d in n["distances"]]
    assert [d["region"] for d in n["distances"]] == n["region_order"] and km == sorted(km), n
    assert n["region_order"][0] == "eu" and km[0] < 100, n  # Frankfurt to Frankfurt
    out = gtmctl("--server", Admin.of(g).url, "--token-file",
                 os.path.join(g.workdir, "read.token"), "explain", "geo.example.com",
                 "--ecs", "127.0.0.0/24")
    assert out.returncode == 0, out.stderr
    assert "matched subdivision:US-CA" in out.stdout and "127.0.0.0/24" in out.stdout, out.stdout
    assert "scope  /24" in out.stdout and "widened" in out.stdout, out.stdout
    # Coordinates in their shortest form, not 37.7749000 or 37.774900000000002.
    assert "at 37.7749, -122.4194\n" in out.stdout, out.stdout
    out = gtmctl("--server", Admin.of(g).url, "--token-file",
                 os.path.join(g.workdir, "read.token"), "explain", "near.example.com",
                 "--ecs", "10.0.0.0/16")
    assert out.returncode == 0 and " km" in out.stdout, out.stdout
    # --json: every real as Python's repr, the shortest text that reads
    # back as the same double (38.9, not jansson's 38.899999999999999).
    for args in (("status",), ("explain", "near.example.com", "--ecs", "10.0.0.0/16")):
        out = gtmctl("--server", Admin.of(g).url, "--token-file",
                     os.path.join(g.workdir, "read.token"), "--json", *args)
        assert out.returncode == 0, out.stderr
        reals = floats_of(json.loads(out.stdout))
        assert len(reals) > 4, (args, reals)
        tokens = re.findall(r'(?<=[\s\[:])-?\d+(?:\.\d+(?:e[-+]?\d+)?|e[-+]?\d+)(?=[,\s\]}])',
                            out.stdout)
        assert sorted(tokens) == sorted(repr(v) for v in reals), (args, out.stdout)


def floats_of(j):
    """Every real number in a parsed JSON document."""
    if isinstance(j, float):
        return [j]
    if isinstance(j, dict):
        j = list(j.values())
    if isinstance(j, list):
        return [v for x in j for v in floats_of(x)]
    return []


# ---- a caching resolver in front of gtmd ------------------------------------

UNBOUND_CONF = """server:
    interface: 127.0.0.1
    port: {port}
    username: ""
    chroot: ""
    directory: "{dir}"
    pidfile: "{dir}/unbound.pid"
    logfile: "{dir}/unbound.log"
    use-syslog: no
    verbosity: 1
    num-threads: 1
    do-not-query-localhost: no
    access-control: 127.0.0.0/8 allow
    module-config: "subnetcache iterator"
    send-client-subnet: 127.0.0.1
    client-subnet-always-forward: yes
    max-client-subnet-ipv4: 24
    qname-minimisation: no
stub-zone:
    name: "example.com."
    stub-addr: 127.0.0.1@{gtmd_port}
"""


def policy_answers(g):
    """gtmd's answers of geo.example.com so far, summed over regions."""
    r = Admin.of(g).get("/metrics")
    return sum(int(line.rsplit(" ", 1)[1]) for line in r.body.decode().splitlines()
               if line.startswith('gtmd_policy_answers_total{record="geo.example.com."'))


@pytest.mark.skipif(shutil.which("unbound") is None, reason="unbound is not installed "
                    "(contrib/deps.sh installs it)")
def test_unbound_caches_per_scope_and_never_mixes(geo, tmp_path):
    g, _ = geo
    port = free_port()
    conf = tmp_path / "unbound.conf"
    conf.write_text(UNBOUND_CONF.format(port=port, dir=tmp_path, gtmd_port=g.port))
    chk = subprocess.run(["unbound-checkconf", str(conf)], capture_output=True, text=True,
                         timeout=30)
    assert chk.returncode == 0, chk.stdout + chk.stderr
    proc = subprocess.Popen(["unbound", "-d", "-c", str(conf)], stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, start_new_session=True)
    try:
        def up():
            try:
                q = dns.message.make_query("www.example.com.", "A")
                return dns.query.udp(q, "127.0.0.1", port=port, timeout=0.3).rcode() == 0
            except Exception:
                return False
        assert poll(up, 10)[0], "unbound did not start: %s" % (tmp_path / "unbound.log")

        def via_unbound(ecs):
            q = dns.message.make_query("geo.example.com.", "A", use_edns=0, options=[
                dns.edns.ECSOption(*ecs.split("/")[:1], srclen=int(ecs.split("/")[1]))])
            r = dns.query.udp(q, "127.0.0.1", port=port, timeout=3)
            assert r.rcode() == 0, r
            return frozenset(BY_ADDR[a] for a in answer_addrs(r))

        berlin, sf, tokyo = "127.0.1.0/24", "127.0.0.0/24", "127.0.2.0/24"
        base = policy_answers(g)
        seen = []
        for i in range(10):  # alternate: a resolver ignoring scope would mix them
            seen.append((via_unbound(berlin), via_unbound(sf)))
        assert all(s == (frozenset({"eu"}), frozenset({"ap"})) for s in seen), seen
        # Another client inside Berlin's /24 scope: answered from the cache.
        assert via_unbound("127.0.1.77/32") == {"eu"}
        # Tokyo and San Francisco share the answer (ap) but not a scope: a
        # query of its own.
        assert via_unbound(tokyo) == {"ap"}
        asked = policy_answers(g) - base
        assert asked == 3, "gtmd was asked %d times: unbound must cache once per scope" % asked
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=5)


# ---- gtmd check ------------------------------------------------------------

def check_mutated(base, tmp_path, mutate):
    """(exit status, stderr) of gtmd check on a copy of config base
    changed by mutate, written in tmp_path (test_geo_asn.py uses it too)."""
    from conftest import GTMD
    c = json.loads(json.dumps(base))
    mutate(c)
    p = tmp_path / "gtmd.json"
    p.write_text(json.dumps(c))
    r = subprocess.run([GTMD, "check", "-c", str(p)], capture_output=True, text=True,
                       timeout=30)
    return r.returncode, r.stderr


def test_check_reports_geo_errors(tmp_path):
    base = geo_config(1, admin=False)(str(tmp_path), 5399)

    def check(mutate):
        return check_mutated(base, tmp_path, mutate)

    rc, err = check(lambda c: None)
    assert rc == 0, err
    rc, err = check(lambda c: c["geoip"].update(database="nope.mmdb"))
    assert rc == 1 and "$.geoip.database" in err and "nope.mmdb: cannot open" in err, err
    shutil.copy(os.path.join(DATA, "geo-nofields.mmdb"), tmp_path)
    rc, err = check(lambda c: c["geoip"].update(database="geo-nofields.mmdb"))
    assert rc == 1 and "no record has any field gtmd uses" in err, err
    rc, err = check(lambda c: c.pop("geoip"))
    assert rc == 1 and 'geo.example.com."]: continent, country and subdivision keys need' in \
        err and 'near.example.com."]: a nearest record needs a geo database' in err, err

    def bad_codes(c):
        c["records"]["geo.example.com."]["geo"]["country:XX"] = ["us"]
        c["records"]["geo.example.com."]["geo"]["continent:DE"] = ["us"]
        c["regions"]["sa"] = {}
    rc, err = check(bad_codes)
    assert rc == 1 and '.geo["country:XX"]: "XX" is not an ISO 3166-1' in err, err
    assert '.geo["continent:DE"]: "DE" is not a continent code' in err, err
    assert 'region "sa" has no location' in err, err


# ---- a zone re-signed while geo records are served ---------------------------

def test_geo_data_survives_resigning(make_gtmd, backends, tmp_path):
    """A zone signed at load is re-signed beside the live set without a
    reload (a new served set with the same policy set): geo and nearest
    records keep their database, classes and scopes across it."""
    from dnssec_zones import ORIGIN, SignedSet, missing_tools
    if missing_tools():
        pytest.skip("ldnsutils not installed (%s missing)" % missing_tools())
    zs = SignedSet(str(tmp_path), "nsec")
    addrs = [a for a, _ in REGIONS.values()]
    port = free_port_on(addrs)
    backends.start_all([backends.http(a, port, start=False) for a in addrs])
    base = geo_config(port)

    def fn(workdir, dns_port):
        c = base(workdir, dns_port)
        c["zones"].append({"origin": ORIGIN, "file": zs.parent_unsigned,
                           "dnssec": {"keys": [zs.ksk, zs.zsk], "validity": 60,
                                      "refresh": 54}})
        return c
    g = make_gtmd(fn)
    wait_scopes_current(g)
    n = poll(lambda: g.read_log().count("event=resign result=ok") >= 2, 20)[0]
    assert n, "no re-signing seen:\n" + g.read_log()[-2000:]
    for ecs in ("10.1.3.0/24", "127.0.0.0/24", "2001:db8:2::/48", "127.0.7.0/24"):
        check_case(g, "geo.example.com.", GEO_MAP, ecs)
        check_case(g, "near.example.com.", NEAREST, ecs)
    assert "event=reload" not in g.read_log()

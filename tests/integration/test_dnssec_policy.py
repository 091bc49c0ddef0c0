"""Signed policy answers (doc/dnssec.md, "Signed policy answers"): gtmd signs
dnssec.test. at load (NSEC and NSEC3) with policy records in it, and signs
the answers of each health state off the query path.

Unbound validates in front of gtmd (the setup of test_dnssec_validate.py,
trust anchor = the zone's KSK): policy answers must come back secure (AD)
before and after a real backend is killed (failover), with an override and
during a live drill. The raw replies are checked too: the RRSIG of every
policy RRset verifies against the zone's DNSKEY (dnspython, as kdig
+dnssec shows them), for two geo locations given as ECS, for the
weighted and multi-answer records, and the NSEC/NSEC3 records of the
policy names list the types the pool answers.

A weighted selection of 3 of 9 endpoints (84 combinations, more than gtmd
enumerates) is answered with the signed RRset of all 9 until the signer
has signed the exact answers asked for (the cache the workers fill).

Every wait is bounded (poll)."""
import os
import shutil
import subprocess
import tempfile

import dns.dnssec
import dns.edns
import dns.flags
import dns.message
import dns.name
import dns.query
import dns.rcode
import dns.rdatatype
import pytest

from adminlib import Admin, admin_port, admin_section
from backends import Backends, free_port_on, poll
from conftest import DATA, Gtmd, free_port
from dnssec_zones import CHILD, INSEC, ORIGIN, SignedSet, missing_tools
from test_dnssec_validate import DELV, Unbound, _delv_anchor

ADDR = "127.0.0.1"
US1, US2, EU = "127.0.0.61", "127.0.0.62", "127.0.0.63"


def _records():
    return {
        "gtm." + ORIGIN: {"pool": "web", "policy": "failover", "regions": ["us", "eu"],
                          "ttl": 30},
        "w." + ORIGIN: {"pool": "web", "policy": "weighted", "answers": 1, "ttl": 30},
        "multi." + ORIGIN: {"pool": "web", "policy": "all", "select": "weighted",
                            "answers": 2, "ttl": 30},
        "hs." + ORIGIN: {"pool": "web", "policy": "all", "select": "hashed", "answers": 1,
                         "ttl": 30},
        "rnd." + ORIGIN: {"pool": "many", "policy": "all", "select": "weighted", "answers": 3,
                          "ttl": 30},
        "near." + ORIGIN: {"pool": "web", "policy": "nearest", "ttl": 30},
        "cn." + ORIGIN: {"pool": "cn", "policy": "failover", "regions": ["us", "eu"],
                         "ttl": 30},
        "geo." + ORIGIN: {"pool": "web", "policy": "geo", "ttl": 30,
                          "geo": {"network:10.1.2.0/24": ["eu", "us"],
                                  "default": ["us", "eu"]}},
    }


@pytest.fixture(scope="module", params=["nsec", "nsec3"])
def signed(request):
    tool = missing_tools(request.param)
    if tool:
        pytest.skip("signing tools not installed (%s missing)" % tool)
    if not os.access("/usr/sbin/unbound", os.X_OK):
        pytest.skip("unbound is not installed")
    workdir = tempfile.mkdtemp(prefix="gtmd-dnssec-policy-")
    bs = Backends()
    g = u = None
    try:
        zones = SignedSet(workdir, request.param)
        gdir = os.path.join(workdir, "gtmd")
        os.mkdir(gdir)
        shutil.copy(os.path.join(DATA, "geo-city.mmdb"), gdir)
        bport = free_port_on([US1, US2, EU])
        backs = bs.start_all([bs.tcp(a, bport, start=False) for a in (US1, US2, EU)])
        gport = free_port()
        dnssec = {"keys": [os.path.relpath(k, gdir) for k in (zones.ksk, zones.zsk)],
                  "denial": request.param}
        cfg = {"listen": ["%s:%d" % (ADDR, gport)], "workers": 1,
               "zones": [{"origin": ORIGIN, "file": zones.parent_unsigned, "dnssec": dnssec},
                         {"origin": CHILD, "file": zones.child},
                         {"origin": INSEC, "file": zones.insec}],
               "geoip": {"database": "geo-city.mmdb"},
               "regions": {"us": {"location": [38.9, -77.0]}, "eu": {"location": [50.1, 8.7]}},
               # Fall 3: the module's tests read single answers that need
               # all three backends up (raw replies, geo, the canary's
               # outsiders, after a reload); with fall 2 two slow probes on
               # a loaded machine (sanitizer builds, 2 cores, unbound and
               # the signer busy too) could take one out for a moment.
               "checks": {"tcp": {"type": "tcp", "port": bport, "interval": 0.25,
                                  "timeout": 0.2, "rise": 2, "fall": 3}},
               "pools": {"web": {"check": "tcp", "endpoints": [
                   {"name": "us1", "address": US1, "region": "us"},
                   {"name": "us2", "address": US2, "region": "us"},
                   {"name": "eu", "address": EU, "region": "eu"}]},
                         "cn": {"endpoints": [
                             {"name": "a", "cname": "www." + ORIGIN, "region": "us"},
                             {"name": "b", "cname": "mail." + ORIGIN, "region": "eu"}]},
                         "many": {"endpoints": [
                             {"name": "m%d" % i, "address": "127.0.1.%d" % i,
                              "region": "us" if i % 2 else "eu"}
                             for i in range(1, 10)]}},
               "records": _records(),
               "admin": admin_section(gdir, admin_port(gport))}
        g = Gtmd(gdir, cfg, gport).start()
        u = Unbound(workdir, gport, zones.ksk + ".key")
        if not u.wait_ready():
            pytest.fail("unbound did not start: " + u.log())
        a = Admin.of(g)
        a.wait_ready()
        st = type("S", (), {})()
        st.g, st.u, st.a, st.zones, st.backs, st.denial = g, u, a, zones, backs, request.param
        # every backend up: gtm answers the two us endpoints
        assert poll(lambda: raw_addrs(st, "gtm") == {US1, US2}, 10), raw_addrs(st, "gtm")
        yield st
    finally:
        if u:
            u.stop()
        if g:
            g.stop()
            g.check_sanitizer()
        bs.cleanup()
        shutil.rmtree(workdir, ignore_errors=True)


def _n(label):
    return label + "." + ORIGIN


def raw(st, label, rdtype="A", ecs=None):
    """gtmd's own reply with DO (what kdig +dnssec shows)."""
    opts = [dns.edns.ECSOption.from_text(ecs)] if ecs else []
    q = dns.message.make_query(_n(label), rdtype, want_dnssec=True, use_edns=0, options=opts)
    for _ in range(3):
        try:
            return dns.query.udp(q, ADDR, port=st.g.port, timeout=1.0)
        except dns.exception.Timeout:
            continue
    raise AssertionError("no reply from gtmd for " + label)


def raw_addrs(st, label, ecs=None):
    r = raw(st, label, ecs=ecs)
    return {rr.address for rrset in r.answer if rrset.rdtype == dns.rdatatype.A for rr in rrset}


_KEYS = {}


def dnskeys(st):
    """The zone's DNSKEY RRset, itself verified with the KSK (trust anchor)."""
    if st.denial not in _KEYS:
        q = dns.message.make_query(ORIGIN, "DNSKEY", want_dnssec=True)
        r = dns.query.tcp(q, ADDR, port=st.g.port, timeout=5)
        keys = r.find_rrset(r.answer, dns.name.from_text(ORIGIN), dns.rdataclass.IN,
                            dns.rdatatype.DNSKEY)
        sigs = r.find_rrset(r.answer, dns.name.from_text(ORIGIN), dns.rdataclass.IN,
                            dns.rdatatype.RRSIG, dns.rdatatype.DNSKEY)
        dns.dnssec.validate(keys, sigs, {dns.name.from_text(ORIGIN): keys})
        _KEYS[st.denial] = keys
    return _KEYS[st.denial]


def verify_policy_answer(st, r, label):
    """The A RRset at label in r has an RRSIG that verifies; returns the
    addresses."""
    name = dns.name.from_text(_n(label))
    rrset = r.find_rrset(r.answer, name, dns.rdataclass.IN, dns.rdatatype.A)
    sig = r.find_rrset(r.answer, name, dns.rdataclass.IN, dns.rdatatype.RRSIG, dns.rdatatype.A)
    dns.dnssec.validate(rrset, sig, {dns.name.from_text(ORIGIN): dnskeys(st)})
    return {rr.address for rr in rrset}


def secure(st, label, rdtype="A"):
    """Unbound's answer: (AD, addresses)."""
    r = st.u.ask(_n(label), rdtype)
    assert r.rcode() == dns.rcode.NOERROR, "%s: %s\n%s" % (label, r, st.u.log())
    addrs = {rr.address for rrset in r.answer if rrset.rdtype == dns.rdatatype.A for rr in rrset}
    return bool(r.flags & dns.flags.AD), addrs


def wait_secure(st, label, want, timeout=10):
    """Polls Unbound (cache-max-ttl 1) until label answers want, securely."""
    last = [None]

    def ok():
        last[0] = secure(st, label)
        return last[0] == (True, want)
    assert poll(ok, timeout, interval=0.2), "%s: wanted %s securely, got %s\n%s" % (
        label, want, last[0], st.u.log())


def metrics(st):
    """The gtmd_dnssec_policy_* values of /metrics."""
    m = {}
    for line in st.a.get("/metrics").body.decode().splitlines():
        if line.startswith("gtmd_dnssec_policy_"):
            k, v = line.split()
            m[k] = float(v)
    return m


def test_policy_answers_secure_through_unbound(signed):
    st = signed
    wait_secure(st, "gtm", {US1, US2})
    for label in ("w", "multi", "hs", "geo"):
        ad, addrs = secure(st, label)
        assert ad and addrs and addrs <= {US1, US2, EU}, (label, ad, addrs, st.u.log())
    ad, addrs = secure(st, "multi")
    assert ad and len(addrs) == 2, addrs


def test_raw_replies_verify(signed):
    """Every answer the selections give is signed: weighted answers 1 gives
    each endpoint, the multi-answer record each pair, hashed each client's."""
    st = signed
    seen = {"w": set(), "multi": set()}
    for _ in range(60):
        for label in seen:
            seen[label].add(frozenset(verify_policy_answer(st, raw(st, label), label)))
    assert seen["w"] == {frozenset([a]) for a in (US1, US2, EU)}, seen["w"]
    assert len(seen["multi"]) == 3 and all(len(s) == 2 for s in seen["multi"]), seen["multi"]
    for ecs in ("10.9.0.0/24", "10.9.1.0/24", "10.9.2.0/24"):
        assert len(verify_policy_answer(st, raw(st, "hs", ecs=ecs), "hs")) == 1
    # a query without DO gets no RRSIG
    q = dns.message.make_query(_n("gtm"), "A")
    r = dns.query.udp(q, ADDR, port=st.g.port, timeout=2)
    assert all(rrset.rdtype != dns.rdatatype.RRSIG for rrset in r.answer), r


def test_two_geo_locations(signed):
    """geo: the 10.1.2.0/24 network gets eu first, everyone else us; each
    answer verifies."""
    st = signed
    assert verify_policy_answer(st, raw(st, "geo", ecs="10.1.2.0/24"), "geo") == {EU}
    assert verify_policy_answer(st, raw(st, "geo", ecs="10.9.9.0/24"), "geo") == {US1, US2}
    assert verify_policy_answer(st, raw(st, "geo"), "geo") == {US1, US2}


def test_denial_lists_policy_types(signed):
    """NODATA at a policy name (AAAA, MX) is secure: the name's NSEC or
    NSEC3 bitmap lists A (what the pool answers), not AAAA or MX."""
    st = signed
    for rdtype in ("AAAA", "MX"):
        r = st.u.ask(_n("gtm"), rdtype)
        assert r.rcode() == dns.rcode.NOERROR and not r.answer, r
        assert r.flags & dns.flags.AD, "%s: %s\n%s" % (rdtype, r, st.u.log())
    r = raw(st, "gtm", "MX")
    bitmaps = [rr.to_text() for rrset in r.authority
               if rrset.rdtype in (dns.rdatatype.NSEC, dns.rdatatype.NSEC3) for rr in rrset]
    assert any(" A RRSIG" in b and "MX" not in b for b in bitmaps), bitmaps


def test_failover_override_drill_stay_secure(signed):
    """Kill us1 and us2 (real backends): gtm fails over to eu, secure;
    back up; an override takes eu down for w; a live drill of us moves gtm
    to eu; every step secure through Unbound."""
    st = signed
    us1, us2, eu = st.backs
    wait_secure(st, "gtm", {US1, US2})
    us1.kill()
    wait_secure(st, "gtm", {US2})
    us2.kill()
    wait_secure(st, "gtm", {EU})
    us1.start()
    us2.start()
    wait_secure(st, "gtm", {US1, US2})

    r = st.a.override("endpoint:web/us1", "down")
    assert r.status in (200, 201), r
    wait_secure(st, "gtm", {US2})
    st.a.clear_overrides()
    assert st.a.overrides() == []
    wait_secure(st, "gtm", {US1, US2})

    r = st.a.post("/v1/drills", {"regions": ["us"], "mode": "live", "duration": 60,
                                    "reason": "test"})
    assert r.status == 201, r
    wait_secure(st, "gtm", {EU})
    assert st.a.delete("/v1/drills/" + r.json["id"]).status == 200
    wait_secure(st, "gtm", {US1, US2})
    log = st.g.read_log()
    assert "event=policy_sign signed=" in log, log[-2000:]
    m = metrics(st)
    assert m["gtmd_dnssec_policy_signatures_total"] >= m["gtmd_dnssec_policy_answers_signed"] > 0, m
    assert m["gtmd_dnssec_policy_unsigned_answers_total"] == 0, m
    assert "gtmd_dnssec_policy_requests_dropped_total" in m, m


def test_random_selection_signed_through_requests(signed):
    """rnd picks 3 of 9 at random: a reply is either all 9 (the signed "all
    candidates" RRset) or exactly 3; every one verifies, and within a
    bounded time exact 3-answer replies come signed."""
    st = signed
    sizes = set()

    def three():
        for _ in range(20):
            addrs = verify_policy_answer(st, raw(st, "rnd"), "rnd")
            assert len(addrs) in (3, 9), addrs
            sizes.add(len(addrs))
        return 3 in sizes
    assert poll(three, 10, interval=0.05), sizes
    ad, addrs = secure(st, "rnd")
    assert ad and len(addrs) in (3, 9), (ad, addrs)


def test_scoped_drill_canary_answers_signed(signed):
    """A scoped drill of us: canary clients (ECS inside the canary) get eu,
    everyone else us; every reply verifies (the canary answer is signed on
    request, the replies meanwhile carry an older signed answer)."""
    st = signed
    wait_secure(st, "gtm", {US1, US2})
    r = st.a.post("/v1/drills", {"regions": ["us"], "mode": "scoped", "canary": ["10.7.0.0/24"],
                                 "duration": 60, "force": True, "reason": "test"})
    assert r.status == 201, r
    try:
        seen = []

        def canary_eu():
            seen.append(verify_policy_answer(st, raw(st, "gtm", ecs="10.7.0.0/24"), "gtm"))
            return seen[-1] == {EU}
        assert poll(canary_eu, 10, interval=0.05), seen[-5:]
        assert verify_policy_answer(st, raw(st, "gtm", ecs="10.8.0.0/24"), "gtm") == {US1, US2}
    finally:
        assert st.a.delete("/v1/drills/" + r.json["id"]).status == 200


KDIG = "/usr/bin/kdig"


def test_delv_and_kdig_raw_replies(signed):
    """delv (BIND) validates gtmd's own replies for the policy names, with
    dnssec.test. as its root of trust; kdig +dnssec shows each policy RRset
    with its RRSIG."""
    st = signed
    if not os.access(DELV, os.X_OK) or not os.access(KDIG, os.X_OK):
        pytest.skip("delv or kdig is not installed")
    for label in ("gtm", "w", "multi", "geo"):
        p = subprocess.run([DELV, "@" + ADDR, "-p", str(st.g.port), "-a", _delv_anchor(st.zones),
                            "+root=" + ORIGIN, _n(label), "A"], capture_output=True, text=True,
                           timeout=30)
        out = p.stdout + p.stderr
        assert "; fully validated" in out.splitlines(), "%s:\n%s" % (label, out)
        p = subprocess.run([KDIG, "@" + ADDR, "-p", str(st.g.port), "+dnssec", "+norec",
                            _n(label), "A"], capture_output=True, text=True, timeout=30)
        lines = [l.split() for l in p.stdout.splitlines() if l.startswith(_n(label))]
        assert any(f[3] == "A" for f in lines if len(f) > 4), p.stdout
        assert any(f[3] == "RRSIG" and f[4] == "A" for f in lines if len(f) > 4), p.stdout


def test_nearest_and_cname_records(signed):
    """A nearest record: the answer for clients placed in two places and
    for an unknown one verifies; a CNAME policy record: secure through
    Unbound (the CNAME's RRSIG and then www's), and its RRSIG verifies."""
    st = signed
    for ecs in ("10.1.3.0/24", "127.0.0.0/24", None):
        addrs = verify_policy_answer(st, raw(st, "near", ecs=ecs), "near")
        assert addrs and addrs <= {US1, US2, EU}, (ecs, addrs)
    r = st.u.ask(_n("cn"), "A")
    assert r.rcode() == dns.rcode.NOERROR and r.flags & dns.flags.AD, "%s\n%s" % (r, st.u.log())
    assert {rr.address for rrset in r.answer if rrset.rdtype == dns.rdatatype.A
            for rr in rrset} == {"127.0.0.80", "127.0.0.81"}, r
    rr = raw(st, "cn", "CNAME")
    name = dns.name.from_text(_n("cn"))
    cname = rr.find_rrset(rr.answer, name, dns.rdataclass.IN, dns.rdatatype.CNAME)
    sig = rr.find_rrset(rr.answer, name, dns.rdataclass.IN, dns.rdatatype.RRSIG,
                        dns.rdatatype.CNAME)
    dns.dnssec.validate(cname, sig, {dns.name.from_text(ORIGIN): dnskeys(st)})
    assert [x.target.to_text() for x in cname] == ["www." + ORIGIN]
    assert metrics(st)["gtmd_dnssec_policy_unsigned_answers_total"] == 0


def test_reload_keeps_policy_answers_signed(signed):
    """A reload builds a new set (zone signed again, new keys' objects, a
    new signature store filled before it is published): policy answers
    stay secure, and a failover after it is signed too."""
    st = signed
    wait_secure(st, "gtm", {US1, US2})
    r = st.a.post("/v1/reload")
    assert r.status == 200, r
    ad, addrs = secure(st, "gtm")
    assert ad and addrs == {US1, US2}, (ad, addrs, st.u.log())
    assert verify_policy_answer(st, raw(st, "geo", ecs="10.1.2.0/24"), "geo") == {EU}
    us1 = st.backs[0]
    us1.kill()
    wait_secure(st, "gtm", {US2})
    us1.start()
    wait_secure(st, "gtm", {US1, US2})

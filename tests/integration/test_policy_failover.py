"""Health-checked policy records against real backends (backends.py): failover
timing, damping, az/region aggregation, when_all_down, weighted and hashed
selection, spill, A/AAAA/CNAME pools, every check type, misbehaving targets
and check targets given by name.

Unless a test says otherwise: interval 0.25 s, timeout 0.2 s, rise 2, fall 2.
Every wait is bounded in count and time; answers are polled every 20 ms."""
import re
import socket
import statistics
import time

import dns.edns
import dns.message
import dns.rcode
import dns.rdatatype
import pytest

from backends import (answer_addrs, backends, fast_query, free_port_on,  # noqa: F401
                      make_query, poll, query_addrs)
from conftest import default_config

INTERVAL = 0.25
TIMEOUT = 0.2
RISE = 2
FALL = 2


# ---- config helpers -----------------------------------------------------

def check(kind, port, **kw):
    c = {"type": kind, "port": port, "interval": INTERVAL, "timeout": TIMEOUT,
         "rise": RISE, "fall": FALL}
    c.update(kw)
    return c


def ep(name, address, region, **kw):
    e = {"name": name, "address": address, "region": region}
    e.update(kw)
    return e


def policy_config(regions, checks, pools, records, **extra):
    """A make_gtmd config_fn: the test zones plus the policy sections."""
    def fn(workdir, port):
        c = default_config(workdir, port)
        c["regions"] = {r: {} for r in regions}
        c["checks"] = checks
        c["pools"] = pools
        c["records"] = records
        c.update(extra)
        return c
    return fn


# ---- log helpers --------------------------------------------------------

# The endpoint key may carry an "endpoint:" kind prefix (POOL/NAME either way).
# The detail is read to the end of the line, so a reason that itself holds
# quotes is still seen whole (test_health_change_detail_is_well_quoted checks
# the quoting itself).
CHANGE_RE = re.compile(r'event=health_change endpoint=(?:endpoint:)?(\S+) from=(\S+) to=(\S+) '
                       r'why="([^"]*)" detail="(.*)"\s*$', re.M)


def changes(g, endpoint=None):
    out = []
    for m in CHANGE_RE.finditer(g.read_log()):
        if endpoint is None or m.group(1) == endpoint:
            out.append({"endpoint": m.group(1), "from": m.group(2), "to": m.group(3),
                        "why": m.group(4), "detail": m.group(5)})
    return out


def state_of(g, endpoint):
    c = changes(g, endpoint)
    return c[-1]["to"] if c else "unknown"


def wait_answer(g, name, expected, timeout=3.0, rdtype="A", interval=0.02):
    """Polls until the sorted answer equals expected; returns seconds taken."""
    expected = sorted(expected)
    seen = []

    def probe():
        a = query_addrs(g, name, rdtype)
        if a is not None and (not seen or seen[-1] != a):
            seen.append(a)
        return a == expected

    ok, took = poll(probe, timeout, interval)
    assert ok, "%s %s: wanted %s within %.1fs, saw %s\nlog:\n%s" % (
        name, rdtype, expected, timeout, seen, g.read_log()[-3000:])
    return took


def wait_log(g, pattern, timeout=3.0):
    rx = re.compile(pattern)
    ok, _ = poll(lambda: rx.search(g.read_log()), timeout, 0.02)
    assert ok, "log never matched %r:\n%s" % (pattern, g.read_log()[-3000:])
    return ok


# ---- failover timing ----------------------------------------------------

def test_failover_kill_and_restart_timing(make_gtmd, backends):
    us, eu = "127.0.0.11", "127.0.0.21"
    port = free_port_on([us, eu])
    b_us, b_eu = backends.start_all([backends.http(us, port, start=False),
                                     backends.http(eu, port, start=False)])
    g = make_gtmd(policy_config(
        ["us", "eu"], {"web": check("http", port)},
        {"web": {"check": "web", "endpoints": [ep("us1", us, "us"), ep("eu1", eu, "eu")]}},
        {"fo.example.com.": {"pool": "web", "policy": "failover", "regions": ["us", "eu"],
                             "ttl": 5}}))
    assert query_addrs(g, "fo.example.com.") == [us]
    r = g.query("fo.example.com.")
    assert r.answer[0].ttl == 5

    flips, backs, from_ready = [], [], []
    for _ in range(2):
        # Kill: count from just before the signal; poll every 20 ms.
        t0 = time.monotonic()
        b_us.kill()
        seen = set()

        def flipped():
            a = query_addrs(g, "fo.example.com.", timeout=0.2)
            if a:
                seen.add(tuple(a))
            return a == [eu]

        ok, _ = poll(flipped, 3.0)
        flip = time.monotonic() - t0
        assert ok, "never failed over: %s\n%s" % (seen, g.read_log()[-2000:])
        assert seen <= {(us,), (eu,)}, "unexpected answers during failover: %s" % seen
        flips.append(flip)
        # Restart: count from the moment the new process is spawned.
        t1 = time.monotonic()
        b_us.start()

        def back():
            return query_addrs(g, "fo.example.com.", timeout=0.2) == [us]

        ok, _ = poll(back, 4.0)
        assert ok, "never failed back:\n" + g.read_log()[-2000:]
        backs.append(time.monotonic() - t1)
        # Not before `rise` good probes: at least (rise-1) intervals after
        # the backend was listening again.
        from_ready.append(time.monotonic() - b_us.ready_at)

    print("\nMEASURE kill-to-flip: %s s; restart-to-flip-back: %s s (from listening: %s s)" % (
        ", ".join("%.3f" % x for x in flips), ", ".join("%.3f" % x for x in backs),
        ", ".join("%.3f" % x for x in from_ready)))
    assert min(from_ready) >= (RISE - 1) * INTERVAL - 0.05, from_ready
    assert max(flips) < 1.0, "kill-to-flip too slow: %s" % flips
    assert max(backs) < 1.5, "restart-to-flip-back too slow: %s" % backs
    # The last flip back is logged just after it is served.
    ok, _ = poll(lambda: [c["to"] for c in changes(g, "web/us1")] ==
                 ["up", "down", "up", "down", "up"], 5, 0.05)
    ch = changes(g, "web/us1")
    assert ok, ch
    assert [c["to"] for c in ch] == ["up", "down", "up", "down", "up"], ch
    assert ch[1]["why"] == "fall threshold reached" and "refused" in ch[1]["detail"], ch[1]
    assert ch[2]["why"] == "rise threshold reached", ch[2]
    assert [c["to"] for c in changes(g, "web/eu1")] == ["up"]


# ---- damping --------------------------------------------------------------

def test_flapping_faster_than_rise_fall_does_not_change_answer(make_gtmd, backends):
    # f1 answers ok, 503, ok, 503, ...: never `fall` failures in a row, so it
    # stays up. f2 answers 503, ok, 503, ok, ...: never `rise` successes in a
    # row, so it stays down. The answer never changes.
    a1, a2 = "127.0.0.12", "127.0.0.13"
    port = free_port_on([a1, a2])
    b1, b2 = backends.start_all([backends.http(a1, port, mode="alternate:1,0", start=False),
                                 backends.http(a2, port, mode="alternate:0,1", start=False)])
    g = make_gtmd(policy_config(
        ["us"], {"web": check("http", port)},
        {"flap": {"check": "web", "endpoints": [ep("f1", a1, "us"), ep("f2", a2, "us")]}},
        {"flap.example.com.": {"pool": "flap", "policy": "all", "when_all_down": "empty"}}))
    answers = set()
    deadline = time.monotonic() + 3.0  # 12 probes each
    n = 0
    while time.monotonic() < deadline and n < 1000:
        a = query_addrs(g, "flap.example.com.")
        answers.add(tuple(a or ()))
        n += 1
        time.sleep(0.02)
    assert answers == {(a1,)}, answers
    # The backends really flapped: each saw both kinds of reply.
    for b in (b1, b2):
        reqs = [s["n"] for s in b.stats() if s["n"] is not None]
        assert len(reqs) >= 8, (b.label, reqs)
    assert [c["to"] for c in changes(g, "flap/f1")] == ["up"], changes(g, "flap/f1")
    assert [c["to"] for c in changes(g, "flap/f2")] == ["down"], changes(g, "flap/f2")


# ---- aggregation ----------------------------------------------------------

def test_az_and_region_aggregation_min_healthy(make_gtmd, backends):
    a1, a2, b1, b2, e1, e2 = ("127.0.0.31", "127.0.0.32", "127.0.0.33", "127.0.0.34",
                              "127.0.0.35", "127.0.0.36")
    addrs = [a1, a2, b1, b2, e1, e2]
    port = free_port_on(addrs)
    be = dict(zip(addrs, backends.start_all([backends.tcp(a, port, start=False)
                                             for a in addrs])))
    g = make_gtmd(policy_config(
        ["us", "eu"], {"t": check("tcp", port)},
        {"agg": {"check": "t", "min_healthy": 2, "endpoints": [
            ep("a1", a1, "us", az="us-a"), ep("a2", a2, "us", az="us-a"),
            ep("b1", b1, "us", az="us-b"), ep("b2", b2, "us", az="us-b"),
            ep("e1", e1, "eu"), ep("e2", e2, "eu")]}},
        {"az.example.com.": {"pool": "agg", "policy": "all", "when_all_down": "empty"},
         "rg.example.com.": {"pool": "agg", "policy": "failover", "regions": ["us", "eu"],
                             "when_all_down": "empty"}}))
    assert query_addrs(g, "az.example.com.") == sorted(addrs)
    assert query_addrs(g, "rg.example.com.") == sorted([a1, a2, b1, b2])

    # One of two endpoints of az us-a down: the az is down, a2 leaves too.
    be[a1].kill()
    wait_answer(g, "az.example.com.", [b1, b2, e1, e2])
    wait_answer(g, "rg.example.com.", [b1, b2])
    assert state_of(g, "agg/a2") == "up"  # a2 itself is healthy

    # One of two endpoints of region eu down: the region is down.
    be[e1].kill()
    wait_answer(g, "az.example.com.", [b1, b2])
    assert state_of(g, "agg/e2") == "up"

    # us-b loses one too: region us has no az up, so it is down; eu is down.
    be[b1].kill()
    wait_answer(g, "az.example.com.", [])
    wait_answer(g, "rg.example.com.", [])
    r = g.query("rg.example.com.")
    assert r.rcode() == dns.rcode.NOERROR and not r.answer

    # eu back to 2 healthy: it serves the failover record.
    be[e1].start()
    wait_answer(g, "rg.example.com.", [e1, e2])
    wait_answer(g, "az.example.com.", [e1, e2])


# ---- when_all_down ----------------------------------------------------------

def test_when_all_down_modes(make_gtmd, backends):
    d1, d2 = "127.0.0.41", "127.0.0.42"
    port = free_port_on([d1, d2])
    bs = backends.start_all([backends.http(d1, port, start=False),
                             backends.http(d2, port, start=False)])
    pool = {"check": "web", "endpoints": [ep("d1", d1, "us"), ep("d2", d2, "eu")]}
    g = make_gtmd(policy_config(
        ["us", "eu"], {"web": check("http", port)}, {"dn": pool},
        {"wa.example.com.": {"pool": "dn", "policy": "all", "when_all_down": "all"},
         "wf.example.com.": {"pool": "dn", "policy": "all", "when_all_down": "fallback",
                             "fallback": ["192.0.2.201", "192.0.2.202"]},
         "we.example.com.": {"pool": "dn", "policy": "all", "when_all_down": "empty"},
         "wfo.example.com.": {"pool": "dn", "policy": "failover", "regions": ["us", "eu"],
                              "when_all_down": "fallback", "fallback": ["192.0.2.203"]}}))
    for name in ("wa", "wf", "we"):
        assert query_addrs(g, name + ".example.com.") == [d1, d2], name
    assert query_addrs(g, "wfo.example.com.") == [d1]
    for b in bs:
        b.kill()
    wait_answer(g, "we.example.com.", [])
    for tcp in (False, True):
        r = g.query("wa.example.com.", tcp=tcp)
        assert r.rcode() == dns.rcode.NOERROR
        assert sorted(answer_addrs(r)) == [d1, d2], "all: every endpoint served (fail open)"
        r = g.query("wf.example.com.", tcp=tcp)
        assert r.rcode() == dns.rcode.NOERROR
        assert sorted(answer_addrs(r)) == ["192.0.2.201", "192.0.2.202"], r
        r = g.query("wfo.example.com.", tcp=tcp)
        assert sorted(answer_addrs(r)) == ["192.0.2.203"], r
        r = g.query("we.example.com.", tcp=tcp)
        assert r.rcode() == dns.rcode.NOERROR, "empty must be NODATA, never NXDOMAIN"
        assert r.answer == []
        assert len(r.authority) == 1 and r.authority[0].rdtype == dns.rdatatype.SOA
        assert r.authority[0].name.to_text() == "example.com."
    # Back up: the endpoints serve again.
    for b in bs:
        b.start()
    wait_answer(g, "we.example.com.", [d1, d2])
    assert query_addrs(g, "wf.example.com.") == [d1, d2]


# ---- weighted ----------------------------------------------------------------

def bulk_udp(g, name, total, window=64, time_limit=20.0):
    """Sends `total` queries with up to `window` outstanding; returns the
    answers (lists of addresses), bounded by time_limit."""
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.connect((g.addr, g.port))
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 20)
    wires = {}
    base = make_query(name, "A")
    out = []
    sent = 0
    outstanding = set()
    deadline = time.monotonic() + time_limit
    try:
        while (sent < total or outstanding) and time.monotonic() < deadline:
            while sent < total and len(outstanding) < window:
                qid = sent % 65536
                if qid not in wires:
                    base.id = qid
                    wires[qid] = base.to_wire()
                s.send(wires[qid])
                outstanding.add(qid)
                sent += 1
            s.settimeout(0.5)
            try:
                data = s.recv(4096)
            except socket.timeout:
                outstanding.clear()  # lost ones are not resent; just counted
                continue
            r = dns.message.from_wire(data)
            if r.id in outstanding:
                outstanding.discard(r.id)
                out.append(answer_addrs(r))
    finally:
        s.close()
    return out


def test_weighted_distribution_1_to_3(make_gtmd):
    w1, w3 = "192.0.2.11", "192.0.2.13"
    g = make_gtmd(policy_config(
        ["us"], {},
        {"wt": {"endpoints": [ep("w1", w1, "us", weight=1), ep("w3", w3, "us", weight=3)]}},
        {"wt.example.com.": {"pool": "wt", "policy": "weighted", "answers": 1}}))
    answers = bulk_udp(g, "wt.example.com.", 10500)
    n = len(answers)
    assert n >= 10000, "only %d answers" % n
    assert all(len(a) == 1 for a in answers)
    c1 = sum(1 for a in answers if a == [w1])
    c3 = sum(1 for a in answers if a == [w3])
    assert c1 + c3 == n
    sd = (n * 0.25 * 0.75) ** 0.5
    assert abs(c1 - n * 0.25) < 5 * sd, "w1 got %d of %d (expected %.0f +- %.0f)" % (
        c1, n, n * 0.25, 5 * sd)


# ---- hashed --------------------------------------------------------------------

@pytest.mark.threads
def test_hashed_stickiness(make_gtmd, backends):
    hs = ["127.0.0.51", "127.0.0.52", "127.0.0.53", "127.0.0.54"]
    port = free_port_on(hs)
    be = dict(zip(hs, backends.start_all([backends.tcp(a, port, start=False) for a in hs])))
    g = make_gtmd(policy_config(
        ["us"], {"t": check("tcp", port)},
        {"hs": {"check": "t", "endpoints": [ep("h%d" % i, a, "us") for i, a in enumerate(hs)]}},
        {"hs.example.com.": {"pool": "hs", "policy": "all", "select": "hashed",
                             "answers": 1},
         "hsall.example.com.": {"pool": "hs", "policy": "all"}}))
    name = "hs.example.com."

    def ask(**kw):
        r = fast_query(g.addr, g.port, name, **kw)
        assert r is not None, kw
        a = answer_addrs(r)
        assert len(a) == 1, (kw, a)
        return a[0], r

    # One client /24 (source addresses 127.0.0.1, .2, .200): one answer.
    mine = {ask(source="127.0.0.1")[0] for _ in range(200)}
    assert len(mine) == 1, mine
    mine = mine.pop()
    assert ask(source="127.0.0.2")[0] == mine
    assert ask(source="127.0.0.200")[0] == mine

    # ECS: 64 client /24s spread over the endpoints; each is sticky; host
    # bits beyond /24 do not matter; the scope says /24.
    clients = ["10.%d.%d.0/24" % (i // 8, i % 8 * 16) for i in range(64)]
    got = {}
    for c in clients:
        a, r = ask(ecs=c)
        got[c] = a
        opts = [o for o in r.options if isinstance(o, dns.edns.ECSOption)]
        assert opts and opts[0].scopelen == 24, r
    for c in clients[:8]:
        host = c.replace(".0/24", ".77/32")
        assert ask(ecs=host)[0] == got[c], c
        for _ in range(3):
            assert ask(ecs=c)[0] == got[c], c
    # A shorter source prefix is all the answer can depend on: it is the
    # scope; /0 (a resolver keeping its clients private) gets scope 0 and
    # one answer for every address behind it.
    for src, scope in (("10.1.0.0/16", 16), ("10.9.0.0/0", 0), ("10.1.16.0/20", 20)):
        a, r = ask(ecs=src)
        opts = [o for o in r.options if isinstance(o, dns.edns.ECSOption)]
        assert opts and opts[0].scopelen == scope, (src, r)
    zero = {ask(ecs="%d.%d.0.0/0" % (i, i * 7 % 256))[0] for i in range(1, 40)}
    assert len(zero) == 1, zero
    # An answer that does not depend on the client has ECS scope 0.
    r = fast_query(g.addr, g.port, "hsall.example.com.", ecs=clients[0])
    opts = [o for o in r.options if isinstance(o, dns.edns.ECSOption)]
    assert sorted(answer_addrs(r)) == sorted(hs) and opts and opts[0].scopelen == 0, r
    spread = {a: sum(1 for v in got.values() if v == a) for a in hs}
    assert sum(1 for v in spread.values() if v > 0) >= 3, spread
    assert max(spread.values()) <= 0.6 * len(clients), spread

    # Kill an endpoint that is not mine: only its clients move.
    victim = next(a for a in hs if a != mine and spread[a] > 0)
    be[victim].kill()
    wait_log(g, r"endpoint=(endpoint:)?hs/h%d from=up to=down" % hs.index(victim))
    for _ in range(20):
        assert ask(source="127.0.0.1")[0] == mine
    for c in clients:
        a = ask(ecs=c)[0]
        if got[c] == victim:
            assert a != victim and a in hs, (c, a)
        else:
            assert a == got[c], "client %s moved from %s to %s" % (c, got[c], a)


# ---- spill -----------------------------------------------------------------------

def test_spill_spreads_over_next_regions(make_gtmd, backends):
    su, se, sa = "127.0.0.61", "127.0.0.62", "127.0.0.63"
    port = free_port_on([su, se, sa])
    b_us, _, _ = backends.start_all([backends.tcp(a, port, start=False)
                                     for a in (su, se, sa)])
    pool = {"check": "t", "endpoints": [ep("us", su, "us"), ep("eu", se, "eu", weight=1),
                                        ep("ap", sa, "ap", weight=3)]}
    order = ["us", "eu", "ap"]
    g = make_gtmd(policy_config(
        order, {"t": check("tcp", port)}, {"sp": pool},
        {"sp.example.com.": {"pool": "sp", "policy": "failover", "regions": order, "spill": 2,
                             "answers": 1},
         "nsp.example.com.": {"pool": "sp", "policy": "failover", "regions": order,
                              "answers": 1}}))
    for _ in range(50):
        assert query_addrs(g, "sp.example.com.") == [su]
    b_us.kill()
    wait_answer(g, "nsp.example.com.", [se])
    counts = {su: 0, se: 0, sa: 0}
    for _ in range(400):
        a = query_addrs(g, "sp.example.com.")
        assert a and len(a) == 1, a
        counts[a[0]] += 1
    assert counts[su] == 0, counts
    # Shared by weight 1:3: eu expected 100 of 400 (sd 8.7); within 5 sd.
    assert abs(counts[se] - 100) < 5 * (400 * 0.25 * 0.75) ** 0.5, counts
    assert counts[se] + counts[sa] == 400
    for _ in range(50):
        assert query_addrs(g, "nsp.example.com.") == [se]
    b_us.start()
    wait_answer(g, "sp.example.com.", [su])
    for _ in range(50):
        assert query_addrs(g, "sp.example.com.") == [su]


# ---- address families and CNAME pools -------------------------------------------

@pytest.mark.threads
def test_a_aaaa_and_cname_pools(make_gtmd, backends):
    v4u, c6u, v4e, c6e = "127.0.0.71", "127.0.0.72", "127.0.0.73", "127.0.0.74"
    cu, ce, ca = "127.0.0.75", "127.0.0.76", "127.0.0.77"
    addrs = [v4u, c6u, v4e, c6e, cu, ce, ca]
    port = free_port_on(addrs)
    be = dict(zip(addrs, backends.start_all([backends.tcp(a, port, start=False)
                                             for a in addrs])))
    six_u, six_e = "2001:db8::71", "2001:db8::73"
    pools = {
        "dual": {"check": "t", "endpoints": [
            ep("v4u", v4u, "us"), ep("v6u", six_u, "us", check_target={"address": c6u}),
            ep("v4e", v4e, "eu"), ep("v6e", six_e, "eu", check_target={"address": c6e})]},
        "p4": {"endpoints": [ep("a", "192.0.2.44", "us")]},
        "p6": {"endpoints": [ep("a", "2001:db8::66", "us")]},
        "cn": {"check": "t", "endpoints": [
            {"name": "us", "cname": "www.example.com.", "region": "us",
             "check_target": {"address": cu}},
            {"name": "eu", "cname": "dual.example.com.", "region": "eu",
             "check_target": {"address": ce}},
            {"name": "ap", "cname": "edge.example.net.", "region": "ap",
             "check_target": {"address": ca}}]},
    }
    g = make_gtmd(policy_config(
        ["us", "eu", "ap"], {"t": check("tcp", port)}, pools,
        {"dual.example.com.": {"pool": "dual", "policy": "failover", "regions": ["us", "eu"]},
         "pair.example.com.": [{"pool": "p4"}, {"pool": "p6"}],
         "cn.example.com.": {"pool": "cn", "policy": "failover",
                             "regions": ["us", "eu", "ap"]}}))
    assert query_addrs(g, "dual.example.com.", "A") == [v4u]
    assert query_addrs(g, "dual.example.com.", "AAAA") == [six_u]
    assert query_addrs(g, "pair.example.com.", "A") == ["192.0.2.44"]
    assert query_addrs(g, "pair.example.com.", "AAAA") == ["2001:db8::66"]

    # The AAAA endpoint's check target dies: AAAA fails over, A stays.
    be[c6u].kill()
    wait_answer(g, "dual.example.com.", [six_e], rdtype="AAAA")
    assert query_addrs(g, "dual.example.com.", "A") == [v4u]

    def cname_answer(qtype):
        r = g.query("cn.example.com.", qtype)
        assert r.rcode() == dns.rcode.NOERROR, r
        cn = [rr for rr in r.answer if rr.rdtype == dns.rdatatype.CNAME]
        assert len(cn) == 1 and len(cn[0]) == 1, r
        assert cn[0].name.to_text() == "cn.example.com."
        return cn[0][0].target.to_text(), r

    # us: CNAME to the static www, chain followed inside our zone.
    target, r = cname_answer("A")
    assert target == "www.example.com."
    assert sorted(answer_addrs(r, ("A",))) == ["192.0.2.80", "192.0.2.81"]
    target, r = cname_answer("CNAME")
    assert target == "www.example.com." and len(r.answer) == 1

    # eu: CNAME to another policy name; its answer comes from that policy.
    be[cu].kill()
    ok, _ = poll(lambda: cname_answer("A")[0] == "dual.example.com.", 3.0)
    assert ok, g.read_log()[-2000:]
    target, r = cname_answer("A")
    assert answer_addrs(r, ("A",)) == [v4u]
    target, r = cname_answer("AAAA")
    assert answer_addrs(r, ("AAAA",)) == [six_e]

    # ap: CNAME out of our zones; not followed.
    be[ce].kill()
    ok, _ = poll(lambda: cname_answer("A")[0] == "edge.example.net.", 3.0)
    assert ok, g.read_log()[-2000:]
    target, r = cname_answer("A")
    assert len(r.answer) == 1


# ---- check types ------------------------------------------------------------------

def test_check_types_against_real_backends(make_gtmd, backends):
    A = {k: "127.0.0.%d" % (80 + i) for i, k in enumerate(
        ["ok", "s503", "s204", "s302", "tls", "tcp", "dns", "big", "none"])}
    port = free_port_on(list(A.values()))
    cert, _ = backends.cert("good")
    other, _ = backends.cert("other")
    backends.start_all([
        backends.http(A["ok"], port, start=False),
        backends.http(A["s503"], port, mode="status:503", start=False),
        backends.http(A["s204"], port, mode="status:204", start=False),
        backends.http(A["s302"], port, mode="redirect", start=False),
        backends.https(A["tls"], port, cert=backends.cert("good"), start=False),
        backends.tcp(A["tcp"], port, start=False),
        backends.dns(A["dns"], port, "health.check.test.", "192.0.2.7", start=False),
        backends.http(A["big"], port, mode="big", start=False),
    ])
    dnsb = backends.all[6]
    ranges = [200, [300, 399]]
    cases = {
        # name: (check, backend address, expected up)
        "h-ok": (check("http", port, path="/health"), A["ok"], True),
        "h-503": (check("http", port), A["s503"], False),
        "h-204-range": (check("http", port, expect_status=ranges), A["s204"], False),
        "h-302-range": (check("http", port, expect_status=ranges), A["s302"], True),
        "h-200-range": (check("http", port, expect_status=ranges), A["ok"], True),
        "h-503-listed": (check("http", port, expect_status=[503]), A["s503"], True),
        "h-body-yes": (check("http", port, body_contains="gtmd-backend-ok"), A["ok"], True),
        "h-body-no": (check("http", port, body_contains="not-in-body"), A["ok"], False),
        "h-head": (check("http", port, method="HEAD", headers={"X-Probe": "1"}), A["ok"],
                   True),
        "h-big-head": (check("http", port, body_contains="gtmd-big-head"), A["big"], True),
        "h-big-tail": (check("http", port, body_contains="gtmd-big-tail"), A["big"], False),
        "s-noverify": (check("https", port), A["tls"], True),
        "s-ca": (check("https", port, ca_file=cert, host="localhost"), A["tls"], True),
        "s-wrong-ca": (check("https", port, ca_file=other, host="localhost"), A["tls"], False),
        "s-wrong-name": (check("https", port, ca_file=cert, host="not-localhost"), A["tls"],
                         False),
        "s-on-plain": (check("https", port), A["ok"], False),
        "t-ok": (check("tcp", port), A["tcp"], True),
        "t-refused": (check("tcp", port), A["none"], False),
        "d-ok": (check("dns", port, query="health.check.test.", expect_answer="192.0.2.7"),
                 A["dns"], True),
        "d-mismatch": (check("dns", port, query="health.check.test.",
                             expect_answer="192.0.2.99"), A["dns"], False),
        "d-nx": (check("dns", port, query="missing.check.test.", expect_rcode="NXDOMAIN"),
                 A["dns"], True),
        "d-nx-unexpected": (check("dns", port, query="missing.check.test."), A["dns"], False),
        "d-silent": (check("dns", port, query="health.check.test."), A["none"], False),
    }
    checks, pools, records = {}, {}, {}
    for name, (c, addr, _) in cases.items():
        checks[name] = c
        pools[name] = {"check": name, "endpoints": [ep("e", addr, "us")]}
        records[name + ".example.com."] = {"pool": name, "policy": "all",
                                           "when_all_down": "empty"}
    g = make_gtmd(policy_config(["us"], checks, pools, records))
    wrong = []
    for name, (c, addr, up) in cases.items():
        got = query_addrs(g, name + ".example.com.")
        if got != ([addr] if up else []):
            wrong.append((name, got, changes(g, name + "/e")))
    assert not wrong, wrong

    def detail(name):
        return changes(g, name + "/e")[0]["detail"]

    assert detail("h-503") == "status 503"
    assert detail("h-204-range") == "status 204"
    assert "body does not contain" in detail("h-body-no")
    assert "first 65536 octets" in detail("h-big-tail")
    assert "certificate verify failed" in detail("s-wrong-ca")
    assert "certificate verify failed" in detail("s-wrong-name")
    assert "refused" in detail("t-refused")
    assert "no answer matches" in detail("d-mismatch")
    assert "NXDOMAIN" in detail("d-nx-unexpected")
    # What the probes sent, as the backends saw it.
    reqs = [x["req"] for x in backends.all[0].stats() if x.get("req")]
    get = [r for r in reqs if r.startswith("GET /health HTTP/1.1\r\n")]
    assert get, reqs[:3]
    assert "Host: %s:%d\r\n" % (A["ok"], port) in get[0], get[0]
    assert "User-Agent: gtmd-probe\r\n" in get[0] and "Connection: close\r\n" in get[0]
    head = [r for r in reqs if r.startswith("HEAD / HTTP/1.1\r\n")]
    assert head and "X-Probe: 1\r\n" in head[0], reqs[:5]
    tls = [x for x in backends.all[4].stats() if x.get("req")]
    named = [x for x in tls if x.get("sni") == "localhost"]
    assert named and "Host: localhost:%d\r\n" % port in named[0]["req"], tls[:3]
    assert any(x.get("sni") is None for x in tls), "no SNI for an address literal"
    # The big-body backend was never read to the end.
    big = [s for s in backends.all[7].stats() if s["mode"] == "big"]
    assert big and not any(s["complete"] for s in big), big
    # expect_answer mismatch appears at run time: the endpoint goes down.
    dnsb.set_mode("answer:192.0.2.99")
    wait_answer(g, "d-ok.example.com.", [])
    wait_answer(g, "d-mismatch.example.com.", [A["dns"]])  # now it matches
    dnsb.set_mode("answer:192.0.2.7")
    wait_answer(g, "d-ok.example.com.", [A["dns"]])
    # The responder dies (ICMP port unreachable or timeout): down.
    dnsb.kill()
    wait_answer(g, "d-ok.example.com.", [])
    wait_answer(g, "d-nx.example.com.", [])


# ---- misbehaving targets -------------------------------------------------------------

def test_misbehaving_targets_go_down_without_hurting_others(make_gtmd, backends):
    kinds = ["refused", "reset", "blackhole", "drip", "garbage", "tlsjunk", "redirect", "big",
             "control"]
    A = {k: "127.0.0.%d" % (100 + i) for i, k in enumerate(kinds)}
    port = free_port_on(list(A.values()))
    be = {}
    for k in kinds:
        be[k] = (backends.https(A[k], port, start=False) if k == "tlsjunk"
                 else backends.http(A[k], port, start=False))
    backends.start_all(list(be.values()))
    checks = {"web": check("http", port), "tls": check("https", port)}
    pools = {k: {"check": "tls" if k == "tlsjunk" else "web", "endpoints": [ep("e", A[k], "us")]}
             for k in kinds}
    records = {"m-%s.example.com." % k: {"pool": k, "policy": "all", "when_all_down": "empty"}
               for k in kinds}
    g = make_gtmd(policy_config(["us"], checks, pools, records))
    for k in kinds:
        assert query_addrs(g, "m-%s.example.com." % k) == [A[k]], k

    def timed_query(name):
        t = time.monotonic()
        r = fast_query(g.addr, g.port, name, timeout=1.0)
        return r, time.monotonic() - t

    base = []
    for _ in range(60):
        r, dt = timed_query("www.example.com.")
        assert r is not None
        base.append(dt)

    t0 = time.monotonic()
    be["refused"].kill()
    for k in kinds:
        if k not in ("refused", "control"):
            be[k].set_mode(k)
    down_at = {}
    during = []
    lost = 0
    deadline = t0 + 2.5
    rounds = 0
    while time.monotonic() < deadline and rounds < 500:
        rounds += 1
        for k in kinds:
            r, dt = timed_query("m-%s.example.com." % k)
            if r is None:
                lost += 1
                continue
            during.append(dt)
            if not answer_addrs(r) and k not in down_at:
                down_at[k] = time.monotonic() - t0
        r, dt = timed_query("www.example.com.")
        assert r is not None and sorted(answer_addrs(r, ("A",))) == ["192.0.2.80", "192.0.2.81"]
        during.append(dt)
        time.sleep(0.02)

    bound = FALL * INTERVAL + TIMEOUT + 0.3
    expect_down = [k for k in kinds if k not in ("big", "control")]
    assert sorted(down_at) == sorted(expect_down), (down_at, g.read_log()[-3000:])
    slow = {k: round(v, 3) for k, v in down_at.items() if v > bound}
    print("\nMEASURE time-to-down: %s" % {k: round(v, 3) for k, v in down_at.items()})
    assert not slow, "down later than fall*interval+timeout+0.3=%.2fs: %s" % (bound, slow)
    assert lost == 0
    # DNS latency is unaffected by the probes running against bad targets.
    med_base, med_during = statistics.median(base), statistics.median(during)
    p95_base = sorted(base)[int(len(base) * 0.95)]
    p95_during = sorted(during)[int(len(during) * 0.95)]
    print("MEASURE dns latency ms: median %.2f -> %.2f, p95 %.2f -> %.2f, max %.2f" % (
        med_base * 1e3, med_during * 1e3, p95_base * 1e3, p95_during * 1e3, max(during) * 1e3))
    assert max(during) < 0.5, max(during)
    assert med_during < med_base * 3 + 0.005, (med_base, med_during)
    assert p95_during < max(p95_base * 5, 0.05), (p95_base, p95_during)
    # Reasons as logged.
    reasons = {"refused": "refused", "reset": "reset", "blackhole": "timeout",
               "drip": "timeout", "garbage": "bad status line", "tlsjunk": "tls",
               "redirect": "status 302"}
    for k, word in reasons.items():
        ch = changes(g, k + "/e")
        assert [c["to"] for c in ch] == ["up", "down"], (k, ch)
        assert word in ch[1]["detail"], (k, ch[1])
    # 10 MB body: still up (200), never read to the end.
    assert [c["to"] for c in changes(g, "big/e")] == ["up"]
    big = [s for s in be["big"].stats() if s["mode"] == "big"]
    assert len(big) >= 4, big
    assert not any(s["complete"] for s in big), big
    assert max(s["sent"] for s in big) < 10 * 1024 * 1024
    print("MEASURE big body: %d probes, at most %d octets accepted by the kernel" % (
        len(big), max(s["sent"] for s in big)))
    assert [c["to"] for c in changes(g, "control/e")] == ["up"]


# ---- check targets given by name -----------------------------------------------------

def localhost_addrs():
    """Every loopback address "localhost" resolves to here: 127.0.0.1 alone on
    some machines, ::1 first and then 127.0.0.1 on a standard Debian 12."""
    addrs = {ai[4][0] for ai in socket.getaddrinfo("localhost", None, proto=socket.IPPROTO_TCP)}
    return sorted(a for a in addrs if a in ("127.0.0.1", "::1"))


def test_check_target_host_localhost(make_gtmd, backends):
    """A check target named by host name: gtmd resolves it and probes what it
    resolves to. A backend listens on every address localhost has here, so the
    test holds whichever address the resolver puts first."""
    addrs = localhost_addrs()
    assert "127.0.0.1" in addrs, addrs
    port = free_port_on(addrs)
    bs = backends.start_all([backends.http(a, port, start=False) for a in addrs])
    g = make_gtmd(policy_config(
        ["us"], {"web": check("http", port)},
        {"named": {"check": "web", "endpoints": [
            ep("n1", "192.0.2.91", "us", check_target={"host": "localhost", "port": port})]}},
        {"named.example.com.": {"pool": "named", "policy": "all", "when_all_down": "empty"}}))
    assert query_addrs(g, "named.example.com.") == ["192.0.2.91"], changes(g)
    # The probe really reached a backend on a localhost address (a backend
    # counts a probe once it has answered it, which can be after gtmd
    # already serves the answer its reply made).
    n, _ = poll(lambda: sum(len([s for s in b.stats() if s["n"] is not None]) for b in bs), 5)
    assert n and n >= 1, [b.stats() for b in bs]
    for b in bs:
        b.kill()
    wait_answer(g, "named.example.com.", [])
    # Logged just after the down state is served.
    ok, _ = poll(lambda: "refused" in changes(g, "named/n1")[-1]["detail"], 5, 0.05)
    assert ok, changes(g, "named/n1")
    backends.start_all(bs)
    wait_answer(g, "named.example.com.", ["192.0.2.91"])


def test_health_change_detail_is_well_quoted(make_gtmd, backends):
    """A probe reason that contains double quotes (body_contains, expect_answer)
    must still give a parseable log line: detail is one quoted value."""
    a = "127.0.0.140"
    port = free_port_on([a])
    backends.http(a, port)
    g = make_gtmd(policy_config(
        ["us"], {"web": check("http", port, body_contains="no-such-text")},
        {"q": {"check": "web", "endpoints": [ep("e", a, "us")]}},
        {"q.example.com.": {"pool": "q", "policy": "all", "when_all_down": "empty"}}))
    assert query_addrs(g, "q.example.com.") == []
    lines = [ln for ln in g.read_log().splitlines()
             if "event=health_change" in ln and "q/e " in ln]
    assert lines, g.read_log()
    m = re.search(r'detail="((?:[^"\\]|\\.)*)"\s*$', lines[0])
    assert m, "detail is not one well-formed quoted value: %s" % lines[0]
    assert "no-such-text" in m.group(1), lines[0]

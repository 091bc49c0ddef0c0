"""The dns probe against backends that send malformed replies (the modes of
backend_server.py): each endpoint goes down with the failure kind and reason
the probe section of doc/policies.md gives, gtmd keeps answering DNS and
its admin API meanwhile, and each endpoint comes back up once its backend
answers well again.

Interval 0.25 s, timeout 0.2 s, rise 2, fall 3: the control endpoints
must stay up all through the test, and with fall 2 two slow probes on a
loaded machine (sanitizer builds, 2 cores, eleven backends) could take one
down. For the same reason a probe of any backend may time out now and
then: the failure kinds below allow that where it cannot hide a wrong
kind."""
import re
import time

from adminlib import Admin, admin_port, admin_section
from backends import backends, fast_query, free_port_on, poll, query_addrs  # noqa: F401
from conftest import default_config

NAME = "health.check.test."
GOOD = "192.0.2.7"

# mode: (failure kind, the reason's text). A reply that cannot be matched
# to the query (too short for a header, another ID, a question that cannot
# be read, 65535 random octets over TCP) is ignored as a resolver ignores
# it, so the probe times out; a matched reply that is wrong is "protocol".
MODES = {
    "short": ("timeout", "timeout while waiting for dns reply"),
    "badid": ("timeout", "timeout while waiting for dns reply"),
    "cutname": ("timeout", "timeout while waiting for dns reply"),
    "tcprandom": ("timeout", "timeout while waiting for dns reply"),
    "noqr": ("protocol", "dns: reply has QR clear"),
    "notify": ("protocol", "dns: reply has another opcode"),
    "ptrloop": ("protocol", "dns: malformed reply"),
    "ancount": ("protocol", "dns: malformed reply"),
    "tcpgarbage": ("protocol", "dns: malformed reply"),
}
# Over UDP TC, over TCP a good reply: the probe follows TC and passes.
CONTROLS = ["tc", "ok"]

def config(addrs, port):
    def fn(workdir, gport):
        c = default_config(workdir, gport)
        c["regions"] = {"us": {}}
        c["checks"] = {"d": {"type": "dns", "port": port, "query": NAME, "expect_answer": GOOD,
                             "interval": 0.25, "timeout": 0.2, "rise": 2, "fall": 3}}
        c["pools"] = {m: {"check": "d", "endpoints": [{"name": "e", "address": a,
                                                        "region": "us"}]}
                      for m, a in addrs.items()}
        c["records"] = {"p-%s.example.com." % m: {"pool": m, "policy": "all",
                                                  "when_all_down": "empty"}
                        for m in addrs}
        c["admin"] = admin_section(workdir, admin_port(gport))
        return c
    return fn


def metric_matches(a, pattern):
    """The matches of pattern over the lines of /metrics."""
    r = a.get("/metrics")
    assert r.status == 200, r
    return [m for m in (re.match(pattern, line) for line in r.body.decode().splitlines()) if m]


def failure_kinds(a):
    """{pool: {kind: count}} from /metrics."""
    out = {}
    for m in metric_matches(a, r'^gtmd_probe_failures_total\{pool="([^"]*)",endpoint="e",'
                               r'region="us",az="",reason="([a-z]+)"\} (\d+)$'):
        out.setdefault(m.group(1), {})[m.group(2)] = int(m.group(3))
    return out


def probe_counts(a):
    """{pool: probes done} from /metrics (the latency histogram's count)."""
    return {m.group(1): int(m.group(2))
            for m in metric_matches(a, r'^gtmd_probe_duration_seconds_count\{pool="([^"]*)",'
                                       r'endpoint="e",region="us",az=""\} (\d+)$')}


def endpoints(a):
    """{pool: endpoint object} from /v1/status."""
    r = a.get("/v1/status")
    assert r.status == 200, r
    out = {}
    for reg in r.json["regions"]:
        for e in reg["endpoints"]:
            out[e["pool"]] = e
    return out


def test_malformed_dns_replies(make_gtmd, backends):  # noqa: F811
    pools = list(MODES) + CONTROLS
    addrs = {m: "127.0.0.%d" % (140 + i) for i, m in enumerate(pools)}
    port = free_port_on(list(addrs.values()))
    be = {m: backends.dns(addrs[m], port, NAME, GOOD, start=False) for m in pools}
    backends.start_all(list(be.values()))
    g = make_gtmd(config(addrs, port))
    a = Admin.of(g)

    def all_answer(want_up):
        return all(query_addrs(g, "p-%s.example.com." % m) == ([addrs[m]] if want_up(m) else [])
                   for m in pools)

    ok, _ = poll(lambda: all_answer(lambda m: True), 5.0)
    assert ok, endpoints(a)
    # (A slow start, e.g. under a sanitizer, may already have cost a probe.)
    before = failure_kinds(a)
    probes_before = probe_counts(a)

    for m in MODES:
        be[m].set_mode(m)
    be["tc"].set_mode("tc")
    # While the probes fail, gtmd answers every query and admin request.
    t0 = time.monotonic()
    down = {}
    rounds = 0
    while len(down) < len(MODES) and time.monotonic() - t0 < 8.0 and rounds < 400:
        rounds += 1
        r = fast_query(g.addr, g.port, "www.example.com.", timeout=1.0)
        assert r is not None and r.answer, "no answer from gtmd"
        eps = endpoints(a)
        for m in MODES:
            if m not in down and eps[m]["state"]["probe"] == "down":
                down[m] = eps[m]
        time.sleep(0.02)
    assert sorted(down) == sorted(MODES), (sorted(down), endpoints(a))
    assert all_answer(lambda m: m not in MODES)

    # Each went down with its own kind and reason, and with no other kind.
    # A timeout is no other kind for the modes answered with a matched but
    # wrong reply only when it is the exception (a slow probe on a loaded
    # machine): protocol failures are there and outnumber it. The last
    # result is polled (bounded) for the same reason: one slow probe may
    # be the last one read.
    def wrong_kinds():
        after = failure_kinds(a)
        kinds = {m: {k: n - before.get(m, {}).get(k, 0) for k, n in ks.items()
                     if n > before.get(m, {}).get(k, 0)} for m, ks in after.items()}
        kinds = {m: ks for m, ks in kinds.items() if ks}
        eps = endpoints(a)
        wrong = []
        for m, (kind, reason) in MODES.items():
            ks = kinds.get(m, {})
            if kind == "protocol":
                ok = (set(ks) <= {"protocol", "timeout"} and
                      ks.get("protocol", 0) > ks.get("timeout", 0))
            else:
                ok = set(ks) == {kind}
            if not ok or eps[m]["last_result"] != reason:
                wrong.append((m, ks, eps[m]["last_result"]))
        return wrong, kinds, eps
    poll(lambda: not wrong_kinds()[0], 3.0, 0.1)
    wrong, kinds, eps = wrong_kinds()
    assert not wrong, wrong
    # The controls pass: up, and no failure but a slow probe's timeout
    # now and then (a minority of their probes).
    probes = probe_counts(a)
    for m in CONTROLS:
        ks, n = kinds.get(m, {}), probes[m] - probes_before.get(m, 0)
        assert eps[m]["state"]["probe"] == "up", (m, eps[m], ks)
        assert set(ks) <= {"timeout"} and 2 * ks.get("timeout", 0) < n, (m, eps[m], ks, n)
    # The tc backend was really asked over TCP (so tcpgarbage and tcprandom
    # reached the probe over TCP, not as the UDP truncated reply).
    for m in ("tc", "tcpgarbage", "tcprandom"):
        assert any(s.get("tcp") and s["mode"] == m for s in be[m].stats()), (m, be[m].stats())
    # The probes never outlived their timeout: the latencies stay below it.
    for m in MODES:
        assert eps[m]["last_latency_ms"] < 1000, (m, eps[m])

    for m in MODES:
        be[m].set_mode("ok")
    ok, _ = poll(lambda: all_answer(lambda m: True), 5.0)
    assert ok, endpoints(a)
    eps = endpoints(a)
    assert all(eps[m]["last_result"] == "ok" for m in pools), eps
    assert a.get("/v1/status").status == 200


def test_reflected_query_is_not_a_pass_without_expect_answer(make_gtmd, backends):  # noqa: F811
    """A target that sends back what it got (QR clear) is not a DNS server:
    without expect_answer the rcode alone would have passed it."""
    addr = "127.0.0.139"
    port = free_port_on([addr])
    b = backends.dns(addr, port, NAME, GOOD, mode="noqr")

    def fn(workdir, gport):
        c = config({"x": addr}, port)(workdir, gport)
        del c["checks"]["d"]["expect_answer"]
        return c
    g = make_gtmd(fn)
    a = Admin.of(g)
    ok, _ = poll(lambda: endpoints(a)["x"]["state"]["probe"] == "down", 5.0)
    assert ok, endpoints(a)
    assert endpoints(a)["x"]["last_result"] == "dns: reply has QR clear"
    assert query_addrs(g, "p-x.example.com.") == []
    b.set_mode("ok")
    ok, _ = poll(lambda: query_addrs(g, "p-x.example.com.") == [addr], 5.0)
    assert ok, endpoints(a)

"""Load shedding ("shed_load", as NS1's shed_load filter) end to end: real
HTTP backends report their load in their health replies (a JSON body read
by a check's "load": {"json_pointer": ...}, or a Prometheus sample read
by "load": {"metric": ...}); an external verdict can push one instead.
Over 2,000 answers each, the shares follow the watermarks (low 0.6, high
0.9): an endpoint at or below low keeps its full share, one between them
a share falling linearly (0.75: half), one above high none, unless every
endpoint is above high. explain shows the figures.

Checks every 0.25 s; every wait bounded."""
import collections
import subprocess

import pytest

from adminlib import Admin, admin_port, admin_section
from backends import answer_addrs, backends, fast_query, free_port_on, poll  # noqa: F401
from conftest import GTMD, default_config

A, B, C = "127.0.0.71", "127.0.0.72", "127.0.0.73"
N = 2000


def body(load):
    return 'body:{"load": %s, "ok": true}' % load


def config(port):
    def fn(workdir, dns_port):
        c = default_config(workdir, dns_port)
        c["regions"] = {"r1": {}}
        c["checks"] = {"web": {"type": "http", "port": port, "interval": 0.25, "timeout": 0.2,
                               "rise": 1, "fall": 2, "load": {"json_pointer": "/load"}}}
        c["pools"] = {"web": {"check": "web", "endpoints": [
            {"name": n, "address": a, "region": "r1"} for n, a in (("a", A), ("b", B),
                                                                   ("c", C))]}}
        shed = {"low": 0.6, "high": 0.9}
        c["records"] = {
            "w.example.com.": {"pool": "web", "policy": "weighted", "select": "weighted",
                               "answers": 1, "shed_load": shed, "ttl": 5},
            "all.example.com.": {"pool": "web", "policy": "all", "answers": 8,
                                 "shed_load": shed, "ttl": 5},
            "plain.example.com.": {"pool": "web", "policy": "weighted", "select": "weighted",
                                   "answers": 1, "ttl": 5}}
        c["admin"] = admin_section(workdir, admin_port(dns_port))
        return c
    return fn


def count(g, name, n=N):
    """How often each address is in n answers of name."""
    seen = collections.Counter()
    for _ in range(n):
        r = None
        for _ in range(3):
            r = fast_query(g.addr, g.port, name, "A", timeout=1.0)
            if r is not None:
                break
        assert r is not None, name
        seen.update(answer_addrs(r))
    return seen


def loads(g):
    e = Admin.of(g).get("/v1/explain?name=w.example.com.&type=A").json["policy"]
    return {ep["answer"]: ep.get("load") for ep in e["endpoints"]}


@pytest.fixture
def estate(make_gtmd, backends):
    port = free_port_on([A, B, C])
    bs = backends.start_all([backends.http(A, port, mode=body(0.5), start=False),
                             backends.http(B, port, mode=body(0.75), start=False),
                             backends.http(C, port, mode=body(0.95), start=False)])
    g = make_gtmd(config(port))
    assert poll(lambda: loads(g) == {A: 0.5, B: 0.75, C: 0.95}, 10)[0], \
        (loads(g), g.read_log()[-2000:])
    return g, dict(zip((A, B, C), bs))


def test_shares_follow_the_watermarks(estate):
    g, _ = estate
    w = count(g, "w.example.com.")
    # Weighted with factors 1, 0.5, 0: 2/3 and 1/3 (binomial sd ~21).
    assert w[C] == 0, w
    assert abs(w[A] - N * 2 / 3) < 100 and abs(w[B] - N / 3) < 100, w
    # The same pool without shed_load: a third each.
    p = count(g, "plain.example.com.")
    assert all(abs(p[x] - N / 3) < 100 for x in (A, B, C)), p
    # Select all: A always, B in about half of the answers, C never.
    a = count(g, "all.example.com.")
    assert a[A] == N and a[C] == 0 and abs(a[B] - N / 2) < 110, a
    e = Admin.of(g).get("/v1/explain?name=w.example.com.&type=A").json["policy"]
    assert e["shed_load"] == {"low": 0.6, "high": 0.9}, e
    f = {ep["answer"]: ep["shed_factor"] for ep in e["endpoints"]}
    assert f == {A: 1.0, B: pytest.approx(0.5), C: 0.0}, f


def test_every_endpoint_above_high_sheds_nothing(estate):
    g, be = estate
    be[A].set_mode(body(0.97))
    be[B].set_mode(body(0.99))
    assert poll(lambda: loads(g) == {A: 0.97, B: 0.99, C: 0.95}, 10)[0], loads(g)
    w = count(g, "w.example.com.")
    assert all(abs(w[x] - N / 3) < 100 for x in (A, B, C)), w


def test_a_pushed_load_wins_while_it_lasts(estate):
    g, _ = estate
    adm = Admin.of(g)
    r = adm.post("/v1/verdicts", {"source": "lb", "target": {"endpoint": "web/a"},
                                  "state": "up", "load": 0.99, "expires_in": 60})
    assert r.status == 201 and r.json["load"] == 0.99, r.body
    assert loads(g)[A] == 0.99
    w = count(g, "w.example.com.", 1000)
    assert w[A] == 0 and w[C] == 0 and w[B] == 1000, w  # only B is below high
    assert adm.delete("/v1/verdicts/" + r.json["id"]).status in (200, 204)
    assert poll(lambda: loads(g)[A] == 0.5, 5)[0], loads(g)
    # Bad pushes are refused at their field.
    for bad, why in (({"load": -1}, "from 0 to 1e15"), ({"load": "high"}, "from 0 to 1e15"),
                     ({"load": 0.5, "target": {"region": "r1"}}, "an endpoint's")):
        b = {"source": "lb", "target": {"endpoint": "web/a"}, "state": "up",
             "expires_in": 60}
        b.update(bad)
        r = adm.post("/v1/verdicts", b)
        assert r.status == 400 and why in r.body.decode(), (bad, r.body)


def test_a_prometheus_metric_and_a_reply_without_the_figure(make_gtmd, backends):
    port = free_port_on([A, B])
    backends.start_all([
        backends.http(A, port, mode="body:# HELP backend_load x\\n# TYPE backend_load gauge\\n"
                      "backend_load_other 9\\nbackend_load{pod=\"a\"} 0.8 1700000000\\n",
                      start=False),
        backends.http(B, port, mode="body:no figure here", start=False)])

    def fn(workdir, dns_port):
        c = config(port)(workdir, dns_port)
        c["checks"]["web"]["load"] = {"metric": "backend_load"}
        c["pools"]["web"]["endpoints"] = c["pools"]["web"]["endpoints"][:2]
        return c
    g = make_gtmd(fn)
    assert poll(lambda: loads(g) == {A: 0.8, B: None}, 10)[0], loads(g)
    # B's load is unknown: it keeps its full share; A at 0.8 has a third.
    w = count(g, "w.example.com.")
    assert abs(w[A] - N * 0.25) < 100 and abs(w[B] - N * 0.75) < 100, w


def test_shed_load_without_a_load_figure_is_warned(make_gtmd):
    """A record with shed_load whose pool's check reads no load (an http
    check without "load", a tcp check, no check at all) sheds nothing
    unless a verdict pushes a load: gtmd check says so in a warning naming
    the record and the pool, still exits 0, and gtmd says it at start;
    a record whose check reads one is not named."""
    port = free_port_on([A, B, C])  # nothing listens: the endpoints are down, no matter

    def fn(workdir, dns_port):
        c = config(port)(workdir, dns_port)
        del c["checks"]["web"]["load"]
        c["checks"]["port"] = {"type": "tcp", "port": port, "interval": 1, "timeout": 0.5}
        c["checks"]["loaded"] = dict(c["checks"]["web"], load={"json_pointer": "/load"})
        eps = c["pools"]["web"]["endpoints"]
        c["pools"]["tcp"] = {"check": "port", "endpoints": eps}
        c["pools"]["bare"] = {"endpoints": eps}
        c["pools"]["good"] = {"check": "loaded", "endpoints": eps}
        shed = {"low": 0.6, "high": 0.9}
        for name in ("tcp", "bare", "good"):
            c["records"][name + ".example.com."] = {"pool": name, "policy": "all",
                                                    "shed_load": shed}
        c["config_api"] = {"history_dir": "history", "keep": 5}
        return c
    g = make_gtmd(fn)
    want = {
        'w.example.com."].shed_load: pool "web" reads no load figure (its check "web" has '
        'no "load")',
        'all.example.com."].shed_load: pool "web" reads no load figure (its check "web" has '
        'no "load")',
        'tcp.example.com."].shed_load: pool "tcp" reads no load figure (its check "port" is a '
        'tcp check: only http and https checks (with "load") and exec checks read one)',
        'bare.example.com."].shed_load: pool "bare" reads no load figure (it has no check)'}
    p = subprocess.run([GTMD, "check", "-c", g.conf_path], capture_output=True, text=True,
                       timeout=20)
    assert p.returncode == 0 and "with warnings" in p.stdout, (p.stdout, p.stderr)
    warned = [ln for ln in p.stderr.splitlines() if ln.startswith("warning: ")]
    assert len(warned) == 4, p.stderr
    for w in want:
        line = [ln for ln in warned if w in ln]
        assert len(line) == 1 and line[0].startswith(
            "warning: %s: $.records[\"" % g.conf_path) and line[0].endswith(
            "nothing is shed unless an external verdict pushes a load"), (w, p.stderr)
    assert "good.example.com." not in p.stderr and "plain.example.com." not in p.stderr
    log = g.read_log()
    logged = [ln for ln in log.splitlines() if "event=config_warning" in ln]
    assert len(logged) == 4 and all(any(w.replace('"', '\\"') in ln for ln in logged)
                                    for w in want), log[-3000:]
    # A dry run of a change through the API that makes one more says it.
    r = Admin.of(g).call("PUT", "/v1/config/records/more.example.com.?dry_run=true",
                         body={"pool": "tcp", "policy": "all", "shed_load": {"low": 1, "high": 2}})
    assert r.status == 200 and any(
        'more.example.com."].shed_load: pool "tcp" reads no load figure' in w
        for w in r.json.get("warnings", [])), r.body

"""Traffic dials in a 2-node fleet on a real etcd (fleetlib.py): a dial made on
one node travels in the signed-or-not override record through etcd and is
served by both nodes to exactly the same clients (dials.py predicts them),
until it expires on both; a record whose dial fields a node cannot read is
refused, never applied to every client.

Backends: us1 on 127.0.0.31 and eu1 on 127.0.0.32, each its own process
(backends.py: the sweeps of 200 queries would starve fleetlib's in-process
backend of the GIL, and its probes would time out); the
record app.example.com. fails over from us to eu. Every wait is bounded."""
import base64
import json
import time

import dns.edns
import pytest

from backends import answer_addrs, backends, fast_query, free_port_on, poll  # noqa: F401
from dials import bucket, salt_of, subnets
from fleetlib import EtcdCluster, http_json, made, need_etcd, start_node  # noqa: F401

US, EU = "127.0.0.31", "127.0.0.32"
NAME = "app.example.com."
PREFIX = "/gtmd/it/"
CLIENTS = subnets(200, "100.66.0.0")


@pytest.fixture
def be(backends):
    port = free_port_on([US, EU])
    backends.start_all([backends.http(US, port, start=False),
                        backends.http(EU, port, start=False)])
    return {"port": port}


@pytest.fixture
def etcd():
    why = need_etcd()
    if why:
        pytest.skip(why)
    c = EtcdCluster(1).start()
    yield c
    c.stop()


def ask(n, ecs):
    for _ in range(5):
        r = fast_query(n.addr, n.port, NAME, ecs=ecs, timeout=1.0)
        if r is not None:
            scope = [o.scopelen for o in r.options if isinstance(o, dns.edns.ECSOption)]
            return sorted(answer_addrs(r, ("A",))), scope
    raise AssertionError("no answer for %s" % ecs)


def moved(n, scope):
    """The clients n answers from eu, every reply being us or eu with ECS
    scope scope; None when one is not (a probe missed on a loaded machine:
    the region seen down)."""
    out = set()
    for c in CLIENTS:
        ans, sc = ask(n, c)
        if ans not in ([US], [EU]) or sc != [scope]:
            print("transient: %s %s %s" % (c, ans, sc))
            return None
        if ans == [EU]:
            out.add(c)
    return out


def served(nodes, want, scope, timeout=10.0):
    """Every node answers exactly the clients want from eu (polled, so a
    transient real outage of a backend is waited out)."""
    seen = []

    def check():
        got = [moved(n, scope) for n in nodes]
        seen.append(got)
        return all(g == want for g in got)
    ok, _ = poll(check, timeout, 0.2)
    assert ok, "wanted %d clients moved on every node; last saw %s\n%s" % (
        len(want), [None if g is None else len(g) for g in seen[-1]],
        "\n".join(n.read_log()[-1500:] for n in nodes))


def put(etcd, key, value):
    m = etcd.members[0]
    body = {"key": base64.b64encode(key.encode()).decode(),
            "value": base64.b64encode(json.dumps(value).encode()).decode()}
    st, _ = http_json(m.url + "/v3/kv/put", body, timeout=2.0)
    assert st == 200


def two(etcd, be, made):
    """Two nodes; checks every 1 s with a 0.8 s timeout (the sweeps ask
    who is served from where, and a backend probe missed on a loaded
    machine would flip a region)."""
    nodes = []
    for i in (1, 2):
        n = start_node(made, etcd.urls, i, be["port"], start=False)
        n.config["checks"]["web"].update(interval=1.0, timeout=0.8)
        nodes.append(n.start())
    return nodes


def test_dial_is_served_by_both_nodes_until_it_expires(etcd, be, made):
    n1, n2 = nodes = two(etcd, be, made)
    ok, _ = poll(lambda: all(ask(n, CLIENTS[0])[0] == [US] for n in nodes), 10.0)
    assert ok
    salt = salt_of("region:us")
    want = {c for c in CLIENTS if bucket(c, salt) < 3000}
    st, o = n1.post("/v1/overrides", {"target": "region:us", "state": "down", "percent": 30,
                                      "reason": "fleet dial", "expires_in": 20})
    assert st == 201, o
    assert o["percent"] == 30.0 and o["salt"] == salt
    t0 = time.monotonic()
    rec = json.loads(etcd.get_prefix(PREFIX + "overrides/")[PREFIX + "overrides/" + o["id"]])
    assert rec["percent"] == 30.0 and rec["salt"] == salt
    ok, _ = poll(lambda: [x["id"] for x in n2.get("/v1/overrides")[1]["overrides"]] == [o["id"]],
                 3.0, 0.05)
    assert ok
    served(nodes, want, 24)
    print("fleet dial: %d of %d clients moved on both nodes" % (len(want), len(CLIENTS)))
    ok, _ = poll(lambda: all(n.get("/v1/overrides")[1]["overrides"] == [] for n in nodes),
                 20.0 - (time.monotonic() - t0) + 6.0, 0.1)
    assert ok
    served(nodes, set(), 0)


def test_unreadable_dial_record_is_refused_not_applied_in_full(etcd, be, made):
    n1, n2 = nodes = two(etcd, be, made)
    ok, _ = poll(lambda: all(ask(n, CLIENTS[0])[0] == [US] for n in nodes), 10.0)
    assert ok
    now = time.time()
    base = {"target": "region:us", "state": "down", "reason": "from a newer gtmd",
            "author": "ops", "created": now, "expires": now + 60, "node": "n9"}
    # "percent" without "salt", and a field no gtmd knows (a later
    # version's): both refused by every node, which keeps serving us.
    put(etcd, PREFIX + "overrides/ovr-900", dict(base, id="ovr-900", percent=30))
    put(etcd, PREFIX + "overrides/ovr-901",
        dict(base, id="ovr-901", percent=30, salt=1, ramp_to=50))
    ok, _ = poll(lambda: all('override_rejected source=fleet id="ovr-901"' in n.read_log()
                             for n in nodes), 5.0, 0.1)
    assert ok, n1.read_log()[-2000:]
    for n in nodes:
        log = n.read_log()
        assert 'override_rejected source=fleet id="ovr-900"' in log, log[-2000:]
        assert n.get("/v1/overrides")[1]["overrides"] == []
    assert all(ask(n, c)[0] == [US] for n in nodes for c in CLIENTS[:50])

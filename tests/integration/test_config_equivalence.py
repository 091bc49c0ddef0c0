"""A long seeded sequence of configuration changes gives what a full load
of the resulting file gives (issue #55, "random change sequences applied
to the shared structures give exactly the answers a full load of the same
file gives").

test_config_incremental.py holds a few changes on 30 names to a SIGHUP and
a fresh start. This test is the scale above it: 2,000 policy names in two
zones, 300 changes through the admin API (records created, changed and
deleted; pools changed, endpoints added and removed, weights changed;
batches of up to 40 operations; refused changes among them), then:

- the running /v1/config document equals the test's own model of what
  was applied (nothing lost, nothing applied twice);
- the configuration file, once written, holds the same records and pools;
- a fresh gtmd started on that file gives the same /v1/config resources
  and, for every name ever changed and every static name, the same A and
  AAAA answers (rcode, AA, answer and authority records), without ECS and
  for two client networks (select "hashed" ranks endpoints by weight per
  client network, so weights change answers deterministically).

Every policy is deterministic for a given client: failover and "all" (the
order rotates, so records are compared as sets) and "hashed". Pools have no
checks: every endpoint is up. Real gtmd processes on loopback.
"""
import json
import os
import random
import time
from concurrent.futures import ThreadPoolExecutor

import dns.edns
import dns.exception
import dns.flags
import dns.message
import dns.query
import dns.rcode

from adminlib import Admin, READ_TOKEN, admin_port, admin_section

ZONE = """$ORIGIN eq.test.
$TTL 300
@ SOA ns1 hostmaster 7 3600 600 86400 60
@ NS ns1
ns1 A 192.0.2.53
www A 192.0.2.80
txt TXT "static"
*.wild A 192.0.2.99
"""
ZONE2 = """$ORIGIN two.eq2.test.
$TTL 300
@ SOA ns1 hostmaster 3 3600 600 86400 60
@ NS ns1
ns1 A 192.0.2.54
"""
ORIGINS = ["eq.test.", "two.eq2.test."]
REGIONS = ["a", "b", "c"]
NAMES = 2000  # policy names at the start
CHANGES = 300  # API calls after the start
POOLS = 24
CLIENTS = [None, "203.0.113.7", "198.51.100.77"]
STATIC = ["www.eq.test.", "txt.eq.test.", "x.wild.eq.test.", "none.eq.test.", "eq.test.",
          "two.eq2.test.", "ns1.eq.test."]


def endpoints(rng, k, six):
    """2 to 5 endpoints over the regions, weights 0 to 9 (0: chosen only
    when no positive weight is left)."""
    eps = []
    for i in range(rng.randrange(2, 6)):
        addr = ("2001:db8:%x::%x" % (k, rng.randrange(1, 4000)) if six else
                "10.%d.%d.%d" % (k, rng.randrange(256), rng.randrange(1, 255)))
        eps.append({"name": "e%d" % i, "address": addr, "region": REGIONS[i % 3],
                    "weight": rng.randrange(0, 10)})
    return {"endpoints": eps}


def record(rng, pools):
    pool = rng.choice(sorted(pools))
    r = {"pool": pool, "ttl": rng.choice([10, 30, 60])}
    order = REGIONS[:]
    rng.shuffle(order)
    kind = rng.randrange(3)
    if kind == 0:
        r.update(policy="failover", regions=order[:rng.choice([1, 2, 3])])
    elif kind == 1:
        r.update(policy="all", select="all", answers=8)
    else:
        r.update(policy="all", select="hashed", answers=rng.choice([1, 2]))
    return r


def initial(seed):
    rng = random.Random(seed)
    pools = {"p%d" % k: endpoints(rng, k, k % 4 == 3) for k in range(POOLS)}
    recs = {"r%d.%s" % (i, ORIGINS[i % 2]): record(rng, pools) for i in range(NAMES)}
    return pools, recs


def config_fn(pools, recs):
    def fn(workdir, port):
        with open(os.path.join(workdir, "eq.test.zone"), "w") as f:
            f.write(ZONE)
        with open(os.path.join(workdir, "two.zone"), "w") as f:
            f.write(ZONE2)
        return {"listen": ["127.0.0.1:%d" % port], "workers": 1,
                "zones": [{"origin": "eq.test.", "file": "eq.test.zone"},
                          {"origin": "two.eq2.test.", "file": "two.zone"}],
                "admin": admin_section(workdir, admin_port(port), audit=False),
                "config_api": {"history_dir": "history", "keep": 3},
                "regions": {r: {} for r in REGIONS}, "pools": pools, "records": recs}
    return fn


class Model:
    """What the test applied: records and pools, as the API must hold them."""

    def __init__(self, pools, recs):
        self.pools = json.loads(json.dumps(pools))
        self.recs = json.loads(json.dumps(recs))
        self.asked = set(recs)  # every name that had a record at some time

    def used(self):
        return {r["pool"] for r in self.recs.values()}

    def apply(self, ops):
        for op in ops:
            kind, name = op["path"].split("/", 1)
            table = self.recs if kind == "records" else self.pools
            if op["op"] == "put":
                table[name] = op["value"]
                if kind == "records":
                    self.asked.add(name)
            else:
                del table[name]


def random_ops(rng, m, serial):
    """One change: a list of operations (one for a single call, several
    for a batch) and whether gtmd must refuse it."""
    kind = rng.randrange(10)
    names = sorted(m.recs)
    if kind <= 2:  # a record changed
        return [{"op": "put", "path": "records/" + rng.choice(names),
                 "value": record(rng, m.pools)}], False
    if kind == 3:  # a record created
        name = "n%d.%s" % (serial, rng.choice(ORIGINS))
        return [{"op": "put", "path": "records/" + name, "value": record(rng, m.pools)}], False
    if kind == 4:  # a record deleted
        return [{"op": "delete", "path": "records/" + rng.choice(names)}], False
    if kind == 5:  # a pool's weights changed (answers of its hashed records move)
        p = rng.choice(sorted(m.pools))
        pool = json.loads(json.dumps(m.pools[p]))
        for e in pool["endpoints"]:
            e["weight"] = rng.randrange(0, 10)
        return [{"op": "put", "path": "pools/" + p, "value": pool}], False
    if kind == 6:  # a pool's endpoints replaced (added, removed, new addresses)
        p = rng.choice(sorted(m.pools))
        k = int(p[1:]) if p[1:].isdigit() else 40 + serial % 200
        return [{"op": "put", "path": "pools/" + p,
                 "value": endpoints(rng, k % 250, k % 4 == 3)}], False
    if kind == 7:  # a pool in use deleted: refused, nothing changes
        return [{"op": "delete", "path": "pools/" + rng.choice(sorted(m.used()))}], True
    # A batch: a new pool, records on it, changes and deletions elsewhere.
    p = "q%d" % serial
    ops = [{"op": "put", "path": "pools/" + p, "value": endpoints(rng, 200 + serial % 50, False)}]
    pools = dict(m.pools, **{p: None})
    touched = set()
    for j in range(rng.randrange(2, 40)):
        if rng.random() < 0.3:
            name = "b%d-%d.%s" % (serial, j, rng.choice(ORIGINS))
        else:
            name = rng.choice(names)
        if name in touched:
            continue
        touched.add(name)
        if name in m.recs and rng.random() < 0.25:
            ops.append({"op": "delete", "path": "records/" + name})
        else:
            ops.append({"op": "put", "path": "records/" + name, "value": record(rng, pools)})
    return ops, False


def call(a, ops):
    if len(ops) > 1:
        return a.post("/v1/config/changes", {"changes": ops}, timeout=60)
    op = ops[0]
    if op["op"] == "put":
        return a.call("PUT", "/v1/config/" + op["path"], body=op["value"], timeout=60)
    return a.delete("/v1/config/" + op["path"], timeout=60)


def view(r):
    """rcode, AA, and each section's records as sets (select "all"
    rotates its order from query to query)."""
    def sec(s):
        return sorted((rr.name.to_text(), rr.ttl, rr.rdtype, tuple(sorted(x.to_text() for x in rr)))
                      for rr in s)
    return (dns.rcode.to_text(r.rcode()), bool(r.flags & dns.flags.AA), sec(r.answer),
            sec(r.authority))


def ask(port, key):
    name, rdtype, client = key
    opts = [dns.edns.ECSOption(client, 24)] if client else []
    q = dns.message.make_query(name, rdtype, use_edns=0, options=opts)
    for _ in range(10):  # a lost datagram on a loaded machine: asked again
        try:
            return view(dns.query.udp(q, "127.0.0.1", port=port, timeout=1.0))
        except dns.exception.Timeout:
            continue
    raise AssertionError("no answer for %s from port %d" % (key, port))


def answers(port, keys):
    with ThreadPoolExecutor(max_workers=4) as ex:
        return dict(zip(keys, ex.map(lambda k: ask(port, k), keys)))


def resources(a):
    r = a.get("/v1/config", token=READ_TOKEN, timeout=60)
    assert r.status == 200, r
    return r.json["version"], r.json["resources"]


def file_doc(g):
    """The configuration file once the writer has every version answered
    (a 201 is in the change journal at once, in the file a write later:
    the journal's version lines are gone then)."""
    d, n = os.path.split(g.conf_path)
    journal = os.path.join(d, "." + n + ".journal")
    deadline = time.monotonic() + 60  # the writer runs at nice 10: slow under ASan and load
    while time.monotonic() < deadline:
        if not os.path.exists(journal):
            break
        with open(journal) as f:
            if not [x for x in f if x.startswith('{"v"')]:
                break
        time.sleep(0.05)
    else:
        raise AssertionError("the journal still holds versions after 60 s")
    with open(g.conf_path) as f:
        return json.load(f)


def diff(a, b, what):
    bad = sorted((k for k in set(a) | set(b) if a.get(k) != b.get(k)), key=str)
    return "%s: %d differ, e.g. %s" % (what, len(bad), ["%s: %s != %s" % (k, a.get(k), b.get(k))
                                                        for k in bad[:4]])


def test_seeded_changes_answer_as_a_fresh_load(make_gtmd):
    seed = 5501
    pools, recs = initial(seed)
    g = make_gtmd(config_fn(pools, recs))
    a = Admin.of(g)
    a.wait_ready(timeout=30)
    m = Model(pools, recs)
    rng = random.Random(seed * 31)
    applied = refused = batches = 0
    for serial in range(CHANGES):
        ops, must_refuse = random_ops(rng, m, serial)
        r = call(a, ops)
        if must_refuse:
            assert r.status == 400 and r.json["error"]["code"] == "invalid", (serial, ops, r)
            refused += 1
            continue
        assert r.status in (200, 201), (serial, ops, r)
        m.apply(ops)
        applied += r.status == 201
        batches += len(ops) > 1
    # A random sequence that applied too little would compare nothing.
    assert applied >= CHANGES // 2 and refused >= 5 and batches >= 10, (applied, refused, batches)

    _, res = resources(a)
    assert res["records"] == m.recs, diff(m.recs, res["records"], "records")
    assert res["pools"] == m.pools, diff(m.pools, res["pools"], "pools")
    on_disk = file_doc(g)
    assert on_disk["records"] == m.recs and on_disk["pools"] == m.pools

    keys = [(n, t, None) for n in sorted(m.asked) + STATIC for t in ("A", "AAAA")]
    keys += [(n, "A", c) for n in sorted(m.asked) if n in m.recs and
             m.recs[n].get("select") == "hashed" for c in CLIENTS[1:]]
    inc = answers(g.port, keys)
    assert sum(v[0] == "NXDOMAIN" for v in inc.values()) < len(inc) // 2, "mostly NXDOMAIN"

    fresh = make_gtmd(lambda workdir, port: config_fn(on_disk["pools"], on_disk["records"])(
        workdir, port))
    fa = Admin.of(fresh)
    fa.wait_ready(timeout=30)
    _, fres = resources(fa)
    for part in ("records", "pools", "regions"):
        assert fres[part] == res[part], diff(res[part], fres[part], part)
    full = answers(fresh.port, keys)
    assert inc == full, diff(inc, full, "answers")

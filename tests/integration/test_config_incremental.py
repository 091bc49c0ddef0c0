"""Changes through the configuration API are applied incrementally (issue
#38): only what a change touches is rebuilt (config_delta.c: unchanged
zones are kept, not read again). These tests hold the incremental path to
the full one:

- random change sequences (records created, changed, deleted and renamed,
  pools changed, geo maps changed, pools in use deleted and records naming
  missing pools: refused) give, for every name, type and client, exactly
  the answers of a SIGHUP of the same file and of a fresh gtmd started on
  it;
- a change that fails validation leaves every answer and the version as
  they were;
- changes racing SIGHUPs are all kept, served and written;
- the probe state of untouched endpoints (state, rise/fall counters, last
  change) survives changes.

Real gtmd processes on loopback; answers read with dnspython over UDP."""
import json
import os
import re
import random
import shutil
import signal
import socket
import subprocess
import threading
import time

import dns.edns
import dns.flags
import dns.message
import dns.query
import dns.rcode
import dns.rdatatype
import pytest

import dnssec_zones
from adminlib import Admin, READ_TOKEN, admin_port, admin_section
from backends import poll
from conftest import DATA, GTMD, Gtmd, free_port, sanitizer_env

ZONE = """$ORIGIN inc.test.
$TTL 300
@ SOA ns1 hostmaster 7 3600 600 86400 60
@ NS ns1
ns1 A 192.0.2.53
www A 192.0.2.80
txt TXT "static"
*.wild A 192.0.2.99
a.b.deep A 192.0.2.81
"""
ZONE2 = """$ORIGIN two.test.
$TTL 300
@ SOA ns1 hostmaster 3 3600 600 86400 60
@ NS ns1
ns1 A 192.0.2.54
"""
REGIONS = ["a", "b", "c"]
CLIENTS = [None, "203.0.113.7", "198.51.100.77", "192.0.2.200"]


def pools():
    def addr_pool(prefix, six=False):
        return {"endpoints": [{"name": "e%d" % i,
                               "address": ("2001:db8:%x::%d" % (prefix, i + 1)) if six
                               else ("10.%d.0.%d" % (prefix, i + 1)), "region": r}
                              for i, r in enumerate(REGIONS)]}
    p = {"pa": addr_pool(1), "pb": addr_pool(2), "p6": addr_pool(6, six=True),
         "pc": {"endpoints": [{"name": "t%d" % i, "cname": "t%d.example.net." % i,
                               "region": r} for i, r in enumerate(REGIONS)]}}
    return p


def geo_map(rng):
    order = REGIONS[:]
    rng.shuffle(order)
    return {"network:203.0.113.0/24": [order[0], order[1]],
            "network:198.51.100.0/24": [order[1]],
            "default": [order[2], order[0]]}


def record(rng, pool=None):
    pool = pool or rng.choice(["pa", "pb", "p6", "pc"])
    kind = rng.choice(["failover", "all", "geo"]) if pool != "pc" else "failover"
    r = {"pool": pool, "ttl": rng.choice([10, 30, 60])}
    order = REGIONS[:]
    rng.shuffle(order)
    if kind == "failover":
        r.update(policy="failover", regions=order[:rng.choice([2, 3])])
    elif kind == "all":
        r.update(policy="all", select="all", answers=8)
    else:
        r.update(policy="geo", geo=geo_map(rng))
    return r


def config_fn(seed, signed=False):
    def fn(workdir, port):
        with open(os.path.join(workdir, "inc.test.zone"), "w") as f:
            f.write(ZONE)
        with open(os.path.join(workdir, "two.test.zone"), "w") as f:
            f.write(ZONE2)
        shutil.copy(os.path.join(DATA, "geo-city.mmdb"), workdir)
        rng = random.Random(seed)
        recs = {"r%d.inc.test." % i: record(rng) for i in range(24)}
        recs.update({"s%d.two.test." % i: record(rng) for i in range(6)})
        two = {"origin": "two.test.", "file": "two.test.zone"}
        if signed:  # signed at load: its policy answers are signed as they change
            two["dnssec"] = {"keys": [os.path.basename(dnssec_zones.keygen(workdir, "two.test.", k))
                                      for k in (True, False)], "denial": "nsec"}
        return {"listen": ["127.0.0.1:%d" % port], "workers": 1,
                "zones": [{"origin": "inc.test.", "file": "inc.test.zone"}, two],
                "geoip": {"database": "geo-city.mmdb"},
                "admin": admin_section(workdir, admin_port(port), audit=False),
                "config_api": {"history_dir": "history", "keep": 5},
                "regions": {r: {} for r in REGIONS}, "pools": pools(), "records": recs}
    return fn


def start(make_gtmd, seed=1, signed=False):
    g = make_gtmd(config_fn(seed, signed))
    a = Admin.of(g)
    a.wait_ready()
    return g, a


def ask(g, name, rdtype, client, do=False):
    opts = []
    if client:
        opts = [dns.edns.ECSOption(client, 32)]
    q = dns.message.make_query(name, rdtype, use_edns=0, options=opts, want_dnssec=do)
    for _ in range(5):
        try:
            return dns.query.udp(q, g.addr, port=g.port, timeout=1.0)
        except dns.exception.Timeout:
            continue
    raise AssertionError("no answer for %s %s" % (name, rdtype))


def view(r):
    """What must be the same: rcode, AA, every section's records (in any
    order: an "all" record's answers come in turns)."""
    def rdata(x):
        if x.rdtype == dns.rdatatype.RRSIG:  # signed at another time: not its times or bytes
            return "RRSIG %s %d %d %d %s %d" % (dns.rdatatype.to_text(x.type_covered), x.algorithm,
                                                x.labels, x.original_ttl, x.signer, x.key_tag)
        return x.to_text()

    def sec(s):
        return sorted((rr.name.to_text(), rr.ttl, rr.rdtype, tuple(sorted(rdata(x) for x in rr)))
                      for rr in s)
    return (dns.rcode.to_text(r.rcode()), bool(r.flags & dns.flags.AA), sec(r.answer),
            sec(r.authority))


def names_of(doc, extra):
    names = set(extra) | set(doc.get("records", {}))
    names |= {"www.inc.test.", "txt.inc.test.", "x.wild.inc.test.", "b.deep.inc.test.",
              "none.inc.test.", "inc.test.", "two.test.", "y.inc.test.", "z.y.inc.test."}
    return sorted(names)


def answers(g, names, do=False):
    out = {}
    for n in names:
        for t in ("A", "AAAA", "CNAME", "TXT") + (("NSEC",) if do else ()):
            for c in CLIENTS if t in ("A", "AAAA") else [None]:
                out[(n, t, c)] = view(ask(g, n, t, c, do))
    return out


def settled(g, want, signed, timeout=10.0):
    """The answers of g for want's keys, asked again (at most timeout) while
    some differ from want: signatures of policy answers in a zone signed at
    load are made by the health thread when a worker first asks for them
    (policy_sign.h), so right after a load an answer may go out unsigned."""
    got = {}
    deadline = time.monotonic() + timeout
    while True:
        keys = [k for k in want if got.get(k) != want[k]]
        for (n, t, c) in keys:
            got[(n, t, c)] = view(ask(g, n, t, c, signed))
        if all(got[k] == want[k] for k in want) or time.monotonic() > deadline:
            return got
        time.sleep(0.2)


def file_doc(g):
    """The configuration file once the writer has every version answered
    (a 201 is in the change journal at once, in the file a write later:
    the journal's version lines are gone then)."""
    d, n = os.path.split(g.conf_path)
    journal = os.path.join(d, "." + n + ".journal")
    deadline = time.monotonic() + 30  # the writer runs at nice 10: slow on a loaded machine
    while time.monotonic() < deadline:
        with open(journal) as f:
            if not [x for x in f if x.startswith('{"v"')]:
                break
        time.sleep(0.02)
    with open(g.conf_path) as f:
        return json.load(f)


def diff(a, b):
    bad = [k for k in a if a[k] != b.get(k)]
    return ["%s: %s != %s" % (k, a[k], b.get(k)) for k in bad[:5]]


def version(a):
    r = a.get("/v1/config", token=READ_TOKEN)
    assert r.status == 200, r
    return r.json["version"], r.json["resources"]


def reloads(g):
    return g.read_log().count("event=reload result=ok")


def sighup(g):
    before = reloads(g)
    g.signal(signal.SIGHUP)
    assert poll(lambda: reloads(g) > before, 30)[0], g.read_log()[-2000:]


def put(a, path, value):
    return a.call("PUT", "/v1/config/" + path, body=value, timeout=30)


def batch(a, changes):
    return a.post("/v1/config/changes", {"changes": changes}, timeout=30)


def random_change(rng, a, doc, seen):
    """One random change through the API; returns (response, whether it
    must be refused)."""
    recs = doc.get("records", {})
    op = rng.choice(["change", "create", "delete", "rename", "pool", "geo", "pool_in_use",
                     "missing_pool", "new_pool", "region"])
    names = sorted(recs)
    if op == "change" and names:
        n = rng.choice(names)
        return put(a, "records/" + n, record(rng)), False
    if op == "create" or (op in ("change", "delete", "rename") and not names):
        zone = rng.choice(["inc.test.", "two.test.", "y.inc.test."])
        n = "n%d.%s" % (rng.randrange(1000), zone)
        seen.add(n)
        return put(a, "records/" + n, record(rng)), False
    if op == "delete":
        return a.delete("/v1/config/records/" + rng.choice(names), timeout=30), False
    if op == "rename":
        old = rng.choice(names)
        new = "m%d.%s" % (rng.randrange(1000), rng.choice(["inc.test.", "two.test."]))
        seen.add(new)
        return batch(a, [{"op": "delete", "path": "records/" + old},
                         {"op": "put", "path": "records/" + new, "value": recs[old]}]), False
    if op == "pool":
        p = rng.choice(["pa", "pb"])
        eps = [{"name": "e%d" % i, "address": "10.%d.%d.%d" % (3 + i, rng.randrange(250), i + 1),
                "region": r} for i, r in enumerate(REGIONS) if rng.random() < 0.8 or i == 0]
        return put(a, "pools/" + p, {"endpoints": eps}), False
    if op == "geo":
        geos = [n for n in names if isinstance(recs[n], dict) and recs[n].get("policy") == "geo"]
        if not geos:
            return put(a, "records/g%d.inc.test." % rng.randrange(100),
                       dict(record(rng, "pa"), policy="geo", geo=geo_map(rng))), False
        n = rng.choice(geos)
        return put(a, "records/" + n, dict(recs[n], geo=geo_map(rng))), False
    if op == "region":  # regions change (added, or removed when unused): records compiled again
        regs = doc.get("regions", {})
        if "d" in regs:
            return a.delete("/v1/config/regions/d", timeout=30), False
        return put(a, "regions/d", {"location": [1.0, 2.0]}), False
    if op == "pool_in_use":
        used = sorted({r["pool"] for r in recs.values() if isinstance(r, dict)})
        if used:
            return a.delete("/v1/config/pools/" + rng.choice(used), timeout=30), True
    if op == "missing_pool" and names:
        return put(a, "records/" + rng.choice(names), {"pool": "nope", "ttl": 5}), True
    p = "q%d" % rng.randrange(100)
    n = "q%d.inc.test." % rng.randrange(100)
    seen.add(n)
    return batch(a, [{"op": "put", "path": "pools/" + p,
                      "value": {"endpoints": [{"name": "x", "address": "10.9.9.%d" %
                                               rng.randrange(1, 250), "region": "b"}]}},
                     {"op": "put", "path": "records/" + n,
                      "value": {"pool": p, "policy": "all", "select": "all"}}]), False


@pytest.mark.parametrize("seed,signed", [(11, False), (12, False), (13, True)])
def test_incremental_changes_answer_as_a_full_reload(make_gtmd, seed, signed):
    if signed and dnssec_zones.missing_tools():
        pytest.skip("needs %s (ldnsutils)" % dnssec_zones.missing_tools())
    g, a = start(make_gtmd, seed, signed)
    rng = random.Random(seed * 7919)
    seen = set()
    applied = refused = 0
    for step in range(14):
        v0, doc = version(a)
        r, must_refuse = random_change(rng, a, doc, seen)
        if must_refuse:
            assert r.status == 400 and r.json["error"]["code"] == "invalid", (step, r)
            assert version(a)[0] == v0
            refused += 1
            continue
        assert r.status in (200, 201), (step, r)
        applied += r.status == 201
    assert applied >= 5, "too few changes applied to compare anything"
    log = g.read_log()
    assert "zones_kept=2" in log or "zones_kept=1" in log, \
        "no change kept a zone: the incremental path was not taken"
    assert re.search(r"records_compiled=[0-2]\b", log), "no change reused the compiled records"
    _, doc = version(a)
    names = names_of(doc, seen)
    inc = answers(g, names, signed)
    for _ in range(10 if signed else 0):  # until the lazily made signatures are all there
        time.sleep(0.3)
        again = answers(g, names, signed)
        if again == inc:
            break
        inc = again
    if signed:  # the policy answers of the signed zone are signed, and the zone was kept
        assert any(k[0].endswith(".two.test.") and k[1] == "A" and dns.rdatatype.RRSIG in
                   [rr[2] for rr in v[2]] for k, v in inc.items()), "no signed policy answer"
        assert "zones_kept=2" in g.read_log(), "the signed zone was never kept"
    on_disk = file_doc(g)
    assert on_disk["records"] == doc["records"] and on_disk["pools"] == doc["pools"]
    # The same file, reloaded in full by the same process.
    sighup(g)
    full = settled(g, inc, signed)
    assert inc == full, diff(inc, full)
    # And by a fresh process.
    fresh = Gtmd(g.workdir, dict(on_disk, listen=["127.0.0.1:%d" % free_port()],
                                 admin=dict(on_disk["admin"], listen=[
                                     "127.0.0.1:%d" % free_port()])), 0)
    fresh.port = int(fresh.config["listen"][0].rsplit(":", 1)[1])
    fresh.conf_path = os.path.join(g.workdir, "fresh.json")
    fresh.log_path = os.path.join(g.workdir, "fresh.log")
    fresh.config["config_api"] = {"history_dir": "history-fresh", "keep": 5}
    fresh.start()
    try:
        new = settled(fresh, inc, signed)
    finally:
        fresh.stop()
    assert inc == new, diff(inc, new)


def test_refused_change_leaves_answers_and_version(make_gtmd):
    g, a = start(make_gtmd, 3)
    v0, doc = version(a)
    names = names_of(doc, [])
    before = answers(g, names)
    used = sorted({r["pool"] for r in doc["records"].values()})
    bad = [
        a.delete("/v1/config/pools/" + used[0]),
        put(a, "records/r1.inc.test.", {"pool": "nope"}),
        put(a, "records/r2.inc.test.", {"pool": "pa", "policy": "failover", "regions": ["zz"]}),
        put(a, "records/out.example.org.", {"pool": "pa", "policy": "all"}),
        batch(a, [{"op": "put", "path": "records/ok.inc.test.", "value": {"pool": "pa"}},
                  {"op": "delete", "path": "regions/a"}]),
    ]
    for r in bad:
        assert r.status == 400 and r.json["error"]["code"] == "invalid", r
        assert any("$." in e for e in r.json["error"]["errors"]), r.json
    assert any(e.startswith(g.conf_path + ': $.records["r1.inc.test."].pool: ')
               for e in bad[1].json["error"]["errors"]), bad[1].json
    assert version(a)[0] == v0
    assert answers(g, names) == before
    with open(g.conf_path) as f:
        assert json.load(f)["records"] == doc["records"]


@pytest.mark.threads
def test_changes_racing_sighup_are_all_kept(make_gtmd):
    g, a = start(make_gtmd, 5)
    v0, _ = version(a)
    n = 30
    errors = []

    def changer():
        for k in range(n):
            r = put(a, "records/race%d.inc.test." % k,
                    {"pool": "pa", "policy": "failover", "regions": ["b", "a"], "ttl": 7})
            if r.status != 201:
                errors.append(r)

    t = threading.Thread(target=changer)
    t.start()
    deadline = time.monotonic() + 60
    while t.is_alive() and time.monotonic() < deadline:
        g.signal(signal.SIGHUP)
        time.sleep(0.02)
    t.join(60)
    assert not t.is_alive() and not errors, errors[:3]
    assert version(a)[0] == v0 + n
    disk = file_doc(g)["records"]
    for k in range(n):
        name = "race%d.inc.test." % k
        assert name in disk
        assert [x.to_text() for x in ask(g, name, "A", None).answer] == [
            "%s 7 IN A 10.1.0.2" % name], k
    sighup(g)
    for k in range(n):
        assert ask(g, "race%d.inc.test." % k, "A", None).answer


def test_untouched_endpoints_keep_probe_state(make_gtmd):
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(64)
    port = listener.getsockname()[1]

    def fn(workdir, p):
        c = config_fn(9)(workdir, p)
        c["checks"] = {"tcp": {"type": "tcp", "port": port, "interval": 0.5, "timeout": 0.4,
                               "rise": 3, "fall": 3}}
        c["pools"]["pk"] = {"check": "tcp", "endpoints": [
            {"name": "k1", "address": "127.0.0.1", "region": "a"},
            {"name": "k2", "address": "127.0.0.1", "region": "b"}]}
        c["records"]["k.inc.test."] = {"pool": "pk", "policy": "all", "select": "all"}
        return c
    try:
        g = make_gtmd(fn)
        a = Admin.of(g)
        a.wait_ready()

        def eps():
            r = a.get("/v1/status", token=READ_TOKEN)
            assert r.status == 200, r
            return {"%s/%s" % (e["pool"], e["name"]): e
                    for reg in r.json["regions"] for e in reg["endpoints"]}

        def up():
            e = eps()
            return all(e[k]["state"]["effective"] == "up" for k in e if k.startswith("pk/")) and e
        first = poll(up, 20)[0]
        assert first, eps()
        keys = [k for k in first if k.startswith("pk/")]
        assert len(keys) == 2, keys
        time.sleep(1.2)  # a few probes more: counters move
        before = {k: v for k, v in eps().items() if k in keys}
        for k in range(5):
            r = put(a, "records/other%d.inc.test." % k, {"pool": "pa", "policy": "all"})
            assert r.status == 201, r
        r = put(a, "pools/pb", {"endpoints": [{"name": "e0", "address": "10.2.2.2",
                                               "region": "a"}]})
        assert r.status == 201, r
        after = {k: v for k, v in eps().items() if k in keys}
        for k in keys:
            b, c = before[k], after[k]
            assert c["state"]["effective"] == "up", c
            assert b["since"] == c["since"], (k, b, c)  # the last change stays
            assert c["probes"] >= b["probes"] and c["failures"] == b["failures"], (k, b, c)
        assert "prober_plan targets=2 kept=2" in g.read_log()
    finally:
        listener.close()


def test_reload_counts_what_a_change_changed(make_gtmd):
    """A change's reload says what it added, removed and changed (the
    answer's reload.changed and the log's event=reload): counted from the
    delta the change computed against the running document (config_delta.c,
    delta_members_known), not by walking the two documents again; a batch
    of each kind and a SIGHUP of an edited file (walked) count alike."""
    g, a = start(make_gtmd, 5)
    _, doc = version(a)
    recs = sorted(doc["records"])
    pool = doc["records"][recs[0]]["pool"]

    def counted(r):
        assert r.status == 201, r
        c = r.json["reload"]["changed"]
        return {k: (c[k]["added"], c[k]["removed"], c[k]["changed"])
                for k in ("records", "pools", "checks", "regions")}, c["names"]

    none = (0, 0, 0)
    c, names = counted(put(a, "records/new1.inc.test.", {"pool": pool, "policy": "all"}))
    assert c == {"records": (1, 0, 0), "pools": none, "checks": none, "regions": none}, c
    assert names == ["new1.inc.test."], names
    c, names = counted(put(a, "records/new1.inc.test.", {"pool": pool, "policy": "all", "ttl": 77}))
    assert c["records"] == (0, 0, 1) and names == ["new1.inc.test."], (c, names)
    c, names = counted(a.delete("/v1/config/records/" + recs[0], timeout=30))
    assert c["records"] == (0, 1, 0) and names == [recs[0]], (c, names)
    c, names = counted(batch(a, [
        {"op": "put", "path": "records/new2.inc.test.", "value": {"pool": pool, "policy": "all"}},
        {"op": "put", "path": "records/new1.inc.test.", "value": {"pool": pool, "policy": "all", "ttl": 78}},
        {"op": "delete", "path": "records/" + recs[1]},
        {"op": "put", "path": "regions/zz", "value": {}}]))
    assert c == {"records": (1, 1, 1), "pools": none, "checks": none,
                 "regions": (1, 0, 0)}, c
    assert sorted(names) == sorted(["new1.inc.test.", "new2.inc.test.", recs[1]]), names
    line = [ln for ln in g.read_log().splitlines() if "event=reload result=ok" in ln][-1]
    assert 'changed="records=+1-1~1 pools=+0-0~0 checks=+0-0~0 regions=+1-0~0' in line, line
    # A SIGHUP walks the documents: the same counts for the same edit (of
    # the file once the writer has written the last version behind).
    def written():
        with open(g.conf_path) as f:
            d = json.load(f)
        return d if "zz" in d.get("regions", {}) else None
    edited, _ = poll(written, 10, 0.05)
    assert edited, "the file never had the last version"
    edited["records"]["new3.inc.test."] = {"pool": pool, "policy": "all"}
    edited["records"]["new2.inc.test."] = {"pool": pool, "policy": "all", "ttl": 79}
    del edited["records"][recs[2]]
    edited["regions"]["zy"] = {}
    with open(g.conf_path, "w") as f:
        json.dump(edited, f)
    sighup(g)
    line = [ln for ln in g.read_log().splitlines() if "event=reload result=ok" in ln][-1]
    assert 'changed="records=+1-1~1 pools=+0-0~0 checks=+0-0~0 regions=+1-0~0' in line, line


def test_records_follow_pools_and_regions_that_move(make_gtmd):
    """A record not touched by a change is taken compiled from the running
    set only when what it points into did not move: here an unused pool
    and an unused region ahead of the used ones are deleted (the used ones
    move up a place), a record is changed, and every answer is still the
    one a full reload of the same file gives."""
    def fn(workdir, port):
        c = config_fn(21)(workdir, port)
        c["regions"] = dict([("z", {})] + list(c["regions"].items()))
        c["pools"] = dict([("pz", {"endpoints": [{"name": "z", "address": "10.99.0.1",
                                                   "region": "z"}]})] + list(c["pools"].items()))
        return c
    g = make_gtmd(fn)
    a = Admin.of(g)
    a.wait_ready()
    _, doc = version(a)
    names = names_of(doc, [])
    before = answers(g, names)
    assert a.delete("/v1/config/pools/pz", timeout=30).status == 201
    assert a.delete("/v1/config/regions/z", timeout=30).status == 201
    assert answers(g, names) == before, "deleting unused resources changed answers"
    r = put(a, "records/r1.inc.test.", {"pool": "pb", "policy": "all", "select": "all"})
    assert r.status == 201, r
    inc = answers(g, names)
    sighup(g)
    full = answers(g, names)
    assert inc == full, diff(inc, full)
    assert re.search(r"records_compiled=1\b", g.read_log()), "the last change compiled all"


def compiled_counts(g):
    return [int(x) for x in re.findall(r"records_compiled=(\d+)", g.read_log())]


def test_pool_rollout_keeps_records_compiled(make_gtmd):
    """A pool whose endpoints change where the pool keeps its place, the
    type it serves and its regions (an address or weight moved: a
    rollout) leaves its records compiled as they were (records_compiled
    0), and they answer from the new endpoints; an endpoint in a region
    the pool had none in compiles that pool's records again (a record
    without a region list takes the pool's regions), and only those. After
    each change every answer is the one a full reload of the same file
    gives."""
    g = make_gtmd(config_fn(31))
    a = Admin.of(g)
    a.wait_ready()
    _, doc = version(a)
    names = names_of(doc, [])
    n_pa = sum(1 for r in doc["records"].values() if r["pool"] == "pa")
    assert 0 < n_pa < len(doc["records"]), "the configuration needs records of pa and others"
    pa = doc["pools"]["pa"]
    moved = dict(pa, endpoints=[dict(e, address="10.1.7.%d" % (i + 1), weight=3)
                                for i, e in enumerate(pa["endpoints"])])
    assert put(a, "pools/pa", moved).status == 201
    assert compiled_counts(g)[-1] == 0, g.read_log()[-600:]
    inc = answers(g, names)
    assert any(v and "10.1.7." in str(v) for v in inc.values()), "pa's new addresses not served"
    # pa loses region c: its records (those without a region list take
    # the pool's regions) are compiled again, the others are not.
    fewer = dict(moved, endpoints=[e for e in moved["endpoints"] if e["region"] != "c"])
    assert put(a, "pools/pa", fewer).status == 201
    assert compiled_counts(g)[-1] == n_pa, (n_pa, g.read_log()[-600:])
    inc = answers(g, names)
    sighup(g)
    assert answers(g, names) == inc, "incremental and full reload differ"
def respawn(g):
    """Starts g's gtmd again on the file as it is (Gtmd.start would write
    the test's configuration over it)."""
    g.log = open(g.log_path, "ab")
    env = sanitizer_env(g.workdir)
    env.update(g.env or {})
    g.proc = subprocess.Popen([GTMD, "-c", g.conf_path], stderr=g.log, stdout=g.log, env=env,
                              preexec_fn=g.preexec)
    g.wait_ready(30)


def crash_burst(g, a, prefix, n, ttl=8):
    """n changes answered 201 (creates, then a change and a delete of
    records the configuration had), then SIGKILL right after the last
    answer: the names and what each must answer."""
    want = {}
    for k in range(n):
        name = "%s%d.inc.test." % (prefix, k)
        r = put(a, "records/" + name,
                {"pool": "pa", "policy": "failover", "regions": ["c", "a"], "ttl": 9})
        assert r.status == 201, r.json
        want[name] = ["%s 9 IN A 10.1.0.3" % name]
    r = put(a, "records/r1.inc.test.",
            {"pool": "pa", "policy": "failover", "regions": ["b"], "ttl": ttl})
    assert r.status == 201, r.json
    want["r1.inc.test."] = ["r1.inc.test. %d IN A 10.1.0.2" % ttl]
    gone = "r%d.inc.test." % (ttl - 6)
    r = a.call("DELETE", "/v1/config/records/" + gone, timeout=30)
    assert r.status == 201, r.json
    want[gone] = "NXDOMAIN"
    g.proc.send_signal(signal.SIGKILL)
    g.proc.wait(10)
    g.log.close()
    return want


def served_as(g, want):
    for name, w in want.items():
        r = ask(g, name, "A", None)
        got = dns.rcode.to_text(r.rcode()) if w == "NXDOMAIN" else [
            x.to_text() for x in r.answer]
        assert got == w, (name, got, w)


@pytest.mark.threads
def test_acknowledged_changes_survive_sigkill(make_gtmd):
    """A 201 is durable: the change journal is fdatasync'd before the
    answer; start-up replays what the file misses and writes into the
    history the versions it lacks. First with the writer unable to write
    the file (a directory where its temporary file goes: every version is
    only in the journal when gtmd is killed), then a burst killed while
    the writer runs."""
    g, a = start(make_gtmd, 21)
    v0, _ = version(a)
    blocker = "%s.tmp%d" % (g.conf_path, g.proc.pid)
    os.mkdir(blocker)
    with open(g.conf_path) as f:
        before = f.read()
    want = crash_burst(g, a, "crash", 20)
    os.rmdir(blocker)
    with open(g.conf_path) as f:
        assert f.read() == before  # nothing reached the file: only the journal has them
    respawn(g)
    assert "event=config_journal result=replayed" in g.read_log()
    served_as(g, want)
    a = Admin.of(g)
    v1, _ = version(a)
    assert v1 == v0 + 22
    with open(g.conf_path) as f:
        disk = json.load(f)
    assert "crash19.inc.test." in disk["records"] and "r2.inc.test." not in disk["records"]
    # The newest versions are in the history as whole documents, the one
    # before the delete with r2 still in it.
    r = a.get("/v1/config/history/%d" % v1, token=READ_TOKEN)
    assert r.status == 200 and r.json["resources"]["records"] == disk["records"], r.status
    r = a.get("/v1/config/history/%d" % (v1 - 1), token=READ_TOKEN)
    assert r.status == 200 and "r2.inc.test." in r.json["resources"]["records"]
    hist = os.path.join(g.workdir, "history")
    assert "%08d.json" % v1 in os.listdir(hist)
    # The second burst: the writer races the kill.
    want.update(crash_burst(g, a, "again", 30, ttl=9))
    respawn(g)
    served_as(g, want)
    a = Admin.of(g)
    v2 = version(a)[0]
    assert v2 == v1 + 32
    listed = [h["version"] for h in a.get("/v1/config/history", token=READ_TOKEN).json["versions"]]
    assert listed == list(range(v2, v2 - 5, -1)), listed


def test_journal_not_applied_over_a_hand_edited_file(make_gtmd):
    """After a crash, a file edited by hand is not one the journal knows:
    the journal is set aside, never applied over the edit."""
    g, a = start(make_gtmd, 22)
    blocker = "%s.tmp%d" % (g.conf_path, g.proc.pid)
    os.mkdir(blocker)
    crash_burst(g, a, "lost", 3)
    os.rmdir(blocker)
    with open(g.conf_path) as f:
        doc = json.load(f)
    doc["records"]["hand.inc.test."] = {"pool": "pa", "policy": "failover", "regions": ["a"],
                                        "ttl": 5}
    with open(g.conf_path, "w") as f:
        json.dump(doc, f)
    respawn(g)
    assert "event=config_journal result=set_aside" in g.read_log()
    served_as(g, {"hand.inc.test.": ["hand.inc.test. 5 IN A 10.1.0.1"],
                  "lost0.inc.test.": "NXDOMAIN"})
    d = os.path.dirname(g.conf_path)
    assert [x for x in os.listdir(d) if ".journal.stale-" in x]


def dir_size(path):
    """Octets of the files in path; a file the writer prunes between the
    listing and its stat counts as gone (the writer runs beside us)."""
    total = 0
    for e in os.scandir(path):
        try:
            total += e.stat().st_size
        except FileNotFoundError:
            pass
    return total


def test_history_levels_off_every_version_whole(make_gtmd):
    """Over many changes the history directory keeps `keep` versions,
    each the whole document the release before reads; every version
    answered is listed and reads back at once, exactly as it was made,
    whether or not the writer has written it yet."""
    g, a = start(make_gtmd, 23)
    hist = os.path.join(g.workdir, "history")
    sizes = []
    for k in range(240):
        r = put(a, "records/r%d.inc.test." % (k % 20),
                {"pool": "pa", "policy": "failover", "regions": [REGIONS[k % 3]], "ttl": 10 + k})
        assert r.status == 201, r.json
        v = r.json["version"]
        if k % 40 == 39:
            # At once: the last five versions listed and read back whole.
            listed = a.get("/v1/config/history", token=READ_TOKEN).json["versions"]
            assert [h["version"] for h in listed] == list(range(v, v - 5, -1)), listed
            for back in range(5):
                r = a.get("/v1/config/history/%d" % (v - back), token=READ_TOKEN)
                recs = r.json["resources"]["records"]
                kk = k - back
                assert r.status == 200 and recs["r%d.inc.test." % (kk % 20)]["ttl"] == 10 + kk
            sizes.append(dir_size(hist))
    with open(g.conf_path) as f:
        one = len(f.read())
    assert max(sizes) < 8 * one, (sizes, one)
    # Once the writer is done: five whole versions on disk, each the
    # document the API gives for it (the release before reads them so).
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        docs = sorted(x for x in os.listdir(hist) if x.endswith(".json")
                      and not x.endswith(".meta.json") and x[:8].isdigit())
        if len(docs) == 5 and docs[-1] == "%08d.json" % v:
            break
        time.sleep(0.1)
    assert docs == ["%08d.json" % x for x in range(v - 4, v + 1)], docs
    for name in docs:
        with open(os.path.join(hist, name)) as f:
            whole = json.load(f)
        with open(os.path.join(hist, name.replace(".json", ".meta.json"))) as f:
            assert json.load(f)["format"] == 1
        r = a.get("/v1/config/history/%d" % int(name[:8]), token=READ_TOKEN)
        assert whole["records"] == r.json["resources"]["records"]
    assert file_doc(g)["records"] == whole["records"]
    # Nobody edited the file: the writer never took its own write for a
    # hand edit (a stale stamp from the API did that, and left the file at
    # an old version and versions out of the history).
    assert "kept_edit" not in g.read_log(), g.read_log()[-2000:]

"""Configuration changes from clients that run at once (issue #38):
ExternalDNS, Terraform and an ACME client change different resources at
the same moment. Every change is made on the newest document where it is
applied, so none is refused for another's sake; the changes that queue
while a reload runs are served by one reload as one version (group
commit), whose history lists each change; a change that fails (a resource
that is not there, a record that would not load) is refused alone and the
others of its group still land. Against the real gtmd: every effect is
read from real DNS answers, the file on disk and the history."""
import json
import threading
import time

import pytest

from adminlib import READ_TOKEN, US_A, EU_A, AP_A, start
from backends import poll, query_addrs
from test_config_api import on_disk

FIRST = {"us": US_A, "eu": EU_A, "ap": AP_A}
ORDERS = (["eu", "us"], ["ap", "eu"], ["us", "ap"])
EXTRA = 3000  # records beside the test set: a reload takes a few ms, so changes queue


def big_history(c, workdir):
    c["config_api"] = {"history_dir": "history", "keep": 400}
    for i in range(EXTRA):
        c["records"]["x%d.example.com." % i] = {"pool": "web", "policy": "failover",
                                                 "regions": ["us", "eu"]}


@pytest.fixture
def srv(make_gtmd):
    return start(make_gtmd, mutate=big_history)


def run_at_once(jobs):
    """Runs each job (a callable) on its own thread, all released at once;
    their results in order. Bounded: every thread is joined within 60 s."""
    out = [None] * len(jobs)
    gate = threading.Barrier(len(jobs))

    def one(i):
        gate.wait(10)
        out[i] = jobs[i]()
    ts = [threading.Thread(target=one, args=(i,)) for i in range(len(jobs))]
    for t in ts:
        t.start()
    for t in ts:
        t.join(60)
        assert not t.is_alive()
    return out


@pytest.mark.threads
def test_concurrent_clients_each_land_grouped_in_versions(srv):
    g, a = srv
    v0 = a.get("/v1/config", token=READ_TOKEN).json["version"]
    want = {}

    def writer(k):
        def run():
            got = []
            for j in range(6):
                name = "c%d-%d.example.com." % (k, j)
                regions = ORDERS[(k + j) % 3]
                # Correctness, not speed: 13 clients at once under
                # ThreadSanitizer beside other tests waited past 5 s once.
                r = a.call("PUT", "/v1/config/records/" + name, timeout=30.0,
                           body={"pool": "web", "policy": "failover", "regions": regions})
                got.append((name, regions, r.status, r.json))
            return got
        return run

    def bad():
        got = []
        for j in range(3):
            r = a.call("DELETE", "/v1/config/records/gone%d.example.com." % j, timeout=30.0)
            got.append(("missing", r.status, r.json))
            r = a.call("PUT", "/v1/config/records/bad%d.example.com." % j, timeout=30.0,
                       body={"pool": "nopool", "policy": "all"})
            got.append(("invalid", r.status, r.json))
        return got

    results = run_at_once([writer(k) for k in range(12)] + [bad])
    versions = {}
    for got in results[:-1]:
        for name, regions, st, body in got:
            assert st == 201 and body["applied"], (name, st, body)
            assert body["change"] == "create records " + name, body
            versions.setdefault(body["version"], []).append(name)
            want[name] = FIRST[regions[0]]
    for what, st, body in results[-1]:
        if what == "missing":
            assert st == 404 and body["error"]["code"] == "not_found", body
        else:
            assert st == 400 and body["error"]["code"] == "invalid", body
            assert any("nopool" in json.dumps(e) for e in body["error"]["errors"]), body
    # 72 changes; the ones that queued behind a reload shared its version.
    assert sum(len(v) for v in versions.values()) == 72
    assert len(versions) < 72, versions
    assert min(versions) > v0
    # Every change is served and written; the refused ones are nowhere.
    for name, addrs in want.items():
        assert poll(lambda: query_addrs(g, name) == addrs, 5)[0], name
    recs = on_disk(g)["records"]
    assert all(n in recs for n in want) and not any(n.startswith("bad") for n in recs)
    assert a.get("/v1/config", token=READ_TOKEN).json["version"] == max(versions)
    # The history: a version of several changes lists each with its author.
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        hist = {m["version"]: m for m in
                a.get("/v1/config/history", token=READ_TOKEN).json["versions"]}
        if all(v in hist for v in versions):
            break
        time.sleep(0.1)
    for v, names in versions.items():
        m = hist[v]
        if len(names) == 1:
            assert m["change"] == "create records " + names[0] and "changes" not in m, m
        else:
            listed = sorted(x["change"] for x in m["changes"])
            assert listed == sorted("create records " + n for n in names), (v, m)
            assert all(x["author"] == "operate" for x in m["changes"]), m
            assert m["change"].startswith("%d changes: " % len(names)), m
    print("\nFIGURE concurrent clients: 72 changes from 12 clients in %d versions" %
          len(versions))


def test_an_edit_that_fails_leaves_its_group_whole(srv):
    """A batch whose last item fails is refused whole while the changes
    around it land: its first items, made on the shared copy, are put back
    (a pool's endpoint added, a kind it created)."""
    g, a = srv

    def good(k, regions):
        return lambda: a.call("PUT", "/v1/config/records/g%d.example.com." % k,
                              body={"pool": "web", "policy": "failover", "regions": regions})

    def batch():
        return a.post("/v1/config/changes", {"changes": [
            {"op": "put", "path": "pools/web/endpoints/w9",
             "value": {"address": "192.0.2.99", "region": "us"}},
            {"op": "put", "path": "records/half.example.com.",
             "value": {"pool": "web", "policy": "all"}},
            {"op": "delete", "path": "records/none.example.com."}]})

    for regions in ORDERS:
        out = run_at_once([good(k, regions) for k in range(6)] + [batch])
        assert all(r.status == 201 for r in out[:-1]), [r.json for r in out[:-1]]
        assert out[-1].status == 400 and "$.changes[2]" in out[-1].json["error"]["message"], \
            out[-1].json
    conf = on_disk(g)
    assert "half.example.com." not in conf["records"]
    assert "w9" not in [e["name"] for e in conf["pools"]["web"]["endpoints"]]
    assert query_addrs(g, "half.example.com.") == []
    for k in range(6):
        assert query_addrs(g, "g%d.example.com." % k) == FIRST[ORDERS[-1][0]]


HP_US = sorted(["192.0.2.31", "192.0.2.32", "192.0.2.33"])  # pool hp (adminlib)
HP_EU = sorted(["198.51.100.31", "198.51.100.32"])


@pytest.mark.threads
def test_changes_under_query_load_are_served_whole(srv):
    """Clients change records one at a time while other names are asked
    without pause (sustain_bench.py in small): each change is served when
    its 201 comes (asked at once, the new answer), no answer mixes two
    versions of a record (all of one region's addresses or all of the
    other's), and no query goes unanswered. The records answer several
    addresses of their first region, so a mix would show."""
    g, a = srv
    names = ["m%d.example.com." % i for i in range(16)]
    first = {}
    for n in names:
        r = a.call("PUT", "/v1/config/records/" + n,
                   body={"pool": "hp", "policy": "failover", "regions": ["us", "eu"]})
        assert r.status == 201, r.json
        first[n] = "us"
    stop = time.monotonic() + 4
    lock = threading.Lock()
    seen = {"changes": 0, "refused": [], "stale": [], "mixed": [], "asked": 0,
            "unanswered": 0}

    def client(k):
        def run():
            mine, m = names[k::4], 0
            while time.monotonic() < stop and m < 400:
                n = mine[m % len(mine)]
                m += 1
                new = "eu" if first[n] == "us" else "us"
                r = a.call("PUT", "/v1/config/records/" + n,
                           body={"pool": "hp", "policy": "failover",
                                 "regions": [new, "us" if new == "eu" else "eu"]})
                got = query_addrs(g, n, timeout=2) if r.status == 201 else None
                with lock:
                    if r.status != 201:
                        seen["refused"].append((n, r.status, r.json))
                        return
                    first[n] = new
                    seen["changes"] += 1
                    if got != (HP_US if new == "us" else HP_EU):
                        seen["stale"].append((n, new, got))
        return run

    def checker():
        k = 0
        while time.monotonic() < stop and k < 20000:
            n = names[k % len(names)]
            k += 1
            got = query_addrs(g, n, timeout=2)
            with lock:
                seen["asked"] += 1
                if got is None:
                    seen["unanswered"] += 1
                elif got not in (HP_US, HP_EU):
                    seen["mixed"].append((n, got))

    run_at_once([client(k) for k in range(4)] + [checker, checker])
    assert not seen["refused"], seen["refused"][:5]
    assert seen["changes"] >= 20 and seen["asked"] >= 100, seen
    assert not seen["stale"], seen["stale"][:5]
    assert not seen["mixed"], seen["mixed"][:5]
    assert seen["unanswered"] == 0, seen
    for n in names:
        assert query_addrs(g, n) == (HP_US if first[n] == "us" else HP_EU), n
    print("\nFIGURE changes under query load: %d changes read back, %d answers checked" %
          (seen["changes"], seen["asked"]))

"""Rolling upgrades (issue #39, item 3; doc/fleet.md, "Upgrading: version
skew"): a 3-node fleet on the previous release's gtmd (built from its
commit, recorded in tests/data/previous-release: previous_release.py) is
upgraded to the gtmd under test one node at a time while every node is
queried every 20-50 ms; every answer must be the one expected (an override
and a live drill made before the upgrade keep applying on every node, old
and new), the override and the drill stay listed on every node, and no node
refuses another's records. Once every node is upgraded the fleet writes
this release's record format, a new override made through a node is served
by all, and a backend killed at the end fails over on all. With and without
"members" (signed records: the previous release verifies what a new node
signs).

Then what is outside the rule is refused, with a clear error: a fleet
record of a format past the window (new_format, counted and logged), a
state file and a configuration history of a newer format (gtmd does not
start, and leaves them as they are); and what is inside it works both
ways: the previous release starts on the state file and history the new
one wrote and keeps its override. A node rolled back to the previous
release after the fleet moved to the new format refuses the records made
since (that release's old_format) and brings the fleet's write format back
down for what is made after.

Needs etcd, git history (or tests/data/previous-release.tar) and the
previous release's build dependencies (the same as this one's); every wait
is bounded."""
import base64
import json
import os
import random
import subprocess
import tempfile
import threading
import time

import pytest

import previous_release
from backends import free_port_on, poll, query_addrs
from conftest import GTMD, free_port, sanitizer_env
from fleetlib import (Backend, EtcdCluster, Node, fleet_config, http_json, made,  # noqa: F401
                      member_keys, need_etcd)  # made: a fixture

pytestmark = pytest.mark.skipif(need_etcd() is not None, reason=need_etcd() or "")

# Endpoints (each its own region and loopback address) and the records.
ADDRS = {"us": "127.0.0.31", "eu": "127.0.0.32", "ap": "127.0.0.33", "sa": "127.0.0.34",
         "af": "127.0.0.35", "me": "127.0.0.36", "na": "127.0.0.37"}
RECORDS = {"app.example.com.": ["us", "eu"],   # override us1 down before the upgrade
           "api.example.com.": ["ap", "sa"],   # live drill of ap before the upgrade
           "web.example.com.": ["af", "me"],   # override af1 down after it
           "ftp.example.com.": ["na", "sa"]}   # na's backend killed at the end
NAMES = sorted(RECORDS)


@pytest.fixture(scope="module")
def old_gtmd():
    path, why = previous_release.gtmd()
    if not path and os.environ.get("GTM_DEPS_STRICT") == "1":
        # CI (tests/fresh/run.sh) provides the source: never a silent skip.
        pytest.fail("GTM_DEPS_STRICT=1: " + why, pytrace=False)
    if not path:
        pytest.skip(why)
    return path


@pytest.fixture(scope="module")
def etcd():
    c = EtcdCluster(1).start()
    yield c
    c.stop()


@pytest.fixture(scope="module")
def keys():
    yield from member_keys(("n1", "n2", "n3"))


@pytest.fixture
def backends():
    port = free_port_on(list(ADDRS.values()))
    bs = {r: Backend(a, port).start() for r, a in ADDRS.items()}
    yield bs, port
    for b in bs.values():
        b.stop()


class Versioned(Node):
    """A fleet node whose binary can change between runs (same directory,
    configuration and state file)."""

    binary = GTMD

    def start(self, wait=True):
        if os.path.exists(self.conf_path):  # the fleet's configuration writes it
            with open(self.conf_path) as f:
                self.config = json.load(f)
        self.write_config()
        self.log = open(self.log_path, "ab")
        self.proc = subprocess.Popen([self.binary, "-c", self.conf_path] + self.args,
                                     stderr=self.log, stdout=self.log,
                                     env=sanitizer_env(self.workdir))
        if wait:
            self.wait_ready(timeout=30)
        return self

    def stop(self):
        rc = super().stop()
        self.proc = None
        return rc


def config_fn(etcd_urls, i, port, prefix, keys, extra=None, shared=False):
    base = fleet_config(etcd_urls, "n%d" % i, "127.0.0.2%d" % i, port, prefix=prefix,
                        **(extra or {}))

    def fn(workdir, dns_port):
        c = base(workdir, dns_port)
        c["regions"] = {r: {} for r in ADDRS}
        c["pools"] = {"web": {"check": "web", "endpoints": [
            {"name": r + "1", "address": a, "region": r} for r, a in ADDRS.items()]}}
        c["records"] = {n: {"pool": "web", "ttl": 10, "policy": "failover", "regions": rs}
                        for n, rs in RECORDS.items()}
        c["config_api"] = {"history_dir": "history"}
        if shared:  # one configuration for the fleet, versions in etcd
            c["config_api"]["fleet"] = True
        return c
    return fn


def fleet(made, etcd, port, binary, prefix, keys=None, count=3, shared=False):
    nodes = []
    for i in range(1, count + 1):
        extra = {}
        if keys:
            extra = {"key_file": keys["n%d" % i][0],
                     "members": {n: keys[n][1] for n in ("n1", "n2", "n3")}}
        workdir = tempfile.mkdtemp(prefix="gtmd-upgrade-")
        dport = free_port()
        g = Versioned(workdir, config_fn(etcd.urls, i, port, prefix, keys, extra,
                                         shared)(workdir, dport), dport)
        g.binary = binary
        made.append(g)
        nodes.append(g.start())
    return nodes


def expected(overridden=(), drilled=(), down=()):
    """{name: [address]} the failover records answer: the first region of
    each record that is not overridden down, drilled or dead."""
    out = {}
    for n, rs in RECORDS.items():
        live = [r for r in rs if r not in overridden and r not in drilled and r not in down]
        out[n] = [ADDRS[live[0]]]
    return out


class Load:
    """Queries every running node every 20-50 ms (one of the names in turn)
    and records every answer that is not one of those allowed now."""

    def __init__(self, nodes, allowed):
        self.nodes = nodes
        self.lock = threading.Lock()
        self.allowed = {n: [allowed[n]] for n in NAMES}  # name -> the answers allowed now
        self.error = None  # what stopped the thread, if anything did
        self.up = set(range(len(nodes)))
        self.wrong = []
        self.timeouts = 0
        self.answers = 0
        self.stopping = threading.Event()
        self.thread = threading.Thread(target=self.run, daemon=True)

    def allow(self, *answer_maps):
        with self.lock:
            self.allowed = {n: [m[n] for m in answer_maps] for n in NAMES}

    def node_up(self, i, up):
        with self.lock:
            if up:
                self.up.add(i)
            else:
                self.up.discard(i)

    def run(self):
        try:
            self.loop()
        except Exception as e:  # noqa: BLE001 -- reported by the test
            self.error = repr(e)

    def loop(self):
        k = 0
        deadline = time.monotonic() + 900  # bounded, whatever the test does
        while not self.stopping.is_set() and time.monotonic() < deadline:
            for i, g in enumerate(self.nodes):
                with self.lock:
                    if i not in self.up:
                        continue
                name = NAMES[k % len(NAMES)]
                got = query_addrs(g, name, timeout=0.5)
                with self.lock:
                    if i not in self.up:
                        continue  # stopped while the query was in flight
                    if got is None:
                        self.timeouts += 1
                        continue
                    self.answers += 1
                    if got not in self.allowed[name]:
                        self.wrong.append((time.monotonic(), "n%d" % (i + 1), name, got,
                                           self.allowed[name]))
            k += 1
            self.stopping.wait(random.uniform(0.02, 0.05))

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        alive = self.thread.is_alive()
        self.stopping.set()
        self.thread.join(10)
        assert alive and self.error is None, "the query load stopped: %s" % self.error


def all_answer(nodes, want, timeout=15):
    ok, _ = poll(lambda: all(query_addrs(g, n) == want[n] for g in nodes for n in NAMES),
                 timeout, 0.1)
    assert ok, [(g.workdir, {n: query_addrs(g, n) for n in NAMES}) for g in nodes]


def listed(g, ovr_ids, drill_id):
    st, o = g.get("/v1/overrides")
    st2, d = g.get("/v1/drills")
    if st != 200 or st2 != 200:
        return False
    have = {x["id"] for x in o["overrides"]}
    active = {x["id"] for x in d.get("active", [])}
    return set(ovr_ids) <= have and drill_id in active


def log_now():
    """The time now as gtmd's log lines begin (UTC, milliseconds)."""
    t = time.time()
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(t)) + ".%03dZ" % (int(t * 1000) % 1000)


def log_field(line, name):
    for part in line.split():
        if part.startswith(name + "="):
            return part[len(name) + 1:]
    return None


def added_rejections(nodes, since, upgraded):
    """The fleet_rejected lines the nodes logged from since on that the
    upgrade added. A replay of a record signed by a node still on the
    release before (or before it was upgraded, upgraded[name]) is that
    release's: it can have two puts of its node record in flight at once
    (d8d08ba lets one out at a time since), and the one applied last may be
    the older, at start or whenever its periodic put meets another one."""
    out = []
    for x in nodes:
        for ln in x.read_log().splitlines():
            if "event=fleet_rejected" not in ln or ln[:24] < since:
                continue
            signer = log_field(ln, "signer")
            if log_field(ln, "why") == "replay" and ln[:24] < upgraded.get(signer, "~"):
                continue
            out.append(ln)
    return out


def put_record(g, name, regions):
    """A record added through g's configuration API (the fleet's, shared)."""
    body = {"pool": "web", "ttl": 10, "policy": "failover", "regions": regions}
    return http_json(g.admin + "/v1/config/records/" + name, body, method="PUT", timeout=30,
                     headers=g.AUTH)


def same_config(nodes):
    """Every node serves the same fleet configuration version (> 0)."""
    vs = set()
    for g in nodes:
        f = g.fleet()
        me = [x for x in (f or {}).get("nodes", []) if x["self"]]
        vs.add(me[0].get("config_version") if me else None)
    return len(vs) == 1 and None not in vs and 0 not in vs


def synced_with_all(g):
    f = g.fleet()
    return (f and f["connection"] == "synced" and
            sorted(x["name"] for x in f["nodes"] if x["live"]) == ["n1", "n2", "n3"])


@pytest.mark.parametrize("signed", [True, False], ids=["members", "unsigned"])
def test_rolling_upgrade_under_load(old_gtmd, etcd, keys, backends, made, signed):
    bs, port = backends
    prefix = "/gtmd/up-%s/" % ("s" if signed else "u")
    nodes = fleet(made, etcd, port, old_gtmd, prefix, keys if signed else None, shared=True)
    ok, _ = poll(lambda: all(synced_with_all(g) for g in nodes) and same_config(nodes), 30, 0.2)
    assert ok, [g.fleet() for g in nodes]
    # What the upgrade must not add is counted from here (added_rejections:
    # not the release before's own replays).
    since, upgraded = log_now(), {}
    # A configuration change on the previous release: served by all.
    st, body = put_record(nodes[0], "cfg1.example.com.", ["eu", "us"])
    assert st in (200, 201), body
    ok, _ = poll(lambda: all(query_addrs(g, "cfg1.example.com.") == [ADDRS["eu"]]
                             for g in nodes), 15, 0.1)
    assert ok
    assert all("compat" not in g.fleet() for g in nodes)  # the previous release's status
    normal = expected()
    all_answer(nodes, normal)
    with Load(nodes, normal) as load:
        # Before the upgrade, on the previous release: an override (us1
        # down) through n1 and a live drill of ap through n2.
        after = expected(overridden=("us",), drilled=("ap",))
        load.allow(normal, expected(overridden=("us",)), after, expected(drilled=("ap",)))
        st, ovr = nodes[0].post("/v1/overrides", {"target": "endpoint:web/us1",
                                                  "state": "down", "reason": "before upgrade"})
        assert st == 201, ovr
        st, drl = nodes[1].post("/v1/drills", {"regions": ["ap"], "mode": "live",
                                               "duration": 900, "reason": "before upgrade"})
        assert st == 201, drl
        all_answer(nodes, after)
        load.allow(after)
        ok, _ = poll(lambda: all(listed(g, [ovr["id"]], drl["id"]) for g in nodes), 10, 0.2)
        assert ok
        time.sleep(2)
        # Node by node: stop, start the new gtmd on the same directory.
        for i, g in enumerate(nodes):
            load.node_up(i, False)
            g.stop()
            g.binary = GTMD
            upgraded["n%d" % (i + 1)] = log_now()
            g.start()
            load.node_up(i, True)
            ok, _ = poll(lambda: all(synced_with_all(x) for x in nodes) and same_config(nodes),
                         30, 0.2)
            assert ok, [x.fleet() for x in nodes]
            assert query_addrs(g, "cfg1.example.com.") == [ADDRS["eu"]]
            ok, _ = poll(lambda: all(listed(x, [ovr["id"]], drl["id"]) for x in nodes), 10, 0.2)
            assert ok, [(x.get("/v1/overrides"), x.get("/v1/drills")) for x in nodes]
            assert [("compat" in x.fleet()) for x in nodes] == [j <= i for j in range(3)]
            compat = g.fleet()["compat"]
            if i < 2:  # an old member is left: the fleet writes its format
                assert compat["write_format"] == 2, compat
                assert compat["held_by"] in ["n%d" % j for j in range(i + 2, 4)], compat
            time.sleep(3)  # the mixed fleet under load, old nodes reading new records
            added = added_rejections(nodes, since, upgraded)
            assert added == [], added[-5:]
            assert load.wrong == [], load.wrong[:10]
        # Every node upgraded: the fleet writes format 3.
        ok, _ = poll(lambda: all(x.fleet()["compat"]["write_format"] == 3 and
                                 x.fleet()["compat"]["held_by"] is None for x in nodes), 10, 0.2)
        assert ok, [x.fleet()["compat"] for x in nodes]
        # A configuration change through n2, and a new override through n3,
        # are served by all; their records are in format 3.
        st, body = put_record(nodes[1], "cfg2.example.com.", ["sa", "us"])
        assert st in (200, 201), body
        ok, _ = poll(lambda: all(query_addrs(x, "cfg2.example.com.") == [ADDRS["sa"]]
                                 for x in nodes) and same_config(nodes), 15, 0.1)
        assert ok, [x.fleet()["nodes"] for x in nodes]
        head = json.loads(etcd.get_prefix(prefix + "config/head")[prefix + "config/head"])
        assert head["format"] == 3, head
        done = expected(overridden=("us", "af"), drilled=("ap",))
        load.allow(after, done)
        st, ovr2 = nodes[2].post("/v1/overrides", {"target": "endpoint:web/af1",
                                                   "state": "down", "reason": "after upgrade"})
        assert st == 201, ovr2
        all_answer(nodes, done, timeout=10)
        load.allow(done)
        rec = json.loads(etcd.get_prefix(prefix + "overrides/")[prefix + "overrides/" +
                                                                 ovr2["id"]])
        assert rec["format"] == 3, rec
        # A backend killed: ftp fails over from na to sa on every node.
        killed = expected(overridden=("us", "af"), drilled=("ap",), down=("na",))
        load.allow(done, killed)
        bs["na"].stop()
        all_answer(nodes, killed, timeout=15)
        load.allow(killed)
        time.sleep(1)
        added = added_rejections(nodes, since, upgraded)
        assert added == [], added[-5:]
    assert load.wrong == [], load.wrong[:10]
    assert load.answers > 300, load.answers
    # A query that timed out is no wrong answer, but a loaded machine's
    # share of them stays small.
    assert load.timeouts < load.answers * 0.05, (load.timeouts, load.answers)
    print("answers %d, timeouts %d, wrong 0" % (load.answers, load.timeouts))


def test_rollback_after_the_fleet_moved_on(old_gtmd, etcd, keys, backends, made):
    """Past the rule: the fleet writes format 3 once every member runs the
    new release; a node started on the previous release then refuses the
    records made since (its own old_format, counted), and the fleet's
    write format goes back to 2 for what is made after, which it applies."""
    bs, port = backends
    prefix = "/gtmd/up-rb/"
    nodes = fleet(made, etcd, port, GTMD, prefix, keys)
    ok, _ = poll(lambda: all(synced_with_all(g) and g.fleet()["compat"]["write_format"] == 3
                             for g in nodes), 30, 0.2)
    assert ok, [g.fleet() for g in nodes]
    st, o3 = nodes[0].post("/v1/overrides", {"target": "endpoint:web/us1", "state": "down",
                                             "reason": "format 3"})
    assert st == 201, o3
    all_answer(nodes, expected(overridden=("us",)))
    n3 = nodes[2]
    n3.stop()
    n3.binary = old_gtmd
    n3.start()
    ok, _ = poll(lambda: (n3.fleet() or {}).get("rejected", {}).get("old_format", 0) >= 1, 15,
                 0.2)
    assert ok, n3.fleet()
    assert "record format unknown is not 2" in n3.read_log()
    # The new nodes see n3 announce format 2: they write 2 again.
    ok, _ = poll(lambda: all(g.fleet()["compat"]["write_format"] == 2 and
                             g.fleet()["compat"]["held_by"] == "n3" for g in nodes[:2]), 15, 0.2)
    assert ok, [g.fleet()["compat"] for g in nodes[:2]]
    st, o2 = nodes[1].post("/v1/overrides", {"target": "endpoint:web/af1", "state": "down",
                                             "reason": "format 2 again"})
    assert st == 201, o2
    ok, _ = poll(lambda: query_addrs(n3, "web.example.com.") == [ADDRS["me"]], 10, 0.1)
    assert ok, query_addrs(n3, "web.example.com.")


def test_record_past_the_window_is_refused(etcd, backends, made):
    """A record of a format two releases ahead (a downgrade past the rule):
    refused as new_format with both formats named, counted and logged; the
    answer stays."""
    bs, port = backends
    prefix = "/gtmd/up-far/"
    g = fleet(made, etcd, port, GTMD, prefix, count=1)[0]
    all_answer([g], expected())
    rec = {"id": "ovr-77", "target": "endpoint:web/us1", "state": "down", "reason": "far",
           "author": "x", "created": time.time(), "expires": None, "node": "n9",
           "role": "operate", "force": False, "format": 5}
    st, _ = http_json(etcd.urls[0] + "/v3/kv/put",
                      {"key": base64.b64encode((prefix + "overrides/ovr-77").encode()).decode(),
                       "value": base64.b64encode(json.dumps(rec).encode()).decode()})
    assert st == 200
    ok, _ = poll(lambda: g.fleet()["rejected"].get("new_format", 0) >= 1, 10, 0.1)
    assert ok, g.fleet()["rejected"]
    # The count moves before the line is written: wait for the line too.
    poll(lambda: "why=new_format" in g.read_log(), 5, 0.05)
    log = g.read_log()
    assert "why=new_format" in log and "record format 5 is newer than this gtmd reads " \
        "(formats 2 to 4" in log, log[-3000:]
    assert query_addrs(g, "app.example.com.") == [ADDRS["us"]]
    # Fields it does not know, in a record within the window, are ignored.
    rec.update({"id": "ovr-78", "format": 4, "a_field_of_format_4": {"x": 1}})
    st, _ = http_json(etcd.urls[0] + "/v3/kv/put",
                      {"key": base64.b64encode((prefix + "overrides/ovr-78").encode()).decode(),
                       "value": base64.b64encode(json.dumps(rec).encode()).decode()})
    assert st == 200
    ok, _ = poll(lambda: query_addrs(g, "app.example.com.") == [ADDRS["eu"]], 10, 0.1)
    assert ok, g.read_log()[-2000:]


def single(binary, port):
    """A gtmd alone (no fleet) with a state file and a configuration
    history, in a directory of its own."""
    workdir = tempfile.mkdtemp(prefix="gtmd-upgrade-single-")
    dport = free_port()
    c = config_fn([], 1, port, "/x/", None)(workdir, dport)
    del c["fleet"]
    g = Versioned(workdir, c, dport)
    g.binary = binary
    return g


def test_state_and_history_both_ways(old_gtmd, backends, made):
    """Within the rule: the previous release starts on the state file and
    history this one wrote and keeps the override; past it: a state file or
    history of a newer format stops the start with a clear error, and is
    left as it was."""
    bs, port = backends
    g = single(GTMD, port)
    workdir = g.workdir
    made.append(g)
    g.start()
    st, o = g.post("/v1/overrides", {"target": "endpoint:web/us1", "state": "down",
                                     "reason": "kept"})
    assert st == 201, o
    # A burst of changes: answered before the file and the history are
    # written (config_store.h); the stop writes what is owed.
    made_v = {}
    for k in range(12):
        name = "burst%d.example.com." % k
        st, r = g.post("/v1/config/changes", {"changes": [
            {"op": "put", "path": "records/" + name,
             "value": {"pool": "web", "ttl": 10 + k, "policy": "failover",
                       "regions": ["eu", "us"]}}]})
        assert st == 201, r
        made_v[r["version"]] = name
    g.stop()
    state = os.path.join(workdir, "state.json")
    with open(state) as f:
        assert json.load(f)["version"] == 1
    hist = os.path.join(workdir, "history")
    metas = sorted(x for x in os.listdir(hist) if x.endswith(".meta.json"))
    assert metas, os.listdir(hist)
    with open(os.path.join(hist, metas[-1])) as f:
        assert json.load(f)["format"] == 1
    # The previous release on this one's files: starts, the override holds.
    g.binary = old_gtmd
    g.start()
    assert query_addrs(g, "app.example.com.") == [ADDRS["eu"]]
    st, lst = g.get("/v1/overrides")
    assert o["id"] in [x["id"] for x in lst["overrides"]]
    # ... and lists every version this one answered, each readable whole.
    st, hist_list = g.get("/v1/config/history")
    listed = [h["version"] for h in hist_list["versions"]]
    assert st == 200 and set(made_v) <= set(listed), (listed, sorted(made_v))
    for v, name in made_v.items():
        st, doc = g.get("/v1/config/history/%d" % v)
        assert st == 200 and name in doc["resources"]["records"], (v, st)
        assert "burst%d.example.com." % (int(name[5:-13]) + 1) not in doc["resources"]["records"]
    assert query_addrs(g, "burst11.example.com.") == [ADDRS["eu"]]
    g.stop()
    # A state file of format 3: refused, and left as it is.
    g.binary = GTMD
    with open(state) as f:
        doc = json.load(f)
    doc["version"] = 3
    text = json.dumps(doc)
    with open(state, "w") as f:
        f.write(text)
    with pytest.raises(RuntimeError) as e:
        g.start()
    assert "state file of format 3: this gtmd reads formats 1 to 2" in str(e.value), str(e.value)
    g.proc.wait(10)
    assert g.proc.returncode != 0
    with open(state) as f:
        assert f.read() == text
    doc["version"] = 1
    with open(state, "w") as f:
        json.dump(doc, f)
    # A history of format 3: refused.
    with open(os.path.join(hist, metas[-1])) as f:
        m = json.load(f)
    m["format"] = 3
    with open(os.path.join(hist, metas[-1]), "w") as f:
        json.dump(m, f)
    with pytest.raises(RuntimeError) as e:
        g.start()
    assert "configuration history of format 3; this gtmd reads formats 1 to 2" in \
        str(e.value), str(e.value)
    g.proc.wait(10)
    g.proc = None

"""The configuration's resources over the admin API (/v1/config, issue #26):
CRUD of records, pools, endpoints, checks and regions, validation errors
naming the JSON path, dry runs that change nothing, If-Match (412 on a
stale version), history and rollback, the file as the source of truth
(edited by hand: a new version), versions across a restart, and the
audit log. Against the real gtmd; every effect is read from real DNS
answers and from the configuration file on disk.

The admin test policy set (adminlib.py) is used: no probes, every
endpoint up unless overridden; fo.example.com. fails over us, eu, ap."""
import json
import os
import signal
import time

import pytest

from adminlib import OPERATE_TOKEN, READ_TOKEN, US_A, EU_A, AP_A, audit_lines, gtmctl, restart
from adminlib import start
from backends import poll, query_addrs

FO = "fo.example.com."


def history_dir(c, workdir):
    c["config_api"] = {"history_dir": "history", "keep": 5}


@pytest.fixture
def srv(make_gtmd):
    return start(make_gtmd, mutate=history_dir)


def serves(g, name, want, timeout=5.0):
    return poll(lambda: query_addrs(g, name) == want, timeout)[0]


def journal_pending(conf_path):
    """Versions answered 201 that the writer has not put in the file and
    the history yet: the change journal's lines other than its markers
    (config_store.h)."""
    d, n = os.path.split(conf_path)
    try:
        with open(os.path.join(d, "." + n + ".journal")) as f:
            return sum(1 for line in f if line.startswith('{"v"'))
    except FileNotFoundError:
        return 0


def on_disk(g):
    """The configuration file once the writer caught up (a 201 is in the
    journal at once, in the file a group write later)."""
    deadline = time.monotonic() + 30  # the writer runs at nice 10: slow on a loaded machine
    while journal_pending(g.conf_path) and time.monotonic() < deadline:
        time.sleep(0.02)
    with open(g.conf_path) as f:
        return json.load(f)


def etag(r):
    return int(r.headers["etag"].strip('"'))


@pytest.mark.threads
def test_records_crud_served_and_written(srv):
    g, a = srv
    r = a.get("/v1/config/records", token=READ_TOKEN)
    assert r.status == 200 and FO in r.json["records"], r.json
    v0 = etag(r)
    assert v0 == r.json["version"] >= 1
    new = {"pool": "web", "policy": "failover", "regions": ["eu", "us"], "ttl": 30}
    r = a.call("PUT", "/v1/config/records/new.example.com.", body=new)
    assert r.status == 201 and r.json["applied"] and r.json["version"] == v0 + 1, r.json
    assert r.json["change"] == "create records new.example.com."
    assert serves(g, "new.example.com.", EU_A)
    assert on_disk(g)["records"]["new.example.com."] == new
    got = a.get("/v1/config/records/new.example.com.", token=READ_TOKEN)
    assert got.status == 200 and got.json["value"] == new and etag(got) == v0 + 1
    # Replace: the order changes, so does the answer.
    new["regions"] = ["ap", "eu"]
    r = a.call("PUT", "/v1/config/records/new.example.com.", body=new)
    assert r.status == 201 and r.json["change"].startswith("replace"), r.json
    assert serves(g, "new.example.com.", AP_A)
    r = a.delete("/v1/config/records/new.example.com.")
    assert r.status == 201, r.json
    assert poll(lambda: g.query("new.example.com.").rcode() == 3, 5.0)[0]  # NXDOMAIN
    assert "new.example.com." not in on_disk(g)["records"]
    assert a.delete("/v1/config/records/new.example.com.").status == 404
    assert a.get("/v1/config/records/nope.example.com.", token=READ_TOKEN).status == 404


def test_changes_after_unchanged_and_refused_ones(srv):
    """A change that changes nothing (200) or is refused (400) gives its
    copy of the document back for the next change's copy (config_api.c,
    config_api_cow_unused): each change after one is served exactly, and
    the document holds every change, nothing of the refused ones."""
    g, a = srv
    rec = {"pool": "web", "policy": "failover", "regions": ["eu", "us"], "ttl": 30}
    assert a.call("PUT", "/v1/config/records/idem.example.com.", body=rec).status == 201
    want = {"idem.example.com.": EU_A}
    orders = [["us", "eu"], ["ap", "eu"], ["eu", "ap"], ["us", "ap"]]
    for i, order in enumerate(orders):
        same = a.call("PUT", "/v1/config/records/idem.example.com.", body=rec)
        assert same.status == 200 and same.json.get("unchanged"), same.json
        bad = a.call("PUT", "/v1/config/records/bad%d.example.com." % i,
                     body={"pool": "nope", "ttl": 5})
        assert bad.status == 400, bad.json
        bad = a.call("PUT", "/v1/config/records/idem.example.com.", body=dict(rec, regions=["mars"]))
        assert bad.status == 400, bad.json  # a refused replacement: the same number of names
        name = "idem%d.example.com." % i
        r = a.call("PUT", "/v1/config/records/" + name, body=dict(rec, regions=order))
        assert r.status == 201, r.json
        # The change after the refused ones wrote their record as it was.
        assert on_disk(g)["records"]["idem.example.com."] == rec, i
        rec = dict(rec, regions=order)
        r = a.call("PUT", "/v1/config/records/idem.example.com.", body=rec)
        assert r.status == 201, r.json
        first = {"us": US_A, "eu": EU_A, "ap": AP_A}[order[0]]
        want[name] = want["idem.example.com."] = first
        for n, addrs in want.items():
            assert serves(g, n, addrs), (i, n)
    doc = a.get("/v1/config", token=READ_TOKEN).json
    recs = on_disk(g)["records"]
    assert recs["idem.example.com."]["regions"] == orders[-1], recs["idem.example.com."]
    assert [n for n in recs if n.startswith("bad")] == [], sorted(recs)[:5]
    for i, order in enumerate(orders):
        assert recs["idem%d.example.com." % i]["regions"] == order
    assert doc["version"] >= 1 + 2 * len(orders)


def test_refused_batch_that_deleted_a_record_keeps_the_order(srv):
    """A batch refused on the copy (its second delete finds nothing) whose
    first change deleted a record put it back at the end of the records
    (its undo): that copy is not given back to the recycler
    (config_api_edit.c), so the next change writes the records in the
    order they had."""
    g, a = srv
    before = list(on_disk(g)["records"])
    assert "fo2.example.com." in before[:-1], before
    r = a.post("/v1/config/changes", {"changes": [
        {"op": "delete", "path": "records/fo2.example.com."},
        {"op": "delete", "path": "records/none.example.com."}]})
    assert r.status == 400, r.json  # undone on the copy: fo2 put back, last
    r = a.call("PUT", "/v1/config/records/after.example.com.",
               body={"pool": "web", "policy": "all"})
    assert r.status == 201, r.json
    assert list(on_disk(g)["records"]) == before + ["after.example.com."]
    assert serves(g, "fo2.example.com.", EU_A)


def test_pool_gaining_aaaa_at_a_name_with_static_aaaa_is_refused(make_gtmd):
    """A record taken unchanged by a change (its pool keeps its regions)
    whose pool gains an AAAA endpoint binds AAAA anew: checked against the
    zone's data like a new one (load.c, load_attach_carried), so a static
    AAAA at its name refuses the change, as a reload of the file would."""
    def mutate(c, workdir):
        history_dir(c, workdir)
        with open(os.path.join(workdir, "example.com.zone"), "a") as f:
            f.write("v6only IN AAAA 2001:db8::66\n")
    g, a = start(make_gtmd, mutate=mutate)
    r = a.call("PUT", "/v1/config/pools/a4",
               body={"endpoints": [{"name": "x", "address": "192.0.2.70", "region": "us"}]})
    assert r.status == 201, r.json
    r = a.call("PUT", "/v1/config/records/v6only.example.com.", body={"pool": "a4", "policy": "all"})
    assert r.status == 201, r.json
    assert serves(g, "v6only.example.com.", ["192.0.2.70"])
    r = a.call("PUT", "/v1/config/pools/a4/endpoints/x6",
               body={"address": "2001:db8::70", "region": "us"})
    assert r.status == 400, r.json
    assert "static AAAA" in json.dumps(r.json), r.json
    assert query_addrs(g, "v6only.example.com.", "AAAA") == ["2001:db8::66"]


def test_endpoints_pools_checks_regions(srv):
    g, a = srv
    r = a.call("PUT", "/v1/config/regions/sa", body={"location": [-23.5, -46.6]})
    assert r.status == 201, r.json
    r = a.call("PUT", "/v1/config/pools/web/endpoints/sa1",
               body={"address": "192.0.2.99", "region": "sa"})
    assert r.status == 201, r.json
    eps = on_disk(g)["pools"]["web"]["endpoints"]
    assert {"name": "sa1", "address": "192.0.2.99", "region": "sa"} in eps
    r = a.call("PUT", "/v1/config/records/sa.example.com.",
               body={"pool": "web", "policy": "failover", "regions": ["sa", "us"]})
    assert r.status == 201, r.json
    assert serves(g, "sa.example.com.", ["192.0.2.99"])
    # A name in the body that is not the path's.
    r = a.call("PUT", "/v1/config/pools/web/endpoints/sa1",
               body={"name": "other", "address": "192.0.2.98", "region": "sa"})
    assert r.status == 400, r.json
    r = a.get("/v1/config/pools/web/endpoints/sa1", token=READ_TOKEN)
    assert r.status == 200 and r.json["value"]["address"] == "192.0.2.99"
    # A check and a pool that uses it (probes a closed port: down at once).
    r = a.call("PUT", "/v1/config/checks/tcp1",
               body={"type": "tcp", "port": 9, "interval": 0.5, "timeout": 0.3})
    assert r.status == 201, r.json
    r = a.call("PUT", "/v1/config/pools/loop",
               body={"check": "tcp1", "endpoints": [
                   {"name": "l1", "address": "127.0.0.1", "region": "us"}]})
    assert r.status == 201, r.json
    assert set(a.get("/v1/config", token=READ_TOKEN).json["resources"]) == {
        "records", "pools", "checks", "regions"}
    # The endpoint goes; the record that names only its region still loads.
    assert a.delete("/v1/config/pools/web/endpoints/sa1").status == 201
    assert serves(g, "sa.example.com.", US_A)
    assert a.delete("/v1/config/pools/web/endpoints/sa1").status == 404


def test_validation_names_the_json_path_and_changes_nothing(srv):
    g, a = srv
    before = on_disk(g)
    v = a.get("/v1/config", token=READ_TOKEN).json["version"]
    r = a.call("PUT", "/v1/config/records/bad.example.com.",
               body={"pool": "nosuch", "policy": "failover", "regions": ["us"]})
    assert r.status == 400 and r.json["error"]["code"] == "invalid", r.json
    errs = r.json["error"]["errors"]
    assert any('$.records["bad.example.com."]' in e or "$.records.bad.example.com." in e
               for e in errs), errs
    assert all(e.startswith(g.conf_path) or "$." in e for e in errs), errs
    r = a.call("PUT", "/v1/config/records/fo.example.com.",
               body={"pool": "web", "policy": "failover", "regions": ["mars"]})
    assert r.status == 400, r.json
    assert on_disk(g) == before
    assert a.get("/v1/config", token=READ_TOKEN).json["version"] == v
    assert query_addrs(g, FO) == US_A
    # Not a JSON object; not a kind; the read token.
    assert a.call("PUT", "/v1/config/records/x.example.com.", raw="[1]").status == 400
    assert a.get("/v1/config/zones", token=READ_TOKEN).status == 404
    r = a.call("PUT", "/v1/config/records/x.example.com.", body={"pool": "web"},
               token=READ_TOKEN)
    assert r.status == 403


def test_dry_run_validates_and_changes_nothing(srv):
    g, a = srv
    v = a.get("/v1/config", token=READ_TOKEN).json["version"]
    body = {"pool": "web", "policy": "failover", "regions": ["ap", "us"]}
    r = a.call("PUT", "/v1/config/records/fo.example.com.?dry_run=true", body=body)
    assert r.status == 200 and r.json["dry_run"] and r.json["valid"], r.json
    assert query_addrs(g, FO) == US_A
    assert on_disk(g)["records"][FO]["regions"] == ["us", "eu", "ap"]
    body["regions"] = ["mars"]
    r = a.call("PUT", "/v1/config/records/fo.example.com.?dry_run=true", body=body)
    assert r.status == 400, r.json
    assert a.get("/v1/config", token=READ_TOKEN).json["version"] == v
    # What the dry run said, the change then did.
    body["regions"] = ["ap", "us"]
    r = a.call("PUT", "/v1/config/records/fo.example.com.", body=body)
    assert r.status == 201 and serves(g, FO, AP_A)


@pytest.mark.threads
def test_dry_run_says_which_answers_move(srv):
    """The what-if of a dry run: the running set against the changed one,
    on the live health (an override here), per record, type and client."""
    g, a = srv
    assert a.override("region:us", "down").status in (200, 201)
    assert serves(g, FO, EU_A)
    body = {"pool": "web", "policy": "failover", "regions": ["ap", "us", "eu"]}
    r = a.call("PUT", "/v1/config/records/fo.example.com.?dry_run=true", body=body)
    assert r.status == 200, r.json
    w = r.json["whatif"]
    rows = [x for x in w["records"] if x["record"] == FO and x["type"] == "A"]
    assert len(rows) == 1, w
    # us is down (the override): eu now, ap after the change.
    assert rows[0]["before"]["answers"] == EU_A and rows[0]["before"]["serving_region"] == "eu"
    assert rows[0]["after"]["answers"] == AP_A and rows[0]["after"]["serving_region"] == "ap"
    assert all(x["record"] == FO for x in w["records"]), w  # nothing else moves
    assert w["summary"]["changed"] == len(w["records"]) and w["would_leave_unserved"] == []
    # A new record is a change from nothing; a removed one, to nothing.
    r = a.call("PUT", "/v1/config/records/n.example.com.?dry_run=true", body=body)
    rows = [x for x in r.json["whatif"]["records"] if x["type"] == "A"]
    assert rows == [{"record": "n.example.com.", "type": "A", "client": None, "before": None,
                     "after": rows[0]["after"]}] and rows[0]["after"]["answers"] == AP_A, rows
    r = a.call("DELETE", "/v1/config/records/fo.example.com.?dry_run=true")
    assert r.status == 200, r.json
    rows = [x for x in r.json["whatif"]["records"] if x["type"] == "A"]
    assert len(rows) == 1 and rows[0]["after"] is None and rows[0]["before"]["answers"] == EU_A
    assert {"record": FO, "type": "A"} in [
        {k: u[k] for k in ("record", "type")} for u in r.json["whatif"]["would_leave_unserved"]]
    # Per client: ?clients= lists them (IPs or networks); bad ones are 400.
    r = a.call("PUT", "/v1/config/records/fo.example.com.?dry_run=true&clients=192.0.2.1,"
               "10.0.0.0/8", body=body)
    clients = {x["client"] for x in r.json["whatif"]["records"] if x["type"] == "A"}
    assert clients == {"192.0.2.1", "10.0.0.0/8"}, r.json
    r = a.call("PUT", "/v1/config/records/fo.example.com.?dry_run=true&clients=nonsense",
               body=body)
    assert r.status == 400, r.json
    # Nothing of it was applied.
    assert query_addrs(g, FO) == EU_A and query_addrs(g, "n.example.com.") == []


def test_if_match_refuses_a_stale_version(srv):
    g, a = srv
    r = a.get("/v1/config/records/fo.example.com.", token=READ_TOKEN)
    v = etag(r)
    body = dict(r.json["value"], ttl=99)
    ok = a.call("PUT", "/v1/config/records/fo.example.com.", body=body,
                headers={"If-Match": '"%d"' % v})
    assert ok.status == 201, ok.json
    stale = a.call("PUT", "/v1/config/records/fo.example.com.", body=dict(body, ttl=98),
                   headers={"If-Match": '"%d"' % v})
    assert stale.status == 412 and stale.json["version"] == v + 1, stale.json
    assert on_disk(g)["records"][FO]["ttl"] == 99
    assert a.call("PUT", "/v1/config/records/fo.example.com.", body=body,
                  headers={"If-Match": "soon"}).status == 400


@pytest.mark.threads
def test_history_rollback_restart_and_file_edits(srv):
    g, a = srv
    v0 = a.get("/v1/config", token=READ_TOKEN).json["version"]
    body = {"pool": "web", "policy": "failover", "regions": ["eu", "us"]}
    assert a.call("PUT", "/v1/config/records/fo.example.com.", body=body).status == 201
    assert serves(g, FO, EU_A)
    hist = a.get("/v1/config/history", token=READ_TOKEN).json["versions"]
    assert hist[0]["version"] == v0 + 1 and hist[0]["source"] == "api", hist
    assert hist[0]["author"] == "operate" and "fo.example.com." in hist[0]["change"]
    old = a.get("/v1/config/history/%d" % v0, token=READ_TOKEN)
    assert old.json["resources"]["records"][FO]["regions"] == ["us", "eu", "ap"]
    r = a.post("/v1/config/rollback", {"version": v0})
    assert r.status == 201 and r.json["version"] == v0 + 2, r.json
    assert serves(g, FO, US_A)
    assert a.post("/v1/config/rollback", {"version": 999}).status == 404
    # Versions and the rollback survive a restart.
    restart(g, a)
    assert a.get("/v1/config", token=READ_TOKEN).json["version"] == v0 + 2
    assert query_addrs(g, FO) == US_A
    # The file stays the source of truth: edited by hand and reloaded, a
    # new version (source "file").
    c = on_disk(g)
    c["records"][FO]["regions"] = ["ap", "us"]
    with open(g.conf_path, "w") as f:
        json.dump(c, f)
    g.proc.send_signal(signal.SIGHUP)
    assert serves(g, FO, AP_A)
    # The reload records the version just after it publishes the set (a
    # slow build can be asked in between).
    poll(lambda: a.get("/v1/config/history", token=READ_TOKEN).json["versions"][0]["version"]
         == v0 + 3, 5.0)
    hist = a.get("/v1/config/history", token=READ_TOKEN).json["versions"]
    assert hist[0]["version"] == v0 + 3 and hist[0]["source"] == "file", hist
    # keep 5: older versions are removed.
    for ttl in range(40, 44):
        assert a.call("PUT", "/v1/config/records/fo.example.com.",
                      body=dict(c["records"][FO], ttl=ttl)).status == 201
    hist = a.get("/v1/config/history", token=READ_TOKEN).json["versions"]
    assert len(hist) == 5 and hist[0]["version"] == v0 + 7, hist
    # The history is written behind (config_store.h): the writer has it
    # once its files settle at keep's 5 versions (a .json and a
    # .meta.json each), pruned, no temporary file left.
    hdir = os.path.join(g.workdir, "history")
    ok, _ = poll(lambda: len(os.listdir(hdir)) == 10
                 and not any(".tmp" in f for f in os.listdir(hdir)), 30.0)
    assert ok, sorted(os.listdir(hdir))


def test_changes_are_audited(srv):
    g, a = srv
    a.call("PUT", "/v1/config/regions/sa", body={})
    a.call("PUT", "/v1/config/records/x.example.com.", body={"pool": "nosuch"})
    lines = [x for x in audit_lines(g) if "/v1/config" in json.dumps(x)]
    assert len(lines) >= 2, audit_lines(g)
    assert any(x.get("status") == 201 for x in lines), lines
    assert any(x.get("status") == 400 for x in lines), lines


def test_without_history_dir_changes_are_refused(make_gtmd):
    g, a = start(make_gtmd)
    r = a.get("/v1/config/records", token=READ_TOKEN)
    assert r.status == 200 and FO in r.json["records"]
    r = a.call("PUT", "/v1/config/regions/sa", body={})
    assert r.status == 403 and r.json["error"]["code"] == "config_api_off", r.json
    r = a.call("PUT", "/v1/config/regions/sa?dry_run=true", body={})
    assert r.status == 200 and r.json["valid"], r.json
    assert "sa" not in on_disk(g)["regions"]


def test_gtmctl_config(srv, tmp_path):
    g, a = srv
    env = {"GTMCTL_SERVER": a.url, "GTMCTL_TOKEN": OPERATE_TOKEN}
    p = gtmctl("config", "get", "records", FO, env=env)
    assert p.returncode == 0 and json.loads(p.stdout)["value"]["pool"] == "web", p
    v = json.loads(p.stdout)["version"]
    f = tmp_path / "rec.json"
    f.write_text(json.dumps({"pool": "web", "policy": "failover", "regions": ["eu", "us"]}))
    p = gtmctl("config", "put", "records", "cli.example.com.", str(f), "--dry-run", env=env)
    assert p.returncode == 0 and "dry run: valid" in p.stdout, p
    assert query_addrs(g, "cli.example.com.") == []
    p = gtmctl("config", "put", "records", "cli.example.com.", str(f), "--if-match", str(v),
               env=env)
    assert p.returncode == 0 and "version %d: create records cli.example.com." % (v + 1) in \
        p.stdout, p
    assert serves(g, "cli.example.com.", EU_A)
    p = gtmctl("config", "put", "records", "cli.example.com.", str(f), env=env)
    assert p.returncode == 0 and p.stdout.startswith("unchanged (version %d)" % (v + 1)), p
    # A stale version: refused (exit 1, the server's message).
    p = gtmctl("config", "rm", "records", "cli.example.com.", "--if-match", str(v), env=env)
    assert p.returncode == 1 and "version" in p.stderr, p
    p = gtmctl("config", "history", env=env)
    assert p.returncode == 0 and "create records cli.example.com." in p.stdout, p
    p = gtmctl("config", "rollback", str(v), env=env)
    assert p.returncode == 0 and "rollback to version %d" % v in p.stdout, p
    assert poll(lambda: g.query("cli.example.com.").rcode() == 3, 5.0)[0]
    ep = tmp_path / "ep.json"
    ep.write_text(json.dumps({"address": "192.0.2.77", "region": "eu"}))
    p = gtmctl("config", "put", "pools", "web/endpoints/eu7", str(ep), env=env)
    assert p.returncode == 0, p
    assert "192.0.2.77" in json.dumps(on_disk(g)["pools"]["web"])
    assert gtmctl("config", "frob", env=env).returncode == 2


def test_unchanged_redacted_audited_and_gtmctl_errors(srv, tmp_path):
    g, a = srv
    v = a.get("/v1/config", token=READ_TOKEN).json["version"]
    cur = a.get("/v1/config/records/fo.example.com.", token=READ_TOKEN).json["value"]
    r = a.call("PUT", "/v1/config/records/fo.example.com.", body=cur)
    assert r.status == 200 and r.json["unchanged"] and r.json["version"] == v, r.json
    assert a.get("/v1/config", token=READ_TOKEN).json["version"] == v
    # A check's headers may carry credentials: the read token sees them
    # redacted, the operate token as they are.
    chk = {"type": "http", "port": 9, "path": "/", "interval": 1, "timeout": 0.5,
           "headers": {"Authorization": "Bearer probe-secret"}}
    r = a.call("PUT", "/v1/config/checks/h1", body=chk)
    assert r.status == 201, r.json
    seen = a.get("/v1/config/checks/h1", token=READ_TOKEN).json["value"]["headers"]
    assert "probe-secret" not in json.dumps(seen), seen
    assert "probe-secret" not in a.get("/v1/config", token=READ_TOKEN).body.decode()
    assert a.get("/v1/config/checks/h1").json["value"]["headers"] == chk["headers"]
    # PUTs are audited as PUTs.
    puts = [x for x in audit_lines(g) if x.get("path", "").startswith("/v1/config/checks")]
    assert puts and all(x["method"] == "PUT" for x in puts), puts
    # gtmctl prints the validation errors with their JSON path; a rollback
    # dry run changes nothing.
    env = {"GTMCTL_SERVER": a.url, "GTMCTL_TOKEN": OPERATE_TOKEN}
    f = tmp_path / "bad.json"
    f.write_text(json.dumps({"pool": "nosuch"}))
    p = gtmctl("config", "put", "records", "b.example.com.", str(f), env=env)
    assert p.returncode == 1 and '$.records["b.example.com."]' in p.stderr, p
    v = a.get("/v1/config", token=READ_TOKEN).json["version"]
    p = gtmctl("config", "rollback", "1", "--dry-run", env=env)
    assert p.returncode == 0 and "dry run" in p.stdout, p
    assert a.get("/v1/config", token=READ_TOKEN).json["version"] == v
    assert "h1" in on_disk(g)["checks"]


def test_check_refuses_an_empty_history_dir(make_gtmd):
    g, a = start(make_gtmd)
    c = on_disk(g)
    c["config_api"] = {"history_dir": ""}
    path = os.path.join(g.workdir, "empty.json")
    with open(path, "w") as f:
        json.dump(c, f)
    import subprocess
    from conftest import GTMD
    r = subprocess.run([GTMD, "check", "-c", path], capture_output=True, text=True, timeout=60)
    assert r.returncode == 1 and "$.config_api.history_dir" in r.stderr, r.stderr


@pytest.mark.threads
def test_changes_in_one_version(srv):
    """POST /v1/config/changes: several changes applied in order and
    validated together as one version (a region, a pool in it, a record on
    the pool, and a removal); an error names the item; a dry run gives the
    what-if of them all; If-Match holds for the whole."""
    g, a = srv
    v = a.get("/v1/config", token=READ_TOKEN).json["version"]
    changes = [
        {"op": "put", "path": "regions/sa", "value": {}},
        {"op": "put", "path": "pools/sapool", "value": {"endpoints": [
            {"name": "s1", "address": "192.0.2.91", "region": "sa"}]}},
        {"op": "put", "path": "pools/sapool/endpoints/s2",
         "value": {"address": "192.0.2.92", "region": "sa"}},
        {"op": "put", "path": "records/sa.example.com.",
         "value": {"pool": "sapool", "policy": "all"}},
        {"op": "delete", "path": "records/emp.example.com."},
    ]
    # Alone, the record would not load (no pool yet): together they do.
    r = a.call("PUT", "/v1/config/records/sa.example.com.", body=changes[3]["value"])
    assert r.status == 400, r.json
    r = a.post("/v1/config/changes?dry_run=true", {"changes": changes})
    assert r.status == 200 and r.json["valid"], r.json
    moved = {x["record"] for x in r.json["whatif"]["records"]}
    assert moved == {"sa.example.com.", "emp.example.com."}, r.json["whatif"]
    assert a.get("/v1/config", token=READ_TOKEN).json["version"] == v
    r = a.post("/v1/config/changes", {"changes": changes, "change": "open sa"},
               headers={"If-Match": '"%d"' % v})
    assert r.status == 201 and r.json["version"] == v + 1 and r.json["change"] == "open sa", \
        r.json
    assert serves(g, "sa.example.com.", ["192.0.2.91", "192.0.2.92"])
    assert "emp.example.com." not in on_disk(g)["records"]
    # Bad items: named by their index; nothing applied.
    for bad, where in (([{"op": "frob", "path": "regions/x"}], "$.changes[0]"),
                       ([{"op": "put", "path": "regions/x", "value": {}},
                         {"op": "delete", "path": "records/nope.example.com."}],
                        "$.changes[1]"),
                       ([{"op": "put", "path": "zones/x", "value": {}}], "$.changes[0].path"),
                       ([{"op": "delete", "path": "regions/x", "value": {}}],
                        "$.changes[0].value")):
        r = a.post("/v1/config/changes", {"changes": bad})
        assert r.status == 400 and where in r.json["error"]["message"], (bad, r.json)
    assert a.post("/v1/config/changes", {"changes": []}).status == 400
    r = a.post("/v1/config/changes", {"changes": changes[:1]}, headers={"If-Match": '"%d"' % v})
    assert r.status == 412, r.json
    assert a.get("/v1/config", token=READ_TOKEN).json["version"] == v + 1


def test_gtmctl_config_changes(srv, tmp_path):
    g, a = srv
    env = {"GTMCTL_SERVER": a.url, "GTMCTL_TOKEN": OPERATE_TOKEN}
    f = tmp_path / "changes.json"
    f.write_text(json.dumps({"change": "two at once", "changes": [
        {"op": "put", "path": "records/c1.example.com.", "value": {"pool": "web", "policy": "all"}},
        {"op": "put", "path": "records/c2.example.com.",
         "value": {"pool": "web", "policy": "failover", "regions": ["ap"]}}]}))
    p = gtmctl("config", "changes", str(f), "--dry-run", env=env)
    assert p.returncode == 0 and "dry run: valid" in p.stdout, p
    p = gtmctl("config", "changes", str(f), env=env)
    assert p.returncode == 0 and "two at once" in p.stdout, p
    assert serves(g, "c2.example.com.", AP_A)


def test_malformed_paths_and_parameters(srv):
    g, a = srv
    v = a.get("/v1/config", token=READ_TOKEN).json["version"]
    for path in ("/v1/config/records/", "/v1/config/pools/web/endpoints/",
                 "/v1/config/pools/web/endpoints/a/b", "/v1/config/records/" + "x" * 300,
                 "/v1/config/nokind/x", "/v1/configx", "/v1/config/history/abc",
                 "/v1/config/history/99999"):
        r = a.call("PUT" if "history" not in path else "GET", path, body={})
        assert r.status in (404, 405), (path, r.status, r.json)
    many = ",".join("192.0.2.%d" % i for i in range(65))
    r = a.call("PUT", "/v1/config/regions/sa?dry_run=true&clients=" + many, body={})
    assert r.status == 400 and "at most 64" in r.json["error"]["message"], r.json
    for body in ({"version": 0}, {"version": "1"}, {"version": 1, "x": 2}, []):
        assert a.post("/v1/config/rollback", body).status == 400, body
    r = a.call("PUT", "/v1/config/records/fo.example.com.", raw=b"\xff\xfe{")
    assert r.status == 400, r.json
    assert a.get("/v1/config", token=READ_TOKEN).json["version"] == v
    assert query_addrs(g, FO) == US_A

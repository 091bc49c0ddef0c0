"""`gtmd drill -c FILE --region R ...`: the offline what-if. It loads the
config and zones without serving and prints every policy record's answer now
and with the regions/azs lost, per client when asked, with the capacity view;
health from --state (a running server's state file) or every endpoint up.
Exit 0 when every record is still served, 3 when one falls to when_all_down,
1 on errors. The agreement with a live drill's real answers is checked in
test_drills.py."""
import json
import os
import shutil
import subprocess
import tempfile
import time

import pytest

from conftest import DATA, GTMD

ZONES = [{"origin": "example.com.", "file": "example.com.zone"}]


def policy():
    return {
        "regions": {"us": {}, "eu": {}, "ap": {}},
        "pools": {
            "web": {"endpoints": [
                {"name": "us1", "address": "192.0.2.10", "region": "us", "az": "us-1a",
                 "weight": 3},
                {"name": "us2", "address": "192.0.2.11", "region": "us", "az": "us-1b"},
                {"name": "us6", "address": "2001:db8::10", "region": "us"},
                {"name": "eu1", "address": "198.51.100.10", "region": "eu"},
                {"name": "ap1", "address": "203.0.113.10", "region": "ap"}]},
            "hp": {"endpoints": [
                {"name": "h-us1", "address": "192.0.2.31", "region": "us"},
                {"name": "h-us2", "address": "192.0.2.32", "region": "us"},
                {"name": "h-eu1", "address": "198.51.100.31", "region": "eu"}]},
        },
        "records": {
            "fo.example.com.": {"pool": "web", "policy": "failover",
                                "regions": ["us", "eu", "ap"]},
            "all.example.com.": {"pool": "web", "policy": "all"},
            "uso.example.com.": {"pool": "web", "policy": "failover", "regions": ["us"],
                                 "when_all_down": "empty"},
            "hs.example.com.": {"pool": "hp", "policy": "all", "select": "hashed",
                                "answers": 1},
        },
    }


@pytest.fixture
def workdir():
    d = tempfile.mkdtemp(prefix="gtmd-drill-off-")
    for f in ("example.com.zone", "example.com.inc"):
        shutil.copy(os.path.join(DATA, f), d)
    yield d
    shutil.rmtree(d, ignore_errors=True)


def write_config(d, extra=None):
    c = {"listen": ["127.0.0.1:1"], "zones": ZONES}
    c.update(policy())
    c.update(extra or {})
    path = os.path.join(d, "gtmd.json")
    with open(path, "w") as f:
        json.dump(c, f)
    return path


def drill(*args, timeout=20):
    return subprocess.run([GTMD, "drill"] + list(args), capture_output=True, text=True,
                          timeout=timeout)


def drill_json(*args):
    r = drill(*args, "--json")
    assert r.returncode in (0, 3), r
    return r.returncode, json.loads(r.stdout)


def rec(w, name, rtype="A", client=None):
    for r in w["records"]:
        if r["record"] == name and r["type"] == rtype and r["client"] == client:
            return r
    raise AssertionError("no %s %s %s in %s" % (name, rtype, client, w["records"]))


def test_losing_a_region_moves_records_and_reports_capacity(workdir):
    conf = write_config(workdir)
    rc, w = drill_json("-c", conf, "--region", "us")
    assert rc == 3 and w["exit"] == 3, "uso has only us: it falls to when_all_down"
    assert w["lost"] == ["region:us"]
    assert w["health"].startswith("every endpoint up")
    fo = rec(w, "fo.example.com.")
    assert fo["changed"] is True
    assert fo["before"] == {"outcome": "served", "serving_region": "us",
                            "answers": ["192.0.2.10", "192.0.2.11"]}
    assert fo["after"] == {"outcome": "served", "serving_region": "eu",
                           "answers": ["198.51.100.10"]}
    assert {c["region"]: (c["before"], c["after"]) for c in fo["capacity"]} == \
        {"us": (1.0, 0.0), "eu": (0.0, 1.0)}
    al = rec(w, "all.example.com.")
    cap = {c["region"]: (round(c["before"], 4), round(c["after"], 4)) for c in al["capacity"]}
    # weights us1 3, us2 1, eu1 1, ap1 1: us carries 4/6; eu and ap absorb half each.
    assert cap == {"us": (0.6667, 0.0), "eu": (0.1667, 0.5), "ap": (0.1667, 0.5)}, cap
    uso = rec(w, "uso.example.com.")
    assert uso["after"]["outcome"] == "empty" and uso["changed"] is True
    aaaa = rec(w, "fo.example.com.", "AAAA")
    assert aaaa["before"]["answers"] == ["2001:db8::10"]
    assert aaaa["after"]["outcome"] == "fail_open", "eu and ap have no AAAA: fail open"
    # Only us has AAAA: every AAAA answer and uso's A fall to when_all_down.
    assert sorted((u["record"], u["type"]) for u in w["would_leave_unserved"]) == [
        ("all.example.com.", "AAAA"), ("fo.example.com.", "AAAA"),
        ("uso.example.com.", "A"), ("uso.example.com.", "AAAA")]
    s = w["summary"]
    assert s["evaluated"] == len(w["records"]) == 7  # fo, all, uso: A+AAAA; hs: A
    assert s["changed"] == 7 and s["unserved"] == 4 and s["newly_unserved"] == 4


def test_exit_0_when_everything_stays_served_and_unchanged_records_listed(workdir):
    conf = write_config(workdir)
    rc, w = drill_json("-c", conf, "--region", "ap")
    assert rc == 0 and w["exit"] == 0
    assert rec(w, "fo.example.com.")["changed"] is False
    assert rec(w, "all.example.com.")["changed"] is True
    assert w["summary"]["changed"] == 1 and w["summary"]["unserved"] == 0


def test_az_loss_and_several_targets(workdir):
    conf = write_config(workdir)
    rc, w = drill_json("-c", conf, "--az", "us-1a")
    assert rc == 0
    assert rec(w, "fo.example.com.")["after"]["answers"] == ["192.0.2.11"]
    rc, w = drill_json("-c", conf, "--region", "eu", "--az", "us-1a", "--az", "us-1b")
    assert w["lost"] == ["region:eu", "az:us-1a", "az:us-1b"]
    # us keeps only us6 (no az, AAAA): no A left in us, eu lost: ap.
    assert rec(w, "fo.example.com.")["after"]["serving_region"] == "ap"
    assert rec(w, "fo.example.com.", "AAAA")["changed"] is False


def test_per_client_rows(workdir):
    conf = write_config(workdir)
    rc, w = drill_json("-c", conf, "--region", "eu", "--client", "192.0.2.7",
                       "--ecs", "10.20.0.0/16", "--client", "2001:db8::7")
    clients = {r["client"] for r in w["records"]}
    assert clients == {"192.0.2.7", "10.20.0.0/16", "2001:db8::7"}
    assert len(w["records"]) == 3 * 7  # 7 record/type pairs x 3 clients
    hs = rec(w, "hs.example.com.", client="10.20.0.0/16")
    assert hs["before"]["outcome"] == "served"


def test_table_output(workdir):
    conf = write_config(workdir)
    r = drill("-c", conf, "--region", "us")
    assert r.returncode == 3
    out = r.stdout
    assert "losing region:us" in out and "every endpoint up" in out
    lines = {l.split()[0] + " " + l.split()[1]: l for l in out.splitlines()
             if l.endswith(("moves", "same", "UNSERVED"))}
    assert lines["fo.example.com. A"].endswith("moves")
    assert "eu: 198.51.100.10" in lines["fo.example.com. A"]
    assert lines["uso.example.com. A"].endswith("UNSERVED")
    assert "fo.example.com. A: us 100% -> 0%, eu 0% -> 100%" in out
    assert "7 answers evaluated, 7 change, 4 would fall to when_all_down" in out


def test_health_from_a_state_file(workdir):
    conf = write_config(workdir, {"checks": {"web": {"type": "tcp", "port": 9}}})
    with open(conf) as f:
        c = json.load(f)
    c["pools"]["web"]["check"] = "web"
    with open(conf, "w") as f:
        json.dump(c, f)
    state = os.path.join(workdir, "state.json")
    now = time.time()
    eps = {"endpoint:web/" + n: {"state": "up", "since": now - 100}
           for n in ("us1", "us2", "us6", "eu1", "ap1")}
    eps["endpoint:web/eu1"]["state"] = "down"
    with open(state, "w") as f:
        # Old on purpose: state_max_age does not apply to the what-if.
        json.dump({"version": 1, "saved_at": now - 86400 * 3, "endpoints": eps,
                   "overrides": [{"id": "ovr-4", "target": "region:ap", "state": "down",
                                  "reason": "maint", "author": "operate", "created": now,
                                  "expires": None}]}, f)
    rc, w = drill_json("-c", conf, "--region", "us", "--state", state)
    assert "state file" in w["health"] and "1 overrides" in w["health"]
    fo = rec(w, "fo.example.com.")
    assert fo["after"]["outcome"] == "fail_open", \
        "eu1 down in the state file and ap forced down: nothing left"
    assert rc == 3
    rc, w = drill_json("-c", conf, "--region", "ap")
    assert rc == 0 and rec(w, "fo.example.com.")["after"]["serving_region"] == "us", \
        "without --state every endpoint is up"
    # Endpoints the file does not know count as down (as gtmd before probing).
    with open(state, "w") as f:
        json.dump({"version": 1, "saved_at": now, "endpoints": {}}, f)
    rc, w = drill_json("-c", conf, "--region", "eu", "--state", state)
    assert "missing" in w["health"] and rc == 3


@pytest.mark.parametrize("args, needle", [
    ([], "at least one --region"),
    (["--region", "us"], "-c FILE"),
    (["--region", "us", "--bogus"], "unexpected argument"),
    (["--region", "mars"], "no region \"mars\""),
    (["--az", "us-9z"], "no az \"us-9z\""),
    (["--region", "us", "--client", "10.0.0.0/8"], "must be an IP address"),
    (["--region", "us", "--ecs", "10.0.0.1"], "must be a network"),
    (["--region", "us", "--ecs", "10.0.0.1/8"], "bits set"),
    (["--region", "us", "--state", "/nonexistent/state.json"], "cannot read the state file"),
])
def test_errors_exit_1(workdir, args, needle):
    conf = write_config(workdir)
    full = (["-c", conf] if "-c FILE" != needle else []) + args
    r = drill(*full)
    assert r.returncode == 1, r
    assert needle in r.stderr, r.stderr


def test_config_errors_exit_1_with_the_json_path(workdir):
    conf = write_config(workdir, {"drills": {"max_duration": -1}})
    r = drill("-c", conf, "--region", "us")
    assert r.returncode == 1 and "$.drills.max_duration" in r.stderr, r.stderr
    conf = write_config(workdir, {"drills": {"max_durration": 5}})
    r = drill("-c", conf, "--region", "us")
    assert r.returncode == 1 and "max_durration" in r.stderr, r.stderr


def test_help():
    r = drill("--help")
    assert r.returncode == 0 and "gtmd drill -c FILE" in r.stdout

"""External verdicts (POST/GET/DELETE /v1/verdicts) and the Alertmanager
webhook receiver (POST /v1/alertmanager), against the real gtmd.

The admin test policy set (adminlib.py: no probes, every endpoint up) is
used: a verdict's effect is read from real DNS answers, from /v1/status
and /v1/explain, and across a restart from the state file."""
import json
import os
import subprocess
import time
import urllib.request

import pytest

from adminlib import OPERATE_TOKEN, READ_TOKEN, US_A, EU_A, Admin, audit_lines, restart
from adminlib import start
from adminlib import gtmctl, write_token
from backends import poll, query_addrs
from conftest import free_port

FO = "fo.example.com."
AM_TOKEN = "alertmanager-token-0123456789abcdef"


def until(fn, timeout):
    """The first true value of fn within timeout seconds, else None."""
    return poll(fn, timeout)[0]


def am_section(c, workdir):
    write_token(workdir, "am.token", AM_TOKEN)
    c["admin"]["alertmanager"] = {"token_file": "am.token", "expires": 60,
                                  "labels": {"endpoint": "ep", "region": "gtm_region"}}
    c["max_verdicts"] = 5


@pytest.fixture
def srv(make_gtmd):
    return start(make_gtmd, state_file=True, mutate=am_section)


def verdict(a, target, state="down", source="mon", expires_in=30, token=OPERATE_TOKEN, **kw):
    body = {"source": source, "target": target, "state": state, "expires_in": expires_in,
            "reason": "test"}
    body.update(kw)
    return a.post("/v1/verdicts", body, token=token)


def serves(g, want, name=FO):
    return until(lambda: query_addrs(g, name) == want, timeout=5.0)


def endpoint_state(a, name):
    st = a.get("/v1/status").json
    for reg in st["regions"]:
        for ep in reg["endpoints"] + [e for az in reg["azs"] for e in az["endpoints"]]:
            if ep["name"] == name:
                return ep["state"]
    raise AssertionError(name)


def test_verdict_region_down_moves_answers(srv):
    g, a = srv
    assert sorted(query_addrs(g, FO)) == sorted(US_A)
    r = verdict(a, {"region": "us"}, reason="cloudwatch alarm")
    assert r.status == 201 and r.json["id"].startswith("vdt-") and not r.json["replaced"], r
    vid = r.json["id"]
    assert serves(g, EU_A)
    st = endpoint_state(a, "us1")
    assert st["external"] == "down" and st["probe"] == "up", st
    assert st["verdicts"][0]["target"] == "region:us" and st["verdicts"][0]["source"] == "mon"
    # explain shows the layer too.
    ex = a.get("/v1/explain?name=" + FO + "&type=A").json
    assert '"external": "down"' in json.dumps(ex), ex
    # The same source replaces its verdict: "up" clears it, same id.
    r = verdict(a, {"region": "us"}, state="up")
    assert r.status == 200 and r.json["replaced"] and r.json["id"] == vid, r
    assert serves(g, US_A)
    # An override is above verdicts: forced up wins over a down verdict.
    assert verdict(a, {"endpoint": "web/us1"}, source="other").status == 201
    assert endpoint_state(a, "us1")["effective"] == "down"
    assert a.override("endpoint:web/us1", state="up").status == 201
    assert endpoint_state(a, "us1")["effective"] == "up"
    a.clear_overrides()
    # GET one and the list; DELETE.
    lst = a.get("/v1/verdicts", token=READ_TOKEN).json
    assert lst["max_verdicts"] == 5 and len(lst["verdicts"]) == 2, lst
    other = [v for v in lst["verdicts"] if v["source"] == "other"][0]
    assert a.get("/v1/verdicts/" + other["id"], token=READ_TOKEN).json["target"] == \
        "endpoint:web/us1"
    assert a.delete("/v1/verdicts/" + other["id"]).status == 200
    assert a.delete("/v1/verdicts/" + other["id"]).status == 404
    assert endpoint_state(a, "us1")["effective"] == "up"
    lines = [x for x in audit_lines(g) if x["path"].startswith("/v1/verdicts")]
    assert len(lines) >= 4 and {x["method"] for x in lines} == {"POST", "DELETE"}, lines


def test_verdict_validation_and_bounds(srv):
    g, a = srv
    cases = [
        ({"expires_in": None}, 400, "\"expires_in\" is required"),
        ({"expires_in": 0}, 400, "every verdict expires"),
        ({"expires_in": 10 ** 7}, 400, "every verdict expires"),
        ({"state": "maybe"}, 400, "\"state\" must be"),
        ({"source": ""}, 400, "\"source\" must be a non-empty string"),
        ({"target": {"pool": "x"}}, 400, "\"target\" must be"),
        ({"target": {"region": "mars"}}, 404, "no region:mars in the configuration"),
        ({"color": "red"}, 400, "unknown key \"color\""),
    ]
    for change, status, msg in cases:
        body = {"source": "s", "target": {"region": "us"}, "state": "down", "expires_in": 5,
                "reason": "r"}
        body.update(change)
        body = {k: v for k, v in body.items() if v is not None}
        r = a.post("/v1/verdicts", body)
        assert r.status == status and msg in r.json["error"]["message"], (change, r)
    assert verdict(a, {"region": "us"}, token=READ_TOKEN).status == 403
    assert verdict(a, {"region": "us"}, token=AM_TOKEN).status == 401  # only /v1/alertmanager
    # ap down would leave apo.example.com. unserved: forced (the safety
    # rule is test_verdicts_keep_the_last_region_serving's).
    for i in range(5):
        assert verdict(a, {"region": "ap"}, source="s%d" % i, force=True).status == 201
    r = verdict(a, {"region": "ap"}, source="s9", force=True)
    assert r.status == 429 and r.code == "too_many_verdicts", r
    # Replacing one is still allowed at the bound.
    assert verdict(a, {"region": "ap"}, source="s1", state="up").status == 200


def test_verdict_expires_and_survives_restart(srv):
    g, a = srv
    assert verdict(a, {"region": "us"}, expires_in=2).status == 201
    long = verdict(a, {"az": "us-1a"}, source="long", expires_in=300).json["id"]
    assert serves(g, EU_A)
    # Expiry on the health thread, whether or not anyone asks.
    assert serves(g, ["192.0.2.11"])
    assert [v["id"] for v in a.get("/v1/verdicts").json["verdicts"]] == [long]
    restart(g, a)
    assert [v["id"] for v in a.get("/v1/verdicts").json["verdicts"]] == [long]
    assert endpoint_state(a, "us1")["external"] == "down"
    assert query_addrs(g, FO) == ["192.0.2.11"]


def am_payload(status, fp, labels, name="EndpointDown"):
    alert = {"status": status, "labels": dict(labels, alertname=name),
             "annotations": {"summary": "probe from the outside fails"},
             "startsAt": "2026-11-23T12:00:00Z",
             "endsAt": "0001-01-01T00:00:00Z" if status == "firing" else "2026-11-23T12:05:00Z",
             "generatorURL": "http://prometheus.example/graph", "fingerprint": fp}
    return {"version": "4", "groupKey": "{}:{alertname=\"%s\"}" % name, "truncatedAlerts": 0,
            "status": status, "receiver": "gtmd", "groupLabels": {"alertname": name},
            "commonLabels": alert["labels"], "commonAnnotations": alert["annotations"],
            "externalURL": "http://alertmanager.example", "alerts": [alert]}


def test_alertmanager_payload(srv):
    g, a = srv
    p = am_payload("firing", "a1b2c3d4e5f60718", {"gtm_region": "us", "severity": "page"})
    p["alerts"].append({"status": "firing", "labels": {"alertname": "Other"},
                        "fingerprint": "0000000000000001"})
    p["alerts"].append({"status": "firing", "labels": {"ep": "web/nope"},
                        "fingerprint": "0000000000000002"})
    r = a.post("/v1/alertmanager", p, token=AM_TOKEN)
    assert r.status == 200, r
    assert r.json["firing"] == 1 and r.json["ignored"] == 1, r.json
    assert r.json["unknown"] == ["endpoint:web/nope"], r.json
    assert serves(g, EU_A)
    v = a.get("/v1/verdicts").json["verdicts"]
    assert v[0]["source"] == "alertmanager:a1b2c3d4e5f60718" and v[0]["target"] == "region:us"
    assert "EndpointDown" in v[0]["reason"] and v[0]["author"] == "alertmanager"
    assert 55 < v[0]["expires"] - v[0]["created"] < 65, v[0]
    # The endpoint label wins over the region label of the same alert.
    p2 = am_payload("firing", "ffff", {"ep": "web/eu1", "gtm_region": "us"})
    assert a.post("/v1/alertmanager", p2, token=AM_TOKEN).json["firing"] == 1
    assert any(x["target"] == "endpoint:web/eu1" for x in a.get("/v1/verdicts").json["verdicts"])
    # Resolved withdraws.
    r = a.post("/v1/alertmanager", am_payload("resolved", "a1b2c3d4e5f60718", {"gtm_region": "us"}),
               token=AM_TOKEN)
    assert r.status == 200 and r.json["withdrawn"] == 1, r
    assert serves(g, US_A)
    # Authentication: none, a wrong token, the read token.
    assert a.post("/v1/alertmanager", p, token=None).status == 401
    assert a.post("/v1/alertmanager", p, token="x" * 20).status == 401
    assert a.post("/v1/alertmanager", p, token=READ_TOKEN).status == 403
    # Not a payload.
    assert a.post("/v1/alertmanager", {"alerts": 3}, token=AM_TOKEN).status == 400
    assert any(x["token"] == "alertmanager" for x in audit_lines(g))


AM_BIN = "/usr/bin/prometheus-alertmanager"


@pytest.mark.skipif(not os.path.exists(AM_BIN), reason="prometheus-alertmanager not installed")
def test_real_alertmanager(srv, tmp_path):
    """The real Alertmanager on loopback sends its webhook to gtmd: a firing
    alert labelled gtm_region=us moves the answers to eu, its resolution
    moves them back."""
    g, a = srv
    am_port = free_port()
    conf = tmp_path / "am.yml"
    conf.write_text(
        "route:\n"
        "  receiver: gtmd\n"
        "  group_by: [alertname]\n"
        "  group_wait: 0s\n"
        "  group_interval: 1s\n"
        "  repeat_interval: 30s\n"
        "receivers:\n"
        "- name: gtmd\n"
        "  webhook_configs:\n"
        "  - url: http://127.0.0.1:%d/v1/alertmanager\n"
        "    send_resolved: true\n"
        "    http_config:\n"
        "      authorization:\n"
        "        credentials_file: %s\n" % (a.port, os.path.join(g.workdir, "am.token")))
    log = open(tmp_path / "am.log", "wb")
    proc = subprocess.Popen(
        [AM_BIN, "--config.file=%s" % conf, "--storage.path=%s" % (tmp_path / "data"),
         "--web.listen-address=127.0.0.1:%d" % am_port, "--cluster.listen-address=",
         "--log.level=debug"], stdout=log, stderr=subprocess.STDOUT)
    try:
        url = "http://127.0.0.1:%d/api/v2/alerts" % am_port

        def post(alerts):
            req = urllib.request.Request(url, data=json.dumps(alerts).encode(),
                                         headers={"Content-Type": "application/json"})
            with urllib.request.urlopen(req, timeout=3) as r:
                return r.status

        def ready():
            try:
                with urllib.request.urlopen("http://127.0.0.1:%d/-/ready" % am_port,
                                            timeout=1) as r:
                    return r.status == 200
            except OSError:
                return False
        assert until(ready, timeout=20.0), open(tmp_path / "am.log").read()[-2000:]
        alert = {"labels": {"alertname": "UsDown", "gtm_region": "us"},
                 "annotations": {"summary": "synthetic check from outside fails"},
                 "generatorURL": "http://prometheus.test/graph"}
        assert post([alert]) == 200
        assert until(lambda: query_addrs(g, FO) == EU_A, timeout=20.0), \
            open(tmp_path / "am.log").read()[-3000:]
        v = a.get("/v1/verdicts").json["verdicts"]
        assert len(v) == 1 and v[0]["source"].startswith("alertmanager:"), v
        assert "UsDown" in v[0]["reason"] and v[0]["target"] == "region:us", v
        # Resolved: endsAt in the past.
        past = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() - 5))
        assert post([dict(alert, endsAt=past)]) == 200
        assert until(lambda: query_addrs(g, FO) == US_A, timeout=20.0), \
            open(tmp_path / "am.log").read()[-3000:]
        assert a.get("/v1/verdicts").json["verdicts"] == []
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=5)
        log.close()


def test_gtmctl_verdict(srv):
    g, a = srv
    tf = os.path.join(g.workdir, "operate.token")
    env = {"GTMCTL_SERVER": a.url, "GTMCTL_TOKEN_FILE": tf}
    p = gtmctl("verdict", "add", "region:us", "down", "--source", "cli", "--expires", "60",
               "--reason", "by hand", env=env)
    assert p.returncode == 0 and "region:us down from cli" in p.stdout, (p.stdout, p.stderr)
    vid = p.stdout.split()[1].rstrip(":")
    assert serves(g, EU_A)
    p = gtmctl("verdict", "list", env=env)
    assert p.returncode == 0 and vid in p.stdout and "by hand" in p.stdout, p.stdout
    p = gtmctl("--json", "verdict", "list", env=env)
    assert json.loads(p.stdout)["verdicts"][0]["id"] == vid
    assert gtmctl("verdict", "add", "region:us", "down", env=env).returncode == 2
    assert gtmctl("verdict", "add", "region:mars", "down", "--source", "x", "--expires", "5",
                  env=env).returncode == 1
    p = gtmctl("verdict", "rm", vid, env=env)
    assert p.returncode == 0 and "removed" in p.stdout, p.stdout
    assert serves(g, US_A)


def test_gtmctl_verdict_load(srv):
    """gtmctl pushes a load figure (--load) and lists it; the API prints
    it as written, 0.95, not jansson's 17 digits (0.94999999999999996)."""
    g, a = srv
    r = verdict(a, {"endpoint": "web/us2"}, state="up", source="api", load=0.95)
    assert r.status == 201 and b'"load": 0.95' in r.body and b"0.9499" not in r.body, r.body
    env = {"GTMCTL_SERVER": a.url, "GTMCTL_TOKEN_FILE": os.path.join(g.workdir, "operate.token")}
    p = gtmctl("verdict", "add", "endpoint:web/us1", "up", "--source", "lb", "--expires", "60",
               "--load", "0.95", env=env)
    assert p.returncode == 0 and "endpoint:web/us1 up load 0.95 from lb" in p.stdout, (
        p.stdout, p.stderr)
    r = a.get("/v1/verdicts")
    assert b'"load": 0.95' in r.body and b"0.9499" not in r.body, r.body
    assert [v["load"] for v in r.json["verdicts"]] == [0.95, 0.95], r.json
    p = gtmctl("verdict", "list", env=env)
    assert p.returncode == 0 and "up load 0.95 endpoint:web/us1" in " ".join(p.stdout.split()), \
        p.stdout
    st = a.get("/v1/status")
    assert b'"load": 0.95' in st.body and b"0.9499" not in st.body, st.body
    # Not a number: refused before anything is sent; a region has no load.
    p = gtmctl("verdict", "add", "endpoint:web/us1", "up", "--source", "lb", "--expires", "60",
               "--load", "0.9x", env=env)
    assert p.returncode == 2 and "--load takes a number" in p.stderr, p.stderr
    p = gtmctl("verdict", "add", "region:us", "up", "--source", "lb", "--expires", "60",
               "--load", "0.5", env=env)
    assert p.returncode == 1 and "an endpoint's" in p.stderr, p.stderr


# ---- the safety rule (issue #37, finding 4) ---------------------------------

TWO = "two.example.com."


def two_regions(c, workdir):
    """am_section, and a record served from us then eu that answers NODATA
    when both are down (when_all_down empty), as in the finding."""
    am_section(c, workdir)
    c["records"][TWO] = {"pool": "web", "policy": "failover", "regions": ["us", "eu"],
                         "when_all_down": "empty"}


@pytest.fixture
def two(make_gtmd):
    return start(make_gtmd, state_file=True, mutate=two_regions)


def test_alertmanager_cannot_take_the_last_region_down(two):
    """Two firing alerts, one per region of a two-region record, from the
    Alertmanager token: the first is applied (the name moves to eu), the
    second would leave it with no serving region and is refused, listed
    under "unsafe", audited and logged; the name keeps answering from eu.
    On the old code both were applied and the name answered NODATA (this
    test failed there). "bearer" in lower case is accepted on this path."""
    g, a = two
    assert query_addrs(g, TWO) == US_A
    p = am_payload("firing", "1111111111111111", {"gtm_region": "us"}, name="UsDown")
    p["alerts"] += am_payload("firing", "2222222222222222", {"gtm_region": "eu"},
                              name="EuDown")["alerts"]
    r = a.post("/v1/alertmanager", p, token=None,
               headers={"Authorization": "bearer " + AM_TOKEN})
    assert r.status == 200, r
    assert r.json["firing"] == 1 and len(r.json["unsafe"]) == 1, r.json
    refused = r.json["unsafe"][0]
    assert refused["target"] == "region:eu", refused
    assert {"record": TWO, "type": "A"} in refused["records"], refused
    assert until(lambda: query_addrs(g, TWO) == EU_A, timeout=5.0), query_addrs(g, TWO)
    # Sent again (Alertmanager repeats a firing alert): still refused, and
    # the name still answers; so does the operate token on this path.
    for tok in (AM_TOKEN, OPERATE_TOKEN):
        r = a.post("/v1/alertmanager", p, token=tok)
        assert r.status == 200 and [x["target"] for x in r.json["unsafe"]] == ["region:eu"], r
    assert query_addrs(g, TWO) == EU_A
    assert [v["target"] for v in a.get("/v1/verdicts").json["verdicts"]] == ["region:us"]
    line = [x for x in audit_lines(g) if x["path"] == "/v1/alertmanager"][0]
    assert line["token"] == "alertmanager" and line["result"]["unsafe"], line
    assert until(lambda: "event=verdict_refused why=unsafe" in g.read_log(), timeout=5.0)
    # Resolved, the us alert is withdrawn and the name moves back to us.
    # The eu alert sent again is checked again on that state: still
    # refused, for another record now (fo2: eu then ap, and ap has no
    # AAAA), so the rule covers every served record, not one.
    r = a.post("/v1/alertmanager", am_payload("resolved", "1111111111111111",
                                              {"gtm_region": "us"}), token=AM_TOKEN)
    assert r.json["withdrawn"] == 1, r.json
    assert until(lambda: query_addrs(g, TWO) == US_A, timeout=5.0)
    r = a.post("/v1/alertmanager", am_payload("firing", "2222222222222222",
                                              {"gtm_region": "eu"}), token=AM_TOKEN)
    assert r.json["firing"] == 0 and r.json["unsafe"] == [{"target": "region:eu", "records": [
        {"record": "fo2.example.com.", "type": "AAAA"}]}], json.dumps(r.json)
    assert a.get("/v1/verdicts").json["verdicts"] == []


def test_verdict_api_keeps_the_last_region_serving(two):
    """POST /v1/verdicts: a down verdict that would leave a served record
    with no serving region is 409 unsafe (as an override is), unless
    "force": true. On the old code the second verdict was applied and
    two.example.com. answered NODATA (this test failed there)."""
    g, a = two
    assert verdict(a, {"region": "us"}, source="mon-us").status == 201
    assert serves(g, EU_A, name=TWO)
    r = verdict(a, {"region": "eu"}, source="mon-eu")
    assert r.status == 409 and r.code == "unsafe", r
    assert {"record": TWO, "type": "A"} in r.json["error"]["records"], r.json
    assert "force" in r.json["error"]["message"], r.json
    assert query_addrs(g, TWO) == EU_A
    assert [v["source"] for v in a.get("/v1/verdicts").json["verdicts"]] == ["mon-us"]
    # An endpoint verdict that empties the last region is the same.
    r = verdict(a, {"endpoint": "web/eu1"}, source="mon-eu1")
    assert r.status == 409 and r.code == "unsafe", r
    # An operator's "up" override on eu outranks verdicts: then it is safe.
    ovr = a.override("region:eu", state="up").json["id"]
    assert verdict(a, {"region": "eu"}, source="mon-eu").status == 201
    assert query_addrs(g, TWO) == EU_A
    assert a.delete("/v1/overrides/" + ovr + "?force=true").status == 200
    assert until(lambda: g.query(TWO).answer == [], timeout=5.0)
    assert verdict(a, {"region": "eu"}, source="mon-eu", state="up").status == 200
    assert serves(g, EU_A, name=TWO)
    # force: the operator's choice, audited and logged.
    r = verdict(a, {"region": "eu"}, source="mon-eu", force=True)
    assert r.status == 200, r
    assert until(lambda: g.query(TWO).answer == [], timeout=5.0)
    assert until(lambda: "event=verdict_forced" in g.read_log(), timeout=5.0)
    assert verdict(a, {"region": "eu"}, source="x", force="yes").status == 400
    lines = [x for x in audit_lines(g) if x["path"] == "/v1/verdicts"]
    assert [x["status"] for x in lines].count(409) == 2, lines

"""gtmd's admin REST/JSON API against the real binary: the contract of every
endpoint, the auth matrix, bad requests, overrides and their effect on DNS
answers, persistence across restarts and SIGKILL, the audit log, explain
agreeing with what the DNS port answers, /metrics, and admin load not
slowing DNS.

The policy set and helpers are in adminlib.py (unchecked pools: every
endpoint is up unless an override says otherwise). Every wait is bounded."""
import json
import os
import random
import re
import shutil
import signal
import socket
import statistics
import subprocess
import tempfile
import threading
import time
import urllib.parse

import dns.edns
import dns.flags
import dns.message
import dns.query
import dns.rcode
import dns.rdata
import dns.rdatatype
import pytest
from prometheus_client.parser import text_string_to_metric_families

from adminlib import (AP_A, EU_A, EU_AAAA, OPERATE_TOKEN, READ_TOKEN, US_A, US_AAAA, Admin,
                      audit_lines, config_fn, restart, start)
from backends import backends, free_port_on, poll, query_addrs  # noqa: F401
from conftest import GTMD, Gtmd, default_config, free_port

PYTHON = "/usr/bin/python3"


def fo(g, rdtype="A"):
    return query_addrs(g, "fo.example.com.", rdtype)


def assert_alive(g):
    """gtmd still runs and DNS still answers from the policy set."""
    assert g.proc.poll() is None, "gtmd died:\n" + g.read_log()[-3000:]
    assert query_addrs(g, "www.example.com.", timeout=1.0) == ["192.0.2.80", "192.0.2.81"]


def assert_error(r, status, code=None):
    assert r.status == status, r
    assert r.headers.get("content-type", "").startswith("application/json"), r.headers
    assert isinstance(r.json, dict) and set(r.json) == {"error"}, r
    err = r.json["error"]
    assert isinstance(err.get("code"), str) and err["code"], r
    assert isinstance(err.get("message"), str) and err["message"], r
    if code:
        assert err["code"] == code, r


@pytest.fixture(scope="module")
def shared():
    """One gtmd for the read-only and refused-request tests."""
    workdir = tempfile.mkdtemp(prefix="gtmd-adm-")
    port = free_port()
    g = Gtmd(workdir, config_fn()(workdir, port), port)
    g.start()
    a = Admin.of(g).wait_ready()
    yield g, a
    g.stop()
    shutil.rmtree(workdir, ignore_errors=True)


# ---- contracts -------------------------------------------------------------

def test_health_needs_no_token(shared):
    g, a = shared
    for token in (None, "wrong-token-0123456789", READ_TOKEN, OPERATE_TOKEN):
        r = a.get("/v1/health", token=token)
        assert r.status == 200, r
        assert r.headers["content-type"].startswith("application/json")
        assert r.json == {"status": "serving"}


def test_status_contract(make_gtmd):
    g, a = start(make_gtmd)
    fo(g)
    r = a.get("/v1/status", token=READ_TOKEN)
    assert r.status == 200, r
    s = r.json
    assert set(s) >= {"server", "zones", "regions", "records", "overrides"}
    srv = s["server"]
    assert isinstance(srv["version"], str) and srv["version"]
    assert srv["uptime_s"] >= 0 and srv["config_generation"] == 1 and srv["workers"] == 2
    assert srv["queries"]["udp"] >= 1 and srv["queries"]["tcp"] >= 0
    assert srv["active_overrides"] == 0
    zones = {z["origin"]: z for z in s["zones"]}
    assert zones["example.com."]["serial"] == 2026112201
    assert zones["sub.example.com."]["serial"] == 7 and zones["sub.example.com."]["records"] > 0
    regions = {x["name"]: x for x in s["regions"]}
    assert list(regions) == ["us", "eu", "ap"]
    us = regions["us"]
    assert us["state"]["override"] is None
    assert [z["name"] for z in us["azs"]] == ["us-1a", "us-1b"]
    az_eps = {z["name"]: [e["name"] for e in z["endpoints"]] for z in us["azs"]}
    assert az_eps == {"us-1a": ["us1"], "us-1b": ["us2"]}
    assert "us6" in [e["name"] for e in us["endpoints"]]  # no az: under the region
    assert us["pools"]["web"] == {"state": "up", "healthy": 3, "total": 3, "min_healthy": 1}
    e = us["azs"][0]["endpoints"][0]
    assert e["pool"] == "web" and e["answer"] == "192.0.2.10" and e["region"] == "us"
    assert e["az"] == "us-1a" and e["checked"] is False
    assert {"probe", "override", "effective"} <= set(e["state"])
    assert e["state"]["probe"] == "up" and e["state"]["override"] is None
    assert e["state"]["effective"] == "up"
    recs = {x["name"]: x for x in s["records"]}
    assert recs["fo.example.com."]["pool"] == "web"
    assert recs["fo.example.com."]["policy"] == "failover"
    assert recs["fo.example.com."]["regions"] == ["us", "eu", "ap"]
    assert recs["fo.example.com."]["ttl"] == 10
    assert recs["hs.example.com."]["select"] == "hashed"
    assert s["overrides"] == []

    # ?sections=: only the sections named (at 1,000,000 names "records"
    # is some 217 MB of the status); a name it does not know is a 400.
    r = a.get("/v1/status?sections=server,regions", token=READ_TOKEN)
    assert r.status == 200 and set(r.json) == {"server", "regions"}, r.json.keys()
    assert r.json["server"]["config_generation"] == 1 and r.json["regions"] == s["regions"]
    r = a.get("/v1/status?sections=fleet", token=READ_TOKEN)
    assert r.status == 200 and r.json == {"fleet": s["fleet"]}, r.json
    r = a.get("/v1/status?sections=server,recordz", token=READ_TOKEN)
    assert r.status == 400 and "recordz" in r.json["error"]["message"], r.json
    assert a.get("/v1/status?sections=", token=READ_TOKEN).json == {}
    r = a.get("/v1/status?sections=fleet,", token=READ_TOKEN)  # a trailing comma
    assert r.status == 200 and set(r.json) == {"fleet"}, r.json
    r = a.get("/v1/status?sections=" + "x" * 2000, token=READ_TOKEN)
    assert r.status == 400 and "x" * 64 + '"' in r.json["error"]["message"], r.json
    assert "server, zones" in r.json["error"]["message"], r.json

    o = a.override("region:us", reason="status contract").json
    s = a.get("/v1/status", token=READ_TOKEN).json
    assert s["server"]["active_overrides"] == 1
    assert [x["id"] for x in s["overrides"]] == [o["id"]]
    us = {x["name"]: x for x in s["regions"]}["us"]
    assert us["state"]["override"] == "down"
    assert us["state"]["override_detail"]["id"] == o["id"]
    assert us["pools"]["web"]["state"] == "down"
    for z in us["azs"]:
        for e in z["endpoints"]:
            assert e["state"]["probe"] == "up" and e["state"]["effective"] == "down", e
    eu = {x["name"]: x for x in s["regions"]}["eu"]
    assert all(e["state"]["effective"] == "up" for e in eu["endpoints"])


def test_explain_contract(shared):
    g, a = shared
    r = a.get("/v1/explain?name=fo.example.com.&type=A", token=READ_TOKEN)
    assert r.status == 200, r
    x = r.json
    assert x["query"] == {"name": "fo.example.com.", "type": "A", "client": "127.0.0.1",
                          "ecs": None}
    assert x["zone"] == "example.com." and x["config_generation"] == 1
    p = x["policy"]
    assert p["record"]["name"] == "fo.example.com." and p["record"]["policy"] == "failover"
    assert p["regions"][0]["region"] == "us" and p["regions"][0]["serving"] is True
    assert p["regions"][0]["state"] == "up"
    assert p["outcome"] == "served" and p["ttl"] == 10 and p["ecs_scope"] == 0
    assert sorted(p["selection"]["chosen"]) == US_A
    assert {e["name"] for e in p["endpoints"]} == {"us1", "us2", "eu1", "ap1"}  # type A only
    assert all({"probe", "override", "effective"} <= set(e["state"]) for e in p["endpoints"])
    rep = x["reply"]
    assert rep["rcode"] == "NOERROR" and rep["aa"] is True and rep["tc"] is False
    assert sorted(line.split()[-1] for line in rep["answer"]) == US_A
    assert all(line.split()[1] == "10" for line in rep["answer"])

    # Static data: no policy, the zone's answer.
    x = a.get("/v1/explain?name=nope.example.com.&type=AAAA", token=READ_TOKEN).json
    assert x["policy"] is None and x["reply"]["rcode"] == "NXDOMAIN"
    assert x["reply"]["answer"] == [] and "SOA" in x["reply"]["authority"][0]
    # Hashed with client and ECS: scope 24, one answer.
    x = a.get("/v1/explain?name=hs.example.com.&client=10.1.2.3&ecs=10.9.9.0/24",
              token=READ_TOKEN).json
    assert x["query"]["client"] == "10.1.2.3" and x["query"]["ecs"] == "10.9.9.0/24"
    assert x["policy"]["selection"]["select"] == "hashed"
    assert x["policy"]["ecs_scope"] == 24 and len(x["reply"]["answer"]) == 1
    # Bad arguments: 400 with a JSON error.
    for q in ("", "?name=" + "a" * 300, "?name=fo.example.com.&type=BOGUS",
              "?name=fo.example.com.&client=not-an-ip", "?name=fo.example.com.&ecs=10.0.0.1",
              "?name=fo.example.com.&ecs=10.0.0.0/33", "?name=fo.example.com.&ecs=zz/24"):
        assert_error(a.get("/v1/explain" + q, token=READ_TOKEN), 400, "bad_request")
    assert_alive(g)


def test_explain_shows_override_in_trace(make_gtmd):
    g, a = start(make_gtmd)
    o = a.override("region:us", reason="trace").json
    x = a.get("/v1/explain?name=fo.example.com.", token=READ_TOKEN).json
    regs = x["policy"]["regions"]
    assert regs[0]["region"] == "us" and regs[0]["state"] == "down"
    assert regs[0]["serving"] is False and "override" in regs[0]["why"]
    assert regs[1]["region"] == "eu" and regs[1]["serving"] is True
    assert x["policy"]["selection"]["chosen"] == EU_A
    us1 = [e for e in x["policy"]["endpoints"] if e["name"] == "us1"][0]
    assert us1["state"]["probe"] == "up" and us1["state"]["effective"] == "down"
    assert [line.split()[-1] for line in x["reply"]["answer"]] == EU_A
    assert o["id"]


def test_overrides_crud_contract(make_gtmd):
    g, a = start(make_gtmd)
    assert a.get("/v1/overrides", token=READ_TOKEN).json == {"overrides": []}
    t0 = time.time()
    r = a.override("region:us", reason="maintenance #42")
    assert r.status == 201, r
    o = r.json
    # The log's key for the operator's reason is why=, as on every line.
    assert re.search(r'event=override_add id=%s target="region:us" state=down .* '
                     r'why="maintenance #42"' % o["id"], g.read_log()), g.read_log()[-2000:]
    assert re.fullmatch(r"ovr-\d+", o["id"]), o
    assert o["target"] == "region:us" and o["state"] == "down"
    assert o["reason"] == "maintenance #42" and o["author"] == "operate"
    assert abs(o["created"] - t0) < 5 and o["expires"] is None
    assert any(c["record"] == "fo.example.com." for c in o["changes"])
    r2 = a.override("endpoint:web/eu1", state="up", reason="pin", expires_in=600)
    assert r2.status == 201, r2
    o2 = r2.json
    assert o2["expires"] == pytest.approx(o2["created"] + 600, abs=2)
    lst = a.get("/v1/overrides", token=READ_TOKEN).json["overrides"]
    assert [x["id"] for x in lst] == [o2["id"], o["id"]]  # newest first
    one = a.get("/v1/overrides/" + o["id"], token=READ_TOKEN)
    assert one.status == 200, one
    assert {k: v for k, v in o.items() if k != "changes"} == one.json
    d = a.delete("/v1/overrides/" + o["id"])
    assert d.status == 200 and d.json == {"deleted": o["id"]}, d
    assert_error(a.get("/v1/overrides/" + o["id"]), 404, "not_found")
    assert_error(a.delete("/v1/overrides/" + o["id"]), 404, "not_found")
    assert [x["id"] for x in a.overrides()] == [o2["id"]]


@pytest.mark.threads
def test_reload_ok_and_failed(make_gtmd):
    g, a = start(make_gtmd)
    r = a.post("/v1/reload")
    assert r.status == 200, r
    assert r.json["result"] == "ok" and r.json["generation"] == 2
    assert {z["origin"]: z["change"] for z in r.json["zones"]} == {
        "example.com.": "same serial", "sub.example.com.": "same serial"}
    # A zone change shows up per zone.
    zf = os.path.join(g.workdir, "sub.example.com.zone")
    with open(zf) as f:
        text = f.read()
    with open(zf, "w") as f:
        f.write(text.replace(" 7 3600", " 8 3600") + "new     IN A   192.0.2.154\n")
    r = a.post("/v1/reload")
    assert r.status == 200 and r.json["generation"] == 3, r
    ch = {z["origin"]: z for z in r.json["zones"]}
    assert ch["sub.example.com."]["change"] == "serial changed"
    assert ch["sub.example.com."]["serial"] == 8
    assert ch["example.com."]["change"] == "same serial"
    assert query_addrs(g, "new.sub.example.com.") == ["192.0.2.154"]
    # A broken config: 422, the errors, and the old set keeps serving.
    good = json.loads(json.dumps(g.config))
    bad = json.loads(json.dumps(good))
    bad["records"]["fo.example.com."]["ttl"] = "ten"
    g.write_config(bad)
    r = a.post("/v1/reload")
    assert r.status == 422, r
    assert r.json["result"] == "failed" and r.json["generation"] == 3
    assert isinstance(r.json["errors"], list) and r.json["errors"]
    assert any('fo.example.com.' in e and "ttl" in e for e in r.json["errors"]), r.json
    assert a.get("/v1/status").json["server"]["config_generation"] == 3
    assert fo(g) == US_A and query_addrs(g, "new.sub.example.com.") == ["192.0.2.154"]
    # A broken zone file: same.
    g.write_config(good)
    with open(zf, "a") as f:
        f.write("broken  IN A   300.1.2.3\n")
    r = a.post("/v1/reload")
    assert r.status == 422 and r.json["result"] == "failed", r
    assert any("sub.example.com.zone" in e for e in r.json["errors"]), r.json
    assert query_addrs(g, "new.sub.example.com.") == ["192.0.2.154"]
    with open(zf, "w") as f:
        f.write(text)
    r = a.post("/v1/reload")
    assert r.status == 200 and r.json["generation"] == 4, r
    assert query_addrs(g, "new.sub.example.com.") == []
    assert_alive(g)


# ---- auth ------------------------------------------------------------------

AUTH_CALLS = [
    ("GET", "/v1/status", None, "read"),
    ("GET", "/v1/explain?name=fo.example.com.", None, "read"),
    ("GET", "/v1/overrides", None, "read"),
    ("GET", "/v1/overrides/ovr-424242", None, "read"),
    ("GET", "/metrics", None, "read"),
    ("POST", "/v1/overrides", {"target": "region:us", "state": "down", "reason": "auth",
                               "dry_run": True}, "operate"),
    ("DELETE", "/v1/overrides/ovr-424242", None, "operate"),
    ("POST", "/v1/reload", None, "operate"),
]


def test_auth_matrix(make_gtmd):
    g, a = start(make_gtmd)
    bad_tokens = [None, "wrong-token-0123456789abcdef", READ_TOKEN[:-1], OPERATE_TOKEN + "x",
                  "", OPERATE_TOKEN.upper()]
    problems = []
    for method, path, body, need in AUTH_CALLS:
        for tok in bad_tokens:
            r = a.call(method, path, body=body, token=tok)
            if r.status != 401 or r.code != "unauthorized" or \
                    not r.headers.get("www-authenticate", "").startswith("Bearer"):
                problems.append(("bad token %r" % tok, method, path, r))
        # Not a bearer scheme.
        r = a.call(method, path, body=body, token=None,
                   headers={"Authorization": "Basic " + OPERATE_TOKEN})
        if r.status != 401:
            problems.append(("basic", method, path, r))
        r = a.call(method, path, body=body, token=READ_TOKEN)
        if need == "read" and r.status in (401, 403):
            problems.append(("read token refused", method, path, r))
        if need == "operate" and (r.status != 403 or r.code != "forbidden"):
            problems.append(("read token allowed to mutate", method, path, r))
        r = a.call(method, path, body=body, token=OPERATE_TOKEN)
        if r.status in (401, 403) or r.status >= 500:
            problems.append(("operate token refused", method, path, r))
    assert not problems, "\n".join(map(str, problems))
    # The refusals changed nothing; only the operate reload ran.
    assert a.overrides() == []
    assert a.get("/v1/status").json["server"]["config_generation"] == 2
    for tok in (None, "nope"):
        assert a.get("/v1/health", token=tok).status == 200
    assert_alive(g)


def write_check_config(workdir, listen, read=True, operate=True, short=False, mode=0o600):
    c = default_config(workdir, free_port())
    adm = {"listen": listen}
    if read:
        with open(os.path.join(workdir, "r.tok"), "w") as f:
            f.write(("short" if short else READ_TOKEN) + "\n")
        os.chmod(os.path.join(workdir, "r.tok"), mode)
        adm["read_token_file"] = "r.tok"
    if operate:
        with open(os.path.join(workdir, "o.tok"), "w") as f:
            f.write(OPERATE_TOKEN + "\n")
        os.chmod(os.path.join(workdir, "o.tok"), 0o600)
        adm["operate_token_file"] = "o.tok"
    c["admin"] = adm
    path = os.path.join(workdir, "gtmd.json")
    with open(path, "w") as f:
        json.dump(c, f)
    return path


CHECK_CASES = [
    # (listen, read token, operate token, short read token, exit, error path)
    ("192.0.2.1:8053", False, False, False, 1, r"\$\.admin\.listen\[0\]"),
    (["127.0.0.1:18999", "192.0.2.1:8053"], False, False, False, 1, r"\$\.admin\.listen\[1\]"),
    ("[2001:db8::1]:8053", False, False, False, 1, r"\$\.admin\.listen\[0\]"),
    ("0.0.0.0:8053", True, False, False, 1, r"\$\.admin\.listen\[0\]"),
    ("192.0.2.1:8053", False, True, False, 1, r"\$\.admin\.listen\[0\]"),
    ("192.0.2.1:8053", True, True, True, 1, r"\$\.admin\.read_token_file"),
    ("unix:relative.sock", False, False, False, 1, r"\$\.admin\.listen\[0\]"),
    ("192.0.2.1:8053", True, True, False, 0, None),
    # A TCP listener on loopback needs both tokens too: without them every
    # local user could operate gtmd. Only a unix socket (mode 0600) may go
    # without tokens.
    ("127.0.0.1:18999", False, False, False, 1, r"\$\.admin\.listen\[0\]"),
    ("127.3.4.5:18999", False, False, False, 1, r"\$\.admin\.listen\[0\]"),
    ("[::1]:18999", False, False, False, 1, r"\$\.admin\.listen\[0\]"),
    ("127.0.0.1:18999", True, False, False, 1, r"\$\.admin\.listen\[0\]"),
    ("127.0.0.1:18999", True, True, False, 0, None),
    ("unix:/tmp/gtmd-never-bound.sock", False, False, False, 0, None),
    (["unix:/tmp/gtmd-never-bound.sock", "127.0.0.1:18999"], False, False, False, 1,
     r"\$\.admin\.listen\[1\]"),
]


@pytest.mark.parametrize("listen,read,operate,short,rc,path", CHECK_CASES)
def test_check_admin_listen_needs_tokens_outside_loopback(listen, read, operate, short, rc, path):
    workdir = tempfile.mkdtemp(prefix="gtmd-adm-chk-")
    try:
        cfg = write_check_config(workdir, listen, read, operate, short)
        p = subprocess.run([GTMD, "check", "-c", cfg], capture_output=True, text=True,
                           timeout=20)
        assert p.returncode == rc, (p.returncode, p.stdout, p.stderr)
        if path:
            assert re.search(path, p.stderr), p.stderr
            if "listen" in path and not short and "unix" not in str(listen):
                assert "read_token_file" in p.stderr and "operate_token_file" in p.stderr
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


@pytest.mark.parametrize("mode,ok", [(0o600, True), (0o400, True), (0o640, False),
                                     (0o644, False), (0o604, False), (0o620, False),
                                     (0o602, False)])
def test_check_token_file_permissions(mode, ok):
    """Token files readable or writable by group or others are refused,
    as ssh refuses such a private key, with the mode and the fix."""
    workdir = tempfile.mkdtemp(prefix="gtmd-adm-tok-")
    try:
        cfg = write_check_config(workdir, "127.0.0.1:18999", mode=mode)
        p = subprocess.run([GTMD, "check", "-c", cfg], capture_output=True, text=True,
                           timeout=20)
        if ok:
            assert p.returncode == 0, (oct(mode), p.stderr)
        else:
            assert p.returncode == 1, (oct(mode), p.stderr)
            assert "$.admin.read_token_file" in p.stderr, p.stderr
            assert "has mode %04o" % mode in p.stderr and "chmod 600" in p.stderr, p.stderr
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


def test_token_file_errors_say_why():
    workdir = tempfile.mkdtemp(prefix="gtmd-adm-tok-")
    tok = os.path.join(workdir, "r.tok")

    def check():
        p = subprocess.run([GTMD, "check", "-c", cfg], capture_output=True, text=True,
                           timeout=20)
        assert p.returncode == 1 and "$.admin.read_token_file" in p.stderr, p.stderr
        assert tok in p.stderr, p.stderr
        return p.stderr

    try:
        cfg = write_check_config(workdir, "127.0.0.1:18999")
        os.unlink(tok)
        assert "No such file or directory" in check()
        os.mkdir(tok)
        assert "not a regular file" in check()
        os.rmdir(tok)
        for content, needle in ((b"", "is empty"), (b"\n" + READ_TOKEN.encode(), "is empty"),
                                (b"short\n", "too short")):
            with open(tok, "wb") as f:
                f.write(content)
            os.chmod(tok, 0o600)
            err = check()
            assert needle in err and "at least 16 characters" in err, (content, err)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


def test_daemon_refuses_non_loopback_listener_without_tokens():
    workdir = tempfile.mkdtemp(prefix="gtmd-adm-run-")
    try:
        cfg = write_check_config(workdir, "192.0.2.1:8053", read=False, operate=False)
        p = subprocess.run([GTMD, "-c", cfg], capture_output=True, text=True, timeout=20)
        assert p.returncode == 1, (p.returncode, p.stderr)
        assert "$.admin.listen[0]" in p.stderr
        assert "event=admin_listen" not in p.stderr
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


def test_unix_socket_listener(make_gtmd):
    def stale(c, workdir):
        # A socket left by a killed gtmd: bound, nobody listening any more.
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.bind(os.path.join(workdir, "adm.sock"))
        s.close()

    g, a = start(make_gtmd, unix=True, mutate=stale)
    st = os.stat(a.unix)
    import stat as stat_mod
    assert stat_mod.S_ISSOCK(st.st_mode), oct(st.st_mode)
    assert stat_mod.S_IMODE(st.st_mode) == 0o600, oct(st.st_mode)
    r = a.get("/v1/health", token=None, via_unix=True)
    assert r.status == 200 and r.json == {"status": "serving"}
    assert_error(a.get("/v1/status", token=None, via_unix=True), 401, "unauthorized")
    assert a.get("/v1/status", token=READ_TOKEN, via_unix=True).status == 200
    r = a.call("POST", "/v1/overrides", body={"target": "region:us", "state": "down",
                                              "reason": "via unix"}, via_unix=True)
    assert r.status == 201, r
    assert fo(g) == EU_A
    lines = audit_lines(g)
    assert len(lines) == 1 and lines[0]["status"] == 201 and lines[0]["token"] == "operate"
    g.stop()
    assert not os.path.exists(a.unix), "unix socket left behind after stop"


@pytest.mark.parametrize("what", ["file", "directory", "live-socket"])
def test_unix_listener_removes_only_a_stale_socket(make_gtmd, what):
    """Only a socket nobody listens on may be removed; a file, a directory
    or a socket a running process listens on is an error and stays."""
    live = []

    def in_the_way(c, workdir):
        path = os.path.join(workdir, "adm.sock")
        if what == "file":
            with open(path, "w") as f:
                f.write("precious\n")
        elif what == "directory":
            os.mkdir(path)
        else:
            s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            s.bind(path)
            s.listen(1)
            live.append(s)

    g = make_gtmd(config_fn(unix=True, mutate=in_the_way), start=False)
    try:
        g.write_config()
        p = subprocess.run([GTMD, "-c", g.conf_path], capture_output=True, text=True,
                           timeout=30)
        assert p.returncode == 1, (p.returncode, p.stderr[-2000:])
        path = os.path.join(g.workdir, "adm.sock")
        assert "admin: cannot listen on unix:" + path in p.stderr, p.stderr[-2000:]
        assert ("not a socket" if what != "live-socket" else "a running process listens") \
            in p.stderr, p.stderr[-2000:]
        if what == "file":
            with open(path) as f:
                assert f.read() == "precious\n"
        elif what == "directory":
            assert os.path.isdir(path)
        else:
            import stat as stat_mod
            assert stat_mod.S_ISSOCK(os.stat(path).st_mode)
            c = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            c.connect(path)  # still the other process's socket
            c.close()
    finally:
        for s in live:
            s.close()


def test_unix_socket_without_tokens_is_operate(make_gtmd):
    g, a = start(make_gtmd, unix=True, tcp=False, tokens=False)
    r = a.call("GET", "/v1/status", token=None, via_unix=True)
    assert r.status == 200, r
    r = a.call("POST", "/v1/overrides", body={"target": "region:us", "state": "down",
                                              "reason": "no tokens"},
               token=None, via_unix=True)
    assert r.status == 201 and r.json["author"] == "none", r
    assert fo(g) == EU_A


# ---- bad requests ------------------------------------------------------------

def deep(n):
    return '{"target":"region:us","state":"down","reason":"x","x":' + "[" * n + "]" * n + "}"


OVR = "/v1/overrides"
BAD_REQUESTS = [
    # (id, method, path, raw body, status, code)
    ("malformed", "POST", OVR, b'{"target": "region:us", ', 400, "bad_json"),
    ("not-json", "POST", OVR, b"target=region:us", 400, "bad_json"),
    ("array-body", "POST", OVR, b'["region:us"]', 400, "bad_request"),
    ("string-body", "POST", OVR, b'"region:us"', 400, None),
    ("state-5", "POST", OVR, b'{"target":"region:us","state":5,"reason":"x"}', 400, "bad_request"),
    ("state-bogus", "POST", OVR, b'{"target":"region:us","state":"sideways","reason":"x"}',
     400, "bad_request"),
    ("reason-empty", "POST", OVR, b'{"target":"region:us","state":"down","reason":""}',
     400, "bad_request"),
    ("reason-missing", "POST", OVR, b'{"target":"region:us","state":"down"}', 400,
     "bad_request"),
    ("reason-long", "POST", OVR, ('{"target":"region:us","state":"down","reason":"%s"}'
                                  % ("r" * 1025)).encode(), 400, "bad_request"),
    ("target-number", "POST", OVR, b'{"target":7,"state":"down","reason":"x"}', 400,
     "bad_request"),
    ("expires-neg", "POST", OVR,
     b'{"target":"region:us","state":"down","reason":"x","expires_in":-1}', 400, "bad_request"),
    ("expires-zero", "POST", OVR,
     b'{"target":"region:us","state":"down","reason":"x","expires_in":0}', 400, "bad_request"),
    ("expires-string", "POST", OVR,
     b'{"target":"region:us","state":"down","reason":"x","expires_in":"5"}', 400,
     "bad_request"),
    ("expires-huge", "POST", OVR,
     b'{"target":"region:us","state":"down","reason":"x","expires_in":1e12}', 400,
     "bad_request"),
    ("dry-run-yes", "POST", OVR,
     b'{"target":"region:us","state":"down","reason":"x","dry_run":"yes"}', 400, "bad_request"),
    ("force-1", "POST", OVR,
     b'{"target":"region:us","state":"down","reason":"x","force":1}', 400, "bad_request"),
    ("unknown-key", "POST", OVR,
     b'{"target":"region:us","state":"down","reason":"x","colour":"red"}', 400, "bad_request"),
    ("duplicate-key", "POST", OVR,
     b'{"target":"region:eu","state":"down","reason":"x","target":"region:us"}', 400,
     "bad_json"),
    ("depth-100", "POST", OVR, deep(100).encode(), 400, "bad_request"),
    ("depth-5000", "POST", OVR, deep(5000).encode(), 400, None),
    ("invalid-utf8", "POST", OVR, b'{"target":"region:us","state":"down","reason":"\xff\xfe"}',
     400, "bad_json"),
    ("nul-byte", "POST", OVR, b'{"target":"region:us","state":"down","reason":"a\x00b"}',
     400, "bad_json"),
    ("unknown-target", "POST", OVR, b'{"target":"region:mars","state":"down","reason":"x"}',
     404, "unknown_target"),
    ("target-no-kind", "POST", OVR, b'{"target":"us","state":"down","reason":"x"}', 404,
     "unknown_target"),
    ("reload-bad-json", "POST", "/v1/reload", b"{", 400, "bad_json"),
    ("get-unknown-id", "GET", OVR + "/ovr-999999", None, 404, "not_found"),
    ("delete-unknown-id", "DELETE", OVR + "/ovr-999999", None, 404, "not_found"),
    ("delete-empty-id", "DELETE", OVR + "/", None, 404, "not_found"),
    ("query-no-equals", "GET", "/v1/explain?name=fo.example.com.&foo", None, 400,
     "bad_request"),
    ("status-query-no-equals", "GET", "/v1/status?foo", None, 400, "bad_request"),
    ("unknown-path", "GET", "/v1/nothing", None, 404, "not_found"),
    ("unknown-path-root", "GET", "/", None, 404, "not_found"),
    ("unknown-path-v2", "GET", "/v2/status", None, 404, "not_found"),
    ("delete-status", "DELETE", "/v1/status", None, 405, "method_not_allowed"),
    ("get-reload", "GET", "/v1/reload", None, 405, "method_not_allowed"),
    ("post-override-id", "POST", OVR + "/ovr-1", b"{}", 405, "method_not_allowed"),
    ("delete-collection", "DELETE", OVR, None, 405, "method_not_allowed"),
    ("post-metrics", "POST", "/metrics", b"{}", 405, "method_not_allowed"),
]


@pytest.mark.parametrize("case", BAD_REQUESTS, ids=[c[0] for c in BAD_REQUESTS])
def test_bad_request(shared, case):
    g, a = shared
    _, method, path, raw, status, code = case
    r = a.call(method, path, raw=raw)
    assert_error(r, status, code)
    assert a.overrides() == []
    assert_alive(g)


@pytest.mark.parametrize("method", ["PATCH", "OPTIONS", "HEAD"])
def test_method_outside_get_post_delete(shared, method):
    """Documented (admin-api.md, Limits): any method other than GET, POST,
    PUT (the configuration's resources) and DELETE gets 501 Not
    Implemented, with a JSON error body."""
    g, a = shared
    r = a.call(method, "/v1/overrides", raw=b"{}" if method != "HEAD" else None)
    assert r.status == 501, r
    assert r.headers["content-type"].startswith("application/json"), r.headers
    if method != "HEAD":
        assert_error(r, 501, "not_implemented")
    assert a.overrides() == []
    assert_alive(g)


def test_put_outside_the_configuration_is_405(shared):
    g, a = shared
    assert_error(a.call("PUT", "/v1/overrides", raw=b"{}"), 405, "method_not_allowed")
    assert a.overrides() == []
    assert_alive(g)


def test_post_health_is_not_a_route(shared):
    g, a = shared
    assert_error(a.post("/v1/health", token=None), 404, "not_found")


def test_body_depth_limit_is_32(shared):
    """An object holding a 31-level array is the deepest body allowed."""
    g, a = shared

    def body(levels):
        return ('{"target":"region:us","state":"down","reason":"x","expires_in":' +
                "[" * levels + "]" * levels + "}").encode()

    r = a.call("POST", OVR, raw=body(31))
    assert_error(r, 400, "bad_request")
    assert "expires_in" in r.json["error"]["message"], r  # parsed, then refused
    r = a.call("POST", OVR, raw=body(32))
    assert_error(r, 400, "bad_request")
    assert "deeper than 32" in r.json["error"]["message"], r
    assert_alive(g)


def raw_http(a, data, timeout=5.0):
    """Sends raw octets; returns what came back up to the end of the reply
    header (b"" when the server reset the connection)."""
    s = socket.create_connection(("127.0.0.1", a.port), timeout=timeout)
    out = b""
    try:
        s.sendall(data)
        while b"\r\n\r\n" not in out and len(out) < 65536:
            d = s.recv(65536)
            if not d:
                break
            out += d
    except (ConnectionResetError, BrokenPipeError):
        pass
    finally:
        s.close()
    return out


def test_body_limit(shared):
    g, a = shared
    # Exactly admin.max_body's default (8 MiB) is accepted (padding after
    # the object).
    obj = b'{"target":"region:us","state":"down","reason":"exactly 8 MiB"}'
    body = obj + b" " * (8 * 1024 * 1024 - len(obj))
    r = a.call("POST", OVR, raw=body, timeout=10)
    assert r.status == 201, r
    assert a.delete(OVR + "/" + r.json["id"]).status == 200
    # One octet more: 413 from evhttp (the header alone is enough).
    head = ("POST /v1/overrides HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer %s\r\n"
            "Content-Type: application/json\r\nContent-Length: %d\r\n\r\n"
            % (OPERATE_TOKEN, 8 * 1024 * 1024 + 1)).encode()
    out = raw_http(a, head)
    assert out.startswith(b"HTTP/1.1 413"), out[:200]
    assert b"Content-Type: application/json" in out, out[:400]
    # A huge header block is refused too, and nothing dies.
    out = raw_http(a, b"GET /v1/health HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * 70000 +
                   b"\r\n\r\n")
    assert out == b"" or out.split(b" ")[1][:1] == b"4", out[:200]
    assert a.overrides() == []
    assert_alive(g)


def test_garbage_on_the_admin_port(shared):
    g, a = shared
    for junk in (b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03" + os.urandom(64),
                 b"NOT HTTP AT ALL\r\n\r\n", b"GET /v1/health HTTP/9.9\r\n\r\n",
                 b"GET " + b"/x" * 5000 + b" HTTP/1.1\r\n\r\n"):
        try:
            raw_http(a, junk, timeout=3)
        except OSError:
            pass
    assert a.get("/v1/health", token=None).status == 200
    assert_alive(g)


# ---- overrides and DNS ---------------------------------------------------------

@pytest.mark.threads
def test_region_override_flips_next_query(make_gtmd):
    g, a = start(make_gtmd)
    assert fo(g) == US_A and fo(g, "AAAA") == US_AAAA
    for _ in range(3):
        r = a.override("region:us", reason="drain us")
        assert r.status == 201, r
        assert fo(g) == EU_A  # the very next query
        assert fo(g, "AAAA") == EU_AAAA
        assert query_addrs(g, "cn.example.com.", "CNAME") == ["mail.example.com."]
        d = a.delete(OVR + "/" + r.json["id"])
        assert d.status == 200, d
        assert fo(g) == US_A  # the very next query
        assert fo(g, "AAAA") == US_AAAA
        assert query_addrs(g, "cn.example.com.", "CNAME") == ["www.example.com."]


def test_override_expires_on_time(make_gtmd):
    g, a = start(make_gtmd, state_file=True)
    t0 = time.monotonic()
    r = a.override("region:us", reason="short", expires_in=1.0)
    assert r.status == 201, r
    assert r.json["expires"] == pytest.approx(r.json["created"] + 1.0, abs=0.01)
    assert fo(g) == EU_A
    ok, _ = poll(lambda: fo(g) == US_A, 3.0, 0.01)
    took = time.monotonic() - t0
    assert ok, "override never expired:\n" + g.read_log()[-2000:]
    print("\nMEASURE override expires_in=1.0 flipped back after %.3f s" % took)
    assert 0.9 <= took <= 1.3, took
    assert a.overrides() == []
    assert "why=expired" in g.read_log()

    def saved_empty():
        with open(os.path.join(g.workdir, "state.json")) as f:
            return json.load(f)["overrides"] == []

    assert poll(saved_empty, 2.0)[0], "expiry not persisted"


def test_az_and_endpoint_targets(make_gtmd):
    g, a = start(make_gtmd)
    r1 = a.override("az:us-1a", reason="az down")
    assert r1.status == 201, r1
    assert fo(g) == ["192.0.2.11"]
    s = a.get("/v1/status").json
    us = {x["name"]: x for x in s["regions"]}["us"]
    az = {z["name"]: z for z in us["azs"]}
    assert az["us-1a"]["state"]["override"] == "down"
    assert az["us-1a"]["state"]["override_detail"]["id"] == r1.json["id"]
    assert az["us-1a"]["endpoints"][0]["state"]["effective"] == "down"
    assert az["us-1b"]["endpoints"][0]["state"]["effective"] == "up"
    r2 = a.override("endpoint:web/us2", reason="endpoint down")
    assert r2.status == 201, r2
    # No A endpoint left in us: A fails over to eu, AAAA (us6) stays in us.
    assert fo(g) == EU_A and fo(g, "AAAA") == US_AAAA
    us2 = [e for e in a.get("/v1/status").json["regions"][0]["azs"][1]["endpoints"]][0]
    assert us2["state"]["override"] == "down" and us2["state"]["effective"] == "down"
    # An endpoint "up" beats its az being down.
    r3 = a.override("endpoint:web/us1", state="up", reason="pin us1")
    assert r3.status == 201, r3
    us1 = a.get("/v1/status").json["regions"][0]["azs"][0]["endpoints"][0]
    assert us1["state"]["override"] == "up" and us1["state"]["effective"] == "up"
    for r in (r3, r2):
        assert a.delete(OVR + "/" + r.json["id"]).status == 200
    assert fo(g) == ["192.0.2.11"]
    assert a.delete(OVR + "/" + r1.json["id"]).status == 200
    assert fo(g) == US_A and fo(g, "AAAA") == US_AAAA


def checked_config(us, eu, port):
    def mutate(c, workdir):
        c["regions"]["chk-us"] = {}
        c["regions"]["chk-eu"] = {}
        # Fall 3: eu must stay up all through (the answer after the override
        # is deleted is read once); with fall 2 two slow probes on a loaded
        # machine (sanitizer builds, 2 cores) could take it down.
        c["checks"] = {"web": {"type": "http", "port": port, "interval": 0.25, "timeout": 0.2,
                               "rise": 2, "fall": 3}}
        c["pools"]["chk"] = {"check": "web", "endpoints": [
            {"name": "cu1", "address": us, "region": "chk-us"},
            {"name": "ce1", "address": eu, "region": "chk-eu"}]}
        c["records"]["chk.example.com."] = {"pool": "chk", "policy": "failover",
                                            "regions": ["chk-us", "chk-eu"], "ttl": 5}
    return mutate


def wait_addrs(g, name, want, timeout=4.0):
    ok, _ = poll(lambda: query_addrs(g, name) == want, timeout, 0.02)
    assert ok, "%s never answered %s:\n%s" % (name, want, g.read_log()[-2500:])


@pytest.mark.threads
def test_up_override_forces_dead_region_into_service(make_gtmd, backends):  # noqa: F811
    us, eu = "127.0.0.61", "127.0.0.62"
    port = free_port_on([us, eu])
    b_us, b_eu = backends.start_all([backends.http(us, port, start=False),
                                     backends.http(eu, port, start=False)])
    g, a = start(make_gtmd, mutate=checked_config(us, eu, port))
    wait_addrs(g, "chk.example.com.", [us])
    b_us.kill()
    wait_addrs(g, "chk.example.com.", [eu])
    r = a.override("region:chk-us", state="up", reason="checks are wrong")
    assert r.status == 201, r
    assert query_addrs(g, "chk.example.com.") == [us]  # the very next query
    reg = {x["name"]: x for x in a.get("/v1/status").json["regions"]}["chk-us"]
    e = reg["endpoints"][0]
    assert e["state"]["probe"] == "down" and e["state"]["effective"] == "up", e
    assert e["checked"] is True and "refused" in e["last_result"], e
    assert reg["state"]["override"] == "up"
    assert a.delete(OVR + "/" + r.json["id"]).status == 200
    assert query_addrs(g, "chk.example.com.") == [eu]


@pytest.mark.threads
def test_dry_run_lists_changes_and_changes_nothing(make_gtmd):
    g, a = start(make_gtmd, state_file=True)
    state = os.path.join(g.workdir, "state.json")
    before_state = open(state).read() if os.path.exists(state) else None
    r = a.override("region:us", reason="what if", dry_run=True)
    assert r.status == 200, r
    j = r.json
    assert j["dry_run"] is True and j["would_leave_unserved"] == []
    ch = {(c["record"], c["type"]): c for c in j["changes"]}
    assert ch[("fo.example.com.", "A")]["before"]["serving_region"] == "us"
    assert ch[("fo.example.com.", "A")]["after"]["serving_region"] == "eu"
    assert sorted(ch[("fo.example.com.", "A")]["after"]["answers"]) == EU_A
    assert sorted(ch[("fo.example.com.", "A")]["before"]["answers"]) == US_A
    assert ch[("fo.example.com.", "AAAA")]["after"]["answers"] == EU_AAAA
    assert ch[("cn.example.com.", "CNAME")]["after"]["answers"] == ["mail.example.com."]
    assert ("all.example.com.", "A") in ch and ("hfo.example.com.", "A") in ch
    for unaffected in ("fo2.example.com.", "apo.example.com.", "emp.example.com."):
        assert not any(k[0] == unaffected for k in ch), (unaffected, list(ch))
    assert a.overrides() == []
    assert fo(g) == US_A
    assert a.get("/v1/status").json["server"]["active_overrides"] == 0
    after_state = open(state).read() if os.path.exists(state) else None
    assert after_state == before_state
    # A dry run of an unsafe override lists what it would leave unserved,
    # and is not refused.
    r = a.override("region:ap", reason="what if", dry_run=True)
    assert r.status == 200, r
    assert sorted((x["record"], x["type"]) for x in r.json["would_leave_unserved"]) == [
        ("apo.example.com.", "A"), ("emp.example.com.", "A")]
    assert a.overrides() == []


def test_safety_rule_409_and_force(make_gtmd):
    g, a = start(make_gtmd)
    for target in ("region:ap", "endpoint:web/ap1"):
        r = a.override(target, reason="unsafe")
        assert_error(r, 409, "unsafe")
        recs = sorted((x["record"], x["type"]) for x in r.json["error"]["records"])
        assert recs == [("apo.example.com.", "A"), ("emp.example.com.", "A")], r.json
        assert a.overrides() == []
        assert query_addrs(g, "emp.example.com.") == AP_A
    # An explicit "force": false is the same as none.
    r = a.override("region:ap", reason="unsafe", force=False)
    assert r.status == 409, r
    r = a.override("region:ap", reason="I know", force=True)
    assert r.status == 201, r
    assert [o["id"] for o in a.overrides()] == [r.json["id"]]
    # emp answers NODATA now; apo fails open (when_all_down "all").
    m = g.query("emp.example.com.")
    assert m.rcode() == dns.rcode.NOERROR and m.answer == [] and m.authority, m
    assert query_addrs(g, "apo.example.com.") == AP_A
    x = a.get("/v1/explain?name=apo.example.com.").json
    assert x["policy"]["outcome"] == "fail_open", x["policy"]
    # Safe overrides are not refused: us down leaves eu and ap.
    assert a.override("region:us", reason="fine").status == 201


# ---- persistence -------------------------------------------------------------

@pytest.mark.threads
def test_overrides_survive_restart(make_gtmd):
    g, a = start(make_gtmd, state_file=True)
    r1 = a.override("region:us", reason="maintenance window")
    r2 = a.override("az:us-1b", reason="az work", expires_in=3600)
    r3 = a.override("endpoint:web/eu1", state="up", reason="pinned")
    assert r1.status == r2.status == r3.status == 201
    assert fo(g) == EU_A
    before = a.overrides()
    restart(g, a)
    assert fo(g) == EU_A  # the first query after the restart
    after = a.overrides()
    key = ("id", "target", "state", "reason", "author")
    assert [tuple(o[k] for k in key) for o in after] == [tuple(o[k] for k in key)
                                                         for o in before]
    for b, x in zip(before, after):
        assert x["created"] == pytest.approx(b["created"], abs=0.01)
        assert (x["expires"] is None) == (b["expires"] is None)
        if b["expires"] is not None:
            assert x["expires"] == pytest.approx(b["expires"], abs=0.01)
    log = g.read_log()
    assert "overrides_restored=3" in log, log[-2000:]
    assert re.search(r"event=state_load result=(ok|stale)", log), log[-2000:]
    # New ids continue after the restored ones.
    r4 = a.override("endpoint:web/ap1", state="up", reason="new")
    assert int(r4.json["id"].split("-")[1]) > max(int(o["id"].split("-")[1]) for o in before)
    assert a.delete(OVR + "/" + r1.json["id"]).status == 200
    assert fo(g) == ["192.0.2.10"]  # us back, without az us-1b
    # Deletions persist too.
    restart(g, a)
    assert {o["id"] for o in a.overrides()} == {r2.json["id"], r3.json["id"], r4.json["id"]}
    assert fo(g) == ["192.0.2.10"]


def test_override_ids_not_reused_after_restart(make_gtmd):
    """An id names one override for good: the audit log and operators refer
    to overrides by id, so a deleted override's id must not come back for a
    different override after a restart."""
    g, a = start(make_gtmd, state_file=True)
    i1 = a.override("region:us", reason="first").json["id"]
    i2 = a.override("endpoint:web/eu1", state="up", reason="second").json["id"]
    assert a.delete(OVR + "/" + i2).status == 200
    restart(g, a)
    i3 = a.override("endpoint:web/ap1", state="up", reason="third").json["id"]
    assert i3 not in (i1, i2), "id %s reused (ids so far: %s, %s)" % (i3, i1, i2)


@pytest.mark.threads
def test_sigkill_during_override_storm(make_gtmd):
    g, a = start(make_gtmd, state_file=True)
    state = os.path.join(g.workdir, "state.json")
    rng = random.Random(20261122)
    targets = ["region:us", "az:us-1a", "endpoint:web/eu1", "region:eu", "endpoint:hp/h-us1"]
    assert a.override("region:ap", state="up", reason="seed").status == 201
    counts = []
    for rnd in range(5):
        stop = threading.Event()
        done = [0]

        def storm():
            ids = []
            for i in range(200):
                if stop.is_set():
                    return
                try:
                    if ids and i % 3 == 2:
                        a.delete(OVR + "/" + ids.pop(0), timeout=2)
                    else:
                        r = a.override(targets[i % len(targets)],
                                       state="down" if i % 2 else "up",
                                       reason="storm %d/%d" % (rnd, i), force=True,
                                       expires_in=3600 if i % 4 == 0 else None)
                        if r.status == 201:
                            ids.append(r.json["id"])
                    done[0] += 1
                except Exception:  # the daemon was killed under us
                    return

        t = threading.Thread(target=storm, daemon=True)
        t.start()
        time.sleep(rng.uniform(0.02, 0.2))
        g.proc.kill()
        g.proc.wait(timeout=5)
        stop.set()
        t.join(timeout=10)
        assert not t.is_alive()
        counts.append(done[0])
        with open(state) as f:
            data = json.load(f)  # never a torn or empty file
        assert data["version"] == 1 and isinstance(data["overrides"], list), data
        for o in data["overrides"]:
            assert {"id", "target", "state", "reason", "author", "created"} <= set(o), o
        file_ids = {o["id"] for o in data["overrides"]}
        mark = len(g.read_log())
        g.log.close()
        g.start()
        a.wait_ready()
        log = g.read_log()[mark:]
        assert re.search(r"event=state_load result=(ok|stale)", log), log
        assert "result=ignored" not in log and "state_load result=failed" not in log, log
        assert {o["id"] for o in a.overrides()} == file_ids
    print("\nMEASURE storm calls completed before SIGKILL per round: %s" % counts)
    assert sum(counts) > 0


# ---- audit log -----------------------------------------------------------------

def test_audit_one_line_per_mutating_call(make_gtmd):
    g, a = start(make_gtmd)
    for p in ("/v1/status", "/v1/explain?name=fo.example.com.", "/v1/overrides", "/metrics",
              "/v1/overrides/ovr-77"):
        a.get(p)
        a.get(p, token=READ_TOKEN)
    a.get("/v1/health", token=None)
    assert audit_lines(g) == []
    expected = []

    def did(method, path, status, request, r):
        assert r.status == status, r
        expected.append((method, path, status, request))
        lines = audit_lines(g)
        assert len(lines) == len(expected), (lines, expected)

    body = {"target": "region:us", "state": "down", "reason": "audited"}
    r = a.post(OVR, body)
    did("POST", OVR, 201, body, r)
    oid = r.json["id"]
    did("DELETE", OVR + "/" + oid, 200, None, a.delete(OVR + "/" + oid))
    did("DELETE", OVR + "/" + oid, 404, None, a.delete(OVR + "/" + oid))
    did("POST", "/v1/reload", 200, {}, a.post("/v1/reload"))
    b = {"target": "region:mars", "state": "down", "reason": "x"}
    did("POST", OVR, 404, b, a.post(OVR, b))
    b = {"target": "region:us", "state": 5, "reason": "x"}
    did("POST", OVR, 400, b, a.post(OVR, b))
    b = {"target": "region:ap", "state": "down", "reason": "unsafe"}
    did("POST", OVR, 409, b, a.post(OVR, b))
    bad = json.loads(json.dumps(g.config))
    bad["zones"] = "nope"
    g.write_config(bad)
    did("POST", "/v1/reload", 422, {}, a.post("/v1/reload"))
    lines = audit_lines(g)
    now = time.time()
    for line, (method, path, status, request) in zip(lines, expected):
        assert {"time", "token", "client", "method", "path", "request", "status"} <= set(line)
        assert abs(line["time"] - now) < 30
        assert line["token"] == "operate"
        assert re.fullmatch(r"127\.0\.0\.1:\d+", line["client"]), line
        assert (line["method"], line["path"], line["status"]) == (method, path, status), line
        if request:
            assert line["request"] == request, line
        if method == "DELETE":
            assert line["request"] is None, line
        if status == 201:
            assert line["result"] == {"id": oid}, line
        elif method == "DELETE" and status == 200:
            assert line["result"] == {"deleted": oid}, line
        elif status == 409:
            assert sorted(x["record"] for x in line["result"]) == [
                "apo.example.com.", "emp.example.com."], line
        elif path == "/v1/reload":
            assert line["result"]["result"] == ("ok" if status == 200 else "failed"), line
        else:
            assert line.get("result") is None, line
    with open(os.path.join(g.workdir, "audit.log")) as f:
        raw = f.read()
    assert raw.endswith("\n") and raw.count("\n") == len(expected)


def test_audit_scope_rejected_before_handler_and_dry_runs(make_gtmd):
    """Documented (admin-api.md, Audit log): calls rejected before the
    handler runs (401, 403, a body that is not a JSON object or is too deep)
    and dry runs are not audited; the next real change is one line."""
    g, a = start(make_gtmd)
    body = {"target": "region:us", "state": "down", "reason": "no rights"}
    for method, path, b, tok, raw, status in [
            ("POST", OVR, body, READ_TOKEN, None, 403),
            ("DELETE", OVR + "/ovr-1", None, READ_TOKEN, None, 403),
            ("POST", "/v1/reload", None, READ_TOKEN, None, 403),
            ("POST", OVR, body, None, None, 401),
            ("POST", OVR, body, "forged-token-0123456789", None, 401),
            ("POST", OVR, None, OPERATE_TOKEN, b'{"target": ', 400),
            ("POST", OVR, None, OPERATE_TOKEN, b"[1]", 400),
            ("POST", OVR, None, OPERATE_TOKEN, deep(40).encode(), 400),
            ("POST", OVR, dict(body, dry_run=True), OPERATE_TOKEN, None, 200)]:
        r = a.call(method, path, body=b, token=tok, raw=raw)
        assert r.status == status, r
    assert audit_lines(g) == []
    assert a.override("region:us", reason="real").status == 201
    lines = audit_lines(g)
    assert len(lines) == 1 and lines[0]["status"] == 201, lines


# ---- explain agrees with DNS ----------------------------------------------------

def explain_rrs(lines):
    out = set()
    for line in lines:
        parts = line.split(None, 4)
        name, ttl, cls, rtype = parts[:4]
        rdata = parts[4] if len(parts) > 4 else ""
        try:
            text = dns.rdata.from_text(cls, rtype, rdata).to_text()
        except Exception:
            text = rdata
        out.add((name.lower(), int(ttl), rtype.upper(), text))
    return out


def dns_rrs(section):
    out = set()
    for rrset in section:
        for rd in rrset:
            out.add((rrset.name.to_text().lower(), rrset.ttl,
                     dns.rdatatype.to_text(rrset.rdtype), rd.to_text()))
    return out


def ask_dns(g, name, rdtype, ecs=None, source=None):
    opts = []
    if ecs:
        addr, plen = ecs.split("/")
        opts.append(dns.edns.ECSOption(addr, int(plen)))
    q = dns.message.make_query(name, rdtype, use_edns=0, payload=1232, options=opts or None)
    q.flags &= ~dns.flags.RD  # as explain builds its query
    return dns.query.udp(q, g.addr, port=g.port, timeout=2.0, source=source)


def compare(g, a, name, rdtype, client=None, ecs=None):
    params = {"name": name, "type": rdtype}
    if client:
        params["client"] = client
    if ecs:
        params["ecs"] = ecs
    r = a.get("/v1/explain?" + urllib.parse.urlencode(params), token=READ_TOKEN)
    assert r.status == 200, (params, r)
    rep = r.json["reply"]
    m = ask_dns(g, name, rdtype, ecs=ecs, source=client)
    mism = []
    if rep["rcode"] != dns.rcode.to_text(m.rcode()):
        mism.append(("rcode", rep["rcode"], dns.rcode.to_text(m.rcode())))
    if explain_rrs(rep["answer"]) != dns_rrs(m.answer):
        mism.append(("answer", sorted(explain_rrs(rep["answer"])), sorted(dns_rrs(m.answer))))
    if explain_rrs(rep["authority"]) != dns_rrs(m.authority):
        mism.append(("authority", sorted(explain_rrs(rep["authority"])),
                     sorted(dns_rrs(m.authority))))
    if rep["aa"] != bool(m.flags & dns.flags.AA):
        mism.append(("aa", rep["aa"], bool(m.flags & dns.flags.AA)))
    return mism


STATIC_QUERIES = [
    ("www.example.com.", "A"), ("www.example.com.", "AAAA"), ("www.example.com.", "MX"),
    ("alias.example.com.", "A"), ("chain1.example.com.", "AAAA"),
    ("dangling.example.com.", "A"), ("outside.example.com.", "A"), ("loop1.example.com.", "A"),
    ("x.wild.example.com.", "A"), ("y.z.wild.example.com.", "TXT"),
    ("q.wcname.example.com.", "A"), ("nope.example.com.", "A"), ("nope.example.com.", "TXT"),
    ("b.c.ent.example.com.", "A"), ("a.b.c.ent.example.com.", "A"),
    ("deleg.example.com.", "A"), ("ns1.deleg.example.com.", "AAAA"),
    ("example.com.", "SOA"), ("example.com.", "NS"), ("example.com.", "MX"),
    ("txt.example.com.", "TXT"), ("caa.example.com.", "CAA"),
    ("_sip._tcp.example.com.", "SRV"), ("www.sub.example.com.", "A"),
    ("nope.sub.example.com.", "A"), ("sub.example.com.", "SOA"), ("www.example.org.", "A"),
    ("unknown.example.com.", "TYPE65534"), ("big.example.com.", "TXT"),
    ("ptr.example.com.", "PTR"), ("included.example.com.", "A"), ("mail.example.com.", "ANY"),
    ("naptr.example.com.", "NAPTR"),
]

ECS_V4 = ["10.1.0.0/24", "10.2.7.0/24", "172.16.5.0/24", "192.168.200.0/24", "10.1.0.77/32",
          "100.64.0.0/10"]
SOURCES = ["127.0.1.1", "127.0.2.1", "127.1.5.9", "127.3.3.3", "127.77.0.1"]


def policy_queries():
    qs = []
    for n in ("fo", "fo2", "all", "apo", "emp", "cn"):
        for t in ("A", "AAAA"):
            qs.append(("%s.example.com." % n, t, None, None))
    qs += [("fo.example.com.", "TXT", None, None), ("cn.example.com.", "CNAME", None, None),
           ("fo.example.com.", "A", None, "10.0.0.0/24"),
           ("all.example.com.", "AAAA", None, "2001:db8:1::/56")]
    for e in ("2001:db8:1::/56", "2001:db8:1:ff00::/56", "2001:db8:77::/48", "::/0"):
        qs.append(("hs.example.com.", "A", None, e))
        qs.append(("hfo.example.com.", "A", None, e))
    for e in ECS_V4:
        qs.append(("hs.example.com.", "A", None, e))
        qs.append(("hfo.example.com.", "A", None, e))
    for e in ECS_V4[:3]:
        qs.append(("hs2.example.com.", "A", None, e))
    for s in SOURCES:
        qs.append(("hs.example.com.", "A", s, None))
        qs.append(("hs2.example.com.", "A", s, None))
    qs.append(("hfo.example.com.", "A", SOURCES[0], None))
    return qs


@pytest.mark.threads
def test_explain_agrees_with_dns(make_gtmd):
    g, a = start(make_gtmd)
    mismatches, n = [], 0
    for name, t in STATIC_QUERIES:
        for m in compare(g, a, name, t):
            mismatches.append((name, t, None, None, "-", m))
        n += 1
    phases = [("no overrides", []),
              ("us down, h-eu1 down", [("region:us", "down", False),
                                       ("endpoint:hp/h-eu1", "down", False)]),
              ("ap down (forced), az us-1b down", [("region:ap", "down", True),
                                                   ("az:us-1b", "down", False)])]
    answers_seen = set()
    for label, ovs in phases:
        a.clear_overrides()
        for target, state, force in ovs:
            r = a.override(target, state=state, reason=label, force=force)
            assert r.status == 201, r
        for name, t, client, ecs in policy_queries():
            for m in compare(g, a, name, t, client=client, ecs=ecs):
                mismatches.append((name, t, client, ecs, label, m))
            if name.startswith("hs."):
                answers_seen.add(tuple(query_addrs(g, name, ecs=ecs, source=client) or ()))
            n += 1
    print("\nMEASURE explain/DNS comparisons: %d, mismatches: %d" % (n, len(mismatches)))
    assert n >= 50
    assert len(answers_seen) >= 3, answers_seen  # hashing really spreads clients
    assert not mismatches, "\n".join(map(str, mismatches[:20]))


# ---- metrics ---------------------------------------------------------------------

def metrics(a, token=READ_TOKEN):
    r = a.get("/metrics", token=token)
    assert r.status == 200, r
    assert r.headers["content-type"].startswith("text/plain"), r.headers
    fams = {f.name: f for f in text_string_to_metric_families(r.body.decode())}
    return fams


def sample(fams, family, name=None, **labels):
    f = fams[family]
    name = name or family
    vals = [s.value for s in f.samples
            if s.name == name and all(s.labels.get(k) == v for k, v in labels.items())]
    return vals


def test_metrics_contract(make_gtmd):
    g, a = start(make_gtmd)
    fams = metrics(a)
    for fam in ("gtmd_queries", "gtmd_policy_answers", "gtmd_endpoint_up", "gtmd_region_up",
                "gtmd_az_up", "gtmd_probe_duration_seconds", "gtmd_overrides_active",
                "gtmd_reloads", "gtmd_config_generation", "gtmd_uptime_seconds"):
        assert fam in fams, (fam, sorted(fams))

    def udp_a_noerror(f):
        return sum(sample(f, "gtmd_queries", "gtmd_queries_total", transport="udp", qtype="A",
                          rcode="NOERROR"))

    q0 = udp_a_noerror(fams)
    for _ in range(25):
        assert fo(g) == US_A
    g.query("nope.example.com.", "A")
    fams = metrics(a)
    assert udp_a_noerror(fams) >= q0 + 25
    assert sum(sample(fams, "gtmd_queries", "gtmd_queries_total", rcode="NXDOMAIN")) >= 1
    assert sample(fams, "gtmd_policy_answers", "gtmd_policy_answers_total",
                  record="fo.example.com.", region="us") == [25.0]
    assert sample(fams, "gtmd_endpoint_up", pool="web", endpoint="us1", region="us",
                  az="us-1a") == [1.0]
    assert sample(fams, "gtmd_overrides_active") == [0.0]
    # Overrides are counted and reflected in the endpoint gauges.
    r1 = a.override("region:us", reason="m")
    r2 = a.override("endpoint:web/ap1", state="up", reason="m")
    fams = metrics(a)
    assert sample(fams, "gtmd_overrides_active") == [2.0]
    assert sample(fams, "gtmd_endpoint_up", endpoint="us1") == [0.0]
    assert sample(fams, "gtmd_region_up", pool="web", region="us") == [0.0]
    assert sample(fams, "gtmd_az_up", pool="web", az="us-1a") == [0.0]
    fo(g)
    fams = metrics(a)
    assert sample(fams, "gtmd_policy_answers", "gtmd_policy_answers_total",
                  record="fo.example.com.", region="eu") == [1.0]
    a.delete(OVR + "/" + r1.json["id"])
    a.delete(OVR + "/" + r2.json["id"])
    assert sample(metrics(a), "gtmd_overrides_active") == [0.0]
    # Reloads by result.
    assert a.post("/v1/reload").status == 200
    assert a.post("/v1/reload").status == 200
    good = json.loads(json.dumps(g.config))
    bad = json.loads(json.dumps(good))
    bad["workers"] = "many"
    g.write_config(bad)
    assert a.post("/v1/reload").status == 422
    g.write_config(good)
    g.signal(signal.SIGHUP)
    ok, _ = poll(lambda: sample(metrics(a), "gtmd_reloads", "gtmd_reloads_total",
                                result="ok") == [3.0], 3.0)
    fams = metrics(a)
    assert sample(fams, "gtmd_reloads", "gtmd_reloads_total", result="ok") == [3.0]
    assert sample(fams, "gtmd_reloads", "gtmd_reloads_total", result="failed") == [1.0]
    assert sample(fams, "gtmd_config_generation") == [4.0]
    assert sample(fams, "gtmd_uptime_seconds")[0] > 0
    assert_error(a.get("/metrics", token=None), 401, "unauthorized")


def test_policy_answer_counters_survive_reloads(make_gtmd):
    # A record's policy answer counters go on across reloads that keep the
    # record and the region (matched by name, so reordering regions keeps
    # them); query counters too. Prometheus must never see them go down.
    g, a = start(make_gtmd)

    def fo_us():
        return sample(metrics(a), "gtmd_policy_answers", "gtmd_policy_answers_total",
                      record="fo.example.com.", region="us")

    def udp_queries():
        return sum(sample(metrics(a), "gtmd_queries", "gtmd_queries_total", transport="udp"))

    for _ in range(3):
        assert fo(g) == US_A
    assert fo_us() == [3.0]
    q0 = udp_queries()
    assert a.post("/v1/reload").status == 200
    assert fo_us() == [3.0]
    cfg = json.loads(json.dumps(g.config))
    cfg["regions"] = {k: cfg["regions"][k] for k in reversed(list(cfg["regions"]))}
    g.write_config(cfg)
    assert a.post("/v1/reload").status == 200
    assert fo_us() == [3.0]
    assert fo(g) == US_A
    assert fo_us() == [4.0]
    assert udp_queries() >= q0 + 1


def test_policy_answer_counters_survive_a_change_of_their_record(make_gtmd):
    # A change through the configuration API that compiles the record again
    # (its TTL) keeps its counters: found through the running set's
    # bindings (serve_counters.c); a name added by a change starts at 0.
    g, a = start(make_gtmd, mutate=lambda c, w: c.update(config_api={"history_dir": "history"}))

    def answers(name):
        return sample(metrics(a), "gtmd_policy_answers", "gtmd_policy_answers_total",
                      record=name, region="us")

    for _ in range(3):
        assert fo(g) == US_A
    assert answers("fo.example.com.") == [3.0]
    rec = dict(g.config["records"]["fo.example.com."], ttl=17)
    r = a.call("PUT", "/v1/config/records/fo.example.com.", body=rec)
    assert r.status == 201, r
    r = a.call("PUT", "/v1/config/records/fo2.example.com.", body=rec)
    assert r.status == 201, r
    assert answers("fo.example.com.") == [3.0]
    assert fo(g) == US_A
    assert answers("fo.example.com.") == [4.0]
    assert query_addrs(g, "fo2.example.com.") == US_A
    assert answers("fo2.example.com.") == [1.0]


@pytest.mark.threads
def test_metrics_probe_histograms_and_endpoint_up(make_gtmd, backends):  # noqa: F811
    us, eu = "127.0.0.63", "127.0.0.64"
    port = free_port_on([us, eu])
    b_us, b_eu = backends.start_all([backends.http(us, port, start=False),
                                     backends.http(eu, port, start=False)])
    g, a = start(make_gtmd, mutate=checked_config(us, eu, port))
    wait_addrs(g, "chk.example.com.", [us])
    fams = metrics(a)
    assert sample(fams, "gtmd_endpoint_up", pool="chk", endpoint="cu1") == [1.0]
    b_us.kill()
    ok, took = poll(lambda: sample(metrics(a), "gtmd_endpoint_up", pool="chk",
                                   endpoint="cu1") == [0.0], 4.0, 0.05)
    assert ok, g.read_log()[-2000:]
    time.sleep(0.3)  # a few more probes of both
    fams = metrics(a)
    assert sample(fams, "gtmd_endpoint_up", pool="chk", endpoint="ce1") == [1.0]
    assert sample(fams, "gtmd_region_up", pool="chk", region="chk-us") == [0.0]
    assert sum(sample(fams, "gtmd_probe_failures", "gtmd_probe_failures_total",
                      endpoint="cu1", reason="refused")) >= 2
    assert sum(sample(fams, "gtmd_health_transitions", "gtmd_health_transitions_total")) >= 3
    h = fams["gtmd_probe_duration_seconds"]
    checked = 0
    for ep_name in ("cu1", "ce1"):
        buckets = [(s.labels["le"], s.value) for s in h.samples
                   if s.name.endswith("_bucket") and s.labels["endpoint"] == ep_name]
        count = [s.value for s in h.samples
                 if s.name.endswith("_count") and s.labels["endpoint"] == ep_name]
        total = [s.value for s in h.samples
                 if s.name.endswith("_sum") and s.labels["endpoint"] == ep_name]
        assert buckets and buckets[-1][0] == "+Inf", buckets
        assert len(count) == 1 and count[0] >= 3 and len(total) == 1
        assert buckets[-1][1] == count[0], (ep_name, buckets, count)
        vals = [v for _, v in buckets]
        assert vals == sorted(vals), buckets  # cumulative
        les = [float(le) for le, _ in buckets[:-1]]
        assert les == sorted(les)
        assert total[0] >= 0
        checked += 1
    assert checked == 2
    # Unchecked pools have no probe histogram.
    assert not [s for s in h.samples if s.labels.get("pool") == "web"]


# ---- admin load and DNS --------------------------------------------------------------

FLOOD = r'''
import json, socket, sys, threading, time
host, port, token = sys.argv[1], int(sys.argv[2]), sys.argv[3]
idle_n, total, nthreads = int(sys.argv[4]), int(sys.argv[5]), int(sys.argv[6])
deadline = time.monotonic() + 40
idle = []
for i in range(idle_n):
    s = socket.create_connection((host, port), timeout=5)
    if i % 2:  # slow: a request whose header never ends
        s.sendall(b"GET /v1/status HTTP/1.1\r\nHost: x\r\nX-Slow: 1")
    idle.append(s)
print("IDLE %d" % len(idle), flush=True)
statuses, lock, counter = {}, threading.Lock(), [0]
def worker():
    while time.monotonic() < deadline:
        with lock:
            if counter[0] >= total:
                return
            counter[0] += 1
            n = counter[0]
        path = "/v1/health" if n % 2 else "/v1/status"
        try:
            s = socket.create_connection((host, port), timeout=5)
            s.sendall(("GET %s HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer %s\r\n"
                       "Connection: close\r\n\r\n" % (path, token)).encode())
            data = b""
            while True:
                d = s.recv(65536)
                if not d:
                    break
                data += d
            s.close()
            st = data.split(b" ", 2)[1].decode() if data.startswith(b"HTTP/") else "bad"
        except OSError as e:
            st = type(e).__name__
        with lock:
            statuses[st] = statuses.get(st, 0) + 1
ts = [threading.Thread(target=worker) for _ in range(nthreads)]
t0 = time.monotonic()
for t in ts:
    t.start()
for t in ts:
    t.join()
print(json.dumps({"statuses": statuses, "seconds": time.monotonic() - t0}), flush=True)
for s in idle:
    s.close()
'''


def dns_latency(g, name="fo.example.com."):
    q = dns.message.make_query(name, "A").to_wire()
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.settimeout(1.0)
    try:
        s.connect((g.addr, g.port))
        t0 = time.perf_counter()
        s.send(q)
        s.recv(4096)
        return time.perf_counter() - t0
    except OSError:
        return None
    finally:
        s.close()


def test_admin_flood_does_not_slow_dns(make_gtmd, tmp_path):
    g, a = start(make_gtmd, max_connections=64, timeout=15)
    script = tmp_path / "flood.py"
    script.write_text(FLOOD)
    base = [dns_latency(g) for _ in range(50)]
    assert None not in base
    p = subprocess.Popen([PYTHON, str(script), "127.0.0.1", str(a.port), READ_TOKEN, "200",
                          "2000", "8"], stdout=subprocess.PIPE, text=True)
    lines = []
    reader = threading.Thread(target=lambda: lines.extend(p.stdout), daemon=True)
    reader.start()
    lat, timeouts = [], 0
    deadline = time.monotonic() + 45
    try:
        while p.poll() is None and time.monotonic() < deadline:
            if not lines:  # idle connections are being opened
                time.sleep(0.005)
            x = dns_latency(g)
            if x is None:
                timeouts += 1
            else:
                lat.append(x)
            time.sleep(0.002)
        p.wait(timeout=max(1.0, deadline - time.monotonic()))
    finally:
        if p.poll() is None:
            p.kill()
            p.wait(timeout=5)
    reader.join(timeout=5)
    assert lines and lines[0].startswith("IDLE 200"), lines
    res = json.loads(lines[-1])
    med = statistics.median(lat) if lat else None
    print("\nMEASURE DNS median %.3f ms (idle %.3f ms), p99 %.3f ms, %d queries, %d timeouts; "
          "admin %s in %.2f s" % (med * 1e3, statistics.median(base) * 1e3,
                                  sorted(lat)[int(len(lat) * 0.99) - 1] * 1e3, len(lat),
                                  timeouts, res["statuses"], res["seconds"]))
    assert timeouts == 0
    assert len(lat) >= 100, len(lat)
    assert med < 0.005, med
    assert sum(res["statuses"].values()) == 2000, res
    assert res["statuses"].get("200", 0) >= 1990, res
    assert a.get("/v1/health", token=None, timeout=2).status == 200
    assert_alive(g)


def test_max_connections_cap(make_gtmd):
    import http.client
    g, a = start(make_gtmd, max_connections=4)
    conns, statuses = [], []
    c503_close = False
    try:
        for _ in range(7):
            c = http.client.HTTPConnection("127.0.0.1", a.port, timeout=5)
            c.request("GET", "/v1/status", headers={"Authorization": "Bearer " + READ_TOKEN})
            r = c.getresponse()
            body = r.read()
            statuses.append((r.status, body))
            if r.status == 503:
                c503_close = (r.getheader("Connection") or "").lower() == "close"
            conns.append(c)
        assert [s for s, _ in statuses] == [200] * 4 + [503] * 3, [s for s, _ in statuses]
        for s, body in statuses[4:]:
            err = json.loads(body)["error"]
            assert c503_close, "503 without Connection: close"
            assert err["code"] == "busy" and "4" in err["message"], err
        # The connections within the cap stay usable.
        for c in conns[:4]:
            c.request("GET", "/v1/health")
            r = c.getresponse()
            r.read()
            assert r.status == 200
        # Closing two frees two places.
        for c in conns[:2]:
            c.close()

        def fresh_ok():
            c = http.client.HTTPConnection("127.0.0.1", a.port, timeout=5)
            try:
                c.request("GET", "/v1/health", headers={"Connection": "close"})
                return c.getresponse().status == 200
            finally:
                c.close()

        ok, _ = poll(fresh_ok, 3.0, 0.05)
        assert ok, "cap not released after clients closed"
        assert sum(fresh_ok() for _ in range(5)) == 5
    finally:
        for c in conns:
            c.close()
    assert_alive(g)


def connection_life(a, mode, limit):
    """Seconds until the server closes a connection that sends nothing
    ("idle"), half a request header ("partial"), or a header one octet every
    0.2 s ("drip"); None when it is still open after limit seconds."""
    s = socket.create_connection(("127.0.0.1", a.port), timeout=5)
    s.settimeout(0.2)
    head = b"GET /v1/health HTTP/1.1\r\nHost: x\r\nX-Drip: " + b"a" * 400
    t0 = time.monotonic()
    sent = 0
    try:
        if mode == "partial":
            s.sendall(head[:30])
        while time.monotonic() - t0 < limit:
            if mode == "drip":
                s.send(head[sent:sent + 1])
                sent += 1
            try:
                s.recv(4096)  # data (an error reply) or b"": the server ended it
                return time.monotonic() - t0
            except socket.timeout:
                pass
        return None
    except OSError:
        return time.monotonic() - t0
    finally:
        s.close()


def test_idle_admin_connections_closed_after_timeout(make_gtmd):
    g, a = start(make_gtmd, timeout=1, max_connections=4)
    res = {}
    threads = [threading.Thread(target=lambda m=m: res.__setitem__(m, connection_life(a, m, 4)))
               for m in ("idle", "partial")]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=10)
    assert res["idle"] is not None and res["idle"] < 2.0, res
    assert res["partial"] is not None and res["partial"] < 2.0, res


def test_drip_fed_header_closed_after_timeout(make_gtmd):
    """A request header sent one octet at a time must not keep an admin
    connection open past the timeout: such connections are not counted by
    max_connections (no request yet), so nothing else bounds them."""
    g, a = start(make_gtmd, timeout=1, max_connections=4)
    life = connection_life(a, "drip", 4.0)
    assert life is not None and life < 2.5, "drip-fed connection still open after %s s" % life
    assert_alive(g)

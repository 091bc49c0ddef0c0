"""gtmctl, the command-line client of the admin API, against a real gtmd:
every command, human and --json output, server and token from flags and
from the environment, and the exit codes (0 ok, 1 refused by the server,
2 usage error, 3 server unreachable)."""
import json
import os
import re
import socket
import time

import pytest
from prometheus_client.parser import text_string_to_metric_families

from adminlib import EU_A, GTMCTL, OPERATE_TOKEN, US_A, audit_lines, gtmctl, start
from backends import poll, query_addrs
from conftest import free_port


class Ctl:
    def __init__(self, g, a):
        self.g = g
        self.a = a
        self.server = a.url
        self.read = os.path.join(g.workdir, "read.token")
        self.operate = os.path.join(g.workdir, "operate.token")

    def run(self, *args, token="operate", server=None, env=None):
        pre = ["--server", server or self.server]
        if token:
            pre += ["--token-file", self.read if token == "read" else self.operate]
        return gtmctl(*(pre + list(args)), env=env)

    def json(self, *args, **kw):
        p = self.run("--json", *args, **kw)
        assert p.returncode == 0, (args, p.returncode, p.stdout, p.stderr)
        return json.loads(p.stdout)


@pytest.fixture
def ctl(make_gtmd):
    g, a = start(make_gtmd, unix=True)
    return Ctl(g, a)


def fo(g, rdtype="A"):
    return query_addrs(g, "fo.example.com.", rdtype)


def test_binary_exists():
    assert os.access(GTMCTL, os.X_OK), GTMCTL


def test_health(ctl):
    p = ctl.run("health", token=None)
    assert p.returncode == 0, p
    assert json.loads(p.stdout) == {"status": "serving"}


def test_status_human_and_json(ctl):
    p = ctl.run("status", token="read")
    assert p.returncode == 0, p
    out = p.stdout
    assert re.search(r"gtmd \S+\s+uptime \d+s\s+generation 1\s+workers 2\s+overrides 0", out), out
    assert re.search(r"zone example\.com\.\s+serial 2026112201", out), out
    assert "REGION" in out and "EFFECTIVE" in out
    rows = {}
    for line in out.splitlines():
        f = line.split()
        if len(f) >= 9 and f[2] in ("web", "hp", "cn"):
            rows[(f[2], f[3])] = f
    assert rows[("web", "us1")][:2] == ["us", "us-1a"] and rows[("web", "us1")][4] == "192.0.2.10"
    assert rows[("web", "us1")][5:8] == ["up", "-", "up"], rows[("web", "us1")]
    assert rows[("web", "us6")][:2] == ["us", "-"]
    assert rows[("cn", "c-eu")][4] == "mail.example.com."
    j = ctl.json("status", token="read")
    assert j["server"]["config_generation"] == 1
    assert [r["name"] for r in j["regions"]] == ["us", "eu", "ap"]
    assert set(j) == set(ctl.a.get("/v1/status").json)
    # With the region drained the table says so.
    assert ctl.run("drain", "us", "--reason", "maint").returncode == 0
    out = ctl.run("status", token="read").stdout
    assert re.search(r"^us\s+\(region forced down\)", out, re.M), out
    f = [line.split() for line in out.splitlines() if " us1 " in line][0]
    assert f[5:8] == ["up", "-", "down"], f
    assert re.search(r"overrides 1", out)


def test_explain_human_and_json(ctl):
    p = ctl.run("explain", "fo.example.com.", token="read")
    assert p.returncode == 0, p
    out = p.stdout
    assert "query  fo.example.com. A from 127.0.0.1" in out
    assert "zone   example.com." in out
    assert "policy failover over pool web (select all, failover order from the record)" in out
    assert re.search(r"1\. us\s+up\s+.*<- serving", out), out
    assert "outcome served, ttl 10, ecs scope /0" in out
    assert "reply  NOERROR aa" in out
    for addr in US_A:
        assert re.search(r"fo\.example\.com\.\s+10\s+IN\s+A\s+%s" % re.escape(addr), out), out
    out = ctl.run("explain", "nope.example.com.", "AAAA", token="read").stdout
    assert "policy none (static zone data)" in out and "reply  NXDOMAIN" in out
    assert "(authority) example.com." in out
    j = ctl.json("explain", "hs.example.com.", "A", "--client", "10.1.2.3", "--ecs",
                 "10.9.9.0/24", token="read")
    api = ctl.a.get("/v1/explain?name=hs.example.com.&type=A&client=10.1.2.3&ecs=10.9.9.0/24"
                    ).json
    assert j["query"] == api["query"] and j["reply"]["answer"] == api["reply"]["answer"]
    assert j["policy"]["ecs_scope"] == 24
    assert ctl.run("drain", "us", "--reason", "x").returncode == 0
    out = ctl.run("explain", "fo.example.com.", token="read").stdout
    assert re.search(r"1\. us\s+down\s+forced down by an override", out), out
    assert re.search(r"2\. eu\s+up\s+.*<- serving", out), out


@pytest.mark.threads
def test_drain_undrain_flip_dns(ctl):
    g = ctl.g
    p = ctl.run("drain", "us", "--dry-run", "--reason", "what if")
    assert p.returncode == 0, p
    assert re.search(r"dry run: \d+ answer\(s\) would change", p.stdout), p.stdout
    assert "fo.example.com. A: us -> eu" in p.stdout, p.stdout
    assert fo(g) == US_A and ctl.a.overrides() == []
    p = ctl.run("drain", "us", "--reason", "maintenance 42")
    assert p.returncode == 0, p
    m = re.fullmatch(r"override (ovr-\d+): region:us forced down\n", p.stdout)
    assert m, p.stdout
    oid = m.group(1)
    assert fo(g) == EU_A
    out = ctl.run("override", "list", token="read").stdout
    assert re.search(r"^%s\s+region:us\s+down\s+operate\s+never\s+maintenance 42$" % oid, out,
                     re.M), out
    p = ctl.run("undrain", "us")
    assert p.returncode == 0, p
    assert p.stdout.strip() == "region:us: 1 override(s) removed", p.stdout
    assert fo(g) == US_A
    assert ctl.run("undrain", "us").stdout.strip() == "region:us: 0 override(s) removed"
    # undrain removes every override of the region, not others.
    for _ in range(2):
        assert ctl.run("drain", "us", "--reason", "twice").returncode == 0
    assert ctl.run("override", "add", "endpoint:web/eu1", "up", "--reason", "keep")\
        .returncode == 0
    j = ctl.json("undrain", "us")
    assert j == {"removed": 2}
    assert [o["target"] for o in ctl.a.overrides()] == ["endpoint:web/eu1"]
    # --expires
    p = ctl.run("drain", "us", "--reason", "short", "--expires", "0.6")
    assert p.returncode == 0, p
    assert fo(g) == EU_A
    ok, took = poll(lambda: fo(g) == US_A, 3.0, 0.02)
    assert ok and took < 1.2, took


def test_override_add_list_rm(ctl):
    g = ctl.g
    j = ctl.json("override", "add", "az:us-1a", "down", "--reason", "az work")
    assert j["target"] == "az:us-1a" and j["state"] == "down" and j["author"] == "operate"
    oid = j["id"]
    assert fo(g) == ["192.0.2.11"]
    lst = ctl.json("override", "list", token="read")
    assert [o["id"] for o in lst["overrides"]] == [oid]
    p = ctl.run("override", "add", "endpoint:web/us2", "down", "--reason", "ep",
                "--expires", "600")
    assert p.returncode == 0 and "endpoint:web/us2 forced down" in p.stdout, p
    out = ctl.run("override", "list").stdout
    # The expiry in ISO 8601 UTC, as explain shows it: the API's time.
    m = re.search(r"endpoint:web/us2\s+down\s+operate\s+(\S+)\s+ep$", out, re.M)
    assert m, out
    exp = [o["expires"] for o in ctl.a.overrides() if o["target"] == "endpoint:web/us2"][0]
    assert m.group(1) == time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(exp)), (m.group(1), exp)
    j = ctl.json("override", "rm", oid)
    assert j == {"deleted": oid}
    p = ctl.run("override", "rm", oid)
    assert p.returncode == 1 and "HTTP 404" in p.stderr, p
    j = ctl.json("override", "add", "region:eu", "up", "--reason", "x", "--dry-run")
    assert j["dry_run"] is True and isinstance(j["changes"], list)
    assert len(ctl.a.overrides()) == 1


@pytest.mark.threads
def test_reload(ctl):
    p = ctl.run("reload")
    assert p.returncode == 0, p
    assert p.stdout.strip() == "reload ok, generation 2", p.stdout
    j = ctl.json("reload")
    assert j["result"] == "ok" and j["generation"] == 3
    bad = json.loads(json.dumps(ctl.g.config))
    bad["records"]["fo.example.com."]["pool"] = "missing"
    ctl.g.write_config(bad)
    p = ctl.run("reload")
    assert p.returncode == 1, p
    assert "HTTP 422" in p.stderr, p.stderr
    assert fo(ctl.g) == US_A


def test_metrics(ctl):
    fo(ctl.g)
    p = ctl.run("metrics", token="read")
    assert p.returncode == 0, p
    fams = {f.name: f for f in text_string_to_metric_families(p.stdout)}
    assert "gtmd_queries" in fams and "gtmd_endpoint_up" in fams
    assert any(s.value >= 1 for s in fams["gtmd_queries"].samples)
    p = ctl.run("--json", "metrics", token="read")
    assert p.returncode == 0 and "gtmd_uptime_seconds" in p.stdout


def test_exit_code_1_when_refused(ctl):
    # 409: draining ap would leave apo/emp with no serving region.
    p = ctl.run("drain", "ap", "--reason", "unsafe")
    assert p.returncode == 1, p
    assert "HTTP 409" in p.stderr
    assert "would leave unserved: apo.example.com. A" in p.stderr
    assert "would leave unserved: emp.example.com. A" in p.stderr
    assert ctl.a.overrides() == []
    p = ctl.run("drain", "ap", "--reason", "forced", "--force")
    assert p.returncode == 0, p
    # 403: the read token may not mutate.
    for args in (["drain", "us", "--reason", "x"], ["reload"], ["undrain", "ap"],
                 ["override", "rm", "ovr-1"]):
        p = ctl.run(*args, token="read")
        assert p.returncode == 1, (args, p)
        assert "HTTP 403" in p.stderr, (args, p.stderr)
    assert len(ctl.a.overrides()) == 1
    # 401: no token for a read call.
    p = ctl.run("status", token=None)
    assert p.returncode == 1 and "HTTP 401" in p.stderr, p
    # 404 and 400.
    p = ctl.run("override", "add", "region:mars", "down", "--reason", "x")
    assert p.returncode == 1 and "HTTP 404" in p.stderr, p
    p = ctl.run("explain", "fo.example.com.", "BOGUS", token="read")
    assert p.returncode == 1 and "HTTP 400" in p.stderr, p


USAGE_ERRORS = [
    [],
    ["bogus"],
    ["status", "extra"],
    ["--bogus", "status"],
    ["status", "--bogus"],
    ["override"],
    ["override", "add", "region:us"],
    ["override", "add", "region:us", "sideways", "--reason", "x"],
    ["override", "rm"],
    ["drain"],
    ["drain", "us"],  # --reason is required
    ["undrain"],
    ["explain"],
    ["--timeout", "0", "status"],
    ["--server"],
]


@pytest.mark.parametrize("args", USAGE_ERRORS, ids=[" ".join(a) or "none" for a in USAGE_ERRORS])
def test_exit_code_2_on_usage_errors(ctl, args):
    p = gtmctl(*(["--server", ctl.server, "--token-file", ctl.operate] + args
                 if args[:1] != ["--server"] else args))
    assert p.returncode == 2, (args, p.returncode, p.stdout, p.stderr)
    assert "usage" in p.stderr or "required" in p.stderr, p.stderr
    assert ctl.a.overrides() == []


def test_exit_code_2_on_missing_token_file(ctl):
    p = gtmctl("--server", ctl.server, "--token-file", "/nonexistent/token", "status")
    assert p.returncode == 2, p
    p = gtmctl("status", env={"GTMCTL_SERVER": ctl.server,
                              "GTMCTL_TOKEN_FILE": "/nonexistent/token"})
    assert p.returncode == 2, p
    assert "/nonexistent/token: No such file or directory" in p.stderr, p.stderr
    empty = os.path.join(ctl.g.workdir, "empty.token")
    open(empty, "w").close()
    p = gtmctl("--server", ctl.server, "--token-file", empty, "status")
    assert p.returncode == 2 and "empty" in p.stderr, p


def test_help_exits_0():
    p = gtmctl("--help")
    assert p.returncode == 0 and "usage: gtmctl" in p.stdout


def test_exit_code_3_when_unreachable(tmp_path):
    port = free_port()  # nothing listens there
    for server in ("http://127.0.0.1:%d" % port, "127.0.0.1:%d" % port,
                   "unix:" + str(tmp_path / "nothing.sock")):
        for args in (["health"], ["status"], ["drain", "us", "--reason", "x"]):
            p = gtmctl("--server", server, "--timeout", "2", *args)
            assert p.returncode == 3, (server, args, p)
            assert p.stderr.startswith("gtmctl: "), p.stderr


def test_exit_code_3_when_server_never_answers(tmp_path):
    # A listener that accepts and never replies: the --timeout bounds it.
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    s.listen(4)
    try:
        p = gtmctl("--server", "127.0.0.1:%d" % s.getsockname()[1], "--timeout", "0.5",
                   "health", timeout=10)
        assert p.returncode == 3, p
    finally:
        s.close()


def test_server_and_token_from_environment(ctl):
    env = {"GTMCTL_SERVER": ctl.server, "GTMCTL_TOKEN_FILE": ctl.operate}
    p = gtmctl("status", env=env)
    assert p.returncode == 0 and "REGION" in p.stdout, p
    p = gtmctl("drain", "us", "--reason", "from env", env=env)
    assert p.returncode == 0, p
    assert fo(ctl.g) == EU_A
    # GTMCTL_TOKEN holds the token itself.
    p = gtmctl("undrain", "us", env={"GTMCTL_SERVER": ctl.server, "GTMCTL_TOKEN": OPERATE_TOKEN})
    assert p.returncode == 0, p
    assert fo(ctl.g) == US_A
    # Flags beat the environment.
    dead = "http://127.0.0.1:%d" % free_port()
    p = gtmctl("--server", ctl.server, "status",
               env={"GTMCTL_SERVER": dead, "GTMCTL_TOKEN_FILE": ctl.read})
    assert p.returncode == 0, p
    p = gtmctl("--token-file", ctl.read, "drain", "us", "--reason", "x", env=env)
    assert p.returncode == 1 and "HTTP 403" in p.stderr, p
    p = gtmctl("status", env={"GTMCTL_SERVER": dead, "GTMCTL_TOKEN_FILE": ctl.read})
    assert p.returncode == 3, p
    # The audit log names the token each change was made with.
    lines = audit_lines(ctl.g)
    assert [(x["method"], x["status"], x["token"]) for x in lines
            if x["status"] < 400] == [("POST", 201, "operate"), ("DELETE", 200, "operate")], lines


def test_default_server_is_loopback_8053(make_gtmd):
    """Without --server or GTMCTL_SERVER gtmctl talks to 127.0.0.1:8053."""
    try:
        s = socket.socket()
        s.bind(("127.0.0.1", 8053))
        s.close()
    except OSError:
        pytest.skip("127.0.0.1:8053 is in use")

    def on_8053(c, workdir):
        c["admin"]["listen"] = ["127.0.0.1:8053"]

    g, a = start(make_gtmd, mutate=on_8053)
    p = gtmctl("health")
    assert p.returncode == 0 and json.loads(p.stdout) == {"status": "serving"}, p


def test_unix_socket_server(ctl):
    server = "unix:" + ctl.a.unix
    p = ctl.run("health", token=None, server=server)
    assert p.returncode == 0, p
    p = ctl.run("status", server=server, token="read")
    assert p.returncode == 0 and "REGION" in p.stdout, p
    p = ctl.run("drain", "us", "--reason", "over unix", server=server)
    assert p.returncode == 0, p
    assert fo(ctl.g) == EU_A
    j = ctl.json("override", "list", server=server, token="read")
    assert [o["reason"] for o in j["overrides"]] == ["over unix"]
    p = ctl.run("status", server=server, token=None)
    assert p.returncode == 1 and "HTTP 401" in p.stderr, p
    p = ctl.run("undrain", "us", server=server)
    assert p.returncode == 0 and fo(ctl.g) == US_A


def test_rm_and_undrain_need_force_when_unsafe(ctl):
    """apo.example.com serves only ap: region:ap forced down, then up again;
    removing the "up" override would leave apo unserved (409), --force
    removes it anyway."""
    a = ctl.a
    down = a.override("region:ap", state="down", reason="older", force=True).json["id"]
    up = a.override("region:ap", state="up", reason="newer").json["id"]
    p = ctl.run("override", "rm", up)
    assert p.returncode == 1 and "HTTP 409" in p.stderr, p
    assert "would leave unserved: apo.example.com." in p.stderr, p.stderr
    p = ctl.run("override", "rm", up, "--force")
    assert p.returncode == 0 and json.loads(p.stdout) == {"deleted": up}, p
    up = a.override("region:ap", state="up", reason="newer again").json["id"]
    # undrain deletes both; the up one first (newest first) is refused.
    p = ctl.run("undrain", "ap")
    assert p.returncode == 1 and "HTTP 409" in p.stderr, p
    p = ctl.run("undrain", "ap", "--force")
    assert p.returncode == 0, p
    assert [o["id"] for o in a.overrides()] == [], (down, up)

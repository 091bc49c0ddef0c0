"""Per-node etcd write permissions (issue #24): with key layout 2 every key a
node writes alone is under a range of its own (nodes/NODE, beat/NODE,
reports/NODE/), and the shared records under three ranges (overrides/,
drills/, seq/). This test builds etcd with authentication on (a root user,
one role per node with exactly the grants doc/fleet.md lists), runs two
gtmd nodes each with its own user, and shows that etcd refuses node n1's
credentials a write to n2's keys while the fleet works: both nodes synced
on each other's reports, a verdict from the other node's observation, an
override made on one node served by the other, and a drill. Needs etcd
(skipped otherwise); every wait is bounded."""
import base64
import os
import shutil
import subprocess
import tempfile

import pytest

from backends import poll
from fleetlib import (ETCDCTL, EtcdCluster, be, http_json, made,  # noqa: F401
                      need_etcd, start_node)  # be, made: fixtures

PREFIX = "/gtmd/rb/"
US, EU = ["127.0.0.31"], ["127.0.0.32"]

pytestmark = pytest.mark.skipif(need_etcd() is not None, reason=need_etcd() or "")


def b64(s):
    return base64.b64encode(s.encode()).decode()


def node_grants(prefix, node):
    """The etcdctl role grant-permission arguments of one node's role (as
    doc/fleet.md lists them)."""
    return [
        ["--prefix=true", "read", prefix],
        ["readwrite", prefix + "nodes/" + node],
        ["readwrite", prefix + "beat/" + node],
        ["readwrite", prefix + "rtt/" + node],
        ["--prefix=true", "readwrite", prefix + "reports/" + node + "/"],
        ["--prefix=true", "readwrite", prefix + "overrides/"],
        ["--prefix=true", "readwrite", prefix + "drills/"],
        ["--prefix=true", "readwrite", prefix + "seq/"],
    ]


@pytest.fixture
def secured():
    """A 1-member etcd with authentication on, users n1 and n2 with their
    roles; yields (cluster, {node: password file})."""
    c = EtcdCluster(1).start()
    tmp = tempfile.mkdtemp(prefix="gtmd-etcd-rbac-")
    env = dict(os.environ, ETCDCTL_API="3")
    ctl = [ETCDCTL, "--endpoints", c.urls[0]]

    def run(*args, stdin=None, root=False):
        extra = ["--user", "root", "--password", "r00t-pw"] if root else []
        r = subprocess.run(ctl + extra + list(args), env=env, capture_output=True, timeout=20,
                           input=stdin)
        assert r.returncode == 0, (args, r.stdout, r.stderr)
    try:
        run("user", "add", "root", "--interactive=false", stdin=b"r00t-pw\n")
        run("role", "add", "root")
        run("user", "grant-role", "root", "root")
        pw = {}
        for n in ("n1", "n2"):
            run("role", "add", "gtmd-" + n)
            for g in node_grants(PREFIX, n):
                run("role", "grant-permission", "gtmd-" + n, *g)
            run("user", "add", n, "--interactive=false", stdin=("pw-%s\n" % n).encode())
            run("user", "grant-role", n, "gtmd-" + n)
            pw[n] = os.path.join(tmp, n + ".password")
            with open(pw[n], "w") as f:
                f.write("pw-%s\n" % n)
            os.chmod(pw[n], 0o600)
        run("auth", "enable")
        yield c, pw
    finally:
        c.stop()
        shutil.rmtree(tmp, ignore_errors=True)


def token(url, user, password):
    st, body = http_json(url + "/v3/auth/authenticate", {"name": user, "password": password})
    assert st == 200 and body.get("token"), (st, body)
    return body["token"]


def put_as(url, tok, key, value):
    """(status, body) of a put with tok (the JSON gateway answers a refused
    one with an error, not 200)."""
    return http_json(url + "/v3/kv/put", {"key": b64(key), "value": b64(value)},
                     headers={"Authorization": tok})


def test_each_node_writes_only_its_own_keys(secured, made, be):
    c, pw = secured
    url = c.urls[0]
    n1, n2 = [start_node(made, [url], i, be["port"], prefix=PREFIX, username="n%d" % i,
                         password_file=pw["n%d" % i]) for i in (1, 2)]
    ok, _ = poll(lambda: all(g.fleet()["connection"] == "synced" and
                             len([x for x in g.fleet()["nodes"] if x["live"]]) == 2
                             for g in (n1, n2)), 20, 0.2)
    assert ok, [g.fleet() for g in (n1, n2)] + [n1.read_log()[-2000:]]
    # Each node's reports are under its own range, and read by the other.
    ok, _ = poll(lambda: n1.endpoint("us1")["fleet"]["observations"].get("n2") == "up", 10, 0.1)
    assert ok, n1.endpoint("us1")
    assert not n1.fleet()["mixed_layout"]
    st, _ = http_json(url + "/v3/kv/range", {"key": b64(PREFIX)})
    assert st != 200  # no user: refused (authentication is on)
    tok = token(url, "n1", "pw-n1")
    # n1's credentials: n2's keys are refused by etcd, n1's own are not.
    for key in ("reports/n2/web/us1", "nodes/n2", "beat/n2", "rtt/n2", "reports/n2x/web/us1",
                "obs/web/us1/n2", "nodes/n1x"):
        st, body = put_as(url, tok, PREFIX + key, '{"s": "down", "t": 1}')
        assert st != 200 and "permission denied" in str(body), (key, st, body)
    st, body = put_as(url, tok, PREFIX + "reports/n1/probe/test", "x")
    assert st == 200, body
    st, body = http_json(url + "/v3/kv/deleterange", {"key": b64(PREFIX + "reports/n1/probe/test")},
                         headers={"Authorization": tok})
    assert st == 200, body
    # The fleet works under these roles: an override made on n1 (the id
    # counter and the record, in one transaction) is served by n2, and
    # removed; a live drill started on n2 is lost on n1 and aborted.
    st, o = n1.post("/v1/overrides", {"target": "region:us", "state": "down", "reason": "rbac"})
    assert st == 201, o
    ok, _ = poll(lambda: n2.answer() == EU, 5, 0.05)
    assert ok, n2.answer()
    st, _ = n2.delete("/v1/overrides/" + o["id"])
    assert st == 200
    ok, _ = poll(lambda: n1.answer() == US, 5, 0.05)
    assert ok
    st, d = n2.post("/v1/drills", {"regions": ["us"], "mode": "live", "duration": 30,
                                   "reason": "rbac drill"})
    assert st == 201, d
    ok, _ = poll(lambda: n1.answer() == EU, 5, 0.05)
    assert ok, n1.answer()
    st, _ = n1.delete("/v1/drills/" + d["id"])
    assert st == 200
    ok, _ = poll(lambda: n2.answer() == US, 5, 0.05)
    assert ok
    # A backend that dies: each node's verdict counts the other's report.
    be["us"].stop()
    ok, _ = poll(lambda: all(g.answer() == EU for g in (n1, n2)), 10, 0.1)
    assert ok
    assert n2.endpoint("us1")["fleet"]["observations"] == {"n1": "down", "n2": "down"}
    assert "permission denied" not in n1.read_log() + n2.read_log()

"""Composite checks (`"type": "composite"`): an endpoint's probe layer from
several checks of the same endpoint, each with its own schedule and
rise/fall, judged all / any / at_least n. Real backends on loopback: an
HTTP server and two TCP listeners per endpoint, killed and restarted by
the test; the answers, /v1/status and /v1/explain are read from the real
gtmd. Also the configuration errors, each with its JSON path."""
import json
import os
import subprocess

from adminlib import Admin, admin_port, admin_section
from backends import backends, free_port_on, poll, query_addrs  # noqa: F401
from conftest import GTMD, default_config

US, EU = "127.0.0.181", "127.0.0.182"
NAME = "comp.example.com."
# Roomy timeouts and fall 2: a python backend on a loaded 2-core box can be slow.
FAST = {"interval": 0.3, "timeout": 0.28, "rise": 1, "fall": 2}


def until(fn, timeout):
    """The first true value of fn within timeout seconds, else None."""
    return poll(fn, timeout)[0]


def comp_config(ports, mode="all", n=None):
    """Checks h (http), t1 and t2 (tcp) and the composite c of all three."""
    def fn(workdir, port):
        c = default_config(workdir, port)
        c["admin"] = admin_section(workdir, admin_port(port))
        c["regions"] = {"us": {}, "eu": {}}
        c["checks"] = {
            "c": {"type": "composite", "of": ["h", "t1", "t2"], "mode": mode},
            "h": dict(FAST, type="http", port=ports[0], path="/"),
            "t1": dict(FAST, type="tcp", port=ports[1]),
            "t2": dict(FAST, type="tcp", port=ports[2]),
        }
        if n is not None:
            c["checks"]["c"]["n"] = n
        c["pools"] = {"web": {"check": "c", "endpoints": [
            {"name": "us1", "address": US, "region": "us"},
            {"name": "eu1", "address": EU, "region": "eu"}]}}
        c["records"] = {NAME: {"pool": "web", "policy": "failover", "regions": ["us", "eu"]}}
        return c
    return fn


def start_backends(backends):
    ports = []
    for _ in range(50):  # three different ports (each free on both addresses)
        p = free_port_on([US, EU])
        if p not in ports:
            ports.append(p)
        if len(ports) == 3:
            break
    bs = {}
    for a in (US, EU):
        bs[a] = [backends.http(a, ports[0], start=False), backends.tcp(a, ports[1], start=False),
                 backends.tcp(a, ports[2], start=False)]
    backends.start_all(bs[US] + bs[EU], timeout=30.0)  # six pythons on a loaded box
    return ports, bs


def us_endpoint(a):
    r = a.get("/v1/status")
    assert r.status == 200, r
    for reg in r.json["regions"]:
        for ep in reg.get("endpoints", []):
            if ep["name"] == "us1":
                return ep
        for az in reg.get("azs", []):
            for ep in az.get("endpoints", []):
                if ep["name"] == "us1":
                    return ep
    raise AssertionError("us1 not in status")


def serves(g, addr):
    return until(lambda: query_addrs(g, NAME) == [addr], timeout=8.0)


def test_composite_all(make_gtmd, backends):
    ports, bs = start_backends(backends)
    g = make_gtmd(comp_config(ports, "all"))
    a = Admin.of(g).wait_ready()
    assert serves(g, US), query_addrs(g, NAME)
    ep = us_endpoint(a)
    comp = ep["composite"]
    assert comp["mode"] == "all" and comp["verdict"] == "up", comp
    assert [k["check"] for k in comp["checks"]] == ["h", "t1", "t2"]
    assert all(k["state"] == "up" and k["probes"] >= 1 for k in comp["checks"]), comp
    # One child fails: with "all" the endpoint goes down and eu serves.
    bs[US][2].kill()
    assert serves(g, EU), query_addrs(g, NAME)
    comp = us_endpoint(a)["composite"]
    states = {k["check"]: k["state"] for k in comp["checks"]}
    assert states == {"h": "up", "t1": "up", "t2": "down"}, comp
    assert comp["verdict"] == "down" and "2 of 3 checks up, all needed" in comp["why"], comp
    assert us_endpoint(a)["state"]["probe"] == "down"
    # explain shows the same children.
    r = a.get("/v1/explain?name=" + NAME + "&type=A")
    assert r.status == 200, r
    text = json.dumps(r.json)
    assert '"composite"' in text and "2 of 3 checks up, all needed" in text, text[:2000]
    # Back up: the composite follows its child.
    bs[US][2].start()
    assert serves(g, US), query_addrs(g, NAME)
    # The transitions were logged as composite verdicts.
    assert "why=\"composite: " in g.read_log()


def test_composite_at_least(make_gtmd, backends):
    ports, bs = start_backends(backends)
    g = make_gtmd(comp_config(ports, "at_least", 2))
    a = Admin.of(g).wait_ready()
    assert serves(g, US)
    bs[US][1].kill()  # 2 of 3 up: still up
    assert until(lambda: {k["check"]: k["state"] for k in us_endpoint(a)["composite"]["checks"]}
                ["t1"] == "down", timeout=8.0)
    assert query_addrs(g, NAME) == [US]
    ep = us_endpoint(a)
    assert ep["composite"]["n"] == 2 and ep["composite"]["verdict"] == "up", ep
    assert ep["state"]["probe"] == "up"
    bs[US][0].kill()  # 1 of 3: down
    assert serves(g, EU)
    assert "1 of 3 checks up, at_least 2 needed" in us_endpoint(a)["composite"]["why"]


def test_composite_any(make_gtmd, backends):
    ports, bs = start_backends(backends)
    g = make_gtmd(comp_config(ports, "any"))
    a = Admin.of(g).wait_ready()
    assert serves(g, US)
    bs[US][0].kill()
    bs[US][1].kill()
    assert until(lambda: sum(k["state"] == "down" for k in us_endpoint(a)["composite"]["checks"])
                == 2, timeout=8.0)
    assert query_addrs(g, NAME) == [US]
    bs[US][2].kill()
    assert serves(g, EU)


def run_check(workdir, conf):
    path = os.path.join(workdir, "bad.json")
    with open(path, "w") as f:
        json.dump(conf, f)
    p = subprocess.run([GTMD, "check", "-c", path], capture_output=True, timeout=20)
    return p.returncode, p.stdout.decode() + p.stderr.decode()


def test_composite_config_errors(tmp_path):
    workdir = str(tmp_path)
    base = comp_config([8001, 8002, 8003])(workdir, 5300)
    cases = [
        ({"of": ["h", "nope"]}, r'$.checks.c.of[1]: check "nope" is not defined'),
        ({"of": ["h", "c"]}, "$.checks.c.of[1]: a composite check cannot name itself"),
        ({"of": ["h", "h"]}, '$.checks.c.of[1]: check "h" is named twice'),
        ({"of": []}, "$.checks.c.of: must be a list of 1 to 64 check names"),
        ({"mode": "most"}, '$.checks.c.mode: must be "all", "any" or "at_least"'),
        ({"mode": "at_least"}, '$.checks.c.n: is required with "mode": "at_least"'),
        ({"mode": "at_least", "n": 4}, "$.checks.c.n: must be an integer from 1 to 3"),
        ({"mode": "at_least", "n": 0}, "$.checks.c.n: must be an integer from 1 to 3"),
        ({"mode": "all", "n": 2}, '$.checks.c.n: only for "mode": "at_least"'),
        ({"interval": 1}, "$.checks.c: unknown key"),
    ]
    for change, msg in cases:
        conf = json.loads(json.dumps(base))
        conf["checks"]["c"].update(change)
        rc, out = run_check(workdir, conf)
        assert rc != 0 and msg in out, (change, out)
    # A composite of composites is refused (this also rules out cycles).
    conf = json.loads(json.dumps(base))
    conf["checks"]["d"] = {"type": "composite", "of": ["c", "h"]}
    conf["checks"]["c"]["of"] = ["h", "d"]
    rc, out = run_check(workdir, conf)
    assert rc != 0 and '$.checks.c.of[1]: check "d" is itself composite' in out, out
    assert '$.checks.d.of[0]: check "c" is itself composite' in out, out
    # The valid one passes.
    rc, out = run_check(workdir, base)
    assert rc == 0, out

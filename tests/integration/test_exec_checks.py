"""exec checks (issue #57, doc/health.md): a program run per probe, its
exit judged (0 up, 1 down, other codes errors), "load=X" on its stdout
read as the endpoint's load.

Real shell scripts in a directory the test makes (mode 0755, so the
unprivileged user they run as can read them), run as "nobody":

- one that succeeds (and prints load=0.9 and its arguments, the
  placeholders substituted), one that fails (1), one that exits 3: up,
  down "exit 1: ...", down "error: exit 3: ...";
- one that hangs after starting children: killed at the timeout with its
  whole process group (no process of the group and none with its marker
  left afterwards);
- one that leaves a child behind and exits 0: the child is killed too;
- without "user", gtmd (root here) refuses to run the program as root;
- 100 exec checks at once, each sleeping 2 s beside children of its own
  (exec_max_running 100: all of them run together), do not delay a tcp
  check beside them: its backend killed, it is down on time;
- `gtmd check` refuses a relative program, one that is not executable,
  an unknown user, a missing command, each at its JSON path.

Every wait is bounded; leftover processes are killed at the end."""
import json
import os
import re
import signal
import stat
import subprocess
import tempfile
import time
import uuid

import pytest

from adminlib import Admin, admin_port, admin_section, status_endpoint
from backends import backends, free_port_on, poll  # noqa: F401
from conftest import GTMD
from test_policy_failover import ep, policy_config


def pgrep(*args):
    r = subprocess.run(["pgrep"] + list(args), capture_output=True, text=True, timeout=10)
    return [int(x) for x in r.stdout.split()]


@pytest.fixture
def scripts():
    d = tempfile.mkdtemp(prefix="gtmd-exec-")
    os.chmod(d, 0o755)
    marker = "gtmdexec" + uuid.uuid4().hex[:10]
    made = {}

    def make(name, body):
        p = os.path.join(d, name)
        with open(p, "w") as f:
            f.write("#!/bin/sh\n" + body.replace("MARKER", marker))
        os.chmod(p, 0o755)
        made[name] = p
        return p
    make.dir, make.marker = d, marker
    yield make
    for pid in pgrep("-f", marker):
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    subprocess.run(["rm", "-rf", d], timeout=10)


def exec_check(cmd, **kw):
    c = {"type": "exec", "command": cmd, "user": "nobody", "interval": 1, "timeout": 0.8,
         "rise": 1, "fall": 1}
    c.update(kw)
    return c


def start(make_gtmd, checks, pools, extra=None, records=None):
    recs = records or {"p.example.com.": {"pool": sorted(pools)[0], "policy": "all", "ttl": 5}}
    fn = policy_config(["r1"], checks, pools, recs, **(extra or {}))

    def with_admin(workdir, dns_port):
        c = fn(workdir, dns_port)
        c["admin"] = admin_section(workdir, admin_port(dns_port))
        return c
    return make_gtmd(with_admin)


def endpoint(g, pool, name):
    return status_endpoint(g, pool, name)


def wait_result(g, pool, name, pred, timeout):
    ok, took = poll(lambda: pred(endpoint(g, pool, name)), timeout, 0.05)
    assert ok, (pool, name, endpoint(g, pool, name), g.read_log()[-1500:])
    return took


def one(check, pool="p", address="127.0.0.1", name="a"):
    return {pool: {"check": pool, "endpoints": [ep(name, address, "r1")]}}, {pool: check}


def test_exit_codes_load_and_placeholders(make_gtmd, scripts):
    out = os.path.join(scripts.dir, "args")
    with open(out, "w"):
        pass
    os.chmod(out, 0o666)  # the script runs as nobody
    ok = scripts("ok.sh", 'echo "load=0.9"\necho "$@" "$GTMD_ADDRESS" > %s\nexit 0\n' % out)
    fail = scripts("fail.sh", 'echo "disk full"\nexit 1\n')
    three = scripts("three.sh", 'echo "no licence server" >&2\nexit 3\n')
    pools, checks = {}, {}
    for name, prog in (("ok", ok), ("fail", fail), ("three", three)):
        p, c = one(exec_check([prog, "--addr={address}", "{port}", "{name}"], port=8080),
                   pool=name)
        pools.update(p)
        checks.update(c)
    records = {"p.example.com.": {"pool": "ok", "policy": "weighted", "select": "weighted",
                                  "answers": 1, "ttl": 5,
                                  "shed_load": {"low": 0.5, "high": 0.8}}}
    g = start(make_gtmd, checks, pools, records=records)
    wait_result(g, "ok", "a", lambda e: e["state"]["probe"] == "up" and e.get("load") == 0.9, 5)
    wait_result(g, "fail", "a", lambda e: e["state"]["probe"] == "down", 5)
    wait_result(g, "three", "a", lambda e: e["state"]["probe"] == "down", 5)
    assert endpoint(g, "fail", "a")["last_result"] == "exit 1: disk full"
    assert endpoint(g, "three", "a")["last_result"] == "error: exit 3: no licence server"
    with open(out) as f:
        assert f.read().split() == ["--addr=127.0.0.1", "8080", "127.0.0.1", "127.0.0.1"]
    # The load feeds shedding: above high, its share is none.
    e = Admin.of(g).get("/v1/explain?name=p.example.com.&type=A").json["policy"]
    assert [x["shed_factor"] for x in e["endpoints"]] == [0.0], e


def test_hang_is_killed_with_its_group(make_gtmd, scripts):
    hang = scripts("hang.sh", 'sh -c "sleep 60; : MARKER child" &\n'
                              'sh -c "sleep 60; : MARKER child2" &\nsleep 60\n')
    pools, checks = one(exec_check([hang], interval=3, timeout=1))
    g = start(make_gtmd, checks, pools)
    wait_result(g, "p", "a", lambda e: e["state"]["probe"] == "down", 8)
    r = endpoint(g, "p", "a")["last_result"]
    m = re.match(r"timeout: program killed after 1000 ms \(process group (\d+)\)$", r)
    assert m, r
    pgid = int(m.group(1))
    gone, took = poll(lambda: not pgrep("-g", str(pgid)) and not pgrep("-f", scripts.marker), 5)
    assert gone, (pgrep("-g", str(pgid)), pgrep("-af", scripts.marker))


def test_children_left_behind_are_killed(make_gtmd, scripts):
    left = scripts("left.sh", 'sh -c "sleep 60; : MARKER orphan" &\nexit 0\n')
    pools, checks = one(exec_check([left], interval=5, timeout=2))
    g = start(make_gtmd, checks, pools)
    wait_result(g, "p", "a", lambda e: e["state"]["probe"] == "up", 5)
    gone, _ = poll(lambda: not pgrep("-f", scripts.marker), 5)
    assert gone, subprocess.run(["pgrep", "-af", scripts.marker], capture_output=True,
                                text=True).stdout


def test_root_only_when_asked(make_gtmd, scripts):
    if os.geteuid() != 0:
        pytest.skip("gtmd runs as root only when the test does")
    ok = scripts("ok.sh", "exit 0\n")
    pools, checks = one(exec_check([ok]))
    del checks["p"]["user"]
    g = start(make_gtmd, checks, pools)
    wait_result(g, "p", "a", lambda e: e["state"]["probe"] == "down", 5)
    assert "refusing to run the program as root" in endpoint(g, "p", "a")["last_result"]


def test_100_execs_do_not_delay_a_tcp_check(make_gtmd, scripts, backends):  # noqa: F811
    slow = scripts("slow.sh", 'for i in 1 2 3; do sh -c "sleep 2; : MARKER kid" & done\n'
                              'sleep 2\nexit 0\n')
    addr = "127.0.0.61"
    port = free_port_on([addr])
    (b,) = backends.start_all([backends.tcp(addr, port, start=False)])
    eps = [ep("e%d" % i, "127.0.1.%d" % (i + 1), "r1") for i in range(100)]
    pools = {"slow": {"check": "slow", "endpoints": eps},
             "web": {"check": "web", "endpoints": [ep("w", addr, "r1")]}}
    checks = {"slow": exec_check([slow], interval=4, timeout=3, rise=1, fall=1),
              "web": {"type": "tcp", "port": port, "interval": 0.5, "timeout": 0.4,
                      "rise": 1, "fall": 2}}
    g = start(make_gtmd, checks, pools, extra={"exec_max_running": 100})
    wait_result(g, "web", "w", lambda e: e["state"]["probe"] == "up", 5)
    # Wait until the programs run (processes of the marker), then kill the
    # backend while they do.
    busy, _ = poll(lambda: len(pgrep("-f", scripts.marker)) >= 100, 10, 0.1)
    assert busy, len(pgrep("-f", scripts.marker))
    t0 = time.monotonic()
    b.kill()
    took = wait_result(g, "web", "w", lambda e: e["state"]["probe"] == "down", 10)
    # fall 2 probes 0.5 s apart, each refused at once: about 1 s.
    assert time.monotonic() - t0 < 2.5, took
    wait_result(g, "slow", "e99", lambda e: e["state"]["probe"] == "up", 15)
    assert "event=probe_not_run" not in g.read_log()


@pytest.mark.parametrize("cmd,user,path,words", [
    (["bin/true"], None, "$.checks.x.command[0]", "must be an absolute path"),
    (["NOEXEC"], None, "$.checks.x.command[0]", "is not executable"),
    (["/nonexistent/prog"], None, "$.checks.x.command[0]", "No such file"),
    ([], None, "$.checks.x.command", "must be an array of 1 to"),
    (None, None, "$.checks.x.command", "is required for type exec"),
    (["/bin/true"], "no-such-user-gtmd", "$.checks.x.user", "no such user"),
])
def test_gtmd_check_refuses_bad_exec_keys(tmp_path, scripts, cmd, user, path, words):
    noexec = os.path.join(scripts.dir, "noexec.sh")
    with open(noexec, "w") as f:
        f.write("#!/bin/sh\nexit 0\n")
    os.chmod(noexec, stat.S_IRUSR | stat.S_IWUSR)
    c = {"type": "exec", "interval": 1}
    if cmd is not None:
        c["command"] = [noexec if x == "NOEXEC" else x for x in cmd]
    if user:
        c["user"] = user
    pools = {"x": {"check": "x", "endpoints": [ep("a", "127.0.0.1", "r1")]}}
    conf = policy_config(["r1"], {"x": c}, pools,
                         {"p.example.com.": {"pool": "x", "policy": "all", "ttl": 5}})
    p = tmp_path / "gtmd.json"
    p.write_text(json.dumps(conf(str(tmp_path), 5353)))
    r = subprocess.run([GTMD, "check", "-c", str(p)], capture_output=True, text=True, timeout=30)
    assert r.returncode != 0, r.stdout + r.stderr
    line = [x for x in (r.stdout + r.stderr).splitlines() if path + ":" in x]
    assert line and words in line[0], r.stdout + r.stderr

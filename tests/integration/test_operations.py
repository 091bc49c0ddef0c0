"""Running gtmd in production: the audit log reopened on SIGUSR1 (and the
logrotate configuration of contrib/ that uses it).

Every wait is bounded."""
import json
import os
import re
import shutil
import signal
import subprocess
import time

import pytest

from adminlib import Admin, config_fn

TOP = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def wait_log(g, pattern, timeout=5.0, after=0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        m = re.search(pattern, g.read_log()[after:])
        if m:
            return m
        time.sleep(0.02)
    raise AssertionError("no %r in the log:\n%s" % (pattern, g.read_log()[-3000:]))


def lines(path):
    with open(path) as f:
        return [json.loads(x) for x in f if x.strip()]


def audit_config(path):
    def mutate(c, workdir):
        os.makedirs(os.path.join(workdir, os.path.dirname(path)), exist_ok=True)
        c["admin"]["audit_log"] = path
    return config_fn(mutate=mutate)


def post(a, reason):
    r = a.override("endpoint:web/us6", state="down", reason=reason)
    assert r.status == 201, r
    assert a.delete("/v1/overrides/" + r.json["id"]).status == 200
    return r.json["id"]


def reasons(path):
    return [x["request"]["reason"] for x in lines(path) if x.get("method") == "POST"]


def test_sigusr1_reopens_the_audit_log(make_gtmd):
    g = make_gtmd(audit_config("logs/audit.log"))
    a = Admin.of(g).wait_ready()
    log = os.path.join(g.workdir, "logs", "audit.log")
    post(a, "one")
    assert reasons(log) == ["one"]
    # Renamed (as logrotate does): the open file goes on getting lines...
    os.rename(log, log + ".1")
    post(a, "two")
    assert reasons(log + ".1") == ["one", "two"] and not os.path.exists(log)
    # ... until SIGUSR1 opens the path again.
    before = len(g.read_log())
    g.signal(signal.SIGUSR1)
    wait_log(g, r"event=audit_reopen result=ok file=\S+/logs/audit.log", after=before)
    assert "event=signal signal=USR1 action=reopen" in g.read_log()[before:]
    post(a, "three")
    assert reasons(log) == ["three"], "the next mutating call goes to a new file"
    assert reasons(log + ".1") == ["one", "two"]
    assert os.stat(log).st_mode & 0o777 == 0o600
    # Every line of the new file is whole JSON (the DELETE too).
    assert [x["method"] for x in lines(log)] == ["POST", "DELETE"]


def test_failed_reopen_keeps_the_open_file(make_gtmd):
    g = make_gtmd(audit_config("logs/audit.log"))
    a = Admin.of(g).wait_ready()
    post(a, "one")
    os.rename(os.path.join(g.workdir, "logs"), os.path.join(g.workdir, "moved"))
    before = len(g.read_log())
    g.signal(signal.SIGUSR1)
    wait_log(g, r"event=audit_reopen result=failed file=\S+ error=\"No such file or directory\"",
             after=before)
    post(a, "two")
    assert reasons(os.path.join(g.workdir, "moved", "audit.log")) == ["one", "two"]
    assert g.proc.poll() is None


@pytest.mark.skipif(not shutil.which("logrotate"), reason="logrotate is not installed")
def test_contrib_logrotate_config_rotates_with_sigusr1(make_gtmd):
    """contrib/gtmd.logrotate, with its path moved to the test's directory
    and its postrotate command signalling this gtmd, run with logrotate -f:
    the old lines are in audit.log.1, the next call writes a new audit.log."""
    g = make_gtmd(audit_config("logs/audit.log"))
    a = Admin.of(g).wait_ready()
    log = os.path.join(g.workdir, "logs", "audit.log")
    post(a, "before rotation")
    with open(os.path.join(TOP, "contrib", "gtmd.logrotate")) as f:
        conf = f.read()
    assert "/var/log/gtmd/audit.log {" in conf and "--signal=USR1" in conf
    conf = conf.replace("/var/log/gtmd/audit.log", log)
    conf = re.sub(r"systemctl kill [^\n]*", "kill -USR1 %d" % g.proc.pid, conf)
    rc = os.path.join(g.workdir, "logrotate.conf")
    with open(rc, "w") as f:
        f.write(conf)
    before = len(g.read_log())
    p = subprocess.run(["logrotate", "-f", "-s", os.path.join(g.workdir, "lr.state"), rc],
                       capture_output=True, text=True, timeout=30)
    assert p.returncode == 0, p.stderr
    wait_log(g, r"event=audit_reopen result=ok", after=before)
    post(a, "after rotation")
    assert reasons(log + ".1") == ["before rotation"]
    assert reasons(log) == ["after rotation"]


def test_threads_carry_their_names(make_gtmd):
    """top -H, ps -L and perf show what each thread is: the workers, the
    prober, the health and admin threads by name (doc/architecture.md,
    "Threads"); the main thread keeps the process's name."""
    g = make_gtmd(config_fn())
    Admin.of(g).wait_ready()
    task = "/proc/%d/task" % g.proc.pid
    names = []
    for tid in os.listdir(task):
        try:
            with open(os.path.join(task, tid, "comm")) as f:
                names.append(f.read().strip())
        except OSError:
            pass  # a thread that ended meanwhile
    assert {"gtmd-prober", "gtmd-health", "gtmd-admin"} <= set(names), names
    assert any(re.fullmatch(r"gtmd-(udp|tcp)\d+", n) for n in names), names
    assert names.count(os.path.basename(g.proc.args[0])[:15]) >= 1, names

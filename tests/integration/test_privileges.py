"""Privileges: started as root with "user": "nobody", gtmd binds every socket
(DNS on port 53 of a loopback address, the admin TCP and unix listeners),
then drops to nobody for good; queries, reloads, the state file, the audit
log and its reopen all work as nobody; files nobody could not write (or
read again at a reload) stop the start, and `gtmd check`, with a clear
error. Needs root (skipped otherwise) and the nobody user.

Every wait is bounded."""
import json
import os
import pwd
import random
import re
import shutil
import signal
import socket
import stat
import subprocess
import time

import dns.message
import dns.query
import pytest

from adminlib import Admin, READ_TOKEN, admin_port, admin_section
from conftest import GTMD, default_config

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="needs root (it drops privileges)")

try:
    NOBODY = pwd.getpwnam("nobody")
except KeyError:  # pragma: no cover
    NOBODY = None


def status_ids(pid):
    """{'Uid': [...], 'Gid': [...], 'Groups': [...], 'CapEff': int, 'CapPrm': int}"""
    out = {}
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            k, _, v = line.partition(":")
            if k in ("Uid", "Gid", "Groups"):
                out[k] = [int(x) for x in v.split()]
            elif k in ("CapEff", "CapPrm", "CapAmb"):
                out[k] = int(v.strip(), 16)
    return out


def free_port53():
    """A loopback address whose port 53 is free for UDP and TCP."""
    for _ in range(50):
        addr = "127.0.53.%d" % random.randint(2, 250)
        ok = True
        for typ in (socket.SOCK_DGRAM, socket.SOCK_STREAM):
            s = socket.socket(socket.AF_INET, typ)
            try:
                s.bind((addr, 53))
            except OSError:
                ok = False
            finally:
                s.close()
        if ok:
            return addr
    raise RuntimeError("no loopback address with port 53 free")


def give_to_nobody(workdir, *names):
    """The operator's part: gtmd's directory and files belong to its user."""
    os.chmod(workdir, 0o755)
    os.chown(workdir, NOBODY.pw_uid, NOBODY.pw_gid)
    for n in names:
        os.chown(os.path.join(workdir, n), NOBODY.pw_uid, NOBODY.pw_gid)


def nobody_config(addr=None, unix=True, state="state.json", **extra):
    def fn(workdir, port):
        c = default_config(workdir, port)
        if addr:
            c["listen"] = ["%s:53" % addr]
        c["user"] = "nobody"
        c["state_file"] = state
        c["regions"] = {"r1": {}, "r2": {}}
        c["pools"] = {"p": {"endpoints": [
            {"name": "a", "address": "192.0.2.71", "region": "r1"},
            {"name": "b", "address": "192.0.2.72", "region": "r2"}]}}
        c["records"] = {"app.example.com.": {"pool": "p", "policy": "failover",
                                             "regions": ["r1", "r2"]}}
        c["admin"] = admin_section(workdir, admin_port(port), unix=unix)
        c.update(extra)
        return c
    return fn


def start_expect_failure(g, timeout=10):
    g.start(wait=False)
    rc = g.proc.wait(timeout=timeout)
    return rc, g.read_log()


def check(conf_path):
    return subprocess.run([GTMD, "check", "-c", conf_path], capture_output=True, text=True,
                          timeout=30)


def wait_for(pred, timeout=5.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if pred():
            return True
        time.sleep(0.02)
    return pred()


@pytest.mark.skipif(NOBODY is None, reason="no user nobody")
def test_binds_port_53_then_runs_as_nobody(make_gtmd):
    addr = free_port53()
    g = make_gtmd(nobody_config(addr), start=False)
    g.addr, g.port = addr, 53
    give_to_nobody(g.workdir, "read.token", "operate.token")
    g.start()
    pid = g.proc.pid
    ids = status_ids(pid)
    assert ids["Uid"] == [NOBODY.pw_uid] * 4, ids
    assert ids["Gid"] == [NOBODY.pw_gid] * 4, ids
    assert 0 not in ids["Groups"], ids
    assert ids["CapEff"] == 0 and ids["CapPrm"] == 0 and ids.get("CapAmb", 0) == 0, ids
    assert re.search(r"event=privileges user=nobody uid=%d group=\S+ gid=%d groups=\d+ "
                     r"root=refused" % (NOBODY.pw_uid, NOBODY.pw_gid), g.read_log())
    # With "user" set, the start as root has nothing to warn of.
    assert "event=secrets_warning" not in g.read_log(), g.read_log()
    # Port 53 was bound before the drop: UDP and TCP answer.
    r = g.query("app.example.com.", "A")
    assert [x.address for x in r.answer[0]] == ["192.0.2.71"]
    assert g.query("www.example.com.", "A", tcp=True).answer
    # The admin API over TCP and the unix socket (owned by nobody, 0600).
    a = Admin.of(g).wait_ready()
    sock = os.path.join(g.workdir, "adm.sock")
    st = os.lstat(sock)
    assert stat.S_ISSOCK(st.st_mode) and st.st_mode & 0o777 == 0o600 and \
        st.st_uid == NOBODY.pw_uid, st
    assert a.get("/v1/status", token=READ_TOKEN, via_unix=True).status == 200
    # An override is written to the state file, as nobody.
    o = a.override("region:r1", reason="drain as nobody", force=True)
    assert o.status == 201, o
    state = os.path.join(g.workdir, "state.json")
    with open(state) as f:
        assert o.json["id"] in [x["id"] for x in json.load(f)["overrides"]]
    assert os.stat(state).st_uid == NOBODY.pw_uid
    assert os.stat(os.path.join(g.workdir, "audit.log")).st_uid == NOBODY.pw_uid
    r = g.query("app.example.com.", "A")
    assert [x.address for x in r.answer[0]] == ["192.0.2.72"]
    # A reload reads the configuration and zones again, as nobody.
    g.config["records"]["new.example.com."] = {"pool": "p", "policy": "all"}
    g.write_config()
    before = len(g.read_log())
    g.signal(signal.SIGHUP)
    assert wait_for(lambda: "event=reload result=ok" in g.read_log()[before:]), g.read_log()
    assert g.query("new.example.com.", "A").answer
    # The audit log is reopened as nobody after a rotation.
    log = os.path.join(g.workdir, "audit.log")
    os.rename(log, log + ".1")
    g.signal(signal.SIGUSR1)
    assert wait_for(lambda: "event=audit_reopen result=ok" in g.read_log()), g.read_log()
    assert a.delete("/v1/overrides/" + o.json["id"]).status == 200
    assert os.stat(log).st_uid == NOBODY.pw_uid
    assert g.stop() == 0
    assert not os.path.exists(sock), "the unix socket is removed at stop, as nobody"


@pytest.mark.skipif(NOBODY is None, reason="no user nobody")
def test_unwritable_state_directory_stops_the_start_and_fails_check(make_gtmd):
    g = make_gtmd(nobody_config(unix=False, state="root-only/state.json"), start=False)
    give_to_nobody(g.workdir, "read.token", "operate.token")
    os.mkdir(os.path.join(g.workdir, "root-only"), 0o755)  # root's: nobody cannot write
    rc, log = start_expect_failure(g)
    want = (r"gtmd\.json: \$\.state_file: the directory \S+/root-only of the state file is not "
            r"writable by user nobody \(uid %d\) \(Permission denied\): gtmd could not save it"
            % NOBODY.pw_uid)
    assert rc == 1 and re.search(want, log), log
    assert "event=start" not in log and "event=first_round" not in log, log
    p = check(g.conf_path)
    assert p.returncode == 1 and re.search(want, p.stderr), p.stderr
    assert ": ok (" not in p.stdout
    # Given to nobody, both pass.
    os.chown(os.path.join(g.workdir, "root-only"), NOBODY.pw_uid, NOBODY.pw_gid)
    p = check(g.conf_path)
    assert p.returncode == 0 and ": ok (" in p.stdout, p.stderr
    g.start()
    assert os.stat(os.path.join(g.workdir, "root-only")).st_uid == NOBODY.pw_uid


@pytest.mark.skipif(NOBODY is None, reason="no user nobody")
def test_files_nobody_could_not_use_later_are_refused(make_gtmd):
    """A state file nobody cannot read (left by a run as root) would be lost
    at the next start; a token file and a zone file nobody cannot read make
    every reload fail; an audit log nobody cannot append to."""
    g = make_gtmd(nobody_config(unix=False), start=False)
    give_to_nobody(g.workdir, "operate.token")  # read.token stays root's, 0600
    with open(os.path.join(g.workdir, "state.json"), "w") as f:
        f.write("{}")
    os.chmod(os.path.join(g.workdir, "state.json"), 0o600)  # root's
    os.chmod(os.path.join(g.workdir, "example.com.zone"), 0o600)
    with open(os.path.join(g.workdir, "audit.log"), "w") as f:
        f.write("")
    os.chmod(os.path.join(g.workdir, "audit.log"), 0o644)
    rc, log = start_expect_failure(g)
    assert rc == 1, log
    for want in (r"\$\.state_file: the state file \S+/state\.json is not readable by user "
                 r"nobody \(uid \d+\) \(Permission denied\): what it holds would be lost at the "
                 r"next start",
                 r"\$\.admin\.read_token_file: the token file \S+/read\.token is not readable by "
                 r"user nobody .*every reload would fail",
                 r"\$\.zones\[0\]\.file: the zone file \S+/example\.com\.zone is not readable by "
                 r"user nobody .*every reload would fail",
                 r"\$\.admin\.audit_log: the audit log \S+/audit\.log is not writable by user "
                 r"nobody"):
        assert re.search(want, log), (want, log)
        assert re.search(want, check(g.conf_path).stderr), want
    with open(os.path.join(g.workdir, "state.json")) as f:
        assert f.read() == "{}", "the state file was left alone"


def test_user_names_are_checked(make_gtmd, tmp_path):
    g = make_gtmd(start=False)
    for user, group, want in (
            ("no-such-user-xyz", None, r"\$\.user: no such user \"no-such-user-xyz\""),
            ("root", None, r"\$\.user: \"root\" is root \(uid 0\): nothing would be dropped"),
            ("nobody", "no-such-group-xyz", r"\$\.group: no such group \"no-such-group-xyz\""),
            ("nobody", "root", r"\$\.group: \"root\" is gid 0: name an unprivileged group"),
            (None, "nogroup", r"\$\.group: needs \"user\"")):
        c = dict(g.config)
        c.pop("user", None)
        c.pop("group", None)
        if user:
            c["user"] = user
        if group:
            c["group"] = group
        g.write_config(c)
        p = check(g.conf_path)
        assert p.returncode == 1 and re.search(want, p.stderr), (user, group, p.stderr)


@pytest.mark.skipif(NOBODY is None, reason="no user nobody")
def test_a_user_other_than_root_cannot_switch(make_gtmd):
    """Started as daemon (uid 1) with "user": "nobody": refused, clearly; as
    nobody itself (systemd User=, or setcap), it runs without switching."""
    g = make_gtmd(lambda w, p: dict(default_config(w, p), user="nobody"), start=False)
    os.chmod(g.workdir, 0o755)
    g.write_config()
    # Run a copy of the binary from the (0755) work directory: the build tree
    # may sit where daemon and nobody cannot reach it (a clone under /root,
    # mode 0700, on a standard Debian machine).
    binary = os.path.join(g.workdir, "gtmd")
    shutil.copy(GTMD, binary)
    os.chmod(binary, 0o755)

    def run_as(uid, gid):
        g.log = open(g.log_path, "ab")
        g.proc = subprocess.Popen([binary, "-c", g.conf_path], stdout=g.log, stderr=g.log,
                                  preexec_fn=lambda: (os.setgroups([]), os.setgid(gid),
                                                      os.setuid(uid)))
    daemon = pwd.getpwnam("daemon")
    run_as(daemon.pw_uid, daemon.pw_gid)
    assert g.proc.wait(timeout=10) == 1
    assert re.search(r"\$\.user: cannot switch to user nobody \(uid %d\): gtmd runs as uid %d, "
                     r"not root" % (NOBODY.pw_uid, daemon.pw_uid), g.read_log()), g.read_log()
    g.log.close()
    run_as(NOBODY.pw_uid, NOBODY.pw_gid)
    g.wait_ready()
    assert status_ids(g.proc.pid)["Uid"] == [NOBODY.pw_uid] * 4
    assert "event=privileges" not in g.read_log().split("cannot switch")[-1]
    assert g.stop() == 0


@pytest.mark.skipif(NOBODY is None, reason="no user nobody")
def test_reload_says_what_needs_a_restart(make_gtmd):
    g = make_gtmd(nobody_config(unix=False), start=False)
    give_to_nobody(g.workdir, "read.token", "operate.token")
    g.start()
    a = Admin.of(g).wait_ready()
    g.config["listen"] = ["127.0.0.1:53", "127.0.0.1:%d" % g.port]
    g.config["user"] = "daemon"
    g.write_config()
    r = a.post("/v1/reload", {})
    assert r.status == 200 and r.json["result"] == "ok", r
    assert r.json["restart_needed_for_listen"] is True
    assert r.json["restart_needed_for_user"] is True
    assert r.json["restart_needed"] == ["listen", "user"], r.json  # config_keys.c
    log = g.read_log()
    assert re.search(r"event=reload note=\"listen address 127\.0\.0\.1:53 is on a privileged "
                     r"port and gtmd runs as user nobody \(uid \d+\): binding it needs a restart "
                     r"as root \(or with CAP_NET_BIND_SERVICE\)\"", log), log
    assert re.search(r"event=reload note=\"user and group change only on restart; gtmd goes on "
                     r"as user nobody\"", log), log
    assert status_ids(g.proc.pid)["Uid"] == [NOBODY.pw_uid] * 4
    # A second reload of the same file says it again (what runs is kept).
    r = a.post("/v1/reload", {})
    assert r.json["restart_needed_for_user"] is True and r.json["restart_needed_for_listen"]
    assert r.json["restart_needed"] == ["listen", "user"], r.json


@pytest.mark.skipif(NOBODY is None, reason="no user nobody")
def test_fleet_files_nobody_could_not_read_are_refused(make_gtmd):
    """The fleet thread loads its TLS files after the drop and every reload
    reads the password file again: root's files stop the start (before
    etcd is ever asked), and pass once given to nobody."""
    fleet = {"etcd": ["http://127.0.0.1:9"], "username": "gtmd",
             "password_file": "etcd.password", "tls": {"ca_file": "ca.pem"}}
    g = make_gtmd(nobody_config(unix=False, fleet=fleet), start=False)
    give_to_nobody(g.workdir, "read.token", "operate.token")
    for name, text in (("etcd.password", "secret\n"), ("ca.pem", "not used here\n")):
        with open(os.path.join(g.workdir, name), "w") as f:
            f.write(text)
        os.chmod(os.path.join(g.workdir, name), 0o600)  # root's
    rc, log = start_expect_failure(g)
    assert rc == 1, log
    for want in (r"\$\.fleet\.password_file: the password file \S+/etcd\.password is not "
                 r"readable by user nobody \(uid \d+\) \(Permission denied\): every reload "
                 r"would fail",
                 r"\$\.fleet\.tls\.ca_file: the CA file \S+/ca\.pem is not readable by user "
                 r"nobody \(uid \d+\) \(Permission denied\): the fleet could not connect to "
                 r"etcd"):
        assert re.search(want, log), (want, log)
        assert re.search(want, check(g.conf_path).stderr), want
    assert "event=fleet_start" not in log and "event=first_round" not in log, log
    give_to_nobody(g.workdir, "etcd.password", "ca.pem")
    p = check(g.conf_path)
    assert "is not readable by user nobody" not in p.stderr, p.stderr

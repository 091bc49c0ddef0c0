"""systemd: the notification protocol spoken by hand (a Python listener on
a datagram socket stands in for systemd's $NOTIFY_SOCKET, by path and by
abstract '@' name), and the sandboxing of contrib/gtmd.service as
`systemd-analyze security --offline=true` rates it.

READY=1 comes after the first probe round, once every listener answers;
RELOADING=1 with MONOTONIC_USEC and READY=1 frame every reload (SIGHUP,
the API, a failed one); STOPPING=1 comes at stop. Every wait is bounded."""
import os
import re
import shutil
import signal
import socket
import subprocess
import time
import uuid

import pytest

from adminlib import Admin, admin_port, admin_section
from backends import backends, free_port_on  # noqa: F401
from conftest import TOP, default_config

NOTIFY_ADDR = "127.0.0.45"


class Listener:
    """systemd's side: a datagram socket gtmd sends its notifications to."""

    def __init__(self, workdir, abstract=False):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        if abstract:
            name = "gtmd-test-" + uuid.uuid4().hex
            self.sock.bind("\0" + name)
            self.env = "@" + name
        else:
            path = os.path.join(workdir, "notify.sock")
            self.sock.bind(path)
            self.env = path
        self.got = []  # (monotonic arrival, {var: value}, raw)

    def next(self, timeout=10.0):
        self.sock.settimeout(timeout)
        data = self.sock.recv(4096).decode()
        fields = dict(line.split("=", 1) for line in data.split("\n") if "=" in line)
        self.got.append((time.monotonic(), fields, data))
        return fields

    def until(self, var, timeout=10.0):
        """Notifications up to and including the first with var; bounded."""
        deadline = time.monotonic() + timeout
        seen = []
        while time.monotonic() < deadline:
            f = self.next(max(0.05, deadline - time.monotonic()))
            seen.append(f)
            if var in f:
                return seen
        raise AssertionError("no %s within %.0f s: %r" % (var, timeout, seen))

    def close(self):
        self.sock.close()


def notify_config(port_http):
    def fn(workdir, port):
        c = default_config(workdir, port)
        c["regions"] = {"r1": {}, "r2": {}}
        c["checks"] = {"web": {"type": "http", "port": port_http, "path": "/", "interval": 2,
                               "timeout": 1}}
        c["pools"] = {"p": {"check": "web", "endpoints": [
            {"name": "a", "address": NOTIFY_ADDR, "region": "r1"}]}}
        c["records"] = {"app.example.com.": {"pool": "p", "policy": "failover",
                                             "regions": ["r1"], "when_all_down": "empty"}}
        c["admin"] = admin_section(workdir, admin_port(port))
        return c
    return fn


def start_notified(make_gtmd, backends, abstract=False, delay_ms=300):  # noqa: F811
    port = free_port_on([NOTIFY_ADDR])
    backends.http(NOTIFY_ADDR, port, mode="delay:%d" % delay_ms)
    g = make_gtmd(notify_config(port), start=False)
    lst = Listener(g.workdir, abstract)
    g.env = {"NOTIFY_SOCKET": lst.env}
    t0 = time.monotonic()
    g.start(wait=False)
    return g, lst, t0


@pytest.mark.threads
def test_ready_after_the_first_round_reloads_and_stopping(make_gtmd, backends):  # noqa: F811
    g, lst, t0 = start_notified(make_gtmd, backends)
    try:
        seen = lst.until("READY", timeout=15)
        ready_at = lst.got[-1][0]
        # Answered at once, UDP and TCP, with the decided state: the
        # endpoint's first probe took 0.3 s; before it nothing was ready.
        r = g.query("app.example.com.", "A", timeout=1.0)
        assert [x.address for x in r.answer[0]] == [NOTIFY_ADDR]
        assert g.query("www.example.com.", "A", tcp=True, timeout=1.0).answer
        assert Admin.of(g).get("/v1/health", token=None, timeout=1.0).status == 200
        assert ready_at - t0 >= 0.3, "READY before the first probe could end"
        log = g.read_log()
        assert "event=first_round" in log and "event=start " in log
        assert seen[0].get("STATUS") == "starting", seen
        assert any(f.get("STATUS", "").startswith("first probe round") for f in seen), seen
        assert re.fullmatch(r"serving generation 1: 2 zones, \d+ records", seen[-1]["STATUS"])
        assert seen[-1]["READY"] == "1"

        # SIGHUP: RELOADING=1 with MONOTONIC_USEC (CLOCK_MONOTONIC, as
        # Python's time.monotonic), then READY=1 with the new generation.
        before = time.monotonic()
        g.signal(signal.SIGHUP)
        f = lst.next()
        assert f.get("RELOADING") == "1" and f.get("STATUS") == "reloading", f
        usec = int(f["MONOTONIC_USEC"])
        assert before * 1e6 - 1e6 <= usec <= time.monotonic() * 1e6, (before, usec)
        f = lst.next()
        assert f.get("READY") == "1" and f["STATUS"].startswith("serving generation 2:"), f

        # A failed reload is framed too, and says it.
        g.config["records"]["bad.example.com."] = {"pool": "nope"}
        g.write_config()
        g.signal(signal.SIGHUP)
        assert lst.next().get("RELOADING") == "1"
        f = lst.next()
        assert f.get("READY") == "1", f
        assert re.fullmatch(r"reload failed \(1 errors, see the log\); serving generation 2",
                            f["STATUS"]), f
        del g.config["records"]["bad.example.com."]
        g.write_config()

        # The API's reload too.
        r = Admin.of(g).post("/v1/reload", {})
        assert r.status == 200, r
        assert lst.next().get("RELOADING") == "1"
        assert lst.next()["STATUS"].startswith("serving generation 3:")

        g.signal(signal.SIGTERM)
        f = lst.next()
        assert f.get("STOPPING") == "1" and f.get("STATUS") == "stopping", f
        assert g.proc.wait(timeout=10) == 0
    finally:
        lst.close()


def test_abstract_notify_socket(make_gtmd, backends):  # noqa: F811
    g, lst, _ = start_notified(make_gtmd, backends, abstract=True, delay_ms=0)
    try:
        assert lst.until("READY")[-1]["READY"] == "1"
        g.signal(signal.SIGTERM)
        assert lst.until("STOPPING")[-1]["STOPPING"] == "1"
        assert g.proc.wait(timeout=10) == 0
    finally:
        lst.close()


def test_without_a_listener_gtmd_runs_and_says_so(make_gtmd):
    """A NOTIFY_SOCKET nobody listens on (or a bad value) is logged and
    ignored; gtmd serves as without one."""
    g = make_gtmd(start=False)
    g.env = {"NOTIFY_SOCKET": os.path.join(g.workdir, "nobody-here.sock")}
    g.start()
    assert re.search(r"event=notify result=failed socket=\"\S+nobody-here.sock\" "
                     r"error=\"No such file or directory\"", g.read_log())
    assert g.query("www.example.com.", "A").answer
    assert g.stop() == 0
    g.env = {"NOTIFY_SOCKET": "relative/path"}
    g.start()
    assert "event=notify result=ignored" in g.read_log()
    assert g.stop() == 0


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root (drops privileges)")
def test_notify_still_reaches_systemd_after_the_privilege_drop(make_gtmd, backends):  # noqa: F811
    """The socket is connected before the drop: a listener only root may
    write to still gets READY and STOPPING from gtmd running as nobody."""
    port = free_port_on([NOTIFY_ADDR])
    backends.http(NOTIFY_ADDR, port)
    g = make_gtmd(notify_config(port), start=False)
    g.config["user"] = "nobody"
    del g.config["admin"]
    os.chmod(g.workdir, 0o755)
    lst = Listener(g.workdir)
    os.chmod(lst.env, 0o700)  # root's: nobody could not send to it by path
    g.env = {"NOTIFY_SOCKET": lst.env}
    g.start(wait=False)
    try:
        assert lst.until("READY")[-1]["READY"] == "1"
        with open("/proc/%d/status" % g.proc.pid) as f:
            assert re.search(r"^Uid:\s+65534\s", f.read(), re.M)
        g.signal(signal.SIGTERM)
        assert lst.until("STOPPING")[-1]["STOPPING"] == "1"
        assert g.proc.wait(timeout=10) == 0
    finally:
        lst.close()


@pytest.mark.skipif(not shutil.which("systemd-analyze"), reason="no systemd-analyze")
def test_contrib_unit_is_sandboxed():
    """contrib/gtmd.service as systemd-analyze rates it offline: exposure at
    most 2.0 ("OK"), and the settings the unit promises are in force."""
    unit = os.path.join(TOP, "contrib", "gtmd.service")
    p = subprocess.run(["systemd-analyze", "security", "--offline=true", unit],
                       capture_output=True, text=True, timeout=60)
    out = p.stdout + p.stderr
    m = re.search(r"Overall exposure level for gtmd\.service: (\d+\.\d+) (\w+)", out)
    assert m, out
    print("\nMEASURE systemd-analyze security: %s %s" % (m.group(1), m.group(2)))
    assert float(m.group(1)) <= 2.0, out
    for ok in ("ProtectSystem=", "NoNewPrivileges=", "PrivateTmp=", "PrivateDevices=",
               "ProtectHome=", "MemoryDenyWriteExecute=", "LockPersonality=",
               "CapabilityBoundingSet=~CAP_SYS_ADMIN", "CapabilityBoundingSet=~CAP_SET(UID|GID|PCAP)",
               "RestrictNamespaces=~user", "ProtectKernelTunables=", "ProtectKernelModules="):
        assert re.search(r"✓ " + re.escape(ok), out), ok
    with open(unit) as f:
        text = f.read()
    for line in ("Type=notify", "ExecReload=/bin/kill -HUP $MAINPID", "User=gtmd",
                 "AmbientCapabilities=CAP_NET_BIND_SERVICE",
                 "CapabilityBoundingSet=CAP_NET_BIND_SERVICE", "StateDirectory=gtmd",
                 "ReadWritePaths=/var/lib/gtmd /var/log/gtmd",
                 "RestrictAddressFamilies=AF_INET AF_INET6 AF_UNIX AF_NETLINK",
                 "SystemCallFilter=@system-service"):
        assert re.search(r"^" + re.escape(line) + r"$", text, re.M), line
    # The score quoted in the unit and in doc/systemd.md is the measured one.
    assert "rates this unit\n# %s %s" % (m.group(1), m.group(2)) in text
    with open(os.path.join(TOP, "doc", "systemd.md")) as f:
        assert "**%s %s**" % (m.group(1), m.group(2)) in f.read()

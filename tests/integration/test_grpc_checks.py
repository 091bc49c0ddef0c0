"""grpc checks (grpc.health.v1.Health/Check over HTTP/2, cleartext and TLS)
against a real gRPC server (grpc_backend.py, Debian's python3-grpcio), and
certificate expiry (cert_min_days, cert_warn_days) on https and grpc checks
against backends whose certificates expire in 4.9 days (not 5: a probe in
the second the certificate was made would see 5 whole days left).

States are read from the health_change log lines (their detail is the
probe's reason); every wait is bounded (WAIT seconds, polled every 50 ms).
Probes run every 0.5 s with a 0.4 s timeout, rise 1 and fall 1, so one
result decides: what is tested is the reason, not the damping."""
import datetime
import ipaddress
import json
import os
import re
import select
import shutil
import signal
import socket
import subprocess
import threading
import time

import pytest

from adminlib import READ_TOKEN, Admin, admin_port, admin_section
from backends import backends, free_port_on, poll  # noqa: F401
from conftest import GTMD, default_config

HERE = os.path.dirname(os.path.abspath(__file__))
PYTHON = "/usr/bin/python3"
WAIT = 15.0

grpc = pytest.importorskip("grpc", reason="python3-grpcio is not installed (contrib/deps.sh)")
x509 = pytest.importorskip("cryptography.x509")
from cryptography.hazmat.primitives import hashes, serialization  # noqa: E402
from cryptography.hazmat.primitives.asymmetric import ec  # noqa: E402
from cryptography.x509.oid import NameOID  # noqa: E402


# ---- certificates ---------------------------------------------------------

def _write(directory, name, cert, key):
    c = os.path.join(directory, name + ".pem")
    k = os.path.join(directory, name + ".key")
    with open(c, "wb") as f:
        f.write(cert.public_bytes(serialization.Encoding.PEM))
    with open(k, "wb") as f:
        f.write(key.private_bytes(serialization.Encoding.PEM,
                                  serialization.PrivateFormat.PKCS8,
                                  serialization.NoEncryption()))
    return c, k


def make_ca(directory, name):
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (x509.CertificateBuilder().subject_name(subject).issuer_name(subject)
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(days=1))
            .not_valid_after(now + datetime.timedelta(days=30))
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(key, hashes.SHA256()))
    path, _ = _write(directory, name, cert, key)
    return {"cert": cert, "key": key, "path": path}


def make_leaf(directory, name, ca, days, addrs=("127.0.0.1",)):
    """A certificate for localhost (and addrs) signed by ca, expiring in
    days; returns (cert path, key path, notAfter as Unix seconds)."""
    key = ec.generate_private_key(ec.SECP256R1())
    now = datetime.datetime.now(datetime.timezone.utc)
    not_after = (now + datetime.timedelta(days=days)).replace(microsecond=0)
    san = [x509.DNSName("localhost")] + [x509.IPAddress(ipaddress.ip_address(a)) for a in addrs]
    cert = (x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")]))
            .issuer_name(ca["cert"].subject).public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(days=1)).not_valid_after(not_after)
            .add_extension(x509.SubjectAlternativeName(san), critical=False)
            .sign(ca["key"], hashes.SHA256()))
    c, k = _write(directory, name, cert, key)
    return c, k, int(not_after.timestamp())


# ---- the gRPC server --------------------------------------------------------

class GrpcBackend:
    """grpc_backend.py on addr:port; its stdin is kept open so that it dies
    with the test at the latest (it also ends after its lifetime)."""

    def __init__(self, workdir, addr, port, tls=None, services=("svc.A",)):
        self.addr, self.port, self.tls = addr, port, tls
        self.mode_file = os.path.join(workdir, "mode-%s-%d" % (addr, port))
        self.calls_file = os.path.join(workdir, "calls-%d" % port)
        self.err = os.path.join(workdir, "grpc-%s-%d.err" % (addr, port))
        self.argv = [PYTHON, os.path.join(HERE, "grpc_backend.py"), "--addr", addr,
                     "--port", str(port), "--mode-file", self.mode_file, "--lifetime", "240"]
        for s in services:
            self.argv += ["--service", s]
        if tls:
            self.argv += ["--tls", tls[0], tls[1]]
        self.proc = None

    def start(self, timeout=15.0):
        with open(self.err, "ab") as err:
            self.proc = subprocess.Popen(self.argv, stdin=subprocess.PIPE,
                                         stdout=subprocess.PIPE, stderr=err)
        deadline, line = time.monotonic() + timeout, b""
        while b"\n" not in line and time.monotonic() < deadline:
            r, _, _ = select.select([self.proc.stdout], [], [], deadline - time.monotonic())
            if not r:
                break
            d = os.read(self.proc.stdout.fileno(), 64)
            if not d:
                break
            line += d
        if b"READY" not in line:
            self.kill()
            with open(self.err, "rb") as f:
                raise RuntimeError("grpc backend did not start: %r" % f.read()[-2000:])
        return self

    def set_mode(self, mode):
        with open(self.mode_file + ".tmp", "w") as f:
            f.write(mode)
        os.replace(self.mode_file + ".tmp", self.mode_file)

    def calls(self):
        try:
            with open(self.calls_file) as f:
                return f.read().splitlines()
        except OSError:
            return []

    def kill(self):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(timeout=10)
        if self.proc:
            for f in (self.proc.stdin, self.proc.stdout):
                try:
                    f.close()
                except OSError:
                    pass


@pytest.fixture
def grpc_servers(tmp_path):
    made = []

    def make(addr, port, **kw):
        b = GrpcBackend(str(tmp_path), addr, port, **kw)
        made.append(b)
        return b.start()

    yield make
    for b in made:
        b.kill()


# ---- gtmd -------------------------------------------------------------------

def gcheck(port, **kw):
    c = {"type": "grpc", "port": port, "interval": 0.5, "timeout": 0.4, "rise": 1, "fall": 1}
    c.update(kw)
    return c


def config(cases, admin=False):
    """cases: name -> (check, address). One pool per case, endpoint "e"."""
    def fn(workdir, port):
        c = default_config(workdir, port)
        c["regions"] = {"us": {}}
        c["checks"] = {n: ck for n, (ck, _) in cases.items()}
        c["pools"] = {n: {"check": n, "endpoints": [{"name": "e", "address": a, "region": "us"}]}
                      for n, (_, a) in cases.items()}
        if admin:
            c["admin"] = admin_section(workdir, admin_port(port))
        return c
    return fn


CHANGE_RE = re.compile(r'event=health_change endpoint=endpoint:(\S+)/e from=\S+ to=(\S+) '
                       r'why="[^"]*" detail="(.*)"\s*$', re.M)


def last_change(g, pool):
    last = None
    for m in CHANGE_RE.finditer(g.read_log()):
        if m.group(1) == pool:
            last = (m.group(2), m.group(3))
    return last


def wait_state(g, pool, state, detail=None, timeout=WAIT):
    """Waits for pool's endpoint to be in state, its reason containing
    detail (a regular expression); returns the reason."""
    def ok():
        c = last_change(g, pool)
        return c if c and c[0] == state and (detail is None or re.search(detail, c[1])) else None
    got, _ = poll(ok, timeout, 0.05)
    assert got, "%s: wanted %s (%s) within %.0f s, last %s\n%s" % (
        pool, state, detail, timeout, last_change(g, pool), g.read_log()[-3000:])
    return got[1]


def scrape(g):
    r = Admin.of(g).get("/metrics", token=READ_TOKEN)
    assert r.status == 200, r
    return r.body.decode()


def metric(text, name, pool):
    m = re.search(r'^%s\{pool="%s",endpoint="e"[^}]*\} (\S+)$' % (name, pool), text, re.M)
    return m and float(m.group(1))


# ---- cleartext ----------------------------------------------------------------

def test_grpc_serving_not_serving_unknown_service_and_killed(make_gtmd, grpc_servers):
    """One real gRPC server; checks of the whole server, of a service it
    knows, and of one it does not. The server is switched through every
    answer, then killed."""
    addr, none = "127.0.0.61", "127.0.0.62"
    port = free_port_on([addr, none])
    srv = grpc_servers(addr, port)
    g = make_gtmd(config({
        "whole": (gcheck(port), addr),
        "svc": (gcheck(port, service="svc.A"), addr),
        "nope": (gcheck(port, service="svc.Nope"), addr),
        "refused": (gcheck(port), none),
    }))
    assert wait_state(g, "whole", "up") == "ok"
    wait_state(g, "svc", "up")
    assert wait_state(g, "nope", "down") == "grpc-status 5 (NOT_FOUND): unknown service svc.Nope"
    assert wait_state(g, "refused", "down") == "connection refused"
    # The calls as the server saw them: the service asked, our user agent.
    calls = srv.calls()
    assert "'' 'gtmd-probe'" in calls and "'svc.A' 'gtmd-probe'" in calls, calls[:5]

    for mode, reason in [("not_serving", r"^grpc NOT_SERVING$"),
                         ("service_unknown", r"^grpc SERVICE_UNKNOWN$"),
                         ("unknown", r"^grpc UNKNOWN$"),
                         ("garbage", r"^grpc: malformed HealthCheckResponse$"),
                         ("status:12", r"^grpc-status 12 \(UNIMPLEMENTED\): as told: 12$")]:
        srv.set_mode(mode)
        wait_state(g, "whole", "down", reason)
        wait_state(g, "svc", "down", reason)
        srv.set_mode("serving")
        wait_state(g, "whole", "up")
        wait_state(g, "svc", "up")
    # Killed: the listener is gone at once (a call in flight is reset).
    srv.kill()
    gone = r"^(connection refused|connection reset|grpc: connection closed by peer .*)$"
    wait_state(g, "whole", "down", gone)
    wait_state(g, "svc", "down", gone)


def test_grpc_silent_and_http1_servers_fail_within_the_timeout(make_gtmd, backends):
    """A listener that accepts and never answers fails at the timeout,
    saying where it waited; an HTTP/1.1 server fails at once on HTTP/2."""
    silent, web = "127.0.0.63", "127.0.0.64"
    port = free_port_on([silent, web])
    lst = socket.socket()
    lst.bind((silent, port))
    lst.listen(64)  # the kernel completes the handshakes; nobody reads
    backends.http(web, port)
    try:
        g = make_gtmd(config({"silent": (gcheck(port), silent), "web": (gcheck(port), web)}))
        wait_state(g, "silent", "down", r"^timeout while waiting for grpc reply$")
        # It answers 400 to the HTTP/2 preface and closes: read first, that
        # is an HTTP/2 error; the reset of our unread frames, or its close
        # before the reply is read (seen in an ASan run), may come first.
        wait_state(g, "web", "down", r"^(grpc: http/2: Remote peer returned unexpected data "
                                     r"while we expected SETTINGS frame|connection reset|"
                                     r"connection closed by peer)$")
    finally:
        lst.close()


class Hostile:
    """A raw TCP server on addr:port that does one thing to every
    connection, in a thread: "flood" sends a SETTINGS frame then 256 KiB of
    HTTP/2 PINGs, and only then reads (for the close); "drip" sends a
    SETTINGS frame then one octet of a PING every 50 ms. Bounded: each connection gets at most
    5 s, and the server stops with the test."""
    SETTINGS = b"\x00\x00\x00\x04\x00\x00\x00\x00\x00"
    PING = b"\x00\x00\x08\x06\x00\x00\x00\x00\x00" + b"\x00" * 8

    def __init__(self, addr, port, mode):
        self.mode, self.stop = mode, threading.Event()
        self.lst = socket.socket()
        self.lst.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.lst.bind((addr, port))
        self.lst.listen(16)
        self.lst.settimeout(0.2)
        threading.Thread(target=self.run, daemon=True).start()

    def serve(self, c):
        deadline = time.monotonic() + 5
        try:
            c.sendall(self.SETTINGS)
            if self.mode == "flood":
                c.settimeout(5)
                c.sendall(self.PING * (256 * 1024 // len(self.PING)))
                # Open until the probe closes (a close with our request
                # unread would reset the connection and drop the pings).
                c.settimeout(0.1)
                while not self.stop.is_set() and time.monotonic() < deadline:
                    try:
                        if not c.recv(65536):
                            break
                    except socket.timeout:
                        pass
            else:
                for b in self.PING * 100:
                    if self.stop.is_set() or time.monotonic() > deadline:
                        break
                    c.send(bytes([b]))
                    time.sleep(0.05)
        except OSError:
            pass  # the probe gave up and closed: as it should
        finally:
            c.close()

    def run(self):
        while not self.stop.is_set():
            try:
                c, _ = self.lst.accept()
            except OSError:
                continue
            threading.Thread(target=self.serve, args=(c,), daemon=True).start()

    def close(self):
        self.stop.set()
        self.lst.close()


def test_grpc_hostile_servers_are_bounded(make_gtmd, backends):
    """A server that floods HTTP/2 frames is cut off at the read limit (or
    nghttp2's flood guard), one that drips fails at the timeout, and a tcp
    check beside them never misses a beat."""
    flood, drip, tcp = "127.0.0.68", "127.0.0.69", "127.0.0.70"
    port = free_port_on([flood, drip, tcp])
    servers = [Hostile(flood, port, "flood"), Hostile(drip, port, "drip")]
    backends.tcp(tcp, port)
    try:
        g = make_gtmd(config({"flood": (gcheck(port), flood), "drip": (gcheck(port), drip),
                              "tcp": ({"type": "tcp", "port": port, "interval": 0.5,
                                       "timeout": 0.4, "rise": 1, "fall": 1}, tcp)}))
        wait_state(g, "flood", "down",
                   r"^grpc: (more than 65536 octets without a verdict|http/2: .*)$")
        wait_state(g, "drip", "down", r"^timeout while waiting for grpc reply$")
        wait_state(g, "tcp", "up")
        time.sleep(3)  # six more rounds of each
        assert last_change(g, "tcp") == ("up", "ok"), g.read_log()[-2000:]
        assert len([m for m in CHANGE_RE.finditer(g.read_log()) if m.group(1) == "tcp"]) == 1
    finally:
        for h in servers:
            h.close()


# ---- TLS, and certificate expiry --------------------------------------------------

def test_grpc_over_tls_verification_and_certificate_expiry(make_gtmd, grpc_servers, tmp_path):
    """grpc over TLS with ALPN h2: verified against the right CA (up),
    unverified (up), a wrong name or a CA that did not sign it (down with
    the verification error), cleartext against TLS and TLS against
    cleartext (down). The certificate expires in 4.9 days: cert_min_days 10
    fails, cert_min_days 2 with cert_warn_days 10 passes and warns once."""
    tls_addr, plain_addr = "127.0.0.65", "127.0.0.66"
    port = free_port_on([tls_addr, plain_addr])
    ca, other = make_ca(str(tmp_path), "ca"), make_ca(str(tmp_path), "other-ca")
    cert, key, not_after = make_leaf(str(tmp_path), "leaf", ca, 4.9, (tls_addr,))
    grpc_servers(tls_addr, port, tls=(cert, key))
    grpc_servers(plain_addr, port)
    t = dict(tls=True)
    g = make_gtmd(config({
        "verified": (gcheck(port, ca_file=ca["path"], host="localhost", **t), tls_addr),
        "by-address": (gcheck(port, ca_file=ca["path"], service="svc.A", **t), tls_addr),
        "unverified": (gcheck(port, **t), tls_addr),
        "wrong-name": (gcheck(port, ca_file=ca["path"], host="other.example", **t), tls_addr),
        "wrong-ca": (gcheck(port, ca_file=other["path"], host="localhost", **t), tls_addr),
        "plain-on-tls": (gcheck(port), tls_addr),
        "tls-on-plain": (gcheck(port, **t), plain_addr),
        "min10": (gcheck(port, cert_min_days=10, **t), tls_addr),
        "warn10": (gcheck(port, ca_file=ca["path"], host="localhost", cert_min_days=2,
                          cert_warn_days=10, **t), tls_addr),
    }, admin=True))
    for up in ("verified", "by-address", "unverified", "warn10"):
        assert wait_state(g, up, "up") == "ok", up
    for bad in ("wrong-name", "wrong-ca"):
        wait_state(g, bad, "down", r"^tls handshake: certificate verify failed: ")
    # The TLS server reads our preface as a broken handshake and closes:
    # what we read first says so, or our next write fails.
    wait_state(g, "plain-on-tls", "down", r"^(grpc: .*|connection (closed by peer|reset))$")
    wait_state(g, "tls-on-plain", "down", r"^tls handshake: ")
    at = datetime.datetime.fromtimestamp(not_after, datetime.timezone.utc)
    assert wait_state(g, "min10", "down") == "certificate expires in 4 days (at %s)" % (
        at.strftime("%Y-%m-%dT%H:%M:%SZ"))
    # The warning: once, however many probes see it (6 more at least).
    time.sleep(3)
    warns = re.findall(r"event=cert_expiring endpoint=endpoint:warn10/e days=(\d+) "
                       r"not_after=(\S+) warn_days=10", g.read_log())
    assert warns == [("4", at.strftime("%Y-%m-%dT%H:%M:%SZ"))], warns
    text = scrape(g)
    assert metric(text, "gtmd_probe_cert_expiry_timestamp_seconds", "warn10") == not_after
    assert metric(text, "gtmd_probe_cert_expiring", "warn10") == 1
    assert metric(text, "gtmd_probe_cert_expiring", "verified") == 0
    assert metric(text, "gtmd_probe_cert_expiry_timestamp_seconds", "plain-on-tls") is None


def test_https_certificate_expiry_fails_warns_once_and_clears(make_gtmd, backends, tmp_path):
    """An https backend whose certificate expires in 4.9 days, with and
    without ca_file: cert_min_days 10 is down with the reason; cert_min_days
    2 and cert_warn_days 10 is up, warns once and exports the metric; a
    reload that lowers cert_warn_days to 3 clears the warning, once."""
    addr = "127.0.0.67"
    port = free_port_on([addr])
    ca = make_ca(str(tmp_path), "ca")
    cert, key, not_after = make_leaf(str(tmp_path), "leaf", ca, 4.9, (addr,))
    backends.https(addr, port, cert=(cert, key))

    def https(**kw):
        c = {"type": "https", "port": port, "interval": 0.5, "timeout": 0.4, "rise": 1,
             "fall": 1}
        c.update(kw)
        return c
    verify = dict(ca_file=ca["path"], host="localhost")
    cases = {
        "min10": (https(cert_min_days=10), addr),
        "min10-verified": (https(cert_min_days=10, **verify), addr),
        "warn10": (https(cert_min_days=2, cert_warn_days=10), addr),
        "warn3": (https(cert_warn_days=3, **verify), addr),
        "plain": (https(), addr),
    }
    g = make_gtmd(config(cases, admin=True))
    at = datetime.datetime.fromtimestamp(not_after, datetime.timezone.utc)
    want = "certificate expires in 4 days (at %s)" % at.strftime("%Y-%m-%dT%H:%M:%SZ")
    assert wait_state(g, "min10", "down") == want
    assert wait_state(g, "min10-verified", "down") == want
    for up in ("warn10", "warn3", "plain"):
        wait_state(g, up, "up", "^ok$")
    time.sleep(3)
    log = g.read_log()
    assert len(re.findall(r"event=cert_expiring endpoint=endpoint:warn10/e days=4 ", log)) == 1
    assert "endpoint:warn3/e" not in "".join(re.findall(r"event=cert_\S+ endpoint=\S+", log))
    text = scrape(g)
    for pool in cases:  # every https endpoint's certificate, warned or not
        assert metric(text, "gtmd_probe_cert_expiry_timestamp_seconds", pool) == not_after, pool
    assert metric(text, "gtmd_probe_cert_expiring", "warn10") == 1
    assert metric(text, "gtmd_probe_cert_expiring", "warn3") == 0
    if shutil.which("promtool"):  # the families are well formed (test_monitoring.py)
        lint = subprocess.run(["promtool", "check", "metrics"], input=text, capture_output=True,
                              text=True, timeout=60)
        assert lint.returncode == 0, lint.stdout + lint.stderr
    # A reload lowers the warning to 3 days: out of the window, said once.
    conf = json.load(open(g.conf_path))
    conf["checks"]["warn10"]["cert_warn_days"] = 3
    g.write_config(conf)
    g.signal(signal.SIGHUP)
    rx = r"event=cert_expiring_cleared endpoint=endpoint:warn10/e days=4 "
    ok, _ = poll(lambda: re.search(rx, g.read_log()), WAIT, 0.05)
    assert ok, g.read_log()[-3000:]
    time.sleep(2)
    assert len(re.findall(rx, g.read_log())) == 1
    assert metric(scrape(g), "gtmd_probe_cert_expiring", "warn10") == 0


# ---- bad input ------------------------------------------------------------------

BASE = {"listen": ["127.0.0.1:53"],
        "zones": [{"origin": "example.com.", "file": "example.com.zone"}],
        "regions": {"us": {}},
        "pools": {"p": {"check": "c",
                        "endpoints": [{"name": "a", "address": "192.0.2.1", "region": "us"}]}}}


@pytest.mark.parametrize("check,want", [
    ({"type": "grpc", "port": 0}, "$.checks.c.port: must be an integer from 1 to 65535"),
    ({"type": "grpc"}, "$.checks.c.port: is required for type grpc"),
    ({"type": "grpc", "port": 50051, "service": "a b"}, "$.checks.c.service: must be a service"),
    ({"type": "grpc", "port": 50051, "tls": "yes"}, "$.checks.c.tls: must be"),
    ({"type": "grpc", "port": 50051, "cert_min_days": 5}, '$.checks.c.cert_min_days: needs "tls"'),
    ({"type": "grpc", "port": 50051, "ca_file": "ca.pem"}, '$.checks.c.ca_file: needs "tls"'),
    ({"type": "grpc", "port": 50051, "path": "/"}, "$.checks.c.path: not allowed for type grpc"),
    ({"type": "https", "service": "x"}, "$.checks.c.service: not allowed for type https"),
    ({"type": "https", "cert_min_days": -1},
     "$.checks.c.cert_min_days: must be an integer from 0 to 3650"),
    ({"type": "https", "cert_warn_days": 3651},
     "$.checks.c.cert_warn_days: must be an integer from 0 to 3650"),
    ({"type": "https", "cert_min_days": 10, "cert_warn_days": 5},
     "$.checks.c.cert_warn_days: must be more than cert_min_days (10)"),
    ({"type": "tcp", "port": 80, "cert_min_days": 5},
     "$.checks.c.cert_min_days: not allowed for type tcp"),
    ({"type": "http", "cert_warn_days": 5}, "$.checks.c.cert_warn_days: not allowed for type http"),
])
def test_check_refuses_bad_grpc_and_certificate_keys(tmp_path, check, want):
    conf = dict(BASE, checks={"c": check})
    path = tmp_path / "gtmd.json"
    path.write_text(json.dumps(conf))
    r = subprocess.run([GTMD, "check", "-c", str(path)], capture_output=True, text=True, timeout=30)
    assert r.returncode == 1 and want in r.stderr, r.stderr

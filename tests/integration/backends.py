"""Real backends for the health-check tests, each a subprocess of
backend_server.py on its own 127.0.0.x address: HTTP (with misbehaving
modes), HTTPS (certificate made with openssl), a plain TCP listener and a
UDP DNS responder. Every backend is bounded: it exits by itself after its
lifetime, start waits at most a few seconds for it, and the `backends`
fixture kills whatever is still running when the test ends.

Also small DNS client helpers that the policy tests share: a fast query on a
connected UDP socket (ECONNREFUSED shows at once while gtmd is not yet
listening), answer extraction, and a bounded poll loop."""
import json
import os
import select
import signal
import socket
import subprocess
import tempfile
import time

import dns.edns
import dns.message
import dns.rdatatype
import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
SERVER = os.path.join(HERE, "backend_server.py")
PYTHON = "/usr/bin/python3"


def free_port_on(addrs, tries=50):
    """A port free for TCP and UDP on every address of addrs (127.0.0.x, ::1)."""
    addrs = list(addrs) or ["127.0.0.1"]

    def fam(a):
        return socket.AF_INET6 if ":" in a else socket.AF_INET

    for _ in range(tries):
        t = socket.socket(fam(addrs[0]), socket.SOCK_STREAM)
        t.bind((addrs[0], 0))
        port = t.getsockname()[1]
        socks = [t]
        ok = True
        try:
            for a in addrs:
                for kind in (socket.SOCK_STREAM, socket.SOCK_DGRAM):
                    if a == addrs[0] and kind == socket.SOCK_STREAM:
                        continue
                    s = socket.socket(fam(a), kind)
                    socks.append(s)
                    s.bind((a, port))
        except OSError:
            ok = False
        finally:
            for s in socks:
                s.close()
        if ok:
            return port
    raise RuntimeError("no port free on %s" % addrs)


def make_cert(directory, name="cert", cn="localhost"):
    """Self-signed certificate and key (openssl req -x509); returns paths."""
    cert = os.path.join(directory, name + ".pem")
    key = os.path.join(directory, name + ".key")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes",
                    "-subj", "/CN=%s" % cn, "-days", "1", "-keyout", key, "-out", cert],
                   check=True, capture_output=True, timeout=30)
    return cert, key


class Backend:
    """One backend subprocess; can be stopped, killed and restarted on the
    same address and port."""

    def __init__(self, kind, addr, port, workdir, mode="ok", tls=None, name=None,
                 answer=None, lifetime=180.0):
        self.kind = kind
        self.addr = addr
        self.port = port
        self.workdir = workdir
        self.tls = tls  # (cert, key) or None
        self.label = "%s-%s-%d" % (kind, addr, port)
        self.mode_file = os.path.join(workdir, self.label + ".mode")
        self.stats_file = os.path.join(workdir, self.label + ".stats")
        self.err_file = os.path.join(workdir, self.label + ".err")
        self.initial_mode = mode
        self.dns_name = name
        self.dns_answer = answer
        self.lifetime = lifetime
        self.proc = None
        self.started_at = None
        self.ready_at = None

    def argv(self):
        a = [PYTHON, SERVER, self.kind, "--addr", self.addr, "--port", str(self.port),
             "--mode", self.initial_mode, "--mode-file", self.mode_file,
             "--stats-file", self.stats_file, "--lifetime", str(self.lifetime)]
        if self.tls:
            a += ["--tls", "--cert", self.tls[0], "--key", self.tls[1]]
        if self.dns_name:
            a += ["--name", self.dns_name]
        if self.dns_answer:
            a += ["--answer", self.dns_answer]
        return a

    def spawn(self):
        """Starts the process without waiting (see wait_ready)."""
        assert self.proc is None or self.proc.poll() is not None, "already running"
        self.started_at = time.monotonic()
        self.ready_at = None
        with open(self.err_file, "ab") as err:
            self.proc = subprocess.Popen(self.argv(), stdout=subprocess.PIPE, stderr=err,
                                         stdin=subprocess.DEVNULL)
        return self

    def wait_ready(self, timeout=5.0):
        deadline = time.monotonic() + timeout
        line = b""
        fd = self.proc.stdout.fileno()
        while time.monotonic() < deadline and not line.endswith(b"\n"):
            r, _, _ = select.select([fd], [], [], max(0.0, deadline - time.monotonic()))
            if not r:
                break
            d = os.read(fd, 64)
            if not d:
                break
            line += d
        if b"READY" not in line:
            self.kill()
            raise RuntimeError("backend %s did not start: %s" % (self.label, self.errors()))
        self.ready_at = time.monotonic()
        return self

    def start(self, timeout=5.0):
        return self.spawn().wait_ready(timeout)

    def errors(self):
        try:
            with open(self.err_file, "rb") as f:
                return f.read().decode(errors="replace")[-2000:]
        except OSError:
            return ""

    @property
    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def _end(self, sig):
        if not self.alive:
            return
        self.proc.send_signal(sig)
        try:
            self.proc.wait(timeout=3)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(timeout=3)
        finally:
            if self.proc.stdout:
                self.proc.stdout.close()

    def kill(self):
        """SIGKILL: the listening socket disappears at once (refused)."""
        self._end(signal.SIGKILL)

    def stop(self):
        self._end(signal.SIGTERM)

    def restart(self, timeout=5.0):
        self.kill()
        return self.start(timeout)

    def set_mode(self, mode):
        """Switches a running backend's behaviour (atomic: next connection)."""
        tmp = self.mode_file + ".tmp"
        with open(tmp, "w") as f:
            f.write(mode)
        os.replace(tmp, self.mode_file)

    def stats(self):
        """The per-connection records written so far (HTTP backends)."""
        out = []
        try:
            with open(self.stats_file) as f:
                for line in f:
                    line = line.strip()
                    if line:
                        out.append(json.loads(line))
        except OSError:
            pass
        return out


class Backends:
    """Creates backends for one test and cleans them all up."""

    def __init__(self):
        self.workdir = tempfile.mkdtemp(prefix="gtmd-be-")
        self.all = []
        self._cert = {}

    def cert(self, name="cert", cn="localhost"):
        if name not in self._cert:
            self._cert[name] = make_cert(self.workdir, name, cn)
        return self._cert[name]

    def _add(self, b, start):
        self.all.append(b)
        if start:
            b.start()
        return b

    def http(self, addr, port, mode="ok", start=True):
        return self._add(Backend("http", addr, port, self.workdir, mode), start)

    def https(self, addr, port, mode="ok", cert=None, start=True):
        return self._add(Backend("http", addr, port, self.workdir, mode,
                                 tls=cert or self.cert()), start)

    def tcp(self, addr, port, start=True):
        return self._add(Backend("tcp", addr, port, self.workdir), start)

    def dns(self, addr, port, name, answer, mode="ok", start=True):
        return self._add(Backend("dns", addr, port, self.workdir, mode, name=name,
                                 answer=answer), start)

    def start_all(self, bs, timeout=8.0):
        """Starts several backends concurrently (python start-up dominates)."""
        for b in bs:
            b.spawn()
        for b in bs:
            b.wait_ready(timeout)
        return bs

    def cleanup(self):
        for b in self.all:
            try:
                b.kill()
            except Exception:
                pass
        import shutil
        shutil.rmtree(self.workdir, ignore_errors=True)


@pytest.fixture
def backends():
    bs = Backends()
    yield bs
    bs.cleanup()


# ---- DNS client helpers ----------------------------------------------------

def make_query(name, rdtype="A", ecs=None, qid=None):
    """ecs: "10.1.2.0/24" style client subnet, or None."""
    opts = []
    if ecs:
        addr, plen = ecs.split("/")
        opts.append(dns.edns.ECSOption(addr, int(plen)))
    q = dns.message.make_query(name, rdtype, use_edns=0 if opts else None, options=opts or None)
    if qid is not None:
        q.id = qid
    return q


def fast_query(addr, port, name, rdtype="A", timeout=0.5, ecs=None, source=None):
    """One UDP query on a connected socket; None when there is no answer
    (not listening yet, or timeout)."""
    q = make_query(name, rdtype, ecs)
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        if source:
            s.bind((source, 0))
        s.connect((addr, port))
        s.settimeout(timeout)
        s.send(q.to_wire())
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            s.settimeout(max(0.001, deadline - time.monotonic()))
            data = s.recv(65535)
            r = dns.message.from_wire(data)
            if r.id == q.id:
                return r
        return None
    except (ConnectionRefusedError, socket.timeout, OSError):
        return None
    finally:
        s.close()


def answer_addrs(msg, rdtypes=("A", "AAAA")):
    """The addresses (or CNAME targets) in msg's answer section."""
    out = []
    wanted = {dns.rdatatype.from_text(t) for t in rdtypes}
    for rrset in msg.answer:
        if rrset.rdtype in wanted:
            out.extend(rd.to_text() for rd in rrset)
    return out


def query_addrs(g, name, rdtype="A", timeout=0.5, **kw):
    r = fast_query(g.addr, g.port, name, rdtype, timeout=timeout, **kw)
    return None if r is None else sorted(answer_addrs(r, (rdtype,)))


def poll(fn, timeout, interval=0.02):
    """Calls fn every interval until it returns a true value or timeout
    passes; returns (value, seconds elapsed) or (None, elapsed)."""
    t0 = time.monotonic()
    deadline = t0 + timeout
    while True:
        v = fn()
        now = time.monotonic()
        if v:
            return v, now - t0
        if now >= deadline:
            return None, now - t0
        time.sleep(interval)

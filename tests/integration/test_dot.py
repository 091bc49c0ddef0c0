"""DNS over TLS (RFC 7858; RFC 9539 opportunistic use by resolvers): the
"tls" section's listeners, with real clients.

- kdig +tls-ca/+tls-hostname verifies a certificate signed by a CA the test
  makes with openssl, and refuses a wrong host name;
- Python's ssl (OpenSSL) sees ALPN "dot", TLS 1.3 and 1.2, and resumption
  by a TLS 1.3 ticket, a TLS 1.2 ticket and the TLS 1.2 session cache;
- pipelined queries over one connection come back in order;
- a new certificate under the same file names is served after SIGHUP (its
  serial seen by new connections) while a connection opened before goes
  on; a certificate that does not load, or a key that does not match,
  keeps the running one with an error naming the file;
- garbage instead of a ClientHello, a handshake that never finishes and a
  client that pipelines and never reads are closed within the TCP limits
  while others are answered;
- Unbound forwards a zone to gtmd over TLS (forward-tls-upstream) and
  answers a name of it.
"""
import os
import re
import shutil
import socket
import ssl
import struct
import subprocess
import tempfile
import time

import dns.message
import dns.query
import dns.rcode
import pytest

from adminlib import Admin, admin_port, admin_section
from conftest import GTMD, default_config, free_port, measured_env, stop_process
from test_tcp import frame as tcp_frame, read_msg as tcp_read_msg, wire_query

HOST = "dot.test"
KDIG = shutil.which("kdig") or "/usr/bin/kdig"
UNBOUND = "/usr/sbin/unbound"
OPENSSL = shutil.which("openssl") or "/usr/bin/openssl"


# ---- a test CA and certificates, made with openssl ---------------------------


def _openssl(*args, cwd):
    subprocess.run([OPENSSL] + list(args), cwd=cwd, check=True, capture_output=True,
                   timeout=30)


class Pki:
    """A CA in d (ca.pem) and leaf certificates for HOST and 127.0.0.1."""

    def __init__(self, d):
        self.d = d
        self.ca = os.path.join(d, "ca.pem")
        _openssl("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256",
                 "-nodes", "-keyout", "ca.key", "-out", "ca.pem", "-days", "30", "-subj",
                 "/CN=gtmd test CA", cwd=d)
        with open(os.path.join(d, "san.cnf"), "w") as f:
            f.write("subjectAltName=DNS:%s,IP:127.0.0.1\n" % HOST)

    def leaf(self, stem, serial):
        """stem.pem and stem.key: a new key and a certificate with serial."""
        _openssl("req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
                 "-keyout", stem + ".key", "-out", stem + ".csr", "-subj", "/CN=" + HOST,
                 cwd=self.d)
        _openssl("x509", "-req", "-in", stem + ".csr", "-CA", "ca.pem", "-CAkey", "ca.key",
                 "-set_serial", str(serial), "-days", "30", "-out", stem + ".pem", "-extfile",
                 "san.cnf", cwd=self.d)
        return os.path.join(self.d, stem + ".pem"), os.path.join(self.d, stem + ".key")


def install(src, dst):
    """Replaces dst with a copy of src atomically (as certbot's renewal does)."""
    tmp = dst + ".new"
    shutil.copy(src, tmp)
    os.replace(tmp, dst)


def dot_config(pki, tls_extra=None, tcp=None):
    """A make_gtmd config_fn: the test zones, a TLS listener on a port of
    its own with the certificate dot.pem/dot.key (serial 1001) copied into
    the workdir, and the admin API (metrics)."""

    def fn(workdir, port):
        c = default_config(workdir, port)
        cert, key = pki.leaf("first", 1001)
        shutil.copy(cert, os.path.join(workdir, "dot.pem"))
        shutil.copy(key, os.path.join(workdir, "dot.key"))
        tport = free_port()
        while tport == port:
            tport = free_port()
        c["tls"] = {"listen": ["127.0.0.1:%d" % tport], "certificate": "dot.pem",
                    "key": "dot.key"}
        c["tls"].update(tls_extra or {})
        if tcp:
            c["tcp"] = tcp
        c["admin"] = admin_section(workdir, admin_port(port), audit=False)
        return c

    return fn


def tls_port(g):
    return int(g.config["tls"]["listen"][0].rsplit(":", 1)[1])


@pytest.fixture(scope="module")
def pki():
    d = tempfile.mkdtemp(prefix="gtmd-dot-pki-")
    try:
        yield Pki(d)
    finally:
        shutil.rmtree(d, ignore_errors=True)


# ---- a DNS over TLS client on Python's ssl --------------------------------------


def client_ctx(pki, alpn=("dot",), max_version=None, tickets=True):
    ctx = ssl.create_default_context(cafile=pki.ca)
    if alpn:
        ctx.set_alpn_protocols(list(alpn))
    if max_version:
        ctx.maximum_version = max_version
    if not tickets:
        ctx.options |= ssl.OP_NO_TICKET
    return ctx


def connect(g, ctx, session=None, timeout=3.0):
    s = socket.create_connection(("127.0.0.1", tls_port(g)), timeout=timeout)
    return ctx.wrap_socket(s, server_hostname=HOST, session=session)


def frame(name, rdtype="A", qid=None):
    return tcp_frame(wire_query(name, rdtype, qid))


def read_msg(t, timeout=3.0):
    """One reply (test_tcp's framing reader: an SSL socket reads the same)."""
    r = tcp_read_msg(t, timeout)
    assert r is not None, "connection closed before a reply"
    return r


def ask(t, name, rdtype="A"):
    t.sendall(frame(name, rdtype))
    return read_msg(t)


def addresses(msg):
    return sorted(rr.address for rrset in msg.answer for rr in rrset if hasattr(rr, "address"))


def serial_seen(g, pki):
    """The serial of the certificate a new connection gets (and its answer)."""
    with connect(g, client_ctx(pki)) as t:
        serial = int(t.getpeercert()["serialNumber"], 16)
        assert addresses(ask(t, "www.example.com.")) == ["192.0.2.80", "192.0.2.81"]
        return serial


def metrics(g):
    r = Admin.of(g).get("/metrics")
    assert r.status == 200, r
    return r.body.decode()


def metric(text, series):
    m = re.search("^" + re.escape(series) + r" (\d+)$", text, re.M)
    return int(m.group(1)) if m else None


def poll(fn, timeout=5.0, step=0.05):
    """fn() until truthy or timeout; the last value."""
    deadline = time.monotonic() + timeout
    v = fn()
    while not v and time.monotonic() < deadline:
        time.sleep(step)
        v = fn()
    return v


# ---- tests -------------------------------------------------------------------------


def test_kdig_verifies_the_certificate(make_gtmd, pki):
    g = make_gtmd(dot_config(pki))
    base = [KDIG, "@127.0.0.1", "-p", str(tls_port(g)), "+tls-ca=" + pki.ca, "+time=3",
            "+retry=0"]
    ok = subprocess.run(base + ["+tls-hostname=" + HOST, "www.example.com", "A"],
                        capture_output=True, text=True, timeout=20)
    assert "TLS session (TLS1.3)" in ok.stdout, ok.stdout + ok.stderr
    assert "status: NOERROR" in ok.stdout and "192.0.2.80" in ok.stdout, ok.stdout
    # The same CA with another name: kdig refuses the certificate.
    bad = subprocess.run(base + ["+tls-hostname=other.test", "www.example.com", "A"],
                         capture_output=True, text=True, timeout=20)
    assert "192.0.2.80" not in bad.stdout, bad.stdout
    assert "handshake failed" in bad.stdout + bad.stderr, bad.stdout + bad.stderr
    # And the queries over TLS are counted as such.
    m = metrics(g)
    assert metric(m, 'gtmd_queries_total{transport="tls",qtype="A",rcode="NOERROR"}') == 1, m
    # kdig's refusal ends that handshake (an alert, or the connection closed).
    assert poll(lambda: metric(metrics(g), 'gtmd_tls_handshakes_total{result="failed"}') >= 1), \
        metrics(g)


def test_alpn_dot_and_both_versions(make_gtmd, pki):
    g = make_gtmd(dot_config(pki))
    with connect(g, client_ctx(pki)) as t:
        assert t.selected_alpn_protocol() == "dot"
        assert t.version() == "TLSv1.3"
        assert addresses(ask(t, "www.example.com.")) == ["192.0.2.80", "192.0.2.81"]
    with connect(g, client_ctx(pki, max_version=ssl.TLSVersion.TLSv1_2)) as t:
        assert t.version() == "TLSv1.2" and t.selected_alpn_protocol() == "dot"
        assert ask(t, "www.example.com.").rcode() == dns.rcode.NOERROR
    # A client offering other protocols only goes on without ALPN.
    with connect(g, client_ctx(pki, alpn=("h2",))) as t:
        assert t.selected_alpn_protocol() is None
        assert ask(t, "www.example.com.").rcode() == dns.rcode.NOERROR


def test_tls13_only_refuses_tls12(make_gtmd, pki):
    g = make_gtmd(dot_config(pki, tls_extra={"min_version": "1.3"}))
    with pytest.raises(ssl.SSLError):
        connect(g, client_ctx(pki, max_version=ssl.TLSVersion.TLSv1_2)).close()
    with connect(g, client_ctx(pki)) as t:
        assert t.version() == "TLSv1.3"


@pytest.mark.parametrize("how", ["tls13-ticket", "tls12-ticket", "tls12-session-id",
                                 "tls13-cache"])
def test_session_resumption(make_gtmd, pki, how):
    # tls13-cache: no stateless tickets; TLS 1.3 resumes by a ticket naming
    # a session of the server's cache.
    extra = {"session_tickets": False} if how == "tls13-cache" else None
    g = make_gtmd(dot_config(pki, tls_extra=extra))
    ctx = client_ctx(pki, max_version=None if how.startswith("tls13") else ssl.TLSVersion.TLSv1_2,
                     tickets=how != "tls12-session-id")
    with connect(g, ctx) as t:
        ask(t, "www.example.com.")  # a TLS 1.3 ticket comes after the handshake
        assert not t.session_reused
        session = t.session
    for _ in range(3):
        with connect(g, ctx, session=session) as t:
            assert t.session_reused, how
            assert addresses(ask(t, "www.example.com.")) == ["192.0.2.80", "192.0.2.81"]
    m = metrics(g)
    assert metric(m, 'gtmd_tls_handshakes_total{result="resumed"}') == 3, m
    assert metric(m, 'gtmd_tls_handshakes_total{result="full"}') == 1, m


def test_no_resumption_when_switched_off(make_gtmd, pki):
    g = make_gtmd(dot_config(pki, tls_extra={"session_tickets": False, "session_cache": 0}))
    ctx = client_ctx(pki)
    with connect(g, ctx) as t:
        ask(t, "www.example.com.")
        session = t.session
    with connect(g, ctx, session=session) as t:
        assert not t.session_reused
        ask(t, "www.example.com.")


def test_pipelined_queries_in_order(make_gtmd, pki):
    g = make_gtmd(dot_config(pki))
    names = ["www.example.com.", "mail.example.com.", "nonexistent.example.com.",
             "example.com."]
    with connect(g, client_ctx(pki)) as t:
        burst = b"".join(frame(names[i % 4], qid=1000 + i) for i in range(200))
        t.sendall(burst)  # one write: many queries in each TLS record
        for i in range(200):
            r = read_msg(t)
            assert r.id == 1000 + i
            assert r.question[0].name.to_text() == names[i % 4]
        # The connection stays usable.
        assert ask(t, "www.example.com.").rcode() == dns.rcode.NOERROR


@pytest.mark.threads  # the reload hands the context to the workers while they accept
def test_reload_serves_a_new_certificate(make_gtmd, pki):
    g = make_gtmd(dot_config(pki))
    assert serial_seen(g, pki) == 1001
    before = connect(g, client_ctx(pki))
    try:
        ask(before, "www.example.com.")
        cert, key = pki.leaf("second", 2002)
        install(key, os.path.join(g.workdir, "dot.key"))
        install(cert, os.path.join(g.workdir, "dot.pem"))
        g.signal(1)  # SIGHUP
        assert poll(lambda: serial_seen(g, pki) == 2002), g.read_log()
        assert "event=tls_certificate result=reloaded" in g.read_log()
        # The connection opened before goes on, on the certificate it had.
        assert int(before.getpeercert()["serialNumber"], 16) == 1001
        assert addresses(ask(before, "www.example.com.")) == ["192.0.2.80", "192.0.2.81"]
    finally:
        before.close()


@pytest.mark.threads
def test_bad_certificate_on_reload_keeps_the_running_one(make_gtmd, pki):
    g = make_gtmd(dot_config(pki))
    pem = os.path.join(g.workdir, "dot.pem")
    with open(pem + ".new", "w") as f:
        f.write("-----BEGIN CERTIFICATE-----\nnot base64 at all\n-----END CERTIFICATE-----\n")
    os.replace(pem + ".new", pem)
    g.signal(1)
    assert poll(lambda: g.read_log().count("event=tls_certificate result=failed") == 1), \
        g.read_log()
    line = [l for l in g.read_log().splitlines() if "result=failed" in l][0]
    assert "dot.pem" in line and "the running certificate is kept" in line, line
    assert serial_seen(g, pki) == 1001
    # A good certificate whose key is another's: refused too, old one kept.
    cert, _ = pki.leaf("third", 3003)
    install(cert, pem)
    g.signal(1)
    assert poll(lambda: g.read_log().count("event=tls_certificate result=failed") == 2), \
        g.read_log()
    assert "does not match" in g.read_log().splitlines()[-1] or "does not match" in g.read_log()
    assert serial_seen(g, pki) == 1001
    # Put right, the next reload takes it.
    cert, key = pki.leaf("fourth", 4004)
    install(key, os.path.join(g.workdir, "dot.key"))
    install(cert, pem)
    g.signal(1)
    assert poll(lambda: serial_seen(g, pki) == 4004), g.read_log()


def closed_within(s, seconds):
    """Whether the peer closes s (EOF or reset) within seconds, reading and
    dropping whatever it sends first."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        s.settimeout(max(0.01, deadline - time.monotonic()))
        try:
            if not s.recv(65536):
                return True
        except (ConnectionResetError, BrokenPipeError):
            return True
        except socket.timeout:
            return False
    return False


def raw(g):
    return socket.create_connection(("127.0.0.1", tls_port(g)), timeout=3)


def test_garbage_and_unfinished_handshakes_are_closed(make_gtmd, pki):
    g = make_gtmd(dot_config(pki, tcp={"idle_timeout": 1}))
    garbage = raw(g)
    garbage.sendall(b"GET / HTTP/1.1\r\nHost: dot.test\r\n\r\n")
    silent = raw(g)  # connects and sends nothing
    partial = raw(g)  # the first octets of a ClientHello, then nothing
    partial.sendall(b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03")
    try:
        assert closed_within(garbage, 2.0), "garbage kept open"
        # Others are answered meanwhile.
        assert serial_seen(g, pki) == 1001
        assert closed_within(silent, 4.0), "a silent connection outlived the idle timeout"
        assert closed_within(partial, 4.0), "an unfinished handshake outlived the idle timeout"
    finally:
        for s in (garbage, silent, partial):
            s.close()
    m = metrics(g)
    assert metric(m, 'gtmd_tls_handshakes_total{result="failed"}') >= 1, m
    assert metric(m, 'gtmd_tls_handshakes_total{result="timeout"}') >= 2, m
    assert poll(lambda: "event=tls_handshake_failed" in g.read_log(), timeout=12), g.read_log()
    assert serial_seen(g, pki) == 1001


def test_client_that_never_reads(make_gtmd, pki):
    g = make_gtmd(dot_config(pki, tcp={"idle_timeout": 2}))
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    s.settimeout(3)
    s.connect(("127.0.0.1", tls_port(g)))
    t = client_ctx(pki).wrap_socket(s, server_hostname=HOST)
    burst = frame("www.example.com.") * 2000
    sent = 0
    t.settimeout(0.5)
    try:
        for _ in range(400):  # until gtmd stops reading (paused), at most 400 bursts
            t.sendall(burst)
            sent += 2000
    except (socket.timeout, ssl.SSLError, ConnectionResetError, BrokenPipeError):
        pass
    # gtmd stopped reading well before all those replies were made.
    assert sent < 400 * 2000
    # Others are answered while that connection sits there.
    t0 = time.monotonic()
    assert serial_seen(g, pki) == 1001
    assert time.monotonic() - t0 < 2.0
    # It is closed once its replies stay unread for the idle timeout: what
    # was queued drains, then EOF; far fewer replies than queries came.
    got = 0
    deadline = time.monotonic() + 15
    eof = False
    buf = b""
    while time.monotonic() < deadline:
        t.settimeout(max(0.01, deadline - time.monotonic()))
        try:
            chunk = t.recv(65536)
        except (ConnectionResetError, ssl.SSLError, OSError):
            eof = True
            break
        if not chunk:
            eof = True
            break
        buf += chunk
        got += len(chunk)
        time.sleep(0.2)  # a slow reader: the stall clock sees no progress for long
    t.close()
    assert eof, "the connection was not closed"
    # At most the 64 KiB a paused connection may hold unsent, plus what
    # the sockets buffer: not the replies to every query sent.
    assert got < 2 * 1024 * 1024 < sent * 40, (got, sent)
    assert serial_seen(g, pki) == 1001


def test_check_and_start_refuse_bad_files(make_gtmd, pki, tmp_path):
    g = make_gtmd(dot_config(pki), start=False)
    cert, _ = pki.leaf("other", 5005)
    shutil.copy(cert, os.path.join(g.workdir, "dot.pem"))  # not dot.key's certificate
    g.write_config()
    r = subprocess.run([GTMD, "check", "-c", g.conf_path], capture_output=True, text=True,
                       timeout=20)
    assert r.returncode == 1 and "$.tls" in r.stderr and "does not match" in r.stderr, r.stderr
    os.unlink(os.path.join(g.workdir, "dot.pem"))
    g.start(wait=False)
    assert g.proc.wait(timeout=10) != 0
    assert "DNS over TLS: certificate" in g.read_log() and "dot.pem" in g.read_log(), \
        g.read_log()


def test_unbound_forwards_over_tls(make_gtmd, pki):
    if not os.access(UNBOUND, os.X_OK):
        pytest.skip("unbound is not installed")
    g = make_gtmd(dot_config(pki))
    d = os.path.join(g.workdir, "unbound")
    os.mkdir(d)
    uport = free_port()
    conf = os.path.join(d, "unbound.conf")
    with open(conf, "w") as f:
        f.write("""server:
    interface: 127.0.0.1@{uport}
    port: {uport}
    do-ip6: no
    username: ""
    chroot: ""
    directory: "{d}"
    pidfile: "{d}/unbound.pid"
    logfile: "{d}/unbound.log"
    use-syslog: no
    verbosity: 1
    do-not-query-localhost: no
    module-config: "iterator"
    tls-cert-bundle: "{ca}"
    access-control: 127.0.0.0/8 allow
remote-control:
    control-enable: no
forward-zone:
    name: "example.com."
    forward-addr: 127.0.0.1@{tport}#{host}
    forward-tls-upstream: yes
""".format(uport=uport, d=d, ca=pki.ca, tport=tls_port(g), host=HOST))
    out = open(os.path.join(d, "out.log"), "ab")
    u = subprocess.Popen([UNBOUND, "-d", "-c", conf], stdout=out, stderr=subprocess.STDOUT)
    try:
        def answer():
            q = dns.message.make_query("www.example.com.", "A")
            try:
                return dns.query.udp(q, "127.0.0.1", port=uport, timeout=1.0)
            except Exception:
                return None
        r = poll(answer, timeout=15, step=0.2)
        assert r is not None, open(os.path.join(d, "unbound.log")).read()[-2000:]
        assert addresses(r) == ["192.0.2.80", "192.0.2.81"]
        # It came over TLS: counted under transport tls (and not over UDP).
        m = metrics(g)
        assert metric(m, 'gtmd_queries_total{transport="tls",qtype="A",rcode="NOERROR"}') >= 1, m
        assert metric(m, 'gtmd_queries_total{transport="udp",qtype="A",rcode="NOERROR"}') is None
    finally:
        stop_process(u)
        out.close()


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root (it drops privileges)")
def test_key_only_root_reads(make_gtmd, pki):
    """Started as root with "user": "nobody": a key only root reads is
    loaded before the drop (DNS over TLS works), gtmd check and the start
    warn that a reload cannot renew it, and a reload keeps the running
    certificate."""
    import pwd
    try:
        nobody = pwd.getpwnam("nobody")
    except KeyError:
        pytest.skip("no user nobody")

    def fn(workdir, port):
        c = dot_config(pki)(workdir, port)
        c["user"] = "nobody"
        return c

    g = make_gtmd(fn, start=False)
    os.chmod(g.workdir, 0o755)
    os.chown(g.workdir, nobody.pw_uid, nobody.pw_gid)
    for n in ("read.token", "operate.token"):
        os.chown(os.path.join(g.workdir, n), nobody.pw_uid, nobody.pw_gid)
    os.chmod(os.path.join(g.workdir, "dot.key"), 0o600)  # root's
    g.write_config()
    r = subprocess.run([GTMD, "check", "-c", g.conf_path], capture_output=True, text=True,
                       timeout=30)
    want = r"warning: \S+: \$\.tls\.key: \S+/dot\.key is not readable by user nobody"
    assert r.returncode == 0 and re.search(want, r.stderr), r.stderr
    g.start()
    assert serial_seen(g, pki) == 1001
    assert re.search(r"\$\.tls\.key: \S+/dot\.key is not readable by user nobody", g.read_log()), \
        g.read_log()
    g.signal(1)
    assert poll(lambda: "event=tls_certificate result=failed" in g.read_log()), g.read_log()
    assert serial_seen(g, pki) == 1001


def test_zone_transfer_over_tls(make_gtmd, pki):
    """The zone's transfer list applies over TLS as over TCP (XFR over TLS,
    RFC 9103, without client certificates): kdig +tls AXFR gets the zone."""
    def fn(workdir, port):
        c = dot_config(pki)(workdir, port)
        c["zones"][0]["transfer"] = {"allow": ["127.0.0.1"]}
        return c

    g = make_gtmd(fn)
    r = subprocess.run([KDIG, "@127.0.0.1", "-p", str(tls_port(g)), "+tls-ca=" + pki.ca,
                        "+tls-hostname=" + HOST, "+time=3", "+retry=0", "example.com", "AXFR"],
                       capture_output=True, text=True, timeout=20)
    soa = [l for l in r.stdout.splitlines() if re.match(r"^example\.com\.\s+\d+\s+IN\s+SOA", l)]
    assert len(soa) == 2, r.stdout + r.stderr  # the SOA opens and closes the transfer
    assert re.search(r"^www\.example\.com\.\s+\d+\s+IN\s+A\s+192\.0\.2\.80", r.stdout, re.M)
    # sub.example.com. has no "transfer": refused over TLS too.
    r = subprocess.run([KDIG, "@127.0.0.1", "-p", str(tls_port(g)), "+tls-ca=" + pki.ca,
                        "+tls-hostname=" + HOST, "+time=3", "+retry=0", "sub.example.com",
                        "AXFR"], capture_output=True, text=True, timeout=20)
    assert "REFUSED" in r.stdout + r.stderr, r.stdout + r.stderr


@pytest.mark.parametrize("tls,want", [
    ({"listen": "127.0.0.1:853", "certificate": "a", "key": "b"},
     r"\$\.tls\.listen: must be a non-empty array"),
    ({"listen": ["127.0.0.1"], "certificate": "a", "key": "b"},
     r"\$\.tls\.listen\[0\]: must be a string like"),
    ({"listen": ["127.0.0.1:853"], "key": "b"}, r"\$\.tls.*certificate"),
    ({"listen": ["127.0.0.1:853"], "certificate": "a", "key": "b", "min_version": "1.1"},
     r"\$\.tls\.min_version: must be \"1\.2\" or \"1\.3\""),
    ({"listen": ["127.0.0.1:853"], "certificate": "a", "key": "b", "ciphers": "x"},
     r"\$\.tls.*ciphers"),
    ({"listen": ["127.0.0.1:853"], "certificate": "nonexistent.pem", "key": "b"},
     r"\$\.tls: certificate \S+/nonexistent\.pem"),
])
def test_config_errors_name_their_path(make_gtmd, pki, tls, want):
    g = make_gtmd(dot_config(pki), start=False)
    g.config["tls"] = tls
    g.write_config()
    r = subprocess.run([GTMD, "check", "-c", g.conf_path], capture_output=True, text=True,
                       timeout=20)
    assert r.returncode == 1 and re.search(want, r.stderr), r.stderr


def proc_cpu_s(pid):
    with open("/proc/%d/stat" % pid) as f:
        st = f.read().rsplit(")", 1)[1].split()
    return (int(st[11]) + int(st[12])) / os.sysconf("SC_CLK_TCK")


def test_half_a_record_costs_no_cpu(make_gtmd, pki):
    """A client that sends half a TLS record (its header and part of the
    body) and waits: gtmd waits for the rest without spinning, then
    answers the query the whole record holds."""
    g = make_gtmd(dot_config(pki, tcp={"idle_timeout": 5}))
    sock = socket.create_connection(("127.0.0.1", tls_port(g)), timeout=3)
    inc, out = ssl.MemoryBIO(), ssl.MemoryBIO()
    tls = client_ctx(pki).wrap_bio(inc, out, server_hostname=HOST)
    for _ in range(20):  # a handshake is a few flights
        try:
            tls.do_handshake()
            break
        except ssl.SSLWantReadError:
            sock.sendall(out.read())
            inc.write(sock.recv(65536))
    sock.sendall(out.read())  # the client's Finished
    tls.write(frame("www.example.com.", qid=4242))
    record = out.read()
    sock.sendall(record[:len(record) // 2])
    time.sleep(0.2)
    c0 = proc_cpu_s(g.proc.pid)
    time.sleep(1.5)
    used = proc_cpu_s(g.proc.pid) - c0
    assert used < 0.3, "gtmd used %.2f s of CPU waiting for half a record" % used
    sock.sendall(record[len(record) // 2:])
    reply = b""
    deadline = time.monotonic() + 3
    while time.monotonic() < deadline:
        try:
            reply += tls.read(65536)
        except ssl.SSLWantReadError:
            sock.settimeout(max(0.01, deadline - time.monotonic()))
            inc.write(sock.recv(65536))
            continue
        if len(reply) >= 2 and len(reply) >= 2 + struct.unpack("!H", reply[:2])[0]:
            break
    sock.close()
    msg = dns.message.from_wire(reply[2:2 + struct.unpack("!H", reply[:2])[0]])
    assert msg.id == 4242 and addresses(msg) == ["192.0.2.80", "192.0.2.81"]


def test_reload_of_paths_and_listeners(make_gtmd, pki):
    """A reload naming other certificate files applies them (no restart
    needed); one moving the TLS listener says a restart is needed and keeps
    the running listener."""
    g = make_gtmd(dot_config(pki))
    cert, key = pki.leaf("renamed", 6006)
    shutil.copy(cert, os.path.join(g.workdir, "new.pem"))
    shutil.copy(key, os.path.join(g.workdir, "new.key"))
    g.config["tls"].update({"certificate": "new.pem", "key": "new.key"})
    g.write_config()
    r = Admin.of(g).post("/v1/reload")
    assert r.status == 200 and r.json["restart_needed_for_listen"] is False, r
    assert r.json.get("restart_needed", []) == [], r.json
    assert serial_seen(g, pki) == 6006
    old = g.config["tls"]["listen"]
    g.config["tls"]["listen"] = ["127.0.0.1:%d" % free_port()]
    g.write_config()
    r = Admin.of(g).post("/v1/reload")
    assert r.status == 200 and r.json["restart_needed_for_listen"] is True, r
    assert r.json["restart_needed"] == ["tls"], r.json
    assert "tls.listen" in g.read_log()
    g.config["tls"]["listen"] = old  # what runs
    assert serial_seen(g, pki) == 6006


def rss_kb(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


@pytest.mark.skipif(bool(os.environ.get("GTM_TSAN")),
                    reason="ThreadSanitizer's shadow memory is counted in the RSS")
def test_memory_per_idle_connection(make_gtmd, pki):
    """200 TLS connections, each after one answered query, cost gtmd well
    under 64 KiB each (about 18 KiB measured, 40 under AddressSanitizer):
    OpenSSL's record buffers are given back when a connection goes idle."""
    g = make_gtmd(dot_config(pki, tcp={"max_connections": 1000, "idle_timeout": 60}),
                  start=False)
    g.env = measured_env()
    g.start()
    ctx = client_ctx(pki)
    with connect(g, ctx) as t:  # the first handshake's one-time allocations
        ask(t, "www.example.com.")
    time.sleep(0.2)
    before = rss_kb(g.proc.pid)
    conns = []
    try:
        for _ in range(200):
            t = connect(g, ctx)
            conns.append(t)
            ask(t, "www.example.com.")
        time.sleep(0.3)
        per_conn = (rss_kb(g.proc.pid) - before) / 200.0
        assert per_conn < 64, "%.1f KiB per idle TLS connection" % per_conn
        m = metrics(g)
        assert metric(m, "gtmd_tls_connections_total") == 201, m
    finally:
        for t in conns:
            t.close()


def test_key_others_can_read_is_warned_about(make_gtmd, pki):
    g = make_gtmd(dot_config(pki), start=False)
    key = os.path.join(g.workdir, "dot.key")
    g.write_config()
    os.chmod(key, 0o644)
    r = subprocess.run([GTMD, "check", "-c", g.conf_path], capture_output=True, text=True,
                       timeout=20)
    assert r.returncode == 0, r.stderr
    assert re.search(r"warning: \S+: \$\.tls\.key: the TLS private key \S+/dot\.key has mode "
                     r"0644: every user of the host can read it", r.stderr), r.stderr
    os.chmod(key, 0o600)
    r = subprocess.run([GTMD, "check", "-c", g.conf_path], capture_output=True, text=True,
                       timeout=20)
    assert r.returncode == 0 and "TLS private key" not in r.stderr, r.stderr



# A close_notify alert record (level warning, description 0), in clear as a
# TLS 1.2 alert before ChangeCipherSpec is.
CLOSE_NOTIFY = b"\x15\x03\x03\x00\x02\x01\x00"


def client_hello(pki):
    """The first flight of a TLS 1.2 client (Python's ssl on memory BIOs)."""
    ctx = client_ctx(pki, max_version=ssl.TLSVersion.TLSv1_2)
    out = ssl.MemoryBIO()
    conn = ctx.wrap_bio(ssl.MemoryBIO(), out, server_hostname=HOST)
    with pytest.raises(ssl.SSLWantReadError):
        conn.do_handshake()
    return out.read()


def test_handshake_closed_by_the_client_logs_why(make_gtmd, pki):
    """A client that sends its ClientHello then close_notify, in the middle
    of the handshake (OpenSSL's SSL_ERROR_ZERO_RETURN), is one failed
    handshake logged with a reason that says so (it once logged whatever
    the stack held: last_reason="\\xec ")."""
    g = make_gtmd(dot_config(pki, tcp={"idle_timeout": 1}))
    s = raw(g)
    try:
        s.sendall(client_hello(pki))
        s.sendall(CLOSE_NOTIFY)
        assert closed_within(s, 4.0), "a closed handshake kept open"
    finally:
        s.close()
    line = poll(lambda: next((ln for ln in g.read_log().splitlines()
                              if "event=tls_handshake_failed" in ln), None), timeout=12)
    assert line, g.read_log()
    m = re.search(r'\bwhy="([^"]*)"', line)
    assert m, line
    assert m.group(1) == "peer closed the connection (close_notify)", line
    m = metrics(g)
    assert metric(m, 'gtmd_tls_handshakes_total{result="failed"}') == 1, m

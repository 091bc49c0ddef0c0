"""DNS Cookies (RFC 7873) with RFC 9018 server cookies, against the real
gtmd: dig +cookie and kdig +cookie, the exact octets of replies (the server
cookie recomputed here with SipHash-2-4 from the configured secret),
RFC 7873 §5.2 case by case, §5.4 (QDCOUNT 0), `require`, cookies off, the
secret across reloads, and where Knot DNS (mod-cookies) agrees."""
import os
import shutil
import signal
import socket
import struct
import subprocess
import tempfile
import time

import dns.edns
import dns.message
import dns.query
import dns.rcode
import pytest

from backends import poll
from conftest import default_config, free_port, stop_process

SECRET = "e5e973e5a6b2a43f48e7dc849e37bfcf"
CLIENT = bytes.fromhex("0102030405060708")
KNOTD = "/usr/sbin/knotd"


# ---- SipHash-2-4 and RFC 9018 server cookies, independently of gtmd ---------

def _rotl(x, b):
    return ((x << b) | (x >> (64 - b))) & 0xFFFFFFFFFFFFFFFF


def siphash24(key, msg):
    k0, k1 = struct.unpack("<QQ", key)
    v = [k0 ^ 0x736F6D6570736575, k1 ^ 0x646F72616E646F6D, k0 ^ 0x6C7967656E657261,
         k1 ^ 0x7465646279746573]
    M = 0xFFFFFFFFFFFFFFFF

    def rnd():
        v[0] = (v[0] + v[1]) & M; v[1] = _rotl(v[1], 13); v[1] ^= v[0]; v[0] = _rotl(v[0], 32)  # noqa: E702
        v[2] = (v[2] + v[3]) & M; v[3] = _rotl(v[3], 16); v[3] ^= v[2]  # noqa: E702
        v[0] = (v[0] + v[3]) & M; v[3] = _rotl(v[3], 21); v[3] ^= v[0]  # noqa: E702
        v[2] = (v[2] + v[1]) & M; v[1] = _rotl(v[1], 17); v[1] ^= v[2]; v[2] = _rotl(v[2], 32)  # noqa: E702

    tail = len(msg) % 8
    for i in range(0, len(msg) - tail, 8):
        m = struct.unpack("<Q", msg[i:i + 8])[0]
        v[3] ^= m; rnd(); rnd(); v[0] ^= m  # noqa: E702
    b = (len(msg) & 0xFF) << 56
    for i in range(tail):
        b |= msg[len(msg) - tail + i] << (8 * i)
    v[3] ^= b; rnd(); rnd(); v[0] ^= b  # noqa: E702
    v[2] ^= 0xFF
    for _ in range(4):
        rnd()
    return struct.pack("<Q", v[0] ^ v[1] ^ v[2] ^ v[3])


def server_cookie(secret_hex, client, ip, ts, head=None):
    head = head or struct.pack("!B3xI", 1, ts)
    return head + siphash24(bytes.fromhex(secret_hex), client + head + socket.inet_aton(ip))


def test_python_siphash_matches_rfc9018_a1():
    """The checker itself: RFC 9018 Appendix A.1."""
    got = server_cookie(SECRET, bytes.fromhex("2464c4abcf10c957"), "198.51.100.100", 1559731985)
    assert got.hex() == "010000005cf79f111f8130c3eee29480"


# ---- helpers -------------------------------------------------------------------

def cfg_with(**keys):
    def fn(workdir, port):
        c = default_config(workdir, port)
        c.update(keys)
        return c
    return fn


def cookie_query(name, cookie, rdtype="A"):
    opts = [] if cookie is None else [dns.edns.GenericOption(dns.edns.COOKIE, cookie)]
    return dns.message.make_query(name, rdtype, use_edns=0, options=opts)


def ask(g, cookie, name="www.example.com.", tcp=False, rdtype="A"):
    q = cookie_query(name, cookie, rdtype)
    if tcp:
        return dns.query.tcp(q, g.addr, port=g.port, timeout=2)
    return dns.query.udp(q, g.addr, port=g.port, timeout=2)


def cookie_of(r):
    for o in r.options:
        if o.otype == dns.edns.COOKIE:
            return o.to_wire()
    return None


def raw_udp(addr, port, wire):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.settimeout(2)
    try:
        s.sendto(wire, (addr, port))
        return s.recv(4096)
    finally:
        s.close()


def opt_with(options):
    """An OPT record (payload 1232) holding the given (code, data) options."""
    rdata = b"".join(struct.pack("!HH", c, len(d)) + d for c, d in options)
    return b"\x00" + struct.pack("!HHIH", 41, 1232, 0, len(rdata)) + rdata


QUESTION = b"\x03www\x07example\x03com\x00" + struct.pack("!HH", 1, 1)


def raw_query(options, qid=0x4242, qd=1):
    hdr = struct.pack("!HHHHHH", qid, 0x0100, qd, 0, 0, 1)
    return hdr + (QUESTION if qd else b"") + opt_with(options)


def assert_answer(r):
    assert r.rcode() == dns.rcode.NOERROR
    assert sorted(rr.address for rr in r.answer[0]) == ["192.0.2.80", "192.0.2.81"]


def assert_fresh(reply_cookie, secret=SECRET, client=CLIENT, ip="127.0.0.1"):
    """reply_cookie is client + a server cookie we made just now."""
    assert reply_cookie is not None and len(reply_cookie) == 24, reply_cookie
    assert reply_cookie[:8] == client
    version, ts = struct.unpack("!B3xI", reply_cookie[8:16])
    assert version == 1 and reply_cookie[9:12] == b"\0\0\0"
    assert abs(ts - time.time()) < 5, "timestamp %d is not now" % ts
    assert reply_cookie[8:] == server_cookie(secret, client, ip, ts), "hash mismatch"


# ---- RFC 7873 §5.2 ---------------------------------------------------------------

def test_client_cookie_alone_gets_answer_and_exact_server_cookie(make_gtmd):
    g = make_gtmd(cfg_with(cookies={"secret": SECRET}))
    for tcp in (False, True):
        r = ask(g, CLIENT, tcp=tcp)
        assert_answer(r)
        assert_fresh(cookie_of(r))


def test_valid_cookie_is_echoed_and_bad_one_gets_badcookie(make_gtmd):
    g = make_gtmd(cfg_with(cookies={"secret": SECRET}))
    full = cookie_of(ask(g, CLIENT))
    r = ask(g, full)
    assert_answer(r)
    assert cookie_of(r) == full, "a valid cookie under 30 min old is echoed"
    # An old but valid cookie (40 minutes) is answered and renewed.
    old = CLIENT + server_cookie(SECRET, CLIENT, "127.0.0.1", int(time.time()) - 2400)
    r = ask(g, old)
    assert_answer(r)
    assert_fresh(cookie_of(r))
    # Expired (over an hour), forged, from another address, another
    # version, or another length: not valid. Over UDP BADCOOKIE (rcode 23)
    # with the question and a fresh cookie; over TCP a normal answer.
    bad = [CLIENT + server_cookie(SECRET, CLIENT, "127.0.0.1", int(time.time()) - 3700),
           full[:-1] + bytes([full[-1] ^ 1]),
           CLIENT + server_cookie(SECRET, CLIENT, "127.0.0.2", int(time.time())),
           full[:8] + b"\x02" + full[9:],
           full + b"\x00" * 8]
    for cookie in bad:
        r = ask(g, cookie)
        assert r.rcode() == 23 and not r.answer, dns.rcode.to_text(r.rcode())
        assert r.question[0].name.to_text() == "www.example.com."
        assert_fresh(cookie_of(r))
        r = ask(g, cookie, tcp=True)
        assert_answer(r)
        assert_fresh(cookie_of(r))


@pytest.mark.parametrize("length", [1, 7, 9, 15, 41])
def test_malformed_cookie_is_formerr(gtmd, length):
    w = raw_udp(gtmd.addr, gtmd.port, raw_query([(10, b"\xaa" * length)]))
    r = dns.message.from_wire(w)
    assert r.rcode() == dns.rcode.FORMERR
    assert r.edns == 0, "the OPT is echoed, as Knot does"
    assert cookie_of(r) is None


def test_only_the_first_cookie_option_counts(gtmd):
    """RFC 7873 §5.2: with several COOKIE options, the first is used and the
    others are ignored, malformed or not."""
    r = dns.message.from_wire(raw_udp(gtmd.addr, gtmd.port,
                                      raw_query([(10, CLIENT), (10, b"\x01" * 3)])))
    assert_answer(r)
    assert cookie_of(r)[:8] == CLIENT
    r = dns.message.from_wire(raw_udp(gtmd.addr, gtmd.port,
                                      raw_query([(10, b"\x01" * 3), (10, CLIENT)])))
    assert r.rcode() == dns.rcode.FORMERR


def test_server_cookie_query_without_question(make_gtmd):
    """RFC 7873 §5.4: QDCOUNT 0 with a COOKIE option asks for a server
    cookie: NOERROR with a fresh cookie (client cookie alone or a valid
    server cookie), BADCOOKIE when the server cookie is not valid. Without a
    COOKIE option it stays FORMERR. (Knot 3.2 answers FORMERR to all.)"""
    g = make_gtmd(cfg_with(cookies={"secret": SECRET}))
    for tcp in (False, True):
        w = raw_query([(10, CLIENT)], qd=0)
        r = dns.message.from_wire(raw_udp(g.addr, g.port, w) if not tcp else _raw_tcp(g, w))
        assert r.rcode() == dns.rcode.NOERROR and not r.question and not r.answer
        assert_fresh(cookie_of(r))
    valid = cookie_of(ask(g, CLIENT))
    r = dns.message.from_wire(raw_udp(g.addr, g.port, raw_query([(10, valid)], qd=0)))
    assert r.rcode() == dns.rcode.NOERROR and cookie_of(r) == valid
    bad = valid[:-1] + bytes([valid[-1] ^ 0xFF])
    r = dns.message.from_wire(raw_udp(g.addr, g.port, raw_query([(10, bad)], qd=0)))
    assert r.rcode() == 23 and not r.question
    assert_fresh(cookie_of(r))
    r = dns.message.from_wire(raw_udp(g.addr, g.port, raw_query([], qd=0)))
    assert r.rcode() == dns.rcode.FORMERR


def _raw_tcp(g, wire):
    with socket.create_connection((g.addr, g.port), timeout=2) as s:
        s.sendall(struct.pack("!H", len(wire)) + wire)
        n = struct.unpack("!H", s.recv(2, socket.MSG_WAITALL))[0]
        return s.recv(n, socket.MSG_WAITALL)


def test_require_sends_badcookie_to_client_cookie_alone_over_udp(make_gtmd):
    g = make_gtmd(cfg_with(cookies={"require": True}))
    r = ask(g, CLIENT)
    assert r.rcode() == 23 and not r.answer
    full = cookie_of(r)
    assert full[:8] == CLIENT and len(full) == 24
    assert_answer(ask(g, full))
    assert_answer(ask(g, CLIENT, tcp=True))
    assert_answer(ask(g, None)), "a query without any COOKIE option is answered (§5.2.1)"


def test_cookies_off_ignores_the_option(make_gtmd):
    g = make_gtmd(cfg_with(cookies=False))
    r = ask(g, CLIENT)
    assert_answer(r)
    assert cookie_of(r) is None
    r = dns.message.from_wire(raw_udp(g.addr, g.port, raw_query([(10, b"\x01" * 9)])))
    assert_answer(r)


def test_no_cookie_option_no_cookie_in_reply(gtmd):
    r = ask(gtmd, None)
    assert_answer(r)
    assert cookie_of(r) is None


# ---- dig and kdig -------------------------------------------------------------

@pytest.mark.parametrize("tool", ["dig", "kdig"])
def test_dig_and_kdig_cookie(make_gtmd, tool):
    exe = shutil.which(tool)
    if not exe:
        pytest.skip("%s is not installed" % tool)
    g = make_gtmd(cfg_with(cookies={"secret": SECRET}))

    def run(*args):
        out = subprocess.run([exe, "-p", str(g.port), "@127.0.0.1", "www.example.com", "A",
                              "+norecurse"] + list(args), capture_output=True, text=True,
                             timeout=10).stdout
        cookie = [ln for ln in out.splitlines() if "COOKIE:" in ln]
        assert cookie, out
        return out, cookie[0].split("COOKIE:")[1].split()[0].lower()

    out, got = run("+cookie=" + CLIENT.hex())
    assert "NOERROR" in out and "192.0.2.80" in out
    assert_fresh(bytes.fromhex(got))
    if tool == "dig":
        assert "(good)" in out, out
    out, again = run("+cookie=" + got)
    assert again == got, "the cookie dig learned is valid and echoed"
    out, _ = run("+cookie")  # a random client cookie
    assert "NOERROR" in out


# ---- secrets across reloads ----------------------------------------------------

def _reload(g, **keys):
    cfg = dict(g.config)
    cfg.update(keys)
    g.write_config(cfg)
    before = g.read_log().count("event=reload result=ok")
    g.signal(signal.SIGHUP)
    ok, _ = poll(lambda: g.read_log().count("event=reload result=ok") > before, 5.0)
    assert ok, g.read_log()[-2000:]


def test_secret_rotation_on_reload_keeps_the_previous_one(make_gtmd):
    g = make_gtmd(cfg_with(cookies={"rotate_on_reload": True}))
    first = cookie_of(ask(g, CLIENT))
    assert cookie_of(ask(g, first)) == first
    _reload(g)
    r = ask(g, first)
    assert_answer(r), "the previous secret is still accepted"
    second = cookie_of(r)
    assert second != first, "and the reply carries a cookie under the new secret"
    assert cookie_of(ask(g, second)) == second
    _reload(g)
    assert ask(g, first).rcode() == 23, "two rotations later the first secret is gone"
    assert_answer(ask(g, second))


def test_without_rotation_a_reload_keeps_the_secret(make_gtmd):
    g = make_gtmd()
    first = cookie_of(ask(g, CLIENT))
    _reload(g)
    assert cookie_of(ask(g, first)) == first


def test_configured_secret_change_keeps_the_old_one_as_previous(make_gtmd):
    other = "00112233445566778899aabbccddeeff"
    g = make_gtmd(cfg_with(cookies={"secret": SECRET}))
    first = cookie_of(ask(g, CLIENT))
    _reload(g, cookies={"secret": other})
    r = ask(g, first)
    assert_answer(r)
    assert_fresh(cookie_of(r), secret=other)


# ---- Knot DNS with mod-cookies, where it agrees -------------------------------

@pytest.fixture
def knot_cookies():
    if not os.access(KNOTD, os.X_OK):
        pytest.skip("knotd is not installed")
    d = tempfile.mkdtemp(prefix="gtmd-knot-cookie-")
    port = free_port()
    for f in ("example.com.zone", "example.com.inc"):
        shutil.copy(os.path.join(os.path.dirname(__file__), "..", "data", f), d)
    with open(os.path.join(d, "knot.conf"), "w") as f:
        f.write("""server:
    rundir: "{d}"
    user: root:root
    pidfile: "{d}/knot.pid"
    listen: 127.0.0.1@{port}
log:
  - target: "{d}/knot.log"
    any: info
database:
    storage: "{d}"
template:
  - id: default
    global-module: mod-cookies
zone:
  - domain: example.com.
    file: "{d}/example.com.zone"
    storage: "{d}"
""".format(d=d, port=port))
    proc = subprocess.Popen([KNOTD, "-c", os.path.join(d, "knot.conf")], cwd=d,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        ok, _ = poll(lambda: _knot_up(port), 10.0, 0.1)
        if not ok:
            pytest.skip("knotd did not start")
        yield ("127.0.0.1", port)
    finally:
        stop_process(proc)
        shutil.rmtree(d, ignore_errors=True)


def _knot_up(port):
    try:
        r = dns.query.udp(dns.message.make_query("www.example.com.", "A"), "127.0.0.1",
                          port=port, timeout=0.3)
        return bool(r.answer)
    except Exception:
        return False


def _summary(w):
    r = dns.message.from_wire(w)
    c = cookie_of(r)
    return (r.rcode(), bool(r.answer), r.edns, None if c is None else (len(c), c[:8]))


def test_knot_agrees(make_gtmd, knot_cookies):
    """Knot's mod-cookies requires a server cookie over UDP, which is gtmd
    with "require": true: a client cookie alone and an invalid server cookie
    get BADCOOKIE, malformed lengths FORMERR with OPT and no COOKIE; the
    same rcode, answer presence, OPT and cookie shape from both."""
    gtmd = make_gtmd(cfg_with(cookies={"require": True}))
    bad = CLIENT + b"\x01\x00\x00\x00" + b"\x00" * 12
    cases = [[(10, CLIENT)], [(10, bad)], [(10, b"\xaa" * 9)], [(10, b"\xaa" * 41)],
             [(10, b"\xaa" * 7)]]
    for options in cases:
        wire = raw_query(options)
        got = _summary(raw_udp(gtmd.addr, gtmd.port, wire))
        want = _summary(raw_udp(*knot_cookies, wire))
        assert got == want, "%r: gtmd %r, Knot %r" % (options, got, want)


# ---- /metrics -------------------------------------------------------------------

def test_cookie_counters_in_metrics(make_gtmd):
    from adminlib import READ_TOKEN, Admin, config_fn
    from prometheus_client.parser import text_string_to_metric_families

    def mutate(c, workdir):
        c["cookies"] = {"secret": SECRET}

    g = make_gtmd(config_fn(policy=False, mutate=mutate))
    a = Admin.of(g)

    def counts():
        r = a.get("/metrics", token=READ_TOKEN)
        assert r.status == 200
        out = {}
        for f in text_string_to_metric_families(r.body.decode()):
            if f.name == "gtmd_cookie_queries":
                for s in f.samples:
                    out[s.labels["status"]] = s.value
        return out

    assert counts() == {"client_only": 0, "bad": 0, "valid": 0, "malformed": 0}
    full = cookie_of(ask(g, CLIENT))
    ask(g, CLIENT)
    ask(g, full)
    ask(g, full[:-1] + bytes([full[-1] ^ 1]))
    raw_udp(g.addr, g.port, raw_query([(10, b"\x01" * 9)]))
    ask(g, None)
    assert counts() == {"client_only": 2, "bad": 1, "valid": 1, "malformed": 1}

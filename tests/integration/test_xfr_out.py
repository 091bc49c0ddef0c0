"""Outgoing zone transfers: gtmd as the primary of real secondaries.

Knot DNS and NSD (Debian's knot and nsd, started by hand on loopback) are
secondaries of two of gtmd's zones:
  - xfr.test., whose "transfer" needs the TSIG key xfr-key. (hmac-sha256),
    with a policy record (app.xfr.test. over a backend the test starts);
    Knot asks AXFR, NSD is told to ask AXFR too;
  - open.test., transferable from 127.0.0.1 without a key; NSD asks IXFR
    (gtmd answers with the whole zone, RFC 1995 §4).
Both are NOTIFYed by gtmd at start and after a reload with a new serial.
The tests check that every name the secondaries serve answers what gtmd
answers, that a reload with a new serial reaches both within seconds
(NOTIFY: their SOA refresh is an hour), and the refusals: no key, a wrong
key, an address outside the allow list, a zone without "transfer", a name
that is not an apex, AXFR over UDP. Skipped, saying why, without knotd,
nsd, dig or kdig. Every wait is bounded."""
import base64
import os
import re
import shutil
import subprocess
import tempfile
import time

import dns.message
import dns.query
import dns.rcode
import dns.tsigkeyring
import dns.zone
import pytest

from backends import Backends, free_port_on, poll
from conftest import Gtmd, free_port, stop_process
from knotlib import knot_head

KNOTD = "/usr/sbin/knotd"
NSD = "/usr/sbin/nsd"
KEY = "xfr-key."
SECRET = base64.b64encode(bytes(range(32))).decode()
WRONG = base64.b64encode(bytes(range(1, 33))).decode()
BACKEND = "127.0.0.150"

pytestmark = pytest.mark.skipif(
    not (os.access(KNOTD, os.X_OK) and os.access(NSD, os.X_OK) and shutil.which("kdig")
         and shutil.which("dig")),
    reason="knotd, nsd, dig or kdig is not installed (contrib/deps.sh installs them)")


def zone_text(origin, serial, extra=""):
    return """$ORIGIN {o}
$TTL 300
@        IN SOA ns1.{o} hostmaster.{o} {s} 3600 600 86400 60
         IN NS  ns1
         IN MX  10 mail
ns1      IN A   192.0.2.1
mail     IN A   192.0.2.25
www      IN A   192.0.2.80
         IN AAAA 2001:db8::80
alias    IN CNAME www
*.wild   IN TXT "wildcard"
deleg    IN NS  ns.deleg
ns.deleg IN A   192.0.2.53
txt      IN TXT "one" "two"
{extra}""".format(o=origin, s=serial, extra=extra)


def big_records(n):
    return "".join("h%d IN A 192.0.2.%d\nh%d IN TXT \"record %d of a zone larger than a "
                   "message\"\n" % (i, i % 250 + 1, i, i) for i in range(n))


def knot_conf(d, port, gport, secret=SECRET):
    return knot_head(d, port, gport, KEY, secret) + """acl:
  - id: notify_gtmd
    address: 127.0.0.1
    action: notify
    key: {key}
zone:
  - domain: xfr.test.
    storage: "{d}"
    master: gtmd
    acl: notify_gtmd
""".format(d=d, port=port, gport=gport, key=KEY, secret=SECRET)


def nsd_conf(d, port, gport):
    return """server:
    ip-address: 127.0.0.1@{port}
    port: {port}
    server-count: 1
    username: ""
    chroot: ""
    zonesdir: "{d}"
    pidfile: "{d}/nsd.pid"
    database: ""
    xfrdfile: "{d}/xfrd.state"
    xfrdir: "{d}"
    zonelistfile: "{d}/zone.list"
    logfile: "{d}/nsd.log"
    verbosity: 2
remote-control:
    control-enable: no
key:
    name: "{key}"
    algorithm: hmac-sha256
    secret: "{secret}"
zone:
    name: xfr.test
    zonefile: "{d}/xfr.test.zone"
    request-xfr: AXFR 127.0.0.1@{gport} {key}
    allow-notify: 127.0.0.1 {key}
zone:
    name: open.test
    zonefile: "{d}/open.test.zone"
    request-xfr: 127.0.0.1@{gport} NOKEY
    allow-notify: 127.0.0.1 NOKEY
""".format(d=d, port=port, gport=gport, key=KEY, secret=SECRET)


class Secondary:
    def __init__(self, name, argv_fn, conf_fn, gport):
        self.name = name
        self.workdir = tempfile.mkdtemp(prefix="gtmd-xfr-%s-" % name)
        self.port = free_port()
        conf = os.path.join(self.workdir, name + ".conf")
        with open(conf, "w") as f:
            f.write(conf_fn(self.workdir, self.port, gport))
        self.out = open(os.path.join(self.workdir, "out.log"), "ab")
        self.proc = subprocess.Popen(argv_fn(conf), cwd=self.workdir, stdout=self.out,
                                     stderr=subprocess.STDOUT)

    def logs(self):
        text = ""
        for f in sorted(os.listdir(self.workdir)):
            if f.endswith(".log"):
                with open(os.path.join(self.workdir, f), "rb") as fh:
                    text += "--- %s\n%s" % (f, fh.read().decode(errors="replace")[-3000:])
        return text

    def stop(self):
        stop_process(self.proc)
        self.out.close()
        shutil.rmtree(self.workdir, ignore_errors=True)


def ask(port, name, rdtype="A"):
    q = dns.message.make_query(name, rdtype)
    try:
        r = dns.query.udp(q, "127.0.0.1", port=port, timeout=0.5)
    except Exception:
        return None
    return (dns.rcode.to_text(r.rcode()),
            sorted((rr.name.to_text(), dns.rdatatype.to_text(rr.rdtype), rd.to_text())
                   for rr in r.answer for rd in rr))


def serial_of(port, zone):
    got = ask(port, zone, "SOA")
    if not got or got[0] != "NOERROR" or not got[1]:
        return None
    return int(got[1][0][2].split()[2])


def wait_for_answer(port, timeout):
    """True once the server at port answers a query at all (any rcode)."""
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        try:
            dns.query.udp(dns.message.make_query("xfr.test.", "SOA"), "127.0.0.1", port=port,
                          timeout=0.3)
            return True
        except Exception:
            time.sleep(0.05)
    return False


def wait_serial(port, zone, serial, timeout):
    """Seconds until the server at port serves zone with serial, or None."""
    start = time.monotonic()
    while time.monotonic() - start < timeout:
        if serial_of(port, zone) == serial:
            return time.monotonic() - start
        time.sleep(0.05)
    return None


@pytest.fixture(scope="module")
def estate(tmp_path_factory, request):
    work = str(tmp_path_factory.mktemp("xfr"))
    bk = Backends()
    bport = free_port_on([BACKEND])
    bk.tcp(BACKEND, bport)
    gport = free_port()
    secondaries = []
    g = None
    try:
        knot = Secondary("knot", lambda c: [KNOTD, "-c", c], knot_conf, gport)
        secondaries.append(knot)
        nsd = Secondary("nsd", lambda c: [NSD, "-d", "-c", c], nsd_conf, gport)
        secondaries.append(nsd)
        with open(os.path.join(work, "xfr.test.zone"), "w") as f:
            f.write(zone_text("xfr.test.", 1, big_records(400)))
        for z in ("open.test.", "closed.test."):
            with open(os.path.join(work, z + "zone"), "w") as f:
                f.write(zone_text(z, 7))
        cfg = {
            "listen": ["127.0.0.1:%d" % gport], "workers": 2,
            "tsig_keys": {KEY: {"algorithm": "hmac-sha256", "secret": SECRET}},
            "zones": [
                {"origin": "xfr.test.", "file": "xfr.test.zone",
                 "transfer": {"allow": ["127.0.0.1"], "key": KEY, "journal": "xfr.journal",
                              "notify": ["127.0.0.1:%d" % knot.port,
                                         "127.0.0.1:%d" % nsd.port]}},
                {"origin": "open.test.", "file": "open.test.zone",
                 "transfer": {"allow": ["127.0.0.0/8"], "notify": ["127.0.0.1:%d" % nsd.port],
                              "journal": "open.journal", "journal_max": 4096}},
                {"origin": "closed.test.", "file": "closed.test.zone"},
            ],
            "regions": {"r1": {}},
            "checks": {"tcp": {"type": "tcp", "port": bport, "interval": 0.5, "timeout": 0.3,
                               "rise": 1, "fall": 1}},
            "pools": {"web": {"check": "tcp", "endpoints": [
                {"name": "b1", "address": BACKEND, "region": "r1"},
                {"name": "b2", "address": "192.0.2.222", "region": "r1",
                 "check_target": {"host": "127.0.0.151", "port": bport}}]}},
            "records": {"app.xfr.test.": {"pool": "web", "ttl": 30, "policy": "all",
                                          "when_all_down": "empty"}},
        }
        # Both secondaries listen before gtmd starts, so that its first
        # NOTIFY finds them (under a sanitizer build their start is slow).
        for sec in secondaries:
            ok = wait_for_answer(sec.port, 20)
            assert ok, (sec.name, sec.logs())
        g = Gtmd(work, cfg, gport)
        g.start()
        yield {"g": g, "knot": knot, "nsd": nsd, "work": work, "gport": gport}
    finally:
        if g is not None:
            g.stop()
        for s in secondaries:
            s.stop()
        bk.cleanup()


def test_secondaries_transfer_and_serve_what_gtmd_serves(estate):
    g, knot, nsd = estate["g"], estate["knot"], estate["nsd"]
    for sec, zone in ((knot, "xfr.test."), (nsd, "xfr.test."), (nsd, "open.test.")):
        want = 1 if zone == "xfr.test." else 7
        assert wait_serial(sec.port, zone, want, 15) is not None, (sec.name, zone, sec.logs(),
                                                                  g.read_log()[-3000:])
    names = [("xfr.test.", "SOA"), ("xfr.test.", "NS"), ("xfr.test.", "MX"),
             ("www.xfr.test.", "A"), ("www.xfr.test.", "AAAA"), ("alias.xfr.test.", "A"),
             ("a.wild.xfr.test.", "TXT"), ("txt.xfr.test.", "TXT"), ("h0.xfr.test.", "A"),
             ("h399.xfr.test.", "TXT"), ("nope.xfr.test.", "A"), ("app.xfr.test.", "A")]
    for name, t in names:
        mine = ask(g.port, name, t)
        assert mine is not None and mine[0] in ("NOERROR", "NXDOMAIN"), (name, mine)
        for sec in (knot, nsd):
            assert ask(sec.port, name, t) == mine, (sec.name, name, t, mine)
    # The policy record went out as what it answered: the one healthy endpoint.
    assert ask(knot.port, "app.xfr.test.")[1] == [("app.xfr.test.", "A", BACKEND)]
    assert ask(nsd.port, "www.open.test.") == ask(g.port, "www.open.test.")
    # The NOTIFY thread logs once every secondary has answered (or its tries
    # ran out): possibly after a secondary has already transferred.
    poll(lambda: "event=notify zone=xfr.test." in g.read_log(), 5, 0.05)
    log = g.read_log()
    assert "event=xfr_out zone=xfr.test." in log and "event=notify zone=xfr.test." in log, log


@pytest.mark.threads  # the NOTIFY thread, workers streaming transfers, a reload
def test_reload_with_new_serial_reaches_secondaries_by_notify(estate):
    g, knot, nsd, work = estate["g"], estate["knot"], estate["nsd"], estate["work"]
    assert wait_serial(knot.port, "xfr.test.", 1, 30) is not None, knot.logs()
    assert wait_serial(nsd.port, "xfr.test.", 1, 30) is not None, nsd.logs()
    with open(os.path.join(work, "xfr.test.zone"), "w") as f:
        f.write(zone_text("xfr.test.", 2, big_records(400) + "new IN A 192.0.2.99\n"))
    start = time.monotonic()
    g.signal(1)  # SIGHUP
    took = {}
    for sec in (knot, nsd):
        t = wait_serial(sec.port, "xfr.test.", 2, 10)
        assert t is not None, (sec.name, sec.logs(), g.read_log()[-2000:])
        took[sec.name] = time.monotonic() - start
        assert ask(sec.port, "new.xfr.test.") == (
            "NOERROR", [("new.xfr.test.", "A", "192.0.2.99")]), sec.name
    print("\nMEASURE reload-to-secondary (NOTIFY, TSIG; Knot IXFR, NSD AXFR; 803 records): "
          "knot %.2f s, nsd %.2f s" % (took["knot"], took["nsd"]))
    # The NOTIFY thread logs once every secondary has answered (or its tries
    # ran out): possibly after both have already transferred.
    ok, _ = poll(lambda: "event=notify zone=xfr.test. serial=2" in g.read_log(), 5, 0.05)
    log = g.read_log()
    assert ok, log[-3000:]
    # Knot asked IXFR and got the one difference; NSD is told to ask AXFR.
    assert re.search(r"event=xfr_out zone=xfr\.test\. kind=ixfr messages=1 records=5\b", log), log
    assert re.search(r"event=xfr_out zone=xfr\.test\. kind=axfr ", log), log


def test_ixfr_from_the_journal_across_restarts_and_its_limit(estate):
    """open.test.: NSD asks IXFR; each reload with a new serial adds one
    journal entry; after a restart the journal still answers; an IXFR from
    a serial the journal no longer holds (journal_max 4096 keeps few) gets
    the whole zone, and one from the current serial the SOA alone."""
    g, nsd, work = estate["g"], estate["nsd"], estate["work"]
    assert wait_serial(nsd.port, "open.test.", 7, 15) is not None
    for serial in (8, 9):
        with open(os.path.join(work, "open.test.zone"), "w") as f:
            f.write(zone_text("open.test.", serial, "s%d IN A 192.0.2.%d\n" % (serial, serial)))
        g.signal(1)
        assert wait_serial(nsd.port, "open.test.", serial, 10) is not None, nsd.logs()
        assert ask(nsd.port, "s%d.open.test." % serial) == (
            "NOERROR", [("s%d.open.test." % serial, "A", "192.0.2.%d" % serial)])
    log = g.read_log()
    assert re.search(r"event=xfr_out zone=open\.test\. kind=ixfr ", log), log
    g.stop()
    g.start()
    # IXFR from 8 by dnspython: the journal's entry 8 -> 9 (s8 deleted, s9 added).
    msgs = list(dns.query.xfr("127.0.0.1", "open.test.", port=g.port, rdtype="IXFR", serial=8,
                              lifetime=10, relativize=False))
    rrs = [(rr.name.to_text(), dns.rdatatype.to_text(rr.rdtype)) for m in msgs for rr in m.answer]
    assert rrs[0] == ("open.test.", "SOA") and rrs[-1] == ("open.test.", "SOA"), rrs
    assert rrs == [("open.test.", "SOA"), ("open.test.", "SOA"), ("s8.open.test.", "A"),
                   ("open.test.", "SOA"), ("s9.open.test.", "A"), ("open.test.", "SOA")], rrs
    cur = list(dns.query.xfr("127.0.0.1", "open.test.", port=g.port, rdtype="IXFR", serial=9,
                             lifetime=10, relativize=False))
    assert sum(len(m.answer) for m in cur) == 1
    old = list(dns.query.xfr("127.0.0.1", "open.test.", port=g.port, rdtype="IXFR", serial=1,
                             lifetime=10, relativize=False))
    names = {rr.name.to_text() for m in old for rr in m.answer}
    assert "www.open.test." in names  # the whole zone


def kdig(port, *args):
    p = subprocess.run(["kdig", "@127.0.0.1", "-p", str(port), "+tcp", *args],
                       capture_output=True, text=True, timeout=20)
    return p.stdout + p.stderr


def test_transfer_refusals(estate):
    port = estate["gport"]
    key = "hmac-sha256:%s:%s" % (KEY, SECRET)
    ok = kdig(port, "-y", key, "xfr.test.", "AXFR")
    m = re.search(r"Received \d+ B \((\d+) messages, (\d+) records\)", ok)
    assert m and int(m.group(1)) > 1 and int(m.group(2)) > 800, ok
    assert ok.count("SOA") >= 2, ok
    # No key, a wrong key: NOTAUTH (the wrong one with TSIG error BADSIG).
    out = kdig(port, "xfr.test.", "AXFR")
    assert "NOTAUTH" in out, out
    out = kdig(port, "-y", "hmac-sha256:%s:%s" % (KEY, WRONG), "xfr.test.", "AXFR")
    assert "NOTAUTH" in out or "BADSIG" in out, out
    # A key gtmd does not have: NOTAUTH, BADKEY.
    out = kdig(port, "-y", "hmac-sha256:other-key.:%s" % SECRET, "xfr.test.", "AXFR")
    assert "NOTAUTH" in out or "BADKEY" in out, out
    # A zone without "transfer", and a source outside the allow list: REFUSED.
    assert "REFUSED" in kdig(port, "closed.test.", "AXFR")
    out = subprocess.run(["dig", "-b", "127.0.0.2", "@127.0.0.1", "-p", str(port),
                          "xfr.test.", "AXFR", "-y", key], capture_output=True, text=True,
                         timeout=20).stdout
    assert "REFUSED" in out or "Transfer failed" in out, out
    # Not an apex: NOTAUTH; over UDP: NOTIMP.
    assert "NOTAUTH" in kdig(port, "www.open.test.", "AXFR")
    q = dns.message.make_query("open.test.", "AXFR")
    r = dns.query.udp(q, "127.0.0.1", port=port, timeout=2)
    assert r.rcode() == dns.rcode.NOTIMP


def test_transfer_with_dnspython_verifies_every_message(estate):
    """dnspython checks the TSIG of every message of a multi-message
    transfer (RFC 8945 §5.3.1: later messages sign the previous MAC and
    the timers)."""
    port = estate["gport"]
    keyring = dns.tsigkeyring.from_text({KEY: ("hmac-sha256", SECRET)})
    z = dns.zone.from_xfr(dns.query.xfr("127.0.0.1", "xfr.test.", port=port, keyring=keyring,
                                        keyname=KEY, keyalgorithm="hmac-sha256", lifetime=20))
    names = {n.to_text() for n in z.nodes}
    assert {"h0", "h399", "www", "app", "alias", "*.wild", "ns.deleg"} <= names, sorted(names)[:20]
    assert z.get_rdataset("app", "A")[0].address == BACKEND


# ---- TSIG time window and replays (issue #37, finding 5) --------------------

def tsig_config(fudge=None):
    """A gtmd with xfr.test. transferable with the key only (no secondary)."""
    def fn(workdir, port):
        with open(os.path.join(workdir, "xfr.test.zone"), "w") as f:
            f.write(zone_text("xfr.test.", 1))
        key = {"algorithm": "hmac-sha256", "secret": SECRET}
        if fudge is not None:
            key["fudge"] = fudge
        return {"listen": ["127.0.0.1:%d" % port], "workers": 2, "tsig_keys": {KEY: key},
                "zones": [{"origin": "xfr.test.", "file": "xfr.test.zone",
                           "transfer": {"allow": ["127.0.0.1"], "key": KEY}}]}
    return fn


def signed_axfr(age, fudge):
    """(the wire, the query) of an AXFR of xfr.test. signed age seconds ago
    with this Fudge (dnspython signs with the clock: it is shifted)."""
    import unittest.mock
    keyring = dns.tsigkeyring.from_text({KEY: ("hmac-sha256", SECRET)})
    q = dns.message.make_query("xfr.test.", "AXFR")
    q.use_tsig(keyring, keyname=KEY, fudge=fudge, algorithm="hmac-sha256")
    when = time.time() - age
    with unittest.mock.patch("dns.renderer.time.time", return_value=when):
        wire = q.to_wire()
    return wire, q


def first_reply(port, wire, q):
    """The first message gtmd sends for wire over TCP: ("ok", rcode, number
    of answers) when its TSIG verifies, else (the TSIG error, rcode)."""
    import socket
    import struct
    import dns.tsig
    keyring = dns.tsigkeyring.from_text({KEY: ("hmac-sha256", SECRET)})
    s = socket.create_connection(("127.0.0.1", port), timeout=5)
    try:
        s.sendall(struct.pack("!H", len(wire)) + wire)
        head = b""
        while len(head) < 2:
            d = s.recv(2 - len(head))
            assert d, "closed before a reply"
            head += d
        n = struct.unpack("!H", head)[0]
        data = b""
        while len(data) < n:
            d = s.recv(n - len(data))
            assert d, "closed inside a reply"
            data += d
    finally:
        s.close()
    rcode = data[3] & 0xF
    try:
        m = dns.message.from_wire(data, keyring=keyring, request_mac=q.mac, one_rr_per_rrset=True)
    except dns.tsig.PeerBadTime:
        # RFC 8945 5.2.3: signed, the request's time as Time Signed, ours
        # in Other Data (6 octets).
        signed, other = tsig_times(data)
        req_time, _ = tsig_times(wire)
        assert signed == req_time and abs(other - time.time()) < 60, (signed, req_time, other)
        return ("BADTIME", rcode)
    except dns.tsig.PeerError as e:
        return (type(e).__name__, rcode)
    return ("ok", rcode, len(m.answer))


def tsig_times(data):
    """(Time Signed, the time in Other Data or None) of the TSIG that ends
    a message holding only a question and that TSIG."""
    import dns.name
    import struct
    _, used = dns.name.from_wire(data, 12)
    at = 12 + used + 4
    _, used = dns.name.from_wire(data, at)  # the key's name
    at += used + 10
    _, used = dns.name.from_wire(data, at)  # the algorithm
    at += used
    hi, lo, _fudge, mac_len = struct.unpack("!HIHH", data[at:at + 10])
    at += 10 + mac_len + 4
    (olen,) = struct.unpack("!H", data[at:at + 2])
    if olen != 6:
        return (hi << 32) | lo, None
    ohi, olo = struct.unpack("!HI", data[at + 2:at + 8])
    return (hi << 32) | lo, (ohi << 32) | olo


def test_tsig_fudge_is_the_smaller_one(make_gtmd):
    """An AXFR signed 2 hours ago with Fudge 65535 gets BADTIME: the window
    is min(the request's Fudge, the key's: 300 by default). On the old code
    it got the zone (this test failed there); with Fudge 300, BADTIME as
    before. A key's "fudge" narrows the window further."""
    g = make_gtmd(tsig_config())
    wire, q = signed_axfr(7200, 65535)
    assert first_reply(g.port, wire, q) == ("BADTIME", dns.rcode.NOTAUTH)
    wire, q = signed_axfr(7200, 300)
    assert first_reply(g.port, wire, q) == ("BADTIME", dns.rcode.NOTAUTH)
    wire, q = signed_axfr(200, 65535)  # inside 300 s: served
    r = first_reply(g.port, wire, q)
    assert r[0] == "ok" and r[1] == 0 and r[2] > 5, r
    g2 = make_gtmd(tsig_config(fudge=60))
    wire, q = signed_axfr(120, 300)
    assert first_reply(g2.port, wire, q) == ("BADTIME", dns.rcode.NOTAUTH)
    wire, q = signed_axfr(30, 300)
    assert first_reply(g2.port, wire, q)[:2] == ("ok", 0)


def test_tsig_replayed_transfer_request_is_refused(make_gtmd):
    """A captured signed AXFR request sent again within its window gets
    BADTIME (RFC 8945 5.2.3 lets a server refuse a message older than the
    last one the key signed); on the old code it got the zone again (this
    test failed there). A new request, signed afresh, is served; the cache
    survives a reload."""
    import signal
    g = make_gtmd(tsig_config())
    wire, q = signed_axfr(0, 300)
    r = first_reply(g.port, wire, q)
    assert r[0] == "ok" and r[2] > 5, r
    assert first_reply(g.port, wire, q) == ("BADTIME", dns.rcode.NOTAUTH)
    wire2, q2 = signed_axfr(0, 300)
    assert wire2 != wire
    assert first_reply(g.port, wire2, q2)[:2] == ("ok", 0)
    g.signal(signal.SIGHUP)
    assert poll(lambda: "event=reload result=ok" in g.read_log(), 10.0)[0]
    assert first_reply(g.port, wire2, q2) == ("BADTIME", dns.rcode.NOTAUTH)
    # A plain query signed with the same octets twice is answered twice
    # (a UDP retry): only transfers are checked.
    keyring = dns.tsigkeyring.from_text({KEY: ("hmac-sha256", SECRET)})
    sq = dns.message.make_query("www.xfr.test.", "A")
    sq.use_tsig(keyring, keyname=KEY, algorithm="hmac-sha256")
    sw = sq.to_wire()
    import socket
    for _ in range(2):
        u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        u.settimeout(2)
        try:
            u.sendto(sw, ("127.0.0.1", g.port))
            data = u.recv(65535)
        finally:
            u.close()
        m = dns.message.from_wire(data, keyring=keyring, request_mac=sq.mac)
        assert m.rcode() == 0 and m.answer, m

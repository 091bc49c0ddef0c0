"""Secondary zones that one bad primary cannot break (issue 36).

A scripted primary (hostile_primary.py: dnspython and hand-written wire on
loopback) serves two zones to gtmd: good.test., which behaves, and
bad.test., which misbehaves in turn (records outside the zone, a stream
cut in the middle of a message, no closing SOA, a wrong RDATA length, a
SOA cut short, a stream dripping octets, one dripping messages). Each bad
transfer is refused with its reason logged (event=xfr_in result=refused
why=...), bad.test. keeps being served from its last good copy (on disk
too), good.test. keeps taking new serials meanwhile (also while bad.test.
drips), and a restart serves both. Then: a broken copy on disk at start is
set aside and transferred anew; a first transfer that fails is retried
after seconds, doubling, and a NOTIFY starts it at once; several zones,
one primary killed: only its zone expires, at its SOA expire (+-1 s), the
others keep updating. Every wait is bounded."""
import base64
import glob
import os
import re
import shutil
import signal
import subprocess
import tempfile
import time

import dns.rcode
import pytest

from conftest import GTMD, Gtmd, free_port
from hostile_primary import HostilePrimary, Zone, ask, notify, serial_of, wait_for


def zone_entry(origin, port, **primary):
    p = {"addresses": ["127.0.0.1:%d" % port], "idle_timeout": 1, "transfer_timeout": 3}
    p.update(primary)
    return {"origin": origin, "file": origin + "copy", "primary": p}


def config(gport, zones):
    return {"listen": ["127.0.0.1:%d" % gport], "workers": 1, "zones": zones}


@pytest.fixture
def work():
    d = tempfile.mkdtemp(prefix="gtmd-hostile-")
    yield d
    shutil.rmtree(d, ignore_errors=True)


# mode -> what the refusal says
REFUSALS = [
    ("out_of_zone", r"a record outside the zone: www\.other\.test\."),
    ("truncated", r"the stream ended before the closing SOA after 1 messages"),
    ("no_final_soa", r"the stream ended before the closing SOA after 1 messages"),
    ("bad_rdlen", r"record bad\.bad\.test\. type 1: its RDATA \(5 octets\) does not parse"),
    ("short_soa", r"record bad\.test\. type 6: its RDATA \(\d+ octets\) does not parse"),
    ("drip_bytes", r"stalled \(no whole message within the idle timeout\) after 0 messages"),
    ("drip_messages", r"did not end within the transfer timeout"),
]


def refusals(g):
    return re.findall(r"event=xfr_in zone=bad\.test\. result=refused why=\"([^\"]*)\"",
                      g.read_log())


@pytest.mark.threads  # refresh threads at once, workers taking NOTIFY, the main thread reloading
def test_bad_transfers_are_refused_and_nothing_else_stops(work):
    gport = free_port()
    p = HostilePrimary([Zone("good.test."), Zone("bad.test.")])
    g = Gtmd(work, config(gport, [zone_entry("good.test.", p.port),
                                  zone_entry("bad.test.", p.port)]), gport)
    try:
        g.start()
        assert wait_for(lambda: serial_of(gport, "good.test.") == 1 and
                        serial_of(gport, "bad.test.") == 1, 10) is not None, g.read_log()
        good = 1
        for n, (mode, reason) in enumerate(REFUSALS):
            before = len(refusals(g))
            p.set("bad.test.", serial=2 + n, mode=mode)
            assert notify(gport, "bad.test.") == dns.rcode.NOERROR
            # The other zone takes a new serial meanwhile (also while
            # bad.test. drips: a refresh never waits for another).
            good += 1
            p.set("good.test.", serial=good)
            assert notify(gport, "good.test.") == dns.rcode.NOERROR
            t = wait_for(lambda: serial_of(gport, "good.test.") == good, 3)
            assert t is not None, (mode, g.read_log()[-3000:])
            # (A retry of the mode before may still be refused first.)
            assert wait_for(lambda: any(re.search(reason, r) for r in refusals(g)[before:]),
                            8) is not None, (mode, refusals(g)[before:], g.read_log()[-3000:])
            # The last good copy is what is served, and what is on disk.
            assert serial_of(gport, "bad.test.") == 1, mode
            assert ask(gport, "serial.bad.test.") == ("NOERROR", ["10.0.0.1"]), mode
            assert ask(gport, "www.other.test.")[0] == "REFUSED"
            assert ask(gport, "poison.example.org.")[0] == "REFUSED"
            assert ask(gport, "bad.bad.test.")[0] == "NXDOMAIN"
            with open(os.path.join(work, "bad.test.copy")) as f:
                copy = f.read()
            assert "other.test" not in copy and "poison" not in copy
            soa = [ln for ln in copy.splitlines() if "\tSOA\t" in ln]
            assert len(soa) == 1 and soa[0].split()[6] == "1", copy
        # Nothing refused reached a reload, and a restart serves both copies.
        assert "event=reload result=failed" not in g.read_log()
        g.stop()
        g.start()
        assert serial_of(gport, "bad.test.") == 1 and serial_of(gport, "good.test.") == good
        # The primary mends its ways: the next NOTIFY brings the zone.
        p.set("bad.test.", serial=50, mode="good")
        assert notify(gport, "bad.test.") == dns.rcode.NOERROR
        assert wait_for(lambda: serial_of(gport, "bad.test.") == 50, 5) is not None, (
            g.read_log()[-3000:])
    finally:
        if g.proc is not None:
            g.stop()
        p.stop()


def copy_text(origin, serial, extra=""):
    return """$ORIGIN {o}
$TTL 300
@    IN SOA ns1.{o} hostmaster.{o} {s} 3600 600 1209600 60
     IN NS  ns1
ns1  IN A   192.0.2.1
www0 IN A   192.0.2.10
{x}""".format(o=origin, s=serial, x=extra)


def test_broken_copy_is_set_aside_and_transferred_anew(work):
    """A copy that does not load (here a record outside the zone, as a
    transfer written before gtmd checked them could leave) neither stops
    gtmd from starting nor from reloading: it is renamed aside with a log
    line, the zone is transferred anew, the other zone served throughout.
    gtmd check says so as a warning (exit 0)."""
    gport = free_port()
    p = HostilePrimary([Zone("good.test.", serial=7), Zone("bad.test.", serial=9)])
    with open(os.path.join(work, "good.test.copy"), "w") as f:
        f.write(copy_text("good.test.", 7))
    with open(os.path.join(work, "bad.test.copy"), "w") as f:
        f.write(copy_text("bad.test.", 8, "www.other.test. 300 IN A 203.0.113.66\n"))
    g = Gtmd(work, config(gport, [zone_entry("good.test.", p.port),
                                  zone_entry("bad.test.", p.port)]), gport)
    try:
        g.write_config()
        r = subprocess.run([GTMD, "check", "-c", g.conf_path], capture_output=True, text=True,
                           timeout=20)
        assert r.returncode == 0, (r.stdout, r.stderr)
        assert "bad.test.: its copy does not load" in r.stdout + r.stderr, (r.stdout, r.stderr)
        assert os.path.exists(os.path.join(work, "bad.test.copy"))  # check moves nothing
        g.start()
        assert serial_of(gport, "good.test.") == 7  # served at once, from its copy
        log = g.read_log()
        m = re.search(r"event=zone_copy_broken zone=bad\.test\. file=\S+bad\.test\.copy "
                      r"moved_to=(\S+bad\.test\.copy\.broken-\d{8}T\d{6}Z) why=\"[^\"]*"
                      r"www\.other\.test\. is outside the zone bad\.test\.\"", log)
        assert m, log
        aside = m.group(1)
        with open(aside) as f:
            assert "other.test" in f.read()
        assert wait_for(lambda: serial_of(gport, "bad.test.") == 9, 5) is not None, g.read_log()
        # A copy broken under a running gtmd: a reload sets it aside too.
        with open(os.path.join(work, "good.test.copy"), "w") as f:
            f.write(copy_text("good.test.", 7, "poison.example.org. 300 IN A 203.0.113.67\n"))
        g.signal(signal.SIGHUP)
        assert wait_for(lambda: "event=zone_copy_broken zone=good.test." in g.read_log(),
                        5) is not None, g.read_log()[-3000:]
        assert wait_for(lambda: serial_of(gport, "good.test.") == 7, 5) is not None
        assert serial_of(gport, "bad.test.") == 9
        assert "event=reload result=failed" not in g.read_log()
        assert len(glob.glob(os.path.join(work, "*.broken-*"))) == 2
    finally:
        if g.proc is not None:
            g.stop()
        p.stop()


def retries(g, origin):
    """(fails, retry_in) of every failed or refused refresh of origin."""
    return [(int(a), int(b)) for a, b in re.findall(
        r"event=xfr_in zone=%s result=\w+ why=\"[^\"]*\" fails=(\d+) retry_in=(\d+)"
        % re.escape(origin), g.read_log())]


def test_first_transfer_backs_off_from_seconds_and_notify_starts_over(work):
    """A zone whose primary is not there yet is retried after about 2 s,
    then 4, then 8 (give or take a fifth), not every 600 s; the primary's
    NOTIFY, once it is up, brings the zone at once."""
    gport = free_port()
    p = HostilePrimary([Zone("late.test.", serial=3)])
    port = p.port
    p.stop()  # nothing listens there until the primary comes up
    g = Gtmd(work, config(gport, [zone_entry("late.test.", port)]), gport)
    p2 = None
    try:
        g.start()
        assert wait_for(lambda: len(retries(g, "late.test.")) >= 3, 15) is not None, (
            g.read_log()[-3000:])
        got = retries(g, "late.test.")[:3]
        assert [f for f, _ in got] == [1, 2, 3], got
        for fails, wait in got:
            base = 2 << (fails - 1)
            assert 0.8 * base - 0.5 <= wait <= 1.2 * base + 0.5, got
        assert serial_of(gport, "late.test.") is None
        p2 = HostilePrimary([Zone("late.test.", serial=3)], port=port)
        start = time.monotonic()
        assert notify(gport, "late.test.") == dns.rcode.NOERROR
        t = wait_for(lambda: serial_of(gport, "late.test.") == 3, 6)
        assert t is not None, g.read_log()[-3000:]
        # Without the NOTIFY the next try was about 8 s away.
        assert time.monotonic() - start < 2.5, g.read_log()[-3000:]
        print("\nMEASURE NOTIFY to served after three failed first transfers: %.2f s" % t)
    finally:
        if g.proc is not None:
            g.stop()
        if p2:
            p2.stop()


EXPIRE = 6


@pytest.mark.threads  # five zones' refresh threads, the expiry tick, reloads
def test_one_primary_killed_only_its_zone_expires_on_time(work):
    """Five secondary zones: a, b and c from three primaries (SOA refresh 1
    s, retry 1 s, expire 6 s), one whose primary never answers and one whose
    transfers are always refused. a's primary is killed: a.test. answers
    SERVFAIL at its last refresh + 6 s (+-1 s), the others keep answering
    and b.test. takes a new serial meanwhile; a's primary back, a.test. is
    served again."""
    gport = free_port()
    timers = (1, 1, EXPIRE)
    pa = HostilePrimary([Zone("a.test.", timers=timers)])
    pb = HostilePrimary([Zone("b.test.", timers=timers), Zone("f.test.", mode="truncated")])
    pc = HostilePrimary([Zone("c.test.", timers=timers), Zone("p.test.", mode="dead")])
    g = Gtmd(work, config(gport, [zone_entry("a.test.", pa.port), zone_entry("b.test.", pb.port),
                                  zone_entry("c.test.", pc.port), zone_entry("p.test.", pc.port),
                                  zone_entry("f.test.", pb.port)]), gport)
    pa2 = None
    try:
        g.start()
        assert wait_for(lambda: all(serial_of(gport, z) == 1 for z in
                                    ("a.test.", "b.test.", "c.test.")), 10) is not None, (
            g.read_log()[-3000:])
        time.sleep(1.5)  # a few refreshes of everyone
        pa.stop()
        killed = time.time()
        pb.set("b.test.", serial=2)
        assert notify(gport, "b.test.") == dns.rcode.NOERROR
        assert wait_for(lambda: serial_of(gport, "b.test.") == 2, 3) is not None

        def servfail():
            got = ask(gport, "www0.a.test.")
            return got is not None and got[0] == "SERVFAIL"

        assert wait_for(servfail, EXPIRE + 4) is not None, g.read_log()[-3000:]
        seen = time.time()
        st = os.stat(os.path.join(work, "a.test.copy"))
        due = st.st_mtime + EXPIRE  # the last successful refresh, plus the SOA expire
        print("\nMEASURE a.test. SERVFAIL %.2f s after its SOA expire (killed %.2f s before "
              "the last refresh + expire)" % (seen - due, due - killed))
        assert abs(seen - due) <= 1.0, (seen - due, g.read_log()[-3000:])
        assert "event=zone_expired zone=a.test." in g.read_log()
        # The others were refreshed all along and still answer, past the
        # time they would have expired without.
        time.sleep(2)
        for z in ("b.test.", "c.test."):
            assert ask(gport, "www0." + z) == ("NOERROR", ["192.0.2.10"]), z
            assert "event=zone_expired zone=%s" % z not in g.read_log()
        assert serial_of(gport, "b.test.") == 2
        pb.set("b.test.", serial=3)  # and still takes new serials
        assert notify(gport, "b.test.") == dns.rcode.NOERROR
        assert wait_for(lambda: serial_of(gport, "b.test.") == 3, 3) is not None
        assert ask(gport, "www0.p.test.")[0] == "REFUSED"  # never transferred
        assert ask(gport, "www0.f.test.")[0] == "REFUSED"
        assert retries(g, "p.test.") and retries(g, "f.test.")
        # The primary is back: the next retry (at most the SOA retry, 2 s at
        # least, plus a fifth) refreshes a.test.
        pa2 = HostilePrimary([Zone("a.test.", timers=timers)], port=pa.port)
        assert wait_for(lambda: ask(gport, "www0.a.test.") == ("NOERROR", ["192.0.2.10"]),
                        5) is not None, g.read_log()[-3000:]
        assert "event=reload result=failed" not in g.read_log()
    finally:
        if g.proc is not None:
            g.stop()
        for p in (pa, pb, pc, pa2):
            if p:
                p.stop()


KEY = "hostile-key."
SECRET = base64.b64encode(bytes(range(40, 72))).decode()


def test_tsig_signed_every_40th_message_is_taken_unsigned_end_is_refused(work):
    """With a key, a primary may leave up to 99 messages in a row unsigned
    (RFC 8945 §5.3.1): each signed message's MAC covers those before it, so
    a transfer signed every 40th message and at its end is taken (gtmd
    wanted every message signed before); one whose last message is
    unsigned, or with 100 unsigned in a row, is refused and the copy kept."""
    gport = free_port()
    p = HostilePrimary([Zone("signed.test.", mode="sparse_tsig")], key=(KEY, SECRET))
    entry = zone_entry("signed.test.", p.port, key=KEY)
    cfg = config(gport, [entry])
    cfg["tsig_keys"] = {KEY: {"algorithm": "hmac-sha256", "secret": SECRET}}
    g = Gtmd(work, cfg, gport)
    try:
        g.start()
        assert wait_for(lambda: serial_of(gport, "signed.test.") == 1, 10) is not None, (
            g.read_log()[-3000:])
        assert ask(gport, "s119.signed.test.") == ("NOERROR", ["192.0.2.2"])
        log = g.read_log()
        assert re.search(r"event=xfr_in zone=signed\.test\. kind=axfr serial=1 from_serial=0 "
                         r"records=127 ", log), log[-2000:]
        for serial, mode, reason in (
                (2, "unsigned_last", "the last message of the transfer is not signed"),
                (3, "unsigned_100", "more than 99 messages in a row without TSIG")):
            p.set("signed.test.", serial=serial, mode=mode)
            assert notify(gport, "signed.test.", key=(KEY, SECRET)) == dns.rcode.NOERROR
            assert wait_for(lambda: reason in g.read_log(), 8) is not None, (
                mode, g.read_log()[-3000:])
            assert serial_of(gport, "signed.test.") == 1
        p.set("signed.test.", serial=4, mode="sparse_tsig")
        assert notify(gport, "signed.test.", key=(KEY, SECRET)) == dns.rcode.NOERROR
        assert wait_for(lambda: serial_of(gport, "signed.test.") == 4, 8) is not None, (
            g.read_log()[-3000:])
    finally:
        if g.proc is not None:
            g.stop()
        p.stop()


def test_a_broken_zone_file_stops_no_secondary(work):
    """A zone file of gtmd's own broken on disk (the operator's reload
    fails on it, and changes nothing) stops no secondary zone: each new
    copy is loaded alone, the other zones shared, and expiry is applied to
    the zones served on time, then lifted when the primary is back."""
    gport = free_port()
    expire = 4
    pa = HostilePrimary([Zone("a.test.", timers=(1, 1, expire))])
    static = os.path.join(work, "static.test.zone")
    with open(static, "w") as f:
        f.write(copy_text("static.test.", 1))
    zones = [zone_entry("a.test.", pa.port), {"origin": "static.test.", "file": static}]
    g = Gtmd(work, config(gport, zones), gport)
    pa2 = None
    try:
        g.start()
        assert wait_for(lambda: serial_of(gport, "a.test.") == 1, 10) is not None
        with open(static, "a") as f:
            f.write("broken IN A not-an-address\n")
        g.signal(signal.SIGHUP)
        assert wait_for(lambda: "event=reload result=failed" in g.read_log(), 5) is not None
        pa.set("a.test.", serial=2)
        assert notify(gport, "a.test.") == dns.rcode.NOERROR
        assert wait_for(lambda: serial_of(gport, "a.test.") == 2, 5) is not None, (
            g.read_log()[-3000:])
        assert re.search(r"event=reload result=ok generation=\d+ zone=a\.test\. serial=2 ",
                         g.read_log()), g.read_log()[-3000:]
        time.sleep(1.5)  # a refresh or two
        pa.stop()

        def servfail():
            got = ask(gport, "www0.a.test.")
            return got is not None and got[0] == "SERVFAIL"

        assert wait_for(servfail, expire + 4) is not None, g.read_log()[-3000:]
        seen = time.time()
        due = os.stat(os.path.join(work, "a.test.copy")).st_mtime + expire
        assert abs(seen - due) <= 1.0, (seen - due, g.read_log()[-3000:])
        assert "event=zone_expired zone=a.test. expired=yes" in g.read_log()
        assert serial_of(gport, "static.test.") == 1  # as it was loaded
        pa2 = HostilePrimary([Zone("a.test.", serial=2, timers=(1, 1, expire))], port=pa.port)
        assert wait_for(lambda: ask(gport, "www0.a.test.") == ("NOERROR", ["192.0.2.10"]),
                        5) is not None, g.read_log()[-3000:]
    finally:
        if g.proc is not None:
            g.stop()
        for p in (pa, pa2):
            if p:
                p.stop()


def test_secondary_reload_reads_the_running_configuration(work):
    """A secondary zone's new copy is served from the configuration that
    runs, not from the file: an edit the operator has not reloaded yet,
    broken or not, neither blocks it nor is applied by it (SIGHUP does)."""
    gport = free_port()
    p = HostilePrimary([Zone("good.test.")])
    static = os.path.join(work, "static.test.zone")
    with open(static, "w") as f:
        f.write(copy_text("static.test.", 1))
    running = config(gport, [zone_entry("good.test.", p.port)])
    g = Gtmd(work, running, gport)
    try:
        g.start()
        assert wait_for(lambda: serial_of(gport, "good.test.") == 1, 10) is not None
        with open(g.conf_path, "w") as f:
            f.write('{"listen": ["127.0.0.1:%d"], "zones": [' % gport)  # half written
        p.set("good.test.", serial=2)
        assert notify(gport, "good.test.") == dns.rcode.NOERROR
        assert wait_for(lambda: serial_of(gport, "good.test.") == 2, 5) is not None, (
            g.read_log()[-3000:])
        edited = config(gport, [zone_entry("good.test.", p.port),
                                {"origin": "static.test.", "file": static}])
        g.write_config(edited)
        p.set("good.test.", serial=3)
        assert notify(gport, "good.test.") == dns.rcode.NOERROR
        assert wait_for(lambda: serial_of(gport, "good.test.") == 3, 5) is not None
        assert ask(gport, "www0.static.test.")[0] == "REFUSED"  # not applied by it
        assert "event=reload result=failed" not in g.read_log()
        g.signal(signal.SIGHUP)  # the operator's reload applies it
        assert wait_for(lambda: ask(gport, "www0.static.test.") == ("NOERROR", ["192.0.2.10"]),
                        5) is not None, g.read_log()[-3000:]
        assert serial_of(gport, "good.test.") == 3
    finally:
        if g.proc is not None:
            g.stop()
        p.stop()

"""Dynamic updates (doc/updates.md) reaching the zone's secondaries and
validators: Knot DNS as a secondary takes the updated zone by IXFR after
gtmd's NOTIFY; a second gtmd as a secondary (how a fleet's other nodes get
updates) does the same and answers NOTAUTH to updates sent to it; a zone
gtmd signs at load (NSEC and NSEC3) still validates in Unbound, with the
zone's KSK as its trust anchor, for an added name, a deleted one and the
denial of a name never there."""
import os
import shutil
import subprocess
import tempfile

import dns.flags
import dns.message
import dns.query
import dns.rcode
import pytest

from conftest import Gtmd, free_port, stop_process
from dnssec_zones import keygen, missing_tools
from knotlib import knot_head
from test_dnssec_validate import Unbound
from updatelib import (KEYS, NSUPDATE, SECRET, ZONE, ask, nsupdate, serial, update_rules,
                       wait_for, zone_text)

KNOTD = "/usr/sbin/knotd"
XFR_KEY = "xfr.upd.test."

pytestmark = pytest.mark.skipif(
    not all(os.access(p, os.X_OK) for p in (NSUPDATE, KNOTD)),
    reason="nsupdate or knotd is not installed (contrib/deps.sh installs them)")


def knot_conf(d, port, gport):
    return knot_head(d, port, gport, XFR_KEY, SECRET) + """acl:
  - id: notify_gtmd
    address: 127.0.0.1
    action: notify
    key: {key}
zone:
  - domain: {zone}
    storage: "{d}"
    master: gtmd
    acl: notify_gtmd
""".format(d=d, key=XFR_KEY, zone=ZONE)


def serial_at(port, zone=ZONE):
    try:
        return serial(port, zone)
    except Exception:
        return None


@pytest.fixture
def estate():
    """gtmd (the primary, taking updates) with Knot and a second gtmd as
    its secondaries, both told by NOTIFY."""
    work = tempfile.mkdtemp(prefix="gtmd-upd-xfr-")
    procs, gs = [], []
    try:
        gport, kport, sport = free_port(), free_port(), free_port()
        kdir = os.path.join(work, "knot")
        os.mkdir(kdir)
        with open(os.path.join(kdir, "knot.conf"), "w") as f:
            f.write(knot_conf(kdir, kport, gport))
        kout = open(os.path.join(kdir, "out.log"), "ab")
        procs.append((subprocess.Popen([KNOTD, "-c", os.path.join(kdir, "knot.conf")],
                                       stdout=kout, stderr=subprocess.STDOUT), kout))
        keys = dict(KEYS, **{XFR_KEY: SECRET})
        tsig = {k: {"algorithm": "hmac-sha256", "secret": s} for k, s in keys.items()}
        pdir, sdir = os.path.join(work, "primary"), os.path.join(work, "secondary")
        os.mkdir(pdir)
        os.mkdir(sdir)
        with open(os.path.join(pdir, "upd.test.zone"), "w") as f:
            f.write(zone_text())
        primary = Gtmd(pdir, {
            "listen": ["127.0.0.1:%d" % gport], "workers": 2, "tsig_keys": tsig,
            "zones": [{"origin": ZONE, "file": "upd.test.zone", "update": update_rules(),
                       "transfer": {"allow": ["127.0.0.1"], "key": XFR_KEY,
                                    "journal": "upd.test.journal",
                                    "notify": ["127.0.0.1:%d" % kport,
                                               "127.0.0.1:%d" % sport]}}]}, gport)
        secondary = Gtmd(sdir, {
            "listen": ["127.0.0.1:%d" % sport], "workers": 1, "tsig_keys": tsig,
            "zones": [{"origin": ZONE, "file": "upd.test.zone",
                       "primary": {"addresses": ["127.0.0.1:%d" % gport], "key": XFR_KEY}}]},
            sport)
        primary.start()
        gs.append(primary)
        secondary.start()
        gs.append(secondary)
        assert wait_for(lambda: serial_at(kport) == 1, 20), open(
            os.path.join(kdir, "knot.log")).read()[-3000:]
        assert wait_for(lambda: serial_at(sport) == 1, 20), secondary.read_log()
        yield {"g": primary, "s": secondary, "kport": kport, "kdir": kdir}
    finally:
        for g in gs:
            g.stop()
        for p, out in procs:
            stop_process(p)
            out.close()
        shutil.rmtree(work, ignore_errors=True)


@pytest.mark.threads
def test_secondaries_take_each_update_by_ixfr(estate):
    g, s, kport = estate["g"], estate["s"], estate["kport"]
    for i, line in enumerate(['update add _acme-challenge.upd.test. 60 TXT "one"',
                              'update add _acme-challenge.upd.test. 60 TXT "two"',
                              "update delete _acme-challenge.upd.test. TXT"]):
        rc, out = nsupdate(g.port, g.workdir, [line])
        assert rc == 0, out
        want = i + 2
        assert wait_for(lambda: serial_at(kport) == want, 15), open(
            os.path.join(estate["kdir"], "knot.log")).read()[-3000:]
        assert wait_for(lambda: serial_at(s.port) == want, 15), s.read_log()
        if i == 1:
            for port in (kport, s.port):
                assert ask(port, "_acme-challenge.upd.test.", "TXT") == (
                    "NOERROR", ['"one"', '"two"'])
    for port in (kport, s.port):
        assert ask(port, "_acme-challenge.upd.test.", "TXT")[0] == "NXDOMAIN"
    log = g.read_log()
    # Knot and the secondary gtmd asked IXFR and got the journal's differences.
    assert log.count("event=xfr_out zone=upd.test. kind=ixfr ") >= 6, log
    assert "kind=axfr" in log  # the first transfers
    # An update sent to the secondary: NOTAUTH (it is changed on its primary).
    rc, out = nsupdate(s.port, g.workdir, ['update add _acme-challenge.upd.test. 60 TXT "x"'])
    assert "update failed: NOTAUTH" in out, out


# ---- a zone gtmd signs at load, behind a validating resolver --------------

SIGNED = "dnssec.test."  # test_dnssec_validate's Unbound has a stub for it


def signed_zone():
    return """$TTL 300
@       IN SOA ns1.dnssec.test. hostmaster.dnssec.test. 10 3600 600 86400 60
@       IN NS  ns1.dnssec.test.
ns1     IN A   127.0.0.1
www     IN A   127.0.0.80
old     IN A   127.0.0.81
"""


@pytest.mark.parametrize("denial", ["nsec", "nsec3"])
def test_signed_zone_validates_after_updates(denial):
    tool = missing_tools("nsec")
    if tool or not os.access("/usr/sbin/unbound", os.X_OK):
        pytest.skip("ldns tools or unbound not installed (%s)" % tool)
    work = tempfile.mkdtemp(prefix="gtmd-upd-sec-")
    g = u = None
    try:
        gdir = os.path.join(work, "gtmd")
        os.mkdir(gdir)
        ksk, zsk = keygen(gdir, SIGNED, True), keygen(gdir, SIGNED, False)
        # A key published ahead of a rollover, in the file only: an update
        # keeps it (the configured keys' DNSKEYs are signing's, left out).
        def pub(base):  # the base64 key of a .key file ("... DNSKEY 256 3 13 KEY ;{...}")
            return open(base + ".key").read().split(";")[0].split()[-1]
        standby, ksk_pub = pub(keygen(gdir, SIGNED, False)), pub(ksk)
        with open(os.path.join(gdir, "dnssec.test.zone"), "w") as f:
            f.write(signed_zone() + "@ 300 IN DNSKEY 256 3 13 %s\n" % standby)
        dnssec = {"keys": [os.path.basename(ksk), os.path.basename(zsk)], "denial": denial}
        if denial == "nsec3":
            dnssec["nsec3"] = {"iterations": 0, "salt": "beef"}
        gport = free_port()
        g = Gtmd(gdir, {
            "listen": ["127.0.0.1:%d" % gport], "workers": 1,
            "tsig_keys": {"acme.": {"algorithm": "hmac-sha256", "secret": SECRET}},
            "zones": [{"origin": SIGNED, "file": "dnssec.test.zone", "dnssec": dnssec,
                       "update": [{"key": "acme."}]}]}, gport).start()
        u = Unbound(work, gport, ksk + ".key")
        assert u.wait_ready(), u.log()

        def secure(name, rdtype, rcode):
            r = u.ask(name, rdtype)
            return (r.rcode() == rcode and bool(r.flags & dns.flags.AD)), r

        ok, r = secure("www.dnssec.test.", "A", dns.rcode.NOERROR)
        assert ok, (r, u.log())
        lines = ['update add _acme-challenge.dnssec.test. 60 TXT "proof"',
                 "update add new.dnssec.test. 60 A 127.0.0.90",
                 "update delete old.dnssec.test. A"]
        rc, out = nsupdate(gport, gdir, lines, zone=SIGNED)
        assert rc == 0, out
        assert serial(gport, SIGNED) == 11
        for name, rdtype, rcode in (("_acme-challenge.dnssec.test.", "TXT", dns.rcode.NOERROR),
                                    ("new.dnssec.test.", "A", dns.rcode.NOERROR),
                                    ("old.dnssec.test.", "A", dns.rcode.NXDOMAIN),
                                    ("never.dnssec.test.", "A", dns.rcode.NXDOMAIN),
                                    ("www.dnssec.test.", "A", dns.rcode.NOERROR)):
            got = wait_for(lambda: secure(name, rdtype, rcode)[0], 10, 0.2)
            assert got, (name, secure(name, rdtype, rcode)[1], u.log(), g.read_log())
        r = u.ask("_acme-challenge.dnssec.test.", "TXT")
        assert [rd.to_text() for rr in r.answer for rd in rr if rr.rdtype == 16] == ['"proof"']
        # The file holds the unsigned records: gtmd signs it again at load.
        text = open(os.path.join(gdir, "dnssec.test.zone")).read()
        assert "RRSIG" not in text and "NSEC" not in text and '"proof"' in text
        assert standby in text and ksk_pub not in text, text
        g.stop()
        g.start()
        assert wait_for(lambda: secure("new.dnssec.test.", "A", dns.rcode.NOERROR)[0], 10, 0.2)
    finally:
        if u:
            u.stop()
        if g:
            g.stop()
        shutil.rmtree(work, ignore_errors=True)


def test_keys_hold_after_the_zone_is_signed_again(tmp_path):
    """gtmd signs a zone again before its signatures expire (here 10 s
    after the start: validity 60, refresh 50). The set made then keeps the
    TSIG keys: signed updates are still taken, and a transfer still needs
    the zone's key. (Before, the re-signed set had an empty keyring: every
    signed request got NOTAUTH, and the zone's transfer key was dropped,
    so an unsigned AXFR from an allowed address got the zone.)"""
    if missing_tools("nsec"):
        pytest.skip("ldns-keygen is not installed")
    d = str(tmp_path)
    ksk, zsk = keygen(d, SIGNED, True), keygen(d, SIGNED, False)
    with open(os.path.join(d, "dnssec.test.zone"), "w") as f:
        f.write(signed_zone())
    port = free_port()
    g = Gtmd(d, {
        "listen": ["127.0.0.1:%d" % port], "workers": 1,
        "tsig_keys": {"acme.": {"algorithm": "hmac-sha256", "secret": SECRET},
                      XFR_KEY: {"algorithm": "hmac-sha256", "secret": SECRET}},
        "zones": [{"origin": SIGNED, "file": "dnssec.test.zone",
                   "dnssec": {"keys": [os.path.basename(ksk), os.path.basename(zsk)],
                              "validity": 60, "refresh": 50},
                   "transfer": {"allow": ["127.0.0.1"], "key": XFR_KEY},
                   "update": [{"key": "acme."}]}]}, port).start()
    try:
        assert wait_for(lambda: "event=resign result=ok" in g.read_log(), 30), g.read_log()
        rc, out = nsupdate(port, d, ["update add new.dnssec.test. 60 A 127.0.0.90"], zone=SIGNED)
        assert rc == 0, (out, g.read_log())
        import dns.query
        import dns.tsigkeyring
        import dns.zone
        with pytest.raises(Exception):
            dns.zone.from_xfr(dns.query.xfr("127.0.0.1", SIGNED, port=port, lifetime=5))
        kr = dns.tsigkeyring.from_text({XFR_KEY: SECRET})
        z = dns.zone.from_xfr(dns.query.xfr("127.0.0.1", SIGNED, port=port, lifetime=5,
                                            keyring=kr, keyname=XFR_KEY,
                                            keyalgorithm="hmac-sha256"))
        assert z.get_rdataset("new", "A") is not None
    finally:
        g.stop()

"""A catalog zone of gtmd's own zones (RFC 9432 version 2, "generate_catalog"),
served and transferred like any zone, consumed by a real Knot (Debian's
knotd, `catalog-role: interpret`): a zone added to gtmd's configuration is
served by Knot within seconds of the reload (gtmd NOTIFYs the new catalog
serial, Knot transfers the catalog by IXFR from gtmd's journal, then the
new member), a zone removed is dropped by Knot. The catalog's content is
checked with dnspython's AXFR: version "2", one PTR per member under a
stable unique ID, the serial unchanged by a reload that changes nothing,
and with "file" unchanged by a restart either (an IXFR from the serial
before a restart that changed the list gets only the change). NOTIFY
answers are logged by what they mean, with fake secondaries: NOTAUTH alone
as not yet served, NOTAUTH with a TSIG error and REFUSED as refusals.
Skipped, saying why, without knotd. Every wait is bounded."""
import base64
import json
import os
import re
import shutil
import socket
import subprocess
import threading
import time

import dns.exception
import dns.flags
import dns.message
import dns.opcode
import dns.query
import dns.rcode
import dns.rdatatype
import dns.tsigkeyring
import dns.zone
import pytest

from backends import poll
from conftest import GTMD, Gtmd, free_port
from knotlib import knot_head
from test_xfr_out import KNOTD, Secondary, serial_of, wait_for_answer, zone_text

KEY = "cat-key."
SECRET = base64.b64encode(bytes(range(5, 37))).decode()
CAT = "cat.gtmd.test."

pytestmark = pytest.mark.skipif(not os.access(KNOTD, os.X_OK),
                                reason="knotd is not installed (contrib/deps.sh installs it)")


def knot_catalog_conf(d, port, gport):
    return knot_head(d, port, gport, KEY, SECRET) + """acl:
  - id: notify_gtmd
    address: 127.0.0.1
    action: notify
    key: {key}
template:
  - id: member
    storage: "{d}"
    master: gtmd
    acl: notify_gtmd
zone:
  - domain: {cat}
    storage: "{d}"
    master: gtmd
    acl: notify_gtmd
    catalog-role: interpret
    catalog-template: member
""".format(d=d, key=KEY, cat=CAT)


def gtmd_config(gport, knot_port, zones):
    return {
        "listen": ["127.0.0.1:%d" % gport], "workers": 1,
        "tsig_keys": {KEY: {"algorithm": "hmac-sha256", "secret": SECRET}},
        "zones": [{"origin": z, "file": z + "zone",
                   "transfer": {"allow": ["127.0.0.1"], "key": KEY}} for z in zones] + [
            {"origin": CAT, "generate_catalog": {},
             "transfer": {"allow": ["127.0.0.1"], "key": KEY, "journal": "cat.journal",
                          "notify": ["127.0.0.1:%d" % knot_port]}}],
    }


def catalog_axfr(gport):
    """(serial, {member: unique id}, version TXT) of gtmd's catalog by AXFR."""
    ring = dns.tsigkeyring.from_text({KEY: ("hmac-sha256", SECRET)})
    z = dns.zone.from_xfr(dns.query.xfr("127.0.0.1", CAT, port=gport, keyring=ring,
                                        keyname=KEY, keyalgorithm="hmac-sha256", timeout=5))
    soa = z.find_rdataset("@", "SOA")[0]
    members = {}
    for name, rds in z.iterate_rdatasets("PTR"):
        rel = name.to_text()
        assert rel.endswith(".zones"), rel
        for rd in rds:
            members[rd.target.to_text()] = rel[:-len(".zones")]
    version = [rd.to_text() for rd in z.find_rdataset("version", "TXT")]
    return soa.serial, members, version


def write_zone(work, origin, serial=1):
    with open(os.path.join(work, origin + "zone"), "w") as f:
        f.write(zone_text(origin, serial))


def knot_serves(port, zone):
    return serial_of(port, zone) is not None


@pytest.fixture
def estate(tmp_path):
    work = str(tmp_path)
    gport = free_port()
    knot = None
    g = None
    try:
        knot = Secondary("knot", lambda c: [KNOTD, "-c", c], knot_catalog_conf, gport)
        assert wait_for_answer(knot.port, 20), knot.logs()
        for z in ("a.test.", "b.test.", "c.test."):
            write_zone(work, z)
        g = Gtmd(work, gtmd_config(gport, knot.port, ["a.test.", "b.test."]), gport)
        g.start()
        yield {"g": g, "knot": knot, "work": work, "gport": gport}
    finally:
        if g is not None:
            g.stop()
        if knot is not None:
            knot.stop()


def test_catalog_content_and_stable_serial(estate):
    g, gport = estate["g"], estate["gport"]
    serial, members, version = catalog_axfr(gport)
    assert version == ['"2"'], version
    assert set(members) == {"a.test.", "b.test."}, members
    assert all(re.fullmatch(r"[0-9a-f]{16}", i) for i in members.values()), members
    assert len(set(members.values())) == 2, members
    # The SOA as served over DNS too, and the catalog is no member of itself.
    assert serial_of(gport, CAT) == serial
    # A reload that changes nothing keeps the serial (no NOTIFY, no transfer).
    g.signal(1)
    assert poll(lambda: g.read_log().count("event=reload result=ok") >= 1, 10)[0], \
        g.read_log()[-2000:]
    assert catalog_axfr(gport)[:2] == (serial, members)


def test_knot_picks_up_added_and_drops_removed_zones(estate):
    g, knot, work, gport = estate["g"], estate["knot"], estate["work"], estate["gport"]
    ok, _ = poll(lambda: knot_serves(knot.port, "a.test.") and knot_serves(knot.port, "b.test."),
                 30, 0.1)
    assert ok, (knot.logs(), g.read_log()[-2000:])
    serial0, ids0, _ = catalog_axfr(gport)
    # Add c.test.: the catalog's serial moves, Knot is NOTIFYed and serves it.
    g.write_config(gtmd_config(gport, knot.port, ["a.test.", "b.test.", "c.test."]))
    start = time.monotonic()
    g.signal(1)
    ok, _ = poll(lambda: knot_serves(knot.port, "c.test."), 15, 0.05)
    took_add = time.monotonic() - start
    assert ok, (knot.logs(), g.read_log()[-3000:])
    serial1, ids1, _ = catalog_axfr(gport)
    assert serial1 != serial0 and ids1["a.test."] == ids0["a.test."], (ids0, ids1)
    # Knot took the catalog's change by IXFR from gtmd's journal.
    assert poll(lambda: re.search(r"event=xfr_out zone=cat\.gtmd\.test\. kind=ixfr",
                                  g.read_log()), 5)[0], g.read_log()[-3000:]
    # Remove b.test.: Knot drops it (no longer authoritative for it).
    g.write_config(gtmd_config(gport, knot.port, ["a.test.", "c.test."]))
    start = time.monotonic()
    g.signal(1)
    ok, _ = poll(lambda: not knot_serves(knot.port, "b.test."), 15, 0.05)
    took_drop = time.monotonic() - start
    assert ok, (knot.logs(), g.read_log()[-3000:])
    assert knot_serves(knot.port, "a.test.") and knot_serves(knot.port, "c.test.")
    print("\nMEASURE catalog member added -> served by Knot %.2f s, removed -> dropped %.2f s"
          % (took_add, took_drop))


def next_second():
    """Sleeps into the next wall-clock second (at most 1.1 s): a serial
    taken from the clock then differs from one taken before."""
    t = time.time()
    time.sleep(min(1.1, int(t) + 1.05 - t))


def test_serial_and_journal_kept_across_restarts(tmp_path):
    """With "file", gtmd keeps the catalog it made: a restart with the same
    member list keeps the serial (secondaries transfer nothing), one with
    another list takes a greater serial, and an IXFR from the serial before
    the restart gets only the change, from the journal (issue #53). Before,
    every start took the clock as the serial."""
    work = str(tmp_path)
    gport = free_port()
    for z in ("a.test.", "b.test.", "c.test."):
        write_zone(work, z)

    def config(zones):
        cfg = gtmd_config(gport, 0, zones)
        cat = cfg["zones"][-1]
        cat["file"] = "cat.copy"
        del cat["transfer"]["notify"]  # no secondary here: dnspython asks
        return cfg

    g = Gtmd(work, config(["a.test.", "b.test."]), gport)
    g.start()
    try:
        serial0, members0, _ = catalog_axfr(gport)
        assert set(members0) == {"a.test.", "b.test."}, members0
        with open(os.path.join(work, "cat.copy")) as f:
            assert "invalid. invalid. %d " % serial0 in f.read()
        g.stop()
        next_second()
        g.start()
        assert catalog_axfr(gport)[:2] == (serial0, members0), g.read_log()[-2000:]
        g.stop()
        next_second()
        g.write_config(config(["a.test.", "b.test.", "c.test."]))
        g.start()
        serial1, members1, _ = catalog_axfr(gport)
        assert set(members1) == {"a.test.", "b.test.", "c.test."}, members1
        assert serial1 > serial0, (serial0, serial1)
        ring = dns.tsigkeyring.from_text({KEY: ("hmac-sha256", SECRET)})
        msgs = list(dns.query.xfr("127.0.0.1", CAT, port=gport, rdtype="IXFR", serial=serial0,
                                  keyring=ring, keyname=KEY, keyalgorithm="hmac-sha256",
                                  lifetime=10, relativize=False))
        rrs = [(rr.name.to_text(), dns.rdatatype.to_text(rr.rdtype), rd.to_text())
               for m in msgs for rr in m.answer for rd in rr]
        soa = [r[2].split()[2] for r in rrs if r[1] == "SOA"]
        ptr = [r[2] for r in rrs if r[1] == "PTR"]
        # Incremental: new SOA, old SOA, (nothing deleted), new SOA, the one
        # member added, new SOA.
        assert soa == [str(serial1), str(serial0), str(serial1), str(serial1)], rrs
        assert ptr == ["c.test."], rrs
        assert re.search(r"event=xfr_out zone=cat\.gtmd\.test\. kind=ixfr ", g.read_log())
    finally:
        g.stop()


class FakeSecondary:
    """Answers every NOTIFY on its own UDP port with rcode (and, with
    tsig_error, a TSIG record carrying that error), in a thread."""

    def __init__(self, rcode, tsig_error=0):
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.settimeout(0.2)
        self.port = self.sock.getsockname()[1]
        self.rcode, self.tsig_error, self.stop = rcode, tsig_error, False
        self.thread = threading.Thread(target=self.run, daemon=True)
        self.thread.start()

    def run(self):
        ring = dns.tsigkeyring.from_text({KEY: ("hmac-sha256", SECRET)})
        while not self.stop:
            try:
                data, peer = self.sock.recvfrom(4096)
                q = dns.message.from_wire(data, keyring=ring)
            except (socket.timeout, dns.exception.DNSException):
                continue
            if self.tsig_error:
                r = dns.message.make_response(q)
                r.use_tsig(ring, KEY, tsig_error=self.tsig_error, algorithm="hmac-sha256")
            else:  # unsigned: NOTAUTH alone is how Knot says it does not serve the zone
                r = dns.message.Message(id=q.id)
                r.flags = dns.flags.QR | dns.flags.AA
                r.set_opcode(dns.opcode.NOTIFY)
                r.question = list(q.question)
            r.set_rcode(self.rcode)
            self.sock.sendto(r.to_wire(), peer)

    def close(self):
        self.stop = True
        self.thread.join(5)
        self.sock.close()


def test_notify_to_a_secondary_that_does_not_serve_the_zone_yet(tmp_path):
    """A secondary answers a NOTIFY for a zone it has not taken yet (a
    catalog's new member) with NOTAUTH: logged at info as
    result=not_yet_served with why=, not as a refusal (issue #53); NOTAUTH
    with a TSIG error (a key the secondary does not share) and REFUSED
    stay refusals, at warn."""
    work = str(tmp_path)
    write_zone(work, "a.test.")
    fakes = [FakeSecondary(dns.rcode.NOTAUTH), FakeSecondary(dns.rcode.NOTAUTH, 16),
             FakeSecondary(dns.rcode.REFUSED)]
    gport = free_port()
    cfg = gtmd_config(gport, 0, ["a.test."])
    del cfg["zones"][-1]["transfer"]["notify"]  # the catalog's: no Knot here
    cfg["zones"][0]["transfer"]["notify"] = ["127.0.0.1:%d" % f.port for f in fakes]
    g = Gtmd(work, cfg, gport)
    try:
        g.start()
        lines = lambda: [ln for ln in g.read_log().splitlines()  # noqa: E731
                         if "event=notify zone=a.test." in ln]
        assert poll(lambda: len(lines()) == 3, 15)[0], g.read_log()[-3000:]
        at = {int(re.search(r" port=(\d+) ", ln).group(1)): ln for ln in lines()}
        yet, badsig, refused = (at[f.port] for f in fakes)
        assert re.search(r" info event=notify zone=a\.test\. serial=1 target=127\.0\.0\.1 "
                         r"port=\d+ result=not_yet_served rcode=9 why=\"the secondary does not "
                         r"serve the zone \(yet\)", yet), yet
        assert re.search(r" warn event=notify .* result=refused rcode=9 tsig_error=16$",
                         badsig), badsig
        assert re.search(r" warn event=notify .* result=refused rcode=5 tsig_error=0$",
                         refused), refused
    finally:
        g.stop()
        for f in fakes:
            f.close()


def test_generate_catalog_configuration_errors(tmp_path):
    def check(cfg):
        p = tmp_path / "gtmd.json"
        p.write_text(json.dumps(cfg))
        r = subprocess.run([GTMD, "check", "-c", str(p)], capture_output=True, text=True,
                           timeout=30)
        return r.returncode, r.stderr

    write_zone(str(tmp_path), "a.test.")
    base = {"listen": ["127.0.0.1:5399"], "zones": [
        {"origin": "a.test.", "file": "a.test.zone"},
        {"origin": CAT, "generate_catalog": {"members": ["a.test."]}}]}
    rc, err = check(base)
    assert rc == 0, err
    # "file" is where gtmd keeps the catalog it made (its serial across
    # restarts); "primary" is not for a zone gtmd makes.
    kept = json.loads(json.dumps(base))
    kept["zones"][1]["file"] = "cat.copy"
    rc, err = check(kept)
    assert rc == 0, err
    bad = json.loads(json.dumps(base))
    bad["zones"][1]["primary"] = {"addresses": ["127.0.0.1:5398"]}
    rc, err = check(bad)
    assert rc == 1 and '$.zones[1].primary: not with "generate_catalog"' in err, err
    bad = json.loads(json.dumps(base))
    bad["zones"][1]["generate_catalog"]["members"] = ["a.test.", "nope.test.", "a.test.", 7,
                                                       CAT]
    rc, err = check(bad)
    assert rc == 1, err
    assert "$.zones[1].generate_catalog.members[1]: nope.test. is not a zone of this" in err, err
    assert "$.zones[1].generate_catalog.members[2]: a.test. is listed twice" in err, err
    assert "$.zones[1].generate_catalog.members[3]: must be the name of a zone" in err, err
    assert "members[4]: %s is not a zone of this configuration" % CAT in err, err
    bad = json.loads(json.dumps(base))
    del bad["zones"][0]["file"]
    rc, err = check(bad)
    assert rc == 1 and '$.zones[0].file: is required (but with "generate_catalog")' in err, err
    bad = json.loads(json.dumps(base))
    bad["zones"][1]["generate_catalog"] = {"member": []}
    rc, err = check(bad)
    assert rc == 1 and "$.zones[1].generate_catalog" in err and "member" in err, err

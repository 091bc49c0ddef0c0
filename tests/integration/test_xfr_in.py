"""Incoming zone transfers: gtmd as a secondary of a real Knot DNS primary.

Knot (Debian's knot, started by hand on loopback) serves sec.test. with
TSIG (hmac-sha256) and NOTIFYs gtmd; gtmd has the zone as a secondary
("primary" in its zone entry) with no copy at first, and a policy record
at a name of that zone. The tests check: the first AXFR and the zone
served from memory (policy record included); a new serial on Knot reaching
gtmd by NOTIFY as an IXFR; a copy the differences cannot apply to falling
back to AXFR; a restart with Knot down serving the copy at once; a copy
older than the SOA expire answering SERVFAIL; a wrong key and a NOTIFY
from another address refused; a catalog zone, and a catalog Knot
generates (whose SOA query Knot refuses: gtmd falls back to the transfer).
Skipped, saying why, without knotd. Every wait is bounded."""
import base64
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import time

import dns.flags
import dns.message
import dns.opcode
import dns.query
import dns.rcode
import dns.tsigkeyring
import pytest

from adminlib import READ_TOKEN, Admin, admin_port, admin_section
from backends import Backends, free_port_on
from conftest import Gtmd, free_port, stop_process
from hostile_primary import ask, wait_for
from hostile_primary import serial_of as soa_serial
from knotlib import knot_head

KNOTD = "/usr/sbin/knotd"
KEY = "sec-key."
SECRET = base64.b64encode(bytes(range(100, 132))).decode()
BACKEND = "127.0.0.160"

pytestmark = pytest.mark.skipif(not os.access(KNOTD, os.X_OK),
                                reason="knotd is not installed (contrib/deps.sh installs knot)")


def zone_text(serial, extra="", expire=1209600):
    return """$ORIGIN sec.test.
$TTL 300
@        IN SOA ns1.sec.test. hostmaster.sec.test. {s} 3600 600 {e} 60
         IN NS  ns1
ns1      IN A   192.0.2.1
www      IN A   192.0.2.80
old      IN A   192.0.2.81
txt      IN TXT "secondary zone"
{x}""".format(s=serial, e=expire, x=extra)


def knot_conf(d, port, gport, secret=SECRET):
    return knot_head(d, port, gport, KEY, secret) + """acl:
  - id: xfr
    address: 127.0.0.1
    action: transfer
    key: {key}
zone:
  - domain: sec.test.
    file: "{d}/sec.test.zone"
    storage: "{d}"
    acl: xfr
    notify: gtmd
    zonefile-load: difference
""".format(d=d, port=port, gport=gport, key=KEY, secret=secret)


class Knot:
    def __init__(self, gport):
        self.workdir = tempfile.mkdtemp(prefix="gtmd-knot-primary-")
        self.port = free_port()
        self.gport = gport
        self.conf = os.path.join(self.workdir, "knot.conf")
        with open(self.conf, "w") as f:
            f.write(knot_conf(self.workdir, self.port, gport))
        self.write_zone(1)
        self.proc = None

    def write_zone(self, serial, extra=""):
        with open(os.path.join(self.workdir, "sec.test.zone"), "w") as f:
            f.write(zone_text(serial, extra))

    def start(self):
        self.out = open(os.path.join(self.workdir, "out.log"), "ab")
        self.proc = subprocess.Popen([KNOTD, "-c", self.conf], cwd=self.workdir,
                                     stdout=self.out, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            if serial_of(self.port) is not None:
                return
            time.sleep(0.05)
        raise RuntimeError("knotd did not serve sec.test.: " + self.logs())

    def reload(self):
        self.proc.send_signal(signal.SIGHUP)

    def logs(self):
        try:
            with open(os.path.join(self.workdir, "knot.log"), "rb") as f:
                return f.read().decode(errors="replace")[-4000:]
        except OSError:
            return ""

    def stop(self):
        if self.proc:
            stop_process(self.proc)
            self.out.close()
            self.proc = None


def serial_of(port):
    return soa_serial(port, "sec.test.")


def gtmd_config(g_port, knot_port, bport, secret=SECRET):
    return {
        "listen": ["127.0.0.1:%d" % g_port], "workers": 2,
        "tsig_keys": {KEY: {"algorithm": "hmac-sha256", "secret": secret}},
        "zones": [{"origin": "sec.test.", "file": "sec.test.copy",
                   "primary": {"addresses": ["127.0.0.1:%d" % knot_port], "key": KEY}}],
        "regions": {"r1": {}},
        "checks": {"tcp": {"type": "tcp", "port": bport, "interval": 0.5, "timeout": 0.3,
                           "rise": 1, "fall": 1}},
        "pools": {"web": {"check": "tcp", "endpoints": [
            {"name": "b1", "address": BACKEND, "region": "r1"}]}},
        "records": {"app.sec.test.": {"pool": "web", "ttl": 30, "policy": "all",
                                      "when_all_down": "empty"}},
    }


@pytest.fixture
def setup():
    bk = Backends()
    bport = free_port_on([BACKEND])
    bk.tcp(BACKEND, bport)
    gport = free_port()
    knot = Knot(gport)
    work = tempfile.mkdtemp(prefix="gtmd-secondary-")
    g = Gtmd(work, gtmd_config(gport, knot.port, bport), gport)
    try:
        knot.start()
        yield {"g": g, "knot": knot, "work": work, "bport": bport}
    finally:
        if g.proc is not None:
            g.stop()
        knot.stop()
        bk.cleanup()
        shutil.rmtree(work, ignore_errors=True)
        shutil.rmtree(knot.workdir, ignore_errors=True)


@pytest.mark.threads  # the secondary thread, workers taking NOTIFY, the main thread reloading
def test_first_axfr_then_ixfr_by_notify(setup):
    g, knot = setup["g"], setup["knot"]
    g.start()
    t = wait_for(lambda: serial_of(g.port) == 1, 15)
    assert t is not None, (g.read_log()[-3000:], knot.logs())
    assert ask(g.port, "www.sec.test.") == ("NOERROR", ["192.0.2.80"])
    assert ask(g.port, "txt.sec.test.", "TXT") == ("NOERROR", ['"secondary zone"'])
    assert ask(g.port, "app.sec.test.") == ("NOERROR", [BACKEND])  # policy record in it
    assert re.search(r"event=xfr_in zone=sec\.test\. kind=axfr serial=1 ", g.read_log())
    assert os.path.exists(os.path.join(setup["work"], "sec.test.copy"))
    # A new serial on the primary: Knot NOTIFYs, gtmd asks IXFR.
    knot.write_zone(2, "new IN A 192.0.2.99\n")
    start = time.monotonic()
    knot.reload()
    t = wait_for(lambda: ask(g.port, "new.sec.test.") == ("NOERROR", ["192.0.2.99"]), 10)
    assert t is not None, (g.read_log()[-3000:], knot.logs())
    took = time.monotonic() - start
    log = g.read_log()
    assert re.search(r"event=xfr_in zone=sec\.test\. kind=ixfr serial=2 from_serial=1 ", log), log
    assert ask(g.port, "app.sec.test.") == ("NOERROR", [BACKEND])
    print("\nMEASURE primary reload to served on gtmd (NOTIFY, IXFR): %.2f s" % took)


def test_restart_serves_the_copy_and_axfr_fallback(setup):
    g, knot, work = setup["g"], setup["knot"], setup["work"]
    g.start()
    assert wait_for(lambda: serial_of(g.port) == 1, 15) is not None, g.read_log()[-3000:]
    g.stop()
    # With the primary down, the copy is served at once after a restart.
    knot.stop()
    g.start()
    assert serial_of(g.port) == 1 and ask(g.port, "www.sec.test.") == ("NOERROR", ["192.0.2.80"])
    assert ask(g.port, "app.sec.test.") == ("NOERROR", [BACKEND])
    g.stop()
    # A copy the differences cannot apply to: "old" is gone from it, and
    # serial 2 deletes it. gtmd falls back to AXFR.
    path = os.path.join(work, "sec.test.copy")
    with open(path) as f:
        lines = [ln for ln in f if not ln.startswith("old.sec.test.")]
    with open(path, "w") as f:
        f.writelines(lines)
    knot.start()
    g.start()
    assert wait_for(lambda: "event=reload" in g.read_log().split("event=start")[-1] or
                    serial_of(g.port) == 1, 5) is not None
    with open(os.path.join(knot.workdir, "sec.test.zone"), "w") as f:
        f.write(zone_text(2, "new IN A 192.0.2.99\n").replace("old      IN A   192.0.2.81\n", ""))
    knot.reload()  # a journal entry 1 -> 2 (delete old, add new), and a NOTIFY
    assert wait_for(lambda: serial_of(g.port) == 2, 20) is not None, (g.read_log()[-3000:],
                                                                     knot.logs())
    log = g.read_log()
    assert re.search(r"event=xfr_in zone=sec\.test\. kind=axfr serial=2 from_serial=1 ", log), log
    assert ask(g.port, "new.sec.test.") == ("NOERROR", ["192.0.2.99"])
    assert ask(g.port, "old.sec.test.")[0] == "NXDOMAIN"


def test_expired_copy_answers_servfail(setup):
    g, knot, work = setup["g"], setup["knot"], setup["work"]
    g.start()
    assert wait_for(lambda: serial_of(g.port) == 1, 15) is not None
    g.stop()
    knot.stop()
    path = os.path.join(work, "sec.test.copy")
    old = time.time() - 1209600 - 60  # last refreshed longer ago than the SOA expire
    os.utime(path, (old, old))
    g.start()
    r = dns.query.udp(dns.message.make_query("www.sec.test.", "A"), "127.0.0.1", port=g.port,
                      timeout=2)
    assert r.rcode() == dns.rcode.SERVFAIL, r
    assert "event=zone_expired zone=sec.test." in g.read_log()


def test_wrong_key_and_foreign_notify_are_refused(setup):
    g, knot = setup["g"], setup["knot"]
    g.config = gtmd_config(g.port, knot.port, setup["bport"],
                           secret=base64.b64encode(bytes(32)).decode())
    g.start()
    t = wait_for(lambda: "event=xfr_in zone=sec.test. result=failed" in g.read_log(), 15)
    assert t is not None, g.read_log()[-3000:]
    assert "TSIG" in g.read_log() or "rcode 9" in g.read_log(), g.read_log()[-2000:]
    assert serial_of(g.port) is None  # not served: no copy
    n = dns.message.make_query("sec.test.", "SOA")
    n.set_opcode(dns.opcode.NOTIFY)
    n.flags |= dns.flags.AA
    r = dns.query.udp(n, "127.0.0.1", port=g.port, timeout=2, source="127.0.0.2")
    assert r.rcode() == dns.rcode.REFUSED and r.opcode() == dns.opcode.NOTIFY, r


def catalog_text(serial, members):
    """A catalog zone (RFC 9432, version 2) listing members by unique id."""
    lines = ["$ORIGIN cat.test.", "$TTL 0",
             "@ IN SOA invalid. invalid. %d 3600 600 2147483646 0" % serial,
             "@ IN NS invalid.", 'version IN TXT "2"']
    lines += ["%s.zones IN PTR %s" % (uid, origin) for uid, origin in members]
    return "\n".join(lines) + "\n"


def member_text(origin, addr):
    return """$ORIGIN {o}
$TTL 300
@   IN SOA ns1.{o} h.{o} 1 3600 600 1209600 60
    IN NS  ns1
ns1 IN A   192.0.2.1
www IN A   {a}
""".format(o=origin, a=addr)


def knot_catalog_conf(d, port, gport, zones):
    conf = knot_conf(d, port, gport)
    conf = conf[:conf.index("zone:\n")] + "zone:\n"
    for z in zones:
        conf += """  - domain: {z}
    file: "{d}/{z}zone"
    storage: "{d}"
    acl: xfr
    notify: gtmd
""".format(z=z, d=d)
    return conf


def knot_with_members(gport):
    """A Knot (not started) with the zone files of m1, m2 and m3.test.,
    and what www answers in each."""
    knot = Knot(gport)
    members = {"m1.test.": "192.0.2.11", "m2.test.": "192.0.2.12", "m3.test.": "192.0.2.13"}
    for z, a in members.items():
        with open(os.path.join(knot.workdir, z + "zone"), "w") as f:
            f.write(member_text(z, a))
    return knot, members


def catalog_gtmd(work, gport, kport):
    """gtmd consuming the catalog cat.test. from Knot on kport."""
    cfg = {"listen": ["127.0.0.1:%d" % gport], "workers": 1,
           "tsig_keys": {KEY: {"algorithm": "hmac-sha256", "secret": SECRET}},
           "zones": [{"origin": "cat.test.", "file": "cat.copy",
                      "primary": {"addresses": ["127.0.0.1:%d" % kport], "key": KEY},
                      "catalog": {"directory": "members"}}]}
    return Gtmd(work, cfg, gport)


def write_catalog(knot, serial, listed):
    with open(os.path.join(knot.workdir, "cat.test.zone"), "w") as f:
        f.write(catalog_text(serial, [("id%d" % i, z) for i, z in enumerate(listed)]))


def start_catalog_knot(knot, gport, members):
    """Starts knot serving cat.test. (as written) and the members."""
    with open(knot.conf, "w") as f:
        f.write(knot_catalog_conf(knot.workdir, knot.port, gport, ["cat.test."] + list(members)))
    knot.proc = None
    knot.out = open(os.path.join(knot.workdir, "out.log"), "ab")
    knot.proc = subprocess.Popen([KNOTD, "-c", knot.conf], cwd=knot.workdir,
                                 stdout=knot.out, stderr=subprocess.STDOUT)
    assert wait_for(lambda: ask(knot.port, "www.m1.test.") is not None and
                    ask(knot.port, "www.m1.test.")[0] == "NOERROR", 10) is not None


def test_catalog_zone_members_come_and_go(tmp_path):
    """gtmd consumes a catalog zone from Knot: its members become secondary
    zones without a change of gtmd's configuration; a member added to the
    catalog is served after the catalog's NOTIFY, a member removed stops
    being served."""
    gport = free_port()
    knot, members = knot_with_members(gport)
    write_catalog(knot, 1, ["m1.test.", "m2.test."])
    work = str(tmp_path)
    g = catalog_gtmd(work, gport, knot.port)
    try:
        start_catalog_knot(knot, gport, members)
        g.start()

        def served(z):
            got = ask(g.port, "www." + z)
            return got is not None and got == ("NOERROR", [members[z]])

        assert wait_for(lambda: served("m1.test.") and served("m2.test."), 20) is not None, (
            g.read_log()[-3000:], knot.logs())
        assert ask(g.port, "www.m3.test.")[0] == "REFUSED"
        assert os.path.exists(os.path.join(work, "members", "m1.test.zone"))
        # m3 added, m1 removed: Knot NOTIFYs the new catalog.
        write_catalog(knot, 2, ["m2.test.", "m3.test."])
        knot.reload()
        assert wait_for(lambda: served("m3.test.") and
                        ask(g.port, "www.m1.test.")[0] == "REFUSED", 20) is not None, (
            g.read_log()[-3000:], knot.logs())
        assert served("m2.test.")
        assert re.search(r"event=catalog zone=cat\.test\. members=2", g.read_log())
    finally:
        if g.proc is not None:
            g.stop()
        knot.stop()
        shutil.rmtree(knot.workdir, ignore_errors=True)


def test_catalog_copy_reloads_the_running_configuration(tmp_path):
    """A catalog's new copy reloads the configuration that runs, from
    memory: an edit of the file the operator has not reloaded yet is not
    applied by it, the file is not written over (only a change through the
    configuration API writes it), and the API notes no version; SIGHUP
    then applies the edit, a version of source "file"."""
    gport = free_port()
    knot, members = knot_with_members(gport)
    write_catalog(knot, 1, ["m1.test."])
    work = str(tmp_path)
    g = catalog_gtmd(work, gport, knot.port)
    aport = admin_port(gport)
    g.config["admin"] = admin_section(work, aport, audit=False)
    g.config["config_api"] = {"history_dir": "history"}
    a = Admin(port=aport)
    static = os.path.join(work, "static.test.zone")
    with open(static, "w") as f:
        f.write(member_text("static.test.", "192.0.2.99"))
    try:
        start_catalog_knot(knot, gport, members)
        g.start()

        def served(z, addr):
            return ask(g.port, "www." + z) == ("NOERROR", [addr])

        assert wait_for(lambda: served("m1.test.", members["m1.test."]), 20) is not None, (
            g.read_log()[-3000:], knot.logs())
        v0 = a.get("/v1/config", token=READ_TOKEN).json["version"]
        edited = dict(g.config, zones=g.config["zones"] + [{"origin": "static.test.",
                                                           "file": static}])
        text = json.dumps(edited, indent=1)
        with open(g.conf_path, "w") as f:  # the operator's edit, not reloaded
            f.write(text)
        write_catalog(knot, 2, ["m1.test.", "m3.test."])
        knot.reload()
        assert wait_for(lambda: served("m3.test.", members["m3.test."]), 20) is not None, (
            g.read_log()[-3000:], knot.logs())
        assert ask(g.port, "www.static.test.")[0] == "REFUSED"  # not applied by it
        with open(g.conf_path) as f:
            assert f.read() == text  # not written over
        assert a.get("/v1/config", token=READ_TOKEN).json["version"] == v0
        g.signal(signal.SIGHUP)  # the operator's reload applies it
        assert wait_for(lambda: served("static.test.", "192.0.2.99"), 10) is not None, (
            g.read_log()[-3000:])
        assert served("m3.test.", members["m3.test."])

        def newest():
            return a.get("/v1/config/history", token=READ_TOKEN).json["versions"][0]

        assert wait_for(lambda: newest()["version"] == v0 + 1, 5) is not None, newest()
        assert newest()["source"] == "file", newest()
    finally:
        if g.proc is not None:
            g.stop()
        knot.stop()
        shutil.rmtree(knot.workdir, ignore_errors=True)


def knot_generated_catalog_conf(d, port, gport, members):
    """Knot generating cat.test. (catalog-role: generate) from its member
    zones, NOTIFYing gtmd of the catalog's new serials."""
    conf = knot_conf(d, port, gport)
    conf = conf[:conf.index("zone:\n")] + """zone:
  - domain: cat.test.
    catalog-role: generate
    acl: xfr
    notify: gtmd
"""
    for z in members:
        conf += """  - domain: {z}
    file: "{d}/{z}zone"
    storage: "{d}"
    catalog-role: member
    catalog-zone: cat.test.
    acl: xfr
""".format(z=z, d=d)
    return conf


def test_knot_generated_catalog_is_consumed(tmp_path):
    """Knot 3.2 generating a catalog (catalog-role: generate) answers gtmd's
    signed SOA query for it with an unsigned REFUSED while it serves its
    transfer: gtmd then asks for the transfer, as Knot and BIND secondaries
    do. Its members are served; a zone added to Knot is served by gtmd and
    one removed is dropped, within seconds of the catalog's NOTIFY."""
    gport = free_port()
    knot, members = knot_with_members(gport)
    with open(knot.conf, "w") as f:
        f.write(knot_generated_catalog_conf(knot.workdir, knot.port, gport,
                                            ["m1.test.", "m2.test."]))
    work = str(tmp_path)
    g = catalog_gtmd(work, gport, knot.port)

    def served(z):
        return ask(g.port, "www." + z) == ("NOERROR", [members[z]])

    def gone(z):
        got = ask(g.port, "www." + z)
        return got is not None and got[0] == "REFUSED"

    try:
        knot.out = open(os.path.join(knot.workdir, "out.log"), "ab")
        knot.proc = subprocess.Popen([KNOTD, "-c", knot.conf], cwd=knot.workdir,
                                     stdout=knot.out, stderr=subprocess.STDOUT)
        assert wait_for(lambda: served_by(knot.port, "www.m1.test."), 10) is not None
        # What gtmd meets: the signed SOA query refused, unsigned.
        q = dns.message.make_query("cat.test.", "SOA")
        q.use_tsig(dns.tsigkeyring.from_text({KEY: SECRET}), keyname=KEY,
                   algorithm="hmac-sha256")
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            s.settimeout(2)
            s.sendto(q.to_wire(), ("127.0.0.1", knot.port))
            w = s.recv(4096)
        # rcode REFUSED, no TSIG (no additional record at all)
        assert w[3] & 0xf == dns.rcode.REFUSED and w[10:12] == b"\0\0", w
        g.start()
        assert wait_for(lambda: served("m1.test.") and served("m2.test."), 15) is not None, (
            g.read_log()[-3000:], knot.logs())
        assert gone("m3.test.")
        # m3 added to Knot, m1 removed: Knot makes a new catalog and NOTIFYs.
        with open(knot.conf, "w") as f:
            f.write(knot_generated_catalog_conf(knot.workdir, knot.port, gport,
                                                ["m2.test.", "m3.test."]))
        start = time.monotonic()
        knot.reload()
        t = wait_for(lambda: served("m3.test.") and gone("m1.test."), 10)
        assert t is not None, (g.read_log()[-3000:], knot.logs())
        assert served("m2.test.")
        assert re.search(r"event=catalog zone=cat\.test\. members=2", g.read_log())
        print("\nMEASURE Knot's reload to a generated catalog's change served by gtmd: %.2f s"
              % (time.monotonic() - start))
    finally:
        if g.proc is not None:
            g.stop()
        knot.stop()
        shutil.rmtree(knot.workdir, ignore_errors=True)


def served_by(port, name):
    got = ask(port, name)
    return got is not None and got[0] == "NOERROR"


"""Catalog zones consumed by gtmd (RFC 9432): the members gtmd refuses
(issue #53). RFC 9432 §7 lets a consumer refuse a member, and gtmd
refuses one that would take names from the operator: a zone of the
configuration file, a member below one (lookup takes the closest
enclosing zone, so the member would answer for that part of the file's
zone), and a member holding a policy name that no zone of the file holds
closer. A member above a zone of the file is served: the file's zone,
closer, keeps its names.

A real Knot (Debian's knotd) serves the catalog and its members and
NOTIFYs gtmd; the refusals are also checked with `gtmd check` on a copy
written by hand. Skipped, saying why, without knotd. Every wait is
bounded."""
import os
import re
import shutil
import subprocess

import pytest

from backends import Backends, free_port_on
from conftest import GTMD, free_port
from hostile_primary import ask, wait_for
from test_xfr_in import (KNOTD, Knot, catalog_gtmd, catalog_text, member_text,
                         start_catalog_knot, write_catalog)

BACKEND = "127.0.0.161"
LOCAL = "local.anc.test."

pytestmark = pytest.mark.skipif(not os.access(KNOTD, os.X_OK),
                                reason="knotd is not installed (contrib/deps.sh installs knot)")

# The members Knot serves, and what www (and the apex, for gslb) answers in each.
MEMBERS = {"m1.test.": "192.0.2.11",            # nothing of the file's: served
           "anc.test.": "192.0.2.12",           # above the file's zone LOCAL: served
           "sub." + LOCAL: "192.0.2.13",        # below LOCAL: refused
           "gslb." + LOCAL: "192.0.2.14"}       # below LOCAL, at its policy name: refused


def local_zone():
    return """$ORIGIN {o}
$TTL 300
@       IN SOA ns1.{o} h.{o} 1 3600 600 1209600 60
        IN NS  ns1
ns1     IN A   192.0.2.1
www     IN A   192.0.2.90
www.sub IN A   192.0.2.98
""".format(o=LOCAL)


def policy_part(bport):
    """A policy name in LOCAL, answered by BACKEND while it is up."""
    return {"regions": {"r1": {}},
            "checks": {"tcp": {"type": "tcp", "port": bport, "interval": 0.5, "timeout": 0.3,
                               "rise": 1, "fall": 1}},
            "pools": {"web": {"check": "tcp", "endpoints": [
                {"name": "b1", "address": BACKEND, "region": "r1"}]}},
            "records": {"gslb." + LOCAL: {"pool": "web", "ttl": 30, "policy": "all",
                                          "when_all_down": "empty"}}}


def test_members_below_a_local_zone_or_at_a_policy_name_are_refused(tmp_path):
    bk = Backends()
    bport = free_port_on([BACKEND])
    bk.tcp(BACKEND, bport)
    gport = free_port()
    knot = Knot(gport)
    for z, a in MEMBERS.items():
        with open(os.path.join(knot.workdir, z + "zone"), "w") as f:
            # An apex address too: at gslb's apex it would answer in the
            # policy name's place.
            f.write(member_text(z, a) + "@ IN A %s\n" % a)
    write_catalog(knot, 1, list(MEMBERS))
    work = str(tmp_path)
    with open(os.path.join(work, "local.zone"), "w") as f:
        f.write(local_zone())
    g = catalog_gtmd(work, gport, knot.port)
    g.config["zones"].append({"origin": LOCAL, "file": "local.zone"})
    g.config.update(policy_part(bport))
    try:
        start_catalog_knot(knot, gport, MEMBERS)
        g.start()

        def served(z):
            return ask(g.port, "www." + z) == ("NOERROR", [MEMBERS[z]])

        assert wait_for(lambda: served("m1.test.") and served("anc.test."), 20) is not None, (
            g.read_log()[-3000:], knot.logs())
        # The file's zone answers below the members above it, the policy
        # name answers from the policy, and the refused members have no copy.
        assert ask(g.port, "www." + LOCAL) == ("NOERROR", ["192.0.2.90"])
        assert wait_for(lambda: ask(g.port, "gslb." + LOCAL) == ("NOERROR", [BACKEND]),
                        10) is not None, g.read_log()[-3000:]
        assert ask(g.port, "www.sub." + LOCAL) == ("NOERROR", ["192.0.2.98"])
        assert ask(g.port, "www.gslb." + LOCAL)[0] == "NXDOMAIN"
        for z in ("sub." + LOCAL, "gslb." + LOCAL):
            assert not os.path.exists(os.path.join(work, "members", z + "zone")), z
        assert os.path.exists(os.path.join(work, "members", "m1.test.zone"))
        log = g.read_log()
        below = ('event=catalog zone=cat.test. member=%s result=refused why="it is below the '
                 'zone %s of the configuration file, whose names there it would take over')
        assert below % ("sub." + LOCAL, LOCAL) + '"' in log, log[-3000:]
        assert (below % ("gslb." + LOCAL, LOCAL) + ' (the policy name gslb.%s among them)"'
                % LOCAL) in log, log[-3000:]
        assert re.search(r"event=catalog zone=cat\.test\. members=4 refused=2\n", log), log
        assert "member=m1.test. result=refused" not in log
        assert "member=anc.test. result=refused" not in log
    finally:
        if g.proc is not None:
            g.stop()
        knot.stop()
        bk.cleanup()
        shutil.rmtree(knot.workdir, ignore_errors=True)


def test_refusals_in_gtmd_check(tmp_path):
    """The copy written by hand, read by `gtmd check`: a member that is a
    zone of the file, and one holding a policy name that no zone of the
    file holds (the policy name is then outside every zone: an error that
    names it, where before the member's primary answered for it)."""
    work = str(tmp_path)
    os.mkdir(os.path.join(work, "members"))
    with open(os.path.join(work, "local.zone"), "w") as f:
        f.write(local_zone())
    with open(os.path.join(work, "cat.copy"), "w") as f:
        f.write(catalog_text(1, [("a", LOCAL), ("b", "pol.test."), ("c", "ok.test.")]))
    g = catalog_gtmd(work, free_port(), free_port())
    g.config["zones"].append({"origin": LOCAL, "file": "local.zone"})
    g.config.update(policy_part(free_port()))
    g.config["records"] = {"www.pol.test.": g.config["records"]["gslb." + LOCAL]}
    g.write_config()
    r = subprocess.run([GTMD, "check", "-c", g.conf_path], capture_output=True, text=True,
                       timeout=60)
    out = r.stdout + r.stderr
    assert ('member=%s result=refused why="it is a zone of the configuration file, which keeps '
            'it"' % LOCAL) in out, out
    assert ('member=pol.test. result=refused why="it holds the policy name www.pol.test., which '
            'no zone of the configuration file holds closer: the catalog\'s primary would '
            'answer there"') in out, out
    assert "event=catalog zone=cat.test. members=3 refused=2" in out, out
    assert "member=ok.test. result=refused" not in out, out
    assert r.returncode == 1 and "www.pol.test. is outside every zone in zones" in out, out

"""What one dynamic update may cost and may change (issue #53), against
the real gtmd with dnspython and nsupdate:

- a request with 1,000 prerequisites (the most a request may carry) is
  answered at once and a SIGHUP reload issued meanwhile completes, where
  the prerequisite check was quadratic and held the reload lock for
  minutes;
- no update and no zone file puts a DNAME above a policy name (it would
  answer for the name instead of its pool);
- meta and reserved types (TYPE0 and the like) are never data: not in an
  update, whatever the key's "types", and not in a zone file.

The speed figures belong to contrib/bench/update_prereq_bench.py; the
bounds here are wide (seconds where main took minutes)."""
import json
import os
import signal
import subprocess
import threading
import time

import dns.query
import dns.rcode
import dns.rdatatype
import pytest

from conftest import GTMD
from updatelib import (NSUPDATE, ZONE, ask, config, dp_update, nsupdate, rr_wire, serial,
                       send_wire, tsig_sign_wire, update_wire, wait_for, SECRET)

pytestmark = pytest.mark.skipif(not os.path.exists(NSUPDATE),
                                reason="nsupdate is not installed (bind9-utils; "
                                       "contrib/deps.sh installs it)")

BIG = 1000  # records of big.upd.test.'s TXT set; the per-request cap


def big_zone(workdir, port):
    cfg = config(workdir, port)
    with open(os.path.join(workdir, "upd.test.zone"), "a") as f:
        f.write("".join('big IN TXT "r%d"\n' % i for i in range(BIG)))
    return cfg


@pytest.mark.threads
def test_a_thousand_prerequisites_are_answered_and_a_reload_does_not_wait(make_gtmd):
    g = make_gtmd(big_zone)
    m, _ = dp_update(g.port, tcp=True)
    for i in reversed(range(BIG)):  # not the zone's order
        m.present("big", "TXT", "r%d" % i)
    assert len(m.prerequisite) == BIG  # one RRset a record on the wire
    got = {}

    def send():
        t = time.monotonic()
        try:
            r = dns.query.tcp(m, "127.0.0.1", port=g.port, timeout=60)
            got["rcode"] = dns.rcode.to_text(r.rcode())
        except Exception as e:  # the timeout: reported below
            got["rcode"] = repr(e)
        got["s"] = time.monotonic() - t

    sender = threading.Thread(target=send)
    t0 = time.monotonic()
    sender.start()
    time.sleep(0.05)  # the update is queued or under way
    g.signal(signal.SIGHUP)
    reloaded = wait_for(lambda: "event=reload result=ok" in g.read_log(), timeout=5)
    reload_s = time.monotonic() - t0
    sender.join(timeout=5)
    assert not sender.is_alive() and got.get("rcode") == "NOERROR", \
        ("no answer within 5 s", got, time.monotonic() - t0)
    assert got["s"] < 5, got
    assert reloaded, ("the reload waited more than 5 s behind the update", reload_s)
    # The same set less one record, and one more: NXRRSET, nothing changed.
    m2, send2 = dp_update(g.port, tcp=True)
    for i in range(1, BIG):
        m2.present("big", "TXT", "r%d" % i)
    assert send2(m2, timeout=5) == "NXRRSET"
    m3, send3 = dp_update(g.port, tcp=True)
    for i in range(BIG - 1):
        m3.present("big", "TXT", "r%d" % i)
    m3.present("big", "TXT", "r%d" % BIG)
    assert send3(m3, timeout=5) == "NXRRSET"
    assert serial(g.port) == 1


def policy_cfg(extra_rules=True, name="p.h.upd.test."):
    def edit(cfg):
        cfg.update({
            "regions": {"r1": {}},
            "checks": {"tcp": {"type": "tcp", "port": 9, "interval": 1, "timeout": 0.3}},
            "pools": {"web": {"check": "tcp", "endpoints": [
                {"name": "b1", "address": "192.0.2.10", "region": "r1"}]}},
            "records": {name: {"pool": "web", "ttl": 30, "policy": "all",
                               "when_all_down": "all"}},
        })
        if extra_rules:  # the rule of the report: DNAME (any type) at h and below
            cfg["zones"][0]["update"].append({"key": "web.", "names": ["h.upd.test."]})
    return edit


def test_a_dname_above_a_policy_name_is_refused_by_update(make_gtmd):
    g = make_gtmd(lambda w, p: config(w, p, zone_extra=policy_cfg()))
    assert ask(g.port, "p.h.upd.test.") == ("NOERROR", ["192.0.2.10"])
    rc, out = nsupdate(g.port, g.workdir, ["update add h.upd.test. 60 DNAME attacker.example."],
                       key="web.")
    assert rc != 0 and "update failed: REFUSED" in out, out
    log = g.read_log()
    assert "h.upd.test. DNAME: above the policy name p.h.upd.test." in log, log[-2000:]
    assert serial(g.port) == 1
    r = g.query("p.h.upd.test.", "A")
    assert [rr.rdtype for rr in r.answer] == [dns.rdatatype.A], r
    assert ask(g.port, "p.h.upd.test.") == ("NOERROR", ["192.0.2.10"])
    # The same key still adds a DNAME where no policy name is below it.
    rc, out = nsupdate(g.port, g.workdir, ["update add q.h.upd.test. 60 DNAME elsewhere.example."],
                       key="web.")
    assert rc == 0, out
    assert serial(g.port) == 2


def write_check(tmp_path, zone_extra, edit):
    cfg = config(str(tmp_path), 53, zone_extra=edit)
    with open(os.path.join(str(tmp_path), "upd.test.zone"), "a") as f:
        f.write(zone_extra)
    path = tmp_path / "gtmd.json"
    path.write_text(json.dumps(cfg))
    p = subprocess.run([GTMD, "check", "-c", str(path)], capture_output=True, text=True,
                       timeout=30)
    return p.returncode, p.stdout + p.stderr


def test_check_refuses_a_zone_file_dname_above_a_policy_name(tmp_path):
    # zone_text() has 7 lines; the DNAME is the 8th.
    rc, out = write_check(tmp_path, "h IN DNAME attacker.example.\n", policy_cfg(False))
    assert rc != 0, out
    assert "p.h.upd.test. is below the DNAME at h.upd.test. (" in out, out
    assert "upd.test.zone:8): the DNAME would answer for it, not its pool" in out, out
    rc, out = write_check(tmp_path, "", policy_cfg(False))
    assert rc == 0, out


@pytest.mark.parametrize("how", ["zone file", "config"])
def test_a_reload_that_puts_a_policy_name_below_a_dname_is_refused(make_gtmd, how):
    """A reload is refused as a start would be, and the running set stays:
    the policy name answers from its pool."""
    name = "p.h.upd.test." if how == "zone file" else "p.d.upd.test."

    def cfg_fn(w, p):
        cfg = config(w, p, zone_extra=policy_cfg(False))
        with open(os.path.join(w, "upd.test.zone"), "a") as f:
            f.write("d IN DNAME elsewhere.example.\n")
        return cfg
    g = make_gtmd(cfg_fn)
    assert ask(g.port, "p.h.upd.test.") == ("NOERROR", ["192.0.2.10"])
    if how == "zone file":
        with open(os.path.join(g.workdir, "upd.test.zone"), "a") as f:
            f.write("h IN DNAME attacker.example.\n")
    else:
        g.config["records"][name] = dict(g.config["records"]["p.h.upd.test."])
        g.write_config()
    g.signal(signal.SIGHUP)
    assert wait_for(lambda: "event=reload result=failed" in g.read_log(), timeout=10), \
        g.read_log()[-2000:]
    log = g.read_log()
    want = "h.upd.test." if how == "zone file" else "d.upd.test."
    assert "%s is below the DNAME at %s" % (name, want) in log, log[-2000:]
    assert ask(g.port, "p.h.upd.test.") == ("NOERROR", ["192.0.2.10"])


def test_type0_is_refused_whatever_the_rules_say(make_gtmd):
    g = make_gtmd(config)
    # TYPE0 with one octet of data at the TXT-only key's name: FORMERR
    # (RFC 2136 §3.4.1.2: meta and reserved types are not data).
    m, send = dp_update(g.port, tcp=True)
    m.add("_acme-challenge", 60, dns.rdatatype.from_text("TYPE0"), r"\# 1 00")
    assert send(m) == "FORMERR"
    wire = update_wire(ZONE, updates=[rr_wire("_acme-challenge.upd.test.", 0, 1, 60, b"\0")])
    assert send_wire(g.port, tsig_sign_wire(wire, "acme.", SECRET), tcp=True) == "FORMERR"
    assert serial(g.port) == 1
    r = g.query("_acme-challenge.upd.test.", "ANY", tcp=True)
    assert r.rcode() == dns.rcode.NXDOMAIN and not r.answer, r
    assert "TYPE0: an addition of a meta or reserved type" in g.read_log()
    # Deleting every set of a name (class ANY, type ANY) is no meta type
    # addition: still taken by a key whose rule has no "types".
    rc, out = nsupdate(g.port, g.workdir, ["update add www.upd.test. 60 TXT \"t\""], key="web.")
    assert rc == 0, out
    rc, out = nsupdate(g.port, g.workdir, ["update delete www.upd.test."], key="web.")
    assert rc == 0, out
    assert ask(g.port, "www.upd.test.", "A")[1] == []
    assert serial(g.port) == 3


def test_check_refuses_type0_in_a_zone_file(tmp_path):
    rc, out = write_check(tmp_path, "x IN TYPE0 \\# 0\n", None)
    assert rc != 0 and "upd.test.zone:8: x.upd.test.: TYPE0: a meta or reserved" in out, out

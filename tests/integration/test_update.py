"""RFC 2136 dynamic updates (doc/updates.md) with the real clients:
nsupdate (BIND's, over UDP and TCP) for additions, deletions, every kind
of prerequisite and the key rules; dnspython for messages nsupdate will
not send (malformed, unsigned, oversized). After every refusal the zone is
unchanged: same serial, same records, same file. Updates survive a reload
and a restart (the zone file is written anew)."""
import os
import signal
import subprocess

import dns.name
import pytest

from conftest import GTMD
from updatelib import (NSUPDATE, OTHER_SECRET, SECRET, ZONE, ask, config, dp_update, nsupdate,
                       rr_wire, send_wire, serial, tsig_sign_wire, update_wire, wait_for)

pytestmark = pytest.mark.skipif(not os.path.exists(NSUPDATE),
                                reason="nsupdate is not installed (bind9-utils; "
                                       "contrib/deps.sh installs it)")


def zone_file(g):
    with open(os.path.join(g.workdir, "upd.test.zone")) as f:
        return f.read()


@pytest.mark.threads
@pytest.mark.parametrize("tcp", [False, True], ids=["udp", "tcp"])
def test_add_then_delete_raises_the_serial_and_rewrites_the_file(make_gtmd, tcp):
    g = make_gtmd(config)
    os.chmod(os.path.join(g.workdir, "upd.test.zone"), 0o640)
    rc, out = nsupdate(g.port, g.workdir,
                       ['update add _acme-challenge.upd.test. 60 TXT "token-1"'], tcp=tcp)
    assert rc == 0, out
    assert ask(g.port, "_acme-challenge.upd.test.", "TXT") == ("NOERROR", ['"token-1"'])
    assert serial(g.port) == 2
    assert '"token-1"' in zone_file(g) and " 2 3600 600 86400 60" in zone_file(g)
    # A second value joins the RRset; then the whole set goes.
    rc, out = nsupdate(g.port, g.workdir,
                       ['update add _acme-challenge.upd.test. 60 TXT "token-2"'], tcp=tcp)
    assert rc == 0, out
    assert ask(g.port, "_acme-challenge.upd.test.", "TXT", tcp=True) == (
        "NOERROR", ['"token-1"', '"token-2"'])
    rc, out = nsupdate(g.port, g.workdir, ["update delete _acme-challenge.upd.test. TXT"],
                       tcp=tcp)
    assert rc == 0, out
    assert ask(g.port, "_acme-challenge.upd.test.", "TXT")[0] == "NXDOMAIN"
    assert serial(g.port) == 4
    assert "token" not in zone_file(g)
    assert os.stat(os.path.join(g.workdir, "upd.test.zone")).st_mode & 0o777 == 0o640
    log = g.read_log()
    assert "event=update zone=upd.test. key=acme. client=127.0.0.1 result=changed serial=4" in log


def test_one_record_deleted_and_an_update_that_changes_nothing(make_gtmd):
    g = make_gtmd(config)
    rc, out = nsupdate(g.port, g.workdir, ["update delete www.upd.test. A 192.0.2.1"], key="web.")
    assert rc == 0, out
    assert ask(g.port, "www.upd.test.") == ("NOERROR", ["192.0.2.2"])
    assert serial(g.port) == 2
    # Deleting what is not there changes nothing: no new serial (RFC 2136 §3.7).
    rc, out = nsupdate(g.port, g.workdir, ["update delete www.upd.test. A 192.0.2.9"], key="web.")
    assert rc == 0, out
    assert serial(g.port) == 2
    assert "result=unchanged" in g.read_log()


# (prerequisites, the rcode nsupdate reports, or None for success)
PREREQS = [
    # RRset exists (value-independent)
    (["prereq yxrrset www.upd.test. A"], None),
    (["prereq yxrrset www.upd.test. AAAA"], "NXRRSET"),
    # RRset exists (value-dependent): exactly these records
    (["prereq yxrrset www.upd.test. A 192.0.2.1", "prereq yxrrset www.upd.test. A 192.0.2.2"],
     None),
    (["prereq yxrrset www.upd.test. A 192.0.2.1"], "NXRRSET"),
    (["prereq yxrrset www.upd.test. A 192.0.2.1", "prereq yxrrset www.upd.test. A 192.0.2.9"],
     "NXRRSET"),
    # RRset does not exist
    (["prereq nxrrset www.upd.test. AAAA"], None),
    (["prereq nxrrset www.upd.test. A"], "YXRRSET"),
    # Name is in use
    (["prereq yxdomain mail.upd.test."], None),
    (["prereq yxdomain nothing-here.upd.test."], "NXDOMAIN"),
    # Name is not in use
    (["prereq nxdomain nothing-here.upd.test."], None),
    (["prereq nxdomain www.upd.test."], "YXDOMAIN"),
]


@pytest.mark.parametrize("prereqs,want", PREREQS,
                         ids=["%d-%s" % (i, w or "ok") for i, (_, w) in enumerate(PREREQS)])
def test_prerequisites_of_every_kind(make_gtmd, prereqs, want):
    g = make_gtmd(config)
    rc, out = nsupdate(g.port, g.workdir, prereqs + ["update add host.upd.test. 60 A 192.0.2.77"],
                       key="web.")
    if want is None:
        assert rc == 0, out
        assert ask(g.port, "host.upd.test.") == ("NOERROR", ["192.0.2.77"])
        assert serial(g.port) == 2
    else:
        assert rc != 0 and "update failed: %s" % want in out, out
        assert ask(g.port, "host.upd.test.")[0] == "NXDOMAIN"
        assert serial(g.port) == 1


@pytest.mark.parametrize("key,secret,lines,want", [
    ("nothing.", SECRET, ['update add _acme-challenge.upd.test. 60 TXT "x"'], "REFUSED"),
    ("acme.", SECRET, ['update add www.upd.test. 60 TXT "x"'], "REFUSED"),
    ("acme.", SECRET, ["update add _acme-challenge.upd.test. 60 A 192.0.2.5"], "REFUSED"),
    ("web.", SECRET, ["update add sub.www.upd.test. 60 A 192.0.2.5"], "REFUSED"),
    ("acme.", OTHER_SECRET, ['update add _acme-challenge.upd.test. 60 TXT "x"'], "NOTAUTH"),
    ("unknown.", SECRET, ['update add _acme-challenge.upd.test. 60 TXT "x"'], "NOTAUTH"),
    # One record allowed, one not: all or nothing.
    ("acme.", SECRET, ['update add _acme-challenge.upd.test. 60 TXT "x"',
                       'update add foo.upd.test. 60 TXT "x"'], "REFUSED"),
], ids=["key-without-rules", "name-denied", "type-denied", "exact-not-below", "wrong-secret",
        "unknown-key", "all-or-nothing"])
def test_what_a_key_may_not_do_changes_nothing(make_gtmd, key, secret, lines, want):
    g = make_gtmd(config)
    before = zone_file(g)
    rc, out = nsupdate(g.port, g.workdir, lines, key=key, secret=secret)
    assert rc != 0 and "update failed: %s" % want in out or (
        want == "NOTAUTH" and "tsig" in out.lower()), out
    assert serial(g.port) == 1
    assert ask(g.port, "_acme-challenge.upd.test.", "TXT")[0] == "NXDOMAIN"
    assert zone_file(g) == before


def test_unsigned_and_unserved_and_malformed_updates(make_gtmd):
    g = make_gtmd(config)
    before = zone_file(g)
    # Unsigned: REFUSED.
    m, send = dp_update(g.port, key=None)
    m.add("_acme-challenge", 60, "TXT", "x")
    assert send() == "REFUSED"
    # A zone gtmd does not serve: NOTAUTH.
    m, send = dp_update(g.port, zone="other.test.")
    m.add("x", 60, "TXT", "x")
    assert send() == "NOTAUTH"
    # A name outside the zone: NOTZONE.
    m, send = dp_update(g.port)
    m.add(dns.name.from_text("_acme-challenge.other.test."), 60, "TXT", "x")
    assert send() == "NOTZONE"
    # What RFC 2136 forbids, signed with the key: FORMERR (§3.2, §3.4.1).
    txt = b"\x05token"
    bad = [
        ([rr_wire("www.upd.test.", 1, 255, 30)], []),            # prerequisite with a TTL
        ([rr_wire("www.upd.test.", 1, 254, 0, b"\x01\x02\x03\x04")], []),  # NONE with data
        ([rr_wire("www.upd.test.", 1, 3, 0, b"\x01\x02\x03\x04")], []),  # class CH
        ([], [rr_wire("_acme-challenge.upd.test.", 16, 255, 0, txt)]),  # ANY with data
        ([], [rr_wire("_acme-challenge.upd.test.", 16, 254, 60, txt)]),  # NONE with a TTL
        ([], [rr_wire("_acme-challenge.upd.test.", 16, 1, 60)]),  # an addition without data
        ([], [rr_wire("_acme-challenge.upd.test.", 255, 1, 60, txt)]),  # an addition of ANY
    ]
    for pre, up in bad:
        wire = tsig_sign_wire(update_wire(ZONE, pre, up), "acme.", SECRET)
        assert send_wire(g.port, wire) == "FORMERR", (pre, up)
    # The zone section's type is not SOA: FORMERR.
    up = [rr_wire("_acme-challenge.upd.test.", 16, 1, 60, txt)]
    assert send_wire(g.port, tsig_sign_wire(update_wire(ZONE, [], up, ztype=1), "acme.",
                                            SECRET)) == "FORMERR"
    # The same update, well formed, is taken (the signing above is right).
    assert send_wire(g.port, tsig_sign_wire(update_wire(ZONE, [], up), "acme.", SECRET),
                     tcp=True) == "NOERROR"
    assert ask(g.port, "_acme-challenge.upd.test.", "TXT") == ("NOERROR", ['"token"'])
    assert serial(g.port) == 2
    before = zone_file(g)
    # More records than an update may carry (over TCP): REFUSED.
    m, send = dp_update(g.port, tcp=True)
    for i in range(1001):
        m.add("_acme-challenge", 60, "TXT", "token-%d" % i)
    assert send() == "REFUSED"
    assert serial(g.port) == 2
    assert zone_file(g) == before


def test_truncated_and_garbled_messages_get_formerr_or_nothing(make_gtmd):
    import socket
    g = make_gtmd(config)
    m, _ = dp_update(g.port)
    m.add("_acme-challenge", 60, "TXT", "x")
    wire = m.to_wire()
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.settimeout(2)
    try:
        for cut in (len(wire) - 5, 20, 13):
            s.sendto(wire[:cut], ("127.0.0.1", g.port))
            reply = s.recv(4096)
            assert reply[3] & 0xf == 1, (cut, reply)  # FORMERR
    finally:
        s.close()
    assert serial(g.port) == 1


def test_policy_names_refuse_updates(make_gtmd):
    def policy(cfg):
        cfg.update({
            "regions": {"r1": {}},
            "checks": {"tcp": {"type": "tcp", "port": 9, "interval": 1, "timeout": 0.3}},
            "pools": {"web": {"check": "tcp", "endpoints": [
                {"name": "b1", "address": "192.0.2.10", "region": "r1"}]}},
            "records": {"host.upd.test.": {"pool": "web", "ttl": 30, "policy": "all",
                                           "when_all_down": "all"}},
        })
    g = make_gtmd(lambda w, p: config(w, p, zone_extra=policy))
    rc, out = nsupdate(g.port, g.workdir, ['update add host.upd.test. 60 TXT "x"'], key="web.")
    assert rc != 0 and "update failed: REFUSED" in out, out
    assert "a policy name" in g.read_log()
    assert serial(g.port) == 1
    # Other names of the zone still take updates, and the policy name answers
    # from its pool after the update as before.
    rc, out = nsupdate(g.port, g.workdir, ["update add www.upd.test. 60 A 192.0.2.3"], key="web.")
    assert rc == 0, out
    assert ask(g.port, "host.upd.test.") == ("NOERROR", ["192.0.2.10"])


def test_a_zone_without_rules_and_a_secondary_zone(make_gtmd):
    def more(cfg):
        cfg["zones"].append({"origin": "plain.test.", "file": "plain.test.zone"})
        cfg["zones"].append({"origin": "copy.test.", "file": "copy.test.zone",
                             "primary": {"addresses": ["127.0.0.1:9"]}})

    def cfg_fn(w, p):
        for z in ("plain.test.", "copy.test."):
            with open(os.path.join(w, z + "zone"), "w") as f:
                f.write("$TTL 60\n@ SOA ns1 h 1 3600 600 86400 60\n@ NS ns1\nns1 A 127.0.0.1\n")
        return config(w, p, zone_extra=more)
    g = make_gtmd(cfg_fn)
    rc, out = nsupdate(g.port, g.workdir, ['update add x.plain.test. 60 TXT "x"'],
                       zone="plain.test.")
    assert "update failed: REFUSED" in out, out
    rc, out = nsupdate(g.port, g.workdir, ['update add x.copy.test. 60 TXT "x"'],
                       zone="copy.test.")
    assert "update failed: NOTAUTH" in out, out


def test_an_update_survives_a_reload_and_a_restart(make_gtmd):
    g = make_gtmd(config)
    rc, out = nsupdate(g.port, g.workdir,
                       ['update add _acme-challenge.upd.test. 60 TXT "kept"'], tcp=True)
    assert rc == 0, out
    g.signal(signal.SIGHUP)
    assert wait_for(lambda: g.read_log().count("event=reload result=ok") >= 1)
    assert ask(g.port, "_acme-challenge.upd.test.", "TXT") == ("NOERROR", ['"kept"'])
    g.stop()
    g.start()
    assert ask(g.port, "_acme-challenge.upd.test.", "TXT") == ("NOERROR", ['"kept"'])
    assert serial(g.port) == 2
    rc, out = nsupdate(g.port, g.workdir, ["update delete _acme-challenge.upd.test. TXT"])
    assert rc == 0, out
    assert serial(g.port) == 3


@pytest.mark.parametrize("entry,want", [
    ({"update": [{"key": "missing."}]}, 'key "missing." is not in tsig_keys'),
    ({"update": [{"key": "acme.", "names": ["www.elsewhere.test."]}]}, "is not in the zone"),
    ({"update": [{"key": "acme.", "types": ["RRSIG"]}]}, "made by signing"),
    ({"update": [{"key": "acme.", "match": "below"}]}, 'must be "subdomain" or "exact"'),
    ({"update": [{"key": "acme.", "color": "red"}]}, "unknown key"),
    ({"update": [{"key": "acme."}], "primary": {"addresses": ["127.0.0.1:9"]}},
     "a secondary zone is changed on its primary"),
    ({"update": [{"key": "acme."}], "fleet": True},
     "dynamic updates are not taken with \"config_api\": {\"fleet\": true}"),
])
def test_check_refuses_bad_update_rules(tmp_path, entry, want):
    cfg = config(str(tmp_path), 53)
    cfg["zones"][0].pop("update")
    cfg["zones"][0].update(entry)
    if "fleet" in entry:  # not a zone key: the root's
        cfg["zones"][0].pop("fleet")
        cfg["fleet"] = {"etcd": ["http://127.0.0.1:9"], "prefix": "/gtmd/t/", "node": "n1"}
        cfg["config_api"] = {"history_dir": "history", "fleet": True}
    import json
    path = tmp_path / "gtmd.json"
    path.write_text(json.dumps(cfg))
    p = subprocess.run([GTMD, "check", "-c", str(path)], capture_output=True, text=True,
                       timeout=30)
    assert p.returncode != 0 and want in p.stdout + p.stderr, p.stdout + p.stderr
    assert "$.zones[0]" in p.stdout + p.stderr


@pytest.mark.threads
def test_a_tcp_client_waits_for_a_slow_update_past_the_idle_timeout(make_gtmd):
    """A zone signed at load with 3,000 names takes longer to update than
    the TCP idle timeout (0.1 s here): the connection waiting for the
    updater's reply is not idle, and gets it."""
    from dnssec_zones import keygen, missing_tools
    if missing_tools("nsec"):
        pytest.skip("ldns-keygen is not installed")

    def signed(w, p):
        cfg = config(w, p)
        with open(os.path.join(w, "upd.test.zone"), "a") as f:
            f.write("".join("h%d IN A 10.0.%d.%d\n" % (i, i // 250, i % 250 + 1)
                            for i in range(3000)))
        keys = [os.path.basename(keygen(w, ZONE, True)), os.path.basename(keygen(w, ZONE, False))]
        cfg["zones"][0]["dnssec"] = {"keys": keys}
        cfg["tcp"] = {"idle_timeout": 0.1}
        return cfg
    g = make_gtmd(signed)
    m, send = dp_update(g.port, tcp=True)
    m.add("_acme-challenge", 60, "TXT", "slow")
    assert send(timeout=60) == "NOERROR"
    assert ask(g.port, "_acme-challenge.upd.test.", "TXT") == ("NOERROR", ['"slow"'])
    ms = [float(x) for x in
          __import__("re").findall(r"event=update .*result=changed .*ms=([0-9.]+)", g.read_log())]
    assert ms and ms[0] > 100, ms  # it did outlast the idle timeout


def test_metrics_count_updates_by_rcode(make_gtmd):
    from adminlib import READ_TOKEN, Admin, admin_port, admin_section

    def cfg_fn(w, p):
        cfg = config(w, p)
        cfg["admin"] = admin_section(w, admin_port(p), audit=False)
        return cfg
    g = make_gtmd(cfg_fn)
    a = Admin.of(g)
    a.wait_ready()
    ok = ['update add _acme-challenge.upd.test. 60 TXT "m"']
    assert nsupdate(g.port, g.workdir, ok)[0] == 0
    assert nsupdate(g.port, g.workdir, ok)[0] == 0  # the same again: no change
    assert "NXRRSET" in nsupdate(g.port, g.workdir,
                                 ["prereq yxrrset www.upd.test. AAAA"] + ok)[1]
    assert "REFUSED" in nsupdate(g.port, g.workdir, ['update add www.upd.test. 60 TXT "x"'])[1]
    text = a.get("/metrics", token=READ_TOKEN).body.decode()
    for line in ('gtmd_updates_total{rcode="NOERROR"} 2', 'gtmd_updates_total{rcode="NXRRSET"} 1',
                 'gtmd_updates_total{rcode="REFUSED"} 1', 'gtmd_updates_total{rcode="NOTZONE"} 0',
                 "gtmd_updates_changed_total 1"):
        assert line in text, (line, [x for x in text.splitlines() if "update" in x])

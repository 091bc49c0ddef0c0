"""DNSSEC differential test: gtmd, NSD and Knot DNS serve the same zone
signed at test time (dnssec_zones.py): with NSEC, with NSEC3 (salt, 2
iterations), with NSEC3 opt-out as ldns-signzone makes it (flag set,
insecure delegations kept) and as dnssec-signzone makes it (insecure
delegations left out of the chain: closest provable encloser proofs), and answer the
same queries with DO=1. As in test_compare_peers.py, wherever NSD and Knot
agree on a field, gtmd must agree too (RRSIGs, NSEC/NSEC3 proofs, TC).

A second gtmd serves the zone before signing: without DO, gtmd's replies for
the signed zone must be byte for byte those for the unsigned one, so
serving a signed zone changes nothing for clients that do not ask for
DNSSEC."""
import os
import shutil
import subprocess
import tempfile
import time

import dns.message
import dns.rcode
import pytest

from conftest import Gtmd, free_port, stop_process
from dnssec_zones import DENIALS, ORIGIN, SignedSet, missing_tools
from test_compare_peers import FIELDS, _fmt, _send_tcp, _send_udp, summarize

NSD = "/usr/sbin/nsd"
KNOTD = "/usr/sbin/knotd"
ADDR = "127.0.0.1"


def _nsd_conf(d, port, zone):
    return """server:
    ip-address: {addr}@{port}
    port: {port}
    server-count: 1
    username: ""
    chroot: ""
    zonesdir: "{d}"
    pidfile: "{d}/nsd.pid"
    database: ""
    xfrdfile: "{d}/xfrd.state"
    zonelistfile: "{d}/zone.list"
    logfile: "{d}/nsd.log"
    verbosity: 1
    rrl-ratelimit: 0
    rrl-whitelist-ratelimit: 0
    minimal-responses: yes
remote-control:
    control-enable: no
zone:
    name: dnssec.test
    zonefile: "{zone}"
""".format(addr=ADDR, port=port, d=d, zone=zone)


def _knot_conf(d, port, zone):
    return """server:
    rundir: "{d}"
    user: root:root
    pidfile: "{d}/knot.pid"
    listen: {addr}@{port}
    udp-workers: 1
    tcp-workers: 1
    background-workers: 1
log:
  - target: "{d}/knot.log"
    any: info
database:
    storage: "{d}"
zone:
  - domain: dnssec.test.
    file: "{zone}"
    storage: "{d}"
    semantic-checks: off
""".format(addr=ADDR, port=port, d=d, zone=zone)


class Peer:
    """NSD or knotd in the foreground in a private directory."""

    def __init__(self, name, argv_fn, conf_fn, zone):
        self.name = name
        self.workdir = tempfile.mkdtemp(prefix="gtmd-dnssec-%s-" % name)
        self.port = free_port()
        conf = os.path.join(self.workdir, name + ".conf")
        with open(conf, "w") as f:
            f.write(conf_fn(self.workdir, self.port, zone))
        self.out = open(os.path.join(self.workdir, "out.log"), "ab")
        self.proc = subprocess.Popen(argv_fn(conf), cwd=self.workdir, stdout=self.out,
                                     stderr=subprocess.STDOUT)

    def wait_ready(self, timeout=15.0):
        """True once the peer answers the signed apex SOA with its RRSIG."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                return False
            s = summarize(_send_udp((ADDR, self.port), dns.message.make_query(
                ORIGIN, "SOA", want_dnssec=True).to_wire(), timeout=0.3))
            if any(r[1] == "RRSIG" for r in s.get("answer", ())):
                return True
            time.sleep(0.1)
        return False

    def logs(self):
        out = ""
        for f in sorted(os.listdir(self.workdir)):
            if f.endswith(".log"):
                with open(os.path.join(self.workdir, f), "rb") as fh:
                    out += "--- %s\n%s" % (f, fh.read().decode(errors="replace")[-2000:])
        return out

    def stop(self):
        stop_process(self.proc)
        self.out.close()
        shutil.rmtree(self.workdir, ignore_errors=True)


def _start_peer(name, binary, argv_fn, conf_fn, zone):
    if not os.access(binary, os.X_OK):
        return None, "%s is not installed (%s missing)" % (name, binary)
    p = Peer(name, argv_fn, conf_fn, zone)
    if p.wait_ready():
        return p, None
    why = "%s did not start or serve the signed zone in time:\n%s" % (name, p.logs())
    p.stop()
    return None, why


def _gtmd(workdir, zone):
    d = tempfile.mkdtemp(prefix="gtmd-", dir=workdir)
    port = free_port()
    cfg = {"listen": ["%s:%d" % (ADDR, port)], "workers": 1,
           "zones": [{"origin": ORIGIN, "file": zone}]}
    return Gtmd(d, cfg, port).start()


@pytest.fixture(scope="module", params=DENIALS)
def signed(request):
    """{'gtmd': addr, 'nsd': addr, 'knot': addr, 'unsigned': addr} for one
    denial kind; skips when ldns, NSD or Knot are missing."""
    tool = missing_tools(request.param)
    if tool:
        pytest.skip("signing tools not installed (%s missing)" % tool)
    workdir = tempfile.mkdtemp(prefix="gtmd-dnssec-")
    started, gtmds = [], []
    try:
        zones = SignedSet(workdir, request.param)
        for name, binary, argv, conf in (
                ("nsd", NSD, lambda c: [NSD, "-d", "-c", c], _nsd_conf),
                ("knot", KNOTD, lambda c: [KNOTD, "-c", c], _knot_conf)):
            p, why = _start_peer(name, binary, argv, conf, zones.parent)
            if p is None:
                pytest.skip(why)
            started.append(p)
        g = _gtmd(workdir, zones.parent)
        gtmds.append(g)
        u = _gtmd(workdir, zones.parent_unsigned)
        gtmds.append(u)
        yield {"gtmd": (ADDR, g.port), "nsd": (ADDR, started[0].port),
               "knot": (ADDR, started[1].port), "unsigned": (ADDR, u.port),
               "denial": request.param}
    finally:
        for g in gtmds:
            g.stop()
            g.check_sanitizer()
        for p in started:
            p.stop()
        shutil.rmtree(workdir, ignore_errors=True)


def D(name, rdtype="A", tcp=False, payload=1232):
    """A query with DO=1."""
    return (name + ("" if name.endswith(".") else "." + ORIGIN), rdtype, tcp, payload)


CASES = [
    ("static_a", D("www")),
    ("static_aaaa", D("www", "AAAA")),
    ("apex_soa", D(ORIGIN, "SOA")),
    ("apex_ns", D(ORIGIN, "NS")),
    ("apex_mx_additional", D(ORIGIN, "MX")),
    ("apex_dnskey", D(ORIGIN, "DNSKEY")),
    ("apex_dnskey_tcp", D(ORIGIN, "DNSKEY", tcp=True)),
    ("apex_nsec3param", D(ORIGIN, "NSEC3PARAM")),
    ("ds_at_apex", D(ORIGIN, "DS")),
    ("srv_additional", D("_sip._tcp", "SRV")),
    ("txt", D("txt", "TXT")),
    ("nxdomain", D("nope")),
    ("nxdomain_deep", D("a.b.nope")),
    ("nxdomain_tcp", D("nope", tcp=True)),
    ("nodata", D("www", "MX")),
    ("nodata_apex", D(ORIGIN, "TXT")),
    ("ent_nodata", D("ent")),
    ("ent_deep_nodata", D("c.ent")),
    ("ent_underscore_nodata", D("_tcp", "SRV")),
    ("below_ent_nxdomain", D("x.c.ent")),
    ("cname", D("alias")),
    ("cname_chain", D("chain1")),
    ("cname_chain_aaaa_tcp", D("chain1", "AAAA", tcp=True)),
    ("cname_qtype_cname", D("chain1", "CNAME")),
    ("cname_to_nodata", D("alias", "MX")),
    ("dname_owner", D("dn", "DNAME")),
    ("dname_synth_to_wildcard", D("foo.dn")),
    ("dname_synth_nodata", D("foo.dn", "MX")),
    ("dname_synth_tcp", D("foo.dn", "TXT", tcp=True)),
    ("cname_dangling_nxdomain", D("dangling")),
    ("cname_outside", D("outside")),
    ("wildcard", D("foo.wild")),
    ("wildcard_deep", D("a.b.c.wild")),
    ("wildcard_txt", D("foo.wild", "TXT")),
    ("wildcard_nodata", D("foo.wild", "MX")),
    ("wildcard_parent_ent", D("wild")),
    ("wildcard_literal", D("*.wild")),
    ("wildcard_cname", D("foo.wcname")),
    ("referral_with_ds", D("www.sec")),
    ("referral_with_ds_apex", D("sec", "NS")),
    ("referral_without_ds", D("www.insec")),
    ("referral_without_ds_tcp", D("insec", "A", tcp=True)),
    ("referral_external_ns", D("x.ext")),
    ("referral_glue_name", D("ns1.insec")),
    ("ds_secure_delegation", D("sec", "DS")),
    ("ds_insecure_delegation", D("insec", "DS")),
    ("ds_external_delegation", D("ext", "DS")),
    ("ds_below_cut", D("x.sec", "DS")),
    ("rrsig_direct", D("www", "RRSIG")),
    ("nsec_direct", D("www", "NSEC")),
    ("nsec3_direct", D("www", "NSEC3")),
    ("nsec_direct_apex", D(ORIGIN, "NSEC")),
    ("any_udp", D("www", "ANY")),
    ("tc_signed_big_512", D("big", "TXT", payload=512)),
    ("tc_signed_dnskey_512", D(ORIGIN, "DNSKEY", payload=512)),
    ("signed_big_fits", D("big", "TXT", payload=4096)),
    ("nxdomain_512", D("nope", payload=512)),
    ("mixed_case_0x20", D("wWw.DnsSec.TeSt.")),
]

# gtmd's documented choices (doc/dns-behaviour.md): field -> reason.
DOCUMENTED = {}


def _ask(server, case, do=True, raw=False):
    name, rdtype, tcp, payload = case
    q = dns.message.make_query(name, rdtype, use_edns=0 if do else None, want_dnssec=do,
                               payload=payload)
    q.id = 0x5ec5
    wire = q.to_wire()
    try:
        w = _send_tcp(server, wire) if tcp else _send_udp(server, wire)
    except OSError:
        w = None
    return w if raw else summarize(w)


@pytest.mark.parametrize("cid,case", CASES, ids=[c[0] for c in CASES])
def test_dnssec_gtmd_agrees_where_nsd_and_knot_agree(signed, cid, case):
    got = {name: _ask(signed[name], case) for name in ("gtmd", "nsd", "knot")}
    g, n, k = got["gtmd"], got["nsd"], got["knot"]
    skip = DOCUMENTED.get(cid, {})
    compared, diffs = [], []
    for f in FIELDS:
        if f in skip:
            continue
        nv, kv, gv = n.get(f, "<absent>"), k.get(f, "<absent>"), g.get(f, "<absent>")
        if nv != kv:
            continue
        if nv != "<absent>":
            compared.append(f)
        if gv != nv:
            diffs.append("%s: gtmd=%r, NSD and Knot=%r" % (f, _fmt(gv), _fmt(nv)))
    assert not diffs, "%s (%s): %s" % (cid, signed["denial"], "; ".join(diffs))
    assert compared, "NSD and Knot disagree on every field"


def _types(section):
    return sorted({r[1] for r in section})


def test_dnssec_answers_are_signed(signed):
    """Guards the comparison: the peers and gtmd really give RRSIGs and
    proofs (a comparison of unsigned replies would pass vacuously)."""
    for name in ("gtmd", "nsd", "knot"):
        s = _ask(signed[name], D("www"))
        assert _types(s["answer"]) == ["A", "RRSIG"], name
        s = _ask(signed[name], D("nope"))
        assert s["rcode"] == dns.rcode.NXDOMAIN, name
        want = "NSEC" if signed["denial"] == "nsec" else "NSEC3"
        assert _types(s["authority"]) == sorted(["RRSIG", "SOA", want]), name
        s = _ask(signed[name], D("www.sec"))
        assert _types(s["authority"]) == ["DS", "NS", "RRSIG"], name


def test_dnssec_tc_keeps_rrsets_whole(signed):
    """A signed answer that does not fit: TC, and no RRset is cut (every RRset
    written has its RRSIG, every RRSIG its RRset)."""
    s = _ask(signed["gtmd"], D("big", "TXT", payload=512))
    assert s["tc"]
    types = {r[1] for r in s["answer"]}
    assert types in (set(), {"TXT", "RRSIG"})
    if types:
        assert len([r for r in s["answer"] if r[1] == "TXT"]) == 6


# Queries whose answer does not depend on the zone being signed.
UNSIGNED_SAME = [c for c in CASES if c[1][1] not in ("DNSKEY", "NSEC3PARAM", "RRSIG", "NSEC",
                                                       "NSEC3", "ANY")]


@pytest.mark.parametrize("cid,case", UNSIGNED_SAME, ids=[c[0] for c in UNSIGNED_SAME])
def test_without_do_signed_zone_answers_like_unsigned(signed, cid, case):
    """Without DO, the signed zone's replies are byte for byte those of the
    same zone unsigned: with and without EDNS."""
    for do_edns in (True, False):
        name, rdtype, tcp, payload = case
        q = dns.message.make_query(name, rdtype, use_edns=0 if do_edns else None,
                                   payload=payload)
        q.id = 0x0d0e
        wire = q.to_wire()
        send = _send_tcp if tcp else _send_udp
        a, b = send(signed["gtmd"], wire), send(signed["unsigned"], wire)
        assert a is not None and a == b, "%s (edns=%s): %r != %r" % (cid, do_edns, a, b)

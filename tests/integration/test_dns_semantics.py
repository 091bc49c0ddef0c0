"""DNS answering semantics of the real gtmd binary over UDP and TCP: AA and
REFUSED, negative answers (RFC 2308), empty non-terminals, CNAME chains,
wildcards (RFC 4592), delegations and DS, the child zone, additional-section
processing, ANY (RFC 8482), EDNS (RFC 6891), truncation, malformed input and
a burst of garbage. The data is tests/data/example.com.zone (+ .inc) and
sub.example.com.zone; a few tests add a generated zone with a large RRset
and a long CNAME chain."""
import os
import random
import socket
import struct
import time

import dns.edns
import dns.flags
import dns.message
import dns.name
import dns.query
import dns.rcode
import dns.rdatatype
import dns.tsigkeyring
import pytest

from conftest import default_config

TRANSPORTS = [pytest.param(False, id="udp"), pytest.param(True, id="tcp")]
NEG_TTL = 300  # example.com.: min(SOA TTL 3600, MINIMUM 300)
SUB_NEG_TTL = 60  # sub.example.com.: min(600, 60)
SOA_TEXT = "ns1.example.com. hostmaster.example.com. 2026112201 7200 3600 1209600 300"
SUB_SOA_TEXT = "ns1.sub.example.com. hostmaster.example.com. 7 3600 600 86400 60"
WWW_A = {"192.0.2.80", "192.0.2.81"}
NO_REPLY_WAIT = 0.3

# ---- helpers ---------------------------------------------------------------


def query(g, name, rdtype="A", tcp=False, **kw):
    q = dns.message.make_query(name, rdtype, **kw)
    if tcp:
        return dns.query.tcp(q, g.addr, port=g.port, timeout=2.0)
    return dns.query.udp(q, g.addr, port=g.port, timeout=2.0)


def rrs(section):
    """A section as a set of (owner, type, ttl, rdata) with the owner's case kept."""
    out = set()
    for rrset in section:
        for rd in rrset:
            out.add((rrset.name.to_text(), dns.rdatatype.to_text(rrset.rdtype), rrset.ttl,
                     rd.to_text()))
    return out


def types(section):
    return [dns.rdatatype.to_text(r.rdtype) for r in section]


def assert_negative(r, rcode, soa=SOA_TEXT, zone="example.com.", ttl=NEG_TTL):
    assert r.rcode() == rcode
    assert r.flags & dns.flags.AA
    assert r.answer == []
    assert rrs(r.authority) == {(zone, "SOA", ttl, soa)}
    assert r.additional == []


def assert_www(r, owner="www.example.com."):
    assert r.rcode() == dns.rcode.NOERROR
    assert r.flags & dns.flags.AA
    assert rrs(r.answer) == {(owner, "A", 3600, a) for a in WWW_A}


def hdr(qid=0x5a5a, flags=0x0100, qd=1, an=0, ns=0, ar=0):
    return struct.pack("!HHHHHH", qid, flags, qd, an, ns, ar)


def question(name="www.example.com.", rdtype=1, rdclass=1):
    return dns.name.from_text(name).to_wire() + struct.pack("!HH", rdtype, rdclass)


def opt(payload=1232, ext=0, version=0, flags=0, rdata=b"", owner=b"\x00"):
    return owner + struct.pack("!HHBBHH", 41, payload, ext, version, flags, len(rdata)) + rdata


def raw_udp(g, wire, timeout=1.0):
    """Sends one datagram; the reply bytes, or None after timeout."""
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        s.settimeout(timeout)
        s.sendto(wire, (g.addr, g.port))
        try:
            return s.recv(65535)
        except socket.timeout:
            return None
    finally:
        s.close()


def raw_tcp(g, wire, timeout=2.0):
    """Sends one length-prefixed message; the reply bytes, or None."""
    deadline = time.monotonic() + timeout
    with socket.create_connection((g.addr, g.port), timeout=timeout) as s:
        s.sendall(struct.pack("!H", len(wire)) + wire)
        buf = b""
        while time.monotonic() < deadline:
            need = 2 + (struct.unpack("!H", buf[:2])[0] if len(buf) >= 2 else 0)
            if len(buf) >= 2 and len(buf) >= need:
                return buf[2:need]
            s.settimeout(max(0.01, deadline - time.monotonic()))
            try:
                chunk = s.recv(65535)
            except socket.timeout:
                return None
            if not chunk:
                return None
            buf += chunk
        return None


def header(w):
    assert w is not None, "no reply"
    assert len(w) >= 12, "reply shorter than a header: %r" % w
    qid, flags, qd, an, ns, ar = struct.unpack("!HHHHHH", w[:12])
    return {"id": qid, "flags": flags, "rcode": flags & 0xF, "opcode": (flags >> 11) & 0xF,
            "qd": qd, "an": an, "ns": ns, "ar": ar}


def parse(w):
    assert w is not None, "no reply"
    return dns.message.from_wire(w, ignore_trailing=True)


def assert_alive(g):
    assert g.proc.poll() is None, "gtmd exited: " + g.read_log()[-2000:]
    assert_www(query(g, "www.example.com."))


# A generated zone: one RRset far larger than 1232 octets, a CNAME chain of
# 31 links (longer than gtmd follows) ending at an in-zone name, and two
# delegations with 20 name servers each.
CHAIN_LEN = 30
GLUE_NS = 20


def extra_zone_config(workdir, port):
    c = default_config(workdir, port)
    lines = [
        "$ORIGIN big.test.",
        "$TTL 120",
        "@ IN SOA ns.big.test. h.big.test. 1 3600 600 86400 900",
        "  IN NS ns",
        "ns IN A 127.0.0.53",
        "target IN A 127.0.0.80",
    ]
    lines += ['huge IN TXT "%02d%s"' % (i, "x" * 98) for i in range(40)]
    lines += ["c%d IN CNAME c%d" % (i, i + 1) for i in range(CHAIN_LEN)]
    lines.append("c%d IN CNAME target" % CHAIN_LEN)
    # a delegation whose in-bailiwick glue (required, RFC 9471) exceeds 1232
    # octets, and one whose glue is sibling glue (optional)
    for i in range(GLUE_NS):
        lines += ["many IN NS ns%02d.many" % i, "ns%02d.many IN A 127.0.1.%d" % (i, i),
                  "ns%02d.many IN AAAA 2001:db8::1:%d" % (i, i),
                  "sib IN NS ns%02d.sibling" % i, "ns%02d.sibling IN A 127.0.2.%d" % (i, i)]
    with open(os.path.join(workdir, "big.test.zone"), "w") as f:
        f.write("\n".join(lines) + "\n")
    c["zones"].append({"origin": "big.test.", "file": "big.test.zone"})
    return c


@pytest.fixture
def gtmd_big(make_gtmd):
    return make_gtmd(extra_zone_config)


# ---- AA and REFUSED ----------------------------------------------------------


@pytest.mark.parametrize("tcp", TRANSPORTS)
def test_authoritative_answer_has_aa(gtmd, tcp):
    r = query(gtmd, "www.example.com.", tcp=tcp)
    assert_www(r)
    assert not r.flags & dns.flags.TC
    assert r.authority == [] and r.additional == []
    r = query(gtmd, "www.example.com.", "AAAA", tcp=tcp)
    assert r.flags & dns.flags.AA
    assert rrs(r.answer) == {("www.example.com.", "AAAA", 3600, "2001:db8::80")}


@pytest.mark.parametrize("tcp", TRANSPORTS)
@pytest.mark.parametrize("name,rdtype", [
    ("www.example.org.", "A"),
    ("example.org.", "SOA"),
    ("com.", "NS"),
    (".", "NS"),
    ("xexample.com.", "A"),  # a suffix match that is not on a label boundary
    ("example.com.example.net.", "A"),
])
def test_refused_outside_served_zones(gtmd, tcp, name, rdtype):
    r = query(gtmd, name, rdtype, tcp=tcp)
    assert r.rcode() == dns.rcode.REFUSED
    assert not r.flags & dns.flags.AA
    assert r.answer == [] and r.authority == [] and r.additional == []
    assert r.question[0].name == dns.name.from_text(name)


def test_refused_keeps_opt_when_query_had_one(gtmd):
    r = query(gtmd, "www.example.org.", use_edns=0)
    assert r.rcode() == dns.rcode.REFUSED
    assert r.edns == 0 and r.payload == 1232
    r = query(gtmd, "www.example.org.")
    assert r.rcode() == dns.rcode.REFUSED and r.edns == -1


def test_non_in_class_refused(gtmd):
    r = query(gtmd, "www.example.com.", rdclass="CH")
    assert r.rcode() == dns.rcode.REFUSED
    assert not r.flags & dns.flags.AA and r.answer == []


# ---- negative answers ---------------------------------------------------------


@pytest.mark.parametrize("tcp", TRANSPORTS)
def test_nxdomain_has_soa_with_negative_ttl(gtmd, tcp):
    assert_negative(query(gtmd, "nope.example.com.", tcp=tcp), dns.rcode.NXDOMAIN)
    assert_negative(query(gtmd, "a.b.nope.example.com.", "MX", tcp=tcp), dns.rcode.NXDOMAIN)


@pytest.mark.parametrize("tcp", TRANSPORTS)
def test_nodata_has_soa_with_negative_ttl(gtmd, tcp):
    assert_negative(query(gtmd, "www.example.com.", "MX", tcp=tcp), dns.rcode.NOERROR)
    assert_negative(query(gtmd, "example.com.", "AAAA", tcp=tcp), dns.rcode.NOERROR)
    assert_negative(query(gtmd, "mail.example.com.", "TXT", tcp=tcp), dns.rcode.NOERROR)


def test_negative_ttl_of_child_zone(gtmd):
    assert_negative(query(gtmd, "nope.sub.example.com."), dns.rcode.NXDOMAIN, soa=SUB_SOA_TEXT,
                    zone="sub.example.com.", ttl=SUB_NEG_TTL)
    assert_negative(query(gtmd, "www.sub.example.com.", "TXT"), dns.rcode.NOERROR,
                    soa=SUB_SOA_TEXT, zone="sub.example.com.", ttl=SUB_NEG_TTL)


def test_soa_query_gets_full_soa_ttl(gtmd):
    """The negative TTL applies only to the SOA in negative answers."""
    r = query(gtmd, "example.com.", "SOA")
    assert r.flags & dns.flags.AA
    assert rrs(r.answer) == {("example.com.", "SOA", 3600, SOA_TEXT)}


@pytest.mark.parametrize("tcp", TRANSPORTS)
@pytest.mark.parametrize("name", [
    "ent.example.com.", "c.ent.example.com.", "b.c.ent.example.com.", "_tcp.example.com.",
    "wild.example.com.",
])
def test_empty_non_terminal_is_nodata(gtmd, tcp, name):
    assert_negative(query(gtmd, name, tcp=tcp), dns.rcode.NOERROR)


@pytest.mark.parametrize("name", [
    "x.ent.example.com.", "x.c.ent.example.com.", "x.b.c.ent.example.com.",
    "x.a.b.c.ent.example.com.", "x._tcp.example.com.",
])
def test_below_empty_non_terminal_is_nxdomain(gtmd, name):
    assert_negative(query(gtmd, name), dns.rcode.NXDOMAIN)


def test_name_below_ent_that_exists(gtmd):
    r = query(gtmd, "a.b.c.ent.example.com.")
    assert r.flags & dns.flags.AA
    assert rrs(r.answer) == {("a.b.c.ent.example.com.", "A", 3600, "192.0.2.5")}
    assert_negative(query(gtmd, "a.b.c.ent.example.com.", "TXT"), dns.rcode.NOERROR)


# ---- CNAME ---------------------------------------------------------------------


@pytest.mark.parametrize("tcp", TRANSPORTS)
def test_cname_followed(gtmd, tcp):
    r = query(gtmd, "alias.example.com.", tcp=tcp)
    assert r.rcode() == dns.rcode.NOERROR and r.flags & dns.flags.AA
    assert types(r.answer) == ["CNAME", "A"]
    assert rrs(r.answer) == {("alias.example.com.", "CNAME", 3600, "www.example.com.")} | {
        ("www.example.com.", "A", 3600, a) for a in WWW_A}


@pytest.mark.parametrize("tcp", TRANSPORTS)
def test_cname_chain_in_order(gtmd, tcp):
    r = query(gtmd, "chain1.example.com.", "AAAA", tcp=tcp)
    assert r.rcode() == dns.rcode.NOERROR and r.flags & dns.flags.AA
    assert [(x.name.to_text(), types([x])[0]) for x in r.answer] == [
        ("chain1.example.com.", "CNAME"), ("chain2.example.com.", "CNAME"),
        ("www.example.com.", "AAAA")]
    assert r.answer[0][0].target.to_text() == "chain2.example.com."
    assert r.answer[1][0].target.to_text() == "www.example.com."


def test_qtype_cname_not_followed(gtmd):
    r = query(gtmd, "chain1.example.com.", "CNAME")
    assert r.flags & dns.flags.AA
    assert rrs(r.answer) == {("chain1.example.com.", "CNAME", 3600, "chain2.example.com.")}


def test_cname_to_nodata_target(gtmd):
    r = query(gtmd, "alias.example.com.", "MX")
    assert r.rcode() == dns.rcode.NOERROR and r.flags & dns.flags.AA
    assert rrs(r.answer) == {("alias.example.com.", "CNAME", 3600, "www.example.com.")}
    assert rrs(r.authority) == {("example.com.", "SOA", NEG_TTL, SOA_TEXT)}


@pytest.mark.parametrize("tcp", TRANSPORTS)
def test_cname_loop_is_bounded(gtmd, tcp):
    t0 = time.monotonic()
    r = query(gtmd, "loop1.example.com.", tcp=tcp)
    assert time.monotonic() - t0 < 1.5
    assert r.rcode() == dns.rcode.NOERROR and r.flags & dns.flags.AA
    # each CNAME of the loop once, nothing else
    assert rrs(r.answer) == {("loop1.example.com.", "CNAME", 3600, "loop2.example.com."),
                             ("loop2.example.com.", "CNAME", 3600, "loop1.example.com.")}
    assert sum(len(x) for x in r.answer) == 2
    assert_alive(gtmd)


def test_long_cname_chain_is_bounded_prefix(gtmd_big):
    r = query(gtmd_big, "c0.big.test.", tcp=True)
    assert r.rcode() == dns.rcode.NOERROR and r.flags & dns.flags.AA
    cnames = [x for x in r.answer if x.rdtype == dns.rdatatype.CNAME]
    assert 1 <= len(cnames) <= CHAIN_LEN + 1
    for i, x in enumerate(cnames):  # a contiguous prefix of the chain from the qname
        assert x.name.to_text() == "c%d.big.test." % i
        assert len(x) == 1
    # a chain within the bound is followed to its end
    r = query(gtmd_big, "c%d.big.test." % (CHAIN_LEN - 3))
    assert rrs(r.answer) >= {("target.big.test.", "A", 120, "127.0.0.80")}


@pytest.mark.parametrize("tcp", TRANSPORTS)
def test_cname_to_missing_name_is_nxdomain(gtmd, tcp):
    r = query(gtmd, "dangling.example.com.", tcp=tcp)
    assert r.rcode() == dns.rcode.NXDOMAIN and r.flags & dns.flags.AA
    assert rrs(r.answer) == {("dangling.example.com.", "CNAME", 3600, "nowhere.example.com.")}
    assert rrs(r.authority) == {("example.com.", "SOA", NEG_TTL, SOA_TEXT)}


@pytest.mark.parametrize("tcp", TRANSPORTS)
def test_cname_leaving_our_zones(gtmd, tcp):
    r = query(gtmd, "outside.example.com.", tcp=tcp)
    assert r.rcode() == dns.rcode.NOERROR and r.flags & dns.flags.AA
    assert rrs(r.answer) == {("outside.example.com.", "CNAME", 3600, "www.example.org.")}
    assert r.authority == [] and r.additional == []


def test_cname_any_returns_cname_only(gtmd):
    for tcp in (False, True):
        r = query(gtmd, "alias.example.com.", "ANY", tcp=tcp)
        assert rrs(r.answer) == {("alias.example.com.", "CNAME", 3600, "www.example.com.")}


# ---- wildcards -------------------------------------------------------------------


@pytest.mark.parametrize("tcp", TRANSPORTS)
@pytest.mark.parametrize("name", [
    "foo.wild.example.com.", "a.b.c.wild.example.com.", "x.y.z.w.v.wild.example.com.",
    "FoO.WiLd.ExAmPlE.cOm.",
])
def test_wildcard_synthesis_owner_is_qname(gtmd, tcp, name):
    r = query(gtmd, name, tcp=tcp)
    assert r.rcode() == dns.rcode.NOERROR and r.flags & dns.flags.AA
    assert rrs(r.answer) == {(name, "A", 3600, "192.0.2.99")}
    assert r.authority == []
    r = query(gtmd, name, "TXT", tcp=tcp)
    assert rrs(r.answer) == {(name, "TXT", 3600, '"wildcard"')}


def test_wildcard_without_the_type_is_nodata(gtmd):
    assert_negative(query(gtmd, "foo.wild.example.com.", "MX"), dns.rcode.NOERROR)
    assert_negative(query(gtmd, "a.b.wild.example.com.", "AAAA"), dns.rcode.NOERROR)


def test_wildcard_literal_and_parent(gtmd):
    r = query(gtmd, "*.wild.example.com.")
    assert rrs(r.answer) == {("*.wild.example.com.", "A", 3600, "192.0.2.99")}
    # the wildcard does not cover its own parent (an empty non-terminal)
    assert_negative(query(gtmd, "wild.example.com."), dns.rcode.NOERROR)
    # nor siblings of the wildcard's parent
    assert_negative(query(gtmd, "foo.wildx.example.com."), dns.rcode.NXDOMAIN)


@pytest.mark.parametrize("tcp", TRANSPORTS)
def test_wildcard_cname(gtmd, tcp):
    r = query(gtmd, "foo.wcname.example.com.", tcp=tcp)
    assert r.rcode() == dns.rcode.NOERROR and r.flags & dns.flags.AA
    assert types(r.answer) == ["CNAME", "A"]
    assert rrs(r.answer) == {("foo.wcname.example.com.", "CNAME", 3600, "www.example.com.")} | {
        ("www.example.com.", "A", 3600, a) for a in WWW_A}
    r = query(gtmd, "a.b.wcname.example.com.", "CNAME", tcp=tcp)
    assert rrs(r.answer) == {("a.b.wcname.example.com.", "CNAME", 3600, "www.example.com.")}


# ---- delegations, DS, the child zone ----------------------------------------------

DELEG_NS = {("deleg.example.com.", "NS", 3600, "ns1.deleg.example.com."),
            ("deleg.example.com.", "NS", 3600, "ns2.example.net.")}
DELEG_GLUE = {("ns1.deleg.example.com.", "A", 3600, "192.0.2.54"),
              ("ns1.deleg.example.com.", "AAAA", 3600, "2001:db8::54")}


@pytest.mark.parametrize("tcp", TRANSPORTS)
@pytest.mark.parametrize("name,rdtype", [
    ("deleg.example.com.", "A"),
    ("deleg.example.com.", "NS"),
    ("x.deleg.example.com.", "A"),
    ("a.b.x.deleg.example.com.", "MX"),
    ("ns1.deleg.example.com.", "A"),  # glue is not authoritative data
    ("x.deleg.example.com.", "DS"),  # DS below the cut belongs to the child
])
def test_referral(gtmd, tcp, name, rdtype):
    r = query(gtmd, name, rdtype, tcp=tcp)
    assert r.rcode() == dns.rcode.NOERROR
    assert not r.flags & dns.flags.AA
    assert r.answer == []
    assert rrs(r.authority) == DELEG_NS
    assert rrs(r.additional) == DELEG_GLUE


@pytest.mark.parametrize("tcp", TRANSPORTS)
def test_ds_at_cut_answered_by_parent(gtmd, tcp):
    r = query(gtmd, "sub.example.com.", "DS", tcp=tcp)
    assert r.rcode() == dns.rcode.NOERROR and r.flags & dns.flags.AA
    digest = "49fd46e6c4b45c55d4ac69cbd3cd34ac1afe51de7d5c0a3e7e9f6a4e5a5d4b3c"
    assert rrs(r.answer) == {("sub.example.com.", "DS", 3600, "12345 8 2 " + digest)}
    # no DS at this cut: NODATA from the parent, not a referral
    assert_negative(query(gtmd, "deleg.example.com.", "DS", tcp=tcp), dns.rcode.NOERROR)


def test_ds_at_apex_without_served_parent(gtmd):
    assert_negative(query(gtmd, "example.com.", "DS"), dns.rcode.NOERROR)


@pytest.mark.parametrize("tcp", TRANSPORTS)
def test_child_zone_served_authoritatively(gtmd, tcp):
    r = query(gtmd, "www.sub.example.com.", tcp=tcp)
    assert r.rcode() == dns.rcode.NOERROR and r.flags & dns.flags.AA
    assert rrs(r.answer) == {("www.sub.example.com.", "A", 600, "192.0.2.153")}
    # the child's own NS RRset (one NS, TTL 600), not the parent's delegation (two)
    r = query(gtmd, "sub.example.com.", "NS", tcp=tcp)
    assert r.flags & dns.flags.AA
    assert rrs(r.answer) == {("sub.example.com.", "NS", 600, "ns1.sub.example.com.")}
    assert rrs(r.additional) == {("ns1.sub.example.com.", "A", 600, "192.0.2.53")}
    r = query(gtmd, "sub.example.com.", "SOA", tcp=tcp)
    assert rrs(r.answer) == {("sub.example.com.", "SOA", 600, SUB_SOA_TEXT)}
    # a name that is glue in the parent is data in the child
    r = query(gtmd, "ns1.sub.example.com.", tcp=tcp)
    assert r.flags & dns.flags.AA
    assert rrs(r.answer) == {("ns1.sub.example.com.", "A", 600, "192.0.2.53")}
    assert_negative(query(gtmd, "sub.example.com.", "A", tcp=tcp), dns.rcode.NOERROR,
                    soa=SUB_SOA_TEXT, zone="sub.example.com.", ttl=SUB_NEG_TTL)


def _referral_parts(r):
    ns = {rd.target.to_text() for x in r.authority if x.rdtype == dns.rdatatype.NS for rd in x}
    glue = rrs(r.additional)
    return ns, glue


def test_referral_required_glue_sets_tc(gtmd_big):
    all_ns = {"ns%02d.many.big.test." % i for i in range(GLUE_NS)}
    for kw in ({}, {"use_edns": 0}, {"use_edns": 0, "payload": 4096}):
        q = dns.message.make_query("x.many.big.test.", "A", **kw)
        w = raw_udp(gtmd_big, q.to_wire())
        assert len(w) <= (1232 if kw else 512)
        r = parse(w)
        assert r.flags & dns.flags.TC, kw  # not all in-bailiwick glue fits
        assert not r.flags & dns.flags.AA
    r = query(gtmd_big, "x.many.big.test.", tcp=True)
    assert not r.flags & dns.flags.TC
    ns, glue = _referral_parts(r)
    assert ns == all_ns
    assert {(o, t) for o, t, _, _ in glue} == {(n, t) for n in all_ns for t in ("A", "AAAA")}


def test_referral_sibling_glue_is_optional(gtmd_big):
    all_ns = {"ns%02d.sibling.big.test." % i for i in range(GLUE_NS)}
    w = raw_udp(gtmd_big, dns.message.make_query("x.sib.big.test.", "A").to_wire())
    assert len(w) <= 512
    r = parse(w)
    assert not r.flags & dns.flags.TC  # sibling glue may be left out
    ns, glue = _referral_parts(r)
    assert ns == all_ns
    assert 0 < len(glue) < GLUE_NS
    assert {o for o, _, _, _ in glue} <= all_ns
    r = query(gtmd_big, "x.sib.big.test.", tcp=True)
    ns, glue = _referral_parts(r)
    assert len(glue) == GLUE_NS


# ---- additional section ------------------------------------------------------------


def test_additional_for_mx_targets(gtmd):
    r = query(gtmd, "example.com.", "MX")
    assert r.flags & dns.flags.AA
    assert rrs(r.answer) == {("example.com.", "MX", 3600, "10 mail.example.com."),
                             ("example.com.", "MX", 3600, "20 mx.example.net.")}
    # only in-zone targets with addresses; nothing for mx.example.net.
    assert rrs(r.additional) == {("mail.example.com.", "A", 3600, "192.0.2.25")}


def test_additional_for_srv_targets(gtmd):
    r = query(gtmd, "_sip._tcp.example.com.", "SRV")
    assert rrs(r.answer) == {("_sip._tcp.example.com.", "SRV", 3600, "10 60 5060 sip.example.com.")}
    assert rrs(r.additional) == {("sip.example.com.", "A", 3600, "192.0.2.60")}


def test_additional_for_ns_targets(gtmd):
    r = query(gtmd, "example.com.", "NS")
    assert r.flags & dns.flags.AA
    assert rrs(r.answer) == {("example.com.", "NS", 3600, "ns1.example.com."),
                             ("example.com.", "NS", 3600, "ns2.example.net.")}
    assert rrs(r.additional) == {("ns1.example.com.", "A", 3600, "192.0.2.1"),
                                 ("ns1.example.com.", "AAAA", 3600, "2001:db8::1")}


# ---- ANY (RFC 8482) ------------------------------------------------------------------

APEX_DATA = {
    "NS": {("example.com.", "NS", 3600, "ns1.example.com."),
           ("example.com.", "NS", 3600, "ns2.example.net.")},
    "SOA": {("example.com.", "SOA", 3600, SOA_TEXT)},
    "MX": {("example.com.", "MX", 3600, "10 mail.example.com."),
           ("example.com.", "MX", 3600, "20 mx.example.net.")},
}


def test_any_over_udp_is_one_rrset(gtmd):
    r = query(gtmd, "example.com.", "ANY")
    assert r.rcode() == dns.rcode.NOERROR and r.flags & dns.flags.AA
    assert not r.flags & dns.flags.TC
    assert len(r.answer) == 1
    t = types(r.answer)[0]
    assert rrs(r.answer) == APEX_DATA[t]  # a complete RRset of the node
    r = query(gtmd, "www.example.com.", "ANY")
    assert len(r.answer) == 1
    assert rrs(r.answer) in ({("www.example.com.", "A", 3600, a) for a in WWW_A},
                             {("www.example.com.", "AAAA", 3600, "2001:db8::80")})


def test_any_over_tcp_is_every_rrset(gtmd):
    r = query(gtmd, "example.com.", "ANY", tcp=True)
    assert r.flags & dns.flags.AA
    assert rrs(r.answer) == APEX_DATA["NS"] | APEX_DATA["SOA"] | APEX_DATA["MX"]
    r = query(gtmd, "www.example.com.", "ANY", tcp=True)
    assert rrs(r.answer) == {("www.example.com.", "A", 3600, a) for a in WWW_A} | {
        ("www.example.com.", "AAAA", 3600, "2001:db8::80")}


def test_any_negative(gtmd):
    assert_negative(query(gtmd, "nope.example.com.", "ANY"), dns.rcode.NXDOMAIN)
    assert_negative(query(gtmd, "ent.example.com.", "ANY", tcp=True), dns.rcode.NOERROR)


def test_any_with_edns_over_udp_still_one_rrset(gtmd):
    r = query(gtmd, "example.com.", "ANY", use_edns=0, payload=4096)
    assert len(r.answer) == 1 and r.edns == 0


# ---- EDNS ------------------------------------------------------------------------------


@pytest.mark.parametrize("tcp", TRANSPORTS)
def test_opt_only_when_query_had_one(gtmd, tcp):
    for name, rdtype in (("www.example.com.", "A"), ("nope.example.com.", "A"),
                         ("www.example.com.", "MX"), ("deleg.example.com.", "A"),
                         ("www.example.org.", "A")):
        r = query(gtmd, name, rdtype, tcp=tcp)
        assert r.edns == -1, (name, rdtype)
        r = query(gtmd, name, rdtype, tcp=tcp, use_edns=0)
        assert r.edns == 0, (name, rdtype)
        assert r.payload == 1232
        assert r.options == ()
        assert not r.ednsflags & dns.flags.DO


def test_opt_absent_on_truncated_reply_without_edns(gtmd):
    r = query(gtmd, "big.example.com.", "TXT")
    assert r.flags & dns.flags.TC and r.edns == -1


def test_client_payload_4096_capped_at_1232(gtmd_big):
    q = dns.message.make_query("huge.big.test.", "TXT", use_edns=0, payload=4096)
    w = raw_udp(gtmd_big, q.to_wire())
    assert w is not None
    assert len(w) <= 1232
    r = parse(w)
    assert r.flags & dns.flags.TC
    assert r.edns == 0 and r.payload == 1232
    # a mid-size answer still fits in 1232
    q = dns.message.make_query("big.example.com.", "TXT", use_edns=0, payload=4096)
    w = raw_udp(gtmd_big, q.to_wire())
    r = parse(w)
    assert not r.flags & dns.flags.TC and len(r.answer[0]) == 8
    assert 512 < len(w) <= 1232


def test_huge_rrset_complete_over_tcp(gtmd_big):
    r = query(gtmd_big, "huge.big.test.", "TXT", tcp=True, use_edns=0, payload=4096)
    assert not r.flags & dns.flags.TC
    assert len(r.answer) == 1 and len(r.answer[0]) == 40
    assert len(r.to_wire()) > 4000


@pytest.mark.parametrize("payload", [512, 600, 1000, 1232])
def test_reply_never_exceeds_client_payload(gtmd_big, payload):
    q = dns.message.make_query("huge.big.test.", "TXT", use_edns=0, payload=payload)
    w = raw_udp(gtmd_big, q.to_wire())
    assert w is not None and len(w) <= payload
    assert parse(w).flags & dns.flags.TC


def test_payload_below_512_treated_as_512(gtmd):
    w = raw_udp(gtmd, hdr(ar=1) + question("big.example.com.", 16) + opt(payload=100))
    r = parse(w)
    assert len(w) <= 512
    assert r.flags & dns.flags.TC and r.answer == []
    w = raw_udp(gtmd, hdr(ar=1) + question("www.example.com.") + opt(payload=100))
    assert_www(parse(w))


@pytest.mark.parametrize("tcp", TRANSPORTS)
def test_edns_version_1_is_badvers(gtmd, tcp):
    q = dns.message.make_query("www.example.com.", "A")
    q.use_edns(1)
    assert q.edns == 1
    wire = q.to_wire()
    w = raw_tcp(gtmd, wire) if tcp else raw_udp(gtmd, wire)
    h = header(w)
    assert h["rcode"] == 0  # low bits of 16
    r = parse(w)
    assert r.rcode() == dns.rcode.BADVERS
    assert r.edns == 0  # we answer with the version we speak
    assert (r.ednsflags >> 24) & 0xFF == 1  # extended rcode 16 >> 4
    assert r.answer == [] and r.authority == []
    assert r.question[0].name == dns.name.from_text("www.example.com.")


def test_badvers_with_do_and_higher_version(gtmd):
    w = raw_udp(gtmd, hdr(ar=1) + question() + opt(version=7, flags=0x8000))
    r = parse(w)
    assert r.rcode() == dns.rcode.BADVERS and r.edns == 0
    assert r.ednsflags & dns.flags.DO


@pytest.mark.parametrize("case,wire", [
    ("two_opts", hdr(ar=2) + question() + opt() + opt()),
    ("option_overruns_rdata", hdr(ar=1) + question() + opt(rdata=b"\x00\x0a\x00\x10abc")),
    ("truncated_option_header", hdr(ar=1) + question() + opt(rdata=b"\x00")),
    ("rdlen_past_end", hdr(ar=1) + question() + b"\x00" + struct.pack("!HHIH", 41, 1232, 0, 50)),
    ("opt_owner_not_root", hdr(ar=1) + question() + opt(owner=b"\x01a\x00")),
    ("opt_in_answer_section", hdr(an=1) + question() + opt()),
    ("opt_in_authority_section", hdr(ns=1) + question() + opt()),
])
def test_broken_opt_is_formerr(gtmd, case, wire):
    w = raw_udp(gtmd, wire)
    assert w is not None, case
    h = header(w)
    assert h["id"] == 0x5a5a
    assert h["flags"] & dns.flags.QR
    assert h["rcode"] == dns.rcode.FORMERR
    assert h["an"] == 0 and h["ns"] == 0
    r = parse(w)
    assert r.rcode() == dns.rcode.FORMERR
    assert r.answer == []


@pytest.mark.parametrize("tcp", TRANSPORTS)
def test_do_bit_echoed(gtmd, tcp):
    r = query(gtmd, "www.example.com.", tcp=tcp, use_edns=0, want_dnssec=True)
    assert r.ednsflags & dns.flags.DO
    assert_www(r)
    r = query(gtmd, "nope.example.com.", tcp=tcp, use_edns=0, want_dnssec=True)
    assert r.rcode() == dns.rcode.NXDOMAIN and r.ednsflags & dns.flags.DO
    r = query(gtmd, "www.example.com.", tcp=tcp, use_edns=0)
    assert not r.ednsflags & dns.flags.DO


def test_unknown_edns_options_ignored(gtmd):
    r = parse(raw_udp(gtmd, hdr(ar=1) + question() + opt(rdata=b"\xff\x00\x00\x02ab")))
    assert_www(r)
    assert r.edns == 0 and r.options == ()
    # NSID (3) and COOKIE (10) used to be ignored the same way; since issue 11
    # they are answered (test_identity.py, test_cookies.py): the same
    # answer, with the NSID or COOKIE option added.
    r = parse(raw_udp(gtmd, hdr(ar=1) + question() + opt(rdata=b"\x00\x03\x00\x00")))
    assert_www(r)
    assert [o.otype for o in r.options] == [dns.edns.NSID]
    r = parse(raw_udp(gtmd, hdr(ar=1) + question() + opt(rdata=b"\x00\x0a\x00\x08abcdefgh")))
    assert_www(r)
    assert [o.otype for o in r.options] == [dns.edns.COOKIE]


@pytest.mark.parametrize("tcp", TRANSPORTS)
@pytest.mark.parametrize("flags", [0x0000, 0x0100, 0x0010, 0x0110])
def test_rd_copied_cd_cleared(gtmd, tcp, flags):
    """RD is copied; CD is cleared in authoritative answers (RFC 4035 §3.1.6
    SHOULD), as NSD and Knot do."""
    wire = hdr(flags=flags) + question()
    w = raw_tcp(gtmd, wire) if tcp else raw_udp(gtmd, wire)
    h = header(w)
    assert h["flags"] & dns.flags.RD == flags & dns.flags.RD
    assert not h["flags"] & dns.flags.CD
    assert h["flags"] & dns.flags.QR and h["flags"] & dns.flags.AA
    assert not h["flags"] & (dns.flags.RA | dns.flags.AD)
    assert h["an"] == 2


def test_query_flags_aa_tc_ignored(gtmd):
    w = raw_udp(gtmd, hdr(flags=0x0700) + question("nope.example.com."))
    h = header(w)
    assert h["rcode"] == dns.rcode.NXDOMAIN
    assert not h["flags"] & dns.flags.TC
    assert h["flags"] & dns.flags.AA


# ---- truncation ---------------------------------------------------------------------------


def test_tc_without_edns_over_udp(gtmd):
    q = dns.message.make_query("big.example.com.", "TXT")
    w = raw_udp(gtmd, q.to_wire())
    assert len(w) <= 512
    r = parse(w)
    assert r.flags & dns.flags.TC and r.flags & dns.flags.AA
    assert r.rcode() == dns.rcode.NOERROR
    # never a partial RRset
    assert all(len(x) == 8 for x in r.answer)
    assert r.question[0].name == dns.name.from_text("big.example.com.")


def test_full_answer_over_tcp(gtmd):
    r = query(gtmd, "big.example.com.", "TXT", tcp=True)
    assert not r.flags & dns.flags.TC and r.flags & dns.flags.AA
    assert len(r.answer) == 1 and len(r.answer[0]) == 8
    texts = sorted(rd.strings[0].decode() for rd in r.answer[0])
    assert [t[0] for t in texts] == [str(i) for i in range(8)]


def test_big_answer_fits_with_edns(gtmd):
    r = query(gtmd, "big.example.com.", "TXT", use_edns=0)
    assert not r.flags & dns.flags.TC and len(r.answer[0]) == 8


# ---- malformed input ---------------------------------------------------------------------


def test_response_bit_set_gets_no_reply(gtmd):
    assert raw_udp(gtmd, hdr(flags=0x8100) + question(), timeout=NO_REPLY_WAIT) is None
    assert raw_udp(gtmd, hdr(flags=0x8500, ar=1) + question() + opt(),
                   timeout=NO_REPLY_WAIT) is None
    assert_alive(gtmd)


@pytest.mark.parametrize("length", [0, 1, 2, 5, 11])
def test_shorter_than_header_gets_no_reply(gtmd, length):
    wire = (hdr() + question())[:length]
    assert raw_udp(gtmd, wire, timeout=NO_REPLY_WAIT) is None
    assert_alive(gtmd)


@pytest.mark.parametrize("qd", [0, 2, 3, 65535])
def test_qdcount_not_one_is_formerr(gtmd, qd):
    body = question() * min(qd, 3)
    w = raw_udp(gtmd, hdr(qd=qd) + body)
    h = header(w)
    assert h["id"] == 0x5a5a and h["flags"] & dns.flags.QR
    assert h["rcode"] == dns.rcode.FORMERR
    assert h["an"] == h["ns"] == 0


@pytest.mark.parametrize("case,wire", [
    ("pointer_to_itself", hdr() + b"\xc0\x0c" + struct.pack("!HH", 1, 1)),
    ("pointer_loop_two", hdr() + b"\x01a\xc0\x0e\xc0\x0c" + struct.pack("!HH", 1, 1)),
    ("pointer_forward", hdr() + b"\x03www\xc0\x20" + struct.pack("!HH", 1, 1) + b"\x00" * 20),
    ("label_past_end", hdr() + b"\x3fwww"),
    ("no_qtype", hdr() + dns.name.from_text("www.example.com.").to_wire() + b"\x00"),
    ("reserved_label_type", hdr() + b"\x83www\x00" + struct.pack("!HH", 1, 1)),
])
def test_bad_question_is_formerr(gtmd, case, wire):
    w = raw_udp(gtmd, wire)
    assert w is not None, case
    h = header(w)
    assert h["id"] == 0x5a5a
    assert h["rcode"] == dns.rcode.FORMERR
    assert h["an"] == h["ns"] == 0


@pytest.mark.parametrize("case,wire", [
    ("arcount", hdr(ar=1) + question()),
    ("ancount", hdr(an=2) + question()),
    ("nscount", hdr(ns=1, ar=1) + question() + opt()),
    ("rr_cut_short", hdr(ar=2) + question() + opt() + b"\x00\x00\x01"),
])
def test_counts_past_end_formerr_with_question(gtmd, case, wire):
    w = raw_udp(gtmd, wire)
    h = header(w)
    assert h["rcode"] == dns.rcode.FORMERR
    r = parse(w)
    assert r.rcode() == dns.rcode.FORMERR
    assert len(r.question) == 1
    assert r.question[0].name == dns.name.from_text("www.example.com.")
    assert r.question[0].rdtype == dns.rdatatype.A
    assert r.answer == []


def test_notify_for_a_zone_we_are_not_secondary_of_is_refused(gtmd):
    """NOTIFY (opcode 4) is answered: REFUSED with AA when gtmd is not a
    secondary of that zone (as NSD answers), opcode and question echoed;
    also for a NOTIFY without AA (the refusal is ours either way)."""
    for flags in ((4 << 11) | 0x0400, 4 << 11):
        w = raw_udp(gtmd, hdr(flags=flags) + question("example.com.", 6))
        h = header(w)
        assert h["opcode"] == 4 and h["rcode"] == dns.rcode.REFUSED, h
        assert h["flags"] & dns.flags.QR
        assert h["flags"] & dns.flags.AA, h
    assert h["an"] == h["ns"] == 0


def test_unsigned_update_is_refused(gtmd):
    """UPDATE (RFC 2136) to a zone of ours that takes none, unsigned:
    REFUSED, opcode and zone section echoed (doc/updates.md); to a zone we
    do not serve: NOTAUTH."""
    w = raw_udp(gtmd, hdr(flags=5 << 11) + question("example.com.", 6))
    h = header(w)
    assert h["opcode"] == 5 and h["rcode"] == dns.rcode.REFUSED, h
    assert h["flags"] & dns.flags.QR and h["qd"] == 1
    w = raw_udp(gtmd, hdr(flags=5 << 11) + question("elsewhere.test.", 6))
    assert header(w)["rcode"] == dns.rcode.NOTAUTH


@pytest.mark.parametrize("opcode", [1, 2, 3, 6, 15])
def test_opcode_other_than_query_is_notimp(gtmd, opcode):
    qtype = 6 if opcode == 4 else 1
    name = "example.com." if opcode == 4 else "www.example.com."
    w = raw_udp(gtmd, hdr(flags=opcode << 11) + question(name, qtype))
    h = header(w)
    assert h["opcode"] == opcode  # echoed
    assert h["rcode"] == dns.rcode.NOTIMP
    assert h["flags"] & dns.flags.QR
    assert not h["flags"] & dns.flags.AA
    assert h["an"] == h["ns"] == 0


@pytest.mark.parametrize("tcp", TRANSPORTS)
@pytest.mark.parametrize("rdtype", ["AXFR", "IXFR"])
def test_zone_transfers_refused(gtmd, tcp, rdtype):
    """A zone without "transfer": AXFR over UDP is NOTIMP (as NSD and Knot);
    IXFR, which may use UDP (RFC 1995 §2), and AXFR over TCP are REFUSED."""
    q = dns.message.make_query("example.com.", rdtype)
    wire = q.to_wire()
    w = raw_tcp(gtmd, wire) if tcp else raw_udp(gtmd, wire)
    r = parse(w)
    notimp = not tcp and rdtype == "AXFR"
    assert r.rcode() == (dns.rcode.NOTIMP if notimp else dns.rcode.REFUSED)
    assert not r.flags & dns.flags.AA
    assert r.answer == [] and r.authority == []
    assert r.question[0].rdtype == dns.rdatatype.from_text(rdtype)


@pytest.mark.parametrize("tcp", TRANSPORTS)
def test_0x20_case_preserved(gtmd, tcp):
    name = "wWw.ExAmPlE.cOm."
    wire = hdr() + question(name)
    w = raw_tcp(gtmd, wire) if tcp else raw_udp(gtmd, wire)
    # the question section is echoed byte for byte
    assert w[12:12 + len(question(name))] == question(name)
    r = parse(w)
    assert r.question[0].name.to_text() == name
    assert_www(r, owner=name)
    name = "NoPe.ExAmple.COM."
    r = parse(raw_udp(gtmd, hdr() + question(name)))
    assert r.question[0].name.to_text() == name
    assert r.rcode() == dns.rcode.NXDOMAIN


def _long_name(total, suffix):
    """Wire name of exactly total octets ending in suffix (list of labels)."""
    rest = total - (sum(1 + len(x) for x in suffix) + 1)
    labels = []
    while rest > 0:
        take = min(64, rest)
        if rest - take == 1:
            take -= 1
        labels.append(b"a" * (take - 1))
        rest -= take
    return b"".join(bytes([len(x)]) + x for x in labels + suffix) + b"\x00"


def test_name_of_255_octets(gtmd):
    wild = _long_name(255, [b"wild", b"example", b"com"])
    assert len(wild) == 255
    r = parse(raw_udp(gtmd, hdr() + wild + struct.pack("!HH", 1, 1)))
    assert r.rcode() == dns.rcode.NOERROR and r.flags & dns.flags.AA
    assert rrs(r.answer) == {(r.question[0].name.to_text(), "A", 3600, "192.0.2.99")}
    nx = _long_name(255, [b"example", b"com"])
    r = parse(raw_udp(gtmd, hdr(ar=1) + nx + struct.pack("!HH", 1, 1) + opt()))
    assert_negative(r, dns.rcode.NXDOMAIN)


@pytest.mark.parametrize("total", [256, 257, 300])
def test_name_longer_than_255_octets_is_formerr(gtmd, total):
    name = _long_name(total, [b"wild", b"example", b"com"])
    w = raw_udp(gtmd, hdr() + name + struct.pack("!HH", 1, 1))
    h = header(w)
    assert h["rcode"] == dns.rcode.FORMERR
    assert h["an"] == 0


def test_query_id_echoed(gtmd):
    for qid in (0, 1, 0x7FFF, 0xFFFF):
        w = raw_udp(gtmd, hdr(qid=qid) + question())
        assert header(w)["id"] == qid


# ---- known gtmd bugs (doc/dns-behaviour.md) -------------------------------------------


def _last_rr(w):
    """(type, rdata) of the last record of a message, walking it by hand."""
    def skip(p):
        for _ in range(128):
            c = w[p]
            if c == 0:
                return p + 1
            if c & 0xC0 == 0xC0:
                return p + 2
            p += 1 + c
        raise ValueError("name")
    h = header(w)
    p = 12
    for _ in range(h["qd"]):
        p = skip(p) + 4
    last = None
    for _ in range(h["an"] + h["ns"] + h["ar"]):
        q = skip(p)
        rtype = struct.unpack("!H", w[q:q + 2])[0]
        rdlen = struct.unpack("!H", w[q + 8:q + 10])[0]
        last = (rtype, w[q + 10:q + 10 + rdlen])
        p = q + 10 + rdlen
    return last


def _tsig_query(key_name="nokey."):
    q = dns.message.make_query("www.example.com.", "A")
    q.use_tsig(dns.tsigkeyring.from_text({key_name: "c2VjcmV0c2VjcmV0c2VjcmV0"}), keyname=key_name)
    return q.to_wire()


def test_qclass_any_answered_from_in_data(gtmd):
    r = parse(raw_udp(gtmd, hdr() + question(rdclass=255)))
    assert r.rcode() == dns.rcode.NOERROR
    assert {rd.to_text() for x in r.answer for rd in x} == WWW_A
    r = parse(raw_udp(gtmd, hdr() + question("nope.example.com.", rdclass=255)))
    assert r.rcode() == dns.rcode.NXDOMAIN


def test_tsig_unknown_key_is_notauth_badkey(gtmd):
    w = raw_udp(gtmd, _tsig_query())
    h = header(w)
    assert h["rcode"] == dns.rcode.NOTAUTH
    assert h["an"] == 0
    rtype, rdata = _last_rr(w)
    assert rtype == dns.rdatatype.TSIG
    # TSIG RDATA: algorithm name, time(6) fudge(2) MAC size(2) MAC, id(2) error(2) ...
    alg_end = rdata.index(b"\x00") + 1
    mac_size = struct.unpack("!H", rdata[alg_end + 8:alg_end + 10])[0]
    err = struct.unpack("!H", rdata[alg_end + 12 + mac_size:alg_end + 14 + mac_size])[0]
    assert err == 17  # BADKEY


@pytest.mark.parametrize("case", ["not_last", "malformed"])
def test_misplaced_or_malformed_tsig_is_formerr(gtmd, case):
    if case == "not_last":
        w = _tsig_query()
        ar = struct.unpack("!H", w[10:12])[0]
        wire = w[:10] + struct.pack("!H", ar + 1) + w[12:] + opt()
    else:
        wire = (hdr(ar=1) + question() + b"\x01k\x00" + struct.pack("!HHIH", 250, 255, 0, 3)
                + b"abc")
    h = header(raw_udp(gtmd, wire))
    assert h["rcode"] == dns.rcode.FORMERR
    assert h["an"] == 0


# ---- garbage -------------------------------------------------------------------------------


def _garbage(rng, valid):
    kind = rng.randrange(4)
    if kind == 0:  # pure noise
        return bytes(rng.randrange(256) for _ in range(rng.randrange(0, 600)))
    if kind == 1:  # a valid query with a few bytes flipped
        b = bytearray(valid)
        for _ in range(rng.randrange(1, 6)):
            b[rng.randrange(len(b))] = rng.randrange(256)
        return bytes(b)
    if kind == 2:  # a valid query cut short, or with noise appended
        cut = valid[:rng.randrange(len(valid))]
        return cut if rng.randrange(2) else valid + bytes(rng.randrange(256) for _ in range(9))
    # a plausible header with random counts and a random tail
    return (struct.pack("!HHHHHH", rng.randrange(65536), rng.randrange(65536) & 0x7FFF,
                        rng.randrange(4), rng.randrange(4), rng.randrange(4), rng.randrange(4))
            + bytes(rng.randrange(256) for _ in range(rng.randrange(0, 120))))


def test_survives_garbage_burst(gtmd):
    rng = random.Random(20261122)
    valid = hdr(ar=1) + question() + opt()
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.setblocking(False)
    replies = []
    deadline = time.monotonic() + 20.0
    try:
        for i in range(2000):
            if time.monotonic() > deadline:
                break
            try:
                s.sendto(_garbage(rng, valid), (gtmd.addr, gtmd.port))
            except BlockingIOError:
                time.sleep(0.001)
            for _ in range(64):  # drain what came back so far
                try:
                    replies.append(s.recv(65535))
                except BlockingIOError:
                    break
            if i % 200 == 199:
                time.sleep(0.005)
        sent_all = i == 1999
        end = time.monotonic() + 0.5
        while time.monotonic() < end:
            try:
                replies.append(s.recv(65535))
            except BlockingIOError:
                time.sleep(0.01)
    finally:
        s.close()
    assert sent_all
    # whatever came back is a well-formed response header
    for w in replies:
        assert len(w) >= 12
        assert struct.unpack("!H", w[2:4])[0] & dns.flags.QR
        assert len(w) <= 1232
    assert replies, "a burst containing near-valid queries got no reply at all"
    assert_alive(gtmd)
    assert_www(query(gtmd, "www.example.com.", tcp=True))
    assert_negative(query(gtmd, "nope.example.com."), dns.rcode.NXDOMAIN)


def test_survives_tcp_garbage(gtmd):
    rng = random.Random(7)
    for _ in range(20):
        with socket.create_connection((gtmd.addr, gtmd.port), timeout=2.0) as c:
            try:
                c.sendall(bytes(rng.randrange(256) for _ in range(rng.randrange(1, 300))))
            except OSError:
                pass
    assert_alive(gtmd)
    assert_www(query(gtmd, "www.example.com.", tcp=True))

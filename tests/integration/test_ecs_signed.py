"""Odd and malformed EDNS Client Subnet options (RFC 7871) sent with DO=1 to
a zone signed at load that has geo and hashed policy records
(doc/dns-behaviour.md, "EDNS Client Subnet"; doc/policies.md, "ECS scopes").

A malformed option (bits set past the source prefix, RFC 7871 §6; a source
prefix beyond the family's length, an unknown family, too many or too few
address octets, a scope in a query, a second ECS option, an option too
short for its fixed part) gets FORMERR: a valid packet (dnspython parses
it), the question echoed, no records, no OPT (so no ECS and no RRSIG), and
gtmd answers the next query as before. A valid but unusual option (source
prefix 0, /32, /128, a prefix shorter than the database's networks) gets
the signed answer with its ECS echoed: FAMILY, SOURCE PREFIX-LENGTH and
ADDRESS as sent, the SCOPE the answer holds for (geo_oracle.py), 0 for a
source prefix 0, and never past the family's length.

Endpoints have no check (always up), so answers only depend on the client."""
import ipaddress
import os
import shutil
import socket
import struct
import tempfile

import dns.dnssec
import dns.edns
import dns.flags
import dns.message
import dns.name
import dns.query
import dns.rcode
import dns.rdataclass
import dns.rdatatype
import pytest

import geo_oracle as oracle
from adminlib import Admin, admin_port, admin_section
from backends import poll
from conftest import DATA, Gtmd, free_port
from dnssec_zones import CHILD, INSEC, ORIGIN, SignedSet, missing_tools
from test_geo import BY_ADDR, GEO, GEO_MAP, REGIONS

ADDR = "127.0.0.1"
GEO_NAME = "geo." + ORIGIN
HS_NAME = "hs." + ORIGIN


@pytest.fixture(scope="module")
def signed_geo():
    tool = missing_tools("nsec")
    if tool:
        pytest.skip("signing tools not installed (%s missing)" % tool)
    workdir = tempfile.mkdtemp(prefix="gtmd-ecs-signed-")
    g = None
    try:
        zones = SignedSet(workdir, "nsec")
        gdir = os.path.join(workdir, "gtmd")
        os.mkdir(gdir)
        shutil.copy(os.path.join(DATA, "geo-city.mmdb"), gdir)
        gport = free_port()
        dnssec = {"keys": [os.path.relpath(k, gdir) for k in (zones.ksk, zones.zsk)],
                  "denial": "nsec"}
        cfg = {"listen": ["%s:%d" % (ADDR, gport)], "workers": 1,
               "zones": [{"origin": ORIGIN, "file": zones.parent_unsigned, "dnssec": dnssec},
                         {"origin": CHILD, "file": zones.child},
                         {"origin": INSEC, "file": zones.insec}],
               "geoip": {"database": "geo-city.mmdb"},
               "regions": {r: {"location": list(loc)} for r, (_, loc) in REGIONS.items()},
               "pools": {"web": {"endpoints": [{"name": r, "address": a, "region": r}
                                               for r, (a, _) in REGIONS.items()]}},
               "records": {GEO_NAME: {"pool": "web", "policy": "geo", "geo": GEO, "ttl": 30},
                           HS_NAME: {"pool": "web", "policy": "all", "select": "hashed",
                                     "answers": 1, "ttl": 30}},
               "admin": admin_section(gdir, admin_port(gport))}
        g = Gtmd(gdir, cfg, gport).start()
        Admin.of(g).wait_ready()
        st = type("S", (), {})()
        st.g, st.zones = g, zones
        st.keys = None
        assert poll(lambda: ask(st, ecs_option(1, 24, 0, [10, 1, 2]))[0] is not None, 5)[0]
        yield st
    finally:
        if g:
            g.stop()
            g.check_sanitizer()
        shutil.rmtree(workdir, ignore_errors=True)


def ecs_option(family, source, scope, addr):
    """The wire form of one ECS option (code, length, data)."""
    data = struct.pack("!HBB", family, source, scope) + bytes(addr)
    return struct.pack("!HH", 8, len(data)) + data


def query_wire(name, options, qid=0x4242):
    """A query for name A with DO=1 whose OPT carries options (wire octets)."""
    q = dns.message.make_query(name, "A", use_edns=0, want_dnssec=True)
    q.id = qid
    wire = bytearray(q.to_wire())
    # The OPT record is the last 11 octets, RDLENGTH 0: append the options.
    assert wire[-2:] == b"\x00\x00"
    opts = b"".join(options)
    wire[-2:] = struct.pack("!H", len(opts))
    return bytes(wire) + opts


def ask(st, *options, name=GEO_NAME, tcp=False):
    """(parsed reply, raw octets) for one query with these ECS options; a
    reply that dnspython cannot parse fails the test."""
    wire = query_wire(name, options)
    for _ in range(3):
        try:
            if tcp:
                with socket.create_connection((ADDR, st.g.port), timeout=2) as s:
                    s.sendall(struct.pack("!H", len(wire)) + wire)
                    raw = b""
                    while len(raw) < 2 or len(raw) < 2 + struct.unpack("!H", raw[:2])[0]:
                        d = s.recv(65537)
                        if not d:
                            break
                        raw += d
                    raw = raw[2:]
            else:
                with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
                    s.settimeout(1.0)
                    s.sendto(wire, (ADDR, st.g.port))
                    raw = s.recv(65535)
        except OSError:
            continue
        return dns.message.from_wire(raw), raw
    return None, None


def keys(st):
    """The zone's DNSKEY RRset, verified with itself (the KSK signs it)."""
    if st.keys is None:
        q = dns.message.make_query(ORIGIN, "DNSKEY", want_dnssec=True)
        r = dns.query.tcp(q, ADDR, port=st.g.port, timeout=5)
        origin = dns.name.from_text(ORIGIN)
        k = r.find_rrset(r.answer, origin, dns.rdataclass.IN, dns.rdatatype.DNSKEY)
        sig = r.find_rrset(r.answer, origin, dns.rdataclass.IN, dns.rdatatype.RRSIG,
                           dns.rdatatype.DNSKEY)
        dns.dnssec.validate(k, sig, {origin: k})
        st.keys = k
    return st.keys


def signed_regions(st, r, name=GEO_NAME):
    """The regions of the A RRset at name in r, whose RRSIG must verify."""
    n = dns.name.from_text(name)
    rrset = r.find_rrset(r.answer, n, dns.rdataclass.IN, dns.rdatatype.A)
    sig = r.find_rrset(r.answer, n, dns.rdataclass.IN, dns.rdatatype.RRSIG, dns.rdatatype.A)
    dns.dnssec.validate(rrset, sig, {dns.name.from_text(ORIGIN): keys(st)})
    return frozenset(BY_ADDR[rr.address] for rr in rrset)


def ecs_of(r):
    return [o for o in r.options if o.otype == dns.edns.ECS]


def assert_formerr(r, raw, what, name=GEO_NAME):
    assert r is not None, "%s: no reply" % what
    assert r.id == 0x4242 and r.flags & dns.flags.QR, (what, r)
    assert r.rcode() == dns.rcode.FORMERR, (what, dns.rcode.to_text(r.rcode()))
    # The question is echoed; nothing else is in the reply.
    assert [(q.name, q.rdtype) for q in r.question] == [
        (dns.name.from_text(name), dns.rdatatype.A)], (what, r.question)
    assert not r.answer and not r.authority and not r.additional, (what, r)
    assert r.edns == -1 and not r.options, (what, "OPT in a FORMERR", r.options)
    assert struct.unpack("!HHHH", raw[4:12]) == (1, 0, 0, 0), (what, raw[:12].hex())
    assert b"\x00\x2e" not in raw[12 + len(name) + 1 + 4:], (what, "RRSIG type in", raw.hex())


V4, V6 = 1, 2
V6_NET = list(ipaddress.ip_address("2001:db8:1:2::").packed)

MALFORMED = {
    # RFC 7871 §6: bits set past the SOURCE PREFIX-LENGTH (SHOULD FORMERR).
    "v4 /23, bit 24 set": [ecs_option(V4, 23, 0, [10, 1, 3])],
    "v4 /20, low nibble set": [ecs_option(V4, 20, 0, [10, 1, 0x0F])],
    "v4 /1, second bit set": [ecs_option(V4, 1, 0, [0xC0])],
    "v4 /31, last bit set": [ecs_option(V4, 31, 0, [10, 1, 2, 1])],
    "v6 /60, bit 61 set": [ecs_option(V6, 60, 0, V6_NET[:7] + [0x08])],
    "v6 /127, last bit set": [ecs_option(V6, 127, 0, V6_NET[:15] + [1])],
    # Source prefix beyond the family's length.
    "v4 /33": [ecs_option(V4, 33, 0, [10, 1, 2, 0, 0])],
    "v4 /255": [ecs_option(V4, 255, 0, [0] * 32)],
    "v6 /129": [ecs_option(V6, 129, 0, V6_NET + [0])],
    "v6 /255": [ecs_option(V6, 255, 0, [0] * 32)],
    # Unknown families.
    "family 0": [ecs_option(0, 24, 0, [10, 1, 2])],
    "family 3": [ecs_option(3, 24, 0, [10, 1, 2])],
    "family 65535": [ecs_option(0xFFFF, 0, 0, [])],
    # Too many address octets.
    "v4 /16, 3 octets": [ecs_option(V4, 16, 0, [10, 1, 0])],
    "v4 /0, 1 octet": [ecs_option(V4, 0, 0, [0])],
    "v4 /24, 16 octets": [ecs_option(V4, 24, 0, [10, 1, 2] + [0] * 13)],
    "v6 /48, 7 octets": [ecs_option(V6, 48, 0, V6_NET[:7])],
    # Too few.
    "v4 /24, 2 octets": [ecs_option(V4, 24, 0, [10, 1])],
    "v4 /32, no octet": [ecs_option(V4, 32, 0, [])],
    "v6 /64, 7 octets": [ecs_option(V6, 64, 0, V6_NET[:7])],
    "v6 /128, 4 octets": [ecs_option(V6, 128, 0, V6_NET[:4])],
    "option of 3 octets": [struct.pack("!HHHB", 8, 3, V4, 24)],
    "empty option": [struct.pack("!HH", 8, 0)],
    # A scope in a query; two options (each valid).
    "scope 24 in a query": [ecs_option(V4, 24, 24, [10, 1, 2])],
    "two ECS options": [ecs_option(V4, 24, 0, [10, 1, 2]), ecs_option(V4, 24, 0, [10, 1, 3])],
    # A malformed ECS after options gtmd would otherwise answer (NSID,
    # a client cookie): the OPT as a whole is not trusted, nothing echoed.
    "after NSID and COOKIE": [struct.pack("!HH", 3, 0),
                              struct.pack("!HH", 10, 8) + b"\x01" * 8,
                              ecs_option(V4, 23, 0, [10, 1, 3])],
}


def test_malformed_ecs_with_do_is_formerr(signed_geo):
    st = signed_geo
    good = ecs_option(V4, 24, 0, [10, 1, 2])
    want = oracle.answer(GEO_MAP, *oracle.parse("10.1.2.0"))
    for what, opts in MALFORMED.items():
        for tcp in (False, True):
            for name in (GEO_NAME, HS_NAME):
                r, raw = ask(st, *opts, name=name, tcp=tcp)
                assert_formerr(r, raw, "%s (%s, %s)" % (what, name, "tcp" if tcp else "udp"),
                               name)
        # The next query is answered, signed, with its own ECS.
        r, _ = ask(st, good)
        assert r is not None and r.rcode() == dns.rcode.NOERROR, (what, r)
        assert signed_regions(st, r) == want, (what, r)
        assert [(o.family, o.srclen, o.scopelen, o.address) for o in ecs_of(r)] == [
            (V4, 24, 24, "10.1.2.0")], (what, ecs_of(r))
    assert st.g.proc.poll() is None
    assert Admin.of(st.g).get("/v1/status").status == 200


# (family, source prefix, address text) of valid but unusual options.
VALID = [
    (V4, 0, "0.0.0.0"), (V6, 0, "::"), (V4, 32, "10.1.2.7"), (V4, 32, "127.0.0.1"),
    (V6, 128, "2001:db8:1:2::5"), (V4, 8, "10.0.0.0"), (V4, 1, "128.0.0.0"),
    (V4, 25, "10.1.2.128"), (V6, 57, "2001:db8:1:80::"), (V6, 1, "::"), (V6, 20, "3fff::"),
    (V4, 31, "192.0.2.66"),
    # IPv4-mapped addresses sent as IPv6 are IPv6 addresses to ECS.
    (V6, 120, "::ffff:10.1.2.0"), (V6, 128, "::ffff:10.1.2.7"), (V6, 96, "::ffff:0.0.0.0"),
    (V6, 64, "::"),
]


def test_unusual_valid_ecs_gets_a_signed_answer_and_a_sound_scope(signed_geo):
    st = signed_geo
    for family, source, text in VALID:
        packed = list(ipaddress.ip_address(text).packed)[:(source + 7) // 8]
        fam = 4 if family == V4 else 6
        bits = 32 if family == V4 else 128
        for name in (GEO_NAME, HS_NAME):
            what = "%s/%d %s" % (text, source, name)
            r, _ = ask(st, ecs_option(family, source, 0, packed), name=name)
            assert r is not None and r.rcode() == dns.rcode.NOERROR, (what, r)
            regions = signed_regions(st, r, name)
            ecs = ecs_of(r)
            assert len(ecs) == 1, (what, r.options)
            e = ecs[0]
            # FAMILY, SOURCE PREFIX-LENGTH and ADDRESS as sent (RFC 7871 §7.2.1).
            assert (e.family, e.srclen, e.address) == (family, source, text), (what, e)
            assert 0 <= e.scopelen <= bits, (what, e.scopelen)
            if source == 0:
                # No location given: the answer holds for everyone.
                assert e.scopelen == 0, (what, e.scopelen)
                continue
            if name == HS_NAME:
                # Hashed on the client's /24 (/56), or what it sent if shorter.
                assert e.scopelen == min(source, 24 if family == V4 else 56), (what, e.scopelen)
                continue
            _, a = oracle.parse(text)
            assert regions == oracle.answer(GEO_MAP, fam, a), (what, regions)
            assert e.scopelen == oracle.expected_scope(GEO_MAP, fam, a), (what, e.scopelen)


def test_answers_that_do_not_depend_on_the_client_have_scope_0(signed_geo):
    """Static data, NXDOMAIN, a referral, a name outside our zones: the ECS
    is echoed with scope 0 (or not at all), whatever the source prefix; a
    malformed option is FORMERR there too (the query is parsed first)."""
    st = signed_geo
    cases = [("www." + ORIGIN, dns.rcode.NOERROR), ("nosuch." + ORIGIN, dns.rcode.NXDOMAIN),
             ("x.ext." + ORIGIN, dns.rcode.NOERROR), ("www.example.org.", dns.rcode.REFUSED)]
    for name, rcode in cases:
        for opt, echo in ((ecs_option(V4, 24, 0, [10, 1, 2]), (V4, 24, "10.1.2.0")),
                          (ecs_option(V6, 128, 0, V6_NET[:15] + [5]),
                           (V6, 128, "2001:db8:1:2::5")),
                          (ecs_option(V4, 0, 0, []), (V4, 0, "0.0.0.0"))):
            r, _ = ask(st, opt, name=name)
            assert r is not None and r.rcode() == rcode, (name, echo, r)
            assert [(o.family, o.srclen, o.address, o.scopelen) for o in ecs_of(r)] in (
                [], [echo + (0,)]), (name, echo, ecs_of(r))
        r, raw = ask(st, ecs_option(V4, 23, 0, [10, 1, 3]), name=name)
        assert_formerr(r, raw, "bits past the prefix for " + name, name)

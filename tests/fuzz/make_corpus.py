#!/usr/bin/python3
"""Writes the seed corpora of the fuzz targets; the results are committed,
rerun after adding cases.

  make_corpus.py [admin] [packet] [config] [zone] [probe] [fleet] [update]
                 (default: all)

packet (tests/fuzz/corpus/packet, needs dnspython): well-formed queries of
every answering path plus known-bad packets.

admin (tests/fuzz/corpus/admin, standard library only): inputs of
tests/fuzz/fuzz_admin.c, whose first byte selects the parser: 'B' + a
request body (then the POST /v1/overrides and /v1/drills rules), 'E' + a
/v1/explain query string, 'U' + an error message, 'X' + a body whose
audit excerpt is taken. Good and bad cases of each rule in
src/admin/admin_request.c and src/drill/drill_spec.c.

config (tests/fuzz/corpus/config, standard library only): configuration
files for tests/fuzz/fuzz_config.c: a base using every section, every key
with wrong types or missing, every policy/select/when_all_down combination,
binding conflicts with the test zones, large pools, broken JSON.

zone (tests/fuzz/corpus/zone, standard library only): master files for
origin example.com. (tests/fuzz/fuzz_zone.c): every record type ldns reads,
good and broken, every directive ($ORIGIN, $TTL, $INCLUDE of the harness's
"inc.zone", itself, missing or outside files), every validation rule broken,
and syntax edge cases (escapes, parentheses, long lines, NUL, CRLF).

probe (tests/fuzz/corpus/probe, standard library only): inputs of
tests/fuzz/fuzz_probe.c, whose first byte picks a check: 0-3 http(s)
(then a byte seeding the read sizes and the reply), 4-9 dns (then the
reply datagram). Valid and odd replies: chunked, folded and huge headers,
negative or huge Content-Length, truncation, NUL, non-UTF-8, compressed
bodies, bad status lines; DNS answers of each type, every rcode, QR clear,
other opcodes, compression pointers and loops, truncated records.

fleet (tests/fuzz/corpus/fleet, standard library only): inputs of
tests/fuzz/fuzz_fleet.c: a byte seeding the chunking, then a stream of
etcd JSON gateway objects: watch messages and range replies with node
keys, peers' reports, override records and sequence keys, valid and with
wrong JSON types, bad base64, huge numbers, and framing edge cases
(strings with braces, escapes, garbage between objects, truncation).

update (tests/fuzz/corpus/update, standard library only): inputs of
tests/fuzz/fuzz_update.c: an octet choosing the rules and signing, then an
UPDATE for u.test.: additions and deletions of every kind (RRset, name,
record; CNAME beside data, the apex's SOA and NS, SOA serials), each kind
of prerequisite passing and failing, and malformed messages (TTLs and
data where RFC 2136 forbids them, other classes, meta types, names
outside the zone, compression pointers, truncation, counts past the
end)."""
import base64
import json
import os
import re
import struct
import sys

HERE = os.path.dirname(os.path.abspath(__file__))


def q(name, rdtype="A", **kw):
    import dns.message  # dnspython: needed by the packet corpus only

    m = dns.message.make_query(name, rdtype, **kw)
    m.id = 0x4242
    return m.to_wire()


def q_msg(name, rdtype="A", **kw):
    import dns.message

    m = dns.message.make_query(name, rdtype, **kw)
    m.id = 0x4242
    return m


def signed(m, keyname):
    """m signed with TSIG by the key of tests/data/fuzz-policy.conf.json
    (hmac-sha256, octets 0..31), at a fixed time: rerunning the script
    changes nothing, and the replay sees a correct MAC outside the fudge
    (BADTIME), the signed path all the same."""
    import time as _time

    import dns.tsigkeyring

    ring = dns.tsigkeyring.from_text(
        {"xfr.example.": ("hmac-sha256", "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8="),
         "other.": ("hmac-sha256", "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=")})
    m.use_tsig(ring, keyname=keyname)
    real = _time.time
    _time.time = lambda: 1795000000.0
    try:
        return m.to_wire()
    finally:
        _time.time = real


# ---- packet: raw wire helpers (exact control over every field) -----------

def wire_name(name):
    if name in (".", ""):
        return b"\x00"
    out = b""
    for label in name.rstrip(".").split("."):
        b = label.encode()
        out += bytes([len(b)]) + b
    return out + b"\x00"


def opt_rr(payload=1232, ext_rcode=0, version=0, do=False, options=b"", owner=b"\x00",
           rdlen=None):
    ttl = (ext_rcode << 24) | (version << 16) | (0x8000 if do else 0)
    n = len(options) if rdlen is None else rdlen
    return owner + struct.pack("!HHIH", 41, payload, ttl, n) + options


def option(code, data, length=None):
    return struct.pack("!HH", code, len(data) if length is None else length) + data


def ecs_option(family, source, scope, addr, length=None):
    return option(8, struct.pack("!HBB", family, source, scope) + addr, length)


def raw_query(name, qtype=1, qclass=1, qid=0x4242, flags=0x0100, opt=None, qname=None,
              an=b"", n_an=0, ns=b"", n_ns=0, ar=b"", n_ar=0):
    """A query from parts; counts follow the parts unless given."""
    q = (qname if qname is not None else wire_name(name)) + struct.pack("!HH", qtype, qclass)
    extra = ar + (opt or b"")
    n_ar = n_ar or (len([x for x in (ar,) if x]) + (1 if opt else 0))
    return struct.pack("!HHHHHH", qid, flags, 1, n_an, n_ns, n_ar) + q + an + ns + extra


# Policy names of tests/data/fuzz-policy.conf.json and static names of the
# test zones; query IDs select the endpoints' health in fuzz_packet.c.
POLICY_NAMES = ["fo", "sp", "w", "all", "hs", "hfo", "hw", "cn", "cnfb", "emp", "fb", "txt",
                "deep.x.y", "pol.sub"]
HEALTH_IDS = [0x0000, 0xffff, 0x00ff, 0xff00, 0x5555, 0xaaaa, 0x8001, 0x7ffe]
STATIC = [("www", "A"), ("www", "AAAA"), ("alias", "A"), ("chain1", "A"), ("loop1", "A"),
          ("dangling", "A"), ("outside", "A"), ("a.wild", "TXT"), ("x.wcname", "AAAA"),
          ("c.ent", "A"), ("a.b.c.ent", "A"), ("ns1.sub", "A"), ("x.deleg", "NS"),
          ("deleg", "DS"), ("sub", "NS"), ("_sip._tcp", "SRV"), ("caa", "CAA"),
          ("ptr", "PTR"), ("naptr", "NAPTR"), ("unknown", "TYPE65534"), ("svc", "HTTPS"),
          ("included", "A"), ("big", "TXT"), ("@", "SOA"), ("@", "NS"), ("@", "MX"),
          ("@", "ANY"), ("mail", "A"), ("ns1", "AAAA"), ("x.y.z.nope", "A")]


def packet_policy_seeds():
    import dns.rdatatype
    for i, name in enumerate(POLICY_NAMES):
        fq = name + ".example.com."
        for j, t in enumerate(["A", "AAAA", "CNAME", "ANY"]):
            qid = HEALTH_IDS[(i + j) % len(HEALTH_IDS)]
            qt = dns.rdatatype.from_text(t)
            yield "pol_%s_%s" % (name, t), raw_query(fq, qt, qid=qid)
        ecs4 = ecs_option(1, 24, 0, bytes([10, i, 7]))
        yield "pol_%s_ecs4" % name, raw_query(fq, 1, qid=HEALTH_IDS[i % 8],
                                              opt=opt_rr(options=ecs4))
        ecs6 = ecs_option(2, 56, 0, bytes([0x20, 0x01, 0x0d, 0xb8, i, 0, 0]))
        yield "pol_%s_ecs6_tcp_size" % name, raw_query(fq, 28, qid=HEALTH_IDS[(i + 3) % 8],
                                                       opt=opt_rr(4096, do=True,
                                                                  options=ecs6))
    # hashed answers: the same name from many subnets and prefix lengths
    for plen in (0, 8, 16, 20, 24, 25, 32):
        addr = bytes([198, 51, 100, 7])[:(plen + 7) // 8]
        yield "hs_ecs4_prefix%d" % plen, raw_query(
            "hs.example.com.", 1, qid=0x0101, opt=opt_rr(options=ecs_option(1, plen, 0, addr)))
    for plen in (0, 32, 48, 56, 64, 128):
        addr = bytes([0x20, 0x01, 0x0d, 0xb8, 1, 2, 3, 4] + [9] * 8)[:(plen + 7) // 8]
        yield "hfo_ecs6_prefix%d" % plen, raw_query(
            "hfo.example.com.", 28, qid=0x0202, opt=opt_rr(options=ecs_option(2, plen, 0, addr)))
    for qid in HEALTH_IDS:
        yield "fo_health_%04x" % qid, raw_query("fo.example.com.", 1, qid=qid)
        yield "cn_health_%04x" % qid, raw_query("cn.example.com.", 1, qid=qid)


def packet_static_seeds():
    import dns.rdatatype
    for name, t in STATIC:
        fq = "example.com." if name == "@" else name + ".example.com."
        qt = dns.rdatatype.from_text(t)
        label = name.replace("@", "apex").replace(".", "_")
        yield "static_%s_%s" % (label, t), raw_query(fq, qt)
        yield "static_%s_%s_do" % (label, t), raw_query(fq, qt, opt=opt_rr(512, do=True))
    for qt in (0, 41, 251, 252, 253, 254, 255, 65535):
        yield "qtype_%d" % qt, raw_query("www.example.com.", qt)
    for qc in (3, 4, 254, 255, 0, 65535):
        yield "qclass_%d" % qc, raw_query("www.example.com.", 1, qclass=qc)
    for op in range(1, 16):
        yield "opcode_%d" % op, raw_query("www.example.com.", 1, flags=op << 11)
    for flags, label in [(0x0200, "tc"), (0x0400, "aa"), (0x0020, "ad"), (0x0010, "cd"),
                         (0x0040, "z"), (0x000f, "rcode15"), (0x0000, "no_rd")]:
        yield "flags_%s" % label, raw_query("www.example.com.", 1, flags=0x0100 | flags)
    yield "case_0x20", raw_query("wWw.ExAmPlE.CoM.", 1)
    yield "name_255", raw_query(None, 1, qname=(b"\x3f" + b"a" * 63) * 3 + b"\x3da" + b"a" * 60
                                + b"\x00")
    yield "name_256", raw_query(None, 1, qname=(b"\x3f" + b"a" * 63) * 4 + b"\x00")
    yield "root_name", raw_query(".", 2)
    yield "tld_refused", raw_query("com.", 6)
    yield "other_zone_refused", raw_query("www.example.org.", 1)


def packet_edns_seeds():
    w = "www.example.com."
    yield "edns_payload_0", raw_query(w, 1, opt=opt_rr(0))
    yield "edns_payload_511", raw_query(w, 1, opt=opt_rr(511))
    yield "edns_payload_65535", raw_query("big.example.com.", 16, opt=opt_rr(65535))
    yield "edns_version_1", raw_query(w, 1, opt=opt_rr(version=1))
    yield "edns_version_255_do", raw_query(w, 1, opt=opt_rr(version=255, do=True))
    yield "edns_ext_rcode", raw_query(w, 1, opt=opt_rr(ext_rcode=1))
    yield "edns_owner_not_root", raw_query(w, 1, opt=opt_rr(owner=wire_name("x.")))
    yield "edns_rdlen_past_end", raw_query(w, 1, opt=opt_rr(rdlen=40))
    yield "edns_truncated_header", raw_query(w, 1, opt=opt_rr()[:7], n_ar=1)
    opts = {
        "nsid_empty": option(3, b""),
        "nsid_data": option(3, b"abc"),
        "cookie_client": option(10, b"\x01" * 8),
        "cookie_server": option(10, b"\x01" * 8 + b"\x02" * 16),
        "cookie_short": option(10, b"\x01" * 5),
        "cookie_long": option(10, b"\x01" * 41),
        "padding_0": option(12, b""),
        "padding_100": option(12, b"\x00" * 100),
        "keepalive": option(11, b""),
        "keepalive_value": option(11, b"\x00\x64"),
        "ede": option(15, b"\x00\x06hi"),
        "chain": option(13, wire_name("example.com.")),
        "expire": option(9, b""),
        "unknown_65001": option(65001, b"\xff" * 3),
        "zero_code": option(0, b""),
        "option_length_past_rdata": option(3, b"ab", length=30),
        "option_header_cut": b"\x00\x08\x00",
        "ecs_v4_24": ecs_option(1, 24, 0, b"\xc0\x00\x02"),
        "ecs_v4_32": ecs_option(1, 32, 0, b"\xc0\x00\x02\x01"),
        "ecs_v4_0": ecs_option(1, 0, 0, b""),
        "ecs_v4_33": ecs_option(1, 33, 0, b"\xc0\x00\x02\x01\x00"),
        "ecs_v4_scope_set": ecs_option(1, 24, 16, b"\xc0\x00\x02"),
        "ecs_v4_addr_too_long": ecs_option(1, 8, 0, b"\xc0\x00\x02"),
        "ecs_v4_addr_too_short": ecs_option(1, 24, 0, b"\xc0"),
        "ecs_v4_host_bits": ecs_option(1, 20, 0, b"\xc0\x00\x0f"),
        "ecs_v6_56": ecs_option(2, 56, 0, b"\x20\x01\x0d\xb8\x00\x01\x02"),
        "ecs_v6_128": ecs_option(2, 128, 0, b"\x20\x01\x0d\xb8" + b"\x00" * 11 + b"\x01"),
        "ecs_v6_129": ecs_option(2, 129, 0, b"\x20" * 17),
        "ecs_family_0": ecs_option(0, 0, 0, b""),
        "ecs_family_3": ecs_option(3, 8, 0, b"\x01"),
        "ecs_short": option(8, b"\x00\x01"),
        "ecs_two": ecs_option(1, 24, 0, b"\x0a\x00\x00") + ecs_option(1, 16, 0, b"\x0b\x00"),
        "many_options": b"".join(option(65000 + i, bytes([i])) for i in range(40)),
        "cookie_and_ecs": option(10, b"\x07" * 8) + ecs_option(1, 24, 0, b"\x0a\x01\x02"),
    }
    for label, data in opts.items():
        yield "edns_opt_" + label, raw_query("hs.example.com.", 1, qid=0x1234,
                                             opt=opt_rr(options=data))
    cookie_only = opt_rr(options=option(10, b"\x05" * 8))
    yield "edns_cookie_no_question", struct.pack("!HHHHHH", 2, 0x0100, 0, 0, 0, 1) + cookie_only
    yield "edns_cookie_no_question_bad", (struct.pack("!HHHHHH", 3, 0x0100, 0, 0, 0, 1) +
                                          opt_rr(options=option(10, b"\x05" * 8 + b"\x01" +
                                                                b"\x00" * 15)))
    yield "edns_two_cookies", raw_query(w, 1, opt=opt_rr(options=option(10, b"\x01" * 8) +
                                                         option(10, b"\x02" * 3)))
    for label, name, qtype in (("version_bind", "version.bind.", 16), ("id_server", "id.server.", 16),
                               ("hostname_bind_any", "hostname.bind.", 255),
                               ("version_server_a", "version.server.", 1),
                               ("authors_bind", "authors.bind.", 16)):
        yield "chaos_" + label, raw_query(name, qtype, qclass=3,
                                          opt=opt_rr(options=option(3, b"")))
    o = opt_rr()
    yield "edns_two_opt", raw_query(w, 1, ar=o, opt=o, n_ar=2)
    yield "edns_opt_in_answer", raw_query(w, 1, an=o, n_an=1)
    yield "edns_opt_in_authority", raw_query(w, 1, ns=o, n_ns=1)
    yield "edns_no_question", struct.pack("!HHHHHH", 1, 0x0100, 0, 0, 0, 1) + o


def packet_dnssec_seeds():
    """Queries with DO to the signed zones (tests/data/make_signed_zones.sh):
    RRSIGs, NSEC and NSEC3 proofs, opt-out, referrals with and without DS."""
    for kind in ("nsec", "nsec3"):
        z = kind + ".example.net."
        for label, name, qtype in (
                ("a", "www", 1), ("nxdomain", "nope", 1), ("nodata", "www", 15),
                ("ent", "b.ent", 1), ("wild", "x.y.wild", 16), ("wild_nodata", "x.wild", 15),
                ("cname", "alias", 1), ("referral_ds", "x.sec", 1),
                ("referral_insecure", "x.insec", 1), ("ds_insecure", "insec", 43),
                ("dnskey", "", 48), ("rrsig", "www", 46), ("nsec3", "www", 50),
                ("any", "www", 255)):
            yield "dnssec_%s_%s" % (kind, label), raw_query(
                (name + "." if name else "") + z, qtype, opt=opt_rr(do=True))
        yield "dnssec_%s_tc" % kind, raw_query("www." + z, 48, opt=opt_rr(512, do=True))


def packet_broken_seeds():
    w = raw_query("www.example.com.", 1)
    hdr = w[:12]
    yield "hdr_only", hdr[:4] + b"\x00\x00" + hdr[6:]
    yield "qd0", hdr[:4] + b"\x00\x00" + hdr[6:] + w[12:]
    yield "qd_65535", hdr[:4] + b"\xff\xff" + hdr[6:] + w[12:]
    yield "an_count_no_data", hdr[:6] + b"\x00\x03" + hdr[8:] + w[12:]
    yield "ns_count_no_data", hdr[:8] + b"\x00\x02" + hdr[10:] + w[12:]
    yield "question_cut_type", w[:-3]
    yield "question_cut_name", w[:18]
    for cut in range(1, 12):
        yield "header_cut_%d" % cut, w[:cut]
    yield "empty", b""
    # compression: loops, forward and wild pointers, long pointer chains
    q = hdr
    yield "ptr_self", q + b"\xc0\x0c\x00\x01\x00\x01"
    yield "ptr_two_loop", q + b"\x01a\xc0\x12\x01b\xc0\x0c\x00\x01\x00\x01"
    yield "ptr_forward", q + b"\xc0\x20\x00\x01\x00\x01" + b"\x00" * 30
    yield "ptr_to_header", q + b"\xc0\x00\x00\x01\x00\x01"
    yield "ptr_past_end", q + b"\xc3\xff\x00\x01\x00\x01"
    yield "ptr_cut", q + b"\xc0"
    yield "label_0x40", q + b"\x41a\x00\x00\x01\x00\x01"
    yield "label_0x80", q + b"\x81a\x00\x00\x01\x00\x01"
    yield "label_63_then_end", q + b"\x3f" + b"b" * 63
    chain = b"\x00"
    # a chain of pointers, each to the one before, 100 deep (in an RR after the question)
    rr_names = b""
    base = 12 + len(wire_name("www.example.com.")) + 4
    prev = 12
    for i in range(100):
        rr_names += struct.pack("!H", 0xc000 | prev) if i == 0 else \
            b"\x01x" + struct.pack("!H", 0xc000 | prev)
        prev = base + len(rr_names) - (2 if i == 0 else 4)
    rr = rr_names + struct.pack("!HHIH", 1, 1, 0, 0)
    yield "ptr_chain_in_additional", w[:10] + b"\x00\x01" + w[12:] + rr + chain[:0]
    yield "rr_in_additional_ok", w[:10] + b"\x00\x01" + w[12:] + b"\xc0\x0c" + \
        struct.pack("!HHIH", 1, 1, 60, 4) + b"\x01\x02\x03\x04"
    yield "rr_rdlen_past_end", w[:10] + b"\x00\x01" + w[12:] + b"\xc0\x0c" + \
        struct.pack("!HHIH", 1, 1, 60, 400) + b"\x01\x02"
    # TSIG: well formed and last, not last, malformed
    tsig_rd = wire_name("hmac-sha256.") + b"\x00\x00\x5f\x5e\x10\x00\x01\x2c" + \
        b"\x00\x20" + b"\x11" * 32 + b"\x42\x42\x00\x00\x00\x00"
    tsig = wire_name("key.example.com.") + struct.pack("!HHIH", 250, 255, 0, len(tsig_rd)) + tsig_rd
    yield "tsig_last", w[:10] + b"\x00\x01" + w[12:] + tsig
    yield "tsig_not_last", w[:10] + b"\x00\x02" + w[12:] + tsig + opt_rr()
    yield "tsig_malformed", w[:10] + b"\x00\x01" + w[12:] + tsig[:-10]
    yield "tsig_wrong_class", w[:10] + b"\x00\x01" + w[12:] + \
        tsig.replace(struct.pack("!HH", 250, 255), struct.pack("!HH", 250, 1), 1)
    yield "response_with_answer", w[:2] + b"\x84\x00" + w[4:]


def seeds():
    import dns.edns
    import dns.message
    import dns.opcode

    yield "a_www", q("www.example.com.", "A")
    yield "aaaa_www_edns", q("WwW.ExAmPlE.cOm.", "AAAA", use_edns=0, payload=4096)
    yield "nxdomain", q("nope.example.com.")
    yield "nodata", q("www.example.com.", "MX")
    yield "ent", q("c.ent.example.com.")
    yield "cname_chain", q("chain1.example.com.")
    yield "cname_loop", q("loop1.example.com.")
    yield "dangling", q("dangling.example.com.")
    yield "wildcard", q("x.y.wild.example.com.", "TXT")
    yield "wildcard_cname", q("x.wcname.example.com.")
    yield "referral", q("www.deleg.example.com.")
    yield "ds_cut", q("sub.example.com.", "DS", use_edns=0, want_dnssec=True)
    yield "child", q("www.sub.example.com.")
    yield "any", q("example.com.", "ANY")
    yield "mx", q("example.com.", "MX")
    yield "srv", q("_sip._tcp.example.com.", "SRV")
    yield "big_txt", q("big.example.com.", "TXT")
    yield "refused", q("www.example.org.")
    yield "axfr", q("example.com.", "AXFR")
    yield "ixfr", q("example.com.", "IXFR")
    yield "axfr_not_apex", q("www.example.com.", "AXFR")
    yield "axfr_signed", signed(q_msg("nsec3.example.net.", "AXFR"), "xfr.example.")
    yield "soa_signed", signed(q_msg("nsec3.example.net.", "SOA"), "xfr.example.")
    yield "axfr_signed_unknown_key", signed(q_msg("nsec3.example.net.", "AXFR"), "other.")
    ecs = dns.edns.ECSOption("192.0.2.0", 24)
    yield "ecs", q("www.example.com.", use_edns=0, options=[ecs])
    m = dns.message.make_query("www.example.com.", "A", use_edns=1)
    m.id = 0x4242  # fixed, so that rerunning the script changes nothing
    yield "badvers", m.to_wire()
    m = dns.message.make_query("www.example.com.", "A")
    m.set_opcode(dns.opcode.NOTIFY)
    m.id = 0x4242
    yield "notify", m.to_wire()
    base = q("www.example.com.")
    yield "short", base[:11]
    yield "qdcount2", base[:4] + b"\x00\x02" + base[6:]
    yield "arcount_past_end", base[:10] + b"\x00\x05" + base[12:]
    yield "pointer_loop", base[:12] + b"\xc0\x0c" + b"\x00\x01\x00\x01"
    yield "label_overrun", base[:12] + b"\x3f" + b"a" * 10
    yield "response", base[:2] + bytes([base[2] | 0x80]) + base[3:]
    two_opt = q("www.example.com.", use_edns=0)
    opt = two_opt[-11:]
    yield "two_opt", two_opt[:10] + b"\x00\x02" + two_opt[12:] + opt
    yield "bad_ecs", two_opt[:-2] + struct.pack("!HHHHBB", 7, 8, 3, 1, 40, 0) + b"\x01"
    for gen in (packet_policy_seeds, packet_static_seeds, packet_edns_seeds,
                packet_dnssec_seeds, packet_broken_seeds):
        yield from gen()


ADMIN_TARGETS = ["region:us-east", "az:us-east-1a", "endpoint:web/www1"]


def ovr(**kw):
    """An override body: a valid one, with kw replacing or adding keys
    (a value of ... removes the key)."""
    body = {"target": "region:us-east", "state": "down", "reason": "maintenance"}
    for k, v in kw.items():
        if v is ...:
            body.pop(k, None)
        else:
            body[k] = v
    return json.dumps(body).encode()


def admin_body_seeds():
    yield "body_empty", b""
    yield "body_empty_object", b"{}"
    yield "body_whitespace", b" \t\r\n{ }\n"
    yield "body_bad_json_truncated", b'{"target": "region:us-east"'
    yield "body_bad_json_trailing_comma", b'{"a": 1,}'
    yield "body_bad_json_no_value", b'{"a":}'
    yield "body_bad_json_garbage_after", b"{} x"
    yield "body_bad_json_single_quotes", b"{'a': 1}"
    yield "body_bad_json_bom", b"\xef\xbb\xbf{}"
    yield "body_bad_json_nan", b'{"expires_in": NaN}'
    yield "body_bad_json_real_overflow", b'{"expires_in": 1e400}'
    yield "body_bad_json_int_overflow", b'{"expires_in": 99999999999999999999}'
    yield "body_not_object_array", b"[]"
    yield "body_not_object_string", b'"region:us-east"'
    yield "body_not_object_number", b"42"
    yield "body_not_object_null", b"null"
    # depth counts containers: 32 nested objects pass, 33 do not
    yield "body_depth_32", b'{"a":' * 31 + b"{}" + b"}" * 31
    yield "body_depth_33", b'{"a":' * 32 + b"{}" + b"}" * 32
    yield "body_depth_arrays_33", b'{"a":' + b"[" * 32 + b"]" * 32 + b"}"
    yield "body_depth_past_jansson", b"[" * 3000 + b"]" * 3000
    yield "body_duplicate_keys", b'{"target": "a", "target": "b"}'
    yield "body_duplicate_keys_nested", b'{"x": {"k": 1, "k": 2}}'
    yield "body_utf8_invalid_byte", b'{"reason": "\xff"}'
    yield "body_utf8_overlong", b'{"reason": "\xc0\xaf"}'
    yield "body_utf8_truncated", b'{"reason": "\xe2\x82"}'
    yield "body_utf8_surrogate_bytes", b'{"reason": "\xed\xa0\x80"}'
    yield "body_utf8_invalid_key", b'{"\xfe": 1}'
    yield "body_escape_lone_surrogate", b'{"reason": "\\ud800"}'
    yield "body_escape_nul", b'{"reason": "a\\u0000b"}'
    yield "body_escape_bad", b'{"reason": "\\x41"}'
    yield "body_control_char", b'{"reason": "a\x01b"}'
    yield "body_nul_byte", b'{"reason": "a"}\x00'


def admin_override_seeds():
    for i, t in enumerate(ADMIN_TARGETS):
        yield "ovr_ok_target%d" % i, ovr(target=t)
    yield "ovr_ok_full", ovr(state="up", expires_in=3600, dry_run=True, force=False)
    yield "ovr_ok_force", ovr(force=True, dry_run=False)
    yield "ovr_ok_expires_null", ovr(expires_in=None)
    yield "ovr_ok_expires_max", b'{"target":"region:us-east","state":"down","reason":"m",' \
        b'"expires_in":3.2e7}'
    yield "ovr_ok_expires_tiny", ovr(expires_in=1e-9)
    yield "ovr_ok_reason_1024", ovr(reason="r" * 1024)
    yield "ovr_ok_reason_utf8", ovr(reason="d\u00e9ploiement \u2014 \U0001f527")
    yield "ovr_ok_target_empty", ovr(target="")
    yield "ovr_unknown_key", ovr(comment="hi")
    yield "ovr_unknown_key_case", ovr(Target="region:us-east")
    yield "ovr_missing_target", ovr(target=...)
    yield "ovr_missing_state", ovr(state=...)
    yield "ovr_missing_reason", ovr(reason=...)
    yield "ovr_target_number", ovr(target=1)
    yield "ovr_target_null", ovr(target=None)
    yield "ovr_target_object", ovr(target={"region": "us-east"})
    yield "ovr_state_bad", ovr(state="sideways")
    yield "ovr_state_case", ovr(state="UP")
    yield "ovr_state_bool", ovr(state=True)
    yield "ovr_reason_empty", ovr(reason="")
    yield "ovr_reason_1025", ovr(reason="r" * 1025)
    yield "ovr_reason_number", ovr(reason=7)
    yield "ovr_reason_array", ovr(reason=["a"])
    yield "ovr_expires_zero", ovr(expires_in=0)
    yield "ovr_expires_negative", ovr(expires_in=-1)
    yield "ovr_expires_over_max", ovr(expires_in=32000001)
    yield "ovr_expires_string", ovr(expires_in="3600")
    yield "ovr_expires_bool", ovr(expires_in=True)
    yield "ovr_dry_run_string", ovr(dry_run="yes")
    yield "ovr_dry_run_number", ovr(dry_run=1)
    yield "ovr_force_null", ovr(force=None)
    # the message "unknown key \"a\u00e9\u00e9..." is cut at 511 bytes in the
    # middle of a character: the error reply must still encode
    yield "ovr_unknown_key_cut_utf8", ovr(**{"a" + "\u00e9" * 300: 1})


def drill(**kw):
    """A drill body: a valid live one, with kw replacing or adding keys
    (... removes one)."""
    b = {"regions": ["us-east"], "mode": "live", "reason": "game day", "duration": 600}
    for k, v in kw.items():
        if v is ...:
            b.pop(k, None)
        else:
            b[k] = v
    return json.dumps(b).encode()


def admin_drill_seeds():
    yield "drill_ok_live", drill()
    yield "drill_ok_shadow", drill(mode="shadow", duration=...)
    yield "drill_ok_scoped", drill(mode="scoped", canary=["10.1.2.0/24", "2001:db8::/32"])
    yield "drill_ok_azs", drill(regions=..., azs=["us-east-1a", "us-east-1b"])
    yield "drill_ok_abort_if", drill(abort_if={"min_up_endpoints": 2, "min_up_share": 0.5})
    yield "drill_ok_dry_run", drill(dry_run=True, duration=..., reason=...,
                                    clients=["192.0.2.1", "10.0.0.0/8", "2001:db8::1"])
    yield "drill_ok_saved_form", drill(mode="shadow", azs=[], canary=None, abort_if=None)
    yield "drill_no_targets", drill(regions=[])
    yield "drill_name_control", drill(regions=["us\neast"])
    yield "drill_name_long", drill(regions=["r" * 129])
    yield "drill_too_many_targets", drill(regions=["r%d" % i for i in range(33)])
    yield "drill_duplicate_region", drill(regions=["a", "a"])
    yield "drill_mode_bad", drill(mode="loud")
    yield "drill_duration_over_max", drill(duration=3601)
    yield "drill_duration_nan_string", drill(duration="NaN")
    yield "drill_duration_huge", b'{"regions":["a"],"mode":"live","reason":"r","duration":1e308}'
    yield "drill_live_without_duration", drill(duration=...)
    yield "drill_canary_host_bits", drill(mode="scoped", canary=["10.1.2.3/24"])
    yield "drill_canary_everyone", drill(mode="scoped", canary=["::/0"])
    yield "drill_canary_too_many", drill(mode="scoped",
                                         canary=["10.%d.0.0/16" % i for i in range(33)])
    yield "drill_canary_on_live", drill(canary=["10.0.0.0/8"])
    yield "drill_abort_if_empty", drill(abort_if={})
    yield "drill_abort_if_share_zero", drill(abort_if={"min_up_share": 0})
    yield "drill_abort_if_endpoints_real", drill(abort_if={"min_up_endpoints": 1.5})
    yield "drill_abort_if_unknown", drill(abort_if={"max_down": 1})
    yield "drill_clients_not_dry", drill(clients=["192.0.2.1"])
    yield "drill_clients_bad", drill(dry_run=True, clients=["192.0.2.1/33"])
    yield "drill_unknown_key", drill(target="region:us-east")
    yield "drill_ok_outcome_named", drill(name="weekly-us.east_1", outcome=[
        {"check": "web", "host": "www.example.com"}, {"check": "dns", "host": "api.example.com."}])
    yield "drill_outcome_host_bad", drill(outcome=[{"check": "web", "host": "a..example.com"}])
    yield "drill_outcome_host_long", drill(outcome=[{"check": "web", "host": "a." * 127 + "b"}])
    yield "drill_outcome_no_host", drill(outcome=[{"check": "web"}])
    yield "drill_outcome_extra_key", drill(outcome=[{"check": "web", "host": "a", "port": 1}])
    yield "drill_outcome_too_many", drill(outcome=[{"check": "web", "host": "a"}] * 9)
    yield "drill_outcome_not_array", drill(outcome={"check": "web", "host": "a"})
    yield "drill_name_bad", drill(name="weekly us")
    yield "drill_name_empty", drill(name="")


def admin_explain_seeds():
    yield "explain_ok_minimal", b"name=www.example.com"
    yield "explain_ok_full", b"name=www.example.com.&type=AAAA&client=192.0.2.1" \
        b"&ecs=198.51.100.0/24"
    yield "explain_ok_client6", b"name=www.example.com&client=2001:db8::1"
    yield "explain_ok_ecs6", b"name=www.example.com&ecs=2001:db8::/32"
    yield "explain_ok_ecs_prefix0", b"name=www.example.com&ecs=0.0.0.0/0"
    yield "explain_ok_ecs_host_bits", b"name=www.example.com&ecs=192.0.2.255/20"
    yield "explain_ok_ecs_128", b"name=www.example.com&ecs=2001:db8::1/128"
    yield "explain_ok_type_lower", b"name=www.example.com&type=txt"
    yield "explain_ok_type_generic", b"name=www.example.com&type=TYPE65535"
    yield "explain_ok_type_any", b"name=example.com&type=ANY"
    yield "explain_ok_root", b"name=."
    yield "explain_ok_name_empty", b"name="
    yield "explain_ok_pct_name", b"name=www%2Eexample%2ecom"
    yield "explain_ok_pct_escape", b"name=a%5C.b.example.com"
    yield "explain_ok_pct_ddd", b"name=%5C000.example.com"
    yield "explain_bad_client_plus", b"name=www.example.com&client=+192.0.2.1"
    yield "explain_ok_label63", b"name=" + b"a" * 63 + b".example.com"
    yield "explain_ok_name255", b"name=" + b".".join([b"a" * 63] * 3 + [b"a" * 61])
    yield "explain_ok_duplicate", b"name=www.example.com&name=bad..name"
    yield "explain_ok_extra_param", b"name=www.example.com&debug=1&x="
    yield "explain_missing_name", b"type=A"
    yield "explain_empty", b""
    yield "explain_bad_name_empty_label", b"name=a..b"
    yield "explain_bad_name_leading_dot", b"name=.a"
    yield "explain_bad_name_label64", b"name=" + b"a" * 64 + b".com"
    yield "explain_bad_name_256", b"name=" + b".".join([b"a" * 63] * 4)
    yield "explain_bad_name_escape_end", b"name=a%5C"
    yield "explain_bad_name_ddd_256", b"name=%5C256.example.com"
    yield "explain_bad_type", b"name=www.example.com&type=FOO"
    yield "explain_bad_type_zero", b"name=www.example.com&type=TYPE0"
    yield "explain_bad_type_empty", b"name=www.example.com&type="
    yield "explain_bad_client", b"name=www.example.com&client=300.1.1.1"
    yield "explain_bad_client_name", b"name=www.example.com&client=localhost"
    yield "explain_bad_client_prefix", b"name=www.example.com&client=192.0.2.0/24"
    yield "explain_bad_ecs_no_prefix", b"name=www.example.com&ecs=192.0.2.0"
    yield "explain_bad_ecs_prefix33", b"name=www.example.com&ecs=192.0.2.0/33"
    yield "explain_bad_ecs_prefix129", b"name=www.example.com&ecs=2001:db8::/129"
    yield "explain_bad_ecs_addr", b"name=www.example.com&ecs=host/24"
    yield "explain_bad_ecs_long_addr", b"name=www.example.com&ecs=" + b"1" * 80 + b"/8"
    yield "explain_bad_ecs_negative", b"name=www.example.com&ecs=192.0.2.0/-1"
    yield "explain_bad_ecs_empty", b"name=www.example.com&ecs="
    yield "explain_bad_query_no_equals", b"name"
    yield "explain_bad_query_empty_key", b"=www.example.com"
    yield "explain_pct_invalid", b"name=www%zz.example.com"
    yield "explain_pct_truncated", b"name=www.example.com%"
    yield "explain_pct_nul", b"name=www%00.example.com"
    yield "explain_pct_high_byte", b"name=%FF.example.com"
    yield "explain_nul_byte", b"name=www.example.com\x00&type=FOO"
    # Found by fuzz_admin_libfuzzer: junk after the ECS prefix was accepted
    # and echoed, json_pack() refused the invalid UTF-8 and the NULL reply
    # crashed gtmd (as did invalid UTF-8 in any error message).
    yield "crash_explain_ecs_trailing_utf8", base64.b64decode(
        "bmFtZT03d3cuZXhhbXBsZS5jb20uJnR5cGU9QUFBQSZjbGllbnQ9MTkyLjAuMi4xJmVjcz0xOTgu"
        "NTEuMTAwLjAvMjQhISEhISEhISG8vLy8vLy8vLy8vLy8vLy8vLy8vLy8vLy8vLy8vLy8vLy8vLy8"
        "vLy8vLy8vLy8vLy8vLy8vLy8vLy8vLy8vLy8vLy8vLy8vLy8vLy8vLy8vLy8vLwhISEhISEhISEh"
        "ISEhISEhISEhISEhISEhISEhISEhISEhISEhISEhISEhISEhISEhISEhISEhISEhISEhISEhISEh"
        "ISEhISEhISEhISEhISEhISEhISEhISEh")
    yield "explain_bad_ecs_trailing", b"name=www.example.com&ecs=192.0.2.0/24x"
    yield "explain_bad_ecs_trailing_slash", b"name=www.example.com&ecs=192.0.2.0/24/8"
    yield "explain_bad_ecs_prefix_wraps", b"name=www.example.com&ecs=192.0.2.0/4294967328"
    yield "explain_bad_ecs_prefix_sign", b"name=www.example.com&ecs=192.0.2.0/%2B24"
    yield "explain_bad_type_invalid_utf8", b"name=www.example.com&type=%FF"
    yield "explain_bad_type_generic_junk", b"name=www.example.com&type=TYPE1%FF"
    yield "explain_bad_type_generic_big", b"name=www.example.com&type=TYPE65536"
    yield "explain_bad_type_generic_long", b"name=www.example.com&type=TYPE000001"
    yield "explain_bad_type_generic_sign", b"name=www.example.com&type=TYPE-5"


def admin_utf8_seeds():
    """Error messages quoting client bytes, for admin_request_utf8_fix."""
    yield "utf8_valid", "unknown key \"d\u00e9j\u00e0 \U0001f527\"".encode()
    yield "utf8_path_ff", b"no such endpoint: /\xff"
    yield "utf8_overlong", b"a\xc0\xafb"
    yield "utf8_surrogate", b"a\xed\xa0\x80b"
    yield "utf8_above_max", b"a\xf4\x90\x80\x80b"
    yield "utf8_cut_at_end", b"unknown type \"\xe2\x82"
    yield "utf8_lone_continuation", b"\x80\xbf"


# Wrong values for every override key: each key gets each of these in turn.
WRONG_JSON = [("null", None), ("true", True), ("false", False), ("int", 7), ("neg", -3),
              ("real", 2.5), ("big", 10 ** 30), ("str", "x"), ("empty_str", ""),
              ("list", [1]), ("empty_list", []), ("obj", {"a": 1}), ("empty_obj", {})]
OVERRIDE_KEYS = ["target", "state", "reason", "expires_in", "dry_run", "force"]


def admin_more_seeds():
    for key in OVERRIDE_KEYS:
        for label, value in WRONG_JSON:
            yield "B", "ovrw_%s_%s" % (key, label), ovr(**{key: value})
    targets = ["region:", "az:", "endpoint:", "endpoint:web", "endpoint:web/", "region:us:x",
               "pool:web", "region:" + "r" * 300, "REGION:us", " region:us", "region:\u00e9"]
    for i, t in enumerate(targets):
        yield "B", "ovrw_target_form_%02d" % i, ovr(target=t)
    for e in [1, 59, 60, 3600, 86400, 31999999, 32000000, 0.001, 1e-300, -0.0]:
        yield "B", "ovrw_expires_%r" % e, ovr(expires_in=e)
    types = ["A", "NS", "CNAME", "SOA", "PTR", "MX", "TXT", "AAAA", "SRV", "NAPTR", "DS",
             "RRSIG", "NSEC", "DNSKEY", "HTTPS", "SVCB", "CAA", "ANY", "AXFR", "IXFR", "OPT",
             "TYPE1", "TYPE255", "type28", "Aaaa", "CLASS1", "TYPE", "TYPEx"]
    for t in types:
        yield "E", "explain_type_" + t, b"name=fo.example.com&type=" + t.encode()
    clients = ["127.0.0.1", "0.0.0.0", "255.255.255.255", "::", "::1", "::ffff:192.0.2.1",
               "fe80::1%25eth0", "2001:db8::1/64", "1.2.3", "01.02.03.04", "192.0.2.1 ",
               "%20192.0.2.1", "[2001:db8::1]", "2001:db8:::1"]
    for i, c in enumerate(clients):
        yield "E", "explain_client_%02d" % i, b"name=hs.example.com&client=" + c.encode()
    ecs = ["10.0.0.0/8", "10.0.0.0/08", "10.0.0.0/", "/24", "10.0.0.0/24/", "::/0",
           "2001:db8::/56", "2001:db8::/0x20", "192.0.2.0/24&ecs=10.0.0.0/8", "1.2.3.4/32"]
    for i, e in enumerate(ecs):
        yield "E", "explain_ecs_%02d" % i, b"name=hs.example.com&ecs=" + e.encode()
    for i, n in enumerate(["fo.example.com", "FO.EXAMPLE.COM.", "x.wild.example.com",
                           "example.com", "sub.example.com", "%2e", "a%2e%2eb", "a+b",
                           "a%20b.example.com", "\\.example.com", "*.wild.example.com"]):
        yield "E", "explain_name_%02d" % i, b"name=" + n.encode()
    yield "E", "explain_many_params", b"&".join(b"p%d=%d" % (i, i) for i in range(300)) + \
        b"&name=fo.example.com"
    yield "E", "explain_long_value", b"name=" + b"a" * 5000
    yield "E", "explain_ampersands", b"&&&name=fo.example.com&&&"
    for i, u in enumerate([b"\xc3\xa9", b"\xe2\x82\xac", b"\xf0\x9f\x94\xa7",
                           b"\xf8\x88\x80\x80\x80", b"\xc3", b"\xe0\x80\x80",
                           b"\xef\xbf\xbf", b"\xed\xbf\xbf", b"a\x00b", b"\x7f\x80"]):
        yield "U", "utf8_more_%02d" % i, b"message " + u + b" end"


def admin_excerpt_seeds():
    """Bodies for the audit excerpt (admin_request_excerpt): control bytes,
    backslashes, DEL, a character cut at byte 256, NULs, invalid UTF-8."""
    yield "excerpt_plain", b'{"reason": "' + b"x" * 400 + b'"}'
    yield "excerpt_controls", b"{\n\t\r\x00\x1b[31m\x7f}" * 40
    yield "excerpt_backslashes", b"\\" * 300
    yield "excerpt_cut_char", b"y" * 255 + "\u00e9".encode() + b"z" * 10
    yield "excerpt_cut_4byte", b"y" * 254 + "\U0001f527".encode()
    yield "excerpt_invalid", b"\xff\xfe\xc0\xaf\xed\xa0\x80" * 50
    yield "excerpt_empty", b""


def admin_seeds():
    for name, data in admin_excerpt_seeds():
        yield name, b"X" + data
    for kind, name, data in admin_more_seeds():
        yield name, kind.encode() + data
    for name, data in admin_body_seeds():
        yield name, b"B" + data
    for name, data in admin_override_seeds():
        yield name, b"B" + data
    for name, data in admin_drill_seeds():
        yield name, b"B" + data
    for name, data in admin_explain_seeds():
        yield name, b"E" + data
    for name, data in admin_utf8_seeds():
        yield name, b"U" + data


# ---- config (tests/fuzz/fuzz_config.c) -------------------------------------

def config_base():
    """A valid configuration using every section; the harness supplies the
    files it names (tokens, zones, ca.pem)."""
    return {
        "listen": ["127.0.0.1:5300", "[::1]:5300"],
        "workers": 2,
        "zones": [{"origin": "example.com.", "file": "example.com.zone"},
                  {"origin": "sub.example.com.", "file": "sub.example.com.zone"}],
        "edns_udp_max": 1232,
        "tcp": {"max_connections": 100, "idle_timeout": 10, "message_timeout": 5},
        "state_file": "state.json",
        "state_max_age": 600,
        "admin": {"listen": ["127.0.0.1:8053", "unix:/tmp/gtmd-fuzz.sock"],
                  "read_token_file": "read.token", "operate_token_file": "operate.token",
                  "audit_log": "audit.log", "max_connections": 8, "timeout": 5},
        "regions": {"us": {"location": [38.9, -77.0]}, "eu": {}, "ap": {}},
        "checks": {
            "tcp": {"type": "tcp", "port": 80, "interval": 1, "timeout": 0.5, "rise": 2,
                    "fall": 3},
            "http": {"type": "http", "port": 8080, "method": "GET", "path": "/health",
                     "host": "www.example.com", "headers": {"X-Check": "gtmd"},
                     "expect_status": [200, [300, 399]], "body_contains": "ok"},
            "https": {"type": "https", "ca_file": "ca.pem", "method": "HEAD"},
            "dns": {"type": "dns", "query": "health.example.net.", "query_type": "AAAA",
                    "expect_rcode": "NXDOMAIN", "expect_answer": "2001:db8::1"},
        },
        "pools": {
            "web": {"check": "http", "min_healthy": 1, "endpoints": [
                {"name": "us1", "address": "192.0.2.10", "region": "us", "az": "us-1a"},
                {"name": "us2", "address": "192.0.2.11", "region": "us", "az": "us-1b",
                 "weight": 3, "check_target": {"address": "127.0.0.1", "port": 8081}},
                {"name": "us6", "address": "2001:db8::10", "region": "us"},
                {"name": "eu1", "address": "198.51.100.10", "region": "eu",
                 "check_target": {"host": "eu1.example.net", "port": 443}},
                {"name": "ap1", "address": "203.0.113.10", "region": "ap", "weight": 0}]},
            "cn": {"check": "dns", "endpoints": [
                {"name": "c-us", "cname": "www.example.com.", "region": "us"},
                {"name": "c-eu", "cname": "target.example.net.", "region": "eu"}]},
            "plain": {"endpoints": [{"name": "p1", "address": "192.0.2.99", "region": "ap"}]},
        },
        "records": {
            "fo.example.com.": {"pool": "web", "policy": "failover",
                                "regions": ["us", "eu", "ap"], "ttl": 10, "spill": 1},
            "w.example.com.": {"pool": "web", "policy": "weighted", "answers": 2},
            "hs.example.com.": {"pool": "web", "policy": "all", "select": "hashed",
                                "when_all_down": "fallback",
                                "fallback": ["192.0.2.250", "2001:db8::250"]},
            "cn.example.com.": [{"pool": "cn", "policy": "failover", "regions": ["us", "eu"],
                                 "when_all_down": "empty"}],
            "p.sub.example.com.": {"pool": "plain", "policy": "all"},
        },
    }


def cfg_set(c, path, value):
    """Sets (or with value ... removes) the value at path, a list of keys and
    indexes, in a copy of c."""
    c = json.loads(json.dumps(c))
    node = c
    for k in path[:-1]:
        node = node[k]
    if value is ... and isinstance(node, dict):
        node.pop(path[-1], None)
    elif value is ...:
        del node[path[-1]]
    else:
        node[path[-1]] = value
    return c


CONFIG_PATHS = [
    ["listen"], ["listen", 0], ["workers"], ["zones"], ["zones", 0], ["zones", 0, "origin"],
    ["zones", 0, "file"], ["edns_udp_max"], ["tcp"], ["tcp", "max_connections"],
    ["tcp", "idle_timeout"], ["tcp", "message_timeout"], ["state_file"], ["state_max_age"],
    ["admin"], ["admin", "listen"], ["admin", "read_token_file"],
    ["admin", "operate_token_file"], ["admin", "audit_log"], ["admin", "max_connections"],
    ["admin", "timeout"], ["regions"], ["regions", "us"], ["regions", "us", "location"],
    ["checks"], ["checks", "tcp"], ["checks", "tcp", "type"], ["checks", "tcp", "port"],
    ["checks", "tcp", "interval"], ["checks", "tcp", "timeout"], ["checks", "tcp", "rise"],
    ["checks", "tcp", "fall"], ["checks", "http", "method"], ["checks", "http", "path"],
    ["checks", "http", "host"], ["checks", "http", "headers"],
    ["checks", "http", "expect_status"], ["checks", "http", "body_contains"],
    ["checks", "https", "ca_file"], ["checks", "dns", "query"],
    ["checks", "dns", "query_type"], ["checks", "dns", "expect_rcode"],
    ["checks", "dns", "expect_answer"], ["pools"], ["pools", "web"],
    ["pools", "web", "check"], ["pools", "web", "min_healthy"], ["pools", "web", "endpoints"],
    ["pools", "web", "endpoints", 0], ["pools", "web", "endpoints", 0, "name"],
    ["pools", "web", "endpoints", 0, "address"], ["pools", "web", "endpoints", 0, "region"],
    ["pools", "web", "endpoints", 0, "az"], ["pools", "web", "endpoints", 0, "weight"],
    ["pools", "web", "endpoints", 1, "check_target"],
    ["pools", "web", "endpoints", 1, "check_target", "address"],
    ["pools", "web", "endpoints", 1, "check_target", "port"],
    ["pools", "web", "endpoints", 3, "check_target", "host"],
    ["pools", "cn", "endpoints", 0, "cname"], ["records"], ["records", "fo.example.com."],
    ["records", "fo.example.com.", "pool"], ["records", "fo.example.com.", "ttl"],
    ["records", "fo.example.com.", "policy"], ["records", "fo.example.com.", "regions"],
    ["records", "fo.example.com.", "select"], ["records", "fo.example.com.", "answers"],
    ["records", "fo.example.com.", "when_all_down"], ["records", "fo.example.com.", "spill"],
    ["records", "hs.example.com.", "fallback"], ["records", "cn.example.com.", 0],
]

CONFIG_WRONG = [("null", None), ("true", True), ("neg", -1), ("real", 1.5), ("str", "x"),
                ("list", []), ("obj", {}), ("big", 10 ** 12), ("missing", ...)]


def config_wrong_type_seeds():
    """Every key with each wrong value in turn: one value per key covers
    every type across the keys; the common wrong values go to all."""
    base = config_base()
    for i, path in enumerate(CONFIG_PATHS):
        label = "_".join(str(k).replace(".example.com.", "") for k in path)
        for j in (0, 1 + i % (len(CONFIG_WRONG) - 2), len(CONFIG_WRONG) - 1):
            name, value = CONFIG_WRONG[j]
            yield "wrong_%s_%s" % (label, name), cfg_set(base, path, value)


def config_variant_seeds():
    b = config_base()
    yield "ok_base", b
    yield "ok_minimal", {"listen": ["127.0.0.1:53"],
                         "zones": [{"origin": "example.com.", "file": "z"}]}
    yield "ok_other_origins", cfg_set(b, ["zones"], [
        {"origin": o, "file": "z"} for o in ["example.com.", "example.net.", ".", "a.b.c.d.",
                                             "xn--bcher-kva.example.", "EXAMPLE.ORG"]])
    yield "zone_twice", cfg_set(b, ["zones", 1, "origin"], "example.com.")
    key = {"xfr.example.": {"algorithm": "hmac-sha256",
                            "secret": "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8="}}
    yield "xfr_transfer", cfg_set(cfg_set(b, ["tsig_keys"], key), ["zones", 0, "transfer"],
                                  {"allow": ["127.0.0.1", "2001:db8::/32"], "key": "xfr.example.",
                                   "notify": ["127.0.0.1:5300"], "journal": "j",
                                   "journal_max": 4096})
    yield "xfr_transfer_bad", cfg_set(b, ["zones", 0, "transfer"],
                                      {"allow": ["10.0.0.1/8", 7], "key": "nokey.",
                                       "notify": ["127.0.0.1"], "journal_max": 1})
    yield "xfr_keys_bad", cfg_set(b, ["tsig_keys"], {"a..b": {"algorithm": "md5", "secret": "!"},
                                                      "k.": [], "k2.": {"secret": "QQ=="}})
    yield "xfr_primary", cfg_set(cfg_set(b, ["tsig_keys"], key), ["zones", 1, "primary"],
                                 {"addresses": ["127.0.0.1:5300", "[::1]:53"],
                                  "key": "xfr.example."})
    yield "xfr_catalog", cfg_set(cfg_set(b, ["zones", 1, "primary"],
                                         {"addresses": ["127.0.0.1:5300"]}),
                                 ["zones", 1, "catalog"], {"directory": "cat"})
    yield "xfr_primary_bad", cfg_set(b, ["zones", 1, "primary"],
                                     {"addresses": [], "key": 5, "x": 1})
    yield "zone_origin_bad", cfg_set(b, ["zones", 1, "origin"], "a..b.")
    yield "zone_origin_long", cfg_set(b, ["zones", 1, "origin"], ("a" * 63 + ".") * 5)
    for k in ["failover", "weighted", "all", "random"]:
        for sel in ["all", "weighted", "hashed", "rr"]:
            yield "rec_%s_%s" % (k, sel), cfg_set(
                b, ["records", "w.example.com."],
                {"pool": "web", "policy": k, "select": sel, "answers": 3,
                 "regions": ["us", "eu", "ap"]})
    for d in ["all", "fallback", "empty", "none"]:
        yield "rec_down_%s" % d, cfg_set(b, ["records", "fo.example.com.", "when_all_down"], d)
    yield "rec_fallback_names", cfg_set(b, ["records", "hs.example.com.", "fallback"],
                                        ["a.example.net.", "192.0.2.1"])
    yield "rec_fallback_bad", cfg_set(b, ["records", "hs.example.com.", "fallback"],
                                      ["not an address", 5, None])
    yield "rec_cname_fallback_addr", cfg_set(b, ["records", "cn.example.com.", 0],
                                             {"pool": "cn", "when_all_down": "fallback",
                                              "fallback": ["192.0.2.1"], "regions": ["us"]})
    yield "rec_spill_too_big", cfg_set(b, ["records", "fo.example.com.", "spill"], 3)
    yield "rec_spill_not_failover", cfg_set(b, ["records", "w.example.com.", "spill"], 1)
    yield "rec_regions_dup", cfg_set(b, ["records", "fo.example.com.", "regions"],
                                     ["us", "us"])
    yield "rec_regions_unknown", cfg_set(b, ["records", "fo.example.com.", "regions"],
                                         ["mars"])
    yield "rec_failover_no_order", cfg_set(b, ["records", "fo.example.com.", "regions"], ...)
    practice = {"name": "weekly-us", "regions": ["us"], "mode": "live", "duration": 1800,
                "interval": 604800, "allowed_windows": ["Tue 10:00-12:00", "Fri 22:00-02:00"],
                "blocked_dates": ["2026-12-24"], "outcome": [{"check": "http",
                                                              "host": "fo.example.com"}],
                "abort_if": {"min_up_endpoints": 1}}
    yield "drills_practice_ok", cfg_set(b, ["drills"], {
        "max_duration": 7200, "outcome_resolver": ["127.0.0.1:53", "[::1]:5353"],
        "practice": [practice, dict(practice, name="daily-canary", mode="scoped",
                                    canary=["10.1.0.0/16"], interval=86400, duration=600,
                                    allowed_windows=["Mon-Fri 09:00-17:00", "daily 00:00-24:00"])]})
    for k, v in [("allowed_windows", ["Tue 25:00-26:00"]), ("allowed_windows", ["Tue 10:00"]),
                 ("allowed_windows", []), ("blocked_dates", ["2026-02-30"]),
                 ("blocked_dates", [5]), ("interval", 10), ("interval", "weekly"),
                 ("name", "a b"), ("regions", ["mars"]), ("mode", "chaos"), ("force", True),
                 ("outcome", [{"check": "nope", "host": "a"}]), ("duration", 3600)]:
        yield "drills_practice_bad_%s_%d" % (k, len(json.dumps(v))), cfg_set(
            b, ["drills"], {"practice": [dict(practice, **{k: v})]})
    yield "drills_practice_dup", cfg_set(b, ["drills"], {"practice": [practice, practice]})
    yield "drills_resolver_bad", cfg_set(b, ["drills"], {"outcome_resolver": ["127.0.0.1"]})
    yield "rec_outside_zones", cfg_set(b, ["records", "www.example.org."], {"pool": "web"})
    yield "rec_wildcard", cfg_set(b, ["records", "*.example.com."], {"pool": "web"})
    yield "rec_root", cfg_set(b, ["records", "."], {"pool": "web"})
    yield "rec_bad_name", cfg_set(b, ["records", "a..example.com."], {"pool": "web"})
    yield "rec_static_a_conflict", cfg_set(b, ["records", "www.example.com."],
                                           {"pool": "web", "policy": "all"})
    yield "rec_static_cname_conflict", cfg_set(b, ["records", "alias.example.com."],
                                               {"pool": "web"})
    yield "rec_cname_beside_static", cfg_set(b, ["records", "mail.example.com."],
                                             {"pool": "cn", "regions": ["us"]})
    yield "rec_below_cut", cfg_set(b, ["records", "x.deleg.example.com."], {"pool": "web"})
    yield "rec_at_cut", cfg_set(b, ["records", "deleg.example.com."], {"pool": "web"})
    yield "rec_txt_node", cfg_set(b, ["records", "txt.example.com."], {"pool": "web",
                                                                       "policy": "all"})
    yield "rec_ent_deep", cfg_set(b, ["records", "a.b.c.d.e.example.com."],
                                  {"pool": "plain"})
    yield "rec_two_a", cfg_set(b, ["records", "fo.example.com."],
                               [{"pool": "web", "regions": ["us", "eu", "ap"]},
                                {"pool": "plain"}])
    yield "rec_a_and_cname", cfg_set(b, ["records", "fo.example.com."],
                                     [{"pool": "plain"}, {"pool": "cn", "regions": ["us"]}])
    yield "rec_array_empty", cfg_set(b, ["records", "fo.example.com."], [])
    yield "rec_child_zone_apex", cfg_set(b, ["records", "sub.example.com."],
                                         {"pool": "plain"})
    yield "pool_mixed_kinds", cfg_set(b, ["pools", "cn", "endpoints", 1],
                                      {"name": "x", "address": "192.0.2.1", "region": "us"})
    yield "pool_dup_endpoint", cfg_set(b, ["pools", "web", "endpoints", 1, "name"], "us1")
    yield "pool_slash_name", cfg_set(b, ["pools", "web", "endpoints", 1, "name"], "a/b")
    yield "pool_addr_and_cname", cfg_set(b, ["pools", "web", "endpoints", 0, "cname"], "x.")
    yield "pool_check_unknown", cfg_set(b, ["pools", "web", "check"], "nope")
    yield "az_two_regions", cfg_set(b, ["pools", "web", "endpoints", 3, "az"], "us-1a")
    yield "check_target_both", cfg_set(b, ["pools", "web", "endpoints", 1, "check_target"],
                                       {"address": "::1", "host": "h", "port": 1})
    yield "check_target_v6", cfg_set(b, ["pools", "web", "endpoints", 1, "check_target"],
                                     {"address": "::1", "port": 65535})
    big = cfg_set(b, ["regions"], {"r%d" % i: {} for i in range(70)})
    big["pools"] = {"many": {"endpoints": [
        {"name": "e%d" % i, "address": "10.%d.%d.1" % (i // 250, i % 250),
         "region": "r%d" % (i % 70), "az": "az%d-%d" % (i % 70, i % 2),
         "weight": i % 5}
        for i in range(300)]}}
    big["records"] = {"many.example.com.": {"pool": "many", "policy": "all", "answers": 16},
                      "mh.example.com.": {"pool": "many", "policy": "all",
                                          "select": "hashed", "answers": 16},
                      "mf.example.com.": {"pool": "many", "policy": "failover",
                                          "regions": ["r%d" % i for i in range(70)],
                                          "spill": 60, "answers": 16}}
    yield "large_pool_300_70_regions", big
    for t in ["tcp", "http", "https", "dns", "icmp", ""]:
        yield "check_type_%s" % (t or "empty"), cfg_set(b, ["checks", "x"], {"type": t,
                                                                               "port": 1})
    yield "check_timeout_ge_interval", cfg_set(b, ["checks", "tcp", "timeout"], 1)
    yield "check_headers_host", cfg_set(b, ["checks", "http", "headers"], {"Host": "x"})
    yield "check_headers_crlf", cfg_set(b, ["checks", "http", "headers"], {"X": "a\r\nB: c"})
    yield "check_header_name_bad", cfg_set(b, ["checks", "http", "headers"], {"X Y": "a"})
    yield "check_status_ranges", cfg_set(b, ["checks", "http", "expect_status"],
                                         [[100, 599], 99, [400, 300], [1, 2, 3], 600])
    yield "check_head_body", cfg_set(b, ["checks", "http", "method"], "HEAD")
    yield "check_needle_long", cfg_set(b, ["checks", "http", "body_contains"], "n" * 1025)
    yield "check_ca_missing", cfg_set(b, ["checks", "https", "ca_file"], "missing.pem")
    yield "check_ca_dir", cfg_set(b, ["checks", "https", "ca_file"], "/")
    yield "check_dns_type_num", cfg_set(b, ["checks", "dns", "query_type"], 28)
    yield "check_dns_rcode_num", cfg_set(b, ["checks", "dns", "expect_rcode"], 3)
    yield "check_key_other_type", cfg_set(b, ["checks", "tcp", "path"], "/")
    yield "check_unknown_key", cfg_set(b, ["checks", "tcp", "bogus"], 1)
    for i, l in enumerate(["127.0.0.1", "127.0.0.1:0", "127.0.0.1:65536", "[::1]", "::1:53",
                           "[::1]:53x", "localhost:53", "1.2.3.4:53:1", "[fe80::1%lo]:53",
                           "0.0.0.0:53", " 127.0.0.1:53", "127.0.0.1:+53"]):
        yield "listen_%02d" % i, cfg_set(b, ["listen"], [l])
    for i, l in enumerate(["127.0.0.1:8053", "unix:/x", "unix:rel", "192.0.2.1:8053",
                           ["192.0.2.1:80"], [], ["unix:/a", 5]]):
        yield "admin_listen_%02d" % i, cfg_set(b, ["admin", "listen"], l)
    nt = cfg_set(b, ["admin", "read_token_file"], ...)
    yield "admin_public_without_tokens", cfg_set(nt, ["admin", "listen"], "192.0.2.1:8053")
    yield "admin_short_token", cfg_set(b, ["admin", "read_token_file"], "short.token")
    yield "admin_missing_token", cfg_set(b, ["admin", "operate_token_file"], "none.token")
    yield "admin_token_is_dir", cfg_set(b, ["admin", "operate_token_file"], ".")
    yield "admin_token_is_config", cfg_set(b, ["admin", "read_token_file"], "gtmd.json")
    yield "admin_token_absolute", cfg_set(b, ["admin", "read_token_file"], "/etc/hostname")
    yield "admin_empty", cfg_set(b, ["admin"], {})
    for i, k in enumerate(["", "listen ", "LISTEN", "zone", "record", "\u00e9"]):
        yield "unknown_top_%d" % i, cfg_set(b, [k], 1)
    yield "workers_0", cfg_set(b, ["workers"], 0)
    yield "workers_257", cfg_set(b, ["workers"], 257)
    yield "edns_511", cfg_set(b, ["edns_udp_max"], 511)
    yield "edns_4097", cfg_set(b, ["edns_udp_max"], 4097)
    yield "tcp_timeout_tiny", cfg_set(b, ["tcp", "idle_timeout"], 0.0001)
    yield "state_max_age_huge", cfg_set(b, ["state_max_age"], 1e300)
    yield "location_out_of_range", cfg_set(b, ["regions", "eu", "location"], [91, 0])
    yield "location_three", cfg_set(b, ["regions", "eu", "location"], [1, 2, 3])


def config_raw_seeds():
    text = json.dumps(config_base(), indent=1).encode()
    yield "raw_truncated", text[:len(text) // 2]
    yield "raw_trailing_comma", text[:-2] + b",}"
    yield "raw_duplicate_key", b'{"listen": ["127.0.0.1:53"], "listen": ["127.0.0.1:54"]}'
    yield "raw_duplicate_nested", text.replace(b'"eu": {}', b'"eu": {}, "eu": {}', 1)
    yield "raw_bom", b"\xef\xbb\xbf" + text
    yield "raw_nul", text[:20] + b"\x00" + text[20:]
    yield "raw_comment", b"// gtmd\n" + text
    yield "raw_array", b"[" + text + b"]"
    yield "raw_string", b'"config"'
    yield "raw_empty", b""
    yield "raw_whitespace", b" \n\t "
    yield "raw_deep", b'{"regions": ' + b"[" * 2000 + b"]" * 2000 + b"}"
    yield "raw_invalid_utf8_key", b'{"listen": ["127.0.0.1:53"], "\xff": 1}'
    yield "raw_escape_nul_origin", text.replace(b'"example.com."', b'"exa\\u0000mple.com."', 1)
    yield "raw_huge_number", text.replace(b'"workers": 2', b'"workers": 1e999', 1)
    yield "raw_int_overflow", text.replace(b'"workers": 2', b'"workers": 99999999999999999999', 1)
    yield "raw_crlf", text.replace(b"\n", b"\r\n")
    yield from config_shared_seeds()


def config_shared_seeds():
    """The file as jsonshare_load reads it: member by member under the
    resource keys, equal resources one value (fuzz_config checks it against
    jansson's whole parse)."""
    b = config_base()
    rec = b["records"]["fo.example.com."]
    many = dict(b, records=dict(b["records"], **{"r%d.example.com." % i: rec for i in range(8)}))
    yield "shared_equal_records", json.dumps(many).encode()
    yield "shared_equal_pools", json.dumps(dict(b, pools=dict(b["pools"],
                                                              twin=b["pools"]["web"]))).encode()
    one = json.dumps(rec).encode()
    text = json.dumps(b).encode()
    yield "shared_duplicate_record", text.replace(b'"records": {', b'"records": {"d.example.com.": ' +
                                                  one + b', "d.example.com.": ' + one + b", ", 1)
    yield "shared_duplicate_kind", text[:-1] + b', "records": {}}'
    yield "shared_record_array", text.replace(b'"records": {', b'"records": {"a.example.com.": [' +
                                              one + b", " + one + b"], ", 1)
    yield "shared_record_scalar", text.replace(b'"records": {', b'"records": {"s.example.com.": 5, ', 1)
    yield "shared_key_nul", text.replace(b'"records": {', b'"records": {"n\\u0000.example.com.": ' +
                                         one + b", ", 1)
    yield "shared_kind_array", text.replace(b'"pools": {', b'"pools": [1], "x_pools": {', 1)
    yield "shared_depth_limit", text.replace(b'"records": {', b'"records": {"deep.example.com.": ' +
                                             b"[" * 2047 + b"]" * 2047 + b", ", 1)
    yield "shared_trailing_comma_kind", text.replace(b'"records": {', b'"records": {"t.example.com.": ' +
                                                     one + b",}, \"x\": {", 1)


def config_geo():
    """The base plus a database (the harness points it at geo-city.mmdb),
    ECS settings, a geo record with every key kind and nearest records."""
    c = config_base()
    c["geoip"] = {"database": "geo.mmdb"}
    c["ecs"] = True
    c["regions"] = {"us": {"location": [38.9, -77.0]}, "eu": {"location": [50.1, 8.7]},
                    "ap": {"location": [35.7, 139.7]}}
    c["records"]["geo.example.com."] = {
        "pool": "web", "policy": "geo", "ecs": False, "spill": 1, "geo": {
            "continent:EU": ["eu", "us"], "country:JP": ["ap"], "country:AS": ["ap", "us"],
            "subdivision:US-CA": ["us", "ap"], "network:10.1.2.0/24": ["ap"],
            "network:2001:db8:1::/48": ["eu"], "default": ["us", "eu", "ap"]}}
    c["records"]["near.example.com."] = {"pool": "web", "policy": "nearest",
                                         "select": "hashed"}
    c["records"]["near.sub.example.com."] = {"pool": "cn", "policy": "nearest",
                                             "regions": ["eu", "us"], "when_all_down": "empty"}
    return c


GEO_PATHS = [["geoip"], ["geoip", "database"], ["ecs"], ["records", "geo.example.com.", "geo"],
             ["records", "geo.example.com.", "geo", "continent:EU"],
             ["records", "geo.example.com.", "geo", "continent:EU", 0],
             ["records", "geo.example.com.", "geo", "default"],
             ["records", "geo.example.com.", "ecs"], ["records", "geo.example.com.", "policy"],
             ["records", "near.example.com.", "regions"], ["regions", "eu", "location"]]


def config_geo_seeds():
    g = config_geo()
    yield "ok_geo", g
    yield "geo_no_database", cfg_set(g, ["geoip"], ...)
    yield "geo_only_networks_no_database", cfg_set(cfg_set(g, ["geoip"], ...), ["records"], {
        "geo.example.com.": {"pool": "web", "policy": "geo", "geo": {
            "network:192.0.2.0/24": ["eu"], "network:::/0": ["ap"], "default": ["us"]}}})
    for key in ("continent:XX", "country:EU", "subdivision:US-", "network:10.1.2.3/24",
                "network:::ffff:10.0.0.0/104", "contintent:EU", "country:de"):
        yield "geo_bad_key_" + re.sub(r"[^a-z0-9]", "_", key.lower()), cfg_set(
            g, ["records", "geo.example.com.", "geo", key], ["us"])
    for i, path in enumerate(GEO_PATHS):
        label = "_".join(str(k).replace(".example.com.", "").replace(":", "_") for k in path)
        for j in sorted({i % (len(CONFIG_WRONG) - 1), len(CONFIG_WRONG) - 1}):
            name, value = CONFIG_WRONG[j]
            yield "geo_wrong_%s_%s" % (label, name), cfg_set(g, path, value)


def config_seeds():
    for name, c in config_geo_seeds():
        yield "cfg_" + name, json.dumps(c).encode()
    for name, c in config_variant_seeds():
        yield "cfg_" + name, json.dumps(c, indent=1).encode()
    for name, c in config_wrong_type_seeds():
        yield "cfg_" + name, json.dumps(c).encode()
    yield from config_raw_seeds()


# ---- zone (tests/fuzz/fuzz_zone.c: origin example.com.) ---------------------

ZONE_HEAD = """$ORIGIN example.com.
$TTL 3600
@   IN SOA ns1 hostmaster 2026112201 7200 3600 1209600 300
    IN NS  ns1
    IN NS  ns2.example.net.
ns1 IN A   192.0.2.1
"""

# One record of every type ldns reads, in presentation form.
ZONE_TYPES = {
    "A": "192.0.2.10", "AAAA": "2001:db8::10", "NS": "ns1.example.net.",
    "CNAME": "www", "PTR": "www.example.com.", "MX": "10 mail", "TXT": '"a" "b c" "\\"q"',
    "SRV": "10 60 5060 sip", "NAPTR": '100 10 "S" "SIP+D2U" "" _sip._udp',
    "CAA": '0 issue "ca.example.net"', "HTTPS": "1 . alpn=h2,h3 port=8443",
    "SVCB": "1 svc.example.net. ipv4hint=192.0.2.1", "DS": "12345 8 2 " + "AB" * 32,
    "DNSKEY": "257 3 8 AwEAAaz/tAm8yTn4Mfeh5eyI96WSVexTBAvkMgJzkKTOiW1vkIbzxeF3",
    "RRSIG": "A 8 3 3600 20300101000000 20200101000000 12345 example.com. "
             "AwEAAaz/tAm8yTn4Mfeh5eyI96WSVexTBAvkMgJzkKTO",
    "NSEC": "www.example.com. A NS SOA MX TXT AAAA RRSIG NSEC",
    "NSEC3": "1 0 10 AABBCCDD 2T7B4G4VSA5SMI47K61MV5BV1A22BOJR A RRSIG",
    "NSEC3PARAM": "1 0 10 AABBCCDD", "TLSA": "3 1 1 " + "0A" * 32,
    "SSHFP": "1 1 " + "12" * 20, "HINFO": '"PC" "Linux"',
    "RP": "hostmaster.example.com. txt.example.com.", "AFSDB": "1 afs",
    "LOC": "52 22 23.000 N 4 53 32.000 E -2.00m 0.00m 10000m 10m",
    "CERT": "1 0 0 AAAA", "DNAME": "example.net.", "URI": '10 1 "https://example.com/"',
    "OPENPGPKEY": "AAAA", "CDS": "0 0 0 00", "CDNSKEY": "0 3 0 AA==", "SPF": '"v=spf1 -all"',
    "KX": "10 kx", "EUI48": "00-00-5e-00-53-2a", "EUI64": "00-00-5e-ef-10-00-00-2a",
    "ZONEMD": "2026112201 1 1 " + "AB" * 48, "CSYNC": "66 3 A NS AAAA",
    "L32": "10 10.1.2.0", "NID": "10 0014:4fff:ff20:ee64", "CAA_long": None,
}


def zone_type_seeds():
    for t, data in ZONE_TYPES.items():
        if data is None:
            continue
        owner = "cn" if t in ("CNAME", "DNAME") else "t-" + t.lower()
        yield "type_" + t.lower(), ZONE_HEAD + "%s IN %s %s\n" % (owner, t, data)
        # the same type, broken rdata
        yield "type_" + t.lower() + "_bad", ZONE_HEAD + "%s IN %s %s\n" % (owner, t, "x" * 3)
    yield "type_generic", ZONE_HEAD + "g IN TYPE65534 \\# 4 0A000001\ng2 IN TYPE260 \\# 0\n"
    yield "type_generic_len_mismatch", ZONE_HEAD + "g IN TYPE65534 \\# 5 0A000001\n"
    yield "type_generic_known", ZONE_HEAD + "g IN TYPE1 \\# 4 C0000201\n"
    yield "type_opt", ZONE_HEAD + "o IN OPT \\# 0\n"
    yield "type_unknown_name", ZONE_HEAD + "u IN BOGUS 1\n"
    yield "class_ch", ZONE_HEAD + "c CH TXT \"chaos\"\n"
    yield "class_any", ZONE_HEAD + "c ANY A 192.0.2.1\n"
    yield "class_generic", ZONE_HEAD + "c CLASS1 A 192.0.2.1\n"


def zone_directive_seeds():
    h = ZONE_HEAD
    yield "dir_origin_relative", h + "$ORIGIN sub\nwww A 192.0.2.2\n"
    yield "dir_origin_outside", h + "$ORIGIN example.net.\nwww A 192.0.2.2\n"
    yield "dir_origin_bad", h + "$ORIGIN a..b.\nwww A 192.0.2.2\n"
    yield "dir_origin_empty", h + "$ORIGIN\nwww A 192.0.2.2\n"
    yield "dir_origin_root", "$ORIGIN .\n" + h
    yield "dir_ttl_units", h + "$TTL 1h2m3s\nx A 192.0.2.3\n"
    yield "dir_ttl_bad", h + "$TTL forever\nx A 192.0.2.3\n"
    yield "dir_ttl_max", h + "$TTL 2147483647\nx A 192.0.2.3\n"
    yield "dir_ttl_over", h + "$TTL 2147483648\nx A 192.0.2.3\n"
    yield "dir_ttl_missing", "$ORIGIN example.com.\n@ SOA ns1 h 1 2 3 4 5\n@ NS ns1\nns1 A 1.2.3.4\n"
    yield "dir_include", h + "$INCLUDE inc.zone\n"
    yield "dir_include_origin", h + "$INCLUDE inc.zone sub.example.com.\n"
    yield "dir_include_origin_bad", h + "$INCLUDE inc.zone a..b\n"
    yield "dir_include_origin_comment", h + "$INCLUDE inc.zone ; comment\n"
    yield "dir_include_missing", h + "$INCLUDE nothere.zone\n"
    yield "dir_include_no_arg", h + "$INCLUDE\n"
    yield "dir_include_self", h + "$INCLUDE zone\n"
    yield "dir_include_self_twice", h + "$INCLUDE zone\n$INCLUDE zone\n"
    yield "dir_include_absolute", h + "$INCLUDE /etc/hostname\n"
    yield "dir_include_dir", h + "$INCLUDE .\n"
    yield "dir_include_parent", h + "$INCLUDE ..\n"
    yield "dir_include_lower", h + "$include inc.zone\n"
    yield "dir_include_indented", h + "   \t$INCLUDE inc.zone\n"
    yield "dir_include_long_name", h + "$INCLUDE " + "f" * 5000 + "\n"
    yield "dir_include_after_4k", h + "; " + "c" * 4100 + "\n$INCLUDE inc.zone\n"
    yield "dir_generate", h + "$GENERATE 1-10 host$ A 192.0.2.$\n"
    yield "dir_unknown", h + "$FOO bar\n"
    yield "dir_dollar_only", h + "$\n"
    # Found by fuzz_zone_libfuzzer: a $ORIGIN ldns cannot parse left the
    # loader without an origin, and the next $INCLUDE aborted gtmd (check,
    # start-up, or a reload) in ldns_rdf_clone.
    yield "crash_bad_origin_then_include", h + "$ORIGIN a..b.\n$INCLUDE inc.zone\n"
    # Found by fuzz_zone_libfuzzer (timeout): a file including itself six
    # times is read 6^8 times within the depth limit.
    yield "timeout_include_self_six_times", h + "$INCLUDE zone\n" * 6
    yield "dir_origin_nul_then_include", h + "$ORIGIN example.co\x03ptr\x00 IN A 1.2.3.4\n" \
        "x A 192.0.2.1\n$INCLUDE inc.zone\n"


def zone_rule_seeds():
    h = ZONE_HEAD
    yield "ok_head_only", h
    yield "rule_no_soa", "$ORIGIN example.com.\nwww 60 A 192.0.2.1\n"
    yield "rule_two_soa", h + "@ SOA a. b. 2 2 3 4 5\n"
    yield "rule_soa_below_apex", h + "www SOA a. b. 2 2 3 4 5\n"
    yield "rule_no_ns", "$ORIGIN example.com.\n@ 60 SOA ns1 h 1 2 3 4 5\n"
    yield "rule_outside", h + "www.example.net. A 192.0.2.1\n"
    yield "rule_cname_and_data", h + "x CNAME www\nx A 192.0.2.1\n"
    yield "rule_two_cnames", h + "x CNAME a\nx CNAME b\n"
    yield "rule_cname_and_rrsig", h + "x CNAME a\nx RRSIG " + ZONE_TYPES["RRSIG"] + "\n"
    yield "rule_cname_at_apex", h + "@ CNAME www\n"
    yield "rule_deleg_no_glue", h + "d NS ns.d\n"
    yield "rule_deleg_glue", h + "d NS ns.d\nns.d A 192.0.2.9\nns.d AAAA 2001:db8::9\n"
    yield "rule_deleg_sibling_glue", h + "d NS ns.e\ne NS ns.e\nns.e A 192.0.2.9\n"
    yield "rule_deleg_occluded", h + "d NS ns.x.\nwww.d A 192.0.2.9\nd DS 1 8 2 " + \
        "AB" * 32 + "\n"
    yield "rule_ds_at_apex", h + "@ DS 1 8 2 " + "AB" * 32 + "\n"
    yield "rule_dname_and_below", h + "d DNAME example.net.\nx.d A 192.0.2.1\n"
    yield "rule_ttl_over", h + "x 4294967295 A 192.0.2.1\n"
    yield "rule_ttl_mixed", h + "x 60 A 192.0.2.1\nx 120 A 192.0.2.2\n"
    yield "rule_duplicate", h + "x A 192.0.2.1\nx A 192.0.2.1\n"
    yield "ok_wildcards", h + "*.w A 192.0.2.1\n*.w TXT \"w\"\n*.c CNAME www\nwww A 192.0.2.2\n" \
        "*.d NS ns.x.\n*.*.e A 192.0.2.3\n*x A 192.0.2.4\n"
    yield "ok_cname_chain", h + "".join("c%d CNAME c%d\n" % (i, i + 1) for i in range(20)) + \
        "c20 A 192.0.2.20\nl1 CNAME l2\nl2 CNAME l1\n"
    yield "ok_additional", h + "@ MX 10 mail\n@ MX 20 mail2\nmail A 192.0.2.25\nmail AAAA " \
        "2001:db8::25\n_s._tcp SRV 1 1 1 mail\nsvc NS mail\nsvc NS ns.svc\nns.svc A 192.0.2.26\n"
    yield "ok_ents", h + "a.b.c.d.e.f.g A 192.0.2.1\nz.y.x A 192.0.2.2\n"
    yield "ok_big_rrset", h + "".join("big A 10.0.%d.%d\n" % (i // 250, i % 250)
                                      for i in range(400))
    yield "ok_big_txt", h + "t TXT " + " ".join('"%s"' % ("x" * 255) for _ in range(250)) + "\n"
    yield "bad_rdata_too_big", h + "t TXT " + " ".join('"%s"' % ("x" * 255)
                                                        for _ in range(260)) + "\n"
    yield "ok_txt_long_string", h + 't TXT "' + "y" * 300 + '"\n'
    yield "ok_many_names", h + "".join("n%d A 192.0.2.%d\n" % (i, i % 250) for i in range(300))
    yield "ok_label_63", h + "a" * 63 + " A 192.0.2.1\n"
    yield "bad_label_64", h + "a" * 64 + " A 192.0.2.1\n"
    yield "ok_name_255", h + ".".join(["a" * 63] * 3 + ["a" * 49]) + " A 192.0.2.1\n"
    yield "bad_name_256", h + ".".join(["a" * 63] * 4) + " A 192.0.2.1\n"
    yield "ok_escapes", h + "a\\.b A 192.0.2.1\n\\032sp A 192.0.2.2\n\\255x A 192.0.2.3\n"
    yield "bad_escape", h + "\\256 A 192.0.2.1\n\\ A 192.0.2.2\n"
    yield "ok_upper_case", h + "WwW A 192.0.2.1\nwww AAAA 2001:db8::1\n"
    yield "ok_parens", h + "x TXT ( \"a\"\n  \"b\" ; c\n )\n"
    yield "bad_parens_open", h + "x TXT ( \"a\"\n"
    yield "bad_parens_close", h + "x TXT \"a\" )\n"
    yield "bad_quote_open", h + "x TXT \"a\n"
    yield "ok_blank_owner", h + "x A 192.0.2.1\n  AAAA 2001:db8::1\n\tTXT \"t\"\n"
    yield "bad_blank_owner_first", "  A 192.0.2.1\n" + h
    yield "ok_crlf", h.replace("\n", "\r\n") + "x A 192.0.2.1\r\n"
    yield "ok_no_final_newline", h + "x A 192.0.2.1"
    yield "bad_nul", h + "x A 192.0.2.1\x00\ny A 192.0.2.2\n"
    yield "bad_high_bytes", h + "x\xff A 192.0.2.1\n\xc3\xa9 A 192.0.2.2\n"
    yield "ok_comments_only", h + "; nothing\n;\n\n\n"
    yield "ok_ttl_class_order", h + "x IN 60 A 192.0.2.1\ny 60 IN A 192.0.2.2\nz A 192.0.2.3\n"
    yield "bad_long_line", h + "x TXT " + "z" * 70000 + "\n"
    yield "empty", ""
    yield "ok_apex_at", h + "@ A 192.0.2.1\n@ AAAA 2001:db8::1\n@ TXT \"apex\"\n"
    yield "ok_fo_policy_name", h + "fo TXT \"static beside a policy name\"\n"
    yield "ok_extra_under_cut", h + "c NS ns.c\nns.c A 192.0.2.5\n"


def zone_mutation_seeds():
    """tests/data/example.com.zone (every answering rule of the test suite),
    whole, and with each record line dropped in turn: each drop removes an
    SOA, glue, a CNAME target, a wildcard, an $INCLUDE..."""
    with open(os.path.join(HERE, "..", "data", "example.com.zone")) as f:
        text = f.read().replace("$INCLUDE example.com.inc", "$INCLUDE inc.zone")
    yield "example_full", text
    lines = text.split("\n")
    for i, line in enumerate(lines):
        if line.strip() and not line.lstrip().startswith(";"):
            yield "example_drop_%02d" % i, "\n".join(lines[:i] + lines[i + 1:])
    yield "example_twice", text + text


def zone_seeds():
    for gen in (zone_type_seeds, zone_directive_seeds, zone_rule_seeds, zone_mutation_seeds):
        for name, text in gen():
            yield name, text.encode("latin-1") if isinstance(text, str) else text


# ---- probe ------------------------------------------------------------------

PROBE_HTTP_SPECS = 4  # fuzz_probe.c: specs 0-3 are http(s), 4-9 dns


def probe_http_replies():
    ok = b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 2\r\n\r\nOK"
    yield "ok", ok
    yield "ok_status_up", (b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n\r\n"
                           b'{"status": "up", "checks": 3}')
    yield "ok_http10_bare_lf", b"HTTP/1.0 200 OK\nServer: x\n\nOK"
    yield "ok_no_reason", b"HTTP/1.1 200\r\n\r\nOK"
    yield "ok_reason_tab", b"HTTP/1.1 200 \tfine\r\n\r\nOK"
    yield "no_content", b"HTTP/1.1 204 No Content\r\n\r\n"
    yield "redirect", b"HTTP/1.1 301 Moved\r\nLocation: http://127.0.0.1/x\r\nContent-Length: 0\r\n\r\n"
    yield "found_302_body_ok", b"HTTP/1.1 302 Found\r\n\r\nOK"
    yield "not_found", b"HTTP/1.1 404 Not Found\r\nContent-Length: 9\r\n\r\nnot found"
    yield "error_500", b"HTTP/1.1 500 Internal Server Error\r\n\r\n"
    yield "unavail_503_x", b"HTTP/1.1 503 Service Unavailable\r\nRetry-After: 5\r\n\r\nx"
    yield "continue_100", b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\n\r\nOK"
    yield "chunked", (b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
                      b"2\r\nOK\r\n0\r\n\r\n")
    yield "chunked_split_needle", (b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
                                   b"1\r\nO\r\n1\r\nK\r\n0\r\n\r\n")
    yield "chunked_bad_size", (b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
                               b"zz\r\nOK\r\nffffffffffffffffff\r\n")
    yield "folded_header", b"HTTP/1.1 200 OK\r\nX-A: a\r\n  folded\r\n\tmore\r\n\r\nOK"
    yield "header_no_colon", b"HTTP/1.1 200 OK\r\nthis is not a header\r\n\r\nOK"
    yield "many_headers", b"HTTP/1.1 200 OK\r\n" + b"".join(b"X-%d: %d\r\n" % (i, i) for i in range(400)) + b"\r\nOK"
    yield "huge_header", b"HTTP/1.1 200 OK\r\nX-Big: " + b"a" * 70000 + b"\r\n\r\nOK"
    yield "header_to_limit", b"HTTP/1.1 200 OK\r\nX-Big: " + b"b" * (65536 - 26) + b"\r\n\r"
    yield "cl_negative", b"HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\nOK"
    yield "cl_huge", b"HTTP/1.1 200 OK\r\nContent-Length: 99999999999999999999999\r\n\r\nOK"
    yield "cl_twice", b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Length: 5\r\n\r\nOK"
    yield "cl_short_body", b"HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\nO"
    yield "gzip_body", (b"HTTP/1.1 200 OK\r\nContent-Encoding: gzip\r\n\r\n"
                        b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\x03\xf3\xf7\x06\x00\x8d\xb0\x2b\x89\x02\x00\x00\x00")
    yield "nul_in_header_and_body", b"HTTP/1.1 200 OK\r\nX: a\x00b\r\n\r\nO\x00K then OK"
    yield "nul_in_status", b"HTTP/1.1 200 O\x00K\r\n\r\nOK"
    yield "non_utf8", b"HTTP/1.1 200 \xff\xfe\xc0\xaf\r\nX: \x80\x81\r\n\r\n\xff\xfeOK\xc3"
    yield "latin1_reason", b"HTTP/1.1 200 Tr\xe8s bien\r\n\r\nOK"
    yield "body_over_limit", b"HTTP/1.1 200 OK\r\n\r\n" + b"z" * 65600 + b"OK"
    yield "needle_at_limit", b"HTTP/1.1 200 OK\r\n\r\n" + b"z" * (65536 - 19 - 1) + b"OK"
    yield "needle_late", b"HTTP/1.1 200 OK\r\n\r\n" + b"y" * 3000 + b"OK" + b"y" * 10
    yield "empty", b""
    yield "trunc_status", b"HTTP/1.1 20"
    yield "trunc_status_cr", b"HTTP/1.1 200 OK\r"
    yield "trunc_header", b"HTTP/1.1 200 OK\r\nContent-"
    yield "trunc_header_end", b"HTTP/1.1 200 OK\r\n\r"
    yield "trunc_body", b"HTTP/1.1 200 OK\r\n\r\nO"
    yield "http2_status", b"HTTP/2 200\r\n\r\nOK"
    yield "http12", b"HTTP/1.2 200 OK\r\n\r\nOK"
    yield "status_099", b"HTTP/1.1 099 Low\r\n\r\n"
    yield "status_600", b"HTTP/1.1 600 High\r\n\r\n"
    yield "status_4digit", b"HTTP/1.1 2000 OK\r\n\r\nOK"
    yield "status_no_space", b"HTTP/1.1 200OK\r\n\r\nOK"
    yield "status_two_spaces", b"HTTP/1.1  200 OK\r\n\r\nOK"
    yield "lowercase_http", b"http/1.1 200 OK\r\n\r\nOK"
    yield "icy", b"ICY 200 OK\r\n\r\nOK"
    yield "tls_alert", b"\x15\x03\x01\x00\x02\x02\x46"
    yield "tls_hello", b"\x16\x03\x03\x00\x31\x02\x00\x00\x2d\x03\x03" + b"\x00" * 40
    yield "status_line_long", b"HTTP/1.1 200 " + b"r" * 1100 + b"\r\n\r\nOK"
    yield "status_line_1023", b"HTTP/1.1 200 " + b"r" * (1023 - 13) + b"\r\n\r\nOK"
    yield "ctl_in_reason", b"HTTP/1.1 200 O\x01K\r\n\r\nOK"
    yield "del_in_reason", b"HTTP/1.1 200 O\x7fK\r\n\r\nOK"
    yield "cr_only_lines", b"HTTP/1.1 200 OK\rX: y\r\r\rOK"
    yield "lf_cr_lf_end", b"HTTP/1.1 200 OK\n\r\nOK"


def probe_http_seeds():
    for i, (name, reply) in enumerate(probe_http_replies()):
        for spec in range(PROBE_HTTP_SPECS):
            # Each reply against every http check, with read sizes of 1 up
            # to 64 octets (the seed byte) varying between them; replies
            # past the read limit only against the first two.
            if len(reply) > 4096 and spec > 1:
                continue
            seed = (i * 37 + spec * 101) % 256
            yield "http%d_%s" % (spec, name), bytes([spec, seed]) + reply
    # One reply cut in every way the seed byte allows, for the needle search.
    split = b"HTTP/1.1 200 OK\r\nX: 1\r\n\r\n" + b"." * 70 + b"OK" + b"." * 5
    for seed in range(0, 256, 9):
        yield "http1_cuts_%03d" % seed, bytes([1, seed]) + split


def dns_name(name, ptr=None):
    out = b""
    for label in name.split(".") if name else []:
        if label:
            out += bytes([len(label)]) + label.encode()
    return out + (struct.pack(">H", 0xC000 | ptr) if ptr is not None else b"\x00")


def dns_msg(flags=0x8400, qd=1, an=(), ns=(), ar=(), counts=None, question=None, ident=0x4242):
    if question is None:
        question = dns_name("www.example.com") + struct.pack(">HH", 1, 1)
    body = question + b"".join(an) + b"".join(ns) + b"".join(ar)
    c = counts or (qd, len(an), len(ns), len(ar))
    return struct.pack(">HHHHHH", ident, flags, *c) + body


def dns_rr(rtype, rdata, owner=b"\xc0\x0c", ttl=60, rclass=1, rdlen=None):
    return owner + struct.pack(">HHIH", rtype, rclass, ttl,
                               len(rdata) if rdlen is None else rdlen) + rdata


def dns_txt(*strings):
    return b"".join(bytes([len(x)]) + x for x in strings)


def probe_dns_replies():
    a1 = dns_rr(1, bytes([192, 0, 2, 1]))
    a2 = dns_rr(1, bytes([192, 0, 2, 2]))
    v6 = dns_rr(28, bytes.fromhex("20010db8000000000000000000000001"))
    soa = dns_rr(6, dns_name("ns.example.com") + dns_name("host.example.com") +
                 struct.pack(">IIIII", 1, 2, 3, 4, 5), owner=b"\xc0\x10")
    yield "a_ok", dns_msg(an=[a1])
    yield "a_other", dns_msg(an=[a2])
    yield "a_second_matches", dns_msg(an=[a2, a1])
    yield "a_uncompressed_owner", dns_msg(an=[dns_rr(1, bytes([192, 0, 2, 1]),
                                                     owner=dns_name("www.example.com"))])
    yield "a_bad_rdlen", dns_msg(an=[dns_rr(1, bytes([192, 0, 2, 1, 9]))])
    yield "a_short_rdlen", dns_msg(an=[dns_rr(1, bytes([192, 0, 2]))])
    yield "a_rdlen_past_end", dns_msg(an=[dns_rr(1, bytes([192, 0, 2, 1]), rdlen=200)])
    yield "aaaa_ok", dns_msg(an=[v6], question=dns_name("www.example.com") + struct.pack(">HH", 28, 1))
    yield "txt_one", dns_msg(an=[dns_rr(16, dns_txt(b"hello world"))])
    yield "txt_two", dns_msg(an=[dns_rr(16, dns_txt(b"hello", b"world"))])
    yield "txt_quotes", dns_msg(an=[dns_rr(16, dns_txt(b'say "hello world"'))])
    yield "txt_binary", dns_msg(an=[dns_rr(16, dns_txt(b"\x00\xff\x7f\\", b""))])
    yield "txt_len_past_rdata", dns_msg(an=[dns_rr(16, b"\x40abc")])
    yield "cname_ok", dns_msg(an=[dns_rr(5, dns_name("target.example.net"))])
    yield "cname_upper", dns_msg(an=[dns_rr(5, dns_name("TARGET.Example.NET"))])
    yield "cname_compressed", dns_msg(an=[dns_rr(5, b"\x06target\xc0\x10")])
    yield "cname_loop_self", dns_msg(an=[dns_rr(5, b"\xc0\x29")])
    yield "nxdomain_soa", dns_msg(flags=0x8403, ns=[soa])
    yield "nodata_soa", dns_msg(ns=[soa])
    for rc in (1, 2, 4, 5, 9, 11, 15):
        yield "rcode_%d" % rc, dns_msg(flags=0x8400 | rc)
    opt_badvers = b"\x00" + struct.pack(">HHIH", 41, 1232, 0x01000000, 0)
    yield "ext_rcode_badvers", dns_msg(ar=[opt_badvers])
    opt_ecs = b"\x00" + struct.pack(">HHIH", 41, 1232, 0, 11) + struct.pack(">HHHBB", 8, 7, 1, 24, 0) + bytes([192, 0, 2])
    yield "opt_ecs", dns_msg(an=[a1], ar=[opt_ecs])
    yield "two_opt", dns_msg(an=[a1], ar=[opt_badvers, opt_badvers])
    yield "qr_clear", dns_msg(flags=0x0100)
    yield "qr_clear_answer", dns_msg(flags=0x0000, an=[a1])
    yield "opcode_notify", dns_msg(flags=0x8000 | (4 << 11), an=[a1])
    yield "opcode_update", dns_msg(flags=0x8000 | (5 << 11))
    yield "opcode_15", dns_msg(flags=0x8000 | (15 << 11) | 0x0f)
    yield "tc_set", dns_msg(flags=0x8600)
    yield "wrong_id", dns_msg(an=[a1], ident=0xdead)
    yield "qdcount_0", dns_msg(qd=0, an=[a1], question=b"")
    yield "qdcount_2", dns_msg(counts=(2, 1, 0, 0), an=[a1])
    yield "ancount_too_big", dns_msg(an=[a1], counts=(1, 5, 0, 0))
    yield "arcount_65535", dns_msg(an=[a1], counts=(1, 1, 0, 65535))
    yield "ptr_loop_question", struct.pack(">HHHHHH", 1, 0x8400, 1, 0, 0, 0) + b"\xc0\x0c\x00\x01\x00\x01"
    yield "ptr_forward", struct.pack(">HHHHHH", 1, 0x8400, 1, 0, 0, 0) + b"\xc0\x12\x00\x01\x00\x01\x03www\x00"
    chain = b"".join(struct.pack(">H", 0xC000 | (12 + 2 * (i + 1))) for i in range(100)) + b"\x00"
    yield "ptr_chain", struct.pack(">HHHHHH", 1, 0x8400, 1, 0, 0, 0) + chain + b"\x00\x01\x00\x01"
    yield "ptr_out_of_range", dns_msg(an=[dns_rr(1, bytes([192, 0, 2, 1]), owner=b"\xc3\xff")])
    yield "label_bits_01", dns_msg(an=[dns_rr(1, bytes([192, 0, 2, 1]), owner=b"\x41abc\x00")])
    yield "label_64", dns_msg(an=[dns_rr(1, bytes([192, 0, 2, 1]), owner=b"\x3f" + b"a" * 63 + b"\x00")])
    long_name = b"".join(b"\x3f" + b"b" * 63 for _ in range(5)) + b"\x00"
    yield "name_over_255", dns_msg(an=[dns_rr(5, long_name)])
    yield "unknown_type", dns_msg(an=[dns_rr(65280, b"\x01\x02\x03")])
    yield "class_chaos", dns_msg(an=[dns_rr(16, dns_txt(b"hello world"), rclass=3)])
    many = [dns_rr(1, bytes([10, i >> 8 & 255, i & 255, 1])) for i in range(4000)]
    yield "many_answers", dns_msg(an=many + [a1])
    yield "empty", b""
    yield "one_byte", b"\x80"
    yield "header_11", dns_msg()[:11]
    yield "header_only", struct.pack(">HHHHHH", 0x4242, 0x8400, 0, 0, 0, 0)
    yield "trunc_question", dns_msg()[:20]
    yield "trunc_answer", dns_msg(an=[a1])[:-2]
    yield "trailing_garbage", dns_msg(an=[a1]) + b"\xde\xad\xbe\xef"
    yield "nul_bytes", b"\x00" * 64
    yield "all_ff", b"\xff" * 64


def probe_dns_seeds():
    # Which dns checks a reply goes to: every one, so that each expected
    # rcode and answer meets matching and mismatching replies.
    for name, reply in probe_dns_replies():
        for spec in range(PROBE_HTTP_SPECS, 10):
            if spec > 5 and name not in ("a_ok", "aaaa_ok", "txt_one", "txt_two", "txt_quotes",
                                         "cname_ok", "cname_upper", "cname_compressed",
                                         "nxdomain_soa", "qr_clear", "empty", "rcode_3"):
                continue
            yield "dns%d_%s" % (spec, name), bytes([spec]) + reply
    yield "dns7_rcode_3", bytes([7]) + dns_msg(flags=0x8403)
    yield "dns9_aaaa_long_form", bytes([9]) + dns_msg(an=[dns_rr(28, bytes.fromhex("20010db8000000000000000000000001"))])


def probe_seeds():
    yield from probe_http_seeds()
    yield from probe_dns_seeds()


# ---- fleet ------------------------------------------------------------------

FLEET_NOW = 1795000000.0  # a time before the fuzz target's now (2026)


def b64(x):
    return base64.b64encode(x if isinstance(x, bytes) else x.encode()).decode()


def fleet_kv(key, value=None, rev=12, raw_value=None):
    kv = {"key": b64(key), "create_revision": "3", "mod_revision": str(rev), "version": "1"}
    if raw_value is not None:
        kv["value"] = raw_value
    elif value is not None:
        kv["value"] = b64(value if isinstance(value, (str, bytes)) else json.dumps(value))
    return kv


def fleet_watch(events, rev=12, **extra):
    res = {"header": {"cluster_id": "14841639068965178418", "member_id": "10276657743932975437",
                      "revision": str(rev), "raft_term": "2"}, "events": events}
    res.update(extra)
    return {"result": res}


def fleet_put(key, value, rev=12):
    return {"kv": fleet_kv(key, value, rev)}


def fleet_del(key, rev=12):
    return {"type": "DELETE", "kv": {"key": b64(key), "mod_revision": str(rev)}}


def fleet_node(name="iad", **kw):
    v = {"version": "1.4.0", "config_hash": "9f86d081884c7d65", "last_seen": FLEET_NOW,
         "started": FLEET_NOW - 3600, "vantage": ["us-east"]}
    v.update(kw)
    return v


def fleet_ovr(n=1, **kw):
    v = {"id": "ovr-%d" % n, "target": "endpoint:web/a", "state": "down", "reason": "maintenance",
         "author": "alice", "created": FLEET_NOW, "expires": None, "node": "iad"}
    for k, val in kw.items():
        if val is ...:
            v.pop(k, None)
        else:
            v[k] = val
    return v


def fleet_objects():
    """(name, list of JSON objects) of one stream each."""
    yield "node_up", [fleet_watch([fleet_put("/gtmd/nodes/iad", fleet_node())])]
    yield "node_down", [fleet_watch([fleet_put("/gtmd/nodes/iad", fleet_node())]),
                        fleet_watch([fleet_del("/gtmd/nodes/iad")], rev=13)]
    yield "self_deleted", [fleet_watch([fleet_del("/gtmd/nodes/fra"),
                                        fleet_put("/gtmd/nodes/iad", fleet_node())])]
    yield "obs_down_up", [fleet_watch([fleet_put("/gtmd/obs/web/a/iad", {"s": "down", "t": FLEET_NOW}),
                                       fleet_put("/gtmd/obs/web/a/sin", {"s": "up", "t": FLEET_NOW}),
                                       fleet_put("/gtmd/obs/web/b/iad", {"s": "down", "t": FLEET_NOW})])]
    yield "obs_self", [fleet_watch([fleet_put("/gtmd/obs/web/a/fra", {"s": "up", "t": FLEET_NOW})])]
    yield "obs_delete", [fleet_watch([fleet_put("/gtmd/obs/web/a/iad", {"s": "down", "t": 1}),
                                      fleet_del("/gtmd/obs/web/a/iad")])]
    yield "obs_foreign", [fleet_watch([fleet_put("/gtmd/obs/other/x/iad", {"s": "down", "t": FLEET_NOW})])]
    yield "obs_bad_names", [fleet_watch([fleet_put(k, {"s": "down"}) for k in (
        "/gtmd/obs/", "/gtmd/obs/web", "/gtmd/obs//iad", "/gtmd/obs/web/a/", "/gtmd/obs/web/a/bad name",
        "/gtmd/obs/web/a/" + "n" * 64, "/gtmd/obs/" + "p" * 700 + "/iad", "/gtmd/obs/web/a/iad/x")])]
    yield "obs_wrong_types", [fleet_watch([fleet_put("/gtmd/obs/web/a/iad", v) for v in (
        {"s": 5}, {"s": None, "t": "now"}, {"s": "sideways"}, {"s": "down", "t": 1e308},
        {"s": "up", "t": -1e308}, {"s": "down", "t": [1]}, {"s": ["up"]}, {})])]
    yield "override_put", [fleet_watch([fleet_put("/gtmd/overrides/ovr-1", fleet_ovr())])]
    yield "override_put_del", [fleet_watch([fleet_put("/gtmd/overrides/ovr-2", fleet_ovr(2, state="up"))]),
                               fleet_watch([fleet_del("/gtmd/overrides/ovr-2")], rev=13)]
    yield "override_expiring", [fleet_watch([fleet_put("/gtmd/overrides/ovr-3",
                                                       fleet_ovr(3, expires=FLEET_NOW + 600))])]
    yield "override_bad", [fleet_watch([fleet_put("/gtmd/overrides/ovr-%d" % i, v) for i, v in enumerate((
        fleet_ovr(4, id=4), fleet_ovr(5, target="region:nowhere"), fleet_ovr(6, state="sideways"),
        fleet_ovr(7, reason=""), fleet_ovr(8, created=1e300), fleet_ovr(9, expires=-5),
        fleet_ovr(10, extra=1), fleet_ovr(11, author=...), fleet_ovr(12, id="ovr-99999999999999999999"),
        fleet_ovr(13, node=7), fleet_ovr(14, reason="x" * 5000), fleet_ovr(15, created="yesterday")), 4)])]
    yield "override_id_too_long", [fleet_watch([fleet_put("/gtmd/overrides/" + "i" * 40, fleet_ovr())])]
    yield "override_many", [fleet_watch([fleet_put("/gtmd/overrides/ovr-%d" % i, fleet_ovr(i)) for i in range(1, 300)])]
    yield "seq", [fleet_watch([fleet_put("/gtmd/seq/overrides", "17"), fleet_put("/gtmd/seq/drills", "3"),
                               fleet_put("/gtmd/seq/overrides", "99999999999999999999999"),
                               fleet_put("/gtmd/seq/overrides", "-5"), fleet_put("/gtmd/seq/nothing", "1"),
                               fleet_del("/gtmd/seq/overrides")])]
    yield "drill_ignored", [fleet_watch([fleet_put("/gtmd/drills/drl-1", {"id": "drl-1", "mode": "region"})])]
    yield "outside_prefix", [fleet_watch([fleet_put("/other/nodes/iad", fleet_node()),
                                          fleet_put("/gtm", "x"), fleet_put("", "")])]
    yield "value_not_json", [fleet_watch([fleet_put("/gtmd/nodes/iad", "not json"),
                                          fleet_put("/gtmd/nodes/sin", "[1,2]"),
                                          fleet_put("/gtmd/nodes/ams", b"\xff\xfe{"),
                                          fleet_put("/gtmd/obs/web/a/iad", "\"down\"")])]
    yield "node_wrong_types", [fleet_watch([fleet_put("/gtmd/nodes/iad", fleet_node(
        version=5, config_hash=["x"], last_seen="now", started=None, vantage={"a": 1})),
        fleet_put("/gtmd/nodes/sin", fleet_node(version="v" * 100, config_hash="h" * 100,
                                                 vantage=["x"] * 1000))])]
    yield "node_bad_names", [fleet_watch([fleet_put("/gtmd/nodes/" + n, fleet_node()) for n in (
        "", "a b", "x" * 64, "../etc", "n\u00e9", "a/b")])]
    yield "bad_base64", [fleet_watch([{"kv": {"key": "L2d0bWQvbm9kZXMvaWFk=", "value": "e30"}},
                                      {"kv": {"key": "!!!!", "value": b64("{}")}},
                                      {"kv": {"key": b64("/gtmd/nodes/iad"), "value": "===="}},
                                      {"kv": {"key": b64("/gtmd/nodes/iad"), "value": "e30=\n"}},
                                      {"kv": {"key": b64("/gtmd/nodes/iad\x00x"), "value": b64("{}\x00x")}}])]
    yield "kv_wrong_types", [fleet_watch([{"kv": {"key": 5}}, {"kv": "str"}, {"kv": None}, {},
                                          {"type": 5, "kv": fleet_kv("/gtmd/nodes/iad", fleet_node())},
                                          {"type": "DELETE"},
                                          {"kv": {"key": b64("/gtmd/nodes/iad"), "value": 7,
                                                  "mod_revision": [1]}},
                                          {"kv": fleet_kv("/gtmd/overrides/ovr-1", fleet_ovr(), rev="x")}])]
    yield "events_not_array", [fleet_watch({"kv": fleet_kv("/gtmd/nodes/iad", fleet_node())}),
                               fleet_watch("events"), fleet_watch(None), {"result": {"events": 5}}]
    yield "revisions", ([fleet_watch([], rev=r) for r in ("99999999999999999999", "-1", "12abc",
                                                           "", "9223372036854775807")] +
                        [{"result": {"header": {"revision": 1e300}}},
                         {"result": {"header": {"revision": 42}}}, {"result": {"header": "x"}}])
    yield "canceled", [{"result": {"header": {"revision": "9"}, "canceled": True, "compact_revision": "5"}}]
    yield "progress", [{"result": {"header": {"revision": "9"}}}]
    yield "created", [{"result": {"header": {"revision": "9"}, "created": True}}]
    yield "error", [{"error": {"grpc_code": 14, "http_code": 503, "message": "etcdserver: no leader"}}]
    yield "result_wrong_type", [{"result": 5}, {"result": [1]}, {"result": None}, {"x": 1}]
    yield "range", [{"header": {"revision": "20"}, "count": "4", "kvs": [
        fleet_kv("/gtmd/nodes/fra", fleet_node("fra")), fleet_kv("/gtmd/nodes/iad", fleet_node()),
        fleet_kv("/gtmd/obs/web/a/iad", {"s": "down", "t": FLEET_NOW}),
        fleet_kv("/gtmd/obs/web/a/fra", {"s": "up", "t": FLEET_NOW}),
        fleet_kv("/gtmd/overrides/ovr-1", fleet_ovr()), fleet_kv("/gtmd/seq/overrides", "1")]}]
    yield "range_then_watch", [{"header": {"revision": "20"}, "kvs": [
        fleet_kv("/gtmd/obs/web/a/iad", {"s": "down", "t": FLEET_NOW}),
        fleet_kv("/gtmd/obs/web/a/sin", {"s": "down", "t": FLEET_NOW})]},
        fleet_watch([fleet_put("/gtmd/obs/web/a/iad", {"s": "up", "t": FLEET_NOW})], rev=21),
        fleet_watch([fleet_del("/gtmd/obs/web/a/sin")], rev=22)]
    yield "range_wrong_types", [{"kvs": 5}, {"kvs": [1, "x", None, {"key": []}]}, {"kvs": None,
                                                                                 "header": []}]
    yield "range_dup_keys", [{"header": {"revision": "3"}, "kvs": [
        fleet_kv("/gtmd/obs/web/a/iad", {"s": "down"}), fleet_kv("/gtmd/obs/web/a/iad", {"s": "up"}),
        fleet_kv("/gtmd/overrides/ovr-1", fleet_ovr()), fleet_kv("/gtmd/overrides/ovr-1", fleet_ovr(state="up"))]}]
    yield "many_nodes", [fleet_watch([fleet_put("/gtmd/obs/web/a/n%d" % i, {"s": "down", "t": 1})
                                      for i in range(1100)])]
    yield "many_endpoints", [fleet_watch([fleet_put("/gtmd/obs/p%d/e/iad" % i, {"s": "up", "t": 1})
                                          for i in range(600)])]


def fleet_stream(objs, sep=b"\n"):
    return sep.join(json.dumps(o).encode() for o in objs) + sep


def fleet_raw_streams():
    one = fleet_stream([fleet_watch([fleet_put("/gtmd/nodes/iad", fleet_node())])])
    yield "raw_no_newlines", one.strip() * 3
    yield "raw_crlf_tabs", b"\r\n\t " + one.strip() + b" \r\n\t" + one
    yield "raw_garbage_between", one + b"x" + one
    yield "raw_array_top", b"[" + one.strip() + b"]"
    yield "raw_string_braces", b'{"result": {"x": "}{][\\"}"}, "y": "\\\\"}\n' + one
    yield "raw_escaped_quote_end", b'{"a": "\\\\\\""}' + one
    yield "raw_truncated", one[:len(one) // 2]
    yield "raw_truncated_in_string", b'{"result": {"events": [{"kv": {"key": "L2d0'
    yield "raw_unbalanced_close", b"}" + one
    yield "raw_bracket_mismatch", b'{"a": [1}, "b": 2]}' + one
    yield "raw_trailing_comma", b'{"a": 1,}' + one
    yield "raw_deep", b'{"a": ' + b"[" * 3000 + b"]" * 3000 + b"}"
    yield "raw_deep_objects", b'{"a": ' + b'{"b": ' * 500 + b"1" + b"}" * 500 + b"}"
    yield "raw_nul", b'{"a": "x\x00y"}' + one
    yield "raw_u0000", b'{"result": {"events": [{"kv": {"key": "\\u0000"}}]}}' + one
    yield "raw_non_utf8", b'{"a": "\xff\xfe\xc0\xaf"}' + one
    yield "raw_utf8_key", b'{"\xc3\xa9": 1}' + one
    yield "raw_huge_number", b'{"result": {"header": {"revision": 123456789012345678901234567890}}}' + one
    yield "raw_bad_number", b'{"result": {"header": {"revision": 1e99999}}}' + one
    yield "raw_nan", b'{"a": NaN}' + one
    yield "raw_dup_keys", b'{"result": 1, "result": {"events": []}}' + one
    yield "raw_empty", b""
    yield "raw_spaces", b" \n\r\t" * 50
    yield "raw_only_open", b"{" * 100
    yield "raw_http_chunk_lines", b"5b\r\n" + one + b"\r\n0\r\n\r\n"
    yield "raw_bom", b"\xef\xbb\xbf" + one
    yield "raw_big_string", b'{"a": "' + b"s" * 100000 + b'"}' + one


def fleet_seeds():
    for i, (name, objs) in enumerate(fleet_objects()):
        stream = fleet_stream(objs)
        yield "fleet_%s" % name, bytes([(i * 53) % 256]) + stream
    for i, (name, stream) in enumerate(fleet_raw_streams()):
        yield "fleet_%s" % name, bytes([(i * 29 + 7) % 256]) + stream
    # One stream cut at every boundary the seed byte can pick: chunks of 1
    # octet up to 97 (fuzz_fleet.c), each seed another cutting.
    objs = [fleet_watch([fleet_put("/gtmd/nodes/iad", fleet_node()),
                         fleet_put("/gtmd/obs/web/a/iad", {"s": "down", "t": FLEET_NOW}),
                         fleet_put("/gtmd/overrides/ovr-1", fleet_ovr())]),
            {"result": {"header": {"revision": "13"}, "x": "}\\\"{"}},
            fleet_watch([fleet_del("/gtmd/overrides/ovr-1")], rev=14)]
    stream = fleet_stream(objs, sep=b"")
    for seed in range(256):
        yield "fleet_cuts_%03d" % seed, bytes([seed]) + stream


# ---- update: RFC 2136 messages for fuzz_update.c ---------------------------

def upd_rr(name, rdtype, rdclass, ttl, rdata=b""):
    return wire_name(name) + struct.pack("!HHIH", rdtype, rdclass, ttl, len(rdata)) + rdata


def upd_msg(pre=(), up=(), zone="u.test.", ztype=6, counts=None):
    pre, up = list(pre), list(up)
    qd, an, ns = counts or (1, len(pre), len(up))
    head = struct.pack("!HHHHHH", 0x5151, 5 << 11, qd, an, ns, 0)
    return head + wire_name(zone) + struct.pack("!HH", ztype, 1) + b"".join(pre) + b"".join(up)


def update_seeds():
    A, NS, CNAME, SOA, MX, TXT, AAAA, ANY, NONE = 1, 2, 5, 6, 15, 16, 28, 255, 254
    ip = bytes([192, 0, 2, 9])
    txt = b"\x05token"
    soa = lambda serial: (wire_name("ns1.u.test.") + wire_name("h.u.test.") +
                          struct.pack("!IIIII", serial, 3600, 600, 86400, 60))
    acme = "_acme-challenge.u.test."
    cases = {
        "add_txt": upd_msg(up=[upd_rr(acme, TXT, 1, 60, txt)]),
        "add_two_txt": upd_msg(up=[upd_rr(acme, TXT, 1, 60, txt),
                                   upd_rr(acme, TXT, 1, 60, b"\x03two")]),
        "add_below": upd_msg(up=[upd_rr("x." + acme, TXT, 1, 60, txt)]),
        "add_a_denied": upd_msg(up=[upd_rr(acme, A, 1, 60, ip)]),
        "add_a_www": upd_msg(up=[upd_rr("www.u.test.", A, 1, 60, ip)]),
        "add_ttl_change": upd_msg(up=[upd_rr("www.u.test.", A, 1, 5, bytes([192, 0, 2, 2]))]),
        "add_cname_beside_a": upd_msg(up=[upd_rr("www.u.test.", CNAME, 1, 60,
                                                 wire_name("txt.u.test."))]),
        "add_a_beside_cname": upd_msg(up=[upd_rr("alias.u.test.", A, 1, 60, ip)]),
        "replace_cname": upd_msg(up=[upd_rr("alias.u.test.", CNAME, 1, 60,
                                            wire_name("txt.u.test."))]),
        "soa_later": upd_msg(up=[upd_rr("u.test.", SOA, 1, 300, soa(99))]),
        "soa_older": upd_msg(up=[upd_rr("u.test.", SOA, 1, 300, soa(5))]),
        "soa_wrap": upd_msg(up=[upd_rr("u.test.", SOA, 1, 300, soa(0x8000000a))]),
        "soa_below_apex": upd_msg(up=[upd_rr("www.u.test.", SOA, 1, 300, soa(99))]),
        "delete_rrset": upd_msg(up=[upd_rr(acme, TXT, ANY, 0)]),
        "delete_name": upd_msg(up=[upd_rr("www.u.test.", ANY, ANY, 0)]),
        "delete_apex": upd_msg(up=[upd_rr("u.test.", ANY, ANY, 0)]),
        "delete_apex_ns": upd_msg(up=[upd_rr("u.test.", NS, ANY, 0)]),
        "delete_ns_records": upd_msg(up=[upd_rr("u.test.", NS, NONE, 0, wire_name("ns1.u.test.")),
                                         upd_rr("u.test.", NS, NONE, 0,
                                                wire_name("ns2.elsewhere.test."))]),
        "delete_record": upd_msg(up=[upd_rr(acme, TXT, NONE, 0, b"\x03old")]),
        "delete_glue": upd_msg(up=[upd_rr("ns.sub.u.test.", A, ANY, 0)]),
        "add_ns_no_glue": upd_msg(up=[upd_rr("deleg.u.test.", NS, 1, 60,
                                             wire_name("ns.deleg.u.test."))]),
        "pre_exists": upd_msg([upd_rr("www.u.test.", A, ANY, 0)], [upd_rr(acme, TXT, 1, 60, txt)]),
        "pre_exists_fail": upd_msg([upd_rr("www.u.test.", MX, ANY, 0)],
                                   [upd_rr(acme, TXT, 1, 60, txt)]),
        "pre_value": upd_msg([upd_rr("www.u.test.", A, 1, 0, bytes([192, 0, 2, 2]))],
                             [upd_rr(acme, TXT, 1, 60, txt)]),
        "pre_value_fail": upd_msg([upd_rr("www.u.test.", A, 1, 0, ip)],
                                  [upd_rr(acme, TXT, 1, 60, txt)]),
        "pre_value_mx_case": upd_msg([upd_rr("mail.u.test.", MX, 1, 0,
                                             b"\x00\x0a" + wire_name("WWW.U.TEST."))],
                                     [upd_rr(acme, TXT, 1, 60, txt)]),
        "pre_nxrrset": upd_msg([upd_rr("www.u.test.", MX, NONE, 0)],
                               [upd_rr(acme, TXT, 1, 60, txt)]),
        "pre_nxrrset_fail": upd_msg([upd_rr("www.u.test.", A, NONE, 0)]),
        "pre_yxdomain": upd_msg([upd_rr("txt.u.test.", ANY, ANY, 0)],
                                [upd_rr(acme, TXT, 1, 60, txt)]),
        "pre_yxdomain_fail": upd_msg([upd_rr("none.u.test.", ANY, ANY, 0)]),
        "pre_nxdomain": upd_msg([upd_rr("none.u.test.", ANY, NONE, 0)],
                                [upd_rr(acme, TXT, 1, 60, txt)]),
        "pre_nxdomain_fail": upd_msg([upd_rr("www.u.test.", ANY, NONE, 0)]),
        "pre_ttl": upd_msg([upd_rr("www.u.test.", A, ANY, 30)]),
        "pre_none_data": upd_msg([upd_rr("www.u.test.", A, NONE, 0, ip)]),
        "pre_class_ch": upd_msg([upd_rr("www.u.test.", A, 3, 0, ip)]),
        "pre_outside": upd_msg([upd_rr("www.other.test.", A, ANY, 0)]),
        "up_any_data": upd_msg(up=[upd_rr(acme, TXT, ANY, 0, txt)]),
        "up_none_ttl": upd_msg(up=[upd_rr(acme, TXT, NONE, 60, txt)]),
        "up_no_data": upd_msg(up=[upd_rr(acme, TXT, 1, 60)]),
        "up_meta": upd_msg(up=[upd_rr(acme, 252, 1, 60, txt)]),
        "up_class_ch": upd_msg(up=[upd_rr(acme, TXT, 3, 60, txt)]),
        "up_outside": upd_msg(up=[upd_rr("x.other.test.", TXT, 1, 60, txt)]),
        "up_rrsig": upd_msg(up=[upd_rr("www.u.test.", 46, 1, 60, b"\x00" * 30)]),
        "up_compressed": upd_msg(up=[b"\x01x\xc0\x0c" + struct.pack("!HHIH", TXT, 1, 60, 6) +
                                     txt]),
        "up_pointer_loop": upd_msg(up=[b"\xc0\x1e" + struct.pack("!HHIH", TXT, 1, 60, 6) + txt]),
        "zone_type_a": upd_msg(up=[upd_rr(acme, TXT, 1, 60, txt)], ztype=1),
        "counts_past_end": upd_msg(up=[upd_rr(acme, TXT, 1, 60, txt)], counts=(1, 3, 9)),
        "truncated": upd_msg(up=[upd_rr(acme, TXT, 1, 60, txt)])[:-3],
        "header_only": upd_msg()[:12],
        "many": upd_msg(up=[upd_rr("h%d.u.test." % i, TXT, 1, 60, txt) for i in range(300)]),
    }
    for name, msg in sorted(cases.items()):
        for mode in range(4):
            yield "update_%s_%d" % (name, mode), bytes([mode]) + msg
    # Found by libFuzzer: a SOA whose RDATA ends after its names (ldns keeps
    # it with fewer fields; reading its serial aborted).
    yield "update_crash_soa_short_rdata", base64.b64decode(
        "AVFRKAAAAQAAAAEAAAF1BHRlc3QAAAYAAQF1BHRlc3QAAAYAAQAAASwAKgNuczEkAXUEdGVzdA8AAWgBdQR0ZXN0"
        "AAAAAGMAAA4QAAACWAABUYAAAAA8")
    # Also found by libFuzzer: a CAA with an empty tag, which ldns reads from
    # the wire but cannot write (the zone file could not be written).
    yield "update_found_caa_empty_tag", base64.b64decode(
        "AVFRKAAAAQAAAAEAAAF1BHRlc3QAAAYAAQ90AAAGAAECbnMDc3VuZ2UBdQR0ZXN0AAEBAAEAAAY8AATAAAIJ")


def write(sub, items):
    out = os.path.join(HERE, "corpus", sub)
    os.makedirs(out, exist_ok=True)
    names = set()
    for name, data in items:
        assert name not in names, name
        names.add(name)
        with open(os.path.join(out, name), "wb") as f:
            f.write(data)


def main():
    which = sys.argv[1:] or ["admin", "packet", "config", "zone", "probe", "fleet", "update"]
    gens = {"packet": seeds, "admin": admin_seeds, "config": config_seeds,
            "zone": zone_seeds, "probe": probe_seeds, "fleet": fleet_seeds,
            "update": update_seeds}
    for sub in which:
        if sub not in gens:
            sys.exit("make_corpus.py: unknown corpus %r (%s)" % (sub, ", ".join(gens)))
        write(sub, gens[sub]())


if __name__ == "__main__":
    main()

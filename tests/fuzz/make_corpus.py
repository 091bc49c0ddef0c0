#!/usr/bin/python3
"""Writes the seed corpora of the fuzz targets; the results are committed,
rerun after adding cases.

  make_corpus.py [admin] [packet]   (default: both)

packet (tests/fuzz/corpus/packet, needs dnspython): well-formed queries of
every answering path plus known-bad packets.

admin (tests/fuzz/corpus/admin, standard library only): inputs of
tests/fuzz/fuzz_admin.c, whose first byte selects the parser: 'B' + a
request body (then the POST /v1/overrides rules), 'E' + a /v1/explain query
string. Good and bad cases of each rule in src/admin/admin_request.c."""
import base64
import json
import os
import struct
import sys

HERE = os.path.dirname(os.path.abspath(__file__))


def q(name, rdtype="A", **kw):
    import dns.message  # dnspython: needed by the packet corpus only

    m = dns.message.make_query(name, rdtype, **kw)
    m.id = 0x4242
    return m.to_wire()


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
    o = opt_rr()
    yield "edns_two_opt", raw_query(w, 1, ar=o, opt=o, n_ar=2)
    yield "edns_opt_in_answer", raw_query(w, 1, an=o, n_an=1)
    yield "edns_opt_in_authority", raw_query(w, 1, ns=o, n_ns=1)
    yield "edns_no_question", struct.pack("!HHHHHH", 1, 0x0100, 0, 0, 0, 1) + o


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
                packet_broken_seeds):
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


def admin_seeds():
    for kind, name, data in admin_more_seeds():
        yield name, kind.encode() + data
    for name, data in admin_body_seeds():
        yield name, b"B" + data
    for name, data in admin_override_seeds():
        yield name, b"B" + data
    for name, data in admin_explain_seeds():
        yield name, b"E" + data
    for name, data in admin_utf8_seeds():
        yield name, b"U" + data


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
    which = sys.argv[1:] or ["admin", "packet"]
    for sub in which:
        if sub == "packet":
            write("packet", seeds())
        elif sub == "admin":
            write("admin", admin_seeds())
        else:
            sys.exit("make_corpus.py: unknown corpus %r (packet, admin)" % sub)


if __name__ == "__main__":
    main()

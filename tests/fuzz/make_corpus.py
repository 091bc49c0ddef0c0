#!/usr/bin/python3
"""Writes the seed corpora of the fuzz targets; the results are committed,
rerun after adding cases.

  make_corpus.py [admin] [packet]   (default: both)

packet (tests/fuzz/corpus/packet, needs dnspython): well-formed queries of
every answering path plus known-bad packets.

admin (tests/fuzz/corpus/admin, standard library only): inputs of
tests/fuzz/fuzz_admin.c, whose first byte selects the parser: 'B' + a
request body (then the POST /v1/overrides and /v1/drills rules), 'E' + a
/v1/explain query string. Good and bad cases of each rule in
src/admin/admin_request.c and src/drill/drill_spec.c."""
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
    yield "badvers", m.to_wire()
    m = dns.message.make_query("www.example.com.", "A")
    m.set_opcode(dns.opcode.NOTIFY)
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


def admin_seeds():
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

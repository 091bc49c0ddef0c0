#!/usr/bin/python3
"""Writes the seed corpus of the packet fuzz target (tests/fuzz/corpus/packet):
well-formed queries of every answering path plus known-bad packets. The
result is committed; rerun after adding cases."""
import os
import struct

import dns.edns
import dns.flags
import dns.message
import dns.opcode

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "corpus", "packet")


def q(name, rdtype="A", **kw):
    m = dns.message.make_query(name, rdtype, **kw)
    m.id = 0x4242
    return m.to_wire()


def seeds():
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


def main():
    os.makedirs(OUT, exist_ok=True)
    for name, data in seeds():
        with open(os.path.join(OUT, name), "wb") as f:
            f.write(data)


if __name__ == "__main__":
    main()

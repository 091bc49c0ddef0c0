#!/usr/bin/python3
"""Writes tests/fuzz/corpus/peer, the seeds of tests/fuzz/fuzz_peer.c (the
datagrams of the direct channel between fleet nodes,
src/fleet/fleet_peer_wire.h); the results are committed, rerun after adding
cases. Standard library only.

Good datagrams (no records, a few, a full part near 1200 octets, signed and
not) and each one broken in a way the parser must name: cut in every field,
a bad magic, unknown flags, bad names, ranges out of order, records outside
their range, an unknown state, an empty key, too many records, trailing
octets, over 1200 octets; and, for the fleet that receives them in fuzz_peer.c (node
"ns2", peer "ns1"), datagrams to another node, from a stranger, about
endpoints it does not know, and acknowledging what it never sent."""
import os
import struct

HERE = os.path.dirname(os.path.abspath(__file__))


def rec(key, state=1, as_of=1790000000500000, cseq=11):
    k = key.encode()
    return bytes([len(k)]) + k + bytes([state]) + struct.pack(">qQ", as_of, cseq)


def dgram(recs=(), frm="ns1", to="ns2", flags=0, run=1790000000123456, seq=7,
          stamp=1790000001000000, hi=100, lo=10, upto=50, ack_run=1790000000999, ack_have=3,
          count=None, sig=b""):
    f, t = frm.encode(), to.encode()
    out = b"GTP1" + bytes([flags]) + bytes([len(f)]) + f + bytes([len(t)]) + t
    out += struct.pack(">QQqQQQQQ", run, seq, stamp, hi, lo, upto, ack_run, ack_have)
    out += struct.pack(">H", len(recs) if count is None else count)
    return out + b"".join(recs) + sig


def seeds():
    few = [rec("endpoint:web/www%d" % i, 1 + i % 2, cseq=11 + i) for i in range(3)]
    full = [rec("endpoint:pool-%02d/ep" % i, 1, cseq=11 + i) for i in range(36)]
    yield "empty", dgram()
    yield "few", dgram(few)
    yield "full_part", dgram(full)
    yield "signed", dgram(few, flags=1, sig=bytes(range(64)))
    yield "signed_no_sig", dgram(few, flags=1)
    good = dgram(few)
    for cut in (3, 5, 8, 20, 60, 90, len(good) - 1):
        yield "cut_%d" % cut, good[:cut]
    yield "magic", b"GTP2" + good[4:]
    yield "flags", dgram(few, flags=6)
    yield "name_empty", dgram(few, frm="")
    yield "name_space", dgram(few, to="a b")
    yield "name_long", dgram(few, frm="x" * 64)
    yield "lo_over_upto", dgram(few, lo=60, upto=50)
    yield "upto_over_hi", dgram(few, hi=40)
    yield "rec_at_lo", dgram([rec("endpoint:a/b", cseq=10)])
    yield "rec_past_upto", dgram([rec("endpoint:a/b", cseq=51)])
    yield "rec_state", dgram([rec("endpoint:a/b", state=3)])
    yield "rec_empty_key", dgram([rec("")])
    yield "rec_nul_key", dgram([rec("endpoint:a\0b")])
    yield "count_over", dgram(few, count=5)
    yield "count_huge", dgram(few, count=65535)
    yield "trailing", good + b"\0"
    yield "too_big", dgram(full + full)
    yield "negative_stamp", dgram(few, stamp=-1)
    # For the receiving fleet of fuzz_peer.c ("ns2", peer "ns1"):
    yield "to_other", dgram(few, to="ns3")
    yield "from_stranger", dgram(few, frm="mallory")
    yield "unknown_endpoints", dgram([rec("endpoint:other/x%d" % i, cseq=11 + i)
                                      for i in range(20)])
    yield "ack_of_nothing", dgram(few, ack_run=1, ack_have=2**63)


def main():
    out = os.path.join(HERE, "corpus", "peer")
    os.makedirs(out, exist_ok=True)
    for name, data in seeds():
        with open(os.path.join(out, name), "wb") as f:
            f.write(data)


if __name__ == "__main__":
    main()

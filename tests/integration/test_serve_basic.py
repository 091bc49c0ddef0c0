"""Smoke tests: gtmd answers over UDP and TCP, and stops cleanly."""
import random
import signal
import socket
import time

import dns.flags
import pytest
import dns.message
import dns.rcode
import dns.rdatatype


def test_udp_answer(gtmd):
    r = gtmd.query("www.example.com.", "A")
    assert r.rcode() == dns.rcode.NOERROR
    assert r.flags & dns.flags.AA
    addrs = sorted(rr.address for rr in r.answer[0])
    assert addrs == ["192.0.2.80", "192.0.2.81"]


def test_oversized_datagram_ignored(gtmd):
    """A datagram larger than the receive buffer (4096 octets) is cut by
    recvmmsg: neither prefetched nor answered, and the batch's other
    queries still are. Its question name points (compression) past the
    buffer, where only the cut-off part of the datagram was."""
    q = dns.message.make_query("www.example.com.", "A")
    big = bytearray(q.to_wire()[:12]) + bytes([0xD3, 0x88]) + b"\x00\x01\x00\x01"
    big += bytes(5000 - len(big))
    big[5000 - 20:5000 - 3] = b"\x03www\x07example\x03com\x00"
    big[12:14] = (0xC000 | (5000 - 20)).to_bytes(2, "big")
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.settimeout(0.5)
        for _ in range(3):
            s.sendto(bytes(big), (gtmd.addr, gtmd.port))
            s.sendto(q.to_wire(), (gtmd.addr, gtmd.port))
        replies = []
        try:
            for _ in range(6):
                replies.append(s.recv(65535))
        except socket.timeout:
            pass
    assert len(replies) == 3  # one per normal query, none for the big ones
    for w in replies:
        r = dns.message.from_wire(w)
        assert r.id == q.id and r.rcode() == dns.rcode.NOERROR and len(r.answer) == 1
    assert gtmd.query("www.example.com.", "A").rcode() == dns.rcode.NOERROR


def test_batch_answers_match_their_queries(gtmd):
    """UDP parses a whole recvmmsg batch before answering it: in a burst of
    valid queries mixed with noise, cut questions and an oversized datagram
    (sent before any reply is read, so they share batches), every valid
    query gets exactly one reply, with its own ID, question and answer."""
    names = [("ns1.example.com.", {"192.0.2.1"}), ("mail.example.com.", {"192.0.2.25"}),
             ("www.example.com.", {"192.0.2.80", "192.0.2.81"}),
             ("a.b.c.ent.example.com.", {"192.0.2.5"}), ("sip.example.com.", {"192.0.2.60"})]
    rng = random.Random(12)
    want = {}
    burst = []
    for k in range(60):
        qid = k + 1
        if k % 6 == 5:
            name, addrs = "gone%d.example.com." % k, None  # NXDOMAIN
        elif k % 6 == 4:
            name, addrs = "x%d.wild.example.com." % k, {"192.0.2.99"}
        else:
            name, addrs = names[k % len(names)]
        q = dns.message.make_query(name, "A", use_edns=0, payload=1232)
        q.id = qid
        want[qid] = (name, addrs)
        burst.append(q.to_wire())
        # Garbage between the queries, its ID (if it has one) 0xFFxx.
        w = q.to_wire()
        junk = [b"\xff" + bytes(rng.randrange(256) for _ in range(rng.randrange(1, 40))),
                b"\xff\x01" + w[2:rng.randrange(13, len(w))],
                b"\xff\x02" + w[2:12] + bytes(5000)]
        burst.append(junk[k % 3])
    replies = {}
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 20)
        for w in burst:
            s.sendto(w, (gtmd.addr, gtmd.port))
        s.settimeout(0.2)
        deadline = time.monotonic() + 5.0
        while len(replies) < len(want) and time.monotonic() < deadline:
            try:
                w = s.recv(65535)
            except socket.timeout:
                continue
            assert len(w) >= 12 and w[2] & 0x80  # QR: a response
            if w[0] == 0xFF:
                continue  # a reply to garbage (FORMERR, NOTIMP): judged by other tests
            r = dns.message.from_wire(w)
            assert r.id not in replies, "two replies to query %d" % r.id
            replies[r.id] = r
        # A second reply to a query may come after the last first one:
        # read what else arrives for 0.3 s (at most 200 datagrams).
        s.settimeout(0.3)
        for _ in range(200):
            try:
                w = s.recv(65535)
            except socket.timeout:
                break
            if w[0] != 0xFF:
                r = dns.message.from_wire(w)
                assert r.id not in replies, "two replies to query %d" % r.id
                replies[r.id] = r
    assert sorted(replies) == sorted(want)
    for qid, r in replies.items():
        name, addrs = want[qid]
        assert [q.name.to_text() for q in r.question] == [name]
        if addrs is None:
            assert r.rcode() == dns.rcode.NXDOMAIN and not r.answer
        else:
            assert r.rcode() == dns.rcode.NOERROR
            assert {rr.address for rr in r.answer[0]} == addrs
            assert r.answer[0].name.to_text() == name


def test_tcp_answer(gtmd):
    r = gtmd.query("www.example.com.", "AAAA", tcp=True)
    assert r.rcode() == dns.rcode.NOERROR
    assert [rr.address for rr in r.answer[0]] == ["2001:db8::80"]


def test_sigterm_stops_cleanly(gtmd):
    gtmd.signal(signal.SIGTERM)
    assert gtmd.proc.wait(timeout=10) == 0
    assert "event=stop" in gtmd.read_log()


def _reply_source(family, to, port, timeout=2.0):
    """Sends www.example.com A to (to, port) and returns (the reply's source
    address, its answer addresses)."""
    s = socket.socket(family, socket.SOCK_DGRAM)
    s.settimeout(timeout)
    try:
        s.sendto(dns.message.make_query("www.example.com.", "A").to_wire(), (to, port))
        data, src = s.recvfrom(4096)
    finally:
        s.close()
    r = dns.message.from_wire(data)
    return src[0], sorted(rd.to_text() for rrset in r.answer for rd in rrset)


@pytest.mark.parametrize("addr", ["0.0.0.0", "::"])
def test_wildcard_listener_answers_from_the_address_asked(make_gtmd, addr):
    """A listener on 0.0.0.0 or [::] answers each query from the address it
    was sent to: on a host with several addresses a reply from another one
    is dropped by the client (dig times out). Queried at 127.0.0.5 and
    127.0.0.1 (and ::1)."""
    from conftest import default_config

    v6 = ":" in addr
    if v6 and not socket.has_ipv6:
        pytest.skip("no IPv6")

    def cfg(w, p):
        c = default_config(w, p)
        c["listen"] = ["[::]:%d" % p if v6 else "0.0.0.0:%d" % p]
        return c

    g = make_gtmd(cfg, start=False)
    g.addr = "::1" if v6 else "127.0.0.1"
    g.start()
    targets = ["::1"] if v6 else ["127.0.0.5", "127.0.0.1", "127.0.0.77"]
    for to in targets:
        src, answer = _reply_source(socket.AF_INET6 if v6 else socket.AF_INET, to, g.port)
        assert src == to, (to, src)
        assert answer == ["192.0.2.80", "192.0.2.81"], answer

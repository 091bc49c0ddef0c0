"""Smoke tests: gtmd answers over UDP and TCP, and stops cleanly."""
import signal
import socket

import dns.flags
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


def test_tcp_answer(gtmd):
    r = gtmd.query("www.example.com.", "AAAA", tcp=True)
    assert r.rcode() == dns.rcode.NOERROR
    assert [rr.address for rr in r.answer[0]] == ["2001:db8::80"]


def test_sigterm_stops_cleanly(gtmd):
    gtmd.signal(signal.SIGTERM)
    assert gtmd.proc.wait(timeout=10) == 0
    assert "event=stop" in gtmd.read_log()

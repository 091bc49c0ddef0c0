"""Smoke tests: gtmd answers over UDP and TCP, and stops cleanly."""
import signal

import dns.flags
import dns.rcode
import dns.rdatatype


def test_udp_answer(gtmd):
    r = gtmd.query("www.example.com.", "A")
    assert r.rcode() == dns.rcode.NOERROR
    assert r.flags & dns.flags.AA
    addrs = sorted(rr.address for rr in r.answer[0])
    assert addrs == ["192.0.2.80", "192.0.2.81"]


def test_tcp_answer(gtmd):
    r = gtmd.query("www.example.com.", "AAAA", tcp=True)
    assert r.rcode() == dns.rcode.NOERROR
    assert [rr.address for rr in r.answer[0]] == ["2001:db8::80"]


def test_sigterm_stops_cleanly(gtmd):
    gtmd.signal(signal.SIGTERM)
    assert gtmd.proc.wait(timeout=10) == 0
    assert "event=stop" in gtmd.read_log()

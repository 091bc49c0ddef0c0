"""What gtmd tells about itself (issue 11): CHAOS-class TXT answers for
id.server, hostname.bind, version.bind and version.server, and the NSID
option (RFC 5001), from the "identity" and "version" keys; hidden with
false or "" (REFUSED, no NSID). test_compare_peers.py compares the same
answers with NSD and Knot; here the defaults, hiding, reload and the exact
octets of the replies."""
import signal
import socket
import struct

import dns.edns
import dns.flags
import dns.message
import dns.query
import dns.rcode
import dns.rdataclass
import dns.rdatatype
import pytest

from backends import poll
from conftest import default_config


def cfg_with(**keys):
    def fn(workdir, port):
        c = default_config(workdir, port)
        c.update(keys)
        return c
    return fn


def ask(g, name, rdtype="TXT", rdclass="CH", nsid=None, tcp=False):
    """nsid: None (no NSID option), or the option's data to send."""
    opts = [dns.edns.GenericOption(dns.edns.NSID, nsid)] if nsid is not None else []
    q = dns.message.make_query(name, rdtype, rdclass=rdclass, use_edns=0, options=opts)
    if tcp:
        return dns.query.tcp(q, g.addr, port=g.port, timeout=2)
    return dns.query.udp(q, g.addr, port=g.port, timeout=2)


def txt(r):
    assert r.rcode() == dns.rcode.NOERROR, dns.rcode.to_text(r.rcode())
    assert len(r.answer) == 1
    rrset = r.answer[0]
    assert rrset.rdclass == dns.rdataclass.CH and rrset.rdtype == dns.rdatatype.TXT
    assert rrset.ttl == 0
    assert not r.flags & dns.flags.AA, "AA is clear, as NSD and Knot answer"
    return b"".join(rrset[0].strings).decode()


def nsid_of(r):
    for o in r.options:
        if o.otype == dns.edns.NSID:
            return o.to_wire()
    return None


def test_defaults_are_host_name_and_gtmd_version(gtmd):
    host = socket.gethostname()
    assert txt(ask(gtmd, "id.server.")) == host
    assert txt(ask(gtmd, "hostname.bind.")) == host
    version = txt(ask(gtmd, "version.bind."))
    assert version.startswith("gtmd ") and version[5:6].isdigit(), version
    assert txt(ask(gtmd, "version.server.")) == version
    assert nsid_of(ask(gtmd, "www.example.com.", "A", "IN", nsid=b"")) == host.encode()


def test_configured_texts_and_nsid_rules(make_gtmd):
    g = make_gtmd(cfg_with(identity="ns1.test.example", version="secret build"))
    assert txt(ask(g, "ID.Server.")) == "ns1.test.example"
    assert txt(ask(g, "version.bind.", tcp=True)) == "secret build"
    assert txt(ask(g, "version.bind.", "ANY")) == "secret build"
    for rdtype in ("A", "AAAA", "SOA"):
        assert ask(g, "version.bind.", rdtype).rcode() == dns.rcode.REFUSED
    assert ask(g, "authors.bind.").rcode() == dns.rcode.REFUSED
    assert ask(g, "www.example.com.", "A", "CH").rcode() == dns.rcode.REFUSED
    # NSID only for an empty NSID option, on every kind of reply.
    for name, rdtype, rdclass in (("www.example.com.", "A", "IN"), ("nope.example.com.", "A", "IN"),
                                  ("www.example.org.", "A", "IN"), ("id.server.", "TXT", "CH")):
        assert nsid_of(ask(g, name, rdtype, rdclass, nsid=b"")) == b"ns1.test.example"
        assert nsid_of(ask(g, name, rdtype, rdclass)) is None
        assert nsid_of(ask(g, name, rdtype, rdclass, nsid=b"\x01\x02")) is None


def test_exact_octets_of_a_version_bind_answer(make_gtmd):
    g = make_gtmd(cfg_with(version="v1"))
    qname = b"\x07version\x04bind\x00"
    q = struct.pack("!HHHHHH", 0x1234, 0x0100, 1, 0, 0, 0) + qname + struct.pack("!HH", 16, 3)
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.settimeout(2)
    try:
        s.sendto(q, (g.addr, g.port))
        w = s.recv(512)
    finally:
        s.close()
    want = (struct.pack("!HHHHHH", 0x1234, 0x8100, 1, 1, 0, 0) + qname + struct.pack("!HH", 16, 3)
            + b"\xc0\x0c" + struct.pack("!HHIH", 16, 3, 0, 3) + b"\x02v1")
    assert w == want, w.hex()


@pytest.mark.parametrize("hidden", [False, ""])
def test_hidden_identity_and_version_are_refused(make_gtmd, hidden):
    g = make_gtmd(cfg_with(identity=hidden, version=hidden))
    for name in ("id.server.", "hostname.bind.", "version.bind.", "version.server."):
        r = ask(g, name, nsid=b"")
        assert r.rcode() == dns.rcode.REFUSED, name
        assert nsid_of(r) is None
    assert nsid_of(ask(g, "www.example.com.", "A", "IN", nsid=b"")) is None


def test_reload_changes_identity(make_gtmd):
    g = make_gtmd(cfg_with(identity="before"))
    assert txt(ask(g, "id.server.")) == "before"
    cfg = dict(g.config)
    cfg["identity"] = "after"
    cfg["version"] = False
    g.write_config(cfg)
    g.signal(signal.SIGHUP)
    ok, _ = poll(lambda: ask(g, "id.server.").answer and txt(ask(g, "id.server.")) == "after", 5.0)
    assert ok
    assert ask(g, "version.bind.").rcode() == dns.rcode.REFUSED
    assert nsid_of(ask(g, "www.example.com.", "A", "IN", nsid=b"")) == b"after"

"""A zone transfer in progress while a thousand configuration changes pass
(issue #55: "a reader holding an old version sees it whole while a
thousand changes pass").

gtmd serves ax.test. (250,000 static records: a transfer of about 7 MB,
more than loopback's socket buffers hold, so the transfer is still being
made when the changes come) with 200 policy names, transferable from
127.0.0.1. A slow secondary (a 4 KB receive buffer) asks AXFR, reads the
first message and stops reading; 1,000 changes through the admin API then
move every policy name (new region order, a TTL no version had before);
then the secondary reads on to the end of the stream.

What must hold, always: nothing of a newer version is in the transfer
(every policy record received is as the version the transfer began in
answered it; the static records are the zone's), and a transfer that ends
with its SOA is that version whole: the SOA's serial at both ends, every
record of a transfer of that version made before the changes.

What issue #55 asks beyond that: the transfer goes on to its end. Today
a new version ends a transfer in progress (xfr_out.h: "a set of another
generation ends the transfer, and the secondary tries again";
doc/dns-behaviour.md), so the stream stops early: the test then checks
the rest and reports xfail. Once versions are held by their readers, it
passes.
"""
import os
import socket
import struct
import threading
import time

import dns.message
import dns.query
import dns.rdatatype
import pytest

from adminlib import Admin, admin_port, admin_section

STATIC = 250000  # records: a transfer of ~7 MB, well above tcp_wmem's 4 MB at most
POLICY = 200
CHANGES = 1000
A1, A2 = "192.0.2.1", "198.51.100.1"


def config_fn(workdir, port):
    with open(os.path.join(workdir, "ax.test.zone"), "w") as f:
        f.write("$ORIGIN ax.test.\n$TTL 300\n@ SOA ns1 h 1 3600 600 86400 60\n"
                "@ NS ns1\nns1 A 192.0.2.53\n")
        f.write("".join("s%d A 10.%d.%d.%d\n" % (i, i // 65536, (i // 256) % 256, i % 256)
                        for i in range(STATIC)))
    return {"listen": ["127.0.0.1:%d" % port], "workers": 1,
            # A stalled secondary is cut after idle_timeout (10 s): the
            # changes under ASan on a loaded machine may take longer.
            "tcp": {"idle_timeout": 600},
            "zones": [{"origin": "ax.test.", "file": "ax.test.zone",
                       "transfer": {"allow": ["127.0.0.1"]}}],
            "admin": admin_section(workdir, admin_port(port), audit=False),
            "config_api": {"history_dir": "history", "keep": 3},
            "regions": {"a": {}, "b": {}},
            "pools": {"web": {"endpoints": [{"name": "a1", "address": A1, "region": "a"},
                                            {"name": "b1", "address": A2, "region": "b"}]}},
            "records": {"r%d.ax.test." % i: {"pool": "web", "policy": "failover",
                                             "regions": ["a", "b"], "ttl": 30}
                        for i in range(POLICY)}}


def open_axfr(port, rcvbuf=None):
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    if rcvbuf:  # before connect: the window the secondary offers stays small
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
    s.settimeout(60)
    s.connect(("127.0.0.1", port))
    q = dns.message.make_query("ax.test.", "AXFR").to_wire()
    s.sendall(struct.pack("!H", len(q)) + q)
    return s


def read_exact(s, n):
    buf = b""
    while len(buf) < n:
        chunk = s.recv(n - len(buf))
        if not chunk:
            return None
        buf += chunk
    return buf


def read_messages(s, limit=None, deadline=120.0):
    """Messages of the stream until its closing SOA, EOF (the transfer was
    cut), or `limit` messages. (messages, whether the closing SOA came)."""
    msgs, soas = [], 0
    end = time.monotonic() + deadline  # a transfer of 4 MB on loopback: seconds under ASan
    while time.monotonic() < end and (limit is None or len(msgs) < limit):
        head = read_exact(s, 2)
        body = head and read_exact(s, struct.unpack("!H", head)[0])
        if not body:
            return msgs, False
        m = dns.message.from_wire(body, one_rr_per_rrset=True)
        msgs.append(m)
        soas += sum(rr.rdtype == dns.rdatatype.SOA for rr in m.answer)
        if soas >= 2:
            return msgs, True
    return msgs, False


def records(msgs):
    """(name, ttl, type, data) of every record in msgs, the SOAs apart."""
    out, soas = set(), []
    for m in msgs:
        for rr in m.answer:
            for x in rr:
                if rr.rdtype == dns.rdatatype.SOA:
                    soas.append(x.serial)
                else:
                    out.add((rr.name.to_text(), rr.ttl, dns.rdatatype.to_text(rr.rdtype),
                             x.to_text()))
    return out, soas


def xfr_done_count(g):
    return g.read_log().count("event=xfr_out zone=ax.test.")


def test_transfer_in_progress_sees_one_version(make_gtmd):
    g = make_gtmd(config_fn, start=False)
    g.start(wait=False)
    g.wait_ready(timeout=120)  # 250,000 records under ASan: a few seconds
    a = Admin.of(g)
    a.wait_ready(timeout=30)

    # The version before the changes, transferred whole by a fast reader.
    s = open_axfr(g.port)
    try:
        msgs, whole = read_messages(s)
    finally:
        s.close()
    assert whole, "a transfer with nothing changing did not end with its SOA"
    v0, soa0 = records(msgs)
    assert len(soa0) == 2 and soa0[0] == soa0[1]
    assert len(v0) == STATIC + 2 + POLICY, len(v0)
    assert ("r7.ax.test.", 30, "A", A1) in v0
    done = xfr_done_count(g)

    # The slow secondary: one message read, then nothing while the changes pass.
    s = open_axfr(g.port, rcvbuf=4096)
    try:
        first, _ = read_messages(s, limit=1)
        assert first, "no first message of the transfer"
        assert xfr_done_count(g) == done, \
            "the whole transfer was made before any change: the zone fits in the buffers"
        failed = []

        def change(k):
            r = a.call("PUT", "/v1/config/records/r%d.ax.test." % (k % POLICY),
                       body={"pool": "web", "policy": "failover",
                             "regions": ["b", "a"] if k % 2 == 0 else ["a", "b"],
                             "ttl": 31 + k}, timeout=60)
            if r.status != 201:
                failed.append((k, r.status))
        t = threading.Thread(target=lambda: [change(k) for k in range(CHANGES)])
        t.start()
        t.join(300)  # 1,000 changes on 200 names: ~10 s under ASan, 300 s at most
        assert not t.is_alive(), "1,000 changes did not finish in 300 s"
        assert not failed, failed[:5]
        # The changes are served: the last one of r199 has TTL 31 + 999.
        last = g.query("r199.ax.test.", "A")
        assert last.answer and last.answer[0].ttl == 31 + CHANGES - 1, last
        rest, whole = read_messages(s)
    finally:
        s.close()

    got, soas = records(first + rest)
    newer = sorted(x for x in got if x not in v0)
    assert not newer, "records of a newer version in the transfer: %s" % newer[:5]
    assert soas and soas[0] == soa0[0], soas
    if whole:
        assert soas == soa0 and got == v0, \
            "a transfer that ended is not its version whole: %d of %d records" % (
                len(got), len(v0))
        return
    pytest.xfail("issue #55: a change ends a transfer in progress (%d of %d records "
                 "received, no closing SOA): xfr_out.h ends it when the set's "
                 "generation changes" % (len(got), len(v0)))

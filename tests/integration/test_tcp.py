"""DNS over TCP (RFC 7766): pipelining, framing, timeouts, connection limits
and resistance to floods and to clients that do not read."""
import select
import socket
import struct
import threading
import time

import dns.message
import dns.rcode
import dns.rdatatype
import pytest

from conftest import default_config

# ---- helpers ---------------------------------------------------------------


def tcp_config(workers=None, **tcp):
    """A config_fn for make_gtmd: the test zones plus the given tcp settings."""

    def fn(workdir, port):
        c = default_config(workdir, port)
        if workers is not None:
            c["workers"] = workers
        if tcp:
            c["tcp"] = dict(tcp)
        return c

    return fn


def wire_query(name, rdtype="A", qid=None):
    q = dns.message.make_query(name, rdtype)
    if qid is not None:
        q.id = qid
    return q.to_wire()


def frame(wire):
    return struct.pack("!H", len(wire)) + wire


def connect(g, timeout=2.0):
    s = socket.create_connection((g.addr, g.port), timeout=timeout)
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return s


def recv_exact(s, n, deadline):
    """n bytes, or None on EOF/reset; raises socket.timeout past deadline."""
    buf = b""
    while len(buf) < n:
        left = deadline - time.monotonic()
        if left <= 0:
            raise socket.timeout("timed out")
        s.settimeout(left)
        try:
            chunk = s.recv(n - len(buf))
        except (ConnectionResetError, BrokenPipeError):
            return None
        if not chunk:
            return None
        buf += chunk
    return buf


def read_msg(s, timeout=2.0):
    """One length-prefixed DNS message as a dns.message.Message (None on EOF)."""
    deadline = time.monotonic() + timeout
    hdr = recv_exact(s, 2, deadline)
    if hdr is None:
        return None
    (n,) = struct.unpack("!H", hdr)
    body = recv_exact(s, n, deadline)
    assert body is not None, "connection closed in the middle of a message"
    return dns.message.from_wire(body)


def wait_closed(s, timeout):
    """Seconds until the peer closed s (EOF or reset), or None if it stayed
    open for timeout seconds. Data received meanwhile is discarded."""
    t0 = time.monotonic()
    deadline = t0 + timeout
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            return None
        s.settimeout(left)
        try:
            chunk = s.recv(65536)
        except socket.timeout:
            return None
        except (ConnectionResetError, BrokenPipeError):
            return time.monotonic() - t0
        if not chunk:
            return time.monotonic() - t0


def is_open(s):
    """True if the peer has not closed s (nothing pending to read)."""
    try:
        r, _, _ = select.select([s], [], [], 0)
        if not r:
            return True
        s.settimeout(0.05)
        return s.recv(1, socket.MSG_PEEK) != b""
    except (ConnectionResetError, BrokenPipeError, socket.timeout):
        return False


def tcp_query(g, name="www.example.com.", rdtype="A", timeout=1.0, rtt=0.0):
    """One fresh connection, one query; the answer within timeout seconds.
    rtt: delay between connect and sending, as a client one network round
    trip away (its query arrives one RTT after the server accepted)."""
    s = socket.create_connection((g.addr, g.port), timeout=timeout)
    try:
        qid = 4242
        if rtt:
            time.sleep(rtt)
        s.sendall(frame(wire_query(name, rdtype, qid)))
        r = read_msg(s, timeout)
        assert r is not None, "fresh TCP connection closed before the answer"
        assert r.id == qid
        return r
    finally:
        s.close()


def assert_www_answer(r):
    assert r.rcode() == dns.rcode.NOERROR
    assert sorted(rr.address for rr in r.answer[0]) == ["192.0.2.80", "192.0.2.81"]


NAMES = [
    ("www.example.com.", "A"),
    ("mail.example.com.", "A"),
    ("ns1.example.com.", "AAAA"),
    ("alias.example.com.", "A"),
    ("txt.example.com.", "TXT"),
    ("nope.example.com.", "A"),
    ("www.sub.example.com.", "A"),
    ("big.example.com.", "TXT"),
]


# ---- pipelining and framing ------------------------------------------------


@pytest.mark.threads
def test_pipelining_50_queries_in_one_write(gtmd):
    s = connect(gtmd)
    try:
        sent = {}
        data = b""
        for i in range(50):
            name, rdtype = NAMES[i % len(NAMES)]
            qid = 1000 + i
            sent[qid] = (name, rdtype)
            data += frame(wire_query(name, rdtype, qid))
        s.sendall(data)  # one write: all 50 messages back to back
        got = {}
        for _ in range(50):
            r = read_msg(s, timeout=3.0)
            assert r is not None, "closed after %d answers" % len(got)
            assert r.id in sent and r.id not in got, "unexpected or repeated id %d" % r.id
            got[r.id] = r
        assert set(got) == set(sent)
        for qid, r in got.items():
            name, rdtype = sent[qid]
            assert r.question[0].name.to_text() == name
            assert dns.rdatatype.to_text(r.question[0].rdtype) == rdtype
        assert got[1000].rcode() == dns.rcode.NOERROR
        assert_www_answer(got[1000])
        assert got[1005].rcode() == dns.rcode.NXDOMAIN
        # The connection is still usable afterwards.
        s.sendall(frame(wire_query("www.example.com.", "A", 7)))
        r = read_msg(s)
        assert r.id == 7
        assert_www_answer(r)
    finally:
        s.close()


def test_query_in_one_byte_writes(gtmd):
    s = connect(gtmd)
    try:
        data = frame(wire_query("www.example.com.", "A", 31337))
        for i in range(len(data)):
            s.send(data[i:i + 1])
            time.sleep(0.005)
        r = read_msg(s)
        assert r is not None
        assert r.id == 31337
        assert_www_answer(r)
    finally:
        s.close()


def test_two_messages_and_partial_third_in_one_segment(gtmd):
    s = connect(gtmd)
    try:
        m1 = frame(wire_query("www.example.com.", "A", 1))
        m2 = frame(wire_query("mail.example.com.", "A", 2))
        m3 = frame(wire_query("www.sub.example.com.", "A", 3))
        cut = 7  # the length prefix and part of the header of the third
        s.sendall(m1 + m2 + m3[:cut])
        answers = {}
        for _ in range(2):
            r = read_msg(s)
            assert r is not None
            answers[r.id] = r
        assert set(answers) == {1, 2}
        assert_www_answer(answers[1])
        assert [rr.address for rr in answers[2].answer[0]] == ["192.0.2.25"]
        # Nothing more until the third message is complete.
        s.settimeout(0.3)
        with pytest.raises(socket.timeout):
            s.recv(1)
        s.sendall(m3[cut:])
        r = read_msg(s)
        assert r is not None and r.id == 3
        assert [rr.address for rr in r.answer[0]] == ["192.0.2.153"]
    finally:
        s.close()


@pytest.mark.parametrize("prefix", [b"\x00\x00", b"\x00\x01\x00", b"\x00\x0b" + b"\x00" * 11])
def test_zero_or_short_length_prefix_closes(gtmd, prefix):
    s = connect(gtmd)
    try:
        # A good query first: the connection works, then framing breaks.
        s.sendall(frame(wire_query("www.example.com.", "A", 5)))
        r = read_msg(s)
        assert r is not None and r.id == 5
        s.sendall(prefix)
        assert wait_closed(s, 2.0) is not None, "server kept a connection whose framing is lost"
    finally:
        s.close()
    # The server itself is fine.
    assert_www_answer(tcp_query(gtmd))


# ---- timeouts --------------------------------------------------------------


def test_idle_timeout_closes_idle_connection(make_gtmd):
    g = make_gtmd(tcp_config(idle_timeout=0.5, message_timeout=5))
    s = connect(g)
    try:
        t0 = time.monotonic()
        took = wait_closed(s, 4.0)
        assert took is not None, "idle connection not closed after 4 s (idle_timeout 0.5)"
        assert 0.4 <= time.monotonic() - t0 <= 2.0
    finally:
        s.close()


def test_idle_timeout_counts_from_last_query(make_gtmd):
    g = make_gtmd(tcp_config(idle_timeout=0.5, message_timeout=5))
    s = connect(g)
    try:
        # Keep it busy for 1.2 s (over twice the idle timeout): stays open.
        t_end = time.monotonic() + 1.2
        qid = 0
        while time.monotonic() < t_end:
            qid += 1
            s.sendall(frame(wire_query("www.example.com.", "A", qid)))
            r = read_msg(s)
            assert r is not None, "an active connection was closed as idle"
            assert r.id == qid
            time.sleep(0.1)
        t0 = time.monotonic()
        took = wait_closed(s, 4.0)
        assert took is not None
        assert 0.4 <= time.monotonic() - t0 <= 2.0
    finally:
        s.close()


def test_message_timeout_closes_partial_message(make_gtmd):
    g = make_gtmd(tcp_config(idle_timeout=10, message_timeout=0.5))
    s = connect(g)
    try:
        data = frame(wire_query("www.example.com.", "A", 9))
        t0 = time.monotonic()
        s.sendall(data[:6])  # length prefix and 4 bytes of a 30-odd byte message
        took = wait_closed(s, 4.0)
        assert took is not None, "partial message not timed out after 4 s (message_timeout 0.5)"
        assert 0.4 <= time.monotonic() - t0 <= 2.0
    finally:
        s.close()


def test_message_timeout_not_reset_by_slow_drip(make_gtmd):
    """A slowloris client sending one byte every 100 ms never completes a
    message within message_timeout and must be closed anyway."""
    g = make_gtmd(tcp_config(idle_timeout=10, message_timeout=0.5))
    s = connect(g)
    try:
        data = struct.pack("!H", 100) + b"\x00" * 100  # 40 bytes in 4 s: never complete
        t0 = time.monotonic()
        closed = False
        for i in range(40):  # at most 4 s
            try:
                s.send(data[i:i + 1])
            except (BrokenPipeError, ConnectionResetError):
                closed = True
                break
            if not is_open(s):
                closed = True
                break
            time.sleep(0.1)
        elapsed = time.monotonic() - t0
        assert closed, "slow-drip connection still open after 4 s"
        assert elapsed <= 2.0, "closed only after %.1f s" % elapsed
    finally:
        s.close()


# ---- connection limit ------------------------------------------------------


@pytest.mark.threads
def test_connection_limit_evicts_oldest_idle(make_gtmd):
    g = make_gtmd(tcp_config(workers=1, max_connections=8))
    conns = []
    try:
        for i in range(8):
            s = connect(g)
            s.sendall(frame(wire_query("www.example.com.", "A", 100 + i)))
            r = read_msg(s)
            assert r is not None and r.id == 100 + i
            conns.append(s)
            time.sleep(0.02)
        assert all(is_open(s) for s in conns)
        ninth = connect(g)
        conns.append(ninth)
        ninth.sendall(frame(wire_query("www.example.com.", "A", 999)))
        r = read_msg(ninth, timeout=1.0)
        assert r is not None, "the 9th connection was closed instead of served"
        assert r.id == 999
        assert_www_answer(r)
        assert wait_closed(conns[0], 1.0) is not None, "the oldest idle connection was not evicted"
        # The other seven are untouched and still answer.
        for i, s in enumerate(conns[1:8], start=1):
            assert is_open(s), "connection %d was closed; only the oldest should be" % i
            s.sendall(frame(wire_query("mail.example.com.", "A", 200 + i)))
            r = read_msg(s, timeout=1.0)
            assert r is not None and r.id == 200 + i
    finally:
        for s in conns:
            s.close()


# ---- floods and clients that do not read ------------------------------------


@pytest.mark.threads
def test_tcp_flood_does_not_block_udp_or_fresh_tcp(make_gtmd):
    g = make_gtmd()
    idle, drip = [], []
    stop = threading.Event()
    try:
        for i in range(300):
            s = socket.create_connection((g.addr, g.port), timeout=1.0)
            (idle if i % 2 else drip).append(s)
        payload = struct.pack("!H", 200) + b"\x00" * 200  # never completes in time

        def dripper():
            pos = 0
            t_end = time.monotonic() + 4.0
            while not stop.is_set() and time.monotonic() < t_end and pos < len(payload):
                for s in drip:
                    try:
                        s.send(payload[pos:pos + 1])
                    except OSError:
                        pass
                pos += 1
                stop.wait(0.05)

        t = threading.Thread(target=dripper, daemon=True)
        t.start()
        time.sleep(0.2)
        for i in range(10):
            t0 = time.monotonic()
            r = g.query("www.example.com.", "A", timeout=1.0)
            assert_www_answer(r)
            assert time.monotonic() - t0 < 1.0
            t0 = time.monotonic()
            assert_www_answer(tcp_query(g, timeout=1.0))
            assert time.monotonic() - t0 < 1.0
            time.sleep(0.1)
    finally:
        stop.set()
        for s in idle + drip:
            s.close()


@pytest.mark.threads
def test_connection_churn_flood_does_not_starve_fresh_tcp(make_gtmd):
    """An attacker keeps opening connections that send one byte and stay
    open (slowloris), far past max_connections; a fresh client must still be
    served within 1 s every time. The fresh client sends its query 10 ms
    after connecting, as a client 10 ms away would: the server must not
    evict it as "idle" in favour of connections stuck mid-message."""
    g = make_gtmd(tcp_config(workers=1, max_connections=32))
    stop = threading.Event()
    opened = [0]
    rate, limit = 800.0, 1600  # bounded: at most 1600 connections over ~2 s

    def flood():
        held = []
        t0 = time.monotonic()
        try:
            while not stop.is_set() and opened[0] < limit and time.monotonic() < t0 + 3.0:
                delay = t0 + opened[0] / rate - time.monotonic()
                if delay > 0:
                    time.sleep(delay)
                try:
                    s = socket.create_connection((g.addr, g.port), timeout=0.5)
                    s.send(b"\x00")
                    held.append(s)
                except OSError:
                    pass
                opened[0] += 1
                if len(held) > 200:
                    held.pop(0).close()
        finally:
            for s in held:
                s.close()

    t = threading.Thread(target=flood, daemon=True)
    t.start()
    failures = []
    probes = 0
    try:
        time.sleep(0.2)
        while probes < 20 and t.is_alive():
            probes += 1
            t0 = time.monotonic()
            try:
                assert_www_answer(tcp_query(g, timeout=1.0, rtt=0.01))
                if time.monotonic() - t0 >= 1.0:
                    failures.append("slow %.2f s" % (time.monotonic() - t0))
            except (AssertionError, OSError) as e:
                failures.append("%s: %s" % (type(e).__name__, e))
            assert_www_answer(g.query("www.example.com.", "A", timeout=1.0))
            time.sleep(0.05)
    finally:
        stop.set()
        t.join(timeout=10)
    assert opened[0] > 300 and probes >= 10, "the flood did not get going"
    assert not failures, "%d of %d fresh TCP queries failed during the flood: %s" % (
        len(failures), probes, failures[:3])


def test_client_that_never_reads_does_not_block_others(make_gtmd):
    g = make_gtmd(tcp_config(workers=1, idle_timeout=30, message_timeout=30))
    hog = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    hog.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    hog.connect((g.addr, g.port))
    hog.setblocking(False)
    stop = threading.Event()
    sent = [0]
    blocked_at = [None]
    # Large answers (the TXT RRset is ~600 bytes) fill the pipe quickly.
    chunk = b"".join(frame(wire_query("big.example.com.", "TXT", i)) for i in range(100))

    def pump():
        t_end = time.monotonic() + 4.0
        pending = b""
        while not stop.is_set() and time.monotonic() < t_end and sent[0] < 64 * 1024 * 1024:
            if not pending:
                pending = chunk
            try:
                n = hog.send(pending)
                sent[0] += n
                pending = pending[n:]
            except BlockingIOError:
                if blocked_at[0] is None:
                    blocked_at[0] = time.monotonic()
                select.select([], [hog], [], 0.05)
            except OSError:
                return

    t = threading.Thread(target=pump, daemon=True)
    t.start()
    try:
        time.sleep(0.3)
        for i in range(10):
            t0 = time.monotonic()
            assert_www_answer(tcp_query(g, timeout=1.0))
            assert_www_answer(g.query("www.example.com.", "A", timeout=1.0))
            assert time.monotonic() - t0 < 1.0
            time.sleep(0.15)
    finally:
        stop.set()
        t.join(timeout=10)
        hog.close()
    assert sent[0] > 100000, "the non-reading client sent only %d bytes" % sent[0]
    assert blocked_at[0] is not None, "server kept reading from a client that never reads"
    # Still healthy afterwards.
    assert_www_answer(tcp_query(g, timeout=1.0))

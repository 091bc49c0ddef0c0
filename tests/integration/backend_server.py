#!/usr/bin/python3
"""A real, deliberately misbehaving backend for gtmd's health-check tests.

Started as a subprocess by backends.py; prints "READY" on stdout once its
socket is bound and exits on its own after --lifetime seconds, so nothing
outlives a test run even when the test process dies.

    backend_server.py http --addr A --port P [--tls --cert C --key K]
                           [--mode M] [--mode-file F] [--stats-file S]
    backend_server.py tcp  --addr A --port P
    backend_server.py dns  --addr A --port P --name N --answer ADDR [--mode-file F]

HTTP modes (the mode file, when it exists, overrides --mode per connection,
so a test can switch a running backend's behaviour without a gap):
    ok            200 with a short body containing "gtmd-backend-ok"
    status:N      status N with a short body
    redirect      302 to /elsewhere
    blackhole     accept, never read or answer (connection held <= 20 s)
    drip          a 200 reply sent 1 byte every 100 ms (<= 30 s)
    garbage       non-HTTP bytes, then close
    big           200 with a 10 MB body ("gtmd-big-head" first, "gtmd-big-tail" last)
    reset         read the request, then RST (SO_LINGER 0)
    tlsjunk       with --tls: skip the TLS handshake and answer plain HTTP
    alternate:P   P is a comma list of 1/0 cycled per request: 1 = 200, 0 = 503
    delay:MS      200 after MS milliseconds
    body:TEXT     200 with TEXT as the body ("\\n" in TEXT is a newline)
A plain (non-TLS) server that receives a TLS ClientHello answers it with an
HTTP 400, as real HTTP servers do.

Stats: one JSON line per HTTP connection {"mode", "sent", "complete", "n",
"req", "sni"} appended to --stats-file (sent = octets the kernel accepted,
req = the start of the request as received, sni = TLS server name or null).

DNS modes (over UDP, and over TCP on the same port, length-prefixed):
    ok            answer --answer for --name, NXDOMAIN for other names
    answer:ADDR   answer ADDR instead
    servfail      SERVFAIL
    silent        no reply
Malformed replies, each to every query:
    short         the first 11 octets of the ok reply (less than a header)
    badid         the ok reply with another ID
    noqr          the ok reply with QR clear (as a reflected query would be)
    notify        the ok reply with opcode NOTIFY
    cutname       a header, then the question's name cut inside its first label
    ptrloop       one answer whose owner is a compression pointer to itself
    ancount       the ok reply announcing three answers more than it holds
Over UDP these set TC (no records), so the client asks again over TCP:
    tc            over TCP, the ok reply
    tcpgarbage    over TCP, 65535 octets: the query's ID and question, then
                  random octets announcing 65535 answers
    tcprandom     over TCP, 65535 random octets
Stats: one JSON line per DNS query {"mode", "tcp", "n"}.
"""
import argparse
import json
import os
import signal
import socket
import ssl
import struct
import threading
import time

BIG_SIZE = 10 * 1024 * 1024
HOLD_MAX = 20.0  # seconds a black-holed connection is kept
DRIP_MAX = 30.0  # seconds a drip may last
IO_TIMEOUT = 5.0


class State:
    def __init__(self, args):
        self.args = args
        self.lock = threading.Lock()
        self.requests = 0
        self.conns = 0

    def mode(self):
        f = self.args.mode_file
        if f:
            try:
                with open(f) as fh:
                    m = fh.read().strip()
                if m:
                    return m
            except OSError:
                pass
        return self.args.mode

    def next_request(self):
        with self.lock:
            n = self.requests
            self.requests += 1
            return n

    def stat(self, rec):
        if not self.args.stats_file:
            return
        with self.lock:
            with open(self.args.stats_file, "a") as f:
                f.write(json.dumps(rec) + "\n")


def http_reply(status, body=b"", extra=()):
    reasons = {200: "OK", 204: "No Content", 302: "Found", 400: "Bad Request",
               404: "Not Found", 500: "Internal Server Error", 503: "Service Unavailable"}
    head = "HTTP/1.1 %d %s\r\n" % (status, reasons.get(status, "Status"))
    head += "Content-Length: %d\r\nConnection: close\r\n" % len(body)
    for h in extra:
        head += h + "\r\n"
    return head.encode() + b"\r\n" + body


def read_request(conn, deadline):
    """Reads until the end of the header (or 64 KB, EOF, deadline). Returns
    the octets; a TLS record start is returned at once."""
    buf = b""
    while b"\r\n\r\n" not in buf and len(buf) < 65536:
        left = deadline - time.monotonic()
        if left <= 0:
            break
        conn.settimeout(left)
        try:
            d = conn.recv(4096)
        except (socket.timeout, OSError, ssl.SSLError):
            break
        if not d:
            break
        buf += d
        if buf[:1] == b"\x16":
            break
    return buf


def send_counted(conn, data, rec):
    """sendall that counts what went out; False when the peer went away."""
    view = memoryview(data)
    while len(view):
        try:
            n = conn.send(view[:65536])
        except (OSError, ssl.SSLError):
            return False
        if n <= 0:
            return False
        rec["sent"] += n
        view = view[n:]
    return True


def hold(conn, limit):
    """Keeps the connection open without answering until the peer closes."""
    end = time.monotonic() + limit
    while time.monotonic() < end:
        conn.settimeout(0.5)
        try:
            if conn.recv(4096) == b"":
                return
        except socket.timeout:
            continue
        except (OSError, ssl.SSLError):
            return


def rst_close(conn):
    try:
        conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    except OSError:
        pass
    conn.close()


def handle_http(st, raw, tls_ctx):
    mode = st.mode()
    rec = {"mode": mode, "sent": 0, "complete": False, "n": None}
    conn = raw
    try:
        raw.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 65536)
        if mode == "blackhole":
            hold(raw, HOLD_MAX)
            return
        if tls_ctx is not None and mode != "tlsjunk":
            raw.settimeout(IO_TIMEOUT)
            try:
                conn = tls_ctx.wrap_socket(raw, server_side=True)
            except (OSError, ssl.SSLError):
                rec["mode"] += "/handshake-failed"
                return
        req = read_request(conn, time.monotonic() + 2.0)
        n = st.next_request()
        rec["n"] = n
        rec["req"] = req[:1024].decode("latin-1")
        if conn is not raw:
            rec["sni"] = getattr(conn, "gtmd_sni", None)
        if req[:1] == b"\x16":
            # A TLS ClientHello on a plain socket: answer like an HTTP server.
            rec["complete"] = send_counted(conn, http_reply(400, b"plain http here\n"), rec)
            return
        if mode == "reset":
            rst_close(conn)
            conn = None
            return
        conn.settimeout(IO_TIMEOUT)
        if mode in ("ok", "tlsjunk"):
            data = http_reply(200, b"hello from gtmd-backend-ok\n")
        elif mode.startswith("delay:"):
            time.sleep(min(float(mode.split(":", 1)[1]) / 1000.0, HOLD_MAX))
            data = http_reply(200, b"slow but ok: gtmd-backend-ok\n")
        elif mode.startswith("body:"):
            data = http_reply(200, mode.split(":", 1)[1].replace("\\n", "\n").encode())
        elif mode.startswith("status:"):
            code = int(mode.split(":", 1)[1])
            data = http_reply(code, b"status %d\n" % code)
        elif mode == "redirect":
            data = http_reply(302, b"moved\n", ["Location: /elsewhere"])
        elif mode.startswith("alternate:"):
            pat = mode.split(":", 1)[1].split(",")
            ok = pat[n % len(pat)].strip() == "1"
            data = http_reply(200 if ok else 503, b"alternate %d\n" % n)
        elif mode == "garbage":
            data = bytes((i * 37 + 11) % 256 for i in range(2048))
        elif mode == "drip":
            data = http_reply(200, b"dripping gtmd-backend-ok\n")
            end = time.monotonic() + DRIP_MAX
            for i in range(len(data)):
                if time.monotonic() > end or not send_counted(conn, data[i:i + 1], rec):
                    return
                time.sleep(0.1)
            rec["complete"] = True
            return
        elif mode == "big":
            head = ("HTTP/1.1 200 OK\r\nContent-Length: %d\r\nConnection: close\r\n\r\n"
                    % BIG_SIZE).encode()
            if not send_counted(conn, head, rec):
                return
            chunk = b"gtmd-big-head\n" + b"x" * (65536 - 14)
            filler = b"y" * 65536
            total = 0
            while total < BIG_SIZE:
                part = chunk if total == 0 else filler
                if total + len(part) >= BIG_SIZE:
                    part = part[:BIG_SIZE - total - 14] + b"gtmd-big-tail\n"
                if not send_counted(conn, part, rec):
                    return
                total += len(part)
            rec["complete"] = True
            return
        else:
            data = http_reply(500, b"unknown backend mode %s\n" % mode.encode())
        rec["complete"] = send_counted(conn, data, rec)
    finally:
        if conn is not None:
            try:
                conn.close()
            except OSError:
                pass
        st.stat(rec)


def serve_stream(args, st, handler):
    family = socket.AF_INET6 if ":" in args.addr else socket.AF_INET
    s = socket.socket(family, socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind((args.addr, args.port))
    s.listen(128)
    print("READY", flush=True)
    end = time.monotonic() + args.lifetime
    s.settimeout(0.5)
    while time.monotonic() < end:
        try:
            c, _ = s.accept()
        except socket.timeout:
            continue
        except OSError:
            continue
        with st.lock:
            st.conns += 1
        threading.Thread(target=handler, args=(c,), daemon=True).start()


def run_http(args):
    st = State(args)
    ctx = None
    if args.tls:
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(args.cert, args.key)

        def sni(sslsock, name, _ctx):
            sslsock.gtmd_sni = name  # recorded per connection in the stats

        ctx.sni_callback = sni
    serve_stream(args, st, lambda c: handle_http(st, c, ctx))


def run_tcp(args):
    st = State(args)

    def handler(c):
        # Accept, keep briefly (the tcp probe closes at once), close.
        hold(c, 2.0)
        c.close()

    serve_stream(args, st, handler)


DNS_TCP_MODES = ("tc", "tcpgarbage", "tcprandom")
TCP_GARBAGE = 65535


def dns_good_reply(args, mode, q):
    """The well-formed reply of modes ok, answer:ADDR and servfail."""
    import dns.flags
    import dns.message
    import dns.name
    import dns.rcode
    import dns.rdatatype
    import dns.rrset

    want = dns.name.from_text(args.name)
    r = dns.message.make_response(q)
    r.flags |= dns.flags.AA
    if mode == "servfail":
        r.set_rcode(dns.rcode.SERVFAIL)
    elif q.question and q.question[0].name == want:
        if q.question[0].rdtype == dns.rdatatype.A:
            addr = mode.split(":", 1)[1] if mode.startswith("answer:") else args.answer
            r.answer.append(dns.rrset.from_text(want, 30, "IN", "A", addr))
    else:
        r.set_rcode(dns.rcode.NXDOMAIN)
    return r.to_wire()


def dns_question(data):
    """The question section of query data, byte for byte (QDCOUNT 1)."""
    pos = 12
    while data[pos] != 0:
        pos += 1 + data[pos]
    return data[12:pos + 1 + 4]


def dns_reply(args, mode, data, q, tcp):
    """The octets to send for query data (q parsed) in mode, or None."""
    qid = struct.unpack("!H", data[:2])[0]
    question = dns_question(data)
    if mode in DNS_TCP_MODES and not tcp:
        # Truncated over UDP, no records: the client retries over TCP.
        return struct.pack("!HHHHHH", qid, 0x8600, 1, 0, 0, 0) + question
    if mode == "tcpgarbage":
        # The query's ID and question, then random octets claiming 65535
        # answers, up to the largest message TCP can carry.
        head = struct.pack("!HHHHHH", qid, 0x8400, 1, 0xFFFF, 0, 0) + question
        return head + os.urandom(TCP_GARBAGE - len(head))
    if mode == "tcprandom":
        return os.urandom(TCP_GARBAGE)
    good = dns_good_reply(args, "ok" if mode in ("short", "badid", "noqr", "notify", "ancount", "tc")
                          else mode, q)
    if mode == "short":  # fewer octets than a header
        return good[:11]
    if mode == "badid":
        return struct.pack("!H", qid ^ 0x5A5A) + good[2:]
    if mode == "noqr":  # the whole answer, QR clear (as a reflected query would be)
        return good[:2] + struct.pack("!H", struct.unpack("!H", good[2:4])[0] & 0x7FFF) + good[4:]
    if mode == "notify":
        return good[:2] + struct.pack("!H", struct.unpack("!H", good[2:4])[0] | (4 << 11)) + good[4:]
    if mode == "ancount":  # three more answers announced than present
        an = struct.unpack("!H", good[6:8])[0]
        return good[:6] + struct.pack("!H", an + 3) + good[8:]
    if mode == "cutname":
        # The question's name ends in the middle of its first label.
        head = struct.pack("!HHHHHH", qid, 0x8400, 1, 0, 0, 0)
        return head + question[:1 + max(1, question[0] // 2)]
    if mode == "ptrloop":
        # One answer whose owner is a compression pointer to itself.
        head = struct.pack("!HHHHHH", qid, 0x8400, 1, 1, 0, 0) + question
        off = len(head)
        rr = struct.pack("!HHHIH", 0xC000 | off, 1, 1, 30, 4) + bytes([192, 0, 2, 1])
        return head + rr
    return good


def dns_answer(args, st, data, tcp):
    import dns.message

    mode = st.mode()
    try:
        q = dns.message.from_wire(data)
    except Exception:
        return None
    st.stat({"mode": mode, "tcp": tcp, "n": st.next_request()})
    if mode == "silent" or not q.question:
        return None
    return dns_reply(args, mode, data, q, tcp)


def dns_tcp_conn(args, st, c):
    """Queries over one TCP connection (length-prefixed), bounded in time."""
    end = time.monotonic() + IO_TIMEOUT
    buf = b""
    try:
        while time.monotonic() < end:
            c.settimeout(max(0.05, end - time.monotonic()))
            d = c.recv(65537)
            if not d:
                return
            buf += d
            while len(buf) >= 2 and len(buf) >= 2 + struct.unpack("!H", buf[:2])[0]:
                n = struct.unpack("!H", buf[:2])[0]
                msg, buf = buf[2:2 + n], buf[2 + n:]
                out = dns_answer(args, st, msg, True)
                if out is not None:
                    c.sendall(struct.pack("!H", len(out)) + out)
    except OSError:
        pass
    finally:
        c.close()


def dns_tcp_serve(args, st, s, end):
    s.settimeout(0.5)
    while time.monotonic() < end:
        try:
            c, _ = s.accept()
        except OSError:
            continue
        threading.Thread(target=dns_tcp_conn, args=(args, st, c), daemon=True).start()


def run_dns(args):
    # dnspython is imported before READY: importing it at the first query
    # would delay that reply past a probe's timeout.
    import dns.message  # noqa: F401
    import dns.rrset  # noqa: F401

    st = State(args)
    family = socket.AF_INET6 if ":" in args.addr else socket.AF_INET
    s = socket.socket(family, socket.SOCK_DGRAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind((args.addr, args.port))
    t = socket.socket(family, socket.SOCK_STREAM)
    t.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    t.bind((args.addr, args.port))
    t.listen(16)
    end = time.monotonic() + args.lifetime
    threading.Thread(target=dns_tcp_serve, args=(args, st, t, end), daemon=True).start()
    print("READY", flush=True)
    s.settimeout(0.5)
    while time.monotonic() < end:
        try:
            data, peer = s.recvfrom(4096)
        except OSError:
            continue
        out = dns_answer(args, st, data, False)
        if out is None:
            continue
        try:
            s.sendto(out, peer)
        except OSError:
            pass


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("kind", choices=["http", "tcp", "dns"])
    ap.add_argument("--addr", required=True)
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--mode", default="ok")
    ap.add_argument("--mode-file")
    ap.add_argument("--stats-file")
    ap.add_argument("--tls", action="store_true")
    ap.add_argument("--cert")
    ap.add_argument("--key")
    ap.add_argument("--name", default="health.check.test.")
    ap.add_argument("--answer", default="192.0.2.1")
    ap.add_argument("--lifetime", type=float, default=180.0)
    args = ap.parse_args()
    signal.signal(signal.SIGTERM, lambda *a: os._exit(0))
    {"http": run_http, "tcp": run_tcp, "dns": run_dns}[args.kind](args)
    os._exit(0)


if __name__ == "__main__":
    main()

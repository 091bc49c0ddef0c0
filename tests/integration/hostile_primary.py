"""A primary that misbehaves on purpose, for gtmd's secondary zones tests.

HostilePrimary answers SOA queries over UDP and AXFR (also for IXFR, which
RFC 1995 §4 allows) over TCP on one loopback port, for the zones it is
given, each zone in a mode that says how to misbehave:

  good           the zone in one message, closing SOA included
  out_of_zone    the zone with records outside it (www.other.test.,
                 poison.example.org.)
  truncated      the first message, then half of the second, then close
  no_final_soa   every record but the closing SOA, then close
  bad_rdlen      an A record whose RDLENGTH is 5 (the address and one
                 stray octet)
  short_soa      the SOA's RDATA cut after five of its seven fields
  drip_bytes     the zone one octet every 0.2 s (a message never whole)
  drip_messages  one record per message, a message every 0.4 s, forever
  refuse_soa     SOA queries answered REFUSED (as Knot answers a signed
                 SOA query for a catalog it generates); transfers served
  dead           nothing answered (UDP ignored, TCP closed at once)
  sparse_tsig    (with a key) one record per message, only every 40th
                 message and the last signed, as RFC 8945 §5.3.1 allows
  unsigned_last  (with a key) as sparse_tsig, the last message unsigned
  unsigned_100   (with a key) 100 unsigned messages in a row

With key=(name, base64 secret) every answer is signed with hmac-sha256
(each message of a transfer, but for the sparse modes), and queries are
read with the key (their MAC starts the transfer's chain).

Messages are written by hand (no compression), so that a wrong length is
exactly what is sent. Each TCP connection has a thread of its own, so a
dripping transfer never holds up another zone's. Everything on
127.0.0.1; stop() closes every socket and joins every thread (bounded).
"""
import random
import socket
import struct
import threading
import time

import dns.flags
import dns.message
import dns.name
import dns.opcode
import dns.query
import dns.rcode
import dns.rdataclass
import dns.rdatatype
import dns.rdtypes.ANY.TSIG
import dns.tsig
import dns.tsigkeyring

MODES = ("good", "out_of_zone", "truncated", "no_final_soa", "bad_rdlen", "short_soa",
         "drip_bytes", "drip_messages", "refuse_soa", "dead", "sparse_tsig", "unsigned_last",
         "unsigned_100")


def wire_name(name):
    out = b""
    for label in name.rstrip(".").split("."):
        if label:
            out += bytes([len(label)]) + label.encode()
    return out + b"\x00"


def rr(name, rtype, rdata, ttl=300):
    return wire_name(name) + struct.pack("!HHIH", rtype, 1, ttl, len(rdata)) + rdata


def a_rr(name, addr):
    return rr(name, 1, socket.inet_aton(addr))


class Zone:
    def __init__(self, origin, serial=1, mode="good", timers=(3600, 600, 1209600), records=3):
        self.origin = origin
        self.serial = serial
        self.mode = mode
        self.timers = timers  # refresh, retry, expire
        self.records = records  # www0 .. wwwN-1

    def soa_rdata(self, fields=7):
        o = self.origin
        rd = wire_name("ns1." + o) + wire_name("hostmaster." + o)
        nums = (self.serial,) + tuple(self.timers) + (60,)
        rd += struct.pack("!IIIII", *nums)
        if fields < 7:
            rd = rd[:len(rd) - 4 * (7 - fields)]
        return rd

    def soa(self, fields=7):
        return rr(self.origin, 6, self.soa_rdata(fields))

    def body(self):
        """The records between the SOAs, as the mode has them."""
        o = self.origin
        out = [rr(o, 2, wire_name("ns1." + o)), a_rr("ns1." + o, "192.0.2.1")]
        out += [a_rr("www%d.%s" % (i, o), "192.0.2.%d" % (10 + i)) for i in range(self.records)]
        out.append(a_rr("serial.%s" % o, "10.0.%d.%d" % (self.serial // 256 % 256,
                                                       self.serial % 256)))
        if self.mode == "out_of_zone":
            out.insert(2, a_rr("www.other.test.", "203.0.113.66"))
            out.append(a_rr("poison.example.org.", "203.0.113.67"))
        if self.mode == "bad_rdlen":
            out.insert(2, rr("bad." + o, 1, socket.inet_aton("192.0.2.99") + b"\x07"))
        return out


def message(qid, origin, qtype, answers, rcode=0):
    head = struct.pack("!HHHHHH", qid, 0x8400 | rcode, 1, len(answers), 0, 0)
    return head + wire_name(origin) + struct.pack("!HH", qtype, 1) + b"".join(answers)


def parse_question(wire):
    """(id, flags, lowercased qname, qtype) of a query, or None."""
    if len(wire) < 12:
        return None
    qid, flags = struct.unpack("!HH", wire[:4])
    pos, labels = 12, []
    while pos < len(wire) and wire[pos] != 0:
        n = wire[pos]
        labels.append(wire[pos + 1:pos + 1 + n].decode(errors="replace").lower())
        pos += 1 + n
    if pos + 5 > len(wire):
        return None
    qtype = struct.unpack("!H", wire[pos + 1:pos + 3])[0]
    return qid, flags, ".".join(labels) + ".", qtype


class Signer:
    """TSIG (hmac-sha256) of the answers to one request: sign() appends a
    TSIG record to a message, skip() leaves one unsigned (its octets then
    enter the next signed message's MAC, RFC 8945 §5.3.1)."""

    def __init__(self, key, request_mac, qid):
        self.key, self.mac, self.qid, self.ctx = key, request_mac, qid, None

    def sign(self, wire):
        now = int(time.time())
        rd = dns.rdtypes.ANY.TSIG.TSIG(dns.rdataclass.ANY, dns.rdatatype.TSIG,
                                       self.key.algorithm, now, 300, b"", self.qid, 0, b"")
        tsig, self.ctx = dns.tsig.sign(wire, self.key, rd, now, self.mac, self.ctx, multi=True)
        rdata = tsig.to_wire()
        record = (self.key.name.to_wire() + struct.pack("!HHIH", 250, 255, 0, len(rdata)) +
                  rdata)
        ar = struct.unpack("!H", wire[10:12])[0] + 1
        return wire[:10] + struct.pack("!H", ar) + wire[12:] + record

    def skip(self, wire):
        self.ctx.update(wire)
        return wire


class HostilePrimary:
    def __init__(self, zones=(), port=0, key=None):
        self.key = None
        if key:
            self.key = dns.tsig.Key(dns.name.from_text(key[0]), key[1], "hmac-sha256")
            self.keyring = {self.key.name: self.key}
        self.zones = {z.origin: z for z in zones}
        self.lock = threading.Lock()
        self.local = threading.local()
        self.stopping = threading.Event()
        self._bind(port)
        self.udp.settimeout(0.2)
        self.tcp.settimeout(0.2)
        self.threads = [threading.Thread(target=self._udp_loop, daemon=True),
                        threading.Thread(target=self._tcp_loop, daemon=True)]
        self.transfers = {}  # origin -> transfers begun
        for t in self.threads:
            t.start()

    def _bind(self, port):
        """UDP and TCP on one port: port (a primary started again where it
        was, tried for up to 3 s), or a free pair of 200 random tries below
        Linux's ephemeral range (32768-60999). A port the kernel picked was
        in that range, and once its primary was killed any process's next
        outgoing socket could take it before the test started the primary
        again there (seen in CI: "no free port" for the restart)."""
        deadline = time.monotonic() + 3.0
        for i in range(200):
            if port and i > 0:
                if time.monotonic() > deadline:
                    break
                time.sleep(0.05)
            want = port or random.randrange(20000, 32700)
            self.udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            self.tcp = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            self.tcp.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                self.udp.bind(("127.0.0.1", want))
                self.port = self.udp.getsockname()[1]
                self.tcp.bind(("127.0.0.1", self.port))
                self.tcp.listen(16)
                return
            except OSError:
                self.udp.close()
                self.tcp.close()
        raise OSError("no free port for UDP and TCP together")

    def set(self, origin, serial=None, mode=None):
        with self.lock:
            z = self.zones[origin]
            if serial is not None:
                z.serial = serial
            if mode is not None:
                z.mode = mode

    def zone(self, origin):
        with self.lock:
            z = self.zones.get(origin)
            return None if z is None else Zone(z.origin, z.serial, z.mode, z.timers, z.records)

    def _udp_loop(self):
        while not self.stopping.is_set():
            try:
                wire, peer = self.udp.recvfrom(4096)
            except (socket.timeout, OSError):
                continue
            q = parse_question(wire)
            z = self.zone(q[2]) if q else None
            if not z or z.mode == "dead":
                continue
            if z.mode == "refuse_soa":
                reply = message(q[0], q[2], q[3], [], rcode=5)
            else:
                reply = message(q[0], q[2], q[3], [z.soa()] if q[3] == 6 else [])
                signer = self._signer(wire, q[0])
                if signer:
                    reply = signer.sign(reply)
            try:
                self.udp.sendto(reply, peer)
            except OSError:
                pass

    def _tcp_loop(self):
        while not self.stopping.is_set():
            try:
                conn, _ = self.tcp.accept()
            except (socket.timeout, OSError):
                continue
            t = threading.Thread(target=self._serve, args=(conn,), daemon=True)
            self.threads.append(t)
            t.start()

    def _signer(self, wire, qid):
        """The signer of the answers to query wire (None without a key)."""
        if not self.key:
            return None
        try:
            m = dns.message.from_wire(wire, keyring=self.keyring)
        except Exception:
            return None
        return Signer(self.key, m.mac, qid)

    def _read_query(self, conn):
        conn.settimeout(2)
        head = conn.recv(2)
        if len(head) < 2:
            return None
        n = struct.unpack("!H", head)[0]
        wire = b""
        while len(wire) < n:
            part = conn.recv(n - len(wire))
            if not part:
                return None
            wire += part
        q = parse_question(wire)
        self.local.signer = self._signer(wire, q[0]) if q else None  # this connection's
        return q

    def _send(self, conn, msg, sign=True):
        signer = self.local.signer
        if signer and sign:
            msg = signer.sign(msg)
        elif signer:
            msg = signer.skip(msg)
        conn.sendall(struct.pack("!H", len(msg)) + msg)

    def _serve(self, conn):
        try:
            q = self._read_query(conn)
            z = self.zone(q[2]) if q else None
            if z is None or z.mode == "dead":
                return
            with self.lock:
                self.transfers[z.origin] = self.transfers.get(z.origin, 0) + 1
            if q[3] == 6:  # a SOA query over TCP
                self._send(conn, message(q[0], q[2], 6, [z.soa()]))
                return
            self._transfer(conn, q, z)
        except OSError:
            pass
        finally:
            conn.close()

    def _sparse(self, conn, q, z, body):
        """One record per message; which are signed, by mode."""
        rrs = [z.soa()] + body + [a_rr("s%d.%s" % (i, z.origin), "192.0.2.2")
                                  for i in range(120)] + [z.soa()]
        for i, one in enumerate(rrs):
            last = i == len(rrs) - 1
            if z.mode == "sparse_tsig":
                sign = i % 40 == 0 or last
            elif z.mode == "unsigned_last":
                sign = i % 40 == 0 and not last
            else:  # unsigned_100
                sign = i == 0 or i > 100
            self._send(conn, message(q[0], q[2], q[3], [one]), sign=sign)

    def _transfer(self, conn, q, z):
        qid, origin, qtype = q[0], q[2], q[3]
        body = z.body()
        if z.mode in ("sparse_tsig", "unsigned_last", "unsigned_100"):
            self._sparse(conn, q, z, body)
        elif z.mode == "short_soa":
            self._send(conn, message(qid, origin, qtype, [z.soa(5)] + body + [z.soa(5)]))
        elif z.mode == "truncated":
            self._send(conn, message(qid, origin, qtype, [z.soa()] + body[:2]))
            second = message(qid, origin, qtype, body[2:] + [z.soa()])
            conn.sendall(struct.pack("!H", len(second)) + second[:len(second) // 2])
        elif z.mode == "no_final_soa":
            self._send(conn, message(qid, origin, qtype, [z.soa()] + body))
        elif z.mode == "drip_bytes":
            msg = message(qid, origin, qtype, [z.soa()] + body + [z.soa()])
            data = struct.pack("!H", len(msg)) + msg
            for i in range(len(data)):
                if self.stopping.wait(0.2):
                    return
                conn.sendall(data[i:i + 1])
        elif z.mode == "drip_messages":
            self._send(conn, message(qid, origin, qtype, [z.soa()] + body[:1]))
            for i in range(100000):
                if self.stopping.wait(0.4):
                    return
                self._send(conn, message(qid, origin, qtype, [a_rr("d%d.%s" % (i, origin),
                                                                        "192.0.2.1")]))
        else:
            self._send(conn, message(qid, origin, qtype, [z.soa()] + body + [z.soa()]))
        # Let the reader see the close after what was sent.
        time.sleep(0.05)

    def stop(self):
        self.stopping.set()
        for s in (self.udp, self.tcp):
            try:
                s.close()
            except OSError:
                pass
        for t in list(self.threads):
            t.join(timeout=2)


def notify(gport, origin, source="127.0.0.1", key=None):
    """Sends a NOTIFY for origin to gtmd from source (signed with key, a
    (name, base64 secret) pair, when given); the reply's rcode (or None
    without one)."""
    n = dns.message.make_query(origin, "SOA")
    n.set_opcode(dns.opcode.NOTIFY)
    n.flags |= dns.flags.AA
    if key:
        n.use_tsig(dns.tsigkeyring.from_text({key[0]: key[1]}), keyname=key[0],
                   algorithm="hmac-sha256")
    try:
        r = dns.query.udp(n, "127.0.0.1", port=gport, timeout=1, source=source)
    except Exception:
        return None
    return r.rcode()


def ask(port, name, rdtype="A"):
    """(rcode, sorted rdata texts) of gtmd's answer on port, or None."""
    try:
        r = dns.query.udp(dns.message.make_query(name, rdtype), "127.0.0.1", port=port,
                          timeout=0.5)
    except Exception:
        return None
    return (dns.rcode.to_text(r.rcode()),
            sorted(rd.to_text() for rr in r.answer for rd in rr))


def serial_of(port, origin):
    """The serial of origin's SOA as served on port, or None."""
    got = ask(port, origin, "SOA")
    if not got or got[0] != "NOERROR" or not got[1]:
        return None
    return int(got[1][0].split()[2])


def wait_for(pred, timeout):
    """Seconds until pred() held (polled every 50 ms), or None."""
    start = time.monotonic()
    while time.monotonic() - start < timeout:
        if pred():
            return time.monotonic() - start
        time.sleep(0.05)
    return None

"""Helpers for the dynamic update tests (RFC 2136): a zone that takes
updates, its gtmd configuration, and nsupdate and dnspython clients."""
import base64
import os
import subprocess
import time

import dns.message
import dns.name
import dns.query
import dns.rcode
import dns.tsigkeyring
import dns.update

NSUPDATE = "/usr/bin/nsupdate"
ZONE = "upd.test."
SECRET = base64.b64encode(b"gtmd update test secret 32 bytes").decode()
OTHER_SECRET = base64.b64encode(b"another secret of thirty-two b.").decode()
KEYS = {
    "acme.": SECRET,     # _acme-challenge names, TXT only
    "web.": SECRET,      # www and host names exactly, any type
    "nothing.": SECRET,  # a key with no rule for the zone
}


def zone_text(serial=1, extra=""):
    return """$TTL 300
@       IN SOA ns1.upd.test. hostmaster.upd.test. {s} 3600 600 86400 60
@       IN NS  ns1.upd.test.
ns1     IN A   127.0.0.1
www     IN A   192.0.2.1
www     IN A   192.0.2.2
mail    IN MX  10 mx.upd.test.
{extra}""".format(s=serial, extra=extra)


def update_rules():
    return [
        {"key": "acme.", "names": ["_acme-challenge.upd.test."], "types": ["TXT"]},
        {"key": "web.", "names": ["www.upd.test.", "host.upd.test.", "alias.upd.test."],
         "match": "exact"},
    ]


def config(workdir, port, zone_extra=None, **zone_keys):
    with open(os.path.join(workdir, "upd.test.zone"), "w") as f:
        f.write(zone_text())
    entry = {"origin": ZONE, "file": "upd.test.zone", "update": update_rules()}
    entry.update(zone_keys)
    cfg = {
        "listen": ["127.0.0.1:%d" % port], "workers": 2,
        "tsig_keys": {k: {"algorithm": "hmac-sha256", "secret": s} for k, s in KEYS.items()},
        "zones": [entry],
    }
    if zone_extra:
        zone_extra(cfg)
    return cfg


def keyfile(workdir, name="acme.", secret=SECRET):
    path = os.path.join(workdir, name + "key")
    with open(path, "w") as f:
        f.write('key "%s" { algorithm hmac-sha256; secret "%s"; };\n' % (name, secret))
    return path


def nsupdate(port, workdir, lines, key="acme.", secret=SECRET, tcp=False, zone=ZONE):
    """Runs nsupdate with the commands lines; (exit status, output)."""
    script = "server 127.0.0.1 %d\nzone %s\ncheck-names off\n%s\nsend\n" % (
        port, zone, "\n".join(lines))
    argv = [NSUPDATE, "-t", "5"]
    if key:
        argv += ["-k", keyfile(workdir, key, secret)]
    if tcp:
        argv.append("-v")
    p = subprocess.run(argv, input=script, capture_output=True, text=True, timeout=30)
    return p.returncode, p.stdout + p.stderr


def ask(port, name, rdtype="A", tcp=False):
    """(rcode, sorted rdata texts) of name/rdtype at gtmd."""
    q = dns.message.make_query(name, rdtype)
    fn = dns.query.tcp if tcp else dns.query.udp
    r = fn(q, "127.0.0.1", port=port, timeout=3)
    return (dns.rcode.to_text(r.rcode()),
            sorted(rd.to_text() for rr in r.answer for rd in rr if rr.rdtype ==
                   dns.rdatatype.from_text(rdtype)))


def serial(port, zone=ZONE):
    rc, rd = ask(port, zone, "SOA")
    assert rc == "NOERROR" and rd, (rc, rd)
    return int(rd[0].split()[2])


def dp_update(port, key="acme.", secret=SECRET, tcp=False, zone=ZONE):
    """A dnspython UpdateMessage signed with key (None: unsigned), and a
    sender: send(msg) -> the reply's rcode text."""
    if key:
        kr = dns.tsigkeyring.from_text({key: secret})
        m = dns.update.UpdateMessage(zone, keyring=kr, keyname=key,
                                     keyalgorithm="hmac-sha256")
    else:
        m = dns.update.UpdateMessage(zone)

    def send(msg=m, timeout=5):
        fn = dns.query.tcp if tcp else dns.query.udp
        r = fn(msg, "127.0.0.1", port=port, timeout=timeout)
        return dns.rcode.to_text(r.rcode())
    return m, send


def wait_for(fn, timeout=10.0, step=0.05):
    """Polls fn() until it is true (returns it) or timeout seconds pass
    (returns the last value)."""
    end = time.monotonic() + timeout
    v = fn()
    while not v and time.monotonic() < end:
        time.sleep(step)
        v = fn()
    return v


def name_wire(name):
    return dns.name.from_text(name).to_wire()


def rr_wire(name, rdtype, rdclass, ttl, rdata=b""):
    import struct
    return name_wire(name) + struct.pack("!HHIH", rdtype, rdclass, ttl, len(rdata)) + rdata


def update_wire(zone, prereqs=(), updates=(), ztype=6, msg_id=4660):
    """A raw UPDATE message (zone section type ztype), unsigned: what
    dnspython would not build (records with TTLs or data where RFC 2136
    forbids them)."""
    import struct
    head = struct.pack("!HHHHHH", msg_id, 5 << 11, 1, len(prereqs), len(updates), 0)
    return (head + name_wire(zone) + struct.pack("!HH", ztype, 1) + b"".join(prereqs) +
            b"".join(updates))


def tsig_sign_wire(wire, keyname, secret, now=None):
    """wire with a TSIG record (RFC 8945, hmac-sha256) appended and
    ARCOUNT raised: signs any message, however malformed."""
    import hashlib
    import hmac
    import struct
    now = int(time.time() if now is None else now)
    key = name_wire(keyname)
    alg = name_wire("hmac-sha256.")
    timers = struct.pack("!HIH", now >> 32, now & 0xffffffff, 300)
    variables = key + struct.pack("!HI", 255, 0) + alg + timers + struct.pack("!HH", 0, 0)
    mac = hmac.new(base64.b64decode(secret), wire + variables, hashlib.sha256).digest()
    msg_id = struct.unpack("!H", wire[:2])[0]
    rdata = alg + timers + struct.pack("!H", len(mac)) + mac + struct.pack("!HHH", msg_id, 0, 0)
    ar = struct.unpack("!H", wire[10:12])[0] + 1
    return wire[:10] + struct.pack("!H", ar) + wire[12:] + rr_wire(keyname, 250, 255, 0, rdata)


def send_wire(port, wire, tcp=False, timeout=5):
    """Sends a raw message; the reply's rcode text (None: no reply)."""
    import socket
    import struct
    if tcp:
        s = socket.create_connection(("127.0.0.1", port), timeout=timeout)
        try:
            s.sendall(struct.pack("!H", len(wire)) + wire)
            n = struct.unpack("!H", _recv_exact(s, 2))[0]
            reply = _recv_exact(s, n)
        finally:
            s.close()
    else:
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        s.settimeout(timeout)
        try:
            s.sendto(wire, ("127.0.0.1", port))
            reply = s.recv(65535)
        except socket.timeout:
            return None
        finally:
            s.close()
    return dns.rcode.to_text(reply[3] & 0xf)


def _recv_exact(s, n):
    buf = b""
    while len(buf) < n:
        chunk = s.recv(n - len(buf))
        if not chunk:
            raise EOFError("connection closed")
        buf += chunk
    return buf

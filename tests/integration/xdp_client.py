"""The client side of test_xdp.py, run inside the client's network
namespace (ip netns exec NS python3 xdp_client.py) with a JSON job on
stdin; prints a JSON list of results on stdout.

A job is a list of steps:
  {"q": HEX, "to": [addr, port], "tcp": false, "ipopt": false, "df": true}
      one query (wire, hex); the result is the reply's hex or null (no
      reply within 1 s). "ipopt": the datagram carries IPv4 options (four
      NOPs), which the XDP program leaves to the kernel. "df": false lets
      the kernel fragment a datagram larger than the path MTU.
  {"burst": [HEX, ...], "to": [addr, port]}
      the queries sent back to back from one socket; the result is the
      list of replies (hex or null) in sending order.
  {"second_start": true}
      sleeps until 50 ms into the next second of CLOCK_MONOTONIC (which
      the namespaces share with gtmd's RRL); result null.
"""
import json
import socket
import struct
import sys
import time

IP_MTU_DISCOVER = 10
IP_PMTUDISC_DONT = 0


def udp_socket(addr):
    fam = socket.AF_INET6 if ":" in addr else socket.AF_INET
    return socket.socket(fam, socket.SOCK_DGRAM)


def one(step):
    addr, port = step["to"]
    wire = bytes.fromhex(step["q"])
    if step.get("tcp"):
        fam = socket.AF_INET6 if ":" in addr else socket.AF_INET
        with socket.socket(fam, socket.SOCK_STREAM) as s:
            s.settimeout(2.0)
            s.connect((addr, port))
            s.sendall(struct.pack("!H", len(wire)) + wire)
            buf = b""
            while len(buf) < 2 or len(buf) < 2 + struct.unpack("!H", buf[:2])[0]:
                chunk = s.recv(65535)
                if not chunk:
                    return None
                buf += chunk
            return buf[2:].hex()
    with udp_socket(addr) as s:
        if step.get("ipopt"):
            s.setsockopt(socket.IPPROTO_IP, socket.IP_OPTIONS, b"\x01\x01\x01\x01")
        if step.get("df") is False:
            s.setsockopt(socket.IPPROTO_IP, IP_MTU_DISCOVER, IP_PMTUDISC_DONT)
        s.settimeout(1.0)
        s.sendto(wire, (addr, port))
        try:
            return s.recv(65535).hex()
        except socket.timeout:
            return None


def burst(step):
    addr, port = step["to"]
    qs = [bytes.fromhex(h) for h in step["burst"]]
    ids = [struct.unpack("!H", q[:2])[0] for q in qs]
    got = {}
    with udp_socket(addr) as s:
        for q in qs:
            s.sendto(q, (addr, port))
        deadline = time.monotonic() + 1.0
        while len(got) < len(qs) and time.monotonic() < deadline:
            s.settimeout(max(0.01, deadline - time.monotonic()))
            try:
                r = s.recv(65535)
            except socket.timeout:
                break
            got.setdefault(struct.unpack("!H", r[:2])[0], r.hex())
    return [got.get(i) for i in ids]


def main():
    out = []
    for step in json.load(sys.stdin):
        if step.get("second_start"):
            now = time.monotonic()
            frac = now - int(now)
            time.sleep((1.05 - frac) if frac > 0.05 else (0.05 - frac))
            out.append(None)
        elif "burst" in step:
            out.append(burst(step))
        else:
            out.append(one(step))
    json.dump(out, sys.stdout)


if __name__ == "__main__":
    main()

#!/usr/bin/python3
"""What an RFC 2136 update with many value-dependent prerequisites costs
gtmd, and how long a reload issued meanwhile waits (issue #53).

gtmd serves upd.bench. with one TXT RRset of N records at sN.upd.bench.
for each size N (default 100, 200 and 1,000: the most records a request
may carry). Each round sends, per size, one signed UPDATE over TCP whose
prerequisite section names the N records of sN in reverse order (all
hold: the whole check runs) and nothing to change, and sends gtmd a
SIGHUP --delay ms (default 0) after the message is written: the figures
are the update's round trip and the time from the SIGHUP to the reload's
event=reload result=ok line (the reload queues behind the update when
the update holds the reload lock).
For comparison each round also times an ordinary update (one TXT added or
deleted) and a reload with nothing in flight. Cases are interleaved round
by round; the result is the median of the rounds with the spread
(min-max).

    /usr/bin/python3 contrib/bench/update_prereq_bench.py [--rounds 3]
        [--sizes 100,200,1000] [--delay 0] [--timeout 600] [--gtmd build/gtmd]
        [--adds 999 --filler 20000]

With --adds N, each round also sends one update adding N records at N
new owners, then one deleting them, into a zone padded with --filler
more records (the changes phase: each change looked through every record
of the zone before the index by owner).
"""
import argparse
import base64
import json
import os
import re
import shutil
import signal
import socket
import statistics
import subprocess
import struct
import sys
import tempfile
import time

import dns.message
import dns.query
import dns.rcode
import dns.tsigkeyring
import dns.update

SECRET = base64.b64encode(b"gtmd update bench secret 32 byte").decode()
ZONE = "upd.bench."


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    p = s.getsockname()[1]
    s.close()
    return p


def zone(sizes, filler=0):
    lines = ["$TTL 300", "@ SOA ns1 h 1 3600 600 86400 60", "@ NS ns1", "ns1 A 127.0.0.1"]
    for n in sizes:
        lines += ['s%d TXT "r%d"' % (n, i) for i in range(n)]
    lines += ["f%d A 192.0.2.%d" % (i, i % 250 + 1) for i in range(filler)]
    return "\n".join(lines) + "\n"


class Server:
    def __init__(self, gtmd, work, sizes, timeout, filler=0):
        self.dir = work
        self.port = free_port()
        self.timeout = timeout
        with open(os.path.join(work, "upd.zone"), "w") as f:
            f.write(zone(sizes, filler))
        cfg = {"listen": ["127.0.0.1:%d" % self.port], "workers": 1,
               "tsig_keys": {"bench.": {"algorithm": "hmac-sha256", "secret": SECRET}},
               "zones": [{"origin": ZONE, "file": "upd.zone", "update": [{"key": "bench."}]}]}
        with open(os.path.join(work, "gtmd.json"), "w") as f:
            json.dump(cfg, f)
        self.log_path = os.path.join(work, "gtmd.log")
        self.log = open(self.log_path, "ab")
        self.proc = subprocess.Popen([gtmd, "-c", os.path.join(work, "gtmd.json")],
                                     stdout=self.log, stderr=subprocess.STDOUT)
        end = time.monotonic() + 60
        while time.monotonic() < end:
            try:
                dns.query.udp(dns.message.make_query(ZONE, "SOA"), "127.0.0.1", port=self.port,
                              timeout=0.5)
                break
            except Exception:
                time.sleep(0.2)
        else:
            sys.exit("gtmd did not start: " + open(self.log_path).read()[-2000:])
        self.keyring = dns.tsigkeyring.from_text({"bench.": SECRET})
        self.n = 0

    def message(self):
        return dns.update.UpdateMessage(ZONE, keyring=self.keyring, keyname="bench.",
                                        keyalgorithm="hmac-sha256")

    def send(self, m, want="NOERROR"):
        t = time.monotonic()
        r = dns.query.tcp(m, "127.0.0.1", port=self.port, timeout=self.timeout)
        dt = (time.monotonic() - t) * 1000
        if dns.rcode.to_text(r.rcode()) != want:
            sys.exit("update got %s, not %s" % (dns.rcode.to_text(r.rcode()), want))
        return dt

    def ordinary(self):
        m = self.message()
        if self.n % 2 == 0:
            m.add("bench", 60, "TXT", "x")
        else:
            m.delete("bench", "TXT")
        self.n += 1
        return self.send(m)

    def reloads(self):
        return open(self.log_path).read().count("event=reload result=ok")

    def sighup_wait(self):
        """Sends SIGHUP; ms until the reload's result=ok line."""
        before = self.reloads()
        t = time.monotonic()
        self.proc.send_signal(signal.SIGHUP)
        end = t + self.timeout
        while time.monotonic() < end:
            if self.reloads() > before:
                return (time.monotonic() - t) * 1000
            time.sleep(0.002)
        sys.exit("no reload within %d s" % self.timeout)

    def prereqs(self, n, delay):
        """(update ms, reload wait ms) for n prerequisites: the message is
        written to the TCP connection whole, the SIGHUP sent delay ms
        later (default 0: at once, while gtmd reads or checks it), then
        the reply read."""
        m = self.message()
        for i in reversed(range(n)):
            m.present("s%d" % n, "TXT", "r%d" % i)
        wire = m.to_wire()
        before = self.reloads()
        s = socket.create_connection(("127.0.0.1", self.port), timeout=self.timeout)
        try:
            t = time.monotonic()
            s.sendall(struct.pack("!H", len(wire)) + wire)
            time.sleep(delay / 1000)
            hup = time.monotonic()
            self.proc.send_signal(signal.SIGHUP)
            head = recv_exact(s, 2)
            reply = recv_exact(s, struct.unpack("!H", head)[0])
            ms = (time.monotonic() - t) * 1000
        finally:
            s.close()
        if reply[3] & 15 != dns.rcode.NOERROR:
            sys.exit("%d prerequisites: rcode %d" % (n, reply[3] & 15))
        end = hup + self.timeout
        while self.reloads() <= before and time.monotonic() < end:
            time.sleep(0.002)
        if self.reloads() <= before:
            sys.exit("no reload within %d s" % self.timeout)
        return ms, (time.monotonic() - hup) * 1000, self.updater_ms()

    def changes(self, n):
        """Updater ms of one update adding n records at n new owners, and
        of one deleting them again."""
        m = self.message()
        for i in range(n):
            m.add("a%d" % i, 60, "A", "198.51.100.%d" % (i % 250 + 1))
        self.send(m)
        added = self.updater_ms()
        m = self.message()
        for i in range(n):
            m.delete("a%d" % i, "A")
        self.send(m)
        return added, self.updater_ms()

    def updater_ms(self):
        """The updater's own time for the last update (its log line's ms=)."""
        found = re.findall(r"event=update .* ms=([0-9.]+)", open(self.log_path).read())
        return float(found[-1]) if found else float("nan")

    def stop(self):
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self.log.close()


def recv_exact(s, n):
    buf = b""
    while len(buf) < n:
        chunk = s.recv(n - len(buf))
        if not chunk:
            raise EOFError("connection closed")
        buf += chunk
    return buf


def spread(v):
    return "%9.1f (%.1f-%.1f)" % (statistics.median(v), min(v), max(v))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--sizes", default="100,200,1000")
    ap.add_argument("--delay", type=float, default=0, help="ms from the update to the SIGHUP")
    ap.add_argument("--timeout", type=int, default=600, help="s for one update or reload")
    ap.add_argument("--gtmd", default=os.path.join(os.path.dirname(__file__), "../../build/gtmd"))
    ap.add_argument("--adds", type=int, default=0, help="records added then deleted per round")
    ap.add_argument("--filler", type=int, default=0, help="more records in the zone")
    a = ap.parse_args()
    sizes = [int(x) for x in a.sizes.split(",")] if a.sizes else []
    work = tempfile.mkdtemp(prefix="gtmd-prereq-bench-")
    srv = Server(os.path.abspath(a.gtmd), work, sizes, a.timeout, a.filler)
    res = {n: ([], [], []) for n in sizes}
    adds, dels = [], []
    ordinary, idle, own = [], [], []
    try:
        for r in range(a.rounds):
            ordinary.append(statistics.median(srv.ordinary() for _ in range(5)))
            own.append(srv.updater_ms())
            idle.append(srv.sighup_wait())
            for n in sizes:
                got = srv.prereqs(n, a.delay)
                for k in range(3):
                    res[n][k].append(got[k])
                print("# round %d: %d prerequisites %.1f ms (updater %.1f), reload waited %.1f ms"
                      % (r + 1, n, got[0], got[2], got[1]), file=sys.stderr, flush=True)
            if a.adds:
                got = srv.changes(a.adds)
                adds.append(got[0])
                dels.append(got[1])
        print("%s; median of %d rounds (min-max), ms" % (a.gtmd, a.rounds))
        print("%-24s %24s %24s %24s" % ("case", "update round trip", "updater (log ms=)",
                                         "SIGHUP to reload done"))
        print("%-24s %24s %24s %24s" % ("ordinary / no update", spread(ordinary), spread(own),
                                         spread(idle)))
        for n in sizes:
            print("%-24s %24s %24s %24s" % ("%d prerequisites" % n, spread(res[n][0]),
                                             spread(res[n][2]), spread(res[n][1])))
        if a.adds:
            print("%-24s %24s %24s" % ("%d additions" % a.adds, "", spread(adds)))
            print("%-24s %24s %24s" % ("%d deletions" % a.adds, "", spread(dels)))
    finally:
        srv.stop()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()

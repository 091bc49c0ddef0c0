#!/usr/bin/python3
"""How long an RFC 2136 update takes in gtmd (doc/updates.md), by the size
of the updated zone, with and without signing, and whether other zones
cost anything: gtmd serves the updated zone (SMALL or BIG records; signed
at load with an ECDSA P-256 key pair when --signed) beside a bystander zone
of OTHER records that the update shares rather than reloads.

Each round sends, per case, --updates signed updates over TCP (each adds
one TXT record, then the next deletes it) and takes the median round trip;
cases are interleaved round by round, and the result is the median of the
rounds' medians with the spread (min-max). A SIGHUP reload of the same
configuration is timed too (event=reload ms=...) for comparison.

    /usr/bin/python3 contrib/bench/update_bench.py [--rounds 3] [--updates 20]
        [--small 100] [--big 100000] [--other 200000] [--gtmd build/gtmd]
"""
import argparse
import base64
import os
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time

import dns.message
import dns.query
import dns.rcode
import dns.tsigkeyring
import dns.update

SECRET = base64.b64encode(b"gtmd update bench secret 32 byte").decode()


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    p = s.getsockname()[1]
    s.close()
    return p


def zone(origin, n):
    lines = ["$TTL 300", "@ SOA ns1.%s h.%s 1 3600 600 86400 60" % (origin, origin),
             "@ NS ns1.%s" % origin, "ns1 A 127.0.0.1"]
    lines += ["h%d A 10.%d.%d.%d" % (i, i >> 16 & 255, i >> 8 & 255, i & 255) for i in range(n)]
    return "\n".join(lines) + "\n"


def keygen(d, origin, ksk):
    argv = ["/usr/bin/ldns-keygen", "-a", "ECDSAP256SHA256"] + (["-k"] if ksk else []) + [origin]
    return subprocess.run(argv, cwd=d, check=True, capture_output=True, text=True).stdout.strip()


class Case:
    def __init__(self, gtmd, work, name, records, other, signed):
        self.name = name
        self.dir = os.path.join(work, name)
        os.mkdir(self.dir)
        self.port = free_port()
        with open(os.path.join(self.dir, "upd.zone"), "w") as f:
            f.write(zone("upd.bench.", records))
        with open(os.path.join(self.dir, "other.zone"), "w") as f:
            f.write(zone("other.bench.", other))
        entry = {"origin": "upd.bench.", "file": "upd.zone", "update": [{"key": "bench."}]}
        if signed:
            entry["dnssec"] = {"keys": [keygen(self.dir, "upd.bench.", True),
                                        keygen(self.dir, "upd.bench.", False)]}
        cfg = {"listen": ["127.0.0.1:%d" % self.port], "workers": 1,
               "tsig_keys": {"bench.": {"algorithm": "hmac-sha256", "secret": SECRET}},
               "zones": [entry, {"origin": "other.bench.", "file": "other.zone"}]}
        import json
        with open(os.path.join(self.dir, "gtmd.json"), "w") as f:
            json.dump(cfg, f)
        self.log = open(os.path.join(self.dir, "gtmd.log"), "ab")
        self.proc = subprocess.Popen([gtmd, "-c", os.path.join(self.dir, "gtmd.json")],
                                     stdout=self.log, stderr=subprocess.STDOUT)
        end = time.monotonic() + 120
        while time.monotonic() < end:
            try:
                dns.query.udp(dns.message.make_query("upd.bench.", "SOA"), "127.0.0.1",
                              port=self.port, timeout=0.5)
                break
            except Exception:
                time.sleep(0.2)
        self.keyring = dns.tsigkeyring.from_text({"bench.": SECRET})
        self.n = 0
        self.ms = []
        self.reload_ms = []

    def one(self):
        m = dns.update.UpdateMessage("upd.bench.", keyring=self.keyring, keyname="bench.",
                                     keyalgorithm="hmac-sha256")
        if self.n % 2 == 0:
            m.add("bench-%d" % self.n, 60, "TXT", "x")
        else:
            m.delete("bench-%d" % (self.n - 1), "TXT")
        self.n += 1
        t = time.monotonic()
        r = dns.query.tcp(m, "127.0.0.1", port=self.port, timeout=120)
        dt = (time.monotonic() - t) * 1000
        if r.rcode() != dns.rcode.NOERROR:
            sys.exit("%s: update got %s" % (self.name, dns.rcode.to_text(r.rcode())))
        return dt

    def reload(self):
        path = os.path.join(self.dir, "gtmd.log")
        before = open(path).read().count("event=reload result=ok")
        self.proc.send_signal(signal.SIGHUP)
        end = time.monotonic() + 300
        while time.monotonic() < end:
            text = open(path).read()
            if text.count("event=reload result=ok") > before:
                return float(re.findall(r"event=reload result=ok .* ms=([0-9.]+)", text)[-1])
            time.sleep(0.1)
        sys.exit("%s: no reload" % self.name)

    def stop(self):
        self.proc.send_signal(signal.SIGTERM)
        self.proc.wait(timeout=30)
        self.log.close()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--updates", type=int, default=20)
    ap.add_argument("--small", type=int, default=100)
    ap.add_argument("--big", type=int, default=100000)
    ap.add_argument("--other", type=int, default=200000)
    ap.add_argument("--gtmd", default=os.path.join(os.path.dirname(__file__), "../../build/gtmd"))
    a = ap.parse_args()
    work = tempfile.mkdtemp(prefix="gtmd-update-bench-")
    cases = []
    try:
        for name, n, signed in (("small", a.small, False), ("small-signed", a.small, True),
                                ("big", a.big, False), ("big-signed", a.big, True)):
            cases.append(Case(os.path.abspath(a.gtmd), work, name, n, a.other, signed))
        for _ in range(a.rounds):
            for c in cases:
                c.ms.append(statistics.median(c.one() for _ in range(a.updates)))
                c.reload_ms.append(c.reload())
        print("zone records, other zone %d records; median of %d rounds (min-max), each the "
              "median of %d updates" % (a.other, a.rounds, a.updates))
        print("%-14s %10s %24s %24s" % ("case", "records", "update ms", "full reload ms"))
        for c in cases:
            n = a.small if c.name.startswith("small") else a.big
            print("%-14s %10d %10.1f (%.1f-%.1f) %12.1f (%.1f-%.1f)" % (
                c.name, n, statistics.median(c.ms), min(c.ms), max(c.ms),
                statistics.median(c.reload_ms), min(c.reload_ms), max(c.reload_ms)))
    finally:
        for c in cases:
            c.stop()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()

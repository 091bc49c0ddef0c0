#!/usr/bin/python3
"""dot_bench.py -- DNS over TLS: gtmd against NSD's DoT on the same zone, in
interleaved rounds, with dnsperf -m dot (dnsperf >= 2.10).

A benchmark, not a test. It generates the bench.test. zone and query file
of gen_zone.py (once, into --workdir), a self-signed certificate with
openssl, and starts both servers on 127.0.0.1, pinned to core 0 with one
worker each (gtmd "workers": 1, NSD server-count: 1):

  gtmd  port P   (UDP/TCP) and P+1 (the "tls" section's listener)
  NSD   port P+2 (UDP/TCP) and P+3 (tls-port, tls-service-key/-pem)

Then, per round, dnsperf (pinned to core 1) runs -m dot against each in
turn, the order alternating between rounds: --clients TLS connections
(each one handshake, then queries pipelined, --outstanding at a time) for
--duration seconds. For each run it records the answers per second and
the server's CPU seconds meanwhile (utime+stime from /proc), so the
figure that counts on a shared machine is answers per CPU-second; both
ratios gtmd/NSD are printed per round and as the median with the range.
--handshakes also runs with -c 200 clients for 2 s per run, where the
handshakes are most of the work: the figure there is the server's CPU
milliseconds per connection (its handshake and its few queries; lower is
better, so that ratio gtmd/NSD below 1.0 is gtmd spending less).

  dot_bench.py --gtmd build/gtmd --rounds 5 --duration 10

Both servers are stopped by pid at the end, also on Ctrl-C.
"""
import argparse
import json
import os
import re
import statistics
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from bench import ORIGIN, Gtmd, Nsd, cpu_seconds  # noqa: E402  (bench.py's servers)
from load_bench import log  # noqa: E402

PROBE = "ns1." + ORIGIN


def prepare(wd):
    zone = os.path.join(wd, "bench.zone")
    queries = os.path.join(wd, "queries.txt")
    if not (os.path.exists(zone) and os.path.exists(queries)):
        subprocess.check_call([sys.executable, os.path.join(HERE, "gen_zone.py"), "--zone",
                               zone, "--queries", queries], stdout=subprocess.DEVNULL)
    cert, key = os.path.join(wd, "dot.pem"), os.path.join(wd, "dot.key")
    if not os.path.exists(cert):
        subprocess.check_call(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
                               "ec_paramgen_curve:P-256", "-nodes", "-keyout", key, "-out",
                               cert, "-days", "30", "-subj", "/CN=bench.test"],
                              stderr=subprocess.DEVNULL)
    return zone, queries, cert, key


class NsdTls(Nsd):
    """bench.py's NSD, with a second interface on tls_port serving TLS."""

    def __init__(self, *a, tls_port=None, cert=None, key=None, **k):
        super().__init__(*a, **k)
        self.tls_port, self.cert, self.key = tls_port, cert, key

    def commands(self, zone):
        cmds = super().commands(zone)
        cfg = os.path.join(self.dir, "nsd.conf")
        with open(cfg) as f:
            text = f.read()
        text = text.replace("server:\n", """server:
    ip-address: 127.0.0.1@{tport}
    tls-port: {tport}
    tls-service-key: "{key}"
    tls-service-pem: "{cert}"
""".format(tport=self.tls_port, key=self.key, cert=self.cert), 1)
        with open(cfg, "w") as f:
            f.write(text)
        return cmds


def dnsperf(a, port, queries, clients, seconds):
    argv = ["taskset", "-c", "1", "dnsperf", "-m", "dot", "-s", "127.0.0.1", "-p", str(port),
            "-d", queries, "-l", str(seconds), "-c", str(clients), "-q", str(a.outstanding),
            "-t", "5"]
    r = subprocess.run(argv, capture_output=True, text=True, timeout=seconds + 60)
    out = r.stdout + r.stderr
    res = {}
    for key, pat in (("qps", r"Queries per second:\s+([0-9.]+)"),
                     ("completed", r"Queries completed:\s+(\d+)"),
                     ("lost", r"Queries lost:\s+(\d+)"),
                     ("lat", r"Average Latency \(s\):\s+([0-9.]+)")):
        m = re.search(pat, out)
        res[key] = float(m.group(1)) if m else 0.0
    m = re.search(r"Response codes:\s+(.*)", out)
    res["rcodes"] = m.group(1).strip() if m else out[-300:]
    return res


def measure(a, name, srv, port, queries, clients, seconds):
    pids = srv.pids()
    c0 = cpu_seconds(pids)
    r = dnsperf(a, port, queries, clients, seconds)
    r["cpu"] = cpu_seconds(pids) - c0
    r["per_cpu"] = r["completed"] / r["cpu"] if r["cpu"] > 0 else 0.0
    # Each dnsperf client opens one connection: its handshake and then its
    # queries. CPU per connection is the figure of the handshake runs.
    r["conn_ms"] = r["cpu"] * 1000 / clients
    log("  %-5s c=%-4d %9.0f qps  %9.0f answers/cpu-s  cpu %.2f s (%.2f ms/conn)  lost %d  "
        "lat %.2f ms  %s" % (name, clients, r["qps"], r["per_cpu"], r["cpu"], r["conn_ms"],
                             r["lost"], r["lat"] * 1000, r["rcodes"]))
    return r


def summary(label, rounds, keys):
    print("\n%s (%d rounds, median [min .. max])" % (label, len(rounds)))
    for key, what in keys:
        for srv in ("gtmd", "nsd"):
            v = [r[srv][key] for r in rounds]
            fmt = "  %-24s %-5s %10.2f  [%.2f .. %.2f]" if key == "conn_ms" else \
                "  %-24s %-5s %10.0f  [%.0f .. %.0f]"
            print(fmt % (what, srv, statistics.median(v), min(v), max(v)))
        ratios = [r["gtmd"][key] / r["nsd"][key] for r in rounds if r["nsd"][key]]
        print("  %-24s gtmd/NSD %5.2fx  [%.2f .. %.2f]  per round: %s" % (
            what, statistics.median(ratios), min(ratios), max(ratios),
            " ".join("%.2f" % x for x in ratios)))


def main():
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--gtmd", default=os.path.join(HERE, "..", "..", "build", "gtmd"))
    ap.add_argument("--workdir", default="/tmp/gtmbench-dot")
    ap.add_argument("--port", type=int, default=15360)
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--duration", type=int, default=10)
    ap.add_argument("--clients", type=int, default=20)
    ap.add_argument("--outstanding", type=int, default=200)
    ap.add_argument("--handshakes", action="store_true",
                    help="also 200 clients for 2 s per run (handshakes weigh more)")
    a = ap.parse_args()
    os.makedirs(a.workdir, exist_ok=True)
    zone, queries, cert, key = prepare(a.workdir)
    tls = {"listen": ["127.0.0.1:%d" % (a.port + 1)], "certificate": cert, "key": key}
    servers = {
        "gtmd": (Gtmd("gtmd", a.port, a.workdir, None, binary=os.path.abspath(a.gtmd),
                      extra={"tls": tls}), a.port + 1),
        "nsd": (NsdTls("nsd", a.port + 2, a.workdir, None, tls_port=a.port + 3, cert=cert,
                       key=key), a.port + 3),
    }
    try:
        for srv, _ in servers.values():
            srv.start(zone, PROBE, cpu="0", limit=False)
        runs = [("steady", a.clients, a.duration)]
        if a.handshakes:
            runs.append(("handshakes", 200, 2))
        results = {label: [] for label, _, _ in runs}
        for i in range(a.rounds):
            order = ["gtmd", "nsd"] if i % 2 == 0 else ["nsd", "gtmd"]
            log("round %d (%s first)" % (i + 1, order[0]))
            for label, clients, seconds in runs:
                row = {}
                for name in order:
                    srv, port = servers[name]
                    row[name] = measure(a, name, srv, port, queries, clients, seconds)
                results[label].append(row)
        print("DNS over TLS, dnsperf -m dot, -q %d, one worker each on core 0, dnsperf on "
              "core 1" % a.outstanding)
        for label, clients, seconds in runs:
            keys = [("qps", "answers per second"), ("per_cpu", "answers per CPU-second")]
            if label == "handshakes":
                keys.append(("conn_ms", "server CPU ms per conn"))
            summary("%s: %d TLS connections, %d s per run" % (label, clients, seconds),
                    results[label], keys)
        with open(os.path.join(a.workdir, "results-%d.json" % int(time.time())), "w") as f:
            json.dump(results, f, indent=1)
    finally:
        for srv, _ in servers.values():
            srv.stop()


if __name__ == "__main__":
    main()

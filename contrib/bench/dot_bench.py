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
from load_bench import cpu_s, log, query_ok  # noqa: E402

ORIGIN = "bench.test."
PROBE = "ns1.bench.test"


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


def gtmd_cmd(a, wd, zone, cert, key):
    cfg = os.path.join(wd, "gtmd.json")
    with open(cfg, "w") as f:
        json.dump({"listen": ["127.0.0.1:%d" % a.port], "workers": 1,
                   "zones": [{"origin": ORIGIN, "file": zone}],
                   "tcp": {"max_connections": 4096, "idle_timeout": 30},
                   "tls": {"listen": ["127.0.0.1:%d" % (a.port + 1)], "certificate": cert,
                           "key": key}}, f, indent=1)
    return [a.gtmd, "-c", cfg], a.port + 1


def nsd_cmd(a, wd, zone, cert, key):
    d = os.path.join(wd, "nsd")
    os.makedirs(d, exist_ok=True)
    for f in ("zone.list", "xfrd.state", "nsd.pid"):
        try:
            os.unlink(os.path.join(d, f))
        except OSError:
            pass
    cfg = os.path.join(d, "nsd.conf")
    port, tport = a.port + 2, a.port + 3
    with open(cfg, "w") as f:
        f.write("""server:
    ip-address: 127.0.0.1@{port}
    ip-address: 127.0.0.1@{tport}
    tls-port: {tport}
    tls-service-key: "{key}"
    tls-service-pem: "{cert}"
    server-count: 1
    username: ""
    chroot: ""
    zonesdir: "{d}"
    database: ""
    zonelistfile: "{d}/zone.list"
    xfrdfile: "{d}/xfrd.state"
    xfrdir: "{d}"
    pidfile: "{d}/nsd.pid"
    logfile: "{d}/nsd.log"
    zonefiles-write: 0
    tcp-count: 4096
    tcp-timeout: 30
    verbosity: 1
    rrl-ratelimit: 0
    rrl-whitelist-ratelimit: 0
    minimal-responses: yes
remote-control:
    control-enable: no
zone:
    name: "{origin}"
    zonefile: "{zone}"
""".format(port=port, tport=tport, key=key, cert=cert, d=d, origin=ORIGIN, zone=zone))
    return ["nsd", "-d", "-c", cfg], tport


def tree_pids(pid):
    """pid and its descendants (NSD forks its server and xfrd)."""
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        out.append(p)
        try:
            with open("/proc/%d/task/%d/children" % (p, p)) as f:
                todo += [int(x) for x in f.read().split()]
        except OSError:
            pass
    return out


def port_taken(port):
    """Whether something answers DNS on port already (a server left over)."""
    return query_ok(port, PROBE)


def stop(p):
    try:
        os.killpg(p.pid, 15)
        p.wait(timeout=10)
    except (OSError, subprocess.TimeoutExpired):
        try:
            os.killpg(p.pid, 9)
        except OSError:
            pass


def start(name, argv, udp_port, wd):
    if port_taken(udp_port):
        raise RuntimeError("port %d answers already: another server is running" % udp_port)
    log_path = os.path.join(wd, name + ".log")
    p = subprocess.Popen(["taskset", "-c", "0"] + argv, stdout=open(log_path, "ab"),
                         stderr=subprocess.STDOUT, start_new_session=True)
    t0 = time.monotonic()
    while not query_ok(udp_port, PROBE):
        if p.poll() is not None or time.monotonic() - t0 > 60:
            stop(p)
            raise RuntimeError("%s did not start; see %s" % (name, log_path))
        time.sleep(0.05)
    return p


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


def measure(a, name, proc, port, queries, clients, seconds):
    pids = tree_pids(proc.pid)
    c0 = cpu_s(pids)
    r = dnsperf(a, port, queries, clients, seconds)
    r["cpu"] = cpu_s(pids) - c0
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
    procs = {}
    try:
        argv, gport = gtmd_cmd(a, a.workdir, zone, cert, key)
        procs["gtmd"] = (start("gtmd", argv, a.port, a.workdir), gport)
        argv, nport = nsd_cmd(a, a.workdir, zone, cert, key)
        procs["nsd"] = (start("nsd", argv, a.port + 2, a.workdir), nport)
        runs = [("steady", a.clients, a.duration)]
        if a.handshakes:
            runs.append(("handshakes", 200, 2))
        results = {label: [] for label, _, _ in runs}
        for i in range(a.rounds):
            order = ["gtmd", "nsd"] if i % 2 == 0 else ["nsd", "gtmd"]
            log("round %d (%s first)" % (i + 1, order[0]))
            for label, clients, seconds in runs:
                row = {}
                for srv in order:
                    p, port = procs[srv]
                    row[srv] = measure(a, srv, p, port, queries, clients, seconds)
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
        for p, _ in procs.values():
            stop(p)


if __name__ == "__main__":
    main()

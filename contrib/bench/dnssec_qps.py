#!/usr/bin/python3
"""dnssec_qps.py -- queries per CPU-second of gtmd with DO, unsigned vs signed.

Writes gen_zone.py's zone (--names owner names) and query mix, plus one
policy record (gtm.bench.test., failover over two endpoints without a
check) that a tenth of the queries ask for, makes ECDSA P-256 keys with
ldns-keygen, and runs gtmd (one worker) twice: with the zone unsigned and
signed at load ("dnssec": {"keys": ...}, NSEC). dnsperf (-e -D: EDNS with
the DO bit, as a validating resolver sends) loads each for --seconds;
gtmd's CPU time comes from /proc/PID/stat, so the figure is queries
answered per CPU-second of gtmd, not wall-clock QPS on a shared machine.

  /usr/bin/python3 contrib/bench/dnssec_qps.py [--seconds 10] [--rounds 3]
      [--perf]   (also perf record the signed run: perf.data in the workdir)

Everything listens on 127.0.0.1; gtmd is stopped by pid at the end.
"""
import argparse
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
TOP = os.path.abspath(os.path.join(HERE, "..", ".."))
ORIGIN = "bench.test."


def cpu_seconds(pid):
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def wait_port(port, timeout=120.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        r = subprocess.run(["dig", "+short", "+time=1", "+tries=1", "-p", str(port), "@127.0.0.1",
                            ORIGIN, "SOA"], capture_output=True, text=True)
        if re.search(r"^\S+ \S+ \d+ \d+ \d+ \d+ \d+$", r.stdout.strip()):
            return True  # the SOA (dig prints its errors on stdout too)
        time.sleep(0.2)
    return False


def run(a, wd, signed, keys, qfile):
    cfg = {"listen": ["127.0.0.1:%d" % a.port], "workers": 1,
           "zones": [{"origin": ORIGIN, "file": os.path.join(wd, "bench.zone")}],
           "regions": {"r1": {}, "r2": {}},
           "pools": {"p": {"endpoints": [{"name": "a", "address": "192.0.2.1", "region": "r1"},
                                         {"name": "b", "address": "192.0.2.2", "region": "r2"}]}},
           "records": {"gtm." + ORIGIN: {"pool": "p", "policy": "failover",
                                         "regions": ["r1", "r2"]}}}
    if signed:
        cfg["zones"][0]["dnssec"] = {"keys": keys}
    path = os.path.join(wd, "gtmd-%s.json" % ("signed" if signed else "unsigned"))
    with open(path, "w") as f:
        json.dump(cfg, f)
    log = open(os.path.join(wd, "gtmd.log"), "a")
    t0 = time.monotonic()
    p = subprocess.Popen([a.gtmd, "-c", path], stdout=log, stderr=subprocess.STDOUT,
                         start_new_session=True)
    perf = None
    try:
        if not wait_port(a.port):
            sys.exit("dnssec_qps: gtmd did not answer")
        load = time.monotonic() - t0
        if a.perf and signed:
            perf = subprocess.Popen(["perf", "record", "-g", "-o", os.path.join(wd, "perf.data"),
                                     "-p", str(p.pid)], stdout=subprocess.DEVNULL,
                                    stderr=subprocess.DEVNULL)
        out = []
        for _ in range(a.rounds):
            c0 = cpu_seconds(p.pid)
            r = subprocess.run(["dnsperf", "-s", "127.0.0.1", "-p", str(a.port), "-d", qfile,
                                "-l", str(a.seconds), "-c", "4", "-q", "200", "-e", "-D"],
                               capture_output=True, text=True)
            c1 = cpu_seconds(p.pid)
            m = re.search(r"Queries completed:\s+(\d+)", r.stdout)
            done = int(m.group(1)) if m else 0
            out.append(done / (c1 - c0) if c1 > c0 else 0.0)
        return load, out
    finally:
        if perf:
            perf.send_signal(signal.SIGINT)
            perf.wait(timeout=60)
        os.killpg(p.pid, signal.SIGTERM)
        p.wait(timeout=30)
        log.close()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--gtmd", default=os.path.join(TOP, "build", "gtmd"))
    ap.add_argument("--names", type=int, default=10000)
    ap.add_argument("--seconds", type=int, default=10)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--port", type=int, default=15390)
    ap.add_argument("--perf", action="store_true")
    ap.add_argument("--workdir", default="/tmp/gtm-dnssec-qps")
    a = ap.parse_args()
    for tool in ("dnsperf", "ldns-keygen", "dig"):
        if not shutil.which(tool):
            sys.exit("dnssec_qps: %s is not installed" % tool)
    wd = a.workdir
    shutil.rmtree(wd, ignore_errors=True)
    os.makedirs(wd)
    shutil.copy2(a.gtmd, os.path.join(wd, "gtmd-under-test"))
    a.gtmd = os.path.join(wd, "gtmd-under-test")
    qfile = os.path.join(wd, "queries.txt")
    subprocess.run([sys.executable, os.path.join(HERE, "gen_zone.py"), "--origin", ORIGIN,
                    "--zone", os.path.join(wd, "bench.zone"), "--names", str(a.names),
                    "--queries", qfile], check=True)
    with open(qfile) as f:
        lines = f.readlines()
    with open(qfile, "w") as f:  # a tenth of the queries: the policy record
        for i, line in enumerate(lines):
            f.write("gtm.%s A\n" % ORIGIN if i % 10 == 5 else line)
    keys = []
    for ksk in (True, False):
        out = subprocess.run(["ldns-keygen", "-a", "ECDSAP256SHA256"] + (["-k"] if ksk else [])
                             + [ORIGIN], cwd=wd, check=True, capture_output=True,
                             text=True).stdout.strip()
        keys.append(os.path.join(wd, out))
    res = {}
    for signed in (False, True):
        res[signed] = run(a, wd, signed, keys, qfile)
        label = "signed at load" if signed else "unsigned"
        load, qps = res[signed]
        print("%-15s start-up %.2f s; queries per CPU-second with DO: %s" % (
            label, load, ", ".join("%.0f" % q for q in qps)), flush=True)
    best = {s: max(res[s][1]) for s in res}
    print("ratio signed/unsigned (best round each): %.2f" % (best[True] / best[False]))
    if a.perf:
        print("perf report -i %s --no-children" % os.path.join(wd, "perf.data"))
    return 0


if __name__ == "__main__":
    sys.exit(main())

#!/usr/bin/python3
"""config_bench.py -- policy records changed one by one through the
configuration API (PUT /v1/config/records/NAME), with and without a steady
DNS load: changes per second, the time from the API's answer until DNS
serves the change (p50/p99/max), gtmd's RSS, and the queries that failed
while the changes were made (issue #26).

A benchmark, not a test. gtmd serves a zone with --records policy records
(failover over two regions of a pool without checks, so every endpoint is
up), the configuration API on (a history directory in the work
directory, keep 5). Each change swaps one record's region order, which
moves its answer from one address to the other; after the API answered
(201: validated, written, reloaded), the record is queried until it
answers the new address. With --qps, dnsperf sends that many queries per
second of a mix of the changed and the unchanged names for the whole run;
its lost queries and any rcode other than NOERROR count as failed.

  sudo /usr/bin/python3 contrib/bench/config_bench.py --records 10000 --changes 200 --qps 50000
  sudo /usr/bin/python3 contrib/bench/config_bench.py --records 10000 --batch

Every change rewrites, validates and reloads the whole configuration
(config_api.c), so its cost grows with the configuration's size: the
figures are per change at that size. Ports 15340 (DNS) and 15341 (admin)
on 127.0.0.1; gtmd is stopped by pid.
"""
import argparse
import http.client
import json
import os
import shutil
import signal
import statistics
import subprocess
import sys
import time

TOP = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, "/usr/lib/python3/dist-packages")
import dns.message  # noqa: E402
import dns.query  # noqa: E402

TOKEN = "bench-operate-token-0123456789abcdef"
A1, A2 = "192.0.2.1", "198.51.100.1"


def log(msg):
    sys.stderr.write("[config_bench %s] %s\n" % (time.strftime("%H:%M:%S"), msg))
    sys.stderr.flush()


def rss_mb(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


def write_setup(d, n, port, aport):
    with open(os.path.join(d, "bench.test.zone"), "w") as f:
        f.write("$ORIGIN bench.test.\n$TTL 300\n@ SOA ns1 h 1 3600 600 86400 60\n"
                "@ NS ns1\nns1 A 192.0.2.53\nwww A 192.0.2.80\n")
    tok = os.path.join(d, "operate.token")
    with open(tok, "w") as f:
        f.write(TOKEN + "\n")
    os.chmod(tok, 0o600)
    recs = {"r%d.bench.test." % i: {"pool": "web", "policy": "failover",
                                     "regions": ["a", "b"], "ttl": 30} for i in range(n)}
    conf = {"listen": ["127.0.0.1:%d" % port], "workers": 1,
            "zones": [{"origin": "bench.test.", "file": "bench.test.zone"}],
            "admin": {"listen": "127.0.0.1:%d" % aport, "operate_token_file": "operate.token",
                      "read_token_file": "operate.token"},
            "config_api": {"history_dir": "history", "keep": 5},
            "regions": {"a": {}, "b": {}},
            "pools": {"web": {"endpoints": [{"name": "a1", "address": A1, "region": "a"},
                                            {"name": "b1", "address": A2, "region": "b"}]}},
            "records": recs}
    path = os.path.join(d, "gtmd.json")
    with open(path, "w") as f:
        json.dump(conf, f)
    with open(os.path.join(d, "queries.txt"), "w") as f:
        for i in range(min(n, 1000)):
            f.write("r%d.bench.test. A\nwww.bench.test. A\n" % i)
    return path


def answer(port, name):
    q = dns.message.make_query(name, "A")
    try:
        r = dns.query.udp(q, "127.0.0.1", port=port, timeout=0.5)
    except Exception:
        return None
    return [x.address for rr in r.answer for x in rr]


def put(aport, name, regions):
    c = http.client.HTTPConnection("127.0.0.1", aport, timeout=60)
    body = json.dumps({"pool": "web", "policy": "failover", "regions": regions, "ttl": 30})
    c.request("PUT", "/v1/config/records/" + name, body=body,
              headers={"Authorization": "Bearer " + TOKEN, "Content-Type": "application/json"})
    r = c.getresponse()
    data = r.read()
    c.close()
    return r.status, data


def post_changes(aport, changes):
    c = http.client.HTTPConnection("127.0.0.1", aport, timeout=600)
    c.request("POST", "/v1/config/changes", body=json.dumps({"changes": changes}),
              headers={"Authorization": "Bearer " + TOKEN, "Content-Type": "application/json"})
    r = c.getresponse()
    data = r.read()
    c.close()
    return r.status, data


def run_batch(a, p):
    """--batch: every record changed in one POST /v1/config/changes (one
    version, one reload); the time until the last record is served so."""
    changes = [{"op": "put", "path": "records/r%d.bench.test." % i,
                "value": {"pool": "web", "policy": "failover", "regions": ["b", "a"], "ttl": 30}}
               for i in range(a.records)]
    rss0 = rss_mb(p.pid)
    t1 = time.monotonic()
    st, body = post_changes(a.port + 1, changes)
    t2 = time.monotonic()
    if st != 201:
        raise SystemExit("HTTP %d: %s" % (st, body[:300]))
    last = "r%d.bench.test." % (a.records - 1)
    while answer(a.port, last) != [A2] and time.monotonic() - t2 < 30:
        pass
    t3 = time.monotonic()
    print("config API: %d records changed in one POST /v1/config/changes (%.1f MB body)" %
          (a.records, len(json.dumps({"changes": changes})) / 1e6))
    print("  API answer %.2f s; the last record served %.1f ms after it; RSS %.1f -> %.1f MB" %
          (t2 - t1, 1000 * (t3 - t2), rss0, rss_mb(p.pid)))


def pct(xs, p):
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(round(p / 100.0 * (len(xs) - 1))))] if xs else 0.0


def run(a):
    d = a.workdir
    shutil.rmtree(d, ignore_errors=True)
    os.makedirs(d)
    conf = write_setup(d, a.records, a.port, a.port + 1)
    logf = open(os.path.join(d, "gtmd.log"), "ab")
    t0 = time.monotonic()
    p = subprocess.Popen([a.gtmd, "-c", conf], stdout=logf, stderr=logf)
    try:
        while answer(a.port, "www.bench.test.") is None:
            if p.poll() is not None or time.monotonic() - t0 > 120:
                raise SystemExit("gtmd did not start: see %s/gtmd.log" % d)
            time.sleep(0.1)
        log("gtmd up with %d records in %.1f s, RSS %.1f MB" %
            (a.records, time.monotonic() - t0, rss_mb(p.pid)))
        perf = None
        if a.qps:
            perf = subprocess.Popen(["dnsperf", "-s", "127.0.0.1", "-p", str(a.port), "-d",
                                     os.path.join(d, "queries.txt"), "-Q", str(a.qps), "-l",
                                     "3600", "-c", "4", "-q", "200", "-t", "2"],
                                    stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
            time.sleep(2)
        if a.batch:
            run_batch(a, p)
            return
        rss0 = rss_mb(p.pid)
        lat, api, bad = [], [], 0
        t_start = time.monotonic()
        for k in range(a.changes):
            name = "r%d.bench.test." % (k % a.records)
            flip = (k // a.records) % 2 == 0
            regions, want = (["b", "a"], [A2]) if flip else (["a", "b"], [A1])
            t1 = time.monotonic()
            st, body = put(a.port + 1, name, regions)
            t2 = time.monotonic()
            if st != 201:
                bad += 1
                log("change %d: HTTP %d %s" % (k, st, body[:200]))
                continue
            api.append(t2 - t1)
            while answer(a.port, name) != want and time.monotonic() - t2 < 10:
                pass
            lat.append(time.monotonic() - t2)
        took = time.monotonic() - t_start
        rss1 = rss_mb(p.pid)
        out = ""
        if perf:
            perf.send_signal(signal.SIGINT)
            out = perf.communicate(timeout=60)[0]
    finally:
        p.send_signal(signal.SIGTERM)
        p.wait(timeout=30)
    print("config API: %d records, %d changes one by one%s" %
          (a.records, a.changes, ", dnsperf -Q %d meanwhile" % a.qps if a.qps else ""))
    print("  changes/s %.1f (%.1f s); API answer p50 %.1f ms p99 %.1f ms; refused %d" %
          (len(api) / took, took, 1000 * pct(api, 50), 1000 * pct(api, 99), bad))
    print("  served after the API's answer: p50 %.2f ms, p99 %.2f ms, max %.2f ms" %
          (1000 * pct(lat, 50), 1000 * pct(lat, 99), 1000 * max(lat or [0])))
    print("  RSS %.1f MB before the changes, %.1f MB after" % (rss0, rss1))
    if out:
        keep = [x.strip() for x in out.splitlines()
                if any(k in x for k in ("Queries sent", "Queries completed", "Queries lost",
                                        "Response codes", "Queries per second"))]
        print("  dnsperf: " + "; ".join(keep))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--gtmd", default=os.path.join(TOP, "build", "gtmd"))
    ap.add_argument("--records", type=int, default=10000)
    ap.add_argument("--changes", type=int, default=200)
    ap.add_argument("--qps", type=int, default=0, help="dnsperf -Q meanwhile (0: none)")
    ap.add_argument("--batch", action="store_true",
                    help="every record in one POST /v1/config/changes instead")
    ap.add_argument("--port", type=int, default=15340)
    ap.add_argument("--workdir", default="/tmp/gtmconfigbench")
    run(ap.parse_args())


if __name__ == "__main__":
    main()

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
(201: validated, served, journalled), the record is queried until it
answers the new address. With --qps, dnsperf sends that many queries per
second of a mix of the changed and the unchanged names for the whole run;
its lost queries and any rcode other than NOERROR count as failed.

  sudo /usr/bin/python3 contrib/bench/config_bench.py --records 10000 --changes 200 --qps 50000
  sudo /usr/bin/python3 contrib/bench/config_bench.py --records 10000 --batch
  sudo /usr/bin/python3 contrib/bench/config_bench.py --suite --sizes 10000,100000 --rounds 3 \
      --baseline /path/to/older/gtmd --knot --peers pdns,pdns-defaults
  /usr/bin/python3 contrib/bench/config_bench.py --records 100000 --endpoints 10000 \
      --externaldns 5000 --rounds 3

The million-name run of issue #55 (the issue's estate for gtmd: 1,000,000
policy records over 10,000 endpoints beside a 1,000,000-record static
zone; the same 1,000,000 names as static records in Knot and PowerDNS;
200 timed single changes for gtmd, 20 for each peer, the first after the
start included; a batch of 10,000; about 5 minutes a round, 3.5 of them
Knot's batch, which is 20,002 control-socket calls):

  /usr/bin/python3 contrib/bench/config_bench.py --suite --sizes 1000000 --rounds 3 \
      --singles-big 200 --peer-singles 20 --warmup 0 --batch-size 10000 \
      --suite-endpoints 10000 --suite-static 1000000 --knot --peers pdns-norectify

--externaldns N times ExternalDNS's calls to gtmctl externaldns on an
estate of --records policy records over --endpoints endpoints: a POST
/records creating N endpoints right after the provider started, then its
cycle, GET /records and a POST /records of N more, each POST from the call
until the last of its names is served (--baseline/--baseline-gtmctl: those
too, in the same rounds).

--suite (issue #38) measures, per configuration size and server, in
interleaved rounds (every server once per round, in turn): one change ->
served on this node (from the start of the call to the first DNS answer
with the new address, polled while the call runs), single changes
sustained (one client, each change waiting for its answer: changes per
second; after --warmup untimed changes, every server alike: the first
changes after a start pay one-off costs), gtmd's --clients clients
changing different names at once for
--sustain seconds (changes per second over all and the answers' p99: a
201 is served on this node; the changes that queue behind a reload are
served by one reload as one version, config_api_edit.c), and a batch of
1,000 changes -> served (the last of them). The
servers: this tree's gtmd, --baseline (another gtmd binary, e.g. main's),
and the peers of config_peers.py holding the same names as static records:
with --knot Knot DNS (knotc zone-begin / zone-unset / zone-set /
zone-commit, one change per transaction; the batch: 1,000 in one
transaction), with --peers pdns,pdns-defaults PowerDNS 4.7 with gsqlite3
(an API PATCH of the rrset; the batch: one PATCH of 1,000 rrsets; caches
off, and PowerDNS's default caches; pdns-norectify: caches off and no
rectify of the whole zone per PATCH). It prints
the median of the rounds with the spread (min-max) and gtmd's ratio to
each of the others.

Every change validates the whole configuration and rebuilds what it
touches (config_delta.c; the file is written behind the answer,
config_store.c), so its cost still grows with the configuration's size: the
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
import threading
import time

TOP = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, "/usr/lib/python3/dist-packages")
import dns.message  # noqa: E402
import dns.query  # noqa: E402

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import config_peers  # noqa: E402

TOKEN = "bench-operate-token-0123456789abcdef"
A1, A2 = "192.0.2.1", "198.51.100.1"


def log(msg):
    sys.stderr.write("[config_bench %s] %s\n" % (time.strftime("%H:%M:%S"), msg))
    sys.stderr.flush()


def stop_gtmd(p, timeout=120):
    """gtmd stopped by SIGTERM (it writes the versions it owes first),
    killed when it has not exited within timeout seconds."""
    config_peers.stop(p, timeout)


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


def put(aport, name, regions, ttl=30, pool="web"):
    c = http.client.HTTPConnection("127.0.0.1", aport, timeout=60)
    body = json.dumps({"pool": pool, "policy": "failover", "regions": regions, "ttl": ttl})
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
        rss0, cpu0 = rss_mb(p.pid), cpu_s(p.pid)
        lat, api, bad, reload_s, outside = [], [], 0, [], []
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
            try:  # the reload's own time, from its result: the rest is around it
                rl = json.loads(body)["reload"]["ms"] / 1e3
                reload_s.append(rl)
                outside.append(t2 - t1 - rl)
            except (ValueError, KeyError, TypeError):
                pass
            while answer(a.port, name) != want and time.monotonic() - t2 < 10:
                pass
            lat.append(time.monotonic() - t2)
        took = time.monotonic() - t_start
        rss1, cpu1 = rss_mb(p.pid), cpu_s(p.pid)
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
    if outside:
        print("  of the API answer: the reload p50 %.1f ms p99 %.1f ms; the rest (validation "
              "around it, the file or the journal) p50 %.1f ms p99 %.1f ms" %
              (1000 * pct(reload_s, 50), 1000 * pct(reload_s, 99), 1000 * pct(outside, 50),
               1000 * pct(outside, 99)))
    print("  served after the API's answer: p50 %.2f ms, p99 %.2f ms, max %.2f ms" %
          (1000 * pct(lat, 50), 1000 * pct(lat, 99), 1000 * max(lat or [0])))
    print("  RSS %.1f MB before the changes, %.1f MB after; gtmd's CPU per change %.1f ms "
          "(all threads, the writer's so far)" % (rss0, rss1, 1000 * (cpu1 - cpu0) / max(1, a.changes)))
    if out:
        keep = [x.strip() for x in out.splitlines()
                if any(k in x for k in ("Queries sent", "Queries completed", "Queries lost",
                                        "Response codes", "Queries per second"))]
        print("  dnsperf: " + "; ".join(keep))


# ---- --suite: change -> served, sustained changes, a batch (issue #38) ----

class Layout:
    """Where the suite's record rI points: pool "web" (A1 in region a, A2
    in b) as write_setup makes it, or with --endpoints above 2 the issue's
    estate (write_estate): pool pK, K = I mod the pools, whose endpoints
    have addresses of their own."""

    def __init__(self, npools=0):
        self.npools = npools

    def pool(self, i):
        return "p%d" % (i % self.npools) if self.npools else "web"

    def addr(self, i, second):
        if not self.npools:
            return A2 if second else A1
        k = i % self.npools
        return "10.%d.%d.%d" % (k // 250, k % 250, 2 if second else 1)


def start_gtmd(binary, d, n, port, endpoints=2, static=0):
    """gtmd on n policy records (over `endpoints` endpoints, beside a
    static zone of `static` records when either is asked for); the
    process and its Layout. Waits for the first answer (at most 600 s:
    1,000,000 records and a 1,000,000-record zone take about a minute on
    a loaded 2-core machine)."""
    shutil.rmtree(d, ignore_errors=True)
    os.makedirs(d)
    lay = Layout()
    if endpoints > 2 or static:
        conf, npools = write_estate(d, n, endpoints, static, port, port + 1, 5)
        lay = Layout(npools)
    else:
        conf = write_setup(d, n, port, port + 1)
    logf = open(os.path.join(d, "gtmd.log"), "ab")
    p = subprocess.Popen([binary, "-c", conf], stdout=logf, stderr=logf)
    p.layout = lay
    t0 = time.monotonic()
    while answer(port, "r0.bench.test.") is None:
        if p.poll() is not None or time.monotonic() - t0 > 600:
            raise SystemExit("gtmd did not start: see %s/gtmd.log" % d)
        time.sleep(0.1)
    return p


def timed_change(dport, do_change, check, want):
    """Runs do_change() on a thread; polls DNS for check until it answers
    want. (seconds to served, seconds to the call's answer, status)."""
    res = {}
    t0 = time.monotonic()

    def call():
        res["status"] = do_change()
        res["api"] = time.monotonic() - t0
    th = threading.Thread(target=call)
    th.start()
    while answer(dport, check) != want and time.monotonic() - t0 < 600:
        pass
    served = time.monotonic() - t0
    th.join()
    return served, res.get("api", served), res.get("status")


def suite_server(kind, binary, a, n, rnd):
    """One round of one server at size n: a dict of figures."""
    d = os.path.join(a.workdir, "%s-%d" % (kind, n))
    peer = kind in config_peers.PEERS
    t_start = time.monotonic()
    srv = (config_peers.start(kind, d, n, a.port, A1, A2, answer) if peer
           else start_gtmd(binary, d, n, a.port, a.suite_endpoints, a.suite_static))
    port = srv.port if peer else a.port
    pid = srv.pid
    lay = Layout() if peer else srv.layout
    up_s = time.monotonic() - t_start
    rss0 = rss_mb(pid)
    singles = a.singles if n <= 20000 else a.singles_big
    if peer and a.peer_singles:
        singles = min(singles, a.peer_singles)

    def gput(i, regions, ttl=30):  # gtmd: record rI to regions, in its own pool
        return put(port + 1, "r%d.bench.test." % i, regions, ttl, lay.pool(i))
    served, apis = [], []
    # Untimed first changes (every server alike): the first after a start
    # pays one-off costs (gtmd's first copy of the document and first
    # second set; a peer's caches) that no later change does. --warmup 0
    # times the first change after the start with the others.
    for w in range(a.warmup):
        i = (n - 1 - w * 31 - rnd) % n
        if peer:
            srv.change([("r%d" % i, A2 if w % 2 == 0 else A1)])
        else:
            gput(i, ["b", "a"] if w % 2 == 0 else ["a", "b"])
    t0 = time.monotonic()
    for k in range(singles):
        i = (k * 7919 + rnd) % n
        name = "r%d" % i
        fq = name + ".bench.test."
        # The first always moves the name from where it started (regions
        # a, b; a peer's A1), so that with --warmup 0 it is the first real
        # change after the start, with no untimed change before it.
        flip = ((k + rnd) % 2) == 0 or k == 0 or peer
        regions, addr = ((["b", "a"], lay.addr(i, True)) if flip
                         else (["a", "b"], lay.addr(i, False)))
        if peer:
            ch = (lambda nm=name, ad=addr: srv.change([(nm, ad)]))
        else:
            ch = (lambda j=i, r=regions: gput(j, r)[0])
        # Make sure the name answers the other address first (at k == 0 it
        # does already: a 200 without a reload for gtmd).
        if k:
            if not peer:
                gput(i, ["a", "b"] if flip else ["b", "a"])
            else:
                srv.change([(name, A1)])
        s, api, st = timed_change(port, ch, fq, [addr])
        if st not in (200, 201):
            raise SystemExit("%s: change %d answered %s" % (kind, k, st))
        served.append(s)
        apis.append(api)
    # Sustained: one client, changes back to back, each waiting for its
    # answer. Every one moves its name (a name not changed before in this
    # round, from its first address to the other): a change that changes
    # nothing is answered 200 by gtmd without a reload, and half of the
    # changes of this loop were such until the tenth session's runs.
    used = {(n - 1 - w * 31 - rnd) % n for w in range(a.warmup)}
    used |= {(k * 7919 + rnd) % n for k in range(singles)}
    t0 = time.monotonic()
    m = j = 0
    while m < singles * 2 and time.monotonic() - t0 < a.sustain and j < n:
        i = (j * 104729 + rnd + 50021) % n
        j += 1
        if i in used:
            continue
        used.add(i)
        if peer:
            srv.change([("r%d" % i, A2)])
        else:
            st, _ = gput(i, ["b", "a"])
            if st != 201:
                raise SystemExit("%s: sustained change answered %s" % (kind, st))
        m += 1
    rate = m / (time.monotonic() - t0)
    conc = concurrent_changes(port, n, rnd, a.clients, a.sustain, lay) if not peer else {}
    # A batch of --batch-size changes: every changed name must be served.
    size = min(a.batch_size, n)
    first = (rnd * size) % max(1, n - size)
    idx = [first + i for i in range(size)]
    names = ["r%d" % i for i in idx]

    def bput(regions):
        return [{"op": "put", "path": "records/r%d.bench.test." % i,
                 "value": {"pool": lay.pool(i), "policy": "failover", "regions": regions,
                           "ttl": 30}} for i in idx]
    if peer:
        srv.change([(x, A1) for x in names])
        bch = (lambda: srv.change([(x, A2) for x in names]))
    else:
        post_changes(port + 1, bput(["a", "b"]))
        body = bput(["b", "a"])
        bch = (lambda: post_changes(port + 1, body)[0])
    b_served, b_api, st = timed_change(port, bch, names[-1] + ".bench.test.",
                                       [lay.addr(idx[-1], True)])
    if st not in (200, 201):
        raise SystemExit("%s: batch answered %s" % (kind, st))
    missing = [x for x in idx[::97] if answer(port, "r%d.bench.test." % x) != [lay.addr(x, True)]]
    if missing:
        raise SystemExit("%s: batch not served for %s" % (kind, missing[:3]))
    rss1 = rss_mb(pid)
    if peer:
        srv.stop()
    else:
        srv.send_signal(signal.SIGTERM)
        srv.wait(timeout=120)
    return {"p50": pct(served, 50) * 1e3, "p99": pct(served, 99) * 1e3,
            "first": served[0] * 1e3 if served else 0.0,
            "api_p50": pct(apis, 50) * 1e3, "rate": rate, "batch": b_served * 1e3,
            "batch_api": b_api * 1e3, "batch_rate": size / b_served, "rss0": rss0, "rss1": rss1,
            "up": up_s, "n": singles, "served_each": [round(x * 1e3, 1) for x in served],
            "load": os.getloadavg()[0], **conc}


def concurrent_changes(port, n, rnd, clients, seconds, lay=None):
    """clients threads, each changing its own names back to back for
    `seconds` (a 201 is served on this node: the API answers after the
    swap). Changes per second over all, and the answers' p50/p99 in ms."""
    if clients <= 1:
        return {}
    lat, bad, stop = [], [], time.monotonic() + seconds

    def one(c):
        m = 0
        while time.monotonic() < stop and m < 100000:
            i = (c + clients * m * 7 + rnd) % n
            name = "r%d.bench.test." % i
            t = time.monotonic()
            # A TTL no change gave it before: every one a real change (one
            # that changes nothing is a 200 without a reload; half of them
            # were until the tenth session's runs).
            st, _ = put(port + 1, name, ["b", "a"] if (m + rnd) % 2 else ["a", "b"],
                        ttl=31 + (m % 3000), pool=(lay or Layout()).pool(i))
            if st != 201:
                bad.append(st)
            lat.append(time.monotonic() - t)
            m += 1
    t0 = time.monotonic()
    ts = [threading.Thread(target=one, args=(c,)) for c in range(clients)]
    for t in ts:
        t.start()
    for t in ts:
        t.join(seconds + 120)
    took = time.monotonic() - t0
    # Refused (or unchanged) changes count in neither the rate nor the latencies.
    return {"conc_rate": (len(lat) - len(bad)) / took, "conc_p50": pct(lat, 50) * 1e3,
            "conc_p99": pct(lat, 99) * 1e3, "conc_refused": len(bad)}


def run_suite(a):
    servers = [("gtmd", a.gtmd)]
    if a.baseline:
        servers.append(("baseline", a.baseline))
    if a.knot:
        servers.append(("knot", None))
    for peer in (a.peers.split(",") if a.peers else []):
        servers.append((peer, None))
    sizes = [int(x) for x in a.sizes.split(",")]
    res = {}
    for n in sizes:
        for rnd in range(a.rounds):
            for kind, binary in servers:
                log("size %d round %d: %s (load average %.1f)" %
                    (n, rnd + 1, kind, os.getloadavg()[0]))
                t_round = time.monotonic()
                r = suite_server(kind, binary, a, n, rnd)
                r["round_s"] = time.monotonic() - t_round
                log("  %s" % json.dumps({k: (round(v, 2) if not isinstance(v, list) else v)
                                         for k, v in r.items()}))
                res.setdefault((n, kind), []).append(r)
    print("config change -> served (--suite; median of %d interleaved rounds, min-max)" % a.rounds)
    cols = [("p50", "change->served p50 ms"), ("p99", "p99 ms"), ("first", "first ms"),
            ("rate", "changes/s"),
            ("batch", "%d changes->served ms" % a.batch_size),
            ("batch_rate", "changes/s in %ds" % a.batch_size),
            ("api_p50", "API answer p50 ms"),
            ("conc_rate", "changes/s, %d clients" % a.clients),
            ("conc_p99", "their p99 ms"), ("conc_refused", "refused"),
            ("rss0", "RSS at start MB"), ("rss1", "RSS after MB"), ("up", "start s"),
            ("round_s", "round s"), ("load", "load average")]
    print("| records | server | " + " | ".join(c[1] for c in cols) + " |")
    print("|---|---|" + "---|" * len(cols))
    for n in sizes:
        for kind, _ in servers:
            rs = res[(n, kind)]
            cells = []
            for key, _ in cols:
                xs = [r[key] for r in rs if key in r]
                cells.append("%.1f (%.1f-%.1f)" % (statistics.median(xs), min(xs), max(xs))
                             if xs else "-")
            print("| %d | %s | %s |" % (n, kind, " | ".join(cells)))
    for n in sizes:
        g = res[(n, "gtmd")]
        for kind, _ in servers[1:]:
            o = res[(n, kind)]
            med = lambda rs, k: statistics.median([r[k] for r in rs])  # noqa: E731
            print("%d records, gtmd against %s: change->served p50 %.3fx, p99 %.3fx, changes/s "
                  "%.2fx, batch %.3fx, RSS after %.2fx (below 1 = gtmd faster for times, "
                  "above 1 = more changes/s)" %
                  (n, kind, med(g, "p50") / med(o, "p50"), med(g, "p99") / med(o, "p99"),
                   med(g, "rate") / med(o, "rate"), med(g, "batch") / med(o, "batch"),
                   med(g, "rss1") / med(o, "rss1")))


# ---- --levels: RSS and the history directory over many changes (issue #38) ----

def write_estate(d, n, endpoints, static, port, aport, keep):
    """The issue's estate: n policy records over `endpoints` endpoints (pools
    of two, regions a and b, no checks) in bench.test., and a static zone
    big.test. of `static` records served beside (0: none)."""
    path = write_setup(d, n, port, aport)
    with open(path) as f:
        conf = json.load(f)
    npools = max(1, endpoints // 2)
    conf["pools"] = {"p%d" % k: {"endpoints": [
        {"name": "a", "address": "10.%d.%d.1" % (k // 250, k % 250), "region": "a"},
        {"name": "b", "address": "10.%d.%d.2" % (k // 250, k % 250), "region": "b"}]}
        for k in range(npools)}
    for i in range(n):
        conf["records"]["r%d.bench.test." % i]["pool"] = "p%d" % (i % npools)
    conf["config_api"]["keep"] = keep
    if static:
        with open(os.path.join(d, "big.test.zone"), "w") as f:
            f.write("$ORIGIN big.test.\n$TTL 300\n@ SOA ns1 h 1 3600 600 86400 60\n"
                    "@ NS ns1\nns1 A 192.0.2.53\n")
            for i in range(static):
                f.write("s%d A 10.%d.%d.%d\n" % (i, 100 + i // 65536, (i // 256) % 256, i % 256))
        conf["zones"].append({"origin": "big.test.", "file": "big.test.zone"})
    with open(path, "w") as f:
        json.dump(conf, f)
    return path, npools


def edns_call(port, method, path, body=None):
    """(status, seconds) of one request to gtmctl externaldns, as
    ExternalDNS sends it."""
    media = "application/external.dns.webhook+json;version=1"
    h = {"Accept": media}
    if body is not None:
        h["Content-Type"] = media
    t = time.monotonic()
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=600)
    c.request(method, path, body=body, headers=h)
    r = c.getresponse()
    r.read()
    c.close()
    return r.status, time.monotonic() - t


def cpu_s(pid):
    """User + system CPU seconds of process pid (all its threads) so far."""
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def thread_cpu_s(pid):
    """User + system CPU seconds of each of pid's threads so far, summed by
    thread name (gtmd names its threads: gtmd-store, gtmd-writer, ...)."""
    out = {}
    for tid in os.listdir("/proc/%d/task" % pid):
        try:
            with open("/proc/%d/task/%s/comm" % (pid, tid)) as f:
                name = f.read().strip()
            with open("/proc/%d/task/%s/stat" % (pid, tid)) as f:
                fields = f.read().rsplit(")", 1)[1].split()
        except OSError:
            continue  # a thread that ended
        out[name] = out.get(name, 0.0) + (int(fields[11]) + int(fields[12])) / os.sysconf(
            "SC_CLK_TCK")
    return out


def edns_cpu(pids, step):
    """(gtmd, gtmctl) CPU seconds step() took; step's result."""
    before = [cpu_s(x) for x in pids]
    out = step()
    return [cpu_s(x) - b for x, b in zip(pids, before)], out


def edns_plan(prefix, n):
    """A Create of n endpoints PREFIXk.bench.test, one A target each."""
    eps = [{"dnsName": "%s%d.bench.test" % (prefix, k), "recordType": "A", "recordTTL": 60,
            "targets": ["10.%d.%d.%d" % (200 + k // 62500, k // 250 % 250, k % 250 + 1)]}
           for k in range(n)]
    return json.dumps({"Create": eps, "UpdateOld": [], "UpdateNew": [], "Delete": []})


def edns_post(a, d, wport, prefix):
    """POST /records creating a.externaldns endpoints PREFIXk; seconds
    until the reply and until the last is served (a sample of 50 others
    checked too)."""
    n = a.externaldns
    st, api = edns_call(wport, "POST", "/records", edns_plan(prefix, n))
    t1 = time.monotonic() - api
    if st != 204:
        raise SystemExit("POST /records: HTTP %d (see %s/gtmd.log)" % (st, d))
    last = n - 1
    want = ["10.%d.%d.%d" % (200 + last // 62500, last // 250 % 250, last % 250 + 1)]
    while answer(a.port, "%s%d.bench.test." % (prefix, last)) != want and \
            time.monotonic() - t1 < 600:
        pass
    served = time.monotonic() - t1
    missing = [k for k in range(0, n, max(1, n // 50))
               if answer(a.port, "%s%d.bench.test." % (prefix, k)) is None]
    if missing:
        raise SystemExit("POST /records: %d of 50 names not served" % len(missing))
    return api, served


def edns_round(a, label, gtmd, gtmctl, rnd):
    """One round on a fresh gtmd and gtmctl: a POST /records of N
    endpoints with nothing read before (the provider just started), then
    ExternalDNS's cycle: GET /records, POST /records of N more."""
    d = os.path.join(a.workdir, "edns")
    shutil.rmtree(d, ignore_errors=True)
    os.makedirs(d)
    conf, _ = write_estate(d, a.records, a.endpoints, a.static, a.port, a.port + 1, a.keep)
    logf = open(os.path.join(d, "gtmd.log"), "ab")
    p = subprocess.Popen([gtmd, "-c", conf], stdout=logf, stderr=logf)
    wport = a.port + 2
    env = dict(os.environ, GTMCTL_SERVER="http://127.0.0.1:%d" % (a.port + 1),
               GTMCTL_TOKEN=TOKEN)
    w = None
    try:
        t0 = time.monotonic()
        while answer(a.port, "r0.bench.test.") is None:
            if p.poll() is not None or time.monotonic() - t0 > 600:
                raise SystemExit("gtmd did not start: see %s/gtmd.log" % d)
            time.sleep(0.1)
        w = subprocess.Popen([gtmctl, "--timeout", "600", "externaldns", "--listen",
                              "127.0.0.1:%d" % wport, "--domain", "bench.test"],
                             env=env, stdout=logf, stderr=logf)
        t0 = time.monotonic()
        while time.monotonic() - t0 < 10:
            try:
                if edns_call(wport, "GET", "/healthz")[0] == 200:
                    break
            except OSError:
                time.sleep(0.05)
        pids = [p.pid, w.pid]
        cpu_cold, (cold_api, cold) = edns_cpu(pids, lambda: edns_post(a, d, wport, "c"))
        cpu_read, (st, read) = edns_cpu(pids, lambda: edns_call(wport, "GET", "/records"))
        if st != 200:
            raise SystemExit("GET /records: HTTP %d (see %s/gtmd.log)" % (st, d))
        cpu_post, (api, served) = edns_cpu(pids, lambda: edns_post(a, d, wport, "e"))
        log("externaldns round %d %s: %d endpoints: first POST %.0f ms (served %.0f; CPU gtmd "
            "%.2f s, gtmctl %.2f s); GET /records %.0f ms (CPU %.2f, %.2f); POST /records "
            "%.0f ms, served %.0f ms (CPU %.2f, %.2f); load %.1f" %
            (rnd + 1, label, a.externaldns, 1000 * cold_api, 1000 * cold, cpu_cold[0],
             cpu_cold[1], 1000 * read, cpu_read[0], cpu_read[1], 1000 * api, 1000 * served,
             cpu_post[0], cpu_post[1], os.getloadavg()[0]))
        return {"cold": cold, "read": read, "served": served,
                "cold_cpu": cpu_cold, "read_cpu": cpu_read, "post_cpu": cpu_post}
    finally:
        if w:
            w.send_signal(signal.SIGTERM)
            w.wait(timeout=30)
        p.send_signal(signal.SIGTERM)
        p.wait(timeout=120)


def run_externaldns(a):
    """--externaldns N: gtmctl externaldns (the ExternalDNS webhook
    provider) in front of gtmd on the --records estate, in --rounds rounds
    on a fresh gtmd each (with --baseline and --baseline-gtmctl, those in
    the same rounds, in turn): the first POST /records after the provider
    started (N endpoints eK.bench.test., one A target each; nothing read
    before), then ExternalDNS's cycle: GET /records (the provider reads
    gtmd's configuration) and POST /records of N more, each timed from the
    call until the last of its names is served."""
    runs = [("this", a.gtmd, a.gtmctl)]
    if a.baseline:
        runs.append(("baseline", a.baseline, a.baseline_gtmctl or a.gtmctl))
    got = {label: [] for label, _, _ in runs}
    failed = {label: [] for label, _, _ in runs}
    for rnd in range(a.rounds):
        for label, gtmd, gtmctl in runs:
            try:
                got[label].append(edns_round(a, label, gtmd, gtmctl, rnd))
            except SystemExit as e:  # a failed round is counted, not dropped
                log("externaldns round %d %s: FAILED: %s" % (rnd + 1, label, e))
                failed[label].append(str(e))
    print("ExternalDNS, %d endpoint creations per POST /records, %d policy records over %d "
          "endpoints: median [min-max] of %d rounds, ms" % (a.externaldns, a.records,
                                                            a.endpoints, a.rounds))
    print("(CPU: seconds of gtmd / gtmctl for the call, median; wall times depend on the "
          "machine's load, CPU seconds much less)")
    print("| server | first POST -> served | CPU | GET /records | CPU | POST /records -> served "
          "| CPU |")
    print("|---|---|---|---|---|---|---|")
    for label, _, _ in runs:
        if failed[label]:
            print("%s: %d of %d rounds failed: %s" % (label, len(failed[label]), a.rounds,
                                                     "; ".join(failed[label])))
        if not got[label]:
            continue
        cells = []
        for k, c in (("cold", "cold_cpu"), ("read", "read_cpu"), ("served", "post_cpu")):
            xs = [1000 * r[k] for r in got[label]]
            cells.append("%.0f [%.0f-%.0f]" % (statistics.median(xs), min(xs), max(xs)))
            cells.append("%.2f / %.2f" % (statistics.median(r[c][0] for r in got[label]),
                                          statistics.median(r[c][1] for r in got[label])))
        print("| %s | %s |" % (label, " | ".join(cells)))


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
    ap.add_argument("--suite", action="store_true", help="the issue #38 suite (see above)")
    ap.add_argument("--sizes", default="10000,100000")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--singles", type=int, default=30, help="single changes per round")
    ap.add_argument("--warmup", type=int, default=3,
                    help="--suite: untimed changes before the timed ones (each server)")
    ap.add_argument("--singles-big", type=int, default=30,
                    help="single changes per round above 20,000 records")
    ap.add_argument("--sustain", type=float, default=10.0,
                    help="seconds of back-to-back changes per round (at most 2 x singles)")
    ap.add_argument("--clients", type=int, default=16,
                    help="--suite: gtmd's clients changing at once for --sustain seconds "
                    "(1: not measured)")
    ap.add_argument("--baseline", help="another gtmd binary, measured in the same rounds")
    ap.add_argument("--batch-size", type=int, default=1000,
                    help="--suite: changes in the batch (the issue #55 target: 10000)")
    ap.add_argument("--peer-singles", type=int, default=0,
                    help="--suite: at most this many timed single changes for a peer "
                    "(0: as gtmd; PowerDNS takes seconds a change at 1,000,000 names)")
    ap.add_argument("--suite-endpoints", type=int, default=2,
                    help="--suite: gtmd's records over this many endpoints (pools of two; "
                    "2: one pool), as --endpoints for --externaldns")
    ap.add_argument("--suite-static", type=int, default=0,
                    help="--suite: a static zone of this many records served beside by gtmd")
    ap.add_argument("--knot", action="store_true", help="Knot DNS in the same rounds")
    ap.add_argument("--peers", default="",
                    help="more peers in the same rounds: pdns,pdns-defaults,pdns-norectify "
                    "(config_peers.py)")
    ap.add_argument("--endpoints", type=int, default=2,
                    help="--externaldns: endpoints (pools of two) the records spread over")
    ap.add_argument("--static", type=int, default=0,
                    help="--externaldns: records of a static zone served beside")
    ap.add_argument("--keep", type=int, default=5, help="--externaldns: config_api.keep")
    ap.add_argument("--externaldns", type=int, default=0,
                    help="one ExternalDNS POST /records creating N endpoints, timed")
    ap.add_argument("--gtmctl", default=os.path.join(TOP, "build", "gtmctl"))
    ap.add_argument("--baseline-gtmctl",
                    help="--externaldns: the gtmctl beside --baseline (default --gtmctl)")
    a = ap.parse_args()
    if a.externaldns:
        run_externaldns(a)
    elif a.suite:
        os.makedirs(a.workdir, exist_ok=True)
        run_suite(a)
    else:
        run(a)


if __name__ == "__main__":
    main()

#!/usr/bin/python3
"""sustain_bench.py -- single changes sustained under a steady DNS load,
every answer checked (issue #38: ">= 500 single changes a second with
queries at 50k QPS answered throughout, 0 lost, answers never mixed
between versions").

The estate is the issue's: --records policy records (failover, `select:
all`) over --endpoints endpoints in pools of four (two in region a, two in
region b), in bench.test., beside a static zone big.test. of --static
records. Each record answers both addresses of its first region, so an
answer that mixed two versions of a record would hold one address of each
region.

For --seconds, --clients processes each change their own records one at a
time (PUT /v1/config/records/NAME swapping the region order: every change
moves an answer), and after each 201 ask the changed name over DNS at once:
the API answers once the change is served on this node, so that answer
must be the new pair exactly ("stale" otherwise). A checker process asks
names being changed, --check-rate a second, and requires one of the
record's two pairs ("mixed" otherwise: one address of each region, none, or another).
dnsperf sends --qps queries a second meanwhile (half policy names, half
static names); its lost queries and any rcode but NOERROR count as failed.

Rounds are fresh starts of gtmd, --baseline interleaved when given.
Prints, per build, the median of the rounds [min-max].

  /usr/bin/python3 contrib/bench/sustain_bench.py --gtmd build/gtmd \\
      --records 100000 --endpoints 10000 --static 1000000 --clients 16 \\
      --seconds 20 --qps 50000 --rounds 3
"""
import argparse
import http.client
import json
import multiprocessing
import os
import random
import re
import shutil
import signal
import socket
import statistics
import struct
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import config_bench  # noqa: E402  (TOKEN, rss_mb, cpu_s, pct, log)
import soak  # noqa: E402  (question, parse_reply)


def pair(k, region):
    """The two addresses of pool k in region 'a' or 'b'."""
    base = "10.%d.%d." % (k // 250, k % 250)
    return frozenset([base + ("1" if region == "a" else "3"),
                      base + ("2" if region == "a" else "4")])


def write_estate(d, a):
    """gtmd.json, its zones and token, dnsperf's query file; the pool of
    each record."""
    os.makedirs(d)
    with open(os.path.join(d, "bench.test.zone"), "w") as f:
        f.write("$ORIGIN bench.test.\n$TTL 300\n@ SOA ns1 h 1 3600 600 86400 60\n"
                "@ NS ns1\nns1 A 192.0.2.53\n")
    tok = os.path.join(d, "operate.token")
    with open(tok, "w") as f:
        f.write(config_bench.TOKEN + "\n")
    os.chmod(tok, 0o600)
    npools = max(1, a.endpoints // 4)
    pools = {"p%d" % k: {"endpoints": [
        {"name": n, "address": sorted(pair(k, n[0]))[int(n[1]) - 1], "region": n[0]}
        for n in ("a1", "a2", "b1", "b2")]} for k in range(npools)}
    recs = {"r%d.bench.test." % i: {"pool": "p%d" % (i % npools), "policy": "failover",
                                     "regions": ["a", "b"], "ttl": 30}
            for i in range(a.records)}
    zones = [{"origin": "bench.test.", "file": "bench.test.zone"}]
    if a.static:
        with open(os.path.join(d, "big.test.zone"), "w") as f:
            f.write("$ORIGIN big.test.\n$TTL 300\n@ SOA ns1 h 1 3600 600 86400 60\n"
                    "@ NS ns1\nns1 A 192.0.2.53\n")
            for i in range(a.static):
                f.write("s%d A 10.%d.%d.%d\n" % (i, 100 + i // 65536, (i // 256) % 256,
                                                 i % 256))
        zones.append({"origin": "big.test.", "file": "big.test.zone"})
    conf = {"listen": ["127.0.0.1:%d" % a.port], "workers": 1, "zones": zones,
            "admin": {"listen": "127.0.0.1:%d" % (a.port + 1),
                      "operate_token_file": "operate.token",
                      "read_token_file": "operate.token"},
            "config_api": {"history_dir": "history", "keep": 5},
            "regions": {"a": {}, "b": {}}, "pools": pools, "records": recs}
    with open(os.path.join(d, "gtmd.json"), "w") as f:
        json.dump(conf, f)
    rng = random.Random(7)
    with open(os.path.join(d, "queries.txt"), "w") as f:
        for _ in range(100000):
            f.write("r%d.bench.test. A\n" % rng.randrange(a.records))
            if a.static:
                f.write("s%d.big.test. A\n" % rng.randrange(a.static))
    return os.path.join(d, "gtmd.json"), npools


class Asker:
    """A UDP socket asking A questions, with soak.py's small wire parser
    (dnspython's per-query cost would set the checker's pace)."""

    def __init__(self, port):
        self.port = port
        self.s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.s.settimeout(1.0)
        self.qid = random.randrange(65536)

    def ask(self, name):
        """The set of A addresses answered, or None (no answer in 1 s,
        or an rcode but NOERROR)."""
        self.qid = (self.qid + 1) & 0xFFFF
        q = struct.pack(">HHHHHH", self.qid, 0x0100, 1, 0, 0, 0) + soak.question(name)
        self.s.sendto(q, ("127.0.0.1", self.port))
        deadline = time.monotonic() + 1.0
        while time.monotonic() < deadline:
            try:
                r = soak.parse_reply(self.s.recv(4096))
            except socket.timeout:
                return None
            if r and r[0] == self.qid:
                return frozenset(r[4]) if r[1] == 0 else None
        return None


def put_body(pool, regions):
    return json.dumps({"pool": pool, "policy": "failover", "regions": regions, "ttl": 30})


def put(port, name, pool, regions):
    """One PUT on a connection of its own (--new-connection)."""
    c = http.client.HTTPConnection("127.0.0.1", port + 1, timeout=60)
    c.request("PUT", "/v1/config/records/" + name, body=put_body(pool, regions),
              headers={"Authorization": "Bearer " + config_bench.TOKEN,
                       "Content-Type": "application/json"})
    r = c.getresponse()
    r.read()
    c.close()
    return r.status


class Putter:
    """PUTs over one keep-alive connection, as an API client that makes
    many changes does (a requests.Session, a Terraform provider), read by
    a small HTTP/1.1 reader. With a connection and http.client's parsing
    per change, the 16 client processes took 0.67 ms of CPU a change
    beside gtmd's 0.9 (queries included) on a 2-core machine: at 620
    changes a second the clients, not gtmd, were the limit (issue #55,
    thirtieth session). A connection the server closed is opened again."""

    def __init__(self, port):
        self.port = port
        self.s = None
        self.buf = b""

    def _connect(self):
        self.s = socket.create_connection(("127.0.0.1", self.port + 1), timeout=60)
        self.s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.buf = b""

    def _fill(self):
        more = self.s.recv(65536)
        if not more:
            raise ConnectionError("the server closed the connection")
        self.buf += more

    def _reply(self):
        """The status of the reply read off the connection, and whether
        the server closes it after this reply."""
        while b"\r\n\r\n" not in self.buf:
            self._fill()
        head, self.buf = self.buf.split(b"\r\n\r\n", 1)
        lines = head.decode("latin-1").split("\r\n")
        status = int(lines[0].split(" ", 2)[1])
        length, close = 0, lines[0].startswith("HTTP/1.0")
        for h in lines[1:]:
            k, _, v = h.partition(":")
            k = k.strip().lower()
            if k == "content-length":
                length = int(v)
            elif k == "connection":
                close = v.strip().lower() == "close"
        while len(self.buf) < length:
            self._fill()
        self.buf = self.buf[length:]
        return status, close

    def put(self, name, pool, regions):
        body = put_body(pool, regions).encode()
        req = ("PUT /v1/config/records/%s HTTP/1.1\r\nHost: 127.0.0.1\r\n"
               "Authorization: Bearer %s\r\nContent-Type: application/json\r\n"
               "Content-Length: %d\r\n\r\n" % (name, config_bench.TOKEN, len(body))).encode() + body
        for attempt in (0, 1):
            fresh = self.s is None
            if fresh:
                self._connect()
            try:
                self.s.sendall(req)
                status, close = self._reply()
            except (OSError, ValueError):
                self.s.close()
                self.s = None
                # Again only on a kept connection that the server had
                # closed before the request (idle); a fresh one's failure
                # is the round's.
                if fresh or attempt:
                    raise
                continue
            if close:
                self.s.close()
                self.s = None
            return status


def client_names(c, a):
    """Client c's records, in the order it changes them."""
    mine = list(range(c, a.records, a.clients))
    random.Random(c).shuffle(mine)
    return mine


def client(c, a, npools, stop, q):
    """Client c (a process of its own): changes its records one at a time
    until stop, each read back over DNS after its 201; puts its counts and
    latencies on q."""
    st = {"api": [], "refused": 0, "stale": 0, "mixed": 0}
    ask = Asker(a.port)
    putter = None if a.new_connection else Putter(a.port)
    mine = client_names(c, a)
    region = {}  # name -> first region now
    m = 0
    while time.monotonic() < stop and m < 10 ** 7:
        i = mine[m % len(mine)]
        m += 1
        name, k = "r%d.bench.test." % i, i % npools
        new = "b" if region.get(name, "a") == "a" else "a"
        t = time.monotonic()
        regions = [new, "b" if new == "a" else "a"]
        if putter:
            code = putter.put(name, "p%d" % k, regions)
        else:
            code = put(a.port, name, "p%d" % k, regions)
        dt = time.monotonic() - t
        if code != 201:
            st["refused"] += 1
            continue
        got = ask.ask(name)
        st["api"].append(dt)
        region[name] = new
        if got != pair(k, new):
            st["stale" if got in (pair(k, "a"), pair(k, "b")) else "mixed"] += 1
            config_bench.log("after its 201 %s answered %s" % (name, sorted(got or [])))
    st["clients_cpu"] = time.process_time()
    q.put(st)


def checker(a, npools, stop, q):
    """Asks names the clients change first, --check-rate a second, until
    stop; each answer must be one of the record's two pairs."""
    st = {"checked": 0, "unanswered": 0, "mixed": 0}
    ask = Asker(a.port)
    rng = random.Random(1)
    names = [n for c in range(a.clients) for n in client_names(c, a)[:50]]
    t0 = time.monotonic()
    while time.monotonic() < stop:
        ahead = t0 + st["checked"] / a.check_rate - time.monotonic()
        if ahead > 0:
            time.sleep(ahead)
        i = rng.choice(names)
        k = i % npools
        name = "r%d.bench.test." % i
        got = ask.ask(name)
        st["checked"] += 1
        if got is None:
            st["unanswered"] += 1
        elif got not in (pair(k, "a"), pair(k, "b")):
            st["mixed"] += 1
            config_bench.log("%s answered %s" % (name, sorted(got)))
    q.put(st)


def drive(a, npools):
    """--clients processes changing records and reading each change back, a
    checker process asking changed names; their counts and latencies.
    Processes, not threads: 16 client threads shared one interpreter lock,
    and at 1,000,000 names the clients' own Python, not gtmd, set the pace
    (1,642 changes/s with 16 threads, 2,494 with 32, gtmd's p50 4-7 ms)."""
    ctx = multiprocessing.get_context("fork")
    q = ctx.Queue()
    stop = time.monotonic() + a.seconds
    ps = [ctx.Process(target=client, args=(c, a, npools, stop, q)) for c in range(a.clients)]
    ps.append(ctx.Process(target=checker, args=(a, npools, stop, q)))
    t0 = time.monotonic()
    for p in ps:
        p.start()
    st = {"api": [], "refused": 0, "stale": 0, "mixed": 0, "checked": 0, "unanswered": 0,
          "clients_cpu": 0.0}
    for _ in ps:
        part = q.get(timeout=a.seconds + 120)
        for key, v in part.items():
            st[key] = st[key] + v
    for p in ps:
        p.join(30)
    st["took"] = time.monotonic() - t0
    return st


def one_round(binary, a, rnd):
    d = os.path.join(a.workdir, "sustain-%d" % rnd)
    shutil.rmtree(d, ignore_errors=True)
    conf, npools = write_estate(d, a)
    logf = open(os.path.join(d, "gtmd.log"), "ab")
    t0 = time.monotonic()
    p = subprocess.Popen([binary, "-c", conf], stdout=logf, stderr=logf)
    perf = None
    try:
        ask = Asker(a.port)
        while ask.ask("r0.bench.test.") is None:
            # 1,000,000 records beside a 1,000,000-record zone start in
            # about 20 s on a quiet machine: 600 s on a loaded one.
            if p.poll() is not None or time.monotonic() - t0 > 600:
                raise SystemExit("gtmd did not start: see %s/gtmd.log" % d)
            time.sleep(0.2)
        up = time.monotonic() - t0
        time.sleep(2)
        rss0 = config_bench.rss_mb(p.pid)
        perf = subprocess.Popen(
            ["dnsperf", "-s", "127.0.0.1", "-p", str(a.port), "-d",
             os.path.join(d, "queries.txt"), "-Q", str(a.qps), "-l", str(a.seconds + 4),
             "-c", "4", "-q", "500", "-t", "2"],
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        time.sleep(2)
        cpu0, th0 = config_bench.cpu_s(p.pid), config_bench.thread_cpu_s(p.pid)
        st = drive(a, npools)
        n = max(1, len(st["api"]))
        st["cpu_per_change_ms"] = (config_bench.cpu_s(p.pid) - cpu0) * 1e3 / n
        # The store thread's and the admin thread's share: what a change
        # costs apart from the queries answered meanwhile (issue #55).
        th1 = config_bench.thread_cpu_s(p.pid)
        for name in ("gtmd-store", "gtmd-admin"):
            st[name] = (th1.get(name, 0.0) - th0.get(name, 0.0)) * 1e3 / n
        st["clients_cpu_per_change_ms"] = st["clients_cpu"] * 1e3 / max(1, len(st["api"]))
        out = perf.communicate(timeout=a.seconds + 60)[0]
        perf = None
        st["rss0"], st["rss1"], st["up"] = rss0, config_bench.rss_mb(p.pid), up
        st["load"] = os.getloadavg()[0]
        st.update(dnsperf_figures(out))
        return st
    finally:
        if perf:
            perf.kill()
        p.send_signal(signal.SIGTERM)
        # A stop writes every version still owed first: at 1,000,000
        # records each whole-document write took 14-40 s at load 22, and
        # the stop 69 s (a 60 s wait lost a round's figures).
        p.wait(timeout=600)
        if not a.keep:
            shutil.rmtree(d, ignore_errors=True)


def dnsperf_figures(out):
    f = {}
    for key, pat in (("sent", r"Queries sent:\s+(\d+)"), ("completed", r"Queries completed:\s+(\d+)"),
                     ("lost", r"Queries lost:\s+(\d+)"), ("qps", r"Queries per second:\s+([\d.]+)")):
        m = re.search(pat, out)
        f[key] = float(m.group(1)) if m else float("nan")
    m = re.search(r"Response codes:\s+(.*)", out)
    codes = m.group(1) if m else ""
    f["not_noerror"] = sum(int(n) for c, n in re.findall(r"(\w+) (\d+)", codes) if c != "NOERROR")
    return f


def summary(rows):
    def med(key, scale=1.0, fmt="%.1f"):
        xs = [r[key] * scale for r in rows]
        return (fmt + " [" + fmt + "-" + fmt + "]") % (statistics.median(xs), min(xs), max(xs))
    for r in rows:
        r["rate"] = len(r["api"]) / r["took"]
        r["p50"] = config_bench.pct(r["api"], 50)
        r["p99"] = config_bench.pct(r["api"], 99)
        r["max"] = max(r["api"]) if r["api"] else float("nan")
        r["over250"] = sum(1 for x in r["api"] if x > 0.25)
    print("  single changes/s %s; API answer (served on this node) p50 %s ms, p99 %s ms, "
          "slowest %s ms; answers over 250 ms %s" %
          (med("rate"), med("p50", 1e3), med("p99", 1e3), med("max", 1e3), med("over250")))
    print("  gtmd CPU per change %s ms (queries answered meanwhile included); the clients' %s ms; "
          "RSS %s MB before, %s MB after" %
          (med("cpu_per_change_ms"), med("clients_cpu_per_change_ms"), med("rss0"), med("rss1")))
    print("  of it, per change: the store thread %s ms, the admin thread %s ms" %
          (med("gtmd-store", 1.0, "%.3f"), med("gtmd-admin", 1.0, "%.3f")))
    print("  dnsperf: %s queries/s answered; lost %s; not NOERROR %s; sent %s" %
          (med("qps"), med("lost"), med("not_noerror"), med("sent")))
    print("  answers: stale after the 201 %s, mixed %s, of %s changes read back and %s checks "
          "(%s unanswered); refused %s" %
          (sum(r["stale"] for r in rows), sum(r["mixed"] for r in rows),
           sum(len(r["api"]) for r in rows), sum(r["checked"] for r in rows),
           sum(r["unanswered"] for r in rows), sum(r["refused"] for r in rows)))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--gtmd", default=os.path.join(config_bench.TOP, "build", "gtmd"))
    ap.add_argument("--baseline", help="another gtmd binary, in interleaved rounds")
    ap.add_argument("--records", type=int, default=100000)
    ap.add_argument("--endpoints", type=int, default=10000)
    ap.add_argument("--static", type=int, default=1000000)
    ap.add_argument("--clients", type=int, default=16)
    ap.add_argument("--check-rate", type=float, default=8000,
                    help="the checker's questions a second (a process of its own)")
    ap.add_argument("--seconds", type=float, default=20)
    ap.add_argument("--qps", type=int, default=50000)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--port", type=int, default=15370)
    ap.add_argument("--workdir", default="/tmp/sustain_bench")
    ap.add_argument("--keep", action="store_true", help="keep each round's directory")
    ap.add_argument("--new-connection", action="store_true",
                    help="each PUT on a connection of its own, read by http.client (the "
                         "clients before the thirtieth session; keep-alive otherwise)")
    a = ap.parse_args()
    builds = [("gtmd", a.gtmd)] + ([("baseline", a.baseline)] if a.baseline else [])
    rows = {k: [] for k, _ in builds}
    for rnd in range(a.rounds):
        for k, b in (builds if rnd % 2 == 0 else builds[::-1]):
            config_bench.log("round %d: %s" % (rnd + 1, k))
            r = one_round(b, a, rnd)
            config_bench.log("  %.0f changes/s, p99 %.1f ms, lost %d, stale %d, mixed %d, RSS %.0f "
                             "-> %.0f MB, up in %.1f s, load average %.1f"
                             % (len(r["api"]) / r["took"], config_bench.pct(r["api"], 99) * 1e3,
                                r["lost"], r["stale"], r["mixed"], r["rss0"], r["rss1"], r["up"],
                                r["load"]))
            rows[k].append(r)
    print("sustained single changes: %d policy records over %d endpoints, static zone of %d, "
          "%d clients (%s) for %.0f s, dnsperf -Q %d; median of %d rounds [min-max]" %
          (a.records, a.endpoints, a.static, a.clients,
           "a connection a change" if a.new_connection else "keep-alive", a.seconds, a.qps, a.rounds))
    for k, b in builds:
        print("%s (%s):" % (k, b))
        summary(rows[k])


if __name__ == "__main__":
    main()

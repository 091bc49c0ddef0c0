#!/usr/bin/python3
"""A fleet the size of a real deployment (issue #39, doc/fleet.md
"Figures"), on this machine's loopback: --nodes gtmd nodes (workers 1) of
which --publishers probe and publish (the others are watchers,
"publish": false), a --etcd member etcd (Debian's etcd-server, started by
hand, data in a temp dir, periodic auto-compaction, --metrics extensive),
--endpoints endpoints in --regions regions served by one process
(region_sink.c: one socket per address 127.(10+r).x.y), in --pools pools,
and --names policy names (failover, each name's first region rotating).

Prints, as JSON lines:
  steady     over --steady seconds with nothing changing: etcd puts/s,
             transactions/s and watch events/s (etcd's /metrics), each
             node's RSS, and the publishers' CPU per endpoint probed
  kill       --rounds rounds, each killing one whole region (every round
             the next region) then reviving it: seconds from the kill
             until every node answers each of --sample names (whose first
             region it is) from another region, p50/p99/max over
             nodes x names; the etcd transactions and puts meanwhile; the
             gtmd writes; etcd's Txn latency (grpc_server_handling_seconds,
             p50/p99 of the window); the same for the revival. With
             --fast-interval F the check has "fast_interval": F; with
             --compare too, each round kills twice, once with F and once
             without (the order alternating round by round), the
             publishers reloaded in between, and the summary is per
             setting
  churn      with --churn SECONDS: --churn-rate endpoints flipped a
             second, then etcd's database size (total and in use) with
             auto-compaction (--compaction, etcd's periodic retention);
             sampled at the start, every --churn-sample seconds and at
             the end

A benchmark, never a test: it asserts nothing but that the fleet
converges before it measures. Every loop is bounded. Usage:
  GTMD=build/gtmd /usr/bin/python3 contrib/bench/fleet_scale.py [--nodes 20]
      [--publishers 3] [--endpoints 10000] [--rounds 3] [--churn 0]
      [--fast-interval 0.2 [--compare]] [--prober-nice -10] [--etcd-nice -10]
"""
import argparse
import datetime
import json
import os
import random
import resource
import select
import shutil
import signal
import socket
import statistics
import struct
import subprocess
import sys
import tempfile
import time
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "..", "tests", "integration"))

from backends import free_port_on, poll  # noqa: E402
from fleetlib import EtcdCluster, Node, fleet_config, need_etcd  # noqa: E402
from conftest import free_port  # noqa: E402


def pct(xs, p):
    xs = sorted(xs)
    return xs[min(len(xs) - 1, max(0, int(round(p / 100.0 * len(xs) + 0.5)) - 1))]


def addr(r, i):
    return "127.%d.%d.%d" % (10 + r, i // 250, 1 + i % 250)


class Sink:
    """region_sink.c, compiled here, with the descriptor limit raised."""

    def __init__(self, port, regions, per):
        exe = os.path.join(tempfile.gettempdir(), "gtmd-region-sink")
        subprocess.run(["cc", "-O2", "-o", exe, os.path.join(HERE, "region_sink.c")],
                       check=True, timeout=120)
        self.proc = subprocess.Popen([exe, str(port), str(regions), str(per)],
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
                                     bufsize=1)
        line = self.proc.stdout.readline()
        if "ready" not in line:
            raise RuntimeError("region_sink did not start: %r" % line)

    def cmd(self, c):
        self.proc.stdin.write(c + "\n")
        return self.proc.stdout.readline().strip()

    def close(self):
        self.proc.stdin.close()
        self.proc.wait(timeout=10)


def metrics(url):
    """{name{labels}: value} of one etcd member's /metrics."""
    out = {}
    try:
        with urllib.request.urlopen(url + "/metrics", timeout=5) as r:
            for line in r.read().decode().splitlines():
                if line and not line.startswith("#"):
                    k, _, v = line.rpartition(" ")
                    try:
                        out[k] = float(v)
                    except ValueError:
                        pass
    except OSError:
        pass
    return out


def msum(ms, prefix):
    return sum(v for m in ms for k, v in m.items() if k == prefix or k.startswith(prefix + "{"))


def cluster_metrics(cluster):
    return [metrics(u) for u in cluster.urls]


def txn_latency(before, after):
    """p50/p99 (upper bucket bounds, s) of etcd's Txn handling between two
    scrapes of every member (grpc_server_handling_seconds, --metrics
    extensive)."""
    name = 'grpc_server_handling_seconds_bucket{grpc_method="Txn",grpc_service="etcdserverpb.KV",grpc_type="unary",le="'
    buckets = {}
    for b, a in zip(before, after):
        for k, v in a.items():
            if k.startswith(name):
                le = k[len(name):].split('"')[0]
                buckets[le] = buckets.get(le, 0) + v - b.get(k, 0)
    les = sorted(((float("inf") if le == "+Inf" else float(le)), n) for le, n in buckets.items())
    total = les[-1][1] if les else 0
    if not total:
        return None
    res = {"txns": int(total)}
    for p in (50, 99):
        res["p%d_s" % p] = next(le for le, n in les if n >= total * p / 100.0)
    return res


def fleet_writes(nodes):
    return sum(n.metric("gtmd_fleet_etcd_writes_total") or 0 for n in nodes)


def dns_query_wire(name, qid=0):
    """A query for name's A records, in wire form (RD clear)."""
    wire = b"".join(bytes([len(label)]) + label.encode() for label in name.rstrip(".").split("."))
    return struct.pack(">HHHHHH", qid, 0, 1, 0, 0, 0) + wire + b"\0" + struct.pack(">HH", 1, 1)


def dns_answer_parse(data):
    """(question name, [A addresses]) of a response; None when it does not
    parse. The asker reads thousands of answers a second on a loaded
    machine: a full DNS library is too slow for that here."""
    try:
        qd, an = struct.unpack(">HH", data[4:8])
        off, labels = 12, []
        while data[off]:
            labels.append(data[off + 1:off + 1 + data[off]].decode())
            off += 1 + data[off]
        off += 5  # the root label, qtype, qclass
        addrs = []
        for _ in range(an if qd == 1 else 0):
            while True:  # the owner name: labels, ending in a pointer or the root
                if data[off] & 0xC0 == 0xC0:
                    off += 2
                    break
                if data[off] == 0:
                    off += 1
                    break
                off += 1 + data[off]
            rtype, _, _, rdlen = struct.unpack(">HHIH", data[off:off + 10])
            off += 10
            if rtype == 1 and rdlen == 4:
                addrs.append(socket.inet_ntoa(data[off:off + 4]))
            off += rdlen
        return ".".join(labels) + ".", addrs
    except (IndexError, struct.error, UnicodeDecodeError):
        return None


class Asker:
    """UDP queries to every node for every name, one socket per node, a
    response matched by its node (socket) and question name: no query id
    to wrap or collide however many are outstanding. A pair is asked again
    once answered, or once its query is RESEND_S old (a node on a loaded
    machine may take longer than a round to answer); an answer counts when
    it arrives."""

    RESEND_S = 1.0

    def __init__(self):
        self.socks = {}  # node port -> socket
        self.wire = {}  # name -> query
        self.last = {}  # pair -> monotonic time of its newest unanswered query
        self.stats = {}

    def sock(self, port):
        if port not in self.socks:
            s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            s.setblocking(False)
            s.connect(("127.0.0.1", port))
            self.socks[port] = s
        return self.socks[port]

    def round(self, pairs, wait=0.15):
        """{(node index, name): [addresses]} for the pairs that answered."""
        now = time.monotonic()
        index = {}
        waiting = set()
        for (i, port, name) in pairs:
            index[port] = i
            if now - self.last.get((i, name), -1e9) < self.RESEND_S:
                continue
            if name not in self.wire:
                self.wire[name] = dns_query_wire(name)
            try:
                self.sock(port).send(self.wire[name])
            except OSError:
                continue
            self.last[(i, name)] = now
            waiting.add((i, name))
        got = {}
        by_fd = {self.sock(port).fileno(): (port, i) for port, i in index.items()}
        end = time.monotonic() + wait
        while waiting and time.monotonic() < end:
            r, _, _ = select.select([self.socks[p] for p in index], [], [],
                                    max(0, end - time.monotonic()))
            for s in r:
                port, i = by_fd[s.fileno()]
                while True:
                    try:
                        data = s.recv(65535)
                    except OSError:
                        break
                    a = dns_answer_parse(data)
                    if a is None:
                        continue
                    pair = (i, a[0])
                    got[pair] = a[1]
                    waiting.discard(pair)
                    self.last.pop(pair, None)  # answered: ask again next round
        return got


def moved(addrs, region):
    return bool(addrs) and not any(a.startswith("127.%d." % (10 + region)) for a in addrs)


def back(addrs, region):
    return bool(addrs) and all(a.startswith("127.%d." % (10 + region)) for a in addrs)


def wait_answers(asker, nodes, names, ok, limit):
    """Seconds from now until ok(addresses) for every node and name, per
    pair (None: not within limit)."""
    pairs = [(i, n.port, name) for i, n in enumerate(nodes) for name in names]
    t0 = time.monotonic()
    asker.last.clear()
    seen = {}
    rounds, gap, prev = 0, 0.0, t0
    while len(seen) < len(pairs) and time.monotonic() - t0 < limit:
        todo = [p for p in pairs if (p[0], p[2]) not in seen]
        got = asker.round(todo)
        now = time.monotonic() - t0
        rounds += 1
        gap, prev = max(gap, now + t0 - prev), now + t0
        for k, a in got.items():
            if ok(a):
                seen[k] = now
        time.sleep(0.01)
    # How finely the answers were watched: a round's length bounds the
    # error of each time measured (a starved asker would show here).
    asker.stats = {"rounds": rounds, "longest_round_s": round(gap, 3)}
    return [seen.get((p[0], p[2])) for p in pairs]


def node_config(a, cluster, i, port, publishing):
    # Probes leave from 127.0.0.(20+i): their ephemeral ports then never
    # take a port picked for a listener on 127.0.0.1.
    fn = fleet_config(cluster.urls, "n%02d" % i, "127.0.0.%d" % (20 + i), port,
                      prefix="/gtmd/scale/",
                      stale_after=10, publish=publishing, read_page=a.read_page)

    def make(workdir, dns_port):
        c = fn(workdir, dns_port)
        regions = ["r%d" % r for r in range(a.regions)]
        c["regions"] = {r: {} for r in regions}
        c["checks"] = {"tcp": {"type": "tcp", "port": port, "interval": a.interval,
                               "timeout": a.timeout, "rise": a.rise, "fall": a.fall}}
        if a.fast_interval:
            c["checks"]["tcp"]["fast_interval"] = a.fast_interval
        per = a.endpoints // a.regions // a.pools  # per region and pool
        c["pools"] = {"p%03d" % p: {"check": "tcp", "endpoints": [
            {"name": "r%de%04d" % (r, p * per + k), "address": addr(r, p * per + k),
             "region": "r%d" % r} for r in range(a.regions) for k in range(per)]}
            for p in range(a.pools)}
        c["records"] = {"n%04d.example.com." % k: {
            "pool": "p%03d" % (k % a.pools), "ttl": 10, "policy": "failover",
            "regions": regions[k % a.regions:] + regions[:k % a.regions]}
            for k in range(a.names)}
        return c
    return make


def start_nodes(a, cluster, port, nodes):
    """Starts the nodes into nodes (the caller's, so that it stops those
    started when one fails)."""
    for i in range(1, a.nodes + 1):
        workdir = tempfile.mkdtemp(prefix="gtmd-scale-")
        dns_port = free_port()
        cfg = node_config(a, cluster, i, port, i <= a.publishers)(workdir, dns_port)
        g = Node(workdir, cfg, dns_port)
        nodes.append(g)
        for attempt in range(3):  # a port picked free may be taken meanwhile
            try:
                g.start()
                break
            except RuntimeError as e:
                if "already in use" not in str(e) or attempt == 2:
                    raise
                g.config["admin"]["listen"] = "127.0.0.1:%d" % free_port()
                g.port = free_port()
                g.config["listen"] = ["127.0.0.1:%d" % g.port]


def renice_probers(nodes, nice):
    """Sets the nice value of each node's prober thread (named gtmd-prober):
    the publishers' probes ahead of everything else on this machine, as
    if they had CPUs of their own. Returns the threads changed."""
    done = 0
    for n in nodes:
        task = "/proc/%d/task" % n.proc.pid
        for tid in os.listdir(task):
            try:
                with open(os.path.join(task, tid, "comm")) as f:
                    if f.read().strip() != "gtmd-prober":
                        continue
                os.setpriority(os.PRIO_PROCESS, int(tid), nice)
                done += 1
            except OSError:
                pass  # the thread ended meanwhile
    return done


def renice_etcd(cluster, nice):
    """Sets the nice value of every thread of each etcd member: etcd ahead
    of the 20 nodes on this machine, as on machines of its own (etcd's
    operations guide asks for dedicated machines, or at least CPU and
    disk priority: `ionice`/`nice` for the members). Returns the threads
    changed."""
    done = 0
    for m in cluster.members:
        if not m.proc or m.proc.poll() is not None:
            continue
        for tid in os.listdir("/proc/%d/task" % m.proc.pid):
            try:
                os.setpriority(os.PRIO_PROCESS, int(tid), nice)
                done += 1
            except OSError:
                pass  # the thread ended meanwhile
    return done


def rss_mb(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024.0
    return None


def cpu_s(pid):
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def steady(a, cluster, nodes):
    m0, c0, t0 = cluster_metrics(cluster), [cpu_s(n.proc.pid) for n in nodes], time.monotonic()
    time.sleep(a.steady)
    m1, c1, dt = cluster_metrics(cluster), [cpu_s(n.proc.pid) for n in nodes], \
        time.monotonic() - t0
    one = lambda name: (msum(m1[:1], name) - msum(m0[:1], name)) / dt  # noqa: E731
    cpu = [(y - x) / dt for x, y in zip(c0, c1)]
    pub = cpu[:a.publishers]
    return {
        "seconds": round(dt, 1),
        "etcd_puts_per_s": round(one("etcd_mvcc_put_total"), 2),
        "etcd_txns_per_s": round(one("etcd_mvcc_txn_total"), 2),
        "etcd_deletes_per_s": round(one("etcd_mvcc_delete_total"), 2),
        "watch_events_per_s": round((msum(m1, "etcd_debugging_mvcc_events_total") -
                                     msum(m0, "etcd_debugging_mvcc_events_total")) / dt, 1),
        "rss_mb_publishers": [round(rss_mb(n.proc.pid), 1) for n in nodes[:a.publishers]],
        "rss_mb_watchers_median": round(statistics.median(
            [rss_mb(n.proc.pid) for n in nodes[a.publishers:]] or [0]), 1),
        "rss_mb_watchers_max": round(max([rss_mb(n.proc.pid)
                                          for n in nodes[a.publishers:]] or [0]), 1),
        "cpu_percent_publishers": [round(100 * c, 1) for c in pub],
        "cpu_percent_watchers_median": round(100 * statistics.median(
            cpu[a.publishers:] or [0]), 2),
        "probe_cpu_us_per_endpoint_s": round(1e6 * statistics.median(pub) / a.endpoints, 2),
        "load_average": os.getloadavg(),
    }


def detection(a, nodes, since, region, down):
    """From the publishers' logs (event=health_change): per publisher,
    [first, last, count] seconds after since (wall clock) of its own
    probes' changes of the region's endpoints, and per pool the moment a
    quorum of publishers (a majority) had seen every endpoint of the
    region in it change: where the fleet's part begins."""
    pat = "event=health_change endpoint=endpoint:p"
    want = "to=down" if down else "to=up"
    spans, seen = [], {}
    for i, n in enumerate(nodes[:a.publishers]):
        ts = []
        with open(n.log_path, errors="replace") as f:
            for line in f:
                if pat not in line or want not in line or "/r%de" % region not in line:
                    continue
                t = log_time(line) - since
                if t < -0.5:
                    continue
                ts.append(t)
                ep = line.split("endpoint=endpoint:", 1)[1].split()[0]
                seen.setdefault(ep, {})[i] = t  # the last change in the window
        spans.append([round(min(ts), 2), round(max(ts), 2), len(ts)] if ts else None)
    need = a.publishers // 2 + 1
    quorum = {}
    for ep, by in seen.items():
        if len(by) >= need:
            t = sorted(by.values())[need - 1]
            pool = ep.split("/")[0]
            quorum[pool] = max(quorum.get(pool, 0), t)
    return spans, quorum


def log_time(line):
    return datetime.datetime.strptime(line[:23], "%Y-%m-%dT%H:%M:%S.%f").replace(
        tzinfo=datetime.timezone.utc).timestamp()


def verdicts(nodes, since, region, down, pools):
    """From every node's log (event=fleet_verdict): per node, for each of
    pools, the seconds after since (wall clock) of its last verdict change
    of the region's endpoints in the pool: when that node's fleet view had
    the whole pool's part of the region changed."""
    want = "to=down" if down else "to=up"
    out = []
    for n in nodes:
        last = {}
        with open(n.log_path, errors="replace") as f:
            for line in f:
                if "event=fleet_verdict endpoint=endpoint:p" not in line or want not in line:
                    continue
                ep = line.split("endpoint=endpoint:", 1)[1].split()[0]
                pool, _, name = ep.partition("/")
                if pool not in pools or not name.startswith("r%de" % region):
                    continue
                t = log_time(line) - since
                if t >= -0.5:
                    last[pool] = max(last.get(pool, t), t)
        out.append(last)
    return out


def flip(a, cluster, nodes, sink, asker, region, down):
    names = ["n%04d.example.com." % k for k in range(a.names) if k % a.regions == region]
    step = max(1, len(names) // a.sample)
    names = names[::step][:a.sample]
    m0, w0 = cluster_metrics(cluster), fleet_writes(nodes[:a.publishers])
    since = time.time()
    sink.cmd(("down %d" if down else "up %d") % region)
    times = wait_answers(asker, nodes, names,
                         (lambda x: moved(x, region)) if down else (lambda x: back(x, region)),
                         a.limit)
    time.sleep(2.0)  # the publications that follow the last answer
    m1, w1 = cluster_metrics(cluster), fleet_writes(nodes[:a.publishers])
    ok = [t for t in times if t is not None]
    one = lambda name: msum(m1[:1], name) - msum(m0[:1], name)  # noqa: E731
    spans, quorum = detection(a, nodes, since, region, down)
    # The fleet's part: from the moment a majority of publishers' probes
    # had seen the name's region change (its pool's last endpoint) to the
    # node answering.
    pairs = [(n, name) for n in range(len(nodes)) for name in names]
    pool_of = lambda name: "p%03d" % (int(name[1:5]) % a.pools)  # noqa: E731
    after = [t - quorum[pool_of(name)] for (n, name), t in zip(pairs, times)
             if t is not None and pool_of(name) in quorum]
    # The stages on each node: the quorum of the publishers' probes ->
    # that node's verdicts (publication, etcd, the watch, the verdict
    # work) -> its answer.
    seen = verdicts(nodes, since, region, down, {pool_of(name) for name in names})
    v_after_q = [seen[n][pool_of(name)] - quorum[pool_of(name)] for n, name in pairs
                 if pool_of(name) in seen[n] and pool_of(name) in quorum]
    served_after_v = [t - seen[n][pool_of(name)] for (n, name), t in zip(pairs, times)
                      if t is not None and pool_of(name) in seen[n]]
    stage = lambda xs: None if not xs else {  # noqa: E731
        "p50_s": round(statistics.median(xs), 3), "p99_s": round(pct(xs, 99), 3),
        "max_s": round(max(xs), 3)}
    q = list(quorum.values())
    return {
        "region": region, "down": down, "pairs": len(times), "missing": len(times) - len(ok),
        "p50_s": round(statistics.median(ok), 3) if ok else None,
        "p99_s": round(pct(ok, 99), 3) if ok else None,
        "max_s": round(max(ok), 3) if ok else None,
        "etcd_txns": int(one("etcd_mvcc_txn_total")),
        "etcd_puts": int(one("etcd_mvcc_put_total")),
        "gtmd_publisher_writes": int(w1 - w0),
        "etcd_txn_latency": txn_latency(m0, m1),
        "publisher_probes_first_last_count": spans,
        "after_quorum_p50_s": round(statistics.median(after), 3) if after else None,
        "after_quorum_p99_s": round(pct(after, 99), 3) if after else None,
        "after_quorum_max_s": round(max(after), 3) if after else None,
        "stages": {"probes_quorum_after_kill": stage(q),
                   "verdict_after_quorum": stage(v_after_q),
                   "served_after_verdict": stage(served_after_v)},
        "t_kill": since,
        "asker": asker.stats,
        "load_average": os.getloadavg(),
    }


def set_fast(a, nodes, fast):
    """Reloads the publishers (the only nodes that probe) with the check's
    fast_interval set to fast (None: without it); returns once each one
    counted the reload."""
    RELOADS = 'gtmd_reloads_total{result="ok"}'
    for n in nodes[:a.publishers]:
        check = n.config["checks"]["tcp"]
        if check.get("fast_interval") == fast:
            continue
        if fast:
            check["fast_interval"] = fast
        else:
            check.pop("fast_interval", None)
        before = n.metric(RELOADS) or 0
        n.write_config()
        n.signal(signal.SIGHUP)
        ok, _ = poll(lambda n=n: (n.metric(RELOADS) or 0) > before, 60, 0.2)
        if not ok:
            raise RuntimeError("%s did not reload" % n.config["fleet"]["node"])
    time.sleep(5)  # the new plans run a while before the kill


def summary(rounds, kind):
    rs = [x[kind] for x in rounds if x[kind]["p99_s"] is not None]
    if not rs:
        return None
    return {f: [round(statistics.median([x[f] for x in rs]), 3),
                min(x[f] for x in rs), max(x[f] for x in rs)]
            for f in ("p50_s", "p99_s", "max_s", "after_quorum_p50_s",
                      "after_quorum_p99_s", "after_quorum_max_s", "etcd_txns",
                      "etcd_puts") if all(x[f] is not None for x in rs)}


def run_rounds(a, cluster, nodes, sink, asker, out):
    """--rounds kills and revivals; with --compare two a round, with and
    without --fast-interval, in alternating order."""
    settings = [a.fast_interval]
    if a.compare:
        settings = [a.fast_interval, None]
    out["rounds"] = []
    kill = 0
    for r in range(a.rounds):
        order = settings if r % 2 == 0 else settings[::-1]
        for fast in order:
            if a.compare:
                set_fast(a, nodes, fast)
            region = kill % a.regions
            kill += 1
            k = flip(a, cluster, nodes, sink, asker, region, True)
            k["fast_interval"] = fast
            print("kill:", json.dumps(k), flush=True)
            v = flip(a, cluster, nodes, sink, asker, region, False)
            v["fast_interval"] = fast
            print("revive:", json.dumps(v), flush=True)
            out["rounds"].append({"kill": k, "revive": v, "fast_interval": fast})
    for fast in settings:
        for kind in ("kill", "revive"):
            s = summary([x for x in out["rounds"] if x["fast_interval"] == fast], kind)
            if s:
                key = "%s_summary" % kind
                if a.compare:
                    key += "_fast_%g" % fast if fast else "_no_fast"
                out[key] = s
                print("%s, fast_interval %s, median [min, max] of rounds:" % (kind, fast),
                      json.dumps(s), flush=True)


def db_sample(ms, t, flips):
    """etcd's database at one moment of the churn: the file's size and the
    part in use (MB, per member), the keys and the current revision."""
    mb = lambda v: None if v is None else round(v / 1e6, 2)  # noqa: E731
    return {"t_s": round(t), "flips": flips,
            "db_mb": [mb(m.get("etcd_mvcc_db_total_size_in_bytes")) for m in ms],
            "in_use_mb": [mb(m.get("etcd_mvcc_db_total_size_in_use_in_bytes")) for m in ms],
            "keys": ms[0].get("etcd_debugging_mvcc_keys_total") if ms else None,
            "load_average": [round(x, 1) for x in os.getloadavg()]}


def churn(a, cluster, sink):
    per = a.endpoints // a.regions
    down = set()
    m0 = cluster_metrics(cluster)
    t0 = time.monotonic()
    n = 0
    samples = [db_sample(m0, 0, 0)]
    print("churn db:", json.dumps(samples[-1]), flush=True)
    while time.monotonic() - t0 < a.churn:
        if time.monotonic() - t0 >= len(samples) * a.churn_sample:
            samples.append(db_sample(cluster_metrics(cluster), time.monotonic() - t0, n))
            print("churn db:", json.dumps(samples[-1]), flush=True)
        for _ in range(a.churn_rate):
            e = (random.randrange(a.regions), random.randrange(per))
            sink.cmd(("up %d %d" if e in down else "down %d %d") % e)
            down.symmetric_difference_update({e})
            n += 1
        time.sleep(1.0)
    for e in down:
        sink.cmd("up %d %d" % e)
    samples.append(db_sample(cluster_metrics(cluster), time.monotonic() - t0, n))
    print("churn db:", json.dumps(samples[-1]), flush=True)
    time.sleep(a.compaction_wait)
    m1 = cluster_metrics(cluster)
    samples.append(db_sample(m1, time.monotonic() - t0, n))
    print("churn db:", json.dumps(samples[-1]), flush=True)
    return {"seconds": round(time.monotonic() - t0, 1), "flips": n,
            "compaction": a.compaction,
            "etcd_puts": int(msum(m1[:1], "etcd_mvcc_put_total") -
                             msum(m0[:1], "etcd_mvcc_put_total")),
            "db_bytes_before": [m.get("etcd_mvcc_db_total_size_in_bytes") for m in m0],
            "db_bytes_after": [m.get("etcd_mvcc_db_total_size_in_bytes") for m in m1],
            "db_in_use_bytes_after": [m.get("etcd_mvcc_db_total_size_in_use_in_bytes")
                                      for m in m1],
            "keys": m1[0].get("etcd_debugging_mvcc_keys_total"),
            "db_samples": samples,
            "load_average": os.getloadavg()}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--nodes", type=int, default=20)
    ap.add_argument("--publishers", type=int, default=3)
    ap.add_argument("--etcd", type=int, default=3)
    ap.add_argument("--endpoints", type=int, default=10000)
    ap.add_argument("--regions", type=int, default=4)
    ap.add_argument("--pools", type=int, default=100)
    ap.add_argument("--names", type=int, default=1000)
    ap.add_argument("--interval", type=float, default=1.0)
    ap.add_argument("--timeout", type=float, default=0.5)
    ap.add_argument("--fall", type=int, default=2)
    ap.add_argument("--rise", type=int, default=2)
    ap.add_argument("--fast-interval", type=float, default=None,
                    help="the check's fast_interval (default: none, the interval)")
    ap.add_argument("--compare", action="store_true",
                    help="with --fast-interval: each round kills with it and without it")
    ap.add_argument("--prober-nice", type=int, default=None,
                    help="nice value of the publishers' prober threads (root for < 0): "
                         "their probes ahead of the other 17 nodes, as on machines of "
                         "their own")
    ap.add_argument("--etcd-nice", type=int, default=None,
                    help="nice value of the etcd members' threads (root for < 0): etcd ahead "
                         "of the nodes, as on machines of its own")
    ap.add_argument("--read-page", type=int, default=1000)
    ap.add_argument("--steady", type=float, default=30)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--sample", type=int, default=25)
    ap.add_argument("--limit", type=float, default=30)
    ap.add_argument("--churn", type=float, default=0, help="seconds of churn (0: none)")
    ap.add_argument("--churn-rate", type=int, default=10, help="endpoints flipped a second")
    ap.add_argument("--churn-sample", type=float, default=600,
                    help="seconds between samples of etcd's database during the churn")
    ap.add_argument("--compaction", default="1m", help="etcd's periodic retention")
    ap.add_argument("--compaction-wait", type=float, default=75)
    ap.add_argument("--json", help="also write the results here")
    ap.add_argument("--keep", action="store_true", help="keep the nodes' directories (logs)")
    a = ap.parse_args()
    if a.compare and not a.fast_interval:
        sys.exit("--compare needs --fast-interval")
    why = need_etcd()
    if why:
        sys.exit(why)
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    if a.endpoints + 1000 > hard:
        sys.exit("the descriptor limit (%d) is below --endpoints + 1000" % hard)
    out = {"args": vars(a)}
    cluster = EtcdCluster(a.etcd, member_extra=[
        "--auto-compaction-mode=periodic", "--auto-compaction-retention=" + a.compaction,
        "--metrics=extensive", "--quota-backend-bytes=%d" % (4 << 30)]).start()
    port = free_port_on(["127.10.0.1"])
    sink = Sink(port, a.regions, a.endpoints // a.regions)
    nodes = []
    try:
        t0 = time.monotonic()
        start_nodes(a, cluster, port, nodes)
        asker = Asker()
        ok = []
        for r in range(a.regions):  # every node answers each name from its first region
            names = ["n%04d.example.com." % k for k in range(r, a.names, a.regions)][:10]
            ok += wait_answers(asker, nodes, names, lambda x, r=r: back(x, r), 120)
        out["start"] = {"seconds": round(time.monotonic() - t0, 1),
                        "answering": sum(t is not None for t in ok), "of": len(ok)}
        if a.prober_nice is not None:
            out["start"]["probers_reniced"] = renice_probers(nodes[:a.publishers], a.prober_nice)
        if a.etcd_nice is not None:
            out["start"]["etcd_reniced"] = renice_etcd(cluster, a.etcd_nice)
        print("start:", json.dumps(out["start"]), flush=True)
        if a.keep:
            print("logs:", json.dumps([n.log_path for n in nodes]), flush=True)
        time.sleep(5)  # the first publications settle
        out["steady"] = steady(a, cluster, nodes)
        print("steady:", json.dumps(out["steady"]), flush=True)
        run_rounds(a, cluster, nodes, sink, asker, out)
        fresh = nodes[-1]
        st, status = fresh.get("/v1/status")
        out["read_pages_last_node"] = status["fleet"].get("read_pages") if st == 200 else None
        if a.churn > 0:
            out["churn"] = churn(a, cluster, sink)
            print("churn:", json.dumps(out["churn"]), flush=True)
    finally:
        for n in nodes:
            try:
                n.stop()
            except Exception as e:  # noqa: BLE001 -- report, go on stopping
                print("stop %s: %s" % (n.config["fleet"]["node"], e), file=sys.stderr)
            if not a.keep:
                shutil.rmtree(n.workdir, ignore_errors=True)
        sink.close()
        cluster.stop()
    if a.json:
        with open(a.json, "w") as f:
            json.dump(out, f, indent=1)


if __name__ == "__main__":
    main()

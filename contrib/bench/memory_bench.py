#!/usr/bin/python3
"""memory_bench.py -- gtmd's memory with a real estate of policy records
(issue #38): RSS at steady state, per name and per endpoint, a breakdown of
where the bytes are, and RSS every --every changes made through the
configuration API (does it level off?).

A benchmark, not a test. The estate: --records policy records (default
100,000) over --endpoints endpoints (default 10,000) in pools of
--pool-size (10) spread over five regions, each pool probed by one of two
checks (http GET /healthz every 10 s, tcp connect every 10 s) as in
production, but one pool in 25 without a check (static or
externally-checked endpoints; it also keeps gtmd's descriptor need, two
per checked endpoint, under a hard RLIMIT_NOFILE of 20,000). The endpoints are loopback addresses (127.1.0.0/16) where
nothing listens: the probes run and fail, as they would for a fleet being
built; every record answers all the same (when_all_down: fail open).
Records: 70 % failover along one of five region orders, 20 % weighted
(select weighted, 2 answers), 10 % all (select hashed); TTL 30 or 60, so
that 2,000 distinct values make the 100,000 records (a record's pool
decides its policy and order), as a service's names share theirs; with
--distinct every record has a TTL of its own (30 + its number) and no two
are equal (gtmd's one value for equal records, jsonshare.h, has nothing to
share).
The zone file, the configuration file and the query list are written by
config_bench.py's write_setup with the estate as its records and pools,
so both benchmarks serve the same names.

Steps: start gtmd, wait --settle seconds after its first answer (25: every
endpoint probed at least twice, the health core's steady state), print RSS
(VmRSS), RSS per name and per endpoint; with --ask-all, ask every name once
and print RSS again (the DNS workers' answer counters are made as names are
first answered). (Nothing asks /v1/status: its
reply lists every record and would itself take tens of MB.) Then --changes
single-record changes through PUT /v1/config/records/NAME (each swaps the
record's first two regions), or --batch N changes per POST
/v1/config/changes; RSS and the history directory's files and size printed
every --every changes. The failover records are changed from the first on,
or with --random SEED in a shuffled order (the estate's allocations then
freed all over the heap rather than in the order they were made). With
--fresh, after the --quiet readings gtmd is stopped (it writes the file
the changes left) and started again on that file: the changes put values
the first file did not have (a "when_all_down", region orders flipped),
so the start on each file is the base of its own estate, and the last
reading after the changes is printed against the second start too.

  sudo /usr/bin/python3 contrib/bench/memory_bench.py
  sudo /usr/bin/python3 contrib/bench/memory_bench.py --records 10000 --endpoints 1000 \\
      --changes 100000 --batch 100 --every 10000
  sudo /usr/bin/python3 contrib/bench/memory_bench.py --gtmd /path/to/older/gtmd --changes 0

--wrap CMD runs gtmd under CMD for a breakdown of the heap, e.g.
--wrap 'heaptrack -o /tmp/gtmd.ht' (then heaptrack_print -f /tmp/gtmd.ht.zst
--print-peaks; the RSS figures then include heaptrack's own). Ports: --port (DNS) and the next
(admin) on 127.0.0.1, a free pair by default; gtmd is stopped by pid.
"""
import argparse
import http.client
import json
import os
import resource
import random
import shutil
import socket
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import config_bench  # noqa: E402  (write_setup, answer, rss_mb, TOKEN)

TOP = config_bench.TOP
TOKEN = config_bench.TOKEN
REGIONS = ["us-east", "us-west", "eu-west", "eu-central", "ap-south"]
ORDERS = [REGIONS[i:] + REGIONS[:i] for i in range(len(REGIONS))]


def log(msg):
    sys.stderr.write("[memory_bench %s] %s\n" % (time.strftime("%H:%M:%S"), msg))
    sys.stderr.flush()


def estate(n_records, n_endpoints, pool_size, distinct=False):
    """The configuration's regions, checks, pools and records: a dict to
    merge into config_bench's configuration."""
    n_pools = max(1, n_endpoints // pool_size)
    pools = {}
    for p in range(n_pools):
        eps = []
        for k in range(pool_size):
            i = p * pool_size + k
            eps.append({"name": "e%d" % k, "address": "127.1.%d.%d" % (i // 250, i % 250 + 1),
                        "region": REGIONS[k % len(REGIONS)], "weight": 10 + k})
        pools["p%d" % p] = {"endpoints": eps}
        if p % 25 != 24:
            pools["p%d" % p]["check"] = "http" if p % 2 == 0 else "tcp"
    records = {}
    for i in range(n_records):
        p = i % n_pools
        kind = i % 10
        rec = {"pool": "p%d" % p, "ttl": (30 + i) if distinct else (30 if i % 3 else 60)}
        if kind < 7:
            rec.update({"policy": "failover", "regions": ORDERS[i % len(ORDERS)],
                        "when_all_down": "all"})
        elif kind < 9:
            rec.update({"policy": "weighted", "answers": 2, "when_all_down": "all"})
        else:
            rec.update({"policy": "all", "select": "hashed", "answers": 2,
                        "when_all_down": "all"})
        records["r%d.bench.test." % i] = rec
    return {
        "regions": {r: {} for r in REGIONS},
        "checks": {
            "http": {"type": "http", "port": 8080, "path": "/healthz", "interval": 10,
                     "timeout": 2, "rise": 2, "fall": 2},
            "tcp": {"type": "tcp", "port": 443, "interval": 10, "timeout": 2},
        },
        "pools": pools,
        "records": records,
    }


def write_conf(d, a):
    path = config_bench.write_setup(d, 0, a.port, a.port + 1)
    with open(path) as f:
        conf = json.load(f)
    conf.update(estate(a.records, a.endpoints, a.pool_size, a.distinct))
    with open(path, "w") as f:
        json.dump(conf, f)
    return path


def admin_get(aport, path):
    c = http.client.HTTPConnection("127.0.0.1", aport, timeout=60)
    c.request("GET", path, headers={"Authorization": "Bearer " + TOKEN})
    r = c.getresponse()
    data = r.read()
    c.close()
    return r.status, data


def admin_send(aport, method, path, body):
    c = http.client.HTTPConnection("127.0.0.1", aport, timeout=600)
    c.request(method, path, body=json.dumps(body),
              headers={"Authorization": "Bearer " + TOKEN, "Content-Type": "application/json"})
    r = c.getresponse()
    data = r.read()
    c.close()
    return r.status, data


def smaps_rollup(pid):
    out = {}
    try:
        with open("/proc/%d/smaps_rollup" % pid) as f:
            for line in f:
                parts = line.split()
                if len(parts) == 3 and parts[2] == "kB":
                    out[parts[0].rstrip(":")] = int(parts[1])
    except OSError:
        pass
    return out


def heap_maps(pid):
    """RSS (MB) of the main heap ([heap]) and of the other anonymous
    mappings of 1 MB or more (glibc's per-thread malloc arenas, large
    allocations), largest first."""
    heap, others, cur = 0.0, [], None
    try:
        with open("/proc/%d/smaps" % pid) as f:
            for line in f:
                parts = line.split()
                if "-" in parts[0] and not parts[0].endswith(":"):
                    cur = parts[5] if len(parts) > 5 else ""
                elif parts[0] == "Rss:" and cur is not None:
                    mb = int(parts[1]) / 1024.0
                    if cur == "[heap]":
                        heap += mb
                    elif cur == "" and mb >= 1:
                        others.append(mb)
    except OSError:
        pass
    return heap, sorted(others, reverse=True)


def print_maps(pid):
    heap, others = heap_maps(pid)
    print("    main heap %.1f MB; other anonymous mappings >= 1 MB: %s" %
          (heap, ", ".join("%.1f" % x for x in others[:8]) or "none"))


def peak_mb(pid):
    """The process's peak RSS so far (VmHWM), MB."""
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return 0.0


def print_steady(a, pid):
    rss = config_bench.rss_mb(pid)
    sm = smaps_rollup(pid)
    print("gtmd %s: %d policy names over %d endpoints (%d pools)" %
          (a.gtmd, a.records, a.endpoints, max(1, a.endpoints // a.pool_size)))
    print("  RSS %.1f MB (anonymous %.1f MB): %.0f bytes per name, %.0f bytes per endpoint" %
          (rss, sm.get("Anonymous", 0) / 1024.0, rss * 1048576 / max(1, a.records),
           rss * 1048576 / max(1, a.endpoints)))
    print_maps(pid)
    return rss


def change_body(i, flip):
    order = ORDERS[i % len(ORDERS)]
    if flip:
        order = [order[1], order[0]] + order[2:]
    return {"pool": "p%d" % (i % 1000), "ttl": 30 if i % 3 else 60, "policy": "failover",
            "regions": order, "when_all_down": "all"}


def query_packet(qid, name):
    wire = b"".join(bytes([len(x)]) + x.encode() for x in name.rstrip(".").split(".")) + b"\0"
    return qid.to_bytes(2, "big") + b"\x00\x00\x00\x01\x00\x00\x00\x00\x00\x00" + wire + \
        b"\x00\x01\x00\x01"


def ask_all(a):
    """--ask-all: every policy name asked once for A (a window of 64 in
    flight; an unanswered one asked again, at most 3 times): each reader's
    answer counters then exist for every name (serve_counters.h makes them
    at a reader's first count), as under traffic over the whole estate.
    Returns how many were answered."""
    sk = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sk.connect(("127.0.0.1", a.port))
    sk.settimeout(0.5)
    pending = {i: 0 for i in range(a.records)}
    answered = 0
    while pending:
        batch = list(pending)[:64]
        for i in batch:
            pending[i] += 1
            sk.send(query_packet(i % 65536, "r%d.bench.test." % i))
        got = set()
        try:
            for _ in batch:
                got.add(int.from_bytes(sk.recv(4096)[:2], "big"))
        except socket.timeout:
            pass
        for i in batch:
            if i % 65536 in got:
                answered += 1
                del pending[i]
            elif pending[i] >= 3:
                del pending[i]
    sk.close()
    return answered


def history_size(d):
    """Files in the configuration history directory and their octets (the
    issue: RSS and the history directory level off over many changes)."""
    files = size = 0
    for name in os.listdir(d) if os.path.isdir(d) else []:
        try:
            size += os.stat(os.path.join(d, name)).st_size
            files += 1
        except OSError:
            pass  # the store removed it meanwhile
    return files, size


def run_changes(a, pid):
    n_pools = max(1, a.endpoints // a.pool_size)
    aport = a.port + 1
    done, t0, rows = 0, time.monotonic(), []
    # Only failover records (i % 10 < 7) are changed, so a change keeps the policy.
    targets = [i for i in range(a.records) if i % 10 < 7]
    if a.random is not None:
        # In an order of their own (seeded): a change lands anywhere in the
        # estate, as a real stream's do, instead of walking it from its start,
        # which frees the start's allocations in the order they were made.
        random.Random(a.random).shuffle(targets)
    while done < a.changes:
        items = []
        for k in range(a.batch):
            j = done + k
            i = targets[j % len(targets)]
            body = change_body(i, (j // len(targets)) % 2 == 0)
            body["pool"] = "p%d" % (i % n_pools)
            items.append(("r%d.bench.test." % i, body))
        if a.batch == 1:
            st, data = admin_send(aport, "PUT", "/v1/config/records/" + items[0][0], items[0][1])
        else:
            st, data = admin_send(aport, "POST", "/v1/config/changes",
                                  {"changes": [{"op": "put", "path": "records/" + n, "value": v}
                                               for n, v in items]})
        if st not in (200, 201):
            raise SystemExit("change %d: HTTP %d %s" % (done, st, data[:300]))
        done += a.batch
        if done % a.every < a.batch:
            rss = config_bench.rss_mb(pid)
            files, size = history_size(os.path.join(a.workdir, "history"))
            rows.append((done, rss))
            print("  after %7d changes (%.0f s): RSS %.1f MB, history %d files %.1f MB"
                  % (done, time.monotonic() - t0, rss, files, size / 1e6))
            if a.maps:
                print_maps(pid)
            sys.stdout.flush()
    return rows


def free_ports():
    """A port p free for DNS (UDP and TCP) with p + 1 free for the admin API
    (other benchmarks may run on this machine at the same time). Below
    Linux's ephemeral range (32768-60999), where 10,000 probes' sockets of
    another gtmd would take a port between the check and the bind."""
    for _ in range(200):
        p = random.randrange(20000, 32000)
        try:
            for port, kind in ((p, socket.SOCK_DGRAM), (p, socket.SOCK_STREAM),
                               (p + 1, socket.SOCK_STREAM)):
                with socket.socket(socket.AF_INET, kind) as sk:
                    sk.bind(("127.0.0.1", port))
            return p
        except OSError:
            continue
    raise SystemExit("no free port pair found")


def raise_nofile():
    """gtmd wants 2 descriptors per checked endpoint (it refuses to start
    below): the soft limit up to the hard one."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


def start_gtmd(a, conf):
    """gtmd started on conf (logging into the workdir's gtmd.log), once it
    answers: its Popen."""
    logf = open(os.path.join(a.workdir, "gtmd.log"), "ab")
    cmd = [a.gtmd, "-c", conf]
    if a.wrap:
        cmd = a.wrap.split() + cmd
    t0 = time.monotonic()
    p = subprocess.Popen(cmd, stdout=logf, stderr=logf, preexec_fn=raise_nofile)
    logf.close()
    while config_bench.answer(a.port, "r0.bench.test.") is None:
        if p.poll() is not None or time.monotonic() - t0 > 900:
            config_bench.stop_gtmd(p)
            raise SystemExit("gtmd did not start: see %s/gtmd.log" % a.workdir)
        time.sleep(0.2)
    log("answering after %.1f s, RSS %.1f MB" % (time.monotonic() - t0,
                                                  config_bench.rss_mb(p.pid)))
    return p


def fresh_start(a, conf, last):
    """--fresh: gtmd started again on the file the changes left (written
    at its stop), its RSS after --settle: what the estate the changes made
    costs from a start, against the last reading after them (the changes
    put values the first file did not have: a start on each file is the
    fair base of each)."""
    p = start_gtmd(a, conf)
    try:
        time.sleep(a.settle)
        rss = config_bench.rss_mb(p.pid)
        print("  a fresh start on the file the changes left: RSS %.1f MB; the last reading "
              "after the changes is %.2fx that" % (rss, last / rss))
        if a.maps:
            print_maps(p.pid)
    finally:
        config_bench.stop_gtmd(p)


def run(a):
    d = a.workdir
    shutil.rmtree(d, ignore_errors=True)
    os.makedirs(d)
    conf = write_conf(d, a)
    p = start_gtmd(a, conf)
    last = None
    try:
        # Steady state: every endpoint probed at least twice (interval 10 s).
        time.sleep(a.settle)
        print_steady(a, p.pid)
        start = config_bench.rss_mb(p.pid)
        if a.ask_all:
            t1 = time.monotonic()
            n = ask_all(a)
            time.sleep(2)
            rss = config_bench.rss_mb(p.pid)
            print("  every name asked once (%d of %d answered, %.1f s): RSS %.1f MB, "
                  "%.0f bytes per name" % (n, a.records, time.monotonic() - t1, rss,
                                           rss * 1048576 / max(1, a.records)))
            if a.maps:
                print_maps(p.pid)
        if a.changes:
            rows = run_changes(a, p.pid)
            if len(rows) >= 2:
                first, last = rows[0][1], rows[-1][1]
                print("  RSS after the first %d changes %.1f MB, after %d: %.1f MB (%+.1f%%)" %
                      (rows[0][0], first, rows[-1][0], last, 100.0 * (last - first) / first))
                # After the stream: readings mid-stream include the writer's
                # dumps and the spare array (kept LOAD_SPARE_KEEP_S, 90 s, after
                # the last change), which are not what the changes left behind.
                waited = 0.0
                for w in a.quiet:
                    time.sleep(max(0.0, w - waited))
                    waited = max(waited, w)
                    rss = last = config_bench.rss_mb(p.pid)
                    print("  %.0f s after the last change: RSS %.1f MB (%.2fx the start)"
                          % (w, rss, rss / start))
                    if a.maps:
                        print_maps(p.pid)
                    sys.stdout.flush()
                print("  peak RSS (VmHWM) %.1f MB (%.2fx the start)"
                      % (peak_mb(p.pid), peak_mb(p.pid) / start))
    finally:
        config_bench.stop_gtmd(p)
    if a.fresh and last is not None:
        fresh_start(a, conf, last)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--gtmd", default=os.path.join(TOP, "build", "gtmd"))
    ap.add_argument("--records", type=int, default=100000)
    ap.add_argument("--endpoints", type=int, default=10000)
    ap.add_argument("--pool-size", type=int, default=10)
    ap.add_argument("--changes", type=int, default=0)
    ap.add_argument("--batch", type=int, default=1, help="changes per POST /v1/config/changes")
    ap.add_argument("--every", type=int, default=10000)
    ap.add_argument("--maps", action="store_true",
                    help="the heap and arena mappings' RSS at every --every changes too")
    ap.add_argument("--settle", type=float, default=25.0)
    ap.add_argument("--quiet", type=float, nargs="*", default=[],
                    help="after the changes, RSS again this many seconds after the last "
                    "(e.g. --quiet 10 100: before and after the spare array's 90 s)")
    ap.add_argument("--fresh", action="store_true",
                    help="after the --quiet readings, start gtmd again on the file the changes "
                         "left and compare the last reading with its RSS")
    ap.add_argument("--random", type=int, default=None, metavar="SEED",
                    help="change the failover records in a shuffled order (seeded) instead of "
                         "from the first")
    ap.add_argument("--distinct", action="store_true",
                    help="every record a value of its own (TTL 30 + its number): nothing to share")
    ap.add_argument("--ask-all", action="store_true",
                    help="after the steady state, ask every name once and print RSS again")
    ap.add_argument("--wrap", default=None,
                    help="a command gtmd runs under, e.g. 'heaptrack -o /tmp/gtmd.heaptrack'")
    ap.add_argument("--port", type=int, default=0, help="DNS port (admin: port + 1); 0: free ones")
    ap.add_argument("--workdir", default="/tmp/gtmd-memory-bench")
    a = ap.parse_args()
    if not a.port:
        a.port = free_ports()
    run(a)


if __name__ == "__main__":
    main()

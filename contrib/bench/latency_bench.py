#!/usr/bin/python3
"""Figures of "policy": "latency" (doc/policies.md, "Latency"), on this
machine's loopback. A benchmark, never a test: it prints what it measured
and asserts nothing. Every loop is bounded; every process is stopped by pid.

  answers    answers per CPU-second of gtmd (one worker, on CPU 0; dnsperf on
             CPU 1) for a static A name, a latency name (its own table: 8
             endpoints probed by a tcp check, all within the tolerance, so
             every query walks and health-checks all 8 rows) and a latency
             name with a vantage map (one class-trie walk more). Rounds
             interleave the three kinds; median and spread (min-max) of
             --rounds rounds (>= 3).
  writes     etcd writes per second from round-trip sharing: 3 gtmd nodes on
             a 3-member etcd cluster, --endpoints endpoints each (default
             9,500: what a hard limit of 20,000 descriptors allows), an http check whose every reply waits a random 0-30 ms
             (so almost every sample moves an average past the 10 % / 2 ms
             margin): the averages that moved per second (what one key per
             endpoint would write) against the table writes per second
             (bounded by nodes / latency_interval), and the bytes.

Usage (as root, etcd-server, etcd-client and dnsperf installed):
  GTMD=build/gtmd /usr/bin/python3 contrib/bench/latency_bench.py
      [--rounds 3] [--duration 5] [--endpoints 9500] [--interval 30]
      [--steady 60] [--only answers|writes]
"""
import argparse
import asyncio
import json
import os
import random
import re
import resource
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "..", "tests", "integration"))

from backends import fast_query, free_port_on, poll  # noqa: E402
from conftest import GTMD, free_port, stop_process  # noqa: E402
from fleetlib import EtcdCluster, need_etcd, start_node  # noqa: E402

ZONE = """$ORIGIN bench.test.
$TTL 300
@ IN SOA ns1 hostmaster 1 3600 600 86400 300
@ IN NS ns1
ns1 IN A 127.0.0.1
static IN A 198.51.100.7
"""


def cpu_seconds(pid):
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


class Acceptor:
    """contrib/bench/accept_sink.c on 127.0.0.1:port: accepts and closes
    (a tcp check passes at connect)."""

    def __init__(self, port, wd):
        exe = os.path.join(wd, "accept-sink")
        subprocess.run(["cc", "-O2", "-o", exe, os.path.join(HERE, "accept_sink.c")],
                       check=True, timeout=120)
        self.proc = subprocess.Popen([exe, "-s", "3600", str(port), "127.0.0.1"],
                                     stdout=subprocess.PIPE, stdin=subprocess.DEVNULL)
        if b"ready" not in self.proc.stdout.readline():
            raise RuntimeError("accept_sink did not start")
        threading.Thread(target=lambda: [None for _ in self.proc.stdout], daemon=True).start()

    def close(self):
        stop_process(self.proc)


def answers_config(wd, port, check_port):
    with open(os.path.join(wd, "bench.test.zone"), "w") as f:
        f.write(ZONE)
    eps = [{"name": "e%d" % i, "address": "198.51.100.%d" % (10 + i), "region": "r%d" % (i % 4),
            "check_target": {"address": "127.0.0.1"}} for i in range(8)]
    vantage = {"network:10.%d.0.0/16" % i: "n%d" % i for i in range(1, 9)}
    vantage["default"] = "self-%d" % port  # not a node: the one that answers
    return {
        "listen": ["127.0.0.1:%d" % port], "workers": 1,
        "zones": [{"origin": "bench.test.", "file": "bench.test.zone"}],
        "regions": {"r%d" % i: {} for i in range(4)},
        "checks": {"tcp": {"type": "tcp", "port": check_port, "interval": 1, "timeout": 0.5}},
        "pools": {"web": {"check": "tcp", "endpoints": eps}},
        "records": {
            "lat.bench.test.": {"pool": "web", "policy": "latency", "ttl": 30,
                                "latency": {"tolerance_ms": 5}},
            "latv.bench.test.": {"pool": "web", "policy": "latency", "ttl": 30,
                                 "latency": {"tolerance_ms": 5, "vantage": vantage}}},
    }


def dnsperf(port, qfile, seconds):
    argv = ["taskset", "-c", "1", "dnsperf", "-s", "127.0.0.1", "-p", str(port), "-d", qfile,
            "-l", str(seconds), "-c", "4", "-q", "200", "-t", "2"]
    r = subprocess.run(argv, capture_output=True, text=True, timeout=seconds + 30)
    out = r.stdout + r.stderr
    m = re.search(r"Queries completed:\s+(\d+)", out)
    codes = re.search(r"Response codes:\s+(.*)", out)
    return int(m.group(1)) if m else 0, codes.group(1).strip() if codes else out[-300:]


def bench_answers(a, wd):
    port, check_port = free_port(), free_port_on(["127.0.0.1"])
    acc = Acceptor(check_port, wd)
    conf = os.path.join(wd, "gtmd.json")
    with open(conf, "w") as f:
        json.dump(answers_config(wd, port, check_port), f)
    log = open(os.path.join(wd, "gtmd.log"), "ab")
    proc = subprocess.Popen(["taskset", "-c", "0", GTMD, "-c", conf], stdout=log, stderr=log)
    try:
        def all_up():
            r = fast_query("127.0.0.1", port, "lat.bench.test.", timeout=0.3)
            return r is not None and r.answer
        if not poll(all_up, 20, 0.1)[0]:
            raise RuntimeError("gtmd did not answer")
        time.sleep(3)  # every endpoint measured a few times
        # The latency path, not the fallback: all 8 endpoints are within the
        # tolerance of the fastest (a fallback would answer one region's 2).
        seen = set()
        for _ in range(200):
            r = fast_query("127.0.0.1", port, "lat.bench.test.", timeout=0.3)
            seen.update(rd.to_text() for rr in (r.answer if r else []) for rd in rr)
        kinds = {"static": "static.bench.test. A", "latency": "lat.bench.test. A",
                 "latency+vantage": "latv.bench.test. A"}
        files = {}
        for k, q in kinds.items():
            files[k] = os.path.join(wd, "q-" + k)
            with open(files[k], "w") as f:
                f.write((q + "\n") * 1000)
        res = {k: [] for k in kinds}
        codes = {}
        for _ in range(a.rounds):
            for k in kinds:
                c0 = cpu_seconds(proc.pid)
                n, codes[k] = dnsperf(port, files[k], a.duration)
                cpu = cpu_seconds(proc.pid) - c0
                res[k].append(n / cpu if cpu > 0 else 0.0)
        out = {"rounds": a.rounds, "duration_s": a.duration, "rcodes": codes,
               "latency_distinct_answers": len(seen)}
        base = statistics.median(res["static"])
        for k, xs in res.items():
            out[k] = {"answers_per_cpu_s_median": round(statistics.median(xs)),
                      "spread": [round(min(xs)), round(max(xs))],
                      "vs_static": round(statistics.median(xs) / base, 3) if base else None,
                      "rounds": [round(x) for x in xs]}
        return out
    finally:
        stop_process(proc)
        log.close()
        acc.close()


class JitterHTTP:
    """An asyncio HTTP server on 127.0.0.1:port in a thread: every reply
    waits a random 0-30 ms, so round-trip averages keep moving."""

    def __init__(self, port):
        self.port = port
        self.loop = asyncio.new_event_loop()
        self.ready = threading.Event()
        self.replies = 0
        self.thread = threading.Thread(target=self.run, daemon=True)
        self.thread.start()
        if not self.ready.wait(10):
            raise RuntimeError("jitter server did not start")

    async def handle(self, reader, writer):
        try:
            await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 5)
            await asyncio.sleep(random.random() * 0.03)
            writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok")
            await writer.drain()
            self.replies += 1
        except (asyncio.TimeoutError, asyncio.IncompleteReadError, OSError):
            pass
        finally:
            writer.close()

    def run(self):
        asyncio.set_event_loop(self.loop)
        srv = self.loop.run_until_complete(
            asyncio.start_server(self.handle, "127.0.0.1", self.port, backlog=4096))
        self.srv = srv
        self.ready.set()
        self.loop.run_forever()

    async def shutdown(self):
        self.srv.close()
        tasks = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
        for t in tasks:
            t.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        self.loop.stop()

    def close(self):
        asyncio.run_coroutine_threadsafe(self.shutdown(), self.loop)
        self.thread.join(10)


def metric(n, name):
    return n.metric(name) or 0.0


def bench_writes(a, made):
    cluster = EtcdCluster(3).start()
    port = free_port_on(["127.0.0.1"])
    srv = JitterHTTP(port)
    try:
        nodes = []
        for i in (1, 2, 3):
            g = start_node(made, cluster.urls, i, port, start=False, stale_after=10,
                           latency_interval=a.latency_interval)
            g.config["checks"] = {"web": {"type": "http", "port": port, "interval": a.interval,
                                          "timeout": 1, "latency_half_life": a.interval / 3}}
            g.config["pools"] = {"web": {"check": "web", "endpoints": [
                {"name": "e%05d" % k, "address": "127.0.0.1", "region": "us" if k % 2 else "eu"}
                for k in range(a.endpoints)]}}
            g.config["records"] = {"app.example.com.": {"pool": "web", "policy": "latency"}}
            g.start()
            nodes.append(g)
        # Warm up: every endpoint sampled twice on every node.
        time.sleep(2 * a.interval + 5)
        m0 = [(metric(n, "gtmd_fleet_latency_writes_total"),
               metric(n, "gtmd_fleet_latency_moves_total")) for n in nodes]
        r0, t0 = srv.replies, time.monotonic()
        c0 = [cpu_seconds(n.proc.pid) for n in nodes]
        time.sleep(a.steady)
        dt = time.monotonic() - t0
        cpu = [round(100 * (cpu_seconds(n.proc.pid) - c) / dt, 1) for n, c in zip(nodes, c0)]
        m1 = [(metric(n, "gtmd_fleet_latency_writes_total"),
               metric(n, "gtmd_fleet_latency_moves_total")) for n in nodes]
        sizes = {}
        for k, v in (cluster.get_prefix("/gtmd/it/rtt/") or {}).items():
            sizes[k.rsplit("/", 1)[1]] = len(v)
        writes = sum(b[0] - a0[0] for a0, b in zip(m0, m1)) / dt
        moves = sum(b[1] - a0[1] for a0, b in zip(m0, m1)) / dt
        return {
            "nodes": 3, "endpoints_per_node": a.endpoints, "check_interval_s": a.interval,
            "latency_interval_s": a.latency_interval, "steady_s": round(dt, 1),
            "probes_answered_per_s": round((srv.replies - r0) / dt, 1),
            "averages_moved_per_s": round(moves, 1),
            "table_writes_per_s": round(writes, 3),
            "bound_writes_per_s": round(3 / a.latency_interval, 3),
            "table_bytes": sizes,
            "etcd_bytes_per_s": round(writes * (statistics.mean(sizes.values()) if sizes else 0)),
            "gtmd_cpu_percent_per_node": cpu,
        }
    finally:
        for n in made:
            if n.proc:
                n.stop()
        srv.close()
        cluster.stop()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--duration", type=int, default=5)
    ap.add_argument("--endpoints", type=int, default=9500)
    ap.add_argument("--interval", type=float, default=30.0)
    ap.add_argument("--latency-interval", type=float, default=5.0)
    ap.add_argument("--steady", type=float, default=60.0)
    ap.add_argument("--only", choices=("answers", "writes"))
    a = ap.parse_args()
    # gtmd counts two descriptors per checked endpoint against its limit
    # and refuses to start below what its configuration may need: take the
    # hard limit (a container may not allow more: 20,000 gives room for
    # about 9,600 endpoints a node; --endpoints says how many).
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    out = {}
    wd = tempfile.mkdtemp(prefix="gtmd-latbench-")
    made = []
    try:
        if a.only in (None, "answers"):
            out["answers"] = bench_answers(a, wd)
            print(json.dumps(out["answers"], indent=1), flush=True)
        if a.only in (None, "writes"):
            why = need_etcd()
            if why:
                out["writes"] = {"skipped": why}
            else:
                out["writes"] = bench_writes(a, made)
            print(json.dumps(out["writes"], indent=1), flush=True)
    finally:
        for n in made:
            if n.proc:
                n.stop()
            shutil.rmtree(n.workdir, ignore_errors=True)
        shutil.rmtree(wd, ignore_errors=True)


if __name__ == "__main__":
    main()

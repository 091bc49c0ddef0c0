#!/usr/bin/python3
"""spread_bench.py -- how UDP queries spread over gtmd's workers (issue #55,
item 3; net/spread.h), and what an answer costs.

Two measurements, each short (the machine is shared):

  spread (default)  gtmd with --workers UDP workers on one listen address,
      in variants run in interleaved rounds (the order rotates each round):
        base        --gtmd-base as it is (the kernel's 4-tuple hash)
        hash        --gtmd with "udp_steering": "hash" (the same hash)
        cpu         --gtmd as it is (steered by the receiving CPU)
        cpu-pinned  --gtmd with "pin_workers": true
      Load: one dnsperf per CPU (taskset -c N), each with --clients
      sockets (source ports) at --rate / CPUs queries a second: on
      loopback a datagram is received on its sender's CPU, so this is a NIC
      whose receive queues spread evenly over the CPUs. Reported per
      variant, medians of the rounds [min-max]: answers a second, answers
      per CPU-second of gtmd (all its threads: user + system), and the
      busiest UDP worker's share, of the CPU time the UDP threads used
      (every variant, from /proc/PID/task) and of the messages
      (gtmd_worker_messages_total, the variants of --gtmd).

  --callgrind N     instructions per answer: each binary under valgrind's
      callgrind with 1 worker, collecting only inside udp_serve (the UDP
      thread's whole loop: receive, answer, send), N queries sent by
      dnsperf at a low rate; Ir / answers.

Usage:
  spread_bench.py --gtmd build/gtmd --gtmd-base /tmp/main/gtmd \\
      [--rounds 3] [--duration 4] [--rate 40000] [--workers 2]
  spread_bench.py --gtmd build/gtmd --gtmd-base /tmp/main/gtmd --callgrind 20000

Every process it starts is stopped by pid on exit; ports come from the
kernel (port 0).
"""

import argparse
import json
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
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import bench  # noqa: E402  (port_free)

NAMES = 1000
TOKEN = "spread-bench-token-0123456789abcdef"
ORIGIN = "spread.test."


def log(msg):
    print("[spread %s] %s" % (time.strftime("%H:%M:%S"), msg), file=sys.stderr, flush=True)


def kernel_port():
    """A port free for UDP and TCP on 127.0.0.1: one the kernel gives for
    TCP, kept when bench.port_free finds it free for both."""
    for _ in range(50):
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as t:
            t.bind(("127.0.0.1", 0))
            port = t.getsockname()[1]
        if bench.port_free(port):
            return port
    raise RuntimeError("no free port")


def write_zone(workdir):
    path = os.path.join(workdir, "spread.zone")
    with open(path, "w") as f:
        f.write("$ORIGIN %s\n$TTL 300\n@ IN SOA ns1 hostmaster 1 3600 600 86400 60\n"
                "@ IN NS ns1\nns1 IN A 192.0.2.1\n" % ORIGIN)
        for i in range(NAMES):
            f.write("n%d IN A 192.0.2.%d\n" % (i, i % 250 + 2))
    qpath = os.path.join(workdir, "queries.txt")
    with open(qpath, "w") as f:
        for i in range(NAMES):
            f.write("n%d.%s A\n" % (i, ORIGIN))
    return qpath


class Server:
    def __init__(self, binary, workdir, name, workers, extra, admin):
        self.binary, self.workdir, self.name = binary, workdir, name
        self.port = kernel_port()
        self.admin = kernel_port() if admin else None
        conf = {"listen": ["127.0.0.1:%d" % self.port], "workers": workers,
                "zones": [{"origin": ORIGIN, "file": "spread.zone"}]}
        if self.admin:
            for t in ("read", "operate"):
                with open(os.path.join(workdir, t + ".token"), "w") as f:
                    f.write(TOKEN + "-" + t)
                os.chmod(os.path.join(workdir, t + ".token"), 0o600)
            conf["admin"] = {"listen": ["127.0.0.1:%d" % self.admin],
                             "read_token_file": "read.token",
                             "operate_token_file": "operate.token"}
        conf.update(extra)
        self.conf = os.path.join(workdir, "%s.json" % name)
        with open(self.conf, "w") as f:
            json.dump(conf, f)
        self.logf = open(os.path.join(workdir, "%s.log" % name), "ab")
        self.proc = None

    def start(self, prefix=(), timeout=60.0):
        self.proc = subprocess.Popen(list(prefix) + [self.binary, "-c", self.conf],
                                     stdout=self.logf, stderr=self.logf, cwd=self.workdir,
                                     start_new_session=True)
        deadline = time.monotonic() + timeout
        q = query_wire("n1." + ORIGIN)
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError("%s exited: see %s.log" % (self.name, self.name))
            with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
                s.settimeout(0.2)
                try:
                    s.sendto(q, ("127.0.0.1", self.port))
                    s.recv(512)
                    return
                except OSError:
                    pass
        raise RuntimeError("%s did not answer in %.0f s" % (self.name, timeout))

    def stop(self):
        if self.proc and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(timeout=10)
        self.logf.close()

    def threads(self):
        """{thread name: CPU seconds} of the server."""
        tick = os.sysconf("SC_CLK_TCK")
        out = {}
        base = "/proc/%d/task" % self.proc.pid
        for tid in os.listdir(base):
            try:
                with open("%s/%s/stat" % (base, tid)) as f:
                    st = f.read()
            except OSError:
                continue
            name = st[st.index("(") + 1:st.rindex(")")]
            fields = st[st.rindex(")") + 2:].split()
            out[name + "/" + tid] = (int(fields[11]) + int(fields[12])) / tick
        return out

    def worker_messages(self):
        if not self.admin:
            return {}
        req = urllib.request.Request("http://127.0.0.1:%d/metrics" % self.admin,
                                     headers={"Authorization": "Bearer " + TOKEN + "-read"})
        with urllib.request.urlopen(req, timeout=5) as r:
            text = r.read().decode()
        return {m.group(1): int(m.group(2)) for m in re.finditer(
            r'^gtmd_worker_messages_total\{worker="(udp[0-9]+)"\} ([0-9]+)$', text, re.M)}


def query_wire(name):
    import struct
    q = struct.pack(">HHHHHH", 0x1234, 0x0100, 1, 0, 0, 0)
    for label in name.rstrip(".").split("."):
        q += bytes([len(label)]) + label.encode()
    return q + b"\x00" + struct.pack(">HH", 1, 1)


def dnsperf(cpu, port, qfile, seconds, clients, rate):
    argv = ["taskset", "-c", str(cpu), "dnsperf", "-s", "127.0.0.1", "-p", str(port), "-d",
            qfile, "-l", str(seconds), "-c", str(clients), "-q", "200", "-Q", str(rate), "-t", "2"]
    return subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def dnsperf_result(p, seconds):
    out, _ = p.communicate(timeout=seconds + 30)
    m = re.search(r"Queries completed:\s+(\d+)", out)
    return int(m.group(1)) if m else 0


def share(values):
    total = sum(values)
    return max(values) / total if total else 0.0


def one_run(s, a, qfile, cpus):
    # The scrapes stay outside the CPU window: the admin thread's work is
    # not the answers'.
    m0 = s.worker_messages()
    t0 = s.threads()
    w0 = time.monotonic()
    procs = [dnsperf(c, s.port, qfile, a.duration, a.clients, a.rate // len(cpus)) for c in cpus]
    answered = sum(dnsperf_result(p, a.duration) for p in procs)
    wall = time.monotonic() - w0
    t1 = s.threads()
    m1 = s.worker_messages()
    cpu = sum(t1.values()) - sum(t0.get(k, 0) for k in t1)
    udp = [t1[k] - t0.get(k, 0) for k in t1 if k.startswith("gtmd-udp")]
    msgs = [m1[k] - m0.get(k, 0) for k in m1]
    r = {"qps": answered / wall, "per_cpu": answered / cpu if cpu > 0 else 0.0,
         "cpu_share": share(udp), "msg_share": share(msgs) if msgs else None,
         "udp_cpu": udp, "msgs": msgs}
    log("%-10s %8.0f answers/s %9.0f per CPU-s  busiest UDP worker: %.1f %% of CPU%s" % (
        s.name, r["qps"], r["per_cpu"], 100 * r["cpu_share"],
        "" if msgs == [] else ", %.1f %% of messages %s" % (100 * r["msg_share"], msgs)))
    return r


def spread(a, workdir, qfile):
    cpus = sorted(os.sched_getaffinity(0))[:2] if not a.cpus else [
        int(c) for c in a.cpus.split(",")]
    # Every variant has the admin listener (the same threads); base's
    # /metrics has no gtmd_worker_messages_total, so no message share.
    variants = [("base", a.gtmd_base, {}, True), ("hash", a.gtmd, {"udp_steering": "hash"}, True),
                ("cpu", a.gtmd, {}, True), ("cpu-pinned", a.gtmd, {"pin_workers": True}, True)]
    results = {v[0]: [] for v in variants}
    for rnd in range(a.rounds):
        order = variants[rnd % len(variants):] + variants[:rnd % len(variants)]
        for name, binary, extra, admin in order:
            s = Server(binary, workdir, name, a.workers, extra, admin)
            try:
                s.start()
                results[name].append(one_run(s, a, qfile, cpus))
            finally:
                s.stop()
    print("spread_bench: %d rounds, %d workers, dnsperf on CPUs %s, %d sockets each, "
          "%d queries/s offered in all, %d s a run" % (a.rounds, a.workers, cpus, a.clients,
                                                       a.rate, a.duration))
    print("| variant | answers/s | answers per CPU-s | busiest UDP worker, CPU | "
          "busiest UDP worker, messages |")
    print("|---|---|---|---|---|")

    def fmt(xs, pct=False):
        xs = [x for x in xs if x is not None]
        if not xs:
            return "-"
        k = 100 if pct else 1
        f = "%.1f %%" if pct else "%.0f"
        return (f + " [" + f + " - " + f + "]") % (k * statistics.median(xs), k * min(xs),
                                                  k * max(xs))
    for name, _, _, _ in variants:
        rs = results[name]
        print("| %s | %s | %s | %s | %s |" % (
            name, fmt([r["qps"] for r in rs]), fmt([r["per_cpu"] for r in rs]),
            fmt([r["cpu_share"] for r in rs], True), fmt([r["msg_share"] for r in rs], True)))
    base = statistics.median([r["per_cpu"] for r in results["base"]])
    for name in ("hash", "cpu", "cpu-pinned"):
        m = statistics.median([r["per_cpu"] for r in results[name]])
        print("%s / base answers per CPU-second: %.3f" % (name, m / base if base else 0))


def callgrind(a, workdir, qfile):
    if not shutil.which("valgrind"):
        sys.exit("spread_bench: --callgrind needs valgrind")
    rows = []
    for name, binary in (("base", a.gtmd_base), ("new", a.gtmd)):
        out = os.path.join(workdir, "callgrind.%s.out" % name)
        s = Server(binary, workdir, "cg-" + name, 1, {}, False)
        prefix = ["valgrind", "--tool=callgrind", "--collect-atstart=no",
                  "--toggle-collect=udp_serve", "--callgrind-out-file=" + out]
        try:
            s.start(prefix=prefix, timeout=120)
            rate = 2000
            p = dnsperf(sorted(os.sched_getaffinity(0))[-1], s.port, qfile,
                        max(1, a.callgrind // rate), 4, rate)
            answered = dnsperf_result(p, a.callgrind // rate)
        finally:
            s.stop()
        ir, per_answer, batches = callgrind_figures(out)
        rows.append((name, ir, answered, per_answer, batches))
        log("%s: %d instructions in udp_serve, %.1f per worker_answer call, %d batches, "
            "%d answered (plus the readiness probes)" % (name, ir, per_answer, batches, answered))
    # udp_serve's share per answer moves with how many datagrams each
    # recvmmsg returned (timing under valgrind); worker_answer's does not.
    print("| binary | Ir in udp_serve | answers | batches (sendmmsg) | per answer, udp_serve | "
          "per answer, worker_answer |")
    print("|---|---|---|---|---|---|")
    for name, ir, n, per_answer, nb in rows:
        print("| %s | %d | %d | %d | %.0f | %.1f |" % (name, ir, n, nb, ir / n if n else 0,
                                                       per_answer))


def callgrind_figures(out):
    """Ir collected, worker_answer's inclusive Ir per call and the sendmmsg
    calls of a callgrind output (through callgrind_annotate, whose first
    list has one line per function, by inclusive cost)."""
    text = subprocess.run(["callgrind_annotate", "--inclusive=yes", out], capture_output=True,
                          text=True, timeout=120).stdout
    num = lambda s: int(s.replace(",", ""))
    found = {}
    calls = {}
    for line in text.splitlines():
        m = re.match(r"\s*([0-9,]+) \([ 0-9.]+%\)\s+\S*:(\w+) \[", line)
        if m and m.group(2) not in found:
            found[m.group(2)] = num(m.group(1))
        m = re.search(r"=> \S*:(\w+) \(([0-9,]+)x\)", line)
        if m:
            calls[m.group(1)] = max(calls.get(m.group(1), 0), num(m.group(2)))
    n = calls.get("worker_answer", 0)
    return (found.get("udp_serve", 0), found.get("worker_answer", 0) / n if n else 0.0,
            calls.get("sendmmsg", 0))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--gtmd", required=True)
    ap.add_argument("--gtmd-base", required=True)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--duration", type=int, default=4, help="seconds per run (4)")
    ap.add_argument("--rate", type=int, default=40000, help="queries a second in all (40000)")
    ap.add_argument("--clients", type=int, default=16, help="sockets per dnsperf (16)")
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--cpus", default=None, help="CPUs for dnsperf, e.g. 0,1 (the first two)")
    ap.add_argument("--callgrind", type=int, default=0, metavar="N",
                    help="instructions per answer over N queries instead")
    ap.add_argument("--workdir", default=None)
    a = ap.parse_args()
    workdir = a.workdir or tempfile.mkdtemp(prefix="spread-bench-")
    os.makedirs(workdir, exist_ok=True)
    qfile = write_zone(workdir)
    if a.callgrind:
        callgrind(a, workdir, qfile)
    else:
        spread(a, workdir, qfile)
    log("logs in %s" % workdir)


if __name__ == "__main__":
    main()

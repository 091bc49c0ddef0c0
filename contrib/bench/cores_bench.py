#!/usr/bin/env python3
"""cores_bench.py -- how answers per second scale with cores: gtmd, NSD, Knot.

THE RUN ON THE 16-CORE MACHINE (issue #55 item 3). Here, first:

    contrib/bench/bundle.sh cores-bundle      # GTMD=/path/to/gtmd if not build/gtmd

then on the machine (the run tool: carry ["cores-bundle"], timeout_s 600):

    python3 contrib/bench/cores_bench.py --bundle cores-bundle --cores 1,2,4,8 \
        --rounds 3 --duration 5 --servers gtmd,gtmd-1src,nsd,knot,echo \
        --budget 400 --json $OUT/cores.json 2>&1 | tee $OUT/cores.txt

3 rounds x 4 core counts x 5 servers x 5 s, plus 20 starts, dnsperf's own
start (about 0.1 s a run here) and its 1 s wait when a query was lost:
about 5.5 minutes; it prints its own estimate first (counting 1 s more a
run: 400 s). Past --budget seconds it starts no new N, finishes the rounds
under way for at most 60 s more, and keeps what it has. Rehearsed here
with --cores 1,2 and the same servers, rounds and a 4 s duration: 125 s
for 30 runs. With --servers gtmd,nsd,knot it is about 3.5 minutes.

gtmd beside gtmd-1src shows how much of its scaling the benchmark's
single client address took (dnsperf_start says why); echo is the ceiling
of the load generator and the kernel on N CPUs; nsd-1src or gtmd-pin
(pin_workers) may replace one of them.

For each N in --cores: every server is started with N workers (gtmd
"workers": N; NSD server-count N with reuseport; Knot udp-workers N), all
of them pinned to the first N CPUs this process may use
(sched_setaffinity, as taskset does), each on its own loopback port. Then
--rounds interleaved rounds, each measuring every server in turn (the order
rotated each round): one dnsperf per load CPU, pinned to CPUs N..N+P-1 (P
= --dnsperf-procs, default 8, fewer when the machine has fewer; when no CPU
is left, every CPU, shared with the server, and the table says so), for
--duration seconds, all started together, each from its own loopback
address (127.0.0.10, .11, ...; see dnsperf_start); the answers per second
are their sum. Then the servers stop and the next N starts. Same zone and
query mix for all (bench.py's: gen_zone.py, 10,000 names). Per N and
server: the median of the rounds, [min - max], the server's CPU (cores used
of N), answers per CPU-second, the dnsperfs' CPU (cores used of P: near P,
the load generator is the bound, not the server), queries lost; for gtmd
the busiest UDP worker's share of the messages (gtmd_worker_messages_total, scraped
outside the timed window). Then the scaling ratio: median at N / median at
the smallest N. JSON (--json) is written after every N, so a run cut short
keeps what it measured.

Servers: gtmd (as configured, udp_steering "cpu", not pinned), gtmd-pin
(the same with pin_workers true), gtmd-hash (udp_steering "hash"), nsd,
knot; any of them with "-1src" (gtmd-1src, nsd-1src) is measured with
every dnsperf sending from 127.0.0.1, in the same rounds. And echo: N
udp_echo processes sharing the port (bundle.sh builds it), no DNS work,
the most any server could answer on N CPUs with this load generator. Binaries by path (--gtmd, --nsd, --knotd, --dnsperf) or from a
bundle (bundle.sh). Nothing in /etc, no root needed (the ports are above
1024); nothing but python3 and the four binaries. Every process it starts
is in its own process group and stopped by pid, also on SIGTERM/SIGINT.
"""

import argparse
import json
import os
import re
import resource
import shutil
import signal
import socket
import statistics
import struct
import subprocess
import sys
import time
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
ORIGIN = "bench.test."
TOKEN = "cores-bench-token-0123456789abcdef"


def log(msg):
    print("[cores %s] %s" % (time.strftime("%H:%M:%S"), msg), flush=True)


def kernel_port():
    """A port free for UDP and TCP on 127.0.0.1, from the kernel."""
    for _ in range(50):
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as u:
            u.bind(("127.0.0.1", 0))
            port = u.getsockname()[1]
            with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as t:
                try:
                    t.bind(("127.0.0.1", port))
                    return port
                except OSError:
                    continue
    raise RuntimeError("no free port")


def query_wire(name, qid=0x1234):
    q = struct.pack(">HHHHHH", qid, 0x0100, 1, 0, 0, 0)
    for label in name.rstrip(".").split("."):
        q += bytes([len(label)]) + label.encode()
    return q + b"\x00" + struct.pack(">HH", 1, 1)


def answers(port, name):
    """True when the server on port answers name/A with data, authoritatively."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.settimeout(0.2)
        try:
            s.sendto(query_wire(name), ("127.0.0.1", port))
            data = s.recv(4096)
        except OSError:
            return False
    if len(data) < 12:
        return False
    flags, an = struct.unpack(">H", data[2:4])[0], struct.unpack(">H", data[6:8])[0]
    return (flags & 0xF) == 0 and bool(flags & 0x0400) and an > 0


def write(path, text):
    with open(path, "w") as f:
        f.write(text)


def task_cpu(pid):
    """CPU seconds of every thread of pid and of its children (NSD forks)."""
    tick = os.sysconf("SC_CLK_TCK")
    total = 0.0
    kids = {}
    for p in os.listdir("/proc"):
        if p.isdigit():
            try:
                st = open("/proc/%s/stat" % p).read()
            except OSError:
                continue
            f = st[st.rindex(")") + 2:].split()
            kids.setdefault(int(f[1]), []).append((int(p), int(f[11]) + int(f[12])))
    todo = [pid]
    try:
        st = open("/proc/%d/stat" % pid).read()
        f = st[st.rindex(")") + 2:].split()
        total += int(f[11]) + int(f[12])
    except OSError:
        pass
    while todo:
        p = todo.pop()
        for c, t in kids.get(p, []):
            total += t
            todo.append(c)
    return total / tick


class Server:
    """One server under test: its config in its own directory, its port."""

    kind = "?"

    def __init__(self, name, binary, workdir, workers, zone, cpus):
        self.name, self.binary, self.workers, self.zone = name, binary, workers, zone
        self.dir = os.path.join(workdir, "%s-%d" % (name, workers))
        os.makedirs(self.dir, exist_ok=True)
        self.cpus = cpus
        self.port = kernel_port()
        self.proc = None
        self.one_source = False  # make_server sets it
        self.log = os.path.join(self.dir, "stderr.log")

    def argv(self):
        raise NotImplementedError

    def start(self, probe, timeout=60.0):
        cpus = set(self.cpus)

        def child():
            os.setsid()
            os.sched_setaffinity(0, cpus)

        with open(self.log, "ab") as err:
            self.proc = subprocess.Popen(self.argv(), stdin=subprocess.DEVNULL, stdout=err,
                                         stderr=err, cwd=self.dir, preexec_fn=child)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError("%s exited (%s); see %s:\n%s" % (
                    self.name, self.proc.returncode, self.log, self.tail()))
            if answers(self.port, probe):
                return
            time.sleep(0.05)
        raise RuntimeError("%s did not answer %s in %.0f s; see %s:\n%s" % (
            self.name, probe, timeout, self.log, self.tail()))

    def tail(self, n=12):
        try:
            return "".join(open(self.log, errors="replace").readlines()[-n:])
        except OSError:
            return ""

    def cpu(self):
        return task_cpu(self.proc.pid) if self.proc else 0.0

    def worker_messages(self):
        return {}

    def stop(self):
        if not self.proc or self.proc.poll() is not None:
            return
        try:
            os.killpg(self.proc.pid, signal.SIGTERM)
        except ProcessLookupError:
            return
        try:
            self.proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(timeout=10)


class Gtmd(Server):
    def __init__(self, *a, extra=None, **k):
        super().__init__(*a, **k)
        self.admin = kernel_port()
        for t in ("read", "operate"):
            p = os.path.join(self.dir, t + ".token")
            write(p, TOKEN + "-" + t)
            os.chmod(p, 0o600)
        conf = {"listen": ["127.0.0.1:%d" % self.port], "workers": self.workers,
                "zones": [{"origin": ORIGIN, "file": self.zone}],
                "admin": {"listen": ["127.0.0.1:%d" % self.admin],
                          "read_token_file": "read.token",
                          "operate_token_file": "operate.token"}}
        conf.update(extra or {})
        self.conf = os.path.join(self.dir, "gtmd.json")
        write(self.conf, json.dumps(conf, indent=2))

    def argv(self):
        return [self.binary, "-c", self.conf]

    def worker_messages(self):
        """{udpN: messages} from /metrics (the admin thread is idle while timed)."""
        req = urllib.request.Request("http://127.0.0.1:%d/metrics" % self.admin,
                                     headers={"Authorization": "Bearer " + TOKEN + "-read"})
        try:
            with urllib.request.urlopen(req, timeout=5) as r:
                text = r.read().decode()
        except OSError:
            return {}
        return {m.group(1): int(m.group(2)) for m in re.finditer(
            r'^gtmd_worker_messages_total\{worker="(udp[0-9]+)"\} ([0-9]+)$', text, re.M)}


class Nsd(Server):
    def __init__(self, *a, reuseport=True, **k):
        super().__init__(*a, **k)
        d = self.dir
        self.conf = os.path.join(d, "nsd.conf")
        # As bench.py's, plus server-count and reuseport (NSD's advice for
        # several processes: one socket each, as gtmd and Knot have).
        write(self.conf, """server:
    ip-address: 127.0.0.1@{port}
    server-count: {n}
    reuseport: {reuse}
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
    tcp-count: 1024
    verbosity: 1
    rrl-ratelimit: 0
    rrl-whitelist-ratelimit: 0
    minimal-responses: yes
remote-control:
    control-enable: no
zone:
    name: "{origin}"
    zonefile: "{zone}"
""".format(port=self.port, n=self.workers, reuse="yes" if reuseport else "no", d=d,
           origin=ORIGIN, zone=self.zone))

    def argv(self):
        return [self.binary, "-d", "-c", self.conf]


class Knot(Server):
    def __init__(self, *a, **k):
        super().__init__(*a, **k)
        d = self.dir
        os.makedirs(os.path.join(d, "db"), exist_ok=True)
        self.conf = os.path.join(d, "knot.conf")
        write(self.conf, """server:
    rundir: "{d}"
    listen: 127.0.0.1@{port}
    udp-workers: {n}
    tcp-workers: 1
    background-workers: 1
log:
  - target: stderr
    any: warning
database:
    storage: "{d}/db"
template:
  - id: default
    storage: "{d}"
    semantic-checks: off
    journal-content: none
    zonefile-sync: -1
    zonefile-load: whole
zone:
  - domain: {origin}
    file: "{zone}"
""".format(port=self.port, n=self.workers, d=d, origin=ORIGIN, zone=self.zone))

    def argv(self):
        return [self.binary, "-c", self.conf]


class Echo(Server):
    """The harness's ceiling: N udp_echo processes on one port (SO_REUSEPORT),
    each echoing every datagram unchanged (dnsperf counts it an answer).
    No DNS work: what dnsperf reaches against it on N CPUs is the most any
    server could reach there with this load (bench.py's "echo", N wide)."""

    def __init__(self, *a, **k):
        super().__init__(*a, **k)
        self.procs = []

    def start(self, probe, timeout=30.0):
        cpus = set(self.cpus)

        def child():
            os.setsid()
            os.sched_setaffinity(0, cpus)

        env = dict(os.environ, ECHO_REUSEPORT="1")
        with open(self.log, "ab") as err:
            for _ in range(self.workers):
                self.procs.append(subprocess.Popen(
                    [self.binary, str(self.port)], stdin=subprocess.DEVNULL, stdout=err,
                    stderr=err, cwd=self.dir, preexec_fn=child, env=env))
        self.proc = self.procs[0]
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if any(p.poll() is not None for p in self.procs):
                raise RuntimeError("udp_echo exited; see %s:\n%s" % (self.log, self.tail()))
            with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as q:
                q.settimeout(0.2)
                try:
                    q.sendto(query_wire(probe), ("127.0.0.1", self.port))
                    q.recv(4096)
                    return
                except OSError:
                    pass
        raise RuntimeError("udp_echo did not echo in %.0f s" % timeout)

    def cpu(self):
        return sum(task_cpu(p.pid) for p in self.procs)

    def stop(self):
        for p in self.procs:
            self.proc = p
            Server.stop(self)
        self.proc = None


def make_server(name, a, workdir, n, zone, cpus):
    """Server name; with "-1src" after it (gtmd-1src, nsd-1src): the same,
    every dnsperf sending from 127.0.0.1 (what --one-source does to all)."""
    base = name[:-len("-1src")] if name.endswith("-1src") else name
    if base.startswith("gtmd"):
        extra = json.loads(a.gtmd_config)
        if base == "gtmd-pin":
            extra["pin_workers"] = True
        elif base == "gtmd-hash":
            extra["udp_steering"] = "hash"
        elif base != "gtmd":
            raise SystemExit("unknown server %s" % name)
        s = Gtmd(name, a.gtmd, workdir, n, zone, cpus, extra=extra)
    elif base == "nsd":
        s = Nsd(name, a.nsd, workdir, n, zone, cpus, reuseport=not a.nsd_no_reuseport)
    elif base == "knot":
        s = Knot(name, a.knotd, workdir, n, zone, cpus)
    elif base == "echo":
        s = Echo(name, a.udp_echo, workdir, n, zone, cpus)
    else:
        raise SystemExit("unknown server %s (gtmd, gtmd-pin, gtmd-hash, nsd, knot, echo, each "
                         "optionally with -1src)" % name)
    s.one_source = a.one_source or name != base
    return s


def dnsperf_start(a, k, cpu, port, qfile, outstanding, one_source):
    """dnsperf number k, on cpu. Each sends from its own address, 127.0.0.(10+k),
    unless --one-source: the kernel takes an IPv4 packet's ID from a counter
    per (source, destination, protocol) that every CPU increments (a DF
    datagram from an unconnected socket too: ip_select_ident), so with
    one client address every request and every reply, on every CPU,
    writes the same cache line, whatever the server. Clients of a real
    server come from many addresses."""
    argv = [a.dnsperf, "-s", "127.0.0.1", "-p", str(port), "-d", qfile, "-l", str(a.duration),
            "-c", str(a.clients), "-q", str(outstanding), "-t", "1", "-e"]
    if not one_source:
        argv += ["-a", "127.0.0.%d" % (10 + k)]

    def child():
        os.setsid()
        os.sched_setaffinity(0, {cpu})

    return subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True, preexec_fn=child)


def dnsperf_result(p, seconds):
    try:
        out, _ = p.communicate(timeout=seconds + 30)
    except subprocess.TimeoutExpired:
        os.killpg(p.pid, signal.SIGKILL)
        out, _ = p.communicate(timeout=10)
    r = {}
    for key, pat in (("completed", r"Queries completed:\s+(\d+)"),
                     ("lost", r"Queries lost:\s+(\d+)"),
                     ("qps", r"Queries per second:\s+([0-9.]+)")):
        m = re.search(pat, out)
        r[key] = float(m.group(1)) if m else 0.0
    if not re.search(r"Queries per second", out):
        r["error"] = out[-400:]
    return r


def measure(a, s, load_cpus, qfile, n):
    """One timed run of every dnsperf against s. Scrapes outside the window."""
    m0 = s.worker_messages()
    # Outstanding queries: 100 per server worker in all (bench.py's 100 for
    # one), spread over the dnsperf processes: enough to keep N workers
    # busy, not so many that one socket's buffer overflows into losses.
    outstanding = max(8, (a.outstanding * n) // len(load_cpus))
    c0 = s.cpu()
    ru0 = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.monotonic()
    procs = [dnsperf_start(a, k, c, s.port, qfile, outstanding, s.one_source)
             for k, c in enumerate(load_cpus)]
    res = [dnsperf_result(p, a.duration) for p in procs]
    wall = time.monotonic() - t0
    ru1 = resource.getrusage(resource.RUSAGE_CHILDREN)
    c1 = s.cpu()
    # The dnsperfs' CPU (waited for: in RUSAGE_CHILDREN; the servers are
    # not, until they stop): near len(load_cpus) cores, the load generator
    # and not the server may be what bounds the answers.
    load_cpu = ru1.ru_utime + ru1.ru_stime - ru0.ru_utime - ru0.ru_stime
    m1 = s.worker_messages()
    errors = [r["error"] for r in res if "error" in r]
    qps = sum(r["qps"] for r in res)
    cpu = c1 - c0
    msgs = [m1[k] - m0.get(k, 0) for k in sorted(m1)]
    out = {"qps": qps, "lost": int(sum(r["lost"] for r in res)),
           # Over the load's duration: the wall time also has dnsperf's
           # start and its wait (-t 1) for lost queries, when neither works.
           "cores_used": cpu / a.duration,
           "dnsperf_cores_used": load_cpu / a.duration,
           "wall_s": wall,
           "per_cpu_s": sum(r["completed"] for r in res) / cpu if cpu > 0 else 0.0,
           "outstanding_per_dnsperf": outstanding}
    if msgs and sum(msgs):
        out["busiest_worker_share"] = max(msgs) / sum(msgs)
        out["worker_messages"] = msgs
    if errors:
        out["dnsperf_errors"] = errors
    return out


def cpu_topology(cpus):
    """Each CPU's hyperthread siblings, so a reader sees whether N CPUs are N cores."""
    out = {}
    for c in cpus:
        try:
            out[c] = open("/sys/devices/system/cpu/cpu%d/topology/thread_siblings_list" %
                          c).read().strip()
        except OSError:
            out[c] = "?"
    return out


def med(xs):
    return statistics.median(xs) if xs else 0.0


def summarize(results, servers, cores, echo=True):
    """The summary rows; echo: prints the table and the scaling ratios."""
    rows = []
    say = log if echo else (lambda msg: None)
    say("")
    say("%-10s %3s %12s %21s %8s %11s %8s %8s %9s" % (
        "server", "N", "answers/s", "[min - max]", "cores", "per CPU-s", "dnsperf", "lost",
        "busiest"))
    for name in servers:
        base = None
        for n in cores:
            runs = results.get(name, {}).get(str(n), [])
            if not runs:
                continue
            q = [r["qps"] for r in runs]
            row = {"server": name, "n": n, "qps_median": med(q), "qps_min": min(q),
                   "qps_max": max(q),
                   "cores_used_median": med([r["cores_used"] for r in runs]),
                   "dnsperf_cores_median": med([r["dnsperf_cores_used"] for r in runs]),
                   "per_cpu_s_median": med([r["per_cpu_s"] for r in runs]),
                   "lost_total": sum(r["lost"] for r in runs)}
            shares = [r["busiest_worker_share"] for r in runs if "busiest_worker_share" in r]
            if shares:
                row["busiest_worker_share_median"] = med(shares)
            if base is None:
                base = (n, row["qps_median"])
            row["scaling_vs_n%d" % base[0]] = row["qps_median"] / base[1] if base[1] else 0.0
            row["scaling"] = row["scaling_vs_n%d" % base[0]]
            rows.append(row)
            say("%-10s %3d %12.0f [%8.0f - %8.0f] %8.2f %11.0f %8.2f %8d %9s" % (
                name, n, row["qps_median"], row["qps_min"], row["qps_max"],
                row["cores_used_median"], row["per_cpu_s_median"], row["dnsperf_cores_median"],
                row["lost_total"],
                "%.1f %%" % (100 * row["busiest_worker_share_median"]) if shares else "-"))
    say("")
    say("scaling (median answers/s at N / at N=%d)" % cores[0])
    say("%-10s " % "server" + " ".join("%7s" % ("N=%d" % n) for n in cores))
    for name in servers:
        line = "%-10s " % name
        for n in cores:
            r = [x for x in rows if x["server"] == name and x["n"] == n]
            line += " %7s" % ("%.2fx" % r[0]["scaling"] if r else "-")
        say(line)
    return rows


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--bundle", help="a bundle.sh directory: its gtmd, nsd, knotd, dnsperf")
    ap.add_argument("--gtmd")
    ap.add_argument("--nsd")
    ap.add_argument("--knotd")
    ap.add_argument("--dnsperf")
    ap.add_argument("--udp-echo", help="udp_echo (contrib/bench/udp_echo.c) for server echo")
    ap.add_argument("--cores", default="1,2,4,8", help="worker counts N (1,2,4,8)")
    ap.add_argument("--servers", default="gtmd,nsd,knot",
                    help="of gtmd, gtmd-pin, gtmd-hash, nsd, knot (gtmd,nsd,knot)")
    ap.add_argument("--rounds", type=int, default=3, help="interleaved rounds (3)")
    ap.add_argument("--duration", type=int, default=5, help="seconds per dnsperf run (5)")
    ap.add_argument("--dnsperf-procs", type=int, default=8,
                    help="dnsperf processes, one per CPU after the server's (8)")
    ap.add_argument("--clients", type=int, default=4, help="dnsperf -c per process (4)")
    ap.add_argument("--outstanding", type=int, default=100,
                    help="outstanding queries per server worker, over all dnsperfs (100)")
    ap.add_argument("--names", type=int, default=10000, help="owner names in the zone (10000)")
    ap.add_argument("--gtmd-config", default="{}", help="more gtmd config keys, JSON")
    ap.add_argument("--one-source", action="store_true",
                    help="every dnsperf sends from 127.0.0.1 (default: 127.0.0.10, .11, ...)")
    ap.add_argument("--nsd-no-reuseport", action="store_true",
                    help="NSD's processes share one socket (NSD's default)")
    ap.add_argument("--budget", type=float, default=0,
                    help="seconds: measure nothing new past this (0: no limit)")
    ap.add_argument("--workdir", default="/tmp/cores_bench")
    ap.add_argument("--json", help="write the results here (after every N)")
    a = ap.parse_args()
    t_all = time.monotonic()

    for tool in ("gtmd", "nsd", "knotd", "dnsperf", "udp_echo"):
        if getattr(a, tool) is None:
            if a.bundle:
                setattr(a, tool, os.path.join(os.path.abspath(a.bundle), tool))
            else:
                setattr(a, tool, tool)
        elif os.path.sep in getattr(a, tool):
            setattr(a, tool, os.path.abspath(getattr(a, tool)))
    cores = [int(x) for x in a.cores.split(",") if x]
    servers = [s for s in a.servers.split(",") if s]
    need = {"nsd": a.nsd, "knot": a.knotd, "echo": a.udp_echo}
    for s in list(servers):
        b = need.get(s.replace("-1src", ""), a.gtmd if s.startswith("gtmd") else None)
        if b and not (os.access(b, os.X_OK) if os.path.sep in b else shutil.which(b)):
            log("no %s at %s: left out" % (s, b))
            servers.remove(s)
    allowed = sorted(os.sched_getaffinity(0))
    if max(cores) > len(allowed):
        raise SystemExit("N=%d but only %d CPUs allowed" % (max(cores), len(allowed)))
    os.makedirs(a.workdir, exist_ok=True)
    wd = os.path.abspath(a.workdir)
    topo = cpu_topology(allowed)
    log("hyperthread siblings: %s" % ", ".join(
        "%d:%s" % (c, topo[c]) for c in allowed[:max(cores) + a.dnsperf_procs]))

    est = a.rounds * len(cores) * len(servers) * (a.duration + 1.0) + \
        len(cores) * len(servers) * 1.5 + 10
    log("%d CPUs allowed %s; servers %s; N %s; %d rounds of %d s: about %.0f s in all" % (
        len(allowed), "%d-%d" % (allowed[0], allowed[-1]), ",".join(servers),
        ",".join(map(str, cores)), a.rounds, a.duration, est))

    zone = os.path.join(wd, "bench-%d.zone" % a.names)
    qfile = os.path.join(wd, "queries-%d.txt" % a.names)
    probefile = zone + ".probe"
    if not all(os.path.exists(f) for f in (zone, qfile, probefile)):
        log("generating the zone (%d names) and queries with gen_zone.py" % a.names)
        out = subprocess.run([sys.executable, os.path.join(HERE, "gen_zone.py"), "--zone", zone,
                              "--names", str(a.names), "--queries", qfile],
                             check=True, capture_output=True, text=True, timeout=600)
        write(probefile, out.stdout)
    probe = open(probefile).read().strip().splitlines()[-1]

    report = {"argv": sys.argv, "cpus_allowed": allowed, "topology": topo,
              "servers": servers, "cores": cores, "rounds": a.rounds, "duration": a.duration,
              "binaries": {k: getattr(a, k) for k in ("gtmd", "nsd", "knotd", "dnsperf", "udp_echo")},
              "load": {}, "runs": {}, "summary": [], "notes": []}
    started = []

    def on_signal(sig, frame):
        raise SystemExit("signal %d" % sig)

    signal.signal(signal.SIGTERM, on_signal)
    try:
        for n in cores:
            if a.budget and time.monotonic() - t_all > a.budget:
                report["notes"].append("stopped before N=%d: past --budget" % n)
                log("past --budget %.0f s: N=%d and after not measured" % (a.budget, n))
                break
            srv_cpus = allowed[:n]
            load = allowed[n:n + a.dnsperf_procs]
            shared = not load
            if shared:
                load = allowed[:a.dnsperf_procs]
            report["load"][str(n)] = {"server_cpus": srv_cpus, "dnsperf_cpus": load,
                                      "shared": shared}
            log("N=%d: servers on CPUs %s, dnsperf on %s%s" % (
                n, srv_cpus, load, " (SHARED with the servers: no CPU left)" if shared else ""))
            group = []
            for name in servers:
                s = make_server(name, a, wd, n, zone, srv_cpus)
                started.append(s)
                s.start(probe)
                group.append(s)
            for rnd in range(a.rounds):
                k = rnd % len(group)
                for s in group[k:] + group[:k]:
                    if a.budget and time.monotonic() - t_all > a.budget + 60:
                        break
                    r = measure(a, s, load, qfile, n)
                    r["round"] = rnd + 1
                    report["runs"].setdefault(s.name, {}).setdefault(str(n), []).append(r)
                    log("N=%d round %d %-9s %9.0f answers/s  %.2f cores  %8.0f per CPU-s  "
                        "dnsperf %.2f of %d cores  lost %d%s%s" % (
                            n, rnd + 1, s.name, r["qps"], r["cores_used"], r["per_cpu_s"],
                            r["dnsperf_cores_used"], len(load),
                            r["lost"],
                            "  busiest worker %.1f %%" % (100 * r["busiest_worker_share"])
                            if "busiest_worker_share" in r else "",
                            "  DNSPERF ERROR: %s" % r["dnsperf_errors"][0][-200:]
                            if "dnsperf_errors" in r else ""))
            for s in group:
                if not s.proc or s.proc.poll() is not None:
                    report["notes"].append("%s N=%d had exited: %s" % (s.name, n, s.tail(3)))
                s.stop()
            report["summary"] = summarize(report["runs"], servers, cores, echo=False)
            if a.json:
                write(a.json, json.dumps(report, indent=1))
    finally:
        for s in started:
            s.stop()
    report["summary"] = summarize(report["runs"], servers, cores)
    report["total_s"] = time.monotonic() - t_all
    if a.json:
        write(a.json, json.dumps(report, indent=1))
        log("wrote %s" % a.json)
    log("done in %.0f s" % report["total_s"])


if __name__ == "__main__":
    main()

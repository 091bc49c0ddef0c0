#!/usr/bin/python3
"""bench.py -- throughput of gtmd against NSD, Knot and gdnsd on the same zone.

See contrib/bench/README.md. In short: generates a zone and a query file
(gen_zone.py), starts every server by hand on its own loopback port with a
generated config, pinned to core 0 (taskset), and runs dnsperf pinned to
core 1 against each in alternation, in these modes:

  pinned-udp   server alone on core 0, no CPU limit (on 2 cores this is
               usually bounded by dnsperf, not by the server)
  quota-udp    same, plus a CFS CPU quota (default 25% of one core) on the
               server's cgroup; QPS per core = QPS / quota
  quota-tcp    the same over TCP (dnsperf -m tcp)
  rate-udp     no quota, a fixed offered load (dnsperf -Q, default 100k QPS)
               that every server sustains; efficiency = QPS / server CPU
  (pinned-tcp and rate-tcp exist too)

plus a UDP/TCP echo program (udp_echo.c) measured the same way, which is the
ceiling of this harness. Server gtmd-policy (bench_policy.py) is gtmd with
policy names, sent a mix with --policy-mix of them. Then loads a 1,000,000-record zone in gtmd and Knot
and reports the time to the first answer, load_ms and RSS. Prints one table
at the end and keeps it in WORKDIR/results-*.txt (and .json).

Everything is bounded in time, and every process it starts is stopped by pid
(process group) on exit.
"""

import argparse
import json
import os
import random
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

HERE = os.path.dirname(os.path.abspath(__file__))
TOP = os.path.abspath(os.path.join(HERE, "..", ".."))
ORIGIN = "bench.test."

# --------------------------------------------------------------------------
# small helpers


def log(msg):
    print("[bench %s] %s" % (time.strftime("%H:%M:%S"), msg), file=sys.stderr, flush=True)


def port_free(port):
    for typ in (socket.SOCK_DGRAM, socket.SOCK_STREAM):
        s = socket.socket(socket.AF_INET, typ)
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
        finally:
            s.close()
    return True


def write(path, text):
    with open(path, "w") as f:
        f.write(text)


# --------------------------------------------------------------------------
# DNS over UDP, enough for probes and the sanity check


def dns_query(name, qtype, qid, edns=True):
    types = {"A": 1, "NS": 2, "CNAME": 5, "SOA": 6, "MX": 15, "TXT": 16, "AAAA": 28}
    wire = b""
    for label in name.rstrip(".").split("."):
        if label:
            wire += bytes([len(label)]) + label.encode()
    wire += b"\0"
    hdr = struct.pack("!HHHHHH", qid, 0, 1, 0, 0, 1 if edns else 0)
    msg = hdr + wire + struct.pack("!HH", types[qtype], 1)
    if edns:
        msg += b"\0" + struct.pack("!HHIH", 41, 1232, 0, 0)
    return msg


def dns_ask(port, name, qtype, timeout=0.5, edns=True):
    """Returns (rcode, aa, ancount, nscount, size) or None on timeout."""
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.settimeout(timeout)
    qid = random.randrange(65536)
    try:
        s.sendto(dns_query(name, qtype, qid, edns), ("127.0.0.1", port))
        while True:
            data, _ = s.recvfrom(65535)
            if len(data) >= 12 and struct.unpack("!H", data[:2])[0] == qid:
                break
    except (socket.timeout, OSError):
        return None
    finally:
        s.close()
    _, flags, _, an, ns, _ = struct.unpack("!HHHHHH", data[:12])
    return (flags & 0xF, bool(flags & 0x0400), an, ns, len(data))


def wait_answer(port, name, deadline, proc=None, interval=0.01):
    """Polls until the server answers name/A authoritatively with data."""
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            return False
        r = dns_ask(port, name, "A", timeout=0.2)
        if r and r[0] == 0 and r[1] and r[2] > 0:
            return True
        time.sleep(interval)
    return False


# --------------------------------------------------------------------------
# CPU limiting: cgroup v2, cgroup v1 cpu controller, or systemd-run


class Limiter:
    """Puts each server in its own cgroup whose CFS quota can be switched
    between unlimited (pinned mode) and quota mode while it runs."""

    def __init__(self, percent):
        self.percent = percent
        self.kind = None
        self.root = None
        self.groups = {}
        self.why = ""
        self._detect()

    def _detect(self):
        # cgroup v2: a cgroup2 mount whose root lists cpu in subtree_control
        # (or lets us enable it there).
        v2 = None
        with open("/proc/self/mounts") as f:
            for line in f:
                p = line.split()
                if p[2] == "cgroup2":
                    v2 = p[1]
                    break
        notes = []
        if v2:
            try:
                ctl = open(os.path.join(v2, "cgroup.controllers")).read().split()
            except OSError:
                ctl = []
            sub = os.path.join(v2, "cgroup.subtree_control")
            if "cpu" in ctl:
                try:
                    if "cpu" not in open(sub).read().split():
                        write(sub, "+cpu")
                    if "cpu" in open(sub).read().split():
                        self.kind, self.root = "cgroup2", v2
                        return
                except OSError as e:
                    notes.append("cgroup v2 at %s: cannot enable cpu (%s)" % (v2, e))
            else:
                notes.append("cgroup v2 at %s has no cpu controller (%s)" % (v2, " ".join(ctl)
                                                                             or "none"))
        # cgroup v1 cpu controller (hybrid hierarchy)
        with open("/proc/self/mounts") as f:
            for line in f:
                p = line.split()
                if p[2] == "cgroup" and "cpu" in p[3].split(",") and \
                        os.path.exists(os.path.join(p[1], "cpu.cfs_quota_us")):
                    t = os.path.join(p[1], "gtmbench-probe")
                    try:
                        os.makedirs(t, exist_ok=True)
                        os.rmdir(t)
                        self.kind, self.root = "cgroup1", p[1]
                        self.why = "; ".join(notes + ["using cgroup v1 cpu controller at %s "
                                                      "(cpu.cfs_quota_us)" % p[1]])
                        return
                    except OSError as e:
                        notes.append("cgroup v1 at %s not writable (%s)" % (p[1], e))
        if shutil.which("systemd-run"):
            r = subprocess.run(["systemd-run", "--scope", "-q", "-p", "CPUQuota=50%", "true"],
                               capture_output=True, timeout=20)
            if r.returncode == 0:
                self.kind = "systemd"
                self.why = "; ".join(notes + ["using systemd-run --scope"])
                return
            notes.append("systemd-run --scope failed: %s" % r.stderr.decode().strip())
        self.why = "; ".join(notes) or "no cgroup found"

    @property
    def usable(self):
        return self.kind is not None

    def wrap(self, name, argv):
        """argv to start a server in its group; systemd needs a wrapper."""
        if self.kind == "systemd":
            return ["systemd-run", "--scope", "-q", "--unit", "gtmbench-%s-%d" % (name, os.getpid()),
                    "-p", "CPUAccounting=yes"] + argv
        return argv

    def prepare(self, name):
        if self.kind in ("cgroup1", "cgroup2"):
            d = os.path.join(self.root, "gtmbench-%s-%d" % (name, os.getpid()))
            os.makedirs(d, exist_ok=True)
            self.groups[name] = d
            self.set(name, False)

    def preexec(self, name):
        d = self.groups.get(name)

        def fn():
            os.setsid()
            if d:
                with open(os.path.join(d, "cgroup.procs"), "w") as f:
                    f.write(str(os.getpid()))
        return fn

    def set(self, name, limited):
        quota = int(self.percent * 1000)  # of a 100 ms period
        if self.kind == "cgroup2":
            write(os.path.join(self.groups[name], "cpu.max"),
                  "%d 100000" % quota if limited else "max 100000")
        elif self.kind == "cgroup1":
            d = self.groups[name]
            write(os.path.join(d, "cpu.cfs_period_us"), "100000")
            write(os.path.join(d, "cpu.cfs_quota_us"), str(quota if limited else -1))
        elif self.kind == "systemd":
            subprocess.run(["systemctl", "set-property", "--runtime",
                            "gtmbench-%s-%d.scope" % (name, os.getpid()),
                            "CPUQuota=%d%%" % self.percent if limited else "CPUQuota="],
                           check=False, timeout=20)

    def throttled(self, name):
        d = self.groups.get(name)
        if not d:
            return None
        try:
            for line in open(os.path.join(d, "cpu.stat")):
                k, v = line.split()
                if k == "nr_throttled":
                    return int(v)
        except OSError:
            pass
        return None

    def cleanup(self):
        for d in self.groups.values():
            for _ in range(50):
                try:
                    os.rmdir(d)
                    break
                except OSError:
                    time.sleep(0.1)


# --------------------------------------------------------------------------
# CPU time of a process tree, from /proc


def tree_pids(root):
    children = {}
    for p in os.listdir("/proc"):
        if not p.isdigit():
            continue
        try:
            st = open("/proc/%s/stat" % p).read()
        except OSError:
            continue
        ppid = int(st[st.rindex(")") + 2:].split()[1])
        children.setdefault(ppid, []).append(int(p))
    out, todo = [], [root]
    while todo:
        p = todo.pop()
        out.append(p)
        todo.extend(children.get(p, []))
    return out


def cpu_seconds(pids):
    tick = os.sysconf("SC_CLK_TCK")
    total = 0
    for p in pids:
        try:
            st = open("/proc/%d/stat" % p).read()
        except OSError:
            continue
        f = st[st.rindex(")") + 2:].split()
        total += int(f[11]) + int(f[12])  # utime stime (all threads)
    return total / tick


def busy_seconds():
    """user+nice+system seconds of cpu0 and cpu1 (interrupt time excluded,
    as it is from process times)."""
    tick = os.sysconf("SC_CLK_TCK")
    total = 0
    for line in open("/proc/stat"):
        p = line.split()
        if p[0] in ("cpu0", "cpu1"):
            total += int(p[1]) + int(p[2]) + int(p[3])
    return total / tick


def quiet_wait(limit_s, threshold=0.10):
    """Waits (at most limit_s) until the two cores are nearly idle, so a run
    does not start while a build or a test suite is using them. Returns the
    seconds waited."""
    t0 = time.monotonic()
    while True:
        b0 = busy_seconds()
        time.sleep(0.5)
        if (busy_seconds() - b0) / 0.5 < threshold or time.monotonic() - t0 >= limit_s:
            return time.monotonic() - t0


def vm_status(pid):
    out = {}
    try:
        for line in open("/proc/%d/status" % pid):
            if line.startswith(("VmRSS:", "VmHWM:")):
                k, v = line.split(":")
                out[k + ":"] = int(v.split()[0])  # kB
    except OSError:
        pass
    return out


# --------------------------------------------------------------------------
# the servers


class Server:
    def __init__(self, name, port, workdir, limiter):
        self.name = name
        self.port = port
        self.dir = os.path.join(workdir, name)
        self.limiter = limiter
        self.proc = None
        self.extra = []  # more processes (echo runs one for UDP, one for TCP)
        self.qfile = None  # its own query file (gtmd-policy), else the common one
        os.makedirs(self.dir, exist_ok=True)
        self.errlog = os.path.join(self.dir, "stderr.log")

    def commands(self, zone):
        raise NotImplementedError

    def start(self, zone, probe, cpu="0", timeout=60, limit=True):
        cmds = self.commands(zone)
        self.procs = []
        self.t_start = time.monotonic()
        for argv in cmds:
            full = (["taskset", "-c", cpu] if cpu is not None else []) + argv
            if limit:
                full = self.limiter.wrap(self.name, full)
            err = open(self.errlog, "ab")
            p = subprocess.Popen(full, stdin=subprocess.DEVNULL, stdout=err, stderr=err,
                                 cwd=self.dir,
                                 preexec_fn=self.limiter.preexec(self.name) if limit
                                 else os.setsid)
            self.procs.append(p)
        self.proc = self.procs[0]
        ok = self.ready(probe, time.monotonic() + timeout)
        self.t_ready = time.monotonic()
        if not ok:
            # Not yet in the caller's list of started servers: stop it here,
            # or a server that runs but answers wrongly outlives the script.
            tail = self.tail()
            self.stop()
            raise RuntimeError("%s did not come up on port %d; see %s:\n%s" % (
                self.name, self.port, self.errlog, tail))

    def ready(self, probe, deadline):
        return wait_answer(self.port, probe, deadline, self.proc)

    def alive(self):
        return all(p.poll() is None for p in self.procs)

    def pids(self):
        out = []
        for p in self.procs:
            if p.poll() is None:
                out.extend(tree_pids(p.pid))
        return out

    def tail(self, n=15):
        try:
            return "".join(open(self.errlog, errors="replace").readlines()[-n:])
        except OSError:
            return ""

    def stop(self):
        for p in getattr(self, "procs", []):
            if p.poll() is None:
                try:
                    os.killpg(p.pid, signal.SIGTERM)
                except ProcessLookupError:
                    pass
        for p in getattr(self, "procs", []):
            try:
                p.wait(timeout=10)
            except subprocess.TimeoutExpired:
                try:
                    os.killpg(p.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
                p.wait(timeout=10)
        self.procs = []


class Gtmd(Server):
    def __init__(self, *a, binary=None, workers=1, extra=None, **k):
        super().__init__(*a, **k)
        self.binary = binary
        self.workers = workers
        self.extra = extra or {}  # more top-level keys (--gtmd-config)

    def commands(self, zone):
        cfg = os.path.join(self.dir, "gtmd.json")
        c = {
            "listen": ["127.0.0.1:%d" % self.port],
            "workers": self.workers,
            "zones": [{"origin": ORIGIN, "file": zone}],
            "tcp": {"max_connections": 1024, "idle_timeout": 30, "message_timeout": 10},
        }
        c.update(self.extra)
        write(cfg, json.dumps(c, indent=2))
        return [[self.binary, "-c", cfg]]

    def load_ms(self):
        m = re.findall(r"event=start .*load_ms=([0-9.]+)", open(self.errlog).read())
        return float(m[-1]) if m else None


class Nsd(Server):
    def commands(self, zone):
        d = self.dir
        cfg = os.path.join(d, "nsd.conf")
        write(cfg, """server:
    ip-address: 127.0.0.1@{port}
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
    tcp-count: 1024
    tcp-timeout: 30
    verbosity: 1
    # Response rate limiting is on by default in Debian's NSD (200 qps per
    # /24) and would drop most of a benchmark from 127.0.0.1: turn it off.
    rrl-ratelimit: 0
    rrl-whitelist-ratelimit: 0
    # Like Knot, gdnsd and gtmd: no authority NS / glue on positive answers.
    minimal-responses: yes
remote-control:
    control-enable: no
zone:
    name: "{origin}"
    zonefile: "{zone}"
""".format(port=self.port, d=d, origin=ORIGIN, zone=zone))
        for f in ("zone.list", "xfrd.state", "nsd.pid"):
            try:
                os.unlink(os.path.join(d, f))
            except OSError:
                pass
        return [["nsd", "-d", "-c", cfg]]


class Knot(Server):
    def commands(self, zone):
        d = self.dir
        shutil.rmtree(os.path.join(d, "db"), ignore_errors=True)
        os.makedirs(os.path.join(d, "db"))
        cfg = os.path.join(d, "knot.conf")
        write(cfg, """server:
    rundir: "{d}"
    listen: 127.0.0.1@{port}
    udp-workers: 1
    tcp-workers: 1
    background-workers: 1
    tcp-max-clients: 1024
    tcp-idle-timeout: 30
log:
  - target: stderr
    any: info
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
""".format(port=self.port, d=d, origin=ORIGIN, zone=zone))
        return [["knotd", "-c", cfg]]


class Gdnsd(Server):
    def commands(self, zone):
        d = self.dir
        for sub in ("zones", "run", "state"):
            os.makedirs(os.path.join(d, sub), exist_ok=True)
        zf = os.path.join(d, "zones", ORIGIN.rstrip("."))
        if os.path.lexists(zf):
            os.unlink(zf)
        os.symlink(zone, zf)
        write(os.path.join(d, "config"), """options => {{
  listen => [ 127.0.0.1:{port} ]
  udp_threads => 1
  tcp_threads => 1
  tcp_clients_per_thread => 1024
  tcp_timeout => 30
  run_dir => {d}/run
  state_dir => {d}/state
}}
""".format(port=self.port, d=d))
        return [["gdnsd", "-c", d, "start"]]


class Echo(Server):
    def __init__(self, *a, binary=None, **k):
        super().__init__(*a, **k)
        self.binary = binary

    def commands(self, zone):
        return [[self.binary, str(self.port)], [self.binary, "-t", str(self.port)]]

    def ready(self, probe, deadline):
        while time.monotonic() < deadline:
            if not self.alive():
                return False
            if dns_ask(self.port, probe, "A", timeout=0.2) is not None:
                try:
                    socket.create_connection(("127.0.0.1", self.port), timeout=0.2).close()
                    return True
                except OSError:
                    pass
            time.sleep(0.02)
        return False


# --------------------------------------------------------------------------
# dnsperf


def dnsperf(port, qfile, seconds, tcp, clients, outstanding, edns, rate=0, binary=False):
    """binary: qfile holds wire messages (dnsperf -B), EDNS included."""
    argv = ["taskset", "-c", "1", "dnsperf", "-s", "127.0.0.1", "-p", str(port), "-d", qfile,
            "-l", str(seconds), "-c", str(clients), "-q", str(outstanding), "-t", "2"]
    if binary:
        argv += ["-B"]
        edns = False
    if rate:
        argv += ["-Q", str(rate)]
    if tcp:
        argv += ["-m", "tcp"]
    if edns:
        argv += ["-e"]
    ru0 = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.monotonic()
    r = subprocess.run(argv, capture_output=True, text=True, timeout=seconds + 30)
    wall = time.monotonic() - t0
    ru1 = resource.getrusage(resource.RUSAGE_CHILDREN)
    out = r.stdout + r.stderr
    res = {"rc": r.returncode, "raw": out,
           "client_cpu": (ru1.ru_utime + ru1.ru_stime - ru0.ru_utime - ru0.ru_stime) / wall}
    m = re.search(r"Queries per second:\s+([0-9.]+)", out)
    res["qps"] = float(m.group(1)) if m else 0.0
    m = re.search(r"Queries sent:\s+(\d+)", out)
    res["sent"] = int(m.group(1)) if m else 0
    m = re.search(r"Queries lost:\s+(\d+)", out)
    res["lost"] = int(m.group(1)) if m else 0
    m = re.search(r"Response codes:\s+(.*)", out)
    res["rcodes"] = m.group(1).strip() if m else ""
    m = re.search(r"Average Latency \(s\):\s+([0-9.]+)", out)
    res["lat"] = float(m.group(1)) if m else 0.0
    m = re.search(r"Average packet size:\s+request (\d+), response (\d+)", out)
    res["resp_size"] = int(m.group(2)) if m else 0
    return res


# --------------------------------------------------------------------------
# sanity check: does every server give the expected kind of answer?

EXPECT = {
    # category: (rcode, aa, answer>0, authority>0)
    "hit": (0, True, True, None),
    "nxdomain": (3, True, False, True),
    "wildcard": (0, True, True, None),
    "cname": (0, True, True, None),
    "referral": (0, False, False, True),
}


def sanity(servers, qfile, catfile, n=300):
    lines = open(qfile).read().splitlines()[:n]
    cats = open(catfile).read().splitlines()[:n]
    report = {}
    for s in servers:
        if s.name == "echo":
            continue
        per = {}
        for line, cat in zip(lines, cats):
            name, qtype = line.split()
            r = dns_ask(s.port, name, qtype, timeout=1.0)
            ok = False
            if r:
                rc, aa, an, ns, size = r
                e = EXPECT[cat]
                ok = rc == e[0] and aa == e[1] and (an > 0) == e[2] and \
                    (e[3] is None or (ns > 0) == e[3])
            t = per.setdefault(cat, [0, 0, 0, 0])
            t[0] += 1
            t[1] += ok
            if r:
                t[2] += r[2]
                t[3] += r[4]
        report[s.name] = per
    return report


# --------------------------------------------------------------------------
# the run


def measured_run(a, s, mode, rnd, qfile, limiter, wait_budget, notes):
    """One dnsperf run against server s; returns dnsperf's figures plus the
    CPU the server, the client and everything else used meanwhile."""
    waited = quiet_wait(min(15.0, max(0.0, wait_budget[0])))
    wait_budget[0] -= waited
    if waited > 1.0:
        log("waited %.1f s for the cores to be quiet" % waited)
    pids = s.pids()
    thr0 = limiter.throttled(s.name)
    b0, c0, t0 = busy_seconds(), cpu_seconds(pids), time.monotonic()
    rate = mode.startswith("rate")
    r = dnsperf(s.port, qfile, a.rate_duration if rate else a.duration, mode.endswith("tcp"),
                a.clients, a.outstanding, not a.no_edns, a.rate if rate else 0)
    b1, c1, t1 = busy_seconds(), cpu_seconds(pids), time.monotonic()
    thr1 = limiter.throttled(s.name)
    r["cpu"] = (c1 - c0) / (t1 - t0)
    # CPU used by anything else on the two cores (a build, a test suite...):
    # the run is suspect when this is large.
    r["foreign"] = max(0.0, (b1 - b0) / (t1 - t0) - r["cpu"] - r["client_cpu"])
    r["throttled"] = (thr1 - thr0) if thr0 is not None and thr1 is not None else None
    r["alive"] = s.alive()
    log("round %d %-10s %-6s %8.0f qps  cpu %.2f client %.2f other %.2f  lost %d/%d  "
        "lat %.2f ms  %s" % (rnd + 1, mode, s.name, r["qps"], r["cpu"], r["client_cpu"],
                             r["foreign"], r["lost"], r["sent"], r["lat"] * 1e3, r["rcodes"]))
    return r


def median(xs):
    return statistics.median(xs) if xs else 0.0


def main():
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--duration", type=int, default=8, help="seconds per dnsperf run (8)")
    ap.add_argument("--rounds", type=int, default=3, help="interleaved rounds (3)")
    ap.add_argument("--quota", type=int, default=25, help="CPU quota, percent of a core (25)")
    ap.add_argument("--modes", default="pinned-udp,quota-udp,quota-tcp,rate-udp",
                    help="any of pinned-udp, pinned-tcp, quota-udp, quota-tcp, rate-udp, "
                    "rate-tcp (default pinned-udp,quota-udp,quota-tcp,rate-udp)")
    ap.add_argument("--rate", type=int, default=100000,
                    help="offered QPS in the rate modes (dnsperf -Q, default 100000)")
    ap.add_argument("--rate-duration", type=int, default=5,
                    help="seconds per run in the rate modes (5)")
    ap.add_argument("--servers", default="gtmd,nsd,knot,gdnsd,echo",
                    help="which to measure (gtmd,nsd,knot,gdnsd,echo; also gtmd-base, and "
                    "gtmd-policy: gtmd with policy names, see bench_policy.py; gtmd-policy-base: the "
                    "same with --gtmd-base)")
    ap.add_argument("--names", type=int, default=10000, help="owner names in the zone (10000)")
    ap.add_argument("--big", type=int, default=1000000,
                    help="records in the large-zone load test, 0 to skip (1000000)")
    ap.add_argument("--big-servers", default="gtmd,knot",
                    help="servers for the large-zone test (gtmd,knot; nsd, gdnsd also work)")
    ap.add_argument("--clients", type=int, default=8, help="dnsperf -c (8)")
    ap.add_argument("--outstanding", type=int, default=100, help="dnsperf -q (100)")
    ap.add_argument("--no-edns", action="store_true", help="do not pass -e to dnsperf")
    ap.add_argument("--perf", action="store_true",
                    help="profile gtmd under load with perf record afterwards")
    ap.add_argument("--perf-servers", default="gtmd", help="servers to profile with --perf")
    ap.add_argument("--max-wait", type=float, default=45.0,
                    help="seconds in all to wait for other load on the cores to stop (45)")
    ap.add_argument("--retries", type=int, default=4,
                    help="disturbed runs to repeat, in all (4)")
    ap.add_argument("--disturbed", type=float, default=0.15,
                    help="a run is disturbed when other processes used more cores (0.15)")
    ap.add_argument("--gtmd", default=os.path.join(TOP, "build", "gtmd"))
    ap.add_argument("--gtmd-base", default=None,
                    help="a second gtmd binary (e.g. built from the previous commit), measured "
                         "as server 'gtmd-base' in the same interleaved rounds; add it to --servers")
    ap.add_argument("--gtmd-config", default="{}",
                    help="JSON object of top-level keys added to gtmd's config, e.g. "
                         "'{\"rrl\": {\"rate\": 100000}}'")
    ap.add_argument("--gtmd-base-config", default="{}",
                    help="the same for gtmd-base (the same binary with and without a setting: "
                         "--gtmd-base build/gtmd)")
    ap.add_argument("--workdir", default="/tmp/gtmbench",
                    help="zones, configs, logs (generated zones are reused)")
    ap.add_argument("--port", type=int, default=15300, help="first port (15300..15304)")
    ap.add_argument("--policy-mix", type=float, default=0.5,
                    help="share of policy names (failover, weighted, geo) in the queries of "
                    "server gtmd-policy (0.5)")
    ap.add_argument("--geo", action="store_true",
                    help="also run the geo benchmark (bench_geo.py: geo and nearest names vs "
                    "static names with ECS, database load and reload)")
    ap.add_argument("--geo-only", action="store_true", help="run only the geo benchmark")
    ap.add_argument("--geo-networks", type=int, default=4096,
                    help="distinct ECS client networks in the geo queries (4096)")
    ap.add_argument("--geo-db-networks", type=int, default=1050000,
                    help="networks in the synthetic database (gen_geo_db.pl, 1050000)")
    ap.add_argument("--geo-reloads", type=int, default=3, help="reloads measured (3)")
    a = ap.parse_args()

    if os.geteuid() != 0:
        log("note: not root; cgroup quota mode will probably be unavailable")
    cpus = os.sched_getaffinity(0)
    if not {0, 1} <= cpus:
        sys.exit("bench: needs CPUs 0 and 1 (have %s)" % sorted(cpus))
    for tool in ("dnsperf", "taskset", "cc"):
        if not shutil.which(tool):
            sys.exit("bench: %s not found" % tool)
    if not os.access(a.gtmd, os.X_OK):
        sys.exit("bench: no gtmd binary at %s (build first: cd build && make)" % a.gtmd)

    t_all = time.monotonic()
    os.makedirs(a.workdir, exist_ok=True)
    wd = a.workdir
    # Benchmark a copy, so a rebuild in the middle of the run changes nothing.
    src_bin = a.gtmd
    a.gtmd = os.path.join(wd, "gtmd-under-test")
    shutil.copy2(src_bin, a.gtmd)
    a.gtmd_info = "%s (built %s)" % (src_bin, time.strftime(
        "%Y-%m-%d %H:%M:%S", time.localtime(os.stat(src_bin).st_mtime)))
    try:
        head = subprocess.run(["git", "-C", TOP, "rev-parse", "--short", "HEAD"],
                              capture_output=True, text=True, timeout=10).stdout.strip()
        dirty = subprocess.run(["git", "-C", TOP, "status", "--porcelain", "--", "src"],
                               capture_output=True, text=True, timeout=10).stdout.strip()
        a.gtmd_info += ", tree at %s%s" % (head, " with uncommitted src/ changes" if dirty else "")
    except (OSError, subprocess.SubprocessError):
        pass
    modes = [m for m in a.modes.split(",") if m]
    names = [s for s in a.servers.split(",") if s]

    # --- zone and queries
    zone = os.path.join(wd, "bench-%d.zone" % a.names)
    qfile = os.path.join(wd, "queries-%d.txt" % a.names)
    catfile = qfile + ".cat"
    probefile = zone + ".probe"
    if not all(os.path.exists(f) for f in (zone, qfile, catfile, probefile)):
        log("generating zone with %d names" % a.names)
        out = subprocess.run(["/usr/bin/python3", os.path.join(HERE, "gen_zone.py"),
                              "--zone", zone, "--names", str(a.names), "--queries", qfile,
                              "--categories", catfile],
                             check=True, capture_output=True, text=True, timeout=600)
        sys.stderr.write(out.stderr)
        write(probefile, out.stdout)
    probe = open(probefile).read().strip()
    zone_stats = subprocess.run(["/usr/bin/python3", "-c",
                                 "import sys;n=sum(1 for l in open(sys.argv[1]) if ' IN ' in l);"
                                 "print(n)", zone], capture_output=True, text=True).stdout.strip()

    # --- echo
    echo_bin = os.path.join(wd, "udp_echo")
    subprocess.run(["cc", "-O2", "-Wall", "-o", echo_bin, os.path.join(HERE, "udp_echo.c")],
                   check=True, timeout=120)

    limiter = Limiter(a.quota)
    if any(m.startswith("quota") for m in modes):
        if limiter.usable:
            log("CPU quota: %d%% of one core via %s%s" % (
                a.quota, limiter.kind, (" (" + limiter.why + ")") if limiter.why else ""))
        else:
            log("CPU QUOTA MODE UNAVAILABLE: %s; skipping quota modes" % limiter.why)
            modes = [m for m in modes if not m.startswith("quota")]

    if a.geo_only:
        return geo_main(a, wd, limiter, modes, t_all)
    classes = {"gtmd": Gtmd, "gtmd-base": Gtmd, "gtmd-policy": Gtmd, "gtmd-policy-base": Gtmd,
               "nsd": Nsd, "knot": Knot,
               "gdnsd": Gdnsd, "echo": Echo}
    servers = []
    for i, n in enumerate(names):
        port = a.port + i
        if not port_free(port):
            sys.exit("bench: port %d is busy" % port)
        kw = {}
        if n == "gtmd":
            kw = {"binary": a.gtmd, "workers": 1, "extra": json.loads(a.gtmd_config)}
        elif n == "gtmd-base":
            if not a.gtmd_base:
                sys.exit("bench: server gtmd-base needs --gtmd-base PATH")
            kw = {"binary": a.gtmd_base, "workers": 1,
                  "extra": json.loads(a.gtmd_base_config)}
        elif n in ("gtmd-policy", "gtmd-policy-base"):
            import bench_policy
            base = n == "gtmd-policy-base"
            if base and not a.gtmd_base:
                sys.exit("bench: server gtmd-policy-base needs --gtmd-base PATH")
            extra, pq = bench_policy.prepare(sys.modules[__name__], a, wd, qfile, port)
            extra.update(json.loads(a.gtmd_base_config if base else a.gtmd_config))
            kw = {"binary": a.gtmd_base if base else a.gtmd, "workers": 1, "extra": extra}
        elif n == "echo":
            kw = {"binary": echo_bin}
        servers.append(classes[n](n, port, wd, limiter, **kw))
        if n in ("gtmd-policy", "gtmd-policy-base"):
            servers[-1].qfile = pq

    results = {}   # (server, mode) -> list of run dicts
    notes = []
    started = []

    def cleanup(*_):
        for s in started:
            s.stop()
        limiter.cleanup()

    def on_signal(sig, _frm):
        cleanup()
        sys.exit(128 + sig)

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    try:
        # --- start everything (all pinned to core 0, idle when not measured)
        for s in servers:
            open(s.errlog, "w").close()
            limiter.prepare(s.name)
            s.start(zone, probe)
            started.append(s)
            log("%s up on 127.0.0.1:%d (pid %d, %.2f s)" % (s.name, s.port, s.proc.pid,
                                                            s.t_ready - s.t_start))

        # --- do they all answer alike?
        san = sanity(servers, qfile, catfile)
        for s in servers:
            if s.name in ("gtmd-policy", "gtmd-policy-base"):
                bench_policy.check_answers(sys.modules[__name__], s.port)
        # --- the measured runs, interleaved
        wait_budget = [a.max_wait]
        retry_budget = [a.retries]
        for rnd in range(a.rounds):
            for mode in modes:
                limited = mode.startswith("quota")
                order = servers[rnd % len(servers):] + servers[:rnd % len(servers)]
                for s in order:
                    if limiter.usable:
                        limiter.set(s.name, limited)
                time.sleep(0.3)
                for s in order:
                    if not s.alive():
                        continue
                    rate = a.rate if mode.startswith("rate") else 0

                    def bad(r):
                        return r["foreign"] > a.disturbed or (rate and r["qps"] < 0.97 * rate)
                    sq = s.qfile or qfile
                    r = measured_run(a, s, mode, rnd, sq, limiter, wait_budget, notes)
                    if bad(r) and retry_budget[0] > 0 and s.alive():
                        retry_budget[0] -= 1
                        log("  ^ disturbed (other processes used %.2f cores): running it again"
                            % r["foreign"])
                        r2 = measured_run(a, s, mode, rnd, sq, limiter, wait_budget, notes)
                        if (bad(r2), r2["foreign"]) < (bad(r), r["foreign"]):
                            r = r2
                    if rate and r["qps"] < 0.97 * rate:
                        notes.append("%s %s round %d: did not sustain the offered %d QPS (%.0f)"
                                     % (s.name, mode, rnd + 1, rate, r["qps"]))
                    if r["foreign"] > a.disturbed:
                        notes.append("%s %s round %d: %.2f cores used by other processes during "
                                     "the run (%.0f qps): figure disturbed" % (
                                         s.name, mode, rnd + 1, r["foreign"], r["qps"]))
                    results.setdefault((s.name, mode), []).append(r)
                    if not r["alive"]:
                        msg = "%s DIED during %s round %d:\n%s" % (s.name, mode, rnd + 1, s.tail())
                        notes.append(msg)
                        log(msg)
                    if r["rc"] != 0 or r["qps"] == 0:
                        notes.append("%s %s round %d: dnsperf rc=%d\n%s" % (
                            s.name, mode, rnd + 1, r["rc"], r["raw"][-800:]))
                    time.sleep(0.3)
        for s in servers:
            if limiter.usable:
                limiter.set(s.name, False)

        # --- profile
        perf_out = []
        if a.perf:
            perf_out = profile(a, [s for s in servers if s.name in a.perf_servers.split(",")],
                               qfile, wd)
    finally:
        cleanup()
        started.clear()

    # --- anything alarming in gtmd's log?
    for s in servers:
        if s.name != "gtmd":
            continue
        bad = [l.rstrip() for l in open(s.errlog, errors="replace")
               if re.search(r"\b(error|crit|fatal|warn|assert|sanitizer|abort)", l, re.I)]
        if bad:
            notes.append("gtmd logged %d warning/error lines, e.g.:\n%s" % (
                len(bad), "\n".join(bad[:5])))
        m = re.findall(r"event=start .*", open(s.errlog, errors="replace").read())
        if m:
            notes.append("gtmd (10k zone): " + m[-1])

    # --- large zone
    big = []
    if a.big > 0:
        big = big_zone(a, wd, limiter)

    # --- geo
    geo_lines = []
    if a.geo:
        geo_lines = run_geo(a, wd, limiter, modes)

    # --- report
    text = report(a, modes, servers, results, san, big, notes, zone, zone_stats, qfile, limiter,
                  time.monotonic() - t_all)
    text += "\n".join(geo_lines)
    if a.perf:
        text += "\n" + "\n".join(perf_out)
    print(text)
    stamp = time.strftime("%Y%m%d-%H%M%S")
    write(os.path.join(wd, "results-%s.txt" % stamp), text)
    with open(os.path.join(wd, "results-%s.json" % stamp), "w") as f:
        json.dump({"%s/%s" % k: [{x: y for x, y in r.items() if x != "raw"} for r in v]
                   for k, v in results.items()}, f, indent=1)
    log("results saved in %s/results-%s.{txt,json}" % (wd, stamp))


def run_geo(a, wd, limiter, modes):
    import bench_geo
    try:
        return bench_geo.run(sys.modules[__name__], a, wd, limiter, modes)
    finally:
        limiter.cleanup()


def geo_main(a, wd, limiter, modes, t_all):
    """--geo-only: the geo benchmark and its own short report."""
    signal.signal(signal.SIGTERM, lambda sig, _f: sys.exit(128 + sig))
    lines = ["=" * 100, "gtmd geo benchmark  %s  (%s, %d cores visible, kernel %s)" % (
        time.strftime("%Y-%m-%d %H:%M"), socket.gethostname(), os.cpu_count(),
        os.uname().release), "gtmd: %s" % a.gtmd_info,
        "server pinned to core 0 (taskset), dnsperf to core 1; quota modes: %s" % (
            "%d%% of one core (%s)" % (a.quota, limiter.kind) if limiter.usable else
            "UNAVAILABLE (" + limiter.why + ")")]
    lines += run_geo(a, wd, limiter, modes)
    lines.append("\ntotal %.0f s" % (time.monotonic() - t_all))
    text = "\n".join(lines)
    print(text)
    stamp = time.strftime("%Y%m%d-%H%M%S")
    write(os.path.join(wd, "results-geo-%s.txt" % stamp), text)
    log("results saved in %s/results-geo-%s.txt" % (wd, stamp))


def profile(a, servers, qfile, wd):
    out = []
    if not shutil.which("perf"):
        return ["perf: not installed"]
    for s in servers:
        for tcp in (False, True):
            s.stop()
            open(s.errlog, "a").close()
            s.start(os.path.join(wd, "bench-%d.zone" % a.names),
                    open(os.path.join(wd, "bench-%d.zone.probe" % a.names)).read().strip(),
                    limit=False)
            data = os.path.join(wd, "perf-%s-%s.data" % (s.name, "tcp" if tcp else "udp"))
            secs = max(3, a.duration - 2)
            pr = None
            for ev in ("cycles", "cpu-clock"):
                pr = subprocess.Popen(["taskset", "-c", "1", "perf", "record", "-e", ev, "-F",
                                       "1999", "-g", "-o", data, "-p", str(s.proc.pid), "--",
                                       "sleep", str(secs)],
                                      stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                                      text=True)
                time.sleep(0.5)
                if pr.poll() is None:
                    break
                out.append("perf record -e %s failed: %s" % (ev, pr.stderr.read().strip()[-300:]))
                pr = None
            if pr is None:
                continue
            r = dnsperf(s.port, qfile, secs, tcp, a.clients, a.outstanding, not a.no_edns)
            try:
                pr.wait(timeout=60)
            except subprocess.TimeoutExpired:
                pr.kill()
                pr.wait()
            rep = subprocess.run(["perf", "report", "-i", data, "--stdio", "--no-children",
                                  "--sort", "dso,symbol", "-g", "none", "--percent-limit", "0.7"],
                                 capture_output=True, text=True, timeout=120)
            lines = [re.sub(r"(\s+-)+\s*$", "", l.strip()) for l in rep.stdout.splitlines()
                     if l.strip() and not l.startswith("#")]
            dso = subprocess.run(["perf", "report", "-i", data, "--stdio", "--no-children",
                                  "--sort", "dso", "-g", "none"],
                                 capture_output=True, text=True, timeout=120)
            split = [re.sub(r"(\s+-)+\s*$", "", l.strip()) for l in dso.stdout.splitlines()
                     if l.strip() and not l.startswith("#")]
            out.append("perf profile of %s, %s, pinned (dnsperf %.0f qps during profile; %s):"
                       % (s.name, "TCP" if tcp else "UDP", r["qps"], data))
            out.append("  by object: " + ";  ".join(split[:5]))
            out.extend("  " + l for l in lines[:40])
            if not lines:
                out.append("  (empty) " + rep.stderr.strip()[-300:])
            out.append("")
        s.stop()
    return out


def big_zone(a, wd, limiter):
    zone = os.path.join(wd, "big-%d.zone" % a.big)
    probefile = zone + ".probe"
    if not (os.path.exists(zone) and os.path.exists(probefile)):
        log("generating the %d-record zone" % a.big)
        t0 = time.monotonic()
        out = subprocess.run(["/usr/bin/python3", os.path.join(HERE, "gen_zone.py"),
                              "--zone", zone, "--names", "0", "--records", str(a.big)],
                             check=True, capture_output=True, text=True, timeout=900)
        sys.stderr.write(out.stderr)
        write(probefile, out.stdout)
        log("generated in %.1f s" % (time.monotonic() - t0))
    probe = open(probefile).read().strip()
    classes = {"gtmd": Gtmd, "nsd": Nsd, "knot": Knot, "gdnsd": Gdnsd}
    rows = []
    for i, n in enumerate(a.big_servers.split(",")):
        kw = {"binary": a.gtmd, "workers": 1} if n == "gtmd" else {}
        s = classes[n](n + "-big", a.port + 10 + i, wd, limiter, **kw)
        open(s.errlog, "w").close()
        row = {"server": n}
        try:
            s.start(zone, probe, cpu=None, timeout=600, limit=False)
            row["first_answer_s"] = s.t_ready - s.t_start
            time.sleep(1.0)
            pids = s.pids()
            rss = hwm = 0
            for p in pids:
                v = vm_status(p)
                rss += v.get("VmRSS:", 0)
                hwm += v.get("VmHWM:", 0)
            row["rss_mb"] = rss / 1024.0
            row["hwm_mb"] = hwm / 1024.0
            row["procs"] = len(pids)
            if n == "gtmd":
                row["load_ms"] = s.load_ms()
            log("big zone: %s first answer after %.2f s, RSS %.0f MB (peak %.0f MB)" % (
                n, row["first_answer_s"], row["rss_mb"], row["hwm_mb"]))
        except RuntimeError as e:
            row["error"] = str(e)
            log(str(e))
        finally:
            s.stop()
        rows.append(row)
    nrec = sum(1 for l in open(zone) if " IN " in l)
    return [nrec, rows]


def report(a, modes, servers, results, san, big, notes, zone, zone_stats, qfile, limiter, total):
    L = []
    L.append("=" * 100)
    L.append("gtmd benchmark  %s  (%s, %d cores visible, kernel %s)" % (
        time.strftime("%Y-%m-%d %H:%M"), socket.gethostname(), os.cpu_count(), os.uname().release))
    L.append("zone %s: %s records; queries %s" % (zone, zone_stats, qfile))
    L.append("dnsperf -c %d -q %d -t 2%s; %d rounds x %d s (rate modes %d s), interleaved" % (
        a.clients, a.outstanding, "" if a.no_edns else " -e", a.rounds, a.duration,
        a.rate_duration))
    L.append("gtmd: %s" % a.gtmd_info)
    L.append("server pinned to core 0 (taskset), dnsperf to core 1; quota modes: %s" % (
        "%d%% of one core (%s)" % (a.quota, limiter.kind) if limiter.usable else
        "UNAVAILABLE (" + limiter.why + ")"))
    L.append("")
    L.append("Sanity (first 300 queries over UDP: share answered as expected per category, "
             "mean answer RRs, mean size):")
    cats = ["hit", "nxdomain", "wildcard", "cname", "referral"]
    L.append("  %-7s" % "server" + "".join("%-24s" % c for c in cats))
    for name, per in san.items():
        row = "  %-7s" % name
        for c in cats:
            t = per.get(c)
            if t:
                row += "%-24s" % ("%d/%d an=%.1f %dB" % (t[1], t[0], t[2] / t[0], t[3] / t[0]))
            else:
                row += "%-24s" % "-"
        L.append(row)
    L.append("")

    def per_core(name, mode):
        rs = results.get((name, mode), [])
        q = median([r["qps"] for r in rs])
        if mode.startswith("quota"):
            return q, q / (a.quota / 100.0)
        if mode.startswith("rate"):
            # the same offered load for all: efficiency is QPS per CPU second,
            # from the runs that sustained the offered load (if any did)
            ok = [r for r in rs if r["qps"] >= 0.97 * a.rate and r["cpu"] > 0] or \
                [r for r in rs if r["cpu"] > 0]
            return q, median([r["qps"] / r["cpu"] for r in ok])
        return q, q  # the server had the whole core 0

    hdr = "%-6s %-11s %10s %10s %5s %10s %8s %8s %5s %6s %6s %5s  %s" % (
        "server", "mode", "QPS(med)", "QPS/core", "cpu", "QPS/cpu-s", "vs gdnsd", "vs echo",
        "lost%", "lat ms", "client", "other", "rounds (QPS)")
    L.append(hdr)
    L.append("-" * len(hdr))
    for mode in modes:
        g = per_core("gdnsd", mode)[1] if ("gdnsd", mode) in results else 0
        e = per_core("echo", mode)[1] if ("echo", mode) in results else 0
        for s in servers:
            rs = results.get((s.name, mode))
            if not rs:
                continue
            q, pc = per_core(s.name, mode)
            cpu = median([r["cpu"] for r in rs])
            sent = sum(r["sent"] for r in rs)
            lost = sum(r["lost"] for r in rs)
            L.append("%-6s %-11s %10.0f %10.0f %5.2f %10.0f %8s %8s %5.2f %6.2f %6.2f %5.2f  %s" % (
                s.name, mode, q, pc, cpu, q / cpu if cpu > 0 else 0,
                "%.2fx" % (pc / g) if g else "-", "%.2fx" % (pc / e) if e else "-",
                100.0 * lost / sent if sent else 0, median([r["lat"] for r in rs]) * 1e3,
                median([r["client_cpu"] for r in rs]), max(r["foreign"] for r in rs),
                " ".join("%.0f" % r["qps"] for r in rs)))
        L.append("")
    L.append("QPS/core: pinned = QPS (server owns core 0, but dnsperf on core 1 may be the "
             "bottleneck: see client);")
    L.append("          quota = QPS / %.2f; rate = QPS / cpu at a fixed offered load of %d QPS "
             "(dnsperf -Q)," % (a.quota / 100.0, a.rate))
    L.append("          i.e. 1e6 / (CPU microseconds per query). vs gdnsd / vs echo compare "
             "QPS/core.")
    L.append("cpu: server CPU (cores) measured from /proc during the run; QPS/cpu-s = QPS / cpu;")
    L.append("client: dnsperf CPU (cores); near 1.00 means the client, not the server, was the limit;")
    L.append("other: the most CPU (cores) any other process used during one of the rounds (noise).")
    L.append("")
    L.append("Response codes (last round):")
    for mode in modes:
        for s in servers:
            rs = results.get((s.name, mode))
            if rs:
                L.append("  %-6s %-11s %s  (resp %d B avg)" % (s.name, mode, rs[-1]["rcodes"],
                                                              rs[-1]["resp_size"]))
    L.append("")
    # targets
    L.append("Targets:")

    def check(label, num, den, want):
        if not den:
            L.append("  %-46s n/a" % label)
            return
        r = num / den
        L.append("  %-46s %.2fx  %s (want >= %.2fx)" % (label, r, "PASS" if r >= want else "FAIL",
                                                        want))
    if "quota-udp" in modes:
        check("gtmd UDP per core vs gdnsd (quota)", per_core("gtmd", "quota-udp")[1],
              per_core("gdnsd", "quota-udp")[1], 1.0)
        check("gtmd UDP per core vs echo (quota)", per_core("gtmd", "quota-udp")[1],
              per_core("echo", "quota-udp")[1], 0.95)
    if "quota-tcp" in modes:
        check("gtmd TCP per core vs gdnsd (quota)", per_core("gtmd", "quota-tcp")[1],
              per_core("gdnsd", "quota-tcp")[1], 1.0)
    if "rate-udp" in modes:
        check("gtmd UDP QPS per CPU-second vs gdnsd (rate)", per_core("gtmd", "rate-udp")[1],
              per_core("gdnsd", "rate-udp")[1], 1.0)
        check("gtmd UDP QPS per CPU-second vs echo (rate)", per_core("gtmd", "rate-udp")[1],
              per_core("echo", "rate-udp")[1], 0.95)
    pol = [s for s in servers if s.name == "gtmd-policy"]
    for mode in [m for m in ("quota-udp", "rate-udp") if pol and m in modes]:
        # Policy names may cost at most 10 % more than the plain mix:
        # queries per CPU-second >= 1 / 1.1 of gtmd's.
        check("gtmd %d%% policy names vs echo (%s)" % (a.policy_mix * 100, mode.split("-")[0]),
              per_core("gtmd-policy", mode)[1], per_core("echo", mode)[1], 0.95)
        check("gtmd %d%% policy names vs gtmd (%s)" % (a.policy_mix * 100, mode.split("-")[0]),
              per_core("gtmd-policy", mode)[1], per_core("gtmd", mode)[1], 1 / 1.1)
    if "pinned-udp" in modes:
        check("gtmd UDP pinned vs gdnsd (client-bound)", per_core("gtmd", "pinned-udp")[0],
              per_core("gdnsd", "pinned-udp")[0], 1.0)
        check("gtmd UDP pinned vs echo (client-bound)", per_core("gtmd", "pinned-udp")[0],
              per_core("echo", "pinned-udp")[0], 0.95)
    if big:
        L.append("")
        L.append("Large zone (%d records), each server alone, unpinned:" % big[0])
        L.append("  %-6s %14s %10s %10s %10s" % ("server", "first answer", "load_ms", "RSS MB",
                                                 "peak MB"))
        for row in big[1]:
            if "error" in row:
                L.append("  %-6s ERROR %s" % (row["server"], row["error"][:300]))
                continue
            L.append("  %-6s %13.2fs %10s %10.0f %10.0f" % (
                row["server"], row["first_answer_s"],
                "%.0f" % row["load_ms"] if row.get("load_ms") else "-", row["rss_mb"],
                row["hwm_mb"]))
    if notes:
        L.append("")
        L.append("Notes and problems:")
        L.extend("  " + n.replace("\n", "\n  ") for n in notes)
    L.append("")
    L.append("total %.0f s" % total)
    return "\n".join(L)


if __name__ == "__main__":
    main()

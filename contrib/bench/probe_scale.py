#!/usr/bin/python3
"""probe_scale.py -- can gtmd's prober keep 10,000 endpoints on a 1 s schedule,
and what does a policy name cost per query compared with a static one?

Part 1, probe scale (--endpoints 10000, --seconds 35):
  * builds accept_sink.c (cc -O2) and runs it pinned to core 1: 10 TCP
    listeners on 127.0.0.31-40:PORT that accept and close, backlog 65535
    (clamped by net.core.somaxconn), printing their accept rate per second
  * generates a gtmd config with one pool of N endpoints spread over those
    listeners (tcp check, interval 1.0, timeout 0.5), a record over it and a
    static name; runs gtmd pinned to core 0 with 1 worker for --seconds
  * meanwhile sends a few hundred timed UDP queries (one every 70 ms) for
    the static name, and reads gtmd's CPU time (/proc/PID/stat and
    /proc/PID/task/*/stat, utime+stime) and the kernel's listen-queue
    overflow counters (/proc/net/netstat) at the start and end of the window
  * parses gtmd's "event=prober_stats" lines (every 10 s) and its
    health_change lines, and reports: achieved probe rate vs configured
    (N / interval), lateness avg/max, gtmd CPU (whole process and busiest
    thread = the prober), CPU microseconds per probe, sink accept rate,
    endpoints seen down, and the static-name query latency (median, p99)
    against a baseline run of gtmd without the pool

Part 2, policy vs static QPS (--qps-seconds 10, --rounds 3):
  * gtmd (1 worker, core 0) serving static.scale.test. (a zone A record),
    fo.scale.test. (failover record over 2 regions) and w.scale.test.
    (weighted, 4 endpoints, 1 answer), all endpoints up (tcp checks against
    the sink)
  * dnsperf (core 1) against each name for --qps-seconds in alternation,
    --rounds times; reports median QPS per name, the ratio policy/static
    (target >= 0.9), and the same ratio per gtmd CPU-second (the fair one
    when dnsperf, not gtmd, is the bottleneck)

Before each measurement it waits (at most --max-wait s) until other
processes use less than --disturbed cores, and prints how much they used.
Only 127.0.0.x is used; every loop and wait is bounded; every process
started is stopped by pid (process group) at the end.

  /usr/bin/python3 contrib/bench/probe_scale.py [--skip-qps] [--skip-scale]
"""

import argparse
import json
import os
import re
import select
import shutil
import signal
import socket
import statistics
import struct
import subprocess
import sys
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
TOP = os.path.abspath(os.path.join(HERE, "..", ".."))
ZONE = "scale.test."
TCK = os.sysconf("SC_CLK_TCK")


def log(msg):
    print("[probe_scale %s] %s" % (time.strftime("%H:%M:%S"), msg), file=sys.stderr, flush=True)


# --------------------------------------------------------------------------
# processes


class Proc:
    """A child in its own process group; output to a file or a pipe."""

    def __init__(self, cmd, logfile=None, pipe=False):
        self.logfile = logfile
        out = subprocess.PIPE if pipe else open(logfile, "w")
        self.p = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT if not pipe else None,
                                  start_new_session=True)
        self.pid = self.p.pid

    def alive(self):
        return self.p.poll() is None

    def stop(self, sig=signal.SIGTERM):
        if self.p.poll() is None:
            try:
                os.killpg(self.pid, sig)
            except ProcessLookupError:
                pass
            try:
                self.p.wait(timeout=10)
            except subprocess.TimeoutExpired:
                try:
                    os.killpg(self.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
                self.p.wait(timeout=10)

    def text(self):
        try:
            return open(self.logfile).read()
        except (OSError, TypeError):
            return ""


STARTED = []


def start(cmd, logfile=None, pipe=False):
    p = Proc(cmd, logfile, pipe)
    STARTED.append(p)
    return p


class Sink:
    """accept_sink, its per-second accept counts read by a thread."""

    def __init__(self, binary, port, addrs, cpu, seconds):
        self.proc = start(["taskset", "-c", str(cpu), binary, "-s", str(int(seconds)), str(port)]
                          + addrs, pipe=True)
        r, _, _ = select.select([self.proc.p.stdout], [], [], 10)
        if not r or self.proc.p.stdout.readline().strip() != b"ready":
            raise RuntimeError("accept_sink did not start")
        self.lines = []  # (monotonic, accepts, errors)
        self.phase = None
        self.t = threading.Thread(target=self._read, daemon=True)
        self.t.start()

    def _read(self):
        for line in self.proc.p.stdout:
            if line.startswith(b"phase_ms_10 "):
                self.phase = [int(x) for x in line.split()[1:]]
            m = re.match(rb"sec=\d+ accepts=(\d+) errors=(\d+)", line)
            if m:
                self.lines.append((time.monotonic(), int(m.group(1)), int(m.group(2))))

    def window(self, t0, t1):
        """Accepts and errors per second over whole seconds inside [t0, t1]."""
        xs = [(a, e) for (t, a, e) in self.lines if t0 + 1.0 <= t <= t1]
        if not xs:
            return None
        return (sum(a for a, _ in xs) / len(xs), max(a for a, _ in xs),
                sum(e for _, e in xs), len(xs))

    def signal(self, sig):
        if self.proc.alive():
            os.kill(self.proc.pid, sig)

    def phase_now(self, timeout=5.0):
        """The accepts per 10 ms slot of the second since the last reset."""
        self.phase = None
        self.signal(signal.SIGUSR2)
        deadline = time.monotonic() + timeout
        while self.phase is None and time.monotonic() < deadline:
            time.sleep(0.02)
        return self.phase

    def stop(self):
        self.proc.stop()


# --------------------------------------------------------------------------
# measurements


def cpu_ticks(pid):
    """(process utime+stime, {tid: utime+stime}) in clock ticks."""
    def parse(path):
        with open(path) as f:
            s = f.read()
        rest = s[s.rindex(")") + 2:].split()
        return int(rest[11]) + int(rest[12])  # fields 14, 15 (utime, stime)
    total = parse("/proc/%d/stat" % pid)
    threads = {}
    for tid in os.listdir("/proc/%d/task" % pid):
        try:
            threads[int(tid)] = parse("/proc/%d/task/%s/stat" % (pid, tid))
        except OSError:
            pass
    return total, threads


def machine_busy():
    """Busy clock ticks of all cores together (/proc/stat: everything but
    idle and iowait)."""
    with open("/proc/stat") as f:
        v = [int(x) for x in f.readline().split()[1:]]
    return sum(v[:8]) - v[3] - v[4]


def ours_ticks():
    """CPU ticks of this script, the children it waited for, and the
    processes it started that still run."""
    import resource
    t = 0
    for p in STARTED:
        if p.alive():
            try:
                t += cpu_ticks(p.pid)[0]
            except (OSError, ValueError):
                pass
    for who in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN):
        r = resource.getrusage(who)
        t += (r.ru_utime + r.ru_stime) * TCK
    return t


class Others:
    """CPU used by processes this script did not start, over a window:
    the machine's busy time minus ours (in cores)."""

    def __init__(self):
        self.m0, self.o0, self.t0 = machine_busy(), ours_ticks(), time.monotonic()

    def cores(self):
        dt = time.monotonic() - self.t0
        used = (machine_busy() - self.m0) - (ours_ticks() - self.o0)
        return max(0.0, used / TCK / dt) if dt > 0 else 0.0


def wait_quiet(limit, max_wait):
    """Waits (at most max_wait s) until other processes use < limit cores
    over a 1 s sample; returns the last sample."""
    deadline = time.monotonic() + max_wait
    while True:
        o = Others()
        time.sleep(1.0)
        c = o.cores()
        if c < limit or time.monotonic() >= deadline:
            return c
        log("  other processes use %.2f cores; waiting for them to stop" % c)


def schedstat(pid, tid):
    """(seconds on CPU, seconds runnable but waiting for a CPU)."""
    with open("/proc/%d/task/%d/schedstat" % (pid, tid)) as f:
        run, wait = f.read().split()[:2]
    return int(run) / 1e9, int(wait) / 1e9


def netstat():
    """TcpExt counters of /proc/net/netstat as a dict."""
    out = {}
    with open("/proc/net/netstat") as f:
        lines = f.read().splitlines()
    for i in range(0, len(lines) - 1, 2):
        k, v = lines[i].split(), lines[i + 1].split()
        if k[0] == "TcpExt:":
            out.update(zip(k[1:], map(int, v[1:])))
    return out


def dns_wire(name, qid):
    wire = b""
    for label in name.rstrip(".").split("."):
        wire += bytes([len(label)]) + label.encode()
    return struct.pack("!HHHHHH", qid, 0x0000, 1, 0, 0, 0) + wire + b"\0" + struct.pack("!HH", 1, 1)


def dns_answer(port, name, timeout=0.5):
    """(rcode, [A addresses]) or None; a tiny parser enough for our answers."""
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.settimeout(timeout)
    try:
        s.sendto(dns_wire(name, 4242), ("127.0.0.1", port))
        data = s.recv(4096)
    except OSError:
        return None
    finally:
        s.close()
    rcode, an = data[3] & 0xF, struct.unpack("!H", data[6:8])[0]
    i = 12
    while data[i] != 0:  # question name (uncompressed)
        i += data[i] + 1
    i += 5
    addrs = []
    for _ in range(an):
        if data[i] & 0xC0 == 0xC0:
            i += 2
        else:
            while data[i] != 0:
                i += data[i] + 1
            i += 1
        typ, _, _, rdlen = struct.unpack("!HHIH", data[i:i + 10])
        i += 10
        if typ == 1:
            addrs.append(socket.inet_ntoa(data[i:i + 4]))
        i += rdlen
    return rcode, addrs


def timed_queries(port, name, count, spacing, stop_at):
    """Sends up to count queries, one every spacing s, until stop_at;
    returns (latencies in ms, timeouts)."""
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.settimeout(1.0)
    s.connect(("127.0.0.1", port))
    lat, lost = [], 0
    for i in range(count):
        if time.monotonic() > stop_at:
            break
        q = dns_wire(name, i & 0xFFFF)
        t = time.perf_counter()
        s.send(q)
        try:
            while True:
                r = s.recv(4096)
                if r[:2] == q[:2]:
                    break
            lat.append((time.perf_counter() - t) * 1e3)
        except socket.timeout:
            lost += 1
        time.sleep(spacing)
    s.close()
    return lat, lost


def pct(xs, p):
    xs = sorted(xs)
    if not xs:
        return float("nan")
    return xs[min(len(xs) - 1, int(round(p / 100.0 * (len(xs) - 1))))]


# --------------------------------------------------------------------------
# gtmd configs


ZONEFILE = """$ORIGIN scale.test.
$TTL 300
@ IN SOA ns1.scale.test. hostmaster.scale.test. 1 7200 1800 259200 300
@ IN NS ns1
ns1 IN A 127.0.0.1
static IN A 192.0.2.1
"""


def write_config(d, port, pools, records, regions, checks):
    zf = os.path.join(d, "scale.test.zone")
    with open(zf, "w") as f:
        f.write(ZONEFILE)
    cfg = {"listen": ["127.0.0.1:%d" % port], "workers": 1,
           "zones": [{"origin": ZONE, "file": zf}]}
    if pools:
        cfg.update({"regions": regions, "checks": checks, "pools": pools, "records": records})
    path = os.path.join(d, "gtmd.json")
    with open(path, "w") as f:
        json.dump(cfg, f)
    return path


def start_gtmd(a, cfg, logfile, timeout=60):
    g = start(["taskset", "-c", "0", a.gtmd, "-c", cfg], logfile)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not g.alive():
            raise RuntimeError("gtmd exited:\n" + g.text()[-2000:])
        r = dns_answer(a.port, "static." + ZONE, timeout=0.2)
        if r and r[0] == 0 and r[1]:
            return g
        time.sleep(0.05)
    raise RuntimeError("gtmd not answering after %d s:\n%s" % (timeout, g.text()[-2000:]))


# --------------------------------------------------------------------------
# part 1


def part_scale(a, sink_bin, wd):
    R = []
    addrs = ["127.0.0.%d" % (31 + i) for i in range(a.listeners)]
    d = os.path.join(wd, "scale")
    os.makedirs(d, exist_ok=True)

    # Baseline: the static name's latency from gtmd with no prober load.
    os.makedirs(os.path.join(wd, "base"), exist_ok=True)
    cfg0 = write_config(os.path.join(wd, "base"), a.port, None, None, None, None)
    g = start_gtmd(a, cfg0, os.path.join(wd, "base", "gtmd.log"))
    wait_quiet(a.disturbed, a.max_wait)
    ob = Others()
    base_lat, base_lost = timed_queries(a.port, "static." + ZONE, 150, 0.02,
                                        time.monotonic() + 15)
    base_other = ob.cores()
    g.stop()

    sink = Sink(sink_bin, a.sink_port, addrs, 1, a.seconds + 120)
    eps = [{"name": "e%05d" % i, "address": addrs[i % len(addrs)], "region": "r1"}
           for i in range(a.endpoints)]
    cfg = write_config(
        d, a.port,
        pools={"big": {"check": "tcp", "endpoints": eps}},
        records={"big." + ZONE: {"pool": "big", "policy": "all", "answers": 8}},
        regions={"r1": {}},
        checks={"tcp": {"type": "tcp", "port": a.sink_port, "interval": a.interval,
                        "timeout": a.timeout, "fall": 2, "rise": 2}})
    wait_quiet(a.disturbed, a.max_wait)
    ns0 = netstat()
    t_start = time.monotonic()
    g = start_gtmd(a, cfg, os.path.join(d, "gtmd.log"))
    t_ready = time.monotonic()
    # Leave the start-up round out of the sink's phase histogram.
    threading.Timer(2.0, sink.signal, (signal.SIGUSR1,)).start()
    c0, th0 = cpu_ticks(g.pid)
    ss0 = {t: schedstat(g.pid, t) for t in th0}
    ow = Others()
    stop_at = t_start + a.seconds
    lat, lost = timed_queries(a.port, "static." + ZONE, a.queries, 0.07, stop_at - 0.5)
    while time.monotonic() < stop_at and g.alive():
        time.sleep(0.05)
    t_end = time.monotonic()
    c1, th1 = cpu_ticks(g.pid)
    ss1 = {t: schedstat(g.pid, t) for t in th1}
    other = ow.cores()
    ns1 = netstat()
    answer_big = dns_answer(a.port, "big." + ZONE)
    phase = sink.phase_now()
    g.stop()
    win = t_end - t_ready
    acc = sink.window(t_ready, t_end)
    sink.stop()

    text = g.text()
    stats = [tuple(float(x) for x in m) for m in re.findall(
        r"event=prober_stats probes=(\d+) rate_per_s=([0-9.]+) late_avg_ms=([0-9.]+) "
        r"late_max_ms=([0-9.]+)", text)]
    first = re.search(r"event=first_round restored=\d+ complete=(\w+) ms=([0-9.]+)", text)
    ep = r"event=health_change endpoint=(?:endpoint:)?big/\S+ "
    first_down = len(re.findall(ep + r"from=unknown to=down", text))
    later_down = len(re.findall(ep + r"from=up to=down", text))
    reasons = {}
    for m in re.finditer(ep + r"from=\S+ to=down .*detail=\"([^\"]*)\"", text):
        reasons[m.group(1)] = reasons.get(m.group(1), 0) + 1

    configured = a.endpoints / a.interval
    cpu_s = (c1 - c0) / TCK
    busiest = max(th1, key=lambda t: th1[t] - th0.get(t, 0))
    prober_s = (th1[busiest] - th0.get(busiest, 0)) / TCK
    prober_wait = ss1[busiest][1] - ss0.get(busiest, (0, 0))[1] if busiest in ss1 else 0.0

    R.append("PART 1: %d endpoints, tcp check interval %gs timeout %gs, %d listeners (%s..%s:%d)"
             % (a.endpoints, a.interval, a.timeout, len(addrs), addrs[0], addrs[-1], a.sink_port))
    R.append("  gtmd pinned to core 0 (workers 1); accept_sink and the query client on core 1")
    R.append("  binary: %s" % a.gtmd_src)
    R.append("  other processes on the machine used ~%.2f cores during the window "
             "(~%.2f during the baseline)" % (other, base_other))
    if first:
        R.append("  first round: complete=%s in %s ms" % (first.group(1), first.group(2)))
    slow = len(re.findall(r"event=state_save result=failed", text))
    if slow:
        R.append("  note: %d 'event=state_save result=failed' lines (no state_file configured)"
                 % slow)
    R.append("  prober_stats lines (10 s windows):")
    for (n, rate, lavg, lmax) in stats:
        R.append("    probes=%-7d rate_per_s=%-8.1f late_avg_ms=%-8.2f late_max_ms=%.2f"
                 % (n, rate, lavg, lmax))
    steady = stats[1:] if len(stats) > 1 else stats
    if steady:
        rate = statistics.mean(s[1] for s in steady)
        R.append("  achieved rate (windows after the first): %.1f probes/s vs configured %.0f/s "
                 "= %.1f%%" % (rate, configured, 100.0 * rate / configured))
        R.append("  lateness (windows after the first): avg %.2f ms, max %.2f ms"
                 % (statistics.mean(s[2] for s in steady), max(s[3] for s in steady)))
    else:
        R.append("  no prober_stats lines (run too short?)")
    R.append("  gtmd CPU over %.1f s: %.2f s = %.1f%% of one core; busiest thread (prober) "
             "%.2f s = %.1f%%" % (win, cpu_s, 100 * cpu_s / win, prober_s, 100 * prober_s / win))
    R.append("  prober thread runnable but waiting for core 0: %.2f s (%.1f%% of the window)"
             % (prober_wait, 100 * prober_wait / win))
    if stats:
        # Probes in the CPU window, from the average rate of all windows.
        est = sum(s[0] for s in stats) / (10.0 * len(stats)) * win
        R.append("  CPU per probe: prober thread %.1f us, whole process %.1f us (incl. the "
                 "kernel's connect/close work on loopback)" % (prober_s / est * 1e6,
                                                               cpu_s / est * 1e6))
    if acc:
        R.append("  accept_sink: %.0f accepts/s average, %d max/s over %d s, %d accept errors"
                 % (acc[0], acc[1], acc[3], acc[2]))
    if phase and sum(phase):
        tot = float(sum(phase))
        best = max(sum(phase[(i + k) % 100] for k in range(10)) for i in range(100))
        R.append("  probe arrivals by position in the second (accept_sink, 50 ms bins, % of all; "
                 "even spread = 5% each):")
        bins = [100.0 * sum(phase[i:i + 5]) / tot for i in range(0, 100, 5)]
        R.append("    " + " ".join("%.1f" % b for b in bins[:10]))
        R.append("    " + " ".join("%.1f" % b for b in bins[10:]))
        R.append("  busiest 100 ms of the second holds %.1f%% of the probes (even spread: 10%%)"
                 % (100.0 * best / tot))
    for k in ("ListenOverflows", "ListenDrops", "TCPReqQFullDrop", "TCPReqQFullDoCookies",
              "TCPTimeWaitOverflow"):
        if k in ns0:
            R.append("  kernel %s: +%d" % (k, ns1.get(k, 0) - ns0[k]))
    R.append("  endpoints down: %d at the first probe, %d later (up->down)" % (first_down,
                                                                               later_down))
    for why, n in sorted(reasons.items(), key=lambda x: -x[1])[:5]:
        R.append("    %6d  %s" % (n, why))
    if answer_big:
        R.append("  big.%s answered rcode %d with %d addresses" % (ZONE, answer_big[0],
                                                                 len(answer_big[1])))
    R.append("  static-name UDP query latency (ms), %d queries during the run: median %.3f, "
             "p99 %.3f, max %.3f, lost %d" % (len(lat), statistics.median(lat) if lat else 0,
                                              pct(lat, 99), max(lat) if lat else 0, lost))
    R.append("  baseline without the pool, %d queries: median %.3f, p99 %.3f, max %.3f, lost %d"
             % (len(base_lat), statistics.median(base_lat) if base_lat else 0,
                pct(base_lat, 99), max(base_lat) if base_lat else 0, base_lost))
    return R


# --------------------------------------------------------------------------
# part 2


def dnsperf(a, name, seconds, datafile):
    with open(datafile, "w") as f:
        f.write("%s A\n" % name)
    cmd = ["taskset", "-c", "1", "dnsperf", "-s", "127.0.0.1", "-p", str(a.port), "-d", datafile,
           "-l", str(seconds), "-c", str(a.clients), "-q", str(a.outstanding), "-T", "1"]
    p = start(cmd, datafile + ".out")
    try:
        p.p.wait(timeout=seconds + 30)
    except subprocess.TimeoutExpired:
        p.stop()
    out = p.text()
    m = re.search(r"Queries per second:\s+([0-9.]+)", out)
    lost = re.search(r"Queries lost:\s+(\d+)", out)
    if not m:
        raise RuntimeError("dnsperf output not understood:\n" + out[-1500:])
    return float(m.group(1)), int(lost.group(1)) if lost else -1


def part_qps(a, sink_bin, wd):
    R = []
    d = os.path.join(wd, "qps")
    os.makedirs(d, exist_ok=True)
    addrs = ["127.0.0.%d" % (31 + i) for i in range(4)]
    sink = Sink(sink_bin, a.sink_port, addrs, 1, a.rounds * 3 * (a.qps_seconds + 5) + 120)
    cfg = write_config(
        d, a.port,
        regions={"r1": {}, "r2": {}},
        checks={"tcp": {"type": "tcp", "port": a.sink_port, "interval": 1.0, "timeout": 0.5}},
        pools={"fo": {"check": "tcp", "endpoints": [
                   {"name": "a", "address": addrs[0], "region": "r1"},
                   {"name": "b", "address": addrs[1], "region": "r2"}]},
               "w": {"check": "tcp", "endpoints": [
                   {"name": "w%d" % i, "address": addrs[i], "region": "r1", "weight": i + 1}
                   for i in range(4)]}},
        records={"fo." + ZONE: {"pool": "fo", "policy": "failover", "regions": ["r1", "r2"]},
                 "w." + ZONE: {"pool": "w", "policy": "weighted", "answers": 1}})
    g = start_gtmd(a, cfg, os.path.join(d, "gtmd.log"))
    names = [("static", "static." + ZONE), ("failover", "fo." + ZONE), ("weighted", "w." + ZONE)]
    for label, n in names:
        R.append("  %-8s %-18s -> %s" % (label, n, dns_answer(a.port, n)))
    res = {label: [] for label, _ in names}
    retries = a.retries
    for r in range(a.rounds):
        for label, n in names:
            while True:
                wait_quiet(a.disturbed, a.max_wait)
                c0, _ = cpu_ticks(g.pid)
                ow = Others()
                t0 = time.monotonic()
                q, lost = dnsperf(a, n, a.qps_seconds, os.path.join(d, "q-%s" % label))
                t1 = time.monotonic()
                c1, _ = cpu_ticks(g.pid)
                other = ow.cores()
                cpu = (c1 - c0) / TCK
                log("round %d %-8s %9.0f QPS, gtmd CPU %.0f%%, lost %d, other load %.2f cores"
                    % (r + 1, label, q, 100 * cpu / (t1 - t0), lost, other))
                if other > a.disturbed and retries > 0:
                    retries -= 1
                    log("  disturbed by other processes: repeating (%d retries left)" % retries)
                    time.sleep(2)
                    continue
                break
            res[label].append((q, cpu, q * (t1 - t0) / cpu if cpu else float("nan"), lost,
                               cpu / (t1 - t0), other))
    g.stop()
    sink.stop()
    R.insert(0, "  binary: %s" % a.gtmd_src)
    R.insert(0, "PART 2: dnsperf (core 1, -c %d -q %d -T 1) vs gtmd (core 0, 1 worker), %d s per "
             "name, %d rounds alternating" % (a.clients, a.outstanding, a.qps_seconds, a.rounds))
    R.append("  %-9s %-26s %10s   %s" % ("name", "QPS per round", "median QPS",
                                         "gtmd CPU / queries per gtmd CPU-s (median)"))
    med = {}
    for label, _ in names:
        xs = res[label]
        mq = statistics.median(x[0] for x in xs)
        mc = statistics.median(x[2] for x in xs)
        mu = statistics.median(x[4] for x in xs)
        med[label] = (mq, mc)
        R.append("  %-9s %-26s %10.0f   %.0f%% / %.0f" % (
            label, " ".join("%8.0f" % x[0] for x in xs), mq, 100 * mu, mc))
        R.append("  %-9s other load per round (cores): %s" % (
            "", " ".join("%.2f" % x[5] for x in xs)))
    for label in ("failover", "weighted"):
        R.append("  ratio %s/static: QPS %.3f, per gtmd CPU-second %.3f (target >= 0.9)" % (
            label, med[label][0] / med["static"][0], med[label][1] / med["static"][1]))
    return R


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--gtmd", default=os.path.join(TOP, "build", "gtmd"))
    ap.add_argument("--endpoints", type=int, default=10000)
    ap.add_argument("--listeners", type=int, default=10)
    ap.add_argument("--interval", type=float, default=1.0)
    ap.add_argument("--timeout", type=float, default=0.5)
    ap.add_argument("--seconds", type=float, default=35.0, help="gtmd run for part 1 (35)")
    ap.add_argument("--queries", type=int, default=400, help="timed queries during part 1")
    ap.add_argument("--qps-seconds", type=int, default=10)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--clients", type=int, default=8, help="dnsperf -c")
    ap.add_argument("--outstanding", type=int, default=100, help="dnsperf -q")
    ap.add_argument("--port", type=int, default=15390, help="gtmd DNS port")
    ap.add_argument("--sink-port", type=int, default=18090)
    ap.add_argument("--retries", type=int, default=6,
                    help="dnsperf runs to repeat in all when other load disturbs them (6)")
    ap.add_argument("--disturbed", type=float, default=0.15,
                    help="a dnsperf run is disturbed when other processes used more cores (0.15)")
    ap.add_argument("--max-wait", type=float, default=60.0,
                    help="seconds to wait for other load to stop before each measurement (60)")
    ap.add_argument("--skip-scale", action="store_true")
    ap.add_argument("--skip-qps", action="store_true")
    ap.add_argument("--workdir", default="/tmp/gtm-probe-scale")
    a = ap.parse_args()
    a.seconds = max(5.0, min(a.seconds, 600.0))
    a.listeners = max(1, min(a.listeners, 30))
    for tool in ("cc", "taskset") + (() if a.skip_qps else ("dnsperf",)):
        if not shutil.which(tool):
            sys.exit("probe_scale: %s not found" % tool)
    if not os.access(a.gtmd, os.X_OK):
        sys.exit("probe_scale: no gtmd at %s (cd build && make)" % a.gtmd)
    if not {0, 1} <= os.sched_getaffinity(0):
        sys.exit("probe_scale: needs CPUs 0 and 1")
    wd = a.workdir
    os.makedirs(wd, exist_ok=True)
    # Run a copy, so a rebuild in the middle changes nothing.
    a.gtmd_src = "%s (built %s)" % (a.gtmd, time.strftime(
        "%Y-%m-%d %H:%M:%S", time.localtime(os.stat(a.gtmd).st_mtime)))
    shutil.copy2(a.gtmd, os.path.join(wd, "gtmd-under-test"))
    a.gtmd = os.path.join(wd, "gtmd-under-test")
    sink_bin = os.path.join(wd, "accept_sink")
    subprocess.run(["cc", "-O2", "-Wall", "-o", sink_bin, os.path.join(HERE, "accept_sink.c")],
                   check=True)
    # The query client runs next to the sink, not next to gtmd.
    os.sched_setaffinity(0, {1})
    out = []
    try:
        if not a.skip_scale:
            log("part 1: %d endpoints for %.0f s" % (a.endpoints, a.seconds))
            out += part_scale(a, sink_bin, wd)
        if not a.skip_qps:
            log("part 2: policy vs static QPS")
            out += part_qps(a, sink_bin, wd)
    finally:
        for p in reversed(STARTED):
            p.stop()
    print()
    print("\n".join(out))
    return 0


if __name__ == "__main__":
    sys.exit(main())

#!/usr/bin/python3
"""Answers per CPU-second on a veth pair between two network namespaces:
gtmd with its AF_XDP listener, gtmd on sockets, Knot DNS with XDP and on
sockets, and the socket echo server (udp_echo.c), in one interleaved run
(issue 27; doc/xdp.md has the figures and how to read them).

Topology (made here, removed at the end, also on failure or Ctrl-C):
namespace SRV with veth SIF (NET.1/24), namespace CLI with veth CIF
(NET.2/24); GRO on and TSO off on both (ethtool), threaded NAPI on both
(/sys/class/net/X/threaded), the NAPI thread of SIF pinned to CPU 0 and
that of CIF to CPU 1; the server runs on CPU 0, dnsperf on CPU 1 at a fixed
rate (-Q). Server CPU = the server process's utime+stime plus the SIF NAPI
thread's (where XDP and the kernel's receive path run) over the run.

XDP programs stay attached after a server exits (Knot's do): every run
ends with `ip link set dev SIF xdp off`, and so does the cleanup.

  sudo /usr/bin/python3 contrib/bench/xdp_bench.py [--rounds 3] [--duration 10]
"""
import argparse
import json
import os
import re
import shutil
import signal
import statistics
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
TOP = os.path.dirname(os.path.dirname(HERE))
ORIGIN = "bench.test."
TICK = os.sysconf("SC_CLK_TCK")


def log(msg):
    sys.stderr.write("[xdp_bench %s] %s\n" % (time.strftime("%H:%M:%S"), msg))
    sys.stderr.flush()


def run(*argv, check=True, timeout=30):
    r = subprocess.run(list(argv), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                       timeout=timeout)
    if check and r.returncode != 0:
        raise RuntimeError("%s: %s" % (" ".join(argv), r.stderr.decode(errors="replace")))
    return r


class Topo:
    def __init__(self):
        tag = "%d" % (os.getpid() % 1000)
        n = os.getpid() % 250
        self.srv, self.cli = "gxb%s-srv" % tag, "gxb%s-cli" % tag
        self.sif, self.cif = "xbs" + tag, "xbc" + tag
        self.addr = "10.236.%d.1" % n
        self.made = []
        self.notes = []

    def build(self):
        for ns in (self.srv, self.cli):
            run("ip", "netns", "add", ns)
            self.made.append(ns)
        run("ip", "link", "add", self.sif, "netns", self.srv, "type", "veth", "peer", "name",
            self.cif, "netns", self.cli)
        n = self.addr.split(".")[2]
        for ns, dev, last in ((self.srv, self.sif, 1), (self.cli, self.cif, 2)):
            run("ip", "-n", ns, "addr", "add", "10.236.%s.%d/24" % (n, last), "dev", dev)
            run("ip", "-n", ns, "link", "set", dev, "up")
            run("ip", "-n", ns, "link", "set", "lo", "up")
            if shutil.which("ethtool"):
                r = run("ip", "netns", "exec", ns, "ethtool", "-K", dev, "gro", "on", "tso", "off",
                        check=False)
                if r.returncode:
                    self.notes.append("ethtool -K %s failed: %s" % (dev, r.stderr.decode()))
            else:
                self.notes.append("ethtool not installed: GRO/TSO left as they are")
            run("ip", "netns", "exec", ns, "sh", "-c", "echo 1 > /sys/class/net/%s/threaded" % dev)
        # Static neighbours: no ARP in the measured path.
        smac = self.mac(self.srv, self.sif)
        cmac = self.mac(self.cli, self.cif)
        run("ip", "-n", self.srv, "neigh", "replace", "10.236.%s.2" % n, "lladdr", cmac, "dev",
            self.sif, "nud", "permanent")
        run("ip", "-n", self.cli, "neigh", "replace", self.addr, "lladdr", smac, "dev", self.cif,
            "nud", "permanent")

    def mac(self, ns, dev):
        out = run("ip", "-n", ns, "link", "show", dev).stdout.decode()
        return re.search(r"link/ether (\S+)", out).group(1)

    def napi_pids(self):
        """{dev: [pids]} of the NAPI threads (napi/DEV-ID; comm cut at 15)."""
        found = {self.sif: [], self.cif: []}
        for pid in os.listdir("/proc"):
            if not pid.isdigit():
                continue
            try:
                comm = open("/proc/%s/comm" % pid).read().strip()
            except OSError:
                continue
            for dev in found:
                if comm.startswith("napi/%s-" % dev):
                    found[dev].append(int(pid))
        return found

    def pin_napi(self):
        found = self.napi_pids()
        for dev, cpu in ((self.sif, 0), (self.cif, 1)):
            for pid in found[dev]:
                run("taskset", "-p", "-c", str(cpu), str(pid), check=False)
        return found

    def xdp_off(self):
        run("ip", "-n", self.srv, "link", "set", "dev", self.sif, "xdp", "off", check=False)

    def close(self):
        if self.srv in self.made:
            self.xdp_off()
        for ns in self.made:
            run("ip", "netns", "del", ns, check=False)
        self.made = []


def cpu_ticks(pid):
    """utime+stime of a process (all its threads) in clock ticks."""
    try:
        f = open("/proc/%d/stat" % pid).read().rsplit(")", 1)[1].split()
        return int(f[11]) + int(f[12])
    except (OSError, IndexError):
        return 0


def gtmd_conf(d, t, zone, xdp):
    c = {"listen": ["%s:53" % t.addr], "workers": 1,
         "zones": [{"origin": ORIGIN, "file": zone}]}
    if xdp:
        c["xdp"] = {"interface": t.sif}
    path = os.path.join(d, "gtmd.json")
    with open(path, "w") as f:
        json.dump(c, f)
    return path


def knot_conf(d, t, zone, xdp):
    shutil.rmtree(os.path.join(d, "db"), ignore_errors=True)
    os.makedirs(os.path.join(d, "db"))
    xdp_part = "xdp:\n    listen: %s@53\n    tcp: off\n" % t.sif if xdp else ""
    path = os.path.join(d, "knot.conf")
    with open(path, "w") as f:
        f.write("""server:
    rundir: "{d}"
    listen: {addr}@53
    udp-workers: 1
    tcp-workers: 1
    background-workers: 1
{xdp}log:
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
""".format(d=d, addr=t.addr, xdp=xdp_part, origin=ORIGIN, zone=zone))
    return path


def server_argv(name, d, t, zone, a):
    if name.startswith("gtmd"):
        return [a.gtmd, "-c", gtmd_conf(d, t, zone, name == "gtmd-xdp")], {}
    if name.startswith("knot"):
        return ["knotd", "-c", knot_conf(d, t, zone, name == "knot-xdp")], {}
    return [os.path.join(a.workdir, "udp_echo"), "53"], {"ECHO_ADDR": t.addr}


def ask(t, probe, timeout=1):
    r = run("ip", "netns", "exec", t.cli, "dig", "+short", "+time=%d" % timeout, "+tries=1",
            "@" + t.addr, probe, check=False, timeout=timeout + 5)
    return r.returncode == 0 and r.stdout.strip() != b""


def dnsperf(t, qfile, a):
    argv = ["ip", "netns", "exec", t.cli, "taskset", "-c", "1", "dnsperf", "-s", t.addr, "-p",
            "53", "-d", qfile, "-l", str(a.duration), "-Q", str(a.rate), "-c", str(a.clients),
            "-q", str(a.outstanding), "-t", "2"]
    if not a.no_edns:
        argv.append("-e")
    r = subprocess.run(argv, capture_output=True, text=True, timeout=a.duration + 60)
    out = r.stdout + r.stderr
    get = lambda pat, conv=float: conv(re.search(pat, out).group(1)) if re.search(pat, out) \
        else conv(0)
    return {"completed": get(r"Queries completed:\s+(\d+)", int),
            "sent": get(r"Queries sent:\s+(\d+)", int),
            "lost": get(r"Queries lost:\s+(\d+)", int),
            "qps": get(r"Queries per second:\s+([0-9.]+)"),
            "rcodes": (re.search(r"Response codes:\s+(.*)", out) or [None, ""])[1],
            "raw": out if r.returncode else ""}


def one_run(name, t, zone, qfile, probe, a, procs):
    d = os.path.join(a.workdir, name)
    os.makedirs(d, exist_ok=True)
    argv, env = server_argv(name, d, t, zone, a)
    errlog = open(os.path.join(d, "server.log"), "ab")
    p = subprocess.Popen(["ip", "netns", "exec", t.srv, "taskset", "-c", "0"] + argv,
                         stdout=errlog, stderr=errlog, env=dict(os.environ, **env),
                         start_new_session=True)
    procs.append(p)
    res = {"server": name}
    try:
        deadline = time.monotonic() + 60
        while not ask(t, probe):
            if p.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("%s did not start (see %s/server.log)" % (name, d))
            time.sleep(0.2)
        napi = t.pin_napi()  # after the start: attaching XDP may remake the threads
        snap = napi[t.sif]
        time.sleep(0.5)
        c0 = cpu_ticks(p.pid) + sum(cpu_ticks(x) for x in snap)
        s0 = cpu_ticks(p.pid)
        t0 = time.monotonic()
        res.update(dnsperf(t, qfile, a))
        wall = time.monotonic() - t0
        c1 = cpu_ticks(p.pid) + sum(cpu_ticks(x) for x in snap)
        s1 = cpu_ticks(p.pid)
        res["cpu_s"] = (c1 - c0) / TICK
        res["proc_cpu_s"] = (s1 - s0) / TICK
        res["napi_cpu_s"] = res["cpu_s"] - res["proc_cpu_s"]
        res["wall"] = wall
        res["per_cpu_s"] = res["completed"] / res["cpu_s"] if res["cpu_s"] else 0.0
        with open(os.path.join(d, "server.log"), "rb") as f:
            text = f.read().decode(errors="replace")
        res["xdp_log"] = [x for x in text.splitlines() if "xdp" in x.lower()][-3:]
    finally:
        os.killpg(p.pid, signal.SIGTERM)
        try:
            p.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(p.pid, signal.SIGKILL)
            p.wait(timeout=10)
        procs.remove(p)
        errlog.close()
        t.xdp_off()  # Knot leaves its program attached
    return res


def prepare(a):
    os.makedirs(a.workdir, exist_ok=True)
    zone = os.path.join(a.workdir, "bench.zone")
    qfile = os.path.join(a.workdir, "queries.txt")
    probefile = zone + ".probe"
    if not all(os.path.exists(f) for f in (zone, qfile, probefile)):
        out = subprocess.run(["/usr/bin/python3", os.path.join(HERE, "gen_zone.py"), "--zone",
                              zone, "--names", "10000", "--queries", qfile],
                             check=True, capture_output=True, text=True, timeout=600)
        with open(probefile, "w") as f:
            f.write(out.stdout)
    subprocess.run(["cc", "-O2", "-Wall", "-o", os.path.join(a.workdir, "udp_echo"),
                    os.path.join(HERE, "udp_echo.c")], check=True, timeout=120)
    shutil.copy(a.gtmd, os.path.join(a.workdir, "gtmd"))
    a.gtmd = os.path.join(a.workdir, "gtmd")  # a rebuild during the run changes nothing
    return zone, qfile, open(probefile).read().strip()


def report(a, results, notes):
    lines = ["answers per CPU-second (server process + napi/SIF thread), "
             "dnsperf -Q %d for %d s, %d rounds interleaved" % (a.rate, a.duration, a.rounds),
             "%-12s %10s %18s %9s %8s %8s %8s" % ("server", "median", "spread (min-max)",
                                                   "qps", "lost", "proc s", "napi s")]
    med = {}
    for name in a.servers:
        rs = [r for r in results if r["server"] == name and r.get("cpu_s")]
        if not rs:
            lines.append("%-12s no result" % name)
            continue
        v = [r["per_cpu_s"] for r in rs]
        med[name] = statistics.median(v)
        lines.append("%-12s %10.0f %8.0f-%-9.0f %9.0f %8d %8.2f %8.2f" % (
            name, med[name], min(v), max(v), statistics.median(r["qps"] for r in rs),
            max(r["lost"] for r in rs), statistics.median(r["proc_cpu_s"] for r in rs),
            statistics.median(r["napi_cpu_s"] for r in rs)))
    for num, den, want in (("gtmd-xdp", "gtmd-socket", 1.5), ("gtmd-xdp", "knot-xdp", 1.0),
                           ("knot-xdp", "knot-socket", None), ("gtmd-socket", "echo", None),
                           ("gtmd-xdp", "echo", None)):
        if num in med and den in med and med[den]:
            x = med[num] / med[den]
            tgt = "" if want is None else ("  target >= %.1f: %s" % (want, "met" if x >= want
                                                                    else "NOT met"))
            lines.append("%s / %s = %.2f%s" % (num, den, x, tgt))
    lines += ["note: " + n for n in notes]
    return "\n".join(lines)


def main():
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--gtmd", default=os.path.join(TOP, "build", "gtmd"))
    ap.add_argument("--servers", default="gtmd-xdp,gtmd-socket,knot-xdp,knot-socket,echo")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--duration", type=int, default=10, help="seconds per dnsperf run (10)")
    ap.add_argument("--rate", type=int, default=100000, help="dnsperf -Q (100000)")
    ap.add_argument("--clients", type=int, default=8)
    ap.add_argument("--outstanding", type=int, default=100)
    ap.add_argument("--no-edns", action="store_true")
    ap.add_argument("--workdir", default="/tmp/gtmxdpbench")
    a = ap.parse_args()
    a.servers = a.servers.split(",")
    if os.geteuid() != 0:
        sys.exit("xdp_bench: needs root (namespaces, XDP)")
    zone, qfile, probe = prepare(a)
    t = Topo()
    procs = []

    def on_signal(sig, _frm):
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, on_signal)
    results = []
    try:
        t.build()
        for rnd in range(a.rounds):
            for name in a.servers:
                log("round %d: %s" % (rnd + 1, name))
                try:
                    r = one_run(name, t, zone, qfile, probe, a, procs)
                except RuntimeError as e:
                    log("FAILED: %s" % e)
                    r = {"server": name, "error": str(e)}
                r["round"] = rnd + 1
                results.append(r)
                if r.get("cpu_s"):
                    log("  %.0f answers/CPU-s (%d answers, %.2f CPU-s: process %.2f + napi "
                        "%.2f), %.0f qps, %d lost" % (r["per_cpu_s"], r["completed"], r["cpu_s"],
                                                       r["proc_cpu_s"], r["napi_cpu_s"], r["qps"],
                                                       r["lost"]))
    finally:
        for p in procs:
            try:
                os.killpg(p.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        t.close()
    text = report(a, results, t.notes)
    stamp = time.strftime("%Y%m%d-%H%M%S")
    with open(os.path.join(a.workdir, "results-%s.json" % stamp), "w") as f:
        json.dump(results, f, indent=1)
    with open(os.path.join(a.workdir, "results-%s.txt" % stamp), "w") as f:
        f.write(text + "\n")
    print(text)


if __name__ == "__main__":
    main()

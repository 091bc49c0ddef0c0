#!/usr/bin/python3
"""load_bench.py -- zone load time and memory: gtmd (and a base gtmd) beside
Knot and NSD, in interleaved rounds.

A benchmark, not a test. Two layouts:
  big      one zone of --records records (gen_zone.py --records N)
  hosting  --zones zones of --zone-records records each (one gen_zone.py
           zone copied under the names z0.hosting.test. ... )
For each round, every server in turn (the order rotated each round) is
started alone, unpinned; the figures are the wall time from starting it to
the first correct answer for the last name of the last zone, the CPU it used
until then (utime+stime from /proc, less sensitive to other load on a shared
machine than the wall time) and VmRSS / VmHWM one second later (summed over
its processes). Then `gtmd check` and `kzonecheck` (big layout): wall and
CPU time, peak RSS. The table gives the median and the range of the rounds.

  load_bench.py --layout big --rounds 3 [--gtmd-base OLD_BINARY]
  load_bench.py --layout hosting --zones 1000 --zone-records 1000

Ports 15320-15323 on 127.0.0.1 (--port). Every server is stopped by pid.
"""
import argparse
import json
import os
import shutil
import socket
import statistics
import struct
import subprocess
import sys
import time

TOP = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
HZ = os.sysconf("SC_CLK_TCK")


def log(msg):
    print(msg, file=sys.stderr, flush=True)


def query_ok(port, name):
    """True when 127.0.0.1:port answers name/A with NOERROR and an answer."""
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.settimeout(0.02)
    qname = b"".join(bytes([len(x)]) + x.encode() for x in name.split(".") if x) + b"\0"
    try:
        s.sendto(struct.pack(">HHHHHH", 0x4242, 0, 1, 0, 0, 0) + qname + struct.pack(">HH", 1, 1),
                 ("127.0.0.1", port))
        d = s.recv(4096)
        return len(d) >= 12 and d[:2] == b"\x42\x42" and (d[3] & 15) == 0 and d[7] > 0
    except OSError:
        return False
    finally:
        s.close()


def tree(pid):
    """pid and its descendants (NSD forks)."""
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        out.append(p)
        try:
            for t in os.listdir("/proc/%d/task" % p):
                with open("/proc/%d/task/%s/children" % (p, t)) as f:
                    todo += [int(c) for c in f.read().split()]
        except OSError:
            pass
    return out


def cpu_s(pids):
    total = 0
    for p in pids:
        try:
            with open("/proc/%d/stat" % p) as f:
                st = f.read().rsplit(")", 1)[1].split()
            total += int(st[11]) + int(st[12])
        except OSError:
            pass
    return total / HZ


def mem_mb(pids):
    rss = hwm = 0
    for p in pids:
        try:
            with open("/proc/%d/status" % p) as f:
                for line in f:
                    if line.startswith("VmRSS:"):
                        rss += int(line.split()[1])
                    elif line.startswith("VmHWM:"):
                        hwm += int(line.split()[1])
        except OSError:
            pass
    return rss / 1024, hwm / 1024


def first_answer(cmd, port, name, logf, limit=300):
    """Starts cmd, waits for the answer; (wall s, cpu s, rss MB, hwm MB)."""
    t0 = time.monotonic()
    p = subprocess.Popen(cmd, stdout=logf, stderr=logf, start_new_session=True)
    try:
        while not query_ok(port, name):
            if p.poll() is not None:
                raise RuntimeError("%s exited with %s" % (cmd[0], p.returncode))
            if time.monotonic() - t0 > limit:
                raise RuntimeError("%s: no answer in %d s" % (cmd[0], limit))
            time.sleep(0.003)  # a query every few ms: the first answer to within them
        wall = time.monotonic() - t0
        cpu = cpu_s(tree(p.pid))
        time.sleep(1)
        rss, hwm = mem_mb(tree(p.pid))
        return wall, cpu, rss, hwm
    finally:
        for q in reversed(tree(p.pid)):
            try:
                os.kill(q, 15)
            except OSError:
                pass
        try:
            p.wait(20)
        except subprocess.TimeoutExpired:
            os.killpg(p.pid, 9)
            p.wait()


def timed(cmd):
    """Runs cmd to its end; (wall s, cpu s, peak RSS MB, exit code)."""
    t0 = time.monotonic()
    p = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    _, status, ru = os.wait4(p.pid, 0)
    p.returncode = os.waitstatus_to_exitcode(status)  # Popen must not wait again
    return time.monotonic() - t0, ru.ru_utime + ru.ru_stime, ru.ru_maxrss / 1024, p.returncode


def make_zones(a, wd):
    """[(origin, file)], and the name to ask for."""
    gen = [sys.executable, os.path.join(TOP, "contrib", "bench", "gen_zone.py")]
    if a.layout == "big":
        z = os.path.join(wd, "big-%d.zone" % a.records)
        if not os.path.exists(z):
            log("generating %s" % z)
            subprocess.check_call(gen + ["--zone", z + ".tmp", "--names", "0",
                                         "--records", str(a.records)], stdout=subprocess.DEVNULL)
            os.rename(z + ".tmp", z)
        return [("bench.test.", z)], last_name(z, "bench.test.")
    d = os.path.join(wd, "hosting-%dx%d" % (a.zones, a.zone_records))
    if not os.path.isdir(d):
        log("generating %d zones in %s" % (a.zones, d))
        os.makedirs(d + ".tmp", exist_ok=True)
        one = os.path.join(d + ".tmp", "one.zone")
        subprocess.check_call(gen + ["--zone", one, "--names", "0", "--records",
                                     str(a.zone_records)], stdout=subprocess.DEVNULL)
        text = open(one).read()
        os.unlink(one)
        for i in range(a.zones):
            with open(os.path.join(d + ".tmp", "z%d.zone" % i), "w") as f:
                f.write(text.replace("bench.test.", "z%d.hosting.test." % i))
        os.rename(d + ".tmp", d)
    zones = [("z%d.hosting.test." % i, os.path.join(d, "z%d.zone" % i)) for i in range(a.zones)]
    return zones, last_name(zones[-1][1], zones[-1][0])


def last_name(path, origin):
    """The owner of the zone file's last A record, as an absolute name."""
    name = None
    with open(path) as f:
        for line in f:
            w = line.split()
            if len(w) >= 4 and not line[0].isspace() and "A" in w[1:4] and not w[0].startswith("$"):
                name = w[0]
    return name if name.endswith(".") else name + "." + origin


def server_cmds(a, wd, zones):
    """{label: (command, port)}."""
    out = {}
    port = a.port
    bins = [("gtmd", a.gtmd)] + ([("gtmd-base", a.gtmd_base)] if a.gtmd_base else [])
    for label, binary in bins:
        d = os.path.join(wd, "load-" + label)
        os.makedirs(d, exist_ok=True)
        copy = os.path.join(d, "gtmd")
        shutil.copy(binary, copy)  # a rebuild during the run changes nothing
        cfg = os.path.join(d, "gtmd.json")
        with open(cfg, "w") as f:
            json.dump({"listen": ["127.0.0.1:%d" % port], "workers": 1,
                       "zones": [{"origin": o, "file": z} for o, z in zones]}, f)
        out[label] = ([copy, "-c", cfg], port, [copy, "check", "-c", cfg])
        port += 1
    if "knot" in a.others and shutil.which("knotd"):
        d = os.path.join(wd, "load-knot")
        shutil.rmtree(d, ignore_errors=True)
        os.makedirs(os.path.join(d, "db"))
        cfg = os.path.join(d, "knot.conf")
        with open(cfg, "w") as f:
            f.write("server:\n  rundir: \"%s\"\n  listen: 127.0.0.1@%d\n  udp-workers: 1\n"
                    "  tcp-workers: 1\n  background-workers: 1\n"
                    "database:\n  storage: \"%s/db\"\n"
                    "template:\n  - id: default\n    semantic-checks: off\n"
                    "    journal-content: none\n    zonefile-sync: -1\n    zonefile-load: whole\n"
                    "zone:\n" % (d, port, d))
            for o, z in zones:
                f.write("  - domain: %s\n    file: \"%s\"\n" % (o, z))
        out["knot"] = (["knotd", "-c", cfg], port, None)
        port += 1
    if "nsd" in a.others and shutil.which("nsd"):
        d = os.path.join(wd, "load-nsd")
        shutil.rmtree(d, ignore_errors=True)
        os.makedirs(d)
        cfg = os.path.join(d, "nsd.conf")
        with open(cfg, "w") as f:
            f.write("server:\n  ip-address: 127.0.0.1@%d\n  server-count: 1\n  username: \"\"\n"
                    "  chroot: \"\"\n  zonesdir: \"%s\"\n  database: \"\"\n"
                    "  zonelistfile: \"%s/zone.list\"\n  xfrdfile: \"%s/xfrd.state\"\n"
                    "  xfrdir: \"%s\"\n  pidfile: \"%s/nsd.pid\"\n  logfile: \"%s/nsd.log\"\n"
                    "  zonefiles-write: 0\n  rrl-ratelimit: 0\nremote-control:\n"
                    "  control-enable: no\n" % (port, d, d, d, d, d, d))
            for o, z in zones:
                f.write("zone:\n  name: \"%s\"\n  zonefile: \"%s\"\n" % (o, z))
        out["nsd"] = (["nsd", "-d", "-c", cfg], port, None)
        port += 1
    return out


def med(xs):
    return "%.2f [%.2f-%.2f]" % (statistics.median(xs), min(xs), max(xs))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--layout", choices=("big", "hosting"), default="big")
    ap.add_argument("--records", type=int, default=1000000, help="big: records (1000000)")
    ap.add_argument("--zones", type=int, default=1000, help="hosting: zones (1000)")
    ap.add_argument("--zone-records", type=int, default=1000, help="hosting: records each (1000)")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--others", default="knot,nsd", help="other servers (knot,nsd)")
    ap.add_argument("--gtmd", default=os.path.join(TOP, "build", "gtmd"))
    ap.add_argument("--gtmd-base", default=None, help="a second gtmd binary, the same rounds")
    ap.add_argument("--workdir", default="/tmp/gtmbench")
    ap.add_argument("--port", type=int, default=15320)
    ap.add_argument("--no-check", action="store_true", help="skip gtmd check and kzonecheck")
    a = ap.parse_args()
    os.makedirs(a.workdir, exist_ok=True)
    zones, name = make_zones(a, a.workdir)
    servers = server_cmds(a, a.workdir, zones)
    labels = list(servers)
    res = {k: [] for k in labels}
    chk = {k: [] for k in labels if servers[k][2] and not a.no_check}
    kzc = []
    for r in range(a.rounds):
        order = labels[r % len(labels):] + labels[:r % len(labels)]
        for k in order:
            cmd, port, check = servers[k]
            with open(os.path.join(a.workdir, "load-%s.log" % k), "w") as lf:
                res[k].append(first_answer(cmd, port, name, lf))
            log("round %d %-9s first answer %.2f s cpu %.2f s rss %.0f MB hwm %.0f MB"
                % ((r + 1, k) + res[k][-1]))
            if check and not a.no_check:
                chk[k].append(timed(check))
                log("round %d %-9s check %.2f s cpu %.2f s maxrss %.0f MB rc %d"
                    % ((r + 1, k) + chk[k][-1]))
        if a.layout == "big" and shutil.which("kzonecheck") and not a.no_check:
            kzc.append(timed(["kzonecheck", "-o", zones[0][0], zones[0][1]]))
            log("round %d kzonecheck %.2f s cpu %.2f s maxrss %.0f MB rc %d" % ((r + 1,) + kzc[-1]))
    print("%s layout: %s, %d rounds (median [min-max]); asked %s"
          % (a.layout, "%d records" % a.records if a.layout == "big" else
             "%d zones x %d records" % (a.zones, a.zone_records), a.rounds, name))
    print("%-10s %-20s %-20s %-22s %-22s" % ("server", "first answer s", "cpu s", "RSS MB", "peak MB"))
    for k in labels:
        v = list(zip(*res[k]))
        print("%-10s %-20s %-20s %-22s %-22s" % (k, med(v[0]), med(v[1]), med(v[2]), med(v[3])))
    for k in labels:
        if k == "knot" or "knot" not in res:
            continue
        v, kv = list(zip(*res[k])), list(zip(*res["knot"]))
        print("%s/Knot: first answer %.2fx (wall, medians), %.2fx CPU, RSS %.2fx (target: first "
              "answer <= 1.0x, RSS <= 0.5x)" % (k, statistics.median(v[0]) / statistics.median(kv[0]),
                                               statistics.median(v[1]) / statistics.median(kv[1]),
                                               statistics.median(v[2]) / statistics.median(kv[2])))
    rows = [(k + " check", chk[k]) for k in chk] + ([("kzonecheck", kzc)] if kzc else [])
    if rows:
        print("%-16s %-20s %-20s %-22s" % ("check", "wall s", "cpu s", "peak MB"))
        for k, v in rows:
            v = list(zip(*v))
            print("%-16s %-20s %-20s %-22s" % (k, med(v[0]), med(v[1]), med(v[2])))


if __name__ == "__main__":
    main()

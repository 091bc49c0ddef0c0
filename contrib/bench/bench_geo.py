"""bench_geo.py -- the geo part of bench.py (--geo, --geo-only).

gtmd alone (the other servers have no geo records), one worker, serving the
benchmark zone plus 8 geo names (geo-0..7: two maps of 7 continent, 60
country and 24 network keys) and 4 nearest names (near-0..3, over 8 and 5
regions) from the synthetic 1,050,000-network database that gen_geo_db.pl
writes (kept in the work directory). Pools have no checks: every region is
up, so every query takes the whole geo path (location, class, order, view
lookup for the scope).

Three query files from gen_zone.py --geo-queries, sent with dnsperf -B (the
binary format is the only way to give every query its own ECS option:
dnsperf -E sends one fixed option): static host names, geo names and
nearest names, the same count of A queries each with an ECS option from the
same 4096 distinct networks (3/4 IPv4 /24, 1/4 IPv6 /56). Rounds are
interleaved (static, geo, nearest, rotated each round) in the same gtmd
process, in the modes asked (pinned-udp and quota-udp by default); the
report gives the median of the rounds, their spread and the ratio to static
names, against the target >= 0.85.

Then the database's load and reload through gtmd: a fresh gtmd with the
same configuration, unpinned: time to the first answer, the geo_database
and start load_ms from its log, RSS and peak RSS; then SIGHUP reloads
(which read the database again and recompile every geo record), each
reload's ms from the log and RSS after it.
"""

import json
import os
import re
import signal
import statistics
import subprocess
import time

HERE = os.path.dirname(os.path.abspath(__file__))

REGIONS = {  # name: location, the answer is 198.51.100.(index + 10)
    "us-east": [38.9, -77.0], "us-west": [37.4, -122.1], "sa-east": [-23.5, -46.6],
    "eu-west": [53.3, -6.3], "eu-central": [50.1, 8.7], "ap-south": [19.1, 72.9],
    "ap-northeast": [35.7, 139.7], "ap-southeast": [1.35, 103.8],
}
COUNTRIES = """US CA MX BR AR CL CO PE GB IE FR DE NL BE ES PT IT CH AT SE NO DK FI PL CZ RO
GR TR RU UA IN PK BD CN JP KR TW HK SG MY TH VN ID PH AU NZ ZA NG KE EG MA SA AE IL IR IQ KZ
UZ PR""".split()
CONTINENT_ORDER = {
    "NA": ["us-east", "us-west", "eu-west"], "SA": ["sa-east", "us-east"],
    "EU": ["eu-central", "eu-west", "us-east"], "AF": ["eu-west", "eu-central"],
    "AS": ["ap-southeast", "ap-northeast", "ap-south"], "OC": ["ap-southeast", "us-west"],
    "AN": ["sa-east", "ap-southeast"],
}


def geo_map(variant):
    """A map of 7 continent, 60 country and 24 network keys and default;
    variant 1 lists its keys in another order (another compiled trie)."""
    names = list(REGIONS)
    m = {}
    for i, cc in enumerate(COUNTRIES):
        first = (i * 3 + variant) % 8
        m["country:" + cc] = [names[first], names[(first + 1 + i % 7) % 8]]
    for cont, order in CONTINENT_ORDER.items():
        m["continent:" + cont] = order
    for i in range(16):  # IPv4 /16 .. /20 networks of "known resolvers"
        m["network:%d.%d.0.0/%d" % (11 + i * 13, (i * 37) % 256, 16 + i % 5)] = [names[i % 8]]
    for i in range(8):
        m["network:24%02x:%x::/32" % (i * 3, i * 4096)] = [names[(i + 3) % 8]]
    m["default"] = ["us-east", "eu-central"]
    if variant:
        m = dict(reversed(list(m.items())))
    return m


def gtmd_config(port, zone, db):
    regions = list(REGIONS)
    eps = [{"name": r, "address": "198.51.100.%d" % (10 + i), "region": r}
           for i, r in enumerate(regions)]
    records = {}
    for i in range(8):
        records["geo-%d.bench.test." % i] = {"pool": "web", "policy": "geo",
                                             "geo": geo_map(i // 4), "ttl": 60}
    for i in range(4):
        records["near-%d.bench.test." % i] = {
            "pool": "web", "policy": "nearest", "ttl": 60,
            **({} if i < 2 else {"regions": regions[:5]})}
    return {
        "listen": ["127.0.0.1:%d" % port], "workers": 1,
        "zones": [{"origin": "bench.test.", "file": zone}],
        "geoip": {"database": db},
        "regions": {r: {"location": loc} for r, loc in REGIONS.items()},
        "pools": {"web": {"endpoints": eps}},
        "records": records,
    }


def ensure_db(b, wd, networks):
    db = os.path.join(wd, "geo-bench-%d.mmdb" % networks)
    if not os.path.exists(db):
        b.log("generating the synthetic %d-network MaxMind DB (gen_geo_db.pl)" % networks)
        t0 = time.monotonic()
        subprocess.run(["perl", os.path.join(HERE, "gen_geo_db.pl"), db + ".tmp",
                        str(networks)], check=True, timeout=1800)
        os.replace(db + ".tmp", db)
        b.log("generated in %.0f s" % (time.monotonic() - t0))
    return db


def ensure_queries(b, a, wd):
    """The benchmark zone and its three binary query files."""
    zone = os.path.join(wd, "bench-%d.zone" % a.names)
    prefix = os.path.join(wd, "geoq-%d-%d" % (a.names, a.geo_networks))
    files = {k: "%s.%s.bin" % (prefix, k) for k in ("static", "geo", "nearest")}
    probe = zone + ".probe"
    if not all(os.path.exists(f) for f in list(files.values()) + [zone, probe]):
        out = subprocess.run(["/usr/bin/python3", os.path.join(HERE, "gen_zone.py"),
                              "--zone", zone, "--names", str(a.names), "--count", "100000",
                              "--geo-queries", prefix, "--ecs-networks", str(a.geo_networks)],
                             check=True, capture_output=True, text=True, timeout=600)
        b.write(probe, out.stdout)
    return zone, files, open(probe).read().strip()


def make_server(b, a, wd, limiter, name, port, db):
    class Server(b.Gtmd):
        def commands(self, zone):
            cfg = os.path.join(self.dir, "gtmd.json")
            b.write(cfg, json.dumps(gtmd_config(self.port, zone, db), indent=1))
            return [[self.binary, "-c", cfg]]
    return Server(name, port, wd, limiter, binary=a.gtmd, workers=1)


def check_answers(b, port):
    """Every kind answers NOERROR with an address (and static names too)."""
    for name in ("geo-0.bench.test.", "geo-5.bench.test.", "near-0.bench.test.",
                 "near-3.bench.test."):
        r = b.dns_ask(port, name, "A", timeout=1.0)
        if not r or r[0] != 0 or r[2] < 1:
            raise RuntimeError("gtmd does not answer %s: %s" % (name, r))


def one_run(b, a, s, qfile, mode, label, wait_budget):
    waited = b.quiet_wait(min(15.0, max(0.0, wait_budget[0])))
    wait_budget[0] -= waited
    pids = s.pids()
    bz0, c0, t0 = b.busy_seconds(), b.cpu_seconds(pids), time.monotonic()
    r = b.dnsperf(s.port, qfile, a.duration, mode.endswith("tcp"), a.clients, a.outstanding,
                  False, binary=True)
    bz1, c1, t1 = b.busy_seconds(), b.cpu_seconds(pids), time.monotonic()
    r["cpu"] = (c1 - c0) / (t1 - t0)
    r["foreign"] = max(0.0, (bz1 - bz0) / (t1 - t0) - r["cpu"] - r["client_cpu"])
    b.log("geo %s %-10s %8.0f qps  cpu %.2f client %.2f other %.2f  lost %d/%d  %s" % (
        label, mode, r["qps"], r["cpu"], r["client_cpu"], r["foreign"], r["lost"], r["sent"],
        r["rcodes"]))
    return r


def measure_qps(b, a, s, files, modes, limiter, notes):
    """Interleaved rounds; returns {(mode, kind): [run, ...]}. A run that
    other processes disturbed (bench.py --disturbed) is run again while
    the retry budget (--retries, doubled here) lasts; the better is kept."""
    kinds = ["static", "geo", "nearest"]
    res = {}
    wait_budget, retries = [a.max_wait], [2 * a.retries]
    for rnd in range(a.rounds):
        for mode in modes:
            if limiter.usable:
                limiter.set(s.name, mode.startswith("quota"))
            time.sleep(0.3)
            order = kinds[rnd % 3:] + kinds[:rnd % 3]
            for kind in order:
                label = "round %d %-8s" % (rnd + 1, kind)
                r = one_run(b, a, s, files[kind], mode, label, wait_budget)
                if r["foreign"] > a.disturbed and retries[0] > 0:
                    retries[0] -= 1
                    r2 = one_run(b, a, s, files[kind], mode, label + " again", wait_budget)
                    r = r2 if r2["foreign"] < r["foreign"] else r
                if r["foreign"] > a.disturbed:
                    notes.append("%s %s: %.2f cores used by other processes (%.0f qps): "
                                 "disturbed" % (label, mode, r["foreign"], r["qps"]))
                res.setdefault((mode, kind), []).append(r)
                time.sleep(0.3)
    if limiter.usable:
        limiter.set(s.name, False)
    return res


def log_values(path, pattern):
    return [float(x) for x in re.findall(pattern, open(path, errors="replace").read())]


def measure_load(b, a, wd, limiter, zone, probe, db):
    """Start (unpinned) and reloads with the big database: times and RSS."""
    s = make_server(b, a, wd, limiter, "gtmd-geo-load", a.port + 20, db)
    open(s.errlog, "w").close()
    out = {"reload_ms": [], "rss_after_reload_mb": []}
    try:
        s.start(zone, probe, cpu=None, timeout=300, limit=False)
        out["first_answer_s"] = s.t_ready - s.t_start
        time.sleep(0.5)
        v = b.vm_status(s.proc.pid)
        out["rss_mb"], out["hwm_mb"] = v.get("VmRSS:", 0) / 1024, v.get("VmHWM:", 0) / 1024
        out["db_load_ms"] = log_values(s.errlog, r"event=geo_database .*load_ms=([0-9.]+)")[0]
        out["start_load_ms"] = log_values(s.errlog, r"event=start .*load_ms=([0-9.]+)")[0]
        for i in range(a.geo_reloads):
            n = len(log_values(s.errlog, r"event=reload result=ok .*ms=([0-9.]+)"))
            os.kill(s.proc.pid, signal.SIGHUP)
            deadline = time.monotonic() + 120
            while time.monotonic() < deadline:
                ms = log_values(s.errlog, r"event=reload result=ok .*ms=([0-9.]+)")
                if len(ms) > n:
                    out["reload_ms"].append(ms[-1])
                    break
                time.sleep(0.05)
            time.sleep(0.5)  # the old set is freed after the grace period
            v = b.vm_status(s.proc.pid)
            out["rss_after_reload_mb"].append(v.get("VmRSS:", 0) / 1024)
            out["hwm_mb"] = v.get("VmHWM:", 0) / 1024
        check_answers(b, s.port)
        out["networks"] = log_values(s.errlog, r"event=geo_database .*networks=(\d+)")[0]
    finally:
        s.stop()
    return out


def run(b, a, wd, limiter, modes):
    """The whole geo benchmark; returns the report lines."""
    db = ensure_db(b, wd, a.geo_db_networks)
    zone, files, probe = ensure_queries(b, a, wd)
    modes = [m for m in modes if m in ("pinned-udp", "quota-udp")] \
        or ["pinned-udp"]
    s = make_server(b, a, wd, limiter, "gtmd-geo", a.port + 5, db)
    open(s.errlog, "w").close()
    limiter.prepare(s.name)
    notes = []
    try:
        s.start(zone, probe)
        check_answers(b, s.port)
        res = measure_qps(b, a, s, files, modes, limiter, notes)
    finally:
        s.stop()
    load = measure_load(b, a, wd, limiter, zone, probe, db)
    return report(a, db, modes, res, load, notes)


def report(a, db, modes, res, load, notes):
    L = ["", "Geo (gtmd alone, 1 worker; database %s, %d networks; 8 geo names of 92 keys, "
         "4 nearest names;" % (os.path.basename(db), load.get("networks", 0)),
         "     A queries with ECS from %d distinct networks, dnsperf -B -c %d -q %d, %d rounds "
         "x %d s, interleaved):" % (a.geo_networks, a.clients, a.outstanding, a.rounds,
                                    a.duration),
         "  %-11s %-8s %10s %20s %6s %9s %10s %9s  %s" % (
             "mode", "names", "QPS(med)", "min-max (spread)", "cpu", "vs static", "QPS/cpu-s",
             "vs static", "rounds")]
    targets = []

    def per_cpu(r):
        return r["qps"] / r["cpu"] if r["cpu"] > 0 else 0

    for mode in modes:
        base = statistics.median([r["qps"] for r in res[(mode, "static")]])
        base_eff = statistics.median([per_cpu(r) for r in res[(mode, "static")]])
        for kind in ("static", "geo", "nearest"):
            rs = res[(mode, kind)]
            q = [r["qps"] for r in rs]
            med = statistics.median(q)
            eff = statistics.median([per_cpu(r) for r in rs])
            spread = (max(q) - min(q)) / med * 100 if med else 0
            ratio = med / base if base else 0
            L.append("  %-11s %-8s %10.0f %9.0f-%-7.0f(%2.0f%%) %6.2f %8.2fx %10.0f %8.2fx  %s" % (
                mode, kind, med, min(q), max(q), spread,
                statistics.median([r["cpu"] for r in rs]), ratio, eff,
                eff / base_eff if base_eff else 0, " ".join("%.0f" % x for x in q)))
            if kind != "static":
                targets.append("  %-46s %.2fx  %s (want >= 0.85x)" % (
                    "gtmd %s names vs static (%s)" % (kind, mode), ratio,
                    "PASS" if ratio >= 0.85 else "FAIL"))
            lost = sum(r["lost"] for r in rs)
            if lost:
                L.append("    (%d queries lost in %s %s)" % (lost, mode, kind))
        L.append("    response codes (last round): " + "; ".join(
            "%s %s" % (k, res[(mode, k)][-1]["rcodes"]) for k in ("static", "geo", "nearest")))
    L.append("  pinned-udp is usually bounded by dnsperf on core 1 (see bench.py's table: "
             "client near 1.00); quota-udp, the")
    L.append("  server held to %d%% of a core, is what the geo path costs the server. QPS/cpu-s "
             "(QPS per CPU-second" % a.quota)
    L.append("  the server used, measured from /proc) is the same cost, less sensitive to other "
             "load on the cores.")
    L.append("Geo targets:")
    L.extend(targets)
    L.append("Geo database through gtmd (unpinned, %d reloads by SIGHUP):" % len(
        load["reload_ms"]))
    L.append("  start: first answer after %.2f s; database load %.0f ms (open, flatten); "
             "whole load %.0f ms; RSS %.0f MB, peak %.0f MB" % (
                 load["first_answer_s"], load["db_load_ms"], load["start_load_ms"],
                 load["rss_mb"], load["hwm_mb"]))
    if load["reload_ms"]:
        L.append("  reload (database read again, every geo record recompiled): %s ms "
                 "(median %.0f); RSS after: %s MB; peak RSS %.0f MB" % (
                     " ".join("%.0f" % x for x in load["reload_ms"]),
                     statistics.median(load["reload_ms"]),
                     " ".join("%.0f" % x for x in load["rss_after_reload_mb"]), load["hwm_mb"]))
    if notes:
        L.append("Geo notes:")
        L.extend("  " + n for n in notes)
    return L

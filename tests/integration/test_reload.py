"""SIGHUP reload: atomic swap of config and zones under query load, a broken
zone or config keeps the old set serving, SIGTERM after reloads exits 0."""
import json
import os
import re
import signal
import socket
import struct
import threading
import time

import dns.flags
import dns.message
import dns.query
import dns.rcode
import dns.rdatatype
import pytest

from conftest import default_config, rss_kib

# Two zones whose contents must agree within one snapshot. Version K:
#   rl.test.  SOA serial K, apex TXT "vK", www A 192.0.2.(K), probe CNAME vK.tg.test.
#   tg.test.  SOA serial K, vK A 192.0.2.(K), vK TXT "vK"
# A reply mixing two versions shows as a CNAME to a name that does not exist
# (vJ.tg.test. only exists in version J), a SOA serial that disagrees with the
# apex TXT, or an address that disagrees with the CNAME target.

RL_ZONE = """$ORIGIN rl.test.
$TTL 60
@       IN SOA ns1 hostmaster {k} 3600 600 86400 60
        IN NS  ns1
        IN TXT "v{k}"
ns1     IN A   127.0.0.1
www     IN A   192.0.2.{k}
probe   IN CNAME v{k}.tg.test.
"""

TG_ZONE = """$ORIGIN tg.test.
$TTL 60
@       IN SOA ns1.rl.test. hostmaster.rl.test. {k} 3600 600 86400 60
        IN NS  ns1.rl.test.
v{k}    IN A   192.0.2.{k}
v{k}    IN TXT "v{k}"
"""


def write_atomic(path, text):
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        f.write(text)
    os.replace(tmp, path)


def write_version(workdir, k):
    write_atomic(os.path.join(workdir, "rl.test.zone"), RL_ZONE.format(k=k))
    write_atomic(os.path.join(workdir, "tg.test.zone"), TG_ZONE.format(k=k))


def reload_config(workers=2):
    def fn(workdir, port):
        write_version(workdir, 1)
        return {
            "listen": ["127.0.0.1:%d" % port],
            "workers": workers,
            "zones": [
                {"origin": "rl.test.", "file": "rl.test.zone"},
                {"origin": "tg.test.", "file": "tg.test.zone"},
            ],
        }

    return fn


def count(g, pattern):
    return len(re.findall(pattern, g.read_log()))


def wait_log(g, pattern, n, timeout=5.0):
    """Waits until pattern occurs at least n times in the log."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if count(g, pattern) >= n:
            return True
        time.sleep(0.01)
    return False


def hup_and_wait(g, result):
    pattern = r"event=reload result=%s\b" % result
    before = count(g, pattern)
    g.signal(signal.SIGHUP)
    assert wait_log(g, pattern, before + 1), "no 'event=reload result=%s' after SIGHUP:\n%s" % (
        result, g.read_log())


def probe_version(r):
    """Version K of an answer to probe.rl.test./A, or raises ValueError."""
    if r.rcode() != dns.rcode.NOERROR:
        raise ValueError("rcode %s" % dns.rcode.to_text(r.rcode()))
    cname = [rs for rs in r.answer if rs.rdtype == dns.rdatatype.CNAME]
    addrs = [rs for rs in r.answer if rs.rdtype == dns.rdatatype.A]
    if len(cname) != 1 or len(addrs) != 1:
        raise ValueError("mixed/incomplete answer: %s" % r.answer)
    target = cname[0][0].target.to_text()
    m = re.fullmatch(r"v(\d+)\.tg\.test\.", target)
    if not m:
        raise ValueError("unexpected CNAME target %s" % target)
    k = int(m.group(1))
    if addrs[0].name.to_text() != target or [a.address for a in addrs[0]] != ["192.0.2.%d" % k]:
        raise ValueError("mixed answer: CNAME to %s but %s" % (target, addrs[0]))
    return k


def apex_version(r):
    """Version K of an ANY answer for rl.test. over TCP, or raises ValueError."""
    if r.rcode() != dns.rcode.NOERROR:
        raise ValueError("rcode %s" % dns.rcode.to_text(r.rcode()))
    soa = [rs for rs in r.answer if rs.rdtype == dns.rdatatype.SOA]
    txt = [rs for rs in r.answer if rs.rdtype == dns.rdatatype.TXT]
    if len(soa) != 1 or len(txt) != 1:
        raise ValueError("ANY over TCP lacks SOA or TXT: %s" % r.answer)
    serial = soa[0][0].serial
    text = b"".join(txt[0][0].strings).decode()
    if text != "v%d" % serial:
        raise ValueError("mixed answer: serial %d with TXT %s" % (serial, text))
    return serial


class Querier(threading.Thread):
    """Queries in a loop until stopped (bounded by count and time) and
    records failures, mixed answers and versions going backwards."""

    def __init__(self, g, kind, max_queries=20000, max_seconds=20.0):
        super().__init__(daemon=True)
        self.g, self.kind = g, kind
        self.max_queries, self.max_seconds = max_queries, max_seconds
        self.stop_ev = threading.Event()
        self.n = 0
        self.failures, self.mixed, self.backwards = [], [], []
        self.versions = set()

    def run(self):
        t_end = time.monotonic() + self.max_seconds
        last = 0
        while not self.stop_ev.is_set() and self.n < self.max_queries and time.monotonic() < t_end:
            self.n += 1
            try:
                if self.kind == "udp":
                    q = dns.message.make_query("probe.rl.test.", "A")
                    r = dns.query.udp(q, self.g.addr, port=self.g.port, timeout=1.0)
                    k = probe_version(r)
                else:
                    q = dns.message.make_query("rl.test.", "ANY")
                    r = dns.query.tcp(q, self.g.addr, port=self.g.port, timeout=1.0)
                    k = apex_version(r)
            except ValueError as e:
                self.mixed.append(str(e))
                continue
            except Exception as e:  # timeouts, resets, parse errors
                self.failures.append("%s: %s" % (type(e).__name__, e))
                continue
            self.versions.add(k)
            if k < last:
                self.backwards.append((last, k))
            last = k

    def stop(self):
        self.stop_ev.set()
        self.join(timeout=10)


@pytest.mark.threads
def test_20_reloads_under_load_are_atomic(make_gtmd):
    g = make_gtmd(reload_config())
    assert probe_version(g.query("probe.rl.test.", "A")) == 1
    queriers = [Querier(g, "udp"), Querier(g, "udp"), Querier(g, "tcp")]
    for q in queriers:
        q.start()
    try:
        time.sleep(0.1)
        for k in range(2, 22):
            write_version(g.workdir, k)
            hup_and_wait(g, "ok")
            time.sleep(0.05)
        time.sleep(0.1)
    finally:
        for q in queriers:
            q.stop()
    log = g.read_log()
    for q in queriers:
        assert q.n > 20, "%s querier made only %d queries" % (q.kind, q.n)
        assert not q.failures, "%s: %d failed of %d: %s" % (q.kind, len(q.failures), q.n,
                                                            q.failures[:5])
        assert not q.mixed, "%s: %d mixed of %d: %s" % (q.kind, len(q.mixed), q.n, q.mixed[:5])
        assert not q.backwards, "%s: version went backwards: %s" % (q.kind, q.backwards[:5])
        assert len(q.versions) >= 5, "%s saw only versions %s" % (q.kind, sorted(q.versions))
    assert count(g, r"event=reload result=ok\b") == 20
    assert "result=failed" not in log
    gens = [int(x) for x in re.findall(r"event=reload result=ok generation=(\d+)", log)]
    assert gens == list(range(2, 22))
    # The final version serves on both transports.
    assert probe_version(g.query("probe.rl.test.", "A")) == 21
    assert apex_version(g.query("rl.test.", "ANY", tcp=True)) == 21
    assert g.stop() == 0


BROKEN_ZONES = {
    "syntax": RL_ZONE.format(k=2) + "bad     IN A   300.1.2.3\n",
    "no_soa": RL_ZONE.format(k=2).replace("@       IN SOA ns1 hostmaster 2 3600 600 86400 60\n",
                                           ""),
    "cname_and_data": RL_ZONE.format(k=2) + "probe   IN TXT \"beside a CNAME\"\n",
    "missing": None,
}


@pytest.mark.threads
def test_broken_zone_on_reload_keeps_old_data(make_gtmd):
    g = make_gtmd(reload_config())
    path = os.path.join(g.workdir, "rl.test.zone")
    for i, (kind, text) in enumerate(sorted(BROKEN_ZONES.items()), start=1):
        # tg.test. is fine in version 2; rl.test. is broken: nothing changes.
        write_atomic(os.path.join(g.workdir, "tg.test.zone"), TG_ZONE.format(k=2))
        if text is None:
            os.unlink(path)
        else:
            write_atomic(path, text)
        hup_and_wait(g, "failed")
        assert count(g, r"event=reload result=failed") == i
        for _ in range(5):
            assert probe_version(g.query("probe.rl.test.", "A")) == 1, kind
            assert apex_version(g.query("rl.test.", "ANY", tcp=True)) == 1, kind
        # The old tg.test. (v1) is kept too: the swap is all or nothing.
        r = g.query("v2.tg.test.", "A")
        assert r.rcode() == dns.rcode.NXDOMAIN, kind
        write_version(g.workdir, 1)
    log = g.read_log()
    assert "rl.test.zone:" in log, "the failed reload does not say which file is wrong"
    assert count(g, r"event=reload result=ok") == 0
    # Fixed: the next reload succeeds as generation 2.
    write_version(g.workdir, 3)
    hup_and_wait(g, "ok")
    assert re.search(r"event=reload result=ok generation=2\b", g.read_log())
    assert probe_version(g.query("probe.rl.test.", "A")) == 3
    assert g.stop() == 0


def test_broken_config_on_reload_keeps_serving(make_gtmd):
    g = make_gtmd(reload_config())
    good = dict(g.config)
    broken = [
        "{ \"listen\": [\"127.0.0.1:%d\"], \"zones\": [\n" % g.port,  # not JSON
        json.dumps(dict(good, bogus=1)),  # unknown key
        json.dumps(dict(good, zones=[{"origin": "rl.test.", "file": "nowhere.zone"}])),
        json.dumps(dict(good, tcp={"idle_timeout": -1})),
    ]
    write_version(g.workdir, 2)  # the zones are fine; only the config is bad
    for i, text in enumerate(broken, start=1):
        write_atomic(g.conf_path, text)
        hup_and_wait(g, "failed")
        assert count(g, r"event=reload result=failed") == i
        for _ in range(5):
            assert probe_version(g.query("probe.rl.test.", "A")) == 1
            assert apex_version(g.query("rl.test.", "ANY", tcp=True)) == 1
    assert "gtmd.json" in g.read_log()
    write_atomic(g.conf_path, json.dumps(good))
    hup_and_wait(g, "ok")
    assert probe_version(g.query("probe.rl.test.", "A")) == 2
    assert g.stop() == 0


def test_sigterm_after_reloads_exits_0(make_gtmd):
    g = make_gtmd(reload_config())
    for k in range(2, 6):
        write_version(g.workdir, k)
        hup_and_wait(g, "ok")
    write_atomic(os.path.join(g.workdir, "rl.test.zone"), "garbage here\n")
    hup_and_wait(g, "failed")
    assert probe_version(g.query("probe.rl.test.", "A")) == 5
    g.signal(signal.SIGTERM)
    assert g.proc.wait(timeout=10) == 0
    log = g.read_log()
    assert "event=stop" in log
    assert count(g, r"event=reload result=ok") == 4


def test_reload_applies_edns_udp_max(make_gtmd):
    def cfg(workdir, port):
        c = reload_config()(workdir, port)
        c["edns_udp_max"] = 512
        return c

    g = make_gtmd(cfg)
    with open(os.path.join(g.workdir, "rl.test.zone"), "a") as f:
        for i in range(20):
            f.write("big IN TXT \"%s\"\n" % (("%02d" % i) * 50))
    hup_and_wait(g, "ok")
    r = g.query("big.rl.test.", "TXT", use_edns=0, payload=4096)
    assert r.flags & dns.flags.TC, "2 KB answer fits in edns_udp_max 512?"
    g.write_config(dict(g.config, edns_udp_max=4096))
    hup_and_wait(g, "ok")
    r = g.query("big.rl.test.", "TXT", use_edns=0, payload=4096)
    assert not r.flags & dns.flags.TC
    assert len(r.answer[0]) == 20


def test_reload_applies_tcp_timeouts(make_gtmd):
    """tcp settings are part of the config that SIGHUP reloads: a shorter
    idle_timeout must apply to connections after the reload."""

    def cfg(workdir, port):
        c = reload_config(workers=1)(workdir, port)
        c["tcp"] = {"idle_timeout": 30}
        return c

    g = make_gtmd(cfg)
    g.write_config(dict(g.config, tcp={"idle_timeout": 0.5}))
    hup_and_wait(g, "ok")
    s = socket.create_connection((g.addr, g.port), timeout=1.0)
    try:
        q = dns.message.make_query("probe.rl.test.", "A").to_wire()
        s.sendall(struct.pack("!H", len(q)) + q)
        t0 = time.monotonic()
        closed = False
        s.settimeout(0.2)
        while time.monotonic() - t0 < 3.0:
            try:
                if s.recv(65536) == b"":
                    closed = True
                    break
            except socket.timeout:
                continue
            except ConnectionResetError:
                closed = True
                break
        assert closed, "idle_timeout 0.5 set by reload not applied: connection open after 3 s"
    finally:
        s.close()


def test_sighup_as_soon_as_queries_are_answered(make_gtmd):
    """A SIGHUP (or SIGTERM) that arrives while start-up is still going on --
    workers already answer, the signal handlers are installed last -- must
    be handled (a reload), never kill gtmd with the default action."""
    for attempt in range(5):
        g = make_gtmd(start=False)
        g.start(wait=False)
        q = dns.message.make_query("www.example.com.", "A")
        deadline = time.monotonic() + 10
        answered = False
        while time.monotonic() < deadline and g.proc.poll() is None:
            try:
                dns.query.udp(q, g.addr, port=g.port, timeout=0.02)
                answered = True
                break
            except Exception:
                pass
        assert answered, "gtmd did not answer: " + g.read_log()
        g.signal(signal.SIGHUP)
        time.sleep(0.3)
        assert g.proc.poll() is None, "gtmd died on an early SIGHUP: " + g.read_log()
        r = g.query("www.example.com.")
        assert r.rcode() == dns.rcode.NOERROR
        deadline = time.monotonic() + 5
        while "event=reload" not in g.read_log() and time.monotonic() < deadline:
            time.sleep(0.05)
        assert "event=reload" in g.read_log(), g.read_log()
        assert g.stop() == 0


# ---- health slots of removed endpoints are freed -----------------------------

def churn_config(k, n_eps=64):
    """A config whose pool has n_eps endpoints named after reload k, so each
    reload removes the last one's endpoints and adds as many new ones, with
    a tcp check (to a closed port) so probes are in flight across reloads."""
    from adminlib import admin_port, admin_section

    def fn(workdir, port):
        c = default_config(workdir, port)
        c["regions"] = {"r1": {}, "r2": {}}
        c["checks"] = {"t": {"type": "tcp", "port": 9, "interval": 0.2, "timeout": 0.1}}
        c["pools"] = {"p": {"check": "t", "endpoints": [
            {"name": "e%d-%d" % (k, i), "address": "127.0.1.%d" % (i + 1),
             "region": "r1" if i % 2 else "r2"} for i in range(n_eps)]}}
        c["records"] = {"churn.example.com.": {"pool": "p", "policy": "all",
                                               "when_all_down": "all", "answers": 8}}
        c["admin"] = admin_section(workdir, admin_port(port))
        return c
    return fn


def metric_value(a, name):
    from adminlib import READ_TOKEN
    body = a.get("/metrics", token=READ_TOKEN).body.decode()
    m = re.search(r"^%s (\d+)$" % name, body, re.M)
    assert m, name
    return int(m.group(1))


@pytest.mark.threads
def test_200_reloads_adding_and_removing_endpoints_keep_slots_and_rss_flat(make_gtmd):
    """Every reload replaces the pool's 64 endpoints with 64 new ones
    (probed every 0.2 s, so probes are in flight across reloads). Slots of
    removed endpoints used to be kept for the process's life (+64 per
    reload, about 25 KiB); they are freed once the old set and its probes
    are gone, so the slot count stays at 66 and RSS flat over 200 reloads.
    Before those, a warm-up fills the event ring of GET /v1/events (10,000
    events; each new endpoint's first probe result is one), which grows
    until full, and malloc's arenas. Reloads are SIGHUPs, every tenth
    through the API (the audit ring keeps 1,000 lines)."""
    from adminlib import Admin
    g = make_gtmd(churn_config(0))
    a = Admin.of(g).wait_ready()
    k = 0

    def reload():
        nonlocal k
        k += 1
        g.write_config(churn_config(k)(g.workdir, g.port) | {"admin": g.config["admin"]})
        if k % 10:
            hup_and_wait(g, "ok")
        else:
            r = a.post("/v1/reload", {})
            assert r.status == 200 and r.json["result"] == "ok", r

    def sample():
        time.sleep(0.3)  # the old plans' last probes end (timeout 0.1 s)
        return metric_value(a, "gtmd_health_slots"), rss_kib(g.proc.pid)
    t0 = time.monotonic()
    while k < 1000 and (k % 25 or metric_value(a, "gtmd_health_transitions_total") < 11000):
        reload()
    warmup = k
    slots, rss = {}, {}
    slots[0], rss[0] = sample()
    for n in range(1, 201):
        reload()
        if n % 50 == 0:
            slots[n], rss[n] = sample()
    freed = metric_value(a, "gtmd_health_slots_freed_total")
    print("\nMEASURE %d warm-up + 200 reloads in %.1f s; slots after 0..200: %s; freed %d; "
          "RSS KiB %s" % (warmup, time.monotonic() - t0, [slots[n] for n in sorted(slots)], freed,
                          [rss[n] for n in sorted(rss)]))
    assert warmup < 1000, "the event ring did not fill"
    # 64 endpoints + 2 regions, whatever the number of reloads.
    assert all(v == 66 for v in slots.values()), slots
    assert freed >= 64 * (k - 2), freed
    # Under AddressSanitizer (its stage sets ASAN_OPTIONS) the allocator's
    # size classes and the heap's shadow add 3-6 % over the first reloads,
    # whatever gtmd keeps: measured alike before and after the tenth
    # session's ownership change (3492c2c +3.8 % and +2.4 %, 5ce0a7c +3.4 %
    # and +2.5 %; one CI run +5.1 %), then level off. There the bound is
    # 10 %, and the last 50 reloads may add 2 % at most (a leak per reload
    # grows as fast there as anywhere).
    asan = bool(os.environ.get("ASAN_OPTIONS"))
    assert max(rss.values()) <= rss[0] * (1.10 if asan else 1.05), rss
    assert not asan or rss[200] <= rss[150] * 1.02, rss
    assert query_ok(g)


def query_ok(g):
    r = g.query("churn.example.com.", "A", timeout=2.0)
    return len(r.answer) == 1 and len(r.answer[0]) == 8  # answers: 8 of 64

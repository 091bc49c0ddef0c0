"""Every thread of gtmd busy at once, for the ThreadSanitizer build (and as a
plain stress test in the others): DNS workers answering policy and static
names over UDP and TCP, the prober flapping two endpoints (health changes,
state file writes), the admin thread serving status, metrics and explain
while overrides come and go (some expiring on the admin timer), and reloads
from SIGHUP (main thread) and POST /v1/reload (admin thread) in between.

Every loop is bounded by a deadline and a count; the assertions are that
nothing failed, every kind of work really happened, and gtmd stops cleanly
(conftest.py also fails the test on any ThreadSanitizer report)."""
import json
import os
import re
import signal
import socket
import threading
import time

import dns.message
import dns.query
import dns.rcode
import pytest

from adminlib import Admin, config_fn
from backends import backends, fast_query, free_port_on, poll  # noqa: F401

RUN_SECONDS = 6.0
US, EU = "127.0.0.81", "127.0.0.82"

# name, type, ECS (hashed selection over ECS makes the answer ECS-dependent)
NAMES = [
    ("fo.example.com.", "A", None),
    ("fo.example.com.", "AAAA", None),
    ("hs.example.com.", "A", "10.1.2.0/24"),
    ("hfo.example.com.", "A", "2001:db8:1::/48"),
    ("cn.example.com.", "CNAME", None),
    ("all.example.com.", "A", None),
    ("flap.example.com.", "A", None),
    ("www.example.com.", "A", None),
    ("nope.example.com.", "A", None),
]


def flapping(port):
    """A checked pool whose two endpoints flap with every probe (rise and
    fall 1, backends alternating 200 and 503)."""
    def mutate(c, workdir):
        c["regions"]["f-us"] = {}
        c["regions"]["f-eu"] = {}
        c["checks"] = {"flap": {"type": "http", "port": port, "interval": 0.1,
                                "timeout": 0.08, "rise": 1, "fall": 1}}
        c["pools"]["flap"] = {"check": "flap", "endpoints": [
            {"name": "fu", "address": US, "region": "f-us"},
            {"name": "fe", "address": EU, "region": "f-eu"}]}
        c["records"]["flap.example.com."] = {"pool": "flap", "policy": "failover",
                                             "regions": ["f-us", "f-eu"], "ttl": 1}
    return mutate


class Worker(threading.Thread):
    """Runs step() until stopped or the deadline; step raises to record a
    failure. Bounded by max_steps too."""

    def __init__(self, name, step, deadline, max_steps=100000):
        super().__init__(name=name, daemon=True)
        self.step, self.deadline, self.max_steps = step, deadline, max_steps
        self.stop_ev = threading.Event()
        self.n, self.failures = 0, []

    def run(self):
        while (not self.stop_ev.is_set() and self.n < self.max_steps
               and time.monotonic() < self.deadline):
            try:
                self.step(self.n)
            except Exception as e:  # recorded, asserted on at the end
                self.failures.append("%s: %s" % (type(e).__name__, e))
            self.n += 1


def check_reply(r, name, rdtype):
    assert r is not None, "no reply to %s/%s" % (name, rdtype)
    want = dns.rcode.NXDOMAIN if name.startswith("nope.") else dns.rcode.NOERROR
    assert r.rcode() == want, "%s/%s: %s" % (name, rdtype, dns.rcode.to_text(r.rcode()))
    if want == dns.rcode.NOERROR and name != "flap.example.com.":
        assert r.answer, "%s/%s: empty answer" % (name, rdtype)


@pytest.mark.threads
def test_everything_at_once(make_gtmd, backends):  # noqa: F811
    port = free_port_on([US, EU])
    backends.start_all([backends.http(US, port, mode="alternate:1,0", start=False),
                        backends.http(EU, port, mode="alternate:0,1,1", start=False)])
    g = make_gtmd(config_fn(state_file=True, mutate=flapping(port)))
    a = Admin.of(g).wait_ready()
    deadline = time.monotonic() + RUN_SECONDS
    lock = threading.Lock()
    reloads = {"api": 0, "hup": 0}

    def udp(i):
        name, rdtype, ecs = NAMES[i % len(NAMES)]
        check_reply(fast_query(g.addr, g.port, name, rdtype, timeout=2.0, ecs=ecs), name, rdtype)

    def tcp(i):
        name, rdtype, _ = NAMES[(i * 7) % len(NAMES)]
        q = dns.message.make_query(name, rdtype)
        check_reply(dns.query.tcp(q, g.addr, port=g.port, timeout=2.0), name, rdtype)

    def reader(i):
        path = ["/v1/status", "/metrics", "/v1/explain?name=flap.example.com.&ecs=10.9.0.0/16",
                "/v1/overrides", "/v1/explain?name=hs.example.com.&client=192.0.2.7"][i % 5]
        r = a.get(path)
        assert r.status == 200, (path, r)

    targets = ["region:us", "az:us-1a", "endpoint:flap/fu", "region:f-eu", "endpoint:hp/h-us3"]
    ids = []

    def writer(i):
        if i % 3 == 2 and ids:
            oid, expiring = ids.pop(0)
            # force, as the POSTs: deleting an "up" override may be unsafe
            r = a.delete("/v1/overrides/" + oid + "?force=true")
            # an override with expires_in may be gone already
            assert r.status == 200 or (expiring and r.status == 404), r
            return
        expires = 0.2 if i % 4 == 0 else None
        r = a.override(targets[i % len(targets)], state="down" if i % 2 else "up",
                       reason="stress %d" % i, force=True, expires_in=expires)
        assert r.status == 201, r
        ids.append((r.json["id"], expires is not None))

    def reloader(i):
        if i % 2:
            r = a.post("/v1/reload", timeout=10.0)
            assert r.status == 200 and r.json["result"] == "ok", r
            with lock:
                reloads["api"] += 1
        else:
            g.signal(signal.SIGHUP)
            with lock:
                reloads["hup"] += 1
        time.sleep(0.25)

    workers = [Worker("udp1", udp, deadline), Worker("udp2", udp, deadline),
               Worker("tcp", tcp, deadline), Worker("admin-read", reader, deadline),
               Worker("admin-write", writer, deadline),
               Worker("reload", reloader, deadline, max_steps=40)]
    for w in workers:
        w.start()
    for w in workers:
        w.join(timeout=RUN_SECONDS + 30)
        assert not w.is_alive(), "%s did not finish" % w.name
    for w in workers:
        assert not w.failures, "%s: %d of %d failed: %s" % (w.name, len(w.failures), w.n,
                                                            w.failures[:5])
        assert w.n >= 5, "%s did only %d steps" % (w.name, w.n)

    # The SIGHUP reloads are asynchronous: wait for their log lines.
    want = reloads["api"] + reloads["hup"]
    t_end = time.monotonic() + 10
    while time.monotonic() < t_end and len(re.findall(r"event=reload result=ok\b",
                                                      g.read_log())) < want:
        time.sleep(0.05)
    log = g.read_log()
    assert len(re.findall(r"event=reload result=ok\b", log)) == want, log[-3000:]
    assert "result=failed" not in log
    changes = len(re.findall(r"event=health_change endpoint=endpoint:flap/", log))
    assert changes >= 4, "the endpoints did not flap (%d changes):\n%s" % (changes, log[-3000:])
    assert "why=expired" in log, "no override expired on the admin timer"
    print("\nMEASURE steps %s, reloads %s, health changes %d" % (
        {w.name: w.n for w in workers}, reloads, changes))

    for o in a.overrides():
        r = a.delete("/v1/overrides/" + o["id"] + "?force=true")  # some may be unsafe
        # one with expires_in may expire between the listing and the delete
        assert r.status == 200 or (o.get("expires") and r.status == 404), (o, r)
    ok, _ = poll(lambda: a.overrides() == [], 2.0, 0.05)
    assert ok, a.overrides()
    with open(os.path.join(g.workdir, "state.json")) as f:
        assert json.load(f)["version"] == 1
    check_reply(fast_query(g.addr, g.port, "fo.example.com.", timeout=2.0), "fo.example.com.", "A")
    assert g.stop() == 0
    assert "event=stop" in g.read_log()


@pytest.mark.threads
def test_tcp_connections_closed_while_reloading(make_gtmd):
    """TCP connections opened, half-written and dropped on every worker while
    reloads swap the snapshot under them."""
    g = make_gtmd(config_fn())
    a = Admin.of(g).wait_ready()
    deadline = time.monotonic() + 3.0
    wire = dns.message.make_query("fo.example.com.", "A").to_wire()
    frame = len(wire).to_bytes(2, "big") + wire

    def churn(i):
        s = socket.create_connection((g.addr, g.port), timeout=2.0)
        try:
            if i % 3 == 0:
                s.sendall(frame[:5])  # a partial message, then close
            else:
                s.sendall(frame * (1 + i % 4))
                got = b""
                while len(got) < 2:
                    d = s.recv(65535)
                    assert d, "connection closed before a reply"
                    got += d
        finally:
            s.close()

    def reload(i):
        r = a.post("/v1/reload", timeout=10.0)
        assert r.status == 200 and r.json["result"] == "ok", r
        time.sleep(0.1)

    workers = [Worker("churn1", churn, deadline), Worker("churn2", churn, deadline),
               Worker("reload", reload, deadline, max_steps=30)]
    for w in workers:
        w.start()
    for w in workers:
        w.join(timeout=40)
        assert not w.is_alive(), "%s did not finish" % w.name
        assert not w.failures, "%s: %d of %d failed: %s" % (w.name, len(w.failures), w.n,
                                                            w.failures[:5])
        assert w.n >= 3, "%s did only %d steps" % (w.name, w.n)
    assert g.query("fo.example.com.", tcp=True).answer
    assert g.stop() == 0

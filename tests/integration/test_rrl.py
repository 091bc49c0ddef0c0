"""Response rate limiting (issue 11): the "rrl" section, per client network
and answer class, slip, window, whitelist, TCP and cookie exemptions, and
the counters in /metrics, against the real gtmd over UDP.

RRL counts in whole seconds of CLOCK_MONOTONIC, the clock Python's
time.monotonic() reads, so a burst that must fall into one second of
gtmd's starts early in a second (at_second_start) and lasts well under
half of one."""
import socket
import struct
import time

import dns.edns
import dns.flags
import dns.message
import dns.query
import dns.rcode
import pytest

from adminlib import READ_TOKEN, Admin, config_fn
from backends import poll
from conftest import default_config


def rrl_config(workers=1, **rrl):
    def fn(workdir, port):
        c = default_config(workdir, port)
        c["workers"] = workers
        c["rrl"] = rrl
        return c
    return fn


def at_second_start():
    """Sleeps until 50 ms into the next second of CLOCK_MONOTONIC."""
    now = time.monotonic()
    frac = now - int(now)
    time.sleep((1.05 - frac) if frac > 0.05 else (0.05 - frac))


class Client:
    """A UDP client bound to a loopback source address."""

    def __init__(self, g, source="127.0.0.1"):
        self.g = g
        self.s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.s.bind((source, 0))
        self.s.settimeout(0.3)
        self.qid = 0

    def close(self):
        self.s.close()

    def burst(self, n, name="www.example.com.", rdtype="A", options=None):
        """Sends n queries back to back, then collects the replies: a dict
        of answered (full replies), tc (slipped), badcookie, lost, and the
        replies themselves."""
        sent = {}
        for _ in range(n):
            self.qid = (self.qid + 1) & 0xFFFF
            q = dns.message.make_query(name, rdtype, use_edns=0, options=options or [])
            q.id = self.qid
            self.s.sendto(q.to_wire(), (self.g.addr, self.g.port))
            sent[q.id] = q
        got = {"answered": 0, "tc": 0, "badcookie": 0, "lost": 0, "replies": []}
        deadline = time.monotonic() + 1.0
        seen = set()
        while len(seen) < n and time.monotonic() < deadline:
            try:
                r = dns.message.from_wire(self.s.recv(4096))
            except socket.timeout:
                break
            if r.id not in sent or r.id in seen:
                continue
            seen.add(r.id)
            got["replies"].append(r)
            if r.rcode() == 23:
                got["badcookie"] += 1
            elif r.flags & dns.flags.TC:
                got["tc"] += 1
            else:
                got["answered"] += 1
        got["lost"] = n - len(seen)
        return got


@pytest.fixture
def client_factory():
    made = []

    def make(g, source="127.0.0.1"):
        c = Client(g, source)
        made.append(c)
        return c

    yield make
    for c in made:
        c.close()


def test_under_the_limit_nothing_is_limited(make_gtmd, client_factory):
    g = make_gtmd(rrl_config(rate=20))
    c = client_factory(g)
    for _ in range(3):
        at_second_start()
        got = c.burst(15)
        assert got["answered"] == 15, got


def test_rate_then_slip_every_second_reply(make_gtmd, client_factory):
    g = make_gtmd(rrl_config(rate=10, slip=2))
    c = client_factory(g)
    at_second_start()
    got = c.burst(30)
    assert got["answered"] == 10, got
    assert got["tc"] == 10 and got["lost"] == 10, "20 limited: every second one slips (%s)" % got
    tc = [r for r in got["replies"] if r.flags & dns.flags.TC]
    for r in tc:
        assert not r.answer and not r.authority and not r.additional
        assert r.question[0].name.to_text() == "www.example.com."
        assert r.rcode() == dns.rcode.NOERROR and r.edns == 0
        assert not r.flags & dns.flags.AA


@pytest.mark.parametrize("slip,tc", [(0, 0), (1, 20)])
def test_slip_never_and_always(make_gtmd, client_factory, slip, tc):
    g = make_gtmd(rrl_config(rate=10, slip=slip))
    c = client_factory(g)
    at_second_start()
    got = c.burst(30)
    assert got["answered"] == 10 and got["tc"] == tc, got


def test_debt_lasts_at_most_window_seconds(make_gtmd, client_factory):
    """A flood runs into debt (at most window x rate), so it stays limited
    for a while after it slows down, and recovers within window seconds."""
    g = make_gtmd(rrl_config(rate=5, slip=0, window=2))
    c = client_factory(g)
    at_second_start()
    c.burst(40)
    at_second_start()
    assert c.burst(1)["answered"] == 0, "still in debt one second later"
    time.sleep(2.1)
    at_second_start()
    assert c.burst(5)["answered"] == 5


def test_networks_share_a_bucket_per_prefix(make_gtmd, client_factory):
    g = make_gtmd(rrl_config(rate=5, slip=0))
    a, b = client_factory(g, "127.0.0.1"), client_factory(g, "127.0.0.2")
    at_second_start()
    assert a.burst(5)["answered"] == 5
    assert b.burst(3)["answered"] == 0, "127.0.0.2 is in 127.0.0.1's /24"
    g2 = make_gtmd(rrl_config(rate=5, slip=0, ipv4_prefix=32))
    a, b = client_factory(g2, "127.0.0.1"), client_factory(g2, "127.0.0.2")
    at_second_start()
    assert a.burst(5)["answered"] == 5
    assert b.burst(3)["answered"] == 3, "with /32 each address has its own"


def test_classes_and_names(make_gtmd, client_factory):
    """Answers are keyed by name; NXDOMAIN by zone, so random names share one
    bucket; each class has its own rate."""
    g = make_gtmd(rrl_config(rate=5, nxdomain_rate=3, slip=0))
    c = client_factory(g)
    at_second_start()
    assert c.burst(5, "www.example.com.")["answered"] == 5
    assert c.burst(5, "mail.example.com.")["answered"] == 5, "another name, another bucket"
    nx = sum(c.burst(1, "r%d.example.com." % i)["answered"] for i in range(6))
    assert nx == 3, "six random names, one NXDOMAIN bucket for the zone at rate 3"
    assert c.burst(2, "www.example.org.")["answered"] == 2, "REFUSED is the error class"


def test_whitelist_and_tcp_are_never_limited(make_gtmd, client_factory):
    g = make_gtmd(rrl_config(rate=2, slip=0, whitelist=["127.0.0.2/32"]))
    white = client_factory(g, "127.0.0.2")
    at_second_start()
    assert white.burst(10)["answered"] == 10
    q = dns.message.make_query("www.example.com.", "A")
    for _ in range(10):
        r = dns.query.tcp(q, g.addr, port=g.port, timeout=2)
        assert r.answer and not r.flags & dns.flags.TC


def test_valid_cookie_exempts_and_slips_are_badcookie(make_gtmd, client_factory):
    """A client cookie alone is limited, and what slips is BADCOOKIE with a
    fresh server cookie; with it the client has proved its address and is
    exempt."""
    g = make_gtmd(rrl_config(rate=3, slip=1))
    c = client_factory(g)
    client = bytes.fromhex("1122334455667788")
    at_second_start()
    got = c.burst(10, options=[dns.edns.GenericOption(dns.edns.COOKIE, client)])
    assert got["answered"] == 3 and got["badcookie"] == 7, got
    bad = [r for r in got["replies"] if r.rcode() == 23][0]
    full = [o for o in bad.options if o.otype == dns.edns.COOKIE][0].to_wire()
    assert full[:8] == client and len(full) == 24
    got = c.burst(20, options=[dns.edns.GenericOption(dns.edns.COOKIE, full)])
    assert got["answered"] == 20, got


def test_counters_in_metrics(make_gtmd, client_factory):
    from prometheus_client.parser import text_string_to_metric_families

    def mutate(c, workdir):
        c["workers"] = 1
        c["rrl"] = {"rate": 4, "nxdomain_rate": 2, "slip": 2}

    g = make_gtmd(config_fn(policy=False, mutate=mutate))
    a = Admin.of(g)

    def limited():
        r = a.get("/metrics", token=READ_TOKEN)
        out = {}
        for f in text_string_to_metric_families(r.body.decode()):
            if f.name == "gtmd_rrl_limited":
                for s in f.samples:
                    out[(s.labels["class"], s.labels["action"])] = s.value
        return out

    zero = limited()
    assert len(zero) == 10 and not any(zero.values()), zero
    c = client_factory(g)
    at_second_start()
    c.burst(10)
    c.burst(6, "nope.example.com.")
    got = limited()
    assert got[("answer", "dropped")] == 3 and got[("answer", "slipped")] == 3, got
    assert got[("nxdomain", "dropped")] == 2 and got[("nxdomain", "slipped")] == 2, got
    assert sum(got.values()) == 10


def test_reload_changes_the_limits(make_gtmd, client_factory):
    g = make_gtmd(rrl_config(rate=2, slip=0))
    c = client_factory(g)
    at_second_start()
    assert c.burst(6)["answered"] == 2
    cfg = dict(g.config)
    cfg["rrl"] = {"rate": 50, "slip": 0}
    g.write_config(cfg)
    g.signal(__import__("signal").SIGHUP)
    ok, _ = poll(lambda: "event=reload result=ok" in g.read_log(), 5.0)
    assert ok
    time.sleep(1.1)
    at_second_start()
    assert c.burst(30)["answered"] == 30
    del cfg["rrl"]
    g.write_config(cfg)
    g.signal(__import__("signal").SIGHUP)
    ok, _ = poll(lambda: g.read_log().count("event=reload result=ok") == 2, 5.0)
    assert ok
    at_second_start()
    assert c.burst(80)["answered"] == 80, "no rrl section: no limit"


@pytest.mark.threads
def test_two_workers_share_one_table(make_gtmd, client_factory):
    """Two workers (two UDP threads) update the same buckets at once: the
    table is lock-free, and the limit holds across them (rate 20 for the
    /24, whichever thread answers)."""
    import threading
    g = make_gtmd(rrl_config(workers=2, rate=20, slip=0))
    clients = [client_factory(g) for _ in range(4)]
    results = [None] * len(clients)
    at_second_start()

    def run(i):
        results[i] = clients[i].burst(40)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(clients))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=10)
    answered = sum(r["answered"] for r in results)
    assert 20 <= answered <= 24, "%d of 160 answered at rate 20" % answered

"""A check's fast_interval (gtmd.conf(5), HAProxy's fastinter): while a
fall or a rise is in progress the next probe of the endpoint comes
fast_interval after the result, not interval after the last start.

Real backends (backends.py) are killed and started again. The check:
interval 2 s, fast_interval 0.2 s, timeout 1 s, fall 3, rise 3. The kill
(and the restart) is placed 1 s after a probe of the endpoint (its probe
count in /v1/status moves), so the first failed (or passed) probe comes
about 1 s later wherever the endpoint's phase is. Then:

- with fast_interval the two more probes it takes follow 0.15-0.2 s
  apart: answers move within about 1.4 s, asserted < 2.5 s;
- without it they follow 2 s apart: about 5 s, at least 4 s whatever
  the load (the schedule cannot be early), which shows that the first
  bound is the feature's doing;
- fast_interval more than the interval, or 0 or less, is refused by
  `gtmd check` at its JSON path, and so is a reload to it (the running
  configuration is kept)."""
import json
import os
import signal
import subprocess
import time

import pytest

from backends import backends, free_port_on, poll, query_addrs  # noqa: F401
from conftest import GTMD
from adminlib import Admin, admin_port, admin_section
from test_policy_failover import ep, policy_config

INTERVAL, FAST, TIMEOUT, FALL, RISE = 2.0, 0.2, 1.0, 3, 3
US, EU = "127.0.0.11", "127.0.0.21"
NAME = "fo.example.com."


def check(kind, port, fast=FAST):
    c = {"type": kind, "port": port, "interval": INTERVAL, "timeout": TIMEOUT,
         "fall": FALL, "rise": RISE}
    if fast is not None:
        c["fast_interval"] = fast
    return c


def start(make_gtmd, backends, kind, fast):  # noqa: F811
    port = free_port_on([US, EU])
    make = backends.http if kind == "http" else backends.tcp
    b_us, b_eu = backends.start_all([make(US, port, start=False), make(EU, port, start=False)])
    fn = policy_config(
        ["us", "eu"], {"web": check(kind, port, fast)},
        {"web": {"check": "web", "endpoints": [ep("us1", US, "us"), ep("eu1", EU, "eu")]}},
        {NAME: {"pool": "web", "policy": "failover", "regions": ["us", "eu"], "ttl": 5}})

    def with_admin(workdir, dns_port):
        c = fn(workdir, dns_port)
        c["admin"] = admin_section(workdir, admin_port(dns_port))
        return c
    g = make_gtmd(with_admin)
    Admin.of(g).wait_ready()
    ok, _ = poll(lambda: query_addrs(g, NAME) == [US], 5.0)
    assert ok, g.read_log()[-2000:]
    return g, b_us


def probes(g, name="us1"):
    r = Admin.of(g).get("/v1/status")
    assert r.status == 200, r
    for reg in r.json["regions"]:
        for e in reg["endpoints"]:
            if e["name"] == name:
                return e["probes"], e["failures"]
    raise AssertionError("no endpoint %s in /v1/status" % name)


def after_a_probe(g, lead=1.0):
    """Returns lead seconds after a probe of us1 ended (its count moved,
    polled every 20 ms): the next grid probe comes interval - lead later."""
    n0 = probes(g)[0]
    ok, _ = poll(lambda: probes(g)[0] > n0, INTERVAL * 2 + 1.0)
    assert ok, "no probe of us1 within two intervals"
    time.sleep(lead)  # places the kill in the endpoint's schedule


def moved(g, want, t0, limit):
    """Seconds from t0 (the kill, the backend listening again) until the
    answer is want."""
    ok, _ = poll(lambda: query_addrs(g, NAME) == [want], limit)
    assert ok, "%s not answered within %.1f s: %s" % (want, limit, g.read_log()[-3000:])
    took = time.monotonic() - t0
    print("# %s answered %.2f s after the change" % (want, took))
    return took


@pytest.mark.parametrize("kind", ["tcp", "http"])
def test_fast_interval_kill_and_revive(make_gtmd, backends, kind):  # noqa: F811
    g, b_us = start(make_gtmd, backends, kind, FAST)
    after_a_probe(g)
    t0 = time.monotonic()
    b_us.kill()
    down = moved(g, EU, t0, 8.0)
    assert down < 2.5, "fall 3 with fast_interval 0.2 s took %.2f s (slow path >= 4 s)" % down
    n, failures = probes(g)
    assert failures >= FALL, (n, failures)
    assert "why=\"fall threshold reached\"" in g.read_log()
    # Recovery: three passes, the last two at fast_interval.
    after_a_probe(g)
    b_us.start()
    up = moved(g, US, b_us.ready_at, 8.0)
    assert up < 2.5, "rise 3 with fast_interval 0.2 s took %.2f s (slow path >= 4 s)" % up
    assert "why=\"rise threshold reached\"" in g.read_log()


def test_without_fast_interval_fall_takes_the_intervals(make_gtmd, backends):  # noqa: F811
    """The control: the same kill without fast_interval takes 1 + 2 x 2 s."""
    g, b_us = start(make_gtmd, backends, "tcp", None)
    after_a_probe(g)
    t0 = time.monotonic()
    b_us.kill()
    down = moved(g, EU, t0, 12.0)
    assert down >= 4.0, "fall 3 at interval 2 s took only %.2f s" % down


def test_fast_interval_is_validated(make_gtmd, backends):  # noqa: F811
    g, _ = start(make_gtmd, backends, "tcp", FAST)
    good = json.loads(json.dumps(g.config))
    for bad, msg in ((2.5, "must not be more than interval (2 s)"),
                     (0, "must be a number of seconds from 0.1 to 3600"),
                     (-0.2, "must be a number of seconds from 0.1 to 3600")):
        c = json.loads(json.dumps(good))
        c["checks"]["web"]["fast_interval"] = bad
        path = os.path.join(g.workdir, "bad.json")
        with open(path, "w") as f:
            json.dump(c, f)
        r = subprocess.run([GTMD, "check", "-c", path], capture_output=True, text=True,
                           timeout=20)
        want = "%s: $.checks.web.fast_interval: %s" % (path, msg)
        assert r.returncode != 0 and want in r.stderr, (bad, r.stderr)
    # A reload to a bad value is refused at the same path; gtmd goes on
    # with the running configuration, and fast_interval equal to the
    # interval is accepted.
    c = json.loads(json.dumps(good))
    c["checks"]["web"]["fast_interval"] = 3
    g.write_config(c)
    g.signal(signal.SIGHUP)
    ok, _ = poll(lambda: "$.checks.web.fast_interval: must not be more than interval"
                 in g.read_log(), 5.0)
    assert ok, g.read_log()[-2000:]
    assert query_addrs(g, NAME) == [US]
    c["checks"]["web"]["fast_interval"] = INTERVAL
    g.write_config(c)
    reloads = g.read_log().count("event=reload result=ok")
    g.signal(signal.SIGHUP)
    ok, _ = poll(lambda: g.read_log().count("event=reload result=ok") > reloads, 5.0)
    assert ok, g.read_log()[-2000:]

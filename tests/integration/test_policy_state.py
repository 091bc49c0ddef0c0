"""The health state across restarts (state file) and the start-up gate, plus
`gtmd check` on broken policy configs.

A restarted gtmd with a fresh state file answers at once, already without
the regions that were down; without one it answers nothing until the first
probe round is done; a stale state file is ignored, a corrupt one kept
aside and not used."""
import json
import os
import re
import shutil
import subprocess
import tempfile
import time

import pytest

from backends import backends, fast_query, free_port_on, poll  # noqa: F401
from backends import answer_addrs
from conftest import DATA, GTMD, default_config

US, EU = "127.0.0.161", "127.0.0.162"
NAME = "fo.example.com."


# For the tests whose first answers come from a first probe alone (no
# state restored): a first probe's result decides the endpoint's state
# without fall, so these give a healthy backend 0.45 s to answer rather
# than 0.2 s, which a loaded machine can exceed.
ROOMY = {"interval": 0.5, "timeout": 0.45}


def state_config(port, state_file="state.json", check=None, **extra):
    """Fall 3: the first answers after a start must all be the same for
    up to 0.5 s, and with fall 2 two slow probes of a healthy backend on a
    loaded machine (sanitizer builds, 2 cores) could change them. check
    overrides keys of the check."""
    def fn(workdir, dport):
        c = default_config(workdir, dport)
        c["regions"] = {"us": {}, "eu": {}}
        c["checks"] = {"web": {"type": "http", "port": port, "interval": 0.25, "timeout": 0.2,
                               "rise": 2, "fall": 3}}
        c["checks"]["web"].update(check or {})
        c["pools"] = {"web": {"check": "web", "endpoints": [
            {"name": "us1", "address": US, "region": "us"},
            {"name": "eu1", "address": EU, "region": "eu"}]}}
        c["records"] = {
            NAME: {"pool": "web", "policy": "failover", "regions": ["us", "eu"]},
            "em.example.com.": {"pool": "web", "policy": "failover", "regions": ["us", "eu"],
                                "when_all_down": "empty"}}
        if state_file:
            c["state_file"] = state_file
        c.update(extra)
        return c
    return fn


def addrs_of(r):
    return sorted(answer_addrs(r, ("A",)))


def first_answers(g, name=NAME, settle=0.5, limit=10.0):
    """Starts g without waiting and queries in a tight, bounded loop from
    the moment the process exists. Returns (seconds to the first answer,
    every answer seen in the first `settle` seconds after it)."""
    t0 = time.monotonic()
    g.start(wait=False)
    first = None
    answers = []
    tries = 0
    while time.monotonic() - t0 < limit and tries < 20000:
        tries += 1
        r = fast_query(g.addr, g.port, name, timeout=0.05)
        if r is None:
            if g.proc.poll() is not None:
                raise AssertionError("gtmd exited:\n" + g.read_log())
            time.sleep(0.002)
            continue
        if first is None:
            first = time.monotonic() - t0
        answers.append(addrs_of(r))
        if time.monotonic() - t0 > first + settle:
            break
    assert first is not None, "gtmd never answered:\n" + g.read_log()
    return first, answers


def load_state(g):
    try:
        with open(os.path.join(g.workdir, "state.json")) as f:
            return json.load(f)
    except (OSError, ValueError):
        return None


def state_entry(st, suffix):
    """The state file entry of an endpoint (keys may carry a kind prefix)."""
    for k, v in (st or {}).get("endpoints", {}).items():
        if k == suffix or k.endswith(":" + suffix):
            return v
    return None


def wait_state(g, suffix, want, timeout=3.0):
    ok, _ = poll(lambda: (state_entry(load_state(g), suffix) or {}).get("state") == want,
                 timeout)
    assert ok, "state file never had %s %s: %s\n%s" % (suffix, want, load_state(g),
                                                       g.read_log()[-2000:])


def wait_addrs(g, want, name=NAME, timeout=3.0):
    ok, _ = poll(lambda: (lambda r: r is not None and addrs_of(r) == want)(
        fast_query(g.addr, g.port, name, timeout=0.2)), timeout)
    assert ok, "never answered %s:\n%s" % (want, g.read_log()[-2000:])


def run_once_with_us_dead(make_gtmd, backends, port, check=None):
    """First run: us is dead, eu is up; the state file records it."""
    backends.http(EU, port)
    b_us = backends.http(US, port, start=False)
    g = make_gtmd(state_config(port, check=check))
    wait_addrs(g, [EU])
    wait_state(g, "web/us1", "down")
    wait_state(g, "web/eu1", "up")
    assert g.stop() == 0
    return g, b_us


@pytest.mark.threads
def test_restart_with_state_file_excludes_dead_region_from_first_answer(make_gtmd, backends):
    port = free_port_on([US, EU])
    b_eu, b_us = backends.start_all([backends.http(EU, port, start=False),
                                     backends.http(US, port, start=False)])
    g = make_gtmd(state_config(port))
    wait_addrs(g, [US])
    b_us.kill()
    wait_addrs(g, [EU])
    wait_state(g, "web/us1", "down")
    assert g.stop() == 0
    before = len(g.read_log())

    # Restart with us still dead: no answer, from the very first, has us.
    first, answers = first_answers(g)
    assert answers and all(a == [EU] for a in answers), answers[:20]
    log = g.read_log()[before:]
    m = re.search(r"event=state_load result=ok .*restored=(\d+)", log)
    assert m and int(m.group(1)) == 2, log
    assert re.search(r"event=first_round restored=2 ", log), log
    # Restored states are not re-announced as first probe results.
    assert "first probe result" not in log, log
    # The empty-when-down record agrees.
    r = fast_query(g.addr, g.port, "em.example.com.")
    assert addrs_of(r) == [EU]


def test_without_state_file_nothing_is_answered_before_the_first_round(make_gtmd, backends):
    # us is dead (refused at once); eu answers its probe after 150 ms. Before
    # the first round every endpoint is unknown, so an early answer would be
    # fail-open (both) or, for em., empty: the first answer must be eu alone.
    # ROOMY: with a 0.2 s timeout eu's 150 ms reply had 50 ms to spare.
    port = free_port_on([US, EU])
    backends.http(EU, port, mode="delay:150")
    g = make_gtmd(state_config(port, state_file=None, check=ROOMY), start=False)
    first, answers = first_answers(g)
    assert answers and all(a == [EU] for a in answers), answers[:20]
    assert first >= 0.15, "answered %.3fs after start, before eu's probe could end" % first
    log = g.read_log()
    assert re.search(r"event=first_round restored=0 complete=yes", log), log
    assert log.index("event=first_round") < log.index("event=listen"), log
    r = fast_query(g.addr, g.port, "em.example.com.")
    assert addrs_of(r) == [EU]


def test_without_state_file_no_state_save_errors(make_gtmd, backends):
    # No "state_file" configured: health changes must not try to save one.
    port = free_port_on([US, EU])
    backends.http(EU, port)
    b_us = backends.http(US, port)
    g = make_gtmd(state_config(port, state_file=None))
    wait_addrs(g, [US])
    b_us.kill()
    wait_addrs(g, [EU])
    log = g.read_log()
    assert "event=state_save" not in log, log


def test_stale_state_file_is_ignored(make_gtmd, backends):
    port = free_port_on([US, EU])
    g, b_us = run_once_with_us_dead(make_gtmd, backends, port, check=ROOMY)
    path = os.path.join(g.workdir, "state.json")
    st = load_state(g)
    st["saved_at"] = time.time() - 700  # default state_max_age is 600 s
    with open(path, "w") as f:
        json.dump(st, f)
    before = len(g.read_log())
    b_us.start()
    # Were the stale "us down" used, the first answers would be eu until rise.
    first, answers = first_answers(g)
    assert answers and all(a == [US] for a in answers), answers[:20]
    log = g.read_log()[before:]
    assert re.search(r"event=state_load result=stale", log), log
    assert re.search(r"event=first_round restored=0 ", log), log


def test_fresh_state_file_is_used_even_when_backend_recovered(make_gtmd, backends):
    # The contrast to the stale case: a fresh "us down" is believed at start,
    # then us comes back after rise probes.
    port = free_port_on([US, EU])
    g, b_us = run_once_with_us_dead(make_gtmd, backends, port)
    before = len(g.read_log())
    b_us.start()
    first, answers = first_answers(g, settle=0.05)
    assert answers[0] == [EU], answers[:5]
    wait_addrs(g, [US])
    log = g.read_log()[before:]
    assert re.search(r"event=state_load result=ok .*restored=2", log), log


@pytest.mark.parametrize("content", [
    b"\x00\xff\xfegarbage{{{\x01\x02",
    b'{"version": 1, "saved_at": 17',
    b'["not", "an", "object"]',
], ids=["garbage", "truncated", "array"])
def test_corrupt_state_file_is_ignored(make_gtmd, backends, content):
    port = free_port_on([US, EU])
    backends.start_all([backends.http(US, port, start=False),
                        backends.http(EU, port, start=False)])
    g = make_gtmd(state_config(port, check=ROOMY), start=False)
    with open(os.path.join(g.workdir, "state.json"), "wb") as f:
        f.write(content)
    first, answers = first_answers(g, settle=0.1)
    assert answers and all(a == [US] for a in answers), answers[:20]
    log = g.read_log()
    # A corrupt file is kept aside (test_state_file.py has the details).
    assert re.search(r"event=state_load result=corrupt .*kept_as=", log), log
    assert re.search(r"event=first_round restored=0 complete=yes", log), log
    # gtmd replaces it with a good one (first probe results are changes).
    wait_state(g, "web/us1", "up")


# ---- gtmd check ------------------------------------------------------------------

def base_policy():
    c = {"listen": ["127.0.0.1:5300"], "workers": 1, "zones": [
        {"origin": "example.com.", "file": "example.com.zone"},
        {"origin": "sub.example.com.", "file": "sub.example.com.zone"}]}
    c["regions"] = {"us": {}}
    c["checks"] = {"web": {"type": "http", "port": 80, "interval": 1, "timeout": 0.5}}
    c["pools"] = {"p": {"check": "web", "endpoints": [
        {"name": "a", "address": "192.0.2.1", "region": "us"}]}}
    c["records"] = {"x.example.com.": {"pool": "p"}}
    return c


def _unknown_pool(c):
    c["records"]["x.example.com."]["pool"] = "nope"


def _outside(c):
    c["records"]["x.example.org."] = {"pool": "p"}


def _static_a(c):
    c["records"]["www.example.com."] = {"pool": "p"}


def _bad_key(c):
    c["checks"]["web"]["bogus"] = 1


def _wrong_type_key(c):
    c["checks"]["web"]["query"] = "x.example.com."


def _timeout(c):
    c["checks"]["web"]["timeout"] = 1.5


def _interval(c):
    c["checks"]["web"]["interval"] = 0.05


def _unknown_check(c):
    c["pools"]["p"]["check"] = "nocheck"


def _unknown_region(c):
    c["pools"]["p"]["endpoints"][0]["region"] = "mars"


def _bad_down(c):
    c["records"]["x.example.com."]["when_all_down"] = "panic"


CONFIG_ERRORS = {
    "unknown-pool": (_unknown_pool, ['$.records["x.example.com."].pool', "nope"]),
    "outside-zones": (_outside, ['$.records["x.example.org."]', "outside"]),
    "static-a": (_static_a, ['$.records["www.example.com."]', "static A"]),
    "bad-check-key": (_bad_key, ["$.checks.web", "bogus"]),
    "check-key-of-other-type": (_wrong_type_key, ["$.checks.web.query"]),
    "timeout-not-below-interval": (_timeout, ["$.checks.web.timeout"]),
    "interval-too-small": (_interval, ["$.checks.web.interval"]),
    "unknown-check": (_unknown_check, ["$.pools.p.check", "nocheck"]),
    "unknown-region": (_unknown_region, ["$.pools.p.endpoints[0]", "mars"]),
    "bad-when-all-down": (_bad_down, ['$.records["x.example.com."].when_all_down', "panic"]),
}


def run_check(config):
    d = tempfile.mkdtemp(prefix="gtmd-chk-")
    try:
        for f in ("example.com.zone", "example.com.inc", "sub.example.com.zone"):
            shutil.copy(os.path.join(DATA, f), d)
        path = os.path.join(d, "gtmd.json")
        with open(path, "w") as f:
            json.dump(config, f)
        p = subprocess.run([GTMD, "check", "-c", path], capture_output=True, timeout=20)
        return p.returncode, p.stdout.decode(errors="replace"), p.stderr.decode(errors="replace")
    finally:
        shutil.rmtree(d, ignore_errors=True)


def test_check_accepts_the_base_policy_config():
    rc, out, err = run_check(base_policy())
    assert rc == 0, err
    assert "ok" in out


@pytest.mark.parametrize("case", sorted(CONFIG_ERRORS))
def test_check_reports_policy_config_errors(case):
    mutate, needles = CONFIG_ERRORS[case]
    c = base_policy()
    mutate(c)
    rc, out, err = run_check(c)
    assert rc == 1, (rc, out, err)
    for n in needles:
        assert n in err, "%r not in stderr:\n%s" % (n, err)

"""Practice drills (drills.practice): gtmd starts them by itself when their
interval is due and the calendar and the live state allow, records why it
skips them (GET /v1/drills "practice", /metrics, the log), keeps the
clock across a restart, and fails a drill whose outcome check fails.

The world is test_drills.py's: real HTTP backends in three regions (us
127.0.0.11/.12, eu .21/.22, ap .31; http checks every 0.25 s, rise 2,
fall 3; fall 2 for the outcome test, whose end reason counts the check's
fall) and the records fo [us, eu, ap], eufo [eu, us], all, and uso [us]
(when_all_down empty). Every wait is bounded."""
import datetime
import os
import re
import time

import pytest

from adminlib import READ_TOKEN, Admin
from backends import backends, free_port_on, poll  # noqa: F401 (fixture)
from test_drills import (AP, EU, US, answers, drill_config, drill_get, metrics, start_drill,
                         wait_answers)


def practice_config(port_http, practice, **drills):
    base = drill_config(port_http)

    def fn(workdir, port):
        c = base(workdir, port)
        c["drills"] = dict(drills, practice=practice)
        return c
    return fn


def start_world(make_gtmd, backends, practice, down=(), **drills):
    """gtmd with the practice list; the backends of `down` are not started."""
    addrs = US + EU + AP
    for attempt in range(3):
        # A port found free can be taken before the backends bind it on a
        # busy machine: try another one (bounded).
        port = free_port_on(addrs)
        try:
            bs = backends.start_all([backends.http(a, port, start=False) for a in addrs
                                     if a not in down])
            break
        except RuntimeError:
            if attempt == 2:
                raise
            for b in backends.all:
                b.kill()
            backends.all.clear()
    g = make_gtmd(practice_config(port, practice, **drills))
    a = Admin.of(g).wait_ready()
    w = type("World", (), {})()
    w.g, w.a, w.port = g, a, port
    w.b = dict(zip([x for x in addrs if x not in down], bs))
    w.backends = backends
    return w


def practices(a):
    r = a.get("/v1/drills", token=READ_TOKEN)
    assert r.status == 200, r
    return {p["name"]: p for p in r.json["practice"]}


def wait_practice(a, name, cond, timeout, what):
    ok, _ = poll(lambda: cond(practices(a)[name]), timeout)
    assert ok, "%s: %s" % (what, practices(a)[name])
    return practices(a)[name]


def metric(m, metric_name, **labels):
    return m.get((metric_name, tuple(sorted(labels.items()))))


def utc_day(offset=0):
    d = datetime.datetime.now(datetime.timezone.utc).date() + datetime.timedelta(days=offset)
    return d.isoformat()


EU_LIVE = {"name": "eu-live", "regions": ["eu"], "mode": "live", "duration": 1.5,
           "interval": 4}


@pytest.mark.threads
def test_practice_starts_by_itself_and_again_after_its_interval(make_gtmd, backends):
    w = start_world(make_gtmd, backends, [EU_LIVE])
    g, a = w.g, w.a
    # It never ran: due at once, no window to wait for.
    p = wait_practice(a, "eu-live", lambda p: p["running"], 3.0, "the first run starts")
    first = p["running"]
    d = drill_get(a, first)
    assert d["name"] == "eu-live" and d["author"] == "practice" and d["mode"] == "live"
    assert d["reason"] == "practice drill eu-live" and d["targets"] == ["region:eu"]
    assert answers(g, "eufo") == US, "eu is lost for everyone while it runs"
    assert p["next_start"] == pytest.approx(p["last_start"] + 4, abs=0.01)
    assert p["last_id"] == first and p["skip"] is None
    # It passes at its end and the next one starts one interval after the first.
    wait_answers(g, "eufo", EU, timeout=3.0)
    assert drill_get(a, first)["result"] == "passed"
    p = wait_practice(a, "eu-live", lambda p: p["running"] not in (None, first), 5.0,
                      "the second run starts")
    second = drill_get(a, p["running"])
    assert second["started"] - d["started"] == pytest.approx(4.0, abs=0.3)
    # Logged just after the run is listed.
    ok, _ = poll(lambda: len(re.findall(r"event=drill_practice_start name=eu-live id=drl-\d+ "
                                        r"mode=live", g.read_log())) == 2, 5, 0.05)
    log = g.read_log()
    assert ok, log[-3000:]
    assert re.search(r"event=drill_start id=%s mode=live targets=region:eu duration=2 "
                     r"author=practice name=eu-live" % first, log)
    m = metrics(a)
    assert metric(m, "gtmd_drill_practice_results_total", name="eu-live", result="passed") == 1
    assert metric(m, "gtmd_drill_practice_last_start_seconds", name="eu-live") == \
        pytest.approx(second["started"], abs=0.01)
    assert metric(m, "gtmd_drill_practice_next_start_seconds", name="eu-live") == \
        pytest.approx(second["started"] + 4, abs=0.01)


@pytest.mark.threads
def test_practice_is_skipped_while_a_region_of_its_records_is_down(make_gtmd, backends):
    # ap (one endpoint) is down from the start: fo and all use ap too.
    w = start_world(make_gtmd, backends, [EU_LIVE], down=AP)
    g, a = w.g, w.a
    p = wait_practice(a, "eu-live", lambda p: p["skip"] is not None, 3.0, "skipped")
    assert p["running"] is None and p["last_start"] is None
    assert p["skip"]["reason"] == "region_down", p
    assert "region ap of record" in p["skip"]["why"] and "is down" in p["skip"]["why"]
    time.sleep(1.0)
    assert practices(a)["eu-live"]["running"] is None, "held back as long as ap is down"
    assert answers(g, "eufo") == EU
    m = metrics(a)
    assert metric(m, "gtmd_drill_practice_skips_total", name="eu-live", reason="region_down") == 1
    assert metric(m, "gtmd_drill_practice_skips_total", name="eu-live", reason="override") == 0
    log = g.read_log()
    assert len(re.findall(r"event=drill_practice_skip name=eu-live skip=region_down", log)) \
        == 1, "a skip is logged once, not at every look"
    # ap comes back: the practice starts on that health change.
    w.b[AP[0]] = w.backends.http(AP[0], w.port)
    p = wait_practice(a, "eu-live", lambda p: p["running"], 4.0, "starts once ap is up")
    assert p["skip"] is None
    assert answers(g, "eufo") == US


@pytest.mark.threads
def test_practice_is_skipped_while_an_override_or_another_drill_is_active(make_gtmd, backends):
    w = start_world(make_gtmd, backends, [EU_LIVE])
    g, a = w.g, w.a
    first = wait_practice(a, "eu-live", lambda p: p["running"], 3.0, "first run")["running"]
    # An override made during the first run holds the second one back.
    r = a.post("/v1/overrides", {"target": "endpoint:web/ap1", "state": "up",
                                 "reason": "pinned for the test"})
    assert r.status == 201, r
    ovr = r.json["id"]
    p = wait_practice(a, "eu-live", lambda p: p["skip"] is not None, 6.0, "skipped")
    assert p["skip"]["reason"] == "override" and ovr in p["skip"]["why"], p
    assert drill_get(a, first)["result"] == "passed"
    # Removing it lets the practice start at once (an override change wakes
    # the drill thread).
    assert a.delete("/v1/overrides/" + ovr).status == 200
    p = wait_practice(a, "eu-live", lambda p: p["running"] not in (None, first), 2.0,
                      "starts when the override goes")
    second = p["running"]
    assert a.delete("/v1/drills/" + second).status == 200
    # Another drill (started by hand) holds it back too.
    other = start_drill(a, regions=["ap"], mode="shadow")
    p = wait_practice(a, "eu-live", lambda p: p["skip"] is not None, 6.0, "skipped")
    assert p["skip"]["reason"] == "drill_active" and other["id"] in p["skip"]["why"], p
    assert a.delete("/v1/drills/" + other["id"]).status == 200
    wait_practice(a, "eu-live", lambda p: p["running"] not in (None, first, second), 2.0,
                  "starts when the other drill ends")


def test_practice_is_skipped_on_blocked_dates_outside_its_windows_and_when_unsafe(
        make_gtmd, backends):
    in3 = (datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(days=3))
    day3 = in3.strftime("%a")
    blocked = dict(EU_LIVE, name="blocked", blocked_dates=[utc_day(-1), utc_day(0), utc_day(1)])
    window = dict(EU_LIVE, name="windowed", allowed_windows=["%s 00:00-24:00" % day3])
    unsafe = {"name": "unsafe", "regions": ["us"], "mode": "live", "duration": 1, "interval": 2}
    w = start_world(make_gtmd, backends, [blocked, window, unsafe])
    a = w.a
    ok, _ = poll(lambda: all(p["skip"] for p in practices(a).values()), 3.0)
    ps = practices(a)
    assert ok, ps
    assert ps["blocked"]["skip"]["reason"] == "blocked_date", ps["blocked"]
    after = datetime.datetime.fromisoformat(utc_day(2)).replace(tzinfo=datetime.timezone.utc)
    assert ps["blocked"]["next_start"] == pytest.approx(after.timestamp()), \
        "the first moment after the blocked days"
    assert ps["windowed"]["skip"]["reason"] == "outside_window", ps["windowed"]
    opens = datetime.datetime.combine(in3.date(), datetime.time(), datetime.timezone.utc)
    assert ps["windowed"]["next_start"] == pytest.approx(opens.timestamp())
    assert ps["windowed"]["allowed_windows"] == ["%s 00:00-24:00" % day3]
    assert ps["unsafe"]["skip"]["reason"] == "unsafe", ps["unsafe"]
    assert "1 policy records unserved" in ps["unsafe"]["skip"]["why"]
    time.sleep(1.0)
    listed = a.get("/v1/drills", token=READ_TOKEN).json
    assert listed["active"] == [] and listed["history"] == [], "none of them started"
    log = w.g.read_log()
    assert re.search(r"event=drill_practice_skip name=blocked skip=blocked_date next=%sT00:00:00Z"
                     % utc_day(2), log), log[-2000:]
    assert re.search(r"event=drill_practice_skip name=windowed skip=outside_window", log)


@pytest.mark.threads
def test_restart_mid_practice_keeps_the_drill_and_the_clock(make_gtmd, backends):
    slow = dict(EU_LIVE, name="slow", duration=3, interval=30)
    w = start_world(make_gtmd, backends, [slow])
    g, a = w.g, w.a
    p = wait_practice(a, "slow", lambda p: p["running"], 3.0, "first run")
    did, last = p["running"], p["last_start"]
    g.stop()
    g.start()
    a.wait_ready()
    assert answers(g, "eufo") == US, "the practice drill resumed before the first answer"
    p = practices(a)["slow"]
    assert p["running"] == did and p["last_start"] == pytest.approx(last)
    wait_answers(g, "eufo", EU, timeout=4.0)
    assert drill_get(a, did)["result"] == "passed"
    time.sleep(1.0)
    p = practices(a)["slow"]
    assert p["running"] is None and p["last_id"] == did, "no new run: the clock kept going"
    assert p["next_start"] == pytest.approx(last + 30, abs=0.01)
    assert len(a.get("/v1/drills", token=READ_TOKEN).json["history"]) == 1


# ---- outcome checks ------------------------------------------------------------

def outcome_config(port_http, practice):
    """The drill world plus a pool without a health check (its answers do
    not follow the backends), and the outcome checks resolving through
    gtmd's own listener. Fall 2: an outcome check fails a drill after
    its check's fall failures in a row, which the test counts."""
    base = drill_config(port_http, fall=2)

    def fn(workdir, port):
        c = base(workdir, port)
        c["pools"]["app"] = {"endpoints": [
            {"name": "app-us", "address": US[0], "region": "us"},
            {"name": "app-eu", "address": EU[0], "region": "eu"}]}
        c["records"]["app.example.com."] = {"pool": "app", "policy": "failover",
                                            "regions": ["eu", "us"], "ttl": 5}
        c["drills"] = {"practice": practice, "outcome_resolver": ["127.0.0.1:%d" % port]}
        return c
    return fn


@pytest.mark.threads
def test_outcome_check_fails_the_drill_when_its_target_dies(make_gtmd, backends):
    from adminlib import gtmctl
    addrs = US + EU + AP
    port = free_port_on(addrs)
    bs = dict(zip(addrs, backends.start_all([backends.http(a, port, start=False)
                                             for a in addrs])))
    practice = [{"name": "eu-outcome", "regions": ["eu"], "mode": "live", "duration": 30,
                 "interval": 60, "outcome": [{"check": "web", "host": "app.example.com"}]}]
    g = make_gtmd(outcome_config(port, practice))
    a = Admin.of(g).wait_ready()
    did = wait_practice(a, "eu-outcome", lambda p: p["running"], 3.0, "starts")["running"]
    assert answers(g, "app") == [US[0]]

    def outcome():
        return drill_get(a, did)["report"]["outcome"][0]
    ok, _ = poll(lambda: outcome()["probes"] >= 3 and outcome()["last"] == "ok", 3.0)
    o = outcome()
    # A healthy target keeps the drill going. One slow probe on a loaded
    # machine may count a failure; the drill ends only after fall (2) in a
    # row, which the kill below shows.
    assert ok and o["failures"] <= 1 and o["last"] == "ok", o
    assert drill_get(a, did)["state"] == "active"
    # The address came from gtmd's own answer under the drill: app.example.com
    # is in no hosts file, and eu (its first region) is lost.
    assert o["address"] == US[0] and o["check"] == "web" and o["host"] == "app.example.com"
    bs[US[0]].kill()
    ok, _ = poll(lambda: drill_get(a, did)["state"] == "ended", 3.0)
    d = drill_get(a, did)
    assert ok and d["result"] == "failed", d
    assert d["end_reason"].startswith(
        "outcome check web on app.example.com failed 2 times in a row: connection refused"), d
    assert d["end_reason"].endswith("(%s)" % US[0])
    assert d["report"]["outcome"][0]["failures"] >= 2
    assert answers(g, "app") == [EU[0]], "eu serves again at once"
    assert re.search(r"event=drill_end id=%s mode=live result=failed why=\"outcome check web"
                     % did, g.read_log())
    m = metrics(a)
    assert metric(m, "gtmd_drills_ended_total", result="failed") == 1
    assert metric(m, "gtmd_drill_practice_results_total", name="eu-outcome", result="failed") == 1
    tok = lambda t: os.path.join(g.workdir, "%s.token" % t)  # noqa: E731
    r = gtmctl("--server", a.url, "--token-file", tok("read"), "drill", "list")
    assert re.search(r"^%s\s+live\s+region:eu\s+failed\s+\S+\s+outcome check web" % did,
                     r.stdout, re.M), r.stdout
    assert re.search(r"^eu-outcome\s+live\s+region:eu\s+1m\s", r.stdout, re.M), r.stdout
    r = gtmctl("--server", a.url, "--token-file", tok("read"), "drill", "status", did)
    assert re.search(r"outcome   web on app.example.com: \d+ probes, \d+ failed, last: "
                     r"connection refused \(127.0.0.11\)", r.stdout), r.stdout
    # A drill started by hand takes outcome checks too; an unknown check is
    # refused.
    r = a.post("/v1/drills", {"regions": ["eu"], "mode": "shadow", "reason": "x",
                              "outcome": [{"check": "nope", "host": "app.example.com"}]})
    assert r.status == 400 and "no check \"nope\"" in r.json["error"]["message"], r
    r = gtmctl("--server", a.url, "--token-file", tok("operate"), "drill", "start", "--region",
               "eu", "--mode", "live", "--duration", "20", "--reason", "by hand", "--name",
               "manual", "--outcome", "web@app.example.com")
    assert r.returncode == 0, r
    manual = re.search(r"drill (drl-\d+) started", r.stdout).group(1)
    ok, _ = poll(lambda: drill_get(a, manual)["state"] == "ended", 4.0)
    d = drill_get(a, manual)
    assert ok and d["result"] == "failed" and d["name"] == "manual", d

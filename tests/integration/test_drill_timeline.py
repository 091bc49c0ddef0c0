"""The recovery timeline of drills, measured on the answers gtmd serves:
the workers' own per-record counters and gtmd's own queries to its
listener. A live drill's DNS-layer RTO is measured and small, no answer
comes from a lost target after the start (while clients query all along),
and the restore is timed the same way; a scoped drill counts its canary
clients' answers apart (others still get the lost region, and that is not
a lost answer); the last RTO per drill name and region is in /metrics;
gtmctl drill status shows the timeline; a restart keeps it.

The world is test_drills.py's (regions us, eu, ap with real HTTP
backends; records fo [us, eu, ap], eufo [eu, us], all, uso [us] with
when_all_down empty; TTL 5). Every wait and every traffic loop is
bounded."""
import re
import threading
import time

import pytest

from adminlib import READ_TOKEN
from backends import fast_query, poll
from test_drills import (EU, US, answers, drill_get, metrics, start_drill,  # noqa: F401
                         wait_answers, world)
from backends import backends  # noqa: F401 (fixture)


def metric(m, metric_name, **labels):
    return m.get((metric_name, tuple(sorted(labels.items()))))


class Traffic:
    """Clients querying the given names all along (a thread, bounded by
    `seconds`), from 127.0.0.1 or with an ECS subnet."""

    def __init__(self, g, names, seconds=8.0, ecs=None):
        self.g, self.names, self.seconds, self.ecs = g, names, seconds, ecs
        self.answered = 0
        self.stop = threading.Event()
        self.t = threading.Thread(target=self.run, daemon=True)

    def run(self):
        end = time.monotonic() + self.seconds
        while not self.stop.is_set() and time.monotonic() < end:
            for n in self.names:
                if fast_query(self.g.addr, self.g.port, n + ".example.com.", "A", timeout=0.5,
                              ecs=self.ecs) is not None:
                    self.answered += 1
            time.sleep(0.001)

    def __enter__(self):
        self.t.start()
        return self

    def __exit__(self, *exc):
        self.stop.set()
        self.t.join(timeout=5)


def timeline(a, did):
    return drill_get(a, did)["report"]["timeline"]


def wait_state(a, did, states, timeout):
    ok, _ = poll(lambda: timeline(a, did)["state"] in states, timeout)
    tl = timeline(a, did)
    assert ok, tl
    return tl


def records(tl):
    return {r["record"]: r for r in tl["records"]}


@pytest.mark.threads
def test_live_drill_timeline_rto_small_no_lost_answer_restore_timed(world):
    g, a = world.g, world.a
    with Traffic(g, ["fo", "all", "eufo"]) as traffic:
        time.sleep(0.3)  # clients are querying when the drill starts
        d = start_drill(a, regions=["us"], mode="live", duration=2, force=True, name="gameday")
        tl = wait_state(a, d["id"], ("holding",), 3.0)
        assert tl["started"] == pytest.approx(d["started"])
        assert tl["rto"] is not None and 0 <= tl["rto"] < 0.5, tl
        assert tl["first_avoiding"] >= tl["started"]
        assert tl["all_avoiding"] == pytest.approx(tl["started"] + tl["rto"])
        assert tl["ttl"] == 5 and tl["rto_plus_ttl"] == pytest.approx(tl["rto"] + 5)
        recs = records(tl)
        assert set(recs) == {"fo.example.com.", "all.example.com.", "uso.example.com."}, \
            "eufo does not change: eu still serves it"
        # fo fails open (when_all_down "all"): answers with no serving
        # region would hold us too.
        assert recs["fo.example.com."]["lost_regions"] == ["us", "none"]
        assert recs["uso.example.com."]["lost_regions"] == ["us"], "uso falls to empty"
        assert all(r["avoided"] for r in recs.values())
        assert tl["self_queries"] > 0 and tl["self_lost"] == 0
        time.sleep(1.2)  # a hold sample while clients go on querying
        tl = timeline(a, d["id"])
        assert recs["fo.example.com."]["answers"] >= 0
        assert records(tl)["fo.example.com."]["answers"] > 20, "the workers counted answers"
        assert tl["lost_answers"] == 0 and tl["lost_answers_of"] == "all clients", tl
        wait_answers(g, "fo", US, timeout=3.0)
        tl = wait_state(a, d["id"], ("done",), 3.0)
    assert traffic.answered > 100
    assert tl["lost_answers"] == 0, "no answer from us after the start, with clients all along"
    assert tl["ended"] == pytest.approx(drill_get(a, d["id"])["ended"])
    assert tl["restore"]["rto"] is not None and 0 <= tl["restore"]["rto"] < 0.5, tl
    assert tl["restore"]["all"] >= tl["ended"]
    assert all(r["restored"] for r in tl["records"])
    m = metrics(a)
    assert metric(m, "gtmd_drill_rto_seconds", name="gameday", region="us") == \
        pytest.approx(tl["rto"])
    assert metric(m, "gtmd_drill_restore_rto_seconds", name="gameday", region="us") == \
        pytest.approx(tl["restore"]["rto"])
    assert metric(m, "gtmd_drill_lost_answers", name="gameday") == 0


@pytest.mark.threads
def test_scoped_drill_counts_canary_answers_apart(world):
    g, a = world.g, world.a
    d = start_drill(a, regions=["us"], mode="scoped", canary=["10.1.2.0/24"], duration=30,
                    force=True)
    tl = wait_state(a, d["id"], ("holding",), 3.0)
    assert tl["canary"] is True and tl["lost_answers_of"] == "canary clients"
    assert tl["rto"] is not None and tl["rto"] < 0.5, tl
    assert tl["self_queries"] > 0 and tl["self_lost"] == 0, \
        "own queries carry an ECS option inside the canary"
    # A hold sample after the transition, so that every own query of it
    # is counted before the baseline of this test.
    time.sleep(1.2)
    before = records(timeline(a, d["id"]))["fo.example.com."]["answers"]
    # Canary clients get eu; everybody else still gets us -- which is not a
    # lost answer: only the canary's answers count.
    for _ in range(30):
        assert answers(g, "fo", ecs="10.1.2.0/24") == EU
        assert answers(g, "fo", ecs="10.9.0.0/24") == US
        assert answers(g, "fo") == US
    time.sleep(1.2)  # the next hold sample
    tl = timeline(a, d["id"])
    fo = records(tl)["fo.example.com."]
    assert fo["answers"] - before == 30, "the 30 canary answers, not the 60 others"
    assert tl["lost_answers"] == 0
    m = metrics(a)
    assert metric(m, "gtmd_policy_answers_total", record="fo.example.com.", region="us") >= 60, \
        "the others are counted as usual"
    assert a.delete("/v1/drills/" + d["id"]).status == 200
    tl = wait_state(a, d["id"], ("done",), 3.0)
    assert tl["restore"]["rto"] is not None, tl


@pytest.mark.threads
def test_timeline_in_gtmctl_and_across_a_restart(world):
    from adminlib import gtmctl
    import os
    g, a = world.g, world.a
    d = start_drill(a, azs=["us-1a"], mode="live", duration=60, reason="az")
    tl = wait_state(a, d["id"], ("holding",), 3.0)
    fo = records(tl)["fo.example.com."]
    assert fo["lost_regions"] == ["none"], "an az has no counter column: own queries judge it"
    assert fo["avoided"] and tl["self_lost"] == 0 and tl["rto"] is not None
    tok = os.path.join(g.workdir, "read.token")
    r = gtmctl("--server", a.url, "--token-file", tok, "drill", "status", d["id"])
    assert r.returncode == 0, r
    assert re.search(r"timeline  holding \(measured on the answers served\)", r.stdout), r.stdout
    assert re.search(r"all avoiding\s+\+\d+\.\d{3} s\s+RTO \d+\.\d{3} s \+ TTL 5 s", r.stdout), \
        r.stdout
    assert re.search(r"fo\.example\.com\.\s+A\s+5\s+none\s+\+\d+\.\d{3}", r.stdout), \
        r.stdout
    avoided = fo["avoided"]
    g.stop()
    g.start()
    a.wait_ready()
    tl = timeline(a, d["id"])
    assert tl["state"] == "holding" and records(tl)["fo.example.com."]["avoided"] == \
        pytest.approx(avoided), "the measured start survives a restart"
    assert a.delete("/v1/drills/" + d["id"]).status == 200
    tl = wait_state(a, d["id"], ("done",), 3.0)
    assert tl["restore"]["rto"] is not None and records(tl)["fo.example.com."]["restored"]
    assert answers(g, "fo") == US

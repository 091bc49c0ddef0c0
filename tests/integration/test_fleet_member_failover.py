"""Watch and session failover between etcd members (issue #54, item 3), on
network namespaces (netlab.py, the Fleet of test_fleet_partition.py: a
3-member etcd e1..e3 and nodes n1..n3, node i listing member i first).

A member that stops answering drops packets (a tc filter, no reset). The
node that uses it must leave it within FLEET_WATCH_PROBE_S +
FLEET_CONNECT_S (0.1 + 0.2 = 0.3 s) plus the loop's delays, resume its watch from
the revision after the last one it delivered (no fresh read: the resync
counter does not move) and miss no event; an override acknowledged on
another node is served by it shortly after. Two ways to cut:
  (a) the link between n1 and the member it uses (the member stays in the
      cluster: "its own member cut");
  (b) that member from everyone (nodes and the other members).
Throughout, every node's /v1/status is polled and must answer within 1 s.
And (c): the etcd leader killed twice (restarted in between) while
overrides are made and deleted through n2: each served by every node
within a bound and gone again after its delete, none lost, and no node
reads everything again while its session holds (doc/fleet.md, "Kept
session").

The test uses etcd's default call timeout (2 s) as a user would: before
the fix, a call to the silent member waited out that timeout and the node
then read everything again (an override acknowledged on n2 was served by
n1 2-2.5 s later). Figures are printed (pytest -s):
    GTMD=build/gtmd /usr/bin/python3 -m pytest -s -p no:cacheprovider \\
        tests/integration/test_fleet_member_failover.py
"""
import os
import threading
import time

import pytest

from backends import poll
from conftest import sanitized
from fleetlib import b64, http_json
# fleet: the fixture (namespaces, etcd, backends; removed also on failure)
from test_fleet_partition import fleet  # noqa: F401
from test_fleet_partition import PREFIX, delete_override, listed, post_override, synced

MEMBERS = ("e1", "e2", "e3")
ROUNDS = 3  # of each cut
# The assertion bounds, with room for a machine shared with other jobs
# (the design bound is 0.3 s for the move; the figures printed show what
# was measured). Before the fix ack -> served took 2 s and more.
MOVE_MAX_S = 1.2
SERVED_MAX_S = 1.5
# /v1/status within 1 s on every node throughout (issue #54), +0.5 s for
# a sanitizer build (2-3x slower, the allowance for a loaded machine).
STATUS_MAX_S = 1.5 if sanitized(os.environ.get("GTMD", "")) else 1.0
VIEW_AGE_MAX_S = 1.8
# A node keeps its session unless no quorum answered it for stale_after
# (3 s here). A node whose status never showed last_quorum_s above this
# (stale_after less two polls of the StatusPoller, 0.1 s, and 0.2 s for a
# poll delayed on a loaded machine) must not have read everything again.
ELECTION_KEEPS_S = 2.7


class StatusPoller:
    """Polls every node's /v1/status every 50 ms in a thread; keeps the
    slowest answer (a poll with no answer in 3 s counts as 3 s), each
    node's longest time without a quorum reply (fleet.last_quorum_s), and the
    oldest view n1 reported (fleet.view_age_s) while `phase` is "link" (in
    "member" rounds etcd may be electing a leader, and no node's view is
    current until it has one)."""

    def __init__(self, nodes):
        self.nodes = nodes
        self.worst = (0.0, None)
        self.polls = 0
        self.oldest = (0.0, None)
        self.phase = None
        self.quorum_gap = {}  # node: the longest last_quorum_s it reported
        self.stop_ev = threading.Event()
        self.t = threading.Thread(target=self.run, daemon=True)

    def run(self):
        while not self.stop_ev.is_set():
            for n in self.nodes:
                t0 = time.monotonic()
                st, b = http_json(n.admin + "/v1/status", timeout=3.0, headers=n.AUTH)
                dt = time.monotonic() - t0 if st == 200 else 3.0
                self.polls += 1
                age = (b.get("fleet") or {}).get("view_age_s") if st == 200 else None
                gap = (b.get("fleet") or {}).get("last_quorum_s") if st == 200 else None
                if gap is not None and gap > self.quorum_gap.get(n.name, 0.0):
                    self.quorum_gap[n.name] = gap
                if n.name == "n1" and self.phase == "link" and age is not None and \
                        age > self.oldest[0]:
                    self.oldest = (age, n.name)
                if dt > self.worst[0]:
                    self.worst = (dt, n.name)
            self.stop_ev.wait(0.05)

    def __enter__(self):
        self.t.start()
        return self

    def __exit__(self, *exc):
        self.stop_ev.set()
        self.t.join(10)


def member_of(fleet, n):
    urls = {fleet.url(m): m for m in MEMBERS}
    return urls.get(n.fleet()["watch_etcd"])


def one_round(fleet, how, status):
    """Cuts the member n1 uses (how: "link" or "member"), makes overrides on
    n2, checks n1; heals. Returns (move s, ack -> served s). status: the
    StatusPoller (its quorum gaps are counted afresh for the round)."""
    n1, n2, n3 = fleet.nodes
    m = member_of(fleet, n1)
    assert m, n1.fleet()
    resyncs = n1.metric("gtmd_fleet_resyncs_total")
    moves = n1.fleet()["watch_moves"]
    election = how == "member" and fleet.leader() == m
    status.quorum_gap = {}
    if how == "link":
        fleet.lab.cut("n1", m)
    else:
        for x in ["n1", "n2", "n3"] + [e for e in MEMBERS if e != m]:
            fleet.lab.cut(m, x)
    t_cut = time.monotonic()
    # The move, watched from the cut on (while n2's write may wait for an
    # election in (b)).
    moved = {}

    def watch_move():
        ok, _ = poll(lambda: n1.fleet()["watch_etcd"] != fleet.url(m), 5, 0.01)
        moved["t"] = time.monotonic() - t_cut if ok else None
    mover = threading.Thread(target=watch_move, daemon=True)
    mover.start()
    # An override acknowledged through n2 (whose member may be the cut one
    # in (b): post_override retries a 503 there).
    st, o, t_ack = post_override(n2, "cut %s %s" % (how, m))
    assert st == 201, o
    mover.join(10)
    t_move = moved.get("t")
    assert t_move is not None, n1.fleet()
    ok, _ = poll(lambda: n1.answer() == fleet.EU, 5, 0.01)
    t_served = time.monotonic() - t_ack
    assert ok, n1.fleet()
    # A sequence of changes during the cut, all seen by n1 in the end: five
    # overrides made and four of them deleted again, through n2.
    made = []
    for k in range(5):
        st, ok_body, _ = post_override(n2, "seq %s %d" % (how, k), target="region:eu", state="up")
        assert st == 201, ok_body
        made.append(ok_body["id"])
    for oid in made[:4] + [o["id"]]:
        assert delete_override(n2, oid) in (200, 204)
    ok, _ = poll(lambda: listed(n1, "seq %s 4" % how) and not any(
        listed(n1, "seq %s %d" % (how, k)) for k in range(4)) and not listed(
        n1, "cut %s %s" % (how, m)), 5, 0.05)
    assert ok, n1.get("/v1/overrides")
    # Resumed from its revision, not read again; the move is counted. (When
    # the cut member was the leader, every member refuses calls and ends
    # watches until a new one is elected; the node keeps its session
    # meanwhile, and reads everything again only when no quorum answered it
    # for stale_after: doc/fleet.md, "Kept session".)
    f1 = n1.fleet()
    resynced = n1.metric("gtmd_fleet_resyncs_total") - resyncs
    gap = status.quorum_gap.get("n1", 0.0)
    assert resynced == 0 or (election and gap >= ELECTION_KEEPS_S), \
        (how, gap, n1.read_log()[-4000:])
    assert f1["watch_moves"] > moves, f1
    assert delete_override(n2, made[4]) in (200, 204)
    print("\nROUND cut %s of %s%s: watch moved after %.2f s, ack on n2 %.2f s after the cut, "
          "served on n1 %.2f s after the ack, %d fresh reads" %
          (how, m, " (the leader)" if election else "", t_move, t_ack - t_cut, t_served,
           resynced))
    fleet.lab.heal()
    ok, _ = poll(lambda: all(synced(n) for n in fleet.nodes) and fleet.leader(), 15, 0.1)
    assert ok, [n.fleet() for n in fleet.nodes]
    ok, _ = poll(lambda: all(n.answer() == fleet.US for n in fleet.nodes), 5, 0.05)
    assert ok
    return t_move, t_served


@pytest.mark.threads
def test_node_leaves_a_silent_member_within_the_bound(fleet):
    fleet.start_nodes()  # etcd's default timeout (2 s): what a user runs
    log0 = len(fleet.nodes[0].read_log())
    results = {"link": [], "member": []}
    with StatusPoller(fleet.nodes) as status:
        for _ in range(ROUNDS):
            for how in ("link", "member"):
                status.phase = how
                results[how].append(one_round(fleet, how, status))
                status.phase = None
    for how, rs in results.items():
        moves = sorted(r[0] for r in rs)
        served = sorted(r[1] for r in rs)
        print("\nFIGURE cut %s: watch moved %.2f / %.2f / %.2f s after the cut, override "
              "ack -> served %.2f / %.2f / %.2f s (min / median / max of %d)" %
              (how, moves[0], moves[len(moves) // 2], moves[-1], served[0],
               served[len(served) // 2], served[-1], len(rs)))
    print("FIGURE /v1/status: slowest answer %.3f s (%s) over %d polls; n1's oldest view in "
          "the link cuts %.2f s (%s)"
          % (status.worst[0], status.worst[1], status.polls, status.oldest[0],
             status.oldest[1]))
    assert "event=fleet_watch_restart node=n1" in fleet.nodes[0].read_log()[log0:]
    for how, rs in results.items():
        assert max(r[0] for r in rs) <= MOVE_MAX_S, (how, rs)
        assert max(r[1] for r in rs) <= SERVED_MAX_S, (how, rs)
    assert status.worst[0] < STATUS_MAX_S, status.worst
    # A heartbeat every 0.5 s, the move, no call left waiting for the 2 s
    # timeout on the silent member: the view stays younger than that.
    assert status.oldest[0] < VIEW_AGE_MAX_S, status.oldest


@pytest.mark.threads
def test_resume_from_a_compacted_revision_reads_again(fleet):
    """The revision the watch would resume from was compacted while its
    member was silent: etcd cancels the new watch with compact_revision, and
    the node reads everything again (a resync) and serves what was written
    meanwhile. The compaction must land before the move (0.45 s): a round
    where the node moved first (a slow machine) is tried again, at most 3."""
    fleet.start_nodes()
    n1, n2, n3 = fleet.nodes
    hits = 0
    for k in range(3):
        m = member_of(fleet, n1)
        other = [e for e in MEMBERS if e != m][0]
        resyncs = n1.metric("gtmd_fleet_resyncs_total")
        fleet.lab.cut("n1", m)
        t_cut = time.monotonic()
        # Two writes: etcd keeps the compaction's own revision, and the watch
        # resumes after the last one it delivered (at least the first).
        for v in range(2):
            st, put = http_json(fleet.url(other) + "/v3/kv/put",
                                {"key": b64(PREFIX + "test/compact"), "value": b64(str(v))},
                                timeout=2.0)
            assert st == 200, put
        rev = int(put["header"]["revision"])
        st, c = http_json(fleet.url(other) + "/v3/kv/compaction",
                          {"revision": rev, "physical": True}, timeout=2.0)
        assert st == 200, c
        in_time = n1.fleet()["watch_etcd"] == fleet.url(m)
        t_compact = time.monotonic() - t_cut
        st, o, t_ack = post_override(n2, "compacted %d" % k)
        assert st == 201, o
        ok, _ = poll(lambda: n1.answer() == fleet.EU, 5, 0.02)
        t_served = time.monotonic() - t_ack
        assert ok, n1.fleet()
        if in_time:
            hits += 1
            assert n1.metric("gtmd_fleet_resyncs_total") > resyncs, n1.fleet()
            assert "compacted" in n1.read_log()
            print("\nFIGURE compacted: compaction %.2f s after the cut; override ack -> "
                  "served on n1 %.2f s (a fresh read)" % (t_compact, t_served))
        assert delete_override(n2, o["id"]) in (200, 204)
        fleet.lab.heal()
        ok, _ = poll(lambda: all(synced(n) for n in fleet.nodes), 15, 0.1)
        assert ok, [n.fleet() for n in fleet.nodes]
        ok, _ = poll(lambda: n1.answer() == fleet.US, 5, 0.05)
        assert ok
        if hits:
            break
    assert hits, "the watch moved before every compaction (3 tries)"


# The bound of ack -> served and delete -> gone on every node during an
# election. The target is 0.5 s (issue #54): a watch ended by its member's
# lost leader resumes on the next member at once, or 0.5 s later
# (FLEET_RETRY_S) when every member ended it; 1.5 s leaves room for ASan
# (2-3x slower) on a loaded 2-core CI. The figures are printed.
ELECTION_SERVED_MAX_S = 1.5
LEADER_KILLS = 2
CYCLES = 3  # overrides made and deleted per kill


def per_node_until(fleet, want, t0, every=0.02, limit=10.0):
    """Polls every node's DNS answer until each gives `want`: (whether all
    did within `limit`, {node: seconds after t0 it first did})."""
    took = {}

    def all_there():
        for n in fleet.nodes:
            if n.name not in took and n.answer() == want:
                took[n.name] = time.monotonic() - t0
        return len(took) == len(fleet.nodes)
    ok, _ = poll(all_there, limit, every)
    return ok, took


def kill_leader_round(fleet, r, writer, figures):
    """Kills the etcd leader; through writer, makes and deletes CYCLES
    overrides (region:us down: every node must serve eu, then us again)
    and keeps one (region:eu up, which changes no answer); restarts the
    member. Returns the kept override's reason and the deleted ids."""
    leader = fleet.leader()
    assert leader, "no etcd leader"
    fleet.members[leader].kill()
    fleet.members[leader].wait(timeout=10)
    t_kill = time.monotonic()
    deleted = []
    for k in range(CYCLES):
        st, o, t_ack = post_override(writer, "leader %d %d" % (r, k), timeout=20)
        assert st == 201, o
        if k == 0:
            figures["election"].append(t_ack - t_kill)
        ok, took = per_node_until(fleet, fleet.EU, t_ack)
        assert ok, ("acknowledged override not served", took, [n.fleet() for n in fleet.nodes])
        figures["served"].extend(took.values())
        assert delete_override(writer, o["id"], timeout=20) in (200, 204)
        t_del = time.monotonic()
        deleted.append(o["id"])
        ok, took = per_node_until(fleet, fleet.US, t_del)
        assert ok, ("deleted override still served", took)
        figures["gone"].extend(took.values())
    kept = "kept %d" % r
    st, o, _ = post_override(writer, kept, target="region:eu", state="up", timeout=20)
    assert st == 201, o
    fleet.start_member(leader)
    ok, _ = poll(lambda: fleet.leader() is not None and all(synced(n) for n in fleet.nodes),
                 20, 0.1)
    assert ok, [n.fleet() for n in fleet.nodes]
    return kept, deleted


@pytest.mark.threads
def test_etcd_leader_killed_twice_loses_no_override(fleet):
    """Issue #54 item 3 (c) and (d): the etcd leader is killed twice (and
    restarted in between) while overrides are made and deleted through n2.
    Every acknowledged override is served by every node within the bound,
    every deleted one stops being served and does not come back, none is
    lost from any node's list, no node reads everything again while the
    election is shorter than stale_after (its session is kept), and every
    node's /v1/status answers within 1 s throughout."""
    fleet.start_nodes()
    writer = fleet.nodes[1]
    resyncs = {n.name: n.fleet()["resyncs"] for n in fleet.nodes}
    figures = {"election": [], "served": [], "gone": []}
    kept, deleted = [], []
    with StatusPoller(fleet.nodes) as status:
        for r in range(LEADER_KILLS):
            k, d = kill_leader_round(fleet, r, writer, figures)
            kept.append(k)
            deleted.extend(d)
        # No deleted override back, none lost: every node's list.
        for n in fleet.nodes:
            st, b = n.get("/v1/overrides")
            assert st == 200, b
            ids = [o.get("id") for o in b.get("overrides", [])]
            reasons = [o.get("reason") for o in b.get("overrides", [])]
            assert not set(ids) & set(deleted), (n.name, b)
            assert all(k in reasons for k in kept), (n.name, b)
        # And every node serves us (every region:us override was deleted).
        # A bounded poll: on a loaded machine a probe of the backend may
        # time out (0.2 s) now and then, which this test does not judge;
        # the endpoint's state says why when it fails.
        ok, _ = poll(lambda: all(n.answer() == fleet.US for n in fleet.nodes), 5, 0.05)
        assert ok, [(n.name, n.answer(), n.endpoint("us1")) for n in fleet.nodes]
    fresh = {n.name: n.fleet()["resyncs"] - resyncs[n.name] for n in fleet.nodes}
    kept_calls = {n.name: n.fleet()["calls_kept"] for n in fleet.nodes}
    gaps = {k: round(v, 2) for k, v in sorted(status.quorum_gap.items())}
    print("\nFIGURE leader killed %d times: kill -> first write taken %s s; ack -> served "
          "on every node max %.2f s (median %.2f, %d), delete -> gone max %.2f s; fresh "
          "reads %s; calls kept %s; longest without a quorum reply %s s; /v1/status "
          "slowest %.3f s over %d polls" %
          (LEADER_KILLS, [round(x, 2) for x in figures["election"]], max(figures["served"]),
           sorted(figures["served"])[len(figures["served"]) // 2], len(figures["served"]),
           max(figures["gone"]), fresh, kept_calls, gaps, status.worst[0], status.polls))
    assert max(figures["served"]) <= ELECTION_SERVED_MAX_S, figures
    assert max(figures["gone"]) <= ELECTION_SERVED_MAX_S, figures
    assert status.worst[0] < STATUS_MAX_S, status.worst
    for name, v in fresh.items():
        if status.quorum_gap.get(name, 0.0) < ELECTION_KEEPS_S:
            assert v == 0, ("a fresh read with the session still valid", name, fresh, gaps)

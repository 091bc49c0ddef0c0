"""Watch and session failover between etcd members (issue #54, item 3), on
network namespaces (netlab.py, the Fleet of test_fleet_partition.py: a
3-member etcd e1..e3 and nodes n1..n3, node i listing member i first).

A member that stops answering drops packets (a tc filter, no reset). The
node that uses it must leave it within FLEET_WATCH_PROBE_S +
FLEET_CONNECT_S (0.45 s) plus the loop's delays, resume its watch from
the revision after the last one it delivered (no fresh read: the resync
counter does not move) and miss no event; an override acknowledged on
another node is served by it shortly after. Two ways to cut:
  (a) the link between n1 and the member it uses (the member stays in the
      cluster: "its own member cut");
  (b) that member from everyone (nodes and the other members).
Throughout, every node's /v1/status is polled and must answer within 1 s.

The test uses etcd's default call timeout (2 s) as a user would: before
the fix, a call to the silent member waited out that timeout and the node
then read everything again (an override acknowledged on n2 was served by
n1 2-2.5 s later). Figures are printed (pytest -s):
    GTMD=build/gtmd /usr/bin/python3 -m pytest -s -p no:cacheprovider \\
        tests/integration/test_fleet_member_failover.py
"""
import threading
import time

import pytest

from backends import poll
from fleetlib import b64, http_json
# fleet: the fixture (namespaces, etcd, backends; removed also on failure)
from test_fleet_partition import fleet  # noqa: F401
from test_fleet_partition import PREFIX, delete_override, listed, post_override, synced

MEMBERS = ("e1", "e2", "e3")
ROUNDS = 3  # of each cut
# The assertion bounds, with room for a machine shared with other jobs
# (the design bound is 0.45 s for the move; the figures printed show what
# was measured). Before the fix ack -> served took 2 s and more.
MOVE_MAX_S = 1.2
SERVED_MAX_S = 1.5
STATUS_MAX_S = 1.0
VIEW_AGE_MAX_S = 1.8


class StatusPoller:
    """Polls every node's /v1/status every 50 ms in a thread; keeps the
    slowest answer (a poll with no answer in 3 s counts as 3 s) and the
    oldest view n1 reported (fleet.view_age_s) while `phase` is "link" (in
    "member" rounds etcd may be electing a leader, and no node's view is
    current until it has one)."""

    def __init__(self, nodes):
        self.nodes = nodes
        self.worst = (0.0, None)
        self.polls = 0
        self.oldest = (0.0, None)
        self.phase = None
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


def one_round(fleet, how):
    """Cuts the member n1 uses (how: "link" or "member"), makes overrides on
    n2, checks n1; heals. Returns (move s, ack -> served s)."""
    n1, n2, n3 = fleet.nodes
    m = member_of(fleet, n1)
    assert m, n1.fleet()
    resyncs = n1.metric("gtmd_fleet_resyncs_total")
    moves = n1.fleet()["watch_moves"]
    election = how == "member" and fleet.leader() == m
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
    # watches until a new one is elected, and a node that found every URL
    # refusing reads everything again: that is the election's, not the
    # move's, doc/fleet.md.)
    f1 = n1.fleet()
    resynced = n1.metric("gtmd_fleet_resyncs_total") - resyncs
    assert election or resynced == 0, (how, n1.read_log()[-4000:])
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
                results[how].append(one_round(fleet, how))
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

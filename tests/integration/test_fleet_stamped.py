"""The stamped rule as the live verdict (issue #54; doc/fleet.md "The live
verdict"), on the namespace fleet of test_fleet_partition.py (fleetlab.py:
3 etcd members, 3 nodes, each in its own namespace):

- a node and the etcd leader cut off from the rest at the instant the
  backend dies: every node, the cut one included, leaves the dead backend
  within fall x interval + 0.5 s (I1; the gaps rule took up to 2.26 s);
- the same when that node was cut from the backend alone before (its
  peers' later ups kept it there, I2): once cut off it follows its probe;
- a node alone cut from a backend its peers still reach does not move its
  answers (I2), and status says why, per peer.

Figures are printed (pytest -s shows them):
    GTMD=build/gtmd /usr/bin/python3 -m pytest -s -p no:cacheprovider \\
        tests/integration/test_fleet_stamped.py
"""
import time

import pytest

from backends import poll
from conftest import runs_asan
from fleetlab import cut_off_with_leader, start_hearing_peers
from test_fleet_partition import fleet  # noqa: F401
from test_fleet_partition import served_eu_per_node

# The web check of these tests: 0.25 s x fall 2 (fleetlib's check with
# fall=2): a probe sees a death within 0.5 s.
FALL_X_INTERVAL = 0.5
# I1's bound: fall x interval + 0.5 s (issue #54), also on the cut node:
# 1.0 s, the answer poll's 0.05 s included. The cut node's worst case
# (doc/fleet.md "The cut node's bound"): its probe falls within 0.5 s of
# the kill; it finds itself cut off once a heartbeat sent 0.15-0.2 s after
# the last datagram heard (<= 0.1 s before the cut) is out 0.3 s and the
# 0.05 s decision tick runs: <= 0.55 s after the cut; measured 0.26-0.53 s
# over 10 runs beside another test file (every node <= 0.55 s); 0.28-0.54
# s under ThreadSanitizer (4 runs). Under ASan (and ThreadSanitizer) gtmd
# is 2-3x slower (the prober, the decision tick, the channel's datagrams,
# etcd's replies through the event loop): 0.5 s more, the slack the issue
# allows a loaded machine.
BOUND = FALL_X_INTERVAL + 0.5
ASAN_SLACK = 0.5


def bound_for(fleet):
    """BOUND, + ASAN_SLACK under a sanitizer: ASan, or ThreadSanitizer (CI
    runs this test under it too; gtmd is slower still there)."""
    pid = fleet.nodes[0].proc.pid
    with open("/proc/%d/maps" % pid) as f:
        tsan = "libtsan" in f.read()
    return BOUND + (ASAN_SLACK if runs_asan(pid) or tsan else 0)


def decision_of(n, name="us1"):
    """n's decision on web/NAME from /v1/status (fleet.decision)."""
    return (n.endpoint(name).get("fleet") or {}).get("decision")


@pytest.mark.threads
def test_node_cut_with_the_leader_leaves_a_dead_backend_within_a_second(fleet):  # noqa: F811
    start_hearing_peers(fleet)
    lead = fleet.leader()
    assert lead
    # Node i lists member i first: the node whose member is the leader is
    # the field case (its calls and watch go to the isolated leader).
    cut = fleet.nodes[int(lead[1]) - 1]
    cut_off_with_leader(fleet, cut, lead)
    fleet.be["us"].stop()
    t0 = time.monotonic()
    ok, took = served_eu_per_node(fleet, t0, 0.05)
    figures = {k: round(v, 2) for k, v in sorted(took.items())}
    print("\nFIGURE stamped: %s and leader %s cut off, backend killed -> served eu per node %s "
          "(bound %.2f s)" % (cut.name, lead, figures, bound_for(fleet)))
    assert ok, [n.fleet() for n in fleet.nodes]
    assert max(took.values()) <= bound_for(fleet), (figures, decision_of(cut))
    # The cut node decided alone, and says so: it hears no peer directly
    # and etcd does not take its heartbeats. Polled: each status call is
    # one reading (up to 2 s, a stale_after's margin under ASan).
    def says_cut_off():
        d = decision_of(cut)
        return d and d["rule"] == "stamped" and d["cut_off"]
    ok, _ = poll(says_cut_off, 2, 0.1)
    assert ok, cut.endpoint("us1")
    # No flap back while the backend stays dead (I4): 1.5 s, three times
    # the heartbeat's and the channel's cadences.
    t1 = time.monotonic()
    while time.monotonic() - t1 < 1.5:
        assert all(n.answer() == fleet.EU for n in fleet.nodes), \
            [(n.name, n.answer()) for n in fleet.nodes]
        time.sleep(0.05)


def test_node_cut_from_a_backend_then_cut_off_with_the_leader_leaves_it(fleet):  # noqa: F811
    """Issue #54's 30-minute I1 (seed 54): the node cut from us alone keeps
    it (its peers' ups as of after its probe moved outvote that probe, I2);
    then it and the leader are cut off from the rest as us dies: it must
    leave us within the same bound as a node whose probe was up."""
    start_hearing_peers(fleet)
    lead = fleet.leader()
    assert lead
    cut = fleet.nodes[int(lead[1]) - 1]
    fleet.lab.cut_addr(cut.name, fleet.US[0])
    # Its probe falls within fall x interval (0.5 s); its peers' ups as of
    # 0.5 s after that count as sent (after_move) once they arrive (the
    # channel's 0.1 s). 5 s bounds the wait, ASan included.
    def kept_by_later_ups():
        d = decision_of(cut)
        return d and d["rule"] == "stamped" and len(d["peers"]) == 2 and \
            all(p["why"] == "after_move" for p in d["peers"])
    ok, _ = poll(kept_by_later_ups, 5, 0.05)
    assert ok, decision_of(cut)
    assert cut.answer() == fleet.US, decision_of(cut)
    cut_off_with_leader(fleet, cut, lead)
    fleet.be["us"].stop()
    t0 = time.monotonic()
    ok, took = served_eu_per_node(fleet, t0, 0.05)
    figures = {k: round(v, 2) for k, v in sorted(took.items())}
    print("\nFIGURE stamped: %s cut from us, then cut off with leader %s, backend killed -> "
          "served eu per node %s (bound %.2f s)" % (cut.name, lead, figures, bound_for(fleet)))
    assert ok, [n.fleet() for n in fleet.nodes]
    # The same bound as the cut test above: the node finds itself cut off
    # within 0.55 s of the cut, and its probe says down already.
    assert max(took.values()) <= bound_for(fleet), (figures, decision_of(cut))
    fleet.lab.heal_addrs()


@pytest.mark.threads
def test_node_alone_cut_from_a_backend_does_not_move_its_answers(fleet):  # noqa: F811
    fleet.start_nodes(timeout=1, fall=2)
    n1, n2, n3 = fleet.nodes
    ok, _ = poll(lambda: all(n.answer() == fleet.US for n in fleet.nodes), 10, 0.05)
    assert ok
    fleet.lab.cut_addr("n1", fleet.US[0])
    # n1's own probe falls within fall x interval; its peers' current
    # reports (through both channels) say up, so it keeps serving us.
    # Sampled every 0.05 s for 3 s: six times fall x interval, past the
    # channel's alive window (0.35 s) and two heartbeats.
    t0 = time.monotonic()
    seen_down = False
    while time.monotonic() - t0 < 3.0:
        assert n1.answer() == fleet.US, (n1.endpoint("us1"), decision_of(n1))
        seen_down = seen_down or n1.endpoint("us1").get("fleet", {}).get("own") == "down"
        time.sleep(0.05)
    assert seen_down, n1.endpoint("us1")
    d = decision_of(n1)
    assert d["rule"] == "stamped" and not d["cut_off"] and d["up"] >= 2, d
    peers = {p["node"]: p for p in d["peers"]}
    assert set(peers) == {"n2", "n3"}, d
    assert all(p["count"] == "as_sent" and p["state"] == "up" for p in peers.values()), d
    print("\nFIGURE stamped: n1 alone cut from us: kept serving us for 3 s; decision %s" %
          {k: (v["count"], v["why"]) for k, v in peers.items()})
    fleet.lab.heal_addrs()


def test_decision_gaps_brings_back_the_old_rule(fleet):  # noqa: F811
    """fleet.decision: "gaps" (doc/fleet.md "The live verdict"): status
    says so, the log names it, and a dead backend is still failed over."""
    fleet.start_nodes(timeout=1, fall=2, decision="gaps")
    ok, _ = poll(lambda: all(n.answer() == fleet.US for n in fleet.nodes), 10, 0.05)
    assert ok
    for n in fleet.nodes:
        assert decision_of(n) == {"rule": "gaps"}, decision_of(n)
        assert "decision=gaps" in n.read_log()
    fleet.be["us"].stop()
    # The gaps rule's bound without an election: a quorum of reports
    # through etcd (0.45 s measured); 10 s only bounds the wait.
    ok, took = served_eu_per_node(fleet, time.monotonic(), 0.05)
    assert ok, [n.fleet() for n in fleet.nodes]
    print("\nFIGURE gaps: backend killed -> served eu per node %s" %
          {k: round(v, 2) for k, v in sorted(took.items())})

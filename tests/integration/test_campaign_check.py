"""The fault campaign's checker (contrib/bench/campaign_check.py) on
crafted timelines: each invariant is reported on a timeline that breaks
it, and nothing on a clean one. Pure Python, no process, no network:
a few milliseconds."""
import copy
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "..", "contrib", "bench"))
import campaign_check  # noqa: E402

NODES = ["n1", "n2", "n3"]
T_END = 40.0


def answers(segments, end=T_END):
    """[[t, answer]] every 20 ms from segments [(from, region)], each
    lasting until the next one's start."""
    out = []
    for i, (t0, region) in enumerate(segments):
        t1 = segments[i + 1][0] if i + 1 < len(segments) else end
        t = t0
        while t < t1 - 1e-9:
            out.append([round(t, 3), None if region is None else [region]])
            t += 0.02
    return out


def clean():
    """us killed 10-15 s (every node leaves it 0.6 s after the kill, comes
    back 0.7 s after the revival); an override acknowledged at 20 s
    (served 0.3 s after), its delete acknowledged at 23 s (served 0.3 s
    after); status answered in 10 ms every 0.5 s."""
    segs = [(0.0, "us"), (10.6, "eu"), (15.7, "us"), (20.3, "eu"), (23.3, "us")]
    return {
        "params": {"bound_i1": 1.0, "bound_i3": 0.5, "status_max": 1.0, "revive_window": 1.5,
                   "window": 2.0},
        "nodes": list(NODES), "members": ["e1", "e2", "e3"],
        "faults": [
            {"kind": "backend_kill", "start": 10.0, "end": 15.0, "cuts": [],
             "dead_backend": "us"},
            {"kind": "override", "start": 19.9, "end": 23.0, "cuts": []},
            {"kind": "local_cut", "start": 30.0, "end": 33.0, "cuts": []},
        ],
        "ops": [{"op": "create", "id": "o1", "sent": 19.9, "reply": 20.0, "ack": 20.0},
                {"op": "delete", "id": "o1", "sent": 22.9, "reply": 23.0, "ack": 23.0}],
        "answers": {n: answers(segs) for n in NODES},
        "status": {n: [[i * 0.5, 0.01] for i in range(80)] for n in NODES},
        "final_overrides": {n: [] for n in NODES},
        "t_end": T_END,
    }


def invs(tl):
    return sorted((v["inv"], v["node"]) for v in campaign_check.check(tl)["violations"])


def set_node(tl, node, segs):
    tl["answers"][node] = answers(segs)


def test_clean_timeline_has_no_violation():
    tl = clean()
    r = campaign_check.check(tl)
    assert r["violations"] == []
    f = r["figures"]
    assert f["kill_to_flip_max"] == {"n1": 0.6, "n2": 0.6, "n3": 0.6}
    assert f["override_ack_to_served_max"] == {"n1": 0.3, "n2": 0.3, "n3": 0.3}
    assert f["status_latency_max"] == {"n1": 0.01, "n2": 0.01, "n3": 0.01}


def test_i1_late_flip_reported_with_its_timeline():
    tl = clean()
    set_node(tl, "n2", [(0.0, "us"), (11.5, "eu"), (15.7, "us"), (20.3, "eu"), (23.3, "us")])
    r = campaign_check.check(tl)
    assert [(v["inv"], v["node"]) for v in r["violations"]] == [("I1", "n2")]
    v = r["violations"][0]
    assert v["cls"] == "backend_kill" and abs(v["t"] - 11.0) < 0.03, v
    assert v["timeline"]["faults"][0]["kind"] == "backend_kill"
    assert ["eu" in run[2] for run in v["timeline"]["answers"]][:2] == [False, True]
    assert r["figures"]["kill_to_flip_max"]["n2"] == 1.5


def test_i1_not_applied_to_a_node_without_quorum_unless_named():
    tl = clean()
    set_node(tl, "n2", [(0.0, "us"), (12.5, "eu"), (15.7, "us"), (20.3, "eu"), (23.3, "us")])
    tl["faults"].append({"kind": "node_etcd_cut", "start": 9.5, "end": 11.0,
                         "cuts": [["n2", "e1"], ["n2", "e2"], ["n2", "e3"]]})
    assert invs(tl) == []
    # Issue #54's target: the node cut off with the leader at the kill.
    tl["faults"][0]["i1_nodes"] = ["n2"]
    assert invs(tl) == [("I1", "n2")]


def test_i4_back_on_a_dead_backend():
    tl = clean()
    set_node(tl, "n3", [(0.0, "us"), (10.6, "eu"), (12.0, "us"), (12.2, "eu"), (15.7, "us"),
                        (20.3, "eu"), (23.3, "us")])
    assert ("I4", "n3") in invs(tl)


def test_i4_not_for_a_node_away_by_an_override_when_it_died():
    # seed 54's 30-minute n1: on eu by an override whose delete it had not
    # seen, back on us 0.36 s after the kill (the delete arrived), off
    # 0.04 s later by its own probe: no I4, and no I1 (within its bound).
    # (Its move to eu at 8 s has no override in this timeline: I2 there.)
    tl = clean()
    set_node(tl, "n3", [(0.0, "us"), (8.0, "eu"), (10.36, "us"), (10.4, "eu"), (15.7, "us"),
                        (20.3, "eu"), (23.3, "us")])
    assert [v for v in invs(tl) if v[0] in ("I1", "I4")] == []
    # ... but going back once more while us is dead still is I4.
    set_node(tl, "n3", [(0.0, "us"), (8.0, "eu"), (10.36, "us"), (10.4, "eu"), (12.0, "us"),
                        (12.2, "eu"), (15.7, "us"), (20.3, "eu"), (23.3, "us")])
    assert ("I4", "n3") in invs(tl)


def test_i2_false_failover_and_isolated_node():
    tl = clean()
    set_node(tl, "n1", [(0.0, "us"), (10.6, "eu"), (15.7, "us"), (20.3, "eu"), (23.3, "us"),
                        (31.0, "eu"), (31.5, "us")])
    assert invs(tl) == [("I2", "n1")]
    # The same move on a node cut from every member: it serves its own
    # probes once degraded (doc/fleet.md), reported apart.
    tl["faults"].append({"kind": "node_etcd_cut", "start": 29.0, "end": 32.0,
                         "cuts": [["n1", "e1"], ["n1", "e2"], ["n1", "e3"]]})
    assert invs(tl) == [("I2-isolated", "n1")]


def test_node_cut_from_us_then_cut_off_with_the_leader():
    """Issue #54's 30-minute case (doc/fleet.md "What a node cannot know"):
    n1 cut from us alone (30-34 s, the clean timeline's local_cut, made
    longer), then n1 and the leader e1 cut off from the rest at 31 s. With
    us alive, n1 following its probe once cut off is I2-isolated (it
    reaches no quorum), named with its timeline; the same move while n1
    still reaches the quorum (cut from its peers only) stays I2."""
    tl = clean()
    tl["faults"][2]["end"] = 34.0
    rest = ["e2", "e3", "n2", "n3"]
    tl["faults"].append({"kind": "leader_node_cut", "start": 31.0, "end": 33.0,
                         "cuts": [[a, b] for a in ("n1", "e1") for b in rest]})
    set_node(tl, "n1", [(0.0, "us"), (10.6, "eu"), (15.7, "us"), (20.3, "eu"), (23.3, "us"),
                        (31.5, "eu"), (33.2, "us")])
    r = campaign_check.check(tl)
    assert [(v["inv"], v["node"]) for v in r["violations"]] == [("I2-isolated", "n1")]
    v = r["violations"][0]
    assert abs(v["t"] - 31.5) < 0.03 and "leader_node_cut" in v["cls"], v
    assert {f["kind"] for f in v["timeline"]["faults"]} >= {"local_cut", "leader_node_cut"}
    tl["faults"][-1]["cuts"] = [["n1", "n2"], ["n1", "n3"]]
    assert invs(tl) == [("I2", "n1")]


def test_i2_flap_after_the_revival_told_apart():
    tl = clean()
    # Back on us 0.2 s after the revival, off it for 0.1 s, back again.
    set_node(tl, "n2", [(0.0, "us"), (10.6, "eu"), (15.2, "us"), (15.4, "eu"), (15.5, "us"),
                        (20.3, "eu"), (23.3, "us")])
    assert invs(tl) == [("I2-revival", "n2")]
    assert campaign_check.check(tl)["violations"][0]["cls"] == "backend_kill"
    # The same 2 s after the revival is a plain I2.
    set_node(tl, "n2", [(0.0, "us"), (10.6, "eu"), (15.2, "us"), (17.0, "eu"), (17.1, "us"),
                        (20.3, "eu"), (23.3, "us")])
    assert invs(tl) == [("I2", "n2")]


def test_i2_not_reported_for_an_unacknowledged_create():
    tl = clean()
    set_node(tl, "n1", [(0.0, "us"), (10.6, "eu"), (15.7, "us"), (20.3, "eu"), (23.3, "us"),
                        (31.0, "eu"), (31.5, "us")])
    tl["ops"].append({"op": "create", "id": None, "sent": 30.9, "reply": 31.0, "ack": None,
                      "status": 503})
    assert invs(tl) == []


def test_i3_late_and_lost():
    tl = clean()
    late = copy.deepcopy(tl)
    set_node(late, "n3", [(0.0, "us"), (10.6, "eu"), (15.7, "us"), (20.8, "eu"),
                          (23.3, "us")])
    assert invs(late) == [("I3-late", "n3")]
    lost = copy.deepcopy(tl)
    set_node(lost, "n3", [(0.0, "us"), (10.6, "eu"), (15.7, "us"), (20.3, "eu"), (21.5, "us"),
                          (23.3, "us")])
    assert invs(lost) == [("I3-lost", "n3")]
    gone = copy.deepcopy(tl)
    gone["ops"] = gone["ops"][:1]  # never deleted: served to the end
    for n in NODES:
        set_node(gone, n, [(0.0, "us"), (10.6, "eu"), (15.7, "us"), (20.3, "eu")])
    gone["final_overrides"]["n2"] = []
    gone["final_overrides"]["n1"] = ["o1"]
    v = invs(gone)
    assert v == [("I3-lost", "n2"), ("I3-lost", "n3")]


def test_i3_counts_from_the_return_to_a_quorum():
    tl = clean()
    # n3 cut from every member 19-21.5 s: the bound runs from 21.5 s.
    tl["faults"].append({"kind": "node_etcd_cut", "start": 19.0, "end": 21.5,
                         "cuts": [["n3", "e1"], ["n3", "e2"], ["n3", "e3"]]})
    set_node(tl, "n3", [(0.0, "us"), (10.6, "eu"), (15.7, "us"), (21.9, "eu"), (23.3, "us")])
    assert invs(tl) == []
    set_node(tl, "n3", [(0.0, "us"), (10.6, "eu"), (15.7, "us"), (22.2, "eu"), (23.3, "us")])
    assert invs(tl) == [("I3-late", "n3")]


def test_i3_late_delete():
    tl = clean()
    set_node(tl, "n2", [(0.0, "us"), (10.6, "eu"), (15.7, "us"), (20.3, "eu"), (24.0, "us")])
    assert invs(tl) == [("I3-late", "n2")]


def test_status_unanswered_or_slow():
    tl = clean()
    tl["status"]["n1"][10] = [5.0, None]
    tl["status"]["n2"][12] = [6.0, 1.4]
    assert invs(tl) == [("status", "n1"), ("status", "n2")]


def test_reach_follows_the_faults():
    tl = clean()
    tl["faults"] = [
        {"kind": "member_kill", "start": 1.0, "end": 5.0, "cuts": [], "dead_members": ["e1"]},
        {"kind": "leader_isolation", "start": 2.0, "end": 3.0, "cuts": [["e2", "e1"],
                                                                        ["e2", "e3"]]},
        {"kind": "node_member_cut", "start": 4.0, "end": 6.0, "cuts": [["n1", "e3"],
                                                                        ["n1", "e2"]]},
    ]
    r = campaign_check.check_reach
    assert r(tl, "n1", 0.5) and r(tl, "n1", 1.5)  # e2, e3 a majority
    assert not r(tl, "n1", 2.5) and not r(tl, "n2", 2.5)  # e1 dead, e2 alone, e3 alone
    assert not r(tl, "n1", 4.5) and r(tl, "n2", 4.5)  # n1 reaches dead e1 only
    assert r(tl, "n1", 5.5)  # e1 back: e1 is in the majority


def test_a_load_fault_adds_half_a_second_to_its_bounds():
    # n2 leaves us 1.3 s after the kill (bound 1.0 s): an I1 without load,
    # none while two CPU hogs run over the kill (1.0 + 0.5 s), and again
    # one when it leaves after 1.6 s under the same load.
    tl = clean()
    set_node(tl, "n2", [(0.0, "us"), (11.3, "eu"), (15.7, "us"), (20.3, "eu"), (23.3, "us")])
    assert invs(tl) == [("I1", "n2")]
    tl["faults"].append({"kind": "cpu_hogs", "start": 9.0, "end": 12.0, "cuts": [],
                         "load": True})
    assert invs(tl) == []
    set_node(tl, "n2", [(0.0, "us"), (11.6, "eu"), (15.7, "us"), (20.3, "eu"), (23.3, "us")])
    assert invs(tl) == [("I1", "n2")]
    # The same for an override served 0.8 s after its ack, and a status
    # poll answered in 1.3 s, while a dd loop runs; without it, both count.
    tl = clean()
    set_node(tl, "n3", [(0.0, "us"), (10.6, "eu"), (15.7, "us"), (20.8, "eu"), (23.3, "us")])
    tl["status"]["n1"][60][1] = 1.3
    assert invs(tl) == [("I3-late", "n3"), ("status", "n1")]
    tl["faults"] += [{"kind": "dd_dsync", "start": 19.0, "end": 21.0, "cuts": [], "load": True},
                     {"kind": "dd_dsync", "start": 29.0, "end": 31.0, "cuts": [],
                      "load": True}]
    assert invs(tl) == []


def test_five_members_quorum_is_three():
    tl = clean()
    tl["members"] = ["e1", "e2", "e3", "e4", "e5"]
    tl["nodes"] = NODES + ["n4", "n5"]
    # e4 dead: e1, e2, e3 and e5 are a quorum (4 of 5); n1, cut from e2,
    # e3 and e5, reaches only e1 and e4, but e1 is still a live member of
    # that quorum.
    tl["faults"] = [{"kind": "member_kill", "start": 1.0, "end": 5.0, "cuts": [],
                     "dead_members": ["e4"]},
                    {"kind": "node_member_cut", "start": 1.0, "end": 5.0,
                     "cuts": [["n1", m] for m in ("e2", "e3", "e5")]}]
    assert campaign_check.check_reach(tl, "n1", 1.5) is True
    assert campaign_check.check_reach(tl, "n2", 1.5) is True
    # e5 dead too and e3 cut off from the rest leave e1 and e2, 2 of 5:
    # no node reaches a quorum.
    tl["faults"] += [{"kind": "member_kill", "start": 2.0, "end": 3.0, "cuts": [],
                      "dead_members": ["e5"]},
                     {"kind": "leader_isolation", "start": 2.0, "end": 3.0,
                      "cuts": [["e3", m] for m in ("e1", "e2", "e4", "e5")]}]
    assert campaign_check.check_reach(tl, "n2", 2.5) is False
    assert campaign_check.check_reach(tl, "n2", 3.5) is True


def probes(failed_from=None, failed_to=None, end=T_END):
    """The campaign's own probes of us and eu every 50 ms: us failing in
    [failed_from, failed_to), everything else answered."""
    out = {"us": [], "eu": []}
    t = 0.0
    while t < end:
        bad = failed_from is not None and failed_from <= t < failed_to
        out["us"].append([round(t, 3), not bad])
        out["eu"].append([round(t, 3), True])
        t += 0.05
    return out


def test_fleet_wide_move_while_the_backend_went_unanswered_is_its_own_class():
    # Every node leaves us at 35 s for 0.4 s, no kill, no override; the
    # campaign's own probe of us failed from 34.3 to 35.0 s (a starved
    # backend process): backend-unanswered, one per node, not I2.
    tl = clean()
    for n in NODES:
        set_node(tl, n, [(0.0, "us"), (10.6, "eu"), (15.7, "us"), (20.3, "eu"), (23.3, "us"),
                         (35.0, "eu"), (35.4, "us")])
    tl["probes"] = probes(34.3, 35.0)
    got = campaign_check.check(tl)["violations"]
    assert sorted((v["inv"], v["node"]) for v in got) == [
        ("backend-unanswered", n) for n in NODES]
    # 14 failed probes (34.30-34.95 s) of those in the 2 s before 35.0 s
    assert "probe of us: 14 of " in got[0]["detail"], got[0]["detail"]
    assert ["failed" in r[2] for r in got[0]["timeline"]["probes"]].count(True) == 1
    # The same move with the probe answering throughout is I2 on each node.
    tl["probes"] = probes()
    assert invs(tl) == [("I2", n) for n in NODES]
    # Without probes (an older report) it is I2 as before.
    del tl["probes"]
    assert invs(tl) == [("I2", n) for n in NODES]


def test_a_lone_move_stays_i2_whatever_the_probe_saw():
    # n2 alone leaves us at 35 s while n1 and n3 serve it: I2 while the
    # probe saw us answer, and still I2 while it saw us fail (one node
    # deciding alone is what I2 forbids).
    tl = clean()
    set_node(tl, "n2", [(0.0, "us"), (10.6, "eu"), (15.7, "us"), (20.3, "eu"), (23.3, "us"),
                        (35.0, "eu"), (35.5, "us")])
    tl["probes"] = probes()
    assert invs(tl) == [("I2", "n2")]
    tl["probes"] = probes(34.3, 35.0)
    assert invs(tl) == [("I2", "n2")]
    # A probe failure long before (more than unanswered_window) explains nothing.
    set_node(tl, "n1", [(0.0, "us"), (10.6, "eu"), (15.7, "us"), (20.3, "eu"), (23.3, "us"),
                        (35.0, "eu"), (35.5, "us")])
    set_node(tl, "n3", [(0.0, "us"), (10.6, "eu"), (15.7, "us"), (20.3, "eu"), (23.3, "us"),
                        (35.0, "eu"), (35.5, "us")])
    tl["probes"] = probes(31.0, 32.5)
    assert invs(tl) == [("I2", n) for n in NODES]

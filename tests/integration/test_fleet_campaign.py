"""A 60-second fault campaign on the namespace fleet (contrib/bench/
fleet_campaign.py, issue #54 item 4): a fixed seed's nemesis (cuts,
one-way cuts, member kill and restart, leader isolation, a node cut off
with the leader as the primary dies, a dd oflag=dsync loop, CPU hogs,
backend kill and revival, a node cut from one backend, overrides) while
every node is queried every 20 ms and its /v1/status every 0.5 s.

Asserted: 0 violations of what the product holds today (I2: no false
failover on a node that reaches a quorum; I3-lost: no acknowledged
override lost; I4: no node back on a dead backend; /v1/status answered
within 1 s). Reported, and allowed by name below with the reason, the
classes that the current "gaps" rule is known to break (doc/fleet.md,
"Decision model and simulator", REG-1 and REG-2, and "The fault
campaign").

Skipped without root, iproute2 or etcd (as the partition tests), and
with a sanitizer build of gtmd: ASan makes every node 2-3x slower, so
the bounds of the invariants (fall x interval + 0.5 s, 0.5 s, 1 s)
would measure the sanitizer. Not marked threads (the TSan stage runs
only those). Lab, load processes and backends are removed by
fleet_campaign.run_campaign's finally, also when this test fails.
"""
import json
import os
import sys

import pytest

import netlab
from conftest import GTMD
from fleetlib import need_etcd

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "..", "contrib", "bench"))
import fleet_campaign  # noqa: E402

SEED = 7
DURATION = 60

# Violations asserted to be 0.
HELD = ("I2", "I3-lost", "I4", "status")
# Allowed and reported: the gaps rule's known failures (doc/fleet.md).
KNOWN = {
    # REG-1: a node cut off with the etcd leader as the primary dies waits
    # until its member stops naming itself leader (1.0-2.4 s after the
    # kill); REG-2: during an election (a member killed, the leader
    # isolated) a node leaves after the blind gap and a status poll.
    "I1": "REG-1 / REG-2: the gaps rule waits for an election to show",
    # A node that reaches a quorum serves an override (or its delete)
    # after its watch or its calls leave a silent member, or after an
    # election: 0.45 s plus the fleet thread's delays, beyond 0.5 s.
    "I3-late": "watch failover and elections delay the override past 0.5 s",
    # A node cut off from every member serves its own probes once
    # degraded (stale_after): its own local fault then moves its answers
    # (documented: "What the fleet guarantees").
    "I2-isolated": "a degraded node serves its own probes (doc/fleet.md)",
    # A flap while the fleet comes back: within stale_after (3 s) of the
    # primary's revival, a node that served it again leaves it for a
    # moment, when a report written late (by a node cut off during the
    # kill) arrives after an early up: freshness is judged by arrival, not
    # by the writer's stamp (issue #54 item 1, not made yet). Seen 0.2 and
    # 1.55 s after the revival.
    "I2-revival": "a late report after the revival (no writer's stamp yet)",
}


def sanitized(path):
    """Whether the gtmd binary at path was built with a sanitizer."""
    try:
        with open(path, "rb") as f:
            data = f.read()
    except OSError:
        return False
    return b"__asan_init" in data or b"__tsan_init" in data


def test_sixty_second_campaign_holds_i2_i3_i4_and_status():
    for why in (need_etcd(), netlab.why_not()):
        if why:
            pytest.skip(why)
    if os.environ.get("GTM_TSAN") or sanitized(GTMD):
        pytest.skip("a sanitizer build: the invariants' bounds are for a plain build")
    r = fleet_campaign.run_campaign(SEED, DURATION)
    print("\n" + fleet_campaign.summary(r))
    assert not r["close_errors"], r["close_errors"]
    # The campaign did what it is for: faults of several kinds, answers
    # recorded from every node.
    assert len(r["faults"]) >= 8 and r["queries"] > 3 * 20 * DURATION, (
        r["fault_counts"], r["queries"])
    held = [v for v in r["violations"] if v["inv"] in HELD]
    unknown = [v for v in r["violations"] if v["inv"] not in HELD and v["inv"] not in KNOWN]
    assert not held and not unknown, json.dumps(held + unknown, indent=1)[:20000]

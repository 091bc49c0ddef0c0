"""A 3-minute fault campaign on the namespace fleet (contrib/bench/
fleet_campaign.py, issue #54 item 4, "a 3-minute version in CI"): a
fixed seed's nemesis (cuts, one-way cuts, member kill and restart, leader
isolation, a node cut off with the leader as the primary dies, a dd
oflag=dsync loop, CPU hogs, clock jumps, backend kill and revival, a node
cut from one backend, overrides) while every node is queried every 20 ms
and its /v1/status every 0.5 s.

Asserted: 0 violations of I1-I4 and of the admin API's bound (every
bound 0.5 s longer while a load fault runs), under the stamped rule (the
live verdict by default). One class is allowed, by name, with its cause:
I2-isolated, a node that reaches no etcd quorum serving its own probes
once degraded, which its isolation mode documents and no node can tell
from a real failure (doc/fleet.md, "What a node cannot know"). The gaps
rule's classes (I1 on the node cut off with the leader, I3-late after a
watch failover, I2-revival) are no longer allowed: the stamped rule
removed them (doc/fleet.md, "The fault campaign").

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
from conftest import GTMD, sanitized
from fleetlib import need_etcd

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "..", "contrib", "bench"))
import fleet_campaign  # noqa: E402

SEED = 7
# Issue #54: "Run a 3-minute version in CI". The test takes about 3.5
# minutes with the lab's start and stop, on one of CI's 3 workers.
DURATION = 180

# Allowed and reported, with the cause (doc/fleet.md, "What a node cannot
# know"): a node cut off from every member reaches no quorum; once
# degraded (stale_after) its isolation mode ("serve") makes it serve its
# own probes, so its own cut from a backend moves its answers. Nothing it
# can observe tells that cut from the backend's death.
KNOWN = {
    "I2-isolated": "a degraded node serves its own probes (isolation: serve)",
    # More than half of the nodes moved while the campaign's own probe of
    # us (the nodes' protocol and timeout) saw it fail too: the backend
    # process starved on a loaded machine, the harness's fault, not a
    # false failover. A node moving alone is still I2.
    "backend-unanswered": "us did not answer the campaign's own probe either",
}


def test_three_minute_campaign_holds_i1_to_i4_and_status(tmp_path):
    for why in (need_etcd(), netlab.why_not()):
        if why:
            pytest.skip(why)
    if os.environ.get("GTM_TSAN") or sanitized(GTMD):
        pytest.skip("a sanitizer build: the invariants' bounds are for a plain build")
    # The nodes' and members' logs are kept (pytest keeps the last runs'
    # tmp_path), so that a violation's cause can be read, not guessed.
    logs = str(tmp_path / "logs")
    r = fleet_campaign.run_campaign(SEED, DURATION, logs=logs)
    print("\n" + fleet_campaign.summary(r))
    assert not r["close_errors"], r["close_errors"]
    # The campaign did what it is for: faults of several kinds, answers
    # recorded from every node (50 a second each, at least a third of
    # them even on a loaded machine).
    assert len(r["faults"]) >= 25 and len(r["fault_counts"]) >= 8, r["fault_counts"]
    assert r["queries"] > 3 * 20 * DURATION, r["queries"]
    # The campaign's own probes of us ran (every 50 ms; a third of them
    # on a loaded machine), or backend-unanswered would mean nothing.
    assert r["probes"]["us"][0] > 20 * DURATION / 3, r["probes"]
    bad = [v for v in r["violations"] if v["inv"] not in KNOWN]
    assert not bad, "logs in %s\n%s" % (logs, json.dumps(bad, indent=1)[:20000])

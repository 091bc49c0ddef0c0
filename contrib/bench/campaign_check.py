"""The checker of the fault campaign (fleet_campaign.py, issue #54 item 4):
pure functions over a recorded timeline, no I/O, no clock. Also run on
crafted timelines by tests/integration/test_campaign_check.py.

A timeline is a dict (all times in seconds of one monotonic clock):

  params   {"bound_i1": fall x interval + 0.5 (+0.5 loaded),
            "bound_i3": 0.5 (+0.5 loaded), "status_max": 1.0 (+0.5 loaded),
            "revive_window": the fleet's stale_after (+0.5 loaded): a moved
            answer this soon after the primary came back is told apart
            (I2-revival: a late report of the kill still counts that long),
            "window": seconds of context printed around a violation,
            "load_extra": seconds added to every bound while a fault with
            "load" (CPU hogs, a dd oflag=dsync loop) runs: 0.5 when absent}
  nodes    ["n1", ...]; members ["e1", ...]
  faults   [{"kind", "start", "end" (None: never healed), "cuts": [[a, b]]
             (links down both ways, or one way: either breaks TCP),
             "dead_members": [...], "dead_backend": "us" | None,
             "i1_nodes": [...] (nodes I1 applies to even without a quorum:
             issue #54's target for a node cut off with the etcd leader),
             "load": true (a load of its own: bounds + load_extra while
             it runs), "clock_jump": {node: seconds} (recorded only)}]
  answers  {node: [[t_sent, ["us"] | ["eu"] | [...] | None], ...]} by time;
             None is a query without a reply (no answer, not counted)
  ops      [{"op": "create" | "delete", "id", "sent", "ack" (None: not
             acknowledged), "reply" (time of the reply)}]
  status   {node: [[t_sent, latency_s | None, ...], ...]} (None: no
            reply; what follows, the node's clock offset, is not checked)
  final_overrides {node: [ids listed at the end]} (optional)
  probes   {"us": [[t_sent, ok], ...], "eu": ...} (optional): the
            campaign's own probe of each backend every 50 ms from the host,
            the nodes' protocol and timeout (an HTTP GET, 0.2 s): the truth
            of "the backend answered", beside the nemesis's log of kills
  t_end    end of the run

The primary region is "us" (policy failover us, eu): an answer without it
is a moved answer. Which node reaches an etcd quorum at a time follows
from the faults: the live members connected among themselves form the
majority component (more than half of all members); a node reaches a
quorum while one of its links to a member of that component is up.

check(tl) returns {"violations": [...], "figures": {...}}; each violation
has "inv" (I1, I2, I2-isolated, I2-revival, backend-unanswered, I3-late,
I3-lost, I4, status), "node",
"t", "cls" (the kinds of the faults active around it, joined by "+"),
"detail" and "timeline" (the faults and answers around it).
"""
import bisect

PRIMARY = "us"


def _state_at(tl, t):
    """(cut pairs, dead members) of the faults active at t."""
    cuts, dead = set(), set()
    for f in tl["faults"]:
        if f["start"] <= t and (f.get("end") is None or t < f["end"]):
            for a, b in f.get("cuts", []):
                cuts.add(frozenset((a, b)))
            dead.update(f.get("dead_members", []))
    return cuts, dead


def _majority(members, cuts, dead):
    """The live members' component holding a majority of all members, or
    an empty set."""
    live = [m for m in members if m not in dead]
    seen = set()
    for m in live:
        if m in seen:
            continue
        comp, todo = {m}, [m]
        while todo:
            x = todo.pop()
            for y in live:
                if y not in comp and frozenset((x, y)) not in cuts:
                    comp.add(y)
                    todo.append(y)
        seen |= comp
        if 2 * len(comp) > len(members):
            return comp
    return set()


def check_reach(tl, node, t):
    """Whether node reaches an etcd quorum at t (from the faults)."""
    cuts, dead = _state_at(tl, t)
    maj = _majority(tl["members"], cuts, dead)
    return any(frozenset((node, m)) not in cuts for m in maj)


class Reach:
    """Each node's quorum reach as segments between fault boundaries."""

    def __init__(self, tl):
        b = {0.0, tl["t_end"]}
        for f in tl["faults"]:
            b.add(f["start"])
            if f.get("end") is not None:
                b.add(f["end"])
        self.bounds = sorted(x for x in b if x <= tl["t_end"])
        self.seg = {}
        for n in tl["nodes"]:
            vals = []
            for i, x in enumerate(self.bounds):
                nxt = self.bounds[i + 1] if i + 1 < len(self.bounds) else x + 1.0
                vals.append(check_reach(tl, n, (x + nxt) / 2))
            self.seg[n] = vals

    def _idx(self, t):
        return max(0, bisect.bisect_right(self.bounds, t) - 1)

    def at(self, n, t):
        return self.seg[n][self._idx(t)]

    def since(self, n, t):
        """Start of the run of reach that holds t, or None when n does
        not reach a quorum at t."""
        i = self._idx(t)
        if not self.seg[n][i]:
            return None
        while i > 0 and self.seg[n][i - 1]:
            i -= 1
        return self.bounds[i]

    def throughout(self, n, t0, t1):
        s = self.since(n, t1)
        return s is not None and s <= t0


def _extra(tl, t0, t1):
    """load_extra when a load fault runs at some time in [t0, t1], else 0:
    issue #54 allows every bound 0.5 s more on a loaded machine."""
    for f in tl["faults"]:
        if f.get("load") and f["start"] <= t1 and (f.get("end") is None or f["end"] >= t0):
            return tl["params"].get("load_extra", 0.5)
    return 0.0


def _active_kinds(tl, t0, t1):
    kinds = sorted({f["kind"] for f in tl["faults"]
                    if f["start"] <= t1 and (f.get("end") is None or f["end"] >= t0)})
    return "+".join(kinds) or "none"


def _runs(answers):
    """Answers compressed into runs: [[first_t, last_t, answer, count]]."""
    out = []
    for t, a in answers:
        key = "-" if a is None else ",".join(a)
        if out and out[-1][2] == key:
            out[-1][1] = t
            out[-1][3] += 1
        else:
            out.append([t, t, key, 1])
    return [[round(a, 3), round(b, 3), k, c] for a, b, k, c in out]


def _context(tl, node, t):
    w = tl["params"].get("window", 2.0)
    faults = [{"kind": f["kind"], "start": round(f["start"], 3),
               "end": None if f.get("end") is None else round(f["end"], 3),
               "desc": f.get("desc", "")}
              for f in tl["faults"]
              if f["start"] <= t + w and (f.get("end") is None or f["end"] >= t - 2 * w)]
    ans = [x for x in tl["answers"].get(node, []) if t - w <= x[0] <= t + w]
    out = {"faults": faults, "answers": _runs(ans)}
    if tl.get("probes"):  # the campaign's own probes of the primary: ok / failed
        out["probes"] = _runs([[x, ["ok" if ok else "failed"]]
                               for x, ok in tl["probes"].get(PRIMARY, []) if t - w <= x <= t + w])
    return out


def _violation(tl, inv, node, t, ref, detail):
    return {"inv": inv, "node": node, "t": round(t, 3), "cls": _active_kinds(tl, ref - 1.0, t),
            "detail": detail, "timeline": _context(tl, node, t)}


def _serves(a, region):
    return a is not None and region in a


def _kills(tl):
    return [f for f in tl["faults"] if f.get("dead_backend")]


def check_i1_i4(tl, reach, figures):
    """I1 (a node that reaches a quorum still serves a killed backend
    bound_i1 after the kill) and I4 (a node back on a dead backend)."""
    out = []
    flips = figures.setdefault("kill_to_flip_max", {})
    for f in _kills(tl):
        x, tk = f["dead_backend"], f["start"]
        tr = tl["t_end"] if f.get("end") is None else f["end"]
        bound = tl["params"]["bound_i1"]
        bound += _extra(tl, tk, tk + bound)
        for n in tl["nodes"]:
            ans = [(t, a) for t, a in tl["answers"].get(n, []) if tk <= t < tr and a is not None]
            applies = n in f.get("i1_nodes", []) or reach.throughout(n, tk, min(tr, tk + bound))
            # Left: the first answer without x after one with it. A node
            # away from x when it died (an override it had not yet seen
            # deleted) that comes to x before its probe fails and then
            # leaves has not "left and gone back" (30-minute run, seed 54:
            # n1 on eu by a stale override, back to us 0.37 s after the
            # kill as the delete arrived, off 0.04 s later); I1 still
            # bounds how long it serves x.
            on = next((i for i, (t, a) in enumerate(ans) if _serves(a, x)), None)
            left = None if on is None else \
                next((t for t, a in ans[on:] if not _serves(a, x)), None)
            if left is not None:
                back = next((t for t, a in ans if t > left and _serves(a, x)), None)
                if back is not None:
                    out.append(_violation(tl, "I4", n, back, tk, "left %s %.3f s after its kill, "
                                          "served it again %.3f s after" % (x, left - tk, back - tk)))
            late = [t for t, a in ans if _serves(a, x) and t >= tk + bound]
            if applies and left is not None:
                flips[n] = round(max(flips.get(n, 0.0), left - tk), 3)
            if applies and late:
                who = "cut off with the leader" if n in f.get("i1_nodes", []) else \
                    "reaches a quorum"
                out.append(_violation(tl, "I1", n, late[0], tk, "%s killed at %.3f, still served "
                                      "%.3f s after (bound %.2f s)%s; the node %s" % (
                                          x, tk, late[0] - tk, bound,
                                          "" if left is None else "; left after %.3f s" % (left - tk),
                                          who)))
    return out


def _creates(tl):
    return sorted((o for o in tl["ops"] if o["op"] == "create"), key=lambda o: o["sent"])


def _delete_of(tl, oid):
    return next((o for o in tl["ops"] if o["op"] == "delete" and o["id"] == oid and
                 o.get("ack") is not None), None)


def check_i3(tl, reach, figures):
    """I3: an acknowledged override served within bound_i3 by every node
    that reaches a quorum (from its ack, or from when the node reaches a
    quorum again), and never lost while it exists; its acknowledged
    delete served within the same bound."""
    out = []
    bound = tl["params"]["bound_i3"]
    served = figures.setdefault("override_ack_to_served_max", {})
    for c in _creates(tl):
        if c.get("ack") is None:
            continue
        d = _delete_of(tl, c["id"])
        end = tl["t_end"] if d is None else d["sent"]
        for n in tl["nodes"]:
            ans = [(t, a) for t, a in tl["answers"].get(n, []) if c["ack"] <= t < end and a]
            first = next((t for t, a in ans if not _serves(a, PRIMARY)), None)
            if first is not None and reach.at(n, c["ack"]):
                served[n] = round(max(served.get(n, 0.0), first - c["ack"]), 3)
            for t, a in ans:
                s = reach.since(n, t)
                if not _serves(a, PRIMARY) or s is None:
                    continue
                t0 = max(c["ack"], s)
                if t0 + bound + _extra(tl, t0, t0 + bound) > t:
                    continue
                lost = first is not None and first < t
                out.append(_violation(tl, "I3-lost" if lost else "I3-late", n, t, c["ack"],
                                      "override %s acknowledged at %.3f; %s at +%.3f s (bound "
                                      "%.2f s from the ack or the node's return to a quorum)" % (
                                          c["id"], c["ack"],
                                          "served, then no longer" if lost else "not served yet",
                                          t - c["ack"], bound)))
                break
        if d is not None:
            out += _check_delete(tl, reach, c, d, figures)
    for n, ids in tl.get("final_overrides", {}).items():
        for c in _creates(tl):
            d = _delete_of(tl, c["id"])
            if c.get("ack") is not None and d is None and c["id"] not in ids:
                out.append(_violation(tl, "I3-lost", n, tl["t_end"], tl["t_end"],
                                      "override %s acknowledged, never deleted, not listed at "
                                      "the end" % c["id"]))
            if d is not None and c["id"] in ids:
                out.append(_violation(tl, "I3-lost", n, tl["t_end"], tl["t_end"],
                                      "override %s deleted (acknowledged) but listed at the end"
                                      % c["id"]))
    return out


def _check_delete(tl, reach, c, d, figures):
    """The delete of override c, acknowledged at d["ack"]: every node that
    reaches a quorum serves the primary again within the bound, until the
    next override or a kill of the primary."""
    bound = tl["params"]["bound_i3"]
    nxt = [o["sent"] for o in _creates(tl) if o["sent"] > d["ack"]]
    nxt += [f["start"] for f in _kills(tl) if f["start"] > d["ack"]]
    end = min(nxt + [tl["t_end"]])
    if any(f["start"] <= d["ack"] and (f.get("end") is None or f["end"] > d["ack"])
           for f in _kills(tl)):
        return []  # the primary is dead: the answer stays moved
    out = []
    for n in tl["nodes"]:
        for t, a in tl["answers"].get(n, []):
            if not d["ack"] <= t < end or not a:
                continue
            if _serves(a, PRIMARY):
                break  # the delete is served; a later move is I2's
            s = reach.since(n, t)
            if s is None:
                continue
            t0 = max(d["ack"], s)
            if t0 + bound + _extra(tl, t0, t0 + bound) > t:
                continue
            out.append(_violation(tl, "I3-late", n, t, d["ack"],
                                  "delete of override %s acknowledged at %.3f; still served at "
                                  "+%.3f s (bound %.2f s)" % (c["id"], d["ack"], t - d["ack"],
                                                              bound)))
            break
    return out


def _explained(tl, n, t):
    """Whether a moved answer of n at t is explained: the primary killed
    (until n serves it again after the revival), or an override sent
    (until n serves the primary after its delete was acknowledged, or 1 s
    after the reply of a create never acknowledged)."""
    cache = tl.setdefault("_primary_times", {})
    if n not in cache:  # the times n served the primary, for bisect
        cache[n] = [x for x, a in tl["answers"].get(n, []) if _serves(a, PRIMARY)]
    times = cache[n]

    def primary_since(t0):
        i = bisect.bisect_left(times, t0)
        return i < len(times) and times[i] < t
    for f in _kills(tl):
        if f["dead_backend"] == PRIMARY and f["start"] <= t:
            if f.get("end") is None or f["end"] > t or not primary_since(f["end"]):
                return True
    for c in _creates(tl):
        if c["sent"] > t:
            continue
        if c.get("ack") is None:
            if t <= (c.get("reply") or tl["t_end"]) + 1.0:
                return True
            continue
        d = _delete_of(tl, c["id"])
        if d is None or d["ack"] > t or not primary_since(d["ack"]):
            return True
    return False


def _revived_before(tl, t):
    """When the primary came back, if that was within revive_window
    before t; else None."""
    w = tl["params"].get("revive_window", 1.5)
    return next((f["end"] for f in _kills(tl) if f["dead_backend"] == PRIMARY and
                 f.get("end") is not None and f["end"] <= t <= f["end"] + w), None)


def _unanswered(tl, t):
    """The failed probes of the primary by the campaign itself in the
    unanswered_window (2 s: fall x interval of the nodes' probes, plus the
    decision and the peers' reports) before t, and the probes in it; (0,
    0) when the timeline has no probes."""
    probes = tl.get("probes", {}).get(PRIMARY, [])
    w = tl["params"].get("unanswered_window", 2.0)
    i = bisect.bisect_left(probes, [t - w])
    seen = [ok for pt, ok in probes[i:] if pt <= t]
    return sum(1 for ok in seen if not ok), len(seen)


def _movers(tl, t):
    """The nodes that answered without the primary within 1 s of t."""
    return [n for n in tl["nodes"]
            if any(a is not None and not _serves(a, PRIMARY)
                   for x, a in tl["answers"].get(n, []) if t - 1.0 <= x <= t + 1.0)]


def _i2_class(tl, reach, n, t):
    """The class of a moved answer of n from t that neither a kill nor an
    override explains, and a note for its detail. backend-unanswered: a
    move on more than half of the nodes while the campaign's own probe
    also saw the primary fail (a backend process starved on the shared
    machine: the harness's fault, counted and printed, never hidden); a
    node moving alone stays I2 whatever the probe saw."""
    failed, probed = _unanswered(tl, t)
    movers = _movers(tl, t)
    note = "; the campaign's probe of %s: %d of %d failed in the %.1f s before; moved: %s" % (
        PRIMARY, failed, probed, tl["params"].get("unanswered_window", 2.0), ",".join(movers))
    if not reach.at(n, t):
        return "I2-isolated", note
    if failed and 2 * len(movers) > len(tl["nodes"]):
        return "backend-unanswered", note
    return "I2", note


def check_i2(tl, reach):
    """I2: a moved answer that neither a kill of the primary nor an
    override explains (a false failover, or a flap); one violation per run
    of such answers. On a node that reaches no quorum it is I2-isolated
    (such a node serves its own probes once degraded: doc/fleet.md);
    within revive_window after the primary came back, after the node had
    served it again, it is I2-revival (a flap while the probers rise); on
    more than half of the nodes while the campaign's own probe saw the
    primary fail, it is backend-unanswered (_i2_class)."""
    out = []
    for n in tl["nodes"]:
        run = None
        for t, a in tl["answers"].get(n, []):
            bad = a is not None and not _serves(a, PRIMARY) and not _explained(tl, n, t)
            if bad and run is None:
                run = [t, t, 1]
            elif bad:
                run[1], run[2] = t, run[2] + 1
            if run and (not bad or t == tl["answers"][n][-1][0]) and a is not None:
                inv, note = _i2_class(tl, reach, n, run[0])
                back = _revived_before(tl, run[0])
                if back is not None and inv != "backend-unanswered":
                    inv = "I2-revival"  # its class names the kill's fault too
                out.append(_violation(tl, inv, n, run[0], run[0] if back is None else back,
                                      "%d answers without %s from %.3f to %.3f, primary alive, "
                                      "no override%s" % (run[2], PRIMARY, run[0], run[1],
                                                         note if tl.get("probes") else "")))
                run = None
    return out


def check_status(tl, figures):
    """/v1/status unanswered within status_max: one violation per run."""
    out = []
    lim = tl["params"]["status_max"]
    worst = figures.setdefault("status_latency_max", {})
    for n, polls in tl.get("status", {}).items():
        run = None
        for t, lat, *_ in polls:
            if lat is not None:
                worst[n] = round(max(worst.get(n, 0.0), lat), 3)
            bad = lat is None or lat > lim + _extra(tl, t, t + (lat or lim))
            if bad and run is None:
                run = [t, lat]
            if run and (not bad or t == polls[-1][0]):
                out.append(_violation(tl, "status", n, run[0], run[0],
                                      "/v1/status %s at %.3f (limit %.2f s)" % (
                                          "unanswered" if run[1] is None else
                                          "answered in %.3f s" % run[1], run[0], lim)))
                run = None
    return out


def check(tl):
    """Every violation of the timeline, and the figures measured."""
    reach = Reach(tl)
    figures = {}
    v = check_i1_i4(tl, reach, figures) + check_i3(tl, reach, figures) + check_i2(tl, reach)
    v += check_status(tl, figures)
    v.sort(key=lambda x: x["t"])
    counts = {}
    for x in v:
        key = "%s[%s]" % (x["inv"], x["cls"])
        counts[key] = counts.get(key, 0) + 1
    figures["violations_by_class"] = dict(sorted(counts.items()))
    by_inv = {}
    for x in v:
        by_inv[x["inv"]] = by_inv.get(x["inv"], 0) + 1
    figures["violations_by_invariant"] = dict(sorted(by_inv.items()))
    tl.pop("_primary_times", None)
    return {"violations": v, "figures": figures}


def main(argv):
    """campaign_check.py REPORT.json: checks a campaign report's recorded
    timeline again (after a change of the checker) and prints the
    figures and violations."""
    import json
    with open(argv[1]) as f:
        r = check(json.load(f)["timeline"])
    print(json.dumps(r["figures"], indent=1))
    for v in r["violations"]:
        print("%s %s t=%.3f [%s] %s" % (v["inv"], v["node"], v["t"], v["cls"], v["detail"]))


if __name__ == "__main__":
    import sys
    main(sys.argv)

"""The nemesis of the fault campaign (fleet_campaign.py, issue #54 item 4):
seeded by random.Random(seed), it starts a fault every 2-5 s, holds it
1-4 s and heals it, on a fleetlab.Fleet (3 or 5 etcd members, 3-5 nodes,
backends us and eu). Faults overlap when one is held longer than the next gap; two
faults that touch the same link, the etcd membership, the answers
(backend kills and overrides) or the same load never run together.

Every fault is recorded as a dict in self.faults (campaign_check.py's
format) with its start and end in the campaign's clock (seconds since its
start, monotonic), and every override operation in self.ops with its send
and acknowledgement times. The load processes (dd loops, CPU hogs) run in
their own process groups, end by themselves after their time, and are
killed by stop()/heal_all(); the caller runs heal_all() in a finally.
"""
import os
import signal
import subprocess
import sys
import threading
import time

# The clock jumps a node's CLOCK_REALTIME takes (seconds): small ones,
# under the fleet's 2 s skew limit (FLEET_SKEW_MAX_S), that the stamped
# rule must absorb through the measured offsets, and large ones that mark
# the node skewed. CLOCK_MONOTONIC is never moved (a real jump does not
# move it either).
JUMPS = (-30.0, -1.0, 1.0, 30.0)

HOG = "import time\nend = time.monotonic() + %f\nwhile time.monotonic() < end:\n    pass\n"
# A dd loop that writes 256 KiB with O_DSYNC (every block flushed) into
# etcd's data directory's disk, until its deadline.
DD = ("end=$(( $(date +%%s) + %d )); while [ $(date +%%s) -lt $end ]; do "
      "dd if=/dev/zero of=%s bs=4k count=64 oflag=dsync status=none; done; rm -f %s")


class Load:
    """Processes of load (two CPU hogs, a dd oflag=dsync loop), each in its
    own process group and ending by itself after `seconds`."""

    def __init__(self, disk_dir, seconds, hogs=2, dd=True, tag="load"):
        self.procs = []
        self.path = os.path.join(disk_dir, "campaign-%s-%d.bin" % (tag, os.getpid()))
        for _ in range(hogs):
            self.procs.append(subprocess.Popen([sys.executable, "-c", HOG % seconds],
                                               start_new_session=True))
        if dd:
            self.procs.append(subprocess.Popen(
                ["sh", "-c", DD % (int(seconds) + 1, self.path, self.path)],
                start_new_session=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))

    def stop(self):
        for p in self.procs:
            if p.poll() is None:
                try:
                    os.killpg(p.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
            p.wait(timeout=10)
        self.procs = []
        if os.path.exists(self.path):
            os.unlink(self.path)


class Nemesis:
    def __init__(self, fleet, rng, clock, overrides, clocks=None):
        """fleet: a started fleetlab.Fleet; rng: random.Random(seed);
        clock(): the campaign's time; overrides: an object with create(node,
        reason) -> op and delete(op) (fleet_campaign.Overrides); clocks: an
        object with jump(node, seconds) that moves a node's wall clock
        (fleet_campaign.NodeClocks), or None: no clock jumps."""
        self.fleet = fleet
        self.nodes = tuple(n.name for n in fleet.nodes)
        self.members = tuple(fleet.member_names)
        self.clocks = clocks
        self.rng = rng
        self.clock = clock
        self.overrides = overrides
        self.faults = []
        self.active = []  # [heal_at, record, heal_fn, resources]
        self.busy = set()
        self.count = 0
        self.lock = threading.Lock()  # guards heal_all against the loop

    # -- the faults: each draws what it needs and returns (record fields,
    # apply, heal, resources); nothing is done until start_one applies it.

    def _pair(self, a, b):
        return {"link:" + "-".join(sorted((a, b)))}

    def _cuts(self, pairs, one_way=False):
        lab = self.fleet.lab

        def apply():
            for a, b in pairs:
                (lab.cut_one_way if one_way else lab.cut)(a, b)

        def heal():
            for a, b in pairs:
                lab.heal(a, b)
        return apply, heal, set().union(*[self._pair(a, b) for a, b in pairs])

    def f_node_member_cut(self):
        n, e = self.rng.choice(self.nodes), self.rng.choice(self.members)
        return ({"cuts": [[n, e]], "desc": "%s <-> %s" % (n, e)},) + self._cuts([(n, e)])

    def f_node_etcd_cut(self):
        n = self.rng.choice(self.nodes)
        pairs = [(n, e) for e in self.members]
        return ({"cuts": [list(p) for p in pairs], "desc": "%s from all etcd" % n},) + \
            self._cuts(pairs)

    def f_one_way(self):
        n, e = self.rng.choice(self.nodes), self.rng.choice(self.members)
        a, b = (n, e) if self.rng.random() < 0.5 else (e, n)
        return ({"cuts": [[a, b]], "desc": "%s -> %s dropped" % (a, b)},) + \
            self._cuts([(a, b)], one_way=True)

    def f_node_node_cut(self):
        a, b = self.rng.sample(self.nodes, 2)
        return ({"cuts": [[a, b]], "desc": "%s <-> %s" % (a, b)},) + self._cuts([(a, b)])

    def f_member_kill(self):
        m = self.rng.choice(self.members)
        return {"dead_members": [m], "desc": "SIGKILL %s, restarted at the heal" % m}, \
            lambda: self.fleet.kill_member(m), lambda: self.fleet.start_member(m), {"etcd"}

    def f_leader_isolation(self):
        lead = self.fleet.leader()
        if lead is None:
            return None
        pairs = [(lead, m) for m in self.members if m != lead]
        apply, heal, res = self._cuts(pairs)
        return {"cuts": [list(p) for p in pairs], "desc": "leader %s isolated" % lead}, \
            apply, heal, res | {"etcd"}

    def f_leader_cut_kill(self):
        """Issue #54's first field case: a node and the etcd leader cut off
        from the rest at the instant the primary backend dies. I1 applies
        to that node too (the issue's target), not only to nodes that
        reach a quorum."""
        lead = self.fleet.leader()
        if lead is None:
            return None
        n = self.rng.choice(self.nodes)
        rest = [m for m in self.members if m != lead] + [x for x in self.nodes if x != n]
        pairs = [(a, b) for a in (n, lead) for b in rest]
        cut, uncut, res = self._cuts(pairs)
        us = self.fleet.be["us"]

        def apply():
            cut()
            us.stop()

        def heal():
            # The backend comes back last: the fault's end, recorded when
            # heal returns, is then the revival (the cuts end a little
            # before it, which only shortens what I1 and I3 demand).
            uncut()
            us.start()
        return {"cuts": [list(p) for p in pairs], "dead_backend": "us", "i1_nodes": [n],
                "desc": "%s and leader %s cut off, us killed" % (n, lead)}, apply, heal, \
            res | {"etcd", "answer"}

    def f_clock_jump(self):
        """A node's wall clock jumps forward or back, and back to the true
        time at the heal (a second jump). A jump takes effect within
        libfaketime's cache time (1 s) of the fault's start."""
        if self.clocks is None:
            return None
        n, s = self.rng.choice(self.nodes), self.rng.choice(JUMPS)
        return {"clock_jump": {n: s}, "desc": "%s's clock jumps %+.0f s" % (n, s)}, \
            lambda: self.clocks.jump(n, s), lambda: self.clocks.jump(n, 0.0), {"clock:" + n}

    def _load(self, hogs, dd, tag):
        held = {}

        def apply():
            held["ld"] = Load(self.fleet.etcd_dir, 6, hogs=hogs, dd=dd, tag=tag)
        return apply, lambda: held["ld"].stop()

    def f_dd_dsync(self):
        # "load": the checker's bounds are 0.5 s longer while it runs
        # (issue #54: "the same on a loaded machine, every bound +0.5 s").
        return ({"desc": "dd oflag=dsync loop on etcd's disk", "load": True},) + \
            self._load(0, True, "dd") + ({"dd"},)

    def f_cpu_hogs(self):
        return ({"desc": "two CPU hogs", "load": True},) + self._load(2, False, "hogs") + \
            ({"hogs"},)

    def f_backend_kill(self):
        b = self.rng.choice(("us", "eu"))
        be = self.fleet.be[b]
        return {"dead_backend": b, "desc": "backend %s killed" % b}, be.stop, be.start, \
            {"answer"}

    def f_local_cut(self):
        n, b = self.rng.choice(self.nodes), self.rng.choice(("us", "eu"))
        addr = self.fleet.be[b].addr
        return {"desc": "%s cut from backend %s only" % (n, b)}, \
            lambda: self.fleet.lab.cut_addr(n, addr), self.fleet.lab.heal_addrs, {"addrcut"}

    def f_override(self):
        node, dnode = self.rng.choice(self.nodes), self.rng.choice(self.nodes)
        rec = {"desc": "override region:us down through %s, deleted through %s" % (node, dnode)}
        held = {}

        def apply():
            held["op"] = self.overrides.create(node, "campaign %d" % self.count)
            rec["start"] = held["op"]["sent"]
            rec["acknowledged"] = held["op"].get("ack") is not None
        return rec, apply, lambda: self.overrides.delete(held["op"], dnode), {"answer"}

    KINDS = ("node_member_cut", "node_etcd_cut", "one_way", "node_node_cut", "member_kill",
             "leader_isolation", "leader_cut_kill", "dd_dsync", "cpu_hogs", "backend_kill",
             "local_cut", "override", "clock_jump")

    def start_one(self):
        """Draws a fault (its kind, its hold, what it touches) and starts it
        unless what it needs is taken by an active fault (then nothing)."""
        kind = self.rng.choice(self.KINDS)
        hold = self.rng.uniform(1.0, 4.0)
        self.count += 1
        got = getattr(self, "f_" + kind)()
        if got is None or got[3] & self.busy:
            return None
        rec, apply, heal, res = got
        t = self.clock()
        apply()
        # A kill counts from when the backend is gone (stop() has returned);
        # a cut from when its first filter went in (start of apply).
        rec.setdefault("start", self.clock() if rec.get("dead_backend") else t)
        rec.update(kind=kind, end=None, hold=round(hold, 3))
        rec.setdefault("cuts", [])
        self.faults.append(rec)
        self.busy |= res
        self.active.append([self.clock() + hold, rec, heal, res])
        return rec

    def heal_due(self, force=False):
        now = self.clock()
        for item in list(self.active):
            if force or item[0] <= now:
                item[2]()
                item[1]["end"] = self.clock()
                self.busy -= item[3]
                self.active.remove(item)

    def run(self, until, stop):
        """Faults until the campaign time `until` or stop (an Event) is set;
        heals everything before it returns."""
        nxt = self.clock() + self.rng.uniform(2.0, 5.0)
        try:
            while self.clock() < until and not stop.is_set():
                with self.lock:
                    self.heal_due()
                    if self.clock() >= nxt:
                        self.start_one()
                        nxt = self.clock() + self.rng.uniform(2.0, 5.0)
                time.sleep(0.01)
        finally:
            self.heal_all()

    def heal_all(self):
        with self.lock:
            self.heal_due(force=True)

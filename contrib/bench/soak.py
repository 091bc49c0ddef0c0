#!/usr/bin/python3
"""soak.py -- gtmd under everything at once, for a long time.

For --duration seconds, against one gtmd on loopback:

  * mixed UDP and TCP query load at about half of capacity (the rate one
    closed-loop client reaches in 3 s at start, halved; or --qps), every
    reply checked against what was allowed at that moment (below);
  * a reload every --reload-every seconds (10) that adds and removes static
    records, policy records and endpoints, through SIGHUP or the admin API
    in turn;
  * real HTTP backends on 127.0.0.x that flap (each stops listening for
    1-3 s every few seconds), probed every 0.25 s;
  * override churn through the admin API with the operate token (add down
    or up on regions and endpoints, delete), admin polling (status and
    metrics with the read token, once a second);
  * SIGKILL of gtmd at random moments (about every --kill-every seconds),
    the state file checked right after each kill, and a restart.

It asserts, and reports with the figures:

  1. every query sent while gtmd was up (not killed or restarting within
     the query's timeout) was answered;
  2. every answer was correct for the state at that moment. "Correct":
     the reply is NOERROR with AA (NXDOMAIN for a name no configuration
     that may have been live had), and
       - a static record: its address in one of the configurations that
         may have been live while the query was out (the one before a
         reload until the reload is acknowledged, the new one from when it
         was asked for);
       - a policy record: only addresses of the record's endpoints in those
         configurations (or its fallback), never an endpoint or region
         that an acknowledged override held down for the whole time the
         query was out (an endpoint's own override beats its region's);
         for failover, all answers from one region, and never a region
         after (or the fallback instead of) a region that an acknowledged
         "up" override held serving (up, with an endpoint whose own
         override is absent or up); the fallback never while such a
         region exists. Probe states are not known to the client and
         restrict nothing else;
  3. no acknowledged override was ever lost or resurrected: after every
     SIGKILL the state file holds every override whose POST was answered
     201 and whose DELETE was not sent, and none whose DELETE was answered
     200; after the restart GET /v1/overrides agrees;
  4. RSS and the number of open descriptors of each gtmd stay within
     --tolerance (5 %) of their value at the end of its warm-up, as the
     median of every 10 s window. The warm-up lasts --warmup seconds from
     the start and until gtmd's bounded histories are full: the event ring
     of GET /v1/events (10,000 events) and the audit ring (1,000 lines)
     grow until then, so after each start the soak fills them with
     override churn on an endpoint no record uses (8 clients, a few
     seconds).

Exit status 0 when everything held, 1 otherwise; the report (text on
stdout, JSON with --report) has the counts and figures. Everything is
bounded in time; every process it starts is stopped by pid.

    soak.py --gtmd build/gtmd --duration 60
    soak.py --gtmd build/gtmd --duration 1800 --report soak.json
"""

import argparse
import http.client
import json
import os
import random
import re
import select
import selectors
import shutil
import signal
import socket
import statistics
import struct
import subprocess
import sys
import tempfile
import threading
import time

READ_TOKEN = "soak-read-token-0123456789abcdef"
OPERATE_TOKEN = "soak-operate-token-0123456789abcdef"
ORIGIN = "soak.test."
FALLBACK = "127.0.9.9"
WWW = "127.0.9.80"
REGIONS = ["r1", "r2", "r3"]
# Backend addresses: the base endpoints and the pool the rotating ones use.
BASE = {"b1a": ("127.0.0.11", "r1"), "b1b": ("127.0.0.12", "r1"),
        "b2a": ("127.0.0.21", "r2"), "b2b": ("127.0.0.22", "r2"),
        "b3a": ("127.0.0.31", "r3")}
EXTRA = [("127.0.0.13", "r1"), ("127.0.0.23", "r2"), ("127.0.0.32", "r3"),
         ("127.0.0.14", "r1"), ("127.0.0.24", "r2"), ("127.0.0.33", "r3")]
REGION_OF = {a: r for a, r in list(BASE.values()) + EXTRA}
N_STATIC = 6
N_PR = 3
RING_EVENTS = 10000  # gtmd keeps the last 10,000 events (GET /v1/events)
QUERY_TIMEOUT = 2.0
# A load thread that fell behind its schedule (this client did not run: the
# GIL, the machine's other work) catches up at most this much, then skips
# the rest: a catch-up burst of a second's queries at once would overflow
# any socket buffer and measure this client, not gtmd. Skipped queries are
# counted (the offered rate reported is what was sent).
MAX_LAG = 0.01
UDP_SOCKETS = 4


def now():
    return time.monotonic()


def log(msg):
    print("[soak %s] %s" % (time.strftime("%H:%M:%S"), msg), file=sys.stderr, flush=True)


# ---- configurations --------------------------------------------------------

class Version:
    """One generation of the configuration the soak writes."""

    def __init__(self, v):
        self.v = v
        self.statics = {"s%d" % k: "127.0.8.%d" % (k * 40 + v % 40 + 1)
                        for k in range(N_STATIC) if (v + k) % 3 != 0}
        self.eps = dict(BASE)  # name -> (address, region)
        for i in range(2):
            addr, region = EXTRA[(v + i * 3) % len(EXTRA)]
            self.eps["x%d-%d" % (v, i)] = (addr, region)
        self.prs = {"pr%d" % k for k in range(N_PR) if (v + k) % 2 == 0}
        self.t_from = None  # reload asked for (or start)
        self.t_to = None    # the next version acknowledged (or a kill)

    def zone(self):
        lines = ["$ORIGIN %s" % ORIGIN, "$TTL 60",
                 "@ IN SOA ns1 hostmaster %d 3600 600 86400 60" % (self.v + 1),
                 "  IN NS ns1", "ns1 IN A 127.0.9.1", "www IN A %s" % WWW]
        lines += ["%s IN A %s" % (n, a) for n, a in sorted(self.statics.items())]
        return "\n".join(lines) + "\n"

    def config(self, port, admin_port, http_port, workdir):
        recs = {
            "fo." + ORIGIN: {"pool": "web", "policy": "failover", "regions": ["r1", "r2", "r3"],
                             "when_all_down": "fallback", "fallback": [FALLBACK]},
            "fo2." + ORIGIN: {"pool": "web", "policy": "failover", "regions": ["r3", "r2", "r1"],
                              "when_all_down": "fallback", "fallback": [FALLBACK]},
            "wt." + ORIGIN: {"pool": "web", "policy": "weighted", "answers": 2,
                             "when_all_down": "fallback", "fallback": [FALLBACK]},
            "al." + ORIGIN: {"pool": "web", "policy": "all", "answers": 16,
                             "when_all_down": "fallback", "fallback": [FALLBACK]},
        }
        for pr in self.prs:
            recs[pr + "." + ORIGIN] = {"pool": "web", "policy": "all", "answers": 16,
                                       "when_all_down": "fallback", "fallback": [FALLBACK]}
        return {
            "listen": ["127.0.0.1:%d" % port],
            "workers": 2,
            "zones": [{"origin": ORIGIN, "file": "soak.zone"}],
            "state_file": "state/state.json",
            "regions": {r: {} for r in REGIONS},
            "checks": {"web": {"type": "http", "port": http_port, "path": "/",
                               "interval": 0.25, "timeout": 0.2, "rise": 1, "fall": 1}},
            "pools": {"web": {"check": "web", "endpoints": [
                {"name": n, "address": a, "region": r} for n, (a, r) in sorted(self.eps.items())]},
                # No record uses it: the warm-up's override churn changes nothing served.
                "prime": {"endpoints": [{"name": "p1", "address": "127.0.9.2",
                                         "region": "r1"}]}},
            "records": recs,
            "admin": {"listen": ["127.0.0.1:%d" % admin_port],
                      "read_token_file": "read.token", "operate_token_file": "operate.token",
                      "audit_log": "audit.log"},
        }


def write_atomic(path, text):
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        f.write(text)
    os.rename(tmp, path)


# ---- HTTP backends that flap ----------------------------------------------

class Backends(threading.Thread):
    """One thread serving every backend address with a selector; each backend
    now and then stops listening for a while (connections refused)."""

    def __init__(self, addrs, port, rng, stop, flap=True):
        super().__init__(daemon=True)
        self.addrs, self.port, self.rng, self.stop = addrs, port, rng, stop
        self.flap = flap
        self.sel = selectors.DefaultSelector()
        self.listeners = {}
        self.flaps = 0
        self.next_flip = {a: now() + rng.uniform(2, 8) for a in addrs}

    def listen(self, a):
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind((a, self.port))
        s.listen(64)
        s.setblocking(False)
        self.listeners[a] = s
        self.sel.register(s, selectors.EVENT_READ, ("listen", a))

    def unlisten(self, a):
        s = self.listeners.pop(a)
        self.sel.unregister(s)
        s.close()

    def run(self):
        for a in self.addrs:
            self.listen(a)
        while not self.stop.is_set():
            t = now()
            for a, when in list(self.next_flip.items()):
                if t < when or not self.flap:
                    continue
                if a in self.listeners:
                    self.unlisten(a)
                    self.flaps += 1
                    self.next_flip[a] = t + self.rng.uniform(1, 3)
                else:
                    try:
                        self.listen(a)
                    except OSError:
                        pass  # TIME_WAIT and the like: try again soon
                    self.next_flip[a] = t + self.rng.uniform(2, 8)
            for key, _ in self.sel.select(timeout=0.05):
                kind, data = key.data
                if kind == "listen":
                    try:
                        c, _ = key.fileobj.accept()
                    except OSError:
                        continue
                    c.setblocking(False)
                    self.sel.register(c, selectors.EVENT_READ, ("conn", b""))
                else:
                    c = key.fileobj
                    try:
                        chunk = c.recv(4096)
                    except OSError:
                        chunk = b""
                    buf = data + chunk
                    if chunk and b"\r\n\r\n" not in buf and len(buf) < 8192:
                        self.sel.modify(c, selectors.EVENT_READ, ("conn", buf))
                        continue
                    self.sel.unregister(c)
                    if chunk:
                        try:
                            c.sendall(b"HTTP/1.0 200 OK\r\nContent-Length: 2\r\n\r\nok")
                        except OSError:
                            pass
                    c.close()
        for a in list(self.listeners):
            self.unlisten(a)


# ---- DNS on the wire -------------------------------------------------------

def qname_wire(name):
    out = b""
    for label in name.rstrip(".").split("."):
        out += bytes([len(label)]) + label.encode()
    return out + b"\0"


def question(name):
    return qname_wire(name) + struct.pack("!HH", 1, 1)  # A, IN


def skip_name(data, off):
    while True:
        n = data[off]
        if n == 0:
            return off + 1
        if n & 0xC0 == 0xC0:
            return off + 2
        off += n + 1


def parse_reply(data):
    """(id, rcode, aa, tc, [A addresses]) or None when malformed."""
    if len(data) < 12:
        return None
    qid, flags, qd, an = struct.unpack("!HHHH", data[:8])
    off = 12
    try:
        for _ in range(qd):
            off = skip_name(data, off) + 4
        addrs = []
        for _ in range(an):
            off = skip_name(data, off)
            typ, cls, ttl, rdlen = struct.unpack("!HHIH", data[off:off + 10])
            off += 10
            if typ == 1 and rdlen == 4:
                addrs.append(socket.inet_ntoa(data[off:off + 4]))
            off += rdlen
    except (IndexError, struct.error):
        return None
    return qid, flags & 0xF, bool(flags & 0x0400), bool(flags & 0x0200), addrs


# ---- the model: what may be answered when ----------------------------------

class Override:
    def __init__(self, target, state, t_sent):
        self.target, self.state = target, state
        self.t_add_sent, self.t_add_ack = t_sent, None
        self.t_del_sent = None
        self.t_gone = None  # certainly gone from then on
        self.id = None


class Model:
    """Configurations and overrides with the times they may have been or
    certainly were in force; the up/down history of gtmd."""

    def __init__(self):
        self.lock = threading.Lock()
        self.versions = []  # Version, in order
        self.ovr = {}  # target -> [Override], recent ones
        self.active = {}  # id -> Override acknowledged and not deleted
        self.down = []  # [t_from, t_to or None]: gtmd killed or not yet ready
        self.violations = []
        self.lost = []

    # configurations
    def candidates(self, ts, tr):
        return [v for v in self.versions
                if v.t_from is not None and v.t_from <= tr and (v.t_to is None or v.t_to >= ts)]

    # overrides
    def recs(self, target):
        return self.ovr.get(target, ())

    def certain(self, target, ts, tr):
        """The override certainly in force on target over [ts, tr], or None."""
        for o in self.recs(target):
            if (o.t_add_ack is not None and o.t_add_ack <= ts and
                    (o.t_del_sent is None or o.t_del_sent >= tr) and
                    (o.t_gone is None or o.t_gone >= tr)):
                return o
        return None

    def absent(self, target, ts, tr):
        """No override possibly in force on target during [ts, tr]."""
        for o in self.recs(target):
            if o.t_add_sent <= tr and (o.t_gone is None or o.t_gone >= ts):
                return False
        return True

    def was_up(self, ts, te):
        for a, b in self.down:
            if a <= te and (b is None or b >= ts):
                return False
        return True

    def prune(self, before):
        for t, lst in list(self.ovr.items()):
            keep = [o for o in lst if o.t_gone is None or o.t_gone >= before]
            if keep:
                self.ovr[t] = keep
            else:
                del self.ovr[t]


def policy_violation(m, rec, order, addrs, ts, tr, cands):
    """Why this answer to a policy record cannot be right, or None."""
    if not addrs:
        return "empty answer (the fallback should answer)"
    allowed = {FALLBACK}
    names_of = {}
    for v in cands:
        for n, (a, r) in v.eps.items():
            allowed.add(a)
            names_of.setdefault(a, set()).add(n)
    bad = [a for a in addrs if a not in allowed]
    if bad:
        return "addresses %s of no endpoint" % bad
    if len(set(addrs)) != len(addrs):
        return "duplicate addresses"
    if FALLBACK in addrs and len(addrs) > 1:
        return "fallback mixed with endpoints"
    for a in addrs:
        if a == FALLBACK:
            continue
        region = REGION_OF[a]
        reg = m.certain("region:" + region, ts, tr)
        if reg and reg.state == "down":
            return "%s of region %s, held down by %s" % (a, region, reg.id)
        downs = []
        for n in names_of[a]:
            own = m.certain("endpoint:web/" + n, ts, tr)
            if own and own.state == "down":
                downs.append(own.id)
            elif own is None and m.absent("endpoint:web/" + n, ts, tr) and reg \
                    and reg.state == "down":
                downs.append(reg.id)
            else:
                break
        else:
            return "%s held down by %s" % (a, downs)
    # Regions an "up" override certainly keeps serving.
    serving = set()
    for region in REGIONS:
        reg = m.certain("region:" + region, ts, tr)
        if not reg or reg.state != "up":
            continue
        for n, (a, r) in cands[0].eps.items():
            if r != region or not all(v.eps.get(n) == (a, r) for v in cands):
                continue
            own = m.certain("endpoint:web/" + n, ts, tr)
            if (own and own.state == "up") or (own is None and
                                                m.absent("endpoint:web/" + n, ts, tr)):
                serving.add(region)
                break
    if addrs == [FALLBACK] and serving:
        return "fallback although %s is held serving" % sorted(serving)
    if order:
        regions = {REGION_OF[a] for a in addrs if a != FALLBACK}
        if len(regions) > 1:
            return "failover answer from regions %s" % sorted(regions)
        if regions:
            r = regions.pop()
            earlier = order[:order.index(r)]
            held = [x for x in earlier if x in serving]
            if held:
                return "answered from %s after %s, held serving" % (r, held)
    return None


def check_answer(m, name, rcode, aa, addrs, ts, tr):
    """Why a reply is wrong, or None."""
    label = name.split(".")[0]
    with m.lock:
        cands = m.candidates(ts, tr)
        if not cands:
            return "no configuration was live"
        if not aa:
            return "AA not set"
        if label.startswith("nx"):
            return None if rcode == 3 and not addrs else "rcode %d %s for a name never served" % (
                rcode, addrs)
        if label == "www":
            return None if rcode == 0 and addrs == [WWW] else "www: rcode %d %s" % (rcode, addrs)
        if label.startswith("s"):
            ok = set()
            for v in cands:
                ok.add((0, v.statics[label]) if label in v.statics else (3, None))
            got = (rcode, addrs[0] if len(addrs) == 1 else (None if not addrs else tuple(addrs)))
            return None if got in ok else "%s: got %s, allowed %s" % (label, got, sorted(
                ok, key=str))
        present = [label in v.prs for v in cands] if label.startswith("pr") else [True]
        if rcode == 3 and not addrs:
            return None if not all(present) else "NXDOMAIN for a served policy record"
        if rcode != 0:
            return "rcode %d" % rcode
        if not any(present):
            return "an answer for a policy record no live configuration had"
        order = {"fo": REGIONS, "fo2": ["r3", "r2", "r1"]}.get(label)
        return policy_violation(m, label, order, addrs, ts, tr, cands)


def checker_self_test():
    """The verdicts of check_answer on made-up replies: what it must reject
    and what it must accept (a checker that accepts everything would make
    the soak pass whatever gtmd answers). Returns the cases it got wrong."""
    m = Model()
    v0, v1 = Version(0), Version(1)
    v0.t_from, v0.t_to, v1.t_from = 0.0, 20.0, 19.0
    m.versions = [v0, v1]

    def ovr(target, state, t_ack, t_gone=None, oid=None):
        o = Override(target, state, t_ack - 0.01)
        o.t_add_ack, o.t_gone, o.id = t_ack, t_gone, oid or target
        m.ovr.setdefault(target, []).append(o)

    ovr("region:r1", "down", 1.0, t_gone=5.0)
    ovr("region:r2", "up", 6.0, t_gone=9.0)
    ovr("endpoint:web/b3a", "down", 10.0)
    r1, r2, r3 = "127.0.0.11", "127.0.0.21", "127.0.0.31"
    s1_0, s1_1 = v0.statics["s1"], v1.statics.get("s1")
    cases = [  # (name, rcode, aa, addrs, ts, tr, must be accepted)
        ("www." + ORIGIN, 0, True, [WWW], 0.5, 0.6, True),
        ("www." + ORIGIN, 0, False, [WWW], 0.5, 0.6, False),
        ("www." + ORIGIN, 3, True, [], 0.5, 0.6, False),
        ("nx7." + ORIGIN, 3, True, [], 0.5, 0.6, True),
        ("nx7." + ORIGIN, 0, True, [WWW], 0.5, 0.6, False),
        ("s1." + ORIGIN, 0, True, [s1_0], 0.5, 0.6, True),
        ("s1." + ORIGIN, 0, True, ["127.0.8.250"], 0.5, 0.6, False),
        # Around the reload (19-20) both versions' answers; after it only v1's.
        ("s1." + ORIGIN, 0, True, [s1_0], 19.5, 19.6, True),
        ("s1." + ORIGIN, 0, True, [s1_0], 21.0, 21.1, s1_1 == s1_0),
        ("fo." + ORIGIN, 0, True, [r1, "127.0.0.12"], 0.2, 0.3, True),
        ("fo." + ORIGIN, 0, True, ["127.0.0.99"], 0.2, 0.3, False),
        ("fo." + ORIGIN, 0, True, [r1, r2], 0.2, 0.3, False),
        ("fo." + ORIGIN, 0, True, [], 0.2, 0.3, False),
        ("fo." + ORIGIN, 0, True, [FALLBACK, r1], 0.2, 0.3, False),
        # r1 held down from 1 to 5: never r1; r2 (next in order) is fine.
        ("fo." + ORIGIN, 0, True, [r1], 2.0, 2.1, False),
        ("al." + ORIGIN, 0, True, [r1, r2], 2.0, 2.1, False),
        ("fo." + ORIGIN, 0, True, [r2], 2.0, 2.1, True),
        # A query out while the override went away may see either.
        ("fo." + ORIGIN, 0, True, [r1], 4.9, 5.1, True),
        # r2 held serving from 6 to 9: never r3 after it, never the fallback.
        ("fo." + ORIGIN, 0, True, [r3], 7.0, 7.1, False),
        ("fo." + ORIGIN, 0, True, [FALLBACK], 7.0, 7.1, False),
        ("fo2." + ORIGIN, 0, True, [r3], 7.0, 7.1, True),
        ("fo." + ORIGIN, 0, True, [r1], 7.0, 7.1, True),  # r1 is before r2
        # b3a held down from 10 on (the only r3 endpoint of v0).
        ("fo2." + ORIGIN, 0, True, [r3], 11.0, 11.1, False),
        ("fo2." + ORIGIN, 0, True, [r2], 11.0, 11.1, True),
    ]
    wrong = []
    for name, rcode, aa, addrs, ts, tr, ok in cases:
        why = check_answer(m, name, rcode, aa, addrs, ts, tr)
        if (why is None) != ok:
            wrong.append("%s %s %s at %.1f-%.1f: %s" % (name, rcode, addrs, ts, tr,
                                                         why or "accepted"))
    return wrong


# ---- query load ------------------------------------------------------------

class Stats:
    def __init__(self):
        self.lock = threading.Lock()
        self.sent = self.answered = self.wrong = self.excused = self.unanswered = 0
        self.tc = 0
        self.by_kind = {}
        self.examples = []

    def add(self, kind, key):
        with self.lock:
            d = self.by_kind.setdefault(kind, {"sent": 0, "answered": 0, "wrong": 0,
                                               "unanswered": 0, "excused": 0})
            d[key] += 1
            setattr(self, key, getattr(self, key) + 1)


def pick_name(rng):
    x = rng.random()
    if x < 0.12:
        return "fo." + ORIGIN
    if x < 0.22:
        return "fo2." + ORIGIN
    if x < 0.34:
        return "wt." + ORIGIN
    if x < 0.46:
        return "al." + ORIGIN
    if x < 0.56:
        return "pr%d.%s" % (rng.randrange(N_PR), ORIGIN)
    if x < 0.86:
        return "s%d.%s" % (rng.randrange(N_STATIC), ORIGIN)
    if x < 0.93:
        return "www." + ORIGIN
    return "nx%d.%s" % (rng.randrange(1000), ORIGIN)


class UdpLoad(threading.Thread):
    """Queries at qps (open loop), each reply checked; unanswered after
    QUERY_TIMEOUT is a failure unless gtmd was down meanwhile."""

    def __init__(self, soak, qps, seed, closed_loop=False):
        super().__init__(daemon=True)
        self.soak, self.qps, self.closed = soak, qps, closed_loop
        self.rng = random.Random(seed)
        self.stop = threading.Event()
        self.done = 0

    def run(self):
        s = self.soak
        # Several source ports, as many clients: SO_REUSEPORT spreads them
        # over gtmd's workers (one source port would load one worker).
        socks = []
        for _ in range(UDP_SOCKETS):
            sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            try:  # room for a second of replies while this thread waits for the GIL
                sock.setsockopt(socket.SOL_SOCKET, 33, 16 << 20)  # SO_RCVBUFFORCE (root)
            except OSError:
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 16 << 20)
            sock.setblocking(False)
            socks.append(sock)
        self.inodes = [os.fstat(x.fileno()).st_ino for x in socks]
        out = {}  # id -> (t_sent, name)
        qid = 0
        t_next = now()
        interval = 1.0 / self.qps if self.qps else 0
        questions = {}
        while not self.stop.is_set():
            t = now()
            # send what is due (at most a burst of 64 at a time)
            if not self.closed and t - t_next > MAX_LAG:
                s.skipped(t - t_next - MAX_LAG, int((t - t_next - MAX_LAG) * self.qps))
                t_next = t - MAX_LAG
            n = 0
            while n < 64 and (len(out) < 64 if self.closed else t >= t_next) and len(out) < 60000:
                qid = (qid + 1) & 0xFFFF
                while qid in out:
                    qid = (qid + 1) & 0xFFFF
                name = pick_name(self.rng)
                q = questions.get(name)
                if q is None:
                    q = questions[name] = question(name)
                try:
                    socks[qid % UDP_SOCKETS].sendto(struct.pack("!HHHHHH", qid, 0, 1, 0, 0, 0) +
                                                    q, ("127.0.0.1", s.port))
                except OSError:
                    pass
                out[qid] = (t, name)
                if not self.closed:
                    s.stats.add("udp", "sent")
                t_next += interval
                n += 1
            # receive
            for sock in socks:
                self.receive(sock, out)
            # time out what is late
            t = now()
            if out:
                s.expire("udp", out, t, count=not self.closed)
            wait = min(0.002, max(0.0, t_next - now())) if not self.closed else 0.0005
            s.sel_wait(socks, wait)
        self.client_drops = sum(udp_drops(inode=i) for i in self.inodes)
        for sock in socks:
            sock.close()

    def receive(self, sock, out):
        """Every reply waiting on sock, each checked."""
        s = self.soak
        try:
            while True:
                data = sock.recv(4096)
                tr = now()
                p = parse_reply(data)
                if p is None or p[0] not in out:
                    continue
                ts, name = out.pop(p[0])
                self.done += 1
                if self.closed:
                    continue
                s.stats.add("udp", "answered")
                if p[3]:
                    s.stats.tc += 1
                why = check_answer(s.model, name, p[1], p[2], p[4], ts, tr)
                if why:
                    s.wrong("udp", name, p[4], ts, tr, why)
        except BlockingIOError:
            pass


def cpu_pressure():
    """The share of the last 10 s in which some runnable task of the machine
    waited for a CPU (/proc/pressure/cpu), as text."""
    try:
        with open("/proc/pressure/cpu") as f:
            return "some avg10=%s %%" % f.readline().split()[1].split("=")[1]
    except (OSError, IndexError):
        return "unknown"


def udp_drops(inode=None, port=None):
    """Datagrams the kernel dropped for want of room in a socket's receive
    buffer (/proc/net/udp): the socket with that inode, or every socket
    bound to that local port."""
    total = 0
    try:
        with open("/proc/net/udp") as f:
            next(f)
            for line in f:
                x = line.split()
                if (inode is not None and int(x[9]) == inode) or (
                        port is not None and int(x[1].split(":")[1], 16) == port):
                    total += int(x[12])
    except (OSError, ValueError, IndexError, StopIteration):
        pass
    return total


class TcpLoad(threading.Thread):
    """Pipelined queries over a few TCP connections, reconnecting after a
    kill; each reply checked."""

    def __init__(self, soak, qps, seed, conns=2):
        super().__init__(daemon=True)
        self.soak, self.qps, self.n_conns = soak, qps, conns
        self.rng = random.Random(seed)
        self.stop = threading.Event()

    def run(self):
        s = self.soak
        conns = [None] * self.n_conns
        bufs = [b""] * self.n_conns
        outs = [dict() for _ in range(self.n_conns)]
        qid = 0
        t_next = now()
        interval = 1.0 / self.qps
        while not self.stop.is_set():
            t = now()
            for i in range(self.n_conns):
                if conns[i] is None:
                    try:
                        c = socket.create_connection(("127.0.0.1", s.port), timeout=0.5)
                        c.setblocking(False)
                        conns[i], bufs[i] = c, b""
                    except OSError:
                        continue
            if t - t_next > MAX_LAG:
                s.skipped(t - t_next - MAX_LAG, int((t - t_next - MAX_LAG) * self.qps))
                t_next = t - MAX_LAG
            while t >= t_next:
                t_next += interval
                i = self.rng.randrange(self.n_conns)
                c = conns[i]
                qid = (qid + 1) & 0xFFFF
                name = pick_name(self.rng)
                msg = struct.pack("!HHHHHH", qid, 0, 1, 0, 0, 0) + question(name)
                s.stats.add("tcp", "sent")
                outs[i][qid] = (t, name)
                if c is None:
                    continue  # counted at its timeout
                try:
                    c.sendall(struct.pack("!H", len(msg)) + msg)
                except OSError:
                    c.close()
                    conns[i] = None
            for i, c in enumerate(conns):
                if c is None:
                    continue
                try:
                    chunk = c.recv(65536)
                    if not chunk:
                        raise ConnectionResetError()
                    bufs[i] += chunk
                except BlockingIOError:
                    pass
                except OSError:
                    c.close()
                    conns[i] = None
                    continue
                while len(bufs[i]) >= 2:
                    ln = struct.unpack("!H", bufs[i][:2])[0]
                    if len(bufs[i]) < 2 + ln:
                        break
                    data, bufs[i] = bufs[i][2:2 + ln], bufs[i][2 + ln:]
                    tr = now()
                    p = parse_reply(data)
                    if p is None or p[0] not in outs[i]:
                        continue
                    ts, name = outs[i].pop(p[0])
                    s.stats.add("tcp", "answered")
                    why = check_answer(s.model, name, p[1], p[2], p[4], ts, tr)
                    if why:
                        s.wrong("tcp", name, p[4], ts, tr, why)
            t = now()
            for i in range(self.n_conns):
                s.expire("tcp", outs[i], t)
            time.sleep(min(0.005, max(0.0, t_next - now())))
        for c in conns:
            if c:
                c.close()


# ---- the admin API ---------------------------------------------------------

def api(port, method, path, body=None, token=OPERATE_TOKEN, timeout=5.0):
    """(status, json) or (None, error text)."""
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        h = {"Authorization": "Bearer " + token, "Connection": "close"}
        data = json.dumps(body) if body is not None else None
        if data:
            h["Content-Type"] = "application/json"
        c.request(method, path, body=data, headers=h)
        r = c.getresponse()
        raw = r.read()
        try:
            return r.status, json.loads(raw) if raw else None
        except ValueError:
            return r.status, raw[:200]
    except (OSError, http.client.HTTPException) as e:
        return None, str(e)
    finally:
        c.close()


# ---- the soak --------------------------------------------------------------

class Soak:
    def __init__(self, args):
        self.args = args
        self.rng = random.Random(args.seed)
        self.model = Model()
        self.stats = Stats()
        self.stop = threading.Event()
        self.notes = []
        self.proc = None
        self.instance = 0
        self.samples = []  # (t, instance, rss_kib, fds)
        self.server_drops = {}  # instance -> datagrams its UDP sockets dropped
        self.instances = []  # {id, t_ready, t_end, ring_full_at}
        self.kills = []
        self.reloads = {"ok": 0, "failed": 0, "sighup": 0, "api": 0}
        self.ovr_ops = {"add": 0, "add_acked": 0, "del": 0, "del_acked": 0, "refused": 0,
                        "failed": 0}
        self.polls = {"ok": 0, "failed": 0, "excused": 0}
        self.version = None
        self.cfg_lock = threading.Lock()  # config writes, reloads, kills
        self.lag_lock = threading.Lock()
        self.lag = {"stalls": 0, "skipped": 0, "max_ms": 0}
        self.unanswered_by_s = {}
        self.timeline = []  # (s since the start of the load, what): reloads, kills, drops

    # -- bookkeeping
    def skipped(self, lag, n):
        """A load thread fell lag seconds (beyond MAX_LAG) behind: n
        queries of its schedule were not sent."""
        with self.lag_lock:
            self.lag["stalls"] += 1
            self.lag["skipped"] += n
            self.lag["max_ms"] = max(self.lag["max_ms"], round(lag * 1000 + MAX_LAG * 1000))

    def lost_at(self, ts):
        """Unanswered queries by the second they were sent in."""
        with self.lag_lock:
            k = int(ts - self.t0)
            self.unanswered_by_s[k] = self.unanswered_by_s.get(k, 0) + 1

    def expire(self, transport, out, t, count=True):
        """Drops the queries of out ({key: (sent, name)}) older than
        QUERY_TIMEOUT at time t: unanswered if gtmd was up around them,
        else excused (count=False: dropped without counting)."""
        for k in [k for k, (ts, _) in out.items() if t - ts > QUERY_TIMEOUT]:
            ts, name = out.pop(k)
            if not count:
                continue
            with self.model.lock:
                up = self.model.was_up(ts - 0.05, ts + QUERY_TIMEOUT)
            self.stats.add(transport, "unanswered" if up else "excused")
            if up:
                self.lost_at(ts)
                self.note("unanswered %s %s sent at %.3f" % (transport, name, ts - self.t0))

    def event(self, what, t=None):
        self.timeline.append((round((t or now()) - self.t0, 3), what))

    def note(self, text):
        if len(self.notes) < 200:
            self.notes.append(text)

    def wrong(self, transport, name, addrs, ts, tr, why):
        self.stats.add(transport, "wrong")
        self.note("WRONG %s %s %s at %.3f-%.3f: %s" % (transport, name, addrs, ts - self.t0,
                                                        tr - self.t0, why))

    @staticmethod
    def sel_wait(socks, timeout):
        if timeout > 0:
            select.select(socks, [], [], timeout)

    # -- set-up
    def setup(self):
        a = self.args
        self.workdir = a.workdir or tempfile.mkdtemp(prefix="gtmd-soak-")
        os.makedirs(os.path.join(self.workdir, "state"), exist_ok=True)
        for name, tok in (("read.token", READ_TOKEN), ("operate.token", OPERATE_TOKEN)):
            p = os.path.join(self.workdir, name)
            with open(p, "w") as f:
                f.write(tok + "\n")
            os.chmod(p, 0o600)
        self.port = free_port()
        self.admin_port = free_port(avoid={self.port})
        self.http_port = free_port(avoid={self.port, self.admin_port},
                                   addrs=sorted(REGION_OF))
        self.log_path = os.path.join(self.workdir, "gtmd.log")
        self.log = open(self.log_path, "ab")
        self.write_version(Version(0))

    def write_version(self, ver):
        write_atomic(os.path.join(self.workdir, "soak.zone"), ver.zone())
        write_atomic(os.path.join(self.workdir, "gtmd.json"),
                     json.dumps(ver.config(self.port, self.admin_port, self.http_port,
                                           self.workdir), indent=1))
        self.version = ver

    # -- gtmd's life
    def start_gtmd(self):
        self.instance += 1
        self.proc = subprocess.Popen([self.args.gtmd, "-c", os.path.join(self.workdir,
                                                                         "gtmd.json")],
                                     stdout=self.log, stderr=self.log, start_new_session=True,
                                     preexec_fn=self.gtmd_priority)
        deadline = now() + 30
        while now() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError("gtmd exited with %s: %s" % (self.proc.returncode,
                                                                self.log_tail()))
            if dns_ok(self.port) and api(self.admin_port, "GET", "/v1/health",
                                         timeout=0.5)[0] == 200:
                t = now()
                self.instances.append({"id": self.instance, "pid": self.proc.pid,
                                       "t_ready": t, "t_end": None, "ring_full_at": None})
                return t
            time.sleep(0.02)
        raise RuntimeError("gtmd did not become ready: " + self.log_tail())

    def gtmd_priority(self):
        """In the child: gtmd's niceness (--gtmd-nice; default: the soak's)."""
        if self.args.gtmd_nice is not None:
            os.setpriority(os.PRIO_PROCESS, 0, self.args.gtmd_nice)

    def log_tail(self):
        with open(self.log_path, "rb") as f:
            f.seek(max(0, os.path.getsize(self.log_path) - 3000))
            return f.read().decode(errors="replace")

    def state_file(self):
        with open(os.path.join(self.workdir, "state", "state.json")) as f:
            return json.load(f)

    def kill_and_restart(self):
        """SIGKILL, check the state file, restart, reconcile overrides."""
        with self.cfg_lock:
            m = self.model
            t_kill = now()
            with m.lock:
                m.down.append([t_kill, None])
            os.kill(self.proc.pid, signal.SIGKILL)
            self.proc.wait(timeout=10)
            self.instances[-1]["t_end"] = t_kill
            # Acknowledged and not deleted, and deleted for sure, at the kill.
            with m.lock:
                must = {i: o for i, o in m.active.items() if o.t_del_sent is None}
                gone = {o.id for lst in m.ovr.values() for o in lst
                        if o.id and o.t_gone is not None and o.t_gone <= t_kill
                        and o.t_del_sent is not None}
            kill = {"t": round(t_kill - self.t0, 3), "instance": self.instance}
            try:
                st = self.state_file()
                on_disk = {o["id"]: o for o in st.get("overrides", [])}
                kill["state_file"] = "ok"
            except (OSError, ValueError) as e:
                on_disk = {}
                kill["state_file"] = "unreadable: %s" % e
                m.lost.append("state file unreadable after the kill at %.3f: %s" % (
                    t_kill - self.t0, e))
            lost = [i for i, o in must.items() if i not in on_disk or
                    on_disk[i]["target"] != o.target or on_disk[i]["state"] != o.state]
            back = sorted(gone & set(on_disk))
            if lost:
                m.lost.append("kill at %.3f: acknowledged overrides missing from the state "
                              "file: %s" % (t_kill - self.t0, lost))
            if back:
                m.lost.append("kill at %.3f: deleted overrides in the state file: %s" % (
                    t_kill - self.t0, back))
            kill["overrides_acked"] = len(must)
            kill["overrides_on_disk"] = len(on_disk)
            # The restarted gtmd loads the newest configuration written.
            with m.lock:
                for v in m.versions:
                    if v is not self.version and (v.t_to is None or v.t_to > t_kill):
                        v.t_to = t_kill
            t_ready = self.start_gtmd()
            status, body = api(self.admin_port, "GET", "/v1/overrides", token=READ_TOKEN)
            listed = {o["id"]: o for o in body["overrides"]} if status == 200 else {}
            if status != 200:
                m.lost.append("GET /v1/overrides after the restart: %s %s" % (status, body))
            with m.lock:
                lost2 = [i for i in must if i not in listed]
                if lost2:
                    m.lost.append("restart after %.3f: acknowledged overrides not restored: "
                                  "%s" % (t_kill - self.t0, lost2))
                back2 = sorted(gone & set(listed))
                if back2:
                    m.lost.append("restart after %.3f: deleted overrides restored: %s" % (
                        t_kill - self.t0, back2))
                # Reconcile: what gtmd has now is certain from now on.
                for lst in m.ovr.values():
                    for o in lst:
                        if o.t_gone is not None:
                            continue
                        if o.id in listed or (o.id is None and any(
                                x["target"] == o.target and x["state"] == o.state and
                                x["id"] not in m.active for x in listed.values())):
                            if o.id is None:
                                o.id = next(x["id"] for x in listed.values()
                                            if x["target"] == o.target and x["id"] not in
                                            m.active)
                            o.t_add_ack = o.t_add_ack or t_ready
                            if o.t_del_sent is not None:  # the delete did not stick
                                o.t_del_sent = None
                            m.active[o.id] = o
                        else:
                            o.t_gone = t_ready
                            m.active.pop(o.id, None)
                for i, x in listed.items():
                    if i not in m.active:
                        self.note("override %s on %s after the restart was not in the model"
                                  % (i, x["target"]))
                m.down[-1][1] = t_ready
            kill["down_s"] = round(t_ready - t_kill, 3)
            kill["overrides_restored"] = len(listed)
            kill["warmup_fill_s"] = round(self.prime(), 1)
            self.kills.append(kill)
            self.event("SIGKILL of instance %d, restarted in %.2f s" % (kill["instance"],
                                                                       kill["down_s"]), t_kill)
            log("SIGKILL at %.1f s: state file %s, %d acknowledged overrides, %d restored, "
                "down %.2f s" % (t_kill - self.t0, kill["state_file"], len(must), len(listed),
                                 t_ready - t_kill))

    # -- workers
    def reloader(self):
        n = 0
        while not self.stop.wait(self.args.reload_every):
            with self.cfg_lock:
                n += 1
                ver = Version(self.version.v + 1)
                t = now()
                with self.model.lock:
                    self.write_version(ver)
                    ver.t_from = t
                    self.model.versions.append(ver)
                prev = [v for v in self.model.versions if v is not ver and v.t_to is None]
                via_api = n % 2 == 0
                ok = False
                if via_api:
                    self.reloads["api"] += 1
                    status, body = api(self.admin_port, "POST", "/v1/reload", {}, timeout=15)
                    ok = status == 200 and body.get("result") == "ok"
                    if not ok:
                        self.note("API reload: %s %s" % (status, body))
                else:
                    self.reloads["sighup"] += 1
                    size = os.path.getsize(self.log_path)
                    self.proc.send_signal(signal.SIGHUP)
                    deadline = now() + 15
                    while now() < deadline and not ok:
                        with open(self.log_path, "rb") as f:
                            f.seek(size)
                            ok = b"event=reload result=ok" in f.read()
                        time.sleep(0.02)
                t_ack = now()
                self.reloads["ok" if ok else "failed"] += 1
                self.event("reload %d (%s) %s in %.2f s" % (ver.v, "API" if via_api else "SIGHUP",
                                                           "ok" if ok else "FAILED", t_ack - t), t)
                with self.model.lock:
                    for v in prev:
                        v.t_to = t_ack
                    self.model.prune(t_ack - 30)

    def churner(self):
        m = self.model
        while not self.stop.wait(self.rng.uniform(0.1, 0.4)):
            with self.cfg_lock:
                ver = self.version
            with m.lock:
                busy = {t for t, lst in m.ovr.items()
                        if any(o.t_gone is None and (o.t_add_ack is None or
                                                     o.t_del_sent is not None) for o in lst)}
                mine = [o for o in m.active.values() if o.t_del_sent is None]
            if mine and (len(mine) >= 8 or self.rng.random() < 0.45):
                o = self.rng.choice(mine)
                if o.target in busy:
                    continue
                with m.lock:
                    o.t_del_sent = now()
                self.ovr_ops["del"] += 1
                status, body = api(self.admin_port, "DELETE",
                                   "/v1/overrides/%s?force=true" % o.id)
                with m.lock:
                    if status == 200:
                        o.t_gone = now()
                        m.active.pop(o.id, None)
                        self.ovr_ops["del_acked"] += 1
                    elif status == 404:
                        o.t_gone = now()  # expired or gone: not in force any more
                        m.active.pop(o.id, None)
                    else:
                        self.ovr_ops["failed"] += 1  # in doubt until the restart reconciles
                continue
            targets = ["region:" + r for r in REGIONS] + ["endpoint:web/" + n for n in ver.eps]
            target = self.rng.choice(targets)
            if target in busy or any(o.target == target for o in mine):
                continue
            state = "down" if self.rng.random() < 0.7 else "up"
            o = Override(target, state, now())
            with m.lock:
                m.ovr.setdefault(target, []).append(o)
            self.ovr_ops["add"] += 1
            status, body = api(self.admin_port, "POST", "/v1/overrides",
                               {"target": target, "state": state, "reason": "soak",
                                "force": True})
            with m.lock:
                if status == 201:
                    o.id, o.t_add_ack = body["id"], now()
                    m.active[o.id] = o
                    self.ovr_ops["add_acked"] += 1
                elif status in (404, 409):
                    o.t_gone = now()  # refused: never in force
                    self.ovr_ops["refused"] += 1
                else:
                    self.ovr_ops["failed"] += 1  # in doubt until the restart reconciles

    def poller(self):
        while not self.stop.wait(1.0):
            t = now()
            for path in ("/v1/status", "/metrics"):
                status, _ = api(self.admin_port, "GET", path, token=READ_TOKEN, timeout=5)
                with self.model.lock:
                    up = self.model.was_up(t - 0.05, now())
                if status == 200:
                    self.polls["ok"] += 1
                elif up:
                    self.polls["failed"] += 1
                    self.note("poll %s: %s" % (path, status))
                else:
                    self.polls["excused"] += 1

    def sampler(self):
        while not self.stop.wait(1.0):
            proc, inst = self.proc, self.instance
            try:
                with open("/proc/%d/status" % proc.pid) as f:
                    rss = int(re.search(r"^VmRSS:\s+(\d+)", f.read(), re.M).group(1))
                fds = len(os.listdir("/proc/%d/fd" % proc.pid))
            except (OSError, AttributeError):
                continue
            self.samples.append((now(), inst, rss, fds))
            drops = udp_drops(port=self.port)
            before = self.server_drops.get(inst, 0)
            if drops > before:
                self.event("gtmd's UDP sockets dropped %d datagrams in the last second "
                           "(CPU pressure of the machine: %s)" % (drops - before, cpu_pressure()))
            self.server_drops[inst] = drops

    # -- warm-up
    def prime(self):
        """Fills gtmd's bounded in-memory histories (the event ring of GET
        /v1/events, 10,000 events; the audit ring, 1,000 lines), which grow
        until full: 5,100 override additions and deletions (one event and
        one audit line each) on an endpoint no record uses, from 8 clients.
        RSS is judged once they are full. Returns the seconds it took."""
        t0 = now()
        lock = threading.Lock()
        left = [RING_EVENTS // 2 + 100]
        # Each entry as large as any the soak makes later (a reason of
        # 1,000 octets, near the 1,024 allowed), so that the rings, full,
        # do not grow in bytes as later entries replace these.
        reason = ("warm-up " * 125)[:1000]

        def churn():
            c = None
            h = {"Authorization": "Bearer " + OPERATE_TOKEN, "Content-Type": "application/json"}
            for _ in range(4 * RING_EVENTS):  # bounded, failures included
                with lock:
                    if left[0] <= 0:
                        break
                try:
                    if c is None:
                        c = http.client.HTTPConnection("127.0.0.1", self.admin_port, timeout=5)
                    c.request("POST", "/v1/overrides", json.dumps(
                        {"target": "endpoint:prime/p1", "state": "down", "reason": reason}),
                        headers=h)
                    r = c.getresponse()
                    body = json.loads(r.read())
                    if r.status != 201:
                        continue
                    c.request("DELETE", "/v1/overrides/" + body["id"], headers=h)
                    r = c.getresponse()
                    r.read()
                    if r.status == 200:
                        with lock:
                            left[0] -= 1
                except (OSError, ValueError, KeyError, http.client.HTTPException):
                    if c:
                        c.close()
                    c = None
                    time.sleep(0.05)
            if c:
                c.close()
        ts = [threading.Thread(target=churn, daemon=True) for _ in range(8)]
        for t in ts:
            t.start()
        for t in ts:
            t.join(180)
        self.instances[-1]["ring_full_at"] = now() if left[0] <= 0 else None
        return now() - t0

    # -- capacity
    def capacity(self):
        u = UdpLoad(self, 0, self.args.seed + 1, closed_loop=True)
        u.start()
        time.sleep(0.5)
        d0, t0 = u.done, now()
        time.sleep(3.0)
        qps = (u.done - d0) / (now() - t0)
        u.stop.set()
        u.join(5)
        return qps

    # -- the run
    def run(self):
        a = self.args
        self.setup()
        stop_backends = threading.Event()
        be = Backends(sorted(REGION_OF), self.http_port, random.Random(a.seed + 7),
                      stop_backends, flap=not a.no_flap)
        be.start()
        self.t0 = now()
        self.version.t_from = self.t0
        self.model.versions.append(self.version)
        self.start_gtmd()
        log("warm-up: the event and audit rings filled in %.1f s" % self.prime())
        cap = self.capacity()
        qps = a.qps or max(200.0, cap / 2)
        if a.max_qps:
            qps = min(qps, a.max_qps)
        udp_qps, tcp_qps = qps * (1 - a.tcp_share), qps * a.tcp_share
        log("capacity of this client with gtmd: %.0f qps closed-loop; offering %.0f "
            "(%.0f UDP, %.0f TCP) for %d s" % (cap, qps, udp_qps, tcp_qps, a.duration))
        self.t0 = now()
        threads = [UdpLoad(self, udp_qps, a.seed + 2), TcpLoad(self, tcp_qps, a.seed + 3)]
        self.udp = threads[0]
        for t in threads:
            t.start()
        parts = [self.poller, self.sampler]
        if a.reload_every > 0:
            parts.append(self.reloader)
        if not a.no_churn:
            parts.append(self.churner)
        helpers = [threading.Thread(target=f, daemon=True) for f in parts]
        for h in helpers:
            h.start()
        end = self.t0 + a.duration
        kill_at = self.kill_schedule(self.t0, end)
        while now() < end:
            if kill_at and now() >= kill_at[0]:
                kill_at.pop(0)
                self.kill_and_restart()
            if self.proc.poll() is not None:
                self.note("gtmd exited on its own (%s)" % self.proc.returncode)
                log("gtmd exited on its own: " + self.log_tail())
                break
            time.sleep(0.1)
        self.stop.set()
        self.t_load_end = now()
        for t in threads:
            t.stop.set()
        for t in threads + helpers:
            t.join(15)
        # Let late replies count, then stop gtmd cleanly.
        self.proc.send_signal(signal.SIGTERM)
        try:
            rc = self.proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            rc = "killed after 20 s"
        self.instances[-1]["t_end"] = now()
        stop_backends.set()
        be.join(5)
        return self.report(cap, qps, rc, be.flaps)

    def kill_schedule(self, t0, end):
        """Random moments about kill_every apart, each instance living at
        least its warm-up and 25 s more (so that its RSS and fds can be
        judged), the last one at least 10 s before the end."""
        a = self.args
        if a.kill_every <= 0:
            return []
        times, t, gap = [], t0, a.warmup + 25
        while True:
            t += max(gap, self.rng.uniform(0.5, 1.5) * a.kill_every)
            if t > end - 10:
                break
            times.append(t)
        return times

    # -- verdicts
    def flatness(self):
        """Per instance: RSS and fds at the end of its warm-up, and the
        largest deviation of a 10 s window's median after it."""
        a, out = self.args, []
        for inst in self.instances:
            t_end = inst["t_end"] or now()
            start = inst["t_ready"] + a.warmup
            if inst["ring_full_at"] is None:
                out.append({"instance": inst["id"], "checked": False,
                            "why": "its event ring did not fill"})
                continue
            start = max(start, inst["ring_full_at"])
            samples = [(t, r, f) for t, i, r, f in self.samples if i == inst["id"] and
                       start <= t <= t_end - 1]
            windows = []
            for w0 in frange(start, t_end, 10.0):
                ws = [(r, f) for t, r, f in samples if w0 <= t < w0 + 10]
                if len(ws) >= 3:
                    windows.append((statistics.median(r for r, _ in ws),
                                    statistics.median(f for _, f in ws)))
            if len(windows) < 2:
                out.append({"instance": inst["id"], "checked": False,
                            "why": "too short after its warm-up (%.0f s)" % max(0, t_end - start)})
                continue
            r0, f0 = windows[0]
            dr = max(abs(r - r0) / r0 for r, _ in windows)
            df = max(abs(f - f0) / f0 for _, f in windows)
            out.append({"instance": inst["id"], "checked": True, "after_s": round(start -
                                                                                 inst["t_ready"]),
                        "windows": len(windows), "rss_kib": [int(r) for r, _ in windows],
                        "fds": [int(f) for _, f in windows], "rss_dev": round(dr, 4),
                        "fd_dev": round(df, 4),
                        "ok": (dr <= a.tolerance or a.no_rss) and df <= a.tolerance})
        return out

    def sanitizer_reports(self):
        """A sanitizer build of gtmd (ASan, LSan, UBSan, TSan) writes its
        reports to stderr, gtmd.log here: each kind found is a failure."""
        with open(self.log_path, "rb") as f:
            text = f.read().decode(errors="replace")
        out = []
        for pat in (r"ERROR: AddressSanitizer: .*", r"ERROR: LeakSanitizer: .*",
                    r"WARNING: ThreadSanitizer: .*", r"\S+:\d+:\d+: runtime error: .*"):
            found = re.findall(pat, text)
            if found:
                out.append("%d sanitizer reports in gtmd's log, the first: %s" % (
                    len(found), found[0][:200]))
        return out

    def report(self, cap, qps, rc, flaps):
        s, m = self.stats, self.model
        flat = self.flatness()
        checked = [f for f in flat if f["checked"]]
        failures = []
        if s.wrong:
            failures.append("%d wrong answers" % s.wrong)
        client_drops = getattr(self.udp, "client_drops", 0)
        server_drops = sum(self.server_drops.values())
        by_gtmd = max(0, s.unanswered - client_drops)
        if by_gtmd:
            failures.append("%d queries unanswered while gtmd was up (%d more were dropped by "
                            "this client's own socket)" % (by_gtmd, s.unanswered - by_gtmd))
        if server_drops:
            failures.append("gtmd's UDP sockets dropped %d queries" % server_drops)
        if m.lost:
            failures += m.lost
        if self.polls["failed"]:
            failures.append("%d admin polls failed while gtmd was up" % self.polls["failed"])
        if not checked:
            failures.append("no gtmd lived long enough after its warm-up to check RSS and fds")
        failures += ["instance %d: RSS moved %.1f %%, fds %.1f %% (more than %.0f %%)" % (
            f["instance"], f["rss_dev"] * 100, f["fd_dev"] * 100, self.args.tolerance * 100)
            for f in checked if not f["ok"]]
        if rc != 0:
            failures.append("gtmd's clean stop exited %s" % rc)
        failures += self.sanitizer_reports()
        if self.reloads["failed"]:
            failures.append("%d reloads not acknowledged" % self.reloads["failed"])
        rep = {
            "duration_s": self.args.duration, "capacity_qps": round(cap), "offered_qps": round(qps),
            "queries": {"sent": s.sent, "answered": s.answered, "wrong": s.wrong,
                        "unanswered_while_up": s.unanswered,
                        "unanswered_while_down_excused": s.excused, "truncated": s.tc,
                        "client_socket_drops": client_drops,
                        "gtmd_socket_drops": server_drops,
                        "by_transport": s.by_kind},
            "sent_qps": round(s.sent / max(1.0, self.t_load_end - self.t0)),
            "client_lag": self.lag,
            "unanswered_by_second": sorted(self.unanswered_by_s.items()),
            "timeline": self.timeline,
            "reloads": self.reloads, "overrides": self.ovr_ops, "backend_flaps": flaps,
            "admin_polls": self.polls, "kills": self.kills, "flatness": flat,
            "failures": failures, "notes": self.notes[:50], "workdir": self.workdir,
            "result": "pass" if not failures else "fail",
        }
        return rep


def frange(a, b, step):
    while a < b:
        yield a
        a += step


def dns_ok(port):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.settimeout(0.2)
    try:
        s.sendto(struct.pack("!HHHHHH", 4242, 0, 1, 0, 0, 0) + question("www." + ORIGIN),
                 ("127.0.0.1", port))
        p = parse_reply(s.recv(4096))
        return p is not None and p[0] == 4242 and p[4] == [WWW]
    except OSError:
        return False
    finally:
        s.close()


def free_port(avoid=(), addrs=("127.0.0.1",)):
    for _ in range(100):
        t = socket.socket()
        t.bind(("127.0.0.1", 0))
        p = t.getsockname()[1]
        t.close()
        if p in avoid:
            continue
        ok = True
        for a in addrs:
            for typ in (socket.SOCK_STREAM, socket.SOCK_DGRAM):
                x = socket.socket(socket.AF_INET, typ)
                try:
                    x.bind((a, p))
                except OSError:
                    ok = False
                finally:
                    x.close()
        if ok:
            return p
    raise RuntimeError("no free port")


def print_report(rep):
    q = rep["queries"]
    print("soak: %s after %d s" % (rep["result"].upper(), rep["duration_s"]))
    print("  load: capacity %d qps (closed loop), offered %d qps, sent %d qps (this client "
          "fell behind %d times, at most %d ms, and skipped %d queries)" % (
              rep["capacity_qps"], rep["offered_qps"], rep["sent_qps"],
              rep["client_lag"]["stalls"], rep["client_lag"]["max_ms"],
              rep["client_lag"]["skipped"]))
    print("  queries: %d sent, %d answered, %d wrong, %d unanswered while up, %d excused "
          "(gtmd down); datagrams dropped by this client's socket %d, by gtmd's %d" % (
              q["sent"], q["answered"], q["wrong"], q["unanswered_while_up"],
              q["unanswered_while_down_excused"], q["client_socket_drops"],
              q["gtmd_socket_drops"]))
    for k, d in sorted(q["by_transport"].items()):
        print("    %s: %s" % (k, d))
    print("  reloads: %s; overrides: %s; backend flaps: %d; admin polls: %s" % (
        rep["reloads"], rep["overrides"], rep["backend_flaps"], rep["admin_polls"]))
    for k in rep["kills"]:
        print("  SIGKILL at %.1f s: state file %s, %d acknowledged, %d on disk, %d restored, "
              "down %.2f s, rings refilled in %.1f s" % (
                  k["t"], k["state_file"], k["overrides_acked"], k["overrides_on_disk"],
                  k["overrides_restored"], k["down_s"], k["warmup_fill_s"]))
    for f in rep["flatness"]:
        if f["checked"]:
            print("  instance %d: from %d s on, %d windows: RSS KiB %s (max %.2f %%), fds %s "
                  "(max %.2f %%)" % (f["instance"], f["after_s"], f["windows"],
                                      f["rss_kib"], f["rss_dev"] * 100, f["fds"],
                                      f["fd_dev"] * 100))
        else:
            print("  instance %d: not checked (%s)" % (f["instance"], f["why"]))
    if rep["unanswered_by_second"]:
        print("  unanswered while up, by second sent: %s" % ", ".join(
            "%d s: %d" % kv for kv in rep["unanswered_by_second"][:20]))
    interesting = [e for e in rep["timeline"] if "reload" not in e[1] or "FAILED" in e[1]]
    reloads = [e for e in rep["timeline"] if "reload" in e[1]]
    if reloads:
        print("  reloads: %d, the slowest acknowledged in %.2f s" % (
            len(reloads), max(float(e[1].split(" in ")[-1].rstrip(" s")) for e in reloads)))
    for t, what in interesting[:30]:
        print("  at %.1f s: %s" % (t, what))
    for x in rep["failures"]:
        print("  FAIL: " + x)
    for n in rep["notes"][:20]:
        print("  note: " + n)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--gtmd", default=os.path.join(os.path.dirname(__file__), "..", "..",
                                                   "build", "gtmd"))
    ap.add_argument("--duration", type=float, default=60)
    ap.add_argument("--qps", type=float, default=0, help="offered load (default: half the "
                    "measured capacity)")
    ap.add_argument("--max-qps", type=float, default=0, help="at most this offered load (CI "
                    "on a shared machine: tests/run-all.sh)")
    ap.add_argument("--tcp-share", type=float, default=0.1)
    ap.add_argument("--reload-every", type=float, default=10, help="seconds (-1: none)")
    ap.add_argument("--kill-every", type=float, default=0,
                    help="mean seconds between SIGKILLs (default: duration / 4; each "
                         "gtmd lives at least its warm-up + 25 s)")
    ap.add_argument("--warmup", type=float, default=0,
                    help="seconds after each start before RSS and fds are watched "
                         "(default: min(60, duration / 6))")
    ap.add_argument("--tolerance", type=float, default=0.05)
    # To find what makes memory grow, parts can be left out (-1 for the
    # reloads and kills).
    ap.add_argument("--no-churn", action="store_true", help="no override churn")
    ap.add_argument("--no-flap", action="store_true", help="backends do not flap")
    ap.add_argument("--no-rss", action="store_true", help="RSS is shown but not judged (a "
                    "sanitizer build: ASan's quarantine grows by design); descriptors are")
    ap.add_argument("--gtmd-nice", type=int, help="gtmd's niceness (default: the soak's own; "
                    "a soak run with nice -n 10 on a busy machine starves gtmd too, unless "
                    "given 0 here, which needs root)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--workdir")
    ap.add_argument("--report")
    ap.add_argument("--keep", action="store_true", help="keep the work directory")
    a = ap.parse_args()
    if not a.seed:
        a.seed = random.randrange(1 << 30)
    if not a.kill_every:
        a.kill_every = a.duration / 4
    if not a.warmup:
        a.warmup = min(60.0, a.duration / 6)
    a.gtmd = os.path.abspath(a.gtmd)
    wrong = checker_self_test()
    if wrong:
        log("the answer checker is broken: " + "; ".join(wrong))
        return 1
    log("seed %d, gtmd %s" % (a.seed, a.gtmd))
    soak = Soak(a)
    try:
        rep = soak.run()
    finally:
        if soak.proc and soak.proc.poll() is None:
            soak.proc.kill()
            soak.proc.wait(10)
    rep["seed"] = a.seed
    print_report(rep)
    if a.report:
        with open(a.report, "w") as f:
            json.dump(rep, f, indent=1)
    if not a.keep and rep["result"] == "pass" and not a.workdir:
        shutil.rmtree(soak.workdir, ignore_errors=True)
    return 0 if rep["result"] == "pass" else 1


if __name__ == "__main__":
    sys.exit(main())

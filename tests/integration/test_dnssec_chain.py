"""The whole chain of trust on a fleet, in one run (issue #56, "How to
prove it"; doc/dnssec.md): Knot 3.2 is the primary of the parent zone
ksk.test. and takes DS updates for child.ksk.test. under a TSIG key
(test_dnssec_ksk.py's parent); two gtmd nodes of one fleet (a 3-member
etcd, fleet.key_secret_file: test_dnssec_fleet_keys.py's fleet) serve the
child with one key set under a policy of short timings: DNSKEY TTL and
maximum TTL 2 s, propagation 3 s (Ipub = Iret = 5 s), ZSK lifetime 20 s,
KSK lifetime 60 s; the parent's DS TTL 2 s, registration and propagation
1 s each, checked every second at Knot (parent.servers), DS pushed to
Knot (ds_push). One validating Unbound in front of each node, with the
PARENT's KSK as its only trust anchor, finds the child through the
parent's delegation.

A client asks the Unbounds in turn every 100 ms for a static and a policy
name of the child, and samples the DNSKEY RRset both nodes serve, through:
1. the first ZSK rollover (by its lifetime; two more follow the emergency
   one, before the algorithm rollover: three in all);
2. an emergency ZSK rollover (POST /v1/dnssec/ZONE/rollover on the node
   holding the key lock);
3. the KSK rollover (by its lifetime): the new KSK's DS pushed to Knot and
   seen there, the old DS deleted at once, the old KSK out of the zone
   only once its DS has left Knot;
4. a stop of the lock holder while both KSKs are in the zone, until the
   other node has taken the lock, then its start: the other node finishes
   the step, asking the parent itself;
5. the algorithm rollover 13 -> 15, by a reload of both nodes' policy: the
   DS of the new KSK pushed to Knot, the DS of 13 deleted, and only then
   the old algorithm's keys out of the zone.
At every sample of the two KSK steps, every DS the parent lists (its tag,
its algorithm) has its DNSKEY in the zone on both nodes (RFC 6781 4.1.4;
issue #56).
Every answer must validate (NOERROR with AD); each distinct zone either
node serves (by its DNSKEY and CDS RRsets and the algorithms signing an
answer) is transferred and must pass ldns-verify-zone and kzonecheck; the
nodes serve the same DNSKEY RRset but for at most SKEW_S after a step.
While a node is stopped its Unbound is not asked (a resolver with one
name server could only fail). About 100 s under ASan.

Every wait is a bounded poll; each bound says where it comes from."""
import os
import shutil
import signal
import tempfile
import threading
import time
import types

import dns.dnssec
import dns.flags
import dns.rcode
import dns.rdatatype
import pytest

from adminlib import OPERATE_TOKEN, Admin, admin_port, admin_section
from backends import poll
from conftest import Gtmd, free_port, stop_process
from dnssec_zones import policy_pool
from fleetlib import EtcdCluster, need_etcd
import test_dnssec_ksk as ksk
from test_dnssec_fleet_keys import SKEW_S, fleet_keys, longest_skew, write_secret
import unboundlib

ADDR = "127.0.0.1"
CHILD, PARENT, STATIC, POLICY = ksk.CHILD, ksk.PARENT, ksk.STATIC, ksk.POLICY
PREFIX = "/gtmd/chain/"
ZSK_LIFE = 20
# The KSK rollover starts at KSK_LIFE - Ipub = 55 s, after the first ZSK
# rollover (15-25 s), the emergency one (from about 25 s) and the ZSK
# rollover by lifetime that follows it (about 45 s); the next KSK rollover
# would be due KSK_LIFE - Ipub = 55 s after the new KSK is active, after
# the algorithm rollover (which starts when the KSK step is over and takes
# 20-29 s).
KSK_LIFE = 60
# From the first keys to the end of the KSK rollover: published at 55 s,
# ready at 60 s (Ipub 5 s), the DS pushed and seen within a check or two
# (1 s each), active IpubP = 3 s later, the old DS deleted within two more
# checks: about 67 s; the restart of the lock holder adds the lease it
# leaves (stale_after 3 s) and a check of the parent by the new holder.
# By then the ZSKs of algorithm 13 are five (ZSKS_13: the emergency ZSK
# is followed by rollovers by lifetime at about 45 and 65 s). Then the
# algorithm rollover: new DNSKEYs Dprp + TTLsig = 5 s after the reload,
# ready 5 s later, the DS pushed and seen (1-2 s), the swap IpubP (3 s)
# later, the old signatures gone 5 s after: about 20 s. About 95 s in all;
# 200 s leaves room for ASan on a loaded 2-core machine.
RUN_S = 200
# The ZSKs of algorithm 13 the run must see before the algorithm rollover:
# the first, its successor by lifetime, the emergency one, and the two
# that follow it by lifetime (issue #56: three ZSK rollovers and an
# emergency one, beside the KSK and algorithm rollovers).
ZSKS_13 = 5


def node_config(gdir, gport, kport, etcd_urls, name):
    with open(os.path.join(gdir, "child.zone"), "w") as f:
        f.write(ksk.CHILD_TEXT)
    pol = dict(ksk.policy(KSK_LIFE, kport), zsk_lifetime=ZSK_LIFE, propagation_delay=3)
    return {"listen": ["%s:%d" % (ADDR, gport)], "workers": 1,
            "tsig_keys": {ksk.KEY: {"algorithm": "hmac-sha256", "secret": ksk.SECRET}},
            "dnssec_policies": {"short": pol},
            "zones": [{"origin": CHILD, "file": "child.zone",
                       "dnssec": {"policy": "short", "key_directory": "keys"},
                       "transfer": {"allow": ["127.0.0.1"]}}],
            **policy_pool(POLICY, 2, ttl=2),
            "fleet": {"etcd": list(etcd_urls), "prefix": PREFIX, "node": name,
                      "stale_after": 3, "key_secret_file": "fleet.secret"},
            "admin": admin_section(gdir, admin_port(gport))}


def keyset(g):
    """The DNSKEY RRset g serves, as a sorted tuple of (tag, flags); ()
    when it does not answer."""
    return tuple(sorted((dns.dnssec.key_id(k), k.flags)
                        for k in ksk.rrset(g.port, CHILD, "DNSKEY")))


def zsks(g):
    return {t for t, fl in keyset(g) if not fl & 1}


def dnskey_algs(g):
    return {int(k.algorithm) for k in ksk.rrset(g.port, CHILD, "DNSKEY")}


def parent_covered(what, ds, before, after, nodes):
    """Asserts that each DS item (tag or algorithm) the parent lists names
    a DNSKEY of each node's zone. The zone is read just before the parent
    and just after: a DNSKEY that a correct order puts in before its DS
    shows in the later read, one it takes out after its DS left shows in
    the earlier one, so a race between the reads cannot fail this; a DS
    listed while its DNSKEY is out of the zone for longer than a sample
    does."""
    for g, b, a in zip(nodes, before, after):
        if not (b and a):
            continue  # a read without an answer (a zone always has a DNSKEY): no sample
        assert ds <= (b | a), ("the parent lists a %s the zone has no DNSKEY for" % what,
                               g.config["fleet"]["node"], sorted(ds), sorted(b), sorted(a))


def sig_algs(g):
    """The algorithms of the RRSIGs on g's answer for the static name."""
    try:
        r = g.query(STATIC, want_dnssec=True, timeout=1.0)
    except Exception:
        return ()
    return tuple(sorted({int(rd.algorithm) for rs in r.answer
                         if rs.rdtype == dns.rdatatype.RRSIG for rd in rs}))


def holds_lock(g):
    try:
        return (fleet_keys(g) or {}).get("lock_held") is True
    except Exception:  # a node being restarted
        return False


class Client(threading.Thread):
    """Every 100 ms: the static and the policy name through the Unbound of
    each node that is up, in turn; the DNSKEY RRsets of both nodes when
    both are up (time, set 1, set 2). A round holds lock: the test marks a
    node down under it before stopping the node, so no round is asking it
    then."""

    def __init__(self, us, nodes):
        super().__init__(daemon=True)
        self.us, self.nodes = us, nodes
        self.lock = threading.Lock()
        self.down = set()  # indexes of the nodes stopped by the test
        self.ok, self.bad, self.sets = 0, [], []
        self.stop_ev = threading.Event()
        self.turn = 0

    def round(self, i):
        for name in (STATIC, POLICY):
            try:
                r = self.us[i].ask(name)
                if r.rcode() == dns.rcode.NOERROR and r.flags & dns.flags.AD and r.answer:
                    self.ok += 1
                else:
                    self.bad.append((time.time(), i, name, dns.rcode.to_text(r.rcode()),
                                     dns.flags.to_text(r.flags)))
            except Exception as e:  # a timeout is a failure too
                self.bad.append((time.time(), i, name, "error", repr(e)))
        if not self.down:
            self.sets.append((time.monotonic(),) + tuple(keyset(g) for g in self.nodes))

    def run(self):
        while not self.stop_ev.is_set():
            i = self.turn % 2
            self.turn += 1
            with self.lock:
                if i in self.down:
                    continue
                self.round(i)
            time.sleep(0.1)

    def mark(self, i, down):
        with self.lock:
            if down:
                self.down.add(i)
            else:
                self.down.discard(i)


@pytest.fixture
def lab():
    why = need_etcd()
    if why:
        pytest.skip(why)
    for tool in (ksk.KNOTD, unboundlib.UNBOUND, ksk.VERIFY, ksk.KZONECHECK):
        if not os.access(tool, os.X_OK):
            pytest.skip("%s is not installed (contrib/deps.sh installs it)" % tool)
    workdir = tempfile.mkdtemp(prefix="gtmd-chain-")
    env = types.SimpleNamespace(dir=workdir, nodes=[], us=[], etcd=None, knot=None,
                                knot_out=None)
    try:
        env.etcd = EtcdCluster(3).start()
        secret = os.urandom(32).hex()
        env.kport = free_port()
        env.kdir = os.path.join(workdir, "knot")
        os.mkdir(env.kdir)
        for name in ("n1", "n2"):
            gdir = os.path.join(workdir, name)
            os.mkdir(gdir)
            write_secret(os.path.join(gdir, "fleet.secret"), secret)
            gport = free_port()
            env.nodes.append(Gtmd(gdir, node_config(gdir, gport, env.kport, env.etcd.urls, name),
                                  gport))
        yield env
    finally:
        for u in env.us:
            u.stop()
        for g in env.nodes:
            if g.proc:
                g.stop()
        if env.knot:
            stop_process(env.knot)
        if env.knot_out:
            env.knot_out.close()
        if env.etcd:
            env.etcd.stop()
        shutil.rmtree(workdir, ignore_errors=True)


def start_chain(env):
    """Starts the first node (it makes the fleet's keys), the second (it
    loads them), Knot with the DS of the first KSK, and an Unbound in front
    of each node; returns the first KSK's tag."""
    n1, n2 = env.nodes
    n1.start()
    # The first node makes the keys and serves them within two of its 1 s
    # ticks (ASan: 3x): 15 s.
    assert poll(lambda: ksk.ksk_tags(n1.port), 15, 0.2)[0], n1.read_log()[-3000:]
    n2.start()
    # The second node loads the fleet's set at its first read of etcd.
    ok, _ = poll(lambda: keyset(n2) == keyset(n1), 15, 0.2)
    assert ok, (keyset(n1), keyset(n2), n2.read_log()[-3000:])
    [first] = [k for k in ksk.rrset(n1.port, CHILD, "DNSKEY") if k.flags & 1]
    env.knot, env.knot_out, anchor = ksk.start_parent(env.kdir, env.kport, n1.port, first,
                                                      env.dir)
    for i, g in enumerate(env.nodes):
        u = unboundlib.Unbound(os.path.join(env.dir, "unbound%d" % i),
                               [(PARENT, env.kport), (CHILD, g.port)], anchor)
        env.us.append(u)

        def validates():
            try:
                return bool(u.ask(STATIC, timeout=0.5).flags & dns.flags.AD)
            except Exception:
                return False
        # Unbound starts in well under a second; 15 s for a loaded machine.
        assert poll(validates, 15, 0.2)[0], "unbound does not validate: " + u.log()
    return dns.dnssec.key_id(first)


class Run:
    """The state of the run: which steps happened, the zones verified."""

    def __init__(self, env, client, first_ksk):
        self.env, self.client = env, client
        self.first_ksk = first_ksk
        self.first_zsks = zsks(env.nodes[0])
        self.zsk_rolled = False
        self.emergency = None  # (old ZSK tags, new tag) once POSTed
        self.emergency_done = False
        self.restarted = None  # (the node restarted, the one that took the lock)
        self.holder_after = None  # the lock holder's name when the KSK step ended
        self.ksk_done = False
        self.algroll = None  # the time of the reload to algorithm 15
        self.algroll_done = False
        self.algs_seen = set()
        self.stages, self.verified = set(), 0
        self.zsks_seen = set()
        # When each step was first seen done, in seconds from the start:
        # what a run past RUN_S reports, so that a slow stage shows.
        self.t0, self.at = time.monotonic(), {}

    def note_steps(self):
        for k in ("zsk_rolled", "emergency", "emergency_done", "restarted", "ksk_done",
                  "algroll", "algroll_done"):
            if getattr(self, k) and k not in self.at:
                self.at[k] = round(time.monotonic() - self.t0, 1)

    def describe(self):
        """A run that did not end: each step's time, what was seen, each
        node's keys and DNSSEC log lines, the parent's log (pytest cuts a
        long assertion's repr, which hid all of it)."""
        out = ["steps done at (s): %s; now %.1f s" % (self.at, time.monotonic() - self.t0),
               "algorithms seen (DNSKEY, RRSIG, parent DS): %s" % sorted(self.algs_seen),
               "ZSKs seen (tag, algorithm): %s" % sorted(self.zsks_seen)]
        for g in self.env.nodes:
            name = g.config["fleet"]["node"]
            if g.proc:
                out.append("%s keys: %s" % (name, fleet_keys(g)))
                out.append("%s parent: %s" % (name, [
                    z.get("parent") for z in Admin.of(g).get("/v1/dnssec").json["zones"]
                    if z["zone"] == CHILD]))
            out += ["%s: %s" % (name, ln) for ln in g.read_log().splitlines()
                    if "event=dnssec" in ln][-40:]
        out.append(ksk.logs(self.env.kdir)[-4000:])
        return "\n".join(out)

    def verify_stages(self):
        """AXFR of each node whose zone (DNSKEY and CDS RRsets) is one not
        seen before; both checkers must pass it."""
        for g in self.env.nodes:
            self.zsks_seen |= {(dns.dnssec.key_id(k), int(k.algorithm))
                               for k in ksk.rrset(g.port, CHILD, "DNSKEY") if not k.flags & 1}
            stage = (keyset(g), tuple(sorted(d.key_tag for d in ksk.rrset(g.port, CHILD, "CDS"))),
                     sig_algs(g))
            if not stage[0] or stage in self.stages:
                continue
            self.stages.add(stage)
            self.verified += 1
            where = types.SimpleNamespace(gport=g.port, gdir=g.workdir)
            bad = ksk.verify_zone(where, self.verified)
            assert not bad, (g.config["fleet"]["node"], stage, bad)

    def holder(self):
        return next((g for g in self.env.nodes if holds_lock(g)), None)

    def post_emergency(self):
        """The emergency ZSK rollover on the lock holder; 409 while another
        ZSK step is under way or a member has not loaded the newest set
        (tried again at the next round)."""
        g = self.holder()
        if g is None:
            return
        old = zsks(g)
        r = Admin.of(g).post("/v1/dnssec/%s/rollover" % CHILD, {"key": "zsk"},
                             token=OPERATE_TOKEN)
        if r.status == 200:
            self.emergency = (old, r.json["new"]["tag"])
        else:
            assert r.status == 409, r.body

    def restart_holder(self):
        """Restarts the node holding the key lock while both KSKs are in
        the zone, and starts it again only once the other node holds the
        lock: that node finishes the step, having asked the parent itself
        (what a holder saw there is kept in its memory only). Its Unbound
        is not asked while it is down."""
        g = self.holder()
        if g is None:
            return
        i = self.env.nodes.index(g)
        other = self.env.nodes[1 - i]
        self.client.mark(i, True)
        g.stop()
        # The lock's lease runs out (stale_after 3 s) and the other node
        # takes it at its next tick (1 s); 15 s for ASan on a loaded machine.
        ok, _ = poll(lambda: holds_lock(other), 15, 0.2)
        assert ok, ("the other node did not take the lock", fleet_keys(other))
        g.start()
        # It comes back with the fleet's keys (its key directory, then its
        # first read of etcd): the skew bound plus a start under ASan.
        ok, _ = poll(lambda: keyset(g) == keyset(other), SKEW_S + 10, 0.1)
        assert ok, ("the restarted node did not come back with the fleet's keys",
                    keyset(g), keyset(other), g.read_log()[-3000:])
        self.client.mark(i, False)
        self.restarted = (g.config["fleet"]["node"], other.config["fleet"]["node"])

    def zsk13(self):
        return sorted(t for t, a in self.zsks_seen if a == 13)

    def check_ksk(self):
        """Whether the KSK rollover is over on both nodes; asserts on the
        way that no node withdraws the old KSK before the parent has the
        DS of the new one, nor while the parent still lists its own."""
        nodes = self.env.nodes
        before = [ksk.ksk_tags(g.port) for g in nodes]
        dss = ksk.ds_tags(self.env.kport)
        after = [ksk.ksk_tags(g.port) for g in nodes]
        parent_covered("DS (tag)", dss, before, after, nodes)
        done = True
        for g, ksks in zip(nodes, after):
            if ksks and self.first_ksk not in ksks:
                assert ksks <= dss, ("the old KSK left before the parent had the new DS",
                                     ksks, dss)
            done = done and len(ksks) == 1 and self.first_ksk not in ksks and dss == ksks
        return done

    def start_algroll(self):
        """Algorithm 13 -> 15: both nodes' policy, by a reload."""
        for g in self.env.nodes:
            g.config["dnssec_policies"]["short"]["algorithm"] = 15
            g.write_config()
            g.signal(signal.SIGHUP)
        self.algroll = time.monotonic()

    def check_algroll(self):
        """Whether both nodes serve algorithm 15 only (keys and signatures)
        and the parent has its DS only; asserts at every sample that each
        DS algorithm the parent lists has a DNSKEY of that algorithm in
        the zone on both nodes: the old algorithm's DNSKEYs never leave
        before the parent has a DS of 15, nor while it lists one of 13."""
        nodes = self.env.nodes
        before = [dnskey_algs(g) for g in nodes]
        ds = {int(d.algorithm) for d in ksk.rrset(self.env.kport, CHILD, "DS")}
        after = [dnskey_algs(g) for g in nodes]
        parent_covered("DS algorithm", ds, before, after, nodes)
        done = True
        for g, keys in zip(nodes, after):
            sigs = set(sig_algs(g))
            self.algs_seen.add((tuple(sorted(keys)), tuple(sorted(sigs)), tuple(sorted(ds))))
            done = done and keys == {15} and sigs == {15}
        return done and ds == {15}

    def step(self):
        n1, n2 = self.env.nodes
        self.verify_stages()
        if not self.zsk_rolled:
            z = zsks(n1)
            self.zsk_rolled = len(z) == 1 and not z & self.first_zsks and zsks(n2) == z
        elif self.emergency is None:
            self.post_emergency()
        elif not self.emergency_done:
            old, new = self.emergency
            self.emergency_done = all(new in zsks(g) and not old & zsks(g) for g in (n1, n2))
        if self.restarted is None and len(ksk.ksk_tags(n1.port)) == 2:
            self.restart_holder()
        if not self.ksk_done:
            self.ksk_done = self.check_ksk()
            if self.ksk_done:
                h = self.holder()
                self.holder_after = h.config["fleet"]["node"] if h else None
        elif (self.zsk_rolled and self.emergency_done and self.restarted and
              len(self.zsk13()) >= ZSKS_13 and not self.algroll):
            self.start_algroll()
        elif self.algroll:
            self.algroll_done = self.check_algroll()
        self.note_steps()
        return self.algroll_done


def test_chain_of_trust_through_a_fleet(lab):
    env = lab
    t0 = time.monotonic()
    first_ksk = start_chain(env)
    client = Client(env.us, env.nodes)
    client.start()
    run = Run(env, client, first_ksk)
    try:
        ok, _ = poll(run.step, RUN_S - (time.monotonic() - t0), 0.2)
        if not ok:
            pytest.fail(run.describe(), pytrace=False)
        # A few rounds after the last step: the caches hold the new chain.
        time.sleep(1)
    finally:
        client.stop_ev.set()
        client.join(15)
    took = time.monotonic() - t0
    # The node that took the lock at the restart keeps it (its lease).
    assert run.holder_after == run.restarted[1], (run.holder_after, run.restarted)
    took_alg = time.monotonic() - run.algroll
    assert not client.bad, client.bad[:10]
    # About 75 s of rounds of two answers every 0.1 s (plus the DNSKEY
    # samples); 150 answers is one round every second, what a loaded
    # machine under ASan still does.
    assert client.ok >= 150, client.ok
    skew = longest_skew(client.sets)
    # SKEW_S: a node reads etcd every second and signs again (see
    # test_dnssec_fleet_keys.py); within the policy's propagation delay.
    assert skew <= SKEW_S, skew
    # One KSK (CDS of it), two, two with CDS of the new, one: at least
    # four zones, besides the ZSK steps.
    assert run.verified >= 4, run.stages
    # The ZSKs of algorithm 13 (ZSKS_13): three rollovers by lifetime and
    # the emergency one.
    zsk13 = run.zsk13()
    assert len(zsk13) >= ZSKS_13, run.zsks_seen
    # The algorithm rollover's order (as test_dnssec_algroll.py's through
    # the parent; DNSKEY, RRSIG and parent DS algorithms): 15's signatures
    # before its DNSKEYs, the new DS at the parent while both KSKs are in
    # the zone, the DS of 13 deleted before 13's DNSKEYs leave, and 13's
    # signatures after its DNSKEYs left, with the parent listing 15 only:
    # that stage lasts Dprp + TTLkey = 5 s (zone_kasp_algroll.h, Tend -
    # Tswap), 25 samples of 0.2 s. check_algroll asserted at every sample
    # that no DS of 13 was listed without a DNSKEY of 13.
    for st in (((13,), (13, 15), (13,)), ((13, 15), (13, 15), (13, 15)),
               ((15,), (13, 15), (15,))):
        assert st in run.algs_seen, sorted(run.algs_seen)
    # The parent's DS set went from the first KSK to the new one (check_ksk):
    # only gtmd's pushes change it. The tries are kept in the memory of the
    # node that made them (a restarted one forgets its own).
    tries = []
    for g in env.nodes:
        z = [z for z in Admin.of(g).get("/v1/dnssec").json["zones"] if z["zone"] == CHILD]
        tries += ((z[0].get("parent") or {}).get("ds_push") or {}).get("tries") or []
    print("answers validated: %d; zones verified: %d; DNSKEY samples %d, %d with the nodes "
          "apart, longest apart %.2f s; restarted %s (lock taken by %s, held by %s at the end "
          "of the KSK step); DS push tries %s; ZSKs of 13 %d; algorithm rollover %.0f s; "
          "%.0f s" %
          (client.ok, run.verified, len(client.sets),
           sum(1 for _, a, b in client.sets if a != b), skew, run.restarted[0],
           run.restarted[1], run.holder_after, [(t["action"], t["ok"]) for t in tries],
           len(zsk13), took_alg, took))
    print("steps done at (s): %s" % run.at)

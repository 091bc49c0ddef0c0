"""An algorithm rollover 13 -> 15 by the key manager (zone_kasp_algroll.c,
RFC 6781 4.1.4), with real parts: gtmd keeps kasp.test.'s keys under a
policy of short timings (DNSKEY TTL and max TTL 2 s, propagation 1 s, no
safety margins; the parent's Dreg 1 s, DprpP 1 s, DS TTL 2 s, and no
parent.servers, so the swap is timed by Dreg), and the policy's
"algorithm" goes from 13 to 15 by a reload. The whole rollover takes
Tend - t0 = (1+2) + (1+2) + (1+1+2) + (1+2) = 13 s.

The parent's DS is the trust anchor of a validating Unbound. A resolver
whose DS set names the old KSK must validate until the swap (Tswap, when
the old KSK leaves); one whose DS set names the new KSK must validate
from Trdy (when the parent may take its DS) to the end and after. So two
Unbounds: the first anchored on the old KSK's DS, asked from before the
rollover until Tswap; the second anchored on the new KSK's DS, started at
Trdy and asked to the end. A client asks each every 100 ms for a static
and a policy name: every answer must validate (NOERROR with AD).

Unbound wants only the algorithms of its DS set, so it would not notice
a DNSKEY of an algorithm whose signatures are missing; each round also
samples what gtmd serves, and any DNSKEY RRset and any answer served
within TTL (2 s) of each other must agree (every algorithm of the one
signs the other: RFC 4035 2.2, what strict validators check). Each
distinct intermediate zone (by its DNSKEY and RRSIG algorithms) is
transferred and must pass ldns-verify-zone and kzonecheck; all five are
seen: 13; 13 + RRSIGs of 15; both; 15 + RRSIGs of 13; 15.

test_algorithm_rollover_through_the_parent runs the same rollover with a
real parent (test_dnssec_ksk.py's chain: Knot as the parent taking gtmd's
DS push, Unbound anchored at the parent's key only): the swap waits for
the new DS at the parent, and every answer validates.

Every wait is a bounded poll."""
import os
import shutil
import signal
import subprocess
import tempfile
import threading
import time

import dns.dnssec
import dns.flags
import dns.name
import dns.query
import dns.rcode
import dns.rdatatype
import dns.zone
import pytest

from adminlib import OPERATE_TOKEN, READ_TOKEN, Admin, admin_port, admin_section, gtmctl
from backends import poll
from conftest import Gtmd, free_port
from dnssec_zones import policy_pool
from test_dnssec_keys import (ADDR, POLICY, POLICY_CFG, STATIC, UNBOUND, VERIFY, ZONE,
                              ZONE_TEXT, Unbound, dnskeys, state)

KZONECHECK = "/usr/bin/kzonecheck"
PARENT = {"ds_ttl": 2, "registration_delay": 1, "propagation_delay": 1}


def _cfg(gdir, gport, alg):
    return {"listen": ["%s:%d" % (ADDR, gport)], "workers": 1,
            "dnssec_policies": {"short": dict(POLICY_CFG, algorithm=alg, zsk_lifetime="none",
                                              parent=PARENT)},
            "zones": [{"origin": ZONE, "file": "kasp.zone",
                       "dnssec": {"policy": "short", "key_directory": "keys"},
                       "transfer": {"allow": ["127.0.0.1"]}}],
            **policy_pool(POLICY, ttl=2),
            "admin": admin_section(gdir, admin_port(gport))}


def _anchor(path, ksk):
    ds = dns.dnssec.make_ds(dns.name.from_text(ZONE), ksk, "SHA256")
    with open(path, "w") as f:
        f.write("%s 3600 IN DS %s\n" % (ZONE, ds.to_text()))


def _algs(g):
    """(DNSKEY algorithms, RRSIG algorithms on the static and the policy
    answer) that gtmd serves now."""
    keys = {int(k.algorithm) for k in (dnskeys(g) or [])}
    sigs = set()
    for name in (STATIC, POLICY):
        r = g.query(name, want_dnssec=True)
        sigs |= {int(rd.algorithm) for rrset in r.answer if rrset.rdtype == dns.rdatatype.RRSIG
                 for rd in rrset}
    return keys, sigs


class Client(threading.Thread):
    """Every 100 ms asks each resolver in its window [lo, hi] (time.time())
    for the static and the policy name, and samples _algs(g)."""

    def __init__(self, g):
        super().__init__(daemon=True)
        self.g = g
        self.targets = []  # [unbound, lo, hi], hi may move
        self.lock = threading.Lock()
        self.ok, self.bad, self.samples = {}, [], []
        self.stop_ev = threading.Event()
        self.paused, self.idle = threading.Event(), threading.Event()

    def pause(self):
        """No more rounds until resume() (gtmd restarts: a resolver asking
        a server that is down learns nothing about validation)."""
        self.paused.set()
        # A round takes well under a second; 10 s for a loaded machine.
        assert self.idle.wait(10), "the client did not pause"

    def resume(self):
        self.idle.clear()
        self.paused.clear()

    def add(self, name, u, lo, hi=float("inf")):
        with self.lock:
            self.targets.append([name, u, lo, hi])
            self.ok[name] = 0

    def set_hi(self, name, hi):
        with self.lock:
            for t in self.targets:
                if t[0] == name:
                    t[3] = hi

    def run(self):
        while not self.stop_ev.is_set():
            if self.paused.is_set():
                self.idle.set()
                time.sleep(0.05)
                continue
            now = time.time()
            with self.lock:
                targets = [t[:] for t in self.targets]
            for tname, u, lo, hi in targets:
                if not lo <= now <= hi:
                    continue
                for name in (STATIC, POLICY):
                    try:
                        r = u.ask(name)
                        if r.rcode() == dns.rcode.NOERROR and r.flags & dns.flags.AD and r.answer:
                            self.ok[tname] += 1
                        else:
                            self.bad.append((time.time(), tname, name,
                                             dns.rcode.to_text(r.rcode()),
                                             dns.flags.to_text(r.flags)))
                    except Exception as e:  # a timeout is a failure too
                        self.bad.append((time.time(), tname, name, "error", repr(e)))
            try:
                self.samples.append((time.monotonic(),) + _algs(self.g))
            except Exception as e:
                self.bad.append((time.time(), "raw", "", "error", repr(e)))
            time.sleep(0.1)


def _alg_violations(samples, ttl):
    """Pairs of samples within ttl of each other where a DNSKEY algorithm
    of one has no RRSIG in the other (a strict validator holding that
    DNSKEY RRset would fail)."""
    bad = []
    for i, (ti, ki, si) in enumerate(samples):
        for tj, kj, sj in samples[:i]:
            if ti - tj <= ttl and (not ki <= sj or not kj <= si):
                bad.append((round(ti - tj, 2), sorted(ki), sorted(si), sorted(kj), sorted(sj)))
    return bad


def _verify(g, d, n):
    """AXFR, ldns-verify-zone and kzonecheck; (state, problems)."""
    z = dns.zone.from_xfr(dns.query.xfr(ADDR, ZONE, port=g.port, timeout=5, lifetime=10,
                                        relativize=False),
                          relativize=False)
    origin = dns.name.from_text(ZONE)
    keys = {int(k.algorithm) for k in z.find_rdataset(origin, "DNSKEY")}
    sigs = {int(s.algorithm) for s in z.find_rdataset(origin, "RRSIG", "SOA")}
    path = os.path.join(d, "axfr-%d.zone" % n)
    with open(path, "w") as f:
        f.write(z.to_text(relativize=False))
    out = []
    v = subprocess.run([VERIFY, path], capture_output=True, text=True, timeout=30)
    if v.returncode != 0:
        out.append(("ldns-verify-zone", v.stdout + v.stderr))
    k = subprocess.run([KZONECHECK, "-o", ZONE, "-d", "on", path], capture_output=True,
                       text=True, timeout=30)
    if k.returncode != 0:
        out.append(("kzonecheck", k.stdout + k.stderr))
    return (tuple(sorted(keys)), tuple(sorted(sigs))), out


@pytest.fixture
def env():
    for tool in (UNBOUND, VERIFY, KZONECHECK):
        if not os.access(tool, os.X_OK):
            pytest.skip("%s is not installed" % tool)
    workdir = tempfile.mkdtemp(prefix="gtmd-algroll-")
    e = type("E", (), {})()
    e.dir, e.g, e.us = workdir, None, []
    try:
        e.gdir = os.path.join(workdir, "gtmd")
        os.mkdir(e.gdir)
        with open(os.path.join(e.gdir, "kasp.zone"), "w") as f:
            f.write(ZONE_TEXT)
        e.gport = free_port()
        e.g = Gtmd(e.gdir, _cfg(e.gdir, e.gport, 13), e.gport).start()
        e.kdir = os.path.join(e.gdir, "keys")
        yield e
    finally:
        for u in e.us:
            u.stop()
        if e.g:
            e.g.stop()
        shutil.rmtree(workdir, ignore_errors=True)


def _unbound(e, name, ksk):
    d = os.path.join(e.dir, name)
    os.mkdir(d)
    _anchor(os.path.join(d, "anchor.ds"), ksk)
    u = Unbound(d, e.gport, os.path.join(d, "anchor.ds"))
    e.us.append(u)

    def ready():
        try:
            return u.ask(STATIC, timeout=0.5).flags & dns.flags.AD
        except Exception:
            return False
    # Unbound starts in well under a second; 15 s for a loaded machine.
    assert poll(ready, 15, 0.1)[0], "unbound did not validate: " + u.log()
    return u


def _ksk(g, alg):
    return next((k for k in (dnskeys(g) or []) if k.flags & 1 and int(k.algorithm) == alg), None)


def _new_keys_timed(e):
    """The new keys once their steps are timed from when the set signed by
    the new ZSK was served (zone_kasp_algroll_served), and that time, tb:
    t0 (the new ZSK's Tact) rounded down, the serve rounded up, so
    tb >= t0 + 1 and every step is the formula's from tb."""
    def timed():
        st = state(e.kdir) or {}
        ks = [k for k in st.get("keys", []) if k["algorithm"] == 15]
        if len(ks) != 2:
            return None
        z = next(k for k in ks if k["role"] == "zsk")
        return z["published"] is not None and z["published"] >= z["active"] + 4 and ks
    # The reload wakes the key manager at once and the times move in the
    # same timer run, after the re-sign; 10 s for a loaded machine.
    ks, _ = poll(timed, 10, 0.1)
    assert ks, state(e.kdir)
    nzsk = next(k for k in ks if k["role"] == "zsk")
    t0, tb = nzsk["active"], nzsk["published"] - 3
    # Keys made and a tiny zone re-signed: well under a second; 5 s for
    # ASan on a loaded machine.
    assert tb - t0 <= 5, ks
    return ks, tb


def test_algorithm_rollover_validates_throughout(env):
    e = env
    a = Admin.of(e.g)
    path = "/v1/dnssec/%s/rollover" % ZONE
    r = a.post(path, {"key": "algorithm"})
    assert r.status == 409 and r.code == "conflict" and "already" in r.json["error"]["message"], \
        r.json
    assert a.post(path, {"key": "algorithm"}, token=READ_TOKEN).status == 403
    ctl = gtmctl("dnssec", "rollover", ZONE, "--algorithm",
                 env={"GTMCTL_SERVER": a.url, "GTMCTL_TOKEN": OPERATE_TOKEN})
    assert ctl.returncode != 0 and "already" in ctl.stdout + ctl.stderr, ctl
    assert gtmctl("dnssec", "rollover", ZONE, "--algorithm", "--ksk").returncode != 0
    u1 = _unbound(e, "old", _ksk(e.g, 13))
    client = Client(e.g)
    client.add("old", u1, 0)
    client.start()
    seen, problems, n = {}, [], 0
    try:
        time.sleep(0.5)  # a few rounds before the rollover
        st, out = _verify(e.g, e.dir, n)
        n += 1
        seen[st] = -1.0
        problems += [(st,) + p for p in out]
        e.g.write_config(_cfg(e.gdir, e.gport, 15))
        e.g.signal(signal.SIGHUP)
        ks, t0 = _new_keys_timed(e)
        r = a.post(path, {"key": "algorithm"})
        assert r.status == 409 and r.code == "rollover_in_progress", r.json
        nksk = next(k for k in ks if k["role"] == "ksk")
        nzsk = next(k for k in ks if k["role"] == "zsk")
        # The formulas of zone_kasp_algroll.h with this policy's numbers,
        # from when the new signatures were served (t0 here).
        assert nksk["published"] == t0 + 3 and nzsk["published"] == t0 + 3, ks
        assert nksk["ready"] == t0 + 6 and nksk["active"] == t0 + 10, ks
        olds = [k for k in state(e.kdir)["keys"] if k["algorithm"] == 13]
        assert all(k["retired"] == t0 + 10 for k in olds), olds
        assert [k["retire_active"] for k in olds if k["role"] == "zsk"] == [t0 + 13], olds
        tswap, tend = t0 + 10, t0 + 13
        # The old anchor's resolver is asked until the swap (0.3 s early:
        # the timer acts within the second it is due).
        client.set_hi("old", tswap - 0.3)
        started_new = False
        # The end plus 3 s; 60 s for a loaded machine (ASan: 2-3x slower).
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if not started_new and _ksk(e.g, 15) is not None and time.time() >= t0 + 6:
                client.add("new", _unbound(e, "new", _ksk(e.g, 15)), 0)
                started_new = True
            st, out = _verify(e.g, e.dir, n)
            n += 1
            if st not in seen:
                seen[st] = time.time() - t0
                problems += [(st,) + p for p in out]
            if time.time() > tend + 3 and st == ((15,), (15,)):
                break
            time.sleep(0.3)
    finally:
        client.stop_ev.set()
        client.join(10)
    assert not problems, problems[:3]
    want = [((13,), (13,)), ((13,), (13, 15)), ((13, 15), (13, 15)), ((15,), (13, 15)),
            ((15,), (15,))]
    assert sorted(seen, key=seen.get) == want, seen
    assert not client.bad, ("answers that did not validate", client.bad[:10],
                            [u.log() for u in e.us])
    bad = _alg_violations(client.samples, 2.0)
    assert not bad, (len(bad), bad[:5])
    assert client.ok["old"] >= 40 and client.ok.get("new", 0) >= 40, client.ok
    print("validated: %s; raw samples %d; zones verified %d; states at %s" %
          (client.ok, len(client.samples), n, seen))


def test_algorithm_rollover_resumes_after_a_restart(env):
    """The same rollover with gtmd restarted between Trdy and Tswap (both
    algorithms' keys in the zone): the rollover goes on from its stored
    state (every timestamp as before), both resolvers validate every
    answer asked outside the restart, and every zone passes the checks."""
    e = env
    u1 = _unbound(e, "old", _ksk(e.g, 13))
    client = Client(e.g)
    client.add("old", u1, 0)
    client.start()
    seen, problems, n = set(), [], 0
    try:
        time.sleep(0.5)  # a few rounds before the rollover
        e.g.write_config(_cfg(e.gdir, e.gport, 15))
        e.g.signal(signal.SIGHUP)
        ks, t0 = _new_keys_timed(e)
        before = {k["tag"]: k for k in state(e.kdir)["keys"]}
        tswap, tend = t0 + 10, t0 + 13  # the formulas, as in the test above
        client.set_hi("old", tswap - 0.3)
        # Trdy = t0 + 6: the new KSK may be anchored; 30 s for ASan.
        assert poll(lambda: time.time() >= t0 + 6 and _ksk(e.g, 15), 30, 0.1)[0]
        client.add("new", _unbound(e, "new", _ksk(e.g, 15)), 0)
        time.sleep(0.5)  # a few rounds with both resolvers
        assert time.time() < tswap, "too late for a restart before the swap"
        client.pause()
        e.g.stop()
        e.g.start()
        client.resume()
        after = {k["tag"]: k for k in state(e.kdir)["keys"]}
        for tag, k in before.items():
            assert tag in after, (tag, after)
            changed = {f: (v, after[tag][f]) for f, v in k.items()
                       if v is not None and after[tag].get(f) != v}
            assert not changed, (tag, changed)
        # The end plus 3 s; 60 s for a loaded machine (ASan: 2-3x slower).
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            st, out = _verify(e.g, e.dir, n)
            n += 1
            if st not in seen:
                seen.add(st)
                problems += [(st,) + p for p in out]
            if time.time() > tend + 3 and st == ((15,), (15,)):
                break
            time.sleep(0.3)
    finally:
        client.stop_ev.set()
        client.join(10)
    assert not problems, problems[:3]
    assert ((15,), (15,)) in seen, seen
    assert not client.bad, ("answers that did not validate", client.bad[:10],
                            [u.log() for u in e.us])
    bad = _alg_violations(client.samples, 2.0)
    assert not bad, (len(bad), bad[:5])
    assert client.ok["old"] >= 10 and client.ok["new"] >= 20, client.ok


# ---- the same through a real parent (Knot), with the DS pushed and checked ----

@pytest.fixture
def parent_chain():
    """test_dnssec_ksk.py's chain: Knot as the parent ksk.test. taking DS
    pushes, gtmd serving child.ksk.test. (algorithm 13, no KSK lifetime,
    parent.servers and ds_push at Knot), Unbound anchored at the parent's
    key only."""
    import test_dnssec_ksk as k
    if not (os.access(k.KNOTD, os.X_OK) and os.access(k.UNBOUND, os.X_OK)):
        pytest.skip("knotd or unbound is not installed")
    yield from k.chain("none", k.SECRET)


def test_algorithm_rollover_through_the_parent(parent_chain):
    """13 -> 15 with the new KSK's DS pushed to Knot and seen there before
    the old keys go: every answer through the parent's chain validates."""
    import test_dnssec_ksk as k
    env = parent_chain
    client = k.Client(env.uport)
    client.start()
    state_seen = set()
    try:
        time.sleep(0.5)  # a few rounds before the rollover
        env.g.config["dnssec_policies"]["short"]["algorithm"] = 15
        env.g.write_config()
        env.g.signal(signal.SIGHUP)

        def algs():
            return {int(x.algorithm) for x in k.rrset(env.gport, k.CHILD, "DNSKEY")}

        def done():
            before = algs()
            ds = {int(d.algorithm) for d in k.rrset(env.kport, k.CHILD, "DS")}
            keys = algs()
            r = env.g.query(k.STATIC, want_dnssec=True)
            sigs = {int(rd.algorithm) for rs in r.answer if rs.rdtype == dns.rdatatype.RRSIG
                    for rd in rs}
            state_seen.add((tuple(sorted(keys)), tuple(sorted(sigs)), tuple(sorted(ds))))
            # Every DS algorithm the parent lists has a DNSKEY of it in the
            # zone (RFC 6781 4.1.4; issue #56): the old DNSKEYs never leave
            # before the parent has the new DS, nor while it lists the old.
            # The zone is read before and after the parent: a DNSKEY put in
            # before its DS shows in the later read, one taken out after
            # its DS left in the earlier, so only a real overlap fails.
            if before and keys:  # both reads answered (a zone always has a DNSKEY)
                assert ds <= before | keys, (sorted(before), sorted(ds), sorted(keys))
            return keys == {15} and sigs == {15} and ds == {15}
        # t0 + 3 s (new DNSKEYs) + 3 s (ready; DS pushed) + a check or two (1 s
        # each) + IpubP 3 s (the swap; the old DS, deleted when the new one
        # is seen, gone within a check or two and TTLds 2 s after that) + 3 s
        # (old RRSIGs gone): about 15 s; 60 s for ASan and a loaded machine.
        ok, _ = poll(done, 60, 0.2)
        assert ok, (sorted(state_seen), k.zone_status(env), k.logs(env.kdir, env.udir))
        time.sleep(1)  # a few rounds with the new chain alone
    finally:
        client.stop()
    # The order: 15's signatures before its DNSKEYs, the new DS at the
    # parent while both KSKs are in the zone, the DS of 13 gone before
    # 13's DNSKEYs leave, 13's signatures after its DNSKEYs left (Dprp +
    # TTLkey = 3 s: 15 samples of 0.2 s).
    assert ((13,), (13, 15), (13,)) in state_seen, sorted(state_seen)
    assert ((13, 15), (13, 15), (13, 15)) in state_seen, sorted(state_seen)
    assert ((15,), (13, 15), (15,)) in state_seen, sorted(state_seen)
    assert not client.bad, client.bad[:10]
    assert client.ok[k.STATIC] >= 40 and client.ok[k.POLICY] >= 40, client.ok
    tries = k.zone_status(env)["parent"]["ds_push"]["tries"]
    assert any(t["action"] == "add" and t["ok"] for t in tries), tries

"""The key manager with real parts (doc/dnssec.md, "The key store"): gtmd
makes and rolls the keys of kasp.test. itself ("dnssec": {"policy",
"key_directory"}), with a policy of short timings: DNSKEY TTL 2 s, zone
maximum TTL 2 s, propagation 1 s, no safety margins (Ipub = Iret = 3 s)
and a ZSK lifetime of 15 s.

Unbound validates in front of gtmd with the DS of the zone's KSK as its
only trust anchor, its cache honouring the TTLs. A client asks it every
100 ms for a static name and a policy name through two ZSK rollovers:
every answer must be NOERROR with AD (never SERVFAIL, never insecure),
and each is counted. Since Unbound fetches the DNSKEY RRset again when a
signature fails to verify (which hides a key activated or withdrawn too
early), what gtmd serves is sampled too, and every signature must verify
with every DNSKEY RRset served within a TTL of it. Every second the zone is transferred (AXFR) and must
pass ldns-verify-zone. gtmd is restarted while a pre-published ZSK waits
to become active, and reloaded while the next one waits: the keys and their timeline survive it (the same tags,
the same times), and the rollover completes on time. The raw policy
answers are signed by the active ZSK. The key files are 0600 in a 0700
directory; a directory group can open stops a reload, naming it; a key
file broken under a running gtmd fails the next step's signing, naming
the file, and the zone stays served as last signed.

An emergency rollover (POST /v1/dnssec/ZONE/rollover, gtmctl dnssec
rollover) keeps pre-publication's timing and validates throughout; a
second one while the first is under way is refused, saying why and how to
force it; forced, the new key signs at once; each call is audited.

A zone signed with the operator's keys moves onto a policy without a
validation gap: an empty store adopts them (same tags, same DNSKEY RRset,
the same ZSK signing), and the next rollover is planned from then.

Every wait is bounded (poll with a deadline)."""
import json
import os
import shutil
import stat
import subprocess
import tempfile
import threading
import time

import dns.dnssec
import dns.flags
import dns.message
import dns.name
import dns.query
import dns.rcode
import dns.rdata
import dns.rdatatype
import dns.zone
import pytest

import unboundlib
from adminlib import OPERATE_TOKEN, READ_TOKEN, Admin, admin_port, admin_section, gtmctl
from backends import poll
from conftest import Gtmd, free_port
from dnssec_zones import KEYGEN, keygen, policy_pool
from unboundlib import UNBOUND

VERIFY = "/usr/bin/ldns-verify-zone"
ADDR = "127.0.0.1"
ZONE = "kasp.test."
STATIC, POLICY = "www." + ZONE, "gtm." + ZONE
LIFE = 15  # zsk_lifetime; the safe minimum is Ipub + Iret = 6 s
POLICY_CFG = {"algorithm": 13, "zsk_lifetime": LIFE, "ksk_lifetime": "none",
              "dnskey_ttl": 2, "zone_max_ttl": 2, "propagation_delay": 1,
              "publish_safety": 0, "retire_safety": 0,
              "signature_validity": 3600, "signature_refresh": 600, "denial": "nsec"}
ZONE_TEXT = """$ORIGIN kasp.test.
$TTL 2
@ IN SOA ns1 hostmaster 1 3600 600 86400 2
@ IN NS ns1
ns1 IN A 127.0.0.1
www IN A 192.0.2.1
"""


class Unbound(unboundlib.Unbound):
    """The zone's validating resolver (unboundlib): it keeps the DNSKEY
    RRset and the signatures for their TTLs (2 s), as a resolver on the
    Internet would."""

    def __init__(self, workdir, gport, anchor):
        super().__init__(os.path.join(workdir, "unbound"), [(ZONE, gport)], anchor)


def state(kdir):
    """The zone's key state file, or None while there is none."""
    try:
        with open(os.path.join(kdir, ZONE + "kasp.json")) as f:
            return json.load(f)
    except (OSError, ValueError):
        return None


def zsks(st):
    return [k for k in (st or {}).get("keys", []) if k["role"] == "zsk"]


def dnskeys(g):
    r = g.query(ZONE, "DNSKEY", want_dnssec=True)
    for rrset in r.answer:
        if rrset.rdtype == dns.rdatatype.DNSKEY:
            return rrset
    return None


def verify_axfr(g, workdir, n):
    """AXFR of the zone, checked by ldns-verify-zone; (ok, output)."""
    z = dns.zone.from_xfr(dns.query.xfr(ADDR, ZONE, port=g.port, timeout=5, lifetime=10))
    path = os.path.join(workdir, "axfr-%d.zone" % n)
    z.to_file(path, relativize=False)
    r = subprocess.run([VERIFY, path], capture_output=True, text=True, timeout=30)
    return r.returncode == 0, r.stdout + r.stderr


def sig_tags(r, rdtype=dns.rdatatype.A):
    return {rd.key_tag for rrset in r.answer if rrset.rdtype == dns.rdatatype.RRSIG
            for rd in rrset if rd.type_covered == rdtype}


def raw_sample(g):
    """What gtmd serves now: (ZSK tags of the DNSKEY RRset, key tags of the
    static and the policy answer's RRSIGs)."""
    keys = {dns.dnssec.key_id(k) for k in dnskeys(g) if not k.flags & 1}
    sigs = set()
    for name in (STATIC, POLICY):
        sigs |= sig_tags(g.query(name, want_dnssec=True))
    return keys, sigs


def cache_violations(samples, ttl):
    """A resolver may hold any DNSKEY RRset and any signature served in the
    last ttl seconds (TTLkey = TTLsig here) together: each signature
    served must verify with each DNSKEY RRset served within ttl of it, in
    either order. The pairs of samples (seconds apart, what failed) that
    break it."""
    bad = []
    for i, (ti, ki, si) in enumerate(samples):
        for tj, kj, sj in samples[:i]:
            if ti - tj <= ttl and (not si <= kj or not sj <= ki):
                bad.append((round(ti - tj, 2), sorted(ki), sorted(si), sorted(kj), sorted(sj)))
    return bad


class Client(threading.Thread):
    """Asks Unbound for the static and the policy name every 100 ms;
    counts the answers that validate (NOERROR, AD) and keeps the others.
    Unbound fetches the DNSKEY RRset again when a signature fails, which
    would hide a key withdrawn or activated too early: so each round also
    samples what gtmd serves (raw_sample), for cache_violations. pause()
    stops it between two rounds (while gtmd restarts)."""

    def __init__(self, u, g):
        super().__init__(daemon=True)
        self.u, self.g = u, g
        self.ok = {STATIC: 0, POLICY: 0}
        self.bad = []
        self.samples = []
        self.stop_ev, self.run_ev, self.idle_ev = (threading.Event(), threading.Event(),
                                                   threading.Event())
        self.run_ev.set()

    def run(self):
        while not self.stop_ev.is_set():
            if not self.run_ev.is_set():
                self.idle_ev.set()
                self.run_ev.wait(0.1)
                continue
            self.idle_ev.clear()
            for name in (STATIC, POLICY):
                try:
                    r = self.u.ask(name)
                    if r.rcode() == dns.rcode.NOERROR and r.flags & dns.flags.AD and r.answer:
                        self.ok[name] += 1
                    else:
                        self.bad.append((time.time(), name, dns.rcode.to_text(r.rcode()),
                                         dns.flags.to_text(r.flags)))
                except Exception as e:  # a timeout is a failure too
                    self.bad.append((time.time(), name, "error", repr(e)))
            try:
                self.samples.append((time.monotonic(),) + raw_sample(self.g))
            except Exception as e:
                self.bad.append((time.time(), "raw", "error", repr(e)))
            time.sleep(0.1)

    def pause(self):
        self.run_ev.clear()
        # One round of two questions is at most 2 x 3 s (their timeout).
        assert self.idle_ev.wait(8), "the client did not pause"

    def resume(self):
        self.run_ev.set()


@pytest.fixture
def kasp(request):
    """gtmd with the zone's keys in a store, Unbound validating in front;
    request.param (indirect): the ZSK lifetime, LIFE by default."""
    life = getattr(request, "param", LIFE)
    for tool in (UNBOUND, VERIFY):
        if not os.access(tool, os.X_OK):
            pytest.skip("%s is not installed" % tool)
    workdir = tempfile.mkdtemp(prefix="gtmd-kasp-keys-")
    g = u = None
    try:
        gdir = os.path.join(workdir, "gtmd")
        os.mkdir(gdir)
        with open(os.path.join(gdir, "kasp.zone"), "w") as f:
            f.write(ZONE_TEXT)
        gport = free_port()
        cfg = {"listen": ["%s:%d" % (ADDR, gport)], "workers": 1,
               "dnssec_policies": {"short": dict(POLICY_CFG, zsk_lifetime=life)},
               "zones": [{"origin": ZONE, "file": "kasp.zone",
                          "dnssec": {"policy": "short", "key_directory": "keys"},
                          "transfer": {"allow": ["127.0.0.1"]}}],
               **policy_pool(POLICY, 2, ttl=2),
               "admin": admin_section(gdir, admin_port(gport))}
        g = Gtmd(gdir, cfg, gport).start()
        kdir = os.path.join(gdir, "keys")
        ksk = [k for k in dnskeys(g) if k.flags & 1]
        assert len(ksk) == 1, dnskeys(g)
        ds = dns.dnssec.make_ds(dns.name.from_text(ZONE), ksk[0], "SHA256")
        anchor = os.path.join(workdir, "anchor.ds")
        with open(anchor, "w") as f:
            f.write("%s 3600 IN DS %s\n" % (ZONE, ds.to_text()))
        u = Unbound(workdir, gport, anchor)

        def ready():
            try:
                return u.ask(STATIC, timeout=0.5).flags & dns.flags.AD
            except Exception:
                return False
        # Unbound starts in well under a second; 15 s for a loaded machine.
        assert poll(ready, 15, 0.1)[0], "unbound did not validate: " + u.log()
        env = type("E", (), {})()
        env.g, env.u, env.dir, env.gdir, env.kdir = g, u, workdir, gdir, kdir
        yield env
    finally:
        if u:
            u.stop()
        if g:
            g.stop()
        shutil.rmtree(workdir, ignore_errors=True)


def served_line(g, tag):
    """The fields of the event=dnssec_key_served line of key tag, or None."""
    for line in g.read_log().splitlines():
        if "event=dnssec_key_served zone=%s tag=%d " % (ZONE, tag) in line:
            return dict(f.split("=", 1) for f in line.split() if "=" in f)
    return None


def _restart_in_step(env, client, tag):
    """Restarts gtmd while successor ZSK tag is published and not active;
    the keys and their timeline must come back the same."""
    # Its times are final once the zone with it was served (the timer
    # saves the store again then, within the re-sign: 5 s for ASan).
    assert poll(lambda: served_line(env.g, tag), 5, 0.05)[0], env.g.read_log()[-2000:]
    before = state(env.kdir)
    client.pause()
    env.g.stop()
    env.g.start()
    client.resume()
    after = state(env.kdir)
    assert [(k["tag"], k["published"], k["active"]) for k in before["keys"]] == \
        [(k["tag"], k["published"], k["active"]) for k in after["keys"]][:len(before["keys"])], \
        (before, after)
    tags = {dns.dnssec.key_id(k) for k in dnskeys(env.g) if not k.flags & 1}
    return before, tags


def test_two_zsk_rollovers_validate_throughout(kasp):
    env = kasp
    kmode = stat.S_IMODE(os.stat(env.kdir).st_mode)
    assert kmode == 0o700, oct(kmode)
    for f in os.listdir(env.kdir):
        assert stat.S_IMODE(os.stat(os.path.join(env.kdir, f)).st_mode) == 0o600, f
    first = zsks(state(env.kdir))
    assert len(first) == 1 and first[0]["active"] is not None, first
    client = Client(env.u, env.g)
    client.start()
    restarted = reloaded = None
    verified = 0
    seen_active = {first[0]["tag"]}
    # Two rollovers take 2 x 15 s from the first ZSK's activation; the
    # restart adds a few seconds (ASan: 2-3x slower start). 75 s in all.
    deadline = time.monotonic() + 75
    try:
        next_verify = 0
        while time.monotonic() < deadline:
            st = state(env.kdir)
            now = time.time()
            for k in zsks(st):
                if k["active"] is not None and k["active"] <= now and \
                        (k["retire_active"] is None or now < k["retire_active"]):
                    seen_active.add(k["tag"])
            waiting = [k for k in zsks(st) if k["published"] <= now < k["active"]]
            if restarted is None and waiting and len(seen_active) == 1:
                restarted = _restart_in_step(env, client, waiting[0]["tag"])
                assert waiting[0]["tag"] in restarted[1], \
                    "the pre-published ZSK is in the DNSKEY RRset after the restart"
            elif reloaded is None and waiting and len(seen_active) == 2:
                # A reload during the second rollover keeps the zone as
                # it is (same configuration): the timer still signs it
                # again at the next step.
                reloaded = Admin.of(env.g).post("/v1/reload").status
                assert reloaded == 200
            if time.monotonic() >= next_verify:
                ok, out = verify_axfr(env.g, env.dir, verified)
                assert ok, "AXFR %d does not verify: %s" % (verified, out)
                verified += 1
                next_verify = time.monotonic() + 1
            # Done when the third ZSK has signed alone for a while (its
            # predecessor retired: removed from the DNSKEY RRset).
            if len(seen_active) >= 3 and len(zsks(st)) == 1:
                break
            time.sleep(0.1)
    finally:
        client.stop_ev.set()
        client.resume()
        client.join(10)
    assert len(seen_active) >= 3, ("two rollovers did not complete in time", state(env.kdir),
                                   env.g.read_log()[-3000:])
    assert restarted is not None, "no restart in the middle of a step"
    assert reloaded == 200, "no reload in the middle of a step"
    assert not client.bad, ("answers that did not validate", client.bad[:10], env.u.log())
    # TTLkey = TTLsig = 2 s; Ipub = Iret = 3 s leave 1 s for the timer.
    bad = cache_violations(client.samples, 2.0)
    assert not bad, ("a cache could hold a signature and a DNSKEY RRset that do not match",
                     len(bad), bad[:5])
    # 100 ms between rounds over about 30 s: a loaded machine may give
    # fewer rounds, never fewer than a hundred.
    assert client.ok[STATIC] >= 100 and client.ok[POLICY] >= 100, client.ok
    assert verified >= 10, verified
    log = env.g.read_log()
    assert "event=dnssec_key" in log and "transition=retire_active" in log, log[-2000:]
    print("validated answers: static %d, policy %d; raw samples %d; zones verified %d; "
          "ZSKs %s" % (client.ok[STATIC], client.ok[POLICY], len(client.samples), verified,
                       sorted(seen_active)))

    # The policy answers are signed by the active ZSK (the last one).
    active = zsks(state(env.kdir))[0]["tag"]

    def signed_by_active():
        return sig_tags(env.g.query(POLICY, want_dnssec=True)) == {active}
    assert poll(signed_by_active, 5, 0.1)[0], "policy answer not signed by ZSK %d" % active

    # GET /v1/dnssec: the keys, their states and the next action.
    v = Admin.of(env.g).get("/v1/dnssec", token=READ_TOKEN).json
    z = v["zones"][0]
    assert z["keys_from"] == "key store", z
    assert {k["state"] for k in z["keys"]} == {"active"}, z
    assert "successor of ZSK %d" % active in z["next_action"]["action"], z
    assert z["next_action"]["at"] == zsks(state(env.kdir))[0]["active"] + LIFE - 3, z


def test_open_key_directory_stops_the_reload(kasp):
    env = kasp
    os.chmod(env.kdir, 0o750)
    try:
        r = Admin.of(env.g).post("/v1/reload")
        assert r.status != 200 or r.json.get("result") == "failed", r.json
        text = json.dumps(r.json)
        assert "keys: the key directory has mode 0750" in text, text
        # The zone keeps being served, signed.
        assert dnskeys(env.g) is not None
    finally:
        os.chmod(env.kdir, 0o700)


# A minute's lifetime: no scheduled rollover comes in the test's way.
@pytest.mark.parametrize("kasp", [60], indirect=True)
def test_emergency_rollover(kasp):
    env = kasp
    a = Admin.of(env.g)
    path = "/v1/dnssec/%s/rollover" % ZONE
    assert a.post(path, {"key": "zsk"}, token=READ_TOKEN).status == 403
    assert a.post(path, {"key": "dsk"}).status == 400
    assert a.post(path, {"key": "zsk", "force": "yes"}).status == 400
    assert a.post("/v1/dnssec/nope.test./rollover", {"key": "zsk"}).status == 404
    # A body that is no object, and a zone name past 255 octets.
    assert a.post(path, ["zsk"]).status == 400
    assert a.post("/v1/dnssec/%s/rollover" % ("a" * 300), {"key": "zsk"}).status == 404
    r = a.post(path, {"key": "ksk"})
    # No parent.servers in this policy: a KSK rollover could never finish.
    assert r.status == 409 and r.code == "conflict" and \
        "no parent.servers" in r.json["error"]["message"], r.json
    old = zsks(state(env.kdir))[0]["tag"]
    client = Client(env.u, env.g)
    client.start()
    try:
        ctl = gtmctl("dnssec", "rollover", ZONE,
                     env={"GTMCTL_SERVER": a.url, "GTMCTL_TOKEN": OPERATE_TOKEN})
        assert ctl.returncode == 0, ctl.stderr
        # The timer re-signs at once; 5 s for the re-sign under ASan.
        new = [k for k in zsks(state(env.kdir)) if k["tag"] != old]
        assert len(new) == 1, state(env.kdir)
        line = poll(lambda: served_line(env.g, new[0]["tag"]), 5, 0.05)[0]
        assert line, env.g.read_log()[-2000:]
        st = state(env.kdir)
        new = [k for k in zsks(st) if k["tag"] != old]
        cur = [k for k in zsks(st) if k["tag"] == old][0]
        served = int(line["served"])
        # Ipub (3 s) counts from the whole second after the zone with the
        # new key was served: after its publication, by the poll's end.
        assert new[0]["published"] + 1 <= served <= int(time.time()) + 1, (line, st)
        assert new[0]["ready"] == new[0]["active"] == served + 3 and \
            cur["retire_active"] == served + 3 and cur["retired"] == served + 3 + 3, (line, st)
        assert "ZSK %d published" % new[0]["tag"] in ctl.stdout, ctl.stdout
        r = a.post(path, {"key": "zsk"})
        assert r.status == 409 and r.code == "rollover_in_progress", r.json
        assert '"force": true' in r.json["error"]["message"], r.json
        # Done when the old ZSK has left the DNSKEY RRset (Ipub + Iret =
        # 6 s after the call); 20 s for a loaded machine.
        assert poll(lambda: len(zsks(state(env.kdir))) == 1 and
                    zsks(state(env.kdir))[0]["tag"] == new[0]["tag"] and
                    raw_sample(env.g)[0] == {new[0]["tag"]}, 20, 0.1)[0], state(env.kdir)
        time.sleep(0.5)  # a few more rounds with the new key alone
    finally:
        client.stop_ev.set()
        client.resume()
        client.join(10)
    assert not client.bad, ("answers that did not validate", client.bad[:10], env.u.log())
    bad = cache_violations(client.samples, 2.0)
    assert not bad, (len(bad), bad[:5])
    assert client.ok[STATIC] >= 10, client.ok

    # Forced: the new ZSK signs at once (what force says it breaks).
    r = a.post(path, {"key": "zsk", "force": True})
    assert r.status == 200 and r.json["forced"] is True, r.json
    forced = r.json["new"]["tag"]
    assert r.json["new"]["active"] == r.json["new"]["published"], r.json  # no successor pending
    assert poll(lambda: raw_sample(env.g)[1] == {forced}, 5, 0.1)[0], raw_sample(env.g)
    with open(os.path.join(env.gdir, "audit.log")) as f:
        audit = f.read()
    assert audit.count(path) >= 3, audit[-2000:]


def test_adopting_manual_keys(tmp_path):
    """"keys" beside "key_directory": an empty store takes them over."""
    if not os.access(KEYGEN, os.X_OK):
        pytest.skip("ldns-keygen is not installed")
    gdir = str(tmp_path)
    with open(os.path.join(gdir, "kasp.zone"), "w") as f:
        f.write(ZONE_TEXT)
    ksk, zsk = keygen(gdir, ZONE, True), keygen(gdir, ZONE, False)
    tags = {}
    for role, base in (("ksk", ksk), ("zsk", zsk)):
        with open(base + ".key") as f:
            rd = dns.rdata.from_text("IN", "DNSKEY", f.read().split("DNSKEY", 1)[1].strip())
        tags[role] = dns.dnssec.key_id(rd)
    gport = free_port()
    cfg = {"listen": ["%s:%d" % (ADDR, gport)], "workers": 1,
           "dnssec_policies": {"short": POLICY_CFG},
           "zones": [{"origin": ZONE, "file": "kasp.zone",
                      "dnssec": {"policy": "short", "key_directory": "keys",
                                 "keys": [os.path.basename(ksk), os.path.basename(zsk)]}}],
           "admin": admin_section(gdir, admin_port(gport))}
    g = Gtmd(gdir, cfg, gport).start()
    try:
        kdir = os.path.join(gdir, "keys")
        st = state(kdir)
        assert sorted((k["role"], k["tag"]) for k in st["keys"]) == \
            sorted(tags.items()), st
        for k in st["keys"]:
            assert k["published"] == k["active"] == k["created"], k
            for ext in (".key", ".private"):
                mode = stat.S_IMODE(os.stat(os.path.join(kdir, k["file"] + ext)).st_mode)
                assert mode == 0o600, (k["file"], oct(mode))
        assert {dns.dnssec.key_id(k) for k in dnskeys(g)} == set(tags.values())
        assert sig_tags(g.query(STATIC, want_dnssec=True)) == {tags["zsk"]}
        assert "transition=adopted" in g.read_log()
        z = Admin.of(g).get("/v1/dnssec", token=READ_TOKEN).json["zones"][0]
        zsk_entry = [k for k in st["keys"] if k["role"] == "zsk"][0]
        assert z["next_action"] == {
            "action": "publish a successor of ZSK %d (pre-publication)" % tags["zsk"],
            "at": zsk_entry["active"] + LIFE - 3}, z  # Tact + L - Ipub
        # A restart finds the store full: nothing adopted again.
        g.stop()
        g.start()
        assert state(kdir)["keys"] == st["keys"]
    finally:
        g.stop()


def test_corrupt_key_file_keeps_the_last_good_signatures(tmp_path):
    """A key file broken under a running gtmd: the next step's signing
    fails naming the file, and the zone is served as last signed."""
    gdir = str(tmp_path)
    with open(os.path.join(gdir, "kasp.zone"), "w") as f:
        f.write(ZONE_TEXT)
    gport = free_port()
    cfg = {"listen": ["%s:%d" % (ADDR, gport)], "workers": 1,
           "dnssec_policies": {"short": dict(POLICY_CFG, zsk_lifetime=600)},
           "zones": [{"origin": ZONE, "file": "kasp.zone",
                      "dnssec": {"policy": "short", "key_directory": "keys"}}],
           "admin": admin_section(gdir, admin_port(gport))}
    g = Gtmd(gdir, cfg, gport).start()
    try:
        kdir = os.path.join(gdir, "keys")
        zsk = zsks(state(kdir))[0]
        before = sig_tags(g.query(STATIC, want_dnssec=True))
        assert before == {zsk["tag"]}, before
        bad = os.path.join(kdir, zsk["file"] + ".private")
        with open(bad, "w") as f:
            f.write("Private-key-format: v1.2\nAlgorithm: 13 (ECDSAP256SHA256)\nPrivateKey: !!\n")
        r = Admin.of(g).post("/v1/dnssec/%s/rollover" % ZONE, {"key": "zsk"})
        assert r.status == 200, r.json
        # The timer runs at once (event_active); the re-sign fails in
        # milliseconds: 10 s for a loaded machine.
        assert poll(lambda: "event=resign result=failed" in g.read_log(), 10, 0.1)[0], \
            g.read_log()[-3000:]
        log = g.read_log()
        assert bad + " is not a private key ldns can read" in log, log[-3000:]
        # Served as last signed: the same ZSK signs, the new one is not in.
        assert sig_tags(g.query(STATIC, want_dnssec=True)) == before
        assert {dns.dnssec.key_id(k) for k in dnskeys(g) if not k.flags & 1} == before
    finally:
        g.stop()

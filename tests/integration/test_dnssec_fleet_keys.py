"""A fleet signs with one key set (doc/dnssec.md, "Fleet keys"), with real
parts: a 3-member etcd, two gtmd nodes of one fleet serving kasp.test.
under a signing policy of short timings (ZSK lifetime 20 s, DNSKEY and
zone TTLs 2 s, propagation delay 3 s: the time from the set's publication
on the node holding the lock to every other node, which reads etcd every
second), each with fleet.key_secret_file.

Two Unbounds validate, one in front of each node, with the DS of the
fleet's KSK as their only trust anchor; a client asks them in turn every
100 ms for a static and a policy name through a ZSK rollover: every answer
must validate (NOERROR with AD). Every round also reads the DNSKEY RRset
of both nodes: they must serve the same set, but for the moment a new set
takes to reach the other node (bounded below). The second node is
restarted while the successor ZSK waits to become active and comes back
with the fleet's keys. When the lock holder stops, the other node takes
the lock and steps (an emergency rollover), and the first node loads that
set when it comes back. etcd holds the sets sealed: no private key of the
nodes' key directories is in any of its values, raw or base64-decoded.
Last, the second node comes back with another secret: it keeps the keys
it had (the same DNSKEY RRset), and says why (GET /v1/dnssec fleet_keys,
the log, gtmd_dnssec_fleet_key_errors_total, gtmctl dnssec status), and
a blob altered in etcd is refused by the lock holder too, which keeps its
keys. A fleet node whose zone's keys gtmd makes needs the secret: its
absence, a short one and one readable by others are config errors.

Every wait is a bounded poll."""
import base64
import json
import os
import shutil
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
import dns.rdatatype
import pytest

from adminlib import OPERATE_TOKEN, READ_TOKEN, Admin, admin_port, admin_section, gtmctl
from backends import poll
from conftest import GTMD, Gtmd, free_port
from dnssec_zones import policy_pool
from fleetlib import EtcdCluster, http_json, need_etcd
from test_dnssec_keys import ADDR, POLICY, STATIC, ZONE, ZONE_TEXT
from test_dnssec_keys import POLICY_CFG as KEYS_POLICY_CFG
import unboundlib
from unboundlib import UNBOUND

LIFE = 20
PREFIX = "/gtmd/keyshare/"
# test_dnssec_keys.py's policy, with this file's ZSK life and a 3 s
# propagation delay.
POLICY_CFG = dict(KEYS_POLICY_CFG, zsk_lifetime=LIFE, propagation_delay=3)
# How long the two nodes may serve different DNSKEY RRsets after a step:
# the follower reads etcd every second, then loads the set and signs the
# zone again (milliseconds; 2-3x that under ASan). 4 s is the tick, ASan's
# slowdown and a loaded 2-core machine; it is also within the policy's
# propagation delay plus a TTL, the margin the timeline leaves for it.
SKEW_S = 4.0


class Unbound(unboundlib.Unbound):
    """A validating Unbound in front of one gtmd (stub zone; unboundlib)."""

    def __init__(self, workdir, name, gport, anchor):
        super().__init__(os.path.join(workdir, name), [(ZONE, gport)], anchor)

    def ask(self, name, timeout=3.0):
        return super().ask(name, "A", timeout)


def write_secret(path, hexkey):
    with open(path, "w") as f:
        f.write(hexkey + "\n")
    os.chmod(path, 0o600)


def node_config(gdir, gport, etcd_urls, name):
    with open(os.path.join(gdir, "kasp.zone"), "w") as f:
        f.write(ZONE_TEXT)
    return {"listen": ["%s:%d" % (ADDR, gport)], "workers": 1,
            "dnssec_policies": {"short": dict(POLICY_CFG)},
            "zones": [{"origin": ZONE, "file": "kasp.zone",
                       "dnssec": {"policy": "short", "key_directory": "keys"}}],
            **policy_pool(POLICY, 2, ttl=2),
            "fleet": {"etcd": list(etcd_urls), "prefix": PREFIX, "node": name,
                      "stale_after": 3, "key_secret_file": "fleet.secret"},
            "admin": admin_section(gdir, admin_port(gport))}


def dnskey_set(g):
    """The DNSKEY RRset g serves, as a sorted tuple of (tag, flags); () on
    no answer."""
    try:
        r = g.query(ZONE, "DNSKEY", want_dnssec=True, timeout=1.0)
    except Exception:
        return ()
    for rrset in r.answer:
        if rrset.rdtype == dns.rdatatype.DNSKEY:
            return tuple(sorted((dns.dnssec.key_id(k), k.flags) for k in rrset))
    return ()


def fleet_keys(g):
    r = Admin.of(g).get("/v1/dnssec")
    assert r.status == 200, r.body
    return r.json.get("fleet_keys")


def zone_state(g):
    fk = fleet_keys(g) or {}
    for z in fk.get("zones", []):
        if z["zone"] == ZONE:
            return z
    return {}


class Client(threading.Thread):
    """Every 100 ms: the static and the policy name through each Unbound,
    in turn; the DNSKEY RRsets of both nodes (with the time)."""

    def __init__(self, us, nodes):
        super().__init__(daemon=True)
        self.us, self.nodes = us, nodes
        self.ok, self.bad, self.sets = 0, [], []
        self.stop_ev, self.run_ev, self.idle_ev = (threading.Event(), threading.Event(),
                                                   threading.Event())
        self.run_ev.set()
        self.turn = 0

    def run(self):
        while not self.stop_ev.is_set():
            if not self.run_ev.is_set():
                self.idle_ev.set()
                self.run_ev.wait(0.1)
                continue
            self.idle_ev.clear()
            u = self.us[self.turn % 2]
            self.turn += 1
            for name in (STATIC, POLICY):
                try:
                    r = u.ask(name)
                    if r.rcode() == dns.rcode.NOERROR and r.flags & dns.flags.AD and r.answer:
                        self.ok += 1
                    else:
                        self.bad.append((time.time(), u.port, name, dns.rcode.to_text(r.rcode()),
                                         dns.flags.to_text(r.flags)))
                except Exception as e:
                    self.bad.append((time.time(), u.port, name, "error", repr(e)))
            self.sets.append((time.monotonic(),) + tuple(dnskey_set(g) for g in self.nodes))
            time.sleep(0.1)

    def pause(self):
        self.run_ev.clear()
        assert self.idle_ev.wait(10), "the client did not pause"

    def resume(self):
        self.run_ev.set()


def longest_skew(sets):
    """The longest run of seconds during which the nodes served different
    DNSKEY RRsets."""
    worst, since = 0.0, None
    for t, a, b in sets:
        if a != b:
            since = t if since is None else since
            worst = max(worst, t - since)
        else:
            since = None
    return worst


@pytest.fixture
def lab():
    why = need_etcd()
    if why:
        pytest.skip(why)
    if not os.access(UNBOUND, os.X_OK):
        pytest.skip("unbound is not installed")
    workdir = tempfile.mkdtemp(prefix="gtmd-fleet-keys-")
    env = type("Lab", (), {})()
    env.dir, env.nodes, env.us, env.etcd = workdir, [], [], None
    try:
        env.etcd = EtcdCluster(3).start()
        env.secret = os.urandom(32).hex()
        for name in ("n1", "n2"):
            gdir = os.path.join(workdir, name)
            os.mkdir(gdir)
            write_secret(os.path.join(gdir, "fleet.secret"), env.secret)
            gport = free_port()
            env.nodes.append(Gtmd(gdir, node_config(gdir, gport, env.etcd.urls, name), gport))
        yield env
    finally:
        for u in env.us:
            u.stop()
        for g in env.nodes:
            if g.proc:
                g.stop()
        if env.etcd:
            env.etcd.stop()
        shutil.rmtree(workdir, ignore_errors=True)


def blob_in_etcd(env):
    vals = env.etcd.get_prefix(PREFIX + "dnssec/keys/") or {}
    return vals.get(PREFIX + "dnssec/keys/" + ZONE)


def private_material(kdir):
    """Every base64 value of the PrivateKey lines of kdir's .private files."""
    out = set()
    for f in os.listdir(kdir):
        if f.endswith(".private"):
            with open(os.path.join(kdir, f)) as fh:
                for line in fh:
                    if line.startswith("PrivateKey:"):
                        out.add(line.split(":", 1)[1].strip())
    return out


def check_etcd_sealed(env, kdirs):
    secrets = set()
    for d in kdirs:
        secrets |= private_material(d)
    assert secrets
    vals = env.etcd.get_prefix(PREFIX) or {}
    assert vals, "etcd holds nothing under the prefix"
    for k, v in vals.items():
        texts = [v]
        try:
            texts.append(json.dumps(json.loads(v)))
        except ValueError:
            pass
        for field in ("ct", "nonce", "tag"):
            try:
                texts.append(base64.b64decode(json.loads(v)[field]).decode("latin-1"))
            except (ValueError, KeyError, TypeError):
                pass
        for t in texts:
            assert "PrivateKey" not in t, k
            for s in secrets:
                assert s not in t, "a private key in plaintext under %s" % k


def test_fleet_signs_with_one_key_set(lab):
    env = lab
    n1, n2 = env.nodes
    n1.start()
    # The first node makes the keys, takes the lock and writes the set
    # within two of its 1 s ticks (ASan: 3x): 15 s.
    assert poll(lambda: blob_in_etcd(env), 15, 0.2)[0], n1.read_log()
    n2.start()
    first = dnskey_set(n1)
    # The second node loads the fleet's set on its first read.
    ok, _ = poll(lambda: dnskey_set(n2) == dnskey_set(n1), 15, 0.2)
    assert ok, (dnskey_set(n1), dnskey_set(n2), n2.read_log()[-3000:])
    assert zone_state(n2).get("state") == "loaded", fleet_keys(n2)

    ksk = [k for k in n1.query(ZONE, "DNSKEY").answer[0] if k.flags & 1]
    assert len(ksk) == 1
    ds = dns.dnssec.make_ds(dns.name.from_text(ZONE), ksk[0], "SHA256")
    anchor = os.path.join(env.dir, "anchor.ds")
    with open(anchor, "w") as f:
        f.write("%s 3600 IN DS %s\n" % (ZONE, ds.to_text()))
    for i, g in enumerate((n1, n2)):
        env.us.append(Unbound(env.dir, "unbound%d" % i, g.port, anchor))
    def validates(u):
        try:
            return bool(u.ask(STATIC, timeout=0.5).flags & dns.flags.AD)
        except Exception:
            return False
    for u in env.us:
        # Unbound starts in well under a second; 15 s for a loaded machine.
        ok, _ = poll(lambda: validates(u), 15, 0.2)
        assert ok, "unbound did not validate"

    first_zsks = {t for t, fl in first if not fl & 1}
    client = Client(env.us, env.nodes)
    client.start()
    restarted = False
    try:
        # The rollover: the successor published at LIFE - Ipub (15 s) after
        # the first ZSK, active 5 s later, the old one gone Iret (5 s)
        # after that: 30 s from the first keys. 70 s leaves ASan room.
        deadline = time.monotonic() + 70
        done = False
        while time.monotonic() < deadline and not done:
            s1 = dnskey_set(n1)
            zsks = {t for t, fl in s1 if not fl & 1}
            if not restarted and len(zsks) == 2:
                # A successor waits: restart the second node mid-step.
                client.pause()
                n2.stop()
                n2.start()
                client.resume()
                restarted = True
                ok, _ = poll(lambda: dnskey_set(n2) == dnskey_set(n1), SKEW_S + 5, 0.1)
                assert ok, "the restarted node did not come back with the fleet's keys"
            done = restarted and len(zsks) == 1 and not zsks & first_zsks
            time.sleep(0.2)
        assert restarted, "no successor ZSK was published in time"
        assert done, ("the rollover did not complete", dnskey_set(n1), fleet_keys(n1))
        # A few seconds past the last step: the caches are at the new set.
        time.sleep(3)
    finally:
        client.stop_ev.set()
        client.join(15)
    assert not client.bad, client.bad[:10]
    # The client ran through the rollover (at least 20 s): one round of two
    # answers every 0.1 s plus four queries, slower on a loaded machine;
    # 60 answers is one round every 0.7 s.
    assert client.ok >= 60, client.ok
    skew = longest_skew(client.sets)
    assert skew <= SKEW_S, skew
    check_etcd_sealed(env, [os.path.join(g.workdir, "keys") for g in env.nodes])
    # Revision 1: the first keys; 2: the successor published (the old key's
    # files are deleted, revision 3, Iret after it left the RRset).
    assert zone_state(n1).get("rev", 0) >= 2, fleet_keys(n1)
    print("answers validated: %d; DNSKEY RRsets seen: %d; samples %d, %d with the nodes apart; "
          "longest apart: %.2f s" % (client.ok, len({a for _, a, _ in client.sets}),
                                     len(client.sets), sum(1 for _, a, b in client.sets if a != b),
                                     skew))

    # Only the lock holder steps: the other node refuses a rollover, naming it.
    r = Admin.of(n2).post("/v1/dnssec/%s/rollover" % ZONE, {"key": "zsk"}, token=OPERATE_TOKEN)
    assert r.status == 409 and r.code == "not_lock_holder" and "n1" in r.body.decode(), r.body
    # Each node says whether its key manager may step, and why not: the
    # other names the holder; the holder may, every live member having
    # reported its set (a recheck at every read of etcd: 15 s for ASan).
    ok, _ = poll(lambda: zone_state(n1).get("may_step") is True, 15, 0.2)
    assert ok, fleet_keys(n1)
    z2 = zone_state(n2)
    assert z2.get("may_step") is False and "the steps are n1's" in z2.get("why_not", ""), z2
    out = gtmctl("dnssec", "status",
                 env={"GTMCTL_SERVER": Admin.of(n2).url, "GTMCTL_TOKEN": READ_TOKEN})
    assert "may not step: the steps are n1's" in out.stdout, out.stdout + out.stderr
    # A loaded record that etcd holds stale (a put that failed, or one an
    # older put overtook): the node writes its own again at its next round
    # and the holder may step again. Compared by presence only, it stayed
    # stale for good, and the holder waited on it forever (the chain
    # test's KSK step, under ASan in CI).
    key = PREFIX + "dnssec/loaded/n2"

    def mine():
        # What the node has loaded as it says now: the rollover's last step
        # (the old key's files deleted, Iret after it left) may come during
        # these checks and change the set (a digest taken once before them
        # failed here in CI when it did).
        return {"node": "n2", "zones": {ZONE: zone_state(n2)["digest"]}}

    def put_loaded(value):
        raw = value if isinstance(value, bytes) else json.dumps(value).encode()
        st, _ = http_json(env.etcd.urls[0] + "/v3/kv/put",
                          {"key": base64.b64encode(key.encode()).decode(),
                           "value": base64.b64encode(raw).decode()})
        assert st == 200

    put_loaded({"node": "n2", "zones": {ZONE: "00" * 32}})

    def record_is_mine():
        v = (env.etcd.get_prefix(key) or {}).get(key)
        try:
            return v is not None and json.loads(v) == mine()
        except ValueError:  # the bad record, not rewritten yet
            return False
    # Its next round (1 s tick; 15 s for ASan).
    ok, _ = poll(record_is_mine, 15, 0.2)
    assert ok, (env.etcd.get_prefix(key), mine(), n2.read_log()[-2000:])
    # A record that is not one (not JSON, or zones not an object): the same.
    for bad in (b"{not json", {"node": "n2", "zones": ["x"]}):
        put_loaded(bad)
        ok, _ = poll(record_is_mine, 15, 0.2)
        assert ok, (bad, env.etcd.get_prefix(key), mine())
    ok, _ = poll(lambda: zone_state(n1).get("may_step") is True, 15, 0.2)
    assert ok, fleet_keys(n1)

    # The lock holder stops: the other node takes the lock once its lease
    # runs out (stale_after 3 s, and a 1 s tick; 15 s for ASan) and may
    # step: an emergency rollover there is written as a new revision,
    # which the first node loads when it comes back.
    n1.stop()
    ok, _ = poll(lambda: (fleet_keys(n2) or {}).get("lock_held") is True, 15, 0.2)
    assert ok, fleet_keys(n2)
    r = None
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        # 409 until n2's next round sees that only it is live. The revision
        # before the call: the schedule's own steps (the purge of an old
        # ZSK, a key's times moved once its set is served) write revisions
        # too, so the call's is any later one (seen once in CI under ASan:
        # 2 before the stop, 6 after the call).
        rev = json.loads(blob_in_etcd(env))["rev"]
        r = Admin.of(n2).post("/v1/dnssec/%s/rollover" % ZONE, {"key": "zsk"},
                              token=OPERATE_TOKEN)
        if r.status == 200:
            break
        time.sleep(0.5)
    assert r.status == 200, r.body
    ok, _ = poll(lambda: json.loads(blob_in_etcd(env))["rev"] > rev, 10, 0.2)
    assert ok, (rev, blob_in_etcd(env))
    n1.start()
    new = r.json["new"]["tag"]
    ok, _ = poll(lambda: dnskey_set(n1) == dnskey_set(n2) and
                 new in {t for t, _ in dnskey_set(n1)}, 15, 0.2)
    assert ok, (dnskey_set(n1), dnskey_set(n2))

    # Another secret: the node keeps the keys it had and says why.
    held = dnskey_set(n2)
    n2.stop()
    write_secret(os.path.join(n2.workdir, "fleet.secret"), os.urandom(32).hex())
    n2.start()
    ok, _ = poll(lambda: zone_state(n2).get("state") == "cannot_decrypt", 15, 0.2)
    assert ok, fleet_keys(n2)
    assert "another key-sharing secret" in zone_state(n2)["error"], zone_state(n2)
    assert dnskey_set(n2) == held
    assert "event=dnssec_fleet_keys zone=kasp.test. result=cannot_decrypt" in n2.read_log()
    out = gtmctl("dnssec", "status",
                 env={"GTMCTL_SERVER": Admin.of(n2).url, "GTMCTL_TOKEN": READ_TOKEN})
    assert "zone kasp.test.: cannot_decrypt" in out.stdout, out.stdout + out.stderr
    m = [ln for ln in Admin.of(n2).get("/metrics").body.decode().splitlines()
         if ln.startswith("gtmd_dnssec_fleet_key_errors_total ")]
    # One per revision it could not open: the purge of the old ZSK may
    # write another revision meanwhile.
    assert len(m) == 1 and float(m[0].split()[1]) >= 1, m

    # An altered blob (one byte of the ciphertext): the lock holder too
    # keeps its keys, and says the tag does not verify.
    held1 = dnskey_set(n1)
    key = PREFIX + "dnssec/keys/" + ZONE
    env_ = json.loads(blob_in_etcd(env))
    ct = bytearray(base64.b64decode(env_["ct"]))
    ct[0] ^= 1
    env_["ct"] = base64.b64encode(bytes(ct)).decode()
    st, _ = http_json(env.etcd.urls[0] + "/v3/kv/put",
                      {"key": base64.b64encode(key.encode()).decode(),
                       "value": base64.b64encode(json.dumps(env_).encode()).decode()})
    assert st == 200
    ok, _ = poll(lambda: zone_state(n1).get("state") == "cannot_decrypt", 15, 0.2)
    assert ok, fleet_keys(n1)
    assert "tag does not verify" in zone_state(n1)["error"], zone_state(n1)
    # It keeps the keys it had: none from the altered blob, and still a
    # KSK and a ZSK. Its own schedule may still purge the old ZSK it held
    # (a step of the lock holder's own, not the blob's: seen once in CI
    # under ASan, the purge falling between the two reads).
    now = dnskey_set(n1)
    assert set(now) <= set(held1), (now, held1)
    assert {f for _, f in now} == {256, 257}, (now, held1)


@pytest.mark.parametrize("secret,mode,want", [
    (None, None, "$.fleet.key_secret_file: required: the keys of kasp.test. are made by gtmd"),
    ("00ff", 0o600, "fleet.secret must hold 32 bytes"),
    ("ab" * 32, 0o644, "fleet.secret may be read by group or others"),
])
def test_config_errors_name_the_secret(tmp_path, secret, mode, want):
    """A fleet node whose zone's keys gtmd makes needs the secret; a
    secret that is short or readable by others is refused, naming it."""
    gdir = str(tmp_path)
    cfg = node_config(gdir, free_port(), ["http://127.0.0.1:1"], "n1")
    if secret is None:
        del cfg["fleet"]["key_secret_file"]
    else:
        path = os.path.join(gdir, "fleet.secret")
        with open(path, "w") as f:
            f.write(secret + "\n")
        os.chmod(path, mode)
    conf = os.path.join(gdir, "gtmd.json")
    with open(conf, "w") as f:
        json.dump(cfg, f)
    r = subprocess.run([GTMD, "check", "-c", conf], capture_output=True, text=True, timeout=60,
                       cwd=gdir)
    out = r.stdout + r.stderr
    assert r.returncode != 0 and want in out and "$.fleet.key_secret_file: " in out, out


def rrsig_tags(msg):
    """The key tags of every RRSIG in msg's answer section."""
    return {sig.key_tag for rrset in msg.answer if rrset.rdtype == dns.rdatatype.RRSIG
            for sig in rrset}


def test_joining_node_serves_only_the_fleets_keys(lab):
    """A node that joins a running fleet with an empty key directory never
    serves a DNSKEY RRset or RRSIG the fleet does not have: it is asked
    from before its first answer (issue #56; doc/dnssec.md,
    "Bootstrapping"). Before it holds the fleet's set, the zone is kept out
    of its served set (REFUSED: not authoritative); afterwards its answers
    are signed with the fleet's keys only. Before the fix, the node made
    keys of its own at its first load and served them for about a second."""
    env = lab
    n1, n2 = env.nodes
    n1.start()
    # As in the test above: the set is in etcd within two ticks (15 s ASan).
    assert poll(lambda: blob_in_etcd(env) and dnskey_set(n1), 15, 0.2)[0], n1.read_log()
    fleet = {t for t, _ in dnskey_set(n1)}
    seen, stop = [], threading.Event()

    def ask():
        # As fast as the node answers: until its first answer a query waits
        # 20 ms at most (a query sent before the node listens is lost, and
        # the old defect's window was about 50 ms here without ASan), then
        # 0.2 s.
        while not stop.is_set():
            for name, rdtype in ((ZONE, "DNSKEY"), (STATIC, "A"), (POLICY, "A")):
                try:
                    r = n2.query(name, rdtype, want_dnssec=True,
                                 timeout=0.2 if seen else 0.02)
                except Exception:
                    continue
                seen.append((time.monotonic(), name, rdtype, r))

    asker = threading.Thread(target=ask, daemon=True)
    asker.start()
    try:
        n2.start(wait=False)
        # Loaded on its first read of etcd (1 s tick; ASan 3x): 15 s.
        ok, _ = poll(lambda: dnskey_set(n2) == dnskey_set(n1), 15, 0.1)
        assert ok, (dnskey_set(n1), dnskey_set(n2), n2.read_log()[-3000:])
        time.sleep(1)  # a few more answers after the load (not a condition)
    finally:
        stop.set()
        asker.join(5)
    # The fleet rolls no key in these seconds (ZSK lifetime 20 s from n1's
    # start), but take any set n1 serves now too.
    fleet |= {t for t, _ in dnskey_set(n1)}
    answered = [s for s in seen if s[3].rcode() == dns.rcode.NOERROR]
    assert answered, "the joining node never answered"
    for at, name, rdtype, r in seen:
        rc = r.rcode()
        assert rc in (dns.rcode.NOERROR, dns.rcode.REFUSED), (name, rdtype, dns.rcode.to_text(rc))
        if rc != dns.rcode.NOERROR:
            continue
        tags = rrsig_tags(r)
        assert tags, ("an unsigned answer", name, rdtype, r.to_text())
        assert tags <= fleet, ("RRSIG by keys the fleet does not have", tags, fleet)
        if rdtype == "DNSKEY":
            served = {dns.dnssec.key_id(k) for rrset in r.answer
                      if rrset.rdtype == dns.rdatatype.DNSKEY for k in rrset}
            assert served <= fleet, ("a DNSKEY set the fleet does not have", served, fleet)
    refused = sum(1 for s in seen if s[3].rcode() == dns.rcode.REFUSED)
    print("joining node: %d answers, %d REFUSED before its keys, %d signed" %
          (len(seen), refused, len(answered)))
    assert "zone_pending" in n2.read_log(), n2.read_log()[-3000:]

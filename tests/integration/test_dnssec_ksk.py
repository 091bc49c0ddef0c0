"""The KSK rollover by double-KSK with real parts (doc/dnssec.md, "KSK
rollover"): Knot 3.2 is the primary of the parent zone ksk.test., signs
it itself, and takes DS updates for child.ksk.test. under a TSIG key
(acl: action update, update-owner name, update-type DS). gtmd serves the
child with a policy of short timings (DNSKEY TTL and maximum TTL 2 s,
propagation 1 s, no safety margins: Ipub = 3 s; the parent's DS TTL 2 s,
propagation 1 s: IpubP = 3 s; check interval 1 s), its parent.servers
and ds_push pointing at Knot. Unbound validates with the PARENT's KSK as
its only trust anchor and finds the child through the parent's
delegation (a stub zone for each).

1. One KSK rollover started by the policy's lifetime: a client asks
   Unbound every 100 ms for a static and a policy name of the child, and
   every answer must validate (NOERROR, AD). The new KSK's DS reaches
   Knot by gtmd's push, the old DS is deleted at the parent, and the old
   KSK leaves the zone only after both (at every sample, each DS Knot
   lists names a KSK in the zone), CDS/CDNSKEY name the new KSK; the zone
   at each stage passes ldns-verify-zone and kzonecheck.
2. The parent refuses the push (gtmd signs with the wrong secret): the
   old KSK stays, the new one never takes over, and GET /v1/dnssec says
   why (waiting for the DS, the tries with their rcode, their backoff);
   a restart in the middle of the step changes none of it.

Every wait is a bounded poll; each bound says where it comes from."""
import base64
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
import dns.zone
import pytest

from adminlib import READ_TOKEN, Admin, admin_port, admin_section, gtmctl
from backends import poll
from conftest import Gtmd, free_port, stop_process
from dnssec_zones import policy_pool
from knotlib import knot_head
import unboundlib
from unboundlib import UNBOUND

KNOTD = "/usr/sbin/knotd"
KZONECHECK = "/usr/bin/kzonecheck"
VERIFY = "/usr/bin/ldns-verify-zone"
ADDR = "127.0.0.1"
PARENT = "ksk.test."
CHILD = "child." + PARENT
STATIC, POLICY = "www." + CHILD, "gtm." + CHILD
KEY = "ds-push."
SECRET = base64.b64encode(bytes(range(40, 72))).decode()
WRONG = base64.b64encode(bytes(range(1, 33))).decode()
KSK_LIFE = 30  # the safe minimum is Ipub + IretK = 3 + (1 + 1 + 2) = 7 s

pytestmark = pytest.mark.skipif(
    not (os.access(KNOTD, os.X_OK) and os.access(UNBOUND, os.X_OK)),
    reason="knotd or unbound is not installed (contrib/deps.sh installs them)")

CHILD_TEXT = """$ORIGIN child.ksk.test.
$TTL 2
@ IN SOA ns1 hostmaster 1 3600 600 86400 2
@ IN NS ns1
ns1 IN A 127.0.0.1
www IN A 192.0.2.1
"""


def policy(ksk_life, knot_port, key=KEY):
    return {"algorithm": 13, "zsk_lifetime": "none", "ksk_lifetime": ksk_life,
            "dnskey_ttl": 2, "zone_max_ttl": 2, "propagation_delay": 1,
            "publish_safety": 0, "retire_safety": 0,
            "signature_validity": 3600, "signature_refresh": 600, "denial": "nsec",
            "parent": {"cds": True, "ds_ttl": 2, "registration_delay": 1,
                       "propagation_delay": 1, "check_interval": 1,
                       "servers": ["%s:%d" % (ADDR, knot_port)],
                       "ds_push": {"primary": "%s:%d" % (ADDR, knot_port), "key": key}}}


def knot_conf(d, port, gport, parent=PARENT, child=CHILD):
    return knot_head(d, port, gport, KEY, SECRET) + """acl:
  - id: ds_update
    address: 127.0.0.1
    key: {key}
    action: update
    update-owner: name
    update-owner-match: equal
    update-owner-name: {child}
    update-type: DS
policy:
  - id: fast
    algorithm: ecdsap256sha256
    ksk-lifetime: 0
    zsk-lifetime: 0
    dnskey-ttl: 2
    zone-max-ttl: 2
    propagation-delay: 0
zone:
  - domain: {parent}
    storage: "{d}"
    file: "{d}/parent.zone"
    dnssec-signing: on
    dnssec-policy: fast
    zonefile-sync: -1
    acl: ds_update
""".format(key=KEY, child=child, parent=parent, d=d)


def parent_text(ds, parent=PARENT, child=CHILD):
    """The parent zone delegating child (any number of labels below it)."""
    return """$ORIGIN {parent}
$TTL 2
@ IN SOA ns1 hostmaster 1 3600 600 86400 2
@ IN NS ns1
ns1 IN A 127.0.0.1
{child} IN NS ns1.{child}
ns1.{child} IN A 127.0.0.1
{child} IN DS {ds}
""".format(ds=ds, parent=parent, child=child)


def unbound_conf(d, port, knot_port, gport, anchor):
    # No cache-max-ttl: Unbound keeps every RRset for its TTL (2 s here).
    return unboundlib.unbound_conf(d, port, anchor, [(PARENT, knot_port), (CHILD, gport)])


def ask(port, name, rdtype, timeout=1.0):
    q = dns.message.make_query(name, rdtype, want_dnssec=True)
    return dns.query.udp(q, ADDR, port=port, timeout=timeout)


def rrset(port, name, rdtype):
    try:
        r = ask(port, name, rdtype)
    except Exception:
        return []
    t = dns.rdatatype.from_text(rdtype)
    return [rd for rr in r.answer if rr.rdtype == t for rd in rr]


def ksk_tags(port):
    return {dns.dnssec.key_id(k) for k in rrset(port, CHILD, "DNSKEY") if k.flags & 1}


def ds_tags(port):
    return {d.key_tag for d in rrset(port, CHILD, "DS")}


class Client(threading.Thread):
    """Asks Unbound for the static and the policy name every 100 ms and
    counts the answers that validate (NOERROR with AD); keeps the others."""

    def __init__(self, uport):
        super().__init__(daemon=True)
        self.uport = uport
        self.ok = {STATIC: 0, POLICY: 0}
        self.bad = []
        self.stop_ev = threading.Event()

    def run(self):
        while not self.stop_ev.is_set():
            for name in (STATIC, POLICY):
                try:
                    q = dns.message.make_query(name, "A", want_dnssec=True)
                    q.flags |= dns.flags.RD
                    r = dns.query.udp(q, ADDR, port=self.uport, timeout=3)
                    if r.rcode() == dns.rcode.NOERROR and r.flags & dns.flags.AD and r.answer:
                        self.ok[name] += 1
                    else:
                        self.bad.append((time.time(), name, dns.rcode.to_text(r.rcode()),
                                         dns.flags.to_text(r.flags)))
                except Exception as e:  # a timeout is a failure too
                    self.bad.append((time.time(), name, "error", repr(e)))
            time.sleep(0.1)

    def stop(self):
        self.stop_ev.set()
        self.join(10)


def start_parent(kdir, kport, gport, ksk, anchor_dir, parent=PARENT, child=CHILD):
    """Knot in kdir on kport as the primary of parent (PARENT), signing it
    itself, with the DS of child's (CHILD's) KSK ksk (a DNSKEY rdata) and
    taking DS pushes for child under KEY. Returns (process, its output file, the path of a
    trust anchor file in anchor_dir holding the parent's KSKs); the caller
    stops the process (stop_process) and closes the file."""
    ds = dns.dnssec.make_ds(dns.name.from_text(child), ksk, "SHA256")
    rel = dns.name.from_text(child).relativize(dns.name.from_text(parent)).to_text()
    with open(os.path.join(kdir, "parent.zone"), "w") as f:
        f.write(parent_text(ds.to_text(), parent, rel))
    conf = os.path.join(kdir, "knot.conf")
    with open(conf, "w") as f:
        f.write(knot_conf(kdir, kport, gport, parent, child))
    knot_out = open(os.path.join(kdir, "out.log"), "ab")
    knot = subprocess.Popen([KNOTD, "-c", conf], cwd=kdir, stdout=knot_out,
                            stderr=subprocess.STDOUT)

    def parent_ksk():
        return [k for k in rrset(kport, parent, "DNSKEY") if k.flags & 1]
    # Knot makes its keys and signs at load: well under a second; 20 s
    # on a loaded machine.
    anchors = poll(parent_ksk, 20, 0.1)[0]
    if not anchors:
        stop_process(knot)
        knot_out.close()
        raise AssertionError("knot did not sign the parent")
    anchor = os.path.join(anchor_dir, "anchor.key")
    with open(anchor, "w") as f:
        for k in anchors:
            f.write("%s 3600 IN DNSKEY %s\n" % (parent, k.to_text()))
    return knot, knot_out, anchor


def chain(ksk_life, push_secret):
    """gtmd (child), Knot (parent), Unbound; yields an env object."""
    workdir = tempfile.mkdtemp(prefix="gtmd-ksk-")
    g = knot = unbound = knot_out = u_out = None
    try:
        gdir, kdir, udir = (os.path.join(workdir, n) for n in ("gtmd", "knot", "unbound"))
        for d in (gdir, kdir, udir):
            os.mkdir(d)
        with open(os.path.join(gdir, "child.zone"), "w") as f:
            f.write(CHILD_TEXT)
        gport, kport, uport = free_port(), free_port(), free_port()
        cfg = {"listen": ["%s:%d" % (ADDR, gport)], "workers": 1,
               "tsig_keys": {KEY: {"algorithm": "hmac-sha256", "secret": push_secret}},
               "dnssec_policies": {"short": policy(ksk_life, kport)},
               "zones": [{"origin": CHILD, "file": "child.zone",
                          "dnssec": {"policy": "short", "key_directory": "keys"},
                          "transfer": {"allow": ["127.0.0.1"]}}],
               **policy_pool(POLICY, ttl=2),
               "admin": admin_section(gdir, admin_port(gport))}
        g = Gtmd(gdir, cfg, gport).start()
        start = time.monotonic()
        [ksk] = [k for k in rrset(gport, CHILD, "DNSKEY") if k.flags & 1]
        knot, knot_out, anchor = start_parent(kdir, kport, gport, ksk, udir)
        uconf = os.path.join(udir, "unbound.conf")
        with open(uconf, "w") as f:
            f.write(unbound_conf(udir, uport, kport, gport, anchor))
        u_out = open(os.path.join(udir, "out.log"), "ab")
        unbound = subprocess.Popen([UNBOUND, "-d", "-c", uconf], stdout=u_out,
                                   stderr=subprocess.STDOUT)

        def validates():
            try:
                q = dns.message.make_query(STATIC, "A", want_dnssec=True)
                q.flags |= dns.flags.RD
                return dns.query.udp(q, ADDR, port=uport, timeout=0.5).flags & dns.flags.AD
            except Exception:
                return False
        # Unbound starts in well under a second; 15 s for a loaded machine.
        assert poll(validates, 15, 0.1)[0], "unbound does not validate the child: " + \
            logs(kdir, udir)
        env = type("E", (), {})()
        env.g, env.gport, env.kport, env.uport = g, gport, kport, uport
        env.gdir, env.kdir, env.udir, env.start = gdir, kdir, udir, start
        env.first_ksk = dns.dnssec.key_id(ksk)
        env.admin = Admin.of(g)
        yield env
    finally:
        for p in (unbound, knot):
            if p:
                stop_process(p)
        for f in (knot_out, u_out):
            if f:
                f.close()
        if g:
            g.stop()
        shutil.rmtree(workdir, ignore_errors=True)


def logs(*dirs):
    text = ""
    for d in dirs:
        for n in sorted(os.listdir(d)):
            if n.endswith(".log"):
                with open(os.path.join(d, n), "rb") as f:
                    text += "--- %s\n%s" % (n, f.read().decode(errors="replace")[-2500:])
    return text


def verify_zone(env, n):
    """AXFR of the child, checked by ldns-verify-zone and kzonecheck (with
    DNSSEC); a list of what failed (empty when both pass or are absent)."""
    z = dns.zone.from_xfr(dns.query.xfr(ADDR, CHILD, port=env.gport, timeout=5, lifetime=10))
    path = os.path.join(env.gdir, "axfr-%d.zone" % n)
    z.to_file(path, relativize=False)
    bad = []
    for argv in ([VERIFY, path], [KZONECHECK, "-o", CHILD, "-d", "on", path]):
        if os.access(argv[0], os.X_OK):
            r = subprocess.run(argv, capture_output=True, text=True, timeout=30)
            if r.returncode != 0:
                bad.append((argv[0], r.stdout[-1500:] + r.stderr[-1500:]))
    return bad


def zone_status(env):
    r = env.admin.get("/v1/dnssec", token=READ_TOKEN)
    assert r.status == 200, r
    [z] = [z for z in r.json["zones"] if z["zone"] == CHILD]
    return z


@pytest.fixture
def rolled():
    yield from chain(KSK_LIFE, SECRET)


@pytest.fixture
def refused():
    yield from chain("none", WRONG)


def test_ksk_rollover_with_ds_push_validates_throughout(rolled):
    env = rolled
    client = Client(env.uport)
    client.start()
    old = env.first_ksk
    seen = {"both_ksks": False, "cds_new": False, "verified": 0}
    try:
        def done():
            before = ksk_tags(env.gport)
            dss = ds_tags(env.kport)
            ksks = ksk_tags(env.gport)
            # Every DS the parent lists names a KSK in the zone (issue #56):
            # the old KSK leaves only once its DS has left the parent. Read
            # before and after the parent, so that only a real overlap of a
            # DS without its KSK fails (a read without an answer: no sample).
            if before and ksks:
                assert dss <= before | ksks, (sorted(before), sorted(dss), sorted(ksks))
            if len(ksks) == 2:
                seen["both_ksks"] = True
            # The zone as served at each stage (one KSK, two, CDS of the new)
            # passes both checkers: the first sample of each stage.
            stage = (len(ksks), tuple(sorted(d.key_tag for d in rrset(env.gport, CHILD, "CDS"))))
            if stage not in seen.setdefault("stages", set()):
                seen["stages"].add(stage)
                bad = verify_zone(env, len(seen["stages"]))
                assert not bad, (stage, bad)
                seen["verified"] += 1
            cds = {d.key_tag for d in rrset(env.gport, CHILD, "CDS")}
            if cds and old not in cds:
                seen["cds_new"] = True
                # The old KSK is never withdrawn before the parent has the new DS.
                if old not in ksks:
                    assert cds <= ds_tags(env.kport), (cds, ds_tags(env.kport))
            return len(ksks) == 1 and old not in ksks and dss == ksks
        # The rollover is due KSK_LIFE - Ipub after gtmd started; the new
        # KSK is ready Ipub (3 s) later, its DS pushed and seen within a
        # check interval or two (1 s each), active IpubP (3 s) after it is
        # seen; the old DS deleted then, gone within two more checks, and
        # the old KSK out TTLds (2 s) after that. About 36 s from gtmd's
        # start; 80 s for ASan and a loaded machine.
        left = 80 - (time.monotonic() - env.start)
        ok, took = poll(done, left, 0.2)
        assert ok, (ksk_tags(env.gport), ds_tags(env.kport), zone_status(env),
                    logs(env.kdir, env.udir))
        # A few rounds after the swap: the caches hold only the new chain.
        time.sleep(1)
    finally:
        client.stop()
    assert seen["both_ksks"], "the new KSK was never published beside the old"
    assert seen["cds_new"], "CDS never named the new KSK"
    # one KSK (CDS old), two (CDS old), two (CDS new), one (CDS new) at least
    assert seen["verified"] >= 3, seen
    assert not client.bad, client.bad[:10]
    total = client.ok[STATIC] + client.ok[POLICY]
    # 100 ms rounds over about 30 s; a third of that under ASan.
    assert client.ok[STATIC] >= 50 and client.ok[POLICY] >= 50, client.ok
    z = zone_status(env)
    tries = z["parent"]["ds_push"]["tries"]
    assert any(t["action"] == "add" and t["ok"] and t["rcode"] == "NOERROR" for t in tries), tries
    assert any(t["action"] == "delete" and t["ok"] for t in tries), tries
    cdnskey = {dns.dnssec.key_id(k) for k in rrset(env.gport, CHILD, "CDNSKEY")}
    assert cdnskey == ksk_tags(env.gport), cdnskey
    print("validated answers: %d (static %d, policy %d)" % (total, client.ok[STATIC],
                                                           client.ok[POLICY]))


def test_refused_push_keeps_the_old_ksk(refused):
    env = refused
    client = Client(env.uport)
    client.start()
    old = env.first_ksk
    path = "/v1/dnssec/%s/rollover" % CHILD
    try:
        r = env.admin.post(path, {"key": "ksk"})
        assert r.status == 200, r.json
        new = r.json["new"]["tag"]

        def failing():
            p = zone_status(env).get("parent") or {}
            push = p.get("ds_push") or {}
            return p if push.get("failures_in_row", 0) >= 3 else None
        # Ready Ipub (3 s) after the call; tries then 1, 2 and 4 s apart
        # (the check interval doubled): the third failure about 10 s after
        # the call; 40 s for ASan and a loaded machine.
        p = poll(failing, 40, 0.3)[0]
        assert p, (zone_status(env), logs(env.kdir))
    finally:
        client.stop()
    assert "waiting for DS at parent since" in p["waiting"], p
    tries = [t for t in p["ds_push"]["tries"] if t["action"] == "add"]
    assert len(tries) >= 3 and not any(t["ok"] for t in tries), tries
    # Knot knows the key name, not our secret: NOTAUTH with a TSIG error,
    # unsigned (so it is not taken as an answer).
    assert all(t["rcode"] == "NOTAUTH" and t["tag"] == new and "TSIG" in t["why"]
               for t in tries), tries
    gaps = [b["at"] - a["at"] for a, b in zip(tries, tries[1:])]
    assert gaps == sorted(gaps) and gaps[-1] >= 2, gaps  # backoff: 1, 2, 4 ...
    # The old KSK stays, the new one waits beside it, the parent has the old DS only.
    assert ksk_tags(env.gport) == {old, new}
    assert ds_tags(env.kport) == {old}
    keys = {k["tag"]: k for k in zone_status(env)["keys"]}
    assert keys[new]["active"] is None and keys[old]["retired"] is None, keys
    r = env.admin.post(path, {"key": "ksk"})
    assert r.status == 409 and r.json["error"]["code"] == "rollover_in_progress", r.json
    assert "waiting for its DS at the parent" in r.json["error"]["message"], r.json
    ctl = gtmctl("dnssec", "status",
                 env={"GTMCTL_SERVER": env.admin.url, "GTMCTL_TOKEN": READ_TOKEN})
    assert ctl.returncode == 0, ctl.stderr
    assert "parent: waiting for DS at parent since" in ctl.stdout, ctl.stdout
    assert "DS push: last add of KSK %d failed (rcode NOTAUTH" % new in ctl.stdout, ctl.stdout
    m = env.admin.get("/metrics", token=READ_TOKEN).body.decode()
    failed = [ln for ln in m.splitlines()
              if ln.startswith('gtmd_dnssec_ds_push_total{result="failed"}')]
    assert failed and int(failed[0].split()[-1]) >= 3, failed
    assert not client.bad, client.bad[:10]
    assert client.ok[STATIC] > 0 and client.ok[POLICY] > 0, client.ok
    # A restart in the middle of the step: the keys and their timeline
    # come back from the store, the push starts again, the old KSK stays.
    restarted = time.time()
    env.g.stop()
    env.g.start()

    def failing_again():
        p = zone_status(env).get("parent") or {}
        tries = (p.get("ds_push") or {}).get("tries") or []
        return p if [t for t in tries if t["at"] >= int(restarted) and not t["ok"]] else None
    # The first check comes within a second of the start; 20 s for ASan.
    p = poll(failing_again, 20, 0.3)[0]
    assert p and "waiting for DS at parent since" in p["waiting"], zone_status(env)
    assert ksk_tags(env.gport) == {old, new}
    keys = {k["tag"]: k for k in zone_status(env)["keys"]}
    assert keys[new]["active"] is None and keys[old]["retired"] is None, keys

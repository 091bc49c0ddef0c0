"""Signing policies ("dnssec_policies", zone_kasp.c) and RFC 7583's
timeline (zone_kasp_timeline.c), first slice of issue #56: gtmd check
refuses a policy whose timing cannot be safe, naming the JSON path, the
sum and each term; accepts a safe one and prints its intervals; a zone
naming a policy is signed on the policy's settings with the keys it
gives (this release makes no key), and the policy's mistakes (unknown
name, settings given twice, no keys, a DS push key not in tsig_keys)
are refused at their JSON path. GET /v1/dnssec (read token) and gtmctl
dnssec status show each policy's intervals and each zone's keys with the
times the policy makes due, and say that nothing acts on them yet."""
import json
import os
import shutil
import subprocess
import tempfile
import time

import dns.message
import dns.query
import dns.rdatatype
import pytest

from adminlib import OPERATE_TOKEN, READ_TOKEN, gtmctl, start
from conftest import GTMD
from dnssec_zones import ORIGIN, SignedSet, missing_tools

# Short timings, every term different so that a sum names each one:
# Ipub = 5 + 10 + 0 = 15, Iret = 0 + 5 + 20 + 0 = 25 (min ZSK 40),
# IretK = 7 + 3 + 30 + 0 = 40 (min KSK 55), refresh > 5 + 20.
FAST = {"zsk_lifetime": 120, "ksk_lifetime": 600, "dnskey_ttl": 10, "zone_max_ttl": 20,
        "propagation_delay": 5, "publish_safety": 0, "retire_safety": 0,
        "signature_validity": 3600, "signature_refresh": 600,
        "parent": {"ds_ttl": 30, "registration_delay": 7, "propagation_delay": 3,
                   # A KSK lifetime needs the parent's servers (the DS is checked there).
                   "servers": ["127.0.0.1:9"]}}


@pytest.fixture(scope="module")
def zs():
    tool = missing_tools()
    if tool:
        pytest.skip("ldnsutils not installed (%s missing)" % tool)
    d = tempfile.mkdtemp(prefix="gtmd-kasp-")
    try:
        yield SignedSet(d, "nsec")
    finally:
        shutil.rmtree(d, ignore_errors=True)


def keys(zs):
    return [os.path.basename(zs.ksk), os.path.basename(zs.zsk)]


def check(zs, policies, dnssec=None, extra=None):
    """gtmd check on a config with policies and one zone signed with
    dnssec (default: policy "p" and both keys); (rc, stdout, stderr)."""
    conf = {"listen": ["127.0.0.1:5353"], "dnssec_policies": policies,
            "zones": [{"origin": ORIGIN, "file": zs.parent_unsigned,
                       "dnssec": dnssec if dnssec is not None
                       else {"policy": "p", "keys": keys(zs)}}]}
    conf.update(extra or {})
    path = os.path.join(zs.dir, "kasp.json")
    with open(path, "w") as f:
        json.dump(conf, f)
    r = subprocess.run([GTMD, "check", "-c", path], capture_output=True, text=True, timeout=60)
    return r.returncode, r.stdout, r.stderr


def test_safe_policy_prints_its_intervals(zs):
    rc, out, err = check(zs, {"p": FAST})
    assert rc == 0, err
    assert "policy p: algorithm 13, denial nsec" in out, out
    assert "Ipub = Dprp 5 + TTLkey 10 + publish_safety 0 = 15 s" in out, out
    assert "Iret = Dsgn 0 + Dprp 5 + TTLsig 20 + retire_safety 0 = 25 s" in out, out
    assert "IretK = Dreg 7 + DprpP 3 + TTLds 30 + retire_safety 0 = 40 s" in out, out
    assert "shortest safe zsk_lifetime = Ipub + Iret = 40 s; ksk_lifetime = Ipub + IretK = 55 s" \
        in out, out
    # The next ZSK is published Ipub before the active one retires: 120 - 15.
    assert "the next ZSK is published 105 s after a ZSK becomes active" in out, out
    # The next KSK: 600 - (Ipub + IretK) = 545.
    assert "the next KSK is published 545 s after a KSK becomes active" in out, out
    # Algorithm: (0+5+20+0) + 15 + 40 + (5+10+0) = 95.
    assert "an algorithm rollover takes 95 s" in out, out
    assert "zones: %s" % ORIGIN in out, out


def test_defaults_print_a_production_timeline(zs):
    rc, out, err = check(zs, {"p": {}})
    assert rc == 0, err
    # Dprp 3600 + TTLkey 3600 + publish_safety 3600; Dsgn 0 + 3600 + 86400 + 3600.
    assert "Ipub = Dprp 3600 + TTLkey 3600 + publish_safety 3600 = 10800 s" in out, out
    assert "Iret = Dsgn 0 + Dprp 3600 + TTLsig 86400 + retire_safety 3600 = 93600 s" in out, out
    assert "ksk_lifetime none: no scheduled KSK rollover" in out, out


@pytest.mark.parametrize("key,value,want", [
    ("zsk_lifetime", 39,
     '$.dnssec_policies["p"].zsk_lifetime: 39 s is shorter than the pre-publication interval '
     "Ipub + the retire interval Iret = 15 + 25 = 40 s (Ipub = Dprp 5 + TTLkey 10 + "
     "publish_safety 0; Iret = Dsgn 0 + Dprp 5 + TTLsig 20 + retire_safety 0)"),
    ("ksk_lifetime", 54,
     '$.dnssec_policies["p"].ksk_lifetime: 54 s is shorter than the pre-publication interval '
     "Ipub + the DS interval IretK = 15 + 40 = 55 s (Ipub = Dprp 5 + TTLkey 10 + "
     "publish_safety 0; IretK = Dreg 7 + DprpP 3 + TTLds 30 + retire_safety 0)"),
    ("signature_refresh", 25,
     '$.dnssec_policies["p"].signature_refresh: 25 s is not more than Dprp + TTLsig = '
     "5 + 20 = 25 s"),
    ("signature_refresh", 3600, '$.dnssec_policies["p"].signature_refresh: must be less than '
     "signature_validity (3600)"),
    ("algorithm", 14, '$.dnssec_policies["p"].algorithm: must be 13 (ECDSA P-256 SHA-256), '
     "15 (Ed25519) or 8 (RSA SHA-256)"),
    ("zsk_lifetime", "never", '$.dnssec_policies["p"].zsk_lifetime: must be a number of seconds'),
    ("denial", "nsec5", '$.dnssec_policies["p"].denial: must be "nsec" or "nsec3"'),
    ("nsec3", {"iterations": 0, "salt_length": 8},
     '$.dnssec_policies["p"].nsec3: unknown key "salt_length"'),
])
def test_unsafe_or_wrong_policy_is_refused(zs, key, value, want):
    p = dict(FAST, **{key: value})
    if key == "nsec3":
        p["denial"] = "nsec3"
    rc, out, err = check(zs, {"p": p})
    assert rc == 1 and want in err, err
    assert "policy p:" not in out


def test_the_boundary_is_safe(zs):
    rc, out, err = check(zs, {"p": dict(FAST, zsk_lifetime=40, ksk_lifetime=55,
                                        signature_refresh=26)})
    assert rc == 0, err


@pytest.mark.parametrize("dnssec,want", [
    ({"policy": "nope", "keys": None}, '$.zones[0].dnssec: policy "nope" is not in '
     "dnssec_policies"),
    ({"policy": "p"}, '$.zones[0].dnssec.policy: needs "key_directory" (gtmd makes and '
     'rolls the keys there) or "keys"'),
    ({"key_directory": "k"}, '$.zones[0].dnssec.key_directory: needs "policy"'),
    ({"policy": "p", "keys": None, "validity": 3600},
     '$.zones[0].dnssec.validity: is set by the zone\'s "policy"'),
    ({"policy": "p", "keys": None, "denial": "nsec3"},
     '$.zones[0].dnssec.denial: is set by the zone\'s "policy"'),
])
def test_zone_policy_mistakes(zs, dnssec, want):
    if "keys" in dnssec:
        dnssec["keys"] = keys(zs)
    rc, out, err = check(zs, {"p": FAST}, dnssec)
    assert rc == 1 and want in err, err


def test_ksk_lifetime_needs_parent_servers(zs):
    parent = {k: v for k, v in FAST["parent"].items() if k != "servers"}
    rc, out, err = check(zs, {"p": dict(FAST, parent=parent)})
    assert rc == 1 and '$.dnssec_policies["p"].ksk_lifetime: needs parent.servers' in err, err
    rc, out, err = check(zs, {"p": dict(FAST, ksk_lifetime="none", parent=parent)})
    assert rc == 0, err


def test_ds_push_needs_parent_servers(zs):
    parent = {k: v for k, v in FAST["parent"].items() if k != "servers"}
    parent["ds_push"] = {"primary": "127.0.0.1:53"}
    rc, out, err = check(zs, {"p": dict(FAST, ksk_lifetime="none", parent=parent)})
    assert rc == 1 and '$.dnssec_policies["p"].parent: ds_push needs servers' in err, err


def test_ds_digest_and_check_interval(zs):
    p = dict(FAST, parent=dict(FAST["parent"], ds_digest="md5"))
    rc, out, err = check(zs, {"p": p})
    assert rc == 1 and '$.dnssec_policies["p"].parent.ds_digest: must be "sha256" or ' \
        '"sha384"' in err, err
    p = dict(FAST, parent=dict(FAST["parent"], check_interval=0))
    rc, out, err = check(zs, {"p": p})
    assert rc == 1 and '$.dnssec_policies["p"].parent.check_interval' in err, err


def test_ds_push_key_must_be_a_tsig_key(zs):
    p = dict(FAST, parent=dict(FAST["parent"], ds_push={"primary": "127.0.0.1:53",
                                                         "key": "up.example."}))
    rc, out, err = check(zs, {"p": p})
    assert rc == 1 and '$.dnssec_policies["p"]: parent.ds_push: key "up.example." is not in ' \
        "tsig_keys" in err, err
    tsig = {"tsig_keys": {"up.example.": {"secret": "c2VjcmV0c2VjcmV0c2VjcmV0"}}}
    rc, out, err = check(zs, {"p": p}, extra=tsig)
    assert rc == 0, err
    p["parent"]["ds_push"]["primary"] = "parent"
    rc, out, err = check(zs, {"p": p}, extra=tsig)
    assert rc == 1 and '$.dnssec_policies["p"].parent.ds_push.primary: must be an address' \
        in err, err


def test_policy_sets_how_the_zone_is_signed(zs):
    """The policy's denial reaches the signer: NSEC3 adds NSEC3PARAM and
    NSEC3 records, which the record count shows against NSEC."""
    rc, out_nsec, err = check(zs, {"p": FAST})
    assert rc == 0, err
    rc, out_nsec3, err = check(zs, {"p": dict(FAST, denial="nsec3")})
    assert rc == 0, err
    n = [int(o.split("zones, ")[1].split(" records")[0]) for o in (out_nsec, out_nsec3)]
    assert n[1] > n[0], (out_nsec, out_nsec3)



def test_zone_ttls_above_the_policy_are_warned_of(zs):
    """The parent zone's TTLs are 3600 (its $TTL and ldns-keygen's DNSKEY
    TTL): above FAST's zone_max_ttl 20 and dnskey_ttl 10, the timeline's
    TTLsig and TTLkey, so gtmd check warns, naming the RRset and both
    TTLs; a policy that covers them gets no such warning."""
    rc, out, err = check(zs, {"p": FAST})
    assert rc == 0, err
    assert "zone %s: " % ORIGIN in err and "has TTL 3600, more than its signing policy's " \
        "zone_max_ttl 20 (TTLsig)" in err, err
    assert "its DNSKEY RRset has TTL 3600, more than its signing policy's dnskey_ttl 10 " \
        "(TTLkey)" in err, err
    # Ipub 3605 + Iret 3605 = 7210; Ipub 3605 + IretK 40 = 3645.
    rc, out, err = check(zs, {"p": dict(FAST, zone_max_ttl=3600, dnskey_ttl=3600,
                                        zsk_lifetime=7210, ksk_lifetime=3645,
                                        signature_validity=86400, signature_refresh=3700)})
    assert rc == 0, err
    assert "signing policy's" not in err, err


BY_HAND = ('none: the keys are the operator\'s ("keys"); with "key_directory" gtmd makes '
           'and rolls them')


def tag(base):
    """The key tag in an ldns key base name (K<zone>+<alg>+<tag>)."""
    return int(base.rsplit("+", 1)[1])


def served(zs, make_gtmd):
    def mutate(c, workdir):
        c["dnssec_policies"] = {"p": FAST}
        c["zones"] = [{"origin": ORIGIN, "file": zs.parent_unsigned,
                       "dnssec": {"policy": "p", "keys": [zs.ksk, zs.zsk]}}]
    return start(make_gtmd, policy=False, mutate=mutate)


def test_api_shows_policy_and_due_times(zs, make_gtmd):
    before = int(time.time())
    g, a = served(zs, make_gtmd)
    after = int(time.time())
    assert a.get("/v1/dnssec", token=None).status == 401
    r = a.get("/v1/dnssec", token=READ_TOKEN)
    assert r.status == 200, r
    j = r.json
    assert before <= j["now"] <= int(time.time()) + 1
    [p] = j["policies"]
    assert p["name"] == "p" and p["zsk_lifetime"] == 120 and p["ksk_lifetime"] == 600
    assert p["intervals"] == {"ipub": 15, "iret": 25, "ipub_parent": 33, "iret_ksk": 40,
                              "min_zsk_lifetime": 40, "min_ksk_lifetime": 55,
                              "algorithm_rollover": 95}, p
    [z] = j["zones"]
    assert z["zone"] == ORIGIN and z["policy"] == "p"
    assert z["next_action"] == {"action": BY_HAND, "at": None}, z
    keys = {k["role"]: k for k in z["keys"]}
    assert keys["ksk"]["tag"] == tag(zs.ksk) and keys["zsk"]["tag"] == tag(zs.zsk), z
    since = keys["zsk"]["since"]
    assert before <= since <= after + 1, (before, since, after)
    for k in keys.values():
        assert k["state"] == "active" and k["algorithm"] == 13 and k["algorithm_matches"]
    # ZSK: retired at since + 120, successor published Ipub (15) before,
    # removed Iret (25) after.
    assert keys["zsk"]["due"] == {"active": since, "successor_published": since + 105,
                                  "retired": since + 120, "removed": since + 145}, keys["zsk"]
    # KSK: retired at since + 600, successor published Ipub + IretK (55)
    # before, its DS submitted Ipub (15) after that; removed as it retires.
    assert keys["ksk"]["due"] == {"active": since, "successor_published": since + 545,
                                  "successor_ds_submitted": since + 560,
                                  "retired": since + 600, "removed": since + 600}, keys["ksk"]
    assert z["policy_due"] == {"event": "publish a successor ZSK (pre-publication)",
                               "at": since + 105}, z
    # A reload with the same keys keeps their age.
    time.sleep(1.1)
    assert a.post("/v1/reload", token=OPERATE_TOKEN).status == 200
    z2 = a.get("/v1/dnssec", token=READ_TOKEN).json["zones"][0]
    assert [k["since"] for k in z2["keys"]] == [since, since], z2

    env = {"GTMCTL_SERVER": a.url, "GTMCTL_TOKEN": READ_TOKEN}
    out = gtmctl("dnssec", "status", env=env)
    assert out.returncode == 0, out.stderr
    assert "policy p: algorithm 13, denial nsec, zsk_lifetime 120 s, ksk_lifetime 600 s" \
        in out.stdout, out.stdout
    assert "Ipub 15 s, Iret 25 s, IretK 40 s; shortest safe zsk_lifetime 40 s, " \
        "ksk_lifetime 55 s; algorithm rollover 95 s" in out.stdout, out.stdout
    assert "zone %s (policy p, keys from the configuration (dnssec.keys))" % ORIGIN \
        in out.stdout, out.stdout
    assert "zsk %d algorithm 13: active since " % tag(zs.zsk) in out.stdout, out.stdout
    assert "ksk %d algorithm 13: active since " % tag(zs.ksk) in out.stdout, out.stdout
    assert "policy due: publish a successor ZSK (pre-publication) at " in out.stdout
    assert "next action: " + BY_HAND in out.stdout, out.stdout
    js = gtmctl("--json", "dnssec", "status", env=env)
    assert js.returncode == 0 and json.loads(js.stdout)["zones"][0]["policy"] == "p"
    bad = gtmctl("dnssec", "rollover", env=env)
    assert bad.returncode != 0 and "dnssec status" in bad.stderr


def nsec3param(g):
    q = dns.message.make_query(ORIGIN, "NSEC3PARAM", want_dnssec=True)
    r = dns.query.udp(q, g.addr, port=g.port, timeout=3)
    return [rr for rrset in r.answer for rr in rrset
            if rrset.rdtype == dns.rdatatype.NSEC3PARAM]


def test_a_reload_of_the_policy_alone_re_signs_the_zone(zs, make_gtmd):
    """The zone's entry stays and its policy changes (nsec to nsec3 with 5
    iterations): the reload signs the zone anew on the policy's
    settings, and /v1/dnssec shows the new policy."""
    g, a = served(zs, make_gtmd)
    assert nsec3param(g) == []
    g.config["dnssec_policies"]["p"] = dict(FAST, denial="nsec3", nsec3={"iterations": 5})
    g.write_config()
    r = a.post("/v1/reload", token=OPERATE_TOKEN)
    assert r.status == 200, r
    [p] = nsec3param(g)
    assert p.iterations == 5, p
    assert a.get("/v1/dnssec", token=READ_TOKEN).json["policies"][0]["denial"] == "nsec3"

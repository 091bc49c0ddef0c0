"""Signing at load (zone entry "dnssec": {"keys": ...}, zone_sign.c): gtmd
check signs the unsigned file and the result passes its own verification;
keys that are missing, unreadable, of another zone, of an unsupported
algorithm or whose .key and .private do not match are errors naming the
config's JSON path; a file that already holds signatures is refused;
signing settings without keys are refused. The answers themselves are
validated by Unbound in test_dnssec_validate.py (load-nsec, load-nsec3)."""
import json
import os
import shutil
import subprocess
import tempfile
import time

import dns.exception
import dns.message
import dns.query
import dns.rdatatype
import pytest

from conftest import GTMD, Gtmd, free_port
from dnssec_zones import KEYGEN, ORIGIN, SignedSet, missing_tools, policy_pool


@pytest.fixture(scope="module")
def zs():
    tool = missing_tools()
    if tool:
        pytest.skip("ldnsutils not installed (%s missing)" % tool)
    d = tempfile.mkdtemp(prefix="gtmd-sign-load-")
    try:
        yield SignedSet(d, "nsec")
    finally:
        shutil.rmtree(d, ignore_errors=True)


def _check(zs, dnssec, zone_file=None):
    """gtmd check on a config (in zs.dir) signing zone_file (default: the
    unsigned parent) with dnssec; (rc, output)."""
    entry = {"origin": ORIGIN, "file": zone_file or zs.parent_unsigned, "dnssec": dnssec}
    cfg = os.path.join(zs.dir, "sign.json")
    with open(cfg, "w") as f:
        json.dump({"listen": ["127.0.0.1:5353"], "zones": [entry]}, f)
    p = subprocess.run([GTMD, "check", "-c", cfg], capture_output=True, text=True, timeout=60)
    return p.returncode, p.stdout + p.stderr


def _rel(zs, *keys):
    return [os.path.basename(k) for k in keys]


@pytest.mark.parametrize("denial", ["nsec", "nsec3"])
def test_check_signs_and_verifies(zs, denial):
    rc, out = _check(zs, {"keys": _rel(zs, zs.ksk, zs.zsk), "denial": denial})
    assert rc == 0, out
    assert "ok (1 zones" in out


def test_zsk_alone_signs_everything(zs):
    rc, out = _check(zs, {"keys": _rel(zs, zs.zsk)})
    assert rc == 0, out


def test_missing_key_names_the_json_path(zs):
    rc, out = _check(zs, {"keys": [os.path.basename(zs.ksk), "Knope.+013+00001"]})
    assert rc != 0
    assert "$.zones[0].dnssec.keys[1]" in out and "Knope.+013+00001.key" in out, out


def test_missing_private_file(zs, tmp_path):
    shutil.copy(zs.zsk + ".key", tmp_path / "Konly.key")
    rc, out = _check(zs, {"keys": [str(tmp_path / "Konly")]})
    assert rc != 0
    assert "$.zones[0].dnssec.keys[0]" in out and "Konly.private" in out, out


def test_mismatched_key_pair(zs, tmp_path):
    shutil.copy(zs.zsk + ".key", tmp_path / "Kmix.key")
    shutil.copy(zs.ksk + ".private", tmp_path / "Kmix.private")
    rc, out = _check(zs, {"keys": [str(tmp_path / "Kmix")]})
    assert rc != 0
    assert "$.zones[0].dnssec.keys[0]" in out and "does not match" in out, out


def test_key_of_another_zone(zs):
    other = subprocess.run([KEYGEN, "-a", "ECDSAP256SHA256", "other.test."], cwd=zs.dir,
                           check=True, capture_output=True, text=True).stdout.strip()
    rc, out = _check(zs, {"keys": [other]})
    assert rc != 0
    assert "another zone" in out and "$.zones[0].dnssec.keys[0]" in out, out


def test_unsupported_algorithm(zs):
    rsa1 = subprocess.run([KEYGEN, "-a", "RSASHA1", "-b", "1024", ORIGIN], cwd=zs.dir,
                          capture_output=True, text=True)
    if rsa1.returncode != 0:
        pytest.skip("ldns-keygen cannot make an RSASHA1 key here")
    rc, out = _check(zs, {"keys": [rsa1.stdout.strip()]})
    assert rc != 0
    assert "algorithm" in out and "$.zones[0].dnssec.keys[0]" in out, out


@pytest.mark.parametrize("alg", ["ED25519", "RSASHA256"])
def test_other_algorithms_sign(zs, alg, tmp_path):
    argv = [KEYGEN, "-a", alg] + (["-b", "2048"] if alg.startswith("RSA") else [])
    k = subprocess.run(argv + [ORIGIN], cwd=str(tmp_path), capture_output=True, text=True)
    if k.returncode != 0:
        pytest.skip("ldns-keygen cannot make %s keys here" % alg)
    rc, out = _check(zs, {"keys": [str(tmp_path / k.stdout.strip())], "denial": "nsec3"})
    assert rc == 0, out


def test_signed_file_is_refused(zs):
    rc, out = _check(zs, {"keys": _rel(zs, zs.zsk)}, zone_file=zs.parent)
    assert rc != 0
    assert "signed at load" in out and "RRSIG" in out, out


@pytest.mark.parametrize("dnssec,path", [
    ({"validity": 86400}, "$.zones[0].dnssec.validity"),
    ({"keys": []}, "$.zones[0].dnssec.keys"),
    ({"keys": ["K"], "denial": "nsec5"}, "$.zones[0].dnssec.denial"),
    ({"keys": ["K"], "nsec3": {"salt": "xyz"}}, "$.zones[0].dnssec.nsec3.salt"),
    ({"keys": ["K"], "nsec3": {"iterations": 500}}, "$.zones[0].dnssec.nsec3.iterations"),
    ({"keys": ["K"], "validity": 7200, "refresh": 7200}, "$.zones[0].dnssec.refresh"),
])
def test_bad_settings(zs, dnssec, path):
    rc, out = _check(zs, dnssec)
    assert rc != 0
    assert path in out, out


def test_served_answers_carry_fresh_signatures(zs):
    """The running server answers with RRSIGs made at load by the ZSK,
    valid from about now for "validity" seconds."""
    port = free_port()
    d = os.path.join(zs.dir, "srv")
    os.makedirs(d, exist_ok=True)
    cfg = {"listen": ["127.0.0.1:%d" % port], "workers": 1,
           "zones": [{"origin": ORIGIN, "file": zs.parent_unsigned,
                      "dnssec": {"keys": [zs.ksk, zs.zsk], "validity": 86400 * 3,
                                 "refresh": 86400}}]}
    g = Gtmd(d, cfg, port).start()
    try:
        q = dns.message.make_query("www." + ORIGIN, "A", want_dnssec=True)
        r = dns.query.udp(q, "127.0.0.1", port=port, timeout=5)
        sigs = [rr for rrset in r.answer if rrset.rdtype == dns.rdatatype.RRSIG for rr in rrset]
        assert len(sigs) == 1, r
        life = sigs[0].expiration - sigs[0].inception
        assert 86400 * 3 <= life <= 86400 * 3 + 3600 + 5, life
        zsk_tag = int(os.path.basename(zs.zsk).split("+")[-1])
        assert sigs[0].key_tag == zsk_tag
        q = dns.message.make_query(ORIGIN, "DNSKEY", want_dnssec=True)
        r = dns.query.udp(q, "127.0.0.1", port=port, timeout=5)
        keys = [rr for rrset in r.answer if rrset.rdtype == dns.rdatatype.DNSKEY for rr in rrset]
        assert sorted(k.flags for k in keys) == [256, 257], r
    finally:
        g.stop()
        g.check_sanitizer()


def _rrsig_of(port, name, rdtype):
    q = dns.message.make_query(name, rdtype, want_dnssec=True)
    r = dns.query.udp(q, "127.0.0.1", port=port, timeout=2)
    sigs = [rr for rrset in r.answer if rrset.rdtype == dns.rdatatype.RRSIG for rr in rrset]
    assert r.rcode() == 0 and len(sigs) == 1, r
    return sigs[0]


def test_resigns_before_expiry_while_answering(zs):
    """validity 60, refresh 54: gtmd re-signs every 6 s without a reload;
    queries sent all the while are answered, each with a valid-looking
    RRSIG, and the signatures get newer."""
    port = free_port()
    d = os.path.join(zs.dir, "resign")
    os.makedirs(d, exist_ok=True)
    cfg = {"listen": ["127.0.0.1:%d" % port], "workers": 1,
           "zones": [{"origin": ORIGIN, "file": zs.parent_unsigned,
                      "dnssec": {"keys": [zs.ksk, zs.zsk], "denial": "nsec3",
                                 "validity": 60, "refresh": 54}}]}
    g = Gtmd(d, cfg, port).start()
    try:
        first = _rrsig_of(port, "www." + ORIGIN, "A")
        inceptions = {first.inception}
        deadline = time.time() + 20
        answered = 0
        while time.time() < deadline and len(inceptions) < 3:  # bounded by the deadline
            s = _rrsig_of(port, "www." + ORIGIN, "A")
            answered += 1
            assert s.expiration - s.inception == 60 + 3600
            inceptions.add(s.inception)
            time.sleep(0.05)
        assert len(inceptions) >= 3, (inceptions, answered)
        assert max(inceptions) - first.inception >= 10
        log = g.read_log()
        assert "event=resign result=ok" in log, log
        assert "event=reload" not in log, log
    finally:
        g.stop()
        g.check_sanitizer()


def test_resign_keeps_identity_cookies_and_rate_limiting(zs):
    """A re-sign builds a new served set from the current one: the identity,
    the cookie secret (a cookie given out before stays valid) and the rate
    limiting (its parameters and its buckets) go on unchanged."""
    import dns.edns
    port = free_port()
    d = os.path.join(zs.dir, "resign-guard")
    os.makedirs(d, exist_ok=True)
    cfg = {"listen": ["127.0.0.1:%d" % port], "workers": 1, "identity": "signer-1",
           "rrl": {"rate": 3, "slip": 0, "window": 60, "whitelist": ["10.0.0.0/8"]},
           "zones": [{"origin": ORIGIN, "file": zs.parent_unsigned,
                      "dnssec": {"keys": [zs.ksk, zs.zsk], "validity": 60, "refresh": 56}}]}
    g = Gtmd(d, cfg, port).start()
    try:
        client = bytes.fromhex("0102030405060708")
        q = dns.message.make_query("www." + ORIGIN, "A", use_edns=0,
                                   options=[dns.edns.GenericOption(dns.edns.COOKIE, client)])
        r = dns.query.tcp(q, "127.0.0.1", port=port, timeout=2)
        cookie = [o for o in r.options if o.otype == dns.edns.COOKIE][0].to_wire()
        # Put the /24 of 127.0.0.1 deep into debt (window 60 s).
        s = __import__("socket").socket(__import__("socket").AF_INET,
                                        __import__("socket").SOCK_DGRAM)
        plain = dns.message.make_query("www." + ORIGIN, "A")
        for _ in range(50):
            s.sendto(plain.to_wire(), ("127.0.0.1", port))
        s.close()
        deadline = time.time() + 15
        while "event=resign result=ok" not in g.read_log() and time.time() < deadline:
            time.sleep(0.1)  # bounded by the deadline
        assert "event=resign result=ok" in g.read_log(), g.read_log()
        ch = dns.query.tcp(dns.message.make_query("id.server.", "TXT", rdclass="CH"),
                           "127.0.0.1", port=port, timeout=2)
        assert ch.answer and b"".join(ch.answer[0][0].strings) == b"signer-1"
        with_cookie = dns.message.make_query(
            "www." + ORIGIN, "A", use_edns=0,
            options=[dns.edns.GenericOption(dns.edns.COOKIE, cookie)])
        r = dns.query.udp(with_cookie, "127.0.0.1", port=port, timeout=2)
        assert r.rcode() == 0 and r.answer, "the cookie from before the re-sign is valid"
        try:
            dns.query.udp(plain, "127.0.0.1", port=port, timeout=0.5)
            limited = False
        except dns.exception.Timeout:
            limited = True
        assert limited, "the bucket in debt was kept across the re-sign"
    finally:
        g.stop()
        g.check_sanitizer()


def test_resign_keeps_tsig_keys_and_the_transfer_key(zs):
    """A re-sign builds a new served set from the current configuration,
    whose TSIG keys the first set had taken: the new set had no keys, so
    signed queries got BADKEY and a zone whose "transfer" needs a key was
    transferred to any allowed address without one (found while checking
    TSIG for issue #37; this test failed there). The keys, the zone's key
    and the replay cache now go on across re-signs."""
    import base64
    import dns.rcode
    import dns.tsigkeyring
    import dns.zone
    port = free_port()
    d = os.path.join(zs.dir, "resign-tsig")
    os.makedirs(d, exist_ok=True)
    key, secret = "xfr-key.", base64.b64encode(bytes(range(32))).decode()
    cfg = {"listen": ["127.0.0.1:%d" % port], "workers": 1,
           "tsig_keys": {key: {"algorithm": "hmac-sha256", "secret": secret}},
           "zones": [{"origin": ORIGIN, "file": zs.parent_unsigned,
                      "transfer": {"allow": ["127.0.0.1"], "key": key},
                      "dnssec": {"keys": [zs.ksk, zs.zsk], "validity": 60, "refresh": 56}}]}
    g = Gtmd(d, cfg, port).start()
    keyring = dns.tsigkeyring.from_text({key: ("hmac-sha256", secret)})

    def unsigned_axfr_refused():
        q = dns.message.make_query(ORIGIN, "AXFR")
        r = dns.query.tcp(q, "127.0.0.1", port=port, timeout=5)
        return r.rcode() == dns.rcode.NOTAUTH and not r.answer

    try:
        assert unsigned_axfr_refused()
        deadline = time.time() + 15
        while g.read_log().count("event=resign result=ok") < 2 and time.time() < deadline:
            time.sleep(0.1)  # bounded by the deadline
        assert g.read_log().count("event=resign result=ok") >= 2, g.read_log()
        assert unsigned_axfr_refused(), "the transfer key was lost by the re-sign"
        z = dns.zone.from_xfr(dns.query.xfr("127.0.0.1", ORIGIN, port=port, keyring=keyring,
                                            keyname=key, keyalgorithm="hmac-sha256",
                                            lifetime=20))
        assert z.get_rdataset("@", "SOA") is not None
        q = dns.message.make_query("www." + ORIGIN, "A")
        q.use_tsig(keyring, keyname=key, algorithm="hmac-sha256")
        r = dns.query.udp(q, "127.0.0.1", port=port, timeout=2)
        assert r.rcode() == 0 and r.answer, r
    finally:
        g.stop()
        g.check_sanitizer()


def test_policy_record_in_zone_signed_at_load(zs):
    """A policy record in a zone signed at load is accepted (its answers are
    signed as they change, test_dnssec_policy.py), except with
    "when_all_down": "empty", whose NODATA the name's NSEC cannot prove."""
    cfg = os.path.join(zs.dir, "policy.json")

    def write(**record):
        with open(cfg, "w") as f:
            json.dump({"listen": ["127.0.0.1:5353"],
                       "zones": [{"origin": ORIGIN, "file": zs.parent_unsigned,
                                  "dnssec": {"keys": [zs.ksk, zs.zsk]}}],
                       **policy_pool("gtm." + ORIGIN, location=None, **record)}, f)
    write()
    p = subprocess.run([GTMD, "check", "-c", cfg], capture_output=True, text=True, timeout=60)
    assert p.returncode == 0, p.stderr
    write(when_all_down="empty")
    p = subprocess.run([GTMD, "check", "-c", cfg], capture_output=True, text=True, timeout=60)
    assert p.returncode == 1, p.stderr
    assert "gtm.dnssec.test." in p.stderr and "when_all_down" in p.stderr, p.stderr
    assert "cannot be proven" in p.stderr and "without keys" not in p.stderr, p.stderr


def test_prepublished_dnskey_in_file_is_served_once(zs, tmp_path):
    """ZSK rollover step 1: the new key's DNSKEY in the zone file is
    published (not used to sign); a configured key also present in the
    file appears once."""
    new = subprocess.run([KEYGEN, "-a", "ECDSAP256SHA256", ORIGIN], cwd=str(tmp_path), check=True,
                         capture_output=True, text=True).stdout.strip()
    zone = tmp_path / "prepub.zone"
    text = open(zs.parent_unsigned).read()
    for k in (zs.zsk + ".key", str(tmp_path / new) + ".key"):
        text += "".join(l for l in open(k) if not l.startswith(";"))
    zone.write_text(text)
    port = free_port()
    cfg = {"listen": ["127.0.0.1:%d" % port], "workers": 1,
           "zones": [{"origin": ORIGIN, "file": str(zone),
                      "dnssec": {"keys": [zs.ksk, zs.zsk]}}]}
    g = Gtmd(str(tmp_path), cfg, port).start()
    try:
        q = dns.message.make_query(ORIGIN, "DNSKEY", want_dnssec=True)
        r = dns.query.udp(q, "127.0.0.1", port=port, timeout=5)
        keys = [rr for rrset in r.answer if rrset.rdtype == dns.rdatatype.DNSKEY for rr in rrset]
        assert sorted(k.flags for k in keys) == [256, 256, 257], r
        sigs = [rr for rrset in r.answer if rrset.rdtype == dns.rdatatype.RRSIG for rr in rrset]
        assert [s.key_tag for s in sigs] == [int(zs.ksk.split("+")[-1])], r
    finally:
        g.stop()
        g.check_sanitizer()


def test_duplicates_in_file_check_clean(zs, tmp_path):
    """A record written twice and a configured key's DNSKEY also in the
    file: signed once each, and (under ASan) nothing leaks in gtmd check."""
    zone = tmp_path / "dup.zone"
    text = open(zs.parent_unsigned).read() + "www IN A 127.0.0.80\n"
    text += "".join(l for l in open(zs.zsk + ".key") if not l.startswith(";"))
    zone.write_text(text)
    rc, out = _check(zs, {"keys": [zs.ksk, zs.zsk]}, zone_file=str(zone))
    assert rc == 0, out
    assert "LeakSanitizer" not in out, out


@pytest.mark.parametrize("denial", ["nsec", "nsec3"])
def test_zone_signed_at_load_is_transferred_signed(zs, denial):
    """A zone gtmd signs at load goes out signed in an AXFR (RFC 5936):
    every RRset that the signing covers arrives with its RRSIGs, which
    dnspython validates against the transferred DNSKEY set, and so does the
    NSEC or NSEC3 chain."""
    import dns.dnssec
    import dns.name
    import dns.rdataclass
    import dns.rrset
    import dns.zone

    port = free_port()
    d = os.path.join(zs.dir, "xfr-" + denial)
    os.makedirs(d, exist_ok=True)
    cfg = {"listen": ["127.0.0.1:%d" % port], "workers": 1,
           "zones": [{"origin": ORIGIN, "file": zs.parent_unsigned,
                      "dnssec": {"keys": [zs.ksk, zs.zsk], "denial": denial},
                      "transfer": {"allow": ["127.0.0.1"]}}]}
    g = Gtmd(d, cfg, port).start()
    try:
        z = dns.zone.from_xfr(dns.query.xfr("127.0.0.1", ORIGIN, port=port, lifetime=20,
                                            relativize=False), relativize=False)
    finally:
        g.stop()
        g.check_sanitizer()
    origin = dns.name.from_text(ORIGIN)
    keys = {origin: z.find_rdataset(origin, "DNSKEY")}
    validated, types = 0, set()
    for name, node in z.nodes.items():
        for rds in node.rdatasets:
            if rds.rdtype != dns.rdatatype.RRSIG:
                continue
            covered = node.get_rdataset(dns.rdataclass.IN, rds.covers)
            assert covered is not None, (name, rds.covers)
            dns.dnssec.validate((name, covered), (name, rds), keys)
            validated += 1
            types.add(dns.rdatatype.to_text(rds.covers))
    chain = "NSEC3" if denial == "nsec3" else "NSEC"
    assert {"SOA", "DNSKEY", "A", "MX", chain} <= types, types
    assert validated >= 15, validated

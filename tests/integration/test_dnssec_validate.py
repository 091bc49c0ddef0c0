"""A real validator in front of gtmd: Unbound (Debian unbound) with the
parent zone's KSK as its trust anchor and stub zones pointing at gtmd, which
serves dnssec.test. (signed at test time with NSEC, NSEC3 or NSEC3 opt-out),
sec.dnssec.test. (signed, DS in the parent) and insec.dnssec.test.
(unsigned, no DS). The "load-nsec" and "load-nsec3" cases give gtmd the
unsigned parent and its keys: gtmd signs it at load. Every answer from a signed part must come back secure
(AD); the insecure delegation must come back insecure, never SERVFAIL.

Unbound asks gtmd for the DNSKEYs, the DS of the child and every proof, so
a missing or wrong RRSIG, NSEC or NSEC3 record makes it answer SERVFAIL.
BIND's delv checks the raw replies of gtmd too, without a resolver in
between (it validates what gtmd itself sends)."""
import os
import shutil
import subprocess
import tempfile

import dns.flags
import dns.message
import dns.query
import dns.rcode
import pytest

from conftest import Gtmd, free_port
from dnssec_zones import CHILD, DENIALS, INSEC, OPTOUT, ORIGIN, SignedSet, missing_tools
import unboundlib
from unboundlib import UNBOUND

DELV = "/usr/bin/delv"
ADDR = "127.0.0.1"


class Unbound(unboundlib.Unbound):
    """The validating resolver of these tests (unboundlib), reaching the
    three zones on gtmd; cache-max-ttl 1 so that each question shows what
    gtmd answers now."""

    def __init__(self, workdir, gport, anchor):
        super().__init__(os.path.join(workdir, "unbound"),
                         [(z, gport) for z in (ORIGIN, CHILD, INSEC)], anchor, cache_max_ttl=1)

    def wait_ready(self, timeout=15.0):
        return super().wait_ready(ORIGIN, timeout)


# Signed by gtmd at load (zone entry "dnssec": {"keys": ...}).
LOAD_DENIALS = ("load-nsec", "load-nsec3")


def _parent_entry(zones, gdir, denial):
    """The config entry of the parent: the signed file, or (load-*) the
    unsigned file with the keys, named relative to the config."""
    if not denial.startswith("load-"):
        return {"origin": ORIGIN, "file": zones.parent}
    keys = [os.path.relpath(k, gdir) for k in (zones.ksk, zones.zsk)]
    dnssec = {"keys": keys, "denial": denial[5:]}
    if denial == "load-nsec3":
        dnssec["nsec3"] = {"iterations": 1, "salt": "beef"}
    return {"origin": ORIGIN, "file": zones.parent_unsigned, "dnssec": dnssec}


@pytest.fixture(scope="module", params=DENIALS + LOAD_DENIALS)
def validator(request):
    tool = missing_tools(request.param.replace("load-", ""))
    if tool:
        pytest.skip("signing tools not installed (%s missing)" % tool)
    if not os.access(UNBOUND, os.X_OK):
        pytest.skip("unbound is not installed")
    workdir = tempfile.mkdtemp(prefix="gtmd-validate-")
    g = u = None
    try:
        zones = SignedSet(workdir, request.param.replace("load-", ""))
        gdir = os.path.join(workdir, "gtmd")
        os.mkdir(gdir)
        gport = free_port()
        cfg = {"listen": ["%s:%d" % (ADDR, gport)], "workers": 1,
               "zones": [_parent_entry(zones, gdir, request.param),
                         {"origin": CHILD, "file": zones.child},
                         {"origin": INSEC, "file": zones.insec}]}
        g = Gtmd(gdir, cfg, gport).start()
        u = Unbound(workdir, gport, zones.ksk + ".key")
        if not u.wait_ready():
            pytest.fail("unbound did not start: " + u.log())
        u.gport = gport
        u.zones = zones
        yield u, request.param
    finally:
        if u:
            u.stop()
        if g:
            g.stop()
            g.check_sanitizer()
        shutil.rmtree(workdir, ignore_errors=True)


def _n(label):
    return label if label.endswith(".") else label + "." + ORIGIN


# name, type, expected rcode, whether the answer section has data, whether
# the proof needs an NSEC3 covering the next closer name (NXDOMAIN and
# wildcard answers): in a zone whose NSEC3 records all have the opt-out
# flag, such a proof only shows that an unsigned delegation might exist
# there, so a validator takes it as insecure (RFC 5155 §9.2), not bogus.
SECURE = [
    ("www", "A", dns.rcode.NOERROR, True, False),
    ("www", "AAAA", dns.rcode.NOERROR, True, False),
    (ORIGIN, "SOA", dns.rcode.NOERROR, True, False),
    (ORIGIN, "NS", dns.rcode.NOERROR, True, False),
    (ORIGIN, "MX", dns.rcode.NOERROR, True, False),
    (ORIGIN, "DNSKEY", dns.rcode.NOERROR, True, False),
    ("_sip._tcp", "SRV", dns.rcode.NOERROR, True, False),
    ("nope", "A", dns.rcode.NXDOMAIN, False, True),
    ("a.b.nope", "A", dns.rcode.NXDOMAIN, False, True),
    ("www", "MX", dns.rcode.NOERROR, False, False),
    ("ent", "A", dns.rcode.NOERROR, False, False),
    ("c.ent", "TXT", dns.rcode.NOERROR, False, False),
    ("x.c.ent", "A", dns.rcode.NXDOMAIN, False, True),
    ("alias", "A", dns.rcode.NOERROR, True, False),
    ("chain1", "AAAA", dns.rcode.NOERROR, True, False),
    ("alias", "MX", dns.rcode.NOERROR, True, False),
    ("dangling", "A", dns.rcode.NXDOMAIN, True, True),
    ("foo.wild", "A", dns.rcode.NOERROR, True, True),
    ("a.b.c.wild", "TXT", dns.rcode.NOERROR, True, True),
    ("foo.wild", "MX", dns.rcode.NOERROR, False, True),
    ("wild", "A", dns.rcode.NOERROR, False, False),
    ("foo.wcname", "A", dns.rcode.NOERROR, True, True),
    ("dn", "DNAME", dns.rcode.NOERROR, True, False),
    ("foo.dn", "A", dns.rcode.NOERROR, True, True),
    ("sec", "DS", dns.rcode.NOERROR, True, False),
    ("www.sec", "A", dns.rcode.NOERROR, True, False),
    ("sec", "DNSKEY", dns.rcode.NOERROR, True, False),
    ("nope.sec", "A", dns.rcode.NXDOMAIN, False, False),
]
# (DS at the apex of dnssec.test. is the parent's (test.) business, which
# Unbound would ask the root about; test_dnssec_peers.py covers gtmd's
# answer.)

# Denial of a DS: secure with NSEC and NSEC3 and with ldns's opt-out (the
# delegations keep their NSEC3); when the signer leaves insecure delegations
# out of the chain, the closest provable encloser proof only shows that an
# unsigned delegation may exist there (insecure, RFC 5155 §6).
DS_DENIALS = [("insec", "DS"), ("ext", "DS")]


@pytest.mark.parametrize("name,rdtype,rcode,data,cover", SECURE,
                         ids=["%s/%s" % (c[0], c[1]) for c in SECURE])
def test_validator_gets_secure_answers(validator, name, rdtype, rcode, data, cover):
    u, denial = validator
    r = u.ask(_n(name), rdtype)
    assert r.rcode() == rcode, "%s %s (%s): %s\n%s" % (
        name, rdtype, denial, dns.rcode.to_text(r.rcode()), u.log())
    want_ad = not (cover and denial in OPTOUT)
    assert bool(r.flags & dns.flags.AD) == want_ad, "%s %s (%s): AD should be %s:\n%s\n%s" % (
        name, rdtype, denial, want_ad, r, u.log())
    assert bool(r.answer) == data, r


@pytest.mark.parametrize("name,rdtype", DS_DENIALS, ids=["%s/%s" % c for c in DS_DENIALS])
def test_validator_ds_denial(validator, name, rdtype):
    u, denial = validator
    r = u.ask(_n(name), rdtype)
    assert r.rcode() == dns.rcode.NOERROR and not r.answer, "%s (%s): %s\n%s" % (
        name, denial, r, u.log())
    secure = bool(r.flags & dns.flags.AD)
    assert secure == (denial != "nsec3-optout-omit"), "%s (%s): AD=%s\n%s" % (name, denial, secure, r)


def test_validator_insecure_delegation(validator):
    """Names below the unsigned child: insecure (no AD), but answered."""
    u, denial = validator
    r = u.ask(_n("www.insec"), "A")
    assert r.rcode() == dns.rcode.NOERROR, "%s: %s\n%s" % (denial, r, u.log())
    assert not r.flags & dns.flags.AD
    assert [rr.to_text() for rrset in r.answer for rr in rrset] == ["127.0.0.154"]


def _delv_anchor(zones):
    """The KSK as a BIND trust-anchors clause for delv -a."""
    path = os.path.join(zones.dir, "anchors.conf")
    for line in open(zones.ksk + ".key"):
        f = line.split(";")[0].split()  # OWNER [TTL] IN DNSKEY FLAGS PROTO ALG KEY...
        if "DNSKEY" in f:
            k = f.index("DNSKEY")
            with open(path, "w") as out:
                out.write('trust-anchors { "%s" static-key %s %s %s "%s"; };\n'
                          % (f[0], f[k + 1], f[k + 2], f[k + 3], "".join(f[k + 4:])))
            return path
    raise AssertionError("no DNSKEY in " + zones.ksk + ".key")


# name, type, what delv must say, whether an opt-out chain makes it an
# unsigned answer (BIND takes an NXDOMAIN with an opt-out cover as
# validated, a wildcard answer as insecure; Unbound both as insecure)
DELV_CASES = [
    ("www", "A", "; fully validated", False),
    ("www", "MX", "; negative response, fully validated", False),
    ("nope", "A", "; negative response, fully validated", False),
    ("foo.wild", "A", "; fully validated", True),
    ("sec", "DS", "; fully validated", False),
    ("chain1", "A", "; fully validated", False),
]


@pytest.mark.parametrize("name,rdtype,want,cover", DELV_CASES,
                         ids=["%s/%s" % (c[0], c[1]) for c in DELV_CASES])
def test_delv_validates_raw_replies(validator, name, rdtype, want, cover):
    """delv (BIND) asks gtmd directly, with dnssec.test. as its root of
    trust; opt-out proofs make it say the answer is unsigned (insecure)."""
    u, denial = validator
    if not os.access(DELV, os.X_OK):
        pytest.skip("delv is not installed (bind9-dnsutils)")
    p = subprocess.run([DELV, "@" + ADDR, "-p", str(u.gport), "-a", _delv_anchor(u.zones),
                        "+root=" + ORIGIN, _n(name), rdtype], capture_output=True, text=True,
                       timeout=30)
    out = p.stdout + p.stderr
    if cover and denial in OPTOUT:
        want = "; unsigned answer"
    assert want in out.splitlines(), "%s %s (%s):\n%s" % (name, rdtype, denial, out)

"""Signing with two algorithms at once (RFC 6840 5.11, RFC 6781 4.1.4): a
zone signed at load with the keys of algorithms 13 and 15 (a KSK and a
ZSK each, as in the middle of an algorithm rollover) carries an RRSIG of
each algorithm on every RRset: the static ones, the NSEC or NSEC3 chain,
the DNSKEY RRset, and the policy answers signed online. The AXFR of it
passes ldns-verify-zone and Knot's kzonecheck."""
import os
import shutil
import subprocess
import tempfile

import dns.flags
import dns.message
import dns.name
import dns.query
import dns.rdataclass
import dns.rdatatype
import dns.zone
import pytest

from conftest import Gtmd, free_port
from dnssec_zones import KEYGEN, ORIGIN, SignedSet, missing_tools, policy_pool

VERIFY = "/usr/bin/ldns-verify-zone"
KZONECHECK = "/usr/bin/kzonecheck"


def _keygen(d, alg, ksk):
    argv = [KEYGEN, "-a", alg] + (["-k"] if ksk else []) + [ORIGIN]
    p = subprocess.run(argv, cwd=d, capture_output=True, text=True)
    if p.returncode != 0:
        pytest.skip("ldns-keygen cannot make %s keys here" % alg)
    return os.path.join(d, p.stdout.strip())


@pytest.fixture(scope="module")
def zs():
    tool = missing_tools() or next((t for t in (VERIFY, KZONECHECK)
                                    if not os.access(t, os.X_OK)), None)
    if tool:
        pytest.skip("%s is not installed" % tool)
    d = tempfile.mkdtemp(prefix="gtmd-multialg-")
    try:
        s = SignedSet(d, "nsec")
        s.keys15 = [_keygen(d, "ED25519", True), _keygen(d, "ED25519", False)]
        yield s
    finally:
        shutil.rmtree(d, ignore_errors=True)


def _sig_algs(rrsets, name, rdtype):
    """The algorithms of the RRSIGs over (name, rdtype) in rrsets."""
    return {r.algorithm for rs in rrsets if rs.name == name and rs.rdtype == dns.rdatatype.RRSIG
            for r in rs if r.type_covered == rdtype}


@pytest.mark.parametrize("denial,csk", [("nsec", False), ("nsec3", False), ("nsec", True)])
def test_two_algorithms_sign_everything(zs, denial, csk):
    """csk: algorithm 15 has a KSK alone (a CSK), which signs every RRset
    of its algorithm, policy answers included."""
    port = free_port()
    keys15 = zs.keys15[:1] if csk else zs.keys15
    d = os.path.join(zs.dir, "run-%s-%d" % (denial, csk))
    os.makedirs(d, exist_ok=True)
    cfg = {"listen": ["127.0.0.1:%d" % port], "workers": 1,
           "zones": [{"origin": ORIGIN, "file": zs.parent_unsigned,
                      "dnssec": {"keys": [zs.ksk, zs.zsk] + keys15, "denial": denial},
                      "transfer": {"allow": ["127.0.0.1"]}}],
           **policy_pool("gtm." + ORIGIN, location=None)}
    g = Gtmd(d, cfg, port).start()
    try:
        z = dns.zone.from_xfr(dns.query.xfr("127.0.0.1", ORIGIN, port=port, lifetime=20,
                                            relativize=False), relativize=False)
        q = dns.message.make_query("gtm." + ORIGIN, "A", want_dnssec=True)
        r = dns.query.udp(q, "127.0.0.1", port=port, timeout=5)
    finally:
        g.stop()
        g.check_sanitizer()
    # Every RRset but the RRSIGs themselves carries both algorithms.
    cuts = [n for n, node in z.nodes.items() if n != z.origin and
            node.get_rdataset(dns.rdataclass.IN, dns.rdatatype.NS) is not None]
    missing = []
    for name, node in z.nodes.items():
        sigs = {}
        for rds in node.rdatasets:
            if rds.rdtype == dns.rdatatype.RRSIG:
                for s in rds:
                    sigs.setdefault(s.type_covered, set()).add(s.algorithm)
        for rds in node.rdatasets:
            if rds.rdtype == dns.rdatatype.RRSIG:
                continue
            if rds.rdtype != dns.rdatatype.DS and any(name.is_subdomain(c) for c in cuts):
                continue  # a delegation's NS and glue are not signed (RFC 4035 2.2)
            if sigs.get(rds.rdtype, set()) != {13, 15}:
                missing.append((str(name), dns.rdatatype.to_text(rds.rdtype),
                                sorted(sigs.get(rds.rdtype, set()))))
    assert not missing, missing
    chain = dns.rdatatype.NSEC3 if denial == "nsec3" else dns.rdatatype.NSEC
    assert any(rds.rdtype == chain for _, node in z.nodes.items() for rds in node.rdatasets)
    # The online-signed policy answer carries both algorithms too.
    assert _sig_algs(r.answer, dns.name.from_text("gtm." + ORIGIN), dns.rdatatype.A) == {13, 15}, r
    # ldns-verify-zone and kzonecheck on the transferred zone.
    path = os.path.join(d, "axfr.zone")
    with open(path, "w") as f:
        f.write(z.to_text(relativize=False))
    v = subprocess.run([VERIFY, path], capture_output=True, text=True, timeout=60)
    assert v.returncode == 0, v.stdout + v.stderr
    k = subprocess.run([KZONECHECK, "-o", ORIGIN, "-d", "on", path], capture_output=True,
                       text=True, timeout=60)
    assert k.returncode == 0, k.stdout + k.stderr

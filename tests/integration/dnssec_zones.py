"""Signed test zones, made at test time with ldns (Debian ldnsutils): fresh
ECDSA P-256 keys from ldns-keygen and ldns-signzone with NSEC, NSEC3 or
NSEC3 with opt-out (ldns sets the flag but keeps insecure delegations in
the chain); "nsec3-optout-omit" is signed by BIND's dnssec-signzone (Debian
bind9-utils) with opt-out, which leaves insecure delegations out of the
chain. No private key is kept in the tree; everything lives in the
caller's temporary directory.

The parent zone dnssec.test. has static data, CNAME chains, wildcards, a
DNAME (dn., to the wildcard's parent), an
empty non-terminal, a secure delegation (sec., with a DS made from the
child's KSK), an insecure one with in-zone glue (insec.) and one with
out-of-zone name servers only (ext.). The children sec.dnssec.test.
(signed) and insec.dnssec.test. (unsigned) are for a validator in front of
gtmd. Glue addresses are loopback addresses on purpose.

policy_pool() is the policy record with its pool and region that the
DNSSEC tests put in a signed zone (its answers must be signed too)."""
import os
import shutil
import subprocess

KEYGEN = "/usr/bin/ldns-keygen"
SIGNZONE = "/usr/bin/ldns-signzone"
KEY2DS = "/usr/bin/ldns-key2ds"
BIND_SIGNZONE = "/usr/bin/dnssec-signzone"

ORIGIN = "dnssec.test."
CHILD = "sec.dnssec.test."
INSEC = "insec.dnssec.test."

PARENT_ZONE = """$ORIGIN dnssec.test.
$TTL 3600
@       IN SOA ns1.dnssec.test. hostmaster.dnssec.test. 2026112201 7200 3600 1209600 300
        IN NS   ns1
        IN NS   ns2.example.net.
        IN MX   10 mail
        IN A    127.0.0.10
ns1     IN A    127.0.0.1
        IN AAAA ::1
mail    IN A    127.0.0.25
www     IN A    127.0.0.80
        IN A    127.0.0.81
        IN AAAA ::80
alias   IN CNAME www
chain1  IN CNAME chain2
chain2  IN CNAME www
dangling IN CNAME nowhere.dnssec.test.
outside IN CNAME www.example.org.
*.wild  IN A    127.0.0.99
*.wild  IN TXT  "wildcard"
*.wcname IN CNAME www
dn      IN DNAME wild.dnssec.test.
a.b.c.ent IN A  127.0.0.5
_sip._tcp IN SRV 10 60 5060 sip
sip     IN A    127.0.0.60
txt     IN TXT  "v=spf1 -all"
sec     IN NS   ns1.sec
ns1.sec IN A    127.0.0.53
insec   IN NS   ns1.insec
ns1.insec IN A  127.0.0.54
ext     IN NS   ns.example.net.
big     IN TXT "0123456789012345678901234567890123456789012345678901234567890123456789"
big     IN TXT "1123456789012345678901234567890123456789012345678901234567890123456789"
big     IN TXT "2123456789012345678901234567890123456789012345678901234567890123456789"
big     IN TXT "3123456789012345678901234567890123456789012345678901234567890123456789"
big     IN TXT "4123456789012345678901234567890123456789012345678901234567890123456789"
big     IN TXT "5123456789012345678901234567890123456789012345678901234567890123456789"
"""

CHILD_ZONE = """$ORIGIN sec.dnssec.test.
$TTL 600
@       IN SOA ns1.sec.dnssec.test. hostmaster.dnssec.test. 7 3600 600 86400 60
        IN NS  ns1
ns1     IN A   127.0.0.53
www     IN A   127.0.0.153
"""

INSEC_ZONE = """$ORIGIN insec.dnssec.test.
$TTL 600
@       IN SOA ns1.insec.dnssec.test. hostmaster.dnssec.test. 7 3600 600 86400 60
        IN NS  ns1
ns1     IN A   127.0.0.54
www     IN A   127.0.0.154
"""

DENIALS = ("nsec", "nsec3", "nsec3-optout", "nsec3-optout-omit")
OPTOUT = ("nsec3-optout", "nsec3-optout-omit")


def policy_pool(name, endpoints=1, location=(38.9, -77.0), **record):
    """The "regions", "pools" and "records" sections of a config (spread
    them into it with **) in which the policy record name answers from
    pool web: endpoint a (192.0.2.10) and, with endpoints=2, b
    (192.0.2.11), both in region us at location (None: a region without
    one). record: fields added to the record's {"pool": "web", "policy":
    "all"} (ttl, when_all_down...). Each call returns new dicts; the
    caller owns them."""
    eps = [{"name": n, "address": "192.0.2.1%d" % i, "region": "us"}
           for i, n in enumerate("ab"[:endpoints])]
    return {"pools": {"web": {"endpoints": eps}},
            "records": {name: dict({"pool": "web", "policy": "all"}, **record)},
            "regions": {"us": {"location": list(location)} if location else {}}}


def missing_tools(denial="nsec"):
    """The first tool that signing with denial needs and that is not
    installed, or None."""
    tools = [KEYGEN, SIGNZONE, KEY2DS] + ([BIND_SIGNZONE] if denial.endswith("-omit") else [])
    for t in tools:
        if not os.access(t, os.X_OK):
            return t
    return None


def keygen(d, origin, ksk):
    """Makes a key pair in d; returns its base path (without .key/.private)."""
    argv = [KEYGEN, "-a", "ECDSAP256SHA256"] + (["-k"] if ksk else []) + [origin]
    base = subprocess.run(argv, cwd=d, check=True, capture_output=True,
                          text=True).stdout.strip()
    # ldns-keygen also writes a .ds file for a KSK; only the key pair matters.
    return os.path.join(d, base)


def key_ds(d, ksk_base):
    """The DS record (text) of a KSK, SHA-256."""
    base = subprocess.run([KEY2DS, "-n", "-2", ksk_base + ".key"], cwd=d, check=True,
                          capture_output=True, text=True).stdout.strip()
    return base


def _bind_sign(d, origin, unsigned, out, keys, extra):
    """dnssec-signzone with NSEC3 opt-out: it wants the DNSKEYs in the file."""
    with_keys = unsigned + ".withkeys"
    with open(with_keys, "w") as f:
        f.write(open(unsigned).read())
        for k in keys:
            f.write(open(k + ".key").read())
    argv = [BIND_SIGNZONE, "-3", "-", "-A", "-o", origin, "-f", out] + list(extra)
    subprocess.run(argv + [with_keys] + keys, cwd=d, check=True, capture_output=True, text=True)
    return out


def sign(d, origin, unsigned, out, keys, denial="nsec", extra=()):
    """Signs the zone file unsigned into out with ldns-signzone (or BIND's
    dnssec-signzone for nsec3-optout-omit)."""
    if denial == "nsec3-optout-omit":
        return _bind_sign(d, origin, unsigned, out, keys, extra)
    argv = [SIGNZONE, "-o", origin, "-f", out]
    if denial == "nsec3":
        argv += ["-n", "-s", "abcd", "-t", "2"]
    elif denial == "nsec3-optout":
        argv += ["-n", "-p", "-t", "0"]
    argv += list(extra) + [unsigned] + keys
    subprocess.run(argv, cwd=d, check=True, capture_output=True, text=True)
    return out


def _write(path, text):
    with open(path, "w") as f:
        f.write(text)
    return path


class SignedSet:
    """The three zones in directory d: parent (signed with denial), child
    (signed with NSEC, its DS in the parent), insec (unsigned). Attributes:
    parent, child, insec (signed zone file paths), parent_unsigned, ksk
    (the parent KSK's base path: ksk + '.key' is a trust anchor file)."""

    def __init__(self, d, denial="nsec", sign_extra=()):
        self.dir = d
        self.denial = denial
        ck = keygen(d, CHILD, True)
        cz = keygen(d, CHILD, False)
        child_unsigned = _write(os.path.join(d, "sec.dnssec.test.unsigned"), CHILD_ZONE)
        self.child = sign(d, CHILD, child_unsigned, os.path.join(d, "sec.dnssec.test.zone"),
                          [cz, ck])
        self.insec = _write(os.path.join(d, "insec.dnssec.test.zone"), INSEC_ZONE)
        self.ksk = keygen(d, ORIGIN, True)
        self.zsk = keygen(d, ORIGIN, False)
        self.parent_unsigned = _write(os.path.join(d, "dnssec.test.unsigned"),
                                      PARENT_ZONE + key_ds(d, ck) + "\n")
        self.parent = sign(d, ORIGIN, self.parent_unsigned, os.path.join(d, "dnssec.test.zone"),
                           [self.zsk, self.ksk], denial, sign_extra)

    def resign(self, out, denial=None, extra=()):
        """Signs the parent again into out (e.g. with other dates)."""
        return sign(self.dir, ORIGIN, self.parent_unsigned, out, [self.zsk, self.ksk],
                    denial or self.denial, extra)

    def cleanup(self):
        shutil.rmtree(self.dir, ignore_errors=True)

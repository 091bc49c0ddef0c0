#!/usr/bin/python3
"""gen_zone.py -- a synthetic but realistic zone and a dnsperf query file.

Writes one RFC 1035 master file that gtmd, NSD, Knot and gdnsd all load, and
(optionally) a dnsperf query file with a fixed mix of outcomes:

  hit       ~70%  existing name and type: A, AAAA, MX, TXT, apex SOA/NS/MX/A
  nxdomain  ~10%  names that do not exist (under the apex and below leaves)
  wildcard   ~5%  names synthesised from *.wild and *.cdn
  cname     ~10%  A queries for aliases; about a third are chains of 2-3
  referral   ~5%  names at or below a delegation (NS + glue in the answer)

The zone (per 20 "slots", in order, so any prefix has the same mix):
  15 slots  hosts      <svc>-<i>[.<region>]  1-3 A, 50% AAAA, 10% TXT
   1 slot   customer   cust-<i> A + MX -> mail-<i> (A), SPF TXT, and
                       sel1._domainkey.cust-<i> TXT (DKIM-sized)  = 3 names
   3 slots  alias      alias-<i> CNAME to a host (60%), to an earlier alias
                       (30%, giving chains), or out of zone (10%)
   1 slot   delegation sub-<i> NS ns1/ns2.sub-<i> with A (+AAAA) glue, or
                       (25%) NS at an out-of-zone provider, no glue
plus the apex (SOA, NS, MX, TXT, A, AAAA), ns1/ns2, mail, *.wild, *.cdn.

With --geo-queries PREFIX it also writes three files of A queries in
dnsperf's binary format (-B), each carrying an EDNS Client Subnet option
from --ecs-networks distinct networks: static host names, geo-0..7 and
near-0..3 (gtmd's geo and nearest records, see bench_geo.py).

Usage:
  gen_zone.py --zone Z.zone [--queries Q.txt] [--names 10000]
  gen_zone.py --zone big.zone --records 1000000        # the 1M-record zone
Generation stops when both --names owner names and --records records exist.
"""

import argparse
import random
import sys

SVC = ["www", "api", "app", "web", "db", "cache", "img", "static", "auth", "cdn-edge",
       "shop", "mx-in", "vpn", "git", "ci", "login", "search", "media", "pay", "status"]
REGIONS = ["eu", "us", "ap"]


class Zone:
    def __init__(self, origin, out, rng):
        self.origin = origin
        self.out = out
        self.rng = rng
        self.names = 0
        self.records = 0
        self.hosts = []         # (name, has_aaaa, has_txt)
        self.customers = []     # cust-i
        self.dkim = []          # sel1._domainkey.cust-i
        self.aliases = []       # (name, chain_len, in_zone_target)
        self.delegations = []   # sub-i

    def rr(self, owner, rtype, rdata, ttl=None):
        t = "" if ttl is None else " %d" % ttl
        self.out.write("%s%s IN %s %s\n" % (owner, t, rtype, rdata))
        self.records += 1

    def v4(self):
        r = self.rng
        return "10.%d.%d.%d" % (r.randrange(256), r.randrange(256), r.randrange(1, 255))

    def v6(self):
        r = self.rng
        return "2001:db8:%x:%x::%x" % (r.randrange(65536), r.randrange(65536),
                                       r.randrange(1, 65536))

    def token(self, n):
        alphabet = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789+/"
        return "".join(self.rng.choice(alphabet) for _ in range(n))

    def apex(self):
        o = self.origin
        w = self.out.write
        w("$ORIGIN %s\n$TTL 3600\n" % o)
        self.rr("@", "SOA", "ns1 hostmaster 2026112201 3600 600 1209600 300")
        self.rr("@", "NS", "ns1")
        self.rr("@", "NS", "ns2")
        self.rr("@", "MX", "10 mail")
        self.rr("@", "MX", "20 mail2.backup-mx.net.")
        self.rr("@", "TXT", '"v=spf1 mx ip4:192.0.2.0/24 -all"')
        self.rr("@", "A", "192.0.2.1")
        self.rr("@", "AAAA", "2001:db8::1")
        self.rr("ns1", "A", "192.0.2.53")
        self.rr("ns1", "AAAA", "2001:db8::53")
        self.rr("ns2", "A", "198.51.100.53")
        self.rr("mail", "A", "192.0.2.25")
        self.rr("mail", "AAAA", "2001:db8::25")
        # Wildcards: *.wild has an explicit sibling (so the wildcard is not the
        # only name below wild), *.cdn is a bare one.
        self.rr("*.wild", "A", "192.0.2.80")
        self.rr("*.wild", "AAAA", "2001:db8::80")
        self.rr("*.wild", "TXT", '"synthesised"')
        self.rr("explicit.wild", "A", "192.0.2.81")
        self.rr("*.cdn", "A", "192.0.2.90")
        self.names += 7  # @ ns1 ns2 mail *.wild explicit.wild *.cdn

    def host(self, i):
        r = self.rng
        name = "%s-%d" % (r.choice(SVC), i)
        if r.random() < 0.25:
            name += "." + r.choice(REGIONS)
        for _ in range(1 if r.random() < 0.7 else r.randint(2, 3)):
            self.rr(name, "A", self.v4(), 300)
        aaaa = r.random() < 0.5
        if aaaa:
            self.rr(name, "AAAA", self.v6(), 300)
        txt = r.random() < 0.1
        if txt:
            self.rr(name, "TXT", '"owner=team-%d" "env=%s"' % (r.randrange(100),
                                                              r.choice(["prod", "stage"])))
        self.hosts.append((name, aaaa, txt))
        self.names += 1

    def customer(self, i):
        c, m = "cust-%d" % i, "mail-%d" % i
        self.rr(c, "A", self.v4())
        self.rr(c, "MX", "10 %s" % m)
        self.rr(c, "MX", "20 mail")
        self.rr(c, "TXT", '"v=spf1 a mx include:_spf.%s -all"' % self.origin)
        self.rr(m, "A", self.v4())
        dk = "sel1._domainkey." + c
        key = self.token(216)
        self.rr(dk, "TXT", '"v=DKIM1; k=rsa; p=%s" "%s"' % (key[:180], key[180:]))
        self.customers.append(c)
        self.dkim.append(dk)
        self.names += 3

    def alias(self, i):
        r = self.rng
        name = "alias-%d" % i
        x = r.random()
        if x < 0.3 and self.aliases:
            tgt = r.choice(self.aliases[-200:])
            if tgt[1] >= 3 or not tgt[2]:
                tgt = r.choice(self.aliases)
            if tgt[1] < 3 and tgt[2]:
                self.rr(name, "CNAME", tgt[0], 300)
                self.aliases.append((name, tgt[1] + 1, True))
                self.names += 1
                return
        if x < 0.9 and self.hosts:
            self.rr(name, "CNAME", r.choice(self.hosts)[0], 300)
            self.aliases.append((name, 1, True))
        else:
            self.rr(name, "CNAME", "lb-%d.cdnprovider.net." % i, 300)
            self.aliases.append((name, 1, False))
        self.names += 1

    def delegation(self, i):
        r = self.rng
        sub = "sub-%d" % i
        if r.random() < 0.25:
            self.rr(sub, "NS", "ns1.hoster-%d.net." % (i % 7))
            self.rr(sub, "NS", "ns2.hoster-%d.net." % (i % 7))
            self.names += 1
        else:
            self.rr(sub, "NS", "ns1." + sub)
            self.rr(sub, "NS", "ns2." + sub)
            self.rr("ns1." + sub, "A", self.v4())
            self.rr("ns1." + sub, "AAAA", self.v6())
            self.rr("ns2." + sub, "A", self.v4())
            self.names += 3
        self.delegations.append(sub)

    def build(self, min_names, min_records):
        self.apex()
        i = 0
        while self.names < min_names or self.records < min_records:
            slot = i % 20
            if slot < 15:
                self.host(i)
            elif slot == 15:
                self.customer(i)
            elif slot < 19:
                self.alias(i)
            else:
                self.delegation(i)
            i += 1


def queries(z, n, rng):
    """Returns n (qname, qtype, category) tuples in the advertised mix."""
    def rlabel():
        return "q%x" % rng.getrandbits(40)

    hosts6 = [h for h in z.hosts if h[1]]
    hoststxt = [h for h in z.hosts if h[2]]
    # (weight, category, generator)
    mix = [
        (36, "hit", lambda: (rng.choice(z.hosts)[0], "A")),
        (14, "hit", lambda: (rng.choice(hosts6)[0], "AAAA")),
        (6, "hit", lambda: (rng.choice(z.customers), "MX")),
        (3, "hit", lambda: (rng.choice(z.customers), "A")),
        (3, "hit", lambda: (rng.choice(z.dkim), "TXT")),
        (2, "hit", lambda: (rng.choice(hoststxt)[0] if hoststxt else "@", "TXT")),
        (1, "hit", lambda: ("@", "SOA")),
        (1, "hit", lambda: ("@", "NS")),
        (1, "hit", lambda: ("@", "MX")),
        (1, "hit", lambda: ("@", "A")),
        (2, "hit", lambda: (rng.choice(["mail", "ns1", "ns2"]), "A")),
        (6, "nxdomain", lambda: (rlabel(), rng.choice(["A", "A", "AAAA"]))),
        (4, "nxdomain", lambda: (rlabel() + "." + rng.choice(z.hosts)[0], "A")),
        (3, "wildcard", lambda: (rlabel() + ".wild", "A")),
        (1, "wildcard", lambda: (rlabel() + ".wild", "AAAA")),
        (1, "wildcard", lambda: (rlabel() + ".cdn", "A")),
        (10, "cname", lambda: (rng.choice(z.aliases)[0], "A")),
        (3, "referral", lambda: ("www." + rng.choice(z.delegations), "A")),
        (1, "referral", lambda: (rng.choice(z.delegations), "A")),
        (1, "referral", lambda: (rlabel() + ".x." + rng.choice(z.delegations), "AAAA")),
    ]
    weights = [m[0] for m in mix]
    assert sum(weights) == 100, sum(weights)
    picks = rng.choices(range(len(mix)), weights=weights, k=n)
    out = []
    for p in picks:
        name, qtype = mix[p][2]()
        fq = z.origin if name == "@" else name + "." + z.origin
        out.append((fq, qtype, mix[p][1]))
    return out


# ---- geo queries: DNS wire messages with an ECS option, for dnsperf -B

GEO_NAMES = 8      # geo-0 .. geo-7 (policy geo), answered by gtmd only
NEAREST_NAMES = 4  # near-0 .. near-3 (policy nearest)


def ecs_networks(n, rng):
    """n distinct client networks: 3/4 IPv4 /24 in 1.0.0.0-223.255.255.255,
    1/4 IPv6 /56 in 2400::/12 (the ranges gen_geo_db.pl fills)."""
    out, seen = [], set()
    while len(out) < n:
        if len(out) % 4 != 3:
            a = rng.randrange(1 << 16, 224 << 16) << 8
            key = (4, a)
            wire = (1, 24, a.to_bytes(4, "big")[:3])
        else:
            a = (0x240 << 116) | (rng.getrandbits(44) << 72)
            key = (6, a)
            wire = (2, 56, a.to_bytes(16, "big")[:7])
        if key not in seen:
            seen.add(key)
            out.append(wire)
    return out


def wire_query(name, qtype, ecs, qid):
    """A query (RD clear) with EDNS (1232) and one ECS option."""
    types = {"A": 1, "AAAA": 28}
    q = b"".join(bytes([len(l)]) + l.encode() for l in name.rstrip(".").split(".")) + b"\0"
    fam, plen, addr = ecs
    opt = fam.to_bytes(2, "big") + bytes([plen, 0]) + addr
    edns = b"\0" + (41).to_bytes(2, "big") + (1232).to_bytes(2, "big") + bytes(4) + \
        (len(opt) + 4).to_bytes(2, "big") + (8).to_bytes(2, "big") + len(opt).to_bytes(2, "big") + opt
    hdr = qid.to_bytes(2, "big") + bytes([0, 0, 0, 1, 0, 0, 0, 0, 0, 1])
    return hdr + q + types[qtype].to_bytes(2, "big") + b"\0\1" + edns


def geo_queries(z, prefix, count, n_nets, seed):
    """Writes PREFIX.{static,geo,nearest}.bin in dnsperf's -B format (each
    message preceded by its 2-octet length): the same count of A queries
    with ECS from the same n_nets networks, for static host names, the geo
    names and the nearest names. dnsperf 2.x sends a fixed EDNS option at
    most (-E), so distinct client networks per query need the binary
    format."""
    rng = random.Random(seed)
    nets = ecs_networks(n_nets, rng)
    kinds = {
        "static": lambda i: rng.choice(z.hosts)[0] + "." + z.origin,
        "geo": lambda i: "geo-%d.%s" % (i % GEO_NAMES, z.origin),
        "nearest": lambda i: "near-%d.%s" % (i % NEAREST_NAMES, z.origin),
    }
    for kind, name in kinds.items():
        with open("%s.%s.bin" % (prefix, kind), "wb") as f:
            for i in range(count):
                m = wire_query(name(i), "A", nets[(i * 7919) % len(nets)], i & 0xffff)
                f.write(len(m).to_bytes(2, "big") + m)
    print("geo queries %s.{static,geo,nearest}.bin: %d each, ECS from %d networks" % (
        prefix, count, len(nets)), file=sys.stderr)


def main():
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--origin", default="bench.test.")
    ap.add_argument("--zone", required=True, help="master file to write")
    ap.add_argument("--names", type=int, default=10000, help="at least this many owner names")
    ap.add_argument("--records", type=int, default=0, help="at least this many records "
                    "(use 1000000 for the large-zone test)")
    ap.add_argument("--queries", help="dnsperf query file to write")
    ap.add_argument("--categories", help="write the category of each query line here")
    ap.add_argument("--count", type=int, default=100000, help="query lines (default 100000)")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--geo-queries", metavar="PREFIX",
                    help="also write PREFIX.{static,geo,nearest}.bin: A queries with ECS in "
                    "dnsperf's binary (-B) format, for the geo benchmark")
    ap.add_argument("--ecs-networks", type=int, default=4096,
                    help="distinct ECS client networks in the geo queries (4096)")
    a = ap.parse_args()
    origin = a.origin if a.origin.endswith(".") else a.origin + "."
    rng = random.Random(a.seed)
    with open(a.zone, "w", buffering=1 << 20) as f:
        z = Zone(origin, f, rng)
        z.build(a.names, a.records)
    cats = {}
    if a.queries:
        qs = queries(z, a.count, random.Random(a.seed + 1))
        with open(a.queries, "w") as f:
            for q in qs:
                f.write("%s %s\n" % (q[0], q[1]))
                cats[q[2]] = cats.get(q[2], 0) + 1
        if a.categories:
            with open(a.categories, "w") as f:
                for q in qs:
                    f.write(q[2] + "\n")
    if a.geo_queries:
        geo_queries(z, a.geo_queries, a.count, a.ecs_networks, a.seed + 2)
    chains = sum(1 for x in z.aliases if x[1] > 1)
    print("zone %s: %d names, %d records (%d hosts, %d customers, %d aliases of which %d "
          "chained, %d delegations, 2 wildcards)" %
          (a.zone, z.names, z.records, len(z.hosts), len(z.customers), len(z.aliases),
           chains, len(z.delegations)), file=sys.stderr)
    if cats:
        print("queries %s: %d lines: %s" % (a.queries, a.count, ", ".join(
            "%s %.1f%%" % (k, 100.0 * v / a.count) for k, v in sorted(cats.items()))),
            file=sys.stderr)
    # A name that is certainly in the zone, for readiness probes.
    print(z.hosts[-1][0] + "." + origin)


if __name__ == "__main__":
    main()

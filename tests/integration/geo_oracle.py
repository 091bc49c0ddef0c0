"""A reference for the geo tests that never touches gtmd: what the test
databases hold (read from tests/data/make_geo_db.pl, the generator of the
committed files), which region a geo map or a nearest record gives an
address under a given health state, and the widest prefix around an address
whose addresses all get the same answer -- the ECS scope gtmd must return.

Addresses are Python ints with a family (4 or 6). The city database is an
IPv6 tree with the IPv4 data at ::/96 and the usual aliases
(::ffff:0:0/96, 2001::/32, 2002::/16), as MaxMind ships it and as
make_geo_db.pl writes geo-city.mmdb."""
import ipaddress
import math
import os
import re

from conftest import DATA

GENERATOR = os.path.join(DATA, "make_geo_db.pl")


def _perl_value(v):
    v = v.strip()
    if v == "undef":
        return None
    if v.startswith("'"):
        return v.strip("'")
    return float(v)


def load_generator(path=GENERATOR):
    """(places, networks) as make_geo_db.pl defines them: places maps a name
    to (continent, country, subdivision, lat, lon); networks is the insert
    order [(ip_network, place)] (place '' = data without used fields)."""
    text = open(path).read()
    body = text[text.index("my %PLACE"):text.index("my @NETWORKS")]
    places = {}
    for m in re.finditer(r"^\s*(\w+)\s*=>\s*\[(.*)\],", body, re.M):
        vals = [_perl_value(x) for x in m.group(2).split(",")]
        places[m.group(1)] = tuple(vals[:5])
    body = text[text.index("my @NETWORKS"):text.index("sub city_record")]
    networks = []
    v4_in_v6 = ipaddress.ip_network("::/96")
    for m in re.finditer(r"\[\s*'([^']+)',\s*'([^']*)'\s*\]", body):
        net = ipaddress.ip_network(m.group(1))
        if net.version == 6 and net.subnet_of(v4_in_v6):
            # ::/96 holds the IPv4 tree: ::1/128 is 0.0.0.1/32 there.
            net = ipaddress.ip_network("%s/%d" % (ipaddress.IPv4Address(
                int(net.network_address)), net.prefixlen - 96))
        networks.append((net, m.group(2)))
    return places, networks


PLACES, NETWORKS = load_generator()

ALIASES = [  # IPv6 prefix -> the bit where the IPv4 address starts
    (ipaddress.ip_network("::/96"), 96),
    (ipaddress.ip_network("::ffff:0:0/96"), 96),
    (ipaddress.ip_network("2001::/32"), 32),
    (ipaddress.ip_network("2002::/16"), 16),
]


def _bits(family):
    return 32 if family == 4 else 128


def _in(net, family, a):
    return net.version == family and int(net.network_address) <= a <= int(
        net.broadcast_address)


def place_at(family, a):
    """The place name the database holds for address a, or None."""
    if family == 6:
        for alias, start in ALIASES:
            if _in(alias, 6, a):
                return place_at(4, (a >> (128 - start - 32)) & 0xffffffff)
    found = None
    for net, place in NETWORKS:  # the last insert containing a wins
        if _in(net, family, a):
            found = place
    return found


def location(family, a):
    """(continent, country, subdivision, lat, lon) or None (unknown)."""
    p = place_at(family, a)
    if not p:
        return None
    return PLACES[p]


class GeoMap:
    """A record's "geo" object: key -> region list."""

    def __init__(self, geo):
        self.geo = geo
        self.nets = []
        for k, regions in geo.items():
            if k.startswith("network:"):
                self.nets.append((ipaddress.ip_network(k[8:]), regions, k))

    def key_for(self, family, a):
        """The key that decides for a (most specific wins), and its kind."""
        best = None
        for net, _, k in self.nets:
            if _in(net, family, a) and (best is None or net.prefixlen > best[0].prefixlen):
                best = (net, k)
        if best:
            return best[1], "network"
        loc = location(family, a)
        if loc is None or not any(loc[:3]):
            return "default", "unknown"
        cont, cc, sub = loc[:3]
        for key, kind in (("subdivision:%s-%s" % (cc, sub) if sub else None, "subdivision"),
                          ("country:%s" % cc if cc else None, "country"),
                          ("continent:%s" % cont if cont else None, "continent")):
            if key and key in self.geo:
                return key, kind
        return "default", "default"

    def order(self, family, a):
        return self.geo[self.key_for(family, a)[0]]

    def boundaries(self, family):
        return [(int(n.network_address), int(n.broadcast_address))
                for n, _, _ in self.nets if n.version == family]


def haversine(p, q):
    rad = math.pi / 180
    dlat, dlon = (q[0] - p[0]) * rad, (q[1] - p[1]) * rad
    h = math.sin(dlat / 2) ** 2 + math.cos(p[0] * rad) * math.cos(q[0] * rad) * math.sin(
        dlon / 2) ** 2
    return 2 * 6371.0088 * math.asin(math.sqrt(min(1.0, h)))


class Nearest:
    """A nearest record: regions (in configured order) with locations."""

    def __init__(self, regions, locations):
        self.regions = list(regions)
        self.locations = locations

    def order(self, family, a):
        loc = location(family, a)
        if loc is None or loc[3] is None:
            return list(self.regions)
        return sorted(self.regions, key=lambda r: (
            haversine((loc[3], loc[4]), self.locations[r]), self.regions.index(r)))

    def boundaries(self, family):
        return []


def answer(policy, family, a, down=()):
    """The regions whose endpoints answer: the first region of the order
    that is up, or every region of the order when none is (fail open)."""
    order = policy.order(family, a)
    for r in order:
        if r not in down:
            return frozenset([r])
    return frozenset(order)


def _db_boundaries(family):
    """Ranges whose inside may differ from their outside, in family."""
    out = []
    for net, _ in NETWORKS:
        if net.version == 4 and family == 4:
            out.append((int(net.network_address), int(net.broadcast_address)))
        elif net.version == 6 and family == 6:
            out.append((int(net.network_address), int(net.broadcast_address)))
    if family == 6:
        for alias, start in ALIASES:
            base = int(alias.network_address)
            out.append((base, int(alias.broadcast_address)))
            shift = 128 - start - 32
            for net, _ in NETWORKS:
                if net.version == 4:
                    out.append((base | (int(net.network_address) << shift),
                                base | (((int(net.broadcast_address) + 1) << shift) - 1)))
    return out


def expected_scope(policy, family, a, down=()):
    """The widest prefix length S such that every address of a/S gets the
    answer a gets: the ECS scope gtmd must return for a (when that exceeds
    what the client sent, gtmd returns the longer prefix)."""
    bits = _bits(family)
    ranges = _db_boundaries(family) + policy.boundaries(family)
    points = set()
    for lo, hi in ranges:
        points.add(lo)
        if hi + 1 < (1 << bits):
            points.add(hi + 1)
    points = sorted(points)
    want = answer(policy, family, a, down)
    for s in range(0, bits + 1):
        lo = (a >> (bits - s)) << (bits - s) if s < bits else a
        hi = lo + (1 << (bits - s)) - 1
        inside = [p for p in points if lo <= p <= hi] + [lo]
        if all(answer(policy, family, p, down) == want for p in inside):
            return s
    return bits


def different_outside(policy, family, a, scope, down=()):
    """An address in the other half of a's prefix one bit shorter than
    scope that gets a different answer (None when scope is 0)."""
    if scope == 0:
        return None
    bits = _bits(family)
    sib = (a >> (bits - scope)) ^ 1
    lo = sib << (bits - scope)
    hi = lo + (1 << (bits - scope)) - 1
    want = answer(policy, family, a, down)
    ranges = _db_boundaries(family) + policy.boundaries(family)
    cands = [lo] + [x for r in ranges for x in (r[0], r[1] + 1) if lo <= x <= hi]
    for p in sorted(set(cands)):
        if answer(policy, family, p, down) != want:
            return p
    raise AssertionError("no different answer next to %x/%d" % (a, scope))


def to_text(family, a):
    return str(ipaddress.IPv6Address(a)) if family == 6 else str(ipaddress.IPv4Address(a))


def parse(text):
    ip = ipaddress.ip_address(text)
    return ip.version, int(ip)

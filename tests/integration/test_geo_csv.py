"""contrib/geo/gtmd-geo-csv end to end (doc/geo-databases.md, "Your own
database from a CSV file"): a City and an ASN database built from CSV
files, read back with mmdblookup (libmaxminddb's own tool), loaded by
gtmd, and geo, nearest and asn: keys answering per the CSV for ECS
clients; a bad CSV is refused line by line and writes nothing.

The pool has no check: every endpoint is up, the answer depends only on
where the database places the client."""
import os
import subprocess

from backends import answer_addrs, fast_query
from conftest import TOP, default_config

TOOL = os.path.join(TOP, "contrib", "geo", "gtmd-geo-csv")

CITY = """# places for the test: a network inside another wins, whatever the order
network,continent,country,subdivision,city,latitude,longitude
127.0.64.0/24,EU,DE,HE,Frankfurt,50.1109,8.6821
127.0.0.0/16,NA,US,VA,Ashburn,39.0438,-77.4874
127.0.65.0/24,EU,FR,IDF,"Paris, Ile-de-France",48.8566,2.3522
127.0.66.0/24,AS,JP,13,Tokyo,35.6762,139.6503
127.0.67.0/25,OC,AU,,,,
2001:db8:64::/48,EU,DE,BE,Berlin,52.52,13.405
"""

ASN = """network,asn,organization
127.0.66.0/25,64500,Example Transit
"""

REGIONS = {"us": ("127.0.0.41", [38.9, -77.0]), "eu": ("127.0.0.42", [50.1, 8.7]),
           "ap": ("127.0.0.43", [35.7, 139.7])}


def build(tmp, name, text, *opts):
    src = os.path.join(tmp, name + ".csv")
    with open(src, "w") as f:
        f.write(text)
    out = os.path.join(tmp, name + ".mmdb")
    p = subprocess.run([TOOL, *opts, src, out], capture_output=True, text=True, timeout=60)
    return p, src, out


def lookup(db, addr, *path):
    p = subprocess.run(["mmdblookup", "-f", db, "-i", addr, *path], capture_output=True,
                       text=True, timeout=10)
    return p.stdout.strip().split()[0] if p.returncode == 0 and p.stdout.strip() else None


def answer(g, name, ecs):
    for _ in range(3):
        r = fast_query(g.addr, g.port, name, "A", timeout=1.0, ecs=ecs)
        if r is not None:
            return sorted(answer_addrs(r))
    raise AssertionError("no answer to %s for %s" % (name, ecs))


def test_a_database_built_from_csv_places_clients(make_gtmd, tmp_path):
    tmp = str(tmp_path)
    p, _, city = build(tmp, "city", CITY)
    assert p.returncode == 0 and "6 networks, GeoIP2-City" in p.stdout, (p.stdout, p.stderr)
    p, _, asn = build(tmp, "asn", ASN)
    assert p.returncode == 0 and "GeoLite2-ASN" in p.stdout, (p.stdout, p.stderr)
    # libmaxminddb reads back what the CSV says, the narrower network first.
    assert lookup(city, "127.0.64.9", "country", "iso_code") == '"DE"'
    assert lookup(city, "127.0.64.9", "subdivisions", "0", "iso_code") == '"HE"'
    assert lookup(city, "127.0.1.1", "country", "iso_code") == '"US"'
    assert lookup(city, "127.0.65.1", "city", "names", "en") == '"Paris,'
    assert lookup(city, "127.0.66.1", "location", "latitude") == "35.676200"
    assert lookup(city, "127.0.67.200", "country", "iso_code") == '"US"'  # the /25 ends at .127
    assert lookup(city, "127.0.67.1", "location") is None
    assert lookup(city, "::ffff:127.0.64.1", "continent", "code") == '"EU"'  # MaxMind's alias
    assert lookup(asn, "127.0.66.7", "autonomous_system_number") == "64500"

    def fn(workdir, port):
        c = default_config(workdir, port)
        c["geoip"] = {"database": city, "asn_database": asn}
        c["regions"] = {r: {"location": loc} for r, (_, loc) in REGIONS.items()}
        c["pools"] = {"web": {"endpoints": [{"name": r, "address": a, "region": r}
                                            for r, (a, _) in REGIONS.items()]}}
        c["records"] = {
            "geo.example.com.": {"pool": "web", "policy": "geo", "geo": {
                "asn:64500": ["us"], "subdivision:DE-HE": ["ap"], "country:DE": ["eu"],
                "country:FR": ["eu"], "continent:AS": ["ap"], "continent:NA": ["us"],
                "default": ["eu"]}},
            "near.example.com.": {"pool": "web", "policy": "nearest"}}
        return c
    g = make_gtmd(fn)
    us, eu, ap = (REGIONS[r][0] for r in ("us", "eu", "ap"))
    want = {
        "127.0.64.0/24": ap,          # subdivision DE-HE (Frankfurt)
        "127.0.65.0/24": eu,          # country FR
        "127.0.66.128/25": ap,        # continent AS (Tokyo), outside AS64500
        "127.0.66.0/25": us,          # asn:64500 wins over the continent
        "127.0.9.0/24": us,           # continent NA: the /16 around the /24s
        "127.0.67.0/25": eu,          # OC: no key, the default
        "2001:db8:64::/48": eu,       # country DE (BE: no key of its own)
    }
    got = {ecs: answer(g, "geo.example.com.", ecs) for ecs in want}
    assert got == {ecs: [a] for ecs, a in want.items()}, got
    # nearest by the CSV's coordinates: Frankfurt, Ashburn, Tokyo.
    near = {ecs: answer(g, "near.example.com.", ecs)[0]
            for ecs in ("127.0.64.0/24", "127.0.9.0/24", "127.0.66.0/24")}
    assert near == {"127.0.64.0/24": eu, "127.0.9.0/24": us, "127.0.66.0/24": ap}, near


def test_a_bad_csv_is_refused_line_by_line(tmp_path):
    tmp = str(tmp_path)
    bad = ("network,continent,country,subdivision,latitude,longitude\n"
           "10.0.0.1/8,EU,DE,,,\n"        # host bits
           "10.1.0.0/16,XX,de,,,\n"       # continent, country
           "10.2.0.0/16,EU,,HE,91,\n"     # subdivision without country, latitude
           "banana,EU,DE,,,\n"
           "10.3.0.0/16,,,,,\n"           # nothing to place by
           "10.4.0.0/16,EU,DE\n"          # cells
           "10.5.0.0/16,EU,DE,,,\n"
           "10.5.0.0/16,EU,FR,,,\n")      # twice
    p, src, out = build(tmp, "bad", bad)
    assert p.returncode == 1 and not os.path.exists(out), (p.stdout, p.stderr)
    lines = p.stderr.splitlines()
    want = [(2, "has host bits set (the network is 10.0.0.0/8)"),
            (3, 'continent "XX" is not one of AF AN AS EU NA OC SA'),
            (3, 'country "de" is not two capital letters'),
            (4, 'subdivision "HE" needs a country'),
            (4, 'latitude "91" and longitude "" must both be degrees'),
            (5, 'network "banana" is not an address or a CIDR'),
            (6, "no field but the network"),
            (7, "3 cells, the header has 6"),
            (9, "network 10.5.0.0/16 is on line 8 already")]
    assert len(lines) == len(want), p.stderr
    for ln, (n, msg) in zip(lines, want):
        assert ln.startswith("%s:%d: " % (src, n)) and msg in ln, (ln, n, msg)
    # A column the database type does not have, and IPv6 in an IPv4 tree.
    p, src, _ = build(tmp, "mixed", "network,country,city\n10.0.0.0/8,DE,x\n", "--type",
                      "country")
    assert p.returncode == 1 and p.stderr.startswith(
        src + ':1: column "city" is not one of a country database'), p.stderr
    p, src, _ = build(tmp, "v6", "network,asn\n2001:db8::/32,64500\n", "--ip-version", "4")
    assert p.returncode == 1 and "--ip-version 4 takes IPv4 networks only" in p.stderr, p.stderr

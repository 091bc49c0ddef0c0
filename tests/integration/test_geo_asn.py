"""asn: keys of geo maps end to end: tests/data/geo-asn.mmdb (GeoLite2-ASN
layout, make_geo_db.pl) laid over geo-city.mmdb, real backends, ECS
queries with dnspython, explain, metrics, status, reload and gtmd check.

The ASN networks cut across the City networks on purpose (see the
generator): 127.0.2.128/25 (AS64501) is half of Tokyo's /24, 127.0.20.0/24
(AS64502) has no location at all, 127.0.21.0/24 is AS64503 which the map
does not name. Expected answers and scopes are written out here from that
table, not computed from gtmd's output."""
import os
import shutil

import pytest

from adminlib import Admin, admin_port, admin_section, gtmctl
from backends import backends, free_port_on, poll  # noqa: F401
from conftest import DATA, default_config
from test_geo import REGIONS, ask, check_mutated, explain, metrics, reload_api

GEO = {
    "asn:64501": ["eu", "us"],
    "asn:64502": ["sa", "us"],
    "asn:4200000000": ["oc", "us"],
    "country:JP": ["ap", "oc"],
    "network:127.0.20.128/25": ["oc", "us"],
    "default": ["us", "eu"],
}


def asn_config(port_http, asn_db="geo-asn.mmdb", geo=None, admin=True):
    def fn(workdir, port):
        c = default_config(workdir, port)
        for f in ("geo-city.mmdb", "geo-asn.mmdb", "geo-country.mmdb"):
            shutil.copy(os.path.join(DATA, f), workdir)
        c["geoip"] = {"database": "geo-city.mmdb"}
        if asn_db:
            c["geoip"]["asn_database"] = asn_db
        c["regions"] = {r: {"location": list(loc)} for r, (_, loc) in REGIONS.items()}
        c["checks"] = {"web": {"type": "http", "port": port_http, "interval": 0.25,
                               "timeout": 0.2, "rise": 2, "fall": 3}}
        c["pools"] = {"web": {"check": "web", "endpoints": [
            {"name": r, "address": a, "region": r} for r, (a, _) in REGIONS.items()]}}
        c["records"] = {"geo.example.com.": {"pool": "web", "policy": "geo",
                                             "geo": geo or GEO, "ttl": 30}}
        if admin:
            c["admin"] = admin_section(workdir, admin_port(port))
        return c
    return fn


@pytest.fixture
def asn(make_gtmd, backends):
    addrs = [a for a, _ in REGIONS.values()]
    port = free_port_on(addrs)
    backends.start_all([backends.http(a, port, start=False) for a in addrs])
    g = make_gtmd(asn_config(port))
    # Every backend up (rise 2 at 0.25 s): the ASN client gets its first region.
    assert poll(lambda: ask(g, "geo.example.com.", ecs="127.0.2.200/32")[0] == {"eu"}, 8)[0], \
        g.read_log()[-2000:]
    return g


# (ECS, regions, scope): the ASN network decides inside a City network,
# the City network decides outside the ASN network, a network key beats
# an asn key, and a /24 source inside which the ASN splits at /25 gets the
# narrower scope (RFC 7871 allows a scope longer than the source).
CASES = [
    ("127.0.2.200/32", {"eu"}, 25),
    ("127.0.2.20/32", {"ap"}, 25),
    ("127.0.2.0/24", {"ap"}, 25),
    ("127.0.20.9/32", {"sa"}, 25),
    ("127.0.20.200/32", {"oc"}, 25),
    ("2001:db8:3::1/128", {"oc"}, 47),
]


def test_asn_keys_answer_with_exact_scopes(asn):
    g = asn
    before = metrics(g)
    for ecs, regions, scope in CASES:
        got, got_scope, _ = ask(g, "geo.example.com.", ecs=ecs)
        assert (got, got_scope) == (regions, scope), (ecs, got, got_scope)
    after = metrics(g)
    label = '{policy="geo",outcome="asn"}'
    assert after.get(label, 0) - before.get(label, 0) >= 3, (before, after)
    # AS64503 is in no key and has no location: the default list.
    assert ask(g, "geo.example.com.", ecs="127.0.21.1/32")[0] == {"us"}


def test_explain_and_status_show_the_asn(asn):
    g = asn
    p = explain(g, "geo.example.com.", ecs="127.0.2.200/32")["policy"]["geo"]
    assert p["location"]["asn"] == 64501 and p["location"]["country"] == "JP", p
    assert p["location"]["network"] == "127.0.2.128/25", p
    assert p["key"] == "asn:64501" and p["match"] == "asn" and p["scope"] == 25, p
    p = explain(g, "geo.example.com.", ecs="127.0.21.1/32")["policy"]["geo"]
    assert p["location"]["asn"] == 64503 and "country" not in p["location"], p
    assert p["match"] == "unknown" and p["key"] == "default", p
    out = gtmctl("--server", Admin.of(g).url, "--token-file",
                 os.path.join(g.workdir, "read.token"), "explain", "geo.example.com",
                 "--ecs", "127.0.2.200/32")
    assert out.returncode == 0, out.stderr
    assert "in 127.0.2.128/25: continent AS country JP subdivision JP-13 AS64501 at" in \
        out.stdout and "matched asn:64501 (asn)" in out.stdout, out.stdout
    st = Admin.of(g).get("/v1/status").json
    a = st["geo"]["asn"]
    assert a["database"].endswith("geo-asn.mmdb") and a["type"] == "GeoLite2-ASN", a
    assert a["networks"] >= 8, a


def test_asn_database_reload(asn):
    """A new ASN file is read at reload; a broken one keeps the old set."""
    g = asn
    path = os.path.join(g.workdir, "geo-asn.mmdb")
    good = open(path, "rb").read()
    with open(path + ".tmp", "wb") as f:
        f.write(good[:len(good) // 2])
    os.replace(path + ".tmp", path)
    r = reload_api(g)
    assert r.json["result"] == "failed", r.json
    assert any("$.geoip.asn_database" in e for e in r.json["errors"]), r.json
    assert ask(g, "geo.example.com.", ecs="127.0.2.200/32")[:2] == ({"eu"}, 25)
    # A Country database is no ASN database: refused, named.
    shutil.copy(os.path.join(DATA, "geo-country.mmdb"), path)
    r = reload_api(g)
    assert r.json["result"] == "failed" and any(
        "no record has autonomous_system_number" in e for e in r.json["errors"]), r.json
    with open(path, "wb") as f:
        f.write(good)
    assert reload_api(g).json["result"] == "ok"
    assert ask(g, "geo.example.com.", ecs="127.0.20.9/32")[:2] == ({"sa"}, 25)


def test_check_reports_asn_errors(tmp_path):
    base = asn_config(1, admin=False)(str(tmp_path), 5399)

    def check(mutate):
        return check_mutated(base, tmp_path, mutate)

    rc, err = check(lambda c: None)
    assert rc == 0, err
    rc, err = check(lambda c: c["geoip"].pop("asn_database"))
    assert rc == 1 and '"asn:64501"' not in err and \
        "asn:64501: asn keys need a database of autonomous systems: set " \
        "$.geoip.asn_database" in err, err
    rc, err = check(lambda c: c.update(geoip={"asn_database": "geo-asn.mmdb"}))
    assert rc == 1 and "continent, country and subdivision keys need a geo database" in err, err

    def asn_only(c):
        c["geoip"] = {"asn_database": "geo-asn.mmdb"}
        c["records"]["geo.example.com."]["geo"] = {"asn:64501": ["eu"], "default": ["us"]}
    rc, err = check(asn_only)
    assert rc == 0, err
    rc, err = check(lambda c: c.update(geoip={}))
    assert rc == 1 and '$.geoip: needs "database", "asn_database" or both' in err, err
    rc, err = check(lambda c: c["records"]["geo.example.com."]["geo"].update(
        {"asn:AS1": ["eu"]}))
    assert rc == 1 and '.geo["asn:AS1"]: "AS1" is not an autonomous system number' in err, err

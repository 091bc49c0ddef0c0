"""bench_policy.py -- server gtmd-policy of bench.py: the benchmark zone plus
policy names, and a query mix with --policy-mix of them.

gtmd-policy is the gtmd under test (same binary, one worker) with, beside
the benchmark zone, one pool of 8 endpoints (one per region of
bench_geo.REGIONS, no checks: every endpoint is up) and 24 policy names in
bench.test.:

  fo-0..7    failover over 3 of the regions (another order for each)
  wt-0..7    weighted over all 8 regions (weights 1..8)
  geo-0..7   geo, the maps of bench_geo.py (92 keys; two compiled tries)
             over the synthetic database of gen_geo_db.pl

Its query file is the common one (gen_zone.py) with each line replaced, with
probability --policy-mix (fixed seed), by an A query for one of these names,
a third of each kind. dnsperf sends no ECS option here, so a geo name is
looked up for the client address 127.0.0.1 (not in the database: the map's
default key); the geo path with distinct networks is bench_geo.py's.
"""

import os
import random

import bench_geo


def config(db):
    """The top-level keys gtmd-policy adds to gtmd's benchmark config."""
    regions = list(bench_geo.REGIONS)
    eps = [{"name": r, "address": "198.51.100.%d" % (10 + i), "region": r, "weight": i + 1}
           for i, r in enumerate(regions)]
    records = {}
    for i in range(8):
        records["fo-%d.bench.test." % i] = {
            "pool": "web", "policy": "failover", "ttl": 30,
            "regions": [regions[(i + k) % 8] for k in range(3)]}
        records["wt-%d.bench.test." % i] = {"pool": "web", "policy": "weighted", "ttl": 30}
        records["geo-%d.bench.test." % i] = {"pool": "web", "policy": "geo", "ttl": 30,
                                             "geo": bench_geo.geo_map(i // 4)}
    return {
        "geoip": {"database": db},
        "regions": {r: {"location": loc} for r, loc in bench_geo.REGIONS.items()},
        "pools": {"web": {"endpoints": eps}},
        "records": records,
    }


def queries(qfile, share, out):
    """qfile with about share of its lines replaced by policy names."""
    rnd = random.Random(12)
    kinds = ("fo", "wt", "geo")
    n = 0
    with open(qfile) as f, open(out + ".tmp", "w") as g:
        for line in f:
            if rnd.random() < share:
                g.write("%s-%d.bench.test. A\n" % (kinds[n % 3], rnd.randrange(8)))
                n += 1
            else:
                g.write(line)
    os.replace(out + ".tmp", out)


def prepare(b, a, wd, qfile, port):
    """(extra config keys, query file) for gtmd-policy."""
    db = bench_geo.ensure_db(b, wd, a.geo_db_networks)
    pq = "%s.policy%02d" % (qfile, round(a.policy_mix * 100))
    if not os.path.exists(pq):
        queries(qfile, a.policy_mix, pq)
    return config(db), pq


def check_answers(b, port):
    """Every kind of policy name answers NOERROR with an address."""
    for name in ("fo-0.bench.test.", "wt-3.bench.test.", "geo-5.bench.test."):
        r = b.dns_ask(port, name, "A", timeout=1.0)
        if not r or r[0] != 0 or r[2] < 1:
            raise RuntimeError("gtmd-policy does not answer %s: %s" % (name, r))

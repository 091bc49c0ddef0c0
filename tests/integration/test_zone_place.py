"""Policy names added and removed through the configuration API make the
zone's new version from the running one (zone_place.h, issue #55) instead
of reading its file again. Held to the full path: a random sequence of
names created (beside static names, below empty non-terminals of the file
and of other policy names, above and below each other), deleted and
changed gives, for every name, type and client, exactly the answers of a
SIGHUP of the same file (NXDOMAIN against NODATA, the empty non-terminals
that come and go, the wildcard); names at or below a delegation or a
DNAME, or at a static name, are refused as before; and the log shows the
zone placed, not read.

Real gtmd processes on loopback; answers read with dnspython over UDP."""
import random
import re

import pytest

from adminlib import Admin, admin_port, admin_section
from test_config_incremental import (REGIONS, answers, diff, pools, put, record,
                                     settled, sighup, version)

ZONE = """$ORIGIN pl.test.
$TTL 300
@ SOA ns1 hostmaster 7 3600 600 86400 60
@ NS ns1
ns1 A 192.0.2.53
www A 192.0.2.80
*.wild A 192.0.2.99
a.b.deep A 192.0.2.81
sub NS ns.sub
ns.sub A 192.0.2.82
dn DNAME example.net.
"""

# Where names are made: beside the static ones, below the file's empty
# non-terminal (b.deep), below the wildcard's parent, and in chains that
# make and drop empty non-terminals of their own (y, x.y).
PLACES = ["n%d", "c%d.b.deep", "q%d.wild", "x%d.y", "z.x%d.y", "w.z.x%d.y", "y", "x%d"]
# Names the loader must refuse, as before: below a delegation, below a
# DNAME, at a static name.
REFUSED = ["r.sub.pl.test.", "r.dn.pl.test.", "www.pl.test."]


def config_fn(seed):
    def fn(workdir, port):
        with open("%s/pl.test.zone" % workdir, "w") as f:
            f.write(ZONE)
        rng = random.Random(seed)
        recs = {"r%d.pl.test." % i: record(rng, rng.choice(["pa", "pb", "p6"])) for i in range(6)}
        return {"listen": ["127.0.0.1:%d" % port], "workers": 1,
                "zones": [{"origin": "pl.test.", "file": "pl.test.zone"}],
                "admin": admin_section(workdir, admin_port(port), audit=False),
                "config_api": {"history_dir": "history", "keep": 3},
                "regions": {r: {} for r in REGIONS}, "pools": pools(), "records": recs}
    return fn


def plain(rng, pool=None):
    """A record without geo data (this gtmd has no geo database)."""
    r = record(rng, pool)
    if r.get("policy") == "geo":
        r = {"pool": r["pool"], "ttl": r["ttl"], "policy": "all", "select": "all"}
    return r


@pytest.mark.parametrize("seed", [21, 22])
def test_placed_names_answer_as_a_full_reload(make_gtmd, seed):
    g = make_gtmd(config_fn(seed))
    a = Admin.of(g)
    a.wait_ready()
    rng = random.Random(seed * 104729)
    seen = {"y.pl.test.", "deep.pl.test.", "b.deep.pl.test.", "wild.pl.test.",
            "nx.wild.pl.test.", "none.pl.test.", "pl.test."}
    applied = 0
    for step in range(30):
        _, doc = version(a)
        names = sorted(doc.get("records", {}))
        if names and rng.random() < 0.35:
            r = a.delete("/v1/config/records/" + rng.choice(names), timeout=30)
        elif names and rng.random() < 0.2:  # a put of a name there: kept, not placed
            n = rng.choice(names)
            r = put(a, "records/" + n, plain(rng, doc["records"][n]["pool"]))
        else:
            n = rng.choice(PLACES)
            n = (n % rng.randrange(4) if "%d" in n else n) + ".pl.test."
            seen.add(n)
            seen.add(n.split(".", 1)[1])  # its parent: an empty non-terminal or not
            r = put(a, "records/" + n, plain(rng, rng.choice(["pa", "pb", "p6", "pc"])))
        assert r.status in (200, 201), (step, r)
        applied += r.status == 201
    for n in REFUSED:
        v0, _ = version(a)
        r = put(a, "records/" + n, plain(rng, "pa"))
        assert r.status == 400 and r.json["error"]["code"] == "invalid", (n, r)
        assert version(a)[0] == v0
    assert applied >= 20, applied
    log = g.read_log()
    placed = [int(x) for x in re.findall(r"zones_placed=(\d+)", log)]
    assert sum(placed) >= 5, "no change placed its names: the zone was read every time"
    _, doc = version(a)
    names = sorted(seen | set(doc.get("records", {})))
    inc = answers(g, names)
    # The same file, reloaded in full by the same process.
    sighup(g)
    full = settled(g, inc, False)
    assert inc == full, diff(inc, full)

"""The parent zone of a child two labels below it (issue #56; doc/dnssec.md,
"The KSK rollover, by double-KSK"): Knot is the primary of ksk.test. and
delegates child.mid.ksk.test. (mid.ksk.test. is an empty non-terminal of
the parent zone), taking DS updates for it under a TSIG key. gtmd must
find ksk.test. by asking Knot for the SOA of the child's ancestors
(mid.ksk.test. answers NODATA, ksk.test. its SOA with authority) and
push the new KSK's DS to that zone: an UPDATE for mid.ksk.test. (the
child less its first label) is refused by Knot, which is not
authoritative for it, so the DS would never arrive. The policy's
parent.zone, when given, is the zone pushed to: "ksk.test." works
without asking; "mid.ksk.test." (the old guess) is the control: Knot
refuses it (NOTAUTH) and the DS never arrives, so the first test can
fail. It must be above every zone of the policy: gtmd check refuses one
that is not and names its JSON path.

Every wait is a bounded poll; each bound says where it comes from."""
import json
import os
import re
import shutil
import subprocess
import tempfile

import dns.dnssec
import pytest

from adminlib import READ_TOKEN, Admin, admin_port, admin_section
from backends import poll
from conftest import GTMD, Gtmd, free_port, stop_process
import test_dnssec_ksk as ksk

ADDR = "127.0.0.1"
PARENT = ksk.PARENT  # ksk.test.
CHILD = "child.mid." + PARENT
CHILD_TEXT = """$ORIGIN {child}
$TTL 2
@ IN SOA ns1 hostmaster 1 3600 600 86400 2
@ IN NS ns1
ns1 IN A 127.0.0.1
www IN A 192.0.2.1
""".format(child=CHILD)

pytestmark = ksk.pytestmark


def config(gdir, gport, kport, parent_zone=None):
    pol = ksk.policy("none", kport)  # no scheduled KSK rollover: the API starts it
    if parent_zone is not None:
        pol["parent"]["zone"] = parent_zone
    return {"listen": ["%s:%d" % (ADDR, gport)], "workers": 1,
            "tsig_keys": {ksk.KEY: {"algorithm": "hmac-sha256", "secret": ksk.SECRET}},
            "dnssec_policies": {"short": pol},
            "zones": [{"origin": CHILD, "file": "child.zone",
                       "dnssec": {"policy": "short", "key_directory": "keys"}}],
            "admin": admin_section(gdir, admin_port(gport))}


@pytest.fixture
def deep(request):
    """gtmd serving CHILD, Knot the primary of PARENT two labels above;
    request.param: the policy's parent.zone (None: none)."""
    parent_zone = getattr(request, "param", None)
    workdir = tempfile.mkdtemp(prefix="gtmd-pzone-")
    g = knot = knot_out = None
    try:
        gdir, kdir = os.path.join(workdir, "gtmd"), os.path.join(workdir, "knot")
        for d in (gdir, kdir):
            os.mkdir(d)
        with open(os.path.join(gdir, "child.zone"), "w") as f:
            f.write(CHILD_TEXT)
        gport, kport = free_port(), free_port()
        g = Gtmd(gdir, config(gdir, gport, kport, parent_zone), gport).start()
        [first] = [k for k in ksk.rrset(gport, CHILD, "DNSKEY") if k.flags & 1]
        knot, knot_out, _ = ksk.start_parent(kdir, kport, gport, first, kdir,
                                             parent=PARENT, child=CHILD)
        env = type("E", (), {})()
        env.g, env.gport, env.kport, env.kdir = g, gport, kport, kdir
        env.first = dns.dnssec.key_id(first)
        yield env
    finally:
        if knot:
            stop_process(knot)
        if knot_out:
            knot_out.close()
        if g:
            g.stop()
        shutil.rmtree(workdir, ignore_errors=True)


def roll(env):
    """Starts a KSK rollover; (admin, the new KSK's tag, the DS tags at Knot)."""
    ds = lambda: {d.key_tag for d in ksk.rrset(env.kport, CHILD, "DS")}  # noqa: E731
    assert ds() == {env.first}, "knot does not serve the child's DS: " + ksk.logs(env.kdir)
    a = Admin.of(env.g)
    r = a.post("/v1/dnssec/%s/rollover" % CHILD, {"key": "ksk"})
    assert r.status == 200, r.json
    return a, r.json["new"]["tag"], ds


def test_the_parent_two_labels_up_is_found_and_gets_the_ds(deep):
    env = deep
    a, new, ds = roll(env)
    # Ready Ipub (3 s) after the second after the zone with it was served,
    # then a check (each 1 s) finds no DS and the push goes at once; Knot
    # applies it at once. About 5 s; 30 s for ASan on a loaded machine.
    got = poll(lambda: new in ds(), 30, 0.2)[0]
    log = env.g.read_log()
    assert got, (ds(), log[-3000:], ksk.logs(env.kdir))
    assert "event=dnssec_parent_found zone=%s parent=%s server=%s:%d" % (
        CHILD, PARENT, ADDR, env.kport) in log, log[-3000:]
    assert "zone=%s action=add tag=%d rcode=NOERROR result=ok" % (CHILD, new) in log, log[-3000:]
    v = a.get("/v1/dnssec", token=READ_TOKEN).json
    [z] = [z for z in v["zones"] if z["zone"] == CHILD]
    assert z["parent"]["zone_found"] == PARENT, z["parent"]


def check(tmp_path, parent_zone):
    conf = config(str(tmp_path), 5353, 5354, parent_zone)
    with open(os.path.join(str(tmp_path), "child.zone"), "w") as f:
        f.write(CHILD_TEXT)
    path = os.path.join(str(tmp_path), "gtmd.json")
    with open(path, "w") as f:
        json.dump(conf, f)
    r = subprocess.run([GTMD, "check", "-c", path], capture_output=True, text=True, timeout=60,
                       cwd=str(tmp_path))
    return r.returncode, r.stdout + r.stderr


@pytest.mark.parametrize("zone", ["other.test.", CHILD, "x." + CHILD, "mid..ksk.test."])
def test_a_parent_zone_not_above_the_child_is_refused(tmp_path, zone):
    rc, out = check(tmp_path, zone)
    assert rc != 0, out
    assert '$.dnssec_policies["short"]' in out and "parent.zone" in out, out
    if ".." not in zone:
        assert "is not above %s" % CHILD in out and "$.zones[0]" in out, out
    else:
        assert "empty" in out, out


@pytest.mark.parametrize("zone", [PARENT, "mid." + PARENT, "test"])
def test_a_parent_zone_above_the_child_is_taken(tmp_path, zone):
    rc, out = check(tmp_path, zone)
    assert rc == 0, out


@pytest.mark.parametrize("deep", [PARENT], indirect=True)
def test_parent_zone_given_is_used_without_asking(deep):
    env = deep
    a, new, ds = roll(env)
    # As above: about 5 s; 30 s for ASan on a loaded machine.
    got = poll(lambda: new in ds(), 30, 0.2)[0]
    log = env.g.read_log()
    assert got, (ds(), log[-3000:], ksk.logs(env.kdir))
    assert "event=dnssec_parent_found" not in log, log[-3000:]


@pytest.mark.parametrize("deep", ["mid." + PARENT], indirect=True)
def test_the_wrong_parent_zone_is_refused(deep):
    """The control: an UPDATE for mid.ksk.test. (the child less its first
    label, what gtmd sent before it asked) is refused by Knot."""
    env = deep
    a, new, ds = roll(env)
    refused = re.compile(r"zone=%s action=add tag=%d rcode=(NOTAUTH|REFUSED) result=failed" %
                         (re.escape(CHILD), new))
    # The first push about 5 s after the call (as above); 30 s for ASan.
    assert poll(lambda: refused.search(env.g.read_log()), 30, 0.2)[0], env.g.read_log()[-3000:]
    assert new not in ds(), ds()

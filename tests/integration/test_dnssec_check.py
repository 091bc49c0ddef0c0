"""'gtmd check' and load/reload on signed zones (zone_verify.c): good zones
pass; expired, not yet valid, forged and missing signatures, broken NSEC
and NSEC3 chains, NSEC3PARAM mismatches and DNSSEC records without a
DNSKEY are errors; signatures expiring within "dnssec": {"expiry_warning"}
are a warning. At reload an error keeps the old zone serving. kzonecheck
(Knot) judges the same zones as gtmd check."""
import json
import os
import re
import shutil
import signal
import subprocess
import tempfile
import time

import dns.message
import dns.query
import dns.rcode
import pytest

from conftest import GTMD, Gtmd, free_port
from dnssec_zones import ORIGIN, SignedSet, missing_tools, policy_pool

DAY = 86400


@pytest.fixture(scope="module")
def zones():
    tool = missing_tools()
    if tool:
        pytest.skip("ldnsutils not installed (%s missing)" % tool)
    d = tempfile.mkdtemp(prefix="gtmd-dnssec-check-")
    try:
        yield {k: SignedSet(os.path.join(d, k), k) if os.mkdir(os.path.join(d, k)) is None
               else None for k in ("nsec", "nsec3")}
    finally:
        shutil.rmtree(d, ignore_errors=True)


def _check(zs, zone_file, dnssec=None):
    """Runs gtmd check on a config serving zone_file; (rc, stdout, stderr)."""
    entry = {"origin": ORIGIN, "file": zone_file}
    if dnssec is not None:
        entry["dnssec"] = dnssec
    cfg = os.path.join(os.path.dirname(zone_file), "check.json")
    with open(cfg, "w") as f:
        json.dump({"listen": ["127.0.0.1:5353"], "zones": [entry]}, f)
    p = subprocess.run([GTMD, "check", "-c", cfg], capture_output=True, text=True, timeout=60)
    return p.returncode, p.stdout, p.stderr


def _edit(src, dst, fn):
    """Writes dst: the lines of src passed through fn (None drops a line)."""
    out = []
    for line in open(src).read().splitlines():
        r = fn(line)
        if r is not None:
            out.append(r)
    with open(dst, "w") as f:
        f.write("\n".join(out) + "\n")
    return dst


def _fields(line):
    return line.split()


def _is(line, owner, rtype, covered=None):
    f = _fields(line)
    return (len(f) > 4 and f[0] == owner and f[3] == rtype and
            (covered is None or f[4] == covered))


def _stamp(t):
    return time.strftime("%Y%m%d%H%M%S", time.gmtime(t))


@pytest.mark.parametrize("denial", ["nsec", "nsec3"])
def test_check_good_signed_zone(zones, denial):
    rc, out, err = _check(zones, zones[denial].parent)
    assert rc == 0 and "ok" in out and "warning" not in err, err


def test_check_expired_signatures_error(zones):
    z = zones["nsec"]
    now = int(time.time())
    f = z.resign(os.path.join(z.dir, "expired.zone"),
                 extra=["-i", _stamp(now - 20 * DAY), "-e", _stamp(now - DAY)])
    rc, out, err = _check(zones, f)
    assert rc == 1, out
    assert re.search(r"signature expired at \d{4}-\d\d-\d\d", err), err
    assert "in all (the first 10 shown)" in err  # every RRset, counted


def test_check_not_yet_valid_error(zones):
    z = zones["nsec"]
    now = int(time.time())
    f = z.resign(os.path.join(z.dir, "future.zone"),
                 extra=["-i", _stamp(now + 2 * DAY), "-e", _stamp(now + 30 * DAY)])
    rc, out, err = _check(zones, f)
    assert rc == 1 and "not yet valid" in err, err


def test_check_expiring_soon_is_a_warning(zones):
    z = zones["nsec3"]
    now = int(time.time())
    f = z.resign(os.path.join(z.dir, "soon.zone"),
                 extra=["-i", _stamp(now - DAY), "-e", _stamp(now + 3 * DAY)])
    rc, out, err = _check(zones, f)
    assert rc == 0 and "with warnings" in out, out + err
    assert re.search(r"warning: .*signatures expire within 7\d hours", err), err
    rc, out, err = _check(zones, f, {"expiry_warning": 2 * DAY})
    assert rc == 0 and "warning" not in err and "with warnings" not in out, err


def test_check_expiry_warning_setting_is_validated(zones):
    rc, out, err = _check(zones, zones["nsec"].parent, {"expiry_warning": "soon"})
    assert rc == 1 and "$.zones[0].dnssec.expiry_warning" in err, err
    rc, out, err = _check(zones, zones["nsec"].parent, {"bogus": 1})
    assert rc == 1 and "$.zones[0].dnssec" in err, err


def test_check_forged_record_is_bogus(zones):
    z = zones["nsec"]
    www = "www." + ORIGIN
    f = _edit(z.parent, os.path.join(z.dir, "forged.zone"),
              lambda l: l.replace("127.0.0.80", "127.0.0.66") if _is(l, www, "A") else l)
    rc, out, err = _check(zones, f)
    assert rc == 1 and "www.dnssec.test. A: no signature verifies" in err, err


def test_check_missing_rrsig(zones):
    z = zones["nsec3"]
    f = _edit(z.parent, os.path.join(z.dir, "nosig.zone"),
              lambda l: None if _is(l, "txt." + ORIGIN, "RRSIG", "TXT") else l)
    rc, out, err = _check(zones, f)
    assert rc == 1 and "txt.dnssec.test. TXT: no RRSIG" in err, err


def test_check_broken_nsec_chain(zones):
    z = zones["nsec"]
    f = _edit(z.parent, os.path.join(z.dir, "nochain.zone"),
              lambda l: None if _fields(l)[:1] == ["mail." + ORIGIN] and
              _fields(l)[3:4] in (["NSEC"], ["RRSIG"]) and "NSEC" in _fields(l)[3:5] else l)
    rc, out, err = _check(zones, f)
    assert rc == 1, out
    assert "mail.dnssec.test. NSEC: no NSEC record at the name" in err, err
    assert "next owner is not the next name" in err, err


def test_check_broken_nsec3_chain(zones):
    z = zones["nsec3"]
    lines = open(z.parent).read().splitlines()
    victim = next(_fields(l)[0] for l in lines if _is(l, _fields(l)[0], "NSEC3")
                  and "A" in _fields(l)[9:] and "MX" not in _fields(l)[9:])
    f = _edit(z.parent, os.path.join(z.dir, "nochain3.zone"),
              lambda l: None if _fields(l)[:1] == [victim] else l)
    rc, out, err = _check(zones, f)
    assert rc == 1, out
    assert "no NSEC3 record for the name" in err, err
    assert "next hashed owner is not the next hash" in err, err


def test_check_nsec3param_mismatch(zones):
    z = zones["nsec3"]
    f = _edit(z.parent, os.path.join(z.dir, "param.zone"),
              lambda l: l.replace("NSEC3PARAM\t1 0 2 abcd", "NSEC3PARAM\t1 0 5 abcd")
              if _is(l, ORIGIN, "NSEC3PARAM") else l)
    rc, out, err = _check(zones, f)
    assert rc == 1, out
    assert "NSEC3 records have other parameters than the NSEC3PARAM" in err, err


def test_check_dnssec_records_without_dnskey(zones):
    z = zones["nsec"]
    f = _edit(z.parent, os.path.join(z.dir, "nokey.zone"),
              lambda l: None if _is(l, ORIGIN, "DNSKEY") else l)
    rc, out, err = _check(zones, f)
    assert rc == 1 and "but no DNSKEY at its apex" in err, err


def test_check_unsigned_zone_untouched(zones):
    rc, out, err = _check(zones, zones["nsec"].parent_unsigned)
    assert rc == 0 and "warning" not in err, err


def test_reload_with_expired_zone_keeps_old(zones, tmp_path):
    """An error at reload keeps the old set serving; a warning is logged."""
    z = zones["nsec"]
    live = str(tmp_path / "live.zone")
    shutil.copy(z.parent, live)
    port = free_port()
    g = Gtmd(str(tmp_path), {"listen": ["127.0.0.1:%d" % port], "workers": 1,
                             "zones": [{"origin": ORIGIN, "file": live}]}, port).start()
    try:
        now = int(time.time())
        z.resign(live, extra=["-i", _stamp(now - 20 * DAY), "-e", _stamp(now - DAY)])
        g.signal(signal.SIGHUP)
        deadline = time.monotonic() + 10
        while "reload failed" not in g.read_log() and time.monotonic() < deadline:
            time.sleep(0.05)
        assert "signature expired" in g.read_log()
        q = dns.message.make_query("www." + ORIGIN, "A", want_dnssec=True)
        r = dns.query.udp(q, "127.0.0.1", port=port, timeout=2)
        assert r.rcode() == dns.rcode.NOERROR and len(r.answer) == 2  # A + RRSIG, old set
        z.resign(live, extra=["-i", _stamp(now - DAY), "-e", _stamp(now + 2 * DAY)])
        g.signal(signal.SIGHUP)
        deadline = time.monotonic() + 10
        while "event=zone_warning" not in g.read_log() and time.monotonic() < deadline:
            time.sleep(0.05)
        assert re.search(r"warn event=zone_warning .*signatures expire within", g.read_log())
    finally:
        g.stop()
        g.check_sanitizer()


def test_check_policy_record_in_signed_zone_is_an_error(zones):
    """A pre-signed file cannot sign policy answers: say so instead of
    serving answers that validating resolvers reject."""
    z = zones["nsec"]
    cfg = os.path.join(z.dir, "policy.json")
    with open(cfg, "w") as f:
        json.dump({"listen": ["127.0.0.1:5353"],
                   "zones": [{"origin": ORIGIN, "file": z.parent}],
                   **policy_pool("gtm." + ORIGIN, location=None)}, f)
    p = subprocess.run([GTMD, "check", "-c", cfg], capture_output=True, text=True, timeout=60)
    assert p.returncode == 1 and "gtm.dnssec.test." in p.stderr, p.stderr
    assert "is in a signed zone" in p.stderr, p.stderr
    assert "without keys" in p.stderr and "pre-signed file alone" in p.stderr, p.stderr
    with open(cfg, "w") as f:  # the same records over the unsigned zone load
        json.dump({"listen": ["127.0.0.1:5353"],
                   "zones": [{"origin": ORIGIN, "file": z.parent_unsigned}],
                   **policy_pool("gtm." + ORIGIN, location=None)}, f)
    p = subprocess.run([GTMD, "check", "-c", cfg], capture_output=True, text=True, timeout=60)
    assert p.returncode == 0, p.stderr


KZONECHECK = "/usr/bin/kzonecheck"


def test_check_agrees_with_kzonecheck(zones):
    """Knot's kzonecheck (knot-dnssecutils) with DNSSEC checks on and gtmd
    check pass and fail the same signed zones."""
    if not os.access(KZONECHECK, os.X_OK):
        pytest.skip("kzonecheck is not installed (knot-dnssecutils)")
    n, n3 = zones["nsec"], zones["nsec3"]
    now = int(time.time())
    www = "www." + ORIGIN
    variants = {
        "good_nsec": n.parent,
        "good_nsec3": n3.parent,
        "forged": _edit(n.parent, os.path.join(n.dir, "kz-forged.zone"),
                        lambda l: l.replace("127.0.0.80", "127.0.0.66") if _is(l, www, "A")
                        else l),
        "missing_rrsig": _edit(n3.parent, os.path.join(n3.dir, "kz-nosig.zone"),
                               lambda l: None if _is(l, "txt." + ORIGIN, "RRSIG", "TXT")
                               else l),
        "missing_nsec": _edit(n.parent, os.path.join(n.dir, "kz-nonsec.zone"),
                              lambda l: None if _fields(l)[:1] == ["mail." + ORIGIN] and
                              "NSEC" in _fields(l)[3:5] else l),
        "expired": n.resign(os.path.join(n.dir, "kz-expired.zone"),
                            extra=["-i", _stamp(now - 20 * DAY), "-e", _stamp(now - DAY)]),
    }
    for name, f in variants.items():
        kz = subprocess.run([KZONECHECK, "-o", ORIGIN, "-d", "on", f], capture_output=True,
                            text=True, timeout=60)
        rc, out, err = _check(zones, f)
        assert (rc == 0) == (kz.returncode == 0), "%s: gtmd check rc=%d (%s), kzonecheck rc=%d (%s)" % (
            name, rc, err[:500], kz.returncode, (kz.stdout + kz.stderr)[:500])
        assert (rc == 0) == name.startswith("good"), name

"""`gtmd check` on the key store of a zone whose keys gtmd keeps
(zone_kasp_check.c): it reads the store, never writes it, and names the
file of each problem: a directory group or others may open, a state file
that does not parse, a key file missing or corrupt, a private key others
may read, and keys of an algorithm that is not the policy's outside an
algorithm rollover. Keys all of another algorithm than the policy's are a
rollover to come: a warning."""
import json
import os
import shutil
import subprocess
import tempfile

import pytest

from conftest import GTMD
from dnssec_zones import KEYGEN, missing_tools

ZONE = "kasp.test."
ZONE_TEXT = """$ORIGIN kasp.test.
$TTL 2
@ IN SOA ns1 hostmaster 1 3600 600 86400 2
@ IN NS ns1
ns1 IN A 127.0.0.1
"""
POLICY = {"algorithm": 13, "zsk_lifetime": "none", "ksk_lifetime": "none", "dnskey_ttl": 2,
          "zone_max_ttl": 2, "propagation_delay": 1, "publish_safety": 0, "retire_safety": 0,
          "signature_validity": 3600, "signature_refresh": 600}
T = 1700000000  # every key active since then


def _key(kdir, alg, ksk):
    argv = [KEYGEN, "-a", alg] + (["-k"] if ksk else []) + [ZONE]
    p = subprocess.run(argv, cwd=kdir, capture_output=True, text=True, check=True)
    base = p.stdout.strip()
    for ext in (".key", ".private", ".ds"):
        if os.path.exists(os.path.join(kdir, base + ext)):
            os.chmod(os.path.join(kdir, base + ext), 0o600)
    tag = int(base.rsplit("+", 1)[1])
    num = int(base.split("+")[1])
    return {"file": base, "tag": tag, "algorithm": num, "role": "ksk" if ksk else "zsk",
            "created": T, "published": T, "ready": T, "active": T, "retire_active": None,
            "retired": None, "removed": None}


@pytest.fixture
def store():
    if missing_tools():
        pytest.skip("ldnsutils not installed")
    d = tempfile.mkdtemp(prefix="gtmd-kasp-check-")
    try:
        kdir = os.path.join(d, "keys")
        os.mkdir(kdir, 0o700)
        with open(os.path.join(d, "kasp.zone"), "w") as f:
            f.write(ZONE_TEXT)
        e = type("S", (), {})()
        e.dir, e.kdir = d, kdir
        e.keys = [_key(kdir, "ECDSAP256SHA256", True), _key(kdir, "ECDSAP256SHA256", False)]
        e.save = lambda: _save(e)
        e.save()
        yield e
    finally:
        shutil.rmtree(d, ignore_errors=True)


def _save(e):
    with open(os.path.join(e.kdir, ZONE + "kasp.json"), "w") as f:
        json.dump({"version": 1, "zone": ZONE, "keys": e.keys}, f)


def check(e, alg=13):
    conf = {"listen": ["127.0.0.1:5353"],
            "dnssec_policies": {"p": dict(POLICY, algorithm=alg)},
            "zones": [{"origin": ZONE, "file": "kasp.zone",
                       "dnssec": {"policy": "p", "key_directory": "keys"}}]}
    path = os.path.join(e.dir, "gtmd.json")
    with open(path, "w") as f:
        json.dump(conf, f)
    before = sorted(os.listdir(e.kdir))
    r = subprocess.run([GTMD, "check", "-c", path], capture_output=True, text=True, timeout=60)
    assert sorted(os.listdir(e.kdir)) == before, "gtmd check wrote to the store"
    return r.returncode, r.stdout + r.stderr


def test_a_good_store_passes(store):
    rc, out = check(store)
    assert rc == 0 and "warning" not in out, out


def test_open_directory(store):
    os.chmod(store.kdir, 0o755)
    rc, out = check(store)
    assert rc == 1 and store.kdir + ": the key directory of kasp.test. is mode 755" in out, out


def test_state_file_that_does_not_parse(store):
    with open(os.path.join(store.kdir, ZONE + "kasp.json"), "w") as f:
        f.write("{not json")
    rc, out = check(store)
    assert rc == 1 and os.path.join(store.kdir, ZONE + "kasp.json") in out and "JSON" in out, out


def test_missing_and_corrupt_key_files(store):
    base = os.path.join(store.kdir, store.keys[1]["file"])
    os.unlink(base + ".private")
    rc, out = check(store)
    assert rc == 1 and base in out and "key store" in out, out
    with open(os.path.join(store.kdir, store.keys[0]["file"] + ".key"), "w") as f:
        f.write("garbage\n")
    rc, out = check(store)
    assert rc == 1 and store.keys[0]["file"] + ".key" in out, out


def test_private_key_others_may_read(store):
    priv = os.path.join(store.kdir, store.keys[0]["file"] + ".private")
    os.chmod(priv, 0o644)
    rc, out = check(store)
    assert rc == 1 and priv + ": mode 644" in out and "chmod 600" in out, out


def test_state_that_disagrees_with_the_key_file(store):
    store.keys[1]["algorithm"] = 15
    store.save()
    rc, out = check(store)
    assert rc == 1 and "the key state says 15" in out, out


def test_algorithms(store):
    # All keys of 13, the policy 15: the rollover gtmd will start.
    rc, out = check(store, alg=15)
    assert rc == 0 and "warning:" in out and "starts an algorithm rollover" in out, out
    # Keys of 13 and 15 with the policy at 15: a rollover under way.
    store.keys.append(_key(store.kdir, "ED25519", False))
    store.save()
    rc, out = check(store, alg=15)
    assert rc == 0, out
    # Keys of 13 and 15, the policy at 8: no rollover explains them.
    rc, out = check(store, alg=8)
    assert rc == 1 and "is not policy p's (8)" in out and "no algorithm rollover" in out, out

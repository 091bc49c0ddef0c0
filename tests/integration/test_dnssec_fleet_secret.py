"""Reloads that touch a fleet node's key-sharing secret (issue #56;
doc/dnssec.md, "Fleet keys"), on test_dnssec_fleet_keys.py's lab (three
etcd members, a node with fleet.key_secret_file):

1. the secret file gone at a reload: the reload fails with an error
   naming $.fleet.key_secret_file and the file; the node keeps its running
   secret and keys (it still opens the fleet's set in etcd);
2. the file holding another secret at a reload: the reload succeeds, says
   restart_needed "fleet.key_secret_file", logs a warning, and GET
   /v1/dnssec shows fleet_keys.secret_pending naming the file and both
   secret ids; the running secret and keys stay."""
import json
import os

from adminlib import Admin
from backends import poll
from test_dnssec_fleet_keys import ZONE, blob_in_etcd, dnskey_set, fleet_keys, lab, \
    write_secret, zone_state

assert lab  # the fixture, used by name below


def test_reload_keeps_the_running_secret(lab):
    env = lab
    n1 = env.nodes[0]
    n1.start()
    # The set is in etcd within two ticks of the keyshare (1 s each); 15 s
    # for ASan and a loaded machine (as test_dnssec_fleet_keys.py).
    assert poll(lambda: blob_in_etcd(env) and dnskey_set(n1), 15, 0.2)[0], n1.read_log()
    held = dnskey_set(n1)
    first = fleet_keys(n1)
    path = os.path.join(n1.workdir, "fleet.secret")
    a = Admin.of(n1)

    os.rename(path, path + ".away")
    r = a.post("/v1/reload", {})
    assert r.status in (200, 400, 422) and r.json["result"] == "failed", r.json
    errs = "\n".join(r.json["errors"])
    assert "$.fleet.key_secret_file" in errs and path in errs and "cannot read" in errs, errs
    os.rename(path + ".away", path)
    assert fleet_keys(n1)["secret_id"] == first["secret_id"]
    assert dnskey_set(n1) == held

    other = os.urandom(32).hex()
    write_secret(path, other)
    r = a.post("/v1/reload", {})
    assert r.status == 200 and r.json["result"] == "ok", r.json
    assert "fleet.key_secret_file" in r.json["restart_needed"], r.json
    fk = fleet_keys(n1)
    assert fk["secret_id"] == first["secret_id"], fk
    pending = fk.get("secret_pending") or ""
    assert path in pending and first["secret_id"] in pending and "restart" in pending, fk
    assert "restart_needed=fleet.key_secret_file" in n1.read_log()
    assert dnskey_set(n1) == held
    # A new set (an emergency ZSK rollover) is sealed with the running
    # secret and loaded back: a tick or two (1 s each); 15 s for ASan.
    rev = zone_state(n1)["rev"]
    # The node steps once its own loaded record is in etcd (a tick or two
    # after its start); 15 s for ASan.
    r = poll(lambda: (lambda r: r if r.status != 409 else None)(
        a.post("/v1/dnssec/%s/rollover" % ZONE, {"key": "zsk"})), 15, 0.5)[0]
    assert r and r.status == 200, r and r.json

    def reloaded():
        z = zone_state(n1)
        return z if z.get("rev", 0) > rev and z.get("state") == "loaded" else None
    z = poll(reloaded, 15, 0.2)[0]
    assert z and not z.get("error"), fleet_keys(n1)
    assert json.loads(blob_in_etcd(env))["kid"] == first["secret_id"]
    # The file back as it was: nothing pending any more.
    write_secret(path, env.secret)
    r = a.post("/v1/reload", {})
    assert r.status == 200 and "fleet.key_secret_file" not in r.json["restart_needed"], r.json
    assert not fleet_keys(n1).get("secret_pending"), fleet_keys(n1)

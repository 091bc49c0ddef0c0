"""Warnings about exposed secrets (issue #24), with the real binary:
`gtmd check` and the start warn of an etcd password file that other
users can read, of an etcd password sent over http://, and of a DNSSEC
private key that other users can read (each naming its JSON path); a
file readable only by the group gtmd runs as is fine; a start as root
without "user" logs a warning line. None of them stops gtmd.

Every wait is bounded."""
import json
import os
import shutil
import signal
import subprocess
import time

import pytest

from conftest import GTMD, default_config, free_port
from dnssec_zones import ORIGIN, SignedSet, missing_tools
from fleetlib import member_key


def check(workdir, cfg):
    path = os.path.join(workdir, "gtmd.json")
    with open(path, "w") as f:
        json.dump(cfg, f)
    p = subprocess.run([GTMD, "check", "-c", path], capture_output=True, text=True, timeout=60)
    return p.returncode, p.stdout, p.stderr


def warnings(err, key):
    return [line for line in err.splitlines() if line.startswith("warning: ") and key in line]


def poll(fn, timeout=5.0):
    """fn() until truthy or timeout (bounded); the last value."""
    deadline = time.monotonic() + timeout
    v = fn()
    while not v and time.monotonic() < deadline:
        time.sleep(0.05)
        v = fn()
    return v


def fleet_cfg(tmp_path, url, mode, members=True):
    pw = tmp_path / "etcd.pw"
    pw.write_text("s3cret-pw\n")
    os.chmod(pw, mode)
    cfg = default_config(str(tmp_path), free_port())
    cfg["fleet"] = {"etcd": [url], "node": "n1", "username": "gtmd", "password_file": "etcd.pw"}
    if members:  # signed records: the warning about unsigned fleets stays out of the way
        key, pub = member_key(tmp_path, "n1")
        cfg["fleet"].update(key_file=key, members={"n1": pub})
    return cfg


def test_fleet_without_members_is_warned_of(tmp_path):
    """Without "members" any writer to the etcd prefix rules the fleet:
    gtmd check says so, naming $.fleet; with them, it does not."""
    rc, out, err = check(str(tmp_path), fleet_cfg(tmp_path, "https://127.0.0.1:2379", 0o600,
                                                  members=False))
    w = warnings(err, "$.fleet:")
    assert rc == 0 and len(w) == 1 and "no \"members\"" in w[0] and "forge" in w[0], err
    rc, out, err = check(str(tmp_path), fleet_cfg(tmp_path, "https://127.0.0.1:2379", 0o600))
    assert rc == 0 and not warnings(err, "$.fleet:"), err


def test_etcd_password_file_readable_by_others(tmp_path):
    rc, out, err = check(str(tmp_path), fleet_cfg(tmp_path, "https://127.0.0.1:2379", 0o644))
    assert rc == 0 and "with warnings" in out, (out, err)
    w = warnings(err, "$.fleet.password_file")
    assert len(w) == 1 and "mode 0644" in w[0] and "every user" in w[0], err
    # 0600: nothing to say.
    rc, out, err = check(str(tmp_path), fleet_cfg(tmp_path, "https://127.0.0.1:2379", 0o600))
    assert rc == 0 and "warning" not in err and "with warnings" not in out, (out, err)


def test_etcd_group_read_only_for_gtmds_group(tmp_path):
    """0640 is fine when the file's group is the one gtmd runs as (here,
    without "user": the group that runs the check); another group is not."""
    cfg = fleet_cfg(tmp_path, "https://127.0.0.1:2379", 0o640)
    os.chown(tmp_path / "etcd.pw", -1, os.getegid())
    rc, out, err = check(str(tmp_path), cfg)
    assert rc == 0 and not warnings(err, "$.fleet.password_file"), err
    if os.geteuid() != 0:
        pytest.skip("changing a file's group to another group needs root")
    os.chown(tmp_path / "etcd.pw", -1, os.getegid() + 1)
    rc, out, err = check(str(tmp_path), cfg)
    w = warnings(err, "$.fleet.password_file")
    assert rc == 0 and len(w) == 1 and "its group" in w[0], err


def test_etcd_password_over_http(tmp_path):
    cfg = fleet_cfg(tmp_path, "http://127.0.0.1:2379", 0o600)
    cfg["fleet"]["etcd"].append("https://127.0.0.2:2379")
    rc, out, err = check(str(tmp_path), cfg)
    assert rc == 0, (out, err)
    w = warnings(err, "$.fleet.etcd[")
    assert len(w) == 1 and "$.fleet.etcd[0]" in w[0] and "in clear" in w[0], err
    assert "http://127.0.0.1:2379" in w[0] and "s3cret" not in err
    # Without credentials, http:// sends no secret.
    del cfg["fleet"]["username"], cfg["fleet"]["password_file"]
    rc, out, err = check(str(tmp_path), cfg)
    assert rc == 0 and not warnings(err, "$.fleet"), err


@pytest.fixture(scope="module")
def zs(tmp_path_factory):
    tool = missing_tools()
    if tool:
        pytest.skip("ldnsutils not installed (%s missing)" % tool)
    d = str(tmp_path_factory.mktemp("secrets-keys"))
    yield SignedSet(d, "nsec")
    shutil.rmtree(d, ignore_errors=True)


def key_cfg(zs):
    return {"listen": ["127.0.0.1:%d" % free_port()],
            "zones": [{"origin": ORIGIN, "file": zs.parent_unsigned,
                       "dnssec": {"keys": [zs.ksk, zs.zsk]}}]}


def test_dnssec_private_key_readable_by_others(zs, make_gtmd):
    private = zs.zsk + ".private"
    before = os.stat(private).st_mode & 0o7777
    try:
        os.chmod(private, 0o644)
        rc, out, err = check(zs.dir, key_cfg(zs))
        assert rc == 0 and "with warnings" in out, (out, err)
        w = warnings(err, "$.zones[0].dnssec.keys")
        assert len(w) == 1 and "$.zones[0].dnssec.keys[1]" in w[0], err
        assert private in w[0] and "mode 0644" in w[0], w
        # The start logs the same warning and goes on.
        g = make_gtmd(lambda workdir, port: dict(key_cfg(zs), listen=["127.0.0.1:%d" % port]))
        log = g.read_log()
        assert "event=secrets_warning" in log and "dnssec.keys[1]" in log, log[-3000:]
        if os.geteuid() == 0:
            assert "runs as root" in log and "$.user" in log, log[-3000:]
        assert g.proc.poll() is None
    finally:
        os.chmod(private, before)
    rc, out, err = check(zs.dir, key_cfg(zs))
    assert rc == 0 and "warning" not in err, (out, err)


def test_root_without_user_is_logged_at_start_only(make_gtmd, tmp_path):
    if os.geteuid() != 0:
        pytest.skip("runs as root only")
    g = make_gtmd()
    lines = [x for x in g.read_log().splitlines() if "event=secrets_warning" in x]
    assert len(lines) == 1 and "runs as root" in lines[0] and " warn " in lines[0], lines
    # The one line says what to set: the key's JSON path, and the key with a
    # value as it is written in the file (quotes escaped in the note).
    assert ": $.user: " in lines[0], lines
    assert 'set \\"user\\": \\"gtmd\\"' in lines[0], lines
    # It is said once: a reload does not say it again.
    before = len(g.read_log())
    g.signal(signal.SIGHUP)
    assert poll(lambda: "event=reload result=ok" in g.read_log()[before:]), g.read_log()
    assert "event=secrets_warning" not in g.read_log()[before:], g.read_log()[before:]
    # gtmd check says nothing of it: it may run as another user than gtmd.
    rc, out, err = check(str(tmp_path), default_config(str(tmp_path), free_port()))
    assert rc == 0 and "warning" not in err, err

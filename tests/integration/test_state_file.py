"""The state file against hostile or broken input, with the real binary:
the temporary file is never a planted symlink, a corrupt or crafted file
is kept aside (STATE.corrupt-TIMESTAMP) with a loud log line and a field
in /v1/status, override ids are never handed out twice, restored fields
are checked like API requests (no counter wrap, no state "banana", no raw
newline in the log), a file over max_overrides is restored whole at start
(a reload may have lowered it: gtmd check, the reload and the start agree,
and no state is lost), and a
state file that could not be written fails `gtmd check` and the start.

Every wait is bounded."""
import json
import os
import re
import shutil
import subprocess
import tempfile
import time

import pytest

from adminlib import READ_TOKEN, Admin, config_fn, restart, start
from backends import poll, query_addrs
from conftest import GTMD, Gtmd, default_config, free_port

US_A = ["192.0.2.10", "192.0.2.11"]
EU_A = ["198.51.100.10"]


def fo(g):
    return query_addrs(g, "fo.example.com.", "A")


def state_path(g):
    return os.path.join(g.workdir, "state.json")


def id_num(oid):
    assert re.fullmatch(r"ovr-[1-9]\d*", oid), oid
    return int(oid[4:])


def kept_files(g):
    return sorted(f for f in os.listdir(g.workdir) if f.startswith("state.json.corrupt-"))


def log_lines(g):
    return g.read_log().splitlines()


def test_planted_symlink_at_temp_name_is_not_followed(make_gtmd):
    """gtmd used to write STATE.tmp.PID with O_CREAT|O_TRUNC: a symlink
    planted at that name made it overwrite the link's target."""
    g, a = start(make_gtmd, state_file=True)
    victim = os.path.join(g.workdir, "victim.txt")
    with open(victim, "w") as f:
        f.write("precious\n")
    planted = state_path(g) + ".tmp.%d" % g.proc.pid
    os.symlink(victim, planted)
    r = a.override("region:us", reason="plant")
    assert r.status == 201, r
    with open(victim) as f:
        assert f.read() == "precious\n", "the save wrote through a planted symlink"
    st = os.lstat(state_path(g))
    import stat
    assert stat.S_ISREG(st.st_mode) and stat.S_IMODE(st.st_mode) == 0o600, oct(st.st_mode)
    with open(state_path(g)) as f:
        assert [o["id"] for o in json.load(f)["overrides"]] == [r.json["id"]]
    assert os.path.islink(planted)  # left alone, never followed
    left = [f for f in os.listdir(g.workdir) if ".tmp" in f and f != os.path.basename(planted)]
    assert left == [], left


@pytest.mark.threads
@pytest.mark.parametrize("content", [b"{\"version\": 1, \"overrides\": [", b"\x00\xffjunk",
                                     b"[]", b"{\"version\": \"1\"}"],
                         ids=["truncated", "garbage", "array", "version"])
def test_corrupt_file_kept_aside_and_ids_never_reused(make_gtmd, content):
    # (A "version" that is a number past what this release reads is a newer
    # gtmd's file, not a corrupt one: the start is refused and the file
    # left as it is, test_fleet_upgrade.py::test_state_and_history_both_ways.)
    g, a = start(make_gtmd, state_file=True)
    ids = [a.override(t, reason="before", force=True).json["id"]
           for t in ("region:us", "endpoint:web/eu1", "endpoint:web/ap1")]
    assert a.delete("/v1/overrides/" + ids[2]).status == 200
    g.stop()
    with open(state_path(g), "wb") as f:
        f.write(content)
    g.start()
    a.wait_ready()
    kept = kept_files(g)
    assert len(kept) == 1, os.listdir(g.workdir)
    with open(os.path.join(g.workdir, kept[0]), "rb") as f:
        assert f.read() == content, "the bad file was not kept as it was"
    lines = [x for x in log_lines(g) if "event=state_load result=corrupt" in x]
    assert len(lines) == 1 and " error " in lines[0] and "kept_as=" in lines[0], lines
    s = a.get("/v1/status", token=READ_TOKEN).json["state_file"]
    assert s["path"] == state_path(g), s
    assert s["load"]["result"] == "corrupt" and s["load"]["kept_as"].endswith(kept[0]), s
    assert s["load"]["error"] and s["load"]["overrides_restored"] == 0, s
    # The drained region is not silently back without a trace, and ids go on.
    r = a.override("region:eu", reason="after", force=True)
    assert r.status == 201, r
    new = r.json["id"]
    assert id_num(new) > max(id_num(i) for i in ids), (new, ids)
    # A fresh, valid file was written at once (a crash now loses nothing).
    with open(state_path(g)) as f:
        data = json.load(f)
    assert data["version"] == 1 and data["next_override_id"] > id_num(new) - 1
    restart(g, a)
    assert [o["id"] for o in a.overrides()] == [new]
    assert len(kept_files(g)) == 1  # the good file is not moved aside again


def write_state(g, overrides, endpoints=None, **extra):
    data = {"version": 1, "saved_at": time.time(), "endpoints": endpoints or {},
            "overrides": overrides}
    data.update(extra)
    with open(state_path(g), "w") as f:
        json.dump(data, f)


def ovr(oid, target, state="down", reason="r", author="operate", **kw):
    o = {"id": oid, "target": target, "state": state, "reason": reason, "author": author,
         "created": time.time() - 5, "expires": None}
    o.update(kw)
    return o


def test_crafted_state_file_validated_like_the_api(make_gtmd):
    g = make_gtmd(config_fn(state_file=True), start=False)
    write_state(g, [
        ovr("ovr-18446744073709551615", "endpoint:web/us2", reason="wraps the counter"),
        ovr("ovr-2", "region:eu", state="banana", reason="fruit"),
        ovr("ovr-3", "region:us\n2026-01-01T00:00:00.000Z info event=forged", reason="forge"),
        ovr("ovr-4", "region:ap", reason="x" * 1025),
        ovr("ovr-5", "az:us-1a", author="op erator"),
        ovr("ovr-6", "endpoint:web/us1", state="down", reason="valid one"),
    ], endpoints={"endpoint:web/eu1": {"state": "banana", "since": time.time()}},
        next_override_id=7)
    g.start()
    a = Admin.of(g).wait_ready()
    # Only the valid override is in force; "banana" did not become down.
    assert [o["id"] for o in a.overrides()] == ["ovr-6"]
    assert fo(g) == ["192.0.2.11"], "only us1 is forced down"
    assert query_addrs(g, "fo2.example.com.") == EU_A, "region:eu must not be down"
    # No raw newline reached the log: no line starts with the forged text.
    lines = log_lines(g)
    assert not any(x.startswith("2026-01-01T00:00:00.000Z") for x in lines), lines
    rejected = [x for x in lines if "override_rejected" in x or "endpoint_rejected" in x]
    assert len(rejected) == 6, rejected
    assert any("18446744073709551615" in x for x in rejected), rejected
    assert kept_files(g), os.listdir(g.workdir)
    s = a.get("/v1/status", token=READ_TOKEN).json["state_file"]["load"]
    assert s["result"] == "ok" and s["rejected"] == 6 and s["overrides_restored"] == 1, s
    # The counter did not wrap to 0 or 1: new ids are past anything in the file.
    new = a.override("region:ap", state="up", reason="after").json["id"]
    assert id_num(new) > 7, new


def test_file_over_max_overrides_kept_at_start(make_gtmd):
    """A file with more overrides than max_overrides (an earlier reload
    lowered it) is restored whole: the start used to refuse it, and a
    restart was impossible while `gtmd check` said ok."""
    def cap(c, workdir):
        c["max_overrides"] = 2

    g = make_gtmd(config_fn(state_file=True, mutate=cap), start=False)
    write_state(g, [ovr("ovr-%d" % i, "region:us", reason="n%d" % i) for i in (3, 2, 1)])
    g.write_config()
    p = subprocess.run([GTMD, "check", "-c", g.conf_path], capture_output=True, text=True,
                       timeout=20)
    assert p.returncode == 0, p
    assert "warning: " in p.stderr and "max_overrides (2) is below the 3 overrides" in p.stderr, \
        p.stderr
    g.start()
    a = Admin.of(g).wait_ready()
    assert sorted(o["id"] for o in a.overrides()) == ["ovr-1", "ovr-2", "ovr-3"]
    assert any("result=over_max_overrides overrides=3 max_overrides=2" in line
               for line in log_lines(g)), g.read_log()[-2000:]
    assert kept_files(g) == []
    r = a.override("region:eu", reason="one too many", force=True)
    assert r.status == 409 and r.code == "too_many_overrides", r
    assert "more than max_overrides (2" in r.json["error"]["message"], r
    assert "delete 2 first" in r.json["error"]["message"], r
    for oid in ("ovr-3", "ovr-2"):
        assert a.delete("/v1/overrides/" + oid + "?force=true").status == 200
    assert a.override("region:eu", reason="room again", force=True).status == 201


def test_reload_lowering_max_overrides_keeps_them_and_a_restart_works(make_gtmd):
    """The reload, gtmd check and the restart agree: lowering max_overrides
    below the overrides in force is applied with a warning (log and reload
    result), every override is kept and restored at the restart."""
    g, a = start(make_gtmd, state_file=True)
    ids = [a.override("endpoint:hp/h-us%d" % i, reason="n%d" % i).json["id"] for i in (1, 2, 3)]
    cfg = json.loads(json.dumps(g.config))
    cfg["max_overrides"] = 1
    g.write_config(cfg)
    r = a.post("/v1/reload")
    assert r.status == 200 and r.json["result"] == "ok", r
    assert any("max_overrides (1) is below the 3 overrides in force" in w
               for w in r.json["warnings"]), r.json
    assert any("event=reload" in line and "max_overrides (1)" in line for line in log_lines(g))
    p = subprocess.run([GTMD, "check", "-c", g.conf_path], capture_output=True, text=True,
                       timeout=20)
    assert p.returncode == 0 and "max_overrides (1) is below the 3" in p.stderr, p
    assert a.override("region:eu", reason="over").status == 409
    restart(g, a)
    assert sorted(o["id"] for o in a.overrides()) == sorted(ids)
    assert a.override("region:eu", reason="over").status == 409


def test_override_cap_answers_409(make_gtmd):
    def cap(c, workdir):
        c["max_overrides"] = 3

    g, a = start(make_gtmd, state_file=True, mutate=cap)
    ids = [a.override("endpoint:hp/h-us1", reason="n%d" % i).json["id"] for i in range(3)]
    r = a.override("endpoint:hp/h-us2", reason="one too many")
    assert r.status == 409 and r.code == "too_many_overrides", r
    assert "3" in r.json["error"]["message"] and "max_overrides" in r.json["error"]["message"]
    assert len(a.overrides()) == 3
    assert a.delete("/v1/overrides/" + ids[0]).status == 200
    assert a.override("endpoint:hp/h-us2", reason="room again").status == 201


def check(workdir, state_file):
    c = default_config(workdir, free_port())
    c["state_file"] = state_file
    path = os.path.join(workdir, "gtmd.json")
    with open(path, "w") as f:
        json.dump(c, f)
    return path


@pytest.mark.parametrize("where,needle", [
    ("missing/state.json", "No such file or directory"),
    ("afile/state.json", "not a directory"),
    ("adir", "not a regular file"),
])
def test_state_file_that_cannot_be_written_fails_check_and_start(where, needle):
    workdir = tempfile.mkdtemp(prefix="gtmd-sf-")
    try:
        with open(os.path.join(workdir, "afile"), "w") as f:
            f.write("x")
        os.mkdir(os.path.join(workdir, "adir"))
        path = check(workdir, where)
        p = subprocess.run([GTMD, "check", "-c", path], capture_output=True, text=True,
                           timeout=20)
        assert p.returncode == 1 and "$.state_file" in p.stderr, (p.returncode, p.stderr)
        assert needle.lower() in p.stderr.lower(), p.stderr
        p = subprocess.run([GTMD, "-c", path], capture_output=True, text=True, timeout=20)
        assert p.returncode == 1 and "$.state_file" in p.stderr, (p.returncode, p.stderr)
        assert "event=start" not in p.stderr
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


def test_state_dir_not_writable_fails_check():
    """As an unprivileged user (root may write anywhere)."""
    if os.geteuid() != 0 or not shutil.which("setpriv"):
        pytest.skip("needs root and setpriv to run gtmd check as nobody")
    workdir = tempfile.mkdtemp(prefix="gtmd-sf-")
    try:
        os.chmod(workdir, 0o755)
        ro = os.path.join(workdir, "ro")
        os.mkdir(ro, 0o755)
        path = check(workdir, "ro/state.json")
        for f in os.listdir(workdir):
            os.chmod(os.path.join(workdir, f), 0o755 if f == "ro" else 0o644)
        p = subprocess.run(["setpriv", "--reuid=nobody", "--regid=nogroup", "--clear-groups",
                            GTMD, "check", "-c", path], capture_output=True, text=True,
                           timeout=20)
        assert p.returncode == 1 and "$.state_file" in p.stderr, (p.returncode, p.stderr)
        assert "not writable" in p.stderr, p.stderr
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


def test_status_shows_last_save(make_gtmd):
    g, a = start(make_gtmd, state_file=True)
    assert a.override("region:us", reason="x").status == 201
    s = a.get("/v1/status", token=READ_TOKEN).json["state_file"]
    assert s["load"]["result"] == "missing" and s["load"]["kept_as"] is None, s
    assert s["last_save"]["result"] == "ok" and s["last_save"]["error"] is None, s
    assert abs(s["last_save"]["time"] - time.time()) < 30, s
    g2, a2 = start(make_gtmd)
    assert a2.get("/v1/status", token=READ_TOKEN).json["state_file"] is None

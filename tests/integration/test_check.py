"""`gtmd check -c FILE` validates the config and its zones and reports every
error with file:line (zones) or a JSON path (config); gtmd refuses to start
on the same errors and when its listen port is taken."""
import json
import os
import re
import shutil
import socket
import subprocess
import tempfile

import pytest

from conftest import DATA, GTMD, TOP, Gtmd, default_config, free_port

GOOD_ZONE = """$ORIGIN good.test.
$TTL 300
@       IN SOA ns1 hostmaster 1 3600 600 86400 60
        IN NS  ns1
ns1     IN A   192.0.2.1
www     IN A   192.0.2.80
"""

# Each broken zone: (text, [(marker, message regex)]). marker is a string on
# the line the error must point at (None: a file-level error without line).
BROKEN_ZONES = {
    "syntax2": (
        """$ORIGIN syntax2.test.
$TTL 300
@       IN SOA ns1 hostmaster 1 3600 600 86400 60
        IN NS  ns1
ns1     IN A   192.0.2.1
bad1    IN A   300.1.2.3
fine    IN A   192.0.2.2
bad2    IN MX  notanumber mail
""",
        [("bad1", r"."), ("bad2", r".")],
    ),
    "nosoa": (
        """$ORIGIN nosoa.test.
$TTL 300
@       IN NS  ns1
ns1     IN A   192.0.2.1
""",
        [(None, r"(?i)no SOA")],
    ),
    "cname": (
        """$ORIGIN cname.test.
$TTL 300
@       IN SOA ns1 hostmaster 1 3600 600 86400 60
        IN NS  ns1
ns1     IN A   192.0.2.1
target  IN A   192.0.2.2
alias   IN CNAME target
alias   IN TXT "beside the CNAME"
""",
        [("alias", r"(?i)CNAME")],
    ),
    "noglue": (
        """$ORIGIN noglue.test.
$TTL 300
@       IN SOA ns1 hostmaster 1 3600 600 86400 60
        IN NS  ns1
ns1     IN A   192.0.2.1
child   IN NS  ns.child
child   IN NS  ns.elsewhere.example.
""",
        [("child   IN NS  ns.child", r"(?i)glue")],
    ),
}


def run_check(conf_path, timeout=10):
    p = subprocess.run([GTMD, "check", "-c", conf_path], capture_output=True, timeout=timeout)
    return p.returncode, p.stdout.decode(errors="replace"), p.stderr.decode(errors="replace")


def line_of(text, marker):
    for i, line in enumerate(text.splitlines(), start=1):
        if line.startswith(marker):
            return i
    raise AssertionError("marker %r not in zone text" % marker)


@pytest.fixture
def workdir():
    d = tempfile.mkdtemp(prefix="gtmd-check-")
    yield d
    shutil.rmtree(d, ignore_errors=True)


def write(workdir, name, text):
    path = os.path.join(workdir, name)
    with open(path, "w") as f:
        f.write(text)
    return path


def write_json(workdir, obj, name="gtmd.json"):
    return write(workdir, name, json.dumps(obj, indent=1) if not isinstance(obj, str) else obj)


def zone_config(workdir, port, zones):
    """Writes the given {origin_label: text} zones plus good.test.; returns
    the config dict."""
    write(workdir, "good.test.zone", GOOD_ZONE)
    entries = [{"origin": "good.test.", "file": "good.test.zone"}]
    for label, text in zones.items():
        write(workdir, label + ".test.zone", text)
        entries.append({"origin": label + ".test.", "file": label + ".test.zone"})
    return {"listen": ["127.0.0.1:%d" % port], "workers": 1, "zones": entries}


def expected_zone_errors(workdir, label):
    text, errs = BROKEN_ZONES[label]
    path = os.path.join(workdir, label + ".test.zone")
    out = []
    for marker, msg in errs:
        if marker is None:
            out.append((re.escape(path) + r":?\s", msg))
        else:
            out.append((re.escape("%s:%d:" % (path, line_of(text, marker))), msg))
    return out


def assert_reported(output, prefix_re, msg_re):
    for line in output.splitlines():
        m = re.search(prefix_re, line)
        if m and re.search(msg_re, line[m.end():]):
            return
    raise AssertionError("no error matching %s ... %s in:\n%s" % (prefix_re, msg_re, output))


# ---- valid configs ---------------------------------------------------------


def test_check_demo_config_ok(workdir):
    """zones/gtmd.json as command 1 (contrib/setup.sh) runs it: beside a
    run/ directory holding the state file and the admin tokens (mode 0600)
    that setup.sh makes; a copy of the tree's zones/, so nothing is written
    into the source tree."""
    shutil.copytree(os.path.join(TOP, "zones"), os.path.join(workdir, "zones"))
    os.mkdir(os.path.join(workdir, "run"))
    for t in ("read", "operate"):
        path = os.path.join(workdir, "run", t + ".token")
        with open(path, "w") as f:
            f.write("demo-%s-token-0123456789abcdef\n" % t)
        os.chmod(path, 0o600)
    conf = os.path.join(workdir, "zones", "gtmd.json")
    rc, out, err = run_check(conf)
    assert rc == 0, out + err
    assert re.search(r": ok \(\d+ zones, \d+ records\)", out), out + err


def test_check_test_config_ok(workdir):
    for f in ("example.com.zone", "example.com.inc", "sub.example.com.zone", "test.conf.json"):
        shutil.copy(os.path.join(DATA, f), workdir)
    conf = os.path.join(workdir, "test.conf.json")
    rc, out, err = run_check(conf)
    assert rc == 0, out + err
    assert re.search(r"ok \(2 zones, \d+ records\)", out), out + err
    # And the conftest default config, as the other integration tests use it.
    conf = write_json(workdir, default_config(workdir, 5300), "default.json")
    rc, out, err = run_check(conf)
    assert rc == 0, out + err


# ---- config errors ---------------------------------------------------------


def test_check_config_errors_all_reported_with_json_path(workdir):
    write(workdir, "good.test.zone", GOOD_ZONE)
    conf = write_json(workdir, {
        "listen": ["127.0.0.1:5300", "1.2.3:53", "127.0.0.1:99999"],
        "bogus": 1,
        "workers": 1,
        "zones": [{"origin": "good.test.", "file": "good.test.zone", "extra": True}],
        "tcp": {"max_connections": 0, "nonsense": 2},
    })
    rc, out, err = run_check(conf)
    text = out + err
    assert rc == 1, text
    assert ": ok (" not in text
    p = re.escape(conf) + r": "
    assert_reported(text, p + re.escape("$:"), r"unknown key \"bogus\"")
    assert_reported(text, p + re.escape("$.listen[1]:"), r"1\.2\.3:53")
    assert_reported(text, p + re.escape("$.listen[2]:"), r"99999")
    assert_reported(text, p + re.escape("$.zones[0]:"), r"unknown key \"extra\"")
    assert_reported(text, p + re.escape("$.tcp:"), r"unknown key \"nonsense\"")
    assert_reported(text, p + re.escape("$.tcp.max_connections:"), r".")


def test_check_config_json_syntax_error_has_line(workdir):
    conf = write(workdir, "gtmd.json", '{\n "listen": ["127.0.0.1:5300"],\n "zones": [\n}\n')
    rc, out, err = run_check(conf)
    assert rc == 1, out + err
    assert_reported(out + err, re.escape(conf) + r":4:", r".")


def test_check_missing_config_file(workdir):
    conf = os.path.join(workdir, "nowhere.json")
    rc, out, err = run_check(conf)
    text = out + err
    assert rc == 1, text
    assert conf in text and "No such file" in text, text
    assert ":-1:" not in text, "a missing config file is reported with line -1:\n" + text


def test_check_missing_zone_file(workdir):
    cfg = zone_config(workdir, 5300, {})
    cfg["zones"].append({"origin": "missing.test.", "file": "missing.test.zone"})
    conf = write_json(workdir, cfg)
    rc, out, err = run_check(conf)
    assert rc == 1, out + err
    assert_reported(out + err, re.escape(os.path.join(workdir, "missing.test.zone")),
                    r"(?i)no such file|cannot open")


# ---- zone errors -----------------------------------------------------------


@pytest.mark.parametrize("label", sorted(BROKEN_ZONES))
def test_check_zone_error_reported_with_file_line(workdir, label):
    conf = write_json(workdir, zone_config(workdir, 5300, {label: BROKEN_ZONES[label][0]}))
    rc, out, err = run_check(conf)
    text = out + err
    assert rc == 1, text
    assert ": ok (" not in text
    for prefix, msg in expected_zone_errors(workdir, label):
        assert_reported(text, prefix, msg)
    assert "good.test.zone" not in text, "an error blamed on the good zone:\n" + text


def test_check_reports_every_error_of_every_zone(workdir):
    cfg = zone_config(workdir, 5300, {k: v[0] for k, v in BROKEN_ZONES.items()})
    cfg["zones"].append({"origin": "missing.test.", "file": "missing.test.zone"})
    conf = write_json(workdir, cfg)
    rc, out, err = run_check(conf)
    text = out + err
    assert rc == 1, text
    n = 0
    for label in BROKEN_ZONES:
        for prefix, msg in expected_zone_errors(workdir, label):
            assert_reported(text, prefix, msg)
            n += 1
    assert_reported(text, re.escape(os.path.join(workdir, "missing.test.zone")), r".")
    assert n == 5


def test_check_errors_come_in_config_order(workdir):
    # Zones are parsed on two threads, alternately: the errors still come
    # zone by zone in the order of the config, each zone's in file order.
    labels = sorted(BROKEN_ZONES) + sorted(BROKEN_ZONES, reverse=True)
    cfg = zone_config(workdir, 5300, {})
    for i, label in enumerate(labels):
        name = "%s-n%d" % (label, i)
        write(workdir, name + ".zone", BROKEN_ZONES[label][0].replace(
            "$ORIGIN %s.test." % label, "$ORIGIN %s.test." % name))
        cfg["zones"].append({"origin": name + ".test.", "file": name + ".zone"})
    rc, out, err = run_check(write_json(workdir, cfg))
    text = out + err
    assert rc == 1, text
    seen = []
    for line in text.splitlines():
        m = re.search(r"-n(\d+)\.zone", line)
        if m and (not seen or seen[-1] != int(m.group(1))):
            seen.append(int(m.group(1)))
    assert seen == list(range(len(labels))), text


# ---- refusing to start -----------------------------------------------------


def start_expect_failure(conf, timeout=10):
    """Runs gtmd on conf; it must exit nonzero on its own. Returns its log."""
    p = subprocess.Popen([GTMD, "-c", conf], stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        out, _ = p.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        p.kill()
        out, _ = p.communicate(timeout=5)
        raise AssertionError("gtmd started on a bad setup:\n" + out.decode(errors="replace"))
    text = out.decode(errors="replace")
    assert p.returncode != 0, text
    assert "event=start" not in text, text
    return text


@pytest.mark.parametrize("label", sorted(BROKEN_ZONES) + ["missing", "config"])
def test_refuses_to_start_on_bad_config(workdir, label):
    port = free_port()
    if label == "config":
        write(workdir, "good.test.zone", GOOD_ZONE)
        conf = write_json(workdir, {"listen": ["127.0.0.1:%d" % port, "nonsense"], "bogus": 1,
                                    "zones": [{"origin": "good.test.", "file": "good.test.zone"}]})
        log = start_expect_failure(conf)
        assert_reported(log, re.escape(conf + ": $.listen[1]:"), r"nonsense")
        assert_reported(log, re.escape(conf + ": $:"), r"bogus")
    elif label == "missing":
        cfg = zone_config(workdir, port, {})
        cfg["zones"].append({"origin": "missing.test.", "file": "missing.test.zone"})
        log = start_expect_failure(write_json(workdir, cfg))
        assert_reported(log, re.escape(os.path.join(workdir, "missing.test.zone")), r".")
    else:
        conf = write_json(workdir, zone_config(workdir, port, {label: BROKEN_ZONES[label][0]}))
        log = start_expect_failure(conf)
        for prefix, msg in expected_zone_errors(workdir, label):
            assert_reported(log, prefix, msg)
    # Nothing listens on the port.
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", port))


def _good_config(workdir, port):
    return write_json(workdir, zone_config(workdir, port, {}))


@pytest.mark.parametrize("proto", ["tcp", "udp"])
def test_refuses_to_start_when_port_in_use(workdir, proto):
    port = free_port()
    conf = _good_config(workdir, port)
    kind = socket.SOCK_STREAM if proto == "tcp" else socket.SOCK_DGRAM
    holder = socket.socket(socket.AF_INET, kind)
    try:
        holder.bind(("127.0.0.1", port))
        if proto == "tcp":
            holder.listen(1)
        log = start_expect_failure(conf)
        assert "127.0.0.1:%d" % port in log, log
        assert re.search(r"(?i)in use|cannot listen", log), log
    finally:
        holder.close()


def test_refuses_to_start_when_another_gtmd_has_the_port(workdir):
    """A second gtmd on the address of a running one must not start and
    silently share its traffic (SO_REUSEPORT lets the kernel spread queries
    over both processes, so clients would get answers from either)."""
    port = free_port()
    conf = _good_config(workdir, port)
    first = Gtmd(workdir, json.load(open(conf)), port)
    first.conf_path = conf
    first.log_path = os.path.join(workdir, "first.log")
    first.start()
    try:
        log = start_expect_failure(conf, timeout=3)
        assert "127.0.0.1:%d" % port in log, log
        # The first one is unharmed.
        assert first.query("www.good.test.", "A").answer
    finally:
        assert first.stop() == 0


def test_records_sharing_a_name_bind_together(workdir):
    """Records whose names differ only in case are one name: A and AAAA
    pools may share it (one binding per name, found by sorting, not by
    comparing every pair: 10,000 records took 0.3 s that way), a CNAME
    policy may not, and the error names the second record's JSON path."""
    for f in ("example.com.zone", "example.com.inc"):
        shutil.copy(os.path.join(DATA, f), workdir)
    ep = lambda n, **kw: dict({"name": n, "region": "us"}, **kw)
    conf = {"listen": ["127.0.0.1:5353"],
            "zones": [{"origin": "example.com.", "file": "example.com.zone"}],
            "regions": {"us": {}},
            "pools": {"a": {"endpoints": [ep("a1", address="192.0.2.1")]},
                      "c": {"endpoints": [ep("c1", cname="www.example.com.")]},
                      "six": {"endpoints": [ep("s1", address="2001:db8::1")]}},
            "records": {"y.example.com.": {"pool": "a", "policy": "all"},
                        "Y.example.com.": {"pool": "six", "policy": "all"}}}
    for i in range(2000):  # many names: each binds to itself
        conf["records"]["n%d.example.com." % i] = {"pool": "a", "policy": "all"}
    rc, out, err = run_check(write_json(workdir, conf))
    assert rc == 0, err
    conf["records"]["x.example.com."] = {"pool": "a", "policy": "all"}
    conf["records"]["X.Example.com."] = {"pool": "c", "policy": "all"}
    rc, out, err = run_check(write_json(workdir, conf))
    assert rc == 1, out
    assert '$.records["X.Example.com."]' in err and "cannot share its name" in err, err
    assert err.count("cannot share") == 1, err


def test_top_level_keys_are_known_in_one_place(workdir):
    """The table of top-level keys in gtmd (config_keys.c, printed by `gtmd
    keys`) is the one list: gtmd.conf(5)'s TOP-LEVEL KEYS section is
    generated from it, every section it names exists there, doc/fleet.md's
    node-local keys are its node-local keys, and a key outside it is
    refused."""
    keys = json.loads(subprocess.run([GTMD, "keys"], capture_output=True, text=True,
                                     check=True, timeout=10).stdout)
    man = subprocess.run([GTMD, "keys", "--man"], capture_output=True, text=True, check=True,
                         timeout=10).stdout
    with open(os.path.join(TOP, "doc", "gtmd.conf.5")) as f:
        page = f.read()
    block = re.search(r'^\.\\" keys:begin[^\n]*\n(.*?)^\.\\" keys:end$', page, re.S | re.M)
    assert block and block.group(1) == man, "regenerate it: gtmd keys --man"
    sections = set(re.findall(r"^\.SH (.+)$", page, re.M))
    for k in keys:
        assert k["section"] in sections, k
    with open(os.path.join(TOP, "doc", "fleet.md")) as f:
        fleet = f.read()
    para = re.search(r"except the \*\*node-local keys\*\*:(.*?)These", fleet, re.S).group(1)
    assert set(re.findall(r"`([a-z_]+)`", para)) == {k["name"] for k in keys if k["node_local"]}
    assert [k["name"] for k in keys if k["required"]] == ["listen", "zones"]
    # An unknown top-level key is refused, naming it; the table's are not.
    c = default_config(workdir, 53)
    c["listen"] = ["127.0.0.1:53"]
    c["bogus"] = 1
    path = os.path.join(workdir, "keys.json")
    with open(path, "w") as f:
        json.dump(c, f)
    r = subprocess.run([GTMD, "check", "-c", path], capture_output=True, text=True, timeout=20)
    assert r.returncode != 0 and '$: unknown key "bogus"' in r.stderr, r.stderr
    unknown = [line for line in (r.stderr + r.stdout).splitlines() if "unknown key" in line]
    assert len(unknown) == 1 and "bogus" in unknown[0], unknown


# ---- policy messages and warnings (issue #53) --------------------------------


def policy_config(workdir, records, checks=None, pool_check=None):
    """good.test. with two regions, pool web (two endpoints, checked by
    pool_check when given) and the given records."""
    c = zone_config(workdir, 5300, {})
    c["regions"] = {"r1": {}, "r2": {}}
    if checks:
        c["checks"] = checks
    c["pools"] = {"web": {"endpoints": [
        {"name": "a", "address": "192.0.2.10", "region": "r1"},
        {"name": "b", "address": "192.0.2.11", "region": "r2"}]}}
    if pool_check:
        c["pools"]["web"]["check"] = pool_check
    c["records"] = records
    return write_json(workdir, c)


def test_check_vantage_map_without_default_says_what_default_takes(workdir):
    """A vantage map's default takes a node name or a list of them (not "a
    list", as a geo map's): the message says so, at the map's path."""
    conf = policy_config(workdir, {"lat.good.test.": {
        "pool": "web", "policy": "latency",
        "latency": {"vantage": {"country:DE": "n1", "continent:EU": ["n2", "n3"]}}}})
    rc, out, err = run_check(conf)
    assert rc == 1, out + err
    assert_reported(out + err,
                    re.escape(conf + ': $.records["lat.good.test."].latency.vantage:'),
                    re.escape('needs a "default" node name or list of them (for clients no '
                              'other key matches)'))
    assert "default\" list" not in out + err, out + err

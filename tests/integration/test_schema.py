"""Every configuration key is known in one place: its module's schema
(src/common/cfgschema.h), printed by `gtmd keys` under its top-level key.

- gtmd.conf(5) documents exactly the schema's keys of every section that
  has one (a key documented and not in the schema fails, and so does a
  key of the schema left undocumented), with the schema's default and
  range where the page gives them;
- the files that parse a section with a schema read no key by its
  literal name and write no JSON path by hand (jsoncfg's keyed reads and
  "$." paths): names, ranges, defaults and paths come from the table;
- a key the schema does not have is refused by `gtmd check` at its JSON
  path, and a value out of the schema's range is refused with the
  schema's range.

The page is read the way it is written: a key is a ".TP" entry whose tag
is ".B NAME" (or ".BR NAME \", \" OTHER" for keys documented together);
an object's keys are either entries of its own ".RS" block or named in
bold in its entry; a top-level key without an entry of its own (drills)
has its keys as its section's entries, and one whose entry has no block
of its own has them in its section's ".SS ... keys" subsection (records)."""
import json
import os
import re
import subprocess

import pytest

from adminlib import start
from conftest import GTMD

TOP = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..")
MAN = os.path.join(TOP, "doc", "gtmd.conf.5")


def keys():
    out = subprocess.run([GTMD, "keys"], capture_output=True, text=True, check=True, timeout=10)
    return json.loads(out.stdout)


def with_schema():
    return [k for k in keys() if "keys" in k]


def tag_names(line):
    """The key names of a .TP tag line, or None when it is not one."""
    m = re.match(r'^\.B "?([a-z_0-9]+)"?$', line)
    if m:
        return [m.group(1)]
    m = re.match(r'^\.BR ([a-z_0-9]+)((?: "(?:, | or )" [a-z_0-9]+)+)$', line)
    if m:
        return [m.group(1)] + re.findall(r'"(?:, | or )" ([a-z_0-9]+)', m.group(2))
    return None


def entries(lines):
    """The .TP entries at the top depth of lines: [(names, text, block)],
    text the entry's own lines, block the lines of its .RS ... .RE."""
    out, depth, cur = [], 0, None
    i = 0
    while i < len(lines):
        line = lines[i]
        if line == ".RS":
            depth += 1
            if depth == 1 and cur is not None:
                cur[3] = True
                i += 1
                continue
        elif line == ".RE":
            depth -= 1
            if depth == 0 and cur is not None:
                cur[3] = False
                i += 1
                continue
            if depth < 0:
                break
        if depth == 0 and line == ".TP" and i + 1 < len(lines) and tag_names(lines[i + 1]):
            cur = [tag_names(lines[i + 1]), [], [], False]
            out.append(cur)
            i += 2
            continue
        if depth == 0 and line.startswith((".SH", ".SS", ".PP")):
            cur = None
        elif cur is not None:
            (cur[2] if cur[3] or depth > 0 else cur[1]).append(line)
        i += 1
    return [(n, t, b) for n, t, b, _ in out]


def section(page, name):
    m = re.search(r"^\.SH %s\n(.*?)(?=^\.SH )" % re.escape(name), page, re.S | re.M)
    assert m, "gtmd.conf(5) has no section %s" % name
    return m.group(1).split("\n")


def keys_subsection(sec):
    """The lines of the section's subsections from its first ".SS ... keys"
    on (a check's keys are under "Keys of every check" and one subsection
    per type), without the ".SS" lines; [] when it has none."""
    for i, line in enumerate(sec):
        if line.startswith(".SS ") and re.search(r"\b[Kk]eys\b", line):
            return [x for x in sec[i + 1:] if not x.startswith(".SS ")]
    return []


def fmt(x):
    return "%g" % x


def check_entry(key, text, path, errs):
    """The default and range the page gives for key, against the schema."""
    body = " ".join(text)
    d = re.search(r"default ([0-9]+(?:\.[0-9]+)?)", body)
    if "default" in key and d and re.match(r"^[0-9.]+$", d.group(1)):
        if float(d.group(1)) != key["default"]:
            errs.append("%s: the page says default %s, the schema %s"
                        % (path, d.group(1), fmt(key["default"])))
    r = re.search(r"from ([0-9]+(?:\.[0-9]+)?) to ([0-9]+(?:\.[0-9]+)?)", body)
    if "min" in key and r:
        if (float(r.group(1)), float(r.group(2))) != (key["min"], key["max"]):
            errs.append("%s: the page says from %s to %s, the schema %s to %s"
                        % (path, r.group(1), r.group(2), fmt(key["min"]), fmt(key["max"])))


def bold(text):
    names = set()
    for line in text:
        names.update(re.findall(r'^\.BR? "?([a-z_0-9]+)', line))
        names.update(re.findall(r"\\fB([a-z_0-9]+)\\f", line))
    return names


def compare(schema_keys, block, path, errs):
    """The keys documented in block against schema_keys (recursively)."""
    found = {}
    for names, text, sub in entries(block):
        for n in names:
            found[n] = (names, text, sub)
    want = {k["name"]: k for k in schema_keys}
    for n in sorted(set(found) - set(want)):
        errs.append("%s.%s: documented, not in the schema" % (path, n))
    for n in sorted(set(want) - set(found)):
        errs.append("%s.%s: in the schema, not documented" % (path, n))
    for n in sorted(set(want) & set(found)):
        names, text, sub = found[n]
        k = want[n]
        if len(names) == 1:
            check_entry(k, text, path + "." + n, errs)
        if "keys" not in k:
            continue
        if sub:
            compare(k["keys"], sub, path + "." + n, errs)
        else:
            missing = {s["name"] for s in k["keys"]} - bold(text)
            for m in sorted(missing):
                errs.append("%s.%s.%s: in the schema, not named in %s's entry"
                            % (path, n, m, n))


def test_every_schema_has_its_section_documented_exactly():
    page = open(MAN).read()
    top = with_schema()
    assert top, "no top-level key has a schema"
    errs = []
    for k in top:
        sec = section(page, k["section"])
        ent = [(names, text, sub) for names, text, sub in entries(sec) if names == [k["name"]]]
        assert len(ent) <= 1, "%s: %d entries in %s" % (k["name"], len(ent), k["section"])
        if ent and ent[0][2]:  # an entry of its own, its keys in its .RS block
            compare(k["keys"], ent[0][2], "$." + k["name"], errs)
        elif ent and keys_subsection(sec):  # its keys in the section's ".SS ... keys"
            compare(k["keys"], keys_subsection(sec), "$." + k["name"], errs)
        elif ent:  # an entry that names its keys in its text
            for m in sorted({x["name"] for x in k["keys"]} - bold(ent[0][1])):
                errs.append("$.%s.%s: in the schema, not named in %s's entry"
                            % (k["name"], m, k["name"]))
        else:  # a section of its own: its keys are the section's entries
            compare(k["keys"], sec, "$." + k["name"], errs)
    assert not errs, "\n".join(errs)


def test_the_checker_finds_a_drift():
    """The comparison fails on an undocumented key, a key documented
    outside the schema and a wrong default or range (so the test above
    can fail)."""
    schema = [{"name": "a", "type": "seconds", "min": 1, "max": 9, "default": 2},
              {"name": "b", "type": "string"}]
    block = [".TP", ".B a", "Seconds, default 3, from 1 to 10.", ".TP", ".B c", "Text."]
    errs = []
    compare(schema, block, "$.x", errs)
    assert "$.x.c: documented, not in the schema" in errs
    assert "$.x.b: in the schema, not documented" in errs
    assert "$.x.a: the page says default 3, the schema 2" in errs
    assert "$.x.a: the page says from 1 to 10, the schema 1 to 9" in errs


# The files that still read configuration keys by hand or write JSON paths
# out: none any more. A file that does fails the test (new code reads its
# keys through its schema); the list stays for a section added without a
# schema while it gets one, and fails the test once that file is clean.
HAND_READ = set()

# Reads of a key by its name, and JSON paths written out in a string
# (a message's "$.fleet.etcd[0]: ..."): what a schema replaces. API request
# bodies are no configuration: admin_confapi.c's "$.changes[i]" paths are a
# request's.
API = {"src/admin/admin_confapi.c",
       # The key store's state file (keys.json in a zone's key_directory)
       # is gtmd's own record of its keys, written and read by gtmd alone:
       # data, not configuration; its errors name the file and the path.
       "src/zone/zone_kasp_store.c",
       # The same state shared through a fleet (a sealed document in etcd,
       # written and read by gtmd alone); its errors name the document's
       # JSON path.
       "src/zone/zone_kasp_share.c"}
HAND = re.compile(r'jsoncfg_(?:int|ms|seconds|bool|str|check_keys)\s*\(|"[^"\n]*\$\.[a-z_]')


def hand_reads():
    out = {}
    for d, _, fs in os.walk(os.path.join(TOP, "src")):
        for f in fs:
            p = os.path.join(d, f)
            rel = os.path.relpath(p, TOP)
            if not f.endswith(".c") or f in ("cfgschema.c", "jsoncfg.c") or rel in API:
                continue
            text = open(p).read()
            lines = [n + 1 for n, line in enumerate(text.split("\n"))
                     if HAND.search(line) and not re.search(r"CFGSCHEMA(_MORE)?\(", line)
                     and not line.lstrip().startswith(("*", "/*", "//"))]
            if lines:
                out[rel] = lines
    return out


def test_keys_are_read_through_a_schema():
    found = hand_reads()
    new = {f: n for f, n in found.items() if f not in HAND_READ}
    assert not new, "read by hand outside the schema (lines): %s" % new
    done = HAND_READ - set(found)
    assert not done, "no longer read by hand: take them off HAND_READ: %s" % sorted(done)


@pytest.mark.parametrize("fleet,want", [
    ({"etcd": ["http://127.0.0.1:2379"], "nope": 1}, '$.fleet: unknown key "nope"'),
    ({"etcd": ["http://127.0.0.1:2379"], "stale_after": 1},
     "$.fleet.stale_after: must be a number of seconds from 2 to 3600"),
    ({"etcd": ["http://127.0.0.1:2379"], "isolation": {"after": 0}},
     "$.fleet.isolation.after: must be a number of seconds from 1 to 86400"),
    ({"etcd": ["http://127.0.0.1:2379"], "tls": {"ca": "x"}}, '$.fleet.tls: unknown key "ca"'),
    ({"prefix": "/x/"}, "$.fleet.etcd: is required"),
    ({"etcd": ["http://127.0.0.1:2379"], "config_part_kib": 8},
     "$.fleet.config_part_kib: must be an integer from 16 to 1024"),
    ({"etcd": ["http://127.0.0.1:2379"], "config_part_kib": "big"},
     "$.fleet.config_part_kib: must be an integer from 16 to 1024"),
])
def test_check_refuses_what_the_schema_does_not_allow(tmp_path, fleet, want):
    conf = {"listen": ["127.0.0.1:53"], "zones": [], "fleet": fleet}
    path = tmp_path / "gtmd.json"
    path.write_text(json.dumps(conf))
    r = subprocess.run([GTMD, "check", "-c", str(path)], capture_output=True, text=True, timeout=30)
    assert r.returncode == 1 and want in r.stderr, r.stderr


def test_no_module_decides_by_hand_what_needs_a_restart():
    """What a reload keeps until a restart comes from the schema's flags
    (config_keys.c, cfgschema_restart_part): no *_params_same or
    *_same_listeners comparison of parsed values is left in src/."""
    bad = []
    for d, _, fs in os.walk(os.path.join(TOP, "src")):
        for f in fs:
            if f.endswith((".c", ".h")):
                text = open(os.path.join(d, f)).read()
                bad += ["%s: %s" % (f, m) for m in
                        re.findall(r"\b\w+_(?:params_same|same_listeners)\b", text)]
    assert not bad, bad


def test_reload_keeps_what_the_schema_flags_restart_only(make_gtmd):
    """admin.max_connections is flagged restart-only, admin.audit_log is
    not: a reload that changes the first says so (restart_needed_for_admin,
    "admin" in restart_needed) and keeps saying so until the file goes
    back; one that changes only the second applies it."""
    g, a = start(make_gtmd)
    orig = json.loads(json.dumps(g.config))
    conf = json.loads(json.dumps(orig))
    conf["admin"]["max_connections"] = 33
    g.write_config(conf)
    r = a.post("/v1/reload")
    assert r.status == 200, r
    assert r.json["restart_needed_for_admin"] is True and "admin" in r.json["restart_needed"], \
        r.json
    assert "admin listeners and limits change only on restart" in g.read_log()
    r = a.post("/v1/reload")
    assert r.json["restart_needed_for_admin"] is True, "still running the old limits: %s" % r.json
    conf = json.loads(json.dumps(orig))
    conf["admin"]["audit_log"] = os.path.join(g.workdir, "audit2.log")
    g.write_config(conf)
    r = a.post("/v1/reload")
    assert r.status == 200, r
    assert r.json["restart_needed_for_admin"] is False and r.json["restart_needed"] == [], r.json
    r = a.post("/v1/reload")  # audited in the new file
    assert os.path.exists(os.path.join(g.workdir, "audit2.log"))


def test_reload_compares_what_runs_not_how_it_is_written(make_gtmd):
    """Restart-only values written another way are no change: a default
    written out (admin.max_connections 64), 5 as 5.0 (admin.timeout) and
    one admin address as a string rather than an array. The
    reload needs no restart and applies the rest (a new audit log)."""
    g, a = start(make_gtmd)
    conf = json.loads(json.dumps(g.config))
    assert len(conf["admin"]["listen"]) == 1 and "max_connections" not in conf["admin"]
    conf["admin"]["listen"] = conf["admin"]["listen"][0]
    conf["admin"]["max_connections"] = 64
    conf["admin"]["timeout"] = 5.0
    conf["admin"]["audit_log"] = os.path.join(g.workdir, "audit2.log")
    g.write_config(conf)
    r = a.post("/v1/reload")
    assert r.status == 200, r
    assert r.json["restart_needed"] == [] and r.json["restart_needed_for_admin"] is False and \
        r.json["restart_needed_for_listen"] is False, r.json
    a.post("/v1/reload")  # audited in the new file: the admin part was applied
    assert os.path.exists(os.path.join(g.workdir, "audit2.log"))
    conf["admin"]["max_connections"] = 65  # a real change still counts
    g.write_config(conf)
    r = a.post("/v1/reload")
    assert r.json["restart_needed_for_admin"] is True and r.json["restart_needed"] == ["admin"], \
        r.json


def test_a_new_etcd_password_needs_a_restart(make_gtmd):
    """The fleet keeps the etcd password it read at start: a reload that
    reads another from the same password_file says a restart is needed
    (the file's path did not change; what runs did), and says it until the
    file holds the running password again. etcd is not there (port 9):
    the node runs on its own view meanwhile."""
    def mutate(c, workdir):
        with open(os.path.join(workdir, "etcd.password"), "w") as f:
            f.write("first\n")
        os.chmod(os.path.join(workdir, "etcd.password"), 0o600)
        c["fleet"] = {"etcd": ["http://127.0.0.1:9"], "username": "gtmd",
                      "password_file": "etcd.password", "node": "n1"}
    g, a = start(make_gtmd, mutate=mutate)
    pw = os.path.join(g.workdir, "etcd.password")
    r = a.post("/v1/reload")
    assert r.status == 200 and r.json["restart_needed_for_fleet"] is False, r.json
    with open(pw, "w") as f:
        f.write("rotated\n")
    for _ in range(2):  # said again until a restart
        r = a.post("/v1/reload")
        assert r.status == 200, r
        assert r.json["restart_needed_for_fleet"] is True and "fleet" in r.json["restart_needed"], \
            r.json
    assert "fleet and probe_source change only on restart" in g.read_log()
    with open(pw, "w") as f:
        f.write("first\n")
    r = a.post("/v1/reload")
    assert r.json["restart_needed_for_fleet"] is False and r.json["restart_needed"] == [], r.json


BASE = {"listen": ["127.0.0.1:53"],
        "zones": [{"origin": "example.com.", "file": "example.com.zone"}],
        "regions": {"us": {}},
        "pools": {"p": {"endpoints": [{"name": "a", "address": "192.0.2.1", "region": "us"}]}}}


@pytest.mark.parametrize("part,want", [
    ({"tcp": 5}, "$.tcp: must be an object"),
    ({"tcp": {"idle_timeout": 0}},
     "$.tcp.idle_timeout: must be a number of seconds from 0.1 to 3600"),
    ({"tsig_keys": {"k.example.": {"algorithm": "hmac-sha256"}}},
     '$.tsig_keys["k.example."].secret: is required'),
    ({"zones": [{"file": "x.zone"}]}, "$.zones[0].origin: is required"),
    ({"zones": [{"origin": "example.com.", "file": "e.zone", "transfer": {"journal_max": 1}}]},
     "$.zones[0].transfer.journal_max: must be an integer from 4096 to"),
    ({"checks": {"c": {"type": "tcp", "port": 80, "path": "/"}}},
     "$.checks.c.path: not allowed for type tcp"),
    ({"checks": {"c": {"type": "composite"}}}, "$.checks.c.of: is required"),
    ({"pools": {"p": {"endpoints": [{"name": "a", "address": "192.0.2.1"}]}}},
     "$.pools.p.endpoints[0].region: is required"),
    ({"pools": {"p": {"endpoints": [{"name": "a", "address": "192.0.2.1", "region": "us",
                                     "check_target": {"port": 0}}]}}},
     "$.pools.p.endpoints[0].check_target.port: must be an integer from 1 to 65535"),
    ({"records": {"x.example.com.": {"pool": "p", "colour": 1}}},
     '$.records["x.example.com."]: unknown key "colour"'),
    ({"records": {"x.example.com.": {"pool": "p", "failback": {}}}},
     '$.records["x.example.com."].failback.ramp: is required'),
    ({"records": {"x.example.com.": {"pool": "p", "ttl": -1}}},
     '$.records["x.example.com."].ttl: must be an integer from 0 to'),
    ({"config_api": {"history_dir": "h", "fleet": True}},
     '$.config_api.fleet: needs a "fleet" section'),
    ({"admin": {"listen": "unix:/tmp/x.sock", "alertmanager": {"labels": {"pod": "x"}}}},
     '$.admin.alertmanager.labels: unknown key "pod"'),
    ({"regions": {"us": {"location": [1]}}}, "$.regions.us: location must be"),
    ({"notify": {"queue": 5}}, "$.notify.webhooks: is required"),
    ({"geoip": {}}, "$.geoip: needs \"database\", \"asn_database\" or both"),
    ({"drills": {"practice": [{"name": "x", "regions": ["us"], "mode": "shadow",
                               "interval": 60, "when": 1}]}},
     '$.drills.practice[0]: unknown key "when"'),
])
def test_check_refuses_bad_keys_of_every_section(tmp_path, part, want):
    """Bad values and unknown keys in the sections read through their
    schemas are refused at their JSON path (gtmd check)."""
    conf = dict(BASE, **part)
    path = tmp_path / "gtmd.json"
    path.write_text(json.dumps(conf))
    r = subprocess.run([GTMD, "check", "-c", str(path)], capture_output=True, text=True, timeout=30)
    assert r.returncode == 1 and want in r.stderr, r.stderr

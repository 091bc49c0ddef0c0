"""The key manager against a hostile parent (issue #56; doc/dnssec.md,
"KSK rollover"): the parent's servers and its primary are one small
dnspython server on 127.0.0.1 (UDP and TCP, a kernel port) that answers
the DS query and the DS UPDATE with garbage, a truncated reply, a reply
with the wrong ID, to another question, with DS records of another name,
FORMERR, SERVFAIL, or nothing. A KSK rollover is started through the
admin API; for each, gtmd must stay up, never take the new KSK's DS as
seen (the old KSK stays, the new one never becomes active), show the
error of the check and of the push in GET /v1/dnssec ("parent") and
count both in /metrics. A parent that truncates over UDP and answers
honestly over TCP is the control: the same server, read the right way,
is seen, so the checks above can fail. A parent that takes the new DS
but never drops the old one (it acknowledges the delete and keeps the
DS) holds the old KSK in the zone and raises the "old DS still at
parent" alarm."""
import base64
import copy
import os
import socket
import struct
import threading
import time

import dns.dnssec
import dns.flags
import dns.message
import dns.name
import dns.opcode
import dns.query
import dns.rcode
import dns.rdatatype
import dns.rrset
import pytest

from adminlib import READ_TOKEN, Admin, admin_port, admin_section, gtmctl
from backends import poll
from conftest import Gtmd, free_port

ADDR = "127.0.0.1"
PARENT = "hostile.test."
CHILD = "child." + PARENT
OTHER = "other." + PARENT

CHILD_TEXT = """$ORIGIN child.hostile.test.
$TTL 2
@ IN SOA ns1 hostmaster 1 3600 600 86400 2
@ IN NS ns1
ns1 IN A 127.0.0.1
www IN A 192.0.2.1
"""


def ksks(gport):
    q = dns.message.make_query(CHILD, "DNSKEY")
    r = dns.query.udp(q, ADDR, port=gport, timeout=2)
    return [k for rr in r.answer for k in rr if k.flags & 1]


class Parent(threading.Thread):
    """The hostile parent: answers each DS query and UPDATE by mode; ds()
    gives the child's true DS records (to put in the lies)."""

    def __init__(self, mode, ds):
        super().__init__(daemon=True)
        self.mode, self.ds = mode, ds
        self.queries = self.updates = 0
        self.udp = self.tcp = None
        for _ in range(50):  # a UDP port from the kernel, and TCP on the same number
            u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            u.bind((ADDR, 0))
            t = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            t.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                t.bind((ADDR, u.getsockname()[1]))
            except OSError:
                u.close()
                t.close()
                continue
            self.udp, self.tcp = u, t
            break
        assert self.udp, "no port free for UDP and TCP"
        self.port = self.udp.getsockname()[1]
        self.tcp.listen(8)
        self.stopping = False

    def reply(self, wire, tcp):
        q = dns.message.from_wire(wire)
        if q.opcode() == dns.opcode.UPDATE:
            self.updates += 1
        else:
            self.queries += 1
        m = {"never": "wrong_owner", "slow": "silent"}.get(self.mode, self.mode)
        r = dns.message.make_response(q)
        if q.opcode() == dns.opcode.QUERY and m in ("tcp_only", "wrong_id", "wrong_question",
                                                      "keeps_old"):
            r.answer.append(dns.rrset.from_rdata_list(CHILD, 2, self.ds()))
        if m == "silent":
            return None
        if m == "garbage":
            # The header (ID, QR, opcode, one question, five answers), the
            # question echoed, then noise: passes every check but the parse.
            w = r.to_wire()
            return w[:4] + struct.pack(">HHHH", 1, 5, 0, 0) + w[12:] + os.urandom(40)
        if m in ("formerr", "servfail"):
            r.set_rcode(dns.rcode.FORMERR if m == "formerr" else dns.rcode.SERVFAIL)
        if m == "wrong_id":
            r.id = (q.id + 1) % 65536
        if m == "wrong_question":
            r.question = [dns.rrset.RRset(dns.name.from_text(OTHER), q.question[0].rdclass,
                                          q.question[0].rdtype)] if q.question else []
        if m == "wrong_owner" and q.opcode() == dns.opcode.QUERY:
            r.answer.append(dns.rrset.from_rdata_list(OTHER, 2, self.ds()))
        if m in ("truncated", "tcp_only") and not tcp:
            r.answer = []
            r.flags |= dns.flags.TC
        if m == "truncated" and tcp:
            return None  # and the connection closes
        return r.to_wire()

    def serve_tcp(self):
        try:
            c, _ = self.tcp.accept()
        except OSError:
            return
        with c:
            c.settimeout(2)
            try:
                n = struct.unpack(">H", c.recv(2, socket.MSG_WAITALL))[0]
                out = self.reply(c.recv(n, socket.MSG_WAITALL), True)
                if out:
                    c.sendall(struct.pack(">H", len(out)) + out)
            except Exception:
                pass

    def run(self):
        import select
        while not self.stopping:
            ready, _, _ = select.select([self.udp, self.tcp], [], [], 0.2)
            for s in ready:
                if s is self.tcp:
                    self.serve_tcp()
                    continue
                try:
                    wire, peer = self.udp.recvfrom(4096)
                    out = self.reply(wire, False)
                except Exception:
                    continue
                if out:
                    self.udp.sendto(out, peer)

    def stop(self):
        self.stopping = True
        self.join(5)
        self.udp.close()
        self.tcp.close()


def policy(pport, warn=None, n_servers=1):
    # DNSKEY TTL and maximum TTL 2 s, propagation 1 s, no safety margins:
    # the new KSK is ready Ipub = 3 s after the call; a check each second.
    p = {"algorithm": 13, "zsk_lifetime": "none", "ksk_lifetime": "none",
            "dnskey_ttl": 2, "zone_max_ttl": 2, "propagation_delay": 1,
            "publish_safety": 0, "retire_safety": 0,
            "signature_validity": 3600, "signature_refresh": 600, "denial": "nsec",
            "parent": {"cds": True, "ds_ttl": 2, "registration_delay": 1,
                       "propagation_delay": 1, "check_interval": 1,
                       "servers": ["%s:%d" % (ADDR, pport)] * n_servers,
                       "ds_push": {"primary": "%s:%d" % (ADDR, pport)}}}
    if warn is not None:
        p["parent"]["ds_wait_warn"] = warn
    return p


@pytest.fixture
def hostile(request, tmp_path):
    gport = free_port()
    state = {}

    def ds():
        return [dns.dnssec.make_ds(CHILD, k, "SHA256") for k in state["ksks"]]
    parent = Parent(request.param, ds)
    parent.start()
    g = None
    try:
        (tmp_path / "child.zone").write_text(CHILD_TEXT)
        cfg = {"listen": ["%s:%d" % (ADDR, gport)], "workers": 1,
               "dnssec_policies": {"short": policy(
                   parent.port, 2 if request.param in ("never", "keeps_old") else None,
                   3 if request.param == "slow" else 1)},
               "zones": [{"origin": CHILD, "file": "child.zone",
                          "dnssec": {"policy": "short", "key_directory": "keys"}}],
               "admin": admin_section(str(tmp_path), admin_port(gport))}
        g = Gtmd(str(tmp_path), cfg, gport).start()
        state["ksks"] = ksks(gport)
        yield parent, g, Admin.of(g), state
    finally:
        if g:
            g.stop()
        parent.stop()


def zone_status(admin):
    r = admin.get("/v1/dnssec", token=READ_TOKEN)
    assert r.status == 200, r
    [z] = [z for z in r.json["zones"] if z["zone"] == CHILD]
    return z


def metric(admin, name, result):
    text = admin.get("/metrics", token=READ_TOKEN).body.decode()
    line = '%s{result="%s"} ' % (name, result)
    return sum(int(ln.split()[-1]) for ln in text.splitlines() if ln.startswith(line))


def metric_value(admin, name):
    text = admin.get("/metrics", token=READ_TOKEN).body.decode()
    [v] = [ln.split()[-1] for ln in text.splitlines() if ln.startswith(name + " ")]
    return int(v)


# What status must say of the check (servers[].error) and of the push
# (ds_push.tries[].why) for each mode.
HOSTILE = {
    "garbage": ("does not parse", "does not parse"),
    "truncated": ("truncated reply, and no answer over TCP",
                  "truncated reply, and no answer over TCP"),
    "wrong_id": ("no answer within", "no answer within"),
    "wrong_question": ("another question", "another question"),
    "formerr": ("answered rcode FORMERR", "refused the update"),
    "servfail": ("answered rcode SERVFAIL", "refused the update"),
    "silent": ("no answer within", "no answer within"),
}


def start_rollover(admin, gport, state):
    r = admin.post("/v1/dnssec/%s/rollover" % CHILD, {"key": "ksk"})
    assert r.status == 200, r.json
    new = r.json["new"]["tag"]
    # The new KSK is published at once: the true DS of both goes in the lies.
    state["ksks"] = poll(lambda: [k for k in ksks(gport)] if len(ksks(gport)) == 2 else None,
                         10, 0.1)[0]
    assert state["ksks"], "the new KSK is not published"
    return new


@pytest.mark.parametrize("hostile", sorted(HOSTILE) + ["wrong_owner"], indirect=True)
def test_hostile_parent_is_never_seen(hostile):
    parent, g, admin, state = hostile
    old = dns.dnssec.key_id(state["ksks"][0])
    new = start_rollover(admin, g.port, state)
    check_why, push_why = HOSTILE.get(parent.mode, (None, None))

    def failed():
        p = zone_status(admin).get("parent") or {}
        servers = p.get("servers") or []
        tries = (p.get("ds_push") or {}).get("tries") or []
        return p if servers and tries and parent.queries >= 2 else None
    # Ready Ipub (3 s) after the call, then a check and a push at once and
    # a check each second (each at most 1 s without an answer): the second
    # check within about 6 s; 30 s for ASan and a loaded machine.
    p = poll(failed, 30, 0.3)[0]
    assert p, zone_status(admin)
    assert g.proc.poll() is None, "gtmd exited"
    [srv] = p["servers"]
    [d] = [d for d in p["ds"] if d["tag"] == new]
    assert not d["at_every_server"] and d["seen_since"] == -1, p
    assert "waiting for DS at parent since" in p["waiting"], p
    tries = p["ds_push"]["tries"]
    if parent.mode == "wrong_owner":
        # It answers the question with no DS of ours (and acknowledges the
        # push): answered, not seen.
        assert srv["answered"] and srv["ds_for"] == [], srv
        assert metric(admin, "gtmd_dnssec_parent_check_total", "answered") >= 1
    else:
        assert not srv["answered"] and check_why in srv["error"], srv
        assert all(push_why in t["why"] and not t["ok"] for t in tries), tries
        assert p["ds_push"]["failures_in_row"] >= 1, p
        assert metric(admin, "gtmd_dnssec_parent_check_total", "failed") >= 1
        assert metric(admin, "gtmd_dnssec_ds_push_total", "failed") >= 1
    # The default DS alarm bound is a day: none here.
    assert p["ds_overdue"] is None and metric_value(admin, "gtmd_dnssec_ds_overdue_zones") == 0
    # The old KSK stays; the new one waits beside it.
    assert {dns.dnssec.key_id(k) for k in ksks(g.port)} == {old, new}
    keys = {k["tag"]: k for k in zone_status(admin)["keys"]}
    assert keys[new]["active"] is None and keys[old]["retired"] is None, keys


@pytest.mark.parametrize("hostile", ["tcp_only"], indirect=True)
def test_truncated_udp_is_asked_again_over_tcp(hostile):
    parent, g, admin, state = hostile
    new = start_rollover(admin, g.port, state)

    def seen():
        p = zone_status(admin).get("parent") or {}
        d = [d for d in p.get("ds") or [] if d["tag"] == new]
        return p if d and d[0]["at_every_server"] else None
    # As above: seen at the first check after ready; 30 s for ASan.
    p = poll(seen, 30, 0.3)[0]
    assert p, zone_status(admin)
    assert p["servers"][0]["answered"] and new in p["servers"][0]["ds_for"], p


@pytest.mark.parametrize("hostile", ["never"], indirect=True)
def test_a_ds_that_never_comes_raises_the_alarm(hostile):
    """parent.ds_wait_warn 2 s; the parent answers, never with our DS."""
    parent, g, admin, state = hostile
    new = start_rollover(admin, g.port, state)

    def overdue():
        p = zone_status(admin).get("parent") or {}
        return p if p.get("ds_overdue") else None
    # Ready Ipub (3 s) after the call, overdue 2 s later, found at the
    # next check (1 s): about 6 s; 30 s for ASan and a loaded machine.
    p = poll(overdue, 30, 0.3)[0]
    assert p, zone_status(admin)
    keys = {k["tag"]: k for k in zone_status(admin)["keys"]}
    assert p["ds_overdue"] == {"tag": new, "waiting_since": keys[new]["ready"],
                               "what": "new DS not at parent"}, (p, keys)
    assert keys[new]["active"] is None
    assert metric_value(admin, "gtmd_dnssec_ds_overdue_zones") == 1
    # Logged (and published as an event) once for this KSK.
    lines = [ln for ln in g.read_log().splitlines() if "event=dnssec_ds_overdue" in ln]
    assert len(lines) == 1 and "tag=%d " % new in lines[0] and "bound=2" in lines[0], lines
    ctl = gtmctl("dnssec", "status",
                 env={"GTMCTL_SERVER": admin.url, "GTMCTL_TOKEN": READ_TOKEN})
    assert ctl.returncode == 0, ctl.stderr
    assert "ALARM: the DS of KSK %d is not at the parent" % new in ctl.stdout, ctl.stdout


@pytest.mark.parametrize("hostile", ["keeps_old"], indirect=True)
def test_an_old_ds_that_never_goes_holds_the_old_ksk(hostile):
    """parent.ds_wait_warn 2 s; the parent lists the DS of both KSKs from
    the start of the rollover and acknowledges every delete without
    acting on it. The new DS is seen, the old DS's delete pushed at once,
    the new KSK becomes active, and the old KSK stays in the zone beside
    it (the parent still lists its DS), with the alarm raised."""
    parent, g, admin, state = hostile
    old = dns.dnssec.key_id(state["ksks"][0])
    new = start_rollover(admin, g.port, state)

    def overdue():
        p = zone_status(admin).get("parent") or {}
        return p if (p.get("ds_overdue") or {}).get("what") == "old DS still at parent" else None
    # Ready Ipub (3 s) after the call, seen at the next check (1 s), the
    # delete pushed in that run; the alarm 2 s later at a check: about 7 s;
    # 30 s for ASan and a loaded machine.
    p = poll(overdue, 30, 0.3)[0]
    assert p, zone_status(admin)
    keys = {k["tag"]: k for k in zone_status(admin)["keys"]}
    assert p["ds_overdue"] == {"tag": old, "waiting_since": keys[old]["retire_active"],
                               "what": "old DS still at parent"}, (p, keys)
    assert keys[old]["retired"] is None and keys[new]["active"] is not None, keys
    dels = [t for t in p["ds_push"]["tries"] if t["action"] == "delete"]
    assert dels and all(t["tag"] == old and t["ok"] for t in dels), p["ds_push"]
    assert "old DS of KSK %d" % old in p["waiting"], p
    assert metric_value(admin, "gtmd_dnssec_ds_overdue_zones") == 1
    # Logged once for this KSK and kind (a new-DS alarm before it, were
    # the first check more than 2 s late under load, is another line).
    lines = [ln for ln in g.read_log().splitlines()
             if "event=dnssec_ds_overdue" in ln and 'what="old DS still at parent"' in ln]
    assert len(lines) == 1 and "tag=%d " % old in lines[0], lines
    ctl = gtmctl("dnssec", "status",
                 env={"GTMCTL_SERVER": admin.url, "GTMCTL_TOKEN": READ_TOKEN})
    assert ctl.returncode == 0, ctl.stderr
    assert "ALARM: old DS still at parent: the DS of KSK %d" % old in ctl.stdout, ctl.stdout
    # The new KSK active (IpubP = 3 s after seen) and two checks more: the
    # old KSK is still in the zone, signing the DNSKEY RRset with the new.
    act = keys[new]["active"]
    assert poll(lambda: time.time() >= act + 2, 30, 0.2)[0]
    assert {dns.dnssec.key_id(k) for k in ksks(g.port)} == {old, new}
    keys = {k["tag"]: k for k in zone_status(admin)["keys"]}
    assert keys[old]["retired"] is None and keys[old]["state"] == "retire-active", keys[old]
    assert keys[new]["state"] == "active", keys[new]
    # No new KSK rollover while the old KSK waits, forced or not.
    for body in ({"key": "ksk"}, {"key": "ksk", "force": True}):
        r = admin.post("/v1/dnssec/%s/rollover" % CHILD, body)
        assert r.status == 409 and "still ending" in r.json["error"]["message"], r.json


@pytest.mark.parametrize("hostile", ["silent"], indirect=True)
def test_reload_without_the_push_key_is_refused(hostile):
    """A reload that removes the TSIG key parent.ds_push signs with is a
    configuration error naming the policy's JSON path (as Knot refuses a
    configuration whose remote names a missing key); the running
    configuration, key included, stays."""
    parent, g, admin, state = hostile
    secret = base64.b64encode(bytes(range(32))).decode()
    cfg = copy.deepcopy(g.config)
    cfg["tsig_keys"] = {"ds-push.": {"algorithm": "hmac-sha256", "secret": secret}}
    cfg["dnssec_policies"]["short"]["parent"]["ds_push"]["key"] = "ds-push."
    g.write_config(cfg)
    r = admin.post("/v1/reload", {})
    assert r.status == 200 and r.json["result"] == "ok", r.json
    gen = r.json["generation"]
    del cfg["tsig_keys"]
    g.write_config(cfg)
    r = admin.post("/v1/reload", {})
    assert r.json["result"] == "failed" and r.json["generation"] == gen, r.json
    errs = "\n".join(r.json["errors"])
    assert '$.dnssec_policies["short"]' in errs and "ds_push" in errs and "ds-push." in errs, errs
    [pol] = [p for p in admin.get("/v1/dnssec", token=READ_TOKEN).json["policies"]
             if p["name"] == "short"]
    assert pol["parent"]["ds_push"]["key"] == "ds-push.", pol


@pytest.mark.threads  # the main thread asks the parent while the admin thread serves
@pytest.mark.parametrize("hostile", ["slow"], indirect=True)
def test_a_silent_parent_never_holds_the_admin_api(hostile):
    """Three parent servers that never answer: a check takes 3 s (1 s
    each). The queries run off reload_lock, so GET /v1/status, GET
    /v1/dnssec (which reads the parent state under the lock) and a reload
    answer as fast as ever meanwhile."""
    parent, g, admin, state = hostile
    start_rollover(admin, g.port, state)

    def checking():
        return parent.queries >= 1
    # Ready Ipub (3 s) after the call, then the first check: 20 s for ASan.
    assert poll(checking, 20, 0.1)[0], zone_status(admin)
    worst = {}
    t_end = time.monotonic() + 4  # more than one whole check (3 s)
    while time.monotonic() < t_end:
        for what, call in (("status", lambda: admin.get("/v1/status", token=READ_TOKEN)),
                           ("dnssec", lambda: admin.get("/v1/dnssec", token=READ_TOKEN)),
                           ("reload", lambda: admin.post("/v1/reload", {}))):
            t0 = time.monotonic()
            r = call()
            took = time.monotonic() - t0
            assert r.status == 200, (what, r)
            worst[what] = max(worst.get(what, 0), took)
    # Measured under ASan: status and dnssec 5 ms, a reload 29 ms at worst.
    # With the lock held over the queries, calls repeated through a whole
    # 3 s check wait up to 3 s (a reload took 1.01 s when only the push
    # still held it): the bound is under one silent server's 1 s. It was
    # 0.5 s, which the sanitizer builds of CI, beside the rest of the
    # suite, passed over in two runs (one failure each; they passed alone).
    print("worst latencies while the parent is asked: %s" % worst)
    assert all(v < 0.9 for v in worst.values()), worst
    p = zone_status(admin)["parent"]
    assert len(p["servers"]) == 3 and not any(s["answered"] for s in p["servers"]), p
    assert parent.queries >= 3, parent.queries

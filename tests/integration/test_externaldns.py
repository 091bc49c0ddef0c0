"""gtmctl externaldns: the ExternalDNS webhook provider in front of gtmd's
configuration API (doc/automation.md, "Kubernetes: ExternalDNS"). The real
ExternalDNS binary is not available here: the requests are those of the
protocol's published OpenAPI description (api/webhook.yaml of
kubernetes-sigs/external-dns, media type
application/external.dns.webhook+json;version=1) and of its Go types
(plan.Changes is sent with capitalised keys: Create, UpdateOld, UpdateNew,
Delete). Every effect is read from real DNS answers of the real gtmd."""
import http.client
import json
import os
import subprocess
import time

import pytest

from adminlib import GTMCTL, OPERATE_TOKEN, US_A, start
from backends import poll, query_addrs
from conftest import free_port, stop_process

MEDIA = "application/external.dns.webhook+json;version=1"


def history(c, workdir):
    c["config_api"] = {"history_dir": "history"}


def run_webhook(g, a, *extra):
    """Starts gtmctl externaldns for g on a free loopback port; returns
    (process, port, log path) once /healthz answers."""
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("GTMCTL_")}
    env.update({"GTMCTL_SERVER": a.url, "GTMCTL_TOKEN": OPERATE_TOKEN})
    path = os.path.join(g.workdir, "externaldns-%d.log" % port)
    log = open(path, "wb")
    p = subprocess.Popen([GTMCTL, "externaldns", "--listen", "127.0.0.1:%d" % port,
                          "--domain", "example.com", "--domain", "example.net."] + list(extra),
                         env=env, stdout=log, stderr=log)
    log.close()
    ok, _ = poll(lambda: raw_call(port, "GET", "/healthz")[0] == 200, 10.0)
    if not ok:
        stop_process(p)
    assert ok, open(path).read()
    return p, port, path


def stop_webhook(p, path):
    stop_process(p)
    # gtmctl of a sanitizer build reports into its log (at exit, leaks).
    with open(path, errors="replace") as f:
        text = f.read()
    assert p.returncode == 0, text
    for mark in ("ERROR: AddressSanitizer", "ERROR: LeakSanitizer", ": runtime error: "):
        assert mark not in text, text


@pytest.fixture
def webhook(make_gtmd):
    g, a = start(make_gtmd, mutate=history)
    p, port, path = run_webhook(g, a)
    yield g, a, port
    stop_webhook(p, path)


def raw_call(port, method, path, body=None, headers=None):
    """(status, body bytes, Content-Type) with exactly these headers."""
    try:
        c = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        c.request(method, path, body=body, headers=headers or {})
        r = c.getresponse()
        data = r.read()
        ctype = r.getheader("Content-Type")
        c.close()
    except OSError:
        return 0, None, None
    return r.status, data, ctype


def call(port, method, path, body=None):
    """As ExternalDNS asks: version 1 in Accept (and Content-Type with a
    body); the reply's JSON (errors are plain text: 406, 415, the 500 of
    the names refused)."""
    h = {"Accept": MEDIA}
    if body is not None:
        h["Content-Type"] = MEDIA
    st, data, ctype = raw_call(port, method, path,
                               json.dumps(body) if body is not None else None, h)
    return st, json.loads(data) if data and ctype == MEDIA else data or None, ctype


def served(g, name, want):
    return poll(lambda: sorted(query_addrs(g, name)) == sorted(want), 5.0)[0]


def test_negotiate_adjust_and_records(webhook):
    g, a, port = webhook
    st, body, ctype = call(port, "GET", "/")
    assert st == 200 and ctype == MEDIA, (st, ctype)
    assert body["filters"] == ["example.com", "example.net"], body
    assert body["include"] == body["filters"]
    # adjustendpoints: A, AAAA and CNAME in the domain pass; TXT (the
    # registry's) and names outside the domain do not.
    eps = [{"dnsName": "foo.example.com", "recordType": "A", "recordTTL": 60,
            "targets": ["1.2.3.4", "1.2.3.5"]},
           {"dnsName": "foo.example.com", "recordType": "TXT", "targets": ["heritage=x"]},
           {"dnsName": "foo.example.org", "recordType": "A", "targets": ["1.2.3.4"]}]
    st, body, _ = call(port, "POST", "/adjustendpoints", eps)
    assert st == 200 and body == eps[:1], body
    # Nothing of gtmd's own configuration is listed.
    st, body, _ = call(port, "GET", "/records")
    assert st == 200 and body == [], body


def test_create_update_delete_per_set_identifier(webhook):
    g, a, port = webhook
    create = {"Create": [
        {"dnsName": "app.example.com", "recordType": "A", "recordTTL": 60,
         "setIdentifier": "us", "targets": ["192.0.2.10", "192.0.2.11"]},
        {"dnsName": "app.example.com", "recordType": "A", "recordTTL": 60,
         "setIdentifier": "eu", "targets": ["198.51.100.10"]},
        {"dnsName": "web.example.com", "recordType": "CNAME", "targets": ["www.example.com"]}],
        "UpdateOld": [], "UpdateNew": [], "Delete": []}
    st, _, _ = call(port, "POST", "/records", create)
    assert st == 204
    # policy "all" over both regions (every endpoint up: no checks).
    assert served(g, "app.example.com.", ["192.0.2.10", "192.0.2.11", "198.51.100.10"])
    r = g.query("web.example.com.")
    assert any(rr.rdtype == 5 for rr in r.answer), r
    st, body, _ = call(port, "GET", "/records")
    got = sorted((x["dnsName"], x["recordType"], x["setIdentifier"], tuple(sorted(x["targets"])),
                  x["recordTTL"]) for x in body)
    assert got == [("app.example.com", "A", "eu", ("198.51.100.10",), 60),
                   ("app.example.com", "A", "us", ("192.0.2.10", "192.0.2.11"), 60),
                   ("web.example.com", "CNAME", "", ("www.example.com",), 300)], got
    # One batch, one version.
    hist = a.get("/v1/config/history").json["versions"]
    assert hist[0]["change"] == "externaldns" and hist[0]["source"] == "api", hist[0]
    # Update the us set (lower-case keys, as the OpenAPI spells them).
    upd = {"updateOld": [{"dnsName": "app.example.com", "recordType": "A",
                          "setIdentifier": "us", "targets": ["192.0.2.10", "192.0.2.11"]}],
           "updateNew": [{"dnsName": "app.example.com", "recordType": "A", "recordTTL": 60,
                          "setIdentifier": "us", "targets": ["192.0.2.12"]}]}
    st, _, _ = call(port, "POST", "/records", upd)
    assert st == 204
    assert served(g, "app.example.com.", ["192.0.2.12", "198.51.100.10"])
    # Delete the eu set, then the last one: record and pool go.
    st, _, _ = call(port, "POST", "/records", {"Delete": [
        {"dnsName": "app.example.com", "recordType": "A", "setIdentifier": "eu",
         "targets": ["198.51.100.10"]}]})
    assert st == 204 and served(g, "app.example.com.", ["192.0.2.12"])
    st, _, _ = call(port, "POST", "/records", {"Delete": [
        {"dnsName": "app.example.com", "recordType": "A", "setIdentifier": "us",
         "targets": ["192.0.2.12"]}]})
    assert st == 204
    assert poll(lambda: g.query("app.example.com.").rcode() == 3, 5.0)[0]
    res = a.get("/v1/config").json["resources"]
    assert "externaldns-app.example.com" not in res["pools"]
    assert "app.example.com." not in res["records"]
    # gtmd's own records were left alone.
    assert query_addrs(g, "fo.example.com.") == US_A


def test_a_change_gtmd_refuses_is_a_500(webhook):
    """example.net is in the webhook's filter but in no zone of gtmd's: the
    change would not load, nothing is applied, and ExternalDNS gets a 500
    (it tries again on its next run)."""
    g, a, port = webhook
    v = a.get("/v1/config").json["version"]
    st, _, _ = call(port, "POST", "/records", {"Create": [
        {"dnsName": "x.example.net", "recordType": "A", "targets": ["192.0.2.1"]},
        {"dnsName": "ok.example.com", "recordType": "A", "targets": ["192.0.2.2"]}]})
    assert st == 500
    assert a.get("/v1/config").json["version"] == v
    assert query_addrs(g, "ok.example.com.") == []
    st, _, _ = call(port, "POST", "/records", {"Create": "not a list"})
    assert st == 204  # nothing to do
    assert raw_call(port, "POST", "/records", "not json", {"Content-Type": MEDIA})[0] == 400
    assert call(port, "GET", "/nope")[0] == 404


# ---- ownership, who may ask, negotiation (issue #37 finding 3, #38) ---------

APP = "app.example.com."


def hand_made(c, workdir):
    """history, and a hand-made failover record app.example.com. on pool
    web (as in the finding), and a hand-made record on an externaldns-
    pool of another name."""
    history(c, workdir)
    c["records"][APP] = {"pool": "web", "policy": "failover", "regions": ["us", "eu", "ap"]}
    c["pools"]["externaldns-shared.example.com"] = {"endpoints": [
        {"name": "s1", "address": "192.0.2.44", "region": "us"}]}
    c["records"]["other.example.com."] = {"pool": "externaldns-shared.example.com",
                                          "policy": "all"}


def test_takeover_of_a_hand_made_record_is_refused(make_gtmd):
    """An unauthenticated Create of app.example.com. (a hand-made record on
    pool web) is refused for that name: 500 with the reason, logged, the
    record and its answers untouched, while an owned name of the same batch
    is applied. On the old code the record was replaced by one on pool
    externaldns-app.example.com answering 203.0.113.66 (this test failed
    there)."""
    g, a = start(make_gtmd, mutate=hand_made)
    p, port, path = run_webhook(g, a)
    try:
        assert query_addrs(g, APP) == US_A
        before = a.get("/v1/config/records/" + APP).json["value"]
        v = a.get("/v1/config").json["version"]
        # The finding's request, as it was sent: refused, nothing changes.
        st, body, _ = raw_call(port, "POST", "/records", json.dumps({"Create": [
            {"dnsName": "app.example.com", "recordType": "A", "targets": ["203.0.113.66"]}]}),
            {"Content-Type": MEDIA})
        assert st == 500 and b"not ExternalDNS's" in body, (st, body)
        assert a.get("/v1/config/records/" + APP).json["value"] == before
        assert a.get("/v1/config").json["version"] == v
        assert query_addrs(g, APP) == US_A
        # A batch: the hand-made name in another case and a pool another
        # record uses are refused, the name that is ExternalDNS's applied.
        batch = {"Create": [
            {"dnsName": "app.example.com", "recordType": "A", "targets": ["203.0.113.66"]},
            {"dnsName": "APP.Example.com", "recordType": "A", "targets": ["203.0.113.67"]},
            {"dnsName": "shared.example.com", "recordType": "A", "targets": ["203.0.113.68"]},
            {"dnsName": "mine.example.com", "recordType": "A", "targets": ["192.0.2.99"]}]}
        st, body, ctype = raw_call(port, "POST", "/records", json.dumps(batch),
                                   {"Content-Type": MEDIA})
        assert st == 500 and ctype.startswith("text/plain"), (st, body)
        assert b"app.example.com" in body and b"not ExternalDNS's" in body, body
        assert b"shared.example.com" in body, body
        # Untouched, in the configuration and in the answers.
        assert a.get("/v1/config/records/" + APP).json["value"] == before
        res = a.get("/v1/config").json["resources"]
        assert "externaldns-app.example.com" not in res["pools"], res["pools"].keys()
        assert res["records"]["other.example.com."]["pool"] == "externaldns-shared.example.com"
        assert query_addrs(g, APP) == US_A
        assert query_addrs(g, "other.example.com.") == ["192.0.2.44"]
        # The name that is ExternalDNS's was applied, in one version.
        assert served(g, "mine.example.com.", ["192.0.2.99"])
        assert a.get("/v1/config").json["version"] == v + 1
        # Updates and deletes of the hand-made record are refused too; it is
        # never listed as ExternalDNS's.
        for kind in ("Delete", "UpdateNew"):
            st, body, _ = raw_call(port, "POST", "/records", json.dumps({kind: [
                {"dnsName": "app.example.com", "recordType": "A", "targets": ["192.0.2.10"]}]}),
                {"Content-Type": MEDIA})
            assert st == 500 and b"app.example.com" in body, (kind, st, body)
        assert a.get("/v1/config/records/" + APP).json["value"] == before
        st, body, _ = call(port, "GET", "/records")
        assert sorted(x["dnsName"] for x in body) == ["mine.example.com"], body
        with open(path) as f:
            assert "refused app.example.com" in f.read()
    finally:
        stop_webhook(p, path)


def test_content_negotiation(webhook):
    """Version 1 only: an Accept that allows no version 1 reply is 406, a
    body that is not version 1 is 415 and never applied. On the old code
    GET /records with version=2 got a version 1 reply and a text/plain or
    version=2 POST was applied (this test failed there)."""
    g, a, port = webhook
    v2 = "application/external.dns.webhook+json;version=2"
    for path in ("/", "/records"):
        for accept in (v2, "application/json", "text/plain;q=1, " + v2):
            st, _, _ = raw_call(port, "GET", path, headers={"Accept": accept})
            assert st == 406, (path, accept, st)
        for accept in (None, MEDIA, "*/*", "application/*", v2 + ", " + MEDIA,
                       "application/external.dns.webhook+json", "APPLICATION/External.DNS."
                       "Webhook+JSON; Version=\"1\""):
            st, _, ctype = raw_call(port, "GET", path,
                                    headers={"Accept": accept} if accept else {})
            assert st == 200 and ctype == MEDIA, (path, accept, st, ctype)
    v = a.get("/v1/config").json["version"]
    create = json.dumps({"Create": [
        {"dnsName": "neg.example.com", "recordType": "A", "targets": ["192.0.2.77"]}]})
    for ctype in ("text/plain", v2, "application/json", None,
                  "application/external.dns.webhook+json"):
        st, body, _ = raw_call(port, "POST", "/records", create,
                               {"Content-Type": ctype} if ctype else {})
        assert st == 415, (ctype, st, body)
        st, _, _ = raw_call(port, "POST", "/adjustendpoints", "[]",
                            {"Content-Type": ctype} if ctype else {})
        assert st == 415, (ctype, st)
    assert a.get("/v1/config").json["version"] == v
    assert query_addrs(g, "neg.example.com.") == []
    # adjustendpoints: the body is version 1, the reply must be too.
    st, _, _ = raw_call(port, "POST", "/adjustendpoints", "[]",
                        {"Content-Type": MEDIA, "Accept": v2})
    assert st == 406
    st, _, _ = raw_call(port, "POST", "/records", create,
                        {"Content-Type": "application/external.dns.webhook+json; version=1"})
    assert st == 204 and served(g, "neg.example.com.", ["192.0.2.77"])


def test_listener_is_loopback_unless_allowed(make_gtmd):
    g, a = start(make_gtmd, mutate=history)
    env = {k: v for k, v in os.environ.items() if not k.startswith("GTMCTL_")}
    env.update({"GTMCTL_SERVER": a.url, "GTMCTL_TOKEN": OPERATE_TOKEN})
    base = [GTMCTL, "externaldns", "--domain", "example.com", "--listen"]
    for addr in ("0.0.0.0:%d" % free_port(), "[::]:%d" % free_port(), "192.0.2.1:8888"):
        r = subprocess.run(base + [addr], env=env, capture_output=True, text=True, timeout=20)
        assert r.returncode == 2 and "not a loopback address" in r.stderr, (addr, r)
    # Without --listen: 127.0.0.1:8888, ExternalDNS's default (the port may
    # be taken on this machine: then it says it cannot listen there).
    p = subprocess.Popen([GTMCTL, "externaldns", "--domain", "example.com"], env=env,
                         stderr=subprocess.PIPE, text=True)
    try:
        import select
        ready, _, _ = select.select([p.stderr], [], [], 10.0)
        line = p.stderr.readline() if ready else "(nothing within 10 s)"
    finally:
        stop_process(p)
    assert ("listening on 127.0.0.1:8888" in line or
            "cannot listen on 127.0.0.1:8888" in line), line
    # Asked explicitly, the check lets it through (192.0.2.1 is not ours:
    # binding fails, so nothing listens beyond loopback in this test).
    r = subprocess.run(base + ["192.0.2.1:%d" % free_port(), "--allow-remote"], env=env,
                       capture_output=True, text=True, timeout=20)
    assert r.returncode == 3 and "cannot listen" in r.stderr, r
    assert "no --secret-file" in r.stderr, r.stderr


def test_shared_secret(make_gtmd):
    g, a = start(make_gtmd, mutate=history)
    secret = "webhook-secret-0123456789"
    sf = os.path.join(g.workdir, "webhook.secret")
    with open(sf, "w") as f:
        f.write(secret + "\n")
    os.chmod(sf, 0o644)
    env = {k: v for k, v in os.environ.items() if not k.startswith("GTMCTL_")}
    env.update({"GTMCTL_SERVER": a.url, "GTMCTL_TOKEN": OPERATE_TOKEN})
    r = subprocess.run([GTMCTL, "externaldns", "--domain", "example.com", "--listen",
                        "127.0.0.1:%d" % free_port(), "--secret-file", sf], env=env,
                       capture_output=True, text=True, timeout=20)
    assert r.returncode == 2 and "chmod 600" in r.stderr, r
    os.chmod(sf, 0o600)
    p, port, path = run_webhook(g, a, "--secret-file", sf)
    try:
        create = json.dumps({"Create": [
            {"dnsName": "sec.example.com", "recordType": "A", "targets": ["192.0.2.78"]}]})
        h = {"Content-Type": MEDIA, "Accept": MEDIA}
        for hdr in ({}, {"X-Gtmd-Webhook-Secret": "wrong-secret-0123456789"},
                    {"X-Gtmd-Webhook-Secret": secret + "x"}):
            assert raw_call(port, "GET", "/records", headers=dict(h, **hdr))[0] == 401
            assert raw_call(port, "POST", "/records", create, dict(h, **hdr))[0] == 401
        assert raw_call(port, "POST", "/wrong-secret-0123456789/records", create, h)[0] == 401
        assert query_addrs(g, "sec.example.com.") == []
        st, body, _ = raw_call(port, "GET", "/records",
                               headers=dict(h, **{"X-Gtmd-Webhook-Secret": secret}))
        assert st == 200 and json.loads(body) == [], (st, body)
        # Stock ExternalDNS sends no header: the secret as the URL's path
        # (--webhook-provider-url=http://HOST:PORT/SECRET).
        assert raw_call(port, "GET", "/" + secret, headers=h)[0] == 200
        assert raw_call(port, "POST", "/" + secret + "/records", create, h)[0] == 204
        assert served(g, "sec.example.com.", ["192.0.2.78"])
        assert raw_call(port, "GET", "/healthz")[0] == 200  # the kubelet's probe
    finally:
        stop_webhook(p, path)


def test_two_content_lengths_are_400(webhook):
    """As gtmd's admin API (test_admin_hardening.py): two Content-Length
    headers are 400 and the connection closed, nothing after it read."""
    import socket
    g, a, port = webhook
    body = json.dumps({"Create": [
        {"dnsName": "cl.example.com", "recordType": "A", "targets": ["192.0.2.79"]}]}).encode()
    req = (b"POST /records HTTP/1.1\r\nHost: x\r\nContent-Type: " + MEDIA.encode() +
           b"\r\nContent-Length: 2\r\nContent-Length: %d\r\n\r\n" % len(body) + body)
    s = socket.create_connection(("127.0.0.1", port), timeout=5)
    out = b""
    try:
        s.sendall(req)
        while len(out) < 65536:
            d = s.recv(65536)
            if not d:
                break
            out += d
    finally:
        s.close()
    assert out.startswith(b"HTTP/1.1 400 ") and out.count(b"HTTP/1.1 ") == 1, out[:300]
    assert query_addrs(g, "cl.example.com.") == []


# ---- plans of thousands of endpoints (issue #38) ---------------------------

def plan_of(n, prefix="big", start=0):
    """A Create of n endpoints prefixK.example.com, one A target each."""
    return {"Create": [{"dnsName": "%s%d.example.com" % (prefix, k), "recordType": "A",
                        "recordTTL": 60,
                        "targets": ["10.%d.%d.%d" % (100 + k // 65536, k // 256 % 256, k % 256)]}
                       for k in range(start, start + n)],
            "UpdateOld": [], "UpdateNew": [], "Delete": []}


def want_of(prefix, k):
    return ["10.%d.%d.%d" % (100 + k // 65536, k // 256 % 256, k % 256)]


def changes_bytes(g):
    """request_bytes of the audited POST /v1/config/changes calls."""
    from adminlib import audit_lines
    return [x.get("request_bytes") for x in audit_lines(g)
            if x["path"].startswith("/v1/config/changes")]


def test_plan_over_one_mib_is_one_version_all_or_nothing(webhook):
    """A plan of 5,000 endpoints is a request to gtmd of more than 1 MiB
    (the admin API's old fixed limit: 413, nothing applied): it is taken as
    one version, every name served; a plan as large with one name gtmd
    refuses (example.net: in the filter, in no zone of gtmd's) changes
    nothing at all."""
    g, a, port = webhook
    v = a.get("/v1/config").json["version"]
    st, body, _ = call(port, "GET", "/records")  # as ExternalDNS does before a plan
    assert st == 200 and body == [], body
    st, body, _ = call(port, "POST", "/records", plan_of(5000))
    assert st == 204, body
    assert changes_bytes(g)[-1] > 1024 * 1024, changes_bytes(g)
    assert a.get("/v1/config").json["version"] == v + 1
    for k in (0, 1, 2500, 4998, 4999):
        assert served(g, "big%d.example.com." % k, want_of("big", k)), k
    st, body, _ = call(port, "GET", "/records")
    assert st == 200 and len(body) == 5000, len(body)
    # All or nothing: 5,000 more names and one gtmd refuses.
    bad = plan_of(5000, "more")
    bad["Create"].append({"dnsName": "x.example.net", "recordType": "A",
                          "targets": ["192.0.2.1"]})
    st, _, _ = call(port, "POST", "/records", bad)
    assert st == 500
    assert a.get("/v1/config").json["version"] == v + 1
    for k in (0, 4999):
        assert query_addrs(g, "more%d.example.com." % k) == [], k
    assert query_addrs(g, "big4999.example.com.") == want_of("big", 4999)
    # The provider's copy was dropped with the refusal: the next plan is
    # made on what gtmd has and applies.
    st, _, _ = call(port, "POST", "/records", plan_of(10, "more"))
    assert st == 204
    assert served(g, "more9.example.com.", want_of("more", 9))
    assert a.get("/v1/config").json["version"] == v + 2


def small_body(c, workdir):
    history(c, workdir)
    c["admin"]["max_body"] = 65536


def test_body_over_admin_max_body_is_413_and_nothing_applied(make_gtmd):
    """admin.max_body 65536: a change request above it is 413 with a JSON
    error naming the limit, before anything is applied (directly, and as
    gtmctl's plan of 1,000 endpoints, which ExternalDNS gets as a 500); a
    plan under it applies."""
    g, a = start(make_gtmd, mutate=small_body)
    p, port, path = run_webhook(g, a)
    try:
        v = a.get("/v1/config").json["version"]
        changes = [{"op": "put", "path": "records/r%d.example.com." % k,
                    "value": {"pool": "web", "policy": "all"}} for k in range(1000)]
        raw = json.dumps({"changes": changes, "change": "too big"})
        assert len(raw) > 65536
        r = a.call("POST", "/v1/config/changes", raw=raw.encode(), timeout=10)
        assert r.status == 413 and r.json["error"]["code"] == "too_large", r
        assert "admin.max_body (65536 bytes)" in r.json["error"]["message"], r.json
        assert a.get("/v1/config").json["version"] == v
        assert query_addrs(g, "r0.example.com.") == []
        st, _, _ = call(port, "POST", "/records", plan_of(1000))
        assert st == 500
        assert a.get("/v1/config").json["version"] == v
        for k in (0, 999):
            assert query_addrs(g, "big%d.example.com." % k) == [], k
        st, _, _ = call(port, "POST", "/records", plan_of(20))
        assert st == 204
        assert served(g, "big19.example.com.", want_of("big", 19))
        assert a.get("/v1/config").json["version"] == v + 1
    finally:
        stop_webhook(p, path)


def test_plan_on_a_configuration_changed_meanwhile(webhook):
    """The provider keeps what GET /records read and sends its plan with
    If-Match on that version: a record made by hand in between (another
    client of the API) is seen (412, read again), so ExternalDNS's Create
    of that name is refused and the rest of the plan applied."""
    g, a, port = webhook
    st, body, _ = call(port, "GET", "/records")
    assert st == 200
    r = a.call("PUT", "/v1/config/records/late.example.com.",
               {"pool": "web", "policy": "failover", "regions": ["us", "eu", "ap"]})
    assert r.status == 201, r
    v = a.get("/v1/config").json["version"]
    st, body, _ = call(port, "POST", "/records", {"Create": [
        {"dnsName": "late.example.com", "recordType": "A", "targets": ["203.0.113.70"]},
        {"dnsName": "fine.example.com", "recordType": "A", "targets": ["192.0.2.71"]}]})
    assert st == 500 and b"late.example.com" in body and b"not ExternalDNS's" in body, body
    assert served(g, "fine.example.com.", ["192.0.2.71"])
    assert query_addrs(g, "late.example.com.") == US_A
    assert a.get("/v1/config").json["version"] == v + 1
    from adminlib import audit_lines
    sent = [x["status"] for x in audit_lines(g) if x["path"].startswith("/v1/config/changes")]
    assert sent[-2:] == [412, 201], sent  # the stale plan was refused, not applied
    # The copy follows its own changes: the next plan needs no new read
    # and sees fine.example.com as ExternalDNS's.
    st, _, _ = call(port, "POST", "/records", {"Delete": [
        {"dnsName": "fine.example.com", "recordType": "A", "targets": ["192.0.2.71"]}]})
    assert st == 204
    assert poll(lambda: g.query("fine.example.com.").rcode() == 3, 5.0)[0]
    assert a.get("/v1/config").json["version"] == v + 2

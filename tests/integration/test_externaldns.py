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


@pytest.fixture
def webhook(make_gtmd):
    g, a = start(make_gtmd, mutate=history)
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("GTMCTL_")}
    env.update({"GTMCTL_SERVER": a.url, "GTMCTL_TOKEN": OPERATE_TOKEN})
    log = open(os.path.join(g.workdir, "externaldns.log"), "wb")
    p = subprocess.Popen([GTMCTL, "externaldns", "--listen", "127.0.0.1:%d" % port,
                          "--domain", "example.com", "--domain", "example.net."], env=env,
                         stdout=log, stderr=log)
    ok, _ = poll(lambda: call(port, "GET", "/healthz")[0] == 200, 10.0)
    assert ok, open(log.name).read()
    yield g, a, port
    stop_process(p)
    log.close()
    # gtmctl of a sanitizer build reports into its log (at exit, leaks).
    with open(log.name, errors="replace") as f:
        text = f.read()
    assert p.returncode == 0, text
    for mark in ("ERROR: AddressSanitizer", "ERROR: LeakSanitizer", ": runtime error: "):
        assert mark not in text, text


def call(port, method, path, body=None):
    try:
        c = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        h = {"Accept": MEDIA}
        if body is not None:
            h["Content-Type"] = MEDIA
        c.request(method, path, body=json.dumps(body) if body is not None else None, headers=h)
        r = c.getresponse()
        data = r.read()
        ctype = r.getheader("Content-Type")
        c.close()
    except OSError:
        return 0, None, None
    return r.status, json.loads(data) if data else None, ctype


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
    assert call(port, "POST", "/records", None)[0] == 400
    assert call(port, "GET", "/nope")[0] == 404

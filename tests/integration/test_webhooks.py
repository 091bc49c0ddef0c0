"""Outgoing notifications ("notify": {"webhooks": [...]}): gtmd posts state
changes, overrides, drills and verdicts to webhooks in three formats, with
retries, timeouts and a bounded queue. The receivers are real HTTP (and
HTTPS) servers the test runs on loopback; they can fail the first N posts,
answer slowly, or be down."""
import http.server
import json
import os
import ssl
import subprocess
import threading
import time

import pytest

from adminlib import Admin, admin_port, admin_section, policy_sections
from backends import poll
from conftest import default_config, free_port


def until(fn, timeout):
    """The first true value of fn within timeout seconds, else None."""
    return poll(fn, timeout)[0]


class Receiver:
    """A webhook receiver on 127.0.0.1: records every POST (path, headers,
    JSON body); fails the first `fail` posts with 500; sleeps `delay` s
    before answering."""

    def __init__(self, fail=0, delay=0.0, tls=None):
        self.posts = []
        self.attempts = 0
        self.fail = fail
        self.delay = delay
        self.lock = threading.Lock()
        rec = self

        class H(http.server.BaseHTTPRequestHandler):
            def do_POST(self):
                n = int(self.headers.get("Content-Length", "0"))
                body = self.rfile.read(n)
                with rec.lock:
                    rec.attempts += 1
                    failing = rec.attempts <= rec.fail
                if rec.delay:
                    time.sleep(rec.delay)
                if not failing:
                    with rec.lock:
                        rec.posts.append((self.path, dict(self.headers), json.loads(body)))
                self.send_response(500 if failing else 200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *a):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), H)
        self.server.daemon_threads = True
        if tls:
            ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            ctx.load_cert_chain(*tls)
            self.server.socket = ctx.wrap_socket(self.server.socket, server_side=True)
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def url(self, path="/hook", scheme="http"):
        return "%s://127.0.0.1:%d%s" % (scheme, self.port, path)

    def bodies(self):
        with self.lock:
            return [b for _, _, b in self.posts]

    def stop(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receivers():
    made = []

    def make(**kw):
        r = Receiver(**kw)
        made.append(r)
        return r
    yield make
    for r in made:
        r.stop()


def start(make_gtmd, hooks, queue=None):
    def fn(workdir, port):
        c = default_config(workdir, port)
        c.update(policy_sections())
        c["admin"] = admin_section(workdir, admin_port(port))
        c["notify"] = {"webhooks": hooks}
        if queue:
            c["notify"]["queue"] = queue
        return c
    g = make_gtmd(fn)
    return g, Admin.of(g).wait_ready()


def notify_status(a):
    return a.get("/v1/status").json["notify"]["webhooks"]


def test_formats(make_gtmd, receivers):
    js, sl, am = receivers(), receivers(), receivers()
    g, a = start(make_gtmd, [
        {"url": js.url("/json?x=1"), "format": "json",
         "events": ["state", "override", "verdict", "drill", "health"]},
        {"url": sl.url("/services/T0/B0/secret"), "format": "slack"},
        {"url": am.url("/api/v2/alerts-like"), "format": "alertmanager",
         "events": ["state", "override"]}])
    assert a.override("region:us", "down", reason="maintenance CHG-1").status == 201
    assert until(lambda: any(b["event"]["type"] == "state" and b["event"]["target"] == "region:us"
                            for b in js.bodies()), timeout=10.0), js.bodies()
    evs = [b["event"] for b in js.bodies()]
    assert any(e["type"] == "override" and e["action"] == "added" for e in evs), evs
    st = [e for e in evs if e["type"] == "state"]
    assert {"endpoint:web/us1", "az:us-1a", "region:us"} <= {e["target"] for e in st}, st
    reg = [e for e in st if e["target"] == "region:us" and e["pool"] == "web"][0]
    assert reg["from"] == "up" and reg["to"] == "down", reg
    assert js.posts[0][0] == "/json?x=1" and js.posts[0][1]["Content-Type"] == \
        "application/json"
    # Slack: {"text": ...} only.
    assert until(lambda: any("region:us (pool web) is down (was up)" in b["text"]
                            for b in sl.bodies()), timeout=10.0), sl.bodies()
    assert all(set(b) == {"text"} for b in sl.bodies())
    assert any("override ovr-1 added: region:us down: maintenance CHG-1" in b["text"]
               for b in sl.bodies()), sl.bodies()
    # Alertmanager v4: every field of the payload, firing while down.
    def target_down(b):
        return b["commonLabels"].get("gtm_target") == "region:us" and \
            b["commonLabels"]["alertname"] == "GtmdTargetDown"
    assert until(lambda: any(target_down(b) for b in am.bodies()), timeout=10.0), am.bodies()
    for b in am.bodies():
        assert b["version"] == "4" and b["receiver"] == "gtmd" and len(b["alerts"]) == 1
        assert set(b) >= {"groupKey", "status", "groupLabels", "commonLabels",
                          "commonAnnotations", "externalURL", "alerts", "truncatedAlerts"}
        al = b["alerts"][0]
        assert set(al) == {"status", "labels", "annotations", "startsAt", "endsAt",
                           "generatorURL", "fingerprint"}, al
    down = [b for b in am.bodies() if target_down(b)][0]
    assert down["status"] == "firing" and down["alerts"][0]["labels"]["gtm_pool"] == "web", down
    # Clearing the override resolves it, with the same fingerprint.
    a.clear_overrides()
    assert until(lambda: any(b["status"] == "resolved" and target_down(b)
                            for b in am.bodies()), timeout=10.0), am.bodies()
    res = [b for b in am.bodies() if b["status"] == "resolved" and target_down(b)][0]
    assert res["alerts"][0]["fingerprint"] == down["alerts"][0]["fingerprint"]
    s = notify_status(a)
    assert [x["format"] for x in s] == ["json", "slack", "alertmanager"], s
    assert "secret" not in json.dumps(s) and s[1]["webhook"].endswith("/..."), s
    assert all(x["sent"] >= 1 and x["failed"] == 0 and x["dropped"] == 0 for x in s), s
    m = a.get("/metrics").body.decode()
    assert 'gtmd_webhook_sent_total{webhook="0",target="http://127.0.0.1:%d/..."}' % js.port in m


def test_retries_and_bearer(make_gtmd, receivers, tmp_path):
    r = receivers(fail=3)
    tf = tmp_path / "wh.token"
    tf.write_text("webhook-secret-0123456789\n")
    os.chmod(tf, 0o600)
    g, a = start(make_gtmd, [{"url": r.url(), "format": "json", "events": ["override"],
                              "retries": 5, "backoff": 0.2, "max_backoff": 1,
                              "token_file": str(tf)}])
    assert a.override("region:ap", "down", reason="x", force=True).status == 201
    assert until(lambda: len(r.posts) == 1, timeout=15.0), (r.attempts, notify_status(a))
    # The receiver records the post before its 200 reaches gtmd: wait for gtmd to count it.
    assert until(lambda: notify_status(a)[0]["sent"] == 1, timeout=10.0), notify_status(a)
    s = notify_status(a)[0]
    assert r.attempts == 4 and s["retries"] == 3 and s["sent"] == 1 and s["failed"] == 0, s
    assert s["last_status"] == 200 and s["last_error"] == "", s
    assert r.posts[0][1]["Authorization"] == "Bearer webhook-secret-0123456789"


def test_timeout_gives_up(make_gtmd, receivers):
    r = receivers(delay=2.0)
    g, a = start(make_gtmd, [{"url": r.url(), "format": "slack", "events": ["override"],
                              "timeout": 0.3, "retries": 1, "backoff": 0.1}])
    t0 = time.monotonic()
    assert a.override("region:ap", "down", reason="x", force=True).status == 201
    assert until(lambda: notify_status(a)[0]["failed"] == 1, timeout=15.0), notify_status(a)
    elapsed = time.monotonic() - t0
    s = notify_status(a)[0]
    assert s["retries"] == 1 and s["sent"] == 0 and s["last_error"] == "timeout", s
    # Two attempts of 0.3 s and a pause of 0.1 s: far below the receiver's 2 s each.
    assert elapsed < 3.5, elapsed
    # Admin answers meanwhile: the posts are on the notifier's thread.
    assert a.get("/v1/health", token=None, timeout=1.0).status == 200


def test_bounded_queue_when_down(make_gtmd, receivers):
    port = free_port()  # nobody listens there
    g, a = start(make_gtmd, [{"url": "http://127.0.0.1:%d/x" % port, "format": "json",
                              "events": ["override"], "retries": 100, "backoff": 30}],
                 queue=3)
    for i in range(8):
        assert a.override("region:ap", "down", reason="n%d" % i, force=True).status == 201
    assert until(lambda: notify_status(a)[0]["dropped"] >= 5, timeout=10.0), notify_status(a)
    s = notify_status(a)[0]
    assert s["queued"] == 3 and s["sent"] == 0 and "no reply" in s["last_error"], s
    m = a.get("/metrics").body.decode()
    assert 'gtmd_webhook_queue_length{webhook="0",target="http://127.0.0.1:%d/..."} 3' % port in m
    assert 'gtmd_webhook_dropped_total{webhook="0"' in m
    # A receiver coming up is not waited for past the backoff: the queue stays bounded.
    assert s["retries"] >= 1


def test_https_with_ca_file(make_gtmd, receivers, tmp_path):
    # The address must be in the certificate as an IP SAN (a CN is not
    # looked at for an address), as for etcd.
    cert, key = str(tmp_path / "wh.pem"), str(tmp_path / "wh.key")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-subj",
                    "/CN=webhook", "-addext", "subjectAltName=IP:127.0.0.1", "-days", "1",
                    "-keyout", key, "-out", cert], check=True, capture_output=True, timeout=30)
    r = receivers(tls=(cert, key))
    g, a = start(make_gtmd, [{"url": r.url(scheme="https"), "format": "json",
                              "events": ["verdict"], "ca_file": cert},
                             {"url": r.url("/untrusted", scheme="https"), "format": "json",
                              "events": ["verdict"], "retries": 0}])
    # us, not eu: eu down would leave fo2's AAAA unserved, which the
    # safety rule refuses (test_verdicts.py); any verdict makes the event.
    body = {"source": "t", "target": {"region": "us"}, "state": "down", "expires_in": 30}
    assert a.post("/v1/verdicts", body).status == 201
    assert until(lambda: any(p == "/hook" for p, _, _ in r.posts), timeout=10.0), \
        notify_status(a)
    assert r.bodies()[0]["event"]["type"] == "verdict"
    # Without the CA the certificate is not trusted: never delivered.
    assert until(lambda: notify_status(a)[1]["failed"] == 1, timeout=10.0), notify_status(a)
    assert not any(p == "/untrusted" for p, _, _ in r.posts)


def test_config_errors(tmp_path):
    from conftest import GTMD
    c = default_config(str(tmp_path), 5300)
    c["notify"] = {"webhooks": [{"url": "ftp://x", "format": "xml", "events": ["nope"],
                                 "retries": -1}], "queue": 0}
    path = tmp_path / "c.json"
    path.write_text(json.dumps(c))
    p = subprocess.run([GTMD, "check", "-c", str(path)], capture_output=True, text=True,
                       timeout=20)
    out = p.stdout + p.stderr
    assert p.returncode != 0
    for msg in ["$.notify.queue: must be an integer from 1 to 100000",
                "$.notify.webhooks[0].url: must be an http:// or https:// URL",
                "$.notify.webhooks[0].format: must be \"json\", \"slack\" or \"alertmanager\"",
                "$.notify.webhooks[0].events[0]: must be \"state\"",
                "$.notify.webhooks[0].retries: must be an integer from 0 to 100"]:
        assert msg in out, (msg, out)


def test_reload_replaces_webhooks(make_gtmd, receivers):
    old, new = receivers(), receivers()
    g, a = start(make_gtmd, [{"url": old.url(), "events": ["override"]}])
    assert a.override("region:ap", "down", reason="one", force=True).status == 201
    assert until(lambda: len(old.posts) == 1, timeout=10.0), notify_status(a)
    g.config["notify"] = {"webhooks": [{"url": new.url("/new"), "format": "slack",
                                        "events": ["override"]}]}
    g.write_config()
    assert a.post("/v1/reload").status == 200
    assert until(lambda: notify_status(a)[0]["format"] == "slack", timeout=10.0)
    assert a.override("region:ap", "down", reason="two", force=True).status == 201
    assert until(lambda: any("two" in b["text"] for b in new.bodies()), timeout=10.0), \
        notify_status(a)
    assert len(old.posts) == 1

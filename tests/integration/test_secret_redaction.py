"""Probe secrets never reach a read token (issue #37, finding 2), with the
real gtmd: after a PUT of a check whose headers hold credentials, a batch
(POST /v1/config/changes) holding more, one large enough that the audit
line keeps only an excerpt, and a rollback, every read endpoint is paged
with the read token and the secrets are found nowhere, nor in the audit
log file on disk. The audit lines still prove the bodies: their
request_sha256 is the digest of the bytes sent.

On the old code this failed: the first page of GET /v1/audit with the
read token held the batch's body whole, "X-Api-Key":
"probe-secret-batch-..." included (the audit file held every secret)."""
import hashlib
import json
import socket
import time

from adminlib import OPERATE_TOKEN, READ_TOKEN, audit_lines, start

SECRETS = ["probe-secret-put-6f1d2c", "probe-secret-batch-9a7e41", "probe-secret-big-33c0d8"]


def history_dir(c, workdir):
    c["config_api"] = {"history_dir": "history", "keep": 10}


def check(secret_header, secret):
    return {"type": "http", "port": 9, "path": "/", "interval": 1, "timeout": 0.5,
            "headers": {secret_header: secret, "X-Plain": "not-a-secret"}}


def send(a, method, path, body):
    """Sends body as these exact bytes; returns (response, the bytes)."""
    raw = json.dumps(body).encode()
    return a.call(method, path, raw=raw, timeout=10), raw


def events_backlog(a, timeout=1.5):
    """The event stream from its first kept event, read for timeout s."""
    s = socket.create_connection(("127.0.0.1", a.port), timeout=timeout)
    out = b""
    try:
        s.sendall(("GET /v1/events HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer %s\r\n"
                   "Last-Event-ID: 0\r\n\r\n" % READ_TOKEN).encode())
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and len(out) < 4 << 20:
            try:
                d = s.recv(65536)
            except socket.timeout:
                break
            if not d:
                break
            out += d
    finally:
        s.close()
    assert out.startswith(b"HTTP/1.1 200"), out[:200]
    return out


def audit_pages(a):
    """Every kept audit line, page after page (a bounded number of pages)."""
    bodies, before = [], None
    for _ in range(50):
        r = a.get("/v1/audit?limit=5" + ("&before=%d" % before if before else ""),
                  token=READ_TOKEN)
        assert r.status == 200, r
        bodies.append(r.body)
        before = r.json["next_before"]
        if before is None:
            return bodies
    raise AssertionError("more than 50 pages of audit lines")


def read_views(a):
    """(path, body) of every read endpoint, paged, with the read token."""
    paths = ["/v1/status", "/v1/explain?name=sec.example.com.&type=A", "/metrics",
             "/v1/overrides", "/v1/drills", "/v1/verdicts", "/v1/whoami", "/v1/history",
             "/v1/config", "/v1/config/records", "/v1/config/pools", "/v1/config/checks",
             "/v1/config/regions", "/v1/config/history", "/ui/"]
    paths += ["/v1/config/checks/" + n for n in ("sec-put", "sec-batch", "sec-big")]
    versions = a.get("/v1/config/history", token=READ_TOKEN).json["versions"]
    assert len(versions) >= 4, versions
    paths += ["/v1/config/history/%d" % v["version"] for v in versions]
    out = []
    for p in paths:
        r = a.get(p, token=READ_TOKEN)
        assert r.status == 200, (p, r)
        out.append((p, r.body))
    out += [("/v1/audit (page %d)" % i, b) for i, b in enumerate(audit_pages(a))]
    out.append(("/v1/events", events_backlog(a)))
    return out


def test_read_token_sees_no_probe_secret(make_gtmd):
    g, a = start(make_gtmd, mutate=history_dir)
    # A PUT of a check with a credential, a pool and a record using it.
    r, put_raw = send(a, "PUT", "/v1/config/checks/sec-put", check("Authorization",
                                                                   "Bearer " + SECRETS[0]))
    assert r.status == 201, r.json
    v_put = r.json["version"]
    # A batch: another check with a secret, a pool and a record on it.
    batch = {"changes": [
        {"op": "put", "path": "checks/sec-batch", "value": check("X-Api-Key", SECRETS[1])},
        {"op": "put", "path": "pools/sec", "value": {
            "check": "sec-put", "endpoints": [{"name": "s1", "address": "192.0.2.77",
                                               "region": "us"}]}},
        {"op": "put", "path": "records/sec.example.com.", "value": {
            "pool": "sec", "policy": "failover", "regions": ["us"]}}],
        "change": "checks with secrets"}
    r, batch_raw = send(a, "POST", "/v1/config/changes", batch)
    assert r.status == 201, r.json
    # A batch over 2048 bytes, its secret in the first bytes: the audit line
    # keeps an excerpt of it, not the body.
    big = {"changes": [{"op": "put", "path": "checks/sec-big",
                        "value": check("Authorization", "Bearer " + SECRETS[2])}]}
    big["changes"] += [{"op": "put", "path": "regions/pad%02d" % i, "value": {}}
                       for i in range(60)]
    r, big_raw = send(a, "POST", "/v1/config/changes", big)
    assert r.status == 201 and len(big_raw) > 2048, (r.json, len(big_raw))
    # A rollback to the version that held the first secret only.
    r, rb_raw = send(a, "POST", "/v1/config/rollback", {"version": v_put})
    assert r.status == 201, r.json
    # All back, and there for the operate token (the search is not vacuous).
    for body in (batch, big):
        r, _ = send(a, "POST", "/v1/config/changes", body)
        assert r.status == 201, r.json
    full = a.get("/v1/config").body.decode()
    assert all(s in full for s in SECRETS), full[:400]

    for path, body in read_views(a):
        for s in SECRETS:
            assert s.encode() not in body, "%s shows %s to the read token: %s" % (
                path, s, body[max(0, body.find(s.encode()) - 300):][:600])
    with open(g.workdir + "/audit.log", "rb") as f:
        on_disk = f.read()
    assert all(s.encode() not in on_disk for s in SECRETS), on_disk[-2000:]

    # The lines still prove the bodies: the digest of the bytes sent, and
    # how many values were redacted; what is not a secret is shown.
    lines = audit_lines(g)
    by_digest = {x.get("request_sha256"): x for x in lines}
    put = by_digest[hashlib.sha256(put_raw).hexdigest()]
    assert put["request_redacted"] == 2 and put["request"]["port"] == 9, put
    assert put["request"]["headers"]["Authorization"].startswith("(redacted"), put
    b = by_digest[hashlib.sha256(batch_raw).hexdigest()]
    assert b["request_redacted"] == 2 and b["request"]["change"] == "checks with secrets", b
    assert b["request"]["changes"][1]["value"]["endpoints"][0]["address"] == "192.0.2.77", b
    bg = by_digest[hashlib.sha256(big_raw).hexdigest()]
    assert bg["request"] is None and bg["request_bytes"] == len(big_raw), bg
    assert "sec-big" in bg["request_excerpt"] and "(redacted" in bg["request_excerpt"], bg
    rb = by_digest[hashlib.sha256(rb_raw).hexdigest()]
    assert rb["request"] == {"version": v_put} and "request_redacted" not in rb, rb
    # The same lines through the API.
    api = a.get("/v1/audit?limit=1000", token=READ_TOKEN).json["entries"]
    assert put in api and b in api and bg in api, [x.get("path") for x in api]

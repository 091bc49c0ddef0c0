"""The console's odd paths and error replies against the real binary:
every reply under /ui (errors too, including the ones gtmd or libevent
write before routing: an unknown method, a %00 in the path, a request
line that is too long) carries the Content-Security-Policy and nosniff
headers, and only the compiled assets are ever served (no traversal)."""
import socket

from adminlib import OPERATE_TOKEN, READ_TOKEN, start

INDEX_MARK = b'<script type="module" src="app.js">'


def raw(a, data, timeout=5.0):
    """Sends raw bytes to the admin listener; returns (status, headers
    dict with lower-case names, body). Bounded by timeout."""
    s = socket.create_connection(("127.0.0.1", a.port), timeout=timeout)
    try:
        s.sendall(data)
        buf = b""
        for _ in range(1000):
            try:
                chunk = s.recv(65536)
            except socket.timeout:
                break
            if not chunk:
                break
            buf += chunk
    finally:
        s.close()
    head, _, body = buf.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split()[1]) if lines and len(lines[0].split()) > 1 else 0
    headers = {}
    for ln in lines[1:]:
        k, _, v = ln.partition(":")
        headers[k.strip().lower()] = v.strip()
    return status, headers, body


def assert_safe(status, headers, what):
    assert "content-security-policy" in headers, (what, status, headers)
    assert "frame-ancestors 'none'" in headers["content-security-policy"], (what, headers)
    assert headers.get("x-content-type-options") == "nosniff", (what, status, headers)


def test_ui_error_replies_carry_csp(make_gtmd):
    g, a = start(make_gtmd)
    for method in ("HEAD", "OPTIONS", "PUT", "PATCH", "BREW"):
        st, h, _ = raw(a, b"%s /ui/ HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
                       % method.encode())
        assert st in (405, 501), (method, st)
        assert_safe(st, h, method)
    for path in (b"/ui/%00", b"/ui/app.js%00.html", b"/ui/%zz", b"/ui/" + b"A" * 70000):
        st, h, body = raw(a, b"GET %s HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n" % path)
        assert st >= 400, (path[:40], st)
        assert_safe(st, h, path[:40])
        assert INDEX_MARK not in body
    st, h, _ = raw(a, b"POST /ui/ HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer %s\r\n"
                   b"Content-Length: 2\r\nConnection: close\r\n\r\n{}" % OPERATE_TOKEN.encode())
    assert st == 405
    assert_safe(st, h, "POST")


def test_ui_paths_serve_only_assets(make_gtmd):
    g, a = start(make_gtmd)
    for path in ("/ui/../v1/status", "/ui/%2e%2e/v1/status", "/ui/%2E%2E%2Fv1%2Fstatus",
                 "/ui//index.html", "/ui/./index.html", "/ui/..%2f..%2fetc%2fpasswd",
                 "/ui/index.html/", "/ui/INDEX.HTML", "/ui/%2findex.html", "/ui/index.html%20",
                 "/ui/ui/index.html"):
        r = a.get(path, token=None)
        assert r.status == 404, (path, r.status, r.body[:80])
        assert b"services" not in r.body and INDEX_MARK not in r.body, path
        assert "content-security-policy" in r.headers, path
    # The traversal is not given the data even with a token.
    r = a.get("/ui/%2e%2e/v1/status")
    assert r.status == 404, r
    ok = a.get("/ui/app.js", token=None)
    assert ok.status == 200 and ok.headers["cache-control"] == "no-cache"
    assert "content-security-policy" in ok.headers


def test_read_token_cannot_operate(make_gtmd):
    """What the console's buttons call, with the read token: refused by
    the server (the page only greys them out)."""
    g, a = start(make_gtmd)
    calls = [("POST", "/v1/overrides", {"target": "web/us1", "state": "down", "reason": "x"}),
             ("DELETE", "/v1/overrides/1", None), ("POST", "/v1/reload", {}),
             ("POST", "/v1/drills", {"regions": ["us"], "duration": 5}),
             ("DELETE", "/v1/drills/1", None)]
    for method, path, body in calls:
        r = a.call(method, path, body=body, token=READ_TOKEN)
        assert r.status == 403 and r.code == "forbidden", (method, path, r)
        assert "content-security-policy" in r.headers
    assert a.overrides() == []

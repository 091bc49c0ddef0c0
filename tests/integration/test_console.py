"""The operator console (GET /ui/) against the real binary and real
backends: the page's files and headers (CSP and friends). Every wait is
bounded."""
from adminlib import OPERATE_TOKEN, READ_TOKEN, Admin, admin_port, admin_section
from backends import answer_addrs, backends, free_port_on, poll  # noqa: F401
from conftest import default_config

XSS = "<img src=x onerror=window.__xss=1>"
US1, US2, EU1 = "127.0.0.11", "127.0.0.12", "127.0.0.21"
CSP_PARTS = ["default-src 'self'", "script-src 'self'", "style-src 'self'",
             "frame-ancestors 'none'"]


def console_config(port_be):
    def fn(workdir, port):
        c = default_config(workdir, port)
        c["regions"] = {"us": {}, "eu": {}}
        c["checks"] = {"web": {"type": "http", "port": port_be, "interval": 0.25,
                               "timeout": 0.2, "rise": 2, "fall": 2}}
        c["pools"] = {"web": {"check": "web", "endpoints": [
            {"name": "us1", "address": US1, "region": "us", "az": "us-1a"},
            {"name": XSS, "address": US2, "region": "us", "az": "us-1b"},
            {"name": "eu1", "address": EU1, "region": "eu"}]}}
        c["records"] = {
            "fo.example.com.": {"pool": "web", "policy": "failover", "regions": ["us", "eu"],
                                "ttl": 5},
            "euonly.example.com.": {"pool": "web", "policy": "failover", "regions": ["eu"]},
        }
        c["admin"] = admin_section(workdir, admin_port(port))
        return c
    return fn


def start_console(make_gtmd, backends):
    port = free_port_on([US1, US2, EU1])
    bs = backends.start_all([backends.http(a, port, start=False) for a in (US1, US2, EU1)])
    g = make_gtmd(console_config(port))
    a = Admin.of(g)
    a.wait_ready()
    ok, _ = poll(lambda: sorted(answer_addrs(g.query("fo.example.com."))) == [US1, US2], 5.0)
    assert ok, "the us endpoints never came up"
    return g, a, dict(zip((US1, US2, EU1), bs))


def test_ui_assets_and_headers(make_gtmd, backends):
    g, a, _ = start_console(make_gtmd, backends)
    r = a.get("/ui/", token=None)
    assert r.status == 200, r
    assert r.headers["content-type"].startswith("text/html")
    csp = r.headers["content-security-policy"]
    for part in CSP_PARTS:
        assert part in csp, csp
    assert "unsafe-inline" not in csp and "unsafe-eval" not in csp
    assert r.headers["x-content-type-options"] == "nosniff"
    assert r.headers["referrer-policy"] == "no-referrer"
    assert r.headers["cache-control"] == "no-cache"
    assert b'<script type="module" src="app.js">' in r.body
    assert b"<script>" not in r.body and b"style=" not in r.body
    assert a.get("/ui/index.html", token=None).body == r.body
    js = a.get("/ui/app.js", token=None)
    assert js.status == 200 and js.headers["content-type"].startswith("text/javascript")
    assert b"innerHTML" not in js.body
    assert a.get("/ui/app.css", token=None).headers["content-type"].startswith("text/css")
    missing = a.get("/ui/nope.js", token=None)
    assert missing.status == 404 and missing.code == "not_found"
    assert "content-security-policy" in missing.headers
    moved = a.get("/ui", token=None)
    assert moved.status == 301 and moved.headers["location"] == "/ui/"
    assert a.post("/ui/", {}, token=OPERATE_TOKEN).status == 405
    # The data is not public: the API still wants the token.
    assert a.get("/v1/status", token=None).status == 401
    who = a.get("/v1/whoami", token=READ_TOKEN)
    assert who.status == 200 and who.json == {"token": "read", "operate": False}
    assert a.get("/v1/whoami").json == {"token": "operate", "operate": True}
    assert a.get("/v1/whoami", token=None).status == 401

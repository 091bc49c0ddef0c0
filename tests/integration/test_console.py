"""The operator console (GET /ui/) against the real binary and real
backends: the page's headers (CSP and friends) without a browser, then in
Debian's headless chromium (uilib.py): sign in, the regions, a killed
backend turning down without a reload, an override created through the
form changing the DNS answer, the 409 safety message, a read-only token
that cannot create, an endpoint named like markup shown as text, and a
drill's timeline chart; then, at 1400 px, every page in plain words and
within the window, empty tables that say so, sample clients taken from
the configuration and a deep link that lands on its view. Every wait is
bounded."""
import os
import re
import shutil
import time

from adminlib import OPERATE_TOKEN, READ_TOKEN, Admin, admin_port, admin_section
from backends import answer_addrs, backends, free_port_on, poll  # noqa: F401
from conftest import DATA, default_config
from uilib import browser  # noqa: F401

XSS = "<img src=x onerror=window.__xss=1>"
US1, US2, EU1 = "127.0.0.11", "127.0.0.12", "127.0.0.21"
CSP_PARTS = ["default-src 'self'", "script-src 'self'", "style-src 'self'",
             "frame-ancestors 'none'"]


def console_config(port_be):
    def fn(workdir, port):
        c = default_config(workdir, port)
        c["regions"] = {"us": {}, "eu": {}}
        # Fall 3: the live test reads single answers that need us2 and eu1
        # to stay up for its whole run; with fall 2, two slow probes on a
        # loaded machine (sanitizer builds, 2 cores, chromium) could flip one.
        c["checks"] = {"web": {"type": "http", "port": port_be, "interval": 0.25,
                               "timeout": 0.2, "rise": 2, "fall": 3}}
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


def sign_in(b, a, token):
    b.call("goto", url=a.url + "/ui/")
    b.call("wait", sel="#signin-form")
    b.call("fill", sel="#token", value=token)
    b.call("click", sel="#signin-form button")
    b.call("wait", sel=".region[data-region=eu]")


def ep_row(name):
    return 'tr[data-endpoint="web/%s"]' % name.replace("\\", "\\\\").replace('"', '\\"')


def test_console_live(make_gtmd, backends, browser):
    g, a, bs = start_console(make_gtmd, backends)
    b = browser
    res = b.call("goto", url=a.url + "/ui/")
    assert "default-src 'self'" in res["headers"]["content-security-policy"]
    # A wrong token is refused plainly.
    b.call("wait", sel="#signin-form")
    b.call("fill", sel="#token", value="not-the-token-0123456789")
    b.call("click", sel="#signin-form button")
    b.call("waitfn", js="document.getElementById('signin-error').textContent.includes('not accepted')")
    sign_in(b, a, OPERATE_TOKEN)
    assert b.call("count", sel=".region") == 2
    assert b.call("text", sel="#who") == "token: operate"
    b.call("waitfn", js="document.getElementById('live').textContent === 'live'")
    # The endpoint named like markup is text: no element was made of it.
    assert b.call("text", sel=ep_row(XSS) + " td.name") == XSS
    assert b.call("count", sel="main img") == 0
    assert b.call("eval", js="window.__xss === undefined")
    assert b.call("attr", sel=ep_row("us1"), name="data-effective") == "up"

    # A backend dies: its row turns down without a reload, pushed by the
    # event stream. gtmd's verdict takes up to fall x interval = 0.75 s;
    # the bound is wide (8 s, under the page's own 10 s refresh) so that a
    # loaded 2-core machine with an ASan gtmd and chromium holds it.
    b.call("eval", js="window.__same_page = 1")
    bs[US1].kill()
    b.call("wait", sel=ep_row("us1") + "[data-effective=down]", timeout=8000)
    assert b.call("eval", js="window.__same_page === 1"), "the page was reloaded"
    # Logged just after the state is published (the page may show it first).
    ok, _ = poll(lambda: re.search(r"event=health_change endpoint=endpoint:web/us1 from=up "
                                   r"to=down", g.read_log()), 5, 0.05)
    assert ok, g.read_log()[-2000:]
    text = b.call("text", sel=ep_row("us1") + " td.probe")
    assert text.startswith("down"), text

    # The screenshot of the overview for doc/console.png.
    shot = os.path.join(g.workdir, "console.png")
    b.call("screenshot", path=shot)
    assert os.path.getsize(shot) > 10000
    if os.environ.get("GTM_CONSOLE_SCREENSHOT"):
        shutil.copy(shot, os.environ["GTM_CONSOLE_SCREENSHOT"])

    # An override through the form: the dry run's changes first, then the
    # DNS answer changes once it is confirmed.
    b.call("click", sel="#nav a[data-view=overrides]")
    b.call("waitfn", js="document.querySelectorAll('#ov-target option').length > 3")
    b.call("select", sel="#ov-target", value="region:us")
    b.call("fill", sel="#ov-reason", value="console test CHG-1")
    b.call("click", sel="#ov-preview")
    b.call("wait", sel="#ov-changes")
    changes = b.call("text", sel="#ov-changes")
    assert "fo.example.com." in changes and "eu" in changes, changes
    assert answer_addrs(g.query("fo.example.com.")) == [US2], "a preview changed something"
    b.call("click", sel="#ov-confirm")
    b.call("wait", sel="#ov-created")
    assert answer_addrs(g.query("fo.example.com.")) == [EU1]
    ovs = a.get("/v1/overrides").json["overrides"]
    assert [(o["target"], o["reason"]) for o in ovs] == [("region:us", "console test CHG-1")]
    assert ovs[0]["expires"] is not None
    b.call("wait", sel='tr[data-override="%s"]' % ovs[0]["id"])

    # The safety rule: eu down would leave both records unserved (409).
    b.call("select", sel="#ov-target", value="region:eu")
    b.call("fill", sel="#ov-reason", value="console test unsafe")
    b.call("click", sel="#ov-preview")
    b.call("wait", sel="#ov-changes")
    b.call("click", sel="#ov-confirm")
    b.call("wait", sel="#ov-error")
    err = b.call("text", sel="#ov-error")
    assert err.startswith("409 unsafe: "), err
    assert "euonly.example.com." in b.call("text", sel="#ov-result")
    assert len(a.get("/v1/overrides").json["overrides"]) == 1
    assert answer_addrs(g.query("euonly.example.com.")) == [EU1]

    # A live drill of eu from the form, and its recovery timeline drawn.
    b.call("click", sel="#nav a[data-view=overrides]")
    b.call("click", sel='tr[data-override="%s"] button' % ovs[0]["id"])
    ok, _ = poll(lambda: not a.get("/v1/overrides").json["overrides"], 3.0)
    assert ok
    b.call("click", sel="#nav a[data-view=drills]")
    b.call("fill", sel="#dr-targets", value="region:us")
    b.call("select", sel="#dr-mode", value="live")
    b.call("fill", sel="#dr-duration", value="30")
    b.call("fill", sel="#dr-reason", value="console drill")
    b.call("click", sel="#dr-start")
    b.call("wait", sel="#dr-chart svg.timeline rect", timeout=15000)
    assert "after the start" in b.call("text", sel="#dr-chart")
    assert answer_addrs(g.query("fo.example.com.")) == [EU1]
    b.call("wait", sel="#dr-list tr[data-drill] button:text('Abort')")
    b.call("click", sel="#dr-list tr[data-drill] button:text('Abort')")
    ok, _ = poll(lambda: not a.get("/v1/drills").json["active"], 3.0)
    assert ok

    # Audit and records views render the facts.
    b.call("click", sel="#nav a[data-view=audit]")
    b.call("waitfn", js="document.querySelector('#view table') && "
                        "document.querySelector('#view table').textContent.includes('/v1/drills')")
    b.call("click", sel="#nav a[data-view=records]")
    b.call("wait", sel='tr[data-record="fo.example.com."] td.answer')
    assert "127.0.0.12" in b.call("text", sel='tr[data-record="fo.example.com."] td.answer')
    log = b.call("log")
    assert not [m for m in log if "Content Security Policy" in m or m.startswith("pageerror")], log


def test_console_read_only(make_gtmd, backends, browser):
    g, a, _ = start_console(make_gtmd, backends)
    b = browser
    # The fragment signs in and is removed from the address bar at once.
    b.call("goto", url=a.url + "/ui/#token=" + READ_TOKEN)
    b.call("wait", sel=".region[data-region=us]")
    assert READ_TOKEN not in b.call("eval", js="location.href")
    assert b.call("eval", js="sessionStorage.getItem('gtmd-token')") == READ_TOKEN
    assert b.call("eval", js="document.cookie") == ""
    b.call("wait", sel="#readonly-note")
    b.call("click", sel="#nav a[data-view=overrides]")
    b.call("waitfn", js="document.querySelectorAll('#ov-target option').length > 3")
    assert b.call("disabled", sel="#ov-preview")
    assert b.call("attr", sel="#ov-preview", name="title") == "needs the operate token"
    b.call("click", sel="#nav a[data-view=drills]")
    assert b.call("disabled", sel="#dr-start")
    # The server refuses anyway, whatever the page allows.
    status = b.call("eval", js="""fetch('/v1/overrides', {method: 'POST',
        headers: {Authorization: 'Bearer ' + sessionStorage.getItem('gtmd-token')},
        body: JSON.stringify({target: 'region:us', state: 'down', reason: 'x'})})
        .then((r) => r.status)""")
    assert status == 403
    assert a.get("/v1/overrides").json["overrides"] == []
    # The token never went into a URL the server saw.
    assert READ_TOKEN not in g.read_log()
    # Sign out forgets it.
    b.call("click", sel="#signout")
    b.call("wait", sel="#signin-form")
    assert b.call("eval", js="sessionStorage.getItem('gtmd-token')") is None


# ---- plain words, the window's width, samples, empty tables, deep links -----

WIDTH = 1400
# What the status line used to look like: layer names next to bare badges
# ("override - drill - pool web up 1/1 healthy (min 1)"), and a word said
# twice. Words, not numbers: a timestamp such as "2026-11-23 23:13:02Z"
# has "23 23" on the 23rd at 23:00.
CRYPTIC = re.compile(r"\boverride -? ?drill\b|\d+/\d+ healthy|\(min \d+\)|\b([A-Za-z]\w*) \1\b")
LONG = "CHG-" + "x" * 300  # one word longer than the window


def geo_console_config(port_be):
    base = console_config(port_be)

    def fn(workdir, port):
        c = base(workdir, port)
        shutil.copy(os.path.join(DATA, "geo-city.mmdb"), workdir)
        c["geoip"] = {"database": "geo-city.mmdb"}
        c["regions"] = {"us": {"location": [38.9, -77.0]}, "eu": {"location": [53.3, -6.3]}}
        c["records"]["geo.example.com."] = {"pool": "web", "policy": "geo", "geo": {
            "network:192.0.2.0/24": ["eu", "us"], "continent:EU": ["eu", "us"],
            "default": ["us", "eu"]}}
        c["records"]["near.example.com."] = {"pool": "web", "policy": "nearest"}
        return c
    return fn


def fits(b, what):
    """Nothing is wider than the window: the page does not scroll sideways
    and no element reaches past its right edge."""
    r = b.call("eval", js="""(() => {
        const d = document.documentElement;
        const wide = [...document.querySelectorAll('body *')].filter((n) => {
            const r = n.getBoundingClientRect();
            return r.width > 0 && (r.right > d.clientWidth + 0.5 || r.left < -0.5);
        }).map((n) => n.tagName + '.' + n.className);
        return {sw: d.scrollWidth, cw: d.clientWidth, wide: wide.slice(0, 5)};
    })()""")
    assert WIDTH - 20 < r["cw"] <= WIDTH, r  # the window is that wide
    assert r["sw"] <= r["cw"] and not r["wide"], (what, r)


def view_text(b):
    return b.call("eval", js="document.getElementById('view').innerText")


def shoot(b, g, name):
    shot = os.path.join(g.workdir, "console-%s.png" % name)
    b.call("screenshot", path=shot, full=True)
    assert os.path.getsize(shot) > 5000
    if os.environ.get("GTM_CONSOLE_SHOTS"):
        shutil.copy(shot, os.environ["GTM_CONSOLE_SHOTS"])


def test_console_pages_plain_and_within_the_window(make_gtmd, backends, browser):
    port = free_port_on([US1, US2, EU1])
    backends.start_all([backends.http(x, port, start=False) for x in (US1, US2, EU1)])
    g = make_gtmd(geo_console_config(port))
    a = Admin.of(g)
    a.wait_ready()
    ok, _ = poll(lambda: sorted(answer_addrs(g.query("fo.example.com."))) == [US1, US2], 5.0)
    assert ok, "the us endpoints never came up"
    b = browser
    b.call("viewport", width=WIDTH, height=900)

    # A deep link lands on the view it names, and the token leaves the URL.
    b.call("goto", url=a.url + "/ui/#view=audit&token=" + OPERATE_TOKEN)
    b.call("wait", sel="#view table tr.empty")
    assert b.call("attr", sel="#nav a.active", name="data-view") == "audit"
    assert b.call("eval", js="location.hash") == "#audit"
    assert OPERATE_TOKEN not in b.call("eval", js="location.href")
    # Empty tables say so in a row, under their headers.
    assert b.call("text", sel="#view table tr.empty").strip() == "nothing audited yet"
    assert b.call("attr", sel="#view table tr.empty td", name="colspan") == "6"
    fits(b, "audit, empty")
    b.call("click", sel="#nav a[data-view=overrides]")
    b.call("wait", sel="#ov-list tr.empty")
    assert b.call("text", sel="#ov-list tr.empty").strip() == "no overrides in force"
    b.call("click", sel="#nav a[data-view=drills]")
    b.call("wait", sel="#dr-list tr.empty")
    assert [t.strip() for t in b.call("eval", js="[...document.querySelectorAll("
                                                  "'#dr-list tr.empty')].map((n) => n.textContent)")
            ] == ["no drill running", "no drill has ended yet"]
    # The drill form's example names this configuration's regions and azs.
    b.call("waitfn", js="document.getElementById('dr-targets').placeholder.startsWith('e.g.')")
    assert b.call("attr", sel="#dr-targets", name="placeholder") == "e.g. region:us, az:us-1a"
    # A #view link while signed in routes too; a bare view name still works.
    b.call("eval", js="location.hash = '#token=%s&view=records'" % OPERATE_TOKEN)
    b.call("wait", sel='tr[data-record="geo.example.com."]')
    assert b.call("attr", sel="#nav a.active", name="data-view") == "records"

    # The status line in words.
    b.call("click", sel="#nav a[data-view=overview]")
    b.call("wait", sel=".region[data-region=eu] .layers")
    lines = b.call("eval", js="[...document.querySelectorAll('.layers')].map((n) => n.textContent)")
    assert lines[0] == ("No override \u00b7 No drill \u00b7 pool web up: 2 of 2 endpoints "
                        "healthy (needs 1)"), lines
    assert "No override \u00b7 No drill \u00b7 pool web up: 1 of 1 endpoint healthy (needs 1)" \
        in lines, lines
    text = view_text(b)
    assert not CRYPTIC.search(text), CRYPTIC.search(text)
    assert b.call("text", sel=ep_row("us1") + " td.override").strip() == "none"

    # Long words: an override's reason and the audit's JSON wrap in place.
    r = a.post("/v1/overrides", {"target": "az:us-1a", "state": "down", "reason": LONG,
                                 "expires_in": 600})
    assert r.status == 201, r
    b.call("wait", sel=ep_row("us1") + "[data-effective=down]")
    b.call("waitfn", js="document.querySelector('.az[data-az=\"us-1a\"] .layers')"
                        ".textContent.startsWith('Override: forced down ovr-')")
    assert LONG in b.call("text", sel='.az[data-az="us-1a"] .layers')
    assert not CRYPTIC.search(view_text(b))
    fits(b, "overview")
    shoot(b, g, "overview")
    for view, ready in (("records", 'tr[data-record="near.example.com."] + tr tr[data-sample]'),
                        ("explain", "#explain-form"), ("overrides", "#ov-list tr[data-override]"),
                        ("drills", "#dr-list tr.empty"), ("audit", "#view table td.request")):
        b.call("click", sel="#nav a[data-view=%s]" % view)
        b.call("wait", sel=ready)
        if view == "records":
            b.call("waitfn", js="document.querySelectorAll('tr[data-sample]').length >= 20")
        fits(b, view)
        shoot(b, g, view)
    assert LONG in view_text(b)  # the audit shows the request, wrapped

    # The sample clients are the configuration's: the geo map's network key,
    # then the database's sample networks (GET /v1/status), at most 16.
    st = a.get("/v1/status").json
    assert st["geo"]["networks"] > 40 and len(st["geo"]["samples"]) == 16, st["geo"]
    want = ["192.0.2.0/24"] + [x["network"] for x in st["geo"]["samples"]][:15]
    b.call("click", sel="#nav a[data-view=records]")
    b.call("waitfn", js="document.querySelectorAll('tr[data-sample]').length >= 32")
    rows = b.call("eval", js="""[...document.querySelectorAll(
        'tr[data-record="geo.example.com."] + tr tr[data-sample]')].map((r) =>
        [r.dataset.sample, ...[...r.cells].slice(1).map((c) => c.textContent)])""")
    assert [r[0] for r in rows] == want, rows
    by = {r[0]: r for r in rows}
    assert by["192.0.2.0/24"][2] == "network:192.0.2.0/24", by["192.0.2.0/24"]
    assert by["127.0.5.0/24"][1] == "ZA-GP" and by["127.0.5.0/24"][2] == "no key matched: default"
    assert by["10.1.0.0/23"][1] == "DE-BE" and by["10.1.0.0/23"][2] == "continent:EU"
    assert by["10.1.0.0/23"][3] == "eu, us" and EU1 in by["10.1.0.0/23"][4]
    near = b.call("eval", js="""[...document.querySelectorAll(
        'tr[data-record="near.example.com."] + tr tr[data-sample="127.0.5.0/24"] td.match')]
        .map((c) => c.textContent)""")
    assert len(near) == 1 and re.fullmatch(r"closest: eu \(\d+ km\)", near[0]), near
    assert not CRYPTIC.search(view_text(b)), CRYPTIC.search(view_text(b))
    log = b.call("log")
    assert not [m for m in log if "Content Security Policy" in m or m.startswith("pageerror")], log

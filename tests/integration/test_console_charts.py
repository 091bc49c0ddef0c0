"""The console's charts in Debian's headless chromium (uilib.py) against
the real binary and real backends: the health chart of the overview (one
band per region and pool, drawn from GET /v1/history on sign-in, then
followed on the event stream) turns down for a killed region within a
few seconds without a reload and up again when it comes back, keeps the
past after a reload, and the drill view draws a live drill's recovery,
its answers per second, its answers and its RTO marks with the numbers of
the API; both within 1400 px. Every wait is bounded."""
import os
import re
import shutil
import time

from adminlib import OPERATE_TOKEN
from backends import answer_addrs, backends, fast_query, poll  # noqa: F401
from test_console import EU1, US1, US2, WIDTH, fits, sign_in, start_console
from uilib import browser  # noqa: F401

BAND = 'svg.health g.band[data-region="%s"][data-pool="web"]'


def segs(b, region):
    """The band's segments: [(state, hover text)], oldest first."""
    return b.call("eval", js="""[...document.querySelectorAll('%s rect.seg')]
        .map((r) => [r.dataset.state, r.querySelector('title').textContent])""" % (BAND % region))


def shoot(b, g, name):
    shot = os.path.join(g.workdir, "console-%s.png" % name)
    b.call("screenshot", path=shot, full=True)
    assert os.path.getsize(shot) > 5000
    if os.environ.get("GTM_CONSOLE_SHOTS"):
        shutil.copy(shot, os.environ["GTM_CONSOLE_SHOTS"])


def test_console_health_chart(make_gtmd, backends, browser):
    g, a, bs = start_console(make_gtmd, backends)
    b = browser
    b.call("viewport", width=WIDTH, height=900)
    sign_in(b, a, OPERATE_TOKEN)
    b.call("wait", sel=BAND % "eu" + " rect.seg")
    # One band per region and pool; the past came from the history: each
    # band was unknown until the first probes, then up.
    assert b.call("count", sel="svg.health g.band") == 2
    for region in ("us", "eu"):
        s = segs(b, region)
        assert [x[0] for x in s][-1] == "up", s
        assert "first probe result" in s[-1][1] or "rise threshold" in s[-1][1], s
        assert b.call("attr", sel=BAND % region, name="data-now") == "up"
    fits(b, "overview with the health chart")

    # eu's only backend dies: its band turns down without a reload, with
    # the time and the reason in the hover text; us keeps a backend up
    # after us1 dies (min_healthy 1), so its band stays up.
    b.call("eval", js="window.__same_page = 1")
    bs[EU1].kill()
    bs[US1].kill()
    # Pushed by the event stream (the page also refreshes every 10 s): the
    # bound is wide, so that a loaded machine with an ASan gtmd holds it;
    # what is checked is that the page follows without a reload.
    b.call("wait", sel=BAND % "eu" + ' rect.seg[data-state="down"]', timeout=15000)
    assert b.call("eval", js="window.__same_page === 1"), "the page was reloaded"
    down = segs(b, "eu")[-1]
    assert down[0] == "down", down
    assert re.search(r"^eu / web down from \d{4}-\d\d-\d\d \d\d:\d\d:\d\dZ to now \(\d+s\): "
                     r"eu1 up \u2192 down: fall threshold reached", down[1]), down
    assert b.call("attr", sel=BAND % "eu", name="data-now") == "down"
    # us1's verdict too (fall 3 x 0.25 s), waited for rather than slept on.
    b.call("waitfn", js="(() => { const c = document.querySelector("
                        "'tr[data-endpoint=\"web/us1\"] td.effective');"
                        " return !!c && c.textContent.includes('down'); })()", timeout=15000)
    assert "down" not in [x[0] for x in segs(b, "us")]
    shoot(b, g, "health")

    # eu comes back: up again after the down stretch.
    bs[EU1].restart()
    b.call("waitfn", js="(() => { const r = [...document.querySelectorAll('%s rect.seg')];"
                        " return r.length && r[r.length - 1].dataset.state === 'up'; })()"
                        % (BAND % "eu"), timeout=15000)
    states = [x[0] for x in segs(b, "eu")]
    assert states[-2:] == ["down", "up"], states

    # A new page draws the past from the history alone.
    b.call("reset")
    b.call("viewport", width=WIDTH, height=900)
    sign_in(b, a, OPERATE_TOKEN)
    b.call("wait", sel=BAND % "eu" + ' rect.seg[data-state="down"]')
    assert [x[0] for x in segs(b, "eu")][-2:] == ["down", "up"]
    fits(b, "overview after a reload")
    log = b.call("log")
    assert not [m for m in log if "Content Security Policy" in m or m.startswith("pageerror")], log


def test_console_drill_chart(make_gtmd, backends, browser):
    g, a, bs = start_console(make_gtmd, backends)
    b = browser
    b.call("viewport", width=WIDTH, height=900)
    sign_in(b, a, OPERATE_TOKEN)
    b.call("click", sel="#nav a[data-view=drills]")
    b.call("fill", sel="#dr-targets", value="region:us")
    b.call("select", sel="#dr-mode", value="live")
    b.call("fill", sel="#dr-duration", value="60")
    b.call("fill", sel="#dr-reason", value="chart drill")
    b.call("click", sel="#dr-start")
    # The chart follows the drill's progressing event: the RTO marks come
    # once every affected record answered without us.
    b.call("wait", sel="#dr-chart svg.exposure", timeout=20000)
    d = a.get("/v1/drills").json["active"][0]
    tl = a.get("/v1/drills/" + d["id"]).json["report"]["timeline"]
    assert tl["rto"] is not None and tl["lost_answers"] == 0, tl
    recs = tl["records"]
    assert [r["record"] for r in recs] == ["fo.example.com."]  # euonly does not change
    # One bar per affected record in the start panel and in the answers
    # chart; no lost bar (0 lost); the RTO marks say the API's numbers.
    assert b.call("count", sel="#dr-chart svg.timeline:not(.answers):not(.exposure) rect") == 2 * len(recs)
    assert b.call("count", sel="#dr-chart svg.answers rect.bar.kept") == len(recs)
    assert b.call("count", sel="#dr-chart svg.answers rect.bar.lost") == 0
    rto = "RTO %.1f ms" % (tl["rto"] * 1000)
    labels = b.call("eval", js="[...document.querySelectorAll('#dr-chart .rto-label')]"
                               ".map((n) => n.textContent)")
    assert labels == ["\u25b2 " + rto, rto], (labels, tl)
    assert b.call("count", sel="#dr-chart line.rto-mark") == 1
    assert b.call("text", sel="#dr-chart .rto-ttl-label") == "RTO + TTL %.3f s" % tl["rto_plus_ttl"]
    head = b.call("text", sel="#dr-chart svg.answers > text")
    assert head.startswith("answers since the start (all clients): lost 0 (0 expected)"), head
    fits(b, "drill charts")
    # Clients ask while the drill runs: 30 answers from eu, over 1.5 s.
    for _ in range(30):
        assert answer_addrs(g.query("fo.example.com.")) == [EU1]
        time.sleep(0.05)
    time.sleep(1.2)  # the next one-second sample of the counters
    # The end: the restore panel with its own RTO mark.
    b.call("click", sel="#dr-list tr[data-drill] button:text('Abort')")
    ok, _ = poll(lambda: a.get("/v1/drills/" + d["id"]).json["report"]["timeline"]["state"] == "done", 5.0)
    assert ok
    tl = a.get("/v1/drills/" + d["id"]).json["report"]["timeline"]
    b.call("click", sel='#dr-list tr[data-drill="%s"] button:text("Timeline")' % d["id"])
    b.call("waitfn", js="document.querySelectorAll('#dr-chart line.rto-mark').length === 2")
    assert "after the end" in b.call("text", sel="#dr-chart")
    # The answers per second: one bar per interval of the series in which
    # answers came, none lost, the RTO and the end marked.
    series = tl["series"]
    assert series[-1][1] == sum(r["answers"] for r in tl["records"]) >= 30, series
    assert series[-1][2] == 0 and all(p[0] <= tl["ended"] for p in series), series
    pts = [[tl["started"], 0, 0]] + series
    busy = sum(1 for p, q in zip(pts, pts[1:]) if q[1] > p[1])
    assert busy >= 2, series
    assert b.call("attr", sel="#dr-chart svg.rates", name="data-points") == str(len(series))
    assert b.call("count", sel="#dr-chart svg.rates rect.rate:not(.lost)") == busy
    assert b.call("count", sel="#dr-chart svg.rates rect.rate.lost") == 0
    assert b.call("text", sel="#dr-chart .rate-rto-label") == "\u25b2 RTO %.1f ms" % (tl["rto"] * 1000)
    assert b.call("text", sel="#dr-chart .rate-end-label") == "\u25b2 end"
    shoot(b, g, "drill")
    fits(b, "drill charts after the end")
    log = b.call("log")
    assert not [m for m in log if "Content Security Policy" in m or m.startswith("pageerror")], log


def test_console_drill_chart_scoped_counts_canary_clients(make_gtmd, backends, browser):
    """A scoped drill: the charts count the canary clients' answers only,
    and say so."""
    g, a, bs = start_console(make_gtmd, backends)
    b = browser
    b.call("viewport", width=WIDTH, height=900)
    sign_in(b, a, OPERATE_TOKEN)
    b.call("click", sel="#nav a[data-view=drills]")
    r = a.post("/v1/drills", {"regions": ["us"], "mode": "scoped", "canary": ["10.20.0.0/16"],
                              "duration": 60, "reason": "canary chart"})
    assert r.status == 201, r
    did = r.json["id"]
    # 20 canary clients get eu; 10 others still get us (not counted).
    for i in range(20):
        q = fast_query(g.addr, g.port, "fo.example.com.", ecs="10.20.%d.0/24" % i)
        assert q is not None and answer_addrs(q) == [EU1]
        q = fast_query(g.addr, g.port, "fo.example.com.") if i < 10 else None
        assert q is None or sorted(answer_addrs(q)) == [US1, US2]
        time.sleep(0.05)
    time.sleep(1.2)  # the next one-second sample
    assert a.delete("/v1/drills/" + did).status == 200
    ok, _ = poll(lambda: a.get("/v1/drills/" + did).json["report"]["timeline"]["state"] == "done",
                 5.0)
    assert ok
    tl = a.get("/v1/drills/" + did).json["report"]["timeline"]
    assert tl["canary"] is True and tl["lost_answers_of"] == "canary clients", tl
    # gtmd's own queries (ECS inside the canary) count too; the others not.
    own = sum(r["self_queries"] for r in tl["records"])
    assert tl["series"][-1][1] == sum(r["answers"] for r in tl["records"]), tl
    assert 20 <= tl["series"][-1][1] <= 20 + own, tl
    b.call("wait", sel='#dr-list tr[data-drill="%s"]' % did, timeout=20000)
    b.call("click", sel='#dr-list tr[data-drill="%s"] button:text("Timeline")' % did)
    b.call("wait", sel="#dr-chart svg.rates rect.rate")
    assert "(canary clients)" in b.call("text", sel="#dr-chart svg.rates > text")
    head = b.call("text", sel="#dr-chart svg.answers > text")
    assert head.startswith("answers since the start (canary clients): lost 0"), head
    fits(b, "scoped drill charts")

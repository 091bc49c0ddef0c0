"""The admin API against hostile clients, with the real binary: clients
without a token never lock operators out (max_connections), every request
over the cap gets the documented 503 JSON (never EOF), libevent's own
400/413/417/501 replies are JSON errors, and a path holding %00 is not the
path before it.

Every wait and loop is bounded."""
import http.client
import json
import os
import re
import socket
import threading
import time

import pytest

from adminlib import OPERATE_TOKEN, READ_TOKEN, UnixHTTPConnection, start


def keepalive(a, via_unix=False):
    if via_unix:
        return UnixHTTPConnection(a.unix, timeout=5)
    return http.client.HTTPConnection("127.0.0.1", a.port, timeout=5)


def ask(c, path="/v1/health", token=None, method="GET", body=None):
    """One request on a kept-alive connection: (status, headers, json)."""
    h = {}
    if token:
        h["Authorization"] = "Bearer " + token
    c.request(method, path, body=body, headers=h)
    r = c.getresponse()
    data = r.read()
    try:
        j = json.loads(data)
    except ValueError:
        j = None
    return r.status, {k.lower(): v for k, v in r.getheaders()}, j


def is_busy(status, headers, j):
    return (status == 503 and j and j["error"]["code"] == "busy" and
            headers.get("connection", "").lower() == "close" and
            headers.get("content-type", "").startswith("application/json"))


@pytest.mark.threads
def test_clients_without_token_never_lock_out_operators(make_gtmd):
    g, a = start(make_gtmd, max_connections=4, timeout=30)
    guests = [keepalive(a) for _ in range(4)]
    try:
        # Four keep-alive clients without a token take every place: two
        # ask /v1/health, two get 401 on /v1/status.
        for i, c in enumerate(guests):
            st, _, j = ask(c, "/v1/health" if i % 2 else "/v1/status")
            assert st == (200 if i % 2 else 401), (i, st, j)
        # A fifth client without a token: no place for it.
        extra = keepalive(a)
        assert is_busy(*ask(extra, "/v1/health")), "a guest got a place over the cap"
        extra.close()
        # An operator still gets in, with each token, on new connections.
        ops = []
        for tok in (READ_TOKEN, OPERATE_TOKEN):
            c = keepalive(a)
            st, _, j = ask(c, "/v1/status", token=tok)
            assert st == 200, (tok, st, j)
            ops.append(c)
        # Their places stay theirs: they keep working.
        for c in ops:
            assert ask(c, "/v1/status", token=READ_TOKEN)[0] == 200
        # Two guests (those idle longest) gave up their places: their next
        # request is answered 503 busy (not EOF); the other two still work.
        results = [ask(c, "/v1/health") for c in guests]
        busy = [is_busy(*r) for r in results]
        assert sum(busy) == 2, results
        assert all(r[0] == 200 for r, b in zip(results, busy) if not b), results
        # With every place held by an operator, one more operator gets 503.
        more = []
        for _ in range(2):
            c = keepalive(a)
            assert ask(c, "/v1/status", token=READ_TOKEN)[0] == 200
            more.append(c)
        c = keepalive(a)
        assert is_busy(*ask(c, "/v1/status", token=READ_TOKEN))
        c.close()
        for c in ops + more:
            c.close()
    finally:
        for c in guests:
            c.close()


def test_unix_socket_clients_count_as_operators(make_gtmd):
    """A unix socket's mode 0600 authenticates: its clients take the place
    of TCP clients without a token, even before they send one."""
    g, a = start(make_gtmd, unix=True, max_connections=2, timeout=30)
    guests = [keepalive(a) for _ in range(2)]
    try:
        for c in guests:
            assert ask(c, "/v1/health")[0] == 200
        u = keepalive(a, via_unix=True)
        st, _, j = ask(u, "/v1/status")  # no token: 401, but a place, not 503
        assert st == 401 and j["error"]["code"] == "unauthorized", (st, j)
        assert ask(u, "/v1/status", token=READ_TOKEN)[0] == 200
        u.close()
    finally:
        for c in guests:
            c.close()


def post_once(port, i, out):
    body = json.dumps({"target": "endpoint:hp/h-us%d" % (i % 3 + 1), "state": "down",
                       "reason": "storm %d" % i, "force": True}).encode()
    req = ("POST /v1/overrides HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer %s\r\n"
           "Content-Type: application/json\r\nContent-Length: %d\r\nConnection: close\r\n\r\n"
           % (OPERATE_TOKEN, len(body))).encode() + body
    try:
        s = socket.create_connection(("127.0.0.1", port), timeout=20)
        s.sendall(req)
        data = b""
        while len(data) < 1 << 20:
            d = s.recv(65536)
            if not d:
                break
            data += d
        s.close()
        if not data.startswith(b"HTTP/1.1 "):
            out[i] = ("EOF", None)
            return
        head, _, rest = data.partition(b"\r\n\r\n")
        out[i] = (int(data.split(b" ", 2)[1]), json.loads(rest) if rest else None,
                  b"application/json" in head)
    except OSError as e:
        out[i] = (type(e).__name__, None)


@pytest.mark.threads
@pytest.mark.parametrize("cap", [2, 4])
def test_every_request_over_the_cap_gets_a_reply(make_gtmd, cap):
    """Concurrent POSTs on as many connections, more than max_connections:
    each is answered, 201 or 503 busy with a JSON error, never EOF."""
    g, a = start(make_gtmd, state_file=True, max_connections=cap, timeout=30)
    seen = {}
    for rnd in range(3):
        n = 20
        out = [None] * n
        run_at_once(n, lambda i: post_once(a.port, i, out))
        for r in out:
            seen[r[0]] = seen.get(r[0], 0) + 1
            assert r[0] in (201, 503), out
            assert r[2], ("not a JSON reply", r)
            if r[0] == 503:
                assert r[1]["error"]["code"] == "busy", r
        created = sum(1 for r in out if r[0] == 201)
        assert created >= 1, out
    print("\nMEASURE statuses over 3 rounds of 20 POSTs, max_connections %d: %s" % (cap, seen))
    ids = {o["id"] for o in a.overrides()}
    assert len(ids) == seen.get(201, 0), (len(ids), seen)


def raw(a, data, timeout=5.0):
    """Sends raw octets on a new connection; returns the whole reply."""
    s = socket.create_connection(("127.0.0.1", a.port), timeout=timeout)
    out = b""
    try:
        s.sendall(data)
        while len(out) < 1 << 20:
            d = s.recv(65536)
            if not d:
                break
            out += d
    except (ConnectionResetError, BrokenPipeError):
        pass
    finally:
        s.close()
    return out


def json_error(reply, status, code):
    head, _, body = reply.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 %d " % status), reply[:300]
    lines = head.split(b"\r\n")
    hdr = {k.strip().lower(): v.strip() for k, _, v in (x.partition(b":") for x in lines[1:])}
    assert hdr.get(b"content-type") == b"application/json", reply[:400]
    assert hdr.get(b"cache-control") == b"no-store", reply[:400]
    if b"content-length" in hdr:
        assert int(hdr[b"content-length"]) == len(body), reply[:400]
    else:  # libevent leaves it out for CONNECT; the connection is closed
        assert hdr.get(b"connection", b"").lower() == b"close", reply[:400]
    j = json.loads(body)
    assert set(j) == {"error"} and j["error"]["code"] == code, j
    assert j["error"]["message"], j
    return hdr


@pytest.fixture(scope="module")
def shared(request):
    import shutil
    import tempfile
    from adminlib import Admin, config_fn
    from conftest import Gtmd, free_port
    workdir = tempfile.mkdtemp(prefix="gtmd-adm-hard-")
    port = free_port()
    g = Gtmd(workdir, config_fn()(workdir, port), port)
    g.start()
    a = Admin.of(g).wait_ready()
    yield g, a
    g.stop()
    shutil.rmtree(workdir, ignore_errors=True)


def test_body_too_large_is_json_413(shared):
    g, a = shared
    head = ("POST /v1/overrides HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer %s\r\n"
            "Content-Length: %d\r\n\r\n" % (OPERATE_TOKEN, 8 * 1024 * 1024 + 1)).encode()
    reply = raw(a, head)
    hdr = json_error(reply, 413, "too_large")
    assert hdr.get(b"connection", b"").lower() == b"close"
    # The message names the limit (admin.max_body's default, in bytes).
    msg = json.loads(reply.partition(b"\r\n\r\n")[2])["error"]["message"]
    assert "admin.max_body (8388608 bytes)" in msg, msg
    assert a.overrides() == []


def test_chunked_body_over_max_body_is_json_413(shared):
    """A chunked body (no Content-Length to refuse up front) is refused as
    it passes admin.max_body (8 MiB by default): 413, nothing applied."""
    g, a = shared
    head = ("POST /v1/overrides HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer %s\r\n"
            "Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n"
            % OPERATE_TOKEN).encode()
    chunk = b" " * 65536
    body = (b"%x\r\n" % len(chunk) + chunk + b"\r\n") * 130  # 8.1 MiB
    reply = raw(a, head + body, timeout=20.0)
    json_error(reply, 413, "too_large")
    assert a.overrides() == []


@pytest.mark.parametrize("data", [
    b"NOT HTTP AT ALL\r\n\r\n",
    b"GET /v1/health HTTP/9.9\r\n\r\n",
    b"GET /v1/health\r\n\r\n",
    b"GET /v1/health HTTP/1.1\r\nno colon here\r\n\r\n",
], ids=["garbage", "version", "no-version", "bad-header"])
def test_malformed_request_is_json_400(shared, data):
    g, a = shared
    json_error(raw(a, data), 400, "bad_request")
    assert a.get("/v1/health", token=None).status == 200


def test_headers_too_large_are_a_json_error(shared):
    g, a = shared
    out = raw(a, b"GET /v1/health HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * 20000 +
              b"\r\n\r\n")
    # Refused with a JSON 4xx, or the connection cut while still sending.
    if out:
        status = int(out.split(b" ", 2)[1])
        assert 400 <= status < 500, out[:200]
        json_error(out, status, "too_large" if status == 413 else "bad_request")


def test_unsupported_expect_is_json_417(shared):
    g, a = shared
    out = raw(a, b"POST /v1/overrides HTTP/1.1\r\nHost: x\r\nExpect: telepathy\r\n"
                 b"Content-Length: 2\r\n\r\n{}")
    json_error(out, 417, "bad_request")


@pytest.mark.parametrize("method", ["PATCH", "OPTIONS", "TRACE", "CONNECT", "FOO"])
def test_other_methods_are_json_501(shared, method):
    g, a = shared
    t0 = time.monotonic()
    out = raw(a, ("%s /v1/overrides HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer %s\r\n"
                  "Content-Length: 2\r\nConnection: close\r\n\r\n{}"
                  % (method, OPERATE_TOKEN)).encode())
    json_error(out, 501, "not_implemented")
    # Closed at once, CONNECT too (libevent keeps a CONNECT's connection
    # open whatever its headers say: it waited for the 5 s idle timeout).
    assert time.monotonic() - t0 < 2.0, "%s: closed after %.1f s" % (method, time.monotonic() - t0)
    assert a.overrides() == []


def test_head_is_501_and_closed(shared):
    """libevent 2.1 sends a body even to HEAD: the connection is closed
    after the 501 so a kept-alive client cannot be desynchronised."""
    g, a = shared
    s = socket.create_connection(("127.0.0.1", a.port), timeout=5)
    try:
        s.sendall(b"HEAD /v1/status HTTP/1.1\r\nHost: x\r\n\r\n")
        out = b""
        while len(out) < 65536:
            d = s.recv(65536)
            if not d:
                break  # closed by gtmd
            out += d
    finally:
        s.close()
    assert out.startswith(b"HTTP/1.1 501 "), out[:200]
    assert b"Content-Type: application/json" in out and b"Connection: close" in out, out


@pytest.mark.parametrize("path", ["/v1/status%00junk", "/v1/status%00", "/metrics%00x",
                                  "/v1/overrides%00/x", "/v1/health%00"])
def test_path_with_nul_is_404(shared, path):
    g, a = shared
    r = a.get(path, token=READ_TOKEN)
    assert r.status == 404 and r.code == "not_found", r


# ---- writes shared by concurrent changes, answered after durable ------------

def post_and_check_durable(a, state, i, results):
    """POSTs one override on its own keep-alive connection and, the moment
    the 201 arrives, checks that the state file on disk already holds it."""
    c = keepalive(a)
    try:
        body = json.dumps({"target": "endpoint:hp/h-us%d" % (i % 3 + 1), "state": "down",
                           "reason": "batch %d" % i, "force": True})
        st, _, j = ask(c, "/v1/overrides", token=OPERATE_TOKEN, method="POST", body=body)
        with open(state) as f:
            on_disk = {o["id"] for o in json.load(f)["overrides"]}
        results[i] = (st, j and j.get("id"), j and j.get("id") in on_disk)
    except (OSError, ValueError) as e:
        results[i] = (type(e).__name__, None, False)
    finally:
        c.close()


@pytest.mark.threads
def test_concurrent_posts_share_writes_and_answer_after_durable(make_gtmd):
    import os
    g, a = start(make_gtmd, state_file=True, max_connections=64, timeout=30)
    state = os.path.join(g.workdir, "state.json")
    writes0 = a.get("/v1/status", token=READ_TOKEN).json["state_file"]["writes"]
    n = 40
    results = [None] * n
    took = run_at_once(n, lambda i: post_and_check_durable(a, state, i, results))
    assert all(r[0] == 201 for r in results), results
    assert all(r[2] for r in results), ("answered before the override was on disk", results)
    assert len({r[1] for r in results}) == n
    writes = a.get("/v1/status", token=READ_TOKEN).json["state_file"]["writes"] - writes0
    print("\nMEASURE %d concurrent POSTs: %d state-file writes, %.3f s" % (n, writes, took))
    assert 1 <= writes < n, writes


def drill_call_and_check_durable(a, state, method, path, body, want, results, i):
    """One drill start or abort on its own connection; the moment the reply
    arrives, checks that the state file on disk already shows the change."""
    c = keepalive(a)
    try:
        st, _, j = ask(c, path, token=OPERATE_TOKEN, method=method,
                       body=json.dumps(body) if body is not None else None)
        did = j and j.get("id")
        with open(state) as f:
            drills = json.load(f)["drills"]
        where = {d["id"]: "active" for d in drills["active"]}
        where.update({d["id"]: "history" for d in drills["history"]})
        results[i] = (st, did, where.get(did) == want)
    except (OSError, ValueError, KeyError) as e:
        results[i] = (type(e).__name__, None, False)
    finally:
        c.close()


def run_at_once(n, fn):
    barrier = threading.Barrier(n)

    def go(i):
        try:
            barrier.wait(timeout=10)
        except threading.BrokenBarrierError:
            pass
        fn(i)

    ts = [threading.Thread(target=go, args=(i,)) for i in range(n)]
    t0 = time.monotonic()
    for t in ts:
        t.start()
    for t in ts:
        t.join(timeout=60)
    assert not any(t.is_alive() for t in ts)
    return time.monotonic() - t0


@pytest.mark.threads
def test_concurrent_drill_starts_and_aborts_share_writes(make_gtmd):
    """Starting and aborting drills used to block the admin thread on one
    state-file write each; they now wait like override changes do: each
    reply comes once its change is on disk, and changes that arrive while a
    write runs share the next one."""
    import os
    g, a = start(make_gtmd, state_file=True, max_connections=64, timeout=30)
    state = os.path.join(g.workdir, "state.json")

    def writes():
        return a.get("/v1/status", token=READ_TOKEN).json["state_file"]["writes"]
    n = 24
    started = [None] * n
    w0 = writes()
    took = run_at_once(n, lambda i: drill_call_and_check_durable(
        a, state, "POST", "/v1/drills", {"mode": "shadow", "regions": [["us", "eu", "ap"][i % 3]],
                                         "reason": "batch %d" % i}, "active", started, i))
    w_start = writes() - w0
    assert all(r[0] == 201 for r in started), started
    assert all(r[2] for r in started), ("answered before the drill was on disk", started)
    ids = [r[1] for r in started]
    assert len(set(ids)) == n
    aborted = [None] * n
    w0 = writes()
    took2 = run_at_once(n, lambda i: drill_call_and_check_durable(
        a, state, "DELETE", "/v1/drills/" + ids[i], None, "history", aborted, i))
    w_abort = writes() - w0
    assert all(r[0] == 200 and r[1] == ids[i] for i, r in enumerate(aborted)), aborted
    assert all(r[2] for r in aborted), ("answered before the abort was on disk", aborted)
    print("\nMEASURE %d concurrent drill starts: %d writes, %.3f s; %d aborts: %d writes, %.3f s"
          % (n, w_start, took, n, w_abort, took2))
    assert 1 <= w_start < n and 1 <= w_abort < n, (w_start, w_abort)
    lines = [json.loads(x) for x in open(os.path.join(g.workdir, "audit.log"))]
    assert len([x for x in lines if x.get("path") == "/v1/drills" and x["status"] == 201]) == n
    assert len([x for x in lines if x.get("method") == "DELETE" and x["status"] == 200]) == n


# ---- out of descriptors: the accept loop pauses -------------------------------

def cpu_seconds(pid):
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / float(os.sysconf("SC_CLK_TCK"))


def test_admin_accept_emfile_pauses_instead_of_spinning(make_gtmd):
    """accept(2) failing with EMFILE on the admin listener used to spin the
    admin thread at 100% CPU (libevent calls accept again at once while the
    listener stays readable). Now it pauses 100 ms, doubling up to 1 s, logs
    one admin_accept_paused per burst, and serves again once descriptors
    are back."""
    import resource

    g, a = start(make_gtmd)
    pid = g.proc.pid
    old = resource.prlimit(pid, resource.RLIMIT_NOFILE)
    held = []
    try:
        resource.prlimit(pid, resource.RLIMIT_NOFILE,
                         (len(os.listdir("/proc/%d/fd" % pid)) + 2, old[1]))
        for _ in range(20):  # completed by the kernel from the backlog
            held.append(socket.create_connection(("127.0.0.1", a.port), timeout=1.0))
        time.sleep(0.3)
        t0 = cpu_seconds(pid)
        time.sleep(2.0)
        used = cpu_seconds(pid) - t0
        assert used < 0.3, "gtmd used %.2f s of CPU in 2 s while out of descriptors" % used
        log = g.read_log()
        paused = re.findall(r"event=admin_accept_paused error=EMFILE", log)
        assert len(paused) == 1, "want one admin_accept_paused line per burst:\n" + log[-2000:]
        assert "Error from accept" not in log, log[-2000:]
        assert g.query("www.example.com.", "A", timeout=1.0).answer  # DNS unaffected
    finally:
        resource.prlimit(pid, resource.RLIMIT_NOFILE, old)
        for s_ in held:
            s_.close()
    # Descriptors are back: the listener is polled again within the back-off.
    t0 = time.monotonic()
    r = a.get("/v1/status", token=READ_TOKEN, timeout=3.0)
    assert r.status == 200 and time.monotonic() - t0 < 2.5, r
    deadline = time.monotonic() + 2
    while "event=admin_accept_resumed" not in g.read_log() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert re.search(r"event=admin_accept_resumed paused_ms=\d+ errors=\d+", g.read_log())


# ---- the safety rule on deletions --------------------------------------------

def test_deleting_an_up_override_is_checked_by_the_safety_rule(make_gtmd):
    """apo.example.com serves only region ap. region:ap is forced down (the
    older override) and then up again (the newer one): deleting the newer
    one would leave apo with nothing to serve, so it needs force."""
    g, a = start(make_gtmd)
    down = a.override("region:ap", state="down", reason="older", force=True)
    assert down.status == 201, down
    up = a.override("region:ap", state="up", reason="newer")
    assert up.status == 201, up
    r = a.delete("/v1/overrides/" + up.json["id"])
    assert r.status == 409 and r.code == "unsafe", r
    recs = sorted(x["record"] for x in r.json["error"]["records"])
    assert "apo.example.com." in recs, recs
    assert "deletion" in r.json["error"]["message"]
    assert {o["id"] for o in a.overrides()} == {down.json["id"], up.json["id"]}
    r = a.delete("/v1/overrides/" + up.json["id"] + "?force=maybe")
    assert r.status == 400 and r.code == "bad_request", r
    # Deleting the older one changes nothing: allowed.
    assert a.delete("/v1/overrides/" + down.json["id"]).status == 200
    # Again, then forced.
    down = a.override("region:ap", state="down", reason="older again", force=True)
    up2 = a.override("region:ap", state="up", reason="newer again")
    r = a.delete("/v1/overrides/" + up2.json["id"] + "?force=true")
    assert r.status == 200 and r.json == {"deleted": up2.json["id"]}, r
    assert {o["id"] for o in a.overrides()} == {up.json["id"], down.json["id"]}
    lines = [json.loads(x) for x in open(g.workdir + "/audit.log")]
    refused = [x for x in lines if x["method"] == "DELETE" and x["status"] == 409]
    assert len(refused) == 1 and refused[0]["result"][0]["record"], refused


# ---- explain names every override, at every layer ----------------------------

def test_explain_names_each_override_at_every_layer(make_gtmd):
    from adminlib import gtmctl
    g, a = start(make_gtmd)
    az = a.override("az:us-1a", reason="az work", expires_in=600).json
    ep = a.override("endpoint:web/us6", reason="pinned down").json
    x = a.get("/v1/explain?name=all.example.com.&type=A", token=READ_TOKEN).json
    regs = {r["region"]: r for r in x["policy"]["regions"]}
    us = regs["us"]
    assert us["override"] is None
    azs = {z["name"]: z for z in us["azs"]}
    assert set(azs) == {"us-1a", "us-1b"}, us["azs"]
    o = azs["us-1a"]["override"]
    assert o["id"] == az["id"] and o["reason"] == "az work" and o["author"] == "operate"
    assert o["expires"] == pytest.approx(az["expires"]) and azs["us-1a"]["state"] == "down"
    assert azs["us-1b"]["override"] is None and azs["us-1b"]["state"] == "up"
    eps = {e["name"]: e for e in x["policy"]["endpoints"]}
    assert eps["us1"]["state"]["forced_by"]["id"] == az["id"], eps["us1"]
    assert eps["us1"]["state"]["override_detail"] is None  # its own layer: none
    assert eps["us2"]["state"]["forced_by"] is None
    # A region override decides for the endpoints without one of their own.
    rg = a.override("region:us", reason="region drain", force=True).json
    x = a.get("/v1/explain?name=fo.example.com.&type=AAAA", token=READ_TOKEN).json
    us = x["policy"]["regions"][0]
    assert us["region"] == "us" and us["why"] == "forced down by an override"
    assert us["override"]["id"] == rg["id"] and us["override"]["reason"] == "region drain"
    eps = {e["name"]: e for e in x["policy"]["endpoints"]}
    assert eps["us6"]["state"]["forced_by"]["id"] == ep["id"]  # its own beats the region's
    x = a.get("/v1/explain?name=fo.example.com.&type=A", token=READ_TOKEN).json
    eps = {e["name"]: e for e in x["policy"]["endpoints"]}
    assert eps["us1"]["state"]["forced_by"]["id"] == az["id"]  # the az's beats the region's
    assert eps["us2"]["state"]["forced_by"]["id"] == rg["id"]
    # Status shows the same.
    s = a.get("/v1/status", token=READ_TOKEN).json
    us = [r for r in s["regions"] if r["name"] == "us"][0]
    forced = {(e["pool"], e["name"]): e["state"]["forced_by"]["id"] for e in us["endpoints"]}
    assert forced[("web", "us6")] == ep["id"] and forced[("hp", "h-us1")] == rg["id"], forced
    az_eps = {e["name"]: e for z in us["azs"] for e in z["endpoints"]}
    assert az_eps["us1"]["state"]["forced_by"]["id"] == az["id"]
    # gtmctl explain names them.
    p = gtmctl("--server", a.url, "--token-file", g.workdir + "/read.token", "explain",
               "fo.example.com.")
    assert p.returncode == 0, p
    assert "forced down by an override (%s by operate, never expires: region drain)" % rg["id"] \
        in p.stdout, p.stdout
    assert "az us-1a forced down (%s by operate, until " % az["id"] in p.stdout, p.stdout
    p = gtmctl("--server", a.url, "--token-file", g.workdir + "/read.token", "explain",
               "fo.example.com.", "AAAA")
    assert "endpoint web/us6 forced down (%s" % ep["id"] in p.stdout, p.stdout


def test_reason_over_1024_octets_says_so(shared):
    g, a = shared
    r = a.override("region:us", reason="r" * 1025)
    assert r.status == 400 and r.code == "bad_request", r
    assert r.json["error"]["message"] == '"reason" must be at most 1024 octets (got 1025)', r
    r = a.override("region:us", reason="\u00e9" * 513)  # 1026 octets, 513 characters
    assert r.status == 400 and "at most 1024 octets (got 1026)" in r.json["error"]["message"]
    r = a.override("region:us", reason="")
    assert r.json["error"]["message"] == '"reason" must be a non-empty string', r
    assert a.overrides() == []


# ---- message framing and tokens (issue #37, findings 6 and 7) ---------------

def replies_in(out):
    """The status codes of every HTTP reply in a stream of octets (a JSON
    body ends in a newline: the next status line may follow it at once)."""

    return [int(m) for m in re.findall(rb"HTTP/1\.1 (\d{3}) ", out)]


@pytest.mark.parametrize("lengths", [(2, 63), (2, 2)], ids=["conflicting", "equal"])
def test_two_content_lengths_are_400_and_closed(shared, lengths):
    """Two Content-Length headers (RFC 9112 6.3): 400 and the connection
    closed. libevent took the first and read the octets after it as a second
    request: an override body of "{}" answered 400 and a smuggled
    request behind it 201, two replies on the old code (this test failed
    there: replies [400, 201])."""
    g, a = shared
    smuggled = json.dumps({"target": "region:ap", "state": "down", "reason": "smuggled",
                           "force": True}).encode()
    second = (b"POST /v1/overrides HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " +
              OPERATE_TOKEN.encode() + b"\r\nContent-Length: %d\r\n\r\n" % len(smuggled) +
              smuggled)
    first = ("POST /v1/overrides HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer %s\r\n"
             "Content-Type: application/json\r\nContent-Length: %d\r\nContent-Length: %d\r\n\r\n"
             % (OPERATE_TOKEN, lengths[0], lengths[1])).encode() + b"{}"
    out = raw(a, first + second)
    assert replies_in(out) == [400], out[:600]
    hdr = json_error(out, 400, "bad_request")
    assert hdr.get(b"connection", b"").lower() == b"close", out[:400]
    assert b"more than one Content-Length" in out, out[:600]
    assert a.overrides() == [], "the smuggled request was applied"
    # One Content-Length still works on the same listener.
    assert a.get("/v1/status", token=READ_TOKEN).status == 200


def test_two_transfer_encodings_are_400(shared):
    g, a = shared
    out = raw(a, b"POST /v1/overrides HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip\r\n"
                 b"Transfer-Encoding: chunked\r\n\r\n2\r\n{}\r\n0\r\n\r\n")
    assert replies_in(out) == [400], out[:400]
    json_error(out, 400, "bad_request")


@pytest.mark.parametrize("scheme", ["bearer", "BEARER", "Bearer  "])
def test_bearer_scheme_is_case_insensitive(shared, scheme):
    """RFC 9110 11.1: the scheme is case-insensitive (the Alertmanager path
    is in test_verdicts.py)."""
    g, a = shared
    r = a.get("/v1/status", token=None, headers={"Authorization": scheme + " " + READ_TOKEN})
    assert r.status == 200, r
    r = a.get("/v1/status", token=None, headers={"Authorization": "Bearerx " + READ_TOKEN})
    assert r.status == 401, r


def test_token_prefixes_and_extensions_are_refused(shared):
    """Compared by digest: a prefix, an extension or the empty token of the
    right length class never passes."""
    g, a = shared
    for t in (READ_TOKEN[:-1], READ_TOKEN + "x", "", READ_TOKEN.upper(), OPERATE_TOKEN[1:]):
        assert a.get("/v1/status", token=t).status == 401, t

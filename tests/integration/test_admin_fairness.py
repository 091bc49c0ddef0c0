"""Admin fairness with the real binary (issue #24): read clients holding
every place they may (event streams and kept-alive connections, over TCP
and the unix socket) never lock the operate token out. The operate token
gets a 2xx within a second, from the reserve and then by displacing the
idlest read connection; read clients beyond their share, and read streams
beyond max_streams, get the documented JSON 503.

Every wait and loop is bounded."""
import http.client
import json
import socket
import subprocess
import time

from adminlib import OPERATE_TOKEN, READ_TOKEN, UnixHTTPConnection, config_fn, start
from conftest import GTMD

CAP, RESERVE, STREAMS = 12, 2, 4


def keepalive(a, via_unix=False):
    if via_unix:
        return UnixHTTPConnection(a.unix, timeout=5)
    return http.client.HTTPConnection("127.0.0.1", a.port, timeout=5)


def ask(c, path="/v1/status", token=READ_TOKEN, method="GET", body=None):
    h = {"Authorization": "Bearer " + token} if token else {}
    if body is not None:
        h["Content-Type"] = "application/json"
    c.request(method, path, body=body, headers=h)
    r = c.getresponse()
    data = r.read()
    try:
        j = json.loads(data)
    except ValueError:
        j = None
    return r.status, {k.lower(): v for k, v in r.getheaders()}, j


def is_busy(status, headers, j, close=True):
    return (status == 503 and isinstance(j, dict) and j["error"]["code"] == "busy" and
            headers.get("content-type", "").startswith("application/json") and
            (not close or headers.get("connection", "").lower() == "close"))


def open_stream(a, via_unix=False):
    """A GET /v1/events with the read token; (socket, status, head+body read)."""
    if via_unix:
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.settimeout(5)
        s.connect(a.unix)
    else:
        s = socket.create_connection(("127.0.0.1", a.port), timeout=5)
    s.sendall(("GET /v1/events HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer %s\r\n\r\n"
               % READ_TOKEN).encode())
    data = b""
    deadline = time.monotonic() + 5
    while b"\r\n\r\n" not in data and time.monotonic() < deadline:
        d = s.recv(4096)
        if not d:
            break
        data += d
    status = int(data.split(b" ", 2)[1]) if data.startswith(b"HTTP/1.1 ") else None
    return s, status, data


def still_open(s):
    """True when the peer has not closed s (nothing or data waiting, no EOF)."""
    s.setblocking(False)
    try:
        return s.recv(65536, socket.MSG_PEEK) != b""
    except BlockingIOError:
        return True
    finally:
        s.settimeout(5)


def operate_within_a_second(a, via_unix=False, n=0):
    """A new connection with the operate token: a POST then a GET, each 2xx
    within a second. Returns the seconds the POST took."""
    t0 = time.monotonic()
    body = {"target": "endpoint:web/us1", "state": "down", "reason": "fairness %d" % n,
            "dry_run": True}
    r = a.post("/v1/overrides", body, via_unix=via_unix)
    took = time.monotonic() - t0
    assert r.status // 100 == 2, r
    assert took < 1.0, took
    t0 = time.monotonic()
    r = a.get("/v1/status", via_unix=via_unix)
    assert r.status == 200 and time.monotonic() - t0 < 1.0, r
    return took


def test_read_clients_never_lock_out_the_operate_token(make_gtmd):
    g, a = start(make_gtmd, unix=True, max_connections=CAP, operate_reserve=RESERVE,
                 max_streams=STREAMS, timeout=30)
    held = []
    try:
        # Read streams, up to max_streams, half over each transport.
        streams = [open_stream(a, via_unix=i % 2 == 1) for i in range(STREAMS)]
        held += [s for s, _, _ in streams]
        assert [st for _, st, _ in streams] == [200] * STREAMS, streams
        # One more read stream: 503 busy, a JSON error naming the limit.
        s, st, data = open_stream(a)
        s.close()
        head, _, body = data.partition(b"\r\n\r\n")
        assert st == 503 and b"application/json" in head, data
        assert b'"busy"' in body and b"max %d" % STREAMS in body, data
        time.sleep(0.2)  # its place is given back once gtmd sees the close
        # Read keep-alive connections on the rest of the shared places.
        readers = []
        for i in range(CAP - RESERVE - STREAMS):
            c = keepalive(a, via_unix=i % 2 == 1)
            st, _, j = ask(c)
            assert st == 200, (i, st, j)
            readers.append(c)
        # Every shared place is held: more read clients get 503 busy, on
        # TCP and on the unix socket.
        for via_unix in (False, True):
            c = keepalive(a, via_unix)
            assert is_busy(*ask(c)), via_unix
            c.close()
        # Silent connections (no request yet) hold no place either.
        for _ in range(CAP):
            held.append(socket.create_connection(("127.0.0.1", a.port), timeout=5))
        # The operate token gets through, from the reserve, on both.
        took = [operate_within_a_second(a, via_unix=u, n=i)
                for i, u in enumerate((False, True))]
        # Operators hold the reserve too (kept alive, idle): the next
        # operate request takes the place of the idlest read connection.
        ops = []
        for _ in range(RESERVE):
            c = keepalive(a)
            assert ask(c, token=OPERATE_TOKEN)[0] == 200
            ops.append(c)
        took.append(operate_within_a_second(a, n=3))
        took.append(operate_within_a_second(a, via_unix=True, n=4))
        # One reader (the idlest: the first) lost its place (the later
        # operate calls took the place each closed connection gave back):
        # its next request is 503 busy, not EOF; the others still work.
        results = [ask(c) for c in readers]
        busy = [is_busy(*r) for r in results]
        assert busy == [True] + [False] * (len(readers) - 1), results
        assert all(r[0] == 200 for r in results[1:]), results
        # The operators' own connections kept their places.
        for c in ops:
            assert ask(c, token=OPERATE_TOKEN)[0] == 200
        # The streams were not touched.
        assert all(still_open(s) for s, _, _ in streams)
        # /metrics tells the story.
        m = a.get("/metrics", token=READ_TOKEN).body.decode()
        assert 'gtmd_admin_streams{token="read"} %d' % STREAMS in m, m[-1500:]
        assert 'gtmd_admin_displaced_total{token="read"} 1' in m, m[-1500:]
        assert 'gtmd_admin_busy_total{limit="streams"} 1' in m, m[-1500:]
        assert 'gtmd_admin_busy_total{limit="connections"} 2' in m, m[-1500:]
        assert 'gtmd_admin_connections{token="operate"} %d' % RESERVE in m, m[-1500:]
        print("\nMEASURE operate POST latency with every read place held: %s s"
              % ", ".join("%.3f" % t for t in took))
        for c in readers + ops:
            c.close()
    finally:
        for s in held:
            s.close()
    assert a.get("/v1/health", token=None).status == 200


def test_limits_are_checked(make_gtmd):
    """operate_reserve must leave read clients a place: gtmd check names
    the key."""
    g = make_gtmd(config_fn(max_connections=4, operate_reserve=4), start=False)
    g.write_config()
    p = subprocess.run([GTMD, "check", "-c", g.conf_path], capture_output=True, text=True,
                       timeout=10)
    assert p.returncode != 0, p
    assert "$.admin.operate_reserve" in p.stdout + p.stderr, p


def test_the_issue_with_the_default_limits(make_gtmd):
    """Issue #24 as reported, with the default limits (64 places, 8 kept
    for the operate token, 28 streams per role): 64 read streams, then 64
    read keep-alive connections, over TCP; the operate token still gets a
    2xx within a second, over TCP and the unix socket."""
    g, a = start(make_gtmd, unix=True, timeout=30)
    held = []
    try:
        statuses = []
        for i in range(64):
            s, st, data = open_stream(a, via_unix=i % 4 == 3)
            statuses.append(st)
            if st == 200:
                held.append(s)
            else:
                assert b'"busy"' in data, data
                s.close()
        assert statuses.count(200) == 28 and statuses.count(503) == 36, statuses
        time.sleep(0.5)  # the refused streams' connections are gone
        readers, refused = [], 0
        for i in range(64):
            c = keepalive(a, via_unix=i % 4 == 3)
            r = ask(c)
            if r[0] == 200:
                readers.append(c)
            else:
                assert is_busy(*r), r
                refused += 1
                c.close()
        assert len(readers) == 64 - 8 - 28 and refused == 64 - len(readers), (len(readers),
                                                                              refused)
        took = [operate_within_a_second(a, via_unix=u, n=i) for i, u in enumerate((False, True))]
        print("\nMEASURE defaults: 28 read streams + 28 read keep-alive held, 72 refused; "
              "operate POST in %s s" % ", ".join("%.3f" % t for t in took))
        for c in readers:
            c.close()
    finally:
        for s in held:
            s.close()

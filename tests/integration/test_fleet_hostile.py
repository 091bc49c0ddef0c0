"""gtmd's etcd client against a fake etcd (http.server on loopback) that
answers what a broken or hostile server could: a reply body far larger
than any real one, far more node names than a fleet has, garbage of every
type, keys with odd bytes, and a watch stream that never ends an object.
gtmd must stay up, keep answering DNS and its API, and keep its memory
bounded. Every wait is bounded."""
import base64
import http.server
import json
import socketserver
import threading
import time

import pytest

from backends import poll
from conftest import free_port
from fleetlib import be, made, start_node  # noqa: F401 (be, made: fixtures)

PREFIX = "/gtmd/it/"


def b64(s):
    return base64.b64encode(s if isinstance(s, bytes) else s.encode()).decode()


def kv(key, value, rev=3):
    return {"key": b64(PREFIX.encode() + key if isinstance(key, bytes) else PREFIX + key),
            "value": b64(value), "mod_revision": str(rev)}


def range_reply(header, kvs):
    """What etcd answers gtmd's fresh read, a /v3/kv/range per page (the
    top-level kvs, no "more": the last page), and also, as a transaction
    of ranges, the node record's put and read-back (its kvs in the
    first)."""
    return {"header": header, "succeeded": True, "kvs": kvs,
            "responses": [{"response_range": {"kvs": kvs}}, {"response_range": {}}]}


class FakeEtcd:
    """Answers the v3 JSON gateway's calls. range(handler) writes the reply
    to the fresh read (its pages, /v3/kv/range, and a /v3/kv/txn of
    ranges, counted as "range" in calls); watch(handler) writes the /v3/watch stream body (chunked) and
    returns when it is done."""

    def __init__(self, range_fn, watch_fn=None):
        self.range_fn = range_fn
        self.watch_fn = watch_fn
        self.calls = []
        self.bodies = []  # (path, request body) of every call
        self.stop_flag = threading.Event()
        outer = self

        class H(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self):
                n = int(self.headers.get("Content-Length") or 0)
                req = self.rfile.read(n)
                outer.bodies.append((self.path, req))
                read = (self.path == "/v3/kv/txn" and b"request_range" in req) or \
                    self.path == "/v3/kv/range"
                outer.calls.append("range" if read else self.path)
                try:
                    if read:
                        outer.range_fn(self)
                    elif self.path == "/v3/watch":
                        self.send_response(200)
                        self.send_header("Content-Type", "application/json")
                        self.send_header("Transfer-Encoding", "chunked")
                        self.end_headers()
                        if outer.watch_fn:
                            outer.watch_fn(self, outer.stop_flag)
                        else:
                            outer.stop_flag.wait(30)
                        self.wfile.write(b"0\r\n\r\n")
                    elif self.path in ("/v3/lease/grant", "/v3/lease/keepalive"):
                        body = {"header": {"revision": "2"}, "ID": "7", "TTL": "10"}
                        if self.path.endswith("keepalive"):
                            body = {"result": body}
                        self.json(body)
                    else:
                        self.json({"header": {"revision": "2"}, "succeeded": True})
                except (BrokenPipeError, ConnectionResetError):
                    pass

            def json(self, obj):
                data = json.dumps(obj).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *a):
                pass

        class S(socketserver.ThreadingMixIn, http.server.HTTPServer):
            daemon_threads = True

        self.srv = S(("127.0.0.1", free_port()), H)
        self.url = "http://127.0.0.1:%d" % self.srv.server_address[1]
        threading.Thread(target=self.srv.serve_forever, daemon=True).start()

    def stop(self):
        self.stop_flag.set()
        self.srv.shutdown()
        self.srv.server_close()


def chunk(h, data):
    h.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))
    h.wfile.flush()


def hwm_kib(g):
    with open("/proc/%d/status" % g.proc.pid) as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    return 0


def serving(n):
    return n.get("/v1/health")[0] == 200 and n.answer() == ["127.0.0.31"]


def test_huge_range_reply_is_refused_not_held(be, made):
    """A 400 MiB reply to the range: the call fails (and is retried), the
    memory of gtmd does not grow by the size of the body."""
    big = 400 * 1024 * 1024
    go = threading.Event()  # the baseline is taken before the first body

    def range_fn(h):
        go.wait(10)
        h.send_response(200)
        h.send_header("Content-Type", "application/json")
        h.send_header("Content-Length", str(big))
        h.end_headers()
        block = b" " * (1 << 20)
        h.wfile.write(b"{")
        for _ in range(big // len(block)):
            h.wfile.write(block)
    fake = FakeEtcd(range_fn)
    try:
        n = start_node(made, [fake.url], 1, be["port"])
        base = hwm_kib(n)
        go.set()
        ok, _ = poll(lambda: fake.calls.count("range") >= 3, 20.0)
        assert ok, fake.calls
        assert serving(n)
        grew = hwm_kib(n) - base
        assert grew < 200 * 1024, "gtmd grew by %d KiB on a %d-octet reply" % (grew, big)
        assert n.fleet()["connection"] != "synced"
    finally:
        fake.stop()


def test_more_node_names_than_a_fleet_has(be, made):
    """70000 node keys (more than a node index can hold): gtmd keeps at
    most FLEET_NODES_MAX (1024) of them, itself included, and syncs."""
    kvs = [kv("nodes/x%d" % i, json.dumps({"version": "1", "config_hash": "h",
                                            "last_seen": time.time()})) for i in range(70000)]
    body = json.dumps(range_reply({"revision": "3"}, kvs))

    def range_fn(h):
        data = body.encode()
        h.send_response(200)
        h.send_header("Content-Type", "application/json")
        h.send_header("Content-Length", str(len(data)))
        h.end_headers()
        h.wfile.write(data)
    fake = FakeEtcd(range_fn)
    try:
        n = start_node(made, [fake.url], 1, be["port"])
        # A fresh read was applied: its node keys are known. ("synced" is
        # not the sign here: this fake etcd's watch never delivers the
        # node's heartbeat, so the view is current only for a moment after
        # each read, which a slow build, parsing 70,000 keys under ASan,
        # may never show.) The bound is wide: this is not a measure of
        # speed, and on a loaded 2-core machine an ASan build once took
        # more than 20 s to parse and apply 70,000 keys.
        ok, _ = poll(lambda: len((n.fleet() or {}).get("nodes", [])) > 1, 120.0, 0.2)
        assert ok, n.fleet()
        nodes = n.fleet()["nodes"]
        assert 1 <= len(nodes) <= 1024, len(nodes)
        assert [x["name"] for x in nodes if x["self"]] == ["n1"]
        assert serving(n)
    finally:
        fake.stop()


def test_garbage_replies_and_an_endless_watch_object(be, made):
    """Wrong types everywhere, keys with odd bytes, non-JSON values, then a
    watch stream whose object never ends (beyond ETCD_STREAM_MAX)."""
    odd = [
        {"key": 5, "value": []}, {"key": "not base64!", "value": "x"}, "a string", 7, None,
        {"key": b64(b"\x00\xff"), "value": b64("{")},
        kv(b"nodes/\x00\xff\n", "{}"), kv(b"obs/web/us1/\xff", '{"s": 5, "t": "x"}'),
        kv("obs/web/us1/n9", '{"s": "down", "t": {"a": 1}}'),
        kv("nodes/n9", '{"version": 1, "config_hash": [], "last_seen": "x", "vantage": 3}'),
        kv("nodes/n8", "[1, 2]"), kv("seq/overrides", "not a number"),
        kv("overrides/abc", '{"ends": "soon", "active": 4}'), kv("drills/x", "null"),
        {"key": b64(PREFIX + "nodes/n7"), "value": "====", "mod_revision": {"x": 1}},
    ]
    replies = [b"not json at all", b"[]", b'{"responses": "x", "header": 5}',
               b'{"responses": [{"response_range": {"kvs": "x"}}, 7, null]}',
               json.dumps(range_reply({"revision": []}, odd)).encode()]
    served = []

    def range_fn(h):
        data = replies[min(len(served), len(replies) - 1)]
        served.append(1)
        h.send_response(200)
        h.send_header("Content-Type", "application/json")
        h.send_header("Content-Length", str(len(data)))
        h.end_headers()
        h.wfile.write(data)

    watched = []

    def watch_fn(h, stop):
        watched.append(1)
        chunk(h, b'{"result": {"created": true, "header": {"revision": "3"}}}\n')
        chunk(h, json.dumps({"result": {"events": "x", "header": []}}).encode())
        chunk(h, json.dumps({"result": {"events": [{"type": 3, "kv": odd[i]}
                                                   for i in range(len(odd))]}}).encode())
        chunk(h, json.dumps({"result": {"canceled": True, "compact_revision": "zz"}}).encode())
        if len(watched) > 1:
            stop.wait(30)
            return
        # An object that never ends: more than ETCD_STREAM_MAX (16 MiB).
        chunk(h, b'{"result": {"events": [')
        block = b'"' + b"a" * 65534 + b'",'
        for _ in range(300):
            if stop.is_set():
                return
            chunk(h, block)
        stop.wait(30)
    fake = FakeEtcd(range_fn, watch_fn)
    try:
        n = start_node(made, [fake.url], 1, be["port"])
        ok, _ = poll(lambda: len(served) >= 5 and len(watched) >= 2, 30.0)
        assert ok, (len(served), len(watched), n.read_log()[-2000:])
        assert serving(n)
        st, body = n.get("/v1/status")
        assert st == 200 and body["fleet"]["node"] == "n1"
        assert hwm_kib(n) < 400 * 1024
    finally:
        fake.stop()


def test_watch_resumes_from_what_it_delivered_not_the_created_header(be, made):
    """etcd's "created" reply carries the member's revision (here 50), from
    before the catch-up events from start_revision are sent. A stream that
    ends right after it must resume from the same start_revision (the
    read's revision + 1 = 4), not from 51: the events 4..50 were never
    delivered (issue #54; fleet_session_watch_rev)."""
    def range_fn(h):
        h.json(range_reply({"revision": "3"}, []))

    watched = []

    def watch_fn(h, stop):
        watched.append(1)
        chunk(h, b'{"result": {"created": true, "header": {"revision": "50"}}}\n')
        if len(watched) > 1:
            stop.wait(30)
        # The first stream ends here (the handler writes the last chunk).
    fake = FakeEtcd(range_fn, watch_fn)
    try:
        n = start_node(made, [fake.url], 1, be["port"])
        ok, _ = poll(lambda: len(watched) >= 2, 15.0)
        assert ok, (fake.calls, n.read_log()[-2000:])
        starts = [json.loads(b)["create_request"]["start_revision"]
                  for p, b in list(fake.bodies) if p == "/v3/watch"]
        assert starts[:2] == [4, 4], starts
        assert "event=fleet_watch_restart node=n1" in n.read_log()
    finally:
        fake.stop()


def test_a_trickled_reply_does_not_stall_the_sync(be, made):
    """The first range reply comes one octet every 0.3 s (each read within
    the 1 s timeout, the whole in 5 minutes): the call is given up after a
    bound, retried, and the node syncs with the next, normal reply."""
    ranges = []

    def range_fn(h):
        ranges.append(1)
        data = json.dumps(range_reply({"revision": "3"}, [])).encode()
        if len(ranges) == 1:
            data = data + b" " * 1000
        h.send_response(200)
        h.send_header("Content-Type", "application/json")
        h.send_header("Content-Length", str(len(data)))
        h.end_headers()
        if len(ranges) > 1:
            h.wfile.write(data)
            return
        for i in range(len(data)):
            if fake.stop_flag.wait(0.3):
                return
            h.wfile.write(data[i:i + 1])
            h.wfile.flush()
    fake = FakeEtcd(range_fn)
    try:
        n = start_node(made, [fake.url], 1, be["port"], timeout=1)
        ok, _ = poll(lambda: (n.fleet() or {}).get("connection") == "synced", 20.0)
        assert ok, (len(ranges), n.fleet())
        assert len(ranges) >= 2
        assert serving(n)
    finally:
        fake.stop()

"""GET /v1/events against the real binary: Server-Sent Events with
increasing ids for override changes and reloads, the read token needed,
resuming with Last-Event-ID, a slow consumer dropped while a reading one
keeps every event, and gtmctl watch printing the stream. Every wait is
bounded."""
import json
import select
import socket
import subprocess
import time

import pytest

from adminlib import GTMCTL, OPERATE_TOKEN, READ_TOKEN, start
from backends import backends, free_port_on, poll  # noqa: F401


class Stream:
    """A raw SSE reader over one TCP connection (the server's bytes as
    sent: chunked framing is stripped only to find the events)."""

    def __init__(self, a, token=READ_TOKEN, last_id=None, rcvbuf=None):
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        if rcvbuf:
            self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
        self.sock.settimeout(5)
        self.sock.connect(("127.0.0.1", a.port))
        hdr = "GET /v1/events HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer %s\r\n" % token
        if last_id is not None:
            hdr += "Last-Event-ID: %s\r\n" % last_id
        self.sock.sendall((hdr + "\r\n").encode())
        self.buf = b""
        self.head = None
        self.events = []

    def pump(self, timeout=0.2):
        """Reads what is there; False on EOF."""
        r, _, _ = select.select([self.sock], [], [], timeout)
        if not r:
            return True
        try:
            data = self.sock.recv(65536)
        except (ConnectionResetError, OSError):
            return False
        if not data:
            return False
        self.buf += data
        if self.head is None and b"\r\n\r\n" in self.buf:
            self.head, self.buf = self.buf.split(b"\r\n\r\n", 1)
        self._parse()
        return True

    def _parse(self):
        # Chunk-size lines are alone on their line and hex; SSE lines are
        # "field: value". Keep only the SSE lines.
        while b"\n\n" in self.buf:
            block, self.buf = self.buf.split(b"\n\n", 1)
            fields = {}
            for line in block.decode().splitlines():
                line = line.strip("\r")
                if ": " in line and not line.startswith(":"):
                    k, v = line.split(": ", 1)
                    fields[k] = v
            if "id" in fields:
                self.events.append((int(fields["id"]), fields["event"],
                                    json.loads(fields["data"])))

    def wait_for(self, pred, timeout=5.0):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if any(pred(e) for e in self.events):
                return True
            if not self.pump():
                break
        return any(pred(e) for e in self.events)

    def close(self):
        self.sock.close()


def test_events_ids_overrides_reload_and_auth(make_gtmd):
    g, a = start(make_gtmd)
    r = a.get("/v1/events", token=None)
    assert r.status == 401, r
    s = Stream(a)
    assert s.wait_for(lambda e: False, timeout=0.5) is False
    assert s.head is not None and b" 200 " in s.head.split(b"\r\n")[0]
    assert b"content-type: text/event-stream" in s.head.lower()
    r = a.override("endpoint:web/us1", reason="events test")
    assert r.status == 201, r
    oid = r.json["id"]
    assert s.wait_for(lambda e: e[1] == "override" and e[2]["action"] == "added")
    assert a.delete("/v1/overrides/" + oid).status == 200
    assert a.post("/v1/reload").status == 200
    assert s.wait_for(lambda e: e[1] == "reload")
    assert s.wait_for(lambda e: e[1] == "override" and e[2]["action"] == "removed")
    ids = [e[0] for e in s.events]
    assert ids == sorted(ids) and len(set(ids)) == len(ids), ids
    added = [e for e in s.events if e[1] == "override" and e[2]["action"] == "added"][0][2]
    assert added["target"] == "endpoint:web/us1" and added["override"] == oid
    assert added["reason"] == "events test" and added["state"] == "down"
    reload = [e for e in s.events if e[1] == "reload"][0][2]
    assert reload["result"] == "ok" and isinstance(reload["generation"], int)
    for _, typ, data in s.events:
        assert data["type"] == typ and isinstance(data["time"], float)
    s.close()


def test_events_drill_started_and_ended(make_gtmd):
    g, a = start(make_gtmd)
    s = Stream(a)
    s.pump(0.3)
    r = a.post("/v1/drills", {"regions": ["ap"], "mode": "shadow", "duration": 30,
                              "reason": "events"})
    assert r.status == 201, r
    did = r.json["id"]
    assert s.wait_for(lambda e: e[1] == "drill" and e[2]["action"] == "started")
    assert a.delete("/v1/drills/" + did).status == 200
    assert s.wait_for(lambda e: e[1] == "drill" and e[2]["action"] == "ended")
    started, ended = [e[2] for e in s.events if e[1] == "drill"]
    assert started["drill"] == did and started["mode"] == "shadow"
    assert ended["drill"] == did and ended["result"] == "aborted"
    s.close()


def test_events_drill_progressing(make_gtmd):
    """A live drill's timeline tells its progress: once every affected
    record avoids the lost region (with the RTO), and once the answers
    are restored after the end."""
    g, a = start(make_gtmd)
    s = Stream(a)
    s.pump(0.3)
    r = a.post("/v1/drills", {"regions": ["us"], "mode": "live", "duration": 30,
                              "reason": "events progress"})
    assert r.status == 201, r
    did = r.json["id"]

    def progress(state):
        return lambda e: (e[1] == "drill" and e[2]["action"] == "progressing"
                          and e[2]["timeline"] == state)
    assert s.wait_for(progress("holding"), 5.0), s.events
    assert a.delete("/v1/drills/" + did).status == 200
    assert s.wait_for(progress("done"), 5.0), s.events
    acts = [(e[2]["action"], e[2].get("timeline")) for e in s.events if e[1] == "drill"]
    # (A hook's event and the drill thread's measure race: no order.)
    assert sorted(acts, key=str) == sorted([("started", None), ("progressing", "holding"),
                                            ("ended", None), ("progressing", "done")],
                                           key=str), acts
    held = [e[2] for e in s.events if e[1] == "drill" and e[2].get("timeline") == "holding"][0]
    assert held["drill"] == did and held["mode"] == "live"
    assert isinstance(held["rto"], float) and 0 <= held["rto"] < 2.0, held
    assert held["lost_answers"] == 0
    done = [e[2] for e in s.events if e[1] == "drill" and e[2].get("timeline") == "done"][0]
    assert isinstance(done["restore_rto"], float), done
    s.close()


@pytest.mark.threads
def test_events_health_transition_of_a_killed_backend(make_gtmd, backends):
    addr = "127.0.0.41"
    port = free_port_on([addr])
    be = backends.tcp(addr, port)

    def mutate(c, workdir):
        c["checks"] = {"t": {"type": "tcp", "port": port, "interval": 0.2, "timeout": 0.1,
                             "rise": 1, "fall": 1}}
        c["pools"]["live"] = {"check": "t", "endpoints": [
            {"name": "k1", "address": addr, "region": "us"}]}
        c["records"]["live.example.com."] = {"pool": "live", "policy": "all"}

    g, a = start(make_gtmd, mutate=mutate)
    s = Stream(a, last_id=0)  # from the first event kept: the first probe

    def is_health(to):
        return lambda e: (e[1] == "health" and e[2]["key"] == "endpoint:live/k1"
                          and e[2]["to"] == to)

    assert s.wait_for(is_health("up")), s.events
    # The kill's transition comes after the last "up" seen: a slow first
    # probe (timeout 0.1 s, fall 1: it decides alone) on a loaded machine
    # leaves an earlier unknown-to-down event in the stream, which must not
    # stand for it.
    up_id = max(e[0] for e in s.events if is_health("up")(e))

    def is_kill_down(e):
        return is_health("down")(e) and e[0] > up_id
    t0 = time.monotonic()
    be.kill()
    assert s.wait_for(is_kill_down, timeout=5), s.events
    assert time.monotonic() - t0 < 3
    down = [e for e in s.events if is_kill_down(e)][0][2]
    assert down["from"] == "up" and down["layer"] == "probe" and down["why"]
    s.close()


def test_events_resume_with_last_event_id(make_gtmd):
    g, a = start(make_gtmd)
    s = Stream(a)
    s.pump(0.3)
    for i in range(3):
        assert a.override("endpoint:web/us1", reason="r%d" % i).status == 201
    assert s.wait_for(lambda e: e[2].get("reason") == "r2")
    first = s.events[0][0]
    s.close()
    for i in range(3, 6):
        assert a.override("endpoint:web/us1", reason="r%d" % i).status == 201
    s2 = Stream(a, last_id=first)
    assert s2.wait_for(lambda e: e[2].get("reason") == "r5")
    reasons = [e[2]["reason"] for e in s2.events]
    assert reasons == ["r1", "r2", "r3", "r4", "r5"], reasons
    assert [e[0] for e in s2.events] == list(range(first + 1, first + 6))
    r = a.get("/v1/events", headers={"Last-Event-ID": "x1"}, token=READ_TOKEN)
    assert r.status == 400, r
    # A stream still open does not hold up a stop.
    t0 = time.monotonic()
    rc = g.stop()
    assert rc == 0, g.read_log()[-4000:]
    assert time.monotonic() - t0 < 5
    s2.close()


@pytest.mark.threads
def test_events_slow_consumer_dropped(make_gtmd):
    g, a = start(make_gtmd)
    slow = Stream(a, rcvbuf=4096)
    fast = Stream(a)
    slow.pump(0.3)
    fast.pump(0.3)
    reason = "x" * 900
    n = 0
    deadline = time.monotonic() + 60
    # Pairs of add/delete (each ~1 KiB of events) until gtmd drops the
    # stream that never reads; the reading one drains as it goes.
    while time.monotonic() < deadline and n < 3000:
        r = a.override("endpoint:web/us1", reason=reason)
        assert r.status == 201, r
        assert a.delete("/v1/overrides/" + r.json["id"]).status == 200
        n += 1
        fast.pump(0)
        if n % 100 == 0 and "event=events_drop why=slow_consumer" in g.read_log():
            break
    assert "event=events_drop why=slow_consumer" in g.read_log()
    last = a.override("endpoint:web/us1", reason="last").json["id"]
    assert fast.wait_for(lambda e: e[2].get("override") == last and e[1] == "override", timeout=10)
    ids = [e[0] for e in fast.events]
    assert ids == list(range(ids[0], ids[0] + len(ids))), "the reading stream lost events"
    # The slow one reaches its end: what was sent, then EOF or reset.
    slow.sock.settimeout(5)
    alive = True
    deadline = time.monotonic() + 10
    while alive and time.monotonic() < deadline:
        alive = slow.pump(0.5)
    assert not alive, "the dropped stream stayed open"
    assert a.get("/v1/status", token=READ_TOKEN).status == 200
    fast.close()


def test_gtmctl_watch(make_gtmd):
    g, a = start(make_gtmd)
    env = {"GTMCTL_SERVER": a.url, "GTMCTL_TOKEN": READ_TOKEN}
    for args in ((), ("--json",)):
        p = subprocess.Popen([GTMCTL, "watch", *args], stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, env=env, text=True)
        try:
            time.sleep(0.5)
            r = a.override("endpoint:web/us1", reason="watch me", token=OPERATE_TOKEN)
            assert r.status == 201, r
            line = ""
            deadline = time.monotonic() + 5
            while time.monotonic() < deadline and "watch me" not in line:
                rr, _, _ = select.select([p.stdout], [], [], 0.5)
                if rr:
                    line = p.stdout.readline()
            assert "watch me" in line, line
            if args:
                ev = json.loads(line)
                assert ev["type"] == "override" and ev["action"] == "added"
                assert isinstance(ev["id"], int)
            else:
                assert line.split()[1] == "override", line
            a.clear_overrides()
        finally:
            p.terminate()
            p.wait(5)


def test_events_client_gone_while_events_flow(make_gtmd):
    """A client that closes its stream: the next events fail to send, the
    stream is forgotten (nothing leaks: the ASan build fails the stop), and
    new streams still work."""
    g, a = start(make_gtmd)
    s = Stream(a)
    s.pump(0.3)
    s.close()
    for i in range(3):
        assert a.override("endpoint:web/us1", reason="gone%d" % i).status == 201
    s2 = Stream(a, last_id=0)
    assert s2.wait_for(lambda e: e[2].get("reason") == "gone2")
    s2.close()
    time.sleep(0.3)
    rc = g.stop()
    assert rc == 0, g.read_log()[-4000:]


def test_history_of_health_events(make_gtmd, backends):
    """GET /v1/history: the kept events of one type since a time, as JSON,
    with the last id read so a client follows the stream from there and
    misses nothing."""
    addr = "127.0.0.42"
    port = free_port_on([addr])
    be = backends.tcp(addr, port)

    def mutate(c, workdir):
        c["checks"] = {"t": {"type": "tcp", "port": port, "interval": 0.2, "timeout": 0.1,
                             "rise": 1, "fall": 1}}
        c["pools"]["live"] = {"check": "t", "endpoints": [
            {"name": "k1", "address": addr, "region": "us"}]}
        c["records"]["live.example.com."] = {"pool": "live", "policy": "all"}

    g, a = start(make_gtmd, mutate=mutate)
    assert a.get("/v1/history", token=None).status == 401
    for bad in ("since=abc", "since=-1", "since=", "type="):
        r = a.get("/v1/history?" + bad, token=READ_TOKEN)
        assert r.status == 400 and r.code == "bad_request", (bad, r)

    def k1(h, to):
        return [e for e in h["events"] if e["key"] == "endpoint:live/k1" and e["to"] == to]

    def history(q="type=health"):
        r = a.get("/v1/history?" + q, token=READ_TOKEN)
        assert r.status == 200, r
        return r.json
    ok, _ = poll(lambda: k1(history(), "up"), 5.0)
    assert ok, history()
    assert a.override("endpoint:web/us1", reason="history test").status == 201
    be.kill()
    ok, _ = poll(lambda: k1(history(), "down"), 5.0)
    assert ok, history()
    h = history()
    # Only health events, oldest first, each as the stream sends it.
    assert h["events"] and all(e["type"] == "health" for e in h["events"])
    ids = [e["id"] for e in h["events"]]
    assert ids == sorted(ids)
    down = k1(h, "down")[-1]
    assert down["from"] == "up" and down["why"] == "fall threshold reached"
    assert h["complete"] is True and h["kept_from"] <= h["events"][0]["time"]
    assert abs(h["since"] - (time.time() - 3600)) < 60  # default: the last hour
    # last_id covers every kept event, of any type: the override is in it.
    everything = history("")
    assert {e["type"] for e in everything["events"]} >= {"health", "override"}
    assert everything["last_id"] == max(e["id"] for e in everything["events"])
    assert h["last_id"] >= max(ids)
    # since: only what came after.
    later = history("type=health&since=%f" % (down["time"] + 0.000001))
    assert down["id"] not in [e["id"] for e in later["events"]]
    assert [e for e in history("type=health&since=%f" % down["time"])["events"]
            if e["id"] == down["id"]]
    # A stream started from last_id gets the next event and none twice.
    s = Stream(a, last_id=everything["last_id"])
    assert a.post("/v1/reload").status == 200
    assert s.wait_for(lambda e: e[1] == "reload")
    assert all(e[0] > everything["last_id"] for e in s.events)
    s.close()

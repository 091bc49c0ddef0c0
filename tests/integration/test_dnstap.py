"""dnstap (doc/dnstap.md): gtmd's AUTH_QUERY and AUTH_RESPONSE messages,
read back by the real readers: fstrm_capture on the unix socket gtmd
connects to, dnstap-ldns decoding the file it wrote.

- every query of a run, over UDP and over TCP, and every response, is in
  the capture and decodes, with its addresses, ports, transport, identity
  and the message itself; the counters say as many frames as the reader
  got;
- sampling logs exactly one query in N (with its response), only the
  listeners the section names log, and a reload changes what is logged;
- a reader that stops reading, or none at all, never stops or slows the
  answers: every query is answered at once and the messages that could
  not be logged are counted, dropped or no_reader."""
import os
import re
import signal
import socket
import struct
import subprocess
import threading
import time

import dns.message
import dns.query
import dns.rcode
import pytest

from adminlib import Admin, admin_port, admin_section
from conftest import GTMD, default_config, free_port, stop_process

pytestmark = pytest.mark.skipif(
    subprocess.run(["sh", "-c", "command -v fstrm_capture && command -v dnstap-ldns"],
                   capture_output=True).returncode != 0,
    reason="fstrm_capture or dnstap-ldns missing (sh contrib/deps.sh test)")

CONTENT_TYPE = "protobuf:dnstap.Dnstap"


class Capture:
    """fstrm_capture listening on SOCK in workdir, writing capture.fstrm."""

    def __init__(self, workdir):
        self.sock = os.path.join(workdir, "dnstap.sock")
        self.out = os.path.join(workdir, "capture.fstrm")
        self.log = open(os.path.join(workdir, "capture.log"), "ab")
        self.proc = subprocess.Popen(["fstrm_capture", "-t", CONTENT_TYPE, "-u", self.sock,
                                      "-w", self.out], stdout=self.log, stderr=self.log)
        deadline = time.monotonic() + 5
        while not os.path.exists(self.sock) and time.monotonic() < deadline:
            time.sleep(0.02)
        assert os.path.exists(self.sock), "fstrm_capture did not listen"

    def stop(self):
        """Stops it (SIGINT: it writes and closes its file)."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGCONT)
            self.proc.send_signal(signal.SIGINT)
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                stop_process(self.proc)
        self.log.close()

    def frames(self):
        """The frames of the file as dnstap-ldns decodes them (YAML), each a
        dict: type, protocol, query_address, response_address,
        response_port, identity, id, qname, rcode."""
        r = subprocess.run(["dnstap-ldns", "-y", "-r", self.out], capture_output=True,
                           text=True, timeout=30)
        assert r.returncode == 0, r.stderr
        out = []
        for doc in r.stdout.split("\n---\n"):
            if not doc.strip():
                continue
            f = {}
            for key in ("type", "socket_protocol", "socket_family", "query_address",
                        "response_address", "response_port", "query_port", "identity"):
                # The message's keys are indented under "message:".
                indent = "" if key == "identity" else "  "
                m = re.search(r"^%s%s: \"?([^\"\n]*)\"?$" % (indent, key), doc, re.M)
                f[key] = m.group(1) if m else None
            m = re.search(r"opcode: QUERY, rcode: (\w+), id: (\d+)", doc)
            f["rcode"], f["id"] = (m.group(1), int(m.group(2))) if m else (None, None)
            m = re.search(r"^\s*;([^\s;]\S*)\s+IN\s", doc, re.M)
            f["qname"] = m.group(1) if m else None
            out.append(f)
        return out


def dnstap_config(**section):
    def fn(workdir, port):
        c = default_config(workdir, port)
        c["workers"] = 1  # one UDP thread per address: sampling counts are exact
        c["admin"] = admin_section(workdir, admin_port(port))
        c["dnstap"] = {"socket": "dnstap.sock", "identity": "dt-test"}
        c["dnstap"].update(section)
        return c
    return fn


def metric(a, result):
    r = a.get("/metrics")
    assert r.status == 200, r
    m = re.search(r'^gtmd_dnstap_messages_total\{result="%s"\} (\d+)$' % result,
                  r.body.decode(), re.M)
    return int(m.group(1))


def wait_connected(a, want=True, timeout=10.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        st = a.get("/v1/status").json["dnstap"]
        if st["connected"] == want:
            return st
        time.sleep(0.05)
    raise AssertionError("dnstap reader connected is not %s: %r" % (want, st))


def start_with_capture(make_gtmd, **section):
    g = make_gtmd(dnstap_config(**section), start=False)
    cap = Capture(g.workdir)
    g.start()
    a = Admin.of(g)
    a.wait_ready()
    wait_connected(a)
    return g, a, cap


def test_every_query_and_response_over_udp_and_tcp(make_gtmd):
    g, a, cap = start_with_capture(make_gtmd)
    sent = []  # (qname, id, protocol, rcode)
    try:
        for i in range(40):
            name = "u%d.example.com." % i if i % 4 else "www.example.com."
            r = g.query(name, "A")
            sent.append((name, r.id, "UDP", dns.rcode.to_text(r.rcode())))
        for i in range(20):
            name = "t%d.example.com." % i if i % 4 else "mail.example.com."
            r = g.query(name, "A", tcp=True)
            sent.append((name, r.id, "TCP", dns.rcode.to_text(r.rcode())))
        queued = metric(a, "queued")
        assert metric(a, "dropped") == 0 and metric(a, "no_reader") == 0
    finally:
        g.stop()  # writes what is queued
        cap.stop()
    frames = cap.frames()
    assert len(frames) == queued, "every queued frame reached the reader and decodes"
    for name, qid, proto, rcode in sent:
        for kind in ("AUTH_QUERY", "AUTH_RESPONSE"):
            got = [f for f in frames if f["type"] == kind and f["id"] == qid and
                   f["qname"] == name and f["socket_protocol"] == proto]
            assert len(got) == 1, (kind, name, qid, proto)
            f = got[0]
            assert f["socket_family"] == "INET" and f["query_address"] == "127.0.0.1"
            assert f["response_address"] == "127.0.0.1" and int(f["response_port"]) == g.port
            assert f["identity"] == "dt-test"
            if kind == "AUTH_RESPONSE":
                assert f["rcode"] == rcode


def test_sampling_listeners_and_reload(make_gtmd):
    """One query in 5 on the named listener, queries only; the second
    listen address is not named and logs nothing. A reload to every
    query with responses applies at once."""
    g = make_gtmd(dnstap_config(), start=False)
    port2 = free_port()
    first = "127.0.0.1:%d" % g.port
    g.config["listen"].append("127.0.0.1:%d" % port2)
    g.config["dnstap"]["listeners"] = {first: {"sample": 5, "responses": False}}
    cap = Capture(g.workdir)
    g.start()
    a = Admin.of(g)
    a.wait_ready()
    wait_connected(a)
    try:
        q = [dns.message.make_query("s%d.example.com." % i, "A") for i in range(50)]
        for m in q:
            dns.query.udp(m, "127.0.0.1", port=g.port, timeout=2)
        other = [dns.message.make_query("o%d.example.com." % i, "A") for i in range(20)]
        for m in other:
            dns.query.udp(m, "127.0.0.1", port=port2, timeout=2)
        g.config["dnstap"]["listeners"][first] = {"sample": 1}
        g.write_config()
        r = a.post("/v1/reload")
        assert r.status == 200 and not r.json.get("restart_needed_for_dnstap"), r
        after = [dns.message.make_query("r%d.example.com." % i, "A") for i in range(10)]
        for m in after:
            dns.query.udp(m, "127.0.0.1", port=g.port, timeout=2)
    finally:
        g.stop()
        cap.stop()
    frames = cap.frames()
    mine = [f for f in frames if f["qname"] and f["qname"].startswith("s")]
    # Any 50 queries in a row on one worker hold exactly 10 turns of 1 in 5.
    assert len(mine) == 10 and all(f["type"] == "AUTH_QUERY" for f in mine), mine
    assert {f["id"] for f in mine} <= {m.id for m in q}
    assert not [f for f in frames if f["qname"] and f["qname"].startswith("o")]
    reloaded = [f for f in frames if f["qname"] and f["qname"].startswith("r")]
    assert sorted(f["type"] for f in reloaded) == ["AUTH_QUERY"] * 10 + ["AUTH_RESPONSE"] * 10


def burst(g, n, per=100, timeout=2.0):
    """Sends n UDP queries, per at a time, each batch read back (for up to
    timeout seconds) before the next. Returns the slowest complete batch's
    seconds and how many queries got no answer. A loaded machine may drop
    a datagram on loopback now and then; a worker that waited for the
    dnstap reader would answer none at all from then on (one client
    socket always lands on the same worker)."""
    slowest, lost = 0.0, 0
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        for start in range(0, n, per):
            ids = set()
            t0 = time.monotonic()
            for i in range(start, min(n, start + per)):
                m = dns.message.make_query("b%d.example.com." % i, "A")
                ids.add(m.id)
                s.sendto(m.to_wire(), (g.addr, g.port))
            got = set()
            while not ids <= got:
                left = t0 + timeout - time.monotonic()
                if left <= 0:
                    break
                s.settimeout(left)
                try:
                    got.add(dns.message.from_wire(s.recv(65535)).id)
                except socket.timeout:
                    break
            if ids <= got:
                slowest = max(slowest, time.monotonic() - t0)
            lost += len(ids - got)
    return slowest, lost


def test_a_stopped_reader_never_slows_answers(make_gtmd):
    """fstrm_capture is stopped (SIGSTOP) with gtmd connected: its socket
    fills, the writer thread waits, the workers' queues fill, and the
    messages are dropped and counted while every query is answered at
    once. gtmd drops the silent reader after 2 seconds."""
    g, a, cap = start_with_capture(make_gtmd, queue_size=16)
    try:
        cap.proc.send_signal(signal.SIGSTOP)
        slowest, lost = burst(g, 6000)
        assert lost <= 60, lost
        # The socket's buffer and the queues hold a few thousand frames;
        # 12000 messages overflow them.
        assert metric(a, "dropped") > 0
        # Workers that waited for the reader would never answer (the
        # reader stays stopped): they would all be lost.
        assert slowest < 1.5, slowest
        print("dnstap stopped reader: slowest batch %.3f s, %r" % (
            slowest, a.get("/v1/status").json["dnstap"]))
        assert g.proc.poll() is None
    finally:
        cap.stop()
        t0 = time.monotonic()
        g.stop()
        assert time.monotonic() - t0 < 8, "a stopped reader does not hold up the stop"


def test_no_reader_at_all(make_gtmd):
    """No reader listens: gtmd starts, answers every query, counts the
    messages as no_reader without packing them, and connects when a
    reader comes."""
    g = make_gtmd(dnstap_config())
    a = Admin.of(g)
    a.wait_ready()
    st = wait_connected(a, want=False)
    assert st["sink"].endswith("dnstap.sock")
    slowest, lost = burst(g, 2000)
    assert slowest < 1.0 and lost <= 20, (slowest, lost)
    assert metric(a, "no_reader") >= 4000 and metric(a, "queued") == 0
    cap = Capture(g.workdir)
    try:
        wait_connected(a)  # tried again every second
        r = g.query("late.example.com.", "A")
    finally:
        g.stop()
        cap.stop()
    assert [f["type"] for f in cap.frames() if f["id"] == r.id] == ["AUTH_QUERY",
                                                                       "AUTH_RESPONSE"]


def test_file_sink_and_what_needs_a_restart(make_gtmd):
    """"file": the log is a file dnstap-ldns reads after the stop, with the
    server's own identity when the section gives none. A reload that
    moves the file says the sink changes on restart and keeps writing
    where it was; a bad section fails the reload and changes nothing."""
    def fn(workdir, port):
        c = dnstap_config()(workdir, port)
        c["dnstap"] = {"file": "log.fstrm"}
        c["identity"] = "ns-file"
        return c
    g = make_gtmd(fn)
    a = Admin.of(g)
    a.wait_ready()
    wait_connected(a)
    r1 = g.query("www.example.com.", "A", tcp=True)
    g.config["dnstap"]["file"] = "other.fstrm"
    g.write_config()
    r = a.post("/v1/reload")
    assert r.status == 200 and r.json.get("restart_needed_for_dnstap"), r
    g.config["dnstap"]["sample"] = 0
    g.write_config()
    r = a.post("/v1/reload")
    assert r.status == 422 and "$.dnstap.sample" in r.body.decode(), r
    r2 = g.query("mail.example.com.", "A")
    g.stop()
    assert not os.path.exists(os.path.join(g.workdir, "other.fstrm"))
    out = subprocess.run(["dnstap-ldns", "-y", "-r", os.path.join(g.workdir, "log.fstrm")],
                         capture_output=True, text=True, timeout=30)
    assert out.returncode == 0, out.stderr
    docs = [d for d in out.stdout.split("\n---\n") if d.strip()]
    for r, proto in ((r1, "TCP"), (r2, "UDP")):
        mine = [d for d in docs if "id: %d\n" % r.id in d]
        assert len(mine) == 2 and all("socket_protocol: %s" % proto in d for d in mine), mine
        assert all('identity: "ns-file"' in d for d in mine)


def test_check_names_a_dnstap_file_it_cannot_write(make_gtmd):
    """gtmd check refuses a dnstap file in a directory that does not exist,
    at its JSON path, before any start."""
    g = make_gtmd(dnstap_config(), start=False)
    g.config["dnstap"] = {"file": os.path.join(g.workdir, "missing", "log.fstrm")}
    g.write_config()
    r = subprocess.run([GTMD, "check", "-c", g.conf_path],
                       capture_output=True, text=True, timeout=30)
    assert r.returncode != 0 and "$.dnstap.file: the directory" in r.stdout + r.stderr, r


# ---- the writer's bounds (issue #53): a Frame Streams reader of our own,
# which can be slow on purpose and says when each frame came.

def control(ctype, content=CONTENT_TYPE.encode()):
    """A Frame Streams control frame: escape, length, type, content type."""
    body = struct.pack(">I", ctype)
    if content is not None:
        body += struct.pack(">II", 1, len(content)) + content
    return struct.pack(">II", 0, len(body)) + body


ACCEPT, START, STOP, READY, FINISH = 1, 2, 3, 4, 5


class FakeReader:
    """A dnstap reader on SOCK (a unix socket in workdir), one connection
    at a time, on a thread. mode "ok": the handshake, then every frame,
    with the monotonic time it came (frames); "trickle": the ACCEPT one
    octet every 1.5 s; "noread": the handshake, then nothing read ever.
    Every wait is bounded; stop() ends it within a second."""

    def __init__(self, workdir, mode):
        self.sock = os.path.join(workdir, "dnstap.sock")
        self.mode = mode
        self.frames = []  # (time, length)
        self.connections = 0
        self.trickled = 0  # octets of ACCEPT sent slowly
        self.done = threading.Event()
        self.srv = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.srv.bind(self.sock)
        self.srv.listen(4)
        self.srv.settimeout(0.2)
        self.held = []  # "noread": connections kept open, never read
        self.thread = threading.Thread(target=self.run, daemon=True)
        self.thread.start()

    def stop(self):
        self.done.set()
        self.thread.join(timeout=5)
        for c in self.held:
            c.close()
        self.srv.close()

    def recv_exact(self, c, n):
        out = b""
        while len(out) < n and not self.done.is_set():
            try:
                got = c.recv(n - len(out))
            except socket.timeout:
                continue
            if not got:
                raise EOFError
            out += got
        if len(out) < n:
            raise EOFError
        return out

    def recv_frame(self, c):
        """(control type or None for data, payload length)."""
        (n,) = struct.unpack(">I", self.recv_exact(c, 4))
        if n:
            self.recv_exact(c, n)
            return None, n
        (n,) = struct.unpack(">I", self.recv_exact(c, 4))
        return struct.unpack(">I", self.recv_exact(c, n)[:4])[0], n

    def run(self):
        while not self.done.is_set():
            try:
                c, _ = self.srv.accept()
            except socket.timeout:
                continue
            self.connections += 1
            c.settimeout(0.2)
            try:
                self.serve(c)
            except (EOFError, OSError):
                pass
            if c not in self.held:
                c.close()

    def serve(self, c):
        assert self.recv_frame(c)[0] == READY
        accept = control(ACCEPT)
        if self.mode == "trickle":
            for i in range(len(accept)):
                c.sendall(accept[i:i + 1])
                self.trickled += 1
                if self.done.wait(1.5):
                    return
            return
        c.sendall(accept)
        assert self.recv_frame(c)[0] == START
        if self.mode == "noread":
            self.held.append(c)
            return
        while not self.done.is_set():
            kind, n = self.recv_frame(c)
            if kind == STOP:
                c.sendall(control(FINISH, None))
                return
            self.frames.append((time.monotonic(), n))


def status_metric(a, name):
    m = re.search(r"^%s (\d+)$" % name, a.get("/metrics").body.decode(), re.M)
    return int(m.group(1))


def wait_frames(a, r, n=None, timeout=10):
    """Until reader r got n frames (default: every frame queued so far)."""
    n = metric(a, "queued") if n is None else n
    deadline = time.monotonic() + timeout
    while len(r.frames) < n and time.monotonic() < deadline:
        time.sleep(0.005)
    assert len(r.frames) == n, (len(r.frames), n)


def bounded_config(**section):
    """dnstap_config with a state file: the stop's last write is seen."""
    def fn(workdir, port):
        c = dnstap_config(**section)(workdir, port)
        c["state_file"] = "state.json"
        return c
    return fn


def term_and_time(g, timeout=15):
    """SIGTERM; the seconds gtmd took to exit (None if it did not within
    timeout: it is killed)."""
    state = os.path.join(g.workdir, "state.json")
    if os.path.exists(state):
        os.unlink(state)  # the stop's final write makes it again
    t0 = time.monotonic()
    g.proc.send_signal(signal.SIGTERM)
    try:
        g.proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        g.proc.kill()
        g.proc.wait(timeout=5)
        return None
    return time.monotonic() - t0


def test_a_slow_handshake_does_not_hold_the_stop(make_gtmd):
    """A reader that sends its ACCEPT one octet every 1.5 s: each read
    makes progress, but the handshake as a whole gives up after 2 s (and
    at once at the stop), so gtmd exits within a few seconds of SIGTERM,
    its state file written first."""
    g = make_gtmd(bounded_config(), start=False)
    r = FakeReader(g.workdir, "trickle")
    try:
        g.start()
        a = Admin.of(g)
        a.wait_ready()
        # The first handshake given up after 2 s in all (each read made
        # progress within 1.5 s), the second started a second later.
        deadline = time.monotonic() + 15
        while (r.connections < 2 or r.trickled < 4) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert r.connections >= 2, "a handshake of more than 2 s is given up"
        connected = a.get("/v1/status").json["dnstap"]["connected"]
        took = term_and_time(g)
    finally:
        r.stop()
    assert took is not None and took < 5, "SIGTERM to exit: %r s (main: 24 s and more)" % took
    assert connected is False, "no reader until its handshake is done"
    assert os.path.exists(os.path.join(g.workdir, "state.json")), "the final state write"
    assert "event=stop" in g.read_log()
    print("dnstap trickle: %d connections, stop %.2f s" % (r.connections, took))


def test_a_reader_that_never_reads_does_not_hold_the_stop(make_gtmd):
    """A reader that does the handshake and then reads nothing: the socket
    fills, the write waits; the stop gives it a second, so gtmd exits
    within a few seconds, its state file written."""
    g = make_gtmd(bounded_config(queue_size=16384), start=False)
    r = FakeReader(g.workdir, "noread")
    try:
        g.start()
        a = Admin.of(g)
        a.wait_ready()
        wait_connected(a)
        burst(g, 4000)  # 8000 frames: more than the socket holds
        assert status_metric(a, "gtmd_dnstap_reader_connected") == 1
        took = term_and_time(g)
    finally:
        r.stop()
    assert took is not None and took < 4, "SIGTERM to exit: %r s" % took
    assert os.path.exists(os.path.join(g.workdir, "state.json")), "the final state write"
    print("dnstap reader not reading: stop %.2f s" % took)


def test_frames_reach_the_reader_at_once(make_gtmd):
    """16 queries: their 32 frames reach a reader while gtmd runs, within
    a second of the last answer (main: 1 to 2 s; the design: 0.1 s)."""
    g = make_gtmd(dnstap_config(), start=False)
    r = FakeReader(g.workdir, "ok")
    try:
        g.start()
        a = Admin.of(g)
        a.wait_ready()
        wait_connected(a)
        # The start's own queries (g.start waits for an answer) first.
        base = metric(a, "queued")
        wait_frames(a, r, base)
        for i in range(16):
            g.query("late%d.example.com." % i, "A")
        last = time.monotonic()
        deadline = last + 5
        while len(r.frames) < base + 32 and time.monotonic() < deadline:
            time.sleep(0.005)
        assert len(r.frames) == base + 32 == metric(a, "queued"), r.frames
        latency = r.frames[-1][0] - last
        print("dnstap: the last frame came %.3f s after the last answer" % latency)
        assert latency < 1.0, latency
    finally:
        g.stop()
        r.stop()


def test_a_reader_that_exits_is_seen_at_once(make_gtmd):
    """The reader closes its socket once it has every frame: gtmd sees it
    at once (gtmd_dnstap_reader_connected 0 without a query sent, where
    it stayed 1 until a write failed), and the queries after are counted
    no_reader, neither queued nor lost; the reader that comes back gets
    the next ones."""
    g = make_gtmd(dnstap_config(), start=False)
    r = FakeReader(g.workdir, "ok")
    try:
        g.start()
        a = Admin.of(g)
        a.wait_ready()
        wait_connected(a)
        wait_frames(a, r)  # the start's own query (g.start waits for it)
        base = metric(a, "queued")
    finally:
        r.stop()  # closes the connection and the socket
    deadline = time.monotonic() + 3
    while (status_metric(a, "gtmd_dnstap_reader_connected") != 0 and
           time.monotonic() < deadline):
        time.sleep(0.02)
    assert status_metric(a, "gtmd_dnstap_reader_connected") == 0
    for i in range(10):
        g.query("gone%d.example.com." % i, "A")
    assert metric(a, "no_reader") == 20 and metric(a, "queued") == base
    assert metric(a, "lost") == 0
    st = a.get("/v1/status").json["dnstap"]
    assert st["connected"] is False and st["lost"] == 0 and st["no_reader"] == 20, st
    os.unlink(r.sock)
    r = FakeReader(g.workdir, "ok")
    try:
        wait_connected(a)
        g.query("back.example.com.", "A")
        wait_frames(a, r, 2)
    finally:
        g.stop()
        r.stop()

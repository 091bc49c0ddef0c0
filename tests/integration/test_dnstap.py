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
import subprocess
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

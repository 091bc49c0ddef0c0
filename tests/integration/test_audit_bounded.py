"""A bounded audit log with the real binary (issue #24): large request
bodies are kept by size, SHA-256 and an escaped excerpt, not whole, so
150 rejected 1 MiB POSTs leave gtmd's memory (VmRSS) nearly where it was
and its audit lines small; GET /v1/audit answers are bounded in size and
paged with limit and before=next_before.

Every wait and loop is bounded."""
import hashlib
import http.client
import json
import time

from adminlib import OPERATE_TOKEN, READ_TOKEN, Admin, audit_lines, config_fn, start
from conftest import measured_env

MIB = 1 << 20


def rss_kib(pid, field="VmRSS"):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    raise AssertionError("no " + field)


def post(c, body):
    c.request("POST", "/v1/overrides", body=body,
              headers={"Authorization": "Bearer " + OPERATE_TOKEN,
                       "Content-Type": "application/json"})
    r = c.getresponse()
    return r.status, r.read()


def big_body(i, size):
    """Valid JSON whose first bytes are whitespace control characters (the
    excerpt escapes them) and whose reason is too long (400, audited)."""
    head = '{\n\t"target": "endpoint:web/us1", "state": "down", "n": %d, "reason": "' % i
    tail = '"}'
    return (head + "x" * (size - len(head) - len(tail)) + tail).encode()


def excerpt_of(body):
    out = []
    for b in body[:256]:
        if b < 0x20 or b == 0x7f:
            out.append("\\x%02x" % b)
        elif b == 0x5c:
            out.append("\\\\")
        else:
            out.append(chr(b))
    return "".join(out)


def get_audit(a, query):
    r = a.get("/v1/audit" + query, token=READ_TOKEN, timeout=10)
    assert r.status == 200, r
    return r


def test_large_bodies_keep_memory_and_lines_small(make_gtmd):
    # Under AddressSanitizer freed memory waits in a quarantine and counts
    # as resident: measured_env turns that off (other builds ignore it).
    g = make_gtmd(config_fn(timeout=30), start=False)
    g.env = measured_env()
    g.start()
    a = Admin.of(g)
    a.wait_ready()
    c = http.client.HTTPConnection("127.0.0.1", a.port, timeout=10)
    # Warm up: one large POST, so the allocator's arenas exist already.
    assert post(c, big_body(-1, MIB))[0] == 400
    before = rss_kib(g.proc.pid)
    bodies = []
    t0 = time.monotonic()
    for i in range(150):
        body = big_body(i, MIB)
        st, data = post(c, body)
        assert st == 400 and json.loads(data)["error"]["code"] == "bad_request", (i, st, data)
        if i < 3:
            bodies.append(body)
    took = time.monotonic() - t0
    after = rss_kib(g.proc.pid)
    c.close()
    print("\nMEASURE 150 rejected 1 MiB POSTs in %.1f s: VmRSS %d KiB -> %d KiB (+%d KiB)"
          % (took, before, after, after - before))
    assert after - before < 16 * 1024, (before, after)

    lines = [x for x in audit_lines(g) if x.get("method") == "POST"]
    assert len(lines) == 151, len(lines)
    for line, body in zip(lines[1:4], bodies):
        assert line["status"] == 400 and line["request"] is None, line
        assert line["request_bytes"] == len(body) == MIB
        assert line["request_sha256"] == hashlib.sha256(body).hexdigest()
        assert line["request_excerpt"] == excerpt_of(body), line["request_excerpt"][:80]
        assert len(json.dumps(line)) < 4096
    with open(g.workdir + "/audit.log", "rb") as f:
        size = len(f.read())
    assert size < 151 * 4096, size

    # A character cut by the excerpt's end becomes '?', a backslash is
    # doubled: the excerpt is valid UTF-8 that hides nothing.
    head = b'{"reason": "\\\\'  # a JSON escape: two backslashes in the body
    body = head + b"y" * (255 - len(head)) + "\u00e9".encode() + b"z" * 3000 + b'"}'
    c = http.client.HTTPConnection("127.0.0.1", a.port, timeout=10)
    assert post(c, body)[0] == 400
    c.close()
    ex = audit_lines(g)[-1]["request_excerpt"]
    assert ex == '{"reason": "' + "\\" * 4 + "y" * (255 - len(head)) + "?", ex

    # A small body is kept whole, with its size and digest.
    small = {"target": "endpoint:web/us1", "state": "down", "reason": "kept whole"}
    r = a.override("endpoint:web/us1", reason="kept whole")
    assert r.status == 201, r
    line = audit_lines(g)[-1]
    assert line["request"] == small, line
    raw = json.dumps(small).encode()
    assert line["request_bytes"] == len(raw)
    assert line["request_sha256"] == hashlib.sha256(raw).hexdigest()
    assert "request_excerpt" not in line

    # /v1/audit: the default page is bounded, and the newest line first.
    r = get_audit(a, "")
    assert len(r.body) < 1 * MIB, len(r.body)
    assert r.json["entries"][0] == line and len(r.json["entries"]) == 100
    assert isinstance(r.json["next_before"], int)
    big = get_audit(a, "?limit=1000")
    assert len(big.body) < 600 * 1024, len(big.body)
    print("MEASURE GET /v1/audit: %d bytes (limit 100), %d bytes (limit 1000, %d lines); "
          "VmRSS %d KiB, VmHWM %d KiB" % (len(r.body), len(big.body), len(big.json["entries"]),
                                         rss_kib(g.proc.pid), rss_kib(g.proc.pid, "VmHWM")))
    assert assert_alive_rss(g, before)


def assert_alive_rss(g, before):
    assert g.proc.poll() is None
    return rss_kib(g.proc.pid) - before < 16 * 1024


def test_audit_pages_are_bounded_and_complete(make_gtmd):
    """More than one page of lines (each with a 1 KiB escaped excerpt):
    every page stays under the byte bound, and following next_before
    gives every kept line once, newest first, the same as the log."""
    g, a = start(make_gtmd, timeout=30)
    c = http.client.HTTPConnection("127.0.0.1", a.port, timeout=10)
    for i in range(450):
        body = b"{" + b"\n" * 300 + big_body(i, 4096)[1:]
        assert post(c, body)[0] == 400
    c.close()
    log = audit_lines(g)
    assert len(log) == 450
    seen, pages, cursor = [], [], None
    for _ in range(20):
        r = get_audit(a, "?limit=1000" + ("&before=%d" % cursor if cursor else ""))
        pages.append(len(r.body))
        assert len(r.body) < 600 * 1024, len(r.body)
        seen += r.json["entries"]
        cursor = r.json["next_before"]
        if cursor is None:
            break
    print("\nMEASURE /v1/audit?limit=1000 pages over %d lines: %s bytes" % (len(log), pages))
    assert len(pages) >= 2, pages
    assert seen == list(reversed(log)), (len(seen), len(log))
    # limit applies within a page; bad cursors are 400.
    r = get_audit(a, "?limit=7")
    assert len(r.json["entries"]) == 7
    r2 = get_audit(a, "?limit=7&before=%d" % r.json["next_before"])
    assert r.json["entries"] + r2.json["entries"] == list(reversed(log))[:14]
    for bad in ("0", "x", "-3", "", "1e3"):
        r = a.get("/v1/audit?before=" + bad, token=READ_TOKEN)
        assert r.status == 400 and r.json["error"]["code"] == "bad_request", (bad, r)
    r = get_audit(a, "?before=1")
    assert r.json == {"entries": [], "next_before": None}

"""GET /v1/audit?limit=N against the real binary: the newest audit lines,
newest first, the same as the audit log's tail, with the read token; a bad
limit is 400; kept without an audit log file too."""
from adminlib import READ_TOKEN, audit_lines, start


def test_audit_view_matches_the_log_tail(make_gtmd):
    g, a = start(make_gtmd)
    ids = []
    for i in range(5):
        r = a.override("endpoint:web/us1", reason="audit %d" % i)
        assert r.status == 201, r
        ids.append(r.json["id"])
    assert a.delete("/v1/overrides/" + ids[0]).status == 200
    assert a.get("/v1/audit", token=None).status == 401
    r = a.get("/v1/audit?limit=3", token=READ_TOKEN)
    assert r.status == 200, r
    entries = r.json["entries"]
    assert len(entries) == 3
    log = audit_lines(g)
    assert entries == list(reversed(log[-3:])), (entries, log[-3:])
    assert entries[0]["method"] == "DELETE" and entries[0]["path"] == "/v1/overrides/" + ids[0]
    assert entries[1]["request"]["reason"] == "audit 4"
    r = a.get("/v1/audit", token=READ_TOKEN)
    assert len(r.json["entries"]) == 6, r.json
    for bad in ("0", "x", "1001", "-1", ""):
        r = a.get("/v1/audit?limit=" + bad, token=READ_TOKEN)
        assert r.status == 400, (bad, r)


def test_audit_view_without_a_log_file(make_gtmd):
    g, a = start(make_gtmd, audit=False)
    assert a.override("endpoint:web/us1", reason="no file").status == 201
    r = a.get("/v1/audit?limit=10", token=READ_TOKEN)
    assert r.status == 200, r
    assert [e["request"]["reason"] for e in r.json["entries"]] == ["no file"]
    assert audit_lines(g) == []

/*
 * admin_audit.c -- GET /v1/audit?limit=N: the newest audit lines.
 *
 * Every line admin_audit and admin_audit_event write is also kept in a
 * ring of the last ADMIN_AUDIT_KEEP lines (a->audit_ring, an event ring:
 * any thread may append), so the recent mutating calls can be read with
 * the read token whether or not an audit log file is configured, and
 * without reading a file that may be large or rotated away.
 */
#include <stdlib.h>
#include <string.h>

#include "admin/admin_int.h"
#include "common/event_ring.h"

static void admin_audit_collect(void *arg, uint64_t id, const char *type, const char *json)
{
    (void)id;
    (void)type;
    json_t *ev = json_loads(json, 0, NULL);
    json_t *line = json_object_get(ev, "line");
    if (line)
        json_array_insert(arg, 0, line); /* newest first */
    json_decref(ev);
}

void admin_handle_audit(struct admin_req *r)
{
    long limit = 100;
    const char *v = evhttp_find_header(&r->query, "limit");
    if (v) {
        char *end = NULL;
        limit = strtol(v, &end, 10);
        if (!*v || *end || limit < 1 || limit > ADMIN_AUDIT_KEEP) {
            admin_reply_error(r, 400, "bad_request", "limit must be an integer from 1 to %d",
                              ADMIN_AUDIT_KEEP);
            return;
        }
    }
    uint64_t last = event_ring_last(r->a->audit_ring);
    uint64_t after = last > (uint64_t)limit ? last - (uint64_t)limit : 0;
    json_t *entries = json_array();
    bool gap = false;
    event_ring_read(r->a->audit_ring, after, (size_t)limit, admin_audit_collect, entries, &gap);
    admin_reply_json(r, 200, json_pack("{s:o}", "entries", entries));
}

/*
 * admin_audit.c -- GET /v1/audit?limit=N&before=ID: the audit lines kept
 * in memory, newest first, a page at a time.
 *
 * Every line admin_audit and admin_audit_event write is also kept in a
 * ring (a->audit_ring, an event ring bounded in lines and bytes:
 * ADMIN_AUDIT_KEEP, ADMIN_AUDIT_MAX_BYTES; any thread may append), so the
 * recent mutating calls can be read with the read token whether or not an
 * audit log file is configured, and without reading a file that may be
 * large or rotated away. A page holds at most 'limit' lines and about
 * ADMIN_AUDIT_PAGE_BYTES of them; "next_before" is the cursor of the next
 * (older) page, null when no older line is kept. The cursor is the ring's
 * id of a line, so pages do not shift while new lines arrive.
 */
#include <stdlib.h>
#include <string.h>

#include "admin/admin_int.h"
#include "common/event_ring.h"

/* The lines of one page, as read from the ring (oldest first). */
struct admin_audit_page {
    json_t *lines;  /* array of the lines */
    uint64_t *ids;  /* their ring ids */
    size_t *bytes;  /* their text's size */
    size_t n, room; /* room: of ids and bytes */
};

static void admin_audit_collect(void *arg, uint64_t id, const char *type, const char *json)
{
    struct admin_audit_page *p = arg;
    (void)type;
    json_t *ev = json_loads(json, 0, NULL);
    json_t *line = json_object_get(ev, "line");
    if (line && p->n < p->room) {
        json_array_append(p->lines, line);
        p->ids[p->n] = id;
        p->bytes[p->n] = strlen(json);
        p->n++;
    }
    json_decref(ev);
}

/* A decimal query parameter in [lo, hi]; def when absent. -1: invalid. */
static int admin_audit_param(struct admin_req *r, const char *key, long long lo, long long hi,
                             long long def, long long *out)
{
    const char *v = evhttp_find_header(&r->query, key);
    *out = def;
    if (!v)
        return 0;
    char *end = NULL;
    long long n = strtoll(v, &end, 10);
    if (!*v || *v < '0' || *v > '9' || *end || n < lo || n > hi)
        return -1;
    *out = n;
    return 0;
}

/* Newest first, as long as the page has room (at least one line). */
static json_t *admin_audit_reply(struct admin_audit_page *p, uint64_t first_kept)
{
    json_t *entries = json_array();
    size_t used = 0;
    uint64_t oldest = 0;
    for (size_t i = p->n; i-- > 0;) {
        if (oldest && used + p->bytes[i] > ADMIN_AUDIT_PAGE_BYTES)
            break;
        json_array_append(entries, json_array_get(p->lines, i));
        used += p->bytes[i];
        oldest = p->ids[i];
    }
    json_t *next = oldest > first_kept ? json_integer((json_int_t)oldest) : json_null();
    return json_pack("{s:o, s:o}", "entries", entries, "next_before", next);
}

void admin_handle_audit(struct admin_req *r)
{
    struct event_ring *ring = r->a->audit_ring;
    uint64_t last = event_ring_last(ring), first = event_ring_first(ring);
    long long limit = 0, before = 0;
    if (admin_audit_param(r, "limit", 1, ADMIN_AUDIT_KEEP, 100, &limit) != 0) {
        admin_reply_error(r, 400, "bad_request", "limit must be an integer from 1 to %d",
                          ADMIN_AUDIT_KEEP);
        return;
    }
    if (admin_audit_param(r, "before", 1, (long long)1 << 62, (long long)last + 1, &before) != 0) {
        admin_reply_error(r, 400, "bad_request",
                          "before must be a line's cursor (next_before of the previous page)");
        return;
    }
    uint64_t end = (uint64_t)before - 1; /* the newest id wanted */
    if (end > last)
        end = last;
    uint64_t after = end > (uint64_t)limit ? end - (uint64_t)limit : 0;
    if (after + 1 < first)
        after = first - 1;
    struct admin_audit_page p = {json_array(), calloc((size_t)limit, sizeof(uint64_t)),
                                 calloc((size_t)limit, sizeof(size_t)), 0, (size_t)limit};
    if (!p.lines || !p.ids || !p.bytes)
        abort();
    bool gap = false;
    if (end > after)
        event_ring_read(ring, after, (size_t)(end - after), admin_audit_collect, &p, &gap);
    json_t *reply = admin_audit_reply(&p, event_ring_first(ring));
    json_decref(p.lines);
    free(p.ids);
    free(p.bytes);
    admin_reply_json(r, 200, reply);
}

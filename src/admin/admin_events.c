/*
 * admin_events.c -- GET /v1/events: Server-Sent Events from the event ring
 * (common/event_ring.h; the daemon owns it, the health core points to it).
 *
 * Each stream is a chunked reply kept open on its connection (held, so
 * the idle sweep leaves it alone). The ring's notify wakes the admin
 * thread (ev_events), which copies what each stream has not seen into its
 * connection's output buffer. A stream whose connection already holds
 * more than ADMIN_EVENTS_MAX_BUFFERED unsent bytes is a slow consumer: it
 * is shut down (the client resumes with Last-Event-ID if it can), so a
 * reader that does not read never holds memory or delays anyone. A
 * comment line every keep-alive interval keeps proxies and tunnels open
 * and finds dead peers.
 *
 * GET /v1/history is the same ring read once as JSON (no stream): the
 * kept events of one type since a time, so a page can draw the past and
 * then follow the stream from the last id it read.
 *
 * Ownership: struct admin_stream belongs to a->streams from the request
 * until its connection closes (the close callback frees it) or admin_stop
 * (admin_events_free_all).
 */
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <math.h>
#include <sys/socket.h>
#include <sys/time.h>

#include "admin/admin_int.h"
#include "common/event_ring.h"
#include "common/log.h"

/* Unsent bytes a stream's connection may hold before it is dropped. */
#define ADMIN_EVENTS_MAX_BUFFERED (256 * 1024)
/* Events copied per stream per round (the rest follow in later rounds). */
#define ADMIN_EVENTS_BATCH 512
#define ADMIN_EVENTS_KEEPALIVE_S 15

struct admin_stream {
    struct admin *a;
    struct admin_stream *next;
    struct evhttp_request *req;
    struct evhttp_connection *evcon;
    void *conn;    /* admin_conn_hold handle */
    uint64_t last; /* newest id sent */
    bool shared;   /* opened below operate level: counts in n_streams_read */
    bool dropped;  /* shut down; waiting for the close callback */
};

/* Ring producers (any thread): wake the admin thread. */
static void admin_events_notify(void *arg)
{
    struct admin *a = arg;
    event_active(a->ev_events, EV_TIMEOUT, 0);
}

static void admin_events_unlink(struct admin_stream *s)
{
    struct admin_stream **pp = &s->a->streams;
    while (*pp && *pp != s)
        pp = &(*pp)->next;
    if (*pp)
        *pp = s->next;
    s->a->n_streams--;
    if (s->shared)
        s->a->n_streams_read--;
}

/* evhttp closes the connection (peer gone, error, or our shutdown). */
static void admin_events_closed(struct evhttp_connection *evcon, void *arg)
{
    struct admin_stream *s = arg;
    (void)evcon;
    /* On a network error libevent 2.1 detaches a request whose reply is
     * still being sent from its connection and leaves it to us; ending
     * the reply frees a detached request. Otherwise the connection frees
     * it right after this callback. */
    if (!evhttp_request_get_connection(s->req))
        evhttp_send_reply_end(s->req);
    admin_events_unlink(s);
    admin_conn_unhold(s->a, s->conn);
    free(s);
}

static size_t admin_events_buffered(struct admin_stream *s)
{
    struct bufferevent *bev = evhttp_connection_get_bufferevent(s->evcon);
    return bev ? evbuffer_get_length(bufferevent_get_output(bev)) : 0;
}

/* Shuts the socket down: the pending write fails and evhttp closes the
 * connection, calling admin_events_closed. */
static void admin_events_drop(struct admin_stream *s, const char *why)
{
    struct bufferevent *bev = evhttp_connection_get_bufferevent(s->evcon);
    int fd = bev ? bufferevent_getfd(bev) : -1;
    log_warn("event=events_drop why=%s last_id=%" PRIu64 " buffered=%zu", why, s->last,
             admin_events_buffered(s));
    s->dropped = true;
    if (fd >= 0)
        shutdown(fd, SHUT_RDWR);
}

static void admin_events_format(void *arg, uint64_t id, const char *type, const char *json)
{
    evbuffer_add_printf(arg, "id: %" PRIu64 "\nevent: %s\ndata: %s\n\n", id, type, json);
}

static void admin_events_send(struct admin_stream *s, struct evbuffer *b)
{
    bool was = s->a->replying;
    s->a->replying = true; /* what evhttp writes now is ours (admin_conn.c) */
    evhttp_send_reply_chunk(s->req, b);
    s->a->replying = was;
}

/* Sends what s has not seen, a batch at a time, while its buffer has room. */
static void admin_events_flush(struct admin_stream *s)
{
    uint64_t newest = event_ring_last(s->a->env.health->events);
    while (!s->dropped && s->last < newest) {
        if (admin_events_buffered(s) > ADMIN_EVENTS_MAX_BUFFERED) {
            admin_events_drop(s, "slow_consumer");
            return;
        }
        struct evbuffer *b = evbuffer_new();
        if (!b)
            abort();
        bool gap = false;
        uint64_t before = s->last;
        s->last = event_ring_read(s->a->env.health->events, s->last, ADMIN_EVENTS_BATCH,
                                  admin_events_format, b, &gap);
        if (gap)
            evbuffer_prepend(b, ": some events were dropped from the ring\n\n", 42);
        if (evbuffer_get_length(b))
            admin_events_send(s, b);
        evbuffer_free(b);
        if (s->last == before)
            break;
    }
}

void admin_events_on_push(evutil_socket_t fd, short what, void *arg)
{
    struct admin *a = arg;
    (void)fd;
    (void)what;
    for (struct admin_stream *s = a->streams; s; s = s->next)
        admin_events_flush(s);
}

void admin_events_keepalive(evutil_socket_t fd, short what, void *arg)
{
    struct admin *a = arg;
    (void)fd;
    (void)what;
    for (struct admin_stream *s = a->streams; s; s = s->next) {
        if (s->dropped)
            continue;
        if (admin_events_buffered(s) > ADMIN_EVENTS_MAX_BUFFERED) {
            admin_events_drop(s, "slow_consumer");
            continue;
        }
        struct evbuffer *b = evbuffer_new();
        if (!b)
            abort();
        evbuffer_add_printf(b, ": keep-alive\n\n");
        admin_events_send(s, b);
        evbuffer_free(b);
    }
}

/* The id to resume after: Last-Event-ID, else ?last_event_id=, else the
 * newest (only new events). -1 when one is given but is not a number. */
static int admin_events_start_id(struct admin_req *r, uint64_t *after)
{
    const char *v = evhttp_find_header(evhttp_request_get_input_headers(r->req), "Last-Event-ID");
    if (!v)
        v = evhttp_find_header(&r->query, "last_event_id");
    if (!v) {
        *after = event_ring_last(r->a->env.health->events);
        return 0;
    }
    char *end = NULL;
    if (*v < '0' || *v > '9')
        return -1;
    unsigned long long n = strtoull(v, &end, 10);
    if (*end != '\0')
        return -1;
    *after = n;
    return 0;
}

/* Each role has max_streams streams (doc/admin-api.md, Limits): a stream
 * holds its connection's place for as long as it lasts, so read streams
 * must not fill the places read clients share and leave none to answer a
 * read request, nor operator streams the reserve. true when r was answered
 * 503 busy (the connection stays open). */
static bool admin_events_full(struct admin_req *r)
{
    struct admin *a = r->a;
    bool shared = r->level < ADMIN_OPERATE;
    unsigned have = shared ? a->n_streams_read : a->n_streams - a->n_streams_read;
    if (have < a->max_streams)
        return false;
    a->busy_streams++;
    admin_reply_error(r, 503, "busy", "too many event streams for the %s token (max %u)",
                      shared ? "read" : "operate", a->max_streams);
    return true;
}

void admin_handle_events(struct admin_req *r)
{
    struct admin *a = r->a;
    uint64_t after = 0;
    if (!a->env.health || !a->env.health->events) {
        admin_reply_error(r, 503, "unavailable", "this process keeps no event stream");
        return;
    }
    if (admin_events_start_id(r, &after) != 0) {
        admin_reply_error(r, 400, "bad_request", "Last-Event-ID must be a decimal event id");
        return;
    }
    if (admin_events_full(r))
        return;
    struct admin_stream *s = calloc(1, sizeof(*s));
    if (!s)
        abort();
    s->a = a;
    s->req = r->req;
    s->evcon = evhttp_request_get_connection(r->req);
    s->last = after;
    s->conn = admin_conn_hold(a, r->req);
    s->next = a->streams;
    s->shared = r->level < ADMIN_OPERATE;
    a->streams = s;
    a->n_streams++;
    a->n_streams_read += s->shared;
    struct evkeyvalq *h = evhttp_request_get_output_headers(r->req);
    evhttp_add_header(h, "Content-Type", "text/event-stream");
    evhttp_add_header(h, "Cache-Control", "no-store");
    evhttp_add_header(h, "X-Accel-Buffering", "no");
    admin_conn_replied(a, r->req);
    bool was = a->replying;
    a->replying = true;
    evhttp_send_reply_start(r->req, 200, "OK");
    a->replying = was;
    evhttp_connection_set_closecb(s->evcon, admin_events_closed, s);
    struct evbuffer *b = evbuffer_new();
    if (!b)
        abort();
    evbuffer_add_printf(b, "retry: 2000\n\n");
    admin_events_send(s, b);
    evbuffer_free(b);
    admin_events_flush(s);
}

void admin_events_init(struct admin *a)
{
    a->ev_events = event_new(a->base, -1, 0, admin_events_on_push, a);
    a->ev_keepalive = event_new(a->base, -1, EV_PERSIST, admin_events_keepalive, a);
    if (!a->ev_events || !a->ev_keepalive)
        abort();
    double every = ADMIN_EVENTS_KEEPALIVE_S;
    if (a->timeout_ms / 2000.0 < every)
        every = a->timeout_ms / 2000.0;
    struct timeval tv = {(time_t)every, (suseconds_t)((every - (time_t)every) * 1e6)};
    event_add(a->ev_keepalive, &tv);
    event_ring_set_notify(a->env.health->events, admin_events_notify, a);
}

void admin_events_free_all(struct admin *a)
{
    if (a->ev_events && a->env.health)
        event_ring_set_notify(a->env.health->events, NULL, NULL);
    while (a->streams) {
        struct admin_stream *s = a->streams;
        a->streams = s->next;
        evhttp_connection_set_closecb(s->evcon, NULL, NULL);
        admin_conn_unhold(a, s->conn);
        free(s);
    }
    a->n_streams = a->n_streams_read = 0;
    if (a->ev_events)
        event_free(a->ev_events);
    if (a->ev_keepalive)
        event_free(a->ev_keepalive);
    a->ev_events = a->ev_keepalive = NULL;
}

/* ---- GET /v1/history ---------------------------------------------------- */

/* Longest look-back a history may ask for (the ring bounds it anyway). */
#define ADMIN_HISTORY_MAX_S (7 * 86400.0)

struct admin_history {
    const char *type; /* NULL: every type */
    double since;
    double oldest; /* time of the oldest kept event (0: none read) */
    json_t *events;
};

static double admin_history_time(json_t *ev)
{
    return json_number_value(json_object_get(ev, "time"));
}

/* Under the ring's lock: parses only the oldest event and those of the
 * type asked for (a few microseconds each). */
static void admin_history_collect(void *arg, uint64_t id, const char *type, const char *json)
{
    struct admin_history *h = arg;
    (void)id;
    bool want = !h->type || strcmp(type, h->type) == 0;
    if (!want && h->oldest > 0)
        return;
    json_t *ev = json_loads(json, 0, NULL);
    if (!ev)
        return;
    if (h->oldest == 0)
        h->oldest = admin_history_time(ev);
    if (want && admin_history_time(ev) >= h->since)
        json_array_append(h->events, ev);
    json_decref(ev);
}

/* ?since=: Unix seconds, at most ADMIN_HISTORY_MAX_S back; default an
 * hour ago. false when malformed. */
static bool admin_history_since(struct admin_req *r, double now, double *since)
{
    const char *v = evhttp_find_header(&r->query, "since");
    *since = now - 3600;
    if (!v)
        return true;
    char *end = NULL;
    double t = strtod(v, &end);
    if (!*v || *end || !isfinite(t) || t < 0)
        return false;
    *since = t < now - ADMIN_HISTORY_MAX_S ? now - ADMIN_HISTORY_MAX_S : t;
    return true;
}

void admin_handle_history(struct admin_req *r)
{
    struct event_ring *ring = r->a->env.health ? r->a->env.health->events : NULL;
    if (!ring) {
        admin_reply_error(r, 503, "unavailable", "this process keeps no event history");
        return;
    }
    struct timeval tv;
    gettimeofday(&tv, NULL);
    double now = (double)tv.tv_sec + tv.tv_usec / 1e6;
    struct admin_history h = {.type = evhttp_find_header(&r->query, "type")};
    if (!admin_history_since(r, now, &h.since)) {
        admin_reply_error(r, 400, "bad_request", "since must be a Unix time in seconds");
        return;
    }
    if (h.type && (!*h.type || strlen(h.type) > 32)) {
        admin_reply_error(r, 400, "bad_request", "type must be an event type");
        return;
    }
    h.events = json_array();
    bool gap = false;
    uint64_t last = event_ring_read(ring, 0, SIZE_MAX, admin_history_collect, &h, &gap);
    /* Complete unless the ring already dropped events newer than since. */
    bool complete = !gap || (h.oldest > 0 && h.oldest <= h.since);
    admin_reply_json(r, 200,
                     json_pack("{s:o, s:I, s:f, s:b, s:o}", "events", h.events, "last_id",
                               (json_int_t)last, "since", h.since, "complete", complete,
                               "kept_from", h.oldest > 0 ? json_real(h.oldest) : json_null()));
}

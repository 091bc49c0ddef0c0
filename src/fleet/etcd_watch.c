/*
 * etcd_watch.c -- etcd watches as streaming HTTP responses.
 *
 * A watch is one long POST /v3/watch whose chunked response carries one
 * JSON message per event batch; etcd_stream.h reassembles the messages
 * from whatever chunks arrive. The connection is not freed inside its own
 * callbacks: a watch that ends (or is cancelled) is freed from a separate
 * event on the loop.
 *
 * Liveness (etcd.h, watch_probe_s): a stream that is merely quiet and one
 * whose member stopped answering (packets dropped, no reset) look the same
 * from the client: nothing arrives. So a stream quiet for watch_probe_s
 * opens one connection to its member (POST /v3/maintenance/status): not
 * connected within connect_s, the member is unreachable and the watch ends
 * at once, instead of after watch_idle_s. A probe that connects re-arms the
 * check when it ends; one that connects and then gets no reply ends the
 * watch after timeout_s (a member that takes connections but answers
 * nothing is caught by the caller's own lag check sooner).
 */
#include <event2/buffer.h>
#include <event2/event.h>
#include <event2/http.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fleet/etcd_int.h"
#include "fleet/etcd_stream.h"

struct etcd_watch {
    struct etcd *e;
    struct evhttp_connection *evcon;
    struct evhttp_request *req; /* NULL once finished or cancelled */
    struct etcd_stream stream;
    etcd_watch_msg_cb on_msg;
    etcd_watch_end_cb on_end;
    void *arg;
    bool done;                       /* no callback of the user runs any more */
    struct event *reaper;            /* frees the watch from the loop */
    size_t url;                      /* index of the URL the watch runs on */
    struct event *quiet;             /* watch_probe_s without a chunk: probe the member */
    struct event *stall;             /* connect_s after a probe started */
    struct evhttp_connection *probe; /* the probe in flight (owned), or NULL */
    struct etcd_watch *prev, *next;
};

static void etcd_watch_unlink(struct etcd_watch *w)
{
    if (w->prev)
        w->prev->next = w->next;
    else if (w->e->watches == w)
        w->e->watches = w->next;
    if (w->next)
        w->next->prev = w->prev;
}

static void etcd_watch_destroy(struct etcd_watch *w)
{
    etcd_watch_unlink(w);
    if (w->evcon)
        evhttp_connection_free(w->evcon); /* also frees a request still running */
    if (w->reaper)
        event_free(w->reaper);
    if (w->quiet)
        event_free(w->quiet);
    if (w->stall)
        event_free(w->stall);
    if (w->probe)
        evhttp_connection_free(w->probe); /* frees its request, no callback */
    etcd_stream_free(&w->stream);
    free(w);
}

static void etcd_watch_reap(evutil_socket_t fd, short what, void *arg)
{
    etcd_watch_destroy(arg);
}

/* Ends the watch once: tells the user (unless cancelled) and frees it later. */
static void etcd_watch_end(struct etcd_watch *w, const char *why, bool tell)
{
    if (w->done)
        return;
    w->done = true;
    if (w->quiet)
        evtimer_del(w->quiet);
    if (w->stall)
        evtimer_del(w->stall);
    if (tell && w->on_end)
        w->on_end(w->arg, why);
    event_active(w->reaper, EV_TIMEOUT, 0);
}

static void etcd_watch_arm(struct etcd_watch *w)
{
    if (!w->quiet || w->done)
        return;
    struct timeval tv = etcd_tv(w->e->watch_probe_s);
    evtimer_add(w->quiet, &tv);
}

/* The probe ended (from libevent: its connection is handed to the reaper,
 * not freed here). An answer of any kind shows the member reachable; no
 * answer at all (refused, reset, timeout_s) ends the watch. */
static void etcd_watch_probe_done(struct evhttp_request *req, void *arg)
{
    struct etcd_watch *w = arg;
    int code = req ? evhttp_request_get_response_code(req) : 0;
    conn_reaper_add(&w->e->reaper, w->probe);
    w->probe = NULL;
    evtimer_del(w->stall);
    if (code != 0)
        etcd_watch_arm(w);
    else
        etcd_watch_end(w, "the member did not answer a probe", true);
}

/* connect_s after the probe started: not connected, the member is cut off. */
static void etcd_watch_on_stall(evutil_socket_t fd, short what, void *arg)
{
    struct etcd_watch *w = arg;
    (void)fd;
    (void)what;
    if (!w->probe || w->done || etcd_evcon_connected(w->probe))
        return;
    evhttp_connection_free(w->probe); /* a timer: may be freed here, no callback */
    w->probe = NULL;
    char why[96];
    snprintf(why, sizeof(why), "the member did not accept a connection within %g s",
             w->e->connect_s);
    /* Calls in flight there are as stuck as the watch: moved first, so
     * that the watch's owner finds the client on a live URL. A call's
     * owner may cancel this watch meanwhile (then it is not told below;
     * the watch is freed from the loop, so w stays valid here). */
    etcd_unreachable(w->e, w->url);
    etcd_watch_end(w, why, true);
}

static void etcd_watch_on_quiet(evutil_socket_t fd, short what, void *arg)
{
    struct etcd_watch *w = arg;
    (void)fd;
    (void)what;
    if (w->done || w->probe)
        return;
    const struct etcd_url *u = &w->e->urls[w->url];
    struct evhttp_connection *c = etcd_connect(w->e, u);
    struct evhttp_request *req =
        c ? etcd_request_new(w->e, u, "{}", etcd_watch_probe_done, w) : NULL;
    if (!req) {
        if (c)
            evhttp_connection_free(c);
        etcd_watch_arm(w);
        return;
    }
    struct timeval to = etcd_tv(w->e->timeout_s);
    evhttp_connection_set_timeout_tv(c, &to);
    if (evhttp_make_request(c, req, EVHTTP_REQ_POST, "/v3/maintenance/status") != 0) {
        evhttp_connection_free(c); /* the request was freed by libevent */
        etcd_watch_arm(w);
        return;
    }
    w->probe = c;
    struct timeval cs = etcd_tv(w->e->connect_s);
    evtimer_add(w->stall, &cs);
}

static void etcd_watch_on_obj(void *arg, json_t *obj)
{
    struct etcd_watch *w = arg;
    json_t *res = json_object_get(obj, "result");
    if (w->done)
        return;
    if (json_is_object(res))
        w->on_msg(w->arg, res);
    else if (json_object_get(obj, "error"))
        etcd_watch_end(w, "etcd ended the watch with an error", true);
}

static void etcd_watch_on_chunk(struct evhttp_request *req, void *arg)
{
    struct etcd_watch *w = arg;
    struct evbuffer *in = evhttp_request_get_input_buffer(req);
    if (w->done) {
        evbuffer_drain(in, evbuffer_get_length(in));
        return;
    }
    if (evhttp_request_get_response_code(req) != 200) {
        evbuffer_drain(in, evbuffer_get_length(in));
        return; /* the done callback reports it */
    }
    etcd_watch_arm(w); /* the member is reachable: quiet from now on */
    while (evbuffer_get_length(in) > 0 && !w->done) {
        char buf[16384];
        int n = evbuffer_remove(in, buf, sizeof(buf));
        if (n <= 0)
            break;
        if (etcd_stream_feed(&w->stream, buf, (size_t)n, etcd_watch_on_obj, w) < 0)
            etcd_watch_end(w, "the watch stream is not valid JSON", true);
    }
}

static void etcd_watch_on_done(struct evhttp_request *req, void *arg)
{
    struct etcd_watch *w = arg;
    w->req = NULL; /* libevent frees it after this callback */
    int code = req ? evhttp_request_get_response_code(req) : 0;
    etcd_watch_end(w,
                   code == 0     ? "connection lost"
                   : code == 200 ? "stream closed"
                                 : "HTTP error",
                   true);
}

struct etcd_watch *etcd_watch_start(struct etcd *e, json_t *create_request,
                                    etcd_watch_msg_cb on_msg, etcd_watch_end_cb on_end, void *arg)
{
    struct etcd_watch *w = calloc(1, sizeof(*w));
    if (!w)
        abort();
    w->e = e;
    w->on_msg = on_msg;
    w->on_end = on_end;
    w->arg = arg;
    etcd_stream_init(&w->stream);
    w->reaper = event_new(e->base, -1, 0, etcd_watch_reap, w);
    w->next = e->watches;
    if (e->watches)
        e->watches->prev = w;
    e->watches = w;
    json_t *b = json_pack("{s:o}", "create_request", create_request);
    char *body = json_dumps(b, JSON_COMPACT);
    json_decref(b);
    w->url = e->cur;
    if (e->watch_probe_s > 0) {
        w->quiet = evtimer_new(e->base, etcd_watch_on_quiet, w);
        w->stall = evtimer_new(e->base, etcd_watch_on_stall, w);
        if (!w->quiet || !w->stall)
            abort();
    }
    const struct etcd_url *u = &e->urls[e->cur];
    w->evcon = w->reaper && body ? etcd_connect(e, u) : NULL;
    w->req = w->evcon ? etcd_request_new(e, u, body, etcd_watch_on_done, w) : NULL;
    free(body);
    if (!w->req) {
        etcd_watch_destroy(w);
        return NULL;
    }
    evhttp_request_set_chunked_cb(w->req, etcd_watch_on_chunk);
    /* "require leader": the gateway passes Grpc-Metadata-* headers on as
     * gRPC metadata, and etcd ends a watch with hasleader=true when its
     * member loses the leader instead of keeping it open and silent. */
    evhttp_add_header(evhttp_request_get_output_headers(w->req), "Grpc-Metadata-hasleader", "true");
    /* evhttp's read timeout: a silent stream ends after watch_idle_s. */
    struct timeval idle = {
        .tv_sec = (time_t)e->watch_idle_s,
        .tv_usec = (suseconds_t)((e->watch_idle_s - (double)(time_t)e->watch_idle_s) * 1e6)};
    evhttp_connection_set_timeout_tv(w->evcon, &idle);
    if (evhttp_make_request(w->evcon, w->req, EVHTTP_REQ_POST, "/v3/watch") != 0) {
        w->req = NULL; /* freed by libevent */
        etcd_watch_destroy(w);
        return NULL;
    }
    etcd_watch_arm(w); /* also covers a watch whose own connect never completes */
    return w;
}

const char *etcd_watch_endpoint(const struct etcd_watch *w)
{
    return w->e->urls[w->url].text;
}

void etcd_watch_cancel(struct etcd_watch *w)
{
    if (!w)
        return;
    if (w->req) {
        evhttp_cancel_request(w->req); /* no callback; allowed from the chunk callback */
        w->req = NULL;
    }
    w->done = true;
    if (w->quiet)
        evtimer_del(w->quiet);
    if (w->stall)
        evtimer_del(w->stall);
    event_active(w->reaper, EV_TIMEOUT, 0);
}

void etcd_watch_free_all(struct etcd *e)
{
    while (e->watches)
        etcd_watch_destroy(e->watches);
}

/*
 * webhook.c -- the notifier thread: event ring -> queues -> HTTP posts.
 */
#include "webhook/webhook.h"

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <event2/thread.h>
#include <math.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>

#include "common/conn_reaper.h"
#include "common/log.h"
#include "webhook/webhook_format.h"
#include "webhook/webhook_states.h"

#define WEBHOOK_READ_MAX 1000   /* ring events read a tick */
#define WEBHOOK_REPLY_MAX 65536 /* reply bytes read at most */

/* One webhook on the notifier thread. Its queue is a ring of payload
 * texts; the head is the one being posted (or waiting for its retry). */
struct wh_hook {
    struct webhook_core *w;
    struct webhook_target t; /* a copy (owned) */
    struct evhttp_uri *uri;
    SSL_CTX *ssl; /* https only */
    char **q;     /* queue texts, capacity w->cap */
    size_t head, len;
    unsigned attempt; /* failed attempts of the head */
    bool busy;        /* posting the head, or waiting to retry it */
    int http_error;   /* libevent's error of the attempt (evhttp_request_error), -1: none */
    struct evhttp_connection *conn;
    struct event *retry_ev, *deadline_ev;
    struct webhook_stat st; /* under w->lock */
};

struct webhook_core {
    pthread_t thread;
    struct event_base *base;
    struct event *tick, *stop_ev, *reconf_ev;
    struct event_ring *events;
    struct serve_reader *reader; /* NULL: no "state" events */
    char *node;
    uint64_t last_id;
    struct webhook_states *states;
    bool states_wanted;
    pthread_mutex_t lock; /* the hooks' counters, pending */
    struct wh_hook *hooks;
    size_t n_hooks, cap;
    struct webhook_params pending; /* a reload's webhooks, taken by the thread */
    bool has_pending;
    struct conn_reaper reaper; /* connections freed outside their own callbacks */
};

static char *wh_strdup(const char *s)
{
    char *d = s ? strdup(s) : NULL;
    if (s && !d)
        abort();
    return d;
}

static struct timeval wh_tv(double s)
{
    struct timeval tv = {(time_t)s, (suseconds_t)((s - floor(s)) * 1e6)};
    return tv;
}

static double wh_now(void)
{
    struct timeval tv;
    gettimeofday(&tv, NULL);
    return (double)tv.tv_sec + (double)tv.tv_usec / 1e6;
}

/* ---- the queue ------------------------------------------------------- */

static void wh_pop(struct wh_hook *h)
{
    free(h->q[h->head]);
    h->q[h->head] = NULL;
    h->head = (h->head + 1) % h->w->cap;
    h->len--;
    h->attempt = 0;
}

/* Adds a payload text (stolen); a full queue drops its oldest waiting one
 * (the head stays while it is being posted). */
static void wh_push(struct wh_hook *h, char *text)
{
    struct webhook_core *w = h->w;
    if (h->len == w->cap && h->busy && w->cap == 1) { /* only the one in flight */
        free(text);
        pthread_mutex_lock(&w->lock);
        h->st.dropped++;
        pthread_mutex_unlock(&w->lock);
        return;
    }
    if (h->len == w->cap) {
        size_t victim = h->busy ? (h->head + 1) % w->cap : h->head;
        free(h->q[victim]);
        /* Close the gap: move the later ones one place towards it. */
        for (size_t i = victim; i != (h->head + h->len - 1) % w->cap; i = (i + 1) % w->cap)
            h->q[i] = h->q[(i + 1) % w->cap];
        h->len--;
        pthread_mutex_lock(&w->lock);
        h->st.dropped++;
        pthread_mutex_unlock(&w->lock);
        if (!h->busy)
            h->attempt = 0;
    }
    h->q[(h->head + h->len) % w->cap] = text;
    h->len++;
    pthread_mutex_lock(&w->lock);
    h->st.queued = h->len;
    pthread_mutex_unlock(&w->lock);
}

/* ---- posting --------------------------------------------------------- */

static void wh_send(struct wh_hook *h);

/* The head's attempt ended: status (0: no reply) and why. */
static void wh_attempt_done(struct wh_hook *h, int status, const char *why)
{
    struct webhook_core *w = h->w;
    evtimer_del(h->deadline_ev);
    bool ok = status >= 200 && status < 300;
    pthread_mutex_lock(&w->lock);
    h->st.last_status = status;
    if (ok) {
        h->st.sent++;
        h->st.last_ok = wh_now();
        h->st.last_error[0] = '\0';
    } else {
        h->st.last_fail = wh_now();
        snprintf(h->st.last_error, sizeof(h->st.last_error), "%s", why);
    }
    pthread_mutex_unlock(&w->lock);
    if (!ok && h->attempt < h->t.retries) {
        double pause = h->t.backoff * pow(2.0, (double)h->attempt);
        h->attempt++;
        pthread_mutex_lock(&w->lock);
        h->st.retries++;
        pthread_mutex_unlock(&w->lock);
        struct timeval tv = wh_tv(pause < h->t.max_backoff ? pause : h->t.max_backoff);
        evtimer_add(h->retry_ev, &tv);
        return; /* still busy: the head waits for its retry */
    }
    if (!ok) {
        char q[240];
        log_warn("event=webhook_dropped webhook=\"%s\" attempts=%u why=\"%s\"", h->st.label,
                 h->attempt + 1, log_quote(why, q, sizeof(q)));
        pthread_mutex_lock(&w->lock);
        h->st.failed++;
        pthread_mutex_unlock(&w->lock);
    }
    wh_pop(h);
    pthread_mutex_lock(&w->lock);
    h->st.queued = h->len;
    pthread_mutex_unlock(&w->lock);
    /* The next post starts from the loop, not from here: a run of posts
     * that fail at once (no connection possible) must not recurse. */
    struct timeval now = {0, 0};
    evtimer_add(h->retry_ev, &now);
}

static void wh_on_reply(struct evhttp_request *req, void *arg)
{
    struct wh_hook *h = arg;
    conn_reaper_add(&h->w->reaper, h->conn);
    h->conn = NULL;
    int code = req ? evhttp_request_get_response_code(req) : 0;
    char why[80];
    static const char *const errs[] = {"timeout",
                                       "no reply (connection failed or closed)",
                                       "invalid reply header",
                                       "buffer error",
                                       "request cancelled",
                                       "reply too long"};
    if (code)
        snprintf(why, sizeof(why), "HTTP status %d", code);
    else
        snprintf(why, sizeof(why), "%s",
                 h->http_error >= 0 && h->http_error <= EVREQ_HTTP_DATA_TOO_LONG
                     ? errs[h->http_error]
                     : "no reply (connection failed or closed)");
    wh_attempt_done(h, code, why);
}

static void wh_on_error(enum evhttp_request_error e, void *arg)
{
    ((struct wh_hook *)arg)->http_error = (int)e;
}

static void wh_on_deadline(evutil_socket_t fd, short what, void *arg)
{
    struct wh_hook *h = arg;
    (void)fd;
    (void)what;
    if (!h->conn)
        return;
    /* Freeing the connection cancels the request without its callback. */
    evhttp_connection_free(h->conn);
    h->conn = NULL;
    wh_attempt_done(h, 0, "timeout");
}

static void wh_on_retry(evutil_socket_t fd, short what, void *arg)
{
    struct wh_hook *h = arg;
    (void)fd;
    (void)what;
    h->busy = false;
    wh_send(h);
}

/* A connection to the webhook's host, over TLS for https. */
static struct evhttp_connection *wh_connect(struct wh_hook *h)
{
    const char *host = evhttp_uri_get_host(h->uri);
    int port = evhttp_uri_get_port(h->uri);
    struct bufferevent *bev = NULL;
    if (h->ssl) {
        SSL *ssl = SSL_new(h->ssl);
        if (!ssl)
            return NULL;
        bool literal = strchr(host, ':') || strspn(host, "0123456789.") == strlen(host);
        if (literal)
            X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl), host);
        else {
            SSL_set1_host(ssl, host);
            SSL_set_tlsext_host_name(ssl, host);
        }
        bev = bufferevent_openssl_socket_new(h->w->base, -1, ssl, BUFFEREVENT_SSL_CONNECTING,
                                             BEV_OPT_CLOSE_ON_FREE | BEV_OPT_DEFER_CALLBACKS);
        if (!bev) {
            SSL_free(ssl);
            return NULL;
        }
        bufferevent_openssl_set_allow_dirty_shutdown(bev, 1);
    }
    struct evhttp_connection *c =
        evhttp_connection_base_bufferevent_new(h->w->base, NULL, bev, host,
                                               (ev_uint16_t)(port > 0 ? port
                                                             : h->ssl ? 443
                                                                      : 80));
    if (!c && bev)
        bufferevent_free(bev);
    return c;
}

/* The path and query of the URL, for the request line. */
static void wh_request_path(const struct evhttp_uri *u, char *buf, size_t len)
{
    const char *p = evhttp_uri_get_path(u), *q = evhttp_uri_get_query(u);
    snprintf(buf, len, "%s%s%s", p && *p ? p : "/", q ? "?" : "", q ? q : "");
}

/* Posts the head of the queue, unless one is in flight or waiting. */
static void wh_send(struct wh_hook *h)
{
    if (h->busy || h->len == 0)
        return;
    h->busy = true;
    struct evhttp_connection *c = wh_connect(h);
    struct evhttp_request *req = c ? evhttp_request_new(wh_on_reply, h) : NULL;
    if (!req) {
        if (c)
            evhttp_connection_free(c);
        wh_attempt_done(h, 0, "cannot set up a connection");
        return;
    }
    /* The deadline bounds the whole attempt (a receiver that drips bytes
     * resets libevent's own per-read timeout, set a little later). */
    struct timeval tv = wh_tv(h->t.timeout), io = wh_tv(h->t.timeout + 1.0);
    evhttp_connection_set_timeout_tv(c, &io);
    h->http_error = -1;
    evhttp_request_set_error_cb(req, wh_on_error);
    evhttp_connection_set_retries(c, 0);
    evhttp_connection_set_max_body_size(c, WEBHOOK_REPLY_MAX);
    struct evkeyvalq *hd = evhttp_request_get_output_headers(req);
    char hostport[300], auth[1100], path[2100];
    int port = evhttp_uri_get_port(h->uri);
    if (port > 0)
        snprintf(hostport, sizeof(hostport), "%s:%d", evhttp_uri_get_host(h->uri), port);
    else
        snprintf(hostport, sizeof(hostport), "%s", evhttp_uri_get_host(h->uri));
    evhttp_add_header(hd, "Host", hostport);
    evhttp_add_header(hd, "Content-Type", "application/json");
    evhttp_add_header(hd, "User-Agent", "gtmd-webhook");
    evhttp_add_header(hd, "Connection", "close");
    if (h->t.token) {
        snprintf(auth, sizeof(auth), "Bearer %s", h->t.token);
        evhttp_add_header(hd, "Authorization", auth);
    }
    const char *body = h->q[h->head];
    evbuffer_add(evhttp_request_get_output_buffer(req), body, strlen(body));
    wh_request_path(h->uri, path, sizeof(path));
    h->conn = c;
    evtimer_add(h->deadline_ev, &tv);
    if (evhttp_make_request(c, req, EVHTTP_REQ_POST, path) != 0) {
        h->conn = NULL;
        evhttp_connection_free(c);
        wh_attempt_done(h, 0, "cannot send the request");
    }
}

/* ---- events ---------------------------------------------------------- */

/* Queues ev for every webhook that asks for its kind (ev borrowed). */
static void wh_dispatch(struct webhook_core *w, json_t *ev)
{
    int kind = webhook_event_kind(ev);
    if (kind < 0)
        return;
    for (size_t i = 0; i < w->n_hooks; i++) {
        struct wh_hook *h = &w->hooks[i];
        if (!(h->t.events & (1u << kind)))
            continue;
        json_t *p = webhook_payload(h->t.format, ev, w->node);
        char *text = p ? json_dumps(p, JSON_COMPACT) : NULL;
        json_decref(p);
        if (text)
            wh_push(h, text);
    }
}

static void wh_emit_state(void *arg, json_t *ev)
{
    wh_dispatch(arg, ev);
    json_decref(ev);
}

static void wh_on_event(void *arg, uint64_t id, const char *type, const char *text)
{
    struct webhook_core *w = arg;
    (void)id;
    (void)type;
    json_t *ev = json_loads(text, 0, NULL);
    if (ev)
        wh_dispatch(w, ev);
    json_decref(ev);
}

/* Effective states after events: compared with the last ones seen. */
static void wh_states(struct webhook_core *w)
{
    if (!w->reader || !w->states_wanted)
        return;
    const struct serve_set *s = serve_enter(w->reader);
    webhook_states_update(w->states, s->gslb, wh_now(), wh_emit_state, w);
    serve_leave(w->reader);
}

static void wh_on_tick(evutil_socket_t fd, short what, void *arg)
{
    struct webhook_core *w = arg;
    (void)fd;
    (void)what;
    bool gap = false;
    uint64_t before = w->last_id;
    w->last_id = event_ring_read(w->events, w->last_id, WEBHOOK_READ_MAX, wh_on_event, w, &gap);
    if (gap)
        log_warn("event=webhook_gap note=\"events were dropped from the ring before the "
                 "notifier read them\"");
    if (w->last_id != before)
        wh_states(w);
    for (size_t i = 0; i < w->n_hooks; i++)
        wh_send(&w->hooks[i]);
}

/* ---- webhooks: set up and torn down on the thread -------------------- */

static SSL_CTX *wh_ssl_ctx(const struct webhook_target *t)
{
    SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());
    if (!ctx)
        return NULL;
    SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
    SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
    int ok = t->ca_file ? SSL_CTX_load_verify_locations(ctx, t->ca_file, NULL)
                        : SSL_CTX_set_default_verify_paths(ctx);
    if (ok != 1) {
        SSL_CTX_free(ctx);
        return NULL;
    }
    return ctx;
}

/* The URL without its path: Slack's and others' paths are secrets. */
static void wh_label(const struct evhttp_uri *u, const char *url, char *buf, size_t len)
{
    const char *host = u ? evhttp_uri_get_host(u) : NULL;
    int port = u ? evhttp_uri_get_port(u) : -1;
    if (!host)
        snprintf(buf, len, "(bad url)");
    else if (port > 0)
        snprintf(buf, len, "%s://%s:%d/...", strncmp(url, "https", 5) == 0 ? "https" : "http", host,
                 port);
    else
        snprintf(buf, len, "%s://%s/...", strncmp(url, "https", 5) == 0 ? "https" : "http", host);
}

static void wh_hook_init(struct webhook_core *w, struct wh_hook *h, const struct webhook_target *t)
{
    h->w = w;
    h->t = *t;
    h->t.url = wh_strdup(t->url);
    h->t.token = wh_strdup(t->token);
    h->t.token_file = wh_strdup(t->token_file);
    h->t.ca_file = wh_strdup(t->ca_file);
    h->uri = evhttp_uri_parse(t->url);
    h->q = calloc(w->cap, sizeof(*h->q));
    h->retry_ev = evtimer_new(w->base, wh_on_retry, h);
    h->deadline_ev = evtimer_new(w->base, wh_on_deadline, h);
    if (!h->q || !h->retry_ev || !h->deadline_ev)
        abort();
    wh_label(h->uri, t->url, h->st.label, sizeof(h->st.label));
    h->st.format = t->format;
    if (h->uri && strncmp(t->url, "https://", 8) == 0 && !(h->ssl = wh_ssl_ctx(t)))
        log_error("event=webhook_tls webhook=\"%s\" error=\"cannot set up TLS (ca_file?)\"",
                  h->st.label);
    if (!h->uri || !evhttp_uri_get_host(h->uri))
        log_error("event=webhook_url webhook=\"%s\" error=\"cannot parse the url\"", h->st.label);
    if (t->events & (1u << WEBHOOK_EV_STATE))
        w->states_wanted = true;
}

static void wh_hook_free(struct wh_hook *h)
{
    if (h->conn)
        evhttp_connection_free(h->conn);
    event_free(h->retry_ev);
    event_free(h->deadline_ev);
    while (h->len)
        wh_pop(h);
    free(h->q);
    if (h->uri)
        evhttp_uri_free(h->uri);
    if (h->ssl)
        SSL_CTX_free(h->ssl);
    free(h->t.url);
    free(h->t.token);
    free(h->t.token_file);
    free(h->t.ca_file);
}

/* Replaces the hooks with p's (on the thread, or before it starts). */
static void wh_set_hooks(struct webhook_core *w, const struct webhook_params *p)
{
    for (size_t i = 0; i < w->n_hooks; i++)
        wh_hook_free(&w->hooks[i]);
    pthread_mutex_lock(&w->lock);
    free(w->hooks);
    w->cap = p->queue ? p->queue : 1;
    w->n_hooks = 0;
    w->hooks = calloc(p->n_hooks ? p->n_hooks : 1, sizeof(*w->hooks));
    if (!w->hooks)
        abort();
    pthread_mutex_unlock(&w->lock);
    w->states_wanted = false;
    for (size_t i = 0; i < p->n_hooks; i++)
        wh_hook_init(w, &w->hooks[i], &p->hooks[i]);
    pthread_mutex_lock(&w->lock);
    w->n_hooks = p->n_hooks;
    pthread_mutex_unlock(&w->lock);
}

static void wh_on_reconf(evutil_socket_t fd, short what, void *arg)
{
    struct webhook_core *w = arg;
    (void)fd;
    (void)what;
    pthread_mutex_lock(&w->lock);
    struct webhook_params p = w->pending;
    bool has = w->has_pending;
    memset(&w->pending, 0, sizeof(w->pending));
    w->has_pending = false;
    pthread_mutex_unlock(&w->lock);
    if (!has)
        return;
    wh_set_hooks(w, &p);
    webhook_params_free(&p);
    log_info("event=webhook_reload webhooks=%zu", w->n_hooks);
}

static void wh_on_stop(evutil_socket_t fd, short what, void *arg)
{
    struct webhook_core *w = arg;
    (void)fd;
    (void)what;
    event_base_loopbreak(w->base);
}

static void *wh_main(void *arg)
{
    struct webhook_core *w = arg;
    /* The baseline of "state" events: what is true when we start. */
    wh_states(w);
    event_base_dispatch(w->base);
    return NULL;
}

/* ---- interface ------------------------------------------------------- */

static void wh_params_copy(const struct webhook_params *p, struct webhook_params *out)
{
    out->queue = p->queue;
    out->n_hooks = p->n_hooks;
    out->hooks = calloc(p->n_hooks ? p->n_hooks : 1, sizeof(*out->hooks));
    if (!out->hooks)
        abort();
    for (size_t i = 0; i < p->n_hooks; i++) {
        out->hooks[i] = p->hooks[i];
        out->hooks[i].url = wh_strdup(p->hooks[i].url);
        out->hooks[i].token = wh_strdup(p->hooks[i].token);
        out->hooks[i].token_file = wh_strdup(p->hooks[i].token_file);
        out->hooks[i].ca_file = wh_strdup(p->hooks[i].ca_file);
    }
}

struct webhook_core *webhook_start(const struct webhook_params *p, const struct webhook_env *env)
{
    if (!p || p->n_hooks == 0)
        return NULL;
    struct webhook_core *w = calloc(1, sizeof(*w));
    if (!w)
        abort();
    evthread_use_pthreads();
    pthread_mutex_init(&w->lock, NULL);
    w->base = event_base_new();
    w->events = env->events;
    w->node = wh_strdup(env->node ? env->node : "gtmd");
    w->reader = env->serve ? serve_reader_add(env->serve) : NULL;
    w->states = webhook_states_new();
    w->last_id = event_ring_last(env->events);
    if (!w->base)
        abort();
    w->tick = event_new(w->base, -1, EV_PERSIST, wh_on_tick, w);
    w->stop_ev = event_new(w->base, -1, 0, wh_on_stop, w);
    w->reconf_ev = event_new(w->base, -1, 0, wh_on_reconf, w);
    conn_reaper_init(&w->reaper, w->base);
    if (!w->tick || !w->stop_ev || !w->reconf_ev)
        abort();
    if (env->serve && !w->reader)
        log_warn("event=webhook_start note=\"no serve reader left: no state events\"");
    wh_set_hooks(w, p);
    struct timeval tv = wh_tv(WEBHOOK_TICK_S);
    event_add(w->tick, &tv);
    if (pthread_create(&w->thread, NULL, wh_main, w) != 0)
        abort();
    pthread_setname_np(w->thread, "gtmd-webhook"); /* top -H, perf, gdb */
    log_info("event=webhook_start webhooks=%zu queue=%zu", w->n_hooks, w->cap);
    return w;
}

void webhook_update(struct webhook_core *w, const struct webhook_params *p)
{
    if (!w)
        return;
    pthread_mutex_lock(&w->lock);
    if (w->has_pending)
        webhook_params_free(&w->pending);
    wh_params_copy(p, &w->pending);
    w->has_pending = true;
    pthread_mutex_unlock(&w->lock);
    event_active(w->reconf_ev, EV_TIMEOUT, 0);
}

size_t webhook_stats(struct webhook_core *w, struct webhook_stat *out, size_t max)
{
    if (!w)
        return 0;
    pthread_mutex_lock(&w->lock);
    size_t n = w->n_hooks < max ? w->n_hooks : max;
    for (size_t i = 0; i < n; i++)
        out[i] = w->hooks[i].st;
    pthread_mutex_unlock(&w->lock);
    return n;
}

json_t *webhook_status_json(struct webhook_core *w)
{
    struct webhook_stat st[WEBHOOK_MAX];
    if (!w)
        return json_null();
    size_t n = webhook_stats(w, st, WEBHOOK_MAX);
    json_t *arr = json_array();
    for (size_t i = 0; i < n; i++)
        json_array_append_new(
            arr, json_pack("{s:s, s:s, s:I, s:I, s:I, s:I, s:I, s:i, s:s, s:f, s:f}", "webhook",
                           st[i].label, "format", webhook_format_name(st[i].format), "queued",
                           (json_int_t)st[i].queued, "sent", (json_int_t)st[i].sent, "failed",
                           (json_int_t)st[i].failed, "dropped", (json_int_t)st[i].dropped,
                           "retries", (json_int_t)st[i].retries, "last_status", st[i].last_status,
                           "last_error", st[i].last_error, "last_success", st[i].last_ok,
                           "last_failure", st[i].last_fail));
    pthread_mutex_lock(&w->lock);
    size_t cap = w->cap;
    pthread_mutex_unlock(&w->lock);
    return json_pack("{s:I, s:o}", "queue", (json_int_t)cap, "webhooks", arr);
}

void webhook_stop(struct webhook_core *w)
{
    if (!w)
        return;
    event_active(w->stop_ev, EV_TIMEOUT, 0);
    pthread_join(w->thread, NULL);
    for (size_t i = 0; i < w->n_hooks; i++)
        wh_hook_free(&w->hooks[i]);
    free(w->hooks);
    conn_reaper_free(&w->reaper);
    if (w->has_pending)
        webhook_params_free(&w->pending);
    event_free(w->tick);
    event_free(w->stop_ev);
    event_free(w->reconf_ev);
    event_base_free(w->base);
    webhook_states_free(w->states);
    free(w->node);
    pthread_mutex_destroy(&w->lock);
    free(w);
}

/*
 * etcd.c -- the etcd v3 JSON-gateway client: calls, failover, TLS, auth.
 * The watch stream is in etcd_watch.c; both share etcd_int.h.
 */
#include "fleet/etcd_int.h"

#include <event2/buffer.h>
#include <sys/socket.h>

#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/log.h"

struct etcd_pending {
    struct etcd *e;
    char *path;
    char *body;
    etcd_cb cb;
    void *arg;
    size_t tries;   /* endpoints tried for this call */
    size_t url;     /* index of the URL of the attempt in flight */
    bool reauthed;  /* already authenticated again once */
    bool is_auth;   /* the authenticate call itself */
    bool in_flight; /* evcon/req are live */
    struct evhttp_connection *evcon;
    /* The bound of the whole call (ETCD_CALL_TIMEOUTS x timeout): evhttp's
     * timeout is per read, so a server that sends one octet now and then
     * would hold the call (and the sync waiting for it) for ever. */
    struct event *deadline;
    /* connect_s after sending: an attempt not connected yet is moved to
     * the next URL (etcd.h, connect_s). */
    struct event *stall;
    struct etcd_pending *prev, *next;
};

static void etcd_pending_send(struct etcd_pending *p);

static char *etcd_strdup(const char *s)
{
    char *d = strdup(s ? s : "");
    if (!d)
        abort();
    return d;
}

static int etcd_parse_url(const char *text, struct etcd_url *u, char *err, size_t errlen)
{
    struct evhttp_uri *uri = evhttp_uri_parse(text);
    const char *scheme = uri ? evhttp_uri_get_scheme(uri) : NULL;
    const char *host = uri ? evhttp_uri_get_host(uri) : NULL;
    if (!scheme || !host || !*host ||
        (strcmp(scheme, "http") != 0 && strcmp(scheme, "https") != 0)) {
        snprintf(err, errlen, "\"%s\" is not an http:// or https:// URL", text);
        if (uri)
            evhttp_uri_free(uri);
        return -1;
    }
    u->text = etcd_strdup(text);
    u->tls = strcmp(scheme, "https") == 0;
    u->host = etcd_strdup(host);
    int port = evhttp_uri_get_port(uri);
    u->port = port > 0 ? port : 2379;
    evhttp_uri_free(uri);
    return 0;
}

static SSL_CTX *etcd_ssl_ctx(const struct etcd_params *p, char *err, size_t errlen)
{
    SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());
    if (!ctx) {
        snprintf(err, errlen, "cannot create a TLS context");
        return NULL;
    }
    SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
    SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
    int ok = p->ca_file ? SSL_CTX_load_verify_locations(ctx, p->ca_file, NULL)
                        : SSL_CTX_set_default_verify_paths(ctx);
    if (ok != 1) {
        snprintf(err, errlen, "cannot load the CA file %s", p->ca_file ? p->ca_file : "(system)");
        SSL_CTX_free(ctx);
        return NULL;
    }
    if (p->cert_file && (SSL_CTX_use_certificate_chain_file(ctx, p->cert_file) != 1 ||
                         SSL_CTX_use_PrivateKey_file(ctx, p->key_file ? p->key_file : p->cert_file,
                                                     SSL_FILETYPE_PEM) != 1 ||
                         SSL_CTX_check_private_key(ctx) != 1)) {
        snprintf(err, errlen, "cannot use the client certificate %s", p->cert_file);
        SSL_CTX_free(ctx);
        return NULL;
    }
    ERR_clear_error();
    return ctx;
}

struct etcd *etcd_new(struct event_base *base, const struct etcd_params *p, char *err,
                      size_t errlen)
{
    struct etcd *e = calloc(1, sizeof(*e));
    if (!e)
        abort();
    e->base = base;
    e->urls = calloc(p->n_urls ? p->n_urls : 1, sizeof(*e->urls));
    if (!e->urls)
        abort();
    bool any_tls = false;
    for (size_t i = 0; i < p->n_urls; i++) {
        if (etcd_parse_url(p->urls[i], &e->urls[e->n_urls], err, errlen) != 0) {
            etcd_free(e);
            return NULL;
        }
        any_tls |= e->urls[e->n_urls++].tls;
    }
    if (e->n_urls == 0) {
        snprintf(err, errlen, "no etcd URL");
        etcd_free(e);
        return NULL;
    }
    if (any_tls && !(e->ssl_ctx = etcd_ssl_ctx(p, err, errlen))) {
        etcd_free(e);
        return NULL;
    }
    if (p->username) {
        e->username = etcd_strdup(p->username);
        e->password = etcd_strdup(p->password);
    }
    e->timeout_s = p->timeout_s > 0 ? p->timeout_s : 2.0;
    e->watch_idle_s = p->watch_idle_s > 0 ? p->watch_idle_s : 86400;
    /* A check slower than the call's own timeout would never fire first. */
    e->connect_s = p->connect_s > 0 && p->connect_s < e->timeout_s ? p->connect_s : 0;
    e->watch_probe_s = e->connect_s > 0 && p->watch_probe_s > 0 ? p->watch_probe_s : 0;
    conn_reaper_init(&e->reaper, base);
    return e;
}

static void etcd_pending_unlink(struct etcd_pending *p)
{
    struct etcd *e = p->e;
    if (p->prev)
        p->prev->next = p->next;
    else if (e->pending == p)
        e->pending = p->next;
    if (p->next)
        p->next->prev = p->prev;
    p->prev = p->next = NULL;
}

static void etcd_pending_free(struct etcd_pending *p)
{
    if (p->deadline)
        event_free(p->deadline);
    if (p->stall)
        event_free(p->stall);
    free(p->path);
    free(p->body);
    free(p);
}

void etcd_free(struct etcd *e)
{
    if (!e)
        return;
    etcd_watch_free_all(e);
    /* Every call not answered yet ends with ETCD_ERR_CANCELLED, so that its
     * owner frees what it passed as arg (etcd.h). */
    while (e->pending) {
        struct etcd_pending *p = e->pending;
        etcd_pending_unlink(p);
        if (p->in_flight && p->evcon)
            evhttp_connection_free(p->evcon); /* frees the request, no callback */
        if (p->cb && !p->is_auth)
            p->cb(p->arg, ETCD_ERR_CANCELLED, NULL, "the etcd client is being freed");
        etcd_pending_free(p);
    }
    while (e->auth_wait) {
        struct etcd_pending *p = e->auth_wait;
        e->auth_wait = p->next;
        if (p->cb && !p->is_auth)
            p->cb(p->arg, ETCD_ERR_CANCELLED, NULL, "the etcd client is being freed");
        etcd_pending_free(p);
    }
    conn_reaper_free(&e->reaper);
    for (size_t i = 0; i < e->n_urls; i++) {
        free(e->urls[i].text);
        free(e->urls[i].host);
    }
    free(e->urls);
    free(e->username);
    free(e->password);
    free(e->token);
    if (e->ssl_ctx)
        SSL_CTX_free(e->ssl_ctx);
    free(e);
}

const char *etcd_endpoint(const struct etcd *e)
{
    return e->urls[e->cur].text;
}

struct timeval etcd_tv(double s)
{
    return (struct timeval){.tv_sec = (time_t)s,
                            .tv_usec = (suseconds_t)((s - (double)(time_t)s) * 1e6)};
}

bool etcd_evcon_connected(struct evhttp_connection *c)
{
    struct bufferevent *bev = evhttp_connection_get_bufferevent(c);
    evutil_socket_t fd = bev ? bufferevent_getfd(bev) : -1;
    struct sockaddr_storage ss;
    socklen_t len = sizeof(ss);
    return fd >= 0 && getpeername(fd, (struct sockaddr *)&ss, &len) == 0;
}

bool etcd_connecting(const struct etcd *e)
{
    /* The newest call only (calls are linked at the head): older ones may
     * hold connections set up before a link was cut, which still look
     * connected. */
    for (const struct etcd_pending *p = e->pending; p; p = p->next) {
        if (!p->in_flight || !p->evcon)
            continue;
        return !etcd_evcon_connected(p->evcon);
    }
    return false;
}

void etcd_failover(struct etcd *e)
{
    e->cur = (e->cur + 1) % e->n_urls;
}

void etcd_failover_from(struct etcd *e, size_t from)
{
    if (e->cur == from)
        etcd_failover(e);
}

struct evhttp_connection *etcd_connect(struct etcd *e, const struct etcd_url *u)
{
    struct bufferevent *bev = NULL;
    if (u->tls) {
        SSL *ssl = SSL_new(e->ssl_ctx);
        if (!ssl)
            return NULL;
        /* The URL's host must be in the certificate: an address literal
         * as an IP SAN, a name as a DNS name; SNI only for names (RFC 6066
         * forbids address literals there). */
        bool literal = strchr(u->host, ':') || strspn(u->host, "0123456789.") == strlen(u->host);
        if (literal)
            X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl), u->host);
        else {
            SSL_set1_host(ssl, u->host);
            SSL_set_tlsext_host_name(ssl, u->host);
        }
        bev = bufferevent_openssl_socket_new(e->base, -1, ssl, BUFFEREVENT_SSL_CONNECTING,
                                             BEV_OPT_CLOSE_ON_FREE | BEV_OPT_DEFER_CALLBACKS);
        if (!bev) {
            SSL_free(ssl);
            return NULL;
        }
        bufferevent_openssl_set_allow_dirty_shutdown(bev, 1);
    }
    struct evhttp_connection *c =
        evhttp_connection_base_bufferevent_new(e->base, NULL, bev, u->host, (ev_uint16_t)u->port);
    if (!c && bev)
        bufferevent_free(bev);
    return c;
}

struct evhttp_request *etcd_request_new(struct etcd *e, const struct etcd_url *u, const char *body,
                                        void (*done)(struct evhttp_request *, void *), void *arg)
{
    struct evhttp_request *req = evhttp_request_new(done, arg);
    if (!req)
        return NULL;
    struct evkeyvalq *h = evhttp_request_get_output_headers(req);
    char host[300];
    snprintf(host, sizeof(host), strchr(u->host, ':') ? "[%s]:%d" : "%s:%d", u->host, u->port);
    evhttp_add_header(h, "Host", host);
    evhttp_add_header(h, "Content-Type", "application/json");
    /* One request per connection, freed when the request ends (the reaper, conn_reaper.h);
     * "close" so that etcd does not keep the other end open meanwhile. */
    evhttp_add_header(h, "Connection", "close");
    if (e->token)
        evhttp_add_header(h, "Authorization", e->token);
    evbuffer_add(evhttp_request_get_output_buffer(req), body, strlen(body));
    return req;
}

/* Calls back and frees p (it was unlinked or never linked). */
static void etcd_pending_finish(struct etcd_pending *p, enum etcd_status st, json_t *resp,
                                const char *err)
{
    etcd_cb cb = p->cb;
    void *arg = p->arg;
    etcd_pending_free(p);
    if (cb)
        cb(arg, st, resp, err);
}

/* The token arrived (or could not be had): sends or fails the waiters. */
static void etcd_auth_done(void *arg, enum etcd_status st, json_t *resp, const char *err)
{
    struct etcd *e = arg;
    const char *tok = st == ETCD_OK ? json_string_value(json_object_get(resp, "token")) : NULL;
    e->authenticating = false;
    if (tok) {
        free(e->token);
        e->token = etcd_strdup(tok);
    } else {
        log_warn("event=fleet_etcd_auth result=failed endpoint=%s error=\"%s\"", etcd_endpoint(e),
                 err ? err : "no token in the reply");
    }
    struct etcd_pending *w = e->auth_wait;
    e->auth_wait = NULL;
    while (w) {
        struct etcd_pending *n = w->next;
        w->next = NULL;
        if (tok)
            etcd_pending_send(w);
        else
            etcd_pending_finish(w, st == ETCD_OK ? ETCD_ERR_AUTH : st, NULL,
                                err ? err : "authentication failed");
        w = n;
    }
}

static void etcd_authenticate(struct etcd *e)
{
    if (e->authenticating)
        return;
    e->authenticating = true;
    struct etcd_pending *p = calloc(1, sizeof(*p));
    if (!p)
        abort();
    json_t *b = json_pack("{s:s, s:s}", "name", e->username, "password", e->password);
    p->e = e;
    p->path = etcd_strdup("/v3/auth/authenticate");
    p->body = json_dumps(b, JSON_COMPACT);
    json_decref(b);
    p->cb = etcd_auth_done;
    p->arg = e;
    p->is_auth = true;
    etcd_pending_send(p);
}

/* What to do with an error reply: retry elsewhere, authenticate, or give
 * up. grpc codes: 14 unavailable (no leader, timeouts), 4 deadline
 * exceeded, 16 unauthenticated. */
enum etcd_next { ETCD_NEXT_FAIL, ETCD_NEXT_FAILOVER, ETCD_NEXT_REAUTH };

static enum etcd_next etcd_classify(int http, json_t *resp, const char **msg)
{
    const char *m = json_string_value(json_object_get(resp, "message"));
    if (!m)
        m = json_string_value(json_object_get(resp, "error"));
    *msg = m ? m : "etcd returned an error";
    int code = (int)json_integer_value(json_object_get(resp, "code"));
    if (code == 16 || (m && (strstr(m, "invalid auth token") || strstr(m, "user name is empty"))))
        return ETCD_NEXT_REAUTH;
    if (code == 14 || code == 4 || http == 503 || http == 502 || http == 504 || !resp)
        return ETCD_NEXT_FAILOVER;
    return ETCD_NEXT_FAIL;
}

static double etcd_mono(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void etcd_pending_retry(struct etcd_pending *p, const char *why)
{
    struct etcd *e = p->e;
    /* While etcd is away every retry fails: one line per 10 s at most. */
    double now = etcd_mono();
    if (now - e->last_err_log >= 10 || e->last_err_log == 0) {
        char q[300];
        log_warn("event=fleet_etcd_error endpoint=%s path=%s error=\"%s\" not_logged_before=%lu",
                 etcd_endpoint(e), p->path, log_quote(why, q, sizeof(q)), e->errs_unlogged);
        e->last_err_log = now;
        e->errs_unlogged = 0;
    } else
        e->errs_unlogged++;
    /* Only when the client still uses the URL that failed: the attempts of
     * calls sent before an earlier move end later and must not move the
     * client off the live URL that the others moved to. */
    etcd_failover_from(e, p->url);
    if (++p->tries >= e->n_urls) {
        etcd_pending_finish(p, ETCD_ERR_NET, NULL, why);
        return;
    }
    etcd_pending_send(p);
}

static void etcd_on_done(struct evhttp_request *req, void *arg)
{
    struct etcd_pending *p = arg;
    struct etcd *e = p->e;
    evtimer_del(p->deadline);
    if (p->stall)
        evtimer_del(p->stall);
    etcd_pending_unlink(p);
    p->in_flight = false;
    conn_reaper_add(&e->reaper, p->evcon);
    p->evcon = NULL;
    int code = req ? evhttp_request_get_response_code(req) : 0;
    if (code == 0) {
        etcd_pending_retry(p, "no reply (connection failed, closed or timed out)");
        return;
    }
    struct evbuffer *in = evhttp_request_get_input_buffer(req);
    size_t n = evbuffer_get_length(in);
    json_error_t jerr;
    /* The gateway may append a gRPC trailer after the JSON of an error. */
    json_t *resp = json_loadb((const char *)evbuffer_pullup(in, (ev_ssize_t)n), n,
                              JSON_DISABLE_EOF_CHECK, &jerr);
    /* A streaming method (lease keepalive) wraps its one reply in "result". */
    json_t *inner = json_object_get(resp, "result");
    json_t *body = json_is_object(inner) ? inner : resp;
    if (code == 200 && json_is_object(body) && !json_object_get(resp, "error")) {
        json_incref(body);
        json_decref(resp);
        etcd_pending_finish(p, ETCD_OK, body, NULL);
        json_decref(body);
        return;
    }
    json_t *err_obj =
        json_is_object(json_object_get(resp, "error")) ? json_object_get(resp, "error") : resp;
    const char *msg;
    enum etcd_next next = etcd_classify(code, err_obj, &msg);
    char why[256];
    snprintf(why, sizeof(why), "HTTP %d: %s", code, msg);
    json_decref(resp);
    if (next == ETCD_NEXT_REAUTH && e->username && !p->reauthed && !p->is_auth) {
        p->reauthed = true;
        free(e->token);
        e->token = NULL;
        etcd_pending_send(p);
    } else if (next == ETCD_NEXT_FAILOVER) {
        etcd_pending_retry(p, why);
    } else {
        etcd_pending_finish(
            p, next == ETCD_NEXT_REAUTH || p->is_auth ? ETCD_ERR_AUTH : ETCD_ERR_SERVER, NULL, why);
    }
}

/* The call took too long as a whole: given up like a lost connection.
 * From a timer, so the connection may be freed here (which frees its
 * request without calling etcd_on_done). */
static void etcd_on_deadline(evutil_socket_t fd, short what, void *arg)
{
    struct etcd_pending *p = arg;
    (void)fd;
    (void)what;
    if (!p->in_flight)
        return;
    etcd_pending_unlink(p);
    p->in_flight = false;
    if (p->stall)
        evtimer_del(p->stall);
    evhttp_connection_free(p->evcon);
    p->evcon = NULL;
    etcd_pending_retry(p, "no complete reply within the call's time bound");
}

/* connect_s after sending: an attempt whose connection has no peer yet
 * (the SYN unanswered: packets dropped on the way) never sent its request,
 * so it is abandoned and the call goes to the next URL now instead of after
 * timeout_s. A connected one is left to its timeouts (a slow etcd). From a
 * timer, so the connection may be freed here. */
static void etcd_on_stall(evutil_socket_t fd, short what, void *arg)
{
    struct etcd_pending *p = arg;
    (void)fd;
    (void)what;
    if (!p->in_flight || etcd_evcon_connected(p->evcon))
        return;
    etcd_unreachable(p->e, p->url);
}

void etcd_unreachable(struct etcd *e, size_t url)
{
    char why[96];
    snprintf(why, sizeof(why), "the member did not accept a connection within %g s", e->connect_s);
    etcd_failover_from(e, url);
    /* Each retry links its call again at the head, on another URL (or ends
     * it), so the scan starts over and ends once none is left on url. */
    for (;;) {
        struct etcd_pending *p = e->pending;
        while (p && !(p->in_flight && p->url == url))
            p = p->next;
        if (!p)
            return;
        etcd_pending_unlink(p);
        p->in_flight = false;
        evtimer_del(p->deadline);
        if (p->stall)
            evtimer_del(p->stall);
        evhttp_connection_free(p->evcon); /* frees the request, no callback */
        p->evcon = NULL;
        etcd_pending_retry(p, why);
    }
}

static void etcd_pending_send(struct etcd_pending *p)
{
    struct etcd *e = p->e;
    if (e->username && !e->token && !p->is_auth) {
        p->next = e->auth_wait;
        e->auth_wait = p;
        etcd_authenticate(e);
        return;
    }
    p->url = e->cur;
    const struct etcd_url *u = &e->urls[e->cur];
    struct evhttp_connection *c = etcd_connect(e, u);
    struct evhttp_request *req = c ? etcd_request_new(e, u, p->body, etcd_on_done, p) : NULL;
    if (!req) {
        if (c)
            evhttp_connection_free(c);
        etcd_pending_retry(p, "cannot set up a connection");
        return;
    }
    struct timeval tv = etcd_tv(e->timeout_s);
    evhttp_connection_set_timeout_tv(c, &tv);
    /* A reply is held whole before it is parsed: a server that sends an
     * endless body would take all memory. The watch (a stream, parsed as
     * it comes) has its own bound per message (ETCD_STREAM_MAX). */
    evhttp_connection_set_max_body_size(c, ETCD_REPLY_MAX);
    if (!p->deadline)
        p->deadline = evtimer_new(e->base, etcd_on_deadline, p);
    if (!p->deadline)
        abort();
    struct timeval dl = etcd_tv(e->timeout_s * ETCD_CALL_TIMEOUTS);
    evtimer_add(p->deadline, &dl);
    if (e->connect_s > 0) {
        if (!p->stall && !(p->stall = evtimer_new(e->base, etcd_on_stall, p)))
            abort();
        struct timeval cs = etcd_tv(e->connect_s);
        evtimer_add(p->stall, &cs);
    }
    p->evcon = c;
    p->in_flight = true;
    p->next = e->pending;
    if (e->pending)
        e->pending->prev = p;
    e->pending = p;
    if (evhttp_make_request(c, req, EVHTTP_REQ_POST, p->path) != 0) {
        etcd_pending_unlink(p);
        p->in_flight = false;
        p->evcon = NULL;
        evtimer_del(p->deadline);
        if (p->stall)
            evtimer_del(p->stall);
        evhttp_connection_free(c);
        etcd_pending_retry(p, "cannot send the request");
        return;
    }
}

void etcd_call(struct etcd *e, const char *path, json_t *body, etcd_cb cb, void *arg)
{
    struct etcd_pending *p = calloc(1, sizeof(*p));
    if (!p)
        abort();
    p->e = e;
    p->path = etcd_strdup(path);
    p->body = json_dumps(body ? body : json_object(), JSON_COMPACT);
    if (!p->body)
        abort();
    json_decref(body);
    p->cb = cb;
    p->arg = arg;
    etcd_pending_send(p);
}

/* ---- helpers ---------------------------------------------------------- */

char *etcd_b64(const void *data, size_t len)
{
    char *out = malloc(4 * ((len + 2) / 3) + 1);
    if (!out)
        abort();
    EVP_EncodeBlock((unsigned char *)out, data, (int)len);
    return out;
}

char *etcd_unb64(const char *s, size_t *len)
{
    size_t n = strlen(s);
    if (n % 4 != 0)
        return NULL;
    unsigned char *out = malloc(3 * (n / 4) + 1);
    if (!out)
        abort();
    int r = EVP_DecodeBlock(out, (const unsigned char *)s, (int)n);
    if (r < 0) {
        free(out);
        return NULL;
    }
    /* EVP_DecodeBlock counts the padding as zero bytes. */
    size_t pad = (n >= 1 && s[n - 1] == '=') + (n >= 2 && s[n - 2] == '=');
    *len = (size_t)r - pad;
    out[*len] = '\0';
    return (char *)out;
}

int64_t etcd_json_int(json_t *v, int64_t def)
{
    if (json_is_integer(v))
        return (int64_t)json_integer_value(v);
    if (json_is_string(v)) {
        char *end;
        long long x = strtoll(json_string_value(v), &end, 10);
        return *end == '\0' ? (int64_t)x : def;
    }
    return def;
}

char *etcd_prefix_end_b64(const char *prefix)
{
    size_t n = strlen(prefix);
    char *end = etcd_strdup(prefix);
    /* The smallest key above every key with the prefix. */
    while (n > 0 && (unsigned char)end[n - 1] == 0xff)
        n--;
    if (n == 0) {
        free(end);
        return etcd_b64("\0", 1);
    }
    end[n - 1] = (char)((unsigned char)end[n - 1] + 1);
    char *b = etcd_b64(end, n);
    free(end);
    return b;
}

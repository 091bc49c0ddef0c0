/*
 * admin.c -- the admin API server: thread, listeners, auth, routing and
 * replies (the audit log is admin_audit.c's).
 */
#include "admin/admin_int.h"
#include "common/event_ring.h"
#include "health/shared_store.h"

#include <arpa/inet.h>
#include <errno.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/keyvalq_struct.h>
#include <event2/listener.h>
#include <event2/thread.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "admin/admin_request.h"
#include "common/addr.h"
#include "common/digest.h"
#include "common/jsonreal.h"
#include "common/log.h"
#include "health/override.h"
#include "health/service.h"
#include "policy/policy.h"

#define ADMIN_MAX_HEADERS (16 * 1024)

void admin_reply_json(struct admin_req *r, int status, json_t *body)
{
    static const char fallback[] = "{\n \"error\": {\n  \"code\": \"internal\",\n  \"message\": "
                                   "\"the reply could not be encoded\"\n }\n}";
    struct evbuffer *b = evbuffer_new();
    /* body is NULL when a json_pack() failed (e.g. on invalid UTF-8): answer
     * 500 rather than take the daemon down on a client's bytes. */
    /* Reals in their shortest form (0.95, not 0.94999999999999996). */
    char *text = body ? jsonreal_dumps(body, JSON_INDENT(1)) : NULL;
    if (!text) {
        log_error("event=admin_reply result=failed status=%d", status);
        status = 500;
    }
    evbuffer_add(b, text ? text : fallback, strlen(text ? text : fallback));
    evbuffer_add(b, "\n", 1);
    free(text);
    json_decref(body);
    struct evkeyvalq *h = evhttp_request_get_output_headers(r->req);
    evhttp_add_header(h, "Content-Type", "application/json");
    evhttp_add_header(h, "Cache-Control", "no-store");
    admin_conn_replied(r->a, r->req);
    bool was = r->a->replying;
    r->a->replying = true; /* what evhttp writes now is ours (admin_conn.c) */
    evhttp_send_reply(r->req, status, NULL, b);
    r->a->replying = was;
    evbuffer_free(b);
}

void admin_reply_error(struct admin_req *r, int status, const char *code, const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    if (status == 401)
        evhttp_add_header(evhttp_request_get_output_headers(r->req), "WWW-Authenticate",
                          "Bearer realm=\"gtmd\"");
    /* msg may quote client bytes (a path, a key): made valid UTF-8 first. */
    admin_reply_json(r, status, admin_request_error_body(code, msg));
}

const char *admin_bearer_token(struct admin_req *r)
{
    const char *h = evhttp_find_header(evhttp_request_get_input_headers(r->req), "Authorization");
    if (!h || strncasecmp(h, "Bearer", 6) != 0 || (h[6] != ' ' && h[6] != '\t'))
        return NULL;
    h += 6;
    while (*h == ' ' || *h == '\t')
        h++;
    return h;
}

/* Tokens are compared by their SHA-256 digests (digest_secret_eq): the
 * time taken says nothing of a presented token's length or prefix. */
static void admin_authenticate(struct admin_req *r)
{
    struct admin *a = r->a;
    const char *t = admin_bearer_token(r);
    pthread_mutex_lock(&a->lock);
    if (!a->read_token && !a->operate_token) {
        /* No tokens: allowed only when every listener is a unix socket
         * (mode 0600 authenticates; admin_config.c refuses TCP). */
        r->level = ADMIN_OPERATE;
        r->token_name = "none";
    } else if (t) {
        if (digest_secret_eq(t, a->operate_token)) {
            r->level = ADMIN_OPERATE;
            r->token_name = "operate";
            r->authenticated = true;
        } else if (digest_secret_eq(t, a->read_token)) {
            r->level = ADMIN_READ;
            r->token_name = "read";
            r->authenticated = true;
        }
    }
    pthread_mutex_unlock(&a->lock);
}

/* Parses the POST body into r->body (admin_request_parse_body); replies 400
 * and returns false when it is not a JSON object. */
bool admin_parse_body(struct admin_req *r)
{
    struct evbuffer *in = evhttp_request_get_input_buffer(r->req);
    size_t len = evbuffer_get_length(in);
    const char *data = len ? (const char *)evbuffer_pullup(in, -1) : "";
    const char *code;
    char err[512]; /* the size of admin_reply_error's buffer: same truncation */
    int st = admin_request_parse_body(data, len, &r->body, &code, err, sizeof(err));
    if (st != 0) {
        admin_reply_error(r, st, code, "%s", err);
        return false;
    }
    admin_audit_note_body(r, data, len);
    return true;
}

bool admin_require(struct admin_req *r, enum admin_level need)
{
    if (r->level >= need)
        return true;
    if (r->level == ADMIN_NONE)
        admin_reply_error(r, 401, "unauthorized", "a valid bearer token is required");
    else
        admin_reply_error(r, 403, "forbidden", "this call needs the operate token");
    return false;
}

/* Routes one request. Paths: /v1/health, /v1/status, /v1/dnssec[/ZONE/rollover], /v1/explain,
 * /v1/overrides[/ID], /v1/drills[/ID], /v1/reload, /v1/events, /v1/audit,
 * /v1/history, /v1/whoami, /metrics, and the console under /ui/. */
static void admin_route(struct admin_req *r)
{
    enum evhttp_cmd_type m = evhttp_request_get_command(r->req);
    const char *p = r->path;
    if (strcmp(p, "/v1/health") == 0 && m == EVHTTP_REQ_GET) {
        admin_reply_json(r, 200, json_pack("{s:s}", "status", "serving"));
        return;
    }
    bool is_get = m == EVHTTP_REQ_GET;
    if (admin_ui_path(p)) {
        /* The console's files hold no data: no token (admin_ui.c). */
        if (is_get)
            admin_handle_ui(r);
        else
            admin_reply_error(r, 405, "method_not_allowed", "method not allowed on %s", p);
        return;
    }
    if (admin_verdicts_route(r)) /* verdicts and Alertmanager (admin_verdicts.c) */
        return;
    if (admin_node_route(r)) /* drain and fitness (admin_node.c) */
        return;
    if (admin_confapi_route(r)) /* the configuration's resources (admin_confapi.c) */
        return;
    bool known = strcmp(p, "/v1/status") == 0 || strcmp(p, "/v1/explain") == 0 ||
                 strcmp(p, "/metrics") == 0 || strcmp(p, "/v1/overrides") == 0 ||
                 strncmp(p, "/v1/overrides/", 14) == 0 || strcmp(p, "/v1/reload") == 0 ||
                 strcmp(p, "/v1/drills") == 0 || strncmp(p, "/v1/drills/", 11) == 0 ||
                 strcmp(p, "/v1/events") == 0 || strcmp(p, "/v1/audit") == 0 ||
                 strcmp(p, "/v1/history") == 0 || strcmp(p, "/v1/whoami") == 0 ||
                 strcmp(p, "/v1/dnssec") == 0 ||
                 (m == EVHTTP_REQ_POST && strncmp(p, "/v1/dnssec/", 11) == 0);
    if (!known) {
        admin_reply_error(r, 404, "not_found", "no such endpoint: %s", p);
        return;
    }
    if (!admin_require(r, is_get ? ADMIN_READ : ADMIN_OPERATE))
        return;
    if (m == EVHTTP_REQ_POST && !admin_parse_body(r))
        return;
    if (is_get && strcmp(p, "/v1/status") == 0)
        admin_handle_status(r);
    else if (is_get && strcmp(p, "/v1/explain") == 0)
        admin_handle_explain(r);
    else if (is_get && strcmp(p, "/metrics") == 0)
        admin_handle_metrics(r);
    else if (is_get && strcmp(p, "/v1/overrides") == 0)
        admin_handle_overrides_list(r);
    else if (is_get && strncmp(p, "/v1/overrides/", 14) == 0)
        admin_handle_override_get(r, p + 14);
    else if (m == EVHTTP_REQ_POST && strcmp(p, "/v1/overrides") == 0)
        admin_handle_override_post(r);
    else if (m == EVHTTP_REQ_DELETE && strncmp(p, "/v1/overrides/", 14) == 0)
        admin_handle_override_delete(r, p + 14);
    else if (m == EVHTTP_REQ_POST && strcmp(p, "/v1/reload") == 0)
        admin_handle_reload(r);
    else if (is_get && strcmp(p, "/v1/events") == 0)
        admin_handle_events(r);
    else if (is_get && strcmp(p, "/v1/audit") == 0)
        admin_handle_audit(r);
    else if (is_get && strcmp(p, "/v1/history") == 0)
        admin_handle_history(r);
    else if (is_get && strcmp(p, "/v1/dnssec") == 0)
        admin_handle_dnssec(r);
    else if (m == EVHTTP_REQ_POST && strncmp(p, "/v1/dnssec/", 11) == 0)
        admin_handle_dnssec_rollover(r, p + 11);
    else if (is_get && strcmp(p, "/v1/whoami") == 0)
        /* The console greys out what the token may not do. */
        admin_reply_json(
            r, 200,
            json_pack("{s:s, s:b}", "token", r->token_name, "operate", r->level >= ADMIN_OPERATE));
    else if (is_get && strcmp(p, "/v1/drills") == 0)
        admin_handle_drills_list(r);
    else if (is_get && strncmp(p, "/v1/drills/", 11) == 0)
        admin_handle_drill_get(r, p + 11);
    else if (m == EVHTTP_REQ_POST && strcmp(p, "/v1/drills") == 0)
        admin_handle_drill_post(r);
    else if (m == EVHTTP_REQ_DELETE && strncmp(p, "/v1/drills/", 11) == 0)
        admin_handle_drill_delete(r, p + 11);
    else
        admin_reply_error(r, 405, "method_not_allowed", "method not allowed on %s", p);
}

/* libevent 2.1 never closes a connection after a CONNECT request, whatever
 * "Connection: close" says (evhttp_is_request_connection_close), so the
 * client of a refused CONNECT waited for the idle timeout (5 s). Called
 * once the reply is written: shutting the socket down makes libevent see
 * the end of the connection and free it itself. */
static void admin_shut_after_reply(struct evhttp_request *req, void *arg)
{
    (void)arg;
    struct evhttp_connection *c = evhttp_request_get_connection(req);
    struct bufferevent *bev = c ? evhttp_connection_get_bufferevent(c) : NULL;
    evutil_socket_t fd = bev ? bufferevent_getfd(bev) : -1;
    if (fd >= 0)
        shutdown(fd, SHUT_RDWR);
}

/* How many times the request carries header name. */
static unsigned admin_header_count(struct evhttp_request *req, const char *name)
{
    unsigned n = 0;
    const struct evkeyval *kv;
    TAILQ_FOREACH(kv, evhttp_request_get_input_headers(req), next)
    {
        if (evutil_ascii_strcasecmp(kv->key, name) == 0)
            n++;
    }
    return n;
}

/* libevent reads a body by the first Content-Length (and looks at the
 * first Transfer-Encoding only); a proxy in front may take another, and
 * read what libevent takes for a second request as this one's body. RFC
 * 9112 6.3: a message with more than one, even equal, is refused (400)
 * and the connection closed, so nothing after it is ever read. */
static bool admin_framing_ok(struct admin_req *r)
{
    if (admin_header_count(r->req, "Content-Length") <= 1 &&
        admin_header_count(r->req, "Transfer-Encoding") <= 1)
        return true;
    evhttp_add_header(evhttp_request_get_output_headers(r->req), "Connection", "close");
    admin_reply_error(r, 400, "bad_request",
                      "more than one Content-Length or Transfer-Encoding header");
    return false;
}

static void admin_on_request(struct evhttp_request *req, void *arg)
{
    struct admin *a = arg;
    struct admin_req r;
    memset(&r, 0, sizeof(r));
    r.a = a;
    r.req = req;
    r.token_name = "none";
    struct evhttp_connection *c = evhttp_request_get_connection(req);
    if (c) {
        char *host = NULL;
        ev_uint16_t port = 0;
        evhttp_connection_get_peer(c, &host, &port);
        snprintf(r.client, sizeof(r.client), "%s:%u", host && *host ? host : "unix", port);
    }
    /* First, so that every reply has them, errors written before the
     * path is known included (a HEAD on /ui/, a %00 in it). They are
     * harmless on JSON. */
    admin_ui_headers(evhttp_request_get_output_headers(req));
    admin_authenticate(&r);
    TAILQ_INIT(&r.query);
    if (!admin_conn_admit(a, req, r.level, r.authenticated)) {
        evhttp_add_header(evhttp_request_get_output_headers(req), "Connection", "close");
        if (r.level >= ADMIN_OPERATE || a->operate_reserve == 0)
            admin_reply_error(&r, 503, "busy", "too many admin connections (max %u)",
                              a->max_connections);
        else
            admin_reply_error(&r, 503, "busy",
                              "too many admin connections (max %u, of which %u are kept "
                              "for the operate token)",
                              a->max_connections, a->operate_reserve);
        return;
    }
    if (!admin_framing_ok(&r))
        return;
    enum evhttp_cmd_type m = evhttp_request_get_command(req);
    if (m != EVHTTP_REQ_GET && m != EVHTTP_REQ_POST && m != EVHTTP_REQ_DELETE &&
        m != EVHTTP_REQ_PUT) {
        /* Closed after: libevent 2.1 sends the body even to HEAD and
         * CONNECT, which would desynchronise a kept-alive connection. */
        evhttp_add_header(evhttp_request_get_output_headers(req), "Connection", "close");
        if (m == EVHTTP_REQ_CONNECT)
            evhttp_request_set_on_complete_cb(req, admin_shut_after_reply, NULL);
        admin_reply_error(&r, 501, "not_implemented",
                          "only GET, POST, PUT and DELETE are supported");
        return;
    }
    const struct evhttp_uri *uri = evhttp_request_get_evhttp_uri(req);
    const char *raw_path = uri ? evhttp_uri_get_path(uri) : NULL;
    size_t path_len = 0;
    char *path = raw_path ? evhttp_uridecode(raw_path, 0, &path_len) : NULL;
    const char *q = uri ? evhttp_uri_get_query(uri) : NULL;
    if (!path || (q && evhttp_parse_query_str(q, &r.query) != 0)) {
        admin_reply_error(&r, 400, "bad_request", "malformed request URI");
    } else if (strlen(path) != path_len) {
        /* %00 decoded: "/v1/status%00junk" is not /v1/status. */
        admin_reply_error(&r, 404, "not_found", "no such endpoint (the path holds %%00)");
    } else {
        r.path = path;
        admin_route(&r);
    }
    free(path);
    evhttp_clear_headers(&r.query);
    json_decref(r.body);
}

/* Admin thread, at stop: no new requests matter, but a change that is
 * being written still gets its reply (admin_defer.c leaves the loop when
 * the last one is out), within a bound. */
static void admin_on_stop(evutil_socket_t fd, short what, void *arg)
{
    struct admin *a = arg;
    (void)fd;
    (void)what;
    a->stopping = true;
    struct timeval bound = {2, 0}, now = {0, 0};
    event_base_loopexit(a->base, a->deferred ? &bound : &now);
}

static void *admin_main(void *arg)
{
    struct admin *a = arg;
    event_base_loop(a->base, EVLOOP_NO_EXIT_ON_EMPTY);
    return NULL;
}

/* Makes way for a unix listener at path: nothing there is fine; a socket
 * that nobody listens on any more (a gtmd that was killed) is removed;
 * anything else (a file, a directory, a live socket) is an error, never
 * deleted. */
static int admin_unix_clear(const char *path, const struct sockaddr_un *sun, char *err,
                            size_t errlen)
{
    struct stat st;
    if (lstat(path, &st) != 0) {
        if (errno == ENOENT)
            return 0;
        snprintf(err, errlen, "admin: cannot listen on unix:%s: %s", path, strerror(errno));
        return -1;
    }
    if (!S_ISSOCK(st.st_mode)) {
        snprintf(err, errlen,
                 "admin: cannot listen on unix:%s: the path exists and is not a socket "
                 "(it is not removed; move it away or choose another path)",
                 path);
        return -1;
    }
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    int rc = fd < 0 ? -1 : connect(fd, (const struct sockaddr *)sun, sizeof(*sun));
    int e = errno;
    if (fd >= 0)
        close(fd);
    if (rc == 0) {
        snprintf(err, errlen,
                 "admin: cannot listen on unix:%s: a running process listens there "
                 "(another gtmd?)",
                 path);
        return -1;
    }
    if (e != ECONNREFUSED || unlink(path) != 0) {
        snprintf(err, errlen, "admin: cannot listen on unix:%s: %s", path,
                 strerror(e != ECONNREFUSED ? e : errno));
        return -1;
    }
    log_info("event=admin_listen note=\"removed a stale socket\" address=unix:%s", path);
    return 0;
}

/* Binds a unix socket with mode 0600, owned by a's owner, and hands it
 * to evhttp. */
static int admin_bind_unix(struct admin *a, const char *path, char *err, size_t errlen)
{
    struct sockaddr_un sun;
    memset(&sun, 0, sizeof(sun));
    sun.sun_family = AF_UNIX;
    if (strlen(path) >= sizeof(sun.sun_path)) {
        snprintf(err, errlen, "admin: unix socket path too long: %s", path);
        return -1;
    }
    snprintf(sun.sun_path, sizeof(sun.sun_path), "%s", path);
    if (admin_unix_clear(path, &sun, err, errlen) != 0)
        return -1;
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    mode_t old = umask(0177);
    int rc = fd < 0 ? -1 : bind(fd, (struct sockaddr *)&sun, sizeof(sun));
    umask(old);
    struct stat st;
    struct evhttp_bound_socket *b = NULL;
    if (rc != 0 || chmod(path, 0600) != 0 ||
        ((a->owner != (uid_t)-1 || a->group != (gid_t)-1) &&
         lchown(path, a->owner, a->group) != 0) ||
        lstat(path, &st) != 0 || listen(fd, 64) != 0 ||
        !(b = evhttp_accept_socket_with_handle(a->http, fd))) {
        snprintf(err, errlen, "admin: cannot listen on unix:%s: %s", path, strerror(errno));
        if (fd >= 0)
            close(fd);
        return -1;
    }
    admin_accept_watch(a, b);
    /* Remembered so that the stop removes this socket only, not one that
     * replaced it. */
    a->unix_socks[a->n_unix].path = strdup(path);
    a->unix_socks[a->n_unix].dev = st.st_dev;
    a->unix_socks[a->n_unix].ino = st.st_ino;
    a->n_unix++;
    return 0;
}

static int admin_bind(struct admin *a, const struct admin_params *cfg, char *err, size_t errlen)
{
    a->unix_socks = calloc(cfg->n_listen + 1, sizeof(*a->unix_socks));
    if (!a->unix_socks)
        abort();
    for (size_t i = 0; i < cfg->n_listen; i++) {
        const char *l = cfg->listen[i];
        if (strncmp(l, "unix:", 5) == 0) {
            if (admin_bind_unix(a, l + 5, err, errlen) != 0)
                return -1;
            continue;
        }
        struct sockaddr_storage ss;
        socklen_t len;
        char host[128];
        addr_parse(l, ADDR_PORT_REQUIRED, &ss, &len);
        if (ss.ss_family == AF_INET6)
            inet_ntop(AF_INET6, &((struct sockaddr_in6 *)&ss)->sin6_addr, host, sizeof(host));
        else
            inet_ntop(AF_INET, &((struct sockaddr_in *)&ss)->sin_addr, host, sizeof(host));
        uint16_t port = ntohs(ss.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&ss)->sin6_port
                                                       : ((struct sockaddr_in *)&ss)->sin_port);
        struct evhttp_bound_socket *b = evhttp_bind_socket_with_handle(a->http, host, port);
        if (!b) {
            snprintf(err, errlen, "admin: cannot listen on %s: %s", l, strerror(errno));
            return -1;
        }
        admin_accept_watch(a, b);
    }
    return 0;
}

static char *admin_dup(const char *s)
{
    return s ? strdup(s) : NULL;
}

void admin_update(struct admin *a, const struct admin_params *cfg)
{
    pthread_mutex_lock(&a->lock);
    free(a->read_token);
    free(a->operate_token);
    free(a->audit_log);
    a->read_token = admin_dup(cfg->read_token);
    a->operate_token = admin_dup(cfg->operate_token);
    a->audit_log = admin_dup(cfg->audit_log);
    admin_am_params_free(&a->am);
    a->am.token = admin_dup(cfg->alertmanager.token);
    a->am.label_endpoint = admin_dup(cfg->alertmanager.label_endpoint);
    a->am.label_az = admin_dup(cfg->alertmanager.label_az);
    a->am.label_region = admin_dup(cfg->alertmanager.label_region);
    a->am.expires = cfg->alertmanager.expires;
    if (!a->audit_log)
        admin_audit_close(a); /* another path is opened at its next line */
    pthread_mutex_unlock(&a->lock);
}

struct admin *admin_new(const struct admin_params *cfg, uid_t owner, gid_t group, char *err,
                        size_t errlen)
{
    struct admin *a = calloc(1, sizeof(*a));
    if (!a)
        abort();
    a->owner = owner;
    a->group = group;
    evthread_use_pthreads();
    a->audit_fd = -1;
    pthread_mutex_init(&a->lock, NULL);
    a->audit_ring = event_ring_new_bounded(ADMIN_AUDIT_KEEP, ADMIN_AUDIT_MAX_BYTES);
    a->max_connections = cfg->max_connections;
    a->operate_reserve = cfg->operate_reserve;
    a->max_streams = cfg->max_streams;
    a->timeout_ms = cfg->timeout_ms;
    a->max_body = cfg->max_body ? cfg->max_body : ADMIN_MAX_BODY_DEFAULT;
    a->base = event_base_new();
    a->http = a->base ? evhttp_new(a->base) : NULL;
    if (!a->http) {
        snprintf(err, errlen, "admin: cannot create the HTTP server");
        admin_stop(a);
        return NULL;
    }
    evhttp_set_max_body_size(a->http, (ev_ssize_t)a->max_body);
    evhttp_set_max_headers_size(a->http, ADMIN_MAX_HEADERS);
    struct timeval tv = {(time_t)(cfg->timeout_ms / 1000),
                         (suseconds_t)(cfg->timeout_ms % 1000) * 1000};
    evhttp_set_timeout_tv(a->http, &tv);
    /* Every method reaches our handler (even ones libevent does not know),
     * which answers 501 with a JSON error; libevent's own would be HTML. */
    evhttp_set_allowed_methods(a->http, 0xffff);
    evhttp_set_gencb(a->http, admin_on_request, a);
    evhttp_set_bevcb(a->http, admin_conn_new, a);
    a->ev_fixup = event_new(a->base, -1, 0, admin_conn_fixup, a);
    a->ev_saved = event_new(a->base, -1, 0, admin_defer_on_saved, a);
    a->ev_stop = event_new(a->base, -1, 0, admin_on_stop, a);
    a->ev_sweep = event_new(a->base, -1, EV_PERSIST, admin_conn_sweep, a);
    if (!a->ev_fixup || !a->ev_saved || !a->ev_stop || !a->ev_sweep)
        abort();
    if (admin_bind(a, cfg, err, errlen) != 0) {
        admin_stop(a);
        return NULL;
    }
    return a;
}

int admin_start(struct admin *a, const struct admin_env *env, const struct admin_params *cfg,
                char *err, size_t errlen)
{
    a->env = *env;
    a->reader = serve_reader_add(env->serve);
    if (!a->reader) {
        snprintf(err, errlen, "admin: no serve reader left");
        return -1;
    }
    admin_update(a, cfg);
    if (env->health_service)
        health_service_set_saved_cb(env->health_service, admin_defer_saved_cb, a);
    struct timeval sweep = {0, 100000};
    event_add(a->ev_sweep, &sweep);
    if (a->env.drills)
        admin_drills_listen(a);
    admin_events_init(a);
    if (a->env.store || a->env.config) /* shared records; configuration changes */
        admin_store_init(a);
    if (pthread_create(&a->thread, NULL, admin_main, a) != 0)
        abort();
    pthread_setname_np(a->thread, "gtmd-admin"); /* top -H, perf, gdb */
    for (size_t i = 0; i < cfg->n_listen; i++)
        log_info("event=admin_listen address=%s", cfg->listen[i]);
    return 0;
}

void admin_stop(struct admin *a)
{
    if (!a)
        return;
    /* Waits for an audit call in flight on another thread (drill.h). */
    if (a->env.drills)
        drill_core_remove_hooks(a->env.drills, a);
    if (a->thread) {
        /* An active event, not loopexit: the replies owed for changes being
         * written are sent first (admin_on_stop). */
        event_active(a->ev_stop, EV_TIMEOUT, 0);
        pthread_join(a->thread, NULL);
    }
    admin_store_stop(a); /* before the connections go */
    if (a->env.health_service && a->ev_saved)
        health_service_set_saved_cb(a->env.health_service, NULL, NULL);
    admin_defer_free_all(a); /* only if the bound below was hit */
    admin_events_free_all(a);
    if (a->ev_sweep)
        event_free(a->ev_sweep);
    if (a->http)
        evhttp_free(a->http);
    admin_conn_free_all(a); /* after evhttp let go of its references */
    admin_accept_free(a);   /* evhttp freed the listeners */
    if (a->ev_fixup)
        event_free(a->ev_fixup);
    if (a->ev_saved)
        event_free(a->ev_saved);
    if (a->ev_stop)
        event_free(a->ev_stop);
    if (a->base)
        event_base_free(a->base);
    for (size_t i = 0; i < a->n_unix; i++) {
        struct stat st;
        if (lstat(a->unix_socks[i].path, &st) == 0 && st.st_dev == a->unix_socks[i].dev &&
            st.st_ino == a->unix_socks[i].ino)
            unlink(a->unix_socks[i].path);
        free(a->unix_socks[i].path);
    }
    free(a->unix_socks);
    admin_audit_close(a);
    free(a->read_token);
    free(a->operate_token);
    free(a->audit_log);
    json_decref(a->dnssec);
    admin_am_params_free(&a->am);
    event_ring_free(a->audit_ring);
    pthread_mutex_destroy(&a->lock);
    free(a);
}

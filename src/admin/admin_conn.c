/*
 * admin_conn.c -- admin connections: the connection cap, deadlines, and
 * libevent's own error replies rewritten as the documented JSON errors.
 *
 * libevent 2.1's evhttp has no accept hook, its timeout restarts on every
 * byte, and it has no error callback. We create each connection's
 * bufferevent ourselves (evhttp_set_bevcb) and keep a reference on it, which
 * lets us (1) see when evhttp has let it go (it clears every callback when
 * it frees it) and release our reference, (2) count connections exactly,
 * (3) shut down a connection that has not completed a request within the
 * timeout of its start or of its previous reply, and (4) watch what evhttp
 * writes on its own (not from our handlers): its HTML 400, 413 and 417
 * pages are replaced before they are sent.
 *
 * The cap (doc/admin-api.md, Limits). A connection counts against
 * max_connections from its first complete request until it closes; before
 * that it is *pending*. Pending connections have their own budget of
 * max_connections: past it, a new connection closes the oldest pending one
 * that has sent nothing for 0.25 s (or has been sending one request for a
 * second), so a flood of idle or dripping connections costs a bounded number
 * of descriptors and loses no request.
 *
 * A connection's rank is known once its request's Authorization header is
 * parsed: a guest (TCP, no valid token), a reader (the read token, or any
 * request on a unix socket, whose mode 0600 authenticates) or an operator
 * (operate level: the operate token, or a unix socket when no token is
 * configured). It only rises on a kept-alive connection. Guests and readers
 * share max_connections - operate_reserve places; operators may take any.
 * A request without a place takes a free one it may use; when there is
 * none, it takes the place of the connection of a lower rank (an operator:
 * of any rank, lowest first) that has been idle longest, like nginx and
 * Knot drop their oldest idle keep-alive connection: that connection's next
 * request is answered 503 busy and it is closed after a second. A reader
 * only displaces guests, so readers beyond their share get 503 busy with
 * Connection: close. Connections answering a stream or a deferred reply
 * are never idle; read streams are bounded by max_streams (admin_events.c),
 * below the shared places. So the operate token always gets a place while
 * read clients hold every place they can, and every request gets an answer.
 */
#include <errno.h>
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>

#include "admin/admin_int.h"
#include "admin/admin_request.h"

/* A pending connection that has sent nothing this long, or has been
 * sending its first request this long, may be closed for a new one. */
#define ADMIN_CONN_SILENT_S 0.25
#define ADMIN_CONN_PARTIAL_S 1.0
/* A connection whose place was taken is closed after this idle time. */
#define ADMIN_CONN_REVOKED_S 1.0
/* Ranks of a connection (the file's top comment). */
#define ADMIN_CONN_GUEST 0
#define ADMIN_CONN_READER 1
#define ADMIN_CONN_OPERATOR 2
/* Largest libevent error reply we rewrite. */
#define ADMIN_CONN_FIXUP_MAX 16384

struct admin_conn {
    struct admin *a;
    struct admin_conn *next;
    struct bufferevent *bev; /* we hold one reference */
    double start;            /* accepted */
    double last;             /* accepted, or the last reply sent */
    unsigned busy;           /* replies owed (admin_conn_hold) */
    signed char is_unix;     /* -1 not known yet */
    bool got_bytes;          /* something was read */
    bool requested;          /* has completed a request: no longer pending */
    bool slot;               /* counts against max_connections */
    signed char rank;        /* ADMIN_CONN_GUEST.. ADMIN_CONN_OPERATOR */
    bool revoked;            /* its place was taken: next request 503 */
    bool evicted;            /* shut down by us; waiting for evhttp to let go */
    bool fixup;              /* evhttp wrote on its own: check the output */
};

static void admin_conn_on_input(struct evbuffer *buf, const struct evbuffer_cb_info *info,
                                void *arg);
static void admin_conn_on_output(struct evbuffer *buf, const struct evbuffer_cb_info *info,
                                 void *arg);

/* The bytes the kernel holds for us on fd (a request about to be read). */
static int admin_conn_unread(int fd)
{
    int n = 0;
    return fd >= 0 && ioctl(fd, FIONREAD, &n) == 0 ? n : 0;
}

static bool admin_conn_unix(struct admin_conn *c)
{
    int fd = bufferevent_getfd(c->bev);
    if (c->is_unix < 0 && fd >= 0) {
        struct sockaddr_storage ss;
        socklen_t len = sizeof(ss);
        c->is_unix = getsockname(fd, (struct sockaddr *)&ss, &len) == 0 && ss.ss_family == AF_UNIX;
    }
    return c->is_unix > 0;
}

/* Gives c's place back (a no-op without one). */
static void admin_conn_unslot(struct admin_conn *c)
{
    if (!c->slot)
        return;
    c->a->n_slots--;
    if (c->rank < ADMIN_CONN_OPERATOR)
        c->a->n_shared--;
    c->slot = false;
}

/* Shuts a connection down; evhttp sees EOF and frees it. */
static void admin_conn_close(struct admin_conn *c)
{
    int fd = bufferevent_getfd(c->bev);
    if (fd >= 0)
        shutdown(fd, SHUT_RDWR);
    if (!c->requested && !c->evicted)
        c->a->n_pending--;
    admin_conn_unslot(c);
    c->evicted = true;
}

/* Makes room among pending connections: closes the oldest one that has
 * sent nothing for ADMIN_CONN_SILENT_S, else the oldest that has been
 * sending a request for ADMIN_CONN_PARTIAL_S. Unix connections are never
 * closed for TCP ones; a connection with bytes waiting is being read now. */
static void admin_conn_evict_pending(struct admin *a, double now)
{
    struct admin_conn *silent = NULL, *partial = NULL;
    for (struct admin_conn *c = a->conns; c; c = c->next) {
        int fd = bufferevent_getfd(c->bev);
        if (c->requested || c->evicted || c->busy || fd < 0 || admin_conn_unix(c) ||
            admin_conn_unread(fd) > 0)
            continue;
        double age = now - c->start;
        if (!c->got_bytes && age >= ADMIN_CONN_SILENT_S && (!silent || c->start < silent->start))
            silent = c;
        if (c->got_bytes && age >= ADMIN_CONN_PARTIAL_S && (!partial || c->start < partial->start))
            partial = c;
    }
    struct admin_conn *victim = silent ? silent : partial;
    if (victim)
        admin_conn_close(victim);
}

static void admin_conn_free(struct admin_conn *c)
{
    if (!c->requested && !c->evicted)
        c->a->n_pending--;
    admin_conn_unslot(c);
    evbuffer_remove_cb(bufferevent_get_output(c->bev), admin_conn_on_output, c);
    evbuffer_remove_cb(bufferevent_get_input(c->bev), admin_conn_on_input, c);
    bufferevent_decref(c->bev);
    free(c);
}

/* Releases the connections evhttp has freed (it clears every callback of
 * a bufferevent when it frees it; our reference keeps the memory). While
 * it writes a reply the read callback alone is cleared. */
static void admin_conn_release_closed(struct admin *a)
{
    struct admin_conn **pp = &a->conns;
    while (*pp) {
        struct admin_conn *c = *pp;
        bufferevent_data_cb rd = NULL, wr = NULL;
        bufferevent_event_cb ev = NULL;
        bufferevent_getcb(c->bev, &rd, &wr, &ev, NULL);
        if (!rd && !wr && !ev && !c->busy) {
            *pp = c->next;
            admin_conn_free(c);
        } else
            pp = &c->next;
    }
}

static void admin_conn_on_input(struct evbuffer *buf, const struct evbuffer_cb_info *info,
                                void *arg)
{
    struct admin_conn *c = arg;
    (void)buf;
    if (info->n_added > 0)
        c->got_bytes = true;
}

static void admin_conn_on_output(struct evbuffer *buf, const struct evbuffer_cb_info *info,
                                 void *arg)
{
    struct admin_conn *c = arg;
    (void)buf;
    /* Our handlers write inside admin_reply_*, which sets 'replying'; what
     * evhttp adds on its own is an error page (or "100 Continue"): check
     * it before the socket is writable again (the fixup event is already
     * active; the write event needs the next poll). */
    if (info->n_added > 0 && !c->a->replying && !c->fixup) {
        c->fixup = true;
        event_active(c->a->ev_fixup, EV_TIMEOUT, 0);
    }
}

struct bufferevent *admin_conn_new(struct event_base *base, void *arg)
{
    struct admin *a = arg;
    double now = health_now();
    admin_conn_release_closed(a);
    struct bufferevent *bev = bufferevent_socket_new(base, -1, BEV_OPT_CLOSE_ON_FREE);
    struct admin_conn *c = bev ? calloc(1, sizeof(*c)) : NULL;
    if (!c)
        return bev; /* untracked: evhttp's own timeout still applies */
    if (a->n_pending >= a->max_connections)
        admin_conn_evict_pending(a, now);
    bufferevent_incref(bev);
    c->a = a;
    c->bev = bev;
    c->start = c->last = now;
    c->is_unix = -1;
    c->next = a->conns;
    a->conns = c;
    a->n_pending++;
    evbuffer_add_cb(bufferevent_get_output(bev), admin_conn_on_output, c);
    evbuffer_add_cb(bufferevent_get_input(bev), admin_conn_on_input, c);
    return bev;
}

static struct admin_conn *admin_conn_of(struct admin *a, struct evhttp_request *req)
{
    struct evhttp_connection *evc = evhttp_request_get_connection(req);
    struct bufferevent *bev = evc ? evhttp_connection_get_bufferevent(evc) : NULL;
    for (struct admin_conn *c = a->conns; bev && c; c = c->next)
        if (c->bev == bev)
            return c;
    return NULL;
}

/* The connection with a place, of a rank below 'below', that has been idle
 * longest, the lowest rank first; NULL when every one is busy. */
static struct admin_conn *admin_conn_idlest(struct admin *a, int below)
{
    struct admin_conn *g = NULL;
    for (struct admin_conn *c = a->conns; c; c = c->next) {
        if (!c->slot || c->busy || c->rank >= below)
            continue;
        if (!g || c->rank < g->rank || (c->rank == g->rank && c->last < g->last))
            g = c;
    }
    return g;
}

/* Whether a connection of rank 'rank' may take a free place now. */
static bool admin_conn_room(const struct admin *a, int rank)
{
    if (a->n_slots >= a->max_connections)
        return false;
    return rank == ADMIN_CONN_OPERATOR || a->n_shared < a->max_connections - a->operate_reserve;
}

/* Takes the place of the idlest connection c may displace (the file's top
 * comment): its next request gets 503 and the sweep closes it. */
static void admin_conn_displace(struct admin *a, const struct admin_conn *c)
{
    int below = c->rank == ADMIN_CONN_OPERATOR ? ADMIN_CONN_OPERATOR + 1 : ADMIN_CONN_READER;
    if (c->rank == ADMIN_CONN_GUEST)
        return;
    struct admin_conn *g = admin_conn_idlest(a, below);
    if (!g)
        return;
    a->displaced[g->rank]++;
    admin_conn_unslot(g);
    g->revoked = true;
}

/* A kept-alive connection with a place asks with a higher rank: it moves
 * out of the shared places when it becomes an operator's. */
static void admin_conn_promote(struct admin *a, struct admin_conn *c, int rank)
{
    if (rank <= c->rank)
        return;
    if (c->slot && c->rank < ADMIN_CONN_OPERATOR && rank == ADMIN_CONN_OPERATOR)
        a->n_shared--;
    c->rank = (signed char)rank;
}

bool admin_conn_admit(struct admin *a, struct evhttp_request *req, enum admin_level level,
                      bool authenticated)
{
    admin_conn_release_closed(a);
    struct admin_conn *c = admin_conn_of(a, req);
    if (!c)
        return true;
    if (!c->requested) {
        c->requested = true;
        if (!c->evicted)
            a->n_pending--;
    }
    int rank = level >= ADMIN_OPERATE                ? ADMIN_CONN_OPERATOR
               : authenticated || admin_conn_unix(c) ? ADMIN_CONN_READER
                                                     : ADMIN_CONN_GUEST;
    admin_conn_promote(a, c, rank);
    if (c->revoked || c->evicted)
        return false;
    if (c->slot)
        return true;
    if (!admin_conn_room(a, c->rank))
        admin_conn_displace(a, c);
    if (!admin_conn_room(a, c->rank)) {
        a->busy_places++;
        return false;
    }
    c->slot = true;
    a->n_slots++;
    if (c->rank < ADMIN_CONN_OPERATOR)
        a->n_shared++;
    return true;
}

void admin_conn_replied(struct admin *a, struct evhttp_request *req)
{
    struct admin_conn *c = admin_conn_of(a, req);
    if (c)
        c->last = health_now();
}

void *admin_conn_hold(struct admin *a, struct evhttp_request *req)
{
    struct admin_conn *c = admin_conn_of(a, req);
    if (c)
        c->busy++;
    return c;
}

void admin_conn_unhold(struct admin *a, void *held)
{
    struct admin_conn *c = held;
    (void)a;
    if (c && c->busy) {
        c->busy--;
        c->last = health_now();
    }
}

void admin_conn_sweep(evutil_socket_t fd, short what, void *arg)
{
    struct admin *a = arg;
    double now = health_now(), limit = a->timeout_ms / 1000.0;
    (void)fd;
    (void)what;
    admin_conn_release_closed(a);
    for (struct admin_conn *c = a->conns; c; c = c->next) {
        int sfd = bufferevent_getfd(c->bev);
        if (sfd < 0 || c->busy || c->evicted)
            continue;
        double since = c->requested ? now - c->last : now - c->start;
        if (since > (c->revoked ? ADMIN_CONN_REVOKED_S : limit) && admin_conn_unread(sfd) == 0)
            admin_conn_close(c);
    }
}

/* {"error": {...}} for a status libevent answered on its own. */
static json_t *admin_conn_error_body(const struct admin *a, int status)
{
    char msg[200];
    const char *code = "bad_request";
    if (status == 413) {
        code = "too_large";
        snprintf(msg, sizeof(msg),
                 "the request body is larger than admin.max_body (%zu bytes) or its "
                 "headers larger than 16 KiB",
                 a->max_body);
    } else if (status == 417) {
        snprintf(msg, sizeof(msg), "only \"Expect: 100-continue\" is supported");
    } else if (status == 501) {
        code = "not_implemented";
        snprintf(msg, sizeof(msg), "the method is not supported");
    } else if (status == 400) {
        snprintf(msg, sizeof(msg), "malformed HTTP request");
    } else {
        code = "http_error";
        snprintf(msg, sizeof(msg), "HTTP error %d", status);
    }
    return admin_request_error_body(code, msg);
}

/* Rewrites one of evhttp's own HTML error replies at the start of out (after
 * a "100 Continue", if any) as our JSON error, keeping its status line,
 * Date and Connection headers. Anything else is left as it is. */
static void admin_conn_rewrite(const struct admin *a, struct evbuffer *out)
{
    size_t len = evbuffer_get_length(out);
    if (len == 0 || len > ADMIN_CONN_FIXUP_MAX)
        return;
    char *p = (char *)evbuffer_pullup(out, -1);
    size_t skip = 0;
    if (len > 12 && strncmp(p, "HTTP/1.", 7) == 0 && p[9] == '1') {
        char *e = memmem(p, len, "\r\n\r\n", 4);
        if (!e)
            return;
        skip = (size_t)(e - p) + 4;
    }
    char *r = p + skip, *end = p + len;
    char *hend = memmem(r, (size_t)(end - r), "\r\n\r\n", 4);
    int status = (size_t)(end - r) > 12 && strncmp(r, "HTTP/1.", 7) == 0 ? atoi(r + 9) : 0;
    if (!hend || status < 400 || !memmem(r, (size_t)(hend - r), "Content-Type: text/html", 23))
        return;
    struct evbuffer *nb = evbuffer_new();
    json_t *body = admin_conn_error_body(a, status);
    char *text = body ? json_dumps(body, JSON_INDENT(1)) : NULL;
    json_decref(body);
    if (!nb || !text) {
        evbuffer_free(nb);
        free(text);
        return;
    }
    evbuffer_add(nb, p, skip);
    char *eol = memmem(r, (size_t)(hend - r), "\r\n", 2);
    evbuffer_add(nb, r, (size_t)(eol - r) + 2); /* status line */
    for (char *h = eol + 2; h < hend;) {
        char *n = memmem(h, (size_t)(hend + 2 - h), "\r\n", 2);
        if (strncasecmp(h, "Date:", 5) == 0 || strncasecmp(h, "Connection:", 11) == 0)
            evbuffer_add(nb, h, (size_t)(n - h) + 2);
        h = n + 2;
    }
    evbuffer_add_printf(nb,
                        "Content-Type: application/json\r\nCache-Control: no-store\r\n"
                        "%sContent-Length: %zu\r\n\r\n%s\n",
                        ADMIN_UI_RAW_HEADERS, strlen(text) + 1, text);
    free(text);
    evbuffer_drain(out, len);
    evbuffer_add_buffer(out, nb);
    evbuffer_free(nb);
}

void admin_conn_fixup(evutil_socket_t fd, short what, void *arg)
{
    struct admin *a = arg;
    (void)fd;
    (void)what;
    a->replying = true; /* our own rewrite is not evhttp's */
    for (struct admin_conn *c = a->conns; c; c = c->next)
        if (c->fixup) {
            c->fixup = false;
            admin_conn_rewrite(a, bufferevent_get_output(c->bev));
        }
    a->replying = false;
}

void admin_conn_counts(struct admin *a, unsigned held[3])
{
    held[0] = held[1] = held[2] = 0;
    admin_conn_release_closed(a);
    for (struct admin_conn *c = a->conns; c; c = c->next)
        if (c->slot)
            held[c->rank]++;
}

void admin_conn_free_all(struct admin *a)
{
    while (a->conns) {
        struct admin_conn *c = a->conns;
        a->conns = c->next;
        c->busy = 0;
        admin_conn_free(c);
    }
}

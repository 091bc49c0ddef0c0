/*
 * tcp.c -- DNS over TCP (RFC 7766) for one worker.
 *
 * Memory. A connection's input buffer starts at TCP_IN_INITIAL octets,
 * doubles only as octets arrive (up to one 65535-octet message and its
 * prefix) and shrinks back once a large message is answered. Messages are
 * answered one by one; after each reply, a connection with more than
 * TCP_OUT_HIGH octets unsent is paused: nothing more is answered or read
 * until the client has read its replies down to TCP_OUT_LOW. So a client
 * that pipelines queries and never reads holds at most TCP_OUT_HIGH plus
 * one reply of output, however much it sends. A drained output buffer
 * larger than TCP_OUT_KEEP is freed. All buffers of one worker's
 * connections (pool->mem) stay within TCP_POOL_BUDGET: a buffer that would
 * grow past it first closes the connection holding the most, which may be
 * the one asking; so the total does not grow with max_connections times
 * pipelining.
 *
 * DNS over TLS (RFC 7858) runs on the same connections: a connection
 * accepted on a TLS listener carries an SSL (tls.h) that does its reads
 * and writes on the socket, non-blocking, in this worker's loop; what it
 * decrypts lands in the same input buffer, and replies are queued in the
 * same output buffer, so the answer path, the limits, the budget and the
 * timeouts are TCP's. Besides those buffers a TLS connection holds
 * OpenSSL's state (about 18 KB once idle) and, while data moves, one TLS
 * record buffer each way (given back when idle: SSL_MODE_RELEASE_BUFFERS),
 * outside the pool's budget but bounded per connection. The handshake
 * has the idle timeout from the accept to finish in: until its first
 * query a connection is not idle, so eviction spares it like a fresh TCP
 * connection. A TLS operation may need the socket the other way round (a
 * read that must write, a write that must read): rd_wants_write and
 * wr_wants_read turn the events round until it has.
 */
#include "net/tcp.h"

#include <errno.h>
#include <event2/event.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "common/accept_backoff.h"
#include "answer/xfr_out.h"
#include "common/log.h"
#include "dns/dns.h"
#include "net/tls.h"
#include "net/sock.h"
#include "net/worker.h"

#define TCP_IN_INITIAL 1024
#define TCP_OUT_HIGH (64 * 1024)             /* pause a connection with more unsent */
#define TCP_OUT_LOW (16 * 1024)              /* ...until it is down to this */
#define TCP_OUT_KEEP 4096                    /* a drained buffer larger than this is freed */
#define TCP_POOL_BUDGET (8u * 1024u * 1024u) /* buffers of one worker's connections */
#define TCP_SWEEP_MS 100
#define TCP_LOG_EVERY_MS 10000 /* budget closes are logged at most this often */

struct tcp_update;

struct tcp_conn {
    struct tcp_pool *pool;
    struct tcp_conn *prev, *next; /* activity order: head = least recent */
    struct event *ev_read;
    struct event *ev_write;
    int fd;
    struct sockaddr_storage peer;
    struct worker_dst dst;         /* where it came to (dst.local: local) */
    struct sockaddr_storage local; /* the listen address, or with dnstap on a wildcard one, the
                                      connection's own */
    uint8_t *in;
    size_t in_len, in_cap;
    uint8_t *out; /* may be NULL (out_cap 0) while nothing is queued */
    size_t out_len, out_off, out_cap;
    uint64_t last_ms;       /* last complete query or accept */
    uint64_t partial_ms;    /* when the unfinished message began; 0 = none */
    uint64_t sent_ms;       /* last progress of the output, or when it became pending */
    struct answer_xfr *xfr; /* a zone transfer under way (owned), or NULL */
    /* An UPDATE with the updater (tcp_update): the connection waits,
     * paused, for its reply; NULL when none. */
    struct tcp_update *upd;
    bool served;           /* answered at least one query: a real client */
    bool paused;           /* too much unsent: neither answered nor read */
    bool reading, writing; /* ev_read / ev_write added */
    /* DNS over TLS: the connection's TLS state (NULL: plain TCP). */
    struct ssl_st *ssl;
    bool handshaking;    /* the handshake has not finished */
    bool rd_wants_write; /* the last read or handshake step waits for the socket to drain */
    bool wr_wants_read;  /* the last write waits for the socket to be readable */
    bool tls_broken;     /* a TLS error: close without close_notify */
};

struct tcp_pool {
    struct worker *w;
    struct tcp_conn *head, *tail;
    unsigned n;
    size_t mem; /* in_cap + out_cap of every connection */
    uint64_t budget_closes, budget_logged, budget_log_ms;
    struct event *sweep;
    /* Accept back-off: after EMFILE, ENFILE, ENOBUFS or ENOMEM the listening
     * sockets are taken out of the loop until resume fires. */
    struct event *resume;
    unsigned backoff_ms;   /* 0 = accepting normally */
    uint64_t paused_at_ms; /* start of the current burst of errors */
    uint64_t accept_errors;
    /* TLS handshakes failed since the last log line, and the last reason. */
    uint64_t tls_failed, tls_failed_logged, tls_log_ms;
    char tls_why[128];
    struct answer_xfr xfr_start;   /* where a query begins a transfer */
    struct query_update upd_start; /* where a query hands an UPDATE on */
    uint8_t reply[DNS_TCP_MAX];
};

static uint64_t tcp_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static size_t tcp_pending(const struct tcp_conn *c)
{
    return c->out_len - c->out_off;
}

static void tcp_list_remove(struct tcp_pool *p, struct tcp_conn *c)
{
    if (c->prev)
        c->prev->next = c->next;
    else
        p->head = c->next;
    if (c->next)
        c->next->prev = c->prev;
    else
        p->tail = c->prev;
    c->prev = c->next = NULL;
}

static void tcp_list_append(struct tcp_pool *p, struct tcp_conn *c)
{
    c->prev = p->tail;
    c->next = NULL;
    if (p->tail)
        p->tail->next = c;
    else
        p->head = c;
    p->tail = c;
}

/*
 * An UPDATE's job over TCP. The updater fills reply and makes done active
 * on the worker's loop (the last it touches of the job); the worker then
 * queues the reply on the connection, or drops it when the connection
 * closed meanwhile (conn NULL), and frees the job. So the job outlives its
 * connection, never the other way round.
 */
struct tcp_update {
    struct net_update u; /* first: the updater sees this part */
    struct event *done;
    struct tcp_conn *conn; /* NULL once the connection closed (worker thread only) */
    uint8_t *reply;
    size_t reply_len;
};

static void tcp_update_free(struct tcp_update *tu)
{
    event_free(tu->done);
    free(tu->reply);
    free(tu->u.msg);
    free(tu);
}

static void tcp_conn_close(struct tcp_conn *c)
{
    struct tcp_pool *p = c->pool;
    if (c->upd)
        c->upd->conn = NULL; /* the job is freed when its reply comes */
    tcp_list_remove(p, c);
    p->n--;
    p->mem -= c->in_cap + c->out_cap;
    event_free(c->ev_read);
    event_free(c->ev_write);
    tls_conn_free(c->ssl, !c->handshaking && !c->tls_broken);
    close(c->fd);
    free(c->in);
    free(c->out);
    free(c->xfr);
    free(c);
}

/* Idle: a client we have served that has nothing in progress. Eviction
 * takes idle served clients first, then the least recently active; a fresh
 * connection that has sent nothing yet is never "idle", so a flood of
 * half-open connections cannot push out a client that just connected. */
static bool tcp_conn_idle(const struct tcp_conn *c)
{
    return c->served && c->in_len == 0 && tcp_pending(c) == 0 && !c->upd;
}

/* Reading while not paused, writing while something is unsent; with TLS,
 * the other way round while an operation waits for it, and only what the
 * handshake asks for while it runs. Input OpenSSL already holds wakes no
 * socket event: the read callback is made active for it. */
static void tcp_set_events(struct tcp_conn *c)
{
    bool read = (!c->paused && !c->rd_wants_write) || c->wr_wants_read;
    bool write = (tcp_pending(c) > 0 && !c->wr_wants_read) || c->rd_wants_write;
    if (c->handshaking) {
        read = !c->rd_wants_write;
        write = c->rd_wants_write;
    }
    if (read != c->reading) {
        if (read)
            event_add(c->ev_read, NULL);
        else
            event_del(c->ev_read);
        c->reading = read;
    }
    if (write != c->writing) {
        if (write)
            event_add(c->ev_write, NULL);
        else
            event_del(c->ev_write);
        c->writing = write;
    }
    if (c->ssl && !c->handshaking && read && !c->paused && tls_has_pending(c->ssl))
        event_active(c->ev_read, EV_READ, 1);
}

/* The connection holding the most buffer memory. */
static struct tcp_conn *tcp_greediest(struct tcp_pool *p)
{
    struct tcp_conn *g = NULL;
    for (struct tcp_conn *c = p->head; c; c = c->next)
        if (!g || c->in_cap + c->out_cap > g->in_cap + g->out_cap)
            g = c;
    return g;
}

/* Makes room for extra more octets of buffer for c within the worker's
 * budget by closing the connections that hold the most. False when c holds
 * the most itself: the caller closes it. */
static bool tcp_budget(struct tcp_conn *c, size_t extra)
{
    struct tcp_pool *p = c->pool;
    while (p->mem + extra > TCP_POOL_BUDGET) {
        struct tcp_conn *g = tcp_greediest(p);
        p->budget_closes++;
        if (!g || g == c)
            return false;
        tcp_conn_close(g);
    }
    return true;
}

/* Resizes a buffer of c to ncap octets, keeping the pool's total; false
 * when the budget or the allocator says no. */
static bool tcp_resize(struct tcp_conn *c, uint8_t **buf, size_t *cap, size_t ncap)
{
    if (ncap > *cap && !tcp_budget(c, ncap - *cap))
        return false;
    uint8_t *n = realloc(*buf, ncap);
    if (!n && ncap)
        return false;
    c->pool->mem = c->pool->mem - *cap + ncap;
    *buf = n;
    *cap = ncap;
    return true;
}

/* What a TLS operation's result means for the socket: octets moved (n),
 * 0 to wait (the direction noted), -1 to close. */
static ssize_t tcp_tls_result(struct tcp_conn *c, enum tls_io st, size_t n, bool reading)
{
    switch (st) {
    case TLS_IO_DONE:
        return (ssize_t)n;
    case TLS_IO_WANT_READ:
        if (!reading)
            c->wr_wants_read = true;
        return 0;
    case TLS_IO_WANT_WRITE:
        if (reading)
            c->rd_wants_write = true;
        return 0;
    case TLS_IO_CLOSED:
        return -1;
    default:
        c->tls_broken = true;
        return -1;
    }
}

/* Sends up to len octets of buf: how many went, 0 when the socket is
 * full, -1 when the connection is to be closed. */
static ssize_t tcp_send(struct tcp_conn *c, const uint8_t *buf, size_t len)
{
    if (c->ssl) {
        size_t n = 0;
        c->wr_wants_read = false;
        enum tls_io st = tls_write(c->ssl, buf, len, &n); /* before n is read */
        return tcp_tls_result(c, st, n, false);
    }
    for (;;) {
        ssize_t r = send(c->fd, buf, len, MSG_NOSIGNAL);
        if (r > 0)
            return r;
        if (r < 0 && errno == EINTR)
            continue;
        return r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK) ? 0 : -1;
    }
}

/* Reads up to len octets (decrypted, with TLS) into buf: how many came, 0
 * when there is nothing now, -1 when the connection is to be closed. */
static ssize_t tcp_recv(struct tcp_conn *c, uint8_t *buf, size_t len)
{
    if (c->ssl) {
        size_t n = 0;
        c->rd_wants_write = false;
        enum tls_io st = tls_read(c->ssl, buf, len, &n); /* before n is read */
        return tcp_tls_result(c, st, n, true);
    }
    ssize_t r = recv(c->fd, buf, len, 0);
    if (r > 0)
        return r;
    return r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) ? 0 : -1;
}

/* Sends what is queued; false when the connection had to be closed. */
static bool tcp_flush(struct tcp_conn *c)
{
    while (c->out_off < c->out_len) {
        ssize_t r = tcp_send(c, c->out + c->out_off, c->out_len - c->out_off);
        if (r > 0) {
            c->out_off += (size_t)r;
            c->sent_ms = tcp_now_ms();
            continue;
        }
        if (r == 0)
            return true;
        tcp_conn_close(c);
        return false;
    }
    c->out_off = c->out_len = 0;
    if (c->out_cap > TCP_OUT_KEEP) {
        free(c->out);
        c->out = NULL;
        c->pool->mem -= c->out_cap;
        c->out_cap = 0;
    }
    return true;
}

static bool tcp_queue_reply(struct tcp_conn *c, const uint8_t *msg, size_t len, uint64_t now)
{
    size_t pending = tcp_pending(c);
    if (pending == 0)
        c->sent_ms = now; /* the stall clock starts when output becomes pending */
    if (c->out_off > 0 && c->out_len + len + 2 > c->out_cap) {
        memmove(c->out, c->out + c->out_off, pending);
        c->out_off = 0;
        c->out_len = pending;
    }
    if (c->out_len + len + 2 > c->out_cap) {
        size_t ncap = c->out_cap ? c->out_cap : TCP_OUT_KEEP;
        while (ncap < c->out_len + len + 2)
            ncap *= 2;
        if (!tcp_resize(c, &c->out, &c->out_cap, ncap))
            return false;
    }
    dns_put16(c->out + c->out_len, (uint16_t)len);
    memcpy(c->out + c->out_len + 2, msg, len);
    c->out_len += len + 2;
    return true;
}

/* A header no query has: a response (QR), or a QUERY whose QDCOUNT is not 1
 * -- except QDCOUNT 0 with additional records, which may be a server
 * cookie query (RFC 7873 §5.4) and is answered. */
static bool tcp_header_bad(const uint8_t *h)
{
    uint16_t flags = dns_get16(h + 2), qd = dns_get16(h + 4), ar = dns_get16(h + 10);
    if (flags & DNS_FLAG_QR)
        return true;
    return DNS_OPCODE(flags) == DNS_OPCODE_QUERY && qd != 1 && !(qd == 0 && ar > 0);
}

/* Drops the first off octets of the input and gives back the memory of a
 * large message once it is answered. */
static void tcp_consume(struct tcp_conn *c, size_t off, uint64_t now)
{
    if (off) {
        memmove(c->in, c->in + off, c->in_len - off);
        c->in_len -= off;
    }
    if (c->in_cap > TCP_IN_INITIAL && c->in_len <= TCP_IN_INITIAL)
        tcp_resize(c, &c->in, &c->in_cap, TCP_IN_INITIAL); /* a failed shrink keeps the old */
    if (c->paused)
        c->partial_ms = 0; /* we stopped reading: not the client's delay */
    else if (c->in_len && !c->partial_ms)
        c->partial_ms = now;
}

/*
 * Queues the next messages of c's transfer until more than TCP_OUT_HIGH is
 * unsent (then the connection stays paused: no query after the transfer is
 * read until it ends) or the transfer ends. False when the transfer cannot
 * go on (a reload replaced its zone, or memory ran out): the connection is
 * to be closed, and the secondary tries again.
 */
static bool tcp_xfr_fill(struct tcp_conn *c, const struct serve_set *s, uint64_t now)
{
    struct worker *w = c->pool->w;
    while (tcp_pending(c) <= TCP_OUT_HIGH) {
        size_t n = answer_xfr_next(c->xfr, s, c->pool->reply, w->now_wall);
        if (n == 0) {
            bool done = answer_xfr_done(c->xfr);
            if (done)
                log_info("event=xfr_out zone=%s kind=%s messages=%u records=%llu",
                         c->xfr->zone->origin_str,
                         c->xfr->diff      ? "ixfr"
                         : c->xfr->current ? "ixfr_current"
                                           : "axfr",
                         c->xfr->messages, (unsigned long long)c->xfr->records);
            free(c->xfr);
            c->xfr = NULL;
            c->paused = false;
            return done;
        }
        if (!tcp_queue_reply(c, c->pool->reply, n, now))
            return false;
    }
    c->paused = true;
    return true;
}

/* After a query that began a transfer: the connection takes the state. */
static bool tcp_xfr_take(struct tcp_conn *c)
{
    struct answer_xfr *x = &c->pool->xfr_start;
    x->start = false;
    c->xfr = malloc(sizeof(*c->xfr));
    if (!c->xfr)
        return false;
    *c->xfr = *x;
    return true;
}

static bool tcp_service(struct tcp_conn *c);

/* The updater's reply arrived (worker thread). */
static void tcp_update_done(evutil_socket_t fd, short what, void *arg)
{
    struct tcp_update *tu = arg;
    struct tcp_conn *c = tu->conn;
    (void)fd;
    (void)what;
    if (c) {
        c->upd = NULL;
        c->paused = false;
        bool queued = !tu->reply_len || tcp_queue_reply(c, tu->reply, tu->reply_len, tcp_now_ms());
        if (!queued)
            tcp_conn_close(c);
        else
            tcp_service(c);
    }
    tcp_update_free(tu);
}

/* Runs on the updater's thread: keeps the reply, wakes the worker. */
static void tcp_update_reply(struct net_update *u, const uint8_t *msg, size_t len)
{
    struct tcp_update *tu = (struct tcp_update *)u;
    tu->reply = len ? malloc(len) : NULL;
    if (tu->reply) {
        memcpy(tu->reply, msg, len);
        tu->reply_len = len;
    }
    event_active(tu->done, EV_TIMEOUT, 0);
}

/* The message in[0..len) was an UPDATE the query path accepted: hands it
 * to the updater and pauses c until the reply (0), or returns the length
 * of the reply to send now in the pool's reply buffer (the updater cannot
 * take it). */
static size_t tcp_update_start(struct tcp_conn *c, const uint8_t *in, size_t len)
{
    struct tcp_pool *p = c->pool;
    struct tcp_update *tu =
        (struct tcp_update *)worker_update_job(in, len, &c->peer, &p->upd_start, sizeof(*tu), true);
    if (!tu)
        return 0;
    tu->done = event_new(p->w->base, -1, 0, tcp_update_done, tu);
    if (!tu->done) {
        free(tu->u.msg);
        free(tu);
        return 0;
    }
    tu->u.reply = tcp_update_reply;
    tu->conn = c;
    c->upd = tu;
    c->paused = true;
    size_t n = worker_update_submit(p->w, &tu->u, p->reply, sizeof(p->reply));
    if (n) { /* refused: the reply goes out now */
        c->upd = NULL;
        c->paused = false;
        tcp_update_free(tu);
    }
    return n;
}

/* Answers the complete messages in the input buffer, in order, until the
 * connection is paused; false if it was closed. */
static bool tcp_process(struct tcp_conn *c)
{
    struct worker *w = c->pool->w;
    size_t off = 0;
    uint64_t now = tcp_now_ms();
    bool ok = true, bad_header = false;
    worker_clock(w);
    const struct serve_set *s = serve_enter(w->reader);
    if (c->xfr && !tcp_xfr_fill(c, s, now))
        ok = false;
    while (ok && !c->paused && !c->xfr && c->in_len - off >= 2) {
        size_t have = c->in_len - off - 2, mlen = dns_get16(c->in + off);
        if (mlen < DNS_HEADER_SIZE) {
            ok = false; /* no DNS message is this short: framing is lost */
            break;
        }
        if (have >= DNS_HEADER_SIZE && tcp_header_bad(c->in + off + 2)) {
            ok = false; /* not a query: close as soon as the header shows it */
            bad_header = true;
            break;
        }
        if (have < mlen)
            break;
        unsigned transport = c->ssl ? SERVE_TLS : SERVE_TCP;
        size_t rlen =
            worker_answer(w, s, &c->peer, &c->dst, c->in + off + 2, mlen, NULL, c->pool->reply,
                          &c->pool->xfr_start, &c->pool->upd_start, transport);
        if (c->pool->upd_start.start)
            rlen = tcp_update_start(c, c->in + off + 2, mlen);
        serve_count_messages(w->reader, transport, 1);
        if (rlen && !tcp_queue_reply(c, c->pool->reply, rlen, now)) {
            ok = false;
            break;
        }
        if (c->pool->xfr_start.start && (!tcp_xfr_take(c) || !tcp_xfr_fill(c, s, now))) {
            ok = false;
            break;
        }
        off += 2 + mlen;
        c->served = true;
        c->last_ms = now;
        c->partial_ms = 0;
        tcp_list_remove(c->pool, c);
        tcp_list_append(c->pool, c);
        if (tcp_pending(c) > TCP_OUT_HIGH)
            c->paused = true; /* checked per reply: a pipeline cannot queue more */
    }
    serve_leave(w->reader);
    if (!ok) {
        /* After a bad header, send the replies so far first (a failed send
         * has closed the connection already). */
        if (!bad_header || tcp_flush(c))
            tcp_conn_close(c);
        return false;
    }
    tcp_consume(c, off, now);
    return true;
}

/*
 * Answers what is buffered and sends what the socket takes. A paused
 * connection whose client has read its replies down to TCP_OUT_LOW is
 * resumed at once. Each round that ends paused has answered at least one
 * buffered message, so the loop ends. False when the connection was closed.
 */
static bool tcp_service(struct tcp_conn *c)
{
    for (;;) {
        if (!tcp_process(c) || !tcp_flush(c))
            return false;
        if (!c->paused || c->upd || tcp_pending(c) > TCP_OUT_LOW)
            break;
        c->paused = false;
    }
    if (!c->paused && c->in_len && !c->partial_ms)
        c->partial_ms = tcp_now_ms();
    tcp_set_events(c);
    return true;
}

/* Doubles the input buffer, but never past the message at its front. */
static bool tcp_grow_input(struct tcp_conn *c)
{
    size_t ncap = c->in_cap * 2;
    if (c->in_len >= 2 && ncap > 2 + (size_t)dns_get16(c->in))
        ncap = 2 + (size_t)dns_get16(c->in);
    if (ncap <= c->in_cap)
        return false;
    return tcp_resize(c, &c->in, &c->in_cap, ncap);
}

/* One step of a TLS handshake; false when the connection was closed. */
static bool tcp_tls_handshake(struct tcp_conn *c)
{
    struct tcp_pool *p = c->pool;
    char why[sizeof(p->tls_why)] = "handshake failed"; /* tls_handshake overwrites it */
    c->rd_wants_write = false;
    switch (tls_handshake(c->ssl, why, sizeof(why))) {
    case TLS_IO_DONE:
        c->handshaking = false;
        serve_count_tls(p->w->reader, tls_resumed(c->ssl) ? SERVE_TLS_RESUMED : SERVE_TLS_FULL);
        break;
    case TLS_IO_WANT_READ:
        break;
    case TLS_IO_WANT_WRITE:
        c->rd_wants_write = true;
        break;
    default:
        serve_count_tls(p->w->reader, SERVE_TLS_FAILED);
        p->tls_failed++;
        memcpy(p->tls_why, why, sizeof(why));
        c->tls_broken = true;
        tcp_conn_close(c);
        return false;
    }
    tcp_set_events(c);
    return true;
}

static void tcp_on_read(int fd, short what, void *arg)
{
    struct tcp_conn *c = arg;
    (void)fd;
    (void)what;
    if (c->handshaking && (!tcp_tls_handshake(c) || c->handshaking))
        return;
    if (c->wr_wants_read) { /* a TLS write waited for this */
        c->wr_wants_read = false;
        if (!tcp_service(c))
            return;
    }
    for (int rounds = 0; rounds < 16 && !c->paused; rounds++) {
        if (c->in_len == c->in_cap && !tcp_grow_input(c)) {
            tcp_conn_close(c);
            return;
        }
        size_t room = c->in_cap - c->in_len;
        ssize_t r = tcp_recv(c, c->in + c->in_len, room);
        if (r < 0) {
            tcp_conn_close(c);
            return;
        }
        if (r == 0)
            break;
        c->in_len += (size_t)r;
        if (!tcp_service(c))
            return;
        if (!c->ssl && (size_t)r < room)
            break; /* the socket is drained (TLS reads one record at a time) */
    }
    if (c->ssl)
        tcp_set_events(c);
}

static void tcp_on_write(int fd, short what, void *arg)
{
    struct tcp_conn *c = arg;
    (void)what;
    if (c->handshaking) {
        tcp_tls_handshake(c);
        return;
    }
    if (c->rd_wants_write) { /* a TLS read waited for this */
        c->rd_wants_write = false;
        tcp_on_read(fd, EV_READ, c);
        return;
    }
    tcp_service(c);
}

/* Makes room for one more connection by closing the least recently active
 * idle one, or failing that the least recently active of all. */
static void tcp_evict_one(struct tcp_pool *p)
{
    for (struct tcp_conn *c = p->head; c; c = c->next)
        if (tcp_conn_idle(c)) {
            tcp_conn_close(c);
            return;
        }
    if (p->head)
        tcp_conn_close(p->head);
}

/* The TLS context for a new connection: the one a reload handed over
 * last, if any (tls.h); this worker's reference to the one before is
 * dropped (connections hold their own). */
static struct ssl_ctx_st *tcp_tls_ctx(struct worker *w)
{
    struct ssl_ctx_st *n = atomic_exchange_explicit(&w->tls_next, NULL, memory_order_acquire);
    if (n) {
        tls_ctx_release(w->tls_ctx);
        w->tls_ctx = n;
    }
    return w->tls_ctx;
}

/* Where connection c came to: listen address k of the worker (k past the
 * end: not known). With dnstap, a wildcard address is replaced by the
 * connection's own. */
static void tcp_conn_dst(struct tcp_conn *c, struct worker *w, size_t k)
{
    c->dst.listen = k;
    if (k >= w->net->n_listen)
        return;
    c->local = w->net->listen[k];
    c->dst.local = &c->local;
    socklen_t len = sizeof(c->local);
    if (w->tap && sock_is_wildcard(&c->local) &&
        getsockname(c->fd, (struct sockaddr *)&c->local, &len) != 0)
        c->dst.local = NULL;
}

static void tcp_accept_one(struct tcp_pool *p, int cfd, const struct sockaddr_storage *peer,
                           bool tls, size_t k)
{
    struct tcp_conn *c = calloc(1, sizeof(*c));
    if (!c) {
        close(cfd);
        return;
    }
    if (tls) {
        serve_count_tls(p->w->reader, SERVE_TLS_ACCEPTED);
        struct ssl_ctx_st *ctx = tcp_tls_ctx(p->w);
        c->ssl = ctx ? tls_conn_new(ctx, cfd) : NULL;
        c->handshaking = true;
        if (!c->ssl) {
            free(c);
            close(cfd);
            return;
        }
    }
    c->pool = p;
    c->fd = cfd;
    c->peer = *peer;
    tcp_conn_dst(c, p->w, k);
    c->in = malloc(TCP_IN_INITIAL);
    c->in_cap = TCP_IN_INITIAL;
    c->ev_read = event_new(p->w->base, cfd, EV_READ | EV_PERSIST, tcp_on_read, c);
    c->ev_write = event_new(p->w->base, cfd, EV_WRITE | EV_PERSIST, tcp_on_write, c);
    if (!c->in || !c->ev_read || !c->ev_write) {
        if (c->ev_read)
            event_free(c->ev_read);
        if (c->ev_write)
            event_free(c->ev_write);
        tls_conn_free(c->ssl, false);
        free(c->in);
        free(c);
        close(cfd);
        return;
    }
    c->last_ms = tcp_now_ms();
    tcp_list_append(p, c);
    p->n++;
    p->mem += c->in_cap;
    tcp_set_events(c);
}

/* Out of descriptors or memory: accepting again at once would fail again
 * (the listening socket stays readable, so the loop would spin). Takes the
 * worker's listening sockets out of the loop for backoff_ms (100 ms,
 * doubling up to 1 s while the errors go on), as libevent's
 * evconnlistener error callback pattern does; logs once per burst. */
static void tcp_accept_pause(struct tcp_pool *p, int err)
{
    struct worker *w = p->w;
    uint64_t now = tcp_now_ms();
    p->accept_errors++;
    bool first = p->backoff_ms == 0;
    p->backoff_ms = accept_backoff_next(p->backoff_ms);
    if (first) {
        p->paused_at_ms = now;
        log_warn("event=tcp_accept_paused worker=%u error=%s retry_ms=%u "
                 "note=\"no descriptors or memory for new connections; accepting again later\"",
                 w->id, strerrorname_np(err) ? strerrorname_np(err) : "?", p->backoff_ms);
    }
    for (size_t k = 0; k < w->n_fds; k++)
        event_del(w->evs[k]);
    struct timeval tv = {p->backoff_ms / 1000, (p->backoff_ms % 1000) * 1000};
    event_add(p->resume, &tv);
}

static void tcp_on_resume(int fd, short what, void *arg)
{
    struct tcp_pool *p = arg;
    (void)fd;
    (void)what;
    for (size_t k = 0; k < p->w->n_fds; k++)
        event_add(p->w->evs[k], NULL);
}

/* The burst is over once an accept succeeds or finds nothing pending. */
static void tcp_accept_ok(struct tcp_pool *p)
{
    if (p->backoff_ms == 0)
        return;
    log_info("event=tcp_accept_resumed worker=%u paused_ms=%llu errors=%llu", p->w->id,
             (unsigned long long)(tcp_now_ms() - p->paused_at_ms),
             (unsigned long long)p->accept_errors);
    p->backoff_ms = 0;
    p->accept_errors = 0;
}

static void tcp_accept_batch(struct worker *w, int fd, bool tls)
{
    struct tcp_pool *p = w->tcp;
    unsigned total = serve_enter(w->reader)->limits.tcp_max_connections;
    serve_leave(w->reader);
    unsigned max = (total + w->net->n_tcp_workers - 1) / w->net->n_tcp_workers;
    max = max ? max : 1;
    /* At most half the worker's connections per wake-up: a batch as large
     * as the pool would evict, under a connection flood, a client accepted
     * in the previous batch before its query (already waiting) was read;
     * seen as "fresh TCP connection closed" with a loaded machine. */
    unsigned batch = max / 2 < 64 ? (max / 2 ? max / 2 : 1) : 64;
    size_t k = 0; /* which listen address: the worker's sockets are in "listen" order */
    while (k < w->n_fds && w->fds[k] != fd)
        k++;
    for (unsigned i = 0; i < batch; i++) {
        struct sockaddr_storage peer;
        socklen_t plen = sizeof(peer);
        int cfd = accept4(fd, (struct sockaddr *)&peer, &plen, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (cfd < 0) {
            int e = errno;
            if (accept_backoff_error(e)) {
                tcp_accept_pause(p, e);
                return;
            }
            if (e == ECONNABORTED || e == EINTR || e == EPROTO || e == EPERM)
                continue; /* that connection is gone; others may wait */
            if (e == EAGAIN || e == EWOULDBLOCK)
                tcp_accept_ok(p);
            return;
        }
        tcp_accept_ok(p);
        while (p->n >= max && p->head)
            tcp_evict_one(p);
        tcp_accept_one(p, cfd, &peer, tls, k);
    }
}

void tcp_on_accept(int fd, short what, void *arg)
{
    (void)what;
    tcp_accept_batch(arg, fd, false);
}

void tcp_on_accept_tls(int fd, short what, void *arg)
{
    (void)what;
    tcp_accept_batch(arg, fd, true);
}

/* Logs, at most every TCP_LOG_EVERY_MS, that the buffer budget closed
 * connections since the last line. */
static void tcp_log_budget(struct tcp_pool *p, uint64_t now)
{
    if (p->budget_closes == p->budget_logged || now - p->budget_log_ms < TCP_LOG_EVERY_MS)
        return;
    log_warn("event=tcp_buffer_budget worker=%u closed=%llu budget_bytes=%u "
             "note=\"connections holding the most unread replies or partial input were closed\"",
             p->w->id, (unsigned long long)(p->budget_closes - p->budget_logged), TCP_POOL_BUDGET);
    p->budget_logged = p->budget_closes;
    p->budget_log_ms = now;
}

/* Logs, at most every TCP_LOG_EVERY_MS, the TLS handshakes that failed
 * since the last line, with the last reason (a scan of port 853 or a
 * client without a protocol version or cipher in common). */
static void tcp_log_tls(struct tcp_pool *p, uint64_t now)
{
    if (p->tls_failed == p->tls_failed_logged || now - p->tls_log_ms < TCP_LOG_EVERY_MS)
        return;
    char q[160];
    log_info("event=tls_handshake_failed worker=%u count=%llu why=\"%s\"", p->w->id,
             (unsigned long long)(p->tls_failed - p->tls_failed_logged),
             log_quote(p->tls_why, q, sizeof(q)));
    p->tls_failed_logged = p->tls_failed;
    p->tls_log_ms = now;
}

/* Closes connections past their deadlines: idle (nothing buffered either
 * way) past idle_timeout; a message started and not finished within
 * message_timeout (not while we paused reading); replies the client has not
 * read for idle_timeout. */
static void tcp_on_sweep(int fd, short what, void *arg)
{
    struct tcp_pool *p = arg;
    const struct serve_set *s = serve_enter(p->w->reader);
    uint64_t idle_ms = s->limits.tcp_idle_ms;
    uint64_t msg_ms = s->limits.tcp_message_ms;
    serve_leave(p->w->reader);
    uint64_t now = tcp_now_ms();
    struct tcp_conn *c = p->head;
    (void)fd;
    (void)what;
    while (c) {
        struct tcp_conn *next = c->next;
        size_t pending = tcp_pending(c);
        /* A connection waiting for the updater's reply is not idle: an
         * update of a large signed zone takes seconds (doc/updates.md). */
        bool idle_expired =
            c->in_len == 0 && pending == 0 && !c->upd && now - c->last_ms >= idle_ms;
        bool msg_expired = !c->paused && c->partial_ms && now - c->partial_ms >= msg_ms;
        bool stalled = pending && now - c->sent_ms >= idle_ms;
        if (idle_expired && c->handshaking)
            serve_count_tls(p->w->reader, SERVE_TLS_TIMEOUT);
        if (idle_expired || msg_expired || stalled)
            tcp_conn_close(c);
        c = next;
    }
    tcp_log_budget(p, now);
    tcp_log_tls(p, now);
}

struct tcp_pool *tcp_pool_new(struct worker *w)
{
    struct tcp_pool *p = calloc(1, sizeof(*p));
    if (!p)
        abort();
    p->w = w;
    p->sweep = event_new(w->base, -1, EV_PERSIST, tcp_on_sweep, p);
    p->resume = evtimer_new(w->base, tcp_on_resume, p);
    if (!p->sweep || !p->resume)
        abort();
    struct timeval tv = {0, TCP_SWEEP_MS * 1000};
    event_add(p->sweep, &tv);
    return p;
}

void tcp_pool_free(struct tcp_pool *p)
{
    if (!p)
        return;
    while (p->head)
        tcp_conn_close(p->head);
    event_free(p->sweep);
    event_free(p->resume);
    free(p);
}

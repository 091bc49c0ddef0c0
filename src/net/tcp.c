/*
 * tcp.c -- DNS over TCP (RFC 7766) for one worker.
 */
#include "net/tcp.h"

#include <errno.h>
#include <event2/event.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "dns/dns.h"
#include "net/worker.h"

#define TCP_IN_INITIAL 1024
#define TCP_OUT_HIGH (256 * 1024) /* stop reading while this much is unsent */
#define TCP_SWEEP_MS 100

struct tcp_conn {
    struct tcp_pool *pool;
    struct tcp_conn *prev, *next; /* activity order: head = least recent */
    struct event *ev_read;
    struct event *ev_write;
    int fd;
    struct sockaddr_storage peer;
    uint8_t *in;
    size_t in_len, in_cap;
    uint8_t *out;
    size_t out_len, out_off, out_cap;
    uint64_t last_ms;    /* last complete query or accept */
    uint64_t partial_ms; /* when the unfinished message began; 0 = none */
    bool served;         /* answered at least one query: a real client */
};

struct tcp_pool {
    struct worker *w;
    struct tcp_conn *head, *tail;
    unsigned n;
    struct event *sweep;
    uint8_t reply[DNS_TCP_MAX];
};

static uint64_t tcp_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
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

static void tcp_conn_close(struct tcp_conn *c)
{
    struct tcp_pool *p = c->pool;
    tcp_list_remove(p, c);
    p->n--;
    event_free(c->ev_read);
    event_free(c->ev_write);
    close(c->fd);
    free(c->in);
    free(c->out);
    free(c);
}

/* Idle: a client we have served that has nothing in progress. Eviction
 * takes idle served clients first, then the least recently active; a fresh
 * connection that has sent nothing yet is never "idle", so a flood of
 * half-open connections cannot push out a client that just connected. */
static bool tcp_conn_idle(const struct tcp_conn *c)
{
    return c->served && c->in_len == 0 && c->out_len == c->out_off;
}

/* Sends what is queued; false when the connection had to be closed. */
static bool tcp_flush(struct tcp_conn *c)
{
    while (c->out_off < c->out_len) {
        ssize_t r = send(c->fd, c->out + c->out_off, c->out_len - c->out_off, MSG_NOSIGNAL);
        if (r > 0) {
            c->out_off += (size_t)r;
            continue;
        }
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            event_add(c->ev_write, NULL);
            if (c->out_len - c->out_off > TCP_OUT_HIGH)
                event_del(c->ev_read); /* back-pressure on a client that does not read */
            return true;
        }
        tcp_conn_close(c);
        return false;
    }
    c->out_off = c->out_len = 0;
    event_del(c->ev_write);
    event_add(c->ev_read, NULL);
    return true;
}

static bool tcp_queue_reply(struct tcp_conn *c, const uint8_t *msg, size_t len)
{
    if (c->out_off > 0 && c->out_off == c->out_len)
        c->out_off = c->out_len = 0;
    if (c->out_len + len + 2 > c->out_cap) {
        size_t ncap = c->out_cap ? c->out_cap : 4096;
        while (ncap < c->out_len + len + 2)
            ncap *= 2;
        uint8_t *n = realloc(c->out, ncap);
        if (!n)
            return false;
        c->out = n;
        c->out_cap = ncap;
    }
    dns_put16(c->out + c->out_len, (uint16_t)len);
    memcpy(c->out + c->out_len + 2, msg, len);
    c->out_len += len + 2;
    return true;
}

/* Answers every complete message in the input buffer; false if closed. */
static bool tcp_process(struct tcp_conn *c)
{
    struct worker *w = c->pool->w;
    size_t off = 0;
    const struct serve_set *s = serve_enter(w->reader);
    while (c->in_len - off >= 2) {
        size_t mlen = dns_get16(c->in + off);
        if (mlen < DNS_HEADER_SIZE) {
            serve_leave(w->reader);
            tcp_conn_close(c); /* no DNS message is this short: framing is lost */
            return false;
        }
        if (c->in_len - off - 2 < mlen)
            break;
        size_t rlen = worker_answer(w, s, &c->peer, c->in + off + 2, mlen, c->pool->reply, true);
        serve_count_messages(w->reader, 1, 1);
        if (rlen && !tcp_queue_reply(c, c->pool->reply, rlen)) {
            serve_leave(w->reader);
            tcp_conn_close(c);
            return false;
        }
        off += 2 + mlen;
        c->served = true;
        c->last_ms = tcp_now_ms();
        c->partial_ms = 0;
        tcp_list_remove(c->pool, c);
        tcp_list_append(c->pool, c);
    }
    serve_leave(w->reader);
    if (off) {
        memmove(c->in, c->in + off, c->in_len - off);
        c->in_len -= off;
    }
    if (c->in_len && !c->partial_ms)
        c->partial_ms = tcp_now_ms();
    return true;
}

static bool tcp_grow_input(struct tcp_conn *c)
{
    size_t need = c->in_len >= 2 ? 2 + (size_t)dns_get16(c->in) : c->in_cap * 2;
    if (need <= c->in_cap)
        need = c->in_cap * 2;
    if (need > 2 + DNS_TCP_MAX)
        need = 2 + DNS_TCP_MAX;
    if (need <= c->in_cap)
        return false;
    uint8_t *n = realloc(c->in, need);
    if (!n)
        return false;
    c->in = n;
    c->in_cap = need;
    return true;
}

static void tcp_on_read(int fd, short what, void *arg)
{
    struct tcp_conn *c = arg;
    (void)what;
    for (int rounds = 0; rounds < 16; rounds++) {
        if (c->in_len == c->in_cap && !tcp_grow_input(c)) {
            tcp_conn_close(c);
            return;
        }
        ssize_t r = recv(fd, c->in + c->in_len, c->in_cap - c->in_len, 0);
        if (r == 0 || (r < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)) {
            tcp_conn_close(c);
            return;
        }
        if (r < 0)
            break;
        c->in_len += (size_t)r;
        if (!tcp_process(c))
            return;
        if ((size_t)r < 512)
            break;
    }
    tcp_flush(c);
}

static void tcp_on_write(int fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    tcp_flush(arg);
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

static void tcp_accept_one(struct tcp_pool *p, int cfd, const struct sockaddr_storage *peer)
{
    struct tcp_conn *c = calloc(1, sizeof(*c));
    if (!c) {
        close(cfd);
        return;
    }
    c->pool = p;
    c->fd = cfd;
    c->peer = *peer;
    c->in = malloc(TCP_IN_INITIAL);
    c->in_cap = TCP_IN_INITIAL;
    c->ev_read = event_new(p->w->base, cfd, EV_READ | EV_PERSIST, tcp_on_read, c);
    c->ev_write = event_new(p->w->base, cfd, EV_WRITE | EV_PERSIST, tcp_on_write, c);
    if (!c->in || !c->ev_read || !c->ev_write) {
        if (c->ev_read)
            event_free(c->ev_read);
        if (c->ev_write)
            event_free(c->ev_write);
        free(c->in);
        free(c);
        close(cfd);
        return;
    }
    c->last_ms = tcp_now_ms();
    tcp_list_append(p, c);
    p->n++;
    event_add(c->ev_read, NULL);
}

void tcp_on_accept(int fd, short what, void *arg)
{
    struct worker *w = arg;
    struct tcp_pool *p = w->tcp;
    (void)what;
    for (int i = 0; i < 64; i++) {
        struct sockaddr_storage peer;
        socklen_t plen = sizeof(peer);
        int cfd = accept4(fd, (struct sockaddr *)&peer, &plen, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (cfd < 0)
            return;
        unsigned total = serve_enter(w->reader)->limits.tcp_max_connections;
        serve_leave(w->reader);
        unsigned max = (total + w->net->n_tcp_workers - 1) / w->net->n_tcp_workers;
        while (p->n >= (max ? max : 1) && p->head)
            tcp_evict_one(p);
        tcp_accept_one(p, cfd, &peer);
    }
}

/* Closes connections past their idle or message deadline. */
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
        bool idle_expired = c->in_len == 0 && now - c->last_ms >= idle_ms;
        bool msg_expired = c->partial_ms && now - c->partial_ms >= msg_ms;
        if (idle_expired || msg_expired)
            tcp_conn_close(c);
        c = next;
    }
}

struct tcp_pool *tcp_pool_new(struct worker *w)
{
    struct tcp_pool *p = calloc(1, sizeof(*p));
    if (!p)
        abort();
    p->w = w;
    p->sweep = event_new(w->base, -1, EV_PERSIST, tcp_on_sweep, p);
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
    free(p);
}

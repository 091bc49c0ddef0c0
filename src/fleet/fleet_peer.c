/*
 * fleet_peer.c -- the direct channel between fleet nodes: the socket, this
 * node's own changes, sending, and the views (fleet_peer.h).
 *
 * Sending: this node numbers each change of its own probe's state of an
 * endpoint (cseq, in this run) and keeps its endpoints in the order of
 * their last change. To each peer it sends, every FLEET_PEER_TICK_S, the
 * changes after what the peer acknowledged, oldest first, as many as fit
 * one datagram, and more datagrams in the same tick (up to
 * FLEET_PEER_BURST) while a backlog remains: a new or restarted peer
 * acknowledges nothing of this run, so it gets the full state in parts.
 * Parts not acknowledged after FLEET_PEER_RESEND_S are sent again from
 * the acknowledgement. With nothing to send, the datagram still goes: it
 * carries the stamp (the peer learns this node's states are current as
 * of it) and the acknowledgement of the peer's changes.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <event2/event.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "common/addr.h"
#include "common/deadline.h"
#include "common/log.h"
#include "fleet/fleet_int.h"
#include "fleet/fleet_peer.h"
#include "fleet/fleet_peer_int.h"
#include "fleet/fleet_peer_wire.h"
#include "fleet/fleet_sign.h"
#include "health/health.h"

const char *fleet_peer_drop_name(enum fleet_peer_drop d)
{
    static const char *const names[] = {"too_big",        "malformed",     "not_for_me",
                                        "unknown_sender", "wrong_address", "unsigned",
                                        "bad_signature",  "replay"};
    return (unsigned)d < sizeof(names) / sizeof(names[0]) ? names[d] : "?";
}

int64_t fleet_peer_wall_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

/* "IP:PORT" or "[IPv6]:PORT" with a port from 0 (any) to 65535. */
static int fleet_peer_addr_parse(const char *s, struct sockaddr_storage *ss, socklen_t *len)
{
    size_t n = strlen(s);
    if (n < 3 || n > 63 || strcmp(s + n - 2, ":0") != 0 || s[n - 3] == ':')
        return addr_parse(s, ADDR_PORT_REQUIRED, ss, len);
    char any[64]; /* port 0: parsed as port 1, then set to 0 */
    snprintf(any, sizeof(any), "%.*s:1", (int)(n - 2), s);
    if (addr_parse(any, ADDR_PORT_REQUIRED, ss, len) != 0)
        return -1;
    if (ss->ss_family == AF_INET)
        ((struct sockaddr_in *)ss)->sin_port = 0;
    else
        ((struct sockaddr_in6 *)ss)->sin6_port = 0;
    return 0;
}

bool fleet_peer_listen_ok(const char *s)
{
    struct sockaddr_storage ss;
    socklen_t len;
    return s && fleet_peer_addr_parse(s, &ss, &len) == 0;
}

bool fleet_peer_listen_wildcard(const char *s)
{
    struct sockaddr_storage ss;
    socklen_t len;
    if (!s || fleet_peer_addr_parse(s, &ss, &len) != 0)
        return false;
    if (ss.ss_family == AF_INET)
        return ((struct sockaddr_in *)&ss)->sin_addr.s_addr == htonl(INADDR_ANY);
    return IN6_IS_ADDR_UNSPECIFIED(&((struct sockaddr_in6 *)&ss)->sin6_addr);
}

static void fleet_peer_addr_text(const struct sockaddr_storage *ss, char *out, size_t len)
{
    char ip[INET6_ADDRSTRLEN] = "?";
    if (ss->ss_family == AF_INET) {
        const struct sockaddr_in *a = (const struct sockaddr_in *)ss;
        inet_ntop(AF_INET, &a->sin_addr, ip, sizeof(ip));
        snprintf(out, len, "%s:%u", ip, ntohs(a->sin_port));
    } else {
        const struct sockaddr_in6 *a = (const struct sockaddr_in6 *)ss;
        inet_ntop(AF_INET6, &a->sin6_addr, ip, sizeof(ip));
        snprintf(out, len, "[%s]:%u", ip, ntohs(a->sin6_port));
    }
}

static void fleet_peer_on_tick(evutil_socket_t fd, short what, void *arg);

int fleet_peer_open(struct fleet *f, const char *listen, char *err, size_t errlen)
{
    struct sockaddr_storage ss;
    socklen_t len = 0;
    if (fleet_peer_addr_parse(listen, &ss, &len) != 0) {
        snprintf(err, errlen, "fleet: peer_listen \"%s\" is not IP:PORT", listen);
        return -1;
    }
    int fd = socket(ss.ss_family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0 || bind(fd, (struct sockaddr *)&ss, len) != 0 ||
        getsockname(fd, (struct sockaddr *)&ss, &len) != 0) {
        snprintf(err, errlen, "fleet: cannot open the peer channel on %s: %s", listen,
                 strerror(errno));
        if (fd >= 0)
            close(fd);
        return -1;
    }
    struct fleet_peer *p = calloc(1, sizeof(*p));
    if (!p)
        abort();
    p->fd = fd;
    fleet_peer_addr_text(&ss, p->addr_text, sizeof(p->addr_text));
    /* A new run is higher than any before it on this host: the wall clock
     * at start, in microseconds (a clock set back across a restart is
     * caught by the run the node record announces, fleet_peer_rx.c). */
    p->run = (uint64_t)fleet_peer_wall_us();
    p->ev_read = event_new(f->base, fd, EV_READ | EV_PERSIST, fleet_peer_on_read, f);
    p->ev_tick = event_new(f->base, -1, EV_PERSIST, fleet_peer_on_tick, f);
    f->peer = p;
    struct timeval tick = {0, (suseconds_t)(FLEET_PEER_TICK_S * 1e6)};
    if (!p->ev_read || !p->ev_tick || event_add(p->ev_read, NULL) != 0 ||
        event_add(p->ev_tick, &tick) != 0) {
        snprintf(err, errlen, "fleet: cannot watch the peer channel's socket");
        fleet_peer_free(f);
        return -1;
    }
    log_info("event=fleet_peer_listen addr=%s run=%llu signed=%s", p->addr_text,
             (unsigned long long)p->run, f->p.keys.enabled ? "yes" : "no");
    return 0;
}

void fleet_peer_free(struct fleet *f)
{
    struct fleet_peer *p = f->peer;
    if (!p)
        return;
    if (p->ev_read)
        event_free(p->ev_read);
    if (p->ev_tick)
        event_free(p->ev_tick);
    close(p->fd);
    for (struct fleet_peer_own *o = p->head, *next; o; o = next) {
        next = o->next;
        o->ep->peer_ix = 0;
        free(o);
    }
    /* What was heard belongs to this channel's runs: gone with it. */
    pthread_mutex_lock(&f->lock);
    for (size_t b = 0; f->buckets && b < f->n_buckets; b++)
        for (struct fleet_ep *e = f->buckets[b]; e; e = e->next)
            fleet_peer_ep_free(e);
    pthread_mutex_unlock(&f->lock);
    free(p->own_ix);
    free(p->nodes);
    free(p);
    f->peer = NULL;
}

void fleet_peer_ep_free(struct fleet_ep *ep)
{
    while (ep->direct) {
        struct fleet_peer_ep *d = ep->direct;
        ep->direct = d->next;
        free(d);
    }
}

struct fleet_peer_node *fleet_peer_node_at(struct fleet *f, uint16_t idx)
{
    struct fleet_peer *p = f->peer;
    if (idx >= p->n_nodes) {
        size_t n = (size_t)idx + 1 > 8 ? (size_t)idx + 1 : 8;
        pthread_mutex_lock(&f->lock);
        struct fleet_peer_node *g = realloc(p->nodes, n * sizeof(*g));
        if (!g)
            abort();
        memset(g + p->n_nodes, 0, (n - p->n_nodes) * sizeof(*g));
        p->nodes = g;
        p->n_nodes = n;
        pthread_mutex_unlock(&f->lock);
    }
    return &p->nodes[idx];
}

void fleet_peer_node_fields_locked(const struct fleet *f, json_t *rec)
{
    if (f->peer)
        json_object_set_new(
            rec, "peer",
            json_pack("{s:s, s:I}", "addr", f->peer->addr_text, "run", (json_int_t)f->peer->run));
}

void fleet_peer_node_seen(struct fleet *f, uint16_t idx, json_t *v)
{
    if (!f->peer || idx == f->self)
        return;
    struct fleet_peer_node *n = fleet_peer_node_at(f, idx);
    json_t *pv = json_object_get(v, "peer");
    const char *addr = json_string_value(json_object_get(pv, "addr"));
    json_t *run = json_object_get(pv, "run");
    struct sockaddr_storage ss;
    socklen_t len = 0;
    bool ok = addr && fleet_peer_addr_parse(addr, &ss, &len) == 0;
    pthread_mutex_lock(&f->lock);
    n->has_addr = ok;
    if (ok) {
        n->addr = ss;
        n->addr_len = len;
        snprintf(n->addr_text, sizeof(n->addr_text), "%s", addr);
        n->announced_run = json_is_integer(run) ? (uint64_t)json_integer_value(run) : 0;
    }
    pthread_mutex_unlock(&f->lock);
}

/* Numbers the changes of this node's own probe since the last tick. */
static void fleet_peer_track_own(struct fleet *f, double mono, int64_t wall_us)
{
    struct fleet_peer *p = f->peer;
    for (size_t i = 0; i < f->n_local; i++) {
        struct fleet_ep *e = f->local[i];
        uint8_t st = e->own == HEALTH_UP     ? FLEET_PEER_UP
                     : e->own == HEALTH_DOWN ? FLEET_PEER_DOWN
                                             : 0;
        if (!st || strlen(e->key) > FLEET_PEER_KEY_MAX)
            continue; /* no probe result yet: nothing to say */
        struct fleet_peer_own *o = e->peer_ix ? p->own_ix[e->peer_ix - 1] : NULL;
        if (o && o->state == st)
            continue;
        if (!o) {
            if (p->n_own == p->cap_own) {
                p->cap_own = p->cap_own ? p->cap_own * 2 : 64;
                p->own_ix = realloc(p->own_ix, p->cap_own * sizeof(*p->own_ix));
                if (!p->own_ix)
                    abort();
            }
            if (!(o = calloc(1, sizeof(*o))))
                abort();
            o->ep = e;
            p->own_ix[p->n_own++] = o;
            e->peer_ix = (uint32_t)p->n_own;
        } else { /* unlinked, to go last */
            *(o->prev ? &o->prev->next : &p->head) = o->next;
            *(o->next ? &o->next->prev : &p->tail) = o->prev;
        }
        o->state = st;
        o->as_of_us = wall_us - (int64_t)((mono - e->own_since) * 1e6);
        o->cseq = ++p->cseq;
        o->prev = p->tail;
        o->next = NULL;
        *(p->tail ? &p->tail->next : &p->head) = o;
        p->tail = o;
    }
}

/* Fills m with the changes after m->lo that fit in room octets, oldest
 * first (their keys point into the endpoints); m->upto: the last one
 * sent, or m->hi when none is left after it. */
static void fleet_peer_fill(struct fleet_peer *p, struct fleet_peer_msg *m, size_t room)
{
    struct fleet_peer_own *o = p->tail;
    while (o && o->prev && o->prev->cseq > m->lo)
        o = o->prev;
    if (o && o->cseq <= m->lo)
        o = NULL;
    m->upto = m->hi;
    for (; o; o = o->next) {
        size_t need = fleet_peer_rec_size(strlen(o->ep->key));
        if (need > room || m->n_recs == FLEET_PEER_RECS_MAX) {
            m->upto = m->n_recs ? m->recs[m->n_recs - 1].cseq : m->lo;
            break;
        }
        room -= need;
        struct fleet_peer_rec *r = &m->recs[m->n_recs++];
        r->key = o->ep->key;
        r->key_len = strlen(o->ep->key);
        r->state = o->state;
        r->as_of_us = o->as_of_us;
        r->cseq = o->cseq;
    }
}

/* One datagram to peer idx from n->sent_upto; false when it could not go. */
static bool fleet_peer_send_one(struct fleet *f, uint16_t idx, struct fleet_peer_node *n,
                                int64_t wall_us)
{
    struct fleet_peer *p = f->peer;
    struct fleet_peer_msg *m = &p->msg;
    memset(m, 0, sizeof(*m));
    snprintf(m->from, sizeof(m->from), "%s", f->p.node);
    snprintf(m->to, sizeof(m->to), "%s", f->nodes[idx].name);
    m->is_signed = f->p.keys.enabled;
    m->run = p->run;
    m->seq = ++p->seq;
    m->stamp_us = wall_us;
    m->hi = p->cseq;
    m->lo = n->sent_upto > m->hi ? m->hi : n->sent_upto;
    m->ack_run = n->run;
    m->ack_have = n->have;
    size_t head = fleet_peer_header_size(m->from, m->to) + (m->is_signed ? FLEET_PEER_SIG_LEN : 0);
    fleet_peer_fill(p, m, FLEET_PEER_DGRAM_MAX - head);
    uint8_t buf[FLEET_PEER_DGRAM_MAX];
    size_t len = fleet_peer_encode(m, buf, sizeof(buf));
    if (len && m->is_signed) {
        if (!fleet_sign_bytes(&f->p.keys, buf, len, buf + len))
            len = 0;
        else
            len += FLEET_PEER_SIG_LEN;
    }
    bool ok =
        len && sendto(p->fd, buf, len, 0, (struct sockaddr *)&n->addr, n->addr_len) == (ssize_t)len;
    pthread_mutex_lock(&f->lock);
    ok ? p->sent++ : p->send_errors++;
    pthread_mutex_unlock(&f->lock);
    if (ok)
        n->sent_upto = m->upto;
    return ok;
}

static void fleet_peer_send_to(struct fleet *f, uint16_t idx, double mono, int64_t wall_us)
{
    struct fleet_peer_node *n = fleet_peer_node_at(f, idx);
    if (!n->has_addr)
        return;
    if (n->sent_upto < n->acked) /* an acknowledgement of parts sent before a resend */
        n->sent_upto = n->acked;
    if (n->sent_upto > n->acked && mono - n->ack_moved > FLEET_PEER_RESEND_S) {
        n->sent_upto = n->acked; /* a part was lost: again from what it holds */
        n->ack_moved = mono;
    }
    for (int i = 0; i < FLEET_PEER_BURST; i++) {
        if (!fleet_peer_send_one(f, idx, n, wall_us))
            return;
        if (n->sent_upto >= f->peer->cseq)
            return;
    }
}

static void fleet_peer_on_tick(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    struct fleet *f = arg;
    double mono = deadline_mono();
    int64_t wall_us = fleet_peer_wall_us();
    fleet_peer_track_own(f, mono, wall_us);
    for (size_t i = 0; i < f->n_nodes; i++)
        if (i != f->self && f->nodes[i].live)
            fleet_peer_send_to(f, (uint16_t)i, mono, wall_us);
}

json_t *fleet_peer_view_locked(const struct fleet *f, double now)
{
    const struct fleet_peer *p = f->peer;
    if (!p)
        return json_null();
    json_t *peers = json_array(), *drops = json_object();
    for (int d = 0; d < FLEET_PEER_DROPS; d++)
        json_object_set_new(drops, fleet_peer_drop_name((enum fleet_peer_drop)d),
                            json_integer((json_int_t)p->drops[d]));
    for (size_t i = 0; i < p->n_nodes && i < f->n_nodes; i++) {
        const struct fleet_peer_node *n = &p->nodes[i];
        if (i == f->self || (!n->has_addr && !n->heard))
            continue;
        json_t *nd = json_object();
        for (int d = 0; d < FLEET_PEER_DROPS; d++)
            json_object_set_new(nd, fleet_peer_drop_name((enum fleet_peer_drop)d),
                                json_integer((json_int_t)n->drops[d]));
        /* offset: its wall clock minus this node's, seconds (the
         * monotonic one shown through this node's wall clock). */
        double wall_mono = (double)fleet_peer_wall_us() / 1e6 - now;
        json_array_append_new(
            peers,
            json_pack("{s:s, s:s, s:o, s:o, s:o, s:I, s:I, s:I, s:I, s:o}", "node",
                      f->nodes[i].name, "address", n->has_addr ? n->addr_text : "", "heard_ago",
                      n->heard ? json_real(now - n->heard) : json_null(), "offset",
                      n->heard ? json_real(n->offset - wall_mono) : json_null(), "current_ago",
                      n->current_as_of ? json_real(now - n->current_as_of) : json_null(), "run",
                      (json_int_t)n->run, "changes", (json_int_t)n->hi, "changes_held",
                      (json_int_t)n->have, "accepted", (json_int_t)n->accepted, "drops", nd));
    }
    return json_pack("{s:s, s:I, s:b, s:I, s:I, s:o, s:o}", "address", p->addr_text, "run",
                     (json_int_t)p->run, "signed", f->p.keys.enabled, "sent", (json_int_t)p->sent,
                     "send_errors", (json_int_t)p->send_errors, "unknown_drops", drops, "peers",
                     peers);
}

bool fleet_peer_drops_locked(const struct fleet *f, uint64_t out[FLEET_PEER_DROPS],
                             uint64_t *accepted, uint64_t *sent)
{
    const struct fleet_peer *p = f->peer;
    if (!p)
        return false;
    memcpy(out, p->drops, sizeof(p->drops));
    *accepted = 0;
    *sent = p->sent;
    for (size_t i = 0; i < p->n_nodes; i++) {
        for (int d = 0; d < FLEET_PEER_DROPS; d++)
            out[d] += p->nodes[i].drops[d];
        *accepted += p->nodes[i].accepted;
    }
    return true;
}

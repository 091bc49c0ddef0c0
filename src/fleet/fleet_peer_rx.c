/*
 * fleet_peer_rx.c -- the direct channel's receiving side (fleet_peer.h):
 * each datagram is checked in this order, and dropped with its reason
 * counted at the first check it fails: its size, its form
 * (fleet_peer_wire.c), its receiver (this node), its sender (a live node
 * whose record announces a channel), its signature (with "members") or
 * else its source address (the one announced), its run and sequence (no
 * replay). Then its acknowledgement, its sender's offset sample, and its
 * records are applied.
 *
 * Runs: a sender's run is the wall clock of its start. A datagram of a
 * run above the one held starts that run here (the restarted peer's
 * states of its older run no longer count, and it gets this node's full
 * state); one of the run its node record announces is taken too (its
 * clock went back across the restart); any other older run is a replay.
 */
#include <errno.h>
#include <event2/event.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "common/addr.h"
#include "common/deadline.h"
#include "fleet/fleet_int.h"
#include "fleet/fleet_peer.h"
#include "fleet/fleet_peer_int.h"
#include "fleet/fleet_peer_wire.h"
#include "fleet/fleet_sign.h"
#include "health/health.h"

/* Counts a drop of a datagram from peer n (NULL: no known peer). */
static void fleet_peer_drop(struct fleet *f, struct fleet_peer_node *n, enum fleet_peer_drop d)
{
    pthread_mutex_lock(&f->lock);
    if (n)
        n->drops[d]++;
    else
        f->peer->drops[d]++;
    pthread_mutex_unlock(&f->lock);
}

/* The sender of m as a known peer with a channel, or FLEET_NODE_NONE. */
static uint16_t fleet_peer_sender(struct fleet *f, const struct fleet_peer_msg *m)
{
    for (size_t i = 0; i < f->n_nodes; i++)
        if (i != f->self && strcmp(f->nodes[i].name, m->from) == 0)
            return f->nodes[i].live && i < f->peer->n_nodes && f->peer->nodes[i].has_addr
                       ? (uint16_t)i
                       : FLEET_NODE_NONE;
    return FLEET_NODE_NONE;
}

/* The run and sequence checks; a new run resets what is held of the peer
 * (caller holds f->lock). false: a replay. */
static bool fleet_peer_fresh_locked(struct fleet_peer_node *n, const struct fleet_peer_msg *m)
{
    if (m->run != n->run) {
        if (m->run < n->run && m->run != n->announced_run)
            return false;
        n->run = m->run;
        n->max_seq = m->seq;
        n->window = 1;
        n->gen++;
        n->have = 0;
        n->current_as_of = 0;
        n->acked = n->sent_upto = 0; /* it holds nothing of this node's: the full state */
        return true;
    }
    if (m->seq > n->max_seq) {
        uint64_t shift = m->seq - n->max_seq;
        n->window = shift >= FLEET_PEER_WINDOW ? 1 : (n->window << shift) | 1;
        n->max_seq = m->seq;
        return true;
    }
    uint64_t back = n->max_seq - m->seq;
    if (back >= FLEET_PEER_WINDOW || (n->window >> back) & 1)
        return false;
    n->window |= 1ull << back;
    return true;
}

/* The endpoint of each of m's records into eps (before f->lock is
 * taken: fleet_ep_get takes it to add one). One this node does not know
 * yet is added, as a report read from etcd is, within the same bound
 * (FLEET_FOREIGN_EPS_MAX): a node whose configuration comes later (a
 * reload, the fleet's configuration) must not lose a state it
 * acknowledged. NULL past the bound. */
static void fleet_peer_resolve(struct fleet *f, const struct fleet_peer_msg *m,
                               struct fleet_ep **eps)
{
    for (size_t i = 0; i < m->n_recs; i++) {
        char key[FLEET_PEER_KEY_MAX + 1];
        memcpy(key, m->recs[i].key, m->recs[i].key_len);
        key[m->recs[i].key_len] = '\0';
        eps[i] = fleet_ep_get(f, key, false);
        if (!eps[i] && f->n_eps < f->n_local + FLEET_FOREIGN_EPS_MAX)
            eps[i] = fleet_ep_get(f, key, true);
    }
}

/* m's records into their endpoints' lists (caller holds f->lock). */
static void fleet_peer_apply_locked(struct fleet_peer_node *n, uint16_t idx,
                                    const struct fleet_peer_msg *m, struct fleet_ep *const *eps)
{
    for (size_t i = 0; i < m->n_recs; i++) {
        const struct fleet_peer_rec *r = &m->recs[i];
        struct fleet_ep *ep = eps[i];
        if (!ep)
            continue; /* past the bound of endpoints: nothing to decide on */
        struct fleet_peer_ep *d = ep->direct;
        while (d && d->node != idx)
            d = d->next;
        if (!d) {
            if (!(d = calloc(1, sizeof(*d))))
                abort();
            d->node = idx;
            d->next = ep->direct;
            ep->direct = d;
        } else if (d->gen == n->gen && d->cseq >= r->cseq)
            continue; /* a resent or reordered older change */
        d->gen = n->gen;
        d->cseq = r->cseq;
        d->state = r->state == FLEET_PEER_UP ? HEALTH_UP : HEALTH_DOWN;
        d->since = (double)r->as_of_us / 1e6 - n->offset;
    }
}

/* The checks after the form: sender, signature or address, replay. */
static void fleet_peer_accept(struct fleet *f, const struct fleet_peer_msg *m, const uint8_t *buf,
                              const struct sockaddr_storage *from, double now)
{
    uint16_t idx = fleet_peer_sender(f, m);
    if (idx == FLEET_NODE_NONE) {
        fleet_peer_drop(f, NULL, FLEET_PEER_DROP_UNKNOWN_SENDER);
        return;
    }
    struct fleet_peer_node *n = &f->peer->nodes[idx];
    if (f->p.keys.enabled) {
        if (!m->is_signed) {
            fleet_peer_drop(f, n, FLEET_PEER_DROP_UNSIGNED);
            return;
        }
        if (fleet_verify_bytes(&f->p.keys, m->from, buf, m->signed_len, m->sig) != FLEET_SIG_OK) {
            fleet_peer_drop(f, n, FLEET_PEER_DROP_BAD_SIGNATURE);
            return;
        }
    } else if (!addr_same(from, &n->addr)) {
        fleet_peer_drop(f, n, FLEET_PEER_DROP_WRONG_ADDRESS);
        return;
    }
    pthread_mutex_lock(&f->lock);
    bool fresh = fleet_peer_fresh_locked(n, m);
    n->drops[FLEET_PEER_DROP_REPLAY] += !fresh;
    pthread_mutex_unlock(&f->lock);
    if (!fresh)
        return;
    /* Only a datagram that passed every check may add endpoints; the
     * fleet thread is the only writer, so nothing moves while unlocked. */
    struct fleet_ep *eps[FLEET_PEER_RECS_MAX];
    fleet_peer_resolve(f, m, eps);
    pthread_mutex_lock(&f->lock);
    n->accepted++;
    n->heard = now;
    /* Its offset sample, into the one estimate of that peer that its etcd
     * heartbeats feed too (fleet_beat.c): the direct channel's quick
     * deliveries refine it, and a step of its clock is seen within
     * FLEET_PEER_STEP_S. */
    struct fleet_decide_stamped_offset *off = &f->nodes[idx].beat_off;
    fleet_decide_stamped_offset_sample(off, (double)m->stamp_us / 1e6, now, FLEET_PEER_OFFSET_S,
                                       FLEET_PEER_STEP_S);
    n->offset = off->off;
    fleet_peer_apply_locked(n, idx, m, eps);
    if (m->lo <= n->have && m->upto > n->have)
        n->have = m->upto;
    n->hi = m->hi;
    if (n->have >= m->hi) /* it holds nothing newer than what is here */
        n->current_as_of = (double)m->stamp_us / 1e6 - n->offset;
    pthread_mutex_unlock(&f->lock);
    /* The stamped verdict reads what just changed (records carry only
     * changes: a few endpoints). */
    fleet_stamped_news(f, eps, m->n_recs);
    /* Its acknowledgement of this node's changes (fleet thread's own). */
    if (m->ack_run != f->peer->run) {
        if (n->acked) /* it held some of this run and no longer does: all again */
            n->sent_upto = 0;
        n->acked = 0;
    } else if (m->ack_have > n->acked && m->ack_have <= f->peer->cseq) {
        n->acked = m->ack_have;
        n->ack_moved = now;
    }
}

void fleet_peer_receive(struct fleet *f, const uint8_t *buf, size_t len,
                        const struct sockaddr_storage *from, double now)
{
    if (len > FLEET_PEER_DGRAM_MAX) {
        fleet_peer_drop(f, NULL, FLEET_PEER_DROP_TOO_BIG);
        return;
    }
    struct fleet_peer_msg *m = &f->peer->msg;
    if (fleet_peer_parse(buf, len, m) != FLEET_PEER_PARSE_OK) {
        fleet_peer_drop(f, NULL, FLEET_PEER_DROP_MALFORMED);
        return;
    }
    if (strcmp(m->to, f->p.node) != 0) {
        fleet_peer_drop(f, NULL, FLEET_PEER_DROP_NOT_FOR_ME);
        return;
    }
    fleet_peer_accept(f, m, buf, from, now);
}

void fleet_peer_on_read(evutil_socket_t fd, short what, void *arg)
{
    (void)what;
    struct fleet *f = arg;
    /* A bounded batch per wakeup: a flood cannot hold the fleet thread. */
    for (int i = 0; i < 256; i++) {
        uint8_t buf[FLEET_PEER_DGRAM_MAX + 1];
        struct sockaddr_storage from;
        socklen_t fl = sizeof(from);
        ssize_t len = recvfrom(fd, buf, sizeof(buf), MSG_TRUNC, (struct sockaddr *)&from, &fl);
        if (len < 0)
            return; /* EAGAIN: drained */
        fleet_peer_receive(f, buf, (size_t)len, &from, deadline_mono());
    }
}

bool fleet_peer_channel_locked(const struct fleet *f, uint16_t node)
{
    const struct fleet_peer *p = f->peer;
    return p && node < p->n_nodes && p->nodes[node].has_addr;
}

double fleet_peer_heard_any_locked(const struct fleet *f)
{
    const struct fleet_peer *p = f->peer;
    double last = 0;
    for (size_t i = 0; p && i < p->n_nodes && i < f->n_nodes; i++)
        if (i != f->self && f->nodes[i].live && p->nodes[i].has_addr && p->nodes[i].heard > last)
            last = p->nodes[i].heard;
    return last;
}

bool fleet_peer_evidence_locked(const struct fleet *f, const struct fleet_ep *ep, uint16_t node,
                                struct fleet_peer_evidence *out)
{
    memset(out, 0, sizeof(*out));
    const struct fleet_peer *p = f->peer;
    if (!p || node >= p->n_nodes || !p->nodes[node].heard)
        return false;
    const struct fleet_peer_node *n = &p->nodes[node];
    out->heard = n->heard;
    out->offset = n->offset;
    out->current_as_of = n->current_as_of;
    out->state = HEALTH_UNKNOWN;
    for (const struct fleet_peer_ep *d = ep->direct; d; d = d->next)
        if (d->node == node && d->gen == n->gen) {
            out->state = d->state;
            out->since = d->since;
        }
    return true;
}

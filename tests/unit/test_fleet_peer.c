/*
 * test_fleet_peer.c -- the direct channel's state machines (fleet_peer.c,
 * fleet_peer_rx.c) between two real fleets in this process on loopback:
 * a full state of 600 endpoints in parts while 20 % of the datagrams to
 * the receiver are lost (parts sent again from the acknowledgement),
 * later changes, and a receiver that restarts (a new run) getting the
 * full state again. Each wait is bounded (10 s of event loops; the
 * channel needs about 2 s for the lossy full state, each lost part
 * costing a resend round of 0.3 s, and well under 1 s for the rest).
 */
#include <event2/event.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "common/deadline.h"
#include "common/errlist.h"
#include "common/event_ring.h"
#include "common/jsoncfg.h"
#include "fleet/fleet_int.h"
#include "fleet/fleet_peer.h"
#include "fleet/fleet_peer_int.h"
#include "health/health.h"
#include "tap.h"

#define EPS 600

struct side {
    struct health_core hc;
    struct fleet *f;
    char keys[EPS][32];
};

static struct fleet *make_fleet(struct health_core *hc, const char *node)
{
    char text[256];
    snprintf(text, sizeof(text),
             "{\"etcd\": [\"http://127.0.0.1:1\"], \"node\": \"%s\", \"stale_after\": 10}", node);
    struct errlist e;
    errlist_init(&e);
    struct jsoncfg j = {.errs = &e, .file = "t.json", .dir = "."};
    json_t *v = json_loads(text, 0, NULL);
    struct fleet_params p;
    fleet_params_parse(&j, v, &p);
    json_decref(v);
    errlist_free(&e);
    struct fleet_env env = {.health = hc, .version = "test"};
    char err[256];
    struct fleet *f = fleet_new(&p, &env, err, sizeof(err));
    fleet_params_free(&p);
    return f;
}

static void side_init(struct side *s, const char *node)
{
    health_core_init(&s->hc);
    s->hc.events = event_ring_new(16);
    const char *keys[EPS];
    struct health_slot *slots[EPS];
    for (int i = 0; i < EPS; i++) {
        snprintf(s->keys[i], sizeof(s->keys[i]), "endpoint:web/e%04d", i);
        keys[i] = s->keys[i];
        slots[i] = health_core_slot(&s->hc, keys[i]);
    }
    s->f = make_fleet(&s->hc, node);
    fleet_adopt_local(s->f, keys, slots, EPS);
    char err[256];
    if (fleet_peer_open(s->f, "127.0.0.1:0", err, sizeof(err)) != 0)
        printf("# %s\n", err);
}

/* a learns where b's channel is, as from b's node record. */
static uint16_t introduce(struct fleet *a, struct fleet *b)
{
    uint16_t idx = fleet_node_get(a, b->p.node);
    a->nodes[idx].live = true;
    json_t *rec = json_object();
    fleet_peer_node_fields_locked(b, rec);
    fleet_peer_node_seen(a, idx, rec);
    json_decref(rec);
    return idx;
}

/* xorshift: which datagrams are lost, the same on every run. */
static uint64_t rnd(uint64_t *x)
{
    *x ^= *x << 13;
    *x ^= *x >> 7;
    *x ^= *x << 17;
    return *x;
}

/* Runs both loops until done(arg) or 10 s; lose: drop that share (in
 * percent) of what reaches b. The datagrams kept are sent on from a's
 * own socket, so they still come from a's announced address. */
static bool run_until(struct side *a, struct side *b, unsigned lose, bool (*done)(void *),
                      void *arg, unsigned *dropped)
{
    uint64_t x = 0x2545f4914f6cdd1dull;
    struct sockaddr_storage to;
    socklen_t tl = sizeof(to);
    getsockname(b->f->peer->fd, (struct sockaddr *)&to, &tl);
    static uint8_t buf[32][2048];
    double end = deadline_mono() + 10.0;
    while (deadline_mono() < end) {
        if (done(arg))
            return true;
        event_base_loop(a->f->base, EVLOOP_NONBLOCK);
        size_t len[32], n = 0;
        ssize_t l;
        while (lose && n < 32 &&
               (l = recv(b->f->peer->fd, buf[n], sizeof(buf[n]), MSG_DONTWAIT)) > 0) {
            if (rnd(&x) % 100 >= lose)
                len[n++] = (size_t)l;
            else
                (*dropped)++;
        }
        for (size_t i = 0; i < n; i++)
            sendto(a->f->peer->fd, buf[i], len[i], 0, (struct sockaddr *)&to, tl);
        event_base_loop(b->f->base, EVLOOP_NONBLOCK);
        usleep(2000);
    }
    return done(arg);
}

struct want {
    struct side *a, *b;
    uint16_t a_in_b; /* a's index in b's nodes */
    uint8_t state;   /* each of a's endpoints as b holds it */
};

static bool holds(void *arg)
{
    struct want *w = arg;
    struct fleet *b = w->b->f;
    struct fleet_peer_evidence ev;
    for (int i = 0; i < EPS; i++) {
        struct fleet_ep *ep = fleet_ep_get(b, w->b->keys[i], false);
        if (!ep || !fleet_peer_evidence_locked(b, ep, w->a_in_b, &ev) || ev.state != w->state)
            return false;
    }
    const struct fleet_peer_node *n = &b->peer->nodes[w->a_in_b];
    return n->have == w->a->f->peer->cseq && ev.current_as_of > 0;
}

static void set_own(struct side *s, int from, int to, uint8_t st)
{
    for (int i = from; i < to; i++) {
        s->f->local[i]->own = st;
        s->f->local[i]->own_since = deadline_mono();
    }
}

int main(void)
{
    struct tap t = {0};
    static struct side a, b;
    side_init(&a, "na");
    side_init(&b, "nb");
    TAP_CHECK(&t, a.f && b.f && a.f->peer && b.f->peer, "two fleets, each with its channel");
    if (!a.f || !b.f || !a.f->peer || !b.f->peer)
        return tap_done(&t);
    introduce(a.f, b.f);
    uint16_t a_in_b = introduce(b.f, a.f);
    set_own(&a, 0, EPS, HEALTH_DOWN);
    set_own(&b, 0, EPS, HEALTH_UP);
    struct want w = {&a, &b, a_in_b, HEALTH_DOWN};
    double t0 = deadline_mono();
    unsigned dropped = 0;
    bool ok = run_until(&a, &b, 20, holds, &w, &dropped);
    const struct fleet_peer_node *n = &b.f->peer->nodes[a_in_b];
    TAP_CHECK(&t, ok,
              "600 endpoints in parts, 20 %% lost: all held (%.2f s, %llu accepted, %u lost)",
              deadline_mono() - t0, (unsigned long long)n->accepted, dropped);
    TAP_CHECK(&t, dropped > 0 && a.f->peer->sent >= n->accepted + dropped,
              "lost parts were sent again (%llu sent)", (unsigned long long)a.f->peer->sent);
    set_own(&a, 100, 110, HEALTH_UP);
    w.state = HEALTH_DOWN;
    struct fleet_ep *ep = fleet_ep_get(b.f, b.keys[105], false);
    struct fleet_peer_evidence ev;
    t0 = deadline_mono();
    bool moved = false;
    for (int i = 0; i < 500 && !moved; i++) {
        event_base_loop(a.f->base, EVLOOP_NONBLOCK);
        event_base_loop(b.f->base, EVLOOP_NONBLOCK);
        moved = fleet_peer_evidence_locked(b.f, ep, a_in_b, &ev) && ev.state == HEALTH_UP;
        usleep(10000);
    }
    TAP_CHECK(&t, moved && ev.since <= deadline_mono() && ev.since > t0 - 1,
              "a later change: seen (%.2f s), its moment in this clock", deadline_mono() - t0);
    set_own(&a, 100, 110, HEALTH_DOWN);
    /* b restarts: a new run; a's new acknowledgement of it starts over. */
    fleet_peer_free(b.f);
    char err[256];
    fleet_peer_open(b.f, "127.0.0.1:0", err, sizeof(err));
    introduce(a.f, b.f);
    introduce(b.f, a.f);
    t0 = deadline_mono();
    ok = run_until(&a, &b, 0, holds, &w, &dropped);
    TAP_CHECK(&t, ok, "a restarted receiver gets the full state (%.2f s)", deadline_mono() - t0);
    uint64_t drops = 0;
    for (int d = 0; d < FLEET_PEER_DROPS; d++)
        drops += b.f->peer->nodes[a_in_b].drops[d] + b.f->peer->drops[d];
    TAP_CHECK(&t, drops == 0, "nothing dropped (%llu)", (unsigned long long)drops);
    struct side *sides[] = {&a, &b};
    for (int i = 0; i < 2; i++) {
        fleet_store_stop(sides[i]->f);
        fleet_free(sides[i]->f);
        health_core_free(&sides[i]->hc);
        event_ring_free(sides[i]->hc.events);
    }
    return tap_done(&t);
}

/*
 * test_fleet_stamped.c -- the stamped rule's input gathering
 * (fleet_stamped_decide_locked, fleet/fleet_stamped.c): what it hands
 * fleet_decide_stamped from a fleet's state, without a daemon. A fleet of
 * three nodes (this node n1 and peers n2, n3) is built by hand: the
 * peers' etcd reports (fleet_obs) and heartbeats' stamps (beat_stamp,
 * rrev_held, beat_off), the direct channel's evidence (f->peer's nodes
 * and the endpoint's direct list), this node's probe (a health_slot) and
 * whether etcd takes its heartbeats (fresh_at). Each case checks the
 * inputs gathered (in.peers, in.self, the rule's parameters) and, where
 * it shows the gathering, the verdict.
 *
 * "now" is read inside (deadline_mono): every time here is set relative
 * to a reading taken just before the call, and compared with a slack of
 * SLACK_S (the call takes microseconds; the slack is for a descheduled
 * test on a loaded machine, far below the seconds the cases tell apart).
 */
#include <math.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "common/deadline.h"
#include "fleet/fleet_decide_stamped.h"
#include "fleet/fleet_int.h"
#include "fleet/fleet_peer_int.h"
#include "health/health.h"
#include "tap.h"

#define SLACK_S 0.5
/* fleet_stamped.c's FLEET_STAMPED_ALIVE_S (private there): a peer heard
 * directly this recently is reachable. */
#define ALIVE_S 0.35

/* The hand-built fleet; everything is the test's (calloc'd, freed by
 * world_free), the scratch arrays fleet_stamped_decide_locked grows are
 * freed by fleet_stamped_free. */
struct world {
    struct fleet *f;
    struct fleet_peer *peer;
    struct health_slot slot;
    struct fleet_ep ep;
    struct fleet_obs obs[4];
    struct fleet_peer_ep direct[2];
    double now; /* deadline_mono() when the world was built */
};

static void world_init(struct world *w)
{
    memset(w, 0, sizeof(*w));
    w->f = calloc(1, sizeof(*w->f));
    w->peer = calloc(1, sizeof(*w->peer));
    if (!w->f || !w->peer)
        abort();
    struct fleet *f = w->f;
    f->n_nodes = 3;
    f->nodes = calloc(3, sizeof(*f->nodes));
    w->peer->n_nodes = 3;
    w->peer->nodes = calloc(3, sizeof(*w->peer->nodes));
    if (!f->nodes || !w->peer->nodes)
        abort();
    for (int i = 0; i < 3; i++) {
        f->nodes[i].name[0] = 'n';
        f->nodes[i].name[1] = (char)('1' + i);
        f->nodes[i].live = true;
    }
    f->self = 0;
    f->p.stale_after = 3.0;
    f->p.quorum = (struct fleet_quorum){.kind = FLEET_QUORUM_MAJORITY};
    w->now = deadline_mono();
    /* etcd takes this node's heartbeats: its view is current. */
    f->ever_synced = true;
    f->fresh_at = w->now;
}

static void world_free(struct world *w)
{
    fleet_stamped_free(w->f);
    free(w->f->nodes);
    free(w->peer->nodes);
    free(w->peer);
    free(w->f);
}

/* Peer idx's heartbeats map its wall clock onto this node's mono clock
 * with offset off (its wall minus this node's mono). */
static void set_offset(struct world *w, int idx, double off)
{
    w->f->nodes[idx].beat_off =
        (struct fleet_decide_stamped_offset){.have = true, .off = off, .at = w->now};
}

static void add_obs(struct world *w, int k, int idx, uint8_t state, double t)
{
    w->obs[k] =
        (struct fleet_obs){.node = (uint16_t)idx, .state = state, .t = t, .next = w->ep.obs};
    w->ep.obs = &w->obs[k];
}

/* Equal but for the rounding of wall-clock stamps near 1.8e9 s (a double
 * holds them to about 2.4e-7 s). */
static bool near(double a, double b)
{
    return fabs(a - b) < 1e-5;
}

static void decide(struct world *w, struct fleet_decide_stamped_in *in,
                   struct fleet_decide_stamped_out *out)
{
    fleet_stamped_decide_locked(w->f, &w->ep, in, out);
}

/* The etcd channel alone (no direct channel): the newest report of each
 * peer, as of its "t" in this node's clock; a peer without a report, one
 * not live and this node are not inputs. */
static void test_etcd_reports(struct tap *t)
{
    struct world w;
    world_init(&w);
    const double off = 1.8e9; /* wall - mono */
    set_offset(&w, 1, off);
    set_offset(&w, 2, off + 0.25); /* n3's clock a quarter second ahead */
    add_obs(&w, 0, 1, HEALTH_UP, off + w.now - 5.0);
    add_obs(&w, 1, 1, HEALTH_DOWN, off + w.now - 0.3); /* n2's newer report */
    add_obs(&w, 2, 2, HEALTH_DOWN, off + 0.25 + w.now - 0.2);
    add_obs(&w, 3, 0, HEALTH_UP, off + w.now); /* this node's own: not a peer */
    w.f->nodes[1].heard = w.now - 0.1;
    w.f->nodes[1].news_at = w.now - 0.3;
    struct fleet_decide_stamped_in in;
    struct fleet_decide_stamped_out out;
    decide(&w, &in, &out);
    TAP_CHECK(t, in.n_peers == 2 && w.f->st_nodes[0] == 1 && w.f->st_nodes[1] == 2,
              "two peers gathered, in node order, this node's own report left out (%zu)",
              in.n_peers);
    TAP_CHECK(t, in.peers[0].etcd.state == HEALTH_DOWN && near(in.peers[0].etcd.as_of, w.now - 0.3),
              "n2: its newest report (down), as of its t in this node's clock (%.3f ago)",
              w.now - in.peers[0].etcd.as_of);
    TAP_CHECK(t, near(in.peers[1].etcd.as_of, w.now - 0.2),
              "n3: its stamp corrected by its own offset (%.3f ago)",
              w.now - in.peers[1].etcd.as_of);
    TAP_CHECK(t, in.peers[0].direct.state == 0 && in.peers[0].direct.as_of == 0,
              "no direct channel: no direct news");
    TAP_CHECK(t, near(in.peers[0].news_at, w.now - 0.3), "news_at is the node's");
    TAP_CHECK(t, in.peers[1].heard == in.now && in.peers[0].heard >= in.now,
              "etcd takes this node's heartbeats: every peer counts as heard now (or later)");
    TAP_CHECK(t, in.now >= w.now && in.now < w.now + SLACK_S, "now read inside (%.6f s later)",
              in.now - w.now);
    TAP_CHECK(t,
              in.quorum.kind == FLEET_QUORUM_MAJORITY && in.stale_after == 3.0 &&
                  in.alive_s == ALIVE_S,
              "quorum, stale_after and alive_s from the fleet");

    /* etcd no longer current: a peer without the channel is reachable
     * while its heartbeats arrive within FLEET_SILENT_S, which the rule
     * asks as now - heard <= alive_s: heard shifted by the difference. */
    w.f->fresh_at = w.now - 2.0;
    decide(&w, &in, &out);
    TAP_CHECK(t, near(in.peers[0].heard, w.now - 0.1 + FLEET_SILENT_S - ALIVE_S),
              "view not current: n2's heartbeat time shifted by FLEET_SILENT_S - alive_s");
    TAP_CHECK(t, in.peers[1].heard == 0, "n3, never heard: 0");
    TAP_CHECK(t, w.f->st_heard[0] == w.now - 0.1, "status shows n2's real heartbeat time");

    w.f->nodes[2].live = false;
    decide(&w, &in, &out);
    TAP_CHECK(t, in.n_peers == 1 && w.f->st_nodes[0] == 1, "a peer whose key is gone: no input");
    world_free(&w);
}

/* A heartbeat vouches for the reports it names: as of its as_of once this
 * node holds them (rrev_held >= rrev) and its probe did not move since
 * (not pending); else as of the report's own t. */
static void test_heartbeat_vouches(struct tap *t)
{
    struct world w;
    world_init(&w);
    const double off = 1000.0;
    set_offset(&w, 1, off);
    add_obs(&w, 0, 1, HEALTH_UP, off + w.now - 2.0);
    struct fleet_node *n = &w.f->nodes[1];
    n->beat_stamp = (struct fleet_stamp_beat){
        .have = true, .as_of = off + w.now - 0.1, .rrev = 7, .pending = false};
    n->rrev_held = 7;
    struct fleet_decide_stamped_in in;
    struct fleet_decide_stamped_out out;
    decide(&w, &in, &out);
    TAP_CHECK(t, near(in.peers[0].etcd.as_of, w.now - 0.1),
              "held report, heartbeat not pending: as of the heartbeat (%.3f ago)",
              w.now - in.peers[0].etcd.as_of);
    n->rrev_held = 6;
    decide(&w, &in, &out);
    TAP_CHECK(t, near(in.peers[0].etcd.as_of, w.now - 2.0),
              "report 7 not held yet: as of the report's t (%.3f ago)",
              w.now - in.peers[0].etcd.as_of);
    n->rrev_held = 7;
    n->beat_stamp.pending = true;
    decide(&w, &in, &out);
    TAP_CHECK(t, near(in.peers[0].etcd.as_of, w.now - 2.0),
              "heartbeat pending (its probe moved since): as of the report's t");
    n->beat_stamp.pending = false;
    n->beat_stamp.as_of = off + w.now - 3.0;
    decide(&w, &in, &out);
    TAP_CHECK(t, near(in.peers[0].etcd.as_of, w.now - 2.0),
              "a heartbeat older than the report never makes it older");
    n->beat_off.have = false;
    decide(&w, &in, &out);
    TAP_CHECK(t, in.peers[0].etcd.state == HEALTH_UP && in.peers[0].etcd.as_of == 0,
              "no offset measured yet: the stamp cannot be mapped (as_of 0)");
    world_free(&w);
}

/* The direct channel: a peer's state of this run (gen), as of the later
 * of its change and the peer's "all current as of"; heard when its last
 * datagram came; its news time the later of etcd's and the channel's. */
static void test_direct_channel(struct tap *t)
{
    struct world w;
    world_init(&w);
    w.f->peer = w.peer;
    w.f->fresh_at = w.now - 2.0; /* etcd not current: the channel's times stand */
    w.f->nodes[1].news_at = w.now - 1.0;
    struct fleet_peer_node *pn = &w.peer->nodes[1];
    pn->has_addr = true;
    pn->heard = w.now - 0.05;
    pn->current_as_of = w.now - 0.08;
    pn->gen = 2;
    w.direct[0] =
        (struct fleet_peer_ep){.node = 1, .state = HEALTH_DOWN, .gen = 2, .since = w.now - 0.4};
    w.ep.direct = &w.direct[0];
    struct fleet_decide_stamped_in in;
    struct fleet_decide_stamped_out out;
    decide(&w, &in, &out);
    TAP_CHECK(t, in.n_peers == 1, "a peer heard only directly is an input");
    TAP_CHECK(
        t, in.peers[0].direct.state == HEALTH_DOWN && near(in.peers[0].direct.as_of, w.now - 0.08),
        "its direct state, as of its current_as_of (later than its change)");
    TAP_CHECK(t, in.peers[0].etcd.state == 0 && in.peers[0].etcd.as_of == 0,
              "no etcd report: no etcd news");
    TAP_CHECK(t, near(in.peers[0].heard, w.now - 0.05) && near(in.peers[0].news_at, w.now - 0.05),
              "heard and news_at: its last datagram");
    pn->current_as_of = w.now - 0.6;
    decide(&w, &in, &out);
    TAP_CHECK(t, near(in.peers[0].direct.as_of, w.now - 0.4),
              "current_as_of before the change: as of the change");
    w.direct[0].gen = 1; /* a state of its previous run */
    decide(&w, &in, &out);
    TAP_CHECK(t, in.n_peers == 0, "a state of the peer's previous run, no report: no input");
    set_offset(&w, 1, 0.0);
    add_obs(&w, 0, 1, HEALTH_UP, w.now - 1.0);
    decide(&w, &in, &out);
    TAP_CHECK(t,
              in.n_peers == 1 && in.peers[0].direct.as_of == 0 &&
                  near(in.peers[0].heard, w.now - 0.05),
              "with a report: etcd news only, still heard directly");
    pn->heard = 0; /* the channel is there but nothing came */
    decide(&w, &in, &out);
    TAP_CHECK(t, in.peers[0].heard == 0 && w.f->st_heard[0] == 0,
              "a channel never heard from: not heard (not its heartbeats' time)");
    w.f->fresh_at = w.now;
    decide(&w, &in, &out);
    TAP_CHECK(t, in.peers[0].heard >= w.now && w.f->st_heard[0] == 0,
              "etcd takes this node's heartbeats: heard now for the rule, 0 shown");
    world_free(&w);
}

/* This node's side: its probe's state, when it moved, when it last ran
 * (the slot's ran_at in this clock), its check's interval and fall x
 * interval; the defaults without a slot or a result. */
static void test_own_probe(struct tap *t)
{
    struct world w;
    world_init(&w);
    struct fleet_decide_stamped_in in;
    struct fleet_decide_stamped_out out;
    decide(&w, &in, &out);
    TAP_CHECK(t,
              in.self.own == HEALTH_UNKNOWN && in.self.ran == 0 && in.allow_s == 0.5 &&
                  in.interval_s == 0.25,
              "no slot: no probe, the defaults 0.5 s and 0.25 s");
    TAP_CHECK(t, out.verdict == HEALTH_UNKNOWN, "nobody reports it: no verdict");
    /* interval 200 ms, fall 3, ran 0.1 s ago: allow 0.6 s. */
    int64_t ran = health_mono_ms() - 100;
    atomic_store(&w.slot.ran_at_ms, ran | ((int64_t)200 << HEALTH_RAN_BITS) | ((int64_t)3 << 56));
    atomic_store(&w.slot.effective, (uint8_t)HEALTH_DOWN);
    w.ep.slot = &w.slot;
    w.ep.local = true;
    w.ep.own_since = w.now - 0.7;
    w.ep.verdict = HEALTH_UP;
    decide(&w, &in, &out);
    TAP_CHECK(t,
              in.self.own == HEALTH_DOWN && near(in.self.own_since, w.now - 0.7) &&
                  in.self.served == HEALTH_UP,
              "the probe's state, when it moved, what the node serves");
    TAP_CHECK(t, near(in.allow_s, 0.6) && near(in.interval_s, 0.2),
              "fall x interval and interval from the slot (%.3f, %.3f)", in.allow_s, in.interval_s);
    TAP_CHECK(t, fabs(in.self.ran - (in.now - 0.1)) < SLACK_S,
              "ran, in this clock: %.3f s before now", in.now - in.self.ran);
    w.ep.local = false;
    decide(&w, &in, &out);
    TAP_CHECK(t, in.self.own == HEALTH_UNKNOWN, "an endpoint this node no longer checks: no probe");
    world_free(&w);
}

/* Gathered and decided: this node and both peers down, current: down;
 * the peers' ups from before this node's probe moved, heard: held up. */
static void test_verdicts(struct tap *t)
{
    struct world w;
    world_init(&w);
    int64_t ran = health_mono_ms() - 50;
    atomic_store(&w.slot.ran_at_ms, ran | ((int64_t)250 << HEALTH_RAN_BITS) | ((int64_t)2 << 56));
    atomic_store(&w.slot.effective, (uint8_t)HEALTH_DOWN);
    w.ep.slot = &w.slot;
    w.ep.local = true;
    w.ep.own_since = w.now - 0.3;
    w.ep.verdict = HEALTH_UP;
    for (int i = 1; i < 3; i++) {
        set_offset(&w, i, 50.0);
        w.f->nodes[i].news_at = w.now - 0.1;
    }
    add_obs(&w, 0, 1, HEALTH_DOWN, 50.0 + w.now - 0.1);
    add_obs(&w, 1, 2, HEALTH_DOWN, 50.0 + w.now - 0.1);
    struct fleet_decide_stamped_in in;
    struct fleet_decide_stamped_out out;
    decide(&w, &in, &out);
    TAP_CHECK(t, out.verdict == HEALTH_DOWN && out.serve == HEALTH_DOWN && out.down == 3,
              "all three down: down (%u down, %u up)", out.down, out.up);
    w.obs[0].state = w.obs[1].state = HEALTH_UP;
    w.obs[0].t = w.obs[1].t = 50.0 + w.now - 1.0; /* before the probe moved */
    decide(&w, &in, &out);
    TAP_CHECK(t, out.serve == HEALTH_UP && !out.cut_off,
              "peers' ups from before the move, etcd current: served up (serve %d)",
              (int)out.serve);
    world_free(&w);
}

int main(void)
{
    struct tap t = {0, 0};
    test_etcd_reports(&t);
    test_heartbeat_vouches(&t);
    test_direct_channel(&t);
    test_own_probe(&t);
    test_verdicts(&t);
    return tap_done(&t);
}

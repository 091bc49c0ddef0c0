/*
 * fleet_stamped.c -- the live verdict under the stamped rule (issue #54;
 * doc/fleet.md "The live verdict"): gathers the inputs of
 * fleet_decide_stamped (fleet_decide_stamped.h) for one endpoint under
 * f->lock, says how each peer counted and why, and recomputes the verdicts
 * that time alone can move (a peer no longer heard, news gone stale).
 *
 * Inputs, per peer that reported the endpoint through either channel:
 *   - etcd: its report's state as of its "t" (when its probe ran), or as of
 *     its last heartbeat's as_of once this node holds the report the
 *     heartbeat names (rrev_held >= rrev) and the heartbeat is not pending;
 *     the writer's wall clock mapped into this node's monotonic clock
 *     through the offset of its heartbeats (fleet_node.beat_off);
 *   - direct: the peer channel's evidence (fleet_peer_evidence_locked);
 *   - heard: when the peer was last heard directly. A peer without the
 *     channel (an older node, or peer_listen: false on either side) is
 *     judged on etcd alone, as the simulator's stamped_etcd: heard while
 *     its heartbeats arrive within FLEET_SILENT_S.
 * This node: its probe's state, when it moved, when it last ran, what it
 * serves; and whether etcd vouches that it is not cut off
 * (fleet_decide_stamped_vouched): once no peer is heard directly for
 * FLEET_STAMPED_CHECK_S, the decision tick sends heartbeats ahead of
 * their schedule to ask (fleet_stamped_check). The election polls, the
 * silent and rejoining flags and FLEET_REJOIN_S are not inputs: they are
 * the gaps rule's (fleet_decide.h, kept for "decision": "gaps").
 *
 * Threads: the fleet thread computes (and the admin thread, for
 * /v1/status, under f->lock); the scratch arrays are f's, under f->lock.
 */
#include <event2/event.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fleet/fleet_int.h"
#include "fleet/fleet_peer.h"
#include "fleet/fleet_quorum.h"

/* Before a check has given a result its interval is unknown: the rule's
 * defaults then (fall 2 x 0.25 s; "ran" is 0 anyway, so only allow_s
 * matters, and only once the probe says down, which needs a result). */
#define FLEET_STAMPED_ALLOW_DEFAULT_S 0.5
#define FLEET_STAMPED_INTERVAL_DEFAULT_S 0.25
/* A peer heard directly this recently is reachable: 3.5 of the channel's
 * datagrams (FLEET_PEER_TICK_S), so two lost in a row do not make a node
 * think itself cut off (the simulator's SIM_ALIVE_S, proven there). */
#define FLEET_STAMPED_ALIVE_S 0.35
/* The clock of the verdicts time moves: twice per FLEET_PEER_TICK_S, so a
 * peer no longer heard is noticed within 0.05 s of alive_s. */
#define FLEET_STAMPED_TICK_S 0.05
static void fleet_stamped_grow(struct fleet *f, size_t n)
{
    if (n <= f->st_cap)
        return;
    f->st_peers = realloc(f->st_peers, n * sizeof(*f->st_peers));
    f->st_how = realloc(f->st_how, n * sizeof(*f->st_how));
    f->st_nodes = realloc(f->st_nodes, n * sizeof(*f->st_nodes));
    f->st_heard = realloc(f->st_heard, n * sizeof(*f->st_heard));
    if (!f->st_peers || !f->st_how || !f->st_nodes || !f->st_heard)
        abort();
    f->st_cap = n;
}

/* Node idx's newest report on ep (by its "t"; a node moving between key
 * layouts may have one of each), NULL when none. */
static const struct fleet_obs *fleet_stamped_obs(const struct fleet_ep *ep, uint16_t idx)
{
    const struct fleet_obs *best = NULL;
    for (const struct fleet_obs *o = ep->obs; o; o = o->next)
        if (o->node == idx && (!best || o->t > best->t))
            best = o;
    return best;
}

/* The etcd channel's news of node n's probe on ep: o's state, as of its
 * "t" or the heartbeat's as_of that vouches for it. */
static struct fleet_decide_stamped_news fleet_stamped_etcd(const struct fleet_node *n,
                                                           const struct fleet_obs *o)
{
    if (!o)
        return (struct fleet_decide_stamped_news){0};
    double as_of = o->t;
    const struct fleet_stamp_beat *b = &n->beat_stamp;
    if (b->have && !b->pending && n->rrev_held >= b->rrev && b->as_of > as_of)
        as_of = b->as_of;
    return (struct fleet_decide_stamped_news){o->state,
                                              fleet_decide_stamped_map(&n->beat_off, as_of)};
}

/* Peer idx's inputs on ep; false when it has told nothing of ep. */
static bool fleet_stamped_peer_of(const struct fleet *f, const struct fleet_ep *ep, uint16_t idx,
                                  struct fleet_decide_stamped_peer *p)
{
    const struct fleet_node *n = &f->nodes[idx];
    const struct fleet_obs *o = fleet_stamped_obs(ep, idx);
    struct fleet_peer_evidence ev;
    bool direct = fleet_peer_evidence_locked(f, ep, idx, &ev);
    bool direct_state = direct && (ev.state == HEALTH_UP || ev.state == HEALTH_DOWN);
    if (!o && !direct_state)
        return false;
    *p =
        (struct fleet_decide_stamped_peer){.etcd = fleet_stamped_etcd(n, o), .news_at = n->news_at};
    if (direct_state) {
        double as_of = ev.current_as_of > ev.since ? ev.current_as_of : ev.since;
        p->direct = (struct fleet_decide_stamped_news){ev.state, as_of};
        if (ev.heard > p->news_at)
            p->news_at = ev.heard;
    }
    if (fleet_peer_channel_locked(f, idx))
        p->heard = direct ? ev.heard : 0;
    else if (n->heard > 0)
        /* etcd alone (stamped_etcd): reachable while its heartbeats arrive
         * within FLEET_SILENT_S. The rule judges now - heard <= alive_s;
         * shifting heard by the difference asks exactly that. */
        p->heard = n->heard + (FLEET_SILENT_S - FLEET_STAMPED_ALIVE_S);
    return true;
}

/* This node's side of the inputs (caller holds f->lock). */
static void fleet_stamped_in_of(const struct fleet *f, const struct fleet_ep *ep,
                                struct fleet_decide_stamped_in *in)
{
    const struct health_slot *s = ep->local ? ep->slot : NULL;
    double now = deadline_mono();
    uint32_t allow = s ? health_slot_allow_ms(s) : 0, every = s ? health_slot_interval_ms(s) : 0;
    int64_t ran = s ? health_slot_ran_at(s) : 0;
    *in = (struct fleet_decide_stamped_in){
        .quorum = f->p.quorum,
        .allow_s = allow ? allow / 1000.0 : FLEET_STAMPED_ALLOW_DEFAULT_S,
        .interval_s = every ? every / 1000.0 : FLEET_STAMPED_INTERVAL_DEFAULT_S,
        .stale_after = f->p.stale_after,
        .alive_s = FLEET_STAMPED_ALIVE_S,
        .now = now,
        /* ran: health_mono_ms is CLOCK_MONOTONIC too (coarse), read in
         * this clock through the difference of the two readings. */
        .self = {.own = s ? (uint8_t)health_slot_probe(s) : HEALTH_UNKNOWN,
                 .own_since = ep->own_since,
                 .ran = ran > 0 ? now - (double)(health_mono_ms() - ran) / 1000.0 : 0,
                 .served = ep->verdict}};
}

static const struct fleet_decide_stamped_reach fleet_stamped_reach = {
    .check_s = FLEET_STAMPED_CHECK_S,
    .until_s = FLEET_STAMPED_CHECK_UNTIL_S,
    .out_s = FLEET_STAMPED_OUT_S,
    .blind_s = FLEET_BLIND_S,
    .view_max_s = FLEET_STAMPED_VIEW_MAX_S};

/* What this node knows of its etcd session (caller holds f->lock). */
static struct fleet_decide_stamped_session fleet_stamped_session_locked(const struct fleet *f,
                                                                        double now)
{
    return (struct fleet_decide_stamped_session){.synced = f->ever_synced && !f->degraded,
                                                 .fresh_at = f->fresh_at,
                                                 .beat_out = f->beat_out,
                                                 .heard_any = fleet_peer_heard_any_locked(f),
                                                 .now = now};
}

/* Whether etcd vouches that this node is not cut off (doc/fleet.md "The
 * cut node's bound"; caller holds f->lock). */
static bool fleet_stamped_view_current_locked(const struct fleet *f, double now)
{
    struct fleet_decide_stamped_session ses = fleet_stamped_session_locked(f, now);
    return fleet_decide_stamped_vouched(&ses, &fleet_stamped_reach);
}

/* Whether this node is cut off now, judged over every live peer (not one
 * endpoint's reporters, so that the cut's end is one moment for all
 * endpoints): etcd does not vouch for it and it hears no peer, directly
 * within FLEET_STAMPED_ALIVE_S or, for a peer without the channel, by
 * heartbeats within FLEET_SILENT_S (caller holds f->lock). */
static bool fleet_stamped_cut_off_locked(const struct fleet *f, double now, bool vouched)
{
    if (vouched)
        return false;
    double any = fleet_peer_heard_any_locked(f);
    if (any > 0 && now - any <= FLEET_STAMPED_ALIVE_S)
        return false;
    bool peers = false;
    for (size_t i = 0; i < f->n_nodes; i++) {
        const struct fleet_node *n = &f->nodes[i];
        if (i == f->self || !n->live)
            continue;
        peers = true;
        if (!fleet_peer_channel_locked(f, (uint16_t)i) && n->heard > 0 &&
            now - n->heard <= FLEET_SILENT_S)
            return false;
    }
    return peers;
}

/* The stamped rule on ep: fills f's scratch (st_nodes[i] is the node of
 * the i-th peer, st_how[i] how it counted) and *out. */
void fleet_stamped_decide_locked(struct fleet *f, const struct fleet_ep *ep,
                                 struct fleet_decide_stamped_in *in,
                                 struct fleet_decide_stamped_out *out)
{
    fleet_stamped_grow(f, f->n_nodes ? f->n_nodes : 1);
    fleet_stamped_in_of(f, ep, in);
    size_t k = 0;
    for (size_t i = 0; i < f->n_nodes; i++) {
        if (i == f->self || !f->nodes[i].live)
            continue;
        if (fleet_stamped_peer_of(f, ep, (uint16_t)i, &f->st_peers[k]))
            f->st_nodes[k++] = (uint16_t)i;
    }
    /* A node whose own heartbeats come back through etcd (a quorum takes
     * its writes and its watch delivers them) is not cut off, whatever
     * the channel says: peers it cannot hear are starved, stopped or gone
     * (issue #39's false failover: both peers stopped as this node's
     * probe falls), and their ups from before its probe moved wait for
     * news (up to stale_after) instead of yielding to its probe. A node
     * cut off with the etcd leader, or from etcd, loses that within
     * FLEET_BLIND_S of its last acknowledged heartbeat. The peers' own
     * times stay in st_heard for status. */
    bool vouched = fleet_stamped_view_current_locked(f, in->now);
    for (size_t i = 0; i < k; i++) {
        /* Shown as heard: a peer without the channel, its last heartbeat
         * (not the shifted time fleet_stamped_peer_of passes the rule). */
        f->st_heard[i] = fleet_peer_channel_locked(f, f->st_nodes[i])
                             ? f->st_peers[i].heard
                             : f->nodes[f->st_nodes[i]].heard;
        if (vouched && f->st_peers[i].heard < in->now)
            f->st_peers[i].heard = in->now;
    }
    fleet_decide_stamped_cut_note(&f->st_cut, fleet_stamped_cut_off_locked(f, in->now, vouched),
                                  in->now);
    in->cut_end = f->st_cut.end;
    in->peers = f->st_peers;
    in->n_peers = k;
    fleet_decide_stamped(in, out, f->st_how);
}

/* The explanation: the quorum's sentence, then the peers that did not
 * count as sent, each with its reason, and whether it held. */
static void fleet_stamped_explain(const struct fleet *f, const struct fleet_decide_stamped_in *in,
                                  const struct fleet_decide_stamped_out *out, char *why, size_t len)
{
    const char *downs[64], *ups[64];
    size_t nd = 0, nu = 0;
    if (in->self.own == HEALTH_DOWN)
        downs[nd++] = f->p.node;
    else if (in->self.own == HEALTH_UP)
        ups[nu++] = f->p.node;
    char other[160] = "";
    for (size_t i = 0; i < in->n_peers; i++) {
        const struct fleet_decide_stamped_how *h = &f->st_how[i];
        const char *name = f->nodes[f->st_nodes[i]].name;
        if (h->state == HEALTH_DOWN && nd < 64)
            downs[nd++] = name;
        else if (h->state == HEALTH_UP && nu < 64)
            ups[nu++] = name;
        if (h->count != FLEET_STAMPED_AS_SENT) {
            size_t l = strlen(other);
            snprintf(other + l, sizeof(other) - l, "%s%s %s (%s)", l ? ", " : "", name,
                     fleet_decide_stamped_count_name(h->count),
                     fleet_decide_stamped_why_name(h->why));
        }
    }
    fleet_quorum_explain(out->verdict, downs, nd, ups, nu, why, len);
    size_t l = strlen(why);
    if (other[0] && l < len)
        snprintf(why + l, len - l, " [%s]", other);
    l = strlen(why);
    if (out->held && l < len)
        snprintf(why + l, len - l, " [held: the undetermined could swing it]");
    l = strlen(why);
    if (out->cut_off && in->self.own == HEALTH_DOWN && l < len)
        snprintf(why + l, len - l,
                 " [no peer heard directly for %.2f s and etcd not current: this node is cut "
                 "off]",
                 in->alive_s);
}

enum health_state fleet_stamped_verdict_locked(struct fleet *f, const struct fleet_ep *ep,
                                               char *why, size_t len)
{
    struct fleet_decide_stamped_in in;
    struct fleet_decide_stamped_out out;
    fleet_stamped_decide_locked(f, ep, &in, &out);
    if (why)
        fleet_stamped_explain(f, &in, &out, why, len);
    /* Nobody reports it: no fleet verdict (the slot then serves its own
     * probe), as under the gaps rule. */
    if (out.verdict == HEALTH_UNKNOWN && !out.held)
        return HEALTH_UNKNOWN;
    return (enum health_state)out.serve;
}

static json_t *fleet_stamped_ago(double now, double t)
{
    return t > 0 ? json_real(round((now - t) * 1000) / 1000) : json_null();
}

json_t *fleet_stamped_view_locked(struct fleet *f, const struct fleet_ep *ep)
{
    struct fleet_decide_stamped_in in;
    struct fleet_decide_stamped_out out;
    fleet_stamped_decide_locked(f, ep, &in, &out);
    json_t *peers = json_array();
    for (size_t i = 0; i < in.n_peers; i++) {
        const struct fleet_decide_stamped_how *h = &f->st_how[i];
        const struct fleet_decide_stamped_peer *p = &in.peers[i];
        const char *st = h->state == HEALTH_UP ? "up" : h->state == HEALTH_DOWN ? "down" : NULL;
        json_array_append_new(peers,
                              json_pack("{s:s, s:s, s:s, s:s?, s:o, s:o, s:o, s:b}", "node",
                                        f->nodes[f->st_nodes[i]].name, "count",
                                        fleet_decide_stamped_count_name(h->count), "why",
                                        fleet_decide_stamped_why_name(h->why), "state", st,
                                        "as_of_ago", fleet_stamped_ago(in.now, h->as_of),
                                        "news_ago", fleet_stamped_ago(in.now, p->news_at),
                                        "heard_ago", fleet_stamped_ago(in.now, f->st_heard[i]),
                                        "direct", fleet_peer_channel_locked(f, f->st_nodes[i])));
    }
    struct fleet_decide_stamped_session ses = fleet_stamped_session_locked(f, in.now);
    json_t *etcd =
        json_pack("{s:o, s:o, s:o}", "silent_ago", fleet_stamped_ago(in.now, ses.heard_any),
                  "taken_sent_ago", fleet_stamped_ago(in.now, ses.fresh_at), "out_since_ago",
                  fleet_stamped_ago(in.now, ses.beat_out));
    return json_pack("{s:s, s:b, s:o, s:s?, s:I, s:I, s:I, s:b, s:b, s:b, s:o, s:f, s:o}", "rule",
                     "stamped", "etcd_current",
                     fleet_decide_stamped_vouched(&ses, &fleet_stamped_reach), "etcd", etcd,
                     "serve",
                     out.serve == HEALTH_UP     ? "up"
                     : out.serve == HEALTH_DOWN ? "down"
                                                : NULL,
                     "up", (json_int_t)out.up, "down", (json_int_t)out.down, "undetermined",
                     (json_int_t)out.open, "held", out.held, "alone", out.alone, "cut_off",
                     out.cut_off, "cut_ended_ago", fleet_stamped_ago(in.now, in.cut_end), "allow_s",
                     in.allow_s, "peers", peers);
}

/* No peer heard for FLEET_STAMPED_CHECK_S: a heartbeat ahead of its
 * schedule asks etcd whether this node is the one cut off (fleet thread). */
static void fleet_stamped_check(struct fleet *f)
{
    double now = deadline_mono();
    pthread_mutex_lock(&f->lock);
    double heard = fleet_peer_heard_any_locked(f);
    pthread_mutex_unlock(&f->lock);
    double silent = now - heard;
    if (heard <= 0 || silent < FLEET_STAMPED_CHECK_S || silent > FLEET_STAMPED_CHECK_UNTIL_S)
        return;
    if (f->beat_check_at < heard + FLEET_STAMPED_CHECK_S ||
        now - f->beat_check_at >= FLEET_STAMPED_CHECK_S)
        fleet_beat_check(f, now);
}

/* The endpoints time alone can move: this node's probe says down (a
 * peer's up from before the move waits for newer news or for the node to
 * find itself cut off), or the fleet's verdict is not the probe's (peers'
 * downs going stale). Others move only with news, which recomputes them. */
static void fleet_stamped_on_tick(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    struct fleet *f = arg;
    if (f->degraded)
        return; /* own probes serve (fleet_set_degraded); recovery recomputes */
    fleet_stamped_check(f);
    fleet_batch_begin(f);
    for (size_t i = 0; i < f->n_local; i++) {
        struct fleet_ep *e = f->local[i];
        enum health_state own = e->slot ? health_slot_probe(e->slot) : HEALTH_UNKNOWN;
        if (own == HEALTH_DOWN || (enum health_state)e->verdict != own)
            fleet_recompute(f, e);
    }
    fleet_batch_end(f);
}

int fleet_stamped_start(struct fleet *f)
{
    if (f->p.decision != FLEET_DECISION_STAMPED)
        return 0;
    f->ev_decide = event_new(f->base, -1, EV_PERSIST, fleet_stamped_on_tick, f);
    struct timeval tv = {0, (suseconds_t)(FLEET_STAMPED_TICK_S * 1e6)};
    return f->ev_decide && evtimer_add(f->ev_decide, &tv) == 0 ? 0 : -1;
}

void fleet_stamped_free(struct fleet *f)
{
    if (f->ev_decide)
        event_free(f->ev_decide);
    f->ev_decide = NULL;
    free(f->st_peers);
    free(f->st_how);
    free(f->st_nodes);
    free(f->st_heard);
    f->st_heard = NULL;
    f->st_peers = NULL;
    f->st_how = NULL;
    f->st_nodes = NULL;
    f->st_cap = 0;
}

void fleet_stamped_news(struct fleet *f, struct fleet_ep *const *eps, size_t n)
{
    if (f->p.decision != FLEET_DECISION_STAMPED)
        return;
    fleet_batch_begin(f);
    for (size_t i = 0; i < n; i++)
        if (eps[i])
            fleet_recompute(f, eps[i]);
    fleet_batch_end(f);
}

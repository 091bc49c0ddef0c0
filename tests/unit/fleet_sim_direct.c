/*
 * fleet_sim_direct.c -- the stamped rule's inputs in the simulator
 * (fleet_sim.h, SIM_RULE_STAMPED; doc/fleet.md "Decision model and
 * simulator"): what a node knows of each peer's probe comes with the
 * writer's stamp of when that probe ran, through two channels, and is
 * judged by that stamp corrected by the measured clock offset, never by
 * when or how often it arrived.
 *
 *   - etcd: a heartbeat says when its writer's probe last ran (as_of),
 *     which report it last wrote (rseq) and whether its probe moved since
 *     (pending); once this node holds that report, the peer's reports are
 *     known current as of as_of.
 *   - a direct channel beside etcd (SWIM / Lifeguard style): every
 *     SIM_DIRECT_MS each node sends every peer a datagram with its probe's
 *     state and as_of, and what it heard directly of the others; a cut
 *     link drops it, 0-10% are lost, the links' delays apply, an etcd
 *     election or fsync stall does not.
 *
 * The rule itself is the product's: fleet_decide_stamped
 * (src/fleet/fleet_decide_stamped.h), called by sim_stamped_serve with this
 * node's view, and its offset estimator; this file only gathers the inputs.
 * SIM_RULE_STAMPED_ETCD runs the same rule without the direct channel: a
 * peer is reachable while its heartbeats arrive within FLEET_SILENT_S.
 * Everything lives in struct sim (fleet_sim_int.h); nothing is allocated.
 */
#include "fleet_sim_int.h"

/* Every node starts sending, each with its own phase; each run loses
 * 0-10% of the datagrams (UDP: nothing is resent). */
void sim_direct_start(struct sim *s)
{
    s->fx.direct_loss = sim_range(s, 0, 10);
    for (unsigned i = 0; i < s->n; i++)
        sim_push(s, sim_range(s, 1, SIM_DIRECT_MS), EV_DSEND, (uint8_t)i, 0, 0);
}

/* n sends every peer its probe: lost when n cannot send or the peer cannot
 * receive (the cut windows of the run cut the node from its peers too). */
void sim_direct_send(struct sim *s, unsigned n)
{
    struct sim_node *d = &s->nd[n];
    sim_push(s, s->now + SIM_DIRECT_MS, EV_DSEND, (uint8_t)n, 0, 0);
    sim_stamped_check(s, n);
    if (s->ndg >= SIM_DIRECT_MAX || sim_direct_cut(s, n, s->now, true))
        return;
    double wall = sim_wall(s, n);
    struct sim_dgram *g = &s->dg[s->ndg];
    *g = (struct sim_dgram){.sender = (uint8_t)n, .sent = wall};
    for (unsigned k = 0; k < s->n; k++) {
        g->state[k] = k == n ? d->own : d->d_state[k];
        g->as_of[k] = k == n ? wall - (double)(s->now - d->probe_at) / 1000.0 : d->d_as_of[k];
    }
    for (unsigned m = 0; m < s->n; m++) {
        if (m == n)
            continue;
        int64_t at = s->now + d->link + s->nd[m].link + sim_range(s, 0, s->fx.jitter);
        if (!sim_direct_cut(s, m, at, false) && sim_range(s, 1, 100) > s->fx.direct_loss)
            sim_push(s, at, EV_DRECV, (uint8_t)m, (int32_t)s->ndg, 0);
    }
    s->ndg++;
}

/* The offset of peer j from a message it sent at sent (its clock), received
 * now: the product's estimator (fleet_decide_stamped_offset_sample). */
void sim_stamped_offset(struct sim *s, unsigned n, unsigned j, double sent)
{
    fleet_decide_stamped_offset_sample(&s->nd[n].off[j], sent, sim_mono(s), SIM_OFFSET_KEEP_S,
                                       SIM_OFFSET_STEP_S);
}

void sim_direct_recv(struct sim *s, unsigned n, int32_t di)
{
    struct sim_node *d = &s->nd[n];
    const struct sim_dgram *g = &s->dg[di];
    unsigned j = g->sender;
    sim_stamped_offset(s, n, j, g->sent);
    d->d_heard[j] = sim_mono(s);
    for (unsigned k = 0; k < s->n; k++)
        if (k != n && g->as_of[k] > d->d_as_of[k]) {
            d->d_as_of[k] = g->as_of[k];
            d->d_state[k] = g->state[k];
            d->heard_new[k] = sim_mono(s);
        }
}

/* A heartbeat of a peer delivered by the watch: its reports are current as
 * of its as_of once this node holds the report it names. */
void sim_stamped_beat(struct sim *s, unsigned n, const struct sim_write *w)
{
    struct sim_node *d = &s->nd[n];
    unsigned j = w->writer;
    sim_stamped_offset(s, n, j, w->stamp);
    if (!w->pending && d->has_obs[j] && d->obs_seq[j] >= w->rseq && w->as_of > d->e_as_of[j]) {
        d->e_as_of[j] = w->as_of;
        d->heard_new[j] = sim_mono(s);
    }
}

/* A peer's report delivered by the watch: its state as of when its probe
 * moved (a report says its own time; a heartbeat may later extend it). */
void sim_stamped_report(struct sim *s, unsigned n, const struct sim_write *w)
{
    struct sim_node *d = &s->nd[n];
    d->e_as_of[w->writer] = w->as_of;
    d->heard_new[w->writer] = sim_mono(s);
}

/* When n last heard any peer directly (0: never). */
static double sim_heard_any(const struct sim *s, unsigned n)
{
    double last = 0;
    for (unsigned j = 0; j < s->n; j++)
        if (j != n && s->nd[n].d_heard[j] > last)
            last = s->nd[n].d_heard[j];
    return last;
}

/* The product's fleet_stamped_check, on the channel's clock (every
 * SIM_DIRECT_MS, twice the product's 0.05 s tick: the check goes out up to
 * 0.05 s later here than there, the slower side). */
void sim_stamped_check(struct sim *s, unsigned n)
{
    struct sim_node *d = &s->nd[n];
    double now = sim_mono(s), heard = sim_heard_any(s, n), silent = now - heard;
    if (s->rule != SIM_RULE_STAMPED || heard <= 0 || silent < FLEET_STAMPED_CHECK_S ||
        silent > FLEET_STAMPED_CHECK_UNTIL_S)
        return;
    if (d->beat_check_at >= heard + FLEET_STAMPED_CHECK_S &&
        now - d->beat_check_at < FLEET_STAMPED_CHECK_S)
        return;
    if (d->conn != CONN_SYNCED || d->beat_inflight)
        return;
    d->beat_check_at = now;
    d->next_beat = s->now + (int64_t)(FLEET_BEAT_S * 1000);
    sim_send(s, n, W_BEAT);
}

/* Whether etcd vouches that n is not cut off: the product's rule and
 * numbers (fleet_stamped.c). */
static bool sim_vouched(const struct sim *s, unsigned n)
{
    const struct sim_node *d = &s->nd[n];
    const struct fleet_decide_stamped_reach r = {FLEET_STAMPED_CHECK_S, FLEET_STAMPED_CHECK_UNTIL_S,
                                                 FLEET_STAMPED_OUT_S, FLEET_BLIND_S,
                                                 FLEET_STAMPED_VIEW_MAX_S};
    const struct fleet_decide_stamped_session ses = {.synced = d->ever_synced && !d->degraded,
                                                     .fresh_at = d->fresh_at,
                                                     .beat_out = d->beat_out,
                                                     .heard_any = sim_heard_any(s, n),
                                                     .now = sim_mono(s)};
    return fleet_decide_stamped_vouched(&ses, &r);
}

/* What n serves under the stamped rule: the product's fleet_decide_stamped
 * over n's view of its peers, their stamps mapped into n's monotonic clock
 * through their offsets. Under SIM_RULE_STAMPED_ETCD a peer is heard while
 * its heartbeats arrive within FLEET_SILENT_S. */
uint8_t sim_stamped_serve(struct sim *s, unsigned n)
{
    struct sim_node *d = &s->nd[n];
    bool etcd_only = s->rule == SIM_RULE_STAMPED_ETCD;
    struct fleet_decide_stamped_peer peers[SIM_N_MAX];
    size_t k = 0;
    /* As the product: a node whose heartbeats etcd takes is not cut off. */
    bool vouched = !etcd_only && sim_vouched(s, n);
    for (unsigned j = 0; j < s->n; j++) {
        if (j == n || (!d->has_obs[j] && d->d_as_of[j] <= 0))
            continue;
        const struct fleet_decide_stamped_offset *o = &d->off[j];
        peers[k++] = (struct fleet_decide_stamped_peer){
            .etcd = {d->obs_state[j], fleet_decide_stamped_map(o, d->e_as_of[j])},
            .direct = {d->d_state[j], fleet_decide_stamped_map(o, d->d_as_of[j])},
            .news_at = d->heard_new[j],
            .heard = etcd_only ? d->peer[j].heard : d->d_heard[j]};
        if (vouched && peers[k - 1].heard < sim_mono(s))
            peers[k - 1].heard = sim_mono(s);
    }
    struct fleet_decide_stamped_in in = {
        .quorum = s->quorum,
        .allow_s = SIM_ALLOW_S,
        .interval_s = SIM_INTERVAL_MS / 1000.0,
        .stale_after = SIM_STALE_S,
        .alive_s = etcd_only ? FLEET_SILENT_S : SIM_ALIVE_S,
        .now = sim_mono(s),
        .self = {.own = d->own,
                 .own_since = d->own_since,
                 .ran = d->probe_at > 0 ? (double)d->probe_at / 1000.0 : 0,
                 .served = d->served},
        .peers = peers,
        .n_peers = k};
    /* The cut's end, as the product keeps it (every peer reports the
     * simulator's one endpoint, so its peers are every live peer). */
    fleet_decide_stamped_cut_note(&d->cut, fleet_decide_stamped_cut_off(&in), in.now);
    in.cut_end = s->revert == SIM_REVERT_HEAL ? 0 : d->cut.end;
    struct fleet_decide_stamped_out out;
    fleet_decide_stamped(&in, &out, NULL);
    d->isolated = out.alone;
    return out.serve;
}

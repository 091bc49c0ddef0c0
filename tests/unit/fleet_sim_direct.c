/*
 * fleet_sim_direct.c -- the stamped rule, prototyped in the simulator
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
 * The rule, for this node n with its own probe p:
 *   - a peer's latest known state (the later of the two channels) counts
 *     as it is when it is down, or when p is not down, or when it is up as
 *     of at least SIM_ALLOW_S after p moved to down (the peer's probe would
 *     have seen a death by then: its up is evidence against p);
 *   - an up known only from before that is undetermined while the peer is
 *     reachable directly (its next datagram settles it), or while this
 *     node hears any peer; when this node hears no peer directly for
 *     SIM_ALIVE_S (it is the one cut off), it counts as p;
 *   - a peer with no news for stale_after counts as p when p ran recently,
 *     else it is undetermined;
 *   - when the undetermined peers could swing the quorum either way the
 *     node keeps what it serves (it never moves on a guess).
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
    if (s->ndg >= SIM_DIRECT_MAX || sim_cut_up(s, n, s->now))
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
        if (!sim_cut_down(s, m, at) && sim_range(s, 1, 100) > s->fx.direct_loss)
            sim_push(s, at, EV_DRECV, (uint8_t)m, (int32_t)s->ndg, 0);
    }
    s->ndg++;
}

/* The offset of peer j (its wall clock minus n's monotonic clock, so a jump
 * of n's own wall clock changes nothing) from a message it sent at sent
 * (its clock), received now: the largest recent sample, so a message
 * delivered late (a stall, this node starved) does not make the peer's
 * stamps look newer than they are; a smaller one is taken once the
 * largest is SIM_OFFSET_KEEP_S old (the peer's clock jumped back). */
void sim_stamped_offset(struct sim *s, unsigned n, unsigned j, double sent)
{
    struct sim_node *d = &s->nd[n];
    double now = sim_mono(s), sample = sent - now;
    if (!d->has_off[j] || sample >= d->off[j] - 0.02 || now - d->off_at[j] > SIM_OFFSET_KEEP_S) {
        if (!d->has_off[j] || sample > d->off[j] || now - d->off_at[j] > SIM_OFFSET_KEEP_S)
            d->off[j] = sample;
        d->off_at[j] = now;
        d->has_off[j] = true;
    }
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

enum { SIM_COUNT_UP, SIM_COUNT_DOWN, SIM_COUNT_OWN, SIM_COUNT_OPEN, SIM_COUNT_SILENT };

/* Whether n hears peer j: directly within SIM_ALIVE_S (etcd alone: a
 * heartbeat within FLEET_SILENT_S). */
static bool sim_stamped_reachable(const struct sim *s, unsigned n, unsigned j)
{
    const struct sim_node *d = &s->nd[n];
    double now = sim_mono(s);
    if (s->rule == SIM_RULE_STAMPED_ETCD)
        return d->peer[j].heard > 0 && now - d->peer[j].heard <= FLEET_SILENT_S;
    return d->d_heard[j] > 0 && now - d->d_heard[j] <= SIM_ALIVE_S;
}

/* How peer j's state counts for n (SIM_COUNT_*); *current: news of it
 * arrived within stale_after (liveness is the one thing judged by arrival:
 * a peer's clock that jumps back must not make it look gone). Its stamps,
 * less the offset, are in n's monotonic clock, as own_since is. */
static int sim_stamped_peer(const struct sim *s, unsigned n, unsigned j, bool *current)
{
    const struct sim_node *d = &s->nd[n];
    double now = sim_mono(s), off = d->has_off[j] ? d->off[j] : 0;
    uint8_t st = d->obs_state[j];
    double as_of = d->has_off[j] && d->e_as_of[j] > 0 ? d->e_as_of[j] - off : 0;
    if (d->has_off[j] && d->d_as_of[j] > 0 && d->d_as_of[j] - off > as_of) {
        as_of = d->d_as_of[j] - off;
        st = d->d_state[j];
    }
    bool fresh_own = d->probe_at > 0 && s->now - d->probe_at <= 2 * SIM_INTERVAL_MS;
    *current = as_of > 0 && d->heard_new[j] > 0 && now - d->heard_new[j] <= SIM_STALE_S;
    if (!*current)
        return fresh_own ? SIM_COUNT_OWN : SIM_COUNT_OPEN;
    if (st == HEALTH_DOWN)
        return SIM_COUNT_DOWN;
    if (d->own != HEALTH_DOWN || as_of >= d->own_since + SIM_ALLOW_S)
        return SIM_COUNT_UP;
    return sim_stamped_reachable(s, n, j) ? SIM_COUNT_OPEN : SIM_COUNT_SILENT;
}

/* What n serves under the stamped rule. */
uint8_t sim_stamped_serve(struct sim *s, unsigned n)
{
    struct sim_node *d = &s->nd[n];
    unsigned up = 0, down = 0, open = 0, silent = 0;
    bool any_current = false, any_reachable = false;
    if (d->own == HEALTH_DOWN)
        down++;
    else if (d->own == HEALTH_UP)
        up++;
    for (unsigned j = 0; j < s->n; j++) {
        if (j == n || (!d->has_obs[j] && d->d_as_of[j] <= 0))
            continue;
        bool current;
        int c = sim_stamped_peer(s, n, j, &current);
        any_current |= current;
        any_reachable |= sim_stamped_reachable(s, n, j);
        if (c == SIM_COUNT_OWN)
            c = d->own == HEALTH_DOWN ? SIM_COUNT_DOWN : SIM_COUNT_UP;
        up += c == SIM_COUNT_UP;
        down += c == SIM_COUNT_DOWN;
        open += c == SIM_COUNT_OPEN;
        silent += c == SIM_COUNT_SILENT;
    }
    /* A silent peer cannot outvote this node's probe when this node hears
     * no peer at all (it is the one cut off: its probe stands for them);
     * while it hears others, a lost datagram or a peer starved or gone is
     * more likely than a death its peers all missed: wait (stale_after
     * bounds it). */
    if (any_reachable)
        open += silent;
    else if (d->own == HEALTH_DOWN)
        down += silent;
    else
        up += silent;
    d->isolated = !any_current;
    enum health_state if_up = fleet_quorum_verdict(&s->quorum, up + open, down);
    enum health_state if_down = fleet_quorum_verdict(&s->quorum, up, down + open);
    if (if_up != if_down)
        return d->served; /* the undetermined peers decide: wait for them */
    return if_up == HEALTH_UNKNOWN ? d->own : (uint8_t)if_up;
}

/*
 * fleet_sim.c -- the deterministic fleet simulator (fleet_sim.h).
 *
 * Virtual time in ms; one event heap ordered by (time, sequence); one
 * seeded xoshiro256** stream; everything a run uses lives in one struct
 * sim allocated by fleet_sim_run and freed before it returns.
 *
 * What each node runs is a model of the real code, named where it mirrors
 * it: the probe (fall x interval), the publishing of its own report when
 * its probe changes (fleet_sync.c), the heartbeat every FLEET_BEAT_S and
 * its round trip through the watch (fleet_beat.c: fresh_at, blind, the
 * silent and rejoining peers, fleet_node_heard_locked and
 * fleet_rejoin_covers themselves), the status polls while a gap is open
 * (fleet_election.c), the resync after a failed call, degraded after
 * stale_after; and the decision is the real fleet_decide.
 * etcd is one ordered log: a write arrives after its link's delay, fails
 * during an election, commits in order (after an fsync stall when one
 * holds), and is delivered to every node's watch in order, after the
 * node's own link delay (held while that link is cut, then replayed from
 * the last revision, as the real watch resumes).
 */
#include "fleet_sim.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fleet_sim_int.h"

static const char *const sim_kind_name[] = {"beat",      "report",   "node",
                                            "lease_end", "override", "put"};

/* ---- randomness (splitmix64 seeds xoshiro256**) ---------------------- */

static uint64_t sim_splitmix(uint64_t *x)
{
    uint64_t z = (*x += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

static uint64_t sim_rotl(uint64_t x, int k)
{
    return (x << k) | (x >> (64 - k));
}

static uint64_t sim_next(struct sim *s)
{
    uint64_t *r = s->rng;
    uint64_t out = sim_rotl(r[1] * 5, 7) * 9, t = r[1] << 17;
    r[2] ^= r[0];
    r[3] ^= r[1];
    r[1] ^= r[2];
    r[0] ^= r[3];
    r[2] ^= t;
    r[3] = sim_rotl(r[3], 45);
    return out;
}

/* Uniform in [lo, hi]. */
int64_t sim_range(struct sim *s, int64_t lo, int64_t hi)
{
    return lo + (int64_t)(sim_next(s) % (uint64_t)(hi - lo + 1));
}

/* ---- trace, events ---------------------------------------------------- */

void sim_log(struct sim *s, int node, const char *fmt, ...)
{
    if (!s->trace || s->toff + 1 >= s->tlen)
        return;
    char line[256];
    int l = snprintf(line, sizeof(line), "%5lld.%03lld %-4s ", (long long)(s->now / 1000),
                     (long long)(s->now % 1000), node == SIM_ETCD ? "etcd" : "");
    if (node != SIM_ETCD)
        l = snprintf(line, sizeof(line), "%5lld.%03lld n%-3d ", (long long)(s->now / 1000),
                     (long long)(s->now % 1000), node);
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line + l, sizeof(line) - (size_t)l, fmt, ap);
    va_end(ap);
    size_t room = s->tlen - s->toff;
    int w = snprintf(s->trace + s->toff, room, "%s\n", line);
    if (w < 0 || (size_t)w >= room) {
        if (s->tlen >= 4)
            memcpy(s->trace + s->tlen - 4, "...", 4);
        s->toff = s->tlen;
        return;
    }
    s->toff += (size_t)w;
}

static bool sim_before(const struct sim_ev *a, const struct sim_ev *b)
{
    return a->t < b->t || (a->t == b->t && a->seq < b->seq);
}

void sim_push(struct sim *s, int64_t t, uint8_t type, uint8_t node, int32_t w, int32_t arg)
{
    if (s->nh >= SIM_HEAP_MAX) {
        s->overflow = true; /* bounded: the run ends, counted as an error */
        return;
    }
    struct sim_ev e = {.t = t, .seq = s->seq++, .type = type, .node = node, .w = w, .arg = arg};
    size_t i = s->nh++;
    while (i > 0 && sim_before(&e, &s->heap[(i - 1) / 2])) {
        s->heap[i] = s->heap[(i - 1) / 2];
        i = (i - 1) / 2;
    }
    s->heap[i] = e;
}

static struct sim_ev sim_pop(struct sim *s)
{
    struct sim_ev top = s->heap[0], last = s->heap[--s->nh];
    size_t i = 0;
    for (;;) {
        size_t c = 2 * i + 1;
        if (c >= s->nh)
            break;
        if (c + 1 < s->nh && sim_before(&s->heap[c + 1], &s->heap[c]))
            c++;
        if (!sim_before(&s->heap[c], &last))
            break;
        s->heap[i] = s->heap[c];
        i = c;
    }
    s->heap[i] = last;
    return top;
}

/* ---- clocks and links -------------------------------------------------- */

double sim_mono(const struct sim *s)
{
    return (double)s->now / 1000.0;
}

double sim_wall(const struct sim *s, unsigned n)
{
    const struct sim_node *d = &s->nd[n];
    int64_t t = s->now + d->skew + (s->now >= d->jump_at && s->now < d->jump_end ? d->jump : 0);
    return SIM_EPOCH + (double)t / 1000.0;
}

static int64_t sim_delay(struct sim *s, unsigned n)
{
    return s->nd[n].link + sim_range(s, 0, s->fx.jitter);
}

bool sim_cut_up(const struct sim *s, unsigned n, int64_t t)
{
    return s->fx.cut_node == (int)n && sim_in(&s->fx.cut_up, t);
}

bool sim_cut_down(const struct sim *s, unsigned n, int64_t t)
{
    return s->fx.cut_node == (int)n && sim_in(&s->fx.cut_down, t);
}

bool sim_direct_cut(const struct sim *s, unsigned n, int64_t t, bool up)
{
    const struct sim_win *w = up ? &s->fx.cut_up : &s->fx.cut_down;
    struct sim_win tail = {w->from, w->to + s->fx.direct_tail};
    return s->fx.cut_node == (int)n && w->to > w->from && sim_in(&tail, t);
}

static uint64_t sim_term(const struct sim *s, int64_t t)
{
    return s->fx.elect.to > s->fx.elect.from && t >= s->fx.elect.to ? 2 : 1;
}

/* ---- the node: served answer and the invariants checked on each move ---- */

void sim_violation(struct sim *s, int inv, const char *fmt, ...)
{
    static const char *const names[] = {"I1", "I2", "I4", "I3"};
    char msg[160];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    s->res->violations[inv]++;
    if (!s->res->first[0])
        snprintf(s->res->first, sizeof(s->res->first), "%s at %lld ms: %s", names[inv],
                 (long long)s->now, msg);
    sim_log(s, SIM_ETCD, "VIOLATION %s: %s", names[inv], msg);
}

/* The nodes whose probe says down, or said so less than SIM_REPORT_MS ago
 * (its "up" report may still be on its way: not yet a current report). */
static unsigned sim_probes_down(const struct sim *s)
{
    unsigned d = 0;
    for (unsigned i = 0; i < s->n; i++)
        d += s->nd[i].own == HEALTH_DOWN ||
             (s->nd[i].up_at > 0 && s->now - s->nd[i].up_at < SIM_REPORT_MS);
    return d;
}

/* What node n answers moved from was to now: I2 and I4 are judged here. */
static void sim_served_moved(struct sim *s, unsigned n, uint8_t was, uint8_t now)
{
    struct sim_node *d = &s->nd[n];
    sim_log(s, (int)n, "serves %s (was %s)%s", now == HEALTH_DOWN ? "down" : "up",
            was == HEALTH_DOWN ? "down" : "up",
            (s->rule != SIM_RULE_GAPS ? d->isolated : d->degraded) ? " alone: own probe" : "");
    unsigned needed = fleet_quorum_needed(&s->quorum, s->n);
    bool alone = s->rule != SIM_RULE_GAPS ? d->isolated : d->degraded;
    /* I2's exception, from the faults, not the node's belief: a node cut
     * both ways (from etcd and every peer's datagrams) reaches no quorum
     * and follows its own probe, as the campaign's I2-isolated. */
    if (s->rule == SIM_RULE_STAMPED && sim_cut_up(s, n, s->now) && sim_cut_down(s, n, s->now))
        alone = true;
    if (now == HEALTH_DOWN && s->alive && !alone && sim_probes_down(s) < needed)
        sim_violation(s, SIM_I2, "n%u moved to down with the backend alive, %u of %u probes down",
                      n, sim_probes_down(s), s->n);
    if (now == HEALTH_UP && !s->alive && d->left)
        sim_violation(s, SIM_I4, "n%u went back to the dead backend", n);
    if (now == HEALTH_DOWN && !s->alive) {
        d->left = true;
        if (d->flip_at < 0)
            d->flip_at = s->now;
    }
}

/* The inputs of fleet_decide from node n's state, as fleet_ep_verdict_locked
 * gathers them, and what n serves: the verdict, its own probe when there is
 * none or when it is degraded (fleet_set_degraded). */
static void sim_recompute(struct sim *s, unsigned n)
{
    struct sim_node *d = &s->nd[n];
    if (s->rule != SIM_RULE_GAPS) {
        uint8_t st = sim_stamped_serve(s, n);
        if (st != d->served) {
            uint8_t was = d->served;
            d->served = st;
            sim_served_moved(s, n, was, st);
        }
        return;
    }
    struct fleet_decide_report rep[SIM_N_MAX];
    size_t k = 0;
    for (unsigned j = 0; j < s->n; j++) {
        const struct fleet_node *p = &d->peer[j];
        if (j == n || !d->has_obs[j] || !p->live)
            continue;
        rep[k++] = (struct fleet_decide_report){.state = d->obs_state[j],
                                                .stamp = d->obs_stamp[j],
                                                .seq = d->obs_seq[j],
                                                .have_offset = p->have_offset,
                                                .offset = p->clock_offset,
                                                .heard = p->heard,
                                                .silent = p->silent,
                                                .quiet_from = p->quiet_from,
                                                .rejoining = p->rejoining,
                                                .back = p->back,
                                                .view_grace = p->view_grace};
        if (s->revert == SIM_REVERT_FLAP) /* no rejoin grace: heard again is current */
            rep[k - 1].rejoining = rep[k - 1].view_grace = false;
    }
    struct fleet_decide_in in = {.quorum = s->quorum,
                                 .stale_after = SIM_STALE_S,
                                 .now_mono = sim_mono(s),
                                 .now_wall = sim_wall(s, n),
                                 .self = {.own = d->own,
                                          .own_since = d->own_since,
                                          .blind = d->blind,
                                          .blind_from = d->blind_from,
                                          .blind_end = d->blind_end,
                                          .elect_at = d->elect_at},
                                 .reports = rep,
                                 .n_reports = k};
    /* Before issue #39's fix, a gap let a report stand in without an
     * election: as if one were shown at every moment. */
    if (s->revert == SIM_REVERT_FALSE_FAILOVER)
        in.self.elect_at = sim_mono(s);
    struct fleet_decide_out out;
    fleet_decide(&in, &out, NULL);
    uint8_t served = d->degraded || out.verdict == HEALTH_UNKNOWN ? d->own : (uint8_t)out.verdict;
    if (served != d->served) {
        uint8_t was = d->served;
        d->served = served;
        if (s->trace)
            sim_log(s, (int)n, "verdict %s: %u up, %u down, %u stood in",
                    out.verdict == HEALTH_DOWN ? "down" : "up", out.up, out.down, out.stood_in);
        sim_served_moved(s, n, was, served);
    }
}

/* ---- etcd ---------------------------------------------------------------- */

int32_t sim_write_new(struct sim *s, unsigned n, uint8_t kind)
{
    if (s->nw >= SIM_WRITES_MAX) {
        s->overflow = true;
        return -1;
    }
    struct sim_node *d = &s->nd[n];
    s->w[s->nw] =
        (struct sim_write){.writer = (uint8_t)n,
                           .kind = kind,
                           .state = d->own,
                           .stamp = sim_wall(s, n),
                           .seq = ++d->pub_seq,
                           .sent = s->now,
                           .gen = d->gen,
                           .as_of = sim_wall(s, n) - (double)(s->now - d->probe_at) / 1000.0,
                           .rseq = d->rep_seq,
                           .pending = d->own != d->rep_state};
    return (int32_t)s->nw++;
}

/* Delivers committed write wi to every node's watch, in order: a node whose
 * link from etcd is cut gets it once the link is back and its watch
 * resumed from its last revision. */
static void sim_deliver_all(struct sim *s, int32_t wi, int64_t ct)
{
    for (unsigned m = 0; m < s->n; m++) {
        struct sim_node *d = &s->nd[m];
        int64_t td = ct + sim_delay(s, m);
        if (sim_cut_down(s, m, ct) || sim_cut_down(s, m, td))
            td = s->fx.rewatch; /* the backlog comes in one go */
        if (td < d->last_deliver)
            td = d->last_deliver;
        d->last_deliver = td;
        sim_push(s, td, EV_DELIVER, (uint8_t)m, wi, 0);
    }
}

void sim_commit(struct sim *s, int32_t wi, int64_t t)
{
    struct sim_write *w = &s->w[wi];
    int64_t ct = t + sim_range(s, 1, 5);
    if (ct < s->last_commit)
        ct = s->last_commit;
    if (sim_in(&s->fx.stall, ct))
        ct = s->fx.stall.to + sim_range(s, 1, 5);
    s->last_commit = ct;
    w->rev = ++s->etcd_rev;
    w->ct = ct;
    w->term = sim_term(s, ct);
    if (w->kind == W_OVR || w->kind == W_OVR_PUT)
        sim_ovr_committed(s, wi); /* no keep-alive: an override is on no member's lease */
    else if (w->kind != W_LEASE_END) {
        s->last_keep[w->writer] = ct;
        s->lease_live[w->writer] = true;
    }
    sim_deliver_all(s, wi, ct);
    if (w->kind == W_NODE || w->kind == W_LEASE_END || w->kind == W_OVR_PUT)
        return;
    if (sim_cut_down(s, w->writer, ct))
        sim_push(s, w->sent + SIM_TIMEOUT_MS > ct ? w->sent + SIM_TIMEOUT_MS : ct, EV_REPLY,
                 w->writer, wi, 0);
    else
        sim_push(s, ct + sim_delay(s, w->writer), EV_REPLY, w->writer, wi, 1);
}

/* A write reached etcd: it fails during an election, else commits. */
static void sim_arrive(struct sim *s, int32_t wi)
{
    struct sim_write *w = &s->w[wi];
    if (sim_in(&s->fx.elect, s->now)) {
        int64_t back = s->now + sim_range(s, 20, 500);
        if (sim_cut_down(s, w->writer, back))
            back = w->sent + SIM_TIMEOUT_MS;
        sim_push(s, back, EV_REPLY, w->writer, wi, 0);
        return;
    }
    sim_commit(s, wi, s->now);
}

/* Node n sends a write: lost on a cut link (the call times out). */
int32_t sim_send(struct sim *s, unsigned n, uint8_t kind)
{
    int32_t wi = sim_write_new(s, n, kind);
    if (wi < 0)
        return -1;
    if (kind == W_BEAT) {
        s->nd[n].beat_inflight = true;
        if (s->nd[n].beat_out == 0)
            s->nd[n].beat_out = sim_mono(s);
    }
    if (kind == W_REPORT) {
        s->nd[n].rep_seq = s->w[wi].seq;
        s->nd[n].rep_state = s->w[wi].state;
    }
    sim_log(s, (int)n, "sends %s%s seq %llu", sim_kind_name[kind],
            kind == W_REPORT ? (s->nd[n].own == HEALTH_DOWN ? " down" : " up") : "",
            (unsigned long long)s->w[wi].seq);
    if (sim_cut_up(s, n, s->now))
        sim_push(s, s->now + (s->fx.cut_timeout ? s->fx.cut_timeout : SIM_TIMEOUT_MS), EV_REPLY,
                 (uint8_t)n, wi, 0);
    else
        sim_push(s, s->now + sim_delay(s, n), EV_ARRIVE, SIM_ETCD, wi, 0);
    return wi;
}

/* Leases end stale_after after their holder's last commit (keep-alive). */
static void sim_leases(struct sim *s)
{
    for (unsigned j = 0; j < s->n && !sim_in(&s->fx.elect, s->now); j++) {
        /* A new leader renews every lease (etcd's lessor Promote). */
        int64_t kept = s->last_keep[j];
        if (s->fx.elect.to > kept && s->now >= s->fx.elect.to)
            kept = s->fx.elect.to;
        if (!s->lease_live[j] || s->now - kept <= (int64_t)(SIM_STALE_S * 1000))
            continue;
        s->lease_live[j] = false;
        sim_log(s, SIM_ETCD, "lease of n%u ends", j);
        int32_t wi = sim_write_new(s, j, W_LEASE_END);
        if (wi >= 0)
            sim_commit(s, wi, s->now);
    }
    sim_push(s, s->now + 100, EV_LEASES, SIM_ETCD, 0, 0);
}

/* ---- the node's events ----------------------------------------------------- */

/* A reply's header carries a raft term (fleet_election_header). */
static void sim_term_seen(struct sim *s, unsigned n, uint64_t term)
{
    struct sim_node *d = &s->nd[n];
    if (term <= d->term_seen)
        return;
    if (d->term_seen > 0) {
        d->elect_at = sim_mono(s);
        sim_log(s, (int)n, "election shown: raft term %llu in a header", (unsigned long long)term);
    }
    d->term_seen = term;
}

/* fall x interval: the probe's state moves after SIM_FALL failures or
 * SIM_RISE successes in a row; a change is published at once. */
static void sim_probe(struct sim *s, unsigned n)
{
    struct sim_node *d = &s->nd[n];
    bool ok = s->alive && !(s->fx.local_node == (int)n && sim_in(&s->fx.local, s->now));
    d->probe_at = s->now;
    if (ok == (d->own == HEALTH_UP))
        d->run = 0;
    else if (++d->run >= (ok ? SIM_RISE : SIM_FALL)) {
        d->own = ok ? HEALTH_UP : HEALTH_DOWN;
        d->own_since = sim_mono(s);
        if (ok)
            d->up_at = s->now;
        d->run = 0;
        sim_log(s, (int)n, "probe says %s", ok ? "up" : "down");
        if (!ok && !s->alive && d->down_at < 0)
            d->down_at = s->now;
        if (d->conn == CONN_SYNCED)
            sim_send(s, n, W_REPORT);
    }
    sim_push(s, s->now + SIM_INTERVAL_MS, EV_PROBE, (uint8_t)n, 0, 0);
}

/* fleet_beat_mark_silent and fleet_beat_mark_blind_locked; true while a
 * gap is open. */
static bool sim_mark(struct sim *s, unsigned n)
{
    struct sim_node *d = &s->nd[n];
    double now = sim_mono(s);
    bool gap = false;
    for (unsigned i = 0; i < s->n; i++) {
        struct fleet_node *p = &d->peer[i];
        p->silent = i != n && p->heard > 0 && now - p->heard > FLEET_SILENT_S;
        p->rejoining =
            i != n && p->back > 0 && fleet_rejoin_covers(now - p->back, p->beats_back, SIM_STALE_S);
        gap |= p->silent && p->live;
    }
    bool blind = d->ever_synced && now - d->fresh_at > FLEET_BLIND_S;
    if (blind && !d->blind) {
        d->blind_from = d->fresh_at;
        sim_log(s, (int)n, "blind (view current as of %.3f)", d->blind_from);
    } else if (!blind && d->blind) {
        d->blind_end = now;
        for (unsigned i = 0; i < s->n; i++)
            d->peer[i].beats_view = 0;
        sim_log(s, (int)n, "view current again");
    }
    d->blind = blind;
    for (unsigned i = 0; i < s->n; i++)
        d->peer[i].view_grace =
            !blind && d->blind_end > 0 && i != n &&
            fleet_rejoin_covers(now - d->blind_end, d->peer[i].beats_view, SIM_STALE_S);
    return gap || blind;
}

/* The status calls while a gap is open (fleet_election_tick), one answer
 * standing for the URLs' judged together: a member cut off with the old
 * leader names itself until it steps down; reachable members show an
 * election while it runs, or a term above the highest seen; a node cut
 * from every member gets no answer (each URL out until its timeout). */
static void sim_poll(struct sim *s, unsigned n)
{
    struct sim_node *d = &s->nd[n];
    d->next_poll = s->now + (int64_t)(FLEET_ELECT_EVERY_S * 1000);
    d->poll_out = true;
    if (s->fx.leader_cut && sim_cut_up(s, n, s->now)) {
        sim_push(s, s->now + 5, EV_STATUS, (uint8_t)n, 1, s->now >= s->fx.stepdown);
        return;
    }
    if (sim_cut_up(s, n, s->now) || sim_cut_down(s, n, s->now)) {
        sim_push(s, s->now + SIM_TIMEOUT_MS, EV_STATUS, (uint8_t)n, 1, 0);
        return;
    }
    int64_t at = s->now + 2 * sim_delay(s, n);
    uint64_t term = sim_term(s, at);
    bool shown = sim_in(&s->fx.elect, at) || (d->term_seen > 0 && term > d->term_seen);
    sim_push(s, at, EV_STATUS, (uint8_t)n, (int32_t)term, shown);
}

static void sim_status(struct sim *s, unsigned n, uint64_t term, bool shown)
{
    struct sim_node *d = &s->nd[n];
    d->poll_out = false;
    if (shown) {
        d->elect_at = sim_mono(s);
        sim_log(s, (int)n, "election shown by the members' status");
    }
    if (term > d->term_seen)
        d->term_seen = term;
}

/* A sync attempt: keep-alive, node record, fresh read, each a round trip;
 * it fails on a cut link (not connected in FLEET_CONNECT_S) or during an
 * election. */
static void sim_sync(struct sim *s, unsigned n)
{
    struct sim_node *d = &s->nd[n];
    d->sync_out = true;
    if (sim_cut_up(s, n, s->now) || sim_cut_down(s, n, s->now)) {
        sim_push(s, s->now + (int64_t)(FLEET_CONNECT_S * 1000), EV_SYNCED, (uint8_t)n, 0, 0);
        return;
    }
    int64_t at = s->now + sim_delay(s, n);
    if (sim_in(&s->fx.elect, at)) {
        sim_push(s, at + sim_range(s, 20, 500), EV_SYNCED, (uint8_t)n, 0, 0);
        return;
    }
    int64_t took = 8 * s->nd[n].link + sim_range(s, 0, s->fx.sync_extra);
    sim_push(s, s->now + took, EV_SYNCED, (uint8_t)n, 0, 1);
}

static void sim_synced(struct sim *s, unsigned n, bool ok)
{
    struct sim_node *d = &s->nd[n];
    d->sync_out = false;
    if (!ok || d->conn == CONN_SYNCED)
        return;
    d->conn = CONN_SYNCED;
    d->gen++;
    d->next_beat = s->now;
    sim_log(s, (int)n, "synced again");
    if (s->ovr)
        sim_ovr_read(s, n); /* the fresh read: overrides become etcd's */
    int32_t wi = sim_write_new(s, n, W_NODE);
    if (wi >= 0)
        sim_commit(s, wi, s->now);
    sim_push(s, s->now + sim_range(s, 0, s->fx.pub_lag_max), EV_PUBLISH, (uint8_t)n, 0, 0);
}

static void sim_tick(struct sim *s, unsigned n)
{
    struct sim_node *d = &s->nd[n];
    if (sim_mark(s, n) && s->now >= d->next_poll && !d->poll_out)
        sim_poll(s, n);
    if (d->conn == CONN_SYNCING && !d->sync_out)
        sim_sync(s, n);
    if (d->conn == CONN_SYNCED && !d->beat_inflight && s->now >= d->next_beat) {
        d->next_beat = s->now + (int64_t)(FLEET_BEAT_S * 1000);
        sim_send(s, n, W_BEAT);
    }
    bool degraded = d->ever_synced && sim_mono(s) - d->fresh_at > SIM_STALE_S;
    if (degraded != d->degraded)
        sim_log(s, (int)n, degraded ? "degraded: own probes" : "recovered");
    d->degraded = degraded;
    sim_push(s, s->now + SIM_TICK_MS, EV_TICK, (uint8_t)n, 0, 0);
}

/* The watch delivered write wi (fleet_beat_seen, the reports' apply). */
static void sim_deliver(struct sim *s, unsigned n, int32_t wi)
{
    struct sim_node *d = &s->nd[n];
    const struct sim_write *w = &s->w[wi];
    if (w->rev > d->rev)
        d->rev = w->rev;
    sim_term_seen(s, n, w->term);
    if (w->kind == W_OVR || w->kind == W_OVR_PUT) {
        sim_ovr_deliver(s, n, wi);
        return;
    }
    if (w->writer == n) {
        if (d->beat_rev > 0 && d->rev >= d->beat_rev && d->beat_sent > d->fresh_at)
            d->fresh_at = d->beat_sent;
        return;
    }
    struct fleet_node *p = &d->peer[w->writer];
    p->live = w->kind != W_LEASE_END;
    if (w->kind == W_BEAT) {
        fleet_node_heard_locked(p, sim_mono(s));
        p->have_offset = true;
        p->clock_offset = w->stamp - sim_wall(s, n);
        sim_stamped_beat(s, n, w);
    } else if (w->kind == W_REPORT) {
        d->has_obs[w->writer] = true;
        d->obs_state[w->writer] = w->state;
        d->obs_stamp[w->writer] = w->stamp;
        d->obs_seq[w->writer] = w->seq;
        sim_stamped_report(s, n, w);
        sim_log(s, (int)n, "gets n%u's report %s", w->writer,
                w->state == HEALTH_DOWN ? "down" : "up");
    } else if (w->kind == W_LEASE_END)
        d->has_obs[w->writer] = false;
}

static void sim_reply(struct sim *s, unsigned n, int32_t wi, bool ok)
{
    struct sim_node *d = &s->nd[n];
    const struct sim_write *w = &s->w[wi];
    if (w->kind == W_OVR)
        sim_ovr_reply(s, n, wi, ok); /* the API call waits for it, whatever the sync */
    if (w->gen != d->gen)
        return; /* a reply of an older sync */
    if (!ok) {
        sim_log(s, (int)n, "%s failed: resync", sim_kind_name[w->kind]);
        d->conn = CONN_SYNCING;
        d->gen++;
        d->beat_inflight = false;
        return;
    }
    sim_term_seen(s, n, w->term);
    if (w->kind == W_REPORT)
        d->acked = w->state;
    if (w->kind != W_BEAT)
        return;
    d->beat_inflight = false;
    d->beat_out = 0;
    if (w->rev > d->beat_rev) {
        d->beat_rev = w->rev;
        d->beat_sent = (double)w->sent / 1000.0;
    }
    if (d->rev >= d->beat_rev && d->beat_sent > d->fresh_at)
        d->fresh_at = d->beat_sent;
}

/* After a resync: the node's report, if etcd's is not its probe's state. */
static void sim_publish(struct sim *s, unsigned n)
{
    struct sim_node *d = &s->nd[n];
    if (d->conn == CONN_SYNCED && d->own != d->acked)
        sim_send(s, n, W_REPORT);
}

/* ---- the schedule ---------------------------------------------------------- */

static const char *const sim_rule_names[SIM_RULES] = {"stamped", "gaps", "stamped_etcd"};

const char *fleet_sim_rule_name(enum fleet_sim_rule rule)
{
    return (unsigned)rule < SIM_RULES ? sim_rule_names[rule] : NULL;
}

static const char *const sim_class_names[SIM_CLASSES] = {
    "clean",        "fsync",    "starve",     "skew",         "local_cut",   "node_cut",
    "one_way",      "election", "leader_cut", "elect_loaded", "local_elect", "override",
    "override_cut", "replay",   "local_load", "cut_from",     "cut_heal"};

static const char *const sim_revert_names[SIM_REVERTS] = {"none", "replay", "false_failover",
                                                          "flap", "heal"};

const char *fleet_sim_revert_name(enum fleet_sim_revert rev)
{
    return (unsigned)rev < SIM_REVERTS ? sim_revert_names[rev] : NULL;
}

const char *fleet_sim_class_name(enum fleet_sim_class cls)
{
    return (unsigned)cls < SIM_CLASSES ? sim_class_names[cls] : NULL;
}

enum fleet_sim_class fleet_sim_class_of(uint64_t seed)
{
    return (enum fleet_sim_class)(seed % SIM_CLASSES);
}

static struct sim_win sim_win_at(struct sim *s, int64_t from, int64_t lo, int64_t hi)
{
    return (struct sim_win){.from = from, .to = from + sim_range(s, lo, hi)};
}

/* cut_from and cut_heal: node cut from the backend alone from 0.6-3 s
 * before the kill until up to heal_max ms after it, and cut off with the
 * etcd leader from the kill for cut_min-cut_max ms. */
static void sim_plan_cut_from(struct sim *s, int node, int64_t heal_max, int64_t cut_min,
                              int64_t cut_max)
{
    struct sim_faults *fx = &s->fx;
    int64_t k = fx->kill;
    fx->local_node = node;
    fx->local.from = k - sim_range(s, 600, 3000);
    fx->local.from = fx->local.from < 100 ? 100 : fx->local.from;
    fx->local.to = k + sim_range(s, 0, heal_max);
    fx->cut_node = node;
    fx->leader_cut = true;
    fx->cut_up = fx->cut_down = sim_win_at(s, k, cut_min, cut_max);
}

/* The fault of the run's class, around the kill. */
static void sim_plan_fault(struct sim *s)
{
    struct sim_faults *fx = &s->fx;
    int64_t k = fx->kill;
    int node = (int)sim_range(s, 0, s->n - 1);
    switch (s->fault) {
    case SIM_FSYNC:
        fx->stall = sim_win_at(s, k + sim_range(s, -500, 300), 300, 2500);
        break;
    case SIM_STARVE:
        fx->starve_node = node;
        fx->starve = sim_win_at(s, k + sim_range(s, -300, 300), 200, 2000);
        break;
    case SIM_SKEW:
        for (unsigned i = 0; i < s->n; i++)
            s->nd[i].skew = sim_range(s, -3600000, 3600000);
        s->nd[node].jump_at = k + sim_range(s, -1000, 1000);
        s->nd[node].jump = sim_range(s, -30000, 30000);
        if (sim_range(s, 0, 1)) {
            /* The campaign's clock jump: there and back 1-4 s later, the
             * kill up to 1 s after the jump back (issue #54's 30-minute
             * run: I1 1.47 s after a peer's +30 s and back). */
            s->nd[node].jump_end = k - sim_range(s, 0, 1000);
            s->nd[node].jump_at = s->nd[node].jump_end - sim_range(s, 1000, 4000);
        }
        break;
    case SIM_LOCAL_CUT:
        fx->local_node = node;
        fx->local = sim_win_at(s, sim_range(s, 1000, 2000), 1000, 3000);
        fx->kill = sim_range(s, 5500, 6000);
        fx->revive = 0;
        break;
    case SIM_NODE_CUT:
    case SIM_ONE_WAY: {
        fx->cut_node = node;
        struct sim_win w = sim_win_at(s, k + sim_range(s, -800, 300), 500, 3500);
        bool up = s->cls == SIM_NODE_CUT || sim_range(s, 0, 1);
        bool down = s->cls == SIM_NODE_CUT || !up;
        fx->cut_up = up ? w : (struct sim_win){0, 0};
        fx->cut_down = down ? w : (struct sim_win){0, 0};
        break;
    }
    case SIM_ELECT_LOADED:
        fx->jitter = 60;
        fx->pub_lag_max = 2500;
        fx->sync_extra = 300;
        /* fall through */
    case SIM_ELECTION:
        fx->elect = sim_win_at(s, k + sim_range(s, -300, 300), 1000, 2000);
        break;
    case SIM_LEADER_CUT:
        fx->cut_node = node;
        fx->leader_cut = true;
        fx->cut_up = fx->cut_down = sim_win_at(s, k, 2000, 4000);
        fx->elect = sim_win_at(s, k, 1000, 2000);
        fx->stepdown = k + sim_range(s, 1000, 1500);
        break;
    case SIM_LOCAL_ELECT:
        fx->elect = sim_win_at(s, sim_range(s, 1500, 2500), 1000, 2000);
        fx->local_node = node;
        fx->local = sim_win_at(s, fx->elect.from + sim_range(s, -500, 800), 1500, 3000);
        fx->kill = sim_range(s, 6500, 7000);
        fx->revive = 0;
        break;
    case SIM_CUT_FROM:
        /* The campaign's I1 of issue #54 (30 minutes, seed 54): the node
         * cut from the backend alone (its probe down, its peers' ups as of
         * after that: I2 keeps it), then cut off with the etcd leader at
         * the kill; the cut from the backend heals around the kill or
         * lasts. Half the seeds kill nothing: the same node, cut off while
         * the backend lives, is what I2's exception for a node that
         * reaches neither etcd's quorum nor any peer is judged on. */
        sim_plan_cut_from(s, node, 3000, 2000, 4000);
        fx->elect = sim_win_at(s, k, 1000, 2000);
        fx->stepdown = k + sim_range(s, 1000, 1500);
        if (sim_range(s, 0, 1)) {
            fx->kill = SIM_END_MS + 1000; /* never, within the run */
            fx->revive = 0;
        }
        break;
    case SIM_CUT_HEAL:
        /* The 30-minute campaign's I4 and I1 of issue #54 (seed 54, on
         * main 642b561): n1 cut from the backend alone, then cut off with
         * the leader as the backend died; the cut healed after 1.3 s,
         * before the peers' reports of the death were committed (the
         * election outlasted the cut), and the backend came back at the
         * heal. n1's own heartbeat was taken first: etcd vouched for it
         * while its peers' last reports there still said up (as of before
         * the kill), and it went back to the dead backend for 23 ms. */
        sim_plan_cut_from(s, node, 1000, 1000, 1800);
        fx->elect = (struct sim_win){k, fx->cut_up.to + sim_range(s, 0, 400)};
        fx->stepdown = k + sim_range(s, 700, 1000);
        fx->revive = sim_range(s, 0, 1) ? fx->cut_up.to + sim_range(s, -100, 400) : 0;
        /* The campaign heals etcd's links and the peers' one by one: the
         * peers' datagrams may come back after etcd has taken a heartbeat. */
        fx->direct_tail = sim_range(s, 0, 1500);
        /* ... and the peers' reports of the death, refused during the
         * election, went in after the node's heartbeat (loaded members). */
        fx->pub_lag_max = 1500;
        fx->sync_extra = 300;
        /* The campaign's etcd timeout (1 s): the node's heartbeat held by
         * the cut-off leader fails before the heal. */
        fx->cut_timeout = sim_range(s, 500, 1000);
        break;
    case SIM_LOCAL_LOAD: /* issue #39: etcd's disk slow as one node loses its backend */
        fx->local_node = node;
        fx->local = sim_win_at(s, sim_range(s, 1000, 2000), 1000, 3000);
        fx->stall = sim_win_at(s, fx->local.from + sim_range(s, -300, 300), 800, 1900);
        fx->kill = sim_range(s, 5500, 6000);
        fx->revive = 0;
        break;
    default:
        break;
    }
}

/* Every node synced at 0, every peer's report "up" in its view. */
static void sim_plan(struct sim *s)
{
    s->n = (unsigned)sim_range(s, 3, SIM_N_MAX);
    s->quorum = (struct fleet_quorum){.kind = FLEET_QUORUM_MAJORITY};
    s->alive = true;
    s->fx = (struct sim_faults){.starve_node = -1, .local_node = -1, .cut_node = -1};
    s->fx.jitter = 10;
    s->fx.pub_lag_max = 50;
    s->fx.sync_extra = 50;
    s->fx.kill = sim_range(s, 2000, 3000);
    s->fx.revive = sim_range(s, 0, 9) < 3 ? s->fx.kill + sim_range(s, 3500, 4500) : 0;
    for (unsigned i = 0; i < s->n; i++) {
        struct sim_node *d = &s->nd[i];
        *d = (struct sim_node){
            .jump_at = INT64_MAX, .jump_end = INT64_MAX, .link = sim_range(s, 1, 30)};
        d->own = d->acked = d->served = d->rep_state = HEALTH_UP;
        d->down_at = d->flip_at = -1;
        d->conn = CONN_SYNCED;
        d->ever_synced = true;
        d->term_seen = 1;
        for (unsigned j = 0; j < s->n; j++)
            if (j != i) {
                d->peer[j].live = true;
                d->has_obs[j] = true;
                d->obs_state[j] = HEALTH_UP;
            }
        s->lease_live[i] = true;
        sim_push(s, sim_range(s, 1, SIM_INTERVAL_MS), EV_PROBE, (uint8_t)i, 0, 0);
        sim_push(s, sim_range(s, 1, SIM_TICK_MS), EV_TICK, (uint8_t)i, 0, 0);
    }
    /* overrides: during another class's fault (clean for override_cut and
     * replay, which bring their own: a cut after an ack, resyncs) */
    s->fault = s->cls;
    if (s->cls == SIM_OVERRIDE)
        s->fault = (enum fleet_sim_class)sim_range(s, SIM_CLEAN, SIM_LOCAL_ELECT);
    else if (s->cls == SIM_OVERRIDE_CUT || s->cls == SIM_REPLAY)
        s->fault = SIM_CLEAN;
    sim_plan_fault(s);
    s->fx.rewatch = s->fx.cut_down.to + sim_range(s, 100, 400);
    sim_push(s, s->fx.kill, EV_BACKEND, SIM_ETCD, 0, 0);
    if (s->fx.revive)
        sim_push(s, s->fx.revive, EV_BACKEND, SIM_ETCD, 0, 1);
    sim_push(s, 100, EV_LEASES, SIM_ETCD, 0, 0);
    if (s->rule == SIM_RULE_STAMPED)
        sim_direct_start(s);
    if (s->cls == SIM_OVERRIDE || s->cls == SIM_OVERRIDE_CUT || s->cls == SIM_REPLAY)
        sim_ovr_start(s);
}

/* ---- the run ---------------------------------------------------------------- */

static void sim_backend(struct sim *s, bool alive)
{
    s->alive = alive;
    sim_log(s, SIM_ETCD, "backend %s", alive ? "comes back" : "dies");
    for (unsigned i = 0; i < s->n; i++) {
        if (alive)
            s->nd[i].left = false;
        else if (s->nd[i].own == HEALTH_DOWN && s->nd[i].down_at < 0)
            s->nd[i].down_at = s->now;
    }
}

static void sim_dispatch(struct sim *s, const struct sim_ev *e)
{
    unsigned n = e->node;
    switch (e->type) {
    case EV_PROBE:
        sim_probe(s, n);
        break;
    case EV_TICK:
        sim_tick(s, n);
        break;
    case EV_ARRIVE:
        sim_arrive(s, e->w);
        return;
    case EV_DELIVER:
        sim_deliver(s, n, e->w);
        break;
    case EV_REPLY:
        sim_reply(s, n, e->w, e->arg);
        break;
    case EV_STATUS:
        sim_status(s, n, (uint64_t)e->w, e->arg);
        break;
    case EV_SYNCED:
        sim_synced(s, n, e->arg);
        break;
    case EV_PUBLISH:
        sim_publish(s, n);
        break;
    case EV_BACKEND:
        sim_backend(s, e->arg);
        return;
    case EV_LEASES:
        sim_leases(s);
        return;
    case EV_DSEND:
        sim_direct_send(s, n);
        break;
    case EV_DRECV:
        sim_direct_recv(s, n, e->w);
        break;
    case EV_OVR:
        sim_ovr_event(s, e->w, e->arg);
        return;
    default:
        return;
    }
    sim_recompute(s, n);
}

static void sim_loop(struct sim *s)
{
    unsigned steps = 0;
    while (s->nh > 0 && !s->overflow && steps++ < 1000000) {
        struct sim_ev e = sim_pop(s);
        if (e.t > SIM_END_MS)
            break;
        /* A starved node handles nothing until its CPU is back. */
        if (e.node == s->fx.starve_node && sim_in(&s->fx.starve, e.t)) {
            s->now = e.t;
            sim_push(s, s->fx.starve.to, e.type, e.node, e.w, e.arg);
            continue;
        }
        s->now = e.t;
        sim_dispatch(s, &e);
    }
    s->now = SIM_END_MS;
}

/* ---- I1, judged once the run is over ------------------------------------ */

static int sim_cmp64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return x < y ? -1 : x > y;
}

/* How much of [from, to) lies after t. */
static int64_t sim_after(const struct sim_win *w, int64_t t)
{
    int64_t from = w->from > t ? w->from : t;
    return w->to > from ? w->to - from : 0;
}

/* When a quorum of the vantage points whose reports reach n saw the
 * backend down (-1: never). */
static int64_t sim_quorum_saw(const struct sim *s, unsigned n)
{
    int64_t at[SIM_N_MAX];
    size_t k = 0;
    for (unsigned j = 0; j < s->n; j++) {
        int64_t t = s->nd[j].down_at;
        if (t >= 0 && (j == n || !sim_cut_up(s, j, t)))
            at[k++] = t;
    }
    unsigned m = fleet_quorum_needed(&s->quorum, s->n);
    if (k < m)
        return -1;
    qsort(at, k, sizeof(at[0]), sim_cmp64);
    return at[m - 1];
}

/* The deadline of node n: SIM_BOUND_MS after the quorum saw it, plus what
 * no rule can shorten: commits held by an fsync stall, the node's own CPU
 * starved; a node that cannot hear etcd (no election) serves its own probe
 * once degraded (stale_after and a tick), or hears the reports after the
 * heal. The node cut off with the leader gets nothing more (issue #54's
 * target). -1: not judged. */
static int64_t sim_deadline(const struct sim *s, unsigned n, int64_t q)
{
    const struct sim_faults *fx = &s->fx;
    int64_t d = q + SIM_BOUND_MS + sim_after(&fx->stall, q);
    if (fx->starve_node == (int)n)
        d += sim_after(&fx->starve, q);
    bool deaf = fx->cut_node == (int)n && !fx->leader_cut && fx->cut_down.to > fx->cut_down.from &&
                fx->cut_down.from < d && fx->cut_down.to > fx->kill - 1000;
    if (deaf) {
        int64_t own = fx->cut_down.from + (int64_t)(SIM_STALE_S * 1000) + SIM_TICK_MS;
        int64_t heal = fx->cut_down.to + 500;
        int64_t by = (own < heal ? own : heal) + SIM_BOUND_MS;
        d = by > d ? by : d;
    }
    if (d > SIM_END_MS || (fx->revive && fx->revive <= d))
        return -1;
    return d;
}

static void sim_judge_i1(struct sim *s)
{
    s->res->worst_flip_ms = -1;
    for (unsigned n = 0; n < s->n; n++) {
        const struct sim_node *d = &s->nd[n];
        int64_t q = sim_quorum_saw(s, n);
        int64_t dl = q < 0 ? -1 : sim_deadline(s, n, q);
        if (dl < 0)
            continue;
        int64_t flip = d->flip_at;
        if (flip >= 0 && flip - s->fx.kill > s->res->worst_flip_ms)
            s->res->worst_flip_ms = flip - s->fx.kill;
        if (flip >= 0 && flip <= dl)
            continue;
        s->now = dl;
        sim_violation(s, SIM_I1,
                      "n%u flipped at %lld ms, deadline %lld (kill %lld, quorum saw %lld)", n,
                      (long long)flip, (long long)dl, (long long)s->fx.kill, (long long)q);
    }
}

void fleet_sim_run(uint64_t seed, enum fleet_sim_class cls, enum fleet_sim_rule rule,
                   struct fleet_sim_result *res, char *trace, size_t trace_len)
{
    fleet_sim_run_revert(seed, cls, rule, SIM_REVERT_NONE, res, trace, trace_len);
}

void fleet_sim_run_revert(uint64_t seed, enum fleet_sim_class cls, enum fleet_sim_rule rule,
                          enum fleet_sim_revert rev, struct fleet_sim_result *res, char *trace,
                          size_t trace_len)
{
    struct sim *s = calloc(1, sizeof(*s));
    if (!s)
        abort();
    uint64_t x = seed;
    for (int i = 0; i < 4; i++)
        s->rng[i] = sim_splitmix(&x);
    *res = (struct fleet_sim_result){.cls = cls};
    s->res = res;
    s->cls = cls;
    s->rule = rule;
    s->revert = rev;
    s->trace = trace;
    s->tlen = trace_len;
    if (trace && trace_len)
        trace[0] = '\0';
    sim_plan(s);
    res->nodes = s->n;
    sim_log(s, SIM_ETCD, "seed %llu class %s rule %s: %u nodes, kill at %lld, revive at %lld",
            (unsigned long long)seed, fleet_sim_class_name(cls), fleet_sim_rule_name(rule), s->n,
            (long long)s->fx.kill, (long long)s->fx.revive);
    if (s->fault != s->cls || rev != SIM_REVERT_NONE)
        sim_log(s, SIM_ETCD, "fault of class %s; fix taken back: %s",
                fleet_sim_class_name(s->fault), fleet_sim_revert_name(rev));
    const struct sim_faults *fx = &s->fx;
    sim_log(s, SIM_ETCD,
            "faults: election [%lld,%lld) stall [%lld,%lld) starve n%d [%lld,%lld) "
            "local n%d [%lld,%lld) cut n%d up [%lld,%lld) down [%lld,%lld)%s",
            (long long)fx->elect.from, (long long)fx->elect.to, (long long)fx->stall.from,
            (long long)fx->stall.to, fx->starve_node, (long long)fx->starve.from,
            (long long)fx->starve.to, fx->local_node, (long long)fx->local.from,
            (long long)fx->local.to, fx->cut_node, (long long)fx->cut_up.from,
            (long long)fx->cut_up.to, (long long)fx->cut_down.from, (long long)fx->cut_down.to,
            fx->leader_cut ? " with the leader" : "");
    sim_loop(s);
    if (s->overflow)
        sim_violation(s, SIM_I1, "the simulator's tables overflowed");
    sim_judge_i1(s);
    sim_ovr_free(s);
    free(s);
}

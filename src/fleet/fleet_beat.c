/*
 * fleet_beat.c -- how a node knows that its view of etcd is current: the
 * heartbeat, the watch's liveness and lag, degraded, and clock skew.
 *
 * Why a heartbeat: a watch can die silently. A member cut off from the
 * others keeps the stream open and sends nothing; calls that failed over
 * to another URL leave the watch behind on the old one. Nothing in the
 * stream tells the node. So every FLEET_BEAT_S the node writes
 * PREFIX/beat/NODE (on its lease, value {"t": its wall clock}). The write
 * is linearizable: its reply proves a quorum answered, and its revision is
 * one the watch must deliver. Until it does, the watch "lags"; after
 * FLEET_LAG_MAX_S it is restarted from the last revision it delivered, on
 * the next URL. When it does, the view is known to be etcd's as of the
 * heartbeat's sending (fresh_at), and its age is what decides degraded.
 *
 * The peers' heartbeats also carry their wall clocks: a node whose clock
 * differs from a majority of its peers' by more than FLEET_SKEW_MAX_S is
 * flagged as skewed (status, metrics, log). Fleet state never depends on
 * a node's clock (records expire through etcd leases), so the flag only
 * explains the node's own logs and probes' times.
 *
 * Threads: the fleet thread; fields marked (L) in fleet_int.h are written
 * under f->lock.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "common/event_ring.h"
#include "common/log.h"
#include "dns/dns.h"
#include "fleet/fleet_int.h"
#include "fleet/fleet_peer.h"
#include "health/service.h"

struct fleet_beat_call {
    struct fleet *f;
    unsigned gen; /* f->sync_step when sent: a reply of an older sync is ignored */
    double sent;
    bool read; /* a watcher's read, not a write */
};

static void fleet_beat_on_reply(void *arg, enum etcd_status st, json_t *resp, const char *err)
{
    struct fleet_beat_call *c = arg;
    struct fleet *f = c->f;
    unsigned gen = c->gen;
    double sent = c->sent;
    bool c_read = c->read;
    free(c);
    if (gen != f->sync_step)
        return;
    f->beat_inflight = false;
    if (st != ETCD_OK) {
        fleet_keep_call_failed(f, st, "heartbeat", err);
        return;
    }
    int64_t rev = etcd_json_int(json_object_get(json_object_get(resp, "header"), "revision"), 0);
    fleet_election_header(f, json_object_get(resp, "header"));
    double now = deadline_mono();
    f->answered_url = etcd_endpoint(f->etcd);
    pthread_mutex_lock(&f->lock);
    f->beat_out = 0;
    f->last_ok = now;
    f->last_quorum = now;
    if (rev > f->beat_rev) {
        f->beat_rev = rev;
        f->beat_sent = sent;
    }
    if (f->rev >= f->beat_rev)
        fleet_beat_watch_advanced_locked(f);
    else if (f->lag_since == 0)
        f->lag_since = now;
    f->writes += !c_read;
    f->keys_written += !c_read;
    pthread_mutex_unlock(&f->lock);
}

/* Whether a live peer publishes (its heartbeats move etcd's revision on
 * this node's watch at least every FLEET_BEAT_S). */
static bool fleet_beat_publisher_live(const struct fleet *f)
{
    for (size_t i = 0; i < f->n_nodes; i++)
        if (i != f->self && f->nodes[i].live && f->nodes[i].publish)
            return true;
    return false;
}

/* A watcher ("publish": false) needs no heartbeat of its own that others
 * read (it has no report to count), only proof that its view is current:
 * a linearizable read of its heartbeat key (count only) gives etcd's
 * revision now, without a write, and the publishers' heartbeats bring the
 * watch there within FLEET_BEAT_S. So 20 nodes of which 3 publish write 6
 * heartbeats a second, not 40, and every watch receives 6 events, not 40.
 * With no publisher live it writes its heartbeat as a publisher does. */
static void fleet_beat_read(struct fleet *f, double now)
{
    char *key = fleet_key(f, "beat/", f->p.node, NULL);
    json_t *body = json_pack("{s:o, s:b}", "key", fleet_b64s(key), "count_only", 1);
    free(key);
    struct fleet_beat_call *c = calloc(1, sizeof(*c));
    if (!c)
        abort();
    *c = (struct fleet_beat_call){.f = f, .gen = f->sync_step, .sent = now, .read = true};
    f->beat_inflight = true;
    pthread_mutex_lock(&f->lock);
    if (f->beat_out == 0)
        f->beat_out = now;
    pthread_mutex_unlock(&f->lock);
    etcd_call(f->etcd, "/v3/kv/range", body, fleet_beat_on_reply, c);
}

/* The stamp of this node's next heartbeat (fleet_stamp.h): its reports
 * are current as of the earliest last run of the probes they report,
 * unless one of those probes moved since its report was acknowledged, or
 * a report is being written (pending). None for a watcher or a node whose
 * probes have not run. wall: health_now(). */
static struct fleet_stamp_beat fleet_beat_stamp(struct fleet *f, double wall)
{
    struct fleet_stamp_beat b = {.rrev = f->report_rrev_acked};
    if (!f->p.publish)
        return b;
    bool pools = f->layout_out == FLEET_LAYOUT_POOLS;
    int64_t now_ms = health_mono_ms(), oldest = 0;
    b.pending = pools && fleet_pools_pending(f);
    for (size_t i = 0; i < f->n_local; i++) {
        const struct fleet_ep *e = f->local[i];
        int64_t ran = e->slot ? health_slot_ran_at(e->slot) : 0; /* before the state */
        if (ran <= 0)
            continue; /* no result yet: nothing published, nothing to vouch for */
        uint8_t st = (uint8_t)health_slot_probe(e->slot);
        b.pending |= pools ? st != e->pool_pub : e->writing || st != e->published;
        oldest = oldest == 0 || ran < oldest ? ran : oldest;
    }
    b.have = oldest > 0;
    b.as_of = fleet_stamp_probe_wall(oldest, now_ms, wall);
    return b;
}

static void fleet_beat_send(struct fleet *f, double now)
{
    if (!f->p.publish && fleet_beat_publisher_live(f)) {
        fleet_beat_read(f, now);
        return;
    }
    char *key = fleet_key(f, "beat/", f->p.node, NULL);
    double wall = health_now();
    json_t *v = json_pack("{s:f}", "t", wall);
    struct fleet_stamp_beat stamp = fleet_beat_stamp(f, wall);
    fleet_stamp_beat_put(v, &stamp);
    pthread_mutex_lock(&f->lock);
    f->own_stamp = stamp;
    pthread_mutex_unlock(&f->lock);
    fleet_compat_stamp(v, fleet_compat_write_format(f));
    fleet_sign_on_lease(f, key, v);
    char *text = json_dumps(v, JSON_COMPACT);
    json_decref(v);
    char *kb = etcd_b64(key, strlen(key));
    char *vb = etcd_b64(text, strlen(text));
    json_t *body =
        json_pack("{s:s, s:s, s:I}", "key", kb, "value", vb, "lease", (json_int_t)f->lease);
    free(key);
    free(text);
    free(kb);
    free(vb);
    struct fleet_beat_call *c = calloc(1, sizeof(*c));
    if (!c)
        abort();
    *c = (struct fleet_beat_call){.f = f, .gen = f->sync_step, .sent = now};
    f->beat_inflight = true;
    pthread_mutex_lock(&f->lock);
    if (f->beat_out == 0)
        f->beat_out = now;
    pthread_mutex_unlock(&f->lock);
    etcd_call(f->etcd, "/v3/kv/put", body, fleet_beat_on_reply, c);
}

void fleet_beat_watch_advanced_locked(struct fleet *f)
{
    if (f->beat_rev == 0 || f->rev < f->beat_rev)
        return;
    if (f->beat_sent > f->fresh_at)
        f->fresh_at = f->beat_sent;
    f->lag_since = 0;
}

double fleet_beat_view_age_locked(const struct fleet *f, double now)
{
    return now - f->fresh_at;
}

double fleet_beat_lag_locked(const struct fleet *f, double now)
{
    return f->lag_since > 0 ? now - f->lag_since : 0;
}

const char *fleet_beat_conn_name_locked(const struct fleet *f, double now)
{
    if (f->conn == FLEET_CONN_SYNCING)
        return "syncing";
    if (f->conn == FLEET_CONN_DOWN)
        return "down";
    bool current = fleet_beat_view_age_locked(f, now) < FLEET_BEAT_S + FLEET_LAG_MAX_S &&
                   fleet_beat_lag_locked(f, now) < FLEET_LAG_MAX_S;
    return current ? "synced" : "lagging";
}

/* A watch left on a URL other than the one a call last succeeded on (the
 * calls failed over: the watch's member may be cut off), or one that has
 * not delivered an acknowledged revision for FLEET_LAG_MAX_S: restarted.
 * A failed call alone moves no watch: while every URL fails, the watch
 * would hop with each retry. */
static void fleet_beat_check_watch(struct fleet *f, double now)
{
    if (!f->watch) {
        /* Down with the session kept (fleet_watch.c): started again. */
        if (f->rewatch_at > 0 && now >= f->rewatch_at)
            fleet_sync_rewatch(f, "every member ended the watch: trying again");
        return;
    }
    if (f->answered_url && f->watch_url != f->answered_url) {
        fleet_sync_rewatch(f, "calls moved to another etcd URL");
        return;
    }
    pthread_mutex_lock(&f->lock);
    bool behind = fleet_beat_lag_locked(f, now) >= FLEET_LAG_MAX_S;
    if (behind)
        f->lag_since = now; /* the new watch gets its own FLEET_LAG_MAX_S */
    pthread_mutex_unlock(&f->lock);
    if (behind) {
        etcd_failover(f->etcd); /* the member may be cut off: try the next one */
        fleet_sync_rewatch(f, "the watch did not deliver a revision etcd acknowledged");
    }
}

/* Whether a gap that ended at end (monotonic) still covers a peer heard
 * beats times since: FLEET_REJOIN_S, then until FLEET_REJOIN_BEATS
 * heartbeats, at most stale_after (fleet_int.h). (caller holds f->lock) */
bool fleet_rejoin_covers(double since, unsigned beats, double stale_after)
{
    return since < FLEET_REJOIN_S || (beats < FLEET_REJOIN_BEATS && since < stale_after);
}

static bool fleet_beat_rejoin_locked(const struct fleet *f, double end, unsigned beats, double now)
{
    return fleet_rejoin_covers(now - end, beats, f->p.stale_after);
}

/* This node's own gap (fleet_int.h, FLEET_BLIND_S): whether its view has
 * not been current for FLEET_BLIND_S, and, for each peer, whether the gap
 * still covers its reports once the view is current again
 * (fleet_beat_rejoin_locked). True when that changed (caller holds
 * f->lock). */
static bool fleet_beat_mark_blind_locked(struct fleet *f, double now)
{
    bool blind = f->ever_synced && fleet_beat_view_age_locked(f, now) > FLEET_BLIND_S;
    bool was = f->blind, grace_was = f->blind_grace;
    if (blind && !f->blind)
        f->blind_from = f->fresh_at;
    else if (!blind && f->blind) {
        f->blind_end = now;
        for (size_t i = 0; i < f->n_nodes; i++)
            f->nodes[i].beats_view = 0;
    }
    f->blind = blind;
    bool changed = false, any = false;
    for (size_t i = 0; i < f->n_nodes; i++) {
        struct fleet_node *n = &f->nodes[i];
        bool g = !blind && f->blind_end > 0 && i != f->self &&
                 fleet_beat_rejoin_locked(f, f->blind_end, n->beats_view, now);
        changed |= g != n->view_grace;
        n->view_grace = g;
        any |= g;
    }
    f->blind_grace = any;
    return changed || was != blind || grace_was != f->blind_grace;
}

/* Marks the peers not heard from for FLEET_SILENT_S, those heard again
 * whose gap still covers them (fleet_beat_rejoin_locked), and this node's
 * own gaps; the verdicts
 * are computed again when any of that changes. True while a gap is open
 * (a peer silent, or this node blind). */
static bool fleet_beat_mark_silent(struct fleet *f, double now)
{
    bool changed = false, gap = false;
    pthread_mutex_lock(&f->lock);
    for (size_t i = 0; i < f->n_nodes; i++) {
        struct fleet_node *n = &f->nodes[i];
        bool s = i != f->self && n->heard > 0 && now - n->heard > FLEET_SILENT_S;
        bool r =
            i != f->self && n->back > 0 && fleet_beat_rejoin_locked(f, n->back, n->beats_back, now);
        changed |= s != n->silent || r != n->rejoining;
        n->silent = s;
        n->rejoining = r;
        gap |= s && n->live;
    }
    changed |= fleet_beat_mark_blind_locked(f, now);
    gap |= f->blind;
    pthread_mutex_unlock(&f->lock);
    if (changed && !f->degraded)
        fleet_recompute_probed(f);
    return gap;
}

/* The node's view became older than isolation.after, or current again:
 * with action refuse or servfail, the query path answers policy names
 * with that rcode meanwhile (health_set_policy_rcode). */
static void fleet_beat_set_isolated(struct fleet *f, bool iso, double age)
{
    pthread_mutex_lock(&f->lock);
    f->isolated = iso;
    pthread_mutex_unlock(&f->lock);
    uint16_t rc = !iso                                         ? 0
                  : f->p.isolation == FLEET_ISOLATION_REFUSE   ? DNS_RCODE_REFUSED
                  : f->p.isolation == FLEET_ISOLATION_SERVFAIL ? DNS_RCODE_SERVFAIL
                                                               : 0;
    health_set_policy_rcode(f->health, rc);
    const char *action = fleet_isolation_name(f->p.isolation);
    if (iso)
        log_warn("event=fleet_isolated node=%s view_age_s=%.1f after=%.1f action=%s note=\"%s\"",
                 f->p.node, age, f->p.isolation_after, action,
                 rc ? "policy names are not answered until etcd is back"
                    : "serving the last known fleet view");
    else
        log_info("event=fleet_isolation_end node=%s action=%s", f->p.node, action);
    event_ring_push(f->health->events, "fleet",
                    json_pack("{s:s, s:s, s:b, s:s}", "action", "isolation", "node", f->p.node,
                              "isolated", iso, "isolation_action", action));
}

void fleet_beat_check(struct fleet *f, double now)
{
    if (f->conn != FLEET_CONN_SYNCED || f->beat_inflight || !f->lease)
        return;
    f->beat_check_at = now;
    f->next_beat = now + FLEET_BEAT_S;
    fleet_beat_send(f, now);
}

void fleet_beat_tick(struct fleet *f, double now)
{
    fleet_election_tick(f, now, fleet_beat_mark_silent(f, now));
    if (f->conn == FLEET_CONN_SYNCED) {
        if (!f->beat_inflight && now >= f->next_beat && f->lease) {
            f->next_beat = now + FLEET_BEAT_S;
            fleet_beat_send(f, now);
        }
        fleet_beat_check_watch(f, now);
    }
    pthread_mutex_lock(&f->lock);
    double age = fleet_beat_view_age_locked(f, now);
    pthread_mutex_unlock(&f->lock);
    if (age > f->p.stale_after)
        fleet_set_degraded(f, true);
    else if (f->conn == FLEET_CONN_SYNCED)
        fleet_set_degraded(f, false);
    bool iso = age > f->p.isolation_after;
    if (iso != f->isolated)
        fleet_beat_set_isolated(f, iso, age);
}

/* ---- clock skew ------------------------------------------------------------ */

static int fleet_beat_cmp(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

/* This node is skewed when more than half of its live peers see its clock
 * off by more than FLEET_SKEW_MAX_S in FLEET_SKEW_BEATS heartbeats in a
 * row (not one replayed old heartbeat); its offset is the median of theirs
 * (for an even count, the middle one nearer zero)
 * (caller holds f->lock). */
static void fleet_beat_judge_skew_locked(struct fleet *f)
{
    double offs[64];
    size_t n = 0;
    for (size_t i = 0; i < f->n_nodes && n < 64; i++)
        if (i != f->self && f->nodes[i].live && f->nodes[i].have_offset)
            offs[n++] = -f->nodes[i].clock_offset; /* ours minus theirs */
    f->skew_known = n > 0;
    if (n == 0) {
        f->skewed = false;
        return;
    }
    size_t far = 0;
    for (size_t i = 0; i < f->n_nodes; i++)
        far += i != f->self && f->nodes[i].live && f->nodes[i].have_offset &&
               f->nodes[i].far_beats >= FLEET_SKEW_BEATS;
    qsort(offs, n, sizeof(offs[0]), fleet_beat_cmp);
    /* With an even count, of the two middle offsets take the one nearer
     * zero: one peer an hour off of two must not make this node's clock
     * look an hour off (the upper middle did, for a peer running slow). */
    double lo = offs[(n - 1) / 2], hi = offs[n / 2];
    f->clock_offset = fabs(lo) <= fabs(hi) ? lo : hi;
    f->skewed = far * 2 > n;
}

/* A heartbeat of peer n arrived at now (monotonic). Back after a silence,
 * it is marked rejoining at once, not at the next tick
 * (fleet_beat_mark_silent): heard moves to now, and a verdict computed in
 * between (another key arriving) would take the silence as ended without
 * the rejoin grace, and count its report from before the gap as current
 * for up to FLEET_TICK_S (fleet_peer_unheard_locked). (caller holds
 * f->lock) */
void fleet_node_heard_locked(struct fleet_node *n, double now)
{
    if (n->heard > 0 && now - n->heard > FLEET_SILENT_S) {
        n->quiet_from = n->heard;
        n->back = now;
        n->beats_back = 0;
        n->silent = false;
        n->rejoining = true; /* fleet_rejoin_covers(0, ...) */
    }
    n->beats_back++;
    n->beats_view++;
    n->heard = now;
}

/* Peer n's heartbeat v (NULL: deleted): its stamp, or none, counted by
 * reason when refused (an older writer's, without one, is not). (caller
 * holds f->lock) */
static void fleet_beat_take_stamp_locked(struct fleet *f, struct fleet_node *n, const json_t *v)
{
    enum fleet_stamp_why why = FLEET_STAMP_ABSENT;
    if (v)
        why = fleet_stamp_beat_parse(v, &n->beat_stamp);
    else
        n->beat_stamp = (struct fleet_stamp_beat){0};
    if (why != FLEET_STAMP_OK && why != FLEET_STAMP_ABSENT)
        f->stamps_refused[why]++;
}

/* The stamped rule's etcd inputs from peer n's heartbeat, written at t (its
 * wall clock; 0: none) and delivered now: a sample of its offset, and news
 * of its probe when the heartbeat vouches for a later as_of (it is not
 * pending and this node holds the report it names) or asserts nothing (an
 * older writer: it is alive, and its reports stand as they are, judged by
 * their own "t"). (caller holds f->lock) */
static void fleet_beat_stamped_locked(struct fleet_node *n, double t, double now)
{
    if (t <= 0)
        return;
    fleet_decide_stamped_offset_sample(&n->beat_off, t, now, FLEET_PEER_OFFSET_S,
                                       FLEET_PEER_STEP_S);
    const struct fleet_stamp_beat *b = &n->beat_stamp;
    if (!b->have || (!b->pending && n->rrev_held >= b->rrev))
        n->news_at = now;
}

void fleet_beat_report_stamp(struct fleet *f, uint16_t node, const json_t *v, bool bulk)
{
    uint64_t rrev;
    enum fleet_stamp_why why = fleet_stamp_report_parse(v, &rrev);
    pthread_mutex_lock(&f->lock);
    f->nodes[node].news_at = deadline_mono(); /* a report: news of its probe */
    if (why == FLEET_STAMP_OK && (!bulk || rrev > f->nodes[node].rrev_held))
        f->nodes[node].rrev_held = rrev;
    else if (why != FLEET_STAMP_OK && why != FLEET_STAMP_ABSENT)
        f->stamps_refused[why]++;
    pthread_mutex_unlock(&f->lock);
}

void fleet_beat_seen(struct fleet *f, const char *node, json_t *v)
{
    uint16_t idx = fleet_node_get(f, node);
    if (idx == FLEET_NODE_NONE || idx == f->self)
        return;
    double t = json_number_value(json_object_get(v, "t"));
    pthread_mutex_lock(&f->lock);
    bool was = f->skewed;
    double now = deadline_mono();
    if (v)
        fleet_node_heard_locked(&f->nodes[idx], now);
    else
        f->nodes[idx].heard = 0;
    fleet_beat_take_stamp_locked(f, &f->nodes[idx], v);
    fleet_beat_stamped_locked(&f->nodes[idx], v ? t : 0, now);
    /* The skew judged from the peer's offset estimate, not from this
     * heartbeat's delivery alone: heartbeats delivered seconds late after
     * a cut (etcd's backlog) are not a clock that is off. The estimate is
     * the peer's wall minus this node's mono; this node's wall minus its
     * mono, now, turns it into the peer's wall minus this node's. */
    const struct fleet_decide_stamped_offset *bo = &f->nodes[idx].beat_off;
    f->nodes[idx].have_offset = v && t > 0 && bo->have;
    f->nodes[idx].clock_offset = f->nodes[idx].have_offset ? bo->off - (health_now() - now) : 0;
    uint8_t fb = f->nodes[idx].far_beats;
    f->nodes[idx].far_beats = !(v && t > 0 && fabs(f->nodes[idx].clock_offset) > FLEET_SKEW_MAX_S)
                                  ? 0
                              : fb < 255 ? (uint8_t)(fb + 1)
                                         : fb;
    fleet_beat_judge_skew_locked(f);
    bool now_skewed = f->skewed;
    double off = f->clock_offset;
    pthread_mutex_unlock(&f->lock);
    if (now_skewed == was)
        return;
    /* Records' end times are in the writer's clock: apply them again in
     * this node's (fleet_store_localize). */
    for (size_t i = 0; i < f->n_kinds && f->conn == FLEET_CONN_SYNCED; i++)
        if (!f->kinds[i].reading)
            fleet_store_resync(f, &f->kinds[i]);
    log_warn("event=fleet_clock_skew node=%s skewed=%s offset_s=%.3f max_s=%.1f "
             "note=\"this node's clock minus the median of its peers'\"",
             f->p.node, now_skewed ? "yes" : "no", off, FLEET_SKEW_MAX_S);
}

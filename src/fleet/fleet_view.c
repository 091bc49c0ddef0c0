/*
 * fleet_view.c -- the fleet in /v1/status, explain and /metrics.
 */
#include "fleet/fleet_view.h"

#include <stdio.h>
#include <string.h>

#include "fleet/fleet_int.h"

static const char *fleet_view_state(uint8_t s)
{
    return s == HEALTH_UP ? "up" : s == HEALTH_DOWN ? "down" : NULL;
}

/* How current this node's view is (caller holds f->lock): see
 * fleet_beat.c for what each figure means. */
static void fleet_view_liveness_locked(struct fleet *f, json_t *st, double now)
{
    json_object_set_new(st, "view_age_s", json_real(fleet_beat_view_age_locked(f, now)));
    json_object_set_new(st, "watch_lag_s", json_real(fleet_beat_lag_locked(f, now)));
    json_object_set_new(st, "last_quorum_s", json_real(now - f->last_quorum));
    json_object_set_new(st, "etcd_revision", json_integer(f->beat_rev));
    json_object_set_new(st, "watch_etcd", f->watch_url ? json_string(f->watch_url) : json_null());
    json_object_set_new(st, "watch_moves", json_integer((json_int_t)f->watch_moves));
    json_object_set_new(st, "resyncs", json_integer((json_int_t)f->resyncs));
    json_object_set_new(st, "calls_kept", json_integer((json_int_t)f->calls_kept));
    json_object_set_new(st, "publish_lag_s", json_real(f->watch_lag));
    json_object_set_new(st, "clock_offset_s",
                        f->skew_known ? json_real(f->clock_offset) : json_null());
    json_object_set_new(st, "clock_skewed", json_boolean(f->skewed));
    json_object_set_new(
        st, "etcd_election",
        f->elect.at > 0 ? json_pack("{s:f, s:s}", "age_s", now - f->elect.at, "why", f->elect.why)
                        : json_null());
    json_object_set_new(st, "isolated", json_boolean(f->isolated));
    json_object_set_new(st, "isolation",
                        json_pack("{s:f, s:s}", "after", f->p.isolation_after, "action",
                                  fleet_isolation_name(f->p.isolation)));
}

/* The form of a node's config_hash: 2 for "2:" and 14 hex digits (a sum
 * of the parts, config_digest.h), 1 for gtmd before (16 hex digits of the
 * whole document's SHA-256), 0 for none. */
static int fleet_view_hash_form(const char *h)
{
    return !h[0] ? 0 : strncmp(h, "2:", 2) == 0 ? 2 : 1;
}

/* A node's heartbeat stamp (fleet_stamp.h), null when it has none: as_of
 * in its own wall clock, the sequence of its last acknowledged report,
 * and whether a probe moved since. */
static void fleet_view_stamp(json_t *j, const struct fleet_stamp_beat *b)
{
    json_object_set_new(j, "as_of", b->have ? json_real(b->as_of) : json_null());
    json_object_set_new(j, "rrev", b->have ? json_integer((json_int_t)b->rrev) : json_null());
    json_object_set_new(j, "pending", b->have ? json_boolean(b->pending) : json_null());
}

/* Node i of /v1/status's fleet.nodes; *mismatch and *mixed set when its
 * configuration or key layout differs from this node's. (f->lock) */
static json_t *fleet_view_node(struct fleet *f, size_t i, bool *mismatch, bool *mixed)
{
    const struct fleet_node *n = &f->nodes[i];
    const char *self_hash = f->config_hash;
    bool self = i == f->self;
    /* A hash of the other form (gtmd before "2:": the whole document)
     * says nothing about this one: neither a match nor a mismatch while
     * a fleet is upgraded (config_matches null). */
    int form = fleet_view_hash_form(n->config_hash), mine = fleet_view_hash_form(self_hash);
    bool comparable = self || form == mine || !form || !mine;
    bool same = self || strcmp(n->config_hash, self_hash) == 0;
    *mismatch |= comparable && !same;
    json_t *j =
        /* A copy of the vantage list: the reply is freed on the admin
         * thread, the node's list by the fleet thread (references to one
         * object from two threads race). */
        json_pack("{s:s, s:b, s:b, s:s, s:s, s:o, s:o}", "name", n->name, "self", self, "live",
                  self || n->live, "version", self ? f->version : n->version, "config_hash",
                  self ? self_hash : n->config_hash, "config_matches",
                  comparable ? json_boolean(same) : json_null(), "vantage",
                  self         ? json_deep_copy(f->vantage)
                  : n->vantage ? json_deep_copy(n->vantage)
                               : json_null());
    json_object_set_new(j, "last_seen", self ? json_real(health_now()) : json_real(n->last_seen));
    json_object_set_new(j, "started", n->started > 0 ? json_real(n->started) : json_null());
    json_object_set_new(j, "silent", json_boolean(n->silent));
    int layout = self ? FLEET_LAYOUT : n->layout;
    json_object_set_new(j, "layout", json_integer(layout));
    json_object_set_new(j, "publish", json_boolean(self ? f->p.publish : n->publish));
    json_object_set_new(j, "drained", json_boolean(self ? f->drained : n->drained));
    *mixed |= layout != FLEET_LAYOUT;
    if (f->cfg.on_config) {
        json_object_set_new(j, "config_version",
                            json_integer((json_int_t)(self ? f->cfg.applied : n->config_version)));
        const char *ce = self ? f->cfg.error : n->config_error;
        json_object_set_new(j, "config_error", ce[0] ? json_string(ce) : json_null());
    }
    json_object_set_new(j, "clock_offset_s",
                        !self && n->have_offset ? json_real(n->clock_offset) : json_null());
    fleet_view_stamp(j, self ? &f->own_stamp : &n->beat_stamp);
    json_object_set_new(j, "rrev_held",
                        self ? json_null() : json_integer((json_int_t)n->rrev_held));
    return j;
}

json_t *fleet_view_status(struct fleet *f)
{
    char qbuf[16];
    pthread_mutex_lock(&f->lock);
    double now = deadline_mono();
    double quiet = now - f->last_ok;
    json_t *nodes = json_array();
    bool mismatch = false, mixed = false;
    for (size_t i = 0; i < f->n_nodes; i++) {
        if (f->nodes[i].live || i == f->self)
            json_array_append_new(nodes, fleet_view_node(f, i, &mismatch, &mixed));
    }
    const char *conn = fleet_beat_conn_name_locked(f, now);
    json_t *st = json_pack(
        "{s:s, s:s, s:s, s:b, s:f, s:s, s:s, s:f, s:I, s:o, s:b, s:I}", "node", f->p.node, "etcd",
        f->url ? f->url : f->p.etcd.urls[0], "connection", conn, "degraded", f->degraded,
        "last_contact_s", quiet, "prefix", f->p.prefix, "down_quorum",
        fleet_quorum_name(&f->p.quorum, qbuf, sizeof(qbuf)), "stale_after", f->p.stale_after,
        "revision", (json_int_t)f->rev, "nodes", nodes, "config_mismatch", mismatch,
        "disagreements", (json_int_t)fleet_disagreements_locked(f));
    fleet_view_liveness_locked(f, st, now);
    json_t *rej = json_object();
    uint64_t total = 0;
    for (int v = FLEET_SIG_MISSING; v < FLEET_VERDICTS; v++) {
        json_object_set_new(rej, fleet_verdict_name((enum fleet_verdict)v),
                            json_integer((json_int_t)f->rejected[v]));
        total += f->rejected[v];
    }
    if (total)
        json_object_set_new(rej, "last",
                            json_pack("{s:s, s:s, s:s}", "key", f->rejected_last_key, "why",
                                      fleet_verdict_name(f->rejected_last), "signer",
                                      f->rejected_last_signer));
    json_t *refused = json_object();
    for (int w = FLEET_STAMP_MISSING; w < FLEET_STAMP_WHYS; w++)
        json_object_set_new(refused, fleet_stamp_why_name((enum fleet_stamp_why)w),
                            json_integer((json_int_t)f->stamps_refused[w]));
    json_object_set_new(st, "stamps_refused", refused);
    json_object_set_new(st, "signed", json_boolean(f->p.keys.enabled));
    /* A live node writing another key layout (an older gtmd): upgrade
     * every node together (doc/fleet.md, "Upgrading a fleet"). */
    json_object_set_new(st, "mixed_layout", json_boolean(mixed));
    /* This node: whether it publishes, the key layout it writes now
     * (fleet_pools_layout: 3 while every live node reads it), and the
     * pages of its fresh reads. */
    json_object_set_new(st, "publish", json_boolean(f->p.publish));
    json_object_set_new(st, "layout_written", json_integer(f->layout_out));
    json_object_set_new(st, "read_pages", json_integer((json_int_t)f->read_pages));
    json_object_set_new(st, "config_parts",
                        json_pack("{s:I, s:I, s:I}", "read", (json_int_t)f->cfg.parts_read,
                                  "skipped", (json_int_t)f->cfg.parts_skipped, "own",
                                  (json_int_t)f->cfg.parts_own));
    json_object_set_new(st, "rejected", rej);
    json_object_set_new(st, "compat", fleet_compat_view_locked(f));
    /* The direct channel: "peer" (null when off) and each peer's figures
     * in "peers" (fleet_peer.h). */
    json_t *peer = fleet_peer_view_locked(f, now);
    json_t *peers = json_object_get(peer, "peers");
    json_object_set_new(st, "peers", peers ? json_incref(peers) : json_array());
    json_object_del(peer, "peers");
    json_object_set_new(st, "peer", peer);
    pthread_mutex_unlock(&f->lock);
    return st;
}

/* What each peer's probe of ep says over the direct channel, as the
 * decision reads it (fleet_peer_evidence_locked): state, how long ago it
 * moved there, and how long ago the peer's states were last known current
 * here (caller holds f->lock). */
static json_t *fleet_view_direct_locked(const struct fleet *f, const struct fleet_ep *ep,
                                        double now)
{
    json_t *d = json_object();
    for (size_t i = 0; i < f->n_nodes; i++) {
        struct fleet_peer_evidence ev;
        if (i == f->self || !fleet_peer_evidence_locked(f, ep, (uint16_t)i, &ev) ||
            !fleet_view_state(ev.state))
            continue;
        json_object_set_new(
            d, f->nodes[i].name,
            json_pack("{s:s, s:f, s:o}", "state", fleet_view_state(ev.state), "since_ago",
                      now - ev.since, "current_ago",
                      ev.current_as_of ? json_real(now - ev.current_as_of) : json_null()));
    }
    return d;
}

json_t *fleet_view_endpoint(struct fleet *f, const char *key)
{
    char why[256];
    pthread_mutex_lock(&f->lock);
    struct fleet_ep *ep = fleet_ep_get(f, key, false);
    if (!ep) {
        pthread_mutex_unlock(&f->lock);
        return NULL;
    }
    enum health_state v = fleet_ep_verdict_locked(f, ep, why, sizeof(why));
    json_t *obs = json_object();
    uint8_t own = ep->local && ep->slot ? (uint8_t)health_slot_probe(ep->slot) : HEALTH_UNKNOWN;
    if (fleet_view_state(own))
        json_object_set_new(obs, f->p.node, json_string(fleet_view_state(own)));
    for (const struct fleet_obs *o = ep->obs; o; o = o->next)
        if (o->node != f->self && o->node < f->n_nodes && f->nodes[o->node].live &&
            fleet_view_state(o->state))
            json_object_set_new(obs, f->nodes[o->node].name,
                                json_string(fleet_view_state(o->state)));
    json_t *j = json_pack("{s:s?, s:b, s:s, s:s?, s:o, s:b}", "verdict", fleet_view_state(v),
                          "applied", !f->degraded && v != HEALTH_UNKNOWN, "explain", why, "own",
                          fleet_view_state(own), "observations", obs, "disagrees",
                          own != HEALTH_UNKNOWN && v != HEALTH_UNKNOWN && own != v);
    if (f->peer) /* what the channel holds of each peer (fleet_peer.h) */
        json_object_set_new(j, "direct", fleet_view_direct_locked(f, ep, deadline_mono()));
    /* How each peer counted and why (the stamped rule: fleet_stamped.c;
     * the gaps rule says it in "explain"). */
    json_object_set_new(j, "decision",
                        f->p.decision == FLEET_DECISION_STAMPED
                            ? fleet_stamped_view_locked(f, ep)
                            : json_pack("{s:s}", "rule", "gaps"));
    pthread_mutex_unlock(&f->lock);
    return j;
}

void fleet_view_metrics(struct fleet *f, struct fleet_metrics *m)
{
    pthread_mutex_lock(&f->lock);
    double now = deadline_mono();
    m->connected = strcmp(fleet_beat_conn_name_locked(f, now), "synced") == 0;
    m->degraded = f->degraded;
    m->view_age_s = fleet_beat_view_age_locked(f, now);
    m->clock_offset_s = f->skew_known ? f->clock_offset : 0;
    m->clock_skewed = f->skewed;
    m->isolated = f->isolated;
    m->nodes = 0;
    for (size_t i = 0; i < f->n_nodes; i++)
        m->nodes += i == f->self || f->nodes[i].live;
    m->disagreements = fleet_disagreements_locked(f);
    m->watch_lag_s = fleet_beat_lag_locked(f, now);
    m->degraded_total = f->degraded_total;
    m->resyncs_total = f->resyncs;
    m->watch_events_total = f->watch_events;
    m->etcd_writes_total = f->writes;
    m->etcd_keys_written_total = f->keys_written;
    m->latency_writes_total = f->rtt_writes;
    m->latency_tables_read_total = f->rtt_tables_read;
    m->latency_moves_total = atomic_load(&f->health->rtt.own_gen);
    m->signing = f->p.keys.enabled;
    memcpy(m->rejected, f->rejected, sizeof(m->rejected));
    m->peer_on = fleet_peer_drops_locked(f, m->peer_drops, &m->peer_accepted, &m->peer_sent);
    pthread_mutex_unlock(&f->lock);
}

/*
 * fleet.c -- the fleet thread, its tables (nodes, endpoints, reports) and
 * the verdicts it publishes into the health slots.
 */
#include "fleet/fleet_int.h"
#include "fleet/fleet_peer.h"
#include "common/deadline.h"
#include "fleet/fleet_decide.h"

#include <event2/event.h>
#include <event2/thread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/event_ring.h"
#include "common/log.h"
#include "dns/name.h"
#include "drill/drill.h"
#include "health/service.h"
#include "policy/policy.h"

static char *fleet_strdup(const char *s)
{
    char *d = strdup(s ? s : "");
    if (!d)
        abort();
    return d;
}

/* ---- tables ------------------------------------------------------------ */

struct fleet_ep *fleet_ep_get(struct fleet *f, const char *key, bool create)
{
    uint32_t h = dns_name_hash((const uint8_t *)key, strlen(key)) % f->n_buckets;
    for (struct fleet_ep *e = f->buckets[h]; e; e = e->next)
        if (strcmp(e->key, key) == 0)
            return e;
    if (!create)
        return NULL;
    struct fleet_ep *e = calloc(1, sizeof(*e));
    if (!e)
        abort();
    e->key = fleet_strdup(key);
    pthread_mutex_lock(&f->lock);
    e->next = f->buckets[h];
    f->buckets[h] = e;
    f->n_eps++;
    pthread_mutex_unlock(&f->lock);
    return e;
}

uint16_t fleet_node_get(struct fleet *f, const char *name)
{
    for (size_t i = 0; i < f->n_nodes; i++)
        if (strcmp(f->nodes[i].name, name) == 0)
            return (uint16_t)i;
    if (f->n_nodes >= FLEET_NODES_MAX)
        return FLEET_NODE_NONE;
    pthread_mutex_lock(&f->lock);
    if (f->n_nodes == f->cap_nodes) {
        size_t cap = f->cap_nodes ? f->cap_nodes * 2 : 8;
        struct fleet_node *n = realloc(f->nodes, cap * sizeof(*n));
        if (!n)
            abort();
        f->nodes = n;
        f->cap_nodes = cap;
    }
    struct fleet_node *n = &f->nodes[f->n_nodes];
    memset(n, 0, sizeof(*n));
    snprintf(n->name, sizeof(n->name), "%s", name);
    uint16_t idx = (uint16_t)f->n_nodes++;
    pthread_mutex_unlock(&f->lock);
    return idx;
}

void fleet_clear_locked(struct fleet *f)
{
    for (size_t b = 0; b < f->n_buckets; b++)
        for (struct fleet_ep *e = f->buckets[b]; e; e = e->next)
            while (e->obs) {
                struct fleet_obs *o = e->obs;
                e->obs = o->next;
                free(o);
            }
    for (size_t i = 0; i < f->n_nodes; i++) {
        f->nodes[i].live = false;
        json_decref(f->nodes[i].vantage);
        f->nodes[i].vantage = NULL;
    }
}

bool fleet_obs_put_locked(struct fleet *f, struct fleet_ep *ep, uint16_t node, uint8_t state,
                          double t, bool pooled)
{
    (void)f;
    struct fleet_obs **pp = &ep->obs;
    while (*pp && (*pp)->node != node)
        pp = &(*pp)->next;
    if (state == HEALTH_UNKNOWN) {
        /* Only a report of the same kind of key goes: one the node wrote
         * since in the other layout stays (fleet_obs). */
        if (!*pp || (*pp)->pooled != pooled)
            return false;
        struct fleet_obs *o = *pp;
        *pp = o->next;
        free(o);
        return true;
    }
    if (!*pp) {
        *pp = calloc(1, sizeof(**pp));
        if (!*pp)
            abort();
        (*pp)->node = node;
    }
    bool changed = (*pp)->state != state || (*pp)->pooled != pooled;
    (*pp)->state = state;
    (*pp)->t = t;
    if ((*pp)->pooled != pooled) /* the other kind's replay stamps mean nothing here */
        (*pp)->lease = (*pp)->mod_rev = 0, (*pp)->n = 0;
    (*pp)->pooled = pooled;
    return changed;
}

void fleet_obs_set(struct fleet *f, struct fleet_ep *ep, uint16_t node, uint8_t state, double t)
{
    pthread_mutex_lock(&f->lock);
    fleet_obs_put_locked(f, ep, node, state, t, false);
    pthread_mutex_unlock(&f->lock);
    fleet_recompute(f, ep);
}

/* ---- verdicts ---------------------------------------------------------- */

/* What this node knows of peer n and its report o, as fleet_decide reads
 * it (caller holds f->lock). */
static void fleet_decide_report_of(const struct fleet_node *n, const struct fleet_obs *o,
                                   struct fleet_decide_report *r)
{
    *r = (struct fleet_decide_report){.state = o->state,
                                      .stamp = o->t,
                                      .seq = o->n,
                                      .have_offset = n->have_offset,
                                      .offset = n->clock_offset,
                                      .heard = n->heard,
                                      .silent = n->silent,
                                      .quiet_from = n->quiet_from,
                                      .rejoining = n->rejoining,
                                      .back = n->back,
                                      .view_grace = n->view_grace};
}

/* This node's side of the inputs: its probe of ep, its gap, the last
 * election seen, now in both clocks (caller holds f->lock). */
static void fleet_decide_in_of(const struct fleet *f, const struct fleet_ep *ep,
                               struct fleet_decide_in *in)
{
    uint8_t own = ep->local && ep->slot ? (uint8_t)health_slot_probe(ep->slot) : HEALTH_UNKNOWN;
    *in = (struct fleet_decide_in){.quorum = f->p.quorum,
                                   .stale_after = f->p.stale_after,
                                   .now_mono = deadline_mono(),
                                   .now_wall = health_now(),
                                   .self = {.own = own,
                                            .own_since = ep->own_since,
                                            .blind = f->blind,
                                            .blind_from = f->blind_from,
                                            .blind_end = f->blind_end,
                                            .elect_at = f->elect.at}};
}

/* Whether this node's probe stands in for peer n's report o on ep
 * (fleet_decide_stands_in); own_wall: when this node's probe of ep
 * changed, in its wall clock. (caller holds f->lock) */
bool fleet_peer_unheard_locked(const struct fleet *f, const struct fleet_node *n,
                               const struct fleet_obs *o, const struct fleet_ep *ep,
                               double own_wall)
{
    struct fleet_decide_self self = {.own_since = ep->own_since,
                                     .blind = f->blind,
                                     .blind_from = f->blind_from,
                                     .blind_end = f->blind_end,
                                     .elect_at = f->elect.at};
    struct fleet_decide_report r;
    fleet_decide_report_of(n, o, &r);
    return fleet_decide_stands_in(&self, &r, own_wall);
}

/* The explanation of a verdict from how each report counted (nodes[i]: the
 * node of the i-th report). */
static void fleet_verdict_explain(const struct fleet *f, enum health_state v, uint8_t own,
                                  const uint16_t *nodes, const uint8_t *how, size_t n, char *why,
                                  size_t len)
{
    const char *downs[64], *ups[64];
    size_t nd = 0, nu = 0;
    if (own == HEALTH_DOWN)
        downs[nd++] = f->p.node;
    else if (own == HEALTH_UP)
        ups[nu++] = f->p.node;
    char silent[128] = "";
    for (size_t i = 0; i < n; i++) {
        const char *name = f->nodes[nodes[i]].name;
        if (how[i] & FLEET_DECIDE_AS_OWN) {
            size_t l = strlen(silent);
            snprintf(silent + l, sizeof(silent) - l, "%s%s", l ? ", " : "", name);
        }
        if ((how[i] & ~FLEET_DECIDE_AS_OWN) == HEALTH_DOWN) {
            if (nd < 64)
                downs[nd++] = name;
        } else if (nu < 64)
            ups[nu++] = name;
    }
    fleet_quorum_explain(v, downs, nd, ups, nu, why, len);
    size_t l = strlen(why);
    if (silent[0] && l < len)
        snprintf(why + l, len - l,
                 " [not heard from during an etcd election (%s), counted as this node's "
                 "probe: %s]",
                 f->elect.why, silent);
}

/* Gathers the inputs of ep's verdict into f's scratch (grown here, owned
 * by f, freed by fleet_free) and decides (fleet_decide.h). Names only for
 * an explanation: a verdict is computed for every endpoint a pool key or a
 * gap touches, and is explained only when it changed. */
enum health_state fleet_ep_verdict_locked(struct fleet *f, const struct fleet_ep *ep, char *why,
                                          size_t len)
{
    if (f->p.decision == FLEET_DECISION_STAMPED)
        return fleet_stamped_verdict_locked(f, ep, why, len);
    size_t n = 0;
    for (const struct fleet_obs *o = ep->obs; o; o = o->next)
        n++;
    if (n > f->dec_cap) {
        f->dec_reports = realloc(f->dec_reports, n * sizeof(*f->dec_reports));
        f->dec_nodes = realloc(f->dec_nodes, n * sizeof(*f->dec_nodes));
        f->dec_how = realloc(f->dec_how, n);
        if (!f->dec_reports || !f->dec_nodes || !f->dec_how)
            abort();
        f->dec_cap = n;
    }
    struct fleet_decide_in in;
    fleet_decide_in_of(f, ep, &in);
    n = 0;
    for (const struct fleet_obs *o = ep->obs; o; o = o->next) {
        if (o->node == f->self || o->node >= f->n_nodes || !f->nodes[o->node].live)
            continue;
        fleet_decide_report_of(&f->nodes[o->node], o, &f->dec_reports[n]);
        f->dec_nodes[n++] = o->node;
    }
    in.reports = f->dec_reports;
    in.n_reports = n;
    struct fleet_decide_out out;
    fleet_decide(&in, &out, f->dec_how);
    if (why)
        fleet_verdict_explain(f, out.verdict, in.self.own, f->dec_nodes, f->dec_how, n, why, len);
    return out.verdict;
}

unsigned fleet_disagreements_locked(struct fleet *f)
{
    unsigned n = 0;
    for (size_t i = 0; i < f->n_local; i++) {
        const struct fleet_ep *e = f->local[i];
        uint8_t own = (uint8_t)health_slot_probe(e->slot);
        n += own != HEALTH_UNKNOWN && e->verdict != HEALTH_UNKNOWN && own != e->verdict;
    }
    return n;
}

/* A fleet byte changed: the health core's listeners recompute what
 * depends on the state off the query path (the signatures of policy
 * answers, policy_sign.h; widened ECS scopes). While a batch is open
 * (fleet_batch_begin: a watch message, a round of own probe changes, a
 * recomputation of many endpoints) they are told once, at its end. */
static void fleet_tell_layers(struct fleet *f)
{
    if (f->batch) {
        f->batch_told = true;
        return;
    }
    health_hooks_tell(f->health, HEALTH_HOOK_LAYERS);
}

void fleet_batch_begin(struct fleet *f)
{
    f->batch++;
}

void fleet_batch_end(struct fleet *f)
{
    if (f->batch > 0 && --f->batch == 0 && f->batch_told) {
        f->batch_told = false;
        fleet_tell_layers(f);
    }
}

/* The verdict of ep again; its explanation (a format of every vantage
 * point's name) is made only for the log line of a verdict that changed. */
static void fleet_recompute_one(struct fleet *f, struct fleet_ep *ep, bool log)
{
    pthread_mutex_lock(&f->lock);
    uint8_t before = ep->verdict;
    ep->verdict = (uint8_t)fleet_ep_verdict_locked(f, ep, NULL, 0);
    uint8_t after = ep->verdict;
    char why[256] = "";
    if (log && ep->local && before != after)
        fleet_ep_verdict_locked(f, ep, why, sizeof(why));
    pthread_mutex_unlock(&f->lock);
    if (ep->local && ep->slot && !f->degraded) {
        bool changed = health_slot_fleet(ep->slot) != (enum health_state)after;
        health_slot_set_fleet(ep->slot, (enum health_state)after);
        if (changed)
            fleet_tell_layers(f);
    }
    if (log && ep->local && before != after) {
        char q[300];
        log_info("event=fleet_verdict endpoint=%s from=%s to=%s why=\"%s\"", ep->key,
                 health_state_name(before), health_state_name(after), log_quote(why, q, sizeof(q)));
        event_ring_push(f->health->events, "fleet",
                        json_pack("{s:s, s:s, s:s, s:s, s:s}", "action", "verdict", "endpoint",
                                  ep->key, "from", health_state_name(before), "to",
                                  health_state_name(after), "why", why));
    }
}

void fleet_recompute(struct fleet *f, struct fleet_ep *ep)
{
    fleet_recompute_one(f, ep, true);
}

void fleet_recompute_all(struct fleet *f)
{
    fleet_batch_begin(f);
    for (size_t b = 0; b < f->n_buckets; b++)
        for (struct fleet_ep *e = f->buckets[b]; e; e = e->next)
            fleet_recompute_one(f, e, true);
    fleet_batch_end(f);
}

void fleet_recompute_probed(struct fleet *f)
{
    fleet_batch_begin(f);
    for (size_t i = 0; i < f->n_local; i++) {
        struct fleet_ep *e = f->local[i];
        enum health_state own = e->slot ? health_slot_probe(e->slot) : HEALTH_UNKNOWN;
        if (own == HEALTH_UP || own == HEALTH_DOWN)
            fleet_recompute_one(f, e, true);
    }
    fleet_batch_end(f);
}

void fleet_set_degraded(struct fleet *f, bool degraded)
{
    if (f->degraded == degraded)
        return;
    pthread_mutex_lock(&f->lock);
    f->degraded = degraded;
    if (degraded)
        f->degraded_total++;
    pthread_mutex_unlock(&f->lock);
    if (f->drills) { /* practice drills wait while the fleet is degraded */
        char why[128];
        snprintf(why, sizeof(why), "no reply from etcd %s for %.0f s", etcd_endpoint(f->etcd),
                 f->p.stale_after);
        drill_core_set_fleet_degraded(f->drills, degraded ? why : NULL);
    }
    if (degraded) {
        /* Own probes again: the last known fleet state is too old. A
         * watcher has none: it keeps its last view (its isolation action
         * decides what it answers). */
        for (size_t i = 0; f->p.publish && i < f->n_local; i++)
            health_slot_set_fleet(f->local[i]->slot, HEALTH_UNKNOWN);
        fleet_tell_layers(f);
        log_warn("event=fleet_degraded node=%s etcd=%s stale_after=%.0f "
                 "note=\"no reply from etcd: serving own probes\"",
                 f->p.node, etcd_endpoint(f->etcd), f->p.stale_after);
        event_ring_push(f->health->events, "fleet",
                        json_pack("{s:s, s:s}", "action", "degraded", "node", f->p.node));
    } else {
        fleet_recompute_all(f);
        log_info("event=fleet_recovered node=%s etcd=%s revision=%lld", f->p.node,
                 etcd_endpoint(f->etcd), (long long)f->rev);
        event_ring_push(f->health->events, "fleet",
                        json_pack("{s:s, s:s}", "action", "recovered", "node", f->p.node));
    }
}

/* ---- events ------------------------------------------------------------ */

/* Own probe states changed (health core hook, prober thread). */
static void fleet_hook_state_changed(void *arg)
{
    struct fleet *f = arg;
    event_active(f->ev_probe, EV_TIMEOUT, 0);
}

static void fleet_on_probe(evutil_socket_t fd, short what, void *arg)
{
    struct fleet *f = arg;
    fleet_batch_begin(f);
    for (size_t i = 0; i < f->n_local; i++) {
        struct fleet_ep *e = f->local[i];
        uint8_t own = (uint8_t)health_slot_probe(e->slot);
        if (own != e->own) {
            e->own = own;
            pthread_mutex_lock(&f->lock);
            e->own_since = deadline_mono();
            pthread_mutex_unlock(&f->lock);
            fleet_recompute(f, e);
        }
    }
    fleet_batch_end(f);
    fleet_publish(f);
}

/* Adopts the endpoint list handed over by fleet_set_endpoints. */
static void fleet_on_pending(evutil_socket_t fd, short what, void *arg)
{
    struct fleet *f = arg;
    pthread_mutex_lock(&f->lock);
    char **keys = f->pending_keys;
    struct health_slot **slots = f->pending_slots;
    size_t n = f->n_pending;
    bool have = f->have_pending, hash = f->hash_pending;
    f->pending_keys = NULL;
    f->pending_slots = NULL;
    f->n_pending = 0;
    f->have_pending = f->hash_pending = false;
    pthread_mutex_unlock(&f->lock);
    if (!have) {
        if (hash) { /* the same endpoints: only the node record says more */
            f->node_put_due = true;
            fleet_publish(f);
        }
        return;
    }
    fleet_adopt_local(f, (const char *const *)keys, slots, n);
    for (size_t i = 0; i < n; i++)
        free(keys[i]);
    free(keys);
    free(slots);
    f->node_put_due = true;
    fleet_publish(f);
}

void fleet_adopt_local(struct fleet *f, const char *const *keys, struct health_slot *const *slots,
                       size_t n)
{
    struct fleet_ep **local = calloc(n ? n : 1, sizeof(*local));
    if (!local)
        abort();
    for (size_t i = 0; i < n; i++)
        local[i] = fleet_ep_get(f, keys[i], true);
    pthread_mutex_lock(&f->lock);
    for (size_t i = 0; i < f->n_local; i++)
        f->local[i]->local = false;
    for (size_t i = 0; i < n; i++) {
        local[i]->slot = slots[i];
        local[i]->local = true;
        local[i]->own = (uint8_t)health_slot_probe(slots[i]);
    }
    free(f->local);
    f->local = local;
    f->n_local = n;
    pthread_mutex_unlock(&f->lock);
    f->eps_keys_dirty = true; /* endpoints no longer checked: their keys go */
    fleet_pools_adopt_local(f);
    fleet_recompute_all(f);
}

static void fleet_on_tick(evutil_socket_t fd, short what, void *arg)
{
    struct fleet *f = arg;
    fleet_sync_tick(f);
    fleet_rtt_tick(f, deadline_mono());
    fleet_adopt_recheck(f, deadline_mono());
    fleet_store_expire(f);
    fleet_store_run_jobs(f);
    fleet_config_run(f);
}

static void fleet_on_jobs(evutil_socket_t fd, short what, void *arg)
{
    fleet_store_expire(arg); /* also the drills this node ended */
    fleet_store_run_jobs(arg);
    fleet_config_run(arg);
}

/* Whether a put of the node record due now may go (FLEET_NODE_PUT_REST_S
 * since the last one began); if not, ev_node_put publishes it then. */
bool fleet_node_put_rested(struct fleet *f)
{
    double wait = f->node_put_at + FLEET_NODE_PUT_REST_S - deadline_mono();
    if (wait <= 0 || !f->ev_node_put)
        return true;
    struct timeval tv = {0, (suseconds_t)(wait * 1e6) + 1};
    evtimer_add(f->ev_node_put, &tv);
    return false;
}

/* A put of the node record waited for its rest (fleet_node_put_rested). */
static void fleet_on_node_put_rested(evutil_socket_t fd, short what, void *arg)
{
    fleet_publish(arg);
}

static void fleet_on_stop(evutil_socket_t fd, short what, void *arg)
{
    struct fleet *f = arg;
    fleet_revoke_lease(f);
}

static void *fleet_main(void *arg)
{
    struct fleet *f = arg;
    fleet_sync_start(f);
    event_base_loop(f->base, EVLOOP_NO_EXIT_ON_EMPTY);
    return NULL;
}

/* ---- life cycle -------------------------------------------------------- */

static void fleet_copy_params(struct fleet_params *d, const struct fleet_params *s)
{
    *d = *s;
    d->etcd.urls = calloc(s->etcd.n_urls ? s->etcd.n_urls : 1, sizeof(char *));
    if (!d->etcd.urls)
        abort();
    for (size_t i = 0; i < s->etcd.n_urls; i++)
        d->etcd.urls[i] = fleet_strdup(s->etcd.urls[i]);
    d->etcd.username = s->etcd.username ? fleet_strdup(s->etcd.username) : NULL;
    d->etcd.password = s->etcd.password ? fleet_strdup(s->etcd.password) : NULL;
    d->etcd.ca_file = s->etcd.ca_file ? fleet_strdup(s->etcd.ca_file) : NULL;
    d->etcd.cert_file = s->etcd.cert_file ? fleet_strdup(s->etcd.cert_file) : NULL;
    d->etcd.key_file = s->etcd.key_file ? fleet_strdup(s->etcd.key_file) : NULL;
    d->peer_listen = s->peer_listen ? fleet_strdup(s->peer_listen) : NULL;
    d->password_file = s->password_file ? fleet_strdup(s->password_file) : NULL;
    d->key_secret_file = s->key_secret_file ? fleet_strdup(s->key_secret_file) : NULL;
    d->prefix = fleet_strdup(s->prefix);
    d->node = fleet_strdup(s->node);
    fleet_keys_copy(&d->keys, &s->keys);
}

void fleet_free(struct fleet *f)
{
    /* Calls still out end now (ETCD_ERR_CANCELLED): as replies of an old
     * sync, they free their state and start nothing. */
    f->sync_step++;
    fleet_work_free_all(f); /* before the events and calls their done may touch */
    fleet_peer_free(f);     /* its events are on f->base */
    fleet_stamped_free(f);  /* so is its clock */
    etcd_free(f->etcd);
    fleet_election_free(f);
    struct event *evs[] = {f->ev_tick,    f->ev_probe, f->ev_jobs,
                           f->ev_pending, f->ev_stop,  f->ev_node_put};
    for (size_t i = 0; i < sizeof(evs) / sizeof(evs[0]); i++)
        if (evs[i])
            event_free(evs[i]);
    if (f->base)
        event_base_free(f->base);
    fleet_store_free(f);
    fleet_pools_free(f);
    json_decref(f->read_kvs);
    pthread_mutex_lock(&f->lock);
    fleet_clear_locked(f);
    pthread_mutex_unlock(&f->lock);
    for (size_t b = 0; f->buckets && b < f->n_buckets; b++)
        while (f->buckets[b]) {
            struct fleet_ep *e = f->buckets[b];
            f->buckets[b] = e->next;
            fleet_peer_ep_free(e);
            free(e->key);
            free(e);
        }
    free(f->buckets);
    free(f->local);
    free(f->nodes);
    free(f->dec_reports);
    free(f->dec_nodes);
    free(f->dec_how);
    for (size_t i = 0; i < f->n_pending; i++)
        free(f->pending_keys[i]);
    free(f->pending_keys);
    free(f->pending_slots);
    free(f->sent_text);
    free(f->sent_slots);
    json_decref(f->vantage);
    json_decref(f->cfg.own);
    fleet_params_free(&f->p);
    pthread_mutex_destroy(&f->lock);
    pthread_cond_destroy(&f->cond);
    free(f);
}

struct fleet *fleet_new(const struct fleet_params *p, const struct fleet_env *env, char *err,
                        size_t errlen)
{
    struct fleet *f = calloc(1, sizeof(*f));
    if (!f)
        abort();
    evthread_use_pthreads();
    pthread_mutex_init(&f->lock, NULL);
    pthread_cond_init(&f->cond, NULL);
    fleet_copy_params(&f->p, p);
    /* The heartbeat puts an event on the watch every FLEET_BEAT_S: a watch
     * silent for half of stale_after (at least 2 s) is dead. */
    f->p.etcd.watch_idle_s = f->p.stale_after / 2 > 2 ? f->p.stale_after / 2 : 2;
    f->p.etcd.connect_s = FLEET_CONNECT_S; /* a member that drops packets: fleet_int.h */
    f->p.etcd.watch_probe_s = FLEET_WATCH_PROBE_S;
    f->health = env->health;
    f->health_service = env->health_service;
    f->unsafe = env->unsafe;
    f->unsafe_arg = env->unsafe_arg;
    f->cfg.on_config = env->on_config;
    f->cfg.arg = env->config_arg;
    f->cfg.applied = env->config_applied;
    f->cfg.seen = env->config_applied;
    f->cfg.own = json_incref(env->config_own);
    snprintf(f->version, sizeof(f->version), "%s", env->version ? env->version : "");
    f->vantage = json_array();
    for (size_t i = 0; i < env->n_vantage; i++)
        json_array_append_new(f->vantage, json_string(env->vantage[i]));
    f->n_buckets = 65536;
    f->buckets = calloc(f->n_buckets, sizeof(*f->buckets));
    if (!f->buckets)
        abort();
    f->self = fleet_node_get(f, f->p.node);
    f->url = f->p.etcd.urls[0];
    f->base = event_base_new();
    f->etcd = f->base ? etcd_new(f->base, &f->p.etcd, err, errlen) : NULL;
    if (!f->etcd) {
        if (!f->base)
            snprintf(err, errlen, "fleet: cannot create an event base");
        fleet_free(f);
        return NULL;
    }
    f->ev_tick = event_new(f->base, -1, EV_PERSIST, fleet_on_tick, f);
    f->ev_probe = event_new(f->base, -1, 0, fleet_on_probe, f);
    f->ev_jobs = event_new(f->base, -1, 0, fleet_on_jobs, f);
    f->ev_pending = event_new(f->base, -1, 0, fleet_on_pending, f);
    f->ev_stop = event_new(f->base, -1, 0, fleet_on_stop, f);
    f->ev_node_put = event_new(f->base, -1, 0, fleet_on_node_put_rested, f);
    f->last_ok = deadline_mono();
    f->fresh_at = f->last_ok; /* degraded after stale_after without a first sync */
    if (fleet_store_init(f, env->drills) != 0) {
        snprintf(err, errlen, "fleet: no free drill listener slot");
        fleet_free(f);
        return NULL;
    }
    return f;
}

struct fleet *fleet_start(const struct fleet_params *p, const struct fleet_env *env, char *err,
                          size_t errlen)
{
    struct fleet *f = fleet_new(p, env, err, errlen);
    if (!f)
        return NULL;
    /* The direct channel (fleet_peer.h): fleet.peer_listen, else the
     * admin API's address with a port the kernel picks. */
    const char *listen = p->peer_listen ? p->peer_listen : env->peer_default;
    if (!p->peer_off && listen && fleet_peer_open(f, listen, err, errlen) != 0) {
        fleet_store_stop(f);
        fleet_free(f);
        return NULL;
    }
    struct timeval tick = {0, (suseconds_t)(FLEET_TICK_S * 1e6)};
    evtimer_add(f->ev_tick, &tick);
    if (fleet_stamped_start(f) != 0) {
        fleet_store_stop(f);
        snprintf(err, errlen, "fleet: cannot start the decision's timer");
        fleet_free(f);
        return NULL;
    }
    health_rtt_set_self(f->health, f->p.node); /* latency records: "this node" by name */
    struct health_hooks h = {.state_changed = fleet_hook_state_changed, .arg = f};
    if (health_core_add_hooks(f->health, &h) != 0) {
        fleet_store_stop(f);
        snprintf(err, errlen, "fleet: no free health listener slot");
        fleet_free(f);
        return NULL;
    }
    if (pthread_create(&f->thread, NULL, fleet_main, f) != 0) {
        health_core_remove_hooks(f->health, f);
        fleet_store_stop(f);
        snprintf(err, errlen, "fleet: cannot start the thread");
        fleet_free(f);
        return NULL;
    }
    pthread_setname_np(f->thread, "gtmd-fleet"); /* top -H, perf, gdb */
    log_info("event=fleet_start node=%s etcd=%s prefix=%s quorum=%s stale_after=%.0f "
             "decision=%s",
             f->p.node, etcd_endpoint(f->etcd), f->p.prefix,
             fleet_quorum_name(&f->p.quorum, (char[16]){0}, 16), f->p.stale_after,
             fleet_decision_name(f->p.decision));
    return f;
}

/* The keys of g's checked endpoints one after another, each with its
 * NUL (*len octets), and their slots (*n). Both owned by the caller. */
static char *fleet_endpoint_list(const struct gslb *g, size_t *len, struct health_slot ***slots,
                                 size_t *n)
{
    size_t cap = 0, k = 0, at = 0;
    for (size_t i = 0; g && i < g->n_pools; i++)
        for (size_t e = 0; g->pools[i].check >= 0 && e < g->pools[i].n_eps; e++)
            if (g->pools[i].eps[e].slot) {
                cap += strlen(g->pools[i].eps[e].key) + 1;
                k++;
            }
    char *text = malloc(cap ? cap : 1);
    *slots = calloc(k ? k : 1, sizeof(**slots));
    if (!text || !*slots)
        abort();
    k = 0;
    for (size_t i = 0; g && i < g->n_pools; i++)
        for (size_t e = 0; g->pools[i].check >= 0 && e < g->pools[i].n_eps; e++)
            if (g->pools[i].eps[e].slot) {
                size_t l = strlen(g->pools[i].eps[e].key) + 1;
                memcpy(text + at, g->pools[i].eps[e].key, l);
                at += l;
                (*slots)[k++] = g->pools[i].eps[e].slot;
            }
    *len = at;
    *n = k;
    return text;
}

/* Hands the list last built (f->sent_*) to the fleet thread as copies
 * (it frees them: fleet_on_pending), with the hash; under f->lock. */
static void fleet_hand_list_locked(struct fleet *f)
{
    for (size_t i = 0; i < f->n_pending; i++)
        free(f->pending_keys[i]);
    free(f->pending_keys);
    free(f->pending_slots);
    f->pending_keys = calloc(f->n_sent ? f->n_sent : 1, sizeof(*f->pending_keys));
    f->pending_slots = calloc(f->n_sent ? f->n_sent : 1, sizeof(*f->pending_slots));
    if (!f->pending_keys || !f->pending_slots)
        abort();
    const char *key = f->sent_text;
    for (size_t i = 0; i < f->n_sent; i++, key += strlen(key) + 1) {
        f->pending_keys[i] = fleet_strdup(key);
        f->pending_slots[i] = f->sent_slots[i];
    }
    f->n_pending = f->n_sent;
    f->have_pending = true;
}

void fleet_set_endpoints(struct fleet *f, const struct gslb *g, const char *config_hash)
{
    size_t len, n;
    struct health_slot **slots;
    char *text = fleet_endpoint_list(g, &len, &slots, &n);
    bool same = f->sent_any && n == f->n_sent && len == f->sent_len &&
                memcmp(slots, f->sent_slots, n * sizeof(*slots)) == 0 &&
                memcmp(text, f->sent_text, len) == 0;
    if (same) {
        free(text);
        free(slots);
    } else {
        free(f->sent_text);
        free(f->sent_slots);
        f->sent_text = text;
        f->sent_len = len;
        f->sent_slots = slots;
        f->n_sent = n;
        f->sent_any = true;
    }
    bool latency = false;
    for (size_t i = 0; g && !g->counted && i < g->n_records && !latency; i++)
        latency = gslb_rec(g, i)->policy == POLICY_LATENCY;
    atomic_store(&f->rtt_wanted, latency || (g && g->counted && g->n_latency > 0));
    pthread_mutex_lock(&f->lock);
    if (!same)
        fleet_hand_list_locked(f);
    f->hash_pending = true;
    snprintf(f->config_hash, sizeof(f->config_hash), "%s", config_hash ? config_hash : "");
    pthread_mutex_unlock(&f->lock);
    event_active(f->ev_pending, EV_TIMEOUT, 0);
}

bool fleet_wait_synced(struct fleet *f, double timeout_s)
{
    struct timespec ts = deadline_after(timeout_s);
    pthread_mutex_lock(&f->lock);
    while (!f->ever_synced)
        if (pthread_cond_timedwait(&f->cond, &f->lock, &ts) != 0)
            break;
    bool ok = f->ever_synced;
    pthread_mutex_unlock(&f->lock);
    return ok;
}

const struct shared_store *fleet_store(struct fleet *f)
{
    return &f->store;
}

const char *fleet_node(const struct fleet *f)
{
    return f->p.node;
}

void fleet_stop(struct fleet *f)
{
    if (!f)
        return;
    health_core_remove_hooks(f->health, f);
    fleet_store_stop(f);
    /* Revoke the lease on the fleet thread (bounded by the call timeout),
     * so the others drop this node's observations at once. */
    event_active(f->ev_stop, EV_TIMEOUT, 0);
    pthread_join(f->thread, NULL);
    fleet_store_fail_all(f, "gtmd is stopping");
    fleet_config_fail_all(f, "gtmd is stopping");
    for (size_t i = 0; i < f->n_local; i++)
        health_slot_set_fleet(f->local[i]->slot, HEALTH_UNKNOWN);
    health_set_policy_rcode(f->health, 0); /* no fleet: nothing to be isolated from */
    log_info("event=fleet_stop node=%s", f->p.node);
    fleet_free(f);
}

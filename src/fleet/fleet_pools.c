/*
 * fleet_pools.c -- key layout 3: one key per node and pool.
 *
 * A node of layout 2 writes one key per endpoint it checks
 * (reports/NODE/POOL/NAME): a region that fails costs one key per endpoint
 * and node, and every node's watch receives every one of them. Layout 3
 * writes one key per node and pool, reports/NODE/POOL, holding the pool's
 * endpoints this node has a state for: {"t": time, "up": [NAME, ...],
 * "down": [NAME, ...]} (signed like a report: lease, "n", signer, sig).
 * Changes are gathered and written in one round of transactions at most
 * once a tick (FLEET_TICK_S): a region of thousands of endpoints failing
 * is one transaction per node and tick (128 pools per transaction, etcd's
 * default --max-txn-ops), whatever the number of endpoints.
 *
 * Readers turn a pool key into one report per listed endpoint (obs,
 * marked pooled) for the quorum code, and remove the reports of endpoints
 * it no longer lists. A pooled report is removed only by its pool key, an
 * endpoint key's report only by its endpoint key: a node that moves from
 * one layout to the other (fleet_pools_layout) writes the new keys first
 * and deletes the old ones after, and its vote never goes meanwhile.
 *
 * The key stays under reports/NODE/, so the etcd role of a node (its own
 * range, doc/fleet.md) covers it unchanged. The last segment has no "/":
 * that, and a value with "up" or "down", tells it from an endpoint key.
 *
 * Fleet thread only, but for obs (f->lock).
 */
#include <event2/event.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "dns/name.h"
#include "fleet/fleet_int.h"

#define FLEET_POOL_BUCKETS 4096

static char *fleet_pools_strdup(const char *s, size_t n)
{
    char *d = strndup(s, n);
    if (!d)
        abort();
    return d;
}

int fleet_pools_layout(const struct fleet *f)
{
    /* One gate for what a fleet writes (fleet_compat.h): the release
     * before (format 2, 6de6f80) reads only per-endpoint keys, every
     * release of format 3 reads pool keys. So pool keys are written once
     * the fleet's write format is 3, by the same rule as every other
     * record: the lowest format any member announced, remembered after it
     * goes, an unseen configured member counting as the release before. */
    return fleet_compat_write_format(f) >= FLEET_FORMAT_CUR ? FLEET_LAYOUT_POOLS : 2;
}

/* "endpoint:POOL/NAME" -> POOL (length *n) and NAME; NULL without a "/". */
static const char *fleet_pools_split(const char *key, size_t *n, const char **name)
{
    const char *p = strncmp(key, "endpoint:", 9) == 0 ? key + 9 : key;
    const char *slash = strchr(p, '/');
    if (!slash)
        return NULL;
    *n = (size_t)(slash - p);
    *name = slash + 1;
    return p;
}

/* ---- this node's pools -------------------------------------------------- */

static struct fleet_own_pool *fleet_own_pool_get(struct fleet *f, const char *pool, size_t len)
{
    for (struct fleet_own_pool *p = f->own_pools; p; p = p->next)
        if (strlen(p->pool) == len && memcmp(p->pool, pool, len) == 0)
            return p;
    struct fleet_own_pool *p = calloc(1, sizeof(*p));
    if (!p)
        abort();
    p->pool = fleet_pools_strdup(pool, len);
    p->next = f->own_pools;
    f->own_pools = p;
    return p;
}

static void fleet_own_pool_add(struct fleet_own_pool *p, struct fleet_ep *e)
{
    struct fleet_ep **eps = realloc(p->eps, (p->n + 1) * sizeof(*eps));
    if (!eps)
        abort();
    p->eps = eps;
    p->eps[p->n++] = e;
    e->pool = p;
}

/* Frees the pools that neither the configuration lists nor etcd holds. */
static void fleet_own_pools_prune(struct fleet *f)
{
    struct fleet_own_pool **pp = &f->own_pools;
    while (*pp) {
        struct fleet_own_pool *p = *pp;
        if (p->listed || p->in_etcd || p->refs) {
            pp = &p->next;
            continue;
        }
        *pp = p->next;
        free(p->eps);
        free(p->pool);
        free(p);
    }
}

void fleet_pools_adopt_local(struct fleet *f)
{
    for (struct fleet_own_pool *p = f->own_pools; p; p = p->next) {
        for (size_t i = 0; i < p->n; i++)
            p->eps[i]->pool = NULL;
        p->n = 0;
        p->listed = false;
    }
    for (size_t i = 0; i < f->n_local; i++) {
        struct fleet_ep *e = f->local[i];
        size_t len;
        const char *name, *pool = fleet_pools_split(e->key, &len, &name);
        if (!pool || len == 0 || !name[0])
            continue;
        struct fleet_own_pool *p = fleet_own_pool_get(f, pool, len);
        p->listed = true;
        fleet_own_pool_add(p, e);
    }
    fleet_own_pools_prune(f);
}

static bool fleet_own_pool_dirty(const struct fleet *f, const struct fleet_own_pool *p);

/* What this node's pool key lists for e: its probe, or nothing (layout 2,
 * a watcher, an endpoint it no longer checks). */
static uint8_t fleet_pools_want(const struct fleet *f, const struct fleet_ep *e)
{
    return f->layout_out == FLEET_LAYOUT_POOLS && f->p.publish && e->local && e->slot
               ? (uint8_t)health_slot_probe(e->slot)
               : HEALTH_UNKNOWN;
}

bool fleet_pools_pending(const struct fleet *f)
{
    for (const struct fleet_own_pool *p = f->own_pools; p; p = p->next)
        if (p->writing || fleet_own_pool_dirty(f, p))
            return true;
    return false;
}

static bool fleet_own_pool_dirty(const struct fleet *f, const struct fleet_own_pool *p)
{
    if (p->writing)
        return false;
    bool any = false;
    for (size_t i = 0; i < p->n; i++) {
        uint8_t want = fleet_pools_want(f, p->eps[i]);
        if (want != p->eps[i]->pool_pub)
            return true;
        any |= want != HEALTH_UNKNOWN;
    }
    /* Nothing to say (no state yet, no endpoint left, a watcher): the key
     * goes; one put back under it (a replay) is written again. */
    return (!any && p->in_etcd) || (any && p->dirty);
}

/* The put of p's key with the states now (or its delete when it would
 * list nothing); *bytes: the value's size. Its "t" is the earliest last
 * run of the probes it lists (the key says their states as of then; now
 * when none has run), its "rrev" its sequence in this run, noted in
 * *rrev (fleet_stamp.h). */
static json_t *fleet_own_pool_op(struct fleet *f, struct fleet_own_pool *p, uint8_t *states,
                                 size_t *bytes, uint64_t *rrev)
{
    char *key = fleet_key(f, FLEET_REPORTS, f->p.node, p->pool);
    json_t *up = json_array(), *down = json_array();
    int64_t oldest = 0;
    for (size_t i = 0; i < p->n; i++) {
        /* Read before the state (health_slot_ran_at). */
        int64_t ran = p->eps[i]->slot ? health_slot_ran_at(p->eps[i]->slot) : 0;
        states[i] = fleet_pools_want(f, p->eps[i]);
        if (states[i] != HEALTH_UNKNOWN && ran > 0 && (oldest == 0 || ran < oldest))
            oldest = ran;
        const char *name = "";
        size_t len;
        fleet_pools_split(p->eps[i]->key, &len, &name);
        if (states[i] == HEALTH_UP || states[i] == HEALTH_DOWN)
            json_array_append_new(states[i] == HEALTH_UP ? up : down, json_string(name));
    }
    json_t *op;
    *bytes = strlen(key) + 32;
    if (json_array_size(up) + json_array_size(down) == 0) {
        json_decref(up);
        json_decref(down);
        op = json_pack("{s:{s:o}}", "request_delete_range", "key", fleet_b64s(key));
    } else {
        double now = health_now(), ran = fleet_stamp_probe_wall(oldest, health_mono_ms(), now);
        json_t *v = json_pack("{s:f, s:o, s:o}", "t", ran > 0 ? ran : now, "up", up, "down", down);
        *rrev = ++f->report_rrev;
        fleet_stamp_report_put(v, *rrev);
        op = fleet_report_put_op(f, key, v, &p->pub_n, bytes);
    }
    free(key);
    return op;
}

/* One publishing transaction of pools: what it wrote. */
struct fleet_pools_call {
    struct fleet *f;
    unsigned gen;
    size_t n;
    struct fleet_own_pool *pools[FLEET_TXN_OPS];
    uint8_t *states[FLEET_TXN_OPS]; /* per pool, per endpoint */
    uint64_t rrev_hi;               /* the highest report sequence in it (fleet_stamp.h) */
};

static void fleet_pools_on_publish(void *arg, enum etcd_status st, json_t *resp, const char *err)
{
    (void)resp;
    struct fleet_pools_call *c = arg;
    struct fleet *f = c->f;
    bool current = c->gen == f->sync_step;
    for (size_t i = 0; i < c->n; i++) {
        c->pools[i]->refs--;
        if (current) /* a fresh read since has cleared it, and may have set it again */
            c->pools[i]->writing = false;
    }
    if (current && f->publishing > 0)
        f->publishing--;
    bool ok = current && fleet_sync_reply(f, c->gen, st, "publish", err);
    for (size_t i = 0; i < c->n; i++) {
        struct fleet_own_pool *p = c->pools[i];
        bool any = false;
        for (size_t e = 0; ok && e < p->n; e++) {
            p->eps[e]->pool_pub = c->states[i][e];
            any |= c->states[i][e] != HEALTH_UNKNOWN;
        }
        if (ok) {
            p->in_etcd = any;
            p->dirty = false;
        }
        free(c->states[i]);
    }
    if (ok && c->rrev_hi > f->report_rrev_acked)
        f->report_rrev_acked = c->rrev_hi;
    if (ok) {
        pthread_mutex_lock(&f->lock);
        f->writes++;
        f->keys_written += c->n;
        pthread_mutex_unlock(&f->lock);
    }
    free(c);
    if (ok) {
        fleet_own_pools_prune(f);
        fleet_publish(f); /* what changed meanwhile waits for the next tick */
    }
}

/* One transaction of the dirty pools not being written (at most
 * FLEET_TXN_OPS keys and FLEET_POOL_TXN_BYTES); false when none is dirty. */
static bool fleet_pools_publish_one(struct fleet *f)
{
    struct fleet_pools_call *c = calloc(1, sizeof(*c));
    if (!c)
        abort();
    c->f = f;
    c->gen = f->sync_step;
    json_t *ops = json_array();
    size_t bytes = 0;
    for (struct fleet_own_pool *p = f->own_pools; p && c->n < FLEET_TXN_OPS; p = p->next) {
        if (!fleet_own_pool_dirty(f, p))
            continue;
        uint8_t *states = calloc(p->n ? p->n : 1, 1);
        if (!states)
            abort();
        size_t b;
        uint64_t rrev = 0;
        json_array_append_new(ops, fleet_own_pool_op(f, p, states, &b, &rrev));
        c->rrev_hi = rrev > c->rrev_hi ? rrev : c->rrev_hi;
        p->writing = true;
        p->refs++;
        c->pools[c->n] = p;
        c->states[c->n++] = states;
        if ((bytes += b) >= FLEET_POOL_TXN_BYTES)
            break;
    }
    if (c->n == 0) {
        json_decref(ops);
        free(c);
        return false;
    }
    f->publishing++;
    etcd_call(f->etcd, "/v3/kv/txn", json_pack("{s:o}", "success", ops), fleet_pools_on_publish, c);
    return true;
}

void fleet_pools_publish(struct fleet *f)
{
    double now = deadline_mono();
    if (f->conn != FLEET_CONN_SYNCED || now < f->next_pool_round)
        return; /* the tick comes back */
    bool sent = false;
    while (f->publishing < FLEET_PUBLISH_INFLIGHT && fleet_pools_publish_one(f))
        sent = true;
    if (sent)
        f->next_pool_round = now + FLEET_TICK_S;
}

void fleet_pools_check_layout(struct fleet *f)
{
    int want = fleet_pools_layout(f);
    if (want == f->layout_out)
        return;
    if (f->layout_out)
        log_info("event=fleet_layout node=%s from=%d to=%d", f->p.node, f->layout_out, want);
    /* Nothing to reset: pool_pub and published say what each layout's
     * keys hold, so the new layout's keys are written where they differ
     * and the old ones deleted (fleet_publish). */
    f->eps_keys_dirty = true;     /* the other layout's keys are written or deleted */
    pthread_mutex_lock(&f->lock); /* status reads it */
    f->layout_out = want;
    pthread_mutex_unlock(&f->lock);
}

/* ---- members' pool keys ----------------------------------------------- */

static struct fleet_pool **fleet_pools_slot(struct fleet *f, uint16_t node, const char *pool)
{
    if (!f->pools) {
        f->n_pool_buckets = FLEET_POOL_BUCKETS;
        f->pools = calloc(f->n_pool_buckets, sizeof(*f->pools));
        if (!f->pools)
            abort();
    }
    uint32_t h = (dns_name_hash((const uint8_t *)pool, strlen(pool)) + node * 40503u) %
                 (uint32_t)f->n_pool_buckets;
    struct fleet_pool **pp = &f->pools[h];
    while (*pp && ((*pp)->node != node || strcmp((*pp)->pool, pool) != 0))
        pp = &(*pp)->next;
    return pp;
}

static void fleet_pool_free(struct fleet_pool *p)
{
    free(p->eps);
    free(p->pool);
    free(p);
}

/* This node's own key as etcd holds it: what each endpoint's pool_pub is,
 * and a replay of an older value of ours to write over. */
static void fleet_pools_own_seen(struct fleet *f, const char *pool, json_t *v, const char *key,
                                 bool bulk)
{
    struct fleet_own_pool *p = fleet_own_pool_get(f, pool, strlen(pool));
    p->in_etcd = v != NULL;
    for (size_t i = 0; i < p->n; i++)
        p->eps[i]->pool_pub = HEALTH_UNKNOWN;
    if (!v) {
        fleet_own_pools_prune(f);
        return;
    }
    if (fleet_life_own_replayed(f, v, bulk, &p->seen_n)) {
        fleet_reject(f, key, FLEET_REJ_REPLAY, f->p.node, "an older pool report of this node");
        p->dirty = true;
        return;
    }
    static const char *const sides[] = {"up", "down"};
    for (int s = 0; s < 2; s++) {
        size_t i;
        json_t *n;
        json_array_foreach(json_object_get(v, sides[s]), i, n)
        {
            const char *name = json_string_value(n);
            for (size_t e = 0; name && e < p->n; e++) {
                const char *en = "";
                size_t len;
                fleet_pools_split(p->eps[e]->key, &len, &en);
                if (strcmp(en, name) == 0)
                    p->eps[e]->pool_pub = s == 0 ? HEALTH_UP : HEALTH_DOWN;
            }
        }
    }
}

/* The endpoints v lists, with their states, marked with mark; recomputes
 * the ones whose report changed (not in bulk). Returns the list. */
static struct fleet_ep **fleet_pools_apply(struct fleet *f, uint16_t node, const char *pool,
                                           json_t *v, uint32_t mark, bool bulk, size_t *n_out)
{
    static const char *const sides[] = {"up", "down"};
    size_t cap = json_array_size(json_object_get(v, "up")) +
                 json_array_size(json_object_get(v, "down")),
           n = 0;
    struct fleet_ep **eps = calloc(cap ? cap : 1, sizeof(*eps));
    if (!eps)
        abort();
    double t = json_number_value(json_object_get(v, "t"));
    for (int s = 0; s < 2; s++) {
        size_t i;
        json_t *j;
        json_array_foreach(json_object_get(v, sides[s]), i, j)
        {
            const char *name = json_string_value(j);
            char key[600];
            if (!name || !name[0] || strlen(pool) + strlen(name) > 580)
                continue;
            snprintf(key, sizeof(key), "endpoint:%s/%s", pool, name);
            struct fleet_ep *ep = fleet_ep_get(f, key, false);
            if (!ep && f->n_eps < f->n_local + FLEET_FOREIGN_EPS_MAX)
                ep = fleet_ep_get(f, key, true);
            if (!ep || ep->mark == mark)
                continue; /* beyond what etcd may make us remember, or listed twice */
            ep->mark = mark;
            eps[n++] = ep;
            pthread_mutex_lock(&f->lock);
            bool changed =
                fleet_obs_put_locked(f, ep, node, s == 0 ? HEALTH_UP : HEALTH_DOWN, t, true);
            pthread_mutex_unlock(&f->lock);
            if (changed && !bulk)
                fleet_recompute(f, ep);
        }
    }
    *n_out = n;
    return eps;
}

void fleet_pools_seen(struct fleet *f, const char *node_name, const char *pool, json_t *v,
                      int64_t lease, int64_t mod_rev, const char *key, bool bulk)
{
    if (!fleet_node_name_ok(node_name) || !pool[0] || strlen(pool) > 200)
        return;
    uint16_t node = fleet_node_get(f, node_name);
    if (node == FLEET_NODE_NONE)
        return;
    if (node == f->self) {
        fleet_pools_own_seen(f, pool, v, key, bulk);
        return;
    }
    struct fleet_pool **pp = fleet_pools_slot(f, node, pool), *p = *pp;
    if (!v && !p)
        return;
    if (v && p && !bulk && f->p.keys.enabled && p->lease == lease) {
        if (mod_rev <= p->mod_rev)
            return; /* delivered again (a watch restarted from an older revision) */
        if (fleet_life_n(v) < p->sig_n) {
            fleet_reject(f, key, FLEET_REJ_REPLAY, node_name,
                         "an older pool report of the member's lease than the one applied here");
            return;
        }
    }
    if (v)
        fleet_beat_report_stamp(f, node, v, bulk);
    if (v) {
        pthread_mutex_lock(&f->lock);
        double t = json_number_value(json_object_get(v, "t"));
        f->watch_lag = t > 0 ? health_now() - t : f->watch_lag;
        pthread_mutex_unlock(&f->lock);
    }
    uint32_t mark = ++f->pool_mark;
    size_t n = 0;
    struct fleet_ep **eps = v ? fleet_pools_apply(f, node, pool, v, mark, bulk, &n) : NULL;
    /* Endpoints it listed before and no longer does: its report goes. */
    for (size_t i = 0; p && i < p->n; i++) {
        if (p->eps[i]->mark == mark)
            continue;
        pthread_mutex_lock(&f->lock);
        bool changed = fleet_obs_put_locked(f, p->eps[i], node, HEALTH_UNKNOWN, 0, true);
        pthread_mutex_unlock(&f->lock);
        if (changed && !bulk)
            fleet_recompute(f, p->eps[i]);
    }
    if (!v) {
        *pp = p->next;
        fleet_pool_free(p);
        return;
    }
    if (!p) {
        p = calloc(1, sizeof(*p));
        if (!p)
            abort();
        p->node = node;
        p->pool = fleet_pools_strdup(pool, strlen(pool));
        *pp = p;
    }
    free(p->eps);
    p->eps = eps;
    p->n = n;
    p->lease = lease;
    p->mod_rev = mod_rev;
    p->sig_n = fleet_life_n(v);
}

void fleet_pools_begin_read(struct fleet *f)
{
    for (size_t b = 0; f->pools && b < f->n_pool_buckets; b++)
        while (f->pools[b]) {
            struct fleet_pool *p = f->pools[b];
            f->pools[b] = p->next;
            fleet_pool_free(p);
        }
    for (struct fleet_own_pool *p = f->own_pools; p; p = p->next) {
        p->in_etcd = false;
        p->writing = false;
        for (size_t i = 0; i < p->n; i++)
            p->eps[i]->pool_pub = HEALTH_UNKNOWN;
    }
    f->next_pool_round = 0;
}

void fleet_pools_free(struct fleet *f)
{
    fleet_pools_begin_read(f);
    free(f->pools);
    f->pools = NULL;
    while (f->own_pools) {
        struct fleet_own_pool *p = f->own_pools;
        f->own_pools = p->next;
        free(p->eps);
        free(p->pool);
        free(p);
    }
}

/*
 * policy.c -- the gslb set: lookups, aggregation, binding names.
 */
#include "policy/policy.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/bigalloc.h"
#include "common/jsoncfg.h"
#include "dns/dns.h"
#include "policy/policy_dial.h"
#include "policy/policy_latency.h"
#include "policy/policy_orders.h"
#include "policy/policy_ramp.h"

static void policy_endpoint_free(struct policy_endpoint *e)
{
    free(e->name);
    free(e->key);
    free(e->address_str);
    if (e->rtype == DNS_TYPE_CNAME)
        free(e->rd.cname);
    free(e->check_host);
    free(e->kid_slots);
}

void gslb_ref(struct gslb *g)
{
    atomic_fetch_add(&g->refs, 1);
}

static struct gslb *gslb_free_one(struct gslb *g);

void gslb_unref(struct gslb *g)
{
    /* A set freed lets its successor go: a loop, not a recursion. */
    while (g && atomic_fetch_sub(&g->refs, 1) == 1)
        g = gslb_free_one(g);
}

void gslb_release(void *g)
{
    gslb_unref(g);
}

/* Gives back the references gslb_map_health took: the last reference
 * of g is going, so no reader, plan or probe reaches these slots through
 * g any more. */
static void gslb_release_health(struct gslb *g, bool own_arrays)
{
    for (size_t i = 0; i < g->n_regions; i++)
        health_core_release(g->core, g->regions[i].slot);
    for (size_t i = 0; i < g->n_azs; i++)
        health_core_release(g->core, g->azs[i].slot);
    /* The endpoints' references are the pools arrays' owner's. */
    for (size_t i = 0; own_arrays && i < g->n_pools; i++)
        for (size_t k = 0; k < g->pools[i].n_eps; k++) {
            const struct policy_endpoint *e = &g->pools[i].eps[k];
            health_core_release(g->core, e->slot);
            int c = g->pools[i].check;
            for (size_t x = 0; e->kid_slots && x < g->checks[c].comp.n_of; x++)
                health_core_release(g->core, e->kid_slots[x]);
        }
}

bool gslb_index_in(const uint32_t *v, size_t n, size_t x)
{
    size_t lo = 0, hi = n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (v[mid] == x)
            return true;
        if (v[mid] < x)
            lo = mid + 1;
        else
            hi = mid;
    }
    return false;
}

/* prev leaves next the parts of the records next took (gslb.carried, or
 * for a set built in place gslb.owned: the redone ones stay prev's). */
static void gslb_carry(struct gslb *prev, struct gslb *next)
{
    if (next && gslb_inplace_from(next, prev)) {
        prev->owned_only = true;
        prev->owned = next->redone;
        prev->n_owned = next->n_redone;
        next->redone = NULL;
        next->n_redone = 0;
        return;
    }
    prev->carried = calloc(prev->n_records ? prev->n_records : 1, 1);
    if (!prev->carried)
        abort();
    for (size_t i = 0; next && next->from_g == prev && i < next->n_records; i++)
        if (next->from[i] != GSLB_COMPILED)
            prev->carried[next->from[i]] = 1;
}

void gslb_published(struct gslb *prev, struct gslb *next)
{
    if (prev && prev != next && !prev->successor) {
        gslb_carry(prev, next);
        prev->pools_carried = next && next->pools_from == prev;
        prev->arrays_carried = prev->pools_carried && next->pools_shared;
        if (next) {
            gslb_ref(next);
            prev->successor = next;
        }
    }
    if (next) {
        free(next->from);
        next->from = NULL;
        next->from_g = NULL;
        next->inplace = false;
        free(next->redone);
        next->redone = NULL;
        next->n_redone = 0;
        next->pools_from = NULL;
        next->pools_shared = false;
    }
}

void policy_record_ext_free(struct policy_record_ext *x)
{
    if (!x)
        return;
    for (size_t k = 0; k < x->n_fallback; k++)
        policy_endpoint_free(&x->fallback[k]);
    free(x->fallback);
    geo_map_free(x->geo);
    policy_latency_cfg_free(x->latency);
    free(x->geo_orders);
    free(x);
}

/* The parts record i of g points at, freed when g owns them (gslb.carried). */
static void gslb_free_record(struct gslb *g, size_t i)
{
    const struct policy_record *r = gslb_rec(g, i);
    if (g->from_g ? gslb_from(g, i) != GSLB_COMPILED : g->carried && g->carried[i])
        return; /* its origin's, or taken by the successor */
    policy_orders_release(r->regions);
    free(r->name_str);
    policy_record_ext_free((struct policy_record_ext *)(uintptr_t)r->ext);
}

/* The parts of every record g owns: of a set built in place and not
 * published, those it redid; of one whose successor was, those it kept
 * (gslb.owned); else a look at every record. */
static void gslb_free_records(struct gslb *g)
{
    if (g->from_g && g->inplace)
        for (size_t x = 0; x < g->n_redone; x++)
            gslb_free_record(g, g->redone[x]);
    else if (g->owned_only)
        for (size_t x = 0; x < g->n_owned; x++)
            gslb_free_record(g, g->owned[x]);
    else
        for (size_t i = 0; i < g->n_records; i++)
            gslb_free_record(g, i);
}

static void gslb_pool_tabs_unref(struct gslb_pool_tabs *t);

void gslb_free(struct gslb *g)
{
    gslb_unref(gslb_free_one(g));
}

/* Frees g; its successor, whose reference the caller now holds. */
static struct gslb *gslb_free_one(struct gslb *g)
{
    if (!g)
        return NULL;
    struct gslb *next = g->successor;
    /* The pools arrays (and the endpoints' slots) shared with the set
     * this one was built from until published, then carried to the next
     * (gslb.pools_shared). */
    bool own_arrays = !g->pools_shared && !g->arrays_carried;
    if (g->core)
        gslb_release_health(g, own_arrays);
    policy_ramp_free(g->ramp);
    for (size_t i = 0; i < g->n_regions; i++)
        free(g->regions[i].name);
    /* Pool strings taken from the running set are its own until this
     * set is published, then passed on with the pools (gslb.pools_from). */
    bool own_pools = !g->pools_from && !g->pools_carried;
    for (size_t i = 0; own_pools && i < g->n_azs; i++)
        free(g->azs[i].name);
    for (size_t i = 0; i < g->n_checks; i++) {
        free(g->checks[i].name);
        probe_spec_free(&g->checks[i].spec);
        free(g->checks[i].of);
    }
    for (size_t i = 0; own_arrays && i < g->n_pools; i++) {
        for (size_t k = 0; k < g->pools[i].n_eps; k++) {
            if (own_pools)
                policy_endpoint_free(&g->pools[i].eps[k]);
            else
                free(g->pools[i].eps[k].kid_slots); /* mapped for this set */
        }
        free(g->pools[i].eps);
        if (own_pools)
            free(g->pools[i].name);
    }
    gslb_free_records(g);
    free(g->from);
    free(g->carried);
    free(g->redone);
    free(g->owned);
    gslb_keys_unref(g->keys);
    gslb_pool_tabs_unref(g->pool_tabs);
    free(g->regions);
    free(g->azs);
    free(g->checks);
    if (own_arrays)
        free(g->pools);
    gslb_records_free(g);
    gslb_bindings_free(g);
    free(g);
    return next;
}

int gslb_region_index(const struct gslb *g, const char *name)
{
    for (size_t i = 0; i < g->n_regions; i++)
        if (strcmp(g->regions[i].name, name) == 0)
            return (int)i;
    return -1;
}

static uint32_t gslb_name_hash(const char *s)
{
    uint32_t h = 2166136261u; /* FNV-1a */
    for (; *s; s++)
        h = (h ^ (uint8_t)*s) * 16777619u;
    return h;
}

static void gslb_pool_tabs_unref(struct gslb_pool_tabs *t)
{
    if (!t || atomic_fetch_sub_explicit(&t->refs, 1, memory_order_acq_rel) != 1)
        return;
    free(t->index);
    free(t->types);
    free(t);
}

static bool gslb_pool_has(const struct policy_pool *p, uint16_t rtype)
{
    for (size_t i = 0; i < p->n_eps; i++)
        if (p->eps[i].rtype == rtype)
            return true;
    return false;
}

/* (Re)makes g's pool tables, its own: the parse adds every pool before a
 * record names one, so they are made from the complete pools. */
static struct gslb_pool_tabs *gslb_pool_tabs_make(struct gslb *g)
{
    struct gslb_pool_tabs *t = calloc(1, sizeof(*t));
    size_t size = 16;
    while (size < 2 * g->n_pools + 1)
        size *= 2;
    if (!t || !(t->index = calloc(size, sizeof(*t->index))) ||
        !(t->types = calloc(g->n_pools ? g->n_pools : 1, 1)))
        abort();
    atomic_init(&t->refs, 1);
    for (size_t i = 0; i < g->n_pools; i++) {
        size_t k = gslb_name_hash(g->pools[i].name) & (size - 1);
        while (t->index[k] && strcmp(g->pools[t->index[k] - 1].name, g->pools[i].name) != 0)
            k = (k + 1) & (size - 1);
        if (!t->index[k])
            t->index[k] = (uint32_t)i + 1;
        /* A pool's endpoints are far apart in memory: looking them over
         * for each of 100,000 records was a third of binding them (#38). */
        t->types[i] = (uint8_t)((gslb_pool_has(&g->pools[i], DNS_TYPE_A) ? GSLB_POOL_A : 0) |
                                (gslb_pool_has(&g->pools[i], DNS_TYPE_AAAA) ? GSLB_POOL_AAAA : 0));
    }
    t->mask = size - 1;
    t->n = g->n_pools;
    gslb_pool_tabs_unref(g->pool_tabs);
    g->pool_tabs = t;
    return t;
}

/* g's tables, made when missing or made for fewer pools (n_pools grew). */
static const struct gslb_pool_tabs *gslb_pool_tabs(const struct gslb *g)
{
    /* A cache of the pools (see struct gslb): made on the thread that
     * builds g or reloads, never a DNS worker's. */
    struct gslb *w = (struct gslb *)g;
    if (!w->pool_tabs || w->pool_tabs->n != w->n_pools)
        return gslb_pool_tabs_make(w);
    return w->pool_tabs;
}

void gslb_pool_tabs_share(struct gslb *g, const struct gslb *from)
{
    struct gslb_pool_tabs *t = from->pool_tabs;
    if (!t || t->n != from->n_pools || g->n_pools != from->n_pools)
        return;
    atomic_fetch_add_explicit(&t->refs, 1, memory_order_relaxed);
    gslb_pool_tabs_unref(g->pool_tabs);
    g->pool_tabs = t;
}

const uint8_t *gslb_pool_types(const struct gslb *g)
{
    return gslb_pool_tabs(g)->types;
}

int gslb_pool_index(const struct gslb *g, const char *name)
{
    if (g->n_pools == 0)
        return -1;
    const struct gslb_pool_tabs *t = gslb_pool_tabs(g);
    for (size_t k = gslb_name_hash(name) & t->mask; t->index[k]; k = (k + 1) & t->mask)
        if (strcmp(g->pools[t->index[k] - 1].name, name) == 0)
            return (int)(t->index[k] - 1);
    return -1;
}

/* The dial's decision for the overlay's client: out of line, so that the
 * common path below (no dial) stays small enough to be inlined into the
 * state functions of the query path. */
__attribute__((noinline)) static enum health_state
gslb_slot_dialed(const struct health_slot *s, uint64_t d, const struct policy_overlay *ov)
{
    if (policy_dial_bucket(ov->client, health_dial_salt(d)) < health_dial_share(d))
        return health_dial_state(d);
    return health_slot_override(s);
}

static inline enum health_state gslb_override_of(const struct health_slot *s,
                                                 const struct policy_overlay *ov)
{
    if (!s)
        return HEALTH_UNKNOWN;
    if (ov && ov->slot == s)
        return ov->state;
    uint64_t d = health_slot_dial(s);
    if (__builtin_expect(d != 0, 0) && ov && ov->client)
        return gslb_slot_dialed(s, d, ov);
    return health_slot_override(s);
}

enum health_state gslb_slot_override(const struct health_slot *s, const struct policy_overlay *ov)
{
    return gslb_override_of(s, ov);
}

enum health_state gslb_slot_drill(const struct health_slot *s, const struct policy_overlay *ov)
{
    if (!s)
        return HEALTH_UNKNOWN;
    for (size_t i = 0; ov && i < ov->n_lost; i++)
        if (ov->lost[i] == s)
            return HEALTH_DOWN;
    return health_slot_drill(s);
}

static enum health_state gslb_slot_external(const struct health_slot *s,
                                            const struct policy_overlay *ov)
{
    if (s && ov && ov->ext_down == s)
        return HEALTH_DOWN;
    return s ? health_slot_external(s) : HEALTH_UNKNOWN;
}

enum health_state gslb_endpoint_state(const struct gslb *g, const struct policy_endpoint *e,
                                      const struct policy_overlay *ov)
{
    return gslb_endpoint_state_at(g, e, ov, NULL);
}

static void gslb_fold(int64_t *change_at, int64_t t)
{
    if (t && (!*change_at || t < *change_at))
        *change_at = t;
}

/* An override (or dial) on the endpoint, its az or its region that
 * expires changes its layered state then. */
static void gslb_fold_overrides(const struct gslb *g, const struct policy_endpoint *e,
                                int64_t *change_at)
{
    const struct health_slot *rs = g->regions[e->region].slot;
    if (e->slot)
        gslb_fold(change_at, health_slot_override_until(e->slot));
    if (e->az != UINT16_MAX && g->azs[e->az].slot)
        gslb_fold(change_at, health_slot_override_until(g->azs[e->az].slot));
    if (rs)
        gslb_fold(change_at, health_slot_override_until(rs));
}

enum health_state gslb_endpoint_state_at(const struct gslb *g, const struct policy_endpoint *e,
                                         const struct policy_overlay *ov, int64_t *change_at)
{
    if (change_at)
        gslb_fold_overrides(g, e, change_at);
    /* The drill layer is above every override: an operator's "up" does
     * not undo a drill (DESIGN.md section 2). */
    if (gslb_slot_drill(g->regions[e->region].slot, ov) == HEALTH_DOWN ||
        (e->az != UINT16_MAX && gslb_slot_drill(g->azs[e->az].slot, ov) == HEALTH_DOWN))
        return HEALTH_DOWN;
    enum health_state o = gslb_override_of(e->slot, ov);
    if (o == HEALTH_UNKNOWN && e->az != UINT16_MAX)
        o = gslb_override_of(g->azs[e->az].slot, ov);
    if (o == HEALTH_UNKNOWN)
        o = gslb_override_of(g->regions[e->region].slot, ov);
    if (o != HEALTH_UNKNOWN)
        return o;
    /* An external "down" verdict (verdict.h) on the endpoint's az or region
     * sits with the probe layer: above probes and the fleet, below
     * overrides; the endpoint's own is in health_slot_observed. */
    if (gslb_slot_external(g->regions[e->region].slot, ov) == HEALTH_DOWN ||
        (e->az != UINT16_MAX && gslb_slot_external(g->azs[e->az].slot, ov) == HEALTH_DOWN) ||
        (ov && e->slot && ov->ext_down == e->slot))
        return HEALTH_DOWN;
    if (!e->slot)
        return HEALTH_UP;
    if (change_at && health_slot_external(e->slot) != HEALTH_DOWN &&
        health_slot_fleet(e->slot) == HEALTH_UNKNOWN)
        gslb_fold(change_at, health_slot_change_at(e->slot));
    return health_slot_observed(e->slot);
}

bool gslb_az_up(const struct gslb *g, const struct policy_pool *p, uint16_t az,
                const struct policy_overlay *ov)
{
    if (gslb_slot_drill(g->azs[az].slot, ov) == HEALTH_DOWN ||
        gslb_slot_drill(g->regions[g->azs[az].region].slot, ov) == HEALTH_DOWN)
        return false;
    enum health_state o = gslb_override_of(g->azs[az].slot, ov);
    if (o != HEALTH_UNKNOWN)
        return o == HEALTH_UP;
    unsigned up = 0, all = 0;
    for (size_t i = 0; i < p->n_eps; i++)
        if (p->eps[i].az == az) {
            all++;
            up += gslb_endpoint_state(g, &p->eps[i], ov) == HEALTH_UP;
        }
    /* An az smaller than min_healthy needs all of its endpoints up. */
    return up > 0 && up >= (all < p->min_healthy ? all : p->min_healthy);
}

bool gslb_region_up(const struct gslb *g, const struct policy_pool *p, uint16_t region,
                    const struct policy_overlay *ov, unsigned *healthy, unsigned *total)
{
    unsigned up = 0, all = 0;
    for (size_t i = 0; i < p->n_eps; i++) {
        const struct policy_endpoint *e = &p->eps[i];
        if (e->region != region)
            continue;
        all++;
        if (gslb_endpoint_state(g, e, ov) == HEALTH_UP &&
            (e->az == UINT16_MAX || gslb_az_up(g, p, e->az, ov)))
            up++;
    }
    if (healthy)
        *healthy = up;
    if (total)
        *total = all;
    if (gslb_slot_drill(g->regions[region].slot, ov) == HEALTH_DOWN)
        return false;
    enum health_state o = gslb_override_of(g->regions[region].slot, ov);
    if (o != HEALTH_UNKNOWN)
        return o == HEALTH_UP;
    return up > 0 && up >= (all < p->min_healthy ? all : p->min_healthy);
}

/* The slots of the child checks of e's composite check, if it has one. */
static void gslb_map_kids(const struct gslb *g, const struct policy_pool *p,
                          struct policy_endpoint *e, struct health_core *core)
{
    if (p->check < 0 || !g->checks[p->check].composite)
        return;
    const struct policy_check *pc = &g->checks[p->check];
    e->kid_slots = calloc(pc->comp.n_of ? pc->comp.n_of : 1, sizeof(*e->kid_slots));
    if (!e->kid_slots)
        abort();
    char key[600];
    for (size_t x = 0; x < pc->comp.n_of; x++) {
        snprintf(key, sizeof(key), "check:%s/%s", e->key + strlen("endpoint:"),
                 g->checks[pc->of[x]].name);
        e->kid_slots[x] = health_core_slot(core, key);
    }
}

/* Gives g arrays of its own for the pools it shares with pools_from
 * (gslb.pools_shared), their slots not mapped yet: for a core other than
 * pools_from's, whose slots g must not write into pools_from's. The
 * strings stay pools_from's. */
static void gslb_pools_unshare(struct gslb *g)
{
    struct policy_pool *pools = calloc(g->n_pools ? g->n_pools : 1, sizeof(*pools));
    if (!pools)
        abort();
    for (size_t i = 0; i < g->n_pools; i++) {
        struct policy_pool *p = &pools[i];
        *p = g->pools[i];
        p->eps = calloc(p->n_eps ? p->n_eps : 1, sizeof(*p->eps));
        if (!p->eps)
            abort();
        memcpy(p->eps, g->pools[i].eps, p->n_eps * sizeof(*p->eps));
        for (size_t k = 0; k < p->n_eps; k++) {
            p->eps[k].slot = NULL;
            p->eps[k].kid_slots = NULL;
        }
    }
    g->pools = pools;
    g->pools_shared = false;
}

void gslb_map_health(struct gslb *g, struct health_core *core)
{
    char key[300];
    g->core = core;
    if (g->pools_shared && !(g->pools_from && g->pools_from->health == core))
        gslb_pools_unshare(g);
    /* Pools shared with the running set, mapped in this core: every
     * endpoint's slot is mapped and referenced already, and the slots in
     * use stay the same (regions, azs and checks are those of that set
     * too), so no new mapping begins and no endpoint is visited. */
    bool shared = g->pools_shared;
    if (!shared)
        health_core_begin_mapping(core);
    g->health = core;
    for (size_t i = 0; i < g->n_regions; i++) {
        snprintf(key, sizeof(key), "region:%s", g->regions[i].name);
        g->regions[i].slot = health_core_slot(core, key);
    }
    for (size_t i = 0; i < g->n_azs; i++) {
        snprintf(key, sizeof(key), "az:%s", g->azs[i].name);
        g->azs[i].slot = health_core_slot(core, key);
    }
    for (size_t i = 0; !shared && i < g->n_pools; i++) {
        struct policy_pool *p = &g->pools[i];
        for (size_t k = 0; k < p->n_eps; k++) {
            struct health_slot *s = health_core_slot(core, p->eps[k].key);
            /* Without a check an endpoint is up; overrides still apply.
             * Under the lock, as health_restore wants: it writes the
             * slot's plain fields, which status and the state file read
             * under it, and its reason is one of the core's shared texts,
             * which the prober changes too. */
            if (p->check < 0 && health_slot_probe(s) != HEALTH_UP) {
                pthread_mutex_lock(&core->lock);
                health_restore(s, HEALTH_UP, health_now());
                pthread_mutex_unlock(&core->lock);
            }
            p->eps[k].slot = s;
            gslb_map_kids(g, p, &p->eps[k], core);
        }
    }
}

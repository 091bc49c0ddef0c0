/*
 * policy_ramp.c -- gradual failback: parsing, tracking, the share now.
 */
#include "policy/policy_ramp.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "policy/policy_dial.h"

enum { RAMP_RAMP, RAMP_N };
static const struct cfgschema_key policy_ramp_keys[RAMP_N] = {
    [RAMP_RAMP] = {"ramp", CFGSCHEMA_SECONDS, 1, POLICY_RAMP_MAX_S, 0, CFGSCHEMA_REQUIRED, NULL,
                   "the seconds over which a recovered region ramps back"},
};
const struct cfgschema policy_ramp_schema = CFGSCHEMA("$.records[].failback", policy_ramp_keys);

void policy_ramp_parse(const struct jsoncfg *j, json_t *fb, const char *path,
                       struct policy_record_ext *x)
{
    const struct cfgschema *s = &policy_ramp_schema;
    x->ramp_ms = 0;
    if (!fb || !cfgschema_object(j, s, fb, path) || !cfgschema_value(s, RAMP_RAMP, fb))
        return;
    x->ramp_ms = cfgschema_ms(j, s, RAMP_RAMP, fb, path);
}

static void *policy_ramp_calloc(size_t n, size_t size)
{
    void *p = calloc(n ? n : 1, size);
    if (!p)
        abort();
    return p;
}

void policy_ramp_init(struct gslb *g)
{
    bool any = g->counted && g->n_ramped;
    for (size_t i = 0; i < g->n_records && !any && !g->counted; i++)
        any = policy_ext_of(gslb_rec(g, i))->ramp_ms > 0;
    if (!any)
        return;
    struct policy_ramp *rp = policy_ramp_calloc(1, sizeof(*rp));
    rp->n_pools = g->n_pools;
    rp->n_regions = g->n_regions;
    size_t n = rp->n_pools * rp->n_regions;
    rp->start_ms = policy_ramp_calloc(n, sizeof(*rp->start_ms));
    rp->seen = policy_ramp_calloc(n, sizeof(*rp->seen));
    for (size_t i = 0; i < n; i++) {
        atomic_init(&rp->start_ms[i], 0);
        atomic_init(&rp->seen[i], HEALTH_UNKNOWN);
    }
    rp->ramp_ms = policy_ramp_calloc(g->n_pools, sizeof(*rp->ramp_ms));
    for (size_t i = 0; i < g->n_records; i++) {
        const struct policy_record *r = gslb_rec(g, i);
        uint32_t ms = policy_ext_of(r)->ramp_ms;
        if (r->pool < g->n_pools && ms > rp->ramp_ms[r->pool])
            rp->ramp_ms[r->pool] = ms;
    }
    rp->salt = policy_ramp_calloc(g->n_regions, sizeof(*rp->salt));
    for (size_t i = 0; i < g->n_regions; i++) {
        char key[300];
        snprintf(key, sizeof(key), "region:%s", g->regions[i].name);
        rp->salt[i] = policy_dial_salt(key);
    }
    g->ramp = rp;
}

void policy_ramp_free(struct policy_ramp *rp)
{
    if (!rp)
        return;
    free(rp->start_ms);
    free(rp->seen);
    free(rp->ramp_ms);
    free(rp->salt);
    free(rp);
}

int64_t policy_ramp_now_ms(void)
{
    /* Never 0: 0 means "no ramp". The health core's clock, so that a
     * ramp's times and health-aware TTLs compare (policy_eval.h). */
    return health_mono_ms() + 1;
}

uint16_t policy_ramp_share(const struct gslb *g, const struct policy_record *r, uint16_t region,
                           int64_t now_ms, int64_t *start_ms)
{
    const struct policy_ramp *rp = g->ramp;
    if (start_ms)
        *start_ms = 0;
    uint32_t ramp_ms = rp ? policy_ext_of(r)->ramp_ms : 0;
    if (!ramp_ms || r->pool >= rp->n_pools || region >= rp->n_regions)
        return POLICY_DIAL_FULL;
    int64_t st =
        atomic_load_explicit(&rp->start_ms[r->pool * rp->n_regions + region], memory_order_relaxed);
    if (st == 0)
        return POLICY_DIAL_FULL;
    int64_t el = now_ms - st;
    if (el >= (int64_t)ramp_ms)
        return POLICY_DIAL_FULL;
    if (start_ms)
        *start_ms = st;
    return el <= 0 ? 0 : (uint16_t)(el * POLICY_DIAL_FULL / ramp_ms);
}

/* The state of region in pool p as a ramp sees it: up, down, or unknown
 * while some endpoint there has no verdict yet (and nothing forces it).
 * Dials are not part of it: they are the operator's, not a recovery. */
static enum health_state policy_ramp_state(const struct gslb *g, const struct policy_pool *p,
                                           uint16_t region)
{
    unsigned healthy = 0, total = 0;
    if (gslb_region_up(g, p, region, NULL, &healthy, &total))
        return HEALTH_UP;
    if (total == 0)
        return HEALTH_UNKNOWN;
    const struct health_slot *rs = g->regions[region].slot;
    if (rs &&
        (gslb_slot_drill(rs, NULL) == HEALTH_DOWN || gslb_slot_override(rs, NULL) == HEALTH_DOWN))
        return HEALTH_DOWN;
    for (size_t i = 0; i < p->n_eps; i++)
        if (p->eps[i].region == region &&
            gslb_endpoint_state(g, &p->eps[i], NULL) == HEALTH_UNKNOWN)
            return HEALTH_UNKNOWN;
    return HEALTH_DOWN;
}

void policy_ramp_track(const struct gslb *g)
{
    struct policy_ramp *rp = g->ramp;
    if (!rp || !g->health)
        return;
    int64_t now = policy_ramp_now_ms();
    for (size_t pi = 0; pi < rp->n_pools; pi++) {
        if (!rp->ramp_ms[pi])
            continue;
        for (size_t ri = 0; ri < rp->n_regions; ri++) {
            size_t k = pi * rp->n_regions + ri;
            enum health_state st = policy_ramp_state(g, &g->pools[pi], (uint16_t)ri);
            enum health_state was = (enum health_state)atomic_load(&rp->seen[k]);
            int64_t start = atomic_load(&rp->start_ms[k]);
            if (st != HEALTH_UP || (start && now - start >= rp->ramp_ms[pi]))
                start = 0; /* down again (at once), or ramped up fully */
            if (st == HEALTH_UP && was == HEALTH_DOWN)
                start = now;
            atomic_store(&rp->start_ms[k], start);
            atomic_store(&rp->seen[k], (uint8_t)st);
        }
    }
}

void policy_ramp_adopt(const struct gslb *g, const struct gslb *prev)
{
    struct policy_ramp *rp = g->ramp;
    const struct policy_ramp *op = prev ? prev->ramp : NULL;
    if (!rp || !op)
        return;
    for (size_t pi = 0; pi < rp->n_pools; pi++) {
        int opi = gslb_pool_index(prev, g->pools[pi].name);
        for (size_t ri = 0; opi >= 0 && ri < rp->n_regions; ri++) {
            int ori = gslb_region_index(prev, g->regions[ri].name);
            if (ori < 0 || (size_t)opi >= op->n_pools || (size_t)ori >= op->n_regions)
                continue;
            size_t k = pi * rp->n_regions + ri, ok = (size_t)opi * op->n_regions + (size_t)ori;
            atomic_store(&rp->start_ms[k], atomic_load(&op->start_ms[ok]));
            atomic_store(&rp->seen[k], atomic_load(&op->seen[ok]));
        }
    }
}

/*
 * drill_plan.c -- a drill against one policy set.
 */
#include "drill/drill_plan.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int drill_az_index(const struct gslb *g, const char *name)
{
    for (size_t i = 0; i < g->n_azs; i++)
        if (strcmp(g->azs[i].name, name) == 0)
            return (int)i;
    return -1;
}

static char *drill_plan_dup(const char *prefix, const char *name)
{
    size_t n = strlen(prefix) + strlen(name) + 1;
    char *s = malloc(n);
    if (!s)
        abort();
    snprintf(s, n, "%s%s", prefix, name);
    return s;
}

static void drill_cover(struct drill_targets *t, const char *region)
{
    for (size_t i = 0; i < t->n_covered; i++)
        if (strcmp(t->covered[i], region) == 0)
            return;
    t->covered[t->n_covered++] = drill_plan_dup("", region);
}

int drill_resolve(const struct gslb *g, const struct drill_spec *s, struct drill_targets *t,
                  char *err, size_t errlen)
{
    memset(t, 0, sizeof(*t));
    for (size_t i = 0; i < s->n_regions; i++) {
        int r = g ? gslb_region_index(g, s->regions[i]) : -1;
        if (r < 0) {
            snprintf(err, errlen, "no region \"%s\" in the configuration", s->regions[i]);
            drill_targets_free(t);
            return 404;
        }
        t->slots[t->n] = g->regions[r].slot;
        t->keys[t->n++] = drill_plan_dup("region:", s->regions[i]);
        drill_cover(t, s->regions[i]);
    }
    for (size_t i = 0; i < s->n_azs; i++) {
        int a = g ? drill_az_index(g, s->azs[i]) : -1;
        if (a < 0) {
            snprintf(err, errlen, "no az \"%s\" in the configuration", s->azs[i]);
            drill_targets_free(t);
            return 404;
        }
        t->slots[t->n] = g->azs[a].slot;
        t->keys[t->n++] = drill_plan_dup("az:", s->azs[i]);
        drill_cover(t, g->regions[g->azs[a].region].name);
    }
    return 0;
}

void drill_targets_free(struct drill_targets *t)
{
    for (size_t i = 0; i < t->n; i++)
        free(t->keys[i]);
    for (size_t i = 0; i < t->n_covered; i++)
        free(t->covered[i]);
    t->n = t->n_covered = 0;
}

struct policy_overlay drill_targets_overlay(const struct drill_targets *t)
{
    struct policy_overlay ov = {.slot = NULL, .lost = t->slots, .n_lost = t->n};
    return ov;
}

/* Whether endpoint e lies inside the drill s (by name). */
static bool drill_inside(const struct gslb *g, const struct drill_spec *s,
                         const struct policy_endpoint *e)
{
    for (size_t i = 0; i < s->n_regions; i++)
        if (strcmp(g->regions[e->region].name, s->regions[i]) == 0)
            return true;
    for (size_t i = 0; e->az != UINT16_MAX && i < s->n_azs; i++)
        if (strcmp(g->azs[e->az].name, s->azs[i]) == 0)
            return true;
    return false;
}

/* Counts, in pool p, the endpoints outside s and those of them up; false
 * when p has no endpoint inside s (the pool is not part of the drill). */
static bool drill_pool_outside(const struct gslb *g, const struct policy_pool *p,
                               const struct drill_spec *s, unsigned *up, unsigned *total)
{
    bool touched = false;
    *up = *total = 0;
    for (size_t i = 0; i < p->n_eps; i++) {
        const struct policy_endpoint *e = &p->eps[i];
        if (drill_inside(g, s, e)) {
            touched = true;
            continue;
        }
        (*total)++;
        if (gslb_endpoint_state(g, e, NULL) == HEALTH_UP &&
            (e->az == UINT16_MAX || gslb_az_up(g, p, e->az, NULL)) &&
            gslb_region_up(g, p, e->region, NULL, NULL, NULL))
            (*up)++;
    }
    return touched;
}

bool drill_abort_if_violated(const struct gslb *g, const struct drill_spec *s, char *why,
                             size_t whylen)
{
    const struct drill_abort_if *a = &s->abort_if;
    if (!g || (a->min_up_endpoints < 0 && a->min_up_share < 0))
        return false;
    for (size_t i = 0; i < g->n_pools; i++) {
        const struct policy_pool *p = &g->pools[i];
        unsigned up, total;
        if (!drill_pool_outside(g, p, s, &up, &total))
            continue;
        if (a->min_up_endpoints >= 0 && (long)up < a->min_up_endpoints) {
            snprintf(why, whylen,
                     "pool %s: %u of %u endpoints outside the drill up, min_up_endpoints %ld",
                     p->name, up, total, a->min_up_endpoints);
            return true;
        }
        double share = total ? (double)up / total : 0;
        if (a->min_up_share >= 0 && share < a->min_up_share) {
            snprintf(why, whylen,
                     "pool %s: %u of %u endpoints outside the drill up (%.2f), min_up_share %g",
                     p->name, up, total, share, a->min_up_share);
            return true;
        }
    }
    return false;
}

/* Whether record r lists a region t covers. */
static bool drill_record_touched(const struct gslb *g, const struct policy_record *r,
                                 const struct drill_targets *t)
{
    for (size_t k = 0; k < r->n_regions; k++)
        for (size_t c = 0; c < t->n_covered; c++)
            if (strcmp(g->regions[r->regions[k]].name, t->covered[c]) == 0)
                return true;
    return false;
}

bool drill_records_region_down(const struct gslb *g, const struct drill_targets *t, char *why,
                               size_t whylen)
{
    for (size_t i = 0; g && i < g->n_records; i++) {
        const struct policy_record *r = gslb_rec(g, i);
        if (!drill_record_touched(g, r, t))
            continue;
        const struct policy_pool *p = &g->pools[r->pool];
        for (size_t k = 0; k < r->n_regions; k++) {
            unsigned healthy = 0, total = 0;
            bool up = gslb_region_up(g, p, r->regions[k], NULL, &healthy, &total);
            if (total > 0 && !up) {
                snprintf(why, whylen, "region %s of record %s is down (%u of %u endpoints up)",
                         g->regions[r->regions[k]].name, r->name_str, healthy, total);
                return true;
            }
        }
    }
    return false;
}

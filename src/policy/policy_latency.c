/*
 * policy_latency.c -- the sorted tables of latency records, rebuilt off
 * the query path when round-trip times move (policy_latency.h).
 */
#include "policy/policy_latency.h"

#include <stdlib.h>
#include <string.h>

/* Sort context of one vantage point's rows: the region rank of each
 * endpoint's region in the record's order (unknown latencies go by it). */
struct lat_sort {
    const struct policy_endpoint *base; /* the pool's endpoints */
    const uint16_t *rank;               /* by region index */
};

static int lat_row_cmp(const void *a, const void *b, void *arg)
{
    const struct policy_lat_row *x = a, *y = b;
    const struct lat_sort *ls = arg;
    if (x->ewma_us != y->ewma_us)
        return x->ewma_us < y->ewma_us ? -1 : 1;
    if (x->ewma_us == UINT32_MAX) { /* both unknown: the record's region order */
        uint16_t rx = ls->rank[x->ep->region], ry = ls->rank[y->ep->region];
        if (rx != ry)
            return rx < ry ? -1 : 1;
    }
    return x->ep < y->ep ? -1 : x->ep > y->ep; /* then the pool's order */
}

/* Fills one vantage point's table: the endpoints of r's regions with
 * their entries, sorted. own: this node's entries, by pool index. */
static void lat_fill(const struct gslb *g, const struct policy_record *r, const char *vantage,
                     const struct health_rtt_entry *own, const uint16_t *rank,
                     struct policy_lat_row *rows, struct policy_lat_table *tab)
{
    const struct policy_pool *p = &g->pools[r->pool];
    bool self = health_rtt_is_self(g->health, vantage);
    uint32_t n = 0, known = 0;
    for (size_t i = 0; i < p->n_eps; i++) {
        const struct policy_endpoint *e = &p->eps[i];
        if (rank[e->region] == UINT16_MAX)
            continue; /* not in the record's regions */
        struct health_rtt_entry en = {0};
        if (self)
            en = own[i];
        else
            health_rtt_find(g->health, vantage, e->key, &en);
        rows[n] = (struct policy_lat_row){.ep = e,
                                          .ewma_us = en.samples ? en.ewma_us : UINT32_MAX,
                                          .samples = en.samples,
                                          .at = en.at};
        if (rows[n].ewma_us == UINT32_MAX && en.samples)
            rows[n].ewma_us = UINT32_MAX - 1; /* known, if absurdly slow */
        known += en.samples > 0;
        n++;
    }
    struct lat_sort ls = {p->eps, rank};
    qsort_r(rows, n, sizeof(*rows), lat_row_cmp, &ls);
    tab->vantage = vantage;
    tab->n = n;
    tab->n_known = known;
    tab->rows = rows;
}

/* The vantage point class cls is served from: the first of its list that
 * is this node or has a table, else the node that answers (index 0): its
 * own round trips say more than none. */
static uint16_t lat_class_vantage(const struct gslb *g, const struct policy_latency_cfg *c,
                                  size_t cls)
{
    for (uint16_t i = 0; i < c->class_n[cls]; i++) {
        const char *name = c->vantages[c->class_vantages[cls][i]];
        if (health_rtt_is_self(g->health, name) || health_rtt_has(g->health, name))
            return c->class_vantages[cls][i];
    }
    return 0;
}

/* A new set for r (one block: the set, its tables, the class pointers,
 * the rows). */
static struct policy_lat_set *lat_build(const struct gslb *g, const struct policy_record *r,
                                        uint64_t gen)
{
    const struct policy_latency_cfg *c = policy_ext_of(r)->latency;
    const struct policy_pool *p = &g->pools[r->pool];
    size_t n_eps = p->n_eps, n_tabs = c->n_vantages;
    size_t size = sizeof(struct policy_lat_set) + n_tabs * sizeof(struct policy_lat_table) +
                  c->n_classes * sizeof(void *) + n_tabs * n_eps * sizeof(struct policy_lat_row);
    char *block = calloc(1, size);
    uint16_t *rank = calloc(g->n_regions ? g->n_regions : 1, sizeof(*rank));
    struct health_rtt_entry *own = calloc(n_eps ? n_eps : 1, sizeof(*own));
    struct health_slot **slots = calloc(n_eps ? n_eps : 1, sizeof(*slots));
    if (!block || !rank || !own || !slots)
        abort();
    for (size_t i = 0; i < g->n_regions; i++)
        rank[i] = UINT16_MAX;
    for (size_t i = 0; i < r->n_regions; i++)
        rank[r->regions[i]] = (uint16_t)i;
    for (size_t i = 0; i < n_eps; i++)
        slots[i] = p->eps[i].slot;
    health_rtt_own(g->health, slots, n_eps, own);
    struct policy_lat_set *set = (struct policy_lat_set *)block;
    struct policy_lat_table *tabs = (struct policy_lat_table *)(set + 1);
    const struct policy_lat_table **cls = (const struct policy_lat_table **)(tabs + n_tabs);
    struct policy_lat_row *rows = (struct policy_lat_row *)(cls + c->n_classes);
    for (size_t v = 0; v < n_tabs; v++)
        lat_fill(g, r, c->vantages[v], own, rank, rows + v * n_eps, &tabs[v]);
    for (size_t k = 0; k < c->n_classes; k++)
        cls[k] = &tabs[lat_class_vantage(g, c, k)];
    set->gen = gen;
    set->n_classes = (uint32_t)c->n_classes;
    set->n_tabs = (uint32_t)n_tabs;
    set->cls = cls;
    set->tabs = tabs;
    free(rank);
    free(own);
    free(slots);
    return set;
}

size_t policy_latency_refresh(const struct gslb *g, struct policy_geo *pg,
                              struct policy_geo_retired *retired)
{
    if (!g || !pg || !g->health)
        return 0;
    /* Read before building: a change while it builds bumps it again, and
     * the next refresh (which that change triggers) sees the difference. */
    uint64_t gen = atomic_load(&g->health->rtt.gen);
    size_t n = 0;
    for (size_t i = 0; i < pg->n_recs && i < g->n_records; i++) {
        const struct policy_record *r = gslb_rec(g, i);
        if (r->policy != POLICY_LATENCY || !policy_ext_of(r)->latency)
            continue;
        struct policy_lat_set *old = atomic_load(&pg->recs[i].lat);
        if (old && old->gen == gen)
            continue;
        struct policy_lat_set *set = lat_build(g, r, gen);
        policy_geo_retire(retired, atomic_exchange(&pg->recs[i].lat, set));
        n++;
    }
    return n;
}

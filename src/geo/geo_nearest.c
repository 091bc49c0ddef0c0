/*
 * geo_nearest.c -- region orders by great-circle distance, as classes.
 */
#include "geo/geo_nearest.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define GEO_EARTH_KM 6371.0088 /* mean radius (IUGG) */

double geo_distance_km(struct geo_point a, struct geo_point b)
{
    const double rad = M_PI / 180.0;
    double dlat = (b.lat - a.lat) * rad, dlon = (b.lon - a.lon) * rad;
    double s1 = sin(dlat / 2), s2 = sin(dlon / 2);
    double h = s1 * s1 + cos(a.lat * rad) * cos(b.lat * rad) * s2 * s2;
    return 2.0 * GEO_EARTH_KM * asin(sqrt(h < 1.0 ? h : 1.0));
}

struct nearest_ctx {
    struct geo_nearest *out;
    uint32_t n_classes, cap_classes;
    uint32_t *slots; /* dedup table of class ids, UINT32_MAX = empty */
    size_t n_slots;
};

struct region_dist {
    double km;
    uint16_t idx;
};

static int nearest_cmp(const void *a, const void *b)
{
    const struct region_dist *x = a, *y = b;
    if (x->km != y->km)
        return x->km < y->km ? -1 : 1;
    return (int)x->idx - (int)y->idx;
}

static uint64_t nearest_hash(const uint16_t *order, size_t n)
{
    uint64_t h = 1469598103934665603ull;
    for (size_t i = 0; i < n; i++)
        h = (h ^ order[i]) * 1099511628211ull;
    return h ^ (h >> 29);
}

static void nearest_slots_grow(struct nearest_ctx *c)
{
    size_t n = c->out->n_regions;
    free(c->slots);
    c->n_slots = c->n_slots ? c->n_slots * 2 : 256;
    c->slots = malloc(c->n_slots * sizeof(*c->slots));
    if (!c->slots)
        abort();
    memset(c->slots, 0xff, c->n_slots * sizeof(*c->slots));
    for (uint32_t k = GEO_NEAREST_NO_COORDS + 1; k < c->n_classes; k++) {
        size_t j = nearest_hash(geo_nearest_order(c->out, k), n) & (c->n_slots - 1);
        while (c->slots[j] != UINT32_MAX)
            j = (j + 1) & (c->n_slots - 1);
        c->slots[j] = k;
    }
}

/* Appends a class with this order. */
static uint32_t nearest_append(struct nearest_ctx *c, const uint16_t *order)
{
    size_t n = c->out->n_regions;
    if (c->n_classes == c->cap_classes) {
        c->cap_classes = c->cap_classes ? c->cap_classes * 2 : 64;
        c->out->orders =
            realloc(c->out->orders, (size_t)c->cap_classes * (n ? n : 1) * sizeof(*order));
        if (!c->out->orders)
            abort();
    }
    memcpy(&c->out->orders[(size_t)c->n_classes * n], order, n * sizeof(*order));
    return c->n_classes++;
}

/* The class of a located client's order, added when new. The no-coords
 * class is never found here, even when a client's order is the configured
 * one: the caller may serve those clients differently. */
static uint32_t nearest_intern(struct nearest_ctx *c, const uint16_t *order)
{
    size_t n = c->out->n_regions;
    if ((size_t)(c->n_classes + 1) * 2 > c->n_slots)
        nearest_slots_grow(c);
    size_t j = nearest_hash(order, n) & (c->n_slots - 1);
    while (c->slots[j] != UINT32_MAX) {
        if (memcmp(geo_nearest_order(c->out, c->slots[j]), order, n * sizeof(*order)) == 0)
            return c->slots[j];
        j = (j + 1) & (c->n_slots - 1);
    }
    c->slots[j] = nearest_append(c, order);
    return c->slots[j];
}

void geo_nearest_compile(const struct geo_db *db, const struct geo_point *regions, size_t n_regions,
                         struct geo_nearest *out)
{
    memset(out, 0, sizeof(*out));
    if (n_regions > UINT16_MAX)
        abort(); /* a caller's bug: policies hold far fewer regions */
    out->n_regions = (uint16_t)n_regions;
    struct nearest_ctx c = {.out = out};
    struct region_dist *rd = calloc(n_regions ? n_regions : 1, sizeof(*rd));
    uint16_t *order = calloc(n_regions ? n_regions : 1, sizeof(*order));
    size_t n_locs = db ? db->n_locs : 1;
    uint32_t *loc_class = calloc(n_locs, sizeof(*loc_class));
    if (!rd || !order || !loc_class)
        abort();
    for (size_t i = 0; i < n_regions; i++)
        order[i] = (uint16_t)i;
    nearest_append(&c, order); /* GEO_NEAREST_NO_COORDS: the configured order */
    for (size_t l = 0; db && l < n_locs; l++) {
        const struct geo_location *loc = &db->locs[l];
        if (!(loc->flags & GEO_HAS_COORDS))
            continue;
        struct geo_point p = {loc->lat, loc->lon};
        for (size_t i = 0; i < n_regions; i++) {
            rd[i].km = geo_distance_km(p, regions[i]);
            rd[i].idx = (uint16_t)i;
        }
        qsort(rd, n_regions, sizeof(*rd), nearest_cmp);
        for (size_t i = 0; i < n_regions; i++)
            order[i] = rd[i].idx;
        loc_class[l] = nearest_intern(&c, order);
    }
    geo_merge_build(db, loc_class, NULL, 0, c.n_classes, &out->merged);
    free(loc_class);
    free(order);
    free(rd);
    free(c.slots);
}

void geo_nearest_free(struct geo_nearest *n)
{
    geo_merged_free(&n->merged);
    free(n->orders);
    n->orders = NULL;
}

/*
 * geo_nearest.h -- the "nearest" policy's classes: the regions ordered by
 * great-circle distance from the client's location.
 *
 * At compile time every location of the database with coordinates gets
 * the order of the record's regions by haversine distance (nearest first,
 * ties by the regions' configured order); equal orders share one class.
 * Class GEO_NEAREST_NO_COORDS is for clients without coordinates (not in
 * the database, no location in their record, ECS SOURCE PREFIX-LENGTH 0);
 * its order is the configured one, for the caller to use or replace, and
 * it stays a class of its own even when some location's order is the
 * configured one too. The
 * classes are merged into a geo_merged trie (no network keys), so a lookup
 * gives the order and the ECS scope in one walk (see geo_merge.h, also
 * for how scopes widen with health).
 *
 * Ownership: a geo_nearest owns its trie and order table
 * (geo_nearest_free).
 */
#ifndef GTM_GEO_GEO_NEAREST_H
#define GTM_GEO_GEO_NEAREST_H

#include <stddef.h>
#include <stdint.h>

#include "geo/geo_db.h"
#include "geo/geo_merge.h"

#define GEO_NEAREST_NO_COORDS 0u

struct geo_point {
    double lat, lon; /* degrees */
};

/* Great-circle distance in kilometres (haversine, mean Earth radius). */
double geo_distance_km(struct geo_point a, struct geo_point b);

struct geo_nearest {
    struct geo_merged merged; /* leaves: classes < merged.n_classes */
    uint16_t n_regions;
    uint16_t *orders; /* n_classes rows of n_regions region indexes */
};

/* Compiles the classes of n_regions (1..65535) regions at the given
 * points over db (NULL: every client is without coordinates). */
void geo_nearest_compile(const struct geo_db *db, const struct geo_point *regions, size_t n_regions,
                         struct geo_nearest *out);

void geo_nearest_free(struct geo_nearest *n);

/* The region order of class cls: n->n_regions indexes, nearest first. */
static inline const uint16_t *geo_nearest_order(const struct geo_nearest *n, uint32_t cls)
{
    return &n->orders[(size_t)cls * n->n_regions];
}

#endif

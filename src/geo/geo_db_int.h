/*
 * geo_db_int.h -- what geo_db.c shares with the other builders of a
 * geo_db inside the geo module (geo_overlay.c); not for other modules.
 *
 * Ownership: a geo_intern's slot table belongs to whoever fills it (free
 * it->slots when done); the locations it adds are db's.
 */
#ifndef GTM_GEO_GEO_DB_INT_H
#define GTM_GEO_GEO_DB_INT_H

#include <stddef.h>
#include <stdint.h>

#include "geo/geo_db.h"

/* The deduplication table of db->locs while a db is built. */
struct geo_intern {
    uint32_t *slots; /* location indexes, UINT32_MAX = empty */
    size_t cap;
    uint32_t locs_cap; /* allocated length of db->locs */
};

/* The index of l in db->locs, appended when new. */
uint32_t geo_intern_add(struct geo_db *db, struct geo_intern *it, const struct geo_location *l);

/* Counts db's networks and picks its samples once its trie is complete. */
void geo_db_finish(struct geo_db *db);

/* calloc that aborts on failure (as every allocation of the loaders). */
void *geo_xcalloc(size_t n, size_t size);

#endif

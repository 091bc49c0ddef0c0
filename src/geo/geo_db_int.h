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

/* A map from 64-bit keys to 32-bit values, open addressing (the loaders'
 * memos: MMDB data records to locations, pairs of trie nodes to product
 * nodes). keys[] holds key + 1, 0 is an empty slot. Zero it to start;
 * geo_u64map_free frees it. */
struct geo_u64map {
    uint64_t *keys;
    uint32_t *vals;
    size_t cap, n;
};

/* The slot of key: holding it (keys[j] != 0), or the empty one to fill
 * (keys[j] = key + 1, vals[j] = value, n++). Grows the map first when
 * half full, so a slot is valid until the next call. */
size_t geo_u64map_slot(struct geo_u64map *m, uint64_t key);
void geo_u64map_free(struct geo_u64map *m);

/* The index of l in db->locs, appended when new. */
uint32_t geo_intern_add(struct geo_db *db, struct geo_intern *it, const struct geo_location *l);

/* Counts db's networks and picks its samples once its trie is complete. */
void geo_db_finish(struct geo_db *db);

/* calloc that aborts on failure (as every allocation of the loaders). */
void *geo_xcalloc(size_t n, size_t size);

#endif

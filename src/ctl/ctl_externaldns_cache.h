/*
 * ctl_externaldns_cache.h -- gtmctl externaldns's copy of gtmd's
 * configuration (ctl_externaldns.c) and its indexes of the records by
 * name and by pool, from which the ownership of each name of a plan is
 * answered with two lookups.
 *
 * The copy is read by GET /records (ExternalDNS asks for the records
 * before each plan) and kept: POST /records plans against it and sends
 * the changes with If-Match on its version, so a plan is checked against
 * exactly what gtmd has (gtmd answers 412 when anyone else changed the
 * configuration meanwhile: read again, plan again), and the version the
 * POST made is the copy with the plan's changes applied here too. So a
 * plan costs no second read of gtmd's 100,000 records, nor their parse.
 *
 * Ownership: a struct edns_cache owns the configuration and the indexes
 * (edns_cache_drop frees them); the JSON a lookup returns is borrowed
 * from the cache until its next change.
 */
#ifndef GTM_CTL_EXTERNALDNS_CACHE_H
#define GTM_CTL_EXTERNALDNS_CACHE_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define EDNS_POOL "externaldns-"
#define EDNS_NAME_MAX 256

struct edns_cache {
    json_t *cfg; /* GET /v1/config's reply (owned); NULL: none read */
    json_t *res; /* cfg's "resources" (borrowed from cfg) */
    uint64_t version;
    json_t *by_name; /* lower-case "name." -> [record keys] (owned) */
    json_t *by_pool; /* pool -> [record keys] (owned) */
};

/* Takes cfg (a GET /v1/config reply, stolen) as the copy, replacing the
 * one before, and makes the indexes; false (and no copy) when it has no
 * resources or version. */
bool edns_cache_take(struct edns_cache *x, json_t *cfg);
/* Applies changes (POST /v1/config/changes items gtmd took as version)
 * to the copy and its indexes; the values are shared, not copied. */
void edns_cache_apply(struct edns_cache *x, json_t *changes, uint64_t version);
/* Forgets the copy (the next plan reads gtmd's configuration again). */
void edns_cache_drop(struct edns_cache *x);

/* Whether name (lower case, no final dot) is not ExternalDNS's to change:
 * gtmd has a record of that name on another pool than "externaldns-NAME"
 * (a hand-made record: never taken over), or another record uses that
 * pool. why says which. */
bool edns_cache_foreign(const struct edns_cache *x, const char *name, char *why, size_t len);

#endif

/*
 * serve_counters_int.h -- counter id assignment, shared by serve.c and
 * serve_counters.c. Not for use outside src/serve. Every function here
 * runs under the serve core's lock.
 */
#ifndef GTM_SERVE_SERVE_COUNTERS_INT_H
#define GTM_SERVE_SERVE_COUNTERS_INT_H

#include "serve/serve.h"

/* Gives every (record, region) column of s its counter id and makes sure
 * every reader has the chunks those ids live in. prev (the set s
 * replaces, or NULL): a record of the same name and type there with the
 * same regions has the same keys, so its ids are copied instead of
 * formatted and looked up again (the ids are the same either way: a
 * change of one record costs one record's keys, not every record's). */
void serve_counters_assign(struct serve *sv, struct serve_set *s, const struct serve_set *prev);

/* Allocates c's chunks [from, to) (zeroed). */
void serve_counters_alloc_chunks(struct serve_counters *c, uint32_t from, uint32_t to);

void serve_registry_free(struct serve_registry *reg);

/* The registry key of a column (record name, type, occurrence, region or
 * NULL for none, canary). */
void serve_counters_key_of(char *buf, size_t len, const char *record, uint16_t rtype, unsigned occ,
                           const char *region, bool canary);
/* The id of key, or SERVE_NO_ID when the registry has not seen it. */
uint32_t serve_registry_find(const struct serve_registry *reg, const char *key);

#endif

/*
 * serve_counters_int.h -- counter id assignment, shared by serve.c and
 * serve_counters.c. Not for use outside src/serve. Every function here
 * runs under the serve core's lock.
 */
#ifndef GTM_SERVE_SERVE_COUNTERS_INT_H
#define GTM_SERVE_SERVE_COUNTERS_INT_H

#include "serve/serve.h"

/* Gives every (record, region) column of s its counter id (each reader
 * makes the chunk an id lives in when it first counts one: serve_count_id).
 * prev (the set s
 * replaces, or NULL): a record of the same name and type there with the
 * same regions has the same keys, so its ids are copied instead of
 * formatted and looked up again (the ids are the same either way: a
 * change of one record costs one record's keys, not every record's). */
void serve_counters_assign(struct serve *sv, struct serve_set *s, const struct serve_set *prev);

#endif

/*
 * serve_counters_int.h -- counter id assignment, shared by serve.c and
 * serve_counters.c. Not for use outside src/serve. Every function here
 * runs under the serve core's lock.
 */
#ifndef GTM_SERVE_SERVE_COUNTERS_INT_H
#define GTM_SERVE_SERVE_COUNTERS_INT_H

#include "serve/serve.h"

/* Gives every (record, region) column of s its counter id and makes sure
 * every reader has the chunks those ids live in. */
void serve_counters_assign(struct serve *sv, struct serve_set *s);

/* Allocates c's chunks [from, to) (zeroed). */
void serve_counters_alloc_chunks(struct serve_counters *c, uint32_t from, uint32_t to);

void serve_registry_free(struct serve_registry *reg);

#endif

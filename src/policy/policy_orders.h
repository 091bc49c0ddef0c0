/*
 * policy_orders.h -- a policy record's region list (its order, or its set:
 * policy_record.regions) as one immutable array shared by every record
 * with the same list.
 *
 * Why: every record held a calloc'd array of its own, 100,000 of them at
 * 100,000 records, each a 32-octet malloc chunk for some 10 octets (3.2 MB
 * of heap, issue #38), while an estate's records share a handful of
 * orders. A table (struct policy_orders) keeps one entry per distinct
 * list, counted by reference; a list made without a table is a block of
 * its own.
 *
 * The table is common/intern.h's, which the health core's reason texts
 * use too; this file only types it (lists of uint16_t, counted in items).
 * Every list says where it comes from (intern's header before its items:
 * the table that interned it, or none), so whoever releases it need not
 * know how the set was compiled: a record taken compiled from another set
 * (policy_config_parse_reuse) keeps its list as it is, whatever table the
 * new set has.
 *
 * Ownership: policy_orders_intern returns one reference, given back by
 * exactly one policy_orders_release (a record's owner: gslb_free_record,
 * policy.h's gslb.carried). The table belongs to its creator (the daemon's
 * server, beside its bigalloc_spare), which frees it after the last set
 * built with it: policy_orders_free frees any list still in it, so a
 * release after it is a use after free. A policy set borrows the table
 * (gslb.orders) only to compile records into it. Thread-safe: sets are
 * compiled on the reload thread and freed on the dropper's (a mutex).
 */
#ifndef GTM_POLICY_POLICY_ORDERS_H
#define GTM_POLICY_POLICY_ORDERS_H

#include <stddef.h>
#include <stdint.h>

struct policy_orders;

/* An empty table; aborts when memory runs out. */
struct policy_orders *policy_orders_new(void);
/* Frees t and every list left in it (NULL: nothing). */
void policy_orders_free(struct policy_orders *t);

/* The list of n items (items may be NULL when n is 0), never NULL: t's
 * entry of it with one more reference, made if t has none; t NULL: a
 * copy of its own. Aborts when memory runs out. */
const uint16_t *policy_orders_intern(struct policy_orders *t, const uint16_t *items, size_t n);
/* Gives back one reference of a list from policy_orders_intern (NULL:
 * nothing); the last one frees it. Any thread. */
void policy_orders_release(const uint16_t *list);

/* How many distinct lists t holds, and how many references list has (1
 * for a list of its own): for tests and statistics. */
size_t policy_orders_count(struct policy_orders *t);
uint32_t policy_orders_refs(const uint16_t *list);

#endif

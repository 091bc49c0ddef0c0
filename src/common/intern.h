/*
 * intern.h -- a table of immutable values, each kept once and counted by
 * reference: whoever interns an equal value gets the same one.
 *
 * Why: the policy set's region lists (policy_orders.h: 100,000 records
 * share a handful of orders) and the health core's reason texts
 * (health.h: thousands of slots repeat "ok" or "connection refused") each
 * had a table of their own, the same code twice (issue #38's notes). This
 * is the one table they both use.
 *
 * A value is a run of octets (intern_take) or a text kept with its NUL
 * (intern_take_text); it is never changed once made. Its header, just
 * before it, names the table that holds it (or none: a value of its own,
 * made without a table), so that whoever releases it need not know where
 * it came from: 28 octets (the table, the chain, the count of references,
 * the hash and the length), the header policy_orders.c had. Values start
 * 4-aligned (any type up to uint32_t may be interned as an array).
 *
 * Threads: a table has a mutex of its own over its chains and every
 * reference count; intern_take, intern_release, intern_count and
 * intern_refs may run on any thread at once. The lookup is a chain of
 * about one entry (the chains double once the values outnumber them).
 *
 * Ownership: intern_take returns one reference, given back by exactly one
 * intern_release; the last one frees the value. The table belongs to its
 * creator; intern_free frees it and every value still in it, so a release
 * after it is a use after free: the creator frees the table after the
 * last holder of its values.
 */
#ifndef GTM_COMMON_INTERN_H
#define GTM_COMMON_INTERN_H

#include <stddef.h>
#include <stdint.h>

struct intern;

/* An empty table; aborts when memory runs out. */
struct intern *intern_new(void);
/* Frees t and every value left in it (NULL: nothing). */
void intern_free(struct intern *t);

/* The value of the len octets at data (data may be NULL when len is 0),
 * never NULL: t's entry of it with one more reference, made when t has
 * none; t NULL: a copy of its own. Aborts when memory runs out. */
const void *intern_take(struct intern *t, const void *data, size_t len);
/* The same for the first n octets of text, kept as a NUL-terminated text
 * of n octets (text need not end at n). */
const char *intern_take_text(struct intern *t, const char *text, size_t n);
/* Gives back one reference of a value from intern_take or
 * intern_take_text (NULL: nothing); the last one frees it. Any thread. */
void intern_release(const void *value);

/* How many distinct values t holds, and how many references value has
 * (1 for a value of its own): for tests and statistics. */
size_t intern_count(struct intern *t);
uint32_t intern_refs(const void *value);
/* How many chains t has now (a power of two, at least its count once it
 * grew): for tests. */
size_t intern_chains(struct intern *t);

#endif

/*
 * rrl.h -- response rate limiting (RRL), as Knot DNS, NSD and BIND do it:
 * the responses sent to one client network (an IPv4 /24 or IPv6 /56 by
 * default) are limited per answer class and name, so that gtmd cannot be
 * used to reflect and amplify a flood at a victim whose address is forged.
 *
 * Classes (as Knot and BIND classify): an answer (keyed by the query name,
 * or by the zone when a wildcard made it), a referral, NODATA (keyed by
 * the query name, or the zone for a wildcard), NXDOMAIN (keyed by the
 * zone, so random names do not spread the count), and errors (FORMERR,
 * REFUSED, NOTIMP, ..., keyed by the network alone).
 *
 * Each key has a token bucket: rate[class] tokens a second, at most one
 * second's worth banked; a response takes one token. Without a token the
 * response is limited: dropped, or, every slip-th time on a worker, sent
 * as a truncated reply (TC=1, no records) that tells a real resolver to
 * retry over TCP. A flow keeps going into debt while it floods, down to
 * window seconds' worth, so it stays limited until it slows down.
 *
 * Lock-free: the table is a fixed array of 64-bit slots, each the whole
 * state of one bucket (tag, timestamp, balance) updated with one
 * compare-and-swap. The slot is chosen from SipHash-1-3 of (class,
 * network, name) under a random per-table key, among two candidates
 * (two-choice hashing): the one already holding the key's tag, else an
 * empty or expired one, else the least recently used of the two, taken
 * over. A lost race retries a few times and then lets the response through.
 *
 * Ownership: struct rrl_params is owned by its served set (rrl_params_free
 * frees the whitelist); a struct rrl_table is shared, reference-counted,
 * by the served sets that use it, so a reload that keeps table_size keeps
 * the buckets. struct rrl_thread is one worker's own.
 */
#ifndef GTM_GUARD_RRL_H
#define GTM_GUARD_RRL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/addr.h"
#include <sys/socket.h>

enum rrl_class { RRL_ANSWER = 0, RRL_REFERRAL, RRL_NODATA, RRL_NXDOMAIN, RRL_ERROR, RRL_CLASSES };

/* "answer", "referral", "nodata", "nxdomain", "error" (static strings). */
const char *rrl_class_name(enum rrl_class c);

struct rrl_params {
    uint32_t rate[RRL_CLASSES]; /* responses per second per key; 0 = not limited */
    uint32_t slip;              /* every slip-th limited response is truncated; 0 = never */
    uint32_t window;            /* seconds of debt a flooding key can build up */
    uint8_t ipv4_prefix, ipv6_prefix;
    uint32_t table_size;        /* slots, a power of two */
    struct addr_net *whitelist; /* never limited; owned */
    size_t n_whitelist;
};

void rrl_params_free(struct rrl_params *p);
/* A copy of p (whitelist included) the caller owns; NULL when out of
 * memory. */
struct rrl_params *rrl_params_copy(const struct rrl_params *p);

struct rrl_table;

/* A table of size slots (a power of two) with a random hash key, one
 * reference held by the caller; NULL when out of memory or randomness. */
struct rrl_table *rrl_table_new(uint32_t size);
/* old itself with one more reference when it has size slots (a reload that
 * keeps the size keeps the buckets), else a new table. old may be NULL. */
struct rrl_table *rrl_table_reuse(struct rrl_table *old, uint32_t size);
void rrl_table_unref(struct rrl_table *t);

/* A worker's own state: counts its limited responses for slip. */
struct rrl_thread {
    uint32_t limited;
};

enum rrl_verdict { RRL_PASS = 0, RRL_DROP, RRL_SLIP };

/*
 * Accounts one response of class cls about name (lowercase wire form, may
 * be NULL for none) to addr at monotonic second now. RRL_PASS when it may
 * be sent (also for whitelisted networks and classes with rate 0);
 * otherwise RRL_DROP or RRL_SLIP (every p->slip-th limited response of
 * this worker). Any thread; lock-free.
 */
enum rrl_verdict rrl_account(struct rrl_table *t, const struct rrl_params *p, struct rrl_thread *th,
                             const struct sockaddr_storage *addr, enum rrl_class cls,
                             const uint8_t *name, size_t name_len, uint32_t now);

#endif

/*
 * serve_bind.h -- which policy records answer at which zone node, for one
 * served set.
 *
 * A zone is shared by every set that keeps it (a configuration change
 * that touches no zone keeps them all: doc/architecture.md, "Changes"),
 * while each set has its own policy set. So the binding of a node is the
 * set's, not the node's: the loader fills this table when it attaches the
 * policy records to their names, and a query finds a node's binding here
 * (only for nodes flagged ZONE_NODE_POLICY_*: other nodes never look).
 *
 * An open-addressing table keyed by the node's address; built before the
 * set is published and read-only afterwards (no lock, no allocation on the
 * query path). Ownership: the set owns the table (serve_bind_free); the
 * nodes and bindings are borrowed from the set's zones and policy set.
 * A binding is kept as its index in the policy set's array of bindings
 * (base), not a pointer: 4 octets a slot, where pointers were 1 MB more
 * at 100,000 records (issue #38).
 *
 * Shared between sets (issue #55): when a change leaves every binding at
 * its index and node (serve_bind_share's caller checks that), the new set
 * takes the running set's two tables as they are, with its own base, and
 * both hold them by a count (refs): the tables are given back when the
 * last set holding them is freed, on whichever thread frees it. A shared
 * table is never written: serve_bind_put copies it first.
 */
#ifndef GTM_SERVE_SERVE_BIND_H
#define GTM_SERVE_SERVE_BIND_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "policy/policy.h"
#include "zone/zone.h"

struct bigalloc_spare;
struct serve_bind {
    const struct zone_node **nodes;  /* NULL = empty slot; all NULL when mask is 0 */
    uint32_t *binding;               /* beside nodes: the binding's index in base */
    struct gslb_bchunk *const *base; /* borrowed: the policy set's chunks of bindings */
    uint32_t mask;
    size_t n;
    /* Where the two tables come from and go back to (bigalloc.h; NULL:
     * malloc), and their lengths for it. Borrowed: it outlives every set. */
    struct bigalloc_spare *spare;
    size_t nodes_len, binding_len;
    /* How many sets hold nodes and binding (NULL: none made yet, only this
     * one). Allocated with the tables; freed with them by the last. */
    atomic_uint *refs;
};

static inline uint32_t serve_bind_hash(const struct zone_node *n)
{
    uint64_t x = (uint64_t)(uintptr_t)n;
    return (uint32_t)((x >> 4) * 0x9E3779B97F4A7C15ull >> 32);
}

/* The binding of node n in t, or NULL. */
static inline const struct policy_binding *serve_bind_get(const struct serve_bind *t,
                                                          const struct zone_node *n)
{
    if (!t->n || !(n->flags & ZONE_POLICY_FLAGS))
        return NULL;
    for (uint32_t i = serve_bind_hash(n) & t->mask;; i = (i + 1) & t->mask) {
        if (t->nodes[i] == n)
            return policy_binding_at(t->base, t->binding[i]);
        if (!t->nodes[i])
            return NULL;
    }
}

/* Sizes t (zeroed before) for up to n entries of the bindings at base
 * (gslb.bchunks; NULL when there are none), its tables from spare (NULL:
 * none). */
void serve_bind_init(struct serve_bind *t, size_t n, struct gslb_bchunk *const *base,
                     struct bigalloc_spare *spare);
/* Binds node n to binding index of t's base (replacing an earlier
 * binding of n). */
void serve_bind_put(struct serve_bind *t, const struct zone_node *n, uint32_t index);
/* Releases t's hold on its tables (given back when it was the last). */
void serve_bind_free(struct serve_bind *t);
/* Makes t (zeroed, not initialised) hold prev's tables, shared, with the
 * bindings at base: for a set whose every binding is at prev's index and
 * node (load_attach_shared checks it). prev is not written. */
void serve_bind_share(struct serve_bind *t, const struct serve_bind *prev,
                      struct gslb_bchunk *const *base);
/* Whether t's every entry is prev's entry at the same node with the same
 * index: t holds n entries, each bound in prev to the same index. */
bool serve_bind_within(const struct serve_bind *t, const struct serve_bind *prev);
/* Fills t (made by serve_bind_init, empty, sized as prev) from prev, the
 * running set's table, for a set whose zones are all prev's: each entry
 * whose binding is prev's binding o (of n_old) gets t's binding to[o]
 * instead, and carried[to[o]] is set; an entry whose to[o] is UINT32_MAX
 * is left out. Sequential passes over the table where
 * attaching every binding again (serve_bind_put) made a cache miss each
 * (issue #38). The number carried, or SIZE_MAX when t is not sized as
 * prev (t untouched: put every binding). */
size_t serve_bind_carry(struct serve_bind *t, const struct serve_bind *prev, const uint32_t *to,
                        size_t n_old, uint32_t *carried);

#endif

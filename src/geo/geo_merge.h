/*
 * geo_merge.h -- the merged structure of one geo-routed record: a prefix
 * trie over the whole address space whose leaves are *answer classes*,
 * from which one lookup yields both the class of a client address and the
 * ECS scope to return with the answer.
 *
 * An answer class is whatever a policy decides from an address: for
 * "geo", the key whose region list applies (geo_map.h); for "nearest",
 * one order of the regions by distance (geo_nearest.h). The classes of the
 * database's locations and the network keys are merged into one trie:
 *
 *   - a database leaf gets the class of its location (loc_class[]);
 *   - a network key gives its class to its whole prefix, whatever the
 *     database says there; a longer network key inside a shorter one wins
 *     inside its own prefix (longest prefix among network keys);
 *   - sibling leaves of equal class are merged, bottom-up.
 *
 * So a lookup returns (class, scope) where scope is the depth of the leaf
 * reached: every address inside that prefix gets the same class, and the
 * prefix one bit shorter does not (its other half holds another class
 * somewhere), unless the scope is 0. Database networks and network keys of
 * different lengths interact correctly because the scope comes from the
 * merged trie, not from either lookup alone. Both address families have
 * their own root; IPv4 network keys apply to IPv4 addresses and IPv6 keys
 * to IPv6 addresses (an IPv4 client on a dual-stack socket is looked up as
 * IPv4, see geo_addr_from_sockaddr).
 *
 * Subtrees of the database that hold no network key are relabelled once
 * per database node (the database trie is a DAG, see geo_db.h), so the
 * merged trie shares them too and the build costs one pass over the
 * database trie plus the paths to the network keys.
 *
 * Health-aware scope. The scope above is class-exact: two classes that
 * under the current health state yield the same answer (e.g. ["eu", "us"]
 * and ["eu", "ap"] while eu is up) still split it. The policy layer widens
 * it off the query path, per health epoch (src/policy/policy_geo.h):
 * outcome[class] -- the index of the distinct answer the class gets now --
 * turns into a bitmap over this trie's nodes (geo_trie_uniform_marks: the
 * nodes whose subtree has one outcome), and the walk that finds a client's
 * class also notes the first marked node on its path
 * (geo_trie_lookup_marked): its depth is the widest prefix with the same
 * answer. When the bitmap is not of the state the query read, the
 * class-exact scope applies, which is never too wide. (geo_trie_relabel
 * builds the coarser trie itself; the unit tests compare the two.)
 *
 * Lookups take no lock, allocate nothing, do no I/O.
 *
 * Ownership: a geo_merged owns its trie (geo_merged_free).
 */
#ifndef GTM_GEO_GEO_MERGE_H
#define GTM_GEO_GEO_MERGE_H

#include <stddef.h>
#include <stdint.h>

#include "geo/geo_db.h"
#include "geo/geo_trie.h"

/* A network key: every address in family/addr/prefix gets class cls. */
struct geo_netkey {
    unsigned family;  /* GEO_FAMILY_IPV4 or GEO_FAMILY_IPV6 */
    uint8_t prefix;   /* 0..32 or 0..128 */
    uint8_t addr[16]; /* host bits zero */
    uint32_t cls;
};

struct geo_merged {
    struct geo_trie trie; /* leaves: class ids < n_classes */
    uint32_t n_classes;
};

/* Builds out from db (NULL: no database, every address has location
 * GEO_LOC_UNKNOWN), loc_class (one class per location of db, or one entry
 * for GEO_LOC_UNKNOWN without db) and the network keys (any order; no two
 * with the same family, address and prefix). Classes must be < n_classes
 * <= GEO_VALUE_MAX. */
void geo_merge_build(const struct geo_db *db, const uint32_t *loc_class,
                     const struct geo_netkey *keys, size_t n_keys, uint32_t n_classes,
                     struct geo_merged *out);

void geo_merged_free(struct geo_merged *m);

/* The class of addr (4 or 16 octets) and, in *scope, the ECS scope prefix
 * length for it. For an ECS client, addr is the option's address (zero
 * past SOURCE PREFIX-LENGTH); a scope longer than the source prefix then
 * tells the resolver the answer holds for that narrower prefix only, as
 * RFC 7871 allows. A SOURCE PREFIX-LENGTH of 0 means no location at all:
 * callers use their unknown class with scope 0 instead of a lookup. */
static inline uint32_t geo_merged_lookup(const struct geo_merged *m, unsigned family,
                                         const uint8_t *addr, uint8_t *scope)
{
    return geo_trie_lookup(&m->trie, family, addr, scope);
}

#endif

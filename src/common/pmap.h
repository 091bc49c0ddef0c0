/*
 * pmap.h -- a persistent map from names (runs of octets) to values: every
 * change makes a new version and leaves the one it was made from as it
 * was; the two share every node the change did not touch.
 *
 * Why: at 1,000,000 policy names a configuration change copied or walked
 * what it did not touch (issue #55): the records, their bindings, the
 * counters' ids. A version of this map is a hash array mapped trie
 * (Bagwell's HAMT, as Clojure's maps): 64-way branches indexed by six
 * bits of the name's 64-bit hash at a time, with a bitmap of the slots
 * present. A change copies only the path from the root to what it
 * touches, about four branches at a million names, so it costs
 * O(log64 N) in time and memory, and pmap_diff finds what two versions
 * hold differently in time that follows the difference: it skips every
 * subtree the two share (the same pointer).
 *
 * Families. Versions are made in a family (pmap_family_new): it holds the
 * hash's seed, the function that releases a value, and counts the nodes
 * and octets its versions hold between them (for tests and statistics:
 * a node shared by many versions counts once). Only versions of one
 * family may be compared or derived from one another.
 *
 * Ownership and threads (the discipline of the served set: a reader holds
 * a version, a writer publishes a new one; serve_set.h). A version
 * (struct pmap) is immutable once returned and counted by reference:
 * pmap_ref adds a holder, pmap_release drops one, and the last drops the
 * version's root. Every node is counted by reference too (by the versions
 * and branches that point at it), atomically, so that versions made on
 * one thread may be read and released on any other at once, with no lock:
 * the node a release frees is one no version holds any more. Reads
 * (pmap_get, pmap_each, pmap_diff, pmap_count) take no lock and may run on
 * any number of threads on versions they hold. A value given to pmap_set
 * belongs to the map from then on (one reference of it); the family's
 * release function gives it back when the last node that holds it goes.
 * pmap_get's result is borrowed: valid while the caller holds the version.
 * Keys are copied into the map. The family belongs to its creator, who
 * frees it after the last version of it (pmap_family_free aborts before
 * that: it would be a use after free later).
 */
#ifndef GTM_COMMON_PMAP_H
#define GTM_COMMON_PMAP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct pmap;
struct pmap_family;

/* Gives back the map's reference of a value (NULL release: values are not
 * owned by the map). Called on whichever thread drops the last holder. */
typedef void (*pmap_release_fn)(void *value, void *ctx);

/* A family whose versions hash names with seed and release values with
 * release(value, ctx). Aborts when memory runs out. */
struct pmap_family *pmap_family_new(uint64_t seed, pmap_release_fn release, void *ctx);
/* Frees the family (NULL: nothing); every version of it must be released
 * before (aborts when a node is still held). */
void pmap_family_free(struct pmap_family *f);
/* For tests: keeps only the bits of mask of every hash, so that names
 * collide and paths run deep. Only before the family's first version. */
void pmap_family_test_mask(struct pmap_family *f, uint64_t mask);
/* How many nodes and octets the family's versions hold now, shared nodes
 * counted once. */
size_t pmap_family_nodes(const struct pmap_family *f);
size_t pmap_family_bytes(const struct pmap_family *f);

/* The empty version of family f, with one holder (the caller). */
struct pmap *pmap_new(struct pmap_family *f);
/* Adds a holder of m and returns m. */
struct pmap *pmap_ref(struct pmap *m);
/* Drops one holder of m (NULL: nothing); the last frees what no other
 * version shares. Any thread. */
void pmap_release(struct pmap *m);

/* How many names m holds. */
size_t pmap_count(const struct pmap *m);
/* The value of the name key (len octets) in m, or NULL; *found (when not
 * NULL) tells a NULL value from an absent name. Borrowed from m. */
void *pmap_get(const struct pmap *m, const void *key, size_t len, bool *found);

/* A new version: m with name key set to value (which the new version
 * owns: one reference given by the caller). m is unchanged and still held
 * by the caller; the result has one holder (the caller). The value m had
 * for the name stays m's. Aborts when memory runs out. */
struct pmap *pmap_set(struct pmap *m, const void *key, size_t len, void *value);
/* A new version: m without name key (m itself, with one more holder, when
 * it has no such name). */
struct pmap *pmap_del(struct pmap *m, const void *key, size_t len);

/* Calls fn for every name of m, in the order of their hashes (the same
 * for the same family and names); stops when fn returns false, and then
 * returns false. */
typedef bool (*pmap_each_fn)(const void *key, size_t len, void *value, void *ctx);
bool pmap_each(const struct pmap *m, pmap_each_fn fn, void *ctx);

/* Calls fn for every name a and b (of one family) hold differently: in a
 * only (new_value NULL, new_found false), in b only (old NULL, old_found
 * false), or in both with values that are not the same pointer. Subtrees
 * the two versions share are skipped, so the cost follows the difference.
 * Stops and returns false when fn returns false. */
struct pmap_change {
    const void *key;
    size_t len;
    void *old_value, *new_value;
    bool old_found, new_found;
};
typedef bool (*pmap_diff_fn)(const struct pmap_change *c, void *ctx);
bool pmap_diff(const struct pmap *a, const struct pmap *b, pmap_diff_fn fn, void *ctx);

#endif

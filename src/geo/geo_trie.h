/*
 * geo_trie.h -- a read-only binary prefix trie over the IPv4 and IPv6
 * address spaces, the one structure behind every geo lookup.
 *
 * A trie is an array of inner nodes, each with two child references (bit
 * 0, bit 1). A reference is either an inner node's index or a leaf with a
 * 31-bit value: a location index (geo_db) or an answer class (geo_map,
 * geo_nearest). A lookup walks the address bits from the root until it
 * reaches a leaf; the number of bits walked is the leaf's prefix length,
 * i.e. every address sharing that prefix gets the same value.
 *
 * Builders (geo_db, geo_merge) append nodes bottom-up through
 * geo_trie_node(), which never creates a node whose two children are the
 * same leaf: it returns that leaf instead. Every leaf therefore sits at the
 * shortest prefix whose addresses all carry its value, unless the same
 * value is split by an inner node whose two halves differ somewhere below.
 *
 * The trie may be a DAG: a node can be the child of several parents (the
 * IPv4 subtree of a MaxMind IPv6 tree is reachable from ::/96,
 * ::ffff:0:0/96, 2001::/32 and 2002::/16). Lookups do not care; walks that
 * visit every node memoise by node index (geo_trie_relabel does).
 *
 * There are two roots: root4 for IPv4 (32 bits) and root6 for IPv6 (128
 * bits). Each root's subtree is at most as deep as its address length.
 *
 * Lookups take no lock, allocate nothing and do no I/O; a trie is
 * immutable once built and may be read by any number of threads.
 *
 * Ownership: a trie owns its node array (geo_trie_free).
 */
#ifndef GTM_GEO_GEO_TRIE_H
#define GTM_GEO_GEO_TRIE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

/* Address families, numbered as in ECS (RFC 7871) and IANA's registry. */
#define GEO_FAMILY_IPV4 1
#define GEO_FAMILY_IPV6 2

typedef uint32_t geo_ref;
#define GEO_REF_LEAF 0x80000000u
#define GEO_VALUE_MAX 0x7ffffffeu /* so that GEO_REF_NONE is no leaf */
#define GEO_NODES_MAX 0x7fffffffu
#define GEO_REF_NONE 0xffffffffu /* "not computed yet" in builders' memos */

static inline geo_ref geo_ref_leaf(uint32_t value)
{
    return GEO_REF_LEAF | value;
}

static inline bool geo_ref_is_leaf(geo_ref r)
{
    return (r & GEO_REF_LEAF) != 0;
}

static inline uint32_t geo_ref_value(geo_ref r)
{
    return r & ~GEO_REF_LEAF;
}

struct geo_node {
    geo_ref child[2];
};

struct geo_trie {
    struct geo_node *nodes;
    uint32_t n_nodes;
    uint32_t cap;
    geo_ref root4; /* IPv4: 32 bits */
    geo_ref root6; /* IPv6: 128 bits */
};

/* An empty trie whose two roots are leaf(value). */
void geo_trie_init(struct geo_trie *t, uint32_t value);
void geo_trie_free(struct geo_trie *t);

/* The parent of l and r: l itself when l == r is a leaf, else a new node.
 * Aborts when out of memory or past GEO_NODES_MAX nodes (load time only). */
geo_ref geo_trie_node(struct geo_trie *t, geo_ref l, geo_ref r);

/* Releases the unused tail of the node array once building is done. */
void geo_trie_shrink(struct geo_trie *t);

/* Bit number `bit` (0 = most significant) of a big-endian address. */
static inline unsigned geo_addr_bit(const uint8_t *addr, unsigned bit)
{
    return (addr[bit >> 3] >> (7u - (bit & 7u))) & 1u;
}

/* Walks addr (4 octets for IPv4, 16 for IPv6) from the family's root to a
 * leaf; returns its value and stores the leaf's prefix length in *prefix.
 * Lock-free, allocation-free. */
uint32_t geo_trie_lookup(const struct geo_trie *t, unsigned family, const uint8_t *addr,
                         uint8_t *prefix);

/* Like geo_trie_lookup, and also stores in *marked the depth of the first
 * node on addr's path whose bit is set in marks (a bitmap indexed by node
 * index, see geo_trie_uniform_marks), or the leaf's depth when none is:
 * with uniform marks, the widest prefix around addr whose addresses all
 * get the same relabelled value. marks NULL: *marked = *prefix. One walk,
 * plus one bit test per level above the first mark. */
uint32_t geo_trie_lookup_marked(const struct geo_trie *t, unsigned family, const uint8_t *addr,
                                const uint8_t *marks, uint8_t *prefix, uint8_t *marked);

/* The bitmap of the nodes of t whose whole subtree holds one value once
 * every leaf value v is replaced by map[v] (v < n_map; values past it are
 * kept): the nodes geo_trie_relabel would merge into a leaf. One pass over
 * the nodes, which builders append children first. (n_nodes + 7) / 8
 * octets; the caller frees it. */
uint8_t *geo_trie_uniform_marks(const struct geo_trie *t, const uint32_t *map, size_t n_map);

/* Builds dst from src with every leaf value v replaced by map[v] (v <
 * n_map; values past it are kept), merging sibling leaves that become
 * equal, so dst's prefixes are the widest for the new values. dst is
 * initialised here; the caller frees it. Coarsens answer classes; the
 * query path uses the equivalent marks instead (geo_merge.h). */
void geo_trie_relabel(const struct geo_trie *src, const uint32_t *map, size_t n_map,
                      struct geo_trie *dst);

/* Bytes held by the node array. */
size_t geo_trie_bytes(const struct geo_trie *t);

/* The client address of a socket address as looked up: IPv4, or IPv6 --
 * except an IPv4-mapped IPv6 address (::ffff:a.b.c.d, a dual-stack
 * socket's view of an IPv4 client), which is returned as the IPv4 address.
 * Returns false for other families. addr receives 4 or 16 octets. */
bool geo_addr_from_sockaddr(const struct sockaddr_storage *ss, unsigned *family, uint8_t addr[16]);

#endif

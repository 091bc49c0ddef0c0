/*
 * zone.h -- a compiled, read-only DNS zone.
 *
 * A zone is compiled once at load (zone_build.c) into nodes held in an open
 * addressing hash table keyed by lowercase wire name. Each node carries its
 * RRsets already in wire form (RDLENGTH + RDATA per record), the addresses to
 * put in the additional section, and flags for apex, delegation point and
 * wildcard child, so answering a query needs no allocation and no ldns call.
 *
 * Ownership: a struct zone owns everything reachable from it through its
 * arena; zone_free() releases it all. Once built a zone is never modified, so
 * any number of threads may read it concurrently. Several snapshots may
 * hold one zone (a configuration change that does not touch it keeps it,
 * daemon/load.c): each holds a reference (zone_ref), and the last
 * zone_free frees it.
 *
 * Versions (issue #55, zone_place.h): a change that only adds or removes
 * policy names of an unsigned zone makes a new version of it from the
 * running one instead of reading the file again. The version has a table
 * of its own but shares every node of the one it was made from; its new
 * nodes live in a block of its own (struct zone_store), and it holds the
 * stores (and the file-loaded zone's arena) its nodes live in. So the
 * last zone_free of a version frees its table at once, and the memory of
 * the nodes when the last version sharing them is freed too.
 */
#ifndef GTM_ZONE_ZONE_H
#define GTM_ZONE_ZONE_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/addr.h"
#include "common/arena.h"
#include "dns/sha1.h"
#include "dns/tsig.h"

struct zone_rrset;
struct zone_store;
struct zone_kids;
struct ldns_struct_key_list;
struct zone_update_policy;

/* A name whose addresses belong in the additional section. */
struct zone_additional {
    const uint8_t *owner;          /* lowercase wire name */
    const struct zone_rrset *a;    /* may be NULL */
    const struct zone_rrset *aaaa; /* may be NULL */
    uint8_t owner_len;
    bool required; /* in-bailiwick glue of a referral (RFC 9471) */
};

struct zone_rrset {
    const uint8_t *rdata; /* count x (RDLENGTH(2) RDATA) */
    const struct zone_additional *additional;
    /* The RRSIG records covering this RRset (an RRset of type RRSIG with
     * the same owner), or NULL. Answers with DO=1 carry them right after
     * the RRset. A policy answer signed later points at its own. */
    const struct zone_rrset *sigs;
    uint32_t rdata_len;
    uint32_t ttl;
    uint16_t type;
    uint16_t count;
    uint16_t n_additional;
};

enum zone_node_flags {
    ZONE_NODE_APEX = 1 << 0,
    ZONE_NODE_CUT = 1 << 1,       /* NS below the apex: a delegation point */
    ZONE_NODE_CNAME = 1 << 2,     /* holds a CNAME RRset */
    ZONE_NODE_BELOW_CUT = 1 << 3, /* strictly below a delegation: glue or occluded */
    /* A policy record answers this type here: a signed zone's denial
     * chain lists it although the node holds no such RRset, and a query
     * looks the node's binding up in its set (serve/serve_bind.h). */
    ZONE_NODE_POLICY_A = 1 << 4,
    ZONE_NODE_POLICY_AAAA = 1 << 5,
    ZONE_NODE_POLICY_CNAME = 1 << 6,
    ZONE_NODE_DNAME = 1 << 7,       /* holds a DNAME RRset (RFC 6672) */
    ZONE_NODE_BELOW_DNAME = 1 << 8, /* strictly below a DNAME: occluded, never served */
};

#define ZONE_POLICY_FLAGS (ZONE_NODE_POLICY_A | ZONE_NODE_POLICY_AAAA | ZONE_NODE_POLICY_CNAME)

/* The ZONE_NODE_POLICY_* flag of type t (A, AAAA, CNAME), else 0. */
static inline uint16_t zone_policy_flag(uint16_t t)
{
    return t == 1    ? ZONE_NODE_POLICY_A
           : t == 28 ? ZONE_NODE_POLICY_AAAA
           : t == 5  ? ZONE_NODE_POLICY_CNAME
                     : 0;
}

/* One record set of the zone's denial chain: an NSEC RRset (chain in
 * canonical name order) or an NSEC3 RRset (chain in hash order). */
struct zone_denial {
    const uint8_t *owner;           /* lowercase wire name */
    const struct zone_rrset *rrset; /* type NSEC or NSEC3; its RRSIGs in ->sigs */
    uint8_t owner_len;
    uint8_t hash[DNS_SHA1_LEN]; /* NSEC3: the owner's first label, decoded */
};

/* What a node needs for denial proofs, found at load. */
struct zone_node_denial {
    /* NSEC: the NSEC at the name, or the one before it in canonical order
     * (it covers an empty non-terminal). NSEC3: the NSEC3 whose hash is
     * H(name), or NULL (an opt-out insecure delegation has none). */
    const struct zone_denial *match;
    /* The record covering "*.name" (no wildcard child); NULL if there is
     * a wildcard child. */
    const struct zone_denial *wild;
};

struct zone_node {
    const struct zone_rrset *rrsets;       /* sorted by type */
    const struct zone_node *wildcard;      /* the "*" child of this node, if any */
    const struct zone_node_denial *denial; /* NULL unless the zone has a denial chain */
    uint16_t n_rrsets;
    uint16_t flags;
    uint8_t name_len;
    /* The lowercase wire name, in the node's own block (zone_node_size):
     * no pointer to it, and a lookup compares it in the cache line it
     * found the node in. */
    uint8_t name[];
};

/* Octets of a node with a name of name_len octets. */
static inline size_t zone_node_size(size_t name_len)
{
    return offsetof(struct zone_node, name) + name_len;
}

/* A hash table slot: the hash is kept beside the pointer so that a probe
 * past a non-matching entry does not have to touch that node's memory.
 * Packed: 12 octets, not 16 (4.2 MB of the 1M-record zone's 1M slots);
 * x86-64 and arm64 load the unaligned pointer at no cost. Read and written
 * by value only (never by a pointer to a member). */
struct zone_slot {
    uint32_t hash;
    const struct zone_node *node; /* NULL = empty */
} __attribute__((packed));

/* Where a DNAME with a policy name below it is in the zone file: the
 * loader refuses that policy name (daemon/load.c, load_attach) and names
 * this place. */
struct zone_dname_src {
    const uint8_t *owner; /* the DNAME node's name */
    const char *file;     /* the zone file or the $INCLUDEd one (arena) */
    uint32_t line;
};

enum zone_denial_kind { ZONE_DENIAL_NONE = 0, ZONE_DENIAL_NSEC, ZONE_DENIAL_NSEC3 };

/* The DNSSEC parts of a compiled zone (zone_dnssec.c), all found at load. */
struct zone_dnssec {
    uint8_t kind;                    /* enum zone_denial_kind */
    bool has_dnssec_records;         /* any DNSKEY, RRSIG, NSEC, NSEC3, NSEC3PARAM */
    bool signed_apex;                /* DNSKEY at the apex and an RRSIG over the SOA */
    const struct zone_denial *chain; /* sorted: canonical order (NSEC) or by hash (NSEC3) */
    uint32_t n_chain;
    uint32_t n_nsec3_foreign; /* NSEC3 records of other parameters: left out */
    bool has_nsec3param;
    uint16_t nsec3_iterations; /* the chain's parameters (NSEC3PARAM, else the first NSEC3) */
    uint8_t nsec3_salt_len;
    uint8_t nsec3_salt[255];
    struct zone_rrset neg_soa_sigs; /* RRSIGs of the SOA with the negative TTL */
};

struct zone {
    struct arena arena;
    uint8_t origin[255];
    uint8_t origin_len;
    uint8_t origin_labels;
    char *file;              /* as named in the config (arena) */
    char *origin_str;        /* presentation form (arena) */
    struct zone_slot *table; /* open addressing */
    uint32_t mask;
    size_t n_nodes;
    size_t n_records;
    size_t n_policy_names; /* nodes with a ZONE_NODE_POLICY_* flag */
    /* The DNAMEs with a policy name below them (usually none; arena). */
    const struct zone_dname_src *policy_dnames;
    size_t n_policy_dnames;
    const struct zone_node *apex;
    const struct zone_rrset *soa;
    struct zone_rrset neg_soa; /* SOA with TTL = min(TTL, MINIMUM), RFC 2308 */
    uint32_t serial;
    struct zone_dnssec dnssec;
    /* A zone signed at load with policy names: the keys that sign their
     * answers (the ZSKs, or every key when there is one kind), owned,
     * freed by zone_free; and their validity (zone_params.h). NULL
     * otherwise. Only the thread that holds the policy signature store's
     * lock signs with them (policy_sign.h). */
    struct ldns_struct_key_list *policy_keys;
    /* Outgoing transfers ("transfer" of the zone entry, set by the loader):
     * the networks that may transfer the zone (arena; none = nobody) and
     * the TSIG key they must sign with (a key of the served set's keyring,
     * which outlives the zone's use; NULL = none required). */
    const struct addr_net *xfr_allow;
    size_t xfr_n_allow;
    const struct tsig_key *xfr_key;
    /* A secondary zone whose copy was not refreshed within its SOA expire
     * time (xfr_in.h): every query for it gets SERVFAIL. Set by the loader,
     * and on the published zone by the daemon when the reload a secondary
     * asked for failed (expiry does not wait for a reload that succeeds);
     * atomic for that (a plain load on the query path). */
    atomic_bool expired;
    /* Differences from older serials, for IXFR (zone_journal.h): owned,
     * set by the daemon before the set is published; NULL = none. */
    struct zone_journal *journal;
    /* A zone gtmd makes (a catalog of its zones, xfr_catalog_gen.h): the
     * digest of what it lists, so that the next load keeps the serial when
     * nothing changed. Set by the loader; 0 for every other zone. */
    uint64_t gen_digest;
    /* A secondary zone (a copy from its primaries): an UPDATE gets
     * NOTAUTH. Set by the loader. */
    bool secondary;
    /* Who may change the zone by RFC 2136 updates (zone_update_params.h;
     * in the arena, keys of the served set's keyring); NULL = nobody. */
    const struct zone_update_policy *update;
    /* References beyond the first: a served set made by an update shares
     * every zone but the updated one with the set before it (zone_ref);
     * zone_free drops one and frees the zone with the last. */
    _Atomic unsigned extra_refs;
    /* Versions (zone_place.h). store: the nodes this version added and
     * the versions' stores below it down to the file-loaded zone (held;
     * NULL for a zone read from its file). store_refs: for a zone read
     * from its file, the stores holding its arena beyond the zone itself
     * (the arena and this struct are freed with the last holder). kids:
     * how many child nodes each node with children has, made when a
     * version first removes a name, moved to each version made from
     * this one (owned; NULL until made, and once moved; only the loader
     * reads it, never a query). */
    struct zone_store *store;
    _Atomic unsigned store_refs;
    struct zone_kids *kids;
};

/* Exact lookup of a lowercase wire name; NULL when absent. */
static inline const struct zone_node *zone_find_node(const struct zone *z, const uint8_t *name,
                                                     size_t len, uint32_t hash)
{
    for (uint32_t i = hash & z->mask;; i = (i + 1) & z->mask) {
        const struct zone_node *n = z->table[i].node;
        if (!n)
            return NULL;
        if (z->table[i].hash == hash && n->name_len == len &&
            __builtin_memcmp(n->name, name, len) == 0)
            return n;
    }
}

/* Starts loading what zone_find_node(z, ., ., hash) will read: the table
 * slot (node = false) or, once the slot is in cache, the node it points to
 * (node = true). A caller overlaps the misses of a batch of names by doing
 * the slots of all of them before the nodes. At 100k QPS these two loads
 * were most of answer_lookup, itself 11 % of the worker's CPU samples
 * (doc/architecture.md, "On the wire"). A prefetch never faults. */
static inline void zone_prefetch(const struct zone *z, uint32_t hash, bool node)
{
    const struct zone_slot *slot = &z->table[hash & z->mask];
    if (!node)
        __builtin_prefetch(slot);
    else if (slot->node)
        __builtin_prefetch(slot->node);
}

const struct zone_rrset *zone_node_rrset(const struct zone_node *n, uint16_t type);

/* True when a and b hold the same names, flags and RRsets (type, TTL,
 * every RDATA in order): two loads of one file compared (the fast scanner
 * against ldns, tests/unit/test_zone_fast.c and fuzz_zone). */
bool zone_records_equal(const struct zone *a, const struct zone *b);

/* The NSEC at or before name (lowercase wire) in canonical order: it
 * matches or covers name. NULL when the zone has no NSEC chain. */
const struct zone_denial *zone_nsec_find(const struct zone *z, const uint8_t *name, size_t len);

/* The NSEC3 whose hash is hash (*exact) or that covers it: the last one
 * before it in hash order, wrapping to the last of the chain. NULL when
 * the zone has no NSEC3 chain. */
const struct zone_denial *zone_nsec3_find(const struct zone *z, const uint8_t hash[DNS_SHA1_LEN],
                                          bool *exact);

/* One more owner of z (a snapshot that keeps it: a change that does not
 * touch it, or an update of another zone; zone_free once per owner). */
void zone_ref(struct zone *z);
void zone_free(struct zone *z);

#endif

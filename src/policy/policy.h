/*
 * policy.h -- pools of endpoints in regions and azs, and policy records.
 *
 * A struct gslb is the compiled form of the config's "regions", "checks",
 * "pools" and "records" sections. It is built by the loader next to the
 * zones, becomes part of a snapshot, and is read-only afterwards: DNS
 * workers evaluate policy records against it (policy_eval.h) reading only
 * the endpoints' atomic health bytes.
 *
 * Ownership: a gslb owns everything reachable from it (gslb_free); health
 * slots belong to the health core: a mapped gslb holds a reference on each
 * of its slots and gives them back when it is freed (health.h).
 */
#ifndef GTM_POLICY_POLICY_H
#define GTM_POLICY_POLICY_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include "dns/dns.h"
#include "geo/geo_map.h"
#include "health/composite.h"
#include "health/health.h"
#include "health/probe.h"

struct policy_ramp;
struct bigalloc_spare;
struct policy_orders;
struct policy_dial_client;

struct policy_region {
    char *name;
    struct health_slot *slot; /* "region:NAME": carries operator overrides */
    bool has_location;
    double lat, lon; /* degrees */
};

struct policy_az {
    char *name;
    struct health_slot *slot; /* "az:NAME" */
    uint16_t region;
};

struct policy_endpoint {
    char *name;
    char *key;      /* "endpoint:POOL/NAME": the health slot key */
    uint16_t rtype; /* DNS_TYPE_A, DNS_TYPE_AAAA or DNS_TYPE_CNAME */
    uint16_t rdlen; /* 4, 16, or wire name length */
    /* The answer's RDATA (policy_endpoint_rdata): the address inline, or
     * the CNAME target in wire form (owned, freed with the strings). It
     * was an inline 255-octet array in every endpoint (issue #38). */
    union {
        uint8_t addr[16];
        uint8_t *cname;
    } rd;
    char *address_str;        /* as configured */
    uint16_t region;          /* index into gslb.regions */
    uint16_t az;              /* index into gslb.azs; UINT16_MAX = none */
    uint32_t weight;          /* 0 = never selected while others are up */
    struct health_slot *slot; /* NULL only outside a running server */
    /* Where the probe goes: an address, or a host name resolved by c-ares.
     * An address is IPv4 or IPv6 (addr_parse): not a whole sockaddr_storage. */
    union {
        struct sockaddr sa;
        struct sockaddr_in v4;
        struct sockaddr_in6 v6;
    } check_addr;
    socklen_t check_len; /* 0 when check_host must be resolved */
    char *check_host;
    uint16_t check_port;
    /* A pool with a composite check: one slot per child check of the
     * composite ("check:POOL/NAME/CHECK", comp.n_of of them), in the order
     * of its "of"; NULL otherwise. Mapped and released with slot. */
    struct health_slot **kid_slots;
};

/* e's answer RDATA, rdlen octets. */
static inline const uint8_t *policy_endpoint_rdata(const struct policy_endpoint *e)
{
    return e->rtype == DNS_TYPE_CNAME ? e->rd.cname : e->rd.addr;
}

struct policy_pool {
    char *name;
    int check;            /* index into gslb.checks; -1 = no check (always up) */
    unsigned min_healthy; /* per region and per az; default 1 */
    struct policy_endpoint *eps;
    size_t n_eps;
};

enum policy_kind {
    POLICY_FAILOVER = 0,
    POLICY_WEIGHTED,
    POLICY_ALL,
    POLICY_GEO,
    POLICY_NEAREST,
    POLICY_LATENCY, /* by round-trip time from the client's vantage point (policy_latency.h) */
};

struct policy_latency_cfg;
enum policy_select { SELECT_ALL = 0, SELECT_WEIGHTED, SELECT_HASHED };
enum policy_down { DOWN_ALL = 0, DOWN_FALLBACK, DOWN_EMPTY };

/* A region order: indexes into gslb.regions, most preferred first. */
struct policy_order {
    const uint16_t *regions;
    uint16_t n;
};

/* The parts of a record that few records use (load shedding, a failback
 * ramp, a latency or geo policy, fallback answers): one block a record
 * points at (policy_record.ext) when it uses any of them, NULL when it
 * uses none, so that these 56 octets are not in every record of the array
 * a change copies (issue #38). Read through policy_ext_of. Made when the
 * record is compiled, never changed after; owned, and shared with the
 * same record of other sets, as the record's other parts
 * (policy_record.name_str; gslb_free_record frees the block and what it
 * points at). */
struct policy_record_ext {
    uint32_t ramp_ms; /* "failback": {"ramp"}: a recovered region ramps back
                         over this many ms (policy_ramp.h); 0: at once */
    uint32_t n_fallback;
    double shed_low, shed_high; /* policy_record.shed: the watermarks */
    /* latency: tolerance and vantage points (policy_latency.h); NULL for
     * the other policies. Its vantage map, if any, is parsed into geo
     * (classes as a geo map's; geo_orders stay NULL: every class falls
     * back along regions). */
    struct policy_latency_cfg *latency;
    /* geo: the parsed map (owned) and the region order of each class
     * (geo_map.h: n_keys + 1 classes, the last one, unknown location,
     * served by "default"); the orders' regions are in the same block,
     * after the orders (one allocation: free geo_orders). */
    struct geo_map *geo;
    struct policy_order *geo_orders;
    struct policy_endpoint *fallback; /* static answers for DOWN_FALLBACK */
};

struct policy_record {
    /* The fields a change reads of every record (the walks of
     * policy_config_touched.c, pc_reuse_copy, policy_bind_names, the
     * counters) and the answer reads of a plain record come first, in
     * the first 64 octets of the record (80 in all): at 100,000 records a
     * change copies the whole array and walks it, and every octet here is
     * 100 KB at each (issue #38). The record was 192 octets, then 128
     * (a walk read one cache line of its two); at 80 records are no longer
     * aligned to lines and a walk reads 80 octets a record, but a copy 48
     * fewer. The fields few records use are in ext. */
    uint32_t index; /* in gslb.records */
    /* Hashes of the name as text (its JSON key) and in wire form, made
     * when the record is compiled and copied with it, so that a change
     * groups and finds records without reading every name's block (a
     * cache miss each at 100,000 records; policy_bind_names,
     * policy_config.c). policy_name_hash of the octets. */
    uint32_t key_hash, name_hash;
    uint32_t pool;
    uint16_t rtype; /* type served, from the pool's endpoints */
    uint8_t name_len;
    /* Health-aware TTL ("ttl_min"): the answer's TTL is the time until its
     * earliest possible change (policy_result.change_at_ms), between
     * ttl_min and ttl. */
    bool health_ttl;
    /* Its JSON key is not a lowercase absolute name without escapes:
     * another key may name the same node ("WWW.example.com.",
     * "www.example.com"), so its name is bound through a table of names,
     * not by its key (policy_bind_names). */
    bool loose_key;
    bool use_ecs; /* the ECS option locates the client ("ecs", default true) */
    bool shed;    /* load shedding ("shed_load", policy_shed.h): ext's shed_low/high */
    enum policy_kind policy : 8;
    uint32_t ttl;
    uint32_t n_regions;
    /* The name as text and, in the same allocation right after its NUL,
     * in wire form (name, name_len): one block per record, where an
     * inline 255-octet array took more than half of the record
     * (issue #38). name_str owns the block; name points into it. */
    char *name_str;
    const uint8_t *name;
    /* The parts the record points at (name_str, regions, ext and what
     * ext points at) are shared with the same record of other policy
     * sets (a change that did not touch it: policy_config_parse_reuse)
     * and owned by one of them (gslb.carried). */
    /* failover: the order; all, weighted: the set; geo: every region of
     * the map, by first appearance; nearest: the set, in the order for
     * clients without coordinates. Immutable and shared with every record
     * of the same list (policy_orders.h): the record's owner gives back
     * its one reference (policy_orders_release), not free(). */
    const uint16_t *regions;
    enum policy_select select : 8;
    enum policy_down when_all_down : 8;
    uint8_t answers;  /* at most this many records (1-16) */
    uint8_t spill;    /* failover: spread over the next N regions (0-64) */
    uint32_t ttl_min; /* health_ttl's shortest TTL */
    /* The parts few records use; NULL: none of them (policy_ext_of). The
     * answer for a record without them never reads a block: its flags
     * (shed, when_all_down, policy) say whether to look, or a pointer
     * test (a ramp). */
    const struct policy_record_ext *ext;
    /* Where the record is in the configuration, for messages
     * (policy_record_path): 0, the value of its JSON key; k + 1, element k
     * of the array there. The path was a string per record, 50 octets and
     * more at 100,000 records (issue #38). */
    uint32_t elem;
};
_Static_assert(sizeof(struct policy_record) == 80 &&
                   offsetof(struct policy_record, name) + sizeof(const uint8_t *) <= 64 &&
                   offsetof(struct policy_record, ttl_min) + sizeof(uint32_t) <= 64,
               "a policy record's hot fields are in its first 64 octets, and it is 80");

/* r's rarely used parts: its block, or one of zeros (no ramp, no
 * fallback, no map) when it has none. */
static inline const struct policy_record_ext *policy_ext_of(const struct policy_record *r)
{
    static const struct policy_record_ext none;
    return r->ext ? r->ext : &none;
}

/* Frees x (made with malloc) and what it points at; NULL: nothing. For
 * the record's owner (gslb_free) and the compiler. */
void policy_record_ext_free(struct policy_record_ext *x);

/* The record places clients by a geo map's keys: a geo record, or a
 * latency record with a vantage map. */
static inline bool policy_uses_map(const struct policy_record *r)
{
    return r->policy == POLICY_GEO || (r->policy == POLICY_LATENCY && policy_ext_of(r)->geo);
}

/* The record has a class trie in the served set's geo data. */
static inline bool policy_has_trie(const struct policy_record *r)
{
    return policy_uses_map(r) || r->policy == POLICY_NEAREST;
}

/* What a zone node points at: the policy records of one name by type. */
struct policy_binding {
    const struct policy_record *a, *aaaa, *cname;
};

/* A check: a probe spec, or a composite of other checks (composite.h),
 * whose spec is unused (zeroed). */
struct policy_check {
    char *name;
    struct probe_spec spec;
    bool composite;
    struct health_composite comp; /* composite only */
    uint16_t *of;                 /* composite only: indexes of its children, comp.n_of */
};

/* The records of a policy set are a persistent vector of one level
 * (issue #55): a table of pointers to chunks of GSLB_CHUNK records each,
 * every chunk counted by reference and shared by the sets that hold the
 * same records at the same indices. A change that replaces names' records
 * in their room (policy_config_touched.c) copies the table (1,000
 * pointers at a million records) and only the chunks it writes, where it
 * copied the whole array (80 MB) and faulted it in. Readers index
 * chunks[i >> GSLB_CHUNK_SHIFT]->r[i & (GSLB_CHUNK - 1)] (gslb_rec); the
 * answer path does not index at all (a zone node's binding points at its
 * records, and the counters take the record's index from it). A chunk is
 * written only by the set that builds it, while it is the chunk's only
 * holder (gslb_rec_w copies a shared one first); once the set is
 * published nothing writes it. Its memory goes with its last holder
 * (gslb_chunk_release); what its records point at (names, region lists,
 * ext blocks) is owned per record as before (gslb.carried), never by the
 * chunk. 1,024 records of 80 octets: 80 KB, below malloc's mmap
 * threshold, so a chunk comes from the heap and is never mapped afresh. */
#define GSLB_CHUNK_SHIFT 10
#define GSLB_CHUNK ((size_t)1 << GSLB_CHUNK_SHIFT)
struct gslb_chunk_block;
struct gslb_chunk {
    atomic_uint refs;
    /* Counted while the chunk lives (borrowed from whoever made the set,
     * gslb.chunks_live); NULL: not counted. */
    atomic_long *live;
    /* The block of huge pages it was made in, with the other chunks of a
     * whole compile (gslb_records_init_block); NULL: malloc'd alone. */
    struct gslb_chunk_block *block;
    struct policy_record r[GSLB_CHUNK];
};

/* A chunk of a set's bindings (gslb.bchunks): GSLB_CHUNK of them, 24 KB,
 * counted by the sets holding it; written only by the set that made or
 * copied it, before it is published (policy_bind.c copies a shared one
 * first). Freed by its last holder. */
struct gslb_bchunk {
    atomic_uint refs;
    struct policy_binding b[GSLB_CHUNK];
};

struct gslb {
    atomic_int refs;          /* snapshot + prober plans; see gslb_unref */
    struct health_core *core; /* whose slots it maps (gslb_map_health); NULL: none */
    struct policy_region *regions;
    size_t n_regions;
    struct policy_az *azs;
    size_t n_azs;
    struct policy_check *checks;
    size_t n_checks;
    struct policy_pool *pools;
    size_t n_pools;
    /* n_chunks pointers, each to a chunk or NULL (never written yet):
     * room for n_chunks * GSLB_CHUNK records (gslb_records_init). Owned:
     * the table, and one reference on each chunk in it. */
    struct gslb_chunk **chunks;
    size_t n_chunks;
    atomic_long *chunks_live;     /* given to the chunks it makes (gslb_chunk.live); may be NULL */
    struct bigalloc_spare *spare; /* tables come from and go back to it; NULL: none */
    /* Where the records compiled here intern their region lists
     * (policy_orders.h); borrowed, read only while compiling; NULL: a
     * list of their own each. */
    struct policy_orders *orders;
    size_t n_records;
    /* The bindings (policy_bind.c), indexed like the first record of each
     * name, in chunks of GSLB_CHUNK like the records (n_bchunks pointers,
     * each to a chunk, shared by reference with the sets built in place
     * from this one: a binding points at records, so the chunks a change
     * writes have their names bound again and only those chunks of
     * bindings are copied). NULL before binding. Owned: the table and one
     * reference on each chunk. */
    struct gslb_bchunk **bchunks;
    size_t n_bchunks;
    size_t n_bindings;
    size_t n_bound;             /* bindings that bind anything (policy_binding_any) */
    struct health_core *health; /* set by gslb_map_health; NULL before (health epochs) */
    struct policy_ramp *ramp;   /* failback ramps (policy_ramp.h); NULL: no record has one */
    size_t n_reused;            /* records taken compiled from the running set (policy_config.h) */
    /* Of the records, those with a class trie or the latency policy
     * (policy_geo_build) and those with a failback ramp (policy_ramp_init),
     * counted as each is compiled or taken (policy_config.c), so that a
     * change does not walk every record to find none; valid when counted
     * (a set built otherwise is walked). */
    bool counted;
    size_t n_located, n_ramped;
    size_t n_loose;   /* records with a loose_key */
    size_t n_latency; /* records of the latency policy (the fleet measures RTT for them) */
    size_t n_shed;    /* records with shed_load (policy_shed_warn) */
    /* Where each record came from, so that what the loader and the
     * counters built for a record the running set already had is copied
     * by index instead of looked up by name (issue #38): from[i] is the
     * index in from_g of the record records[i] was taken compiled from,
     * or GSLB_COMPILED. from_g is borrowed: the running set's policy set
     * (policy_config_parse_reuse's reuse->g), valid while that set lives,
     * so only until this set is published (gslb_published). NULL (and
     * from NULL): every record was compiled. Owned: from. */
    uint32_t *from;
    const struct gslb *from_g;
    /* Who frees the parts its records point at (policy_record.name): an
     * unpublished set with an origin, those of the records it compiled; a
     * published one, those of its records its successor did not take
     * (carried[i]: record i was taken; carried NULL, no successor yet: all
     * of them). A set holds a reference on its successor, so sets are
     * freed oldest first and a record's parts outlive every set holding
     * the record. A count per record did it before, a locked add per
     * record per change (a fifth of a change's work at 100,000 records,
     * issue #38). Set by gslb_published, read by gslb_free. Owned:
     * carried, one reference of successor. */
    uint8_t *carried;
    struct gslb *successor;
    /* A set built in place (policy_config_touched.c, issue #55): its
     * chunks are from_g's, shared, and every record is from_g's record at
     * its index but the n_redone sorted indices in redone, compiled there
     * (in their room); from is NULL then, so a change costs the records it
     * touched, not an array of every record's origin. After
     * gslb_published redone moves to the replaced set as owned. Owned:
     * redone. */
    bool inplace;
    uint32_t *redone;
    size_t n_redone;
    /* A published set whose successor was built in place owns the parts
     * of only these records (sorted; the others went with the successor):
     * carried's sparse form, freed in their number, not a walk of every
     * record. owned_only: this form applies. Owned: owned. */
    bool owned_only;
    uint32_t *owned;
    size_t n_owned;
    /* Where each name's records start, by key (policy_keys.c), shared by
     * the sets built in place from this one (they keep every name at its
     * index); NULL: not made yet (made by the first change in place).
     * n_keys: the members of the document's "records" this set was
     * compiled from, names with no record included (0: unknown). Owned:
     * one reference on keys. */
    struct gslb_keys *keys;
    size_t n_keys;
    /* The pools and azs taken whole from the running set (policy_config_pools.c,
     * a change that left "pools", "regions" and "checks" as they were):
     * their arrays are this set's, the strings they point at (names, keys,
     * addresses, check hosts) are pools_from's until this set is
     * published, then this set's: pools_carried on the set it replaced
     * (gslb_published), which then frees only its arrays. Parsing 2,500
     * pools of 10,000 endpoints again was a fifth of a change (issue #38).
     * pools_from is borrowed like from_g, and like the records taken
     * from from_g, such a set is published in place of pools_from or not
     * at all (reloads are serialised); NULL: parsed here. */
    const struct gslb *pools_from;
    bool pools_carried;
    /* pools_shared: g->pools itself, with its endpoint arrays and their
     * health slots (the references on them, the composite checks' kid
     * slots), is pools_from's very array, not a copy (issue #55: 10,000
     * endpoints copied and each slot referenced again on every change of
     * a record, a fifth of the store thread at 1,000,000 names). Like the
     * strings it passes to this set when published (arrays_carried on the
     * set it replaced, which then frees and releases none of it); a set
     * mapped in another health core (a dry run's private one) first takes
     * a copy of its own (gslb_map_health). */
    bool pools_shared;
    bool arrays_carried;
    /* What the parse and the binding ask of the pools by name and by
     * type (struct gslb_pool_tabs, gslb_pool_index, gslb_pool_types);
     * NULL until first asked. One reference: a set that takes its pools
     * from the running set (pc_pools_take) shares that set's tables, so a
     * change of one record neither hashes every pool's name nor walks
     * every endpoint again (issue #55: 12 % of the store thread at
     * 10,000 endpoints). */
    struct gslb_pool_tabs *pool_tabs;
};

/* The pools' tables of a set, made at once from its complete pools and
 * not changed after (so sets that share pools may share them on any
 * thread): the names (open addressing, 1 + the pool's index; the first
 * pool of a name wins) and each pool's answer types. Counted by
 * reference (atomically: sets are freed on the dropper thread). Valid
 * for the pools they were made from or an array with the same pools in
 * the same order (n). */
struct gslb_pool_tabs {
    atomic_uint refs;
    size_t n, mask;
    uint32_t *index;
    uint8_t *types; /* GSLB_POOL_A | GSLB_POOL_AAAA per pool */
};
enum { GSLB_POOL_A = 1, GSLB_POOL_AAAA = 2 };

#define GSLB_COMPILED UINT32_MAX

/* Whether g's names are bound by key (policy_bind_names: no record has
 * a loose key): then a binding taken from g's origin whose origin binding
 * binds anything binds the very records of one key it bound (a change
 * takes a key's records whole, their pools of the same shape). */
static inline bool gslb_bound_by_key(const struct gslb *g)
{
    return g->counted && g->n_loose == 0;
}

/* Binding i of a set's chunks of bindings (gslb.bchunks, or a served
 * set's copy of the pointer: serve_bind.h). */
static inline const struct policy_binding *policy_binding_at(struct gslb_bchunk *const *t, size_t i)
{
    return &t[i >> GSLB_CHUNK_SHIFT]->b[i & (GSLB_CHUNK - 1)];
}

/* Binding i of g (i < g->n_bindings). */
static inline const struct policy_binding *gslb_binding(const struct gslb *g, size_t i)
{
    return policy_binding_at(g->bchunks, i);
}

/* Whether binding b binds anything. */
static inline bool policy_binding_any(const struct policy_binding *b)
{
    return b->a || b->aaaa || b->cname;
}

/* Whether bindings b and o fill the same slots (a record taken with a
 * pool that gained AAAA endpoints in regions it had keeps its shape, but
 * binds AAAA now). */
static inline bool policy_binding_same_slots(const struct policy_binding *b,
                                             const struct policy_binding *o)
{
    return !b->a == !o->a && !b->aaaa == !o->aaaa && !b->cname == !o->cname;
}

/* Record i of g (i < g->n_records). */
static inline const struct policy_record *gslb_rec(const struct gslb *g, size_t i)
{
    return &g->chunks[i >> GSLB_CHUNK_SHIFT]->r[i & (GSLB_CHUNK - 1)];
}

/* Room for cap records in g, none written (policy_records.c). */
void gslb_records_init(struct gslb *g, size_t cap);
/* The same for a set that will write every record (a compile with no
 * running set to share with): its chunks are made at once in one block
 * of huge pages (bigalloc), so that the walks over every record of a
 * large estate (binding names, a change's pass over the running set)
 * read them through a few TLB entries, as the single array was; 4 KB
 * pages of the heap cost those walks more than the copy they save. The
 * block is unmapped when its last chunk goes: a chunk copied by a later
 * change is malloc'd alone, so a block stays while its estate has
 * chunks no change wrote since the start. */
void gslb_records_init_block(struct gslb *g, size_t cap);
/* Record i of g to write (i < the room made): its chunk is made when it
 * has none, and copied first when another set holds it too, so no other
 * set sees the write. Only the thread building g, before it is published. */
struct policy_record *gslb_rec_w(struct gslb *g, size_t i);
/* Whether slot i of g (the next to fill, in order) now holds record i of
 * from as it is, by sharing from's chunk: i is the first slot of a chunk
 * g has none of yet, or g shares that chunk with from already. false:
 * write it (gslb_rec_w). */
bool gslb_rec_share(struct gslb *g, const struct gslb *from, size_t i);
/* Makes g's chunk table (none yet) from's, every chunk shared: g holds
 * from's records at their indices (n_records too) until it writes one
 * (gslb_rec_w copies that chunk). For a set built in place. */
void gslb_records_share_all(struct gslb *g, const struct gslb *from);

/* Where each name's records start in a set, by key (policy_keys.c): an
 * open-addressing table of 1 + the index of a name's first record, made
 * once and shared by the sets built in place from it (their names stay
 * at their indices). Counted: freed by its last holder (gslb_free). */
struct gslb_keys;
/* g's table, made if g has none (a walk of its records, on the reload
 * thread: g is the running set, which no one else writes). NULL when g's
 * records are not grouped by name (a name's records apart). */
struct gslb_keys *gslb_keys_of(struct gslb *g);
/* The index of the first record of name (key hash h) in g through keys,
 * or SIZE_MAX. */
size_t gslb_keys_find(const struct gslb_keys *keys, const struct gslb *g, const char *name,
                      uint32_t h);
struct gslb_keys *gslb_keys_ref(struct gslb_keys *keys);
/* A table of g's names made from old (the table of the set g was built
 * from, whose names g holds at the same indices) with g's names that
 * start at firsts[0..n) added: a new table (count 1, the caller's), or
 * NULL when old is too small for g's records or one of those names is
 * in it already (then gslb_keys_of makes g's when needed). */
struct gslb_keys *gslb_keys_grown(const struct gslb_keys *old, const struct gslb *g,
                                  const uint32_t *firsts, size_t n);
/* Whether record i of g has the key of record i - 1 (false for 0): the
 * records of one JSON member are consecutive, so this groups them. */
bool gslb_same_key_as_before(const struct gslb *g, size_t i);
/* How many records of g from at share at's key (at < g->n_records). */
size_t gslb_key_run(const struct gslb *g, size_t at);
void gslb_keys_unref(struct gslb_keys *keys);
/* Gives back g's references on its chunks and frees the table; g holds
 * no records after it. */
void gslb_records_free(struct gslb *g);

/* Counts r among g's located and ramped records (gslb.counted). */
static inline void gslb_count_record(struct gslb *g, const struct policy_record *r)
{
    g->n_located += policy_has_trie(r) || r->policy == POLICY_LATENCY;
    g->n_ramped += policy_ext_of(r)->ramp_ms > 0;
    g->n_loose += r->loose_key;
    g->n_latency += r->policy == POLICY_LATENCY;
    g->n_shed += r->shed;
}

/* Uncounts r from g's counts (gslb_count_record's inverse): a record of
 * the origin a change in place replaced. */
static inline void gslb_uncount_record(struct gslb *g, const struct policy_record *r)
{
    g->n_located -= policy_has_trie(r) || r->policy == POLICY_LATENCY;
    g->n_ramped -= policy_ext_of(r)->ramp_ms > 0;
    g->n_loose -= r->loose_key;
    g->n_latency -= r->policy == POLICY_LATENCY;
    g->n_shed -= r->shed;
}

/* Whether x is among the n sorted indices of v (a binary search). */
bool gslb_index_in(const uint32_t *v, size_t n, size_t x);

/* The index in g's origin (g->from_g) of the record i was taken from, or
 * GSLB_COMPILED: from[i], or for a set built in place i itself unless
 * it was redone. Only while g has an origin. */
static inline size_t gslb_from(const struct gslb *g, size_t i)
{
    if (g->from)
        return g->from[i];
    return gslb_index_in(g->redone, g->n_redone, i) ? GSLB_COMPILED : i;
}

/* The record of g's origin set (g->from_g) that record i was taken
 * from, or NULL when it was compiled or g has no origin. */
static inline const struct policy_record *gslb_origin_of(const struct gslb *g, size_t i)
{
    size_t f = g->from_g ? gslb_from(g, i) : GSLB_COMPILED;
    return f != GSLB_COMPILED ? gslb_rec(g->from_g, f) : NULL;
}

/* Whether g was built in place from from (and not published yet): every
 * record but g->redone is from's at its index, in the same chunk. */
static inline bool gslb_inplace_from(const struct gslb *g, const struct gslb *from)
{
    return g->inplace && g->from_g == from && from;
}

/* next was published in place of prev, the running set's policy set
 * (either may be NULL; next's origin is prev or none): prev takes a
 * reference on next and leaves it the parts of the records next took;
 * next's origin (from, from_g) is dropped, as prev may be freed now. Only
 * the thread that publishes, before others read these. */
void gslb_published(struct gslb *prev, struct gslb *next);

/* A gslb is shared by the snapshot that serves it and the prober plan that
 * probes its endpoints; the last gslb_unref frees it. */
void gslb_ref(struct gslb *g);
void gslb_unref(struct gslb *g);
/* gslb_unref for a holder that keeps g as an opaque owner: the prober's
 * plans (scheduler_set_plan's release, health sits below policy). */
void gslb_release(void *g);
void gslb_free(struct gslb *g);

int gslb_region_index(const struct gslb *g, const char *name);
/* The pool of that name's index, or -1: a hash lookup (the parse asks
 * once per record; a walk of the pools was records x pools strcmp, most
 * of a reload at 100,000 records over 10,000 pools). */
int gslb_pool_index(const struct gslb *g, const char *name);
/* The answer types of each of g's pools (GSLB_POOL_A, GSLB_POOL_AAAA),
 * indexed like g->pools; borrowed from g. Made with the name table (on
 * the thread building g, as gslb_pool_index). */
const uint8_t *gslb_pool_types(const struct gslb *g);
/* Makes g share from's pool tables (g's pools are from's, in the same
 * order: pc_pools_take); nothing when from has none yet. */
void gslb_pool_tabs_share(struct gslb *g, const struct gslb *from);

/* FNV-1a of len octets of p: the hashes of a record's name. */
static inline uint32_t policy_name_hash(const void *p, size_t len)
{
    const uint8_t *b = p;
    uint32_t h = 2166136261u;
    for (size_t i = 0; i < len; i++)
        h = (h ^ b[i]) * 16777619u;
    return h;
}

/* Room for any policy_record_path. */
#define POLICY_PATH_LEN 272

/* r's JSON path in the configuration ($.records["NAME"], and [k] for an
 * element of an array there), for messages; written into buf (len
 * octets, POLICY_PATH_LEN is room for any) and returned. */
const char *policy_record_path(const struct policy_record *r, char *buf, size_t len);

/* Groups records by name into bindings (binding i is used when record i
 * is the first record of its name); reports two records for one type.
 * A set built in place from a set bound by key shares its chunks of
 * bindings and binds again only the names in the chunks of records it
 * wrote (policy_bind.c). */
struct jsoncfg;
void policy_bind_names(const struct jsoncfg *j, struct gslb *g);
/* Releases g's chunks of bindings (gslb_free). */
void gslb_bindings_free(struct gslb *g);

/* Points every region, az and endpoint at its health slot (created on
 * first use, state kept across reloads), taking a reference on each that
 * gslb_free gives back; endpoints of pools without a check are set up.
 * Once per gslb; core must outlive it. */
void gslb_map_health(struct gslb *g, struct health_core *core);

/*
 * What a dry run or a drill lays over the live state, without publishing
 * anything: one proposed override (the override dry run), and a set of
 * region and az slots lost at the drill layer (what-if, shadow drills, and
 * a scoped drill's canary clients on the DNS path). NULL: the live state.
 */
struct policy_overlay {
    const struct health_slot *slot;        /* override layer: as if slot's override */
    enum health_state state;               /* were state (HEALTH_UNKNOWN: removed) */
    const struct health_slot *const *lost; /* drill layer: these are down */
    size_t n_lost;
    /* External layer: as if a "down" verdict (verdict.h) were on this slot
     * too (the safety rule's what-if of a verdict); NULL: none. */
    const struct health_slot *ext_down;
    /* The client, for dials (partial overrides, policy_dial.h): a slot's
     * dial applies when its bucket is in the dial's share. NULL: no
     * client (dry runs and what-ifs): dials do not apply. */
    struct policy_dial_client *client;
};

/* The drill layer of a slot under an optional overlay: HEALTH_DOWN when
 * a live drill covers it or the overlay loses it, else HEALTH_UNKNOWN. */
enum health_state gslb_slot_drill(const struct health_slot *s, const struct policy_overlay *ov);

/* Layered state of one endpoint, highest first: the drill layer of its
 * region or az (a drilled region or az is down, whatever any override
 * says), its own override, else its az's, else its region's, else an
 * external "down" verdict on it, its az or its region (verdict.h), else the
 * fleet verdict (quorum of vantage points), else the probe verdict (UP
 * for pools without a check). */
enum health_state gslb_endpoint_state(const struct gslb *g, const struct policy_endpoint *e,
                                      const struct policy_overlay *ov);
/* The same, and when the state comes from the endpoint's own probes (no
 * drill, override, external verdict or fleet verdict decides it) the time
 * its probe verdict may change (health_slot_change_at) folded into
 * *change_at: the earliest non-zero one. */
enum health_state gslb_endpoint_state_at(const struct gslb *g, const struct policy_endpoint *e,
                                         const struct policy_overlay *ov, int64_t *change_at);
/* The override layer of a slot under an optional overlay (its dial
 * included when the overlay names a client). */
enum health_state gslb_slot_override(const struct health_slot *s, const struct policy_overlay *ov);

/* An az (region) is down in a pool when a drill covers it (an az also
 * when its region is drilled); otherwise up when it is forced up, or,
 * unless forced down, when >= min_healthy of its endpoints there are up.
 * Counts of the healthy and all endpoints go to healthy and total when
 * not NULL. */
bool gslb_az_up(const struct gslb *g, const struct policy_pool *p, uint16_t az,
                const struct policy_overlay *ov);
bool gslb_region_up(const struct gslb *g, const struct policy_pool *p, uint16_t region,
                    const struct policy_overlay *ov, unsigned *healthy, unsigned *total);

#endif

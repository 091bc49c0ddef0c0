/*
 * policy_geo.h -- the compiled geo data of one configuration: the MaxMind
 * database (flattened, geo_db.h) and the class trie of every geo and
 * nearest record (geo_merge.h), with what the query path needs to turn a
 * client address into a region order and an ECS scope.
 *
 * It is part of the served set (serve_set.h): built by the loader beside
 * the live set at start-up and at every reload, published with it, freed
 * with it. Records with identical maps (the same keys in the same order)
 * share one compiled map trie, whatever their region lists; nearest
 * records with the same regions in the same order share one nearest trie.
 *
 * Query path (policy_eval): policy_geo_client() decides which address
 * locates the client (the ECS address when the query has one and the
 * record uses ECS, else the source address; ECS SOURCE PREFIX-LENGTH 0 or
 * no address at all is the unknown location), policy_geo_lookup() walks
 * the record's class trie once and gives the class and its class-exact
 * scope, policy_geo_order() the class's region order. No lock, no
 * allocation, no I/O.
 *
 * Ownership: a policy_geo owns its database, its tries and its per-record
 * table. It is reference-counted: the served set that was built with it
 * holds one reference, and a set built from that one with the same policy
 * set (zones re-signed, daemon/load.c) takes another; the last
 * policy_geo_unref frees it. Records point at tries by index; the gslb the
 * geo data was built for must outlive it (the served sets hold both).
 */
#ifndef GTM_POLICY_POLICY_GEO_H
#define GTM_POLICY_POLICY_GEO_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "common/errlist.h"
#include "dns/dns.h"
#include "dns/packet.h"
#include "geo/geo_db.h"
#include "geo/geo_merge.h"
#include "geo/geo_nearest.h"
#include "policy/policy.h"

/* One compiled class trie, shared by the records with the same key. */
struct policy_geo_trie {
    bool nearest;
    struct geo_merged map;   /* geo: leaves are classes of the map (geo_map.h) */
    struct geo_nearest near; /* nearest: leaves are region orders; orders hold
                                region indexes of gslb.regions */
    char *key;               /* what sharing records have in common */
};

/*
 * Health-aware ECS scope. The class-exact scope is never too wide, but two
 * classes that get the same answer under the current health state (say
 * ["eu", "us"] and ["eu", "ap"] while eu is up) still split it. A view
 * holds, for one record and one answer type, a bit per node of the
 * record's class trie: set when every class below that node has the same
 * *outcome* -- what the answer is made of under the health state of one
 * health epoch (health.h): the serving region and the spill regions, or
 * the when_all_down answer. The first marked node on a client's path is
 * the widest prefix whose addresses all get the same answer in that state
 * (geo_trie_lookup_marked: the same single walk that finds the class).
 * policy_geo_widen() rebuilds the views off the query path whenever the
 * state changes (the health thread, and the loader before a set is
 * published) and only when the partition of the classes into outcomes
 * changed; otherwise it just moves the tag to the new epoch. A query uses
 * the view only if it read the health state of the very epoch the view is
 * tagged with (health_epoch_enter/valid around its evaluation); otherwise,
 * while states are changing, it falls back to the class-exact scope.
 *
 * (A relabelled trie per view, walked after the class trie, was the first
 * version: a second walk through a second large structure cost a quarter
 * of the throughput of geo names; the marks cost a bit test per level.)
 *
 * Written by one thread at a time (the widener); read by any number of
 * query threads. tag and marks follow a seqlock-like protocol: the tag is
 * cleared before the marks pointer changes and set after, and a reader
 * checks the tag before loading the pointer and again after its walk. A
 * replaced bitmap is freed only after serve_sync (the caller's
 * job).
 */
struct policy_geo_view {
    _Atomic uint64_t tag;     /* 1 + the health epoch marks are for; 0: none */
    _Atomic(uint8_t *) marks; /* bit per class-trie node; NULL until built */
    uint32_t *partition;      /* widener's: the outcome of every class */
};

struct policy_geo_rec {
    const struct policy_geo_trie *t; /* NULL: not a geo or nearest record */
    struct policy_geo_view view[2];  /* [0]: A (or CNAME), [1]: AAAA */
};

struct policy_geo {
    atomic_int refs;   /* served sets sharing it (a re-signed set shares its predecessor's) */
    struct geo_db *db; /* NULL: no database configured */
    struct policy_geo_trie *tries;
    size_t n_tries;
    struct policy_geo_rec *recs; /* parallel to gslb.records */
    size_t n_recs;
};

/*
 * Compiles the tries of g's geo and nearest records over db (taken; NULL
 * when no database is configured). A record that needs a database and has
 * none is an error ("FILE: PATH: ..." in errs, cfgpath naming the file):
 * a nearest record, or a geo map with continent, country or subdivision
 * keys (network keys and default work without one). Returns NULL after
 * errors (db freed), or when g has no geo or nearest record and no db.
 */
struct policy_geo *policy_geo_build(const struct gslb *g, struct geo_db *db, const char *cfgpath,
                                    struct errlist *errs);
void policy_geo_free(struct policy_geo *pg);
/* One more holder; policy_geo_unref frees at the last (NULL: no-op). */
void policy_geo_ref(struct policy_geo *pg);
void policy_geo_unref(struct policy_geo *pg);

/* The address that locates a client for record r. */
struct policy_geo_client {
    bool known;            /* false: unknown location (ECS prefix 0, no address) */
    bool from_ecs;         /* the ECS option's address (its scope matters) */
    bool ecs_ignored;      /* the query had ECS, the record does not use it */
    unsigned family;       /* GEO_FAMILY_IPV4 or GEO_FAMILY_IPV6 */
    uint8_t source_prefix; /* from_ecs: the option's SOURCE PREFIX-LENGTH */
    uint8_t addr[16];
};

void policy_geo_client(const struct policy_record *r, const struct sockaddr_storage *src,
                       const struct dns_ecs *ecs, struct policy_geo_client *out);

/* The class of a located client in trie t and, in *scope, the class-exact
 * ECS scope (the widest prefix around addr whose addresses all get that
 * class); in *wide the depth of the first marked node on the way (marks
 * of a view, policy_geo_view_marks; NULL: *wide = *scope). An unknown
 * location is the unknown class (geo: the map's geo_map_unknown_class;
 * nearest: GEO_NEAREST_NO_COORDS), scopes 0. t NULL (no compiled data):
 * unknown. */
uint32_t policy_geo_lookup(const struct policy_record *r, const struct policy_geo_trie *t,
                           const struct policy_geo_client *cl, const uint8_t *marks, uint8_t *scope,
                           uint8_t *wide);

/* How many classes t has (0 for NULL): classes are 0 .. n-1. */
uint32_t policy_geo_classes(const struct policy_geo_trie *t);

/* The region order of class cls. */
struct policy_order policy_geo_order(const struct policy_record *r, const struct policy_geo_trie *t,
                                     uint32_t cls);

/* The view of the answers of type rtype. */
static inline struct policy_geo_view *
policy_geo_view_of(const struct policy_geo *pg, const struct policy_record *r, uint16_t rtype)
{
    if (!pg || r->index >= pg->n_recs || !pg->recs[r->index].t)
        return NULL;
    return &pg->recs[r->index].view[rtype == DNS_TYPE_AAAA ? 1 : 0];
}

/* The marks of view v when they were built for health epoch `epoch`,
 * else NULL. Valid for the query while it is inside serve_enter(); the
 * caller checks policy_geo_view_current() after using them. */
static inline const uint8_t *policy_geo_view_marks(const struct policy_geo_view *v, uint64_t epoch)
{
    if (!v || atomic_load(&v->tag) != epoch + 1)
        return NULL;
    return atomic_load(&v->marks);
}

/* Still the view of epoch (no swap since policy_geo_view_marks). */
static inline bool policy_geo_view_current(const struct policy_geo_view *v, uint64_t epoch)
{
    return v && atomic_load(&v->tag) == epoch + 1;
}

/* Marks replaced by policy_geo_widen, to free once no reader holds them. */
struct policy_geo_retired {
    uint8_t **marks;
    size_t n, cap;
};

/*
 * Brings every view of pg up to the current health state of g (g->health;
 * nothing without one). Off the query path, one caller at a time for a
 * given pg. Replaced bitmaps are appended to retired; the caller frees them
 * with policy_geo_retired_free after serve_sync (or at once when
 * pg was never published). Returns false when the state moved while it
 * ran or a write was in progress (the change that moved it triggers
 * another run), true when every view is tagged with the epoch it read.
 * Replaced marks go to retired.
 */
bool policy_geo_widen(const struct gslb *g, struct policy_geo *pg,
                      struct policy_geo_retired *retired);
void policy_geo_retired_free(struct policy_geo_retired *r);

/* What decided a class, for /metrics and explain. */
enum policy_geo_kind {
    POLICY_GEO_NONE = 0, /* not a geo or nearest record */
    POLICY_GEO_NETWORK,
    POLICY_GEO_SUBDIVISION,
    POLICY_GEO_COUNTRY,
    POLICY_GEO_CONTINENT,
    POLICY_GEO_DEFAULT, /* located, but no key matched */
    POLICY_GEO_UNKNOWN, /* no location: default list */
    POLICY_NEAREST_LOCATED,
    POLICY_NEAREST_UNKNOWN, /* no coordinates: the configured order */
    POLICY_GEO_ASN,         /* after the others: their numbers stay as they were */
    POLICY_GEO_KINDS
};

enum policy_geo_kind policy_geo_kind_of(const struct policy_record *r, uint32_t cls);
/* "network", "asn", ..., "unknown" (geo) and "located", "unknown" (nearest). */
const char *policy_geo_kind_name(enum policy_geo_kind k);
/* "geo" or "nearest" */
const char *policy_geo_kind_policy(enum policy_geo_kind k);

#endif

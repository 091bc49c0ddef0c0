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
 * table (policy_geo_free). Records point at tries by index; the gslb the
 * geo data was built for must outlive it (the served set holds both).
 */
#ifndef GTM_POLICY_POLICY_GEO_H
#define GTM_POLICY_POLICY_GEO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "common/errlist.h"
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

struct policy_geo_rec {
    const struct policy_geo_trie *t; /* NULL: not a geo or nearest record */
};

struct policy_geo {
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
 * class). An unknown location is the unknown class (geo: the map's
 * geo_map_unknown_class; nearest: GEO_NEAREST_NO_COORDS), scope 0. t NULL
 * (no compiled data): unknown. */
uint32_t policy_geo_lookup(const struct policy_record *r, const struct policy_geo_trie *t,
                           const struct policy_geo_client *cl, uint8_t *scope);

/* The region order of class cls. */
struct policy_order policy_geo_order(const struct policy_record *r, const struct policy_geo_trie *t,
                                     uint32_t cls);

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
    POLICY_GEO_KINDS
};

enum policy_geo_kind policy_geo_kind_of(const struct policy_record *r, uint32_t cls);
/* "network", ..., "unknown" (geo) and "located", "unknown" (nearest). */
const char *policy_geo_kind_name(enum policy_geo_kind k);
/* "geo" or "nearest" */
const char *policy_geo_kind_policy(enum policy_geo_kind k);

#endif

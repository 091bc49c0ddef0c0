/*
 * geo_db.h -- a MaxMind DB file (GeoIP2/GeoLite2 City or Country, DB-IP's
 * compatible files) flattened at load into gtmd's own read-only structure.
 *
 * geo_db_open() reads the file with libmaxminddb, walks its search tree
 * node by node (MMDB_read_node, never one lookup per address), decodes
 * each distinct data record once, keeps only the fields gtmd uses
 *     continent.code, country.iso_code, subdivisions[0].iso_code,
 *     location.latitude / location.longitude,
 *     autonomous_system_number (GeoLite2-ASN's layout, also in GeoIP2-ISP)
 * in a deduplicated location table, and builds a geo_trie whose leaves are
 * indexes into that table. Then it closes the file: serving never touches
 * libmaxminddb, the mapping or the disk again.
 *
 * Why flatten rather than look up (and cache) per query: a libmaxminddb
 * lookup walks the mmap()ed tree and then decodes the data section (map
 * keys compared as strings) on every call -- several times slower than a
 * walk over the flat trie (contrib/bench/geo_bench.c measures both), it
 * may fault pages in from disk on the query path, and a file replaced in
 * place (not renamed) under a live mapping changes or SIGBUSes it. A
 * per-network cache would need allocation and locking on the query path.
 * The flat trie is also what geo_map merges with network keys to compute
 * ECS scopes. Figures for a 1,000,000-network database are in
 * doc/architecture.md.
 *
 * Aliases: MaxMind's IPv6 trees store IPv4 at ::/96 and point
 * ::ffff:0:0/96, 2001::/32 and 2002::/16 at the same node. The walk
 * memoises by MMDB node number, so that subtree is flattened once and
 * shared (the trie is a DAG); IPv4 lookups start at the node reached by 96
 * zero bits. A database of ip_version 4 has no IPv6 data: IPv6 addresses
 * get the unknown location.
 *
 * Adjacent networks whose used fields are identical are merged, so a
 * lookup's prefix length can be shorter than the database's own network
 * (a City database splits networks by city names and postal codes that
 * gtmd ignores).
 *
 * Ownership: geo_db_open returns a db the caller frees with geo_db_free.
 * A db is immutable; any number of threads may look up concurrently.
 */
#ifndef GTM_GEO_GEO_DB_H
#define GTM_GEO_GEO_DB_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "geo/geo_trie.h"

enum {
    GEO_HAS_CONTINENT = 1,
    GEO_HAS_COUNTRY = 2,
    GEO_HAS_SUBDIVISION = 4,
    GEO_HAS_COORDS = 8,
    GEO_HAS_ASN = 16,
};

/* One location: the fields gtmd uses. Absent fields are zero/empty and
 * their flag is clear. A field holding a malformed value (a continent code
 * that is not two capital letters, a latitude outside [-90, 90]) counts as
 * absent. Zero-padded, so two locations compare equal with memcmp. */
struct geo_location {
    double lat, lon;     /* degrees, when GEO_HAS_COORDS */
    char continent[3];   /* "EU" */
    char country[3];     /* ISO 3166-1 alpha-2, "DE" */
    char subdivision[4]; /* ISO 3166-2 part after "CC-": "CA" of US-CA */
    uint8_t flags;       /* GEO_HAS_* */
    uint32_t asn;        /* autonomous system number, when GEO_HAS_ASN */
};

/* Index 0 of every location table: no data, or none of the used fields. */
#define GEO_LOC_UNKNOWN 0u

struct geo_db_stats {
    uint64_t networks;      /* leaves of the flattened trie with a location */
    uint64_t mmdb_nodes;    /* search tree nodes in the file */
    uint64_t records;       /* distinct data records decoded */
    uint64_t alias_hits;    /* MMDB nodes reached again (aliases), not re-walked */
    uint64_t with_field[5]; /* records with continent, country, subdivision, coords, asn */
    double load_seconds;    /* open + flatten + close */
};

/* One network of the database: the first (lowest) network found for a
 * location, so that operators can name clients that the database places
 * (the console's sample clients, GET /v1/status). */
struct geo_db_sample {
    uint8_t addr[16]; /* network address, 4 octets used for IPv4 */
    unsigned family;  /* GEO_FAMILY_IPV4 or GEO_FAMILY_IPV6 */
    uint8_t prefix;
    uint32_t loc; /* index into locs */
};

/* Samples kept per database: one per distinct location, IPv4 first. */
#define GEO_DB_SAMPLES 16

struct geo_db {
    struct geo_trie trie; /* leaves: indexes into locs */
    struct geo_location *locs;
    uint32_t n_locs;
    unsigned ip_version; /* 4 or 6, from the metadata */
    char *path;          /* as opened */
    char *type;          /* metadata database_type, "GeoIP2-City" */
    uint64_t build_epoch;
    struct geo_db_stats stats;
    struct geo_db_sample samples[GEO_DB_SAMPLES];
    size_t n_samples;
    /* With an ASN database laid over this one (geo_overlay.h): that file,
     * its database_type and its networks; NULL and 0 otherwise. */
    char *asn_path;
    char *asn_type;
    uint64_t asn_networks;
};

/* Opens and flattens path. On failure returns NULL and writes a one-line
 * reason (without the path) into err: the file cannot be opened or is not
 * a MaxMind DB, its tree is corrupt, or no record has any used field. */
struct geo_db *geo_db_open(const char *path, char *err, size_t errlen);

void geo_db_free(struct geo_db *db);

/* The location of addr (4 octets for GEO_FAMILY_IPV4, 16 for IPV6) and in
 * *prefix the length of the widest prefix around it with that location.
 * Never NULL: &locs[GEO_LOC_UNKNOWN] when the database has nothing. */
static inline const struct geo_location *geo_db_lookup(const struct geo_db *db, unsigned family,
                                                       const uint8_t *addr, uint8_t *prefix)
{
    return &db->locs[geo_trie_lookup(&db->trie, family, addr, prefix)];
}

/* Bytes held for lookups (trie and location table). */
size_t geo_db_bytes(const struct geo_db *db);

#endif

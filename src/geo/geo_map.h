/*
 * geo_map.h -- the "geo" object of a policy record: keys to region lists,
 * and its compiled, merged form.
 *
 *   "geo": {"continent:EU": ["eu-west", "us-east"],
 *           "country:DE": [...], "subdivision:US-CA": [...],
 *           "network:192.0.2.0/24": [...], "network:2001:db8::/32": [...],
 *           "default": [...]}
 *
 * Keys: continent:CODE (AF AN AS EU NA OC SA), country:CODE (ISO 3166-1
 * alpha-2), subdivision:CC-XXX (ISO 3166-2), asn:NUMBER (an autonomous
 * system, 1..4294967295, from the ASN database: geo_overlay.h),
 * network:CIDR (IPv4 or IPv6, no host bits) and default (required). The kind prefix makes
 * two-letter codes unambiguous: country:AS is American Samoa, continent:AS is Asia. Every error
 * names the JSON path of the key (or list entry).
 *
 * The most specific key wins: network (longest prefix) > asn >
 * subdivision > country > continent > default. An asn key is about who
 * operates the client's network, which says more than where it is (a
 * mobile carrier's or a cloud's addresses move between cities), and less
 * than a network the operator wrote by hand. A client whose address the database does
 * not place (no data, or none of the continent/country/subdivision fields)
 * matches no location key: network keys still apply, else it gets the
 * default list -- through a class of its own ("unknown location"), so
 * that explain and metrics can tell it from a placed client that matched
 * no key. A client whose ECS option has SOURCE PREFIX-LENGTH 0 has no
 * location at all: the caller uses geo_map_unknown_class() with scope 0
 * without a lookup.
 *
 * Classes (the leaves of the merged trie, see geo_merge.h): class i <
 * n_keys means keys[i] decided; class n_keys (geo_map_unknown_class) means
 * no network key and no location. geo_map_class_key() gives the key whose
 * regions serve a class.
 *
 * Ownership: a geo_map owns its keys, their text and region lists
 * (geo_map_free). geo_map_compile fills a geo_merged the caller frees.
 */
#ifndef GTM_GEO_GEO_MAP_H
#define GTM_GEO_GEO_MAP_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "common/jsoncfg.h"
#include "geo/geo_db.h"
#include "geo/geo_merge.h"

enum geo_key_kind {
    GEO_KEY_NETWORK = 0,
    GEO_KEY_ASN,
    GEO_KEY_SUBDIVISION,
    GEO_KEY_COUNTRY,
    GEO_KEY_CONTINENT,
    GEO_KEY_DEFAULT,
};

struct geo_key {
    enum geo_key_kind kind;
    char *text;      /* the key as written: "country:DE" */
    char code[8];    /* "EU", "DE", "US-CA"; empty for network, asn and default */
    uint32_t asn;    /* asn: the number */
    unsigned family; /* network: GEO_FAMILY_IPV4 or GEO_FAMILY_IPV6 */
    uint8_t prefix;  /* network: prefix length */
    uint8_t addr[16];
    char **regions;  /* region names as written, in order */
    int *region_ids; /* what the resolver returned for each; NULL without one */
    size_t n_regions;
};

struct geo_map {
    struct geo_key *keys; /* in the order of the JSON object */
    size_t n_keys;
    size_t default_key; /* index of "default" */
};

/* Resolves a region name to an index (>= 0), or returns -1 when there is
 * no such region (reported as a config error at the list entry). */
typedef int (*geo_region_resolve_fn)(void *ctx, const char *name);

/* Parses obj, the "geo" object at JSON path `path` (for messages, e.g.
 * $.records["www.example.com."].geo). resolve may be NULL (names are then
 * kept as strings only). value says what a key takes, for the message of
 * a map without "default": "list" for a geo record's regions, "node name
 * or list of them" for a latency record's vantage map (whose caller made
 * every value a list). Returns NULL after adding every error found to
 * x->errs. */
struct geo_map *geo_map_parse(const struct jsoncfg *x, json_t *obj, const char *path,
                              geo_region_resolve_fn resolve, void *ctx, const char *value);

void geo_map_free(struct geo_map *m);

static inline uint32_t geo_map_unknown_class(const struct geo_map *m)
{
    return (uint32_t)m->n_keys;
}

/* The class of a database location (network keys aside). */
uint32_t geo_map_class_of_location(const struct geo_map *m, const struct geo_location *l);

/* The key whose region list serves class cls. */
static inline const struct geo_key *geo_map_class_key(const struct geo_map *m, uint32_t cls)
{
    return &m->keys[cls < m->n_keys ? cls : m->default_key];
}

/* Builds the merged trie of m over db (NULL: no database; then only the
 * network keys and default decide). n_classes = n_keys + 1. */
void geo_map_compile(const struct geo_map *m, const struct geo_db *db, struct geo_merged *out);

#endif

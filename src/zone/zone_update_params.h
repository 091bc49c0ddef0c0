/*
 * zone_update_params.h -- the "update" array of a zone entry
 * (gtmd.conf(5)): which TSIG keys may change the zone by RFC 2136
 * dynamic updates, and what each may change.
 *
 *   "update": [{"key": "acme", "names": ["_acme-challenge.example.com."],
 *               "match": "subdomain", "types": ["TXT"]}]
 *
 * A rule lets its key add and delete records whose owner is one of
 * "names" ("match": "exact") or one of them or below ("subdomain", the
 * default), of the listed "types" (absent: any type but the DNSSEC
 * records gtmd makes when it signs). Without "names" the rule covers the
 * whole zone. A record is allowed when one rule of the request's key
 * allows it; every record of an update must be (else REFUSED, nothing
 * changes). As BIND's update-policy "name" / "subdomain" rules and Knot's
 * ACL "update-owner" / "update-type".
 *
 * At run time the loader copies the rules into the zone's arena with the
 * key resolved in the served set's keyring (struct zone_update_policy,
 * zone.h): the query path and the updater read them from the zone.
 *
 * Ownership: the params own their arrays (zone_update_params_free); a
 * compiled policy lives in the zone's arena.
 */
#ifndef GTM_ZONE_ZONE_UPDATE_PARAMS_H
#define GTM_ZONE_ZONE_UPDATE_PARAMS_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/arena.h"
#include "common/cfgschema.h"
#include "common/jsoncfg.h"
#include "dns/tsig.h"

#define ZONE_UPDATE_MAX_RULES 64
#define ZONE_UPDATE_MAX_NAMES 64
#define ZONE_UPDATE_MAX_TYPES 32

enum zone_update_match { ZONE_UPDATE_SUBDOMAIN = 0, ZONE_UPDATE_EXACT };

struct zone_update_rule_params {
    char *key;             /* a "tsig_keys" name */
    uint8_t (*names)[255]; /* lowercase wire names; NULL with n_names 0: the zone */
    uint8_t *name_lens;
    size_t n_names;
    enum zone_update_match match;
    uint16_t types[ZONE_UPDATE_MAX_TYPES];
    size_t n_types; /* 0: any type */
};

struct zone_update_params {
    struct zone_update_rule_params *rules; /* NULL: the zone takes no updates */
    size_t n;
};

/* One rule as the zone holds it (arena). */
struct zone_update_rule {
    const struct tsig_key *key; /* of the served set's keyring */
    const uint8_t *const *names;
    const uint8_t *name_lens;
    size_t n_names; /* 0: the whole zone */
    enum zone_update_match match;
    const uint16_t *types;
    size_t n_types; /* 0: any type */
};

struct zone_update_policy {
    const struct zone_update_rule *rules;
    size_t n;
};

extern const struct cfgschema zone_update_schema;

/* Reads v (the "update" array, may be NULL) at JSON path 'path' for the
 * zone at origin (lowercase wire): names outside the zone are errors. */
void zone_update_params_parse(const struct jsoncfg *j, json_t *v, const char *path,
                              const uint8_t *origin, size_t origin_len,
                              struct zone_update_params *out);
void zone_update_params_free(struct zone_update_params *p);

/* The rules of p compiled into arena a with their keys found in kr by
 * name (a rule whose key is missing is left out: the configuration check
 * refused it before). NULL when p has no rules. */
const struct zone_update_policy *zone_update_policy_build(const struct zone_update_params *p,
                                                          const struct tsig_keyring *kr,
                                                          struct arena *a);

/* Whether some rule of pol lets key change records of type at owner
 * (lowercase wire). owner NULL and type 0: whether key has any rule at
 * all (the worker's and the updater's first look); with an owner, type 0
 * and every other meta or reserved type but ANY are never allowed. */
bool zone_update_allowed(const struct zone_update_policy *pol, const struct tsig_key *key,
                         const uint8_t *owner, size_t owner_len, uint16_t type);

#endif

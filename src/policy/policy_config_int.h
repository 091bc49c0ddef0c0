/*
 * policy_config_int.h -- parts of the record parser shared by
 * policy_config.c and policy_config_geo.c. Not for use outside src/policy.
 */
#ifndef GTM_POLICY_POLICY_CONFIG_INT_H
#define GTM_POLICY_POLICY_CONFIG_INT_H

#include <jansson.h>

#include "common/cfgschema.h"
#include "common/jsoncfg.h"
#include "policy/policy.h"

#define PC_PATH 256

/* The keys of a record (policy_config.c's pc_record_schema); the geo and
 * nearest parts (policy_config_geo.c) and failback (policy_ramp.c) read
 * theirs through it. */
enum pc_record_key {
    RK_POOL,
    RK_TTL,
    RK_POLICY,
    RK_REGIONS,
    RK_SELECT,
    RK_ANSWERS,
    RK_GEO,
    RK_ECS,
    RK_SPILL,
    RK_WHEN_ALL_DOWN,
    RK_FALLBACK,
    RK_FAILBACK,
    RK_TTL_MIN,
    RK_SHED_LOAD,
    RK_N
};
extern const struct cfgschema pc_record_schema;
/* Every key of a check (a composite's and every probe's). */
extern const struct cfgschema pc_check_schema;

/* The "geo" object of a geo record: the map, its class orders and the
 * record's region set (every region of the map, by first appearance). */
void pc_record_geo(const struct jsoncfg *j, json_t *r, const char *path, struct gslb *g,
                   struct policy_record *rec);

/* The region set of a nearest record ("regions", default every region of
 * the pool in the order of $.regions); each needs a location. */
void pc_record_nearest(const struct jsoncfg *j, json_t *r, const char *path, struct gslb *g,
                       struct policy_record *rec);

/* The longest region order a record can use (spill must stay below it). */
size_t pc_record_longest_order(const struct policy_record *rec);

/* True when a check's object says "type": "composite". */
bool pc_check_is_composite(json_t *c);

/* Parses a composite check at path ("of", "mode", "n") into pc, its
 * children resolved against every check of g (all named by then). */
void pc_check_composite(const struct jsoncfg *j, json_t *c, const char *path, const struct gslb *g,
                        struct policy_check *pc);

#endif

/*
 * policy_config_int.h -- parts of the record parser shared by
 * policy_config.c and policy_config_*.c. Not for use outside src/policy.
 */
#ifndef GTM_POLICY_POLICY_CONFIG_INT_H
#define GTM_POLICY_POLICY_CONFIG_INT_H

#include <jansson.h>

#include "common/cfgschema.h"
#include "common/jsoncfg.h"
#include "policy/policy.h"
#include "policy/policy_config.h"

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
    RK_LATENCY,
    RK_N
};
extern const struct cfgschema pc_record_schema;
/* Every key of a check (a composite's and every probe's). */
extern const struct cfgschema pc_check_schema;

/* The region order or set of rec, by policy (given, of a geo record's
 * map, of a nearest record), interned in g->orders (policy_orders.h),
 * and a latency record's parameters (policy_config_geo.c); the map,
 * orders and parameters into x (policy_record_ext). */
void pc_record_order(const struct jsoncfg *j, json_t *r, const char *path, struct gslb *g,
                     struct policy_record *rec, struct policy_record_ext *x);

/* The longest region order a record can use (spill must stay below it). */
size_t pc_record_longest_order(const struct policy_record *rec, const struct policy_record_ext *x);

/* What pc_records may take from the running policy set. */
struct pc_reuse {
    const struct gslb *g; /* NULL: every record is compiled */
    json_t *records;      /* the running document's "records" */
    uint32_t *first;      /* by name hash: 1 + the first record of a name in g */
    uint32_t mask;
    /* Per pool of g: whether a record of it compiles as it did (the pools
     * changed, each of them where it was: pc_reuse_pools). NULL: all. */
    uint8_t *pool_ok;
    /* The records the change touched (policy_reuse.touched; NULL:
     * unknown, the document is walked). Borrowed. */
    json_t *touched;
};
struct pc_defaults;

/* n * size zeroed octets (at least one); aborts when memory runs out, as
 * the configuration loader's other allocations do. */
void *pc_calloc(size_t n, size_t size);
/* Whether objects a and b hold the same members in the same order (a
 * record's compiled form holds indexes into the regions and pools). */
bool pc_same_ordered(json_t *a, json_t *b);
/* Takes the running set's pools (policy_config_pools.c) when the change
 * left them as they were; false: parse them. */
bool pc_pools_take(json_t *root, const struct policy_reuse *reuse, struct gslb *g);

uint32_t pc_name_hash(const char *s);
size_t pc_member_size(json_t *v);
/* Takes the n records of r->g from index at as records of g (shared),
 * noting where they came from; whether they are all of pools that compile
 * as they did. */
void pc_reuse_copy(struct pc_reuse *r, size_t at, size_t n, struct gslb *g);
bool pc_reuse_pools_ok(const struct pc_reuse *r, size_t at, size_t n);
/* Compiles the records of member name (value r) of the records object at
 * path at into g (noted compiled in g->from). */
void pc_compile_member(const struct jsoncfg *j, const char *at, const char *name, json_t *r,
                       struct gslb *g, const char *const *origins, size_t n_origins,
                       const struct pc_defaults *def);
/* pc_records for a change whose touched records are known
 * (policy_config_touched.c); false when it does not apply (nothing done:
 * the document is walked then). */
bool pc_records_touched(const struct jsoncfg *j, json_t *v, struct gslb *g,
                        const char *const *origins, size_t n_origins, const struct pc_defaults *def,
                        struct pc_reuse *r, const char *at);

/* True when a check's object says "type": "composite". */
bool pc_check_is_composite(json_t *c);

/* Parses a composite check at path ("of", "mode", "n") into pc, its
 * children resolved against every check of g (all named by then). */
void pc_check_composite(const struct jsoncfg *j, json_t *c, const char *path, const struct gslb *g,
                        struct policy_check *pc);

#endif

/*
 * policy_config.h -- parses the "regions", "checks", "pools" and
 * "records" sections of the config into a struct gslb.
 *
 * Ownership: the returned gslb belongs to the caller (gslb_free). Health
 * slots are not mapped here (see policy_bind in the daemon's load.c).
 */
#ifndef GTM_POLICY_POLICY_CONFIG_H
#define GTM_POLICY_POLICY_CONFIG_H

#include <jansson.h>

#include "common/cfgschema.h"

#include "common/cfgschema.h"
#include "common/jsoncfg.h"
#include "policy/policy.h"

/* origins: the configured zone origins (presentation form), so records
 * outside every zone are reported here with their JSON path. Never NULL;
 * errors are appended to j->errs. */
/* The top-level keys the policy module reads (the root takes them in:
 * config_keys.c). */
extern const struct cfgschema policy_root_schema;

struct gslb *policy_config_parse(const struct jsoncfg *j, json_t *root, const char *const *origins,
                                 size_t n_origins);

/* The running policy set and the document it was compiled from (both
 * borrowed for the call). */
struct bigalloc_spare;
struct policy_orders;
#define POLICY_SAME_POOLS 1u
#define POLICY_SAME_REGIONS 2u
#define POLICY_SAME_CHECKS 4u

struct policy_reuse {
    const struct gslb *g;
    json_t *root;
    /* Where the new set takes its records array from and its free gives
     * it back to (bigalloc.h); NULL: mapped afresh. Borrowed: it outlives
     * every set built with it. */
    struct bigalloc_spare *spare;
    /* The records the change being loaded set or removed, NAME -> anything
     * (jsondelta_touched's "records"), when the daemon knows them; NULL:
     * unknown. Every other record's JSON value must then be the very object
     * it is in root: those are taken without walking the document, the
     * touched ones compiled in their room or after them
     * (policy_config_touched.c).
     * Borrowed. */
    json_t *touched;
    /* Where the records compiled intern their region lists
     * (policy_orders.h; gslb.orders); NULL: a list of their own each.
     * Borrowed: it outlives every set built with it. Used with g NULL
     * too (a load from the file: nothing to take, the lists shared). */
    struct policy_orders *orders;
    /* The sections of root the daemon knows the change left as they are
     * in reuse->root, member for member (POLICY_SAME_*: the change's own
     * delta touched none of their members), so that they are taken
     * without a walk (issue #55: 10,000 endpoints' pools compared on
     * every change of a record). 0: compared. */
    unsigned same;
    /* Counts the record chunks of the sets built with it while they live
     * (gslb.chunks_live: tests and figures); NULL: not counted. Borrowed:
     * it outlives every chunk counted. */
    atomic_long *chunks_live;
};

/* The same, and when reuse is not NULL and root's "zones", "regions"
 * and "ecs" are those of reuse->root and its "pools" are too or have the
 * same names in the same order (what a record's compiled form depends on
 * besides itself: of its pool, the index, the type it serves and the
 * regions it has endpoints in; a record of a pool where these changed
 * is compiled again), a record whose JSON value is the very
 * object it was in reuse->root (a change through the API shares the
 * members it did not touch: config_api.c) is not compiled again: its
 * compiled form is reuse->g's, shared (policy_record.shared). The records
 * compiled give the same errors at the same paths as without reuse; the
 * checks across records (names bound twice, a CNAME sharing its name)
 * run over every record. */
struct gslb *policy_config_parse_reuse(const struct jsoncfg *j, json_t *root,
                                       const char *const *origins, size_t n_origins,
                                       const struct policy_reuse *reuse);

#endif

/*
 * drill_whatif.h -- what losing some regions or azs does to every policy
 * record: the offline `gtmd drill`, POST /v1/drills dry runs and the
 * report of every drill (a shadow drill's differences).
 *
 * It is the dry-run machinery of overrides: policy_eval_all() twice per
 * record, type and client, once on the live state and once with a
 * policy_overlay that loses the targets. No second copy of the policy
 * logic, nothing published, no lock: runs on any thread that holds the
 * policy set (a serve reader, or the offline command's own set).
 *
 * Ownership: the returned JSON belongs to the caller.
 */
#ifndef GTM_DRILL_DRILL_WHATIF_H
#define GTM_DRILL_DRILL_WHATIF_H

#include <jansson.h>
#include <stddef.h>

#include "drill/drill_spec.h"
#include "policy/policy.h"

struct drill_whatif_sum {
    size_t evaluated;      /* record, type and client combinations */
    size_t changed;        /* whose answer changes */
    size_t unserved;       /* not served with the targets lost (when_all_down) */
    size_t newly_unserved; /* served now, not served with the targets lost */
};

/*
 * Every policy record of g, for each type its pool serves (A, AAAA,
 * CNAME) and each client (none given: one evaluation without a client),
 * now and under ov. Returns
 *   {"records": [{"record", "type", "client", "changed", "before", "after",
 *                 "capacity": [{"region", "before", "after"}]}],
 *    "summary": {"evaluated", "changed", "unserved", "newly_unserved"},
 *    "would_leave_unserved": [{"record", "type", "client"}]}
 * where before/after are {"outcome", "serving_region", "answers"} and
 * capacity gives, per region, its share of the weight of the answer set
 * (0..1; listed when non-zero before or after; "served" outcomes only).
 * only_changed leaves out the records whose answer stays the same.
 */
json_t *drill_whatif(const struct gslb *g, const struct policy_overlay *ov,
                     const struct drill_client *clients, size_t n_clients, bool only_changed,
                     struct drill_whatif_sum *sum);

/* The same with the served set's geo data (policy_geo.h), so that geo and
 * nearest records locate the clients given; without clients, a geo or
 * nearest record is evaluated for every class of its clients instead of
 * once, each row's "client" naming the class ("continent:EU",
 * "nearest to eu-west", "no coordinates"), equal rows listed once. geo
 * NULL: drill_whatif. */
struct policy_geo;
json_t *drill_whatif_geo(const struct gslb *g, const struct policy_geo *geo,
                         const struct policy_overlay *ov, const struct drill_client *clients,
                         size_t n_clients, bool only_changed, struct drill_whatif_sum *sum);

/* The what-if's object from its rows (stolen), the records it would leave
 * unserved (stolen) and its counts. */
json_t *drill_whatif_report(json_t *records, json_t *unserved, const struct drill_whatif_sum *sum);

struct policy_result;
/* One evaluation as the rows above show it: {"outcome", "serving_region",
 * "answers"}, the answers sorted, so that outputs compare and read the
 * same way. */
json_t *drill_whatif_result_json(const struct gslb *g, const struct policy_result *res);

/*
 * What a configuration change does (drill_whatif_config.c): every policy
 * record of before and of after (matched by name), for each type its pool
 * serves on either side (A, AAAA, CNAME) and each client (none given: one
 * evaluation without a client), answered by before (on its health) and by
 * after (on its own). Returns only the rows that change:
 *   {"records": [{"record", "type", "client", "before", "after"}],
 *    "summary": {"evaluated", "changed", "unserved", "newly_unserved"},
 *    "would_leave_unserved": [{"record", "type", "client"}]}
 * where before/after are as drill_whatif_result_json gives them, or null
 * for a record that is only on the other side. geo_* may be NULL.
 */
json_t *drill_whatif_config(const struct gslb *before, const struct policy_geo *geo_before,
                            const struct gslb *after, const struct policy_geo *geo_after,
                            const struct drill_client *clients, size_t n_clients,
                            struct drill_whatif_sum *sum);

#endif

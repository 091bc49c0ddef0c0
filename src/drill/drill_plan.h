/*
 * drill_plan.h -- a drill against one policy set: which health slots it
 * loses, and whether its abort_if holds.
 *
 * Both run on a thread that holds the policy set (the admin thread at the
 * start of a drill, the drill thread afterwards; the offline command on
 * its own set) and read health only through the atomic bytes.
 *
 * abort_if is judged on the endpoints outside the drill (not in one of
 * its regions, nor in one of its azs) of every pool that has endpoints
 * inside it. An endpoint counts as up when it could serve: its effective
 * state is up (other drills and overrides included) and so are its az and
 * its region in that pool. The drill is to be aborted when, in any such
 * pool, fewer than min_up_endpoints are up, or the share of them up is
 * below min_up_share (a pool with no endpoint outside the drill fails
 * either rule).
 */
#ifndef GTM_DRILL_DRILL_PLAN_H
#define GTM_DRILL_DRILL_PLAN_H

#include <stdbool.h>
#include <stddef.h>

#include "drill/drill_spec.h"
#include "policy/policy.h"

struct drill_targets {
    const struct health_slot *slots[DRILL_MAX_TARGETS]; /* lost: region and az slots */
    char *keys[DRILL_MAX_TARGETS];                      /* "region:R", "az:A" (owned) */
    size_t n;
    char *covered[DRILL_MAX_TARGETS]; /* region names the drill touches (owned) */
    size_t n_covered;
};

/* Resolves s's regions and azs in g into t. Returns 0, or 404 with the
 * unknown name in err (t then holds nothing). */
int drill_resolve(const struct gslb *g, const struct drill_spec *s, struct drill_targets *t,
                  char *err, size_t errlen);
void drill_targets_free(struct drill_targets *t);

/* The overlay that loses t's slots (points into t). */
struct policy_overlay drill_targets_overlay(const struct drill_targets *t);

/* True when s has an abort_if and g's live state breaks it; why says
 * which pool and rule. Names g no longer has are skipped. */
bool drill_abort_if_violated(const struct gslb *g, const struct drill_spec *s, char *why,
                             size_t whylen);

/* True when a region of a record the drill touches is down already: for
 * every record whose regions include one t covers, each of its regions
 * where its pool has endpoints must be up (live state, every layer). why
 * names the first one down and its record. Practice drills do not start
 * then (drill_practice_run.c). */
bool drill_records_region_down(const struct gslb *g, const struct drill_targets *t, char *why,
                               size_t whylen);

#endif

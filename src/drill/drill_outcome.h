/*
 * drill_outcome.h -- outcome checks: probes that judge a drill while it
 * runs (Route 53 ARC's outcome alarm, with gtmd's own probes).
 *
 * A drill's spec may name outcome checks, {"check": CHECK, "host": NAME}:
 * while the drill runs, the drill thread resolves NAME through DNS (the
 * configuration's drills.outcome_resolver -- gtmd's own listener, or a
 * resolver in front of it -- else the system resolver) and runs the check
 * CHECK of the configuration against the address it got, on the check's
 * port, with NAME as the Host and SNI name, every interval of the check.
 * So the whole path a user takes is tested: the answer gtmd serves under
 * the drill, and the backend it leads to. One check failing `fall` times in
 * a row ends the drill at once with result "failed" and the failing
 * probe's reason. Resolution failures count as failures.
 *
 * The checks run on the drill thread's own prober (probe.h), so they never
 * wait for the prober thread's plan, and stop when their drill ends.
 *
 * Threads: everything here runs on the drill thread (drill_service.c),
 * except drill_outcomes_new and drill_outcomes_free, which run on the
 * thread that starts and stops it, while its loop does not run.
 *
 * Ownership: drill_outcomes_new returns an object drill_outcomes_free
 * frees (with its prober and checks); each check holds a reference to
 * the policy set its check specification lives in.
 */
#ifndef GTM_DRILL_DRILL_OUTCOME_H
#define GTM_DRILL_DRILL_OUTCOME_H

#include <stdbool.h>

#include "drill/drill_service.h"

struct event_base;
struct drill_outcomes;

/* NULL when the prober cannot be made. env must outlive the object. */
struct drill_outcomes *drill_outcomes_new(struct event_base *base,
                                          const struct drill_service_env *env);
void drill_outcomes_free(struct drill_outcomes *o);

/* Makes the running checks match the active drills of the core: starts
 * the checks of new drills (their specifications from g, which the caller
 * holds), stops those of drills that ended, and applies the resolver
 * setting. Returns how many checks run. */
size_t drill_outcomes_sync(struct drill_outcomes *o, const struct gslb *g);

/* 0 when every outcome check of s names a check of g; else 400 with the
 * reason in err (for POST /v1/drills). */
int drill_outcome_resolve(const struct gslb *g, const struct drill_spec *s, char *err,
                          size_t errlen);

#endif

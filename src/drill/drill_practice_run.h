/*
 * drill_practice_run.h -- the drill thread's part of practice drills:
 * starting each one when it is due and allowed, or recording why not.
 *
 * A practice (drill_practice.h) starts when its interval is due, the
 * calendar allows it (allowed_windows, blocked_dates), and the live state
 * is quiet: no other drill and no override active, the fleet (when gtmd
 * has one) not degraded, every region of the records it touches up, its
 * abort_if holding, and -- for live and scoped drills -- no record left
 * unserved (a practice never forces). Otherwise it is skipped: the reason
 * goes to the core (GET /v1/drills "practice", /metrics), and a new
 * reason is logged once (event=drill_practice_skip). It is looked at again
 * at every drill-thread pass (probe transitions, overrides, drills,
 * reloads) and at least every DRILL_PRACTICE_RETRY seconds.
 *
 * Threads: the drill thread only.
 */
#ifndef GTM_DRILL_DRILL_PRACTICE_RUN_H
#define GTM_DRILL_DRILL_PRACTICE_RUN_H

#include <stdbool.h>

#include "drill/drill_service.h"

#define DRILL_PRACTICE_RETRY 30.0 /* seconds, at most; the interval if shorter */

/* Looks at every practice at now: starts the due ones that may start.
 * Returns seconds until a practice needs a look again (-1: none), and
 * sets *started when it started a drill (the caller saves the state). */
double drill_practice_run(const struct drill_service_env *env, double now, bool *started);

#endif

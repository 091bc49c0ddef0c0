/*
 * drill_measure.h -- the drill thread times recoveries (the timelines of
 * drill_timeline.h) on the answers gtmd serves.
 *
 * While a drill's timeline is in a transition (the DRILL_TIMELINE_WINDOW
 * seconds after its start or its end, or until every affected record has
 * settled), every DRILL_MEASURE_TICK seconds the drill thread:
 *
 *  - samples the workers' counters of the affected records;
 *  - sends one real DNS query per affected record not settled yet (at
 *    most DRILL_MEASURE_BURST a tick) to gtmd's own listen address, over
 *    UDP, with an ECS option inside the first canary network for a scoped
 *    drill, and checks each answer against the addresses (or CNAME
 *    targets) of the lost targets' endpoints.
 *
 * Between the transitions, while a drill runs, the counters are sampled
 * every second, so GET /v1/drills shows the lost answers as they are.
 * What the queries must recognise (the lost endpoints' data, the query
 * names) is built from the policy set when a transition begins
 * (drill_measure_sync, with the drill thread's serve reader held).
 *
 * Threads: the drill thread only; new and free while its loop does not
 * run. It reads and updates timelines under the drill core's lock.
 *
 * Ownership: drill_measure_new returns an object drill_measure_free frees
 * (its socket, events and plans); env must outlive it.
 */
#ifndef GTM_DRILL_DRILL_MEASURE_H
#define GTM_DRILL_DRILL_MEASURE_H

#include "drill/drill_service.h"

#define DRILL_MEASURE_TICK 0.005 /* seconds between looks during a transition */
#define DRILL_MEASURE_HOLD 1.0   /* seconds between samples while a drill runs */
#define DRILL_MEASURE_BURST 16   /* own queries a tick, at most */

struct event_base;
struct drill_measure;

struct drill_measure *drill_measure_new(struct event_base *base,
                                        const struct drill_service_env *env);
void drill_measure_free(struct drill_measure *m);

/* Builds what the transitions that began need (g held by the caller),
 * drops what ended, and (re)arms the timer. */
void drill_measure_sync(struct drill_measure *m, const struct gslb *g);

#endif

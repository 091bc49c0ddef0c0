/*
 * drill_service.h -- the drill thread: ends drills on time and aborts
 * them the moment their abort_if breaks.
 *
 * It runs on its own thread with its own libevent base, and is the one
 * owner of drill timing:
 *
 *  - one timer at the next end time (drill_core_next_end), re-armed at
 *    every drill change (a drill_hooks listener), so a live drill's
 *    targets come back on time whether or not anybody calls the API;
 *  - abort_if is judged when something that can break it happens: a probe
 *    state change or an override change (a health core listener, called
 *    on the prober's or the admin thread and handed over at once), a drill
 *    change, a reload (drill_service_poke) -- not by polling. A drill
 *    whose abort_if breaks ends as "aborted" within that event;
 *  - practice drills (drill_practice_run.c) are looked at in the same
 *    passes and at a second timer: the next start, or a retry while
 *    something holds a due practice back.
 *
 * It reads the policy set through its own serve reader (the drill module
 * stands above serve), and leaves it before it ends a drill (drill.h).
 * Practice drills wait while the fleet client says it is degraded
 * (drill_core_set_fleet_degraded). After ending drills it asks
 * the health service for a state-file write (the file's only writer).
 *
 * Threads: start, poke and stop from any thread but the drill thread.
 * Start it once the serve core publishes a set, before the admin thread;
 * stop it after the admin thread and the prober, before the health
 * service.
 *
 * Ownership: drill_service_start() returns an object that
 * drill_service_stop() frees; env's pointers must outlive it.
 */
#ifndef GTM_DRILL_DRILL_SERVICE_H
#define GTM_DRILL_DRILL_SERVICE_H

#include <sys/socket.h>

#include "drill/drill.h"
#include "health/service.h"
#include "policy/policy.h"
#include "serve/serve.h"

struct drill_service_env {
    struct drill_core *drills;
    struct health_core *health;
    struct health_service *health_service;
    /* The drill thread's own reader of the served set: its policy set
     * and geo data (what-ifs go through every class of geo and nearest
     * records). Only the drill thread uses it. */
    struct serve_reader *reader;
    /* A listen address of this gtmd (loopback for a wildcard one): the
     * drill thread asks it for the affected records to time recoveries
     * (drill_measure.h). self_len 0: no own queries. */
    struct sockaddr_storage self_addr;
    socklen_t self_len;
};

struct drill_service;

/* Enters env's reader: the current policy set (NULL: none) and, when geo
 * is not NULL, its geo data; serve_leave(env->reader) after. */
const struct gslb *drill_service_enter(const struct drill_service_env *env,
                                       const struct policy_geo **geo);

/* Starts the drill thread; aborts when it cannot be created. Drills
 * already in the core (restored) get their timer and abort_if at once. */
struct drill_service *drill_service_start(const struct drill_service_env *env);
/* Judges abort_if again now (the daemon calls it after a reload). */
void drill_service_poke(struct drill_service *s);
/* Removes the listeners, stops and joins the thread, frees s. NULL: no-op. */
void drill_service_stop(struct drill_service *s);

#endif

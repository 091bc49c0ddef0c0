/*
 * scheduler.h -- the prober thread: runs every check on schedule.
 *
 * One thread with its own libevent base runs all probes (probe.h) so they
 * never block query answering. Probes of one check are spread over its
 * interval; each result goes to the health core (health_report). A reload
 * hands a new plan over with scheduler_set_plan; probes in flight on the
 * old plan finish and their results still count (slots are shared by key).
 * The state file and override expiry belong to the health service
 * (service.h), which hears of every transition through the core's hooks.
 *
 * Ownership: scheduler_set_plan takes the targets array (freed with the
 * plan) and one reference on 'owner', released through release(owner)
 * once no probe of that plan is in flight; 'owner' keeps the specs alive.
 */
#ifndef GTM_HEALTH_SCHEDULER_H
#define GTM_HEALTH_SCHEDULER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "health/composite.h"
#include "health/health.h"
#include "health/probe.h"

struct sched_target {
    const struct probe_spec *spec;
    struct health_slot *slot;
    struct sockaddr_storage addr; /* port set; addr_len 0 = resolve 'host' first */
    socklen_t addr_len;
    /* Name for resolution and Host/SNI, or NULL. Not owned: it lives as
     * long as the target array (load_probe_targets puts the names in the
     * array's own block). It was an inline 256-octet array in every
     * target, twice per probed endpoint (issue #38). */
    const char *host;
    uint16_t port; /* port for a resolved host name */
    /* A child of a composite check: slot is the child's, and after each
     * result the composite judges parent from kids (composite.h). NULL
     * parent: an ordinary check. Owned by the plan's owner, like spec. */
    struct health_slot *parent;
    const struct health_composite *comp;
    struct health_slot *const *kids;
};

struct scheduler;

/* Starts the prober thread; results go to core. Probes leave from src
 * (probe_source; NULL: the kernel's choice), fixed for the run; at most
 * exec_max exec checks' programs run at once (exec_max_running; 0: the
 * default). */
struct scheduler *scheduler_start(struct health_core *core, const struct probe_source *src,
                                  unsigned exec_max);

void scheduler_set_plan(struct scheduler *s, struct sched_target *targets, size_t n, void *owner,
                        void (*release)(void *owner));

/* Waits until every target whose slot was UNKNOWN when its plan started has
 * its first result, or timeout_s passes. True when all are decided. */
bool scheduler_wait_initial(struct scheduler *s, double timeout_s);

/* Stops the thread, waits for it, releases every plan. */
void scheduler_stop(struct scheduler *s);

/* ---- placement (pure functions, used by the prober thread) ------------- */

#define SCHEDULER_START_RATE 20000.0 /* max probe starts a second in a first round */

struct sched_place {
    double phase; /* steady offset from the plan's start, in [0, interval) */
    double first; /* offset of the job's first start from the plan's start */
};

/* Where job i of a plan of n goes: the n jobs are spread evenly over the
 * interval (phase = interval * (i + 0.5) / n); a job whose endpoint is
 * still unknown (initial) first starts within the first tenth of the
 * interval (stretched when n would exceed SCHEDULER_START_RATE), others at
 * their phase. Seconds. */
struct sched_place scheduler_place(size_t i, size_t n, double interval, bool initial);

/* The start after 'last' on the grid grid + k * interval: the next grid
 * point after last, moved on by whole intervals if it is before now (a job
 * that fell behind skips the missed rounds and keeps its phase). */
double scheduler_next_start(double grid, double interval, double last, double now);

/* While a fall or a rise is in progress (health_report said so) and the
 * check has a fast_interval shorter than its interval, the next probe of
 * the endpoint starts fast_interval after the result that began or
 * continued it, less up to SCHEDULER_FAST_SPREAD of it by the job's own
 * spread (in [0, 1)): results that arrive together (a prober that ran
 * late, a whole region refused at once) start their next probes apart,
 * never later than fast_interval after their result. A start already
 * planned earlier (the job's grid) is kept. Counting from the result,
 * not the start, means probes of one endpoint never overlap, whatever
 * the timeout. */
#define SCHEDULER_FAST_SPREAD 0.25
double scheduler_fast_start(double planned, double result_at, double fast, double spread);

/* Job i's spread: the fractional parts of (i + 1) x the golden ratio's
 * inverse, spread evenly over [0, 1) for any run of consecutive jobs (a
 * pool's endpoints are consecutive in a plan). */
double scheduler_spread(size_t i);

#endif

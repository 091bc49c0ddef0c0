/*
 * load.h -- builds a served set (every zone, the policy set and the limits
 * of a config) beside the live one.
 *
 * Ownership: the returned set belongs to the caller (serve_publish or
 * serve_set_free); it takes over cfg->gslb (cfg->gslb is NULL afterwards,
 * on success and on failure).
 */
#ifndef GTM_DAEMON_LOAD_H
#define GTM_DAEMON_LOAD_H

#include <stdint.h>

#include "common/errlist.h"
#include "daemon/config.h"
#include "health/health.h"
#include "health/scheduler.h"
#include "serve/serve_set.h"

/* NULL when anything fails; every error is in errs. When core is not NULL,
 * endpoints of checked pools are mapped to their health slots. */
struct serve_set *load_set(struct config *cfg, uint64_t generation, struct health_core *core,
                           struct errlist *errs);
/* The same, with warnings (signatures of a signed zone close to expiry)
 * collected in warns instead of logged ('gtmd check' prints them). */
struct serve_set *load_set_warn(struct config *cfg, uint64_t generation, struct health_core *core,
                                struct errlist *errs, struct errlist *warns);

/* The probe targets of every checked endpoint of g (one per slot), for the
 * prober thread; *max_timeout_ms gets the longest time a first probe may
 * take (timeout plus its place in the first tenth of the interval). Caller
 * owns the array (scheduler_set_plan takes it). */
struct gslb;
struct sched_target *load_probe_targets(const struct gslb *g, size_t *n, uint32_t *max_timeout_ms);

#endif

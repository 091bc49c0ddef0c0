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
#include "control/config.h"
#include "health/health.h"
#include "health/scheduler.h"
#include "serve/serve_set.h"

/* NULL when anything fails; every error is in errs. When core is not NULL,
 * endpoints of checked pools are mapped to their health slots. prev is the
 * set this one is to replace (NULL at start-up and for 'gtmd check'): the
 * cookie secret is carried over from it (guard_config.h), and so is its RRL
 * table when table_size is the same. Takes cfg->rrl (NULL afterwards). */
struct serve_set *load_set(struct config *cfg, uint64_t generation, struct health_core *core,
                           const struct serve_set *prev, struct errlist *errs);
/* The same, with warnings (signatures of a signed zone close to expiry)
 * collected in warns instead of logged ('gtmd check' prints them). */
struct serve_set *load_set_warn(struct config *cfg, uint64_t generation, struct health_core *core,
                                const struct serve_set *prev, struct errlist *errs,
                                struct errlist *warns);
/* The one way a set is built (the two above call it with delta NULL):
 * the delta's keep (config_delta.h decides it) marks the zones that are
 * taken from prev as they are, shared, neither read nor signed again;
 * a zone it marks place, unsigned, is made from prev's with the policy
 * names that changed (zone_place.h) when zone_place can (delta->n_placed
 * counts them); every other zone is read from its file. The policy set,
 * geo data, bindings and signatures are built for cfg. */
struct config_delta;
struct serve_set *load_set_keep(struct config *cfg, uint64_t generation, struct health_core *core,
                                const struct serve_set *prev, struct config_delta *delta,
                                struct errlist *errs, struct errlist *warns);

/* Makes the zones delta marks for placing (config_delta.h) from prev's
 * now, before the load (which takes them): the caller learns from
 * delta->n_placed whether the load reads any zone. */
void load_place_early(const struct config *cfg, struct config_delta *delta,
                      const struct serve_set *prev);

/* Runs fn(arg) on a new thread at nice LOAD_BEHIND_NICE and waits for it
 * (on the calling thread when no thread can be made). The threads fn
 * starts (the zone loader's second threads) inherit that nice value. A
 * reload and a re-sign build the new set this way, so the workers, which
 * answer from the live set meanwhile, keep the CPU: see load.c. */
#define LOAD_BEHIND_NICE 19
void load_run_behind(void (*fn)(void *), void *arg);

/* The thread that frees retired sets behind the reloads (load_drop_behind).
 * NULL from load_dropper_new (no thread could be made): drops are made on
 * a thread waited for, as load_run_behind. Owned by the server; the
 * caller of load_dropper_free waits for the drop in flight. spare (NULL:
 * none; borrowed, it outlives the dropper): the records array retired
 * sets give back (bigalloc.h), dropped with the heap's last trim once a
 * stream of changes stopped. */
struct load_dropper;
struct bigalloc_spare;
struct load_dropper *load_dropper_new(struct bigalloc_spare *spare);
void load_dropper_free(struct load_dropper *d);

/* Frees old (a set no reader can see any more, owned by the caller until
 * now) and gives the free pages of every malloc arena back to the system
 * (malloc_trim), at nice LOAD_BEHIND_NICE: freeing the 1M-record set
 * takes 6-7 ms of CPU, which a worker should not wait for, and a change
 * at 100,000 policy records 15 ms and more (issue #38), which the change
 * should not wait for either. So the dropper's thread frees it while the
 * caller goes on. When the dropper still has another set waiting besides
 * the one it frees, the caller frees old itself, at its own priority,
 * rather than wait for a thread at nice 19 (0.1-0.4 s on two busy cores,
 * issue #55): at most two retired sets are alive beside the served one
 * (memory stays bounded), and nothing waits for the dropper. Nothing old
 * holds is taken by a new set without a reference of its own (zones,
 * records' shared parts, geo, the policy set: atomic counts), so freeing
 * it beside the next reload, or beside the dropper freeing another, is
 * safe. Callers hold the reload lock (or are the start). */
void load_drop_behind(struct load_dropper *d, struct serve_set *old);

/* Re-signing (zones signed at load, zone_sign.h): loads and signs every
 * zone of cfg again, keeping the policy set of cur (one more reference),
 * its limits, identity, cookie secrets and rate limiting (a copy of the
 * parameters, the same RRL table); cfg is not changed. The zone files are read again, so
 * an edited file is picked up as a reload would. The new set takes cur's
 * TSIG keyring over (serve_set_take_tsig). NULL with errors in errs. */
struct serve_set *load_resign(const struct config *cfg, struct serve_set *cur, uint64_t generation,
                              struct errlist *errs);
/* A set of the zones s (taken) with everything else as cur has it: the
 * policy set and geo data (references), limits, identity, cookie secrets,
 * rate limiting (a copy, the same table), policy signatures made anew,
 * and cur's keyring, taken over (serve_set_take_tsig). NULL (s freed,
 * cur unchanged) with an error in errs when memory runs out. */
struct serve_set *load_set_like(struct serve_set *cur, struct snapshot *s, struct serve_bind *bind,
                                uint64_t generation, const char *cfgpath, struct errlist *errs);

/* RFC 2136 updates (load_update.c). The zones of cur with the one of
 * configured zone zi loaded (and signed) from file instead, every other
 * zone shared with cur (zone_ref), the policy records of that zone
 * attached: nothing else is loaded again. NULL with errors in errs. */
struct snapshot *load_update_snapshot(const struct config *cfg, const struct serve_set *cur,
                                      size_t zi, const char *file, struct serve_bind *bind,
                                      struct errlist *errs);
/* The IXFR journal of configured zone zi (if it has one) brought up to
 * date from old (NULL at start) to now and attached to now, before now
 * is published (load_journals does it for every zone of a set). */
void load_journal_zone(const struct config *cfg, size_t zi, const struct zone *old,
                       struct zone *now);

/* Seconds after signing when the signatures of cfg need renewing: the
 * least validity - refresh of its zones signed at load; 0 when none is. */
uint32_t load_resign_interval(const struct config *cfg);

/* The probe targets of every checked endpoint of g (one per slot), for the
 * prober thread; *max_timeout_ms gets the longest time a first probe may
 * take (timeout plus its place in the first tenth of the interval). Caller
 * owns the array (scheduler_set_plan takes it). */
struct gslb;
struct sched_target *load_probe_targets(const struct gslb *g, size_t *n, uint32_t *max_timeout_ms);

/* The NOTIFY messages due after now was published (notify_out.h): every
 * zone with "notify" targets whose serial is not the one of the zone of
 * the same origin in before (NULL at start: every such zone). The caller
 * hands the job to notify_out_send. */
struct notify_job *load_notify_job(const struct config *cfg, const struct snapshot *before,
                                   const struct serve_set *now);

/* The IXFR journals of now's zones that have one (zone_journal.h), brought
 * up to date against their namesakes in prev (NULL at start) and attached
 * to the zones; before now is published. Never for `gtmd check`, which
 * must not write. */
void load_journals(const struct config *cfg, const struct serve_set *prev, struct serve_set *now);

#endif

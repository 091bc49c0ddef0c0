/*
 * verdict.h -- external verdicts: health pushed in by other systems.
 *
 * A verdict says that a source outside gtmd (a monitoring system, an
 * Alertmanager alert, a script) sees a target ("endpoint:POOL/NAME",
 * "az:NAME" or "region:NAME") up or down, for a bounded time. Verdicts sit
 * with the probe layer (doc/health.md): the slot's 'external' byte is
 * HEALTH_DOWN while any live verdict says down, else HEALTH_UP while one
 * says up, else HEALTH_UNKNOWN. Policy evaluation (policy.h) puts a down
 * verdict of an endpoint, its az or its region above the probe and fleet
 * verdicts and below operators' overrides and drills; an "up" verdict
 * never raises a target its probes see down (it is the source's "all
 * clear", which replaces its own earlier "down").
 *
 * One source has at most one verdict per target: a new one from the same
 * source for the same target replaces it (and keeps its id). Every
 * verdict expires (expires_in from 1 s to VERDICT_MAX_EXPIRES); the core
 * holds at most max_verdicts of them. Verdicts are kept in the health
 * core under its lock, persisted in the state file ("verdicts") and are
 * node-local in a fleet (doc/health.md says why).
 *
 * Ids are "vdt-N", N from the core's counter (next_verdict_id), which
 * only grows while the process runs and is raised past every restored id.
 *
 * Ownership: the core owns the list; verdict_free_all() at exit.
 */
#ifndef GTM_HEALTH_VERDICT_H
#define GTM_HEALTH_VERDICT_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "health/health.h"

#define VERDICT_MAX_SOURCE 256
#define VERDICT_MAX_REASON 1024
/* Longest lifetime of a verdict, in seconds (one week). */
#define VERDICT_MAX_EXPIRES 604800.0

struct verdict {
    struct verdict *next;
    char id[32];
    char *source;
    char *target;
    enum health_state state; /* HEALTH_UP or HEALTH_DOWN */
    char *reason;
    char *author;            /* the token's role that posted it ("operate", "health") */
    double created, expires; /* wall-clock seconds; expires always set */
    double load; /* an endpoint's load figure the source pushes (load shedding); NAN: none */
};

/* What verdict_put did. */
enum verdict_put_result { VERDICT_ADDED = 0, VERDICT_REPLACED, VERDICT_FULL };

/* Adds the verdict of source on target, or replaces that source's verdict
 * on target (keeping its id); id gets the id. VERDICT_FULL when the core
 * already holds max_verdicts and none is replaced (nothing changes).
 * Fields must have passed the rules below. */
enum verdict_put_result verdict_put(struct health_core *c, const char *source, const char *target,
                                    enum health_state st, const char *reason, const char *author,
                                    double expires_in, double load, char id[32]);

/* What is wrong with a pushed load figure (a finite number from 0 to
 * 1e15, on an endpoint target), or NULL. */
const char *verdict_check_load(json_t *v, const char *target);
/* Removes a verdict by id; false when there is none. */
bool verdict_remove(struct health_core *c, const char *id, const char *why);
/* Removes every verdict of source (any target); returns how many. */
size_t verdict_withdraw_source(struct health_core *c, const char *source, const char *why);
/* Removes every verdict past its expiry; returns how many. */
size_t verdict_expire(struct health_core *c, double now);
/* Seconds until the first expiry (at least 0.001), -1 when none. */
double verdict_next_expiry(struct health_core *c, double now);
size_t verdict_count(struct health_core *c);
void verdict_set_max(struct health_core *c, size_t max);
size_t verdict_max(struct health_core *c);
/* JSON array of the verdicts, newest first (caller owns it). */
json_t *verdict_list_json(struct health_core *c);
json_t *verdict_list_json_locked(struct health_core *c);
/* JSON of one verdict, or NULL. */
json_t *verdict_get_json(struct health_core *c, const char *id);
/* The live verdicts on target, newest first (an array, maybe empty). */
json_t *verdict_for_target_json(struct health_core *c, const char *target);
/* Restores verdicts from the state file's array, checking each with the
 * rules below; expired ones are dropped, past max_verdicts too. Returns
 * the number restored; *rejected counts the invalid ones (logged). */
size_t verdict_restore(struct health_core *c, json_t *arr, double now, size_t *rejected);
void verdict_free_all(struct health_core *c);

/* Field rules: NULL when valid, else what is wrong. */
const char *verdict_check_source(const char *source);
const char *verdict_check_reason(const char *reason);
const char *verdict_check_expires(double expires_in);

#endif

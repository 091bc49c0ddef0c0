/*
 * override.h -- operators' forced states for endpoints, azs and regions.
 *
 * An override names a target ("endpoint:POOL/NAME", "az:NAME" or
 * "region:NAME"), a state (up or down), a reason, its author and an
 * optional expiry. The newest live override of a target sets that slot's
 * override byte, which policy evaluation puts above the probe verdict
 * (endpoint beats az beats region beats probe). Overrides are kept in the
 * health core under its lock and persisted in the state file.
 *
 * Ownership: the core owns the list; override_free_all() at exit.
 */
#ifndef GTM_HEALTH_OVERRIDE_H
#define GTM_HEALTH_OVERRIDE_H

#include <jansson.h>
#include <stdbool.h>

#include "health/health.h"

struct override {
    struct override *next;
    char id[32];
    char *target;
    enum health_state state; /* HEALTH_UP or HEALTH_DOWN */
    char *reason;
    char *author;
    double created; /* wall-clock seconds */
    double expires; /* 0 = never */
    char *node;     /* fleet: the node that took the call; NULL otherwise */
};

/* Adds an override and applies it; id receives the new id. */
void override_add(struct health_core *c, const char *target, enum health_state st,
                  const char *reason, const char *author, double expires, char id[32]);
/* Removes an override by id; false when there is none. */
bool override_remove(struct health_core *c, const char *id);
/* Removes every override past its expiry; returns how many. */
size_t override_expire(struct health_core *c, double now);
/* Seconds from now until the first expiry, at least 0.001 (one already
 * due is due now); -1 when no override expires. */
double override_next_expiry(struct health_core *c, double now);
size_t override_count(struct health_core *c);
/* JSON array of the overrides (newest first). Caller owns the result. */
json_t *override_list_json(struct health_core *c);
/* The same, for a caller that holds c->lock (one consistent snapshot). */
json_t *override_list_json_locked(struct health_core *c);
/* JSON of one override (caller holds no lock). NULL when id is unknown. */
json_t *override_get_json(struct health_core *c, const char *id);
/* JSON of the override in force for target (the newest), or NULL. */
json_t *override_for_target_json(struct health_core *c, const char *target);
/* Restores overrides from the state file's array (expired ones dropped). */
size_t override_restore(struct health_core *c, json_t *arr, double now);
/* Adds or replaces (by id) one override given in its JSON form (from the
 * fleet's shared store), in order of creation. 1 when it changed the list,
 * 0 when an identical one was there, -1 when invalid or expired. */
int override_upsert_json(struct health_core *c, json_t *o, double now);
/* Makes the list exactly arr (JSON overrides): removes the others (logged
 * why=not_in_fleet), adds or replaces these. Returns the changes. */
size_t override_sync_json(struct health_core *c, json_t *arr, double now);
/* Removes an override by id, logging why; false when there is none. */
bool override_remove_why(struct health_core *c, const char *id, const char *why);
void override_free_all(struct health_core *c);

#endif

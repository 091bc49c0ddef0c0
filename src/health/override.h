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
 * The field rules below are the one definition of a valid override: the
 * admin API checks requests with them and the state file's restore checks
 * every entry with them, so a file cannot bring in what the API refuses.
 *
 * A partial override (a traffic dial) applies to a share of the clients
 * only: "percent" (0 to 100, in steps of 0.01) of them, picked by a stable
 * hash of the client's network and the override's "salt" (policy_dial.h).
 * It is stored as share (basis points, 0..9999); 10000 is a full override,
 * which is what an override without "percent" (or with 100) is, and then
 * neither "percent" nor "salt" is written, so the record stays one that
 * any gtmd reads. A gtmd that does not know dials refuses a record with
 * "percent" (an unknown key) rather than applying it to every client.
 *
 * Ids are "ovr-N". N comes from the core's counter, which only grows: it is
 * kept in the state file (next_override_id) and, when a state file could
 * not be trusted, raised to the clock (override_floor_ids), so an id once
 * handed out never names another override.
 *
 * Ownership: the core owns the list; override_free_all() at exit.
 */
#ifndef GTM_HEALTH_OVERRIDE_H
#define GTM_HEALTH_OVERRIDE_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "health/health.h"

/* Longest reason, in octets. */
#define OVERRIDE_MAX_REASON 1024
/* Longest lifetime, in seconds (about a year). */
#define OVERRIDE_MAX_EXPIRES 3.2e7
/* Longest author (a token's name) and target, in octets. */
#define OVERRIDE_MAX_AUTHOR 64
#define OVERRIDE_MAX_TARGET 1024
/* Largest N of an id accepted from a state file (2^52 - 1): far beyond any
 * count, and the counter can never reach 2^53, where doubles stop being
 * exact. */
#define OVERRIDE_ID_MAX 4503599627370495ULL

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
    uint16_t share; /* basis points of the clients; OVERRIDE_FULL = all */
    uint32_t salt;  /* of the clients' buckets (partial overrides only) */
};

#define OVERRIDE_FULL 10000u

static inline bool override_is_full(const struct override *o)
{
    return o->share >= OVERRIDE_FULL;
}

/* Adds an override and applies it; id receives the new id. Returns 0, or
 * -1 when the core already holds max_overrides (nothing is added). */
int override_add(struct health_core *c, const char *target, enum health_state st,
                 const char *reason, const char *author, double expires, char id[32]);
/* The same for a partial override: share in basis points (0..10000,
 * 10000 = full), salt for the clients' buckets. */
int override_add_dial(struct health_core *c, const char *target, enum health_state st,
                      uint16_t share, uint32_t salt, const char *reason, const char *author,
                      double expires, char id[32]);
/* Checks a "percent" value (a JSON number 0..100, at most two decimals)
 * and converts it to basis points; NULL when valid, else why not. */
const char *override_check_percent(json_t *v, uint16_t *share);
/* Sets the most overrides override_add accepts (existing ones stay). */
void override_set_max(struct health_core *c, size_t max);
size_t override_max(struct health_core *c);
/* Removes an override by id; false when there is none. */
bool override_remove(struct health_core *c, const char *id);
/* The target of override id (copied to target) and the override state its
 * slot would have without it (HEALTH_UNKNOWN: none left); false when there
 * is no such override. Used to check a deletion with the safety rule. */
bool override_state_without(struct health_core *c, const char *id, char *target, size_t len,
                            enum health_state *after);
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

/* Field rules. Each returns NULL when the value is valid, else a message
 * saying what is wrong. */
const char *override_check_target(const char *target);
const char *override_check_reason(const char *reason);
const char *override_check_author(const char *author);
/* Parses "ovr-N" (N from 1 to OVERRIDE_ID_MAX, no leading zero). */
bool override_id_parse(const char *id, uint64_t *n);

/* What a restore found. */
struct override_restore_stats {
    size_t restored; /* in force now */
    size_t expired;  /* valid but past their expiry: dropped */
    size_t rejected; /* failed a field rule: dropped and logged */
    size_t wanted;   /* valid, unexpired entries in the file */
    size_t over_max; /* restored beyond max_overrides (kept: the core then
                      * refuses new ones until fewer remain) */
};

/*
 * Restores overrides from the state file's array, checking every entry
 * with the field rules (a rejected one is logged with its index and why).
 * Expired ones are dropped. Entries beyond max_overrides are restored too
 * (st->over_max says how many): a reload may have lowered max_overrides
 * below the overrides in force, and their state must survive a restart.
 * Returns 0, or -1 without restoring anything when the valid, unexpired
 * entries are more than HEALTH_MAX_OVERRIDES_LIMIT (no gtmd wrote that
 * file; it is refused, never cut short).
 */
int override_restore(struct health_core *c, json_t *arr, double now,
                     struct override_restore_stats *st);
/* The one wording, for the start, a reload and gtmd check, of n overrides
 * in force above max_overrides (max). */
void override_cap_note(char *buf, size_t len, size_t n, size_t max);
/* The entries of a state file's array that override_restore would restore
 * (valid and unexpired; nothing logged, nothing restored), for gtmd check. */
size_t override_count_valid(json_t *arr, double now);
/* Raises the id counter to at least n (never lowers it). */
void override_raise_next_id(struct health_core *c, uint64_t n);
/* Raises the id counter past every id a counter could have handed out
 * before now: to the wall clock in milliseconds. Used when a state file
 * could not be trusted, so ids it held are never handed out again. */
void override_floor_ids(struct health_core *c, double now);
/* Adds or replaces (by id) one override given in its JSON form (from the
 * fleet's shared store), checked with the same field rules as the state
 * file, in order of creation. 1 when it changed the list, 0 when an
 * identical one was there, else OVERRIDE_UPSERT_INVALID (a field rule
 * fails; logged), _FULL (new, and max_overrides are in force; logged) or
 * _EXPIRED. */
#define OVERRIDE_UPSERT_INVALID (-1)
#define OVERRIDE_UPSERT_FULL (-2)
#define OVERRIDE_UPSERT_EXPIRED (-3)
int override_upsert_json(struct health_core *c, json_t *o, double now);
/* Removes from saved override e the fields this release does not know: a
 * record of a newer release's format, read within the version-skew window
 * (doc/fleet.md, "Upgrading: version skew"), whose writer added only
 * fields an older reader may ignore. Saved entries of this release's
 * format keep being refused at an unknown field ("unknown key"). */
void override_keep_known(json_t *e);
/* Removes every override whose id is not one of arr's ({"id": ...}
 * objects; logged why=not_in_fleet). Returns how many. */
size_t override_remove_not_in_json(struct health_core *c, json_t *arr);
/* Makes the list exactly arr (JSON overrides): removes the others (logged
 * why=not_in_fleet), adds or replaces these. Returns the changes. */
size_t override_sync_json(struct health_core *c, json_t *arr, double now);
/* Removes an override by id, logging why; false when there is none. */
bool override_remove_why(struct health_core *c, const char *id, const char *why);
void override_free_all(struct health_core *c);

#endif

/*
 * config_delta.h -- what a new configuration changes against the running
 * one: the one place that decides it (doc/architecture.md, "Changes").
 *
 * Every reload computes a delta before it builds the new set, and the
 * loader applies it (load_set_keep): a zone whose inputs did not change is
 * kept from the running set as it is (shared, neither read nor signed
 * again), the rest is built for the new configuration, and counters and
 * probe schedules of what did not change carry over (serve_counters.c,
 * scheduler.c). A full reload (start, SIGHUP, POST /v1/reload, a
 * secondary zone's new copy: the files may have changed) is the same
 * path with "reread": every zone counts as changed. So a change through
 * the API and a reload of the same file cannot give different answers:
 * they differ only in what is kept, and only what provably has the same
 * inputs is kept.
 *
 * A zone is kept when all of these hold: the files are not read again;
 * the zone entry (origin, file, dnssec, transfer...) is the same JSON,
 * and so is the signing policy it names (dnssec_policies);
 * the configured origins are the same list; the zone is no secondary or
 * catalog zone (read or generated), names no TSIG key and takes no
 * updates (its compiled form points at the running set's key ring);
 * and the policy names that fall in it, each with the types its records
 * answer (ZONE_NODE_POLICY_*), are exactly the ones the running zone was
 * built with.
 *
 * A zone whose entry is the same but whose policy names changed is read
 * again, unless the loader can make it from the running zone with the
 * names added and removed (zone_place.h): the delta lists the names it
 * saw change (place, places) when it found them without a walk of every
 * name, and the loader decides.
 *
 * The summary counts, per kind, the resources added, removed and changed
 * (records, pools, endpoints, checks, regions, geo maps) and names the
 * other top-level keys that changed: the reload result and the log say
 * it ("changed").
 *
 * Ownership: the caller owns the delta (config_delta_free); old, cur and
 * next are borrowed for the call only.
 */
#ifndef GTM_CONTROL_CONFIG_DELTA_H
#define GTM_CONTROL_CONFIG_DELTA_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#include "control/config.h"
#include "serve/serve_set.h"

/* A policy name a change touched, in zone `zone` of next (zone_place.h:
 * struct zone_place_name, with the name's octets held here). */
struct config_place {
    size_t zone;
    uint16_t flags; /* ZONE_NODE_POLICY_* of the binding that names it */
    bool present;   /* a binding of next names it; else one of cur's did */
    uint8_t len;
    uint8_t name[255]; /* lowercase wire */
};

struct config_delta {
    bool reread; /* files are read again: nothing is kept */
    bool *keep;  /* one per zone of next: kept from cur (load_set_keep) */
    /* One per zone of next: not kept, its entry the same, and every
     * policy name that changed in it is in places (the loader may make
     * it from cur's zone, zone_place.h). */
    bool *place;
    struct config_place *places; /* owned */
    size_t n_places;
    size_t n_placed; /* zones the loader made so (load_set_keep sets it) */
    /* The zones made so before the load (load_place_early; one per zone,
     * NULL where none), owned until the load takes them; placed_done:
     * placing was tried already (the load does not try again). */
    struct zone **placed;
    bool placed_done;
    size_t n_zones; /* of next */
    size_t n_kept;
    json_t *summary; /* owned: {"records": {"added", "removed", "changed"}, ...} */
};

/* The delta from old (running; NULL at start) serving cur (NULL at start)
 * to next, which is not loaded yet (its gslb is still in next). reread:
 * the files may have changed (a full reload). known: NULL, or the
 * jsondelta (jsondelta.h) from old's document to next's, which the change
 * that made next computed already (borrowed): the sections it does not
 * put or drop whole are counted from it instead of walked again (100,000
 * records walked side by side: 5 ms of a change, issue #38). Never NULL. */
struct config_delta *config_delta_new(const struct config *old, const struct serve_set *cur,
                                      const struct config *next, bool reread, json_t *known);
void config_delta_free(struct config_delta *d);

/* After the load: the summary's zones count those the loader made by
 * placing names (n_placed) as "placed", not "read". */
void config_delta_placed(struct config_delta *d);

/* The summary as one short line for the log ("records=+1-0~2 pools=..."). */
void config_delta_line(const struct config_delta *d, char *out, size_t len);

#endif

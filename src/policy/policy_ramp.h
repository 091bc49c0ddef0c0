/*
 * policy_ramp.h -- gradual failback: a recovered region ramps back.
 *
 * A record with "failback": {"ramp": S} does not give a region that
 * recovers (its state for the record's pool goes from down to up) all of
 * its clients at once: during S seconds the region serves a share that
 * grows linearly from 0 to 100 % of the clients that prefer it, picked by
 * the stable buckets of policy_dial.h (salted with the region's key), so
 * the clients that came back stay back; the others are answered as if the
 * region were still down. A region that goes down during the ramp is down
 * at once (the ramp only ever holds clients back), and its next recovery
 * starts a new ramp.
 *
 * The tracker (policy_ramp_track) runs off the query path, after every
 * health change (the health thread) and when a set is loaded: it compares
 * each (pool, region) state with the one it saw last and stamps the start
 * of a ramp. A state never seen (endpoints not probed yet) is not "down":
 * a start does not ramp. A reload keeps the ramps in progress
 * (policy_ramp_adopt). The query path reads one atomic per region it
 * considers, and the clock only while a ramp runs.
 *
 * Ownership: the gslb owns its struct policy_ramp (gslb_free).
 */
#ifndef GTM_POLICY_POLICY_RAMP_H
#define GTM_POLICY_POLICY_RAMP_H

#include <jansson.h>
#include <stdatomic.h>
#include <stdint.h>

#include "common/cfgschema.h"
#include "common/jsoncfg.h"
#include "policy/policy.h"

/* The longest ramp, in seconds (a day). */
#define POLICY_RAMP_MAX_S 86400

struct policy_ramp {
    size_t n_pools, n_regions;
    /* [pool * n_regions + region]: CLOCK_MONOTONIC ms at which the
     * region's latest ramp began; 0: none. Written by the tracker. */
    _Atomic int64_t *start_ms;
    /* The state the tracker saw last (enum health_state), same index. */
    _Atomic uint8_t *seen;
    uint32_t *ramp_ms; /* [pool]: the longest ramp of its records; 0: none */
    uint32_t *salt;    /* [region]: policy_dial_salt of "region:NAME" */
};

/* The keys of a record's "failback" object. */
extern const struct cfgschema policy_ramp_schema;

/* Parses a record's "failback" object fb at path ({"ramp": seconds};
 * NULL: none) into x->ramp_ms (the record's rarely used parts, being
 * compiled). */
void policy_ramp_parse(const struct jsoncfg *j, json_t *fb, const char *path,
                       struct policy_record_ext *x);
/* Sets up g->ramp when a record has a ramp (after the records are parsed). */
void policy_ramp_init(struct gslb *g);
void policy_ramp_free(struct policy_ramp *rp);

/* The clock of ramps: CLOCK_MONOTONIC_COARSE, in ms. */
int64_t policy_ramp_now_ms(void);
/* The share (basis points) region serves to r's clients at now_ms:
 * POLICY_DIAL_FULL when no ramp runs; *start_ms (may be NULL) gets the
 * ramp's start. Query path. */
uint16_t policy_ramp_share(const struct gslb *g, const struct policy_record *r, uint16_t region,
                           int64_t now_ms, int64_t *start_ms);

/* Brings the ramps of g up to the current health state (off the query
 * path; one caller at a time per g). */
void policy_ramp_track(const struct gslb *g);
/* Copies the ramps in progress and the states seen from prev (a set being
 * replaced by a reload), matched by pool and region name. */
void policy_ramp_adopt(const struct gslb *g, const struct gslb *prev);

#endif

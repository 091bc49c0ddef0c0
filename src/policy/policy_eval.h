/*
 * policy_eval.h -- computes the answer of a policy record for one query.
 *
 * Runs on DNS worker threads: no allocation, no lock; health is read from
 * the endpoints' atomic slots. The steps (doc/policies.md): order the
 * regions, skip the ones that are down, select within the serving region
 * (or over the spill set), and apply when_all_down when nothing is up.
 */
#ifndef GTM_POLICY_POLICY_EVAL_H
#define GTM_POLICY_POLICY_EVAL_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>

#include "dns/packet.h"
#include "policy/policy.h"
#include "policy/policy_geo.h"

#define POLICY_MAX_ANSWERS 16

struct policy_trace;

struct policy_client {
    const struct sockaddr_storage *addr; /* source address; may be NULL */
    const struct dns_ecs *ecs;           /* client subnet; may be NULL */
    uint64_t *rng;                       /* per-thread random state, non-zero */
    /* Dry runs, what-ifs, and on the DNS path a scoped drill's canary
     * clients (policy_loss.h); NULL: the live state. */
    const struct policy_overlay *overlay;
    struct policy_trace *trace; /* explain only; NULL on the DNS path */
    /* The answer's ECS scope is at least this (scoped drills: the caller
     * applies it to the reply, policy_loss.h); 0 otherwise. */
    uint8_t ecs_scope_min;
    /* The client is inside a scoped drill's canary: its answers are also
     * counted apart (the drills' recovery timeline). */
    bool canary;
    /* The served set's geo data (policy_geo.h); NULL: geo and nearest
     * records see every client as of unknown location. */
    const struct policy_geo *geo;
    /* Dry runs and what-ifs (policy_eval_all): every candidate, none
     * dropped at random by load shedding (policy_shed.h). */
    bool deterministic;
};

#define POLICY_TRACE_REGIONS 32

/* Why each region served or was skipped, for GET /v1/explain. */
struct policy_trace_region {
    uint16_t region;
    bool up;
    bool has_type;            /* has endpoints of the asked type */
    enum health_state forced; /* region override (HEALTH_UNKNOWN = none) */
    enum health_state drill;  /* region's drill layer, overlay included */
    unsigned healthy, total;  /* endpoints up / all in this region of the pool */
    /* The region's dial (a partial override, policy_dial.h): its share in
     * basis points (0 when none: dial_state HEALTH_UNKNOWN), the state it
     * gives, and whether this client is in it. */
    uint16_t dial_share;
    enum health_state dial_state;
    bool dial_in;
    uint16_t dial_bucket; /* the client's bucket for the dial's salt */
    /* A failback ramp in progress (policy_ramp.h): ramp_share < 10000. */
    uint16_t ramp_share;  /* basis points; 10000: no ramp */
    uint16_t ramp_bucket; /* the client's bucket for the region's salt */
    bool ramp_held;       /* the client is not back yet: skipped */
    double ramp_elapsed_s, ramp_s;
};

/* How a geo or nearest record placed the client. */
struct policy_trace_geo {
    bool used;
    struct policy_geo_client client; /* the address looked up */
    uint32_t cls;                    /* its class (policy_geo_lookup) */
    uint8_t class_scope;             /* class-exact ECS scope */
    bool widened;                    /* the health-aware view was current */
    uint8_t widened_scope;           /* its scope, when widened */
    struct policy_order order;       /* the region order used */
};

struct policy_trace {
    struct policy_trace_geo geo;
    uint16_t n_regions;
    struct policy_trace_region regions[POLICY_TRACE_REGIONS];
    uint16_t n_candidates; /* endpoints selection chose from */
    enum policy_select select_used;
};

enum policy_outcome {
    POLICY_SERVED = 0, /* healthy endpoints selected */
    POLICY_FAIL_OPEN,  /* nothing up: every endpoint (when_all_down all) */
    POLICY_FALLBACK,   /* nothing up: the static fallback list */
    POLICY_EMPTY,      /* nothing up: NODATA */
};

struct policy_result {
    enum policy_outcome outcome;
    int serving_region; /* index of the first serving region, -1 if none */
    unsigned n_spill;   /* regions used beyond the first (spill) */
    uint8_t ecs_scope;  /* ECS scope prefix length to return */
    uint8_t geo_kind;   /* enum policy_geo_kind: what placed the client */
    /* With a health-aware TTL (policy_record.health_ttl): the earliest
     * time (health_mono_ms) the answer may change -- a rise or fall in
     * progress of an endpoint in a region the evaluation consulted, or a
     * failback ramp reaching this client; 0 when none is known. */
    int64_t change_at_ms;
    uint16_t n;
    const struct policy_endpoint *eps[POLICY_MAX_ANSWERS];
};

/* rtype: the record type asked (A, AAAA or CNAME). */
void policy_eval(const struct gslb *g, const struct policy_record *r, uint16_t rtype,
                 const struct policy_client *c, struct policy_result *out);

/* The same for dry runs and what-ifs: deterministic, with every candidate
 * selected (select all, up to POLICY_MAX_ANSWERS, no random order); spill
 * and when_all_down as configured. c->rng is not used. */
void policy_eval_all(const struct gslb *g, const struct policy_record *r, uint16_t rtype,
                     const struct policy_client *c, struct policy_result *out);
/* policy_eval_all along the given order (one class of a geo or nearest
 * record, policy_eval_order). */
void policy_eval_all_order(const struct gslb *g, const struct policy_record *r, uint16_t rtype,
                           struct policy_order order, const struct policy_client *c,
                           struct policy_result *out);
/* Same outcome, serving region and set of answers (in any order). */
bool policy_result_same(const struct policy_result *a, const struct policy_result *b);
/* "served", "fail_open", "fallback" or "empty". */
const char *policy_outcome_name(enum policy_outcome o);

/* policy_eval along the given region order instead of the one the
 * record's policy picks: for dry runs that go through every class of a
 * geo or nearest record (policy_geo_classes, policy_geo_order). No ECS
 * scope is computed. */
void policy_eval_order(const struct gslb *g, const struct policy_record *r, uint16_t rtype,
                       struct policy_order order, const struct policy_client *c,
                       struct policy_result *out);

/*
 * What the answer of r for rtype along order is made of under the current
 * health state, without the selection among candidates: the outcome, then
 * the regions whose endpoints are the candidates, in order (the serving
 * region and the spill regions; every region of the order when failing
 * open; none for fallback and empty). Two orders with the same key get
 * the same answers. Writes at most cap entries into key (cap >= number of
 * regions + 1) and returns how many. Used by policy_geo_widen, so that the
 * widened scopes follow exactly the rules of policy_eval.
 */
size_t policy_eval_outcome(const struct gslb *g, const struct policy_record *r, uint16_t rtype,
                           struct policy_order order, uint16_t *key, size_t cap);

static inline uint64_t policy_rng_next(uint64_t *s)
{
    /* xorshift64*: fast, per-thread, good enough for load spreading. */
    uint64_t x = *s;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    *s = x;
    return x * 0x2545F4914F6CDD1DULL;
}

#endif

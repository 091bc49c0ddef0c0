/*
 * composite.h -- composite checks: an endpoint's verdict from several checks.
 *
 * A composite check ("type": "composite", like Route 53's calculated
 * health checks and Cloudflare's monitor groups) names other checks; each
 * of them probes the endpoint on its own schedule with its own rise and
 * fall, in a slot of its own ("check:POOL/NAME/CHECK"). The endpoint's
 * probe layer is then judged from those children's damped verdicts by the
 * composite's mode: all of them up, any of them up, or at least n up.
 * Probers still report only pass/fail per check (probe.h); the judging
 * happens here, on the prober thread, after each child's result.
 *
 * A child that has no verdict yet (unknown) counts neither way: the
 * composite is up or down only once the known children decide it, and
 * until then keeps the state it had (a restored one, or unknown).
 *
 * Ownership: struct health_composite is plain data, owned by whoever
 * embeds it (a compiled check, policy.h).
 */
#ifndef GTM_HEALTH_COMPOSITE_H
#define GTM_HEALTH_COMPOSITE_H

#include <stddef.h>

#include "health/health.h"

/* The most children a composite names. */
#define COMPOSITE_MAX_OF 64

enum health_composite_mode { COMPOSITE_ALL = 0, COMPOSITE_ANY, COMPOSITE_AT_LEAST };

struct health_composite {
    enum health_composite_mode mode;
    unsigned n;  /* COMPOSITE_AT_LEAST: children that must be up, 1..n_of */
    size_t n_of; /* children */
};

/* "all", "any" or "at_least". */
const char *health_composite_mode_name(enum health_composite_mode m);

/* The children up, down and unknown among states[0..comp->n_of). */
struct health_composite_count {
    unsigned up, down, unknown;
};

/* The verdict of comp over its children's states: HEALTH_UP, HEALTH_DOWN,
 * or HEALTH_UNKNOWN while the unknown children could still decide it.
 * why (may be NULL) gets a sentence such as "2 of 3 checks up, at_least 2
 * needed". Pure. */
enum health_state health_composite_judge(const struct health_composite *comp,
                                         const enum health_state *states, char *why, size_t len);

/* Judges comp over the damped probe states of kids (comp->n_of slots) and
 * moves parent's probe layer when the verdict is up or down and differs
 * from it: logged, told on the event ring and to the listeners like a
 * probe transition. Prober thread (or a test); takes the core's lock. */
void health_composite_update(struct health_core *c, struct health_slot *parent,
                             const struct health_composite *comp, struct health_slot *const *kids);

#endif

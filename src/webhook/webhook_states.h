/*
 * webhook_states.h -- effective state changes of endpoints, azs and
 * regions, for the "state" event of outgoing webhooks.
 *
 * The event ring tells of changes of one layer (a probe transition, an
 * override, a verdict, a drill); what an operator wants to hear is what
 * that did to the answers: which endpoint, az or region (per pool) went
 * down or came back with every layer applied (policy.h). The notifier
 * thread keeps the last states it saw and, after events, compares them
 * with the live policy set's.
 *
 * Ownership: webhook_states_new's object is freed with
 * webhook_states_free; the notifier thread only.
 */
#ifndef GTM_WEBHOOK_WEBHOOK_STATES_H
#define GTM_WEBHOOK_WEBHOOK_STATES_H

#include <jansson.h>

#include "policy/policy.h"

struct webhook_states;

struct webhook_states *webhook_states_new(void);
void webhook_states_free(struct webhook_states *s);

/* Compares the states of every endpoint, az and region (per pool) of g
 * with the last ones and calls emit(arg, ev) for each change, ev being
 * {"type": "state", "target", "pool", "from", "to", "time"} (stolen by
 * emit). Targets seen for the first time (the first call, a reload that
 * adds them) only set the baseline; targets gone are forgotten. */
void webhook_states_update(struct webhook_states *s, const struct gslb *g, double now,
                           void (*emit)(void *arg, json_t *ev), void *arg);

#endif

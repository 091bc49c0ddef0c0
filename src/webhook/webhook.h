/*
 * webhook.h -- outgoing notifications: webhooks on state changes,
 * overrides, drills and verdicts (doc/health.md#outgoing-notifications).
 *
 * A thread of its own (the notifier; never a DNS worker, the prober or
 * the admin thread) reads the event ring (common/event_ring.h) every
 * WEBHOOK_TICK_S, turns each event a webhook asks for into that webhook's
 * payload (webhook_format.h), computes the "state" events (effective
 * state changes of endpoints, azs and regions, webhook_states.h) from the
 * live policy set after any event, and posts them, one at a time and in
 * order, to each webhook over http or https. A failed post (no
 * connection, timeout, TLS failure, a status other than 2xx) is retried
 * after backoff, 2 x backoff, ... up to max_backoff, at most retries
 * times, then dropped and counted. Each webhook has a bounded queue: when
 * it is full the oldest waiting delivery is dropped and counted. Counters
 * are in /v1/status ("notify") and /metrics.
 *
 * Ownership: webhook_start returns an object that webhook_stop frees; the
 * event ring and the serve core must outlive it.
 */
#ifndef GTM_WEBHOOK_WEBHOOK_H
#define GTM_WEBHOOK_WEBHOOK_H

#include <jansson.h>
#include <stdint.h>

#include "common/event_ring.h"
#include "serve/serve.h"
#include "webhook/webhook_params.h"

#define WEBHOOK_TICK_S 0.1

struct webhook_env {
    struct event_ring *events; /* what is told (the health core's ring) */
    struct serve *serve;       /* the live policy set, for "state" events */
    const char *node;          /* this gtmd's name in payloads (copied) */
};

/* One webhook's counters (webhook_stats). */
struct webhook_stat {
    char label[300]; /* "https://host:port/..." without the path (a secret for Slack) */
    enum webhook_format format;
    uint64_t sent, failed, dropped, retries;
    size_t queued;
    int last_status;           /* HTTP status of the last attempt; 0: none or no reply */
    char last_error[200];      /* why the last attempt failed; "" after a success */
    double last_ok, last_fail; /* wall-clock times; 0: never */
};

struct webhook_core;

/* Starts the notifier thread for p's webhooks (copied); takes a reader
 * slot of env->serve. Returns NULL when p has none (nothing to run). */
struct webhook_core *webhook_start(const struct webhook_params *p, const struct webhook_env *env);
/* A reload: the webhooks of p replace the running ones (their queues are
 * dropped and counted in the old counters, which go away). Any thread. */
void webhook_update(struct webhook_core *w, const struct webhook_params *p);
/* Copies the counters of at most max webhooks into out; returns how many. */
size_t webhook_stats(struct webhook_core *w, struct webhook_stat *out, size_t max);
/* {"queue": N, "webhooks": [...]} for /v1/status; JSON null when w is NULL. */
json_t *webhook_status_json(struct webhook_core *w);
/* Stops the thread (queued deliveries are dropped) and frees w. */
void webhook_stop(struct webhook_core *w);

#endif

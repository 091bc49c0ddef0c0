/*
 * admin.h -- the REST/JSON admin API (doc/admin-api.md) and /metrics.
 *
 * libevent's evhttp on its own thread and event_base, listening on TCP
 * and/or unix sockets (mode 0600). Bearer tokens: a read token and an
 * operate token (operate implies read), compared in constant time. Every
 * mutating call appends one JSON line to the audit log.
 *
 * The admin thread reads the live snapshot through the serve_ctx hazard
 * slot reserved for it, health state through the health core, and runs
 * reloads through the daemon's callback (serialised with SIGHUP).
 *
 * Ownership: admin_start() returns an object owned by the caller; the
 * env pointers must outlive it (admin_stop frees it).
 */
#ifndef GTM_ADMIN_ADMIN_H
#define GTM_ADMIN_ADMIN_H

#include <jansson.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>

#include "daemon/config.h"
#include "health/health.h"
#include "net/worker.h"

struct health_service;

struct admin_env {
    struct serve_ctx *serve;
    struct health_core *health;
    struct health_service *health_service; /* writes the state file (service.h) */
    /* Reloads config and zones; returns the JSON result (caller frees). */
    json_t *(*reload)(void *arg, bool *ok);
    void *reload_arg;
    double started;            /* wall-clock start time */
    atomic_ullong *reloads_ok; /* owned by the daemon */
    atomic_ullong *reloads_failed;
};

struct admin;

/* NULL with a message in err when a listener cannot be opened. */
struct admin *admin_start(const struct admin_env *env, const struct config_admin *cfg, char *err,
                          size_t errlen);
/* New tokens and audit log after a reload (listeners stay). */
void admin_update(struct admin *a, const struct config_admin *cfg);
void admin_stop(struct admin *a);

#endif

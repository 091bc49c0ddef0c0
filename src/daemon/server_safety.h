/*
 * server_safety.h -- the safety rule the fleet checks when it adopts an
 * override or drill another node wrote (fleet_env.unsafe): the admin API's
 * rule (admin_record_unsafe), evaluated on the served set.
 *
 * The fleet reads etcd before the first set is published (a restarted node
 * answers with the fleet's overrides from its first query), so until then
 * the rule runs on that first set, as loaded; once it is published, on the
 * fleet thread's own reader of the serve core. The lock orders the two.
 *
 * Ownership: the daemon owns the struct; the boot set is borrowed (it is
 * the set the daemon publishes next, so it lives on), the reader belongs to
 * the serve core.
 */
#ifndef GTM_DAEMON_SERVER_SAFETY_H
#define GTM_DAEMON_SERVER_SAFETY_H

#include <jansson.h>
#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>

#include "serve/serve.h"

struct server_safety {
    pthread_mutex_t lock;
    const struct serve_set *boot; /* before the first publication */
    struct serve_reader *reader;  /* after it */
};

void server_safety_init(struct server_safety *s, const struct serve_set *boot);
/* The first set is published: evaluate on reader from now on. */
void server_safety_attach(struct server_safety *s, struct serve_reader *reader);
void server_safety_destroy(struct server_safety *s);
/* fleet_unsafe_fn (fleet.h); arg is the struct server_safety. */
bool server_safety_unsafe(void *arg, const char *kind, json_t *record, char *why, size_t len);

#endif

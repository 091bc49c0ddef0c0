/*
 * server_update.h -- the updater: the thread that applies RFC 2136
 * dynamic updates (doc/updates.md), one at a time, under the reload lock.
 *
 * A DNS worker hands an UPDATE it accepted (net.h, struct net_update) to
 * server_update_submit; the updater checks it against the zone as served
 * and the key's rules (zone_update.h), writes the zone file anew
 * (atomically: a temporary file renamed over it), loads and signs that one
 * zone, brings its IXFR journal up to date, publishes a set that shares
 * every other zone with the one before (load.h, load_update_snapshot),
 * sends NOTIFY to the zone's secondaries, and answers through the job.
 * Any failure before the rename changes nothing.
 *
 * Ownership: the server owns the updater (server_update_start/stop); the
 * updater owns each job from a successful submit until it replies.
 */
#ifndef GTM_DAEMON_SERVER_UPDATE_H
#define GTM_DAEMON_SERVER_UPDATE_H

#include <stdbool.h>

#include "net/net.h"

struct server;
struct server_update;

/* Most updates waiting for the updater; past it a worker answers SERVFAIL. */
#define SERVER_UPDATE_QUEUE 64

/* Starts the thread; NULL (logged) when it cannot. */
struct server_update *server_update_start(struct server *srv);
/* net_update_submit_fn: arg is the updater. */
bool server_update_submit(void *arg, struct net_update *job);
/* Answers what is queued with SERVFAIL, joins the thread, frees u (NULL:
 * nothing). Before the workers stop: replies go through them. */
void server_update_stop(struct server_update *u);

#endif

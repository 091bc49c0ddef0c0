/*
 * anycast_selfcheck.h -- gtmd asks itself: one UDP query for the SOA of
 * a zone it serves to each of its listen addresses (a wildcard one
 * through loopback), expecting NOERROR with AA set within the timeout.
 * A round succeeds when every address answered so; the controller
 * (anycast.h) counts failed rounds in a row.
 *
 * Threads: everything on the controller's event base (its own thread,
 * never a DNS worker). Ownership: the checker owns its sockets and
 * events; anycast_selfcheck_free closes them (a round under way ends
 * without its callback).
 */
#ifndef GTM_ANYCAST_ANYCAST_SELFCHECK_H
#define GTM_ANYCAST_ANYCAST_SELFCHECK_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/socket.h>

struct event_base;
struct anycast_selfcheck;

/* Called once per round: ok, or why not (a line naming the address). */
typedef void (*anycast_selfcheck_done_fn)(void *arg, bool ok, const char *why);

/* addrs: the n addresses to ask (copied). NULL on allocation failure. */
struct anycast_selfcheck *anycast_selfcheck_new(struct event_base *base,
                                                const struct sockaddr_storage *addrs, size_t n,
                                                double timeout_s, anycast_selfcheck_done_fn done,
                                                void *arg);
/* Starts a round asking for the SOA of origin (presentation form; NULL:
 * no zone served, the round fails at once). False when a round is under
 * way (nothing started). */
bool anycast_selfcheck_round(struct anycast_selfcheck *sc, const char *origin);
void anycast_selfcheck_free(struct anycast_selfcheck *sc);

/* The query for origin's SOA with id into buf (len octets): its length,
 * 0 when origin is not a valid name or does not fit. */
size_t anycast_selfcheck_query(const char *origin, unsigned id, unsigned char *buf, size_t len);
/* Whether reply (n octets) answers id with NOERROR and AA; why, if not. */
bool anycast_selfcheck_reply_ok(const unsigned char *reply, size_t n, unsigned id,
                                const char **why);

#endif

/*
 * xfr_in.h -- secondary zones: a thread that keeps gtmd's copy of each
 * zone with a "primary" current, the way NSD and Knot do (RFC 1996, 1995,
 * 5936):
 *  - at start, and then every SOA refresh (or retry after a failure), it
 *    asks the primaries for the SOA serial; a NOTIFY from a primary makes
 *    it ask at once;
 *  - a newer serial (RFC 1982) brings an IXFR from our copy's SOA, or an
 *    AXFR when we have no copy or the differences do not apply (AXFR
 *    fallback); TSIG signs the queries and every message of the reply is
 *    checked;
 *  - the copy is written atomically to the zone's "file", whose
 *    modification time is the last successful refresh (so a restart serves
 *    the copy at once and knows when it expires), and the daemon is told
 *    to reload (changed callback);
 *  - after the SOA expire time without a successful refresh the zone is
 *    expired (each zone on its own timer, checked every quarter second):
 *    the loader then answers SERVFAIL for it (zone_expired);
 *  - every refresh runs on a thread of its own, so no primary holds up
 *    another zone; every transfer is checked whole before anything is
 *    written (xfr_check.h); failures back off from 2 s (a NOTIFY starts
 *    over).
 *
 * Threads: xfr_in_configure, xfr_in_notify and xfr_in_stop may be called
 * from any thread; the changed callback runs on the secondary thread.
 * Ownership: the caller owns the struct xfr_in (xfr_in_stop frees it) and
 * the configuration arrays it passes (copied).
 */
#ifndef GTM_XFR_XFR_IN_H
#define GTM_XFR_XFR_IN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "dns/tsig.h"
#include "xfr/xfr_in_params.h"

struct xfr_in;

/* One secondary zone as configured. */
struct xfr_in_zone_conf {
    const char *origin; /* presentation form, absolute */
    const char *file;   /* the copy */
    const struct xfr_in_params *primary;
    const struct tsig_key *key; /* the key primary->key names, or NULL */
};

/* Starts the secondary thread; changed(arg) is called after a copy was
 * written or a zone expired. NULL when the thread cannot start. */
struct xfr_in *xfr_in_start(void (*changed)(void *arg), void *arg);

/* The secondary zones from now on (a reload): zones kept by origin keep
 * their state; new ones are checked at once. */
void xfr_in_configure(struct xfr_in *x, const struct xfr_in_zone_conf *zones, size_t n);

/*
 * A NOTIFY for origin (lowercase wire) from address from, signed with key
 * (NULL: unsigned): returns 0 (NOERROR) when it is one of our secondary
 * zones and from is one of its primaries (and the key is the zone's, when
 * it has one) and schedules a refresh at once; else the rcode to answer
 * (REFUSED, or NOTAUTH for a missing or wrong key).
 */
int xfr_in_notify(struct xfr_in *x, const uint8_t *origin, size_t origin_len,
                  const struct sockaddr_storage *from, const struct tsig_key *key);

/* The zones (presentation form) with a new copy since the last call, each
 * once: the daemon loads just those (the caller frees the strings and the
 * array). Any thread. */
size_t xfr_in_take_adopted(struct xfr_in *x, char ***origins);

/* Whether the secondary zone origin (lowercase wire) is expired now: 1,
 * 0, or -1 when it is not one of ours. Any thread. */
int xfr_in_expired(struct xfr_in *x, const uint8_t *origin, size_t origin_len);

/* Stops the thread (a refresh under way ends first): the changed
 * callback is not called any more; NOTIFYs are still answered (no refresh
 * follows). For the owner's thread, once. */
void xfr_in_halt(struct xfr_in *x);

/* Halts and frees x; no thread may call xfr_in_notify any more. */
void xfr_in_stop(struct xfr_in *x);

#endif

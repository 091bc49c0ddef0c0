/*
 * xfr_in_int.h -- what the secondary thread (xfr_in.c) and one refresh
 * (xfr_in_refresh.c) share: a secondary zone's state.
 *
 * A refresh works on a copy of the zone's state made under the thread's
 * lock, and the thread takes back what it learnt (xfr_in.c), so that a
 * reload may change the zone list meanwhile and no refresh ever waits for
 * another.
 */
#ifndef GTM_XFR_XFR_IN_INT_H
#define GTM_XFR_XFR_IN_INT_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <time.h>

#include "dns/tsig.h"
#include "xfr/xfr_in_params.h"

#define XFR_IN_MIN_WAIT 2      /* seconds: the shortest refresh we honour (as Knot's default) */
#define XFR_IN_BACKOFF_FIRST 2 /* seconds: the first retry after a failure, doubled each time */
#define XFR_IN_BACKOFF_CAP 300 /* seconds: the longest retry without a copy (no SOA retry yet) */

struct xfr_in_zone {
    char origin_str[256];
    uint8_t origin[255];
    uint8_t origin_len;
    char file[4096];
    struct xfr_in_params primary; /* key not used: see key below */
    bool has_key;
    struct tsig_key key; /* a copy; its id is NULL */
    bool have;           /* a copy exists */
    uint32_t serial, refresh, retry, expire;
    double refreshed; /* wall clock of the last successful refresh (the copy's mtime) */
    bool expired;     /* said so (event=zone_expired) and not refreshed since */
    unsigned fails;   /* refreshes failed in a row: the backoff */
    time_t next;      /* wall clock of the next check */
    bool notified;    /* check now */
    bool busy;        /* being refreshed (on a thread of its own) */
    bool gone;        /* removed by a reload while busy */
};

/* What one refresh came to. */
enum xfr_in_outcome {
    XFR_IN_CURRENT, /* our copy is the primary's: refreshed */
    XFR_IN_ADOPTED, /* a transfer brought a new copy, written */
    XFR_IN_FAILED,  /* no primary answered, or every one answered an error */
    XFR_IN_REFUSED, /* a transfer came and was refused (what and why logged) */
};

/* Reads the copy's serial, SOA timers and modification time into z (have
 * = false without a copy that reads as a zone). */
void xfr_in_read_copy(struct xfr_in_zone *z);

/* One refresh of z against its primaries in order (blocking, with the
 * primaries' timeouts; gives up when *stop is set). Logs a new copy;
 * FAILED and REFUSED come with why (the caller logs it with the retry). */
enum xfr_in_outcome xfr_in_refresh(struct xfr_in_zone *z, const atomic_bool *stop, char *why,
                                   size_t whylen);

#endif

/*
 * xfr_store.h -- a secondary zone's local copy: reading it, turning what a
 * transfer brought (AXFR form, or IXFR differences applied to the copy)
 * into the new zone, and writing it atomically as a master file that the
 * loader reads like any zone file.
 *
 * Ownership: returned lists are the caller's (ldns_rr_list_deep_free).
 */
#ifndef GTM_XFR_XFR_STORE_H
#define GTM_XFR_XFR_STORE_H

#include <ldns/ldns.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* The records of the copy at path (NULL when it is missing or broken). */
ldns_rr_list *xfr_store_read(const char *path, const uint8_t *origin, size_t origin_len);

/* The SOA of list (its first SOA record), or NULL. */
const ldns_rr *xfr_store_soa(const ldns_rr_list *list);

/*
 * The zone a transfer brings, from what it received (got: the answer
 * records in order) and the current copy (cur, may be NULL): NULL with why
 * when got is neither a whole zone nor differences that apply to cur.
 * *current is set when got says the copy is current (a lone SOA).
 */
ldns_rr_list *xfr_store_result(const ldns_rr_list *got, const ldns_rr_list *cur, bool *current,
                               char *why, size_t whylen);

/* Writes list to path (a temporary file, fsync, rename); with origin
 * (presentation form) the temporary file must first load as that zone
 * with gtmd's loader (xfr_check_loads), else path is left as it was.
 * Returns 0, or with why XFR_STORE_UNWRITTEN (the file system said no)
 * or XFR_STORE_UNLOADABLE (the zone does not load). */
#define XFR_STORE_UNWRITTEN (-1)
#define XFR_STORE_UNLOADABLE (-2)
int xfr_store_write(const char *path, const ldns_rr_list *list, const char *origin, char *why,
                    size_t whylen);

/* RFC 1982: true when serial a is older than b. */
bool xfr_serial_lt(uint32_t a, uint32_t b);

#endif

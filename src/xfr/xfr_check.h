/*
 * xfr_check.h -- what a secondary checks of a transfer before it writes or
 * adopts anything (RFC 5936 §2.2, RFC 1995): the records it brought, the
 * zone they make, and that gtmd's own loader takes that zone. A transfer
 * that fails any check is refused whole: the copy on disk, and so what is
 * served, stays the last good one.
 *
 * Pure functions of their arguments (xfr_check_loads reads the file it is
 * given); called from the secondary thread.
 */
#ifndef GTM_XFR_XFR_CHECK_H
#define GTM_XFR_XFR_CHECK_H

#include <ldns/ldns.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Every record of got (a transfer's answer records, in order) of class IN
 * and at or below origin (lowercase wire), the first a SOA at origin.
 * False with why (the first record that is not). */
bool xfr_check_records(const ldns_rr_list *got, const uint8_t *origin, size_t origin_len, char *why,
                       size_t whylen);

/* The zone a transfer makes has exactly one SOA, at origin, of the serial
 * the transfer announced (its first record's). False with why. */
bool xfr_check_zone(const ldns_rr_list *zone, const uint8_t *origin, size_t origin_len,
                    uint32_t serial, char *why, size_t whylen);

/* Whether the master file at path loads as zone origin (presentation
 * form) with gtmd's loader (zone_load.h), as the served set will load it;
 * false with the loader's first error (naming display as the file). */
bool xfr_check_loads(const char *path, const char *display, const char *origin, char *why,
                     size_t whylen);

#endif

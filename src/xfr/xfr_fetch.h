/*
 * xfr_fetch.h -- what a secondary asks its primary: the zone's SOA serial
 * (over UDP, TCP when truncated) and a zone transfer over TCP (IXFR with
 * our SOA when we have a copy, else AXFR), each signed with the zone's
 * TSIG key when it has one, every message of the reply checked.
 *
 * Blocking, with deadlines: called from the secondary thread only.
 * Ownership: *rrs is the caller's (ldns_rr_list_deep_free).
 */
#ifndef GTM_XFR_XFR_FETCH_H
#define GTM_XFR_XFR_FETCH_H

#include <ldns/ldns.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "dns/tsig.h"

#define XFR_FETCH_TIMEOUT_MS 5000     /* one exchange, or one message of a transfer */
#define XFR_FETCH_TOTAL_MS 300000     /* a whole transfer */
#define XFR_FETCH_MAX_RECORDS 5000000 /* records one transfer may bring */

struct xfr_server {
    const struct sockaddr_storage *addr;
    socklen_t len;
    const struct tsig_key *key; /* NULL: unsigned */
};

/* The serial of the primary's SOA for origin (lowercase wire); false with
 * the reason in why. */
bool xfr_fetch_soa(const struct xfr_server *srv, const uint8_t *origin, size_t origin_len,
                   uint32_t *serial, char *why, size_t whylen);

/* A transfer of origin: IXFR from our_soa (NULL: AXFR). *rrs gets every
 * record of the answer sections, in order, TSIG records left out. False
 * with the reason in why. */
bool xfr_fetch_transfer(const struct xfr_server *srv, const uint8_t *origin, size_t origin_len,
                        const ldns_rr *our_soa, ldns_rr_list **rrs, char *why, size_t whylen);

/* The serial of a SOA record. */
uint32_t xfr_soa_serial(const ldns_rr *soa);

#endif

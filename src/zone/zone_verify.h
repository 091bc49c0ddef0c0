/*
 * zone_verify.h -- checks a signed zone the way ldns-verify-zone and
 * kzonecheck do, for 'gtmd check' and for every load and reload.
 *
 * Errors (the zone is not loaded; a reload keeps the old set serving):
 * DNSSEC records without a DNSKEY at the apex or an unsigned SOA; an
 * authoritative RRset without an RRSIG; a signature that does not verify
 * with the apex DNSKEYs (ldns does the cryptography), has expired or is not
 * yet valid, where the RRset has no other good one; no NSEC/NSEC3 chain,
 * a broken chain (next owner or hash, type bitmaps, names without their
 * record, records of no name), NSEC3PARAM missing or matching no chain.
 * Warnings (logged, printed by check): the earliest expiry of the zone's
 * good signatures falls within params->expiry_warning seconds.
 *
 * A zone without any DNSSEC record is not looked at. Messages are
 * "FILE: zone ORIGIN: ..."; each kind of problem is reported for the first
 * few RRsets, then counted.
 */
#ifndef GTM_ZONE_ZONE_VERIFY_H
#define GTM_ZONE_ZONE_VERIFY_H

#include <stdint.h>

#include "common/errlist.h"
#include "zone/zone.h"
#include "zone/zone_params.h"

/* now: seconds since the epoch (RRSIG times are compared modulo 2^32).
 * Returns the number of errors added. */
size_t zone_verify(const struct zone *z, const struct zone_dnssec_params *p, uint32_t now,
                   struct errlist *errs, struct errlist *warns);

#endif

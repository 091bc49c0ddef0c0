/*
 * zone_sign.h -- signs an unsigned zone at load with the configured keys
 * (zone_params.h "dnssec": {"keys": ...}). ldns does the cryptography and
 * the NSEC/NSEC3 chain; zone_load_signed() hands the result to the same
 * builder a pre-signed file goes through, so serving and zone_verify()
 * see no difference.
 *
 * Keys: BIND/ldns files, base.key (the DNSKEY) and base.private beside it.
 * KSK and ZSK are told apart by the DNSKEY flags (257 = SEP = KSK): when
 * both kinds are given, KSKs sign the DNSKEY RRset only.
 * Algorithms 8 (RSASHA256), 13 (ECDSAP256SHA256) and 15 (ED25519).
 *
 * Ownership: zone_sign_keys_load returns a key list the caller frees with
 * ldns_key_list_free (deep); the DNSKEY records go to dnskeys, owned by
 * the caller's list.
 */
#ifndef GTM_ZONE_ZONE_SIGN_H
#define GTM_ZONE_ZONE_SIGN_H

#include <ldns/ldns.h>
#include <stdint.h>

#include "common/errlist.h"
#include "zone/zone_params.h"

/* Reads and checks every key of sp for the zone at origin; signatures
 * made with them are valid from now - 1 hour (clock skew) to
 * now + sp->validity. NULL (with messages naming the config's JSON path)
 * when any key is missing, unreadable, for another zone, of an algorithm
 * gtmd does not sign with, or when .key and .private do not match.
 * A key marked publish_only gives its DNSKEY to dnskeys but is not in
 * the list (it signs nothing); a key marked sign_only is in the list but
 * its DNSKEY is not given to dnskeys (an algorithm rollover's RRSIGs
 * before or after its DNSKEY). A key marked cds (with sp->cds_digest set)
 * gives its CDNSKEY and CDS to dnskeys too. */
ldns_key_list *zone_sign_keys_load(const struct zone_sign_params *sp, const ldns_rdf *origin,
                                   uint32_t now, ldns_rr_list *dnskeys, struct errlist *errs);

/* CDNSKEY and CDS (digest sp->cds_digest) records of pub, a DNSKEY, into
 * out (which owns them); false when the digest cannot be made. */
bool zone_sign_cds(const struct zone_sign_params *sp, const ldns_rr *pub, ldns_rr_list *out);

/* The DNSKEY records of sp's keys (their .key files) but the sign_only
 * ones, which signing adds to the zone; NULL with a message when one cannot be read. The caller
 * frees the list (ldns_rr_list_deep_free). */
ldns_rr_list *zone_sign_public_keys(const struct zone_sign_params *sp, struct errlist *errs);

/* Signs dz (which holds the zone's records and the DNSKEYs) with keys:
 * RRSIGs, the NSEC or NSEC3 chain (and NSEC3PARAM). Every record ldns
 * adds is also pushed to new_rrs (not owned by it: dz owns them).
 * false with a message naming display on failure. */
bool zone_sign_run(ldns_dnssec_zone *dz, ldns_key_list *keys, const struct zone_sign_params *sp,
                   ldns_rr_list *new_rrs, const char *display, struct errlist *errs);

#endif

/*
 * zone_update.h -- RFC 2136 dynamic updates applied to the records of a
 * compiled zone: the prerequisites (§2.4, §3.2), the rules of the
 * request's key (zone_update_params.h), the changes (§3.4) and the SOA
 * serial, all against one zone as it is served. Pure: nothing is
 * published, written or logged here; the daemon's updater (one thread,
 * one update at a time) builds, signs and publishes the result.
 *
 * All or nothing: the result is the whole new record list, or an rcode
 * and no list; the zone itself is never changed.
 *
 * Ownership: *out (an ldns_rr_list with its records) belongs to the
 * caller (ldns_rr_list_deep_free).
 */
#ifndef GTM_ZONE_ZONE_UPDATE_H
#define GTM_ZONE_ZONE_UPDATE_H

#include <ldns/ldns.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "dns/tsig.h"
#include "zone/zone.h"
#include "zone/zone_update_params.h"

/* Most records one update may carry in its prerequisite and update
 * sections together (BIND and Knot have no such limit; a 64 KiB TCP
 * message holds a few thousand): beyond it, REFUSED. */
#define ZONE_UPDATE_MAX_RRS 1000

struct zone_update_out {
    ldns_rr_list *rrs; /* the zone's records after the update (owned), NULL unless changed */
    uint32_t old_serial, new_serial;
    unsigned added, deleted; /* records */
    char why[256];           /* for the log when the rcode is not NOERROR */
};

/*
 * Applies the UPDATE message msg[0..len) (its TSIG verified with key by
 * the caller) to z with the rules pol. signer_keys: gtmd signs z at load
 * with keys whose DNSKEYs these are, so the records signing makes (those
 * DNSKEYs, RRSIG, NSEC, NSEC3, NSEC3PARAM) are left out of out->rrs
 * (signing makes them again; other DNSKEYs of the file stay); NULL: gtmd
 * does not sign z, and a zone with DNSSEC records is refused. Returns the
 * rcode: NOERROR (out->rrs NULL when nothing changed: no new serial),
 * FORMERR, NOTZONE, REFUSED, NXDOMAIN, YXDOMAIN, NXRRSET, YXRRSET
 * (out->why says why). An update never changes what a policy name
 * answers: REFUSED for a record owned by one, and for a DNAME or a
 * delegation (NS below the apex) added above one.
 */
uint16_t zone_update_apply(const struct zone *z, const struct zone_update_policy *pol,
                           const struct tsig_key *key, const uint8_t *msg, size_t len,
                           const ldns_rr_list *signer_keys, struct zone_update_out *out);

/*
 * The same in two steps, so that the daemon does what needs no zone data
 * before it takes the reload lock (server_update.c), and holds the lock
 * only for what does:
 *
 * zone_update_prepare reads msg[0..len) for the zone named origin
 * (uncompressed wire: the zone section's name) and checks what needs no
 * zone: the record cap (REFUSED), the form of every prerequisite (§3.2:
 * FORMERR, NOTZONE) and of every update record (§3.4.1.2: FORMERR, meta
 * and reserved types included; NOTZONE), and sorts the prerequisites into
 * groups of one owner and type. O(n log n) in the records. NOERROR with
 * *req set (the caller frees it: zone_update_req_free), else the rcode,
 * out->why and *req NULL.
 *
 * zone_update_run applies req to z (the zone named origin): the key's
 * rules first (REFUSED), then the prerequisites against the zone's
 * records (one pass over them: O(zone · log n)), the update section
 * against the zone (policy names: REFUSED), the changes; as
 * zone_update_apply.
 */
struct zone_update_req;
uint16_t zone_update_prepare(const uint8_t *origin, size_t origin_len, const uint8_t *msg,
                             size_t len, struct zone_update_req **req, struct zone_update_out *out);
uint16_t zone_update_run(const struct zone *z, const struct zone_update_policy *pol,
                         const struct tsig_key *key, struct zone_update_req *req,
                         const ldns_rr_list *signer_keys, struct zone_update_out *out);
void zone_update_req_free(struct zone_update_req *req);

/* Writes rrs as a master file at path (the SOA first, then in canonical
 * order), flushed and synced; false with the reason in why. */
bool zone_update_write(const ldns_rr_list *rrs, const char *path, char *why, size_t whylen);

#endif

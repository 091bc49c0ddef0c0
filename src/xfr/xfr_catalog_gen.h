/*
 * xfr_catalog_gen.h -- catalog zones (RFC 9432, schema version 2) as a
 * producer: a zone entry with "generate_catalog" is not read from a file
 * but made by gtmd at every load, listing gtmd's other zones, so that
 * Knot, BIND and gtmd secondaries pick them up (and drop them) without a
 * change of their own configuration.
 *
 * The zone, as Knot's generated catalogs have it:
 *
 *   CATALOG.              0 SOA invalid. invalid. SERIAL 3600 600 2419200 0
 *   CATALOG.              0 NS  invalid.
 *   version.CATALOG.      0 TXT "2"
 *   ID.zones.CATALOG.     0 PTR MEMBER.          (one per member)
 *
 * ID, the member's unique label (RFC 9432 §4.1), is the first 16 hex
 * digits of the SHA-256 of the member's lowercase name: the same member
 * keeps its ID across reloads, restarts and fleet nodes, and a zone
 * removed and added back gets it again (a consumer then sees no change of
 * owner; RFC 9432 §5.4 asks for a new ID only to reset a member, which
 * gtmd never needs). SERIAL moves only when the list changes
 * (xfr_catalog_serial), so a reload that changes nothing sends no NOTIFY
 * and no transfer.
 *
 * Ownership: xfr_catalog_text returns a malloc'ed string (free); members
 * are the caller's.
 */
#ifndef GTM_XFR_XFR_CATALOG_GEN_H
#define GTM_XFR_XFR_CATALOG_GEN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* The master-file text of catalog origin (absolute, presentation form)
 * listing members (absolute presentation forms, any order, no
 * duplicates) at serial. */
char *xfr_catalog_text(const char *origin, char *const *members, size_t n, uint32_t serial);

/* A digest of the member set, whatever the order and case of members. */
uint64_t xfr_catalog_digest(char *const *members, size_t n);

/* The serial of a catalog whose member set has digest `digest` now:
 * prev_serial when the previous version (had_prev) had the same digest,
 * else the larger of prev_serial + 1 and `now` (seconds since 1970), so
 * that serials grow across restarts too (RFC 1982 arithmetic). */
uint32_t xfr_catalog_serial(bool had_prev, uint64_t prev_digest, uint32_t prev_serial,
                            uint64_t digest, uint32_t now);

#endif

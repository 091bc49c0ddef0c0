/*
 * zone_load.h -- reads an RFC 1035 master file with ldns into a zone.
 *
 * Handles $ORIGIN, $TTL, $INCLUDE (relative to the including file, nested up
 * to 8 deep), relative names, every type ldns knows and RFC 3597 generic
 * syntax. Every problem found is appended to errs as "file:line: message";
 * loading continues past bad lines so that one run reports them all.
 *
 * Ownership: the returned zone belongs to the caller (zone_free).
 */
#ifndef GTM_ZONE_ZONE_LOAD_H
#define GTM_ZONE_ZONE_LOAD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/errlist.h"
#include "zone/zone.h"

/* origin: presentation form; path: file to open; display: name used in
 * messages (usually the path as written in the config). NULL on error. */
struct dns_name;
/* extra: names (inside the zone) that must exist even without records. */
struct zone *zone_load(const char *origin, const char *path, const char *display,
                       const struct dns_name *extra, size_t n_extra, struct errlist *errs);

/* Like zone_load; with sp and sp->n_keys > 0 the file must be unsigned
 * and gtmd signs it with sp's keys (zone_sign.h) before building. Then
 * extra_flags (may be NULL) gives each extra name the types a policy
 * record answers there (ZONE_NODE_POLICY_*): the NSEC/NSEC3 chain covers
 * the name with those types in its bitmap (signing sees a placeholder
 * RRset of each, left out of the zone with its RRSIGs), and the zone
 * keeps the keys to sign the policy answers (zone.policy_keys). */
struct zone_sign_params;
/* A name a zone must hold without records of its own (a policy name) and
 * the types a policy answers there: 16 bytes, its wire form borrowed (the
 * policy table's). As a struct dns_name (385 bytes) each, 1,000,000
 * policy names were a 385 MB buffer at every start (issue #55). */
struct zone_extra {
    const uint8_t *wire; /* borrowed: lives through the load */
    uint16_t flags;      /* ZONE_NODE_POLICY_* (0: none) */
    uint8_t len;
};
/* zone_load_signed with the names and their flags as zone_extra. */
struct zone *zone_load_extra(const char *origin, const char *path, const char *display,
                             const struct zone_extra *extra, size_t n_extra,
                             const struct zone_sign_params *sp, struct errlist *errs);
struct zone *zone_load_signed(const char *origin, const char *path, const char *display,
                              const struct dns_name *extra, const uint16_t *extra_flags,
                              size_t n_extra, const struct zone_sign_params *sp,
                              struct errlist *errs);

/* A zone from master-file text in memory (a zone gtmd generates, such as
 * the catalog of its zones: xfr_catalog_gen.h); display names it in
 * messages. No $INCLUDE (it names no file to be relative to), no signing.
 * NULL on error, with every problem in errs. */
/* zone_load with the parser chosen: fast false reads every record with
 * ldns alone, the reference the fast scanner (zone_fast.h) is tested
 * against (tests/unit/test_zone_fast.c, tests/fuzz/fuzz_zone.c). */
struct zone *zone_load_parser(const char *origin, const char *path, const char *display,
                              const struct dns_name *extra, size_t n_extra, bool fast,
                              struct errlist *errs);

struct zone *zone_load_text(const char *origin, const char *text, const char *display,
                            struct errlist *errs);

#endif

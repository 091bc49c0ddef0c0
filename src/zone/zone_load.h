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

#include <stddef.h>

#include "common/errlist.h"
#include "zone/zone.h"

/* origin: presentation form; path: file to open; display: name used in
 * messages (usually the path as written in the config). NULL on error. */
struct dns_name;
/* extra: names (inside the zone) that must exist even without records. */
struct zone *zone_load(const char *origin, const char *path, const char *display,
                       const struct dns_name *extra, size_t n_extra, struct errlist *errs);

/* Like zone_load; with sp and sp->n_keys > 0 the file must be unsigned
 * and gtmd signs it with sp's keys (zone_sign.h) before building. */
struct zone_sign_params;
struct zone *zone_load_signed(const char *origin, const char *path, const char *display,
                              const struct dns_name *extra, size_t n_extra,
                              const struct zone_sign_params *sp, struct errlist *errs);

#endif

/*
 * load_catalog.h -- the catalog gtmd generates (xfr_catalog_gen.h) as a
 * zone of a set (load.c), and its copy on disk.
 *
 * The serial moves only when the member list does. Across reloads the
 * previous version is the running set's zone; across restarts it is the
 * copy at the zone entry's "file" (when it has one): written whenever the
 * serial changes, after the set is built and before it is published (never
 * by `gtmd check`), and read at start. So a restart with the same list
 * keeps the serial (secondaries transfer nothing, the IXFR journal goes
 * on), and one with another list takes old + 1 (or the clock, if ahead),
 * its journal entry made from the copy: an IXFR from the serial before
 * the restart gets only what changed. Without "file", a start takes the
 * clock (a new serial at every restart).
 *
 * Ownership: the zones returned are the caller's (zone_free).
 */
#ifndef GTM_DAEMON_LOAD_CATALOG_H
#define GTM_DAEMON_LOAD_CATALOG_H

#include "common/errlist.h"
#include "control/config.h"

struct zone;

/* The catalog of generated zone entry cz, its serial from old (the
 * running set's version, NULL at start: then the copy on disk's). NULL
 * with errors in errs. */
struct zone *load_catalog_make(const struct config_zone *cz, const struct zone *old,
                               struct errlist *errs);

/* The version on disk as a zone (for the journal at start), or NULL. */
struct zone *load_catalog_previous(const struct config_zone *cz);

/* Writes now to cz's "file" when its serial is not old's (NULL at start);
 * a failure is logged (the next start then takes the clock). */
void load_catalog_keep(const struct config_zone *cz, const struct zone *old,
                       const struct zone *now);

#endif

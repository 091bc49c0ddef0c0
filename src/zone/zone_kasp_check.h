/*
 * zone_kasp_check.h -- what `gtmd check` says of a zone's key store
 * ("dnssec": {"policy": P, "key_directory": DIR}, zone_kasp_store.h)
 * without changing it: the directory's permissions, the state file, each
 * key's files (present, parsable, a matching pair, of the zone, written
 * 0600) and each key's algorithm against the policy's outside an
 * algorithm rollover (zone_kasp_algroll.h). Errors and warnings name the
 * file. Nothing is created or written (the daemon makes a missing
 * directory and the first keys at its start).
 *
 * Ownership: the messages go to the caller's lists.
 */
#ifndef GTM_ZONE_KASP_CHECK_H
#define GTM_ZONE_KASP_CHECK_H

#include <stdint.h>

#include "common/errlist.h"
#include "zone/zone_kasp.h"

/* Checks the key store dir of zone origin under policy p at now. */
void zone_kasp_check_store(const char *dir, const char *origin, const struct zone_kasp_policy *p,
                           int64_t now, struct errlist *errs, struct errlist *warns);

#endif

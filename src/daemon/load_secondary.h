/*
 * load_secondary.h -- what the loader does differently for secondary
 * zones (a zone entry with "primary", xfr_in.h): their copy is gtmd's, not
 * the operator's, so a copy that does not load, a signature that does not
 * verify or a policy record its data now conflicts with is that zone's
 * problem alone. It never fails a start, a reload or a re-sign, nor keeps
 * another zone from being served: a copy that does not load is set aside
 * (renamed FILE.broken-TIMESTAMP, said in the log) and transferred anew;
 * the rest are warnings.
 */
#ifndef GTM_DAEMON_LOAD_SECONDARY_H
#define GTM_DAEMON_LOAD_SECONDARY_H

#include <stdbool.h>

#include "common/errlist.h"
#include "control/config.h"
#include "zone/zone.h"

/* A secondary zone without a copy yet (its file does not exist). */
bool load_secondary_pending(const struct config_zone *cz);

/* A secondary zone whose copy was last refreshed (the file's modification
 * time, xfr_in.h) at least its SOA expire ago. */
bool load_secondary_expired(const struct config_zone *cz, const struct zone *z);

/* The copy of secondary zone cz did not load (why: the loader's errors).
 * With cfg->set_aside_broken it is renamed aside (event=zone_copy_broken)
 * and the zone is pending; else a warning says it would be. */
void load_secondary_broken(const struct config *cfg, const struct config_zone *cz,
                           const struct errlist *why, struct errlist *warns);

/* A warning about a secondary zone: into warns ('gtmd check'), or logged
 * (event=zone_warning) when warns is NULL. */
void load_secondary_warn(struct errlist *warns, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

#endif

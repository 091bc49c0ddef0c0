/*
 * load.h -- builds a snapshot (every zone of a config) beside the live one.
 *
 * Ownership: the returned snapshot belongs to the caller.
 */
#ifndef GTM_DAEMON_LOAD_H
#define GTM_DAEMON_LOAD_H

#include <stdint.h>

#include "common/errlist.h"
#include "daemon/config.h"
#include "zone/snapshot.h"

/* NULL when any zone fails; every error is in errs. */
struct snapshot *load_snapshot(const struct config *cfg, uint64_t generation, struct errlist *errs);

#endif

/*
 * persist.h -- the state file: last known endpoint states, kept across
 * restarts so that a restarted gtmd answers as it did before it stopped.
 *
 * The file is JSON: {"version": 1, "saved_at": T, "overrides": [...], "endpoints":
 * {"endpoint:POOL/NAME": {"state": "up"|"down", "since": T}}}. It is written to a
 * temporary file in the same directory, fsynced and renamed over the old
 * one, so a crash at any moment leaves either the old or the new file.
 *
 * Threads: persist_save reads the core under its lock; one writer at a
 * time (the temporary file's name is per process): in the daemon that is
 * the health service (service.h), the state file's only writer.
 * persist_load runs once at start-up, before the service and the prober.
 */
#ifndef GTM_HEALTH_PERSIST_H
#define GTM_HEALTH_PERSIST_H

#include <stddef.h>

#include "health/health.h"

/* Writes the state of every slot in use. 0 on success, -1 (logged). */
int persist_save(struct health_core *c, const char *path);

/*
 * Restores slot states from path when the file is younger than max_age
 * seconds; only slots in use are restored. Returns how many were restored
 * (0 when the file is missing, stale or unreadable; reasons are logged).
 */
size_t persist_load(struct health_core *c, const char *path, double max_age);

#endif

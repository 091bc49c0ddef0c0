/*
 * persist.h -- the state file: last known endpoint states, kept across
 * restarts so that a restarted gtmd answers as it did before it stopped.
 *
 * The file is JSON: {"version": 1, "saved_at": T, "overrides": [...], "endpoints":
 * {"endpoint:POOL/NAME": {"state": "up"|"down", "since": T}}}. It is written to a
 * temporary file in the same directory, fsynced and renamed over the old
 * one, so a crash at any moment leaves either the old or the new file.
 *
 * Other modules keep their own state in the same file as *sections*: a
 * top-level key whose value the owner produces at every write (the drills,
 * src/drill, under "drills"). The health service is still the file's only
 * writer; a section owner only hands it a JSON value (persist_section).
 *
 * Threads: persist_save reads the core under its lock; one writer at a
 * time (the temporary file's name is per process): in the daemon that is
 * the health service (service.h), the state file's only writer.
 * persist_load and persist_load_section run at start-up, before the
 * service and the prober.
 */
#ifndef GTM_HEALTH_PERSIST_H
#define GTM_HEALTH_PERSIST_H

#include <jansson.h>
#include <stddef.h>

#include "health/health.h"

/* A section of the state file owned by another module. save() returns a
 * new JSON value (owned by the caller) that is written under "name"; it is
 * called by the writer holding no lock of the core, and must not wait for
 * the writer (health_service_save) itself. */
struct persist_section {
    const char *name; /* a top-level key other than the core's own */
    json_t *(*save)(void *arg);
    void *arg;
};

/* Writes the state of every slot in use. 0 on success, -1 (logged). */
int persist_save(struct health_core *c, const char *path);
/* The same, plus the n sections (each save() called once). */
int persist_save_sections(struct health_core *c, const char *path,
                          const struct persist_section *secs, size_t n);

/* The value of the top-level key name in the state file at path (a new
 * reference), or NULL when the file, or the key, is missing or unreadable
 * (persist_load logs the file's problems). */
json_t *persist_load_section(const char *path, const char *name);

/*
 * Restores slot states from path when the file is younger than max_age
 * seconds; only slots in use are restored. Returns how many were restored
 * (0 when the file is missing, stale or unreadable; reasons are logged).
 */
size_t persist_load(struct health_core *c, const char *path, double max_age);

#endif

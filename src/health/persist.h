/*
 * persist.h -- the state file: last known endpoint states and the
 * operators' overrides, kept across restarts so that a restarted gtmd
 * answers as it did before it stopped.
 *
 * The file is JSON: {"version": 1, "saved_at": T, "next_override_id": N,
 * "overrides": [...], "endpoints": {"endpoint:POOL/NAME": {"state":
 * "up"|"down", "since": T}}}. It is written to a new temporary file in the
 * same directory (a random name, created with O_EXCL|O_NOFOLLOW and mode
 * 0600, so nothing planted there is followed or overwritten), fsynced and
 * renamed over the old one, so a crash at any moment leaves either the old
 * or the new file.
 *
 * Loading checks every entry with the rules the admin API applies
 * (override.h). A file that cannot be read as a state file, or that holds
 * entries that fail those rules, is kept aside as STATE.corrupt-TIMESTAMP
 * (never overwritten), what did validate is restored, the override id
 * counter is raised past every id the lost file could have held, and a
 * fresh file is written at once.
 *
 * Threads: persist_save reads the core under its lock; one writer at a
 * time: in the daemon that is the health service (service.h), the state
 * file's only writer. persist_load runs once at start-up, before the
 * service and the prober.
 */
#ifndef GTM_HEALTH_PERSIST_H
#define GTM_HEALTH_PERSIST_H

#include <limits.h>
#include <stddef.h>

#include "health/health.h"

/* Writes the state of every slot in use and every override. 0 on success,
 * -1 (logged; the reason also in err when err is not NULL). */
int persist_save(struct health_core *c, const char *path, char *err, size_t errlen);

enum persist_status {
    PERSIST_MISSING = 0, /* no file: nothing restored */
    PERSIST_OK,          /* endpoint states and overrides restored */
    PERSIST_STALE,       /* older than max_age: overrides restored, states not */
    PERSIST_CORRUPT,     /* not a state file: kept aside, nothing restored */
};

struct persist_result {
    enum persist_status status;
    size_t endpoints;       /* endpoint states restored */
    size_t overrides;       /* overrides restored */
    size_t rejected;        /* entries that failed validation (dropped) */
    double age;             /* seconds since saved_at; -1 when unknown */
    char kept_as[PATH_MAX]; /* where the bad file was kept; "" if it was not */
    char error[512];        /* what was wrong; "" when nothing */
};

/* Human-readable name of a status ("missing", "ok", "stale", "corrupt"). */
const char *persist_status_name(enum persist_status s);

/*
 * Restores overrides (whatever the age of the file) and, when the file is
 * younger than max_age seconds, the states of the slots in use. Fills res.
 * Returns 0, or -1 when gtmd must not start (res->error says why): the
 * file holds more valid overrides than max_overrides (it is refused, not
 * cut short), or a bad file could not be kept aside and replaced.
 */
int persist_load(struct health_core *c, const char *path, double max_age,
                 struct persist_result *res);

#endif

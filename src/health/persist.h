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
 * Other modules keep their own state in the same file as *sections*: a
 * top-level key whose value the owner produces at every write (the drills,
 * src/drill, under "drills"). The health service is still the file's only
 * writer; a section owner only hands it a JSON value (persist_section).
 *
 * Threads: persist_save reads the core under its lock; one writer at a
 * time: in the daemon that is the health service (service.h), the state
 * file's only writer. persist_load and persist_load_section run at
 * start-up, before the
 * service and the prober.
 */
#ifndef GTM_HEALTH_PERSIST_H
#define GTM_HEALTH_PERSIST_H

#include <jansson.h>
#include <limits.h>
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

/* Writes the state of every slot in use and every override. 0 on success,
 * -1 (logged; the reason also in err when err is not NULL). */
int persist_save(struct health_core *c, const char *path, char *err, size_t errlen);
/* The same, plus the n sections (each save() called once). */
int persist_save_sections(struct health_core *c, const char *path,
                          const struct persist_section *secs, size_t n, char *err, size_t errlen);

/* The value of the top-level key name in the state file at path (a new
 * reference), or NULL when the file, or the key, is missing or unreadable
 * (persist_load logs the file's problems). */
json_t *persist_load_section(const char *path, const char *name);

/* How many overrides a start would restore from the state file at path
 * (valid, unexpired), without restoring or logging anything: gtmd check
 * compares it with max_overrides. -1 when the file cannot be read or has
 * no overrides array (n = 0). */
int persist_count_overrides(const char *path, size_t *n);

enum persist_status {
    PERSIST_MISSING = 0, /* no file: nothing restored */
    PERSIST_OK,          /* endpoint states and overrides restored */
    PERSIST_STALE,       /* older than max_age: overrides restored, states not */
    PERSIST_CORRUPT,     /* not a state file: kept aside, nothing restored */
    PERSIST_NEWER,       /* of a format this release does not read: refused, left as it is */
};

/* The state file's format ("version"): this release writes
 * PERSIST_FORMAT, the format of the release before too (a file without
 * "version" is of that format); it reads up to PERSIST_FORMAT_READ_MAX (the
 * next release's, fields not known here ignored) and refuses a newer one
 * (doc/fleet.md, "Upgrading: version skew"). */
#define PERSIST_FORMAT 1
#define PERSIST_FORMAT_READ_MAX 2

struct persist_result {
    enum persist_status status;
    size_t endpoints;       /* endpoint states restored */
    size_t overrides;       /* overrides restored */
    size_t over_max;        /* of those, beyond max_overrides (all kept) */
    size_t rejected;        /* entries that failed validation (dropped) */
    double age;             /* seconds since saved_at; -1 when unknown */
    char kept_as[PATH_MAX]; /* where the bad file was kept; "" if it was not */
    char error[512];        /* what was wrong; "" when nothing */
};

/* Human-readable name of a status ("missing", "ok", "stale", "corrupt",
 * "newer"). */
const char *persist_status_name(enum persist_status s);

/* persist_load flags. READONLY: a reader that is not the file's writer (the
 * offline "gtmd drill" reading a running server's file): a bad file is
 * reported in res but neither kept aside nor replaced, leftover temporary
 * files are left alone, and the id counter is not raised. */
#define PERSIST_LOAD_READONLY 1u

/*
 * Restores overrides (whatever the age of the file) and, when the file is
 * younger than max_age seconds, the states of the slots in use. Fills res.
 * Returns 0, or -1 when gtmd must not start (res->error says why): the
 * file holds more valid overrides than HEALTH_MAX_OVERRIDES_LIMIT (no gtmd
 * wrote it; it is refused, not cut short), or a bad file could not be kept
 * aside and replaced. More than max_overrides, up to that limit, are all
 * restored (res->over_max, logged): a reload may have lowered the cap. The
 * fresh file written after a bad one keeps the file's other sections (top-
 * level keys the core does not own) as they were. flags: 0 or
 * PERSIST_LOAD_READONLY.
 */
int persist_load(struct health_core *c, const char *path, double max_age, unsigned flags,
                 struct persist_result *res);

#endif

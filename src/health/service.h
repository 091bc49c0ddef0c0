/*
 * service.h -- the health service: the one owner of override expiry and
 * of the state file.
 *
 * It runs on its own thread (the health thread) with its own libevent
 * base, so that neither the prober's timing nor the admin API ever waits
 * on a disk:
 *
 *  - one timer for override expiry, armed at override_next_expiry() and
 *    re-armed whenever the overrides change (the core's overrides_changed
 *    hook), so an override ends on time whether or not the admin API runs;
 *  - the only writer of the state file (persist_save, with the sections
 *    other modules own, given at the start: the drills): after probe state
 *    changes (the core's state_changed hook; changes that arrive before
 *    the thread gets to them cause one write), after an expiry, every
 *    HEALTH_SERVICE_REFRESH_S seconds (so the file's age says how fresh
 *    its states are), on request (health_service_save, which waits for
 *    the write), and once more when it stops.
 *
 * Threads: start and stop from the main thread; set_state_file and save
 * from any thread but the health thread itself.
 *
 * Ownership: health_service_start() returns an object that
 * health_service_stop() frees; the core must outlive it. The service
 * installs the core's hooks when it starts and removes them when it
 * stops, so start it before the prober and admin threads and stop it
 * after them (the last write then holds their last changes).
 */
#ifndef GTM_HEALTH_SERVICE_H
#define GTM_HEALTH_SERVICE_H

#include <jansson.h>
#include <stdint.h>

#include "health/health.h"
#include "health/persist.h"

#define HEALTH_SERVICE_REFRESH_S 30 /* seconds between unconditional writes */
#define HEALTH_SERVICE_MAX_SECTIONS 4

struct health_service;

/* Starts the health thread. Overrides already in the core (restored from
 * the state file) get their expiry timer at once. Aborts when the thread
 * or its event base cannot be created. */
struct health_service *health_service_start(struct health_core *core);
/* The same, with the state file's sections (persist.h; copied, at most
 * HEALTH_SERVICE_MAX_SECTIONS) in place before the first write. */
struct health_service *health_service_start_sections(struct health_core *core,
                                                     const struct persist_section *secs, size_t n);

/* Sets the state file path (copied); NULL or "" for none. A reload calls
 * it with the new configuration's path; the next write uses it. */
void health_service_set_state_file(struct health_service *svc, const char *path);

/*
 * Sets the function the health thread calls after the health state
 * changed (a probe transition, an override added, removed or expired, a
 * drill byte set or cleared) or
 * when health_service_kick() asks; NULL for none. Changes that arrive
 * before the thread gets to them cause one call. Upper layers use it to
 * recompute what depends on the state off the query path (widened ECS
 * scopes, policy_geo.h); the call runs before the state file is written.
 * fn must not call back into the service; it may take a while (it delays
 * the state file and expiry, never the query path).
 */
void health_service_set_listener(struct health_service *svc, void (*fn)(void *), void *arg);

/* Has the health thread call the listener soon (from any thread; svc may
 * be NULL). A reload uses it after publishing a new set. */
void health_service_kick(struct health_service *svc);

/*
 * Asks the health thread to write the state file and waits until a write
 * that began after the call has finished, so everything changed before
 * the call is on disk (fsynced) when it returns. Returns 0 when written,
 * 1 when there is no state file, -1 when the write failed (logged) or the
 * service has stopped.
 */
int health_service_save(struct health_service *svc);

/*
 * The same without waiting, for a thread that answers later (the admin
 * thread: POSTs that arrive while a write runs share the next write).
 * Returns the request's number; the write covering it is done once
 * health_service_saved() returns at least that number. Returns 0 when the
 * service has stopped (no write will come).
 */
uint64_t health_service_save_async(struct health_service *svc);

/* The number of the newest request whose write has finished, and that
 * write's result in *rc (0 written, 1 no state file, -1 failed). */
uint64_t health_service_saved(struct health_service *svc, int *rc);

/* Calls cb(arg) on the health thread after every write (NULL: none). It
 * must not block; the admin thread makes its own event active. Once this
 * returns with cb NULL, the old callback is not running and never runs. */
void health_service_set_saved_cb(struct health_service *svc, void (*cb)(void *), void *arg);

/* What the start-up restore found (copied), for the status view. */
void health_service_set_load_result(struct health_service *svc, const struct persist_result *r);

/* The state file as /v1/status shows it: path, what the start-up load
 * found (and where a bad file was kept), the last write and its result.
 * JSON null when no state file is configured. Caller owns it. */
json_t *health_service_status_json(struct health_service *svc);

/* Removes the core's hooks, writes the state file a last time on the
 * health thread, stops and joins it, and frees svc. NULL is a no-op. */
void health_service_stop(struct health_service *svc);

#endif

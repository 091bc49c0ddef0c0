/*
 * config_api_int.h -- what config_api.c (the versioned document) and
 * config_fleet.c (the fleet's configuration in etcd) share. Not for use
 * outside src/control (but by their unit test, test_control_config_fleet).
 * Functions marked (lock) need api->lock held.
 */
#ifndef GTM_CONTROL_CONFIG_API_INT_H
#define GTM_CONTROL_CONFIG_API_INT_H

#include <sys/types.h>

#include "control/config_api.h"

/* How long at most a change's copy of the document waits for the writer
 * to let the replaced one go (jsonrecycle.wait_us; the wait is also at
 * most what the copy would cost, JSONRECYCLE_NS_PER_MEMBER). The writer
 * holds it while it lists its members (jsonrecycle_detach): 26-31 ms at
 * 1,000,000 records against a copy's 390-450 ms (json_copy); 8 ms, when
 * the writer held it for a json_copy of its own, was always too short
 * there, and the change copied (issue #55). Only for the writer: another
 * holder (a GET's dump) is waited for JSONRECYCLE_WAIT_OTHER_US
 * (jsonrecycle.soon, config_store_soon). */
#define CONFIG_API_RECYCLE_WAIT_US 250000

/* Where a change's document came from (config_api_apply): the serial of
 * the document it copies and the resources it touched there (borrowed;
 * NULL: unknown). */
struct config_api_made {
    uint64_t origin;
    json_t *touched;
    json_t *changes; /* a group's: [{"author", "change"}] for the version's meta (or NULL) */
    /* An edit (config_api_edit.c) that the fleet's newer version beat to
     * etcd is made again on it rather than carried (redo_ok in; redo out:
     * nothing was applied and the reply is to be dropped). */
    bool redo_ok, redo;
};

/* config_api_apply with the lock held (and kept; dropped around the
 * reload and while etcd works). (lock) */
json_t *config_api_apply_locked(struct config_api *api, json_t *doc, uint64_t base,
                                struct config_api_made *made, uint64_t if_version,
                                const char *author, const char *change, bool dry_run,
                                const char *clients, int *status);
/* A copy of doc (the newest) to edit: new kinds' objects sharing doc's
 * members (jsonrecycle.h: the replaced version's objects when free).
 * (lock) */
json_t *config_api_cow_copy(struct config_api *api, json_t *doc);

/* The mode the configuration file has (0640 when it cannot be read). */
mode_t config_api_file_mode(const struct config_api *api);
/* Keeps doc as version v with meta ("version" and "time" are set here);
 * 0 or -1 (logged). same_as: a file that holds doc (linked, not written
 * again), or NULL. v must be newer than api->version, which becomes v.
 * (lock) */
int config_api_record_as(struct config_api *api, uint64_t v, json_t *doc, json_t *meta,
                         const char *same_as);
/* The file's document (borrowed: valid until the lock is dropped), read
 * again only when the file changed; NULL (why in je, which may be NULL)
 * when it cannot be read. (lock) */
json_t *config_api_current(struct config_api *api, json_error_t *je);
/* Whether the file is as it was when last known to be api->version, and
 * that it is now. (lock) */
bool config_api_file_known(const struct config_api *api);
/* The file's stamp now. */
struct config_api_stamp config_api_stamp_now(const struct config_api *api);
void config_api_file_is_version(struct config_api *api);
/* Makes doc (a reference is kept: not to be changed afterwards) the
 * configuration as version v (meta as for record_as): written as a
 * candidate beside the file, reloaded from it (the reload is the
 * validation: on failure nothing changes and *result is the 400 with its
 * errors), kept in the history and renamed over the file. 0, or -1 with
 * the error reply in *result; on success *result is the reload's result.
 * (lock; dropped around the reload) */
int config_api_install(struct config_api *api, json_t *doc, uint64_t v, json_t *meta,
                       json_t **result, int *status);
/* Version v's document (ext ".json") or meta (".meta.json"), or NULL. */
json_t *config_api_load_version(const struct config_api *api, uint64_t v, const char *ext);
/* Whether api's newest version is one of the fleet's (its meta says
 * "fleet"): the node has joined. (lock) */
bool config_api_on_fleet_version(const struct config_api *api);
/* NULL when doc loads as `gtmd check` loads a file, else its errors. (lock) */
json_t *config_api_check(struct config_api *api, json_t *doc);
/* Serves doc (borrowed) through the daemon's reload, which writes it as
 * the file, with the lock dropped around it (the reload takes the
 * daemon's reload lock, then config_api_note_reload). (lock) */
json_t *config_api_reload_unlocked(struct config_api *api, json_t *doc, bool *ok);
json_t *config_api_error(int *status, int st, const char *code, const char *msg);
/* delta (jsondelta_diff(base, doc)) is what the journal keeps when doc is
 * installed on base, instead of walking the two again (references taken;
 * used only while base is the newest document and doc the one served).
 * Dropped by config_api_drop_delta. (lock) */
void config_api_keep_delta(struct config_api *api, json_t *base, json_t *doc, json_t *delta);
void config_api_drop_delta(struct config_api *api);

/* config_fleet.c: a validated change (doc, borrowed) published as the
 * fleet's next version and awaited here; the reply. touched: NULL, or the
 * resources doc changes against api->doc, as jsondelta_diff_some takes
 * them (borrowed; the version's delta is then computed from them alone).
 * *retry: the fleet moved on first and the change may be carried onto
 * it. (lock; dropped while etcd and the main thread work) */
json_t *config_fleet_commit(struct config_api *api, json_t *doc, json_t *touched,
                            const char *author, const char *change, int *status, bool *retry);
/* Waits (lock) while the main thread applies a fleet version here (its
 * reload serves it, records it as the version, then keeps it as the base
 * of the next delta), at most a second. */
void config_fleet_settle(struct config_api *api);
/* The store thread, idle (config_api_warm; lock not held): the copy of
 * the fleet base that the next version's delta is applied to, made off
 * the lock and given to the fleet's recycler, so that the first version
 * after a start (or after the base was replaced whole) is not a copy of
 * every record on the main thread (0.7-1.2 s at 1,000,000 records). Once
 * per base; nothing while a version is being applied. True when a copy
 * was made and kept. */
bool config_fleet_warm(struct config_api *api);
/* Waits (lock) up to timeout_s for this node to apply the fleet's head. */
void config_fleet_catch_up(struct config_api *api, double timeout_s);
/* Whether the fleet had a version newer than seen when asked: etcd is
 * read (fleet_config_sync: a late watch cannot hide one, at most 5 s) and
 * this node catches up with it (at most 2 s). (lock; dropped meanwhile) */
bool config_fleet_newer(struct config_api *api, uint64_t seen);
/* After a reload (the file may have been edited by hand): checked on the
 * main thread. */
void config_fleet_file_changed(struct config_api *api);
/* The shared part of each of the fleet's records (in order, as
 * fleet_config.h hands them over): its whole document, or its delta
 * applied to the version before; JSON null for a version this node has
 * already and cannot build, and for one before the last keep_last (built
 * only on the way: nothing keeps it). NULL with why when a delta the node
 * needs does not fit what it has (it fetches the whole document then).
 * The caller owns the array. (lock) */
json_t *config_fleet_docs(struct config_api *api, json_t *records, size_t keep_last, char *why,
                          size_t len);

#endif

/*
 * config_store.h -- where the configuration API's versions go to disk, off
 * the path from a change to its answer:
 *
 * - the change journal, DIR/.NAME.journal beside the configuration file:
 *   one line per version, {"v", "delta", "undo", "meta"} (jsondelta.h: the
 *   delta from the version before, and the one back to it), appended and
 *   fdatasync'd before the change is answered 201. A 201 is therefore
 *   durable: start-up replays the journal over the file
 *   (config_store_recover). Lines {"file": SHA256, "upto": V} say which
 *   file text holds every version up to V; the journal is replayed only
 *   over a file it names (a file edited by hand after a crash is not
 *   overwritten: the journal is set aside as .journal.stale-TIME).
 * - a writer thread that writes the newest version as the configuration
 *   file (temporary file, fsync, rename, fsync of the directory) and into
 *   the history, coalescing every version that arrives while it writes
 *   (group commit); then, while no newer version waits, the versions it
 *   skipped, each as the whole document (rebuilt backwards from the newest
 *   with the undos), newest first. The history stays what the release
 *   before reads (config_history.h: every version a whole document);
 *   versions that leave the newest `keep` before the writer reached them
 *   are never written. Until a version is in the history it is read from
 *   memory (config_store_load), so what was answered 201 is listed and
 *   readable at once.
 * - the journal is cut down to the versions the file or the history still
 *   lack after each write, so it stays small.
 *
 * The file is replaced only when it is as this store last wrote it or as
 * the API last read it: a file edited by hand meanwhile is kept (the edit
 * wins, as a reload of it would serve it), and logged.
 *
 * Threads: config_store_commit, _record and the readers run on the admin
 * or main thread (the caller serialises commits and records: config_api's
 * lock); the writer thread is the store's own. The store never takes
 * config_api's lock nor the daemon's reload lock. Ownership: the caller of
 * config_store_new owns the store; documents, deltas and metas given are
 * referenced and never changed afterwards; json_t returned is the
 * caller's.
 */
#ifndef GTM_CONTROL_CONFIG_STORE_H
#define GTM_CONTROL_CONFIG_STORE_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "control/config_api.h"

struct config_store;

/* A store for the configuration file at path, its writer thread started;
 * NULL when the thread cannot start. */
struct config_store *config_store_new(const char *path);
/* Writes everything owed (the file and every version still in the
 * window), stops the thread, frees. */
void config_store_free(struct config_store *s);

/* The history directory (NULL: none) and how many versions to keep;
 * everything owed is written first. Versions in the journal that the
 * directory lacks (a crash came between their answer and their write)
 * are written into it, rebuilt from the file. Returns the newest version
 * the directory holds (0: none). */
uint64_t config_store_set_history(struct config_store *s, const char *dir, unsigned keep);

/* Version v (doc; delta from the version committed before and undo back
 * to it, jsondelta.h; meta with "version" and "time") made the
 * configuration: journalled and fdatasync'd here, then queued for the
 * writer. file_was: the file's stamp when the API read the document v
 * follows (the writer replaces only that file, or its own). 0, or -1 with
 * why (not durable: the caller answers 500). */
int config_store_commit(struct config_store *s, uint64_t v, json_t *doc, json_t *delta,
                        json_t *undo, json_t *meta, const struct config_api_stamp *file_was,
                        char *why, size_t len);
/* Keeps version v (a hand edit or a fleet version already in the file) in
 * the history now, after what is owed; 0 or -1 (logged). */
int config_store_record(struct config_store *s, uint64_t v, json_t *doc, json_t *meta);
/* Waits up to ms for the writer to let go of the version it dumps as it
 * is (without a copy) once a newer one is committed: it does so within 64
 * KB of its dump; and of the version it lists for a copy of its own
 * (jsonrecycle_detach: 26-31 ms at 1,000,000 records). For a caller about to take the replaced
 * version's objects apart for the next copy (a fleet node's recycler, config_fleet.c), which it
 * cannot do while the writer holds them. True: it still holds one. */
bool config_store_let_go(struct config_store *s, double ms);
/* jsonrecycle.soon for the configuration API's recycler (store: a struct
 * config_store): whether the writer holds a version it is letting go, the
 * one holder a change's copy waits for (config_store_let_go, no wait). */
static inline bool config_store_soon(void *store)
{
    return config_store_let_go(store, 0);
}
/* How many dumps in place the writer gave up for a newer version so far
 * (each logged at debug: event=config_write result=let_go). */
uint64_t config_store_let_gos(struct config_store *s);
/* Waits until the file holds every version committed (all: and the
 * history every one still in the window). A file write that failed is
 * tried once more. */
void config_store_flush(struct config_store *s, bool all);
/* Whether committed versions are not in the file yet; *stamp and *v: the
 * file as the writer last wrote it and the version it holds (v 0: none
 * written by this store; stamp all zero: the writer kept a hand edit). */
bool config_store_behind(struct config_store *s, struct config_api_stamp *stamp, uint64_t *v);

/* Version v's document (ext ".json") or meta (".meta.json"): from memory
 * while the writer has not put it in the history, else from there; NULL
 * when neither has it. */
json_t *config_store_load(struct config_store *s, uint64_t v, const char *ext);

/* At start, before the file is read: the journal's versions the file
 * misses are applied to it (written atomically; its owner kept). 0
 * (nothing to do or done), or -1 (logged; the file is left as it was). */
int config_store_recover(const char *path);

#endif

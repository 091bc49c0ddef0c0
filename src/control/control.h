/*
 * control.h -- the control plane's contract: what the daemon gives it,
 * what the admin API calls, and what happens to a change, end to end.
 *
 * src/control is the configuration and its changes: the file's parser
 * (config.h, config_keys.h, config_zones.c), the configuration as a
 * versioned document changed through /v1/config (config_api.h), the delta
 * that says what a change changes (config_delta.h), the journal, the file
 * and the history on disk (config_store.h, config_journal.h,
 * config_history.h), the fleet's configuration in etcd (config_fleet.c)
 * and the fleet's hash of it (config_digest.h). It sits between the admin
 * API and the daemon (admin < control < daemon, tests/check-includes.sh):
 * it includes admin.h for the API's types, and no daemon header. Building
 * and serving a set is the daemon's (src/daemon/load.c,
 * src/daemon/server_reload.c), which the control plane reaches only
 * through the three functions below.
 *
 * Why the parser is here and not in the daemon: a change is validated by
 * parsing it (config_load_doc_reuse: the same parser and the same errors
 * as `gtmd check`), config_delta compares two parsed configurations, and
 * the root table (config_keys.c) is what the digest and the fleet's
 * node-local split (config_shared_part) read. Left in the daemon, every
 * one of those would include a daemon header; here, the daemon includes
 * the control plane and nothing points back up.
 *
 * WHAT THE DAEMON GIVES (src/daemon/server_modules.c, the "config_api"
 * module entry, and server_reload.c):
 *  - the configuration file's path, the running configuration's document
 *    (struct config's root: borrowed, never changed; config_api_init and,
 *    after each reload from the file, config_api_seed) and the file's
 *    stamp when it was read;
 *  - reload (control_reload_fn): the one reload path. It takes the
 *    daemon's reload lock, parses doc (config_load_doc_reuse), computes
 *    config_delta_new against what runs, builds the set keeping what the
 *    delta allows (load_set_keep), publishes it (the served-set swap),
 *    walks the module table, and, for a change, calls config_api_served
 *    before it releases the lock;
 *  - validate (control_validate_fn): the same up to the build, nothing
 *    published: a fleet's change is checked before it is published;
 *  - build (control_build_fn): the set of a candidate read from a file,
 *    built and not served, for a dry run's what-if;
 *  - the served set, a serve reader of its own and the health core
 *    (config_api_set_live), for dry runs; the fleet and the main thread's
 *    event base (config_fleet_attach), where fleet versions are applied.
 *
 * WHAT THE ADMIN API CALLS (struct admin_config_ops, src/admin/admin.h,
 * filled by config_api_admin_ops): read and document (the newest
 * document and its version), apply (a whole document, a dry run with
 * ?dry_run and ?clients, If-Match), edit (changes made on the newest
 * document, grouped), history (the versions kept), version (one
 * version's document: what a rollback applies again) and warm (the store
 * thread, idle 200 ms after its last call: the copy of the newest
 * document the next change would make, made before it comes, off the
 * lock; issue #55). The start's copy is made beside the first compile
 * (config_api_prewarm_begin, server.c) and taken by config_api_init's
 * caller (config_api_prewarm_end).
 *
 * THREADS AND LOCKS: changes run on the admin API's store thread; reloads
 * from the file and fleet versions on the main thread; offers of fleet
 * versions come from the fleet thread (config_fleet_offer only hands
 * over, under pend_lock); the journal's file and the history are written
 * by the store's own writer thread. Lock order: the daemon's reload lock,
 * then config_api's lock (config_api_served runs under both); config_api
 * drops its lock around a call of reload or validate and while it waits
 * for etcd, so that the daemon can take the reload lock first. The store
 * never takes either lock.
 *
 * OWNERSHIP: the daemon owns struct config_api (config_api_init,
 * config_api_free) and struct config (config_load*, config_free); every
 * json_t the control plane returns is the caller's; documents given to
 * reload, validate and the store are borrowed or referenced and never
 * changed once shared (jsonrecycle.h, jsonshare.h).
 *
 * WHAT HAPPENS TO A CHANGE (a PUT of one record; file by file):
 *  1. src/admin/admin_confapi.c: the admin thread parses the request and
 *     queues it for the store thread, grouped with those that queued
 *     behind a reload.
 *  2. config_api_edit.c: the edits are made on a copy of the newest
 *     document (config_api_cow_copy: untouched members shared,
 *     jsonrecycle.h), an edit that fails undone alone.
 *  3. config_api.c (config_api_apply_locked): If-Match refused with 412,
 *     a change made on an older version carried onto the newest or 409,
 *     the delta from the file's document (jsondelta_diff_some on the
 *     touched resources); nothing changed: 200, no version. A dry run is
 *     validated here (a candidate beside the file, built by the daemon's
 *     build, its what-if) and answered 200.
 *  4. Fleet mode (config_fleet.c): validated (validate), published to
 *     etcd as the fleet's next version (a compare-and-swap; 412 and
 *     carried again when another node won), then awaited until this node
 *     applies it like every node does: config_fleet_offer -> main thread
 *     -> step 5 with the fleet's number.
 *  5. config_api_install -> the daemon's reload: parse (the validation:
 *     errors answer 400 and nothing changes), config_delta.c (what
 *     changed, which zones are kept, which may be made from the running
 *     zone with policy names placed: zone_place.h), load_set_keep, the
 *     swap: served.
 *  6. Still under the reload lock, config_api_served: the version's
 *     delta and undo appended to the change journal and fdatasync'd
 *     (config_store_commit, config_journal.c): a 201 is durable.
 *  7. The reply, 201 with the version. Behind it, the store's writer
 *     thread writes the file (atomically) and the history directory
 *     (config_history.c), coalescing, and cuts the journal; start-up
 *     replays the journal over the file after a crash
 *     (config_store_recover).
 *  8. The fleet's hash of the document (config_digest.c), brought up to
 *     date by the parts the change touched, is what status compares
 *     across nodes (config_mismatch).
 * A reload from the file (SIGHUP, POST /v1/reload) enters at step 5 with
 * the file's document, every zone read again; config_api_note_reload then
 * records a file edited by hand as a version (source "file"), and a fleet
 * node publishes it (config_fleet_file_changed).
 */
#ifndef GTM_CONTROL_CONTROL_H
#define GTM_CONTROL_CONTROL_H

#include <jansson.h>
#include <stdbool.h>

struct server; /* the daemon's, opaque here: the argument the daemon gave */
struct config;
struct errlist;
struct health_core;
struct serve_set;

/* Serves doc (borrowed) as the configuration: validated as the file would
 * be, served, then written as the file before any other reload can read
 * it (the daemon's reload); returns its JSON result ("file_error" when the
 * write failed) and sets *ok. */
typedef json_t *(*control_reload_fn)(struct server *srv, json_t *doc, bool *ok);
/* Validates doc (borrowed) as its reload would, in memory: the running
 * configuration's compiled records and kept zones are taken as a change
 * takes them, the set is built and freed, nothing is served, probed,
 * written or mapped to health. Errors and warnings are added to the
 * lists, naming the configuration file. */
typedef void (*control_validate_fn)(struct server *srv, json_t *doc, struct errlist *errs,
                                    struct errlist *warns);
/* The daemon's loader (load.h's load_set_warn at generation 1, no set
 * before): the served set cfg makes, built and not served; with core (NULL:
 * none) its endpoints mapped to health slots there, for a dry run's
 * what-if. NULL with the errors in errs. The caller frees the set
 * (serve_set_free) before cfg. */
typedef struct serve_set *(*control_build_fn)(struct config *cfg, struct health_core *core,
                                              struct errlist *errs, struct errlist *warns);

#endif

/*
 * config_api.h -- the configuration as a versioned document that the admin
 * API changes (admin_confapi.c): validate a new document as `gtmd check`
 * does, serve it through the daemon's reload (incrementally: only what it
 * changes is rebuilt, config_delta.h), journal it before the answer and
 * write it as the configuration file and into the history directory
 * behind (config_store.h: atomically, by a writer thread that coalesces
 * the changes arriving meanwhile), keeping every version for rollback.
 *
 * The file stays the source of truth: a change answered is in the change
 * journal, which the writer empties into the file (a reload from the file
 * waits for it; start-up replays it over the file after a crash);
 * an operator who edits the file and reloads makes a new version too
 * (source "file"). Versions count up from 1 across restarts (the history
 * directory holds them as NNNNNNNN.json with NNNNNNNN.meta.json beside).
 *
 * Configured by the root key "config_api": {"history_dir": DIR, "keep": N}
 * (keep: the newest N versions are kept, default 100). Without it the API
 * can read the resources but not change them.
 *
 * Threads: the admin API's store thread applies changes;
 * config_api_note_reload runs where a reload succeeded (main or admin
 * thread, under the daemon's reload lock); a mutex orders them.
 * Ownership: the daemon owns the struct; every json_t returned belongs to
 * the caller. The whole contract with the daemon and the admin API, and
 * the path of a change from request to history: control.h.
 */
#ifndef GTM_CONTROL_CONFIG_API_H
#define GTM_CONTROL_CONFIG_API_H

#include <jansson.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>
#include <time.h>

#include "common/errlist.h"
#include "common/cfgschema.h"
#include "common/jsoncfg.h"
#include "common/jsonrecycle.h"
#include "common/jsonshare.h"
#include "control/control.h"

struct fleet;
struct event;

struct config_api_params {
    char *history_dir; /* NULL: changes through the API are off */
    unsigned keep;     /* versions kept (2..100000) */
    bool fleet;        /* the configuration is the fleet's, in etcd (config_fleet.c) */
};

/* Parses the "config_api" section (v may be NULL: off). */
/* The keys of the "config_api" section. */
enum config_api_key { CA_HISTORY_DIR, CA_KEEP, CA_FLEET, CA_N };
extern const struct cfgschema config_api_schema;

void config_api_params_parse(const struct jsoncfg *x, json_t *v, struct config_api_params *p);
void config_api_params_free(struct config_api_params *p);

/* The functions the daemon gives (reload, validate, build) are declared
 * with the rest of the contract in control.h. */

/* The history's format: every version's meta (NNNNNNNN.meta.json) says
 * "format" (none: the release before's, format 1). This release writes 1
 * and reads up to 2 (the next release's, fields not known here ignored);
 * a history of a newer format stops the start (doc/fleet.md, "Upgrading:
 * version skew"). */
#define CONFIG_HISTORY_FORMAT 1
#define CONFIG_HISTORY_FORMAT_READ_MAX 2

/* Writes j to path through a temporary file, fsync and a rename; 0 or -1
 * (errno). The daemon's reload writes a served change so. */
int config_api_write_json(const char *path, json_t *j, mode_t mode);

/* What stat said of a file (a rename, a write or a touch changes it). */
struct config_api_stamp {
    dev_t dev;
    ino_t ino;
    off_t size;
    struct timespec mtime;
};
struct config_api_stamp config_api_stamp_of(const char *path);
/* Whether two stamps are of the same file, unchanged (never for an all
 * zero stamp). */
bool config_api_stamp_same(const struct config_api_stamp *a, const struct config_api_stamp *b);

struct config_api {
    pthread_mutex_t lock;
    char *path;        /* the configuration file */
    char *history_dir; /* NULL: read only */
    char why_off[512]; /* why the history directory could not be used ("" if it was not set) */
    unsigned keep;
    uint64_t version; /* the newest version (0: none recorded yet) */
    /* The file's document as last read or written, and the file's stamp
     * then (lock): read again only when the stamp differs. synced: the
     * stamp of the file when it was last known to be version. */
    json_t *doc;
    struct config_api_stamp doc_stamp, synced;
    /* Counts the documents doc has been (lock): a change made from a copy
     * of doc_serial's document may name what it touched (config_api_apply). */
    uint64_t doc_serial;
    /* The document doc replaced and its resource objects, kept to become
     * the next copy of doc (jsonrecycle.h); cleared whenever doc is
     * replaced other than by a version served. (lock) */
    struct jsonrecycle recycle;
    /* One value for equal resources of doc and the versions made from it
     * (jsonshare.h): a change's new values take the equal ones. Refilled
     * whenever doc is read or seeded anew. (lock) */
    struct jsonshare share;
    /* A change is being installed (the lock is dropped around its reload,
     * which renames the file): until it is recorded, the file is read as
     * doc, the version before it, and a reload's check of the file is
     * skipped (the change is this one). (lock) */
    bool installing;
    control_reload_fn reload;
    struct server *reload_arg;
    /* Validation of a change that is not a dry run with a what-if (a
     * fleet's before it is published), against the running set; NULL:
     * the document is written as a candidate beside the file and loaded
     * from scratch, as `gtmd check` does. */
    control_validate_fn validate;
    /* Builds the set of a candidate loaded from the file (a dry run, or
     * no validate): NULL, as in unit tests, checks the configuration's
     * parse alone, its zones not loaded. */
    control_build_fn build;
    /* The running set and health, for the what-if of dry runs (NULL until
     * config_api_set_live): a reader of its own (admin thread only). */
    struct serve *serve;
    struct serve_reader *reader;
    struct health_core *live;
    /* This node is one of a fleet: a change is made to its file only, and
     * every reply says so (config_api_set_fleet), unless it follows the
     * fleet's configuration. */
    bool in_fleet;
    /* The fleet's configuration ("config_api": {"fleet": true};
     * config_fleet.c): a change is published to etcd as the fleet's next
     * version, and every version etcd gets is applied here. */
    bool fleet_mode;
    struct fleet *fleet;               /* NULL until config_fleet_attach */
    struct event *ev_fleet;            /* on the main base: the hand-over below */
    pthread_mutex_t pend_lock;         /* the fleet thread's hand-over: */
    json_t *pending;                   /* records not taken yet (pend_lock) */
    uint64_t pending_head;             /* (pend_lock) */
    bool have_pending;                 /* (pend_lock) */
    bool file_check;                   /* the file was reloaded: publish a hand edit (pend_lock) */
    pthread_cond_t applied;            /* a fleet version was applied or refused here (lock) */
    uint64_t fleet_failed;             /* the newest version this node could not apply (lock) */
    char fleet_why[512];               /* why (lock) */
    struct config_api_stamp published; /* the file as this node last published it (lock) */
    /* The change journal and the writer of the file and the history
     * (config_store.h): a change answered is in the journal; the file
     * follows behind. stamped_v: the version whose written file's stamp
     * doc_stamp is (lock). */
    struct config_store *store;
    uint64_t stamped_v;
    /* The version being installed (lock; set by config_api_install, used by
     * config_api_served while the reload holds the daemon's reload lock). */
    uint64_t inst_v;
    json_t *inst_meta;  /* borrowed; NULL: no change is being installed */
    int inst_rc;        /* config_store_commit's result */
    json_t *inst_delta; /* the change's delta from inst_base (a reference), or NULL */
    json_t *inst_base;  /* the document it was made against (a reference), or NULL */
    json_t *inst_doc;   /* the document it makes (a reference): served as is, or not used */
    char inst_why[600];
    /* The shared part of fleet version fleet_doc_v as this node has it
     * (lock): the base of the delta a change publishes, and of the next
     * version's delta it applies. Shares its members with doc. */
    json_t *fleet_doc;
    uint64_t fleet_doc_v;
    /* The fleet version the main thread is applying (0: none): it is
     * recorded as api->version during the reload, and becomes fleet_doc
     * only after it (config_fleet_base waits for that). (lock) */
    uint64_t fleet_applying;
    /* The shared part fleet_doc replaced, kept to become the next
     * version's copy (jsonrecycle.h; config_fleet.c). (lock) */
    struct jsonrecycle fleet_recycle;
    /* The shared part config_fleet_docs last made from fleet_doc by its
     * delta (by identity only; NULL: none). (lock) */
    const json_t *fleet_from_kept;
    /* A fleet node's copies made ahead by the idle store thread
     * (config_api_warm, config_fleet_warm): the document serial and the
     * fleet base (identity and version) each was last tried for, plus one
     * (0: none), so that a copy that could not be kept is not made again
     * every time the store thread asks. (lock) */
    uint64_t warm_serial, fleet_warm_v;
    const json_t *fleet_warm_doc;
    /* A fleet node's copy of the document read at start, made beside the
     * start's compile (config_api_prewarm_begin), and that document (both
     * references; NULL: none): the fleet's recycler takes it for the first
     * version when that is this document (a joining node's own, found by
     * its digest: fleet_config_parts.c), instead of the idle store thread
     * copying it after the join, where the first changes met it.
     * Let go at the first version applied. (lock) */
    json_t *fleet_prewarm, *fleet_prewarm_root;
};

/* Sets api up for the file at path with params p (copied); records the
 * file as a version when it differs from the newest one kept. Errors (the
 * history directory cannot be made or read) are logged; the API then
 * stays read only. */
void config_api_init(struct config_api *api, const char *path, const struct config_api_params *p,
                     control_reload_fn reload, struct server *reload_arg, json_t *root,
                     const struct config_api_stamp *before);
/* Validates changes with fn (control_validate_fn) from now on, and
 * builds a candidate's set with build (control_build_fn). */
void config_api_set_validate(struct config_api *api, control_validate_fn fn,
                             control_build_fn build);
/* The daemon read root (borrowed; config_api_init takes the same for the
 * start) from the file when the file had stamp *before: while the file still has it, root is the
 * file's document, kept once for the daemon's running configuration (config_delta.h compares with
 * it) and for the API, not read and held a second time. */
void config_api_seed(struct config_api *api, json_t *root, const struct config_api_stamp *before);
void config_api_free(struct config_api *api);
/* The served set (and its reader, taken for the admin thread) and the
 * health core the what-if of a dry run compares with. */
struct serve;
struct serve_reader;
struct health_core;
void config_api_set_live(struct config_api *api, struct serve *serve, struct serve_reader *reader,
                         struct health_core *live);
/* Whether this node is one of a fleet (the fleet changes only on restart). */
void config_api_set_fleet(struct config_api *api, bool in_fleet);
/* New parameters after a reload (the history directory and keep). */
void config_api_set_params(struct config_api *api, const struct config_api_params *p);
/* The daemon's reload of a change through the API served doc (under the
 * reload lock, after the swap): the version being installed is journalled
 * (durable) before any other reload runs, and the file written behind. */
void config_api_served(struct config_api *api, json_t *doc);
/* The delta the change being installed computed from base to doc (a new
 * reference; config_delta_new counts from it instead of walking the two
 * documents again), or NULL when it was made for another pair. */
json_t *config_api_known_delta(struct config_api *api, json_t *base, json_t *doc);
/* Waits until the file holds every version answered (a reload from the
 * file reads it only then). */
void config_api_flush(struct config_api *api);
/* After a reload that succeeded: a file changed by hand is a new version. */
void config_api_note_reload(struct config_api *api);

/* The configuration file as JSON to edit, its version, and the serial of
 * the document it copies (origin, for config_api_apply); NULL with why in
 * err. */
json_t *config_api_document(struct config_api *api, uint64_t *version, uint64_t *origin, char *err,
                            size_t len);
/* The same for reading (admin_config_ops.read): a new root sharing the
 * kinds' objects, which must not be edited. */
json_t *config_api_read(struct config_api *api, uint64_t *version, char *err, size_t len);

/*
 * Applies doc (borrowed) as the new configuration: when if_version is not
 * 0 and not the newest version, 412; doc was made from version base (0:
 * unknown): when the configuration moved on since, the resources doc
 * changes are carried onto the newest version, or 409 when that version
 * changed them too; validated as `gtmd check` validates a
 * file (errors name the JSON path); with dry_run nothing more; else
 * written as the configuration file, reloaded (on failure the file is put
 * back), and kept as a new version with author and change. A dry run
 * answers, under "whatif", which answers of which records change
 * (drill_whatif_config), for the clients given (clients: "IP,NET/LEN,...",
 * NULL or "": one evaluation without a client). Returns the reply body;
 * *status is the HTTP status (200, 201 new version, 400 invalid, 403 read
 * only, 412, 500). touched (borrowed; NULL: unknown): KIND -> {NAME: ...}
 * for every kind, the resources the change set or removed in its copy of
 * document origin (config_api_document): when that is still the newest,
 * only those are compared to find what the change changes
 * (jsondelta_diff_some), not every resource.
 */
json_t *config_api_apply(struct config_api *api, json_t *doc, uint64_t base, uint64_t origin,
                         json_t *touched, uint64_t if_version, const char *author,
                         const char *change, bool dry_run, const char *clients, int *status);

/* admin_config_ops.edit (config_api_edit.c): edits made on the newest
 * document, a group of them served as one version. */
struct admin_config_edit;
void config_api_edit(struct config_api *api, struct admin_config_edit *const *edits, size_t n);
/* admin_config_ops.warm (config_api_edit.c): the store thread, idle,
 * makes the copy of the newest document that the next change would
 * otherwise make on its path, and gives it to the recycler as any unused
 * copy is (issue #55: at 1,000,000 records the first change after a start
 * copied the 1,000,000-member records object, 0.3-0.6 s of it). A fleet
 * node also makes the copy of its fleet base that the next version's
 * delta is applied to (config_fleet_warm). Nothing when the recycler is
 * ready already or without a history. True when it is to be asked again
 * while the store thread stays idle: a fleet node, whose versions come
 * from other nodes without a call here (each copy is tried once per
 * document: warm_serial, fleet_warm_v). */
bool config_api_warm(struct config_api *api);
/* The same made at the start, beside the compile of the first set (at
 * 1,000,000 records that compile takes seconds and the copy 0.3-0.6 s;
 * made by the idle store thread instead, it came after the first answer
 * and held up a first change sent right then: issue #55).
 * config_api_prewarm_begin starts a thread copying root (referenced:
 * the document the daemon read, only read meanwhile, as served documents
 * are); NULL when root is NULL or no thread could start (the store thread
 * then makes it). config_api_prewarm_end waits for the copy and gives it
 * to api's recycler when api's newest document is still root and api
 * would keep one (config_api_warm's rules); else, or with api NULL (a
 * start that failed), drops it. With fleet, a second copy is made for the
 * fleet's recycler (api->fleet_prewarm). Frees w. */
struct config_api_prewarm;
struct config_api_prewarm *config_api_prewarm_begin(json_t *root, bool fleet);
void config_api_prewarm_end(struct config_api_prewarm *w, struct config_api *api);

/* The fleet's configuration (config_fleet.c). config_fleet_offer is the
 * fleet's fleet_config_fn (arg: api); attach gives api the fleet and the
 * main thread's event base, where offered versions are applied; detach
 * (before the fleet stops) ends that. */
struct event_base;
void config_fleet_offer(void *arg, uint64_t head, json_t *records);
/* The version this node serves when its newest is a fleet version, else 0
 * (it has not joined yet): what the fleet starts from. */
uint64_t config_fleet_applied(struct config_api *api);
/* The shared part of the document this node serves (a new reference), or
 * NULL when that is a fleet version already: what the fleet compares a
 * whole version with before it reads it (fleet_env.config_own). */
json_t *config_fleet_own(struct config_api *api);
void config_fleet_attach(struct config_api *api, struct fleet *fleet, struct event_base *base);
void config_fleet_detach(struct config_api *api);

/* The admin API's view of api (admin.h): ops->api is api. */
struct admin_config_ops;
void config_api_admin_ops(struct config_api *api, struct admin_config_ops *ops);

/* The versions kept, newest first: [{"version", "time", "author",
 * "change", "source"}]. */
json_t *config_api_history(struct config_api *api);
/* Version v's document, or NULL (404). */
json_t *config_api_version(struct config_api *api, uint64_t v);

#endif

/*
 * config_api.h -- the configuration as a versioned document that the admin
 * API changes (admin_confapi.c): validate a new document as `gtmd check`
 * does, write it as the configuration file (atomically), reload, and keep
 * every version in a history directory for rollback.
 *
 * The file stays the source of truth: the API writes the file and reloads
 * it; an operator who edits the file and reloads makes a new version too
 * (source "file"). Versions count up from 1 across restarts (the history
 * directory holds them as NNNNNNNN.json with NNNNNNNN.meta.json beside).
 *
 * Configured by the root key "config_api": {"history_dir": DIR, "keep": N}
 * (keep: the newest N versions are kept, default 100). Without it the API
 * can read the resources but not change them.
 *
 * Threads: the admin thread applies changes; config_api_note_reload runs
 * where a reload succeeded (main or admin thread, under the daemon's
 * reload lock); a mutex orders them. Ownership: the daemon owns the
 * struct; every json_t returned belongs to the caller.
 */
#ifndef GTM_DAEMON_CONFIG_API_H
#define GTM_DAEMON_CONFIG_API_H

#include <jansson.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "common/errlist.h"
#include "common/jsoncfg.h"

struct config_api_params {
    char *history_dir; /* NULL: changes through the API are off */
    unsigned keep;     /* versions kept (2..100000) */
};

/* Parses the "config_api" section (v may be NULL: off). */
void config_api_params_parse(const struct jsoncfg *x, json_t *v, struct config_api_params *p);
void config_api_params_free(struct config_api_params *p);

/* Reloads the file (the daemon's reload); returns its JSON result and
 * sets *ok (the admin API's reload callback). */
typedef json_t *(*config_api_reload_fn)(void *arg, bool *ok);

struct config_api {
    pthread_mutex_t lock;
    char *path;        /* the configuration file */
    char *history_dir; /* NULL: read only */
    char why_off[512]; /* why the history directory could not be used ("" if it was not set) */
    unsigned keep;
    uint64_t version; /* the newest version (0: none recorded yet) */
    config_api_reload_fn reload;
    void *reload_arg;
    /* The running set and health, for the what-if of dry runs (NULL until
     * config_api_set_live): a reader of its own (admin thread only). */
    struct serve *serve;
    struct serve_reader *reader;
    struct health_core *live;
    /* This node is one of a fleet: a change is made to its file only, and
     * every reply says so (config_api_set_fleet). */
    bool in_fleet;
};

/* Sets api up for the file at path with params p (copied); records the
 * file as a version when it differs from the newest one kept. Errors (the
 * history directory cannot be made or read) are logged; the API then
 * stays read only. */
void config_api_init(struct config_api *api, const char *path, const struct config_api_params *p,
                     config_api_reload_fn reload, void *reload_arg);
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
/* After a reload that succeeded: a file changed by hand is a new version. */
void config_api_note_reload(struct config_api *api);

/* The configuration file as JSON and its version; NULL with why in err. */
json_t *config_api_document(struct config_api *api, uint64_t *version, char *err, size_t len);

/*
 * Applies doc (borrowed) as the new configuration: when if_version is not
 * 0 and not the newest version, 412; validated as `gtmd check` validates a
 * file (errors name the JSON path); with dry_run nothing more; else
 * written as the configuration file, reloaded (on failure the file is put
 * back), and kept as a new version with author and change. A dry run
 * answers, under "whatif", which answers of which records change
 * (drill_whatif_config), for the clients given (clients: "IP,NET/LEN,...",
 * NULL or "": one evaluation without a client). Returns the reply body;
 * *status is the HTTP status (200, 201 new version, 400 invalid, 403 read
 * only, 412, 500).
 */
json_t *config_api_apply(struct config_api *api, json_t *doc, uint64_t if_version,
                         const char *author, const char *change, bool dry_run, const char *clients,
                         int *status);

/* The admin API's view of api (admin.h): ops->arg is api. */
struct admin_config_ops;
void config_api_admin_ops(struct config_api *api, struct admin_config_ops *ops);

/* The versions kept, newest first: [{"version", "time", "author",
 * "change", "source"}]. */
json_t *config_api_history(struct config_api *api);
/* Version v's document, or NULL (404). */
json_t *config_api_version(struct config_api *api, uint64_t v);

#endif

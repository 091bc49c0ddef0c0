/*
 * config_api.c -- the versioned configuration document (config_api.h).
 */
#include "control/config_api.h"
#include "control/config_api_int.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "admin/admin.h"
#include "common/jsondelta.h"
#include "common/log.h"
#include "control/config.h"
#include "control/config_history.h"
#include "control/config_store.h"
#include "drill/drill_whatif.h"
#include "health/health.h"
#include "serve/serve.h"

#define CONFIG_API_KEEP 100

static const struct cfgschema_key config_api_keys[CA_N] = {
    [CA_HISTORY_DIR] = {"history_dir", CFGSCHEMA_PATH, .flags = CFGSCHEMA_REQUIRED,
                        .what = "where versions are kept (a directory gtmd may write)"},
    [CA_KEEP] = {"keep", CFGSCHEMA_INT, 2, 100000, CONFIG_API_KEEP, 0, NULL,
                 "versions kept, the oldest removed first"},
    [CA_FLEET] = {"fleet", CFGSCHEMA_BOOL, .flags = CFGSCHEMA_RESTART,
                  .what = "one configuration for the whole fleet, through etcd"},
};
const struct cfgschema config_api_schema = CFGSCHEMA("$.config_api", config_api_keys);

void config_api_params_parse(const struct jsoncfg *x, json_t *v, struct config_api_params *p)
{
    const struct cfgschema *s = &config_api_schema;
    *p = (struct config_api_params){.keep = CONFIG_API_KEEP};
    if (!v || !cfgschema_object(x, s, v, NULL))
        return;
    const char *d = cfgschema_str(x, s, CA_HISTORY_DIR, v, NULL);
    if (d && *d)
        p->history_dir = cfgschema_path(x, s, CA_HISTORY_DIR, v, NULL);
    else if (d)
        cfgschema_err(x, s, CA_HISTORY_DIR, NULL, "is required (a directory gtmd may write)");
    p->keep = (unsigned)cfgschema_int(x, s, CA_KEEP, v, NULL);
    p->fleet = cfgschema_bool(x, s, CA_FLEET, v, NULL);
}

void config_api_params_free(struct config_api_params *p)
{
    free(p->history_dir);
    p->history_dir = NULL;
}

/* ---- the history directory ------------------------------------------------ */

/* Writes j to path through a temporary file and a rename; 0 or -1 (errno).
 * durable: fsync before the rename (not for a candidate that is only
 * validated: an fsync costs tens of ms on some disks). */
static int config_api_write_file(const char *path, json_t *j, mode_t mode, bool durable)
{
    size_t len = 0;
    char *text = config_history_text(j, &len); /* as the history writes it */
    int rc = text ? config_history_write_text(path, text, len, mode, durable) : -1;
    free(text);
    return rc;
}

int config_api_write_json(const char *path, json_t *j, mode_t mode)
{
    return config_api_write_file(path, j, mode, true);
}

mode_t config_api_file_mode(const struct config_api *api)
{
    struct stat st;
    return stat(api->path, &st) == 0 ? st.st_mode & 07777 : 0640;
}

static void config_api_log_version(json_t *meta, uint64_t v)
{
    const char *src = json_string_value(json_object_get(meta, "source"));
    const char *author = json_string_value(json_object_get(meta, "author"));
    log_info("event=config_version version=%llu source=%s author=%s", (unsigned long long)v,
             src ? src : "", author ? author : "");
}

int config_api_record_as(struct config_api *api, uint64_t v, json_t *doc, json_t *meta,
                         const char *same_as)
{
    (void)same_as; /* the history gets the document's text from the store's writer */
    json_object_set_new(meta, "version", json_integer((json_int_t)v));
    if (!json_object_get(meta, "time"))
        json_object_set_new(meta, "time", json_real((double)time(NULL)));
    if (config_store_record(api->store, v, doc, meta) != 0)
        return -1;
    if (v > api->version) /* a missed version kept later is older */
        api->version = v;
    config_api_log_version(meta, v);
    return 0;
}

/* Records doc as the next version (caller holds the lock); 0 or -1. */
static int config_api_record(struct config_api *api, json_t *doc, const char *source,
                             const char *author, const char *change)
{
    json_t *meta = json_pack("{s:s, s:s, s:s}", "source", source, "author", author ? author : "",
                             "change", change ? change : "");
    int rc = config_api_record_as(api, api->version + 1, doc, meta, NULL);
    json_decref(meta);
    return rc;
}

json_t *config_api_load_version(const struct config_api *api, uint64_t v, const char *ext)
{
    return api->history_dir ? config_store_load(api->store, v, ext) : NULL;
}

/* What stat says of path now (all zero when it cannot). */
struct config_api_stamp config_api_stamp_of(const char *path)
{
    struct stat st;
    struct config_api_stamp s = {0};
    if (stat(path, &st) == 0)
        s = (struct config_api_stamp){
            .dev = st.st_dev, .ino = st.st_ino, .size = st.st_size, .mtime = st.st_mtim};
    return s;
}

bool config_api_stamp_same(const struct config_api_stamp *a, const struct config_api_stamp *b)
{
    return a->ino && a->dev == b->dev && a->ino == b->ino && a->size == b->size &&
           a->mtime.tv_sec == b->mtime.tv_sec && a->mtime.tv_nsec == b->mtime.tv_nsec;
}

struct config_api_stamp config_api_stamp_now(const struct config_api *api)
{
    return config_api_stamp_of(api->path);
}

bool config_api_file_known(const struct config_api *api)
{
    struct config_api_stamp now = config_api_stamp_of(api->path);
    return config_api_stamp_same(&now, &api->synced);
}

void config_api_file_is_version(struct config_api *api)
{
    api->synced = config_api_stamp_of(api->path);
}

/* Once the writer wrote the newest version, the file's stamp is the one
 * it left (all zero when it kept a hand edit: the file is read again).
 * Whether the writer is behind: the newest version is api->doc then. */
static bool config_api_adopt_written(struct config_api *api)
{
    struct config_api_stamp wstamp;
    uint64_t wv = 0;
    if (!api->store || config_store_behind(api->store, &wstamp, &wv))
        return api->store != NULL;
    if (wv && wv == api->version && api->stamped_v != wv) {
        api->doc_stamp = api->synced = wstamp;
        api->stamped_v = wv;
    }
    return false;
}

json_t *config_api_current(struct config_api *api, json_error_t *je)
{
    if (api->installing && api->doc)
        return api->doc; /* api->version's, until the change is recorded */
    /* The writer has versions the file does not hold yet: the newest is
     * api->doc (the journal keeps them). */
    if (config_api_adopt_written(api) && api->doc)
        return api->doc;
    struct config_api_stamp now = config_api_stamp_of(api->path);
    if (api->doc && config_api_stamp_same(&now, &api->doc_stamp))
        return api->doc;
    /* Stamped before the read: a file replaced meanwhile is read again. */
    struct jsonshare share;
    jsonshare_init(&share);
    json_t *d =
        jsoncfg_load_file_shared(api->path, JSON_REJECT_DUPLICATES, je, &share, admin_config_kinds);
    if (!d) {
        jsonshare_clear(&share);
        return NULL;
    }
    json_decref(api->doc);
    jsonrecycle_clear(&api->recycle); /* kept for the document d replaces */
    jsonshare_clear(&api->share);
    api->share = share; /* d's values */
    api->doc = d;
    api->doc_serial++;
    api->doc_stamp = now;
    return d;
}

/* The file differs from the newest version: record it (caller holds the
 * lock). */
static void config_api_sync_file(struct config_api *api, const char *change)
{
    if (!api->history_dir || api->fleet_mode)
        return; /* the fleet's: a hand edit is published (config_fleet.c) */
    if (api->installing)
        return; /* the file is the change being installed */
    if (api->version && config_api_file_known(api))
        return; /* as it was when last compared */
    json_t *doc = config_api_current(api, NULL);
    bool same = api->version && config_history_same_text(api->history_dir, api->version, api->path);
    json_t *last =
        api->version && !same ? config_api_load_version(api, api->version, ".json") : NULL;
    if (doc && !same && !json_equal(doc, last))
        config_api_record(api, doc, "file", "file", change);
    if (doc)
        config_api_file_is_version(api);
    /* A whole document parsed to compare and freed here, below what came
     * since: 100 MB kept resident at 100,000 records unless given back. */
    if (last) {
        json_decref(last);
        malloc_trim(0);
    }
}

static void config_api_take_params(struct config_api *api, const struct config_api_params *p)
{
    free(api->history_dir);
    api->history_dir = p->history_dir ? strdup(p->history_dir) : NULL;
    api->keep = p->keep;
    api->version = 0;
    api->why_off[0] = '\0';
    if (!api->history_dir) {
        config_store_set_history(api->store, NULL, api->keep);
        return;
    }
    if ((mkdir(api->history_dir, 0750) != 0 && errno != EEXIST) ||
        access(api->history_dir, W_OK | X_OK) != 0) {
        snprintf(api->why_off, sizeof(api->why_off), "the history directory %s: %s",
                 api->history_dir, strerror(errno));
        log_error("event=config_history result=failed dir=%s error=\"%s\" note=\"changes through "
                  "the API are off\"",
                  api->history_dir, strerror(errno));
        free(api->history_dir);
        api->history_dir = NULL;
        config_store_set_history(api->store, NULL, api->keep);
        return;
    }
    api->version = config_store_set_history(api->store, api->history_dir, api->keep);
    /* Changes write a candidate and the new file in its directory. */
    char dir[4096];
    const char *slash = strrchr(api->path, '/');
    snprintf(dir, sizeof(dir), "%.*s", slash ? (int)(slash - api->path) : 1,
             slash ? api->path : ".");
    /* The file itself is replaced by a rename: its directory is what
     * must be writable. */
    if (access(dir, W_OK | X_OK) != 0)
        log_warn("event=config_api note=\"the directory of %s is not writable by this process "
                 "(%s): every change through the API will fail\"",
                 api->path, strerror(errno));
}

static void config_api_seed_locked(struct config_api *api, json_t *root,
                                   const struct config_api_stamp *before);

void config_api_init(struct config_api *api, const char *path, const struct config_api_params *p,
                     control_reload_fn reload, struct server *reload_arg, json_t *root,
                     const struct config_api_stamp *before)
{
    *api = (struct config_api){.path = strdup(path), .reload = reload, .reload_arg = reload_arg};
    jsonrecycle_init(&api->recycle, admin_config_kinds);
    jsonrecycle_init(&api->fleet_recycle, admin_config_kinds);
    jsonshare_init(&api->share);

    pthread_mutex_init(&api->lock, NULL);
    pthread_mutex_init(&api->pend_lock, NULL);
    pthread_cond_init(&api->applied, NULL);
    api->fleet_mode = p->fleet;
    /* A copy of 100,000 members costs a change 13-20 ms; the writer's copy
     * that holds the document lets it go within a few (issue #38). Not in
     * a fleet: there the replaced document's objects are its shared
     * part's too, and the fleet's recycler takes them (config_fleet.c). */
    api->recycle.keep_busy = !api->fleet_mode;
    api->recycle.wait_us = CONFIG_API_RECYCLE_WAIT_US;
    api->store = config_store_new(path);
    api->recycle.soon = api->store ? config_store_soon : NULL; /* the writer's, or a moment */
    api->recycle.soon_ctx = api->store;
    struct config_api_params off = {.keep = p->keep, .fleet = p->fleet};
    /* No writer: changes through the API stay off. */
    config_api_take_params(api, api->store ? p : &off);
    config_api_seed_locked(api, root, before);
    config_api_sync_file(api, "the configuration file at start");
}

static void config_api_seed_locked(struct config_api *api, json_t *root,
                                   const struct config_api_stamp *before)
{
    struct config_api_stamp now = config_api_stamp_of(api->path);
    if (!root || !config_api_stamp_same(&now, before) ||
        (api->doc && config_api_stamp_same(&now, &api->doc_stamp)))
        return;
    json_decref(api->doc);
    jsonrecycle_clear(&api->recycle);
    /* root is served (compiled sets borrow from it): only read. */
    jsonshare_clear(&api->share);
    jsonshare_members(&api->share, root, admin_config_kinds, NULL, false);
    api->doc = json_incref(root);
    api->doc_serial++;
    api->doc_stamp = now;
}

void config_api_seed(struct config_api *api, json_t *root, const struct config_api_stamp *before)
{
    pthread_mutex_lock(&api->lock);
    config_api_seed_locked(api, root, before);
    pthread_mutex_unlock(&api->lock);
}

void config_api_free(struct config_api *api)
{
    config_store_free(api->store); /* what is owed is written first */
    json_decref(api->inst_delta);
    json_decref(api->inst_base);
    json_decref(api->inst_doc);
    free(api->path);
    free(api->history_dir);
    json_decref(api->doc);
    jsonrecycle_clear(&api->recycle);
    json_decref(api->pending);
    json_decref(api->fleet_doc);
    json_decref(api->fleet_prewarm);
    json_decref(api->fleet_prewarm_root);
    jsonrecycle_clear(&api->fleet_recycle);
    jsonshare_clear(&api->share);
    pthread_mutex_destroy(&api->lock);
    pthread_mutex_destroy(&api->pend_lock);
    pthread_cond_destroy(&api->applied);
}

void config_api_set_live(struct config_api *api, struct serve *serve, struct serve_reader *reader,
                         struct health_core *live)
{
    pthread_mutex_lock(&api->lock);
    api->serve = serve;
    api->reader = reader;
    api->live = live;
    pthread_mutex_unlock(&api->lock);
}

void config_api_set_validate(struct config_api *api, control_validate_fn fn, control_build_fn build)
{
    pthread_mutex_lock(&api->lock);
    api->validate = fn;
    api->build = build;
    pthread_mutex_unlock(&api->lock);
}

void config_api_set_fleet(struct config_api *api, bool in_fleet)
{
    pthread_mutex_lock(&api->lock);
    api->in_fleet = in_fleet;
    pthread_mutex_unlock(&api->lock);
}

void config_api_set_params(struct config_api *api, const struct config_api_params *p)
{
    pthread_mutex_lock(&api->lock);
    bool same =
        (!p->history_dir && !api->history_dir) ||
        (p->history_dir && api->history_dir && strcmp(p->history_dir, api->history_dir) == 0);
    if (!same)
        config_api_take_params(api, p);
    if (same && api->keep != p->keep && api->history_dir)
        config_store_set_history(api->store, api->history_dir, p->keep);
    api->keep = p->keep; /* "fleet" changes only on restart (the fleet is attached at start) */
    pthread_mutex_unlock(&api->lock);
}

void config_api_flush(struct config_api *api)
{
    if (api->store)
        config_store_flush(api->store, false);
}

void config_api_note_reload(struct config_api *api)
{
    if (api->fleet_mode) {
        config_fleet_file_changed(api);
        return;
    }
    pthread_mutex_lock(&api->lock);
    config_api_sync_file(api, "the configuration file, reloaded");
    pthread_mutex_unlock(&api->lock);
}

/* A copy of doc a change may edit: a new root and new objects for the
 * resource kinds, whose members (each record, pool, check, region) stay
 * shared with doc. A change replaces or removes members and never edits
 * one in place (admin_confapi.c copies a pool before it edits its
 * endpoints), so doc is not touched; and the members a change did not
 * touch are the same objects in both, which is how config_delta.c finds
 * the few that changed without comparing every one. The objects are the
 * replaced version's, brought up to doc, when nothing else holds them
 * (jsonrecycle.h): no copy of 100,000 members. (lock) */
json_t *config_api_cow_copy(struct config_api *api, json_t *doc)
{
    return jsonrecycle_copy(&api->recycle, doc, NULL);
}

/* The newest document (a copy to edit, or to read only), its version and
 * its serial (origin: NULL, not asked). */
static json_t *config_api_doc_as(struct config_api *api, uint64_t *version, uint64_t *origin,
                                 char *err, size_t len, bool edit)
{
    json_error_t je;
    pthread_mutex_lock(&api->lock);
    json_t *cur = config_api_current(api, &je);
    json_t *doc = !cur ? NULL : edit ? config_api_cow_copy(api, cur) : json_copy(cur);
    *version = api->version;
    if (origin)
        *origin = api->doc_serial;
    pthread_mutex_unlock(&api->lock);
    if (!doc)
        snprintf(err, len, "%s: %s", api->path, je.text);
    return doc;
}

json_t *config_api_document(struct config_api *api, uint64_t *version, uint64_t *origin, char *err,
                            size_t len)
{
    return config_api_doc_as(api, version, origin, err, len, true);
}

json_t *config_api_read(struct config_api *api, uint64_t *version, char *err, size_t len)
{
    return config_api_doc_as(api, version, NULL, err, len, false); /* no 100,000-member copy */
}

/* ---- validation and apply ---------------------------------------------- */

/* DIR/.NAME.SUFFIX beside the file: relative paths in it resolve the same. */
static void config_api_candidate(const struct config_api *api, const char *suffix, char *out,
                                 size_t len)
{
    const char *slash = strrchr(api->path, '/');
    int dl = slash ? (int)(slash - api->path) : 1;
    snprintf(out, len, "%.*s/.%s%s", dl, slash ? api->path : ".", slash ? slash + 1 : api->path,
             suffix);
}

/* The messages of l, with the candidate's file name replaced by the
 * configuration file's (the JSON paths are the same). */
static json_t *config_api_messages(const struct errlist *l, const char *cand, const char *path)
{
    json_t *a = json_array();
    size_t n = strlen(cand);
    for (size_t i = 0; i < l->count; i++) {
        const char *m = l->msgs[i];
        char buf[2048];
        if (strncmp(m, cand, n) == 0)
            snprintf(buf, sizeof(buf), "%s%s", path, m + n);
        else
            snprintf(buf, sizeof(buf), "%s", m);
        json_array_append_new(a, json_string(buf));
    }
    return a;
}

/* Parses "IP,NET/LEN,..." into clients; the count, or -1 with why. */
static int config_api_clients(const char *text, struct drill_client *out, char *why, size_t len)
{
    int n = 0;
    char buf[4096];
    snprintf(buf, sizeof(buf), "%s", text ? text : "");
    for (char *save = NULL, *t = strtok_r(buf, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
        char err[128];
        if (n >= DRILL_MAX_CLIENTS) {
            snprintf(why, len, "at most %d clients", DRILL_MAX_CLIENTS);
            return -1;
        }
        if (!drill_client_parse(t, &out[n], err, sizeof(err))) {
            snprintf(why, len, "clients: %s: %s", t, err);
            return -1;
        }
        n++;
    }
    return n;
}

/* The what-if of set (built on its private core, which gets the live
 * states here) against the running set. */
static json_t *config_api_whatif(struct config_api *api, struct serve_set *set,
                                 struct health_core *priv, const struct drill_client *clients,
                                 size_t n)
{
    if (!api->serve || !api->reader || !set)
        return json_null();
    health_core_copy_layers(priv, api->live);
    const struct serve_set *cur = serve_enter(api->reader);
    json_t *w = drill_whatif_config(cur->gslb, cur->geo, set->gslb, set->geo, clients, n, NULL);
    serve_leave(api->reader);
    return w;
}

/* Validates doc as `gtmd check` validates a file: written beside the
 * configuration file (relative paths resolve the same), loaded with its
 * zones. NULL when valid (warnings in *warnings; with whatif, the what-if
 * of the change, the set built on a private health core), else the
 * errors. */
static json_t *config_api_validate(struct config_api *api, json_t *doc, json_t **warnings,
                                   const struct drill_client *clients, int n_clients,
                                   json_t **whatif)
{
    char cand[4200];
    config_api_candidate(api, ".api-candidate", cand, sizeof(cand));
    struct errlist errs, warns;
    struct health_core priv;
    errlist_init(&errs);
    errlist_init(&warns);
    health_core_init(&priv);
    if (api->validate && !whatif) { /* in memory, as the reload will: no 15 MB candidate */
        /* Unlocked as around a reload (config_api_reload_unlocked): the
         * daemon takes its reload lock, under which a reload takes this
         * one. A change that commits meanwhile moves the version on; a
         * fleet's commit then carries this one onto it. */
        pthread_mutex_unlock(&api->lock);
        api->validate(api->reload_arg, doc, &errs, &warns);
        pthread_mutex_lock(&api->lock);
    } else if (config_api_write_file(cand, doc, 0600, false) != 0)
        errlist_add(&errs, "%s: cannot write a candidate beside it: %s", api->path,
                    strerror(errno));
    else {
        struct config *cfg = config_load(cand, &errs);
        struct serve_set *set =
            cfg && api->build ? api->build(cfg, whatif ? &priv : NULL, &errs, &warns) : NULL;
        if (set && whatif)
            *whatif = config_api_whatif(api, set, &priv, clients, (size_t)n_clients);
        serve_set_free(set);
        config_free(cfg);
        unlink(cand);
    }
    health_core_free(&priv);
    json_t *out = errs.count ? config_api_messages(&errs, cand, api->path) : NULL;
    *warnings = config_api_messages(&warns, cand, api->path);
    errlist_free(&errs);
    errlist_free(&warns);
    return out;
}

json_t *config_api_check(struct config_api *api, json_t *doc)
{
    json_t *warnings = NULL;
    json_t *errors = config_api_validate(api, doc, &warnings, NULL, 0, NULL);
    json_decref(warnings);
    return errors;
}

void config_api_served(struct config_api *api, json_t *doc)
{
    pthread_mutex_lock(&api->lock);
    if (!api->installing || !api->inst_meta) {
        pthread_mutex_unlock(&api->lock);
        return;
    }
    /* Durable in the change journal before the reload lock is released (a
     * SIGHUP after it flushes the writer and reads a file that has it) and
     * before the answer; the file and the history are written behind
     * (config_store.h). */
    uint64_t v = api->inst_v;
    json_t *meta = api->inst_meta;
    json_object_set_new(meta, "version", json_integer((json_int_t)v));
    json_object_set_new(meta, "format", json_integer(CONFIG_HISTORY_FORMAT));
    if (!json_object_get(meta, "time"))
        json_object_set_new(meta, "time", json_real((double)time(NULL)));
    config_api_adopt_written(api);
    json_t *none = api->doc ? NULL : json_object(), *base = api->doc ? api->doc : none;
    /* Made by config_api_apply_once against the document v follows, unless
     * that is not the newest any more. */
    json_t *delta = api->inst_delta && api->inst_base == base && api->inst_doc == doc
                        ? json_incref(api->inst_delta)
                        : jsondelta_diff(base, doc);
    json_t *undo = jsondelta_undo(base, delta, api->inst_why, sizeof(api->inst_why));
    api->inst_rc = undo ? config_store_commit(api->store, v, doc, delta, undo, meta,
                                              &api->doc_stamp, api->inst_why, sizeof(api->inst_why))
                        : -1;
    json_decref(undo);
    json_decref(none);
    if (api->inst_rc == 0) {
        if (v > api->version)
            api->version = v;
        config_api_log_version(meta, v);
        /* The file is doc (once the writer wrote it); the document it
         * replaces is kept for the next copy of doc (config_api_cow_copy)
         * once the change lets it go (config_api_drop_delta). */
        /* A fleet node's replaced document shares its objects with its
         * fleet base (config_fleet.c) and is never free to take apart: the
         * objects of its own last change, kept for the document it
         * replaced (config_api_cow_unused), follow it instead. */
        if (api->fleet_mode && jsonrecycle_advance(&api->recycle, api->doc, delta, doc))
            json_decref(api->doc);
        else
            jsonrecycle_retire(&api->recycle, api->doc, delta, doc);
        api->doc = json_incref(doc);
        api->doc_serial++;
    }
    json_decref(delta);
    pthread_mutex_unlock(&api->lock);
}

json_t *config_api_known_delta(struct config_api *api, json_t *base, json_t *doc)
{
    pthread_mutex_lock(&api->lock);
    json_t *d = base && api->inst_base == base && api->inst_doc == doc
                    ? json_incref(api->inst_delta)
                    : NULL;
    pthread_mutex_unlock(&api->lock);
    return d;
}

void config_api_drop_delta(struct config_api *api)
{
    json_decref(api->inst_delta);
    json_decref(api->inst_base);
    json_decref(api->inst_doc);
    api->inst_delta = api->inst_base = api->inst_doc = NULL;
    /* The change's references to the replaced document are gone: keep its
     * objects if nothing else holds them. */
    jsonrecycle_reclaim(&api->recycle);
}

void config_api_keep_delta(struct config_api *api, json_t *base, json_t *doc, json_t *delta)
{
    config_api_drop_delta(api);
    api->inst_delta = json_incref(delta);
    api->inst_base = json_incref(base);
    api->inst_doc = json_incref(doc);
}

json_t *config_api_error(int *status, int st, const char *code, const char *msg)
{
    *status = st;
    return json_pack("{s:{s:s, s:s}}", "error", "code", code, "message", msg);
}

json_t *config_api_reload_unlocked(struct config_api *api, json_t *doc, bool *ok)
{
    pthread_mutex_unlock(&api->lock);
    *ok = false;
    json_t *res = api->reload(api->reload_arg, doc, ok);
    pthread_mutex_lock(&api->lock);
    return res;
}

int config_api_install(struct config_api *api, json_t *doc, uint64_t v, json_t *meta,
                       json_t **result, int *status)
{
    char msg[700];
    bool ok;
    /* The file is written after the swap: a directory it cannot be
     * written in is found before anything is served (as the candidate
     * written before the reload found it until issue #38). */
    char dir[4200];
    snprintf(dir, sizeof(dir), "%s", api->path);
    char *slash = strrchr(dir, '/');
    if (slash)
        *(slash == dir ? slash + 1 : slash) = '\0';
    if (access(slash ? dir : ".", W_OK | X_OK) != 0) {
        snprintf(msg, sizeof(msg), "%s: cannot write beside it: %s", api->path, strerror(errno));
        *result = config_api_error(status, 500, "write_failed", msg);
        return -1;
    }
    if (!api->doc)
        config_api_current(api, NULL); /* what readers see meanwhile */
    /* Validated, served and then written as the file by the reload (one
     * path: only what doc changes is rebuilt); answered once written. */
    api->installing = true;
    api->inst_v = v;
    api->inst_meta = meta;
    api->inst_rc = -1;
    snprintf(api->inst_why, sizeof(api->inst_why), "the reload did not journal it");
    json_t *res = config_api_reload_unlocked(api, doc, &ok);
    api->inst_meta = NULL;
    api->installing = false;
    if (!ok) { /* nothing changed: the set served and the file are the old ones */
        *status = 400;
        *result =
            json_pack("{s:{s:s, s:s, s:O}}", "error", "code", "invalid", "message",
                      "the configuration would not load", "errors", json_object_get(res, "errors"));
        json_decref(res);
        return -1;
    }
    if (api->inst_rc != 0) { /* served, but a restart would not serve it */
        snprintf(msg, sizeof(msg),
                 "served, but the change journal could not keep it (%s): a restart would serve "
                 "the old file",
                 api->inst_why);
        log_error("event=config_version result=file_failed why=\"%s\"", msg);
        json_decref(res);
        *result = config_api_error(status, 500, "write_failed", msg);
        return -1;
    }
    *status = 201;
    *result = res;
    return 0;
}

/* Makes doc the configuration as the next version; the reply. (lock;
 * dropped around the reload) */
static json_t *config_api_commit(struct config_api *api, json_t *doc, const char *author,
                                 const char *change, const struct config_api_made *made,
                                 int *status)
{
    json_t *meta = json_pack("{s:s, s:s, s:s}", "source", "api", "author", author ? author : "",
                             "change", change ? change : "");
    if (made && made->changes) /* a group's version: each change, by whom */
        json_object_set(meta, "changes", made->changes);
    json_t *res = NULL;
    int rc = config_api_install(api, doc, api->version + 1, meta, &res, status);
    json_decref(meta);
    if (rc != 0)
        return res;
    return json_pack("{s:b, s:I, s:o}", "applied", true, "version", (json_int_t)api->version,
                     "reload", res);
}

/* The resources doc changes against base carried onto cur (all
 * borrowed): a new document, or NULL with why when cur changed one of them
 * too. Resources are the API's kinds' members (admin_config_kinds). */
static json_t *config_api_rebase(struct config_api *api, json_t *doc, json_t *base, json_t *cur,
                                 char *why, size_t len)
{
    json_t *out = config_api_cow_copy(api, cur); /* only its kinds' objects are changed */
    for (const char *const *k = admin_config_kinds; *k; k++) {
        json_t *d = json_object_get(doc, *k), *b = json_object_get(base, *k);
        json_t *c = json_object_get(cur, *k), *o = json_object_get(out, *k);
        json_t *names = json_object(), *v;
        const char *name;
        json_object_foreach(d, name, v) json_object_set(names, name, json_null());
        json_object_foreach(b, name, v) json_object_set(names, name, json_null());
        json_object_foreach(names, name, v)
        {
            json_t *mine = json_object_get(d, name), *was = json_object_get(b, name);
            if ((!mine && !was) || (mine && was && json_equal(mine, was)))
                continue; /* not this change's */
            json_t *now = json_object_get(c, name);
            if (!((!now && !was) || (now && was && json_equal(now, was)))) {
                snprintf(why, len, "%s \"%s\" was changed meanwhile", *k, name);
                json_decref(names);
                json_decref(out);
                return NULL;
            }
            if (!o) {
                o = json_object();
                json_object_set_new(out, *k, o);
            }
            if (mine)
                json_object_set(o, name, mine);
            else
                json_object_del(o, name);
        }
        json_decref(names);
    }
    return out;
}

/* When the configuration moved on since *doc's version *base, carries its
 * changes onto the newest version (*doc and *base replaced); NULL, or the
 * 409 reply. (lock) */
static json_t *config_api_carry(struct config_api *api, json_t **doc, uint64_t *base, int *status)
{
    if (!*base || *base == api->version)
        return NULL;
    char why[600];
    json_t *b = config_api_load_version(api, *base, ".json");
    json_t *cur = config_api_current(api, NULL); /* borrowed */
    json_t *re = b && cur ? config_api_rebase(api, *doc, b, cur, why, sizeof(why)) : NULL;
    if (!b || !cur)
        snprintf(why, sizeof(why), "version %llu is no longer kept", (unsigned long long)*base);
    json_decref(b);
    if (!re) {
        char msg[800];
        snprintf(msg, sizeof(msg),
                 "the configuration moved from version %llu to %llu while this change was "
                 "made, and %s: read it again and retry",
                 (unsigned long long)*base, (unsigned long long)api->version, why);
        json_t *out = config_api_error(status, 409, "conflict", msg);
        json_object_set_new(out, "version", json_integer((json_int_t)api->version));
        return out;
    }
    json_decref(*doc);
    *doc = re;
    *base = api->version;
    return NULL;
}

/* Why a change cannot be made at all, or NULL. (lock) */
static json_t *config_api_refuse(struct config_api *api, uint64_t if_version, bool dry_run,
                                 int *status)
{
    char msg[300];
    if (!api->history_dir && !dry_run && api->why_off[0])
        return config_api_error(status, 403, "config_api_off", api->why_off);
    if (!api->history_dir && !dry_run)
        return config_api_error(status, 403, "config_api_off",
                                "changes through the API need \"config_api\": {\"history_dir\": "
                                "...} in the configuration file");
    if (if_version && if_version != api->version) {
        snprintf(msg, sizeof(msg), "the configuration is at version %llu, not %llu",
                 (unsigned long long)api->version, (unsigned long long)if_version);
        json_t *out = config_api_error(status, 412, "version_mismatch", msg);
        json_object_set_new(out, "version", json_integer((json_int_t)api->version));
        return out;
    }
    return NULL;
}

/* The resources a change touched (borrowed), when its document was made
 * from a copy of cur itself, the newest (origin, config_api_document);
 * else NULL: every resource may differ. (lock) */
static json_t *config_api_made_touched(const struct config_api *api, const json_t *cur,
                                       const struct config_api_made *made)
{
    return cur && made && made->touched && made->origin == api->doc_serial && cur == api->doc
               ? made->touched
               : NULL;
}

/* One try of config_api_apply (*doc and *base may be replaced by a carry);
 * *retry: the fleet moved on first, try again once this node has it. */
static json_t *config_api_apply_once(struct config_api *api, json_t **doc, uint64_t *base,
                                     const struct config_api_made *made, uint64_t if_version,
                                     const char *author, const char *change, bool dry_run,
                                     const struct drill_client *cl, int n_cl, int *status,
                                     bool *retry)
{
    json_t *warnings = NULL, *errors = NULL, *whatif = NULL;
    json_t *out = config_api_refuse(api, if_version, dry_run, status);
    if (!out && !dry_run)
        out = config_api_carry(api, doc, base, status);
    /* What the file holds now: a change that leaves it as it is needs no
     * validation, write, reload or version; else it is what a failed
     * reload puts back. */
    json_t *cur = out || dry_run ? NULL : config_api_current(api, NULL); /* borrowed */
    /* The delta from the file's document: empty when nothing changes, else
     * what the journal keeps of this version (config_api_served); compared
     * by the resources the change touched when known, as the fleet's
     * version's delta is (config_fleet_commit). */
    json_t *touched = config_api_made_touched(api, cur, made);
    json_t *delta = cur ? jsondelta_diff_some(cur, *doc, touched) : NULL;
    bool unchanged = delta && jsondelta_count(delta) == 0;
    config_api_drop_delta(api);
    if (delta)
        config_api_keep_delta(api, cur, *doc, delta);
    json_decref(delta); /* kept there */
    /* A change on one node is validated by the reload that makes it (the
     * set is served, or nothing changes); a fleet's before it is
     * published, so that every node gets a valid version. */
    uint64_t seen = api->version;
    if (!out && !unchanged && (dry_run || api->fleet_mode))
        errors = config_api_validate(api, *doc, &warnings, cl, n_cl, dry_run ? &whatif : NULL);
    /* Refused on a version another node had replaced (its pool not here
     * yet): made again on the fleet's newer one, as below. */
    if (errors && !dry_run && api->fleet_mode && config_fleet_newer(api, seen)) {
        json_decref(errors);
        errors = NULL;
    }
    if (!out && !errors && !dry_run && api->version != seen) {
        /* Another version came while the lock was dropped to validate:
         * doc was made on the one before; try again on the new one. */
        *retry = true;
        out = config_api_error(status, 412, "version_mismatch",
                               "the configuration moved on while the change was validated");
        json_object_set_new(out, "version", json_integer((json_int_t)api->version));
    }
    if (errors) {
        *status = 400;
        out = json_pack("{s:{s:s, s:s, s:o}}", "error", "code", "invalid", "message",
                        "the configuration would not load", "errors", errors);
    } else if (!out && dry_run) {
        *status = 200;
        out = json_pack("{s:b, s:b, s:I, s:o}", "dry_run", true, "valid", true, "version",
                        (json_int_t)api->version, "whatif", whatif ? whatif : json_null());
        whatif = NULL;
    } else if (!out && unchanged) {
        *status = 200;
        out = json_pack("{s:b, s:b, s:I}", "applied", false, "unchanged", true, "version",
                        (json_int_t)api->version);
    } else if (!out && api->fleet_mode)
        out = config_fleet_commit(api, *doc, touched, author, change, status, retry);
    else if (!out)
        out = config_api_commit(api, *doc, author, change, made, status);
    json_decref(whatif);
    if (api->in_fleet && !api->fleet_mode && *status < 300 &&
        !json_is_true(json_object_get(out, "unchanged")))
        json_array_append_new(warnings ? warnings : (warnings = json_array()),
                              json_string("this node is one of a fleet: the change is made to "
                                          "this node's configuration file only; the other nodes "
                                          "keep theirs (status shows config_mismatch until each "
                                          "has it): \"config_api\": {\"fleet\": true} shares "
                                          "the configuration through etcd"));
    if (warnings && json_array_size(warnings) && *status < 300)
        json_object_set(out, "warnings", warnings);
    json_decref(warnings);
    return out;
}

json_t *config_api_apply_locked(struct config_api *api, json_t *doc, uint64_t base,
                                struct config_api_made *made, uint64_t if_version,
                                const char *author, const char *change, bool dry_run,
                                const char *clients, int *status)
{
    char msg[300];
    struct drill_client cl[DRILL_MAX_CLIENTS];
    int n_cl = dry_run ? config_api_clients(clients, cl, msg, sizeof(msg)) : 0;
    if (n_cl < 0)
        return config_api_error(status, 400, "bad_request", msg);
    json_t *mine = json_incref(doc), *out = NULL;
    /* The change's new values take the equal ones the versions hold
     * (jsonshare.h): only what it touched, when that is known. A value
     * held once is the change's own (an edit's copy of its body). */
    if (doc)
        jsonshare_members(&api->share, doc, admin_config_kinds, made ? made->touched : NULL, true);
    /* Another node's version can win the race to etcd: without If-Match
     * the change is carried onto it and tried again (a few times). */
    for (int attempt = 0; !out; attempt++) {
        bool retry = false;
        out = config_api_apply_once(api, &mine, &base, made, if_version, author, change, dry_run,
                                    cl, n_cl, status, &retry);
        if (retry && !if_version && made && made->redo_ok) {
            made->redo = true; /* the caller makes it again on the newest */
            break;
        }
        if (retry && !if_version && attempt < 3) {
            json_decref(out);
            out = NULL;
            config_fleet_catch_up(api, 1.0);
        }
    }
    json_decref(mine);
    config_api_drop_delta(api);
    return out;
}

json_t *config_api_apply(struct config_api *api, json_t *doc, uint64_t base, uint64_t origin,
                         json_t *touched, uint64_t if_version, const char *author,
                         const char *change, bool dry_run, const char *clients, int *status)
{
    struct config_api_made made = {.origin = origin, .touched = touched};
    pthread_mutex_lock(&api->lock);
    json_t *out = config_api_apply_locked(api, doc, base, &made, if_version, author, change,
                                          dry_run, clients, status);
    pthread_mutex_unlock(&api->lock);
    return out;
}

json_t *config_api_history(struct config_api *api)
{
    json_t *a = json_array();
    pthread_mutex_lock(&api->lock);
    /* A fleet's versions can have gaps (a node that was down keeps at
     * most keep of those it missed, config_fleet_docs). */
    uint64_t oldest = api->version > api->keep ? api->version - api->keep + 1 : 1;
    for (uint64_t v = api->version; api->history_dir && v >= oldest && v > 0; v--) {
        json_t *m = config_api_load_version(api, v, ".meta.json");
        if (m)
            json_array_append_new(a, m);
    }
    pthread_mutex_unlock(&api->lock);
    return a;
}

json_t *config_api_version(struct config_api *api, uint64_t v)
{
    pthread_mutex_lock(&api->lock);
    json_t *doc = api->history_dir && v > 0 && v <= api->version
                      ? config_api_load_version(api, v, ".json")
                      : NULL;
    pthread_mutex_unlock(&api->lock);
    return doc;
}

/* ---- the admin API's view (admin_config_ops) ---------------------------- */

void config_api_admin_ops(struct config_api *api, struct admin_config_ops *ops)
{
    *ops = (struct admin_config_ops){.document = config_api_document,
                                     .read = config_api_read,
                                     .apply = config_api_apply,
                                     .edit = config_api_edit,
                                     .warm = config_api_warm,
                                     .history = config_api_history,
                                     .version = config_api_version,
                                     .api = api};
}

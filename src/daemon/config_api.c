/*
 * config_api.c -- the versioned configuration document (config_api.h).
 */
#include "daemon/config_api.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "admin/admin.h"
#include "common/log.h"
#include "daemon/config.h"
#include "daemon/load.h"
#include "drill/drill_whatif.h"
#include "health/health.h"
#include "serve/serve.h"

#define CONFIG_API_KEEP 100

void config_api_params_parse(const struct jsoncfg *x, json_t *v, struct config_api_params *p)
{
    static const char *const keys[] = {"history_dir", "keep", NULL};
    *p = (struct config_api_params){.keep = CONFIG_API_KEEP};
    if (!v)
        return;
    if (!json_is_object(v)) {
        jsoncfg_err(x, "$.config_api", "must be an object");
        return;
    }
    jsoncfg_check_keys(x, v, "$.config_api", keys);
    const char *d = jsoncfg_str(x, v, "history_dir", "$.config_api.history_dir");
    if (d && *d)
        p->history_dir = jsoncfg_path(x, d);
    else
        jsoncfg_err(x, "$.config_api.history_dir", "is required (a directory gtmd may write)");
    p->keep = (unsigned)jsoncfg_int(x, v, "keep", "$.config_api.keep", 2, 100000, CONFIG_API_KEEP);
}

void config_api_params_free(struct config_api_params *p)
{
    free(p->history_dir);
    p->history_dir = NULL;
}

/* ---- the history directory ------------------------------------------------ */

static void config_api_vpath(const struct config_api *api, uint64_t v, const char *ext, char *out,
                             size_t len)
{
    snprintf(out, len, "%s/%08llu%s", api->history_dir, (unsigned long long)v, ext);
}

/* Writes j to path through a temporary file and a rename; 0 or -1 (errno).
 * durable: fsync before the rename (not for a candidate that is only
 * validated: an fsync costs tens of ms on some disks). */
static int config_api_write_file(const char *path, json_t *j, mode_t mode, bool durable)
{
    char tmp[4200];
    snprintf(tmp, sizeof(tmp), "%s.tmp%ld", path, (long)getpid());
    char *text = json_dumps(j, JSON_INDENT(2));
    if (!text)
        return -1;
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
    size_t len = strlen(text), off = 0;
    while (fd >= 0 && off < len) {
        ssize_t n = write(fd, text + off, len - off);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break;
        off += (size_t)n;
    }
    bool ok = fd >= 0 && off == len && write(fd, "\n", 1) == 1 && fchmod(fd, mode) == 0 &&
              (!durable || fsync(fd) == 0);
    int saved = errno;
    if (fd >= 0)
        close(fd);
    free(text);
    if (!ok || rename(tmp, path) != 0) {
        saved = ok ? errno : saved;
        unlink(tmp);
        errno = saved;
        return -1;
    }
    return 0;
}

static int config_api_write_json(const char *path, json_t *j, mode_t mode)
{
    return config_api_write_file(path, j, mode, true);
}

/* The newest version number in the history directory (0: none). */
static uint64_t config_api_scan(const char *dir)
{
    uint64_t max = 0;
    DIR *d = opendir(dir);
    struct dirent *e;
    while (d && (e = readdir(d)) != NULL) {
        char *end;
        unsigned long long v = strtoull(e->d_name, &end, 10);
        if (end != e->d_name && strcmp(end, ".json") == 0 && v > max)
            max = v;
    }
    if (d)
        closedir(d);
    return max;
}

/* Keeps api->keep versions: removes the one that just fell out. */
static void config_api_prune(struct config_api *api)
{
    if (api->version <= api->keep)
        return;
    char p[4200];
    for (uint64_t v = api->version - api->keep; v > 0; v--) {
        config_api_vpath(api, v, ".json", p, sizeof(p));
        if (unlink(p) != 0)
            break; /* older ones went before */
        config_api_vpath(api, v, ".meta.json", p, sizeof(p));
        unlink(p);
    }
}

/* Records doc as the next version (caller holds the lock); 0 or -1. */
static int config_api_record(struct config_api *api, json_t *doc, const char *source,
                             const char *author, const char *change)
{
    char p[4200];
    uint64_t v = api->version + 1;
    json_t *meta =
        json_pack("{s:I, s:f, s:s, s:s, s:s}", "version", (json_int_t)v, "time", (double)time(NULL),
                  "source", source, "author", author ? author : "", "change", change ? change : "");
    config_api_vpath(api, v, ".meta.json", p, sizeof(p));
    int rc = config_api_write_json(p, meta, 0640);
    json_decref(meta);
    config_api_vpath(api, v, ".json", p, sizeof(p));
    if (rc == 0)
        rc = config_api_write_json(p, doc, 0640);
    if (rc != 0) {
        log_error("event=config_history result=failed dir=%s error=\"%s\"", api->history_dir,
                  strerror(errno));
        return -1;
    }
    api->version = v;
    config_api_prune(api);
    log_info("event=config_version version=%llu source=%s author=%s", (unsigned long long)v, source,
             author ? author : "");
    return 0;
}

static json_t *config_api_load_version(const struct config_api *api, uint64_t v, const char *ext)
{
    char p[4200];
    config_api_vpath(api, v, ext, p, sizeof(p));
    return jsoncfg_load_file(p, JSON_REJECT_DUPLICATES, NULL);
}

/* The file differs from the newest version: record it (caller holds the
 * lock). */
static void config_api_sync_file(struct config_api *api, const char *change)
{
    if (!api->history_dir)
        return;
    json_t *doc = jsoncfg_load_file(api->path, JSON_REJECT_DUPLICATES, NULL);
    json_t *last = api->version ? config_api_load_version(api, api->version, ".json") : NULL;
    if (doc && !json_equal(doc, last))
        config_api_record(api, doc, "file", "file", change);
    json_decref(doc);
    json_decref(last);
}

static void config_api_take_params(struct config_api *api, const struct config_api_params *p)
{
    free(api->history_dir);
    api->history_dir = p->history_dir ? strdup(p->history_dir) : NULL;
    api->keep = p->keep;
    api->version = 0;
    api->why_off[0] = '\0';
    if (!api->history_dir)
        return;
    if ((mkdir(api->history_dir, 0750) != 0 && errno != EEXIST) ||
        access(api->history_dir, W_OK | X_OK) != 0) {
        snprintf(api->why_off, sizeof(api->why_off), "the history directory %s: %s",
                 api->history_dir, strerror(errno));
        log_error("event=config_history result=failed dir=%s error=\"%s\" note=\"changes through "
                  "the API are off\"",
                  api->history_dir, strerror(errno));
        free(api->history_dir);
        api->history_dir = NULL;
        return;
    }
    api->version = config_api_scan(api->history_dir);
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

void config_api_init(struct config_api *api, const char *path, const struct config_api_params *p,
                     config_api_reload_fn reload, void *reload_arg)
{
    *api = (struct config_api){.path = strdup(path), .reload = reload, .reload_arg = reload_arg};
    pthread_mutex_init(&api->lock, NULL);
    config_api_take_params(api, p);
    config_api_sync_file(api, "the configuration file at start");
}

void config_api_free(struct config_api *api)
{
    free(api->path);
    free(api->history_dir);
    pthread_mutex_destroy(&api->lock);
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
    api->keep = p->keep;
    pthread_mutex_unlock(&api->lock);
}

void config_api_note_reload(struct config_api *api)
{
    pthread_mutex_lock(&api->lock);
    config_api_sync_file(api, "the configuration file, reloaded");
    pthread_mutex_unlock(&api->lock);
}

json_t *config_api_document(struct config_api *api, uint64_t *version, char *err, size_t len)
{
    json_error_t je;
    pthread_mutex_lock(&api->lock);
    json_t *doc = jsoncfg_load_file(api->path, JSON_REJECT_DUPLICATES, &je);
    *version = api->version;
    pthread_mutex_unlock(&api->lock);
    if (!doc)
        snprintf(err, len, "%s: %s", api->path, je.text);
    return doc;
}

/* ---- validation and apply ---------------------------------------------- */

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
    const char *slash = strrchr(api->path, '/');
    int dl = slash ? (int)(slash - api->path) : 1;
    snprintf(cand, sizeof(cand), "%.*s/.%s.api-candidate", dl, slash ? api->path : ".",
             slash ? slash + 1 : api->path);
    struct errlist errs, warns;
    struct health_core priv;
    errlist_init(&errs);
    errlist_init(&warns);
    health_core_init(&priv);
    if (config_api_write_file(cand, doc, 0600, false) != 0)
        errlist_add(&errs, "%s: cannot write a candidate beside it: %s", api->path,
                    strerror(errno));
    else {
        struct config *cfg = config_load(cand, &errs);
        struct serve_set *set =
            cfg ? load_set_warn(cfg, 1, whatif ? &priv : NULL, NULL, &errs, &warns) : NULL;
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

static json_t *config_api_error(int *status, int st, const char *code, const char *msg)
{
    *status = st;
    return json_pack("{s:{s:s, s:s}}", "error", "code", code, "message", msg);
}

/* Forgets the newest version (caller holds the lock): its change was not
 * made after all. */
static void config_api_drop_newest(struct config_api *api)
{
    char p[4200];
    config_api_vpath(api, api->version, ".json", p, sizeof(p));
    unlink(p);
    config_api_vpath(api, api->version, ".meta.json", p, sizeof(p));
    unlink(p);
    api->version--;
}

/* Writes doc as the configuration file and reloads; on failure the old
 * file is put back and the version recorded for doc dropped. Called with
 * the lock held; drops it around the reload (which takes the daemon's
 * reload lock and calls config_api_note_reload). */
static json_t *config_api_commit(struct config_api *api, json_t *doc, json_t *old,
                                 const char *author, const char *change, int *status)
{
    struct stat st;
    mode_t mode = stat(api->path, &st) == 0 ? st.st_mode & 07777 : 0640;
    if (config_api_record(api, doc, "api", author, change) != 0) {
        return config_api_error(status, 500, "history_failed",
                                "the new version could not be kept in the history directory");
    }
    if (config_api_write_json(api->path, doc, mode) != 0) {
        char msg[600];
        snprintf(msg, sizeof(msg), "cannot write %s: %s", api->path, strerror(errno));
        config_api_drop_newest(api); /* it was never the file's */
        return config_api_error(status, 500, "write_failed", msg);
    }
    pthread_mutex_unlock(&api->lock);
    bool ok = false;
    json_t *res = api->reload(api->reload_arg, &ok);
    pthread_mutex_lock(&api->lock);
    if (!ok && old) {
        /* Validated, yet the reload failed (a resource ran out): back. */
        config_api_write_json(api->path, old, mode);
        config_api_drop_newest(api);
    }
    *status = ok ? 201 : 500;
    return json_pack("{s:b, s:I, s:o}", "applied", ok, "version", (json_int_t)api->version,
                     "reload", res);
}

json_t *config_api_apply(struct config_api *api, json_t *doc, uint64_t if_version,
                         const char *author, const char *change, bool dry_run, const char *clients,
                         int *status)
{
    pthread_mutex_lock(&api->lock);
    json_t *out = NULL, *warnings = NULL, *errors = NULL, *whatif = NULL;
    char msg[300];
    struct drill_client cl[DRILL_MAX_CLIENTS];
    int n_cl = dry_run ? config_api_clients(clients, cl, msg, sizeof(msg)) : 0;
    if (n_cl < 0)
        out = config_api_error(status, 400, "bad_request", msg);
    else if (!api->history_dir && !dry_run && api->why_off[0])
        out = config_api_error(status, 403, "config_api_off", api->why_off);
    else if (!api->history_dir && !dry_run)
        out = config_api_error(status, 403, "config_api_off",
                               "changes through the API need \"config_api\": {\"history_dir\": "
                               "...} in the configuration file");
    else if (if_version && if_version != api->version) {
        snprintf(msg, sizeof(msg), "the configuration is at version %llu, not %llu",
                 (unsigned long long)api->version, (unsigned long long)if_version);
        out = config_api_error(status, 412, "version_mismatch", msg);
        json_object_set_new(out, "version", json_integer((json_int_t)api->version));
    }
    /* What the file holds now: a change that leaves it as it is needs no
     * validation, write, reload or version; else it is what a failed
     * reload puts back. */
    json_t *cur =
        out || dry_run ? NULL : jsoncfg_load_file(api->path, JSON_REJECT_DUPLICATES, NULL);
    bool unchanged = cur && json_equal(cur, doc);
    if (!out && !unchanged)
        errors = config_api_validate(api, doc, &warnings, cl, n_cl, dry_run ? &whatif : NULL);
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
    } else if (!out)
        out = config_api_commit(api, doc, cur, author, change, status);
    json_decref(cur);
    json_decref(whatif);
    if (api->in_fleet && *status < 300 && !json_is_true(json_object_get(out, "unchanged")))
        json_array_append_new(warnings ? warnings : (warnings = json_array()),
                              json_string("this node is one of a fleet: the change is made to "
                                          "this node's configuration file only; the other nodes "
                                          "keep theirs (status shows config_mismatch until each "
                                          "has it), since a fleet-wide configuration is not "
                                          "built yet"));
    if (warnings && json_array_size(warnings) && *status < 300)
        json_object_set(out, "warnings", warnings);
    json_decref(warnings);
    pthread_mutex_unlock(&api->lock);
    return out;
}

json_t *config_api_history(struct config_api *api)
{
    json_t *a = json_array();
    pthread_mutex_lock(&api->lock);
    for (uint64_t v = api->version; api->history_dir && v > 0; v--) {
        json_t *m = config_api_load_version(api, v, ".meta.json");
        if (!m)
            break;
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

/* ---- the admin API's callbacks (admin_config_ops) ------------------------ */

static json_t *config_api_op_document(void *arg, uint64_t *version, char *err, size_t len)
{
    return config_api_document(arg, version, err, len);
}

static json_t *config_api_op_apply(void *arg, json_t *doc, uint64_t if_version, const char *author,
                                   const char *change, bool dry_run, const char *clients,
                                   int *status)
{
    return config_api_apply(arg, doc, if_version, author, change, dry_run, clients, status);
}

static json_t *config_api_op_history(void *arg)
{
    return config_api_history(arg);
}

static json_t *config_api_op_version(void *arg, uint64_t v)
{
    return config_api_version(arg, v);
}

void config_api_admin_ops(struct config_api *api, struct admin_config_ops *ops)
{
    *ops = (struct admin_config_ops){.document = config_api_op_document,
                                     .apply = config_api_op_apply,
                                     .history = config_api_op_history,
                                     .version = config_api_op_version,
                                     .arg = api};
}

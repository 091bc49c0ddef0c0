/*
 * config_fleet.c -- the fleet's configuration ("config_api": {"fleet":
 * true}; doc/fleet.md, "One configuration for the fleet").
 *
 * The shared part of the configuration (config_shared_part: everything
 * but the node-local keys) lives in etcd as numbered versions
 * (fleet_config.h). Every node applies each version as its own file: the
 * version's shared part with the node's own node-local keys, validated,
 * written, reloaded and kept in its history directory under the fleet's
 * number. So the file stays the thing gtmd serves, and `gtmd check`,
 * backups and diffs keep working on it.
 *
 * Which wins:
 *  - a change through any node's API is published as the fleet's next
 *    version (a compare-and-swap on the version it was made on) and
 *    answered once this node serves it;
 *  - etcd wins over a file: a node that was down, or whose file was
 *    edited while the fleet moved on, takes the fleet's version (the
 *    edited file is kept beside as FILE.rejected);
 *  - a file edited by hand on top of the version the fleet is at (then
 *    SIGHUP, or a restart) is published as the next version, source
 *    "file";
 *  - a fleet whose etcd holds no configuration takes the first node's
 *    file as version 1 (source "bootstrap");
 *  - a node that joins (its history holds no fleet version yet) moves its
 *    own history aside (DIR/before-fleet-TIME) and its file beside
 *    (FILE.before-fleet): from then on its version numbers are the
 *    fleet's.
 * A version a node cannot apply (it does not validate there: a file it
 * names is missing, say) leaves the node on its last good one; its node
 * record and /v1/status (fleet.nodes) say which version and why.
 *
 * Threads: config_fleet_offer runs on the fleet thread and only hands
 * over (pend_lock); applying runs on the main thread (ev_fleet); commits
 * come from the admin API's store thread. api->lock orders them and is
 * never held while waiting for etcd.
 */
#include <dirent.h>
#include <errno.h>
#include <event2/event.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "common/deadline.h"
#include "common/jsondelta.h"
#include "common/log.h"
#include "control/config.h"
#include "control/config_api_int.h"
#include "control/config_store.h"
#include "fleet/fleet.h"

/* A change through the API is answered within this (etcd, then this node
 * applying it). */
#define CONFIG_FLEET_DEADLINE_S 5.0
/* The wait of a version made from the file (config_fleet_file_wait): the
 * bootstrap's whole document goes into etcd in parts ("config_part_kib"),
 * a put each, so it is given CONFIG_FLEET_DEADLINE_S and a second for
 * each CONFIG_FLEET_BOOTSTRAP_BPS of the file. At 1,000,000 records (96
 * MB) a 3-member etcd on a loaded 2-core machine took 4-18 s: 5 s
 * answered "did not answer in time" while the version was still being
 * written. */
#define CONFIG_FLEET_BOOTSTRAP_BPS (8.0 * 1024 * 1024)
/* How long a change waits for the version being applied here
 * (config_fleet_settle). */
#define CONFIG_FLEET_BASE_WAIT_S 1.0
/* How long applying a version waits for the file writer to let go of the
 * version it replaced (config_store_let_go): the writer checks after each
 * 64 KB it dumps, at nice 10, and a late write lists the version for its
 * copy in 26-31 ms at 1,000,000 records; a copy of 1,000,000 records
 * instead is 0.5-1 s on the main thread. */
#define CONFIG_FLEET_LET_GO_MS 50.0
/* Objects of a working document of a chain known to be its own
 * (config_fleet_chain): records, pools, checks... */
#define CONFIG_FLEET_OWNED_MAX 16

/* The shared parts of a and b are the same. */
static bool config_fleet_same_shared(json_t *a, json_t *b)
{
    json_t *x = config_shared_part(a), *y = config_shared_part(b);
    bool same = jsondelta_equal(x, y);
    json_decref(x);
    json_decref(y);
    return same;
}

void config_fleet_settle(struct config_api *api)
{
    struct timespec until = deadline_after(CONFIG_FLEET_BASE_WAIT_S);
    while (api->fleet_applying && pthread_cond_timedwait(&api->applied, &api->lock, &until) == 0)
        ;
}

/* The shared part of fleet version v as this node has it (borrowed), or
 * NULL: the cached one, else this node's own version read from its
 * history once. (lock) */
static json_t *config_fleet_base(struct config_api *api, uint64_t v)
{
    /* Recorded by the main thread's reload and not kept as the base yet: a
     * moment away, where reading it from the history is 15 MB parsed at
     * 100,000 records, under this lock, which the main thread waits for. */
    if (api->fleet_applying == v && v && api->fleet_doc_v != v)
        config_fleet_settle(api);
    if (api->fleet_doc && api->fleet_doc_v == v)
        return api->fleet_doc;
    if (v == 0 || v != api->version)
        return NULL;
    log_info("event=config_fleet_base version=%llu kept=%llu applying=%llu note=\"the base of "
             "the version's delta is read from the history\"",
             (unsigned long long)v, (unsigned long long)api->fleet_doc_v,
             (unsigned long long)api->fleet_applying);
    json_t *m = config_api_load_version(api, v, ".meta.json");
    bool fleet = json_is_true(json_object_get(m, "fleet"));
    json_decref(m);
    json_t *doc = fleet ? config_api_load_version(api, v, ".json") : NULL;
    if (!doc)
        return NULL;
    json_decref(api->fleet_doc);
    jsonrecycle_clear(&api->fleet_recycle); /* kept for the one replaced */
    api->fleet_doc = config_shared_part(doc);
    api->fleet_doc_v = v;
    json_decref(doc);
    return api->fleet_doc;
}

/* shared (a reference taken) is fleet version v's shared part; delta:
 * what turned the one kept before into it (NULL: unknown). The one kept
 * before is retired (jsonrecycle.h): its objects become the next
 * version's copy once config_fleet_take let its last document go. (lock) */
static void config_fleet_keep_base(struct config_api *api, uint64_t v, json_t *shared,
                                   json_t *delta)
{
    json_incref(shared);
    if (api->fleet_doc && delta)
        jsonrecycle_retire(&api->fleet_recycle, api->fleet_doc, delta, shared);
    else {
        json_decref(api->fleet_doc);
        jsonrecycle_clear(&api->fleet_recycle);
    }
    api->fleet_doc = shared;
    api->fleet_doc_v = v;
}

/* Gives the copy made at start (api->fleet_prewarm) to the fleet's
 * recycler for base, the shared part now kept, when base's resources are
 * the very objects of the document it was copied from (a joining node's
 * own document became the version). Either way it is let go: a later
 * version is not that document. (lock) */
static void config_fleet_prewarm_take(struct config_api *api, json_t *base, uint64_t v)
{
    json_t *copy = api->fleet_prewarm, *root = api->fleet_prewarm_root;
    api->fleet_prewarm = api->fleet_prewarm_root = NULL;
    bool same = copy && base;
    for (const char *const *k = api->fleet_recycle.kinds; same && *k; k++)
        same = json_object_get(base, *k) == json_object_get(root, *k);
    if (same && !jsonrecycle_ready(&api->fleet_recycle, base)) {
        jsonrecycle_keep_copy(&api->fleet_recycle, copy, base);
        log_info("event=config_fleet_warm result=ready version=%llu at=start",
                 (unsigned long long)v);
    } else
        json_decref(copy);
    json_decref(root);
}

/* Whether the fleet's recycler wants a copy of base, fleet version v's
 * shared part kept: it has none ready, none was tried for it, and no
 * version is being applied (which replaces it). (lock) */
static bool config_fleet_warm_wanted(struct config_api *api, json_t *base, uint64_t v)
{
    return base && !api->fleet_applying &&
           !(api->fleet_warm_doc == base && api->fleet_warm_v == v + 1) &&
           !jsonrecycle_ready(&api->fleet_recycle, base);
}

bool config_fleet_warm(struct config_api *api)
{
    pthread_mutex_lock(&api->lock);
    json_t *base = api->fleet_doc;
    uint64_t v = api->fleet_doc_v;
    if (!config_fleet_warm_wanted(api, base, v)) {
        pthread_mutex_unlock(&api->lock);
        return false;
    }
    api->fleet_warm_doc = base;
    api->fleet_warm_v = v + 1;
    json_incref(base);
    pthread_mutex_unlock(&api->lock);
    double t0 = deadline_mono();
    /* Off the lock: base is kept, never changed (its successor is made
     * from a copy), and the reference keeps it whole meanwhile. */
    json_t *copy = jsonrecycle_copy_fresh(api->fleet_recycle.kinds, base);
    pthread_mutex_lock(&api->lock);
    bool fits = copy && api->fleet_doc == base && api->fleet_doc_v == v && !api->fleet_applying &&
                !jsonrecycle_ready(&api->fleet_recycle, base);
    if (fits) {
        /* An unused copy: retired with an empty delta to base and taken
         * apart, so that the next version's copy of base takes it whole
         * (jsonrecycle.h), as config_api_warm's copy of the document. */
        jsonrecycle_keep_copy(&api->fleet_recycle, copy, base);
    } else
        json_decref(copy);
    json_decref(base);
    pthread_mutex_unlock(&api->lock);
    log_info("event=config_fleet_warm result=%s version=%llu ms=%.1f", fits ? "ready" : "dropped",
             (unsigned long long)v, (deadline_mono() - t0) * 1e3);
    return fits;
}

/* The delta of fleet record rec when shared, its shared part, was made
 * from the one this node keeps by that delta (config_fleet_docs), else
 * NULL (borrowed). (lock) */
static json_t *config_fleet_kept_delta(struct config_api *api, json_t *rec, json_t *shared)
{
    json_t *d = json_object_get(rec, "delta");
    return json_is_object(d) && api->fleet_doc && shared == api->fleet_from_kept ? d : NULL;
}

/* base with delta dl applied (a new reference; NULL with why in err): its
 * changed objects copied, or taken from the version before base when
 * those were kept (jsonrecycle.h), so that no object of 100,000 members
 * is copied or freed for a change of a few. */
static json_t *config_fleet_apply_delta(struct config_api *api, json_t *base, json_t *dl, char *err,
                                        size_t len)
{
    json_t *in = json_object_get(dl, "in");
    if (!jsonrecycle_ready(&api->fleet_recycle, base) || !json_is_object(in))
        return jsondelta_apply(base, dl, err, len);
    json_t *made = jsonrecycle_copy(&api->fleet_recycle, base, in), *v;
    const char *k;
    json_object_foreach(in, k, v) /* another object it changes: a copy, as jsondelta_apply's */
    {
        json_t *mine = json_object_get(made, k);
        if (json_is_object(mine) && mine == json_object_get(base, k))
            json_object_set_new(made, k, json_copy(mine));
    }
    if (made && jsondelta_apply_in(made, dl, err, len))
        return made;
    json_decref(made);
    return NULL;
}

/* What record rec's delta touched, as jsondelta_diff_some takes it, when
 * cur (this node's document) is the shared part kept with its local keys:
 * every one of kinds in cur is base's own object (base: the shared part
 * the delta was made against). NULL otherwise. A new reference. */
static json_t *config_fleet_touched(const char *const *kinds, json_t *cur, json_t *base, json_t *dl)
{
    if (!dl || !base)
        return NULL;
    for (const char *const *k = kinds; *k; k++)
        if (json_object_get(cur, *k) != json_object_get(base, *k))
            return NULL;
    return jsondelta_touched(dl, kinds);
}

/* Whether each key of touched is the same object in a and b: there
 * jsondelta_diff_some compares only the members touched names (every
 * other key it compares whole). */
static bool config_fleet_same_touched(json_t *touched, json_t *a, json_t *b)
{
    const char *k;
    json_t *v;
    json_object_foreach(touched, k, v)
    {
        if (json_object_get(a, k) != json_object_get(b, k))
            return false;
    }
    return true;
}

/* Publishes doc's shared part as the version after base, with what it
 * changes against base when this node has base (fleet_config_publish
 * writes the delta when the fleet can take it); lock dropped meanwhile.
 * (lock) */
static enum shared_status config_fleet_publish(struct config_api *api, json_t *doc, json_t *touched,
                                               uint64_t base, const char *source,
                                               const char *author, const char *change,
                                               double wait_s, uint64_t *version, char *err,
                                               size_t len)
{
    json_t *shared = config_shared_part(doc);
    json_t *rec = json_pack("{s:o, s:s, s:s, s:s}", "doc", shared, "source", source, "author",
                            author ? author : "", "change", change ? change : "");
    json_t *from = config_fleet_base(api, base);
    if (from) {
        /* A change made from api->doc whose resources are the base's own
         * objects (config_fleet_apply keeps them so) differs from the
         * base by what it touched only: 100,000 records compared side by
         * side were a sixth of a fleet's change on the node taking it
         * (issue #38). */
        json_t *only = touched && api->doc && config_fleet_same_touched(touched, api->doc, from)
                           ? touched
                           : NULL;
        json_object_set_new(rec, "delta", jsondelta_diff_some(from, shared, only));
        json_object_set_new(rec, "base", json_integer((json_int_t)base));
    }
    unsigned keep = api->keep;
    struct fleet *f = api->fleet;
    pthread_mutex_unlock(&api->lock);
    enum shared_status st =
        f ? fleet_config_publish(f, rec, base, keep, deadline_mono() + wait_s, version, err, len)
          : SHARED_UNAVAILABLE;
    if (!f)
        snprintf(err, len, "the fleet is not running");
    pthread_mutex_lock(&api->lock);
    json_decref(rec);
    return st;
}

/* How long a version made from the file (the bootstrap, a hand edit)
 * waits for etcd: no client waits for it, and its document may be whole
 * (CONFIG_FLEET_BOOTSTRAP_BPS). */
static double config_fleet_file_wait(const struct config_api *api)
{
    struct stat st;
    double bytes = stat(api->path, &st) == 0 ? (double)st.st_size : 0;
    return CONFIG_FLEET_DEADLINE_S + bytes / CONFIG_FLEET_BOOTSTRAP_BPS;
}

static int config_fleet_http(enum shared_status st)
{
    return st == SHARED_CONFLICT ? 412 : st == SHARED_UNKNOWN ? 504 : 503;
}

json_t *config_fleet_commit(struct config_api *api, json_t *doc, json_t *touched,
                            const char *author, const char *change, int *status, bool *retry)
{
    uint64_t v = 0;
    char err[300];
    enum shared_status st =
        config_fleet_publish(api, doc, touched, api->version, "api", author, change,
                             CONFIG_FLEET_DEADLINE_S, &v, err, sizeof(err));
    if (st == SHARED_CONFLICT) {
        *retry = true;
        json_t *out = config_api_error(status, 412, "version_mismatch", err);
        json_object_set_new(out, "version", json_integer((json_int_t)api->version));
        return out;
    }
    if (st != SHARED_OK)
        return config_api_error(status, config_fleet_http(st), "etcd", err);
    /* In etcd: answered once this node serves it (the watch, then the main
     * thread), so that a client can read its change back here at once. */
    struct timespec ts = deadline_after(CONFIG_FLEET_DEADLINE_S);
    while (api->version < v && api->fleet_failed < v)
        if (pthread_cond_timedwait(&api->applied, &api->lock, &ts) != 0)
            break;
    if (api->version >= v) {
        *status = 201;
        return json_pack("{s:b, s:I, s:b}", "applied", true, "version", (json_int_t)v, "fleet",
                         true);
    }
    char msg[800];
    snprintf(msg, sizeof(msg), "version %llu is the fleet's, but this node %s%s",
             (unsigned long long)v,
             api->fleet_failed >= v ? "could not apply it: " : "has not applied it yet",
             api->fleet_failed >= v ? api->fleet_why : " (see fleet.nodes in /v1/status)");
    json_t *out = config_api_error(status, api->fleet_failed >= v ? 500 : 504, "not_applied", msg);
    json_object_set_new(out, "version", json_integer((json_int_t)v));
    return out;
}

void config_fleet_catch_up(struct config_api *api, double timeout_s)
{
    uint64_t head = api->fleet ? fleet_config_head(api->fleet) : 0;
    struct timespec ts = deadline_after(timeout_s);
    while (api->version < head && api->fleet_failed < head)
        if (pthread_cond_timedwait(&api->applied, &api->lock, &ts) != 0)
            break;
}

bool config_fleet_newer(struct config_api *api, uint64_t seen)
{
    /* Read under the lock: a stop detaches the fleet (config_fleet_detach)
     * while this thread may be here; it is freed only after this thread
     * stopped. */
    struct fleet *f = api->fleet;
    if (!f || api->version != seen)
        return api->version != seen;
    pthread_mutex_unlock(&api->lock);
    int rc = fleet_config_sync(f, deadline_mono() + CONFIG_FLEET_DEADLINE_S);
    pthread_mutex_lock(&api->lock);
    if (rc == 0)
        config_fleet_catch_up(api, 2.0);
    return api->version != seen;
}

/* ---- the main thread: versions from etcd, hand edits ------------------------ */

/* Tells the fleet (and the waiting API) what this node serves. (lock) */
static void config_fleet_done(struct config_api *api, uint64_t failed, const char *why)
{
    api->fleet_applying = 0;
    if (failed) {
        api->fleet_failed = failed;
        snprintf(api->fleet_why, sizeof(api->fleet_why), "%s", why);
        char e[600];
        snprintf(e, sizeof(e), "version %llu: %s", (unsigned long long)failed, why);
        log_error("event=config_fleet_refused version=%llu serving=%llu why=\"%s\"",
                  (unsigned long long)failed, (unsigned long long)api->version, why);
        if (api->fleet)
            fleet_config_applied(api->fleet, api->version, e);
    } else if (api->fleet)
        fleet_config_applied(api->fleet, api->version, "");
    pthread_cond_broadcast(&api->applied);
}

/* The meta of a version from its fleet record. */
static json_t *config_fleet_meta(json_t *rec)
{
    json_t *m = json_object();
    static const char *const keep[] = {"time", "source", "author", "change",
                                       "node", "signer", NULL};
    for (const char *const *k = keep; *k; k++) {
        json_t *v = json_object_get(rec, *k);
        if (v)
            json_object_set(m, *k, v);
    }
    json_object_set_new(m, "fleet", json_true());
    return m;
}

/* Applies record rec (the fleet's version N, whose shared part is
 * shared) with cur's node-local keys. (lock) */
static void config_fleet_apply(struct config_api *api, json_t *rec, json_t *shared, json_t *cur)
{
    uint64_t v = (uint64_t)json_integer_value(json_object_get(rec, "version"));
    json_t *doc = config_with_local(shared, cur);
    json_t *meta = config_fleet_meta(rec);
    json_t *dl = config_fleet_kept_delta(api, rec, shared);
    /* Whether anything changes here, and what the journal keeps of it
     * (config_api_served): the names the version's delta touched, when
     * this node's document is the shared part it was made against. */
    json_t *only =
        config_fleet_touched(api->fleet_recycle.kinds, cur, dl ? api->fleet_doc : NULL, dl);
    json_t *delta = only ? jsondelta_diff_some(cur, doc, only) : jsondelta_diff(cur, doc);
    json_decref(only);
    if (jsondelta_count(delta) == 0) { /* this node's own edit, a restart, a joining node */
        /* What is kept (the history's version, the base of the next
         * delta) is this node's own document, not the one just read: the
         * same content, and its objects are those served, compiled and
         * shared with the configuration API's copy. Keeping the one read
         * (a whole version from etcd, parsed) held a second document for
         * good, some 500 MB at 1,000,000 records, and made the first
         * delta after it replace every record's object, so that every
         * record was compiled again. */
        json_t *own = config_shared_part(cur);
        if (config_api_record_as(api, v, cur, meta, NULL) == 0) {
            config_api_file_is_version(api);
            config_fleet_keep_base(api, v, own, dl);
            config_fleet_prewarm_take(api, own, v);
            config_fleet_done(api, 0, NULL);
        } else
            config_fleet_done(api, v, "the history directory could not keep it");
        json_decref(own);
    } else {
        json_t *res = NULL;
        int status;
        api->fleet_applying = v;
        config_api_keep_delta(api, cur, doc, delta);
        int rc = config_api_install(api, doc, v, meta, &res, &status);
        config_api_drop_delta(api);
        if (rc == 0) {
            config_fleet_keep_base(api, v, shared, dl);
            config_fleet_done(api, 0, NULL);
        } else {
            json_t *e = json_object_get(res, "error");
            const char *first = json_string_value(json_array_get(json_object_get(e, "errors"), 0));
            const char *msg = json_string_value(json_object_get(e, "message"));
            config_fleet_done(api, v, first ? first : msg ? msg : "it does not load here");
        }
        json_decref(res);
    }
    json_decref(delta);
    json_decref(meta);
    json_decref(doc);
}

/* The file differs from the version this node last applied: an edit by
 * hand. Published when the fleet is still at that version; else the
 * fleet's wins and the file is kept beside. true when published. (lock) */
static bool config_fleet_edit(struct config_api *api, json_t *cur, uint64_t head)
{
    if (config_api_file_known(api))
        return false; /* as this node last applied or compared it */
    struct config_api_stamp now = config_api_stamp_now(api);
    if (config_api_stamp_same(&now, &api->published))
        return false; /* this node's published edit: its version is on its way */
    json_t *last = api->version ? config_api_load_version(api, api->version, ".json") : NULL;
    bool edited = last && !config_fleet_same_shared(cur, last);
    json_decref(last);
    if (!edited) {
        config_api_file_is_version(api);
        return false;
    }
    if (head == api->version) {
        uint64_t v = 0;
        char err[300];
        struct config_api_stamp at = config_api_stamp_now(api);
        enum shared_status st = config_fleet_publish(
            api, cur, NULL, head, "file", "file", "the configuration file, edited on this node",
            config_fleet_file_wait(api), &v, err, sizeof(err));
        if (st == SHARED_OK)
            api->published = at; /* its version, when it comes back, is this file */
        log_info("event=config_fleet_file result=%s version=%llu error=\"%s\"",
                 st == SHARED_OK ? "published" : "not_published", (unsigned long long)v, err);
        return st == SHARED_OK;
    }
    char keep[4200];
    snprintf(keep, sizeof(keep), "%s.rejected", api->path);
    config_api_write_json(keep, cur, 0600);
    log_warn("event=config_fleet_file result=replaced kept=%s version=%llu fleet=%llu "
             "note=\"this file was edited while the fleet moved on: the fleet's version "
             "replaces it\"",
             keep, (unsigned long long)api->version, (unsigned long long)head);
    return false;
}

/* Moves the history directory's versions into aside; false when it could
 * not be made. */
static bool config_fleet_move_history(struct config_api *api, const char *aside)
{
    if (mkdir(aside, 0750) != 0)
        return false;
    DIR *d = opendir(api->history_dir);
    struct dirent *e;
    char from[4400], to[4400];
    while (d && (e = readdir(d)) != NULL) {
        size_t n = strlen(e->d_name);
        if (n < 6 || strcmp(e->d_name + n - 5, ".json") != 0)
            continue;
        snprintf(from, sizeof(from), "%s/%s", api->history_dir, e->d_name);
        snprintf(to, sizeof(to), "%s/%s", aside, e->d_name);
        rename(from, to);
    }
    if (d)
        closedir(d);
    return true;
}

/* This node joins the fleet's configuration: its newest version is its
 * own (from before; no "fleet" in its meta). Its history moves aside and
 * its file is kept beside, so that its version numbers are the fleet's.
 * (lock) */
static void config_fleet_join(struct config_api *api, json_t *cur)
{
    if (!api->version)
        return;
    if (config_api_on_fleet_version(api))
        return;
    char aside[4200], keep[4200];
    snprintf(aside, sizeof(aside), "%s/before-fleet-%ld", api->history_dir, (long)time(NULL));
    snprintf(keep, sizeof(keep), "%s.before-fleet", api->path);
    config_api_write_json(keep, cur, 0600);
    config_store_flush(api->store, true); /* every version of its own in the directory */
    if (!config_fleet_move_history(api, aside)) {
        log_error("event=config_fleet_join result=failed dir=%s error=\"%s\"", aside,
                  strerror(errno));
        return;
    }
    log_info("event=config_fleet_join versions=%llu kept=%s file=%s",
             (unsigned long long)api->version, aside, keep);
    api->version = 0;
}

/* A whole version (doc, read from etcd: every member a new object) as a
 * document that shares with near (the version before, as this node has
 * it) every member equal to near's: the loader then keeps those records
 * compiled instead of compiling all of them again, which a fleet's
 * periodic whole version cost every node (3.4 s at 100,000 records,
 * against 0.5 s for a delta). A new reference; doc's own when near is
 * NULL or the two do not fit. */
static json_t *config_fleet_share(json_t *near, json_t *doc)
{
    if (!json_is_object(near) || !json_is_object(doc))
        return json_incref(doc); /* nothing to share, or not a document: refused later */
    char err[300];
    json_t *d = jsondelta_diff(near, doc);
    json_t *made = jsondelta_apply(near, d, err, sizeof(err));
    json_decref(d);
    return made ? made : json_incref(doc);
}

/* The version before the one config_fleet_docs builds: borrowed from the
 * array, or a working document nothing else holds (a version of a long
 * chain that is not kept), whose objects under the keys in owned were
 * copied for it and change in place. So a node reading a chain of
 * hundreds of deltas at 100,000 records neither keeps hundreds of
 * documents nor copies the records object once per delta. root_owned:
 * the working document's root was made here (a whole version taken as
 * it came is the fetched record's own "doc": copied before it changes). */
struct config_fleet_chain {
    json_t *prev;
    bool work, root_owned;
    struct {
        char key[64];
        json_t *obj; /* prev's own (a reference held by prev) */
    } owned[CONFIG_FLEET_OWNED_MAX];
    size_t n_owned;
};

/* The object under k in the working document is its own copy. */
static bool config_fleet_chain_owns(const struct config_fleet_chain *c, json_t *doc, const char *k)
{
    json_t *mine = json_object_get(doc, k);
    for (size_t i = 0; mine && i < c->n_owned; i++)
        if (c->owned[i].obj == mine && strcmp(c->owned[i].key, k) == 0)
            return true;
    return false;
}

/* Records obj (the working document's own copy under k) as owned. A key
 * past the table's room or too long stays unrecorded: the next step then
 * copies that object again, which costs time and is never wrong. */
static void config_fleet_chain_own(struct config_fleet_chain *c, const char *k, json_t *obj)
{
    if (c->n_owned >= CONFIG_FLEET_OWNED_MAX || strlen(k) >= sizeof(c->owned[0].key))
        return;
    snprintf(c->owned[c->n_owned].key, sizeof(c->owned[0].key), "%s", k);
    c->owned[c->n_owned++].obj = obj;
}

/* The working document with dl applied in place (the reference moves to
 * the result), or NULL with why (the document dropped). */
static json_t *config_fleet_chain_step(struct config_fleet_chain *c, json_t *dl, char *err,
                                       size_t len)
{
    json_t *in = json_object_get(dl, "in"), *v, *doc = c->prev;
    const char *k;
    c->prev = NULL;
    if (!c->root_owned) { /* its members shared, none of them its own yet */
        json_t *root = json_copy(doc);
        json_decref(doc);
        doc = root;
        c->root_owned = true;
        c->n_owned = 0;
    }
    json_object_foreach(in, k, v)
    {
        json_t *mine = json_object_get(doc, k);
        if (!json_is_object(mine) || config_fleet_chain_owns(c, doc, k))
            continue;
        json_object_set_new(doc, k, mine = json_copy(mine));
        config_fleet_chain_own(c, k, mine);
    }
    if (!jsondelta_apply_in(doc, dl, err, len)) {
        json_decref(doc);
        c->n_owned = 0; /* freed with it */
        c->root_owned = false;
        return NULL;
    }
    /* A key the delta set whole holds a value of the record now: not own. */
    size_t kept = 0;
    for (size_t i = 0; i < c->n_owned; i++)
        if (json_object_get(doc, c->owned[i].key) == c->owned[i].obj)
            c->owned[kept++] = c->owned[i];
    c->n_owned = kept;
    return doc;
}

/* The chain moves on to made (a new reference, or JSON null: none), kept
 * in docs unless drop; a dropped one is the next working document. A
 * working document made from a delta (dl; not stepped in place) owns its
 * objects under the keys of dl's "in": config_fleet_apply_delta copied
 * them. own_root: made's root was made here. */
static void config_fleet_chain_next(struct config_fleet_chain *c, json_t *docs, json_t *made,
                                    json_t *dl, bool drop, bool stepped, bool own_root)
{
    if (c->work && c->prev != made)
        json_decref(c->prev);
    if (json_is_null(made) || !drop) {
        json_array_append_new(docs, made);
        c->prev = json_is_null(made) ? NULL : made;
        c->work = false;
        c->n_owned = 0;
        return;
    }
    json_array_append_new(docs, json_null());
    c->prev = made;
    c->work = true;
    if (stepped)
        return; /* config_fleet_chain_step keeps owned */
    c->root_owned = own_root;
    c->n_owned = 0;
    json_t *v;
    const char *k;
    json_object_foreach(json_object_get(dl, "in"), k, v)
    {
        json_t *mine = json_object_get(made, k);
        if (json_is_object(mine))
            config_fleet_chain_own(c, k, mine);
    }
}

/* The shared part of each of records (in order): its delta applied to
 * the version before (the one before it in records, or this node's own)
 * when it has one that fits, else its "doc" (a whole version carries
 * both; fleet_config.c reads a whole version's parts only for a node that
 * cannot build it from a version it has). A version this node already
 * has (api->version or older) whose base it lacks is JSON null: nothing
 * builds on it but through this node's own version. That is how a fetch
 * can begin: the fleet thread
 * fetches from the version after the one this node last said it serves,
 * and this node may have applied more while the fetch was under way
 * (fleet_config.h). NULL with why when a delta this node needs does not
 * fit what it has. (lock) */
json_t *config_fleet_docs(struct config_api *api, json_t *records, size_t keep_last, char *why,
                          size_t len)
{
    json_t *docs = json_array(), *rec;
    struct config_fleet_chain c = {0};
    api->fleet_from_kept = NULL;
    uint64_t prev_v = 0, have = api->version;
    size_t i, n = json_array_size(records);
    json_array_foreach(records, i, rec)
    {
        uint64_t v = (uint64_t)json_integer_value(json_object_get(rec, "version"));
        json_t *doc = json_object_get(rec, "doc"), *dl = json_object_get(rec, "delta");
        uint64_t b = (uint64_t)json_integer_value(json_object_get(rec, "base"));
        /* The delta first, also beside a whole document: applied to the
         * version before as this node has it, it shares every member it
         * keeps without reading the whole document. */
        bool after = c.prev && prev_v == b, stepped = dl && after && c.work;
        json_t *base = dl ? (after ? c.prev : config_fleet_base(api, b)) : NULL;
        char err[300] = "";
        json_t *made = stepped ? config_fleet_chain_step(&c, dl, err, sizeof(err))
                       : base  ? config_fleet_apply_delta(api, base, dl, err, sizeof(err))
                               : NULL;
        bool from_delta = made != NULL;
        api->fleet_from_kept = made && base == api->fleet_doc ? made : NULL;
        if (!made && doc) /* sharing what it keeps of the version before */
            made = config_fleet_share(c.prev ? c.prev : config_fleet_base(api, have), doc);
        if (!made && v <= have)
            made = json_null(); /* had already: the next one starts from this node's */
        if (!made) {
            snprintf(why, len, "version %llu changes version %llu, %s%s", (unsigned long long)v,
                     (unsigned long long)b,
                     base ? "and its delta does not fit it: " : "which this node does not have",
                     err);
            if (c.work)
                json_decref(c.prev);
            json_decref(docs);
            return NULL;
        }
        /* Older than the last keep_last: nothing keeps it (the history
         * would drop it at once), so it is built only to build the next. */
        config_fleet_chain_next(&c, docs, made, from_delta ? dl : NULL, n - i > keep_last,
                                stepped && from_delta, from_delta || made != doc);
        prev_v = v;
    }
    if (c.work)
        json_decref(c.prev);
    return docs;
}

/* The versions in records this node has not got: each kept, the last one
 * (head's) applied. (lock) */
static void config_fleet_records(struct config_api *api, uint64_t head, json_t *records,
                                 json_t *cur)
{
    size_t n = json_array_size(records), i;
    json_t *last = json_array_get(records, n - 1), *rec;
    uint64_t before = api->version;
    uint64_t lv = (uint64_t)json_integer_value(json_object_get(last, "version"));
    if (!last || lv <= before) {
        if (head < before)
            log_error("event=config_fleet_behind fleet=%llu serving=%llu note=\"etcd holds an "
                      "older version than this node served\"",
                      (unsigned long long)head, (unsigned long long)before);
        return;
    }
    char why[400];
    json_t *docs = config_fleet_docs(api, records, api->keep, why, sizeof(why));
    bool whole = json_object_get(json_array_get(records, 0), "doc") != NULL;
    if (!docs && !whole) { /* fetched again from the newest whole version */
        log_warn("event=config_fleet_delta result=refetch version=%llu why=\"%s\"",
                 (unsigned long long)lv, why);
        if (api->fleet)
            fleet_config_need_full(api->fleet);
        return;
    }
    if (!docs) { /* even from a whole document: not a version */
        config_fleet_done(api, lv, why);
        return;
    }
    /* Head's first: the version this node says it serves is the one it
     * serves. Then the ones missed while this node was down, kept in the
     * history only, when head is served. */
    config_fleet_apply(api, last, json_array_get(docs, n - 1), cur);
    json_array_foreach(records, i, rec)
    {
        uint64_t v = (uint64_t)json_integer_value(json_object_get(rec, "version"));
        if (api->version != lv || i + 1 == n || v <= before ||
            json_is_null(json_array_get(docs, i)))
            continue; /* null: older than the history keeps */
        json_t *doc = config_with_local(json_array_get(docs, i), cur);
        json_t *meta = config_fleet_meta(rec);
        config_api_record_as(api, v, doc, meta, NULL);
        json_decref(meta);
        json_decref(doc);
    }
    api->fleet_from_kept = NULL; /* docs go: the identity means nothing after */
    json_decref(docs);
}

/* The fleet's versions records (head's last) arrived. (lock) */
static void config_fleet_take(struct config_api *api, uint64_t head, json_t *records)
{
    json_t *cur = config_api_current(api, NULL);
    if (!cur) {
        if (head)
            config_fleet_done(api, head, "the configuration file cannot be read");
        else
            log_error("event=config_fleet_bootstrap result=failed why=\"the configuration file "
                      "cannot be read\"");
        return;
    }
    json_incref(cur); /* installing a version replaces the cached one */
    if (head == 0) {  /* an empty fleet: this file becomes its first version */
        uint64_t v = 0;
        char err[300];
        enum shared_status st = config_fleet_publish(
            api, cur, NULL, 0, "bootstrap", "file", "the first node's configuration file",
            config_fleet_file_wait(api), &v, err, sizeof(err));
        log_info("event=config_fleet_bootstrap result=%s error=\"%s\"",
                 st == SHARED_OK ? "published" : "not_published", err);
    } else {
        config_fleet_join(api, cur);
        if (!config_fleet_edit(api, cur, head))
            config_fleet_records(api, head, records, cur);
    }
    json_decref(cur);
    if (head) /* the first version here was made from it, or not: no use now */
        config_fleet_prewarm_take(api, NULL, 0);
    /* The document the version replaced is gone: keep the shared part
     * before it if nothing else holds it (config_fleet_keep_base). The
     * file writer may still be dumping it: it lets go within a
     * moment, where the next version would copy every record without it. */
    if (api->store && api->fleet_recycle.retired)
        config_store_let_go(api->store, CONFIG_FLEET_LET_GO_MS);
    jsonrecycle_reclaim(&api->fleet_recycle);
}

static void config_fleet_run(evutil_socket_t fd, short what, void *arg)
{
    struct config_api *api = arg;
    (void)fd;
    (void)what;
    pthread_mutex_lock(&api->pend_lock);
    json_t *records = api->pending;
    uint64_t head = api->pending_head;
    bool have = api->have_pending, check = api->file_check;
    api->pending = NULL;
    api->have_pending = api->file_check = false;
    pthread_mutex_unlock(&api->pend_lock);
    pthread_mutex_lock(&api->lock);
    if (have)
        config_fleet_take(api, head, records);
    else if (check && api->fleet) {
        json_t *cur = config_api_current(api, NULL);
        uint64_t at = fleet_config_head(api->fleet);
        /* Before the first sync there is nothing to compare with: the
         * first offer checks the file. */
        if (cur && at)
            config_fleet_edit(api, json_incref(cur), at);
        else
            cur = NULL;
        json_decref(cur);
    }
    pthread_mutex_unlock(&api->lock);
    json_decref(records);
}

uint64_t config_fleet_applied(struct config_api *api)
{
    pthread_mutex_lock(&api->lock);
    uint64_t v = config_api_on_fleet_version(api) ? api->version : 0;
    pthread_mutex_unlock(&api->lock);
    return v;
}

json_t *config_fleet_own(struct config_api *api)
{
    if (config_fleet_applied(api))
        return NULL; /* the next whole versions are built from the fleet's */
    pthread_mutex_lock(&api->lock);
    json_t *cur = config_api_current(api, NULL);
    json_t *own = cur ? config_shared_part(cur) : NULL;
    pthread_mutex_unlock(&api->lock);
    return own;
}

void config_fleet_offer(void *arg, uint64_t head, json_t *records)
{
    struct config_api *api = arg;
    pthread_mutex_lock(&api->pend_lock);
    json_t *old = api->pending;
    /* A reference, not a copy: the fleet thread lets go of records after
     * this (fleet_config.h), and jansson's counts are atomic. The copy
     * was 2-3 s of the fleet thread's time at 1,000,000 records, with its
     * session's keep-alives waiting behind it. */
    api->pending = json_incref(records);
    api->pending_head = head;
    api->have_pending = true;
    if (api->ev_fleet)
        event_active(api->ev_fleet, EV_TIMEOUT, 0);
    pthread_mutex_unlock(&api->pend_lock);
    json_decref(old);
}

void config_fleet_file_changed(struct config_api *api)
{
    pthread_mutex_lock(&api->pend_lock);
    api->file_check = true;
    if (api->ev_fleet)
        event_active(api->ev_fleet, EV_TIMEOUT, 0);
    pthread_mutex_unlock(&api->pend_lock);
}

void config_fleet_attach(struct config_api *api, struct fleet *fleet, struct event_base *base)
{
    pthread_mutex_lock(&api->lock);
    api->fleet = fleet;
    pthread_mutex_unlock(&api->lock);
    pthread_mutex_lock(&api->pend_lock);
    api->ev_fleet = event_new(base, -1, 0, config_fleet_run, api);
    if (!api->ev_fleet)
        abort();
    if (api->have_pending || api->file_check) /* offered before this */
        event_active(api->ev_fleet, EV_TIMEOUT, 0);
    pthread_mutex_unlock(&api->pend_lock);
    log_info("event=config_fleet node=%s serving=%llu", fleet_node(fleet),
             (unsigned long long)api->version);
}

void config_fleet_detach(struct config_api *api)
{
    pthread_mutex_lock(&api->pend_lock);
    if (api->ev_fleet)
        event_free(api->ev_fleet);
    api->ev_fleet = NULL;
    pthread_mutex_unlock(&api->pend_lock);
    pthread_mutex_lock(&api->lock);
    api->fleet = NULL;
    pthread_cond_broadcast(&api->applied);
    pthread_mutex_unlock(&api->lock);
}

/*
 * config_api_edit.c -- changes made where they are applied, and applied
 * in groups (admin_config_ops.edit).
 *
 * Why: a change used to be made on the admin thread, on a copy of the
 * newest document, and applied later on the store thread. Clients that
 * run at once (ExternalDNS beside Terraform beside an ACME client) then
 * each copied the document (100,000 members each when the replaced
 * version's objects were taken), and each but the first found the
 * configuration moved on: its change was carried onto the newest version
 * by reading its base version back from the history (seconds at 100,000
 * records), or refused with 409 once that version was no longer kept.
 * Measured before this file, 100,000 records, 8 clients each putting
 * different records: 1.5 changes/s, p50 5.4 s, 44 of 200 refused.
 *
 * Now the edit itself runs on the store thread, on the newest document,
 * under the API's lock: no base, nothing to carry. And the changes that
 * queued while a reload ran are made on one copy and served by one
 * reload as one version (group commit, as databases do with their log):
 * its meta lists each change and author. An edit that fails on its own
 * (a resource that is not there) is answered alone and leaves the copy as
 * it found it; when the group's version would not load, each edit is made
 * and applied alone, in order, so that only the invalid ones are refused
 * and every answer is what it would have been one at a time.
 *
 * Ownership: the edits are the caller's; each edit's out is set here and
 * becomes the caller's.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "admin/admin.h"
#include "common/deadline.h"
#include "common/jsondelta.h"
#include "common/jsonrecycle.h"
#include "common/log.h"
#include "control/config_api.h"
#include "control/config_api_int.h"

/* The reply to an edit that failed on its own. */
static json_t *config_api_edit_error(int status, const char *why)
{
    return json_pack("{s:{s:s, s:s}}", "error", "code", status == 404 ? "not_found" : "bad_request",
                     "message", why);
}

/* What the history says of a group of k changes (k > 1), from the edits
 * made (ok): the authors, each once, and the changes' texts. */
static void config_api_edit_texts(struct admin_config_edit *const *edits, size_t n, const bool *ok,
                                  size_t k, char *author, size_t alen, char *change, size_t clen)
{
    size_t al = 0, head = (size_t)snprintf(change, clen, "%zu changes: ", k), cl = head;
    author[0] = '\0';
    for (size_t i = 0; i < n; i++) {
        if (!ok[i])
            continue;
        const char *a = edits[i]->author ? edits[i]->author : "";
        bool seen = false;
        for (size_t j = 0; j < i && !seen; j++)
            seen = ok[j] && strcmp(edits[j]->author ? edits[j]->author : "", a) == 0;
        if (!seen && al < alen)
            al += (size_t)snprintf(author + al, alen - al, "%s%s", al ? ", " : "", a);
        if (cl < clen)
            cl += (size_t)snprintf(change + cl, clen - cl, "%s%s", cl > head ? "; " : "",
                                   edits[i]->change);
    }
}

/* The key after name in obj (NULL: the last, or not there). */
static const char *config_api_key_after(json_t *obj, const char *name)
{
    void *it = json_object_iter_at(obj, name);
    it = it ? json_object_iter_next(obj, it) : NULL;
    return it ? json_object_iter_key(it) : NULL;
}

/* Whether a member of cur under one of touched's names is not where cur
 * has it in doc: gone (given back, it would return at the end of its
 * object), or removed and put back by an edit or its undo (at the end
 * already). Either is out of cur's order, which the next reload takes for
 * pools or records moved (policy_config.c compares them in order). A
 * member with the key after it that it has in cur is in place (a member
 * put back is last, or followed by others put back after it). */
static bool config_api_moved_some(json_t *doc, json_t *cur, json_t *touched)
{
    const char *kind, *name;
    json_t *names, *x;
    json_object_foreach(touched, kind, names)
    {
        json_t *in_doc = json_object_get(doc, kind), *in_cur = json_object_get(cur, kind);
        json_object_foreach(names, name, x)
        {
            if (!json_object_get(in_cur, name))
                continue; /* added: the delta back removes it */
            if (!json_object_get(in_doc, name))
                return true;
            const char *a = config_api_key_after(in_doc, name);
            const char *b = config_api_key_after(in_cur, name);
            if (a != b && (!a || !b || strcmp(a, b) != 0))
                return true;
        }
    }
    return false;
}

/* doc, a copy of cur (config_api_cow_copy, when doc_serial was serial)
 * that edits under touched's names (KIND -> {NAME: ...}) made and that
 * was not installed (nothing changed, refused, a dry run), given back to
 * the recycler for the next copy of cur, which would otherwise copy every
 * member: an idempotent PUT made the change after it copy 100,000 (issue
 * #38). Takes doc's reference. (lock)
 *
 * fleet_v: the fleet's version doc was published as (0: none). A fleet
 * node installs the version as etcd delivers it, a document of its own
 * (config_fleet_apply) with doc's content: when that is the one document
 * installed since cur, doc is given back for the next copy of it. Its
 * resources differ from the installed one's under touched's names only
 * (the version is cur's shared part and doc's delta from it), so the delta
 * back is found from them. On the node taking a fleet's changes, copying
 * and freeing 100,000 records for each was nine tenths of its store
 * thread's work. */
static void config_api_cow_unused(struct config_api *api, json_t *doc, json_t *cur, uint64_t serial,
                                  json_t *touched, uint64_t fleet_v)
{
    bool fleet = fleet_v && api->fleet_mode && api->version == fleet_v &&
                 api->doc_serial == serial + 1 && api->doc;
    json_t *next = fleet ? api->doc : cur;
    /* serial: cur's (doc_serial), so that a document installed meanwhile
     * at cur's address, once cur was freed, is not taken for it. */
    if (!doc || (!fleet && (api->doc_serial != serial || api->doc != cur)) ||
        api->recycle.retired || jsonrecycle_ready(&api->recycle, next) ||
        config_api_moved_some(doc, next, touched)) {
        json_decref(doc); /* installed, or not to be given back */
        return;
    }
    json_t *back = jsondelta_diff_some(doc, next, touched);
    jsonrecycle_retire(&api->recycle, doc, back, next);
    json_decref(back);
    jsonrecycle_reclaim(&api->recycle);
}

/* Whether a copy of cur, made while the lock was dropped, may still be
 * given to the recycler: cur is still the newest and nothing was made
 * ready for it meanwhile. (lock) */
static bool config_api_warm_fits(struct config_api *api, json_t *cur, uint64_t serial)
{
    return api->doc == cur && api->doc_serial == serial && !api->installing &&
           !jsonrecycle_ready(&api->recycle, cur);
}

/* Whether api would keep a copy of its newest document for the next
 * change: not without a history (no change is made), nor when the
 * recycler is ready, which jsonrecycle_ready makes so where a replaced
 * version's last other holder let it go meanwhile. A fleet node keeps
 * one too (the first change through it copied the document, 0.7-1.2 s at
 * 1,000,000 records), tried once per document: its store thread asks
 * again and again while idle. (lock) */
static bool config_api_warm_wanted(struct config_api *api)
{
    return api->doc && api->history_dir && !api->installing &&
           !(api->fleet_mode && api->warm_serial == api->doc_serial + 1) &&
           !jsonrecycle_ready(&api->recycle, api->doc);
}

/* Gives doc, a copy of cur made off the lock (consumed), to the recycler
 * when it still fits: the copy the next change takes. (lock) */
static bool config_api_warm_keep(struct config_api *api, json_t *doc, json_t *cur, uint64_t serial)
{
    bool fits = doc && config_api_warm_fits(api, cur, serial);
    if (!fits) {
        json_decref(doc);
        return false;
    }
    /* A replaced version still held elsewhere (the writer's copy of it for
     * its dump) is let go: its last holder frees it, and the copy takes its
     * place, taken whole by the next change's copy (jsonrecycle.h). */
    jsonrecycle_keep_copy(&api->recycle, doc, cur);
    return true;
}

/* The copy of the newest document for the next change through this
 * node, made off the lock; true when one was made and kept. */
static bool config_api_warm_doc(struct config_api *api)
{
    pthread_mutex_lock(&api->lock);
    if (!config_api_warm_wanted(api)) {
        pthread_mutex_unlock(&api->lock);
        return false;
    }
    json_t *cur = api->doc;
    uint64_t serial = api->doc_serial;
    api->warm_serial = serial + 1;
    json_incref(cur);
    pthread_mutex_unlock(&api->lock);
    double t0 = deadline_mono();
    /* Copied without the lock (at 1,000,000 records for 0.3-0.6 s):
     * readers of the document are not held up. cur is installed, so
     * nothing changes it, and the reference taken keeps the recycler from
     * taking it apart should a change replace it meanwhile. */
    json_t *doc = jsonrecycle_copy_fresh(admin_config_kinds, cur);
    pthread_mutex_lock(&api->lock);
    bool fits = config_api_warm_keep(api, doc, cur, serial);
    json_decref(cur);
    pthread_mutex_unlock(&api->lock);
    log_info("event=config_warm result=%s ms=%.1f", fits ? "ready" : "dropped",
             (deadline_mono() - t0) * 1e3);
    return fits;
}

bool config_api_warm(struct config_api *api)
{
    config_api_warm_doc(api);
    if (!api->fleet_mode)
        return false; /* every version comes through the store thread's calls */
    config_fleet_warm(api);
    return true;
}

struct config_api_prewarm {
    pthread_t thread;
    json_t *root; /* referenced */
    json_t *copy; /* the thread's result (NULL: out of memory) */
    bool fleet;
    json_t *fleet_copy; /* with fleet: the fleet recycler's (NULL: none) */
    double ms;
};

static void *config_api_prewarm_main(void *arg)
{
    struct config_api_prewarm *w = arg;
    double t0 = deadline_mono();
    w->copy = jsonrecycle_copy_fresh(admin_config_kinds, w->root);
    if (w->fleet)
        w->fleet_copy = jsonrecycle_copy_fresh(admin_config_kinds, w->root);
    w->ms = (deadline_mono() - t0) * 1e3;
    return NULL;
}

struct config_api_prewarm *config_api_prewarm_begin(json_t *root, bool fleet)
{
    if (!root)
        return NULL;
    struct config_api_prewarm *w = calloc(1, sizeof(*w));
    if (!w)
        abort();
    w->root = json_incref(root);
    w->fleet = fleet;
    if (pthread_create(&w->thread, NULL, config_api_prewarm_main, w) != 0) {
        json_decref(w->root);
        free(w);
        return NULL; /* the idle store thread makes it later */
    }
    pthread_setname_np(w->thread, "gtmd-prewarm");
    return w;
}

bool config_api_on_fleet_version(const struct config_api *api)
{
    json_t *m = api->version ? config_api_load_version(api, api->version, ".meta.json") : NULL;
    bool fleet = json_is_true(json_object_get(m, "fleet"));
    json_decref(m);
    return fleet;
}

void config_api_prewarm_end(struct config_api_prewarm *w, struct config_api *api)
{
    if (!w)
        return;
    pthread_join(w->thread, NULL);
    bool fits = false, held = false;
    if (api) {
        pthread_mutex_lock(&api->lock);
        /* Only for the document api serves, the one copied: a file that
         * changed since the start's read made api read another. */
        if (api->doc == w->root && config_api_warm_wanted(api))
            fits = config_api_warm_keep(api, w->copy, w->root, api->doc_serial);
        else
            json_decref(w->copy);
        if (w->fleet_copy && api->fleet_mode && api->doc == w->root && !api->fleet_prewarm &&
            !config_api_on_fleet_version(api)) {
            api->fleet_prewarm = w->fleet_copy;
            api->fleet_prewarm_root = json_incref(w->root);
            held = true;
        } else
            json_decref(w->fleet_copy);
        pthread_mutex_unlock(&api->lock);
        log_info("event=config_warm result=%s at=start ms=%.1f%s", fits ? "ready" : "dropped",
                 w->ms,
                 !w->fleet ? ""
                 : held    ? " fleet_copy=held"
                           : " fleet_copy=dropped");
    } else {
        json_decref(w->copy);
        json_decref(w->fleet_copy);
    }
    json_decref(w->root);
    free(w);
}

static void config_api_edit_run(struct config_api *api, struct admin_config_edit *const *edits,
                                size_t n, bool alone_on_invalid);

/* Makes each of edits[0..n) on doc (touched: what they touch), marking
 * those made in ok and listing them in changes; a refused one gets its
 * reply. The count made (first: the index of the first). */
static size_t config_api_edit_make(struct admin_config_edit *const *edits, size_t n, json_t *doc,
                                   json_t *touched, bool *ok, json_t *changes, size_t *first)
{
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        char why[600];
        int st = edits[i]->fn(doc, touched, edits[i]->arg, edits[i]->change,
                              sizeof(edits[i]->change), why, sizeof(why));
        if (st != 0) {
            edits[i]->status = st;
            edits[i]->out = config_api_edit_error(st, why);
            continue;
        }
        if (k++ == 0)
            *first = i;
        ok[i] = true;
        json_array_append_new(changes, json_pack("{s:s, s:s}", "author",
                                                 edits[i]->author ? edits[i]->author : "", "change",
                                                 edits[i]->change));
    }
    return k;
}

/* Makes edits[0..n) on one copy of the newest document and applies it as
 * one version; when that would not load and alone_on_invalid, each edit
 * made is tried alone. True (every reply dropped, nothing applied) when
 * redo_ok and the fleet's newer version came first: to be made again on
 * it. (lock) */
static bool config_api_edit_once(struct config_api *api, struct admin_config_edit *const *edits,
                                 size_t n, bool alone_on_invalid, bool redo_ok)
{
    json_error_t je;
    /* A fleet version this node serves already (its reload published it)
     * but has not recorded yet: an edit made on the version before would
     * be refused by etcd and made again (two validations, a copy and a
     * free of every record: 300-500 ms at 100,000). A client that saw
     * the last change answered over DNS sends the next one right then. */
    if (api->fleet_mode)
        config_fleet_settle(api);
    json_t *cur = config_api_current(api, &je);
    if (!cur) {
        char msg[600];
        snprintf(msg, sizeof(msg), "%s: %s", api->path, je.text);
        for (size_t i = 0; i < n; i++)
            edits[i]->out = config_api_error(&edits[i]->status, 500, "config_unreadable", msg);
        return false;
    }
    uint64_t serial = api->doc_serial;
    json_t *doc = config_api_cow_copy(api, cur), *touched = json_object();
    for (const char *const *k = admin_config_kinds; *k; k++)
        json_object_set_new(touched, *k, json_object());
    uint64_t base = api->version, fleet_v = 0;
    bool redo = false;
    json_t *changes = json_array();
    bool *ok = calloc(n ? n : 1, sizeof(*ok));
    if (!doc || !ok)
        abort();
    size_t first = 0, k = config_api_edit_make(edits, n, doc, touched, ok, changes, &first);
    if (k > 0) {
        char author[300], change[700];
        const struct admin_config_edit *e = edits[first];
        if (k > 1)
            config_api_edit_texts(edits, n, ok, k, author, sizeof(author), change, sizeof(change));
        struct config_api_made made = {.origin = api->doc_serial,
                                       .touched = touched,
                                       .changes = k > 1 ? changes : NULL,
                                       .redo_ok = redo_ok};
        int status = 500;
        json_t *out = config_api_apply_locked(
            api, doc, base, &made, e->if_version, k > 1 ? author : e->author,
            k > 1 ? change : e->change, e->dry_run, e->clients, &status);
        if (made.redo) {
            redo = true;
            json_decref(out);
            out = NULL;
            for (size_t i = 0; i < n; i++) {
                json_decref(edits[i]->out);
                edits[i]->out = NULL;
            }
        } else if (status == 400 && k > 1 && alone_on_invalid) {
            json_decref(out);
            out = NULL;
            for (size_t i = 0; i < n; i++)
                if (ok[i])
                    config_api_edit_run(api, &edits[i], 1, false);
        }
        if (status == 201 && json_is_true(json_object_get(out, "fleet")))
            fleet_v = (uint64_t)json_integer_value(json_object_get(out, "version"));
        for (size_t i = 0; out && i < n; i++) {
            if (!ok[i])
                continue;
            edits[i]->status = status;
            /* Each reply is the caller's; only its top level is added to. */
            edits[i]->out = --k == 0 ? out : json_copy(out);
        }
    }
    free(ok);
    json_decref(changes);
    config_api_cow_unused(api, doc, cur, serial, touched, fleet_v);
    json_decref(touched);
    return redo;
}

/* config_api_edit_once, made again on the fleet's newer version (after
 * this node has it) up to three times, then carried as any change is.
 * (lock) */
static void config_api_edit_run(struct config_api *api, struct admin_config_edit *const *edits,
                                size_t n, bool alone_on_invalid)
{
    for (int attempt = 0; config_api_edit_once(api, edits, n, alone_on_invalid, attempt < 3);
         attempt++)
        config_fleet_catch_up(api, 1.0);
}

void config_api_edit(struct config_api *api, struct admin_config_edit *const *edits, size_t n)
{
    pthread_mutex_lock(&api->lock);
    config_api_edit_run(api, edits, n, n > 1);
    pthread_mutex_unlock(&api->lock);
}

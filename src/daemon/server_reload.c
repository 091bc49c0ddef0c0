/*
 * server_reload.c -- a reload (SIGHUP, POST /v1/reload, a change through
 * the configuration API, a catalog zone's new copy): the new configuration and set are built off
 * the main thread, then published atomically, and every module is told of its new parameters
 * (server_modules.h: each says what it keeps until a restart); a failure changes nothing.
 *
 * Threads: the main thread or the admin thread, one reload at a time
 * (reload_lock).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/event_ring.h"
#include "common/log.h"
#include "control/config_api.h"
#include "control/config_delta.h"
#include "daemon/load.h"
#include "control/config_keys.h"
#include "daemon/server_int.h"
#include "daemon/server_modules.h"
#include "health/override.h"
#include "health/service.h"
#include "net/notify_out.h"

/* What a reload changed, zone by zone (for POST /v1/reload). */
static json_t *server_zone_changes(const struct snapshot *old, const struct snapshot *cur)
{
    json_t *arr = json_array();
    for (size_t i = 0; i < cur->n_zones; i++) {
        const struct zone *z = cur->zones[i];
        const struct zone *o = NULL;
        for (size_t k = 0; old && k < old->n_zones && !o; k++)
            if (old->zones[k]->origin_len == z->origin_len &&
                memcmp(old->zones[k]->origin, z->origin, z->origin_len) == 0)
                o = old->zones[k];
        json_t *j = json_pack("{s:s, s:I, s:I}", "origin", z->origin_str, "serial",
                              (json_int_t)z->serial, "records", (json_int_t)z->n_records);
        json_object_set_new(j, "change",
                            json_string(!o                             ? "added"
                                        : o->serial != z->serial       ? "serial changed"
                                        : o->n_records != z->n_records ? "records changed"
                                                                       : "same serial"));
        json_array_append_new(arr, j);
    }
    for (size_t k = 0; old && k < old->n_zones; k++) {
        bool kept = false;
        for (size_t i = 0; i < cur->n_zones && !kept; i++)
            kept = old->zones[k]->origin_len == cur->zones[i]->origin_len &&
                   memcmp(old->zones[k]->origin, cur->zones[i]->origin,
                          cur->zones[i]->origin_len) == 0;
        if (!kept)
            json_array_append_new(arr, json_pack("{s:s, s:s}", "origin", old->zones[k]->origin_str,
                                                 "change", "removed"));
    }
    return arr;
}

/* load_set for a reload, on a thread of its own (load_run_behind). */
struct server_load_job {
    struct server *srv;
    struct config *cfg;
    struct config_delta *delta; /* n_placed set by the load */
    struct errlist *errs;
    struct serve_set *set; /* the result */
};

static void server_load_job_run(void *arg)
{
    struct server_load_job *j = arg;
    j->set = load_set_keep(j->cfg, j->srv->generation + 1, &j->srv->health,
                           atomic_load(&j->srv->serve.current), j->delta, j->errs, NULL);
}

/* A reload may lower max_overrides below the overrides in force: it is
 * applied (they are all kept, and a restart restores them all, persist.h),
 * and said in the log and the reload result, as gtmd check says it of the
 * state file. NULL when there is nothing to say. */
static json_t *server_reload_cap_warning(struct server *srv, const struct config *cfg)
{
    size_t n = override_count(&srv->health), max = cfg->health.max_overrides;
    if (n <= max)
        return NULL;
    char note[256], note_q[300];
    override_cap_note(note, sizeof(note), n, max);
    log_warn("event=reload note=\"%s\"", log_quote(note, note_q, sizeof(note_q)));
    return json_pack("[s]", note);
}

/* A reload that failed: every error logged and in the result; nothing
 * changed. Frees cfg. */
static json_t *server_reload_failed(struct server *srv, struct config *cfg, struct errlist *errs)
{
    server_log_errors(errs, "reload failed, still serving generation: ");
    log_error("event=reload result=failed generation=%llu errors=%zu",
              (unsigned long long)srv->generation, errs->count);
    notify_send(&srv->notify,
                "READY=1\nSTATUS=reload failed (%zu errors, see the log); serving "
                "generation %llu",
                errs->count, (unsigned long long)srv->generation);
    json_t *list = json_array();
    for (size_t i = 0; i < errs->count; i++)
        json_array_append_new(list, json_string(errs->msgs[i]));
    json_t *res = json_pack("{s:s, s:I, s:o}", "result", "failed", "generation",
                            (json_int_t)srv->generation, "errors", list);
    config_free(cfg);
    atomic_fetch_add(&srv->reloads_failed, 1);
    event_ring_push(srv->health.events, "reload",
                    json_pack("{s:s, s:I, s:O}", "result", "failed", "generation",
                              (json_int_t)srv->generation, "errors",
                              json_object_get(res, "errors")));
    return res;
}

/* The configuration and its set, built off the main thread; NULL (errors
 * in errs, cfg freed by the caller) when anything is wrong. */
static struct serve_set *server_reload_build(struct server *srv, struct config *cfg,
                                             struct config_delta *delta, struct errlist *errs)
{
    char nofile[512];
    /* Before load_set: it maps the new endpoints to health slots, which a
     * failed reload must not do. */
    if (server_check_nofile(cfg, cfg->gslb, nofile, sizeof(nofile)) != 0) {
        errlist_add(errs, "%s", nofile);
        return NULL;
    }
    /* Reloads are serialised and only they free sets, so the current one
     * stays alive here without entering it as a reader. */
    struct server_load_job job = {srv, cfg, delta, errs, NULL};
    /* A change that reads and signs no zone (every zone kept) leaves the
     * loader a millisecond of assembly at 100,000 records: at nice 19 it
     * waited behind the writer (nice 10) dumping the previous change and
     * the DNS workers, and one change in fifty took 3x its time (the
     * suite's p99 18-19 ms against 13-14 ms run here, contrib/bench/
     * README.md). Reading zones stays behind, for the workers' sake. A
     * zone made from the running one with names placed (config_delta.h,
     * place) reads nothing either: a copy of its table (issue #55),
     * made here first, so that a zone whose placing is declined is read
     * behind as before. */
    load_place_early(cfg, delta, atomic_load(&srv->serve.current));
    if (!delta->reread && delta->n_kept + delta->n_placed == delta->n_zones)
        server_load_job_run(&job);
    else
        load_run_behind(server_load_job_run, &job);
    if (job.set)
        config_delta_placed(delta); /* the zones placed, apart from those read */
    return job.set;
}

/* The keys only a restart applies (config_keys.h) whose value in cfg
 * differs from what runs (old's); cfg keeps what runs for them, so that a
 * later reload says so again. Logged once. */
static json_t *server_reload_restart_keys(const struct config *old, struct config *cfg)
{
    json_t *out = json_array();
    char list[512] = "";
    for (size_t i = 0; i < config_keys_count(); i++) {
        const struct cfgschema_key *key = config_key_at(i);
        const char *k = key->name;
        json_t *a = json_object_get(old->restart_part, k);
        json_t *b = json_object_get(cfg->restart_part, k);
        if (!(key->flags & (CONFIG_KEY_RESTART | CONFIG_KEY_PART_RESTART)) || (!a && !b) ||
            (a && b && json_equal(a, b)))
            continue;
        json_array_append_new(out, json_string(k));
        size_t n = strlen(list);
        snprintf(list + n, sizeof(list) - n, "%s%s", n ? "," : "", k);
        if (a)
            json_object_set(cfg->restart_part, k, a);
        else
            json_object_del(cfg->restart_part, k);
    }
    if (list[0])
        log_warn("event=reload restart_needed=%s note=\"these keys run as they were; a restart "
                 "applies them\"",
                 list);
    return out;
}

/* The result of a reload that succeeded so far (zones and geo are
 * stolen); the modules add what they keep until a restart. */
static json_t *server_reload_result(struct server *srv, const struct serve_set *set, json_t *zones,
                                    json_t *geo, json_t *warnings)
{
    json_t *res = json_pack("{s:s, s:I, s:o, s:I}", "result", "ok", "generation",
                            (json_int_t)srv->generation + 1, "zones", zones, "records",
                            (json_int_t)set->zones->n_records);
    json_object_set_new(res, "geo", geo);
    if (warnings)
        json_object_set_new(res, "warnings", warnings);
    return res;
}

/* Publishes set, built for cfg, with its secondaries, hooks and IXFR
 * journals; returns the set it replaced, which the caller frees. The new
 * policy set forgets its origin (policy.h: from), the replaced one's. */
static struct serve_set *server_reload_publish(struct server *srv, const struct config *cfg,
                                               struct serve_set *set)
{
    server_configure_secondaries(srv, cfg, set);
    server_set_hooks(srv, set);
    load_journals(cfg, atomic_load(&srv->serve.current), set);
    struct serve_set *old = serve_publish(&srv->serve, set);
    gslb_published(old->gslb, set->gslb);
    return old;
}

/* Where a reload's configuration comes from. */
enum server_reload_from {
    SERVER_RELOAD_FILE,    /* the file (SIGHUP, POST /v1/reload): every zone file read again */
    SERVER_RELOAD_CHANGE,  /* doc, a change through the API (config_api journals it) */
    SERVER_RELOAD_RUNNING, /* the running configuration's document again (server_int.h) */
};

/* The file's stamp before a reload reads it; from the file, once the file
 * holds every change answered (the writer of config_store.h may be behind
 * by a group, or by up to 10 s of a stream of changes to a large
 * document): a SIGHUP racing a change loses neither. */
static struct config_api_stamp server_reload_file_ready(struct server *srv,
                                                        enum server_reload_from from)
{
    if (from == SERVER_RELOAD_FILE && srv->confapi_ready)
        config_api_flush(&srv->confapi);
    return config_api_stamp_of(srv->config_path);
}

/* The delta the change being reloaded computed against the running
 * document (config_api_known_delta), when cfg is that change's: a new
 * reference, or NULL. */
static json_t *server_reload_known(struct server *srv, json_t *doc, enum server_reload_from from)
{
    if (from != SERVER_RELOAD_CHANGE || !srv->confapi_ready || !srv->cfg || !doc)
        return NULL;
    return config_api_known_delta(&srv->confapi, srv->cfg->root, doc);
}

/* The configuration doc (or the file) loads as, and in *known the delta
 * the change computed against the running document (a new reference, or
 * NULL): the records it touched are the only ones compiled, and only what
 * it changes is rebuilt. NULL with errs. */
static struct config *server_reload_load(struct server *srv, json_t *doc,
                                         enum server_reload_from from, json_t **known,
                                         struct errlist *errs)
{
    *known = server_reload_known(srv, doc, from);
    struct config *cfg = server_load_config(srv, doc, *known, errs);
    if (cfg)
        cfg->from_running = from == SERVER_RELOAD_RUNNING;
    if (*known && (!cfg || cfg->root != doc)) {
        json_decref(*known);
        *known = NULL;
    }
    return cfg;
}

/* The one reload: what the new configuration
 * changes against what runs (config_delta.h), then a set built for it
 * keeping what did not change. doc is borrowed (a change only). */
static json_t *server_reload_as(struct server *srv, json_t *doc, enum server_reload_from from,
                                bool *ok)
{
    struct errlist errs;
    struct timespec t0;
    pthread_mutex_lock(&srv->reload_lock);
    notify_send(&srv->notify, "RELOADING=1\nMONOTONIC_USEC=%llu\nSTATUS=reloading",
                notify_monotonic_usec());
    clock_gettime(CLOCK_MONOTONIC, &t0);
    errlist_init(&errs);
    if (from == SERVER_RELOAD_RUNNING) /* srv->cfg is replaced only under reload_lock */
        doc = srv->cfg->root;
    struct config_api_stamp stamp = server_reload_file_ready(srv, from);
    json_t *known = NULL;
    struct config *cfg = server_reload_load(srv, doc, from, &known, &errs);
    /* Only from the file (SIGHUP, POST /v1/reload) may the zone files have
     * changed under an unchanged entry: every zone is read again. The
     * running document again keeps what a change that touched nothing
     * would (secondary and catalog zones are never kept: their copies are
     * read). */
    struct config_delta *delta = cfg ? config_delta_new(srv->cfg, atomic_load(&srv->serve.current),
                                                        cfg, from == SERVER_RELOAD_FILE, known)
                                     : NULL;
    json_decref(known);
    struct serve_set *set = cfg ? server_reload_build(srv, cfg, delta, &errs) : NULL;
    if (!set) {
        config_delta_free(delta);
        json_t *res = server_reload_failed(srv, cfg, &errs);
        errlist_free(&errs);
        pthread_mutex_unlock(&srv->reload_lock);
        *ok = false;
        return res;
    }
    errlist_free(&errs);
    /* set stays valid here after the swap: only a later publication frees
     * it, and publications are serialised by reload_lock. */
    struct serve_set *old = server_reload_publish(srv, cfg, set);
    double served_ms = server_elapsed_ms(&t0);
    notify_out_send(load_notify_job(cfg, old->zones, set));
    json_t *zones = server_zone_changes(old->zones, set->zones);
    json_t *geo = server_geo_loaded(set);
    load_drop_behind(srv->dropper, old);
    json_t *res = server_reload_result(srv, set, zones, geo, server_reload_cap_warning(srv, cfg));
    /* The file's document, held once (before the walk reads it); the
     * running one's again is no newer read of the file. */
    if (from == SERVER_RELOAD_FILE && srv->confapi_ready)
        config_api_seed(&srv->confapi, cfg->root, &stamp);
    json_t *secret_note = server_keyshare_reload_note(srv, &cfg->fleet);
    server_modules_reload(srv, cfg, set, res);
    /* The state may have moved since load_set widened the scopes. */
    health_service_kick(srv->health_svc);
    json_object_set_new(res, "restart_needed", server_reload_restart_keys(srv->cfg, cfg));
    json_array_extend(json_object_get(res, "restart_needed"), secret_note);
    json_decref(secret_note);
    config_free(srv->cfg);
    srv->cfg = cfg;
    srv->generation++;
    if (delta->n_kept == 0) /* a kept zone keeps its signatures, and their due time */
        server_set_resign_due(srv);
    double ms = server_elapsed_ms(&t0);
    server_notify_serving(srv, set);
    char line[300];
    config_delta_line(delta, line, sizeof(line));
    log_info("event=reload result=ok generation=%llu zones=%zu records=%zu ms=%.1f changed=\"%s\"",
             (unsigned long long)srv->generation, set->zones->n_zones, set->zones->n_records, ms,
             line);
    json_object_set_new(res, "ms", json_real(ms));
    json_object_set_new(res, "served_ms", json_real(served_ms));
    json_object_set(res, "changed", delta->summary);
    config_delta_free(delta);
    atomic_fetch_add(&srv->reloads_ok, 1);
    event_ring_push(srv->health.events, "reload",
                    json_pack("{s:s, s:I, s:O}", "result", "ok", "generation",
                              (json_int_t)srv->generation, "zones", zones));
    /* Journalled (durable) before the lock is released; the file and the
     * history are written behind (config_store.h). */
    if (from == SERVER_RELOAD_CHANGE && srv->confapi_ready)
        config_api_served(&srv->confapi, doc);
    pthread_mutex_unlock(&srv->reload_lock);
    *ok = true;
    return res;
}

void server_validate(struct server *srv, json_t *doc, struct errlist *errs, struct errlist *warns)
{
    /* Under the reload lock: the running configuration and set are what
     * a change takes compiled records and zones from, and only reloads
     * replace them. */
    pthread_mutex_lock(&srv->reload_lock);
    const struct serve_set *cur = atomic_load(&srv->serve.current);
    /* The change's delta, when it has one: its touched records are the
     * only ones compiled, as the reload that serves it will (the running
     * set's order is the document's but for records changed before, and
     * a walk beside the document would look up every record after the
     * first of those). */
    json_t *known = srv->confapi_ready && srv->cfg && doc
                        ? config_api_known_delta(&srv->confapi, srv->cfg->root, doc)
                        : NULL;
    struct config *cfg = server_load_config(srv, doc, known, errs);
    /* The summary counted from the delta as well, as the reload will:
     * walked side by side, 100,000 records were a sixth of the store
     * thread's work for a fleet's change (issue #38). */
    struct config_delta *delta = cfg ? config_delta_new(srv->cfg, cur, cfg, false, known) : NULL;
    json_decref(known);
    /* No health core: no slot is mapped; nothing is published. */
    struct serve_set *set =
        cfg ? load_set_keep(cfg, srv->generation + 1, NULL, cur, delta, errs, warns) : NULL;
    serve_set_free(set);
    config_delta_free(delta);
    config_free(cfg);
    pthread_mutex_unlock(&srv->reload_lock);
}

struct serve_set *server_build(struct config *cfg, struct health_core *core, struct errlist *errs,
                               struct errlist *warns)
{
    return load_set_warn(cfg, 1, core, NULL, errs, warns);
}

json_t *server_reload(struct server *srv, json_t *doc, bool *ok)
{
    return server_reload_as(srv, doc, doc ? SERVER_RELOAD_CHANGE : SERVER_RELOAD_FILE, ok);
}

json_t *server_reload_running(struct server *srv, bool *ok)
{
    return server_reload_as(srv, NULL, SERVER_RELOAD_RUNNING, ok);
}

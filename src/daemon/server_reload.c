/*
 * server_reload.c -- a reload (SIGHUP, POST /v1/reload, a secondary zone's
 * new copy): the new configuration and set are built off the main thread,
 * then published atomically, and every module is told of its new
 * parameters; a failure changes nothing. What stays bound (listeners,
 * workers, the admin section, the user, the fleet, the XDP listener) is
 * kept from the running configuration until a restart.
 *
 * Threads: the main thread or the admin thread, one reload at a time
 * (reload_lock).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "admin/admin.h"
#include "common/event_ring.h"
#include "common/log.h"
#include "daemon/load.h"
#include "daemon/privs.h"
#include "daemon/config_keys.h"
#include "daemon/server_int.h"
#include "drill/drill_service.h"
#include "fleet/fleet.h"
#include "health/override.h"
#include "health/service.h"
#include "health/verdict.h"
#include "net/notify_out.h"
#include "net/xdp_params.h"
#include "webhook/webhook.h"

static bool server_same_source(const struct health_params *a, const struct health_params *b)
{
    if (a->n_probe_source != b->n_probe_source)
        return false;
    for (size_t i = 0; i < a->n_probe_source; i++)
        if (strcmp(a->probe_source_text[i], b->probe_source_text[i]) != 0)
            return false;
    return true;
}

static bool server_same_listen(const struct config *a, const struct config *b)
{
    if (a->n_listen != b->n_listen || a->workers != b->workers)
        return false;
    for (size_t i = 0; i < a->n_listen; i++)
        if (strcmp(a->listen[i].text, b->listen[i].text) != 0)
            return false;
    return true;
}

/* Keeps in the new config what is still bound from the old one (listen
 * addresses, workers, the admin section, the user), so later reloads
 * compare with what really runs. */
static void server_keep_bound(struct config *next, struct config *old, bool same_listen,
                              bool same_admin, bool same_user)
{
    if (!same_user) {
        struct config_user u = next->run_as;
        next->run_as = old->run_as;
        old->run_as = u;
    }
    if (!same_listen) {
        struct config_listen *l = next->listen;
        size_t n = next->n_listen;
        next->listen = old->listen;
        next->n_listen = old->n_listen;
        old->listen = l;
        old->n_listen = n;
        next->workers = old->workers;
    }
    if (!same_admin) {
        struct admin_params a = next->admin;
        next->admin = old->admin;
        old->admin = a;
    }
    /* The fleet, the probe source and the XDP listener are fixed for the run. */
    struct xdp_params x = next->xdp;
    next->xdp = old->xdp;
    old->xdp = x;
    struct fleet_params f = next->fleet;
    next->fleet = old->fleet;
    old->fleet = f;
    struct health_params *nh = &next->health, *oh = &old->health;
    struct probe_source ps = nh->probe_source;
    nh->probe_source = oh->probe_source;
    oh->probe_source = ps;
    for (size_t i = 0; i < 2; i++) {
        char *t = nh->probe_source_text[i];
        nh->probe_source_text[i] = oh->probe_source_text[i];
        oh->probe_source_text[i] = t;
    }
    size_t n = nh->n_probe_source;
    nh->n_probe_source = oh->n_probe_source;
    oh->n_probe_source = n;
}

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
    struct errlist *errs;
    struct serve_set *set; /* the result */
};

static void server_load_job_run(void *arg)
{
    struct server_load_job *j = arg;
    j->set = load_set(j->cfg, j->srv->generation + 1, &j->srv->health,
                      atomic_load(&j->srv->serve.current), j->errs);
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
                                             struct errlist *errs)
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
    struct server_load_job job = {srv, cfg, errs, NULL};
    load_run_behind(server_load_job_run, &job);
    return job.set;
}

/* What changes only on a restart, said in the log and the result. */
struct server_reload_kept {
    bool same_listen, same_user, same_fleet, same_admin;
    json_t *restart_needed; /* server_reload_restart_keys (the result steals it) */
};

/* Every module's new parameters after set was published for cfg (which
 * replaces srv->cfg afterwards); kept says what stays as it runs. */
static void server_reload_modules(struct server *srv, struct config *cfg,
                                  const struct serve_set *set, struct server_reload_kept *kept)
{
    health_service_set_state_file(srv->health_svc, cfg->health.state_file);
    override_set_max(&srv->health, cfg->health.max_overrides);
    verdict_set_max(&srv->health, cfg->health.max_verdicts);
    drill_core_set_params(&srv->drills, &cfg->drills);
    /* Endpoints may have come or gone: judge every abort_if again. */
    drill_service_poke(srv->drill_svc);
    server_plan_probes(srv, set);
    kept->same_fleet = fleet_params_same(&cfg->fleet, &srv->cfg->fleet) &&
                       server_same_source(&cfg->health, &srv->cfg->health);
    if (!kept->same_fleet)
        log_warn("event=reload note=\"fleet and probe_source change only on restart\"");
    if (srv->fleet) {
        char hash[24];
        server_config_hash(cfg, set, hash);
        fleet_set_endpoints(srv->fleet, set->gslb, hash);
    }
    /* The state may have moved since load_set widened the scopes. */
    health_service_kick(srv->health_svc);
    /* Tokens and the audit log follow the reload only while the admin
     * listeners stay the same: the loopback-without-token rule was checked
     * against the new listen list, so applying new tokens to sockets bound
     * from another list could open a public listener without a token. */
    kept->same_admin = admin_params_same_listeners(&cfg->admin, &srv->cfg->admin);
    if (srv->admin && kept->same_admin)
        admin_update(srv->admin, &cfg->admin);
    else if (!kept->same_admin)
        log_warn("event=reload note=\"admin listeners and limits change only on restart; "
                 "admin tokens and audit log kept\"");
    if (srv->webhooks)
        webhook_update(srv->webhooks, &cfg->notify);
    else if (cfg->notify.n_hooks)
        log_warn("event=reload note=\"webhooks added to a server that had none start on "
                 "restart\"");
}

/* The keys only a restart applies (config_keys.h) whose value in cfg
 * differs from what runs (old's); cfg keeps what runs for them, so that a
 * later reload says so again. Logged once. */
static json_t *server_reload_restart_keys(const struct config *old, struct config *cfg)
{
    json_t *out = json_array();
    char list[512] = "";
    for (size_t i = 0; i < config_keys_n; i++) {
        const char *k = config_keys[i].name;
        json_t *a = json_object_get(old->restart_part, k);
        json_t *b = json_object_get(cfg->restart_part, k);
        if (!(config_keys[i].flags & CONFIG_KEY_RESTART) || (!a && !b) ||
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

/* The result of a reload that succeeded (zones and geo are stolen). */
static json_t *server_reload_result(struct server *srv, const struct serve_set *set,
                                    const struct server_reload_kept *kept, json_t *zones,
                                    json_t *geo, json_t *warnings, double ms)
{
    json_t *res = json_pack(
        "{s:s, s:I, s:o, s:I, s:f, s:b, s:b, s:b, s:b}", "result", "ok", "generation",
        (json_int_t)srv->generation, "zones", zones, "records", (json_int_t)set->zones->n_records,
        "ms", ms, "restart_needed_for_listen", !kept->same_listen, "restart_needed_for_admin",
        !kept->same_admin, "restart_needed_for_user", !kept->same_user, "restart_needed_for_fleet",
        !kept->same_fleet);
    json_object_set_new(res, "geo", geo);
    if (warnings)
        json_object_set_new(res, "warnings", warnings);
    json_object_set_new(res, "restart_needed", kept->restart_needed);
    return res;
}

json_t *server_reload(struct server *srv, const char *from, bool *ok)
{
    struct errlist errs;
    struct timespec t0;
    pthread_mutex_lock(&srv->reload_lock);
    notify_send(&srv->notify, "RELOADING=1\nMONOTONIC_USEC=%llu\nSTATUS=reloading",
                notify_monotonic_usec());
    clock_gettime(CLOCK_MONOTONIC, &t0);
    errlist_init(&errs);
    struct config *cfg = server_load_config(srv, from, &errs);
    struct serve_set *set = cfg ? server_reload_build(srv, cfg, &errs) : NULL;
    if (!set) {
        json_t *res = server_reload_failed(srv, cfg, &errs);
        errlist_free(&errs);
        pthread_mutex_unlock(&srv->reload_lock);
        *ok = false;
        return res;
    }
    errlist_free(&errs);
    struct server_reload_kept kept = {.same_listen = server_same_listen(cfg, srv->cfg)};
    if (!kept.same_listen)
        log_warn("event=reload note=\"listen addresses and workers change only on restart\"");
    if (!xdp_params_same(&cfg->xdp, &srv->cfg->xdp))
        log_warn("event=reload note=\"the xdp section changes only on restart\"");
    kept.same_user = !privs_reload_notes(srv->cfg, cfg);
    /* set stays valid here after the swap: only a later publication frees
     * it, and publications are serialised by reload_lock. */
    server_configure_secondaries(srv, cfg, set);
    server_set_hooks(srv, set);
    load_journals(cfg, atomic_load(&srv->serve.current), set);
    struct serve_set *old = serve_publish(&srv->serve, set);
    notify_out_send(load_notify_job(cfg, old->zones, set));
    json_t *zones = server_zone_changes(old->zones, set->zones);
    json_t *geo = server_geo_loaded(set);
    load_drop_behind(old);
    json_t *warnings = server_reload_cap_warning(srv, cfg);
    server_reload_modules(srv, cfg, set, &kept);
    if (srv->confapi_ready) {
        config_api_set_params(&srv->confapi, &cfg->config_api);
        config_api_note_reload(&srv->confapi); /* a file edited by hand: a version */
    }
    server_keep_bound(cfg, srv->cfg, kept.same_listen, kept.same_admin, kept.same_user);
    kept.restart_needed = server_reload_restart_keys(srv->cfg, cfg);
    config_free(srv->cfg);
    srv->cfg = cfg;
    srv->generation++;
    server_set_resign_due(srv);
    double ms = server_elapsed_ms(&t0);
    server_notify_serving(srv, set);
    log_info("event=reload result=ok generation=%llu zones=%zu records=%zu ms=%.1f",
             (unsigned long long)srv->generation, set->zones->n_zones, set->zones->n_records, ms);
    json_t *res = server_reload_result(srv, set, &kept, zones, geo, warnings, ms);
    atomic_fetch_add(&srv->reloads_ok, 1);
    event_ring_push(srv->health.events, "reload",
                    json_pack("{s:s, s:I, s:O}", "result", "ok", "generation",
                              (json_int_t)srv->generation, "zones", zones));
    /* A candidate becomes the file before any other reload can read the
     * file (a SIGHUP, a secondary's new copy): none puts the old one back. */
    if (from && rename(from, srv->config_path) != 0) {
        char msg[600];
        snprintf(msg, sizeof(msg), "served, but %s could not be replaced: %s", srv->config_path,
                 strerror(errno));
        log_error("event=reload result=file_failed why=\"%s\"", msg);
        json_object_set_new(res, "file_error", json_string(msg));
    }
    pthread_mutex_unlock(&srv->reload_lock);
    *ok = true;
    return res;
}

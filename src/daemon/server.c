/*
 * server.c -- the running daemon: config, serving threads, signals, reload.
 */
#include "daemon/server.h"
#include "daemon/server_int.h"

#include <errno.h>
#include <malloc.h>
#include <event2/event.h>
#include <event2/thread.h>
#include <signal.h>
#include <stdio.h>
#include <sys/resource.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "anycast/anycast_tun.h"
#include "common/jsondelta.h"
#include "common/digest.h"
#include "common/errlist.h"
#include "common/log.h"
#include "control/config.h"
#include "control/config_store.h"
#include "control/config_keys.h"
#include "daemon/load.h"
#include "daemon/notify.h"
#include "daemon/privs.h"
#include "daemon/secrets.h"
#include "health/override.h"
#include "daemon/server_modules.h"
#include "net/tls_params.h"
#include "policy/policy_config.h"
#include "policy/policy_orders.h"
#include "zone/zone_kasp_check.h"

/* Hands the endpoints of set's policy set to the prober thread. */
uint32_t server_plan_probes(struct server *srv, const struct serve_set *set)
{
    size_t n;
    uint32_t max_timeout;
    struct sched_target *t = load_probe_targets(set->gslb, &n, &max_timeout);
    if (srv->cfg && srv->cfg->fleet.enabled && !srv->cfg->fleet.publish) {
        /* A fleet watcher probes nothing: it serves the verdicts of the
         * publishing nodes (doc/fleet.md). */
        free(t);
        t = NULL;
        n = 0;
    }
    if (set->gslb)
        gslb_ref(set->gslb);
    scheduler_set_plan(srv->sched, t, n, set->gslb, gslb_release);
    return max_timeout;
}

/* The policy sections a change's touched (jsondelta_touched's) says it
 * left alone: {} under the section (one it set whole is not there). */
static unsigned server_same_sections(json_t *touched)
{
    static const char *const names[] = {"pools", "regions", "checks"};
    static const unsigned bits[] = {POLICY_SAME_POOLS, POLICY_SAME_REGIONS, POLICY_SAME_CHECKS};
    unsigned same = 0;
    for (size_t i = 0; i < 3; i++) {
        json_t *t = json_object_get(touched, names[i]);
        if (json_is_object(t) && json_object_size(t) == 0)
            same |= bits[i];
    }
    return same;
}

/* Loads the config and applies --node to it. */
struct config *server_load_config(struct server *srv, json_t *doc, json_t *known,
                                  struct errlist *errs)
{
    /* A document (a change through the API) shares what it did not touch
     * with the running one: those records are not compiled again. The
     * running set stays alive: only reloads, serialised, free sets. */
    const struct serve_set *cur = srv->cfg ? atomic_load(&srv->serve.current) : NULL;
    static const char *const kinds[] = {"records", "pools", "regions", "checks", NULL};
    /* The running document again (a secondary zone's reload) touches
     * nothing: every record is the running set's. */
    json_t *touched = known                                      ? jsondelta_touched(known, kinds)
                      : doc && srv->cfg && doc == srv->cfg->root ? json_pack("{s:{}}", "records")
                                                                 : NULL;
    struct policy_reuse reuse = {.g = cur ? cur->gslb : NULL,
                                 .root = srv->cfg ? srv->cfg->root : NULL,
                                 .spare = &srv->records_spare,
                                 .touched = json_object_get(touched, "records"),
                                 .same = server_same_sections(touched),
                                 .orders = srv->orders};
    /* From the file: nothing is taken, but the region lists are shared
     * (the first load is most of a large estate's memory). */
    struct policy_reuse lists = {.orders = srv->orders};
    struct config *cfg = doc ? config_load_doc_reuse(srv->config_path, doc, &reuse, errs)
                             : config_load_reuse(srv->config_path, &lists, errs);
    json_decref(touched);
    if (cfg && srv->node && !fleet_params_set_node(&cfg->fleet, srv->node)) {
        errlist_add(errs, "--node: \"%s\" is not a node name (1 to 63 of A-Z a-z 0-9 . _ -)",
                    srv->node);
        config_free(cfg);
        return NULL;
    }
    /* The identity (id.server, hostname.bind, NSID) follows --node. */
    if (cfg && srv->node && cfg->fleet.enabled && cfg->identity_default) {
        free(cfg->identity);
        cfg->identity = jsoncfg_strdup(cfg->fleet.node);
    }
    if (cfg) {
        config_restart_inputs(cfg);
        cfg->set_aside_broken = true;
    }
    /* The zones whose keys gtmd keeps get them before the load. */
    if (cfg && !server_kasp_prepare(srv, cfg, srv->cfg == NULL, errs)) {
        config_free(cfg);
        return NULL;
    }
    return cfg;
}

/* What every node of a fleet should have the same: the shared part of the
 * file (srv->digest, brought to cfg's document by what changed) and the
 * zones' serials: "2:" and 14 hex digits of a SHA-256 ("2:" tells it from
 * the whole-document hashes of gtmd before, which it cannot be compared
 * with: fleet_view.c). Under the reload lock, or at the start. */
void server_config_hash(struct server *srv, const struct config *cfg, const struct serve_set *set,
                        char out[24])
{
    char text[65 + 32 * 64];
    /* A change's own delta (config_api_known_delta) names what it changed. */
    json_t *known = srv->confapi_ready && srv->digest.root
                        ? config_api_known_delta(&srv->confapi, srv->digest.root, cfg->root)
                        : NULL;
    config_digest_update_delta(&srv->digest, cfg->root, known);
    json_decref(known);
    config_digest_hex(&srv->digest, text);
    size_t off = strlen(text);
    for (size_t i = 0; i < set->zones->n_zones && off < sizeof(text) - 64; i++)
        off += (size_t)snprintf(text + off, sizeof(text) - off, "|%s=%u",
                                set->zones->zones[i]->origin_str,
                                (unsigned)set->zones->zones[i]->serial);
    char hex[DIGEST_SHA256_HEX];
    digest_sha256_hex(text, off, hex);
    snprintf(out, 17, "2:%s", hex); /* a prefix of 14 hex digits */
}

/* Descriptors the probes of g may hold at once: one probe of an endpoint
 * in flight at a time, on one socket; two where c-ares may hold a UDP and
 * a TCP one (dns checks, a check host name to resolve) and for the
 * children of a composite check. None on a fleet watcher, which does not
 * probe ("publish": false). */
static unsigned long long server_probe_fds(const struct config *c, const struct gslb *g,
                                           size_t *probes)
{
    unsigned long long n = 0;
    *probes = 0;
    if (c->fleet.enabled && !c->fleet.publish)
        return 0;
    for (size_t i = 0; g && i < g->n_pools; i++) {
        const struct policy_pool *p = &g->pools[i];
        if (p->check < 0)
            continue;
        const struct policy_check *ck = &g->checks[p->check];
        *probes += p->n_eps;
        for (size_t e = 0; e < p->n_eps; e++)
            n += ck->composite || ck->spec.type == PROBE_DNS || p->eps[e].check_host ? 2 : 1;
    }
    return n;
}

/* Descriptors a configuration may hold at once: every DNS TCP connection
 * and admin connection, the probes' sockets (server_probe_fds), per
 * worker its event loop (epoll and a notification descriptor), a TCP
 * listener and a UDP socket per address, and a margin for the log, the
 * state file, the audit log, the admin listeners and the other threads'
 * loops. */
static unsigned long long server_fds_needed(const struct config *c, const struct gslb *g,
                                            size_t *probes, unsigned long long *probe_fds)
{
    *probe_fds = server_probe_fds(c, g, probes);
    unsigned long long n = 64 + (unsigned long long)c->workers * (4 + 2 * c->n_listen);
    n += c->tcp.max_connections + *probe_fds;
    if (c->admin.enabled)
        n += c->admin.max_connections + c->admin.n_listen;
    return n;
}

/*
 * Checks c against RLIMIT_NOFILE: raises the soft limit (up to the hard
 * one) when c may need more descriptors, so that accept and probes do not
 * run out under load. Returns -1 with a message naming the settings when
 * even the hard limit is too low (start-up refuses, a reload fails).
 */
int server_check_nofile(const struct config *c, const struct gslb *g, char *err, size_t errlen)
{
    struct rlimit rl;
    size_t probes;
    unsigned long long probe_fds;
    unsigned long long need = server_fds_needed(c, g, &probes, &probe_fds);
    if (getrlimit(RLIMIT_NOFILE, &rl) != 0 || rl.rlim_cur == RLIM_INFINITY || rl.rlim_cur >= need)
        return 0;
    if (rl.rlim_max != RLIM_INFINITY && rl.rlim_max < need) {
        snprintf(err, errlen,
                 "%s: RLIMIT_NOFILE (hard limit %llu) is below the %llu file descriptors this "
                 "configuration may need: tcp.max_connections %u + admin.max_connections %u + "
                 "%llu for the probes of %zu checked endpoints + %llu for listeners, workers "
                 "and files; raise the limit (ulimit -Hn, systemd LimitNOFILE=) or lower "
                 "tcp.max_connections",
                 c->path, (unsigned long long)rl.rlim_max, need, c->tcp.max_connections,
                 c->admin.enabled ? c->admin.max_connections : 0, probe_fds, probes,
                 need - c->tcp.max_connections - probe_fds -
                     (c->admin.enabled ? c->admin.max_connections : 0));
        return -1;
    }
    unsigned long long before = rl.rlim_cur;
    rl.rlim_cur = need;
    if (setrlimit(RLIMIT_NOFILE, &rl) != 0) {
        snprintf(err, errlen, "%s: cannot raise RLIMIT_NOFILE from %llu to %llu: %s", c->path,
                 before, need, strerror(errno));
        return -1;
    }
    log_info("event=nofile soft=%llu raised_from=%llu hard=%llu", need, before,
             (unsigned long long)rl.rlim_max);
    return 0;
}

double server_elapsed_ms(const struct timespec *t0)
{
    struct timespec t1;
    clock_gettime(CLOCK_MONOTONIC, &t1);
    return (double)(t1.tv_sec - t0->tv_sec) * 1e3 + (double)(t1.tv_nsec - t0->tv_nsec) / 1e6;
}

void server_log_errors(const struct errlist *e, const char *prefix)
{
    for (size_t i = 0; i < e->count; i++)
        log_error("%s%s", prefix, e->msgs[i]);
}

/* Rebuilds config and zones beside the live set and swaps them in; on any
 * error the live set keeps serving. Serialised: SIGHUP and the admin API
 * may ask at once. Returns the JSON result; *ok tells which. */
/* A set was just built from srv->cfg: its signatures were made now. */
/* Logs the geo database of set (start-up and reload) and returns what
 * POST /v1/reload shows of it (JSON null without one). */
json_t *server_geo_loaded(const struct serve_set *set)
{
    const struct geo_db *db = set->geo ? set->geo->db : NULL;
    if (!db)
        return json_null();
    log_info("event=geo_database file=%s type=%s networks=%llu locations=%u load_ms=%.1f%s%s",
             db->path, db->type ? db->type : "", (unsigned long long)db->stats.networks, db->n_locs,
             db->stats.load_seconds * 1e3, db->asn_path ? " asn_file=" : "",
             db->asn_path ? db->asn_path : "");
    return json_pack("{s:s, s:s?, s:I, s:I, s:f, s:s?}", "database", db->path, "type", db->type,
                     "networks", (json_int_t)db->stats.networks, "locations",
                     (json_int_t)db->n_locs, "load_ms", db->stats.load_seconds * 1e3,
                     "asn_database", db->asn_path);
}

void server_set_resign_due(struct server *srv)
{
    uint32_t every = load_resign_interval(srv->cfg);
    srv->resign_due = every ? time(NULL) + (time_t)every : 0;
}

/* load_resign on a thread of its own (load_run_behind). */
struct server_resign_job {
    struct server *srv;
    struct errlist *errs;
    struct serve_set *set; /* the result */
};

static void server_resign_job_run(void *arg)
{
    struct server_resign_job *j = arg;
    j->set = load_resign(j->srv->cfg, atomic_load(&j->srv->serve.current), j->srv->generation + 1,
                         j->errs);
}

/* What every set publishes besides its data: who takes NOTIFYs, and
 * whose listener signs the policy answers workers ask for. */
void server_set_hooks(struct server *srv, struct serve_set *set)
{
    set->xfr_in = srv->xfr_in;
    policy_sigs_set_wake(set->sigs, srv->health_svc);
}

/* Builds the zones again with fresh signatures (same config, same policy
 * set and health) and publishes them; the workers answer from the old
 * set all the while. Caller holds reload_lock. A failure keeps the old
 * set and tries again in a minute. */
void server_resign(struct server *srv)
{
    struct errlist errs;
    struct timespec t0;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    errlist_init(&errs);
    struct server_resign_job job = {srv, &errs, NULL};
    load_run_behind(server_resign_job_run, &job);
    struct serve_set *set = job.set;
    if (!set) {
        server_log_errors(&errs, "re-signing failed, still serving generation: ");
        log_error("event=resign result=failed generation=%llu errors=%zu retry_s=60",
                  (unsigned long long)srv->generation, errs.count);
        errlist_free(&errs);
        srv->resign_due = time(NULL) + 60;
        return;
    }
    errlist_free(&errs);
    server_set_hooks(srv, set);
    load_drop_behind(srv->dropper, serve_publish(&srv->serve, set));
    srv->generation++;
    server_set_resign_due(srv);
    log_info("event=resign result=ok generation=%llu zones=%zu records=%zu ms=%.1f",
             (unsigned long long)srv->generation, set->zones->n_zones, set->zones->n_records,
             server_elapsed_ms(&t0));
}

/* The re-sign timer (main thread): re-signs when due, then sleeps until
 * the next due time, an hour at most (a reload in between moves the due
 * time later, never earlier: it signs afresh). */
static void server_on_resign_timer(evutil_socket_t fd, short what, void *arg)
{
    struct server *srv = arg;
    (void)fd;
    (void)what;
    pthread_mutex_lock(&srv->reload_lock);
    time_t now = time(NULL);
    if (srv->resign_due && now >= srv->resign_due)
        server_resign(srv);
    time_t wait = srv->resign_due ? srv->resign_due - time(NULL) : 3600;
    pthread_mutex_unlock(&srv->reload_lock);
    struct timeval tv = {.tv_sec = wait < 1 ? 1 : wait > 3600 ? 3600 : wait};
    evtimer_add(srv->resign_timer, &tv);
}

/* READY=1 and what is served, for systemctl status. */
void server_notify_serving(struct server *srv, const struct serve_set *set)
{
    notify_send(&srv->notify, "READY=1\nSTATUS=serving generation %llu: %zu zones, %zu records",
                (unsigned long long)srv->generation, set->zones->n_zones, set->zones->n_records);
}

/* gtmd check: the state file holds more overrides than max_overrides
 * (a reload lowered it): a warning, as the reload said, not an error. */
static void server_check_state_file(const struct config *cfg, struct errlist *warns)
{
    size_t n = 0;
    const struct health_params *hp = &cfg->health;
    if (!hp->state_file || persist_count_overrides(hp->state_file, &n) != 0 ||
        n <= hp->max_overrides)
        return;
    char note[256];
    override_cap_note(note, sizeof(note), n, hp->max_overrides);
    errlist_add(warns, "%s: %s", hp->state_file, note);
}

static void server_on_signal(evutil_socket_t sig, short what, void *arg)
{
    struct server *srv = arg;
    (void)what;
    if (sig == SIGHUP) {
        bool ok;
        log_info("event=signal signal=HUP action=reload");
        json_decref(server_reload(srv, NULL, &ok));
        return;
    }
    if (sig == SIGUSR1) {
        /* logrotate moved the audit log: later lines go to a new file. */
        log_info("event=signal signal=USR1 action=reopen");
        admin_reopen_audit(srv->admin);
        return;
    }
    log_info("event=signal signal=%s action=stop", sig == SIGTERM ? "TERM" : "INT");
    notify_send(&srv->notify, "STOPPING=1\nSTATUS=stopping");
    event_base_loopbreak(srv->base);
}

/* The net params of c; np->listen is allocated (the caller frees it). */
void server_net_params(const struct config *c, struct net_params *np)
{
    struct net_listen *l = calloc(c->n_listen ? c->n_listen : 1, sizeof(*l));
    if (!l)
        abort();
    for (size_t i = 0; i < c->n_listen; i++)
        l[i] = (struct net_listen){.addr = c->listen[i].addr,
                                   .addr_len = c->listen[i].addr_len,
                                   .text = c->listen[i].text};
    *np = (struct net_params){.listen = l,
                              .n_listen = c->n_listen,
                              .workers = c->workers,
                              .pin_workers = c->pin_workers,
                              .udp_hash = c->udp_hash,
                              .xdp = &c->xdp,
                              .tls = &c->tls};
}

/* Binds every socket of the configuration, the DNS workers' and the admin
 * listeners, before anything runs: binding port 53 needs privileges that
 * are dropped next, and a listen address taken by another process stops
 * the start before the state file is touched. */
static int server_bind(struct server *srv, char *err, size_t errlen)
{
    struct net_params np;
    server_net_params(srv->cfg, &np);
    /* No listen address: a prober-only node of a fleet (no DNS threads). */
    int rc = srv->cfg->n_listen ? net_bind(&srv->net, &np, err, errlen) : 0;
    free((void *)np.listen);
    /* The TUN device needs CAP_NET_ADMIN, dropped next (anycast_tun.h). */
    const char *tun = srv->cfg->anycast.enabled ? srv->cfg->anycast.interface : NULL;
    if (rc == 0 && tun && (srv->anycast_tun = anycast_tun_open(tun, err, errlen)) < 0)
        return -1;
    /* CAP_NET_ADMIN was for the device alone: given up now, unless the
     * AF_XDP listener, which attaches after the drop, may need it. */
    if (rc == 0 && tun)
        log_info("event=anycast_interface interface=%s result=up net_admin=%s", tun,
                 srv->cfg->xdp.enabled      ? "kept_for_xdp"
                 : anycast_tun_drop_admin() ? "dropped"
                                            : "not_dropped");
    if (rc != 0 || !srv->cfg->admin.enabled)
        return rc;
    const struct config_user *u = &srv->cfg->run_as;
    srv->admin = admin_new(&srv->cfg->admin, u->user ? u->uid : (uid_t)-1,
                           u->user ? u->gid : (gid_t)-1, err, errlen);
    return srv->admin ? 0 : -1;
}

/* Drops to the configured user, then checks, as whoever gtmd now runs
 * as, that the files it writes later can be written and the ones a reload
 * reads can be read (with a clear error now instead of a failure later). */
/* secrets_check for the process as it is now, before any drop. as_root:
 * at the start only; gtmd check is often run by another user than the
 * one that starts gtmd, so its own uid says nothing of the server's. */
static void server_check_secrets(const struct config *c, bool at_start, struct errlist *warns)
{
    gid_t gid = c->run_as.user ? c->run_as.gid : getegid();
    secrets_check(c, at_start && geteuid() == 0, gid, warns);
}

/* Whether the configuration has an icmp check: then CAP_NET_RAW is kept
 * across the drop, for a raw socket where ping sockets are not allowed
 * (a reload that adds the first one needs ping sockets or a restart). */
static bool server_has_icmp(const struct gslb *g)
{
    for (size_t i = 0; g && i < g->n_checks; i++)
        if (!g->checks[i].composite && g->checks[i].spec.type == PROBE_ICMP)
            return true;
    return false;
}

static int server_drop_privileges(struct server *srv, const struct gslb *g)
{
    char err[512];
    struct errlist errs, warns, secrets;
    /* Before the drop: whether gtmd started as root, and the group it runs
     * as from now on. */
    errlist_init(&secrets);
    server_check_secrets(srv->cfg, true, &secrets);
    for (size_t i = 0; i < secrets.count; i++) {
        char q[1024];
        log_warn("event=secrets_warning note=\"%s\"", log_quote(secrets.msgs[i], q, sizeof(q)));
    }
    errlist_free(&secrets);
    if (privs_drop(&srv->cfg->run_as, server_has_icmp(g), false, err, sizeof(err)) != 0) {
        log_error("%s: %s: %s", srv->cfg->path, config_key_path(CFG_K_USER).s, err);
        return -1;
    }
    errlist_init(&errs);
    errlist_init(&warns);
    privs_check_access(srv->cfg, &errs, &warns);
    for (size_t i = 0; i < warns.count; i++)
        log_warn("%s", warns.msgs[i]);
    server_log_errors(&errs, "");
    int rc = errs.count ? -1 : 0;
    errlist_free(&errs);
    errlist_free(&warns);
    return rc;
}

static int server_start(struct server *srv)
{
    struct errlist errs;
    struct timespec t0;
    char err[512];

    clock_gettime(CLOCK_MONOTONIC, &t0);
    errlist_init(&errs);
    /* Changes answered but not yet in the file (a crash came first), before
     * the file is read and before gtmd drops to run_as (config_store.h). */
    config_store_recover(srv->config_path);
    srv->cfg_stamp = config_api_stamp_of(srv->config_path);
    srv->cfg = server_load_config(srv, NULL, NULL, &errs);
    if (srv->cfg && srv->cfg->config_api.history_dir)
        srv->prewarm = config_api_prewarm_begin(srv->cfg->root, srv->cfg->fleet.enabled &&
                                                                    srv->cfg->config_api.fleet);
    if (srv->cfg && server_check_nofile(srv->cfg, srv->cfg->gslb, err, sizeof(err)) != 0)
        errlist_add(&errs, "%s", err);
    struct serve_set *set =
        srv->cfg && errs.count == 0 ? load_set(srv->cfg, 1, &srv->health, NULL, &errs) : NULL;
    if (!set) {
        server_log_errors(&errs, "");
        errlist_free(&errs);
        return -1;
    }
    errlist_free(&errs);
    json_decref(server_geo_loaded(set));
    srv->generation = 1;
    server_set_resign_due(srv);
    drill_core_init(&srv->drills, &srv->health, &srv->cfg->drills);
    srv->drills_ready = true;
    double ms = server_elapsed_ms(&t0);
    if (server_bind(srv, err, sizeof(err)) != 0) {
        log_error("%s", err);
        serve_set_free(set);
        return -1;
    }
    if (server_drop_privileges(srv, set->gslb) != 0) {
        serve_set_free(set);
        return -1;
    }
    size_t n_zones = set->zones->n_zones, n_records = set->zones->n_records;
    if (server_modules_start(srv, set) != 0) /* frees set if it was not published */
        return -1;
    /* What the start freed (the parse of the configuration and of the zones,
     * the compile's temporaries) given back: M_TRIM_THRESHOLD (main.c)
     * keeps glibc from doing it, and at 100,000 policy records it was 15 MB
     * of RSS (issue #38). Once, 10-15 ms. */
    malloc_trim(0);
    pthread_mutex_lock(&srv->reload_lock); /* the admin thread may reload already */
    log_info("event=start workers=%u zones=%zu records=%zu load_ms=%.1f", srv->cfg->workers,
             n_zones, n_records, ms);
    pthread_mutex_unlock(&srv->reload_lock);
    return 0;
}

/* Stops the modules in the reverse of their order (server_modules.c:
 * admin reads the served set, DNS workers and prober read health, the
 * drill thread and the fleet ask the health service for writes; it writes
 * the state file a last time, drills included), then frees the cores
 * they shared. */
static void server_shutdown(struct server *srv)
{
    /* Retired sets freed first, while the cores they release into still
     * run; a publication after this (a module's last reload) frees its
     * set on a thread it waits for. */
    pthread_mutex_lock(&srv->reload_lock);
    struct load_dropper *dropper = srv->dropper;
    srv->dropper = NULL;
    pthread_mutex_unlock(&srv->reload_lock);
    load_dropper_free(dropper);
    server_modules_stop(srv);
    if (srv->serve_ready)
        serve_destroy(&srv->serve); /* no reader runs any more */
    if (srv->drills_ready)
        drill_core_free(&srv->drills);
    config_digest_free(&srv->digest);
    config_free(srv->cfg);
    config_api_prewarm_end(srv->prewarm, NULL); /* a start that failed before confapi's */
    srv->prewarm = NULL;
    health_core_free(&srv->health);
    event_ring_free(srv->health.events);
    srv->health.events = NULL;
    pthread_mutex_destroy(&srv->reload_lock);
    bigalloc_spare_free(&srv->records_spare); /* no set is left to give one back */
    policy_orders_free(srv->orders);          /* nor to release a list */
    srv->orders = NULL;
    /* After the anycast module withdrew the route: the kernel removes the
     * device with its last descriptor (BIRD's static route goes too). */
    if (srv->anycast_tun >= 0)
        close(srv->anycast_tun);
    srv->anycast_tun = -1;
    anycast_drain_destroy(&srv->drain);
}

int server_run(const char *config_path, const char *node)
{
    struct server srv = {.config_path = (char *)config_path, .node = node, .anycast_tun = -1};
    int signums[] = {SIGHUP, SIGTERM, SIGINT, SIGUSR1};
    enum { N_SIGNALS = sizeof(signums) / sizeof(signums[0]) };
    struct event *sigs[N_SIGNALS];
    int rc = 0;

    signal(SIGPIPE, SIG_IGN);
    /* Workers answer queries before the handlers below exist. Block the
     * signals first: every thread started in server_start inherits the
     * mask, and a SIGHUP or SIGTERM arriving meanwhile stays pending until
     * the main thread unblocks it with its handlers in place (instead of
     * killing the process with the default action). */
    sigset_t block, old_mask;
    sigemptyset(&block);
    for (int i = 0; i < N_SIGNALS; i++)
        sigaddset(&block, signums[i]);
    pthread_sigmask(SIG_BLOCK, &block, &old_mask);
    health_core_init(&srv.health);
    anycast_drain_init(&srv.drain);
    srv.health.events = event_ring_new(EVENT_RING_DEFAULT);
    pthread_mutex_init(&srv.reload_lock, NULL);
    bigalloc_spare_init(&srv.records_spare);
    srv.orders = policy_orders_new();
    srv.dropper = load_dropper_new(&srv.records_spare);
    srv.started = health_now();
    notify_open(&srv.notify);
    notify_send(&srv.notify, "STATUS=starting");
    /* The main loop's base exists before the modules start (they may make
     * events on it); it runs once they have. Freed after them. */
    evthread_use_pthreads(); /* other threads make its events active */
    srv.base = event_base_new();
    if (!srv.base)
        abort();
    if (server_start(&srv) != 0) {
        notify_send(&srv.notify, "STATUS=start failed (see the log)");
        server_shutdown(&srv);
        event_base_free(srv.base);
        notify_close(&srv.notify);
        pthread_sigmask(SIG_SETMASK, &old_mask, NULL);
        return 1;
    }
    for (int i = 0; i < N_SIGNALS; i++) {
        sigs[i] = evsignal_new(srv.base, signums[i], server_on_signal, &srv);
        event_add(sigs[i], NULL);
    }
    srv.resign_timer = evtimer_new(srv.base, server_on_resign_timer, &srv);
    server_on_resign_timer(-1, 0, &srv);
    server_kasp_start(&srv);
    server_keyshare_start(&srv, &srv.cfg->fleet);
    /* Secondary zones start refreshing once a reload can follow, and the
     * fleet's configuration versions are applied on this thread. */
    server_modules_ready(&srv);
    pthread_sigmask(SIG_SETMASK, &old_mask, NULL);
    /* Serving, the admin API up, the signal handlers in place. */
    pthread_mutex_lock(&srv.reload_lock);
    server_notify_serving(&srv, atomic_load(&srv.serve.current));
    pthread_mutex_unlock(&srv.reload_lock);
    event_base_dispatch(srv.base);
    server_modules_halt(&srv);
    event_free(srv.resign_timer);
    server_keyshare_stop(&srv);
    server_kasp_stop(&srv);
    for (int i = 0; i < N_SIGNALS; i++)
        event_free(sigs[i]);
    server_shutdown(&srv);
    event_base_free(srv.base);
    notify_close(&srv.notify);
    log_info("event=stop");
    return rc;
}

/* What `gtmd check` shows of a signing policy: its intervals (RFC 7583)
 * and the zones that name it. */
static void server_check_policy(const struct config *c, const struct zone_kasp_policy *p)
{
    zone_kasp_print(stdout, p);
    printf("  zones:");
    size_t n = 0;
    for (size_t z = 0; z < c->n_zones; z++)
        if (c->zones[z].dnssec.policy && strcmp(c->zones[z].dnssec.policy, p->name) == 0) {
            printf(" %s", c->zones[z].origin);
            n++;
        }
    printf("%s\n", n ? "" : " none");
}

/* The key store of each zone whose keys gtmd keeps (zone_kasp_check.h):
 * read, never written. */
static void server_check_key_stores(const struct config *cfg, struct errlist *errs,
                                    struct errlist *warns)
{
    int64_t now = (int64_t)time(NULL);
    for (size_t i = 0; i < cfg->n_zones; i++) {
        const struct config_zone *z = &cfg->zones[i];
        const struct zone_kasp_policy *p =
            z->dnssec.policy ? zone_kasp_find(&cfg->kasp, z->dnssec.policy) : NULL;
        if (p && z->dnssec.key_directory)
            zone_kasp_check_store(z->dnssec.key_directory, z->origin, p, now, errs, warns);
    }
}

int server_check(const char *config_path)
{
    struct errlist errs, warns;
    errlist_init(&errs);
    errlist_init(&warns);
    struct config *cfg = config_load(config_path, &errs);
    struct serve_set *set = cfg ? load_set_warn(cfg, 1, NULL, NULL, &errs, &warns) : NULL;
    if (set)
        privs_check_as(cfg, &errs, &warns); /* as the configured user */
    if (cfg) {
        server_check_state_file(cfg, &warns);
        server_check_key_stores(cfg, &errs, &warns);
        server_check_secrets(cfg, false, &warns);
        xdp_check(cfg->path, &cfg->xdp, &warns);
        tls_check(cfg->path, &cfg->tls, &errs);
    }
    for (size_t i = 0; i < errs.count; i++)
        fprintf(stderr, "%s\n", errs.msgs[i]);
    for (size_t i = 0; i < warns.count; i++)
        fprintf(stderr, "warning: %s\n", warns.msgs[i]);
    int rc = set && errs.count == 0 ? 0 : 1;
    if (rc == 0)
        printf("%s: ok (%zu zones, %zu records%s)\n", config_path, set->zones->n_zones,
               set->zones->n_records, warns.count ? ", with warnings" : "");
    for (size_t i = 0; rc == 0 && i < cfg->kasp.n; i++)
        server_check_policy(cfg, &cfg->kasp.v[i]);
    serve_set_free(set);
    config_free(cfg);
    errlist_free(&errs);
    errlist_free(&warns);
    return rc;
}

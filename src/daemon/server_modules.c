/*
 * server_modules.c -- the table of the modules the daemon runs and its
 * walks (server_modules.h). Each module's start, reload and stop are
 * here, next to each other; what they share is struct server
 * (server_int.h).
 */
#include "daemon/server_modules.h"

#include <event2/event.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "dns/tsig_params.h"
#include "daemon/server_update.h"
#include "control/config_api.h"
#include "control/config_history.h"
#include "daemon/load.h"
#include "daemon/privs.h"
#include "daemon/server_int.h"
#include "drill/drill_service.h"
#include "fleet/fleet.h"
#include "fleet/fleet_peer.h"
#include "health/override.h"
#include "health/persist.h"
#include "health/scheduler.h"
#include "health/service.h"
#include "health/verdict.h"
#include "net/notify_out.h"
#include "policy/policy_latency.h"
#include "policy/policy_ramp.h"
#include "net/xdp_params.h"
#include "webhook/webhook.h"
#include "xfr/xfr_in.h"

/* ---- config_api: the configuration's versions and the API's changes ---- */

/* As the user gtmd runs as: it makes the history directory. */
static int server_mod_confapi_start(struct server *srv, struct serve_set *set)
{
    (void)set;
    const char *dir = srv->cfg->config_api.history_dir;
    char err[4600];
    if (dir && config_history_readable(dir, err, sizeof(err)) != 0) {
        char err_q[sizeof(err) + 64];
        log_error("event=config_history result=refused dir=%s error=\"%s\"", dir,
                  log_quote(err, err_q, sizeof(err_q)));
        return -1;
    }
    config_api_init(&srv->confapi, srv->config_path, &srv->cfg->config_api, server_reload, srv,
                    srv->cfg->root, &srv->cfg_stamp);
    config_api_admin_ops(&srv->confapi, &srv->confapi_ops);
    config_api_set_validate(&srv->confapi, server_validate, server_build);
    config_api_set_fleet(&srv->confapi, srv->cfg->fleet.enabled);
    config_api_prewarm_end(srv->prewarm, &srv->confapi);
    srv->prewarm = NULL;
    srv->confapi_ready = true;
    return 0;
}

/* The fleet's configuration versions are applied on the main thread. */
static void server_mod_confapi_ready(struct server *srv)
{
    if (srv->fleet && srv->confapi.fleet_mode && srv->confapi.history_dir)
        config_fleet_attach(&srv->confapi, srv->fleet, srv->base);
}

static void server_mod_confapi_apply(struct server *srv, const struct config *next,
                                     const struct serve_set *set, bool same)
{
    (void)set;
    (void)same;
    if (!srv->confapi_ready)
        return;
    config_api_set_params(&srv->confapi, &next->config_api);
    /* A file edited by hand: a version; not from a secondary zone's
     * reload, which did not read the file. */
    if (!next->from_running)
        config_api_note_reload(&srv->confapi);
}

static void server_mod_confapi_halt(struct server *srv)
{
    config_fleet_detach(&srv->confapi);
}

/* After the admin thread, its user, and the fleet, which offers it
 * versions, have stopped. */
static void server_mod_confapi_stop(struct server *srv)
{
    if (srv->confapi_ready)
        config_api_free(&srv->confapi);
    srv->confapi_ready = false;
}

/* ---- secondaries: the secondary zones' thread (xfr_in.h) ---- */

/* The secondary thread wrote a new copy (or a zone expired): reload. */
static void server_on_secondary_changed(void *arg)
{
    struct server *srv = arg;
    event_active(srv->xfr_reload, 0, 0);
}

static void server_on_xfr_reload(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    server_secondaries_changed(arg);
}

/* Hands the secondary zones of cfg to the secondary thread (started with
 * the first secondary zone; it then stays, with no zones when a reload
 * removes them all). */
void server_configure_secondaries(struct server *srv, const struct config *cfg,
                                  const struct serve_set *set)
{
    size_t n = 0;
    struct xfr_in_zone_conf *zc = calloc(cfg->n_zones ? cfg->n_zones : 1, sizeof(*zc));
    if (!zc)
        abort();
    for (size_t i = 0; i < cfg->n_zones; i++) {
        const struct config_zone *cz = &cfg->zones[i];
        if (cz->primary.n == 0)
            continue;
        const struct tsig_key *k =
            cz->primary.key ? tsig_keyring_by_id(&set->tsig, cz->primary.key) : NULL;
        zc[n++] = (struct xfr_in_zone_conf){cz->origin, cz->file, &cz->primary, k};
    }
    if (n && !srv->xfr_in && !(srv->xfr_in = xfr_in_start(server_on_secondary_changed, srv)))
        log_error("event=xfr_in result=failed why=\"cannot start the secondary thread\"");
    if (srv->xfr_in)
        xfr_in_configure(srv->xfr_in, zc, n);
    free(zc);
}

/* The thread takes NOTIFYs from the first query on; its zones come once
 * a reload can follow (ready). The event it fires exists from here on
 * (the main loop's base does), so a reload on the admin thread that adds
 * a secondary zone before the loop runs has it to fire. */
static int server_mod_secondaries_start(struct server *srv, struct serve_set *set)
{
    (void)set;
    srv->xfr_reload = event_new(srv->base, -1, 0, server_on_xfr_reload, srv);
    if (!srv->xfr_reload)
        abort();
    for (size_t i = 0; i < srv->cfg->n_zones && !srv->xfr_in; i++)
        if (srv->cfg->zones[i].primary.n)
            srv->xfr_in = xfr_in_start(server_on_secondary_changed, srv);
    return 0;
}

static void server_mod_secondaries_ready(struct server *srv)
{
    server_configure_secondaries(srv, srv->cfg, atomic_load(&srv->serve.current));
}

/* The main loop has ended: no refresh fires the event any more (the
 * thread is halted first); workers may still ask it. */
static void server_mod_secondaries_halt(struct server *srv)
{
    xfr_in_halt(srv->xfr_in);
}

/* After the DNS workers: no worker asks it any more. */
static void server_mod_secondaries_stop(struct server *srv)
{
    xfr_in_stop(srv->xfr_in);
    srv->xfr_in = NULL;
    if (srv->xfr_reload)
        event_free(srv->xfr_reload);
    srv->xfr_reload = NULL;
}

/* ---- health: the state file, the health service, probing ---- */

/* Restores the state file, starts the health service and probing, and
 * waits for the first round to decide every endpoint the state file did
 * not: nothing is answered before that, so a restart never sends traffic
 * to a region that is down. The file is read before the health service
 * starts, so that no write can interleave with the restore. */
static int server_mod_health_start(struct server *srv, struct serve_set *set)
{
    struct persist_result res = {.status = PERSIST_MISSING};
    const struct health_params *hp = &srv->cfg->health;
    override_set_max(&srv->health, hp->max_overrides);
    verdict_set_max(&srv->health, hp->max_verdicts);
    if (hp->state_file &&
        persist_load(&srv->health, hp->state_file, hp->state_max_age, 0, &res) != 0) {
        char err_q[sizeof(res.error) + 16];
        log_error("event=state_load result=refused file=%s error=\"%s\"", hp->state_file,
                  log_quote(res.error, err_q, sizeof(err_q)));
        return -1;
    }
    if (hp->state_file) {
        /* Drills resume until their end time (live ones set their bytes
         * now, before anything is answered) or end as passed. */
        json_t *sec = persist_load_section(hp->state_file, "drills");
        drill_core_restore(&srv->drills, sec, health_now());
        json_decref(sec);
        /* A drained node stays drained across a restart. */
        sec = persist_load_section(hp->state_file, "drain");
        anycast_drain_restore(&srv->drain, sec);
        json_decref(sec);
    }
    struct persist_section secs[] = {
        {.name = "drills", .save = drill_core_save, .arg = &srv->drills},
        {.name = "drain", .save = anycast_drain_save, .arg = &srv->drain}};
    srv->health_svc = health_service_start_sections(&srv->health, secs, 2);
    health_service_set_state_file(srv->health_svc, hp->state_file);
    health_service_set_load_result(srv->health_svc, &res);
    srv->sched = scheduler_start(&srv->health, &hp->probe_source, hp->exec_max_running);
    uint32_t max_timeout = server_plan_probes(srv, set);
    struct timespec t0;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    notify_send(&srv->notify, "STATUS=first probe round: deciding which endpoints are up");
    /* Plus time for c-ares to resolve check host names (2 s, 2 tries). */
    double wait = max_timeout / 1000.0 + 4.5;
    bool done = scheduler_wait_initial(srv->sched, wait < 30 ? wait : 30);
    log_info("event=first_round restored=%zu complete=%s ms=%.1f", res.endpoints,
             done ? "yes" : "no", server_elapsed_ms(&t0));
    return 0;
}

static void server_mod_health_apply(struct server *srv, const struct config *next,
                                    const struct serve_set *set, bool same)
{
    (void)same;
    health_service_set_state_file(srv->health_svc, next->health.state_file);
    override_set_max(&srv->health, next->health.max_overrides);
    verdict_set_max(&srv->health, next->health.max_verdicts);
    server_plan_probes(srv, set);
}

/* The health service writes the state file a last time, drills included
 * (the drill thread and the fleet, which ask it for writes, have
 * stopped). */
static void server_mod_health_stop(struct server *srv)
{
    scheduler_stop(srv->sched);
    srv->sched = NULL;
    health_service_stop(srv->health_svc);
    srv->health_svc = NULL;
}

/* ---- fleet: the prober fleet on etcd ---- */

/* The direct peer channel's default (fleet.peer_listen absent): the first
 * TCP admin listener's address with port 0 (the kernel picks one, the node
 * record announces it), into buf; NULL when no admin listener is TCP or
 * its address is a wildcard, which peers could not send to (logged: the
 * channel is then off until peer_listen names an address). */
static const char *server_mod_peer_default(const struct config *c, char *buf, size_t len)
{
    if (c->fleet.peer_off || c->fleet.peer_listen)
        return NULL;
    for (size_t i = 0; i < c->admin.n_listen; i++) {
        const char *l = c->admin.listen[i], *colon = strrchr(l, ':');
        if (strncmp(l, "unix:", 5) == 0 || !colon)
            continue;
        snprintf(buf, len, "%.*s:0", (int)(colon - l), l);
        if (!fleet_peer_listen_wildcard(buf))
            return buf;
        break;
    }
    log_warn("event=fleet_peer_off why=\"no admin listener on a specific address\" "
             "note=\"set fleet.peer_listen to the IP:PORT peers reach this node at\"");
    return NULL;
}

/* Starts the fleet client and waits a little for its first read of etcd,
 * so a node that restarts answers with the fleet's overrides and verdicts
 * from its first query (the state file holds the last known ones if etcd
 * is not there). */
static int server_mod_fleet_start(struct server *srv, struct serve_set *set)
{
    const struct config *c = srv->cfg;
    if (!c->fleet.enabled)
        return 0;
    struct fleet_env env = {.health = &srv->health,
                            .health_service = srv->health_svc,
                            .drills = &srv->drills,
                            .version = GTM_VERSION,
                            .vantage = (const char *const *)c->health.probe_source_text,
                            .n_vantage = c->health.n_probe_source,
                            .unsafe = server_safety_unsafe,
                            .unsafe_arg = &srv->safety};
    char peer_default[80];
    env.peer_default = server_mod_peer_default(c, peer_default, sizeof(peer_default));
    if (srv->confapi.fleet_mode && srv->confapi.history_dir) { /* the fleet's configuration */
        env.on_config = config_fleet_offer;
        env.config_arg = &srv->confapi;
        env.config_applied = config_fleet_applied(&srv->confapi);
        env.config_own = env.config_applied ? NULL : config_fleet_own(&srv->confapi);
    } else if (srv->confapi.fleet_mode)
        log_error("event=config_fleet result=off why=\"%s\" note=\"this node does not follow "
                  "the fleet's configuration\"",
                  srv->confapi.why_off[0] ? srv->confapi.why_off : "no history directory");
    char err[512];
    server_safety_init(&srv->safety, set); /* set is published later: it lives on */
    srv->fleet = fleet_start(&c->fleet, &env, err, sizeof(err));
    json_decref(env.config_own); /* the fleet holds its own reference */
    if (!srv->fleet) {
        server_safety_destroy(&srv->safety);
        log_error("%s", err);
        return -1;
    }
    char hash[24];
    server_config_hash(srv, c, set, hash);
    fleet_set_endpoints(srv->fleet, set->gslb, hash);
    struct timespec t0;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    double wait = c->fleet.stale_after < 3 ? c->fleet.stale_after : 3;
    bool synced = fleet_wait_synced(srv->fleet, wait);
    log_info("event=fleet_first_sync node=%s synced=%s ms=%.1f", c->fleet.node,
             synced ? "yes" : "no", server_elapsed_ms(&t0));
    return 0;
}

/* The fleet and the probe source are fixed for the run. */
static void server_mod_fleet_keep(struct config *next, struct config *running)
{
    struct fleet_params f = next->fleet;
    next->fleet = running->fleet;
    running->fleet = f;
    struct health_params *nh = &next->health, *oh = &running->health;
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

static void server_mod_fleet_apply(struct server *srv, const struct config *next,
                                   const struct serve_set *set, bool same)
{
    (void)same;
    if (!srv->fleet)
        return;
    char hash[24];
    server_config_hash(srv, next, set, hash);
    fleet_set_endpoints(srv->fleet, set->gslb, hash);
}

/* Revokes its lease: the others drop its reports. */
static void server_mod_fleet_stop(struct server *srv)
{
    if (!srv->fleet)
        return;
    fleet_stop(srv->fleet);
    srv->fleet = NULL;
    server_safety_destroy(&srv->safety);
}

/* ---- dnstap: the query log's writer thread (dnstap.h) ---- */

/* Before the workers, which take its queues: one per worker thread. The
 * section's socket or file and queue size are the writer's for the run;
 * the rest follows reloads in the served set (dnstap_view.h). */
static int server_mod_dnstap_start(struct server *srv, struct serve_set *set)
{
    (void)set;
    const struct dnstap_params *p = &srv->cfg->dnstap;
    if (!p->enabled || !srv->cfg->n_listen)
        return 0;
    struct net_params np;
    char err[512];
    server_net_params(srv->cfg, &np);
    unsigned n = net_reader_count(&np);
    free((void *)np.listen);
    srv->dnstap = dnstap_open(p, n, err, sizeof(err));
    if (!srv->dnstap) {
        log_error("event=dnstap result=failed error=\"%s\"", err);
        return -1;
    }
    log_info("event=dnstap sink=%s:%s queues=%u queue_size=%u", p->socket ? "unix" : "file",
             p->socket ? p->socket : p->file, n, p->queue_size);
    return 0;
}

/* The writer keeps its sink and queues: they move back into next. */
static void server_mod_dnstap_keep(struct config *next, struct config *running)
{
    struct dnstap_params *n = &next->dnstap, *r = &running->dnstap;
    char *socket = n->socket, *file = n->file;
    unsigned q = n->queue_size;
    n->socket = r->socket;
    n->file = r->file;
    n->queue_size = r->queue_size;
    r->socket = socket;
    r->file = file;
    r->queue_size = q;
}

/* After the workers and every other module (the table's first): nothing
 * logs any more; what is queued is written, in about a second at most. */
static void server_mod_dnstap_stop(struct server *srv)
{
    dnstap_close(srv->dnstap);
    srv->dnstap = NULL;
}

/* ---- net: the served set's first publication and the DNS workers ---- */

/* The health service's listener (health thread): after a health change,
 * rebuild the widened ECS scopes of the current set's geo records for the
 * new state and sign its policy answers, and free the tries and tables
 * they replace once no worker can hold them. */
static void server_on_health_change(void *arg)
{
    struct server *srv = arg;
    struct policy_geo_retired retired = {0};
    struct policy_sigs_retired sigs_retired = {0};
    const struct serve_set *s = serve_enter(srv->widen_reader);
    /* Failback ramps start when a region recovers (policy_ramp.h). */
    if (s && s->gslb)
        policy_ramp_track(s->gslb);
    if (s && s->geo) {
        policy_geo_widen(s->gslb, s->geo, &retired);
        /* Latency records: their tables, when round-trip times moved. */
        policy_latency_refresh(s->gslb, s->geo, &retired);
    }
    /* The signatures of the policy answers of the new state (zones signed
     * at load, policy_sign.h): until they are made, a query with DO gets
     * the answer signed last. */
    if (s && s->sigs)
        policy_sigs_update(s->sigs, s->geo, &sigs_retired);
    serve_leave(srv->widen_reader);
    if (retired.n || sigs_retired.n)
        serve_sync(&srv->serve);
    policy_geo_retired_free(&retired);
    policy_sigs_retired_free(&sigs_retired);
}

/* Publishes the first served set and starts the DNS workers on the
 * sockets server_bind bound. Takes set (freed by serve_destroy). */
static int server_mod_net_start(struct server *srv, struct serve_set *set)
{
    struct net_params np;
    char err[512];
    server_net_params(srv->cfg, &np);
    np.dnstap = srv->dnstap;
    /* One reader per worker thread, one for the admin thread, one for
     * the drill thread, one for the health thread (widened scopes), one
     * for the fleet thread (the safety rule on adoption), one for the
     * notifier (webhook.h), one for the configuration API (config_api.h),
     * one for the anycast controller (anycast.h). */
    serve_init(&srv->serve, net_reader_count(&np) + 7);
    srv->serve_ready = true;
    server_set_hooks(srv, set);
    load_journals(srv->cfg, NULL, set);
    /* Built now (the job owns copies): once published, set may be retired. */
    struct notify_job *notify = load_notify_job(srv->cfg, NULL, set);
    serve_publish(&srv->serve, set); /* the first: nothing to hand back */
    srv->widen_reader = serve_reader_add(&srv->serve);
    /* The configuration API's dry runs compare with the running set. */
    config_api_set_live(&srv->confapi, &srv->serve, serve_reader_add(&srv->serve), &srv->health);
    if (srv->fleet)
        server_safety_attach(&srv->safety, serve_reader_add(&srv->serve));
    health_service_set_listener(srv->health_svc, server_on_health_change, srv);
    health_service_kick(srv->health_svc);
    /* Restored scoped drills apply from the first query on, and restored
     * drills' timelines count from here. */
    drill_core_attach(&srv->drills, &srv->serve);
    srv->updater = srv->cfg->n_listen ? server_update_start(srv) : NULL;
    np.update_submit = srv->updater ? server_update_submit : NULL;
    np.update_arg = srv->updater;
    /* No listen address: a prober-only node of a fleet (no DNS threads). */
    int rc = srv->cfg->n_listen ? net_start(&srv->net, &np, &srv->serve, err, sizeof(err)) : 0;
    free((void *)np.listen);
    if (rc != 0) {
        log_error("%s", err);
        notify_job_free(notify); /* the start fails: nobody would answer a transfer */
        return -1;
    }
    /* NOTIFY only once the workers listen: a secondary answering it at
     * once (Knot does) would otherwise find no TCP listener, take a reset
     * and wait for its retry timer (tens of seconds) before transferring. */
    notify_out_send(notify);
    for (size_t i = 0; i < srv->cfg->n_listen; i++)
        log_info("event=listen address=%s transports=udp,tcp", srv->cfg->listen[i].text);
    for (size_t i = 0; srv->cfg->tls.enabled && i < srv->cfg->tls.n_listen; i++)
        log_info("event=listen address=%s transports=tls", srv->cfg->tls.listen[i].text);
    return 0;
}

/* Every reload reads the DNS over TLS certificate, key and chain again
 * (renewed files under the same names are the usual case); files that do
 * not load leave the running certificate in place. */
static void server_mod_net_apply(struct server *srv, const struct config *next,
                                 const struct serve_set *set, bool same)
{
    char err[768], info[512], q[800];
    (void)set;
    (void)same;
    if (!srv->net.tls_ctx || !next->tls.enabled)
        return;
    if (net_tls_reload(&srv->net, &next->tls, err, sizeof(err), info, sizeof(info)) != 0)
        log_error("event=tls_certificate result=failed error=\"%s\" note=\"the running "
                  "certificate is kept\"",
                  log_quote(err, q, sizeof(q)));
    else
        log_info("event=tls_certificate result=reloaded %s", info);
}

static void server_mod_net_keep(struct config *next, struct config *running)
{
    struct config_listen *l = next->listen;
    size_t n = next->n_listen;
    next->listen = running->listen;
    next->n_listen = running->n_listen;
    running->listen = l;
    running->n_listen = n;
    next->workers = running->workers;
    next->pin_workers = running->pin_workers;
    next->udp_hash = running->udp_hash;
    /* The TLS listeners too (their certificate follows the new file). */
    struct tls_listen *tl = next->tls.listen;
    size_t tn = next->tls.n_listen;
    next->tls.listen = running->tls.listen;
    next->tls.n_listen = running->tls.n_listen;
    running->tls.listen = tl;
    running->tls.n_listen = tn;
}

static void server_mod_net_stop(struct server *srv)
{
    server_update_stop(srv->updater); /* its replies go through the workers */
    srv->updater = NULL;
    net_stop(&srv->net);
}

static void server_mod_xdp_keep(struct config *next, struct config *running)
{
    struct xdp_params x = next->xdp;
    next->xdp = running->xdp;
    running->xdp = x;
}

/* ---- drills: the drill core's parameters and the drill thread ---- */

/* Where gtmd can ask itself: the listen address, with a wildcard address
 * replaced by loopback of its family. */
static void server_self_address(const struct config_listen *l, struct sockaddr_storage *out,
                                socklen_t *len)
{
    *out = l->addr;
    *len = l->addr_len;
    if (out->ss_family == AF_INET) {
        struct sockaddr_in *a = (struct sockaddr_in *)out;
        if (a->sin_addr.s_addr == htonl(INADDR_ANY))
            a->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    } else if (out->ss_family == AF_INET6) {
        struct sockaddr_in6 *a = (struct sockaddr_in6 *)out;
        if (IN6_IS_ADDR_UNSPECIFIED(&a->sin6_addr))
            a->sin6_addr = in6addr_loopback;
    }
}

/* Starts the drill thread with its own serve reader (once the first set
 * is published). */
static int server_mod_drills_start(struct server *srv, struct serve_set *set)
{
    (void)set;
    srv->drill_reader = serve_reader_add(&srv->serve);
    if (!srv->drill_reader)
        abort(); /* sized for it by the net module */
    struct drill_service_env env = {.drills = &srv->drills,
                                    .health = &srv->health,
                                    .health_service = srv->health_svc,
                                    .reader = srv->drill_reader};
    /* The drill thread measures recoveries by asking the first listen
     * address itself (a wildcard one through loopback). */
    if (srv->cfg->n_listen > 0)
        server_self_address(&srv->cfg->listen[0], &env.self_addr, &env.self_len);
    srv->drill_svc = drill_service_start(&env);
    return 0;
}

static void server_mod_drills_apply(struct server *srv, const struct config *next,
                                    const struct serve_set *set, bool same)
{
    (void)set;
    (void)same;
    drill_core_set_params(&srv->drills, &next->drills);
    /* Endpoints may have come or gone: judge every abort_if again. */
    drill_service_poke(srv->drill_svc);
}

static void server_mod_drills_stop(struct server *srv)
{
    drill_service_stop(srv->drill_svc);
    srv->drill_svc = NULL;
}

/* ---- webhooks: outgoing notifications ---- */

static int server_mod_webhooks_start(struct server *srv, struct serve_set *set)
{
    (void)set;
    struct webhook_env wenv = {.events = srv->health.events,
                               .serve = &srv->serve,
                               .node = srv->cfg->fleet.enabled ? srv->cfg->fleet.node
                                       : srv->cfg->identity    ? srv->cfg->identity
                                                               : "gtmd"};
    srv->webhooks = webhook_start(&srv->cfg->notify, &wenv);
    return 0;
}

static void server_mod_webhooks_apply(struct server *srv, const struct config *next,
                                      const struct serve_set *set, bool same)
{
    (void)set;
    (void)same;
    if (srv->webhooks)
        webhook_update(srv->webhooks, &next->notify);
    else if (next->notify.n_hooks)
        log_warn("event=reload note=\"webhooks added to a server that had none start on "
                 "restart\"");
}

/* Before the ring and the served set go. */
static void server_mod_webhooks_stop(struct server *srv)
{
    webhook_stop(srv->webhooks);
    srv->webhooks = NULL;
}

/* ---- admin: the admin API, metrics and the console ---- */

/* GET /v1/dnssec's view of c, built anew (it reads the zones' .key files,
 * which the load just read too). */
void server_dnssec_refresh(struct server *srv, const struct config *c)
{
    if (!srv->admin)
        return;
    json_t *v = server_dnssec_view(c, srv->dnssec_view);
    server_kasp_parent_decorate(srv, v);
    json_object_set_new(v, "fleet_keys", server_keyshare_json(srv));
    json_decref(srv->dnssec_view);
    srv->dnssec_view = v;
    admin_set_dnssec(srv->admin, json_deep_copy(v));
}

/* Last: POST /v1/reload can run on the admin thread as soon as it starts,
 * and a reload frees srv->cfg (read here and by admin_start's log lines):
 * the walk holds reload_lock for it. */
static int server_mod_admin_start(struct server *srv, struct serve_set *set)
{
    (void)set;
    char err[512];
    if (!srv->admin)
        return 0;
    struct admin_env env = {.serve = &srv->serve,
                            .health = &srv->health,
                            .health_service = srv->health_svc,
                            .drills = &srv->drills,
                            .reload = server_reload,
                            .reload_arg = srv,
                            .started = srv->started,
                            .workers = srv->cfg->workers,
                            .reloads_ok = &srv->reloads_ok,
                            .kasp_transitions = &srv->kasp_transitions,
                            .kasp_ds_push_ok = &srv->kasp_ds_push_ok,
                            .kasp_ds_push_failed = &srv->kasp_ds_push_failed,
                            .kasp_parent_ok = &srv->kasp_parent_ok,
                            .kasp_parent_failed = &srv->kasp_parent_failed,
                            .kasp_ds_overdue = &srv->kasp_ds_overdue,
                            .keyshare_errors = &srv->keyshare_errors,
                            .dnssec_rollover = server_kasp_rollover,
                            .reloads_failed = &srv->reloads_failed,
                            .updates = srv->updates,
                            .updates_changed = &srv->updates_changed,
                            .fleet = srv->fleet,
                            .store = srv->fleet ? fleet_store(srv->fleet) : NULL,
                            .webhooks = srv->webhooks,
                            .dnstap = srv->dnstap,
                            .anycast = srv->anycast,
                            .drain = &srv->drain,
                            .config = &srv->confapi_ops};
    if (admin_start(srv->admin, &env, &srv->cfg->admin, err, sizeof(err)) != 0) {
        log_error("%s", err);
        return -1;
    }
    server_dnssec_refresh(srv, srv->cfg);
    return 0;
}

static void server_mod_admin_keep(struct config *next, struct config *running)
{
    struct admin_params a = next->admin;
    next->admin = running->admin;
    running->admin = a;
}

/* Tokens and the audit log follow the reload only while the admin
 * listeners stay the same: the loopback-without-token rule was checked
 * against the new listen list, so applying new tokens to sockets bound
 * from another list could open a public listener without a token. */
static void server_mod_admin_apply(struct server *srv, const struct config *next,
                                   const struct serve_set *set, bool same)
{
    (void)set;
    if (srv->admin && same)
        admin_update(srv->admin, &next->admin);
    if (srv->admin)
        server_dnssec_refresh(srv, next);
}

static void server_mod_admin_stop(struct server *srv)
{
    admin_stop(srv->admin);
    json_decref(srv->dnssec_view);
    srv->dnssec_view = NULL;
}

/* ---- user: who gtmd runs as (dropped to at start, server.c) ---- */

/* What the privileges gtmd runs with cannot apply (another user, a
 * privileged port), said in the log. */
static void server_mod_user_apply(struct server *srv, const struct config *next,
                                  const struct serve_set *set, bool same)
{
    (void)set;
    privs_reload_notes(srv->cfg, next, same);
}

static void server_mod_user_keep(struct config *next, struct config *running)
{
    struct config_user u = next->run_as;
    next->run_as = running->run_as;
    running->run_as = u;
}

/* ---- the table ---- */

/* In dependency order: each may use what the ones before it started. */
static const struct server_module server_modules[] = {
    /* First, so stopped last: it uses nothing the others start, and its
     * stop (about a second at most, for a slow reader: dnstap.h) comes
     * after health's final state write, never before it. */
    {.name = "dnstap",
     .restart_key = "dnstap",
     .restart_note = "the dnstap socket, file and queue_size change only on restart; what is "
                     "logged follows the reload",
     .start = server_mod_dnstap_start,
     .keys = {"dnstap"},
     .keep = server_mod_dnstap_keep,
     .stop = server_mod_dnstap_stop},
    {.name = "config_api",
     .start = server_mod_confapi_start,
     .ready = server_mod_confapi_ready,
     .halt = server_mod_confapi_halt,
     .stop = server_mod_confapi_stop},
    {.name = "secondaries",
     .start = server_mod_secondaries_start,
     .ready = server_mod_secondaries_ready,
     .halt = server_mod_secondaries_halt,
     .stop = server_mod_secondaries_stop},
    {.name = "health",
     .start = server_mod_health_start,
     .apply = server_mod_health_apply,
     .stop = server_mod_health_stop},
    {.name = "fleet",
     .restart_key = "fleet",
     .restart_note = "fleet and probe_source change only on restart",
     .start = server_mod_fleet_start,
     .keys = {"fleet", "probe_source"},
     .keep = server_mod_fleet_keep,
     .apply = server_mod_fleet_apply,
     .stop = server_mod_fleet_stop},
    {.name = "net",
     .restart_key = "listen",
     .restart_note = "listen addresses, tls.listen, workers, pin_workers and udp_steering change "
                     "only on restart",
     .start = server_mod_net_start,
     .keys = {"listen", "workers", "tls", "pin_workers", "udp_steering"},
     .keep = server_mod_net_keep,
     .apply = server_mod_net_apply,
     .stop = server_mod_net_stop},
    {.name = "xdp",
     .restart_note = "the xdp section changes only on restart",
     .keys = {"xdp"},
     .keep = server_mod_xdp_keep},
    /* After the DNS workers, so stopped before them: the route is
     * withdrawn while the node still answers. */
    {.name = "anycast",
     .restart_key = "anycast",
     .restart_note = "the anycast section changes only on restart",
     .start = server_anycast_start,
     .keys = {"anycast"},
     .keep = server_anycast_keep,
     .apply = server_anycast_apply,
     .stop = server_anycast_stop},
    {.name = "drills",
     .start = server_mod_drills_start,
     .apply = server_mod_drills_apply,
     .stop = server_mod_drills_stop},
    {.name = "webhooks",
     .start = server_mod_webhooks_start,
     .apply = server_mod_webhooks_apply,
     .stop = server_mod_webhooks_stop},
    {.name = "admin",
     .restart_key = "admin",
     .restart_note = "admin listeners and limits change only on restart; admin tokens and "
                     "audit log kept",
     .start_locked = true,
     .start = server_mod_admin_start,
     .keys = {"admin"},
     .keep = server_mod_admin_keep,
     .apply = server_mod_admin_apply,
     .stop = server_mod_admin_stop},
    {.name = "user",
     .restart_key = "user",
     .keys = {"user", "group"},
     .keep = server_mod_user_keep,
     .apply = server_mod_user_apply},
    /* Last of a reload: the file becomes a version once every module above
     * applies it (a client waiting for the version finds it applied). */
    {.name = "config_versions", .apply = server_mod_confapi_apply},
};
#define SERVER_MODULES_N (sizeof(server_modules) / sizeof(server_modules[0]))

int server_modules_start(struct server *srv, struct serve_set *set)
{
    for (size_t i = 0; i < SERVER_MODULES_N; i++) {
        const struct server_module *m = &server_modules[i];
        if (!m->start)
            continue;
        if (m->start_locked)
            pthread_mutex_lock(&srv->reload_lock);
        int rc = m->start(srv, set);
        if (m->start_locked)
            pthread_mutex_unlock(&srv->reload_lock);
        if (rc != 0) {
            log_error("event=start result=failed module=%s", m->name);
            if (!srv->serve_ready)
                serve_set_free(set); /* not published: nothing owns it */
            return -1;
        }
    }
    return 0;
}

void server_modules_ready(struct server *srv)
{
    /* The admin thread may reload already, replacing srv->cfg. */
    pthread_mutex_lock(&srv->reload_lock);
    for (size_t i = 0; i < SERVER_MODULES_N; i++)
        if (server_modules[i].ready)
            server_modules[i].ready(srv);
    pthread_mutex_unlock(&srv->reload_lock);
}

/* Whether next keeps the part of m's keys only a restart applies (the
 * schema's flags, config.h's restart_part). */
static bool server_modules_same(const struct server_module *m, const struct config *running,
                                const struct config *next)
{
    for (size_t k = 0; k < SERVER_MODULE_KEYS && m->keys[k]; k++) {
        json_t *a = json_object_get(running->restart_part, m->keys[k]);
        json_t *b = json_object_get(next->restart_part, m->keys[k]);
        if ((a || b) && !(a && b && json_equal(a, b)))
            return false;
    }
    return true;
}

void server_modules_reload(struct server *srv, struct config *next, const struct serve_set *set,
                           json_t *result)
{
    bool same[SERVER_MODULES_N];
    for (size_t i = 0; i < SERVER_MODULES_N; i++) {
        const struct server_module *m = &server_modules[i];
        same[i] = server_modules_same(m, srv->cfg, next);
        if (!same[i] && m->restart_note)
            log_warn("event=reload note=\"%s\"", m->restart_note);
        if (m->restart_key) {
            char key[64];
            snprintf(key, sizeof(key), "restart_needed_for_%s", m->restart_key);
            json_object_set_new(result, key, json_boolean(!same[i]));
        }
    }
    for (size_t i = 0; i < SERVER_MODULES_N; i++)
        if (server_modules[i].apply)
            server_modules[i].apply(srv, next, set, same[i]);
    for (size_t i = 0; i < SERVER_MODULES_N; i++)
        if (!same[i] && server_modules[i].keep)
            server_modules[i].keep(next, srv->cfg);
}

void server_modules_halt(struct server *srv)
{
    for (size_t i = SERVER_MODULES_N; i-- > 0;)
        if (server_modules[i].halt)
            server_modules[i].halt(srv);
}

void server_modules_stop(struct server *srv)
{
    for (size_t i = SERVER_MODULES_N; i-- > 0;)
        if (server_modules[i].stop)
            server_modules[i].stop(srv);
}

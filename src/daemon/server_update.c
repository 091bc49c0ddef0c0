/*
 * server_update.c -- the updater thread (server_update.h).
 *
 * Threads: workers submit (the queue's mutex); the updater thread takes
 * jobs one by one and holds reload_lock while it applies one, so an
 * update, a reload and a re-sign never run at once, and the set an update
 * is checked against is the one it replaces.
 */
#include "daemon/server_update.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "answer/query.h"
#include "common/log.h"
#include "daemon/load.h"
#include "daemon/server_int.h"
#include "dns/dns.h"
#include "dns/name.h"
#include "dns/rrtype.h"
#include "net/notify_out.h"
#include "zone/zone_sign.h"
#include "zone/zone_update.h"

struct server_update {
    struct server *srv;
    pthread_t thread;
    pthread_mutex_t lock;
    pthread_cond_t cond;
    struct net_update *queue[SERVER_UPDATE_QUEUE]; /* a ring */
    size_t head, n;
    bool stopping;
};

/* What one update did, for its log line. */
struct server_update_run {
    const struct net_update *job;
    char zone[256]; /* a copy: the zone is freed once the update replaces it */
    uint16_t rcode;
    char why[600];
    struct zone_update_out out;
};

bool server_update_submit(void *arg, struct net_update *job)
{
    struct server_update *u = arg;
    bool taken = false;
    pthread_mutex_lock(&u->lock);
    if (!u->stopping && u->n < SERVER_UPDATE_QUEUE) {
        u->queue[(u->head + u->n++) % SERVER_UPDATE_QUEUE] = job;
        taken = true;
        pthread_cond_signal(&u->cond);
    }
    pthread_mutex_unlock(&u->lock);
    return taken;
}

/* The configured zone named origin (wire), or -1. */
static int server_update_zone_index(const struct config *cfg, const uint8_t *origin, size_t len)
{
    for (size_t i = 0; i < cfg->n_zones; i++) {
        struct dns_name n;
        if (dns_name_from_str(cfg->zones[i].origin, &n) &&
            dns_name_equal(n.wire, n.len, origin, len))
            return (int)i;
    }
    return -1;
}

/* The key of kr the job was signed with, if it is still the same key (a
 * reload may have changed its secret since the worker checked it). */
static const struct tsig_key *server_update_key(const struct tsig_keyring *kr,
                                                const struct net_update *job)
{
    const struct tsig_key *k = tsig_keyring_find(kr, job->key.name, job->key.name_len);
    if (!k || k->alg != job->key.alg || k->secret_len != job->key.secret_len ||
        memcmp(k->secret, job->key.secret, k->secret_len) != 0)
        return NULL;
    return k;
}

/* Writes, loads and publishes the new records of run (zone zi, now z in
 * cur); the rcode. Caller holds reload_lock. */
static uint16_t server_update_commit(struct server *srv, size_t zi, struct serve_set *cur,
                                     const struct zone *z, struct server_update_run *run)
{
    const struct config *cfg = srv->cfg;
    const struct config_zone *cz = &cfg->zones[zi];
    char tmp[4200];
    snprintf(tmp, sizeof(tmp), "%s.update.tmp", cz->file);
    if (!zone_update_write(run->out.rrs, tmp, run->why, sizeof(run->why))) {
        unlink(tmp);
        return DNS_RCODE_SERVFAIL;
    }
    struct stat st; /* the new file keeps the old one's permissions */
    if (stat(cz->file, &st) == 0)
        (void)chmod(tmp, st.st_mode & 07777);
    struct errlist errs;
    errlist_init(&errs);
    struct serve_bind bind = {0};
    struct snapshot *s = load_update_snapshot(cfg, cur, zi, tmp, &bind, &errs);
    if (!s) {
        snprintf(run->why, sizeof(run->why), "the zone would not load: %s",
                 errs.count ? errs.msgs[0] : "?");
        errlist_free(&errs);
        unlink(tmp);
        return DNS_RCODE_REFUSED;
    }
    if (rename(tmp, cz->file) != 0) {
        snprintf(run->why, sizeof(run->why), "cannot replace %s: %s", cz->file, strerror(errno));
        serve_bind_free(&bind);
        snapshot_free(s);
        errlist_free(&errs);
        unlink(tmp);
        return DNS_RCODE_SERVFAIL;
    }
    /* A new generation: transfers under way walk the zone they began
     * with, and end when the generation moves (xfr_out.h). */
    struct serve_set *set = load_set_like(cur, s, &bind, srv->generation + 1, cfg->path, &errs);
    if (!set) {
        snprintf(run->why, sizeof(run->why), "written to %s but not served: %s", cz->file,
                 errs.count ? errs.msgs[0] : "?");
        errlist_free(&errs);
        return DNS_RCODE_SERVFAIL;
    }
    errlist_free(&errs);
    for (size_t i = 0; i < set->zones->n_zones; i++) /* the new zone: the one not shared */
        if (dns_name_equal(set->zones->zones[i]->origin, set->zones->zones[i]->origin_len,
                           z->origin, z->origin_len))
            load_journal_zone(cfg, zi, z, set->zones->zones[i]);
    server_set_hooks(srv, set);
    struct serve_set *old = serve_publish(&srv->serve, set);
    srv->generation++;
    notify_out_send(load_notify_job(cfg, old->zones, set));
    load_drop_behind(srv->dropper, old);
    return DNS_RCODE_NOERROR;
}

/* The update of run (req, prepared) against z (configured zone zi):
 * applied, then committed when it changes anything. */
static void server_update_zone(struct server *srv, size_t zi, struct serve_set *cur,
                               const struct zone *z, const struct tsig_key *key,
                               struct zone_update_req *req, struct server_update_run *run)
{
    const struct zone_sign_params *sp = &srv->cfg->zones[zi].dnssec.sign;
    ldns_rr_list *made_keys = NULL;
    if (sp->n_keys) {
        struct errlist errs;
        errlist_init(&errs);
        made_keys = zone_sign_public_keys(sp, &errs);
        if (!made_keys) {
            run->rcode = DNS_RCODE_SERVFAIL;
            snprintf(run->why, sizeof(run->why), "%s", errs.count ? errs.msgs[0] : "no keys");
            errlist_free(&errs);
            return;
        }
        errlist_free(&errs);
    }
    run->rcode = zone_update_run(z, z->update, key, req, made_keys, &run->out);
    snprintf(run->why, sizeof(run->why), "%s", run->out.why);
    if (made_keys)
        ldns_rr_list_deep_free(made_keys);
    if (run->rcode == DNS_RCODE_NOERROR && run->out.rrs)
        run->rcode = server_update_commit(srv, zi, cur, z, run);
}

/* Checks and applies one update; run->rcode is the reply's. What needs
 * only the message (parsing, the form of every record, sorting the
 * prerequisites: zone_update_prepare) is done before the reload lock is
 * taken, so that a large request holds up reloads and other updates no
 * longer than an ordinary one (issue #53). */
static void server_update_apply(struct server *srv, struct server_update_run *run)
{
    const struct net_update *job = run->job;
    struct dns_query q;
    run->rcode = DNS_RCODE_FORMERR;
    if (dns_query_parse(job->msg, job->len, &q) != DNS_PARSE_OK)
        return;
    struct zone_update_req *req = NULL;
    run->rcode =
        zone_update_prepare(q.qname.wire, q.qname.len, job->msg, job->len, &req, &run->out);
    if (run->rcode != DNS_RCODE_NOERROR) {
        dns_name_to_str(q.qname.wire, run->zone, sizeof(run->zone));
        snprintf(run->why, sizeof(run->why), "%s", run->out.why);
        return;
    }
    pthread_mutex_lock(&srv->reload_lock);
    /* Only publications free sets, and they take reload_lock. */
    struct serve_set *cur = atomic_load(&srv->serve.current);
    int zi = server_update_zone_index(srv->cfg, q.qname.wire, q.qname.len);
    const struct zone *z = NULL;
    for (size_t i = 0; zi >= 0 && i < cur->zones->n_zones && !z; i++)
        if (dns_name_equal(cur->zones->zones[i]->origin, cur->zones->zones[i]->origin_len,
                           q.qname.wire, q.qname.len))
            z = cur->zones->zones[i];
    const struct tsig_key *key = server_update_key(&cur->tsig, job);
    if (!z || z->secondary) {
        run->rcode = DNS_RCODE_NOTAUTH;
        snprintf(run->why, sizeof(run->why), "not a zone gtmd is the primary of");
    } else if (!key || !zone_update_allowed(z->update, key, NULL, 0, 0)) {
        run->rcode = DNS_RCODE_REFUSED;
        snprintf(run->why, sizeof(run->why), "the key has no update rule for the zone (now)");
    } else {
        snprintf(run->zone, sizeof(run->zone), "%s", z->origin_str);
        server_update_zone(srv, (size_t)zi, cur, z, key, req, run);
    }
    pthread_mutex_unlock(&srv->reload_lock);
    zone_update_req_free(req);
}

static void server_update_log(const struct server_update_run *run, double ms)
{
    char client[INET6_ADDRSTRLEN] = "?", key[300] = "-", why_q[700];
    const struct sockaddr_storage *a = &run->job->from;
    if (a->ss_family == AF_INET)
        inet_ntop(AF_INET, &((const struct sockaddr_in *)a)->sin_addr, client, sizeof(client));
    else if (a->ss_family == AF_INET6)
        inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)a)->sin6_addr, client, sizeof(client));
    if (run->job->tsig.key)
        dns_name_to_str(run->job->key.name, key, sizeof(key));
    const char *rc = dns_rcode_name(run->rcode);
    if (run->rcode == DNS_RCODE_NOERROR)
        log_info("event=update zone=%s key=%s client=%s result=%s serial=%u added=%u deleted=%u "
                 "ms=%.1f",
                 run->zone[0] ? run->zone : "?", key, client,
                 run->out.new_serial != run->out.old_serial ? "changed" : "unchanged",
                 run->out.new_serial, run->out.added, run->out.deleted, ms);
    else
        log_warn("event=update zone=%s key=%s client=%s result=%s why=\"%s\"",
                 run->zone[0] ? run->zone : "?", key, client, rc ? rc : "?",
                 log_quote(run->why, why_q, sizeof(why_q)));
}

static void server_update_reply(struct net_update *job, uint16_t rcode)
{
    uint8_t buf[1024];
    size_t n = query_update_reply(job->msg, job->len, rcode, &job->tsig, (uint64_t)time(NULL), buf,
                                  sizeof(buf));
    job->reply(job, buf, n); /* frees job */
}

static void *server_update_main(void *arg)
{
    struct server_update *u = arg;
    pthread_mutex_lock(&u->lock);
    for (;;) {
        while (!u->stopping && u->n == 0)
            pthread_cond_wait(&u->cond, &u->lock);
        if (u->stopping)
            break;
        struct net_update *job = u->queue[u->head];
        u->head = (u->head + 1) % SERVER_UPDATE_QUEUE;
        u->n--;
        pthread_mutex_unlock(&u->lock);
        struct timespec t0;
        clock_gettime(CLOCK_MONOTONIC, &t0);
        struct server_update_run run = {.job = job};
        server_update_apply(u->srv, &run);
        if (run.out.rrs)
            ldns_rr_list_deep_free(run.out.rrs);
        server_update_log(&run, server_elapsed_ms(&t0));
        if (run.rcode < ADMIN_UPDATE_RCODES)
            atomic_fetch_add(&u->srv->updates[run.rcode], 1);
        if (run.rcode == DNS_RCODE_NOERROR && run.out.new_serial != run.out.old_serial)
            atomic_fetch_add(&u->srv->updates_changed, 1);
        server_update_reply(job, run.rcode);
        pthread_mutex_lock(&u->lock);
    }
    pthread_mutex_unlock(&u->lock);
    return NULL;
}

struct server_update *server_update_start(struct server *srv)
{
    struct server_update *u = calloc(1, sizeof(*u));
    if (!u)
        abort();
    u->srv = srv;
    pthread_mutex_init(&u->lock, NULL);
    pthread_cond_init(&u->cond, NULL);
    if (pthread_create(&u->thread, NULL, server_update_main, u) != 0) {
        log_error("event=update note=\"cannot start the updater thread: UPDATE gets REFUSED\"");
        pthread_mutex_destroy(&u->lock);
        pthread_cond_destroy(&u->cond);
        free(u);
        return NULL;
    }
    pthread_setname_np(u->thread, "gtmd-update"); /* top -H, perf, gdb */
    return u;
}

void server_update_stop(struct server_update *u)
{
    if (!u)
        return;
    pthread_mutex_lock(&u->lock);
    u->stopping = true;
    pthread_cond_signal(&u->cond);
    pthread_mutex_unlock(&u->lock);
    pthread_join(u->thread, NULL);
    while (u->n) {
        struct net_update *job = u->queue[u->head];
        u->head = (u->head + 1) % SERVER_UPDATE_QUEUE;
        u->n--;
        server_update_reply(job, DNS_RCODE_SERVFAIL);
    }
    pthread_mutex_destroy(&u->lock);
    pthread_cond_destroy(&u->cond);
    free(u);
}

/*
 * server_kasp.c -- the key manager in the daemon: for each zone with a
 * signing policy and a key_directory, the zone's keys come from its store
 * (zone_kasp_store.h) at every load (server_kasp_prepare: the first keys
 * made or the operator's adopted; at start, the steps that fell due while
 * gtmd was down taken too), and a timer on the main thread wakes at the
 * scheduler's next time (zone_kasp_sched.h), applies what is due (a
 * successor ZSK made, a removed key's files deleted), logs, counts and
 * publishes each key's transition (event "dnssec_key",
 * gtmd_dnssec_key_transitions_total), and signs the zones again when the
 * keys in the zone or those that sign changed, or a timestamp passed. So
 * the served answers, policy answers included (they are signed with the
 * set's keys), use the keys the timeline makes active at every moment, to
 * within the timer's few milliseconds and a re-sign.
 *
 * Errors (a key directory with wrong permissions, a corrupt state or key
 * file) name the file; at a load they fail it (a reload keeps what runs),
 * on the timer they leave the zone's keys and its served signatures as
 * they were and are tried again in a minute.
 *
 * Owns nothing beyond the timer (srv->kasp_timer); the zones' key lists
 * it fills belong to the configuration (zone_dnssec_params_free).
 */
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <event2/event.h>

#include "common/event_ring.h"
#include "common/log.h"
#include "daemon/server_int.h"
#include "zone/zone_kasp.h"
#include "zone/zone_kasp_algroll.h"
#include "zone/zone_kasp_store.h"

#define SERVER_KASP_RETRY_S 60
#define SERVER_KASP_MAX_STEPS 16 /* actions applied at once: a long downtime's backlog */

/* One transition of a key: logged, published as an event, counted. */
void server_kasp_note(struct server *srv, const char *zone, const struct zone_kasp_key *k,
                      const char *what, int64_t at)
{
    log_info("event=dnssec_key zone=%s tag=%u role=%s algorithm=%u transition=%s at=%lld", zone,
             k->tag, k->ksk ? "ksk" : "zsk", k->algorithm, what, (long long)at);
    atomic_fetch_add(&srv->kasp_transitions, 1);
    event_ring_push(srv->health.events, "dnssec_key",
                    json_pack("{s:s, s:i, s:s, s:i, s:s, s:I}", "zone", zone, "tag", k->tag, "role",
                              k->ksk ? "ksk" : "zsk", "algorithm", k->algorithm, "transition", what,
                              "at", (json_int_t)at));
}

/* Applies action a (one that makes or deletes a key) to keys. false with
 * a message when a key cannot be made. */
static bool server_kasp_apply(struct server *srv, const struct config_zone *z,
                              const struct zone_kasp_policy *p, struct zone_kasp_keys *keys,
                              const struct zone_kasp_parent *parent,
                              const struct zone_kasp_action *a, int64_t now, struct errlist *errs)
{
    const char *dir = z->dnssec.key_directory;
    if (a->act == ZONE_KASP_ACT_DS_SEEN) {
        const struct zone_kasp_parent_ds *d = zone_kasp_parent_find(parent, &keys->v[a->key]);
        /* zone_kasp_sched_ds_seen: the new KSK's Tact, the old DS
         * unwanted (its delete pushed after this run's steps). */
        zone_kasp_algroll_ds_seen(&p->timing, keys, a->key, d ? d->seen_since : now);
        server_kasp_note(srv, z->origin, &keys->v[a->key], "ds_seen", now);
        return true;
    }
    if (a->act == ZONE_KASP_ACT_DS_GONE) {
        const struct zone_kasp_parent_ds *d = zone_kasp_parent_find(parent, &keys->v[a->key]);
        /* zone_kasp_sched_ds_gone, and in an algorithm rollover the old
         * algorithm's ZSKs leave with the old KSK. */
        zone_kasp_algroll_ds_gone(&p->timing, keys, a->key, d ? d->gone_since : now, now);
        server_kasp_note(srv, z->origin, &keys->v[a->key], "ds_gone", now);
        return true;
    }
    if (a->act == ZONE_KASP_ACT_PURGE) {
        zone_kasp_store_purge(dir, &keys->v[a->key]);
        server_kasp_note(srv, z->origin, &keys->v[a->key], "removed", now);
        keys->v[a->key] = keys->v[--keys->n];
        return true;
    }
    if (keys->n >= ZONE_KASP_MAX_KEYS) {
        errlist_add(errs, "%s: the key store of %s holds %d keys already: remove a key", dir,
                    z->origin, ZONE_KASP_MAX_KEYS);
        return false;
    }
    struct zone_kasp_key *k = &keys->v[keys->n];
    bool ksk = a->act == ZONE_KASP_ACT_NEW_KSK || a->act == ZONE_KASP_ACT_ROLL_KSK;
    if (!zone_kasp_store_generate(dir, z->origin, p->algorithm, ksk, p->timing.ttl_key, k, errs))
        return false;
    keys->n++;
    if (a->act == ZONE_KASP_ACT_ROLL_ZSK)
        zone_kasp_sched_roll_zsk(&p->timing, &keys->v[a->key], k, now, a->at, false);
    else if (a->act == ZONE_KASP_ACT_ROLL_KSK)
        zone_kasp_sched_roll_ksk(&p->timing, k, now);
    else
        zone_kasp_sched_first(k, now);
    server_kasp_note(srv, z->origin, k, "published", now);
    return true;
}

/* The operator's keys (dnssec.keys) taken into an empty store, active
 * since now: they are in the zone and in caches already. */
static bool server_kasp_adopt(struct server *srv, const struct config_zone *z,
                              struct zone_kasp_keys *keys, int64_t now, struct errlist *errs)
{
    const struct zone_sign_params *sp = &z->dnssec.sign;
    for (size_t i = 0; i < sp->n_keys && keys->n < ZONE_KASP_MAX_KEYS; i++) {
        struct zone_kasp_key *k = &keys->v[keys->n];
        if (!zone_kasp_store_adopt(z->dnssec.key_directory, sp->keys[i], sp->key_paths[i], k, errs))
            return false;
        zone_kasp_sched_first(k, now);
        keys->n++;
        server_kasp_note(srv, z->origin, k, "adopted", now);
    }
    return true;
}

/* Brings zone z's store up to now (act false: only an empty store, the
 * rest is the timer's) and fills its key list; *next gets the time of
 * its next action (-1: none). false with messages. */
static bool server_kasp_zone(struct server *srv, struct config_zone *z,
                             const struct zone_kasp_policy *p, int64_t now, bool act, bool fleet,
                             int64_t *next, struct errlist *errs)
{
    const char *dir = z->dnssec.key_directory;
    struct zone_kasp_keys keys;
    *next = -1;
    if (!zone_kasp_store_dir_ok(dir, errs) || !zone_kasp_store_load(dir, z->origin, &keys, errs))
        return false;
    bool dirty = false;
    if (keys.n == 0 && z->dnssec.sign.n_keys > 0) {
        if (!server_kasp_adopt(srv, z, &keys, now, errs))
            return false;
        dirty = true;
    }
    /* The parent's DS (checked and pushed on the timer only). */
    const struct zone_kasp_parent *parent = NULL;
    int64_t pwake = act ? server_kasp_parent_step(srv, z, p, &keys, now, &parent) : -1;
    for (int i = 0; i < SERVER_KASP_MAX_STEPS; i++) {
        if (act && zone_kasp_algroll_wanted(&keys, p->algorithm, now)) {
            if (!server_kasp_algroll_begin(srv, z, p, &keys, now, errs))
                return false;
            dirty = true;
            continue;
        }
        struct zone_kasp_action a;
        zone_kasp_sched_next(&p->timing, p->zsk_lifetime, p->ksk_lifetime, &keys, parent, now, &a);
        if (a.act == ZONE_KASP_ACT_NONE || a.at > now) {
            *next = a.at;
            break;
        }
        if (!act && !dirty && (keys.n != 0 || fleet)) {
            /* Due but not ours to take (a reload; a fleet member that
             * waits for the lock or the others' loads): look again soon.
             * A fleet member never makes first keys of its own: they
             * would be served until the fleet's set came (issue #56). */
            *next = now + 1;
            break;
        }
        if (!server_kasp_apply(srv, z, p, &keys, parent, &a, now, errs))
            return false;
        dirty = true;
    }
    /* A DS seen makes the old DS's delete due: pushed now, not a check
     * later. */
    if (act && dirty) {
        int64_t w = server_kasp_parent_after(srv, z, p, &keys, now);
        if (w >= 0 && (pwake < 0 || w < pwake))
            pwake = w;
    }
    /* The policy names another algorithm than the keys': a reload only
     * wakes the timer, which starts the rollover (in the loop above). */
    if (!act && zone_kasp_algroll_wanted(&keys, p->algorithm, now))
        *next = now;
    if (pwake >= 0 && (*next < 0 || pwake < *next))
        *next = pwake;
    if (dirty && !zone_kasp_store_save(dir, z->origin, &keys, errs))
        return false;
    z->dnssec.keys_pending = fleet && keys.n == 0;
    zone_kasp_store_fill(dir, z->origin, &keys, now, &z->dnssec.sign);
    return true;
}

/* Whether zone z is under the key manager (a policy and a directory). */
static const struct zone_kasp_policy *server_kasp_policy(const struct config *cfg,
                                                         const struct config_zone *z)
{
    if (!z->dnssec.key_directory || !z->dnssec.policy)
        return NULL;
    return zone_kasp_find(&cfg->kasp, z->dnssec.policy);
}

bool server_kasp_prepare(struct server *srv, struct config *cfg, bool act, struct errlist *errs)
{
    int64_t now = (int64_t)time(NULL), next;
    size_t before = errs->count;
    /* A fleet that shares its keys takes its steps on one node, through
     * the timer (server_keyshare_may_act); a load only fills the keys. */
    bool fleet = cfg->fleet.enabled && cfg->fleet.has_key_secret;
    if (fleet)
        act = false;
    for (size_t i = 0; i < cfg->n_zones; i++) {
        const struct zone_kasp_policy *p = server_kasp_policy(cfg, &cfg->zones[i]);
        if (p && server_kasp_zone(srv, &cfg->zones[i], p, now, act, fleet, &next, errs) && !act &&
            next >= 0 && next <= now && srv->kasp_timer)
            /* A step due now (a reload that changed the policy's
             * algorithm): the timer takes it once this reload is done
             * (its callback waits for reload_lock, held by the reload). */
            event_active(srv->kasp_timer, EV_TIMEOUT, 0);
    }
    return errs->count == before;
}

/* What the zone's signing keys are, as text: a change means a re-sign. */
static void server_kasp_print_keys(const struct zone_sign_params *sp, char *buf, size_t len)
{
    size_t off = 0;
    buf[0] = '\0';
    for (size_t i = 0; i < sp->n_keys && off < len; i++)
        off += (size_t)snprintf(buf + off, len - off, "%s%c%s;", sp->keys[i],
                                sp->publish_only[i] ? 'p'
                                : sp->sign_only[i]  ? 'o'
                                                    : 's',
                                sp->cds[i] ? "c" : "");
}

/* Logs each timestamp of the zone's keys crossed in (last, now]; whether
 * there was one (the served set may predate it: a reload in between
 * fills the configuration's keys, not the set's signatures). */
static bool server_kasp_crossed(struct server *srv, const struct config_zone *z, int64_t last,
                                int64_t now)
{
    bool any = false;
    struct zone_kasp_keys keys;
    struct errlist errs;
    errlist_init(&errs);
    if (zone_kasp_store_load(z->dnssec.key_directory, z->origin, &keys, &errs))
        for (size_t k = 0; k < keys.n; k++)
            for (int w = ZONE_KASP_T_READY; w <= ZONE_KASP_T_RETIRED; w++)
                if (keys.v[k].t[w] > last && keys.v[k].t[w] <= now) {
                    server_kasp_note(srv, z->origin, &keys.v[k], zone_kasp_kt_name(w),
                                     keys.v[k].t[w]);
                    any = true;
                }
    errlist_free(&errs);
    return any;
}

/* One run of the timer, under reload_lock: every zone brought up to now;
 * the earliest next action of all (now + a minute after an error). */
static int64_t server_kasp_run(struct server *srv, int64_t now, bool *resign)
{
    int64_t wake = -1;
    struct config *cfg = srv->cfg;
    for (size_t i = 0; i < cfg->n_zones; i++) {
        struct config_zone *z = &cfg->zones[i];
        const struct zone_kasp_policy *p = server_kasp_policy(cfg, z);
        if (!p)
            continue;
        char before[4096], after[4096];
        server_kasp_print_keys(&z->dnssec.sign, before, sizeof(before));
        struct errlist errs;
        errlist_init(&errs);
        int64_t next;
        char why[300]; /* shown by status (fleet_keys), not logged every second */
        bool act = server_keyshare_may_act(srv, z->origin, why, sizeof(why));
        server_keyshare_held(srv, z->origin, !act);
        bool fleet = cfg->fleet.enabled && cfg->fleet.has_key_secret;
        if (!server_kasp_zone(srv, z, p, now, act, fleet, &next, &errs)) {
            server_log_errors(&errs, "key manager: ");
            log_error("event=dnssec_key_failed zone=%s errors=%zu retry_s=%d", z->origin,
                      errs.count, SERVER_KASP_RETRY_S);
            next = now + SERVER_KASP_RETRY_S;
        }
        errlist_free(&errs);
        bool crossed = server_kasp_crossed(srv, z, srv->kasp_last, now);
        server_kasp_print_keys(&z->dnssec.sign, after, sizeof(after));
        if (crossed || strcmp(before, after) != 0)
            *resign = true;
        if (next >= 0 && (wake < 0 || next < wake))
            wake = next;
    }
    srv->kasp_last = now;
    return wake;
}

/* Wakes the timer just after wall time wake (-1: in an hour at most: a
 * reload may have brought a zone in meanwhile). To the millisecond, not
 * the second: a step's lateness eats into its safety margin (a ZSK
 * published late is in caches for less than Ipub when it signs). */
static void server_kasp_arm(struct server *srv, int64_t wake)
{
    struct timespec now;
    clock_gettime(CLOCK_REALTIME, &now);
    int64_t now_ms = (int64_t)now.tv_sec * 1000 + now.tv_nsec / 1000000;
    /* 20 ms past the second: time() then reads wake, not wake - 1. */
    int64_t wait_ms = wake < 0 ? 3600 * 1000 : wake * 1000 + 20 - now_ms;
    if (wait_ms < 20)
        wait_ms = 20;
    if (wait_ms > 3600 * 1000)
        wait_ms = 3600 * 1000;
    struct timeval tv = {.tv_sec = wait_ms / 1000, .tv_usec = (wait_ms % 1000) * 1000};
    evtimer_add(srv->kasp_timer, &tv);
}

/* Logs each key that zone_kasp_sched_served moved (bit i: keys->v[i]). */
static void server_kasp_served_log(const char *zone, const struct zone_kasp_keys *keys,
                                   unsigned moved, int64_t served)
{
    for (size_t i = 0; i < keys->n; i++) {
        const struct zone_kasp_key *k = &keys->v[i];
        if (moved & (1u << i))
            log_info("event=dnssec_key_served zone=%s tag=%u role=%s published=%lld served=%lld "
                     "ready=%lld active=%lld",
                     zone, k->tag, k->ksk ? "ksk" : "zsk", (long long)k->t[ZONE_KASP_T_PUBLISHED],
                     (long long)served, (long long)k->t[ZONE_KASP_T_READY],
                     (long long)k->t[ZONE_KASP_T_ACTIVE]);
    }
}

/* The set just published by a re-sign was served from now on: each zone
 * whose algorithm rollover started in this run (or by the admin API just
 * before) times its later steps from then, rounded up to the second
 * (zone_kasp_algroll_served), and a successor ZSK or KSK published in
 * this run (a scheduled or an API rollover) is ready Ipub after the
 * second after now (zone_kasp_sched_served: strictly after, so the move
 * is never 0 and is made once). An error leaves the times as they were. */
static void server_kasp_served(struct server *srv)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    int64_t served = (int64_t)ts.tv_sec + (ts.tv_nsec > 0);
    int64_t served_key = (int64_t)ts.tv_sec + 1;
    struct config *cfg = srv->cfg;
    for (size_t i = 0; i < cfg->n_zones; i++) {
        struct config_zone *z = &cfg->zones[i];
        const struct zone_kasp_policy *p = server_kasp_policy(cfg, z);
        char why[300];
        if (!p || !server_keyshare_may_act(srv, z->origin, why, sizeof(why)))
            continue;
        const char *dir = z->dnssec.key_directory;
        struct zone_kasp_keys keys;
        struct errlist errs;
        errlist_init(&errs);
        if (zone_kasp_store_load(dir, z->origin, &keys, &errs)) {
            bool alg = zone_kasp_algroll_served(&p->timing, &keys, served, (int64_t)ts.tv_sec);
            unsigned moved =
                zone_kasp_sched_served(&p->timing, &keys, served_key, (int64_t)ts.tv_sec);
            if ((alg || moved) && zone_kasp_store_save(dir, z->origin, &keys, &errs)) {
                if (alg)
                    log_info("event=dnssec_algorithm_rollover_served zone=%s served=%lld",
                             z->origin, (long long)served);
                server_kasp_served_log(z->origin, &keys, moved, served_key);
            }
            if (alg || moved)
                zone_kasp_store_fill(dir, z->origin, &keys, (int64_t)ts.tv_sec, &z->dnssec.sign);
        }
        if (errs.count)
            server_log_errors(&errs, "key manager: ");
        errlist_free(&errs);
    }
}

static void server_kasp_on_timer(evutil_socket_t fd, short what, void *arg)
{
    struct server *srv = arg;
    (void)fd;
    (void)what;
    pthread_mutex_lock(&srv->reload_lock);
    struct server_kasp_fetch *f = server_kasp_parent_fetch_take(srv);
    pthread_mutex_unlock(&srv->reload_lock);
    server_kasp_parent_fetch_ask(f); /* the network, without the lock */
    pthread_mutex_lock(&srv->reload_lock);
    server_kasp_parent_fetch_put(srv, f);
    int64_t now = (int64_t)time(NULL);
    bool resign = false;
    int64_t wake = server_kasp_run(srv, now, &resign);
    if (resign) {
        uint64_t gen = srv->generation;
        server_resign(srv);
        if (srv->generation != gen)
            server_kasp_served(srv);
        /* A step taken here goes to the fleet now, not at the next tick. */
        server_keyshare_kick(srv);
    }
    server_dnssec_refresh(srv, srv->cfg);
    pthread_mutex_unlock(&srv->reload_lock);
    server_kasp_arm(srv, wake);
}

void server_kasp_start(struct server *srv)
{
    /* Under the lock: the admin thread's rollover reads kasp_timer. */
    pthread_mutex_lock(&srv->reload_lock);
    srv->kasp_last = (int64_t)time(NULL);
    srv->kasp_timer = evtimer_new(srv->base, server_kasp_on_timer, srv);
    pthread_mutex_unlock(&srv->reload_lock);
    struct timeval tv = {.tv_sec = 1};
    evtimer_add(srv->kasp_timer, &tv);
}

void server_kasp_stop(struct server *srv)
{
    pthread_mutex_lock(&srv->reload_lock);
    struct event *ev = srv->kasp_timer;
    srv->kasp_timer = NULL;
    server_kasp_parent_free(srv);
    pthread_mutex_unlock(&srv->reload_lock);
    if (ev)
        event_free(ev);
}

/* {"error": {"code", "message"}} with status; the admin API's shape. */
static json_t *server_kasp_refuse(int *status, int st, const char *code, const char *msg)
{
    *status = st;
    return json_pack("{s:{s:s, s:s}}", "error", "code", code, "message", msg);
}

/* The zone called name ("example.com." or without its final dot). */
static struct config_zone *server_kasp_zone_named(struct config *cfg, const char *name)
{
    size_t n = strlen(name);
    for (size_t i = 0; i < cfg->n_zones; i++) {
        const char *o = cfg->zones[i].origin;
        size_t on = strlen(o);
        if (strcasecmp(o, name) == 0 ||
            (on == n + 1 && o[n] == '.' && strncasecmp(o, name, n) == 0))
            return &cfg->zones[i];
    }
    return NULL;
}

/* The ZSK rollover asked for, on keys loaded from the store; the reply. */
static json_t *server_kasp_roll_zsk(struct server *srv, const struct config_zone *z,
                                    const struct zone_kasp_policy *p, struct zone_kasp_keys *keys,
                                    bool force, int *status, struct errlist *errs)
{
    int64_t now = (int64_t)time(NULL);
    struct zone_kasp_intervals iv;
    zone_kasp_intervals(&p->timing, &iv);
    char msg[600];
    int cur = zone_kasp_sched_current_zsk(keys, now);
    if (cur < 0)
        return server_kasp_refuse(status, 409, "conflict", "the zone has no active ZSK to roll");
    int succ = -1;
    for (size_t i = 0; i < keys->n; i++)
        if (!keys->v[i].ksk && (int)i != cur && keys->v[i].t[ZONE_KASP_T_ACTIVE] > now)
            succ = (int)i;
    struct zone_kasp_key *c = &keys->v[cur];
    if (succ >= 0 && !force) {
        /* Two pending successors would leave three ZSKs and a second
         * rollover racing the first: refused, the way out said. */
        snprintf(msg, sizeof(msg),
                 "a ZSK rollover is under way: ZSK %u was published at %lld and becomes active "
                 "at %lld, when ZSK %u retires; wait for it, or send \"force\": true to make it "
                 "active now (resolvers that cached the DNSKEY RRset before it was published "
                 "fail to validate until Ipub = %llu s after its publication)",
                 keys->v[succ].tag, (long long)keys->v[succ].t[ZONE_KASP_T_PUBLISHED],
                 (long long)keys->v[succ].t[ZONE_KASP_T_ACTIVE], c->tag,
                 (unsigned long long)iv.ipub);
        return server_kasp_refuse(status, 409, "rollover_in_progress", msg);
    }
    struct zone_kasp_key *n;
    if (succ >= 0) { /* forced: the pending successor signs now */
        n = &keys->v[succ];
        n->t[ZONE_KASP_T_ACTIVE] = now;
        c->t[ZONE_KASP_T_RETIRE_ACTIVE] = now;
        c->t[ZONE_KASP_T_RETIRED] = now + (int64_t)iv.iret;
        c->t[ZONE_KASP_T_REMOVED] = c->t[ZONE_KASP_T_RETIRED] + (int64_t)iv.iret;
    } else {
        if (keys->n >= ZONE_KASP_MAX_KEYS)
            return server_kasp_refuse(status, 409, "conflict", "the key store is full");
        n = &keys->v[keys->n];
        if (!zone_kasp_store_generate(z->dnssec.key_directory, z->origin, p->algorithm, false,
                                      p->timing.ttl_key, n, errs))
            return server_kasp_refuse(status, 500, "internal",
                                      errs->count ? errs->msgs[0] : "cannot make a key");
        keys->n++;
        c = &keys->v[cur];
        zone_kasp_sched_roll_zsk(&p->timing, c, n, now, now, force);
        server_kasp_note(srv, z->origin, n, "published", now);
    }
    if (!zone_kasp_store_save(z->dnssec.key_directory, z->origin, keys, errs))
        return server_kasp_refuse(status, 500, "internal",
                                  errs->count ? errs->msgs[0] : "cannot save the key state");
    *status = 200;
    return json_pack("{s:s, s:s, s:b, s:{s:i, s:I, s:I}, s:{s:i, s:I, s:I}}", "result", "ok",
                     "zone", z->origin, "forced", force, "new", "tag", n->tag, "published",
                     (json_int_t)n->t[ZONE_KASP_T_PUBLISHED], "active",
                     (json_int_t)n->t[ZONE_KASP_T_ACTIVE], "old", "tag", c->tag, "retire_active",
                     (json_int_t)c->t[ZONE_KASP_T_RETIRE_ACTIVE], "retired",
                     (json_int_t)c->t[ZONE_KASP_T_RETIRED]);
}

/* Why a KSK rollover cannot start now, into msg; false when it can. A
 * successor whose DS the parent has (its Tact set) is never given up,
 * forced or not: the swap is under way. */
static bool server_kasp_ksk_blocked(const struct zone_kasp_policy *p,
                                    const struct zone_kasp_keys *keys, int succ, bool force,
                                    int64_t now, char *msg, size_t len)
{
    if (p->n_servers == 0) {
        snprintf(msg, len,
                 "the policy has no parent.servers: the old KSK may go only once the new KSK's "
                 "DS is seen at the parent's servers");
        return true;
    }
    const struct zone_kasp_key *s = succ >= 0 ? &keys->v[succ] : NULL;
    if (s && s->t[ZONE_KASP_T_ACTIVE] >= 0) {
        snprintf(msg, len,
                 "a KSK rollover is under way and past its point of no return: the parent has "
                 "the DS of KSK %u, which takes over at %lld; wait for it",
                 s->tag, (long long)s->t[ZONE_KASP_T_ACTIVE]);
        return true;
    }
    int old = zone_kasp_sched_ksk_retiring(keys, now);
    if (old >= 0) {
        const struct zone_kasp_key *o = &keys->v[old];
        if (o->t[ZONE_KASP_T_RETIRED] >= 0)
            snprintf(msg, len,
                     "the last KSK rollover is still ending: the DS of the old KSK %u has left "
                     "the parent and the KSK leaves the zone at %lld; wait for it",
                     o->tag, (long long)o->t[ZONE_KASP_T_RETIRED]);
        else
            snprintf(msg, len,
                     "the last KSK rollover is still ending: the DS of the old KSK %u is "
                     "unwanted since %lld but still at a parent server, and KSK %u stays in the "
                     "zone until it is gone; wait for it (GET /v1/dnssec: parent)",
                     o->tag, (long long)o->t[ZONE_KASP_T_RETIRE_ACTIVE], o->tag);
        return true;
    }
    if (zone_kasp_sched_current_ksk(keys, now) < 0) {
        snprintf(msg, len, "the zone has no active KSK to roll");
        return true;
    }
    if (!s)
        return false;
    if (force)
        return false;
    snprintf(msg, len,
             "a KSK rollover is under way: KSK %u was published at %lld and is %s; its DS is "
             "not at every parent server yet, and the old KSK stays until it is. Wait, or send "
             "\"force\": true to give KSK %u up and start again with a new KSK",
             s->tag, (long long)s->t[ZONE_KASP_T_PUBLISHED],
             s->t[ZONE_KASP_T_READY] > now ? "not ready yet" : "waiting for its DS at the parent",
             s->tag);
    return true;
}

/* The KSK rollover asked for (double-KSK), on keys loaded from the store. */
static json_t *server_kasp_roll_ksk(struct server *srv, const struct config_zone *z,
                                    const struct zone_kasp_policy *p, struct zone_kasp_keys *keys,
                                    bool force, int *status, struct errlist *errs)
{
    int64_t now = (int64_t)time(NULL);
    char msg[700];
    int succ = zone_kasp_sched_ksk_successor(keys, now);
    if (server_kasp_ksk_blocked(p, keys, succ, force, now, msg, sizeof(msg)))
        return server_kasp_refuse(status, 409, succ >= 0 ? "rollover_in_progress" : "conflict",
                                  msg);
    if (keys->n >= ZONE_KASP_MAX_KEYS)
        return server_kasp_refuse(status, 409, "conflict", "the key store is full");
    if (succ >= 0) { /* forced: the successor in flight is given up */
        zone_kasp_sched_abandon(&keys->v[succ], now);
        server_kasp_note(srv, z->origin, &keys->v[succ], "abandoned", now);
    }
    struct zone_kasp_key *n = &keys->v[keys->n];
    if (!zone_kasp_store_generate(z->dnssec.key_directory, z->origin, p->algorithm, true,
                                  p->timing.ttl_key, n, errs))
        return server_kasp_refuse(status, 500, "internal",
                                  errs->count ? errs->msgs[0] : "cannot make a key");
    keys->n++;
    zone_kasp_sched_roll_ksk(&p->timing, n, now);
    server_kasp_note(srv, z->origin, n, "published", now);
    if (!zone_kasp_store_save(z->dnssec.key_directory, z->origin, keys, errs))
        return server_kasp_refuse(status, 500, "internal",
                                  errs->count ? errs->msgs[0] : "cannot save the key state");
    *status = 200;
    int cur = zone_kasp_sched_current_ksk(keys, now);
    return json_pack(
        "{s:s, s:s, s:b, s:{s:i, s:I, s:I}, s:{s:i}}", "result", "ok", "zone", z->origin, "forced",
        force, "new", "tag", n->tag, "published", (json_int_t)n->t[ZONE_KASP_T_PUBLISHED], "ready",
        (json_int_t)n->t[ZONE_KASP_T_READY], "old", "tag", cur >= 0 ? keys->v[cur].tag : 0);
}

/* The rollover under reload_lock. */
static json_t *server_kasp_roll_locked(struct server *srv, const char *zone, const char *key,
                                       bool force, int *status)
{
    char msg[400];
    struct config_zone *z = server_kasp_zone_named(srv->cfg, zone);
    const struct zone_kasp_policy *p = z ? server_kasp_policy(srv->cfg, z) : NULL;
    if (!z) {
        snprintf(msg, sizeof(msg), "no zone %s is served here", zone);
        return server_kasp_refuse(status, 404, "not_found", msg);
    }
    if (!p) {
        snprintf(msg, sizeof(msg),
                 "the keys of %s are the operator's (no \"policy\" with a \"key_directory\"): "
                 "roll them by hand (doc/dnssec.md, \"Key rollovers\")",
                 z->origin);
        return server_kasp_refuse(status, 409, "not_managed", msg);
    }
    char why[300];
    if (!server_keyshare_may_act(srv, z->origin, why, sizeof(why))) {
        snprintf(msg, sizeof(msg), "the fleet shares the keys of %s and this node may not step: %s",
                 z->origin, why);
        return server_kasp_refuse(status, 409, "not_lock_holder", msg);
    }
    struct zone_kasp_keys keys;
    struct errlist errs;
    errlist_init(&errs);
    json_t *res;
    if (!zone_kasp_store_dir_ok(z->dnssec.key_directory, &errs) ||
        !zone_kasp_store_load(z->dnssec.key_directory, z->origin, &keys, &errs))
        res = server_kasp_refuse(status, 500, "internal", errs.msgs[0]);
    else if (strcmp(key, "algorithm") == 0)
        res = server_kasp_algroll_api(srv, z, p, &keys, status, &errs);
    else if (strcmp(key, "ksk") == 0)
        res = server_kasp_roll_ksk(srv, z, p, &keys, force, status, &errs);
    else
        res = server_kasp_roll_zsk(srv, z, p, &keys, force, status, &errs);
    errlist_free(&errs);
    if (*status == 200)
        log_info("event=dnssec_rollover zone=%s key=%s forced=%s", z->origin, key,
                 force ? "yes" : "no");
    return res;
}

json_t *server_kasp_rollover(struct server *srv, const char *zone, const char *key, bool force,
                             int *status)
{
    pthread_mutex_lock(&srv->reload_lock);
    json_t *res = server_kasp_roll_locked(srv, zone, key, force, status);
    /* The main thread's timer applies it now: the new key's DNSKEY in
     * the zone (and, forced, its signatures) at once. */
    if (*status == 200 && srv->kasp_timer)
        event_active(srv->kasp_timer, EV_TIMEOUT, 0);
    pthread_mutex_unlock(&srv->reload_lock);
    return res;
}

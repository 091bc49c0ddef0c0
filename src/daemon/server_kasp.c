/*
 * server_kasp.c -- the key manager in the daemon: for each zone with a
 * signing policy and a key_directory, the store's keys (zone_kasp_store.h)
 * are brought up to now before every load (server_kasp_prepare: the first
 * keys made or the operator's adopted, a successor ZSK made when due, a
 * removed key's files deleted), and a timer on the main thread wakes at
 * the scheduler's next time (zone_kasp_sched.h), applies what is due,
 * logs, counts and publishes each key's transition (event "dnssec_key",
 * gtmd_dnssec_key_transitions_total), and signs the zones again when the
 * keys in the zone or those that sign changed. So the served answers,
 * policy answers included (they are signed with the set's keys), use the
 * keys the timeline makes active at every moment, to within the timer's
 * second.
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
#include <time.h>

#include <event2/event.h>

#include "common/event_ring.h"
#include "common/log.h"
#include "daemon/server_int.h"
#include "zone/zone_kasp.h"
#include "zone/zone_kasp_store.h"

#define SERVER_KASP_RETRY_S 60
#define SERVER_KASP_MAX_STEPS 16 /* actions applied at once: a long downtime's backlog */

/* One transition of a key: logged, published as an event, counted. */
static void server_kasp_note(struct server *srv, const char *zone, const struct zone_kasp_key *k,
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
                              const struct zone_kasp_action *a, int64_t now, struct errlist *errs)
{
    const char *dir = z->dnssec.key_directory;
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
    bool ksk = a->act == ZONE_KASP_ACT_NEW_KSK;
    if (!zone_kasp_store_generate(dir, z->origin, p->algorithm, ksk, p->timing.ttl_key, k, errs))
        return false;
    keys->n++;
    if (a->act == ZONE_KASP_ACT_ROLL_ZSK)
        zone_kasp_sched_roll_zsk(&p->timing, &keys->v[a->key], k, now, a->at, false);
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

/* Brings zone z's store up to now and fills its key list; *next gets the
 * time of its next action (-1: none). false with messages. */
static bool server_kasp_zone(struct server *srv, struct config_zone *z,
                             const struct zone_kasp_policy *p, int64_t now, int64_t *next,
                             struct errlist *errs)
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
    for (int i = 0; i < SERVER_KASP_MAX_STEPS; i++) {
        struct zone_kasp_action a;
        zone_kasp_sched_next(&p->timing, p->zsk_lifetime, &keys, now, &a);
        if (a.act == ZONE_KASP_ACT_NONE || a.at > now) {
            *next = a.at;
            break;
        }
        if (!server_kasp_apply(srv, z, p, &keys, &a, now, errs))
            return false;
        dirty = true;
    }
    if (dirty && !zone_kasp_store_save(dir, z->origin, &keys, errs))
        return false;
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

bool server_kasp_prepare(struct server *srv, struct config *cfg, struct errlist *errs)
{
    int64_t now = (int64_t)time(NULL), next;
    size_t before = errs->count;
    for (size_t i = 0; i < cfg->n_zones; i++) {
        const struct zone_kasp_policy *p = server_kasp_policy(cfg, &cfg->zones[i]);
        if (p)
            (void)server_kasp_zone(srv, &cfg->zones[i], p, now, &next, errs);
    }
    return errs->count == before;
}

/* What the zone's signing keys are, as text: a change means a re-sign. */
static void server_kasp_print_keys(const struct zone_sign_params *sp, char *buf, size_t len)
{
    size_t off = 0;
    buf[0] = '\0';
    for (size_t i = 0; i < sp->n_keys && off < len; i++)
        off += (size_t)snprintf(buf + off, len - off, "%s%c;", sp->keys[i],
                                sp->publish_only[i] ? 'p' : 's');
}

/* Logs each timestamp of the zone's keys crossed in (last, now]. */
static void server_kasp_crossed(struct server *srv, const struct config_zone *z, int64_t last,
                                int64_t now)
{
    struct zone_kasp_keys keys;
    struct errlist errs;
    errlist_init(&errs);
    if (zone_kasp_store_load(z->dnssec.key_directory, z->origin, &keys, &errs))
        for (size_t k = 0; k < keys.n; k++)
            for (int w = ZONE_KASP_T_READY; w <= ZONE_KASP_T_RETIRED; w++)
                if (keys.v[k].t[w] > last && keys.v[k].t[w] <= now)
                    server_kasp_note(srv, z->origin, &keys.v[k], zone_kasp_kt_name(w),
                                     keys.v[k].t[w]);
    errlist_free(&errs);
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
        if (!server_kasp_zone(srv, z, p, now, &next, &errs)) {
            server_log_errors(&errs, "key manager: ");
            log_error("event=dnssec_key_failed zone=%s errors=%zu retry_s=%d", z->origin,
                      errs.count, SERVER_KASP_RETRY_S);
            next = now + SERVER_KASP_RETRY_S;
        }
        errlist_free(&errs);
        server_kasp_crossed(srv, z, srv->kasp_last, now);
        server_kasp_print_keys(&z->dnssec.sign, after, sizeof(after));
        if (strcmp(before, after) != 0)
            *resign = true;
        if (next >= 0 && (wake < 0 || next < wake))
            wake = next;
    }
    srv->kasp_last = now;
    return wake;
}

static void server_kasp_on_timer(evutil_socket_t fd, short what, void *arg)
{
    struct server *srv = arg;
    (void)fd;
    (void)what;
    pthread_mutex_lock(&srv->reload_lock);
    int64_t now = (int64_t)time(NULL);
    bool resign = false;
    int64_t wake = server_kasp_run(srv, now, &resign);
    if (resign)
        server_resign(srv);
    server_dnssec_refresh(srv, srv->cfg);
    pthread_mutex_unlock(&srv->reload_lock);
    /* Up to an hour: a reload may have brought a zone in meanwhile. */
    int64_t wait = wake < 0 ? 3600 : wake - (int64_t)time(NULL);
    struct timeval tv = {.tv_sec = wait < 1 ? 1 : wait > 3600 ? 3600 : wait};
    evtimer_add(srv->kasp_timer, &tv);
}

void server_kasp_start(struct server *srv)
{
    srv->kasp_last = (int64_t)time(NULL);
    srv->kasp_timer = evtimer_new(srv->base, server_kasp_on_timer, srv);
    struct timeval tv = {.tv_sec = 1};
    evtimer_add(srv->kasp_timer, &tv);
}

void server_kasp_stop(struct server *srv)
{
    if (srv->kasp_timer)
        event_free(srv->kasp_timer);
    srv->kasp_timer = NULL;
}

/*
 * server_secondary.c -- what the daemon does when the secondary thread
 * says a zone changed (xfr_in.h): each zone with a new copy is loaded on
 * its own into a new set beside the zones served, which it shares
 * (load_update_snapshot, as an RFC 2136 update does), so that no other
 * zone's file, nor the configuration file, is read again or can stop it;
 * expiry is applied to the zones served directly. Only a catalog's new
 * copy (its members are configuration), or a zone that cannot be loaded
 * alone, brings a reload of the running configuration.
 *
 * Threads: the main thread (the secondary thread's event).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/event_ring.h"
#include "common/log.h"
#include "daemon/load.h"
#include "daemon/load_secondary.h"
#include "daemon/server_int.h"
#include "net/notify_out.h"
#include "xfr/xfr_in.h"

/* The zone of set named like z, or NULL. */
static struct zone *server_secondary_find(const struct serve_set *set, const uint8_t *origin,
                                          size_t len)
{
    for (size_t i = 0; set && i < set->zones->n_zones; i++) {
        struct zone *z = set->zones->zones[i];
        if (z->origin_len == len && memcmp(z->origin, origin, len) == 0)
            return z;
    }
    return NULL;
}

/* The secondary thread's expiry of every secondary zone, on the zones
 * served (an atomic flag each): it never waits for a reload. */
static void server_secondaries_expire(struct server *srv)
{
    pthread_mutex_lock(&srv->reload_lock);
    const struct serve_set *set = atomic_load(&srv->serve.current);
    for (size_t i = 0; set && i < set->zones->n_zones; i++) {
        struct zone *z = set->zones->zones[i];
        int e = xfr_in_expired(srv->xfr_in, z->origin, z->origin_len);
        if (e < 0 || (bool)e == atomic_load(&z->expired))
            continue;
        atomic_store(&z->expired, e == 1);
        log_warn("event=zone_expired zone=%s expired=%s why=\"applied to the zones served\"",
                 z->origin_str, e ? "yes" : "no");
    }
    pthread_mutex_unlock(&srv->reload_lock);
}

/* Publishes a set with the new copy of configured zone zi, every other
 * zone shared; false (nothing changed) when it cannot be loaded alone.
 * Caller holds reload_lock. */
static bool server_secondary_publish(struct server *srv, size_t zi)
{
    const struct config *cfg = srv->cfg;
    const struct config_zone *cz = &cfg->zones[zi];
    struct errlist errs;
    struct timespec t0;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    errlist_init(&errs);
    /* Only publications free sets, and they take reload_lock. */
    struct serve_set *cur = atomic_load(&srv->serve.current);
    struct serve_bind bind = {0}; /* the new set's own bindings (load_set_like takes them) */
    struct snapshot *s = load_update_snapshot(cfg, cur, zi, cz->file, &bind, &errs);
    struct serve_set *set =
        s ? load_set_like(cur, s, &bind, srv->generation + 1, cfg->path, &errs) : NULL;
    struct dns_name n;
    struct zone *z =
        set && dns_name_from_str(cz->origin, &n) ? server_secondary_find(set, n.wire, n.len) : NULL;
    if (!z) {
        char q[600];
        log_warn("event=zone_load zone=%s result=failed why=\"%s\" note=\"the running "
                 "configuration is reloaded instead\"",
                 cz->origin, log_quote(errs.count ? errs.msgs[0] : "?", q, sizeof(q)));
        if (set)
            serve_set_free(set);
        errlist_free(&errs);
        return false;
    }
    errlist_free(&errs);
    atomic_store(&z->expired, load_secondary_expired(cz, z));
    load_journal_zone(cfg, zi, server_secondary_find(cur, n.wire, n.len), z);
    server_set_hooks(srv, set);
    struct serve_set *old = serve_publish(&srv->serve, set);
    srv->generation++;
    notify_out_send(load_notify_job(cfg, old->zones, set));
    load_drop_behind(srv->dropper, old);
    double ms = server_elapsed_ms(&t0);
    log_info("event=reload result=ok generation=%llu zone=%s serial=%u records=%zu ms=%.1f "
             "note=\"the zone alone, the others shared\"",
             (unsigned long long)srv->generation, cz->origin, z->serial, z->n_records, ms);
    event_ring_push(srv->health.events, "reload",
                    json_pack("{s:s, s:I, s:s, s:I}", "result", "ok", "generation",
                              (json_int_t)srv->generation, "zone", cz->origin, "serial",
                              (json_int_t)z->serial));
    return true;
}

/* Index of the configured zone origin (presentation form), or -1. */
static long server_secondary_index(const struct config *cfg, const char *origin)
{
    for (size_t i = 0; i < cfg->n_zones; i++)
        if (strcmp(cfg->zones[i].origin, origin) == 0)
            return (long)i;
    return -1;
}

void server_secondaries_changed(struct server *srv)
{
    char **origins = NULL;
    size_t n = xfr_in_take_adopted(srv->xfr_in, &origins);
    bool full = false;
    pthread_mutex_lock(&srv->reload_lock);
    for (size_t i = 0; i < n; i++) {
        long zi = server_secondary_index(srv->cfg, origins[i]);
        if (zi < 0 || srv->cfg->zones[zi].catalog_dir || !server_secondary_publish(srv, (size_t)zi))
            full = true;
        free(origins[i]);
    }
    pthread_mutex_unlock(&srv->reload_lock);
    free(origins);
    if (full) {
        bool ok;
        log_info("event=reload why=\"a secondary zone changed\"");
        json_decref(server_reload_running(srv, &ok));
    }
    server_secondaries_expire(srv);
}

/*
 * xfr_in.c -- the secondary thread (xfr_in.h). A one-second tick (and a
 * NOTIFY, which fires it at once) refreshes the zones that are due, one
 * after the other, outside the lock; the network is reached only from
 * here.
 */
#include "xfr/xfr_in.h"

#include <event2/event.h>
#include <event2/thread.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <utime.h>

#include "common/log.h"
#include "dns/name.h"
#include "xfr/xfr_fetch.h"
#include "xfr/xfr_store.h"

#define XFR_IN_MIN_WAIT 5 /* seconds: the shortest refresh or retry we honour */

struct xfr_in_zone {
    char origin_str[256];
    uint8_t origin[255];
    uint8_t origin_len;
    char file[4096];
    struct xfr_in_params primary; /* key not used: see key below */
    bool has_key;
    struct tsig_key key; /* a copy; its id is NULL */
    bool have;           /* a copy exists */
    uint32_t serial, refresh, retry, expire;
    time_t next;   /* wall clock of the next check */
    bool notified; /* check now */
    bool busy;     /* being refreshed (outside the lock) */
    bool gone;     /* removed by a reload while busy */
};

struct xfr_in {
    pthread_t thread;
    struct event_base *base;
    struct event *tick;
    pthread_mutex_t lock;
    struct xfr_in_zone **zones;
    size_t n;
    void (*changed)(void *arg);
    void *arg;
    atomic_bool stopping; /* xfr_in_halt: no further refresh begins */
    bool halted;          /* the thread was joined (by the thread that owns x) */
};

/* Our copy's SOA timers and serial, from the file (have = false without). */
static void xfr_in_read_copy(struct xfr_in_zone *z)
{
    ldns_rr_list *list = xfr_store_read(z->file, z->origin, z->origin_len);
    const ldns_rr *soa = xfr_store_soa(list);
    z->have = soa != NULL;
    z->refresh = 3600, z->retry = 600, z->expire = 1209600;
    if (soa && ldns_rr_rd_count(soa) >= 7) {
        z->serial = xfr_soa_serial(soa);
        z->refresh = ldns_rdf2native_int32(ldns_rr_rdf(soa, 3));
        z->retry = ldns_rdf2native_int32(ldns_rr_rdf(soa, 4));
        z->expire = ldns_rdf2native_int32(ldns_rr_rdf(soa, 5));
    }
    ldns_rr_list_deep_free(list);
}

static uint32_t xfr_in_wait(uint32_t s)
{
    return s < XFR_IN_MIN_WAIT ? XFR_IN_MIN_WAIT : s;
}

/* Transfers the zone (IXFR from our copy, AXFR when that fails or we have
 * none) and writes the copy; false with why. */
static bool xfr_in_transfer(struct xfr_in_zone *z, const struct xfr_server *srv, char *why,
                            size_t whylen, const char **kind, size_t *records)
{
    ldns_rr_list *cur = z->have ? xfr_store_read(z->file, z->origin, z->origin_len) : NULL;
    const ldns_rr *soa = xfr_store_soa(cur);
    ldns_rr_list *got = NULL, *zone = NULL;
    bool current = false;
    for (int attempt = 0; attempt < 2 && !zone && !current; attempt++) {
        const ldns_rr *from = attempt == 0 ? soa : NULL;
        if (attempt == 1 && !soa)
            break; /* the AXFR was the first attempt */
        *kind = from ? "ixfr" : "axfr";
        if (xfr_fetch_transfer(srv, z->origin, z->origin_len, from, &got, why, whylen))
            zone = xfr_store_result(got, cur, &current, why, whylen);
        ldns_rr_list_deep_free(got);
        got = NULL;
    }
    bool ok = zone && xfr_store_write(z->file, zone, why, whylen);
    *records = zone ? ldns_rr_list_rr_count(zone) : 0;
    ldns_rr_list_deep_free(zone);
    ldns_rr_list_deep_free(cur);
    if (current && !zone)
        snprintf(why, whylen, "the primary says our copy is current");
    return ok;
}

/* Whether the copy was last refreshed longer ago than its SOA expire:
 * the loader then answers SERVFAIL for the zone. */
static bool xfr_in_copy_expired(const struct xfr_in_zone *z)
{
    struct stat st;
    return z->have && stat(z->file, &st) == 0 && time(NULL) > st.st_mtime + (time_t)z->expire;
}

/* One refresh of z against its primaries; returns true when the daemon
 * must reload: the copy changed, or it expired or stopped being expired. */
static bool xfr_in_refresh(struct xfr_in_zone *z)
{
    bool was_expired = xfr_in_copy_expired(z);
    char why[512] = "no primary answered";
    for (size_t i = 0; i < z->primary.n; i++) {
        struct xfr_server srv = {&z->primary.addrs[i], z->primary.lens[i],
                                 z->has_key ? &z->key : NULL};
        uint32_t serial;
        if (!xfr_fetch_soa(&srv, z->origin, z->origin_len, &serial, why, sizeof(why)))
            continue;
        if (z->have && !xfr_serial_lt(z->serial, serial)) {
            utime(z->file, NULL); /* the last successful refresh, for expiry */
            z->next = time(NULL) + xfr_in_wait(z->refresh);
            return was_expired;
        }
        const char *kind = "axfr";
        size_t records = 0;
        struct timespec t0, t1;
        clock_gettime(CLOCK_MONOTONIC, &t0);
        if (!xfr_in_transfer(z, &srv, why, sizeof(why), &kind, &records))
            continue;
        clock_gettime(CLOCK_MONOTONIC, &t1);
        uint32_t old = z->serial;
        xfr_in_read_copy(z);
        log_info("event=xfr_in zone=%s kind=%s serial=%u from_serial=%u records=%zu ms=%.1f",
                 z->origin_str, kind, z->serial, old, records,
                 (double)(t1.tv_sec - t0.tv_sec) * 1e3 + (double)(t1.tv_nsec - t0.tv_nsec) / 1e6);
        z->next = time(NULL) + xfr_in_wait(z->refresh);
        return true;
    }
    char q[600];
    log_warn("event=xfr_in zone=%s result=failed why=\"%s\" retry_in=%u", z->origin_str,
             log_quote(why, q, sizeof(q)), xfr_in_wait(z->retry));
    z->next = time(NULL) + xfr_in_wait(z->retry);
    bool expired = xfr_in_copy_expired(z);
    if (expired && !was_expired)
        log_warn("event=zone_expired zone=%s why=\"no refresh from a primary within the SOA "
                 "expire time (%u s)\"",
                 z->origin_str, z->expire);
    return expired && !was_expired;
}

/* The next zone due (marked busy), or NULL. */
static struct xfr_in_zone *xfr_in_due(struct xfr_in *x)
{
    time_t now = time(NULL);
    for (size_t i = 0; i < x->n; i++) {
        struct xfr_in_zone *z = x->zones[i];
        if (!z->busy && (z->notified || now >= z->next)) {
            z->busy = true;
            z->notified = false;
            return z;
        }
    }
    return NULL;
}

/* After a refresh of a copy of z: what it learnt, unless a reload removed
 * the zone meanwhile (then z is freed here). Called with the lock held. */
static void xfr_in_done(struct xfr_in_zone *z, const struct xfr_in_zone *work)
{
    z->busy = false;
    if (z->gone) {
        free(z);
        return;
    }
    z->have = work->have;
    z->serial = work->serial;
    z->refresh = work->refresh;
    z->retry = work->retry;
    z->expire = work->expire;
    z->next = work->next;
}

static void xfr_in_on_tick(evutil_socket_t fd, short what, void *arg)
{
    struct xfr_in *x = arg;
    bool changed = false;
    (void)fd;
    (void)what;
    /* Each zone is refreshed on a copy made under the lock, so that a
     * reload may change the zone list and its primaries meanwhile. */
    struct xfr_in_zone *work = malloc(sizeof(*work));
    for (unsigned k = 0; work && k < 1000 && !atomic_load(&x->stopping); k++) {
        pthread_mutex_lock(&x->lock);
        struct xfr_in_zone *z = xfr_in_due(x);
        if (z)
            *work = *z;
        pthread_mutex_unlock(&x->lock);
        if (!z)
            break;
        changed |= xfr_in_refresh(work);
        pthread_mutex_lock(&x->lock);
        xfr_in_done(z, work);
        pthread_mutex_unlock(&x->lock);
    }
    free(work);
    if (changed && x->changed)
        x->changed(x->arg);
}

static void *xfr_in_main(void *arg)
{
    struct xfr_in *x = arg;
    event_base_dispatch(x->base);
    return NULL;
}

struct xfr_in *xfr_in_start(void (*changed)(void *arg), void *arg)
{
    evthread_use_pthreads();
    struct xfr_in *x = calloc(1, sizeof(*x));
    if (!x)
        return NULL;
    x->changed = changed;
    x->arg = arg;
    pthread_mutex_init(&x->lock, NULL);
    x->base = event_base_new();
    x->tick = x->base ? event_new(x->base, -1, EV_PERSIST, xfr_in_on_tick, x) : NULL;
    struct timeval one = {1, 0};
    if (!x->tick || event_add(x->tick, &one) != 0 ||
        pthread_create(&x->thread, NULL, xfr_in_main, x) != 0) {
        if (x->tick)
            event_free(x->tick);
        if (x->base)
            event_base_free(x->base);
        pthread_mutex_destroy(&x->lock);
        free(x);
        return NULL;
    }
    return x;
}

/* A new zone state for c, read from its copy; checked at once. */
static struct xfr_in_zone *xfr_in_zone_new(const struct xfr_in_zone_conf *c)
{
    struct dns_name n;
    struct xfr_in_zone *z = calloc(1, sizeof(*z));
    if (!z || !dns_name_from_str(c->origin, &n)) {
        free(z);
        return NULL;
    }
    memcpy(z->origin, n.wire, n.len);
    z->origin_len = n.len;
    snprintf(z->origin_str, sizeof(z->origin_str), "%s", c->origin);
    snprintf(z->file, sizeof(z->file), "%s", c->file);
    xfr_in_read_copy(z);
    z->next = time(NULL);
    return z;
}

/* Sets what may change with a reload: the primaries and the key. */
static void xfr_in_zone_set(struct xfr_in_zone *z, const struct xfr_in_zone_conf *c)
{
    z->primary = *c->primary;
    z->primary.key = NULL; /* the params' string stays theirs */
    z->has_key = c->key != NULL;
    if (c->key) {
        z->key = *c->key;
        z->key.id = NULL;
    }
}

void xfr_in_configure(struct xfr_in *x, const struct xfr_in_zone_conf *zones, size_t n)
{
    struct xfr_in_zone **next = calloc(n ? n : 1, sizeof(*next));
    if (!next)
        abort();
    pthread_mutex_lock(&x->lock);
    for (size_t i = 0; i < n; i++) {
        for (size_t k = 0; k < x->n && !next[i]; k++)
            if (x->zones[k] && strcmp(x->zones[k]->origin_str, zones[i].origin) == 0 &&
                strcmp(x->zones[k]->file, zones[i].file) == 0) {
                next[i] = x->zones[k];
                x->zones[k] = NULL;
            }
        if (!next[i])
            next[i] = xfr_in_zone_new(&zones[i]);
        if (next[i])
            xfr_in_zone_set(next[i], &zones[i]);
    }
    for (size_t k = 0; k < x->n; k++) {
        if (x->zones[k] && x->zones[k]->busy)
            x->zones[k]->gone = true; /* freed by the refresh that holds it */
        else
            free(x->zones[k]);
    }
    free(x->zones);
    size_t m = 0;
    for (size_t i = 0; i < n; i++)
        if (next[i])
            next[m++] = next[i];
    x->zones = next;
    x->n = m;
    pthread_mutex_unlock(&x->lock);
    event_active(x->tick, 0, 0);
}

static bool xfr_in_same_host(const struct sockaddr_storage *a, const struct sockaddr_storage *b)
{
    if (a->ss_family != b->ss_family)
        return false;
    if (a->ss_family == AF_INET)
        return ((const struct sockaddr_in *)a)->sin_addr.s_addr ==
               ((const struct sockaddr_in *)b)->sin_addr.s_addr;
    return memcmp(&((const struct sockaddr_in6 *)a)->sin6_addr,
                  &((const struct sockaddr_in6 *)b)->sin6_addr, 16) == 0;
}

int xfr_in_notify(struct xfr_in *x, const uint8_t *origin, size_t origin_len,
                  const struct sockaddr_storage *from, const struct tsig_key *key)
{
    int rcode = 5; /* REFUSED: not a zone we are a secondary of, or not from its primary */
    pthread_mutex_lock(&x->lock);
    for (size_t i = 0; i < x->n && rcode == 5; i++) {
        struct xfr_in_zone *z = x->zones[i];
        if (z->origin_len != origin_len || memcmp(z->origin, origin, origin_len) != 0)
            continue;
        bool primary = false;
        for (size_t k = 0; from && k < z->primary.n && !primary; k++)
            primary = xfr_in_same_host(&z->primary.addrs[k], from);
        if (!primary)
            break;
        if (z->has_key && (!key || key->name_len != z->key.name_len ||
                           memcmp(key->name, z->key.name, key->name_len) != 0)) {
            rcode = 9; /* NOTAUTH */
            break;
        }
        z->notified = true;
        rcode = 0;
    }
    pthread_mutex_unlock(&x->lock);
    if (rcode == 0 && !atomic_load(&x->stopping))
        event_active(x->tick, 0, 0);
    return rcode;
}

void xfr_in_halt(struct xfr_in *x)
{
    if (!x || x->halted)
        return;
    atomic_store(&x->stopping, true);
    event_base_loopbreak(x->base);
    pthread_join(x->thread, NULL);
    x->halted = true;
}

void xfr_in_stop(struct xfr_in *x)
{
    if (!x)
        return;
    xfr_in_halt(x);
    event_free(x->tick);
    event_base_free(x->base);
    for (size_t i = 0; i < x->n; i++)
        free(x->zones[i]);
    free(x->zones);
    pthread_mutex_destroy(&x->lock);
    free(x);
}

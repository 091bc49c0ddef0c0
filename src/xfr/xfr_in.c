/*
 * xfr_in.c -- the secondary thread (xfr_in.h). A tick (every quarter of a
 * second, and at once on a NOTIFY, a reload or a refresh's end) applies
 * SOA expiry and starts the refreshes that are due, each on a thread of
 * its own: a primary that is slow, drips or is gone holds up its own zone
 * only, never another zone's refresh or expiry.
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
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#include "common/log.h"
#include "dns/name.h"
#include "xfr/xfr_in_int.h"

#define XFR_IN_TICK_MS 250
#define XFR_IN_MAX_RUNNING 32 /* refreshes at once; the others wait for a place */

struct xfr_in {
    pthread_t thread;
    struct event_base *base;
    struct event *tick;
    pthread_mutex_t lock;
    pthread_cond_t idle; /* running went down */
    struct xfr_in_zone **zones;
    size_t n;
    unsigned running;           /* refresh threads under way (lock) */
    atomic_bool reload_pending; /* a refresh wants the daemon to reload */
    void (*changed)(void *arg);
    void *arg;
    atomic_bool stopping; /* xfr_in_halt: no further refresh begins, those under way give up */
    bool halted;          /* the thread was joined (by the thread that owns x) */
};

/* One refresh on its thread: the zone, and the copy of its state it
 * works on. */
struct xfr_in_job {
    struct xfr_in *x;
    struct xfr_in_zone *z;
    struct xfr_in_zone work;
};

static double xfr_in_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/*
 * The wait before the next try after fails failures in a row: 2 s doubled
 * each time, capped at the SOA retry (once we have a copy; else at 300 s),
 * with +-20 % jitter so that zones of one primary spread out, as Knot and
 * NSD back off rather than retry a first transfer every 600 s.
 */
static unsigned xfr_in_backoff(const struct xfr_in_zone *z)
{
    unsigned cap = z->have ? z->retry : XFR_IN_BACKOFF_CAP;
    if (cap < XFR_IN_BACKOFF_FIRST)
        cap = XFR_IN_BACKOFF_FIRST;
    unsigned shift = z->fails > 1 ? z->fails - 1 : 0;
    unsigned long wait = shift >= 20 ? cap : (unsigned long)XFR_IN_BACKOFF_FIRST << shift;
    if (wait > cap)
        wait = cap;
    uint16_t r = 0;
    if (getrandom(&r, sizeof(r), GRND_NONBLOCK) != sizeof(r))
        r = (uint16_t)getpid();
    double j = (double)wait * (0.8 + 0.4 * (double)r / 65535.0);
    return j < 1 ? 1 : (unsigned)(j + 0.5);
}

static uint32_t xfr_in_refresh_wait(uint32_t s)
{
    return s < XFR_IN_MIN_WAIT ? XFR_IN_MIN_WAIT : s;
}

/* After a refresh of the copy work of z: what it learnt, unless a reload
 * removed the zone meanwhile (then z is freed here). Returns whether the
 * daemon must reload (a new copy, or an expired zone refreshed). Called
 * with the lock held. */
static bool xfr_in_done(struct xfr_in_zone *z, const struct xfr_in_zone *work,
                        enum xfr_in_outcome o, const char *why)
{
    z->busy = false;
    if (z->gone) {
        free(z);
        return false;
    }
    bool ok = o == XFR_IN_CURRENT || o == XFR_IN_ADOPTED;
    bool reload = o == XFR_IN_ADOPTED || (ok && z->expired);
    z->adopted |= o == XFR_IN_ADOPTED;
    z->have = work->have;
    z->serial = work->serial;
    z->refresh = work->refresh;
    z->retry = work->retry;
    z->expire = work->expire;
    if (ok) {
        z->refreshed = work->refreshed;
        z->expired = false;
        z->fails = 0;
        z->next = time(NULL) + xfr_in_refresh_wait(z->refresh);
        return reload;
    }
    z->fails++;
    unsigned wait = xfr_in_backoff(z);
    z->next = time(NULL) + wait;
    char q[600];
    log_warn("event=xfr_in zone=%s result=%s why=\"%s\" fails=%u retry_in=%u", z->origin_str,
             o == XFR_IN_REFUSED ? "refused" : "failed", log_quote(why, q, sizeof(q)), z->fails,
             wait);
    return false;
}

static void *xfr_in_job_main(void *arg)
{
    struct xfr_in_job *j = arg;
    struct xfr_in *x = j->x;
    char why[600];
    enum xfr_in_outcome o = xfr_in_refresh(&j->work, &x->stopping, why, sizeof(why));
    pthread_mutex_lock(&x->lock);
    if (xfr_in_done(j->z, &j->work, o, why))
        atomic_store(&x->reload_pending, true);
    /* Before the place is given back: x outlives every job (xfr_in_halt
     * waits for running to reach 0). */
    event_active(x->tick, 0, 0);
    x->running--;
    pthread_cond_broadcast(&x->idle);
    pthread_mutex_unlock(&x->lock);
    free(j);
    return NULL;
}

/* Starts the refresh of z on a thread of its own; false when it cannot
 * (z stays due). Called with the lock held. */
static bool xfr_in_launch(struct xfr_in *x, struct xfr_in_zone *z)
{
    struct xfr_in_job *j = malloc(sizeof(*j));
    pthread_t t;
    pthread_attr_t at;
    if (!j)
        return false;
    *j = (struct xfr_in_job){x, z, *z};
    pthread_attr_init(&at);
    pthread_attr_setdetachstate(&at, PTHREAD_CREATE_DETACHED);
    bool ok = pthread_create(&t, &at, xfr_in_job_main, j) == 0;
    pthread_attr_destroy(&at);
    if (!ok) {
        free(j);
        return false;
    }
    z->busy = true;
    z->notified = false;
    x->running++;
    return true;
}

/* Whether z's copy is past its SOA expire now (first time: logged). */
static bool xfr_in_expire(struct xfr_in_zone *z, double now)
{
    if (!z->have || z->expired || now < z->refreshed + (double)z->expire)
        return false;
    z->expired = true;
    log_warn("event=zone_expired zone=%s why=\"no refresh from a primary within the SOA expire "
             "time (%u s): SERVFAIL until one succeeds\"",
             z->origin_str, z->expire);
    return true;
}

static void xfr_in_on_tick(evutil_socket_t fd, short what, void *arg)
{
    struct xfr_in *x = arg;
    bool reload = false;
    (void)fd;
    (void)what;
    double now = xfr_in_now();
    pthread_mutex_lock(&x->lock);
    for (size_t i = 0; i < x->n; i++) {
        struct xfr_in_zone *z = x->zones[i];
        reload |= xfr_in_expire(z, now);
        if (!z->busy && (z->notified || now >= (double)z->next) && !atomic_load(&x->stopping) &&
            x->running < XFR_IN_MAX_RUNNING)
            xfr_in_launch(x, z);
    }
    pthread_mutex_unlock(&x->lock);
    reload |= atomic_exchange(&x->reload_pending, false);
    if (reload && x->changed && !atomic_load(&x->stopping))
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
    pthread_cond_init(&x->idle, NULL);
    x->base = event_base_new();
    x->tick = x->base ? event_new(x->base, -1, EV_PERSIST, xfr_in_on_tick, x) : NULL;
    struct timeval every = {0, XFR_IN_TICK_MS * 1000};
    if (!x->tick || event_add(x->tick, &every) != 0 ||
        pthread_create(&x->thread, NULL, xfr_in_main, x) != 0) {
        if (x->tick)
            event_free(x->tick);
        if (x->base)
            event_base_free(x->base);
        pthread_cond_destroy(&x->idle);
        pthread_mutex_destroy(&x->lock);
        free(x);
        return NULL;
    }
    return x;
}

/* A new zone state for c, read from its copy; checked at once. A copy
 * already past its expire is expired without a word: the loader said so. */
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
    z->expired = z->have && xfr_in_now() >= z->refreshed + (double)z->expire;
    z->next = time(NULL);
    return z;
}

/* Sets what may change with a reload: the primaries and the key. A copy
 * that went away (the loader set a broken one aside) is transferred anew
 * at once. */
static void xfr_in_zone_set(struct xfr_in_zone *z, const struct xfr_in_zone_conf *c)
{
    z->primary = *c->primary;
    z->primary.key = NULL; /* the params' string stays theirs */
    z->has_key = c->key != NULL;
    if (c->key) {
        z->key = *c->key;
        z->key.id = NULL;
    }
    if (z->have && !z->busy && access(z->file, F_OK) != 0) {
        z->have = false;
        z->serial = 0;
        z->expired = false;
        z->fails = 0;
        z->next = time(NULL);
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
        /* The primary says it has something new: the backoff starts over. */
        z->notified = true;
        z->fails = 0;
        rcode = 0;
    }
    pthread_mutex_unlock(&x->lock);
    if (rcode == 0 && !atomic_load(&x->stopping))
        event_active(x->tick, 0, 0);
    return rcode;
}

size_t xfr_in_take_adopted(struct xfr_in *x, char ***origins)
{
    size_t n = 0;
    *origins = NULL;
    pthread_mutex_lock(&x->lock);
    for (size_t i = 0; i < x->n; i++) {
        if (!x->zones[i]->adopted)
            continue;
        char **o = realloc(*origins, (n + 1) * sizeof(*o));
        char *d = strdup(x->zones[i]->origin_str);
        if (!o || !d)
            abort();
        *origins = o;
        o[n++] = d;
        x->zones[i]->adopted = false;
    }
    pthread_mutex_unlock(&x->lock);
    return n;
}

int xfr_in_expired(struct xfr_in *x, const uint8_t *origin, size_t origin_len)
{
    int r = -1;
    pthread_mutex_lock(&x->lock);
    for (size_t i = 0; i < x->n && r < 0; i++)
        if (x->zones[i]->origin_len == origin_len &&
            memcmp(x->zones[i]->origin, origin, origin_len) == 0)
            r = x->zones[i]->expired ? 1 : 0;
    pthread_mutex_unlock(&x->lock);
    return r;
}

void xfr_in_halt(struct xfr_in *x)
{
    if (!x || x->halted)
        return;
    atomic_store(&x->stopping, true);
    event_base_loopbreak(x->base);
    pthread_join(x->thread, NULL);
    /* The refreshes under way give up at their next poll (fetch_wait). */
    pthread_mutex_lock(&x->lock);
    while (x->running > 0)
        pthread_cond_wait(&x->idle, &x->lock);
    pthread_mutex_unlock(&x->lock);
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
    pthread_cond_destroy(&x->idle);
    pthread_mutex_destroy(&x->lock);
    free(x);
}

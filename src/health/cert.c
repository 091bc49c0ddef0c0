/*
 * cert.c -- certificate expiry of TLS-probed endpoints (cert.h): a table
 * of the core, chained by the slot's address, that doubles as it fills.
 */
#include "health/cert.h"

#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "common/log.h"

struct health_cert {
    const struct health_slot *slot; /* not owned: the entry goes with it */
    int64_t not_after;
    bool warned; /* inside cert_warn_days, logged */
    struct health_cert *next;
};

struct health_certs {
    struct health_cert **b;
    uint32_t n_b; /* a power of two */
    size_t n;
};

static uint32_t health_cert_hash(const struct health_slot *s, uint32_t n_b)
{
    return (uint32_t)(((uintptr_t)s >> 4) * 0x9E3779B1u) & (n_b - 1);
}

static struct health_cert **health_cert_find(const struct health_certs *t,
                                             const struct health_slot *s)
{
    struct health_cert **pp = &t->b[health_cert_hash(s, t->n_b)];
    while (*pp && (*pp)->slot != s)
        pp = &(*pp)->next;
    return pp;
}

static void health_cert_grow(struct health_certs *t)
{
    uint32_t n_b = t->n_b * 2;
    struct health_cert **b = calloc(n_b, sizeof(*b));
    if (!b)
        abort();
    for (uint32_t i = 0; i < t->n_b; i++)
        for (struct health_cert *e = t->b[i], *next; e; e = next) {
            next = e->next;
            uint32_t h = health_cert_hash(e->slot, n_b);
            e->next = b[h];
            b[h] = e;
        }
    free(t->b);
    t->b = b;
    t->n_b = n_b;
}

/* s's entry, made when absent. Caller holds c->lock. */
static struct health_cert *health_cert_entry_locked(struct health_core *c,
                                                    const struct health_slot *s)
{
    struct health_certs *t = c->certs;
    if (!t) {
        t = c->certs = calloc(1, sizeof(*t));
        if (!t || !(t->b = calloc(t->n_b = 64, sizeof(*t->b))))
            abort();
    }
    struct health_cert **pp = health_cert_find(t, s);
    if (*pp)
        return *pp;
    if (t->n >= t->n_b) {
        health_cert_grow(t);
        pp = health_cert_find(t, s);
    }
    struct health_cert *e = calloc(1, sizeof(*e));
    if (!e)
        abort();
    e->slot = s;
    *pp = e;
    t->n++;
    return e;
}

static void health_cert_date(int64_t t, char *out, size_t len)
{
    time_t tt = (time_t)t;
    struct tm tm;
    if (!gmtime_r(&tt, &tm) || strftime(out, len, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
        snprintf(out, len, "%lld", (long long)t);
}

void health_cert_note(struct health_core *c, struct health_slot *s, int64_t not_after,
                      int warn_days)
{
    int64_t left = not_after - (int64_t)time(NULL);
    bool inside = warn_days >= 0 && left < (int64_t)warn_days * 86400;
    pthread_mutex_lock(&c->lock);
    struct health_cert *e = health_cert_entry_locked(c, s);
    e->not_after = not_after;
    bool crossed = inside != e->warned;
    e->warned = inside;
    pthread_mutex_unlock(&c->lock);
    if (!crossed)
        return;
    /* Whole days left, rounded down (negative: expired). */
    long long days = left >= 0 ? left / 86400 : -((-left + 86399) / 86400);
    char at[32];
    health_cert_date(not_after, at, sizeof(at));
    if (inside)
        log_warn("event=cert_expiring endpoint=%s days=%lld not_after=%s warn_days=%d", s->key,
                 days, at, warn_days);
    else
        log_info("event=cert_expiring_cleared endpoint=%s days=%lld not_after=%s", s->key, days,
                 at);
}

bool health_cert_get_locked(const struct health_core *c, const struct health_slot *s,
                            int64_t *not_after, bool *warned)
{
    if (!c->certs)
        return false;
    struct health_cert *e = *health_cert_find(c->certs, s);
    if (e) {
        *not_after = e->not_after;
        *warned = e->warned;
    }
    return e != NULL;
}

void health_cert_forget_locked(struct health_core *c, const struct health_slot *s)
{
    if (!c->certs)
        return;
    struct health_cert **pp = health_cert_find(c->certs, s);
    struct health_cert *e = *pp;
    if (!e)
        return;
    *pp = e->next;
    c->certs->n--;
    free(e);
}

void health_cert_free(struct health_core *c)
{
    struct health_certs *t = c->certs;
    if (!t)
        return;
    for (uint32_t i = 0; i < t->n_b; i++)
        for (struct health_cert *e = t->b[i], *next; e; e = next) {
            next = e->next;
            free(e);
        }
    free(t->b);
    free(t);
    c->certs = NULL;
}

/*
 * rtt.c -- round-trip times: this node's moving averages and the tables
 * of the other vantage points (rtt.h).
 */
#include "health/rtt.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "health/health.h"

void health_rtt_init(struct health_rtt *r)
{
    memset(r, 0, sizeof(*r));
    pthread_mutex_init(&r->lock, NULL);
}

void health_rtt_table_free(struct health_rtt_table *t)
{
    if (!t)
        return;
    for (size_t i = 0; i < t->n; i++)
        free(t->rows[i].key);
    free(t->rows);
    free(t);
}

void health_rtt_free(struct health_rtt *r)
{
    for (size_t i = 0; i < r->n_tables; i++)
        health_rtt_table_free(r->tables[i]);
    free(r->tables);
    pthread_mutex_destroy(&r->lock);
}

bool health_rtt_moved(uint32_t was_us, uint32_t now_us)
{
    uint32_t d = was_us > now_us ? was_us - now_us : now_us - was_us;
    return d > HEALTH_RTT_MOVE_US && (uint64_t)d * 100 > (uint64_t)was_us * HEALTH_RTT_MOVE_PCT;
}

bool health_rtt_sample_locked(struct health_slot *s, uint32_t rtt_us, uint32_t half_life_ms,
                              double now)
{
    double x = (double)rtt_us;
    if (s->rtt_samples == 0) {
        s->rtt_ewma_us = x;
    } else {
        /* Time-based weight: after one half-life a sample weighs half.
         * The first HEALTH_RTT_WARMUP samples are averaged plainly (weight
         * 1/n), so the average starts from several of them, not the first
         * alone; after them, only time weighs. */
        double dt = now - s->rtt_at, hl = half_life_ms ? half_life_ms / 1000.0 : 30.0;
        double alpha = dt > 0 ? 1.0 - exp2(-dt / hl) : 0.0;
        double plain = 1.0 / (double)(s->rtt_samples + 1);
        if (s->rtt_samples < HEALTH_RTT_WARMUP && plain > alpha)
            alpha = plain;
        s->rtt_ewma_us += alpha * (x - s->rtt_ewma_us);
    }
    s->rtt_samples = s->rtt_samples < UINT32_MAX ? s->rtt_samples + 1 : s->rtt_samples;
    s->rtt_at = now;
    uint32_t now_us = s->rtt_ewma_us < 4e9 ? (uint32_t)(s->rtt_ewma_us + 0.5) : UINT32_MAX;
    if (s->rtt_samples > 1 && !health_rtt_moved(s->rtt_mark_us, now_us))
        return false;
    s->rtt_mark_us = now_us;
    return true;
}

static int64_t rtt_mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Tells the listeners unless they were told less than HEALTH_RTT_TELL_MS
 * ago (then pending: health_rtt_flush tells them later). */
static void rtt_tell(struct health_core *c)
{
    int64_t now = rtt_mono_ms(), last = atomic_load(&c->rtt.told_ms);
    if ((last && now - last < HEALTH_RTT_TELL_MS) ||
        !atomic_compare_exchange_strong(&c->rtt.told_ms, &last, now)) {
        atomic_store(&c->rtt.pending, true);
        return;
    }
    /* Cleared before telling: a move pending after this point (its
     * generation bumped first) is seen by this rebuild or told later. */
    atomic_store(&c->rtt.pending, false);
    health_hooks_tell(c, HEALTH_HOOK_LAYERS);
}

void health_rtt_changed(struct health_core *c, bool own)
{
    atomic_fetch_add(&c->rtt.gen, 1);
    if (own)
        atomic_fetch_add(&c->rtt.own_gen, 1);
    rtt_tell(c);
}

void health_rtt_flush(struct health_core *c)
{
    if (atomic_load_explicit(&c->rtt.pending, memory_order_relaxed))
        rtt_tell(c);
}

void health_rtt_own(struct health_core *c, struct health_slot *const *slots, size_t n,
                    struct health_rtt_entry *out)
{
    pthread_mutex_lock(&c->lock);
    for (size_t i = 0; i < n; i++) {
        const struct health_slot *s = slots[i];
        out[i] = (struct health_rtt_entry){0};
        if (!s || s->rtt_samples == 0)
            continue;
        out[i].ewma_us = s->rtt_ewma_us < 4e9 ? (uint32_t)(s->rtt_ewma_us + 0.5) : UINT32_MAX;
        out[i].samples = s->rtt_samples;
        out[i].at = s->rtt_at;
    }
    pthread_mutex_unlock(&c->lock);
}

static int rtt_row_cmp(const void *a, const void *b)
{
    const struct health_rtt_row *x = a, *y = b;
    return strcmp(x->key, y->key);
}

void health_rtt_table_sort(struct health_rtt_table *t)
{
    if (t->n < 2)
        return;
    /* Stable for repeats: sort by key, then keep the last of a run. */
    qsort(t->rows, t->n, sizeof(*t->rows), rtt_row_cmp);
    size_t w = 0;
    for (size_t i = 0; i < t->n; i++) {
        if (w > 0 && strcmp(t->rows[w - 1].key, t->rows[i].key) == 0) {
            free(t->rows[w - 1].key);
            t->rows[w - 1] = t->rows[i];
            continue;
        }
        t->rows[w++] = t->rows[i];
    }
    t->n = w;
}

/* The index of node's table, or n_tables (caller holds rtt.lock). */
static size_t rtt_index_locked(const struct health_rtt *r, const char *node)
{
    size_t i = 0;
    while (i < r->n_tables && strcmp(r->tables[i]->node, node) != 0)
        i++;
    return i;
}

void health_rtt_put(struct health_core *c, struct health_rtt_table *t)
{
    struct health_rtt *r = &c->rtt;
    pthread_mutex_lock(&r->lock);
    size_t i = rtt_index_locked(r, t->node);
    if (i < r->n_tables) {
        health_rtt_table_free(r->tables[i]);
        r->tables[i] = t;
    } else {
        if (r->n_tables == r->cap_tables) {
            r->cap_tables = r->cap_tables ? r->cap_tables * 2 : 8;
            r->tables = realloc(r->tables, r->cap_tables * sizeof(*r->tables));
            if (!r->tables)
                abort();
        }
        r->tables[r->n_tables++] = t;
    }
    pthread_mutex_unlock(&r->lock);
    health_rtt_changed(c, false);
}

void health_rtt_drop(struct health_core *c, const char *node)
{
    struct health_rtt *r = &c->rtt;
    pthread_mutex_lock(&r->lock);
    size_t i = rtt_index_locked(r, node);
    bool found = i < r->n_tables;
    if (found) {
        health_rtt_table_free(r->tables[i]);
        r->tables[i] = r->tables[--r->n_tables];
    }
    pthread_mutex_unlock(&r->lock);
    if (found)
        health_rtt_changed(c, false);
}

void health_rtt_clear(struct health_core *c)
{
    struct health_rtt *r = &c->rtt;
    pthread_mutex_lock(&r->lock);
    size_t n = r->n_tables;
    for (size_t i = 0; i < n; i++)
        health_rtt_table_free(r->tables[i]);
    r->n_tables = 0;
    pthread_mutex_unlock(&r->lock);
    if (n)
        health_rtt_changed(c, false);
}

bool health_rtt_find(struct health_core *c, const char *node, const char *key,
                     struct health_rtt_entry *out)
{
    struct health_rtt *r = &c->rtt;
    bool found = false;
    pthread_mutex_lock(&r->lock);
    size_t i = rtt_index_locked(r, node);
    if (i < r->n_tables) {
        struct health_rtt_row want = {.key = (char *)key};
        const struct health_rtt_row *row =
            bsearch(&want, r->tables[i]->rows, r->tables[i]->n, sizeof(want), rtt_row_cmp);
        if (row) {
            *out = row->e;
            found = true;
        }
    }
    pthread_mutex_unlock(&r->lock);
    return found;
}

bool health_rtt_has(struct health_core *c, const char *node)
{
    pthread_mutex_lock(&c->rtt.lock);
    bool has = rtt_index_locked(&c->rtt, node) < c->rtt.n_tables;
    pthread_mutex_unlock(&c->rtt.lock);
    return has;
}

void health_rtt_set_self(struct health_core *c, const char *node)
{
    pthread_mutex_lock(&c->rtt.lock);
    snprintf(c->rtt.self, sizeof(c->rtt.self), "%s", node ? node : "");
    pthread_mutex_unlock(&c->rtt.lock);
}

bool health_rtt_is_self(struct health_core *c, const char *node)
{
    if (!node[0])
        return true;
    pthread_mutex_lock(&c->rtt.lock);
    bool self = strcmp(c->rtt.self, node) == 0;
    pthread_mutex_unlock(&c->rtt.lock);
    return self;
}

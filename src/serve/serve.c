/*
 * serve.c -- the served set, its readers and the swap.
 */
#include "serve/serve.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "serve/serve_counters_int.h"

void serve_init(struct serve *sv, unsigned max_readers)
{
    memset(sv, 0, sizeof(*sv));
    atomic_init(&sv->current, NULL);
    atomic_init(&sv->loss, NULL);
    atomic_init(&sv->n_readers, 0);
    sv->max_readers = max_readers;
    sv->readers = calloc(max_readers ? max_readers : 1, sizeof(*sv->readers));
    if (!sv->readers)
        abort();
    pthread_mutex_init(&sv->lock, NULL);
    pthread_mutex_init(&sv->reg_lock, NULL);
    serve_registry_init(&sv->registry, SERVE_POLICY_MAX_IDS);
}

void serve_destroy(struct serve *sv)
{
    if (!sv->readers)
        return;
    serve_set_free(atomic_exchange(&sv->current, NULL));
    policy_loss_free(atomic_exchange(&sv->loss, NULL));
    unsigned n = atomic_load(&sv->n_readers);
    for (unsigned i = 0; i < n; i++) {
        serve_counters_unreserve(sv->readers[i]);
        free(sv->readers[i]);
    }
    free(sv->readers);
    sv->readers = NULL;
    serve_registry_free(&sv->registry);
    pthread_mutex_destroy(&sv->lock);
    pthread_mutex_destroy(&sv->reg_lock);
}

static struct serve_reader *serve_reader_add_kind(struct serve *sv, bool counts, const char *name)
{
    pthread_mutex_lock(&sv->lock);
    unsigned n = atomic_load(&sv->n_readers);
    struct serve_reader *r = NULL;
    if (n < sv->max_readers) {
        /* Its own pairs of cache lines: the hazard slot and the counters
         * are written by one thread only, per query. */
        r = aligned_alloc(SERVE_READER_ALIGN, (sizeof(*r) + SERVE_READER_ALIGN - 1) /
                                                  SERVE_READER_ALIGN * SERVE_READER_ALIGN);
        if (!r)
            abort();
        memset(r, 0, sizeof(*r));
        r->serve = sv;
        r->id = n;
        atomic_init(&r->entries, 0);
        atomic_init(&r->hazard, NULL);
        atomic_init(&r->loss_hazard, NULL);
        r->counts_policy = counts;
        if (counts)
            serve_counters_reserve(r);
        if (name)
            snprintf(r->name, sizeof(r->name), "%s", name);
        sv->readers[n] = r;
        atomic_store_explicit(&sv->n_readers, n + 1, memory_order_release);
    }
    pthread_mutex_unlock(&sv->lock);
    return r;
}

struct serve_reader *serve_reader_add(struct serve *sv)
{
    return serve_reader_add_kind(sv, false, NULL);
}

struct serve_reader *serve_reader_add_counting(struct serve *sv)
{
    return serve_reader_add_kind(sv, true, NULL);
}

struct serve_reader *serve_reader_add_worker(struct serve *sv, const char *name)
{
    return serve_reader_add_kind(sv, true, name ? name : "");
}

size_t serve_sum_workers(struct serve *sv, struct serve_worker_total *out, size_t cap)
{
    size_t k = 0;
    unsigned n = atomic_load_explicit(&sv->n_readers, memory_order_acquire);
    for (unsigned i = 0; i < n; i++) {
        const struct serve_reader *r = sv->readers[i];
        if (!r->name[0])
            continue;
        if (k < cap) {
            memcpy(out[k].name, r->name, sizeof(out[k].name));
            out[k].messages = 0;
            for (int t = 0; t < SERVE_TRANSPORTS; t++)
                out[k].messages +=
                    atomic_load_explicit(&r->counters.messages[t], memory_order_relaxed);
        }
        k++;
    }
    return k;
}

struct serve_set *serve_publish(struct serve *sv, struct serve_set *next)
{
    pthread_mutex_lock(&sv->lock);
    pthread_mutex_lock(&sv->reg_lock);
    serve_counters_assign(sv, next, atomic_load(&sv->current));
    pthread_mutex_unlock(&sv->reg_lock);
    struct serve_set *old = atomic_exchange(&sv->current, next);
    /* Grace period: a reader that entered old holds it for one batch at
     * most, so this ends within microseconds. Readers added after the
     * exchange can only see next. */
    struct timespec ts = {0, 100000};
    unsigned n = atomic_load(&sv->n_readers);
    for (unsigned i = 0; old && i < n; i++)
        while (atomic_load(&sv->readers[i]->hazard) == old)
            nanosleep(&ts, NULL);
    pthread_mutex_unlock(&sv->lock);
    return old;
}

struct policy_loss *serve_publish_loss(struct serve *sv, struct policy_loss *next)
{
    pthread_mutex_lock(&sv->lock);
    struct policy_loss *old = atomic_exchange(&sv->loss, next);
    /* The same grace period as a set's: re-entering loads the new view. */
    struct timespec ts = {0, 100000};
    unsigned n = atomic_load(&sv->n_readers);
    for (unsigned i = 0; old && i < n; i++)
        while (atomic_load(&sv->readers[i]->loss_hazard) == old)
            nanosleep(&ts, NULL);
    pthread_mutex_unlock(&sv->lock);
    return old;
}

void serve_set_query_labels(struct serve *sv, const char *(*rcode_label)(unsigned),
                            const char *(*qtype_label)(unsigned))
{
    pthread_mutex_lock(&sv->lock);
    sv->rcode_label = rcode_label;
    sv->qtype_label = qtype_label;
    pthread_mutex_unlock(&sv->lock);
}

void serve_sum_queries(struct serve *sv, struct serve_query_totals *out)
{
    memset(out, 0, sizeof(*out));
    unsigned n = atomic_load_explicit(&sv->n_readers, memory_order_acquire);
    for (unsigned i = 0; i < n; i++) {
        const struct serve_counters *c = &sv->readers[i]->counters;
        for (int t = 0; t < SERVE_TRANSPORTS; t++) {
            out->messages[t] += atomic_load_explicit(&c->messages[t], memory_order_relaxed);
            for (int rc = 0; rc < SERVE_RCODES; rc++)
                for (int q = 0; q < SERVE_QTYPES; q++)
                    out->queries[t][rc][q] +=
                        atomic_load_explicit(&c->queries[t][rc][q], memory_order_relaxed);
        }
        for (int k = 0; k < COOKIE_KINDS; k++)
            out->cookies[k] += atomic_load_explicit(&c->cookies[k], memory_order_relaxed);
        for (int k = 0; k < RRL_CLASSES; k++)
            for (int a = 0; a < SERVE_RRL_ACTIONS; a++)
                out->rrl[k][a] += atomic_load_explicit(&c->rrl[k][a], memory_order_relaxed);
        for (int k = 0; k < SERVE_TLS_KINDS; k++)
            out->tls[k] += atomic_load_explicit(&c->tls[k], memory_order_relaxed);
    }
}

void serve_sum_geo(struct serve *sv, uint64_t out[POLICY_GEO_KINDS])
{
    memset(out, 0, sizeof(uint64_t) * POLICY_GEO_KINDS);
    unsigned n = atomic_load_explicit(&sv->n_readers, memory_order_acquire);
    for (unsigned i = 0; i < n; i++)
        for (unsigned k = 0; k < POLICY_GEO_KINDS; k++)
            out[k] += atomic_load_explicit(&sv->readers[i]->counters.geo[k], memory_order_relaxed);
}

uint64_t serve_sum_policy(struct serve *sv, const struct serve_set *s, size_t record, int region)
{
    return serve_sum_id(sv, serve_policy_id_of(s, record, region, false));
}

uint32_t serve_policy_id(struct serve *sv, const char *record, uint16_t rtype, const char *region,
                         bool canary)
{
    pthread_mutex_lock(&sv->reg_lock);
    struct serve_registry *reg = &sv->registry;
    uint32_t id = serve_registry_column(reg, serve_registry_record(reg, record, rtype, 0, false),
                                        serve_registry_region(reg, region, false), canary, false);
    pthread_mutex_unlock(&sv->reg_lock);
    return id;
}

void serve_sync(struct serve *sv)
{
    struct timespec ts = {0, 20000};
    /* Orders the caller's earlier stores (relaxed or release, such as
     * the health bytes) before the hazard loads below. */
    atomic_thread_fence(memory_order_seq_cst);
    unsigned n = atomic_load(&sv->n_readers);
    for (unsigned i = 0; i < n; i++) {
        struct serve_reader *r = sv->readers[i];
        /* The hazard first: if it is the store of entry k, entries is at
         * least k below (serve_enter bumps entries before that store). */
        const struct serve_set *h = atomic_load(&r->hazard);
        uint64_t e = atomic_load(&r->entries);
        while (h && atomic_load(&r->hazard) == h && atomic_load(&r->entries) == e)
            nanosleep(&ts, NULL);
    }
}

uint64_t serve_sum_id(struct serve *sv, uint32_t id)
{
    if (id == SERVE_NO_ID)
        return 0;
    uint64_t sum = 0;
    unsigned n = atomic_load_explicit(&sv->n_readers, memory_order_acquire);
    for (unsigned i = 0; i < n; i++) {
        _Atomic uint64_t *chunk = atomic_load_explicit(
            &sv->readers[i]->counters.policy[id / SERVE_POLICY_CHUNK], memory_order_acquire);
        if (chunk)
            sum += atomic_load_explicit(&chunk[id % SERVE_POLICY_CHUNK], memory_order_relaxed);
    }
    return sum;
}

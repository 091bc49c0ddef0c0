/*
 * policy_records.c -- a policy set's records as chunks shared between
 * versions (policy.h, struct gslb_chunk; issue #55).
 *
 * Why: a change at a million names copied the whole record array (80 MB)
 * into freshly faulted huge pages, a quarter of the store thread's time
 * per change. A set now holds a table of pointers to refcounted chunks;
 * the set a change builds shares every chunk whose records stay at their
 * indices (gslb_rec_share) and copies only the chunks it writes
 * (gslb_rec_w).
 *
 * Threads: a set is built on one thread (the reload's) and only that
 * thread writes its chunks, while it holds the only reference (a shared
 * chunk is copied before a write). Sets are freed on any thread (the
 * dropper's): the counts are atomic, and the last release frees the
 * chunk. Acquire/release ordering makes the builder's writes visible to
 * whoever frees.
 */
#include <stdlib.h>
#include <string.h>

#include "common/bigalloc.h"
#include "policy/policy.h"

/* Chunks made together in one mapping (gslb_records_init_block); the
 * last chunk released unmaps it. */
struct gslb_chunk_block {
    atomic_size_t live; /* chunks not released yet */
    size_t len;         /* octets, for bigalloc_free */
    struct gslb_chunk c[];
};

static struct gslb_chunk *gslb_chunk_new(atomic_long *live)
{
    struct gslb_chunk *c = malloc(sizeof(*c)); /* records written before read */
    if (!c)
        abort();
    atomic_init(&c->refs, 1);
    c->live = live;
    c->block = NULL;
    if (live)
        atomic_fetch_add_explicit(live, 1, memory_order_relaxed);
    return c;
}

static void gslb_chunk_release(struct gslb_chunk *c)
{
    if (!c || atomic_fetch_sub_explicit(&c->refs, 1, memory_order_acq_rel) != 1)
        return;
    if (c->live)
        atomic_fetch_sub_explicit(c->live, 1, memory_order_relaxed);
    struct gslb_chunk_block *b = c->block;
    if (!b)
        free(c);
    else if (atomic_fetch_sub_explicit(&b->live, 1, memory_order_acq_rel) == 1)
        bigalloc_free(b, 1, b->len);
}

void gslb_records_init(struct gslb *g, size_t cap)
{
    g->n_chunks = (cap + GSLB_CHUNK - 1) >> GSLB_CHUNK_SHIFT;
    g->chunks = calloc(g->n_chunks ? g->n_chunks : 1, sizeof(*g->chunks));
    if (!g->chunks)
        abort();
}

void gslb_records_init_block(struct gslb *g, size_t cap)
{
    gslb_records_init(g, cap);
    if (!g->n_chunks)
        return;
    size_t len = sizeof(struct gslb_chunk_block) + g->n_chunks * sizeof(struct gslb_chunk);
    struct gslb_chunk_block *b = bigalloc_zeroed(1, len);
    atomic_init(&b->live, g->n_chunks);
    b->len = len;
    for (size_t k = 0; k < g->n_chunks; k++) {
        struct gslb_chunk *c = g->chunks[k] = &b->c[k];
        atomic_init(&c->refs, 1);
        c->live = g->chunks_live;
        c->block = b;
        if (c->live)
            atomic_fetch_add_explicit(c->live, 1, memory_order_relaxed);
    }
}

struct policy_record *gslb_rec_w(struct gslb *g, size_t i)
{
    size_t k = i >> GSLB_CHUNK_SHIFT;
    struct gslb_chunk *c = g->chunks[k];
    if (!c)
        c = g->chunks[k] = gslb_chunk_new(g->chunks_live);
    else if (atomic_load_explicit(&c->refs, memory_order_acquire) > 1) {
        /* Shared with the set it was taken from (or one before): the
         * copy is this set's, and the records the write leaves are the
         * same records (their parts owned as gslb.carried says). */
        struct gslb_chunk *own = gslb_chunk_new(g->chunks_live);
        memcpy(own->r, c->r, sizeof(own->r));
        gslb_chunk_release(c);
        c = g->chunks[k] = own;
    }
    return &c->r[i & (GSLB_CHUNK - 1)];
}

bool gslb_rec_share(struct gslb *g, const struct gslb *from, size_t i)
{
    size_t k = i >> GSLB_CHUNK_SHIFT;
    if (k >= from->n_chunks || !from->chunks[k])
        return false;
    if (g->chunks[k] == from->chunks[k])
        return true;
    if (g->chunks[k] || (i & (GSLB_CHUNK - 1)) != 0)
        return false;
    atomic_fetch_add_explicit(&from->chunks[k]->refs, 1, memory_order_relaxed);
    g->chunks[k] = from->chunks[k];
    return true;
}

void gslb_records_free(struct gslb *g)
{
    for (size_t k = 0; g->chunks && k < g->n_chunks; k++)
        gslb_chunk_release(g->chunks[k]);
    free(g->chunks);
    g->chunks = NULL;
    g->n_chunks = 0;
}

void gslb_records_share_all(struct gslb *g, const struct gslb *from)
{
    g->n_chunks = from->n_chunks;
    g->chunks = malloc((g->n_chunks ? g->n_chunks : 1) * sizeof(*g->chunks));
    if (!g->chunks)
        abort();
    for (size_t k = 0; k < g->n_chunks; k++) {
        if ((g->chunks[k] = from->chunks[k]))
            atomic_fetch_add_explicit(&from->chunks[k]->refs, 1, memory_order_relaxed);
    }
    g->n_records = from->n_records;
}

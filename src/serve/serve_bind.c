/*
 * serve_bind.c -- the policy bindings of a set's zone nodes (serve_bind.h).
 */
#include "serve/serve_bind.h"

#include <stdlib.h>
#include <string.h>

#include "common/bigalloc.h"

void serve_bind_init(struct serve_bind *t, size_t n, struct gslb_bchunk *const *base,
                     struct bigalloc_spare *spare)
{
    uint32_t size = 16;
    while (size < 2 * n + 1)
        size *= 2;
    t->spare = spare;
    t->base = base;
    /* Probed before set. binding is read only where nodes has the node
     * (written before it is read), but zero all the same: no fault later. */
    t->nodes = bigalloc_table_take(spare, size, sizeof(*t->nodes), &t->nodes_len);
    t->binding = bigalloc_table_take(spare, size, sizeof(*t->binding), &t->binding_len);
    t->mask = size - 1;
    t->n = 0;
    t->refs = malloc(sizeof(*t->refs));
    if (!t->nodes || !t->binding || !t->refs)
        abort();
    atomic_init(t->refs, 1);
}

void serve_bind_share(struct serve_bind *t, const struct serve_bind *prev,
                      struct gslb_bchunk *const *base)
{
    *t = *prev;
    t->base = base;
    if (t->refs)
        atomic_fetch_add_explicit(t->refs, 1, memory_order_relaxed);
}

/* Gives t its own copy of its tables when another set holds them too: a
 * shared table is read by that set's readers. */
static void serve_bind_own(struct serve_bind *t)
{
    if (!t->refs || atomic_load_explicit(t->refs, memory_order_acquire) == 1)
        return;
    struct serve_bind mine = {.base = t->base, .spare = t->spare, .mask = t->mask, .n = t->n};
    mine.nodes =
        bigalloc_table_take(t->spare, (size_t)t->mask + 1, sizeof(*mine.nodes), &mine.nodes_len);
    mine.binding = bigalloc_table_take(t->spare, (size_t)t->mask + 1, sizeof(*mine.binding),
                                       &mine.binding_len);
    mine.refs = malloc(sizeof(*mine.refs));
    if (!mine.nodes || !mine.binding || !mine.refs)
        abort();
    atomic_init(mine.refs, 1);
    memcpy((void *)mine.nodes, t->nodes, ((size_t)t->mask + 1) * sizeof(*t->nodes));
    memcpy(mine.binding, t->binding, ((size_t)t->mask + 1) * sizeof(*t->binding));
    serve_bind_free(t);
    *t = mine;
}

bool serve_bind_within(const struct serve_bind *t, const struct serve_bind *prev)
{
    for (uint32_t i = 0; t->nodes && i <= t->mask; i++) {
        if (!t->nodes[i])
            continue;
        const struct zone_node *n = t->nodes[i];
        if (!prev->n || !prev->nodes)
            return false;
        uint32_t k = serve_bind_hash(n) & prev->mask;
        while (prev->nodes[k] && prev->nodes[k] != n)
            k = (k + 1) & prev->mask;
        if (prev->nodes[k] != n || prev->binding[k] != t->binding[i])
            return false;
    }
    return true;
}

void serve_bind_put(struct serve_bind *t, const struct zone_node *n, uint32_t index)
{
    serve_bind_own(t);
    if (!t->nodes || 2 * (t->n + 1) > t->mask) { /* never at load: sized for every record */
        struct serve_bind big = {0};
        serve_bind_init(&big, 2 * t->n + 8, t->base, t->spare);
        for (uint32_t i = 0; t->nodes && i <= t->mask; i++)
            if (t->nodes[i])
                serve_bind_put(&big, t->nodes[i], t->binding[i]);
        serve_bind_free(t);
        *t = big;
    }
    uint32_t i = serve_bind_hash(n) & t->mask;
    while (t->nodes[i] && t->nodes[i] != n)
        i = (i + 1) & t->mask;
    if (!t->nodes[i])
        t->n++;
    t->nodes[i] = n;
    t->binding[i] = index;
}

void serve_bind_free(struct serve_bind *t)
{
    /* acq_rel: the last holder sees every write the others made before
     * they let go (none after sharing, but the tables' making). */
    if (t->refs && atomic_fetch_sub_explicit(t->refs, 1, memory_order_acq_rel) > 1) {
        *t = (struct serve_bind){0};
        return;
    }
    free(t->refs);
    bigalloc_table_give(t->spare, (void *)t->nodes, t->nodes_len);
    bigalloc_table_give(t->spare, (void *)t->binding, t->binding_len);
    *t = (struct serve_bind){0};
}

/* Empties slot k of t, moving the entries after it in its probe run back
 * so that every one stays reachable from its home slot (linear probing's
 * deletion without tombstones). */
static void serve_bind_remove_at(struct serve_bind *t, uint32_t k)
{
    uint32_t j = k;
    for (;;) {
        t->nodes[j] = NULL;
        t->binding[j] = 0;
        uint32_t i = j;
        for (;;) {
            i = (i + 1) & t->mask;
            if (!t->nodes[i])
                return;
            uint32_t h = serve_bind_hash(t->nodes[i]) & t->mask;
            /* i's entry may move to j when its home h is not in (j, i]. */
            bool stays = j < i ? (h > j && h <= i) : (h > j || h <= i);
            if (!stays)
                break;
        }
        t->nodes[j] = t->nodes[i];
        t->binding[j] = t->binding[i];
        j = i;
    }
}

size_t serve_bind_carry(struct serve_bind *t, const struct serve_bind *prev, const uint32_t *to,
                        size_t n_old, uint32_t *carried)
{
    if (!prev->nodes || !t->nodes || t->mask != prev->mask || t->n != 0)
        return SIZE_MAX;
    memcpy((void *)t->nodes, prev->nodes, ((size_t)t->mask + 1) * sizeof(*t->nodes));
    size_t n_gone = 0, cap = 0, n = 0;
    const struct zone_node **gone = NULL;
    for (uint32_t k = 0; k <= t->mask; k++) {
        if (!t->nodes[k]) {
            t->binding[k] = 0;
            continue;
        }
        size_t o = prev->binding[k];
        uint32_t i = o < n_old ? to[o] : UINT32_MAX;
        if (i != UINT32_MAX) {
            t->binding[k] = i;
            carried[i] = 1;
            n++;
            continue;
        }
        t->binding[k] = prev->binding[k]; /* prev's index, until removed below */
        if (n_gone == cap) {
            cap = cap ? 2 * cap : 16;
            gone = realloc(gone, cap * sizeof(*gone));
            if (!gone)
                abort();
        }
        gone[n_gone++] = t->nodes[k];
    }
    t->n = n + n_gone;
    for (size_t x = 0; x < n_gone; x++) {
        uint32_t k = serve_bind_hash(gone[x]) & t->mask;
        while (t->nodes[k] != gone[x])
            k = (k + 1) & t->mask;
        serve_bind_remove_at(t, k);
        t->n--;
    }
    free(gone);
    return n;
}

/*
 * policy_geo_widen.c -- health-aware ECS scopes: the views of the geo and
 * nearest records rebuilt off the query path (policy_geo.h).
 */
#include <stdlib.h>
#include <string.h>

#include "policy/policy_eval.h"
#include "policy/policy_geo.h"

/* Distinct outcome keys seen while partitioning one view. */
struct widen_keys {
    uint16_t *buf; /* n keys of `stride` entries, each led by its length */
    size_t n, cap, stride;
};

static void *widen_calloc(size_t n, size_t size)
{
    void *p = calloc(n ? n : 1, size);
    if (!p)
        abort();
    return p;
}

/* The id of key (len entries), added when new. */
static uint32_t widen_intern(struct widen_keys *k, const uint16_t *key, size_t len)
{
    for (size_t i = 0; i < k->n; i++) {
        const uint16_t *e = &k->buf[i * k->stride];
        if (e[0] == len && memcmp(e + 1, key, len * sizeof(*key)) == 0)
            return (uint32_t)i;
    }
    if (k->n == k->cap) {
        k->cap = k->cap ? k->cap * 2 : 16;
        k->buf = realloc(k->buf, k->cap * k->stride * sizeof(*k->buf));
        if (!k->buf)
            abort();
    }
    uint16_t *e = &k->buf[k->n * k->stride];
    e[0] = (uint16_t)len;
    memcpy(e + 1, key, len * sizeof(*key));
    return (uint32_t)k->n++;
}

/* The outcome of every class of r's trie for rtype (ids by first
 * appearance, so equal partitions give equal arrays). Caller frees. */
static uint32_t *widen_partition(const struct gslb *g, const struct policy_record *r,
                                 const struct policy_geo_trie *t, uint16_t rtype)
{
    uint32_t n = policy_geo_classes(t);
    uint32_t *part = widen_calloc(n, sizeof(*part));
    size_t cap = g->n_regions + 1;
    struct widen_keys keys = {.stride = cap + 1};
    uint16_t *key = widen_calloc(cap, sizeof(*key));
    for (uint32_t c = 0; c < n; c++) {
        size_t len = policy_eval_outcome(g, r, rtype, policy_geo_order(r, t, c), key, cap);
        part[c] = widen_intern(&keys, key, len);
    }
    free(key);
    free(keys.buf);
    return part;
}

/* The answer types r serves, by view index (0 when it serves none). */
static uint16_t widen_rtype(const struct gslb *g, const struct policy_record *r, int view)
{
    if (r->rtype == DNS_TYPE_CNAME)
        return view == 0 ? DNS_TYPE_CNAME : 0;
    const struct policy_pool *p = &g->pools[r->pool];
    uint16_t want = view == 0 ? DNS_TYPE_A : DNS_TYPE_AAAA;
    for (size_t i = 0; i < p->n_eps; i++)
        if (p->eps[i].rtype == want)
            return want;
    return 0;
}

void policy_geo_retire(struct policy_geo_retired *ret, void *block)
{
    uint8_t *marks = block;
    if (!marks)
        return;
    if (ret->n == ret->cap) {
        ret->cap = ret->cap ? ret->cap * 2 : 8;
        ret->marks = realloc(ret->marks, ret->cap * sizeof(*ret->marks));
        if (!ret->marks)
            abort();
    }
    ret->marks[ret->n++] = marks;
}

/* Publishes part (taken) as view v's partition for epoch: new marks when
 * the partition changed, else only the tag moves. */
static void widen_publish(struct policy_geo_view *v, const struct policy_geo_trie *t,
                          uint32_t *part, uint64_t epoch, struct policy_geo_retired *ret)
{
    uint32_t n = policy_geo_classes(t);
    if (v->partition && memcmp(v->partition, part, n * sizeof(*part)) == 0) {
        free(part);
        atomic_store(&v->tag, epoch + 1);
        return;
    }
    const struct geo_merged *m = t->nearest ? &t->near.merged : &t->map;
    uint8_t *marks = geo_trie_uniform_marks(&m->trie, part, n);
    /* Readers check the tag around their use of the pointer. */
    atomic_store(&v->tag, 0);
    policy_geo_retire(ret, atomic_exchange(&v->marks, marks));
    atomic_store(&v->tag, epoch + 1);
    free(v->partition);
    v->partition = part;
}

bool policy_geo_widen(const struct gslb *g, struct policy_geo *pg,
                      struct policy_geo_retired *retired)
{
    uint64_t epoch;
    if (!g || !pg || !g->health || !health_epoch_enter(g->health, &epoch))
        return false;
    /* Partitions first, all in the state of one epoch; tries after. */
    uint32_t **parts = widen_calloc(pg->n_recs * 2, sizeof(*parts));
    for (size_t i = 0; i < pg->n_recs; i++)
        for (int v = 0; pg->recs[i].t && gslb_rec(g, i)->policy != POLICY_LATENCY && v < 2; v++) {
            uint16_t rtype = widen_rtype(g, gslb_rec(g, i), v);
            if (rtype)
                parts[i * 2 + v] = widen_partition(g, gslb_rec(g, i), pg->recs[i].t, rtype);
        }
    bool valid = health_epoch_valid(g->health, epoch);
    for (size_t i = 0; i < pg->n_recs * 2; i++) {
        if (parts[i] && valid)
            widen_publish(&pg->recs[i / 2].view[i % 2], pg->recs[i / 2].t, parts[i], epoch,
                          retired);
        else
            free(parts[i]);
    }
    free(parts);
    return valid;
}

void policy_geo_retired_free(struct policy_geo_retired *r)
{
    for (size_t i = 0; i < r->n; i++)
        free(r->marks[i]);
    free(r->marks);
    memset(r, 0, sizeof(*r));
}

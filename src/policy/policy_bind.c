/*
 * policy_bind.c -- a policy set's names bound to their records (policy.h,
 * struct policy_binding and gslb.bchunks), in chunks shared between
 * versions (issue #55).
 *
 * Why chunks: at a million names the bindings were one array of 24 MB a
 * set, made afresh (and faulted in) by every change, and filled by a walk
 * of every record: half of what was left of a change once the records
 * were shared. A set built in place (policy_config_touched.c) now shares
 * its origin's chunks of bindings, and binds again only the names with a
 * record in a chunk of records it wrote: a binding points at records, and
 * in a chunk the change copied those of every name in it are the copy's
 * (the origin's may go before this set does). A name whose records run
 * over the start of such a chunk is bound again too, from its first
 * record in the chunk before.
 *
 * Threads: a set is bound on the thread that builds it, before it is
 * published; a chunk is written only while this set is its one holder
 * (policy_bind_w copies a shared one first). Sets are freed on any
 * thread: the counts are atomic, the last release frees the chunk.
 */
#include <stdlib.h>
#include <string.h>

#include "common/bigalloc.h"
#include "common/jsoncfg.h"
#include "dns/dns.h"
#include "policy/policy.h"

static struct gslb_bchunk *policy_bchunk_new(void)
{
    struct gslb_bchunk *c = calloc(1, sizeof(*c));
    if (!c)
        abort();
    atomic_init(&c->refs, 1);
    return c;
}

static void policy_bchunk_release(struct gslb_bchunk *c)
{
    if (c && atomic_fetch_sub_explicit(&c->refs, 1, memory_order_acq_rel) == 1)
        free(c);
}

void gslb_bindings_free(struct gslb *g)
{
    for (size_t k = 0; g->bchunks && k < g->n_bchunks; k++)
        policy_bchunk_release(g->bchunks[k]);
    free(g->bchunks);
    g->bchunks = NULL;
    g->n_bchunks = 0;
}

/* A table of n chunks of g's: fresh (zeroed) ones, or from's shared. */
static void policy_bchunks_make(struct gslb *g, size_t n, const struct gslb *from)
{
    g->n_bchunks = n;
    g->bchunks = malloc((n ? n : 1) * sizeof(*g->bchunks));
    if (!g->bchunks)
        abort();
    for (size_t k = 0; k < n; k++) {
        if (!from)
            g->bchunks[k] = policy_bchunk_new();
        else {
            g->bchunks[k] = from->bchunks[k];
            atomic_fetch_add_explicit(&g->bchunks[k]->refs, 1, memory_order_relaxed);
        }
    }
}

/* Binding i of g to write: its chunk copied first when another set holds
 * it too. */
static struct policy_binding *policy_bind_w(struct gslb *g, size_t i)
{
    struct gslb_bchunk **c = &g->bchunks[i >> GSLB_CHUNK_SHIFT];
    if (atomic_load_explicit(&(*c)->refs, memory_order_acquire) > 1) {
        struct gslb_bchunk *own = malloc(sizeof(*own));
        if (!own)
            abort();
        atomic_init(&own->refs, 1);
        memcpy(own->b, (*c)->b, sizeof(own->b));
        policy_bchunk_release(*c);
        *c = own;
    }
    return &(*c)->b[i & (GSLB_CHUNK - 1)];
}

/* Sets one type slot of a binding; reports a second record for it. */
static void policy_bind_type(const struct jsoncfg *j, const struct policy_record **slot,
                             const struct policy_record *r, const char *type)
{
    char at[POLICY_PATH_LEN], was[POLICY_PATH_LEN];
    if (*slot)
        jsoncfg_err(j, policy_record_path(r, at, sizeof(at)),
                    "%s already has a %s policy record at %s", r->name_str, type,
                    policy_record_path(*slot, was, sizeof(was)));
    else
        *slot = r;
}

/* Binds record r into pb by the type it serves (types: by pool). */
static void policy_bind_record(const struct jsoncfg *j, struct policy_binding *pb,
                               const struct policy_record *r, const uint8_t *types)
{
    if (r->rtype == DNS_TYPE_CNAME) {
        policy_bind_type(j, &pb->cname, r, "CNAME");
        return;
    }
    if (types[r->pool] & GSLB_POOL_A)
        policy_bind_type(j, &pb->a, r, "A");
    if (types[r->pool] & GSLB_POOL_AAAA)
        policy_bind_type(j, &pb->aaaa, r, "AAAA");
}

/* Reports a CNAME policy that shares its name with another type's. */
static void policy_bind_cname_alone(const struct jsoncfg *j, const struct policy_binding *pb)
{
    char at[POLICY_PATH_LEN];
    if (pb->cname && (pb->a || pb->aaaa))
        jsoncfg_err(j, policy_record_path(pb->cname, at, sizeof(at)),
                    "%s: a CNAME policy cannot share its name", pb->cname->name_str);
}

/* first[i]: the index of the first record with record i's name, through
 * a table of names (a sort took 26 ms of a change at 100,000 records, and
 * comparing pairwise 0.3 s at 10,000). The records of one JSON member are
 * consecutive: a record named like the one before it is not looked up.
 * Caller frees. */
static size_t *policy_bind_first(const struct gslb *g)
{
    size_t n = g->n_records ? g->n_records : 1;
    uint32_t size = 16;
    while (size < 2 * n + 1)
        size *= 2;
    size_t t_len;
    /* 1 + the first record of a name, and the name's hash: a record is
     * compared only when the hashes are equal (every compare is a cache
     * miss at this size). Probed before set. */
    uint32_t(*t)[2] = bigalloc_table_take(g->spare, size, sizeof(*t), &t_len);
    size_t *first = malloc(n * sizeof(*first)); /* every item written */
    if (!first)
        abort();
    for (size_t i = 0; i < g->n_records; i++) {
        const struct policy_record *r = gslb_rec(g, i), *p = i ? gslb_rec(g, i - 1) : NULL;
        uint32_t h = r->name_hash, k = h & (size - 1);
        if (p && p->name_hash == h && p->name_len == r->name_len &&
            memcmp(p->name, r->name, r->name_len) == 0) {
            first[i] = first[i - 1];
            continue;
        }
        for (; t[k][0]; k = (k + 1) & (size - 1)) {
            const struct policy_record *o = gslb_rec(g, t[k][0] - 1);
            if (t[k][1] == h && o->name_len == r->name_len &&
                memcmp(o->name, r->name, r->name_len) == 0)
                break;
        }
        if (!t[k][0]) {
            t[k][0] = (uint32_t)i + 1;
            t[k][1] = h;
        }
        first[i] = t[k][0] - 1;
    }
    bigalloc_table_give(g->spare, t, t_len);
    return first;
}

/* Binds the name whose n records start at record start again, in place of
 * its binding there (a chunk of records the change wrote). */
static void policy_bind_again(const struct jsoncfg *j, struct gslb *g, size_t start, size_t n,
                              const uint8_t *types)
{
    struct policy_binding *pb = policy_bind_w(g, start);
    g->n_bound -= policy_binding_any(pb);
    *pb = (struct policy_binding){0};
    for (size_t i = start; i < start + n; i++)
        policy_bind_record(j, pb, gslb_rec(g, i), types);
    g->n_bound += policy_binding_any(pb);
    policy_bind_cname_alone(j, pb);
}

/* Binds again every name with a record in chunk k of g's records. */
static void policy_bind_chunk(const struct jsoncfg *j, struct gslb *g, size_t k,
                              const uint8_t *types)
{
    size_t lo = k << GSLB_CHUNK_SHIFT, hi = lo + GSLB_CHUNK, i = lo;
    if (hi > g->n_records)
        hi = g->n_records;
    while (gslb_same_key_as_before(g, i))
        i--; /* a name that runs into the chunk from the one before */
    while (i < hi) {
        size_t n = gslb_key_run(g, i);
        policy_bind_again(j, g, i, n, types);
        i += n;
    }
}

/* policy_bind_names for a set built in place from a set bound by key, and
 * bound by key itself: its origin's chunks of bindings shared, the names
 * in the chunks of records it wrote (those of its redone records) bound
 * again. False: not such a set (g unbound). */
static bool policy_bind_inplace(const struct jsoncfg *j, struct gslb *g, const uint8_t *types)
{
    const struct gslb *p = g->from_g;
    if (!gslb_inplace_from(g, p) || !gslb_bound_by_key(g) || !gslb_bound_by_key(p) || !p->bchunks ||
        p->n_bindings != p->n_records)
        return false;
    policy_bchunks_make(g, p->n_bchunks, p);
    g->n_bindings = g->n_records;
    g->n_bound = p->n_bound;
    size_t last = SIZE_MAX;
    for (size_t x = 0; x < g->n_redone; x++) {
        size_t k = g->redone[x] >> GSLB_CHUNK_SHIFT;
        if (k != last)
            policy_bind_chunk(j, g, k, types);
        last = k;
    }
    return true;
}

void policy_bind_names(const struct jsoncfg *j, struct gslb *g)
{
    const uint8_t *types = gslb_pool_types(g); /* shared with the pools (gslb.pool_tabs) */
    if (policy_bind_inplace(j, g, types))
        return;
    size_t n_chunks = (g->n_records + GSLB_CHUNK - 1) >> GSLB_CHUNK_SHIFT;
    policy_bchunks_make(g, n_chunks ? n_chunks : 1, NULL);
    /* No record with a loose key (policy_record.loose_key): no two keys
     * share a name, so a name's first record is its key's first, found in
     * the same pass (a table of 100,000 names was the largest part of
     * binding them at a change, issue #38). */
    bool by_key = g->counted && g->n_loose == 0;
    size_t *first = by_key ? NULL : policy_bind_first(g), start = 0, n_cname = 0;
    g->n_bound = 0;
    for (size_t i = 0; i < g->n_records; i++) {
        const struct policy_record *r = gslb_rec(g, i);
        if (by_key && !gslb_same_key_as_before(g, i))
            start = i;
        /* Bindings are indexed like the first record of each name; every
         * chunk is this set's own, fresh. */
        struct policy_binding *pb = policy_bind_w(g, by_key ? start : first[i]);
        bool had = policy_binding_any(pb);
        policy_bind_record(j, pb, r, types);
        n_cname += r->rtype == DNS_TYPE_CNAME;
        g->n_bound += !had && policy_binding_any(pb);
    }
    free(first);
    for (size_t i = 0; n_cname && i < g->n_records; i++)
        policy_bind_cname_alone(j, gslb_binding(g, i));
    g->n_bindings = g->n_records;
}

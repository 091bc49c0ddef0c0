/*
 * serve_counters.c -- counter ids of policy answers that outlive reloads.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "common/bigalloc.h"
#include "common/log.h"
#include "dns/name.h"
#include "zone/snapshot.h"
#include "serve/serve_counters_int.h"

/* The registry slot of each column of g (slot 0: no serving region), added
 * when new. Caller frees. */
static uint32_t *serve_counters_slots(struct serve_registry *reg, const struct gslb *g,
                                      size_t stride)
{
    uint32_t *slots = malloc(stride * sizeof(*slots));
    if (!slots)
        abort();
    for (size_t col = 0; col < stride; col++)
        slots[col] =
            serve_registry_region(reg, col < g->n_regions ? g->regions[col].name : NULL, true);
    return slots;
}

/* Gives the columns of record rec (registry id rid) that its pool can
 * count and that have none yet their ids: the regions the pool has
 * endpoints in, and "none" (answers with no serving region). The other
 * columns keep what the record's row has (nothing, or the ids of an
 * earlier configuration whose pool had endpoints there): no answer of the
 * record can be counted there. */
static void serve_counters_columns(struct serve_registry *reg, const struct gslb *g, size_t rec,
                                   uint32_t rid, const uint32_t *slots, size_t stride)
{
    const struct policy_record *r = gslb_rec(g, rec);
    const struct policy_pool *pool = r->pool < g->n_pools ? &g->pools[r->pool] : NULL;
    size_t n = pool ? pool->n_eps : 0;
    for (size_t k = 0; k <= n; k++) {
        size_t col = k < n ? pool->eps[k].region : stride - 1; /* k == n: "none" */
        if (col >= stride)
            continue;
        const struct serve_registry_row *row = serve_registry_row(reg, rid);
        if (serve_registry_row_id(row, 2 * slots[col]) != SERVE_NO_ID &&
            serve_registry_row_id(row, 2 * slots[col] + 1) != SERVE_NO_ID)
            continue; /* another endpoint of the region, or an earlier set */
        serve_registry_column(reg, rid, slots[col], false, true);
        serve_registry_column(reg, rid, slots[col], true, true);
    }
}

/* Assigns the ids of record rec (all answers, and canary answers),
 * marking it used by this publication; returns its registry id. */
static uint32_t serve_counters_record(struct serve_registry *reg, const struct gslb *g, size_t rec,
                                      const uint32_t *slots, size_t stride)
{
    const struct policy_record *r = gslb_rec(g, rec);
    uint32_t rid = SERVE_NO_ID;
    for (unsigned occ = 0;; occ++) {
        rid = serve_registry_record(reg, r->name_str, r->rtype, occ, true);
        if (rid == SERVE_NO_ID || reg->last_use[rid] != reg->publication)
            break;
    }
    if (rid == SERVE_NO_ID)
        return rid;
    reg->last_use[rid] = reg->publication;
    serve_counters_columns(reg, g, rec, rid, slots, stride);
    return rid;
}

/* Address space for every chunk (SERVE_POLICY_MAX_IDS counters, 128 MiB),
 * not committed (MAP_NORESERVE) and never in huge pages (a first count
 * would otherwise make 2 MB of memory, not 4 KB). */
static size_t serve_counters_space_len(void)
{
    return (size_t)SERVE_POLICY_MAX_IDS * sizeof(uint64_t);
}

void serve_counters_reserve(struct serve_reader *r)
{
    void *p = mmap(NULL, serve_counters_space_len(), PROT_READ | PROT_WRITE,
                   MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (p == MAP_FAILED) {
        log_warn("event=counters reader=%u note=\"no address space for policy counters: this "
                 "reader's policy answers are not counted\" error=\"%s\"",
                 r->id, strerror(errno));
        return;
    }
    madvise(p, serve_counters_space_len(), MADV_NOHUGEPAGE);
    r->policy_space = p;
}

void serve_counters_unreserve(struct serve_reader *r)
{
    if (r->policy_space)
        munmap((void *)r->policy_space, serve_counters_space_len());
    r->policy_space = NULL;
}

_Atomic uint64_t *serve_counters_chunk(struct serve_reader *r, uint32_t k)
{
    if (!r->counts_policy || !r->policy_space || k >= SERVE_POLICY_CHUNKS)
        return NULL;
    _Atomic uint64_t *chunk = r->policy_space + (size_t)k * SERVE_POLICY_CHUNK;
    /* Only this reader's thread stores its pointers; the sums load them
     * with acquire (serve_sum_id), and read zeros from pages not counted
     * in yet. */
    atomic_store_explicit(&r->counters.policy[k], chunk, memory_order_release);
    return chunk;
}

/* Whether the columns of g and p are the same regions in the same order
 * (their keys name the regions). */
static bool serve_counters_same_regions(const struct gslb *g, const struct gslb *p)
{
    if (!p || p->n_regions != g->n_regions)
        return false;
    for (size_t i = 0; i < g->n_regions; i++)
        if (strcmp(g->regions[i].name, p->regions[i].name) != 0)
            return false;
    return true;
}

static uint32_t serve_counters_name_hash(const struct policy_record *r)
{
    uint32_t h = 2166136261u ^ r->rtype;
    for (size_t i = 0; i < r->name_len; i++)
        h = (h ^ r->name[i]) * 16777619u;
    return h;
}

/* Index (+1) of prev's records by name and type; a name and type given
 * twice there is left out (its occurrence numbers decide its keys).
 * Caller frees; *mask gets the table's mask. NULL when nothing can be
 * copied. */
static uint32_t *serve_counters_index(const struct serve_set *prev, const struct gslb *g,
                                      uint32_t *mask)
{
    const struct gslb *p = prev ? prev->gslb : NULL;
    if (!p || !prev->policy_rows || prev->policy_stride != g->n_regions + 1 ||
        !serve_counters_same_regions(g, p))
        return NULL;
    uint32_t size = 16;
    while (size < 2 * p->n_records + 1)
        size *= 2;
    uint32_t *t = calloc(size, sizeof(*t));
    if (!t)
        abort();
    for (size_t i = 0; i < p->n_records; i++) {
        const struct policy_record *r = gslb_rec(p, i);
        uint32_t k = serve_counters_name_hash(r) & (size - 1);
        for (; t[k]; k = (k + 1) & (size - 1)) {
            const struct policy_record *o = gslb_rec(p, (t[k] & 0x7fffffffu) - 1);
            if (o->rtype == r->rtype && o->name_len == r->name_len &&
                memcmp(o->name, r->name, r->name_len) == 0)
                break;
        }
        t[k] = t[k] ? t[k] | 0x80000000u : (uint32_t)i + 1; /* twice: marked, not copied */
    }
    *mask = size - 1;
    return t;
}

/* Whether prev has one record of r's name and type (its index in *at). */
static bool serve_counters_prev_row(const uint32_t *t, uint32_t mask, const struct serve_set *prev,
                                    const struct policy_record *r, size_t *at)
{
    for (uint32_t k = serve_counters_name_hash(r) & mask; t[k]; k = (k + 1) & mask) {
        const struct policy_record *o = gslb_rec(prev->gslb, (t[k] & 0x7fffffffu) - 1);
        if (o->rtype == r->rtype && o->name_len == r->name_len &&
            memcmp(o->name, r->name, r->name_len) == 0) {
            *at = o->index;
            return !(t[k] & 0x80000000u);
        }
    }
    return false;
}

/* The record of prev with r's name and type found by a walk of prev's
 * records (a few compiled records do not pay for an index of them all):
 * its index, or SIZE_MAX when there is none or two (as in the index). */
static size_t serve_counters_scan(const struct serve_set *prev, const struct policy_record *r)
{
    size_t at = SIZE_MAX;
    const struct gslb *p = prev->gslb;
    for (size_t i = 0; i < p->n_records; i++) {
        const struct policy_record *o = gslb_rec(p, i);
        if (o->rtype == r->rtype && o->name_len == r->name_len &&
            memcmp(o->name, r->name, r->name_len) == 0) {
            if (at != SIZE_MAX)
                return SIZE_MAX;
            at = i;
        }
    }
    return at;
}

/* Takes the row of prev's record at (SIZE_MAX: none) for record rec
 * when it is not taken yet in this publication (*rid: its registry id);
 * false when the record must be looked up by its key
 * (serve_counters_record). */
static bool serve_counters_copy(struct serve_registry *reg, const struct serve_set *prev, size_t at,
                                const struct gslb *g, size_t rec, const uint32_t *slots,
                                uint32_t *rid, bool taken)
{
    /* The first occurrence in this publication has occurrence 0, as in
     * prev (which held the name and type once); the pool is the same, so
     * are the columns it can count. */
    const struct serve_registry_row *row = at == SIZE_MAX ? NULL : prev->policy_rows[at];
    if (!row || reg->last_use[row->rid] == reg->publication)
        return false;
    *rid = row->rid;
    reg->last_use[*rid] = reg->publication;
    /* The record's pool may have endpoints in a region now that it had
     * none in before: those columns get their ids. Not a record taken
     * compiled from prev's: it was taken because its pool has endpoints
     * in the same regions (pc_reuse_pools), so its columns are prev's (a
     * walk of every record's pool, 4 % of a change at 100,000 records). */
    if (!taken)
        serve_counters_columns(reg, g, rec, *rid, slots, prev->policy_stride);
    return true;
}

/* Whether prev's ids can be copied at all: the same columns. */
static bool serve_counters_can_copy(const struct serve_set *prev, const struct gslb *g)
{
    const struct gslb *p = prev ? prev->gslb : NULL;
    return p && prev->policy_rows && prev->policy_stride == g->n_regions + 1 &&
           serve_counters_same_regions(g, p);
}

/* The record of prev with r's name and type through prev's zones and
 * their bindings (serve_bind.h): a lookup where a walk of prev's records
 * (serve_counters_scan) read 100,000 of them for each record a change
 * compiled. SIZE_MAX when its name has no binding there (a name that is
 * new; or one prev had not attached, whose answers counted nothing in
 * prev: its ids start again). Only when every name binds one record per
 * type (gslb_bound_by_key), as the scan would find it. */
static size_t serve_counters_find(const struct serve_set *prev, const struct policy_record *r)
{
    struct dns_name n;
    if (!prev->zones || !prev->bind.nodes || !dns_name_index(r->name, r->name_len, &n))
        return SIZE_MAX;
    const struct zone *z = snapshot_find_zone(prev->zones, &n, DNS_TYPE_A);
    const struct zone_node *node =
        z ? zone_find_node(z, n.wire, n.len, dns_name_hash(n.wire, n.len)) : NULL;
    const struct policy_binding *b = node ? serve_bind_get(&prev->bind, node) : NULL;
    const struct policy_record *c[3] = {b ? b->a : NULL, b ? b->aaaa : NULL, b ? b->cname : NULL};
    for (int k = 0; k < 3; k++)
        if (c[k] && c[k]->rtype == r->rtype)
            return c[k]->index;
    return SIZE_MAX;
}

/* Where record i of g finds its ids in prev: the record it was taken from
 * (policy.h, from: the same name and type, no lookup), else the record of
 * its name and type (index, or a lookup or a walk when index is NULL). */
static size_t serve_counters_prev_of(const uint32_t *index, uint32_t mask,
                                     const struct serve_set *prev, const struct gslb *g, size_t i)
{
    size_t f = g->from_g == prev->gslb ? gslb_from(g, i) : GSLB_COMPILED;
    if (f != GSLB_COMPILED)
        return f;
    if (!index)
        return gslb_bound_by_key(g) && gslb_bound_by_key(prev->gslb)
                   ? serve_counters_find(prev, gslb_rec(g, i))
                   : serve_counters_scan(prev, gslb_rec(g, i));
    size_t at = SIZE_MAX;
    return serve_counters_prev_row(index, mask, prev, gslb_rec(g, i), &at) ? at : SIZE_MAX;
}

/* How many records of g have no origin in prev (all when g has none). */
static size_t serve_counters_compiled(const struct serve_set *prev, const struct gslb *g)
{
    if (!g->from_g || g->from_g != prev->gslb)
        return g->n_records;
    if (!g->from)
        return g->n_redone; /* built in place */
    size_t n = 0;
    for (size_t i = 0; i < g->n_records; i++)
        n += g->from[i] == GSLB_COMPILED;
    return n;
}

/* Records compiled afresh are looked up one by one in prev up to one in
 * this many of the records, beyond that found through an index of prev
 * (serve_counters_assign). */
#define SERVE_COUNTERS_LOOKUPS_SHARE 16

/* Shares prev's rows with s (issue #55) when no record of g moved (g's
 * record i is prev's record i, or compiled in its room:
 * policy_config_touched.c) and each compiled record's row is the one
 * prev had at its index (the same name and type, no column added): then
 * s's array would be prev's to the entry, and a change costs its
 * compiled records, not a pass over every record's row. Both sets bind
 * by key, so a compiled record's name and type are no taken record's:
 * the ids they take are not the taken records' (which are not marked in
 * this publication). False: not shared; the compiled records may have
 * been marked, so the caller starts the publication again. */
static bool serve_counters_share(struct serve_registry *reg, struct serve_set *s,
                                 const struct serve_set *prev, const struct gslb *g,
                                 const uint32_t *slots, size_t stride)
{
    const struct gslb *p = prev->gslb;
    if (g->from_g != p || g->n_records != p->n_records || !prev->policy_rows_refs ||
        !gslb_bound_by_key(g) || !gslb_bound_by_key(p))
        return false;
    /* Built in place: every record but the redone is p's at its index. */
    bool inplace = gslb_inplace_from(g, p);
    for (size_t x = 0; x < (inplace ? g->n_redone : g->n_records); x++) {
        size_t i = inplace ? g->redone[x] : x;
        if (!inplace && g->from[i] == i)
            continue;
        if (!inplace && g->from[i] != GSLB_COMPILED)
            return false;
        size_t at = serve_counters_find(prev, gslb_rec(g, i));
        uint32_t rid;
        if (!serve_counters_copy(reg, prev, at, g, i, slots, &rid, false))
            rid = serve_counters_record(reg, g, i, slots, stride);
        if (serve_registry_row(reg, rid) != prev->policy_rows[i])
            return false;
    }
    s->policy_rows = prev->policy_rows;
    s->policy_rows_len = prev->policy_rows_len;
    s->policy_spare = prev->policy_spare;
    s->policy_rows_refs = prev->policy_rows_refs;
    atomic_fetch_add_explicit(s->policy_rows_refs, 1, memory_order_relaxed);
    return true;
}

void serve_counters_assign(struct serve *sv, struct serve_set *s, const struct serve_set *prev)
{
    const struct gslb *g = s->gslb;
    if (!g || !g->n_records || s->policy_rows)
        return;
    struct serve_registry *reg = &sv->registry;
    reg->publication++;
    size_t stride = s->policy_stride = g->n_regions + 1;
    /* Every entry is written below; the spare's tables are zeroed all the
     * same (bigalloc_table_take), which costs less than faulting in fresh
     * pages. */
    uint32_t *slots = serve_counters_slots(reg, g, stride);
    s->policy_cols = malloc(stride * sizeof(*s->policy_cols));
    if (!s->policy_cols)
        abort();
    for (size_t col = 0; col < stride; col++)
        s->policy_cols[col] = 2 * slots[col]; /* its column key without the canary bit */
    uint32_t mask = 0;
    bool copy = serve_counters_can_copy(prev, g);
    if (copy && serve_counters_share(reg, s, prev, g, slots, stride)) {
        free(slots);
        return;
    }
    if (copy)
        reg->publication++; /* what the attempt marked is not this publication's */
    s->policy_spare = g->spare;
    s->policy_rows =
        bigalloc_table_take(g->spare, g->n_records, sizeof(*s->policy_rows), &s->policy_rows_len);
    s->policy_rows_refs = malloc(sizeof(*s->policy_rows_refs));
    if (!s->policy_rows || !s->policy_rows_refs)
        abort();
    atomic_init(s->policy_rows_refs, 1);
    /* An index of prev by name pays off beyond a few records without an
     * origin when each would be a walk of prev (one change at 100,000
     * records spent 9 ms building it). Where both sets bind names by key,
     * each is a lookup through prev's zones instead (serve_counters_find,
     * a microsecond): the index pays off only once they are a good part
     * of the records. Changes served together as one version (group
     * commit) compile a dozen records or more, and building the index for
     * them was a fifth of the store thread's work at 100,000 records. */
    size_t compiled = copy ? serve_counters_compiled(prev, g) : 0;
    bool lookups = copy && gslb_bound_by_key(g) && gslb_bound_by_key(prev->gslb) &&
                   compiled <= g->n_records / SERVE_COUNTERS_LOOKUPS_SHARE;
    uint32_t *index = compiled > 8 && !lookups ? serve_counters_index(prev, g, &mask) : NULL;
    for (size_t i = 0; i < g->n_records; i++) {
        size_t at = copy ? serve_counters_prev_of(index, mask, prev, g, i) : SIZE_MAX;
        bool taken = copy && g->from_g == prev->gslb && gslb_from(g, i) != GSLB_COMPILED;
        uint32_t rid;
        if (!serve_counters_copy(reg, prev, at, g, i, slots, &rid, taken))
            rid = serve_counters_record(reg, g, i, slots, stride);
        /* The row as it is once the record's columns are assigned: one
         * that grew for them is a new copy. */
        s->policy_rows[i] = serve_registry_row(reg, rid);
    }
    free(index);
    free(slots);
}

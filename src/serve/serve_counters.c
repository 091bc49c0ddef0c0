/*
 * serve_counters.c -- counter ids of policy answers that outlive reloads.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "serve/serve_counters_int.h"

static uint32_t serve_registry_hash(const char *s)
{
    uint32_t h = 2166136261u;
    for (; *s; s++)
        h = (h ^ (uint8_t)*s) * 16777619u;
    return h;
}

static void serve_registry_grow(struct serve_registry *reg)
{
    uint32_t size = reg->table ? (reg->mask + 1) * 2 : 64;
    uint32_t *t = calloc(size, sizeof(*t));
    if (!t)
        abort();
    for (uint32_t id = 0; id < reg->n; id++) {
        uint32_t i = serve_registry_hash(reg->keys[id]) & (size - 1);
        while (t[i])
            i = (i + 1) & (size - 1);
        t[i] = id + 1;
    }
    free(reg->table);
    reg->table = t;
    reg->mask = size - 1;
}

uint32_t serve_registry_find(const struct serve_registry *reg, const char *key)
{
    if (!reg->table)
        return SERVE_NO_ID;
    for (uint32_t i = serve_registry_hash(key) & reg->mask; reg->table[i]; i = (i + 1) & reg->mask)
        if (strcmp(reg->keys[reg->table[i] - 1], key) == 0)
            return reg->table[i] - 1;
    return SERVE_NO_ID;
}

/* The id of key, added when new; SERVE_NO_ID when the registry is full. */
static uint32_t serve_registry_id(struct serve_registry *reg, const char *key)
{
    if (!reg->table || (reg->n + 1) * 2 > reg->mask + 1)
        serve_registry_grow(reg);
    uint32_t i = serve_registry_hash(key) & reg->mask;
    for (; reg->table[i]; i = (i + 1) & reg->mask)
        if (strcmp(reg->keys[reg->table[i] - 1], key) == 0)
            return reg->table[i] - 1;
    if (reg->n >= SERVE_POLICY_MAX_IDS) {
        if (!reg->full_logged)
            log_warn("event=counters note=\"too many distinct policy records over this run; "
                     "new ones are not counted until restart\"");
        reg->full_logged = true;
        return SERVE_NO_ID;
    }
    if (reg->n == reg->cap) {
        reg->cap = reg->cap ? reg->cap * 2 : 64;
        reg->keys = realloc(reg->keys, reg->cap * sizeof(*reg->keys));
        reg->last_use = realloc(reg->last_use, reg->cap * sizeof(*reg->last_use));
        if (!reg->keys || !reg->last_use)
            abort();
    }
    reg->keys[reg->n] = strdup(key);
    if (!reg->keys[reg->n])
        abort();
    reg->last_use[reg->n] = 0;
    reg->table[i] = reg->n + 1;
    return reg->n++;
}

void serve_counters_key_of(char *buf, size_t len, const char *record, uint16_t rtype, unsigned occ,
                           const char *region, bool canary)
{
    if (region)
        snprintf(buf, len, "%s\x1f%u\x1f%u\x1fr%s%s", record, rtype, occ, region,
                 canary ? "\x1f"
                          "c"
                        : "");
    else
        snprintf(buf, len, "%s\x1f%u\x1f%u\x1fn%s", record, rtype, occ,
                 canary ? "\x1f"
                          "c"
                        : "");
}

/* The key of one column: record name, type, occurrence of that name and
 * type in the set (0 unless a configuration repeats them), the region (by
 * name; "none" has a key no region name can collide with), and whether it
 * counts canary clients only. */
static void serve_counters_key(char *buf, size_t len, const struct gslb *g, size_t rec,
                               unsigned occ, size_t col, bool canary)
{
    const struct policy_record *r = &g->records[rec];
    serve_counters_key_of(buf, len, r->name_str, r->rtype, occ,
                          col < g->n_regions ? g->regions[col].name : NULL, canary);
}

/* Assigns the ids of record rec (all answers, and canary answers),
 * marking them used by this publication. */
static void serve_counters_record(struct serve_registry *reg, const struct gslb *g, size_t rec,
                                  uint32_t *ids, uint32_t *canary_ids, size_t stride)
{
    char key[4096];
    unsigned occ = 0;
    for (;; occ++) {
        serve_counters_key(key, sizeof(key), g, rec, occ, 0, false);
        uint32_t id = serve_registry_id(reg, key);
        if (id == SERVE_NO_ID || reg->last_use[id] != reg->publication)
            break;
    }
    for (size_t col = 0; col < 2 * stride; col++) {
        bool canary = col >= stride;
        serve_counters_key(key, sizeof(key), g, rec, occ, col % stride, canary);
        uint32_t id = serve_registry_id(reg, key);
        (canary ? canary_ids : ids)[col % stride] = id;
        if (id != SERVE_NO_ID)
            reg->last_use[id] = reg->publication;
    }
}

void serve_counters_alloc_chunks(struct serve_counters *c, uint32_t from, uint32_t to)
{
    for (uint32_t k = from; k < to; k++) {
        _Atomic uint64_t *chunk = calloc(SERVE_POLICY_CHUNK, sizeof(*chunk));
        if (!chunk)
            abort();
        atomic_store_explicit(&c->policy[k], chunk, memory_order_release);
    }
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
    if (!p || !prev->policy_ids || prev->policy_stride != g->n_regions + 1 ||
        !serve_counters_same_regions(g, p))
        return NULL;
    uint32_t size = 16;
    while (size < 2 * p->n_records + 1)
        size *= 2;
    uint32_t *t = calloc(size, sizeof(*t));
    if (!t)
        abort();
    for (size_t i = 0; i < p->n_records; i++) {
        const struct policy_record *r = &p->records[i];
        uint32_t k = serve_counters_name_hash(r) & (size - 1);
        for (; t[k]; k = (k + 1) & (size - 1)) {
            const struct policy_record *o = &p->records[(t[k] & 0x7fffffffu) - 1];
            if (o->rtype == r->rtype && o->name_len == r->name_len &&
                memcmp(o->name, r->name, r->name_len) == 0)
                break;
        }
        t[k] = t[k] ? t[k] | 0x80000000u : (uint32_t)i + 1; /* twice: marked, not copied */
    }
    *mask = size - 1;
    return t;
}

/* The row of prev's record of r's name and type, or NULL. */
static const uint32_t *serve_counters_prev_row(const uint32_t *t, uint32_t mask,
                                               const struct serve_set *prev,
                                               const struct policy_record *r, size_t *at)
{
    for (uint32_t k = serve_counters_name_hash(r) & mask; t[k]; k = (k + 1) & mask) {
        const struct policy_record *o = &prev->gslb->records[(t[k] & 0x7fffffffu) - 1];
        if (o->rtype == r->rtype && o->name_len == r->name_len &&
            memcmp(o->name, r->name, r->name_len) == 0) {
            *at = (size_t)(o - prev->gslb->records);
            return t[k] & 0x80000000u ? NULL : &prev->policy_ids[*at * prev->policy_stride];
        }
    }
    return NULL;
}

/* Copies prev's ids of record rec when its keys are the same; false when
 * they must be made (serve_counters_record). */
static bool serve_counters_copy(struct serve_registry *reg, const uint32_t *t, uint32_t mask,
                                const struct serve_set *prev, const struct gslb *g, size_t rec,
                                uint32_t *ids, uint32_t *canary_ids, size_t stride)
{
    size_t at;
    const uint32_t *row = t ? serve_counters_prev_row(t, mask, prev, &g->records[rec], &at) : NULL;
    /* The first occurrence in this publication has occurrence 0, as in
     * prev (which held the name and type once). */
    if (!row || row[0] == SERVE_NO_ID || reg->last_use[row[0]] == reg->publication)
        return false;
    const uint32_t *crow = &prev->policy_canary_ids[at * stride];
    for (size_t col = 0; col < stride; col++) {
        ids[col] = row[col];
        canary_ids[col] = crow[col];
        if (row[col] != SERVE_NO_ID)
            reg->last_use[row[col]] = reg->publication;
        if (crow[col] != SERVE_NO_ID)
            reg->last_use[crow[col]] = reg->publication;
    }
    return true;
}

void serve_counters_assign(struct serve *sv, struct serve_set *s, const struct serve_set *prev)
{
    const struct gslb *g = s->gslb;
    if (!g || !g->n_records || s->policy_ids)
        return;
    struct serve_registry *reg = &sv->registry;
    reg->publication++;
    s->policy_stride = g->n_regions + 1;
    s->policy_ids = calloc(g->n_records * s->policy_stride, sizeof(*s->policy_ids));
    s->policy_canary_ids = calloc(g->n_records * s->policy_stride, sizeof(*s->policy_ids));
    if (!s->policy_ids || !s->policy_canary_ids)
        abort();
    uint32_t mask = 0;
    uint32_t *index = serve_counters_index(prev, g, &mask);
    for (size_t i = 0; i < g->n_records; i++) {
        uint32_t *ids = &s->policy_ids[i * s->policy_stride];
        uint32_t *cids = &s->policy_canary_ids[i * s->policy_stride];
        if (!serve_counters_copy(reg, index, mask, prev, g, i, ids, cids, s->policy_stride))
            serve_counters_record(reg, g, i, ids, cids, s->policy_stride);
    }
    free(index);
    uint32_t need = (reg->n + SERVE_POLICY_CHUNK - 1) / SERVE_POLICY_CHUNK;
    if (need > sv->n_chunks) {
        unsigned n = atomic_load(&sv->n_readers);
        for (unsigned i = 0; i < n; i++)
            serve_counters_alloc_chunks(&sv->readers[i]->counters, sv->n_chunks, need);
        sv->n_chunks = need;
    }
}

void serve_registry_free(struct serve_registry *reg)
{
    for (uint32_t i = 0; i < reg->n; i++)
        free(reg->keys[i]);
    free(reg->keys);
    free(reg->last_use);
    free(reg->table);
    memset(reg, 0, sizeof(*reg));
}

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

void serve_counters_assign(struct serve *sv, struct serve_set *s)
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
    for (size_t i = 0; i < g->n_records; i++)
        serve_counters_record(reg, g, i, &s->policy_ids[i * s->policy_stride],
                              &s->policy_canary_ids[i * s->policy_stride], s->policy_stride);
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

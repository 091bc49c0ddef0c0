/*
 * serve_registry.c -- interned counter ids of policy answers.
 */
#include "serve/serve_registry.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"

void serve_registry_init(struct serve_registry *reg, uint32_t max_ids)
{
    memset(reg, 0, sizeof(*reg));
    arena_init(&reg->mem);
    reg->max_ids = max_ids;
}

static uint32_t serve_registry_hash(const char *s)
{
    uint32_t h = 2166136261u;
    for (; *s; s++)
        h = (h ^ (uint8_t)*s) * 16777619u;
    return h;
}

static void *serve_registry_realloc(void *p, size_t n, size_t size)
{
    void *q = realloc(p, n * size);
    if (!q)
        abort();
    return q;
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

/* The interned key's id, or the free slot of the table to put it in
 * (*at) and SERVE_NO_ID. */
static uint32_t serve_registry_probe(const struct serve_registry *reg, const char *key,
                                     uint32_t *at)
{
    uint32_t i = serve_registry_hash(key) & reg->mask;
    for (; reg->table[i]; i = (i + 1) & reg->mask)
        if (strcmp(reg->keys[reg->table[i] - 1], key) == 0)
            return reg->table[i] - 1;
    *at = i;
    return SERVE_NO_ID;
}

uint32_t serve_registry_record(struct serve_registry *reg, const char *name, uint16_t rtype,
                               unsigned occ, bool add)
{
    char key[4096];
    snprintf(key, sizeof(key), "%s\x1f%u\x1f%u", name, rtype, occ);
    if (!reg->table) {
        if (!add)
            return SERVE_NO_ID;
        serve_registry_grow(reg);
    }
    uint32_t at = 0, id = serve_registry_probe(reg, key, &at);
    if (id != SERVE_NO_ID || !add)
        return id;
    if ((reg->n + 1) * 2 > reg->mask + 1) {
        serve_registry_grow(reg);
        serve_registry_probe(reg, key, &at);
    }
    if (reg->n == reg->cap) {
        reg->cap = reg->cap ? reg->cap * 2 : 64;
        reg->keys = serve_registry_realloc(reg->keys, reg->cap, sizeof(*reg->keys));
        reg->rows = serve_registry_realloc(reg->rows, reg->cap, sizeof(*reg->rows));
        reg->last_use = serve_registry_realloc(reg->last_use, reg->cap, sizeof(*reg->last_use));
    }
    reg->keys[reg->n] = arena_memdup_bytes(&reg->mem, key, strlen(key) + 1);
    reg->rows[reg->n] = NULL;
    reg->last_use[reg->n] = 0;
    reg->table[at] = reg->n + 1;
    return reg->n++;
}

uint32_t serve_registry_region(struct serve_registry *reg, const char *region, bool add)
{
    if (!reg->n_regions) { /* slot 0: none */
        reg->cap_regions = 8;
        reg->regions = serve_registry_realloc(NULL, reg->cap_regions, sizeof(*reg->regions));
        reg->regions[0] = NULL;
        reg->n_regions = 1;
    }
    if (!region)
        return 0;
    /* A linear scan: a run sees a few dozen region names, and a
     * publication looks each up once. */
    for (uint32_t s = 1; s < reg->n_regions; s++)
        if (strcmp(reg->regions[s], region) == 0)
            return s;
    if (!add)
        return SERVE_NO_ID;
    if (reg->n_regions == reg->cap_regions) {
        reg->cap_regions *= 2;
        reg->regions =
            serve_registry_realloc(reg->regions, reg->cap_regions, sizeof(*reg->regions));
    }
    reg->regions[reg->n_regions] = strdup(region);
    if (!reg->regions[reg->n_regions])
        abort();
    return reg->n_regions++;
}

/* Makes rid's row hold column key k (a row is sized for the regions known
 * when it is made, and grows only when a later configuration adds one). */
static struct serve_registry_row *serve_registry_row_for(struct serve_registry *reg, uint32_t rid,
                                                         uint32_t k)
{
    struct serve_registry_row *row = reg->rows[rid];
    if (row && k < row->n)
        return row;
    uint32_t n = 2 * (reg->n_regions > 0 ? reg->n_regions : 1);
    if (n <= k)
        n = k + 1;
    uint32_t old = row ? row->n : 0;
    struct serve_registry_row *was = row;
    row = arena_alloc(&reg->mem, sizeof(*row) + n * sizeof(row->ids[0]));
    if (was) /* rare: a region added since the row was made */
        memcpy(row->ids, was->ids, old * sizeof(row->ids[0]));
    for (uint32_t i = old; i < n; i++)
        row->ids[i] = SERVE_NO_ID;
    row->n = n;
    reg->rows[rid] = row;
    return row;
}

uint32_t serve_registry_column(struct serve_registry *reg, uint32_t rid, uint32_t slot, bool canary,
                               bool add)
{
    if (rid >= reg->n || slot == SERVE_NO_ID)
        return SERVE_NO_ID;
    uint32_t k = 2 * slot + (canary ? 1 : 0);
    struct serve_registry_row *row = reg->rows[rid];
    if (row && k < row->n && row->ids[k] != SERVE_NO_ID)
        return row->ids[k];
    if (!add)
        return SERVE_NO_ID;
    if (reg->n_ids >= reg->max_ids) {
        if (!reg->full_logged)
            log_warn("event=counters note=\"too many distinct policy record columns over this "
                     "run; new ones are not counted until restart\"");
        reg->full_logged = true;
        return SERVE_NO_ID;
    }
    row = serve_registry_row_for(reg, rid, k);
    row->ids[k] = reg->n_ids++;
    return row->ids[k];
}

void serve_registry_free(struct serve_registry *reg)
{
    arena_free(&reg->mem);
    for (uint32_t s = 1; s < reg->n_regions; s++)
        free(reg->regions[s]);
    free(reg->regions);
    free(reg->keys);
    free(reg->rows);
    free(reg->last_use);
    free(reg->table);
    memset(reg, 0, sizeof(*reg));
}

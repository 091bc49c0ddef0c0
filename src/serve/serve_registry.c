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
        uint32_t i = serve_registry_hash(serve_registry_row_key(reg->rows[id])) & (size - 1);
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
        if (strcmp(serve_registry_row_key(reg->rows[reg->table[i] - 1]), key) == 0)
            return reg->table[i] - 1;
    *at = i;
    return SERVE_NO_ID;
}

/* A row of n columns for record rid holding key, the first old ids
 * those of was (NULL: none), the rest SERVE_NO_ID; from the arena. */
static struct serve_registry_row *serve_registry_row_new(struct serve_registry *reg, uint32_t rid,
                                                         const struct serve_registry_row *was,
                                                         uint32_t n, const char *key)
{
    if (!n)
        n = 2 * (reg->n_regions > 0 ? reg->n_regions : 1);
    size_t kl = strlen(key) + 1;
    struct serve_registry_row *row =
        arena_alloc(&reg->mem, sizeof(*row) + n * sizeof(row->ids[0]) + kl);
    row->n = n;
    row->rid = rid;
    uint32_t old = was ? was->n : 0;
    for (uint32_t i = 0; i < n; i++)
        atomic_init(&row->ids[i], i < old ? serve_registry_row_id(was, i) : SERVE_NO_ID);
    memcpy((char *)&row->ids[n], key, kl);
    return row;
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
        reg->rows = serve_registry_realloc(reg->rows, reg->cap, sizeof(*reg->rows));
        reg->last_use = serve_registry_realloc(reg->last_use, reg->cap, sizeof(*reg->last_use));
    }
    reg->rows[reg->n] = serve_registry_row_new(reg, reg->n, NULL, 0, key);
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
 * when it is made, and grows only when a later configuration adds one:
 * then a new copy, the old one left to the sets that point at it). */
static struct serve_registry_row *serve_registry_row_for(struct serve_registry *reg, uint32_t rid,
                                                         uint32_t k)
{
    struct serve_registry_row *row = reg->rows[rid];
    if (k < row->n)
        return row;
    uint32_t n = 2 * (reg->n_regions > 0 ? reg->n_regions : 1);
    if (n <= k)
        n = k + 1;
    row = serve_registry_row_new(reg, rid, row, n, serve_registry_row_key(row));
    reg->rows[rid] = row;
    return row;
}

uint32_t serve_registry_column(struct serve_registry *reg, uint32_t rid, uint32_t slot, bool canary,
                               bool add)
{
    if (rid >= reg->n || slot == SERVE_NO_ID)
        return SERVE_NO_ID;
    uint32_t k = 2 * slot + (canary ? 1 : 0);
    uint32_t id = serve_registry_row_id(reg->rows[rid], k);
    if (id != SERVE_NO_ID || !add)
        return id;
    if (reg->n_ids >= reg->max_ids) {
        if (!reg->full_logged)
            log_warn("event=counters note=\"too many distinct policy record columns over this "
                     "run; new ones are not counted until restart\"");
        reg->full_logged = true;
        return SERVE_NO_ID;
    }
    struct serve_registry_row *row = serve_registry_row_for(reg, rid, k);
    atomic_store_explicit(&row->ids[k], reg->n_ids, memory_order_relaxed);
    return reg->n_ids++;
}

const struct serve_registry_row *serve_registry_row(const struct serve_registry *reg, uint32_t rid)
{
    return rid < reg->n ? reg->rows[rid] : NULL;
}

void serve_registry_free(struct serve_registry *reg)
{
    arena_free(&reg->mem);
    for (uint32_t s = 1; s < reg->n_regions; s++)
        free(reg->regions[s]);
    free(reg->regions);
    free(reg->rows);
    free(reg->last_use);
    free(reg->table);
    memset(reg, 0, sizeof(*reg));
}

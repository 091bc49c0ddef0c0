/*
 * serve_registry.c -- interned counter ids of policy answers.
 */
#include "serve/serve_registry.h"

#include <stdlib.h>
#include <string.h>

#include "common/hash.h"
#include "common/log.h"

void serve_registry_init(struct serve_registry *reg, uint32_t max_ids)
{
    memset(reg, 0, sizeof(*reg));
    arena_init(&reg->mem);
    reg->max_ids = max_ids;
}

static uint64_t serve_registry_rotl(uint64_t x, int r)
{
    return (x << r) | (x >> (64 - r));
}

/* MurmurHash3_x64_128 (Austin Appleby, public domain) of len bytes at p
 * into out: a 128-bit digest whose collisions between distinct keys are
 * as rare as for a random function (about n^2 / 2^129: 1.5e-27 at a
 * million records), which is what lets a row keep it instead of its key. */
static void serve_registry_murmur(const uint8_t *p, size_t len, uint64_t out[2])
{
    const uint64_t c1 = 0x87c37b91114253d5ull, c2 = 0x4cf5ad432745937full;
    uint64_t h1 = 0x9e3779b97f4a7c15ull, h2 = 0x9e3779b97f4a7c15ull;
    size_t nblocks = len / 16;
    for (size_t i = 0; i < nblocks; i++) {
        uint64_t k1, k2;
        memcpy(&k1, p + 16 * i, 8);
        memcpy(&k2, p + 16 * i + 8, 8);
        h1 ^= serve_registry_rotl(k1 * c1, 31) * c2;
        h1 = (serve_registry_rotl(h1, 27) + h2) * 5 + 0x52dce729;
        h2 ^= serve_registry_rotl(k2 * c2, 33) * c1;
        h2 = (serve_registry_rotl(h2, 31) + h1) * 5 + 0x38495ab5;
    }
    /* The tail (0-15 bytes), zero-padded; len is mixed in below, so keys
     * that differ only by trailing zero bytes still differ. */
    uint8_t tail[16] = {0};
    memcpy(tail, p + 16 * nblocks, len & 15);
    uint64_t k1, k2;
    memcpy(&k1, tail, 8);
    memcpy(&k2, tail + 8, 8);
    h2 ^= serve_registry_rotl(k2 * c2, 33) * c1;
    h1 ^= serve_registry_rotl(k1 * c1, 31) * c2;
    h1 ^= len;
    h2 ^= len;
    h1 += h2;
    h2 += h1;
    h1 = hash_fmix64(h1);
    h2 = hash_fmix64(h2);
    h1 += h2;
    h2 += h1;
    out[0] = h1;
    out[1] = h2;
}

void serve_registry_key(const char *name, uint16_t rtype, unsigned occ, uint64_t out[2])
{
    /* name, its NUL, then rtype and occ: one byte string per key and one
     * key per byte string (the NUL ends the name). A longer name than a
     * DNS name can be in text is cut: such a record never loads. */
    uint8_t buf[4096];
    size_t nl = strnlen(name, sizeof(buf) - 8);
    memcpy(buf, name, nl);
    buf[nl] = 0;
    uint32_t o = (uint32_t)occ;
    memcpy(buf + nl + 1, &rtype, sizeof(rtype));
    memcpy(buf + nl + 1 + sizeof(rtype), &o, sizeof(o));
    serve_registry_murmur(buf, nl + 1 + sizeof(rtype) + sizeof(o), out);
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
        uint32_t i = (uint32_t)reg->rows[id]->key[0] & (size - 1);
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
static uint32_t serve_registry_probe(const struct serve_registry *reg, const uint64_t key[2],
                                     uint32_t *at)
{
    uint32_t i = (uint32_t)key[0] & reg->mask;
    for (; reg->table[i]; i = (i + 1) & reg->mask) {
        const struct serve_registry_row *row = reg->rows[reg->table[i] - 1];
        if (row->key[0] == key[0] && row->key[1] == key[1])
            return reg->table[i] - 1;
    }
    *at = i;
    return SERVE_NO_ID;
}

/* A row of n columns for record rid with key, the first old ids those
 * of was (NULL: none), the rest SERVE_NO_ID; from the arena. */
static struct serve_registry_row *serve_registry_row_new(struct serve_registry *reg, uint32_t rid,
                                                         const struct serve_registry_row *was,
                                                         uint32_t n, const uint64_t key[2])
{
    if (!n)
        n = 2 * (reg->n_regions > 0 ? reg->n_regions : 1);
    struct serve_registry_row *row = arena_alloc(&reg->mem, sizeof(*row) + n * sizeof(row->ids[0]));
    row->n = n;
    row->rid = rid;
    row->key[0] = key[0];
    row->key[1] = key[1];
    uint32_t old = was ? was->n : 0;
    for (uint32_t i = 0; i < n; i++)
        atomic_init(&row->ids[i], i < old ? serve_registry_row_id(was, i) : SERVE_NO_ID);
    return row;
}

uint32_t serve_registry_record(struct serve_registry *reg, const char *name, uint16_t rtype,
                               unsigned occ, bool add)
{
    uint64_t key[2];
    serve_registry_key(name, rtype, occ, key);
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
    row = serve_registry_row_new(reg, rid, row, n, row->key);
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

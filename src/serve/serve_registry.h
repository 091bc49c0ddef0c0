/*
 * serve_registry.h -- the counter ids of policy answers, interned so that
 * they outlive reloads at a few bytes per column.
 *
 * An id names one column: (record, serving region or none, canary). The
 * record is interned once by its key, the 128-bit digest of (name, type,
 * occurrence) (occurrence: 0 unless a configuration repeats the name and
 * type: serve_registry_key), each
 * region name once as a slot (slot 0 is "no serving region"), and a
 * record's columns are a small row of ids indexed by 2 * slot + canary.
 * Before issue #38 every column had a formatted string key of its own
 * (twelve per record with five regions): 1.2 million strings and as many
 * hash entries for 100,000 records, the largest part of gtmd's memory.
 *
 * Nothing is removed before exit: ids, records and region slots are never
 * reused, so a counter goes on across every reload that keeps its record
 * and region. The registry grows by the distinct records and regions the
 * configurations of a run have had, and ids stop at max_ids (then
 * SERVE_NO_ID: not counted).
 *
 * Not thread-safe: the serve core guards it with its registry lock; only
 * a row's ids are read without it (serve_registry_row_id), by the DNS
 * workers through the rows a published set points at.
 * A row keeps its record's digest, not its name: the name as text was 25
 * of a row's 56 octets, 16 MB at 1,000,000 records (issue #55). Two
 * records share ids only if their digests collide (a random function's
 * odds: 1.5e-27 at a million records); their counts would then merge,
 * nothing worse.
 * Ownership: the registry owns its rows (each with its record's key) and
 * tables; serve_registry_free releases them, after every set pointing at a
 * row. Rows come from one arena (nothing is removed before exit): a malloc
 * each was 100,000 keys and 100,000 rows of malloc's headers and rounding
 * at 100,000 records (issue #38).
 */
#ifndef GTM_SERVE_SERVE_REGISTRY_H
#define GTM_SERVE_SERVE_REGISTRY_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "common/arena.h"

#ifndef SERVE_NO_ID
#define SERVE_NO_ID UINT32_MAX /* not counted */
#endif

/* A record's ids by column key 2 * slot + canary; SERVE_NO_ID where not
 * assigned yet. n: the columns the row has room for; rid: the record's id;
 * key: its record's digest (serve_registry_key). A row lives as
 * long as the registry (arena): a set holds pointers to its records' rows
 * and the DNS workers read their ids there (serve_registry_row_id), with no
 * lock, so an id is stored atomically (relaxed: it goes from SERVE_NO_ID
 * to its value once, under the registry lock). A row that grows for a
 * region added later is a new copy with the same ids; the old copy stays
 * valid for the sets that point at it. */
struct serve_registry_row {
    uint32_t n;
    uint32_t rid;
    uint64_t key[2];
    _Atomic uint32_t ids[];
};

/* The id of column key k of row (SERVE_NO_ID: none), any thread. */
static inline uint32_t serve_registry_row_id(const struct serve_registry_row *row, uint32_t k)
{
    return row && k < row->n ? atomic_load_explicit(&row->ids[k], memory_order_relaxed)
                             : SERVE_NO_ID;
}

struct serve_registry {
    /* Records by record id: row of ids (with its key), publication last
     * using it. Before issue #38's last round a key pointer per record
     * beside the row (8 octets, 1 MB of the array at 100,000 records). */
    struct serve_registry_row **rows;
    uint32_t *last_use;
    uint32_t n, cap;
    uint32_t *table; /* open addressing of records: id + 1, 0 = empty */
    uint32_t mask;
    /* Region names by slot (slot 0, "none", has NULL). */
    char **regions;
    uint32_t n_regions, cap_regions;
    uint32_t n_ids;   /* ids handed out */
    uint32_t max_ids; /* 0 until serve_registry_init */
    uint32_t publication;
    bool full_logged;
    struct arena mem; /* rows; a row that grows leaves its old copy */
};

/* The key of record (name, rtype, occurrence) into out: a 128-bit
 * digest (MurmurHash3_x64_128) of name, its NUL, rtype and occ. */
void serve_registry_key(const char *name, uint16_t rtype, unsigned occ, uint64_t out[2]);

/* An empty registry handing out at most max_ids ids. */
void serve_registry_init(struct serve_registry *reg, uint32_t max_ids);

/* The record id of (name, rtype, occurrence); added when add and new.
 * SERVE_NO_ID when not there and not added. */
uint32_t serve_registry_record(struct serve_registry *reg, const char *name, uint16_t rtype,
                               unsigned occ, bool add);

/* The slot of region (NULL: no serving region, slot 0); added when add
 * and new. SERVE_NO_ID when not there and not added. */
uint32_t serve_registry_region(struct serve_registry *reg, const char *region, bool add);

/* The id of column (slot, canary) of record rid; a new id when add and
 * the column has none (SERVE_NO_ID when the registry is full or, without
 * add, when the column has none). */
uint32_t serve_registry_column(struct serve_registry *reg, uint32_t rid, uint32_t slot, bool canary,
                               bool add);

/* The current row of record rid (the newest copy), or NULL when rid is not
 * a record of reg. Under the registry's lock; the row itself may be read
 * by any thread afterwards (serve_registry_row_id). */
const struct serve_registry_row *serve_registry_row(const struct serve_registry *reg, uint32_t rid);

void serve_registry_free(struct serve_registry *reg);

#endif

/*
 * geo_overlay.c -- the product of a location trie and an ASN trie (see
 * geo_overlay.h for why).
 */
#include "geo/geo_overlay.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "geo/geo_db_int.h"

/* (ref in a, ref in b) -> ref in out, open addressing; key + 1, 0 = empty. */
struct overlay_memo {
    uint64_t *keys;
    geo_ref *vals;
    size_t cap, n;
};

struct overlay_ctx {
    const struct geo_db *a; /* locations */
    const struct geo_db *b; /* autonomous systems */
    struct geo_db *out;
    struct geo_intern intern;
    struct overlay_memo memo;
};

static uint64_t overlay_hash(uint64_t x)
{
    x ^= x >> 31;
    x *= 0x9e3779b97f4a7c15ull;
    return x ^ (x >> 29);
}

static void overlay_memo_grow(struct overlay_memo *m)
{
    struct overlay_memo o = *m;
    m->cap = o.cap ? o.cap * 2 : 4096;
    m->keys = geo_xcalloc(m->cap, sizeof(*m->keys));
    m->vals = geo_xcalloc(m->cap, sizeof(*m->vals));
    for (size_t i = 0; i < o.cap; i++) {
        if (!o.keys[i])
            continue;
        size_t j = overlay_hash(o.keys[i]) & (m->cap - 1);
        while (m->keys[j])
            j = (j + 1) & (m->cap - 1);
        m->keys[j] = o.keys[i];
        m->vals[j] = o.vals[i];
    }
    free(o.keys);
    free(o.vals);
}

/* The slot of key: holding it, or the empty one to fill. */
static size_t overlay_memo_slot(struct overlay_memo *m, uint64_t key)
{
    if ((m->n + 1) * 2 > m->cap)
        overlay_memo_grow(m);
    size_t j = overlay_hash(key + 1) & (m->cap - 1);
    while (m->keys[j] && m->keys[j] != key + 1)
        j = (j + 1) & (m->cap - 1);
    return j;
}

/* The location of a's leaf la with the ASN of b's leaf lb. */
static geo_ref overlay_leaf(struct overlay_ctx *c, uint32_t la, uint32_t lb)
{
    struct geo_location l = c->a->locs[la];
    const struct geo_location *m = &c->b->locs[lb];
    if (m->flags & GEO_HAS_ASN) {
        l.asn = m->asn;
        l.flags |= GEO_HAS_ASN;
    }
    return geo_ref_leaf(l.flags ? geo_intern_add(c->out, &c->intern, &l) : GEO_LOC_UNKNOWN);
}

static geo_ref overlay_child(const struct geo_db *db, geo_ref r, unsigned bit)
{
    return geo_ref_is_leaf(r) ? r : db->trie.nodes[r].child[bit];
}

/* Both tries are at most 128 bits deep, so is the recursion. */
static geo_ref overlay_rec(struct overlay_ctx *c, geo_ref x, geo_ref y)
{
    if (geo_ref_is_leaf(x) && geo_ref_is_leaf(y))
        return overlay_leaf(c, geo_ref_value(x), geo_ref_value(y));
    uint64_t key = (uint64_t)x << 32 | y;
    size_t j = overlay_memo_slot(&c->memo, key);
    if (c->memo.keys[j])
        return c->memo.vals[j];
    geo_ref l = overlay_rec(c, overlay_child(c->a, x, 0), overlay_child(c->b, y, 0));
    geo_ref r = overlay_rec(c, overlay_child(c->a, x, 1), overlay_child(c->b, y, 1));
    geo_ref out = geo_trie_node(&c->out->trie, l, r);
    /* The recursion may have grown the table: find the slot again. */
    j = overlay_memo_slot(&c->memo, key);
    c->memo.keys[j] = key + 1;
    c->memo.vals[j] = out;
    c->memo.n++;
    return out;
}

static char *overlay_strdup(const char *s)
{
    char *d = strdup(s ? s : "");
    if (!d)
        abort();
    return d;
}

/* out's metadata: a's, with b named as its ASN source. */
static void overlay_meta(struct geo_db *out, const struct geo_db *a, const struct geo_db *b)
{
    out->ip_version = a->ip_version > b->ip_version ? a->ip_version : b->ip_version;
    out->path = overlay_strdup(a->path);
    out->type = overlay_strdup(a->type);
    out->build_epoch = a->build_epoch;
    out->stats = a->stats;
    out->stats.mmdb_nodes += b->stats.mmdb_nodes;
    out->stats.records += b->stats.records;
    out->stats.with_field[4] += b->stats.with_field[4];
    out->stats.load_seconds += b->stats.load_seconds;
    out->asn_path = overlay_strdup(b->path);
    out->asn_type = overlay_strdup(b->type);
    out->asn_networks = b->stats.networks;
}

struct geo_db *geo_db_overlay(struct geo_db *loc, struct geo_db *asn, char *err, size_t errlen)
{
    if (asn->stats.with_field[4] == 0) {
        snprintf(err, errlen,
                 "no record has autonomous_system_number (is it an ASN database, "
                 "GeoLite2-ASN's layout?)");
        geo_db_free(loc);
        geo_db_free(asn);
        return NULL;
    }
    if (!loc) {
        asn->asn_path = overlay_strdup(asn->path);
        asn->asn_type = overlay_strdup(asn->type);
        asn->asn_networks = asn->stats.networks;
        return asn;
    }
    struct geo_db *out = geo_xcalloc(1, sizeof(*out));
    geo_trie_init(&out->trie, GEO_LOC_UNKNOWN);
    overlay_meta(out, loc, asn);
    struct overlay_ctx c = {.a = loc, .b = asn, .out = out};
    struct geo_location none;
    memset(&none, 0, sizeof(none));
    geo_intern_add(out, &c.intern, &none); /* GEO_LOC_UNKNOWN */
    out->trie.root6 = overlay_rec(&c, loc->trie.root6, asn->trie.root6);
    out->trie.root4 = overlay_rec(&c, loc->trie.root4, asn->trie.root4);
    free(c.memo.keys);
    free(c.memo.vals);
    free(c.intern.slots);
    geo_trie_shrink(&out->trie);
    out->locs = realloc(out->locs, (size_t)out->n_locs * sizeof(*out->locs));
    if (!out->locs)
        abort();
    geo_db_finish(out);
    geo_db_free(loc);
    geo_db_free(asn);
    return out;
}

/*
 * geo_merge.c -- building the merged class trie from a database trie and
 * network keys (see geo_merge.h).
 */
#include "geo/geo_merge.h"

#include <stdlib.h>
#include <string.h>

struct merge_ctx {
    const struct geo_trie *src; /* the database trie */
    const uint32_t *loc_class;
    const struct geo_netkey *keys; /* of one family, sorted */
    struct geo_trie *dst;
    geo_ref *memo; /* per database node: its relabelled ref, GEO_REF_NONE until done */
};

/* The database subtree r with every location replaced by its class. */
static geo_ref merge_label(struct merge_ctx *c, geo_ref r)
{
    if (geo_ref_is_leaf(r))
        return geo_ref_leaf(c->loc_class[geo_ref_value(r)]);
    if (c->memo[r] != GEO_REF_NONE)
        return c->memo[r];
    geo_ref l = merge_label(c, c->src->nodes[r].child[0]);
    geo_ref rr = merge_label(c, c->src->nodes[r].child[1]);
    return c->memo[r] = geo_trie_node(c->dst, l, rr);
}

/* The merged subtree for the prefix reached at `depth` bits, where the
 * database has r, keys[lo, hi) lie inside the prefix (sorted, so they are
 * contiguous) and `cover` is the class of the longest key containing the
 * prefix (GEO_REF_NONE: none). */
static geo_ref merge_rec(struct merge_ctx *c, geo_ref r, unsigned depth, size_t lo, size_t hi,
                         uint32_t cover)
{
    /* A key equal to this prefix sorts first (host bits zero, shortest);
     * callers give no duplicates, but a loop keeps a duplicate from ever
     * splitting past the address length. */
    while (lo < hi && c->keys[lo].prefix == depth)
        cover = c->keys[lo++].cls;
    if (lo == hi)
        return cover != GEO_REF_NONE ? geo_ref_leaf(cover) : merge_label(c, r);
    size_t mid = lo;
    while (mid < hi && !geo_addr_bit(c->keys[mid].addr, depth))
        mid++;
    geo_ref r0 = geo_ref_is_leaf(r) ? r : c->src->nodes[r].child[0];
    geo_ref r1 = geo_ref_is_leaf(r) ? r : c->src->nodes[r].child[1];
    geo_ref l = merge_rec(c, r0, depth + 1, lo, mid, cover);
    geo_ref rr = merge_rec(c, r1, depth + 1, mid, hi, cover);
    return geo_trie_node(c->dst, l, rr);
}

static int merge_key_cmp(const void *a, const void *b)
{
    const struct geo_netkey *x = a, *y = b;
    int d = memcmp(x->addr, y->addr, sizeof(x->addr));
    if (d)
        return d;
    return (int)x->prefix - (int)y->prefix;
}

/* Copies the keys of one family into a sorted array; returns how many. */
static size_t merge_keys_of(const struct geo_netkey *keys, size_t n, unsigned family,
                            struct geo_netkey *out)
{
    size_t k = 0;
    for (size_t i = 0; i < n; i++)
        if (keys[i].family == family)
            out[k++] = keys[i];
    qsort(out, k, sizeof(*out), merge_key_cmp);
    return k;
}

void geo_merge_build(const struct geo_db *db, const uint32_t *loc_class,
                     const struct geo_netkey *keys, size_t n_keys, uint32_t n_classes,
                     struct geo_merged *out)
{
    struct geo_trie none;
    geo_trie_init(&none, GEO_LOC_UNKNOWN);
    const struct geo_trie *src = db ? &db->trie : &none;
    geo_trie_init(&out->trie, 0);
    out->n_classes = n_classes;
    struct merge_ctx c = {.src = src, .loc_class = loc_class, .dst = &out->trie};
    c.memo = malloc((src->n_nodes ? src->n_nodes : 1) * sizeof(*c.memo));
    struct geo_netkey *sorted = malloc((n_keys ? n_keys : 1) * sizeof(*sorted));
    if (!c.memo || !sorted)
        abort();
    memset(c.memo, 0xff, (size_t)src->n_nodes * sizeof(*c.memo));
    c.keys = sorted;
    size_t k4 = merge_keys_of(keys, n_keys, GEO_FAMILY_IPV4, sorted);
    out->trie.root4 = merge_rec(&c, src->root4, 0, 0, k4, GEO_REF_NONE);
    size_t k6 = merge_keys_of(keys, n_keys, GEO_FAMILY_IPV6, sorted);
    out->trie.root6 = merge_rec(&c, src->root6, 0, 0, k6, GEO_REF_NONE);
    free(sorted);
    free(c.memo);
    geo_trie_shrink(&out->trie);
}

void geo_merged_free(struct geo_merged *m)
{
    geo_trie_free(&m->trie);
    m->n_classes = 0;
}

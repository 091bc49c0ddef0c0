/*
 * geo_trie.c -- the binary prefix trie: building, lookup, relabelling.
 */
#include "geo/geo_trie.h"

#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>

void geo_trie_init(struct geo_trie *t, uint32_t value)
{
    memset(t, 0, sizeof(*t));
    t->root4 = t->root6 = geo_ref_leaf(value);
}

void geo_trie_free(struct geo_trie *t)
{
    free(t->nodes);
    t->nodes = NULL;
    t->n_nodes = t->cap = 0;
}

geo_ref geo_trie_node(struct geo_trie *t, geo_ref l, geo_ref r)
{
    if (l == r && geo_ref_is_leaf(l))
        return l;
    if (t->n_nodes == t->cap) {
        if (t->cap >= GEO_NODES_MAX)
            abort();
        uint32_t cap = t->cap ? t->cap * 2 : 1024;
        if (cap > GEO_NODES_MAX || cap < t->cap)
            cap = GEO_NODES_MAX;
        struct geo_node *n = realloc(t->nodes, (size_t)cap * sizeof(*n));
        if (!n)
            abort();
        t->nodes = n;
        t->cap = cap;
    }
    t->nodes[t->n_nodes].child[0] = l;
    t->nodes[t->n_nodes].child[1] = r;
    return t->n_nodes++;
}

void geo_trie_shrink(struct geo_trie *t)
{
    if (t->n_nodes == t->cap || t->n_nodes == 0)
        return;
    struct geo_node *n = realloc(t->nodes, (size_t)t->n_nodes * sizeof(*n));
    if (n) {
        t->nodes = n;
        t->cap = t->n_nodes;
    }
}

uint32_t geo_trie_lookup(const struct geo_trie *t, unsigned family, const uint8_t *addr,
                         uint8_t *prefix)
{
    bool v6 = family == GEO_FAMILY_IPV6;
    unsigned bits = v6 ? 128 : 32, d = 0;
    geo_ref r = v6 ? t->root6 : t->root4;
    /* Builders keep every subtree within its address length; the bound
     * only keeps a walk inside addr whatever happens. */
    while (!geo_ref_is_leaf(r) && d < bits) {
        r = t->nodes[r].child[geo_addr_bit(addr, d)];
        d++;
    }
    *prefix = (uint8_t)d;
    return geo_ref_is_leaf(r) ? geo_ref_value(r) : 0;
}

uint32_t geo_trie_lookup_marked(const struct geo_trie *t, unsigned family, const uint8_t *addr,
                                const uint8_t *marks, uint8_t *prefix, uint8_t *marked)
{
    bool v6 = family == GEO_FAMILY_IPV6;
    unsigned bits = v6 ? 128 : 32, d = 0, m = 255;
    geo_ref r = v6 ? t->root6 : t->root4;
    while (!geo_ref_is_leaf(r) && d < bits) {
        if (m == 255 && marks && (marks[r >> 3] >> (r & 7)) & 1)
            m = d;
        r = t->nodes[r].child[geo_addr_bit(addr, d)];
        d++;
    }
    *prefix = (uint8_t)d;
    *marked = (uint8_t)(m == 255 ? d : m);
    return geo_ref_is_leaf(r) ? geo_ref_value(r) : 0;
}

/* The relabelled value of a child whose own value is known, or
 * GEO_REF_NONE (mixed). */
static uint32_t uniform_of(geo_ref r, const uint32_t *uni, uint32_t self, const uint32_t *map,
                           size_t n_map)
{
    if (geo_ref_is_leaf(r)) {
        uint32_t v = geo_ref_value(r);
        return v < n_map ? map[v] : v;
    }
    /* Builders append children before parents; anything else is mixed
     * (narrower, never wrong). */
    return r < self ? uni[r] : GEO_REF_NONE;
}

uint8_t *geo_trie_uniform_marks(const struct geo_trie *t, const uint32_t *map, size_t n_map)
{
    uint8_t *marks = calloc((t->n_nodes + 7) / 8 + 1, 1);
    uint32_t *uni = malloc((t->n_nodes ? t->n_nodes : 1) * sizeof(*uni));
    if (!marks || !uni)
        abort();
    for (uint32_t i = 0; i < t->n_nodes; i++) {
        uint32_t l = uniform_of(t->nodes[i].child[0], uni, i, map, n_map);
        uint32_t r = uniform_of(t->nodes[i].child[1], uni, i, map, n_map);
        uni[i] = l != GEO_REF_NONE && l == r ? l : GEO_REF_NONE;
        if (uni[i] != GEO_REF_NONE)
            marks[i >> 3] |= (uint8_t)(1u << (i & 7));
    }
    free(uni);
    return marks;
}

struct relabel_ctx {
    const struct geo_trie *src;
    const uint32_t *map;
    size_t n_map;
    struct geo_trie *dst;
    geo_ref *memo; /* per src node: its dst ref, GEO_REF_NONE until done */
};

static geo_ref relabel_rec(struct relabel_ctx *c, geo_ref r)
{
    if (geo_ref_is_leaf(r)) {
        uint32_t v = geo_ref_value(r);
        return geo_ref_leaf(v < c->n_map ? c->map[v] : v);
    }
    if (c->memo[r] != GEO_REF_NONE)
        return c->memo[r];
    geo_ref l = relabel_rec(c, c->src->nodes[r].child[0]);
    geo_ref rr = relabel_rec(c, c->src->nodes[r].child[1]);
    geo_ref out = geo_trie_node(c->dst, l, rr);
    c->memo[r] = out;
    return out;
}

void geo_trie_relabel(const struct geo_trie *src, const uint32_t *map, size_t n_map,
                      struct geo_trie *dst)
{
    geo_trie_init(dst, 0);
    struct relabel_ctx c = {.src = src, .map = map, .n_map = n_map, .dst = dst};
    c.memo = malloc((src->n_nodes ? src->n_nodes : 1) * sizeof(*c.memo));
    if (!c.memo)
        abort();
    memset(c.memo, 0xff, (size_t)src->n_nodes * sizeof(*c.memo));
    dst->root4 = relabel_rec(&c, src->root4);
    dst->root6 = relabel_rec(&c, src->root6);
    free(c.memo);
    geo_trie_shrink(dst);
}

size_t geo_trie_bytes(const struct geo_trie *t)
{
    return (size_t)t->cap * sizeof(struct geo_node);
}

bool geo_addr_from_sockaddr(const struct sockaddr_storage *ss, unsigned *family, uint8_t addr[16])
{
    memset(addr, 0, 16);
    if (ss->ss_family == AF_INET) {
        const struct sockaddr_in *s4 = (const struct sockaddr_in *)ss;
        memcpy(addr, &s4->sin_addr, 4);
        *family = GEO_FAMILY_IPV4;
        return true;
    }
    if (ss->ss_family != AF_INET6)
        return false;
    const struct sockaddr_in6 *s6 = (const struct sockaddr_in6 *)ss;
    static const uint8_t mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
    if (memcmp(&s6->sin6_addr, mapped, 12) == 0) {
        memcpy(addr, (const uint8_t *)&s6->sin6_addr + 12, 4);
        *family = GEO_FAMILY_IPV4;
        return true;
    }
    memcpy(addr, &s6->sin6_addr, 16);
    *family = GEO_FAMILY_IPV6;
    return true;
}

/*
 * geo_check.h -- reference answers and a complete checker for the geo
 * unit tests (test_geo_db, test_geo_map).
 *
 * The reference never touches gtmd's tries: it asks libmaxminddb
 * (MMDB_lookup_sockaddr + MMDB_aget_value) what the database holds at an
 * address, and the tests turn that into the value the trie under test
 * should hold there (a location, a geo class, a nearest order).
 *
 * The checker splits an address family into *segments*: the database's
 * own networks (enumerated with libmaxminddb's netmask: each lookup tells
 * where the next network starts) cut further at the boundaries of the
 * test's network keys. The reference value is constant inside a segment.
 * Then every leaf of the trie under test is checked against the segments:
 * all segments inside the leaf's prefix have the leaf's value (exact), and
 * the sibling half of the prefix has a segment with another value
 * (maximal), unless the prefix is /0. geo_trie_lookup is also checked at
 * the first, last and a pseudo-random address of every leaf.
 */
#ifndef GTM_TESTS_GEO_CHECK_H
#define GTM_TESTS_GEO_CHECK_H

#include <arpa/inet.h>
#include <maxminddb.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "geo/geo_db.h"
#include "geo/geo_trie.h"

typedef unsigned __int128 u128;

static inline unsigned gc_bits(unsigned family)
{
    return family == GEO_FAMILY_IPV6 ? 128 : 32;
}

static inline void gc_to_bytes(unsigned family, u128 a, uint8_t out[16])
{
    unsigned n = family == GEO_FAMILY_IPV6 ? 16 : 4;
    memset(out, 0, 16);
    for (unsigned i = 0; i < n; i++)
        out[n - 1 - i] = (uint8_t)(a >> (8 * i));
}

static inline u128 gc_from_bytes(unsigned family, const uint8_t *b)
{
    unsigned n = family == GEO_FAMILY_IPV6 ? 16 : 4;
    u128 a = 0;
    for (unsigned i = 0; i < n; i++)
        a = (a << 8) | b[i];
    return a;
}

/* Last address of the prefix of length len starting at a. */
static inline u128 gc_last(unsigned family, u128 a, unsigned len)
{
    unsigned host = gc_bits(family) - len;
    return host == 128 ? ~(u128)0 : a | ((((u128)1) << host) - 1);
}

static inline const char *gc_fmt(unsigned family, u128 a, char *buf, size_t len)
{
    uint8_t b[16];
    gc_to_bytes(family, a, b);
    inet_ntop(family == GEO_FAMILY_IPV6 ? AF_INET6 : AF_INET, b, buf, (socklen_t)len);
    return buf;
}

static inline uint64_t gc_rand(uint64_t *s)
{
    *s ^= *s << 13;
    *s ^= *s >> 7;
    *s ^= *s << 17;
    return *s;
}

/* ---- the reference: libmaxminddb ---------------------------------------- */

static inline bool gc_str(MMDB_entry_s *e, const char *const *path, char *dst, size_t max)
{
    MMDB_entry_data_s d;
    if (MMDB_aget_value(e, &d, path) != MMDB_SUCCESS || !d.has_data ||
        d.type != MMDB_DATA_TYPE_UTF8_STRING || d.data_size == 0 || d.data_size > max)
        return false;
    memcpy(dst, d.utf8_string, d.data_size);
    return true;
}

static inline bool gc_double(MMDB_entry_s *e, const char *key, double *out)
{
    const char *const path[] = {"location", key, NULL};
    MMDB_entry_data_s d;
    if (MMDB_aget_value(e, &d, path) != MMDB_SUCCESS || !d.has_data ||
        d.type != MMDB_DATA_TYPE_DOUBLE)
        return false;
    *out = d.double_value;
    return true;
}

/* What the database says about one address, as a geo_location, and in
 * *netmask the length of the database network holding it (relative to the
 * family: 96 is taken off for IPv4 in an IPv6 tree). */
static inline void gc_ref_location(MMDB_s *mmdb, unsigned family, u128 a, struct geo_location *l,
                                   unsigned *netmask)
{
    static const char *const p_cont[] = {"continent", "code", NULL};
    static const char *const p_country[] = {"country", "iso_code", NULL};
    static const char *const p_sub[] = {"subdivisions", "0", "iso_code", NULL};
    struct sockaddr_storage ss;
    uint8_t b[16];
    memset(&ss, 0, sizeof(ss));
    memset(l, 0, sizeof(*l));
    gc_to_bytes(family, a, b);
    if (family == GEO_FAMILY_IPV4) {
        struct sockaddr_in *s4 = (struct sockaddr_in *)&ss;
        s4->sin_family = AF_INET;
        memcpy(&s4->sin_addr, b, 4);
    } else {
        struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&ss;
        s6->sin6_family = AF_INET6;
        memcpy(&s6->sin6_addr, b, 16);
    }
    int err = 0;
    MMDB_lookup_result_s r = MMDB_lookup_sockaddr(mmdb, (struct sockaddr *)&ss, &err);
    if (err == MMDB_IPV6_LOOKUP_IN_IPV4_DATABASE_ERROR) {
        *netmask = 0;
        return;
    }
    *netmask = r.netmask;
    if (family == GEO_FAMILY_IPV4 && mmdb->metadata.ip_version == 6)
        *netmask = r.netmask >= 96 ? r.netmask - 96u : 0;
    if (err || !r.found_entry)
        return;
    if (gc_str(&r.entry, p_cont, l->continent, 2))
        l->flags |= GEO_HAS_CONTINENT;
    if (gc_str(&r.entry, p_country, l->country, 2))
        l->flags |= GEO_HAS_COUNTRY;
    if ((l->flags & GEO_HAS_COUNTRY) && gc_str(&r.entry, p_sub, l->subdivision, 3))
        l->flags |= GEO_HAS_SUBDIVISION;
    if (gc_double(&r.entry, "latitude", &l->lat) && gc_double(&r.entry, "longitude", &l->lon))
        l->flags |= GEO_HAS_COORDS;
    else
        l->lat = l->lon = 0;
    static const char *const p_asn[] = {"autonomous_system_number", NULL};
    MMDB_entry_data_s d;
    if (MMDB_aget_value(&r.entry, &d, p_asn) == MMDB_SUCCESS && d.has_data &&
        d.type == MMDB_DATA_TYPE_UINT32 && d.uint32) {
        l->asn = d.uint32;
        l->flags |= GEO_HAS_ASN;
    }
}

/* ---- segments ------------------------------------------------------------ */

struct gc_segments {
    unsigned family;
    u128 *start; /* sorted, unique; start[0] == 0 */
    uint32_t *val;
    size_t n, cap;
};

static inline void gc_seg_add(struct gc_segments *s, u128 a)
{
    if (s->n == s->cap) {
        s->cap = s->cap ? s->cap * 2 : 256;
        s->start = realloc(s->start, s->cap * sizeof(*s->start));
        s->val = realloc(s->val, s->cap * sizeof(*s->val));
        if (!s->start || !s->val)
            abort();
    }
    s->start[s->n++] = a;
}

static inline int gc_u128_cmp(const void *x, const void *y)
{
    u128 a = *(const u128 *)x, b = *(const u128 *)y;
    return a < b ? -1 : a > b;
}

/* The database's networks of one family (bounded: at most 1,000,000). */
static inline void gc_seg_networks(struct gc_segments *s, MMDB_s *mmdb)
{
    unsigned bits = gc_bits(s->family);
    u128 a = 0;
    for (unsigned i = 0; i < 1000000; i++) {
        struct geo_location l;
        unsigned m;
        gc_seg_add(s, a);
        gc_ref_location(mmdb, s->family, a, &l, &m);
        u128 next = gc_last(s->family, a, m) + 1;
        if (m == 0 || next == 0 || (bits == 32 && next >> 32))
            break;
        a = next;
    }
}

/* Adds the boundaries of a prefix (e.g. a network key). */
static inline void gc_seg_prefix(struct gc_segments *s, const uint8_t *addr, unsigned len)
{
    u128 a = gc_from_bytes(s->family, addr), e = gc_last(s->family, a, len) + 1;
    gc_seg_add(s, a);
    if (e != 0 && !(s->family == GEO_FAMILY_IPV4 && e >> 32))
        gc_seg_add(s, e);
}

typedef uint32_t (*gc_ref_fn)(void *ctx, unsigned family, u128 a);

/* Sorts, removes duplicates, and computes each segment's reference value. */
static inline void gc_seg_finish(struct gc_segments *s, gc_ref_fn ref, void *ctx)
{
    gc_seg_add(s, 0);
    qsort(s->start, s->n, sizeof(*s->start), gc_u128_cmp);
    size_t k = 0;
    for (size_t i = 0; i < s->n; i++)
        if (k == 0 || s->start[i] != s->start[k - 1])
            s->start[k++] = s->start[i];
    s->n = k;
    for (size_t i = 0; i < s->n; i++)
        s->val[i] = ref(ctx, s->family, s->start[i]);
}

static inline void gc_seg_free(struct gc_segments *s)
{
    free(s->start);
    free(s->val);
}

/* Index of the segment holding a. */
static inline size_t gc_seg_find(const struct gc_segments *s, u128 a)
{
    size_t lo = 0, hi = s->n;
    while (hi - lo > 1) {
        size_t mid = (lo + hi) / 2;
        if (s->start[mid] <= a)
            lo = mid;
        else
            hi = mid;
    }
    return lo;
}

/* Does every segment meeting [a, b] have value v (want_all), or does some
 * segment meeting [a, b] have another value (!want_all)? */
static inline bool gc_seg_range(const struct gc_segments *s, u128 a, u128 b, uint32_t v,
                                bool want_all)
{
    for (size_t i = gc_seg_find(s, a); i < s->n && s->start[i] <= b; i++)
        if (s->val[i] != v)
            return !want_all;
    return want_all;
}

/* ---- the checker ---------------------------------------------------------- */

struct gc_result {
    size_t leaves, inexact, not_maximal, bad_lookup;
    char first[256]; /* the first failure, for the TAP diagnostic */
};

struct gc_walk {
    const struct geo_trie *t;
    const struct gc_segments *s;
    struct gc_result *res;
    uint64_t rng;
};

static inline void gc_fail(struct gc_walk *w, const char *what, u128 a, unsigned depth, uint32_t v)
{
    char buf[64];
    if (!w->res->first[0])
        snprintf(w->res->first, sizeof(w->res->first), "%s: %s/%u value %u", what,
                 gc_fmt(w->s->family, a, buf, sizeof(buf)), depth, v);
}

static inline void gc_check_lookup(struct gc_walk *w, u128 a, unsigned depth, uint32_t v)
{
    unsigned family = w->s->family, bits = gc_bits(family);
    u128 last = gc_last(family, a, depth), span = last - a;
    u128 rnd = ((u128)gc_rand(&w->rng) << 64) | gc_rand(&w->rng);
    u128 probes[3] = {a, last, a + (span == ~(u128)0 ? rnd : rnd % (span + 1))};
    (void)bits;
    for (int i = 0; i < 3; i++) {
        uint8_t b[16], p;
        gc_to_bytes(family, probes[i], b);
        if (geo_trie_lookup(w->t, family, b, &p) != v || p != depth) {
            w->res->bad_lookup++;
            gc_fail(w, "lookup differs", probes[i], depth, v);
        }
    }
}

static inline void gc_walk_rec(struct gc_walk *w, geo_ref r, u128 a, unsigned depth)
{
    unsigned family = w->s->family, bits = gc_bits(family);
    if (!geo_ref_is_leaf(r)) {
        if (depth >= bits) {
            w->res->inexact++;
            gc_fail(w, "node below the last bit", a, depth, 0);
            return;
        }
        gc_walk_rec(w, w->t->nodes[r].child[0], a, depth + 1);
        gc_walk_rec(w, w->t->nodes[r].child[1], a | ((u128)1 << (bits - 1 - depth)), depth + 1);
        return;
    }
    uint32_t v = geo_ref_value(r);
    w->res->leaves++;
    if (!gc_seg_range(w->s, a, gc_last(family, a, depth), v, true)) {
        w->res->inexact++;
        gc_fail(w, "not exact", a, depth, v);
    }
    if (depth > 0) {
        u128 sib = a ^ ((u128)1 << (bits - depth));
        if (!gc_seg_range(w->s, sib, gc_last(family, sib, depth), v, false)) {
            w->res->not_maximal++;
            gc_fail(w, "not maximal (sibling has the same value)", a, depth, v);
        }
    }
    gc_check_lookup(w, a, depth, v);
}

/* Checks every leaf of t's root for s->family against s. */
static inline void gc_check_trie(const struct geo_trie *t, const struct gc_segments *s,
                                 struct gc_result *res)
{
    memset(res, 0, sizeof(*res));
    struct gc_walk w = {.t = t, .s = s, .res = res, .rng = 0x9e3779b97f4a7c15ull};
    gc_walk_rec(&w, s->family == GEO_FAMILY_IPV6 ? t->root6 : t->root4, 0, 0);
}

static inline bool gc_ok(const struct gc_result *r)
{
    return r->leaves > 0 && r->inexact == 0 && r->not_maximal == 0 && r->bad_lookup == 0;
}

#endif

/*
 * pmap.c -- the persistent hash array mapped trie of pmap.h.
 *
 * Nodes. A leaf holds one name, its hash and its value. A branch holds a
 * 64-bit bitmap of the six-bit slots present at its depth and one child
 * per slot, in slot order (a child is a leaf, a branch, or a collision
 * node). A collision node holds the leaves of names whose 64-bit hashes
 * are equal (found only below the last level: never in practice, but a
 * map must not lose a name to them). Every node starts with its header:
 * the count of references (the versions and branches pointing at it) and
 * its kind. A node is never changed once another may see it: a change
 * makes new nodes and takes references of the old ones it keeps.
 *
 * The form is canonical: a branch never has a single child that is a
 * leaf or a collision node (a removal folds it into its parent), so two
 * versions that hold the same names have the same shape, and pmap_diff of
 * equal subtrees made apart still costs only their size.
 */
#include "common/pmap.h"

#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PMAP_BITS 6
#define PMAP_SLOTS (1u << PMAP_BITS)

enum pmap_kind { PMAP_LEAF = 1, PMAP_BRANCH = 2, PMAP_COLL = 3 };

struct pmap_node {
    atomic_uint refs;
    uint8_t kind;
    uint32_t n; /* children of a branch or a collision node */
};

struct pmap_leaf {
    struct pmap_node hdr;
    uint32_t len;
    uint64_t hash;
    void *value;
    unsigned char key[];
};

struct pmap_branch {
    struct pmap_node hdr;
    uint64_t bitmap;
    struct pmap_node *kid[];
};

struct pmap_coll {
    struct pmap_node hdr;
    uint64_t hash;
    struct pmap_leaf *leaf[];
};

struct pmap_family {
    uint64_t seed, mask;
    pmap_release_fn release;
    void *ctx;
    atomic_size_t nodes, bytes;
};

struct pmap {
    atomic_uint refs;
    struct pmap_family *fam;
    struct pmap_node *root; /* NULL: empty; one reference held by this version */
    size_t count;
};

static void *pmap_alloc(struct pmap_family *f, size_t size)
{
    struct pmap_node *n = malloc(size);
    if (!n) {
        fputs("pmap: out of memory\n", stderr);
        abort();
    }
    atomic_init(&n->refs, 1);
    atomic_fetch_add_explicit(&f->nodes, 1, memory_order_relaxed);
    atomic_fetch_add_explicit(&f->bytes, size, memory_order_relaxed);
    return n;
}

static size_t pmap_node_size(const struct pmap_node *n)
{
    if (n->kind == PMAP_LEAF)
        return sizeof(struct pmap_leaf) + ((const struct pmap_leaf *)n)->len;
    if (n->kind == PMAP_BRANCH)
        return sizeof(struct pmap_branch) + n->n * sizeof(struct pmap_node *);
    return sizeof(struct pmap_coll) + n->n * sizeof(struct pmap_leaf *);
}

static struct pmap_node *pmap_take(struct pmap_node *n)
{
    atomic_fetch_add_explicit(&n->refs, 1, memory_order_relaxed);
    return n;
}

/* Drops one reference of n; the last frees n and drops its children's.
 * The depth is at most 11 branches and a collision node, so recursion is
 * bounded. */
static void pmap_drop(struct pmap_family *f, struct pmap_node *n)
{
    if (!n || atomic_fetch_sub_explicit(&n->refs, 1, memory_order_acq_rel) != 1)
        return;
    if (n->kind == PMAP_LEAF) {
        struct pmap_leaf *l = (struct pmap_leaf *)n;
        if (f->release)
            f->release(l->value, f->ctx);
    } else if (n->kind == PMAP_BRANCH) {
        struct pmap_branch *b = (struct pmap_branch *)n;
        for (uint32_t i = 0; i < n->n; i++)
            pmap_drop(f, b->kid[i]);
    } else {
        struct pmap_coll *c = (struct pmap_coll *)n;
        for (uint32_t i = 0; i < n->n; i++)
            pmap_drop(f, &c->leaf[i]->hdr);
    }
    atomic_fetch_sub_explicit(&f->nodes, 1, memory_order_relaxed);
    atomic_fetch_sub_explicit(&f->bytes, pmap_node_size(n), memory_order_relaxed);
    free(n);
}

/* FNV-1a over the octets, then the seed mixed in by a 64-bit finalizer
 * (murmur3's): names that differ in one octet differ in about half the
 * bits, so the six-bit slots spread evenly. */
static uint64_t pmap_hash(const struct pmap_family *f, const void *key, size_t len)
{
    const unsigned char *p = key;
    uint64_t h = 0xcbf29ce484222325ull ^ f->seed;
    for (size_t i = 0; i < len; i++)
        h = (h ^ p[i]) * 0x100000001b3ull;
    h ^= h >> 33;
    h *= 0xff51afd7ed558ccdull;
    h ^= h >> 33;
    h *= 0xc4ceb9fe1a85ec53ull;
    h ^= h >> 33;
    return h & f->mask;
}

struct pmap_family *pmap_family_new(uint64_t seed, pmap_release_fn release, void *ctx)
{
    struct pmap_family *f = calloc(1, sizeof(*f));
    if (!f) {
        fputs("pmap: out of memory\n", stderr);
        abort();
    }
    f->seed = seed;
    f->mask = UINT64_MAX;
    f->release = release;
    f->ctx = ctx;
    atomic_init(&f->nodes, 0);
    atomic_init(&f->bytes, 0);
    return f;
}

void pmap_family_free(struct pmap_family *f)
{
    if (!f)
        return;
    if (atomic_load(&f->nodes) != 0) {
        fprintf(stderr, "pmap: family freed while %zu nodes are held\n", atomic_load(&f->nodes));
        abort();
    }
    free(f);
}

void pmap_family_test_mask(struct pmap_family *f, uint64_t mask)
{
    f->mask = mask;
}

size_t pmap_family_nodes(const struct pmap_family *f)
{
    return atomic_load_explicit(&f->nodes, memory_order_relaxed);
}

size_t pmap_family_bytes(const struct pmap_family *f)
{
    return atomic_load_explicit(&f->bytes, memory_order_relaxed);
}

static struct pmap *pmap_version(struct pmap_family *f, struct pmap_node *root, size_t count)
{
    struct pmap *m = malloc(sizeof(*m));
    if (!m) {
        fputs("pmap: out of memory\n", stderr);
        abort();
    }
    atomic_init(&m->refs, 1);
    m->fam = f;
    m->root = root;
    m->count = count;
    return m;
}

struct pmap *pmap_new(struct pmap_family *f)
{
    return pmap_version(f, NULL, 0);
}

struct pmap *pmap_ref(struct pmap *m)
{
    atomic_fetch_add_explicit(&m->refs, 1, memory_order_relaxed);
    return m;
}

void pmap_release(struct pmap *m)
{
    if (!m || atomic_fetch_sub_explicit(&m->refs, 1, memory_order_acq_rel) != 1)
        return;
    pmap_drop(m->fam, m->root);
    free(m);
}

size_t pmap_count(const struct pmap *m)
{
    return m->count;
}

static unsigned pmap_slot(uint64_t hash, unsigned shift)
{
    return (unsigned)(hash >> shift) & (PMAP_SLOTS - 1);
}

/* The index in a branch's kid[] of slot s (present or where it would go). */
static unsigned pmap_index(uint64_t bitmap, unsigned s)
{
    return (unsigned)__builtin_popcountll(bitmap & ((1ull << s) - 1));
}

static bool pmap_leaf_is(const struct pmap_leaf *l, uint64_t hash, const void *key, size_t len)
{
    return l->hash == hash && l->len == len && memcmp(l->key, key, len) == 0;
}

/* The leaf of key below n (at depth shift), or NULL. */
static struct pmap_leaf *pmap_find(const struct pmap_node *n, unsigned shift, uint64_t hash,
                                   const void *key, size_t len)
{
    while (n) {
        if (n->kind == PMAP_LEAF) {
            const struct pmap_leaf *l = (const struct pmap_leaf *)n;
            return pmap_leaf_is(l, hash, key, len) ? (struct pmap_leaf *)l : NULL;
        }
        if (n->kind == PMAP_COLL) {
            const struct pmap_coll *c = (const struct pmap_coll *)n;
            for (uint32_t i = 0; c->hash == hash && i < n->n; i++)
                if (pmap_leaf_is(c->leaf[i], hash, key, len))
                    return c->leaf[i];
            return NULL;
        }
        const struct pmap_branch *b = (const struct pmap_branch *)n;
        unsigned s = pmap_slot(hash, shift);
        if (!(b->bitmap & (1ull << s)))
            return NULL;
        n = b->kid[pmap_index(b->bitmap, s)];
        shift += PMAP_BITS;
    }
    return NULL;
}

void *pmap_get(const struct pmap *m, const void *key, size_t len, bool *found)
{
    struct pmap_leaf *l = pmap_find(m->root, 0, pmap_hash(m->fam, key, len), key, len);
    if (found)
        *found = l != NULL;
    return l ? l->value : NULL;
}

static struct pmap_leaf *pmap_leaf_new(struct pmap_family *f, uint64_t hash, const void *key,
                                       size_t len, void *value)
{
    struct pmap_leaf *l = pmap_alloc(f, sizeof(*l) + len);
    l->hdr.kind = PMAP_LEAF;
    l->hdr.n = 0;
    l->len = (uint32_t)len;
    l->hash = hash;
    l->value = value;
    memcpy(l->key, key, len);
    return l;
}

static struct pmap_branch *pmap_branch_new(struct pmap_family *f, uint64_t bitmap)
{
    uint32_t n = (uint32_t)__builtin_popcountll(bitmap);
    struct pmap_branch *b = pmap_alloc(f, sizeof(*b) + n * sizeof(struct pmap_node *));
    b->hdr.kind = PMAP_BRANCH;
    b->hdr.n = n;
    b->bitmap = bitmap;
    return b;
}

static uint64_t pmap_node_hash(const struct pmap_node *n)
{
    return n->kind == PMAP_LEAF ? ((const struct pmap_leaf *)n)->hash
                                : ((const struct pmap_coll *)n)->hash;
}

/* A branch (at depth shift) holding a and b, two leaves or collision nodes
 * of different hashes; takes over one reference of each. */
static struct pmap_node *pmap_pair(struct pmap_family *f, struct pmap_node *a, struct pmap_node *b,
                                   unsigned shift)
{
    unsigned sa = pmap_slot(pmap_node_hash(a), shift), sb = pmap_slot(pmap_node_hash(b), shift);
    if (sa == sb) {
        struct pmap_branch *br = pmap_branch_new(f, 1ull << sa);
        br->kid[0] = pmap_pair(f, a, b, shift + PMAP_BITS);
        return &br->hdr;
    }
    struct pmap_branch *br = pmap_branch_new(f, (1ull << sa) | (1ull << sb));
    br->kid[sa < sb ? 0 : 1] = a;
    br->kid[sa < sb ? 1 : 0] = b;
    return &br->hdr;
}

/* A copy of collision node c with leaf l in place of the one of its name
 * (or added); takes over l's reference, adds one to each leaf kept. */
static struct pmap_node *pmap_coll_put(struct pmap_family *f, const struct pmap_coll *c,
                                       struct pmap_leaf *l, bool *added)
{
    uint32_t at = c->hdr.n;
    for (uint32_t i = 0; i < c->hdr.n; i++)
        if (pmap_leaf_is(c->leaf[i], l->hash, l->key, l->len))
            at = i;
    *added = at == c->hdr.n;
    uint32_t n = c->hdr.n + (*added ? 1 : 0);
    struct pmap_coll *nc = pmap_alloc(f, sizeof(*nc) + n * sizeof(struct pmap_leaf *));
    nc->hdr.kind = PMAP_COLL;
    nc->hdr.n = n;
    nc->hash = c->hash;
    for (uint32_t i = 0; i < c->hdr.n; i++)
        if (i != at)
            nc->leaf[i] = (struct pmap_leaf *)pmap_take(&c->leaf[i]->hdr);
    nc->leaf[at] = l;
    return &nc->hdr;
}

/* A copy of branch b with child kid at slot s, replaced or added; takes
 * over kid's reference, adds one to each child kept. */
static struct pmap_node *pmap_branch_put(struct pmap_family *f, const struct pmap_branch *b,
                                         unsigned s, struct pmap_node *kid)
{
    bool had = b->bitmap & (1ull << s);
    unsigned at = pmap_index(b->bitmap, s);
    struct pmap_branch *nb = pmap_branch_new(f, b->bitmap | (1ull << s));
    for (unsigned i = 0, j = 0; i < b->hdr.n; i++, j++) {
        if (j == at && !had)
            j++;
        if (!(had && i == at))
            nb->kid[j] = pmap_take(b->kid[i]);
    }
    nb->kid[at] = kid;
    return &nb->hdr;
}

/* n (at depth shift) with leaf l set: a new node with one reference,
 * taking over l's; *added when the name was not there. */
static struct pmap_node *pmap_put(struct pmap_family *f, struct pmap_node *n, unsigned shift,
                                  struct pmap_leaf *l, bool *added)
{
    *added = true;
    if (!n)
        return &l->hdr;
    if (n->kind == PMAP_LEAF) {
        struct pmap_leaf *old = (struct pmap_leaf *)n;
        if (pmap_leaf_is(old, l->hash, l->key, l->len)) {
            *added = false;
            return &l->hdr;
        }
        if (old->hash == l->hash) {
            struct pmap_coll *c = pmap_alloc(f, sizeof(*c) + 2 * sizeof(struct pmap_leaf *));
            c->hdr.kind = PMAP_COLL;
            c->hdr.n = 2;
            c->hash = l->hash;
            c->leaf[0] = (struct pmap_leaf *)pmap_take(n);
            c->leaf[1] = l;
            return &c->hdr;
        }
        return pmap_pair(f, pmap_take(n), &l->hdr, shift);
    }
    if (n->kind == PMAP_COLL) {
        if (((struct pmap_coll *)n)->hash == l->hash)
            return pmap_coll_put(f, (struct pmap_coll *)n, l, added);
        return pmap_pair(f, pmap_take(n), &l->hdr, shift);
    }
    struct pmap_branch *b = (struct pmap_branch *)n;
    unsigned s = pmap_slot(l->hash, shift);
    struct pmap_node *kid = &l->hdr;
    if (b->bitmap & (1ull << s))
        kid = pmap_put(f, b->kid[pmap_index(b->bitmap, s)], shift + PMAP_BITS, l, added);
    return pmap_branch_put(f, b, s, kid);
}

struct pmap *pmap_set(struct pmap *m, const void *key, size_t len, void *value)
{
    struct pmap_leaf *l = pmap_leaf_new(m->fam, pmap_hash(m->fam, key, len), key, len, value);
    bool added;
    struct pmap_node *root = pmap_put(m->fam, m->root, 0, l, &added);
    return pmap_version(m->fam, root, m->count + (added ? 1 : 0));
}

/* A copy of branch b without slot s (b has at least two children). */
static struct pmap_node *pmap_branch_cut(struct pmap_family *f, const struct pmap_branch *b,
                                         unsigned s)
{
    unsigned at = pmap_index(b->bitmap, s);
    struct pmap_branch *nb = pmap_branch_new(f, b->bitmap & ~(1ull << s));
    for (unsigned i = 0, j = 0; i < b->hdr.n; i++)
        if (i != at)
            nb->kid[j++] = pmap_take(b->kid[i]);
    return &nb->hdr;
}

/* The outcome of a removal below a node: n itself (the name is not
 * there), NULL (nothing left), or a new node with one reference. */
static struct pmap_node *pmap_cut(struct pmap_family *f, struct pmap_node *n, unsigned shift,
                                  uint64_t hash, const void *key, size_t len);

static struct pmap_node *pmap_cut_coll(struct pmap_family *f, struct pmap_coll *c, uint64_t hash,
                                       const void *key, size_t len)
{
    uint32_t at = c->hdr.n;
    for (uint32_t i = 0; c->hash == hash && i < c->hdr.n; i++)
        if (pmap_leaf_is(c->leaf[i], hash, key, len))
            at = i;
    if (at == c->hdr.n)
        return &c->hdr;
    if (c->hdr.n == 2)
        return pmap_take(&c->leaf[1 - at]->hdr);
    struct pmap_coll *nc = pmap_alloc(f, sizeof(*nc) + (c->hdr.n - 1) * sizeof(struct pmap_leaf *));
    nc->hdr.kind = PMAP_COLL;
    nc->hdr.n = c->hdr.n - 1;
    nc->hash = c->hash;
    for (uint32_t i = 0, j = 0; i < c->hdr.n; i++)
        if (i != at)
            nc->leaf[j++] = (struct pmap_leaf *)pmap_take(&c->leaf[i]->hdr);
    return &nc->hdr;
}

static struct pmap_node *pmap_cut(struct pmap_family *f, struct pmap_node *n, unsigned shift,
                                  uint64_t hash, const void *key, size_t len)
{
    if (n->kind == PMAP_LEAF)
        return pmap_leaf_is((struct pmap_leaf *)n, hash, key, len) ? NULL : n;
    if (n->kind == PMAP_COLL)
        return pmap_cut_coll(f, (struct pmap_coll *)n, hash, key, len);
    struct pmap_branch *b = (struct pmap_branch *)n;
    unsigned s = pmap_slot(hash, shift);
    if (!(b->bitmap & (1ull << s)))
        return n;
    unsigned at = pmap_index(b->bitmap, s);
    struct pmap_node *kid = pmap_cut(f, b->kid[at], shift + PMAP_BITS, hash, key, len);
    if (kid == b->kid[at])
        return n;
    if (!kid) {
        if (b->hdr.n == 1)
            return NULL;
        if (b->hdr.n == 2 && b->kid[1 - at]->kind != PMAP_BRANCH)
            return pmap_take(b->kid[1 - at]); /* canonical: no branch of one leaf */
        return pmap_branch_cut(f, b, s);
    }
    if (b->hdr.n == 1 && kid->kind != PMAP_BRANCH)
        return kid;
    return pmap_branch_put(f, b, s, kid);
}

struct pmap *pmap_del(struct pmap *m, const void *key, size_t len)
{
    if (!m->root)
        return pmap_ref(m);
    struct pmap_node *root = pmap_cut(m->fam, m->root, 0, pmap_hash(m->fam, key, len), key, len);
    if (root == m->root)
        return pmap_ref(m);
    return pmap_version(m->fam, root, m->count - 1);
}

static bool pmap_walk(const struct pmap_node *n, pmap_each_fn fn, void *ctx)
{
    if (!n)
        return true;
    if (n->kind == PMAP_LEAF) {
        const struct pmap_leaf *l = (const struct pmap_leaf *)n;
        return fn(l->key, l->len, l->value, ctx);
    }
    if (n->kind == PMAP_COLL) {
        const struct pmap_coll *c = (const struct pmap_coll *)n;
        for (uint32_t i = 0; i < n->n; i++)
            if (!fn(c->leaf[i]->key, c->leaf[i]->len, c->leaf[i]->value, ctx))
                return false;
        return true;
    }
    const struct pmap_branch *b = (const struct pmap_branch *)n;
    for (uint32_t i = 0; i < n->n; i++)
        if (!pmap_walk(b->kid[i], fn, ctx))
            return false;
    return true;
}

bool pmap_each(const struct pmap *m, pmap_each_fn fn, void *ctx)
{
    return pmap_walk(m->root, fn, ctx);
}

/* pmap_diff of two subtrees at depth shift, where at least one is not a
 * branch (or one is NULL): every name of either is looked up in the
 * other, which is small (a leaf's hash prefix holds few names). */
struct pmap_diff_walk {
    const struct pmap_node *other;
    unsigned shift;
    bool a_side;
    pmap_diff_fn fn;
    void *ctx;
};

static bool pmap_diff_leaf(const void *key, size_t len, void *value, void *ctx)
{
    struct pmap_diff_walk *w = ctx;
    const struct pmap_leaf *self =
        (const struct pmap_leaf *)((const char *)key - offsetof(struct pmap_leaf, key));
    struct pmap_leaf *o = pmap_find(w->other, w->shift, self->hash, key, len);
    struct pmap_change c = {.key = key, .len = len};
    if (w->a_side) {
        if (o)
            return true; /* in both: the b side's walk reports it */
        c.old_value = value;
        c.old_found = true;
    } else {
        if (o && o->value == value)
            return true;
        c.new_value = value;
        c.new_found = true;
        c.old_value = o ? o->value : NULL;
        c.old_found = o != NULL;
    }
    return w->fn(&c, w->ctx);
}

static bool pmap_diff_node(const struct pmap_node *a, const struct pmap_node *b, unsigned shift,
                           pmap_diff_fn fn, void *ctx)
{
    if (a == b)
        return true;
    if (a && b && a->kind == PMAP_BRANCH && b->kind == PMAP_BRANCH) {
        const struct pmap_branch *ba = (const struct pmap_branch *)a;
        const struct pmap_branch *bb = (const struct pmap_branch *)b;
        uint64_t all = ba->bitmap | bb->bitmap;
        while (all) {
            unsigned s = (unsigned)__builtin_ctzll(all);
            all &= all - 1;
            const struct pmap_node *ka = NULL, *kb = NULL;
            if (ba->bitmap & (1ull << s))
                ka = ba->kid[pmap_index(ba->bitmap, s)];
            if (bb->bitmap & (1ull << s))
                kb = bb->kid[pmap_index(bb->bitmap, s)];
            if (!pmap_diff_node(ka, kb, shift + PMAP_BITS, fn, ctx))
                return false;
        }
        return true;
    }
    struct pmap_diff_walk wa = {b, shift, true, fn, ctx}, wb = {a, shift, false, fn, ctx};
    return pmap_walk(a, pmap_diff_leaf, &wa) && pmap_walk(b, pmap_diff_leaf, &wb);
}

bool pmap_diff(const struct pmap *a, const struct pmap *b, pmap_diff_fn fn, void *ctx)
{
    return pmap_diff_node(a->root, b->root, 0, fn, ctx);
}

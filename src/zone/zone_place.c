/*
 * zone_place.c -- a new version of an unsigned zone with policy names
 * added or removed, made from the running one (zone_place.h).
 */
#include "zone/zone_place.h"

#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "common/bigalloc.h"
#include "dns/name.h"

/* The nodes one version added, and a hold on what the nodes it shares
 * live in: the store of the version it was made from, or (at the
 * bottom) the arena of the zone read from the file. Never written once
 * the version is published. */
struct zone_store {
    _Atomic unsigned refs;    /* holders beyond the first (zone.c's pattern) */
    struct zone_store *below; /* held; NULL at the bottom */
    struct zone *root;        /* bottom only: its arena is held (store_refs) */
    size_t size, used;
    _Alignas(8) unsigned char data[];
};

/* How many child nodes a node has (only nodes with children, and nodes
 * whose children all went: count 0). Open addressing by the node's
 * address. */
struct zone_kid {
    const struct zone_node *node; /* NULL: empty */
    uint32_t count;
};

struct zone_kids {
    struct zone_kid *e;
    uint32_t mask;
    size_t n;
};

/* The types of nodes a version may add or take out: a node with any
 * other flag (apex, cut, below a cut or DNAME...) is the file's. */
#define PLACE_FLAGS_OK ZONE_POLICY_FLAGS

void zone_store_release(struct zone_store *s)
{
    while (s) {
        if (atomic_load(&s->refs) > 0 && atomic_fetch_sub(&s->refs, 1) > 0)
            return;
        struct zone_store *below = s->below;
        struct zone *root = s->root;
        free(s);
        if (root) {
            zone_arena_release(root);
            return;
        }
        s = below;
    }
}

void zone_kids_free(struct zone_kids *k)
{
    if (!k)
        return;
    free(k->e);
    free(k);
}

bool zone_place_eligible(const struct zone *z)
{
    return z && z->table && z->dnssec.kind == ZONE_DENIAL_NONE && !z->dnssec.has_dnssec_records &&
           !z->policy_keys && !z->journal && !z->secondary && !z->update &&
           !atomic_load(&z->expired);
}

/* ---- kids ------------------------------------------------------------- */

static uint32_t place_ptr_hash(const void *p)
{
    uint64_t x = (uint64_t)(uintptr_t)p;
    return (uint32_t)((x >> 3) * 0x9E3779B97F4A7C15ull >> 32);
}

static struct zone_kids *place_kids_alloc(uint32_t slots)
{
    struct zone_kids *k = calloc(1, sizeof(*k));
    if (!k || !(k->e = calloc(slots, sizeof(*k->e))))
        abort();
    k->mask = slots - 1;
    return k;
}

static void place_kids_grow(struct zone_kids *k)
{
    struct zone_kids *g = place_kids_alloc((k->mask + 1) * 2);
    for (uint32_t i = 0; i <= k->mask; i++) {
        if (!k->e[i].node)
            continue;
        uint32_t j = place_ptr_hash(k->e[i].node) & g->mask;
        while (g->e[j].node)
            j = (j + 1) & g->mask;
        g->e[j] = k->e[i];
    }
    free(k->e);
    k->e = g->e;
    k->mask = g->mask;
    free(g);
}

/* The entry of n in k; made (count 0) when absent and make, else NULL. */
static struct zone_kid *place_kid(struct zone_kids *k, const struct zone_node *n, bool make)
{
    if (make && (k->n + 1) * 2 > (size_t)k->mask + 1)
        place_kids_grow(k);
    for (uint32_t i = place_ptr_hash(n) & k->mask;; i = (i + 1) & k->mask) {
        if (k->e[i].node == n)
            return &k->e[i];
        if (!k->e[i].node) {
            if (!make)
                return NULL;
            k->e[i].node = n;
            k->n++;
            return &k->e[i];
        }
    }
}

static uint32_t place_kid_count(struct zone_kids *k, const struct zone_node *n)
{
    const struct zone_kid *e = place_kid(k, n, false);
    return e ? e->count : 0;
}

/* The parent of a name of len octets (name + 1 + name[0]), or NULL at
 * the apex. */
static const struct zone_node *place_parent(const struct zone *z, const uint8_t *name, size_t len)
{
    if (len <= z->origin_len)
        return NULL;
    size_t plen = len - 1u - name[0];
    const uint8_t *p = name + 1 + name[0];
    return zone_find_node(z, p, plen, dns_name_hash(p, plen));
}

/* The children of every node of z, counted from its table: once per
 * line of versions, when one first takes a name out (a pass over the
 * nodes; later versions copy the map). */
static struct zone_kids *place_kids_count(const struct zone *z)
{
    struct zone_kids *k = place_kids_alloc(64);
    for (uint32_t i = 0; i <= z->mask; i++) {
        const struct zone_node *n = z->table[i].node;
        const struct zone_node *p = n ? place_parent(z, n->name, n->name_len) : NULL;
        if (p)
            place_kid(k, p, true)->count++;
    }
    return k;
}

/* ---- the table -------------------------------------------------------- */

/* zone_build.c's bound: at most 60 % full (the lookup's probe lengths). */
static bool place_table_full(size_t n, size_t slots)
{
    return n * 5 > slots * 3;
}

static void place_insert_raw(struct zone_slot *t, uint32_t mask, uint32_t h,
                             const struct zone_node *n)
{
    uint32_t i = h & mask;
    while (t[i].node)
        i = (i + 1) & mask;
    t[i].hash = h;
    t[i].node = n;
}

static void place_insert(struct zone *z, const struct zone_node *n)
{
    place_insert_raw(z->table, z->mask, dns_name_hash(n->name, n->name_len), n);
    z->n_nodes++;
}

static uint32_t place_slot_of(const struct zone *z, const struct zone_node *n)
{
    uint32_t i = dns_name_hash(n->name, n->name_len) & z->mask;
    while (z->table[i].node != n)
        i = (i + 1) & z->mask;
    return i;
}

/* Takes slot i out of z's table, moving back the entries after it that
 * would no longer be found (linear probing's deletion: no tombstone, so
 * the lookup stays as it is). */
static void place_delete_slot(struct zone *z, uint32_t i)
{
    uint32_t j = i;
    for (;;) {
        j = (j + 1) & z->mask;
        if (!z->table[j].node)
            break;
        uint32_t home = z->table[j].hash & z->mask;
        /* j's entry stays when its home lies cyclically in (i, j]. */
        bool stays = i <= j ? (i < home && home <= j) : (i < home || home <= j);
        if (stays)
            continue;
        z->table[i] = z->table[j];
        i = j;
    }
    z->table[i].node = NULL;
    z->table[i].hash = 0;
    z->n_nodes--;
}

/* z's table: from's, copied, in a table large enough for grow more
 * nodes (rehashed by the hashes kept in the slots when it doubles). */
static bool place_table(struct zone *z, const struct zone *from, size_t grow)
{
    size_t size = (size_t)from->mask + 1;
    while (place_table_full(from->n_nodes + grow + 1, size) && size < (1u << 31))
        size *= 2;
    z->mask = (uint32_t)(size - 1);
    /* A mapping of its own (bigalloc.h): from malloc, glibc's threshold
     * rises after the first such block is freed and the next tables
     * come from the heap, which kept them resident (RSS 559 to 703 MB
     * over 60 changes at 1,000,000 names). zone_free gives it back. */
    z->table = bigalloc_zeroed(size, sizeof(*z->table));
    if (size == (size_t)from->mask + 1) {
        memcpy(z->table, from->table, size * sizeof(*z->table));
        return true;
    }
    for (uint32_t i = 0; i <= from->mask; i++) {
        struct zone_slot s = from->table[i];
        if (s.node)
            place_insert_raw(z->table, z->mask, s.hash, s.node);
    }
    return true;
}

/* ---- a version -------------------------------------------------------- */

static size_t place_align(size_t n)
{
    return (n + 7) & ~(size_t)7;
}

static struct zone_node *place_node_new(struct zone *z, const uint8_t *name, size_t len)
{
    struct zone_store *s = z->store;
    size_t need = place_align(zone_node_size(len));
    if (s->size - s->used < need)
        abort(); /* sized by place_cost: a bug */
    struct zone_node *n = (struct zone_node *)(s->data + s->used);
    s->used += need;
    memset(n, 0, need);
    memcpy(n->name, name, len);
    n->name_len = (uint8_t)len;
    return n;
}

/* Whether n was made by this version (its store): it may be written. */
static bool place_ours(const struct zone *z, const struct zone_node *n)
{
    const unsigned char *p = (const unsigned char *)n;
    return p >= z->store->data && p < z->store->data + z->store->size;
}

/* The octets of nodes and the nodes a name may add (itself and its
 * empty non-terminals up to the apex); false for a name placing cannot
 * take (outside the zone, a "*" label). */
static bool place_cost(const struct zone *z, const struct zone_place_name *p, size_t *octets,
                       size_t *nodes)
{
    if (p->len < z->origin_len || !dns_name_is_sub(p->name, p->len, z->origin, z->origin_len))
        return false;
    const uint8_t *name = p->name;
    size_t len = p->len;
    while (len > z->origin_len) {
        if (name[0] == 1 && name[1] == '*')
            return false;
        *octets += place_align(zone_node_size(len));
        (*nodes)++;
        len -= 1u + name[0];
        name += 1 + name[0];
    }
    return true;
}

/* The fields of from that a version keeps as they are: what they point
 * at is in from's arena or stores, held by the version's store. */
static void place_copy_fields(struct zone *z, const struct zone *from)
{
    memcpy(z->origin, from->origin, sizeof(z->origin));
    z->origin_len = from->origin_len;
    z->origin_labels = from->origin_labels;
    z->file = from->file;
    z->origin_str = from->origin_str;
    z->n_nodes = from->n_nodes;
    z->n_records = from->n_records;
    z->n_policy_names = from->n_policy_names;
    z->policy_dnames = from->policy_dnames;
    z->n_policy_dnames = from->n_policy_dnames;
    z->apex = from->apex;
    z->soa = from->soa;
    z->neg_soa = from->neg_soa;
    z->serial = from->serial;
    z->dnssec = from->dnssec;
    z->xfr_allow = from->xfr_allow;
    z->xfr_n_allow = from->xfr_n_allow;
    z->xfr_key = from->xfr_key;
    z->gen_digest = from->gen_digest;
    z->secondary = from->secondary;
    z->update = from->update;
}

/* An empty version of from: its fields, a copy of its table with room
 * for grow more nodes, a store of octets for new nodes holding what
 * from's nodes live in, and from's kids map. */
static struct zone *place_version(struct zone *from, size_t octets, size_t grow)
{
    struct zone *z = calloc(1, sizeof(*z));
    struct zone_store *s = calloc(1, sizeof(*s) + (octets ? octets : 8));
    if (!z || !s)
        abort();
    arena_init(&z->arena);
    place_copy_fields(z, from);
    s->size = octets ? octets : 8;
    if (from->store) {
        s->below = from->store;
        atomic_fetch_add(&from->store->refs, 1);
    } else {
        s->root = from;
        atomic_fetch_add(&from->store_refs, 1);
    }
    z->store = s;
    if (!place_table(z, from, grow)) {
        zone_free(z);
        return NULL;
    }
    /* The kids map moves to the new version: only the loader reads it,
     * one change at a time, always from the running version (readers
     * never look). A version freed unpublished (a change that failed, a
     * what-if) takes it with it, and the next removal counts again. A
     * copy per version was O(nodes with children): a name per customer
     * below an empty non-terminal of its own made that every node. */
    z->kids = from->kids;
    from->kids = NULL;
    return z;
}

/* n, a node of the table not made here, replaced by a copy of it with
 * flags (a policy name placed on an empty non-terminal, or an empty
 * non-terminal left where a policy name with names below it was). */
static void place_replace(struct zone *z, const struct zone_node *n, uint16_t flags)
{
    struct zone_node *c = place_node_new(z, n->name, n->name_len);
    c->wildcard = n->wildcard;
    c->flags = flags;
    z->table[place_slot_of(z, n)].node = c;
    if (z->kids) {
        uint32_t k = place_kid_count(z->kids, n);
        if (k) {
            place_kid(z->kids, n, false)->count = 0;
            place_kid(z->kids, c, true)->count = k;
        }
    }
}

/* Whether a name of len octets is at or below a node that the full
 * load's checks flag (a cut, a DNAME): those name the file's line. */
static bool place_below_marked(const struct zone *z, const uint8_t *name, size_t len)
{
    const uint16_t marks =
        ZONE_NODE_CUT | ZONE_NODE_DNAME | ZONE_NODE_BELOW_CUT | ZONE_NODE_BELOW_DNAME;
    while (len > z->origin_len) {
        len -= 1u + name[0];
        name += 1 + name[0];
        const struct zone_node *a = zone_find_node(z, name, len, dns_name_hash(name, len));
        if (a && (a->flags & marks))
            return true;
    }
    return false;
}

/* Adds policy name p with flags: its node and missing empty
 * non-terminals. False: a case for the full load. */
static bool place_add(struct zone *z, const uint8_t *name, size_t len, uint16_t flags)
{
    const struct zone_node *n = zone_find_node(z, name, len, dns_name_hash(name, len));
    if (n && (n->flags & ZONE_POLICY_FLAGS) == flags)
        return true;
    if (n && (n->n_rrsets || (n->flags & ~PLACE_FLAGS_OK) || (n->flags & ZONE_POLICY_FLAGS)))
        return false; /* the file's data there, or other types on a policy name */
    if (place_below_marked(z, name, len))
        return false;
    z->n_policy_names++;
    if (n) { /* an empty non-terminal becomes a policy name */
        if (place_ours(z, n))
            ((struct zone_node *)n)->flags = flags;
        else
            place_replace(z, n, flags);
        return true;
    }
    struct zone_node *c = place_node_new(z, name, len);
    c->flags = flags;
    place_insert(z, c);
    /* Its empty non-terminals up to the first node there is. */
    while (len > z->origin_len) {
        len -= 1u + name[0];
        name += 1 + name[0];
        const struct zone_node *a = zone_find_node(z, name, len, dns_name_hash(name, len));
        bool existed = a != NULL;
        if (!a) {
            a = place_node_new(z, name, len);
            place_insert(z, a);
        }
        if (z->kids)
            place_kid(z->kids, a, true)->count++;
        if (existed)
            break;
    }
    return true;
}

/* Whether n is an empty non-terminal the version may take out: no data,
 * no flag (not the apex), no wildcard child. */
static bool place_is_ent(const struct zone_node *n)
{
    return n->n_rrsets == 0 && n->flags == 0 && !n->wildcard;
}

/* Removes policy name p: its node, or its policy types when names remain
 * below it; then the empty non-terminals left with nothing below. */
static bool place_remove(struct zone *z, const uint8_t *name, size_t len)
{
    const struct zone_node *n = zone_find_node(z, name, len, dns_name_hash(name, len));
    if (!n || !(n->flags & ZONE_POLICY_FLAGS))
        return true; /* not a policy name here: nothing to take */
    if (n->n_rrsets || (n->flags & ~PLACE_FLAGS_OK))
        return false;
    if (!z->kids)
        z->kids = place_kids_count(z);
    z->n_policy_names--;
    if (place_kid_count(z->kids, n) > 0) {
        if (place_ours(z, n))
            ((struct zone_node *)n)->flags = 0;
        else
            place_replace(z, n, 0);
        return true;
    }
    for (;;) {
        const struct zone_node *p = place_parent(z, n->name, n->name_len);
        place_delete_slot(z, place_slot_of(z, n));
        struct zone_kid *k = p ? place_kid(z->kids, p, false) : NULL;
        if (!k || k->count == 0)
            return true; /* the apex, or a count out of step: nothing above */
        if (--k->count > 0 || !place_is_ent(p) || p == z->apex)
            return true;
        n = p;
    }
}

/* The flags of names[i]'s name over every entry (the union of the
 * present ones), and whether i is its first entry. */
static bool place_merge(const struct zone_place_name *names, size_t n, size_t i, uint16_t *flags)
{
    *flags = 0;
    for (size_t j = 0; j < n; j++) {
        if (names[j].len != names[i].len || memcmp(names[j].name, names[i].name, names[i].len))
            continue;
        if (j < i)
            return false;
        if (names[j].present)
            *flags |= names[j].flags;
    }
    return true;
}

struct zone *zone_place(struct zone *from, const struct zone_place_name *names, size_t n,
                        size_t *added, size_t *removed)
{
    if (!zone_place_eligible(from) || n > ZONE_PLACE_MAX)
        return NULL;
    size_t octets = 0, grow = 0, a = 0, r = 0;
    for (size_t i = 0; i < n; i++)
        if (!place_cost(from, &names[i], &octets, &grow))
            return NULL;
    struct zone *z = place_version(from, octets, grow);
    if (!z)
        return NULL;
    for (size_t i = 0; i < n; i++) {
        uint16_t flags;
        if (!place_merge(names, n, i, &flags))
            continue;
        size_t before = z->n_policy_names;
        bool ok = flags ? place_add(z, names[i].name, names[i].len, flags)
                        : place_remove(z, names[i].name, names[i].len);
        if (!ok) {
            zone_free(z);
            return NULL;
        }
        a += z->n_policy_names > before;
        r += z->n_policy_names < before;
    }
    if (added)
        *added = a;
    if (removed)
        *removed = r;
    return z;
}

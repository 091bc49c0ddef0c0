/*
 * zone_build.c -- compiles parsed records into a struct zone.
 */
#include "zone/zone_build.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "dns/dns.h"
#include "dns/name.h"
#include "zone/zone_build_int.h"

void zone_builder_init(struct zone_builder *b, const uint8_t *origin, size_t origin_len,
                       const char *origin_str, const char *file, struct errlist *errs)
{
    memset(b, 0, sizeof(*b));
    b->z = calloc(1, sizeof(*b->z));
    if (!b->z)
        abort();
    arena_init(&b->z->arena);
    arena_init(&b->tmp);
    memcpy(b->z->origin, origin, origin_len);
    b->z->origin_len = (uint8_t)origin_len;
    b->z->origin_labels = (uint8_t)dns_name_label_count(origin);
    b->z->origin_str = arena_strdup(&b->z->arena, origin_str);
    b->z->file = arena_strdup(&b->z->arena, file);
    b->errs = errs;
    b->files[0] = b->z->file;
    b->n_files = 1;
}

uint16_t zone_builder_add_file(struct zone_builder *b, const char *path)
{
    if (b->n_files >= sizeof(b->files) / sizeof(b->files[0]))
        return 0;
    b->files[b->n_files] = arena_strdup(&b->tmp, path);
    return b->n_files++;
}

/* A sort key ordered exactly as (owner length, owner octets) are on the
 * owner's first 7 octets: memcmp of the owners was a quarter of the CPU
 * of loading the 1M-record zone (perf), most of it on owners that differ
 * there already. */
static uint64_t build_rr_key(const uint8_t *owner, size_t len)
{
    uint64_t k = (uint64_t)len << 56;
    for (size_t i = 0; i < 7 && i < len; i++)
        k |= (uint64_t)owner[i] << (48 - 8 * i);
    return k;
}

void zone_builder_add(struct zone_builder *b, const uint8_t *owner, size_t owner_len, uint16_t type,
                      uint32_t ttl, const uint8_t *rdata, size_t rdlen, uint16_t file_idx,
                      uint32_t line)
{
    if (b->n == b->cap) {
        size_t ncap = b->cap ? b->cap * 2 : 256;
        struct zone_rr_in *n = realloc(b->rrs, ncap * sizeof(*n));
        if (!n)
            abort();
        b->rrs = n;
        b->cap = ncap;
    }
    struct zone_rr_in *r = &b->rrs[b->n++];
    uint8_t *o = arena_memdup_bytes(&b->tmp, owner, owner_len);
    dns_name_lower(o, owner_len);
    r->owner = o;
    r->owner_len = (uint8_t)owner_len;
    r->key = build_rr_key(o, owner_len);
    r->rdata = arena_memdup_bytes(&b->tmp, rdata, rdlen);
    r->rdlen = (uint16_t)rdlen;
    r->type = type;
    r->ttl = ttl;
    r->file_idx = file_idx;
    r->line = line;
}

void zone_builder_adopt(struct zone_builder *b, struct zone_builder *part)
{
    if (b->n + part->n > b->cap) {
        size_t ncap = b->n + part->n;
        struct zone_rr_in *n = realloc(b->rrs, ncap * sizeof(*n));
        if (!n)
            abort();
        b->rrs = n;
        b->cap = ncap;
    }
    if (part->n)
        memcpy(b->rrs + b->n, part->rrs, part->n * sizeof(*part->rrs));
    b->n += part->n;
    arena_adopt(&b->tmp, &part->tmp);
    free(part->rrs);
    part->rrs = NULL;
    part->n = part->cap = 0;
}

void zone_builder_add_name(struct zone_builder *b, const uint8_t *name, size_t len)
{
    zone_builder_add_name_flags(b, name, len, 0);
}

void zone_builder_add_name_flags(struct zone_builder *b, const uint8_t *name, size_t len,
                                 uint16_t flags)
{
    if (b->n_names == b->cap_names) {
        size_t ncap = b->cap_names ? b->cap_names * 2 : 16;
        const uint8_t **n = realloc(b->names, ncap * sizeof(*n));
        uint16_t *f = realloc(b->name_flags, ncap * sizeof(*f));
        if (!n || !f)
            abort();
        b->names = n;
        b->name_flags = f;
        b->cap_names = ncap;
    }
    uint8_t *copy = arena_memdup(&b->tmp, name, len);
    dns_name_lower(copy, len);
    b->name_flags[b->n_names] = flags;
    b->names[b->n_names++] = copy;
}

static int build_rr_cmp(const void *pa, const void *pb)
{
    const struct zone_rr_in *a = pa, *b = pb;
    if (a->key != b->key)
        return a->key < b->key ? -1 : 1;
    if (a->owner_len != b->owner_len)
        return a->owner_len < b->owner_len ? -1 : 1;
    int c = memcmp(a->owner, b->owner, a->owner_len);
    if (c)
        return c;
    if (a->type != b->type)
        return a->type < b->type ? -1 : 1;
    if (a->rdlen != b->rdlen)
        return a->rdlen < b->rdlen ? -1 : 1;
    c = memcmp(a->rdata, b->rdata, a->rdlen);
    if (c)
        return c;
    /* Keep file order among duplicates so errors name the first line. */
    return a->line < b->line ? -1 : a->line > b->line;
}

/* ---- sorting --------------------------------------------------------------- */

struct build_sort_ent {
    uint64_t key;
    size_t idx;
};

/* Sorts ents[0, n) by key: LSD radix, a byte a pass, passes where every
 * key has the same byte skipped. tmp has room for n. */
static void build_radix(struct build_sort_ent *ents, struct build_sort_ent *tmp, size_t n)
{
    for (unsigned shift = 0; shift < 64; shift += 8) {
        size_t count[256] = {0};
        for (size_t i = 0; i < n; i++)
            count[(ents[i].key >> shift) & 255]++;
        if (count[(ents[0].key >> shift) & 255] == n)
            continue;
        size_t at = 0;
        for (size_t d = 0; d < 256; d++) {
            size_t c = count[d];
            count[d] = at;
            at += c;
        }
        for (size_t i = 0; i < n; i++)
            tmp[count[(ents[i].key >> shift) & 255]++] = ents[i];
        memcpy(ents, tmp, n * sizeof(*ents));
    }
}

/* Octets [at, at + 8) of an owner as a big-endian number (zeros past
 * its end): within records of one owner length, ordered as memcmp orders
 * the owners on those octets. */
static uint64_t build_owner_word(const struct zone_rr_in *r, size_t at)
{
    uint64_t k = 0;
    if (at + 8 <= r->owner_len) {
        memcpy(&k, r->owner + at, 8);
#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
        k = __builtin_bswap64(k);
#endif
        return k;
    }
    for (size_t i = 0; i < 8; i++)
        k = (k << 8) | (at + i < r->owner_len ? r->owner[at + i] : 0);
    return k;
}

/* Sorts rrs[0, n) (a run that agrees on the owner's length and octets
 * before at) in build_rr_cmp's order: a radix sort on the owner's next 8
 * octets, then each run that agrees on those too the same way, down to
 * the owner's end, where build_rr_cmp orders the rest (one owner's
 * records: type, RDATA, line). ents and tmp have room for n. */
static void build_sort_run(struct zone_rr_in *rrs, size_t n, size_t at, struct build_sort_ent *ents,
                           struct build_sort_ent *tmp, struct zone_rr_in *out)
{
    if (at >= rrs[0].owner_len || n < 16) {
        qsort(rrs, n, sizeof(*rrs), build_rr_cmp);
        return;
    }
    for (size_t i = 0; i < n; i++)
        ents[i] = (struct build_sort_ent){build_owner_word(&rrs[i], at), i};
    build_radix(ents, tmp, n);
    for (size_t i = 0; i < n; i++)
        out[i] = rrs[ents[i].idx];
    memcpy(rrs, out, n * sizeof(*rrs));
    for (size_t i = 0; i < n;) {
        size_t j = i + 1;
        uint64_t w = build_owner_word(&rrs[i], at);
        while (j < n && build_owner_word(&rrs[j], at) == w)
            j++;
        if (j - i > 1)
            build_sort_run(rrs + i, j - i, at + 8, ents, tmp, out);
        i = j;
    }
}

/* Sorts b->rrs in build_rr_cmp's order: by key (length and first 7
 * octets of the owner, a radix sort), then each run of equal keys by the
 * rest of the owner (build_sort_run). qsort of the 40-octet records with
 * build_rr_cmp was a third of the CPU of loading the 1M-record zone
 * (perf: memcmp, memmove, the comparisons); names such as
 * sel1._domainkey.cust-N share their first octets by the thousand. */
static void build_sort(struct zone_builder *b)
{
    size_t n = b->n;
    struct build_sort_ent *ents = malloc(n * sizeof(*ents));
    struct build_sort_ent *tmp = malloc(n * sizeof(*tmp));
    struct zone_rr_in *out = malloc(n * sizeof(*out));
    if (!ents || !tmp || !out)
        abort();
    for (size_t i = 0; i < n; i++)
        ents[i] = (struct build_sort_ent){b->rrs[i].key, i};
    build_radix(ents, tmp, n);
    for (size_t i = 0; i < n; i++)
        out[i] = b->rrs[ents[i].idx];
    struct zone_rr_in *rrs = out;
    out = b->rrs; /* scratch from here on */
    b->rrs = rrs;
    for (size_t i = 0; i < n;) {
        size_t j = i + 1;
        while (j < n && rrs[j].key == rrs[i].key)
            j++;
        if (j - i > 1)
            build_sort_run(rrs + i, j - i, 7, ents, tmp, out);
        i = j;
    }
    free(out);
    free(tmp);
    free(ents);
    b->cap = n;
}

int zone_rdata_target_offset(uint16_t type)
{
    switch (type) {
    case DNS_TYPE_NS:
    case DNS_TYPE_CNAME:
    case DNS_TYPE_PTR:
        return 0;
    case DNS_TYPE_MX:
        return 2;
    case DNS_TYPE_SRV:
        return 6;
    default:
        return -1;
    }
}

/* ---- hash table ---------------------------------------------------------- */

static void build_table_insert_raw(struct zone_slot *table, uint32_t mask,
                                   const struct zone_node *n)
{
    uint32_t h = dns_name_hash(n->name, n->name_len);
    uint32_t i = h & mask;
    while (table[i].node)
        i = (i + 1) & mask;
    table[i].hash = h;
    table[i].node = n;
}

/* The table is kept at most 60 % full: a lookup (the hash beside each
 * pointer) then probes about 1.5 slots for a name that exists and 3 for
 * one that does not. Half full, as before, cost 16 MB more for the
 * 1M-record zone (2M slots for its 557k names instead of 1M) and the same
 * table for a zone of 10,000 names. */
static bool build_table_full(size_t n, size_t slots)
{
    return n * 5 > slots * 3;
}

static void build_table_insert(struct zone *z, const struct zone_node *n)
{
    if (build_table_full(z->n_nodes + 1, (size_t)z->mask + 1)) {
        uint32_t nsize = (z->mask + 1) * 2;
        struct zone_slot *nt = calloc(nsize, sizeof(*nt));
        if (!nt)
            abort();
        for (uint32_t i = 0; i <= z->mask; i++)
            if (z->table[i].node)
                build_table_insert_raw(nt, nsize - 1, z->table[i].node);
        free(z->table);
        z->table = nt;
        z->mask = nsize - 1;
    }
    build_table_insert_raw(z->table, z->mask, n);
    z->n_nodes++;
}

/* Sizes the empty table for n nodes, as the doubling in build_table_insert
 * would end for n. Growing from 1,024 slots rehashed
 * every node about twice over: build_table_insert_raw was 9 % of the
 * 1M-record load (perf), about half of it in the rehashes. */
static void build_table_reserve(struct zone *z, size_t n)
{
    uint32_t size = 1024;
    while (build_table_full(n + 1, size) && size < (1u << 31))
        size *= 2;
    z->mask = size - 1;
    z->table = calloc(size, sizeof(*z->table));
}

struct zone_node *zone_build_find(struct zone *z, const uint8_t *name, size_t len)
{
    return (struct zone_node *)zone_find_node(z, name, len, dns_name_hash(name, len));
}

/* ---- grouping -------------------------------------------------------------- */

static const char *build_file(const struct zone_builder *b, const struct zone_rr_in *r)
{
    return b->files[r->file_idx];
}

void zone_build_rrset(struct zone_builder *b, const struct zone_rr_in *rrs, struct zone_rrset *set,
                      size_t i, size_t j)
{
    size_t total = 0;
    uint32_t ttl = rrs[i].ttl;
    uint16_t count = 0;
    for (size_t k = i; k < j; k++) {
        if (k > i && rrs[k].rdlen == rrs[k - 1].rdlen &&
            memcmp(rrs[k].rdata, rrs[k - 1].rdata, rrs[k].rdlen) == 0)
            continue; /* duplicate record: RFC 2181 §5 sets hold each once */
        total += 2 + (size_t)rrs[k].rdlen;
        if (rrs[k].ttl != ttl) {
            /* RRSIGs at one name are not an RRset: each has the TTL of
             * the RRset it covers (RFC 4034 §3). */
            if (rrs[k].type != DNS_TYPE_RRSIG) {
                char nb[1024];
                dns_name_to_str(rrs[k].owner, nb, sizeof(nb));
                log_warn("%s:%u: TTLs differ within the RRset %s type %u; using the lowest "
                         "(RFC 2181 §5.2)",
                         build_file(b, &rrs[k]), rrs[k].line, nb, rrs[k].type);
            }
            if (rrs[k].ttl < ttl)
                ttl = rrs[k].ttl;
        }
        count++;
    }
    uint8_t *data = arena_alloc_bytes(&b->z->arena, total); /* filled whole below */
    size_t o = 0;
    for (size_t k = i; k < j; k++) {
        if (k > i && rrs[k].rdlen == rrs[k - 1].rdlen &&
            memcmp(rrs[k].rdata, rrs[k - 1].rdata, rrs[k].rdlen) == 0)
            continue;
        dns_put16(data + o, rrs[k].rdlen);
        memcpy(data + o + 2, rrs[k].rdata, rrs[k].rdlen);
        o += 2 + (size_t)rrs[k].rdlen;
    }
    set->rdata = data;
    set->rdata_len = (uint32_t)total;
    set->ttl = ttl;
    set->type = rrs[i].type;
    set->count = count;
    b->z->n_records += count;
}

/* Creates the node for records [i, j) sharing one owner. */
static struct build_node *build_node_make(struct zone_builder *b, size_t i, size_t j)
{
    struct build_node *bn = arena_alloc(&b->tmp, sizeof(*bn));
    /* outlives the build */
    bn->node = arena_alloc(&b->z->arena, zone_node_size(b->rrs[i].owner_len));
    size_t ntypes = 0;
    for (size_t k = i; k < j; k++)
        if (k == i || b->rrs[k].type != b->rrs[k - 1].type)
            ntypes++;
    struct zone_rrset *sets = arena_alloc(&b->z->arena, ntypes * sizeof(*sets));
    size_t s = 0, start = i;
    for (size_t k = i + 1; k <= j; k++) {
        if (k == j || b->rrs[k].type != b->rrs[start].type) {
            zone_build_rrset(b, b->rrs, &sets[s++], start, k);
            start = k;
        }
    }
    memcpy(bn->node->name, b->rrs[i].owner, b->rrs[i].owner_len);
    bn->node->name_len = b->rrs[i].owner_len;
    bn->node->rrsets = sets;
    bn->node->n_rrsets = (uint16_t)ntypes;
    bn->first_rr = i;
    bn->n_rr = j - i;
    return bn;
}

/* Inserts the empty non-terminals between a node and the apex. */
static void build_add_ancestors(struct zone *z, const uint8_t *name, size_t len)
{
    while (len > z->origin_len) {
        len -= 1 + (size_t)name[0];
        name += 1 + name[0];
        if (zone_build_find(z, name, len))
            return;
        struct zone_node *ent = arena_alloc(&z->arena, zone_node_size(len));
        memcpy(ent->name, name, len);
        ent->name_len = (uint8_t)len;
        build_table_insert(z, ent);
    }
}

/* Creates the nodes of names added without records. */
static void build_add_names(struct zone_builder *b)
{
    for (size_t i = 0; i < b->n_names; i++) {
        size_t len = dns_name_wire_len(b->names[i]);
        struct zone_node *n = (struct zone_node *)zone_build_find(b->z, b->names[i], len);
        if (n) {
            b->z->n_policy_names += b->name_flags[i] && !(n->flags & ZONE_POLICY_FLAGS);
            n->flags |= b->name_flags[i];
            continue;
        }
        n = arena_alloc(&b->z->arena, zone_node_size(len));
        memcpy(n->name, b->names[i], len);
        n->name_len = (uint8_t)len;
        n->flags |= b->name_flags[i];
        b->z->n_policy_names += b->name_flags[i] != 0;
        build_table_insert(b->z, n);
        build_add_ancestors(b->z, n->name, n->name_len);
    }
}

/* Moves the NSEC3 records and the RRSIGs covering them out of b->rrs
 * into b->nsec3_rrs, keeping both in sorted order. */
static void build_split_nsec3(struct zone_builder *b)
{
    size_t keep = 0;
    for (size_t i = 0; i < b->n; i++) {
        const struct zone_rr_in *r = &b->rrs[i];
        bool nsec3 = r->type == DNS_TYPE_NSEC3 || (r->type == DNS_TYPE_RRSIG && r->rdlen >= 2 &&
                                                   dns_get16(r->rdata) == DNS_TYPE_NSEC3);
        if (!nsec3) {
            b->rrs[keep++] = *r;
            continue;
        }
        if (!b->nsec3_rrs) {
            b->nsec3_rrs = malloc(b->n * sizeof(*b->nsec3_rrs));
            if (!b->nsec3_rrs)
                abort();
        }
        b->nsec3_rrs[b->n_nsec3++] = *r;
    }
    b->n = keep;
}

struct zone *zone_builder_finish(struct zone_builder *b)
{
    struct zone *z = b->z;
    size_t errors_before = b->errs->count;
    struct build_node **nodes = NULL;
    size_t n_nodes = 0;

    if (b->n > 1) /* b->rrs is NULL for a file without records: qsort's nonnull */
        build_sort(b);
    build_split_nsec3(b);
    nodes = malloc((b->n + 1) * sizeof(*nodes));
    if (!nodes)
        abort();
    for (size_t i = 0; i < b->n;) {
        size_t j = i + 1;
        while (j < b->n && b->rrs[j].key == b->rrs[i].key &&
               memcmp(b->rrs[j].owner, b->rrs[i].owner, b->rrs[i].owner_len) == 0)
            j++;
        nodes[n_nodes++] = build_node_make(b, i, j);
        i = j;
    }
    build_table_reserve(z, n_nodes + b->n_names);
    if (!z->table)
        abort();
    for (size_t i = 0; i < n_nodes; i++)
        build_table_insert(z, nodes[i]->node);
    for (size_t i = 0; i < n_nodes; i++)
        build_add_ancestors(z, nodes[i]->node->name, nodes[i]->node->name_len);
    build_add_names(b);
    zone_check_all(b, nodes, n_nodes);
    if (b->errs->count == errors_before)
        zone_check_additionals(b, nodes, n_nodes);
    if (b->errs->count == errors_before)
        zone_dnssec_build(b, nodes, n_nodes);
    free(nodes);
    free(b->rrs);
    free(b->nsec3_rrs);
    b->nsec3_rrs = NULL;
    free(b->names);
    free(b->name_flags);
    arena_free(&b->tmp);
    b->rrs = NULL;
    b->z = NULL;
    if (b->errs->count != errors_before) {
        zone_free(z);
        return NULL;
    }
    return z;
}

void zone_builder_abort(struct zone_builder *b)
{
    free(b->nsec3_rrs);
    b->nsec3_rrs = NULL;
    free(b->rrs);
    free(b->names);
    free(b->name_flags);
    arena_free(&b->tmp);
    zone_free(b->z);
    b->rrs = NULL;
    b->z = NULL;
}

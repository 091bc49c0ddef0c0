/*
 * zone_dnssec.c -- the DNSSEC parts of a compiled zone, found at load so
 * that answering with DO=1 needs no search beyond one binary search and,
 * for NSEC3, one hash of the next closer name:
 *
 *  - every RRset points at the RRSIGs covering it (zone_rrset.sigs);
 *  - the NSEC chain (nodes with an NSEC RRset, in canonical order) or the
 *    NSEC3 chain (NSEC3 RRsets of the zone's parameters, by hash) as an
 *    array for zone_nsec_find/zone_nsec3_find;
 *  - per node, the record that matches (or, NSEC, covers) its name and the
 *    one covering "*.name" (zone_node.denial);
 *  - the SOA's RRSIGs with the negative TTL, for negative answers.
 *
 * Whether the signatures are valid is zone_verify.c's business (gtmd check
 * and load); this file only arranges what the file holds.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dns/dns.h"
#include "dns/dnssec.h"
#include "dns/name.h"
#include "zone/zone_build_int.h"

static bool dnssec_is_dnssec_type(uint16_t t)
{
    return t == DNS_TYPE_DNSKEY || t == DNS_TYPE_RRSIG || t == DNS_TYPE_NSEC ||
           t == DNS_TYPE_NSEC3 || t == DNS_TYPE_NSEC3PARAM;
}

static bool dnssec_covers(const struct zone_rr_in *r, uint16_t covered)
{
    return r->type == DNS_TYPE_RRSIG && r->rdlen >= 18 && dns_rrsig_covered(r->rdata) == covered;
}

static bool dnssec_dup(const struct zone_rr_in *rrs, size_t k, size_t first)
{
    return k > first && rrs[k].type == rrs[k - 1].type && rrs[k].rdlen == rrs[k - 1].rdlen &&
           memcmp(rrs[k].rdata, rrs[k - 1].rdata, rrs[k].rdlen) == 0;
}

/* The RRSIG records among rrs[i, j) that cover 'covered', as one RRset in
 * the zone's arena (TTL: the lowest of them); NULL when there are none.
 * These are copies of records the node's RRSIG RRset already counts. */
static const struct zone_rrset *dnssec_sigs_for(struct zone_builder *b,
                                                const struct zone_rr_in *rrs, size_t i, size_t j,
                                                uint16_t covered)
{
    size_t total = 0;
    uint16_t count = 0;
    uint32_t ttl = UINT32_MAX;
    for (size_t k = i; k < j; k++) {
        if (!dnssec_covers(&rrs[k], covered) || dnssec_dup(rrs, k, i))
            continue;
        total += 2 + (size_t)rrs[k].rdlen;
        count++;
        if (rrs[k].ttl < ttl)
            ttl = rrs[k].ttl;
    }
    if (count == 0)
        return NULL;
    struct zone_rrset *set = arena_alloc(&b->z->arena, sizeof(*set));
    uint8_t *data = arena_alloc(&b->z->arena, total);
    size_t o = 0;
    for (size_t k = i; k < j; k++) {
        if (!dnssec_covers(&rrs[k], covered) || dnssec_dup(rrs, k, i))
            continue;
        dns_put16(data + o, rrs[k].rdlen);
        memcpy(data + o + 2, rrs[k].rdata, rrs[k].rdlen);
        o += 2 + (size_t)rrs[k].rdlen;
    }
    set->rdata = data;
    set->rdata_len = (uint32_t)total;
    set->ttl = ttl;
    set->type = DNS_TYPE_RRSIG;
    set->count = count;
    return set;
}

/* Points every RRset of a node at the RRSIGs covering it. */
static void dnssec_link_node(struct zone_builder *b, struct build_node *bn)
{
    size_t i = bn->first_rr, j = bn->first_rr + bn->n_rr;
    if (!zone_node_rrset(bn->node, DNS_TYPE_RRSIG))
        return;
    for (uint16_t k = 0; k < bn->node->n_rrsets; k++) {
        struct zone_rrset *set = (struct zone_rrset *)&bn->node->rrsets[k];
        if (set->type != DNS_TYPE_RRSIG)
            set->sigs = dnssec_sigs_for(b, b->rrs, i, j, set->type);
    }
}

static int dnssec_canon_cmp(const void *pa, const void *pb)
{
    const struct zone_denial *a = pa, *b = pb;
    return dns_name_canon_cmp(a->owner, a->owner_len, b->owner, b->owner_len);
}

static int dnssec_hash_cmp(const void *pa, const void *pb)
{
    const struct zone_denial *a = pa, *b = pb;
    return memcmp(a->hash, b->hash, DNS_SHA1_LEN);
}

/* The NSEC chain: every node with an NSEC RRset, in canonical order. */
static void dnssec_nsec_chain(struct zone_builder *b, struct build_node **nodes, size_t n)
{
    struct zone *z = b->z;
    size_t count = 0;
    for (size_t i = 0; i < n; i++)
        count += zone_node_rrset(nodes[i]->node, DNS_TYPE_NSEC) != NULL;
    if (count == 0)
        return;
    struct zone_denial *chain = arena_alloc(&z->arena, count * sizeof(*chain));
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        const struct zone_rrset *nsec = zone_node_rrset(nodes[i]->node, DNS_TYPE_NSEC);
        if (!nsec)
            continue;
        chain[k].owner = nodes[i]->node->name;
        chain[k].owner_len = nodes[i]->node->name_len;
        chain[k].rrset = nsec;
        k++;
    }
    qsort(chain, count, sizeof(*chain), dnssec_canon_cmp);
    z->dnssec.kind = ZONE_DENIAL_NSEC;
    z->dnssec.chain = chain;
    z->dnssec.n_chain = (uint32_t)count;
}

/* The NSEC3 parameters of the zone: its NSEC3PARAM, else the first NSEC3.
 * False (with an error) when they are unusable. */
static bool dnssec_nsec3_params(struct zone_builder *b, struct dns_nsec3_params *p)
{
    struct zone *z = b->z;
    const struct zone_node *apex = zone_build_find(z, z->origin, z->origin_len);
    const struct zone_rrset *param = apex ? zone_node_rrset(apex, DNS_TYPE_NSEC3PARAM) : NULL;
    bool ok = param ? dns_nsec3_params_parse(param->rdata + 2, dns_get16(param->rdata), p)
                    : dns_nsec3_params_parse(b->nsec3_rrs[0].rdata, b->nsec3_rrs[0].rdlen, p);
    const char *what = param ? "NSEC3PARAM" : "NSEC3";
    z->dnssec.has_nsec3param = param != NULL;
    if (!ok)
        errlist_add(b->errs, "%s: zone %s: malformed %s record", z->file, z->origin_str, what);
    else if (p->alg != DNS_NSEC3_HASH_SHA1)
        errlist_add(b->errs, "%s: zone %s: %s hash algorithm %u is unknown (only 1, SHA-1)",
                    z->file, z->origin_str, what, p->alg);
    else if (p->iterations > DNS_NSEC3_MAX_ITERATIONS)
        errlist_add(b->errs, "%s: zone %s: %s iterations %u above %u (RFC 5155 §10.3)", z->file,
                    z->origin_str, what, p->iterations, DNS_NSEC3_MAX_ITERATIONS);
    else {
        z->dnssec.nsec3_iterations = p->iterations;
        z->dnssec.nsec3_salt_len = p->salt_len;
        memcpy(z->dnssec.nsec3_salt, p->salt, p->salt_len);
        return true;
    }
    return false;
}

static bool dnssec_same_params(const struct zone_rr_in *r, const struct zone *z)
{
    struct dns_nsec3_params p;
    return r->type == DNS_TYPE_NSEC3 && dns_nsec3_params_parse(r->rdata, r->rdlen, &p) &&
           p.alg == DNS_NSEC3_HASH_SHA1 && p.iterations == z->dnssec.nsec3_iterations &&
           p.salt_len == z->dnssec.nsec3_salt_len &&
           memcmp(p.salt, z->dnssec.nsec3_salt, p.salt_len) == 0;
}

/* Fills d from the NSEC3 owner group rrs[i, j); false when the owner is not
 * a hash directly below the apex or the group has no NSEC3 of the zone's
 * parameters (another chain, ignored). */
static bool dnssec_nsec3_entry(struct zone_builder *b, size_t i, size_t j, struct zone_denial *d)
{
    struct zone *z = b->z;
    const struct zone_rr_in *rrs = b->nsec3_rrs;
    const uint8_t *o = rrs[i].owner;
    if (rrs[i].owner_len != 1u + o[0] + z->origin_len ||
        memcmp(o + 1 + o[0], z->origin, z->origin_len) != 0 ||
        dns_base32hex_decode(o + 1, o[0], d->hash, sizeof(d->hash)) != DNS_SHA1_LEN) {
        char nb[1024];
        dns_name_to_str(o, nb, sizeof(nb));
        errlist_add(b->errs, "%s:%u: %s: NSEC3 owner is not a SHA-1 hash directly below the apex",
                    b->files[rrs[i].file_idx], rrs[i].line, nb);
        return false;
    }
    /* The records of the zone's chain, copied next to each other. */
    struct zone_rr_in *mine = malloc((j - i) * sizeof(*mine));
    if (!mine)
        abort();
    size_t m = 0;
    for (size_t k = i; k < j; k++) {
        if (dnssec_same_params(&rrs[k], z))
            mine[m++] = rrs[k];
        else if (rrs[k].type == DNS_TYPE_NSEC3)
            z->dnssec.n_nsec3_foreign++;
    }
    if (m == 0) {
        free(mine);
        return false;
    }
    struct zone_rrset *set = arena_alloc(&z->arena, sizeof(*set));
    zone_build_rrset(b, mine, set, 0, m);
    free(mine);
    set->sigs = dnssec_sigs_for(b, rrs, i, j, DNS_TYPE_NSEC3);
    z->n_records += set->sigs ? set->sigs->count : 0;
    d->owner = arena_memdup(&z->arena, o, rrs[i].owner_len);
    d->owner_len = rrs[i].owner_len;
    d->rrset = set;
    return true;
}

/* The NSEC3 chain from b->nsec3_rrs, sorted by hash. */
static void dnssec_nsec3_chain(struct zone_builder *b)
{
    struct zone *z = b->z;
    struct dns_nsec3_params p;
    const struct zone_rr_in *rrs = b->nsec3_rrs;
    if (!dnssec_nsec3_params(b, &p))
        return;
    size_t groups = 0;
    for (size_t i = 0; i < b->n_nsec3; i++)
        groups += i == 0 || rrs[i].owner_len != rrs[i - 1].owner_len ||
                  memcmp(rrs[i].owner, rrs[i - 1].owner, rrs[i].owner_len) != 0;
    struct zone_denial *chain = arena_alloc(&z->arena, groups * sizeof(*chain));
    size_t n = 0;
    for (size_t i = 0; i < b->n_nsec3;) {
        size_t j = i + 1;
        while (j < b->n_nsec3 && rrs[j].owner_len == rrs[i].owner_len &&
               memcmp(rrs[j].owner, rrs[i].owner, rrs[i].owner_len) == 0)
            j++;
        if (dnssec_nsec3_entry(b, i, j, &chain[n]))
            n++;
        i = j;
    }
    qsort(chain, n, sizeof(*chain), dnssec_hash_cmp);
    z->dnssec.kind = ZONE_DENIAL_NSEC3;
    z->dnssec.chain = chain;
    z->dnssec.n_chain = (uint32_t)n;
}

/* The record covering "*.name" (prefix the wildcard label), or NULL. */
static const struct zone_denial *dnssec_wild_cover(const struct zone *z, const struct zone_node *n)
{
    uint8_t wild[DNS_MAX_NAME];
    size_t len = 2u + n->name_len;
    if (len > DNS_MAX_NAME)
        return NULL;
    wild[0] = 1;
    wild[1] = '*';
    memcpy(wild + 2, n->name, n->name_len);
    if (z->dnssec.kind == ZONE_DENIAL_NSEC)
        return zone_nsec_find(z, wild, len);
    uint8_t h[DNS_SHA1_LEN];
    bool exact;
    dns_nsec3_hash(wild, len, z->dnssec.nsec3_salt, z->dnssec.nsec3_salt_len,
                   z->dnssec.nsec3_iterations, h);
    return zone_nsec3_find(z, h, &exact);
}

/* Every node that a lookup can stop at gets its denial records. */
static void dnssec_node_denials(struct zone *z)
{
    for (uint32_t i = 0; i <= z->mask; i++) {
        struct zone_node *n = (struct zone_node *)z->table[i].node;
        if (!n || (n->flags & ZONE_NODE_BELOW_CUT))
            continue;
        struct zone_node_denial *d = arena_alloc(&z->arena, sizeof(*d));
        if (z->dnssec.kind == ZONE_DENIAL_NSEC)
            d->match = zone_nsec_find(z, n->name, n->name_len);
        else {
            uint8_t h[DNS_SHA1_LEN];
            bool exact;
            dns_nsec3_hash(n->name, n->name_len, z->dnssec.nsec3_salt, z->dnssec.nsec3_salt_len,
                           z->dnssec.nsec3_iterations, h);
            const struct zone_denial *m = zone_nsec3_find(z, h, &exact);
            d->match = exact ? m : NULL;
        }
        d->wild = n->wildcard ? NULL : dnssec_wild_cover(z, n);
        n->denial = d;
    }
}

/* The SOA's RRSIGs with the TTL of the negative SOA (RFC 2308 §5: the
 * signatures go with the SOA as answered), as NSD and Knot give them. */
static void dnssec_neg_soa(struct zone *z)
{
    if (!z->soa || !z->soa->sigs)
        return;
    z->dnssec.neg_soa_sigs = *z->soa->sigs;
    if (z->neg_soa.ttl < z->dnssec.neg_soa_sigs.ttl)
        z->dnssec.neg_soa_sigs.ttl = z->neg_soa.ttl;
    z->neg_soa.sigs = &z->dnssec.neg_soa_sigs;
}

void zone_dnssec_build(struct zone_builder *b, struct build_node **nodes, size_t n)
{
    struct zone *z = b->z;
    bool any = b->n_nsec3 > 0, nsec = false;
    for (size_t i = 0; i < n; i++) {
        for (uint16_t k = 0; k < nodes[i]->node->n_rrsets; k++) {
            uint16_t t = nodes[i]->node->rrsets[k].type;
            any = any || dnssec_is_dnssec_type(t);
            nsec = nsec || t == DNS_TYPE_NSEC;
        }
        dnssec_link_node(b, nodes[i]);
    }
    z->dnssec.has_dnssec_records = any;
    if (!any)
        return;
    z->dnssec.signed_apex =
        z->apex && zone_node_rrset(z->apex, DNS_TYPE_DNSKEY) && z->soa && z->soa->sigs;
    if (nsec && b->n_nsec3 > 0) {
        errlist_add(b->errs, "%s: zone %s has both NSEC and NSEC3 records (one chain only)",
                    z->file, z->origin_str);
        return;
    }
    if (nsec)
        dnssec_nsec_chain(b, nodes, n);
    else if (b->n_nsec3 > 0)
        dnssec_nsec3_chain(b);
    if (z->dnssec.n_chain > 0)
        dnssec_node_denials(z);
    dnssec_neg_soa(z);
}

/*
 * zone.c -- read access to a compiled zone.
 */
#include "zone/zone.h"
#include "common/bigalloc.h"
#include "zone/zone_journal.h"
#include "zone/zone_place.h"

#include <ldns/ldns.h>
#include <stdlib.h>
#include <string.h>

#include "dns/dnssec.h"

const struct zone_rrset *zone_node_rrset(const struct zone_node *n, uint16_t type)
{
    /* Nodes hold few RRsets; a scan beats a search at this size. */
    for (uint16_t i = 0; i < n->n_rrsets; i++) {
        if (n->rrsets[i].type == type)
            return &n->rrsets[i];
        if (n->rrsets[i].type > type)
            break;
    }
    return NULL;
}

const struct zone_denial *zone_nsec_find(const struct zone *z, const uint8_t *name, size_t len)
{
    const struct zone_denial *c = z->dnssec.chain;
    if (z->dnssec.kind != ZONE_DENIAL_NSEC || z->dnssec.n_chain == 0)
        return NULL;
    /* The last entry <= name; every name of the zone sorts at or after the
     * apex, which is the first entry of a complete chain. */
    uint32_t lo = 0, hi = z->dnssec.n_chain;
    while (hi - lo > 1) {
        uint32_t mid = lo + (hi - lo) / 2;
        if (dns_name_canon_cmp(c[mid].owner, c[mid].owner_len, name, len) <= 0)
            lo = mid;
        else
            hi = mid;
    }
    return &c[lo];
}

const struct zone_denial *zone_nsec3_find(const struct zone *z, const uint8_t hash[DNS_SHA1_LEN],
                                          bool *exact)
{
    const struct zone_denial *c = z->dnssec.chain;
    *exact = false;
    if (z->dnssec.kind != ZONE_DENIAL_NSEC3 || z->dnssec.n_chain == 0)
        return NULL;
    /* lo..hi: the first entry with a hash above 'hash' lies in [lo, hi]. */
    uint32_t lo = 0, hi = z->dnssec.n_chain;
    while (lo < hi) {
        uint32_t mid = lo + (hi - lo) / 2;
        if (memcmp(c[mid].hash, hash, DNS_SHA1_LEN) <= 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    /* lo is the first entry above hash; the one before matches or covers
     * it, and below the first entry the last one covers (wrap-around). */
    const struct zone_denial *d = lo == 0 ? &c[z->dnssec.n_chain - 1] : &c[lo - 1];
    *exact = memcmp(d->hash, hash, DNS_SHA1_LEN) == 0;
    return d;
}

void zone_ref(struct zone *z)
{
    atomic_fetch_add(&z->extra_refs, 1);
}

void zone_free(struct zone *z)
{
    if (!z)
        return;
    /* 0 before: the last owner. (A shared zone is dropped by its sets one
     * at a time, and never by two at once with none left.) */
    if (atomic_load(&z->extra_refs) > 0 && atomic_fetch_sub(&z->extra_refs, 1) > 0)
        return;
    if (z->store) /* a version's table: zone_place.c maps it */
        bigalloc_free(z->table, (size_t)z->mask + 1, sizeof(*z->table));
    else
        free(z->table);
    z->table = NULL;
    if (z->policy_keys)
        ldns_key_list_free(z->policy_keys);
    z->policy_keys = NULL;
    if (z->journal) {
        zone_journal_free(z->journal);
        free(z->journal);
    }
    z->journal = NULL;
    zone_kids_free(z->kids);
    z->kids = NULL;
    if (z->store) {
        /* A version: its nodes' memory goes with its stores. */
        zone_store_release(z->store);
        arena_free(&z->arena);
        free(z);
        return;
    }
    zone_arena_release(z);
}

void zone_arena_release(struct zone *z)
{
    /* The last holder of the arena (the zone, or a version's store made
     * from it) frees it; the table is gone already (zone_free). */
    if (atomic_load(&z->store_refs) > 0 && atomic_fetch_sub(&z->store_refs, 1) > 0)
        return;
    arena_free(&z->arena);
    free(z);
}

static bool zone_rrsets_equal(const struct zone_rrset *a, const struct zone_rrset *b)
{
    return a->type == b->type && a->ttl == b->ttl && a->count == b->count &&
           a->rdata_len == b->rdata_len && memcmp(a->rdata, b->rdata, a->rdata_len) == 0;
}

bool zone_records_equal(const struct zone *a, const struct zone *b)
{
    if (a->n_nodes != b->n_nodes || a->n_records != b->n_records ||
        a->origin_len != b->origin_len || memcmp(a->origin, b->origin, a->origin_len) != 0)
        return false;
    for (size_t i = 0; i <= a->mask; i++) {
        const struct zone_node *na = a->table[i].node;
        if (!na)
            continue;
        const struct zone_node *nb =
            zone_find_node(b, na->name, na->name_len, dns_name_hash(na->name, na->name_len));
        if (!nb || nb->flags != na->flags || nb->n_rrsets != na->n_rrsets)
            return false;
        for (uint16_t k = 0; k < na->n_rrsets; k++)
            if (!zone_rrsets_equal(&na->rrsets[k], &nb->rrsets[k]))
                return false;
    }
    return true;
}

/*
 * snapshot.c -- the set of zones served at one moment.
 */
#include "zone/snapshot.h"

#include <stdlib.h>
#include <string.h>

struct snapshot *snapshot_new(void)
{
    struct snapshot *s = calloc(1, sizeof(*s));
    if (!s)
        abort();
    s->omask = 15;
    s->otable = calloc(s->omask + 1, sizeof(*s->otable));
    if (!s->otable)
        abort();
    return s;
}

static const struct zone *snapshot_lookup_origin(const struct snapshot *s, const uint8_t *name,
                                                 size_t len)
{
    for (uint32_t i = dns_name_hash(name, len) & s->omask;; i = (i + 1) & s->omask) {
        const struct zone *z = s->otable[i];
        if (!z)
            return NULL;
        if (z->origin_len == len && memcmp(z->origin, name, len) == 0)
            return z;
    }
}

static void snapshot_rehash(struct snapshot *s, uint32_t nsize)
{
    const struct zone **t = calloc(nsize, sizeof(*t));
    if (!t)
        abort();
    for (size_t k = 0; k < s->n_zones; k++) {
        const struct zone *z = s->zones[k];
        uint32_t i = dns_name_hash(z->origin, z->origin_len) & (nsize - 1);
        while (t[i])
            i = (i + 1) & (nsize - 1);
        t[i] = z;
    }
    free((void *)s->otable);
    s->otable = t;
    s->omask = nsize - 1;
}

bool snapshot_add_zone(struct snapshot *s, struct zone *z)
{
    if (snapshot_lookup_origin(s, z->origin, z->origin_len))
        return false;
    struct zone **nz = realloc(s->zones, (s->n_zones + 1) * sizeof(*nz));
    if (!nz)
        abort();
    s->zones = nz;
    s->zones[s->n_zones++] = z;
    s->n_records += z->n_records;
    uint32_t size = s->omask + 1;
    while (s->n_zones * 2 > size)
        size *= 2;
    snapshot_rehash(s, size);
    return true;
}

void snapshot_free(struct snapshot *s)
{
    if (!s)
        return;
    for (size_t i = 0; i < s->n_zones; i++)
        zone_free(s->zones[i]);
    free(s->zones);
    free((void *)s->otable);
    free(s);
}

/* With few zones a direct comparison of the one suffix each zone could
 * match is cheaper than hashing every suffix of the name: the common case
 * (one or a handful of zones) costs a memcmp, not several hash probes. */
#define SNAPSHOT_SCAN_ZONES 8

static const struct zone *snapshot_scan_zone(const struct snapshot *s, const struct dns_name *qname,
                                             uint16_t qtype)
{
    const struct zone *best = NULL, *parent = NULL;
    for (size_t i = 0; i < s->n_zones; i++) {
        const struct zone *z = s->zones[i];
        if (z->origin_labels > qname->count)
            continue;
        unsigned at = qname->count - z->origin_labels;
        if (qname->len - qname->label[at] != z->origin_len ||
            memcmp(qname->wire + qname->label[at], z->origin, z->origin_len) != 0)
            continue;
        if (!best || z->origin_labels > best->origin_labels) {
            if (best && (!parent || best->origin_labels > parent->origin_labels))
                parent = best;
            best = z;
        } else if (!parent || z->origin_labels > parent->origin_labels)
            parent = z;
    }
    /* DS at a zone apex belongs to the parent side of the cut. */
    if (best && parent && qtype == DNS_TYPE_DS && best->origin_labels == qname->count)
        return parent;
    return best;
}

const struct zone *snapshot_find_zone(const struct snapshot *s, const struct dns_name *qname,
                                      uint16_t qtype)
{
    if (s->n_zones <= SNAPSHOT_SCAN_ZONES)
        return snapshot_scan_zone(s, qname, qtype);
    for (unsigned i = 0; i <= qname->count; i++) {
        const uint8_t *suffix = qname->wire + qname->label[i];
        const struct zone *z = snapshot_lookup_origin(s, suffix, qname->len - qname->label[i]);
        if (!z)
            continue;
        if (i == 0 && qtype == DNS_TYPE_DS && qname->count > 0) {
            /* DS lives on the parent side of a cut. */
            for (unsigned k = i + 1; k <= qname->count; k++) {
                const uint8_t *ps = qname->wire + qname->label[k];
                const struct zone *pz = snapshot_lookup_origin(s, ps, qname->len - qname->label[k]);
                if (pz)
                    return pz;
            }
        }
        return z;
    }
    return NULL;
}

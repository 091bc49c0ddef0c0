/*
 * snapshot.c -- the set of zones served at one moment.
 */
#include "zone/snapshot.h"

#include <stdlib.h>
#include <string.h>

struct snapshot *snapshot_new(uint64_t generation)
{
    struct snapshot *s = calloc(1, sizeof(*s));
    if (!s)
        abort();
    s->generation = generation;
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
    if (s->gslb && s->gslb_free)
        s->gslb_free(s->gslb);
    free(s->zones);
    free((void *)s->otable);
    free(s);
}

const struct zone *snapshot_find_zone(const struct snapshot *s, const struct dns_name *qname,
                                      uint16_t qtype)
{
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

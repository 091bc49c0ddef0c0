/*
 * load.c -- builds a snapshot from a config.
 */
#include "daemon/load.h"

#include "zone/zone_load.h"

struct snapshot *load_snapshot(const struct config *cfg, uint64_t generation, struct errlist *errs)
{
    size_t before = errs->count;
    struct snapshot *s = snapshot_new(generation);
    for (size_t i = 0; i < cfg->n_zones; i++) {
        const struct config_zone *cz = &cfg->zones[i];
        struct zone *z = zone_load(cz->origin, cz->file, cz->file, errs);
        if (z && !snapshot_add_zone(s, z)) {
            errlist_add(errs, "%s: zone %s is configured twice", cfg->path, cz->origin);
            zone_free(z);
        }
    }
    if (errs->count != before) {
        snapshot_free(s);
        return NULL;
    }
    return s;
}

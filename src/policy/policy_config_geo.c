/*
 * policy_config_geo.c -- the region orders of geo and nearest records.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "policy/policy_config_int.h"

static void *pcg_calloc(size_t n, size_t size)
{
    void *p = calloc(n ? n : 1, size);
    if (!p)
        abort();
    return p;
}

static int pcg_resolve(void *ctx, const char *name)
{
    return gslb_region_index(ctx, name);
}

/* Adds region to rec's set unless it is there already. */
static void pcg_add_region(struct policy_record *rec, uint16_t region)
{
    for (size_t i = 0; i < rec->n_regions; i++)
        if (rec->regions[i] == region)
            return;
    rec->regions[rec->n_regions++] = region;
}

void pc_record_geo(const struct jsoncfg *j, json_t *r, const char *path, struct gslb *g,
                   struct policy_record *rec)
{
    char sub[PC_PATH + 16];
    json_t *obj = cfgschema_value(&pc_record_schema, RK_GEO, r);
    cfgschema_key_path(sub, sizeof(sub), &pc_record_schema, RK_GEO, path);
    rec->regions = pcg_calloc(g->n_regions, sizeof(*rec->regions));
    if (cfgschema_value(&pc_record_schema, RK_REGIONS, r)) {
        cfgschema_key_path(sub, sizeof(sub), &pc_record_schema, RK_REGIONS, path);
        jsoncfg_err(j, sub, "a geo record takes its region orders from \"geo\"");
        return;
    }
    if (!obj) {
        jsoncfg_err(j, sub, "is required with \"policy\": \"geo\"");
        return;
    }
    rec->geo = geo_map_parse(j, obj, sub, pcg_resolve, g);
    if (!rec->geo)
        return;
    const struct geo_map *m = rec->geo;
    size_t total = 0;
    for (size_t k = 0; k < m->n_keys; k++)
        total += m->keys[k].n_regions;
    /* The orders, then their regions, in one block (policy_record.geo_orders). */
    size_t head = (m->n_keys + 1) * sizeof(*rec->geo_orders);
    rec->geo_orders = pcg_calloc(1, head + (total ? total : 1) * sizeof(uint16_t));
    uint16_t *regions = (uint16_t *)(void *)((char *)rec->geo_orders + head);
    size_t o = 0;
    for (size_t k = 0; k < m->n_keys; k++) {
        const struct geo_key *key = &m->keys[k];
        rec->geo_orders[k].regions = &regions[o];
        rec->geo_orders[k].n = (uint16_t)key->n_regions;
        for (size_t i = 0; i < key->n_regions; i++) {
            regions[o++] = (uint16_t)key->region_ids[i];
            pcg_add_region(rec, (uint16_t)key->region_ids[i]);
        }
    }
    /* Clients without a location get the default list. */
    rec->geo_orders[m->n_keys] = rec->geo_orders[m->default_key];
}

/* Reads the given "regions" of a nearest record; false after an error. */
static bool pcg_nearest_given(const struct jsoncfg *j, json_t *regs, const char *sub,
                              struct gslb *g, struct policy_record *rec)
{
    if (!json_is_array(regs) || json_array_size(regs) == 0) {
        jsoncfg_err(j, sub, "must be a non-empty array of region names");
        return false;
    }
    bool ok = true;
    size_t i;
    json_t *e;
    json_array_foreach(regs, i, e)
    {
        int ri = json_is_string(e) ? gslb_region_index(g, json_string_value(e)) : -1;
        bool dup = false;
        for (size_t k = 0; ri >= 0 && k < rec->n_regions; k++)
            dup = dup || rec->regions[k] == ri;
        if (ri < 0 || dup || rec->n_regions >= g->n_regions) {
            jsoncfg_err(j, sub, "entry %zu must name a region of regions, once", i);
            ok = false;
        } else
            rec->regions[rec->n_regions++] = (uint16_t)ri;
    }
    return ok;
}

void pc_record_nearest(const struct jsoncfg *j, json_t *r, const char *path, struct gslb *g,
                       struct policy_record *rec)
{
    char sub[PC_PATH + 16];
    json_t *regs = cfgschema_value(&pc_record_schema, RK_REGIONS, r);
    cfgschema_key_path(sub, sizeof(sub), &pc_record_schema, RK_REGIONS, path);
    rec->regions = pcg_calloc(g->n_regions, sizeof(*rec->regions));
    if (regs && !pcg_nearest_given(j, regs, sub, g, rec))
        return;
    if (!regs) {
        /* Every region of the pool, in the order of $.regions. */
        const struct policy_pool *pool = &g->pools[rec->pool];
        for (size_t i = 0; i < g->n_regions; i++)
            for (size_t k = 0; k < pool->n_eps; k++)
                if (pool->eps[k].region == i) {
                    rec->regions[rec->n_regions++] = (uint16_t)i;
                    break;
                }
        snprintf(sub, sizeof(sub), "%s", path);
    }
    for (size_t i = 0; i < rec->n_regions; i++) {
        const struct policy_region *reg = &g->regions[rec->regions[i]];
        if (!reg->has_location)
            jsoncfg_err(j, sub,
                        "region \"%s\" has no location: a nearest record needs its "
                        "\"location\": [latitude, longitude] (in regions)",
                        reg->name);
    }
}

size_t pc_record_longest_order(const struct policy_record *rec)
{
    if (rec->policy != POLICY_GEO || !rec->geo)
        return rec->n_regions;
    size_t n = 0;
    for (size_t k = 0; k < rec->geo->n_keys; k++)
        if (rec->geo->keys[k].n_regions > n)
            n = rec->geo->keys[k].n_regions;
    return n;
}

/*
 * policy_config_geo.c -- the region order or set of a record: given, of a
 * geo record's map, or of a nearest record.
 *
 * Each is made in a buffer and then interned (policy_orders.h): the
 * records of one order share one list instead of a block each.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "policy/policy_config_int.h"
#include "policy/policy_latency.h"
#include "policy/policy_orders.h"

/* Regions a record's list is made in on the stack; more: on the heap. */
#define PCG_SMALL 64

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

/* Adds region to rec's set (made in buf) unless it is there already. */
static void pcg_add_region(struct policy_record *rec, uint16_t *buf, uint16_t region)
{
    for (size_t i = 0; i < rec->n_regions; i++)
        if (buf[i] == region)
            return;
    buf[rec->n_regions++] = region;
}

/* Every region of rec's pool, in the order of $.regions, into buf. */
static void pcg_pool_regions(const struct gslb *g, struct policy_record *rec, uint16_t *buf)
{
    const struct policy_pool *pool = &g->pools[rec->pool];
    for (size_t i = 0; i < g->n_regions; i++)
        for (size_t k = 0; k < pool->n_eps; k++)
            if (pool->eps[k].region == i) {
                buf[rec->n_regions++] = (uint16_t)i;
                break;
            }
}

/* The given "regions" (regs, at sub) into buf, each a region of g once;
 * false after an error. */
static bool pcg_given(const struct jsoncfg *j, json_t *regs, const char *sub, const struct gslb *g,
                      struct policy_record *rec, uint16_t *buf)
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
            dup = dup || buf[k] == ri;
        if (ri < 0 || dup || rec->n_regions >= g->n_regions) {
            jsoncfg_err(j, sub, "entry %zu must name a region of regions, once", i);
            ok = false;
        } else
            buf[rec->n_regions++] = (uint16_t)ri;
    }
    return ok;
}

/* The record's region list: given, or every region of the pool in the
 * order of $.regions. */
static void pcg_regions(const struct jsoncfg *j, json_t *r, const char *path, const struct gslb *g,
                        struct policy_record *rec, uint16_t *buf)
{
    json_t *regs = cfgschema_value(&pc_record_schema, RK_REGIONS, r);
    char sub[PC_PATH];
    cfgschema_key_path(sub, sizeof(sub), &pc_record_schema, RK_REGIONS, path);
    if (regs) {
        pcg_given(j, regs, sub, g, rec, buf);
        return;
    }
    pcg_pool_regions(g, rec, buf);
    if (rec->policy == POLICY_FAILOVER && rec->n_regions > 1)
        jsoncfg_err(j, sub, "a failover record needs its region order");
}

/* The "geo" object of a geo record: the map, its class orders and the
 * record's region set (every region of the map, by first appearance, into
 * buf). */
static void pcg_geo(const struct jsoncfg *j, json_t *r, const char *path, struct gslb *g,
                    struct policy_record *rec, struct policy_record_ext *x, uint16_t *buf)
{
    char sub[PC_PATH + 16];
    json_t *obj = cfgschema_value(&pc_record_schema, RK_GEO, r);
    cfgschema_key_path(sub, sizeof(sub), &pc_record_schema, RK_GEO, path);
    if (cfgschema_value(&pc_record_schema, RK_REGIONS, r)) {
        cfgschema_key_path(sub, sizeof(sub), &pc_record_schema, RK_REGIONS, path);
        jsoncfg_err(j, sub, "a geo record takes its region orders from \"geo\"");
        return;
    }
    if (!obj) {
        jsoncfg_err(j, sub, "is required with \"policy\": \"geo\"");
        return;
    }
    x->geo = geo_map_parse(j, obj, sub, pcg_resolve, g, "list");
    if (!x->geo)
        return;
    const struct geo_map *m = x->geo;
    size_t total = 0;
    for (size_t k = 0; k < m->n_keys; k++)
        total += m->keys[k].n_regions;
    /* The orders, then their regions, in one block (policy_record_ext.geo_orders). */
    size_t head = (m->n_keys + 1) * sizeof(*x->geo_orders);
    x->geo_orders = pcg_calloc(1, head + (total ? total : 1) * sizeof(uint16_t));
    uint16_t *regions = (uint16_t *)(void *)((char *)x->geo_orders + head);
    size_t o = 0;
    for (size_t k = 0; k < m->n_keys; k++) {
        const struct geo_key *key = &m->keys[k];
        x->geo_orders[k].regions = &regions[o];
        x->geo_orders[k].n = (uint16_t)key->n_regions;
        for (size_t i = 0; i < key->n_regions; i++) {
            regions[o++] = (uint16_t)key->region_ids[i];
            pcg_add_region(rec, buf, (uint16_t)key->region_ids[i]);
        }
    }
    /* Clients without a location get the default list. */
    x->geo_orders[m->n_keys] = x->geo_orders[m->default_key];
}

/* The region set of a nearest record ("regions", default every region of
 * the pool in the order of $.regions, into buf); each needs a location. */
static void pcg_nearest(const struct jsoncfg *j, json_t *r, const char *path, const struct gslb *g,
                        struct policy_record *rec, uint16_t *buf)
{
    char sub[PC_PATH + 16];
    json_t *regs = cfgschema_value(&pc_record_schema, RK_REGIONS, r);
    cfgschema_key_path(sub, sizeof(sub), &pc_record_schema, RK_REGIONS, path);
    if (regs && !pcg_given(j, regs, sub, g, rec, buf))
        return;
    if (!regs) {
        pcg_pool_regions(g, rec, buf);
        snprintf(sub, sizeof(sub), "%s", path);
    }
    for (size_t i = 0; i < rec->n_regions; i++) {
        const struct policy_region *reg = &g->regions[buf[i]];
        if (!reg->has_location)
            jsoncfg_err(j, sub,
                        "region \"%s\" has no location: a nearest record needs its "
                        "\"location\": [latitude, longitude] (in regions)",
                        reg->name);
    }
}

void pc_record_order(const struct jsoncfg *j, json_t *r, const char *path, struct gslb *g,
                     struct policy_record *rec, struct policy_record_ext *x)
{
    if (cfgschema_value(&pc_record_schema, RK_GEO, r) && rec->policy != POLICY_GEO)
        cfgschema_err(j, &pc_record_schema, RK_GEO, path, "only used with \"policy\": \"geo\"");
    json_t *lat = cfgschema_value(&pc_record_schema, RK_LATENCY, r);
    if (lat && rec->policy != POLICY_LATENCY)
        cfgschema_err(j, &pc_record_schema, RK_LATENCY, path,
                      "only used with \"policy\": \"latency\"");
    /* At most every region once (each maker checks). */
    uint16_t small[PCG_SMALL];
    uint16_t *buf = g->n_regions <= PCG_SMALL ? small : pcg_calloc(g->n_regions, sizeof(*buf));
    if (rec->policy == POLICY_GEO)
        pcg_geo(j, r, path, g, rec, x, buf);
    else if (rec->policy == POLICY_NEAREST)
        pcg_nearest(j, r, path, g, rec, buf);
    else
        pcg_regions(j, r, path, g, rec, buf);
    rec->regions = policy_orders_intern(g->orders, buf, rec->n_regions);
    if (buf != small)
        free(buf);
    if (rec->policy == POLICY_LATENCY) {
        /* The regions are the order endpoints of unknown latency follow. */
        char sub[PC_PATH + 16];
        cfgschema_key_path(sub, sizeof(sub), &pc_record_schema, RK_LATENCY, path);
        policy_latency_parse(j, lat, sub, x);
    }
}

size_t pc_record_longest_order(const struct policy_record *rec, const struct policy_record_ext *x)
{
    if (rec->policy != POLICY_GEO || !x->geo)
        return rec->n_regions;
    size_t n = 0;
    for (size_t k = 0; k < x->geo->n_keys; k++)
        if (x->geo->keys[k].n_regions > n)
            n = x->geo->keys[k].n_regions;
    return n;
}

/*
 * policy_config_latency.c -- a latency record's "latency" object:
 * tolerance and the vantage map (policy_latency.h).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "policy/policy_latency.h"

#define PC_PATH_LAT 320

enum { LK_VANTAGE, LK_TOLERANCE_MS, LK_TOLERANCE_PCT, LK_N };
static const struct cfgschema_key policy_latency_keys[LK_N] = {
    [LK_VANTAGE] = {"vantage", CFGSCHEMA_OBJECT,
                    .what = "geo keys -> the node (or nodes) whose round trips represent them"},
    [LK_TOLERANCE_MS] = {"tolerance_ms", CFGSCHEMA_INT, 0, 60000, 2, 0, NULL,
                         "endpoints this many ms from the fastest share its answers"},
    [LK_TOLERANCE_PCT] = {"tolerance_pct", CFGSCHEMA_INT, 0, 1000, 10, 0, NULL,
                          "or this many percent of it, whichever is more"},
};
const struct cfgschema policy_latency_schema =
    CFGSCHEMA("$.records[].latency", policy_latency_keys);

static void *pl_calloc(size_t n, size_t size)
{
    void *p = calloc(n ? n : 1, size);
    if (!p)
        abort();
    return p;
}

/* The index of name among c's vantage points, added when new. */
static uint16_t pl_vantage(struct policy_latency_cfg *c, const char *name, size_t cap)
{
    for (size_t i = 0; i < c->n_vantages; i++)
        if (strcmp(c->vantages[i], name) == 0)
            return (uint16_t)i;
    if (c->n_vantages >= cap)
        abort(); /* cap counts every name of the map */
    c->vantages[c->n_vantages] = jsoncfg_strdup(name);
    return (uint16_t)c->n_vantages++;
}

/* A node name as the fleet allows it (fleet_params.h): 1..63 of
 * [A-Za-z0-9._-]. */
static bool pl_node_name_ok(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n > 63)
        return false;
    for (size_t i = 0; i < n; i++)
        if (!strchr("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-", s[i]))
            return false;
    return true;
}

/* The map with every value as a list of node names (a string is a list of
 * one), or NULL after reporting bad values. *names counts them. */
static json_t *pl_lists(const struct jsoncfg *j, json_t *map, const char *path, size_t *names)
{
    json_t *out = json_object();
    const char *key;
    json_t *v;
    bool ok = true;
    *names = 0;
    json_object_foreach(map, key, v)
    {
        char sub[PC_PATH_LAT];
        snprintf(sub, sizeof(sub), "%s[\"%s\"]", path, key);
        json_t *list = json_is_string(v) ? json_pack("[O]", v) : json_incref(v);
        bool good = json_is_array(list) && json_array_size(list) > 0;
        size_t i;
        json_t *e;
        json_array_foreach(list, i, e) good =
            good && json_is_string(e) && pl_node_name_ok(json_string_value(e));
        if (!good) {
            jsoncfg_err(j, sub,
                        "must be a node name (fleet.node of a vantage point) or a non-empty "
                        "array of them");
            ok = false;
        } else
            *names += json_array_size(list);
        json_object_set_new(out, key, list);
    }
    if (!ok) {
        json_decref(out);
        return NULL;
    }
    return out;
}

/* The vantage map: x->geo (names as its "regions"), c's names and the
 * class lists. */
static void pl_vantage_map(const struct jsoncfg *j, json_t *map, const char *path,
                           struct policy_record_ext *x, struct policy_latency_cfg *c)
{
    size_t names;
    bool obj = json_is_object(map) && json_object_size(map) > 0;
    json_t *lists = obj ? pl_lists(j, map, path, &names) : NULL;
    if (!obj) /* geo_map_parse's message would say regions */
        jsoncfg_err(j, path,
                    "must be an object of geo keys -> a node name or a list of them, with a "
                    "\"default\"");
    if (!lists)
        return;
    x->geo = geo_map_parse(j, lists, path, NULL, NULL, "node name or list of them");
    json_decref(lists);
    if (!x->geo)
        return;
    const struct geo_map *m = x->geo;
    c->vantages = pl_calloc(names + 1, sizeof(*c->vantages));
    c->vantages[c->n_vantages++] = jsoncfg_strdup("");
    c->n_classes = m->n_keys + 1;
    c->class_vantages = pl_calloc(c->n_classes, sizeof(*c->class_vantages));
    c->class_n = pl_calloc(c->n_classes, sizeof(*c->class_n));
    for (size_t k = 0; k < m->n_keys; k++) {
        c->class_vantages[k] = pl_calloc(m->keys[k].n_regions, sizeof(**c->class_vantages));
        c->class_n[k] = (uint16_t)m->keys[k].n_regions;
        for (size_t i = 0; i < m->keys[k].n_regions; i++)
            c->class_vantages[k][i] = pl_vantage(c, m->keys[k].regions[i], names + 1);
    }
    /* Clients without a location: the default key's nodes. */
    size_t d = m->default_key, u = m->n_keys;
    c->class_n[u] = c->class_n[d];
    c->class_vantages[u] = pl_calloc(c->class_n[d], sizeof(**c->class_vantages));
    memcpy(c->class_vantages[u], c->class_vantages[d], c->class_n[d] * sizeof(**c->class_vantages));
}

void policy_latency_parse(const struct jsoncfg *j, json_t *obj, const char *path,
                          struct policy_record_ext *x)
{
    const struct cfgschema *s = &policy_latency_schema;
    struct policy_latency_cfg *c = pl_calloc(1, sizeof(*c));
    x->latency = c;
    if (obj && !cfgschema_object(j, s, obj, path))
        obj = NULL;
    c->tolerance_us = (uint32_t)cfgschema_int(j, s, LK_TOLERANCE_MS, obj, path) * 1000u;
    c->tolerance_pct = (uint32_t)cfgschema_int(j, s, LK_TOLERANCE_PCT, obj, path);
    json_t *map = cfgschema_value(s, LK_VANTAGE, obj);
    if (map) {
        char sub[PC_PATH_LAT];
        cfgschema_key_path(sub, sizeof(sub), s, LK_VANTAGE, path);
        pl_vantage_map(j, map, sub, x, c);
    }
    if (c->n_classes == 0) { /* no map (or a bad one): the node that answers */
        free(c->vantages);
        c->vantages = pl_calloc(1, sizeof(*c->vantages));
        c->vantages[0] = jsoncfg_strdup("");
        c->n_vantages = 1;
        c->n_classes = 1;
        c->class_vantages = pl_calloc(1, sizeof(*c->class_vantages));
        c->class_vantages[0] = pl_calloc(1, sizeof(**c->class_vantages));
        c->class_n = pl_calloc(1, sizeof(*c->class_n));
        c->class_n[0] = 1;
    }
}

void policy_latency_cfg_free(struct policy_latency_cfg *c)
{
    if (!c)
        return;
    for (size_t i = 0; i < c->n_vantages; i++)
        free(c->vantages[i]);
    free(c->vantages);
    for (size_t i = 0; c->class_vantages && i < c->n_classes; i++)
        free(c->class_vantages[i]);
    free(c->class_vantages);
    free(c->class_n);
    free(c);
}

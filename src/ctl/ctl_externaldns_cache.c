/*
 * ctl_externaldns_cache.c -- gtmctl externaldns's copy of gtmd's
 * configuration and its indexes (ctl_externaldns_cache.h).
 */
#include "ctl/ctl_externaldns_cache.h"

#include <ctype.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

/* k in lower case into lc (at most EDNS_NAME_MAX + 1 octets). */
static void edns_cache_lower(const char *k, char lc[EDNS_NAME_MAX + 2])
{
    size_t n = 0;
    for (; k[n] && n + 1 < EDNS_NAME_MAX + 2; n++)
        lc[n] = (char)tolower((unsigned char)k[n]);
    lc[n] = '\0';
}

/* Adds rec to map[key] (once: a record put again is not listed twice). */
static void edns_cache_index_add(json_t *map, const char *key, const char *rec, bool once)
{
    json_t *a = json_object_get(map, key), *v;
    size_t i;
    if (!a)
        json_object_set_new(map, key, a = json_array());
    else if (once)
        json_array_foreach(a, i, v) if (strcmp(json_string_value(v), rec) == 0) return;
    json_array_append_new(a, json_string(rec));
}

static void edns_cache_index_del(json_t *map, const char *key, const char *rec)
{
    json_t *a = json_object_get(map, key), *v;
    size_t i;
    json_array_foreach(a, i, v) if (strcmp(json_string_value(v), rec) == 0)
    {
        json_array_remove(a, i);
        break;
    }
    if (a && json_array_size(a) == 0)
        json_object_del(map, key);
}

/* Indexes (add) or unindexes the record rec (value r). */
static void edns_cache_index(struct edns_cache *x, const char *rec, json_t *r, bool add, bool once)
{
    char lc[EDNS_NAME_MAX + 2];
    edns_cache_lower(rec, lc);
    const char *p = json_string_value(json_object_get(r, "pool"));
    if (add) {
        edns_cache_index_add(x->by_name, lc, rec, once);
        if (p)
            edns_cache_index_add(x->by_pool, p, rec, once);
    } else {
        edns_cache_index_del(x->by_name, lc, rec);
        if (p)
            edns_cache_index_del(x->by_pool, p, rec);
    }
}

bool edns_cache_take(struct edns_cache *x, json_t *cfg)
{
    edns_cache_drop(x);
    json_t *res = json_object_get(cfg, "resources");
    json_t *v = json_object_get(cfg, "version");
    if (!json_is_object(res) || !json_is_integer(v) || json_integer_value(v) < 0) {
        json_decref(cfg);
        return false;
    }
    *x = (struct edns_cache){.cfg = cfg,
                             .res = res,
                             .version = (uint64_t)json_integer_value(v),
                             .by_name = json_object(),
                             .by_pool = json_object()};
    const char *k;
    json_t *r;
    json_object_foreach(json_object_get(res, "records"), k, r)
        edns_cache_index(x, k, r, true, false);
    return true;
}

void edns_cache_apply(struct edns_cache *x, json_t *changes, uint64_t version)
{
    size_t i;
    json_t *c;
    json_array_foreach(changes, i, c)
    {
        const char *op = json_string_value(json_object_get(c, "op"));
        const char *path = json_string_value(json_object_get(c, "path"));
        const char *slash = path ? strchr(path, '/') : NULL;
        if (!op || !slash)
            continue;
        char kind[16];
        snprintf(kind, sizeof(kind), "%.*s", (int)(slash - path), path);
        const char *name = slash + 1;
        json_t *map = json_object_get(x->res, kind);
        if (!map)
            json_object_set_new(x->res, kind, map = json_object());
        bool records = strcmp(kind, "records") == 0;
        json_t *old = json_object_get(map, name);
        if (records && old)
            edns_cache_index(x, name, old, false, false);
        if (strcmp(op, "put") == 0) {
            json_t *v = json_object_get(c, "value");
            json_object_set(map, name, v);
            if (records)
                edns_cache_index(x, name, v, true, true);
        } else {
            json_object_del(map, name);
        }
    }
    x->version = version;
}

void edns_cache_drop(struct edns_cache *x)
{
    json_decref(x->cfg);
    json_decref(x->by_name);
    json_decref(x->by_pool);
    memset(x, 0, sizeof(*x));
}

bool edns_cache_foreign(const struct edns_cache *x, const char *name, char *why, size_t len)
{
    char rec[EDNS_NAME_MAX + 2], pool[EDNS_NAME_MAX + 16];
    snprintf(rec, sizeof(rec), "%s.", name);
    snprintf(pool, sizeof(pool), EDNS_POOL "%s", name);
    json_t *recs = json_object_get(x->res, "records"), *v;
    size_t i;
    json_array_foreach(json_object_get(x->by_name, rec), i, v)
    {
        const char *k = json_string_value(v);
        const char *p = json_string_value(json_object_get(json_object_get(recs, k), "pool"));
        if (!p || strcmp(p, pool) != 0) {
            snprintf(why, len, "%s is a record of pool %s, not of %s: not ExternalDNS's", k,
                     p ? p : "(none)", pool);
            return true;
        }
    }
    json_array_foreach(json_object_get(x->by_pool, pool), i, v)
    {
        const char *k = json_string_value(v);
        if (strcasecmp(k, rec) != 0) {
            snprintf(why, len, "pool %s is used by the record %s too: not ExternalDNS's", pool, k);
            return true;
        }
    }
    return false;
}

/*
 * policy_geo.c -- compiled geo data: building, sharing, client location.
 */
#include "policy/policy_geo.h"
#include "geo/geo_params.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void *pg_calloc(size_t n, size_t size)
{
    void *p = calloc(n ? n : 1, size);
    if (!p)
        abort();
    return p;
}

/* Appends text to a growing string. */
static void pg_append(char **s, size_t *len, size_t *cap, const char *text)
{
    size_t n = strlen(text);
    if (*len + n + 1 > *cap) {
        *cap = (*len + n + 1) * 2;
        *s = realloc(*s, *cap);
        if (!*s)
            abort();
    }
    memcpy(*s + *len, text, n + 1);
    *len += n;
}

/* What records sharing a trie have in common: the map's keys in order
 * (geo), or the regions in order (nearest). Caller frees. */
static char *pg_key(const struct gslb *g, const struct policy_record *r)
{
    char *s = NULL, buf[96];
    size_t len = 0, cap = 0;
    pg_append(&s, &len, &cap, r->policy == POLICY_NEAREST ? "nearest" : "geo");
    if (r->policy == POLICY_NEAREST) {
        for (size_t i = 0; i < r->n_regions; i++) {
            const struct policy_region *reg = &g->regions[r->regions[i]];
            snprintf(buf, sizeof(buf), "|%.17g,%.17g", reg->lat, reg->lon);
            pg_append(&s, &len, &cap, buf);
        }
        return s;
    }
    const struct geo_map *m = policy_ext_of(r)->geo;
    for (size_t k = 0; k < m->n_keys; k++) {
        const struct geo_key *key = &m->keys[k];
        char a[INET6_ADDRSTRLEN] = "";
        if (key->kind == GEO_KEY_NETWORK)
            inet_ntop(key->family == GEO_FAMILY_IPV4 ? AF_INET : AF_INET6, key->addr, a, sizeof(a));
        snprintf(buf, sizeof(buf), "|%d:%s%s/%u#%u", (int)key->kind, key->code, a,
                 (unsigned)key->prefix, (unsigned)key->asn);
        pg_append(&s, &len, &cap, buf);
    }
    return s;
}

/* Does r need data that db (NULL: none) lacks to mean anything? Why
 * into buf when it does. */
static bool pg_needs_db(const struct policy_record *r, const struct geo_db *db, char *buf,
                        size_t len)
{
    char file[64], asn_file[64];
    cfgschema_key_path(file, sizeof(file), &geo_schema, GEO_K_DATABASE, NULL);
    cfgschema_key_path(asn_file, sizeof(asn_file), &geo_schema, GEO_K_ASN_DATABASE, NULL);
    /* An ASN database alone places nobody. */
    bool has_loc = db && (db->stats.with_field[0] || db->stats.with_field[1] ||
                          db->stats.with_field[2] || db->stats.with_field[3]);
    if (r->policy == POLICY_NEAREST) {
        if (!has_loc)
            snprintf(buf, len, "a nearest record needs a geo database: set %s", file);
        return !has_loc;
    }
    bool has_asn = db && db->stats.with_field[4] > 0;
    const struct geo_map *m = policy_ext_of(r)->geo;
    for (size_t k = 0; k < m->n_keys; k++) {
        enum geo_key_kind kind = m->keys[k].kind;
        if (kind == GEO_KEY_ASN && !has_asn) {
            snprintf(buf, len,
                     "%s: asn keys need a database of autonomous systems: set %s (GeoLite2-ASN "
                     "layout)",
                     m->keys[k].text, asn_file);
            return true;
        }
        if (kind != GEO_KEY_NETWORK && kind != GEO_KEY_DEFAULT && kind != GEO_KEY_ASN && !has_loc) {
            snprintf(buf, len,
                     "continent, country and subdivision keys need a geo database: set %s "
                     "(network keys and default work without one)",
                     file);
            return true;
        }
    }
    return false;
}

static void pg_compile(const struct gslb *g, const struct policy_record *r, const struct geo_db *db,
                       struct policy_geo_trie *t)
{
    if (r->policy != POLICY_NEAREST) { /* a geo map, or a latency record's vantage map */
        geo_map_compile(policy_ext_of(r)->geo, db, &t->map);
        return;
    }
    t->nearest = true;
    struct geo_point *pts = pg_calloc(r->n_regions, sizeof(*pts));
    for (size_t i = 0; i < r->n_regions; i++) {
        pts[i].lat = g->regions[r->regions[i]].lat;
        pts[i].lon = g->regions[r->regions[i]].lon;
    }
    geo_nearest_compile(db, pts, r->n_regions, &t->near);
    free(pts);
    /* Orders of indexes into r->regions become region indexes, which
     * every record with this key shares. */
    size_t n = (size_t)t->near.merged.n_classes * t->near.n_regions;
    for (size_t i = 0; i < n; i++)
        t->near.orders[i] = r->regions[t->near.orders[i]];
}

/* The trie of record r: an existing one with the same key, or a new one. */
static const struct policy_geo_trie *pg_trie_for(struct policy_geo *pg, const struct gslb *g,
                                                 const struct policy_record *r)
{
    char *key = pg_key(g, r);
    for (size_t i = 0; i < pg->n_tries; i++)
        if (strcmp(pg->tries[i].key, key) == 0) {
            free(key);
            return &pg->tries[i];
        }
    struct policy_geo_trie *t = &pg->tries[pg->n_tries++];
    t->key = key;
    pg_compile(g, r, pg->db, t);
    return t;
}

struct policy_geo *policy_geo_build(const struct gslb *g, struct geo_db *db, const char *cfgpath,
                                    struct errlist *errs)
{
    size_t before = errs->count, n_geo = 0, n_lat = 0;
    if (g && g->counted && !g->n_located && !db)
        return NULL; /* no record to locate a client for, nothing to walk */
    for (size_t i = 0; g && i < g->n_records; i++) {
        const struct policy_record *r = gslb_rec(g, i);
        n_lat += r->policy == POLICY_LATENCY;
        if (!policy_has_trie(r))
            continue;
        n_geo++;
        char why[256], at[POLICY_PATH_LEN];
        if (pg_needs_db(r, db, why, sizeof(why)))
            errlist_add(errs, "%s: %s: %s", cfgpath, policy_record_path(r, at, sizeof(at)), why);
    }
    if (errs->count != before || (!n_geo && !n_lat && !db)) {
        geo_db_free(db);
        return NULL;
    }
    struct policy_geo *pg = pg_calloc(1, sizeof(*pg));
    atomic_init(&pg->refs, 1);
    pg->db = db;
    pg->n_recs = g ? g->n_records : 0;
    pg->recs = pg_calloc(pg->n_recs, sizeof(*pg->recs));
    /* Tries are shared, so they never move: room for one per record. */
    pg->tries = pg_calloc(n_geo, sizeof(*pg->tries));
    for (size_t i = 0; i < pg->n_recs; i++) {
        const struct policy_record *r = gslb_rec(g, i);
        if (policy_has_trie(r))
            pg->recs[i].t = pg_trie_for(pg, g, r);
    }
    return pg;
}

void policy_geo_ref(struct policy_geo *pg)
{
    if (pg)
        atomic_fetch_add(&pg->refs, 1);
}

void policy_geo_unref(struct policy_geo *pg)
{
    if (pg && atomic_fetch_sub(&pg->refs, 1) == 1)
        policy_geo_free(pg);
}

void policy_geo_free(struct policy_geo *pg)
{
    if (!pg)
        return;
    for (size_t i = 0; i < pg->n_tries; i++) {
        struct policy_geo_trie *t = &pg->tries[i];
        if (t->nearest)
            geo_nearest_free(&t->near);
        else
            geo_merged_free(&t->map);
        free(t->key);
    }
    free(pg->tries);
    for (size_t i = 0; i < pg->n_recs; i++)
        for (int v = 0; v < 2; v++) {
            free(atomic_load(&pg->recs[i].view[v].marks));
            free(pg->recs[i].view[v].partition);
        }
    for (size_t i = 0; i < pg->n_recs; i++)
        free(atomic_load(&pg->recs[i].lat)); /* one block (policy_latency.h) */
    free(pg->recs);
    geo_db_free(pg->db);
    free(pg);
}

void policy_geo_client(const struct policy_record *r, const struct sockaddr_storage *src,
                       const struct dns_ecs *ecs, struct policy_geo_client *out)
{
    memset(out, 0, sizeof(*out));
    if (ecs && ecs->present && r->use_ecs) {
        out->from_ecs = true;
        out->source_prefix = ecs->source_prefix;
        /* SOURCE PREFIX-LENGTH 0: "do not use my address" (RFC 7871). */
        if (ecs->source_prefix == 0)
            return;
        out->known = true;
        out->family = ecs->family == 1 ? GEO_FAMILY_IPV4 : GEO_FAMILY_IPV6;
        memcpy(out->addr, ecs->addr, sizeof(out->addr));
        return;
    }
    out->ecs_ignored = ecs && ecs->present;
    out->known = src && geo_addr_from_sockaddr(src, &out->family, out->addr);
}

uint32_t policy_geo_lookup(const struct policy_record *r, const struct policy_geo_trie *t,
                           const struct policy_geo_client *cl, const uint8_t *marks, uint8_t *scope,
                           uint8_t *wide)
{
    *scope = *wide = 0;
    if (!t || !cl->known) {
        if (r->policy == POLICY_NEAREST)
            return GEO_NEAREST_NO_COORDS;
        const struct geo_map *m = policy_ext_of(r)->geo;
        return m ? geo_map_unknown_class(m) : 0;
    }
    const struct geo_merged *m = t->nearest ? &t->near.merged : &t->map;
    return geo_trie_lookup_marked(&m->trie, cl->family, cl->addr, marks, scope, wide);
}

uint32_t policy_geo_classes(const struct policy_geo_trie *t)
{
    if (!t)
        return 0;
    return t->nearest ? t->near.merged.n_classes : t->map.n_classes;
}

struct policy_order policy_geo_order(const struct policy_record *r, const struct policy_geo_trie *t,
                                     uint32_t cls)
{
    struct policy_order o = {r->regions, (uint16_t)r->n_regions};
    const struct policy_record_ext *x = policy_ext_of(r); /* read by geo records only */
    if (r->policy == POLICY_GEO && x->geo_orders && cls <= x->geo->n_keys)
        return x->geo_orders[cls];
    if (r->policy == POLICY_NEAREST && t && t->nearest && cls < t->near.merged.n_classes)
        o.regions = geo_nearest_order(&t->near, cls);
    return o;
}

enum policy_geo_kind policy_geo_kind_of(const struct policy_record *r, uint32_t cls)
{
    if (r->policy == POLICY_NEAREST)
        return cls == GEO_NEAREST_NO_COORDS ? POLICY_NEAREST_UNKNOWN : POLICY_NEAREST_LOCATED;
    if (!policy_uses_map(r))
        return POLICY_GEO_NONE;
    const struct geo_map *m = policy_ext_of(r)->geo;
    if (cls >= m->n_keys)
        return POLICY_GEO_UNKNOWN;
    switch (m->keys[cls].kind) {
    case GEO_KEY_NETWORK:
        return POLICY_GEO_NETWORK;
    case GEO_KEY_ASN:
        return POLICY_GEO_ASN;
    case GEO_KEY_SUBDIVISION:
        return POLICY_GEO_SUBDIVISION;
    case GEO_KEY_COUNTRY:
        return POLICY_GEO_COUNTRY;
    case GEO_KEY_CONTINENT:
        return POLICY_GEO_CONTINENT;
    default:
        return POLICY_GEO_DEFAULT;
    }
}

const char *policy_geo_kind_name(enum policy_geo_kind k)
{
    static const char *const names[POLICY_GEO_KINDS] = {
        "none",    "network", "subdivision", "country", "continent",
        "default", "unknown", "located",     "unknown", "asn"};
    return k < POLICY_GEO_KINDS ? names[k] : "none";
}

const char *policy_geo_kind_policy(enum policy_geo_kind k)
{
    return k == POLICY_NEAREST_LOCATED || k == POLICY_NEAREST_UNKNOWN ? "nearest" : "geo";
}

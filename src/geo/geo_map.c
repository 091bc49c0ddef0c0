/*
 * geo_map.c -- parsing a record's "geo" object and compiling it into a
 * merged class trie.
 */
#include "geo/geo_map.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "geo/geo_codes.h"

#define GEO_PATH 512

static void *geo_map_calloc(size_t n, size_t size)
{
    void *p = calloc(n ? n : 1, size);
    if (!p)
        abort();
    return p;
}

static bool geo_is_lower(const char *s)
{
    for (; *s; s++)
        if (*s >= 'a' && *s <= 'z')
            return true;
    return false;
}

static bool geo_key_continent(const struct jsoncfg *x, const char *path, const char *code)
{
    if (geo_continent_valid(code))
        return true;
    if (geo_is_lower(code))
        jsoncfg_err(x, path, "continent code \"%s\" must be upper case", code);
    else if (geo_country_valid(code))
        jsoncfg_err(x, path,
                    "\"%s\" is not a continent code (AF AN AS EU NA OC SA); for the country "
                    "use country:%s",
                    code, code);
    else
        jsoncfg_err(x, path, "\"%s\" is not a continent code (AF AN AS EU NA OC SA)", code);
    return false;
}

static bool geo_key_country(const struct jsoncfg *x, const char *path, const char *code)
{
    if (geo_country_valid(code))
        return true;
    if (geo_is_lower(code))
        jsoncfg_err(x, path, "country code \"%s\" must be upper case", code);
    else if (geo_continent_valid(code))
        jsoncfg_err(x, path,
                    "\"%s\" is not an ISO 3166-1 alpha-2 country code; for the continent use "
                    "continent:%s",
                    code, code);
    else
        jsoncfg_err(x, path, "\"%s\" is not an ISO 3166-1 alpha-2 country code", code);
    return false;
}

static bool geo_key_subdivision(const struct jsoncfg *x, const char *path, const char *code)
{
    if (geo_subdivision_valid(code))
        return true;
    if (geo_is_lower(code))
        jsoncfg_err(x, path, "subdivision code \"%s\" must be upper case", code);
    else if (strlen(code) >= 3 && code[2] == '-') {
        char cc[3] = {code[0], code[1], 0};
        if (!geo_country_valid(cc))
            jsoncfg_err(x, path, "subdivision \"%s\": \"%s\" is not an ISO 3166-1 country code",
                        code, cc);
        else
            jsoncfg_err(x, path, "subdivision \"%s\": after \"%s-\" come 1 to 3 letters or digits",
                        code, cc);
    } else
        jsoncfg_err(x, path, "\"%s\" is not an ISO 3166-2 subdivision code (like US-CA)", code);
    return false;
}

/* Parses "ADDR/LEN" into k; reports why not. */
static bool geo_key_network(const struct jsoncfg *x, const char *path, const char *cidr,
                            struct geo_key *k)
{
    char buf[64];
    const char *slash = strchr(cidr, '/');
    size_t alen = slash ? (size_t)(slash - cidr) : 0;
    if (!slash || alen == 0 || alen >= sizeof(buf) || !slash[1] || strlen(slash + 1) > 3 ||
        strspn(slash + 1, "0123456789") != strlen(slash + 1)) {
        jsoncfg_err(x, path, "\"%s\" is not a network: ADDRESS/PREFIX-LENGTH", cidr);
        return false;
    }
    memcpy(buf, cidr, alen);
    buf[alen] = 0;
    unsigned len = (unsigned)atoi(slash + 1), max;
    memset(k->addr, 0, sizeof(k->addr));
    if (inet_pton(AF_INET, buf, k->addr) == 1) {
        k->family = GEO_FAMILY_IPV4;
        max = 32;
    } else if (inet_pton(AF_INET6, buf, k->addr) == 1) {
        k->family = GEO_FAMILY_IPV6;
        max = 128;
    } else {
        jsoncfg_err(x, path, "\"%s\" is not an IPv4 or IPv6 address", buf);
        return false;
    }
    if (len > max) {
        jsoncfg_err(x, path, "prefix length %u is longer than %u bits", len, max);
        return false;
    }
    static const uint8_t mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
    if (k->family == GEO_FAMILY_IPV6 && len >= 96 && memcmp(k->addr, mapped, 12) == 0) {
        jsoncfg_err(x, path, "\"%s\" is IPv4-mapped: write the IPv4 network", cidr);
        return false;
    }
    for (unsigned b = len; b < max; b++)
        if (geo_addr_bit(k->addr, b)) {
            jsoncfg_err(x, path, "network \"%s\" has host bits set past /%u", cidr, len);
            return false;
        }
    k->prefix = (uint8_t)len;
    return true;
}

/* "asn:64500": digits only (no "AS" prefix, no sign), 1..4294967295. */
static bool geo_key_asn(const struct jsoncfg *x, const char *path, const char *num,
                        struct geo_key *k)
{
    size_t n = strlen(num);
    if (n == 0 || n > 10 || strspn(num, "0123456789") != n || num[0] == '0') {
        jsoncfg_err(x, path,
                    "\"%s\" is not an autonomous system number (asn:64500: 1 to 4294967295, "
                    "digits only)",
                    num);
        return false;
    }
    unsigned long long v = strtoull(num, NULL, 10);
    if (v > UINT32_MAX) {
        jsoncfg_err(x, path, "autonomous system number %s is above 4294967295", num);
        return false;
    }
    k->asn = (uint32_t)v;
    return true;
}

/* Splits "kind:code" into k->kind and k->code (or the network, the ASN). */
static bool geo_key_name(const struct jsoncfg *x, const char *path, const char *name,
                         struct geo_key *k)
{
    static const struct {
        const char *prefix;
        enum geo_key_kind kind;
    } kinds[] = {{"continent:", GEO_KEY_CONTINENT},
                 {"country:", GEO_KEY_COUNTRY},
                 {"subdivision:", GEO_KEY_SUBDIVISION},
                 {"asn:", GEO_KEY_ASN},
                 {"network:", GEO_KEY_NETWORK}};
    if (strcmp(name, "default") == 0) {
        k->kind = GEO_KEY_DEFAULT;
        return true;
    }
    for (size_t i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++) {
        size_t n = strlen(kinds[i].prefix);
        if (strncmp(name, kinds[i].prefix, n) != 0)
            continue;
        const char *code = name + n;
        k->kind = kinds[i].kind;
        if (k->kind == GEO_KEY_NETWORK)
            return geo_key_network(x, path, code, k);
        if (k->kind == GEO_KEY_ASN)
            return geo_key_asn(x, path, code, k);
        bool ok = k->kind == GEO_KEY_CONTINENT ? geo_key_continent(x, path, code)
                  : k->kind == GEO_KEY_COUNTRY ? geo_key_country(x, path, code)
                                               : geo_key_subdivision(x, path, code);
        if (ok)
            snprintf(k->code, sizeof(k->code), "%s", code);
        return ok;
    }
    jsoncfg_err(x, path,
                "unknown key \"%s\" (keys are continent:CODE, country:CODE, "
                "subdivision:CC-CODE, asn:NUMBER, network:CIDR or default)",
                name);
    return false;
}

/* Reads the region list of one key. */
static bool geo_key_regions(const struct jsoncfg *x, const char *path, json_t *v, struct geo_key *k,
                            geo_region_resolve_fn resolve, void *ctx)
{
    if (!json_is_array(v) || json_array_size(v) == 0) {
        jsoncfg_err(x, path, "must be a non-empty array of region names");
        return false;
    }
    bool ok = true;
    k->n_regions = json_array_size(v);
    k->regions = geo_map_calloc(k->n_regions, sizeof(*k->regions));
    k->region_ids = resolve ? geo_map_calloc(k->n_regions, sizeof(*k->region_ids)) : NULL;
    for (size_t i = 0; i < k->n_regions; i++) {
        char sub[GEO_PATH + 16];
        snprintf(sub, sizeof(sub), "%s[%zu]", path, i);
        json_t *e = json_array_get(v, i);
        const char *name = json_string_value(e);
        if (!json_is_string(e) || !name[0]) {
            jsoncfg_err(x, sub, "must be a region name");
            ok = false;
            continue;
        }
        k->regions[i] = jsoncfg_strdup(name);
        for (size_t j = 0; j < i; j++)
            if (k->regions[j] && strcmp(k->regions[j], name) == 0) {
                jsoncfg_err(x, sub, "region \"%s\" is listed twice", name);
                ok = false;
            }
        if (resolve && (k->region_ids[i] = resolve(ctx, name)) < 0) {
            jsoncfg_err(x, sub, "region \"%s\" is not defined in regions", name);
            ok = false;
        }
    }
    return ok;
}

static int geo_net_cmp(const void *a, const void *b)
{
    const struct geo_key *x = *(const struct geo_key *const *)a;
    const struct geo_key *y = *(const struct geo_key *const *)b;
    if (x->family != y->family)
        return x->family < y->family ? -1 : 1;
    int d = memcmp(x->addr, y->addr, sizeof(x->addr));
    return d ? d : (int)x->prefix - (int)y->prefix;
}

/* Two spellings of one network ("2001:db8::/32", "2001:0db8::/32"). */
static bool geo_map_check_networks(const struct jsoncfg *x, const char *path, struct geo_map *m)
{
    const struct geo_key **nets = geo_map_calloc(m->n_keys, sizeof(*nets));
    size_t n = 0;
    bool ok = true;
    for (size_t i = 0; i < m->n_keys; i++)
        if (m->keys[i].kind == GEO_KEY_NETWORK)
            nets[n++] = &m->keys[i];
    qsort(nets, n, sizeof(*nets), geo_net_cmp);
    for (size_t i = 1; i < n; i++)
        if (geo_net_cmp(&nets[i - 1], &nets[i]) == 0) {
            jsoncfg_err(x, path, "\"%s\" and \"%s\" are the same network", nets[i - 1]->text,
                        nets[i]->text);
            ok = false;
        }
    free(nets);
    return ok;
}

struct geo_map *geo_map_parse(const struct jsoncfg *x, json_t *obj, const char *path,
                              geo_region_resolve_fn resolve, void *ctx, const char *value)
{
    if (!json_is_object(obj) || json_object_size(obj) == 0) {
        jsoncfg_err(x, path, "must be an object of KEY -> [region, ...] with a \"default\"");
        return NULL;
    }
    struct geo_map *m = geo_map_calloc(1, sizeof(*m));
    m->keys = geo_map_calloc(json_object_size(obj), sizeof(*m->keys));
    m->default_key = SIZE_MAX;
    bool ok = true;
    const char *name;
    json_t *v;
    json_object_foreach(obj, name, v)
    {
        char sub[GEO_PATH];
        snprintf(sub, sizeof(sub), "%s[\"%s\"]", path, name);
        struct geo_key *k = &m->keys[m->n_keys++];
        k->text = jsoncfg_strdup(name);
        bool kok = geo_key_name(x, sub, name, k);
        ok = geo_key_regions(x, sub, v, k, resolve, ctx) && kok && ok;
        if (kok && k->kind == GEO_KEY_DEFAULT)
            m->default_key = m->n_keys - 1;
    }
    if (m->default_key == SIZE_MAX) {
        jsoncfg_err(x, path, "needs a \"default\" %s (for clients no other key matches)", value);
        ok = false;
    }
    ok = geo_map_check_networks(x, path, m) && ok;
    if (!ok) {
        geo_map_free(m);
        return NULL;
    }
    return m;
}

void geo_map_free(struct geo_map *m)
{
    if (!m)
        return;
    for (size_t i = 0; i < m->n_keys; i++) {
        struct geo_key *k = &m->keys[i];
        for (size_t j = 0; j < k->n_regions; j++)
            free(k->regions[j]);
        free(k->regions);
        free(k->region_ids);
        free(k->text);
    }
    free(m->keys);
    free(m);
}

/* How specific a key is when it matches l: 4 asn, 3 subdivision,
 * 2 country, 1 continent, 0 no match (network and default keys never
 * match here). */
static int geo_key_match(const struct geo_key *k, const struct geo_location *l)
{
    switch (k->kind) {
    case GEO_KEY_ASN:
        return (l->flags & GEO_HAS_ASN) && l->asn == k->asn ? 4 : 0;
    case GEO_KEY_SUBDIVISION:
        return (l->flags & GEO_HAS_SUBDIVISION) && memcmp(k->code, l->country, 2) == 0 &&
                       strcmp(k->code + 3, l->subdivision) == 0
                   ? 3
                   : 0;
    case GEO_KEY_COUNTRY:
        return (l->flags & GEO_HAS_COUNTRY) && strcmp(k->code, l->country) == 0 ? 2 : 0;
    case GEO_KEY_CONTINENT:
        return (l->flags & GEO_HAS_CONTINENT) && strcmp(k->code, l->continent) == 0 ? 1 : 0;
    default:
        return 0;
    }
}

uint32_t geo_map_class_of_location(const struct geo_map *m, const struct geo_location *l)
{
    int best = 0;
    uint32_t cls = (uint32_t)m->default_key;
    for (size_t i = 0; i < m->n_keys; i++) {
        int s = geo_key_match(&m->keys[i], l);
        if (s > best) {
            best = s;
            cls = (uint32_t)i;
        }
    }
    /* A known ASN alone places nobody: without a matching key, a client
     * with no location gets the unknown class (default list). */
    if (best == 0 && !(l->flags & (GEO_HAS_CONTINENT | GEO_HAS_COUNTRY | GEO_HAS_SUBDIVISION)))
        return geo_map_unknown_class(m);
    return cls;
}

void geo_map_compile(const struct geo_map *m, const struct geo_db *db, struct geo_merged *out)
{
    struct geo_location unknown;
    memset(&unknown, 0, sizeof(unknown));
    size_t n_locs = db ? db->n_locs : 1;
    uint32_t *loc_class = geo_map_calloc(n_locs, sizeof(*loc_class));
    for (size_t i = 0; i < n_locs; i++)
        loc_class[i] = geo_map_class_of_location(m, db ? &db->locs[i] : &unknown);
    struct geo_netkey *nk = geo_map_calloc(m->n_keys, sizeof(*nk));
    size_t n = 0;
    for (size_t i = 0; i < m->n_keys; i++) {
        const struct geo_key *k = &m->keys[i];
        if (k->kind != GEO_KEY_NETWORK)
            continue;
        nk[n].family = k->family;
        nk[n].prefix = k->prefix;
        memcpy(nk[n].addr, k->addr, sizeof(nk[n].addr));
        nk[n++].cls = (uint32_t)i;
    }
    geo_merge_build(db, loc_class, nk, n, (uint32_t)m->n_keys + 1, out);
    free(nk);
    free(loc_class);
}

/*
 * config_zones.c -- the "zones" array of the configuration: each zone's
 * origin and file, and what its modules parse (dnssec: zone_params.h,
 * transfer: zone_xfr_params.h, primary: xfr_in_params.h), and the member
 * zones of catalog zones.
 */
#include "daemon/config_tables.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "daemon/config.h"
#include "daemon/config_keys.h"
#include "dns/name.h"
#include "dns/tsig_params.h"
#include "xfr/xfr_catalog.h"

enum { CAT_DIRECTORY, CAT_N };
static const struct cfgschema_key config_catalog_keys[CAT_N] = {
    [CAT_DIRECTORY] = {"directory", CFGSCHEMA_PATH, .flags = CFGSCHEMA_REQUIRED,
                       .what = "where the member zones' copies are kept"},
};
static const struct cfgschema config_catalog_schema =
    CFGSCHEMA("$.zones[].catalog", config_catalog_keys);

enum { GCAT_MEMBERS, GCAT_N };
static const struct cfgschema_key config_gen_catalog_keys[GCAT_N] = {
    [GCAT_MEMBERS] = {"members", CFGSCHEMA_ARRAY,
                      .what = "the zones it lists (default: every zone but catalogs)"},
};
static const struct cfgschema config_gen_catalog_schema =
    CFGSCHEMA("$.zones[].generate_catalog", config_gen_catalog_keys);

static const struct cfgschema_key config_zone_keys[ZK_N] = {
    [ZK_ORIGIN] = {"origin", CFGSCHEMA_STRING, .flags = CFGSCHEMA_REQUIRED,
                   .what = "the zone's name"},
    [ZK_FILE] = {"file", CFGSCHEMA_PATH,
                 .what = "its master file (a secondary's copy); required but with "
                         "generate_catalog"},
    [ZK_DNSSEC] = {"dnssec", CFGSCHEMA_OBJECT, .sub = &zone_dnssec_schema,
                   .what = "signing at load"},
    [ZK_TRANSFER] = {"transfer", CFGSCHEMA_OBJECT, .sub = &zone_xfr_schema,
                     .what = "who may transfer it, who is notified"},
    [ZK_PRIMARY] = {"primary", CFGSCHEMA_OBJECT, .sub = &xfr_in_schema,
                    .what = "its primaries: it is a secondary zone"},
    [ZK_CATALOG] = {"catalog", CFGSCHEMA_OBJECT, .sub = &config_catalog_schema,
                    .what = "it is a catalog zone: its members are secondaries too"},
    [ZK_GENERATE_CATALOG] = {"generate_catalog", CFGSCHEMA_OBJECT,
                             .sub = &config_gen_catalog_schema,
                             .what = "gtmd makes it: a catalog (RFC 9432) of its own zones"},
    [ZK_UPDATE] = {"update", CFGSCHEMA_ARRAY, .sub = &zone_update_schema,
                   .what = "TSIG keys that may change it by dynamic updates (RFC 2136), and what"},
};
const struct cfgschema config_zone_schema = CFGSCHEMA("$.zones[]", config_zone_keys);

/* "catalog": {"directory": "DIR"}: the zone is a catalog (RFC 9432) whose
 * members are secondary zones too, their copies in DIR. */
static void config_zone_catalog(const struct jsoncfg *j, json_t *v, const char *path,
                                struct config_zone *z)
{
    char sub[128];
    if (!v)
        return;
    cfgschema_key_path(sub, sizeof(sub), &config_zone_schema, ZK_CATALOG, path);
    if (!cfgschema_object(j, &config_catalog_schema, v, sub))
        return;
    if (z->primary.n == 0)
        jsoncfg_err(j, sub, "a catalog zone is a secondary zone: it needs \"primary\"");
    z->catalog_dir = cfgschema_path(j, &config_catalog_schema, CAT_DIRECTORY, v, sub);
}

/* The dnssec, transfer and primary objects, by their modules. */
static void config_zone_parts(const struct jsoncfg *j, json_t *e, const char *path,
                              struct config *c, struct config_zone *z)
{
    const struct cfgschema *s = &config_zone_schema;
    char sub[128];
    cfgschema_key_path(sub, sizeof(sub), s, ZK_DNSSEC, path);
    zone_dnssec_params_parse(j, cfgschema_value(s, ZK_DNSSEC, e), sub, &z->dnssec);
    cfgschema_key_path(sub, sizeof(sub), s, ZK_TRANSFER, path);
    zone_xfr_params_parse(j, cfgschema_value(s, ZK_TRANSFER, e), sub, &z->xfr);
    if (z->xfr.key && !tsig_keyring_by_id(&c->tsig, z->xfr.key))
        jsoncfg_err(j, sub, "key \"%s\" is not in tsig_keys", z->xfr.key);
    cfgschema_key_path(sub, sizeof(sub), s, ZK_PRIMARY, path);
    xfr_in_params_parse(j, cfgschema_value(s, ZK_PRIMARY, e), sub, &z->primary);
    if (z->primary.key && !tsig_keyring_by_id(&c->tsig, z->primary.key))
        jsoncfg_err(j, sub, "key \"%s\" is not in tsig_keys", z->primary.key);
    if (z->primary.n && z->dnssec.sign.n_keys)
        jsoncfg_err(j, sub,
                    "a secondary zone is served as its primary signs it: no \"dnssec\" keys");
    config_zone_catalog(j, cfgschema_value(s, ZK_CATALOG, e), path, z);
}

/* "generate_catalog": a zone gtmd makes, so no file and nothing that
 * reads or signs one; its members are checked once every zone is known
 * (config_gen_catalog_members). */
static bool config_zone_gen_catalog(const struct jsoncfg *j, json_t *e, const char *path,
                                    struct config_zone *z)
{
    const struct cfgschema *s = &config_zone_schema;
    json_t *g = cfgschema_value(s, ZK_GENERATE_CATALOG, e);
    char sub[128];
    cfgschema_key_path(sub, sizeof(sub), s, ZK_GENERATE_CATALOG, path);
    if (!g || !cfgschema_object(j, &config_gen_catalog_schema, g, sub))
        return false;
    static const enum config_zone_key no[] = {ZK_FILE, ZK_PRIMARY, ZK_CATALOG, ZK_DNSSEC,
                                              ZK_UPDATE};
    for (size_t i = 0; i < sizeof(no) / sizeof(no[0]); i++)
        if (cfgschema_value(s, no[i], e))
            cfgschema_err(j, s, no[i], path,
                          "not with \"generate_catalog\": gtmd makes that zone itself");
    z->gen_catalog = true;
    return true;
}

/* The "update" rules of zone z (origin n): their keys must be in
 * tsig_keys, and the zone must be one gtmd is the primary of. */
static void config_zone_update(const struct jsoncfg *j, json_t *e, const char *path,
                               const struct dns_name *n, struct config *c, struct config_zone *z)
{
    const struct cfgschema *s = &config_zone_schema;
    json_t *v = cfgschema_value(s, ZK_UPDATE, e);
    char sub[128];
    if (!v)
        return;
    cfgschema_key_path(sub, sizeof(sub), s, ZK_UPDATE, path);
    zone_update_params_parse(j, v, sub, n->wire, n->len, &z->update);
    for (size_t i = 0; i < z->update.n; i++) {
        const char *k = z->update.rules[i].key;
        if (k && !tsig_keyring_by_id(&c->tsig, k))
            jsoncfg_err(j, sub, "rule %zu: key \"%s\" is not in tsig_keys", i, k);
    }
    if (z->primary.n)
        jsoncfg_err(j, sub,
                    "a secondary zone is changed on its primary: updates to it get NOTAUTH");
}

void config_zones_check_updates(const struct jsoncfg *j, const struct config *c)
{
    for (size_t i = 0; c->config_api.fleet && i < c->n_zones; i++)
        if (c->zones[i].update.n) {
            char at[64];
            snprintf(at, sizeof(at), "%s[%zu].update", config_key_path(CFG_K_ZONES).s, i);
            jsoncfg_err(j, at,
                        "dynamic updates are not taken with \"config_api\": {\"fleet\": true}: "
                        "each node would change its own copy of the zone file; let one node "
                        "take updates and make the others its secondaries (doc/updates.md)");
        }
}

static void config_zone(const struct jsoncfg *j, json_t *e, const char *path, struct config *c)
{
    const struct cfgschema *s = &config_zone_schema;
    if (!cfgschema_object(j, s, e, path))
        return;
    json_t *o = cfgschema_value(s, ZK_ORIGIN, e), *f = cfgschema_value(s, ZK_FILE, e);
    struct dns_name n;
    if (!o)
        return; /* said: required */
    struct config_zone gen = {0};
    if (config_zone_gen_catalog(j, e, path, &gen)) {
        f = NULL;
    } else if (!f) {
        cfgschema_err(j, s, ZK_FILE, path, "is required (but with \"generate_catalog\")");
        return;
    }
    if (!json_is_string(o) || !dns_name_from_str(json_string_value(o), &n)) {
        cfgschema_err(j, s, ZK_ORIGIN, path,
                      "must be a domain name string such as \"example.com.\"");
        return;
    }
    if (f && (!json_is_string(f) || json_string_length(f) == 0)) {
        cfgschema_err(j, s, ZK_FILE, path, "must be a zone file path");
        return;
    }
    struct config_zone *z = &c->zones[c->n_zones++];
    config_zone_parts(j, e, path, c, z);
    config_zone_update(j, e, path, &n, c, z);
    char ob[1024];
    dns_name_to_str(n.wire, ob, sizeof(ob));
    z->origin = jsoncfg_strdup(ob);
    z->file = f ? cfgschema_path(j, s, ZK_FILE, e, path) : NULL;
    z->gen_catalog = gen.gen_catalog;
    for (size_t k = 0; k + 1 < c->n_zones; k++)
        if (strcmp(c->zones[k].origin, z->origin) == 0)
            jsoncfg_err(j, path, "zone %s is listed twice", z->origin);
}

/* The member zones of catalog zone ci, as read from its copy: secondary
 * zones of the catalog's primaries, their copies in its directory. A zone
 * the file configures itself keeps its own entry. */
static void config_catalog_members(struct config *c, size_t ci)
{
    struct xfr_catalog_list l;
    char why[512];
    const struct config_zone *cat = &c->zones[ci];
    if (xfr_catalog_members(cat->file, cat->origin, &l, why, sizeof(why)) != 0) {
        if (why[0])
            log_warn("event=catalog zone=%s result=ignored why=\"%s\"", cat->origin, why);
        return;
    }
    for (size_t m = 0; m < l.n; m++) {
        bool known = false;
        for (size_t k = 0; k < c->n_zones && !known; k++)
            known = strcmp(c->zones[k].origin, l.origins[m]) == 0;
        if (known)
            continue;
        struct config_zone *zs = realloc(c->zones, (c->n_zones + 1) * sizeof(*zs));
        if (!zs)
            abort();
        c->zones = zs;
        cat = &c->zones[ci];
        struct config_zone *z = &zs[c->n_zones++];
        memset(z, 0, sizeof(*z));
        z->origin = jsoncfg_strdup(l.origins[m]);
        char file[4200];
        snprintf(file, sizeof(file), "%s/%szone", cat->catalog_dir, l.origins[m]);
        z->file = jsoncfg_strdup(file);
        z->primary = cat->primary;
        z->primary.key = cat->primary.key ? jsoncfg_strdup(cat->primary.key) : NULL;
        z->catalog_member = true;
    }
    log_info("event=catalog zone=%s members=%zu", cat->origin, l.n);
    xfr_catalog_free(&l);
}

/* The "members" of the generated catalog at index zi (entry e, at path):
 * zones of this configuration (file entries and catalog members), none a
 * catalog itself; every zone but catalogs when the key is absent. */
static void config_gen_catalog_members(const struct jsoncfg *j, json_t *e, const char *path,
                                       struct config *c, size_t zi)
{
    char sub[160];
    cfgschema_key_path(sub, sizeof(sub), &config_zone_schema, ZK_GENERATE_CATALOG, path);
    json_t *m = cfgschema_value(&config_gen_catalog_schema, GCAT_MEMBERS,
                                cfgschema_value(&config_zone_schema, ZK_GENERATE_CATALOG, e));
    struct config_zone *cat = &c->zones[zi];
    cat->gen_members = calloc(c->n_zones, sizeof(*cat->gen_members));
    if (!cat->gen_members)
        abort();
    for (size_t k = 0; !m && k < c->n_zones; k++)
        if (!c->zones[k].gen_catalog && !c->zones[k].catalog_dir)
            cat->gen_members[cat->n_gen_members++] = jsoncfg_strdup(c->zones[k].origin);
    size_t i;
    json_t *v;
    json_array_foreach(m, i, v)
    {
        char at[200], ob[1024];
        struct dns_name n;
        snprintf(at, sizeof(at), "%s.members[%zu]", sub, i);
        if (!json_is_string(v) || !dns_name_from_str(json_string_value(v), &n)) {
            jsoncfg_err(j, at, "must be the name of a zone of this configuration");
            continue;
        }
        dns_name_to_str(n.wire, ob, sizeof(ob));
        size_t k = 0;
        while (k < c->n_zones && strcmp(c->zones[k].origin, ob) != 0)
            k++;
        if (k == c->n_zones || c->zones[k].gen_catalog || c->zones[k].catalog_dir) {
            jsoncfg_err(j, at, "%s is not a zone of this configuration (catalogs list no catalog)",
                        ob);
            continue;
        }
        bool dup = false;
        for (size_t d = 0; d < cat->n_gen_members && !dup; d++)
            dup = strcmp(cat->gen_members[d], ob) == 0;
        if (dup || cat->n_gen_members == c->n_zones)
            jsoncfg_err(j, at, "%s is listed twice", ob);
        else
            cat->gen_members[cat->n_gen_members++] = jsoncfg_strdup(ob);
    }
}

void config_zones_parse(const struct jsoncfg *j, json_t *v, struct config *c)
{
    char at[32];
    cfgschema_key_path(at, sizeof(at), &config_schema, CFG_K_ZONES, NULL);
    if (!json_is_array(v) || json_array_size(v) == 0) {
        jsoncfg_err(j, at, "must be a non-empty array of zones");
        return;
    }
    c->zones = calloc(json_array_size(v), sizeof(*c->zones));
    size_t *entry = calloc(json_array_size(v), sizeof(*entry)); /* zone -> entry index */
    if (!c->zones || !entry)
        abort();
    size_t i;
    json_t *e;
    json_array_foreach(v, i, e)
    {
        char path[64];
        snprintf(path, sizeof(path), "%s[%zu]", at, i);
        size_t before = c->n_zones;
        config_zone(j, e, path, c);
        if (c->n_zones > before)
            entry[before] = i;
    }
    size_t n = c->n_zones;
    for (i = 0; i < n; i++)
        if (c->zones[i].catalog_dir)
            config_catalog_members(c, i);
    /* After the catalogs' members: a generated catalog lists them too. */
    for (i = 0; i < n; i++)
        if (c->zones[i].gen_catalog) {
            char path[64];
            snprintf(path, sizeof(path), "%s[%zu]", at, entry[i]);
            config_gen_catalog_members(j, json_array_get(v, entry[i]), path, c, i);
        }
    free(entry);
}

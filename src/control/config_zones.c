/*
 * config_zones.c -- the "zones" array of the configuration: each zone's
 * origin and file, and what its modules parse (dnssec: zone_params.h,
 * transfer: zone_xfr_params.h, primary: xfr_in_params.h), and the member
 * zones of catalog zones.
 */
#include "control/config_tables.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "control/config.h"
#include "control/config_keys.h"
#include "dns/name.h"
#include "dns/name_set.h"
#include "dns/tsig_params.h"
#include "xfr/xfr_catalog.h"
#include "zone/zone_kasp_pname.h"

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
                 .what = "its master file (a secondary's copy, a generated catalog's last "
                         "version); required but with generate_catalog"},
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

/* The policy's parent.zone must be above the zone: the DS goes there. */
static void config_zone_parent(const struct jsoncfg *j, const char *path, const struct config *c,
                               const struct config_zone *z)
{
    const struct zone_kasp_policy *p =
        z->dnssec.policy ? zone_kasp_find(&c->kasp, z->dnssec.policy) : NULL;
    if (!p || !p->parent_zone || zone_kasp_pname_above(p->parent_zone, z->origin))
        return;
    char sub[128];
    cfgschema_key_path(sub, sizeof(sub), &config_zone_schema, ZK_DNSSEC, path);
    jsoncfg_err(j, sub,
                "policy \"%s\" has parent.zone \"%s\" (%s.parent.zone), which is not above %s: "
                "the DS of %s goes to the zone it is under",
                z->dnssec.policy, p->parent_zone, p->path, z->origin, z->origin);
}

/* The dnssec, transfer and primary objects, by their modules. */
static void config_zone_parts(const struct jsoncfg *j, json_t *e, const char *path,
                              struct config *c, struct config_zone *z)
{
    const struct cfgschema *s = &config_zone_schema;
    char sub[128];
    cfgschema_key_path(sub, sizeof(sub), s, ZK_DNSSEC, path);
    zone_dnssec_params_parse(j, cfgschema_value(s, ZK_DNSSEC, e), sub, &z->dnssec);
    if (z->dnssec.policy) {
        const struct zone_kasp_policy *p = zone_kasp_find(&c->kasp, z->dnssec.policy);
        if (p)
            zone_dnssec_params_apply(&z->dnssec, p);
        else
            jsoncfg_err(j, sub, "policy \"%s\" is not in dnssec_policies", z->dnssec.policy);
    }
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

/* "generate_catalog": a zone gtmd makes, so nothing that reads or signs
 * a file; its "file", optional, is where gtmd keeps the version it made
 * (load_catalog.h). Its members are checked once every zone is known
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
    static const enum config_zone_key no[] = {ZK_PRIMARY, ZK_CATALOG, ZK_DNSSEC, ZK_UPDATE};
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
    if (!config_zone_gen_catalog(j, e, path, &gen) && !f) {
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
    config_zone_parent(j, path, c, z);
    z->file = f ? cfgschema_path(j, s, ZK_FILE, e, path) : NULL;
    z->gen_catalog = gen.gen_catalog;
    for (size_t k = 0; k + 1 < c->n_zones; k++)
        if (strcmp(c->zones[k].origin, z->origin) == 0)
            jsoncfg_err(j, path, "zone %s is listed twice", z->origin);
}

/* What the catalogs' members are checked against (RFC 9432 §7 lets a
 * consumer refuse a member; gtmd refuses those that would take names
 * from the operator): the zones so far and the policy names. */
struct config_catalog_ctx {
    struct name_set zones; /* every zone so far, the file's and members: index */
    struct name_set local; /* the file's own zones: index */
    json_t *records;       /* the root's "records": its keys are the policy names */
};

/* The zone of the file closest above member m (not one itself), or
 * NAME_SET_NONE: such a zone would lose the names at and below m to the
 * catalog's primary (lookup takes the closest enclosing zone); a member
 * above the file's zones leaves them theirs. */
static size_t config_catalog_local_above(struct config_catalog_ctx *x, const struct dns_name *m)
{
    for (unsigned i = 1; i <= m->count; i++) {
        size_t zi = name_set_find(&x->local, m->wire + m->label[i], m->len - m->label[i]);
        if (zi != NAME_SET_NONE)
            return zi;
    }
    return NAME_SET_NONE;
}

/* For each candidate member (cand: name -> index in l), the first policy
 * name it would take over into covers[index]: one at or below the member
 * with no zone of the file between them (one there keeps the name, being
 * closer). Each policy name walks its own ancestors: linear in names. */
static void config_catalog_policy_names(struct config_catalog_ctx *x, struct name_set *cand,
                                        const char **covers)
{
    const char *name;
    json_t *v;
    json_object_foreach(x->records, name, v)
    {
        struct dns_name p;
        if (!dns_name_from_str(name, &p))
            continue; /* the policy parser says why */
        for (unsigned i = 0; i <= p.count; i++) {
            const uint8_t *a = p.wire + p.label[i];
            size_t alen = p.len - p.label[i];
            if (name_set_find(&x->local, a, alen) != NAME_SET_NONE)
                break;
            size_t m = name_set_find(cand, a, alen);
            if (m != NAME_SET_NONE && !covers[m])
                covers[m] = name;
        }
    }
}

/* Adds member origin of catalog ci as a secondary zone of its primaries,
 * its copy in the catalog's directory (c->zones has room: reserved). */
static void config_catalog_add(struct config *c, size_t ci, const char *origin)
{
    const struct config_zone *cat = &c->zones[ci];
    struct config_zone *z = &c->zones[c->n_zones++];
    memset(z, 0, sizeof(*z));
    z->origin = jsoncfg_strdup(origin);
    char file[4200];
    snprintf(file, sizeof(file), "%s/%szone", cat->catalog_dir, origin);
    z->file = jsoncfg_strdup(file);
    z->primary = cat->primary;
    z->primary.key = cat->primary.key ? jsoncfg_strdup(cat->primary.key) : NULL;
    z->catalog_member = true;
}

/* Logs why member m of catalog cat is refused: the zone of the file it
 * is below (local, or NAME_SET_NONE), and a policy name it holds (or NULL). */
static void config_catalog_refuse(const struct config *c, const char *cat, const char *m,
                                  size_t local, const char *policy)
{
    char why[1200], q[1300];
    int n = local == NAME_SET_NONE
                ? snprintf(why, sizeof(why),
                           "it holds the policy name %s, which no zone of the configuration file "
                           "holds closer: the catalog's primary would answer there",
                           policy)
                : snprintf(why, sizeof(why),
                           "it is below the zone %s of the configuration file, whose names there "
                           "it would take over",
                           c->zones[local].origin);
    if (local != NAME_SET_NONE && policy && n > 0 && (size_t)n < sizeof(why))
        snprintf(why + n, sizeof(why) - (size_t)n, " (the policy name %s among them)", policy);
    log_warn("event=catalog zone=%s member=%s result=refused why=\"%s\"", cat, m,
             log_quote(why, q, sizeof(q)));
}

/* The member zones of catalog zone ci, as read from its copy: secondary
 * zones of the catalog's primaries, their copies in its directory. A
 * member that another catalog listed first is that one's. RFC 9432 §7
 * lets a consumer refuse a member, and gtmd refuses one that would take
 * names from the operator: a zone of the file, a member below one
 * (config_catalog_local_above), or one holding a policy name that no zone
 * of the file holds closer (config_catalog_policy_names). Every check is
 * a set lookup: linear in the members (issue #53: 100,000 in under 1 s). */
static void config_catalog_members(struct config *c, size_t ci, struct config_catalog_ctx *x)
{
    struct xfr_catalog_list l;
    char why[1100];
    const char *cat = c->zones[ci].origin;
    if (xfr_catalog_members(c->zones[ci].file, cat, &l, why, sizeof(why)) != 0) {
        if (why[0])
            log_warn("event=catalog zone=%s result=ignored why=\"%s\"", cat, why);
        return;
    }
    struct name_set cand; /* members not yet zones: name -> index in l */
    name_set_init(&cand);
    const char **covers = calloc(l.n ? l.n : 1, sizeof(*covers));
    size_t *above = calloc(l.n ? l.n : 1, sizeof(*above)), refused = 0;
    if (!covers || !above)
        abort();
    for (size_t m = 0; m < l.n; m++) {
        struct dns_name n;
        if (!dns_name_from_str(l.origins[m], &n))
            continue;
        if (name_set_find(&x->local, n.wire, n.len) != NAME_SET_NONE) {
            log_warn("event=catalog zone=%s member=%s result=refused why=\"it is a zone of the "
                     "configuration file, which keeps it\"",
                     cat, l.origins[m]);
            refused++;
        } else if (name_set_find(&x->zones, n.wire, n.len) == NAME_SET_NONE) {
            above[m] = config_catalog_local_above(x, &n);
            name_set_add(&cand, n.wire, n.len, m);
        } /* else another catalog's member, listed there first */
    }
    if (cand.n && x->records)
        config_catalog_policy_names(x, &cand, covers);
    struct config_zone *zs = realloc(c->zones, (c->n_zones + cand.n) * sizeof(*zs));
    if (!zs)
        abort();
    c->zones = zs;
    for (size_t m = 0; m < l.n; m++) {
        struct dns_name n;
        if (!dns_name_from_str(l.origins[m], &n) || name_set_find(&cand, n.wire, n.len) != m)
            continue;
        if (above[m] != NAME_SET_NONE || covers[m]) {
            config_catalog_refuse(c, cat, l.origins[m], above[m], covers[m]);
            refused++;
            continue;
        }
        name_set_add(&x->zones, n.wire, n.len, c->n_zones);
        config_catalog_add(c, ci, l.origins[m]);
    }
    log_info("event=catalog zone=%s members=%zu refused=%zu", cat, l.n, refused);
    free(covers);
    free(above);
    name_set_free(&cand);
    xfr_catalog_free(&l);
}

/* The members of every catalog zone of c, checked in x's terms. */
static void config_catalogs(struct config *c, json_t *records)
{
    size_t n = c->n_zones, cats = 0;
    for (size_t i = 0; i < n; i++)
        cats += c->zones[i].catalog_dir != NULL;
    if (!cats)
        return;
    struct config_catalog_ctx x = {.records = json_is_object(records) ? records : NULL};
    name_set_init(&x.zones);
    name_set_init(&x.local);
    for (size_t i = 0; i < n; i++) {
        struct dns_name o;
        if (dns_name_from_str(c->zones[i].origin, &o)) {
            name_set_add(&x.zones, o.wire, o.len, i);
            name_set_add(&x.local, o.wire, o.len, i);
        }
    }
    for (size_t i = 0; i < n; i++)
        if (c->zones[i].catalog_dir)
            config_catalog_members(c, i, &x);
    name_set_free(&x.zones);
    name_set_free(&x.local);
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
    /* The zones by name, and the names listed so far: a list of n names
     * costs n lookups, not n times the zones. */
    struct name_set zones, listed;
    name_set_init(&zones);
    name_set_init(&listed);
    for (size_t k = 0; m && k < c->n_zones; k++) {
        struct dns_name o;
        if (dns_name_from_str(c->zones[k].origin, &o))
            name_set_add(&zones, o.wire, o.len, k);
    }
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
        size_t k = name_set_find(&zones, n.wire, n.len);
        if (k == NAME_SET_NONE || c->zones[k].gen_catalog || c->zones[k].catalog_dir) {
            jsoncfg_err(j, at, "%s is not a zone of this configuration (catalogs list no catalog)",
                        ob);
            continue;
        }
        if (!name_set_add(&listed, n.wire, n.len, k))
            jsoncfg_err(j, at, "%s is listed twice", ob);
        else
            cat->gen_members[cat->n_gen_members++] = jsoncfg_strdup(ob);
    }
    name_set_free(&zones);
    name_set_free(&listed);
}

void config_zones_parse(const struct jsoncfg *j, json_t *v, json_t *records, struct config *c)
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
    config_catalogs(c, records);
    /* After the catalogs' members: a generated catalog lists them too. */
    for (i = 0; i < n; i++)
        if (c->zones[i].gen_catalog) {
            char path[64];
            snprintf(path, sizeof(path), "%s[%zu]", at, entry[i]);
            config_gen_catalog_members(j, json_array_get(v, entry[i]), path, c, i);
        }
    free(entry);
}

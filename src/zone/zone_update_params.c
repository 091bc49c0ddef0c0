/*
 * zone_update_params.c -- the "update" array of a zone entry
 * (zone_update_params.h).
 */
#include "zone/zone_update_params.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dns/dns.h"
#include "dns/name.h"
#include "dns/rrtype.h"
#include "dns/tsig_params.h"

enum { ZU_KEY, ZU_NAMES, ZU_MATCH, ZU_TYPES, ZU_N };
static const struct cfgschema_key zone_update_keys[ZU_N] = {
    [ZU_KEY] = {"key", CFGSCHEMA_STRING, .flags = CFGSCHEMA_REQUIRED,
                .what = "the TSIG key of tsig_keys the rule is for"},
    [ZU_NAMES] = {"names", CFGSCHEMA_ARRAY, .what = "owner names it may change (absent: the zone)"},
    [ZU_MATCH] = {"match", CFGSCHEMA_STRING,
                  .what = "\"subdomain\" (the names and below, the default) or \"exact\""},
    [ZU_TYPES] = {"types", CFGSCHEMA_ARRAY, .what = "record types it may change (absent: any)"},
};
const struct cfgschema zone_update_schema = CFGSCHEMA("$.zones[].update[]", zone_update_keys);

/* The types gtmd makes when it signs a zone: never changed by an update. */
static bool zone_update_dnssec_type(uint16_t t)
{
    return t == DNS_TYPE_RRSIG || t == DNS_TYPE_NSEC || t == DNS_TYPE_NSEC3 ||
           t == DNS_TYPE_NSEC3PARAM || t == DNS_TYPE_DNSKEY;
}

static void zone_update_names(const struct jsoncfg *j, json_t *v, const char *path,
                              const uint8_t *origin, size_t origin_len,
                              struct zone_update_rule_params *r)
{
    if (!json_is_array(v) || json_array_size(v) == 0 ||
        json_array_size(v) > ZONE_UPDATE_MAX_NAMES) {
        jsoncfg_err(j, path, "must be an array of 1 to %d domain names", ZONE_UPDATE_MAX_NAMES);
        return;
    }
    r->names = calloc(json_array_size(v), sizeof(*r->names));
    r->name_lens = calloc(json_array_size(v), sizeof(*r->name_lens));
    if (!r->names || !r->name_lens)
        abort();
    size_t i;
    json_t *e;
    json_array_foreach(v, i, e)
    {
        char sub[200];
        struct dns_name n;
        snprintf(sub, sizeof(sub), "%s[%zu]", path, i);
        if (!json_is_string(e) || !dns_name_from_str(json_string_value(e), &n))
            jsoncfg_err(j, sub, "must be a domain name such as \"_acme-challenge.example.com.\"");
        else if (!dns_name_is_sub(n.wire, n.len, origin, origin_len))
            jsoncfg_err(j, sub, "%s is not in the zone", json_string_value(e));
        else {
            memcpy(r->names[r->n_names], n.wire, n.len);
            r->name_lens[r->n_names++] = (uint8_t)n.len;
        }
    }
}

static void zone_update_types(const struct jsoncfg *j, json_t *v, const char *path,
                              struct zone_update_rule_params *r)
{
    if (!json_is_array(v) || json_array_size(v) == 0 ||
        json_array_size(v) > ZONE_UPDATE_MAX_TYPES) {
        jsoncfg_err(j, path, "must be an array of 1 to %d record types such as \"TXT\"",
                    ZONE_UPDATE_MAX_TYPES);
        return;
    }
    size_t i;
    json_t *e;
    json_array_foreach(v, i, e)
    {
        char sub[200];
        snprintf(sub, sizeof(sub), "%s[%zu]", path, i);
        uint16_t t = json_is_string(e) ? dns_type_from_text(json_string_value(e)) : 0;
        if (!dns_type_is_data(t))
            jsoncfg_err(j, sub, "must be a record type such as \"TXT\" or \"TYPE65280\"");
        else if (zone_update_dnssec_type(t))
            jsoncfg_err(j, sub, "%s records are made by signing, never changed by an update",
                        json_string_value(e));
        else
            r->types[r->n_types++] = t;
    }
}

static void zone_update_rule(const struct jsoncfg *j, json_t *e, const char *path,
                             const uint8_t *origin, size_t origin_len,
                             struct zone_update_rule_params *r)
{
    const struct cfgschema *s = &zone_update_schema;
    char sub[200];
    if (!cfgschema_object(j, s, e, path))
        return;
    const char *k = cfgschema_str(j, s, ZU_KEY, e, path);
    r->key = k ? jsoncfg_strdup(k) : NULL;
    json_t *n = cfgschema_value(s, ZU_NAMES, e);
    if (n) {
        cfgschema_key_path(sub, sizeof(sub), s, ZU_NAMES, path);
        zone_update_names(j, n, sub, origin, origin_len, r);
    }
    const char *m = cfgschema_str(j, s, ZU_MATCH, e, path);
    if (m && strcmp(m, "exact") == 0)
        r->match = ZONE_UPDATE_EXACT;
    else if (m && strcmp(m, "subdomain") != 0)
        cfgschema_err(j, s, ZU_MATCH, path, "must be \"subdomain\" or \"exact\"");
    json_t *t = cfgschema_value(s, ZU_TYPES, e);
    if (t) {
        cfgschema_key_path(sub, sizeof(sub), s, ZU_TYPES, path);
        zone_update_types(j, t, sub, r);
    }
}

void zone_update_params_parse(const struct jsoncfg *j, json_t *v, const char *path,
                              const uint8_t *origin, size_t origin_len,
                              struct zone_update_params *out)
{
    memset(out, 0, sizeof(*out));
    if (!v)
        return;
    if (!json_is_array(v) || json_array_size(v) == 0 ||
        json_array_size(v) > ZONE_UPDATE_MAX_RULES) {
        jsoncfg_err(j, path, "must be an array of 1 to %d rules such as {\"key\": \"acme\"}",
                    ZONE_UPDATE_MAX_RULES);
        return;
    }
    out->rules = calloc(json_array_size(v), sizeof(*out->rules));
    if (!out->rules)
        abort();
    size_t i;
    json_t *e;
    json_array_foreach(v, i, e)
    {
        char sub[200];
        snprintf(sub, sizeof(sub), "%s[%zu]", path, i);
        zone_update_rule(j, e, sub, origin, origin_len, &out->rules[out->n++]);
    }
}

void zone_update_params_free(struct zone_update_params *p)
{
    for (size_t i = 0; i < p->n; i++) {
        free(p->rules[i].key);
        free(p->rules[i].names);
        free(p->rules[i].name_lens);
    }
    free(p->rules);
    memset(p, 0, sizeof(*p));
}

const struct zone_update_policy *zone_update_policy_build(const struct zone_update_params *p,
                                                          const struct tsig_keyring *kr,
                                                          struct arena *a)
{
    if (!p->n)
        return NULL;
    struct zone_update_policy *pol = arena_alloc(a, sizeof(*pol));
    struct zone_update_rule *rules = arena_alloc(a, p->n * sizeof(*rules));
    size_t n = 0;
    for (size_t i = 0; i < p->n; i++) {
        const struct zone_update_rule_params *rp = &p->rules[i];
        const struct tsig_key *k = rp->key ? tsig_keyring_by_id(kr, rp->key) : NULL;
        if (!k)
            continue;
        struct zone_update_rule *r = &rules[n++];
        const uint8_t **names = arena_alloc(a, (rp->n_names ? rp->n_names : 1) * sizeof(*names));
        uint8_t *lens = arena_alloc(a, rp->n_names ? rp->n_names : 1);
        for (size_t k2 = 0; k2 < rp->n_names; k2++) {
            uint8_t *w = arena_alloc(a, rp->name_lens[k2]);
            memcpy(w, rp->names[k2], rp->name_lens[k2]);
            names[k2] = w;
            lens[k2] = rp->name_lens[k2];
        }
        uint16_t *types = arena_alloc(a, (rp->n_types ? rp->n_types : 1) * sizeof(*types));
        memcpy(types, rp->types, rp->n_types * sizeof(*types));
        *r = (struct zone_update_rule){k, names, lens, rp->n_names, rp->match, types, rp->n_types};
    }
    pol->rules = rules;
    pol->n = n;
    return pol;
}

static bool zone_update_rule_names(const struct zone_update_rule *r, const uint8_t *owner,
                                   size_t owner_len)
{
    if (r->n_names == 0)
        return true;
    for (size_t i = 0; i < r->n_names; i++) {
        if (r->match == ZONE_UPDATE_EXACT
                ? dns_name_equal(owner, owner_len, r->names[i], r->name_lens[i])
                : dns_name_is_sub(owner, owner_len, r->names[i], r->name_lens[i]))
            return true;
    }
    return false;
}

/* Whether r lets records of type change. ANY is a deletion of every RRset
 * of a name (RFC 2136 §2.5.3): only a rule for every type allows it. No
 * other meta or reserved type (TYPE0 included) is ever allowed: such a
 * record is no data, and an answer with one is a bad packet to clients. */
static bool zone_update_rule_types(const struct zone_update_rule *r, uint16_t type)
{
    if (zone_update_dnssec_type(type) || (!dns_type_is_data(type) && type != DNS_TYPE_ANY))
        return false;
    if (r->n_types == 0)
        return true;
    for (size_t i = 0; i < r->n_types; i++)
        if (r->types[i] == type)
            return true;
    return false;
}

bool zone_update_allowed(const struct zone_update_policy *pol, const struct tsig_key *key,
                         const uint8_t *owner, size_t owner_len, uint16_t type)
{
    for (size_t i = 0; pol && key && i < pol->n; i++) {
        const struct zone_update_rule *r = &pol->rules[i];
        if (r->key != key)
            continue;
        if (type == 0 && !owner)
            return true;
        if (zone_update_rule_names(r, owner, owner_len) && zone_update_rule_types(r, type))
            return true;
    }
    return false;
}

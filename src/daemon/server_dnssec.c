/*
 * server_dnssec.c -- the view GET /v1/dnssec serves (admin_set_dnssec):
 * each signing policy with its intervals, and each zone that names one
 * with its keys and the times the policy makes due (zone_kasp.h). Built
 * from the configuration at start and at each reload.
 */
#include <string.h>
#include <time.h>

#include "common/errlist.h"
#include "common/log.h"
#include "daemon/server_int.h"
#include "zone/zone_kasp.h"
#include "zone/zone_kasp_store.h"

/* The time prev's entry for zone took its keys as active since, when it
 * had the same keys (by tag, in order): a reload that keeps the keys
 * keeps their age; -1 when none. */
static int64_t server_dnssec_since(json_t *prev, json_t *zone)
{
    size_t i;
    json_t *z;
    const char *origin = json_string_value(json_object_get(zone, "zone"));
    json_array_foreach(json_object_get(prev, "zones"), i, z)
    {
        const char *o = json_string_value(json_object_get(z, "zone"));
        if (!o || !origin || strcmp(o, origin) != 0)
            continue;
        json_t *a = json_object_get(z, "keys"), *b = json_object_get(zone, "keys");
        if (json_array_size(a) != json_array_size(b) || json_array_size(a) == 0)
            return -1;
        for (size_t k = 0; k < json_array_size(a); k++)
            if (!json_equal(json_object_get(json_array_get(a, k), "tag"),
                            json_object_get(json_array_get(b, k), "tag")))
                return -1;
        return json_integer_value(json_object_get(json_array_get(a, 0), "since"));
    }
    return -1;
}

/* Zone z under policy p, its keys active since now, or since the time
 * prev had for the same keys. */
static json_t *server_dnssec_zone(const struct config_zone *z, const struct zone_kasp_policy *p,
                                  json_t *prev, int64_t now)
{
    struct errlist errs;
    errlist_init(&errs);
    json_t *j = zone_kasp_zone_json(z->origin, p, &z->dnssec.sign, now, &errs);
    int64_t since = server_dnssec_since(prev, j);
    if (since >= 0 && since != now) {
        json_decref(j);
        j = zone_kasp_zone_json(z->origin, p, &z->dnssec.sign, since, &errs);
    }
    server_log_errors(&errs, "dnssec status: ");
    errlist_free(&errs);
    return j;
}

/* The next action of keys under p at now, as status shows it. */
static json_t *server_dnssec_next(const struct zone_kasp_policy *p,
                                  const struct zone_kasp_keys *keys, int64_t now)
{
    struct zone_kasp_action a;
    zone_kasp_sched_next(&p->timing, p->zsk_lifetime, p->ksk_lifetime, keys, NULL, now, &a);
    if (a.act == ZONE_KASP_ACT_NONE)
        return json_pack("{s:s, s:n}", "action", "none", "at");
    char what[200];
    const struct zone_kasp_key *k = a.key < keys->n ? &keys->v[a.key] : NULL;
    if (a.act == ZONE_KASP_ACT_EVENT && k)
        snprintf(what, sizeof(what), "%s %u becomes %s", k->ksk ? "KSK" : "ZSK", k->tag,
                 zone_kasp_kt_name(a.which));
    else if (a.act == ZONE_KASP_ACT_ROLL_ZSK && k)
        snprintf(what, sizeof(what), "publish a successor of ZSK %u (pre-publication)", k->tag);
    else if (a.act == ZONE_KASP_ACT_ROLL_KSK && k)
        snprintf(what, sizeof(what), "publish a successor of KSK %u (double-KSK)", k->tag);
    else
        snprintf(what, sizeof(what), "%s", zone_kasp_act_name(a.act));
    return json_pack("{s:s, s:I}", "action", what, "at", (json_int_t)a.at);
}

/* Zone z under p with its keys in the key store: each key's timestamps
 * and state, and the next action. */
static json_t *server_dnssec_store_zone(const struct config_zone *z,
                                        const struct zone_kasp_policy *p, int64_t now)
{
    struct zone_kasp_keys keys;
    struct errlist errs;
    errlist_init(&errs);
    bool ok = zone_kasp_store_load(z->dnssec.key_directory, z->origin, &keys, &errs);
    json_t *j = json_pack("{s:s, s:s, s:s, s:s}", "zone", z->origin, "policy", p->name, "keys_from",
                          "key store", "key_directory", z->dnssec.key_directory);
    if (!ok) {
        json_object_set_new(j, "error", json_string(errs.count ? errs.msgs[0] : "?"));
        json_object_set_new(j, "keys", json_array());
        json_object_set_new(j, "next_action", json_pack("{s:s, s:n}", "action", "none", "at"));
    } else {
        json_object_set_new(j, "keys", zone_kasp_store_json(&keys, now));
        json_object_set_new(j, "next_action", server_dnssec_next(p, &keys, now));
    }
    errlist_free(&errs);
    return j;
}

json_t *server_dnssec_view(const struct config *c, json_t *prev)
{
    int64_t now = (int64_t)time(NULL);
    json_t *pol = json_array(), *zones = json_array();
    for (size_t i = 0; i < c->kasp.n; i++)
        json_array_append_new(pol, zone_kasp_json(&c->kasp.v[i]));
    for (size_t i = 0; i < c->n_zones; i++) {
        const struct config_zone *z = &c->zones[i];
        const struct zone_kasp_policy *p = zone_kasp_find(&c->kasp, z->dnssec.policy);
        if (p && z->dnssec.key_directory)
            json_array_append_new(zones, server_dnssec_store_zone(z, p, now));
        else if (p)
            json_array_append_new(zones, server_dnssec_zone(z, p, prev, now));
    }
    return json_pack("{s:o, s:o}", "policies", pol, "zones", zones);
}

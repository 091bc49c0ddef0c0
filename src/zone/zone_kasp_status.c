/*
 * zone_kasp_status.c -- what a signing policy computes for a zone's keys
 * (zone_kasp.h, zone_kasp_zone_json): GET /v1/dnssec and gtmctl dnssec
 * status show it.
 */
#include <ldns/ldns.h>

#include "zone/zone_kasp.h"
#include "zone/zone_sign.h"

#define ZONE_KASP_BY_HAND                                                                          \
    "none: the keys are the operator's (\"keys\"); with \"key_directory\" gtmd makes and rolls "   \
    "them"

static json_t *zone_kasp_time(int64_t t)
{
    return t >= 0 ? json_integer(t) : json_null();
}

/* The due times of one key the policy would act on, the key taken as
 * active since 'since': its retirement and removal, and its successor's
 * publication (and, for a KSK, the successor's DS submission). */
static json_t *zone_kasp_key_due(const struct zone_kasp_policy *p, bool ksk, int64_t since)
{
    struct zone_kasp_intervals iv;
    struct zone_kasp_key_times k, s;
    zone_kasp_intervals(&p->timing, &iv);
    uint64_t life = ksk ? p->ksk_lifetime : p->zsk_lifetime;
    if (ksk)
        zone_kasp_ksk(&p->timing, since - (int64_t)(iv.ipub + iv.iret_ksk), life, &k);
    else
        zone_kasp_zsk(&p->timing, since - (int64_t)iv.ipub, life, &k);
    int64_t ret = k.t[ZONE_KASP_RETIRED];
    int64_t succ = ret < 0 ? -1 : ret - (int64_t)(ksk ? iv.ipub + iv.iret_ksk : iv.ipub);
    if (succ >= 0 && ksk)
        zone_kasp_ksk(&p->timing, succ, life, &s);
    json_t *o = json_pack("{s:I, s:o, s:o, s:o}", "active", (json_int_t)k.t[ZONE_KASP_ACTIVE],
                          "successor_published", zone_kasp_time(succ), "retired",
                          zone_kasp_time(ret), "removed", zone_kasp_time(k.t[ZONE_KASP_REMOVED]));
    if (ksk)
        json_object_set_new(o, "successor_ds_submitted",
                            zone_kasp_time(succ >= 0 ? s.t[ZONE_KASP_SUBMITTED] : -1));
    return o;
}

/* One DNSKEY as status shows it, and the earliest due time it adds to
 * *due (what the key manager would do first, event its name). */
static json_t *zone_kasp_key_json(const struct zone_kasp_policy *p, ldns_rr *rr, int64_t since,
                                  int64_t *due, const char **event)
{
    uint16_t flags = ldns_rdf2native_int16(ldns_rr_rdf(rr, 0));
    uint8_t alg = ldns_rdf2native_int8(ldns_rr_rdf(rr, 2));
    bool ksk = (flags & LDNS_KEY_SEP_KEY) != 0;
    json_t *d = zone_kasp_key_due(p, ksk, since);
    int64_t sp = json_is_integer(json_object_get(d, "successor_published"))
                     ? json_integer_value(json_object_get(d, "successor_published"))
                     : -1;
    if (sp >= 0 && (*due < 0 || sp < *due)) {
        *due = sp;
        *event = ksk ? "publish a successor KSK (double-KSK)"
                     : "publish a successor ZSK (pre-publication)";
    }
    return json_pack("{s:i, s:i, s:s, s:i, s:b, s:s, s:I, s:o}", "tag", ldns_calc_keytag(rr),
                     "flags", flags, "role", ksk ? "ksk" : "zsk", "algorithm", alg,
                     "algorithm_matches", alg == p->algorithm, "state", "active", "since",
                     (json_int_t)since, "due", d);
}

json_t *zone_kasp_zone_json(const char *origin, const struct zone_kasp_policy *p,
                            const struct zone_sign_params *sp, int64_t since, struct errlist *errs)
{
    ldns_rr_list *pub = zone_sign_public_keys(sp, errs);
    json_t *keys = json_array();
    int64_t due = -1;
    const char *event = NULL;
    for (size_t i = 0; pub && i < ldns_rr_list_rr_count(pub); i++)
        json_array_append_new(keys,
                              zone_kasp_key_json(p, ldns_rr_list_rr(pub, i), since, &due, &event));
    if (pub)
        ldns_rr_list_deep_free(pub);
    /* Honest about what runs: nothing acts on the due times of keys given by hand. */
    json_t *next = json_pack("{s:s, s:n}", "action", ZONE_KASP_BY_HAND, "at");
    json_t *policy_due =
        due >= 0 ? json_pack("{s:s, s:I}", "event", event, "at", (json_int_t)due) : json_null();
    return json_pack("{s:s, s:s, s:s, s:o, s:o, s:o}", "zone", origin, "policy", p->name,
                     "keys_from", "configuration (dnssec.keys)", "keys", keys, "next_action", next,
                     "policy_due", policy_due);
}

/*
 * zone_kasp.c -- signing policies (zone_kasp.h).
 */
#include "zone/zone_kasp.h"

#include <stdlib.h>
#include <string.h>

#include "common/addr.h"
#include "zone/zone_kasp_pname.h"

#define DAY 86400L
#define YEAR (366L * DAY)

enum { KN_ITERATIONS, KN_N };
static const struct cfgschema_key zone_kasp_nsec3_keys[KN_N] = {
    /* RFC 9276: 0; more than 100 is treated as insecure by validators. */
    [KN_ITERATIONS] = {"iterations", CFGSCHEMA_INT, 0, 100, 0, 0, NULL,
                       "NSEC3 extra hash iterations (RFC 9276: 0)"},
};
static const struct cfgschema zone_kasp_nsec3_schema =
    CFGSCHEMA("$.dnssec_policies[].nsec3", zone_kasp_nsec3_keys);

enum { KD_PRIMARY, KD_KEY, KD_N };
static const struct cfgschema_key zone_kasp_push_keys[KD_N] = {
    [KD_PRIMARY] = {"primary", CFGSCHEMA_STRING, .flags = CFGSCHEMA_REQUIRED,
                    .what = "the parent's primary, \"ADDR:PORT\", that takes the DS update"},
    [KD_KEY] = {"key", CFGSCHEMA_STRING, .what = "the TSIG key (in tsig_keys) that signs it"},
};
static const struct cfgschema zone_kasp_push_schema =
    CFGSCHEMA("$.dnssec_policies[].parent.ds_push", zone_kasp_push_keys);

enum {
    KP_CDS,
    KP_DS_PUSH,
    KP_SERVERS,
    KP_DS_TTL,
    KP_REGISTRATION,
    KP_PROPAGATION,
    KP_CHECK_INTERVAL,
    KP_DS_DIGEST,
    KP_DS_WAIT_WARN,
    KP_ZONE,
    KP_N
};
static const struct cfgschema_key zone_kasp_parent_keys[KP_N] = {
    [KP_CDS] = {"cds", CFGSCHEMA_BOOL, 0, 1, 1, 0, NULL,
                "publish CDS and CDNSKEY for the parent to take (RFC 7344, RFC 8078)"},
    [KP_DS_PUSH] = {"ds_push", CFGSCHEMA_OBJECT, .sub = &zone_kasp_push_schema,
                    .what = "push the DS by a signed DNS UPDATE to the parent's primary"},
    [KP_SERVERS] = {"servers", CFGSCHEMA_ARRAY,
                    .what = "the parent's name servers, \"ADDR:PORT\", asked for the DS "
                            "before the old KSK goes"},
    [KP_DS_TTL] = {"ds_ttl", CFGSCHEMA_INT, 0, 30 * DAY, DAY, 0, NULL,
                   "TTLds: the TTL of the DS RRset at the parent"},
    [KP_REGISTRATION] = {"registration_delay", CFGSCHEMA_INT, 0, 30 * DAY, DAY, 0, NULL,
                         "Dreg: from submitting the DS to its publication by the parent"},
    [KP_PROPAGATION] = {"propagation_delay", CFGSCHEMA_INT, 0, 30 * DAY, 3600, 0, NULL,
                        "DprpP: from the parent's primary to all its name servers"},
    [KP_CHECK_INTERVAL] = {"check_interval", CFGSCHEMA_INT, 1, DAY, 60, 0, NULL,
                           "seconds between two checks of the DS at the parent's servers (and "
                           "the first wait of a DS push retried)"},
    [KP_DS_DIGEST] = {"ds_digest", CFGSCHEMA_STRING,
                      .what = "the DS digest pushed and looked for: \"sha256\" (the default, "
                              "RFC 4509) or \"sha384\""},
    [KP_DS_WAIT_WARN] = {"ds_wait_warn", CFGSCHEMA_INT, 0, 365 * DAY, DAY, 0, NULL,
                         "seconds a ready KSK may wait for its DS at the parent before an "
                         "alarm (event, status, metric); 0: never"},
    [KP_ZONE] = {"zone", CFGSCHEMA_STRING,
                 .what = "the parent's zone, above every zone of the policy (default: found by "
                         "asking the servers for the SOA of the zone's ancestors)"},
};
static const struct cfgschema zone_kasp_parent_schema =
    CFGSCHEMA("$.dnssec_policies[].parent", zone_kasp_parent_keys);

enum {
    KK_ALGORITHM,
    KK_KSK_LIFETIME,
    KK_ZSK_LIFETIME,
    KK_DNSKEY_TTL,
    KK_ZONE_MAX_TTL,
    KK_PROPAGATION,
    KK_VALIDITY,
    KK_REFRESH,
    KK_DENIAL,
    KK_NSEC3,
    KK_PUBLISH_SAFETY,
    KK_RETIRE_SAFETY,
    KK_PARENT,
    KK_N
};
static const struct cfgschema_key zone_kasp_keys[KK_N] = {
    [KK_ALGORITHM] = {"algorithm", CFGSCHEMA_INT, 8, 15, 13, 0, NULL,
                      "13 (ECDSA P-256 SHA-256), 15 (Ed25519) or 8 (RSA SHA-256)"},
    [KK_KSK_LIFETIME] = {"ksk_lifetime", CFGSCHEMA_ANY,
                         .what = "seconds from a KSK's activation to its retirement, or "
                                 "\"none\" (the default: no scheduled KSK rollover)"},
    [KK_ZSK_LIFETIME] = {"zsk_lifetime", CFGSCHEMA_ANY,
                         .what = "seconds from a ZSK's activation to its retirement (default "
                                 "2592000, 30 days), or \"none\""},
    [KK_DNSKEY_TTL] = {"dnskey_ttl", CFGSCHEMA_INT, 1, 7 * DAY, 3600, 0, NULL,
                       "TTLkey: the DNSKEY RRset's TTL"},
    [KK_ZONE_MAX_TTL] = {"zone_max_ttl", CFGSCHEMA_INT, 1, 7 * DAY, DAY, 0, NULL,
                         "TTLsig: the largest TTL in the zone"},
    [KK_PROPAGATION] = {"propagation_delay", CFGSCHEMA_INT, 0, 7 * DAY, 3600, 0, NULL,
                        "Dprp: from publication here to every secondary and fleet node"},
    [KK_VALIDITY] = {"signature_validity", CFGSCHEMA_INT, 60, YEAR, 14 * DAY, 0, NULL,
                     "the signatures' lifetime in seconds"},
    [KK_REFRESH] = {"signature_refresh", CFGSCHEMA_INT, 10, YEAR, 4 * DAY, 0, NULL,
                    "how long before they expire gtmd signs again"},
    [KK_DENIAL] = {"denial", CFGSCHEMA_STRING, .what = "\"nsec\" (the default) or \"nsec3\""},
    [KK_NSEC3] = {"nsec3", CFGSCHEMA_OBJECT, .sub = &zone_kasp_nsec3_schema,
                  .what = "NSEC3's parameters"},
    [KK_PUBLISH_SAFETY] = {"publish_safety", CFGSCHEMA_INT, 0, 30 * DAY, 3600, 0, NULL,
                           "margin added to Ipub, the wait before a new key is used"},
    [KK_RETIRE_SAFETY] = {"retire_safety", CFGSCHEMA_INT, 0, 30 * DAY, 3600, 0, NULL,
                          "margin added to Iret, the wait before an old key goes"},
    [KK_PARENT] = {"parent", CFGSCHEMA_OBJECT, .sub = &zone_kasp_parent_schema,
                   .what = "how the parent is told of a new KSK and how its DS is checked"},
};
const struct cfgschema zone_kasp_schema = CFGSCHEMA("$.dnssec_policies[]", zone_kasp_keys);

/* ksk_lifetime or zsk_lifetime: seconds (at least 1, at most 10 years)
 * or "none" (0); def when absent. */
static uint32_t zone_kasp_lifetime(const struct jsoncfg *j, json_t *p, size_t k, const char *path,
                                   uint32_t def)
{
    json_t *v = cfgschema_value(&zone_kasp_schema, k, p);
    if (!v)
        return def;
    if (json_is_string(v) && strcmp(json_string_value(v), "none") == 0)
        return 0;
    if (json_is_integer(v) && json_integer_value(v) >= 1 && json_integer_value(v) <= 10 * 365 * DAY)
        return (uint32_t)json_integer_value(v);
    cfgschema_err(j, &zone_kasp_schema, k, path,
                  "must be a number of seconds (1 to %ld) or \"none\"", 10 * 365 * DAY);
    return def;
}

/* "parent.servers": "ADDR:PORT" strings. */
static void zone_kasp_servers(const struct jsoncfg *j, json_t *v, const char *path,
                              struct zone_kasp_policy *p)
{
    if (!json_is_array(v) || json_array_size(v) > ZONE_KASP_MAX_SERVERS) {
        jsoncfg_err(j, path, "must be an array of up to %d \"ADDR:PORT\" strings",
                    ZONE_KASP_MAX_SERVERS);
        return;
    }
    size_t i;
    json_t *e;
    json_array_foreach(v, i, e)
    {
        struct sockaddr_storage ss;
        socklen_t sl;
        char at[400];
        snprintf(at, sizeof(at), "%s[%zu]", path, i);
        if (!json_is_string(e) || addr_parse(json_string_value(e), ADDR_PORT_REQUIRED, &ss, &sl))
            jsoncfg_err(j, at, "must be an address and port such as \"192.0.2.1:53\"");
        else
            p->servers[p->n_servers++] = jsoncfg_strdup(json_string_value(e));
    }
}

static void zone_kasp_push(const struct jsoncfg *j, json_t *v, const char *path,
                           struct zone_kasp_policy *p)
{
    const struct cfgschema *s = &zone_kasp_push_schema;
    if (!cfgschema_object(j, s, v, path))
        return;
    const char *pr = cfgschema_str(j, s, KD_PRIMARY, v, path);
    struct sockaddr_storage ss;
    socklen_t sl;
    if (pr && addr_parse(pr, ADDR_PORT_REQUIRED, &ss, &sl) != 0)
        cfgschema_err(j, s, KD_PRIMARY, path,
                      "must be an address and port such as \"192.0.2.1:53\"");
    else if (pr)
        p->ds_push_primary = jsoncfg_strdup(pr);
    const char *k = cfgschema_str(j, s, KD_KEY, v, path);
    p->ds_push_key = k ? jsoncfg_strdup(k) : NULL;
}

static void zone_kasp_parent(const struct jsoncfg *j, json_t *v, const char *path,
                             struct zone_kasp_policy *p)
{
    const struct cfgschema *s = &zone_kasp_parent_schema;
    char sub[400];
    if (v && !cfgschema_object(j, s, v, path))
        v = NULL; /* said; the defaults */
    p->cds = cfgschema_bool(j, s, KP_CDS, v, path);
    p->timing.ttl_ds = (uint32_t)cfgschema_int(j, s, KP_DS_TTL, v, path);
    p->timing.dreg = (uint32_t)cfgschema_int(j, s, KP_REGISTRATION, v, path);
    p->timing.dprp_parent = (uint32_t)cfgschema_int(j, s, KP_PROPAGATION, v, path);
    p->check_interval = (uint32_t)cfgschema_int(j, s, KP_CHECK_INTERVAL, v, path);
    p->ds_wait_warn = (uint32_t)cfgschema_int(j, s, KP_DS_WAIT_WARN, v, path);
    const char *dg = cfgschema_str(j, s, KP_DS_DIGEST, v, path);
    p->ds_digest = 2; /* SHA-256 */
    if (dg && strcmp(dg, "sha384") == 0)
        p->ds_digest = 4;
    else if (dg && strcmp(dg, "sha256") != 0)
        cfgschema_err(j, s, KP_DS_DIGEST, path, "must be \"sha256\" or \"sha384\"");
    json_t *d = cfgschema_value(s, KP_DS_PUSH, v);
    cfgschema_key_path(sub, sizeof(sub), s, KP_DS_PUSH, path);
    if (d)
        zone_kasp_push(j, d, sub, p);
    const char *pz = cfgschema_str(j, s, KP_ZONE, v, path);
    char name[256], why[300];
    if (pz && !zone_kasp_pname_norm(pz, name, sizeof(name), why, sizeof(why)))
        cfgschema_err(j, s, KP_ZONE, path, "%s", why);
    else if (pz)
        p->parent_zone = jsoncfg_strdup(name);
    json_t *sv = cfgschema_value(s, KP_SERVERS, v);
    cfgschema_key_path(sub, sizeof(sub), s, KP_SERVERS, path);
    if (sv)
        zone_kasp_servers(j, sv, sub, p);
}

/* "algorithm", "denial" and "nsec3". */
static void zone_kasp_algorithms(const struct jsoncfg *j, json_t *v, const char *path,
                                 struct zone_kasp_policy *p)
{
    const struct cfgschema *s = &zone_kasp_schema;
    long a = cfgschema_int(j, s, KK_ALGORITHM, v, path);
    if (a != 8 && a != 13 && a != 15)
        cfgschema_err(j, s, KK_ALGORITHM, path,
                      "must be 13 (ECDSA P-256 SHA-256), 15 (Ed25519) or 8 (RSA SHA-256)");
    p->algorithm = (uint8_t)a;
    const char *d = cfgschema_str(j, s, KK_DENIAL, v, path);
    if (d && strcmp(d, "nsec3") == 0)
        p->nsec3 = true;
    else if (d && strcmp(d, "nsec") != 0)
        cfgschema_err(j, s, KK_DENIAL, path, "must be \"nsec\" or \"nsec3\"");
    json_t *n = cfgschema_value(s, KK_NSEC3, v);
    char sub[400];
    cfgschema_key_path(sub, sizeof(sub), s, KK_NSEC3, path);
    if (n && !p->nsec3)
        cfgschema_err(j, s, KK_NSEC3, path, "needs \"denial\": \"nsec3\"");
    if (n && cfgschema_object(j, &zone_kasp_nsec3_schema, n, sub))
        p->iterations = (uint16_t)cfgschema_int(j, &zone_kasp_nsec3_schema, KN_ITERATIONS, n, sub);
}

/* The safety checks (zone_kasp_timeline.h), each at its key's path. */
static void zone_kasp_check(const struct jsoncfg *j, const char *path,
                            const struct zone_kasp_policy *p)
{
    const struct cfgschema *s = &zone_kasp_schema;
    char why[700];
    if (!zone_kasp_lifetime_ok(&p->timing, p->zsk_lifetime, false, why, sizeof(why)))
        cfgschema_err(j, s, KK_ZSK_LIFETIME, path, "%s", why);
    if (!zone_kasp_lifetime_ok(&p->timing, p->ksk_lifetime, true, why, sizeof(why)))
        cfgschema_err(j, s, KK_KSK_LIFETIME, path, "%s", why);
    /* The old KSK goes only once the new DS is seen at the parent's
     * servers: a scheduled KSK rollover without them would wait forever. */
    if (p->ksk_lifetime && p->n_servers == 0)
        cfgschema_err(j, s, KK_KSK_LIFETIME, path,
                      "needs parent.servers: the old KSK is retired only once the new KSK's DS "
                      "is seen at every one of them");
    if (p->ds_push_primary && p->n_servers == 0)
        cfgschema_err(j, s, KK_PARENT, path,
                      "ds_push needs servers: the push is tried, and its DS looked for, while a "
                      "KSK rollover waits for the parent's servers to have it");
    if (p->refresh >= p->validity)
        cfgschema_err(j, s, KK_REFRESH, path,
                      "must be less than signature_validity (%u): gtmd signs again this long "
                      "before the signatures expire",
                      p->validity);
    else if (!zone_kasp_refresh_ok(&p->timing, p->refresh, why, sizeof(why)))
        cfgschema_err(j, s, KK_REFRESH, path, "%s", why);
}

static void zone_kasp_policy(const struct jsoncfg *j, const char *name, json_t *v, const char *path,
                             struct zone_kasp_policy *p)
{
    const struct cfgschema *s = &zone_kasp_schema;
    p->name = jsoncfg_strdup(name);
    p->path = jsoncfg_strdup(path);
    if (!cfgschema_object(j, s, v, path))
        return;
    zone_kasp_algorithms(j, v, path, p);
    p->ksk_lifetime = zone_kasp_lifetime(j, v, KK_KSK_LIFETIME, path, 0);
    p->zsk_lifetime = zone_kasp_lifetime(j, v, KK_ZSK_LIFETIME, path, 30 * DAY);
    p->timing.ttl_key = (uint32_t)cfgschema_int(j, s, KK_DNSKEY_TTL, v, path);
    p->timing.ttl_sig = (uint32_t)cfgschema_int(j, s, KK_ZONE_MAX_TTL, v, path);
    p->timing.dprp = (uint32_t)cfgschema_int(j, s, KK_PROPAGATION, v, path);
    p->timing.dsgn = 0; /* the whole zone is signed at once (zone_kasp_timeline.h) */
    p->timing.publish_safety = (uint32_t)cfgschema_int(j, s, KK_PUBLISH_SAFETY, v, path);
    p->timing.retire_safety = (uint32_t)cfgschema_int(j, s, KK_RETIRE_SAFETY, v, path);
    p->validity = (uint32_t)cfgschema_int(j, s, KK_VALIDITY, v, path);
    p->refresh = (uint32_t)cfgschema_int(j, s, KK_REFRESH, v, path);
    char sub[400];
    cfgschema_key_path(sub, sizeof(sub), s, KK_PARENT, path);
    zone_kasp_parent(j, cfgschema_value(s, KK_PARENT, v), sub, p);
    zone_kasp_check(j, path, p);
}

void zone_kasp_parse(const struct jsoncfg *j, json_t *v, const char *path,
                     struct zone_kasp_set *out)
{
    memset(out, 0, sizeof(*out));
    if (!v)
        return;
    if (!json_is_object(v)) {
        jsoncfg_err(j, path, "must be an object of signing policies by name");
        return;
    }
    out->v = calloc(json_object_size(v) ? json_object_size(v) : 1, sizeof(*out->v));
    if (!out->v)
        abort();
    const char *name;
    json_t *pv;
    json_object_foreach(v, name, pv)
    {
        char at[320];
        snprintf(at, sizeof(at), "%s[\"%.256s\"]", path, name);
        zone_kasp_policy(j, name, pv, at, &out->v[out->n++]);
    }
}

const struct zone_kasp_policy *zone_kasp_find(const struct zone_kasp_set *s, const char *name)
{
    for (size_t i = 0; name && i < s->n; i++)
        if (strcmp(s->v[i].name, name) == 0)
            return &s->v[i];
    return NULL;
}

void zone_kasp_free(struct zone_kasp_set *s)
{
    for (size_t i = 0; i < s->n; i++) {
        struct zone_kasp_policy *p = &s->v[i];
        free(p->name);
        free(p->path);
        free(p->ds_push_primary);
        free(p->ds_push_key);
        free(p->parent_zone);
        for (size_t k = 0; k < p->n_servers; k++)
            free(p->servers[k]);
    }
    free(s->v);
    memset(s, 0, sizeof(*s));
}

static json_t *zone_kasp_lifetime_json(uint32_t l)
{
    return l ? json_integer(l) : json_string("none");
}

static json_t *zone_kasp_parent_json(const struct zone_kasp_policy *p)
{
    json_t *sv = json_array();
    for (size_t i = 0; i < p->n_servers; i++)
        json_array_append_new(sv, json_string(p->servers[i]));
    json_t *o = json_pack(
        "{s:b, s:I, s:I, s:I, s:o, s:I, s:s}", "cds", p->cds, "ds_ttl",
        (json_int_t)p->timing.ttl_ds, "registration_delay", (json_int_t)p->timing.dreg,
        "propagation_delay", (json_int_t)p->timing.dprp_parent, "servers", sv, "check_interval",
        (json_int_t)p->check_interval, "ds_digest", p->ds_digest == 4 ? "sha384" : "sha256");
    json_object_set_new(o, "ds_wait_warn", json_integer(p->ds_wait_warn));
    json_object_set_new(o, "zone", p->parent_zone ? json_string(p->parent_zone) : json_null());
    if (p->ds_push_primary)
        json_object_set_new(
            o, "ds_push",
            json_pack("{s:s, s:s?}", "primary", p->ds_push_primary, "key", p->ds_push_key));
    return o;
}

json_t *zone_kasp_json(const struct zone_kasp_policy *p)
{
    struct zone_kasp_intervals iv;
    zone_kasp_intervals(&p->timing, &iv);
    json_t *in = json_pack("{s:I, s:I, s:I, s:I, s:I, s:I, s:I}", "ipub", (json_int_t)iv.ipub,
                           "iret", (json_int_t)iv.iret, "ipub_parent", (json_int_t)iv.ipub_parent,
                           "iret_ksk", (json_int_t)iv.iret_ksk, "min_zsk_lifetime",
                           (json_int_t)iv.min_zsk, "min_ksk_lifetime", (json_int_t)iv.min_ksk,
                           "algorithm_rollover", (json_int_t)iv.algorithm_total);
    json_t *o = json_pack(
        "{s:s, s:i, s:o, s:o, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:s, s:i}", "name", p->name,
        "algorithm", p->algorithm, "ksk_lifetime", zone_kasp_lifetime_json(p->ksk_lifetime),
        "zsk_lifetime", zone_kasp_lifetime_json(p->zsk_lifetime), "dnskey_ttl",
        (json_int_t)p->timing.ttl_key, "zone_max_ttl", (json_int_t)p->timing.ttl_sig,
        "propagation_delay", (json_int_t)p->timing.dprp, "signature_validity",
        (json_int_t)p->validity, "signature_refresh", (json_int_t)p->refresh, "publish_safety",
        (json_int_t)p->timing.publish_safety, "retire_safety", (json_int_t)p->timing.retire_safety,
        "denial", p->nsec3 ? "nsec3" : "nsec", "nsec3_iterations", p->iterations);
    json_object_set_new(o, "parent", zone_kasp_parent_json(p));
    json_object_set_new(o, "intervals", in);
    return o;
}

void zone_kasp_print(FILE *out, const struct zone_kasp_policy *p)
{
    const struct zone_kasp_timing *t = &p->timing;
    struct zone_kasp_intervals iv;
    zone_kasp_intervals(t, &iv);
    fprintf(out, "policy %s: algorithm %u, denial %s\n", p->name, p->algorithm,
            p->nsec3 ? "nsec3" : "nsec");
    fprintf(out, "  Ipub = Dprp %u + TTLkey %u + publish_safety %u = %llu s\n", t->dprp, t->ttl_key,
            t->publish_safety, (unsigned long long)iv.ipub);
    fprintf(out, "  Iret = Dsgn %u + Dprp %u + TTLsig %u + retire_safety %u = %llu s\n", t->dsgn,
            t->dprp, t->ttl_sig, t->retire_safety, (unsigned long long)iv.iret);
    fprintf(out, "  IretK = Dreg %u + DprpP %u + TTLds %u + retire_safety %u = %llu s\n", t->dreg,
            t->dprp_parent, t->ttl_ds, t->retire_safety, (unsigned long long)iv.iret_ksk);
    fprintf(out,
            "  shortest safe zsk_lifetime = Ipub + Iret = %llu s; ksk_lifetime = Ipub + "
            "IretK = %llu s\n",
            (unsigned long long)iv.min_zsk, (unsigned long long)iv.min_ksk);
    if (p->zsk_lifetime)
        fprintf(out,
                "  zsk_lifetime %u s: the next ZSK is published %llu s after a ZSK becomes "
                "active, the old one removed %llu s after it retires\n",
                p->zsk_lifetime, (unsigned long long)(p->zsk_lifetime - iv.ipub),
                (unsigned long long)iv.iret);
    else
        fprintf(out, "  zsk_lifetime none: no scheduled ZSK rollover\n");
    if (p->ksk_lifetime)
        fprintf(out,
                "  ksk_lifetime %u s: the next KSK is published %llu s after a KSK becomes "
                "active, its DS submitted %llu s later\n",
                p->ksk_lifetime, (unsigned long long)(p->ksk_lifetime - iv.min_ksk),
                (unsigned long long)iv.ipub);
    else
        fprintf(out, "  ksk_lifetime none: no scheduled KSK rollover\n");
    fprintf(out, "  an algorithm rollover takes %llu s\n", (unsigned long long)iv.algorithm_total);
}

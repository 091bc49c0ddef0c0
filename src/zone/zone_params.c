/*
 * zone_params.c -- the "dnssec" object of a zone entry.
 */
#include "zone/zone_params.h"
#include "zone/zone_kasp.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* "salt": "-" (none) or up to 255 bytes in hex. */
static void zone_params_salt(const struct jsoncfg *j, const char *s, const char *path,
                             struct zone_sign_params *sp)
{
    size_t n = strlen(s);
    sp->salt_len = 0;
    if (strcmp(s, "-") == 0 || n == 0)
        return;
    if (n % 2 != 0 || n > 510 || strspn(s, "0123456789abcdefABCDEF") != n) {
        jsoncfg_err(j, path, "must be \"-\" or an even number of hex digits (up to 255 bytes)");
        return;
    }
    for (size_t i = 0; i < n / 2; i++) {
        unsigned b;
        sscanf(s + 2 * i, "%2x", &b);
        sp->salt[i] = (uint8_t)b;
    }
    sp->salt_len = (uint8_t)(n / 2);
}

enum { N3_ITERATIONS, N3_SALT, N3_N };
static const struct cfgschema_key zone_nsec3_keys[N3_N] = {
    /* RFC 9276 says 0; validators treat more than 100 (some 150) as
     * insecure, so more than that is surely a mistake. */
    [N3_ITERATIONS] = {"iterations", CFGSCHEMA_INT, 0, 100, 0, 0, NULL, "extra hash iterations"},
    [N3_SALT] = {"salt", CFGSCHEMA_STRING, .what = "\"-\" (none) or up to 255 bytes in hex"},
};
static const struct cfgschema zone_nsec3_schema =
    CFGSCHEMA("$.zones[].dnssec.nsec3", zone_nsec3_keys);

#define DS_SIGNING_FIRST DS_DENIAL /* DS_DENIAL .. DS_REFRESH: signing settings, with keys */
static const struct cfgschema_key zone_dnssec_keys[DS_N] = {
    /* Up to a year: more would warn about every signature ever made. */
    [DS_EXPIRY_WARNING] = {"expiry_warning", CFGSCHEMA_INT, 0, 366L * 86400,
                           ZONE_EXPIRY_WARNING_DEFAULT, 0, NULL,
                           "seconds before the earliest signature expiry a load warns"},
    [DS_KEYS] = {"keys", CFGSCHEMA_ARRAY, .what = "key base names: gtmd signs the zone at load"},
    [DS_DENIAL] = {"denial", CFGSCHEMA_STRING, .what = "\"nsec\" (the default) or \"nsec3\""},
    [DS_NSEC3] = {"nsec3", CFGSCHEMA_OBJECT, .sub = &zone_nsec3_schema,
                  .what = "NSEC3's iterations and salt"},
    /* A minute at least (short lives are for tests: signatures must
     * outlive the TTLs of what they sign), a year at most. */
    [DS_VALIDITY] = {"validity", CFGSCHEMA_INT, 60, 366L * 86400, ZONE_SIGN_VALIDITY_DEFAULT, 0,
                     NULL, "the signatures' lifetime in seconds"},
    [DS_REFRESH] = {"refresh", CFGSCHEMA_INT, 10, 366L * 86400, ZONE_SIGN_REFRESH_DEFAULT, 0, NULL,
                    "how long before they expire gtmd signs again"},
    [DS_POLICY] = {"policy", CFGSCHEMA_STRING,
                   .what = "a signing policy of dnssec_policies: its denial, signature validity "
                           "and refresh, and with key_directory its keys made and rolled"},
    [DS_KEY_DIRECTORY] = {"key_directory", CFGSCHEMA_PATH,
                          .what = "where gtmd makes and keeps the zone's keys (with \"policy\")"},
};
const struct cfgschema zone_dnssec_schema = CFGSCHEMA("$.zones[].dnssec", zone_dnssec_keys);

static void zone_params_nsec3(const struct jsoncfg *j, json_t *v, const char *path,
                              struct zone_sign_params *sp)
{
    const struct cfgschema *s = &zone_nsec3_schema;
    char sub[160];
    if (!v || !cfgschema_object(j, s, v, path))
        return;
    sp->iterations = (uint16_t)cfgschema_int(j, s, N3_ITERATIONS, v, path);
    const char *salt = cfgschema_str(j, s, N3_SALT, v, path);
    cfgschema_key_path(sub, sizeof(sub), s, N3_SALT, path);
    if (salt)
        zone_params_salt(j, salt, sub, sp);
}

static void zone_params_keys(const struct jsoncfg *j, json_t *v, const char *path,
                             struct zone_sign_params *sp)
{
    if (!json_is_array(v) || json_array_size(v) == 0 || json_array_size(v) > ZONE_SIGN_MAX_KEYS) {
        jsoncfg_err(j, path,
                    "must be an array of 1 to %d key base names such as "
                    "\"Kexample.com.+013+12345\"",
                    ZONE_SIGN_MAX_KEYS);
        return;
    }
    size_t i;
    json_t *e;
    json_array_foreach(v, i, e)
    {
        char sub[200];
        snprintf(sub, sizeof(sub), "%s[%zu]", path, i);
        if (!json_is_string(e) || json_string_length(e) == 0) {
            jsoncfg_err(j, sub, "must be a key base name (the .key and .private files beside it)");
            continue;
        }
        char msg[1200];
        snprintf(msg, sizeof(msg), "%s: %s", j->file, sub);
        sp->keys[sp->n_keys] = jsoncfg_path(j, json_string_value(e));
        sp->key_paths[sp->n_keys] = jsoncfg_strdup(msg);
        sp->n_keys++;
    }
}

static void zone_params_sign(const struct jsoncfg *j, json_t *v, const char *path,
                             struct zone_sign_params *sp)
{
    const struct cfgschema *s = &zone_dnssec_schema;
    char sub[160];
    cfgschema_key_path(sub, sizeof(sub), s, DS_KEYS, path);
    zone_params_keys(j, cfgschema_value(s, DS_KEYS, v), sub, sp);
    const char *d = cfgschema_str(j, s, DS_DENIAL, v, path);
    if (d && strcmp(d, "nsec3") == 0)
        sp->nsec3 = true;
    else if (d && strcmp(d, "nsec") != 0)
        cfgschema_err(j, s, DS_DENIAL, path, "must be \"nsec\" or \"nsec3\"");
    cfgschema_key_path(sub, sizeof(sub), s, DS_NSEC3, path);
    zone_params_nsec3(j, cfgschema_value(s, DS_NSEC3, v), sub, sp);
    if (cfgschema_value(s, DS_POLICY, v)) {
        /* One place for each setting: the policy's. */
        for (size_t k = DS_DENIAL; k <= DS_REFRESH; k++)
            if (cfgschema_value(s, k, v))
                cfgschema_err(j, s, k, path,
                              "is set by the zone's \"policy\" (its denial, nsec3, "
                              "signature_validity and signature_refresh): set it there");
        return;
    }
    sp->validity = (uint32_t)cfgschema_int(j, s, DS_VALIDITY, v, path);
    sp->refresh = (uint32_t)cfgschema_int(j, s, DS_REFRESH, v, path);
    if (sp->refresh >= sp->validity)
        cfgschema_err(j, s, DS_REFRESH, path,
                      "must be less than validity (%u): gtmd re-signs this long before "
                      "the signatures expire",
                      sp->validity);
}

void zone_dnssec_params_parse(const struct jsoncfg *j, json_t *v, const char *path,
                              struct zone_dnssec_params *out)
{
    const struct cfgschema *s = &zone_dnssec_schema;
    memset(out, 0, sizeof(*out));
    out->expiry_warning = ZONE_EXPIRY_WARNING_DEFAULT;
    if (!v || !cfgschema_object(j, s, v, path))
        return;
    out->expiry_warning = (uint32_t)cfgschema_int(j, s, DS_EXPIRY_WARNING, v, path);
    const char *pol = cfgschema_str(j, s, DS_POLICY, v, path);
    out->policy = pol ? jsoncfg_strdup(pol) : NULL;
    out->key_directory = cfgschema_path(j, s, DS_KEY_DIRECTORY, v, path);
    if (out->key_directory && !pol)
        cfgschema_err(j, s, DS_KEY_DIRECTORY, path,
                      "needs \"policy\": the policy says when gtmd makes and rolls the keys");
    if (pol && !cfgschema_value(s, DS_KEYS, v) && !out->key_directory)
        cfgschema_err(j, s, DS_POLICY, path,
                      "needs \"key_directory\" (gtmd makes and rolls the keys there) or "
                      "\"keys\" (the operator's keys, signed on the policy's settings; "
                      "doc/dnssec.md, \"Signing policies\")");
    if (pol && out->key_directory) {
        /* The store's keys (the daemon reads them before each load):
         * "keys" here are adopted into an empty store. */
        if (cfgschema_value(s, DS_KEYS, v))
            zone_params_sign(j, v, path, &out->sign);
        return;
    }
    if (cfgschema_value(s, DS_KEYS, v)) {
        zone_params_sign(j, v, path, &out->sign);
        return;
    }
    for (size_t k = DS_SIGNING_FIRST; k <= DS_REFRESH; k++)
        if (cfgschema_value(s, k, v))
            cfgschema_err(j, s, k, path, "is a signing setting: it needs \"keys\"");
}

void zone_dnssec_params_apply(struct zone_dnssec_params *out, const struct zone_kasp_policy *p)
{
    out->sign.nsec3 = p->nsec3;
    out->sign.iterations = p->iterations;
    out->sign.salt_len = 0; /* RFC 9276: no salt */
    out->sign.validity = p->validity;
    out->sign.refresh = p->refresh;
    /* CDS for the key the key manager marks (none with keys given by hand). */
    out->sign.cds_digest = p->cds ? p->ds_digest : 0;
    out->policy_max_ttl = p->timing.ttl_sig;
    out->policy_dnskey_ttl = p->timing.ttl_key;
}

void zone_dnssec_params_free(struct zone_dnssec_params *p)
{
    free(p->policy);
    p->policy = NULL;
    free(p->key_directory);
    p->key_directory = NULL;
    for (size_t i = 0; i < p->sign.n_keys; i++) {
        free(p->sign.keys[i]);
        free(p->sign.key_paths[i]);
    }
    p->sign.n_keys = 0;
}

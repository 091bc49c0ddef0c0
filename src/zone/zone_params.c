/*
 * zone_params.c -- the "dnssec" object of a zone entry.
 */
#include "zone/zone_params.h"

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

static void zone_params_nsec3(const struct jsoncfg *j, json_t *v, const char *path,
                              struct zone_sign_params *sp)
{
    static const char *const keys[] = {"iterations", "salt", NULL};
    char sub[160];
    if (!v)
        return;
    if (!json_is_object(v)) {
        jsoncfg_err(j, path, "must be an object such as {\"iterations\": 0, \"salt\": \"-\"}");
        return;
    }
    jsoncfg_check_keys(j, v, path, keys);
    snprintf(sub, sizeof(sub), "%s.iterations", path);
    /* RFC 9276 says 0; validators treat more than 100 (some 150) as
     * insecure, so more than that is surely a mistake. */
    sp->iterations = (uint16_t)jsoncfg_int(j, v, "iterations", sub, 0, 100, 0);
    snprintf(sub, sizeof(sub), "%s.salt", path);
    const char *s = jsoncfg_str(j, v, "salt", sub);
    if (s)
        zone_params_salt(j, s, sub, sp);
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
    char sub[160];
    snprintf(sub, sizeof(sub), "%s.keys", path);
    zone_params_keys(j, json_object_get(v, "keys"), sub, sp);
    snprintf(sub, sizeof(sub), "%s.denial", path);
    const char *d = jsoncfg_str(j, v, "denial", sub);
    if (d && strcmp(d, "nsec3") == 0)
        sp->nsec3 = true;
    else if (d && strcmp(d, "nsec") != 0)
        jsoncfg_err(j, sub, "must be \"nsec\" or \"nsec3\"");
    snprintf(sub, sizeof(sub), "%s.nsec3", path);
    zone_params_nsec3(j, json_object_get(v, "nsec3"), sub, sp);
    snprintf(sub, sizeof(sub), "%s.validity", path);
    /* A minute at least (short lives are for tests: signatures must
     * outlive the TTLs of what they sign), a year at most. */
    sp->validity =
        (uint32_t)jsoncfg_int(j, v, "validity", sub, 60, 366L * 86400, ZONE_SIGN_VALIDITY_DEFAULT);
    snprintf(sub, sizeof(sub), "%s.refresh", path);
    sp->refresh =
        (uint32_t)jsoncfg_int(j, v, "refresh", sub, 10, 366L * 86400, ZONE_SIGN_REFRESH_DEFAULT);
    if (sp->refresh >= sp->validity)
        jsoncfg_err(j, sub,
                    "must be less than validity (%u): gtmd re-signs this long before "
                    "the signatures expire",
                    sp->validity);
}

void zone_dnssec_params_parse(const struct jsoncfg *j, json_t *v, const char *path,
                              struct zone_dnssec_params *out)
{
    static const char *const keys[] = {"expiry_warning", "keys",    "denial", "nsec3",
                                       "validity",       "refresh", NULL};
    static const char *const signing[] = {"denial", "nsec3", "validity", "refresh", NULL};
    char sub[128];
    memset(out, 0, sizeof(*out));
    out->expiry_warning = ZONE_EXPIRY_WARNING_DEFAULT;
    if (!v)
        return;
    if (!json_is_object(v)) {
        jsoncfg_err(j, path, "must be an object such as {\"expiry_warning\": 604800}");
        return;
    }
    jsoncfg_check_keys(j, v, path, keys);
    snprintf(sub, sizeof(sub), "%s.expiry_warning", path);
    /* Up to a year: more would warn about every signature ever made. */
    out->expiry_warning = (uint32_t)jsoncfg_int(j, v, "expiry_warning", sub, 0, 366L * 86400,
                                                ZONE_EXPIRY_WARNING_DEFAULT);
    if (json_object_get(v, "keys")) {
        zone_params_sign(j, v, path, &out->sign);
        return;
    }
    for (size_t i = 0; signing[i]; i++)
        if (json_object_get(v, signing[i])) {
            snprintf(sub, sizeof(sub), "%s.%s", path, signing[i]);
            jsoncfg_err(j, sub, "is a signing setting: it needs \"keys\"");
        }
}

void zone_dnssec_params_free(struct zone_dnssec_params *p)
{
    for (size_t i = 0; i < p->sign.n_keys; i++) {
        free(p->sign.keys[i]);
        free(p->sign.key_paths[i]);
    }
    p->sign.n_keys = 0;
}

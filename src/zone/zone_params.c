/*
 * zone_params.c -- the "dnssec" object of a zone entry.
 */
#include "zone/zone_params.h"

#include <stdio.h>

void zone_dnssec_params_parse(const struct jsoncfg *j, json_t *v, const char *path,
                              struct zone_dnssec_params *out)
{
    static const char *const keys[] = {"expiry_warning", NULL};
    char sub[128];
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
}

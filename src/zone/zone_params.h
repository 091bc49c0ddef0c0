/*
 * zone_params.h -- the "dnssec" object of a zone entry in the
 * configuration (gtmd.conf(5)): how zone_verify() judges a signed zone.
 *
 *   "zones": [{"origin": "example.com.", "file": "example.com.signed",
 *              "dnssec": {"expiry_warning": 604800}}]
 *
 * Ownership: plain values.
 */
#ifndef GTM_ZONE_ZONE_PARAMS_H
#define GTM_ZONE_ZONE_PARAMS_H

#include <jansson.h>
#include <stdint.h>

#include "common/jsoncfg.h"

#define ZONE_EXPIRY_WARNING_DEFAULT (7u * 86400u)

struct zone_dnssec_params {
    /* Signatures that expire within this many seconds are a warning
     * (expired ones are an error). Default 7 days. */
    uint32_t expiry_warning;
};

/* Sets the defaults, then reads v (the "dnssec" object, may be NULL) at
 * JSON path 'path'; errors go to j's list. */
void zone_dnssec_params_parse(const struct jsoncfg *j, json_t *v, const char *path,
                              struct zone_dnssec_params *out);

#endif

/*
 * geo_params.c -- the "geoip" section of the configuration.
 */
#include "geo/geo_params.h"

#include <stdlib.h>

static const struct cfgschema_key geo_keys[GEO_K_N] = {
    [GEO_K_DATABASE] = {"database", CFGSCHEMA_PATH,
                        .what = "a MaxMind DB file (GeoIP2, GeoLite2 or DB-IP, City or Country)"},
    [GEO_K_ASN_DATABASE] = {"asn_database", CFGSCHEMA_PATH,
                            .what = "a MaxMind DB file of autonomous systems (GeoLite2-ASN "
                                    "layout) for asn: keys, laid over database"},
};
const struct cfgschema geo_schema = CFGSCHEMA("$.geoip", geo_keys);

/* One file key: a non-empty name, resolved against the file's directory. */
static char *geo_params_file(const struct jsoncfg *j, json_t *v, enum geo_params_key k)
{
    const struct cfgschema *s = &geo_schema;
    const char *f = cfgschema_str(j, s, k, v, NULL);
    if (f && !f[0])
        cfgschema_err(j, s, k, NULL, "must be a file name");
    else if (f)
        return cfgschema_path(j, s, k, v, NULL);
    return NULL;
}

void geo_params_parse(const struct jsoncfg *j, json_t *v, struct geo_params *out)
{
    const struct cfgschema *s = &geo_schema;
    out->database = out->asn_database = NULL;
    if (!v || !cfgschema_object(j, s, v, NULL))
        return;
    if (!cfgschema_value(s, GEO_K_DATABASE, v) && !cfgschema_value(s, GEO_K_ASN_DATABASE, v)) {
        jsoncfg_err(j, s->path, "needs \"database\", \"asn_database\" or both");
        return;
    }
    out->database = geo_params_file(j, v, GEO_K_DATABASE);
    out->asn_database = geo_params_file(j, v, GEO_K_ASN_DATABASE);
}

void geo_params_free(struct geo_params *p)
{
    if (!p)
        return;
    free(p->database);
    free(p->asn_database);
    p->database = p->asn_database = NULL;
}

/*
 * geo_params.c -- the "geoip" section of the configuration.
 */
#include "geo/geo_params.h"

#include <stdlib.h>

static const struct cfgschema_key geo_keys[GEO_K_N] = {
    [GEO_K_DATABASE] = {"database", CFGSCHEMA_PATH, .flags = CFGSCHEMA_REQUIRED,
                        .what = "a MaxMind DB file (GeoIP2, GeoLite2 or DB-IP, City or Country)"},
};
const struct cfgschema geo_schema = CFGSCHEMA("$.geoip", geo_keys);

void geo_params_parse(const struct jsoncfg *j, json_t *v, struct geo_params *out)
{
    const struct cfgschema *s = &geo_schema;
    out->database = NULL;
    if (!v || !cfgschema_object(j, s, v, NULL))
        return;
    const char *db = cfgschema_str(j, s, GEO_K_DATABASE, v, NULL);
    if (db && !db[0])
        cfgschema_err(j, s, GEO_K_DATABASE, NULL, "must be a file name");
    else if (db)
        out->database = cfgschema_path(j, s, GEO_K_DATABASE, v, NULL);
}

void geo_params_free(struct geo_params *p)
{
    if (!p)
        return;
    free(p->database);
    p->database = NULL;
}

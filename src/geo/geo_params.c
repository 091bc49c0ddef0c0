/*
 * geo_params.c -- the "geoip" section of the configuration.
 */
#include "geo/geo_params.h"

#include <stdlib.h>

void geo_params_parse(const struct jsoncfg *j, json_t *v, struct geo_params *out)
{
    static const char *const keys[] = {"database", NULL};
    out->database = NULL;
    if (!v)
        return;
    if (!json_is_object(v)) {
        jsoncfg_err(j, "$.geoip", "must be an object {\"database\": \"FILE\"}");
        return;
    }
    jsoncfg_check_keys(j, v, "$.geoip", keys);
    const char *db = jsoncfg_str(j, v, "database", "$.geoip.database");
    if (!json_object_get(v, "database"))
        jsoncfg_err(j, "$.geoip.database", "is required (a MaxMind DB file)");
    else if (db && !db[0])
        jsoncfg_err(j, "$.geoip.database", "must be a file name");
    else if (db)
        out->database = jsoncfg_path(j, db);
}

void geo_params_free(struct geo_params *p)
{
    if (!p)
        return;
    free(p->database);
    p->database = NULL;
}

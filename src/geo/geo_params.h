/*
 * geo_params.h -- the "geoip" section of the configuration (gtmd.conf(5)):
 *
 *   "geoip": {"database": "FILE", "asn_database": "FILE"}
 *
 * database is a MaxMind DB (GeoIP2/GeoLite2 City or Country, DB-IP's
 * compatible files), asn_database one of autonomous systems (GeoLite2-ASN
 * layout), laid over the first (geo_overlay.h); either or both, relative
 * to the configuration's directory. The
 * section is parsed here, by the geo module; the daemon opens the file
 * (geo_db_open) when it builds a served set, so a reload reads it again.
 *
 * Ownership: a struct geo_params owns its string (geo_params_free).
 */
#ifndef GTM_GEO_GEO_PARAMS_H
#define GTM_GEO_GEO_PARAMS_H

#include <jansson.h>

#include "common/cfgschema.h"
#include "common/jsoncfg.h"

struct geo_params {
    char *database;     /* resolved path, or NULL: no location database */
    char *asn_database; /* resolved path, or NULL: no ASN database */
};

/* Reads the "geoip" object v (NULL when the key is absent: no database);
 * errors go to j's list with their JSON path ($.geoip...). */
enum geo_params_key { GEO_K_DATABASE, GEO_K_ASN_DATABASE, GEO_K_N };
/* The keys of the "geoip" section. */
extern const struct cfgschema geo_schema;

void geo_params_parse(const struct jsoncfg *j, json_t *v, struct geo_params *out);
void geo_params_free(struct geo_params *p);

#endif

/*
 * config_tables.h -- the tables of the keys the daemon itself reads
 * inside top-level keys (cfgschema.h): a zone's entry and the "tcp"
 * object. The root table takes them in (config_keys.c).
 *
 * Ownership: the tables are static and read only.
 */
#ifndef GTM_CONTROL_CONFIG_TABLES_H
#define GTM_CONTROL_CONFIG_TABLES_H

#include <jansson.h>

#include "common/cfgschema.h"
#include "common/jsoncfg.h"

struct config;

enum config_zone_key {
    ZK_ORIGIN,
    ZK_FILE,
    ZK_DNSSEC,
    ZK_TRANSFER,
    ZK_PRIMARY,
    ZK_CATALOG,
    ZK_GENERATE_CATALOG,
    ZK_UPDATE,
    ZK_N
};
extern const struct cfgschema config_zone_schema, config_tcp_schema;

/* The "zones" array v into c->zones (c->tsig already parsed: transfers
 * name its keys), with the members of catalog zones; records (the root's
 * "records", or NULL) names the policy names no member may take over. */
void config_zones_parse(const struct jsoncfg *j, json_t *v, json_t *records, struct config *c);
/* Zones with "update" rules where updates cannot work (a shared fleet
 * configuration): errors in j. */
void config_zones_check_updates(const struct jsoncfg *j, const struct config *c);

#endif

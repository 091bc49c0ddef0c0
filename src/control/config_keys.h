/*
 * config_keys.h -- the configuration's root: every top-level key, in one
 * table (a cfgschema, cfgschema.h): its type and range, the gtmd.conf(5)
 * section that documents it, whether it is required, whether each node
 * of a fleet keeps its own (node-local: not in the fleet's shared
 * configuration, not in config_mismatch's hash), whether only a restart
 * applies it (a reload keeps the running value and says so, in its
 * result's "restart_needed") or some of its keys, and the table of the
 * keys inside it, declared by the module that parses it. The keys the
 * daemon hands to modules as a whole are declared here; modules that
 * read top-level keys themselves declare those (health's state file and
 * probe source, policy's regions, checks, pools, records and ecs) and
 * the root takes their tables in (cfgschema's "more").
 *
 * The root key check and reads (config.c), the fleet's shared part
 * (config.c), the reload's "restart_needed" and the module table's
 * restart checks (server_reload.c, server_modules.c) and `gtmd keys`
 * (the table gtmd.conf(5)'s TOP-LEVEL KEYS section is generated from,
 * checked by tests/integration/test_check.py; the nested tables, checked
 * by tests/integration/test_schema.py) all read this table.
 *
 * Ownership: the tables are static and read only.
 */
#ifndef GTM_CONTROL_CONFIG_KEYS_H
#define GTM_CONTROL_CONFIG_KEYS_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include "common/cfgschema.h"

enum config_key_flag {
    CONFIG_KEY_REQUIRED = CFGSCHEMA_REQUIRED,
    CONFIG_KEY_NODE_LOCAL = CFGSCHEMA_NODE_LOCAL,
    CONFIG_KEY_RESTART = CFGSCHEMA_RESTART,           /* only a restart applies it */
    CONFIG_KEY_PART_RESTART = CFGSCHEMA_PART_RESTART, /* some of its keys only on restart */
};

/* The daemon's own top-level keys: config_schema's first entries. */
enum config_key_index {
    CFG_K_LISTEN,
    CFG_K_WORKERS,
    CFG_K_PIN_WORKERS,
    CFG_K_UDP_STEERING,
    CFG_K_ZONES,
    CFG_K_EDNS_UDP_MAX,
    CFG_K_TCP,
    CFG_K_XDP,
    CFG_K_TLS,
    CFG_K_USER,
    CFG_K_GROUP,
    CFG_K_IDENTITY,
    CFG_K_VERSION,
    CFG_K_COOKIES,
    CFG_K_RRL,
    CFG_K_TSIG_KEYS,
    CFG_K_GEOIP,
    CFG_K_ADMIN,
    CFG_K_CONFIG_API,
    CFG_K_DRILLS,
    CFG_K_NOTIFY,
    CFG_K_FLEET,
    CFG_K_DNSTAP,
    CFG_K_ANYCAST,
    CFG_K_DNSSEC_POLICIES,
    CFG_K_N
};

/* The root: the daemon's keys, then the modules' top-level keys. */
extern const struct cfgschema config_schema;

/* Every top-level key (cfgschema_count, cfgschema_at on config_schema). */
size_t config_keys_count(void);
const struct cfgschema_key *config_key_at(size_t i);

/* A JSON path for messages, by value: config_key_path(CFG_K_USER).s is
 * "$.user" until the end of the expression it is used in. */
struct config_path {
    char s[128];
};
/* The path of the daemon's top-level key k. */
struct config_path config_key_path(size_t k);
/* The path of key sk of table s inside the daemon's top-level key k. */
struct config_path config_sub_path(size_t k, const struct cfgschema *s, size_t sk);

/* Whether key name has flag (false for an unknown key). */
bool config_key_has(const char *name, unsigned flag);

/* The table as JSON ([{"name", "section", "type", "required",
 * "node_local", "restart", "what", "keys"}]; restart: "yes", "partly" or
 * "no"; "keys": the nested table's, cfgschema_json, when the key has
 * one); the caller owns it. */
json_t *config_keys_json(void);

/* The TOP-LEVEL KEYS section of gtmd.conf(5), in man(7) markup. */
void config_keys_man(FILE *out);

#endif

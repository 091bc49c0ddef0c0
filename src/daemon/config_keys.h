/*
 * config_keys.h -- every top-level key of the configuration, in one place:
 * the gtmd.conf(5) section that documents it, whether it is required,
 * whether each node of a fleet keeps its own (node-local: not in the
 * fleet's shared configuration, not in config_mismatch's hash), and
 * whether only a restart applies it (a reload keeps the running value and
 * says so in its result, "restart_needed").
 *
 * The root key check (config.c), the fleet's shared part (config.c),
 * the reload's "restart_needed" (server_reload.c) and `gtmd keys` (the
 * table gtmd.conf(5)'s TOP-LEVEL KEYS section is generated from, checked
 * by tests/integration/test_check.py) all read this table. What is inside
 * each key is its module's own: its schema (cfgschema.h), which `gtmd
 * keys` prints under the key and tests/integration/test_schema.py checks
 * gtmd.conf(5) against.
 *
 * Ownership: the table is static and read only.
 */
#ifndef GTM_DAEMON_CONFIG_KEYS_H
#define GTM_DAEMON_CONFIG_KEYS_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include "common/cfgschema.h"

enum config_key_flag {
    CONFIG_KEY_REQUIRED = 1,
    CONFIG_KEY_NODE_LOCAL = 2,
    CONFIG_KEY_RESTART = 4,      /* only a restart applies it */
    CONFIG_KEY_PART_RESTART = 8, /* some of its keys only on restart (see its section) */
};

struct config_key {
    const char *name;
    const char *section; /* gtmd.conf(5) */
    unsigned flags;
    const char *what; /* one line */
    /* The keys inside it (cfgschema.h), declared by the module that parses
     * it; NULL while that module still reads them by hand. */
    const struct cfgschema *schema;
};

/* The keys, and their count. */
extern const struct config_key config_keys[];
extern const size_t config_keys_n;

/* The names into out, NULL-terminated (for jsoncfg_check_keys). */
#define CONFIG_KEYS_MAX 64
void config_key_names(const char *out[CONFIG_KEYS_MAX + 1]);

/* Whether key name has flag (false for an unknown key). */
bool config_key_has(const char *name, unsigned flag);

/* The table as JSON ([{"name", "section", "required", "node_local",
 * "restart", "what", "keys"}]; restart: "yes", "partly" or "no"; "keys":
 * the schema's, cfgschema_json, when the key has one); the caller owns
 * it. */
json_t *config_keys_json(void);

/* The TOP-LEVEL KEYS section of gtmd.conf(5), in man(7) markup. */
void config_keys_man(FILE *out);

#endif

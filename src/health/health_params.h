/*
 * health_params.h -- the health settings of the configuration: where the
 * state file lives, how old it may be to be trusted at start-up, and how
 * many overrides the core keeps at most (top-level "state_file",
 * "state_max_age" and "max_overrides", gtmd.conf(5)).
 *
 * The daemon parses them with the rest of the file (no longer as part of
 * the policy set), reads the state file with state_max_age at start-up,
 * and hands the path to the health service (service.h) at start and at
 * every reload; the service is the only writer of the file.
 *
 * Ownership: a struct health_params owns its string (health_params_free).
 */
#ifndef GTM_HEALTH_HEALTH_PARAMS_H
#define GTM_HEALTH_HEALTH_PARAMS_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#include "common/cfgschema.h"
#include "common/jsoncfg.h"

#include "health/probe.h"

struct health_params {
    char *state_file;                 /* resolved path, or NULL: no persistence */
    double state_max_age;             /* seconds a state file stays fresh (default 600) */
    size_t max_overrides;             /* overrides kept at most (default 1000) */
    size_t max_verdicts;              /* external verdicts kept at most (default 1000) */
    struct probe_source probe_source; /* "probe_source": at most one per family */
    char *probe_source_text[2];       /* as written, for status and the fleet */
    size_t n_probe_source;
    unsigned exec_max_running; /* exec checks' programs running at once (16) */
};

/* Reads "state_file", "state_max_age", "max_overrides", "max_verdicts"
 * and "probe_source"
 * (an array of at most one IPv4 and one IPv6 address, no port) from the
 * top-level object root; errors go to j's list with their JSON path. The
 * state file's directory must exist and be writable by this process, and
 * the file, when it exists, must be a regular file: otherwise every save
 * would fail while the API answers as if it had worked. */
enum health_root_key {
    HP_STATE_FILE,
    HP_STATE_MAX_AGE,
    HP_MAX_OVERRIDES,
    HP_MAX_VERDICTS,
    HP_PROBE_SOURCE,
    HP_EXEC_MAX_RUNNING,
    HP_N
};
/* The top-level keys the health module reads (the root takes them in:
 * config_keys.c). */
extern const struct cfgschema health_root_schema;

void health_params_parse(const struct jsoncfg *j, json_t *root, struct health_params *out);
void health_params_free(struct health_params *p);

#endif

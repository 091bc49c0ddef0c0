/*
 * policy_config.h -- parses the "regions", "checks", "pools" and
 * "records" sections of the config into a struct gslb.
 *
 * Ownership: the returned gslb belongs to the caller (gslb_free). Health
 * slots are not mapped here (see policy_bind in the daemon's load.c).
 */
#ifndef GTM_POLICY_POLICY_CONFIG_H
#define GTM_POLICY_POLICY_CONFIG_H

#include <jansson.h>

#include "common/cfgschema.h"

#include "common/cfgschema.h"
#include "common/jsoncfg.h"
#include "policy/policy.h"

/* origins: the configured zone origins (presentation form), so records
 * outside every zone are reported here with their JSON path. Never NULL;
 * errors are appended to j->errs. */
/* The top-level keys the policy module reads (the root takes them in:
 * config_keys.c). */
extern const struct cfgschema policy_root_schema;

struct gslb *policy_config_parse(const struct jsoncfg *j, json_t *root, const char *const *origins,
                                 size_t n_origins);

#endif

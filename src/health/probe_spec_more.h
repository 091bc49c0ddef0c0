/*
 * probe_spec_more.h -- the keys of the icmp and exec checks and their
 * parsing (probe_spec_more.c), for probe_spec.c.
 *
 * Ownership: what they fill in out belongs to the spec (probe_spec_free).
 */
#ifndef GTM_HEALTH_PROBE_SPEC_MORE_H
#define GTM_HEALTH_PROBE_SPEC_MORE_H

#include <jansson.h>

#include "common/cfgschema.h"
#include "common/jsoncfg.h"
#include "health/probe.h"

extern const struct cfgschema probe_spec_icmp_schema, probe_spec_exec_schema;

/* Whether key is one of the icmp or exec keys (*known), and then whether
 * it is allowed for type t. */
bool probe_spec_more_key(const char *key, enum probe_type t, bool *known);

/* count, echo_interval, max_loss of the icmp check obj at path (its
 * timeout already parsed into out). */
void probe_spec_icmp_parse(const struct jsoncfg *j, json_t *obj, const char *path,
                           struct probe_spec *out);
/* command and user of the exec check obj at path. */
void probe_spec_exec_parse(const struct jsoncfg *j, json_t *obj, const char *path,
                           struct probe_spec *out);

#endif

/*
 * health_params.h -- the health settings of the configuration: where the
 * state file lives and how old it may be to be trusted at start-up
 * (top-level "state_file" and "state_max_age", gtmd.conf(5)).
 *
 * The daemon parses them with the rest of the file and hands them to the
 * health core (health_core_set_params) at start and at every reload; the
 * prober, the admin thread and the stop path read the state file path back
 * from the core.
 *
 * Ownership: a struct health_params owns its string (health_params_free);
 * the core keeps its own copy.
 */
#ifndef GTM_HEALTH_HEALTH_PARAMS_H
#define GTM_HEALTH_HEALTH_PARAMS_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#include "common/jsoncfg.h"

struct health_core;

struct health_params {
    char *state_file;     /* resolved path, or NULL: no persistence */
    double state_max_age; /* seconds a state file stays fresh (default 600) */
};

/* Reads "state_file" and "state_max_age" from the top-level object root;
 * errors go to j's list with their JSON path. */
void health_params_parse(const struct jsoncfg *j, json_t *root, struct health_params *out);
void health_params_free(struct health_params *p);

/* Replaces the core's copy (any thread; takes the core's mutex). */
void health_core_set_params(struct health_core *c, const struct health_params *p);
/* Copies the current state file path into buf; false when there is none
 * (or it does not fit). */
bool health_core_state_file(struct health_core *c, char *buf, size_t len);

#endif

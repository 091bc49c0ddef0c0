/*
 * drill_params.h -- the "drills" section of the configuration
 * (gtmd.conf(5)): limits on drills started through the admin API.
 *
 * The drill module parses its own section; the daemon keeps the result
 * in its config and hands it to the drill core at start and at every
 * reload (drill_core_set_params).
 *
 * Ownership: plain values, nothing to free.
 */
#ifndef GTM_DRILL_DRILL_PARAMS_H
#define GTM_DRILL_DRILL_PARAMS_H

#include <jansson.h>

#include "common/jsoncfg.h"

#define DRILL_DEFAULT_MAX_DURATION 3600.0 /* seconds */
#define DRILL_MAX_MAX_DURATION 604800.0   /* a week */

struct drill_params {
    /* Longest drill in seconds; also the duration of a shadow or scoped
     * drill started without one. */
    double max_duration;
};

/* Parses the section v (NULL: absent, defaults) into out; errors go to
 * j's list with their JSON path ("$.drills.max_duration"). */
void drill_params_parse(const struct jsoncfg *j, json_t *v, struct drill_params *out);

#endif

/*
 * drill_params.h -- the "drills" section of the configuration
 * (gtmd.conf(5)): limits on drills, the practice drills gtmd starts by
 * itself, and the resolver their outcome checks use.
 *
 * The drill module parses its own section; the daemon keeps the result
 * in its config and hands it to the drill core at start and at every
 * reload (drill_core_set_params, which keeps a copy). Whether the names a
 * practice drill uses (regions, azs, checks) exist is checked against the
 * configuration's policy set once that is parsed (drill_params_check).
 *
 * Ownership: a drill_params owns its practice list and resolver list
 * (drill_params_free); drill_params_copy makes an independent copy.
 */
#ifndef GTM_DRILL_DRILL_PARAMS_H
#define GTM_DRILL_DRILL_PARAMS_H

#include <jansson.h>
#include <stddef.h>

#include "common/jsoncfg.h"
#include "drill/drill_practice.h"

#define DRILL_DEFAULT_MAX_DURATION 3600.0 /* seconds */
#define DRILL_MAX_MAX_DURATION 604800.0   /* a week */
#define DRILL_MAX_RESOLVERS 3

struct gslb;

struct drill_params {
    /* Longest drill in seconds; also the duration of a shadow or scoped
     * drill started without one. */
    double max_duration;
    struct drill_practice *practice; /* "practice": the drills on a schedule */
    size_t n_practice;
    /* "outcome_resolver": c-ares server list ("127.0.0.1:15353,[::1]:53")
     * that outcome checks resolve their host through; NULL: the system
     * resolver (resolv.conf, and /etc/hosts first). */
    char *outcome_resolver;
};

/* Parses the section v (NULL: absent, defaults) into out; errors go to
 * j's list with their JSON path ("$.drills.max_duration"). out always
 * needs drill_params_free afterwards. */
/* The keys of the "drills" section. */
extern const struct cfgschema drill_schema;

void drill_params_parse(const struct jsoncfg *j, json_t *v, struct drill_params *out);
/* Reports practice drills naming a region, az or check g does not have
 * ("$.drills.practice[0].regions[1]: no region \"mars\""). */
void drill_params_check(const struct jsoncfg *j, const struct drill_params *p,
                        const struct gslb *g);
void drill_params_free(struct drill_params *p);
void drill_params_copy(struct drill_params *dst, const struct drill_params *src);

#endif

/*
 * policy_shed.h -- load shedding, as NS1's shed_load filter does it: a
 * record with
 *
 *   "shed_load": {"low": 0.7, "high": 0.9}
 *
 * gives each candidate endpoint a share factor from its load figure (the
 * one its check reads from its replies, or one an external verdict
 * pushes: health.h's health_slot_load): 1 up to low, falling linearly to
 * 0 at high, 0 above high. An endpoint at 0 gets no new share unless
 * every candidate is at 0 (then shedding stops: sending somewhere beats
 * sending nowhere); an endpoint whose load is unknown keeps its share.
 * The figure is in whatever unit the endpoints report (a load average, a
 * share of capacity, connections): the watermarks are in the same unit.
 *
 * How the factor applies to a selection (policy_eval.c): weighted picks
 * with weight x factor; all and hashed keep each candidate with
 * probability factor (at least the best one), then select as usual, so an
 * endpoint's share of answers falls linearly between the watermarks.
 *
 * Runs on the query path: no allocation, no lock.
 */
#ifndef GTM_POLICY_POLICY_SHED_H
#define GTM_POLICY_POLICY_SHED_H

#include <jansson.h>
#include <stdbool.h>

#include "common/cfgschema.h"
#include "common/errlist.h"
#include "common/jsoncfg.h"

struct gslb;
struct policy_record;
struct policy_record_ext;
struct policy_endpoint;

/* The keys of "shed_load". */
extern const struct cfgschema policy_shed_schema;

/* Reads rec's "shed_load" object v at path (NULL: no shedding) into
 * rec->shed and the watermarks of x (rec's rarely used parts, being
 * compiled). */
void policy_shed_parse(const struct jsoncfg *j, json_t *v, const char *path,
                       struct policy_record *rec, struct policy_record_ext *x);

/* The share factor of e for r: 1 without shedding or with an unknown
 * load, else as above; its load in *load (NaN: unknown) when not NULL. */
double policy_shed_factor(const struct policy_record *r, const struct policy_endpoint *e,
                          double *load);

/* Adds to warns one line (cfgpath, the record's shed_load path, its pool
 * and why) for each record with shed_load whose pool's check reads no
 * load figure (no check, a composite one, a tcp or dns check, an http one
 * without "load"): valid, but nothing is shed unless an external verdict
 * pushes a load. A warning, not an error. Walks the records only when
 * some record sheds (g->n_shed) or g was not counted. Returns the number
 * of lines added. */
size_t policy_shed_warn(const struct gslb *g, const char *cfgpath, struct errlist *warns);

#endif

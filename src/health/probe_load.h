/*
 * probe_load.h -- the load figure an http or https check reads from its
 * reply, for load shedding (doc/policies.md, "Load shedding"):
 *
 *   "load": {"json_pointer": "/load"}        a number in a JSON body
 *                                             (RFC 6901 pointer)
 *   "load": {"metric": "node_load1"}          a sample in Prometheus's text
 *                                             format (the first one of the
 *                                             name, labels allowed)
 *
 * The figure is what the endpoint says it is (a load average, a share of
 * capacity, a connection count): the record's shed_load watermarks are in
 * the same unit. Parsing is pure and bounded (the probe reads at most
 * PROBE_MAX_READ octets); a reply without the figure, or with something
 * that is not a finite number >= 0, gives NaN: the probe still passes or
 * fails on its status alone, and the endpoint's load is unknown.
 *
 * Ownership: probe_load_parse copies what it keeps into l (probe_load_free).
 */
#ifndef GTM_HEALTH_PROBE_LOAD_H
#define GTM_HEALTH_PROBE_LOAD_H

#include <stdbool.h>
#include <stddef.h>

#include "common/jsoncfg.h"

enum probe_load_kind { PROBE_LOAD_NONE = 0, PROBE_LOAD_JSON, PROBE_LOAD_METRIC };

struct probe_load {
    enum probe_load_kind kind;
    char *what; /* the pointer ("/a/b") or the metric's name; owned */
};

/* Reads the check's "load" object v at path (errors to j). */
void probe_load_parse(const struct jsoncfg *j, json_t *v, const char *path, struct probe_load *l);
void probe_load_free(struct probe_load *l);

/* The figure in body[0..len) as l says to read it; NaN when absent. */
double probe_load_read(const struct probe_load *l, const char *body, size_t len);

#endif

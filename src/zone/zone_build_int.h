/*
 * zone_build_int.h -- internals shared by zone_build.c and zone_check.c.
 * Not for use outside src/zone.
 */
#ifndef GTM_ZONE_ZONE_BUILD_INT_H
#define GTM_ZONE_ZONE_BUILD_INT_H

#include "zone/zone_build.h"

/* Mutable view of a node while building; the zone exposes it as const. */
struct build_node {
    struct zone_node node;
    size_t first_rr; /* index in the sorted record array */
    size_t n_rr;
};

struct zone_node *zone_build_find(struct zone *z, const uint8_t *name, size_t len);

/* Marks apex, delegation points, wildcards and CNAME nodes, and reports
 * every rule a zone breaks (SOA, CNAME, glue) into b->errs. */
void zone_check_all(struct zone_builder *b, struct build_node **nodes, size_t n);

/* Precomputes the additional-section addresses of NS, MX and SRV RRsets. */
void zone_check_additionals(struct zone_builder *b, struct build_node **nodes, size_t n);

#endif

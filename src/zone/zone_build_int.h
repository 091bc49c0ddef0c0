/*
 * zone_build_int.h -- internals shared by zone_build.c and zone_check.c.
 * Not for use outside src/zone.
 */
#ifndef GTM_ZONE_ZONE_BUILD_INT_H
#define GTM_ZONE_ZONE_BUILD_INT_H

#include "zone/zone_build.h"

/* Mutable view of a node while building; the zone exposes it as const.
 * The build_node is in the builder's tmp arena (gone after the build),
 * the node in the zone's: the indexes are not kept for the zone's life
 * (16 octets a name, 8.5 MB of a 1M-record zone). */
struct build_node {
    struct zone_node *node;
    size_t first_rr; /* index in the sorted record array */
    size_t n_rr;
};

struct zone_node *zone_build_find(struct zone *z, const uint8_t *name, size_t len);

/* Builds one RRset from records rrs[i, j) of one owner and type (sorted,
 * duplicates dropped) in the zone's arena. */
void zone_build_rrset(struct zone_builder *b, const struct zone_rr_in *rrs, struct zone_rrset *set,
                      size_t i, size_t j);

/* The DNSSEC parts (zone_dnssec.c): links RRSIGs to the RRsets they
 * cover, builds the NSEC or NSEC3 chain from b->nsec3_rrs and the nodes,
 * finds each node's denial records and the negative SOA's RRSIGs. Reports
 * malformed DNSSEC data into b->errs. After zone_check_all. */
void zone_dnssec_build(struct zone_builder *b, struct build_node **nodes, size_t n);

/* Marks apex, delegation points, wildcards and CNAME nodes, and reports
 * every rule a zone breaks (SOA, CNAME, glue) into b->errs. */
void zone_check_all(struct zone_builder *b, struct build_node **nodes, size_t n);

/* Precomputes the additional-section addresses of NS, MX and SRV RRsets. */
void zone_check_additionals(struct zone_builder *b, struct build_node **nodes, size_t n);

#endif

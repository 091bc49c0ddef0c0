/*
 * geo_overlay.h -- one geo_db from a location database and an ASN
 * database ("geoip": {"database": CITY, "asn_database": ASN}).
 *
 * MaxMind ships autonomous system numbers in a database of their own
 * (GeoLite2-ASN: autonomous_system_number, autonomous_system_organization)
 * whose networks do not line up with the City database's. Rather than
 * look a client up twice on the query path and merge two scopes, the two
 * flattened tries are laid over each other once at load: every leaf of
 * the product is a location with the City fields of the first and the ASN
 * of the second (deduplicated like any location). Everything built on a
 * geo_db -- geo_merge's class trie and its exact ECS scopes, nearest
 * orders, explain, samples -- then sees one database whose locations may
 * carry an ASN, and an "asn:N" key of a geo map is one more location key.
 *
 * The product of two prefix partitions has at most as many leaves as the
 * two have together (every product leaf boundary is a boundary of one of
 * them); pairs of shared subtrees (the tries are DAGs) are built once.
 *
 * Ownership: geo_db_overlay takes loc and asn and frees both (also on
 * failure); the result is the caller's (geo_db_free).
 */
#ifndef GTM_GEO_GEO_OVERLAY_H
#define GTM_GEO_GEO_OVERLAY_H

#include <stddef.h>

#include "geo/geo_db.h"

/* loc may be NULL (an ASN database alone): the result is asn, whose
 * locations then carry only ASNs. NULL with a reason in err when asn has
 * no autonomous_system_number at all. */
struct geo_db *geo_db_overlay(struct geo_db *loc, struct geo_db *asn, char *err, size_t errlen);

#endif

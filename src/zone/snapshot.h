/*
 * snapshot.h -- the complete set of zones served at one moment.
 *
 * A snapshot is the zone part of a served set (serve/serve_set.h, which
 * adds the policy set, the generation and the limits); a reload builds a
 * new one beside the live one. It is immutable once published.
 *
 * Ownership: a snapshot owns its zones; snapshot_free() releases them.
 */
#ifndef GTM_ZONE_SNAPSHOT_H
#define GTM_ZONE_SNAPSHOT_H

#include <stddef.h>
#include <stdint.h>

#include "dns/name.h"
#include "zone/zone.h"

struct snapshot {
    struct zone **zones;
    size_t n_zones;
    const struct zone **otable; /* origin -> zone, open addressing */
    uint32_t omask;
    size_t n_records;
};

/* Creates an empty snapshot; zones are added with snapshot_add_zone. */
struct snapshot *snapshot_new(void);
/* Takes ownership of z. Returns false (and keeps nothing) when a zone with
 * the same origin is already present. */
bool snapshot_add_zone(struct snapshot *s, struct zone *z);
void snapshot_free(struct snapshot *s);

/*
 * Finds the zone that is authoritative for qname: the one with the longest
 * origin that qname falls under. For DS at a zone apex the parent zone is
 * chosen when we serve it too (RFC 4035 §3.1.4.1). Returns NULL when no zone
 * matches.
 */
const struct zone *snapshot_find_zone(const struct snapshot *s, const struct dns_name *qname,
                                      uint16_t qtype);

#endif

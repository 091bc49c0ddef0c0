/*
 * zone_place.h -- a new version of an unsigned zone made from the running
 * one, with policy names added or removed (issue #55).
 *
 * A policy name is a node of its zone (daemon/load.c, load_extra_names):
 * a query of another type answers NODATA, not NXDOMAIN, and its empty
 * non-terminals exist. A change that adds or removes such names used to
 * read the zone's file again with a node per policy name (1.9-2.2 s at
 * 1,000,000 names). zone_place makes the zone a full load of the same
 * file and names would give, from the running version:
 *
 *   - a copy of its table (12 octets a slot, one memcpy; readers of the
 *     running version go on reading theirs);
 *   - every node of the running version shared, never written;
 *   - an added name's node and its missing empty non-terminals in a
 *     block of the new version's (struct zone_store);
 *   - a removed name's node taken out of the table (the entries after it
 *     shifted back, so the lookup is unchanged), or replaced by an empty
 *     non-terminal when names remain below it; an empty non-terminal left
 *     with nothing below it taken out too (struct zone_kids counts the
 *     children of each node with children).
 *
 * It declines (NULL: the caller reads the file, as before) whatever it
 * cannot make exactly as the full load does: a signed zone or one with
 * DNSSEC records (the denial chain lists the names), a name at a node
 * with data of the file or whose policy types change on an existing
 * node (that node would have to be written), a name with a "*" label, a
 * name at or below a delegation or a DNAME (the full load's checks name
 * the file and line), the apex, and changes of more than
 * ZONE_PLACE_MAX names.
 *
 * Ownership: the new version (zone_free) holds its table, its kids map,
 * and a reference to its store, which holds the stores below it down to
 * the file-loaded zone's arena (zone.h, "Versions"). What readers read
 * of from is not written (its counts of holders are atomic); its kids
 * map, which only this loader reads, moves to the new version (one
 * change at a time: the caller holds the reload lock).
 */
#ifndef GTM_ZONE_ZONE_PLACE_H
#define GTM_ZONE_ZONE_PLACE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "zone/zone.h"

/* More names than this in one change: the file is read again (a batch;
 * names are merged pairwise). */
#define ZONE_PLACE_MAX 512

/* One policy name a change touched: the policy types it answers now
 * (ZONE_NODE_POLICY_*; present: a binding of the new set names it, with
 * these flags; !present: a binding of the running set named it and is
 * gone). A name's flags are the union of its present entries; a name with
 * none has no policy records any more. */
struct zone_place_name {
    const uint8_t *name; /* lowercase wire name inside the zone (borrowed) */
    uint8_t len;
    uint16_t flags;
    bool present;
};

/* A new version of from with names applied, or NULL when from or a name
 * is a case zone_place declines (above; from untouched). *added and
 * *removed (may be NULL) get the number of policy nodes added and
 * removed. */
struct zone *zone_place(struct zone *from, const struct zone_place_name *names, size_t n,
                        size_t *added, size_t *removed);

/* Whether zone z can be placed at all (unsigned, no DNSSEC records, not
 * expired, no journal of its own to carry). */
bool zone_place_eligible(const struct zone *z);

/* Drops one hold on store s (and the stores and arena below it with the
 * last). For zone.c. */
void zone_store_release(struct zone_store *s);
/* Drops one hold on the arena of z, a zone read from its file (zone.h:
 * store_refs), freeing it and z with the last. For zone.c. */
void zone_arena_release(struct zone *z);
/* Frees a kids map (NULL: nothing). For zone.c. */
void zone_kids_free(struct zone_kids *k);

#endif

/*
 * admin_view.h -- JSON views of the policy set shared by status, explain
 * and overrides. Every view shows each state layer, not only the winner.
 */
#ifndef GTM_ADMIN_ADMIN_VIEW_H
#define GTM_ADMIN_ADMIN_VIEW_H

#include <jansson.h>

#include "drill/drill.h"
#include "geo/geo_db.h"
#include "health/health.h"
#include "policy/policy.h"

/* {"probe", "fleet", "override", "effective", "override_detail", "drill",
 * "drills", "external", "verdicts"} for a slot ("external": the layer of
 * external verdicts, verdict.h, and "verdicts" those on the slot), with the effective state of the
 * endpoint given (layers above it included): "drill" is the slot's own drill layer
 * ("down" while a live drill covers it, else null), "drills" the active
 * drills of any mode whose targets include the slot (drills may be NULL:
 * none). */
json_t *admin_view_layers(struct health_core *hc, struct drill_core *drills,
                          const struct health_slot *s, enum health_state effective);
/* The override in force for slot s (newest of its key), or JSON null. */
json_t *admin_view_slot_override(struct health_core *hc, const struct health_slot *s);
/* The override that decides endpoint e's override layer: its own, else its
 * az's, else its region's; JSON null when none (the probe verdict, or a
 * drill above it, decides). */
json_t *admin_view_forced_by(struct health_core *hc, const struct gslb *g,
                             const struct policy_endpoint *e);
/* One endpoint with its layers (state.forced_by names the deciding
 * override at whatever layer it is), probe counters and last result. Its
 * drill layer is its region's and az's; ov (NULL: the live state) adds
 * what a scoped drill loses for the client explain asks about. */
json_t *admin_view_endpoint(struct health_core *hc, struct drill_core *drills, const struct gslb *g,
                            const struct policy_pool *p, const struct policy_endpoint *e,
                            const struct policy_overlay *ov);
/* The answer data of an endpoint as text ("192.0.2.1" or "a.example."). */
const char *admin_view_answer(const struct policy_endpoint *e);
const char *admin_view_policy_name(enum policy_kind k);
const char *admin_view_select_name(enum policy_select s);
const char *admin_view_down_name(enum policy_down d);
/* The configuration of a record, as the operator wrote it; a geo record
 * also has its map ("geo": {"KEY": [REGION, ...], ...}). */
json_t *admin_view_record(const struct gslb *g, const struct policy_record *r);

/* "ADDR/PREFIX" of the network of addr (zeroed past prefix), or "ADDR"
 * alone when prefix is 255. family is GEO_FAMILY_IPV4 or _IPV6. */
json_t *admin_view_network(unsigned family, const uint8_t *addr, unsigned prefix);
/* Adds the fields of l that it has (continent, country, subdivision
 * "CC-SUB", latitude, longitude) to object j. */
void admin_view_location(json_t *j, const struct geo_location *l);

#endif

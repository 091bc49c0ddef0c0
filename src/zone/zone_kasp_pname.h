/*
 * zone_kasp_pname.h -- the names of a zone's parent, as text ("a.b.example."),
 * for the key manager's DS push and checks (daemon/server_kasp_parent.c)
 * and the policy's "parent.zone" (zone_kasp.c, config_zones.c): the
 * ancestors of a child zone to ask for the parent's SOA, nearest first,
 * and whether a name is one of them. Pure: no I/O.
 *
 * Names are in presentation form with a final dot; a backslash escapes
 * the next character ("a\.b.example." has two labels under the root,
 * "a.b" and "example") or starts \DDD. Compared without case (ASCII).
 *
 * Ownership: nothing is allocated; results point into the argument or
 * into the caller's buffer.
 */
#ifndef GTM_ZONE_KASP_PNAME_H
#define GTM_ZONE_KASP_PNAME_H

#include <stdbool.h>
#include <stddef.h>

/* name less its first label: "a.b.example." -> "b.example.", "example."
 * -> "."; NULL for "." (the root has no parent). Points into name. */
const char *zone_kasp_pname_up(const char *name);

/* Whether anc is a proper ancestor of child ("example." of
 * "a.b.example."; "." of every name but itself). */
bool zone_kasp_pname_above(const char *anc, const char *child);

/* in (an operator's name, with or without its final dot) checked and
 * written with its final dot into out (cap bytes): false with why when
 * it is no domain name (empty, an empty label, a label over 63 octets,
 * over 253 characters). */
bool zone_kasp_pname_norm(const char *in, char *out, size_t cap, char *why, size_t whylen);

#endif

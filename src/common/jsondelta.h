/*
 * jsondelta.h -- the difference between two JSON objects at the depth of
 * a configuration's resources, and applying it.
 *
 * A configuration is an object whose object-valued keys (records, pools,
 * checks, regions...) hold one member per resource. A delta names what
 * changed at that depth, so that a change of one record in 100,000 is a
 * delta of one record:
 *
 *   {"put":  {KEY: value, ...},            top-level keys set whole
 *    "drop": [KEY, ...],                   top-level keys removed
 *    "in":   {KEY: {"put": {NAME: value},  members of an object-valued
 *                   "drop": [NAME]}}}      key set or removed
 *
 * Every part is optional. Unlike a JSON merge patch (RFC 7396) it can set
 * a value to null, and applying it to the wrong base fails instead of
 * giving a different document: a member dropped must be there, and "in"
 * needs an object.
 *
 * Applying shares every untouched value with the base (no deep copy): a
 * document made from another by a delta keeps the very objects of the
 * members it did not touch, which is what lets the loader keep their
 * compiled form (doc/architecture.md, "Changes").
 *
 * Ownership: every function returns a new reference the caller owns;
 * arguments are borrowed.
 */
#ifndef GTM_COMMON_JSONDELTA_H
#define GTM_COMMON_JSONDELTA_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

/* What turns from into to (both objects). Values the same object in both,
 * or equal, are not in it. An empty delta is {}. */
json_t *jsondelta_diff(json_t *from, json_t *to);

/* The same when the caller knows where to look: to was made from from by
 * changing, under each key of only (an object: KEY -> {NAME: anything}),
 * the members NAME and no other. Those keys' members are compared by the
 * names listed alone, so a change of one record in 100,000 costs a lookup
 * per name; every other key is compared as jsondelta_diff does. A key
 * whose listed names are {} is vouched unchanged. */
json_t *jsondelta_diff_some(json_t *from, json_t *to, json_t *only);

/* What d touches under each of keys (NULL-ended), as jsondelta_diff_some
 * takes it: KEY -> {NAME: true} for each member d puts or drops there,
 * {} for a key d leaves alone; a key d sets or drops whole is left out
 * (compared whole). */
json_t *jsondelta_touched(json_t *d, const char *const *keys);

/* base with d applied: a new object, or NULL with why in err when d is not
 * a delta or does not fit base. */
json_t *jsondelta_apply(json_t *base, json_t *d, char *err, size_t errlen);

/* Applies d to doc in place: doc's objects whose members d changes
 * ("in") must be doc's own, not shared with another document (a value d
 * puts whole is copied before its members change). false with why in err
 * when d does not fit doc (doc may then be partly changed: the caller
 * drops it). */
bool jsondelta_apply_in(json_t *doc, json_t *d, char *err, size_t errlen);

/* Applies p, one part of a delta's "in" ({"put", "drop"} of members), to
 * the object obj in place; false with why in err when p does not fit obj
 * (obj may then be partly changed: the caller drops it). */
bool jsondelta_apply_members(json_t *obj, json_t *p, char *err, size_t errlen);

/* The delta that turns jsondelta_apply(base, d) back into base: what d
 * puts or drops, with base's values (made from d and base alone, without
 * comparing the documents). NULL with why in err when d does not fit
 * base. Kept beside a version, it rebuilds the version before it from
 * the version (config_store.h). */
json_t *jsondelta_undo(json_t *base, json_t *d, char *err, size_t errlen);

/* from and to are the same document (json_equal's answer): their diff is empty (members walked
 * side by side, jsonwalk.h, so a document made from the other costs a step
 * per member, where json_equal compares every member whole). */
bool jsondelta_equal(json_t *from, json_t *to);

/* The number of values d puts or drops (top-level keys and members). */
size_t jsondelta_count(json_t *d);

#endif

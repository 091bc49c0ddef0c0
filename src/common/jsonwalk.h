/*
 * jsonwalk.h -- the members two JSON objects do not share, found by
 * walking them side by side.
 *
 * A configuration document made from another by a change (a copy of the
 * records object with one member replaced, jsondelta_apply) keeps the
 * other's member order and its very values: jansson objects iterate in
 * insertion order, replacing a member keeps its place, a new member goes
 * last. Walking both in order and comparing value pointers finds the few
 * members that differ with one step per member and a hash lookup only
 * per difference, where looking every member of one up in the other costs
 * a lookup (a cache miss or two) per member: at 100,000 records 17 ms
 * against a few.
 *
 * Members whose order differs (a document read again from a file, keys
 * moved by hand) are still all found: the walk turns to lookups from the
 * first member whose place it cannot explain.
 *
 * Ownership: everything is borrowed; the objects must not change during
 * the walk.
 */
#ifndef GTM_COMMON_JSONWALK_H
#define GTM_COMMON_JSONWALK_H

#include <jansson.h>
#include <stddef.h>

/* Called for a member name that a and b do not hold as the very same
 * value: in_a is a's value (NULL: only b has it), in_b b's (NULL: only a
 * has it). Values that are different objects yet equal are reported too
 * (the caller decides whether json_equal matters). */
typedef void (*jsonwalk_fn)(const char *name, json_t *in_a, json_t *in_b, void *arg);

/* Calls fn once per member of a or b whose value is not the same object
 * in both: b's members in b's order, and a's members that b lacks in a's
 * order (the two kinds interleaved). Returns the number of calls. Either
 * may be NULL or not an object (no members). */
size_t jsonwalk_changed(json_t *a, json_t *b, jsonwalk_fn fn, void *arg);

#endif

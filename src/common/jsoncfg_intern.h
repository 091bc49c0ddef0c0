/*
 * jsoncfg_intern.h -- one shared value for equal strings and integers of a
 * parsed JSON document.
 *
 * jansson gives every string and integer of a document an allocation of
 * its own (two for a string: the value and its text): 100,000 policy
 * records, each naming its policy, pool and a region order, made 141 MB
 * of heap out of a 24 MB file (issue #38). After the parse, equal
 * scalars are made one value referenced from every place it appears.
 * Nothing in gtmd changes a string or integer in place (json_string_set,
 * json_integer_set are not used), and jansson's reference counts are
 * atomic, so a shared value is indistinguishable from equal copies to
 * every reader of the document. Objects and arrays are never shared: they
 * are edited in place by the configuration API.
 *
 * Ownership: doc stays the caller's; the replaced copies are released and
 * the shared values are owned by the document's references to them.
 */
#ifndef GTM_COMMON_JSONCFG_INTERN_H
#define GTM_COMMON_JSONCFG_INTERN_H

#include <jansson.h>
#include <stddef.h>

/* Replaces every string and integer of doc (at any depth, keys excepted)
 * by the first equal one met. Returns how many were replaced. */
size_t jsoncfg_intern(json_t *doc);

/* The same for a value about to replace like in a document (a change
 * through the configuration API): value's strings and integers equal to
 * one of like's (at any depth) become like's, so that a changed record
 * keeps sharing what the parse shared. like is only read (it may be shared
 * with a document other threads read); value must be the caller's alone.
 * Returns how many were replaced. */
size_t jsoncfg_intern_like(json_t *value, json_t *like);

#endif

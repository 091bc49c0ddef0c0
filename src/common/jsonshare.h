/*
 * jsonshare.h -- one value for equal resources of the configuration
 * (hash-consing), kept across its versions.
 *
 * Why: a configuration of 100,000 policy records held as jansson values
 * is about 850 bytes a record (a hash table of members, a pair and a
 * value per member, an array of regions), 85 MB of the 234 MB a node
 * took with 100,000 names over 10,000 endpoints (issue #38), even with
 * equal strings and integers shared (jsoncfg_intern.h). The records of a
 * real estate repeat themselves: every name of a service points at the
 * same pool with the same policy, TTL and region order, as gdnsd's names
 * all point at one named resource. Here each distinct record (or pool,
 * check, region) is one jansson value that every name holding an equal
 * one references, and an array or object inside one (a region order, an
 * endpoint) is shared the same way.
 *
 * Sharing is safe because the values of a configuration's resources are
 * never changed in place: a change replaces a resource's value under its
 * name in a copy of the resource object (config_api.c, jsondelta.h), and
 * consecutive versions share every resource a change left alone. Equal
 * means equal in member order too (JSON_PRESERVE_ORDER: a shared value
 * dumps as each of its holders was written).
 *
 * Who may change what: a value is made to reference shared children
 * (its own members replaced) only when the caller says it is private
 * (mutate) and it is held once (a reference count of one: nothing but its
 * container holds it); a value some other document, thread or compiled
 * configuration can see is only looked up or added.
 *
 * Threads: none of its own; the owner serialises every call (config_api's
 * lock). Reference counts are read atomically, as jansson changes them.
 * Ownership: the table holds a reference to each value it has; a value
 * returned is borrowed from it (valid while the caller holds the value it
 * gave, or until the next jsonshare_sweep or clear).
 */
#ifndef GTM_COMMON_JSONSHARE_H
#define GTM_COMMON_JSONSHARE_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

struct jsonshare_slot {
    json_t *v; /* a reference held (NULL: empty) */
    unsigned long long hash;
};

struct jsonshare {
    struct jsonshare_slot *slot; /* open addressing */
    size_t mask, n;
    size_t sweep_at;           /* n at which jsonshare_sweep runs from jsonshare_members */
    unsigned long long shared; /* values replaced by an equal one, for status and tests */
};

void jsonshare_init(struct jsonshare *s);
/* Drops every reference the table holds. */
void jsonshare_clear(struct jsonshare *s);

/* With mutate, every member of doc's objects under kinds (NULL-ended
 * keys; doc's root and those objects must be the caller's to change; one
 * held more than once, by another version too, is left alone) replaced
 * by the table's value equal to it (a member held once has its own members
 * made shared values first, bottom-up; only objects and arrays are kept:
 * equal strings and integers are jsoncfg_intern's); only the
 * names in only's object of the same key when only is not NULL (a kind
 * only lacks: none of it). Without mutate doc is only read: its values
 * are added to the table, nothing in it is replaced (a served document,
 * whose values compiled configurations borrow from). Returns how many
 * members were replaced. Sweeps the table once it has doubled since the
 * last sweep. */
size_t jsonshare_members(struct jsonshare *s, json_t *doc, const char *const *kinds, json_t *only,
                         bool mutate);

/* The document in buf (len octets; json_loadb's flags), its resources
 * under kinds made one value with the table's as each is read: a
 * duplicate is freed before the next resource is read, so its memory goes
 * to the next one instead of leaving a hole of a record's size between
 * live allocations (sharing a whole parsed document's duplicates in place
 * brought RSS from 234 to 230 MB where the live heap lost 70 MB; copying
 * the shared document anew left the heap fragmented when nothing was
 * shared). The strings and integers of the resources are one value each
 * as well, as jsoncfg_intern makes them. Each member is read by jansson
 * itself (its checks, its flags); a text the reader does not take (a
 * syntax error, a duplicate key jansson would refuse) is parsed whole by
 * jansson instead, whose error (text, line, column) is in err. A new
 * reference, or NULL. */
json_t *jsonshare_load(struct jsonshare *s, const char *buf, size_t len, size_t flags,
                       const char *const *kinds, json_error_t *err);

/* Drops the values nothing but the table holds any more. */
void jsonshare_sweep(struct jsonshare *s);

/* Whether a and b are equal, objects' members in the same order. */
bool jsonshare_same(json_t *a, json_t *b);

#endif

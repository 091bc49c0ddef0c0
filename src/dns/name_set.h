/*
 * name_set.h -- a hash set of domain names (lowercase uncompressed wire
 * form), each with a value: the catalog consumer's duplicate checks and
 * the searches of a member's local ancestors and of the policy names it
 * covers, in time linear in the names rather than quadratic.
 *
 * Open addressing with linear probing, kept at most half full, so a
 * search looks at a couple of slots on average; `probes` counts the slots
 * every add and find looked at (test_dns_name_set holds it to a small
 * multiple of the names, which no quadratic search can meet).
 *
 * Ownership: the set copies each name it adds; name_set_free releases
 * them. Not thread-safe (finds count probes): one owner at a time.
 */
#ifndef GTM_DNS_NAME_SET_H
#define GTM_DNS_NAME_SET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct name_set_slot {
    uint8_t *wire; /* NULL: empty */
    uint32_t hash;
    uint8_t len;
    size_t value;
};

struct name_set {
    struct name_set_slot *slots;
    size_t cap; /* a power of two, or 0 before the first add */
    size_t n;
    uint64_t probes; /* slots looked at by every add and find so far */
};

#define NAME_SET_NONE ((size_t)-1)

/* An empty set (no allocation until the first add). */
void name_set_init(struct name_set *s);

/* Adds wire (lowercase, len octets) with value; true when it was new,
 * false (value kept as it was) when it was there. Aborts on no memory,
 * as gtmd's other loaders do. */
bool name_set_add(struct name_set *s, const uint8_t *wire, size_t len, size_t value);

/* The value of wire, or NAME_SET_NONE when it is not in the set. */
size_t name_set_find(struct name_set *s, const uint8_t *wire, size_t len);

void name_set_free(struct name_set *s);

#endif

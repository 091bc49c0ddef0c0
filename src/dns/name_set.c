/*
 * name_set.c -- a hash set of domain names with a value each (name_set.h).
 */
#include "dns/name_set.h"

#include <stdlib.h>
#include <string.h>

#include "dns/name.h"

void name_set_init(struct name_set *s)
{
    memset(s, 0, sizeof(*s));
}

/* The slot of wire in s: where it is, or the empty slot where it goes. */
static struct name_set_slot *name_set_slot(struct name_set *s, const uint8_t *wire, size_t len,
                                           uint32_t hash)
{
    size_t mask = s->cap - 1;
    for (size_t i = hash & mask;; i = (i + 1) & mask) {
        struct name_set_slot *e = &s->slots[i];
        s->probes++;
        if (!e->wire || (e->hash == hash && e->len == len && memcmp(e->wire, wire, len) == 0))
            return e;
    }
}

/* Doubles the table (16 slots at first), moving every name over. */
static void name_set_grow(struct name_set *s)
{
    struct name_set old = *s;
    s->cap = old.cap ? old.cap * 2 : 16;
    s->slots = calloc(s->cap, sizeof(*s->slots));
    if (!s->slots)
        abort();
    for (size_t i = 0; i < old.cap; i++)
        if (old.slots[i].wire)
            *name_set_slot(s, old.slots[i].wire, old.slots[i].len, old.slots[i].hash) =
                old.slots[i];
    free(old.slots);
}

bool name_set_add(struct name_set *s, const uint8_t *wire, size_t len, size_t value)
{
    if ((s->n + 1) * 2 > s->cap)
        name_set_grow(s);
    uint32_t hash = dns_name_hash(wire, len);
    struct name_set_slot *e = name_set_slot(s, wire, len, hash);
    if (e->wire)
        return false;
    e->wire = malloc(len ? len : 1);
    if (!e->wire)
        abort();
    memcpy(e->wire, wire, len);
    e->hash = hash;
    e->len = (uint8_t)len;
    e->value = value;
    s->n++;
    return true;
}

size_t name_set_find(struct name_set *s, const uint8_t *wire, size_t len)
{
    if (!s->cap)
        return NAME_SET_NONE;
    struct name_set_slot *e = name_set_slot(s, wire, len, dns_name_hash(wire, len));
    return e->wire ? e->value : NAME_SET_NONE;
}

void name_set_free(struct name_set *s)
{
    for (size_t i = 0; i < s->cap; i++)
        free(s->slots[i].wire);
    free(s->slots);
    name_set_init(s);
}

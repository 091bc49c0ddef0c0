/*
 * policy_keys.c -- where each name's records start in a policy set, by
 * key (policy.h, struct gslb_keys; issue #55).
 *
 * Why: a change that replaces a few names' records in their room
 * (policy_config_touched.c) must find those names in the running set.
 * Building a table of a million names for each change was a third of it;
 * a set built in place keeps every name at its index, so the table made
 * once for the running set serves every set built in place after it,
 * shared by a count. A change that removes or resizes a name moves the
 * names after it: its set gets a table of its own when a later change in
 * place first needs one. A change that only adds names (every other
 * name at its index, the new ones after them) gets a copy of the running
 * set's table with the new names in it (gslb_keys_grown): a memcpy, not
 * a walk of every record, so the put after an add stays in place.
 *
 * Threads: made and read on the reload thread only (changes are
 * serialised); the count is atomic because the sets holding it are freed
 * on the dropper's.
 */
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "policy/policy.h"

struct gslb_keys {
    atomic_uint refs;
    uint32_t mask;
    uint32_t slot[]; /* 1 + the first record of a name; 0: empty */
};

bool gslb_same_key_as_before(const struct gslb *g, size_t i)
{
    if (i == 0)
        return false;
    const struct policy_record *r = gslb_rec(g, i), *p = gslb_rec(g, i - 1);
    return p->key_hash == r->key_hash && strcmp(p->name_str, r->name_str) == 0;
}

size_t gslb_key_run(const struct gslb *g, size_t at)
{
    size_t n = 1;
    while (at + n < g->n_records && gslb_same_key_as_before(g, at + n))
        n++;
    return n;
}

size_t gslb_keys_find(const struct gslb_keys *keys, const struct gslb *g, const char *name,
                      uint32_t h)
{
    for (uint32_t k = h & keys->mask; keys->slot[k]; k = (k + 1) & keys->mask) {
        const struct policy_record *r = gslb_rec(g, keys->slot[k] - 1);
        if (r->key_hash == h && strcmp(r->name_str, name) == 0)
            return keys->slot[k] - 1;
    }
    return SIZE_MAX;
}

/* The table of g's names; NULL when a name's records are not all in one
 * run (a name found again further on). */
static struct gslb_keys *gslb_keys_make(const struct gslb *g)
{
    uint32_t size = 16;
    while (size < g->n_records + g->n_records / 3 + 1)
        size *= 2;
    struct gslb_keys *t = calloc(1, sizeof(*t) + size * sizeof(t->slot[0]));
    if (!t)
        abort();
    atomic_init(&t->refs, 1);
    t->mask = size - 1;
    for (size_t i = 0; i < g->n_records; i++) {
        if (gslb_same_key_as_before(g, i))
            continue;
        const struct policy_record *r = gslb_rec(g, i);
        uint32_t k = r->key_hash & t->mask;
        for (; t->slot[k]; k = (k + 1) & t->mask) {
            const struct policy_record *o = gslb_rec(g, t->slot[k] - 1);
            if (o->key_hash == r->key_hash && strcmp(o->name_str, r->name_str) == 0) {
                free(t); /* a second run of one name */
                return NULL;
            }
        }
        t->slot[k] = (uint32_t)i + 1;
    }
    return t;
}

struct gslb_keys *gslb_keys_grown(const struct gslb_keys *old, const struct gslb *g,
                                  const uint32_t *firsts, size_t n)
{
    /* The size gslb_keys_make would give g: a table made for fewer
     * records is not copied (it would fill past three quarters). */
    if (!old || g->n_records >= UINT32_MAX ||
        (size_t)old->mask + 1 < g->n_records + g->n_records / 3 + 1)
        return NULL;
    size_t bytes = sizeof(*old) + ((size_t)old->mask + 1) * sizeof(old->slot[0]);
    struct gslb_keys *t = malloc(bytes);
    if (!t)
        abort();
    memcpy(t, old, bytes);
    atomic_init(&t->refs, 1);
    for (size_t x = 0; x < n; x++) {
        const struct policy_record *r = gslb_rec(g, firsts[x]);
        if (gslb_keys_find(t, g, r->name_str, r->key_hash) != SIZE_MAX) {
            free(t); /* a name already there: not a name added */
            return NULL;
        }
        uint32_t k = r->key_hash & t->mask;
        while (t->slot[k])
            k = (k + 1) & t->mask;
        t->slot[k] = firsts[x] + 1;
    }
    return t;
}

struct gslb_keys *gslb_keys_of(struct gslb *g)
{
    if (!g->keys && g->n_records < UINT32_MAX)
        g->keys = gslb_keys_make(g);
    return g->keys;
}

struct gslb_keys *gslb_keys_ref(struct gslb_keys *keys)
{
    if (keys)
        atomic_fetch_add_explicit(&keys->refs, 1, memory_order_relaxed);
    return keys;
}

void gslb_keys_unref(struct gslb_keys *keys)
{
    if (keys && atomic_fetch_sub_explicit(&keys->refs, 1, memory_order_acq_rel) == 1)
        free(keys);
}

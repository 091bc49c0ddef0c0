/*
 * policy_orders.c -- region lists shared by the records that have the same
 * one (policy_orders.h).
 */
#include "policy/policy_orders.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "policy/policy.h"

/* A list and its header; the records point at items. */
struct policy_orders_entry {
    struct policy_orders *table;      /* NULL: a list of its own, freed by its release */
    struct policy_orders_entry *next; /* in its bucket of table */
    uint32_t refs;                    /* under table->lock */
    uint32_t hash;                    /* policy_name_hash of the items */
    uint32_t n;
    uint16_t items[];
};

struct policy_orders {
    pthread_mutex_t lock; /* the buckets, the count and every entry's refs */
    struct policy_orders_entry **buckets;
    size_t mask; /* buckets - 1, a power of two less one */
    size_t n;    /* entries */
};

static void *policy_orders_calloc(size_t n, size_t size)
{
    void *p = calloc(n ? n : 1, size);
    if (!p)
        abort();
    return p;
}

struct policy_orders *policy_orders_new(void)
{
    struct policy_orders *t = policy_orders_calloc(1, sizeof(*t));
    pthread_mutex_init(&t->lock, NULL);
    t->mask = 63;
    t->buckets = policy_orders_calloc(t->mask + 1, sizeof(*t->buckets));
    return t;
}

void policy_orders_free(struct policy_orders *t)
{
    if (!t)
        return;
    for (size_t b = 0; b <= t->mask; b++)
        for (struct policy_orders_entry *e = t->buckets[b], *next; e; e = next) {
            next = e->next;
            free(e);
        }
    free(t->buckets);
    pthread_mutex_destroy(&t->lock);
    free(t);
}

static struct policy_orders_entry *policy_orders_entry_of(const uint16_t *list)
{
    return (struct policy_orders_entry *)(void *)((char *)(uintptr_t)list -
                                                  offsetof(struct policy_orders_entry, items));
}

static struct policy_orders_entry *
policy_orders_entry_new(struct policy_orders *t, const uint16_t *items, size_t n, uint32_t hash)
{
    struct policy_orders_entry *e =
        malloc(offsetof(struct policy_orders_entry, items) + n * sizeof(*items));
    if (!e)
        abort();
    e->table = t;
    e->next = NULL;
    e->refs = 1;
    e->hash = hash;
    e->n = (uint32_t)n;
    if (n)
        memcpy(e->items, items, n * sizeof(*items));
    return e;
}

/* Twice as many buckets, under t's lock: a chain stays about one entry. */
static void policy_orders_grow(struct policy_orders *t)
{
    size_t mask = 2 * t->mask + 1;
    struct policy_orders_entry **b = policy_orders_calloc(mask + 1, sizeof(*b));
    for (size_t i = 0; i <= t->mask; i++)
        for (struct policy_orders_entry *e = t->buckets[i], *next; e; e = next) {
            next = e->next;
            e->next = b[e->hash & mask];
            b[e->hash & mask] = e;
        }
    free(t->buckets);
    t->buckets = b;
    t->mask = mask;
}

const uint16_t *policy_orders_intern(struct policy_orders *t, const uint16_t *items, size_t n)
{
    uint32_t h = n ? policy_name_hash(items, n * sizeof(*items)) : 0;
    if (!t)
        return policy_orders_entry_new(NULL, items, n, h)->items;
    pthread_mutex_lock(&t->lock);
    struct policy_orders_entry *e = t->buckets[h & t->mask];
    while (e && !(e->hash == h && e->n == n &&
                  (n == 0 || memcmp(e->items, items, n * sizeof(*items)) == 0)))
        e = e->next;
    if (e)
        e->refs++;
    else {
        e = policy_orders_entry_new(t, items, n, h);
        e->next = t->buckets[h & t->mask];
        t->buckets[h & t->mask] = e;
        if (++t->n > t->mask + 1)
            policy_orders_grow(t);
    }
    pthread_mutex_unlock(&t->lock);
    return e->items;
}

void policy_orders_release(const uint16_t *list)
{
    if (!list)
        return;
    struct policy_orders_entry *e = policy_orders_entry_of(list);
    struct policy_orders *t = e->table;
    if (!t) {
        free(e);
        return;
    }
    pthread_mutex_lock(&t->lock);
    if (--e->refs == 0) {
        struct policy_orders_entry **p = &t->buckets[e->hash & t->mask];
        while (*p != e)
            p = &(*p)->next;
        *p = e->next;
        t->n--;
        free(e);
    }
    pthread_mutex_unlock(&t->lock);
}

size_t policy_orders_count(struct policy_orders *t)
{
    pthread_mutex_lock(&t->lock);
    size_t n = t->n;
    pthread_mutex_unlock(&t->lock);
    return n;
}

uint32_t policy_orders_refs(const uint16_t *list)
{
    struct policy_orders_entry *e = policy_orders_entry_of(list);
    if (!e->table)
        return e->refs;
    pthread_mutex_lock(&e->table->lock);
    uint32_t r = e->refs;
    pthread_mutex_unlock(&e->table->lock);
    return r;
}

/*
 * intern.c -- immutable values kept once, counted by reference
 * (intern.h).
 */
#include "common/intern.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

/* A value and its header; holders point at data. */
struct intern_entry {
    struct intern *table;      /* NULL: a value of its own, freed by its release */
    struct intern_entry *next; /* in its chain of table */
    uint32_t refs;             /* under table->lock */
    uint32_t hash;             /* intern_hash of the value's octets (the NUL not counted) */
    uint32_t len;              /* octets of data, a text's NUL included */
    unsigned char data[];
};

/* The header of policy_orders.c's lists before this module, and no more:
 * a shared value costs what it cost there (intern.h). */
_Static_assert(offsetof(struct intern_entry, data) == 28, "the header is 28 octets");

struct intern {
    pthread_mutex_t lock; /* the chains, the count and every entry's refs */
    struct intern_entry **chains;
    size_t mask; /* chains - 1, a power of two less one */
    size_t n;    /* entries */
};

static void *intern_calloc(size_t n, size_t size)
{
    void *p = calloc(n ? n : 1, size);
    if (!p)
        abort();
    return p;
}

/* FNV-1a: the values are short (a few region ids, a line of text). */
static uint32_t intern_hash(const void *p, size_t len)
{
    const unsigned char *b = p;
    uint32_t h = 2166136261u;
    for (size_t i = 0; i < len; i++)
        h = (h ^ b[i]) * 16777619u;
    return h;
}

struct intern *intern_new(void)
{
    struct intern *t = intern_calloc(1, sizeof(*t));
    pthread_mutex_init(&t->lock, NULL);
    t->mask = 63;
    t->chains = intern_calloc(t->mask + 1, sizeof(*t->chains));
    return t;
}

void intern_free(struct intern *t)
{
    if (!t)
        return;
    for (size_t b = 0; b <= t->mask; b++)
        for (struct intern_entry *e = t->chains[b], *next; e; e = next) {
            next = e->next;
            free(e);
        }
    free(t->chains);
    pthread_mutex_destroy(&t->lock);
    free(t);
}

static struct intern_entry *intern_entry_of(const void *value)
{
    return (struct intern_entry *)(void *)((char *)(uintptr_t)value -
                                           offsetof(struct intern_entry, data));
}

/* A new entry of len octets of data, a NUL after them with text. */
static struct intern_entry *intern_entry_new(struct intern *t, const void *data, size_t len,
                                             bool text, uint32_t hash)
{
    struct intern_entry *e = malloc(offsetof(struct intern_entry, data) + len + text);
    if (!e)
        abort();
    e->table = t;
    e->next = NULL;
    e->refs = 1;
    e->hash = hash;
    e->len = (uint32_t)(len + text);
    if (len)
        memcpy(e->data, data, len);
    if (text)
        e->data[len] = '\0';
    return e;
}

/* Twice as many chains, under t's lock: a chain stays about one entry. */
static void intern_grow(struct intern *t)
{
    size_t mask = 2 * t->mask + 1;
    struct intern_entry **b = intern_calloc(mask + 1, sizeof(*b));
    for (size_t i = 0; i <= t->mask; i++)
        for (struct intern_entry *e = t->chains[i], *next; e; e = next) {
            next = e->next;
            e->next = b[e->hash & mask];
            b[e->hash & mask] = e;
        }
    free(t->chains);
    t->chains = b;
    t->mask = mask;
}

static bool intern_same(const struct intern_entry *e, uint32_t h, const void *data, size_t len,
                        bool text)
{
    return e->hash == h && e->len == len + text && (len == 0 || memcmp(e->data, data, len) == 0);
}

static const void *intern_take_as(struct intern *t, const void *data, size_t len, bool text)
{
    uint32_t h = len ? intern_hash(data, len) : 0;
    if (!t)
        return intern_entry_new(NULL, data, len, text, h)->data;
    pthread_mutex_lock(&t->lock);
    struct intern_entry *e = t->chains[h & t->mask];
    while (e && !intern_same(e, h, data, len, text))
        e = e->next;
    if (e)
        e->refs++;
    else {
        e = intern_entry_new(t, data, len, text, h);
        e->next = t->chains[h & t->mask];
        t->chains[h & t->mask] = e;
        if (++t->n > t->mask + 1)
            intern_grow(t);
    }
    pthread_mutex_unlock(&t->lock);
    return e->data;
}

const void *intern_take(struct intern *t, const void *data, size_t len)
{
    return intern_take_as(t, data, len, false);
}

const char *intern_take_text(struct intern *t, const char *text, size_t n)
{
    return (const char *)intern_take_as(t, text, n, true);
}

void intern_release(const void *value)
{
    if (!value)
        return;
    struct intern_entry *e = intern_entry_of(value);
    struct intern *t = e->table;
    if (!t) {
        free(e);
        return;
    }
    pthread_mutex_lock(&t->lock);
    if (--e->refs == 0) {
        struct intern_entry **p = &t->chains[e->hash & t->mask];
        while (*p != e)
            p = &(*p)->next;
        *p = e->next;
        t->n--;
        free(e);
    }
    pthread_mutex_unlock(&t->lock);
}

size_t intern_count(struct intern *t)
{
    pthread_mutex_lock(&t->lock);
    size_t n = t->n;
    pthread_mutex_unlock(&t->lock);
    return n;
}

uint32_t intern_refs(const void *value)
{
    struct intern_entry *e = intern_entry_of(value);
    if (!e->table)
        return e->refs;
    pthread_mutex_lock(&e->table->lock);
    uint32_t r = e->refs;
    pthread_mutex_unlock(&e->table->lock);
    return r;
}

size_t intern_chains(struct intern *t)
{
    pthread_mutex_lock(&t->lock);
    size_t n = t->mask + 1;
    pthread_mutex_unlock(&t->lock);
    return n;
}

/*
 * event_ring.c -- the bounded event ring (event_ring.h).
 *
 * Events are kept as their JSON text so readers only copy bytes under the
 * lock; the serialisation happens in push, before the lock is taken.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>

#include "common/event_ring.h"
#include "common/jsonreal.h"

struct event_ring_item {
    uint64_t id;
    char type[24];
    char *json; /* owned */
    size_t len; /* of json */
};

struct event_ring {
    pthread_mutex_t lock;
    struct event_ring_item *items; /* capacity slots; id i lives at (i - 1) % capacity */
    size_t capacity;
    uint64_t last;    /* newest id given */
    uint64_t first;   /* oldest id kept (last + 1: none) */
    size_t bytes;     /* text kept */
    size_t max_bytes; /* 0: bounded by capacity only */
    void (*notify)(void *arg);
    void *notify_arg;
};

struct event_ring *event_ring_new_bounded(size_t capacity, size_t max_bytes)
{
    struct event_ring *r = calloc(1, sizeof(*r));
    if (!r || capacity == 0)
        abort();
    r->items = calloc(capacity, sizeof(*r->items));
    if (!r->items)
        abort();
    r->capacity = capacity;
    r->max_bytes = max_bytes;
    r->first = 1;
    pthread_mutex_init(&r->lock, NULL);
    return r;
}

struct event_ring *event_ring_new(size_t capacity)
{
    return event_ring_new_bounded(capacity, 0);
}

/* Forgets the oldest kept event (caller holds the lock). */
static void event_ring_drop_oldest(struct event_ring *r)
{
    struct event_ring_item *it = &r->items[(r->first - 1) % r->capacity];
    if (it->id == r->first) {
        r->bytes -= it->len;
        free(it->json);
        it->json = NULL;
        it->len = 0;
    }
    r->first++;
}

void event_ring_free(struct event_ring *r)
{
    if (!r)
        return;
    for (size_t i = 0; i < r->capacity; i++)
        free(r->items[i].json);
    free(r->items);
    pthread_mutex_destroy(&r->lock);
    free(r);
}

void event_ring_set_notify(struct event_ring *r, void (*fn)(void *arg), void *arg)
{
    if (!r)
        return;
    pthread_mutex_lock(&r->lock);
    r->notify = fn;
    r->notify_arg = fn ? arg : NULL;
    pthread_mutex_unlock(&r->lock);
}

uint64_t event_ring_push(struct event_ring *r, const char *type, json_t *fields)
{
    if (!r) {
        json_decref(fields);
        return 0;
    }
    json_t *o = json_object();
    struct timeval tv;
    gettimeofday(&tv, NULL);
    if (!o)
        abort();
    json_object_set_new(o, "time", json_real((double)tv.tv_sec + tv.tv_usec / 1e6));
    json_object_set_new(o, "type", json_string(type));
    if (json_is_object(fields))
        json_object_update(o, fields);
    json_decref(fields);
    pthread_mutex_lock(&r->lock);
    uint64_t id = ++r->last;
    json_object_set_new(o, "id", json_integer((json_int_t)id));
    /* Serialised under the lock so ids reach the ring in order; one small
     * object, a few microseconds. */
    char *text = jsonreal_dumps(o, JSON_COMPACT | JSON_SORT_KEYS); /* "time" as written */
    while (r->first + r->capacity <= id)
        event_ring_drop_oldest(r); /* the slot id takes */
    struct event_ring_item *it = &r->items[(id - 1) % r->capacity];
    it->json = text; /* NULL only when out of memory: readers skip it */
    it->len = text ? strlen(text) : 0;
    it->id = id;
    r->bytes += it->len;
    while (r->max_bytes && r->bytes > r->max_bytes && r->first < id)
        event_ring_drop_oldest(r);
    snprintf(it->type, sizeof(it->type), "%s", type);
    /* Under the lock, so event_ring_set_notify(NULL) returns only once no
     * call to the old callback runs. */
    if (r->notify)
        r->notify(r->notify_arg);
    pthread_mutex_unlock(&r->lock);
    json_decref(o);
    return id;
}

uint64_t event_ring_read(struct event_ring *r, uint64_t after, size_t max,
                         void (*fn)(void *arg, uint64_t id, const char *type, const char *json),
                         void *arg, bool *gap)
{
    *gap = false;
    if (!r)
        return after;
    pthread_mutex_lock(&r->lock);
    if (after > r->last)
        after = r->last; /* an id from an earlier process: start from now */
    uint64_t oldest = r->first;
    uint64_t id = after + 1;
    if (id < oldest) {
        *gap = true;
        id = oldest;
    }
    size_t n = 0;
    for (; id <= r->last && n < max; id++, n++) {
        struct event_ring_item *it = &r->items[(id - 1) % r->capacity];
        if (it->json)
            fn(arg, id, it->type, it->json);
    }
    pthread_mutex_unlock(&r->lock);
    return id - 1;
}

uint64_t event_ring_last(struct event_ring *r)
{
    if (!r)
        return 0;
    pthread_mutex_lock(&r->lock);
    uint64_t v = r->last;
    pthread_mutex_unlock(&r->lock);
    return v;
}

uint64_t event_ring_first(struct event_ring *r)
{
    if (!r)
        return 1;
    pthread_mutex_lock(&r->lock);
    uint64_t v = r->first;
    pthread_mutex_unlock(&r->lock);
    return v;
}

size_t event_ring_bytes(struct event_ring *r)
{
    if (!r)
        return 0;
    pthread_mutex_lock(&r->lock);
    size_t v = r->bytes;
    pthread_mutex_unlock(&r->lock);
    return v;
}

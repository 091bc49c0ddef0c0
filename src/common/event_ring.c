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

struct event_ring_item {
    uint64_t id;
    char type[24];
    char *json; /* owned */
};

struct event_ring {
    pthread_mutex_t lock;
    struct event_ring_item *items; /* capacity slots; id i lives at (i - 1) % capacity */
    size_t capacity;
    uint64_t last; /* newest id given */
    void (*notify)(void *arg);
    void *notify_arg;
};

struct event_ring *event_ring_new(size_t capacity)
{
    struct event_ring *r = calloc(1, sizeof(*r));
    if (!r || capacity == 0)
        abort();
    r->items = calloc(capacity, sizeof(*r->items));
    if (!r->items)
        abort();
    r->capacity = capacity;
    pthread_mutex_init(&r->lock, NULL);
    return r;
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
    char *text = json_dumps(o, JSON_COMPACT | JSON_SORT_KEYS);
    struct event_ring_item *it = &r->items[(id - 1) % r->capacity];
    free(it->json);
    it->json = text; /* NULL only when out of memory: readers skip it */
    it->id = id;
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
    uint64_t oldest = r->last >= r->capacity ? r->last - r->capacity + 1 : 1;
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

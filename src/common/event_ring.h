/*
 * event_ring.h -- a bounded, thread-safe ring of state-change events
 * (GET /v1/events, doc/admin-api.md).
 *
 * Producers on any thread (prober, health service, drill thread, admin,
 * reload) push one JSON object per change; the ring gives it the next id
 * (1, 2, ... never reused while the process runs) and keeps the newest
 * 'capacity' events so a reader can resume after the last id it saw. One
 * notify callback (the admin thread's wake-up) is called after every push,
 * outside the lock; it must not block.
 *
 * Ownership: event_ring_new returns a ring the caller frees with
 * event_ring_free once no thread pushes or reads any more. event_ring_push
 * steals its object. Every function accepts a NULL ring (no-op).
 */
#ifndef GTM_COMMON_EVENT_RING_H
#define GTM_COMMON_EVENT_RING_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define EVENT_RING_DEFAULT 10000

struct event_ring;

struct event_ring *event_ring_new(size_t capacity);
/* A ring that also keeps at most max_bytes of event text (the newest
 * event is always kept, whatever its size): older events are dropped as
 * if the capacity were reached. */
struct event_ring *event_ring_new_bounded(size_t capacity, size_t max_bytes);
void event_ring_free(struct event_ring *r);

/* Wake-up called after each push (any thread); fn NULL: none. */
void event_ring_set_notify(struct event_ring *r, void (*fn)(void *arg), void *arg);

/* Adds {"id": N, "time": T, "type": type, ...fields} (fields stolen; NULL:
 * none). Returns the id. */
uint64_t event_ring_push(struct event_ring *r, const char *type, json_t *fields);

/* Calls fn for every kept event with an id above 'after', oldest first,
 * at most max of them, with its id, type and JSON text (valid for the
 * call; fn must not touch the ring). *gap: events after 'after' were
 * already dropped. Returns the last id given (or 'after'). */
uint64_t event_ring_read(struct event_ring *r, uint64_t after, size_t max,
                         void (*fn)(void *arg, uint64_t id, const char *type, const char *json),
                         void *arg, bool *gap);

/* The newest id given so far (0: none). */
uint64_t event_ring_last(struct event_ring *r);
/* The oldest id still kept (event_ring_last() + 1 when none is kept). */
uint64_t event_ring_first(struct event_ring *r);
/* The bytes of event text kept. */
size_t event_ring_bytes(struct event_ring *r);

#endif

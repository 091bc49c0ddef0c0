/*
 * Unit tests for src/common/event_ring.c: ids start at 1 and increase,
 * reading resumes after an id, the ring keeps only its capacity (a reader
 * behind it is told of the gap), the notify callback runs once per push,
 * pushes from several threads give every id exactly once in order, and a
 * ring bounded in bytes drops its oldest events past the bound (never the
 * newest) and counts its bytes back down.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/event_ring.h"
#include "tap.h"

struct seen {
    uint64_t ids[64];
    size_t n;
    char last_json[256];
};

static void collect(void *arg, uint64_t id, const char *type, const char *json)
{
    struct seen *s = arg;
    (void)type;
    if (s->n < 64)
        s->ids[s->n++] = id;
    snprintf(s->last_json, sizeof(s->last_json), "%s", json);
}

static void count_notify(void *arg)
{
    (*(int *)arg)++;
}

#define PUSHERS 4
#define PER_PUSHER 2000

static void *pusher(void *arg)
{
    for (int i = 0; i < PER_PUSHER; i++)
        event_ring_push(arg, "t", json_pack("{s:i}", "i", i));
    return NULL;
}

static void check_order(void *arg, uint64_t id, const char *type, const char *json)
{
    uint64_t *next = arg;
    (void)type;
    (void)json;
    if (id == *next)
        (*next)++;
    else
        *next = 0; /* out of order: never matches again */
}

/* A ring of 8 events and room for three and a half of the events below. */
static void check_bounded(struct tap *t)
{
    char pad[80];
    memset(pad, 'x', sizeof(pad) - 1);
    pad[sizeof(pad) - 1] = '\0';
    struct event_ring *one = event_ring_new(1);
    event_ring_push(one, "audit", json_pack("{s:s}", "pad", pad));
    size_t e = event_ring_bytes(one), max = 3 * e + e / 2;
    event_ring_free(one);
    struct event_ring *r = event_ring_new_bounded(8, max);
    for (int i = 0; i < 5; i++)
        event_ring_push(r, "audit", json_pack("{s:s}", "pad", pad));
    /* (The time's digits vary by a few bytes.) */
    TAP_CHECK(t, event_ring_bytes(r) > 2 * e + e / 2 && event_ring_bytes(r) <= max,
              "three events kept (%zu bytes, event %zu)", event_ring_bytes(r), e);
    TAP_CHECK(t, event_ring_first(r) == 3 && event_ring_last(r) == 5,
              "the oldest events went first (first %llu)", (unsigned long long)event_ring_first(r));
    struct seen s = {.n = 0};
    bool gap = false;
    TAP_CHECK(
        t, event_ring_read(r, 0, 100, collect, &s, &gap) == 5 && gap && s.n == 3 && s.ids[0] == 3,
        "a reader behind the bound is told of the gap");
    char big[1000];
    memset(big, 'y', sizeof(big) - 1);
    big[sizeof(big) - 1] = '\0';
    event_ring_push(r, "audit", json_pack("{s:s}", "pad", big));
    TAP_CHECK(t, event_ring_first(r) == 6 && event_ring_bytes(r) > 1000,
              "an event larger than the bound is kept alone");
    for (int i = 0; i < 20; i++)
        event_ring_push(r, "audit", NULL);
    TAP_CHECK(t,
              event_ring_first(r) >= 19 && event_ring_last(r) == 26 && event_ring_bytes(r) <= max,
              "the capacity still applies, and the bytes count down (%zu)", event_ring_bytes(r));
    event_ring_free(r);
}

int main(void)
{
    struct tap t = {0, 0};
    struct event_ring *r = event_ring_new(4);
    int notified = 0;
    event_ring_set_notify(r, count_notify, &notified);
    TAP_CHECK(&t, event_ring_last(r) == 0, "an empty ring's last id is 0");
    TAP_CHECK(&t, event_ring_push(r, "reload", json_pack("{s:s}", "result", "ok")) == 1,
              "the first id is 1");
    TAP_CHECK(&t, event_ring_push(r, "health", NULL) == 2, "the next is 2");
    TAP_CHECK(&t, notified == 2, "notify runs once per push (%d)", notified);
    struct seen s = {0};
    bool gap = true;
    TAP_CHECK(&t, event_ring_read(r, 0, 100, collect, &s, &gap) == 2 && s.n == 2 && !gap,
              "reading from 0 gives both, no gap");
    TAP_CHECK(&t, strstr(s.last_json, "\"id\": 2") || strstr(s.last_json, "\"id\":2"),
              "the JSON carries the id: %s", s.last_json);
    TAP_CHECK(&t, strstr(s.last_json, "\"type\":\"health\"") != NULL, "and the type: %s",
              s.last_json);
    for (int i = 0; i < 5; i++)
        event_ring_push(r, "override", NULL);
    memset(&s, 0, sizeof(s));
    TAP_CHECK(&t,
              event_ring_read(r, 1, 100, collect, &s, &gap) == 7 && gap && s.n == 4 &&
                  s.ids[0] == 4 && s.ids[3] == 7,
              "a reader behind the capacity gets the 4 kept (4..7) and a gap");
    memset(&s, 0, sizeof(s));
    TAP_CHECK(&t, event_ring_read(r, 5, 1, collect, &s, &gap) == 6 && s.n == 1 && !gap,
              "max bounds one read");
    memset(&s, 0, sizeof(s));
    TAP_CHECK(&t, event_ring_read(r, 99, 100, collect, &s, &gap) == 7 && s.n == 0,
              "an id from the future (an earlier process) resumes from now");
    event_ring_set_notify(r, NULL, NULL);
    event_ring_push(r, "x", NULL);
    TAP_CHECK(&t, notified == 7, "no notify once removed (%d)", notified);
    event_ring_free(r);

    r = event_ring_new(PUSHERS * PER_PUSHER);
    pthread_t th[PUSHERS];
    for (int i = 0; i < PUSHERS; i++)
        pthread_create(&th[i], NULL, pusher, r);
    for (int i = 0; i < PUSHERS; i++)
        pthread_join(th[i], NULL);
    uint64_t next = 1;
    event_ring_read(r, 0, PUSHERS * PER_PUSHER, check_order, &next, &gap);
    TAP_CHECK(&t, next == PUSHERS * PER_PUSHER + 1 && !gap,
              "concurrent pushes: every id once, in order (next %llu)", (unsigned long long)next);
    event_ring_free(r);
    event_ring_push(NULL, "x", json_object()); /* NULL ring: no-op, frees the object */
    check_bounded(&t);
    return tap_done(&t);
}

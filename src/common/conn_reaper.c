/*
 * conn_reaper.c -- deferred frees of libevent HTTP connections.
 */
#include "common/conn_reaper.h"

#include <event2/event.h>
#include <event2/http.h>
#include <stdlib.h>

static void conn_reaper_run(evutil_socket_t fd, short what, void *arg)
{
    struct conn_reaper *r = arg;
    (void)fd;
    (void)what;
    for (size_t i = 0; i < r->n; i++)
        evhttp_connection_free(r->dead[i]);
    r->n = 0;
}

void conn_reaper_init(struct conn_reaper *r, struct event_base *base)
{
    *r = (struct conn_reaper){.ev = evtimer_new(base, conn_reaper_run, r)};
    if (!r->ev)
        abort();
}

void conn_reaper_add(struct conn_reaper *r, struct evhttp_connection *c)
{
    if (!c)
        return;
    if (r->n == r->cap) {
        size_t cap = r->cap ? r->cap * 2 : 8;
        struct evhttp_connection **d = realloc(r->dead, cap * sizeof(*d));
        if (!d)
            abort();
        r->dead = d;
        r->cap = cap;
    }
    r->dead[r->n++] = c;
    struct timeval now = {0, 0};
    evtimer_add(r->ev, &now);
}

void conn_reaper_free(struct conn_reaper *r)
{
    conn_reaper_run(-1, 0, r);
    free(r->dead);
    if (r->ev)
        event_free(r->ev);
    *r = (struct conn_reaper){0};
}

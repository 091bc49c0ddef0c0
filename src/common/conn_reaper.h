/*
 * conn_reaper.h -- frees libevent HTTP connections outside their own
 * callbacks. A connection whose request just ended cannot be freed from
 * that request's callback (libevent still holds it there); it is handed
 * here and freed from the event loop at its next turn. The etcd client and
 * the webhook notifier both need this.
 *
 * Ownership: the reaper owns the connections handed to it and its timer
 * event; conn_reaper_free frees what is left. One thread: the base's.
 */
#ifndef GTM_COMMON_CONN_REAPER_H
#define GTM_COMMON_CONN_REAPER_H

#include <stddef.h>

struct event;
struct event_base;
struct evhttp_connection;

struct conn_reaper {
    struct event *ev; /* a zero timer on the base: the loop's next turn */
    struct evhttp_connection **dead;
    size_t n, cap;
};

/* Sets r up on base (aborts when the event cannot be made). */
void conn_reaper_init(struct conn_reaper *r, struct event_base *base);
/* c is freed at the loop's next turn (NULL: nothing). */
void conn_reaper_add(struct conn_reaper *r, struct evhttp_connection *c);
/* Frees every connection handed over, the list and the event. */
void conn_reaper_free(struct conn_reaper *r);

#endif

/*
 * admin_conn.c -- bookkeeping of admin connections: the connection cap and
 * a whole-request deadline.
 *
 * libevent 2.1's evhttp has no accept hook and its timeout restarts on
 * every byte, so a client dripping one header byte at a time could hold a
 * connection (and a file descriptor) for hours without a token. We create
 * each connection's bufferevent ourselves (evhttp_set_bevcb) and keep a
 * reference on it, which lets a periodic sweep (1) see when evhttp has let
 * it go (its callbacks are cleared on free) and release our reference,
 * (2) count the open connections exactly, and (3) shut down a connection
 * that has not completed a request within the timeout of its start or of
 * its previous request, or that was over the cap. Over the cap, the oldest
 * connection that never completed a request makes room; when all have,
 * the new one is answered 503.
 */
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "admin/admin_int.h"

struct admin_conn {
    struct bufferevent *bev; /* we hold one reference */
    double last;             /* connection start or last complete request */
    bool reject;             /* over the cap: answer 503 and close */
    bool served;             /* has completed a request */
};

/* Makes room under the cap by shutting down the oldest connection that
 * has never completed a request (a flood of idle or dripping connections
 * cannot lock out real clients). False when every one has been served. */
static bool admin_conn_evict(struct admin *a)
{
    struct admin_conn *old = NULL;
    for (size_t i = 0; i < a->n_conns; i++) {
        struct admin_conn *c = &a->conns[i];
        if (!c->served && !c->reject && bufferevent_getfd(c->bev) >= 0 &&
            (!old || c->last < old->last))
            old = c;
    }
    if (!old)
        return false;
    shutdown(bufferevent_getfd(old->bev), SHUT_RDWR);
    old->reject = true; /* no longer counted; the sweep releases it */
    a->open_connections--;
    return true;
}

static void admin_conn_drop(struct admin *a, size_t i);

/* Releases the connections evhttp has freed (it clears the callbacks of a
 * bufferevent when it frees it; our reference keeps the memory). */
static void admin_conn_release_closed(struct admin *a)
{
    for (size_t i = 0; i < a->n_conns;) {
        bufferevent_data_cb rd = NULL;
        bufferevent_getcb(a->conns[i].bev, &rd, NULL, NULL, NULL);
        if (!rd)
            admin_conn_drop(a, i);
        else
            i++;
    }
}

struct bufferevent *admin_conn_new(struct event_base *base, void *arg)
{
    struct admin *a = arg;
    admin_conn_release_closed(a);
    struct bufferevent *bev = bufferevent_socket_new(base, -1, BEV_OPT_CLOSE_ON_FREE);
    if (!bev)
        return NULL;
    if (a->n_conns == a->cap_conns) {
        size_t ncap = a->cap_conns ? a->cap_conns * 2 : 64;
        struct admin_conn *n = realloc(a->conns, ncap * sizeof(*n));
        if (!n)
            return bev; /* untracked: evhttp's own timeout still applies */
        a->conns = n;
        a->cap_conns = ncap;
    }
    bufferevent_incref(bev);
    struct admin_conn *c = &a->conns[a->n_conns++];
    c->bev = bev;
    c->last = health_now();
    c->served = false;
    c->reject = false; /* set before the eviction scan reads every entry */
    c->reject = a->open_connections >= a->max_connections && !admin_conn_evict(a);
    if (!c->reject)
        a->open_connections++;
    return bev;
}

bool admin_conn_seen(struct admin *a, struct evhttp_request *req)
{
    struct evhttp_connection *evc = evhttp_request_get_connection(req);
    struct bufferevent *bev = evc ? evhttp_connection_get_bufferevent(evc) : NULL;
    for (size_t i = 0; bev && i < a->n_conns; i++)
        if (a->conns[i].bev == bev) {
            a->conns[i].last = health_now();
            a->conns[i].served = true;
            return !a->conns[i].reject;
        }
    return true;
}

static void admin_conn_drop(struct admin *a, size_t i)
{
    if (!a->conns[i].reject && a->open_connections > 0)
        a->open_connections--;
    bufferevent_decref(a->conns[i].bev);
    a->conns[i] = a->conns[--a->n_conns];
}

void admin_conn_sweep(evutil_socket_t fd, short what, void *arg)
{
    struct admin *a = arg;
    double now = health_now(), limit = a->timeout_ms / 1000.0;
    (void)fd;
    (void)what;
    admin_conn_release_closed(a);
    for (size_t i = 0; i < a->n_conns; i++) {
        struct admin_conn *c = &a->conns[i];
        int sfd = bufferevent_getfd(c->bev);
        if (sfd >= 0 && now - c->last > (c->reject ? 1.0 : limit))
            shutdown(sfd, SHUT_RDWR); /* evhttp sees EOF and frees it */
    }
}

void admin_conn_free_all(struct admin *a)
{
    while (a->n_conns)
        admin_conn_drop(a, a->n_conns - 1);
    free(a->conns);
    a->conns = NULL;
}

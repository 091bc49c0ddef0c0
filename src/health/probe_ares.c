/*
 * probe_ares.c -- a c-ares channel driven by the prober's libevent base.
 *
 * c-ares tells us through its sock-state callback which sockets it wants
 * watched and for what; we keep one persistent libevent event per socket
 * and hand readiness back with ares_process_fd(). One timer, re-armed from
 * ares_timeout() after every bit of work, drives c-ares' own timeouts.
 *
 * Ownership: struct probe_ares owns its channel, its timer and the socket
 * events; the sockets themselves belong to c-ares (it closes them, after
 * telling us to stop watching).
 */
#include "health/probe_int.h"

#include <event2/event.h>
#include <stdlib.h>

#include "common/log.h"

struct probe_ares_sock {
    ares_socket_t fd;
    struct event *ev;
    struct probe_ares_sock *next;
};

struct probe_ares {
    struct prober *p;
    ares_channel ch;
    struct event *timer;
    struct probe_ares_sock *socks;
};

void probe_ares_kick(struct probe_ares *a)
{
    struct timeval tv;
    struct timeval *t = ares_timeout(a->ch, NULL, &tv);
    if (t)
        evtimer_add(a->timer, t);
    else
        evtimer_del(a->timer);
}

static void probe_ares_on_sock(evutil_socket_t fd, short what, void *arg)
{
    struct probe_ares *a = arg;
    /* May call query callbacks and the sock-state callback, which can free
     * this very event; neither frees a. */
    ares_process_fd(a->ch, (what & EV_READ) ? fd : ARES_SOCKET_BAD,
                    (what & EV_WRITE) ? fd : ARES_SOCKET_BAD);
    probe_ares_kick(a);
}

static void probe_ares_on_timer(evutil_socket_t fd, short what, void *arg)
{
    struct probe_ares *a = arg;
    ares_process_fd(a->ch, ARES_SOCKET_BAD, ARES_SOCKET_BAD);
    probe_ares_kick(a);
}

static void probe_ares_sock_state(void *data, ares_socket_t fd, int readable, int writable)
{
    struct probe_ares *a = data;
    struct probe_ares_sock **pp = &a->socks;
    while (*pp && (*pp)->fd != fd)
        pp = &(*pp)->next;
    struct probe_ares_sock *s = *pp;
    if (s && s->ev) {
        event_free(s->ev);
        s->ev = NULL;
    }
    if (!readable && !writable) {
        if (s) {
            *pp = s->next;
            free(s);
        }
        return;
    }
    if (!s) {
        s = calloc(1, sizeof(*s));
        if (!s)
            abort();
        s->fd = fd;
        s->next = a->socks;
        a->socks = s;
    }
    short what = EV_PERSIST | (readable ? EV_READ : 0) | (writable ? EV_WRITE : 0);
    s->ev = event_new(a->p->base, fd, what, probe_ares_on_sock, a);
    /* Nothing to fail here; the channel's timeout then ends the query. */
    if (!s->ev || event_add(s->ev, NULL) != 0)
        log_warn("event=probe_error what=\"cannot watch c-ares socket %d\"", (int)fd);
}

struct probe_ares *probe_ares_new(struct prober *p, struct ares_options *opts, int optmask)
{
    struct probe_ares *a = calloc(1, sizeof(*a));
    if (!a)
        abort();
    a->p = p;
    opts->sock_state_cb = probe_ares_sock_state;
    opts->sock_state_cb_data = a;
    if (ares_init_options(&a->ch, opts, optmask | ARES_OPT_SOCK_STATE_CB) != ARES_SUCCESS) {
        free(a);
        return NULL;
    }
    a->timer = evtimer_new(p->base, probe_ares_on_timer, a);
    if (!a->timer)
        abort();
    return a;
}

ares_channel probe_ares_channel(struct probe_ares *a)
{
    return a->ch;
}

void probe_ares_free(struct probe_ares *a)
{
    if (!a)
        return;
    ares_destroy(a->ch);
    while (a->socks) {
        struct probe_ares_sock *s = a->socks;
        a->socks = s->next;
        if (s->ev)
            event_free(s->ev);
        free(s);
    }
    event_free(a->timer);
    free(a);
}

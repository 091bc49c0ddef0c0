/*
 * admin_accept.c -- the admin listeners' accept back-off.
 *
 * When accept(2) fails for want of descriptors or memory (EMFILE, ENFILE,
 * ENOBUFS, ENOMEM), the listening socket stays readable; libevent's
 * evconnlistener then calls accept again at once, for ever, spinning the
 * admin thread at 100% CPU (and, without an error callback, printing a
 * warning each time). Like the DNS TCP workers (net/tcp.c; the policy is
 * common/accept_backoff.h), the admin thread then takes every listener
 * out of its loop for 100 ms, doubling up to 1 s while the errors go on; connections wait in the
 * kernel's backlog meanwhile and are served once descriptors are back. admin_accept_paused is
 * logged once per burst, admin_accept_resumed once the listeners have been back for a second
 * without an error.
 *
 * evhttp owns the listeners and gives their callbacks its struct evhttp,
 * not ours: the error callback finds its struct admin through the admin
 * thread's event base, by the sweep timer every admin base holds.
 *
 * Ownership: a->listeners holds borrowed pointers (evhttp frees the
 * listeners with itself); a->ev_resume is freed by admin_accept_free.
 */
#include <errno.h>
#include <event2/event.h>
#include <event2/listener.h>
#include <stdlib.h>
#include <string.h>

#include "admin/admin_int.h"
#include "common/accept_backoff.h"
#include "common/log.h"

/* A burst is over once the listeners have been back this long without an
 * error. */
#define ADMIN_ACCEPT_QUIET_MS 1000

static int admin_accept_find(const struct event_base *base, const struct event *ev, void *arg)
{
    (void)base;
    if (event_get_callback(ev) != admin_conn_sweep)
        return 0;
    *(struct admin **)arg = event_get_callback_arg(ev);
    return 1;
}

static void admin_accept_set(struct admin *a, bool on)
{
    for (size_t i = 0; i < a->n_listeners; i++) {
        if (on)
            evconnlistener_enable(a->listeners[i]);
        else
            evconnlistener_disable(a->listeners[i]);
    }
}

static void admin_accept_arm(struct admin *a, unsigned ms)
{
    struct timeval tv = {ms / 1000, (ms % 1000) * 1000};
    event_add(a->ev_resume, &tv);
}

/* The timer: the end of a pause (listen again, then watch for
 * ADMIN_ACCEPT_QUIET_MS), or the end of a quiet watch (the burst is over). */
static void admin_accept_on_timer(evutil_socket_t fd, short what, void *arg)
{
    struct admin *a = arg;
    (void)fd;
    (void)what;
    if (a->accept_paused) {
        a->accept_paused = false;
        a->accept_resumed_at = health_now();
        admin_accept_set(a, true);
        admin_accept_arm(a, ADMIN_ACCEPT_QUIET_MS);
        return;
    }
    log_info("event=admin_accept_resumed paused_ms=%.0f errors=%llu",
             (a->accept_resumed_at - a->accept_paused_at) * 1e3,
             (unsigned long long)a->accept_errors);
    a->accept_backoff_ms = 0;
    a->accept_errors = 0;
}

/* evconnlistener's error callback (arg: evhttp's, not ours). */
static void admin_accept_error(struct evconnlistener *lev, void *arg)
{
    int err = EVUTIL_SOCKET_ERROR();
    struct admin *a = NULL;
    (void)arg;
    event_base_foreach_event(evconnlistener_get_base(lev), admin_accept_find, &a);
    if (!a)
        return;
    if (!accept_backoff_error(err)) {
        /* EPERM (a firewall), EPROTO and the like: that connection is gone,
         * the next one may be fine. */
        log_warn("event=admin_accept_error error=\"%s\"", strerror(err));
        return;
    }
    a->accept_errors++;
    bool first = a->accept_backoff_ms == 0;
    a->accept_backoff_ms = accept_backoff_next(a->accept_backoff_ms);
    if (first) {
        a->accept_paused_at = health_now();
        log_warn("event=admin_accept_paused error=%s retry_ms=%u note=\"no descriptors or memory "
                 "for new admin connections; accepting again later\"",
                 strerrorname_np(err) ? strerrorname_np(err) : "?", a->accept_backoff_ms);
    }
    a->accept_paused = true;
    admin_accept_set(a, false);
    admin_accept_arm(a, a->accept_backoff_ms);
}

void admin_accept_watch(struct admin *a, struct evhttp_bound_socket *b)
{
    struct evconnlistener *lev = b ? evhttp_bound_socket_get_listener(b) : NULL;
    if (!lev)
        return;
    if (!a->ev_resume) {
        a->ev_resume = evtimer_new(a->base, admin_accept_on_timer, a);
        if (!a->ev_resume)
            abort();
    }
    struct evconnlistener **l = realloc(a->listeners, (a->n_listeners + 1) * sizeof(*l));
    if (!l)
        abort();
    a->listeners = l;
    a->listeners[a->n_listeners++] = lev;
    evconnlistener_set_error_cb(lev, admin_accept_error);
}

void admin_accept_free(struct admin *a)
{
    if (a->ev_resume)
        event_free(a->ev_resume);
    a->ev_resume = NULL;
    free(a->listeners);
    a->listeners = NULL;
    a->n_listeners = 0;
}

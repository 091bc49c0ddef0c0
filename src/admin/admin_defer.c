/*
 * admin_defer.c -- replies that wait for the state file.
 *
 * POST and DELETE /v1/overrides and /v1/drills are answered only once
 * the change is on disk. Instead of blocking the admin thread on the health thread's write
 * (one write and fsync per request, and every other request waiting behind
 * it), a handler makes its change, asks for a write without waiting
 * (health_service_save_async) and hands its reply here. The admin thread
 * goes on serving; the health thread's writes coalesce, so the changes
 * that arrived while one write ran share the next one. After each write
 * the health thread makes ev_saved active on the admin thread, which sends
 * (and audits) every reply whose change that write covered.
 *
 * Ownership: a deferred reply owns its reply and audit JSON and a
 * reference to the request body; the request itself stays evhttp's (a
 * reply on a request whose client went away frees it).
 */
#include <event2/event.h>
#include <stdlib.h>
#include <string.h>

#include "admin/admin_int.h"
#include "health/service.h"

struct admin_deferred {
    struct admin_deferred *next;
    struct admin_req r; /* a copy; r.body is our reference */
    uint64_t ticket;    /* the write that must finish first */
    int status;
    json_t *reply;
    json_t *audit; /* the audit line's result; NULL: none */
    void *conn;    /* admin_conn_hold handle */
};

/* Health thread, after each write: wake the admin thread. */
void admin_defer_saved_cb(void *arg)
{
    struct admin *a = arg;
    event_active(a->ev_saved, EV_TIMEOUT, 0);
}

static void admin_defer_send(struct admin_deferred *d, int rc)
{
    if (rc < 0)
        json_object_set_new(d->reply, "warning",
                            json_string("the state file could not be written (see state_file "
                                        "in /v1/status): the change is in force but would not "
                                        "survive a restart"));
    admin_audit(&d->r, d->status, d->audit);
    admin_reply_json(&d->r, d->status, d->reply);
    admin_conn_unhold(d->r.a, d->conn);
    json_decref(d->r.body);
    free(d);
}

void admin_defer_reply(struct admin_req *r, int status, json_t *reply, json_t *audit)
{
    struct admin *a = r->a;
    uint64_t ticket = a->env.health_service ? health_service_save_async(a->env.health_service) : 0;
    struct admin_deferred *d = calloc(1, sizeof(*d));
    if (!d)
        abort();
    d->r = *r;
    d->r.path = NULL; /* freed when the handler returns */
    TAILQ_INIT(&d->r.query);
    json_incref(d->r.body);
    d->status = status;
    d->reply = reply;
    d->audit = audit;
    if (ticket == 0) {
        /* No health service, or it has stopped: nothing more will be
         * written, so nothing to wait for. */
        admin_defer_send(d, a->env.health_service ? -1 : 1);
        return;
    }
    d->ticket = ticket;
    d->conn = admin_conn_hold(a, r->req);
    struct admin_deferred **pp = &a->deferred;
    while (*pp)
        pp = &(*pp)->next;
    *pp = d; /* in request order */
    a->n_deferred++;
}

void admin_defer_on_saved(evutil_socket_t fd, short what, void *arg)
{
    struct admin *a = arg;
    (void)fd;
    (void)what;
    int rc = 0;
    uint64_t done = health_service_saved(a->env.health_service, &rc);
    while (a->deferred && a->deferred->ticket <= done) {
        struct admin_deferred *d = a->deferred;
        a->deferred = d->next;
        a->n_deferred--;
        admin_defer_send(d, rc);
    }
    if (a->stopping && !a->deferred) {
        /* A moment to flush the last replies, then leave. */
        struct timeval tv = {0, 50000};
        event_base_loopexit(a->base, &tv);
    }
}

void admin_defer_free_all(struct admin *a)
{
    while (a->deferred) {
        struct admin_deferred *d = a->deferred;
        a->deferred = d->next;
        json_decref(d->reply);
        json_decref(d->audit);
        json_decref(d->r.body);
        free(d);
    }
    a->n_deferred = 0;
}

/*
 * admin_store.c -- shared-store calls (etcd, with a fleet) off the admin
 * thread.
 *
 * Why: a store call waits for etcd (the fleet thread's transaction, then
 * its watch), several seconds when etcd is slow or just lost. The admin
 * thread is single: while it waited, status and health went unanswered
 * and the connection sweep could close the client's connection under the
 * request. So a handler that needs the store decides what it can on the
 * admin thread, hands the call here (admin_store_submit) and returns; one
 * store thread makes the calls, in order, and hands each result back to
 * the admin thread (ev_store_done), where the call's done callback sends
 * the reply. The connection is held meanwhile (admin_conn_hold), so the
 * sweep leaves it alone.
 *
 * Ownership: a call owns its request copy's body reference, its record
 * and its ctx (done frees ctx); admin_store_call_free frees the rest after
 * done returns. Calls still queued at stop are freed unanswered.
 */
#include <errno.h>
#include <event2/event.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "admin/admin_int.h"
#include "common/deadline.h"

struct admin_store {
    pthread_t thread;
    pthread_mutex_t lock;
    pthread_cond_t cond;
    struct admin_store_call *todo, *done; /* (lock) in order */
    bool stop;                            /* (lock) */
    bool started;
    /* (lock) No call came since the last warm (admin_config_ops.warm):
     * one is due once the thread has been idle ADMIN_STORE_WARM_IDLE_MS. */
    bool warm_due;
    /* (lock) The last warm asked to be asked again (a fleet node): the
     * next is due after ADMIN_STORE_WARM_AGAIN_MS idle, not after a call. */
    bool warm_again;
    struct event *ev_done; /* on the admin base */
};

static void admin_store_append(struct admin_store_call **q, struct admin_store_call *c)
{
    c->next = NULL;
    while (*q)
        q = &(*q)->next;
    *q = c;
}

/* The call itself (store thread): blocks until the store answered. A
 * create that conflicts is tried again on the new view (up to attempts
 * times), after a pause that lets the watch deliver the other change. */
static void admin_store_run(const struct shared_store *s, struct admin_store_call *c)
{
    if (c->op == ADMIN_STORE_RUN) {
        c->run(c);
        return;
    }
    if (c->op == ADMIN_STORE_REMOVE) {
        c->st = s->ops->remove(s->arg, c->kind, c->id, c->deadline, c->err, sizeof(c->err));
        return;
    }
    int n = c->attempts > 0 ? c->attempts : 1;
    for (int i = 0; i < n; i++) {
        uint64_t view = i == 0 && c->view ? c->view : s->ops->view(s->arg, c->kind);
        c->st = s->ops->create(s->arg, c->kind, c->record, c->ttl_s, view, c->deadline, c->id,
                               c->err, sizeof(c->err));
        if (c->st != SHARED_CONFLICT || deadline_mono() >= c->deadline)
            return;
        usleep(20000 * (useconds_t)(c->backoff + i + 1));
    }
}

/* Waits for a call (lock held, and on return: a call queued, or
 * stopping). Once the thread has been idle ADMIN_STORE_WARM_IDLE_MS
 * after its start or after its last call, it makes ready what the next
 * change would make on its path (admin_config_ops.warm: at 1,000,000
 * records the copy of the document, 0.3-0.6 s), off the lock: a call that
 * comes meanwhile waits for the end of it, and costs no more than it would
 * have cost that call (issue #55: the first change after a start). */
static void admin_store_idle(struct admin *a, struct admin_store *st)
{
    const struct admin_config_ops *ops = a->env.config;
    while (!st->todo && !st->stop) {
        if (!st->warm_due || !ops || !ops->warm) {
            pthread_cond_wait(&st->cond, &st->lock);
            continue;
        }
        int idle_ms = st->warm_again ? ADMIN_STORE_WARM_AGAIN_MS : ADMIN_STORE_WARM_IDLE_MS;
        struct timespec until = deadline_after(idle_ms / 1e3);
        int rc = 0;
        while (!st->todo && !st->stop && rc != ETIMEDOUT)
            rc = pthread_cond_timedwait(&st->cond, &st->lock, &until);
        if (st->todo || st->stop)
            continue;
        pthread_mutex_unlock(&st->lock);
        bool again = ops->warm(ops->api);
        pthread_mutex_lock(&st->lock);
        /* A fleet node's versions come from other nodes, not through a
         * call here: asked again every ADMIN_STORE_WARM_AGAIN_MS while
         * idle (a look under the API's lock when nothing is wanted). */
        st->warm_due = st->warm_again = again;
    }
}

static void *admin_store_main(void *arg)
{
    struct admin *a = arg;
    struct admin_store *st = a->store_calls;
    struct admin_store_call **group = calloc(ADMIN_STORE_GROUP_MAX, sizeof(*group));
    if (!group)
        abort();
    pthread_mutex_lock(&st->lock);
    for (;;) {
        admin_store_idle(a, st);
        if (!st->todo)
            break; /* stopping, nothing left */
        struct admin_store_call *c = st->todo;
        size_t n = 1;
        group[0] = c;
        st->todo = c->next;
        while (c->run_group && st->todo && st->todo->run_group == c->run_group &&
               n < ADMIN_STORE_GROUP_MAX) {
            group[n++] = st->todo;
            st->todo = st->todo->next;
        }
        pthread_mutex_unlock(&st->lock);
        if (c->run_group)
            c->run_group(group, n);
        else
            admin_store_run(a->env.store, c);
        pthread_mutex_lock(&st->lock);
        st->warm_due = true;
        st->warm_again = false;
        admin_store_append(&st->done, group[0]);
        for (size_t i = 1; i < n; i++) /* in order, without walking the list each time */
            group[i - 1]->next = group[i];
        group[n - 1]->next = NULL;
        event_active(st->ev_done, EV_TIMEOUT, 0);
    }
    pthread_mutex_unlock(&st->lock);
    free(group);
    return NULL;
}

static void admin_store_call_free(struct admin_store_call *c)
{
    admin_conn_unhold(c->r.a, c->conn);
    json_decref(c->r.body);
    json_decref(c->record);
    free(c);
}

/* Admin thread: the store thread finished calls. */
static void admin_store_on_done(evutil_socket_t fd, short what, void *arg)
{
    struct admin *a = arg;
    struct admin_store *st = a->store_calls;
    (void)fd;
    (void)what;
    pthread_mutex_lock(&st->lock);
    struct admin_store_call *list = st->done;
    st->done = NULL;
    pthread_mutex_unlock(&st->lock);
    while (list) {
        struct admin_store_call *c = list;
        list = c->next;
        c->done(c);
        admin_store_call_free(c);
    }
}

struct admin_store_call *admin_store_call_new(struct admin_req *r, enum admin_store_op op,
                                              const char *kind,
                                              void (*done)(struct admin_store_call *))
{
    struct admin_store_call *c = calloc(1, sizeof(*c));
    if (!c)
        abort();
    c->r = *r;
    c->r.path = NULL; /* freed when the handler returns */
    TAILQ_INIT(&c->r.query);
    json_incref(c->r.body);
    c->op = op;
    c->deadline = deadline_mono() + ADMIN_STORE_DEADLINE_S;
    snprintf(c->kind, sizeof(c->kind), "%s", kind);
    c->done = done;
    return c;
}

/* Starts the store thread if it is not running (admin thread, or
 * admin_store_init's). */
static void admin_store_begin(struct admin *a, struct admin_store *st)
{
    if (st->started)
        return;
    if (pthread_create(&st->thread, NULL, admin_store_main, a) != 0)
        abort();
    pthread_setname_np(st->thread, "gtmd-store"); /* top -H, perf, gdb */
    st->started = true;
}

void admin_store_submit(struct admin *a, struct admin_store_call *c)
{
    struct admin_store *st = a->store_calls;
    c->conn = admin_conn_hold(a, c->r.req);
    admin_store_begin(a, st);
    pthread_mutex_lock(&st->lock);
    admin_store_append(&st->todo, c);
    pthread_cond_signal(&st->cond);
    pthread_mutex_unlock(&st->lock);
}

void admin_store_init(struct admin *a)
{
    struct admin_store *st = calloc(1, sizeof(*st));
    if (!st)
        abort();
    pthread_mutex_init(&st->lock, NULL);
    pthread_cond_init(&st->cond, NULL);
    st->ev_done = event_new(a->base, -1, 0, admin_store_on_done, a);
    if (!st->ev_done)
        abort();
    a->store_calls = st;
    /* With the configuration API, started now, not at the first call: once
     * idle it makes ready what the first change would make on its path
     * (admin_config_ops.warm), before that change comes (issue #55). */
    st->warm_due = true;
    if (a->env.config && a->env.config->warm)
        admin_store_begin(a, st);
}

void admin_store_stop(struct admin *a)
{
    struct admin_store *st = a->store_calls;
    if (!st)
        return;
    pthread_mutex_lock(&st->lock);
    st->stop = true;
    /* Calls not started yet are dropped; the one running ends within the
     * store's own bound. */
    struct admin_store_call *todo = st->todo;
    st->todo = NULL;
    pthread_cond_signal(&st->cond);
    pthread_mutex_unlock(&st->lock);
    if (st->started)
        pthread_join(st->thread, NULL);
    while (todo) {
        struct admin_store_call *c = todo;
        todo = c->next;
        if (c->ctx_free)
            c->ctx_free(c->ctx);
        admin_store_call_free(c);
    }
    while (st->done) {
        struct admin_store_call *c = st->done;
        st->done = c->next;
        if (c->ctx_free)
            c->ctx_free(c->ctx);
        admin_store_call_free(c);
    }
    event_free(st->ev_done);
    pthread_mutex_destroy(&st->lock);
    pthread_cond_destroy(&st->cond);
    free(st);
    a->store_calls = NULL;
}

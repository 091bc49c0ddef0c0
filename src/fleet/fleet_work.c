/*
 * fleet_work.c -- work too long for the fleet thread (fleet_int.h,
 * "fleet_work.c").
 *
 * The fleet thread keeps this node's etcd session: its lease's
 * keep-alives, the watch, and the quorum replies that stale_after counts.
 * A whole configuration version of 1,000,000 records is some 96 MB of
 * JSON: hashing and parsing it on that thread took it 14-33 s on a loaded
 * 2-core machine, past stale_after, so the node lost its session while it
 * read the fleet's configuration, read the version again after its fresh
 * sync, and lost the session again, round after round
 * (contrib/bench/README.md, "A fleet of 3 at 1,000,000 names"). Such work
 * runs here, on a thread of its own per job, and its result comes back to
 * the fleet thread (the job's done, run from an event on f->base), which
 * meanwhile goes on answering its timers and replies.
 *
 * A thread per job: jobs are rare (a whole version read or written: a
 * start, a node far behind, the bootstrap) and each is long, so a pool
 * would only add a queue.
 *
 * Threads: fleet_work_start and done run on the fleet thread; run on the
 * job's own thread, which touches nothing but its arg and the job's event.
 * f->work is the fleet thread's (fleet_work_free_all runs after that
 * thread has stopped). Ownership: each job is freed here once its done has
 * run; done owns arg from then on.
 */
#include <event2/event.h>
#include <stdlib.h>

#include "common/log.h"
#include "fleet/fleet_int.h"

struct fleet_work {
    struct fleet *f;
    pthread_t thread;
    struct event *ev; /* on f->base: made active once run returned */
    fleet_work_fn run;
    fleet_work_done_fn done;
    void *arg;
    struct fleet_work *next; /* f->work */
};

static void *fleet_work_main(void *arg)
{
    struct fleet_work *w = arg;
    w->run(w->arg);
    event_active(w->ev, EV_TIMEOUT, 0); /* f->base is made with threads on */
    return NULL;
}

/* Takes w off f->work, joins its thread and frees it. */
static void fleet_work_reap(struct fleet *f, struct fleet_work *w)
{
    struct fleet_work **pp = &f->work;
    while (*pp && *pp != w)
        pp = &(*pp)->next;
    if (*pp)
        *pp = w->next;
    pthread_join(w->thread, NULL);
    event_free(w->ev);
    free(w);
}

static void fleet_work_ended(evutil_socket_t fd, short what, void *arg)
{
    struct fleet_work *w = arg;
    (void)fd;
    (void)what;
    fleet_work_done_fn done = w->done;
    void *warg = w->arg;
    fleet_work_reap(w->f, w);
    done(warg, false);
}

void fleet_work_start(struct fleet *f, fleet_work_fn run, fleet_work_done_fn done, void *arg)
{
    struct fleet_work *w = calloc(1, sizeof(*w));
    if (!w)
        abort();
    *w = (struct fleet_work){.f = f, .run = run, .done = done, .arg = arg, .next = f->work};
    w->ev = event_new(f->base, -1, 0, fleet_work_ended, w);
    if (!w->ev)
        abort();
    if (pthread_create(&w->thread, NULL, fleet_work_main, w) != 0) {
        /* No thread to be had: the work is done here, late but done. */
        log_warn("event=fleet_work result=inline note=\"no thread could be started\"");
        event_free(w->ev);
        free(w);
        run(arg);
        done(arg, false);
        return;
    }
    pthread_setname_np(w->thread, "gtmd-fleet-work"); /* top -H, perf */
    f->work = w;
}

void fleet_work_free_all(struct fleet *f)
{
    while (f->work) {
        struct fleet_work *w = f->work;
        fleet_work_done_fn done = w->done;
        void *warg = w->arg;
        fleet_work_reap(f, w); /* waits for run to return */
        done(warg, true);
    }
}

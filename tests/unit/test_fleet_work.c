/*
 * Unit tests for fleet_work.c: work too long for the fleet thread runs on
 * a thread of its own while the fleet's event base goes on dispatching
 * (there, the session's keep-alives), its done runs on the base's thread,
 * and a job still running when the fleet is freed is waited for and told
 * so (cancelled), once.
 */
#include <event2/event.h>
#include <event2/thread.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/deadline.h"
#include "fleet/fleet_int.h"
#include "tap.h"

struct job {
    atomic_bool release;  /* set by the base's timer: run may return */
    atomic_bool released; /* run saw it */
    pthread_t ran_on;     /* the thread run ran on */
    pthread_t done_on;    /* the thread done ran on */
    int done_calls;
    bool cancelled;
};

/* Waits (bounded, 5 s) for the base's timer to release it: were it run on
 * the base's thread, the timer could never fire and this would time out. */
static void job_run(void *arg)
{
    struct job *j = arg;
    j->ran_on = pthread_self();
    double end = deadline_mono() + 5.0;
    while (!atomic_load(&j->release) && deadline_mono() < end) {
        struct timespec ts = {0, 1000000};
        nanosleep(&ts, NULL);
    }
    atomic_store(&j->released, atomic_load(&j->release));
}

static void job_done(void *arg, bool cancelled)
{
    struct job *j = arg;
    j->done_on = pthread_self();
    j->done_calls++;
    j->cancelled = cancelled;
}

static void on_timer(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    atomic_store(&((struct job *)arg)->release, true);
}

static void on_stop(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    event_base_loopbreak(arg);
}

/* The base dispatches a timer while the job runs; done comes back on it. */
static void test_runs_beside_the_base(struct tap *t)
{
    struct fleet *f = calloc(1, sizeof(*f));
    f->base = event_base_new();
    struct job j = {0};
    struct event *tm = evtimer_new(f->base, on_timer, &j);
    struct timeval tv = {0, 50000};
    evtimer_add(tm, &tv);
    /* The loop ends on a 10 s guard, or once done ran (checked below). */
    struct event *guard = evtimer_new(f->base, on_stop, f->base);
    struct timeval gv = {10, 0};
    evtimer_add(guard, &gv);
    fleet_work_start(f, job_run, job_done, &j);
    TAP_CHECK(t, f->work != NULL, "the job is listed while it runs");
    while (j.done_calls == 0 && event_base_got_break(f->base) == 0)
        event_base_loop(f->base, EVLOOP_ONCE);
    TAP_CHECK(t, atomic_load(&j.released), "the base's timer fired while the job ran");
    TAP_CHECK(t, !pthread_equal(j.ran_on, pthread_self()), "run ran on a thread of its own");
    TAP_CHECK(t, j.done_calls == 1 && !j.cancelled && pthread_equal(j.done_on, pthread_self()),
              "done ran once, on the base's thread, not cancelled (%d calls)", j.done_calls);
    TAP_CHECK(t, f->work == NULL, "the ended job is off the list");
    fleet_work_free_all(f);
    TAP_CHECK(t, j.done_calls == 1, "nothing left to free");
    event_free(tm);
    event_free(guard);
    event_base_free(f->base);
    free(f);
}

/* A job still running when the fleet goes: waited for, told cancelled. */
static void test_cancelled_at_free(struct tap *t)
{
    struct fleet *f = calloc(1, sizeof(*f));
    f->base = event_base_new();
    struct job j = {0};
    fleet_work_start(f, job_run, job_done, &j);
    atomic_store(&j.release, true); /* the base is not run: no done from it */
    fleet_work_free_all(f);
    TAP_CHECK(t, j.done_calls == 1 && j.cancelled, "done told cancelled once (%d calls)",
              j.done_calls);
    TAP_CHECK(t, atomic_load(&j.released), "run had returned before done");
    TAP_CHECK(t, f->work == NULL, "the list is empty");
    event_base_free(f->base);
    free(f);
}

int main(void)
{
    struct tap t = {0, 0};
    evthread_use_pthreads(); /* as fleet_new: the job's thread wakes the base */
    test_runs_beside_the_base(&t);
    test_cancelled_at_free(&t);
    return tap_done(&t);
}

/*
 * drill_service.c -- the drill thread: end times and abort_if.
 */
#include "drill/drill_service.h"

#include <event2/event.h>
#include <event2/thread.h>
#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "drill/drill_measure.h"
#include "drill/drill_outcome.h"
#include "drill/drill_practice_run.h"

#define DRILL_SERVICE_BATCH 16 /* drills aborted per pass (a pass repeats) */

struct drill_service {
    struct drill_service_env env;
    pthread_t thread;
    struct event_base *base;
    struct event *ev_wake;           /* made active from any thread: judge now */
    struct event *ev_end;            /* the next end time */
    struct event *ev_practice;       /* the next practice start, or a retry */
    struct event *ev_stop;           /* made active: leave the loop */
    struct drill_outcomes *outcomes; /* outcome checks of the active drills */
    struct drill_measure *measure;   /* the recovery timelines */
};

const struct gslb *drill_service_enter(const struct drill_service_env *env,
                                       const struct policy_geo **geo)
{
    const struct serve_set *set = serve_enter(env->reader);
    if (geo)
        *geo = set ? set->geo : NULL;
    return set ? set->gslb : NULL;
}

/* Aborts the drills whose abort_if is broken; returns how many. */
static size_t drill_service_abort_if(struct drill_service *s)
{
    char ids[DRILL_SERVICE_BATCH][32], why[DRILL_SERVICE_BATCH][256];
    size_t total = 0, n;
    do {
        const struct gslb *g = drill_service_enter(&s->env, NULL);
        n = drill_core_check_abort_if(s->env.drills, g, ids, why, DRILL_SERVICE_BATCH);
        /* Ending publishes a loss view and waits for the readers: leave
         * ours first. */
        serve_leave(s->env.reader);
        for (size_t i = 0; i < n; i++)
            total += drill_core_end(s->env.drills, ids[i], DRILL_ABORTED, why[i]);
    } while (n == DRILL_SERVICE_BATCH);
    return total;
}

/* Arms ev in 'in' seconds; off when in < 0. */
static void drill_service_timer(struct event *ev, double in)
{
    if (in < 0) {
        event_del(ev);
        return;
    }
    struct timeval tv = {(time_t)in, (suseconds_t)((in - floor(in)) * 1e6)};
    evtimer_add(ev, &tv);
}

/* One pass: end what is due, abort what broke, start the practice drills
 * that are due, save, re-arm. */
static void drill_service_run(evutil_socket_t fd, short what, void *arg)
{
    struct drill_service *s = arg;
    (void)fd;
    (void)what;
    bool started = false;
    size_t n = drill_core_expire(s->env.drills, health_now());
    n += drill_service_abort_if(s);
    double practice = drill_practice_run(&s->env, health_now(), &started);
    /* Outcome checks follow the drills that run now, and measurements the
     * transitions that began (both take what they need from the policy
     * set). */
    const struct gslb *g = drill_service_enter(&s->env, NULL);
    drill_outcomes_sync(s->outcomes, g);
    drill_measure_sync(s->measure, g);
    serve_leave(s->env.reader);
    if ((n > 0 || started) && s->env.health_service)
        health_service_save(s->env.health_service);
    drill_service_timer(s->ev_end, drill_core_next_end(s->env.drills, health_now()));
    /* At least a millisecond on, so a due practice held back does not
     * spin. */
    drill_service_timer(s->ev_practice, practice < 0 ? -1 : practice < 0.001 ? 0.001 : practice);
}

static void drill_service_wake(void *arg)
{
    struct drill_service *s = arg;
    event_active(s->ev_wake, EV_TIMEOUT, 0);
}

static void drill_service_on_stop(evutil_socket_t fd, short what, void *arg)
{
    struct drill_service *s = arg;
    (void)fd;
    (void)what;
    event_base_loopbreak(s->base);
}

static void *drill_service_main(void *arg)
{
    struct drill_service *s = arg;
    event_base_loop(s->base, EVLOOP_NO_EXIT_ON_EMPTY);
    return NULL;
}

struct drill_service *drill_service_start(const struct drill_service_env *env)
{
    struct drill_service *s = calloc(1, sizeof(*s));
    if (!s)
        abort();
    evthread_use_pthreads();
    s->env = *env;
    /* No cached time: the timer is armed right after work that may take a
     * while (a state-file write). */
    struct event_config *cfg = event_config_new();
    if (cfg) {
        event_config_set_flag(cfg, EVENT_BASE_FLAG_NO_CACHE_TIME);
        s->base = event_base_new_with_config(cfg);
        event_config_free(cfg);
    }
    if (!s->base) {
        log_error("event=drill_service_start result=failed");
        abort();
    }
    s->ev_wake = event_new(s->base, -1, 0, drill_service_run, s);
    s->ev_end = evtimer_new(s->base, drill_service_run, s);
    s->ev_practice = evtimer_new(s->base, drill_service_run, s);
    s->ev_stop = event_new(s->base, -1, 0, drill_service_on_stop, s);
    s->outcomes = drill_outcomes_new(s->base, &s->env);
    s->measure = drill_measure_new(s->base, &s->env);
    if (!s->ev_wake || !s->ev_end || !s->ev_practice || !s->ev_stop || !s->outcomes)
        abort();
    struct health_hooks hh = {
        .state_changed = drill_service_wake, .overrides_changed = drill_service_wake, .arg = s};
    struct drill_hooks dh = {.changed = drill_service_wake, .arg = s};
    if (health_core_add_hooks(env->health, &hh) != 0 ||
        drill_core_add_hooks(env->drills, &dh) != 0) {
        log_error("event=drill_service_start result=failed why=\"no listener slot\"");
        abort();
    }
    event_active(s->ev_wake, EV_TIMEOUT, 0);
    if (pthread_create(&s->thread, NULL, drill_service_main, s) != 0)
        abort();
    pthread_setname_np(s->thread, "gtmd-drill"); /* top -H, perf, gdb */
    return s;
}

void drill_service_poke(struct drill_service *s)
{
    if (s)
        drill_service_wake(s);
}

void drill_service_stop(struct drill_service *s)
{
    if (!s)
        return;
    drill_core_remove_hooks(s->env.drills, s);
    health_core_remove_hooks(s->env.health, s);
    /* An active event, not loopbreak: it is not lost if the loop has not
     * started yet. */
    event_active(s->ev_stop, EV_TIMEOUT, 0);
    pthread_join(s->thread, NULL);
    drill_outcomes_free(s->outcomes);
    drill_measure_free(s->measure);
    event_free(s->ev_wake);
    event_free(s->ev_end);
    event_free(s->ev_practice);
    event_free(s->ev_stop);
    event_base_free(s->base);
    free(s);
}

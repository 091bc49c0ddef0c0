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

#define DRILL_SERVICE_BATCH 16 /* drills aborted per pass (a pass repeats) */

struct drill_service {
    struct drill_service_env env;
    pthread_t thread;
    struct event_base *base;
    struct event *ev_wake; /* made active from any thread: judge now */
    struct event *ev_end;  /* the next end time */
    struct event *ev_stop; /* made active: leave the loop */
};

/* Aborts the drills whose abort_if is broken; returns how many. */
static size_t drill_service_abort_if(struct drill_service *s)
{
    char ids[DRILL_SERVICE_BATCH][32], why[DRILL_SERVICE_BATCH][256];
    size_t total = 0, n;
    do {
        const struct gslb *g = s->env.enter(s->env.arg);
        n = drill_core_check_abort_if(s->env.drills, g, ids, why, DRILL_SERVICE_BATCH);
        /* Ending publishes a loss view and waits for the readers: leave
         * ours first. */
        s->env.leave(s->env.arg);
        for (size_t i = 0; i < n; i++)
            total += drill_core_end(s->env.drills, ids[i], DRILL_ABORTED, why[i]);
    } while (n == DRILL_SERVICE_BATCH);
    return total;
}

static void drill_service_arm(struct drill_service *s)
{
    double next = drill_core_next_end(s->env.drills, health_now());
    if (next < 0) {
        event_del(s->ev_end);
        return;
    }
    struct timeval tv = {(time_t)next, (suseconds_t)((next - floor(next)) * 1e6)};
    evtimer_add(s->ev_end, &tv);
}

/* One pass: end what is due, abort what broke, save, re-arm. */
static void drill_service_run(evutil_socket_t fd, short what, void *arg)
{
    struct drill_service *s = arg;
    (void)fd;
    (void)what;
    size_t n = drill_core_expire(s->env.drills, health_now());
    n += drill_service_abort_if(s);
    if (n > 0 && s->env.health_service)
        health_service_save(s->env.health_service);
    drill_service_arm(s);
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
    s->ev_stop = event_new(s->base, -1, 0, drill_service_on_stop, s);
    if (!s->ev_wake || !s->ev_end || !s->ev_stop)
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
    event_free(s->ev_wake);
    event_free(s->ev_end);
    event_free(s->ev_stop);
    event_base_free(s->base);
    free(s);
}

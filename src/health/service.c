/*
 * service.c -- the health thread: override expiry and the state file.
 *
 * Saves are counted: a requester takes the next number (save_asked) and
 * waits until save_done reaches it. A write records the number asked so
 * far *before* it snapshots the core, so when save_done >= n, a write that
 * snapshotted after request n was made has finished.
 */
#include "health/service.h"

#include <event2/event.h>
#include <event2/thread.h>
#include <limits.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "health/verdict.h"
#include "health/override.h"
#include "health/verdict.h"
#include "health/persist.h"

struct health_service {
    struct health_core *core;
    pthread_t thread;
    struct event_base *base;
    /* Timer at the next override expiry; also made active (from any
     * thread) when the overrides change, to re-arm it. */
    struct event *ev_expire;
    struct event *ev_save;    /* made active: write the state file */
    struct event *ev_refresh; /* every HEALTH_SERVICE_REFRESH_S */
    struct event *ev_stop;    /* made active: last write, then leave the loop */
    struct event *ev_changed; /* made active: run the change listener */
    pthread_mutex_t lock;     /* guards the fields below */
    void (*listener)(void *); /* health_service_set_listener */
    void *listener_arg;
    pthread_cond_t saved; /* save_done moved, or stopped */
    char *state_file;     /* NULL: none */
    struct persist_section sections[HEALTH_SERVICE_MAX_SECTIONS];
    size_t n_sections;
    uint64_t save_asked;      /* numbers handed out by health_service_save */
    uint64_t save_done;       /* every request up to this one is written */
    int save_rc;              /* result of the last write */
    bool stopped;             /* the last write is done; no more */
    double save_time;         /* when the last write ended; 0: none yet */
    uint64_t writes;          /* state-file writes done (ok or failed) */
    char save_err[256];       /* why the last write failed */
    void (*saved_cb)(void *); /* after each write (health_service_set_saved_cb) */
    void *saved_arg;
    struct persist_result load; /* the start-up restore */
    bool load_set;
};

/* Writes the state file (health thread). Returns persist_save's result,
 * or 1 when there is no state file. */
static int health_service_write(struct health_service *svc, bool last)
{
    pthread_mutex_lock(&svc->lock);
    uint64_t asked = svc->save_asked;
    char *path = svc->state_file ? strdup(svc->state_file) : NULL;
    struct persist_section secs[HEALTH_SERVICE_MAX_SECTIONS];
    size_t n_secs = svc->n_sections;
    memcpy(secs, svc->sections, sizeof(secs));
    pthread_mutex_unlock(&svc->lock);
    char err[256] = "";
    int rc = path ? persist_save_sections(svc->core, path, secs, n_secs, err, sizeof(err)) : 1;
    free(path);
    pthread_mutex_lock(&svc->lock);
    if (asked > svc->save_done)
        svc->save_done = asked;
    svc->save_rc = rc;
    if (rc != 1) {
        svc->writes++;
        svc->save_time = health_now();
        snprintf(svc->save_err, sizeof(svc->save_err), "%s", rc == 0 ? "" : err);
    }
    svc->stopped |= last;
    pthread_cond_broadcast(&svc->saved);
    /* Called under the lock, so that set_saved_cb(NULL) can promise that
     * the old callback has returned; it only makes an event active. */
    if (svc->saved_cb)
        svc->saved_cb(svc->saved_arg);
    pthread_mutex_unlock(&svc->lock);
    return rc;
}

/* Removes the overrides and external verdicts that are due and arms the timer at the next
 * expiry (none: the timer stays off). Returns how many were removed. */
static size_t health_service_expire(struct health_service *svc)
{
    size_t n = override_expire(svc->core, health_now());
    n += verdict_expire(svc->core, health_now());
    double next = override_next_expiry(svc->core, health_now());
    /* External verdicts (verdict.h) expire on the same timer. */
    double vnext = verdict_next_expiry(svc->core, health_now());
    if (vnext >= 0 && (next < 0 || vnext < next))
        next = vnext;
    /* None due: the timer is left as it is, not deleted. An override added
     * on another thread after next was computed has activated ev_expire
     * (health_service_overrides_changed), and event_del would drop that
     * activation: the override would wait for the refresh, seconds later
     * (test_health_service's expiry under ThreadSanitizer, CI). A timer
     * left armed fires, finds nothing and stops. */
    if (next < 0)
        return n;
    struct timeval tv = {(time_t)next, (suseconds_t)((next - floor(next)) * 1e6)};
    evtimer_add(svc->ev_expire, &tv);
    return n;
}

static void health_service_on_expire(evutil_socket_t fd, short what, void *arg)
{
    struct health_service *svc = arg;
    (void)fd;
    (void)what;
    if (health_service_expire(svc) > 0)
        health_service_write(svc, false);
}

static void health_service_on_save(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    health_service_write(arg, false);
}

/* The periodic write. It checks expiry too, so that a wall clock that
 * jumped ahead of the monotonic timer delays an expiry by one period at
 * most. */
static void health_service_on_refresh(evutil_socket_t fd, short what, void *arg)
{
    struct health_service *svc = arg;
    (void)fd;
    (void)what;
    health_service_expire(svc);
    health_service_write(svc, false);
}

static void health_service_on_stop(evutil_socket_t fd, short what, void *arg)
{
    struct health_service *svc = arg;
    (void)fd;
    (void)what;
    health_service_write(svc, true);
    event_base_loopbreak(svc->base);
}

static void health_service_on_changed(evutil_socket_t fd, short what, void *arg)
{
    struct health_service *svc = arg;
    (void)fd;
    (void)what;
    pthread_mutex_lock(&svc->lock);
    void (*fn)(void *) = svc->listener;
    void *fn_arg = svc->listener_arg;
    pthread_mutex_unlock(&svc->lock);
    if (fn)
        fn(fn_arg);
}

/* Core hooks: run on the thread that made the change. The listener's
 * event goes first, so it does not wait for the state file's fsync. */
static void health_service_state_changed(void *arg)
{
    struct health_service *svc = arg;
    event_active(svc->ev_changed, EV_TIMEOUT, 0);
    event_active(svc->ev_save, EV_TIMEOUT, 0);
}

static void health_service_overrides_changed(void *arg)
{
    struct health_service *svc = arg;
    event_active(svc->ev_changed, EV_TIMEOUT, 0);
    event_active(svc->ev_expire, EV_TIMEOUT, 0);
}

/* A drill byte changed: only the listener cares (drills persist through
 * their own section of the state file). */
static void health_service_layers_changed(void *arg)
{
    struct health_service *svc = arg;
    event_active(svc->ev_changed, EV_TIMEOUT, 0);
}

static void *health_service_main(void *arg)
{
    struct health_service *svc = arg;
    event_base_loop(svc->base, EVLOOP_NO_EXIT_ON_EMPTY);
    return NULL;
}

struct health_service *health_service_start(struct health_core *core)
{
    return health_service_start_sections(core, NULL, 0);
}

struct health_service *health_service_start_sections(struct health_core *core,
                                                     const struct persist_section *secs, size_t n)
{
    struct health_service *svc = calloc(1, sizeof(*svc));
    if (!svc)
        abort();
    evthread_use_pthreads();
    svc->core = core;
    for (size_t i = 0; i < n && i < HEALTH_SERVICE_MAX_SECTIONS; i++)
        svc->sections[svc->n_sections++] = secs[i];
    pthread_mutex_init(&svc->lock, NULL);
    pthread_cond_init(&svc->saved, NULL);
    /* No cached time: the expiry timer is armed right after a write that
     * may have taken a while (fsync). */
    struct event_config *cfg = event_config_new();
    if (cfg) {
        event_config_set_flag(cfg, EVENT_BASE_FLAG_NO_CACHE_TIME);
        svc->base = event_base_new_with_config(cfg);
        event_config_free(cfg);
    }
    if (!svc->base) {
        log_error("event=health_service_start result=failed");
        abort();
    }
    svc->ev_expire = evtimer_new(svc->base, health_service_on_expire, svc);
    svc->ev_save = event_new(svc->base, -1, 0, health_service_on_save, svc);
    svc->ev_refresh = event_new(svc->base, -1, EV_PERSIST, health_service_on_refresh, svc);
    svc->ev_stop = event_new(svc->base, -1, 0, health_service_on_stop, svc);
    svc->ev_changed = event_new(svc->base, -1, 0, health_service_on_changed, svc);
    if (!svc->ev_expire || !svc->ev_save || !svc->ev_refresh || !svc->ev_stop || !svc->ev_changed)
        abort();
    struct timeval every = {HEALTH_SERVICE_REFRESH_S, 0};
    event_add(svc->ev_refresh, &every);
    struct health_hooks hooks = {.state_changed = health_service_state_changed,
                                 .overrides_changed = health_service_overrides_changed,
                                 .layers_changed = health_service_layers_changed,
                                 .arg = svc};
    health_core_set_hooks(core, &hooks);
    /* Overrides restored before the start need their timer. */
    event_active(svc->ev_expire, EV_TIMEOUT, 0);
    if (pthread_create(&svc->thread, NULL, health_service_main, svc) != 0)
        abort();
    pthread_setname_np(svc->thread, "gtmd-health"); /* top -H, perf, gdb */
    return svc;
}

void health_service_set_state_file(struct health_service *svc, const char *path)
{
    char *copy = path && path[0] ? strdup(path) : NULL;
    if (path && path[0] && !copy)
        abort();
    pthread_mutex_lock(&svc->lock);
    free(svc->state_file);
    svc->state_file = copy;
    pthread_mutex_unlock(&svc->lock);
}

void health_service_set_listener(struct health_service *svc, void (*fn)(void *), void *arg)
{
    pthread_mutex_lock(&svc->lock);
    svc->listener = fn;
    svc->listener_arg = arg;
    pthread_mutex_unlock(&svc->lock);
}

void health_service_kick(struct health_service *svc)
{
    if (svc)
        event_active(svc->ev_changed, EV_TIMEOUT, 0);
}

int health_service_save(struct health_service *svc)
{
    pthread_mutex_lock(&svc->lock);
    if (svc->stopped) {
        pthread_mutex_unlock(&svc->lock);
        return -1;
    }
    uint64_t mine = ++svc->save_asked;
    pthread_mutex_unlock(&svc->lock);
    event_active(svc->ev_save, EV_TIMEOUT, 0);
    pthread_mutex_lock(&svc->lock);
    /* The last write (stop) also covers requests made before it began;
     * one made after finds 'stopped' and gets -1. */
    while (svc->save_done < mine && !svc->stopped)
        pthread_cond_wait(&svc->saved, &svc->lock);
    int rc = svc->save_done >= mine ? svc->save_rc : -1;
    pthread_mutex_unlock(&svc->lock);
    return rc;
}

uint64_t health_service_save_async(struct health_service *svc)
{
    pthread_mutex_lock(&svc->lock);
    uint64_t mine = svc->stopped ? 0 : ++svc->save_asked;
    pthread_mutex_unlock(&svc->lock);
    if (mine)
        event_active(svc->ev_save, EV_TIMEOUT, 0);
    return mine;
}

uint64_t health_service_saved(struct health_service *svc, int *rc)
{
    pthread_mutex_lock(&svc->lock);
    uint64_t done = svc->save_done;
    if (rc)
        *rc = svc->save_rc;
    pthread_mutex_unlock(&svc->lock);
    return done;
}

void health_service_set_saved_cb(struct health_service *svc, void (*cb)(void *), void *arg)
{
    pthread_mutex_lock(&svc->lock);
    svc->saved_cb = cb;
    svc->saved_arg = arg;
    pthread_mutex_unlock(&svc->lock);
}

void health_service_set_load_result(struct health_service *svc, const struct persist_result *r)
{
    pthread_mutex_lock(&svc->lock);
    svc->load = *r;
    svc->load_set = true;
    pthread_mutex_unlock(&svc->lock);
}

/* A JSON string of s; bytes that are not valid UTF-8 (a path, a parser's
 * message quoting the bad file) become '?'. */
static json_t *health_service_jstr(const char *s)
{
    json_t *j = json_string(s);
    if (j)
        return j;
    char buf[PATH_MAX + 256];
    size_t i = 0;
    for (; s[i] && i + 1 < sizeof(buf); i++)
        buf[i] = (unsigned char)s[i] < 0x80 ? s[i] : '?';
    buf[i] = '\0';
    return json_string(buf);
}

static json_t *health_service_load_json(const struct persist_result *r)
{
    json_t *j = json_pack("{s:s, s:I, s:I, s:I}", "result", persist_status_name(r->status),
                          "endpoints_restored", (json_int_t)r->endpoints, "overrides_restored",
                          (json_int_t)r->overrides, "rejected", (json_int_t)r->rejected);
    json_object_set_new(j, "kept_as",
                        r->kept_as[0] ? health_service_jstr(r->kept_as) : json_null());
    json_object_set_new(j, "error", r->error[0] ? health_service_jstr(r->error) : json_null());
    return j;
}

json_t *health_service_status_json(struct health_service *svc)
{
    pthread_mutex_lock(&svc->lock);
    json_t *j = NULL;
    if (svc->state_file) {
        j = json_pack("{s:o, s:I}", "path", health_service_jstr(svc->state_file), "writes",
                      (json_int_t)svc->writes);
        json_object_set_new(j, "load",
                            svc->load_set ? health_service_load_json(&svc->load) : json_null());
        json_t *last = json_null();
        if (svc->save_time > 0) {
            last = json_pack("{s:f, s:s}", "time", svc->save_time, "result",
                             svc->save_rc == 0 ? "ok" : "failed");
            json_object_set_new(last, "error",
                                svc->save_rc == 0 ? json_null()
                                                  : health_service_jstr(svc->save_err));
        }
        json_object_set_new(j, "last_save", last);
    }
    pthread_mutex_unlock(&svc->lock);
    return j ? j : json_null();
}

void health_service_stop(struct health_service *svc)
{
    if (!svc)
        return;
    health_core_set_hooks(svc->core, NULL);
    /* An active event, not loopbreak: it is not lost if the loop has not
     * started yet, and the last write runs on the health thread. */
    event_active(svc->ev_stop, EV_TIMEOUT, 0);
    pthread_join(svc->thread, NULL);
    event_free(svc->ev_expire);
    event_free(svc->ev_save);
    event_free(svc->ev_refresh);
    event_free(svc->ev_stop);
    event_free(svc->ev_changed);
    event_base_free(svc->base);
    free(svc->state_file);
    pthread_cond_destroy(&svc->saved);
    pthread_mutex_destroy(&svc->lock);
    free(svc);
}

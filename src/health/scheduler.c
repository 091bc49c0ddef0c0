/*
 * scheduler.c -- the prober thread.
 */
#include "health/scheduler.h"
#include "common/deadline.h"

#include <errno.h>
#include <event2/event.h>
#include <event2/thread.h>
#include <math.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/log.h"
#include "health/cert.h"

#define SCHED_RESOLVE_EVERY 30.0 /* seconds between re-resolutions of names */
#define SCHED_STATS_EVERY 10     /* seconds between prober_stats lines */

struct sched_plan;

struct sched_job {
    struct sched_plan *plan;
    /* Its target in plan->targets, which the plan owns: the prober thread
     * writes a resolved host's address there (one job per target). A copy
     * per job doubled the targets' memory (issue #38). */
    struct sched_target *t;
    struct event *timer;
    double next_at;     /* monotonic seconds of the next scheduled start */
    double phase;       /* steady-state offset from plan->t0 (seconds) */
    double resolved_at; /* 0 = never */
    double started_at;
    double spread; /* scheduler_spread of its place in the plan */
    bool in_flight;
    bool initial; /* counts toward the first round */
};

struct sched_plan {
    struct scheduler *sch;
    struct sched_job *jobs;
    size_t n;
    double t0; /* monotonic seconds when adopted */
    int refs;  /* 1 while current, +1 per probe in flight */
    void *owner;
    void (*release)(void *owner);
    struct sched_target *targets;
    struct sched_plan *prev, *next; /* every live plan, for shutdown */
};

struct scheduler {
    struct health_core *core;
    pthread_t thread;
    struct event_base *base;
    struct prober *prober;
    pthread_mutex_t lock; /* guards pending and the initial count */
    pthread_cond_t cond;
    struct sched_plan *pending;
    struct event *ev_adopt;
    struct event *ev_stats;
    struct sched_plan *current;
    struct sched_plan *plans; /* all live plans (prober thread) */
    size_t initial_left;
    uint64_t probes, late_count;
    double late_sum, late_max;
    uint64_t local_failures, local_logged; /* probes we could not run */
    double local_logged_at;
};

static double sched_mono(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Frees a plan that is in no list: one never adopted (the pending one,
 * any thread: it has no timer nor probe), or one just unlinked. */
static void sched_plan_free(struct sched_plan *p)
{
    for (size_t i = 0; i < p->n; i++)
        if (p->jobs[i].timer)
            event_free(p->jobs[i].timer);
    free(p->jobs);
    free(p->targets);
    if (p->release)
        p->release(p->owner);
    free(p);
}

/* Drops a reference to an adopted plan (prober thread, or the stopping
 * thread once the prober's has ended: the list of plans is theirs). */
static void sched_plan_unref(struct sched_plan *p)
{
    if (--p->refs > 0)
        return;
    if (p->prev)
        p->prev->next = p->next;
    else if (p->sch->plans == p)
        p->sch->plans = p->next;
    if (p->next)
        p->next->prev = p->prev;
    sched_plan_free(p);
}

static void sched_initial_done(struct scheduler *s, struct sched_job *j)
{
    if (!j->initial)
        return;
    j->initial = false;
    pthread_mutex_lock(&s->lock);
    if (s->initial_left > 0 && --s->initial_left == 0)
        pthread_cond_broadcast(&s->cond);
    pthread_mutex_unlock(&s->lock);
}

static void sched_timer_at(struct sched_job *j, double now)
{
    double d = j->next_at - now;
    if (d < 0)
        d = 0;
    struct timeval tv = {(time_t)d, (suseconds_t)((d - floor(d)) * 1e6)};
    evtimer_add(j->timer, &tv);
}

struct sched_place scheduler_place(size_t i, size_t n, double interval, bool initial)
{
    struct sched_place p;
    /* Spread the jobs over the interval; undecided endpoints go first,
     * within the first tenth of it, so start-up is quick, and move to
     * their steady phase after that first probe (scheduler_next_start). */
    p.phase = interval * ((double)i + 0.5) / (double)n;
    /* First round: a tenth of the interval, but no faster than
     * SCHEDULER_START_RATE probes a second. */
    double first = interval / 10.0, need = (double)n / SCHEDULER_START_RATE;
    if (first < need)
        first = need < interval ? need : interval;
    p.first = initial ? p.phase * first / interval : p.phase;
    return p;
}

double scheduler_next_start(double grid, double interval, double last, double now)
{
    double k = floor((last - grid) / interval + 1e-6) + 1;
    double next = grid + k * interval;
    if (next < now) /* fell behind: skip missed rounds, keep the phase */
        next += ceil((now - next) / interval) * interval;
    return next;
}

double scheduler_fast_start(double planned, double result_at, double fast, double spread)
{
    double next = result_at + fast * (1.0 - SCHEDULER_FAST_SPREAD * spread);
    return next < planned ? next : planned;
}

double scheduler_spread(size_t i)
{
    double x = (double)(i + 1) * 0.6180339887498949;
    return x - floor(x);
}

/* Next start: the first point of the job's own grid (plan->t0 + phase +
 * k * interval) after the start that just fired. Initial probes fire early
 * (bunched in the first tenth of the interval); this moves each job onto
 * its evenly spread steady phase afterwards. */
static void sched_arm(struct sched_job *j)
{
    double now = sched_mono(), interval = j->t->spec->interval_ms / 1000.0;
    j->next_at = scheduler_next_start(j->plan->t0 + j->phase, interval, j->next_at, now);
    sched_timer_at(j, now);
}

/* A probe that could not be run here (out of descriptors, ...) says nothing
 * about its endpoint: it is not counted, the endpoint keeps its state (an
 * unknown one stays unknown), and a line is logged at most every
 * SCHED_STATS_EVERY seconds with the number of such probes since. */
static void sched_local_failure(struct scheduler *s, struct sched_job *j,
                                const struct probe_result *r)
{
    double now = sched_mono();
    s->local_failures++;
    if (s->local_logged_at > 0 && now - s->local_logged_at < SCHED_STATS_EVERY)
        return;
    char key[160], why[160];
    log_warn("event=probe_not_run target=\"%s\" why=\"%s\" count=%llu "
             "note=\"a local failure, not a verdict: the endpoint keeps its state\"",
             log_quote(j->t->slot->key, key, sizeof(key)), log_quote(r->reason, why, sizeof(why)),
             (unsigned long long)(s->local_failures - s->local_logged));
    s->local_logged = s->local_failures;
    s->local_logged_at = now;
}

/* A fall or a rise is in progress on j's endpoint: its next probe moves
 * up to fast_interval after this result (scheduler_fast_start). Only a
 * job of the current plan has a timer that will run; it is pending (armed
 * for the job's next grid point when this probe started), and
 * re-adding it moves it. Back on its grid after that start (sched_arm). */
static void sched_hurry(struct sched_job *j)
{
    const struct probe_spec *spec = j->t->spec;
    if (j->plan != j->plan->sch->current || spec->fast_interval_ms >= spec->interval_ms)
        return;
    double now = sched_mono();
    j->next_at = scheduler_fast_start(j->next_at, now, spec->fast_interval_ms / 1000.0, j->spread);
    sched_timer_at(j, now);
}

/* The earliest spacing of results while a fall or rise is in progress,
 * for the core's estimate of the next change (health_result); 0: the
 * interval's. */
static uint32_t sched_fast_ms(const struct probe_spec *spec)
{
    if (spec->fast_interval_ms >= spec->interval_ms)
        return 0;
    return (uint32_t)(spec->fast_interval_ms * (1.0 - SCHEDULER_FAST_SPREAD));
}

static void sched_on_result(void *arg, const struct probe_result *r)
{
    struct sched_job *j = arg;
    struct scheduler *s = j->plan->sch;
    j->in_flight = false;
    struct health_result hr = {.ok = r->ok,
                               .kind = r->kind,
                               .latency_us = r->latency_us,
                               .rtt_us = r->rtt_us,
                               .rtt_half_life_ms = j->t->spec->rtt_half_life_ms,
                               .reason = r->reason,
                               .interval_ms = j->t->spec->interval_ms,
                               .fast_interval_ms = sched_fast_ms(j->t->spec),
                               .load = r->load};
    if (r->cert_not_after)
        health_cert_note(s->core, j->t->slot, r->cert_not_after,
                         j->t->spec->cert_warn_set ? j->t->spec->cert_warn_days : -1);
    if (r->local)
        sched_local_failure(s, j, r);
    else {
        if (health_report(s->core, j->t->slot, &hr, j->t->spec->rise, j->t->spec->fall))
            sched_hurry(j);
        if (j->t->parent)
            health_composite_update(s->core, j->t->parent, j->t->comp, j->t->kids);
    }
    sched_initial_done(s, j);
    sched_plan_unref(j->plan);
}

static void sched_probe(struct sched_job *j)
{
    j->in_flight = true;
    j->plan->refs++;
    const char *host = j->t->host;
    probe_run(j->plan->sch->prober, j->t->spec, &j->t->addr, j->t->addr_len, host, sched_on_result,
              j);
}

static void sched_on_resolved(void *arg, bool ok, const struct sockaddr_storage *addr,
                              socklen_t len)
{
    struct sched_job *j = arg;
    if (ok) {
        j->t->addr = *addr;
        j->t->addr_len = len;
        if (addr->ss_family == AF_INET)
            ((struct sockaddr_in *)&j->t->addr)->sin_port = htons(j->t->port);
        else
            ((struct sockaddr_in6 *)&j->t->addr)->sin6_port = htons(j->t->port);
        j->resolved_at = sched_mono();
        j->plan->refs--; /* the resolution's reference becomes the probe's */
        sched_probe(j);
        return;
    }
    struct probe_result r = {.ok = false, .kind = HEALTH_FAIL_DNS, .latency_us = 0};
    r.local = probe_out_of_sockets();
    snprintf(r.reason, sizeof(r.reason), "cannot resolve %.100s", j->t->host);
    sched_on_result(j, &r);
}

static void sched_on_timer(evutil_socket_t fd, short what, void *arg)
{
    struct sched_job *j = arg;
    struct scheduler *s = j->plan->sch;
    double now = sched_mono(), late = now - j->next_at;
    (void)fd;
    (void)what;
    s->probes++;
    if (late > 0) {
        s->late_sum += late;
        s->late_count++;
        if (late > s->late_max)
            s->late_max = late;
    }
    if (j->plan != s->current)
        return;
    sched_arm(j);
    if (j->in_flight)
        return; /* cannot happen with timeout < interval; never stack probes */
    if (j->t->host && (j->resolved_at == 0 || now - j->resolved_at > SCHED_RESOLVE_EVERY)) {
        j->in_flight = true;
        j->plan->refs++;
        probe_resolve(s->prober, j->t->host, sched_on_resolved, j);
        return;
    }
    sched_probe(j);
}

/* Whether new job j probes what old job o probed, at the same interval:
 * the same slot (slots are kept across reloads by key), target and spec
 * timing. */
static bool sched_same_target(const struct sched_job *o, const struct sched_job *j)
{
    const struct sched_target *a = o->t, *b = j->t;
    return a->slot == b->slot && a->spec->interval_ms == b->spec->interval_ms &&
           a->addr_len == b->addr_len && a->port == b->port && !a->host == !b->host &&
           (a->host ? strcmp(a->host, b->host) == 0 : memcmp(&a->addr, &b->addr, a->addr_len) == 0);
}

/* Carries every unchanged target's place over from the current plan old
 * to p (adopted at now): its next start, its phase on its grid, its
 * resolved address; so a new plan (a configuration change, a reload)
 * neither probes an untouched endpoint early nor late, and an endpoint
 * that is decided does not count toward a first round again. Returns how
 * many were carried. */
static size_t sched_carry(const struct sched_plan *old, struct sched_plan *p, double now)
{
    size_t size = 16, kept = 0;
    while (size < 2 * old->n + 1)
        size *= 2;
    const struct sched_job **t = calloc(size, sizeof(*t));
    if (!t)
        abort();
    for (size_t i = 0; i < old->n; i++) {
        size_t k = (size_t)((uintptr_t)old->jobs[i].t->slot >> 4) * 0x9E3779B1u & (size - 1);
        while (t[k])
            k = (k + 1) & (size - 1);
        t[k] = &old->jobs[i];
    }
    for (size_t i = 0; i < p->n; i++) {
        struct sched_job *j = &p->jobs[i];
        size_t k = (size_t)((uintptr_t)j->t->slot >> 4) * 0x9E3779B1u & (size - 1);
        for (; t[k]; k = (k + 1) & (size - 1)) {
            const struct sched_job *o = t[k];
            if (!sched_same_target(o, j) || o->initial)
                continue;
            double interval = j->t->spec->interval_ms / 1000.0;
            double phase = fmod(old->t0 + o->phase - now, interval);
            j->phase = phase < 0 ? phase + interval : phase;
            j->next_at = o->next_at;
            j->resolved_at = o->resolved_at;
            if (o->t->host && o->resolved_at > 0) {
                j->t->addr = o->t->addr;
                j->t->addr_len = o->t->addr_len;
            }
            kept++;
            break;
        }
    }
    free(t);
    return kept;
}

/* Installs the pending plan (prober thread). */
static void sched_on_adopt(evutil_socket_t fd, short what, void *arg)
{
    struct scheduler *s = arg;
    (void)fd;
    (void)what;
    pthread_mutex_lock(&s->lock);
    struct sched_plan *p = s->pending;
    s->pending = NULL;
    pthread_mutex_unlock(&s->lock);
    if (!p)
        return;
    double now = sched_mono();
    p->t0 = now;
    for (size_t i = 0; i < p->n; i++) {
        struct sched_job *j = &p->jobs[i];
        struct sched_place pl =
            scheduler_place(i, p->n, j->t->spec->interval_ms / 1000.0, j->initial);
        j->phase = pl.phase;
        j->spread = scheduler_spread(i);
        j->next_at = now + pl.first;
        j->timer = evtimer_new(s->base, sched_on_timer, j);
    }
    size_t kept = s->current ? sched_carry(s->current, p, now) : 0;
    for (size_t i = 0; i < p->n; i++)
        sched_timer_at(&p->jobs[i], sched_mono());
    if (s->current)
        sched_plan_unref(s->current);
    s->current = p;
    p->next = s->plans;
    if (s->plans)
        s->plans->prev = p;
    s->plans = p;
    log_info("event=prober_plan targets=%zu kept=%zu", p->n, kept);
}

static void sched_on_stats(evutil_socket_t fd, short what, void *arg)
{
    struct scheduler *s = arg;
    (void)fd;
    (void)what;
    if (s->probes == 0)
        return;
    log_info("event=prober_stats probes=%llu rate_per_s=%.1f late_avg_ms=%.2f late_max_ms=%.2f",
             (unsigned long long)s->probes, (double)s->probes / SCHED_STATS_EVERY,
             s->late_count ? s->late_sum * 1e3 / (double)s->late_count : 0.0, s->late_max * 1e3);
    s->probes = s->late_count = 0;
    s->late_sum = s->late_max = 0;
}

static void *sched_main(void *arg)
{
    struct scheduler *s = arg;
    event_base_loop(s->base, EVLOOP_NO_EXIT_ON_EMPTY);
    return NULL;
}

struct scheduler *scheduler_start(struct health_core *core, const struct probe_source *src,
                                  unsigned exec_max)
{
    struct scheduler *s = calloc(1, sizeof(*s));
    if (!s)
        abort();
    evthread_use_pthreads();
    s->core = core;
    pthread_mutex_init(&s->lock, NULL);
    pthread_cond_init(&s->cond, NULL);
    /* No cached time: libevent otherwise arms a timer relative to the time
     * the current batch of callbacks began, so a probe started late in a
     * long batch gets a deadline shorter than its timeout (or already past). */
    struct event_config *cfg = event_config_new();
    if (cfg) {
        event_config_set_flag(cfg, EVENT_BASE_FLAG_NO_CACHE_TIME);
        s->base = event_base_new_with_config(cfg);
        event_config_free(cfg);
    }
    s->prober = s->base ? prober_new(s->base) : NULL;
    if (!s->prober) {
        log_error("event=prober_start result=failed");
        abort();
    }
    prober_set_source(s->prober, src); /* before the thread exists */
    prober_set_exec_max(s->prober, exec_max);
    s->ev_adopt = event_new(s->base, -1, 0, sched_on_adopt, s);
    s->ev_stats = event_new(s->base, -1, EV_PERSIST, sched_on_stats, s);
    struct timeval tv = {SCHED_STATS_EVERY, 0};
    event_add(s->ev_stats, &tv);
    if (pthread_create(&s->thread, NULL, sched_main, s) != 0)
        abort();
    pthread_setname_np(s->thread, "gtmd-prober"); /* top -H, perf, gdb */
    return s;
}

void scheduler_set_plan(struct scheduler *s, struct sched_target *targets, size_t n, void *owner,
                        void (*release)(void *owner))
{
    struct sched_plan *p = calloc(1, sizeof(*p));
    if (!p)
        abort();
    p->sch = s;
    p->targets = targets;
    p->n = n;
    p->refs = 1;
    p->owner = owner;
    p->release = release;
    p->jobs = calloc(n ? n : 1, sizeof(*p->jobs));
    if (!p->jobs)
        abort();
    size_t initial = 0;
    for (size_t i = 0; i < n; i++) {
        p->jobs[i].plan = p;
        p->jobs[i].t = &targets[i];
        p->jobs[i].initial = health_slot_state(targets[i].slot) == HEALTH_UNKNOWN;
        initial += p->jobs[i].initial;
    }
    pthread_mutex_lock(&s->lock);
    /* Never adopted: nothing in flight, and in no list (reading the list
     * here raced with the prober thread adopting another plan). */
    if (s->pending)
        sched_plan_free(s->pending);
    s->pending = p;
    s->initial_left = initial;
    pthread_mutex_unlock(&s->lock);
    event_active(s->ev_adopt, EV_TIMEOUT, 0);
}

bool scheduler_wait_initial(struct scheduler *s, double timeout_s)
{
    struct timespec until = deadline_after(timeout_s);
    pthread_mutex_lock(&s->lock);
    while (s->initial_left > 0)
        if (pthread_cond_timedwait(&s->cond, &s->lock, &until) == ETIMEDOUT)
            break;
    bool done = s->initial_left == 0;
    pthread_mutex_unlock(&s->lock);
    return done;
}

void scheduler_stop(struct scheduler *s)
{
    if (!s)
        return;
    /* loopexit, not loopbreak: a break sent before the loop starts is lost. */
    event_base_loopexit(s->base, NULL);
    pthread_join(s->thread, NULL);
    if (s->pending)
        sched_plan_free(s->pending);
    /* Cancel probes in flight first, then drop every plan outright. */
    prober_free(s->prober);
    while (s->plans) {
        s->plans->refs = 1;
        sched_plan_unref(s->plans);
    }
    event_free(s->ev_adopt);
    event_free(s->ev_stats);
    event_base_free(s->base);
    pthread_cond_destroy(&s->cond);
    pthread_mutex_destroy(&s->lock);
    free(s);
}

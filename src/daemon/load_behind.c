/*
 * load_behind.c -- work a reload leaves to threads at low priority: a job
 * run on a thread of its own and waited for (load_run_behind: the loader's
 * parsing, re-signing), and the dropper that frees retired serve sets and
 * gives their memory back to the kernel while the next reload goes on
 * (load_drop_behind). load.h has the contract.
 */
#include <errno.h>
#include <malloc.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "common/bigalloc.h"
#include "common/deadline.h"
#include "common/log.h"
#include "daemon/load.h"
#include "serve/serve_set.h"

struct load_behind {
    void (*fn)(void *);
    void *arg;
};

/* A reload of the 1M-record zone under 50k QPS on 2 cores, workers and
 * the three loading threads at the same nice value: p99 of the 100 ms
 * windows during the reload up to 29 ms, p50 up to 7 ms (the loader's
 * threads take their share of both cores while the workers wait in the
 * run queue). With the loader at nice 19 the scheduler runs a worker as
 * soon as it wakes: the figures are in contrib/bench/README.md
 * ("Reloading under load"). SCHED_IDLE instead was measured too: reloads
 * 1.7x longer (6.6 s against 3.8), the worst window's p99 no better (5.3
 * ms against 4.2). Nice is per thread on Linux, and this one is
 * thrown away at the end, so nothing has to lower it back (which an
 * unprivileged process could not do). */
static void load_lower_priority(const char *who)
{
    if (setpriority(PRIO_PROCESS, (id_t)syscall(SYS_gettid), LOAD_BEHIND_NICE) != 0)
        log_warn("event=reload note=\"cannot lower the %s's priority: %s\"", who, strerror(errno));
}

static void *load_behind_main(void *arg)
{
    struct load_behind *b = arg;
    load_lower_priority("loader");
    b->fn(b->arg);
    return NULL;
}

void load_run_behind(void (*fn)(void *), void *arg)
{
    struct load_behind b = {fn, arg};
    pthread_t t;
    if (pthread_create(&t, NULL, load_behind_main, &b) != 0) {
        fn(arg);
        return;
    }
    pthread_join(t, NULL);
}

static void load_drop_run(void *arg)
{
    serve_set_free(arg);
    malloc_trim(0);
}

/* malloc_trim walks every free chunk of every arena: 10-15 ms at 100,000
 * records, as much as the rest of a change's work off its path. Under a
 * stream of changes the dropper trims at most once a
 * LOAD_TRIM_INTERVAL_MS, and once more when the stream stops, so the heap
 * still goes back to the kernel within that interval. */
#define LOAD_TRIM_INTERVAL_MS 1000
/* The spare array (bigalloc.h) and its tables outlive the last change by
 * this long (counted from the heap's trim after it): unmapped as soon as
 * a stream of changes stopped, the first change after a pause of a few
 * seconds faulted in 20 MB of arrays and tables again at 100,000 records
 * (a load of 58-72 ms instead of 6-8: the p99 of single changes), while a
 * change a minute (ExternalDNS's default interval) still finds them. Then
 * the memory goes back to the kernel (before, a lone change, one more
 * than a second after the trim before it, left them mapped for good). */
#define LOAD_SPARE_KEEP_S 90

struct load_dropper {
    pthread_t thread;
    pthread_mutex_t lock;
    pthread_cond_t cond;       /* on CLOCK_MONOTONIC */
    struct serve_set *pending; /* handed over, not yet freed */
    bool stop;
    bool owed;                 /* freed since the last trim */
    struct timespec next_trim; /* not before (CLOCK_MONOTONIC) */
    bool spare_kept;           /* trimmed after a change: the spare goes at spare_until */
    struct timespec spare_until;
    struct bigalloc_spare *spare; /* borrowed; NULL: none */
};

static bool load_dropper_past(const struct timespec *t)
{
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    return now.tv_sec > t->tv_sec || (now.tv_sec == t->tv_sec && now.tv_nsec >= t->tv_nsec);
}

static bool load_dropper_due(const struct load_dropper *d)
{
    return load_dropper_past(&d->next_trim);
}

/* Trims the heap, the lock dropped meanwhile. (lock) */
static void load_dropper_trim(struct load_dropper *d)
{
    d->owed = false;
    pthread_mutex_unlock(&d->lock);
    malloc_trim(0);
    pthread_mutex_lock(&d->lock);
    clock_gettime(CLOCK_MONOTONIC, &d->next_trim);
    d->next_trim.tv_sec += LOAD_TRIM_INTERVAL_MS / 1000;
    d->next_trim.tv_nsec += (long)(LOAD_TRIM_INTERVAL_MS % 1000) * 1000000L;
    if (d->next_trim.tv_nsec >= 1000000000L) {
        d->next_trim.tv_sec++;
        d->next_trim.tv_nsec -= 1000000000L;
    }
    d->spare_until = d->next_trim;
    d->spare_until.tv_sec += LOAD_SPARE_KEEP_S;
    d->spare_kept = d->spare != NULL;
}

/* Waits for a set to free or stop; meanwhile the trim a stream owes once
 * it stopped, and the spare once the stream has been over for
 * LOAD_SPARE_KEEP_S. (lock) */
static void load_dropper_wait(struct load_dropper *d)
{
    while (!d->pending && !d->stop) {
        if (d->owed) {
            if (pthread_cond_timedwait(&d->cond, &d->lock, &d->next_trim) == ETIMEDOUT &&
                !d->pending && !d->stop) /* the stream stopped */
                load_dropper_trim(d);
        } else if (d->spare_kept) {
            if (pthread_cond_timedwait(&d->cond, &d->lock, &d->spare_until) == ETIMEDOUT &&
                !d->pending && !d->stop && load_dropper_past(&d->spare_until)) {
                d->spare_kept = false;
                pthread_mutex_unlock(&d->lock);
                bigalloc_spare_drop(d->spare);
                malloc_trim(0);
                pthread_mutex_lock(&d->lock);
            }
        } else
            pthread_cond_wait(&d->cond, &d->lock);
    }
}

static void *load_dropper_main(void *arg)
{
    struct load_dropper *d = arg;
    load_lower_priority("dropper");
    pthread_mutex_lock(&d->lock);
    for (;;) {
        load_dropper_wait(d);
        if (!d->pending)
            break; /* stopped with nothing left */
        struct serve_set *old = d->pending;
        d->pending = NULL;     /* the next may be handed over while this one is freed */
        d->spare_kept = false; /* a stream again */
        pthread_mutex_unlock(&d->lock);
        serve_set_free(old);
        pthread_mutex_lock(&d->lock);
        d->owed = true;
        if (load_dropper_due(d))
            load_dropper_trim(d);
    }
    pthread_mutex_unlock(&d->lock);
    return NULL;
}

struct load_dropper *load_dropper_new(struct bigalloc_spare *spare)
{
    struct load_dropper *d = calloc(1, sizeof(*d));
    if (!d)
        return NULL;
    d->spare = spare;
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_mutex_init(&d->lock, NULL);
    pthread_cond_init(&d->cond, &ca);
    pthread_condattr_destroy(&ca);
    if (pthread_create(&d->thread, NULL, load_dropper_main, d) != 0) {
        pthread_cond_destroy(&d->cond);
        pthread_mutex_destroy(&d->lock);
        free(d);
        return NULL;
    }
    pthread_setname_np(d->thread, "gtmd-dropper"); /* top -H, perf, gdb */
    return d;
}

void load_dropper_free(struct load_dropper *d)
{
    if (!d)
        return;
    pthread_mutex_lock(&d->lock);
    d->stop = true;
    pthread_cond_broadcast(&d->cond);
    pthread_mutex_unlock(&d->lock);
    pthread_join(d->thread, NULL); /* it frees what is pending first */
    pthread_cond_destroy(&d->cond);
    pthread_mutex_destroy(&d->lock);
    free(d);
}

/* The caller frees old itself, at its own priority, when the dropper has
 * one set in hand and another waiting. It waited for the dropper instead:
 * at nice 19 on two busy cores (50k QPS answered, a stream of changes, the
 * file writer dumping) the dropper ran a few percent of the time, and the
 * store thread waited for it 0.1-0.4 s several times a minute, every
 * change queued behind (perf's sched_switch of the store thread at
 * 1,000,000 names: pthread_cond_wait in load_drop_behind; issue #55). A
 * change's retired set shares its records, zones and counters with the
 * set served: what it frees of its own is small. No trim here: the
 * dropper's next one, or the one when the stream stops, gives it back. */
static void load_drop_here(struct load_dropper *d, struct serve_set *old)
{
    double c0 = deadline_thread_cpu_ms();
    serve_set_free(old);
    double ms = deadline_thread_cpu_ms() - c0;
    if (ms >= 1.0) /* a change's set takes 0.1 ms at 1,000,000 names; a reload's more */
        log_msg(LOG_LEVEL_DEBUG,
                "event=reload note=\"retired set freed here, the dropper behind\" ms=%.1f", ms);
    pthread_mutex_lock(&d->lock);
    d->owed = true; /* a trim when the stream stops (load_dropper_wait) */
    d->spare_kept = false;
    pthread_cond_broadcast(&d->cond);
    pthread_mutex_unlock(&d->lock);
}

void load_drop_behind(struct load_dropper *d, struct serve_set *old)
{
    if (!d) {
        load_run_behind(load_drop_run, old);
        return;
    }
    pthread_mutex_lock(&d->lock);
    if (d->pending) {
        /* at most two retired sets beside the served one: the one the
         * dropper frees and the one waiting for it */
        pthread_mutex_unlock(&d->lock);
        load_drop_here(d, old);
        return;
    }
    d->pending = old;
    pthread_cond_broadcast(&d->cond);
    pthread_mutex_unlock(&d->lock);
}

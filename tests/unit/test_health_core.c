/*
 * Unit tests for src/health/health.c: rise/fall damping, what a result
 * counts (latency, failures by the kind the probe reported), whether a
 * fall or rise is in progress (the prober's fast_interval) and when the
 * next change may come, the change hooks, and that readers under the core's lock always see a
 * slot's fields agree while the prober thread reports. Reasons
 * (test_reasons): kept once per text for every slot that has it, replaced
 * only when the text changes, cut at 127 octets as the slot's array of
 * 128 cut them, kept across a reload, freed with the last slot.
 */
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/intern.h"
#include "health/health.h"
#include "health/override.h"
#include "tap.h"

static const struct health_result PASS = {.ok = true, .latency_us = 3000, .reason = "ok"};
static const struct health_result REFUSED = {
    .ok = false, .kind = HEALTH_FAIL_REFUSED, .latency_us = 100, .reason = "connection refused"};

static void report_n(struct health_core *c, struct health_slot *s, const struct health_result *r,
                     int n, unsigned rise, unsigned fall)
{
    for (int i = 0; i < n; i++)
        health_report(c, s, r, rise, fall);
}

/* Sends stderr (the health_change lines of many transitions) to
 * /dev/null; returns the saved descriptor for restore_stderr. */
static int quiet_stderr(void)
{
    int saved = dup(STDERR_FILENO), devnull = open("/dev/null", O_WRONLY);
    if (saved < 0 || devnull < 0 || dup2(devnull, STDERR_FILENO) < 0)
        abort();
    close(devnull);
    return saved;
}

static void restore_stderr(int saved)
{
    dup2(saved, STDERR_FILENO);
    close(saved);
}

static void test_first_result(struct tap *t)
{
    struct health_core c;
    health_core_init(&c);
    struct health_slot *a = health_core_slot(&c, "endpoint:p/a");
    struct health_slot *b = health_core_slot(&c, "endpoint:p/b");
    TAP_CHECK(t, health_slot_probe(a) == HEALTH_UNKNOWN && !health_slot_up(a),
              "a new slot is unknown, and unknown is not up");
    double before = health_now();
    health_report(&c, a, &PASS, 5, 5);
    health_report(&c, b, &REFUSED, 5, 5);
    TAP_CHECK(t, health_slot_probe(a) == HEALTH_UP && a->probe_state == HEALTH_UP,
              "first pass decides up at once, whatever rise is");
    TAP_CHECK(t, health_slot_probe(b) == HEALTH_DOWN && b->probe_state == HEALTH_DOWN,
              "first failure decides down at once, whatever fall is");
    TAP_CHECK(t, a->since >= before && b->since >= before && c.transitions == 2,
              "both transitions counted, since set (%llu)", (unsigned long long)c.transitions);
    health_core_free(&c);
}

static void test_fall_and_rise(struct tap *t)
{
    struct health_core c;
    health_core_init(&c);
    struct health_slot *s = health_core_slot(&c, "endpoint:p/a");
    health_report(&c, s, &PASS, 2, 3);
    double since = s->since;
    report_n(&c, s, &REFUSED, 2, 2, 3);
    TAP_CHECK(t, health_slot_probe(s) == HEALTH_UP && s->since == since && c.transitions == 1,
              "fall 3: two failures keep it up");
    health_report(&c, s, &REFUSED, 2, 3);
    TAP_CHECK(t, health_slot_probe(s) == HEALTH_DOWN && s->since >= since && c.transitions == 2,
              "fall 3: the third consecutive failure brings it down");
    report_n(&c, s, &REFUSED, 5, 2, 3);
    TAP_CHECK(t, health_slot_probe(s) == HEALTH_DOWN && c.transitions == 2,
              "more failures while down change nothing");
    health_report(&c, s, &PASS, 2, 3);
    TAP_CHECK(t, health_slot_probe(s) == HEALTH_DOWN, "rise 2: one pass keeps it down");
    health_report(&c, s, &PASS, 2, 3);
    TAP_CHECK(t, health_slot_probe(s) == HEALTH_UP && c.transitions == 3,
              "rise 2: the second consecutive pass brings it up");
    /* A run is consecutive results: one pass in between starts over. */
    report_n(&c, s, &REFUSED, 2, 2, 3);
    health_report(&c, s, &PASS, 2, 3);
    report_n(&c, s, &REFUSED, 2, 2, 3);
    TAP_CHECK(t, health_slot_probe(s) == HEALTH_UP && s->fail_run == 2,
              "fail, fail, pass, fail, fail with fall 3 stays up");
    health_report(&c, s, &REFUSED, 1, 1);
    TAP_CHECK(t, health_slot_probe(s) == HEALTH_DOWN, "fall 1: a single failure is enough");
    health_report(&c, s, &PASS, 1, 1);
    TAP_CHECK(t, health_slot_probe(s) == HEALTH_UP, "rise 1: a single pass is enough");
    health_core_free(&c);
}

/* health_report says when a fall or rise is in progress (the prober then
 * probes at fast_interval), and change_at counts the results left at the
 * fast spacing when the result carries one. */
static void test_in_progress(struct tap *t)
{
    struct health_core c;
    health_core_init(&c);
    struct health_slot *s = health_core_slot(&c, "endpoint:p/a");
    struct health_result pass = PASS, fail = REFUSED;
    pass.interval_ms = fail.interval_ms = 2000;
    pass.fast_interval_ms = fail.fast_interval_ms = 150;
    bool first = health_report(&c, s, &pass, 2, 3);
    TAP_CHECK(t, !first && health_slot_change_at(s) == 0,
              "the first result decides: nothing in progress");
    TAP_CHECK(t, !health_report(&c, s, &pass, 2, 3), "up and passing: steady");
    int64_t now = health_mono_ms();
    bool f1 = health_report(&c, s, &fail, 2, 3);
    int64_t at = health_slot_change_at(s) - now;
    TAP_CHECK(t, f1 && at >= 300 && at < 300 + 50,
              "up, first failure of fall 3: in progress, change in 2 x 150 ms (%lld ms)",
              (long long)at);
    TAP_CHECK(t, health_report(&c, s, &fail, 2, 3), "second failure: still in progress");
    bool f3 = health_report(&c, s, &fail, 2, 3);
    TAP_CHECK(t, !f3 && health_slot_probe(s) == HEALTH_DOWN,
              "third failure: down, nothing in progress");
    TAP_CHECK(t, !health_report(&c, s, &fail, 2, 3), "down and failing: steady");
    now = health_mono_ms();
    bool r1 = health_report(&c, s, &pass, 2, 3);
    at = health_slot_change_at(s) - now;
    TAP_CHECK(t, r1 && at >= 150 && at < 150 + 50,
              "down, first pass of rise 2: in progress, change in 150 ms (%lld ms)", (long long)at);
    TAP_CHECK(t, !health_report(&c, s, &pass, 2, 3) && health_slot_probe(s) == HEALTH_UP,
              "second pass: up, nothing in progress");
    health_report(&c, s, &fail, 2, 3);
    TAP_CHECK(t, !health_report(&c, s, &pass, 2, 3) && health_slot_change_at(s) == 0,
              "a pass ends a fall in progress");
    /* Without a fast spacing the estimate is the interval's. */
    pass.fast_interval_ms = fail.fast_interval_ms = 0;
    now = health_mono_ms();
    health_report(&c, s, &fail, 2, 3);
    at = health_slot_change_at(s) - now;
    TAP_CHECK(t, at >= 4000 && at < 4000 + 50, "no fast_interval: 2 x the interval (%lld ms)",
              (long long)at);
    TAP_CHECK(t, !health_report(&c, s, &fail, 1, 1), "fall 1: never in progress");
    health_core_free(&c);
}

static void test_alternating(struct tap *t)
{
    struct health_core c;
    health_core_init(&c);
    struct health_slot *up = health_core_slot(&c, "endpoint:p/up");
    struct health_slot *down = health_core_slot(&c, "endpoint:p/down");
    health_report(&c, up, &PASS, 2, 2);
    health_report(&c, down, &REFUSED, 2, 2);
    for (int i = 0; i < 50; i++) {
        health_report(&c, up, i % 2 ? &PASS : &REFUSED, 2, 2);
        health_report(&c, down, i % 2 ? &REFUSED : &PASS, 2, 2);
    }
    TAP_CHECK(t,
              health_slot_probe(up) == HEALTH_UP && health_slot_probe(down) == HEALTH_DOWN &&
                  c.transitions == 2,
              "alternating results never flap with rise 2, fall 2 (transitions %llu)",
              (unsigned long long)c.transitions);
    health_core_free(&c);
}

static void test_counting(struct tap *t)
{
    struct health_core c;
    health_core_init(&c);
    struct health_slot *s = health_core_slot(&c, "endpoint:p/a");
    /* The reason says "timed out", not "timeout": the kind alone counts. */
    struct health_result timed_out = {.ok = false,
                                      .kind = HEALTH_FAIL_TIMEOUT,
                                      .latency_us = 2000000,
                                      .reason = "connection timed out"};
    struct health_result tls = {
        .ok = false, .kind = HEALTH_FAIL_TLS, .latency_us = 20000, .reason = "status-ish text"};
    health_report(&c, s, &PASS, 2, 2);
    health_report(&c, s, &timed_out, 2, 2);
    health_report(&c, s, &tls, 2, 2);
    health_report(&c, s, &REFUSED, 2, 2);
    TAP_CHECK(t,
              s->fail_by[HEALTH_FAIL_TIMEOUT] == 1 && s->fail_by[HEALTH_FAIL_TLS] == 1 &&
                  s->fail_by[HEALTH_FAIL_REFUSED] == 1 && s->fail_by[HEALTH_FAIL_OTHER] == 0 &&
                  s->fail_by[HEALTH_FAIL_STATUS] == 0,
              "failures counted by the reported kind, not by the reason text");
    TAP_CHECK(t, s->probes == 4 && s->failures == 3 && strcmp(s->reason, "connection refused") == 0,
              "probes, failures and the last reason");
    /* 3 ms is in (0.0025, 0.005]; 2 s past the last bound; 20 ms in
     * (0.01, 0.025]; 0.1 ms in the first bucket. */
    TAP_CHECK(t,
              health_slot_hist_count(s, 2) == 1 &&
                  health_slot_hist_count(s, HEALTH_HIST_BUCKETS - 1) == 1 &&
                  health_slot_hist_count(s, 4) == 1 && health_slot_hist_count(s, 0) == 1 &&
                  health_slot_hist_count(s, 1) == 0 && s->last_latency_us == 100 &&
                  s->latency_sum_s > 2.023 && s->latency_sum_s < 2.0232,
              "latency histogram, sum and last latency (sum %.6f)", s->latency_sum_s);
    struct health_result odd = {.ok = false, .kind = (enum health_fail_kind)99, .reason = "x"};
    health_report(&c, s, &odd, 2, 2);
    TAP_CHECK(t, s->fail_by[HEALTH_FAIL_OTHER] == 1, "an out-of-range kind counts as other");
    health_core_free(&c);
}

struct hook_counts {
    atomic_int state, overrides;
};

static void on_state(void *arg)
{
    atomic_fetch_add(&((struct hook_counts *)arg)->state, 1);
}

static void on_overrides(void *arg)
{
    atomic_fetch_add(&((struct hook_counts *)arg)->overrides, 1);
}

static void test_hooks(struct tap *t)
{
    struct health_core c;
    struct hook_counts n = {0, 0};
    health_core_init(&c);
    struct health_hooks h = {
        .state_changed = on_state, .overrides_changed = on_overrides, .arg = &n};
    health_core_set_hooks(&c, &h);
    struct health_slot *s = health_core_slot(&c, "endpoint:p/a");
    health_report(&c, s, &PASS, 2, 2);
    report_n(&c, s, &PASS, 3, 2, 2);
    report_n(&c, s, &REFUSED, 2, 2, 2);
    TAP_CHECK(t, n.state == 2 && n.overrides == 0,
              "state_changed once per transition, not per result (%d)", (int)n.state);
    char id[32];
    override_add(&c, "endpoint:p/a", HEALTH_DOWN, "r", "me", 0, id);
    bool gone = override_remove(&c, id);
    bool again = override_remove(&c, id);
    TAP_CHECK(t, gone && !again && n.overrides == 2,
              "overrides_changed on add and on remove, not on a failed remove (%d)",
              (int)n.overrides);
    health_core_set_hooks(&c, NULL);
    health_report(&c, s, &PASS, 1, 1);
    override_add(&c, "endpoint:p/a", HEALTH_DOWN, "r", "me", 0, id);
    TAP_CHECK(t, n.state == 2 && n.overrides == 2, "no calls once the hooks are removed");
    health_core_free(&c);
}

/* ---- a removed listener is done once removal returns ------------------ */

#define HOOK_ALIVE 0x600dU
#define HOOK_DEAD 0xdeadU

struct hook_race;

/* A listener's context, as drill_service_stop frees its service once it
 * removed its hooks: poisoned (magic) once the removal returned, freed
 * by the test after the reporter stopped. magic is a plain field: under
 * ThreadSanitizer, a call racing the poison is a report too. */
struct hook_ctx {
    unsigned magic;
    struct hook_race *r;
};

struct hook_race {
    struct health_core *c;
    struct health_slot *s;
    atomic_bool stop;
    atomic_int reports, calls, locked;
    atomic_bool removing; /* the main thread is about to remove the listener */
    atomic_bool removed;  /* health_core_remove_hooks returned */
    atomic_int late;      /* calls that began, or still ran, after it returned */
};

/* The listener: notes whether it runs after the removal returned, at its
 * start and at its end. It lasts until the main thread is removing it
 * and 20 ms more, so that a removal that does not wait for a running
 * call returns while this one runs (a window, not synchronization: with
 * the removal waiting, nothing depends on it). */
static void on_state_slow(void *arg)
{
    struct hook_ctx *x = arg;
    struct hook_race *r = x->r;
    if (x->magic != HOOK_ALIVE || atomic_load(&r->removed))
        atomic_fetch_add(&r->late, 1);
    atomic_fetch_add(&r->calls, 1);
    for (int i = 0; i < 2000 && !atomic_load(&r->removing); i++)
        usleep(100);
    usleep(20000);
    /* A hook may take the core's lock, even while a removal waits for it. */
    pthread_mutex_lock(&r->c->lock);
    atomic_fetch_add(&r->locked, 1);
    pthread_mutex_unlock(&r->c->lock);
    if (x->magic != HOOK_ALIVE || atomic_load(&r->removed))
        atomic_fetch_add(&r->late, 1);
}

/* The prober: alternating results with rise and fall 1, so that every
 * report is a transition and calls the listeners. */
static void *hook_reporter(void *arg)
{
    struct hook_race *r = arg;
    for (int n = 0; n < 1000000 && !atomic_load(&r->stop); n++) {
        health_report(r->c, r->s, n % 2 ? &PASS : &REFUSED, 1, 1);
        atomic_fetch_add(&r->reports, 1);
    }
    return NULL;
}

/* One round: the listener is removed while a call of it runs; then the
 * reporter goes on for 200 more reports. Returns the late calls. */
static int hook_race_round(struct hook_race *r)
{
    struct hook_ctx *x = calloc(1, sizeof(*x));
    if (!x)
        abort();
    *x = (struct hook_ctx){.magic = HOOK_ALIVE, .r = r};
    atomic_store(&r->removing, false);
    atomic_store(&r->removed, false);
    atomic_store(&r->calls, 0);
    struct health_hooks h = {.state_changed = on_state_slow, .arg = x};
    if (health_core_add_hooks(r->c, &h) != 0)
        abort();
    for (int i = 0; i < 5000 && atomic_load(&r->calls) == 0; i++)
        usleep(1000);
    atomic_store(&r->removing, true);
    health_core_remove_hooks(r->c, x);
    atomic_store(&r->removed, true);
    x->magic = HOOK_DEAD;
    int at = atomic_load(&r->reports);
    for (int i = 0; i < 5000 && atomic_load(&r->reports) < at + 200; i++)
        usleep(1000);
    int late = atomic_load(&r->calls) == 0 ? -1 : atomic_load(&r->late);
    free(x); /* the next round's listener runs no call of this one */
    return late;
}

static void test_hooks_removed_while_running(struct tap *t)
{
    struct health_core c;
    health_core_init(&c);
    struct hook_race r = {.c = &c, .s = health_core_slot(&c, "endpoint:p/a")};
    int saved = quiet_stderr();
    pthread_t th;
    if (pthread_create(&th, NULL, hook_reporter, &r) != 0)
        abort();
    int rounds = 0, bad = 0;
    for (; rounds < 5; rounds++)
        bad += hook_race_round(&r) != 0;
    atomic_store(&r.stop, true);
    pthread_join(th, NULL);
    restore_stderr(saved);
    TAP_CHECK(t, bad == 0 && atomic_load(&r.late) == 0,
              "no call of a listener runs once its removal returned, though one ran when it "
              "began (%d of %d rounds bad, %d late calls)",
              bad, rounds, (int)atomic_load(&r.late));
    TAP_CHECK(t, atomic_load(&r.locked) >= rounds,
              "the hooks took the core's lock while removals waited for them (%d)",
              (int)atomic_load(&r.locked));
    health_core_free(&c);
}

static void test_layers(struct tap *t)
{
    struct health_core c;
    health_core_init(&c);
    struct health_slot *s = health_core_slot(&c, "endpoint:p/a");
    health_report(&c, s, &PASS, 2, 2);
    char id[32];
    override_add(&c, "endpoint:p/a", HEALTH_DOWN, "drain", "me", 0, id);
    TAP_CHECK(t,
              health_slot_probe(s) == HEALTH_UP && health_slot_override(s) == HEALTH_DOWN &&
                  health_slot_effective(s) == HEALTH_DOWN && !health_slot_up(s),
              "an override beats the probe verdict, which stays visible");
    override_remove(&c, id);
    TAP_CHECK(t, health_slot_effective(s) == HEALTH_UP, "removing it restores the probe verdict");
    health_core_free(&c);
}

/* ---- health epochs ------------------------------------------------------ */

static void on_layers(void *arg)
{
    ++*(int *)arg;
}

static void test_epochs(struct tap *t)
{
    struct health_core c;
    health_core_init(&c);
    struct health_slot *s = health_core_slot(&c, "endpoint:p/a");
    uint64_t e0, e1, e2, e3;
    bool ok0 = health_epoch_enter(&c, &e0);
    health_report(&c, s, &PASS, 2, 2); /* unknown -> up: a write */
    TAP_CHECK(t, ok0 && !health_epoch_valid(&c, e0), "a transition ends the epoch a reader saw");
    bool ok1 = health_epoch_enter(&c, &e1);
    health_report(&c, s, &PASS, 2, 2); /* no transition: no write */
    TAP_CHECK(t, ok1 && e1 != e0 && health_epoch_valid(&c, e1),
              "a result that changes nothing keeps the epoch");
    char id[32];
    override_add(&c, "endpoint:p/a", HEALTH_DOWN, "drain", "me", 0, id);
    TAP_CHECK(t, health_epoch_enter(&c, &e2) && e2 != e1, "an override is a new epoch");
    health_restore(s, HEALTH_DOWN, 0);
    TAP_CHECK(t, health_epoch_enter(&c, &e3) && e3 != e2, "a restored state is a new epoch");
    int layers = 0;
    struct health_hooks h = {.layers_changed = on_layers, .arg = &layers};
    health_core_add_hooks(&c, &h);
    uint64_t e5;
    health_drill_set(&c, "region:eu", HEALTH_DOWN);
    TAP_CHECK(t, health_epoch_enter(&c, &e5) && e5 != e3 && layers == 1,
              "a drill byte is a new epoch and wakes the layers_changed listeners");
    health_write_begin(&c);
    uint64_t e4;
    TAP_CHECK(t, !health_epoch_enter(&c, &e4), "no consistent epoch while a write is in progress");
    health_write_end(&c);
    health_core_remove_hooks(&c, &layers);
    health_core_free(&c);
}

/* Two bytes written together inside one bracket: a reader that finds its
 * epoch valid never sees them differ. */
struct epoch_race {
    struct health_core *c;
    _Atomic uint8_t a, b;
    atomic_bool stop;
    long valid_reads, torn_valid;
};

static void *epoch_writer(void *arg)
{
    struct epoch_race *r = arg;
    for (uint8_t v = 0; !atomic_load(&r->stop); v++) {
        health_write_begin(r->c);
        atomic_store_explicit(&r->a, v, memory_order_release);
        atomic_store_explicit(&r->b, v, memory_order_release);
        health_write_end(r->c);
        /* A pause between writes, so that readers find stable epochs. */
        for (volatile int k = 0; k < 300; k++)
            ;
    }
    return NULL;
}

static void test_epoch_race(struct tap *t)
{
    struct health_core c;
    health_core_init(&c);
    struct epoch_race r = {.c = &c};
    pthread_t th;
    pthread_create(&th, NULL, epoch_writer, &r);
    for (long i = 0; i < 2000000; i++) {
        uint64_t e;
        if (!health_epoch_enter(&c, &e))
            continue;
        uint8_t a = atomic_load_explicit(&r.a, memory_order_acquire);
        uint8_t b = atomic_load_explicit(&r.b, memory_order_acquire);
        if (!health_epoch_valid(&c, e))
            continue;
        r.valid_reads++;
        r.torn_valid += a != b;
    }
    atomic_store(&r.stop, true);
    pthread_join(th, NULL);
    TAP_CHECK(t, r.torn_valid == 0 && r.valid_reads > 1000,
              "a valid epoch never shows a half-done write (%ld valid reads)", r.valid_reads);
    health_core_free(&c);
}

/* ---- readers under the lock see agreeing fields ----------------------- */

struct race {
    struct health_core *c;
    struct health_slot *s;
    atomic_bool stop;
    atomic_int reads;
    int disagreements, since_moved_without_state, reason_disagreements;
};

/* Reads a slot's fields and the core's counter under the lock. With the
 * writer's alternating results (first up, then down, up, ...), the state
 * must match the parity of the transition count and since must move only
 * with it. */
static void *race_reader(void *arg)
{
    struct race *r = arg;
    uint64_t last_transitions = 0;
    double last_since = 0;
    for (int n = 0; !atomic_load(&r->stop); n++) {
        pthread_mutex_lock(&r->c->lock);
        uint8_t st = r->s->probe_state;
        uint8_t eff = atomic_load_explicit(&r->s->effective, memory_order_relaxed);
        double since = r->s->since;
        uint64_t transitions = r->c->transitions;
        char why[HEALTH_REASON_LEN]; /* copied under the lock, as readers do */
        snprintf(why, sizeof(why), "%s", r->s->reason);
        pthread_mutex_unlock(&r->c->lock);
        if (st != eff || st != (transitions % 2 ? HEALTH_UP : HEALTH_DOWN))
            r->disagreements++;
        if (strcmp(why, st == HEALTH_UP ? "ok" : "connection refused") != 0)
            r->reason_disagreements++;
        if (n > 0 && since != last_since && transitions == last_transitions)
            r->since_moved_without_state++;
        last_transitions = transitions;
        last_since = since;
        atomic_fetch_add(&r->reads, 1);
    }
    return NULL;
}

static void test_readers_under_lock(struct tap *t)
{
    struct health_core c;
    health_core_init(&c);
    struct race r = {.c = &c, .s = health_core_slot(&c, "endpoint:p/a")};
    health_report(&c, r.s, &PASS, 1, 1);
    /* Every report below is a transition, each one a health_change line. */
    int saved = quiet_stderr();
    pthread_t th;
    if (pthread_create(&th, NULL, race_reader, &r) != 0)
        abort();
    for (int i = 0; i < 2000 && atomic_load(&r.reads) == 0; i++)
        usleep(1000);
    /* fall 1, rise 1 and alternating results, while the reader reads. */
    long n = 0;
    while (n < 500000 && (n < 5000 || atomic_load(&r.reads) < 2000))
        health_report(&c, r.s, n++ % 2 ? &PASS : &REFUSED, 1, 1);
    atomic_store(&r.stop, true);
    pthread_join(th, NULL);
    restore_stderr(saved);
    TAP_CHECK(t, c.transitions == (uint64_t)n + 1, "%ld transitions reported (%llu)", n,
              (unsigned long long)c.transitions);
    TAP_CHECK(t,
              atomic_load(&r.reads) >= 2000 && r.disagreements == 0 &&
                  r.since_moved_without_state == 0 && r.reason_disagreements == 0,
              "under the lock, probe_state, effective, since, reason and the transition count "
              "always agree (%d reads, %d disagreements, %d since moves without a transition, "
              "%d reasons of the other state)",
              (int)atomic_load(&r.reads), r.disagreements, r.since_moved_without_state,
              r.reason_disagreements);
    health_core_free(&c);
}

static void test_slots(struct tap *t)
{
    struct health_core c;
    health_core_init(&c);
    struct health_slot *a = health_core_slot(&c, "endpoint:p/a");
    TAP_CHECK(
        t, health_core_slot(&c, "endpoint:p/a") == a && health_core_find(&c, "endpoint:p/a") == a,
        "a key maps to one slot");
    TAP_CHECK(t, health_core_find(&c, "endpoint:p/none") == NULL, "find does not create a slot");
    health_core_begin_mapping(&c);
    TAP_CHECK(t, !health_slot_in_use(&c, a), "begin_mapping marks every slot unused");
    health_core_slot(&c, "endpoint:p/a");
    TAP_CHECK(t, health_slot_in_use(&c, a), "mapping it again marks it in use, same slot");
    /* The mapping's number wraps after 65,535 mappings: a slot marked
     * once and never again must not come back into use when the number
     * comes round (b is marked at the mapping before the wrap, a keeps
     * being marked). */
    struct health_slot *b = health_core_slot(&c, "endpoint:p/b");
    bool wrong = false;
    for (unsigned i = 0; i < 70000; i++) {
        health_core_begin_mapping(&c);
        if (i == 3)
            health_core_slot(&c, "endpoint:p/b");
        health_core_slot(&c, "endpoint:p/a");
        wrong |= !health_slot_in_use(&c, a) || (i != 3 && health_slot_in_use(&c, b));
    }
    TAP_CHECK(t, !wrong && c.map_gen != 0,
              "over 70,000 mappings (the number wrapped) only what each marked is in use");
    health_core_free(&c);
}

/* The key index grows with the slots (10,000 endpoints and more): every
 * slot stays found under its key across the growths, a released one is
 * gone from its chain, and the chains stay short. */
static void test_slot_index_grows(struct tap *t)
{
    struct health_core c;
    health_core_init(&c);
    uint32_t first = c.n_buckets;
    enum { N = 5000 };
    static struct health_slot *made[N];
    char key[64];
    for (int i = 0; i < N; i++) {
        snprintf(key, sizeof(key), "endpoint:p%d/e%d", i / 4, i % 4);
        made[i] = health_core_slot(&c, key);
    }
    TAP_CHECK(t, c.n_slots == N && c.n_buckets >= N && c.n_buckets > first,
              "the index doubled past its first %u chains: %u for %zu slots", first, c.n_buckets,
              c.n_slots);
    int found = 0, longest = 0;
    for (int i = 0; i < N; i++) {
        snprintf(key, sizeof(key), "endpoint:p%d/e%d", i / 4, i % 4);
        found += health_core_find(&c, key) == made[i] && health_core_slot(&c, key) == made[i];
    }
    for (uint32_t b = 0; b < c.n_buckets; b++) {
        int len = 0;
        for (const struct health_slot *s = c.buckets[b]; s; s = s->next_in_bucket)
            len++;
        longest = len > longest ? len : longest;
    }
    TAP_CHECK(t, found == N, "every slot found under its key after the growths (%d of %d)", found,
              N);
    TAP_CHECK(t, longest <= 12, "the longest chain holds %d slots", longest);
    for (int i = 0; i < N; i += 2) { /* two references each: the mapping and the lookup above */
        health_core_release(&c, made[i]);
        health_core_release(&c, made[i]);
    }
    found = 0;
    for (int i = 0; i < N; i++) {
        snprintf(key, sizeof(key), "endpoint:p%d/e%d", i / 4, i % 4);
        found += (health_core_find(&c, key) != NULL) == (i % 2 == 1);
    }
    TAP_CHECK(t, found == N && c.n_slots == N / 2,
              "released slots leave their chains, the others stay (%d of %d as expected)", found,
              N);
    health_core_free(&c);
}

/* Slots live while a policy set maps them or an override names them. */
static void test_slot_lifetime(struct tap *t)
{
    struct health_core c;
    char id[32];
    health_core_init(&c);
    struct health_slot *a = health_core_slot(&c, "endpoint:p/a");
    health_core_slot(&c, "endpoint:p/a"); /* a second policy set */
    struct health_slot *r = health_core_slot(&c, "region:r");
    TAP_CHECK(t, a->refs == 2 && c.n_slots == 2, "each mapping takes a reference (%u)", a->refs);
    health_core_release(&c, a);
    TAP_CHECK(t, health_core_find(&c, "endpoint:p/a") == a, "one reference left: kept");
    health_core_release(&c, a);
    TAP_CHECK(t,
              health_core_find(&c, "endpoint:p/a") == NULL && c.n_slots == 1 && c.slots_freed == 1,
              "the last reference frees an endpoint slot");
    health_core_release(&c, r);
    TAP_CHECK(t, health_core_find(&c, "region:r") == r && c.n_slots == 1,
              "region (and az) slots are kept: drills point at them");
    struct health_slot *b = health_core_slot(&c, "endpoint:p/b");
    override_add(&c, "endpoint:p/b", HEALTH_DOWN, "drain", "me", 0, id);
    health_core_release(&c, b);
    TAP_CHECK(t,
              health_core_find(&c, "endpoint:p/b") == b && health_slot_override(b) == HEALTH_DOWN,
              "an override keeps its endpoint's slot without any policy set");
    override_remove(&c, id);
    TAP_CHECK(t, health_core_find(&c, "endpoint:p/b") == NULL && c.slots_freed == 2,
              "removing that override frees the slot");
    override_add(&c, "endpoint:p/gone", HEALTH_UP, "pin", "me", 0, id);
    TAP_CHECK(t, health_core_find(&c, "endpoint:p/gone") != NULL,
              "an override of an unknown endpoint makes a slot");
    override_remove(&c, id);
    TAP_CHECK(t, health_core_find(&c, "endpoint:p/gone") == NULL && c.n_slots == 1,
              "and its removal frees it");
    health_core_free(&c);
}

/* A result failing with reason why (kept for the pointer's life). */
static struct health_result failing(const char *why)
{
    return (struct health_result){.ok = false, .kind = HEALTH_FAIL_OTHER, .reason = why};
}

/* Reasons: one text per core for every slot that has it, replaced only
 * when it changes, cut as before, kept across a reload, freed with the
 * last slot that has it. */
static void test_reasons(struct tap *t)
{
    struct health_core c;
    health_core_init(&c);
    struct health_slot *a = health_core_slot(&c, "endpoint:p/a");
    struct health_slot *b = health_core_slot(&c, "endpoint:p/b");
    TAP_CHECK(t,
              strcmp(a->reason, "not probed yet") == 0 && a->reason == b->reason &&
                  intern_count(c.reasons) == 1,
              "new slots: \"not probed yet\", one text for both");
    health_report(&c, a, &REFUSED, 2, 2);
    health_report(&c, b, &REFUSED, 2, 2);
    const char *was = a->reason;
    TAP_CHECK(t,
              strcmp(a->reason, "connection refused") == 0 && a->reason == b->reason &&
                  intern_count(c.reasons) == 1,
              "the same result on two slots: one text, the old one freed (%zu kept)",
              intern_count(c.reasons));
    report_n(&c, a, &REFUSED, 5, 2, 2);
    TAP_CHECK(t, a->reason == was, "a steady reason is the same text, not made again");
    health_report(&c, a, &PASS, 2, 2);
    TAP_CHECK(t,
              strcmp(a->reason, "ok") == 0 && strcmp(b->reason, "connection refused") == 0 &&
                  intern_count(c.reasons) == 2,
              "a change of one slot's reason leaves the other's");
    char long_why[300], cut[HEALTH_REASON_LEN];
    memset(long_why, 'x', sizeof(long_why) - 1);
    long_why[sizeof(long_why) - 1] = 0;
    long_why[150] = 'y';
    struct health_result lr = failing(long_why);
    health_report(&c, a, &lr, 2, 2);
    snprintf(cut, sizeof(cut), "%s", long_why); /* as the slot's array of 128 cut it */
    TAP_CHECK(t, strlen(a->reason) == HEALTH_REASON_LEN - 1 && strcmp(a->reason, cut) == 0,
              "a reason of 299 octets cut to %zu, as snprintf into 128 octets", strlen(a->reason));
    was = a->reason;
    long_why[200] = 'z'; /* differs after the cut only */
    health_report(&c, a, &lr, 2, 2);
    TAP_CHECK(t, a->reason == was, "a reason that differs only past the cut is the same text");
    long_why[HEALTH_REASON_LEN - 1] = 0; /* 127 octets: kept whole */
    health_report(&c, a, &lr, 2, 2);
    TAP_CHECK(t, a->reason == was && strlen(a->reason) == HEALTH_REASON_LEN - 1,
              "a reason of 127 octets is kept whole");
    long_why[HEALTH_REASON_LEN - 2] = 0; /* 126: a prefix of it, another text */
    health_report(&c, a, &lr, 2, 2);
    TAP_CHECK(t, strlen(a->reason) == HEALTH_REASON_LEN - 2 && intern_count(c.reasons) == 2,
              "a reason that is a prefix of the last is a text of its own, the last freed");
    health_report(&c, a, &REFUSED, 2, 2);
    /* A reload: the next set maps the same keys, the old one lets go. */
    health_core_begin_mapping(&c);
    struct health_slot *a2 = health_core_slot(&c, "endpoint:p/a");
    health_core_slot(&c, "endpoint:p/b");
    health_core_release(&c, a);
    health_core_release(&c, b);
    TAP_CHECK(
        t, a2 == a && strcmp(a->reason, "connection refused") == 0 && intern_count(c.reasons) == 1,
        "a reload keeps the reason");
    pthread_mutex_lock(&c.lock);
    health_restore(b, HEALTH_UP, 1);
    pthread_mutex_unlock(&c.lock);
    TAP_CHECK(t, strcmp(b->reason, "restored") == 0 && intern_count(c.reasons) == 2,
              "a restored state says so");
    health_core_release(&c, a);
    TAP_CHECK(t, intern_count(c.reasons) == 1,
              "a freed slot gives its reason back (freed with the last)");
    health_core_release(&c, b);
    TAP_CHECK(t, intern_count(c.reasons) == 0 && c.n_slots == 0, "no slot, no reason");
    /* Many texts (a reason naming its host): the table grows. */
    char key[64], why[64];
    for (int i = 0; i < 1000; i++) {
        snprintf(key, sizeof(key), "endpoint:p/e%d", i);
        snprintf(why, sizeof(why), "cannot resolve host%d.example", i);
        struct health_result r = failing(why);
        health_report(&c, health_core_slot(&c, key), &r, 2, 2);
    }
    int right = 0;
    for (int i = 0; i < 1000; i++) {
        snprintf(key, sizeof(key), "endpoint:p/e%d", i);
        snprintf(why, sizeof(why), "cannot resolve host%d.example", i);
        right += strcmp(health_core_find(&c, key)->reason, why) == 0;
    }
    TAP_CHECK(t,
              right == 1000 && intern_count(c.reasons) == 1000 && intern_chains(c.reasons) >= 1000,
              "1,000 texts kept apart (%d right, %zu chains)", right, intern_chains(c.reasons));
    TAP_CHECK(t, sizeof(void *) != 8 || sizeof(struct health_slot) <= 304,
              "a slot is %zu octets (456 with its own reason array)", sizeof(struct health_slot));
    health_core_free(&c); /* frees the texts too (ASan: no leak) */
}

/* The check's interval and fall ride in ran_at_ms's high bits (the slot's
 * size is bounded): the time reads back whole, the cadence as reported,
 * clamped where it does not fit. */
static void test_cadence(struct tap *t)
{
    struct health_core c;
    health_core_init(&c);
    struct health_slot *s = health_core_slot(&c, "endpoint:p/a");
    TAP_CHECK(t,
              health_slot_ran_at(s) == 0 && health_slot_interval_ms(s) == 0 &&
                  health_slot_allow_ms(s) == 0,
              "no result: never ran, no cadence");
    struct health_result r = PASS;
    r.interval_ms = 250;
    int64_t before = health_mono_ms();
    health_report(&c, s, &r, 2, 2);
    int64_t ran = health_slot_ran_at(s), after = health_mono_ms();
    TAP_CHECK(t, ran >= before && ran <= after, "ran_at reads back whole (%lld in [%lld, %lld])",
              (long long)ran, (long long)before, (long long)after);
    TAP_CHECK(t, health_slot_interval_ms(s) == 250 && health_slot_allow_ms(s) == 500,
              "interval 250 ms, fall 2: allow 500 ms (%u, %u)", health_slot_interval_ms(s),
              health_slot_allow_ms(s));
    r.interval_ms = 3600000;
    health_report(&c, s, &r, 2, 200);
    TAP_CHECK(t, health_slot_interval_ms(s) == 0xffff && health_slot_allow_ms(s) == 0xffffu * 127,
              "an hour's interval and fall 200 clamp to 65.5 s and 127");
    TAP_CHECK(t, health_slot_ran_at(s) >= ran, "the clamped cadence leaves the time whole");
    health_core_free(&c);
}

int main(void)
{
    struct tap t = {0, 0};
    test_first_result(&t);
    test_fall_and_rise(&t);
    test_in_progress(&t);
    test_cadence(&t);
    test_alternating(&t);
    test_counting(&t);
    test_hooks(&t);
    test_hooks_removed_while_running(&t);
    test_layers(&t);
    test_epochs(&t);
    test_epoch_race(&t);
    test_slots(&t);
    test_slot_lifetime(&t);
    test_slot_index_grows(&t);
    test_reasons(&t);
    test_readers_under_lock(&t);
    return tap_done(&t);
}

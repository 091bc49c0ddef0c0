/*
 * Unit tests for the prober's placement of jobs (src/health/scheduler.c,
 * scheduler_place and scheduler_next_start): jobs spread evenly over the
 * interval, endpoints still unknown first in its first tenth (no faster
 * than SCHEDULER_START_RATE starts a second), a job that fell behind
 * skips missed rounds but keeps its phase, and while a fall or rise is in
 * progress the next start comes fast_interval after the result, spread
 * so that results arriving together do not start together. And plans
 * replaced faster than the prober thread adopts them (a burst of
 * configuration changes).
 */
#include <math.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdlib.h>

#include "health/health.h"
#include "health/scheduler.h"
#include "tap.h"

#define NEAR(a, b) (fabs((a) - (b)) < 1e-9)

/* Whether n jobs' values (at stride) are evenly spaced by gap from first. */
static bool even(const double *v, size_t n, double first, double gap)
{
    for (size_t i = 0; i < n; i++)
        if (!NEAR(v[i], first + gap * (double)i))
            return false;
    return true;
}

static void test_spread(struct tap *t)
{
    double phase[10], first[10];
    for (size_t i = 0; i < 10; i++) {
        struct sched_place p = scheduler_place(i, 10, 10.0, false);
        phase[i] = p.phase;
        first[i] = p.first;
    }
    TAP_CHECK(t, even(phase, 10, 0.5, 1.0) && phase[9] < 10.0,
              "10 jobs over 10 s: phases 0.5, 1.5 ... 9.5, evenly spread");
    TAP_CHECK(t, even(first, 10, 0.5, 1.0), "known endpoints first start at their phase");
    struct sched_place one = scheduler_place(0, 1, 4.0, false);
    TAP_CHECK(t, NEAR(one.phase, 2.0), "a single job sits in the middle of its interval");
}

static void test_unknown_first_tenth(struct tap *t)
{
    double phase[10], first[10];
    for (size_t i = 0; i < 10; i++) {
        struct sched_place p = scheduler_place(i, 10, 10.0, true);
        phase[i] = p.phase;
        first[i] = p.first;
    }
    TAP_CHECK(t, even(phase, 10, 0.5, 1.0), "unknown endpoints keep their steady phase");
    TAP_CHECK(t, even(first, 10, 0.05, 0.1) && first[9] < 1.0,
              "unknown endpoints first start spread over the first tenth (0.05 ... 0.95 s)");
    /* Mixed plan: the flag is per job. */
    struct sched_place known = scheduler_place(3, 10, 10.0, false);
    struct sched_place unknown = scheduler_place(4, 10, 10.0, true);
    TAP_CHECK(t, NEAR(known.first, 3.5) && NEAR(unknown.first, 0.45),
              "in a mixed plan each job follows its own flag");
}

static void test_start_rate(struct tap *t)
{
    /* 5000 unknown jobs at 1 s: a tenth (0.1 s) would be 50000 starts a
     * second; the first round stretches to 5000 / SCHEDULER_START_RATE. */
    size_t n = 5000;
    double window = (double)n / SCHEDULER_START_RATE, max = 0;
    bool in = true;
    for (size_t i = 0; i < n; i++) {
        struct sched_place p = scheduler_place(i, n, 1.0, true);
        in &= p.first >= 0 && p.first < window;
        max = p.first > max ? p.first : max;
    }
    TAP_CHECK(t, in && max > 0.1 && max > window * 0.99,
              "5000 unknown jobs: first round stretched to %.3f s (last at %.4f s)", window, max);
    /* Never longer than the interval itself. */
    n = 100000;
    struct sched_place last = scheduler_place(n - 1, n, 1.0, true);
    TAP_CHECK(t, NEAR(last.first, last.phase) && last.first < 1.0,
              "100000 jobs: the first round is capped at the interval");
}

static void test_next_start(struct tap *t)
{
    /* Grid 0.5 + k s. */
    TAP_CHECK(t, NEAR(scheduler_next_start(0.5, 1.0, 0.5, 0.5), 1.5),
              "on time: the next start is one interval later");
    TAP_CHECK(t, NEAR(scheduler_next_start(0.5, 1.0, 0.05, 0.05), 0.5),
              "after an early first-round start the job moves onto its phase");
    TAP_CHECK(t, NEAR(scheduler_next_start(0.5, 1.0, 0.5, 4.2), 4.5),
              "fell behind to 4.2 s: rounds 1.5, 2.5, 3.5 skipped, next at 4.5 (phase kept)");
    TAP_CHECK(t, NEAR(scheduler_next_start(0.5, 1.0, 0.5, 1.5), 1.5),
              "a start due exactly now is kept");
    TAP_CHECK(t, NEAR(scheduler_next_start(0.5, 1.0, 1.5 - 1e-9, 1.5), 2.5),
              "a start a rounding error below its grid point still advances one round");
}

/* Counts the plans the scheduler gave back (their owner's release). */
static void count_release(void *owner)
{
    atomic_fetch_add((atomic_int *)owner, 1);
}

/* Empty plans set back to back: some replace a pending plan (freed on
 * this thread, never adopted) while the prober thread adopts another.
 * Under ThreadSanitizer, freeing the pending one read the prober
 * thread's list of plans (a race); here every plan is given back once. */
static void test_plans_replaced_while_adopting(struct tap *t)
{
    struct health_core c;
    health_core_init(&c);
    struct scheduler *s = scheduler_start(&c, NULL, 0);
    atomic_int released = 0;
    int set = 0;
    for (; set < 20000; set++) {
        scheduler_set_plan(s, NULL, 0, &released, count_release);
        if (set % 16 == 0)
            sched_yield(); /* let the prober thread adopt some */
    }
    scheduler_stop(s);
    TAP_CHECK(t, atomic_load(&released) == set,
              "every plan set is given back once, adopted or replaced (%d of %d)",
              (int)atomic_load(&released), set);
    health_core_free(&c);
}

static void test_fast_start(struct tap *t)
{
    /* Grid start planned at 10.0; a failure's result at 9.1, fast 0.2. */
    TAP_CHECK(t, NEAR(scheduler_fast_start(10.0, 9.1, 0.2, 0.0), 9.3),
              "spread 0: the next start is fast_interval after the result");
    double at = scheduler_fast_start(10.0, 9.1, 0.2, 0.999);
    TAP_CHECK(t, at > 9.1 + 0.2 * (1 - SCHEDULER_FAST_SPREAD) - 1e-9 && at < 9.3,
              "spread ~1: at most a quarter of fast_interval earlier (%.4f)", at);
    TAP_CHECK(t, NEAR(scheduler_fast_start(9.2, 9.1, 0.2, 0.0), 9.2),
              "a grid start planned before it is kept (never later than the interval's)");
    TAP_CHECK(t, NEAR(scheduler_fast_start(10.0, 9.1, 1.0, 0.0), 10.0),
              "fast_interval reaching past the grid: the grid start wins");
    /* A timeout of 1.5 s with fast 0.2: the next start is after the result,
     * so probes never overlap however short fast_interval is. */
    double start = 5.0, result = start + 1.5;
    TAP_CHECK(t, scheduler_fast_start(start + 2.0, result, 0.2, 0.5) > result,
              "counted from the result: no probe starts before the one in flight ends");
}

static void test_fast_spread(struct tap *t)
{
    /* 2500 endpoints of a region whose results arrive at the same instant
     * (a prober that ran late): their next starts spread over the last
     * quarter of fast_interval, no bucket of 1/25 of it holding more than
     * twice its share. */
    enum { N = 2500, B = 25 };
    int bucket[B] = {0};
    bool in = true;
    for (size_t i = 0; i < N; i++) {
        double at = scheduler_fast_start(100.0, 1.0, 0.2, scheduler_spread(i + 700));
        double u = (1.2 - at) / (0.2 * SCHEDULER_FAST_SPREAD); /* in (0, 1] */
        in &= u >= 0 && u <= 1.0;
        int b = (int)(u * B);
        bucket[b < B ? b : B - 1]++;
    }
    int max = 0, min = N;
    for (int b = 0; b < B; b++) {
        max = bucket[b] > max ? bucket[b] : max;
        min = bucket[b] < min ? bucket[b] : min;
    }
    TAP_CHECK(t, in && max <= 2 * N / B && min >= N / B / 2,
              "2500 simultaneous results: starts spread over 50 ms, %d to %d per 2 ms", min, max);
    bool unit = true;
    for (size_t i = 0; i < 100000; i++)
        unit &= scheduler_spread(i) >= 0 && scheduler_spread(i) < 1;
    TAP_CHECK(t, unit, "a job's spread is in [0, 1)");
}

int main(void)
{
    struct tap t = {0, 0};
    test_spread(&t);
    test_unknown_first_tenth(&t);
    test_start_rate(&t);
    test_next_start(&t);
    test_plans_replaced_while_adopting(&t);
    test_fast_start(&t);
    test_fast_spread(&t);
    return tap_done(&t);
}

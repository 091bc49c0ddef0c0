/*
 * test_fleet_sim.c -- the fleet's decision in the deterministic simulator
 * (fleet_sim.h): invariants I1, I2, I3 and I4 of issue #54 over 15,000
 * seeds of every fault class under the stamped rule (5,000 in a sanitizer
 * build, TEST_SIM_SEEDS), exact replay of two
 * seeds; the regression seeds REG-1..REG-6 (formerly OPEN-1..OPEN-6: the
 * violations of the gaps rule, doc/fleet.md "Decision model and
 * simulator"), which must hold under the stamped rule and still fail under
 * the gaps rule (the product's fleet_decide today); and REV-1..REV-3, a
 * seed for each historical fix taken back (--revert), which holds with
 * the fix and fails without: the checker is proven able to find each bug.
 *
 *   test_fleet_sim                                  CI: the seeds below (TAP)
 *   test_fleet_sim --seed N [--class C] [--rule R] [--revert V]  replay one run
 *   test_fleet_sim --seeds N --from S [--class C] [--rule R] [--revert V]  a survey
 * R: stamped (default), stamped_etcd (no direct channel) or gaps.
 * V: none (default), replay, false_failover or flap (fleet_sim.h).
 */
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fleet_sim.h"
#include "tap.h"

#define TRACE_LEN (1 << 20)

/* How many seeds test_every_class runs: 15,000 in the plain build (at
 * least 882 per class). ASan makes a run about 3x slower (15,000 seeds
 * took 11 s of CPU of the test's 12 s) and a unit test in make check has
 * about 20 s there beside other jobs, so a sanitizer build runs the first
 * 5,000 (at least 294 per class, every class); the TAP line prints the
 * count. GCC defines __SANITIZE_*__ with -fsanitize (configure's
 * --enable-sanitizers and --enable-tsan); clang answers __has_feature. */
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#define TEST_SIM_SANITIZED 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer)
#define TEST_SIM_SANITIZED 1
#endif
#endif
#ifdef TEST_SIM_SANITIZED
#define TEST_SIM_SEEDS 5000u
#define TEST_SIM_BUILD "a sanitizer build"
#else
#define TEST_SIM_SEEDS 15000u
#define TEST_SIM_BUILD "the plain build"
#endif

static int test_class_arg(const char *name)
{
    for (int c = 0; c < SIM_CLASSES; c++)
        if (strcmp(name, fleet_sim_class_name((enum fleet_sim_class)c)) == 0)
            return c;
    fprintf(stderr, "test_fleet_sim: unknown class \"%s\"\n", name);
    exit(2);
}

static enum fleet_sim_rule test_rule_arg(const char *name)
{
    for (int r = 0; r < SIM_RULES; r++)
        if (strcmp(name, fleet_sim_rule_name((enum fleet_sim_rule)r)) == 0)
            return (enum fleet_sim_rule)r;
    fprintf(stderr, "test_fleet_sim: unknown rule \"%s\" (stamped, gaps)\n", name);
    exit(2);
}

static enum fleet_sim_revert test_revert_arg(const char *name)
{
    for (int r = 0; r < SIM_REVERTS; r++)
        if (strcmp(name, fleet_sim_revert_name((enum fleet_sim_revert)r)) == 0)
            return (enum fleet_sim_revert)r;
    fprintf(stderr,
            "test_fleet_sim: unknown revert \"%s\" (none, replay, false_failover, flap, heal)\n",
            name);
    exit(2);
}

/* The product's override code logs each override it applies: thousands of
 * lines over the seeds. stderr goes to /dev/null meanwhile (the returned
 * descriptor, -1 when it could not, gives it back to test_loud). */
static int test_quiet(void)
{
    fflush(stderr);
    int saved = dup(2), nul = open("/dev/null", O_WRONLY);
    if (saved >= 0 && nul >= 0)
        dup2(nul, 2);
    if (nul >= 0)
        close(nul);
    return saved;
}

static void test_loud(int saved)
{
    if (saved < 0)
        return;
    dup2(saved, 2);
    close(saved);
}

static int test_replay(uint64_t seed, int cls, enum fleet_sim_rule rule, enum fleet_sim_revert rev)
{
    char *trace = malloc(TRACE_LEN);
    if (!trace)
        abort();
    struct fleet_sim_result r;
    enum fleet_sim_class c = cls < 0 ? fleet_sim_class_of(seed) : (enum fleet_sim_class)cls;
    int q = test_quiet();
    fleet_sim_run_revert(seed, c, rule, rev, &r, trace, TRACE_LEN);
    test_loud(q);
    fputs(trace, stdout);
    printf("seed %" PRIu64 " class %s rule %s revert %s nodes %u: I1 %u I2 %u I3 %u I4 %u worst "
           "kill->flip %" PRId64 " ms%s%s\n",
           seed, fleet_sim_class_name(c), fleet_sim_rule_name(rule), fleet_sim_revert_name(rev),
           r.nodes, r.violations[SIM_I1], r.violations[SIM_I2], r.violations[SIM_I3],
           r.violations[SIM_I4], r.worst_flip_ms, r.first[0] ? "; first: " : "", r.first);
    free(trace);
    return 0;
}

/* TEST_SIM_SEEDS seeds, every fault class (seed % SIM_CLASSES): none may
 * violate under the stamped rule; the first that does is replayed with
 * its trace. */
static void test_every_class(struct tap *t)
{
    unsigned runs = 0, bad = 0, worst[SIM_CLASSES] = {0}, per[SIM_CLASSES] = {0};
    uint64_t first = 0;
    int q = test_quiet();
    for (uint64_t seed = 1; runs < TEST_SIM_SEEDS; seed++) {
        enum fleet_sim_class c = fleet_sim_class_of(seed);
        struct fleet_sim_result r;
        fleet_sim_run(seed, c, SIM_RULE_STAMPED, &r, NULL, 0);
        runs++;
        per[c]++;
        unsigned v = r.violations[SIM_I1] + r.violations[SIM_I2] + r.violations[SIM_I3] +
                     r.violations[SIM_I4];
        if (v && !bad++)
            first = seed;
        if (r.worst_flip_ms > (int64_t)worst[c])
            worst[c] = (unsigned)r.worst_flip_ms;
    }
    test_loud(q);
    TAP_CHECK(t, bad == 0,
              "%u seeds (%s) of the %d fault classes (at least %u each): %u violate "
              "(first violating seed: %llu; 0: none)",
              runs, TEST_SIM_BUILD, SIM_CLASSES, per[SIM_CLASSES - 1], bad,
              (unsigned long long)first);
    TAP_CHECK(t, worst[SIM_CLEAN] > 0 && worst[SIM_CLEAN] <= 1000,
              "clean: the slowest kill -> flip is %u ms (<= 1000)", worst[SIM_CLEAN]);
    TAP_CHECK(t, worst[SIM_LEADER_CUT] > 0 && worst[SIM_LEADER_CUT] <= 1000,
              "leader_cut: the slowest kill -> flip is %u ms (<= 1000, issue #54's target)",
              worst[SIM_LEADER_CUT]);
    TAP_CHECK(t, worst[SIM_CUT_FROM] > 0 && worst[SIM_CUT_FROM] <= 1000,
              "cut_from: the slowest kill -> flip is %u ms (<= 1000: a node cut from the "
              "backend alone, then cut off with the leader at the kill)",
              worst[SIM_CUT_FROM]);
    TAP_CHECK(t, worst[SIM_CUT_HEAL] > 0 && worst[SIM_CUT_HEAL] <= 1000,
              "cut_heal: the slowest kill -> flip is %u ms (<= 1000: the same, healed before the "
              "election ends)",
              worst[SIM_CUT_HEAL]);
    if (bad)
        test_replay(first, -1, SIM_RULE_STAMPED, SIM_REVERT_NONE);
}

/* A seed replays exactly: the same trace, byte for byte (one of
 * elect_loaded; one of replay with issue #37's fix taken back, whose
 * violations are part of the trace). */
static void test_replays_exactly(struct tap *t)
{
    char *a = malloc(TRACE_LEN), *b = malloc(TRACE_LEN);
    if (!a || !b)
        abort();
    static const struct {
        uint64_t seed;
        enum fleet_sim_class cls;
        enum fleet_sim_revert rev;
    } runs[] = {{196, SIM_ELECT_LOADED, SIM_REVERT_NONE}, {13, SIM_REPLAY, SIM_REVERT_REPLAY}};
    for (size_t i = 0; i < sizeof(runs) / sizeof(runs[0]); i++) {
        struct fleet_sim_result ra, rb;
        int q = test_quiet();
        fleet_sim_run_revert(runs[i].seed, runs[i].cls, SIM_RULE_STAMPED, runs[i].rev, &ra, a,
                             TRACE_LEN);
        fleet_sim_run_revert(runs[i].seed, runs[i].cls, SIM_RULE_STAMPED, runs[i].rev, &rb, b,
                             TRACE_LEN);
        test_loud(q);
        TAP_CHECK(t, strlen(a) > 1000 && strcmp(a, b) == 0 && strcmp(ra.first, rb.first) == 0,
                  "seed %llu (%s) twice: the same trace (%zu bytes) and result",
                  (unsigned long long)runs[i].seed, fleet_sim_class_name(runs[i].cls), strlen(a));
    }
    free(a);
    free(b);
}

/* The violations the gaps rule showed (OPEN-1..OPEN-6 in the history):
 * regression seeds now. Each holds under the stamped rule, and still
 * fails under the gaps rule: the simulator finds the bug when the fix is
 * taken back. */
static const struct {
    const char *name;
    uint64_t seed;
    enum fleet_sim_class cls; /* the seed's class when there were 11 (seed % 11) */
    int inv;
} test_reg[] = {
    {"REG-1 (was OPEN-1) leader_cut: a node cut off with etcd's leader flips in time", 8,
     SIM_LEADER_CUT, SIM_I1},
    {"REG-2 (was OPEN-2) election: a backend dying as etcd elects is left in time", 18,
     SIM_ELECTION, SIM_I1},
    {"REG-3 (was OPEN-3) elect_loaded: no going back after the election, heartbeats before "
     "reports (issue #39's CI flap)",
     196, SIM_ELECT_LOADED, SIM_I4},
    {"REG-4 (was OPEN-4) local_elect: a node that alone lost its backend during an election "
     "moves nothing",
     10, SIM_LOCAL_ELECT, SIM_I2},
    {"REG-5 (was OPEN-5) fsync: no going back after a stall", 6194, SIM_FSYNC, SIM_I4},
    {"REG-6 (was OPEN-6) starve: a node starved for stale_after does not go back", 26391,
     SIM_STARVE, SIM_I4},
};

static void test_regressions(struct tap *t)
{
    for (size_t i = 0; i < sizeof(test_reg) / sizeof(test_reg[0]); i++) {
        uint64_t seed = test_reg[i].seed;
        struct fleet_sim_result r, old;
        fleet_sim_run(seed, test_reg[i].cls, SIM_RULE_STAMPED, &r, NULL, 0);
        fleet_sim_run(seed, test_reg[i].cls, SIM_RULE_GAPS, &old, NULL, 0);
        unsigned v = r.violations[SIM_I1] + r.violations[SIM_I2] + r.violations[SIM_I4];
        v += r.violations[SIM_I3];
        TAP_CHECK(t, v == 0, "%s (seed %llu, stamped rule): holds%s%s", test_reg[i].name,
                  (unsigned long long)seed, r.first[0] ? "; " : "", r.first);
        TAP_CHECK(t, old.violations[test_reg[i].inv] > 0,
                  "%s (seed %llu, gaps rule): the violation is still found: %s", test_reg[i].name,
                  (unsigned long long)seed, old.first);
    }
}

/* Each of the four historical fixes taken back in the model
 * (fleet_sim_revert): the seed holds with the fix and breaks the invariant
 * the fix is for without it, so the checker finds each of those bugs. The
 * gaps rule for the two fixes that are in it (the product's fleet_decide);
 * issue #37's holds under any rule. */
static const struct {
    const char *name;
    uint64_t seed;
    enum fleet_sim_class cls;
    enum fleet_sim_rule rule;
    enum fleet_sim_revert rev;
    int inv;
} test_rev[] = {
    {"REV-1 replay (issue #37): a deleted override's old value put back is never applied", 13,
     SIM_REPLAY, SIM_RULE_STAMPED, SIM_REVERT_REPLAY, SIM_I3},
    {"REV-2 false_failover (issue #39): a node that alone lost its backend while etcd's disk "
     "is slow moves nothing",
     14, SIM_LOCAL_LOAD, SIM_RULE_GAPS, SIM_REVERT_FALSE_FAILOVER, SIM_I2},
    {"REV-3 flap (issue #39's CI flap): no going back to the dead backend when heartbeats "
     "return before reports",
     84, SIM_ELECT_LOADED, SIM_RULE_GAPS, SIM_REVERT_FLAP, SIM_I4},
    {"REV-4 heal (issue #54's 30-minute I4): a node whose heartbeat etcd takes after a cut-off, "
     "before its peers' news of the death, does not go back on their ups from before",
     6, SIM_CUT_HEAL, SIM_RULE_STAMPED, SIM_REVERT_HEAL, SIM_I4},
};

static void test_reverts(struct tap *t)
{
    for (size_t i = 0; i < sizeof(test_rev) / sizeof(test_rev[0]); i++) {
        struct fleet_sim_result r, old;
        int q = test_quiet();
        fleet_sim_run(test_rev[i].seed, test_rev[i].cls, test_rev[i].rule, &r, NULL, 0);
        fleet_sim_run_revert(test_rev[i].seed, test_rev[i].cls, test_rev[i].rule, test_rev[i].rev,
                             &old, NULL, 0);
        test_loud(q);
        unsigned v = 0;
        for (int k = 0; k < SIM_INVARIANTS; k++)
            v += r.violations[k];
        TAP_CHECK(t, v == 0, "%s (seed %llu, %s rule, the fix in): holds%s%s", test_rev[i].name,
                  (unsigned long long)test_rev[i].seed, fleet_sim_rule_name(test_rev[i].rule),
                  r.first[0] ? "; " : "", r.first);
        TAP_CHECK(t, old.violations[test_rev[i].inv] > 0,
                  "%s (seed %llu, --revert %s): the violation is found: %s", test_rev[i].name,
                  (unsigned long long)test_rev[i].seed, fleet_sim_revert_name(test_rev[i].rev),
                  old.first);
    }
}

/* Why the direct channel: the same rule with etcd alone cannot both leave
 * a backend that dies during an election in time (I1, seed 18) and keep a
 * node that alone lost it during one from moving (I2, seed 10): to the
 * node, both are "my probe says down, no peer is heard". */
static void test_direct_needed(struct tap *t)
{
    struct fleet_sim_result a, b;
    fleet_sim_run(18, SIM_ELECTION, SIM_RULE_STAMPED_ETCD, &a, NULL, 0);
    fleet_sim_run(10, SIM_LOCAL_ELECT, SIM_RULE_STAMPED_ETCD, &b, NULL, 0);
    TAP_CHECK(t, a.violations[SIM_I1] > 0 && b.violations[SIM_I2] > 0,
              "without the direct channel (stamped_etcd): seed 18 breaks I1 (%s), seed 10 I2 (%s)",
              a.first, b.first);
}

int main(int argc, char **argv)
{
    int cls = -1;
    enum fleet_sim_rule rule = SIM_RULE_STAMPED;
    enum fleet_sim_revert rev = SIM_REVERT_NONE;
    for (int i = 1; i + 1 < argc; i++) {
        if (strcmp(argv[i], "--revert") == 0)
            rev = test_revert_arg(argv[i + 1]);
        if (strcmp(argv[i], "--class") == 0)
            cls = test_class_arg(argv[i + 1]);
        if (strcmp(argv[i], "--rule") == 0)
            rule = test_rule_arg(argv[i + 1]);
    }
    if (argc >= 3 && strcmp(argv[1], "--seed") == 0)
        return test_replay(strtoull(argv[2], NULL, 10), cls, rule, rev);
    if (argc >= 5 && strcmp(argv[1], "--seeds") == 0 && strcmp(argv[3], "--from") == 0) {
        int q = test_quiet();
        int rc = fleet_sim_survey(strtoull(argv[4], NULL, 10), strtoull(argv[2], NULL, 10), cls,
                                  rule, rev, stdout);
        test_loud(q);
        return rc;
    }
    struct tap t = {0};
    test_replays_exactly(&t);
    test_every_class(&t);
    test_regressions(&t);
    test_reverts(&t);
    test_direct_needed(&t);
    return tap_done(&t);
}

/*
 * test_health_composite.c -- composite check verdicts (composite.h) and
 * external verdicts (verdict.h) in a real health core.
 */
#include <math.h>
#include <string.h>

#include "health/composite.h"
#include "health/health.h"
#include "health/verdict.h"
#include "tap.h"

#define U HEALTH_UNKNOWN
#define D HEALTH_DOWN
#define P HEALTH_UP

static enum health_state judge(enum health_composite_mode m, unsigned n, size_t k,
                               const enum health_state *st, char *why, size_t len)
{
    struct health_composite c = {m, n, k};
    return health_composite_judge(&c, st, why, len);
}

static void test_judge(struct tap *t)
{
    char why[160];
    enum health_state all_up[3] = {P, P, P}, one_down[3] = {P, P, D}, one_unknown[3] = {P, U, P},
                      two_down[3] = {D, U, D}, all_unknown[3] = {U, U, U};
    TAP_CHECK(t, judge(COMPOSITE_ALL, 0, 3, all_up, why, sizeof(why)) == HEALTH_UP, "all: 3 up");
    TAP_CHECK(t, strcmp(why, "3 of 3 checks up, all needed") == 0, "all: why '%s'", why);
    TAP_CHECK(t, judge(COMPOSITE_ALL, 0, 3, one_down, NULL, 0) == HEALTH_DOWN, "all: one down");
    TAP_CHECK(t, judge(COMPOSITE_ALL, 0, 3, one_unknown, why, sizeof(why)) == HEALTH_UNKNOWN,
              "all: one unknown waits");
    TAP_CHECK(t, strstr(why, "waiting for unknown") != NULL, "all: why says waiting '%s'", why);
    TAP_CHECK(t, judge(COMPOSITE_ANY, 0, 3, one_down, NULL, 0) == HEALTH_UP, "any: two up");
    TAP_CHECK(t, judge(COMPOSITE_ANY, 0, 3, two_down, NULL, 0) == HEALTH_UNKNOWN,
              "any: two down, one unknown waits");
    enum health_state three_down[3] = {D, D, D};
    TAP_CHECK(t, judge(COMPOSITE_ANY, 0, 3, three_down, NULL, 0) == HEALTH_DOWN, "any: all down");
    TAP_CHECK(t, judge(COMPOSITE_AT_LEAST, 2, 3, one_down, why, sizeof(why)) == HEALTH_UP,
              "at_least 2: two up");
    TAP_CHECK(t, strcmp(why, "2 of 3 checks up, at_least 2 needed") == 0, "at_least: why '%s'",
              why);
    TAP_CHECK(t, judge(COMPOSITE_AT_LEAST, 2, 3, two_down, NULL, 0) == HEALTH_DOWN,
              "at_least 2: two down decides before the unknown one");
    TAP_CHECK(t, judge(COMPOSITE_AT_LEAST, 2, 3, all_unknown, NULL, 0) == HEALTH_UNKNOWN,
              "at_least 2: nothing known");
}

/* A parent moves only on a decided verdict, and keeps its state otherwise. */
static void test_update(struct tap *t)
{
    struct health_core c;
    health_core_init(&c);
    struct health_slot *parent = health_core_slot(&c, "endpoint:p/e");
    struct health_slot *kids[2] = {health_core_slot(&c, "check:p/e/a"),
                                   health_core_slot(&c, "check:p/e/b")};
    struct health_composite comp = {COMPOSITE_ALL, 0, 2};
    struct health_result ok = {.ok = true, .reason = "ok"}, bad = {.ok = false, .reason = "x"};
    health_report(&c, kids[0], &ok, 1, 1);
    health_composite_update(&c, parent, &comp, kids);
    TAP_CHECK(t, health_slot_probe(parent) == HEALTH_UNKNOWN, "one child known: parent unknown");
    health_report(&c, kids[1], &ok, 1, 1);
    health_composite_update(&c, parent, &comp, kids);
    TAP_CHECK(t, health_slot_probe(parent) == HEALTH_UP, "both up: parent up");
    health_report(&c, kids[1], &bad, 1, 1);
    health_composite_update(&c, parent, &comp, kids);
    TAP_CHECK(t, health_slot_probe(parent) == HEALTH_DOWN, "one down: parent down");
    TAP_CHECK(t, strcmp(parent->reason, "1 of 2 checks up, all needed") == 0,
              "parent's reason says why: '%s'", parent->reason);
    TAP_CHECK(t, c.transitions == 5, "transitions counted (3 of children, 2 of parent): %llu",
              (unsigned long long)c.transitions);
    health_core_release(&c, kids[0]);
    health_core_release(&c, kids[1]);
    TAP_CHECK(t, health_core_find(&c, "check:p/e/a") == NULL,
              "child slots are freed with their "
              "last reference");
    health_core_free(&c);
}

static void test_verdicts(struct tap *t)
{
    struct health_core c;
    health_core_init(&c);
    struct health_slot *s = health_core_slot(&c, "endpoint:p/e");
    struct health_result ok = {.ok = true, .reason = "ok"};
    health_report(&c, s, &ok, 1, 1);
    char id[32], id2[32];
    TAP_CHECK(t,
              verdict_put(&c, "mon", "endpoint:p/e", HEALTH_DOWN, "r", "operate", 60, NAN, id) ==
                  VERDICT_ADDED,
              "a verdict is added");
    TAP_CHECK(t, health_slot_effective(s) == HEALTH_DOWN && health_slot_probe(s) == HEALTH_UP,
              "an external down wins over the probe");
    TAP_CHECK(t,
              verdict_put(&c, "mon", "endpoint:p/e", HEALTH_UP, "r", "operate", 60, NAN, id2) ==
                      VERDICT_REPLACED &&
                  strcmp(id, id2) == 0,
              "the same source replaces its verdict and keeps the id");
    TAP_CHECK(t, health_slot_effective(s) == HEALTH_UP, "its 'up' clears its own down");
    verdict_put(&c, "other", "endpoint:p/e", HEALTH_DOWN, "r", "operate", 60, NAN, id2);
    TAP_CHECK(t, health_slot_external(s) == HEALTH_DOWN, "any down of any source decides");
    verdict_set_max(&c, 2);
    TAP_CHECK(t,
              verdict_put(&c, "third", "az:a", HEALTH_DOWN, "r", "operate", 60, NAN, id) ==
                  VERDICT_FULL,
              "max_verdicts bounds the list");
    TAP_CHECK(t, verdict_withdraw_source(&c, "other", "resolved") == 1, "withdrawn by source");
    TAP_CHECK(t, health_slot_external(s) == HEALTH_UP, "back to the remaining verdict");
    TAP_CHECK(t, verdict_expire(&c, health_now() + 61) == 1 && verdict_count(&c) == 0,
              "verdicts expire");
    TAP_CHECK(t, health_slot_external(s) == HEALTH_UNKNOWN, "no verdict: no external layer");
    verdict_set_max(&c, 10);
    verdict_put(&c, "mon", "region:gone", HEALTH_DOWN, "r", "operate", 60, NAN, id);
    json_t *saved = verdict_list_json(&c);
    verdict_free_all(&c);
    c.n_verdicts = 0;
    size_t bad = 0;
    json_array_append_new(saved, json_pack("{s:s}", "id", "junk"));
    size_t got = verdict_restore(&c, saved, health_now(), &bad);
    TAP_CHECK(t, got == 1 && bad == 1 && verdict_count(&c) == 1,
              "restore takes the valid entry, rejects the junk (bad %zu)", bad);
    json_decref(saved);
    health_core_free(&c);
}

int main(void)
{
    struct tap t = {0, 0};
    test_judge(&t);
    test_update(&t);
    test_verdicts(&t);
    return tap_done(&t);
}

/*
 * test_fleet_quorum.c -- the quorum rule of the fleet verdict and its
 * explanation (fleet/fleet_quorum.h).
 */
#include <string.h>

#include "fleet/fleet_quorum.h"
#include "tap.h"

static void test_needed(struct tap *t)
{
    struct fleet_quorum maj = {FLEET_QUORUM_MAJORITY, 0}, all = {FLEET_QUORUM_ALL, 0},
                        any = {FLEET_QUORUM_ANY, 0}, two = {FLEET_QUORUM_COUNT, 2};
    TAP_CHECK(t, fleet_quorum_needed(&maj, 0) == 0, "no reports: nothing needed");
    TAP_CHECK(t, fleet_quorum_needed(&maj, 1) == 1, "majority of 1 is 1");
    TAP_CHECK(t, fleet_quorum_needed(&maj, 2) == 2, "majority of 2 is 2 (more than half)");
    TAP_CHECK(t, fleet_quorum_needed(&maj, 3) == 2, "majority of 3 is 2");
    TAP_CHECK(t, fleet_quorum_needed(&maj, 4) == 3, "majority of 4 is 3");
    TAP_CHECK(t, fleet_quorum_needed(&maj, 50) == 26, "majority of 50 is 26");
    TAP_CHECK(t, fleet_quorum_needed(&all, 3) == 3, "all of 3 is 3");
    TAP_CHECK(t, fleet_quorum_needed(&any, 3) == 1, "any of 3 is 1");
    TAP_CHECK(t, fleet_quorum_needed(&two, 3) == 2, "count 2 of 3 is 2");
    TAP_CHECK(t, fleet_quorum_needed(&two, 1) == 1, "count 2 of a shrunk fleet of 1 is 1");
}

static void test_verdict(struct tap *t)
{
    struct fleet_quorum maj = {FLEET_QUORUM_MAJORITY, 0}, all = {FLEET_QUORUM_ALL, 0},
                        any = {FLEET_QUORUM_ANY, 0}, three = {FLEET_QUORUM_COUNT, 3};
    TAP_CHECK(t, fleet_quorum_verdict(&maj, 0, 0) == HEALTH_UNKNOWN, "no report: no verdict");
    TAP_CHECK(t, fleet_quorum_verdict(&maj, 2, 1) == HEALTH_UP,
              "one of three down: up (quorum not met)");
    TAP_CHECK(t, fleet_quorum_verdict(&maj, 1, 2) == HEALTH_DOWN, "two of three down: down");
    TAP_CHECK(t, fleet_quorum_verdict(&maj, 0, 3) == HEALTH_DOWN, "three of three down: down");
    TAP_CHECK(t, fleet_quorum_verdict(&maj, 1, 1) == HEALTH_UP, "a tie of two stays up");
    TAP_CHECK(t, fleet_quorum_verdict(&maj, 0, 1) == HEALTH_DOWN, "a lone reporter decides");
    TAP_CHECK(t, fleet_quorum_verdict(&all, 1, 2) == HEALTH_UP, "all: one up keeps it up");
    TAP_CHECK(t, fleet_quorum_verdict(&all, 0, 3) == HEALTH_DOWN, "all: every one down");
    TAP_CHECK(t, fleet_quorum_verdict(&any, 2, 1) == HEALTH_DOWN, "any: one down is enough");
    TAP_CHECK(t, fleet_quorum_verdict(&three, 2, 2) == HEALTH_UP, "count 3: two downs of four");
    TAP_CHECK(t, fleet_quorum_verdict(&three, 1, 3) == HEALTH_DOWN, "count 3: three downs");
    TAP_CHECK(t, fleet_quorum_verdict(&three, 0, 2) == HEALTH_DOWN,
              "count 3 with two reporters, both down: down (capped)");
}

static void test_names(struct tap *t)
{
    char b[16];
    struct fleet_quorum q = {FLEET_QUORUM_COUNT, 7};
    TAP_CHECK(t, strcmp(fleet_quorum_name(&q, b, sizeof(b)), "7") == 0, "count name");
    q.kind = FLEET_QUORUM_MAJORITY;
    TAP_CHECK(t, strcmp(fleet_quorum_name(&q, b, sizeof(b)), "majority") == 0, "majority name");
}

static void test_explain(struct tap *t)
{
    char b[256];
    const char *down2[] = {"fra", "iad"}, *up1[] = {"sin"}, *up2[] = {"iad", "sin"},
               *down1[] = {"fra"};
    fleet_quorum_explain(HEALTH_DOWN, down2, 2, up1, 1, b, sizeof(b));
    TAP_CHECK(t, strcmp(b, "down: 2 of 3 vantage points (fra, iad; sin says up)") == 0, "%s", b);
    fleet_quorum_explain(HEALTH_UP, down1, 1, up2, 2, b, sizeof(b));
    TAP_CHECK(t, strcmp(b, "up: 2 of 3 vantage points (iad, sin; fra says down)") == 0, "%s", b);
    fleet_quorum_explain(HEALTH_UP, NULL, 0, up2, 2, b, sizeof(b));
    TAP_CHECK(t, strcmp(b, "up: 2 of 2 vantage points (iad, sin)") == 0, "%s", b);
    fleet_quorum_explain(HEALTH_DOWN, down1, 1, up2, 2, b, sizeof(b));
    TAP_CHECK(t, strcmp(b, "down: 1 of 3 vantage points (fra; iad, sin say up)") == 0, "%s", b);
    fleet_quorum_explain(HEALTH_DOWN, down1, 1, NULL, 0, b, sizeof(b));
    TAP_CHECK(t, strcmp(b, "down: 1 of 1 vantage point (fra)") == 0, "%s", b);
    fleet_quorum_explain(HEALTH_UNKNOWN, NULL, 0, NULL, 0, b, sizeof(b));
    TAP_CHECK(t, strcmp(b, "no verdict: no vantage point reports it") == 0, "%s", b);
    char small[20];
    fleet_quorum_explain(HEALTH_DOWN, down2, 2, up1, 1, small, sizeof(small));
    TAP_CHECK(t, strlen(small) == sizeof(small) - 1 && strcmp(small + 16, "...") == 0,
              "cut to the buffer with ...: %s", small);
}

int main(void)
{
    struct tap t = {0};
    test_needed(&t);
    test_verdict(&t);
    test_names(&t);
    test_explain(&t);
    return tap_done(&t);
}

/*
 * Unit tests for src/health/override.c: adding and removing overrides,
 * the newest override of a target wins, ids are never reused, targets the
 * configuration does not have, expiry and the time of the next expiry.
 * (Expiry driven by the health service's timer: test_health_service.c.)
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "health/health.h"
#include "health/override.h"
#include "tap.h"

static unsigned long long id_num(const char *id)
{
    return strncmp(id, "ovr-", 4) == 0 ? strtoull(id + 4, NULL, 10) : 0;
}

static void test_add_remove(struct tap *t)
{
    struct health_core c;
    health_core_init(&c);
    struct health_slot *s = health_core_slot(&c, "region:us");
    char id[32];
    double t0 = health_now();
    override_add(&c, "region:us", HEALTH_DOWN, "maintenance #42", "operate", 0, id);
    TAP_CHECK(t, strcmp(id, "ovr-1") == 0, "the first id is ovr-1 (%s)", id);
    TAP_CHECK(t, health_slot_override(s) == HEALTH_DOWN && override_count(&c) == 1,
              "the override applies to its slot at once");
    json_t *j = override_get_json(&c, id);
    json_t *exp = json_object_get(j, "expires");
    double created = json_number_value(json_object_get(j, "created"));
    TAP_CHECK(t,
              j && strcmp(json_string_value(json_object_get(j, "target")), "region:us") == 0 &&
                  strcmp(json_string_value(json_object_get(j, "state")), "down") == 0 &&
                  strcmp(json_string_value(json_object_get(j, "reason")), "maintenance #42") == 0 &&
                  strcmp(json_string_value(json_object_get(j, "author")), "operate") == 0 &&
                  json_is_null(exp) && created >= t0 && created <= health_now(),
              "its JSON: target, state, reason, author, created, expires null");
    json_decref(j);
    TAP_CHECK(t, override_get_json(&c, "ovr-99") == NULL, "an unknown id has no JSON");
    TAP_CHECK(t, !override_remove(&c, "ovr-99") && override_count(&c) == 1,
              "removing an unknown id fails and changes nothing");
    TAP_CHECK(t, override_remove(&c, id), "removing it by id succeeds");
    TAP_CHECK(t, health_slot_override(s) == HEALTH_UNKNOWN && override_count(&c) == 0,
              "the slot has no override left");
    TAP_CHECK(t, !override_remove(&c, id), "a second remove of the same id fails");
    health_core_free(&c);
}

static void test_newest_wins(struct tap *t)
{
    struct health_core c;
    health_core_init(&c);
    struct health_slot *s = health_core_slot(&c, "endpoint:web/a");
    char old[32], mid[32], newest[32], other[32];
    override_add(&c, "endpoint:web/a", HEALTH_DOWN, "old", "a", 0, old);
    override_add(&c, "endpoint:web/b", HEALTH_UP, "other target", "a", 0, other);
    override_add(&c, "endpoint:web/a", HEALTH_UP, "mid", "a", 0, mid);
    override_add(&c, "endpoint:web/a", HEALTH_DOWN, "newest", "a", 0, newest);
    json_t *j = override_for_target_json(&c, "endpoint:web/a");
    TAP_CHECK(t,
              health_slot_override(s) == HEALTH_DOWN &&
                  strcmp(json_string_value(json_object_get(j, "id")), newest) == 0,
              "the newest override of a target is the one in force");
    json_decref(j);
    override_remove(&c, newest);
    TAP_CHECK(t, health_slot_override(s) == HEALTH_UP, "removing the newest: the one before wins");
    override_remove(&c, old);
    TAP_CHECK(t, health_slot_override(s) == HEALTH_UP, "removing an older one changes nothing");
    override_remove(&c, mid);
    TAP_CHECK(t, health_slot_override(s) == HEALTH_UNKNOWN, "removing the last: no override");
    json_t *list = override_list_json(&c);
    TAP_CHECK(
        t,
        json_array_size(list) == 1 &&
            strcmp(json_string_value(json_object_get(json_array_get(list, 0), "id")), other) == 0,
        "the other target's override is untouched");
    json_decref(list);
    health_core_free(&c);
}

static void test_ids_never_reused(struct tap *t)
{
    struct health_core c;
    health_core_init(&c);
    char id[32];
    unsigned long long last = 0;
    bool increasing = true;
    for (int i = 0; i < 20; i++) {
        override_add(&c, "region:eu", i % 2 ? HEALTH_UP : HEALTH_DOWN, "r", "a", 0, id);
        increasing &= id_num(id) > last;
        last = id_num(id);
        if (i % 3 != 2) /* remove most of them, the newest included */
            override_remove(&c, id);
    }
    TAP_CHECK(t, increasing && last == 20,
              "ids keep increasing when overrides (the newest too) are removed (last %llu)", last);
    override_add(&c, "region:eu", HEALTH_DOWN, "r", "a", 0, id);
    TAP_CHECK(t, id_num(id) == 21, "the next id after removals is still new (%s)", id);
    health_core_free(&c);
}

static void test_target_not_in_config(struct tap *t)
{
    struct health_core c;
    health_core_init(&c);
    TAP_CHECK(t, health_core_find(&c, "endpoint:gone/x") == NULL, "no slot before");
    char id[32];
    override_add(&c, "endpoint:gone/x", HEALTH_UP, "pin", "a", 0, id);
    struct health_slot *s = health_core_find(&c, "endpoint:gone/x");
    TAP_CHECK(t, s && !health_slot_in_use(&c, s) && health_slot_override(s) == HEALTH_UP,
              "an override of an unknown target gets a slot, not in use, with the override");
    struct health_slot *mapped = health_core_slot(&c, "endpoint:gone/x");
    TAP_CHECK(t, mapped == s && health_slot_in_use(&c, s) && health_slot_override(s) == HEALTH_UP,
              "when the target comes back it maps to that slot, override in force");
    health_core_free(&c);
}

static void test_expiry(struct tap *t)
{
    struct health_core c;
    health_core_init(&c);
    struct health_slot *s = health_core_slot(&c, "region:us");
    char a[32], b[32], d[32];
    double now = health_now();
    TAP_CHECK(t, override_next_expiry(&c, now) < 0, "no overrides: no next expiry");
    override_add(&c, "region:us", HEALTH_DOWN, "forever", "x", 0, a);
    TAP_CHECK(t, override_next_expiry(&c, now) < 0, "an override without expiry: none either");
    override_add(&c, "region:us", HEALTH_UP, "short", "x", now + 10, b);
    override_add(&c, "region:eu", HEALTH_DOWN, "long", "x", now + 100, d);
    double next = override_next_expiry(&c, now);
    TAP_CHECK(t, fabs(next - 10) < 1e-6, "next expiry is the earliest (%.6f s)", next);
    TAP_CHECK(t, override_expire(&c, now + 9.999) == 0 && health_slot_override(s) == HEALTH_UP,
              "nothing expires before its time");
    TAP_CHECK(t, override_expire(&c, now + 10) == 1 && health_slot_override(s) == HEALTH_DOWN,
              "at its time it expires and the older override is in force again");
    TAP_CHECK(t, override_get_json(&c, b) == NULL && override_count(&c) == 2,
              "the expired override is gone, the others stay");
    next = override_next_expiry(&c, now + 10);
    TAP_CHECK(t, fabs(next - 90) < 1e-6, "then the next one (%.6f s)", next);
    /* An overdue override in front of a later one: due now, not later. */
    char late[32];
    override_add(&c, "az:x", HEALTH_DOWN, "overdue", "x", now - 5, late);
    next = override_next_expiry(&c, now);
    TAP_CHECK(t, next > 0 && next <= 0.001,
              "an overdue override is due now even with a later one listed (%.6f s)", next);
    TAP_CHECK(t, override_expire(&c, now) == 1 && override_count(&c) == 2, "and it expires");
    health_core_free(&c);
}

static void test_cap(struct tap *t)
{
    struct health_core c;
    health_core_init(&c);
    TAP_CHECK(t, c.max_overrides == HEALTH_MAX_OVERRIDES_DEFAULT && c.max_overrides == 1000,
              "the default cap is 1000");
    override_set_max(&c, 3);
    char id[32], first[32];
    int rc = 0;
    for (int i = 0; i < 3; i++)
        rc |= override_add(&c, "region:eu", HEALTH_DOWN, "r", "a", 0, i ? id : first);
    TAP_CHECK(t, rc == 0 && override_count(&c) == 3, "three overrides fit a cap of 3");
    rc = override_add(&c, "region:us", HEALTH_DOWN, "one more", "a", 0, id);
    struct health_slot *us = health_core_find(&c, "region:us");
    TAP_CHECK(t, rc == -1 && id[0] == '\0' && override_count(&c) == 3,
              "the fourth is refused and nothing is added");
    TAP_CHECK(t, !us || health_slot_override(us) == HEALTH_UNKNOWN,
              "the refused override does not apply");
    override_remove(&c, first);
    rc = override_add(&c, "region:us", HEALTH_DOWN, "room again", "a", 0, id);
    TAP_CHECK(t, rc == 0 && id_num(id) == 4 && override_count(&c) == 3,
              "after a removal there is room again, with a new id (%s)", id);
    override_set_max(&c, 1);
    TAP_CHECK(t,
              override_count(&c) == 3 && override_add(&c, "az:a", HEALTH_UP, "r", "a", 0, id) != 0,
              "lowering the cap keeps the overrides there and refuses new ones");
    health_core_free(&c);
}

static void test_field_rules(struct tap *t)
{
    static const char *const good[] = {"region:us", "az:us-1a", "endpoint:web/a1",
                                       "endpoint:p/n/with/slash", "region:us east"};
    static const char *const bad[] = {"us",          "region:",       "endpoint:web",
                                      "endpoint:/a", "endpoint:web/", "region:us\nforged=1",
                                      "az:a\tb",     "host:x",        ""};
    bool ok = true;
    for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++)
        ok &= override_check_target(good[i]) == NULL;
    TAP_CHECK(t, ok, "valid targets pass");
    ok = true;
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        ok &= override_check_target(bad[i]) != NULL;
    TAP_CHECK(t, ok, "bad targets (no kind, no name, control characters) are refused");
    char longt[1100];
    memset(longt, 'x', sizeof(longt));
    memcpy(longt, "region:", 7);
    longt[sizeof(longt) - 1] = '\0';
    TAP_CHECK(t, override_check_target(longt) != NULL, "a target over 1024 octets is refused");
    char reason[1026];
    memset(reason, 'r', sizeof(reason));
    reason[1024] = '\0';
    bool r1024 = override_check_reason(reason) == NULL;
    reason[1024] = 'r';
    reason[1025] = '\0';
    TAP_CHECK(t, r1024 && override_check_reason(reason) != NULL && override_check_reason(""),
              "reasons: 1 to 1024 octets");
    TAP_CHECK(t,
              !override_check_author("operate") && !override_check_author("none") &&
                  override_check_author("") && override_check_author("a b") &&
                  override_check_author("x\ny"),
              "authors: a token name, no spaces or control characters");
    uint64_t n = 0;
    TAP_CHECK(t,
              override_id_parse("ovr-1", &n) && n == 1 &&
                  override_id_parse("ovr-4503599627370495", &n) && n == OVERRIDE_ID_MAX,
              "ids ovr-1 .. ovr-2^52-1 parse");
    TAP_CHECK(t,
              !override_id_parse("ovr-0", &n) && !override_id_parse("ovr-01", &n) &&
                  !override_id_parse("ovr-4503599627370496", &n) &&
                  !override_id_parse("ovr-18446744073709551615", &n) &&
                  !override_id_parse("ovr-99999999999999999999", &n) &&
                  !override_id_parse("ovr-", &n) && !override_id_parse("ovr-1x", &n) &&
                  !override_id_parse("OVR-1", &n) && !override_id_parse("ovr--1", &n),
              "zero, leading zeros, ids past 2^52-1 (wrapping ones too) and junk do not");
}

static void test_state_without(struct tap *t)
{
    struct health_core c;
    health_core_init(&c);
    char a[32], b[32], target[64];
    enum health_state after = HEALTH_UP;
    override_add(&c, "region:us", HEALTH_DOWN, "older", "x", 0, a);
    override_add(&c, "region:us", HEALTH_UP, "newer", "x", 0, b);
    TAP_CHECK(t,
              override_state_without(&c, b, target, sizeof(target), &after) &&
                  strcmp(target, "region:us") == 0 && after == HEALTH_DOWN,
              "without the newest override the older one decides");
    TAP_CHECK(t,
              override_state_without(&c, a, target, sizeof(target), &after) && after == HEALTH_UP,
              "without an older one the newest still decides");
    override_remove(&c, a);
    TAP_CHECK(
        t, override_state_without(&c, b, target, sizeof(target), &after) && after == HEALTH_UNKNOWN,
        "without the only one: no override");
    TAP_CHECK(t, !override_state_without(&c, "ovr-77", target, sizeof(target), &after),
              "an unknown id: false");
    health_core_free(&c);
}

int main(void)
{
    struct tap t = {0, 0};
    test_cap(&t);
    test_field_rules(&t);
    test_state_without(&t);
    test_add_remove(&t);
    test_newest_wins(&t);
    test_ids_never_reused(&t);
    test_target_not_in_config(&t);
    test_expiry(&t);
    return tap_done(&t);
}

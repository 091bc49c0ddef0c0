/*
 * test_fleet_compat.c -- the version-skew rule of a fleet
 * (fleet/fleet_compat.h): which format a node writes given its members'
 * announcements, what a node record announces, and which record formats
 * are read or refused.
 */
#include <string.h>

#include "fleet/fleet_compat.h"
#include "tap.h"

static void test_write_format(struct tap *t)
{
    size_t low;
    bool old;
    int none[1] = {0};
    TAP_CHECK(t,
              fleet_compat_format_of(none, 0, &low, &old) == FLEET_FORMAT_CUR && low == 0 && !old,
              "alone: this release's format");
    TAP_CHECK(t, fleet_compat_format_of(none, 1, &low, &old) == FLEET_FORMAT_PREV && low == 0,
              "a member not seen yet counts as the release before");
    int mixed[3] = {FLEET_FORMAT_CUR, FLEET_FORMAT_PREV, FLEET_FORMAT_CUR};
    TAP_CHECK(t, fleet_compat_format_of(mixed, 3, &low, &old) == FLEET_FORMAT_PREV && low == 1,
              "one member of the release before: its format, and it is the one named");
    int all[3] = {FLEET_FORMAT_CUR, FLEET_FORMAT_CUR, FLEET_FORMAT_CUR};
    TAP_CHECK(t, fleet_compat_format_of(all, 3, &low, &old) == FLEET_FORMAT_CUR && low == 3,
              "every member upgraded: this release's format");
    int newer[2] = {FLEET_FORMAT_CUR + 1, FLEET_FORMAT_CUR};
    TAP_CHECK(t, fleet_compat_format_of(newer, 2, &low, &old) == FLEET_FORMAT_CUR,
              "a newer member: never above this release's own format");
    int ancient[2] = {1, FLEET_FORMAT_CUR};
    TAP_CHECK(t, fleet_compat_format_of(ancient, 2, &low, &old) == FLEET_FORMAT_PREV && old,
              "a member older than the window: skew, and nothing older than PREV is written");
}

static void test_announced(struct tap *t)
{
    json_t *cur = json_object();
    fleet_compat_announce(cur);
    TAP_CHECK(t, fleet_compat_announced(cur) == FLEET_FORMAT_CUR, "own announcement read back");
    json_t *prev_signed = json_pack("{s:i, s:i}", "format", 2, "layout", 2);
    TAP_CHECK(t, fleet_compat_announced(prev_signed) == 2, "release before, signed: format 2");
    json_t *prev = json_pack("{s:i}", "layout", 2);
    TAP_CHECK(t, fleet_compat_announced(prev) == 2, "release before, unsigned: layout 2 is 2");
    json_t *older = json_pack("{s:s}", "version", "x");
    TAP_CHECK(t, fleet_compat_announced(older) == 1, "no layout: format 1");
    json_decref(cur);
    json_decref(prev_signed);
    json_decref(prev);
    json_decref(older);
}

static void test_check(struct tap *t)
{
    char why[300];
    json_t *none = json_object();
    TAP_CHECK(t, fleet_compat_check(none, false, why, sizeof(why)) == FLEET_SIG_OK,
              "no format, not required: the release before's");
    TAP_CHECK(t, fleet_compat_check(none, true, why, sizeof(why)) == FLEET_REJ_OLD_FORMAT,
              "no format, required: old_format");
    for (int f = FLEET_FORMAT_PREV; f <= FLEET_FORMAT_READ_MAX; f++) {
        json_t *v = json_pack("{s:i}", "format", f);
        TAP_CHECK(t, fleet_compat_check(v, true, why, sizeof(why)) == FLEET_SIG_OK,
                  "format %d is read", f);
        json_decref(v);
    }
    json_t *far = json_pack("{s:i}", "format", FLEET_FORMAT_READ_MAX + 1);
    TAP_CHECK(t, fleet_compat_check(far, false, why, sizeof(why)) == FLEET_REJ_NEW_FORMAT,
              "a format past the window: new_format");
    char want[64];
    snprintf(want, sizeof(want), "record format %d is newer", FLEET_FORMAT_READ_MAX + 1);
    TAP_CHECK(t, strstr(why, want) && strstr(why, "formats 2 to"), "both formats named: %s", why);
    json_t *one = json_pack("{s:i}", "format", 1);
    TAP_CHECK(t, fleet_compat_check(one, false, why, sizeof(why)) == FLEET_REJ_OLD_FORMAT,
              "format 1 written out: old_format");
    json_t *text = json_pack("{s:s}", "format", "3");
    TAP_CHECK(t, fleet_compat_check(text, false, why, sizeof(why)) == FLEET_REJ_OLD_FORMAT,
              "a format that is not a number is refused");
    json_decref(none);
    json_decref(far);
    json_decref(one);
    json_decref(text);
}

static void test_stamp(struct tap *t)
{
    json_t *v = json_object();
    fleet_compat_stamp(v, FLEET_FORMAT_PREV);
    TAP_CHECK(t, json_object_size(v) == 0, "at the release before's format: written as it wrote");
    fleet_compat_stamp(v, FLEET_FORMAT_CUR);
    TAP_CHECK(t, json_integer_value(json_object_get(v, "format")) == FLEET_FORMAT_CUR,
              "at this release's format: stamped");
    json_decref(v);
}

int main(void)
{
    struct tap t = {0};
    test_write_format(&t);
    test_announced(&t);
    test_check(&t);
    test_stamp(&t);
    return tap_done(&t);
}

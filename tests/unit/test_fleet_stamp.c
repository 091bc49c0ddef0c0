/*
 * test_fleet_stamp.c -- the stamps of reports and heartbeats
 * (fleet/fleet_stamp.h): what is written reads back the same; a stamp with
 * a field missing, of the wrong type or out of range is refused with its
 * reason, never taken in part; an older writer's (no stamp) is "absent".
 */
#include <string.h>

#include "fleet/fleet_stamp.h"
#include "tap.h"

#define T0 1700000000.0

/* Parses the heartbeat text; *why the reason. */
static struct fleet_stamp_beat test_beat(const char *text, enum fleet_stamp_why *why)
{
    json_error_t err;
    json_t *v = json_loads(text, JSON_DECODE_ANY, &err);
    struct fleet_stamp_beat b = {.have = true, .as_of = 1, .rrev = 1, .pending = true};
    *why = fleet_stamp_beat_parse(v, &b);
    json_decref(v);
    return b;
}

static bool test_cleared(const struct fleet_stamp_beat *b)
{
    return !b->have && b->as_of == 0 && b->rrev == 0 && !b->pending;
}

static void test_beat_roundtrip(struct tap *t)
{
    json_t *v = json_pack("{s:f}", "t", T0 + 10);
    struct fleet_stamp_beat in = {.have = true, .as_of = T0 + 9.75, .rrev = 42, .pending = false};
    fleet_stamp_beat_put(v, &in);
    struct fleet_stamp_beat out;
    enum fleet_stamp_why why = fleet_stamp_beat_parse(v, &out);
    TAP_CHECK(t,
              why == FLEET_STAMP_OK && out.have && out.as_of == in.as_of && out.rrev == 42 &&
                  !out.pending,
              "a heartbeat's stamp reads back as written");
    in.pending = true;
    fleet_stamp_beat_put(v, &in);
    why = fleet_stamp_beat_parse(v, &out);
    TAP_CHECK(t, why == FLEET_STAMP_OK && out.pending, "pending reads back");
    json_decref(v);
    v = json_pack("{s:f}", "t", T0);
    in.have = false;
    fleet_stamp_beat_put(v, &in);
    TAP_CHECK(t, json_object_size(v) == 1, "no stamp: nothing added");
    json_decref(v);
}

static void test_beat_bad(struct tap *t)
{
    enum fleet_stamp_why why;
    struct fleet_stamp_beat b = test_beat("{\"t\": 1700000000.5}", &why);
    TAP_CHECK(t, why == FLEET_STAMP_ABSENT && test_cleared(&b), "an older writer's: absent");
    b = test_beat("{\"t\": 1700000000, \"as_of\": 1699999999.5, \"rrev\": 3}", &why);
    TAP_CHECK(t, why == FLEET_STAMP_MISSING && test_cleared(&b), "pending missing: refused");
    b = test_beat("{\"t\": 1700000000, \"rrev\": 3, \"pending\": false}", &why);
    TAP_CHECK(t, why == FLEET_STAMP_MISSING && test_cleared(&b), "as_of missing: refused");
    b = test_beat("{\"t\": 1700000000, \"as_of\": \"1699999999\", \"rrev\": 3, \"pending\": false}",
                  &why);
    TAP_CHECK(t, why == FLEET_STAMP_TYPE && test_cleared(&b), "as_of a string: type");
    b = test_beat("{\"t\": 1700000000, \"as_of\": 1699999999, \"rrev\": 3.5, \"pending\": false}",
                  &why);
    TAP_CHECK(t, why == FLEET_STAMP_TYPE && test_cleared(&b), "rrev a real: type");
    b = test_beat("{\"t\": 1700000000, \"as_of\": 1699999999, \"rrev\": 3, \"pending\": 0}", &why);
    TAP_CHECK(t, why == FLEET_STAMP_TYPE && test_cleared(&b), "pending a number: type");
    b = test_beat("{\"t\": 1700000000, \"as_of\": null, \"rrev\": 3, \"pending\": true}", &why);
    TAP_CHECK(t, why == FLEET_STAMP_TYPE && test_cleared(&b), "as_of null: type");
    b = test_beat("{\"t\": 1700000000, \"as_of\": 1699999999, \"rrev\": -1, \"pending\": true}",
                  &why);
    TAP_CHECK(t, why == FLEET_STAMP_RANGE && test_cleared(&b), "rrev negative: range");
    b = test_beat("{\"t\": 1700000000, \"as_of\": 1699999999, \"rrev\": 9007199254740993, "
                  "\"pending\": true}",
                  &why);
    TAP_CHECK(t, why == FLEET_STAMP_RANGE && test_cleared(&b), "rrev above 2^53: range");
    b = test_beat("{\"t\": 1700000000, \"as_of\": 1699999999, \"rrev\": 9007199254740992, "
                  "\"pending\": true}",
                  &why);
    TAP_CHECK(t, why == FLEET_STAMP_OK && b.rrev == 9007199254740992ULL, "rrev 2^53: taken");
    b = test_beat("{\"t\": 1700000000, \"as_of\": 1e300, \"rrev\": 1, \"pending\": true}", &why);
    TAP_CHECK(t, why == FLEET_STAMP_RANGE && test_cleared(&b), "as_of 1e300: range");
    b = test_beat("{\"t\": 1700000000, \"as_of\": -5, \"rrev\": 1, \"pending\": true}", &why);
    TAP_CHECK(t, why == FLEET_STAMP_RANGE && test_cleared(&b), "as_of negative: range");
    b = test_beat("{\"t\": 1700000000, \"as_of\": 0, \"rrev\": 1, \"pending\": true}", &why);
    TAP_CHECK(t, why == FLEET_STAMP_RANGE, "as_of 0: range");
    b = test_beat("{\"t\": 1700000000, \"as_of\": 1700000002, \"rrev\": 1, \"pending\": true}",
                  &why);
    TAP_CHECK(t, why == FLEET_STAMP_RANGE, "as_of 2 s after the heartbeat's own t: range");
    b = test_beat("{\"t\": 1700000000, \"as_of\": 1700000000.5, \"rrev\": 1, \"pending\": true}",
                  &why);
    TAP_CHECK(t, why == FLEET_STAMP_OK, "as_of 0.5 s after t (clock resolution): taken");
    b = test_beat("{\"t\": 1700000000, \"as_of\": 1699900000, \"rrev\": 1, \"pending\": true}",
                  &why);
    TAP_CHECK(t, why == FLEET_STAMP_RANGE, "as_of more than a day before t: range");
    b = test_beat("{\"as_of\": 1699900000, \"rrev\": 1, \"pending\": false}", &why);
    TAP_CHECK(t, why == FLEET_STAMP_OK && b.as_of == 1699900000, "no t: as_of taken as it is");
    b = test_beat("[1, 2]", &why);
    TAP_CHECK(t, why == FLEET_STAMP_TYPE && test_cleared(&b), "an array: type");
    b = test_beat("\"x\"", &why);
    TAP_CHECK(t, why == FLEET_STAMP_TYPE, "a string: type");
    struct fleet_stamp_beat n;
    TAP_CHECK(t, fleet_stamp_beat_parse(NULL, &n) == FLEET_STAMP_TYPE && test_cleared(&n),
              "NULL: type, no crash");
}

static void test_report(struct tap *t)
{
    json_t *v = json_pack("{s:s, s:f}", "s", "down", "t", T0);
    fleet_stamp_report_put(v, 7);
    uint64_t r = 99;
    TAP_CHECK(t, fleet_stamp_report_parse(v, &r) == FLEET_STAMP_OK && r == 7,
              "a report's rrev reads back");
    json_object_del(v, "rrev");
    TAP_CHECK(t, fleet_stamp_report_parse(v, &r) == FLEET_STAMP_ABSENT && r == 0,
              "an older writer's report: absent");
    json_object_set_new(v, "rrev", json_string("7"));
    TAP_CHECK(t, fleet_stamp_report_parse(v, &r) == FLEET_STAMP_TYPE && r == 0, "a string: type");
    json_object_set_new(v, "rrev", json_integer(0));
    TAP_CHECK(t, fleet_stamp_report_parse(v, &r) == FLEET_STAMP_RANGE, "0: range (from 1)");
    json_object_set_new(v, "rrev", json_integer(-3));
    TAP_CHECK(t, fleet_stamp_report_parse(v, &r) == FLEET_STAMP_RANGE, "negative: range");
    json_object_set_new(v, "rrev", json_integer(INT64_MAX));
    TAP_CHECK(t, fleet_stamp_report_parse(v, &r) == FLEET_STAMP_RANGE && r == 0,
              "INT64_MAX: range");
    json_decref(v);
    TAP_CHECK(t, fleet_stamp_report_parse(NULL, &r) == FLEET_STAMP_TYPE, "NULL: type");
}

static void test_probe_wall(struct tap *t)
{
    TAP_CHECK(t, fleet_stamp_probe_wall(0, 5000, T0) == 0, "never ran: 0");
    double w = fleet_stamp_probe_wall(4750, 5000, T0);
    TAP_CHECK(t, w > T0 - 0.2501 && w < T0 - 0.2499, "ran 250 ms ago: now - 0.25 s (%.4f)", w - T0);
    TAP_CHECK(t,
              strcmp(fleet_stamp_why_name(FLEET_STAMP_RANGE), "range") == 0 &&
                  strcmp(fleet_stamp_why_name(FLEET_STAMP_WHYS), "?") == 0,
              "reason names");
}

int main(void)
{
    struct tap t = {0};
    test_beat_roundtrip(&t);
    test_beat_bad(&t);
    test_report(&t);
    test_probe_wall(&t);
    return tap_done(&t);
}

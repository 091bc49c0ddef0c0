/*
 * fleet_stamp.c -- building and reading the stamps of reports and
 * heartbeats (fleet_stamp.h). Pure: jansson only.
 */
#include "fleet/fleet_stamp.h"

#include <math.h>

void fleet_stamp_beat_put(json_t *v, const struct fleet_stamp_beat *b)
{
    if (!b->have)
        return;
    json_object_set_new(v, "as_of", json_real(b->as_of));
    json_object_set_new(v, "rrev", json_integer((json_int_t)b->rrev));
    json_object_set_new(v, "pending", json_boolean(b->pending));
}

/* A sequence: an integer in [0, FLEET_STAMP_RREV_MAX]. */
static enum fleet_stamp_why fleet_stamp_rrev(const json_t *j, uint64_t *out)
{
    if (!json_is_integer(j))
        return FLEET_STAMP_TYPE;
    json_int_t n = json_integer_value(j);
    if (n < 0 || (uint64_t)n > FLEET_STAMP_RREV_MAX)
        return FLEET_STAMP_RANGE;
    *out = (uint64_t)n;
    return FLEET_STAMP_OK;
}

/* The heartbeat's as_of: a positive number, not after its "t" (when it has
 * one) by more than FLEET_STAMP_AHEAD_S nor before it by more than
 * FLEET_STAMP_AGE_MAX_S. */
static enum fleet_stamp_why fleet_stamp_as_of(const json_t *v, const json_t *j, double *out)
{
    if (!json_is_number(j))
        return FLEET_STAMP_TYPE;
    double a = json_number_value(j);
    double t = json_number_value(json_object_get(v, "t"));
    if (!isfinite(a) || a <= 0 || a > 1e12)
        return FLEET_STAMP_RANGE;
    if (t > 0 && (a > t + FLEET_STAMP_AHEAD_S || a < t - FLEET_STAMP_AGE_MAX_S))
        return FLEET_STAMP_RANGE;
    *out = a;
    return FLEET_STAMP_OK;
}

enum fleet_stamp_why fleet_stamp_beat_parse(const json_t *v, struct fleet_stamp_beat *out)
{
    *out = (struct fleet_stamp_beat){0};
    if (!json_is_object(v))
        return FLEET_STAMP_TYPE;
    const json_t *a = json_object_get(v, "as_of"), *r = json_object_get(v, "rrev"),
                 *p = json_object_get(v, "pending");
    if (!a && !r && !p)
        return FLEET_STAMP_ABSENT;
    if (!a || !r || !p)
        return FLEET_STAMP_MISSING;
    struct fleet_stamp_beat b = {.have = true};
    enum fleet_stamp_why why = fleet_stamp_as_of(v, a, &b.as_of);
    if (why == FLEET_STAMP_OK)
        why = fleet_stamp_rrev(r, &b.rrev);
    if (why == FLEET_STAMP_OK && !json_is_boolean(p))
        why = FLEET_STAMP_TYPE;
    if (why != FLEET_STAMP_OK)
        return why;
    b.pending = json_is_true(p);
    *out = b;
    return FLEET_STAMP_OK;
}

void fleet_stamp_report_put(json_t *v, uint64_t rrev)
{
    json_object_set_new(v, "rrev", json_integer((json_int_t)rrev));
}

enum fleet_stamp_why fleet_stamp_report_parse(const json_t *v, uint64_t *rrev)
{
    *rrev = 0;
    const json_t *r = json_is_object(v) ? json_object_get(v, "rrev") : NULL;
    if (!r)
        return json_is_object(v) ? FLEET_STAMP_ABSENT : FLEET_STAMP_TYPE;
    uint64_t n = 0;
    enum fleet_stamp_why why = fleet_stamp_rrev(r, &n);
    if (why == FLEET_STAMP_OK && n == 0)
        why = FLEET_STAMP_RANGE; /* a report's sequence starts at 1 */
    if (why == FLEET_STAMP_OK)
        *rrev = n;
    return why;
}

double fleet_stamp_probe_wall(int64_t ran_ms, int64_t now_ms, double now_wall)
{
    if (ran_ms <= 0)
        return 0;
    return now_wall - (double)(now_ms - ran_ms) / 1000.0;
}

const char *fleet_stamp_why_name(enum fleet_stamp_why why)
{
    static const char *const names[FLEET_STAMP_WHYS] = {"ok", "absent", "missing", "type", "range"};
    return (unsigned)why < FLEET_STAMP_WHYS ? names[why] : "?";
}

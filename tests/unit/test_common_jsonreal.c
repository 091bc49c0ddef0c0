/*
 * Unit tests for src/common/jsonreal.c: reals in the fewest digits that
 * read back as the same double (0.95, 38.9, 1e-05), whole numbers as
 * jansson writes them (5.0, not 5 or 5e+00), integers, strings (digits
 * and escaped quotes inside) and keys untouched; and over 200,000
 * random doubles, each printed form reads back as the very double, is the
 * shortest (the first of "%.1g" to "%.17g" that reads back) and is never
 * longer than jansson's.
 */
#include <jansson.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/jsonreal.h"
#include "tap.h"

static void check_dump(struct tap *t, json_t *j, const char *want)
{
    char *got = jsonreal_dumps(j, JSON_COMPACT | JSON_SORT_KEYS);
    TAP_CHECK(t, got && strcmp(got, want) == 0, "%s (got %s)", want, got ? got : "NULL");
    free(got);
    json_decref(j);
}

static uint64_t rng_next(uint64_t *s)
{
    *s ^= *s << 13;
    *s ^= *s >> 7;
    *s ^= *s << 17;
    return *s;
}

/* The first of "%.1g" .. "%.17g" that reads back as v: the shortest. */
static void shortest(double v, char *buf, size_t len)
{
    for (int p = 1; p <= 17; p++) {
        snprintf(buf, len, "%.*g", p, v);
        if (strtod(buf, NULL) == v)
            return;
    }
}

/* n random doubles (random bits: every exponent and fraction, and one in
 * two with few digits): each printed form reads back exactly, has the
 * shortest one's digits and is no longer than "%.17g"'s. */
static void check_random(struct tap *t, size_t n)
{
    uint64_t s = 0x9e3779b97f4a7c15u;
    size_t bad = 0, longer = 0, not_short = 0;
    char first[100] = "";
    for (size_t i = 0; i < n; i++) {
        uint64_t bits = rng_next(&s);
        double v;
        memcpy(&v, &bits, sizeof(v));
        if (i % 2) /* a figure as people write them: 0.95, 1234.5 */
            v = (double)(bits % 100000) / (double)(1u << (bits >> 60)) / 100.0;
        if (v != v || v - v != 0) /* NaN, infinities: not JSON */
            continue;
        char buf[40], ref[40], sh[40];
        jsonreal_format(v, buf, sizeof(buf));
        snprintf(ref, sizeof(ref), "%.17g", v);
        shortest(v, sh, sizeof(sh));
        bad += strtod(buf, NULL) != v || !strpbrk(buf, ".e");
        longer += strlen(buf) > strlen(ref) + (strpbrk(ref, ".e") ? 0 : 2);
        /* Whole numbers keep jansson's form ("10.0", where "%.1g" says
         * "1e+01"): same value, compared as such. */
        if (v != floor(v) && strcmp(buf, sh) != 0 && not_short++ == 0)
            snprintf(first, sizeof(first), "%s, not %s", buf, sh);
    }
    TAP_CHECK(t, bad == 0, "%zu random doubles read back exactly, as reals (%zu not)", n, bad);
    TAP_CHECK(t, not_short == 0, "each the shortest form (%zu not: %s)", not_short, first);
    TAP_CHECK(t, longer == 0, "none longer than jansson's form (%zu were)", longer);
}

int main(void)
{
    struct tap t = {0, 0};
    char buf[40];
    TAP_CHECK(&t, strcmp(jsonreal_format(0.95, buf, sizeof(buf)), "0.95") == 0, "0.95 (%s)", buf);
    TAP_CHECK(&t, strcmp(jsonreal_format(38.9, buf, sizeof(buf)), "38.9") == 0, "38.9 (%s)", buf);
    TAP_CHECK(&t, strcmp(jsonreal_format(-77.0, buf, sizeof(buf)), "-77.0") == 0, "-77.0 (%s)",
              buf);
    TAP_CHECK(&t, strcmp(jsonreal_format(1e-5, buf, sizeof(buf)), "1e-05") == 0, "1e-05 (%s)", buf);
    TAP_CHECK(&t, strcmp(jsonreal_format(0.1 + 0.2, buf, sizeof(buf)), "0.30000000000000004") == 0,
              "0.1 + 0.2 keeps its 17 digits (%s)", buf);
    TAP_CHECK(&t, strcmp(jsonreal_format(1e300, buf, sizeof(buf)), "1e+300") == 0, "1e+300 (%s)",
              buf);
    TAP_CHECK(&t,
              strcmp(jsonreal_format(9.4555282978391e-310, buf, sizeof(buf)),
                     "9.4555282978391e-310") == 0,
              "a subnormal in its 14 digits (%s)", buf);
    check_dump(&t, json_pack("{s:f, s:i, s:f}", "load", 0.95, "n", 12, "whole", 5.0),
               "{\"load\":0.95,\"n\":12,\"whole\":5.0}");
    check_dump(&t,
               json_pack("[f, f, s, s]", 1700000000.123456, -0.0001, "0.94999999999999996",
                         "a \\\"1.10000000000000009\" b"),
               "[1700000000.123456,-0.0001,\"0.94999999999999996\","
               "\"a \\\\\\\"1.10000000000000009\\\" b\"]");
    check_dump(&t, json_pack("{s:[f]}", "1.5", 1.1), "{\"1.5\":[1.1]}");
    json_t *bare = json_real(0.95);
    char *indented = jsonreal_dumps(bare, JSON_INDENT(1));
    json_decref(bare);
    TAP_CHECK(&t, indented && strcmp(indented, "0.95") == 0, "a bare real (%s)", indented);
    free(indented);
    TAP_CHECK(&t, jsonreal_dumps(NULL, 0) == NULL, "NULL gives NULL");
    check_random(&t, 200000);
    return tap_done(&t);
}

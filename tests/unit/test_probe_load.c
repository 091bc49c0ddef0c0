/*
 * Unit tests for src/health/probe_load.c: the "load" object of a check
 * (json_pointer or metric, refused at its path otherwise) and reading the
 * figure from a reply body: RFC 6901 pointers (escapes, arrays), the
 * Prometheus text format (labels, timestamps, comments, a longer name),
 * and every way a body may not hold a usable figure (NaN).
 */
#include <math.h>
#include <string.h>

#include "common/errlist.h"
#include "health/probe_load.h"
#include "tap.h"

static double rd(const char *cfg, const char *body)
{
    struct errlist e;
    errlist_init(&e);
    struct jsoncfg j = {.errs = &e, .file = "t.json", .dir = "."};
    json_t *v = json_loads(cfg, 0, NULL);
    struct probe_load l;
    probe_load_parse(&j, v, "$.checks.web.load", &l);
    double r = e.count ? -1 : probe_load_read(&l, body, strlen(body));
    probe_load_free(&l);
    json_decref(v);
    errlist_free(&e);
    return r;
}

static bool refused(const char *cfg, const char *want)
{
    struct errlist e;
    errlist_init(&e);
    struct jsoncfg j = {.errs = &e, .file = "t.json", .dir = "."};
    json_t *v = json_loads(cfg, JSON_DECODE_ANY, NULL);
    struct probe_load l;
    probe_load_parse(&j, v, "$.checks.web.load", &l);
    bool ok = e.count == 1 && strstr(e.msgs[0], want) && strstr(e.msgs[0], "$.checks.web.load");
    if (!ok)
        printf("# %s -> %s\n", cfg, e.count ? e.msgs[0] : "(accepted)");
    probe_load_free(&l);
    json_decref(v);
    errlist_free(&e);
    return ok;
}

int main(void)
{
    struct tap t = {0, 0};
    const char *jp = "{\"json_pointer\": \"/load\"}";
    TAP_CHECK(&t, rd(jp, "{\"load\": 0.75}") == 0.75, "a top-level number");
    TAP_CHECK(&t, rd("{\"json_pointer\": \"/s/cpu\"}", "{\"s\": {\"cpu\": 12}}") == 12,
              "a nested one");
    TAP_CHECK(&t, rd("{\"json_pointer\": \"/n/1\"}", "{\"n\": [5, 6, 7]}") == 6, "an array index");
    TAP_CHECK(&t, rd("{\"json_pointer\": \"/a~1b/c~0d\"}", "{\"a/b\": {\"c~d\": 3}}") == 3,
              "~1 and ~0 escapes");
    TAP_CHECK(&t, isnan(rd(jp, "{\"load\": \"0.5\"}")), "a string is no figure");
    TAP_CHECK(&t, isnan(rd(jp, "{\"load\": -1}")), "a negative one is none");
    TAP_CHECK(&t, isnan(rd(jp, "{\"other\": 1}")), "absent");
    TAP_CHECK(&t, isnan(rd(jp, "not json")), "not JSON");
    TAP_CHECK(&t, isnan(rd("{\"json_pointer\": \"/n/01\"}", "{\"n\": [5, 6]}")),
              "a leading zero is no index");
    TAP_CHECK(&t, isnan(rd("{\"json_pointer\": \"/a~2\"}", "{\"a~2\": 1}")), "a bad escape");
    const char *m = "{\"metric\": \"node_load1\"}";
    TAP_CHECK(
        &t, rd(m, "# HELP node_load1 1m load\n# TYPE node_load1 gauge\nnode_load1 0.42\n") == 0.42,
        "a sample after comments");
    TAP_CHECK(&t, rd(m, "node_load15 9\nnode_load1{cpu=\"all\"} 1.5 1700000000\n") == 1.5,
              "a longer name skipped; labels and a timestamp");
    TAP_CHECK(&t, rd(m, "node_load1 3\r\n") == 3, "CRLF");
    TAP_CHECK(&t, isnan(rd(m, "node_load1 NaN\n")), "NaN is none");
    TAP_CHECK(&t, isnan(rd(m, "node_load1 +Inf\n")), "Inf is none");
    TAP_CHECK(&t, isnan(rd(m, "node_load1{x=\"1\" 3\n")), "unclosed labels");
    TAP_CHECK(&t, isnan(rd(m, "node_load1 3x\n")), "trailing junk");
    TAP_CHECK(&t, isnan(rd(m, "")), "an empty body");
    TAP_CHECK(&t, refused("{}", "must be {\"json_pointer\""), "an empty object");
    TAP_CHECK(&t, refused("{\"json_pointer\": \"/a\", \"metric\": \"b\"}", "must be"), "both");
    TAP_CHECK(&t, refused("{\"json_pointer\": \"load\"}", "must start with \"/\""),
              "a pointer without /");
    TAP_CHECK(&t, refused("{\"metric\": \"9x\"}", "not a Prometheus metric name"), "bad metric");
    TAP_CHECK(&t, refused("{\"metric\": \"a b\"}", "not a Prometheus metric name"), "a space");
    TAP_CHECK(&t, refused("{\"metric\": 3}", "must be a string"), "a number");
    TAP_CHECK(&t, refused("\"/load\"", "must be {"), "not an object");
    return tap_done(&t);
}

/* Unit tests for src/common/cfgschema.h: unknown and required keys,
 * typed reads with the table's range, default and path, and the JSON
 * view of a nested table. */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/cfgschema.h"
#include "tap.h"

enum { IN_AFTER, IN_N };
static const struct cfgschema_key inner_keys[IN_N] = {
    [IN_AFTER] = {"after", CFGSCHEMA_SECONDS, 1, 60, 0, CFGSCHEMA_DEFAULT_VARIES, NULL, "a"},
};
static const struct cfgschema inner = CFGSCHEMA("$.x.inner", inner_keys);

enum { K_NAME, K_COUNT, K_WAIT, K_ON, K_FILE, K_INNER, K_YEARS, K_N };
static const struct cfgschema_key keys[K_N] = {
    [K_NAME] = {"name", CFGSCHEMA_STRING, .flags = CFGSCHEMA_REQUIRED, .what = "n"},
    [K_COUNT] = {"count", CFGSCHEMA_INT, 1, 10, 3, 0, NULL, "c"},
    [K_WAIT] = {"wait", CFGSCHEMA_SECONDS, 0.5, 30, 2, CFGSCHEMA_RESTART, NULL, "w"},
    [K_ON] = {"on", CFGSCHEMA_BOOL, .def = 1, .what = "o"},
    [K_FILE] = {"file", CFGSCHEMA_PATH, .what = "f"},
    [K_INNER] = {"inner", CFGSCHEMA_OBJECT, .sub = &inner, .what = "i"},
    /* Past 2^32 ms (49.7 days), as a practice drill's interval. */
    [K_YEARS] = {"years", CFGSCHEMA_SECONDS, 1, 400 * 86400.0, 60, 0, NULL, "y"},
};
static const struct cfgschema top = CFGSCHEMA("$.x", keys);

static bool has(const struct errlist *e, const char *want)
{
    for (size_t i = 0; i < e->count; i++)
        if (strstr(e->msgs[i], want))
            return true;
    return false;
}

/* The restart part of the object written as text. */
static json_t *part_of(const char *text)
{
    json_t *v = json_loads(text, 0, NULL);
    json_t *p = cfgschema_restart_part(&top, v);
    json_decref(v);
    return p;
}

/* What a reload compares is what runs: a default written out, 2 as 2.0
 * and an absent key are the same; another value is not. */
static void test_restart_part(struct tap *t)
{
    json_t *absent = part_of("{\"name\": \"a\"}");
    json_t *dflt = part_of("{\"name\": \"b\", \"wait\": 2}");
    json_t *real = part_of("{\"name\": \"c\", \"wait\": 2.0, \"count\": 7}");
    json_t *other = part_of("{\"name\": \"a\", \"wait\": 3}");
    TAP_CHECK(t, json_equal(absent, dflt) && json_equal(dflt, real),
              "a default written out, or as a real, is no change (only restart-only keys count)");
    TAP_CHECK(t, !json_equal(absent, other), "another value is");
    TAP_CHECK(
        t, json_real_value(json_object_get(absent, "wait")) == 2 && json_object_size(absent) == 1,
        "the part holds the restart-only key, its default filled in");
    json_decref(absent);
    json_decref(dflt);
    json_decref(real);
    json_decref(other);
    static const struct cfgschema_key any = {"listen", CFGSCHEMA_ANY, .flags = CFGSCHEMA_RESTART};
    json_t *s = json_string("127.0.0.1:1"), *a = json_pack("[s]", "127.0.0.1:1");
    json_t *cs = cfgschema_canonical(&any, s), *ca = cfgschema_canonical(&any, a);
    TAP_CHECK(t, json_equal(cs, ca), "\"a\" and [\"a\"] alike");
    json_t *obj = json_loads("{\"inner\": {}}", 0, NULL);
    json_t *ci = cfgschema_canonical(&keys[K_INNER], json_object_get(obj, "inner"));
    TAP_CHECK(t, json_is_object(ci) && json_object_size(ci) == 0,
              "a default that varies is left out of an object's canonical form");
    json_decref(s);
    json_decref(a);
    json_decref(cs);
    json_decref(ca);
    json_decref(obj);
    json_decref(ci);
}

int main(void)
{
    struct tap t = {0, 0};
    struct errlist e;
    errlist_init(&e);
    struct jsoncfg j = {.errs = &e, .file = "f.json", .dir = "/etc/gtmd"};
    json_t *v = json_loads("{\"count\": 11, \"wait\": 1.5, \"file\": \"k.pem\", \"extra\": 1, "
                           "\"years\": 31536000.25}",
                           0, NULL);
    TAP_CHECK(&t, cfgschema_object(&j, &top, v, NULL), "an object");
    TAP_CHECK(&t, has(&e, "f.json: $.x: unknown key \"extra\""), "an unknown key at the path");
    TAP_CHECK(&t, has(&e, "f.json: $.x.name: is required"), "a required key missing");
    TAP_CHECK(&t, e.count == 2, "nothing else (%zu)", e.count);
    TAP_CHECK(&t,
              cfgschema_int(&j, &top, K_COUNT, v, NULL) == 3 &&
                  has(&e, "$.x.count: must be an integer from 1 to 10"),
              "out of range: the table's range said, the default given");
    TAP_CHECK(&t, cfgschema_ms(&j, &top, K_WAIT, v, NULL) == 1500, "seconds in ms");
    TAP_CHECK(&t, cfgschema_seconds(&j, &top, K_WAIT, v, NULL) == 1.5, "seconds as seconds");
    TAP_CHECK(&t, cfgschema_seconds(&j, &top, K_YEARS, v, NULL) == 31536000.25,
              "a year of seconds read whole (no millisecond round trip to wrap)");
    TAP_CHECK(&t, cfgschema_bool(&j, &top, K_ON, v, NULL), "an absent bool: its default");
    char *p = cfgschema_path(&j, &top, K_FILE, v, NULL);
    TAP_CHECK(&t, p && strcmp(p, "/etc/gtmd/k.pem") == 0, "a path under the config's directory");
    free(p);
    TAP_CHECK(&t, cfgschema_str(&j, &top, K_NAME, v, NULL) == NULL, "an absent string: NULL");
    json_t *one = json_integer(1);
    TAP_CHECK(&t,
              !cfgschema_object(&j, &inner, one, "$.x.inner") &&
                  has(&e, "$.x.inner: must be an object"),
              "not an object");
    json_decref(one);
    char path[64];
    cfgschema_key_path(path, sizeof(path), &top, K_WAIT, "$.list[2]");
    TAP_CHECK(&t, strcmp(path, "$.list[2].wait") == 0, "a key's path under a given one");
    json_t *js = cfgschema_json(&top);
    json_t *w = json_array_get(js, K_WAIT), *in = json_array_get(js, K_INNER);
    json_t *after = json_array_get(json_object_get(in, "keys"), 0);
    TAP_CHECK(&t,
              json_real_value(json_object_get(w, "min")) == 0.5 &&
                  json_real_value(json_object_get(w, "default")) == 2 &&
                  json_is_true(json_object_get(w, "restart")) &&
                  strcmp(json_string_value(json_object_get(w, "type")), "seconds") == 0,
              "the JSON view: type, range, default, restart");
    TAP_CHECK(&t,
              after && !json_object_get(after, "default") &&
                  json_real_value(json_object_get(after, "max")) == 60,
              "a nested table; a default that varies is not shown");
    json_decref(js);
    static const struct cfgschema_key view_keys[] = {
        {"auto", CFGSCHEMA_BOOL, .flags = CFGSCHEMA_DEFAULT_VARIES, .what = "another key's"},
        {"every", CFGSCHEMA_SECONDS, 1, 100, 0, CFGSCHEMA_REQUIRED, NULL, "required", NULL},
        {"span", CFGSCHEMA_SECONDS, .what = "its module's rules"},
    };
    static const struct cfgschema view = CFGSCHEMA("$.v", view_keys);
    js = cfgschema_json(&view);
    json_t *au = json_array_get(js, 0), *ev = json_array_get(js, 1), *sp = json_array_get(js, 2);
    TAP_CHECK(&t,
              !json_object_get(au, "default") && !json_object_get(ev, "default") &&
                  json_real_value(json_object_get(ev, "max")) == 100 &&
                  !json_object_get(sp, "min") && !json_object_get(sp, "max") &&
                  json_real_value(json_object_get(sp, "default")) == 0,
              "the JSON view: no default for a varying bool or a required key, no range 0 to 0");
    json_decref(js);
    json_decref(v);
    errlist_free(&e);
    test_restart_part(&t);
    return tap_done(&t);
}

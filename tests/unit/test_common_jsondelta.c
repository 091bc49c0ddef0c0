/*
 * Unit tests for src/common/jsondelta.c: a diff applied to its base gives
 * the target (members changed, added, dropped; top-level keys set, dropped,
 * turned from object to scalar; a null value); untouched members are the
 * very objects of the base; an empty diff; deltas that do not fit their
 * base or are not deltas are refused with a reason; random documents
 * round-trip.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/jsondelta.h"
#include "tap.h"

static json_t *test_doc(const char *text)
{
    json_error_t je;
    json_t *j = json_loads(text, 0, &je);
    if (!j) {
        fprintf(stderr, "bad test JSON: %s\n", je.text);
        abort();
    }
    return j;
}

/* diff(a, b) applied to a equals b; the delta's member count is n. */
static void test_roundtrip(struct tap *t, json_t *a, json_t *b, size_t n, const char *what)
{
    json_t *d = jsondelta_diff(a, b);
    char err[200] = "";
    json_t *c = jsondelta_apply(a, d, err, sizeof(err));
    TAP_CHECK(t, c && json_equal(c, b), "%s: applied gives the target (%s)", what, err);
    TAP_CHECK(t, jsondelta_count(d) == n, "%s: %zu changes (%zu)", what, n, jsondelta_count(d));
    /* Sent as text and read back (as etcd carries it): the same. */
    char *text = json_dumps(d, JSON_COMPACT);
    json_t *d2 = json_loads(text, 0, NULL);
    json_t *c2 = d2 ? jsondelta_apply(a, d2, err, sizeof(err)) : NULL;
    TAP_CHECK(t, c2 && json_equal(c2, b), "%s: through text too", what);
    free(text);
    json_decref(d2);
    json_decref(c2);
    json_decref(c);
    json_decref(d);
}

static void test_basic(struct tap *t)
{
    json_t *a = test_doc("{\"records\": {\"a.\": {\"pool\": \"p\"}, \"b.\": {\"pool\": \"q\"}, "
                         "\"c.\": {\"pool\": \"p\"}}, \"pools\": {\"p\": {\"endpoints\": []}}, "
                         "\"ttl\": 5, \"zones\": [1, 2], \"gone\": true}");
    json_t *b = test_doc("{\"records\": {\"a.\": {\"pool\": \"p\"}, \"b.\": {\"pool\": \"p\"}, "
                         "\"d.\": null}, \"pools\": 7, \"ttl\": 5, \"zones\": [1, 2, 3], "
                         "\"new\": {\"x\": 1}}");
    /* b. changed, c. dropped, d. added (null), pools turned scalar, zones
     * set, gone dropped, new added: 7 */
    test_roundtrip(t, a, b, 7, "mixed");
    test_roundtrip(t, a, a, 0, "itself");
    json_t *d = jsondelta_diff(a, a);
    TAP_CHECK(t, json_object_size(d) == 0, "an empty delta is {}");
    json_decref(d);

    /* Untouched members are the base's own objects. */
    d = test_doc("{\"in\": {\"records\": {\"put\": {\"b.\": {\"pool\": \"z\"}}}}}");
    char err[200];
    json_t *c = jsondelta_apply(a, d, err, sizeof(err));
    json_t *ra = json_object_get(a, "records"), *rc = json_object_get(c, "records");
    TAP_CHECK(t,
              c && json_object_get(rc, "a.") == json_object_get(ra, "a.") &&
                  json_object_get(c, "pools") == json_object_get(a, "pools"),
              "untouched members and keys are shared, not copied");
    const char *pool = json_string_value(json_object_get(json_object_get(ra, "b."), "pool"));
    TAP_CHECK(t, pool && strcmp(pool, "q") == 0, "the base is not changed");
    json_decref(c);
    json_decref(d);
    json_decref(a);
    json_decref(b);
}

static void test_refused(struct tap *t)
{
    json_t *a = test_doc("{\"records\": {\"a.\": 1}, \"ttl\": 5}");
    static const char *const bad[] = {
        "{\"drop\": [\"nope\"]}",
        "{\"drop\": [3]}",
        "{\"drop\": \"ttl\"}",
        "{\"put\": []}",
        "{\"in\": {\"ttl\": {\"put\": {\"x\": 1}}}}",
        "{\"in\": {\"missing\": {\"put\": {\"x\": 1}}}}",
        "{\"in\": {\"records\": {\"drop\": [\"b.\"]}}}",
        "{\"in\": {\"records\": 5}}",
        "{\"in\": []}",
        "[]",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        json_t *d = test_doc(bad[i]);
        char err[200] = "";
        json_t *c = jsondelta_apply(a, d, err, sizeof(err));
        TAP_CHECK(t, !c && err[0], "refused: %s (%s)", bad[i], err);
        json_decref(c);
        json_decref(d);
    }
    json_decref(a);
}

/* Random documents of a few kinds with random members, changed at random. */
static json_t *test_random_doc(unsigned *seed)
{
    json_t *doc = json_object();
    static const char *const kinds[] = {"records", "pools", "checks", "regions"};
    for (size_t k = 0; k < 4; k++) {
        if (rand_r(seed) % 5 == 0)
            continue;
        json_t *m = json_object();
        for (int i = 0, n = rand_r(seed) % 8; i < n; i++) {
            char name[16];
            snprintf(name, sizeof(name), "m%d", rand_r(seed) % 10);
            json_object_set_new(m, name, json_pack("{s:i}", "v", rand_r(seed) % 3));
        }
        json_object_set_new(doc, kinds[k], m);
    }
    if (rand_r(seed) % 2)
        json_object_set_new(doc, "ttl", json_integer(rand_r(seed) % 3));
    return doc;
}

/* An undo of a delta that does not fit its base is refused. */
static void test_undo_refused(struct tap *t)
{
    json_t *a = test_doc("{\"records\": {\"x\": 1}}");
    json_t *d = test_doc("{\"in\": {\"records\": {\"drop\": [\"y\"]}}}");
    char err[200] = "";
    json_t *u = jsondelta_undo(a, d, err, sizeof(err));
    TAP_CHECK(t, !u && strstr(err, "$.records"), "undo of a drop the base lacks: %s", err);
    json_decref(d);
    d = test_doc("{\"in\": {\"ttl\": {\"put\": {\"y\": 1}}}}");
    u = jsondelta_undo(a, d, err, sizeof(err));
    TAP_CHECK(t, !u && strstr(err, "$.ttl"), "undo of members of what is not an object: %s", err);
    json_decref(d);
    json_decref(a);
}

static void test_random(struct tap *t)
{
    unsigned seed = 38;
    int bad = 0, undo_bad = 0;
    for (int i = 0; i < 2000; i++) {
        json_t *a = test_random_doc(&seed), *b = test_random_doc(&seed);
        json_t *d = jsondelta_diff(a, b);
        char err[200];
        json_t *c = jsondelta_apply(a, d, err, sizeof(err));
        if (!c || !json_equal(c, b))
            bad++;
        /* The undo made from a and the delta turns b back into a. */
        json_t *u = jsondelta_undo(a, d, err, sizeof(err));
        json_t *back = u && c ? jsondelta_apply(c, u, err, sizeof(err)) : NULL;
        if (!back || !json_equal(back, a))
            undo_bad++;
        json_decref(u);
        json_decref(back);
        json_decref(a);
        json_decref(b);
        json_decref(c);
        json_decref(d);
    }
    TAP_CHECK(t, bad == 0, "2000 random pairs round-trip (%d did not)", bad);
    TAP_CHECK(t, undo_bad == 0, "2000 undos give the base back (%d did not)", undo_bad);
}

static void test_equal(struct tap *t)
{
    json_t *a = test_doc("{\"records\": {\"a.\": {\"pool\": \"p\"}}, \"ttl\": 5}");
    json_t *b = json_deep_copy(a), *c = json_copy(a);
    TAP_CHECK(t, jsondelta_equal(a, b) && jsondelta_equal(a, c), "equal documents are equal");
    json_object_set_new(c, "ttl", json_integer(6));
    TAP_CHECK(t, !jsondelta_equal(a, c), "a top-level value differs");
    json_t *x = json_string("x"), *y = json_string("y"), *x2 = json_string("x");
    TAP_CHECK(t, !jsondelta_equal(x, y) && jsondelta_equal(x, x2) && !jsondelta_equal(a, x),
              "values that are not objects compare whole (two strings are not one delta apart)");
    json_decref(a);
    json_decref(b);
    json_decref(c);
    json_decref(x);
    json_decref(y);
    json_decref(x2);
}

/* diff_some: a copy whose kinds' objects are new and whose members are
 * shared, edited at random names noted in touched, gives the full diff;
 * a kind vouched unchanged ({}) is not compared. */
static void test_some(struct tap *t)
{
    srand(41);
    int bad = 0;
    for (int round = 0; round < 500; round++) {
        json_t *a = json_pack("{s:{}, s:{}, s:i}", "records", "pools", "ttl", 5);
        for (int i = 0; i < 50; i++) {
            char n[16];
            snprintf(n, sizeof(n), "r%d.", i);
            json_object_set_new(json_object_get(a, "records"), n, json_pack("{s:i}", "v", i));
        }
        json_t *b = json_copy(a), *touched = json_pack("{s:{}, s:{}}", "records", "pools");
        json_object_set_new(b, "records", json_copy(json_object_get(a, "records")));
        json_object_set_new(b, "pools", json_copy(json_object_get(a, "pools")));
        for (int e = rand() % 4; e >= 0; e--) {
            char n[16];
            snprintf(n, sizeof(n), "r%d.", rand() % 60);
            json_object_set_new(json_object_get(touched, "records"), n, json_true());
            if (rand() % 3 == 0)
                json_object_del(json_object_get(b, "records"), n);
            else if (rand() % 2 == 0) /* set to an equal value: not a change */
                json_object_set(json_object_get(b, "records"), n,
                                json_object_get(json_object_get(a, "records"), n));
            else
                json_object_set_new(json_object_get(b, "records"), n, json_pack("{s:i}", "v", -1));
        }
        if (rand() % 5 == 0)
            json_object_set_new(b, "ttl", json_integer(6));
        /* The same changes (a drop's order may differ: compared applied). */
        json_t *full = jsondelta_diff(a, b), *some = jsondelta_diff_some(a, b, touched);
        char err[200];
        json_t *made = jsondelta_apply(a, some, err, sizeof(err));
        if (!made || !json_equal(made, b) || jsondelta_count(full) != jsondelta_count(some))
            bad++;
        json_decref(made);
        json_decref(full);
        json_decref(some);
        json_decref(touched);
        json_decref(a);
        json_decref(b);
    }
    TAP_CHECK(t, bad == 0, "500 edits: the named members give the whole diff (%d did not)", bad);
    json_t *a = test_doc("{\"records\": {\"a.\": 1, \"b.\": 2}, \"pools\": {\"p\": 1}}");
    json_t *b = test_doc("{\"records\": {\"a.\": 1, \"b.\": 3}, \"pools\": {\"p\": 2}}");
    json_t *only = test_doc("{\"records\": {}, \"pools\": {\"p\": true}}");
    json_t *d = jsondelta_diff_some(a, b, only);
    TAP_CHECK(t, jsondelta_count(d) == 1 && json_object_get(json_object_get(d, "in"), "pools"),
              "a kind vouched unchanged is not compared; a named one is");
    json_decref(d);
    /* What a delta touches: members put and dropped, {} for a key left
     * alone, a key set or dropped whole left out. */
    static const char *const keys[] = {"records", "pools", "checks", "regions", NULL};
    json_t *dl = test_doc("{\"in\": {\"records\": {\"put\": {\"a.\": 1}, \"drop\": [\"b.\"]}}, "
                          "\"put\": {\"pools\": {}}, \"drop\": [\"checks\"]}");
    json_t *touched = jsondelta_touched(dl, keys);
    json_t *want = test_doc("{\"records\": {\"a.\": true, \"b.\": true}, \"regions\": {}}");
    TAP_CHECK(t, json_equal(touched, want), "jsondelta_touched names what a delta touches");
    json_decref(want);
    json_decref(touched);
    json_decref(dl);
    json_decref(only);
    json_decref(a);
    json_decref(b);
}

int main(void)
{
    struct tap t = {0, 0};
    test_basic(&t);
    test_refused(&t);
    test_random(&t);
    test_undo_refused(&t);
    test_equal(&t);
    test_some(&t);
    return tap_done(&t);
}

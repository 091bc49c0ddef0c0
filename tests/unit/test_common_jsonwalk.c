/*
 * Unit tests for src/common/jsonwalk.c: the members two objects do not
 * share are each reported once, whatever happened between them: nothing
 * (no call), one replaced, dropped at the start, middle and end, added,
 * a member dropped and added again (it moves last: the walk turns to
 * lookups), two documents read from text in different orders (every
 * member differs by pointer); and random edits of copies checked against
 * a brute-force comparison of every name.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/jsonwalk.h"
#include "tap.h"

/* name -> "a" / "b" / "ab" (which sides were passed), and the calls. */
struct seen {
    json_t *names;
    size_t calls;
    int twice;
};

static void test_seen_fn(const char *name, json_t *in_a, json_t *in_b, void *arg)
{
    struct seen *s = arg;
    if (json_object_get(s->names, name))
        s->twice++;
    json_object_set_new(s->names, name, json_string(in_a && in_b ? "ab" : in_a ? "a" : "b"));
    s->calls++;
}

/* What the walk should report, by looking every name up. */
static json_t *test_expected(json_t *a, json_t *b)
{
    json_t *out = json_object(), *v;
    const char *k;
    json_object_foreach(b, k, v)
    {
        json_t *o = json_object_get(a, k);
        if (o != v)
            json_object_set_new(out, k, json_string(o ? "ab" : "b"));
    }
    json_object_foreach(a, k, v)
    {
        if (!json_object_get(b, k))
            json_object_set_new(out, k, json_string("a"));
    }
    return out;
}

static void test_check(struct tap *t, json_t *a, json_t *b, const char *what)
{
    struct seen s = {json_object(), 0, 0};
    size_t n = jsonwalk_changed(a, b, test_seen_fn, &s);
    json_t *want = test_expected(a, b);
    TAP_CHECK(
        t, json_equal(s.names, want) && s.twice == 0 && n == s.calls && n == json_object_size(want),
        "%s: %zu members reported once each (%zu calls, %d twice)", what, json_object_size(want), n,
        s.twice);
    json_decref(want);
    json_decref(s.names);
}

static json_t *test_base(int n)
{
    json_t *a = json_object();
    char k[32];
    for (int i = 0; i < n; i++) {
        snprintf(k, sizeof(k), "n%04d.", i);
        json_object_set_new(a, k, json_pack("{s:i}", "v", i));
    }
    return a;
}

static void test_cases(struct tap *t)
{
    json_t *a = test_base(10), *b = json_copy(a);
    struct seen s = {json_object(), 0, 0};
    TAP_CHECK(t, jsonwalk_changed(a, b, test_seen_fn, &s) == 0, "a copy: no member differs");
    TAP_CHECK(t, jsonwalk_changed(a, a, test_seen_fn, &s) == 0, "the same object: none");
    json_decref(s.names);
    json_object_set_new(b, "n0004.", json_pack("{s:i}", "v", 4));
    test_check(t, a, b, "one replaced by an equal value");
    json_object_del(b, "n0000.");
    json_object_del(b, "n0005.");
    json_object_del(b, "n0009.");
    test_check(t, a, b, "dropped at the start, middle and end");
    json_object_set_new(b, "new.", json_true());
    test_check(t, a, b, "and one added");
    json_decref(b);
    b = json_copy(a);
    json_t *keep = json_incref(json_object_get(b, "n0002."));
    json_object_del(b, "n0002.");
    json_object_set_new(b, "n0002.", keep); /* the same value, now last */
    test_check(t, a, b, "dropped and added again (moved last, same value)");
    json_decref(b);
    json_t *x = json_loads("{\"p\": 1, \"q\": 2, \"r\": 3}", 0, NULL);
    json_t *y = json_loads("{\"r\": 3, \"p\": 1, \"s\": 4}", 0, NULL);
    test_check(t, x, y, "read in different orders");
    test_check(t, NULL, y, "nothing against an object");
    json_t *three = json_integer(3);
    test_check(t, x, three, "an object against a number");
    json_decref(three);
    json_decref(x);
    json_decref(y);
    json_decref(a);
}

static void test_random(struct tap *t)
{
    unsigned seed = 38;
    int bad = 0;
    for (int round = 0; round < 300; round++) {
        json_t *a = test_base(1 + (int)(rand_r(&seed) % 60)), *b = json_copy(a);
        int edits = (int)(rand_r(&seed) % 6);
        for (int e = 0; e < edits; e++) {
            char k[32];
            snprintf(k, sizeof(k), "n%04u.", rand_r(&seed) % 70);
            unsigned op = rand_r(&seed) % 4;
            json_t *had = json_object_get(b, k);
            if (op == 0)
                json_object_set_new(b, k, json_integer(e));
            else if (op == 1)
                json_object_del(b, k);
            else if (op == 2 && had) { /* moved last */
                json_incref(had);
                json_object_del(b, k);
                json_object_set_new(b, k, had);
            } else
                json_object_set_new(b, k, json_pack("[i]", round));
        }
        struct seen s = {json_object(), 0, 0};
        jsonwalk_changed(a, b, test_seen_fn, &s);
        json_t *want = test_expected(a, b);
        bad += !json_equal(s.names, want) || s.twice || s.calls != json_object_size(want);
        json_decref(want);
        json_decref(s.names);
        json_decref(a);
        json_decref(b);
    }
    TAP_CHECK(t, bad == 0, "300 random edits of copies: every walk as the lookups say (%d not)",
              bad);
}

int main(void)
{
    struct tap t = {0, 0};
    test_cases(&t);
    test_random(&t);
    return tap_done(&t);
}

/*
 * test_jsoncfg_intern.c -- equal strings and integers of a document become
 * one shared value; objects and arrays never do; the document is equal to
 * what was parsed, and freeing it frees the shared values once.
 */
#include <jansson.h>
#include <string.h>

#include "common/jsoncfg_intern.h"
#include "tap.h"

static const char *DOC =
    "{\"records\": {"
    "\"a.\": {\"pool\": \"web\", \"ttl\": 30, \"regions\": [\"us\", \"eu\"], \"x\": 1.5},"
    "\"b.\": {\"pool\": \"web\", \"ttl\": 30, \"regions\": [\"us\", \"eu\"], \"x\": 1.5},"
    "\"c.\": {\"pool\": \"we\\u0000b\", \"ttl\": 60, \"regions\": [\"eu\", \"us\"], \"n\": "
    "\"30\"}},"
    "\"list\": [\"web\", 30, [\"web\"], {\"k\": \"us\"}], \"us\": true}";

static json_t *at(json_t *doc, const char *rec, const char *key)
{
    return json_object_get(json_object_get(json_object_get(doc, "records"), rec), key);
}

int main(void)
{
    struct tap t = {0, 0};
    json_t *doc = json_loads(DOC, JSON_ALLOW_NUL, NULL),
           *copy = json_loads(DOC, JSON_ALLOW_NUL, NULL);
    TAP_CHECK(&t, doc && copy, "the document parses");
    size_t n = jsoncfg_intern(doc);
    TAP_CHECK(&t, json_equal(doc, copy), "the interned document equals the parsed one");
    TAP_CHECK(&t,
              at(doc, "a.", "pool") == at(doc, "b.", "pool") &&
                  at(doc, "a.", "pool") == json_array_get(json_object_get(doc, "list"), 0),
              "equal strings are one value, in objects and in arrays");
    TAP_CHECK(&t,
              at(doc, "a.", "pool") != at(doc, "c.", "pool") &&
                  json_string_length(at(doc, "c.", "pool")) == 4,
              "a string with a NUL inside is not its prefix");
    TAP_CHECK(&t,
              at(doc, "a.", "ttl") == at(doc, "b.", "ttl") &&
                  at(doc, "a.", "ttl") != at(doc, "c.", "ttl"),
              "equal integers are one value, different ones are not");
    TAP_CHECK(&t, at(doc, "c.", "n") != at(doc, "a.", "ttl") && json_is_string(at(doc, "c.", "n")),
              "the string \"30\" and the integer 30 stay apart");
    TAP_CHECK(&t,
              at(doc, "a.", "regions") != at(doc, "b.", "regions") &&
                  json_array_get(at(doc, "a.", "regions"), 0) ==
                      json_array_get(at(doc, "c.", "regions"), 1),
              "arrays are not shared, their equal strings are");
    TAP_CHECK(&t, at(doc, "a.", "x") != at(doc, "b.", "x"), "reals are left alone");
    TAP_CHECK(&t,
              json_array_get(at(doc, "a.", "regions"), 0) ==
                  json_object_get(json_array_get(json_object_get(doc, "list"), 3), "k"),
              "nested objects inside arrays are walked");
    /* web x3 + 30 x2 + us x3 + eu x2 + ... : at least these were shared. */
    TAP_CHECK(&t, n >= 9, "replacements counted (%zu)", n);
    /* Editing one record's array leaves the others as they were. */
    json_array_append_new(at(doc, "a.", "regions"), json_string("ap"));
    TAP_CHECK(&t, json_array_size(at(doc, "b.", "regions")) == 2,
              "an edit of one array is its own");
    TAP_CHECK(&t, jsoncfg_intern(NULL) == 0 && jsoncfg_intern(json_object_get(doc, "us")) == 0,
              "NULL and scalars are left alone");
    /* A change's value shares with the value it replaces; that one is not
     * written (it may be read by other threads). */
    json_t *old = at(doc, "b.", "regions"), *old0 = json_array_get(old, 0);
    json_t *like = json_object_get(json_object_get(doc, "records"), "b.");
    json_t *val = json_loads(
        "{\"pool\": \"web\", \"ttl\": 30, \"regions\": [\"eu\", \"us\", \"ap\"]}", 0, NULL);
    json_t *like_copy = json_deep_copy(like);
    size_t m = jsoncfg_intern_like(val, like);
    TAP_CHECK(&t,
              m == 4 && json_object_get(val, "pool") == at(doc, "b.", "pool") &&
                  json_object_get(val, "ttl") == at(doc, "b.", "ttl") &&
                  json_array_get(json_object_get(val, "regions"), 1) == old0,
              "a new value takes the equal strings and integers of the one it replaces (%zu)", m);
    TAP_CHECK(&t, json_equal(like, like_copy) && json_array_get(old, 0) == old0,
              "the replaced value is left as it was");
    TAP_CHECK(&t, jsoncfg_intern_like(val, NULL) == 0 && jsoncfg_intern_like(NULL, like) == 0,
              "nothing to share with: nothing done");
    json_decref(val);
    json_decref(like_copy);
    json_decref(doc); /* under ASan: no double free, no leak */
    json_decref(copy);
    return tap_done(&t);
}

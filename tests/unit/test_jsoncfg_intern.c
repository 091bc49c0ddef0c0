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
    json_decref(doc); /* under ASan: no double free, no leak */
    json_decref(copy);
    return tap_done(&t);
}

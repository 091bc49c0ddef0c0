/*
 * test_common_jsonshare.c -- equal resources become one value; order
 * counts; a value held elsewhere is never changed; the table lets go of
 * what nothing else holds; the document stays equal to what was parsed.
 */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/jsonshare.h"
#include "tap.h"

static const char *const KINDS[] = {"records", "pools", NULL};

static const char *DOC =
    "{\"records\": {"
    "\"a.\": {\"pool\": \"web\", \"ttl\": 30, \"regions\": [\"us\", \"eu\"]},"
    "\"b.\": {\"pool\": \"web\", \"ttl\": 30, \"regions\": [\"us\", \"eu\"]},"
    "\"c.\": {\"ttl\": 30, \"pool\": \"web\", \"regions\": [\"us\", \"eu\"]},"
    "\"d.\": {\"pool\": \"web\", \"ttl\": 60, \"regions\": [\"us\", \"eu\"]},"
    "\"e.\": {\"pool\": \"web\", \"ttl\": 30.0, \"regions\": [\"us\", \"eu\"]},"
    "\"f.\": {\"pool\": \"web\", \"ttl\": 30, \"regions\": [\"eu\", \"us\"]}},"
    "\"pools\": {\"web\": {\"endpoints\": [{\"address\": \"192.0.2.1\", \"region\": \"us\"}]},"
    "\"web2\": {\"endpoints\": [{\"address\": \"192.0.2.1\", \"region\": \"us\"}]}},"
    "\"listen\": [[\"us\", \"eu\"], [\"us\", \"eu\"]]}";

static json_t *rec(json_t *doc, const char *name)
{
    return json_object_get(json_object_get(doc, "records"), name);
}

static void test_parse(struct tap *t)
{
    json_t *doc = json_loads(DOC, 0, NULL), *copy = json_loads(DOC, 0, NULL);
    struct jsonshare s;
    jsonshare_init(&s);
    size_t n = jsonshare_members(&s, doc, KINDS, NULL, true);
    TAP_CHECK(t, json_equal(doc, copy) && jsonshare_same(doc, copy),
              "the shared document equals the parsed one, in order");
    TAP_CHECK(t, rec(doc, "a.") == rec(doc, "b.") && n >= 2,
              "equal records are one value (%zu replaced)", n);
    TAP_CHECK(t, rec(doc, "a.") != rec(doc, "c.") && json_equal(rec(doc, "a."), rec(doc, "c.")),
              "records equal but for their members' order stay apart");
    TAP_CHECK(t, rec(doc, "a.") != rec(doc, "d.") && rec(doc, "a.") != rec(doc, "e."),
              "a different TTL, or 30.0 for 30, is another value");
    TAP_CHECK(t,
              json_object_get(rec(doc, "a."), "regions") ==
                      json_object_get(rec(doc, "d."), "regions") &&
                  json_object_get(rec(doc, "a."), "regions") !=
                      json_object_get(rec(doc, "f."), "regions"),
              "an array inside different records is shared; one in another order is not");
    json_t *pools = json_object_get(doc, "pools");
    TAP_CHECK(t, json_object_get(pools, "web") == json_object_get(pools, "web2"),
              "equal pools under two names are one value");
    json_t *l = json_object_get(doc, "listen");
    TAP_CHECK(t, json_array_get(l, 0) != json_array_get(l, 1), "what is not under a kind is left");
    /* The table holds every value it shared, once. */
    json_t *a = rec(doc, "a.");
    TAP_CHECK(t, a->refcount == 3, "a shared record: two names and the table (%zu)",
              (size_t)a->refcount);
    json_decref(doc);
    json_decref(copy);
    TAP_CHECK(t, a->refcount == 1, "the document freed, the table holds it alone");
    size_t before = s.n;
    jsonshare_sweep(&s);
    TAP_CHECK(t, s.n == 0 && before > 0, "a sweep lets go of what only it held (%zu -> %zu)",
              before, s.n);
    jsonshare_clear(&s);
}

/* A value another document holds (a previous version, a running
 * configuration) is looked up or added, never changed. */
static void test_held_elsewhere(struct tap *t)
{
    json_t *run = json_loads(DOC, 0, NULL);
    struct jsonshare s;
    jsonshare_init(&s);
    json_t *kept = json_incref(json_object_get(run, "records")); /* another version's */
    json_t *before = json_deep_copy(kept);
    jsonshare_members(&s, run, KINDS, NULL, true);
    TAP_CHECK(t, rec(run, "a.") != rec(run, "b.") && json_equal(kept, before),
              "a resource object another version holds is left as it was");
    json_decref(kept);
    /* Seeding: records held (as a compiled configuration would) are added,
     * not made to share their members. */
    json_t *a = json_incref(rec(run, "a.")), *a_regions = json_object_get(a, "regions");
    json_t *d = json_incref(rec(run, "d."));
    TAP_CHECK(t,
              jsonshare_members(&s, run, KINDS, NULL, false) == 0 &&
                  json_object_get(a, "regions") == a_regions && rec(run, "b.") != a,
              "without mutate the document is only read: nothing replaced");
    TAP_CHECK(t, json_object_get(d, "regions") != a_regions, "and its members are not replaced");
    /* A change's value, private, shares with the table's. */
    json_t *val =
        json_loads("{\"pool\": \"web\", \"ttl\": 60, \"regions\": [\"us\", \"eu\"]}", 0, NULL);
    json_object_set_new(json_object_get(run, "records"), "g.", val);
    json_t *only = json_pack("{s:{s:b}}", "records", "g.", 1);
    size_t n = jsonshare_members(&s, run, KINDS, only, true);
    TAP_CHECK(t, n == 1 && rec(run, "g.") == d, "a changed record equal to another is that one");
    json_t *val2 =
        json_loads("{\"pool\": \"web\", \"ttl\": 90, \"regions\": [\"us\", \"eu\"]}", 0, NULL);
    json_object_set_new(json_object_get(run, "records"), "h.", val2);
    json_object_set_new(json_object_get(only, "records"), "h.", json_true());
    jsonshare_members(&s, run, KINDS, only, true);
    TAP_CHECK(t, rec(run, "h.") == val2 && json_object_get(val2, "regions") == a_regions,
              "a new record of its own takes the shared array inside it");
    json_t *none = json_object();
    TAP_CHECK(t, jsonshare_members(&s, run, KINDS, none, true) == 0,
              "a change touching no kind shares nothing");
    json_decref(none);
    json_decref(only);
    json_decref(a);
    json_decref(d);
    json_decref(before);
    json_decref(run);
    jsonshare_clear(&s);
}

/* Many values: the table grows, sweeps once it doubles, and keeps what
 * documents still hold. */
static void test_grow_and_sweep(struct tap *t)
{
    struct jsonshare s;
    jsonshare_init(&s);
    json_t *doc = json_pack("{s:{}}", "records"), *recs = json_object_get(doc, "records");
    char name[32];
    for (int i = 0; i < 5000; i++) {
        snprintf(name, sizeof(name), "r%d.", i);
        json_object_set_new(recs, name, json_pack("{s:s, s:i}", "pool", "web", "ttl", i % 2500));
    }
    jsonshare_members(&s, doc, KINDS, NULL, true);
    json_t *r0 = json_object_get(recs, "r0."), *r2500 = json_object_get(recs, "r2500.");
    TAP_CHECK(t, r0 == r2500 && json_object_get(recs, "r1.") != r0,
              "5,000 records of 2,500 values: equal ones shared");
    size_t held = 0;
    for (size_t i = 0; i <= s.mask; i++)
        held += s.slot[i].v != NULL;
    /* 2,500 records; their strings and integers are not the table's. */
    TAP_CHECK(t, held == s.n && s.n == 2500, "the table counts what it holds (%zu)", s.n);
    /* Replace every record by a new value: the old ones are let go at a
     * sweep, as changes come. */
    for (int round = 0; round < 3; round++) {
        for (int i = 0; i < 5000; i++) {
            snprintf(name, sizeof(name), "r%d.", i);
            json_object_set_new(
                recs, name, json_pack("{s:s, s:i}", "pool", "web", "ttl", 10000 * (round + 1) + i));
        }
        jsonshare_members(&s, doc, KINDS, NULL, true);
    }
    jsonshare_sweep(&s);
    TAP_CHECK(t, s.n == 5000, "after a sweep only what the document holds (%zu)", s.n);
    json_decref(doc);
    jsonshare_clear(&s);
    TAP_CHECK(t, s.n == 0 && !s.slot, "cleared");
}

/* jsonshare_load gives what json_loadb gives: the same document, in the
 * same order, or the same error at the same place. */
static bool same_as_jansson(const char *text, size_t flags, json_t **out)
{
    struct jsonshare s;
    jsonshare_init(&s);
    json_error_t ea, eb;
    memset(&ea, 0, sizeof(ea));
    memset(&eb, 0, sizeof(eb));
    json_t *a = jsonshare_load(&s, text, strlen(text), flags, KINDS, &ea);
    json_t *b = json_loadb(text, strlen(text), flags, &eb);
    bool same = (!a && !b && strcmp(ea.text, eb.text) == 0 && ea.line == eb.line &&
                 ea.column == eb.column && ea.position == eb.position) ||
                (a && b && json_equal(a, b) &&
                 /* in member order too (jsonshare_same stops at depth 32) */
                 (strlen(text) > 4000 || jsonshare_same(a, b)));
    if (!same)
        printf("# differs on: %.200s\n#  %s (%d:%d) / %s (%d:%d)\n", text, a ? "doc" : ea.text,
               ea.line, ea.column, b ? "doc" : eb.text, eb.line, eb.column);
    if (out)
        *out = json_incref(a);
    json_decref(a);
    json_decref(b);
    jsonshare_clear(&s);
    return same;
}

static void test_load(struct tap *t)
{
    json_t *doc = NULL;
    TAP_CHECK(t, same_as_jansson(DOC, JSON_REJECT_DUPLICATES, &doc),
              "a document loads as jansson's");
    TAP_CHECK(t,
              doc && rec(doc, "a.") == rec(doc, "b.") && rec(doc, "a.") != rec(doc, "c.") &&
                  json_object_get(rec(doc, "a."), "pool") ==
                      json_object_get(rec(doc, "f."), "pool"),
              "equal records are one value as they are read, their strings too");
    TAP_CHECK(t,
              doc && json_object_get(json_object_get(doc, "pools"), "web") ==
                         json_object_get(json_object_get(doc, "pools"), "web2"),
              "equal pools too");
    json_decref(doc);
    static const char *const texts[] = {
        " \n{ \"records\" : { \"a.\" : [ {\"pool\": \"w\"}, {\"pool\": \"w\"} ] , \"b.\":{}} }\n ",
        "{\"records\": {}, \"pools\": {}, \"x\": [1, 2.5, true, null, \"s\"]}",
        "{\"records\": {\"\\u00e9.\": {\"ttl\": 1}, \"\\u00c9.\": {\"ttl\": 1}}}",
        "{\"records\": {\"a\\u0000b.\": {\"ttl\": 1}}}",
        "{\"records\": [1, 2], \"pools\": 5}",
        "{\"records\": {\"a.\": 5, \"b.\": \"x\", \"c.\": -1.5e3}}",
        "[1, 2]",
        "",
        "   ",
        "{",
        "{\"records\": {\"a.\": {\"ttl\": 1},}}",
        "{\"records\": {\"a.\": {\"ttl\": 1}}} x",
        "{\"records\": {\"a.\": {\"ttl\": 1}}}}",
        "{\"records\": {\"a.\" {\"ttl\": 1}}}",
        "{\"records\": {\"a.\": {\"ttl\": 1}, \"a.\": {\"ttl\": 2}}}",
        "{\"records\": {}, \"records\": {}}",
        "{\"records\": {\"a.\": {\"ttl\": 1, \"ttl\": 2}}}",
        "{\"records\": {\"a.\": {\"ttl\": 01}}}",
        "{\"records\": {\"a.\": {\"ttl\": \"\\ud800\"}}}",
        "{\"records\": {\"a.\": \"\xff\"}}",
        "{\"a\": 1 \"b\": 2}",
        "{,}",
        "{\"records\": {\"a.\": {\"ttl\": 1}}, }",
        NULL,
    };
    int ok = 0, n = 0;
    for (size_t i = 0; texts[i]; i++, n += 2)
        ok += same_as_jansson(texts[i], JSON_REJECT_DUPLICATES, NULL) +
              same_as_jansson(texts[i], 0, NULL);
    TAP_CHECK(t, ok == n, "odd and broken texts: jansson's document or error (%d of %d)", ok, n);
    /* Nesting at jansson's limit, under a resource and beside: a member
     * read alone must not pass where the whole text fails. */
    ok = n = 0;
    for (int extra = -1; extra <= 1; extra++) {
        for (int where = 0; where < 2; where++, n++) {
            size_t deep = JSON_PARSER_MAX_DEPTH - 2 + (size_t)(extra + where), at = 0;
            char *text = malloc(2 * deep + 64);
            at += (size_t)sprintf(text, where ? "{\"x\": " : "{\"records\": {\"a.\": ");
            memset(text + at, '[', deep);
            memset(text + at + deep, ']', deep);
            at += 2 * deep;
            sprintf(text + at, where ? "}" : "}}");
            ok += same_as_jansson(text, JSON_REJECT_DUPLICATES, NULL);
            free(text);
        }
    }
    TAP_CHECK(t, ok == n, "nesting at jansson's depth limit: jansson's answer (%d of %d)", ok, n);
    /* Random damage to a document: every cut, and bytes overwritten. */
    size_t len = strlen(DOC);
    char *buf = malloc(len + 1);
    static const char junk[] = "{}[],:\" \\x0";
    unsigned seed = 12345;
    ok = n = 0;
    for (size_t cut = 0; cut < len; cut++, n++) {
        memcpy(buf, DOC, cut);
        buf[cut] = '\0';
        ok += same_as_jansson(buf, JSON_REJECT_DUPLICATES, NULL);
    }
    for (int k = 0; k < 3000; k++, n++) {
        memcpy(buf, DOC, len + 1);
        for (int m = 0; m < 1 + k % 3; m++) {
            seed = seed * 1103515245u + 12345u;
            size_t at = (seed >> 8) % len;
            seed = seed * 1103515245u + 12345u;
            buf[at] = junk[(seed >> 8) % (sizeof(junk) - 1)];
        }
        ok += same_as_jansson(buf, JSON_REJECT_DUPLICATES, NULL);
    }
    free(buf);
    TAP_CHECK(t, ok == n, "every cut and 3,000 damaged texts: jansson's answer (%d of %d)", ok, n);
}

int main(void)
{
    struct tap t = {0, 0};
    test_load(&t);
    test_parse(&t);
    test_held_elsewhere(&t);
    test_grow_and_sweep(&t);
    return tap_done(&t);
}

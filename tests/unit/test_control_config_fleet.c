/*
 * test_control_config_fleet.c -- how a fleet node builds the versions the
 * fleet thread hands it (config_fleet_docs, config_api_int.h): each from
 * its whole document or its delta on the version before; a fetch that
 * begins with versions the node applied meanwhile (its base gone from the
 * node) is no gap, the chain going on from the node's own version; a
 * version after the node's own whose base the node lacks, or whose delta
 * does not fit, is refused (the node fetches the whole document then).
 *
 * A real config_api on a file and history directory in a temporary
 * directory; nothing is reloaded or served.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/jsondelta.h"
#include "control/config_api.h"
#include "control/config_api_int.h"
#include "tap.h"

/* The shared document of version k of the tests: records r1..rk. */
static json_t *test_doc(int k)
{
    json_t *recs = json_object();
    for (int i = 1; i <= k; i++) {
        char name[32];
        snprintf(name, sizeof(name), "r%d.example.", i);
        json_object_set_new(recs, name, json_pack("{s:s, s:i}", "pool", "web", "ttl", 10 + i));
    }
    return json_pack("{s:o}", "records", recs);
}

/* The fleet's record of version v: a delta on version v - 1. */
static json_t *test_delta(int v)
{
    json_t *a = test_doc(v - 1), *b = test_doc(v);
    json_t *rec = json_pack("{s:i, s:i, s:o, s:s}", "version", v, "base", v - 1, "delta",
                            jsondelta_diff(a, b), "source", "api");
    json_decref(a);
    json_decref(b);
    return rec;
}

/* A delta of version v that does not fit version v - 1: it drops a
 * record no version has. */
static json_t *test_bad_delta(int v)
{
    return json_pack("{s:i, s:i, s:{s:{s:{s:[s]}}}}", "version", v, "base", v - 1, "delta", "in",
                     "records", "drop", "nowhere.example.");
}

static json_t *test_whole(int v)
{
    return json_pack("{s:i, s:o}", "version", v, "doc", test_doc(v));
}

/* Never called: config_fleet_docs builds, it does not serve. */
static json_t *test_reload(struct server *srv, json_t *doc, bool *ok)
{
    (void)srv;
    (void)doc;
    *ok = false;
    return json_object();
}

/* config_fleet_docs over records (stolen), keeping the last keep_last;
 * NULL with why. */
static json_t *test_docs(struct config_api *api, json_t *records, size_t keep_last, char *why,
                         size_t len)
{
    why[0] = '\0';
    pthread_mutex_lock(&api->lock);
    json_t *docs = config_fleet_docs(api, records, keep_last, why, len);
    pthread_mutex_unlock(&api->lock);
    json_decref(records);
    return docs;
}

/* docs[i] is version v's document. */
static bool test_is(json_t *docs, size_t i, int v)
{
    json_t *want = test_doc(v);
    bool same = json_equal(json_array_get(docs, i), want);
    json_decref(want);
    return same;
}

static void test_chain(struct tap *t, struct config_api *api)
{
    char why[400];
    json_t *docs;

    /* The race seen in CI: the fleet thread fetched from version 2 (the
     * node had said it serves 1), the node applied 2 meanwhile; 2's base
     * is not the node's any more. */
    docs = test_docs(api, json_pack("[o, o]", test_delta(2), test_delta(3)), SIZE_MAX, why,
                     sizeof(why));
    TAP_CHECK(t, docs && json_array_size(docs) == 2 && test_is(docs, 1, 3),
              "a fetch beginning with a version the node applied meanwhile builds the next "
              "from the node's own (%s)",
              why);
    TAP_CHECK(t, docs && json_is_null(json_array_get(docs, 0)),
              "and the version the node has is not built");
    json_decref(docs);

    docs = test_docs(api, json_pack("[o, o, o]", test_delta(2), test_delta(3), test_delta(4)),
                     SIZE_MAX, why, sizeof(why));
    TAP_CHECK(t, docs && test_is(docs, 1, 3) && test_is(docs, 2, 4),
              "and the chain goes on after it (%s)", why);
    json_decref(docs);

    /* Even when the delta of a version the node has does not fit. */
    docs = test_docs(api, json_pack("[o, o]", test_bad_delta(2), test_delta(3)), SIZE_MAX, why,
                     sizeof(why));
    TAP_CHECK(t, docs && test_is(docs, 1, 3),
              "a version the node has whose delta does not fit is not needed (%s)", why);
    json_decref(docs);

    docs = test_docs(api, json_pack("[o]", test_delta(3)), SIZE_MAX, why, sizeof(why));
    TAP_CHECK(t, docs && test_is(docs, 0, 3), "the version after the node's own (%s)", why);
    json_decref(docs);

    /* From a whole document, every version is built from the chain. */
    docs = test_docs(api, json_pack("[o, o, o]", test_whole(1), test_delta(2), test_delta(3)),
                     SIZE_MAX, why, sizeof(why));
    TAP_CHECK(t, docs && test_is(docs, 0, 1) && test_is(docs, 1, 2) && test_is(docs, 2, 3),
              "from a whole document every version is built (%s)", why);
    json_decref(docs);

    /* A whole version shares with the version before it every member it
     * kept (the very objects: its records stay compiled), and equals it. */
    docs = test_docs(api, json_pack("[o, o]", test_delta(3), test_whole(4)), SIZE_MAX, why,
                     sizeof(why));
    json_t *r3 = json_object_get(json_array_get(docs, 0), "records");
    json_t *r4 = json_object_get(json_array_get(docs, 1), "records");
    TAP_CHECK(t,
              docs && test_is(docs, 1, 4) && r3 && r4 &&
                  json_object_get(r4, "r1.example.") == json_object_get(r3, "r1.example.") &&
                  json_object_get(r4, "r3.example.") == json_object_get(r3, "r3.example."),
              "a whole version is the version, sharing what it kept with the one before (%s)", why);
    json_decref(docs);

    /* A whole version that is not a document is passed on as it is (the
     * load refuses it), not made into one by sharing. */
    docs = test_docs(api, json_pack("[{s:i, s:s}]", "version", 3, "doc", "not a document"),
                     SIZE_MAX, why, sizeof(why));
    TAP_CHECK(t, docs && json_is_string(json_array_get(docs, 0)),
              "a whole version that is not an object stays what it is (%s)", why);
    json_decref(docs);

    /* A real gap: version 4 changes 3, which the node (at 2) lacks. */
    docs = test_docs(api, json_pack("[o]", test_delta(4)), SIZE_MAX, why, sizeof(why));
    TAP_CHECK(t, !docs && strstr(why, "version 4 changes version 3, which this node does not have"),
              "a version whose base the node lacks is refused: %s", why);
    json_decref(docs);

    docs = test_docs(api, json_pack("[o, o]", test_delta(2), test_bad_delta(3)), SIZE_MAX, why,
                     sizeof(why));
    TAP_CHECK(t, !docs && strstr(why, "version 3 changes version 2, and its delta does not fit it"),
              "a version after the node's own whose delta does not fit is refused: %s", why);
    json_decref(docs);
}

/* A version built from the objects of the shared part before the kept
 * one (jsonrecycle.h, config_fleet_keep_base): the version, and the kept
 * shared part untouched, also an object the delta changes that is not one
 * of the recycled kinds. */
static void test_recycled(struct tap *t, struct config_api *api)
{
    char why[400];
    json_t *v1 = test_doc(1), *v2 = test_doc(2), *v3 = test_doc(3);
    json_object_set_new(v1, "x", json_pack("{s:i}", "a", 1));
    json_object_set_new(v2, "x", json_pack("{s:i}", "a", 1));
    json_object_set_new(v3, "x", json_pack("{s:i}", "a", 2));
    pthread_mutex_lock(&api->lock);
    json_decref(api->fleet_doc);
    api->fleet_doc = json_incref(v2);
    api->fleet_doc_v = 2;
    json_t *d12 = jsondelta_diff(v1, v2);
    jsonrecycle_retire(&api->fleet_recycle, json_deep_copy(v1), d12, v2);
    jsonrecycle_reclaim(&api->fleet_recycle);
    bool ready = jsonrecycle_ready(&api->fleet_recycle, v2);
    pthread_mutex_unlock(&api->lock);
    TAP_CHECK(t, ready, "the shared part before the kept one was taken apart");
    unsigned long long reused = api->fleet_recycle.reused;
    json_t *rec =
        json_pack("{s:i, s:i, s:o}", "version", 3, "base", 2, "delta", jsondelta_diff(v2, v3));
    json_t *docs = test_docs(api, json_pack("[o]", rec), SIZE_MAX, why, sizeof(why));
    json_t *made = json_array_get(docs, 0);
    TAP_CHECK(t, made && json_equal(made, v3) && api->fleet_recycle.reused == reused + 1,
              "version 3 built from the recycled records (%s)", why);
    json_t *want2 = test_doc(2);
    json_object_set_new(want2, "x", json_pack("{s:i}", "a", 1));
    TAP_CHECK(t, json_equal(api->fleet_doc, want2), "the kept version 2 is untouched");
    TAP_CHECK(t, made && json_object_get(made, "x") != json_object_get(v2, "x"),
              "an object the delta changes is the version's own");
    json_decref(want2);
    json_decref(docs);
    /* A delta that does not fit, built on recycled objects: refused with
     * why, the kept version untouched. */
    pthread_mutex_lock(&api->lock);
    jsonrecycle_retire(&api->fleet_recycle, json_deep_copy(v1), d12, v2);
    jsonrecycle_reclaim(&api->fleet_recycle);
    ready = jsonrecycle_ready(&api->fleet_recycle, v2);
    pthread_mutex_unlock(&api->lock);
    docs = test_docs(api, json_pack("[o]", test_bad_delta(3)), SIZE_MAX, why, sizeof(why));
    want2 = test_doc(2);
    json_object_set_new(want2, "x", json_pack("{s:i}", "a", 1));
    TAP_CHECK(t, ready && !docs && strstr(why, "does not fit") && json_equal(api->fleet_doc, want2),
              "a delta that does not fit recycled objects is refused, the kept version intact (%s)",
              why);
    json_decref(want2);
    json_decref(d12);
    json_decref(v1);
    json_decref(v2);
    json_decref(v3);
}

/* A chain longer than the history keeps (keep_last 2): the versions
 * before the last two are built on the way, in one working document, and
 * are JSON null; the last two are right; neither the whole document the
 * chain starts from nor any record's value changed while the working
 * document did (two kinds of objects changed, one set whole first). */
static void test_long_chain(struct tap *t, struct config_api *api, const char *who)
{
    char why[400];
    json_t *recs = json_array();
    json_array_append_new(recs, test_whole(1));
    for (int v = 2; v <= 8; v++)
        json_array_append_new(recs, test_delta(v));
    json_array_append_new(recs, json_pack("{s:i, s:i, s:{s:{s:{s:i}}}}", "version", 9, "base", 8,
                                          "delta", "put", "pools", "web", 1));
    json_array_append_new(recs, json_pack("{s:i, s:i, s:{s:{s:{s:{s:i}}}}}", "version", 10, "base",
                                          9, "delta", "in", "pools", "put", "api", 2));
    json_array_append_new(recs, test_delta(9));
    json_object_set_new(json_array_get(recs, 10), "version", json_integer(11));
    json_object_set_new(json_array_get(recs, 10), "base", json_integer(10));
    json_t *before = json_deep_copy(recs);
    TAP_CHECK(t, json_array_size(recs) == 11, "%s: a chain of 11 versions", who);
    json_t *docs = test_docs(api, json_incref(recs), 2, why, sizeof(why));
    bool nulls = docs && json_array_size(docs) == 11;
    for (size_t i = 0; nulls && i < 9; i++)
        nulls = json_is_null(json_array_get(docs, i));
    TAP_CHECK(t, nulls, "%s: the versions the history would not keep are not kept (%s)", who, why);
    json_t *want10 = test_doc(8), *want11 = test_doc(9);
    json_object_set_new(want10, "pools", json_pack("{s:i, s:i}", "web", 1, "api", 2));
    json_object_set_new(want11, "pools", json_pack("{s:i, s:i}", "web", 1, "api", 2));
    TAP_CHECK(t,
              docs && json_equal(json_array_get(docs, 9), want10) &&
                  json_equal(json_array_get(docs, 10), want11),
              "%s: the last two are the versions, built through the working document", who);
    TAP_CHECK(t, json_equal(recs, before),
              "%s: the whole document and the deltas it was built from are unchanged", who);
    json_decref(want10);
    json_decref(want11);
    json_decref(docs);
    json_decref(before);
    json_decref(recs);
}

int main(void)
{
    struct tap t = {0, 0};
    char dir[] = "/tmp/gtm-cfleet-XXXXXX";
    if (!mkdtemp(dir))
        return 1;
    char path[300], hist[300];
    snprintf(path, sizeof(path), "%s/gtmd.json", dir);
    snprintf(hist, sizeof(hist), "%s/history", dir);
    json_t *d1 = test_doc(1), *d2 = test_doc(2);
    json_dump_file(d2, path, 0);
    struct config_api api;
    struct config_api_params p = {.history_dir = hist, .keep = 6, .fleet = true};
    config_api_init(&api, path, &p, test_reload, NULL, NULL, NULL);
    /* The node applied the fleet's versions 1 and 2. */
    pthread_mutex_lock(&api.lock);
    json_t *m1 = json_pack("{s:b, s:s}", "fleet", true, "source", "bootstrap");
    json_t *m2 = json_pack("{s:b, s:s}", "fleet", true, "source", "api");
    bool kept = config_api_record_as(&api, 1, d1, m1, NULL) == 0 &&
                config_api_record_as(&api, 2, d2, m2, NULL) == 0 && api.version == 2;
    pthread_mutex_unlock(&api.lock);
    TAP_CHECK(&t, kept, "the node serves the fleet's version 2");
    json_decref(m1);
    json_decref(m2);
    json_decref(d1);
    json_decref(d2);
    test_chain(&t, &api);
    test_recycled(&t, &api);
    test_long_chain(&t, &api, "a node at version 2");
    config_api_free(&api);
    /* A new node (no version of its own): the whole version has nothing to
     * share with and is taken as it came, the fetched record's own. */
    char fresh[400];
    snprintf(fresh, sizeof(fresh), "%s/fresh.json", dir);
    json_t *d0 = json_object();
    json_dump_file(d0, fresh, 0);
    json_decref(d0);
    struct config_api_params p0 = {.keep = 6, .fleet = true};
    config_api_init(&api, fresh, &p0, test_reload, NULL, NULL, NULL);
    test_long_chain(&t, &api, "a new node");
    config_api_free(&api);
    char cmd[400];
    snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
    if (system(cmd) != 0)
        fprintf(stderr, "cannot remove %s\n", dir);
    return tap_done(&t);
}

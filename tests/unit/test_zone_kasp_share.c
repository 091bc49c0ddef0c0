/*
 * test_zone_kasp_share.c -- a zone's key set as one document
 * (zone/zone_kasp_share.h): a store of a KSK and a ZSK exported and
 * imported into another node's empty directory gives the same state and
 * the same files (0600); a set whose key text does not fit its tag, or
 * that names another zone, changes nothing on disk; a set without one of
 * the node's old keys deletes that key's files.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "tap.h"
#include "zone/zone_kasp_share.h"
#include "zone/zone_kasp_store.h"

#define ZONE "example.com."

static int mode_of(const char *dir, const char *name, const char *ext)
{
    char p[600];
    struct stat st;
    snprintf(p, sizeof(p), "%s/%s%s", dir, name, ext);
    return stat(p, &st) == 0 ? (int)(st.st_mode & 07777) : -1;
}

/* A store in dir with a KSK and a ZSK, both first keys made at 100. */
static bool make_store(const char *dir, struct zone_kasp_keys *keys, struct errlist *e)
{
    keys->n = 2;
    if (!zone_kasp_store_dir_ok(dir, e) ||
        !zone_kasp_store_generate(dir, ZONE, 13, true, 60, &keys->v[0], e) ||
        !zone_kasp_store_generate(dir, ZONE, 13, false, 60, &keys->v[1], e))
        return false;
    zone_kasp_sched_first(&keys->v[0], 100);
    zone_kasp_sched_first(&keys->v[1], 100);
    return zone_kasp_store_save(dir, ZONE, keys, e);
}

static void test_bad(struct tap *t, const char *dir, json_t *doc)
{
    struct errlist e;
    errlist_init(&e);
    struct zone_kasp_keys got, before;
    zone_kasp_store_load(dir, ZONE, &before, &e);
    json_t *bad = json_deep_copy(doc);
    json_t *k0 = json_array_get(json_object_get(bad, "keys"), 0);
    json_object_set_new(k0, "tag",
                        json_integer(json_integer_value(json_object_get(k0, "tag")) ^ 1));
    TAP_CHECK(t,
              !zone_kasp_share_import(dir, ZONE, bad, &got, &e) && e.count &&
                  strstr(e.msgs[0], "$.keys[0]"),
              "a key whose text is not its tag's is refused: %s", e.count ? e.msgs[0] : "");
    json_decref(bad);
    bad = json_deep_copy(doc);
    json_object_set_new(bad, "zone", json_string("example.net."));
    TAP_CHECK(t, !zone_kasp_share_import(dir, ZONE, bad, &got, &e),
              "another zone's set is refused");
    json_decref(bad);
    struct zone_kasp_keys after;
    zone_kasp_store_load(dir, ZONE, &after, &e);
    TAP_CHECK(t, after.n == before.n, "a refused set changes nothing (%zu keys, %zu before)",
              after.n, before.n);
    errlist_free(&e);
}

/* One field of keys[0] (or of the document, key NULL) given the JSON
 * value text: the set is refused with a message naming its place, and
 * nothing on disk changes. */
static void bad_type(struct tap *t, const char *dir, json_t *doc, const char *field,
                     const char *text, bool top)
{
    struct errlist e;
    errlist_init(&e);
    struct zone_kasp_keys got, before, after;
    memset(&before, 0, sizeof(before));
    memset(&after, 0, sizeof(after));
    zone_kasp_store_load(dir, ZONE, &before, &e);
    json_t *bad = json_deep_copy(doc), *v = json_loads(text, JSON_DECODE_ANY, NULL);
    json_t *at = top ? bad : json_array_get(json_object_get(bad, "keys"), 0);
    json_object_set_new(at, field, v);
    bool ok = zone_kasp_share_import(dir, ZONE, bad, &got, &e);
    zone_kasp_store_load(dir, ZONE, &after, &e);
    TAP_CHECK(t,
              !ok && e.count && strstr(e.msgs[0], top ? "$" : "$.keys[0]") && after.n == before.n &&
                  memcmp(after.v, before.v, after.n * sizeof(after.v[0])) == 0,
              "%s %s: %s %s, the keys kept", top ? "$." : "$.keys[0].", field, text,
              e.count ? e.msgs[0] : "accepted!");
    json_decref(bad);
    errlist_free(&e);
}

/* Blobs of the wrong JSON types (a fleet member of another version, a
 * bug, a hand-edited etcd key): a clear error, never a crash, no change. */
static void test_types(struct tap *t, const char *dir, json_t *doc)
{
    static const struct {
        const char *field, *text;
    } keyf[] = {{"tag", "\"123\""},  {"tag", "70000"},        {"tag", "-1"},
                {"tag", "1.5"},      {"algorithm", "\"13\""}, {"algorithm", "300"},
                {"algorithm", "0"},  {"role", "1"},           {"role", "\"kskx\""},
                {"file", "5"},       {"file", "\"../Kx\""},   {"published", "\"now\""},
                {"published", "-5"}, {"active", "[]"},        {"key", "5"},
                {"private", "[]"},   {"key", "null"}};
    for (size_t i = 0; i < sizeof(keyf) / sizeof(keyf[0]); i++)
        bad_type(t, dir, doc, keyf[i].field, keyf[i].text, false);
    bad_type(t, dir, doc, "zone", "5", true);
    bad_type(t, dir, doc, "keys", "{}", true);
    bad_type(t, dir, doc, "keys", "[\"K\"]", true);
    bad_type(t, dir, doc, "keys", "[[1]]", true);
    struct errlist e;
    errlist_init(&e);
    struct zone_kasp_keys got;
    json_t *arr = json_loads("[1, 2]", 0, NULL);
    TAP_CHECK(t, !zone_kasp_share_import(dir, ZONE, arr, &got, &e) && e.count,
              "a document that is an array is refused: %s", e.count ? e.msgs[0] : "");
    json_decref(arr);
    errlist_free(&e);
}

int main(void)
{
    struct tap t = {0, 0};
    char top[] = "/tmp/gtm-share-XXXXXX", a[300], b[300];
    if (!mkdtemp(top))
        return 1;
    snprintf(a, sizeof(a), "%s/a", top);
    snprintf(b, sizeof(b), "%s/b", top);
    struct errlist e;
    errlist_init(&e);
    struct zone_kasp_keys keys, got, back;
    TAP_CHECK(&t, make_store(a, &keys, &e), "a store of two keys: %s", e.count ? e.msgs[0] : "");
    json_t *doc = zone_kasp_share_export(a, ZONE, &keys, &e);
    TAP_CHECK(&t, doc && json_array_size(json_object_get(doc, "keys")) == 2,
              "exported with both keys");
    TAP_CHECK(&t, zone_kasp_share_import(b, ZONE, doc, &got, &e) && got.n == 2,
              "imported into an empty directory: %s", e.count ? e.msgs[0] : "");
    TAP_CHECK(&t,
              zone_kasp_store_load(b, ZONE, &back, &e) && back.n == 2 &&
                  memcmp(&back.v[1], &keys.v[1], sizeof(keys.v[1])) == 0,
              "the other node's state is the same");
    TAP_CHECK(&t,
              mode_of(b, keys.v[0].base, ".private") == 0600 &&
                  mode_of(b, keys.v[0].base, ".key") == 0600,
              "its key files are 0600");
    json_t *again = zone_kasp_share_export(b, ZONE, &back, &e);
    TAP_CHECK(&t, again && json_equal(again, doc), "and its export is the same document");
    json_decref(again);
    test_bad(&t, b, doc);
    test_types(&t, b, doc);

    /* A set that lost the ZSK (purged by the writer): its files go here too. */
    json_t *less = json_deep_copy(doc);
    json_array_remove(json_object_get(less, "keys"), 1);
    TAP_CHECK(&t, zone_kasp_share_import(b, ZONE, less, &got, &e) && got.n == 1,
              "a set of one key is imported");
    TAP_CHECK(&t, mode_of(b, keys.v[1].base, ".private") == -1,
              "the key it no longer lists is deleted");
    json_decref(less);
    json_decref(doc);
    errlist_free(&e);
    char cmd[400];
    snprintf(cmd, sizeof(cmd), "rm -rf %s", top);
    if (system(cmd) != 0)
        return 1;
    return tap_done(&t);
}

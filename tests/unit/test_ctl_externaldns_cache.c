/*
 * Unit tests for src/ctl/ctl_externaldns_cache.c: gtmctl externaldns's
 * copy of gtmd's configuration, whether a name is ExternalDNS's (by the
 * record of that name and by the records on its pool), and the copy and
 * its indexes after the changes of a version it made.
 */
#include <string.h>

#include "ctl/ctl_externaldns_cache.h"
#include "tap.h"

static bool foreign(const struct edns_cache *x, const char *name)
{
    char why[600];
    return edns_cache_foreign(x, name, why, sizeof(why));
}

static json_t *change(const char *op, const char *path, const char *value)
{
    json_t *c = json_pack("{s:s, s:s}", "op", op, "path", path);
    if (value)
        json_object_set_new(c, "value", json_loads(value, 0, NULL));
    return c;
}

int main(void)
{
    struct tap t = {0, 0};
    struct edns_cache x = {0};
    TAP_CHECK(&t, !edns_cache_take(&x, json_loads("{\"version\": 3}", 0, NULL)) && !x.cfg,
              "a reply without resources is not taken");
    json_t *cfg =
        json_loads("{\"version\": 7, \"resources\": {\"records\": {"
                   "  \"App.Example.com.\": {\"pool\": \"web\"},"
                   "  \"mine.example.com.\": {\"pool\": \"externaldns-mine.example.com\"},"
                   "  \"other.example.com.\": {\"pool\": \"externaldns-shared.example.com\"}},"
                   " \"pools\": {}, \"checks\": {}, \"regions\": {}}}",
                   0, NULL);
    TAP_CHECK(&t, edns_cache_take(&x, cfg) && x.version == 7, "taken at version 7");
    TAP_CHECK(&t, foreign(&x, "app.example.com"), "a hand-made record, in another case");
    TAP_CHECK(&t, !foreign(&x, "mine.example.com"), "a record on its own pool is ExternalDNS's");
    TAP_CHECK(&t, foreign(&x, "shared.example.com"), "a pool another record uses");
    TAP_CHECK(&t, !foreign(&x, "new.example.com"), "a new name is ExternalDNS's");
    char why[600];
    edns_cache_foreign(&x, "app.example.com", why, sizeof(why));
    TAP_CHECK(&t, strstr(why, "pool web") != NULL, "why names the pool: %s", why);

    json_t *ch = json_array();
    json_array_append_new(
        ch, change("put", "pools/externaldns-new.example.com", "{\"endpoints\": []}"));
    json_array_append_new(ch, change("put", "records/new.example.com.",
                                     "{\"pool\": \"externaldns-new.example.com\"}"));
    json_array_append_new(ch, change("delete", "records/other.example.com.", NULL));
    json_array_append_new(ch, change("put", "records/mine.example.com.", "{\"pool\": \"web\"}"));
    json_array_append_new(ch, change("put", "regions/default", "{}"));
    edns_cache_apply(&x, ch, 8);
    json_decref(ch);
    TAP_CHECK(&t, x.version == 8, "the version it made");
    TAP_CHECK(&t, json_object_get(json_object_get(x.res, "pools"), "externaldns-new.example.com"),
              "a pool put is in the copy");
    TAP_CHECK(&t, json_object_get(json_object_get(x.res, "regions"), "default"),
              "a region put is in the copy");
    TAP_CHECK(&t, !json_object_get(json_object_get(x.res, "records"), "other.example.com."),
              "a record deleted is gone from the copy");
    TAP_CHECK(&t, !foreign(&x, "new.example.com"), "a record it made is ExternalDNS's");
    TAP_CHECK(&t, !foreign(&x, "shared.example.com"),
              "the pool's other record deleted: the name is free");
    TAP_CHECK(&t, foreign(&x, "mine.example.com"), "a record moved to another pool is not");
    TAP_CHECK(&t, json_array_size(json_object_get(x.by_name, "new.example.com.")) == 1,
              "indexed once");
    /* Put again as it is: still indexed once. */
    ch = json_array();
    json_array_append_new(ch, change("put", "records/new.example.com.",
                                     "{\"pool\": \"externaldns-new.example.com\"}"));
    edns_cache_apply(&x, ch, 9);
    json_decref(ch);
    TAP_CHECK(&t,
              json_array_size(json_object_get(x.by_name, "new.example.com.")) == 1 &&
                  json_array_size(json_object_get(x.by_pool, "externaldns-new.example.com")) == 1,
              "a record put again is indexed once");
    edns_cache_drop(&x);
    TAP_CHECK(&t, !x.cfg && !x.by_name && x.version == 0, "dropped");
    return tap_done(&t);
}

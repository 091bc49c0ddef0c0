/*
 * Unit tests for fleet_config_parts_ok (src/fleet/fleet_config_parts.c):
 * what a configuration version may name as the parts of its whole
 * document. A record is signed, but what it names is still checked: its
 * own version's slices only, one NODE.NONCE segment, a digest of 64 hex
 * digits, a count in range; anything else is refused before a key is read.
 * And the sizes a node reads from the configuration's head
 * (fleet_config_head_seen): malformed ones leave the sizes unknown.
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "fleet/fleet_int.h"
#include "tap.h"

static bool parts(const char *prefix, json_int_t n, const char *sum, uint64_t v)
{
    json_t *p = json_pack("{s:s, s:I, s:s}", "prefix", prefix, "n", n, "sha256", sum);
    bool ok = fleet_config_parts_ok(p, v);
    json_decref(p);
    return ok;
}

/* head's sizes as a node reads them (fleet_config_head_seen): both
 * integers of 0 or more, or the head is taken as sizeless (the release
 * before writes none) and the keep rule decides when a whole version is
 * written. A malformed head must neither stop the node nor make it trust
 * a size it was not given. */
static void test_head_sizes(struct tap *t)
{
    struct fleet *f = calloc(1, sizeof(*f));
    pthread_mutex_init(&f->lock, NULL);
    struct {
        const char *json;
        bool known;
        uint64_t chain, full_bytes, full;
    } cases[] = {
        {"{\"version\": 5, \"full\": 3, \"chain_bytes\": 100, \"full_bytes\": 4000}", true, 100,
         4000, 3},
        {"{\"version\": 6, \"full\": 3, \"chain_bytes\": 0, \"full_bytes\": 0}", true, 0, 0, 3},
        {"{\"version\": 7, \"full\": 3}", false, 0, 0, 3},
        {"{\"version\": 8, \"full\": 3, \"chain_bytes\": -1, \"full_bytes\": 4000}", false, 0, 0,
         3},
        {"{\"version\": 9, \"full\": 3, \"chain_bytes\": \"100\", \"full_bytes\": 4000}", false, 0,
         0, 3},
        {"{\"version\": 10, \"full\": 3, \"chain_bytes\": 100}", false, 0, 0, 3},
        {"{\"version\": 11, \"full\": 3, \"chain_bytes\": 1.5, \"full_bytes\": 4000}", false, 0, 0,
         3},
        {"{\"version\": 12, \"full\": 99, \"chain_bytes\": 1, \"full_bytes\": 2}", true, 1, 2, 12},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        json_t *v = json_loads(cases[i].json, 0, NULL);
        fleet_config_head_seen(f, v, 10 + (int64_t)i, "/gtmd/config/head", "n1");
        TAP_CHECK(t,
                  f->cfg.sizes_known == cases[i].known && f->cfg.chain_bytes == cases[i].chain &&
                      f->cfg.full_bytes == cases[i].full_bytes && f->cfg.full == cases[i].full,
                  "head %s: sizes %s (%llu, %llu), full %llu", cases[i].json,
                  f->cfg.sizes_known ? "known" : "unknown", (unsigned long long)f->cfg.chain_bytes,
                  (unsigned long long)f->cfg.full_bytes, (unsigned long long)f->cfg.full);
        json_decref(v);
    }
    pthread_mutex_destroy(&f->lock);
    free(f);
}

int main(void)
{
    struct tap t = {0, 0};
    char hex[65];
    memset(hex, 'a', 64);
    hex[64] = '\0';
    TAP_CHECK(&t, parts("000000000042/n1.0badcafe/", 3, hex, 42), "its own version's parts");
    TAP_CHECK(&t, !parts("000000000041/n1.0badcafe/", 3, hex, 42), "another version's parts");
    TAP_CHECK(&t, !parts("000000000042/", 3, hex, 42), "no writer segment");
    TAP_CHECK(&t, !parts("000000000042/n1/x/", 3, hex, 42), "two segments");
    TAP_CHECK(&t, !parts("000000000042/n1.0badcafe", 3, hex, 42), "no closing slash");
    TAP_CHECK(&t, !parts("000000000042/../", 3, hex, 42), "a \"..\" segment");
    TAP_CHECK(&t, !parts("000000000042/n1.0badcafe/", 0, hex, 42), "no parts");
    TAP_CHECK(&t, !parts("000000000042/n1.0badcafe/", 100000, hex, 42), "too many parts");
    TAP_CHECK(&t, !parts("000000000042/n1.0badcafe/", 3, "abc", 42), "a short digest");
    TAP_CHECK(&t, !fleet_config_parts_ok(NULL, 42), "no parts object");
    json_t *bad = json_pack("{s:i, s:I, s:s}", "prefix", 7, "n", (json_int_t)3, "sha256", hex);
    TAP_CHECK(&t, !fleet_config_parts_ok(bad, 42), "a prefix that is not a string");
    json_decref(bad);
    test_head_sizes(&t);
    return tap_done(&t);
}

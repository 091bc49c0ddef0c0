/*
 * test_serve_registry.c -- interned counter ids of policy answers: stable
 * across lookups, distinct per column, rows that grow when a region is
 * added later, the id limit, and no id for what was never added.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "serve/serve_registry.h"
#include "tap.h"

static void test_ids(struct tap *t)
{
    struct serve_registry reg;
    serve_registry_init(&reg, 1000);
    uint32_t a = serve_registry_record(&reg, "a.example.com.", 1, 0, true);
    uint32_t b = serve_registry_record(&reg, "b.example.com.", 1, 0, true);
    uint32_t a6 = serve_registry_record(&reg, "a.example.com.", 28, 0, true);
    uint32_t a1 = serve_registry_record(&reg, "a.example.com.", 1, 1, true);
    TAP_CHECK(t, a != b && a != a6 && a != a1 && b != a6 && reg.n == 4,
              "records differ by name, type and occurrence");
    TAP_CHECK(t,
              serve_registry_record(&reg, "a.example.com.", 1, 0, false) == a &&
                  serve_registry_record(&reg, "a.example.com.", 1, 0, true) == a && reg.n == 4,
              "a record is interned once");
    TAP_CHECK(t, serve_registry_record(&reg, "c.example.com.", 1, 0, false) == SERVE_NO_ID,
              "an unknown record without add has no id");
    uint32_t us = serve_registry_region(&reg, "us", true),
             eu = serve_registry_region(&reg, "eu", true);
    TAP_CHECK(t, serve_registry_region(&reg, NULL, false) == 0 && us != 0 && eu != 0 && us != eu,
              "slot 0 is no region; regions get slots of their own");
    TAP_CHECK(t,
              serve_registry_region(&reg, "us", false) == us &&
                  serve_registry_region(&reg, "ap", false) == SERVE_NO_ID,
              "region slots are interned; an unknown one without add has none");
    uint32_t ids[4] = {serve_registry_column(&reg, a, us, false, true),
                       serve_registry_column(&reg, a, us, true, true),
                       serve_registry_column(&reg, a, 0, false, true),
                       serve_registry_column(&reg, b, us, false, true)};
    bool distinct = true;
    for (int i = 0; i < 4; i++)
        for (int k = i + 1; k < 4; k++)
            distinct = distinct && ids[i] != ids[k];
    TAP_CHECK(t, distinct && reg.n_ids == 4, "one id per (record, region, canary) column");
    TAP_CHECK(t,
              serve_registry_column(&reg, a, us, false, true) == ids[0] &&
                  serve_registry_column(&reg, a, us, true, false) == ids[1] && reg.n_ids == 4,
              "a column keeps its id");
    TAP_CHECK(t,
              serve_registry_column(&reg, a, eu, false, false) == SERVE_NO_ID &&
                  serve_registry_column(&reg, SERVE_NO_ID, us, false, true) == SERVE_NO_ID &&
                  serve_registry_column(&reg, a, SERVE_NO_ID, false, true) == SERVE_NO_ID,
              "no id for a column never added, an unknown record or region");
    /* A region added after the record's row was made: the row grows and
     * keeps the ids it had. */
    uint32_t slots[20];
    for (int i = 0; i < 20; i++) {
        char name[16];
        snprintf(name, sizeof(name), "r%d", i);
        slots[i] = serve_registry_region(&reg, name, true);
    }
    const struct serve_registry_row *was = serve_registry_row(&reg, a);
    uint32_t late = serve_registry_column(&reg, a, slots[19], true, true);
    TAP_CHECK(t,
              late != SERVE_NO_ID && late == reg.n_ids - 1 &&
                  serve_registry_column(&reg, a, us, false, false) == ids[0] &&
                  serve_registry_column(&reg, a, 0, false, false) == ids[2],
              "a row grows for a later region and keeps its ids");
    /* A set holds rows: the copy it holds stays readable, with its ids and
     * key, after the row grew; the new copy is the record's row now. */
    const struct serve_registry_row *now = serve_registry_row(&reg, a);
    uint64_t key[2];
    serve_registry_key("a.example.com.", 1, 0, key);
    TAP_CHECK(t,
              now != was && now->rid == a && was->rid == a &&
                  serve_registry_row_id(was, 2 * us) == ids[0] &&
                  serve_registry_row_id(was, 2 * slots[19] + 1) == SERVE_NO_ID &&
                  serve_registry_row_id(now, 2 * slots[19] + 1) == late &&
                  was->key[0] == now->key[0] && was->key[1] == now->key[1] &&
                  now->key[0] == key[0] && now->key[1] == key[1],
              "the old copy of a grown row keeps its ids and key; the new one has the new id");
    TAP_CHECK(t,
              serve_registry_row(&reg, reg.n) == NULL &&
                  serve_registry_row_id(NULL, 0) == SERVE_NO_ID &&
                  serve_registry_row_id(now, now->n) == SERVE_NO_ID,
              "no row past the records; no id past a row's columns");
    serve_registry_free(&reg);
}

static void test_limit(struct tap *t)
{
    struct serve_registry reg;
    serve_registry_init(&reg, 3);
    uint32_t r = serve_registry_record(&reg, "x.", 1, 0, true);
    uint32_t s = serve_registry_region(&reg, "us", true);
    uint32_t a = serve_registry_column(&reg, r, s, false, true);
    uint32_t b = serve_registry_column(&reg, r, s, true, true);
    uint32_t c = serve_registry_column(&reg, r, 0, false, true);
    uint32_t d = serve_registry_column(&reg, r, 0, true, true);
    TAP_CHECK(t,
              a != SERVE_NO_ID && b != SERVE_NO_ID && c != SERVE_NO_ID && d == SERVE_NO_ID &&
                  reg.full_logged,
              "past max_ids new columns are not counted (logged once)");
    TAP_CHECK(t, serve_registry_column(&reg, r, s, false, true) == a,
              "a full registry still finds the ids it has");
    serve_registry_free(&reg);
}

/* Keys that a formatted key could have confused, and names that differ
 * only in length or one character, get distinct digests. */
static void test_keys(struct tap *t)
{
    enum { N = 40 * 3 * 3 };
    static uint64_t k[N][2];
    char name[48];
    const uint16_t types[3] = {1, 28, 257};
    const unsigned occs[3] = {0, 1, 65536};
    size_t n = 0;
    for (int len = 0; len < 40; len++)
        for (int ty = 0; ty < 3; ty++)
            for (int oc = 0; oc < 3; oc++) {
                memset(name, 'x', (size_t)len);
                name[len] = 0;
                serve_registry_key(name, types[ty], occs[oc], k[n++]);
            }
    bool distinct = true;
    for (size_t i = 0; i < n; i++)
        for (size_t j = i + 1; j < n; j++)
            distinct = distinct && (k[i][0] != k[j][0] || k[i][1] != k[j][1]);
    uint64_t a[2], b[2];
    serve_registry_key("a.example.com.", 1, 0, a);
    serve_registry_key("a.example.com.", 1, 0, b);
    TAP_CHECK(t, distinct && a[0] == b[0] && a[1] == b[1],
              "keys differ by name length, type and occurrence; the same record has one key");
}

/* Many records: the table grows and every record keeps its id. */
static void test_many(struct tap *t)
{
    struct serve_registry reg;
    serve_registry_init(&reg, 1u << 20);
    enum { N = 20000 };
    uint32_t *ids = malloc(N * sizeof(*ids));
    bool ok = ids != NULL;
    char name[64];
    for (int i = 0; ok && i < N; i++) {
        snprintf(name, sizeof(name), "r%d.example.com.", i);
        ids[i] = serve_registry_record(&reg, name, 1, 0, true);
        ok = ids[i] == (uint32_t)i;
    }
    for (int i = 0; ok && i < N; i++) {
        snprintf(name, sizeof(name), "r%d.example.com.", i);
        ok = serve_registry_record(&reg, name, 1, 0, false) == ids[i];
    }
    TAP_CHECK(t, ok && reg.n == N, "20,000 records interned and found again");
    free(ids);
    serve_registry_free(&reg);
}

int main(void)
{
    struct tap t = {0, 0};
    test_ids(&t);
    test_limit(&t);
    test_keys(&t);
    test_many(&t);
    return tap_done(&t);
}

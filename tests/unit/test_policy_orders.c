/*
 * Unit tests for src/policy/policy_orders.c: equal region lists are one
 * entry of the table, counted by reference, and the last release frees it;
 * without a table each list is a block of its own; releases from another
 * thread beside interning keep the counts exact; and through the parser:
 * the records of one order share one list, records taken by a change keep
 * theirs, and freeing the sets (in either order of publication, with and
 * without a table on either side) releases every list exactly once, and
 * a taken record's block of rare parts (policy_record.ext) with it.
 * (The ASan build finds a list freed twice or leaked.)
 */
#include <jansson.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/errlist.h"
#include "common/jsoncfg.h"
#include "policy/policy_config.h"
#include "policy/policy_orders.h"
#include "tap.h"

static const char *const origins[] = {"example.com."};

static void test_table(struct tap *t)
{
    struct policy_orders *tab = policy_orders_new();
    const uint16_t ab[] = {0, 1}, ba[] = {1, 0}, a[] = {0};
    const uint16_t *x = policy_orders_intern(tab, ab, 2);
    const uint16_t *y = policy_orders_intern(tab, (uint16_t[]){0, 1}, 2);
    const uint16_t *z = policy_orders_intern(tab, ba, 2);
    const uint16_t *w = policy_orders_intern(tab, a, 1);
    TAP_CHECK(t, x == y && x[0] == 0 && x[1] == 1, "an equal list is the same entry");
    TAP_CHECK(t, z != x && z[0] == 1 && z[1] == 0 && w != x && w[0] == 0,
              "another order, or a prefix, is another entry");
    TAP_CHECK(t,
              policy_orders_count(tab) == 3 && policy_orders_refs(x) == 2 &&
                  policy_orders_refs(z) == 1,
              "3 lists, [0,1] twice (%zu lists, %u refs)", policy_orders_count(tab),
              policy_orders_refs(x));
    const uint16_t *e = policy_orders_intern(tab, NULL, 0),
                   *e2 = policy_orders_intern(tab, NULL, 0);
    TAP_CHECK(t, e && e == e2 && policy_orders_count(tab) == 4, "the empty list: one, not NULL");
    policy_orders_release(y);
    TAP_CHECK(t, policy_orders_refs(x) == 1 && policy_orders_count(tab) == 4,
              "a release leaves the other holder's list");
    policy_orders_release(x);
    TAP_CHECK(t, policy_orders_count(tab) == 3, "the last release frees it");
    const uint16_t *x2 = policy_orders_intern(tab, ab, 2);
    TAP_CHECK(t, policy_orders_refs(x2) == 1 && policy_orders_count(tab) == 4,
              "made again after it went");
    /* Past the first buckets: every list found again after the growth. */
    const uint16_t *many[2000];
    bool same = true;
    for (uint16_t i = 0; i < 2000; i++)
        many[i] = policy_orders_intern(tab, (uint16_t[]){i, 7, i}, 3);
    for (uint16_t i = 0; i < 2000; i++) {
        const uint16_t *again = policy_orders_intern(tab, (uint16_t[]){i, 7, i}, 3);
        same = same && again == many[i] && again[0] == i && again[2] == i;
        policy_orders_release(again);
    }
    TAP_CHECK(t, same && policy_orders_count(tab) == 2004, "2,000 lists more, each found again");
    for (int i = 0; i < 2000; i++)
        policy_orders_release(many[i]);
    policy_orders_release(x2);
    policy_orders_release(z);
    policy_orders_release(w);
    policy_orders_release(e);
    policy_orders_release(e2);
    TAP_CHECK(t, policy_orders_count(tab) == 0, "every list released: the table is empty");
    policy_orders_release(NULL); /* nothing */
    /* A list left behind goes with the table (the ASan build: no leak). */
    policy_orders_intern(tab, ab, 2);
    policy_orders_free(tab);
}

static void test_no_table(struct tap *t)
{
    const uint16_t ab[] = {0, 1};
    const uint16_t *x = policy_orders_intern(NULL, ab, 2), *y = policy_orders_intern(NULL, ab, 2);
    TAP_CHECK(t,
              x && y && x != y && x != ab && memcmp(x, ab, sizeof(ab)) == 0 &&
                  memcmp(y, ab, sizeof(ab)) == 0,
              "without a table: a copy of its own each");
    TAP_CHECK(t, policy_orders_refs(x) == 1, "held once");
    const uint16_t *e = policy_orders_intern(NULL, NULL, 0);
    TAP_CHECK(t, e != NULL, "the empty list is not NULL");
    policy_orders_release(x);
    policy_orders_release(y);
    policy_orders_release(e);
    policy_orders_free(NULL);
}

enum { PO_ROUNDS = 200000 };

struct po_thread {
    const uint16_t **held; /* PO_ROUNDS references to release */
};

static void *po_releaser(void *arg)
{
    struct po_thread *p = arg;
    for (int i = 0; i < PO_ROUNDS; i++)
        policy_orders_release(p->held[i]);
    return NULL;
}

/* The dropper releases a set's lists while the reload thread compiles the
 * next one into the same table. */
static void test_threads(struct tap *t)
{
    struct policy_orders *tab = policy_orders_new();
    const uint16_t ab[] = {0, 1}, ba[] = {1, 0};
    struct po_thread p = {calloc(PO_ROUNDS, sizeof(*p.held))};
    if (!p.held)
        abort();
    for (int i = 0; i < PO_ROUNDS; i++)
        p.held[i] = policy_orders_intern(tab, i % 2 ? ab : ba, 2);
    const uint16_t *keep = policy_orders_intern(tab, ab, 2);
    pthread_t th;
    pthread_create(&th, NULL, po_releaser, &p);
    /* Meanwhile: the same lists taken and given back, and new ones made
     * (the buckets grow under the other thread's releases). */
    const uint16_t **mine = calloc(PO_ROUNDS, sizeof(*mine));
    if (!mine)
        abort();
    for (int i = 0; i < PO_ROUNDS; i++)
        mine[i] = policy_orders_intern(tab, i % 3 ? ab : (uint16_t[]){(uint16_t)i, 9}, 2);
    pthread_join(th, NULL);
    TAP_CHECK(t, policy_orders_refs(keep) == 1 + (uint32_t)(PO_ROUNDS - (PO_ROUNDS + 2) / 3),
              "refs exact after concurrent releases (%u)", policy_orders_refs(keep));
    for (int i = 0; i < PO_ROUNDS; i++)
        policy_orders_release(mine[i]);
    TAP_CHECK(t, policy_orders_count(tab) == 1 && policy_orders_refs(keep) == 1,
              "only the list still held is left (%zu)", policy_orders_count(tab));
    (void)ba;
    policy_orders_release(keep);
    TAP_CHECK(t, policy_orders_count(tab) == 0, "then none");
    free(mine);
    free(p.held);
    policy_orders_free(tab);
}

/* n records: failover a,b or b,a or c,a,b (given), all (the pool's). */
static json_t *po_root(int n)
{
    json_t *recs = json_object();
    for (int k = 0; k < n; k++) {
        char name[64];
        snprintf(name, sizeof(name), "r%d.example.com.", k);
        json_t *r = k % 4 == 3 ? json_pack("{s:s, s:s}", "pool", "p", "policy", "all")
                    : k % 4 == 2
                        ? json_pack("{s:s, s:[s,s,s]}", "pool", "p", "regions", "c", "a", "b")
                        : json_pack("{s:s, s:[s,s]}", "pool", "p", "regions", k % 4 ? "b" : "a",
                                    k % 4 ? "a" : "b");
        if (k % 4 == 1) /* and a failback ramp: a block of rare parts (policy_record.ext) */
            json_object_set_new(r, "failback", json_pack("{s:i}", "ramp", 10 + k));
        json_object_set_new(recs, name, r);
    }
    return json_pack("{s:{s:{}, s:{}, s:{}}, s:{s:{s:[{s:s, s:s, s:s}, {s:s, s:s, s:s}, "
                     "{s:s, s:s, s:s}]}}, s:o}",
                     "regions", "a", "b", "c", "pools", "p", "endpoints", "name", "e1", "address",
                     "192.0.2.1", "region", "a", "name", "e2", "address", "192.0.2.2", "region",
                     "b", "name", "e3", "address", "192.0.2.3", "region", "c", "records", recs);
}

static struct gslb *po_parse(json_t *root, const struct policy_reuse *reuse, struct errlist *e)
{
    struct jsoncfg j = {.errs = e, .file = "test.json", .dir = "."};
    return policy_config_parse_reuse(&j, root, origins, 1, reuse);
}

static const struct policy_record *po_find(const struct gslb *g, const char *name)
{
    for (size_t i = 0; g && i < g->n_records; i++)
        if (strcmp(gslb_rec(g, i)->name_str, name) == 0)
            return gslb_rec(g, i);
    return NULL;
}

/* The running set g0 (compiled with table t0, NULL: none) and a change
 * taking all but two of its records (with t1): every list released once,
 * whichever set goes first. */
static void po_change(struct tap *t, struct policy_orders *t0, struct policy_orders *t1,
                      const char *what)
{
    struct errlist e;
    errlist_init(&e);
    json_t *root0 = po_root(40);
    struct policy_reuse ru0 = {.orders = t0};
    struct gslb *g0 = po_parse(root0, &ru0, &e);
    json_t *root1 = json_copy(root0), *recs = json_copy(json_object_get(root0, "records"));
    json_object_set_new(root1, "records", recs);
    json_object_set_new(recs, "r1.example.com.",
                        json_pack("{s:s, s:[s,s]}", "pool", "p", "regions", "a", "b"));
    json_object_set_new(recs, "new.example.com.",
                        json_pack("{s:s, s:[s,s]}", "pool", "p", "regions", "a", "c"));
    json_t *touched = json_pack("{s:b, s:b}", "r1.example.com.", 1, "new.example.com.", 1);
    struct policy_reuse ru1 = {.g = g0, .root = root0, .touched = touched, .orders = t1};
    struct gslb *g1 = po_parse(root1, &ru1, &e);
    TAP_CHECK(t, g0 && g1 && e.count == 0 && g1->n_reused == 39, "%s: compiled, 39 taken", what);
    const struct policy_record *r0 = po_find(g0, "r2.example.com."),
                               *r1 = po_find(g1, "r2.example.com.");
    const struct policy_record *n1 = po_find(g1, "r1.example.com."),
                               *z1 = po_find(g1, "r0.example.com.");
    TAP_CHECK(t,
              r0 && r1 && r1->regions == r0->regions && n1 && z1 &&
                  (n1->regions == z1->regions) == (t1 && t1 == t0) && n1->n_regions == 2 &&
                  n1->regions[0] == 0 && n1->regions[1] == 1,
              "%s: a record taken keeps its list; one compiled shares it when interned", what);
    const struct policy_record *x1 = po_find(g1, "r5.example.com.");
    const struct policy_record_ext *x0_ext = po_find(g0, "r5.example.com.")->ext;
    gslb_published(g0, g1);
    gslb_unref(g0); /* g0 holds g1: g1 outlives it */
    TAP_CHECK(t, r1->regions[0] == 2 && r1->regions[2] == 1 && n1->regions[0] == 0,
              "%s: the taken records' lists outlive the set they came from", what);
    TAP_CHECK(t, x1 && x1->ext && x1->ext == x0_ext && x1->ext->ramp_ms == 15000 && !z1->ext,
              "%s: and their blocks of rare parts (shared, not copied)", what);
    /* Held by g1 now: the taken records' 4 lists (where g0 made them)
     * and the 2 compiled ([a,b] again and [a,c], in g1's table). */
    if (t0 && t0 == t1)
        TAP_CHECK(t, policy_orders_count(t0) == 5, "%s: 5 lists held (%zu)", what,
                  policy_orders_count(t0));
    else if (t0)
        TAP_CHECK(t, policy_orders_count(t0) == 4, "%s: the taken records' 4 lists held (%zu)",
                  what, policy_orders_count(t0));
    else if (t1)
        TAP_CHECK(t, policy_orders_count(t1) == 2, "%s: the compiled records' 2 lists held (%zu)",
                  what, policy_orders_count(t1));
    gslb_unref(g1);
    if (t0)
        TAP_CHECK(t, policy_orders_count(t0) == 0, "%s: every list released", what);
    if (t1)
        TAP_CHECK(t, policy_orders_count(t1) == 0, "%s: every list released (new table)", what);
    json_decref(touched);
    json_decref(root1);
    json_decref(root0);
    errlist_free(&e);
}

static void test_parse(struct tap *t)
{
    struct errlist e;
    errlist_init(&e);
    struct policy_orders *tab = policy_orders_new();
    json_t *root = po_root(400);
    struct policy_reuse ru = {.orders = tab};
    struct gslb *g = po_parse(root, &ru, &e), *plain = po_parse(root, NULL, &e);
    TAP_CHECK(t, g && plain && e.count == 0 && g->n_records == 400, "400 records compile");
    const struct policy_record *a = po_find(g, "r0.example.com."),
                               *b = po_find(g, "r4.example.com.");
    const struct policy_record *c = po_find(g, "r3.example.com."),
                               *d = po_find(g, "r2.example.com.");
    TAP_CHECK(t, a->regions == b->regions && a->n_regions == 2 && a->regions[0] == 0,
              "two records of one order: one list");
    TAP_CHECK(t,
              c->n_regions == 3 && c->regions[0] == 0 && c->regions[2] == 2 && d->n_regions == 3 &&
                  d->regions[0] == 2 && c->regions != d->regions,
              "the pool's regions (all) and a given order of the same regions: two lists");
    TAP_CHECK(t, policy_orders_count(tab) == 4 && policy_orders_refs(a->regions) == 100,
              "4 distinct lists for 400 records, 100 refs each (%zu, %u)", policy_orders_count(tab),
              policy_orders_refs(a->regions));
    const struct policy_record *pa = po_find(plain, "r0.example.com."),
                               *pb = po_find(plain, "r4.example.com.");
    TAP_CHECK(t,
              pa->regions != pb->regions && pa->regions[1] == 1 && pb->regions[1] == 1 &&
                  policy_orders_refs(pa->regions) == 1,
              "without a table: a list per record, as before");
    gslb_unref(plain);
    gslb_unref(g);
    TAP_CHECK(t, policy_orders_count(tab) == 0, "the set freed: its lists gone");
    json_decref(root);
    errlist_free(&e);
    po_change(t, tab, tab, "one table");
    po_change(t, NULL, tab, "from a set without a table");
    po_change(t, tab, NULL, "to a set without a table");
    po_change(t, NULL, NULL, "no table");
    policy_orders_free(tab);
}

int main(void)
{
    struct tap t = {0};
    test_table(&t);
    test_no_table(&t);
    test_threads(&t);
    test_parse(&t);
    return tap_done(&t);
}

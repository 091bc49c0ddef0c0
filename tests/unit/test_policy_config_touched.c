/*
 * Unit tests for src/policy/policy_config_touched.c: a change that says
 * which records it touched (policy_reuse.touched) compiles those alone and
 * takes every other record from the running set, and the set it gives
 * holds exactly the records a full compile of the same document holds
 * (compared field by field, by name); records of a pool whose shape
 * changed are compiled although not touched; a touched record's error is
 * the full compile's, at the same path; a change whose touched list does
 * not add up (a name gone that it does not list) is walked instead, with
 * the same result; random changes against the full compile.
 */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/errlist.h"
#include "common/jsoncfg.h"
#include "health/health.h"
#include "policy/policy_config.h"
#include "policy/policy_orders.h"
#include "policy_fixture.h"
#include "tap.h"

static const char *const origins[] = {"example.com."};

static json_t *tt_record(int k)
{
    const char *pool = k % 3 == 0 ? "p2" : "p1";
    if (k % 7 == 0) /* a name with two records (an array): A and AAAA */
        return json_pack("[{s:s, s:s, s:i}, {s:s, s:s, s:i}]", "pool", pool, "policy", "all", "ttl",
                         30 + k % 5, "pool", "p6", "policy", "all", "ttl", 31);
    json_t *r = json_pack("{s:s, s:s, s:[s, s], s:i}", "pool", pool, "policy", "failover",
                          "regions", k % 2 ? "a" : "b", k % 2 ? "b" : "a", "ttl", 20 + k % 9);
    if (k % 5 == 0) /* a failback ramp: counted (gslb.n_ramped) */
        json_object_set_new(r, "failback", json_pack("{s:i}", "ramp", 30 + k % 4));
    return r;
}

static json_t *tt_root(int n)
{
    json_t *recs = json_object();
    for (int k = 0; k < n; k++) {
        char name[64];
        snprintf(name, sizeof(name), "r%d.example.com.", k);
        json_object_set_new(recs, name, tt_record(k));
    }
    return policy_fixture_root(recs);
}

static struct gslb *tt_parse(json_t *root, const struct policy_reuse *reuse, struct errlist *e)
{
    struct jsoncfg j = {.errs = e, .file = "test.json", .dir = "."};
    return policy_config_parse_reuse(&j, root, origins, 1, reuse);
}

/* The record of g named name, k-th of its name, or NULL. */
static const struct policy_record *tt_find(const struct gslb *g, const char *name, int k)
{
    for (size_t i = 0; i < g->n_records; i++)
        if (strcmp(gslb_rec(g, i)->name_str, name) == 0 && k-- == 0)
            return gslb_rec(g, i);
    return NULL;
}

/* Whether a and b hold the same records (by name, in each name's order). */
static bool tt_same(const struct gslb *a, const struct gslb *b)
{
    if (a->n_records != b->n_records)
        return false;
    /* The counts a change keeps instead of walking (policy_geo_build,
     * policy_ramp_init), and what they decide. */
    if (!a->counted || a->n_located != b->n_located || a->n_ramped != b->n_ramped ||
        a->n_loose != b->n_loose || (a->ramp == NULL) != (b->ramp == NULL)) {
        printf("# counts differ: %zu/%zu located, %zu/%zu ramped\n", a->n_located, b->n_located,
               a->n_ramped, b->n_ramped);
        return false;
    }
    for (size_t i = 0; i < b->n_records; i++) {
        const struct policy_record *x = gslb_rec(b, i);
        int k = 0;
        for (size_t p = i; p > 0 && strcmp(gslb_rec(b, p - 1)->name_str, x->name_str) == 0; p--)
            k++;
        const struct policy_record *y = tt_find(a, x->name_str, k);
        if (!y || y->ttl != x->ttl || y->pool != x->pool || y->policy != x->policy ||
            y->answers != x->answers || y->n_regions != x->n_regions ||
            (x->n_regions && memcmp(y->regions, x->regions, x->n_regions * sizeof(*x->regions))) ||
            y->rtype != x->rtype || y->select != x->select || y->name_len != x->name_len ||
            memcmp(y->name, x->name, x->name_len) != 0 || y->elem != x->elem) {
            printf("# differs at %s\n", x->name_str);
            return false;
        }
    }
    return true;
}

static size_t tt_compiled(const struct gslb *g)
{
    size_t n = 0;
    for (size_t i = 0; i < g->n_records; i++)
        n += gslb_origin_of(g, i) == NULL;
    return n;
}

static void test_change(struct tap *t)
{
    struct errlist e;
    errlist_init(&e);
    json_t *root0 = tt_root(300);
    struct gslb *g0 = tt_parse(root0, NULL, &e);
    for (size_t i = 0; i < e.count; i++)
        printf("# %s\n", e.msgs[i]);
    TAP_CHECK(t, g0 && e.count == 0, "the running set compiles (%zu records)", g0->n_records);
    json_t *root1 = policy_fixture_copy(root0), *recs = json_object_get(root1, "records");
    json_object_set_new(recs, "r5.example.com.",
                        json_pack("{s:s, s:s, s:i}", "pool", "p1", "policy", "all", "ttl", 99));
    json_object_del(recs, "r7.example.com."); /* an array of two */
    json_object_set_new(recs, "new.example.com.", tt_record(14));
    json_t *touched = json_pack("{s:b, s:b, s:b}", "r5.example.com.", 1, "r7.example.com.", 1,
                                "new.example.com.", 1);
    struct policy_reuse ru = {
        .g = g0, .root = root0, .touched = touched, .orders = NULL, .chunks_live = NULL};
    struct gslb *g1 = tt_parse(root1, &ru, &e);
    struct gslb *full = tt_parse(root1, NULL, &e);
    TAP_CHECK(t, g1 && full && e.count == 0, "the change compiles, with and without reuse");
    TAP_CHECK(t, tt_same(g1, full), "touched: the records of a full compile");
    TAP_CHECK(t, tt_compiled(g1) == 3, "touched: only the 3 touched records compiled (%zu)",
              tt_compiled(g1));
    const struct policy_record *r5 = tt_find(g1, "r5.example.com.", 0),
                               *r5was = tt_find(g0, "r5.example.com.", 0),
                               *r7was = tt_find(g0, "r7.example.com.", 0);
    /* r5 keeps as many records: compiled in its room (issue #55), so every
     * record before r7 (removed) keeps its index; the new name is last. */
    size_t kept_at = 0;
    for (size_t i = 0; r7was && i < r7was->index; i++)
        kept_at += g1->from[i] == i || i == r5was->index;
    TAP_CHECK(t, r5 && r5was && r5->index == r5was->index && kept_at == r7was->index,
              "touched: r5 compiled at its index, the %zu records before r7 at theirs (%zu)",
              r7was ? (size_t)r7was->index : 0, kept_at);
    TAP_CHECK(t, strcmp(gslb_rec(g1, g1->n_records - 1)->name_str, "new.example.com.") == 0,
              "touched: a new name compiled after the records taken");
    TAP_CHECK(t, r5 && r5->ttl == 99, "touched: the new value is served");
    gslb_published(g0, g1);
    /* The pools change shape: p2 gets a region-b endpoint; its records
     * are compiled again, touched or not. */
    json_t *root2 = policy_fixture_copy(root1);
    json_t *pools = json_deep_copy(json_object_get(root1, "pools"));
    json_array_append_new(
        json_object_get(json_object_get(pools, "p2"), "endpoints"),
        json_pack("{s:s, s:s, s:s}", "name", "e4", "address", "192.0.2.4", "region", "b"));
    json_object_set_new(root2, "pools", pools);
    json_t *none = json_object();
    struct policy_reuse ru2 = {.g = g1, .root = root1, .touched = none};
    struct gslb *g2 = tt_parse(root2, &ru2, &e);
    struct gslb *full2 = tt_parse(root2, NULL, &e);
    size_t on_p2 = 0; /* the records of names with a record on p2 (a member compiles whole) */
    for (size_t i = 0; i < full2->n_records; i++) {
        const char *nm = gslb_rec(full2, i)->name_str;
        const struct policy_record *a = tt_find(full2, nm, 0), *b = tt_find(full2, nm, 1);
        on_p2 += a->pool == 1 || (b && b->pool == 1);
    }
    TAP_CHECK(t, g2 && tt_same(g2, full2), "pool changed: the records of a full compile");
    TAP_CHECK(t, tt_compiled(g2) == on_p2, "pool changed: its names' %zu records compiled (%zu)",
              on_p2, tt_compiled(g2));
    /* A touched record that does not compile: the full compile's error. */
    json_t *root3 = policy_fixture_copy(root1);
    json_object_set_new(json_object_get(root3, "records"), "r9.example.com.",
                        json_pack("{s:s, s:s}", "pool", "nope", "policy", "all"));
    json_t *t3 = json_pack("{s:b}", "r9.example.com.", 1);
    struct errlist e3;
    errlist_init(&e3);
    struct policy_reuse ru3 = {.g = g1, .root = root1, .touched = t3};
    struct gslb *g3 = tt_parse(root3, &ru3, &e3);
    TAP_CHECK(t,
              e3.count == 1 && strstr(e3.msgs[0], "$.records[\"r9.example.com.\"].pool") &&
                  strstr(e3.msgs[0], "\"nope\" is not defined"),
              "an error at the touched record's path: %s", e3.count ? e3.msgs[0] : "none");
    /* A touched list that leaves out a name gone: the walk, same result. */
    json_t *root4 = policy_fixture_copy(root1);
    json_object_del(json_object_get(root4, "records"), "r11.example.com.");
    json_object_set_new(json_object_get(root4, "records"), "r12.example.com.", tt_record(13));
    json_t *t4 = json_pack("{s:b}", "r12.example.com.", 1);
    struct policy_reuse ru4 = {.g = g1, .root = root1, .touched = t4};
    struct gslb *g4 = tt_parse(root4, &ru4, &e);
    struct gslb *full4 = tt_parse(root4, NULL, &e);
    TAP_CHECK(t, g4 && tt_same(g4, full4) && !tt_find(g4, "r11.example.com.", 0),
              "a touched list that does not add up: walked, as a full compile");
    gslb_unref(g4);
    gslb_unref(full4);
    gslb_unref(g3);
    errlist_free(&e3);
    gslb_unref(g2);
    gslb_unref(full2);
    gslb_unref(full);
    gslb_unref(g1);
    gslb_unref(g0);
    json_decref(t4);
    json_decref(root4);
    json_decref(t3);
    json_decref(root3);
    json_decref(none);
    json_decref(root2);
    json_decref(touched);
    json_decref(root1);
    json_decref(root0);
    errlist_free(&e);
}

/* Whether the pools (and azs) of a and b are the same, field by field. */
static bool tt_same_pools(const struct gslb *a, const struct gslb *b)
{
    if (a->n_pools != b->n_pools || a->n_azs != b->n_azs)
        return false;
    for (size_t i = 0; i < a->n_pools; i++) {
        const struct policy_pool *p = &a->pools[i], *q = &b->pools[i];
        if (strcmp(p->name, q->name) != 0 || p->check != q->check || p->n_eps != q->n_eps ||
            p->min_healthy != q->min_healthy)
            return false;
        for (size_t k = 0; k < p->n_eps; k++) {
            const struct policy_endpoint *x = &p->eps[k], *y = &q->eps[k];
            if (strcmp(x->name, y->name) != 0 || strcmp(x->key, y->key) != 0 ||
                strcmp(x->address_str, y->address_str) != 0 || x->rtype != y->rtype ||
                x->rdlen != y->rdlen ||
                memcmp(policy_endpoint_rdata(x), policy_endpoint_rdata(y), x->rdlen) != 0 ||
                x->region != y->region || x->az != y->az || x->weight != y->weight)
                return false;
        }
    }
    return true;
}

/* The running set of a document of n records (*root0, compiled into
 * *g0) and the document of a change that puts tt_record(k) at r3
 * (*root1, a copy sharing the rest): the start of the tests below. */
static void tt_change_r3(int n, int k, struct errlist *e, json_t **root0, struct gslb **g0,
                         json_t **root1)
{
    *root0 = tt_root(n);
    *g0 = tt_parse(*root0, NULL, e);
    *root1 = policy_fixture_copy(*root0);
    json_object_set_new(json_object_get(*root1, "records"), "r3.example.com.", tt_record(k));
}

/* A change that leaves "pools", "regions" and "checks" as they were takes
 * the running set's pools (their strings shared, gslb.pools_from) and
 * gives the pools a full compile gives; a set never published leaves them
 * to the running set, a published one keeps them once the running set is
 * freed; a change of the pools parses them. Run under AddressSanitizer in
 * CI: a string freed twice or read after its free fails there. */
static void test_pools_taken(struct tap *t)
{
    struct errlist e;
    errlist_init(&e);
    json_t *root0, *root1;
    struct gslb *g0;
    tt_change_r3(50, 4, &e, &root0, &g0, &root1);
    /* The pools object a copy holding the same members, as config_api.c's
     * copies may be. */
    json_object_set_new(root1, "pools", json_copy(json_object_get(root0, "pools")));
    json_t *touched = json_pack("{s:b}", "r3.example.com.", 1);
    struct policy_reuse ru = {
        .g = g0, .root = root0, .touched = touched, .orders = NULL, .chunks_live = NULL};
    struct gslb *dry = tt_parse(root1, &ru, &e);
    TAP_CHECK(t, dry && dry->pools_from == g0 && dry->pools[0].name == g0->pools[0].name,
              "pools unchanged: taken from the running set, strings shared");
    gslb_unref(dry); /* never published: g0's strings stay g0's */
    struct gslb *g1 = tt_parse(root1, &ru, &e);
    struct gslb *full1 = tt_parse(root1, NULL, &e);
    TAP_CHECK(t,
              g1 && full1 && e.count == 0 && tt_same_pools(g0, full1) && tt_same_pools(g1, full1),
              "the pools taken are a full compile's, and the running set's are intact after a set "
              "that took them was freed unpublished");
    gslb_published(g0, g1);
    gslb_unref(g0);
    TAP_CHECK(t, g1->pools_from == NULL && tt_same_pools(g1, full1),
              "published, the running set freed: the pools are the new set's and intact");
    /* A region added: the pools are parsed. */
    json_t *root3 = policy_fixture_copy(root1);
    json_t *regions = json_deep_copy(json_object_get(root1, "regions"));
    json_object_set_new(regions, "c", json_object());
    json_object_set_new(root3, "regions", regions);
    struct policy_reuse ru3 = {.g = g1, .root = root1, .touched = touched};
    struct gslb *g3 = tt_parse(root3, &ru3, &e);
    TAP_CHECK(t, g3 && g3->pools_from == NULL && e.count == 0,
              "regions changed: the pools are parsed again");
    gslb_unref(g3);
    gslb_unref(full1);
    gslb_unref(g1);
    json_decref(root3);
    json_decref(touched);
    json_decref(root1);
    json_decref(root0);
    errlist_free(&e);
}

/* The references the sets of g's pools hold on their endpoints' slots
 * (their sum over every endpoint). */
static unsigned long tt_ep_refs(struct health_core *c, const struct gslb *g)
{
    unsigned long n = 0;
    pthread_mutex_lock(&c->lock);
    for (size_t i = 0; i < g->n_pools; i++)
        for (size_t k = 0; k < g->pools[i].n_eps; k++)
            n += g->pools[i].eps[k].slot ? g->pools[i].eps[k].slot->refs : 0;
    pthread_mutex_unlock(&c->lock);
    return n;
}

/* A change of records shares the running set's very pools arrays, with
 * their endpoints' health slots (gslb.pools_shared): mapped in the same
 * core it takes no reference and begins no mapping; mapped in another
 * core (a dry run's) it maps a copy of its own and leaves the running
 * set's slots alone; published, it keeps the arrays and the references
 * once the running set is freed, and frees them itself. ASan in CI: an
 * array freed twice, or a slot released twice (freed and read after), fails
 * there. */
static void test_pools_shared_health(struct tap *t)
{
    struct errlist e;
    errlist_init(&e);
    struct health_core live, other;
    health_core_init(&live);
    health_core_init(&other);
    json_t *root0, *root1;
    struct gslb *g0;
    tt_change_r3(30, 4, &e, &root0, &g0, &root1);
    gslb_map_health(g0, &live);
    size_t slots0 = live.n_slots;
    unsigned long refs0 = tt_ep_refs(&live, g0);
    json_t *touched = json_pack("{s:b}", "r3.example.com.", 1);
    struct policy_reuse ru = {.g = g0, .root = root0, .touched = touched};
    struct gslb *dry = tt_parse(root1, &ru, &e);
    gslb_map_health(dry, &other);
    TAP_CHECK(t,
              dry && dry->pools != g0->pools && !dry->pools_shared &&
                  dry->pools[0].eps[0].slot != g0->pools[0].eps[0].slot &&
                  tt_ep_refs(&live, g0) == refs0 && other.n_slots > 0,
              "mapped in another core: arrays of its own, the running set's slots untouched");
    gslb_unref(dry);
    struct gslb *g1 = tt_parse(root1, &ru, &e);
    uint16_t gen = live.map_gen;
    gslb_map_health(g1, &live);
    TAP_CHECK(t,
              g1 && e.count == 0 && g1->pools == g0->pools && g1->pools_shared &&
                  tt_ep_refs(&live, g0) == refs0 && live.map_gen == gen && live.n_slots == slots0 &&
                  health_slot_in_use(&live, g1->pools[0].eps[0].slot),
              "mapped in the same core: the very arrays, no new reference, no new mapping, "
              "the endpoints still in use");
    gslb_published(g0, g1);
    gslb_unref(g0);
    TAP_CHECK(t, !g1->pools_shared && tt_ep_refs(&live, g1) == refs0 && live.n_slots == slots0,
              "published, the running set freed: the arrays and references are the new set's");
    gslb_unref(g1);
    TAP_CHECK(t, live.n_slots < slots0,
              "the last set freed: the endpoints' slots released (%zu "
              "of %zu left: regions and azs are not freed)",
              live.n_slots, slots0);
    json_decref(touched);
    json_decref(root1);
    json_decref(root0);
    health_core_free(&other);
    health_core_free(&live);
    errlist_free(&e);
}

/* A change of records shares the running set's pool tables (names and
 * answer types: gslb.pool_tabs) and binds with them; a change of a pool
 * makes tables of its own, with the pool's new type. Freed in either
 * order (ASan in CI: a table freed twice or leaked fails there). */
static void test_pool_tabs_shared(struct tap *t)
{
    struct errlist e;
    errlist_init(&e);
    json_t *root0, *root1;
    struct gslb *g0;
    tt_change_r3(30, 3, &e, &root0, &g0, &root1);
    json_t *touched = json_pack("{s:b}", "r3.example.com.", 1);
    struct policy_reuse ru = {.g = g0, .root = root0, .touched = touched};
    struct gslb *g1 = tt_parse(root1, &ru, &e);
    const struct policy_record *r3 = g1 ? tt_find(g1, "r3.example.com.", 0) : NULL;
    const struct policy_binding *b3 = r3 ? gslb_binding(g1, r3->index) : NULL;
    int p2 = g1 ? gslb_pool_index(g1, "p2") : -1;
    TAP_CHECK(t,
              g1 && e.count == 0 && g1->pools_shared && g1->pool_tabs &&
                  g1->pool_tabs == g0->pool_tabs && p2 == gslb_pool_index(g0, "p2") && p2 >= 0 &&
                  gslb_pool_types(g1)[p2] == GSLB_POOL_A && b3 && b3->a == r3 && !b3->aaaa,
              "a change of records: the running set's pool tables, the record bound by them");
    /* p2's endpoint becomes IPv6: its records answer AAAA now (the two
     * names that also have a record of p6, IPv6, go: two AAAA records). */
    json_t *root2 = policy_fixture_copy(root1);
    json_object_del(json_object_get(root2, "records"), "r0.example.com.");
    json_object_del(json_object_get(root2, "records"), "r21.example.com.");
    json_t *touched2 = json_pack("{s:b, s:b, s:b}", "r3.example.com.", 1, "r0.example.com.", 1,
                                 "r21.example.com.", 1);
    json_object_set_new(root2, "pools", json_deep_copy(json_object_get(root1, "pools")));
    json_t *ep = json_array_get(
        json_object_get(json_object_get(json_object_get(root2, "pools"), "p2"), "endpoints"), 0);
    json_object_set_new(ep, "address", json_string("2001:db8::3"));
    struct policy_reuse ru2 = {.g = g1, .root = root1, .touched = touched2};
    struct gslb *g2 = tt_parse(root2, &ru2, &e);
    r3 = g2 ? tt_find(g2, "r3.example.com.", 0) : NULL;
    b3 = r3 ? gslb_binding(g2, r3->index) : NULL;
    TAP_CHECK(t,
              g2 && e.count == 0 && !g2->pools_shared && g2->pool_tabs != g1->pool_tabs &&
                  gslb_pool_types(g2)[gslb_pool_index(g2, "p2")] == GSLB_POOL_AAAA && b3 &&
                  b3->aaaa == r3 && !b3->a,
              "a change of a pool: tables of its own, the pool's new type bound");
    gslb_published(g0, g1);
    gslb_unref(g0);
    TAP_CHECK(t, gslb_pool_index(g1, "p1") >= 0 && gslb_pool_index(g1, "nope") == -1,
              "the tables outlive the set that made them");
    gslb_unref(g1);
    gslb_unref(g2);
    json_decref(touched);
    json_decref(touched2);
    json_decref(root2);
    json_decref(root1);
    json_decref(root0);
    errlist_free(&e);
}

/* Random sequences: each change touches a few names (set, replaced,
 * deleted, added), applied on the set the change before made; every set
 * holds what a full compile of its document holds. */
static void test_random(struct tap *t)
{
    struct errlist e;
    errlist_init(&e);
    json_t *root = tt_root(120);
    struct gslb *g = tt_parse(root, NULL, &e);
    /* The changes intern their lists (the first set has none of its own:
     * a set built from the file without a table). */
    struct policy_orders *tab = policy_orders_new();
    srand(38);
    bool all = true;
    for (int step = 0; step < 60 && all; step++) {
        json_t *next = policy_fixture_copy(root), *recs = json_object_get(next, "records");
        json_t *touched = json_object();
        for (int c = 0; c < 1 + rand() % 4; c++) {
            char name[64];
            snprintf(name, sizeof(name), "r%d.example.com.", rand() % 160);
            if (rand() % 4 == 0)
                json_object_del(recs, name);
            else
                json_object_set_new(recs, name, tt_record(rand()));
            json_object_set_new(touched, name, json_true());
        }
        struct policy_reuse ru = {
            .g = g, .root = root, .touched = touched, .orders = tab, .chunks_live = NULL};
        struct gslb *ng = tt_parse(next, &ru, &e);
        struct gslb *full = tt_parse(next, NULL, &e);
        all = ng && full && e.count == 0 && tt_same(ng, full);
        gslb_unref(full);
        gslb_published(g, ng);
        gslb_unref(g);
        json_decref(root);
        json_decref(touched);
        g = ng;
        root = next;
    }
    TAP_CHECK(t, all, "60 random changes: each set as a full compile of its document");
    TAP_CHECK(t, policy_orders_count(tab) > 0 && policy_orders_count(tab) <= 4,
              "the sets share a few lists (%zu)", policy_orders_count(tab));
    gslb_unref(g);
    TAP_CHECK(t, policy_orders_count(tab) == 0, "the last set freed: every list released");
    policy_orders_free(tab);
    json_decref(root);
    errlist_free(&e);
}

int main(void)
{
    struct tap t = {0, 0};
    test_change(&t);
    test_random(&t);
    test_pools_taken(&t);
    test_pools_shared_health(&t);
    test_pool_tabs_shared(&t);
    return tap_done(&t);
}

/*
 * Unit tests for src/policy/policy_records.c: a policy set's records in
 * chunks shared between versions (issue #55). A change that replaces a
 * name's record in its room copies the one chunk it writes and shares the
 * others; random change sequences (replaced in the room, resized, added,
 * removed names), each built from the set before as the daemon does
 * (policy_reuse.touched, published in turn), hold exactly the records a
 * full compile of the same document holds; a reader thread holding an
 * old version reads it whole while 1,000 changes pass; and every chunk
 * is freed when the last version holding it is released (counted through
 * gslb.chunks_live; ASan checks the records' parts).
 */
#include <jansson.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/errlist.h"
#include "common/jsoncfg.h"
#include "policy/policy_config.h"
#include "policy_fixture.h"
#include "tap.h"

static const char *const origins[] = {"example.com."};

/* Record value k: a single failover record mostly, two records (A and
 * AAAA, an array) for every seventh k. */
static json_t *pr_record(unsigned k)
{
    const char *pool = k % 3 == 0 ? "p2" : "p1";
    if (k % 7 == 0)
        return json_pack("[{s:s, s:s, s:i}, {s:s, s:s, s:i}]", "pool", pool, "policy", "all", "ttl",
                         30 + k % 50, "pool", "p6", "policy", "all", "ttl", 31);
    return json_pack("{s:s, s:s, s:[s, s], s:i}", "pool", pool, "policy", "failover", "regions",
                     k % 2 ? "a" : "b", k % 2 ? "b" : "a", "ttl", 20 + k % 97);
}

static json_t *pr_root(unsigned n)
{
    json_t *recs = json_object();
    for (unsigned k = 0; k < n; k++) {
        char name[64];
        snprintf(name, sizeof(name), "r%u.example.com.", k);
        json_object_set_new(recs, name, pr_record(k));
    }
    return policy_fixture_root(recs);
}

static struct gslb *pr_parse(json_t *root, const struct gslb *g, json_t *was, json_t *touched,
                             atomic_long *live, struct errlist *e)
{
    struct jsoncfg j = {.errs = e, .file = "test.json", .dir = "."};
    struct policy_reuse ru = {
        .g = g, .root = was, .touched = touched, .orders = NULL, .chunks_live = live};
    return policy_config_parse_reuse(&j, root, origins, 1, &ru);
}

/* What a record reads as, to compare sets and versions. */
struct pr_seen {
    const char *name;
    uint32_t elem, ttl, pool, n_regions, index;
    uint16_t rtype, r0;
    uint8_t policy;
};

static struct pr_seen pr_see(const struct policy_record *r)
{
    return (struct pr_seen){r->name_str,       r->elem,  r->ttl,   r->pool,
                            r->n_regions,      r->index, r->rtype, r->n_regions ? r->regions[0] : 0,
                            (uint8_t)r->policy};
}

static bool pr_seen_eq(const struct pr_seen *a, const struct pr_seen *b, bool index)
{
    return strcmp(a->name, b->name) == 0 && a->elem == b->elem && a->ttl == b->ttl &&
           a->pool == b->pool && a->n_regions == b->n_regions && a->rtype == b->rtype &&
           a->r0 == b->r0 && a->policy == b->policy && (!index || a->index == b->index);
}

static int pr_seen_cmp(const void *x, const void *y)
{
    const struct pr_seen *a = x, *b = y;
    int c = strcmp(a->name, b->name);
    return c ? c : (a->elem > b->elem) - (a->elem < b->elem);
}

/* g's records as seen, sorted by name and element (sorted: a change
 * compiles a resized or new name after the others, a full compile in the
 * document's order). Caller frees. */
static struct pr_seen *pr_seen_all(const struct gslb *g, bool sorted)
{
    struct pr_seen *s = malloc((g->n_records ? g->n_records : 1) * sizeof(*s));
    if (!s)
        abort();
    for (size_t i = 0; i < g->n_records; i++)
        s[i] = pr_see(gslb_rec(g, i));
    if (sorted)
        qsort(s, g->n_records, sizeof(*s), pr_seen_cmp);
    return s;
}

/* Whether a holds the records of b (by name and element), each at the
 * index it says it has, and b's counts. */
static bool pr_same(const struct gslb *a, const struct gslb *b)
{
    if (a->n_records != b->n_records || a->n_ramped != b->n_ramped || a->n_loose != b->n_loose)
        return false;
    for (size_t i = 0; i < a->n_records; i++)
        if (gslb_rec(a, i)->index != i)
            return false;
    struct pr_seen *x = pr_seen_all(a, true), *y = pr_seen_all(b, true);
    bool same = true;
    for (size_t i = 0; same && i < a->n_records; i++)
        same = pr_seen_eq(&x[i], &y[i], false);
    free(x);
    free(y);
    return same;
}

/* Whether a's bindings bind its own records (each slot one of the
 * records of its name, from the binding's index on, in a's chunks: none
 * left pointing into a chunk of an older version), as many as full's. */
static bool pr_bound(const struct gslb *a, const struct gslb *full)
{
    if (a->n_bound != full->n_bound || a->n_bindings != a->n_records)
        return false;
    for (size_t i = 0; i < a->n_records; i++) {
        const struct policy_binding *b = gslb_binding(a, i);
        const struct policy_record *slot[3] = {b->a, b->aaaa, b->cname};
        for (int k = 0; k < 3; k++) {
            bool in = !slot[k];
            for (size_t j = i; !in && j < a->n_records &&
                               strcmp(gslb_rec(a, j)->name_str, gslb_rec(a, i)->name_str) == 0;
                 j++)
                in = slot[k] == gslb_rec(a, j);
            if (!in)
                return false;
        }
    }
    return true;
}

/* How many chunks of bindings a and b share. */
static size_t pr_bshared(const struct gslb *a, const struct gslb *b)
{
    size_t n = 0;
    for (size_t k = 0; k < a->n_bchunks && k < b->n_bchunks; k++)
        n += a->bchunks[k] == b->bchunks[k];
    return n;
}

/* How many chunks a and b share. */
static size_t pr_shared(const struct gslb *a, const struct gslb *b)
{
    size_t n = 0;
    for (size_t k = 0; k < a->n_chunks && k < b->n_chunks; k++)
        n += a->chunks[k] && a->chunks[k] == b->chunks[k];
    return n;
}

/* Builds the next version from g (document was) with name set to v (NULL:
 * removed), publishes it in g's place and gives back the caller's
 * reference on g; the new document in *now. */
static struct gslb *pr_step(struct gslb *g, json_t *was, json_t **now, const char *name, json_t *v,
                            struct errlist *e)
{
    *now = policy_fixture_copy(was);
    json_t *recs = json_object_get(*now, "records");
    if (v)
        json_object_set_new(recs, name, v);
    else
        json_object_del(recs, name);
    json_t *touched = json_pack("{s:b}", name, 1);
    struct gslb *n = pr_parse(*now, g, was, touched, g->chunks_live, e);
    json_decref(touched);
    gslb_published(g, n);
    gslb_unref(g);
    return n;
}

/* One random change: mostly a name's value replaced in its room (as
 * many records), sometimes resized, added or removed. */
static struct gslb *pr_random_step(struct gslb *g, json_t **root, unsigned *next, unsigned *seed,
                                   struct errlist *e)
{
    json_t *was = *root;
    unsigned op = (unsigned)rand_r(seed) % 20, k = (unsigned)rand_r(seed) % *next;
    char name[64];
    snprintf(name, sizeof(name), "r%u.example.com.", op == 19 ? (*next)++ : k);
    json_t *v = NULL;
    if (op < 15) { /* in the room: a value of the same shape */
        unsigned x = (unsigned)rand_r(seed) % 1000;
        v = pr_record(k % 7 == 0 ? x * 7 : x * 7 + 1 + k % 6);
    } else if (op < 17) /* resized (one record to two, or back) */
        v = pr_record((unsigned)rand_r(seed) % 1000);
    else if (op == 19) /* a new name */
        v = pr_record(*next);
    if (op >= 15 && op < 19 && !json_object_get(json_object_get(was, "records"), name))
        v = v ? v : pr_record(k); /* removing a name gone: add it back */
    g = pr_step(g, was, root, name, v, e);
    json_decref(was);
    return g;
}

/* One change in the room copies the chunk it writes and shares the
 * others; the walk (no touched list) shares them too; the chunks go with
 * the last set holding them. */
static void test_share(struct tap *t)
{
    struct errlist e;
    errlist_init(&e);
    atomic_long live = 0;
    json_t *root0 = pr_root(3000), *root1, *root2;
    struct gslb *g0 = pr_parse(root0, NULL, NULL, NULL, &live, &e);
    size_t n0 = g0->n_chunks;
    TAP_CHECK(t,
              e.count == 0 && g0->n_records > 3000 && n0 == (g0->n_records + 1023) / 1024 &&
                  live == (long)n0,
              "3,000 names: %zu records in %zu chunks, %ld live", g0->n_records, n0, live);
    gslb_ref(g0); /* held, as a reader would */
    struct gslb *g1 = pr_step(g0, root0, &root1, "r1500.example.com.", pr_record(1501 + 7), &e);
    TAP_CHECK(t, e.count == 0 && pr_shared(g0, g1) == n0 - 1 && live == (long)n0 + 1,
              "a name replaced in its room: 1 chunk copied, %zu of %zu shared, %ld live",
              pr_shared(g0, g1), n0, live);
    struct gslb *full1 = pr_parse(root1, NULL, NULL, NULL, NULL, &e);
    TAP_CHECK(t, pr_same(g1, full1), "and the set holds what a full compile holds");
    gslb_unref(full1);
    /* The walk of the whole document (no touched list) shares as well. */
    root2 = policy_fixture_copy(root1);
    json_object_set_new(json_object_get(root2, "records"), "r10.example.com.", pr_record(10 + 7));
    struct gslb *g2 = pr_parse(root2, g1, root1, NULL, &live, &e);
    TAP_CHECK(t, pr_shared(g1, g2) == n0 - 1 && live == (long)n0 + 2,
              "the walk: %zu of %zu shared, %ld live", pr_shared(g1, g2), n0, live);
    gslb_unref(g2); /* never published: frees its own chunk, not g1's */
    TAP_CHECK(t, live == (long)n0 + 1, "a set never published frees its chunk (%ld live)", live);
    gslb_unref(g0); /* the reader leaves: g0 goes, and the chunk only it held */
    TAP_CHECK(t, live == (long)n0, "the old version released: %ld chunks live", live);
    gslb_unref(g1);
    TAP_CHECK(t, live == 0, "the last version released: no chunk live (%ld)", live);
    json_decref(root2);
    json_decref(root1);
    json_decref(root0);
    errlist_free(&e);
}

/* A name replaced in its room is built in place (policy.h, gslb.inplace):
 * every chunk shared but the one written, the running set's table of
 * names shared, the record's index the only one redone; the replaced set
 * then owns that record's parts alone (gslb.owned), and a set never
 * published frees only what it redid (ASan checks both). */
static void test_inplace(struct tap *t)
{
    struct errlist e;
    errlist_init(&e);
    atomic_long live = 0;
    json_t *root0 = pr_root(3000), *root1 = NULL;
    struct gslb *g0 = pr_parse(root0, NULL, NULL, NULL, &live, &e);
    const struct policy_record *was = NULL;
    for (size_t i = 0; i < g0->n_records && !was; i++)
        if (strcmp(gslb_rec(g0, i)->name_str, "r2000.example.com.") == 0)
            was = gslb_rec(g0, i);
    json_t *touched = json_pack("{s:b}", "r2000.example.com.", 1);
    root1 = policy_fixture_copy(root0);
    json_object_set_new(json_object_get(root1, "records"), "r2000.example.com.", pr_record(2007));
    struct gslb *dry = pr_parse(root1, g0, root0, touched, &live, &e);
    TAP_CHECK(t,
              dry && e.count == 0 && dry->inplace && !dry->from && dry->n_redone == 1 && was &&
                  dry->redone[0] == was->index && g0->keys && dry->keys == g0->keys &&
                  dry->n_reused == dry->n_records - 1,
              "built in place: 1 record redone at its index, the table of names shared");
    TAP_CHECK(t, pr_bshared(g0, dry) == g0->n_bchunks - 1 && g0->n_bchunks > 2,
              "and every chunk of bindings shared but the one it bound again (%zu of %zu)",
              pr_bshared(g0, dry), g0->n_bchunks);
    gslb_unref(dry); /* never published: frees the record it redid only */
    TAP_CHECK(t, strcmp(was->name_str, "r2000.example.com.") == 0 && live == (long)g0->n_chunks,
              "a set built in place and dropped leaves the running set whole");
    /* A touched record that does not compile (a pool not defined): the
     * set built in place is refused with the full compile's error and
     * dropped, the running set whole (its slot was zeroed, owning nothing:
     * ASan would see a double free otherwise). */
    json_t *bad = policy_fixture_copy(root0);
    json_object_set_new(json_object_get(bad, "records"), "r2000.example.com.",
                        json_pack("{s:s, s:s}", "pool", "nope", "policy", "failover"));
    struct errlist be;
    errlist_init(&be);
    struct gslb *refused = pr_parse(bad, g0, root0, touched, &live, &be);
    TAP_CHECK(t, be.count == 1 && strstr(be.msgs[0], "\"nope\" is not defined") && refused->inplace,
              "a touched record that does not compile: refused in place (%zu errors)", be.count);
    gslb_unref(refused);
    TAP_CHECK(t, strcmp(was->name_str, "r2000.example.com.") == 0 && live == (long)g0->n_chunks,
              "and dropped, the running set whole");
    errlist_free(&be);
    json_decref(bad);
    struct gslb *g1 = pr_parse(root1, g0, root0, touched, &live, &e);
    gslb_published(g0, g1);
    TAP_CHECK(t,
              g0->owned_only && g0->n_owned == 1 && g0->owned[0] == was->index && !g1->inplace &&
                  !g1->from_g && g1->keys == g0->keys,
              "published: the replaced set owns the replaced record alone");
    struct gslb *full = pr_parse(root1, NULL, NULL, NULL, NULL, &e);
    TAP_CHECK(t, pr_same(g1, full) && pr_bound(g1, full),
              "and the set holds what a full compile holds, bound alike");
    gslb_unref(full);
    gslb_unref(g0);
    gslb_unref(g1);
    TAP_CHECK(t, live == 0 && e.count == 0, "every chunk freed (%ld live)", live);
    json_decref(touched);
    json_decref(root1);
    json_decref(root0);
    errlist_free(&e);
}

/* Whether g's table of names (when it has one) finds every name of g at
 * its first record, and holds no other name. */
static bool pr_keys_ok(const struct gslb *g)
{
    size_t names = 0;
    for (size_t i = 0; g->keys && i < g->n_records; i++) {
        if (gslb_same_key_as_before(g, i))
            continue;
        const struct policy_record *r = gslb_rec(g, i);
        if (gslb_keys_find(g->keys, g, r->name_str, r->key_hash) != i)
            return false;
        names++;
    }
    return !g->keys || names == g->n_keys;
}

/* A change that only adds a name gets the running set's table of names
 * copied with the new name in it (gslb_keys_grown), so the change in
 * place after it uses that table instead of a walk; a change that
 * removes a name gets none (the names after it moved). */
static void test_added(struct tap *t)
{
    struct errlist e;
    errlist_init(&e);
    atomic_long live = 0;
    json_t *root0 = pr_root(3000), *root1, *root2, *root3, *root4;
    struct gslb *g = pr_parse(root0, NULL, NULL, NULL, &live, &e);
    const struct gslb_keys *k0 = g->keys;
    /* k 14: two records (A and AAAA), a run of two at the end. */
    g = pr_step(g, root0, &root1, "n1.example.com.", pr_record(14), &e);
    const struct gslb_keys *k1 = g->keys;
    TAP_CHECK(t, e.count == 0 && k0 && k1 && k1 != k0 && pr_keys_ok(g) && g->n_keys == 3001,
              "a name added: the table of names copied with it (%zu names)", g->n_keys);
    g = pr_step(g, root1, &root2, "r100.example.com.", pr_record(101 + 7), &e);
    struct gslb *full = pr_parse(root2, NULL, NULL, NULL, NULL, &e);
    TAP_CHECK(t, e.count == 0 && g->keys == k1 && pr_same(g, full) && pr_bound(g, full),
              "the put after it is built in place with that table, as a full compile");
    gslb_unref(full);
    g = pr_step(g, root2, &root3, "r5.example.com.", NULL, &e);
    TAP_CHECK(t, e.count == 0 && !g->keys, "a name removed: no table (the names after it moved)");
    g = pr_step(g, root3, &root4, "n2.example.com.", pr_record(2), &e);
    full = pr_parse(root4, NULL, NULL, NULL, NULL, &e);
    TAP_CHECK(t, e.count == 0 && !g->keys && pr_same(g, full) && pr_bound(g, full),
              "an add after it: none to copy, the set as a full compile");
    gslb_unref(full);
    gslb_unref(g);
    TAP_CHECK(t, live == 0, "released: no chunk live (%ld)", live);
    json_t *roots[] = {root0, root1, root2, root3, root4};
    for (size_t i = 0; i < 5; i++)
        json_decref(roots[i]);
    errlist_free(&e);
}

/* Random change sequences through the chunked array against a full
 * compile of the same document. */
static void test_random(struct tap *t)
{
    struct errlist e;
    errlist_init(&e);
    atomic_long live = 0;
    unsigned seed = 55, next = 2500;
    json_t *root = pr_root(next);
    struct gslb *g = pr_parse(root, NULL, NULL, NULL, &live, &e);
    bool same = true, keys_ok = true;
    size_t compared = 0, with_keys = 0;
    for (int step = 0; step < 400 && same; step++) {
        g = pr_random_step(g, &root, &next, &seed, &e);
        keys_ok = keys_ok && pr_keys_ok(g);
        with_keys += g->keys != NULL;
        if (step % 10 == 9 || step == 399) {
            struct gslb *full = pr_parse(root, NULL, NULL, NULL, NULL, &e);
            same = e.count == 0 && pr_same(g, full) && pr_bound(g, full);
            if (!same)
                printf("# step %d: %zu records, full %zu, %zu errors\n", step, g->n_records,
                       full->n_records, e.count);
            compared++;
            gslb_unref(full);
        }
    }
    TAP_CHECK(t, same && compared == 40,
              "400 random changes (in the room, resized, added, removed): a full compile's "
              "records and bindings every 10th (%zu compared)",
              compared);
    TAP_CHECK(t, keys_ok && with_keys > 0,
              "and every table of names a version held found its names (%zu of 400 held one)",
              with_keys);
    TAP_CHECK(t, live == (long)g->n_chunks, "only the newest version's %zu chunks live (%ld)",
              g->n_chunks, live);
    gslb_unref(g);
    TAP_CHECK(t, live == 0, "released: no chunk live (%ld)", live);
    json_decref(root);
    errlist_free(&e);
}

/* A reader thread holding a version reads it whole while 1,000 changes
 * pass, each published in place of the one before. */
struct pr_reader {
    const struct gslb *g;
    const struct pr_seen *want;
    atomic_bool done;
    atomic_int reads;
    bool whole;
};

static void *pr_reader_run(void *arg)
{
    struct pr_reader *r = arg;
    /* At least one whole read after the writer is done: the test waits
     * on the writer, not on a time. */
    for (bool last = false; !last;) {
        last = atomic_load(&r->done);
        for (size_t i = 0; i < r->g->n_records; i++) {
            struct pr_seen s = pr_see(gslb_rec(r->g, i));
            if (!pr_seen_eq(&s, &r->want[i], true))
                r->whole = false;
        }
        atomic_fetch_add(&r->reads, 1);
    }
    return NULL;
}

static void test_reader(struct tap *t)
{
    struct errlist e;
    errlist_init(&e);
    atomic_long live = 0;
    unsigned seed = 7, next = 2000;
    json_t *root = pr_root(next);
    struct gslb *g = pr_parse(root, NULL, NULL, NULL, &live, &e);
    struct gslb *held = g;
    gslb_ref(held);
    struct pr_seen *want = pr_seen_all(held, false);
    struct pr_reader r = {.g = held, .want = want, .whole = true};
    atomic_init(&r.done, false);
    atomic_init(&r.reads, 0);
    pthread_t th;
    if (pthread_create(&th, NULL, pr_reader_run, &r) != 0)
        abort();
    for (int step = 0; step < 1000; step++)
        g = pr_random_step(g, &root, &next, &seed, &e);
    atomic_store(&r.done, true);
    pthread_join(th, NULL);
    TAP_CHECK(t, r.whole && atomic_load(&r.reads) >= 1 && e.count == 0,
              "a version held reads whole while 1,000 changes pass (%d reads)",
              atomic_load(&r.reads));
    gslb_unref(held); /* the oldest goes, and every version between */
    TAP_CHECK(t, live == (long)g->n_chunks,
              "the reader left: the newest version's %zu chunks live (%ld)", g->n_chunks, live);
    gslb_unref(g);
    TAP_CHECK(t, live == 0, "the last version released: no chunk live (%ld)", live);
    free(want);
    json_decref(root);
    errlist_free(&e);
}

int main(void)
{
    struct tap t = {0};
    test_share(&t);
    test_inplace(&t);
    test_added(&t);
    test_random(&t);
    test_reader(&t);
    return tap_done(&t);
}

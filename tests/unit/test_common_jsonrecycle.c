/*
 * Unit tests for src/common/jsonrecycle.c: a copy made from the replaced
 * document's objects equals a plain copy and shares the very members of
 * the document it copies; it is not made when anything else holds the
 * replaced document or one of its objects, when the delta set a kind
 * whole, or when the document copied is not the one the delta leads to;
 * a long random sequence of versions, each made from the one before as
 * config_api.c makes them, stays exact; objects kept for a document
 * follow it when it is replaced (jsonrecycle_advance); a copy made ahead
 * without the recycler and given back unused is the next copy's; a
 * document detached (the file writer's copy) is a copy in every member,
 * in order, its objects its own, and stays as it was while the recycler
 * takes the original apart and changes it.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/jsondelta.h"
#include "common/jsonrecycle.h"
#include "tap.h"

static const char *const test_kinds[] = {"records", "pools", NULL};

static json_t *test_doc(const char *text)
{
    json_error_t je;
    json_t *j = json_loads(text, 0, &je);
    if (!j) {
        fprintf(stderr, "bad test JSON: %s\n", je.text);
        abort();
    }
    return j;
}

/* Whether c is an editable copy of d: equal, its kinds' objects new ones,
 * their members d's very objects. */
/* Two records over one pool, and a key that is no kind. */
static json_t *test_first(void)
{
    return test_doc("{\"records\": {\"a.\": {\"pool\": \"p\"}, \"b.\": {\"pool\": \"p\"}}, "
                    "\"pools\": {\"p\": {\"endpoints\": []}}, \"ttl\": 5}");
}

static bool test_is_copy(json_t *c, json_t *d)
{
    if (!c || c == d || !json_equal(c, d))
        return false;
    for (const char *const *k = test_kinds; *k; k++) {
        json_t *a = json_object_get(c, *k), *b = json_object_get(d, *k), *v;
        const char *name;
        if (!json_is_object(b))
            continue;
        if (a == b || json_object_size(a) != json_object_size(b))
            return false;
        json_object_foreach(b, name, v) if (json_object_get(a, name) != v) return false;
    }
    return true;
}

/* The next version: a copy of cur (through r) with edit applied to its
 * records; cur retired, as config_api_served and drop_delta do. */
static json_t *test_step(struct jsonrecycle *r, json_t *cur, const char *put, const char *drop)
{
    json_t *next = jsonrecycle_copy(r, cur, NULL);
    json_t *recs = json_object_get(next, "records");
    if (put) /* a value of its own: a delta leaves out a member set to an equal value */
        json_object_set_new(recs, put, json_pack("{s:s, s:i}", "pool", put, "n", rand()));
    if (drop)
        json_object_del(recs, drop);
    json_t *delta = jsondelta_diff(cur, next);
    jsonrecycle_retire(r, cur, delta, next); /* cur's reference handed over */
    json_decref(delta);
    jsonrecycle_reclaim(r);
    return next;
}

static void test_reuse(struct tap *t)
{
    struct jsonrecycle r;
    jsonrecycle_init(&r, test_kinds);
    json_t *v1 = test_first();
    json_t *c = jsonrecycle_copy(&r, v1, NULL);
    TAP_CHECK(t, test_is_copy(c, v1) && r.copied == 2 && r.reused == 0,
              "the first copy is a copy (%llu copied)", r.copied);
    json_decref(c);
    json_t *v2 = test_step(&r, v1, "c.", "a."); /* v1's reference handed over */
    TAP_CHECK(t, r.retired == NULL && r.have_objs, "the replaced document was taken apart");
    json_t *v3 = jsonrecycle_copy(&r, v2, NULL);
    TAP_CHECK(t, test_is_copy(v3, v2), "the copy from its objects is a copy of the newest");
    TAP_CHECK(t, r.reused == 2 && r.copied == 4, "both kinds reused (%llu, %llu)", r.reused,
              r.copied);
    TAP_CHECK(t, !r.have_objs && r.objs[0] == NULL, "used once");
    json_t *v4 = jsonrecycle_copy(&r, v2, NULL);
    TAP_CHECK(t, test_is_copy(v4, v2) && r.copied == 6, "a second copy is copied");
    json_decref(v3);
    json_decref(v4);
    /* A member set to an equal value is not in the delta: the copy then
     * holds the older, equal object. */
    json_t *v5 = jsonrecycle_copy(&r, v2, NULL);
    json_object_set_new(json_object_get(v5, "records"), "b.", json_pack("{s:s}", "pool", "p"));
    json_t *d = jsondelta_diff(v2, v5);
    jsonrecycle_retire(&r, v2, d, v5);
    json_decref(d);
    jsonrecycle_reclaim(&r);
    json_t *v6 = jsonrecycle_copy(&r, v5, NULL);
    TAP_CHECK(t, json_equal(v6, v5) && r.reused == 4, "an equal member set: equal (%llu reused)",
              r.reused);
    json_decref(v6);
    /* Only the kinds named: the others stay shared with the document. */
    json_t *v7 = test_step(&r, v5, "e.", NULL);
    json_t *only = json_pack("{s:{}}", "records");
    TAP_CHECK(t, jsonrecycle_ready(&r, v7), "ready for the newest");
    json_t *v8 = jsonrecycle_copy(&r, v7, only);
    TAP_CHECK(t,
              json_equal(v8, v7) && json_object_get(v8, "pools") == json_object_get(v7, "pools") &&
                  json_object_get(v8, "records") != json_object_get(v7, "records"),
              "records copied, pools shared");
    TAP_CHECK(t, !jsonrecycle_ready(&r, v7), "what was kept is used or dropped");
    json_decref(only);
    json_decref(v8);
    json_decref(v7);
    jsonrecycle_clear(&r);
}

static void test_refused(struct tap *t)
{
    struct jsonrecycle r;
    jsonrecycle_init(&r, test_kinds);
    json_t *v1 = test_doc("{\"records\": {\"a.\": {}, \"b.\": {}}, \"pools\": {\"p\": {}}}");
    /* Held by a reader: not taken apart, not freed under it; let go... */
    json_t *reader = json_incref(v1);
    json_t *v2 = test_step(&r, v1, "c.", NULL);
    TAP_CHECK(t, !r.have_objs && r.kept_busy == 1 && !r.retired,
              "a document held elsewhere is let go");
    TAP_CHECK(t, json_object_size(json_object_get(reader, "records")) == 2,
              "the reader's document is intact");
    json_decref(reader);
    /* ... or, with keep_busy, kept retired for the next copy. */
    r.keep_busy = true;
    reader = json_incref(v2);
    json_t *held = v2;
    v2 = test_step(&r, held, "c2.", NULL); /* held's reference handed over */
    TAP_CHECK(t, !r.have_objs && r.kept_busy == 2 && r.retired == held,
              "with keep_busy, a document held elsewhere is kept retired");
    json_t *c0 = jsonrecycle_copy(&r, v2, NULL);
    TAP_CHECK(t, test_is_copy(c0, v2) && r.reused == 0 && r.retired == held && r.late == 0,
              "still held at the copy: copied, and still retired");
    json_decref(c0);
    json_decref(reader);
    /* Let go before the next copy (the writer's dump ended): taken then. */
    TAP_CHECK(t, jsonrecycle_ready(&r, v2) && r.late == 1 && !r.retired,
              "let go before the next copy: taken apart then");
    c0 = jsonrecycle_copy(&r, v2, NULL);
    TAP_CHECK(t, test_is_copy(c0, v2) && r.reused == 2, "and its objects made the copy (%llu)",
              r.reused);
    json_decref(c0);
    unsigned long long was = r.reused;
    /* One kind shared with another document: that kind is copied. */
    json_t *other = json_pack("{s:O}", "pools", json_object_get(v2, "pools"));
    json_t *v3 = test_step(&r, v2, "d.", NULL);
    TAP_CHECK(t, r.have_objs && r.objs[0] && !r.objs[1], "the shared kind is not kept");
    json_t *c = jsonrecycle_copy(&r, v3, NULL);
    TAP_CHECK(t, test_is_copy(c, v3) && r.reused == was + 1, "records reused, pools copied");
    json_decref(c);
    json_decref(other);
    /* A delta that sets a kind whole. */
    json_t *v4 = jsonrecycle_copy(&r, v3, NULL);
    json_object_set_new(v4, "records", json_pack("{s:{}}", "z."));
    json_t *d = json_pack("{s:{s:O}}", "put", "records", json_object_get(v4, "records"));
    jsonrecycle_retire(&r, v3, d, v4);
    json_decref(d);
    jsonrecycle_reclaim(&r);
    unsigned long long reused = r.reused;
    c = jsonrecycle_copy(&r, v4, NULL);
    TAP_CHECK(t, test_is_copy(c, v4) && r.reused == reused + 1, "a kind set whole is copied");
    json_decref(c);
    /* Another document than the one the delta leads to. */
    json_t *v5 = test_step(&r, v4, "e.", NULL);
    json_t *stranger = json_deep_copy(v5);
    reused = r.reused;
    c = jsonrecycle_copy(&r, stranger, NULL);
    TAP_CHECK(t, test_is_copy(c, stranger) && r.reused == reused, "another document is copied");
    TAP_CHECK(t, !r.have_objs, "and what was kept is dropped");
    json_decref(c);
    json_decref(stranger);
    json_decref(v5);
    jsonrecycle_clear(&r);
}

/* Versions made one from another at random, every copy through the
 * recycler, checked against a plain model of the records. */
static void test_random(struct tap *t)
{
    struct jsonrecycle r;
    jsonrecycle_init(&r, test_kinds);
    json_t *cur = test_doc("{\"records\": {}, \"pools\": {\"p\": {}}}");
    json_t *model = json_object();
    srand(38);
    bool ok = true;
    for (int i = 0; i < 3000 && ok; i++) {
        char put[16], drop[16];
        snprintf(put, sizeof(put), "n%d.", rand() % 200);
        snprintf(drop, sizeof(drop), "n%d.", rand() % 200);
        bool has = json_object_get(json_object_get(cur, "records"), drop) != NULL;
        bool dropping = has && strcmp(put, drop) != 0 && rand() % 3 == 0;
        json_t *next = test_step(&r, cur, put, dropping ? drop : NULL);
        json_object_set(model, put, json_object_get(json_object_get(next, "records"), put));
        if (dropping)
            json_object_del(model, drop);
        ok = json_equal(json_object_get(next, "records"), model);

        if (i % 7 == 0) { /* now and then a reader holds a version */
            json_t *c = jsonrecycle_copy(&r, next, NULL);
            ok = ok && test_is_copy(c, next);
            json_decref(c);
        }
        cur = next;
    }
    TAP_CHECK(t, ok, "3,000 versions exact");
    TAP_CHECK(t, r.reused > 2 * 2000, "most copies reused (%llu of %llu)", r.reused,
              r.reused + r.copied);
    json_decref(model);
    json_decref(cur);
    jsonrecycle_clear(&r);
}

/* The holder a busy document is waited for: lets it go after a moment. */
static void *test_holder(void *arg)
{
    struct timespec ms = {0, 1000000L};
    nanosleep(&ms, NULL);
    json_decref(arg);
    return NULL;
}

/* A document of 150,000 records (each an integer of its own) and no
 * pools: large enough for a copy to wait for its holder. */
static json_t *test_large(void)
{
    json_t *v1 = json_pack("{s:{}, s:{}}", "records", "pools");
    json_t *recs = json_object_get(v1, "records");
    for (int i = 0; i < 150000; i++) {
        char name[32];
        snprintf(name, sizeof(name), "r%d.", i);
        json_object_set_new(recs, name, json_integer(i));
    }
    return v1;
}

/* A large document held elsewhere at its reclaim (the writer's copy) and
 * let go while the next copy waits for it: that copy takes its objects;
 * a small one is not waited for. */
static void test_wait(struct tap *t)
{
    struct jsonrecycle r;
    jsonrecycle_init(&r, test_kinds);
    r.keep_busy = true;
    r.wait_us = 60000; /* the members bound it: 150,000 x 100 ns = 15 ms */
    json_t *v1 = test_large();
    json_t *holder = json_incref(v1);
    json_t *v2 = test_step(&r, v1, "c.", NULL);
    pthread_t th;
    bool started = r.retired == v1 && pthread_create(&th, NULL, test_holder, holder) == 0;
    json_t *c = jsonrecycle_copy(&r, v2, NULL);
    if (started)
        pthread_join(th, NULL);
    TAP_CHECK(t, started && r.late == 1 && r.reused == 2 && json_equal(c, v2),
              "a large copy waits for the holder and takes the objects (%llu late, %llu reused)",
              r.late, r.reused);
    json_decref(c);
    json_decref(v2);
    jsonrecycle_clear(&r);
}

/* jsonrecycle.soon: the holder's answer, counted (ctx: {answer, asked}). */
static bool test_soon(void *ctx)
{
    int *a = ctx;
    a[1]++;
    return a[0] != 0;
}

/* A large document held at its reclaim by a holder that never lets go:
 * the next copy waits its whole bound when jsonrecycle.soon says the
 * holder is letting go (the writer listing), a moment only when it says
 * not (a GET's dump), and copies the objects itself in both cases. */
static void test_wait_other(struct tap *t)
{
    for (int soon = 1; soon >= 0; soon--) {
        struct jsonrecycle r;
        jsonrecycle_init(&r, test_kinds);
        r.keep_busy = true;
        r.wait_us = 250000; /* bounded by the members: 150,000 x 100 ns = 15 ms */
        int ctx[2] = {soon, 0};
        r.soon = test_soon;
        r.soon_ctx = ctx;
        json_t *v1 = test_large();
        json_t *holder = json_incref(v1);
        json_t *v2 = test_step(&r, v1, "c.", NULL);
        json_t *c = jsonrecycle_copy(&r, v2, NULL);
        bool copied = r.late == 0 && r.copied >= 1 && test_is_copy(c, v2) && ctx[1] >= 1;
        if (soon)
            TAP_CHECK(t, copied && r.waited_us >= 14000 && r.waited_us <= 15000,
                      "a holder letting go is waited for up to the bound (%llu us, asked %d)",
                      r.waited_us, ctx[1]);
        else
            TAP_CHECK(t, copied && r.waited_us <= JSONRECYCLE_WAIT_OTHER_US,
                      "another holder is waited for a moment only (%llu us, asked %d)", r.waited_us,
                      ctx[1]);
        json_decref(holder);
        json_decref(c);
        json_decref(v2);
        jsonrecycle_clear(&r);
    }
}

/* A shallow copy of d with new objects for its kinds (as a fleet node
 * builds a version of its own from the etcd delta). */
static json_t *test_own_copy(json_t *d)
{
    json_t *c = json_copy(d);
    for (const char *const *k = test_kinds; *k; k++)
        if (json_is_object(json_object_get(c, *k)))
            json_object_set_new(c, *k, json_copy(json_object_get(d, *k)));
    return c;
}

/* A fleet node (config_api.c): its change's copy e of v1 is not installed;
 * v2, its own document of the same content, is. e is retired toward v2,
 * then v3 (another node's change) replaces v2: the objects advance to v3
 * and the next copy of v3 takes them. */
static void test_advance(struct tap *t)
{
    struct jsonrecycle r;
    jsonrecycle_init(&r, test_kinds);
    json_t *v1 = test_first();
    json_t *e = jsonrecycle_copy(&r, v1, NULL);
    json_object_set_new(json_object_get(e, "records"), "c.", json_pack("{s:s}", "pool", "p"));
    json_t *v2 = test_own_copy(v1);
    json_object_set_new(json_object_get(v2, "records"), "c.", json_pack("{s:s}", "pool", "p"));
    json_t *back = jsondelta_diff(e, v2);
    jsonrecycle_retire(&r, e, back, v2);
    json_decref(back);
    jsonrecycle_reclaim(&r);
    TAP_CHECK(t, r.have_objs && r.next == v2, "the change's unused copy is kept for v2");
    json_t *v3 = test_own_copy(v2);
    json_object_set_new(json_object_get(v3, "records"), "d.", json_pack("{s:s}", "pool", "q"));
    json_object_del(json_object_get(v3, "records"), "a.");
    json_t *d23 = jsondelta_diff(v2, v3);
    TAP_CHECK(t, !jsonrecycle_advance(&r, v1, d23, v3), "not from a document they lead to");
    /* An object kept but held elsewhere too is some document's: advancing
     * must not change it (it is dropped instead). */
    json_t *pools_kept = json_incref(r.objs[1]);
    TAP_CHECK(t, jsonrecycle_advance(&r, v2, d23, v3) && r.next == v3,
              "v2 replaced by v3: the objects follow");
    TAP_CHECK(t, r.objs[0] && !r.objs[1] && json_object_size(pools_kept) == 1,
              "a kept object held elsewhere is dropped, not changed");
    json_decref(pools_kept);
    unsigned long long reused = r.reused, copied = r.copied;
    json_t *c = jsonrecycle_copy(&r, v3, NULL);
    json_t *cr = json_object_get(c, "records"), *vr = json_object_get(v3, "records");
    TAP_CHECK(t,
              c && json_equal(c, v3) && cr != vr && r.reused == reused + 1 &&
                  r.copied == copied + 1 &&
                  json_object_get(cr, "b.") == json_object_get(vr, "b.") &&
                  json_object_get(cr, "d.") == json_object_get(vr, "d."),
              "the copy of v3 takes the records: equal to v3, its members v3's but for the "
              "change's own (%llu reused; the pools dropped above are copied)",
              r.reused - reused);
    json_decref(c);
    /* A delta that puts a kind whole: that kind is copied, the other taken. */
    json_t *v4 = test_own_copy(v3);
    json_object_set_new(v4, "records", json_pack("{s:{s:s}}", "z.", "pool", "p"));
    /* As a whole key is put (jsondelta_diff puts one only where it was no
     * object): records set whole. */
    json_t *d34 = json_pack("{s:{s:O}}", "put", "records", json_object_get(v4, "records"));
    json_t *v4e = jsonrecycle_copy(&r, v3, NULL); /* kept for v3 again: a change of v3 */
    json_t *bk = jsondelta_diff(v4e, v3);
    jsonrecycle_retire(&r, v4e, bk, v3);
    json_decref(bk);
    jsonrecycle_reclaim(&r);
    bool adv = jsonrecycle_advance(&r, v3, d34, v4);
    reused = r.reused;
    copied = r.copied;
    c = jsonrecycle_copy(&r, v4, NULL);
    TAP_CHECK(t, adv && c && json_equal(c, v4) && r.reused == reused + 1 && r.copied == copied + 1,
              "a kind put whole by the delta is copied, the other taken");
    json_decref(c);
    json_decref(d23);
    json_decref(d34);
    json_decref(v1);
    json_decref(v2);
    json_decref(v3);
    json_decref(v4);
    jsonrecycle_clear(&r);
}

/* A copy made ahead (config_api_warm: the store thread, idle, copies the
 * newest document without the recycler) and given back unused with an
 * empty delta is what the next change's copy takes: no member copied on
 * its path, and the document copied is left as it was. */
static void test_fresh(struct tap *t)
{
    struct jsonrecycle r;
    jsonrecycle_init(&r, test_kinds);
    json_t *v1 = test_first();
    json_t *ahead = jsonrecycle_copy_fresh(test_kinds, v1);
    TAP_CHECK(t, test_is_copy(ahead, v1) && r.copied == 0,
              "a fresh copy is a copy, made without the recycler");
    TAP_CHECK(t, json_object_get(ahead, "ttl") == json_object_get(v1, "ttl"),
              "a key that is no kind stays shared");
    /* Something kept before is dropped for it. */
    json_t *old = jsonrecycle_copy_fresh(test_kinds, v1), *none = json_object();
    jsonrecycle_retire(&r, old, none, v1);
    json_decref(none);
    jsonrecycle_keep_copy(&r, ahead, v1); /* ahead's reference handed over */
    TAP_CHECK(t, jsonrecycle_ready(&r, v1) && !r.retired && r.have_objs,
              "given back unused: taken apart at once, ready for the document");
    json_t *v2 = jsonrecycle_copy(&r, v1, NULL);
    TAP_CHECK(t, test_is_copy(v2, v1) && r.reused == 2 && r.copied == 0,
              "the next copy takes it (%llu reused, %llu copied)", r.reused, r.copied);
    json_object_set_new(json_object_get(v2, "records"), "c.", json_pack("{s:s}", "pool", "p"));
    TAP_CHECK(t, json_object_size(json_object_get(v1, "records")) == 2,
              "an edit of the copy leaves the document as it was");
    json_decref(v2);
    json_decref(v1);
    jsonrecycle_clear(&r);
}

/* Counts its calls (jsonrecycle_detach's gone) and the document's
 * references then (arg: {count, the document, its references}). */
static void test_gone(void *arg)
{
    size_t *g = arg;
    g[0]++;
    g[2] = ((json_t *)g[1])->refcount;
}

/* A document with a key holding a NUL, an empty object, a nested one and
 * values that are not objects, detached while held elsewhere. */
static void test_detach_copy(struct tap *t)
{
    json_t *d = test_doc("{\"ttl\": 5, \"records\": {\"b.\": {\"pool\": \"p\"}, \"a.\": "
                         "{\"pool\": \"q\", \"regions\": [\"x\", \"y\"]}}, \"pools\": {}, "
                         "\"listen\": [\"127.0.0.1:53\"], \"zones\": {\"z.\": {\"f\": 1}}}");
    json_t *recs = json_object_get(d, "records");
    json_object_setn_new(recs, "n\0ul.", 6, json_pack("{s:s}", "pool", "p"));
    char *before = json_dumps(d, JSON_INDENT(2));
    size_t gone[3] = {0, (size_t)d, 0};
    json_t *c = jsonrecycle_detach(json_incref(d), test_gone, &gone);
    char *after = c ? json_dumps(c, JSON_INDENT(2)) : NULL;
    /* Compared as text: json_equal and json_object_get stop a key at its
     * NUL. */
    TAP_CHECK(t, c && c != d && after && strcmp(before, after) == 0,
              "a detached copy dumps as the document did, member order kept");
    bool own = true, shared = true;
    const char *k;
    json_t *v;
    json_object_foreach(d, k, v)
    {
        json_t *cv = json_object_get(c, k);
        if (json_is_object(v)) {
            own = own && cv != v && json_object_size(cv) == json_object_size(v);
            const char *m;
            size_t ml;
            json_t *mv;
            json_object_keylen_foreach(v, m, ml, mv) shared =
                shared && json_object_getn(cv, m, ml) == mv;
        } else
            shared = shared && cv == v;
    }
    TAP_CHECK(t, own && shared, "its objects are its own, every member below them shared");
    TAP_CHECK(t,
              json_object_getn(json_object_get(c, "records"), "n\0ul.", 6) ==
                  json_object_getn(recs, "n\0ul.", 6),
              "a key holding a NUL is copied whole");
    TAP_CHECK(t, d->refcount == 1 && gone[0] == 1 && gone[2] == 1,
              "the document's reference was let go, and gone called once after (%zu, %zu)",
              d->refcount, gone[0]);
    json_object_set_new(json_object_get(c, "records"), "c.", json_integer(1));
    TAP_CHECK(t, json_object_size(recs) == 3, "an edit of the copy leaves the document as it was");
    TAP_CHECK(t, jsonrecycle_detach(NULL, NULL, NULL) == NULL, "nothing detached from nothing");
    free(before);
    free(after);
    json_decref(c);
    json_decref(d);
}

/* The writer's detach of the replaced document beside the recycler's next
 * copy, which takes that document apart and changes its objects in place
 * once the detach has let it go. With wait, the copy starts once the
 * detach said it let go (its gone callback) and must take the objects
 * (late), while the detach builds its copy from its list; without, the
 * two race, and the copy takes them or copies (as under a sanitizer,
 * where the listing outlasts the wait). Either way the detached copy is
 * the replaced version whole and the next copy the new one. */
struct test_detach_run {
    json_t *doc, *copy;
    int gone; /* set by gone, read by the test's thread (atomics) */
};

static void test_detach_gone(void *arg)
{
    __atomic_store_n(&((struct test_detach_run *)arg)->gone, 1, __ATOMIC_RELEASE);
}

static void *test_detacher(void *arg)
{
    struct test_detach_run *d = arg;
    d->copy = jsonrecycle_detach(d->doc, test_detach_gone, d);
    return NULL;
}

static void test_detach_beside(struct tap *t, bool wait)
{
    struct jsonrecycle r;
    jsonrecycle_init(&r, test_kinds);
    r.keep_busy = true;
    r.wait_us = 250000; /* bounded by the members: 150,000 x 100 ns = 15 ms */
    json_t *v1 = test_large();
    char *old = json_dumps(v1, JSON_COMPACT);
    struct test_detach_run d = {.doc = json_incref(v1)};
    json_t *v2 = test_step(&r, v1, "c.", "r7.");
    pthread_t th;
    bool started = r.retired == v1 && pthread_create(&th, NULL, test_detacher, &d) == 0;
    struct timespec ms = {0, 1000000L};
    for (int i = 0; wait && started && i < 30000 && !__atomic_load_n(&d.gone, __ATOMIC_ACQUIRE);
         i++)
        nanosleep(&ms, NULL);
    json_t *v3 = started ? test_step(&r, v2, "d.", "r8.") : NULL;
    if (started)
        pthread_join(th, NULL);
    char *got = d.copy ? json_dumps(d.copy, JSON_COMPACT) : NULL;
    TAP_CHECK(t,
              started && got && strcmp(got, old) == 0 && (!wait || (r.late == 1 && r.reused == 2)),
              "%s: the detached copy is the replaced version whole (%llu late, %llu reused, %llu "
              "copied)",
              wait ? "the copy after the detach let go took the objects" : "racing the copy",
              r.late, r.reused, r.copied);
    json_t *r3 = v3 ? json_object_get(v3, "records") : NULL;
    TAP_CHECK(t,
              r3 && json_object_size(r3) == 150000 && json_object_get(r3, "d.") &&
                  !json_object_get(r3, "r8.") && !json_object_get(r3, "r7."),
              "the next versions are made as ever beside it");
    free(old);
    free(got);
    json_decref(d.copy);
    json_decref(v3);
    jsonrecycle_clear(&r);
}

int main(void)
{
    struct tap t = {0, 0};
    test_reuse(&t);
    test_refused(&t);
    test_wait(&t);
    test_wait_other(&t);
    test_random(&t);
    test_advance(&t);
    test_fresh(&t);
    test_detach_copy(&t);
    test_detach_beside(&t, true);
    test_detach_beside(&t, false);
    return tap_done(&t);
}

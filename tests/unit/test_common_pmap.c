/*
 * test_common_pmap.c -- the persistent map (common/pmap.h): random
 * sequences of sets and removals give exactly what a plain reference map
 * holds, and every version kept reads as it was made while later ones are
 * made from it; names whose hashes collide (a test mask) are kept apart;
 * pmap_diff reports exactly the names two versions hold differently; a
 * change at 100,000 names makes a handful of nodes, not a copy; a reader
 * thread reads an old version whole while a writer makes 1,000 changes
 * and releases each version it replaced (the TSan build checks the
 * reference counts); and every node and value is freed when the last
 * holder of the last version leaves.
 */
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/pmap.h"
#include "tap.h"

/* A value: a counted box, so the test sees each one released once. */
struct box {
    unsigned v;
};

static void test_box_release(void *value, void *ctx)
{
    atomic_size_t *live = ctx;
    free(value);
    atomic_fetch_sub(live, 1);
}

static struct box *test_box(atomic_size_t *live, unsigned v)
{
    struct box *b = malloc(sizeof(*b));
    if (!b)
        abort();
    b->v = v;
    atomic_fetch_add(live, 1);
    return b;
}

#define KEYS 600
#define KEPT 8

/* The reference: value+1 of key i (0: absent). */
struct ref {
    unsigned val[KEYS];
};

static size_t test_key(unsigned i, char *buf)
{
    return (size_t)snprintf(buf, 32, "n%u.example.com.", i);
}

static unsigned test_rand(uint64_t *s)
{
    *s ^= *s << 13;
    *s ^= *s >> 7;
    *s ^= *s << 17;
    return (unsigned)(*s >> 11);
}

/* The number of a key "nI.example.com." (keys are not NUL-terminated);
 * KEYS when it is no such key. */
static unsigned test_key_no(const void *key, size_t len)
{
    char buf[32];
    unsigned i;
    if (len >= sizeof(buf))
        return KEYS;
    memcpy(buf, key, len);
    buf[len] = 0;
    if (sscanf(buf, "n%u.", &i) != 1 || i >= KEYS)
        return KEYS;
    return i;
}

/* Whether m holds exactly what r holds, by lookups and by a walk. */
struct walk_ctx {
    const struct ref *r;
    size_t seen;
    bool ok;
};

static bool test_walk(const void *key, size_t len, void *value, void *ctx)
{
    struct walk_ctx *w = ctx;
    unsigned i = test_key_no(key, len);
    char buf[32];
    if (i >= KEYS || test_key(i, buf) != len || memcmp(buf, key, len) != 0 ||
        w->r->val[i] != ((struct box *)value)->v + 1)
        w->ok = false;
    w->seen++;
    return true;
}

static bool test_same(const struct pmap *m, const struct ref *r)
{
    size_t n = 0;
    char buf[32];
    for (unsigned i = 0; i < KEYS; i++) {
        bool found;
        struct box *b = pmap_get(m, buf, test_key(i, buf), &found);
        if (found != (r->val[i] != 0) || (found && b->v + 1 != r->val[i]))
            return false;
        n += found;
    }
    struct walk_ctx w = {r, 0, true};
    pmap_each(m, test_walk, &w);
    return w.ok && w.seen == n && pmap_count(m) == n;
}

/* pmap_diff against the difference of two references. */
struct diff_ctx {
    const struct ref *a, *b;
    size_t seen;
    bool ok;
};

static bool test_diff_cb(const struct pmap_change *c, void *ctx)
{
    struct diff_ctx *d = ctx;
    unsigned i = test_key_no(c->key, c->len);
    if (i >= KEYS)
        d->ok = false;
    else if ((d->a->val[i] != 0) != c->old_found || (d->b->val[i] != 0) != c->new_found ||
             (c->old_found && ((struct box *)c->old_value)->v + 1 != d->a->val[i]) ||
             (c->new_found && ((struct box *)c->new_value)->v + 1 != d->b->val[i]))
        d->ok = false;
    d->seen++;
    return true;
}

static bool test_diff_same(const struct pmap *ma, const struct pmap *mb, const struct ref *a,
                           const struct ref *b, const unsigned *serial_a, const unsigned *serial_b)
{
    struct diff_ctx d = {a, b, 0, true};
    pmap_diff(ma, mb, test_diff_cb, &d);
    size_t want = 0;
    for (unsigned i = 0; i < KEYS; i++)
        want += (a->val[i] || b->val[i]) && (a->val[i] != b->val[i] || serial_a[i] != serial_b[i]);
    return d.ok && d.seen == want;
}

/* One run of random changes on a family hashing with mask; KEPT versions
 * (with their references) stay held and are checked at every step. */
static void test_random(struct tap *t, uint64_t mask, const char *what)
{
    atomic_size_t live = 0;
    struct pmap_family *f = pmap_family_new(7, test_box_release, &live);
    pmap_family_test_mask(f, mask);
    struct pmap *kept[KEPT] = {0};
    static struct ref refs[KEPT], cur;
    /* serial[i]: which box key i holds (a set of an equal value is a new
     * box, which pmap_diff reports: it compares pointers). */
    static unsigned serial[KEPT][KEYS], cur_serial[KEYS];
    memset(&cur, 0, sizeof(cur));
    memset(cur_serial, 0, sizeof(cur_serial));
    struct pmap *m = pmap_new(f);
    uint64_t seed = 0x9e3779b97f4a7c15ull ^ mask;
    bool same = true, old_same = true, diff_same = true;
    unsigned serials = 0;
    for (unsigned step = 0; step < 4000; step++) {
        unsigned i = test_rand(&seed) % KEYS, op = test_rand(&seed) % 3;
        char buf[32];
        size_t len = test_key(i, buf);
        struct pmap *next;
        struct ref before = cur;
        unsigned before_serial[KEYS];
        memcpy(before_serial, cur_serial, sizeof(before_serial));
        if (op == 0) {
            next = pmap_del(m, buf, len);
            cur.val[i] = 0;
        } else {
            unsigned v = test_rand(&seed) % 4;
            next = pmap_set(m, buf, len, test_box(&live, v));
            cur.val[i] = v + 1;
            cur_serial[i] = ++serials;
        }
        /* Every step: the name changed and the count; every 20th the whole
         * (which keeps the TSan build's run within its time). */
        bool here;
        struct box *hb = pmap_get(next, buf, len, &here);
        same = same && here == (cur.val[i] != 0) && (!here || hb->v + 1 == cur.val[i]);
        if (step % 20 == 0)
            same = same && test_same(next, &cur);
        if (step % 7 == 0)
            diff_same =
                diff_same && test_diff_same(m, next, &before, &cur, before_serial, cur_serial);
        pmap_release(m);
        m = next;
        if (step % 500 == 0) {
            unsigned k = (step / 500) % KEPT;
            pmap_release(kept[k]);
            kept[k] = pmap_ref(m);
            refs[k] = cur;
            memcpy(serial[k], cur_serial, sizeof(cur_serial));
        }
        if (step % 250 == 0)
            for (unsigned k = 0; k < KEPT; k++)
                old_same = old_same && (!kept[k] || test_same(kept[k], &refs[k]));
    }
    TAP_CHECK(t, same, "%s: 4,000 random sets and removals give what the reference holds", what);
    TAP_CHECK(t, old_same, "%s: every version kept reads as it was made", what);
    TAP_CHECK(t, diff_same, "%s: pmap_diff of each change gives the reference's difference", what);
    bool far = kept[1] && kept[2] &&
               test_diff_same(kept[1], kept[2], &refs[1], &refs[2], serial[1], serial[2]) &&
               test_diff_same(kept[2], kept[1], &refs[2], &refs[1], serial[2], serial[1]);
    TAP_CHECK(t, far, "%s: pmap_diff of two versions 500 changes apart, both ways", what);
    pmap_release(m);
    for (unsigned k = 0; k < KEPT; k++)
        pmap_release(kept[k]);
    TAP_CHECK(t, pmap_family_nodes(f) == 0 && pmap_family_bytes(f) == 0 && live == 0,
              "%s: the last holder frees every node and value (%zu nodes, %zu values left)", what,
              pmap_family_nodes(f), (size_t)live);
    pmap_family_free(f);
}

/* A change at 100,000 names makes about one node per level, and the diff
 * of the two versions reports that one name. */
struct count_ctx {
    size_t n;
};

static bool test_count_cb(const struct pmap_change *c, void *ctx)
{
    (void)c;
    ((struct count_ctx *)ctx)->n++;
    return true;
}

static void test_path_copy(struct tap *t)
{
    atomic_size_t live = 0;
    struct pmap_family *f = pmap_family_new(42, test_box_release, &live);
    struct pmap *m = pmap_new(f);
    char buf[32];
    for (unsigned i = 0; i < 100000; i++) {
        struct pmap *n = pmap_set(m, buf, (size_t)snprintf(buf, sizeof(buf), "c%u.example.", i),
                                  test_box(&live, i));
        pmap_release(m);
        m = n;
    }
    size_t nodes = pmap_family_nodes(f), bytes = pmap_family_bytes(f);
    struct pmap *n = pmap_set(m, "c777.example.", 13, test_box(&live, 1));
    size_t more = pmap_family_nodes(f) - nodes, more_bytes = pmap_family_bytes(f) - bytes;
    /* 100,000 names: three full levels of 64 and a fourth partly (64^3 is
     * 262,144), so a path is 3-5 branches and the leaf; 8 leaves room. */
    TAP_CHECK(t, pmap_count(n) == 100000 && more >= 2 && more <= 8 && more_bytes < 4096,
              "a change at 100,000 names makes %zu nodes (%zu octets), not a copy (%zu nodes)",
              more, more_bytes, nodes);
    struct count_ctx c = {0};
    pmap_diff(m, n, test_count_cb, &c);
    TAP_CHECK(t, c.n == 1, "the diff of the two versions is the one name changed (%zu)", c.n);
    TAP_CHECK(t, bytes / 100000 < 120, "%zu octets a name in the map", bytes / 100000);
    pmap_release(m);
    /* The new version replaced as many nodes as it made (the path and the
     * name's leaf): releasing the old one frees exactly those. */
    size_t left = pmap_family_nodes(f);
    TAP_CHECK(t, left == nodes,
              "releasing the version before frees only what the new one does not share (%zu "
              "nodes left of %zu)",
              left, nodes);
    pmap_release(n);
    TAP_CHECK(t, pmap_family_nodes(f) == 0 && live == 0, "and the last version frees the rest");
    pmap_family_free(f);
}

/* The served set's discipline: a writer publishes each new version under
 * a lock and releases the one it replaced; a reader holds the version it
 * took and reads it whole while the writer goes on. */
struct share {
    pthread_mutex_t lock;
    struct pmap *now;   /* the published version; one reference of its own */
    struct pmap *first; /* a reference for the reader, taken before it starts */
    atomic_bool done;
    atomic_size_t *live;
    unsigned first_names;
    bool reader_ok;
    atomic_uint reads; /* whole reads of the first version done */
};

static bool test_sum(const void *key, size_t len, void *value, void *ctx)
{
    (void)key;
    (void)len;
    *(unsigned long *)ctx += ((struct box *)value)->v;
    return true;
}

static void *test_reader(void *arg)
{
    struct share *s = arg;
    struct pmap *old = s->first; /* the reader's reference now */
    /* The first version: names c0..c(first_names-1), each valued i. */
    unsigned long want = (unsigned long)s->first_names * (s->first_names - 1) / 2;
    bool ok = true;
    unsigned reads = 0;
    do {
        unsigned long sum = 0;
        pmap_each(old, test_sum, &sum);
        char buf[32];
        unsigned i = reads % s->first_names;
        struct box *b = pmap_get(old, buf, (size_t)snprintf(buf, sizeof(buf), "c%u.", i), NULL);
        ok = ok && sum == want && pmap_count(old) == s->first_names && b && b->v == i;
        /* And the newest, taken and released as a query would. */
        pthread_mutex_lock(&s->lock);
        struct pmap *now = pmap_ref(s->now);
        pthread_mutex_unlock(&s->lock);
        /* 1,000 changes remove at most 200 names. */
        ok = ok && pmap_count(now) >= s->first_names - 200;
        pmap_release(now);
        reads++;
        atomic_store(&s->reads, reads);
    } while (!atomic_load(&s->done));
    pmap_release(old);
    s->reader_ok = ok;
    return NULL;
}

static void test_threads(struct tap *t)
{
    atomic_size_t live = 0;
    struct pmap_family *f = pmap_family_new(3, test_box_release, &live);
    struct share s = {.live = &live, .first_names = 2000};
    pthread_mutex_init(&s.lock, NULL);
    atomic_init(&s.done, false);
    atomic_init(&s.reads, 0);
    struct pmap *m = pmap_new(f);
    char buf[32];
    for (unsigned i = 0; i < s.first_names; i++) {
        struct pmap *n =
            pmap_set(m, buf, (size_t)snprintf(buf, sizeof(buf), "c%u.", i), test_box(&live, i));
        pmap_release(m);
        m = n;
    }
    s.now = m;
    s.first = pmap_ref(m);
    pthread_t th;
    if (pthread_create(&th, NULL, test_reader, &s) != 0)
        abort();
    /* 1,000 changes: every name of the first version changed or removed
     * at least once, and new ones added; each replaced version released
     * here, on the writer's thread, while the reader may hold it. */
    uint64_t seed = 99;
    for (unsigned c = 0; c < 1000; c++) {
        unsigned i = c * 2 + (test_rand(&seed) & 1);
        int l = snprintf(buf, sizeof(buf), "c%u.", i % (s.first_names + 500));
        pthread_mutex_lock(&s.lock);
        struct pmap *cur = s.now;
        pthread_mutex_unlock(&s.lock);
        struct pmap *n = (c % 5 == 4) ? pmap_del(cur, buf, (size_t)l)
                                      : pmap_set(cur, buf, (size_t)l, test_box(&live, c + 7));
        pthread_mutex_lock(&s.lock);
        s.now = n;
        pthread_mutex_unlock(&s.lock);
        pmap_release(cur);
        /* Interleaved: a whole read of the first version every ten
         * changes at least, so the reads overlap the changes. */
        while (atomic_load(&s.reads) < c / 10)
            sched_yield();
    }
    atomic_store(&s.done, true);
    pthread_join(th, NULL);
    unsigned reads = atomic_load(&s.reads);
    TAP_CHECK(t, s.reader_ok && reads >= 99,
              "a reader read the first version whole %u times while 1,000 changes passed", reads);
    pmap_release(s.now);
    TAP_CHECK(t, pmap_family_nodes(f) == 0 && live == 0,
              "every node and value freed once the last holder left (%zu nodes, %zu values)",
              pmap_family_nodes(f), (size_t)live);
    pmap_family_free(f);
    pthread_mutex_destroy(&s.lock);
}

static void test_edges(struct tap *t)
{
    struct pmap_family *f = pmap_family_new(1, NULL, NULL);
    struct pmap *e = pmap_new(f);
    bool found = true;
    TAP_CHECK(t, pmap_get(e, "x", 1, &found) == NULL && !found && pmap_count(e) == 0,
              "the empty version holds nothing");
    struct pmap *d = pmap_del(e, "x", 1);
    TAP_CHECK(t, d == e, "removing an absent name gives the same version");
    pmap_release(d);
    struct pmap *a = pmap_set(e, "", 0, NULL);
    TAP_CHECK(t, pmap_get(a, "", 0, &found) == NULL && found && pmap_count(a) == 1,
              "the empty name with a NULL value is found (values not owned: no release)");
    struct pmap *b = pmap_set(a, "", 0, (void *)&found);
    TAP_CHECK(t,
              pmap_get(a, "", 0, NULL) == NULL && pmap_get(b, "", 0, NULL) == (void *)&found &&
                  pmap_count(b) == 1,
              "a set replaces in the new version only");
    struct pmap *c = pmap_del(b, "", 0);
    TAP_CHECK(t, pmap_count(c) == 0 && pmap_count(b) == 1, "a removal leaves the version before");
    pmap_release(a);
    pmap_release(b);
    pmap_release(c);
    pmap_release(e);
    TAP_CHECK(t, pmap_family_nodes(f) == 0, "nothing left");
    pmap_family_free(f);
}

int main(void)
{
    struct tap t = {0};
    test_edges(&t);
    test_random(&t, UINT64_MAX, "full hashes");
    /* 16 distinct hashes for 600 names: collision nodes of ~37 names. */
    test_random(&t, 0xFull, "colliding hashes");
    /* 256 hashes from both ends: collisions of 2-3 names below branches. */
    test_random(&t, 0xF0000000000000F0ull, "some collisions");
    /* 4,096 hashes whose low bits agree: paths 10 branches deep. */
    test_random(&t, 0xFFF0000000000000ull, "deep paths");
    test_path_copy(&t);
    test_threads(&t);
    return tap_done(&t);
}

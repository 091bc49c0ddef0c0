/*
 * test_common_intern.c -- the common intern table (common/intern.h): equal
 * values are one value, counted by reference; the last release frees it;
 * texts keep their NUL and are not a run of octets' equal; a value made
 * without a table is its own; the chains grow; two threads take and
 * release on one table at once (the TSan build checks the lock); and a
 * value costs no more heap than policy_orders.c's lists did before.
 */
#include <malloc.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/intern.h"
#include "tap.h"

static void test_share(struct tap *t)
{
    struct intern *tab = intern_new();
    const uint16_t ab[] = {0, 1};
    const void *x = intern_take(tab, ab, sizeof(ab));
    const void *y = intern_take(tab, (uint16_t[]){0, 1}, sizeof(ab));
    const void *z = intern_take(tab, (uint16_t[]){1, 0}, sizeof(ab));
    TAP_CHECK(t, x == y && x != (const void *)ab && memcmp(x, ab, sizeof(ab)) == 0,
              "an equal value is the same one, a copy of the caller's");
    TAP_CHECK(t, z != x && intern_count(tab) == 2 && intern_refs(x) == 2 && intern_refs(z) == 1,
              "another value is another entry (%zu values, %u refs)", intern_count(tab),
              intern_refs(x));
    TAP_CHECK(t, ((uintptr_t)x & 3) == 0, "a value starts 4-aligned");
    const char *s = intern_take_text(tab, "connection refused, and more", 18);
    const char *s2 = intern_take_text(tab, "connection refused", 18);
    TAP_CHECK(t, s == s2 && strcmp(s, "connection refused") == 0,
              "a text cut at n is kept with its NUL, the same for an equal text");
    const void *raw = intern_take(tab, "connection refused", 18);
    TAP_CHECK(t, raw != (const void *)s && intern_count(tab) == 4,
              "a text is not the run of its octets without the NUL");
    const void *e = intern_take(tab, NULL, 0), *e2 = intern_take(tab, NULL, 0);
    TAP_CHECK(t, e && e == e2, "the empty value: one, not NULL");
    intern_release(y);
    TAP_CHECK(t, intern_refs(x) == 1 && intern_count(tab) == 5,
              "a release leaves the other holder's value");
    intern_release(x);
    TAP_CHECK(t, intern_count(tab) == 4, "the last release frees it");
    const void *x2 = intern_take(tab, ab, sizeof(ab));
    TAP_CHECK(t, intern_refs(x2) == 1 && intern_count(tab) == 5, "made again after it went");
    intern_release(NULL); /* nothing */
    intern_release(s);
    intern_release(s2);
    intern_release(raw);
    intern_release(e);
    intern_release(e2);
    intern_release(z);
    TAP_CHECK(t, intern_count(tab) == 1, "only the value still held is left");
    intern_free(tab); /* x2 goes with the table (the ASan build: no leak) */
    intern_free(NULL);
}

static void test_own(struct tap *t)
{
    const char *a = intern_take_text(NULL, "ok", 2), *b = intern_take_text(NULL, "ok", 2);
    TAP_CHECK(t, a && b && a != b && strcmp(a, "ok") == 0 && intern_refs(a) == 1,
              "without a table: a copy of its own each, held once");
    intern_release(a);
    intern_release(b);
}

static void test_grow(struct tap *t)
{
    struct intern *tab = intern_new();
    char text[64];
    const char *held[3000];
    for (int i = 0; i < 3000; i++) {
        int n = snprintf(text, sizeof(text), "cannot resolve host%d.example", i);
        held[i] = intern_take_text(tab, text, (size_t)n);
    }
    int right = 0;
    for (int i = 0; i < 3000; i++) {
        int n = snprintf(text, sizeof(text), "cannot resolve host%d.example", i);
        const char *again = intern_take_text(tab, text, (size_t)n);
        right += again == held[i] && strcmp(again, text) == 0;
        intern_release(again);
    }
    TAP_CHECK(t, right == 3000 && intern_count(tab) == 3000 && intern_chains(tab) >= 3000,
              "3,000 values kept apart and found again (%d right, %zu chains)", right,
              intern_chains(tab));
    for (int i = 0; i < 3000; i++)
        intern_release(held[i]);
    TAP_CHECK(t, intern_count(tab) == 0, "every value released: the table is empty");
    intern_free(tab);
}

enum { IN_ROUNDS = 100000 };

struct in_thread {
    struct intern *tab;
    const void **held; /* IN_ROUNDS references to release */
    int taken_ok;      /* values taken here that read back right */
};

/* Releases the main thread's references while taking and releasing its
 * own, of values the main thread takes too. */
static void *in_worker(void *arg)
{
    struct in_thread *p = arg;
    for (int i = 0; i < IN_ROUNDS; i++) {
        intern_release(p->held[i]);
        uint32_t v[2] = {(uint32_t)i % 97, 7};
        const uint32_t *mine = intern_take(p->tab, v, sizeof(v));
        p->taken_ok += mine[0] == v[0] && mine[1] == 7;
        intern_release(mine);
    }
    return NULL;
}

static void test_threads(struct tap *t)
{
    struct intern *tab = intern_new();
    const char *keep = intern_take_text(tab, "ok", 2);
    struct in_thread p = {tab, calloc(IN_ROUNDS, sizeof(*p.held)), 0};
    if (!p.held)
        abort();
    for (int i = 0; i < IN_ROUNDS; i++)
        p.held[i] = intern_take_text(tab, i % 2 ? "ok" : "timeout", i % 2 ? 2 : 7);
    pthread_t th;
    pthread_create(&th, NULL, in_worker, &p);
    int right = 0;
    for (int i = 0; i < IN_ROUNDS; i++) { /* the same values, and new ones */
        uint32_t v[2] = {(uint32_t)i % 89, 7};
        const uint32_t *mine = intern_take(tab, v, sizeof(v));
        right += mine[0] == v[0] && mine[1] == 7;
        intern_release(mine);
    }
    pthread_join(th, NULL);
    TAP_CHECK(t, right == IN_ROUNDS && p.taken_ok == IN_ROUNDS,
              "two threads take equal values at once, each reads its own back");
    TAP_CHECK(t, intern_count(tab) == 1 && intern_refs(keep) == 1,
              "refs exact after concurrent releases: only \"ok\" held, once (%zu values, %u refs)",
              intern_count(tab), intern_refs(keep));
    intern_release(keep);
    TAP_CHECK(t, intern_count(tab) == 0, "then none");
    free(p.held);
    intern_free(tab);
}

/* The heap a value takes: 10,000 distinct region lists of 3 items, as
 * policy_orders interns them. policy_orders.c's entries before this
 * module took a 28-octet header and the items (a 48-octet malloc chunk
 * for 3 items) and a chain pointer or two: the same bound holds. */
static void test_heap(struct tap *t)
{
    enum { N = 10000 };
    struct intern *tab = intern_new();
    static const void *held[N];
    struct mallinfo2 before = mallinfo2();
    for (int i = 0; i < N; i++)
        held[i] = intern_take(tab, (uint16_t[]){(uint16_t)i, 7, (uint16_t)(i >> 3)}, 6);
    struct mallinfo2 after = mallinfo2();
    double per = (double)(after.uordblks - before.uordblks) / N;
    TAP_CHECK(t, per >= 48 && per <= 48 + 2 * sizeof(void *),
              "a 3-item list costs %.1f octets of heap (its 48-octet chunk and its chain)", per);
    for (int i = 0; i < N; i++)
        intern_release(held[i]);
    intern_free(tab);
}

/* The sanitizers' allocators are not glibc's: mallinfo2 does not see
 * their heap (the check would pass on a 0), so the heap is measured in
 * the plain build only. */
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#define INTERN_HEAP_MEASURED 0
#else
#define INTERN_HEAP_MEASURED 1
#endif

int main(void)
{
    struct tap t = {0, 0};
    test_share(&t);
    test_own(&t);
    test_grow(&t);
    test_threads(&t);
    if (INTERN_HEAP_MEASURED)
        test_heap(&t);
    else
        printf("# the heap per value is measured in the build without sanitizers\n");
    return tap_done(&t);
}

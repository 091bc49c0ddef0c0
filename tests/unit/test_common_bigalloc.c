/*
 * Unit tests for src/common/bigalloc.c: small and large arrays come back
 * zeroed and writable end to end; a large one starts on a 2 MB boundary
 * (so that huge pages can back it); freeing with the same n and size
 * gives each kind back the way it was taken (ASan's run sees a wrong
 * free); zero items still give a pointer. A table (bigalloc_table) comes
 * back zeroed with every page already written: resident before anything
 * reads it (calloc's fresh mapping is not, and a compiler may turn malloc
 * and a memset to zero into calloc). A spare (bigalloc_take/give): an
 * array given back is taken again by the next that fits, holds at least
 * what was asked, is not taken when far too long, and goes with
 * bigalloc_spare_drop; small arrays never pass through it. Tables
 * through a spare (test_tables). The tail (test_tail, where transparent
 * huge pages are on): of an array's last 2 MB, only what it fills is
 * resident, and only its whole pages are marked huge.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "common/bigalloc.h"
#include "tap.h"

/* Every octet of p (len of them) is zero. */
static int test_all_zero(const uint8_t *p, size_t len)
{
    for (size_t i = 0; i < len; i++)
        if (p[i])
            return 0;
    return 1;
}

static void test_size(struct tap *t, size_t n, size_t size, int big)
{
    uint8_t *p = bigalloc_zeroed(n, size);
    size_t len = n * size;
    TAP_CHECK(t, p != NULL, "%zu x %zu: allocated", n, size);
    TAP_CHECK(t, test_all_zero(p, len), "%zu x %zu: zeroed", n, size);
    memset(p, 0xa5, len); /* writable to the last octet */
    TAP_CHECK(t, len == 0 || p[len - 1] == 0xa5, "%zu x %zu: writable to the end", n, size);
    if (big)
        TAP_CHECK(t, ((uintptr_t)p & (2u * 1024 * 1024 - 1)) == 0,
                  "%zu x %zu: starts on a 2 MB boundary", n, size);
    bigalloc_free(p, n, size);
}

/* Whether every page wholly inside [p, p + len) is resident (mincore). */
static int test_resident(const uint8_t *p, size_t len)
{
    size_t pg = (size_t)sysconf(_SC_PAGESIZE);
    uintptr_t a = ((uintptr_t)p + pg - 1) & ~(uintptr_t)(pg - 1);
    uintptr_t b = ((uintptr_t)p + len) & ~(uintptr_t)(pg - 1);
    if (b <= a)
        return 1;
    size_t n = (b - a) / pg;
    unsigned char *vec = malloc(n);
    int ok = vec && mincore((void *)a, b - a, vec) == 0;
    for (size_t i = 0; ok && i < n; i++)
        ok = vec[i] & 1;
    free(vec);
    return ok;
}

/* Pages resident in [p, p + len) (mincore; p page aligned). */
static size_t test_resident_pages(const uint8_t *p, size_t len)
{
    size_t pg = (size_t)sysconf(_SC_PAGESIZE), n = (len + pg - 1) / pg, in = 0;
    unsigned char *vec = malloc(n ? n : 1);
    if (vec && mincore((void *)p, len, vec) == 0)
        for (size_t i = 0; i < n; i++)
            in += vec[i] & 1;
    free(vec);
    return in;
}

/* Whether the mapping holding a has flag (two letters, "hg": marked
 * MADV_HUGEPAGE, "nh": MADV_NOHUGEPAGE) among its VmFlags in
 * /proc/self/smaps. */
static int test_vm_flag(const void *a, const char *flag)
{
    FILE *f = fopen("/proc/self/smaps", "r");
    char line[512];
    int in = 0, found = 0;
    while (f && !found && fgets(line, sizeof(line), f)) {
        unsigned long lo, hi;
        if (sscanf(line, "%lx-%lx ", &lo, &hi) == 2) /* a mapping's first line */
            in = (uintptr_t)a >= lo && (uintptr_t)a < hi;
        else if (in && strncmp(line, "VmFlags:", 8) == 0)
            found = strstr(line, flag) != NULL;
    }
    if (f)
        fclose(f);
    return found;
}

/* Whether transparent huge pages back a mapping marked MADV_HUGEPAGE. */
static int test_thp_on(void)
{
    char buf[128] = "";
    FILE *f = fopen("/sys/kernel/mm/transparent_hugepage/enabled", "r");
    if (f && !fgets(buf, sizeof(buf), f))
        buf[0] = 0;
    if (f)
        fclose(f);
    return strstr(buf, "[always]") || strstr(buf, "[madvise]");
}

/* An array of used octets at p, written whole: no more of it resident
 * than it fills (its last 2 MB page was resident whole when marked huge,
 * as THP made it), its first 2 MB marked huge and its tail, from tail
 * on, not. */
static void test_tail_of(struct tap *t, const char *what, uint8_t *p, size_t used, size_t tail)
{
    size_t pg = (size_t)sysconf(_SC_PAGESIZE);
    memset(p, 0x42, used);
    size_t in =
        test_resident_pages(p, (used + 2u * 1024 * 1024 - 1) & ~(size_t)(2u * 1024 * 1024 - 1));
    TAP_CHECK(t, in <= (used + pg - 1) / pg, "%s: %zu pages resident, of %zu filled", what, in,
              (used + pg - 1) / pg);
    TAP_CHECK(t, test_vm_flag(p, " hg"), "%s: its body marked huge", what);
    TAP_CHECK(t, test_vm_flag(p + tail, " nh") && !test_vm_flag(p + tail, " hg"),
              "%s: its tail marked not huge", what);
}

static void test_tail(struct tap *t)
{
    if (!test_thp_on()) {
        TAP_CHECK(t, 1, "tail # SKIP transparent huge pages are off");
        return;
    }
    const size_t mb = 1024 * 1024;
    struct bigalloc_spare s;
    bigalloc_spare_init(&s);
    size_t len = 0;
    uint8_t *a = bigalloc_table_take(&s, 3 * mb / 8, 8, &len); /* a 3 MB table */
    TAP_CHECK(t, a && len == 4 * mb, "tail: a 3 MB table maps 4 MB (%zu)", len);
    test_tail_of(t, "tail: a 3 MB table", a, 3 * mb, 2 * mb);
    bigalloc_table_give(&s, a, len);
    uint8_t *b = bigalloc_table_take(&s, 3 * mb / 8, 8, &len);
    TAP_CHECK(t, b == a && test_resident_pages(b, 4 * mb) <= 3 * mb / (size_t)sysconf(_SC_PAGESIZE),
              "tail: taken again, still no more resident than it fills");
    bigalloc_table_give(&s, b, len);
    size_t n = 100000, size = 128; /* a policy set's records at 100,000: 12.8 MB */
    uint8_t *r = bigalloc_zeroed(n, size);
    test_tail_of(t, "tail: 100,000 records", r, n * size, 12 * mb);
    bigalloc_free(r, n, size);
    /* Its last 2 MB filled but for 256 KB: huge too. */
    uint8_t *f = bigalloc_zeroed(6 * mb - 256 * 1024, 1);
    TAP_CHECK(t, test_vm_flag(f + 4 * mb, " hg") && test_vm_flag(f + 6 * mb - 1, " hg"),
              "tail: a last 2 MB filled but for 256 KB marked huge");
    bigalloc_free(f, 6 * mb - 256 * 1024, 1);
    bigalloc_spare_free(&s);
}

static void test_table(struct tap *t, size_t n, size_t size)
{
    uint8_t *p = bigalloc_table(n, size);
    size_t len = n * size;
    TAP_CHECK(t, p != NULL, "table %zu x %zu: allocated", n, size);
    /* Before any read: a read would map the zero page, resident too. */
    TAP_CHECK(t, test_resident(p, len), "table %zu x %zu: every page written already", n, size);
    TAP_CHECK(t, test_all_zero(p, len), "table %zu x %zu: zeroed", n, size);
    memset(p, 0x5a, len);
    TAP_CHECK(t, len == 0 || p[len - 1] == 0x5a, "table %zu x %zu: writable to the end", n, size);
    free(p);
}

static void test_spare(struct tap *t)
{
    struct bigalloc_spare s;
    bigalloc_spare_init(&s);
    size_t n = 160000, size = 192, cap = 0; /* a policy set's records at 160,000: 30 MB */
    uint8_t *a = bigalloc_take(&s, n, size, &cap);
    TAP_CHECK(t, a && cap == n && s.p == NULL, "spare: a fresh array when none is kept");
    TAP_CHECK(t, test_all_zero(a, n * size), "spare: a fresh array is zeroed (the kernel's)");
    memset(a, 0x77, n * size);
    bigalloc_give(&s, a, cap, size);
    TAP_CHECK(t, s.p == a, "spare: the array given back is kept");
    uint8_t *b = bigalloc_take(&s, n - 5000, size, &cap);
    TAP_CHECK(t, b == a && s.p == NULL, "spare: the next that fits takes it");
    TAP_CHECK(t, cap >= n && cap * size <= s.len + 2u * 1024 * 1024 + n * size,
              "spare: it holds at least what was asked (cap %zu)", cap);
    TAP_CHECK(t, b[(n - 5000) * size - 1] == 0x77, "spare: taken as it was, not zeroed again");
    b[cap * size - 1] = 1; /* writable to its whole cap */
    uint8_t *c = bigalloc_take(&s, n, size, &(size_t){0});
    TAP_CHECK(t, c != b, "spare: taken once only");
    bigalloc_give(&s, b, cap, size);
    bigalloc_give(&s, c, n, size); /* a second: among the table slots */
    TAP_CHECK(t, s.p == b && s.tables[0].p == c,
              "spare: one kept, a second given back kept among the tables");
    size_t small_cap = 0;
    uint8_t *d = bigalloc_take(&s, 1000, 8, &small_cap);
    TAP_CHECK(t, d && small_cap == 1000 && s.p == b, "spare: small arrays do not take it");
    bigalloc_give(&s, d, small_cap, 8);
    TAP_CHECK(t, s.p == b, "spare: nor are they kept");
    size_t far = BIGALLOC_MIN / 8;
    uint8_t *e = bigalloc_take(&s, far, 8, &cap); /* 30 MB spare, 4 MB asked */
    TAP_CHECK(t, e && s.p == NULL && cap == far, "spare: far too long is not taken (unmapped)");
    bigalloc_give(&s, e, cap, 8);
    TAP_CHECK(t, s.p == e, "spare: the new one is kept");
    /* A second array given back (the dropper a set behind): kept among
     * the table slots and taken from there when the first is gone. */
    size_t cap2 = 0;
    uint8_t *x = bigalloc_take(&s, far, 8, &cap2); /* the spare e */
    uint8_t *y = bigalloc_take(&s, far, 8, &cap);  /* fresh */
    bigalloc_give(&s, x, cap2, 8);
    bigalloc_give(&s, y, cap, 8);
    TAP_CHECK(t, s.p == x, "spare: a second array given back");
    uint8_t *x2 = bigalloc_take(&s, far, 8, &cap2);
    uint8_t *y2 = bigalloc_take(&s, far, 8, &cap);
    TAP_CHECK(t, x2 == x && y2 == y, "spare: both taken again, none mapped afresh");
    bigalloc_give(&s, x2, cap2, 8);
    bigalloc_give(&s, y2, cap, 8);
    bigalloc_spare_drop(&s);
    TAP_CHECK(t, s.p == NULL, "spare: dropped");
    uint8_t *f = bigalloc_take(NULL, far, 8, &cap);
    TAP_CHECK(t, f && cap == far && test_all_zero(f, far * 8), "spare: none: zeroed, as asked");
    bigalloc_give(NULL, f, cap, 8);
    uint8_t *g = bigalloc_take(&s, n, size, &cap);
    bigalloc_give(&s, g, cap, size);
    bigalloc_spare_free(&s); /* unmaps the one it holds (ASan: no leak) */
}

/* Tables through a spare (bigalloc_table_take/give): small ones are
 * malloc'd; a large one given back is taken again by the next that fits
 * and comes back zeroed and resident; one far too long is not taken; the
 * slots fill and then unmap; drop and free empty them. */
static void test_tables(struct tap *t)
{
    struct bigalloc_spare s;
    bigalloc_spare_init(&s);
    size_t len = 0, len2 = 0;
    uint8_t *small = bigalloc_table_take(&s, 100, 8, &len);
    TAP_CHECK(t, small && len == 0 && test_all_zero(small, 800), "tables: a small one malloc'd");
    bigalloc_table_give(&s, small, len);
    uint8_t *a = bigalloc_table_take(&s, 262144, 8, &len); /* 2 MB */
    TAP_CHECK(t, a && len >= 262144 * 8 && test_all_zero(a, 262144 * 8),
              "tables: a large one mapped, zero");
    memset(a, 0x33, len);
    bigalloc_table_give(&s, a, len);
    TAP_CHECK(t, s.tables[0].p == a, "tables: given back, kept");
    uint8_t *b = bigalloc_table_take(&s, 250000, 8, &len2);
    TAP_CHECK(t, b == a && len2 == len && s.tables[0].p == NULL, "tables: the next that fits");
    TAP_CHECK(t, test_resident(b, 250000 * 8) && test_all_zero(b, 250000 * 8),
              "tables: taken again zeroed where asked, every page resident");
    bigalloc_table_give(&s, b, len2);
    uint8_t *c = bigalloc_table_take(&s, 40000, 8, &len2); /* 320 KB: 2 MB is too long */
    TAP_CHECK(t, c && c != a && s.tables[0].p == a, "tables: far too long is not taken");
    bigalloc_table_give(&s, c, len2);
    uint8_t *many[BIGALLOC_TABLES + 1];
    size_t lens[BIGALLOC_TABLES + 1];
    for (size_t i = 0; i <= BIGALLOC_TABLES; i++)
        many[i] = bigalloc_table_take(&s, 300000, 8, &lens[i]);
    int kept = 0;
    for (size_t i = 0; i <= BIGALLOC_TABLES; i++)
        bigalloc_table_give(&s, many[i], lens[i]);
    for (size_t i = 0; i < BIGALLOC_TABLES; i++)
        kept += s.tables[i].p != NULL;
    TAP_CHECK(t, kept == BIGALLOC_TABLES, "tables: every slot filled, the one more unmapped");
    bigalloc_spare_drop(&s);
    kept = 0;
    for (size_t i = 0; i < BIGALLOC_TABLES; i++)
        kept += s.tables[i].p != NULL;
    TAP_CHECK(t, kept == 0, "tables: dropped with the spare");
    uint8_t *d = bigalloc_table_take(NULL, 300000, 8, &len);
    TAP_CHECK(t, d && len == 0 && test_all_zero(d, 300000 * 8), "tables: no spare: malloc'd");
    bigalloc_table_give(NULL, d, len);
    uint8_t *e = bigalloc_table_take(&s, 300000, 8, &len);
    bigalloc_table_give(&s, e, len);
    bigalloc_spare_free(&s); /* unmaps the slots (ASan: no leak) */
}

int main(void)
{
    struct tap t = {0, 0};
    test_size(&t, 0, 200, 0);
    test_size(&t, 1, 1, 0);
    test_size(&t, 1000, 200, 0);
    test_size(&t, BIGALLOC_MIN / 8 - 1, 8, 0);
    test_size(&t, BIGALLOC_MIN / 8, 8, 1);
    test_size(&t, 100000, 192, 1); /* a policy set's records at 100,000 */
    test_size(&t, 3 * BIGALLOC_MIN + 1, 1, 1);
    bigalloc_free(NULL, 100000, 192); /* nothing to give back (ASan: no wild munmap) */
    test_table(&t, 0, 8);
    test_table(&t, 100, 8);
    test_table(&t, 262144, 8);    /* a name table at 100,000 records: 2 MB */
    test_table(&t, 1u << 20, 24); /* above any mmap threshold: 24 MB */
    test_spare(&t);
    test_tables(&t);
    test_tail(&t);
    return tap_done(&t);
}

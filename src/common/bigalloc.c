/*
 * bigalloc.c -- zeroed memory for large arrays (bigalloc.h).
 */
#include "common/bigalloc.h"

#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#define BIGALLOC_HUGE (2u * 1024 * 1024)

/* The octets n items of size take, rounded up to whole huge pages; 0 when
 * the array is small (calloc) or n * size overflows (aborted). */
static size_t bigalloc_len(size_t n, size_t size)
{
    if (size && n > SIZE_MAX / size)
        abort();
    size_t len = n * size;
    if (len < BIGALLOC_MIN)
        return 0;
    return (len + BIGALLOC_HUGE - 1) / BIGALLOC_HUGE * BIGALLOC_HUGE;
}

/* How many octets from the start of a mapping for an array of used octets
 * are advised huge: the whole 2 MB pages the array fills, and the last,
 * partly filled one too when the array leaves at most BIGALLOC_TAIL_SLACK
 * of it unused (the rest is the tail, bigalloc.h). */
static size_t bigalloc_huge_part(size_t used)
{
    size_t body = used / BIGALLOC_HUGE * BIGALLOC_HUGE;
    if (used - body >= BIGALLOC_HUGE - BIGALLOC_TAIL_SLACK)
        body += BIGALLOC_HUGE;
    return body;
}

/* len octets (a multiple of 2 MB) mapped on a 2 MB boundary, zero, for an
 * array of used octets (at most len): huge pages for its body, 4 KB pages
 * for its tail (bigalloc.h). */
static void *bigalloc_map_huge(size_t len, size_t used)
{
    /* One huge page more, so that the array can start on a 2 MB boundary;
     * the head and tail beyond it go back at once. */
    size_t map = len + BIGALLOC_HUGE;
    uint8_t *m = mmap(NULL, map, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (m == MAP_FAILED)
        abort();
    uintptr_t at = ((uintptr_t)m + BIGALLOC_HUGE - 1) & ~(uintptr_t)(BIGALLOC_HUGE - 1);
    uint8_t *p = (uint8_t *)at;
    if (p > m)
        munmap(m, (size_t)(p - m));
    if (m + map > p + len)
        munmap(p + len, (size_t)(m + map - (p + len)));
    /* Hints: THP may be off. The tail is marked NOHUGEPAGE, not only left
     * unmarked: with THP "always" a fault there would map the whole 2 MB
     * (and khugepaged would fold its 4 KB pages into one). */
    size_t huge = bigalloc_huge_part(used);
    if (huge)
        (void)madvise(p, huge, MADV_HUGEPAGE);
    if (huge < len)
        (void)madvise(p + huge, len - huge, MADV_NOHUGEPAGE);
    return p;
}

void *bigalloc_zeroed(size_t n, size_t size)
{
    size_t len = bigalloc_len(n, size);
    if (!len) {
        void *p = calloc(n ? n : 1, size ? size : 1);
        if (!p)
            abort();
        return p;
    }
    return bigalloc_map_huge(len, n * size);
}

/* n * size octets (at least one) of malloc, not zeroed; aborts when
 * memory runs out or n * size overflows. */
static void *bigalloc_malloc(size_t n, size_t size, size_t *len)
{
    if (size && n > SIZE_MAX / size)
        abort();
    *len = n && size ? n * size : 1;
    void *p = malloc(*len);
    if (!p)
        abort();
    return p;
}

void *bigalloc_table(size_t n, size_t size)
{
    size_t len;
    void *p = bigalloc_malloc(n, size, &len);
    /* Written, not only read, first (bigalloc.h). Not memset: the
     * compiler turns malloc and a memset to zero into calloc. */
    explicit_bzero(p, len);
    return p;
}

void bigalloc_spare_init(struct bigalloc_spare *s)
{
    memset(s, 0, sizeof(*s));
    pthread_mutex_init(&s->lock, NULL);
}

/* Unmaps every table slot of s. */
static void bigalloc_tables_unmap(struct bigalloc_spare *s)
{
    for (size_t i = 0; i < BIGALLOC_TABLES; i++) {
        pthread_mutex_lock(&s->lock);
        void *p = s->tables[i].p;
        size_t len = s->tables[i].len;
        s->tables[i].p = NULL;
        pthread_mutex_unlock(&s->lock);
        if (p)
            munmap(p, len);
    }
}

void bigalloc_spare_free(struct bigalloc_spare *s)
{
    if (s->p)
        munmap(s->p, s->len);
    s->p = NULL;
    bigalloc_tables_unmap(s);
    pthread_mutex_destroy(&s->lock);
}

void bigalloc_spare_drop(struct bigalloc_spare *s)
{
    pthread_mutex_lock(&s->lock);
    void *p = s->p;
    size_t len = s->len;
    s->p = NULL;
    pthread_mutex_unlock(&s->lock);
    if (p)
        munmap(p, len);
    bigalloc_tables_unmap(s);
}

/* A table's mapping of at least need octets: its length in *len. */
static void *bigalloc_table_map(size_t need, size_t *len)
{
    if (need >= BIGALLOC_HUGE) {
        *len = (need + BIGALLOC_HUGE - 1) / BIGALLOC_HUGE * BIGALLOC_HUGE;
        return bigalloc_map_huge(*len, need);
    }
    *len = (need + 4095) / 4096 * 4096;
    void *p = mmap(NULL, *len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED)
        abort();
    return p;
}

void *bigalloc_table_take(struct bigalloc_spare *s, size_t n, size_t size, size_t *len)
{
    if (size && n > SIZE_MAX / size)
        abort();
    size_t need = n && size ? n * size : 1;
    *len = 0;
    if (!s || need < BIGALLOC_TABLE_MIN)
        return bigalloc_table(n, size);
    void *p = NULL;
    pthread_mutex_lock(&s->lock);
    size_t best = BIGALLOC_TABLES;
    for (size_t i = 0; i < BIGALLOC_TABLES; i++)
        if (s->tables[i].p && s->tables[i].len >= need && s->tables[i].len / 2 <= need &&
            (best == BIGALLOC_TABLES || s->tables[i].len < s->tables[best].len))
            best = i;
    if (best < BIGALLOC_TABLES) {
        p = s->tables[best].p;
        *len = s->tables[best].len;
        s->tables[best].p = NULL;
    }
    pthread_mutex_unlock(&s->lock);
    if (!p)
        return bigalloc_table_map(need, len); /* fresh: zero already */
    explicit_bzero(p, need);                  /* resident: no fault */
    return p;
}

void bigalloc_table_give(struct bigalloc_spare *s, void *p, size_t len)
{
    if (!p)
        return;
    if (!len) {
        free(p);
        return;
    }
    bool kept = false;
    pthread_mutex_lock(&s->lock);
    for (size_t i = 0; i < BIGALLOC_TABLES && !kept; i++)
        if (!s->tables[i].p) {
            s->tables[i].p = p;
            s->tables[i].len = len;
            kept = true;
        }
    pthread_mutex_unlock(&s->lock);
    if (!kept)
        munmap(p, len);
}

/* Whether a mapping of have octets serves an array of len (bigalloc_len). */
static bool bigalloc_fits(size_t have, size_t len)
{
    return have >= len && have - len <= BIGALLOC_SPARE_SLACK && have % BIGALLOC_HUGE == 0;
}

void *bigalloc_take(struct bigalloc_spare *s, size_t n, size_t size, size_t *cap)
{
    size_t len = bigalloc_len(n, size);
    *cap = n;
    if (!s)
        return bigalloc_zeroed(n, size);
    if (!len)
        return bigalloc_malloc(n, size, &len);
    pthread_mutex_lock(&s->lock);
    void *p = s->p, *unfit = NULL;
    size_t have = s->len, unfit_len = 0;
    s->p = NULL;
    if (p && !bigalloc_fits(have, len)) {
        unfit = p;
        unfit_len = have;
        p = NULL;
    }
    /* None: the set before the last may not be freed yet (the dropper
     * runs at nice 19 and a stream of changes starves it); a second array
     * is kept among the table slots (bigalloc_give). */
    for (size_t i = 0; !p && i < BIGALLOC_TABLES; i++)
        if (s->tables[i].p && bigalloc_fits(s->tables[i].len, len)) {
            p = s->tables[i].p;
            have = s->tables[i].len;
            s->tables[i].p = NULL;
        }
    pthread_mutex_unlock(&s->lock);
    if (unfit)
        munmap(unfit, unfit_len);
    if (p) {
        *cap = have / size; /* bigalloc_len of it is have again */
        return p;
    }
    return bigalloc_zeroed(n, size);
}

void bigalloc_give(struct bigalloc_spare *s, void *p, size_t cap, size_t size)
{
    size_t len = bigalloc_len(cap, size);
    if (!p || !s || !len) {
        bigalloc_free(p, cap, size);
        return;
    }
    pthread_mutex_lock(&s->lock);
    bool kept = !s->p;
    if (kept) {
        s->p = p;
        s->len = len;
    }
    pthread_mutex_unlock(&s->lock);
    if (!kept) /* a second one: kept among the tables (or unmapped there) */
        bigalloc_table_give(s, p, len);
}

void bigalloc_free(void *p, size_t n, size_t size)
{
    if (!p)
        return;
    size_t len = bigalloc_len(n, size);
    if (len)
        munmap(p, len);
    else
        free(p);
}

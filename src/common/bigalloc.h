/*
 * bigalloc.h -- zeroed memory for one large array that is built again on
 * every configuration change (a policy set's records: 20 MB at 100,000
 * records).
 *
 * glibc maps every allocation above its mmap threshold afresh and gives it
 * back on free, so such an array was faulted in 4 KB page by page on every
 * change (5,000 page faults for the records alone, issue #38). From
 * BIGALLOC_MIN on, the array is an anonymous mapping aligned to 2 MB and
 * marked MADV_HUGEPAGE: where the kernel's transparent huge pages allow it
 * (enabled "always" or "madvise"), one fault maps 2 MB. Below it, calloc.
 *
 * The tail. The mapping is whole 2 MB pages, but only the pages the array
 * fills are marked huge (and the last, partly filled one when the array
 * leaves at most BIGALLOC_TAIL_SLACK of it unused); the rest of the last
 * one is marked MADV_NOHUGEPAGE (THP "always" would make it huge too), so
 * that what the array never touches is never resident: a huge last page
 * is resident whole, and the 100,000 policy records (12.8 MB) took 14 MB
 * (issue #38). The tail costs a fault per 4 KB the array touches there,
 * at most 2 MB of them, once: a spare keeps its pages. The mapping stays
 * a multiple of 2 MB: the spare and the table slots are matched by that
 * length, and an array that grows within its last 2 MB takes the spare
 * again (the part it grows into then faults 4 KB at a time; the marks are
 * the first array's, made when mapped, not made again on reuse).
 *
 * Ownership: the caller owns the array and gives it back with
 * bigalloc_free with the same n and size it was allocated with (which of
 * the two kinds it is follows from them).
 */
#ifndef GTM_COMMON_BIGALLOC_H
#define GTM_COMMON_BIGALLOC_H

#include <pthread.h>
#include <stddef.h>

#define BIGALLOC_MIN (4u * 1024 * 1024)
/* The most of its last 2 MB an array may leave unused for that page to be
 * huge nonetheless: up to a quarter of it resident for nothing, against
 * up to 384 faults of 4 KB (the tail above). */
#define BIGALLOC_TAIL_SLACK (512u * 1024)

/* n * size zeroed octets (at least one); aborts when memory runs out, as
 * the configuration loader's other allocations do. */
void *bigalloc_zeroed(size_t n, size_t size);
void bigalloc_free(void *p, size_t n, size_t size);

/* n * size zeroed octets (at least one) for a table that is read before
 * it is written (open addressing, slots checked before they are set),
 * freed with free(). calloc maps a large block afresh and leaves it
 * untouched: the table's first read of each page then maps the kernel's
 * shared zero page, and its first write faults again to replace it,
 * which flushes the TLB of every other core running one of gtmd's
 * threads (an inter-processor interrupt, a VM exit on a virtual machine).
 * At 100,000 policy records that was 6 ms of a 38 ms change (issue #38).
 * Here the octets are written once when allocated: one fault a page, and
 * no flush. Aborts when memory runs out. */
void *bigalloc_table(size_t n, size_t size);

/* One large array kept between the versions that build it again on every
 * change (a policy set's records: 20 MB at 100,000 records). The array a
 * set frees is kept here instead of unmapped, and the next set takes it
 * instead of mapping one afresh: no change then faults in and zeroes 20
 * MB of huge pages (clear_page alone was 4 % of gtmd's CPU per change at
 * 100,000 records) nor unmaps the old array (a TLB flush of the other
 * core). A change frees one set and builds one, but the dropper that
 * frees them runs at nice 19: under a stream of changes it was a set
 * behind for 13 changes in 300, and each of those mapped 20 MB afresh
 * (a reload of 30-70 ms instead of 12). So a second array given back is
 * kept among the table slots, and taken from there when the first is
 * missing. Sets are freed on another thread (the dropper's) than the one
 * building the next: the lock.
 *
 * Ownership: the owner (the daemon's server) inits it before the first
 * array is given and frees it after the last one (bigalloc_spare_free
 * unmaps what it holds). */
#define BIGALLOC_TABLES 16
struct bigalloc_spare {
    pthread_mutex_t lock;
    void *p;    /* NULL: none */
    size_t len; /* octets mapped at p */
    /* Tables freed (bigalloc_table_give), for the next ones to take
     * (bigalloc_table_take); p NULL: an empty slot. */
    struct {
        void *p;
        size_t len;
    } tables[BIGALLOC_TABLES];
};
void bigalloc_spare_init(struct bigalloc_spare *s);
void bigalloc_spare_free(struct bigalloc_spare *s);
/* Unmaps the spare s holds, if any (s stays usable): its 20 MB are
 * resident only while changes stream and for a while after (the
 * dropper's LOAD_SPARE_KEEP_S, load_behind.c), not for good. */
void bigalloc_spare_drop(struct bigalloc_spare *s);

/* A spare longer than what is asked by more than this is unmapped rather
 * than taken (a configuration that shrank does not keep its old size). */
#define BIGALLOC_SPARE_SLACK (16u * 1024 * 1024)

/* The tables a change builds again beside its records (the names'
 * bindings, the zone nodes' bindings: 2 to 4 MB each at 100,000 records)
 * faulted in page by page on every change too, a third of them while
 * zeroed (bigalloc_table): 12 % of the reload's CPU at 100,000 records.
 * From BIGALLOC_TABLE_MIN on, a table is mapped (2 MB aligned from 2 MB
 * on, MADV_HUGEPAGE but for its tail, as an array) and given back to s's table slots when its set
 * is freed; the next change takes one that fits (at least the size, at most twice it) and zeroes
 * what it asks for: written once, no fault.
 *
 * bigalloc_table_take: n * size zeroed octets (at least one); *len is
 * what to give back with (0: it was malloc'd: below the minimum, or s
 * NULL). bigalloc_table_give: p (NULL: nothing) with that len, kept in a
 * free slot of s, else unmapped (len 0: freed). Aborts when memory runs
 * out. */
#define BIGALLOC_TABLE_MIN (256u * 1024)
void *bigalloc_table_take(struct bigalloc_spare *s, size_t n, size_t size, size_t *len);
void bigalloc_table_give(struct bigalloc_spare *s, void *p, size_t len);

/* At least n items of size (at least one), NOT zeroed: the caller writes
 * every item before it reads it. *cap: how many items it holds, for
 * bigalloc_give. s's spare when it is at least that long and at most
 * BIGALLOC_SPARE_SLACK longer, else mapped afresh (as bigalloc_zeroed);
 * below BIGALLOC_MIN, malloc. s NULL: bigalloc_zeroed. Aborts when
 * memory runs out. */
void *bigalloc_take(struct bigalloc_spare *s, size_t n, size_t size, size_t *cap);
/* Gives back p, cap items of size from bigalloc_take (or bigalloc_zeroed
 * with n = cap): kept as s's spare when it is large and s holds none,
 * else freed as bigalloc_free frees. s NULL: bigalloc_free. */
void bigalloc_give(struct bigalloc_spare *s, void *p, size_t cap, size_t size);

#endif

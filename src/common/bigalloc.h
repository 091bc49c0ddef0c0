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
 * Ownership: the caller owns the array and gives it back with
 * bigalloc_free with the same n and size it was allocated with (which of
 * the two kinds it is follows from them).
 */
#ifndef GTM_COMMON_BIGALLOC_H
#define GTM_COMMON_BIGALLOC_H

#include <stddef.h>

#define BIGALLOC_MIN (4u * 1024 * 1024)

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

#endif

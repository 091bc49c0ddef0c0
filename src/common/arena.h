/*
 * arena.h -- bump allocator for data that lives and dies together.
 *
 * A compiled zone is allocated from one arena and freed at once when the
 * snapshot holding it is retired: loading a million records makes no million
 * malloc/free pairs, and lookups touch compact memory.
 *
 * Ownership: the arena owns every block it hands out; arena_free() releases
 * them all. Allocation failure aborts the process (out of memory at load
 * time cannot be answered usefully).
 */
#ifndef GTM_COMMON_ARENA_H
#define GTM_COMMON_ARENA_H

#include <stddef.h>

struct arena_chunk;

struct arena {
    struct arena_chunk *head;
    size_t total; /* bytes handed out, for status and RSS reports */
};

void arena_init(struct arena *a);
/* Returns zeroed memory aligned to 8 bytes (enough for every type gtmd
 * keeps in an arena; 16 wasted 8 octets on each of the million nodes and
 * RRsets of a big zone); never NULL. */
void *arena_alloc(struct arena *a, size_t size);
/* A copy of size octets with no alignment, for octet strings (wire
 * names, RDATA) read byte by byte: no padding after each. */
void *arena_memdup_bytes(struct arena *a, const void *src, size_t size);
/* size octets with no alignment, not zeroed (the caller fills them). */
void *arena_alloc_bytes(struct arena *a, size_t size);
void *arena_memdup(struct arena *a, const void *src, size_t size);
char *arena_strdup(struct arena *a, const char *s);
void arena_free(struct arena *a);
/* Moves every block of src into dst (src is left empty): records parsed
 * into a thread's own arena join the builder's without a copy. */
void arena_adopt(struct arena *dst, struct arena *src);

#endif

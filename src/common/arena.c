/*
 * arena.c -- bump allocator.
 */
#include "common/arena.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A chunk with its header and malloc's 16 octets is exactly 64 pages:
 * malloc maps a block this size on its own, and 256 KB of data would
 * have taken a 65th page for the header (1.5 %, 1.4 MB of a 1M-record
 * zone). */
#define ARENA_CHUNK_SIZE (256 * 1024 - 16 - 32)

struct arena_chunk {
    struct arena_chunk *next;
    size_t used;
    size_t size;
    _Alignas(16) unsigned char data[];
};

void arena_init(struct arena *a)
{
    a->head = NULL;
    a->total = 0;
}

static struct arena_chunk *arena_chunk_new(size_t size)
{
    struct arena_chunk *c = malloc(sizeof(*c) + size);
    if (!c) {
        fprintf(stderr, "gtmd: out of memory\n");
        abort();
    }
    c->next = NULL;
    c->used = 0;
    c->size = size;
    return c;
}

/* size octets at a multiple of align (a power of two, at most 16) in the
 * head chunk, or in a new chunk when they do not fit. Not zeroed. */
static void *arena_carve(struct arena *a, size_t size, size_t align)
{
    struct arena_chunk *h = a->head;
    size_t at = h ? (h->used + align - 1) & ~(align - 1) : 0;
    if (!h || at > h->size || h->size - at < size) {
        size_t csize = size > ARENA_CHUNK_SIZE / 4 ? size : ARENA_CHUNK_SIZE;
        struct arena_chunk *c = arena_chunk_new(csize);
        if (csize == size && h) {
            /* Big block: keep filling the current chunk afterwards. */
            c->next = h->next;
            h->next = c;
        } else {
            c->next = h;
            a->head = c;
        }
        c->used = size;
        a->total += size;
        return c->data;
    }
    h->used = at + size;
    a->total += size;
    return h->data + at;
}

void *arena_alloc(struct arena *a, size_t size)
{
    size = size ? (size + 7) & ~(size_t)7 : 8;
    void *p = arena_carve(a, size, 8);
    memset(p, 0, size);
    return p;
}

void *arena_alloc_bytes(struct arena *a, size_t size)
{
    return arena_carve(a, size ? size : 1, 1);
}

void *arena_memdup_bytes(struct arena *a, const void *src, size_t size)
{
    void *p = arena_alloc_bytes(a, size);
    if (size)
        memcpy(p, src, size);
    return p;
}

void *arena_memdup(struct arena *a, const void *src, size_t size)
{
    void *p = arena_alloc(a, size);
    if (size)
        memcpy(p, src, size);
    return p;
}

char *arena_strdup(struct arena *a, const char *s)
{
    return arena_memdup(a, s, strlen(s) + 1);
}

void arena_free(struct arena *a)
{
    struct arena_chunk *c = a->head;
    while (c) {
        struct arena_chunk *n = c->next;
        free(c);
        c = n;
    }
    a->head = NULL;
    a->total = 0;
}

void arena_adopt(struct arena *dst, struct arena *src)
{
    if (!src->head)
        return;
    struct arena_chunk *last = src->head;
    while (last->next)
        last = last->next;
    /* After dst's head: dst keeps filling the chunk it was filling. */
    if (dst->head) {
        last->next = dst->head->next;
        dst->head->next = src->head;
    } else {
        dst->head = src->head;
    }
    dst->total += src->total;
    src->head = NULL;
    src->total = 0;
}

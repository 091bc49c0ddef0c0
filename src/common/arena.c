/*
 * arena.c -- bump allocator.
 */
#include "common/arena.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define ARENA_CHUNK_SIZE (256 * 1024)

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

void *arena_alloc(struct arena *a, size_t size)
{
    size = (size + 15) & ~(size_t)15;
    if (size == 0)
        size = 16;
    if (!a->head || a->head->size - a->head->used < size) {
        size_t csize = size > ARENA_CHUNK_SIZE / 4 ? size : ARENA_CHUNK_SIZE;
        struct arena_chunk *c = arena_chunk_new(csize);
        if (csize == size && a->head) {
            /* Big block: keep filling the current chunk afterwards. */
            c->next = a->head->next;
            a->head->next = c;
        } else {
            c->next = a->head;
            a->head = c;
        }
        c->used = size;
        a->total += size;
        memset(c->data, 0, size);
        return c->data;
    }
    void *p = a->head->data + a->head->used;
    a->head->used += size;
    a->total += size;
    memset(p, 0, size);
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

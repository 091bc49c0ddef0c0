/*
 * serve_bind.c -- the policy bindings of a set's zone nodes (serve_bind.h).
 */
#include "serve/serve_bind.h"

#include <stdlib.h>

#include "common/bigalloc.h"

void serve_bind_init(struct serve_bind *t, size_t n)
{
    uint32_t size = 16;
    while (size < 2 * n + 1)
        size *= 2;
    t->nodes = bigalloc_table(size, sizeof(*t->nodes)); /* probed before set */
    /* Read only where nodes has the node: written before it is read. */
    t->binding = calloc(size, sizeof(*t->binding));
    if (!t->binding)
        abort();
    t->mask = size - 1;
    t->n = 0;
}

void serve_bind_put(struct serve_bind *t, const struct zone_node *n, const struct policy_binding *b)
{
    if (!t->nodes || 2 * (t->n + 1) > t->mask) { /* never at load: sized for every record */
        struct serve_bind big = {0};
        serve_bind_init(&big, 2 * t->n + 8);
        for (uint32_t i = 0; t->nodes && i <= t->mask; i++)
            if (t->nodes[i])
                serve_bind_put(&big, t->nodes[i], t->binding[i]);
        serve_bind_free(t);
        *t = big;
    }
    uint32_t i = serve_bind_hash(n) & t->mask;
    while (t->nodes[i] && t->nodes[i] != n)
        i = (i + 1) & t->mask;
    if (!t->nodes[i])
        t->n++;
    t->nodes[i] = n;
    t->binding[i] = b;
}

void serve_bind_free(struct serve_bind *t)
{
    free(t->nodes);
    free(t->binding);
    *t = (struct serve_bind){0};
}

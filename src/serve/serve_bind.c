/*
 * serve_bind.c -- the policy bindings of a set's zone nodes (serve_bind.h).
 */
#include "serve/serve_bind.h"

#include <stdlib.h>

#include "common/bigalloc.h"

void serve_bind_init(struct serve_bind *t, size_t n, struct bigalloc_spare *spare)
{
    uint32_t size = 16;
    while (size < 2 * n + 1)
        size *= 2;
    t->spare = spare;
    /* Probed before set. binding is read only where nodes has the node
     * (written before it is read), but zero all the same: no fault later. */
    t->nodes = bigalloc_table_take(spare, size, sizeof(*t->nodes), &t->nodes_len);
    t->binding = bigalloc_table_take(spare, size, sizeof(*t->binding), &t->binding_len);
    t->mask = size - 1;
    t->n = 0;
}

void serve_bind_put(struct serve_bind *t, const struct zone_node *n, const struct policy_binding *b)
{
    if (!t->nodes || 2 * (t->n + 1) > t->mask) { /* never at load: sized for every record */
        struct serve_bind big = {0};
        serve_bind_init(&big, 2 * t->n + 8, t->spare);
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
    bigalloc_table_give(t->spare, (void *)t->nodes, t->nodes_len);
    bigalloc_table_give(t->spare, (void *)t->binding, t->binding_len);
    *t = (struct serve_bind){0};
}

/*
 * test_serve_bind.c -- the table of a served set's bindings (serve_bind.c):
 * a table carried from the running set's (serve_bind_carry) finds exactly
 * the bindings it was given for the nodes kept, none for the nodes left
 * out (their slots emptied without breaking other nodes' probe runs), and
 * a table sized otherwise is refused untouched.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "serve/serve_bind.h"
#include "tap.h"

#define TB_N 3000
#define TB_POOL 200000

static void test_carry(struct tap *t)
{
    /* Nodes picked at random from a larger array: consecutive ones hash
     * without a single collision (Fibonacci hashing of a sequence), and
     * the test is about the probe runs collisions make. */
    struct zone_node *pool = calloc(TB_POOL, sizeof(*pool)), **nodes = calloc(TB_N, sizeof(*nodes));
    if (!pool || !nodes)
        abort();
    srand(38);
    for (size_t k = 0; k < TB_N;) {
        struct zone_node *z = &pool[(size_t)rand() % TB_POOL];
        if (!z->flags) {
            z->flags = ZONE_NODE_POLICY_A;
            nodes[k++] = z;
        }
    }
    struct policy_binding *old = calloc(TB_N, sizeof(*old)), *now = calloc(TB_N, sizeof(*now));
    uint32_t *to = malloc(TB_N * sizeof(*to)), *carried = calloc(TB_N, sizeof(*carried));
    if (!nodes || !old || !now || !to || !carried)
        abort();
    struct serve_bind prev = {0}, next = {0};
    serve_bind_init(&prev, TB_N, old, NULL);
    for (size_t k = 0; k < TB_N; k++)
        serve_bind_put(&prev, nodes[k], &old[k]);
    size_t displaced = 0;
    for (uint32_t k = 0; k <= prev.mask; k++)
        displaced += prev.nodes[k] && (serve_bind_hash(prev.nodes[k]) & prev.mask) != k;
    /* A third of the nodes left out (a change removed their records), the
     * others moved to other bindings (the new set's order). */
    size_t kept = 0;
    for (size_t k = 0; k < TB_N; k++)
        to[k] = rand() % 3 == 0 ? UINT32_MAX : (uint32_t)((k * 7 + 11) % TB_N);
    for (size_t k = 0; k < TB_N; k++)
        kept += to[k] != UINT32_MAX;
    serve_bind_init(&next, TB_N, now, NULL);
    size_t n = serve_bind_carry(&next, &prev, to, TB_N, carried);
    bool all = n == kept && next.n == kept;
    for (size_t k = 0; k < TB_N && all; k++) {
        const struct policy_binding *b = serve_bind_get(&next, nodes[k]);
        all = to[k] == UINT32_MAX ? b == NULL : b == &now[to[k]] && carried[to[k]];
        if (!all)
            printf("# node %zu: %p, want %u\n", k, (const void *)b, to[k]);
    }
    TAP_CHECK(t, all && displaced > 100,
              "carried: %zu of %d nodes (%zu off their home slot), each at its new binding, the "
              "others gone",
              n, TB_N, displaced);
    all = true;
    for (size_t k = 0; k < TB_N && all; k++)
        all = serve_bind_get(&prev, nodes[k]) == &old[k];
    TAP_CHECK(t, all, "the running set's table is as it was");
    /* A node put afterwards is found, and so is every other. */
    struct zone_node extra = {.flags = ZONE_NODE_POLICY_A};
    serve_bind_put(&next, &extra, &now[0]);
    TAP_CHECK(t, serve_bind_get(&next, &extra) == &now[0] && next.n == kept + 1,
              "a binding put after the carry is found");
    struct serve_bind big = {0};
    serve_bind_init(&big, 10 * TB_N, now, NULL);
    memset(carried, 0, TB_N * sizeof(*carried));
    TAP_CHECK(t,
              serve_bind_carry(&big, &prev, to, TB_N, carried) == SIZE_MAX && big.n == 0 &&
                  serve_bind_get(&big, nodes[1]) == NULL,
              "a table sized otherwise is refused untouched");
    serve_bind_free(&big);
    serve_bind_free(&next);
    serve_bind_free(&prev);
    free(nodes);
    free(pool);
    free(old);
    free(now);
    free(to);
    free(carried);
}

int main(void)
{
    struct tap t = {0, 0};
    test_carry(&t);
    return tap_done(&t);
}

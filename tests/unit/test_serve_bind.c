/*
 * test_serve_bind.c -- the table of a served set's bindings (serve_bind.c):
 * a table carried from the running set's (serve_bind_carry) finds exactly
 * the bindings it was given for the nodes kept, none for the nodes left
 * out (their slots emptied without breaking other nodes' probe runs), and
 * a table sized otherwise is refused untouched. Shared tables
 * (serve_bind_share, issue #55): a reader holding an old version sees it
 * whole while a thousand changes pass, a put on a shared table copies it
 * first, and the tables are freed when the last holder leaves (ASan's leak
 * check and TSan's race check in those builds).
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "serve/serve_bind.h"
#include "tap.h"

#define TB_N 3000
#define TB_POOL 200000

/* A set's chunks of bindings (gslb.bchunks) for n of them, zeroed. */
static struct gslb_bchunk **tb_chunks(size_t n)
{
    size_t k = (n + GSLB_CHUNK - 1) / GSLB_CHUNK;
    struct gslb_bchunk **t = calloc(k, sizeof(*t));
    for (size_t i = 0; t && i < k; i++)
        if (!(t[i] = calloc(1, sizeof(*t[i]))))
            abort();
    if (!t)
        abort();
    return t;
}

static void tb_chunks_free(struct gslb_bchunk **t, size_t n)
{
    for (size_t i = 0; i < (n + GSLB_CHUNK - 1) / GSLB_CHUNK; i++)
        free(t[i]);
    free(t);
}

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
    struct gslb_bchunk **old = tb_chunks(TB_N), **now = tb_chunks(TB_N);
    uint32_t *to = malloc(TB_N * sizeof(*to)), *carried = calloc(TB_N, sizeof(*carried));
    if (!nodes || !old || !now || !to || !carried)
        abort();
    struct serve_bind prev = {0}, next = {0};
    serve_bind_init(&prev, TB_N, old, NULL);
    for (size_t k = 0; k < TB_N; k++)
        serve_bind_put(&prev, nodes[k], (uint32_t)k);
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
        all =
            to[k] == UINT32_MAX ? b == NULL : b == policy_binding_at(now, to[k]) && carried[to[k]];
        if (!all)
            printf("# node %zu: %p, want %u\n", k, (const void *)b, to[k]);
    }
    TAP_CHECK(t, all && displaced > 100,
              "carried: %zu of %d nodes (%zu off their home slot), each at its new binding, the "
              "others gone",
              n, TB_N, displaced);
    all = true;
    for (size_t k = 0; k < TB_N && all; k++)
        all = serve_bind_get(&prev, nodes[k]) == policy_binding_at(old, k);
    TAP_CHECK(t, all, "the running set's table is as it was");
    /* A node put afterwards is found, and so is every other. */
    struct zone_node extra = {.flags = ZONE_NODE_POLICY_A};
    serve_bind_put(&next, &extra, 0);
    TAP_CHECK(t, serve_bind_get(&next, &extra) == policy_binding_at(now, 0) && next.n == kept + 1,
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
    tb_chunks_free(old, TB_N);
    tb_chunks_free(now, TB_N);
    free(to);
    free(carried);
}

#define TS_CHANGES 1000

/* The version a reader took, read whole until the writer is done. */
struct ts_reader {
    const struct serve_bind *v;
    struct zone_node **nodes;
    struct gslb_bchunk *const *base;
    atomic_bool done;
    size_t rounds, wrong;
};

static void *ts_read(void *arg)
{
    struct ts_reader *r = arg;
    /* At least two rounds: one may end before the writer starts. */
    while (!atomic_load(&r->done) || r->rounds < 2) {
        for (size_t k = 0; k < TB_N; k++)
            r->wrong += serve_bind_get(r->v, r->nodes[k]) != policy_binding_at(r->base, k);
        r->rounds++;
    }
    return NULL;
}

static void test_share(struct tap *t)
{
    struct zone_node *pool = calloc(TB_N, sizeof(*pool)), **nodes = calloc(TB_N, sizeof(*nodes));
    /* Two arrays of bindings, swapped by each change: a set's own base. */
    struct gslb_bchunk **b0 = tb_chunks(TB_N), **b1 = tb_chunks(TB_N);
    if (!pool || !nodes || !b0 || !b1)
        abort();
    for (size_t k = 0; k < TB_N; k++) {
        pool[k].flags = ZONE_NODE_POLICY_A;
        nodes[k] = &pool[k];
    }
    struct serve_bind v0 = {0}, cur = {0};
    serve_bind_init(&v0, TB_N, b0, NULL);
    for (size_t k = 0; k < TB_N; k++)
        serve_bind_put(&v0, nodes[k], (uint32_t)k);
    struct ts_reader r = {&v0, nodes, b0, false, 0, 0};
    atomic_init(&r.done, false);
    pthread_t th;
    if (pthread_create(&th, NULL, ts_read, &r) != 0)
        abort();
    /* The writer: each change shares the running version's table with its
     * own base, every tenth moves a node to another binding (a put: the
     * table is copied first, as another version holds it), and the
     * replaced version is released, as the dropper does. */
    serve_bind_share(&cur, &v0, b1);
    size_t copies = 0, wrong = 0;
    for (size_t c = 1; c <= TS_CHANGES; c++) {
        struct serve_bind next = {0};
        struct gslb_bchunk *const *base = c % 2 ? b0 : b1;
        serve_bind_share(&next, &cur, base);
        if (c % 10 == 0) {
            const uint32_t *was = next.binding;
            size_t k = (c * 31) % TB_N;
            serve_bind_put(&next, nodes[k], (uint32_t)((k + 1) % TB_N));
            copies += next.binding != was;
            wrong += serve_bind_get(&cur, nodes[k]) == serve_bind_get(&next, nodes[k]);
            was = next.binding;
            serve_bind_put(&next, nodes[k], (uint32_t)k); /* back: own now, written in place */
            copies += next.binding != was;
        }
        serve_bind_free(&cur);
        cur = next;
    }
    atomic_store(&r.done, true);
    pthread_join(th, NULL);
    TAP_CHECK(t, r.wrong == 0 && r.rounds >= 2,
              "a reader of the first version read it whole %zu times while %d changes passed",
              r.rounds, TS_CHANGES);
    TAP_CHECK(t, copies == TS_CHANGES / 10 && wrong == 0,
              "a put on a shared table copied it (%zu copies), the other holder unchanged", copies);
    bool all = true;
    for (size_t k = 0; k < TB_N && all; k++)
        all = serve_bind_get(&cur, nodes[k]) == policy_binding_at(TS_CHANGES % 2 ? b0 : b1, k);
    TAP_CHECK(t, all && atomic_load(v0.refs) == 1 && atomic_load(cur.refs) == 1,
              "the last version finds every binding in its base; each table held once");
    serve_bind_free(&v0); /* the last holder: its table freed (ASan's leak check) */
    serve_bind_free(&cur);
    TAP_CHECK(t, !v0.nodes && !v0.refs && !cur.nodes, "released by the last holder");
    free(pool);
    free(nodes);
    tb_chunks_free(b0, TB_N);
    tb_chunks_free(b1, TB_N);
}

int main(void)
{
    struct tap t = {0, 0};
    test_carry(&t);
    test_share(&t);
    return tap_done(&t);
}

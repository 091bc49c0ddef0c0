/*
 * fuzz_packet.c -- libFuzzer target for the whole per-query path (parse,
 * lookup, policy evaluation, encode) over UDP and TCP limits.
 *
 * The snapshot is the test zones plus the policy set of
 * tests/data/fuzz-policy.conf.json (failover with spill, weighted, hashed
 * selection whose answer depends on ECS or the client address, a CNAME
 * pool, fallback and empty answers, a policy name in a child zone), loaded
 * through the daemon's own loader with a health core, so every endpoint has
 * its health slot. Input: a DNS message. Its ID (the first two octets, which
 * the parser ignores) also sets the endpoints' health (bit i % 16 down,
 * else up; with bit 15, every third endpoint unknown), the random state of
 * weighted selection and the client address, so one input always gives the
 * same answer and the fuzzer explores health combinations with the query.
 * Seeds: tests/fuzz/corpus/packet (tests/fuzz/make_corpus.py).
 *
 * Checked with abort(): a UDP reply fits the limit, a TCP reply fits 65535
 * octets, a reply is a response with the query's ID.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "answer/query.h"
#include "answer/xfr_out.h"
#include "common/errlist.h"
#include "control/config.h"
#include "fuzz_check.h"
#include "daemon/load.h"
#include "health/health.h"
#include "policy/policy.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FUZZ_UDP_MAX 1232

/* Built once per fuzzing process; never freed (the process ends). */
struct fuzz_env {
    struct health_core core;
    struct serve_set *set;
    struct health_slot **slots; /* every endpoint's slot, pool by pool */
    size_t n_slots;
};

static void fuzz_packet_fail(struct errlist *e, const char *what)
{
    for (size_t i = 0; i < e->count; i++)
        fprintf(stderr, "%s\n", e->msgs[i]);
    fprintf(stderr, "fuzz_packet: %s (set GTM_FUZZ_DATA to tests/data)\n", what);
    abort();
}

static struct fuzz_env *fuzz_packet_env(void)
{
    static struct fuzz_env env;
    if (env.set)
        return &env;
    const char *dir = getenv("GTM_FUZZ_DATA");
    char path[4096];
    struct errlist e;
    errlist_init(&e);
    snprintf(path, sizeof(path), "%s/fuzz-policy.conf.json", dir ? dir : "tests/data");
    struct config *cfg = config_load(path, &e);
    if (!cfg)
        fuzz_packet_fail(&e, "cannot load the policy config");
    health_core_init(&env.core);
    env.set = load_set(cfg, 1, &env.core, NULL, &e);
    if (!env.set)
        fuzz_packet_fail(&e, "cannot build the served set");
    config_free(cfg);
    errlist_free(&e);
    if (env.set->limits.edns_udp_max != FUZZ_UDP_MAX)
        abort(); /* the config keeps the default */
    const struct gslb *g = env.set->gslb;
    for (size_t i = 0; i < g->n_pools; i++)
        env.n_slots += g->pools[i].n_eps;
    env.slots = calloc(env.n_slots, sizeof(*env.slots));
    if (!env.slots)
        abort();
    size_t k = 0;
    for (size_t i = 0; i < g->n_pools; i++)
        for (size_t j = 0; j < g->pools[i].n_eps; j++)
            if ((env.slots[k++] = g->pools[i].eps[j].slot) == NULL)
                abort(); /* the loader maps every endpoint */
    return &env;
}

/* The endpoints' probe states, from the query ID. */
static void fuzz_packet_health(struct fuzz_env *env, uint16_t id)
{
    for (size_t i = 0; i < env->n_slots; i++) {
        enum health_state st = (id >> (i % 16)) & 1 ? HEALTH_DOWN : HEALTH_UP;
        if ((id & 0x8000) && i % 3 == 0)
            st = HEALTH_UNKNOWN;
        health_restore(env->slots[i], st, 0);
    }
}

static void fuzz_packet_check(const uint8_t *q, size_t qlen, const uint8_t *r, size_t n, size_t max)
{
    if (n > max)
        abort();
    if (n == 0)
        return;
    /* Every reply is a response carrying the query's ID. */
    if (n < 12 || qlen < 12 || r[0] != q[0] || r[1] != q[1] || !(r[2] & 0x80))
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static uint8_t out[65536];
    struct fuzz_env *env = fuzz_packet_env();
    uint16_t id = size >= 2 ? (uint16_t)(data[0] << 8 | data[1]) : 0;
    uint64_t rng = 42 + id;
    struct sockaddr_storage v4 = {0}, v6 = {0};
    struct sockaddr_in *a4 = (struct sockaddr_in *)&v4;
    struct sockaddr_in6 *a6 = (struct sockaddr_in6 *)&v6;
    a4->sin_family = AF_INET;
    a4->sin_addr.s_addr = htonl(0xc0000200u | (id & 0xff)); /* 192.0.2.x */
    a6->sin6_family = AF_INET6;
    a6->sin6_addr.s6_addr[0] = 0x20;
    a6->sin6_addr.s6_addr[1] = 0x01;
    a6->sin6_addr.s6_addr[6] = (uint8_t)(id >> 8);
    a6->sin6_addr.s6_addr[7] = (uint8_t)id;
    fuzz_packet_health(env, id);

    struct query_client qc = {.addr = &v4, .rng = &rng};
    size_t n = query_answer(env->set, &qc, data, size, out, false);
    fuzz_packet_check(data, size, out, n, FUZZ_UDP_MAX);
    qc.addr = &v6;
    static struct answer_xfr xfr;
    qc.xfr = &xfr; /* an allowed AXFR/IXFR over TCP begins a transfer */
    xfr.start = false;
    n = query_answer(env->set, &qc, data, size, out, true);
    fuzz_packet_check(data, size, out, n, 65535);
    /* The whole transfer, message by message: bounded by the zone. */
    for (unsigned m = 0; xfr.start && m < 100000; m++) {
        n = answer_xfr_next(&xfr, env->set, out, 1795000000u);
        FUZZ_CHECK(n <= 65535);
        if (n == 0) {
            FUZZ_CHECK(answer_xfr_done(&xfr)); /* no stop before the last SOA */
            break;
        }
    }
    qc.xfr = NULL;
    qc.addr = NULL; /* no source address at all (explain) */
    n = query_answer(env->set, &qc, data, size, out, false);
    fuzz_packet_check(data, size, out, n, FUZZ_UDP_MAX);
    return 0;
}

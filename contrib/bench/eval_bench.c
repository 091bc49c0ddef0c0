/*
 * eval_bench.c -- the cost of policy_eval (the query path's policy step),
 * in ns per evaluation, with health slots set by hand (no network, no
 * workers): failover, weighted and hashed records over 3 regions of 2
 * endpoints, each asked for 256 client /24s given in ECS.
 *
 * Built against a tree's libgtm.a (eval_bench.sh builds it for two trees
 * and interleaves the runs). With -DWITH_DIALS it can also put a 30 %
 * dial on the first region ("dial" argument), to show what a dial costs
 * the clients of the records that meet it.
 *
 * Usage: eval_bench [ROUNDS] [EVALS] [dial]
 */
#include <jansson.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/errlist.h"
#include "common/jsoncfg.h"
#include "dns/dns.h"
#include "health/health.h"
#include "health/override.h"
#include "policy/policy_config.h"
#include "policy/policy_eval.h"

static const char *CONF =
    "{\"regions\": {\"r0\": {}, \"r1\": {}, \"r2\": {}},"
    " \"pools\": {\"web\": {\"endpoints\": ["
    "  {\"name\": \"a0\", \"address\": \"192.0.2.1\", \"region\": \"r0\", \"az\": \"z0\"},"
    "  {\"name\": \"b0\", \"address\": \"192.0.2.2\", \"region\": \"r0\", \"az\": \"z1\"},"
    "  {\"name\": \"a1\", \"address\": \"192.0.2.3\", \"region\": \"r1\"},"
    "  {\"name\": \"b1\", \"address\": \"192.0.2.4\", \"region\": \"r1\"},"
    "  {\"name\": \"a2\", \"address\": \"192.0.2.5\", \"region\": \"r2\"},"
    "  {\"name\": \"b2\", \"address\": \"192.0.2.6\", \"region\": \"r2\"}]}},"
    " \"records\": {"
    "  \"fo.example.com.\": {\"pool\": \"web\", \"policy\": \"failover\","
    "   \"regions\": [\"r0\", \"r1\", \"r2\"], \"answers\": 1, \"select\": \"weighted\"},"
    "  \"wt.example.com.\": {\"pool\": \"web\", \"policy\": \"weighted\"},"
    "  \"hs.example.com.\": {\"pool\": \"web\", \"policy\": \"all\", \"select\": \"hashed\","
    "   \"answers\": 1}}}";

static double now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

int main(int argc, char **argv)
{
    int rounds = argc > 1 ? atoi(argv[1]) : 5;
    long evals = argc > 2 ? atol(argv[2]) : 3000000;
    struct errlist e;
    errlist_init(&e);
    struct jsoncfg j = {.errs = &e, .file = "bench.json", .dir = "."};
    json_t *root = json_loads(CONF, 0, NULL);
    const char *origins[] = {"example.com."};
    struct gslb *g = policy_config_parse(&j, root, origins, 1);
    if (e.count) {
        fprintf(stderr, "config: %s\n", e.msgs[0]);
        return 1;
    }
    struct health_core core;
    health_core_init(&core);
    gslb_map_health(g, &core);
    for (size_t k = 0; k < g->pools[0].n_eps; k++)
        health_restore(g->pools[0].eps[k].slot, HEALTH_UP, 0);
#ifdef WITH_DIALS
    if (argc > 3 && strcmp(argv[3], "dial") == 0) {
        char id[32];
        override_add_dial(&core, "region:r0", HEALTH_DOWN, 3000, 1, "bench", "bench", 0, id);
    }
#endif
    struct sockaddr_storage ss;
    memset(&ss, 0, sizeof(ss));
    ss.ss_family = AF_INET;
    struct dns_ecs ecs[256];
    for (int i = 0; i < 256; i++) {
        memset(&ecs[i], 0, sizeof(ecs[i]));
        ecs[i].present = true;
        ecs[i].family = 1;
        ecs[i].source_prefix = 24;
        ecs[i].addr[0] = 100;
        ecs[i].addr[1] = 64;
        ecs[i].addr[2] = (uint8_t)i;
    }
    uint64_t rng = 88172645463325252ULL, sink = 0;
    for (int r = 0; r < rounds; r++) {
        double t0 = now_ns();
        for (long i = 0; i < evals; i++) {
            struct policy_client c = {.addr = &ss, .ecs = &ecs[i & 255], .rng = &rng};
            struct policy_result out;
            policy_eval(g, gslb_rec(g, i % 3), DNS_TYPE_A, &c, &out);
            sink += (uint64_t)out.n + out.ecs_scope + (uint64_t)out.serving_region;
        }
        printf("round %d: %.1f ns/eval\n", r, (now_ns() - t0) / (double)evals);
    }
    fprintf(stderr, "sink %llu\n", (unsigned long long)sink);
    gslb_unref(g);
    health_core_free(&core);
    json_decref(root);
    errlist_free(&e);
    return 0;
}

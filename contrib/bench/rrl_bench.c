/*
 * rrl_bench.c -- the CPU cost of the query path with and without response
 * rate limiting (and with DNS Cookies in the queries), measured in-process
 * on the benchmark zone and query file that contrib/bench/gen_zone.py
 * writes: no sockets, no system calls, so the noise of a shared machine
 * that dominates a dnsperf run affects it much less. Built by
 * `make contrib/bench/rrl_bench`; run by contrib/bench/rrl_bench.sh.
 *
 *   rrl_bench ZONE QUERIES [ROUNDS [SECONDS [RRL]]]
 *
 * RRL is the "rrl" section to measure (default {"rate": 1000000}).
 * Every round measures each variant for SECONDS of CPU time (default 1,
 * CLOCK_THREAD_CPUTIME_ID) over the
 * query list (with EDNS, as dnsperf -e sends), in turn; the median and the
 * spread of the rounds are printed, and the ratio of each variant to the
 * one without RRL. RRL runs with a rate no key reaches (traffic under the
 * limit), from one client address as dnsperf's would be.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "answer/query.h"
#include "common/errlist.h"
#include "control/config.h"
#include "daemon/load.h"
#include "dns/msg_build.h"
#include "dns/name.h"
#include "dns/rrtype.h"
#include "guard/rrl.h"
#include "serve/serve_set.h"

#include "bench_queries.h"

#define BENCH_VARIANTS 3

/* A served set for zone, with the given extra top-level keys. */
static struct serve_set *bench_set(const char *zone, const char *extra)
{
    char path[] = "/tmp/gtmd-rrl-bench-XXXXXX";
    int fd = mkstemp(path);
    FILE *f = fd >= 0 ? fdopen(fd, "w") : NULL;
    if (!f)
        abort();
    fprintf(f,
            "{\"listen\": [\"127.0.0.1:53\"], \"zones\": [{\"origin\": \"bench.test.\", "
            "\"file\": \"%s\"}]%s}",
            zone, extra);
    fclose(f);
    struct errlist errs;
    errlist_init(&errs);
    struct config *cfg = config_load(path, &errs);
    struct serve_set *s = cfg ? load_set(cfg, 1, NULL, NULL, &errs) : NULL;
    for (size_t i = 0; i < errs.count; i++)
        fprintf(stderr, "%s\n", errs.msgs[i]);
    config_free(cfg);
    errlist_free(&errs);
    unlink(path);
    if (!s)
        exit(1);
    return s;
}

/* Queries answered per CPU-second over about seconds of CPU time, through
 * the whole query path (parse, cookie, lookup, rate limiting, encode). */
static double bench_run(const struct serve_set *s, const struct bench_query *qs, size_t n,
                        double seconds, size_t *sent)
{
    static uint8_t out[65535];
    struct sockaddr_storage addr;
    struct sockaddr_in *a = (struct sockaddr_in *)&addr;
    struct rrl_thread th = {0};
    uint64_t rng = 42, done = 0;
    memset(&addr, 0, sizeof(addr));
    a->sin_family = AF_INET;
    a->sin_addr.s_addr = htonl(0x7f000001);
    struct query_client qc = {.addr = &addr, .rng = &rng, .rrl = &th};
    double t0 = bench_cpu(), t = t0;
    while (t - t0 < seconds) {
        qc.now_mono = (uint32_t)time(NULL);
        qc.now_wall = (uint32_t)time(NULL);
        *sent = 0; /* replies of the last pass over the list */
        for (size_t i = 0; i < n; i++)
            *sent += query_answer(s, &qc, qs[i].wire, qs[i].len, out, false) > 0;
        done += n;
        t = bench_cpu();
    }
    return (double)done / (t - t0);
}

int main(int argc, char **argv)
{
    if (argc < 3) {
        fprintf(stderr, "usage: rrl_bench ZONE QUERIES [ROUNDS [SECONDS [RRL]]]\n");
        return 2;
    }
    int rounds;
    double seconds;
    bench_args(argc, argv, &rounds, &seconds);
    static struct bench_query plain[BENCH_MAX_QUERIES], cookied[BENCH_MAX_QUERIES];
    size_t n = bench_read_queries(argv[2], plain, false);
    size_t nc = bench_read_queries(argv[2], cookied, true);
    if (n == 0 || nc != n) {
        fprintf(stderr, "rrl_bench: no queries in %s\n", argv[2]);
        return 1;
    }
    const char *rrl = argc > 5 ? argv[5] : "{\"rate\": 1000000}";
    char with_rrl[512], with_cookies[512];
    snprintf(with_rrl, sizeof(with_rrl), ", \"cookies\": false, \"rrl\": %s", rrl);
    snprintf(with_cookies, sizeof(with_cookies), ", \"rrl\": %s", rrl);
    static const char *const names[BENCH_VARIANTS] = {"no rrl", "rrl", "rrl + client cookies"};
    struct serve_set *sets[BENCH_VARIANTS] = {bench_set(argv[1], ", \"cookies\": false"),
                                              bench_set(argv[1], with_rrl),
                                              bench_set(argv[1], with_cookies)};
    const struct bench_query *q[BENCH_VARIANTS] = {plain, plain, cookied};
    double qps[BENCH_VARIANTS][BENCH_MAX_ROUNDS];
    size_t sent[BENCH_VARIANTS];
    printf("%zu queries, %d rounds of %.1f s per variant, interleaved; rrl %s\n", n, rounds,
           seconds, rrl);
    for (int r = 0; r < rounds; r++)
        for (int v = 0; v < BENCH_VARIANTS; v++) {
            int k = (v + r) % BENCH_VARIANTS; /* rotate the order each round */
            qps[k][r] = bench_run(sets[k], q[k], n, seconds, &sent[k]);
        }
    double base = 0;
    for (int v = 0; v < BENCH_VARIANTS; v++) {
        double sorted[BENCH_MAX_ROUNDS];
        memcpy(sorted, qps[v], sizeof(double) * (size_t)rounds);
        qsort(sorted, (size_t)rounds, sizeof(double), bench_cmp);
        double med = sorted[rounds / 2];
        if (v == 0)
            base = med;
        printf("%-22s median %9.0f q/cpu-s (%.0f ns/query)  min %9.0f  max %9.0f  x%.3f  "
               "replies %zu/%zu\n",
               names[v], med, 1e9 / med, sorted[0], sorted[rounds - 1], med / base, sent[v], n);
    }
    for (int v = 0; v < BENCH_VARIANTS; v++)
        serve_set_free(sets[v]);
    return 0;
}

/*
 * bench_queries.h -- what the in-process benchmarks (rrl_bench.c,
 * dnstap_cpu.c) share: the query list of gen_zone.py as wire queries
 * with an OPT (as dnsperf -e sends them), CPU time, and sorting for the
 * median. Header-only: each harness is one program.
 */
#ifndef GTM_BENCH_QUERIES_H
#define GTM_BENCH_QUERIES_H

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "dns/msg_build.h"
#include "dns/name.h"
#include "dns/rrtype.h"

#define BENCH_MAX_QUERIES 200000
#define BENCH_MAX_ROUNDS 25

struct bench_query {
    uint8_t wire[DNS_HEADER_SIZE + DNS_MAX_NAME + 4 + 11 + 12];
    size_t len;
};

/* CPU time of clock c, in seconds. */
static inline double bench_cpu_of(clockid_t c)
{
    struct timespec ts;
    clock_gettime(c, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* This thread's CPU time: the time other processes of a shared machine
 * take from us is not counted (their use of the caches still is). */
static inline double bench_cpu(void)
{
    return bench_cpu_of(CLOCK_THREAD_CPUTIME_ID);
}

/* Reads "NAME TYPE" lines into wire queries with an OPT (1232); with a
 * client cookie when cookie is set. */
static inline size_t bench_read_queries(const char *path, struct bench_query *qs, bool cookie)
{
    FILE *f = fopen(path, "r");
    char name[300], type[32];
    size_t n = 0;
    static const uint8_t client[8] = {1, 2, 3, 4, 5, 6, 7, 8};
    while (f && n < BENCH_MAX_QUERIES && fscanf(f, "%299s %31s", name, type) == 2) {
        struct dns_name dn;
        uint16_t t = dns_type_from_name(type);
        if (!dns_name_from_str(name, &dn) || t == 0)
            continue;
        struct dns_opt opt = {.payload = 1232};
        if (cookie) {
            opt.cookie = client;
            opt.cookie_len = 8;
        }
        struct dns_msg_query q = {.id = (uint16_t)n,
                                  .flags = 0,
                                  .qname = &dn,
                                  .qtype = t,
                                  .qclass = DNS_CLASS_IN,
                                  .opt = &opt};
        qs[n].len = dns_msg_build_query(&q, qs[n].wire, sizeof(qs[n].wire));
        if (qs[n].len)
            n++;
    }
    if (f)
        fclose(f);
    return n;
}

/* ROUNDS (default 7, at most BENCH_MAX_ROUNDS) and SECONDS (default 1)
 * from argv[3] and argv[4]. */
static inline void bench_args(int argc, char **argv, int *rounds, double *seconds)
{
    *rounds = argc > 3 ? atoi(argv[3]) : 7;
    *seconds = argc > 4 ? atof(argv[4]) : 1.0;
    if (*rounds < 1 || *rounds > BENCH_MAX_ROUNDS)
        *rounds = 7;
}

static inline int bench_cmp(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

#endif

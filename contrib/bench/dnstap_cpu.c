/*
 * dnstap_cpu.c -- the CPU cost of dnstap on the query path, in-process:
 * the benchmark zone and queries (contrib/bench/gen_zone.py) answered
 * through the whole query path, with every query and response logged as
 * a worker logs them (a clock reading, two packed frames queued) to a
 * dnstap writer thread writing to /dev/null, against the same without
 * dnstap. The CPU time is the process's (CLOCK_PROCESS_CPUTIME_ID): the
 * writer thread's work counts. No sockets: a real query also costs its
 * receive and send system calls, which this leaves out, so the ratio here
 * is the worst case of what dnstap costs per answer. Built by `make
 * contrib/bench/dnstap_cpu`; run by contrib/bench/dnstap_cpu.sh (pinned to
 * one core, writer thread included).
 *
 *   dnstap_cpu ZONE QUERIES [ROUNDS [SECONDS [SAMPLE]]]
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
#include "dnstap/dnstap.h"
#include "serve/serve_set.h"

#include "bench_queries.h"

static struct config *bench_config(const char *zone, unsigned sample)
{
    char path[] = "/tmp/gtmd-dnstap-bench-XXXXXX";
    int fd = mkstemp(path);
    FILE *f = fd >= 0 ? fdopen(fd, "w") : NULL;
    if (!f)
        abort();
    fprintf(f,
            "{\"listen\": [\"127.0.0.1:53\"], \"zones\": [{\"origin\": \"bench.test.\", "
            "\"file\": \"%s\"}], \"dnstap\": {\"file\": \"/dev/null\", \"sample\": %u}}",
            zone, sample);
    fclose(f);
    struct errlist errs;
    errlist_init(&errs);
    struct config *cfg = config_load(path, &errs);
    for (size_t i = 0; i < errs.count; i++)
        fprintf(stderr, "%s\n", errs.msgs[i]);
    errlist_free(&errs);
    unlink(path);
    if (!cfg)
        exit(1);
    return cfg;
}

struct bench_tap {
    struct dnstap_queue *q; /* NULL: dnstap off */
    uint32_t count;
    uint64_t logged;
};

/* Answers per CPU-second over about seconds of CPU time; with tap->q,
 * each query sampled by the view is logged as worker_answer logs it. */
static double bench_run(const struct serve_set *s, const struct bench_query *qs, size_t n,
                        double seconds, struct bench_tap *tap)
{
    static uint8_t out[65535];
    struct sockaddr_storage addr, local;
    struct sockaddr_in *a = (struct sockaddr_in *)&addr;
    uint64_t rng = 42, done = 0;
    memset(&addr, 0, sizeof(addr));
    a->sin_family = AF_INET;
    a->sin_addr.s_addr = htonl(0x7f000001);
    a->sin_port = htons(40000);
    local = addr;
    ((struct sockaddr_in *)&local)->sin_port = htons(53);
    struct query_client qc = {.addr = &addr, .rng = &rng};
    double t0 = bench_cpu_of(CLOCK_PROCESS_CPUTIME_ID), t = t0;
    while (t - t0 < seconds) {
        qc.now_mono = qc.now_wall = (uint32_t)time(NULL);
        struct timespec batch = {0};
        for (size_t i = 0; i < n; i++) {
            /* The wall clock is read once per batch of 32, as a UDP
             * worker reads it once per recvmmsg: the query time. */
            if (i % 32 == 0)
                clock_gettime(CLOCK_REALTIME, &batch);
            const struct dnstap_what *w =
                tap->q ? dnstap_view_sample(s->dnstap, 0, &tap->count) : NULL;
            size_t len = query_answer(s, &qc, qs[i].wire, qs[i].len, out, false);
            if (!w)
                continue;
            struct dnstap_event e = {.client = &addr,
                                     .local = &local,
                                     .query = qs[i].wire,
                                     .query_len = qs[i].len,
                                     .reply = out,
                                     .reply_len = len,
                                     .qtime = batch};
            dnstap_log(tap->q, s->dnstap, &e);
            clock_gettime(CLOCK_REALTIME, &e.rtime);
            e.response = true;
            dnstap_log(tap->q, s->dnstap, &e);
            tap->logged += 2;
        }
        done += n;
        t = bench_cpu_of(CLOCK_PROCESS_CPUTIME_ID);
    }
    return (double)done / (t - t0);
}

int main(int argc, char **argv)
{
    if (argc < 3) {
        fprintf(stderr, "usage: dnstap_cpu ZONE QUERIES [ROUNDS [SECONDS [SAMPLE]]]\n");
        return 2;
    }
    int rounds;
    double seconds;
    bench_args(argc, argv, &rounds, &seconds);
    unsigned sample = argc > 5 ? (unsigned)atoi(argv[5]) : 1;
    static struct bench_query qs[BENCH_MAX_QUERIES];
    size_t n = bench_read_queries(argv[2], qs, false);
    if (n == 0) {
        fprintf(stderr, "dnstap_cpu: no queries in %s\n", argv[2]);
        return 1;
    }
    struct config *cfg = bench_config(argv[1], sample ? sample : 1);
    struct errlist errs;
    errlist_init(&errs);
    struct serve_set *s = load_set(cfg, 1, NULL, NULL, &errs);
    char err[256];
    struct dnstap *dt = s ? dnstap_open(&cfg->dnstap, 1, err, sizeof(err)) : NULL;
    if (!dt) {
        fprintf(stderr, "dnstap_cpu: cannot load or open the writer\n");
        return 1;
    }
    struct dnstap_stats st;
    for (int i = 0; i < 500 && (dnstap_stats(dt, &st), !st.connected); i++)
        usleep(10000);
    struct bench_tap off = {0}, on = {.q = dnstap_queue_get(dt, 0)};
    double qps[2][BENCH_MAX_ROUNDS];
    printf("%zu queries, %d rounds of %.1f s of CPU per variant, interleaved; dnstap to "
           "/dev/null, one query in %u logged with its response\n",
           n, rounds, seconds, sample ? sample : 1);
    for (int r = 0; r < rounds; r++)
        for (int v = 0; v < 2; v++) {
            int k = (v + r) % 2;
            qps[k][r] = bench_run(s, qs, n, seconds, k ? &on : &off);
        }
    double ratio[BENCH_MAX_ROUNDS];
    for (int r = 0; r < rounds; r++)
        ratio[r] = qps[1][r] / qps[0][r];
    for (int v = 0; v < 2; v++)
        qsort(qps[v], (size_t)rounds, sizeof(double), bench_cmp);
    qsort(ratio, (size_t)rounds, sizeof(double), bench_cmp);
    for (int v = 0; v < 2; v++)
        printf("%-12s median %9.0f answers/cpu-s (%.0f ns/query)  min %9.0f  max %9.0f\n",
               v ? "dnstap on" : "dnstap off", qps[v][rounds / 2], 1e9 / qps[v][rounds / 2],
               qps[v][0], qps[v][rounds - 1]);
    dnstap_stats(dt, &st);
    printf("on/off per round: median %.3f, spread %.3f-%.3f; messages queued %llu, dropped "
           "%llu of %llu\n",
           ratio[rounds / 2], ratio[0], ratio[rounds - 1], (unsigned long long)st.queued,
           (unsigned long long)st.dropped, (unsigned long long)on.logged);
    dnstap_close(dt);
    serve_set_free(s);
    config_free(cfg);
    errlist_free(&errs);
    return 0;
}

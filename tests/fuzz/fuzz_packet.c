/*
 * fuzz_packet.c -- libFuzzer target for the whole per-query path
 * (parse, lookup, encode) over UDP and TCP limits, against the test zones.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "answer/query.h"
#include "common/errlist.h"
#include "zone/zone_load.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const struct serve_set *fuzz_set(void)
{
    static struct serve_set *set; /* built once per fuzzing process */
    if (set)
        return set;
    const char *dir = getenv("GTM_FUZZ_DATA");
    char p1[4096], p2[4096];
    struct errlist e;
    errlist_init(&e);
    snprintf(p1, sizeof(p1), "%s/example.com.zone", dir ? dir : "tests/data");
    snprintf(p2, sizeof(p2), "%s/sub.example.com.zone", dir ? dir : "tests/data");
    struct snapshot *snap = snapshot_new();
    struct zone *a = zone_load("example.com.", p1, p1, NULL, 0, &e);
    struct zone *b = zone_load("sub.example.com.", p2, p2, NULL, 0, &e);
    if (!a || !b) {
        fprintf(stderr, "fuzz: cannot load test zones (set GTM_FUZZ_DATA)\n");
        abort();
    }
    snapshot_add_zone(snap, a);
    snapshot_add_zone(snap, b);
    errlist_free(&e);
    struct serve_limits lim = {.edns_udp_max = 1232};
    set = serve_set_new(snap, NULL, 1, &lim);
    return set;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static uint8_t out[65536];
    static uint64_t rng = 42;
    struct query_client qc = {.addr = NULL, .rng = &rng};
    const struct serve_set *s = fuzz_set();
    size_t n = query_answer(s, &qc, data, size, out, false);
    if (n > 1232)
        abort(); /* a UDP reply must respect the limit */
    n = query_answer(s, &qc, data, size, out, true);
    if (n > 65535)
        abort();
    return 0;
}

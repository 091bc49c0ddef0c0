/*
 * geo_bench.c -- load time, memory and lookup speed of src/geo on a large
 * MaxMind DB (contrib/bench/gen_geo_db.pl writes a synthetic one), next to
 * libmaxminddb's own lookup of the same fields. Built by
 * `make contrib/bench/geo_bench`; run by contrib/bench/geo_bench.sh.
 *
 *   geo_bench FILE.mmdb [LOOKUPS]
 */
#include <arpa/inet.h>
#include <jansson.h>
#include <maxminddb.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/errlist.h"
#include "common/jsoncfg.h"
#include "geo/geo_db.h"
#include "geo/geo_map.h"
#include "geo/geo_merge.h"
#include "geo/geo_nearest.h"

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* VmRSS or VmHWM of this process in MiB. */
static double mem_mib(const char *field)
{
    FILE *f = fopen("/proc/self/status", "r");
    char line[256];
    double v = 0;
    size_t n = strlen(field);
    while (f && fgets(line, sizeof(line), f))
        if (strncmp(line, field, n) == 0)
            v = atof(line + n + 1) / 1024.0;
    if (f)
        fclose(f);
    return v;
}

static double mib(size_t bytes)
{
    return (double)bytes / (1024.0 * 1024.0);
}

struct addrs {
    uint8_t (*a)[16];
    unsigned *family;
    size_t n;
};

/* n addresses, fixed seed: 80% IPv4 from 1.0.0.0 to 223.255.255.255, 20%
 * IPv6 in 2400::/12, the ranges gen_geo_db.pl fills. */
static void make_addrs(struct addrs *s, size_t n)
{
    uint64_t x = 0x9e3779b97f4a7c15ull;
    s->a = calloc(n, 16);
    s->family = calloc(n, sizeof(*s->family));
    s->n = n;
    if (!s->a || !s->family)
        abort();
    for (size_t i = 0; i < n; i++) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        if (i % 5) {
            uint32_t v = (uint32_t)(0x01000000u + (x >> 32) % 0xDF000000u);
            s->a[i][0] = (uint8_t)(v >> 24);
            s->a[i][1] = (uint8_t)(v >> 16);
            s->a[i][2] = (uint8_t)(v >> 8);
            s->a[i][3] = (uint8_t)v;
            s->family[i] = GEO_FAMILY_IPV4;
        } else {
            uint64_t hi = 0x2400000000000000ull + ((x >> 3) & ((1ull << 52) - 1));
            for (int b = 0; b < 8; b++)
                s->a[i][b] = (uint8_t)(hi >> (56 - 8 * b));
            s->family[i] = GEO_FAMILY_IPV6;
        }
    }
}

/* A country-level map: 7 continents, 60 countries, 12 subdivisions, 16
 * network keys, default. */
static struct geo_map *bench_map(void)
{
    static const char *const cc[] = {
        "US", "CA", "MX", "BR", "AR", "CL", "CO", "PE", "GB", "IE", "FR", "DE", "NL", "BE", "ES",
        "PT", "IT", "CH", "AT", "PL", "CZ", "SE", "NO", "FI", "DK", "EE", "LV", "LT", "RU", "UA",
        "TR", "IL", "AE", "SA", "EG", "ZA", "NG", "KE", "MA", "IN", "PK", "BD", "CN", "HK", "TW",
        "JP", "KR", "SG", "MY", "TH", "VN", "ID", "PH", "AU", "NZ", "FJ", "IS", "GR", "RO", "HU"};
    static const char *const cont[] = {"AF", "AN", "AS", "EU", "NA", "OC", "SA"};
    static const char *const rg[] = {"us-east", "us-west", "eu-west", "eu-central",
                                     "ap-ne",   "ap-se",   "sa-east", "af-south"};
    json_t *o = json_object();
    char key[64];
    for (size_t i = 0; i < 7; i++) {
        snprintf(key, sizeof(key), "continent:%s", cont[i]);
        json_object_set_new(o, key, json_pack("[ss]", rg[i % 8], rg[(i + 1) % 8]));
    }
    for (size_t i = 0; i < sizeof(cc) / sizeof(cc[0]); i++) {
        snprintf(key, sizeof(key), "country:%s", cc[i]);
        json_object_set_new(o, key, json_pack("[ss]", rg[(i * 3) % 8], rg[(i * 5 + 1) % 8]));
    }
    for (int i = 1; i <= 12; i++) {
        snprintf(key, sizeof(key), "subdivision:%s-%d", cc[i % 20], i);
        json_object_set_new(o, key, json_pack("[s]", rg[i % 8]));
    }
    for (int i = 0; i < 16; i++) {
        unsigned len = 12 + (unsigned)i, a = (11u * (unsigned)(i + 1)) << 24 | (unsigned)(i * 7)
                                                                                   << 16;
        a &= len ? ~0u << (32 - len) : 0;
        snprintf(key, sizeof(key), "network:%u.%u.%u.%u/%u", a >> 24, a >> 16 & 255, a >> 8 & 255,
                 a & 255, len);
        json_object_set_new(o, key, json_pack("[s]", rg[i % 8]));
    }
    json_object_set_new(o, "default", json_pack("[ss]", "us-east", "eu-west"));
    struct errlist errs;
    errlist_init(&errs);
    struct jsoncfg x = {.errs = &errs, .file = "bench", .dir = "."};
    struct geo_map *m = geo_map_parse(&x, o, "$.geo", NULL, NULL);
    for (size_t i = 0; i < errs.count; i++)
        fprintf(stderr, "%s\n", errs.msgs[i]);
    errlist_free(&errs);
    json_decref(o);
    return m;
}

static double bench_gtm(const struct geo_trie *t, const struct addrs *s, size_t loops,
                        uint64_t *sink)
{
    double t0 = now();
    uint64_t acc = 0;
    for (size_t k = 0; k < loops; k++)
        for (size_t i = 0; i < s->n; i++) {
            uint8_t p;
            acc += geo_trie_lookup(t, s->family[i], s->a[i], &p) + p;
        }
    *sink += acc;
    return (now() - t0) * 1e9 / (double)(loops * s->n);
}

/* libmaxminddb: lookup plus the five values gtmd uses. */
static double bench_mmdb(const char *path, const struct addrs *s, uint64_t *sink)
{
    MMDB_s mmdb;
    if (MMDB_open(path, MMDB_MODE_MMAP, &mmdb) != MMDB_SUCCESS)
        return -1;
    double t0 = now();
    uint64_t acc = 0;
    for (size_t i = 0; i < s->n; i++) {
        struct sockaddr_storage ss;
        memset(&ss, 0, sizeof(ss));
        if (s->family[i] == GEO_FAMILY_IPV4) {
            struct sockaddr_in *s4 = (struct sockaddr_in *)&ss;
            s4->sin_family = AF_INET;
            memcpy(&s4->sin_addr, s->a[i], 4);
        } else {
            struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&ss;
            s6->sin6_family = AF_INET6;
            memcpy(&s6->sin6_addr, s->a[i], 16);
        }
        int err;
        MMDB_lookup_result_s r = MMDB_lookup_sockaddr(&mmdb, (struct sockaddr *)&ss, &err);
        if (err || !r.found_entry)
            continue;
        MMDB_entry_data_s d;
        if (MMDB_get_value(&r.entry, &d, "continent", "code", NULL) == MMDB_SUCCESS)
            acc += d.data_size;
        if (MMDB_get_value(&r.entry, &d, "country", "iso_code", NULL) == MMDB_SUCCESS)
            acc += d.data_size;
        if (MMDB_get_value(&r.entry, &d, "subdivisions", "0", "iso_code", NULL) == MMDB_SUCCESS)
            acc += d.data_size;
        if (MMDB_get_value(&r.entry, &d, "location", "latitude", NULL) == MMDB_SUCCESS)
            acc += (uint64_t)d.double_value;
        if (MMDB_get_value(&r.entry, &d, "location", "longitude", NULL) == MMDB_SUCCESS)
            acc += (uint64_t)d.double_value;
    }
    *sink += acc;
    double ns = (now() - t0) * 1e9 / (double)s->n;
    MMDB_close(&mmdb);
    return ns;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: %s FILE.mmdb [LOOKUPS]\n", argv[0]);
        return 2;
    }
    size_t n = argc > 2 ? strtoul(argv[2], NULL, 10) : 1000000;
    uint64_t sink = 0;
    double rss0 = mem_mib("VmRSS:");
    char err[256];
    struct geo_db *db = geo_db_open(argv[1], err, sizeof(err));
    if (!db) {
        fprintf(stderr, "%s: %s\n", argv[1], err);
        return 1;
    }
    double rss1 = mem_mib("VmRSS:"), hwm = mem_mib("VmHWM:");
    printf("database  %s (%s), %llu search-tree nodes in the file\n", argv[1], db->type,
           (unsigned long long)db->stats.mmdb_nodes);
    printf("load      %.2f s: %llu records decoded, %u locations, %llu networks after merging "
           "equal neighbours, %u trie nodes\n",
           db->stats.load_seconds, (unsigned long long)db->stats.records, db->n_locs,
           (unsigned long long)db->stats.networks, db->trie.n_nodes);
    printf("memory    %.1f MiB held (trie %.1f + locations %.1f); RSS +%.1f MiB after load, "
           "peak %.1f MiB while loading (file mapped)\n",
           mib(geo_db_bytes(db)), mib(geo_trie_bytes(&db->trie)),
           mib((size_t)db->n_locs * sizeof(struct geo_location)), rss1 - rss0, hwm);
    struct geo_map *m = bench_map();
    if (!m)
        return 1;
    double t0 = now();
    struct geo_merged g;
    geo_map_compile(m, db, &g);
    printf("geo map   %zu keys: compiled in %.3f s, %u nodes, %.1f MiB\n", m->n_keys, now() - t0,
           g.trie.n_nodes, mib(geo_trie_bytes(&g.trie)));
    struct geo_point regions[8] = {{38.9, -77.0}, {37.4, -122.1}, {53.3, -6.3},   {50.1, 8.7},
                                   {35.7, 139.7}, {1.35, 103.8},  {-23.5, -46.6}, {-33.9, 18.4}};
    t0 = now();
    struct geo_nearest near;
    geo_nearest_compile(db, regions, 8, &near);
    printf("nearest   8 regions: compiled in %.3f s, %u classes, %u nodes, %.1f MiB\n", now() - t0,
           near.merged.n_classes, near.merged.trie.n_nodes, mib(geo_trie_bytes(&near.merged.trie)));
    struct addrs s;
    make_addrs(&s, n);
    size_t loops = 10;
    double ns_db = bench_gtm(&db->trie, &s, loops, &sink);
    double ns_map = bench_gtm(&g.trie, &s, loops, &sink);
    double ns_near = bench_gtm(&near.merged.trie, &s, loops, &sink);
    double ns_mmdb = bench_mmdb(argv[1], &s, &sink);
    printf("lookup    (%zu random addresses, 80%% IPv4, one thread, ns per lookup)\n", n);
    printf("          geo_db_lookup %.0f, geo map class+scope %.0f, nearest class+scope %.0f, "
           "libmaxminddb lookup+5 values %.0f\n",
           ns_db, ns_map, ns_near, ns_mmdb);
    fprintf(stderr, "(checksum %llu)\n", (unsigned long long)sink);
    geo_nearest_free(&near);
    geo_merged_free(&g);
    geo_map_free(m);
    geo_db_free(db);
    free(s.a);
    free(s.family);
    return 0;
}

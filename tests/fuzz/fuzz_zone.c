/*
 * fuzz_zone.c -- libFuzzer target for the zone file loader and compiler
 * (src/zone/zone_load.c through ldns, zone_build.c, zone_check.c), then the
 * query path over the zone it built.
 *
 * Input: an RFC 1035 master file for the fixed origin example.com., with two
 * extra names that must exist (as policy names do). zone_load() reads files
 * only, so the input is written to "zone" in a private temporary directory
 * beside "inc.zone", a small file for $INCLUDE. $INCLUDE may only name files
 * in that directory: every '/' in the word after a "$INCLUDE" is replaced by
 * '_' before the input is written (the zone may still include itself, or
 * "inc.zone", or a missing file). Seeds: tests/fuzz/corpus/zone
 * (tests/fuzz/make_corpus.py).
 *
 * Checked with abort(): a zone comes back exactly when no error was
 * reported, every message is a non-empty line, the load with the fast
 * scanner gives the messages and the zone ldns alone gives, a built zone has its SOA,
 * apex and extra names, and every name of the zone answers within the UDP
 * and TCP limits.
 */
#include <ctype.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "fuzz_check.h"
#include "answer/query.h"
#include "common/errlist.h"
#include "dns/dns.h"
#include "dns/name.h"
#include "serve/serve_set.h"
#include "zone/snapshot.h"
#include "zone/zone_load.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FUZZ_ORIGIN "example.com."
#define FUZZ_MAX_NODES 64 /* names queried per input */
#define FUZZ_UDP_MAX 1232

static const char *const fuzz_zone_extra[] = {"fo.example.com.", "a.b.c.example.com."};

static const char fuzz_zone_inc[] = "; included by the fuzz inputs\n"
                                    "inc  300 IN A    192.0.2.7\n"
                                    "inc      IN AAAA 2001:db8::7\n"
                                    "mx2      IN MX   5 inc\n";

static char fuzz_zone_dir[64];

static void fuzz_zone_cleanup(void)
{
    char p[128];
    snprintf(p, sizeof(p), "%s/zone", fuzz_zone_dir);
    unlink(p);
    snprintf(p, sizeof(p), "%s/inc.zone", fuzz_zone_dir);
    unlink(p);
    rmdir(fuzz_zone_dir);
}

static void fuzz_zone_write(const char *name, const void *p, size_t n)
{
    char path[128];
    snprintf(path, sizeof(path), "%s/%s", fuzz_zone_dir, name);
    FILE *f = fopen(path, "wb");
    FUZZ_CHECK(f != NULL);
    FUZZ_CHECK(fwrite(p, 1, n, f) == n || n == 0);
    FUZZ_CHECK(fclose(f) == 0);
}

static void fuzz_zone_setup(void)
{
    if (fuzz_zone_dir[0])
        return;
    const char *tmp = getenv("TMPDIR");
    snprintf(fuzz_zone_dir, sizeof(fuzz_zone_dir), "%s/gtmd-fuzz-zone-XXXXXX",
             tmp && strlen(tmp) < 30 ? tmp : "/tmp");
    FUZZ_CHECK(mkdtemp(fuzz_zone_dir) != NULL);
    fuzz_zone_write("inc.zone", fuzz_zone_inc, strlen(fuzz_zone_inc));
    atexit(fuzz_zone_cleanup);
}

/* Keeps $INCLUDE inside the directory: the loader takes the first word
 * after "$INCLUDE" on that line as the file; no word that follows any
 * "$INCLUDE" keeps a '/'. */
static void fuzz_zone_confine(uint8_t *p, size_t n)
{
    for (size_t i = 0; i + 8 <= n; i++) {
        if (strncasecmp((const char *)p + i, "$INCLUDE", 8) != 0)
            continue;
        size_t k = i + 8;
        while (k < n && isspace(p[k]))
            k++;
        for (; k < n && !isspace(p[k]); k++)
            if (p[k] == '/')
                p[k] = '_';
    }
}

/* A query for name/type with EDNS (payload 1232, DO) when edns. */
static size_t fuzz_zone_query(uint8_t *q, const uint8_t *name, size_t len, uint16_t type, bool edns)
{
    static const uint8_t hdr[12] = {0x12, 0x34, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0};
    memcpy(q, hdr, sizeof(hdr));
    memcpy(q + 12, name, len);
    size_t n = 12 + len;
    q[n++] = (uint8_t)(type >> 8);
    q[n++] = (uint8_t)type;
    q[n++] = 0;
    q[n++] = DNS_CLASS_IN;
    if (edns) {
        static const uint8_t opt[11] = {0, 0, 41, 0x04, 0xd0, 0, 0, 0x80, 0, 0, 0};
        q[11] = 1;
        memcpy(q + n, opt, sizeof(opt));
        n += sizeof(opt);
    }
    return n;
}

static void fuzz_zone_ask(const struct serve_set *s, const uint8_t *name, size_t len, uint16_t type)
{
    static uint8_t out[65536];
    uint8_t q[300];
    uint64_t rng = 7;
    struct query_client qc = {.rng = &rng};
    size_t ql = fuzz_zone_query(q, name, len, type, false);
    size_t n = query_answer(s, &qc, q, ql, out, false);
    FUZZ_CHECK(n >= 12 && n <= 512);
    ql = fuzz_zone_query(q, name, len, type, true);
    n = query_answer(s, &qc, q, ql, out, false);
    FUZZ_CHECK(n >= 12 && n <= FUZZ_UDP_MAX);
    n = query_answer(s, &qc, q, ql, out, true);
    FUZZ_CHECK(n >= 12 && n <= 65535);
}

/* Every name of the zone (up to FUZZ_MAX_NODES), for each of its types, ANY
 * and a name below it that does not exist. */
static void fuzz_zone_queries(const struct zone *z, const struct serve_set *s)
{
    size_t asked = 0;
    for (uint32_t i = 0; i <= z->mask && asked < FUZZ_MAX_NODES; i++) {
        const struct zone_node *node = z->table[i].node;
        if (!node)
            continue;
        asked++;
        for (uint16_t k = 0; k < node->n_rrsets; k++)
            fuzz_zone_ask(s, node->name, node->name_len, node->rrsets[k].type);
        fuzz_zone_ask(s, node->name, node->name_len, DNS_TYPE_ANY);
        if (node->name_len + 4 <= 255) {
            uint8_t below[255] = {3, 'z', 'z', 'z'};
            memcpy(below + 4, node->name, node->name_len);
            fuzz_zone_ask(s, below, node->name_len + 4u, DNS_TYPE_A);
        }
    }
}

static void fuzz_zone_check(const struct zone *z, const struct dns_name *extra, size_t n_extra)
{
    FUZZ_CHECK(z->soa != NULL && z->apex != NULL && z->n_nodes > 0);
    FUZZ_CHECK(z->apex->flags & ZONE_NODE_APEX);
    for (size_t i = 0; i < n_extra; i++)
        FUZZ_CHECK(zone_find_node(z, extra[i].wire, extra[i].len,
                                  dns_name_hash(extra[i].wire, extra[i].len)) != NULL);
}

/* The load with the fast scanner (zone_fast.h) gives what ldns alone
 * gives: the same messages in the same order, the same zone. */
static void fuzz_zone_same_with_ldns(const char *path, const struct dns_name *extra,
                                     const struct zone *z, const struct errlist *e)
{
    struct errlist el;
    errlist_init(&el);
    struct zone *zl = zone_load_parser(FUZZ_ORIGIN, path, "zone", extra, 2, false, &el);
    FUZZ_CHECK(el.count == e->count);
    for (size_t i = 0; i < e->count; i++)
        FUZZ_CHECK(strcmp(el.msgs[i], e->msgs[i]) == 0);
    FUZZ_CHECK((zl == NULL) == (z == NULL));
    FUZZ_CHECK(!z || zone_records_equal(z, zl));
    zone_free(zl);
    errlist_free(&el);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fuzz_zone_setup();
    uint8_t *copy = malloc(size ? size : 1);
    FUZZ_CHECK(copy != NULL);
    memcpy(copy, data, size);
    fuzz_zone_confine(copy, size);
    fuzz_zone_write("zone", copy, size);
    free(copy);

    struct dns_name extra[2];
    for (size_t i = 0; i < 2; i++)
        FUZZ_CHECK(dns_name_from_str(fuzz_zone_extra[i], &extra[i]));
    char path[128];
    snprintf(path, sizeof(path), "%s/zone", fuzz_zone_dir);
    struct errlist e;
    errlist_init(&e);
    struct zone *z = zone_load(FUZZ_ORIGIN, path, "zone", extra, 2, &e);
    FUZZ_CHECK((z == NULL) == (e.count > 0));
    for (size_t i = 0; i < e.count; i++)
        FUZZ_CHECK(e.msgs[i][0] != '\0' && strchr(e.msgs[i], '\n') == NULL);
    fuzz_zone_same_with_ldns(path, extra, z, &e);
    errlist_free(&e);
    if (!z)
        return 0;
    fuzz_zone_check(z, extra, 2);
    struct snapshot *snap = snapshot_new();
    FUZZ_CHECK(snapshot_add_zone(snap, z));
    struct serve_limits lim = {.edns_udp_max = FUZZ_UDP_MAX};
    struct serve_set *s = serve_set_new(snap, NULL, 1, &lim);
    fuzz_zone_queries(z, s);
    serve_set_free(s);
    return 0;
}

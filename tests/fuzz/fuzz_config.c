/*
 * fuzz_config.c -- libFuzzer target for the JSON configuration: the whole
 * of config_load() (listen, zones, tcp, admin, the policy sections regions,
 * checks with every check type's parser, pools, records, bindings), then the
 * loader that attaches policy records to zone nodes and maps endpoints to
 * health slots, then queries for every policy name.
 *
 * Input: the configuration file. config_load() takes a path, so the input
 * is written to "gtmd.json" in a private temporary directory that also
 * holds the files a config may name there: "read.token", "operate.token"
 * (valid tokens), "short.token" (too short), "generic.zone" and "ca.pem".
 * Nothing is read from elsewhere: an input whose admin token file (the only
 * file config_load() reads) is not a plain name in that directory is
 * skipped (a state_file path is only looked at: its directory is stat()ed
 * and checked for write access, nothing is opened), and after a successful
 * load every zone file is replaced before the zones are loaded:
 * example.com. and sub.example.com. by the test zones in GTM_FUZZ_DATA,
 * every other origin by generic.zone; a geo database by
 * GTM_FUZZ_DATA/geo-city.mmdb. Seeds: tests/fuzz/corpus/config
 * (tests/fuzz/make_corpus.py).
 *
 * Checked with abort(): the file parsed as config_load parses it
 * (jsonshare_load) is what jansson's whole parse makes of it, document or
 * error; a config comes back exactly when no error was
 * reported; every error names the file; a loaded config is consistent
 * (indices in range, names where the loader needs them); policy answers fit
 * the config's UDP limit and the TCP one.
 */
#include <jansson.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fuzz_check.h"
#include "answer/query.h"
#include "common/errlist.h"
#include "common/jsonshare.h"
#include "control/config.h"
#include "daemon/load.h"
#include "dns/dns.h"
#include "health/health.h"
#include "health/scheduler.h"
#include "policy/policy.h"
#include "serve/serve_set.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FUZZ_MAX_RECORDS 32 /* policy records queried per input */

static const char *const fuzz_config_files[][2] = {
    {"read.token", "read-token-0123456789abcdef\n"},
    {"operate.token", "operate-token-0123456789abcdef\n"},
    {"short.token", "short\n"},
    {"generic.zone", "@ 3600 IN SOA ns hostmaster 1 7200 3600 1209600 300\n"
                     "@ IN NS ns\n"
                     "ns IN A 192.0.2.1\n"
                     "ns IN AAAA 2001:db8::1\n"
                     "www IN A 192.0.2.80\n"
                     "alias IN CNAME www\n"
                     "deleg IN NS ns.example.net.\n"},
    {"ca.pem", "not a certificate\n"},
};
#define FUZZ_N_FILES (sizeof(fuzz_config_files) / sizeof(fuzz_config_files[0]))

static char fuzz_config_dir[64];

static const char *fuzz_config_data(void)
{
    const char *d = getenv("GTM_FUZZ_DATA");
    return d ? d : "tests/data";
}

static void fuzz_config_path(char *out, size_t len, const char *name)
{
    snprintf(out, len, "%s/%s", fuzz_config_dir, name);
}

static void fuzz_config_cleanup(void)
{
    char p[128];
    for (size_t i = 0; i < FUZZ_N_FILES; i++) {
        fuzz_config_path(p, sizeof(p), fuzz_config_files[i][0]);
        unlink(p);
    }
    fuzz_config_path(p, sizeof(p), "gtmd.json");
    unlink(p);
    rmdir(fuzz_config_dir);
}

static void fuzz_config_write(const char *name, const void *p, size_t n)
{
    char path[128];
    fuzz_config_path(path, sizeof(path), name);
    FILE *f = fopen(path, "wb");
    FUZZ_CHECK(f != NULL);
    FUZZ_CHECK(n == 0 || fwrite(p, 1, n, f) == n);
    FUZZ_CHECK(fclose(f) == 0);
}

static void fuzz_config_setup(void)
{
    if (fuzz_config_dir[0])
        return;
    const char *tmp = getenv("TMPDIR");
    snprintf(fuzz_config_dir, sizeof(fuzz_config_dir), "%s/gtmd-fuzz-config-XXXXXX",
             tmp && strlen(tmp) < 30 ? tmp : "/tmp");
    FUZZ_CHECK(mkdtemp(fuzz_config_dir) != NULL);
    for (size_t i = 0; i < FUZZ_N_FILES; i++) {
        fuzz_config_write(fuzz_config_files[i][0], fuzz_config_files[i][1],
                          strlen(fuzz_config_files[i][1]));
        /* Token files must be 0600 (like ssh keys) or they are refused. */
        char p[128];
        fuzz_config_path(p, sizeof(p), fuzz_config_files[i][0]);
        FUZZ_CHECK(chmod(p, 0600) == 0);
    }
    atexit(fuzz_config_cleanup);
}

/* False when the input names a token file outside the directory (parsed
 * as config_load parses it; an input jansson rejects opens nothing). */
static bool fuzz_config_confined(const uint8_t *data, size_t size)
{
    static const char *const keys[] = {"read_token_file", "operate_token_file"};
    json_t *root = json_loadb((const char *)data, size, JSON_REJECT_DUPLICATES, NULL);
    json_t *admin = json_is_object(root) ? json_object_get(root, "admin") : NULL;
    bool ok = true;
    for (size_t i = 0; i < 2 && json_is_object(admin); i++) {
        const char *v = json_string_value(json_object_get(admin, keys[i]));
        ok = ok && (!v || !strchr(v, '/'));
    }
    json_decref(root);
    return ok;
}

/* Indices the loader and the DNS path rely on. */
static void fuzz_config_consistent(const struct config *c)
{
    const struct gslb *g = c->gslb;
    FUZZ_CHECK(c->n_listen > 0 && c->n_zones > 0 && g != NULL);
    FUZZ_CHECK(c->workers >= 1 && c->edns_udp_max >= 512);
    for (size_t i = 0; i < g->n_azs; i++)
        FUZZ_CHECK(g->azs[i].region < g->n_regions);
    for (size_t i = 0; i < g->n_pools; i++) {
        const struct policy_pool *p = &g->pools[i];
        FUZZ_CHECK(p->check < (int)g->n_checks && p->n_eps > 0);
        for (size_t k = 0; k < p->n_eps; k++) {
            const struct policy_endpoint *e = &p->eps[k];
            FUZZ_CHECK(e->region < g->n_regions && e->key && e->name);
            FUZZ_CHECK(e->az == UINT16_MAX || e->az < g->n_azs);
            FUZZ_CHECK(e->rtype == DNS_TYPE_A || e->rtype == DNS_TYPE_AAAA ||
                       e->rtype == DNS_TYPE_CNAME);
        }
    }
    for (size_t i = 0; i < g->n_records; i++) {
        const struct policy_record *r = gslb_rec(g, i);
        FUZZ_CHECK(r->pool < g->n_pools && r->answers >= 1 && r->name_len > 0);
        for (size_t k = 0; k < r->n_regions; k++)
            FUZZ_CHECK(r->regions[k] < g->n_regions);
    }
}

/* The geo database too: whatever the input names, the test database. */
static void fuzz_config_geo_file(struct config *c)
{
    if (!c->geo.database)
        return;
    char p[4096];
    snprintf(p, sizeof(p), "%s/geo-city.mmdb", fuzz_config_data());
    free(c->geo.database);
    c->geo.database = strdup(p);
    FUZZ_CHECK(c->geo.database != NULL);
}

/* Zone files only from known places (see the top of the file). */
static void fuzz_config_zone_files(struct config *c)
{
    for (size_t i = 0; i < c->n_zones; i++) {
        char p[4096];
        if (strcmp(c->zones[i].origin, "example.com.") == 0 ||
            strcmp(c->zones[i].origin, "sub.example.com.") == 0)
            snprintf(p, sizeof(p), "%s/%szone", fuzz_config_data(), c->zones[i].origin);
        else
            fuzz_config_path(p, sizeof(p), "generic.zone");
        free(c->zones[i].file);
        c->zones[i].file = strdup(p);
        FUZZ_CHECK(c->zones[i].file != NULL);
    }
}

static void fuzz_config_ask(const struct serve_set *s, const uint8_t *name, size_t len,
                            uint16_t type, uint64_t *rng)
{
    static uint8_t out[65536];
    uint8_t q[300] = {0xab, 0xcd, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 1};
    /* OPT (payload 1232) with ECS 198.51.100.0/24; the UDP limit is the
     * config's edns_udp_max */
    static const uint8_t opt_ecs[] = {0, 0, 41, 0x04, 0xd0, 0, 0,  0, 0,    0,  11,
                                      0, 8, 0,  7,    0,    1, 24, 0, 0xc6, 51, 100};
    struct query_client qc = {.rng = rng};
    memcpy(q + 12, name, len);
    size_t n = 12 + len;
    q[n++] = (uint8_t)(type >> 8);
    q[n++] = (uint8_t)type;
    q[n++] = 0;
    q[n++] = DNS_CLASS_IN;
    memcpy(q + n, opt_ecs, sizeof(opt_ecs));
    n += sizeof(opt_ecs);
    size_t r = query_answer(s, &qc, q, n, out, false);
    FUZZ_CHECK(r >= 12 && r <= s->limits.edns_udp_max);
    r = query_answer(s, &qc, q, n, out, true);
    FUZZ_CHECK(r >= 12 && r <= 65535);
}

/* Health from the input, then every policy name asked A, AAAA and CNAME. */
static void fuzz_config_serve(const struct serve_set *s, const uint8_t *data, size_t size)
{
    const struct gslb *g = s->gslb;
    uint64_t rng = 1;
    for (size_t i = 0, k = 0; i < g->n_pools; i++)
        for (size_t j = 0; j < g->pools[i].n_eps; j++, k++) {
            uint8_t b = size ? data[k % size] : 0;
            health_restore(g->pools[i].eps[j].slot, b & 1 ? HEALTH_DOWN : HEALTH_UP, 0);
        }
    for (size_t i = 0; i < g->n_records && i < FUZZ_MAX_RECORDS; i++) {
        const struct policy_record *r = gslb_rec(g, i);
        fuzz_config_ask(s, r->name, r->name_len, DNS_TYPE_A, &rng);
        fuzz_config_ask(s, r->name, r->name_len, DNS_TYPE_AAAA, &rng);
        fuzz_config_ask(s, r->name, r->name_len, DNS_TYPE_CNAME, &rng);
    }
    size_t n = 0;
    uint32_t max_ms = 0;
    free(load_probe_targets(g, &n, &max_ms));
}

/* Every message names a file: the config, or a zone file the harness chose
 * (errlist's own last line after 200 errors aside). */
static void fuzz_config_errors(const struct errlist *e, const char *path)
{
    const char *data = fuzz_config_data();
    for (size_t i = 0; i < e->count; i++) {
        const char *m = e->msgs[i];
        if (strncmp(m, path, strlen(path)) == 0 ||
            strncmp(m, fuzz_config_dir, strlen(fuzz_config_dir)) == 0 ||
            strncmp(m, data, strlen(data)) == 0 ||
            strcmp(m, "too many errors; stopping the list here") == 0)
            continue;
        fprintf(stderr, "fuzz_config: error message names no file: %s\n", m);
        abort();
    }
}

/* config_load reads the file with jsonshare_load (member by member, equal
 * resources one value): it must give what jansson's whole parse gives,
 * the same document or the same error at the same place, with and
 * without JSON_REJECT_DUPLICATES. */
static void fuzz_config_same_parse(const uint8_t *data, size_t size)
{
    static const char *const kinds[] = {"records", "pools", "checks", "regions", NULL};
    for (int f = 0; f < 2; f++) {
        size_t flags = f ? JSON_REJECT_DUPLICATES : 0;
        struct jsonshare s;
        jsonshare_init(&s);
        json_error_t ea, eb;
        memset(&ea, 0, sizeof(ea));
        memset(&eb, 0, sizeof(eb));
        json_t *a = jsonshare_load(&s, (const char *)data, size, flags, kinds, &ea);
        json_t *b = json_loadb((const char *)data, size, flags, &eb);
        FUZZ_CHECK((a == NULL) == (b == NULL));
        FUZZ_CHECK(!a || json_equal(a, b));
        FUZZ_CHECK(a || (strcmp(ea.text, eb.text) == 0 && ea.line == eb.line &&
                         ea.column == eb.column && ea.position == eb.position));
        json_decref(a);
        json_decref(b);
        jsonshare_clear(&s);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fuzz_config_same_parse(data, size);
    fuzz_config_setup();
    if (!fuzz_config_confined(data, size))
        return 0;
    fuzz_config_write("gtmd.json", data, size);
    char path[128];
    fuzz_config_path(path, sizeof(path), "gtmd.json");
    struct errlist e;
    errlist_init(&e);
    struct config *c = config_load(path, &e);
    FUZZ_CHECK((c == NULL) == (e.count > 0));
    fuzz_config_errors(&e, path);
    if (!c) {
        errlist_free(&e);
        return 0;
    }
    fuzz_config_consistent(c);
    fuzz_config_zone_files(c);
    fuzz_config_geo_file(c);
    struct health_core core;
    health_core_init(&core);
    struct serve_set *s = load_set(c, 1, &core, NULL, &e);
    FUZZ_CHECK((s == NULL) == (e.count > 0));
    fuzz_config_errors(&e, path);
    if (s)
        fuzz_config_serve(s, data, size);
    serve_set_free(s);
    config_free(c);
    health_core_free(&core);
    errlist_free(&e);
    return 0;
}

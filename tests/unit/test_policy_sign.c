/* Unit tests for the policy signature store (src/policy/policy_sign.c): a
 * zone signed at load with an ECDSA key made here, policy records over it,
 * health slots set by hand. Every signature found is verified with ldns. */
#include <jansson.h>
#include <pthread.h>
#include <stdatomic.h>
#include <ldns/ldns.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "common/jsoncfg.h"
#include "dns/dns.h"
#include "dns/name.h"
#include "health/health.h"
#include "policy/policy_config.h"
#include "policy/policy_sign.h"
#include "tap.h"
#include "zone/snapshot.h"
#include "zone/zone_load.h"
#include "zone/zone_params.h"

static const char *POLICY_CONF =
    "{\"regions\": {\"us\": {}, \"eu\": {}},"
    " \"checks\": {\"web\": {\"type\": \"tcp\", \"port\": 80, \"interval\": 1, \"timeout\": 0.5}},"
    " \"pools\": {\"web\": {\"check\": \"web\", \"endpoints\": ["
    "   {\"name\": \"us1\", \"address\": \"192.0.2.1\", \"region\": \"us\"},"
    "   {\"name\": \"us2\", \"address\": \"192.0.2.2\", \"region\": \"us\"},"
    "   {\"name\": \"us3\", \"address\": \"192.0.2.3\", \"region\": \"us\"},"
    "   {\"name\": \"eu1\", \"address\": \"192.0.2.4\", \"region\": \"eu\"}]}},"
    " \"records\": {"
    "  \"fo.example.com.\": {\"pool\": \"web\", \"policy\": \"failover\", \"regions\": [\"us\", "
    "\"eu\"]},"
    "  \"w.example.com.\": {\"pool\": \"web\", \"policy\": \"weighted\", \"answers\": 1},"
    "  \"m.example.com.\": {\"pool\": \"web\", \"policy\": \"all\", \"select\": \"weighted\", "
    "\"answers\": 2},"
    "  \"lat.example.com.\": {\"pool\": \"web\", \"policy\": \"latency\"},"
    "  \"out.example.org.\": {\"pool\": \"web\", \"policy\": \"all\"}}}";

struct fixture {
    struct gslb *g;
    struct health_core core;
    struct snapshot *snap;
    ldns_rr *pub; /* the zone's DNSKEY, for ldns_verify */
    char dir[64];
};

static const struct policy_record *rec(struct fixture *f, const char *name)
{
    for (size_t i = 0; i < f->g->n_records; i++)
        if (strcmp(gslb_rec(f->g, i)->name_str, name) == 0)
            return gslb_rec(f->g, i);
    abort();
}

static const struct policy_endpoint *ep(struct fixture *f, const char *name)
{
    struct policy_pool *p = &f->g->pools[0];
    for (size_t i = 0; i < p->n_eps; i++)
        if (strcmp(p->eps[i].name, name) == 0)
            return &p->eps[i];
    abort();
}

static void set(struct fixture *f, const char *name, bool up)
{
    health_restore(ep(f, name)->slot, up ? HEALTH_UP : HEALTH_DOWN, 0);
}

/* Writes Kexample.com.+013+TAG.key/.private (a ZSK) into f->dir; returns
 * the base path (static). */
static const char *make_key(struct fixture *f)
{
    static char base[128];
    ldns_key *k = ldns_key_new_frm_algorithm(LDNS_SIGN_ECDSAP256SHA256, 256);
    if (!k)
        abort();
    ldns_rdf *owner = ldns_dname_new_frm_str("example.com.");
    ldns_key_set_pubkey_owner(k, owner);
    ldns_key_set_flags(k, 256);
    ldns_rr *pub = ldns_key2rr(k);
    snprintf(base, sizeof(base), "%s/Kexample.com.+013+%05u", f->dir, ldns_calc_keytag(pub));
    char path[160];
    snprintf(path, sizeof(path), "%s.key", base);
    FILE *fp = fopen(path, "w");
    ldns_rr_print(fp, pub);
    fclose(fp);
    snprintf(path, sizeof(path), "%s.private", base);
    fp = fopen(path, "w");
    ldns_key_print(fp, k);
    fclose(fp);
    ldns_rr_free(pub);
    ldns_key_deep_free(k);
    return base;
}

/* The signed zone example.com. with the policy names fo, w, m; and the
 * unsigned example.org. with out. */
static bool load_zones(struct fixture *f)
{
    const char *base = make_key(f);
    char path[160];
    snprintf(path, sizeof(path), "%s/example.com.zone", f->dir);
    FILE *fp = fopen(path, "w");
    fprintf(fp, "$ORIGIN example.com.\n$TTL 300\n@ SOA ns1 h 1 7200 3600 1209600 300\n"
                "@ NS ns1\nns1 A 192.0.2.53\nwww A 192.0.2.80\n");
    fclose(fp);
    struct zone_sign_params sp = {.n_keys = 1, .validity = 86400, .refresh = 3600};
    sp.keys[0] = (char *)base;
    sp.key_paths[0] = (char *)"test.json: $.zones[0].dnssec.keys[0]";
    struct dns_name extra[3];
    uint16_t flags[3] = {ZONE_NODE_POLICY_A, ZONE_NODE_POLICY_A, ZONE_NODE_POLICY_A};
    dns_name_from_str("fo.example.com.", &extra[0]);
    dns_name_from_str("w.example.com.", &extra[1]);
    dns_name_from_str("m.example.com.", &extra[2]);
    struct errlist e;
    errlist_init(&e);
    struct zone *z = zone_load_signed("example.com.", path, path, extra, flags, 3, &sp, &e);
    snprintf(path, sizeof(path), "%s/example.org.zone", f->dir);
    fp = fopen(path, "w");
    fprintf(fp, "$ORIGIN example.org.\n$TTL 300\n@ SOA ns1 h 1 7200 3600 1209600 300\n"
                "@ NS ns1\nns1 A 192.0.2.53\n");
    fclose(fp);
    struct zone *o = zone_load("example.org.", path, path, NULL, 0, &e);
    for (size_t i = 0; i < e.count; i++)
        printf("# %s\n", e.msgs[i]);
    errlist_free(&e);
    if (!z || !o || !z->policy_keys)
        return false;
    /* The public half, to verify what the store signed. */
    f->pub = ldns_key2rr(ldns_key_list_key(z->policy_keys, 0));
    f->snap = snapshot_new();
    snapshot_add_zone(f->snap, z);
    snapshot_add_zone(f->snap, o);
    return true;
}

/* The signed entry of record name answering exactly the endpoints named
 * in names (in that order), or NULL. */
static const struct policy_sig_entry *find(struct fixture *f, struct policy_sigs *s,
                                           const char *name, const char *const *names, size_t n)
{
    uint8_t rd[512];
    size_t o = 0;
    for (size_t i = 0; i < n; i++) {
        const struct policy_endpoint *e = ep(f, names[i]);
        dns_put16(rd + o, e->rdlen);
        memcpy(rd + o + 2, policy_endpoint_rdata(e), e->rdlen);
        o += 2 + (size_t)e->rdlen;
    }
    return policy_sigs_find(s, rec(f, name)->index, DNS_TYPE_A, rd, o, (uint16_t)n);
}

/* Whether entry e's RRSIGs verify over its RRset with the zone's key. */
static bool verifies(struct fixture *f, const struct policy_record *r,
                     const struct policy_sig_entry *e)
{
    ldns_rr_list *set = ldns_rr_list_new(), *sigs = ldns_rr_list_new();
    ldns_rdf *owner = ldns_dname_new_frm_data(r->name_len, r->name);
    size_t o = 0;
    for (uint16_t i = 0; i < e->count; i++) {
        ldns_rr *rr = ldns_rr_new_frm_type(LDNS_RR_TYPE_A);
        ldns_rr_set_owner(rr, ldns_rdf_clone(owner));
        ldns_rr_set_ttl(rr, r->ttl);
        ldns_rr_push_rdf(rr, ldns_rdf_new_frm_data(LDNS_RDF_TYPE_A, 4, e->rdata + o + 2));
        ldns_rr_list_push_rr(set, rr);
        o += 2 + (size_t)dns_get16(e->rdata + o);
    }
    o = 0;
    for (uint16_t i = 0; i < e->sigs.count; i++) {
        uint16_t len = dns_get16(e->sigs.rdata + o);
        uint8_t wire[1024];
        size_t w = 0;
        memcpy(wire, r->name, r->name_len);
        w = r->name_len;
        dns_put16(wire + w, DNS_TYPE_RRSIG);
        dns_put16(wire + w + 2, 1);
        dns_put16(wire + w + 4, 0);
        dns_put16(wire + w + 6, (uint16_t)r->ttl);
        memcpy(wire + w + 8, e->sigs.rdata + o, 2 + (size_t)len);
        w += 10 + len;
        size_t pos = 0;
        ldns_rr *sig = NULL;
        if (ldns_wire2rr(&sig, wire, w, &pos, LDNS_SECTION_ANSWER) != LDNS_STATUS_OK)
            return false;
        ldns_rr_list_push_rr(sigs, sig);
        o += 2 + (size_t)len;
    }
    ldns_rr_list *keys = ldns_rr_list_new();
    ldns_rr_list_push_rr(keys, ldns_rr_clone(f->pub));
    ldns_status st = ldns_verify(set, sigs, keys, NULL);
    ldns_rr_list_deep_free(set);
    ldns_rr_list_deep_free(sigs);
    ldns_rr_list_deep_free(keys);
    ldns_rdf_deep_free(owner);
    return st == LDNS_STATUS_OK;
}

static void all_up(struct fixture *f)
{
    set(f, "us1", true);
    set(f, "us2", true);
    set(f, "us3", true);
    set(f, "eu1", true);
}

static size_t update(struct policy_sigs *s, size_t *retired_n)
{
    struct policy_sigs_retired r = {0};
    size_t n = policy_sigs_update(s, NULL, &r);
    if (retired_n)
        *retired_n = r.n;
    policy_sigs_retired_free(&r);
    return n;
}

static void test_store(struct tap *t, struct fixture *f)
{
    struct policy_sigs *s = policy_sigs_new(f->g, f->snap, 0);
    TAP_CHECK(t, s != NULL, "a store for the records of the signed zone");
    TAP_CHECK(t,
              policy_sigs_covers(s, rec(f, "fo.example.com.")->index) &&
                  !policy_sigs_covers(s, rec(f, "out.example.org.")->index),
              "records in the unsigned zone are not signed");
    all_up(f);
    size_t made = update(s, NULL);
    printf("# signed %zu answers for the all-up state\n", made);
    /* fo: {us1,us2,us3} (+ no windows); w: 4 single + all 4; m: all 4 +
     * C(4,2) = 6 pairs; lat: its region order's {us1,us2,us3} and 3
     * singles, and eu1 alone (any endpoint can be the fastest). */
    TAP_CHECK(t, made == 1 + 5 + 7 + 5, "every answer of the state is signed once (%zu)", made);
    const char *us[] = {"us1", "us2", "us3"}, *us_rev[] = {"us3", "us1", "us2"};
    const struct policy_sig_entry *e = find(f, s, "fo.example.com.", us, 3);
    TAP_CHECK(t, e && verifies(f, rec(f, "fo.example.com."), e),
              "the failover answer is found and its RRSIG verifies");
    TAP_CHECK(t, find(f, s, "fo.example.com.", us_rev, 3) == e,
              "the same RRset in another order finds the same signature");
    TAP_CHECK(t, policy_sigs_last(s, rec(f, "fo.example.com.")->index) == e,
              "the last answer signed for the record is the current one");
    bool singles = true;
    const char *names[] = {"us1", "us2", "us3", "eu1"};
    for (size_t i = 0; i < 4; i++) {
        const struct policy_sig_entry *w = find(f, s, "w.example.com.", &names[i], 1);
        singles = singles && w && verifies(f, rec(f, "w.example.com."), w);
    }
    TAP_CHECK(t, singles, "weighted answers 1: each endpoint alone is signed");
    bool pairs = true;
    for (size_t i = 0; i < 4; i++)
        for (size_t k = i + 1; k < 4; k++) {
            const char *pair[] = {names[i], names[k]};
            pairs = pairs && find(f, s, "m.example.com.", pair, 2);
        }
    TAP_CHECK(t, pairs, "weighted answers 2: every pair is signed");
    bool lat = true;
    for (size_t i = 0; i < 4; i++) {
        const struct policy_sig_entry *l = find(f, s, "lat.example.com.", &names[i], 1);
        lat = lat && l && verifies(f, rec(f, "lat.example.com."), l);
    }
    TAP_CHECK(t, lat, "latency: each up endpoint alone is signed, eu1 too");
    const char *odd[] = {"us1", "eu1"};
    TAP_CHECK(t, !find(f, s, "fo.example.com.", odd, 2), "an answer never given has none");
    TAP_CHECK(t, update(s, NULL) == 0, "no change, nothing signed again");

    set(f, "us1", false);
    const char *us23[] = {"us2", "us3"};
    TAP_CHECK(t, !find(f, s, "fo.example.com.", us23, 2), "the new state's answer: not yet");
    made = update(s, NULL);
    e = find(f, s, "fo.example.com.", us23, 2);
    TAP_CHECK(t, e && verifies(f, rec(f, "fo.example.com."), e),
              "after the update the new answer is signed (%zu new)", made);
    TAP_CHECK(t, find(f, s, "fo.example.com.", us, 3) != NULL, "the old one stays");
    set(f, "us2", false);
    set(f, "us3", false);
    update(s, NULL);
    const char *eu[] = {"eu1"};
    TAP_CHECK(t, find(f, s, "fo.example.com.", eu, 1) != NULL, "failover to eu is signed");
    policy_sigs_free(s);
}

/* The signer: a real health service whose listener counts its calls
 * (the daemon's runs policy_sigs_update there). */
static atomic_int wakes;
static void count_wake(void *arg)
{
    (void)arg;
    atomic_fetch_add(&wakes, 1);
}

/* Waits (bounded, 5 s) until the listener ran n times in all. */
static int wakes_reach(int n)
{
    for (int i = 0; i < 5000 && atomic_load(&wakes) < n; i++)
        usleep(1000);
    usleep(20000); /* and no call more follows */
    return atomic_load(&wakes);
}

static void test_requests(struct tap *t, struct fixture *f)
{
    struct policy_sigs *s = policy_sigs_new(f->g, f->snap, 0);
    all_up(f);
    update(s, NULL);
    struct health_core hc;
    health_core_init(&hc);
    struct health_service *svc = health_service_start(&hc);
    health_service_set_listener(svc, count_wake, NULL);
    atomic_store(&wakes, 0);
    policy_sigs_set_wake(s, svc);
    const char *odd[] = {"us1", "eu1"};
    const struct policy_endpoint *eps[] = {ep(f, "us1"), ep(f, "eu1")};
    const struct policy_record *fo = rec(f, "fo.example.com.");
    TAP_CHECK(t, !find(f, s, "fo.example.com.", odd, 2), "an answer no update enumerates");
    policy_sigs_request(s, fo, DNS_TYPE_A, eps, 2);
    policy_sigs_request(s, fo, DNS_TYPE_A, eps, 2);
    TAP_CHECK(t, wakes_reach(1) == 1, "two requests wake the signer once (%d)",
              atomic_load(&wakes));
    TAP_CHECK(t, update(s, NULL) == 1, "the next update signs the requested answer once");
    const struct policy_sig_entry *e = find(f, s, "fo.example.com.", odd, 2);
    TAP_CHECK(t, e && verifies(f, fo, e), "and it is found and verifies");
    for (int i = 0; i < POLICY_SIGS_REQUESTS + 5; i++)
        policy_sigs_request(s, fo, DNS_TYPE_A, eps, 1);
    TAP_CHECK(t, wakes_reach(2) == 2 && atomic_load(&s->requests_dropped) == 5,
              "requests beyond the slots are dropped and counted");
    update(s, NULL);
    health_service_stop(svc);
    health_core_free(&hc);
    policy_sigs_free(s);
}

static void test_limit(struct tap *t, struct fixture *f)
{
    /* 19 answers at most: the all-up state needs 18, the next 4 more, and
     * that state alone 13. */
    struct policy_sigs *s = policy_sigs_new(f->g, f->snap, 19);
    all_up(f);
    size_t retired = 0;
    update(s, &retired);
    TAP_CHECK(t, retired == 0, "the first state fits");
    set(f, "us1", false);
    update(s, &retired);
    struct policy_sig_table *tb = atomic_load(&s->table);
    TAP_CHECK(t, retired == 1 && tb->n == 13,
              "past the limit a new table holds the current state only (%zu)", tb->n);
    const char *us23[] = {"us2", "us3"}, *us[] = {"us1", "us2", "us3"};
    TAP_CHECK(t,
              find(f, s, "fo.example.com.", us23, 2) != NULL &&
                  find(f, s, "fo.example.com.", us, 3) == NULL,
              "the current answer is there, the old one gone");
    policy_sigs_free(s);
}

/* ---- concurrency: the health thread's updates (with table replacements)
 * against lock-free readers, worker requests and another writer ---- */

#define THREADS_READERS 2

struct threads_ctx {
    struct fixture *f;
    struct policy_sigs *s;
    _Atomic bool stop;
    _Atomic uint64_t epoch[THREADS_READERS]; /* a reader's quiescent points */
    _Atomic uint64_t found;
};

struct threads_reader {
    struct threads_ctx *c;
    int id;
};

static void *threads_read(void *arg)
{
    struct threads_reader *r = arg;
    struct threads_ctx *c = r->c;
    struct fixture *f = c->f;
    const struct policy_record *fo = rec(f, "fo.example.com.");
    const char *sets[][3] = {{"us1", "us2", "us3"}, {"us2", "us3", NULL}, {"eu1", NULL, NULL}};
    const struct policy_endpoint *eps[] = {ep(f, "us1"), ep(f, "eu1")};
    /* Bounded: the main thread stops it, or 2 million rounds. */
    for (unsigned i = 0; i < 2000000 && !atomic_load(&c->stop); i++) {
        const char *const *names = sets[i % 3];
        size_t n = names[2] ? 3 : names[1] ? 2 : 1;
        const struct policy_sig_entry *e = find(f, c->s, "fo.example.com.", names, n);
        const struct policy_sig_entry *l = policy_sigs_last(c->s, fo->index);
        unsigned sum = 0;
        if (e)
            for (uint32_t k = 0; k < e->sigs.rdata_len; k++)
                sum += e->sigs.rdata[k];
        if (l)
            for (uint32_t k = 0; k < l->rdata_len; k++)
                sum += l->rdata[k];
        if (e || l)
            atomic_fetch_add(&c->found, 1 + (sum & 0));
        if (i % 64 == 0)
            policy_sigs_request(c->s, fo, DNS_TYPE_A, eps, (uint16_t)(1 + (i / 64) % 2));
        atomic_fetch_add(&c->epoch[r->id], 1); /* holds nothing of the store now */
    }
    return NULL;
}

static void *threads_add(void *arg)
{
    struct threads_ctx *c = arg;
    struct fixture *f = c->f;
    const struct policy_endpoint *eps[] = {ep(f, "us3"), ep(f, "eu1")};
    for (unsigned i = 0; i < 100000 && !atomic_load(&c->stop); i++)
        policy_sigs_add(c->s, rec(f, "m.example.com."), DNS_TYPE_A, eps, (uint16_t)(1 + i % 2));
    return NULL;
}

/* Waits until every reader passed a quiescent point (the test's serve_sync). */
static void threads_grace(struct threads_ctx *c)
{
    uint64_t seen[THREADS_READERS];
    for (int i = 0; i < THREADS_READERS; i++)
        seen[i] = atomic_load(&c->epoch[i]);
    for (int i = 0; i < THREADS_READERS; i++)
        for (int k = 0; k < 100000 && atomic_load(&c->epoch[i]) == seen[i]; k++)
            usleep(10);
}

static void test_threads(struct tap *t, struct fixture *f)
{
    struct threads_ctx c = {.f = f, .s = policy_sigs_new(f->g, f->snap, 14)};
    all_up(f);
    update(c.s, NULL);
    pthread_t rd[THREADS_READERS], add;
    struct threads_reader rs[THREADS_READERS];
    for (int i = 0; i < THREADS_READERS; i++) {
        rs[i] = (struct threads_reader){&c, i};
        pthread_create(&rd[i], NULL, threads_read, &rs[i]);
    }
    pthread_create(&add, NULL, threads_add, &c);
    const char *names[] = {"us1", "us2", "us3", "eu1"};
    size_t replaced = 0;
    for (int i = 0; i < 60; i++) {
        set(f, names[i % 4], i % 8 >= 4);
        struct policy_sigs_retired r = {0};
        policy_sigs_update(c.s, NULL, &r);
        replaced += r.n;
        if (r.n)
            threads_grace(&c);
        policy_sigs_retired_free(&r);
    }
    atomic_store(&c.stop, true);
    for (int i = 0; i < THREADS_READERS; i++)
        pthread_join(rd[i], NULL);
    pthread_join(add, NULL);
    TAP_CHECK(t, replaced > 0 && atomic_load(&c.found) > 0,
              "updates replace tables (%zu) while readers find answers and another writer adds",
              replaced);
    all_up(f);
    policy_sigs_free(c.s);
}

int main(void)
{
    struct tap t = {0, 0};
    struct fixture f = {0};
    struct errlist e;
    errlist_init(&e);
    snprintf(f.dir, sizeof(f.dir), "/tmp/gtmd-sign-XXXXXX");
    if (!mkdtemp(f.dir))
        return 1;
    struct jsoncfg j = {.errs = &e, .file = "test.json", .dir = "."};
    json_t *root = json_loads(POLICY_CONF, 0, NULL);
    const char *origins[] = {"example.com.", "example.org."};
    f.g = policy_config_parse(&j, root, origins, 2);
    for (size_t i = 0; i < e.count; i++)
        printf("# %s\n", e.msgs[i]);
    if (!TAP_CHECK(&t, e.count == 0 && f.g, "test policy config parses"))
        return tap_done(&t);
    health_core_init(&f.core);
    gslb_map_health(f.g, &f.core);
    if (TAP_CHECK(&t, load_zones(&f), "the zone signs at load with the policy names")) {
        test_store(&t, &f);
        test_requests(&t, &f);
        test_limit(&t, &f);
        test_threads(&t, &f);
        snapshot_free(f.snap);
        ldns_rr_free(f.pub);
    }
    gslb_unref(f.g);
    health_core_free(&f.core);
    json_decref(root);
    errlist_free(&e);
    char cmd[128];
    snprintf(cmd, sizeof(cmd), "rm -rf %s", f.dir);
    if (system(cmd) != 0)
        printf("# could not remove %s\n", f.dir);
    return tap_done(&t);
}

/* Unit tests for traffic dials and failback ramps (src/policy/policy_dial.c,
 * policy_ramp.c): the bucketing function, and its use by policy_eval with
 * health slots set by hand. */
#include <arpa/inet.h>
#include <jansson.h>
#include <math.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>

#include "common/errlist.h"
#include "common/jsoncfg.h"
#include "dns/dns.h"
#include "health/health.h"
#include "health/override.h"
#include "policy/policy_config.h"
#include "policy/policy_dial.h"
#include "policy/policy_eval.h"
#include "policy/policy_ramp.h"
#include "tap.h"

static const char *CONF =
    "{\"regions\": {\"us\": {}, \"eu\": {}},"
    " \"pools\": {\"web\": {\"endpoints\": ["
    "   {\"name\": \"us1\", \"address\": \"192.0.2.1\", \"region\": \"us\", \"az\": \"us-1a\"},"
    "   {\"name\": \"eu1\", \"address\": \"192.0.2.3\", \"region\": \"eu\"}]}},"
    " \"records\": {"
    "  \"fo.example.com.\": {\"pool\": \"web\", \"policy\": \"failover\", \"regions\": [\"us\", "
    "\"eu\"], \"failback\": {\"ramp\": 60}}}}";

static void ecs_of(struct dns_ecs *e, unsigned a, unsigned b, unsigned c, uint8_t prefix)
{
    memset(e, 0, sizeof(*e));
    e->present = true;
    e->family = 1;
    e->source_prefix = prefix;
    e->addr[0] = (uint8_t)a;
    e->addr[1] = (uint8_t)b;
    e->addr[2] = (uint8_t)c;
}

static uint16_t bucket_of(unsigned i, uint32_t salt)
{
    struct dns_ecs e; /* 100.64.0.0/24 + i */
    ecs_of(&e, 100, 64 + (i >> 8), i & 0xff, 24);
    struct policy_dial_client c = {.ecs = &e, .use_ecs = true};
    return policy_dial_bucket(&c, salt);
}
/* The bucketing function: uniform, stable, nested, independent per salt,
 * and blind to what the client did not send. */
static void test_buckets(struct tap *t)
{
    enum { N = 60000 };
    uint32_t s1 = policy_dial_salt("region:us"), s2 = policy_dial_salt("region:eu");
    unsigned in30 = 0, in50 = 0, both = 0, nested_bad = 0, stable_bad = 0;
    unsigned deciles[10] = {0};
    for (unsigned i = 0; i < N; i++) {
        uint16_t b1 = bucket_of(i, s1), b2 = bucket_of(i, s2);
        stable_bad += b1 != bucket_of(i, s1);
        in30 += b1 < 3000;
        in50 += b1 < 5000;
        nested_bad += b1 < 3000 && !(b1 < 5000);
        both += b1 < 3000 && b2 < 3000;
        deciles[b1 / 1000]++;
    }
    /* 4 sigma of a binomial: 30 % of 60000 is 18000 +- 449. */
    double sd30 = sqrt(N * 0.3 * 0.7), sdb = sqrt(N * 0.09 * 0.91);
    TAP_CHECK(t, fabs(in30 - N * 0.3) < 4 * sd30, "30 %% share: %u of %u clients", in30, N);
    TAP_CHECK(t, fabs(in50 - N * 0.5) < 4 * sqrt(N * 0.25), "50 %% share: %u", in50);
    bool flat = true;
    for (int d = 0; d < 10; d++)
        flat = flat && fabs(deciles[d] - N / 10.0) < 4 * sqrt(N * 0.09);
    TAP_CHECK(t, flat, "buckets are uniform over 0..9999 (deciles within 4 sigma)");
    TAP_CHECK(t, stable_bad == 0, "the same client gets the same bucket every time");
    TAP_CHECK(t, nested_bad == 0, "a client in a 30 %% share is in the 50 %% share");
    TAP_CHECK(t, fabs(both - N * 0.09) < 4 * sdb,
              "two salts pick independent clients (%u in both 30 %% shares, ~%u)", both,
              (unsigned)(N * 0.09));
    /* What the client did not send does not count. */
    struct dns_ecs a, b;
    ecs_of(&a, 10, 1, 2, 24);
    ecs_of(&b, 10, 1, 2, 24);
    b.addr[3] = 99; /* beyond /24: never part of the key */
    struct policy_dial_client ca = {.ecs = &a, .use_ecs = true}, cb = {.ecs = &b, .use_ecs = true};
    TAP_CHECK(t, policy_dial_bucket(&ca, s1) == policy_dial_bucket(&cb, s1) && ca.scope == 24,
              "a /24 is one bucket; scope 24");
    unsigned differ = 0;
    for (unsigned k = 0; k < 256; k++) {
        ecs_of(&a, 10, 1, k, 16);
        ecs_of(&b, 10, 1, 0, 16);
        differ += policy_dial_bucket(&ca, s1) != policy_dial_bucket(&cb, s1);
    }
    TAP_CHECK(t, differ == 0 && ca.scope == 16, "a /16 source prefix: one bucket, scope 16");
    ecs_of(&a, 10, 1, 2, 0);
    ecs_of(&b, 172, 16, 9, 0);
    TAP_CHECK(t, policy_dial_bucket(&ca, s1) == policy_dial_bucket(&cb, s1) && ca.scope == 0,
              "a /0 source prefix: every client in one bucket, scope 0");
    /* The source address when there is no ECS (or the record ignores it). */
    struct sockaddr_storage ss;
    memset(&ss, 0, sizeof(ss));
    ss.ss_family = AF_INET;
    inet_pton(AF_INET, "10.1.2.77", &((struct sockaddr_in *)&ss)->sin_addr);
    struct policy_dial_client cs = {.addr = &ss, .ecs = &a, .use_ecs = false};
    ecs_of(&a, 10, 1, 2, 24);
    TAP_CHECK(t, policy_dial_bucket(&cs, s1) == policy_dial_bucket(&ca, s1) && cs.scope == 0,
              "without ECS: the source's /24, no scope");
    /* Known answers: the integration tests' copy of the hash
     * (tests/integration/dials.py) must agree with these. */
    ecs_of(&a, 100, 64, 0, 24);
    uint16_t k0 = policy_dial_bucket(&ca, 0);
    TAP_CHECK(t, k0 == 7197 && s1 == 902448175u,
              "known answers: bucket(100.64.0.0/24, 0) = %u, salt(region:us) = %u (dials.py: "
              "7197, 902448175)",
              k0, s1);
}

struct fixture {
    struct gslb *g;
    struct health_core core;
    uint64_t rng;
};

static int eval_region(struct fixture *f, const struct dns_ecs *e, uint8_t *scope)
{
    struct sockaddr_storage ss;
    memset(&ss, 0, sizeof(ss));
    ss.ss_family = AF_INET;
    struct policy_client c = {.addr = &ss, .ecs = e, .rng = &f->rng};
    struct policy_result r;
    policy_eval(f->g, gslb_rec(f->g, 0), DNS_TYPE_A, &c, &r);
    *scope = r.ecs_scope;
    return r.serving_region;
}

/* A 30 % dial moves exactly the clients whose bucket is in it, with
 * scope 24; dry runs (no client) see the state outside the dial. */
static void test_dial_eval(struct tap *t, struct fixture *f)
{
    char id[32];
    uint32_t salt = 4242;
    int us = gslb_region_index(f->g, "us"), eu = gslb_region_index(f->g, "eu");
    override_add_dial(&f->core, "region:us", HEALTH_DOWN, 3000, salt, "test", "t", 0, id);
    unsigned wrong = 0, moved = 0, scope_bad = 0;
    for (unsigned i = 0; i < 2000; i++) {
        struct dns_ecs e;
        ecs_of(&e, 100, 64 + (i >> 8), i & 0xff, 24);
        struct policy_dial_client c = {.ecs = &e, .use_ecs = true};
        bool in = policy_dial_bucket(&c, salt) < 3000;
        uint8_t scope;
        int reg = eval_region(f, &e, &scope);
        wrong += reg != (in ? eu : us);
        moved += reg == eu;
        scope_bad += scope != 24;
    }
    TAP_CHECK(t, wrong == 0, "a 30 %% dial moves exactly its buckets (%u of 2000 moved)", moved);
    TAP_CHECK(t, scope_bad == 0, "answers decided by a dial have ECS scope 24");
    struct policy_client none = {.rng = &f->rng};
    struct policy_result r;
    policy_eval_all(f->g, gslb_rec(f->g, 0), DNS_TYPE_A, &none, &r);
    TAP_CHECK(t, r.serving_region == us, "without a client the dial does not apply");
    char id2[32];
    override_add(&f->core, "region:us", HEALTH_UP, "full", "t", 0, id2);
    uint8_t scope;
    struct dns_ecs e;
    ecs_of(&e, 100, 64, 1, 24);
    TAP_CHECK(t, eval_region(f, &e, &scope) == us && scope == 0,
              "a newer full override hides the dial (no scope)");
    override_remove(&f->core, id2);
    override_remove(&f->core, id);
    TAP_CHECK(t, health_slot_dial(f->g->regions[us].slot) == 0, "removed: no dial left");
}

/* The ramp: nothing at the start, then a share that grows with time. */
static void test_ramp(struct tap *t, struct fixture *f)
{
    struct health_slot *us1 = f->g->pools[0].eps[0].slot, *eu1 = f->g->pools[0].eps[1].slot;
    health_restore(eu1, HEALTH_UP, 0);
    policy_ramp_track(f->g);
    health_restore(us1, HEALTH_UP, 0);
    policy_ramp_track(f->g);
    const struct policy_record *rec = gslb_rec(f->g, 0);
    TAP_CHECK(t, policy_ramp_share(f->g, rec, 0, policy_ramp_now_ms(), NULL) == POLICY_DIAL_FULL,
              "a first verdict (unknown -> up) does not ramp");
    health_restore(us1, HEALTH_DOWN, 0);
    policy_ramp_track(f->g);
    health_restore(us1, HEALTH_UP, 0);
    policy_ramp_track(f->g);
    int64_t start, now = policy_ramp_now_ms();
    uint16_t s0 = policy_ramp_share(f->g, rec, 0, now, &start);
    TAP_CHECK(t, s0 < 100 && start > 0, "down -> up starts a ramp (share %u)", s0);
    TAP_CHECK(t, policy_ramp_share(f->g, rec, 0, start + 30000, NULL) == 5000,
              "half way through a 60 s ramp: 50 %%");
    TAP_CHECK(t, policy_ramp_share(f->g, rec, 0, start + 60000, NULL) == POLICY_DIAL_FULL,
              "at its end: everything");
    health_restore(us1, HEALTH_DOWN, 0);
    policy_ramp_track(f->g);
    TAP_CHECK(t, policy_ramp_share(f->g, rec, 0, now, NULL) == POLICY_DIAL_FULL,
              "down during the ramp: the ramp ends (the region is down at once)");
}

/* The state file's and the fleet's rule for dial fields. */
static void test_records(struct tap *t)
{
    static const struct {
        const char *extra, *target;
        size_t valid;
    } cases[] = {
        {"", "region:us", 1},
        {", \"percent\": 30, \"salt\": 7", "region:us", 1},
        {", \"percent\": 12.5, \"salt\": 4294967295", "az:us-1a", 1},
        {", \"percent\": 30", "region:us", 0},
        {", \"salt\": 7", "region:us", 0},
        {", \"percent\": 30, \"salt\": 7", "endpoint:web/us1", 0},
        {", \"percent\": 100.5, \"salt\": 7", "region:us", 0},
        {", \"percent\": 1.234, \"salt\": 7", "region:us", 0},
        {", \"percent\": 30, \"salt\": -1", "region:us", 0},
        {", \"percent\": \"30\", \"salt\": 7", "region:us", 0},
        {", \"percent\": 30, \"salt\": 7, \"ramp_to\": 50", "region:us", 0},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char buf[512];
        snprintf(buf, sizeof(buf),
                 "[{\"id\": \"ovr-1\", \"target\": \"%s\", \"state\": \"down\", "
                 "\"reason\": \"r\", \"author\": \"a\", \"created\": 1000%s}]",
                 cases[i].target, cases[i].extra);
        json_t *arr = json_loads(buf, 0, NULL);
        TAP_CHECK(t, arr && override_count_valid(arr, 2000) == cases[i].valid, "record %s%s: %s",
                  cases[i].target, cases[i].extra, cases[i].valid ? "valid" : "refused");
        json_decref(arr);
    }
}

int main(void)
{
    struct tap t = {0, 0};
    test_buckets(&t);
    test_records(&t);
    struct fixture f;
    struct errlist e;
    errlist_init(&e);
    struct jsoncfg j = {.errs = &e, .file = "test.json", .dir = "."};
    json_t *root = json_loads(CONF, 0, NULL);
    const char *origins[] = {"example.com."};
    f.g = policy_config_parse(&j, root, origins, 1);
    f.rng = 12345;
    for (size_t i = 0; i < e.count; i++)
        printf("# %s\n", e.msgs[i]);
    if (!TAP_CHECK(&t, e.count == 0, "test policy config parses"))
        return tap_done(&t);
    health_core_init(&f.core);
    gslb_map_health(f.g, &f.core);
    test_dial_eval(&t, &f);
    test_ramp(&t, &f);
    gslb_unref(f.g);
    health_core_free(&f.core);
    json_decref(root);
    errlist_free(&e);
    return tap_done(&t);
}

/* Unit tests for the latency policy: the moving average of round-trip
 * times (health/rtt.h), the sorted tables (policy_latency.h) and the
 * evaluation (policy_eval.h), with health slots and tables set by hand. */
#include <arpa/inet.h>
#include <jansson.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>

#include "common/jsoncfg.h"
#include "dns/dns.h"
#include "health/health.h"
#include "policy/policy_config.h"
#include "policy/policy_eval.h"
#include "policy/policy_latency.h"
#include "policy_conf_check.h"
#include "tap.h"

static const char *CONF =
    "{\"regions\": {\"us\": {}, \"eu\": {}, \"ap\": {}},"
    " \"checks\": {\"web\": {\"type\": \"tcp\", \"port\": 80, \"interval\": 1, \"timeout\": 0.5}},"
    " \"pools\": {\"web\": {\"check\": \"web\", \"endpoints\": ["
    "   {\"name\": \"us1\", \"address\": \"192.0.2.1\", \"region\": \"us\"},"
    "   {\"name\": \"eu1\", \"address\": \"192.0.2.2\", \"region\": \"eu\"},"
    "   {\"name\": \"eu2\", \"address\": \"192.0.2.3\", \"region\": \"eu\"},"
    "   {\"name\": \"ap1\", \"address\": \"192.0.2.4\", \"region\": \"ap\"}]}},"
    " \"records\": {"
    "  \"lat.example.com.\": {\"pool\": \"web\", \"policy\": \"latency\", \"regions\": [\"ap\", "
    "\"eu\", \"us\"]},"
    "  \"map.example.com.\": {\"pool\": \"web\", \"policy\": \"latency\", \"latency\": {"
    "\"tolerance_ms\": 0, \"tolerance_pct\": 0, \"vantage\": {\"network:10.2.0.0/16\": [\"n2\", "
    "\"n1\"], \"network:10.3.0.0/16\": \"n3\", \"default\": \"n1\"}}}}}";

struct fixture {
    struct gslb *g;
    struct health_core core;
    struct policy_geo *pg;
    uint64_t rng;
    double now;
};

static struct policy_endpoint *ep(struct fixture *f, const char *name)
{
    struct policy_pool *p = &f->g->pools[0];
    for (size_t i = 0; i < p->n_eps; i++)
        if (strcmp(p->eps[i].name, name) == 0)
            return &p->eps[i];
    abort();
}

static const struct policy_record *rec(struct fixture *f, const char *name)
{
    for (size_t i = 0; i < f->g->n_records; i++)
        if (strcmp(gslb_rec(f->g, i)->name_str, name) == 0)
            return gslb_rec(f->g, i);
    abort();
}

/* This node's average of endpoint name set to ms (a fresh slot history). */
static void own(struct fixture *f, const char *name, double ms)
{
    struct health_slot *s = ep(f, name)->slot;
    pthread_mutex_lock(&f->core.lock);
    s->rtt_samples = 0;
    f->now += 1;
    health_rtt_sample_locked(s, (uint32_t)(ms * 1000), 30000, f->now);
    pthread_mutex_unlock(&f->core.lock);
    health_rtt_changed(&f->core, true);
}

static void refresh(struct fixture *f)
{
    struct policy_geo_retired ret = {0};
    policy_latency_refresh(f->g, f->pg, &ret);
    policy_geo_retired_free(&ret);
}

/* How often each endpoint is answered over n queries (counts by pool index). */
static void answers(struct fixture *f, const char *name, const char *ecs, unsigned n,
                    unsigned *count, struct policy_result *last)
{
    struct dns_ecs e = {0};
    if (ecs) {
        e.present = true;
        e.family = 1;
        e.source_prefix = 24;
        inet_pton(AF_INET, ecs, e.addr);
    }
    struct policy_client c = {.ecs = ecs ? &e : NULL, .rng = &f->rng, .geo = f->pg};
    memset(count, 0, 4 * sizeof(*count));
    for (unsigned i = 0; i < n; i++) {
        policy_eval(f->g, rec(f, name), DNS_TYPE_A, &c, last);
        for (uint16_t k = 0; k < last->n; k++)
            count[last->eps[k] - f->g->pools[0].eps]++;
    }
}

static void test_ewma(struct tap *t)
{
    struct health_slot s = {0};
    bool moved = health_rtt_sample_locked(&s, 10000, 30000, 100);
    TAP_CHECK(t, moved && s.rtt_ewma_us == 10000, "the first sample is the average, and moves");
    for (int i = 1; i < 100; i++)
        moved = health_rtt_sample_locked(&s, 10000, 30000, 100 + i);
    TAP_CHECK(t, !moved && s.rtt_samples == 100, "steady samples move nothing");
    moved = health_rtt_sample_locked(&s, 200000, 30000, 200);
    TAP_CHECK(t, s.rtt_ewma_us > 14000 && s.rtt_ewma_us < 15000,
              "one slow sample 1 s later weighs 1 - 2^(-1/30): 10 -> %.1f ms",
              s.rtt_ewma_us / 1000);
    for (int i = 1; i <= 30; i++)
        health_rtt_sample_locked(&s, 200000, 30000, 200 + i);
    TAP_CHECK(t, s.rtt_ewma_us > 100000 && s.rtt_ewma_us < 110000,
              "a half-life of slow samples takes it about halfway: %.1f ms", s.rtt_ewma_us / 1000);
    struct health_slot n = {0};
    health_rtt_sample_locked(&n, 10000, 30000, 100);
    health_rtt_sample_locked(&n, 30000, 30000, 100.01);
    TAP_CHECK(t, n.rtt_ewma_us == 20000, "the first samples are averaged plainly (%.1f ms)",
              n.rtt_ewma_us / 1000);
    TAP_CHECK(t,
              !health_rtt_moved(10000, 10900) && health_rtt_moved(10000, 12500) &&
                  !health_rtt_moved(1000, 2900) && health_rtt_moved(1000, 3100) &&
                  health_rtt_moved(30000, 20000),
              "moved: by more than 10 %% and 2 ms, either way");
}

static void test_fastest(struct tap *t, struct fixture *f)
{
    unsigned c[4];
    struct policy_result r;
    own(f, "us1", 40);
    own(f, "eu1", 12);
    own(f, "eu2", 30);
    own(f, "ap1", 80);
    refresh(f);
    answers(f, "lat.example.com.", NULL, 200, c, &r);
    TAP_CHECK(t, c[1] == 200 && r.n == 1 && r.outcome == POLICY_SERVED && r.ecs_scope == 0,
              "the fastest answers alone, scope 0 without a vantage map (%u %u %u %u)", c[0], c[1],
              c[2], c[3]);
    own(f, "eu2", 12.5);
    refresh(f);
    answers(f, "lat.example.com.", NULL, 2000, c, &r);
    TAP_CHECK(t, c[1] > 800 && c[2] > 800 && c[0] == 0,
              "within the tolerance (2 ms or 10 %%) two share: %u / %u of 2000", c[1], c[2]);
    health_restore(ep(f, "eu1")->slot, HEALTH_DOWN, 0);
    answers(f, "lat.example.com.", NULL, 200, c, &r);
    TAP_CHECK(t, c[2] == 200, "a down endpoint is never answered, however fast");
    health_restore(ep(f, "eu2")->slot, HEALTH_DOWN, 0);
    answers(f, "lat.example.com.", NULL, 200, c, &r);
    TAP_CHECK(t, c[0] == 200, "then the next fastest (us1 at 40 ms, before ap1 at 80)");
    health_restore(ep(f, "eu1")->slot, HEALTH_UP, 0);
    health_restore(ep(f, "eu2")->slot, HEALTH_UP, 0);
}

static void test_unknown(struct tap *t, struct fixture *f)
{
    unsigned c[4];
    struct policy_result r;
    for (int i = 0; i < 4; i++)
        f->g->pools[0].eps[i].slot->rtt_samples = 0;
    health_rtt_changed(&f->core, true);
    refresh(f);
    answers(f, "lat.example.com.", NULL, 100, c, &r);
    TAP_CHECK(t, c[3] == 100, "no latency known: the record's region order (ap first)");
    own(f, "us1", 50);
    refresh(f);
    answers(f, "lat.example.com.", NULL, 100, c, &r);
    TAP_CHECK(t, c[0] == 100, "an endpoint with a latency goes before those without");
    health_restore(ep(f, "us1")->slot, HEALTH_DOWN, 0);
    answers(f, "lat.example.com.", NULL, 100, c, &r);
    TAP_CHECK(t, c[3] == 100, "and when it is down, the region order again");
    health_restore(ep(f, "us1")->slot, HEALTH_UP, 0);
    struct policy_geo_retired ret = {0};
    TAP_CHECK(t, policy_latency_refresh(f->g, f->pg, &ret) == 0 && ret.n == 0,
              "a refresh without a change rebuilds nothing");
}

/* Another node's table as the fleet would put it. */
static void remote(struct fixture *f, const char *node, const double ms[4])
{
    struct health_rtt_table *tab = calloc(1, sizeof(*tab));
    tab->rows = calloc(4, sizeof(*tab->rows));
    snprintf(tab->node, sizeof(tab->node), "%s", node);
    for (int i = 0; i < 4; i++) {
        tab->rows[i].key = strdup(f->g->pools[0].eps[i].key);
        tab->rows[i].e = (struct health_rtt_entry){(uint32_t)(ms[i] * 1000), 10, f->now};
    }
    tab->n = 4;
    health_rtt_table_sort(tab);
    health_rtt_put(&f->core, tab);
}

static void test_vantage(struct tap *t, struct fixture *f)
{
    unsigned c[4];
    struct policy_result r;
    health_rtt_set_self(&f->core, "n1");
    own(f, "us1", 5);
    own(f, "eu1", 50);
    own(f, "eu2", 50);
    own(f, "ap1", 90);
    remote(f, "n2", (const double[]){60, 8, 30, 90});
    refresh(f);
    answers(f, "map.example.com.", "10.2.3.0", 50, c, &r);
    TAP_CHECK(t, c[1] == 50 && r.ecs_scope == 16,
              "a client of n2's key gets n2's fastest, scope 16 (%u %u %u %u, /%u)", c[0], c[1],
              c[2], c[3], r.ecs_scope);
    answers(f, "map.example.com.", "192.0.2.0", 50, c, &r);
    TAP_CHECK(t, c[0] == 50, "default: n1, this node: its own fastest");
    answers(f, "map.example.com.", "10.3.0.0", 50, c, &r);
    TAP_CHECK(t, c[0] == 50, "n3 has no table: the node that answers (n1, its fastest)");
    health_rtt_drop(&f->core, "n2");
    refresh(f);
    answers(f, "map.example.com.", "10.2.3.0", 50, c, &r);
    TAP_CHECK(t, c[0] == 50, "n2's table gone: the next node of its list (n1)");
    remote(f, "n2", (const double[]){60, 8, 30, 90});
    refresh(f);
    const struct policy_lat_table *tab = policy_latency_table(f->pg, rec(f, "map.example.com."), 0);
    TAP_CHECK(t,
              tab && strcmp(tab->vantage, "n2") == 0 && tab->n == 4 && tab->n_known == 4 &&
                  tab->rows[0].ewma_us == 8000 && tab->rows[3].ewma_us == 90000,
              "the class's table is n2's, sorted");
}

/* A configuration of one pool and record rec_json names an error. */
static void check_error(struct tap *t, const char *rec_json, const char *want)
{
    char conf[2048];
    snprintf(conf, sizeof(conf),
             "{\"regions\": {\"us\": {}}, \"pools\": {\"p\": {\"endpoints\": [{\"name\": \"a\", "
             "\"address\": \"192.0.2.1\", \"region\": \"us\"}]}}, \"records\": "
             "{\"a.example.com.\": %s}}",
             rec_json);
    TAP_CHECK(t, policy_conf_error(conf, want), "config error mentions %s", want);
}

static void test_config_errors(struct tap *t)
{
    check_error(t, "{\"pool\": \"p\", \"latency\": {}}",
                "$.records[\"a.example.com.\"].latency: only used with \"policy\": \"latency\"");
    check_error(t,
                "{\"pool\": \"p\", \"policy\": \"latency\", \"latency\": {\"tolerance_ms\": -1}}",
                "$.records[\"a.example.com.\"].latency.tolerance_ms");
    check_error(t,
                "{\"pool\": \"p\", \"policy\": \"latency\", \"latency\": {\"vantage\": "
                "{\"default\": 3}}}",
                "$.records[\"a.example.com.\"].latency.vantage[\"default\"]: must be a node name");
    check_error(t,
                "{\"pool\": \"p\", \"policy\": \"latency\", \"latency\": {\"vantage\": "
                "{\"country:DE\": \"n1\"}}}",
                "$.records[\"a.example.com.\"].latency.vantage: needs a \"default\" node name or "
                "list of them (for clients no other key matches)");
    check_error(t, "{\"pool\": \"p\", \"policy\": \"latency\", \"latency\": {\"vantage\": {}}}",
                "$.records[\"a.example.com.\"].latency.vantage: must be an object of geo keys -> a "
                "node name or a list of them, with a \"default\"");
    check_error(t, "{\"pool\": \"p\", \"policy\": \"latency\", \"latency\": {\"bogus\": 1}}",
                "bogus");
}

int main(void)
{
    struct tap t = {0, 0};
    struct fixture f = {.rng = 12345, .now = 1000};
    struct errlist e;
    errlist_init(&e);
    struct jsoncfg j = {.errs = &e, .file = "test.json", .dir = "."};
    json_t *root = json_loads(CONF, 0, NULL);
    const char *origins[] = {"example.com."};
    f.g = policy_config_parse(&j, root, origins, 1);
    for (size_t i = 0; i < e.count; i++)
        printf("# %s\n", e.msgs[i]);
    if (!TAP_CHECK(&t, e.count == 0, "test policy config parses"))
        return tap_done(&t);
    health_core_init(&f.core);
    gslb_map_health(f.g, &f.core);
    for (int i = 0; i < 4; i++)
        health_restore(f.g->pools[0].eps[i].slot, HEALTH_UP, 0);
    f.pg = policy_geo_build(f.g, NULL, "test.json", &e);
    if (!TAP_CHECK(&t, f.pg != NULL, "latency records get geo data (no database)"))
        return tap_done(&t);
    test_ewma(&t);
    test_fastest(&t, &f);
    test_unknown(&t, &f);
    test_vantage(&t, &f);
    test_config_errors(&t);
    policy_geo_free(f.pg);
    gslb_unref(f.g);
    health_core_free(&f.core);
    json_decref(root);
    errlist_free(&e);
    return tap_done(&t);
}

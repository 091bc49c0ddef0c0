/* Unit tests for src/policy (config parsing and evaluation), with health
 * slots set by hand. */
#include <arpa/inet.h>
#include <jansson.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>

#include "common/jsoncfg.h"
#include "dns/dns.h"
#include "health/health.h"
#include "health/override.h"
#include "policy/policy_answer.h"
#include "policy/policy_config.h"
#include "policy/policy_eval.h"
#include "policy_conf_check.h"
#include "tap.h"

static const char *CONF =
    "{\"regions\": {\"us\": {\"location\": [38.9, -77.0]}, \"eu\": {}, \"ap\": {}},"
    " \"checks\": {\"web\": {\"type\": \"tcp\", \"port\": 80, \"interval\": 1, \"timeout\": 0.5}},"
    " \"pools\": {\"web\": {\"check\": \"web\", \"endpoints\": ["
    "   {\"name\": \"us1\", \"address\": \"192.0.2.1\", \"region\": \"us\", \"az\": \"us-1a\", "
    "\"weight\": 1},"
    "   {\"name\": \"us2\", \"address\": \"192.0.2.2\", \"region\": \"us\", \"az\": \"us-1b\", "
    "\"weight\": 3},"
    "   {\"name\": \"eu1\", \"address\": \"192.0.2.3\", \"region\": \"eu\", \"weight\": 1},"
    "   {\"name\": \"ap1\", \"address\": \"192.0.2.4\", \"region\": \"ap\", \"weight\": 1},"
    "   {\"name\": \"us6\", \"address\": \"2001:db8::1\", \"region\": \"us\"}]},"
    "  \"cn\": {\"endpoints\": [{\"name\": \"a\", \"cname\": \"a.example.net.\", \"region\": "
    "\"us\"}]}},"
    " \"records\": {"
    "  \"fo.example.com.\": {\"pool\": \"web\", \"policy\": \"failover\", \"regions\": [\"us\", "
    "\"eu\", \"ap\"], \"select\": \"all\"},"
    "  \"sp.example.com.\": {\"pool\": \"web\", \"policy\": \"failover\", \"regions\": [\"us\", "
    "\"eu\", \"ap\"], \"spill\": 2, \"answers\": 1},"
    "  \"w.example.com.\": {\"pool\": \"web\", \"policy\": \"weighted\", \"answers\": 1},"
    "  \"h.example.com.\": {\"pool\": \"web\", \"policy\": \"all\", \"select\": \"hashed\", "
    "\"answers\": 1},"
    "  \"e.example.com.\": {\"pool\": \"web\", \"policy\": \"all\", \"when_all_down\": \"empty\"},"
    "  \"f.example.com.\": {\"pool\": \"web\", \"policy\": \"all\", \"when_all_down\": "
    "\"fallback\", \"fallback\": [\"198.51.100.1\"]},"
    "  \"c.example.com.\": {\"pool\": \"cn\"}}}";

struct fixture {
    struct gslb *g;
    struct health_core core;
    uint64_t rng;
};

static struct policy_endpoint *ep(struct fixture *f, const char *pool, const char *name)
{
    struct policy_pool *p = &f->g->pools[gslb_pool_index(f->g, pool)];
    for (size_t i = 0; i < p->n_eps; i++)
        if (strcmp(p->eps[i].name, name) == 0)
            return &p->eps[i];
    abort();
}

static void set(struct fixture *f, const char *name, bool up)
{
    health_restore(ep(f, "web", name)->slot, up ? HEALTH_UP : HEALTH_DOWN, 0);
}

static const struct policy_record *rec(struct fixture *f, const char *name)
{
    for (size_t i = 0; i < f->g->n_records; i++)
        if (strcmp(gslb_rec(f->g, i)->name_str, name) == 0)
            return gslb_rec(f->g, i);
    abort();
}

static void eval(struct fixture *f, const char *name, uint16_t type,
                 const struct sockaddr_storage *client, struct policy_result *out)
{
    struct policy_client c = {.addr = client, .ecs = NULL, .rng = &f->rng};
    policy_eval(f->g, rec(f, name), type, &c, out);
}

static bool has(const struct policy_result *r, const char *name)
{
    for (uint16_t i = 0; i < r->n; i++)
        if (strcmp(r->eps[i]->name, name) == 0)
            return true;
    return false;
}

static void all_up(struct fixture *f)
{
    const char *names[] = {"us1", "us2", "eu1", "ap1", "us6"};
    for (size_t i = 0; i < 5; i++)
        set(f, names[i], true);
}

static void test_failover(struct tap *t, struct fixture *f)
{
    struct policy_result r;
    all_up(f);
    eval(f, "fo.example.com.", DNS_TYPE_A, NULL, &r);
    TAP_CHECK(t, r.n == 2 && has(&r, "us1") && has(&r, "us2") && r.outcome == POLICY_SERVED,
              "failover: first region serves all its endpoints");
    eval(f, "fo.example.com.", DNS_TYPE_AAAA, NULL, &r);
    TAP_CHECK(t, r.n == 1 && has(&r, "us6"), "AAAA from the IPv6 endpoints only");
    set(f, "us1", false);
    eval(f, "fo.example.com.", DNS_TYPE_A, NULL, &r);
    TAP_CHECK(t, r.n == 1 && has(&r, "us2"), "down endpoint skipped inside the region");
    set(f, "us2", false);
    eval(f, "fo.example.com.", DNS_TYPE_A, NULL, &r);
    TAP_CHECK(t, r.n == 1 && has(&r, "eu1") && r.serving_region == 1,
              "region down: next region serves");
    set(f, "eu1", false);
    eval(f, "fo.example.com.", DNS_TYPE_A, NULL, &r);
    TAP_CHECK(t, r.n == 1 && has(&r, "ap1"), "cascade to the third region");
    set(f, "ap1", false);
    eval(f, "fo.example.com.", DNS_TYPE_A, NULL, &r);
    TAP_CHECK(t, r.outcome == POLICY_FAIL_OPEN && r.n == 4, "all down: fail open, every endpoint");
}

static void test_spill(struct tap *t, struct fixture *f)
{
    struct policy_result r;
    int eu = 0, ap = 0;
    all_up(f);
    set(f, "us1", false);
    set(f, "us2", false);
    for (int i = 0; i < 1000; i++) {
        eval(f, "sp.example.com.", DNS_TYPE_A, NULL, &r);
        eu += has(&r, "eu1");
        ap += has(&r, "ap1");
    }
    TAP_CHECK(t, eu > 350 && ap > 350 && eu + ap == 1000,
              "spill 2: the failed region's traffic spreads over eu and ap (%d/%d)", eu, ap);
    set(f, "us2", true);
    eval(f, "sp.example.com.", DNS_TYPE_A, NULL, &r);
    TAP_CHECK(t, r.n == 1 && has(&r, "us2"), "primary back: no spill");
}

static void test_weighted(struct tap *t, struct fixture *f)
{
    struct policy_result r;
    int counts[4] = {0, 0, 0, 0};
    const char *names[] = {"us1", "us2", "eu1", "ap1"};
    all_up(f);
    for (int i = 0; i < 12000; i++) {
        eval(f, "w.example.com.", DNS_TYPE_A, NULL, &r);
        for (int k = 0; k < 4; k++)
            counts[k] += has(&r, names[k]);
    }
    /* weights 1:3:1:1 of 6: expected 2000, 6000, 2000, 2000 (sd ~41). */
    TAP_CHECK(t, counts[1] > 5700 && counts[1] < 6300 && counts[0] > 1800 && counts[0] < 2200,
              "weighted: shares follow weights (%d %d %d %d)", counts[0], counts[1], counts[2],
              counts[3]);
}

static void test_hashed(struct tap *t, struct fixture *f)
{
    struct policy_result r1, r2;
    struct sockaddr_storage a, b;
    all_up(f);
    memset(&a, 0, sizeof(a));
    a.ss_family = AF_INET;
    b = a;
    inet_pton(AF_INET, "203.0.113.7", &((struct sockaddr_in *)&a)->sin_addr);
    inet_pton(AF_INET, "203.0.113.200", &((struct sockaddr_in *)&b)->sin_addr);
    eval(f, "h.example.com.", DNS_TYPE_A, &a, &r1);
    eval(f, "h.example.com.", DNS_TYPE_A, &b, &r2);
    TAP_CHECK(t, r1.n == 1 && r2.n == 1 && r1.eps[0] == r2.eps[0], "hashed: same /24, same answer");
    bool stable = true;
    for (int i = 0; i < 50; i++) {
        eval(f, "h.example.com.", DNS_TYPE_A, &a, &r2);
        stable = stable && r2.eps[0] == r1.eps[0];
    }
    TAP_CHECK(t, stable, "hashed: sticky over repeated queries");
    /* Failing another endpoint does not move this client. */
    const char *names[] = {"us1", "us2", "eu1", "ap1"};
    const char *other = strcmp(r1.eps[0]->name, names[0]) ? names[0] : names[1];
    set(f, other, false);
    eval(f, "h.example.com.", DNS_TYPE_A, &a, &r2);
    TAP_CHECK(t, r2.eps[0] == r1.eps[0], "hashed: unaffected by another endpoint's failure");
    set(f, r1.eps[0]->name, false);
    eval(f, "h.example.com.", DNS_TYPE_A, &a, &r2);
    TAP_CHECK(t, r2.n == 1 && r2.eps[0] != r1.eps[0], "hashed: moves when its endpoint fails");
}

static void test_down_modes(struct tap *t, struct fixture *f)
{
    struct policy_result r;
    const char *names[] = {"us1", "us2", "eu1", "ap1"};
    for (int i = 0; i < 4; i++)
        set(f, names[i], false);
    eval(f, "e.example.com.", DNS_TYPE_A, NULL, &r);
    TAP_CHECK(t, r.outcome == POLICY_EMPTY && r.n == 0, "when_all_down empty: nothing");
    eval(f, "f.example.com.", DNS_TYPE_A, NULL, &r);
    TAP_CHECK(t,
              r.outcome == POLICY_FALLBACK && r.n == 1 &&
                  strcmp(r.eps[0]->address_str, "198.51.100.1") == 0,
              "when_all_down fallback: the static list");
    eval(f, "c.example.com.", DNS_TYPE_CNAME, NULL, &r);
    TAP_CHECK(t, r.n == 1 && r.eps[0]->rtype == DNS_TYPE_CNAME, "unchecked CNAME pool: always up");
}

/* policy_answer: the records placed as an RRset's data, the TTL, one
 * CNAME per name, nothing for when_all_down empty, and the scoped drills'
 * ECS floor (no signatures without a store: covered by test_policy_sign
 * and the DNSSEC integration tests). */
static void test_answer(struct tap *t, struct fixture *f)
{
    struct policy_answer a;
    uint8_t rd[POLICY_ANSWER_RDATA];
    struct policy_client c = {.rng = &f->rng};
    all_up(f);
    policy_answer(f->g, NULL, rec(f, "fo.example.com."), DNS_TYPE_A, &c, true, rd, &a);
    TAP_CHECK(t,
              a.count == 2 && a.rdata_len == 2 * (2 + 4) &&
                  a.ttl == rec(f, "fo.example.com.")->ttl && !a.sigs && a.ecs_scope == 0 &&
                  rd[0] == 0 && rd[1] == 4 && a.res.outcome == POLICY_SERVED,
              "two A records, each RDLENGTH 4 then the address; no store: unsigned");
    c.ecs_scope_min = 24;
    policy_answer(f->g, NULL, rec(f, "fo.example.com."), DNS_TYPE_A, &c, false, rd, &a);
    TAP_CHECK(t, a.ecs_scope == 24 && a.res.ecs_scope == 0,
              "a scoped drill's floor raises the scope (the evaluation's stays 0)");
    c.ecs_scope_min = 0;
    policy_answer(f->g, NULL, rec(f, "c.example.com."), DNS_TYPE_CNAME, &c, false, rd, &a);
    TAP_CHECK(t, a.count == 1 && a.rdata_len > 2, "a CNAME record answers one name");
    const char *names[] = {"us1", "us2", "eu1", "ap1", "us6"};
    for (size_t i = 0; i < 5; i++)
        set(f, names[i], false);
    policy_answer(f->g, NULL, rec(f, "e.example.com."), DNS_TYPE_A, &c, false, rd, &a);
    TAP_CHECK(t, a.count == 0 && a.rdata_len == 0, "when_all_down empty: nothing to answer");
    all_up(f);
    /* A scoped drill's view: canary 10.1.0.0/16 loses region us. */
    struct policy_net net;
    char err[128];
    TAP_CHECK(t, policy_net_parse("10.1.0.0/16", &net, err, sizeof(err)),
              "the canary network parses");
    const struct health_slot *lost[] = {f->g->regions[gslb_region_index(f->g, "us")].slot};
    struct policy_loss *v = policy_loss_new();
    policy_loss_add(v, "drl-1", &net, 1, lost, 1);
    struct dns_ecs in = {.present = true, .family = 1, .source_prefix = 24, .addr = {10, 1, 2}};
    struct dns_ecs out = {.present = true, .family = 1, .source_prefix = 24, .addr = {10, 2, 2}};
    struct policy_loss_match lm;
    struct policy_overlay ov = {.slot = NULL};
    struct policy_client cc = {.rng = &f->rng, .ecs = &in};
    policy_answer_client(v, NULL, &in, &lm, &ov, &cc);
    policy_answer(f->g, NULL, rec(f, "fo.example.com."), DNS_TYPE_A, &cc, false, rd, &a);
    TAP_CHECK(t,
              cc.canary && cc.overlay == &ov && cc.ecs_scope_min >= 16 && a.count == 1 &&
                  a.res.serving_region == gslb_region_index(f->g, "eu") && a.ecs_scope >= 16,
              "a canary client: us lost (eu1 answers), a scope of the canary's at least (%u)",
              a.ecs_scope);
    struct policy_client oc = {.rng = &f->rng, .ecs = &out};
    policy_answer_client(v, NULL, &out, &lm, &ov, &oc);
    policy_answer(f->g, NULL, rec(f, "fo.example.com."), DNS_TYPE_A, &oc, false, rd, &a);
    TAP_CHECK(t, !oc.canary && !oc.overlay && a.count == 2,
              "a client outside it: nothing lost, both answers");
    policy_loss_free(v);
}

static void check_error(struct tap *t, const char *json, const char *want)
{
    TAP_CHECK(t, policy_conf_error(json, want), "config error mentions %s", want);
}

#define LONG_LABEL "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"

static void test_config_errors(struct tap *t)
{
    check_error(t, "{\"records\": {\"a.example.com.\": {\"pool\": \"nope\"}}}",
                "$.records[\"a.example.com.\"].pool: pool \"nope\" is not defined");
    check_error(t,
                "{\"regions\": {\"us\": {}}, \"pools\": {\"p\": {\"endpoints\": [{\"name\": "
                "\"a\", \"address\": \"192.0.2.1\", \"region\": \"us\"}]}}, \"records\": "
                "{\"a.example.org.\": {\"pool\": \"p\"}}}",
                "$.records[\"a.example.org.\"]: a.example.org. is outside every zone in zones");
    check_error(t,
                "{\"regions\": {\"us\": {}}, \"pools\": {\"p\": {\"endpoints\": [{\"name\": "
                "\"a\", \"address\": \"300.0.0.1\", \"region\": \"us\"}]}}}",
                "$.pools.p.endpoints[0]: address");
    check_error(t,
                "{\"pools\": {\"p\": {\"endpoints\": [{\"name\": \"a\", \"address\": "
                "\"192.0.2.1\", \"region\": \"mars\"}]}}}",
                "region \"mars\" is not defined");
    /* A probe host that names nothing, or is not a name (a label of 64). */
    static const char *const hosts[] = {"", ".", "a..b", "a" LONG_LABEL ".example."};
    for (size_t i = 0; i < 4; i++) {
        char conf[600], want[100];
        snprintf(conf, sizeof(conf),
                 "{\"regions\": {\"us\": {}}, \"checks\": {\"h\": {\"type\": \"tcp\", "
                 "\"port\": 80}}, \"pools\": {\"p\": {\"check\": \"h\", \"endpoints\": "
                 "[{\"name\": \"a\", \"address\": \"192.0.2.1\", \"region\": \"us\", "
                 "\"check_target\": {\"host\": \"%s\"}}]}}}",
                 hosts[i]);
        snprintf(want, sizeof(want), "$.pools.p.endpoints[0].check_target: host \"%s\" is not",
                 hosts[i]);
        check_error(t, conf, want);
    }
    check_error(t,
                "{\"regions\": {\"us\": {}}, \"pools\": {\"p\": {\"check\": \"x\", \"endpoints\": "
                "[{\"name\": \"a\", \"address\": \"192.0.2.1\", \"region\": \"us\"}]}}}",
                "$.pools.p.check: check \"x\" is not defined");
    check_error(t,
                "{\"regions\": {\"us\": {}}, \"pools\": {\"p\": {\"endpoints\": [{\"name\": "
                "\"a\", \"address\": \"192.0.2.1\", \"region\": \"us\"}]}}, \"records\": "
                "{\"a.example.com.\": {\"pool\": \"p\", \"policy\": \"random\"}}}",
                "$.records[\"a.example.com.\"].policy: \"random\" is not one of");
    check_error(t,
                "{\"regions\": {\"us\": {}}, \"pools\": {\"p\": {\"endpoints\": [{\"name\": "
                "\"a\", \"address\": \"192.0.2.1\", \"region\": \"us\"}]}}, \"records\": "
                "{\"a.example.com.\": [{\"pool\": \"p\"}, {\"pool\": \"p\"}]}}",
                "$.records[\"a.example.com.\"][1]: a.example.com. already has a A policy record "
                "at $.records[\"a.example.com.\"][0]");
    /* Two keys of one name (case, the final dot, an escape): bound through
     * the table of names, not by key (policy_record.loose_key). */
    static const char *const same[] = {"A.example.com.", "a.example.com", "\\\\097.example.com."};
    for (size_t i = 0; i < 3; i++) {
        char conf[600];
        snprintf(conf, sizeof(conf),
                 "{\"regions\": {\"us\": {}}, \"pools\": {\"p\": {\"endpoints\": [{\"name\": "
                 "\"a\", \"address\": \"192.0.2.1\", \"region\": \"us\"}]}}, \"records\": "
                 "{\"a.example.com.\": {\"pool\": \"p\"}, \"%s\": {\"pool\": \"p\"}}}",
                 same[i]);
        check_error(t, conf, "already has a A policy record");
        /* The second key's record, named by its key (the JSON's text decoded). */
        char want[200];
        static const char *const key[] = {"A.example.com.", "a.example.com", "\\097.example.com."};
        snprintf(want, sizeof(want), "$.records[\"%s\"]: %s already has", key[i], key[i]);
        check_error(t, conf, want);
    }
}

static struct gslb *parse_conf(const char *text)
{
    return policy_conf_parse(text);
}

/* A reload as the daemon does it: the new set is mapped while the old one
 * still serves, then the old one goes. Endpoints the new one dropped lose
 * their slot; kept ones keep slot and state; regions stay. */
static void test_slots_follow_policy_sets(struct tap *t)
{
    char *conf2 = strdup(CONF);
    char *p = strstr(conf2, "\"eu1\"");
    memcpy(p, "\"eu9\"", 5); /* eu1 renamed: removed, and eu9 added */
    struct health_core core;
    char id[32];
    health_core_init(&core);
    struct gslb *g1 = parse_conf(CONF), *g2 = parse_conf(conf2);
    gslb_map_health(g1, &core);
    size_t n1 = core.n_slots;
    struct health_slot *us1 = g1->pools[0].eps[0].slot;
    health_restore(us1, HEALTH_UP, 0);
    gslb_map_health(g2, &core);
    TAP_CHECK(t, core.n_slots == n1 + 1 && g2->pools[0].eps[0].slot == us1,
              "while both sets live: the old slots and eu9's (%zu -> %zu)", n1, core.n_slots);
    gslb_unref(g1);
    TAP_CHECK(t,
              core.n_slots == n1 && !health_core_find(&core, "endpoint:web/eu1") &&
                  health_core_find(&core, "endpoint:web/eu9") &&
                  health_slot_probe(us1) == HEALTH_UP && health_core_find(&core, "region:eu"),
              "the old set freed: eu1's slot goes, us1 keeps its slot and state, regions stay "
              "(%zu slots)",
              core.n_slots);
    override_add(&core, "endpoint:web/eu9", HEALTH_DOWN, "drain", "me", 0, id);
    gslb_unref(g2);
    TAP_CHECK(t,
              health_core_find(&core, "endpoint:web/eu9") &&
                  !health_core_find(&core, "endpoint:web/us1") &&
                  health_core_find(&core, "az:us-1a"),
              "the last set freed: only slots with an override, and regions and azs, stay");
    override_remove(&core, id);
    TAP_CHECK(t, !health_core_find(&core, "endpoint:web/eu9"), "until that override goes");
    health_core_free(&core);
    free(conf2);
}

/* Three records of one pool and order: one without any of the rarely used
 * parts, one with ttl_min alone (inline), one with a failback ramp, load
 * shedding and fallback answers (policy_record_ext). */
static const char *EXT_CONF =
    "{\"regions\": {\"us\": {}, \"eu\": {}},"
    " \"checks\": {\"web\": {\"type\": \"tcp\", \"port\": 80, \"interval\": 1, \"timeout\": 0.5}},"
    " \"pools\": {\"web\": {\"check\": \"web\", \"endpoints\": ["
    "   {\"name\": \"us1\", \"address\": \"192.0.2.1\", \"region\": \"us\"},"
    "   {\"name\": \"us2\", \"address\": \"192.0.2.2\", \"region\": \"us\"},"
    "   {\"name\": \"eu1\", \"address\": \"192.0.2.3\", \"region\": \"eu\"}]}},"
    " \"records\": {"
    "  \"plain.example.com.\": {\"pool\": \"web\", \"regions\": [\"us\", \"eu\"]},"
    "  \"ttl.example.com.\": {\"pool\": \"web\", \"regions\": [\"us\", \"eu\"], \"ttl\": 60,"
    "   \"ttl_min\": 5},"
    "  \"ext.example.com.\": {\"pool\": \"web\", \"regions\": [\"us\", \"eu\"],"
    "   \"failback\": {\"ramp\": 30}, \"shed_load\": {\"low\": 2, \"high\": 4},"
    "   \"when_all_down\": \"fallback\", \"fallback\": [\"198.51.100.7\", \"198.51.100.8\"]}}}";

static const struct policy_record *rec_of(const struct gslb *g, const char *name)
{
    for (size_t i = 0; i < g->n_records; i++)
        if (strcmp(gslb_rec(g, i)->name_str, name) == 0)
            return gslb_rec(g, i);
    abort();
}

/* The record split (policy_record.ext): a record that uses none of the
 * rarely used parts has no block, one that does has them all in it, and
 * both evaluate as before: the same answers while anything is up (the
 * ramp and shedding idle), then fail open and the fallback answers. */
static void test_record_ext(struct tap *t)
{
    struct gslb *g = policy_conf_parse(EXT_CONF);
    if (!TAP_CHECK(t, g != NULL, "the split records' configuration parses"))
        return;
    struct health_core core;
    health_core_init(&core);
    gslb_map_health(g, &core);
    const struct policy_record *p = rec_of(g, "plain.example.com."),
                               *tl = rec_of(g, "ttl.example.com."),
                               *x = rec_of(g, "ext.example.com.");
    TAP_CHECK(t, p->ext == NULL && tl->ext == NULL && tl->health_ttl && tl->ttl_min == 5,
              "no block without the rare parts (ttl_min is inline)");
    const struct policy_record_ext *b = x->ext;
    TAP_CHECK(t,
              b && b->ramp_ms == 30000 && x->shed && b->shed_low == 2 && b->shed_high == 4 &&
                  b->n_fallback == 2 && strcmp(b->fallback[1].address_str, "198.51.100.8") == 0 &&
                  !b->geo && !b->latency && g->ramp && g->n_ramped == 1,
              "the ramp, the watermarks and the fallback answers in the block");
    TAP_CHECK(t,
              policy_ext_of(p)->ramp_ms == 0 && policy_ext_of(p)->n_fallback == 0 &&
                  !policy_ext_of(p)->geo,
              "a record without a block reads as none of them");
    struct sockaddr_storage ss = {0};
    struct sockaddr_in *sin = (struct sockaddr_in *)&ss;
    sin->sin_family = AF_INET;
    inet_pton(AF_INET, "203.0.113.9", &sin->sin_addr);
    uint64_t rng = 7;
    struct policy_client c = {.addr = &ss, .rng = &rng}; /* a client: the ramp is looked at */
    static const char *const downs[][3] = {{NULL}, {"us1"}, {"us1", "us2"}, {"us2", "eu1"}};
    bool same = true;
    for (size_t k = 0; k < sizeof(downs) / sizeof(downs[0]); k++) {
        const struct policy_pool *pool = &g->pools[p->pool];
        for (size_t i = 0; i < pool->n_eps; i++) {
            bool down = false;
            for (size_t d = 0; d < 3 && downs[k][d]; d++)
                down = down || strcmp(pool->eps[i].name, downs[k][d]) == 0;
            health_restore(pool->eps[i].slot, down ? HEALTH_DOWN : HEALTH_UP, 0);
        }
        struct policy_result rp, rt, rx;
        policy_eval(g, p, DNS_TYPE_A, &c, &rp);
        policy_eval(g, tl, DNS_TYPE_A, &c, &rt);
        policy_eval(g, x, DNS_TYPE_A, &c, &rx);
        bool ok = rp.outcome == POLICY_SERVED && rp.n > 0 && policy_result_same(&rp, &rt) &&
                  policy_result_same(&rp, &rx);
        if (!ok)
            printf("# differ with %zu down: n %u %u %u\n", k, rp.n, rt.n, rx.n);
        same = same && ok;
    }
    TAP_CHECK(t, same, "while a region is up: the three answer alike");
    const struct policy_pool *pool = &g->pools[p->pool];
    for (size_t i = 0; i < pool->n_eps; i++)
        health_restore(pool->eps[i].slot, HEALTH_DOWN, 0);
    struct policy_result rp, rx;
    policy_eval(g, p, DNS_TYPE_A, &c, &rp);
    policy_eval(g, x, DNS_TYPE_A, &c, &rx);
    TAP_CHECK(t, rp.outcome == POLICY_FAIL_OPEN && rp.n == 3,
              "all down, no block: fail open (%u answers)", rp.n);
    TAP_CHECK(t,
              rx.outcome == POLICY_FALLBACK && rx.n == 2 && rx.eps[0] == &b->fallback[0] &&
                  rx.eps[1] == &b->fallback[1],
              "all down, with the block: its fallback answers (%u)", rx.n);
    gslb_unref(g);
    health_core_free(&core);
}

/* policy_answer_ttl: the configured TTL without ttl_min or without a
 * known change; else the seconds until the change, rounded up, between
 * ttl_min and ttl; ttl_min once the change is past due. */
static void test_health_ttl(struct tap *t)
{
    struct policy_record r = {.ttl = 60};
    struct policy_result res = {.change_at_ms = health_mono_ms() + 2500};
    TAP_CHECK(t, policy_answer_ttl(&r, &res) == 60, "no ttl_min: the TTL");
    r.health_ttl = true;
    r.ttl_min = 1;
    uint32_t v = policy_answer_ttl(&r, &res);
    TAP_CHECK(t, v == 3 || v == 2, "2.5 s to a change: %u (rounded up)", v);
    res.change_at_ms = health_mono_ms() + 600000;
    TAP_CHECK(t, policy_answer_ttl(&r, &res) == 60, "a change past ttl: ttl");
    res.change_at_ms = health_mono_ms() - 5000;
    TAP_CHECK(t, policy_answer_ttl(&r, &res) == 1, "past due: ttl_min");
    r.ttl_min = 5;
    res.change_at_ms = health_mono_ms() + 1000;
    TAP_CHECK(t, policy_answer_ttl(&r, &res) == 5, "never below ttl_min");
    res.change_at_ms = 0;
    TAP_CHECK(t, policy_answer_ttl(&r, &res) == 60, "steady: ttl");
}

int main(void)
{
    struct tap t = {0, 0};
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
    test_failover(&t, &f);
    test_spill(&t, &f);
    test_weighted(&t, &f);
    test_hashed(&t, &f);
    test_down_modes(&t, &f);
    test_answer(&t, &f);
    test_config_errors(&t);
    test_slots_follow_policy_sets(&t);
    test_health_ttl(&t);
    test_record_ext(&t);
    gslb_unref(f.g);
    health_core_free(&f.core);
    json_decref(root);
    errlist_free(&e);
    return tap_done(&t);
}

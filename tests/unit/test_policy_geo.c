/* Unit tests for geo and nearest records: parsing, compiling over the test
 * database (tests/data/geo-city.mmdb, see make_geo_db.pl), the client's
 * class, region order, failover along it and the ECS scope. Health slots
 * are set by hand. */
#include <arpa/inet.h>
#include <jansson.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/jsoncfg.h"
#include "drill/drill_whatif.h"
#include "dns/dns.h"
#include "health/health.h"
#include "policy/policy_config.h"
#include "policy/policy_eval.h"
#include "policy/policy_geo.h"
#include "tap.h"

static const char *CONF =
    "{\"regions\": {\"us\": {\"location\": [38.9, -77.0]}, \"eu\": {\"location\": [50.1, 8.7]},"
    "  \"ap\": {\"location\": [35.7, 139.7]}, \"oc\": {\"location\": [-33.9, 151.2]}},"
    " \"pools\": {\"web\": {\"endpoints\": ["
    "   {\"name\": \"us1\", \"address\": \"192.0.2.1\", \"region\": \"us\"},"
    "   {\"name\": \"eu1\", \"address\": \"192.0.2.2\", \"region\": \"eu\"},"
    "   {\"name\": \"ap1\", \"address\": \"192.0.2.3\", \"region\": \"ap\"},"
    "   {\"name\": \"oc1\", \"address\": \"192.0.2.4\", \"region\": \"oc\"},"
    "   {\"name\": \"eu6\", \"address\": \"2001:db8::2\", \"region\": \"eu\"}]}},"
    " \"records\": {"
    "  \"g.example.com.\": {\"pool\": \"web\", \"policy\": \"geo\", \"geo\": {"
    "     \"continent:EU\": [\"eu\", \"us\"], \"country:JP\": [\"ap\", \"us\"],"
    "     \"country:AS\": [\"oc\", \"us\"], \"continent:AS\": [\"ap\", \"eu\"],"
    "     \"subdivision:US-CA\": [\"us\", \"ap\"], \"network:10.1.2.0/24\": [\"oc\"],"
    "     \"network:2001:db8:2::/48\": [\"oc\", \"eu\"], \"default\": [\"us\", \"eu\"]}},"
    "  \"g2.example.com.\": {\"pool\": \"web\", \"policy\": \"geo\", \"ecs\": false, \"geo\": {"
    "     \"continent:EU\": [\"us\"], \"country:JP\": [\"eu\"],"
    "     \"country:AS\": [\"us\"], \"continent:AS\": [\"us\"],"
    "     \"subdivision:US-CA\": [\"eu\"], \"network:10.1.2.0/24\": [\"us\"],"
    "     \"network:2001:db8:2::/48\": [\"us\"], \"default\": [\"ap\"]}},"
    "  \"gh.example.com.\": {\"pool\": \"web\", \"policy\": \"geo\", \"select\": \"hashed\","
    "     \"geo\": {\"continent:EU\": [\"eu\"], \"default\": [\"us\"]}},"
    "  \"gs.example.com.\": {\"pool\": \"web\", \"policy\": \"geo\", \"spill\": 2, \"answers\": 1,"
    "     \"geo\": {\"continent:EU\": [\"eu\", \"us\", \"ap\"], \"default\": [\"us\"]}},"
    "  \"ge.example.com.\": {\"pool\": \"web\", \"policy\": \"geo\", \"when_all_down\": \"empty\","
    "     \"geo\": {\"continent:EU\": [\"eu\"], \"default\": [\"us\"]}},"
    "  \"w.example.com.\": {\"pool\": \"web\", \"policy\": \"geo\", \"geo\": {"
    "     \"continent:EU\": [\"eu\", \"us\"], \"network:10.1.2.0/24\": [\"us\"],"
    "     \"default\": [\"us\"]}},"
    "  \"n.example.com.\": {\"pool\": \"web\", \"policy\": \"nearest\"},"
    "  \"n2.example.com.\": {\"pool\": \"web\", \"policy\": \"nearest\","
    "     \"regions\": [\"ap\", \"us\", \"eu\"]}}}";

struct fixture {
    struct gslb *g;
    struct policy_geo *pg;
    struct health_core core;
    uint64_t rng;
};

static const char *srcdir(void)
{
    const char *s = getenv("SRCDIR");
    return s ? s : ".";
}

static void set(struct fixture *f, const char *name, bool up)
{
    struct policy_pool *p = &f->g->pools[gslb_pool_index(f->g, "web")];
    for (size_t i = 0; i < p->n_eps; i++)
        if (strcmp(p->eps[i].name, name) == 0)
            health_restore(p->eps[i].slot, up ? HEALTH_UP : HEALTH_DOWN, 0);
}

static void all_up(struct fixture *f)
{
    const char *names[] = {"us1", "eu1", "ap1", "oc1", "eu6"};
    for (size_t i = 0; i < 5; i++)
        set(f, names[i], true);
}

static const struct policy_record *rec(struct fixture *f, const char *name)
{
    for (size_t i = 0; i < f->g->n_records; i++)
        if (strcmp(gslb_rec(f->g, i)->name_str, name) == 0)
            return gslb_rec(f->g, i);
    abort();
}

/* Evaluates name for a client: ecs "ADDR/LEN" (NULL: none), source
 * address src (NULL: none). */
static void eval(struct fixture *f, const char *name, uint16_t type, const char *ecs,
                 const char *src, struct policy_result *out, struct policy_trace *trace)
{
    struct dns_ecs e;
    struct sockaddr_storage ss;
    memset(&e, 0, sizeof(e));
    memset(&ss, 0, sizeof(ss));
    if (ecs) {
        char a[64];
        snprintf(a, sizeof(a), "%s", ecs);
        char *slash = strchr(a, '/');
        *slash = 0;
        e.present = true;
        e.source_prefix = (uint8_t)atoi(slash + 1);
        e.family = strchr(a, ':') ? 2 : 1;
        inet_pton(e.family == 1 ? AF_INET : AF_INET6, a, e.addr);
    }
    if (src && strchr(src, ':')) {
        ss.ss_family = AF_INET6;
        inet_pton(AF_INET6, src, &((struct sockaddr_in6 *)&ss)->sin6_addr);
    } else if (src) {
        ss.ss_family = AF_INET;
        inet_pton(AF_INET, src, &((struct sockaddr_in *)&ss)->sin_addr);
    }
    if (trace)
        memset(trace, 0, sizeof(*trace));
    struct policy_client c = {.addr = src ? &ss : NULL,
                              .ecs = ecs ? &e : NULL,
                              .rng = &f->rng,
                              .geo = f->pg,
                              .trace = trace};
    policy_eval(f->g, rec(f, name), type, &c, out);
}

/* The region name serving name for a client, "-" when none. */
static const char *serving(struct fixture *f, const char *name, const char *ecs, const char *src,
                           uint8_t *scope)
{
    struct policy_result r;
    eval(f, name, DNS_TYPE_A, ecs, src, &r, NULL);
    if (scope)
        *scope = r.ecs_scope;
    return r.serving_region >= 0 ? f->g->regions[r.serving_region].name : "-";
}

static bool serves(struct fixture *f, const char *name, const char *ecs, const char *region,
                   int scope)
{
    uint8_t sc;
    const char *got = serving(f, name, ecs, NULL, &sc);
    bool ok = strcmp(got, region) == 0 && (scope < 0 || sc == scope);
    if (!ok)
        printf("# %s from %s: got %s scope %u, want %s scope %d\n", name, ecs, got, sc, region,
               scope);
    return ok;
}

static void test_geo_keys(struct tap *t, struct fixture *f)
{
    all_up(f);
    /* 10.1.2.0/24 (Paris) is a network key: it wins over continent:EU,
     * inside exactly its /24. */
    TAP_CHECK(t, serves(f, "g.example.com.", "10.1.2.0/24", "oc", 24), "network key, scope /24");
    TAP_CHECK(t, serves(f, "g.example.com.", "10.1.3.0/24", "eu", 24),
              "beside the network key: continent EU (Berlin), scope /24");
    TAP_CHECK(t, serves(f, "g.example.com.", "10.1.0.0/24", "eu", 23),
              "continent EU in 10.1.0.0/23, which holds no key");
    TAP_CHECK(t, serves(f, "g.example.com.", "127.0.2.0/24", "ap", 24), "country:JP (Tokyo)");
    TAP_CHECK(t, serves(f, "g.example.com.", "127.0.3.0/24", "oc", 24),
              "country:AS is American Samoa (continent OC)");
    TAP_CHECK(t, serves(f, "g.example.com.", "198.51.100.0/26", "ap", -1),
              "continent:AS is Asia (Mumbai, India)");
    TAP_CHECK(t, serves(f, "g.example.com.", "192.0.2.64/27", "us", -1),
              "subdivision:US-CA (San Francisco)");
    TAP_CHECK(t, serves(f, "g.example.com.", "192.0.2.96/29", "us", -1),
              "Seattle (US-WA): no key, default");
    TAP_CHECK(t, serves(f, "g.example.com.", "2001:db8:2::/48", "oc", 48), "IPv6 network key");
    TAP_CHECK(t, serves(f, "g.example.com.", "2001:db8::/48", "eu", -1),
              "IPv6 continent EU (Frankfurt)");
    struct policy_result r;
    struct policy_trace tr;
    eval(f, "g.example.com.", DNS_TYPE_A, "127.0.7.0/24", NULL, &r, &tr);
    TAP_CHECK(t,
              r.geo_kind == POLICY_GEO_UNKNOWN && r.serving_region == 0 && tr.geo.used &&
                  tr.geo.client.known && tr.geo.order.n == 2,
              "a network without used fields: unknown location, default list");
    eval(f, "g.example.com.", DNS_TYPE_A, "192.0.2.96/29", NULL, &r, NULL);
    TAP_CHECK(t, r.geo_kind == POLICY_GEO_DEFAULT, "a placed client that matches no key: default");
    eval(f, "g.example.com.", DNS_TYPE_A, "0.0.0.0/0", NULL, &r, &tr);
    TAP_CHECK(t,
              r.geo_kind == POLICY_GEO_UNKNOWN && r.ecs_scope == 0 && !tr.geo.client.known &&
                  tr.geo.client.from_ecs,
              "ECS source prefix 0: unknown location, scope 0");
    eval(f, "g.example.com.", DNS_TYPE_A, NULL, "127.0.1.9", &r, NULL);
    TAP_CHECK(t, r.geo_kind == POLICY_GEO_CONTINENT && r.serving_region == 1 && r.ecs_scope == 0,
              "no ECS: the source address (Berlin), no scope");
    eval(f, "g.example.com.", DNS_TYPE_A, NULL, NULL, &r, NULL);
    TAP_CHECK(t, r.geo_kind == POLICY_GEO_UNKNOWN, "no address at all: unknown location");
    eval(f, "g.example.com.", DNS_TYPE_A, "10.1.2.0/24", NULL, &r, NULL);
    TAP_CHECK(t, r.geo_kind == POLICY_GEO_NETWORK, "kind: network");
}

static void test_geo_failover(struct tap *t, struct fixture *f)
{
    all_up(f);
    set(f, "eu1", false);
    TAP_CHECK(t, serves(f, "g.example.com.", "10.1.3.0/24", "us", -1),
              "EU's first region down: its next region (us)");
    TAP_CHECK(t, serves(f, "g.example.com.", "198.51.100.0/26", "ap", -1),
              "Asia keeps its own order (ap)");
    set(f, "ap1", false);
    TAP_CHECK(t, serves(f, "g.example.com.", "198.51.100.0/26", "-", -1),
              "Asia: ap and eu down, nothing serves from its list (us is not on it)");
    struct policy_result r;
    eval(f, "g.example.com.", DNS_TYPE_A, "198.51.100.0/26", NULL, &r, NULL);
    bool only = r.outcome == POLICY_FAIL_OPEN && r.n == 2;
    for (uint16_t i = 0; i < r.n; i++)
        only = only && (strcmp(r.eps[i]->name, "ap1") == 0 || strcmp(r.eps[i]->name, "eu1") == 0);
    TAP_CHECK(t, only, "fail open over the class's own regions (ap, eu)");
    eval(f, "ge.example.com.", DNS_TYPE_A, "10.1.3.0/24", NULL, &r, NULL);
    TAP_CHECK(t, r.outcome == POLICY_EMPTY && r.ecs_scope == 24,
              "when_all_down empty, with the class scope");
    eval(f, "g.example.com.", DNS_TYPE_AAAA, "10.1.3.0/24", NULL, &r, NULL);
    TAP_CHECK(t, r.n == 1 && strcmp(r.eps[0]->name, "eu6") == 0,
              "AAAA evaluated on its own: eu's IPv6 endpoint is up");
    all_up(f);
    set(f, "eu1", false);
    int us = 0, ap = 0;
    for (int i = 0; i < 400; i++) {
        eval(f, "gs.example.com.", DNS_TYPE_A, "10.1.3.0/24", NULL, &r, NULL);
        us += r.n == 1 && strcmp(r.eps[0]->name, "us1") == 0;
        ap += r.n == 1 && strcmp(r.eps[0]->name, "ap1") == 0;
    }
    TAP_CHECK(t, us > 120 && ap > 120 && us + ap == 400,
              "spill 2 along the geo order: eu's traffic spreads over us and ap (%d/%d)", us, ap);
    all_up(f);
}

static void test_ecs_off(struct tap *t, struct fixture *f)
{
    struct policy_result r;
    struct policy_trace tr;
    all_up(f);
    eval(f, "g2.example.com.", DNS_TYPE_A, "127.0.2.0/24", "127.0.1.5", &r, &tr);
    TAP_CHECK(t,
              r.serving_region == gslb_region_index(f->g, "us") && r.ecs_scope == 0 &&
                  tr.geo.client.ecs_ignored && !tr.geo.client.from_ecs,
              "ecs false: ECS (Tokyo) ignored, source (Berlin) used, scope 0");
    uint8_t sc;
    serving(f, "gh.example.com.", "10.1.3.0/24", NULL, &sc);
    TAP_CHECK(t, sc == 24, "hashed selection and geo: the longer scope (24) wins");
    serving(f, "gh.example.com.", "10.0.0.0/24", NULL, &sc);
    TAP_CHECK(t, sc == 24, "hashed scope 24 over a geo class scope of 16 (%u)", sc);
    serving(f, "gh.example.com.", "10.0.0.0/16", NULL, &sc);
    TAP_CHECK(t, sc == 16, "a /16 source: hashing uses 16 bits, scope 16 (%u)", sc);
    serving(f, "gh.example.com.", "2001:db8:2::/56", NULL, &sc);
    TAP_CHECK(t, sc == 56, "hashed /56 over the IPv6 class scope (%u)", sc);
}

static void test_nearest(struct tap *t, struct fixture *f)
{
    struct policy_result r;
    struct policy_trace tr;
    all_up(f);
    TAP_CHECK(t, serves(f, "n.example.com.", "10.0.0.0/16", "eu", -1), "Frankfurt: eu nearest");
    TAP_CHECK(t, serves(f, "n.example.com.", "127.0.2.0/24", "ap", -1), "Tokyo: ap nearest");
    TAP_CHECK(t, serves(f, "n.example.com.", "127.0.10.0/24", "oc", -1), "Sydney: oc nearest");
    TAP_CHECK(t, serves(f, "n.example.com.", "192.0.2.0/26", "us", -1), "Montreal: us nearest");
    eval(f, "n.example.com.", DNS_TYPE_A, "10.0.0.0/16", NULL, &r, &tr);
    TAP_CHECK(t,
              tr.geo.order.n == 4 && tr.geo.order.regions[0] == gslb_region_index(f->g, "eu") &&
                  tr.geo.order.regions[1] == gslb_region_index(f->g, "us") &&
                  r.geo_kind == POLICY_NEAREST_LOCATED,
              "Frankfurt's order: eu, then us (6,500 km) before ap and oc");
    set(f, "eu1", false);
    TAP_CHECK(t, serves(f, "n.example.com.", "10.0.0.0/16", "us", -1),
              "eu down: the next nearest (us)");
    set(f, "ap1", false);
    TAP_CHECK(t, serves(f, "n.example.com.", "127.0.2.0/24", "oc", -1),
              "Tokyo with ap down: Sydney (7,800 km) before Washington");
    all_up(f);
    eval(f, "n2.example.com.", DNS_TYPE_A, "127.0.6.0/24", NULL, &r, NULL);
    TAP_CHECK(t,
              r.geo_kind == POLICY_NEAREST_UNKNOWN &&
                  r.serving_region == gslb_region_index(f->g, "ap") && r.ecs_scope == 23,
              "no coordinates (Sweden: country only): the configured order, ap first, scope "
              "/23 with the next /24 (no fields) (%u)",
              r.ecs_scope);
    eval(f, "n2.example.com.", DNS_TYPE_A, "10.0.0.0/16", NULL, &r, NULL);
    TAP_CHECK(t, r.serving_region == gslb_region_index(f->g, "eu"),
              "regions limits and orders nothing for located clients: eu nearest");
    eval(f, "n2.example.com.", DNS_TYPE_A, "127.0.10.0/24", NULL, &r, NULL);
    TAP_CHECK(t, r.serving_region == gslb_region_index(f->g, "ap"),
              "regions limits the set: Sydney gets ap (oc is not in the record)");
}

static void test_sharing(struct tap *t, struct fixture *f)
{
    /* g and g2 have the same keys (different lists): one trie; gh, gs and
     * ge share another; n and n2 differ by region order. */
    TAP_CHECK(t, f->pg->n_tries == 5, "identical maps share a trie (%zu tries)", f->pg->n_tries);
    TAP_CHECK(t,
              f->pg->recs[rec(f, "g.example.com.")->index].t ==
                  f->pg->recs[rec(f, "g2.example.com.")->index].t,
              "g and g2 share");
}

/* Widens the scopes for the current state; returns how many tries it
 * replaced (freed at once: nothing reads them concurrently here). */
static size_t widen(struct fixture *f, bool *valid)
{
    struct policy_geo_retired ret = {0};
    *valid = policy_geo_widen(f->g, f->pg, &ret);
    size_t n = ret.n;
    policy_geo_retired_free(&ret);
    return n;
}

static void test_widening(struct tap *t, struct fixture *f)
{
    struct policy_result r;
    struct policy_trace tr;
    bool valid;
    all_up(f);
    widen(f, &valid);
    eval(f, "w.example.com.", DNS_TYPE_A, "10.1.3.0/24", NULL, &r, &tr);
    TAP_CHECK(t, valid && tr.geo.widened && r.ecs_scope == 24 && tr.geo.class_scope == 24,
              "all up: EU (eu) beside a network key (us): scope 24 both ways");
    eval(f, "w.example.com.", DNS_TYPE_A, "10.0.0.0/16", NULL, &r, &tr);
    TAP_CHECK(t, tr.geo.widened && r.ecs_scope == 16, "Frankfurt: /16 (the /15 holds the key)");
    set(f, "eu1", false);
    eval(f, "w.example.com.", DNS_TYPE_A, "10.1.3.0/24", NULL, &r, &tr);
    TAP_CHECK(t,
              !tr.geo.widened && r.ecs_scope == 24 &&
                  r.serving_region == gslb_region_index(f->g, "us"),
              "eu down, view not rebuilt yet: stale, the class-exact scope");
    size_t n = widen(f, &valid);
    eval(f, "w.example.com.", DNS_TYPE_A, "10.1.3.0/24", NULL, &r, &tr);
    TAP_CHECK(t, valid && n >= 1 && tr.geo.widened && r.ecs_scope == 0,
              "eu down and rebuilt: every class is served by us, scope 0 (%u)", r.ecs_scope);
    eval(f, "w.example.com.", DNS_TYPE_AAAA, "10.1.3.0/24", NULL, &r, &tr);
    TAP_CHECK(t, tr.geo.widened && r.ecs_scope == 24,
              "AAAA has its own view: eu's IPv6 endpoint is up, EU still differs (%u)",
              r.ecs_scope);
    eval(f, "g.example.com.", DNS_TYPE_A, "10.1.3.0/24", NULL, &r, &tr);
    TAP_CHECK(t, tr.geo.widened && r.ecs_scope == 24 && tr.geo.widened_scope == 24,
              "g: EU now served by us, its neighbour network key by oc: still /24");
    set(f, "ap1", false);
    n = widen(f, &valid);
    eval(f, "w.example.com.", DNS_TYPE_A, "10.1.3.0/24", NULL, &r, &tr);
    TAP_CHECK(t, valid && tr.geo.widened && r.ecs_scope == 0,
              "a change that moves no partition of w: its view is re-tagged, still scope 0");
    all_up(f);
    widen(f, &valid);
    eval(f, "w.example.com.", DNS_TYPE_A, "10.1.3.0/24", NULL, &r, &tr);
    TAP_CHECK(t, tr.geo.widened && r.ecs_scope == 24, "eu back: scope 24 again");
    eval(f, "w.example.com.", DNS_TYPE_A, "0.0.0.0/0", NULL, &r, &tr);
    TAP_CHECK(t, r.ecs_scope == 0, "ECS source prefix 0: scope 0 whatever the view");
    struct policy_overlay ov = {.slot = NULL, .state = HEALTH_UNKNOWN};
    struct policy_client c = {.rng = &f->rng, .geo = f->pg, .overlay = &ov};
    struct dns_ecs e = {.present = true, .family = 1, .source_prefix = 24, .addr = {10, 1, 3}};
    c.ecs = &e;
    policy_eval(f->g, rec(f, "w.example.com."), DNS_TYPE_A, &c, &r);
    TAP_CHECK(t, r.ecs_scope == 24, "a dry run (overlay) never uses the view");
}

/* The drill what-if (and so POST /v1/drills and gtmd drill) goes through
 * every class of a geo or nearest record when no client is given, and
 * locates the clients it is given. */
static void test_drill_whatif(struct tap *t, struct fixture *f)
{
    all_up(f);
    const struct health_slot *lost[1] = {f->g->regions[gslb_region_index(f->g, "eu")].slot};
    struct policy_overlay ov = {.slot = NULL, .lost = lost, .n_lost = 1};
    struct drill_whatif_sum sum;
    json_t *w = drill_whatif_geo(f->g, f->pg, &ov, NULL, 0, true, &sum);
    bool eu_moves = false, jp_listed = false, near_moves = false;
    size_t i;
    json_t *e;
    json_array_foreach(json_object_get(w, "records"), i, e)
    {
        const char *rec = json_string_value(json_object_get(e, "record"));
        const char *type = json_string_value(json_object_get(e, "type"));
        const char *cl = json_string_value(json_object_get(e, "client"));
        const char *after =
            json_string_value(json_object_get(json_object_get(e, "after"), "serving_region"));
        if (!rec || !type || !cl || strcmp(type, "A") != 0)
            continue;
        bool g = strcmp(rec, "g.example.com.") == 0;
        eu_moves =
            eu_moves || (g && strcmp(cl, "continent:EU") == 0 && after && strcmp(after, "us") == 0);
        jp_listed = jp_listed || (g && strcmp(cl, "country:JP") == 0);
        near_moves =
            near_moves || (strcmp(rec, "n.example.com.") == 0 && strcmp(cl, "nearest to eu") == 0);
    }
    TAP_CHECK(t, eu_moves && !jp_listed && near_moves,
              "drill what-if without clients: per class (EU moves to us, JP unchanged is not "
              "listed, nearest-to-eu clients move)");
    json_decref(w);
    struct drill_client cl = {.text = "10.1.3.0/24"};
    cl.ecs.present = true;
    cl.ecs.family = 1;
    cl.ecs.source_prefix = 24;
    cl.ecs.addr[0] = 10, cl.ecs.addr[1] = 1, cl.ecs.addr[2] = 3;
    w = drill_whatif_geo(f->g, f->pg, &ov, &cl, 1, true, &sum);
    bool located = false;
    json_array_foreach(json_object_get(w, "records"), i, e)
    {
        const char *rec = json_string_value(json_object_get(e, "record"));
        const char *before =
            json_string_value(json_object_get(json_object_get(e, "before"), "serving_region"));
        located = located || (rec && before && strcmp(rec, "g.example.com.") == 0 &&
                              strcmp(before, "eu") == 0);
    }
    TAP_CHECK(t, located, "drill what-if with an ECS client: located (Berlin is served by eu)");
    json_decref(w);
}

/* Parses json (policy sections only) and builds its geo data with the
 * test database (db true) or none; returns the number of errors that
 * contain want (printing them all). */
static bool has_error(const char *json, bool db, const char *want)
{
    struct errlist e;
    errlist_init(&e);
    struct jsoncfg j = {.errs = &e, .file = "test.json", .dir = "."};
    json_t *root = json_loads(json, 0, NULL);
    const char *origins[] = {"example.com."};
    struct gslb *g = root ? policy_config_parse(&j, root, origins, 1) : NULL;
    if (g && e.count == 0) {
        char path[512], why[256];
        snprintf(path, sizeof(path), "%s/tests/data/geo-city.mmdb", srcdir());
        struct geo_db *d = db ? geo_db_open(path, why, sizeof(why)) : NULL;
        policy_geo_free(policy_geo_build(g, d, "test.json", &e));
    }
    bool found = want == NULL ? e.count == 0 : false;
    for (size_t i = 0; i < e.count; i++) {
        printf("# %s\n", e.msgs[i]);
        found = found || (want && strstr(e.msgs[i], want) != NULL);
    }
    gslb_unref(g);
    json_decref(root);
    errlist_free(&e);
    return found;
}

#define POOLS                                                                                      \
    "\"regions\": {\"us\": {\"location\": [1, 2]}, \"eu\": {}}, \"pools\": {\"p\": "               \
    "{\"endpoints\": [{\"name\": \"a\", \"address\": \"192.0.2.1\", \"region\": \"us\"}, "         \
    "{\"name\": \"b\", \"address\": \"192.0.2.2\", \"region\": \"eu\"}]}}"

static void test_errors(struct tap *t)
{
    TAP_CHECK(t,
              has_error("{" POOLS ", \"records\": {\"a.example.com.\": {\"pool\": \"p\", "
                        "\"policy\": \"geo\"}}}",
                        true, "$.records[\"a.example.com.\"].geo: is required"),
              "geo without a map");
    TAP_CHECK(t,
              has_error("{" POOLS ", \"records\": {\"a.example.com.\": {\"pool\": \"p\", "
                        "\"policy\": \"geo\", \"regions\": [\"us\"], \"geo\": {\"default\": "
                        "[\"us\"]}}}}",
                        true, "a geo record takes its region orders from \"geo\""),
              "geo with regions");
    TAP_CHECK(t,
              has_error("{" POOLS ", \"records\": {\"a.example.com.\": {\"pool\": \"p\", "
                        "\"regions\": [\"us\"], \"geo\": {\"default\": [\"us\"]}}}}",
                        true, ".geo: only used with \"policy\": \"geo\""),
              "a map on a failover record");
    TAP_CHECK(t,
              has_error("{" POOLS ", \"records\": {\"a.example.com.\": {\"pool\": \"p\", "
                        "\"policy\": \"geo\", \"geo\": {\"country:XX\": [\"us\"], "
                        "\"continent:EU\": [\"mars\"], \"default\": [\"us\"]}}}}",
                        true, ".geo[\"country:XX\"]: \"XX\" is not an ISO 3166-1"),
              "unknown country code, with its JSON path");
    TAP_CHECK(t,
              has_error("{" POOLS ", \"records\": {\"a.example.com.\": {\"pool\": \"p\", "
                        "\"policy\": \"geo\", \"geo\": {\"continent:EU\": [\"mars\"], "
                        "\"default\": [\"us\"]}}}}",
                        true, ".geo[\"continent:EU\"][0]: region \"mars\" is not defined"),
              "unknown region in a list");
    TAP_CHECK(t,
              has_error("{" POOLS ", \"records\": {\"a.example.com.\": {\"pool\": \"p\", "
                        "\"policy\": \"nearest\"}}}",
                        true, "$.records[\"a.example.com.\"]: region \"eu\" has no location"),
              "nearest over a region without location");
    TAP_CHECK(t,
              has_error("{" POOLS ", \"records\": {\"a.example.com.\": {\"pool\": \"p\", "
                        "\"policy\": \"nearest\", \"regions\": [\"us\"]}}}",
                        false, "a nearest record needs a geo database"),
              "nearest without a database");
    TAP_CHECK(t,
              has_error("{" POOLS ", \"records\": {\"a.example.com.\": {\"pool\": \"p\", "
                        "\"policy\": \"nearest\", \"regions\": [\"us\"]}}}",
                        true, NULL),
              "nearest with regions that have a location: fine");
    TAP_CHECK(t,
              has_error("{" POOLS ", \"records\": {\"a.example.com.\": {\"pool\": \"p\", "
                        "\"policy\": \"geo\", \"geo\": {\"country:DE\": [\"eu\"], "
                        "\"default\": [\"us\"]}}}}",
                        false, "continent, country and subdivision keys need a geo database"),
              "country keys without a database");
    TAP_CHECK(t,
              has_error("{" POOLS ", \"records\": {\"a.example.com.\": {\"pool\": \"p\", "
                        "\"policy\": \"geo\", \"geo\": {\"network:192.0.2.0/24\": [\"eu\"], "
                        "\"default\": [\"us\"]}}}}",
                        false, NULL),
              "network keys and default need no database");
    TAP_CHECK(t,
              has_error("{" POOLS ", \"records\": {\"a.example.com.\": {\"pool\": \"p\", "
                        "\"policy\": \"geo\", \"spill\": 2, \"geo\": {\"default\": [\"us\", "
                        "\"eu\"]}}}}",
                        true, ".spill: spill must be less than the number of regions (2)"),
              "spill against the longest list");
    TAP_CHECK(t,
              has_error("{" POOLS ", \"records\": {\"a.example.com.\": {\"pool\": \"p\", "
                        "\"regions\": [\"us\"], \"ecs\": 1}}}",
                        true, "$.records[\"a.example.com.\"].ecs: must be true or false"),
              "ecs must be a boolean");
    TAP_CHECK(t, has_error("{\"ecs\": \"no\", " POOLS "}", true, "$.ecs: must be true or false"),
              "top-level ecs must be a boolean");
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
    char path[512], why[256];
    snprintf(path, sizeof(path), "%s/tests/data/geo-city.mmdb", srcdir());
    f.g = policy_config_parse(&j, root, origins, 1);
    struct geo_db *db = geo_db_open(path, why, sizeof(why));
    f.pg = db && e.count == 0 ? policy_geo_build(f.g, db, "test.json", &e) : NULL;
    f.rng = 12345;
    for (size_t i = 0; i < e.count; i++)
        printf("# %s\n", e.msgs[i]);
    if (!TAP_CHECK(&t, e.count == 0 && f.pg, "geo test config parses and compiles (%s)",
                   db ? "db ok" : why))
        return tap_done(&t);
    health_core_init(&f.core);
    gslb_map_health(f.g, &f.core);
    test_geo_keys(&t, &f);
    test_geo_failover(&t, &f);
    test_ecs_off(&t, &f);
    test_nearest(&t, &f);
    test_sharing(&t, &f);
    test_widening(&t, &f);
    test_drill_whatif(&t, &f);
    test_errors(&t);
    policy_geo_free(f.pg);
    gslb_unref(f.g);
    health_core_free(&f.core);
    json_decref(root);
    errlist_free(&e);
    return tap_done(&t);
}

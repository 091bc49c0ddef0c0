/* Unit tests for the drill layer as the query path reads it: precedence
 * (drill > override > probe), the drill part of a policy overlay, the
 * scoped drills' loss view (canary networks, ECS scopes) and a whole query
 * through query_answer with a loss view. Health is set by hand. */
#include <arpa/inet.h>
#include <jansson.h>
#include <ldns/ldns.h>
#include <netinet/in.h>
#include <stdio.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "answer/query.h"
#include "common/errlist.h"
#include "common/jsoncfg.h"
#include "control/config.h"
#include "daemon/load.h"
#include "dns/dns.h"
#include "dns/msg_build.h"
#include "health/health.h"
#include "health/override.h"
#include "policy/policy_config.h"
#include "policy/policy_eval.h"
#include "policy/policy_loss.h"
#include "tap.h"

static const char *POLICY =
    "\"regions\": {\"us\": {}, \"eu\": {}, \"ap\": {}},"
    " \"checks\": {\"web\": {\"type\": \"tcp\", \"port\": 80, \"interval\": 1, \"timeout\": 0.5}},"
    " \"pools\": {\"web\": {\"check\": \"web\", \"endpoints\": ["
    "   {\"name\": \"us1\", \"address\": \"192.0.2.1\", \"region\": \"us\", \"az\": \"us-1a\"},"
    "   {\"name\": \"us2\", \"address\": \"192.0.2.2\", \"region\": \"us\", \"az\": \"us-1b\"},"
    "   {\"name\": \"eu1\", \"address\": \"192.0.2.3\", \"region\": \"eu\"},"
    "   {\"name\": \"ap1\", \"address\": \"192.0.2.4\", \"region\": \"ap\"}]}},"
    " \"records\": {"
    "  \"drill-fo.example.com.\": {\"pool\": \"web\", \"policy\": \"failover\", \"regions\": "
    "[\"us\", \"eu\", \"ap\"]},"
    "  \"drill-e.example.com.\": {\"pool\": \"web\", \"policy\": \"failover\", \"regions\": "
    "[\"us\"], \"when_all_down\": \"empty\"}}";

struct fixture {
    struct gslb *g;
    struct health_core core;
    uint64_t rng;
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

static void all_up(struct fixture *f)
{
    const char *names[] = {"us1", "us2", "eu1", "ap1"};
    for (size_t i = 0; i < 4; i++)
        health_restore(ep(f, names[i])->slot, HEALTH_UP, 0);
}

/* The sorted endpoint names the record serves, as "a,b". */
static const char *serves(struct fixture *f, const char *name, const struct policy_overlay *ov)
{
    static char buf[128];
    struct policy_client c = {.rng = &f->rng, .overlay = ov};
    struct policy_result r;
    policy_eval_all(f->g, rec(f, name), DNS_TYPE_A, &c, &r);
    const char *names[POLICY_MAX_ANSWERS];
    for (uint16_t i = 0; i < r.n; i++)
        names[i] = r.eps[i]->name;
    for (uint16_t i = 0; i < r.n; i++)
        for (uint16_t k = i + 1; k < r.n; k++)
            if (strcmp(names[k], names[i]) < 0) {
                const char *x = names[i];
                names[i] = names[k];
                names[k] = x;
            }
    buf[0] = '\0';
    for (uint16_t i = 0; i < r.n; i++)
        snprintf(buf + strlen(buf), sizeof(buf) - strlen(buf), "%s%s", i ? "," : "", names[i]);
    if (r.outcome != POLICY_SERVED)
        snprintf(buf + strlen(buf), sizeof(buf) - strlen(buf), "(%s)",
                 policy_outcome_name(r.outcome));
    return buf;
}

static void test_precedence(struct tap *t, struct fixture *f)
{
    const char *fo = "drill-fo.example.com.";
    char id[32], id2[32];
    all_up(f);
    TAP_CHECK(t, strcmp(serves(f, fo, NULL), "us1,us2") == 0, "all up: us serves");
    health_drill_set(&f->core, "region:us", HEALTH_DOWN);
    TAP_CHECK(t, strcmp(serves(f, fo, NULL), "eu1") == 0, "live drill on us: eu serves");
    TAP_CHECK(t, gslb_endpoint_state(f->g, ep(f, "us1"), NULL) == HEALTH_DOWN,
              "an endpoint of a drilled region is down");
    override_add(&f->core, "region:us", HEALTH_UP, "keep us", "test", 0, id);
    override_add(&f->core, "endpoint:web/us1", HEALTH_UP, "keep us1", "test", 0, id2);
    TAP_CHECK(t, strcmp(serves(f, fo, NULL), "eu1") == 0,
              "region and endpoint overrides \"up\" do not undo the drill");
    TAP_CHECK(t,
              gslb_endpoint_state(f->g, ep(f, "us1"), NULL) == HEALTH_DOWN &&
                  !gslb_region_up(f->g, &f->g->pools[0], 0, NULL, NULL, NULL),
              "endpoint and region stay down under the drill");
    TAP_CHECK(t,
              health_slot_effective(f->g->regions[0].slot) == HEALTH_DOWN &&
                  health_slot_drill(f->g->regions[0].slot) == HEALTH_DOWN,
              "the slot's own layers: drill above the override");
    health_drill_set(&f->core, "region:us", HEALTH_UNKNOWN);
    TAP_CHECK(t, strcmp(serves(f, fo, NULL), "us1,us2") == 0,
              "drill ended: the override (up) and the probes decide again");
    override_remove(&f->core, id);
    override_remove(&f->core, id2);

    health_drill_set(&f->core, "az:us-1a", HEALTH_DOWN);
    TAP_CHECK(t, strcmp(serves(f, fo, NULL), "us2") == 0, "live drill on az us-1a: us2 only");
    override_add(&f->core, "az:us-1a", HEALTH_UP, "keep az", "test", 0, id);
    TAP_CHECK(
        t, strcmp(serves(f, fo, NULL), "us2") == 0 && !gslb_az_up(f->g, &f->g->pools[0], 0, NULL),
        "an az override \"up\" does not undo an az drill");
    override_remove(&f->core, id);
    health_drill_set(&f->core, "az:us-1a", HEALTH_UNKNOWN);

    health_drill_set(&f->core, "region:us", HEALTH_DOWN);
    override_add(&f->core, "az:us-1b", HEALTH_UP, "keep az", "test", 0, id);
    TAP_CHECK(t, !gslb_az_up(f->g, &f->g->pools[0], 1, NULL),
              "an az of a drilled region is down whatever its override");
    override_remove(&f->core, id);
    health_drill_set(&f->core, "region:us", HEALTH_UNKNOWN);
    health_drill_set(&f->core, "region:eu", HEALTH_DOWN);
    health_drill_set(&f->core, "region:us", HEALTH_DOWN);
    health_drill_set(&f->core, "region:ap", HEALTH_DOWN);
    TAP_CHECK(t, strcmp(serves(f, fo, NULL), "ap1,eu1,us1,us2(fail_open)") == 0,
              "every region drilled: when_all_down (fail open)");
    TAP_CHECK(t, strcmp(serves(f, "drill-e.example.com.", NULL), "(empty)") == 0,
              "every region drilled: when_all_down (empty)");
    health_drill_set(&f->core, "region:eu", HEALTH_UNKNOWN);
    health_drill_set(&f->core, "region:us", HEALTH_UNKNOWN);
    health_drill_set(&f->core, "region:ap", HEALTH_UNKNOWN);
    health_drill_set(&f->core, "region:mars", HEALTH_DOWN);
    struct health_slot *mars = health_core_find(&f->core, "region:mars");
    TAP_CHECK(t,
              mars && !health_slot_in_use(&f->core, mars) && health_slot_drill(mars) == HEALTH_DOWN,
              "a drill on a target not in the config keeps a slot (not in use)");
}

static void test_overlay(struct tap *t, struct fixture *f)
{
    const char *fo = "drill-fo.example.com.";
    all_up(f);
    const struct health_slot *lost[] = {f->g->regions[0].slot};
    struct policy_overlay ov = {.lost = lost, .n_lost = 1};
    TAP_CHECK(t, strcmp(serves(f, fo, &ov), "eu1") == 0, "overlay loses us: eu serves");
    TAP_CHECK(t, strcmp(serves(f, fo, NULL), "us1,us2") == 0,
              "the live state is untouched by the overlay");
    char id[32];
    override_add(&f->core, "region:us", HEALTH_UP, "keep us", "test", 0, id);
    TAP_CHECK(t, strcmp(serves(f, fo, &ov), "eu1") == 0,
              "an override up does not undo the overlay's drill layer");
    override_remove(&f->core, id);
    const struct health_slot *lost2[] = {f->g->azs[0].slot, f->g->regions[1].slot};
    struct policy_overlay ov2 = {.lost = lost2, .n_lost = 2};
    TAP_CHECK(t, strcmp(serves(f, fo, &ov2), "us2") == 0, "overlay loses us-1a and eu: us2");
    ep(f, "us2")->slot->effective = HEALTH_DOWN;
    TAP_CHECK(t, strcmp(serves(f, fo, &ov2), "ap1") == 0,
              "overlay and a real failure together: ap");
    all_up(f);
    struct policy_overlay both = {
        .slot = f->g->regions[2].slot, .state = HEALTH_DOWN, .lost = lost2, .n_lost = 2};
    TAP_CHECK(t, strcmp(serves(f, fo, &both), "us2") == 0,
              "an overlay with an override part and a drill part");
}

static void test_nets(struct tap *t)
{
    struct policy_net n;
    char err[128], buf[64];
    TAP_CHECK(t,
              policy_net_parse("10.1.2.0/24", &n, err, sizeof(err)) && n.family == 1 && n.len == 24,
              "10.1.2.0/24 parses");
    policy_net_format(&n, buf, sizeof(buf));
    TAP_CHECK(t, strcmp(buf, "10.1.2.0/24") == 0, "and formats back");
    TAP_CHECK(t,
              policy_net_parse("2001:db8:1::/48", &n, err, sizeof(err)) && n.family == 2 &&
                  n.len == 48,
              "IPv6 network parses");
    const char *bad[] = {"10.1.2.1/24",  "10.1.2.0/33", "10.1.2.0",       "10.1.2.0/",    "x/8",
                         "10.1.2.0/24x", "/24",         "2001:db8::1/32", "10.1.2.0/0024"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        TAP_CHECK(t, !policy_net_parse(bad[i], &n, err, sizeof(err)) && err[0],
                  "bad network \"%s\" refused (%s)", bad[i], err);
    policy_net_parse("10.1.2.0/24", &n, err, sizeof(err));
    uint8_t a[16] = {10, 1, 2, 77};
    TAP_CHECK(t, policy_net_holds(&n, 1, a, 32), "10.1.2.77 inside 10.1.2.0/24");
    TAP_CHECK(t, policy_net_holds(&n, 1, a, 24), "10.1.2.0/24 inside itself");
    TAP_CHECK(t, !policy_net_holds(&n, 1, a, 23), "a /23 is not inside a /24");
    a[2] = 3;
    TAP_CHECK(t, !policy_net_holds(&n, 1, a, 32), "10.1.3.77 is not inside");
    TAP_CHECK(t, !policy_net_holds(&n, 2, a, 128), "another family is not inside");
}

static void ecs_client(struct policy_loss_client *c, const char *addr, unsigned len)
{
    memset(c, 0, sizeof(*c));
    c->family = strchr(addr, ':') ? 2 : 1;
    inet_pton(c->family == 1 ? AF_INET : AF_INET6, addr, c->addr);
    c->len = (uint8_t)len;
}

static void test_loss_match(struct tap *t, struct fixture *f)
{
    struct policy_net na, nb, n6;
    char err[64];
    policy_net_parse("10.1.0.0/16", &na, err, sizeof(err));
    policy_net_parse("10.1.2.0/24", &nb, err, sizeof(err));
    policy_net_parse("2001:db8:1::/48", &n6, err, sizeof(err));
    const struct health_slot *us = f->g->regions[0].slot, *eu = f->g->regions[1].slot;
    struct policy_loss *v = policy_loss_new();
    struct policy_net a_nets[] = {na, n6};
    policy_loss_add(v, "drl-1", a_nets, 2, &us, 1);
    policy_loss_add(v, "drl-2", &nb, 1, &eu, 1);
    struct policy_loss_client c;
    struct policy_loss_match m;

    ecs_client(&c, "10.1.2.0", 24);
    policy_loss_match(v, &c, &m);
    TAP_CHECK(t, m.n_lost == 2 && m.scope_min == 24 && m.n_tags == 2,
              "inside both canaries: both drills' targets, scope 24 (%u lost, /%u)", m.n_lost,
              m.scope_min);
    ecs_client(&c, "10.1.3.0", 24);
    policy_loss_match(v, &c, &m);
    TAP_CHECK(t, m.n_lost == 1 && m.lost[0] == us && m.scope_min == 24,
              "inside the /16 only: its target; scope 24 keeps 10.1.2.0/24 out (/%u)", m.scope_min);
    ecs_client(&c, "10.9.0.0", 16);
    policy_loss_match(v, &c, &m);
    TAP_CHECK(t, m.n_lost == 0 && m.scope_min == 13,
              "outside: nothing lost; scope 13 = one bit past the 12 shared with 10.1/16 (/%u)",
              m.scope_min);
    ecs_client(&c, "10.1.0.0", 16);
    policy_loss_match(v, &c, &m);
    TAP_CHECK(t, m.n_lost == 1 && m.scope_min == 23,
              "a /16 client is not inside the /24 canary; scope 23 (/%u)", m.scope_min);
    ecs_client(&c, "10.0.0.0", 8);
    policy_loss_match(v, &c, &m);
    TAP_CHECK(t, m.n_lost == 0 && m.scope_min == 16,
              "a /8 that holds both canaries is inside neither; scope 16 (/%u)", m.scope_min);
    ecs_client(&c, "10.1.2.99", 32);
    policy_loss_match(v, &c, &m);
    TAP_CHECK(t, m.n_lost == 2, "a source address inside the canaries");
    ecs_client(&c, "0.0.0.0", 0);
    policy_loss_match(v, &c, &m);
    TAP_CHECK(t, m.n_lost == 0 && m.scope_min == 0, "ECS source prefix 0: nothing, scope 0");
    ecs_client(&c, "2001:db8:1:5::", 64);
    policy_loss_match(v, &c, &m);
    TAP_CHECK(t, m.n_lost == 1 && m.lost[0] == us && m.scope_min == 48,
              "IPv6 client inside the IPv6 canary: scope 48 (/%u)", m.scope_min);
    ecs_client(&c, "2001:db8:2::", 48);
    policy_loss_match(v, &c, &m);
    TAP_CHECK(t, m.n_lost == 0 && m.scope_min == 47,
              "IPv6 client outside: one bit past the 46 shared (/%u)", m.scope_min);
    policy_loss_match(NULL, &c, &m);
    TAP_CHECK(t, m.n_lost == 0 && m.scope_min == 0, "no view: nothing");
    policy_loss_free(v);
}

/* ---- a whole query through query_answer -------------------------------- */

static struct serve_set *load_query_set(struct health_core *core, char *dir)
{
    char conf[8192], path[4200], src[4096];
    if (!realpath(getenv("SRCDIR") ? getenv("SRCDIR") : ".", src))
        snprintf(src, sizeof(src), ".");
    snprintf(conf, sizeof(conf),
             "{\"listen\": [\"127.0.0.1:1\"], \"zones\": [{\"origin\": \"example.com.\", "
             "\"file\": \"%s/tests/data/example.com.zone\"}], %s}",
             src, POLICY);
    snprintf(path, sizeof(path), "%s/gtmd.json", dir);
    FILE *fp = fopen(path, "w");
    fputs(conf, fp);
    fclose(fp);
    struct errlist e;
    errlist_init(&e);
    struct config *cfg = config_load(path, &e);
    struct serve_set *s = cfg ? load_set(cfg, 1, core, NULL, &e) : NULL;
    for (size_t i = 0; i < e.count; i++)
        printf("# %s\n", e.msgs[i]);
    config_free(cfg);
    errlist_free(&e);
    unlink(path);
    return s;
}

/* Asks A for name with ECS net/len (len < 0: no OPT) from source src;
 * *addr gets the first answer, *scope the reply's ECS scope (-1: none). */
static void ask(const struct serve_set *s, const struct policy_loss *v, const char *name,
                const char *src, const char *net, int len, char *addr, int *scope)
{
    struct dns_name qn;
    struct dns_ecs ecs = {.present = true, .family = 1, .source_prefix = (uint8_t)len};
    if (net)
        inet_pton(AF_INET, net, ecs.addr);
    struct dns_opt opt = {.payload = 1232, .ecs = &ecs};
    dns_name_from_str(name, &qn);
    struct dns_msg_query q = {.id = 7,
                              .qname = &qn,
                              .qtype = DNS_TYPE_A,
                              .qclass = DNS_CLASS_IN,
                              .opt = len >= 0 ? &opt : NULL};
    uint8_t wire[512], out[4096];
    size_t wl = dns_msg_build_query(&q, wire, sizeof(wire));
    struct sockaddr_storage ss;
    memset(&ss, 0, sizeof(ss));
    ((struct sockaddr_in *)&ss)->sin_family = AF_INET;
    inet_pton(AF_INET, src, &((struct sockaddr_in *)&ss)->sin_addr);
    uint64_t rng = 9;
    struct query_client qc = {.addr = &ss, .rng = &rng, .loss = v};
    size_t n = query_answer(s, &qc, wire, wl, out, false);
    ldns_pkt *p = NULL;
    addr[0] = '\0';
    *scope = -1;
    if (n == 0 || ldns_wire2pkt(&p, out, n) != LDNS_STATUS_OK)
        return;
    if (ldns_rr_list_rr_count(ldns_pkt_answer(p)) > 0) {
        char *x = ldns_rdf2str(ldns_rr_rdf(ldns_rr_list_rr(ldns_pkt_answer(p), 0), 0));
        snprintf(addr, 64, "%s", x);
        free(x);
    }
    ldns_rdf *ed = ldns_pkt_edns_data(p);
    /* One option: code 8, length, family, source, scope, address. */
    if (ed && ldns_rdf_size(ed) >= 8 && ldns_rdf_data(ed)[1] == 8)
        *scope = ldns_rdf_data(ed)[7];
    ldns_pkt_free(p);
}

static void test_query(struct tap *t)
{
    char dir[] = "/tmp/gtmd-drill-XXXXXX", addr[64];
    int scope;
    struct health_core core;
    health_core_init(&core);
    if (!mkdtemp(dir))
        abort();
    struct serve_set *s = load_query_set(&core, dir);
    rmdir(dir);
    if (!TAP_CHECK(t, s != NULL, "the query test config loads")) {
        health_core_free(&core);
        return;
    }
    const struct gslb *g = s->gslb;
    for (size_t i = 0; i < g->pools[0].n_eps; i++)
        health_restore(g->pools[0].eps[i].slot, HEALTH_UP, 0);
    struct policy_net canary;
    char err[64];
    policy_net_parse("10.1.2.0/24", &canary, err, sizeof(err));
    const struct health_slot *us = g->regions[0].slot;
    struct policy_loss *v = policy_loss_new();
    policy_loss_add(v, "drl-9", &canary, 1, &us, 1);
    const char *fo = "drill-fo.example.com.";

    ask(s, NULL, fo, "127.0.0.1", "10.1.2.0", 24, addr, &scope);
    TAP_CHECK(t, strcmp(addr, "192.0.2.1") == 0 || strcmp(addr, "192.0.2.2") == 0,
              "no scoped drill: us answers (%s)", addr);
    TAP_CHECK(t, scope == 0, "and the scope is 0 (%d)", scope);
    ask(s, v, fo, "127.0.0.1", "10.1.2.0", 24, addr, &scope);
    TAP_CHECK(t, strcmp(addr, "192.0.2.3") == 0, "canary client by ECS: us lost, eu (%s)", addr);
    TAP_CHECK(t, scope == 24, "its answer carries scope 24, no wider than the canary (%d)", scope);
    ask(s, v, fo, "127.0.0.1", "10.1.3.0", 24, addr, &scope);
    TAP_CHECK(t, strcmp(addr, "192.0.2.3") != 0, "other client by ECS: us still (%s)", addr);
    TAP_CHECK(t, scope == 24, "with scope 24: 10.1.3.0/24 leaves the canary out (%d)", scope);
    ask(s, v, fo, "127.0.0.1", "10.0.0.0", 8, addr, &scope);
    TAP_CHECK(t, strcmp(addr, "192.0.2.3") != 0 && scope == 16,
              "a /8 holding the canary is not inside it; scope 16 (%s, %d)", addr, scope);
    ask(s, v, fo, "10.1.2.5", NULL, -1, addr, &scope);
    TAP_CHECK(t, strcmp(addr, "192.0.2.3") == 0 && scope == -1,
              "canary client by source address, no ECS: eu, no OPT (%s)", addr);
    ask(s, v, fo, "10.1.3.5", NULL, -1, addr, &scope);
    TAP_CHECK(t, strcmp(addr, "192.0.2.3") != 0, "other source address: us (%s)", addr);
    ask(s, v, fo, "10.1.2.5", "10.1.3.0", 24, addr, &scope);
    TAP_CHECK(t, strcmp(addr, "192.0.2.3") != 0,
              "ECS wins over the source: a resolver inside the canary asking for others (%s)",
              addr);
    ask(s, v, "www.example.com.", "127.0.0.1", "10.1.2.0", 24, addr, &scope);
    TAP_CHECK(t, scope == 0, "static data keeps scope 0 during a scoped drill (%d)", scope);
    policy_loss_free(v);
    serve_set_free(s);
    health_core_free(&core);
}

int main(void)
{
    struct tap t = {0, 0};
    struct fixture f;
    struct errlist e;
    errlist_init(&e);
    struct jsoncfg j = {.errs = &e, .file = "test.json", .dir = "."};
    char conf[4096];
    snprintf(conf, sizeof(conf), "{%s}", POLICY);
    json_t *root = json_loads(conf, 0, NULL);
    const char *origins[] = {"example.com."};
    f.g = policy_config_parse(&j, root, origins, 1);
    f.rng = 12345;
    for (size_t i = 0; i < e.count; i++)
        printf("# %s\n", e.msgs[i]);
    if (!TAP_CHECK(&t, e.count == 0, "test policy config parses"))
        return tap_done(&t);
    health_core_init(&f.core);
    gslb_map_health(f.g, &f.core);
    test_precedence(&t, &f);
    test_overlay(&t, &f);
    test_nets(&t);
    test_loss_match(&t, &f);
    test_query(&t);
    gslb_unref(f.g);
    health_core_free(&f.core);
    json_decref(root);
    errlist_free(&e);
    return tap_done(&t);
}

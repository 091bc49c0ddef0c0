/* Unit tests for src/drill: request validation, the drill core's life
 * cycle (start, conflicts, end, expiry, history), the drill bytes and loss
 * views it publishes, listeners, abort_if, the state-file section and the
 * what-if. Health is set by hand. */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/jsoncfg.h"
#include "dns/dns.h"
#include "drill/drill.h"
#include "drill/drill_plan.h"
#include "drill/drill_whatif.h"
#include "health/health.h"
#include "health/override.h"
#include "policy/policy_config.h"
#include "policy/policy_eval.h"
#include "tap.h"

static const char *CONF =
    "{\"regions\": {\"us\": {}, \"eu\": {}, \"ap\": {}},"
    " \"pools\": {\"web\": {\"endpoints\": ["
    "   {\"name\": \"us1\", \"address\": \"192.0.2.1\", \"region\": \"us\", \"az\": \"us-1a\", "
    "\"weight\": 3},"
    "   {\"name\": \"us2\", \"address\": \"192.0.2.2\", \"region\": \"us\", \"az\": \"us-1b\"},"
    "   {\"name\": \"eu1\", \"address\": \"192.0.2.3\", \"region\": \"eu\", \"weight\": 2},"
    "   {\"name\": \"eu2\", \"address\": \"192.0.2.5\", \"region\": \"eu\", \"weight\": 2},"
    "   {\"name\": \"ap1\", \"address\": \"192.0.2.4\", \"region\": \"ap\"}]}},"
    " \"records\": {"
    "  \"fo.example.com.\": {\"pool\": \"web\", \"policy\": \"failover\", \"regions\": [\"us\", "
    "\"eu\", \"ap\"]},"
    "  \"all.example.com.\": {\"pool\": \"web\", \"policy\": \"all\"},"
    "  \"uso.example.com.\": {\"pool\": \"web\", \"policy\": \"failover\", \"regions\": [\"us\"], "
    "\"when_all_down\": \"empty\"}}}";

struct fixture {
    struct gslb *g;
    struct health_core core;
    struct drill_core drills;
    int started, ended, changed;
    struct serve serve; /* a real serve core: the drills publish their loss view there */
    char last_ended[64];
};

/* ---- the spec --------------------------------------------------------- */

static int parse(const char *body, struct drill_spec *s, char *err, size_t n)
{
    json_t *j = json_loads(body, 0, NULL);
    int st = drill_spec_parse(j, 3600, s, err, n);
    json_decref(j);
    return st;
}

static void test_spec(struct tap *t)
{
    struct drill_spec s;
    char err[512];
    int st = parse("{\"regions\": [\"us\"], \"azs\": [\"eu-1a\"], \"mode\": \"live\", \"reason\": "
                   "\"game day\", \"duration\": 600, \"abort_if\": {\"min_up_endpoints\": 2, "
                   "\"min_up_share\": 0.5}, \"force\": true}",
                   &s, err, sizeof(err));
    TAP_CHECK(t,
              st == 0 && s.mode == DRILL_LIVE && s.n_regions == 1 && s.n_azs == 1 &&
                  s.duration == 600 && s.abort_if.min_up_endpoints == 2 &&
                  s.abort_if.min_up_share == 0.5 && s.force && !s.dry_run,
              "a full live drill request parses (%s)", st ? err : "ok");
    json_t *j = drill_spec_json(&s);
    struct drill_spec back;
    TAP_CHECK(t,
              drill_spec_parse(j, 0, &back, err, sizeof(err)) == 0 && back.duration == 600 &&
                  back.n_azs == 1 && strcmp(back.reason, "game day") == 0,
              "its JSON parses back to the same spec");
    json_decref(j);
    drill_spec_free(&back);
    drill_spec_free(&s);
    st = parse("{\"regions\": [\"us\"], \"mode\": \"scoped\", \"reason\": \"r\", \"canary\": "
               "[\"10.1.2.0/24\", \"2001:db8::/32\"]}",
               &s, err, sizeof(err));
    TAP_CHECK(t, st == 0 && s.n_canary == 2 && s.duration == 3600,
              "a scoped drill without duration gets drills.max_duration");
    drill_spec_free(&s);
    st = parse("{\"regions\": [\"us\"], \"mode\": \"live\", \"dry_run\": true, \"clients\": "
               "[\"192.0.2.9\", \"10.0.0.0/8\"]}",
               &s, err, sizeof(err));
    TAP_CHECK(t,
              st == 0 && s.n_clients == 2 && s.clients[0].has_addr && s.clients[1].ecs.present &&
                  s.clients[1].ecs.source_prefix == 8,
              "a dry run needs no reason nor duration, and takes clients");
    drill_spec_free(&s);

    static const struct {
        const char *body, *want;
    } bad[] = {
        {"[]", "must be a JSON object"},
        {"{\"regions\": [\"us\"], \"mode\": \"live\", \"reason\": \"r\", \"duration\": 5, "
         "\"ttl\": 1}",
         "unknown key \"ttl\""},
        {"{\"regions\": \"us\", \"mode\": \"shadow\", \"reason\": \"r\"}", "\"regions\" must be"},
        {"{\"regions\": [1], \"mode\": \"shadow\", \"reason\": \"r\"}", "\"regions\"[0] must"},
        {"{\"regions\": [\"\"], \"mode\": \"shadow\", \"reason\": \"r\"}", "\"regions\"[0] must"},
        {"{\"regions\": [\"us\", \"us\"], \"mode\": \"shadow\", \"reason\": \"r\"}", "twice"},
        {"{\"azs\": [\"a\\nb\"], \"mode\": \"shadow\", \"reason\": \"r\"}", "\"azs\"[0] must"},
        {"{\"mode\": \"shadow\", \"reason\": \"r\"}", "needs \"regions\" and/or \"azs\""},
        {"{\"regions\": [\"us\"], \"reason\": \"r\"}", "\"mode\" must be"},
        {"{\"regions\": [\"us\"], \"mode\": \"loud\", \"reason\": \"r\"}", "\"mode\" must be"},
        {"{\"regions\": [\"us\"], \"mode\": \"shadow\"}", "\"reason\" must be"},
        {"{\"regions\": [\"us\"], \"mode\": \"shadow\", \"reason\": \"\"}", "\"reason\" must be"},
        {"{\"regions\": [\"us\"], \"mode\": \"live\", \"reason\": \"r\"}", "needs \"duration\""},
        {"{\"regions\": [\"us\"], \"mode\": \"live\", \"reason\": \"r\", \"duration\": 0}",
         "\"duration\" must be"},
        {"{\"regions\": [\"us\"], \"mode\": \"live\", \"reason\": \"r\", \"duration\": \"5\"}",
         "\"duration\" must be"},
        {"{\"regions\": [\"us\"], \"mode\": \"live\", \"reason\": \"r\", \"duration\": 3601}",
         "longer than drills.max_duration"},
        {"{\"regions\": [\"us\"], \"mode\": \"scoped\", \"reason\": \"r\"}", "needs \"canary\""},
        {"{\"regions\": [\"us\"], \"mode\": \"scoped\", \"reason\": \"r\", \"canary\": []}",
         "needs \"canary\""},
        {"{\"regions\": [\"us\"], \"mode\": \"scoped\", \"reason\": \"r\", \"canary\": "
         "[\"10.1.2.1/24\"]}",
         "\"canary\"[0] has bits set"},
        {"{\"regions\": [\"us\"], \"mode\": \"scoped\", \"reason\": \"r\", \"canary\": "
         "[\"0.0.0.0/0\"]}",
         "covers every client"},
        {"{\"regions\": [\"us\"], \"mode\": \"scoped\", \"reason\": \"r\", \"canary\": [7]}",
         "\"canary\"[0] must be"},
        {"{\"regions\": [\"us\"], \"mode\": \"live\", \"reason\": \"r\", \"duration\": 5, "
         "\"canary\": [\"10.0.0.0/8\"]}",
         "only for a scoped drill"},
        {"{\"regions\": [\"us\"], \"mode\": \"shadow\", \"reason\": \"r\", \"abort_if\": {}}",
         "\"abort_if\" must be"},
        {"{\"regions\": [\"us\"], \"mode\": \"shadow\", \"reason\": \"r\", \"abort_if\": "
         "{\"min_up_endpoints\": 0}}",
         "min_up_endpoints\" must be"},
        {"{\"regions\": [\"us\"], \"mode\": \"shadow\", \"reason\": \"r\", \"abort_if\": "
         "{\"min_up_share\": 1.5}}",
         "min_up_share\" must be"},
        {"{\"regions\": [\"us\"], \"mode\": \"shadow\", \"reason\": \"r\", \"abort_if\": "
         "{\"max\": 1}}",
         "unknown key \"abort_if.max\""},
        {"{\"regions\": [\"us\"], \"mode\": \"shadow\", \"reason\": \"r\", \"force\": 1}",
         "must be booleans"},
        {"{\"regions\": [\"us\"], \"mode\": \"shadow\", \"reason\": \"r\", \"clients\": "
         "[\"1.2.3.4\"]}",
         "only for a dry run"},
        {"{\"regions\": [\"us\"], \"mode\": \"shadow\", \"dry_run\": true, \"clients\": "
         "[\"1.2.3\"]}",
         "\"clients\"[0] must be"},
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        err[0] = '\0';
        st = parse(bad[i].body, &s, err, sizeof(err));
        TAP_CHECK(t, st == 400 && strstr(err, bad[i].want) != NULL, "400 \"%s\" for %s", err,
                  bad[i].body);
    }
}

/* ---- the core --------------------------------------------------------- */

/* The loss view the drills published last (NULL: none). */
static const struct policy_loss *view(struct fixture *f)
{
    return atomic_load(&f->serve.loss);
}

static void on_started(void *arg, json_t *d)
{
    struct fixture *f = arg;
    f->started += json_is_string(json_object_get(d, "id"));
}

static void on_ended(void *arg, json_t *d)
{
    struct fixture *f = arg;
    f->ended++;
    snprintf(f->last_ended, sizeof(f->last_ended), "%s %s",
             json_string_value(json_object_get(d, "id")),
             json_string_value(json_object_get(d, "result")));
}

static void on_changed(void *arg)
{
    ((struct fixture *)arg)->changed++;
}

/* Resolves and starts a drill from a request body; returns the status
 * (0 started, 404, 409) and the id. */
static int start(struct fixture *f, const char *body, double now, char id[32])
{
    struct drill_spec s;
    struct drill_targets tg;
    char err[256];
    json_t *j = json_loads(body, 0, NULL);
    int st = drill_spec_parse(j, 3600, &s, err, sizeof(err));
    json_decref(j);
    if (st != 0)
        return st;
    st = drill_resolve(f->g, &s, &tg, err, sizeof(err));
    if (st == 0) {
        struct drill *d = drill_new(&s, &tg, "test", NULL, NULL);
        st = drill_core_start(&f->drills, d, now, id, err, sizeof(err)) == DRILL_STARTED ? 0 : 409;
        drill_targets_free(&tg);
    }
    drill_spec_free(&s);
    return st;
}

static enum health_state region_drill(struct fixture *f, int r)
{
    return health_slot_drill(f->g->regions[r].slot);
}

static void test_lifecycle(struct tap *t, struct fixture *f)
{
    char a[32], b[32], c[32], d[32];
    double now = 1000;
    TAP_CHECK(t,
              start(f,
                    "{\"regions\": [\"mars\"], \"mode\": \"live\", \"reason\": \"r\", "
                    "\"duration\": 60}",
                    now, a) == 404,
              "an unknown region: 404");
    TAP_CHECK(t,
              start(f,
                    "{\"regions\": [\"us\"], \"mode\": \"live\", \"reason\": \"r\", "
                    "\"duration\": 60}",
                    now, a) == 0 &&
                  strcmp(a, "drl-1") == 0,
              "live drill on us starts as drl-1");
    TAP_CHECK(t, region_drill(f, 0) == HEALTH_DOWN && region_drill(f, 1) == HEALTH_UNKNOWN,
              "its region's drill byte is down, the others untouched");
    TAP_CHECK(t, f->started == 1 && f->changed == 1 && view(f) == NULL,
              "listeners hear the start; a live drill publishes no loss view");
    TAP_CHECK(t,
              start(f,
                    "{\"azs\": [\"us-1b\"], \"mode\": \"live\", \"reason\": \"r\", "
                    "\"duration\": 60}",
                    now, b) == 409,
              "a live drill on an az of a region under a live drill: 409");
    TAP_CHECK(
        t,
        start(f, "{\"regions\": [\"us\"], \"mode\": \"shadow\", \"reason\": \"r\"}", now, b) == 0,
        "a shadow drill on the same region is allowed");
    TAP_CHECK(t,
              start(f,
                    "{\"regions\": [\"eu\"], \"mode\": \"scoped\", \"reason\": \"r\", "
                    "\"canary\": [\"10.1.2.0/24\"], \"duration\": 30}",
                    now, c) == 0,
              "a scoped drill on eu starts");
    TAP_CHECK(t,
              view(f) && view(f)->n_groups == 1 && view(f)->groups[0].n_slots == 1 &&
                  view(f)->groups[0].slots[0] == f->g->regions[1].slot &&
                  strcmp(view(f)->groups[0].tag, c) == 0,
              "it publishes a loss view: its canary loses eu");
    TAP_CHECK(t, region_drill(f, 1) == HEALTH_UNKNOWN, "a scoped drill sets no drill byte");
    size_t act[DRILL_MODES];
    drill_core_count_active(&f->drills, act);
    TAP_CHECK(t, act[DRILL_SHADOW] == 1 && act[DRILL_SCOPED] == 1 && act[DRILL_LIVE] == 1,
              "one active drill of each mode");
    TAP_CHECK(t, drill_core_next_end(&f->drills, now) == 30, "the next end is in 30 s");
    TAP_CHECK(t, drill_core_expire(&f->drills, now + 29) == 0, "nothing ends before");
    TAP_CHECK(t, drill_core_expire(&f->drills, now + 30) == 1 && view(f) == NULL,
              "the scoped drill ends at its end time and its view goes");
    TAP_CHECK(t, strstr(f->last_ended, "passed") != NULL, "it passed (%s)", f->last_ended);
    TAP_CHECK(t, !drill_core_end(&f->drills, c, DRILL_ABORTED, "again"),
              "an ended drill cannot end twice");
    TAP_CHECK(t,
              drill_core_end(&f->drills, a, DRILL_ABORTED, "by hand") &&
                  region_drill(f, 0) == HEALTH_UNKNOWN,
              "aborting the live drill clears its byte at once");
    json_t *j = drill_core_get_json(&f->drills, a);
    TAP_CHECK(t,
              j && strcmp(json_string_value(json_object_get(j, "result")), "aborted") == 0 &&
                  strcmp(json_string_value(json_object_get(j, "end_reason")), "by hand") == 0 &&
                  strcmp(json_string_value(json_object_get(j, "state")), "ended") == 0,
              "GET of an ended drill: result aborted, its reason");
    json_decref(j);
    TAP_CHECK(t,
              start(f,
                    "{\"azs\": [\"us-1b\"], \"mode\": \"live\", \"reason\": \"r\", "
                    "\"duration\": 60}",
                    now, d) == 0 &&
                  health_slot_drill(f->g->azs[1].slot) == HEALTH_DOWN,
              "after the abort the az drill may start");
    drill_core_end(&f->drills, d, DRILL_PASSED, "done");
    drill_core_end(&f->drills, b, DRILL_PASSED, "done");
    uint64_t ended[DRILL_RESULTS];
    drill_core_count_ended(&f->drills, ended);
    TAP_CHECK(t, ended[DRILL_PASSED] == 3 && ended[DRILL_ABORTED] == 1 && ended[DRILL_FAILED] == 0,
              "ended counts by result");
    for (int i = 0; i < DRILL_HISTORY + 5; i++) {
        char x[32];
        start(f, "{\"regions\": [\"ap\"], \"mode\": \"shadow\", \"reason\": \"r\"}", now, x);
        drill_core_end(&f->drills, x, DRILL_PASSED, "done");
    }
    j = drill_core_list_json(&f->drills);
    TAP_CHECK(t,
              json_array_size(json_object_get(j, "history")) == DRILL_HISTORY &&
                  json_array_size(json_object_get(j, "active")) == 0,
              "the history keeps the last %d", DRILL_HISTORY);
    json_decref(j);
    TAP_CHECK(t, drill_core_get_json(&f->drills, a) == NULL, "the oldest drop out");
}

static void test_abort_if(struct tap *t, struct fixture *f)
{
    char id[32], ids[4][32], why[4][256];
    double now = 5000;
    TAP_CHECK(t,
              start(f,
                    "{\"regions\": [\"us\"], \"mode\": \"live\", \"reason\": \"r\", "
                    "\"duration\": 60, \"abort_if\": {\"min_up_endpoints\": 3}}",
                    now, id) == 0,
              "live drill with abort_if min_up_endpoints 3");
    TAP_CHECK(t, drill_core_check_abort_if(&f->drills, f->g, ids, why, 4) == 0,
              "eu1, eu2, ap1 up outside: holds");
    health_restore(f->g->pools[0].eps[3].slot, HEALTH_DOWN, 0); /* eu2 */
    size_t n = drill_core_check_abort_if(&f->drills, f->g, ids, why, 4);
    TAP_CHECK(t, n == 1 && strcmp(ids[0], id) == 0 && strstr(why[0], "2 of 3") != NULL,
              "eu2 fails: broken (%s)", n ? why[0] : "-");
    drill_core_end(&f->drills, id, DRILL_ABORTED, why[0]);
    health_restore(f->g->pools[0].eps[3].slot, HEALTH_UP, 0);
    TAP_CHECK(t,
              start(f,
                    "{\"regions\": [\"us\"], \"mode\": \"live\", \"reason\": \"r\", "
                    "\"duration\": 60, \"abort_if\": {\"min_up_share\": 0.7}}",
                    now, id) == 0,
              "live drill with abort_if min_up_share 0.7");
    health_restore(f->g->pools[0].eps[4].slot, HEALTH_DOWN, 0); /* ap1 */
    n = drill_core_check_abort_if(&f->drills, f->g, ids, why, 4);
    TAP_CHECK(t, n == 1 && strstr(why[0], "min_up_share") != NULL, "ap1 fails: 2 of 3 < 0.7 (%s)",
              n ? why[0] : "-");
    health_restore(f->g->pools[0].eps[4].slot, HEALTH_UP, 0);
    char ov[32];
    override_add(&f->core, "region:eu", HEALTH_DOWN, "x", "t", 0, ov);
    n = drill_core_check_abort_if(&f->drills, f->g, ids, why, 4);
    TAP_CHECK(t, n == 1, "an override down elsewhere counts as a failure too");
    override_remove(&f->core, ov);
    drill_core_end(&f->drills, id, DRILL_ABORTED, "test");
}

static void test_persist(struct tap *t, struct fixture *f)
{
    char live[32], scoped[32], old[32];
    double now = 10000;
    start(f, "{\"regions\": [\"ap\"], \"mode\": \"live\", \"reason\": \"r\", \"duration\": 100}",
          now, live);
    start(f,
          "{\"regions\": [\"eu\"], \"mode\": \"scoped\", \"reason\": \"r\", \"canary\": "
          "[\"10.9.0.0/16\"], \"duration\": 10}",
          now, scoped);
    start(f, "{\"regions\": [\"us\"], \"mode\": \"shadow\", \"reason\": \"r\", \"duration\": 5}",
          now, old);
    json_t *sec = drill_core_save(&f->drills);
    char *text = json_dumps(sec, 0);
    json_decref(sec);
    /* A second core, as after a restart 50 s later. */
    struct drill_core c2;
    struct drill_params p = {.max_duration = 3600};
    health_drill_set(&f->core, "region:ap", HEALTH_UNKNOWN);
    drill_core_init(&c2, &f->core, &p);
    json_t *back = json_loads(text, 0, NULL);
    size_t resumed = drill_core_restore(&c2, back, now + 50);
    json_decref(back);
    TAP_CHECK(t, resumed == 1, "only the live drill (ends at +100) resumes at +50");
    TAP_CHECK(t, region_drill(f, 2) == HEALTH_DOWN, "its byte is set again");
    json_t *j = drill_core_get_json(&c2, scoped);
    TAP_CHECK(t,
              j && strcmp(json_string_value(json_object_get(j, "result")), "passed") == 0 &&
                  json_number_value(json_object_get(j, "ended")) == now + 10,
              "the scoped drill ended as passed at its end time while stopped");
    json_decref(j);
    j = drill_core_list_json(&c2);
    TAP_CHECK(t, json_array_size(json_object_get(j, "history")) == DRILL_HISTORY,
              "the history comes back");
    json_decref(j);
    char next[32];
    struct fixture *keep = f;
    (void)keep;
    struct drill_spec s;
    struct drill_targets tg;
    char err[64];
    json_t *body =
        json_loads("{\"regions\": [\"us\"], \"mode\": \"shadow\", \"reason\": \"r\"}", 0, NULL);
    drill_spec_parse(body, 3600, &s, err, sizeof(err));
    drill_resolve(f->g, &s, &tg, err, sizeof(err));
    drill_core_start(&c2, drill_new(&s, &tg, "t", NULL, NULL), now, next, err, sizeof(err));
    unsigned long long n_old = strtoull(old + 4, NULL, 10), n_next = strtoull(next + 4, NULL, 10);
    TAP_CHECK(t, n_next == n_old + 1, "ids go on after a restart (%s after %s)", next, old);
    json_decref(body);
    drill_spec_free(&s);
    drill_targets_free(&tg);
    json_t *bad = json_loads("{\"next_id\": 3, \"active\": [{\"id\": \"drl-x\"}, {\"id\": "
                             "\"drl-7\", \"mode\": \"live\", \"regions\": [\"us\"], \"reason\": "
                             "\"r\", \"duration\": -5, \"started\": 1, \"ends\": 2}, 7], "
                             "\"history\": [{\"id\": \"drl-8\"}]}",
                             0, NULL);
    struct drill_core c3;
    drill_core_init(&c3, &f->core, &p);
    TAP_CHECK(t, drill_core_restore(&c3, bad, now) == 0,
              "malformed saved drills are ignored, not restored");
    json_t *l = drill_core_list_json(&c3);
    TAP_CHECK(t, json_array_size(json_object_get(l, "history")) == 0, "nothing of them is kept");
    json_decref(l);
    json_decref(bad);
    drill_core_free(&c3);
    drill_core_end(&c2, live, DRILL_ABORTED, "test");
    drill_core_free(&c2);
    drill_core_end(&f->drills, live, DRILL_ABORTED, "test");
    drill_core_end(&f->drills, scoped, DRILL_ABORTED, "test");
    drill_core_end(&f->drills, old, DRILL_ABORTED, "test");
    free(text);
}

static json_t *find_rec(json_t *w, const char *name, const char *type)
{
    size_t i;
    json_t *r;
    json_array_foreach(json_object_get(w, "records"), i, r)
    {
        if (strcmp(json_string_value(json_object_get(r, "record")), name) == 0 &&
            strcmp(json_string_value(json_object_get(r, "type")), type) == 0)
            return r;
    }
    return NULL;
}

static double share(json_t *rec, const char *region, const char *when)
{
    size_t i;
    json_t *c;
    json_array_foreach(json_object_get(rec, "capacity"), i, c)
    {
        if (strcmp(json_string_value(json_object_get(c, "region")), region) == 0)
            return json_number_value(json_object_get(c, when));
    }
    return 0;
}

static bool near(double a, double b)
{
    return a - b < 1e-9 && b - a < 1e-9;
}

static void test_whatif(struct tap *t, struct fixture *f)
{
    const struct health_slot *lost[] = {f->g->regions[0].slot};
    struct policy_overlay ov = {.lost = lost, .n_lost = 1};
    struct drill_whatif_sum sum;
    json_t *w = drill_whatif(f->g, &ov, NULL, 0, false, &sum);
    TAP_CHECK(
        t, sum.evaluated == 3 && sum.changed == 3 && sum.unserved == 1 && sum.newly_unserved == 1,
        "us lost: 3 records, all change, uso becomes unserved (%zu/%zu/%zu/%zu)", sum.evaluated,
        sum.changed, sum.unserved, sum.newly_unserved);
    json_t *fo = find_rec(w, "fo.example.com.", "A");
    TAP_CHECK(t,
              fo && json_is_true(json_object_get(fo, "changed")) &&
                  strcmp(json_string_value(
                             json_object_get(json_object_get(fo, "after"), "serving_region")),
                         "eu") == 0,
              "fo moves to eu");
    TAP_CHECK(t, near(share(fo, "us", "before"), 1) && near(share(fo, "eu", "after"), 1),
              "capacity: us carried all of fo, eu absorbs all of it");
    json_t *all = find_rec(w, "all.example.com.", "A");
    TAP_CHECK(t,
              all && near(share(all, "us", "before"), 4.0 / 9) &&
                  near(share(all, "eu", "before"), 4.0 / 9) &&
                  near(share(all, "eu", "after"), 0.8) && near(share(all, "ap", "after"), 0.2),
              "capacity of an all record by weight: eu 4/9 -> 0.8, ap 1/9 -> 0.2");
    json_t *uso = find_rec(w, "uso.example.com.", "A");
    TAP_CHECK(
        t,
        uso &&
            strcmp(json_string_value(json_object_get(json_object_get(uso, "after"), "outcome")),
                   "empty") == 0 &&
            json_array_size(json_object_get(uso, "capacity")) == 1,
        "uso falls to when_all_down (empty); capacity lists only its old region");
    TAP_CHECK(t, json_array_size(json_object_get(w, "would_leave_unserved")) == 1,
              "would_leave_unserved names uso");
    json_decref(w);
    struct drill_client cl[2];
    char err[64];
    drill_client_parse("192.0.2.77", &cl[0], err, sizeof(err));
    drill_client_parse("10.0.0.0/8", &cl[1], err, sizeof(err));
    w = drill_whatif(f->g, &ov, cl, 2, true, &sum);
    TAP_CHECK(t,
              sum.evaluated == 6 && json_array_size(json_object_get(w, "records")) == 6 &&
                  strcmp(json_string_value(json_object_get(
                             json_array_get(json_object_get(w, "records"), 1), "client")),
                         "10.0.0.0/8") == 0,
              "per client: each record for each client");
    json_decref(w);
    const struct health_slot *none[] = {f->g->regions[2].slot};
    struct policy_overlay ov2 = {.lost = none, .n_lost = 1};
    w = drill_whatif(f->g, &ov2, NULL, 0, true, &sum);
    TAP_CHECK(t, sum.changed == 1 && json_array_size(json_object_get(w, "records")) == 1,
              "only_changed: losing ap changes only the all record");
    json_decref(w);
}

int main(void)
{
    struct tap t = {0, 0};
    struct fixture f;
    memset(&f, 0, sizeof(f));
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
    struct drill_params p = {.max_duration = 3600};
    drill_core_init(&f.drills, &f.core, &p);
    serve_init(&f.serve, 1);
    drill_core_attach(&f.drills, &f.serve);
    struct drill_hooks h = {
        .started = on_started, .ended = on_ended, .changed = on_changed, .arg = &f};
    drill_core_add_hooks(&f.drills, &h);
    test_spec(&t);
    test_lifecycle(&t, &f);
    test_abort_if(&t, &f);
    test_persist(&t, &f);
    test_whatif(&t, &f);
    drill_core_free(&f.drills);
    serve_destroy(&f.serve);
    gslb_unref(f.g);
    health_core_free(&f.core);
    json_decref(root);
    errlist_free(&e);
    return tap_done(&t);
}

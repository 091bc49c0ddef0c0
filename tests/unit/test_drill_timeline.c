/* Unit tests for the recovery timeline (src/drill/drill_timeline.c) and
 * the drill core's part in it: which records a drill affects and where
 * their counters are, baselines taken after the change is visible to
 * every worker (sync), samples that time the avoiding and the restored
 * answers and count the lost ones (all clients, or canary clients), what
 * gtmd's own queries saw, the JSON view and its way back from the state
 * file. The counters are a real serve core's, bumped by a reader that
 * plays a worker. */
#include <jansson.h>
#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <time.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/jsoncfg.h"
#include "dns/dns.h"
#include "drill/drill.h"
#include "drill/drill_plan.h"
#include "drill/drill_timeline.h"
#include "health/health.h"
#include "policy/policy_config.h"
#include "tap.h"
#include "zone/snapshot.h"

static const char *CONF =
    "{\"regions\": {\"us\": {}, \"eu\": {}, \"ap\": {}},"
    " \"pools\": {\"web\": {\"endpoints\": ["
    "   {\"name\": \"us1\", \"address\": \"192.0.2.1\", \"region\": \"us\", \"az\": \"us-1a\"},"
    "   {\"name\": \"us2\", \"address\": \"192.0.2.2\", \"region\": \"us\", \"az\": \"us-1b\"},"
    "   {\"name\": \"eu1\", \"address\": \"192.0.2.3\", \"region\": \"eu\"},"
    "   {\"name\": \"ap1\", \"address\": \"192.0.2.4\", \"region\": \"ap\"}]}},"
    " \"records\": {"
    "  \"fo.example.com.\": {\"pool\": \"web\", \"policy\": \"failover\", \"regions\": [\"us\", "
    "\"eu\", \"ap\"], \"ttl\": 30},"
    "  \"eufo.example.com.\": {\"pool\": \"web\", \"policy\": \"failover\", \"regions\": [\"eu\", "
    "\"us\"], \"ttl\": 60},"
    "  \"uso.example.com.\": {\"pool\": \"web\", \"policy\": \"failover\", \"regions\": [\"us\"], "
    "\"when_all_down\": \"empty\", \"ttl\": 5}}}";

/* A real serve core with the policy set published, and a reader that
 * plays a worker answering queries. */
struct fake {
    struct serve sv;
    struct serve_reader *r;
};

static void fake_init(struct fake *f, struct gslb *g)
{
    serve_init(&f->sv, 2);
    f->r = serve_reader_add_counting(&f->sv);
    struct serve_limits lim = {.edns_udp_max = 1232, .tcp_max_connections = 8};
    gslb_ref(g);
    serve_publish(&f->sv, serve_set_new(snapshot_new(), g, 1, &lim));
}

/* Answers of record by region (NULL: none), canary or not, served by the
 * worker. */
static void bump(struct fake *f, const char *record, const char *region, bool canary, uint64_t n)
{
    const struct serve_set *s = serve_enter(f->r);
    size_t k = 0;
    while (strcmp(gslb_rec(s->gslb, k)->name_str, record) != 0)
        k++;
    int reg = region ? gslb_region_index(s->gslb, region) : -1;
    for (uint64_t i = 0; i < n; i++)
        serve_count_policy(f->r, s, k, reg, canary);
    serve_leave(f->r);
}

static const struct drill_tl_record *rec(const struct drill_timeline *tl, const char *name)
{
    for (size_t i = 0; tl && i < tl->n_records; i++)
        if (strcmp(tl->records[i].name, name) == 0)
            return &tl->records[i];
    return NULL;
}

static struct drill_timeline *timeline_of(const struct gslb *g, const char *body, double now,
                                          struct drill_targets *t)
{
    struct drill_spec s;
    char err[256];
    json_t *j = json_loads(body, 0, NULL);
    drill_spec_parse(j, 3600, &s, err, sizeof(err));
    json_decref(j);
    drill_resolve(g, &s, t, err, sizeof(err));
    struct drill_timeline *tl = drill_timeline_new(g, t, s.mode, now);
    drill_spec_free(&s);
    return tl;
}

static void test_records(struct tap *t, const struct gslb *g)
{
    struct drill_targets tg;
    struct drill_timeline *tl = timeline_of(
        g, "{\"regions\": [\"us\"], \"mode\": \"live\", \"duration\": 60, \"reason\": \"r\"}", 100,
        &tg);
    TAP_CHECK(t,
              tl && tl->n_records == 2 && rec(tl, "fo.example.com.") &&
                  rec(tl, "uso.example.com.") && !rec(tl, "eufo.example.com."),
              "losing us affects fo and uso, not eufo (eu serves it)");
    const struct drill_tl_record *fo = rec(tl, "fo.example.com.");
    TAP_CHECK(t,
              fo && fo->n_cols == 4 && fo->cols[0].lost && !fo->cols[1].lost && !fo->cols[2].lost &&
                  !fo->cols[3].region && fo->cols[3].lost,
              "fo's columns: us lost, eu and ap not, none lost (it fails open)");
    const struct drill_tl_record *uso = rec(tl, "uso.example.com.");
    TAP_CHECK(t, uso && uso->n_cols == 2 && uso->cols[0].lost && !uso->cols[1].lost,
              "uso's none column is not lost (it falls to empty)");
    TAP_CHECK(t, tl && tl->ttl == 30 && !tl->canary && tl->phase == DRILL_TL_START,
              "the TTL is the largest of the affected records'");
    drill_timeline_free(tl);
    drill_targets_free(&tg);
    tl = timeline_of(g, "{\"regions\": [\"us\"], \"mode\": \"shadow\", \"reason\": \"r\"}", 100,
                     &tg);
    TAP_CHECK(t, tl == NULL, "a shadow drill has no timeline (nothing served changes)");
    drill_targets_free(&tg);
    tl = timeline_of(
        g, "{\"regions\": [\"ap\"], \"mode\": \"live\", \"duration\": 60, \"reason\": \"r\"}", 100,
        &tg);
    TAP_CHECK(t, tl == NULL, "nor a drill that changes no answer (ap is last everywhere)");
    drill_targets_free(&tg);
    tl = timeline_of(g,
                     "{\"azs\": [\"us-1a\"], \"mode\": \"scoped\", \"canary\": [\"10.0.0.0/8\"], "
                     "\"reason\": \"r\"}",
                     100, &tg);
    fo = rec(tl, "fo.example.com.");
    TAP_CHECK(t, tl && tl->canary && fo && !fo->cols[0].lost,
              "a scoped az drill: canary counters, no region column lost (the az has none)");
    drill_timeline_free(tl);
    drill_targets_free(&tg);
}

static void test_samples(struct tap *t, struct gslb *g)
{
    struct fake f;
    fake_init(&f, g);
    struct drill_targets tg;
    bump(&f, "fo.example.com.", "us", false, 1000); /* before the drill */
    struct drill_timeline *tl = timeline_of(
        g, "{\"regions\": [\"us\"], \"mode\": \"live\", \"duration\": 60, \"reason\": \"r\"}", 100,
        &tg);
    drill_timeline_baseline(tl, &f.sv, false);
    const struct drill_tl_record *fo = rec(tl, "fo.example.com."),
                                 *uso = rec(tl, "uso.example.com.");
    drill_timeline_sample(tl, &f.sv, 100.004);
    TAP_CHECK(t, tl->counted && fo->avoided == 0 && fo->lost == 0,
              "nothing answered yet: nothing avoided, nothing lost (answers before are not)");
    bump(&f, "fo.example.com.", "eu", false, 3);
    bump(&f, "uso.example.com.", NULL, false, 2); /* empty: no serving region */
    drill_timeline_sample(tl, &f.sv, 100.009);
    TAP_CHECK(t, fo->avoided == 100.009 && uso->avoided == 100.009 && fo->answers == 3,
              "answers from eu (fo) and NODATA (uso) avoid us: both at that sample");
    TAP_CHECK(t, drill_timeline_settled(tl) && fabs(drill_timeline_rto(tl) - 0.009) < 1e-9,
              "every record avoided: the RTO is 9 ms");
    bump(&f, "fo.example.com.", "us", false, 2);
    bump(&f, "fo.example.com.", NULL, false, 1); /* failed open: us in it */
    drill_timeline_sample(tl, &f.sv, 101);
    TAP_CHECK(t, drill_timeline_lost(tl) == 3 && fo->avoided == 100.009,
              "answers of us and failed-open ones after the start are lost answers");
    drill_timeline_seen(tl, (size_t)(fo - tl->records), true, 101.5);
    TAP_CHECK(t, fo->self_queries == 1 && fo->self_lost == 1, "an own query answered from us");
    /* The end: a last sample before the targets come back, then the
     * restore baselines and timing. */
    bump(&f, "fo.example.com.", "us", false, 1);
    drill_timeline_end(tl, &f.sv, 160, true);
    TAP_CHECK(t, tl->ended == 160 && drill_timeline_lost(tl) == 4, "the end counts the last one");
    drill_timeline_end(tl, &f.sv, 160, false);
    TAP_CHECK(t, tl->phase == DRILL_TL_RESTORE && tl->window_end == 160 + DRILL_TIMELINE_WINDOW,
              "then the restore is measured");
    bump(&f, "fo.example.com.", "eu", false, 5);
    drill_timeline_sample(tl, &f.sv, 160.002);
    TAP_CHECK(t, fo->restored == 0 && drill_timeline_lost(tl) == 4,
              "eu answers after the end are no restore, and lost answers stay as they were");
    bump(&f, "fo.example.com.", "us", false, 1);
    drill_timeline_sample(tl, &f.sv, 160.003);
    drill_timeline_seen(tl, (size_t)(uso - tl->records), true, 160.006);
    TAP_CHECK(t,
              fo->restored == 160.003 && uso->restored == 160.006 &&
                  fabs(drill_timeline_restore_rto(tl) - 0.006) < 1e-9,
              "us answers again: fo by the counters, uso by an own query; restore RTO 6 ms");
    /* The JSON view, and the way back from the state file. */
    json_t *j = drill_timeline_json(tl);
    TAP_CHECK(t,
              json_real_value(json_object_get(j, "rto")) > 0.0089 &&
                  json_integer_value(json_object_get(j, "lost_answers")) == 4 &&
                  strcmp(json_string_value(json_object_get(j, "lost_answers_of")), "all clients") ==
                      0 &&
                  json_integer_value(json_object_get(j, "self_lost")) == 1 &&
                  json_number_value(json_object_get(j, "rto_plus_ttl")) > 30,
              "the JSON view: RTO, lost answers and whose, own queries, RTO + TTL");
    /* The series: samples at least 50 ms apart (100.009 is 5 ms after
     * the first), the end's sample, none after the end. */
    char *series = json_dumps(json_object_get(j, "series"), JSON_COMPACT | JSON_REAL_PRECISION(7));
    TAP_CHECK(t, series && strcmp(series, "[[100.004,0,0],[101.0,8,3],[160.0,9,4]]") == 0,
              "the series: answers and lost answers summed over the records (%s)", series);
    free(series);
    struct drill_timeline *back = drill_timeline_from_json(j);
    const struct drill_tl_record *bfo = rec(back, "fo.example.com.");
    TAP_CHECK(t,
              back && back->n_records == 2 && back->phase == DRILL_TL_RESTORE && bfo &&
                  bfo->avoided == fo->avoided && bfo->lost_before == 4 && bfo->n_cols == 4 &&
                  bfo->cols[3].lost && !bfo->cols[3].region && bfo->restored == fo->restored &&
                  back->ttl == 30,
              "it reads back from the state file");
    json_t *j2 = drill_timeline_json(back);
    TAP_CHECK(t,
              json_integer_value(json_object_get(j2, "lost_answers")) == 4 &&
                  json_real_value(json_object_get(j2, "rto")) ==
                      json_real_value(json_object_get(j, "rto")) &&
                  json_real_value(json_object_get(json_object_get(j2, "restore"), "rto")) ==
                      json_real_value(json_object_get(json_object_get(j, "restore"), "rto")),
              "and shows the same RTOs and lost answers");
    json_decref(j2);
    drill_timeline_free(back);
    json_object_set_new(j, "records", json_string("nope"));
    TAP_CHECK(t, drill_timeline_from_json(j) == NULL, "a malformed one is not restored");
    json_decref(j);
    drill_timeline_free(tl);
    drill_targets_free(&tg);
    serve_destroy(&f.sv);
}

/* A long drill: the series stays bounded and spans it evenly. */
static void test_series_bounded(struct tap *t, struct gslb *g)
{
    struct fake f;
    fake_init(&f, g);
    struct drill_targets tg;
    struct drill_timeline *tl = timeline_of(
        g, "{\"regions\": [\"us\"], \"mode\": \"live\", \"duration\": 60, \"reason\": \"r\"}", 200,
        &tg);
    drill_timeline_baseline(tl, &f.sv, false);
    bool bounded = true;
    for (int i = 0; i < 1000; i++) {
        bump(&f, "fo.example.com.", "eu", false, 1);
        drill_timeline_sample(tl, &f.sv, 200 + i);
        bounded = bounded && tl->n_points <= DRILL_TIMELINE_POINTS;
    }
    bool increasing = true;
    for (size_t i = 1; i < tl->n_points; i++)
        increasing = increasing && tl->points[i].t > tl->points[i - 1].t &&
                     tl->points[i].answers > tl->points[i - 1].answers;
    const struct drill_tl_point *last = &tl->points[tl->n_points - 1];
    TAP_CHECK(t, bounded && tl->n_points >= DRILL_TIMELINE_POINTS / 2 && increasing,
              "1000 samples: %zu points, oldest first", tl->n_points);
    TAP_CHECK(t,
              tl->points[0].t == 200 && tl->points[0].answers == 1 &&
                  1199 - last->t < tl->point_step && last->answers == (uint64_t)(last->t - 199),
              "from the first sample to the newest within a step (%g s)", tl->point_step);
    drill_timeline_free(tl);
    drill_targets_free(&tg);
    serve_destroy(&f.sv);
}

/* Leaves the query the main thread entered on the worker's reader,
 * 50 ms later. */
struct in_query {
    struct fake *f;
    atomic_int left;
};

static void *in_query_leave(void *arg)
{
    struct in_query *q = arg;
    struct timespec ts = {0, 50 * 1000 * 1000};
    nanosleep(&ts, NULL);
    atomic_store(&q->left, 1);
    serve_leave(q->f->r);
    return NULL;
}

/* The core takes the baselines once every worker sees the change (after
 * the sync), and the end's sample before the targets come back. */
static void test_core(struct tap *t, struct gslb *g, struct health_core *hc)
{
    struct fake f;
    fake_init(&f, g);
    struct drill_params p = {.max_duration = 3600};
    struct drill_core dc;
    struct drill_targets tg;
    struct drill_spec s;
    char id[32], err[256];
    drill_core_init(&dc, hc, &p);
    drill_core_attach(&dc, &f.sv);
    json_t *j = json_loads("{\"regions\": [\"us\"], \"mode\": \"scoped\", \"canary\": "
                           "[\"10.0.0.0/8\"], \"reason\": \"r\"}",
                           0, NULL);
    drill_spec_parse(j, 3600, &s, err, sizeof(err));
    json_decref(j);
    drill_resolve(g, &s, &tg, err, sizeof(err));
    bump(&f, "fo.example.com.", "us", true, 7); /* canary answers before */
    bump(&f, "fo.example.com.", "us", false, 50);
    struct drill *d = drill_new(&s, &tg, "t", NULL, drill_timeline_new(g, &tg, s.mode, 200));
    struct in_query q = {.f = &f};
    pthread_t th;
    serve_enter(f.r); /* a worker inside a query: the start waits for it */
    pthread_create(&th, NULL, in_query_leave, &q);
    drill_core_start(&dc, d, 200, id, err, sizeof(err));
    TAP_CHECK(t, atomic_load(&q.left) == 1,
              "the start waits for the worker inside a query (serve_sync) before its baselines");
    pthread_join(th, NULL);
    bump(&f, "fo.example.com.", "us", false, 40); /* others still get us */
    bump(&f, "fo.example.com.", "eu", true, 2);
    json_t *got = drill_core_get_json(&dc, id);
    json_t *tl = json_object_get(json_object_get(got, "report"), "timeline");
    TAP_CHECK(t,
              tl && json_is_true(json_object_get(tl, "canary")) &&
                  strcmp(json_string_value(json_object_get(tl, "state")), "measuring") == 0,
              "GET shows the timeline of the scoped drill, measuring");
    json_decref(got);
    struct in_query q2 = {.f = &f};
    serve_enter(f.r);
    pthread_create(&th, NULL, in_query_leave, &q2);
    drill_core_end(&dc, id, DRILL_ABORTED, "by hand");
    TAP_CHECK(t, atomic_load(&q2.left) == 1,
              "the end waits for it again before the restore baselines");
    pthread_join(th, NULL);
    got = drill_core_get_json(&dc, id);
    tl = json_object_get(json_object_get(got, "report"), "timeline");
    TAP_CHECK(t,
              json_integer_value(json_object_get(tl, "lost_answers")) == 0 &&
                  strcmp(json_string_value(json_object_get(tl, "lost_answers_of")),
                         "canary clients") == 0 &&
                  strcmp(json_string_value(json_object_get(tl, "state")), "restoring") == 0,
              "only canary answers count: the 40 others from us are no lost answers");
    TAP_CHECK(t, json_number_value(json_object_get(tl, "ended")) > 0, "its end is in it");
    json_decref(got);
    /* A restart: the saved timeline comes back as ended, not measured again. */
    json_t *saved = drill_core_save(&dc);
    struct drill_core dc2;
    drill_core_init(&dc2, hc, &p);
    drill_core_restore(&dc2, saved, 300);
    got = drill_core_get_json(&dc2, id);
    tl = json_object_get(json_object_get(got, "report"), "timeline");
    TAP_CHECK(t, tl && strcmp(json_string_value(json_object_get(tl, "state")), "done") == 0,
              "restored from the state file: done");
    json_decref(got);
    json_decref(saved);
    drill_core_free(&dc2);
    drill_targets_free(&tg);
    drill_spec_free(&s);
    drill_core_free(&dc);
    serve_destroy(&f.sv);
}

int main(void)
{
    struct tap t = {0, 0};
    struct errlist e;
    errlist_init(&e);
    struct jsoncfg j = {.errs = &e, .file = "test.json", .dir = "."};
    json_t *root = json_loads(CONF, 0, NULL);
    const char *origins[] = {"example.com."};
    struct gslb *g = policy_config_parse(&j, root, origins, 1);
    for (size_t i = 0; i < e.count; i++)
        printf("# %s\n", e.msgs[i]);
    if (!TAP_CHECK(&t, e.count == 0, "test policy config parses"))
        return tap_done(&t);
    struct health_core hc;
    health_core_init(&hc);
    gslb_map_health(g, &hc);
    test_records(&t, g);
    test_samples(&t, g);
    test_series_bounded(&t, g);
    test_core(&t, g, &hc);
    gslb_unref(g);
    health_core_free(&hc);
    json_decref(root);
    errlist_free(&e);
    return tap_done(&t);
}

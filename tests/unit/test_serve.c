/* Unit tests for src/serve: readers, the publish with its grace period,
 * and counters summed over readers and carried across publications. */
#include <jansson.h>
#include <pthread.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/jsoncfg.h"
#include "policy/policy_config.h"
#include "serve/serve.h"
#include "serve/serve_bind.h"
#include "tap.h"

static const char *CONF_A =
    "{\"regions\": {\"us\": {}, \"eu\": {}},"
    " \"pools\": {\"p\": {\"endpoints\": ["
    "   {\"name\": \"a\", \"address\": \"192.0.2.1\", \"region\": \"us\"},"
    "   {\"name\": \"b\", \"address\": \"192.0.2.2\", \"region\": \"eu\"}]}},"
    " \"records\": {\"fo.example.com.\": {\"pool\": \"p\", \"regions\": [\"us\", \"eu\"]}}}";

/* Another region first (so indexes move), the same record, one more. */
static const char *CONF_B =
    "{\"regions\": {\"ap\": {}, \"us\": {}, \"eu\": {}},"
    " \"pools\": {\"p\": {\"endpoints\": ["
    "   {\"name\": \"a\", \"address\": \"192.0.2.1\", \"region\": \"us\"},"
    "   {\"name\": \"b\", \"address\": \"192.0.2.2\", \"region\": \"eu\"},"
    "   {\"name\": \"c\", \"address\": \"192.0.2.3\", \"region\": \"ap\"}]}},"
    " \"records\": {\"new.example.com.\": {\"pool\": \"p\", \"policy\": \"all\"},"
    "  \"fo.example.com.\": {\"pool\": \"p\", \"regions\": [\"us\", \"eu\", \"ap\"]}}}";

static struct serve_set *make_set(const char *conf, uint64_t generation)
{
    struct errlist e;
    errlist_init(&e);
    struct jsoncfg j = {.errs = &e, .file = "test.json", .dir = "."};
    json_t *root = json_loads(conf, 0, NULL);
    const char *origins[] = {"example.com."};
    struct gslb *g = conf ? policy_config_parse(&j, root, origins, 1) : NULL;
    for (size_t i = 0; i < e.count; i++)
        fprintf(stderr, "config: %s\n", e.msgs[i]);
    if (e.count)
        abort();
    json_decref(root);
    errlist_free(&e);
    struct serve_limits lim = {.edns_udp_max = 1232, .tcp_max_connections = 8};
    return serve_set_new(snapshot_new(), g, generation, &lim);
}

static size_t record(const struct serve_set *s, const char *name)
{
    for (size_t i = 0; i < s->gslb->n_records; i++)
        if (strcmp(gslb_rec(s->gslb, i)->name_str, name) == 0)
            return i;
    abort();
}

static uint64_t answers(struct serve *sv, const struct serve_set *s, const char *name,
                        const char *region)
{
    int k = region ? gslb_region_index(s->gslb, region) : -1;
    if (region && k < 0)
        abort();
    return serve_sum_policy(sv, s, record(s, name), k);
}

struct publisher {
    struct serve *sv;
    struct serve_set *next, *old;
    atomic_bool done;
};

static void *publish_main(void *arg)
{
    struct publisher *p = arg;
    p->old = serve_publish(p->sv, p->next);
    atomic_store(&p->done, true);
    return NULL;
}

static void sleep_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

/* CONF_B's regions (so its ids are copied, serve_counters_assign), fo
 * changed, new removed, two records added. */
static const char *CONF_C =
    "{\"regions\": {\"ap\": {}, \"us\": {}, \"eu\": {}},"
    " \"pools\": {\"p\": {\"endpoints\": ["
    "   {\"name\": \"a\", \"address\": \"192.0.2.1\", \"region\": \"us\"},"
    "   {\"name\": \"b\", \"address\": \"192.0.2.2\", \"region\": \"eu\"},"
    "   {\"name\": \"c\", \"address\": \"192.0.2.3\", \"region\": \"ap\"}]}},"
    " \"records\": {\"x.example.com.\": {\"pool\": \"p\", \"policy\": \"all\"},"
    "  \"fo.example.com.\": {\"pool\": \"p\", \"regions\": [\"eu\", \"us\"]},"
    "  \"y.example.com.\": {\"pool\": \"p\", \"policy\": \"all\"}}}";

/* A publication after one with the same regions copies the ids of records
 * of the same name and type: the same ids a lookup of their keys gives,
 * so counting goes on; new records get new ids. */
static void test_copied_ids(struct tap *t, struct serve *sv)
{
    const struct serve_set *cur = atomic_load(&sv->current);
    size_t fo = record(cur, "fo.example.com."), stride = cur->policy_stride;
    uint32_t before[8];
    for (size_t k = 0; k < stride && k < 8; k++)
        before[k] = serve_policy_id_of(cur, fo, k + 1 < stride ? (int)k : -1, false);
    uint64_t us = answers(sv, cur, "fo.example.com.", "us");
    serve_set_free(serve_publish(sv, make_set(CONF_C, 9)));
    const struct serve_set *s = atomic_load(&sv->current);
    size_t nf = record(s, "fo.example.com.");
    bool same = s->policy_stride == stride;
    for (size_t k = 0; same && k < stride && k < 8; k++)
        same = before[k] == serve_policy_id_of(s, nf, k + 1 < stride ? (int)k : -1, false);
    TAP_CHECK(t, same, "same regions: the changed record keeps its ids");
    TAP_CHECK(t, answers(sv, s, "fo.example.com.", "us") == us, "and its counts");
    uint32_t x = serve_policy_id_of(s, record(s, "x.example.com."), 0, false);
    uint32_t y = serve_policy_id_of(s, record(s, "y.example.com."), 0, false);
    TAP_CHECK(t, x != y && x != before[0] && y != before[0] && x != SERVE_NO_ID,
              "new records get ids of their own");
}

static struct serve_set *set_of(struct gslb *g, uint64_t generation)
{
    struct serve_limits lim = {.edns_udp_max = 1232, .tcp_max_connections = 8};
    return serve_set_new(snapshot_new(), g, generation, &lim);
}

/* A change that moves no record (fo's TTL: compiled in its room) and
 * keeps the compiled record's row shares the running set's array of rows
 * (serve_counters_share, issue #55): the same ids, counting goes on, and
 * the array is freed by its last holder (ASan's leak check); a change
 * that adds a record gets an array of its own. */
static void test_shared_rows(struct tap *t, struct serve *sv, struct serve_reader *r)
{
    struct errlist e;
    errlist_init(&e);
    struct jsoncfg j = {.errs = &e, .file = "test.json", .dir = "."};
    const char *origins[] = {"example.com."};
    json_t *root0 = json_loads(CONF_C, 0, NULL);
    struct gslb *g0 = policy_config_parse(&j, root0, origins, 1);
    serve_set_free(serve_publish(sv, set_of(g0, 30)));
    const struct serve_set *s0 = atomic_load(&sv->current);
    size_t fo = record(s0, "fo.example.com.");
    int us = gslb_region_index(g0, "us");
    uint64_t n0 = answers(sv, s0, "fo.example.com.", "us");
    /* Untouched members are the very objects of root0, as the API makes. */
    json_t *root1 = json_copy(root0), *recs = json_copy(json_object_get(root0, "records"));
    json_object_set_new(root1, "records", recs);
    json_object_set_new(
        recs, "fo.example.com.",
        json_pack("{s:s, s:[s, s], s:i}", "pool", "p", "regions", "eu", "us", "ttl", 17));
    json_t *touched = json_pack("{s:b}", "fo.example.com.", 1);
    struct policy_reuse ru = {
        .g = g0, .root = root0, .touched = touched, .orders = NULL, .chunks_live = NULL};
    struct gslb *g1 = policy_config_parse_reuse(&j, root1, origins, 1, &ru);
    struct serve_set *s0w = serve_publish(sv, set_of(g1, 31));
    gslb_published(g0, g1);
    const struct serve_set *s1 = atomic_load(&sv->current);
    TAP_CHECK(t,
              e.count == 0 && gslb_rec(s1->gslb, fo)->ttl == 17 &&
                  s1->policy_rows == s0->policy_rows && atomic_load(s1->policy_rows_refs) == 2,
              "a change that moves no record shares the running set's counter rows");
    TAP_CHECK(t, serve_policy_id_of(s1, fo, us, false) == serve_policy_id_of(s0, fo, us, false),
              "the changed record keeps its ids");
    const struct serve_set *in = serve_enter(r);
    serve_count_policy(r, in, fo, us, false);
    serve_leave(r);
    serve_set_free(s0w); /* the first holder leaves */
    TAP_CHECK(t,
              answers(sv, s1, "fo.example.com.", "us") == n0 + 1 &&
                  atomic_load(s1->policy_rows_refs) == 1,
              "counting goes on; the rows held once when the old set is freed");
    /* A record added: the records after it move, an array of its own. */
    json_t *root2 = json_copy(root1), *recs2 = json_copy(recs);
    json_object_set_new(root2, "records", recs2);
    json_object_set_new(recs2, "z.example.com.",
                        json_pack("{s:s, s:s}", "pool", "p", "policy", "all"));
    json_t *touched2 = json_pack("{s:b}", "z.example.com.", 1);
    struct policy_reuse ru2 = {.g = g1, .root = root1, .touched = touched2};
    struct gslb *g2 = policy_config_parse_reuse(&j, root2, origins, 1, &ru2);
    struct serve_set *s1w = serve_publish(sv, set_of(g2, 32));
    gslb_published(g1, g2);
    const struct serve_set *s2 = atomic_load(&sv->current);
    TAP_CHECK(t,
              e.count == 0 && s2->policy_rows != s1->policy_rows &&
                  answers(sv, s2, "fo.example.com.", "us") == n0 + 1,
              "a change that adds a record: rows of its own, the same counts");
    serve_set_free(s1w);
    for (size_t i = 0; i < e.count; i++)
        printf("# %s\n", e.msgs[i]);
    errlist_free(&e);
    json_decref(touched);
    json_decref(touched2);
    json_decref(root0);
    json_decref(root1);
    json_decref(root2);
}

/* The set's table from zone node to binding (serve_bind.h). */
static void test_bind(struct tap *t)
{
    struct zone_node nodes[100];
    struct gslb_bchunk *chunk = calloc(1, sizeof(*chunk)), *const base[1] = {chunk};
    const struct policy_binding *b = chunk ? chunk->b : NULL;
    struct serve_bind bind = {0};
    memset(nodes, 0, sizeof(nodes));
    if (!chunk)
        abort();
    serve_bind_init(&bind, 2, base, NULL); /* grows past what it was sized for */
    for (int i = 0; i < 100; i++) {
        nodes[i].flags = i % 3 ? ZONE_NODE_POLICY_A : 0;
        if (nodes[i].flags)
            serve_bind_put(&bind, &nodes[i], (uint32_t)i);
    }
    serve_bind_put(&bind, &nodes[1], 50); /* replaces */
    bool ok = bind.n == 66;
    for (int i = 2; i < 100; i++)
        ok = ok && serve_bind_get(&bind, &nodes[i]) == (i % 3 ? &b[i] : NULL);
    TAP_CHECK(t, ok && serve_bind_get(&bind, &nodes[1]) == &b[50],
              "bindings by node: found, replaced, absent for unflagged nodes");
    serve_bind_free(&bind);
    struct serve_bind empty = {0};
    TAP_CHECK(t, serve_bind_get(&empty, &nodes[1]) == NULL, "an empty table binds nothing");
    free(chunk);
}

/* The publisher waits while a reader holds the old set, not longer. */
static void test_grace(struct tap *t, struct serve *sv, struct serve_reader *r,
                       struct serve_set *set2, struct serve_set **old)
{
    const struct serve_set *held = serve_enter(r);
    struct publisher p = {.sv = sv, .next = set2};
    atomic_init(&p.done, false);
    pthread_t th;
    pthread_create(&th, NULL, publish_main, &p);
    sleep_ms(100);
    TAP_CHECK(t, !atomic_load(&p.done), "publish waits while a reader holds the old set");
    TAP_CHECK(t, held->generation == 1, "the reader still reads generation 1");
    serve_leave(r);
    pthread_join(th, NULL);
    TAP_CHECK(t, atomic_load(&p.done) && p.old == held, "publish hands back the old set");
    const struct serve_set *now = serve_enter(r);
    TAP_CHECK(t, now == set2 && now->generation == 2, "a new enter sees generation 2");
    serve_leave(r);
    *old = p.old;
}

struct syncer {
    struct serve *sv;
    atomic_bool done;
};

static void *sync_main(void *arg)
{
    struct syncer *p = arg;
    serve_sync(p->sv);
    atomic_store(&p->done, true);
    return NULL;
}

struct churner {
    struct serve_reader *r;
    atomic_bool stop;
};

static void *churn_main(void *arg)
{
    struct churner *c = arg;
    while (!atomic_load(&c->stop)) {
        serve_enter(c->r);
        serve_leave(c->r);
    }
    return NULL;
}

/* serve_sync waits for the sections in progress, not for later
 * ones: a reader that enters and leaves all the time does not hold it. */
static void test_synchronize(struct tap *t, struct serve *sv, struct serve_reader *r,
                             struct serve_reader *busy)
{
    struct syncer p = {.sv = sv};
    atomic_init(&p.done, false);
    struct churner c = {.r = busy};
    atomic_init(&c.stop, false);
    pthread_t th, ch;
    pthread_create(&ch, NULL, churn_main, &c);
    serve_enter(r);
    pthread_create(&th, NULL, sync_main, &p);
    sleep_ms(100);
    TAP_CHECK(t, !atomic_load(&p.done), "synchronize waits for a section in progress");
    serve_leave(r);
    for (int i = 0; i < 500 && !atomic_load(&p.done); i++)
        sleep_ms(2);
    TAP_CHECK(t, atomic_load(&p.done), "and returns once it left, while another reader churns");
    pthread_join(th, NULL);
    atomic_store(&c.stop, true);
    pthread_join(ch, NULL);
    atomic_store(&p.done, false);
    pthread_create(&th, NULL, sync_main, &p);
    pthread_join(th, NULL);
    TAP_CHECK(t, atomic_load(&p.done), "with no reader inside it returns at once");
}

struct bumper {
    struct serve_reader *r;
    size_t rec;
    int region;
    int n;
};

static void *bump_main(void *arg)
{
    struct bumper *b = arg;
    for (int i = 0; i < b->n; i++) {
        const struct serve_set *s = serve_enter(b->r);
        serve_count_policy(b->r, s, b->rec, b->region, false);
        serve_count_query(b->r, 1, 3, 2);
        serve_leave(b->r);
    }
    return NULL;
}

/* Two readers counting on their own threads while sums are taken. */
static void test_concurrent(struct tap *t, struct serve *sv, struct serve_reader *r1,
                            struct serve_reader *r2)
{
    const struct serve_set *s = atomic_load(&sv->current);
    size_t rec = record(s, "fo.example.com.");
    int us = gslb_region_index(s->gslb, "us");
    uint64_t before = serve_sum_policy(sv, s, rec, us), last = before;
    struct serve_query_totals q0, q1;
    serve_sum_queries(sv, &q0);
    struct bumper b1 = {r1, rec, us, 200000}, b2 = {r2, rec, us, 200000};
    pthread_t t1, t2;
    pthread_create(&t1, NULL, bump_main, &b1);
    pthread_create(&t2, NULL, bump_main, &b2);
    bool monotonic = true;
    for (int i = 0; i < 1000; i++) {
        uint64_t v = serve_sum_policy(sv, s, rec, us);
        monotonic = monotonic && v >= last;
        last = v;
    }
    pthread_join(t1, NULL);
    pthread_join(t2, NULL);
    serve_sum_queries(sv, &q1);
    TAP_CHECK(t, monotonic, "sums never go down while readers count");
    TAP_CHECK(t, serve_sum_policy(sv, s, rec, us) == before + 400000, "no answer lost: %llu more",
              (unsigned long long)(last - before));
    TAP_CHECK(t, q1.queries[1][3][2] == q0.queries[1][3][2] + 400000, "no query lost");
}

/* A reader inside an entry while serve_sync waits: sync returns only
 * once it has left. */
struct sync_arg {
    struct serve *sv;
    _Atomic int synced;
};

static void *sync_thread(void *p)
{
    struct sync_arg *a = p;
    serve_sync(a->sv);
    atomic_store(&a->synced, 1);
    return NULL;
}

static void test_sync(struct tap *t, struct serve *sv, struct serve_reader *r)
{
    struct sync_arg a = {.sv = sv};
    atomic_init(&a.synced, 0);
    serve_sync(sv); /* nobody inside: returns at once */
    TAP_CHECK(t, true, "serve_sync with no reader inside returns");
    serve_enter(r);
    pthread_t th;
    pthread_create(&th, NULL, sync_thread, &a);
    struct timespec ts = {0, 50 * 1000 * 1000};
    nanosleep(&ts, NULL);
    TAP_CHECK(t, atomic_load(&a.synced) == 0, "serve_sync waits for a reader inside");
    serve_leave(r);
    pthread_join(th, NULL);
    TAP_CHECK(t, atomic_load(&a.synced) == 1, "and returns once it has left");
    /* Entering again (the same set) also ends the entry that was in
     * progress. */
    atomic_store(&a.synced, 0);
    serve_enter(r);
    pthread_create(&th, NULL, sync_thread, &a);
    nanosleep(&ts, NULL);
    TAP_CHECK(t, atomic_load(&a.synced) == 0, "waits again");
    serve_leave(r);
    serve_enter(r);
    pthread_join(th, NULL);
    TAP_CHECK(t, atomic_load(&a.synced) == 1, "a new entry is not waited for");
    serve_leave(r);
}

/* Canary answers: counted in the normal column and apart; ids by name. */
static void test_canary(struct tap *t, struct serve *sv, struct serve_reader *r)
{
    const struct serve_set *s = serve_enter(r);
    size_t rec = record(s, "fo.example.com.");
    int us = gslb_region_index(s->gslb, "us");
    uint16_t rtype = gslb_rec(s->gslb, rec)->rtype;
    uint32_t all = serve_policy_id(sv, "fo.example.com.", rtype, "us", false);
    uint32_t can = serve_policy_id(sv, "fo.example.com.", rtype, "us", true);
    uint32_t none = serve_policy_id(sv, "fo.example.com.", rtype, NULL, true);
    TAP_CHECK(t, all != SERVE_NO_ID && can != SERVE_NO_ID && none != SERVE_NO_ID && all != can,
              "ids by record name, type and region, canary apart");
    TAP_CHECK(t, serve_policy_id(sv, "nope.example.com.", rtype, "us", false) == SERVE_NO_ID,
              "no id for a record never published");
    uint64_t a0 = serve_sum_id(sv, all), c0 = serve_sum_id(sv, can), n0 = serve_sum_id(sv, none);
    serve_count_policy(r, s, rec, us, true);
    serve_count_policy(r, s, rec, us, true);
    serve_count_policy(r, s, rec, us, false);
    serve_count_policy(r, s, rec, -1, true);
    serve_leave(r);
    TAP_CHECK(t, serve_sum_id(sv, all) == a0 + 3 && serve_sum_id(sv, can) == c0 + 2,
              "canary answers count in both columns, others in one");
    TAP_CHECK(t, serve_sum_id(sv, none) == n0 + 1, "canary answers with no serving region");
    TAP_CHECK(t, serve_sum_id(sv, SERVE_NO_ID) == 0, "SERVE_NO_ID sums to 0");
}

/* A reader made without policy counters has no chunks: a policy answer
 * it counted would be dropped, not written anywhere (the counting readers'
 * sums stay as they were). */
static void s_quiet_counts(struct tap *t, struct serve *sv, struct serve_reader *quiet)
{
    const struct serve_set *s = serve_enter(quiet);
    size_t rec = record(s, "fo.example.com.");
    int us = gslb_region_index(s->gslb, "us");
    uint64_t before = serve_sum_policy(sv, s, rec, us);
    serve_count_policy(quiet, s, rec, us, true);
    TAP_CHECK(t, quiet->counters.policy[0] == NULL && serve_sum_policy(sv, s, rec, us) == before,
              "a reader that does not count policy answers has no chunks and changes no sum");
    serve_leave(quiet);
}

/* Each DNS worker's messages, summed over transports, apart from the
 * readers that are no worker; readers on line pairs of their own. */
static void test_workers(struct tap *t)
{
    struct serve sv;
    serve_init(&sv, 4);
    struct serve_reader *w1 = serve_reader_add_worker(&sv, "udp2");
    struct serve_reader *plain = serve_reader_add_counting(&sv);
    struct serve_reader *w2 = serve_reader_add_worker(&sv, "xdp-with-a-long-name");
    struct serve_reader *admin = serve_reader_add(&sv);
    serve_count_messages(w1, SERVE_UDP, 5);
    serve_count_messages(w1, SERVE_TCP, 2);
    serve_count_messages(w2, SERVE_UDP, 3);
    serve_count_messages(plain, SERVE_UDP, 100);
    struct serve_worker_total w[2];
    TAP_CHECK(t, serve_sum_workers(&sv, NULL, 0) == 2, "two workers among four readers");
    memset(w, 0, sizeof(w));
    TAP_CHECK(t, serve_sum_workers(&sv, w, 1) == 2 && w[1].name[0] == 0,
              "cap 1: the count of all, one filled");
    size_t n = serve_sum_workers(&sv, w, 2);
    TAP_CHECK(t,
              n == 2 && strcmp(w[0].name, "udp2") == 0 && w[0].messages == 7 &&
                  strcmp(w[1].name, "xdp-with-a-long") == 0 && w[1].messages == 3,
              "in order, summed over transports, names cut to 15 characters (%s %llu, %s %llu)",
              w[0].name, (unsigned long long)w[0].messages, w[1].name,
              (unsigned long long)w[1].messages);
    bool aligned = true;
    struct serve_reader *all[] = {w1, plain, w2, admin};
    for (int i = 0; i < 4; i++)
        aligned &= ((uintptr_t)all[i] % SERVE_READER_ALIGN) == 0;
    TAP_CHECK(t, aligned, "every reader starts a %d-byte line pair", SERVE_READER_ALIGN);
    TAP_CHECK(t,
              offsetof(struct serve, readers) - offsetof(struct serve, current) >=
                      SERVE_READER_ALIGN &&
                  (uintptr_t)&sv.current % SERVE_READER_ALIGN == 0,
              "the current set's pointer has its line pair to itself (and the loss view's)");
    serve_destroy(&sv);
}

/* Eight DNS workers, each counting on its own thread as the UDP loop does
 * (enter, a batch of messages and queries, leave) while another thread
 * sums: every sum goes only up, and at the end the totals are exact, per
 * worker and over all (issue #55 item 3: per-worker counters summed on
 * read, nothing written in common per answer). */
#define MANY_WORKERS 8
#define MANY_BATCHES 20000
#define MANY_BATCH 3

static void *many_main(void *arg)
{
    struct serve_reader *r = arg;
    for (int i = 0; i < MANY_BATCHES; i++) {
        (void)serve_enter(r);
        for (int k = 0; k < MANY_BATCH; k++)
            serve_count_query(r, SERVE_UDP, 0, (unsigned)(i % SERVE_QTYPES));
        serve_leave(r);
        serve_count_messages(r, SERVE_UDP, MANY_BATCH);
    }
    return NULL;
}

static void test_many_workers(struct tap *t)
{
    struct serve sv;
    serve_init(&sv, MANY_WORKERS);
    serve_set_free(serve_publish(&sv, make_set(NULL, 1)));
    struct serve_reader *r[MANY_WORKERS];
    pthread_t th[MANY_WORKERS];
    for (int i = 0; i < MANY_WORKERS; i++) {
        char name[16];
        snprintf(name, sizeof(name), "udp%d", i);
        r[i] = serve_reader_add_worker(&sv, name);
    }
    for (int i = 0; i < MANY_WORKERS; i++)
        pthread_create(&th[i], NULL, many_main, r[i]);
    bool monotonic = true;
    uint64_t last_msgs = 0, last_queries = 0;
    for (int i = 0; i < 200; i++) {
        struct serve_query_totals q;
        serve_sum_queries(&sv, &q);
        uint64_t queries = 0;
        for (int k = 0; k < SERVE_QTYPES; k++)
            queries += q.queries[SERVE_UDP][0][k];
        monotonic = monotonic && q.messages[SERVE_UDP] >= last_msgs && queries >= last_queries;
        last_msgs = q.messages[SERVE_UDP];
        last_queries = queries;
    }
    for (int i = 0; i < MANY_WORKERS; i++)
        pthread_join(th[i], NULL);
    struct serve_query_totals q;
    serve_sum_queries(&sv, &q);
    uint64_t queries = 0, want = (uint64_t)MANY_WORKERS * MANY_BATCHES * MANY_BATCH;
    for (int k = 0; k < SERVE_QTYPES; k++)
        queries += q.queries[SERVE_UDP][0][k];
    struct serve_worker_total w[MANY_WORKERS];
    size_t n = serve_sum_workers(&sv, w, MANY_WORKERS);
    bool each = n == MANY_WORKERS;
    for (size_t i = 0; each && i < n; i++)
        each = w[i].messages == (uint64_t)MANY_BATCHES * MANY_BATCH;
    TAP_CHECK(t, monotonic, "%d workers counting: sums never go down", MANY_WORKERS);
    TAP_CHECK(t, q.messages[SERVE_UDP] == want && queries == want,
              "no message or query lost: %llu and %llu of %llu",
              (unsigned long long)q.messages[SERVE_UDP], (unsigned long long)queries,
              (unsigned long long)want);
    TAP_CHECK(t, each, "each worker's own count is exact");
    bool apart = true;
    for (int i = 0; i < MANY_WORKERS; i++)
        for (int j = 0; j < MANY_WORKERS; j++) {
            uintptr_t a = (uintptr_t)r[i], b = (uintptr_t)r[j];
            apart &= i == j || a / SERVE_READER_ALIGN != b / SERVE_READER_ALIGN ||
                     a + sizeof(struct serve_reader) <= b;
            apart &= i == j || (a + sizeof(struct serve_reader) - 1) / SERVE_READER_ALIGN !=
                                   b / SERVE_READER_ALIGN;
        }
    TAP_CHECK(t, apart, "no two workers' counters share a %d-byte line pair", SERVE_READER_ALIGN);
    serve_destroy(&sv);
}

int main(void)
{
    struct tap t = {0, 0};
    test_workers(&t);
    test_many_workers(&t);
    struct serve sv;
    serve_init(&sv, 4);
    struct serve_reader *r1 = serve_reader_add_counting(&sv), *r2 = serve_reader_add_counting(&sv);
    struct serve_set *set1 = make_set(CONF_A, 1);
    TAP_CHECK(&t, serve_publish(&sv, set1) == NULL, "first publish: no old set");
    struct serve_reader *r3 = serve_reader_add_counting(&sv); /* added after a publication */
    struct serve_reader *quiet = serve_reader_add(&sv);       /* admin-like: counts no answers */
    TAP_CHECK(&t, r1 && r2 && r3 && quiet && !serve_reader_add(&sv), "four reader slots, no fifth");
    s_quiet_counts(&t, &sv, quiet);

    const struct serve_set *s = serve_enter(r1);
    for (int i = 0; i < 3; i++)
        serve_count_policy(r1, s, record(s, "fo.example.com."), gslb_region_index(s->gslb, "us"),
                           false);
    serve_leave(r1);
    s = serve_enter(r3);
    serve_count_policy(r3, s, 0, gslb_region_index(s->gslb, "us"), false);
    serve_count_policy(r3, s, 0, -1, false);
    serve_count_query(r3, 0, 0, 0);
    serve_count_messages(r3, 0, 4);
    serve_leave(r3);
    serve_count_query(r2, 0, 0, 0);
    TAP_CHECK(&t, answers(&sv, set1, "fo.example.com.", "us") == 4,
              "us answers summed over readers");
    TAP_CHECK(&t, answers(&sv, set1, "fo.example.com.", NULL) == 1, "no-region answers apart");
    TAP_CHECK(&t, answers(&sv, set1, "fo.example.com.", "eu") == 0, "eu: none");
    struct serve_query_totals q;
    serve_sum_queries(&sv, &q);
    TAP_CHECK(&t, q.queries[0][0][0] == 2 && q.messages[0] == 4, "query counters summed");

    test_synchronize(&t, &sv, r1, r3);
    struct serve_set *set2 = make_set(CONF_B, 2), *old = NULL;
    test_grace(&t, &sv, r1, set2, &old);
    serve_set_free(old);
    TAP_CHECK(&t, answers(&sv, set2, "fo.example.com.", "us") == 4,
              "a reload keeps the record's counter per region name");
    TAP_CHECK(&t, answers(&sv, set2, "fo.example.com.", NULL) == 1, "and its no-region counter");
    TAP_CHECK(&t,
              answers(&sv, set2, "fo.example.com.", "ap") == 0 &&
                  answers(&sv, set2, "new.example.com.", "us") == 0,
              "new regions and records start at 0");
    s = serve_enter(r2);
    serve_count_policy(r2, s, record(s, "fo.example.com."), gslb_region_index(s->gslb, "us"),
                       false);
    serve_count_policy(r2, s, record(s, "new.example.com."), gslb_region_index(s->gslb, "ap"),
                       false);
    serve_leave(r2);
    TAP_CHECK(&t, answers(&sv, set2, "fo.example.com.", "us") == 5, "counting goes on after it");
    TAP_CHECK(&t, answers(&sv, set2, "new.example.com.", "ap") == 1, "the new record counts");

    test_concurrent(&t, &sv, r1, r2);

    /* A set without policies: nothing to count, nothing breaks. */
    old = serve_publish(&sv, make_set(NULL, 3));
    serve_set_free(old);
    s = serve_enter(r1);
    TAP_CHECK(&t, s->generation == 3 && !s->gslb && !s->policy_rows, "a set without policies");
    serve_leave(r1);
    /* Back to CONF_A: the record's counters come back where they were. */
    old = serve_publish(&sv, make_set(CONF_A, 4));
    serve_set_free(old);
    s = atomic_load(&sv.current);
    TAP_CHECK(&t, answers(&sv, s, "fo.example.com.", "us") == 400005,
              "counters survive a generation without the record");
    test_canary(&t, &sv, r3);
    test_sync(&t, &sv, r2);
    serve_set_free(serve_publish(&sv, make_set(CONF_B, 8)));
    test_copied_ids(&t, &sv);
    test_shared_rows(&t, &sv, r1);
    test_bind(&t);
    serve_destroy(&sv);
    return tap_done(&t);
}

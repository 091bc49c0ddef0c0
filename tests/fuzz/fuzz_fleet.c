/*
 * fuzz_fleet.c -- libFuzzer target for what etcd and the fleet's peers
 * send: the watch stream framer (src/fleet/etcd_stream.c) and the fleet's
 * decoding of what it frames (fleet_sync_watch_events for a watch
 * message's "result", fleet_sync_read_range for a range reply: base64 keys
 * and values, node keys, peers' reports, shared override records).
 *
 * Input: the first byte seeds where the stream is cut into chunks, the
 * rest is the stream. It is framed three ways (in one chunk, in small
 * pieces, in cuts from the seed) and each object of the last framing is
 * decoded into a real struct fleet (prefix "/gtmd/", this node "fra") over
 * a real health core with a few endpoint slots; one is checked by this
 * node. Nothing reaches etcd: the client is made but never called.
 * Seeds: tests/fuzz/corpus/fleet (tests/fuzz/make_corpus.py).
 *
 * Invariants (abort() on violation): the framing does not depend on the
 * chunking (same objects, same verdict on the stream), and the fleet's
 * tables stay within their bounds with well-formed reports.
 */
#include <event2/event.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_check.h"
#include "common/errlist.h"
#include "common/event_ring.h"
#include "common/jsoncfg.h"
#include "fleet/etcd_stream.h"
#include "fleet/fleet_int.h"
#include "health/health.h"
#include "health/override.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* What one framing delivered: a count and a running hash of the objects. */
struct fuzz_fleet_frames {
    size_t n;
    uint64_t hash;
    bool failed;
    struct fleet *f; /* decode into it when not NULL */
};

static void fuzz_fleet_decode(struct fleet *f, json_t *obj)
{
    json_t *res = json_object_get(obj, "result");
    if (json_is_object(res)) { /* what etcd_watch hands to the fleet */
        if (!fleet_sync_watch_events(f, res)) {
            FUZZ_CHECK(f->conn != FLEET_CONN_SYNCED);
            f->conn = FLEET_CONN_SYNCED; /* as after the next fresh read */
        }
    } else if (json_object_get(obj, "kvs")) { /* a range reply: the fresh read */
        fleet_sync_read_range(f, obj);
        fleet_recompute_all(f);
        for (size_t i = 0; i < f->n_kinds; i++)
            fleet_store_resync(f, &f->kinds[i]);
        f->conn = FLEET_CONN_SYNCED;
    }
}

static void fuzz_fleet_on_obj(void *arg, json_t *obj)
{
    struct fuzz_fleet_frames *fr = arg;
    FUZZ_CHECK(json_is_object(obj));
    char *text = json_dumps(obj, JSON_COMPACT | JSON_SORT_KEYS | JSON_ENCODE_ANY);
    FUZZ_CHECK(text != NULL);
    for (const char *p = text; *p; p++)
        fr->hash = (fr->hash ^ (unsigned char)*p) * 1099511628211ull;
    fr->hash = (fr->hash ^ 0xff) * 1099511628211ull;
    free(text);
    fr->n++;
    if (fr->f)
        fuzz_fleet_decode(fr->f, obj);
}

/* Feeds stream[0..n) in chunks of 1..max_step octets from seed (max_step
 * 0: in one chunk). */
static void fuzz_fleet_frame(const uint8_t *stream, size_t n, uint32_t seed, size_t max_step,
                             struct fuzz_fleet_frames *fr)
{
    struct etcd_stream s;
    etcd_stream_init(&s);
    fr->n = 0;
    fr->hash = 14695981039346656037ull;
    fr->failed = false;
    uint32_t x = seed;
    for (size_t off = 0; off < n && !fr->failed;) {
        x = x * 1103515245u + 12345u;
        size_t step = max_step == 0 ? n - off : 1 + (x >> 8) % max_step;
        if (step > n - off)
            step = n - off;
        char *chunk = malloc(step); /* exact size, so ASan sees overreads */
        FUZZ_CHECK(chunk != NULL);
        memcpy(chunk, stream + off, step);
        size_t before = fr->n;
        int r = etcd_stream_feed(&s, chunk, step, fuzz_fleet_on_obj, fr);
        free(chunk);
        if (r < 0)
            fr->failed = true;
        else
            FUZZ_CHECK((size_t)r == fr->n - before);
        FUZZ_CHECK(s.len <= ETCD_STREAM_MAX && s.scan <= s.len);
        off += step;
    }
    etcd_stream_free(&s);
}

/* The fleet section the target runs with, parsed by the real parser. */
static const char fuzz_fleet_config[] =
    "{\"etcd\": [\"http://127.0.0.1:2379\"], \"prefix\": \"/gtmd/\", \"node\": \"fra\", "
    "\"down_quorum\": \"majority\", \"stale_after\": 10, \"timeout\": 1}";

/* A fleet as fleet_start makes it (fleet_new), without its thread and
 * events, that checks endpoint:web/a and has synced once. */
static struct fleet *fuzz_fleet_new(struct health_core *hc)
{
    struct errlist e;
    errlist_init(&e);
    struct jsoncfg j = {.errs = &e, .file = "fuzz.json", .dir = "."};
    json_t *v = json_loads(fuzz_fleet_config, 0, NULL);
    FUZZ_CHECK(v != NULL);
    struct fleet_params p;
    fleet_params_parse(&j, v, &p);
    json_decref(v);
    for (size_t k = 0; k < e.count; k++)
        fprintf(stderr, "fuzz_fleet: %s\n", e.msgs[k]);
    FUZZ_CHECK(e.count == 0);
    errlist_free(&e);
    struct fleet_env env = {.health = hc, .version = "fuzz"};
    char err[256];
    struct fleet *f = fleet_new(&p, &env, err, sizeof(err));
    fleet_params_free(&p); /* fleet_new copied it */
    if (!f)
        fprintf(stderr, "fuzz_fleet: %s\n", err);
    FUZZ_CHECK(f != NULL);
    const char *keys[] = {"endpoint:web/a"};
    struct health_slot *slots[] = {health_core_slot(hc, "endpoint:web/a")};
    fleet_adopt_local(f, keys, slots, 1);
    f->conn = FLEET_CONN_SYNCED;
    f->ever_synced = true;
    return f;
}

/* The tables' bounds and the reports' shape after decoding. */
static void fuzz_fleet_check(struct fleet *f, struct health_core *hc)
{
    FUZZ_CHECK(f->n_nodes <= FLEET_NODES_MAX && f->n_nodes <= f->cap_nodes);
    FUZZ_CHECK(f->self < f->n_nodes && strcmp(f->nodes[f->self].name, "fra") == 0);
    FUZZ_CHECK(f->n_eps <= f->n_local + FLEET_FOREIGN_EPS_MAX);
    size_t eps = 0;
    pthread_mutex_lock(&f->lock);
    for (size_t b = 0; b < f->n_buckets; b++)
        for (struct fleet_ep *e = f->buckets[b]; e; e = e->next) {
            eps++;
            FUZZ_CHECK(strncmp(e->key, "endpoint:", 9) == 0);
            for (struct fleet_obs *o = e->obs; o; o = o->next) {
                FUZZ_CHECK(o->node < f->n_nodes && o->node != f->self);
                FUZZ_CHECK(o->state == HEALTH_UP || o->state == HEALTH_DOWN);
            }
            char why[256];
            enum health_state v = fleet_ep_verdict_locked(f, e, why, sizeof(why));
            FUZZ_CHECK(v == HEALTH_UP || v == HEALTH_DOWN || v == HEALTH_UNKNOWN);
            FUZZ_CHECK(memchr(why, '\0', sizeof(why)) != NULL);
        }
    (void)fleet_disagreements_locked(f);
    pthread_mutex_unlock(&f->lock);
    FUZZ_CHECK(eps == f->n_eps);
    for (size_t i = 0; i < f->n_nodes; i++)
        FUZZ_CHECK(memchr(f->nodes[i].name, '\0', sizeof(f->nodes[i].name)) != NULL);
    FUZZ_CHECK(override_count(hc) <= hc->max_overrides);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    uint8_t seed = size > 0 ? data[0] : 0;
    const uint8_t *stream = size > 0 ? data + 1 : data;
    size_t n = size > 0 ? size - 1 : 0;

    struct fuzz_fleet_frames whole = {0}, small = {0}, cut = {0};
    fuzz_fleet_frame(stream, n, 0, 0, &whole); /* one chunk: step n */
    fuzz_fleet_frame(stream, n, seed, 1 + n / 512, &small);

    struct health_core hc;
    health_core_init(&hc);
    hc.events = event_ring_new(16);
    FUZZ_CHECK(hc.events != NULL);
    (void)health_core_slot(&hc, "endpoint:web/b");
    struct fleet *f = fuzz_fleet_new(&hc);
    cut.f = f;
    fuzz_fleet_frame(stream, n, seed * 2654435761u, 1 + seed % 97, &cut);

    FUZZ_CHECK(whole.n == small.n && whole.n == cut.n);
    FUZZ_CHECK(whole.hash == small.hash && whole.hash == cut.hash);
    FUZZ_CHECK(whole.failed == small.failed && whole.failed == cut.failed);

    fuzz_fleet_check(f, &hc);
    fleet_store_stop(f);
    fleet_free(f);
    health_core_free(&hc);
    event_ring_free(hc.events);
    return 0;
}

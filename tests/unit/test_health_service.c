/*
 * Unit tests for src/health/service.c, the health thread: overrides expire
 * on time through its timer (armed at the next expiry, re-armed when the
 * overrides change, armed at start for restored ones), and it is the one
 * writer of the state file: a save request returns once the change is on
 * disk, a request without waiting is covered by a later write and its
 * callback, many such requests share writes, a probe state change is
 * written without being asked, and the stop writes a last time. Every
 * wait is bounded.
 */
#include <jansson.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "health/health.h"
#include "health/override.h"
#include "health/service.h"
#include "tap.h"

struct ctx {
    struct tap *t;
    char dir[64];
    char file[96];
};

static void sleep_ms(int ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

/* Waits (at most limit_s) until the slot's override byte is want; returns
 * the wall time it was seen, or 0 on timeout. */
static double wait_override(const struct health_slot *s, enum health_state want, double limit_s)
{
    double until = health_now() + limit_s;
    while (health_now() < until) {
        if (health_slot_override(s) == want)
            return health_now();
        sleep_ms(1);
    }
    return 0;
}

static json_t *read_state(const char *path)
{
    return json_load_file(path, 0, NULL);
}

/* Whether the state file lists override id. */
static bool file_has_override(const char *path, const char *id)
{
    json_t *root = read_state(path);
    json_t *arr = json_object_get(root, "overrides");
    bool found = false;
    size_t i;
    json_t *o;
    json_array_foreach(arr, i, o) found |=
        strcmp(json_string_value(json_object_get(o, "id")), id) == 0;
    json_decref(root);
    return found;
}

static size_t file_override_count(const char *path)
{
    json_t *root = read_state(path);
    size_t n = root ? json_array_size(json_object_get(root, "overrides")) : (size_t)-1;
    json_decref(root);
    return n;
}

static void test_expiry_on_time(struct ctx *c)
{
    struct health_core core;
    health_core_init(&core);
    struct health_slot *s = health_core_slot(&core, "region:us");
    struct health_service *svc = health_service_start(&core);
    health_service_set_state_file(svc, c->file);
    char id[32];
    double t0 = health_now();
    override_add(&core, "region:us", HEALTH_DOWN, "short", "test", t0 + 0.3, id);
    TAP_CHECK(c->t, health_slot_override(s) == HEALTH_DOWN, "expiry: override in force");
    double seen = wait_override(s, HEALTH_UNKNOWN, 3.0);
    double late = seen - (t0 + 0.3);
    TAP_CHECK(c->t, seen > 0 && late >= -0.005 && late < 0.1,
              "expiry: the timer removed it at its time (%.1f ms late)", late * 1e3);
    TAP_CHECK(c->t, override_count(&core) == 0, "expiry: the override is gone from the list");
    bool written = false;
    for (int i = 0; i < 2000 && !written; i++, sleep_ms(1))
        written = file_override_count(c->file) == 0;
    TAP_CHECK(c->t, written, "expiry: the health thread wrote the state file without it");
    health_service_stop(svc);
    health_core_free(&core);
}

static void test_rearm(struct ctx *c)
{
    struct health_core core;
    health_core_init(&core);
    struct health_slot *us = health_core_slot(&core, "region:us");
    struct health_slot *eu = health_core_slot(&core, "region:eu");
    struct health_service *svc = health_service_start(&core);
    char long_id[32], short_id[32];
    double t0 = health_now();
    override_add(&core, "region:eu", HEALTH_DOWN, "long", "test", t0 + 30, long_id);
    sleep_ms(50); /* the timer is armed at 30 s now */
    double t1 = health_now();
    override_add(&core, "region:us", HEALTH_DOWN, "short", "test", t1 + 0.25, short_id);
    double seen = wait_override(us, HEALTH_UNKNOWN, 3.0);
    double late = seen - (t1 + 0.25);
    TAP_CHECK(c->t, seen > 0 && late >= -0.005 && late < 0.1,
              "re-arm: a sooner override added later expires on time (%.1f ms late)", late * 1e3);
    TAP_CHECK(c->t, health_slot_override(eu) == HEALTH_DOWN && override_count(&core) == 1,
              "re-arm: the later one is still in force");
    health_service_stop(svc);
    health_core_free(&core);
}

static void test_restored_before_start(struct ctx *c)
{
    struct health_core core;
    health_core_init(&core);
    struct health_slot *s = health_core_slot(&core, "az:a");
    double t0 = health_now();
    json_t *arr =
        json_pack("[{s:s, s:s, s:s, s:s, s:s, s:f, s:f}, {s:s, s:s, s:s, s:s, s:s, s:f, s:f}]",
                  "id", "ovr-7", "target", "az:a", "state", "down", "reason", "r", "author", "a",
                  "created", t0 - 10, "expires", t0 + 0.2, "id", "ovr-3", "target", "az:a", "state",
                  "up", "reason", "old", "author", "a", "created", t0 - 20, "expires", t0 - 1);
    struct override_restore_stats st;
    override_restore(&core, arr, t0, &st);
    size_t n = st.restored;
    json_decref(arr);
    TAP_CHECK(c->t, n == 1 && health_slot_override(s) == HEALTH_DOWN,
              "restore: the expired override is dropped, the other applies");
    struct health_service *svc = health_service_start(&core);
    double seen = wait_override(s, HEALTH_UNKNOWN, 3.0);
    double late = seen - (t0 + 0.2);
    TAP_CHECK(c->t, seen > 0 && late >= -0.005 && late < 0.1,
              "restore: an override restored before the start expires on time (%.1f ms late)",
              late * 1e3);
    health_service_stop(svc);
    health_core_free(&core);
}

static void test_save(struct ctx *c)
{
    struct health_core core;
    health_core_init(&core);
    health_core_slot(&core, "region:us");
    struct health_service *svc = health_service_start(&core);
    TAP_CHECK(c->t, health_service_save(svc) == 1, "save: without a state file there is none");
    health_service_set_state_file(svc, c->file);
    unlink(c->file);
    char id[32];
    override_add(&core, "region:us", HEALTH_DOWN, "drain", "test", 0, id);
    int rc = health_service_save(svc);
    /* No waiting: the call returns after the write. */
    TAP_CHECK(c->t, rc == 0 && file_has_override(c->file, id),
              "save: returns 0 once the file holds the override just added");
    struct stat st;
    TAP_CHECK(c->t, stat(c->file, &st) == 0 && (st.st_mode & 0777) == 0600,
              "save: the state file has mode 0600");
    override_remove(&core, id);
    rc = health_service_save(svc);
    TAP_CHECK(c->t, rc == 0 && !file_has_override(c->file, id),
              "save: a removal is on disk when save returns");
    health_service_set_state_file(svc, "/nonexistent-gtmd-dir/state.json");
    TAP_CHECK(c->t, health_service_save(svc) == -1, "save: a failed write returns -1");
    health_service_set_state_file(svc, c->file);
    health_service_stop(svc);
    health_core_free(&core);
}

struct saver {
    struct health_core *core;
    struct health_service *svc;
    const char *file;
    int n, ok;
};

static void *saver_main(void *arg)
{
    struct saver *s = arg;
    for (int i = 0; i < s->n; i++) {
        char id[32];
        override_add(s->core, "region:us", HEALTH_UP, "storm", "test", 0, id);
        if (health_service_save(s->svc) == 0 && file_has_override(s->file, id))
            s->ok++;
    }
    return NULL;
}

static void test_concurrent_saves(struct ctx *c)
{
    struct health_core core;
    health_core_init(&core);
    struct health_service *svc = health_service_start(&core);
    health_service_set_state_file(svc, c->file);
    struct saver sv[4];
    pthread_t th[4];
    for (int i = 0; i < 4; i++) {
        sv[i] = (struct saver){.core = &core, .svc = svc, .file = c->file, .n = 15};
        if (pthread_create(&th[i], NULL, saver_main, &sv[i]) != 0)
            abort();
    }
    int ok = 0;
    for (int i = 0; i < 4; i++) {
        pthread_join(th[i], NULL);
        ok += sv[i].ok;
    }
    TAP_CHECK(c->t, ok == 60 && file_override_count(c->file) == 60,
              "save: 4 threads x 15 add+save: each finds its override on disk at once (%d)", ok);
    health_service_stop(svc);
    health_core_free(&core);
}

struct saved_cb {
    pthread_mutex_t lock;
    int calls;
};

static void on_saved(void *arg)
{
    struct saved_cb *cb = arg;
    pthread_mutex_lock(&cb->lock);
    cb->calls++;
    pthread_mutex_unlock(&cb->lock);
}

static json_int_t status_writes(struct health_service *svc)
{
    json_t *j = health_service_status_json(svc);
    json_int_t w = json_integer_value(json_object_get(j, "writes"));
    json_decref(j);
    return w;
}

static void test_save_async(struct ctx *c)
{
    struct health_core core;
    health_core_init(&core);
    unlink(c->file);
    struct health_service *svc = health_service_start(&core);
    health_service_set_state_file(svc, c->file);
    struct saved_cb cb = {.calls = 0};
    pthread_mutex_init(&cb.lock, NULL);
    health_service_set_saved_cb(svc, on_saved, &cb);
    json_int_t w0 = status_writes(svc);
    char id[32];
    uint64_t last = 0;
    bool increasing = true;
    for (int i = 0; i < 200; i++) {
        override_add(&core, "region:us", HEALTH_DOWN, "burst", "test", 0, id);
        uint64_t t = health_service_save_async(svc);
        increasing &= t > last;
        last = t;
    }
    int rc = -2;
    uint64_t done = 0;
    for (int i = 0; i < 3000 && done < last; i++, sleep_ms(1))
        done = health_service_saved(svc, &rc);
    json_int_t writes = status_writes(svc) - w0;
    TAP_CHECK(c->t, increasing && done >= last && rc == 0,
              "save_async: request numbers grow, and a write covers the last one");
    TAP_CHECK(c->t, file_override_count(c->file) == 200 && file_has_override(c->file, id),
              "save_async: once covered, every change is on disk");
    TAP_CHECK(c->t, writes >= 1 && writes < 200,
              "save_async: 200 requests without waiting shared %lld writes", (long long)writes);
    pthread_mutex_lock(&cb.lock);
    int calls = cb.calls;
    pthread_mutex_unlock(&cb.lock);
    TAP_CHECK(c->t, calls >= 1 && calls == (int)writes,
              "save_async: the callback ran after every write (%d)", calls);
    health_service_set_saved_cb(svc, NULL, NULL);
    health_service_save(svc);
    pthread_mutex_lock(&cb.lock);
    TAP_CHECK(c->t, cb.calls == calls, "save_async: no callback once it is removed");
    pthread_mutex_unlock(&cb.lock);
    health_service_stop(svc);
    pthread_mutex_destroy(&cb.lock);
    health_core_free(&core);
}

static void test_state_change_and_stop(struct ctx *c)
{
    struct health_core core;
    health_core_init(&core);
    struct health_slot *s = health_core_slot(&core, "endpoint:web/a");
    unlink(c->file);
    struct health_service *svc = health_service_start(&core);
    health_service_set_state_file(svc, c->file);
    struct health_result ok = {.ok = true, .latency_us = 10, .reason = "ok"};
    health_report(&core, s, &ok, 2, 2);
    const char *state = NULL;
    json_t *root = NULL;
    for (int i = 0; i < 2000 && !state; i++, sleep_ms(1)) {
        json_decref(root);
        root = read_state(c->file);
        json_t *e = json_object_get(json_object_get(root, "endpoints"), "endpoint:web/a");
        state = json_string_value(json_object_get(e, "state"));
    }
    TAP_CHECK(c->t, state && strcmp(state, "up") == 0,
              "a probe state change is written without a request");
    json_decref(root);
    char id[32];
    override_add(&core, "endpoint:web/a", HEALTH_DOWN, "at stop", "test", 0, id);
    health_service_stop(svc);
    TAP_CHECK(c->t, file_has_override(c->file, id), "stop writes the state file a last time");
    health_core_free(&core);
}

int main(void)
{
    struct tap t = {0, 0};
    struct ctx c = {.t = &t};
    snprintf(c.dir, sizeof(c.dir), "/tmp/gtmd-service-XXXXXX");
    if (!mkdtemp(c.dir))
        abort();
    snprintf(c.file, sizeof(c.file), "%s/state.json", c.dir);
    test_expiry_on_time(&c);
    test_rearm(&c);
    test_restored_before_start(&c);
    test_save(&c);
    test_save_async(&c);
    test_concurrent_saves(&c);
    test_state_change_and_stop(&c);
    unlink(c.file);
    rmdir(c.dir);
    return tap_done(&t);
}

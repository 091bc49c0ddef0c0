/*
 * Unit tests for src/health/persist.c, the state file: a save and a load
 * into a fresh core restore probe states, their times, the overrides and
 * the next override id; expired overrides are dropped; a file older than
 * state_max_age restores overrides but no states; slots not in use, a
 * missing file and a corrupt one are handled; sections owned by other
 * modules are written with the rest and read back.
 */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "health/health.h"
#include "health/override.h"
#include "health/persist.h"
#include "tap.h"

struct ctx {
    struct tap *t;
    char dir[64];
    char file[96];
};

static const struct health_result PASS = {.ok = true, .latency_us = 10, .reason = "ok"};
static const struct health_result FAIL = {
    .ok = false, .kind = HEALTH_FAIL_REFUSED, .latency_us = 10, .reason = "connection refused"};

/* Edits the saved file: sets saved_at (when > 0) and the expiry of the
 * override with id (when id is set). */
static void edit_file(const char *path, double saved_at, const char *id, double expires)
{
    json_t *root = json_load_file(path, 0, NULL);
    if (!root)
        abort();
    if (saved_at > 0)
        json_object_set_new(root, "saved_at", json_real(saved_at));
    size_t i;
    json_t *o;
    json_array_foreach(json_object_get(root, "overrides"), i,
                       o) if (id && strcmp(json_string_value(json_object_get(o, "id")), id) == 0)
        json_object_set_new(o, "expires", json_real(expires));
    if (json_dump_file(root, path, 0) != 0)
        abort();
    json_decref(root);
}

/* The core saved by every test: a up, b down, c never probed, d unused;
 * three overrides (one removed before the save, so next_override_id is
 * past every saved id). */
static void make_saved(struct ctx *c, double *since_a, double *since_b, char ids[3][32])
{
    struct health_core core;
    health_core_init(&core);
    struct health_slot *a = health_core_slot(&core, "endpoint:web/a");
    struct health_slot *b = health_core_slot(&core, "endpoint:web/b");
    health_core_slot(&core, "endpoint:web/c");
    struct health_slot *d = health_core_slot(&core, "endpoint:old/d");
    health_report(&core, a, &PASS, 2, 2);
    health_report(&core, b, &FAIL, 2, 2);
    health_report(&core, d, &PASS, 2, 2);
    health_core_begin_mapping(&core);
    health_core_slot(&core, "endpoint:web/a");
    health_core_slot(&core, "endpoint:web/b");
    health_core_slot(&core, "endpoint:web/c");
    *since_a = a->since;
    *since_b = b->since;
    char gone[32];
    double now = health_now();
    override_add(&core, "region:us", HEALTH_DOWN, "maintenance \"window\"", "operate", 0, ids[0]);
    override_add(&core, "az:us-1b", HEALTH_DOWN, "az work", "operate", now + 3600, ids[1]);
    override_add(&core, "endpoint:web/a", HEALTH_UP, "pinned", "ci", 0, ids[2]);
    override_add(&core, "endpoint:web/b", HEALTH_UP, "removed", "ci", 0, gone);
    override_remove(&core, gone);
    int rc = persist_save(&core, c->file);
    TAP_CHECK(c->t, rc == 0, "persist_save returns 0");
    health_core_free(&core);
}

/* A fresh core as a restart maps it: a, b, c in use, d not. */
static void fresh(struct health_core *core)
{
    health_core_init(core);
    health_core_slot(core, "endpoint:old/d");
    health_core_begin_mapping(core);
    health_core_slot(core, "endpoint:web/a");
    health_core_slot(core, "endpoint:web/b");
    health_core_slot(core, "endpoint:web/c");
}

static void test_round_trip(struct ctx *c)
{
    double since_a, since_b;
    char ids[3][32];
    make_saved(c, &since_a, &since_b, ids);
    struct stat st;
    char tmp[128];
    snprintf(tmp, sizeof(tmp), "%s.tmp.%ld", c->file, (long)getpid());
    TAP_CHECK(c->t,
              stat(c->file, &st) == 0 && (st.st_mode & 0777) == 0600 && access(tmp, F_OK) != 0,
              "the file has mode 0600 and no temporary file is left");

    struct health_core core;
    fresh(&core);
    size_t n = persist_load(&core, c->file, 3600);
    struct health_slot *a = health_core_find(&core, "endpoint:web/a");
    struct health_slot *b = health_core_find(&core, "endpoint:web/b");
    struct health_slot *cc = health_core_find(&core, "endpoint:web/c");
    struct health_slot *d = health_core_find(&core, "endpoint:old/d");
    TAP_CHECK(c->t, n == 2, "two endpoint states restored (%zu)", n);
    TAP_CHECK(c->t,
              health_slot_probe(a) == HEALTH_UP && health_slot_probe(b) == HEALTH_DOWN &&
                  a->probe_state == HEALTH_UP && b->probe_state == HEALTH_DOWN,
              "states restored: a up, b down");
    TAP_CHECK(c->t, a->since == since_a && b->since == since_b,
              "times of change restored exactly (%.6f, %.6f)", a->since, b->since);
    TAP_CHECK(c->t, health_slot_probe(cc) == HEALTH_UNKNOWN,
              "an endpoint never probed stays unknown");
    TAP_CHECK(c->t, health_slot_probe(d) == HEALTH_UNKNOWN && !d->in_use,
              "a slot not in use is neither saved nor restored");

    json_t *list = override_list_json(&core);
    bool same = json_array_size(list) == 3;
    for (size_t i = 0; same && i < 3; i++) {
        json_t *o = json_array_get(list, i);
        /* Newest first: ids[2], ids[1], ids[0]. */
        same = strcmp(json_string_value(json_object_get(o, "id")), ids[2 - i]) == 0;
    }
    json_t *o0 = json_array_get(list, 2), *o1 = json_array_get(list, 1);
    TAP_CHECK(c->t, same, "the three overrides restored, newest first");
    TAP_CHECK(c->t,
              strcmp(json_string_value(json_object_get(o0, "reason")), "maintenance \"window\"") ==
                      0 &&
                  strcmp(json_string_value(json_object_get(o0, "author")), "operate") == 0 &&
                  strcmp(json_string_value(json_object_get(o0, "state")), "down") == 0 &&
                  json_is_null(json_object_get(o0, "expires")) &&
                  json_number_value(json_object_get(o1, "expires")) > health_now() + 3500,
              "an override's reason, author, state and expiry restored");
    json_decref(list);
    TAP_CHECK(c->t,
              health_slot_override(health_core_find(&core, "region:us")) == HEALTH_DOWN &&
                  health_slot_override(a) == HEALTH_UP &&
                  health_slot_override(health_core_find(&core, "az:us-1b")) == HEALTH_DOWN,
              "restored overrides are in force");
    char id[32];
    override_add(&core, "region:eu", HEALTH_DOWN, "new", "ci", 0, id);
    TAP_CHECK(c->t, strcmp(id, "ovr-5") == 0,
              "ids continue after the removed newest one: %s (saved ids %s..%s, ovr-4 removed)", id,
              ids[0], ids[2]);
    health_core_free(&core);
}

static void test_expired_dropped(struct ctx *c)
{
    double since_a, since_b;
    char ids[3][32];
    make_saved(c, &since_a, &since_b, ids);
    edit_file(c->file, 0, ids[1], health_now() - 1); /* az:us-1b, now past its expiry */
    struct health_core core;
    fresh(&core);
    size_t n = persist_load(&core, c->file, 3600);
    json_t *gone = override_get_json(&core, ids[1]);
    struct health_slot *az = health_core_find(&core, "az:us-1b");
    TAP_CHECK(c->t, n == 2 && gone == NULL && override_count(&core) == 2,
              "an override past its expiry in the file is dropped, the others kept");
    TAP_CHECK(c->t, !az || health_slot_override(az) == HEALTH_UNKNOWN,
              "and its target has no override");
    json_decref(gone);
    health_core_free(&core);
}

static void test_stale(struct ctx *c)
{
    double since_a, since_b;
    char ids[3][32];
    make_saved(c, &since_a, &since_b, ids);
    edit_file(c->file, health_now() - 7200, NULL, 0);
    struct health_core core;
    fresh(&core);
    size_t n = persist_load(&core, c->file, 3600);
    struct health_slot *a = health_core_find(&core, "endpoint:web/a");
    TAP_CHECK(c->t, n == 0 && health_slot_probe(a) == HEALTH_UNKNOWN,
              "a file older than state_max_age restores no state");
    TAP_CHECK(c->t, override_count(&core) == 3 && health_slot_override(a) == HEALTH_UP,
              "but its overrides apply whatever the age of the file");
    health_core_free(&core);
    fresh(&core);
    n = persist_load(&core, c->file, 8000);
    TAP_CHECK(c->t, n == 2, "the same file is fresh enough for a larger state_max_age");
    health_core_free(&core);
}

static void test_bad_files(struct ctx *c)
{
    struct health_core core;
    fresh(&core);
    unlink(c->file);
    TAP_CHECK(c->t, persist_load(&core, c->file, 3600) == 0 && override_count(&core) == 0,
              "a missing file restores nothing");
    static const char *const bad[] = {
        "{", "", "[1, 2]", "{\"endpoints\": 5, \"overrides\": {}}",
        "{\"saved_at\": \"x\", \"endpoints\": {\"endpoint:web/a\": 1},"
        " \"overrides\": [1, {\"id\": 5}]}"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        FILE *f = fopen(c->file, "w");
        if (!f)
            abort();
        fputs(bad[i], f);
        fclose(f);
        size_t n = persist_load(&core, c->file, 3600);
        TAP_CHECK(c->t,
                  n == 0 && override_count(&core) == 0 &&
                      health_slot_probe(health_core_find(&core, "endpoint:web/a")) ==
                          HEALTH_UNKNOWN,
                  "a corrupt file (%zu) restores nothing and does not crash", i);
    }
    health_core_free(&core);
}

static json_t *section_save(void *arg)
{
    int *calls = arg;
    (*calls)++;
    return json_pack("{s:i, s:[s]}", "next_id", 7, "active", "drl-6");
}

static json_t *section_none(void *arg)
{
    (void)arg;
    return NULL;
}

static void test_sections(struct ctx *c)
{
    struct health_core core;
    int calls = 0;
    fresh(&core);
    struct persist_section secs[2] = {{.name = "drills", .save = section_save, .arg = &calls},
                                      {.name = "nothing", .save = section_none, .arg = NULL}};
    TAP_CHECK(c->t, persist_save_sections(&core, c->file, secs, 2) == 0 && calls == 1,
              "a save with sections calls each owner once");
    json_t *d = persist_load_section(c->file, "drills");
    TAP_CHECK(c->t,
              d && json_integer_value(json_object_get(d, "next_id")) == 7 &&
                  strcmp(json_string_value(json_array_get(json_object_get(d, "active"), 0)),
                         "drl-6") == 0,
              "persist_load_section reads a section back");
    json_decref(d);
    TAP_CHECK(c->t, persist_load_section(c->file, "nothing") == NULL,
              "a section whose owner returned NULL is not written");
    json_t *eps = persist_load_section(c->file, "endpoints");
    TAP_CHECK(c->t, json_is_object(eps), "the core's own keys are still written");
    json_decref(eps);
    unlink(c->file);
    TAP_CHECK(c->t, persist_load_section(c->file, "drills") == NULL,
              "a missing file has no section");
    health_core_free(&core);
}

int main(void)
{
    struct tap t = {0, 0};
    struct ctx c = {.t = &t};
    snprintf(c.dir, sizeof(c.dir), "/tmp/gtmd-persist-XXXXXX");
    if (!mkdtemp(c.dir))
        abort();
    snprintf(c.file, sizeof(c.file), "%s/state.json", c.dir);
    test_round_trip(&c);
    test_expired_dropped(&c);
    test_stale(&c);
    test_bad_files(&c);
    test_sections(&c);
    unlink(c.file);
    rmdir(c.dir);
    return tap_done(&t);
}

/*
 * Unit tests for src/health/persist.c, the state file: a save and a load
 * into a fresh core restore probe states, their times, the overrides and
 * the next override id; expired overrides are dropped; a file older than
 * state_max_age restores overrides but no states; slots not in use and a
 * missing file are handled; sections owned by other modules are written
 * with the rest and read back. A corrupt file, or one with entries that
 * fail the API's rules (a crafted id that would wrap the counter, a state
 * "banana", a target with a newline), is kept aside as .corrupt-TIMESTAMP,
 * the rest is restored, ids jump past anything it held, and a fresh file
 * is written that keeps the other sections; a read-only load changes
 * nothing; a file over max_overrides is refused whole. The temporary file
 * is new and random: a symlink planted at the old predictable name is not
 * followed.
 */
#include <dirent.h>
#include <fcntl.h>
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
    json_array_foreach(json_object_get(root, "overrides"), i, o)
    {
        if (!id || strcmp(json_string_value(json_object_get(o, "id")), id) != 0)
            continue;
        /* A real expired override was created before its expiry. */
        json_object_set_new(o, "created", json_real(expires - 10));
        json_object_set_new(o, "expires", json_real(expires));
    }
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
    int rc = persist_save(&core, c->file, NULL, 0);
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

/* Files in the test directory other than the state file itself. */
static int count_others(struct ctx *c, const char *prefix)
{
    DIR *d = opendir(c->dir);
    int n = 0;
    struct dirent *de;
    while (d && (de = readdir(d)) != NULL)
        if (strcmp(de->d_name, ".") != 0 && strcmp(de->d_name, "..") != 0 &&
            strcmp(de->d_name, "state.json") != 0 &&
            strncmp(de->d_name, prefix, strlen(prefix)) == 0)
            n++;
    if (d)
        closedir(d);
    return n;
}

/* Removes everything but the directory. */
static void clean_dir(struct ctx *c)
{
    DIR *d = opendir(c->dir);
    struct dirent *de;
    while (d && (de = readdir(d)) != NULL)
        if (strcmp(de->d_name, ".") != 0 && strcmp(de->d_name, "..") != 0)
            unlinkat(dirfd(d), de->d_name, 0);
    if (d)
        closedir(d);
}

static size_t load(struct health_core *core, const char *file, double max_age,
                   struct persist_result *res)
{
    struct persist_result local;
    if (!res)
        res = &local;
    if (persist_load(core, file, max_age, 0, res) != 0)
        return (size_t)-1;
    return res->endpoints;
}

static void test_round_trip(struct ctx *c)
{
    double since_a, since_b;
    char ids[3][32];
    make_saved(c, &since_a, &since_b, ids);
    struct stat st;
    TAP_CHECK(c->t,
              stat(c->file, &st) == 0 && (st.st_mode & 0777) == 0600 &&
                  count_others(c, "state.json.tmp") == 0,
              "the file has mode 0600 and no temporary file is left");

    struct health_core core;
    fresh(&core);
    struct persist_result res;
    size_t n = load(&core, c->file, 3600, &res);
    TAP_CHECK(c->t,
              res.status == PERSIST_OK && res.overrides == 3 && res.rejected == 0 &&
                  !res.kept_as[0] && count_others(c, "state.json.corrupt") == 0,
              "a good file loads as ok, nothing rejected or kept aside");
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
    TAP_CHECK(c->t, health_slot_probe(d) == HEALTH_UNKNOWN && !health_slot_in_use(&core, d),
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
    size_t n = load(&core, c->file, 3600, NULL);
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
    struct persist_result res;
    size_t n = load(&core, c->file, 3600, &res);
    struct health_slot *a = health_core_find(&core, "endpoint:web/a");
    TAP_CHECK(c->t, n == 0 && res.status == PERSIST_STALE && health_slot_probe(a) == HEALTH_UNKNOWN,
              "a file older than state_max_age restores no state");
    TAP_CHECK(c->t, override_count(&core) == 3 && health_slot_override(a) == HEALTH_UP,
              "but its overrides apply whatever the age of the file");
    health_core_free(&core);
    fresh(&core);
    n = load(&core, c->file, 8000, NULL);
    TAP_CHECK(c->t, n == 2, "the same file is fresh enough for a larger state_max_age");
    health_core_free(&core);
}

static void write_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    if (!f)
        abort();
    fputs(text, f);
    fclose(f);
}

static void test_bad_files(struct ctx *c)
{
    struct health_core core;
    fresh(&core);
    unlink(c->file);
    struct persist_result res;
    TAP_CHECK(c->t,
              load(&core, c->file, 3600, &res) == 0 && res.status == PERSIST_MISSING &&
                  override_count(&core) == 0 && core.next_override_id == 1,
              "a missing file restores nothing; ids start at 1");
    health_core_free(&core);
    static const char *const bad[] = {"{",
                                      "",
                                      "[1, 2]",
                                      "{\"version\": \"1\", \"overrides\": []}",
                                      "{\"version\": 0, \"overrides\": []}",
                                      "\xff\xfe{}"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        clean_dir(c);
        write_file(c->file, bad[i]);
        fresh(&core);
        double t0 = health_now();
        size_t n = load(&core, c->file, 3600, &res);
        json_t *fresh_file = json_load_file(c->file, 0, NULL);
        char *kept = NULL;
        FILE *f = res.kept_as[0] ? fopen(res.kept_as, "r") : NULL;
        char buf[64] = "";
        if (f) {
            size_t got = fread(buf, 1, sizeof(buf) - 1, f);
            buf[got] = '\0';
            fclose(f);
            kept = buf;
        }
        TAP_CHECK(c->t,
                  n == 0 && res.status == PERSIST_CORRUPT && override_count(&core) == 0 &&
                      health_slot_probe(health_core_find(&core, "endpoint:web/a")) ==
                          HEALTH_UNKNOWN &&
                      res.error[0],
                  "a corrupt file (%zu) restores nothing and says why (%s)", i, res.error);
        TAP_CHECK(c->t,
                  kept && strcmp(kept, bad[i]) == 0 && strstr(res.kept_as, "state.json.corrupt-") &&
                      count_others(c, "state.json.corrupt-") == 1,
                  "it is kept aside unchanged as %s", res.kept_as);
        TAP_CHECK(c->t,
                  core.next_override_id >= (uint64_t)(t0 * 1000) &&
                      json_integer_value(json_object_get(fresh_file, "next_override_id")) ==
                          (json_int_t)core.next_override_id,
                  "ids jump to the clock (%llu) and a fresh file holding that is written",
                  (unsigned long long)core.next_override_id);
        json_decref(fresh_file);
        health_core_free(&core);
    }
    clean_dir(c);
}

/* A file whose entries fail the API's rules: those are dropped (logged),
 * the rest restored, the file kept aside, ids past anything it held. */
/* The file's format (doc/fleet.md, "Upgrading: version skew"): none is the
 * release before's (1), 2 is read with override fields not known here
 * ignored, a newer one is refused and left as it is. */
static void test_formats(struct ctx *c)
{
    struct health_core core;
    struct persist_result res;
    double now = health_now() - 1.0; /* printed to the ms: never ahead of the clock */
    char text[512];
    snprintf(text, sizeof(text),
             "{\"saved_at\": %.3f, \"endpoints\": {}, \"overrides\": [{\"id\": \"ovr-1\", "
             "\"target\": \"region:us\", \"state\": \"down\", \"reason\": \"r\", "
             "\"author\": \"a\", \"created\": %.3f, \"expires\": null}]}",
             now, now);
    clean_dir(c);
    write_file(c->file, text);
    fresh(&core);
    TAP_CHECK(c->t,
              load(&core, c->file, 3600, &res) == 0 && res.status == PERSIST_OK &&
                  override_count(&core) == 1,
              "no \"version\": the release before's format, read (%s)", res.error);
    health_core_free(&core);
    snprintf(text, sizeof(text),
             "{\"version\": 2, \"saved_at\": %.3f, \"endpoints\": {}, \"overrides\": "
             "[{\"id\": \"ovr-1\", \"target\": \"region:us\", \"state\": \"down\", "
             "\"reason\": \"r\", \"author\": \"a\", \"created\": %.3f, \"expires\": null, "
             "\"a_field_of_format_2\": 1}], \"a_section_of_format_2\": {}}",
             now, now);
    clean_dir(c);
    write_file(c->file, text);
    fresh(&core);
    TAP_CHECK(c->t,
              load(&core, c->file, 3600, &res) == 0 && res.status == PERSIST_OK &&
                  override_count(&core) == 1 && res.rejected == 0,
              "format 2 (the next release's): read, fields not known here ignored (%s)", res.error);
    health_core_free(&core);
    snprintf(text, sizeof(text), "{\"version\": 3, \"saved_at\": %.3f, \"overrides\": []}", now);
    clean_dir(c);
    write_file(c->file, text);
    fresh(&core);
    int rc = persist_load(&core, c->file, 3600, 0, &res);
    char back[512] = "";
    FILE *f = fopen(c->file, "r");
    if (f) {
        size_t got = fread(back, 1, sizeof(back) - 1, f);
        back[got] = '\0';
        fclose(f);
    }
    TAP_CHECK(c->t,
              rc == -1 && res.status == PERSIST_NEWER &&
                  strstr(res.error, "state file of format 3: this gtmd reads formats 1 to 2"),
              "format 3: refused, gtmd does not start (%s)", res.error);
    TAP_CHECK(c->t,
              strcmp(back, text) == 0 && count_others(c, "state.json.corrupt-") == 0 &&
                  !res.kept_as[0],
              "and the file is left as it is, nothing kept aside");
    health_core_free(&core);
    clean_dir(c);
}

static void test_invalid_entries(struct ctx *c)
{
    double now = health_now();
    char text[4096];
    snprintf(text, sizeof(text),
             "{\"version\": 1, \"saved_at\": %.3f, \"next_override_id\": 3,"
             " \"endpoints\": {\"endpoint:web/a\": {\"state\": \"banana\", \"since\": %.3f},"
             "  \"endpoint:web/b\": {\"state\": \"down\", \"since\": %.3f}},"
             " \"overrides\": ["
             "  {\"id\": \"ovr-18446744073709551615\", \"target\": \"region:us\", \"state\": "
             "\"down\", \"reason\": \"wraps\", \"author\": \"operate\", \"created\": %.3f},"
             "  {\"id\": \"ovr-2\", \"target\": \"region:eu\", \"state\": \"banana\","
             "   \"reason\": \"fruit\", \"author\": \"operate\", \"created\": %.3f},"
             "  {\"id\": \"ovr-3\", \"target\": \"region:us\\nevent=forged\", \"state\": "
             "\"down\", \"reason\": \"forge\", \"author\": \"operate\", \"created\": %.3f},"
             "  {\"id\": \"ovr-4\", \"target\": \"region:ap\", \"state\": \"down\","
             "   \"reason\": \"\", \"author\": \"operate\", \"created\": %.3f},"
             "  {\"id\": \"ovr-5\", \"target\": \"region:ap\", \"state\": \"down\","
             "   \"reason\": \"ok\", \"author\": \"operate\", \"created\": %.3f, \"expires\": "
             "%.3f},"
             "  {\"id\": \"ovr-6\", \"target\": \"az:us-1a\", \"state\": \"up\","
             "   \"reason\": \"valid\", \"author\": \"operate\", \"created\": %.3f},"
             "  {\"id\": \"ovr-6\", \"target\": \"az:us-1b\", \"state\": \"up\","
             "   \"reason\": \"same id\", \"author\": \"operate\", \"created\": %.3f}]}",
             now - 1, now - 10, now - 10, now, now, now, now, now, now + 1e8, now, now);
    clean_dir(c);
    write_file(c->file, text);
    struct health_core core;
    fresh(&core);
    struct persist_result res;
    size_t n = load(&core, c->file, 3600, &res);
    json_t *list = override_list_json(&core);
    TAP_CHECK(
        c->t,
        override_count(&core) == 1 &&
            strcmp(json_string_value(json_object_get(json_array_get(list, 0), "id")), "ovr-6") == 0,
        "only the valid override is restored (wrapping id, state banana, newline in the "
        "target, empty reason, expiry past a year and a repeated id are dropped)");
    json_decref(list);
    TAP_CHECK(c->t,
              n == 1 &&
                  health_slot_probe(health_core_find(&core, "endpoint:web/b")) == HEALTH_DOWN &&
                  health_slot_probe(health_core_find(&core, "endpoint:web/a")) == HEALTH_UNKNOWN,
              "the valid endpoint state is restored, the \"banana\" one is not");
    TAP_CHECK(c->t,
              res.rejected == 7 && res.kept_as[0] && count_others(c, "state.json.corrupt-") == 1,
              "7 entries rejected (%zu) and the file kept aside (%s)", res.rejected, res.kept_as);
    uint64_t next = core.next_override_id;
    char id[32];
    override_add(&core, "region:us", HEALTH_DOWN, "after", "operate", 0, id);
    uint64_t num = 0;
    TAP_CHECK(c->t,
              override_id_parse(id, &num) && num >= (uint64_t)(now * 1000) && num == next &&
                  num > 6,
              "the counter did not wrap: the next id is past the clock (%s)", id);
    health_core_free(&core);
    clean_dir(c);
}

/* The largest id a file may hold is accepted and the next follows it. */
static void test_largest_id(struct ctx *c)
{
    char text[1024];
    snprintf(text, sizeof(text),
             "{\"version\": 1, \"saved_at\": %.3f, \"endpoints\": {}, \"overrides\": "
             "[{\"id\": \"ovr-4503599627370495\", \"target\": \"region:us\", \"state\": "
             "\"down\", \"reason\": \"max\", \"author\": \"operate\", \"created\": %.3f}]}",
             health_now() - 1, health_now());
    clean_dir(c);
    write_file(c->file, text);
    struct health_core core;
    fresh(&core);
    struct persist_result res;
    load(&core, c->file, 3600, &res);
    char id[32];
    int rc = override_add(&core, "region:eu", HEALTH_DOWN, "next", "operate", 0, id);
    TAP_CHECK(c->t,
              res.status == PERSIST_OK && res.rejected == 0 && rc == 0 &&
                  strcmp(id, "ovr-4503599627370496") == 0,
              "ovr-2^52-1 restores and the next id is ovr-2^52 (%s)", id);
    health_core_free(&core);
    clean_dir(c);
}

/* More valid overrides than max_overrides (a reload lowered it): all are
 * restored, the excess is reported, and new ones are refused. */
static void test_over_cap(struct ctx *c)
{
    struct health_core core;
    health_core_init(&core);
    char id[32];
    for (int i = 0; i < 5; i++)
        override_add(&core, "region:us", HEALTH_DOWN, "many", "operate", 0, id);
    clean_dir(c);
    persist_save(&core, c->file, NULL, 0);
    health_core_free(&core);
    health_core_init(&core);
    override_set_max(&core, 4);
    struct persist_result res;
    int rc = persist_load(&core, c->file, 3600, 0, &res);
    TAP_CHECK(c->t,
              rc == 0 && override_count(&core) == 5 && res.overrides == 5 && res.over_max == 1 &&
                  res.error[0] == '\0',
              "5 overrides against max_overrides 4: all restored, 1 over (%s)", res.error);
    TAP_CHECK(c->t, count_others(c, "") == 0, "and the file is not kept aside");
    size_t counted = 0;
    TAP_CHECK(c->t, persist_count_overrides(c->file, &counted) == 0 && counted == 5,
              "gtmd check counts the same 5 (%zu)", counted);
    TAP_CHECK(c->t,
              override_add(&core, "region:eu", HEALTH_DOWN, "one more", "operate", 0, id) == -1 &&
                  override_count(&core) == 5,
              "a new override is refused while over the cap");
    health_core_free(&core);
    health_core_init(&core);
    override_set_max(&core, 5);
    rc = persist_load(&core, c->file, 3600, 0, &res);
    TAP_CHECK(c->t, rc == 0 && override_count(&core) == 5 && res.over_max == 0,
              "with max_overrides 5 all restore, none over");
    health_core_free(&core);
    clean_dir(c);
}

/* The old temporary name was STATE.tmp.PID, opened with O_CREAT|O_TRUNC:
 * a symlink planted there made the save overwrite its target. */
static void test_planted_symlink(struct ctx *c)
{
    char victim[128], planted[160];
    snprintf(victim, sizeof(victim), "%s/victim", c->dir);
    snprintf(planted, sizeof(planted), "%s.tmp.%ld", c->file, (long)getpid());
    clean_dir(c);
    write_file(victim, "precious\n");
    int ok = symlink(victim, planted);
    struct health_core core;
    health_core_init(&core);
    char id[32];
    override_add(&core, "region:us", HEALTH_DOWN, "x", "operate", 0, id);
    int rc = persist_save(&core, c->file, NULL, 0);
    char buf[64] = "";
    FILE *f = fopen(victim, "r");
    if (f) {
        size_t got = fread(buf, 1, sizeof(buf) - 1, f);
        buf[got] = '\0';
        fclose(f);
    }
    struct stat st;
    TAP_CHECK(c->t, ok == 0 && rc == 0 && strcmp(buf, "precious\n") == 0,
              "a symlink at the old temporary name is not followed: its target is intact");
    TAP_CHECK(c->t, lstat(c->file, &st) == 0 && S_ISREG(st.st_mode) && (st.st_mode & 0777) == 0600,
              "the state file is a regular file with mode 0600");
    health_core_free(&core);
    /* A killed gtmd's leftover temporary files are removed at load. */
    char left[200];
    snprintf(left, sizeof(left), "%s.tmp-0123456789abcdef", c->file);
    write_file(left, "partial");
    health_core_init(&core);
    struct persist_result res;
    persist_load(&core, c->file, 3600, 0, &res);
    TAP_CHECK(c->t,
              access(left, F_OK) != 0 && access(planted, F_OK) == 0 && access(victim, F_OK) == 0,
              "a leftover temporary file is removed at load, other names are left alone");
    health_core_free(&core);
    clean_dir(c);
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
    TAP_CHECK(c->t, persist_save_sections(&core, c->file, secs, 2, NULL, 0) == 0 && calls == 1,
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

/* A bad file's other sections (a drill's, say) survive in the fresh file;
 * a read-only load reports the bad file and changes nothing. */
static void test_quarantine_keeps_sections(struct ctx *c)
{
    char text[1024];
    snprintf(text, sizeof(text),
             "{\"version\": 1, \"saved_at\": %.3f, \"endpoints\": {},"
             " \"drills\": {\"next_id\": 9},"
             " \"overrides\": [{\"id\": \"ovr-1\", \"target\": \"region:us\", \"state\": "
             "\"banana\", \"reason\": \"r\", \"author\": \"operate\", \"created\": %.3f}]}",
             health_now() - 1, health_now() - 1);
    clean_dir(c);
    write_file(c->file, text);
    struct health_core core;
    fresh(&core);
    struct persist_result res;
    int rc = persist_load(&core, c->file, 3600, PERSIST_LOAD_READONLY, &res);
    FILE *f = fopen(c->file, "r");
    char buf[1100] = "";
    size_t got = f ? fread(buf, 1, sizeof(buf) - 1, f) : 0;
    buf[got] = '\0';
    if (f)
        fclose(f);
    TAP_CHECK(c->t,
              rc == 0 && res.rejected == 1 && !res.kept_as[0] && strcmp(buf, text) == 0 &&
                  count_others(c, "") == 0 && core.next_override_id == 1,
              "a read-only load reports the bad entry and writes, moves and raises nothing");
    health_core_free(&core);
    fresh(&core);
    rc = persist_load(&core, c->file, 3600, 0, &res);
    json_t *d = persist_load_section(c->file, "drills");
    TAP_CHECK(c->t,
              rc == 0 && res.kept_as[0] && json_integer_value(json_object_get(d, "next_id")) == 9,
              "the fresh file written after a bad one keeps its other sections");
    json_decref(d);
    health_core_free(&core);
    clean_dir(c);
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
    test_formats(&c);
    test_invalid_entries(&c);
    test_largest_id(&c);
    test_over_cap(&c);
    test_planted_symlink(&c);
    test_sections(&c);
    test_quarantine_keeps_sections(&c);
    clean_dir(&c);
    rmdir(c.dir);
    return tap_done(&t);
}

/*
 * test_control_config_store.c -- the change journal and the writer of the
 * configuration file and history (config_store.h, config_journal.h,
 * config_history.h): versions committed reach the file and the history as
 * whole documents (coalesced; the skipped ones rebuilt with their undos),
 * are readable before they are written, the history keeps `keep`; a file
 * edited by hand meanwhile is kept; start-up replays the journal over the
 * file it names (a torn last line skipped, nothing applied twice), sets it
 * aside over a file it does not, and writes into the history the versions
 * a crash kept out of it; a file is known as the newest version by its
 * bytes only when they are the version's.
 */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "common/digest.h"
#include "common/jsondelta.h"
#include "control/config_history.h"
#include "control/config_journal.h"
#include "control/config_store.h"
#include "tap.h"

static void test_put_text(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    if (f) {
        fputs(text, f);
        fclose(f);
    }
}

static json_t *test_load(const char *path)
{
    return json_load_file(path, 0, NULL);
}

/* The document of version k of the tests: records r0..r(k-1), r0's ttl k. */
static json_t *test_doc(int k)
{
    json_t *recs = json_object();
    for (int i = 0; i < k; i++) {
        char name[32];
        snprintf(name, sizeof(name), "r%d.example.", i);
        json_object_set_new(recs, name, json_pack("{s:s, s:i}", "pool", "web", "ttl", i ? 5 : k));
    }
    return json_pack("{s:o, s:{s:s}}", "records", recs, "config_api", "history_dir", "h");
}

/* Versions from..to committed, each made from the one before; the file
 * as the API would have read it is the file as it is (the store takes it
 * only while it owes the file nothing, when the file is its own). */
static void test_commit_run(struct tap *t, struct config_store *s, int from, int to,
                            const char *path)
{
    int bad = 0;
    for (int k = from; k <= to; k++) {
        json_t *a = test_doc(k - 1), *b = test_doc(k);
        json_t *d = jsondelta_diff(a, b);
        char why[256] = "";
        json_t *u = jsondelta_undo(a, d, why, sizeof(why));
        json_t *meta = json_pack("{s:s, s:s, s:I}", "source", "api", "author", "test", "version",
                                 (json_int_t)k);
        struct config_api_stamp was = config_api_stamp_of(path);
        if (!u || config_store_commit(s, (uint64_t)k, b, d, u, meta, &was, why, sizeof(why)) != 0)
            bad++;
        json_decref(meta);
        json_decref(u);
        json_decref(d);
        json_decref(a);
        json_decref(b);
    }
    TAP_CHECK(t, bad == 0, "versions %d..%d committed (%d not)", from, to, bad);
}

static int test_count(const char *dir, const char *suffix)
{
    int n = 0;
    DIR *d = opendir(dir);
    struct dirent *e;
    while (d && (e = readdir(d)) != NULL) {
        size_t l = strlen(e->d_name), sl = strlen(suffix);
        if (l > sl && strcmp(e->d_name + l - sl, suffix) == 0 &&
            (strcmp(suffix, ".json") != 0 || !strstr(e->d_name, ".meta.")))
            n++;
    }
    if (d)
        closedir(d);
    return n;
}

static void test_writer(struct tap *t, const char *dir)
{
    char path[256], hist[256], journal[300];
    snprintf(path, sizeof(path), "%s/w.json", dir);
    snprintf(hist, sizeof(hist), "%s/hist", dir);
    mkdir(hist, 0750);
    json_t *d1 = test_doc(1);
    json_dump_file(d1, path, JSON_INDENT(2));
    json_decref(d1);
    struct config_store *s = config_store_new(path);
    TAP_CHECK(t, s && config_store_set_history(s, hist, 5) == 0, "a store over an empty history");
    test_commit_run(t, s, 2, 13, path);
    /* Every version in the window reads back at once, whether written or
     * not: the newest five, not the one before them. */
    int bad = 0;
    for (int k = 9; k <= 13; k++) {
        json_t *got = config_store_load(s, (uint64_t)k, ".json"), *want = test_doc(k);
        json_t *m = config_store_load(s, (uint64_t)k, ".meta.json");
        if (!json_equal(got, want) || json_integer_value(json_object_get(m, "version")) != k)
            bad++;
        json_decref(got);
        json_decref(want);
        json_decref(m);
    }
    TAP_CHECK(t, bad == 0, "versions 9..13 read back before the writer is done (%d not)", bad);
    config_store_flush(s, true);
    json_t *f = test_load(path), *w13 = test_doc(13);
    TAP_CHECK(t, json_equal(f, w13), "the file is the newest version");
    json_decref(f);
    TAP_CHECK(t, test_count(hist, ".json") == 5 && test_count(hist, ".meta.json") == 5,
              "the history keeps 5 whole versions (%d, %d metas)", test_count(hist, ".json"),
              test_count(hist, ".meta.json"));
    bad = 0;
    for (int k = 9; k <= 13; k++) {
        json_t *got = config_history_load(hist, (uint64_t)k, ".json"), *want = test_doc(k);
        bad += !json_equal(got, want);
        json_decref(got);
        json_decref(want);
    }
    TAP_CHECK(t, bad == 0, "each is the whole document of its version (%d not)", bad);
    config_journal_path(path, journal, sizeof(journal));
    size_t torn = 0;
    json_t *lines = config_journal_read(journal, &torn);
    TAP_CHECK(t, json_array_size(lines) == 1 && json_object_get(json_array_get(lines, 0), "file"),
              "the journal is cut down to the file's marker (%zu lines)", json_array_size(lines));
    json_decref(lines);

    /* A hand edit while a version is owed: kept, the version in the history. */
    test_put_text(path, "{\"records\": {}, \"hand\": 1}\n");
    struct config_api_stamp old = config_api_stamp_of(hist); /* not the file's */
    json_t *none = json_object(), *m14 = json_pack("{s:I}", "version", 14);
    char why[64];
    config_store_commit(s, 14, w13, none, none, m14, &old, why, sizeof(why));
    json_decref(none);
    json_decref(m14);
    config_store_flush(s, true);
    f = test_load(path);
    TAP_CHECK(t, json_integer_value(json_object_get(f, "hand")) == 1,
              "a file edited by hand meanwhile is kept");
    json_t *h14 = config_history_load(hist, 14, ".json");
    TAP_CHECK(t, json_equal(h14, w13), "the version is in the history all the same");
    json_decref(h14);
    json_decref(f);
    json_decref(w13);
    config_store_free(s);
}

/* A journal line of version k (made from version k-1). */
static char *test_line(int k)
{
    json_t *a = test_doc(k - 1), *b = test_doc(k), *d = jsondelta_diff(a, b);
    char why[100];
    json_t *l = json_pack("{s:i, s:o, s:o, s:{s:s}}", "v", k, "delta", d, "undo",
                          jsondelta_undo(a, d, why, sizeof(why)), "meta", "source", "api");
    char *line = config_journal_line(l);
    json_decref(l);
    json_decref(a);
    json_decref(b);
    return line;
}

static void test_recover(struct tap *t, const char *dir)
{
    char path[256], hist[256], journal[300], d[DIGEST_SHA256_HEX], buf[8192];
    snprintf(path, sizeof(path), "%s/r.json", dir);
    snprintf(hist, sizeof(hist), "%s/rhist", dir);
    mkdir(hist, 0750);
    config_journal_path(path, journal, sizeof(journal));
    json_t *d3 = test_doc(3);
    size_t len = 0;
    char *text = config_history_text(d3, &len);
    test_put_text(path, text);
    digest_sha256_hex(text, len, d);
    free(text);
    char *l2 = test_line(2), *l3 = test_line(3), *l4 = test_line(4), *l5 = test_line(5);
    char *marker = config_journal_marker(d, 3);
    /* Versions 2 and 3 are in the file (the marker), not in the history; 4
     * and 5 in neither; then a torn line (never answered). */
    snprintf(buf, sizeof(buf), "%s%s%s%s%s{\"v\":6,\"delta\":{\"pu", l2, l3, marker, l4, l5);
    test_put_text(journal, buf);
    TAP_CHECK(t, config_store_recover(path) == 0, "recover: 0");
    json_t *f = test_load(path), *d5 = test_doc(5);
    TAP_CHECK(t, json_equal(f, d5), "the file has versions 4 and 5 applied, once");
    json_decref(f);
    TAP_CHECK(t, config_store_recover(path) == 0, "a second recover: 0");
    f = test_load(path);
    TAP_CHECK(t, json_equal(f, d5), "and changes nothing");
    json_decref(f);
    struct config_store *s = config_store_new(path);
    uint64_t newest = s ? config_store_set_history(s, hist, 10) : 0;
    TAP_CHECK(t, newest == 5, "the versions the history lacked are written into it (%llu)",
              (unsigned long long)newest);
    int bad = 0;
    for (int k = 2; k <= 5; k++) {
        json_t *got = config_history_load(hist, (uint64_t)k, ".json"), *want = test_doc(k);
        bad += !json_equal(got, want);
        json_decref(got);
        json_decref(want);
    }
    TAP_CHECK(t, bad == 0, "versions 2..5 rebuilt as whole documents (%d not)", bad);
    config_store_free(s);

    /* A journal owing a version to a file it does not name: set aside. */
    test_put_text(path, "{\"records\": {}}\n");
    snprintf(buf, sizeof(buf), "%s%s", marker, l4);
    test_put_text(journal, buf);
    TAP_CHECK(t, config_store_recover(path) == 0 && access(journal, F_OK) != 0,
              "a journal over a file it does not name is set aside");
    f = test_load(path);
    TAP_CHECK(t, f && json_object_size(json_object_get(f, "records")) == 0,
              "and the file is left as it is");
    json_decref(f);
    free(l2);
    free(l3);
    free(l4);
    free(l5);
    free(marker);
    json_decref(d3);
    json_decref(d5);
}

/* config_history_same_text: the newest version found in the file without
 * parsing either, only when the bytes say so. */
static void test_same_text(struct tap *t, const char *dir)
{
    char hist[300], file[300], v1[400], other[300];
    snprintf(hist, sizeof(hist), "%s/same", dir);
    mkdir(hist, 0700);
    snprintf(file, sizeof(file), "%s/same.json", dir);
    snprintf(other, sizeof(other), "%s/other.json", dir);
    config_history_path(hist, 1, ".json", v1, sizeof(v1));
    test_put_text(v1, "{\"records\": {\"a.\": {\"ttl\": 30}}}\n");
    TAP_CHECK(t, !config_history_same_text(hist, 1, file), "a file that is not there: not known");
    test_put_text(file, "{\"records\": {\"a.\": {\"ttl\": 30}}}\n");
    TAP_CHECK(t, config_history_same_text(hist, 1, file), "the same bytes: the same version");
    test_put_text(file, "{\"records\": {\"a.\": {\"ttl\": 31}}}\n");
    TAP_CHECK(t, !config_history_same_text(hist, 1, file), "one byte differs, the same size: not");
    test_put_text(file, "{\"records\": {\"a.\":{\"ttl\": 30}}}\n");
    TAP_CHECK(t, !config_history_same_text(hist, 1, file),
              "the same document written otherwise: not known (the caller parses both)");
    TAP_CHECK(t,
              !config_history_same_text(hist, 2, file) && !config_history_same_text(NULL, 1, file),
              "a version the history does not have, or no history: not known");
    /* A long file, as the history links it (the same inode), or copied. */
    FILE *f = fopen(other, "w");
    for (int i = 0; f && i < 20000; i++)
        fprintf(f, "\"r%d.example.\": {\"pool\": \"web\", \"ttl\": %d},\n", i, i % 7);
    if (f)
        fclose(f);
    unlink(v1);
    TAP_CHECK(t, link(other, v1) == 0 && config_history_same_text(hist, 1, other),
              "the version linked to the file: the same");
    unlink(v1);
    char cmd[1000];
    snprintf(cmd, sizeof(cmd), "cp %s %s", other, v1);
    TAP_CHECK(t, system(cmd) == 0 && config_history_same_text(hist, 1, other),
              "a copy of over 64 KB: the same");
    f = fopen(other, "r+");
    if (f) {
        fseek(f, 300000, SEEK_SET);
        fputc('X', f);
        fclose(f);
    }
    TAP_CHECK(t, !config_history_same_text(hist, 1, other), "a byte past the first 64 KB: not");
}

/* Version k of a large estate: the n records of base, r0's ttl k (base's
 * other members shared). */
static json_t *test_big_version(json_t *base, int k)
{
    json_t *doc = json_copy(base), *recs = json_copy(json_object_get(base, "records"));
    json_object_set_new(recs, "r0.example.", json_pack("{s:s, s:i}", "pool", "web", "ttl", k));
    json_object_set_new(doc, "records", recs);
    return doc;
}

static double test_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

/* Two large versions in turn, each commit's delta and undo made once, so
 * that a commit costs its journal line only, beside the writer: version k
 * is doc[1] for even k, doc[0] for odd. All references owned. */
struct test_pair {
    json_t *base, *doc[2], *d[2], *u[2], *meta;
};

/* The pair of records records; the file at path holds doc[0]. false when
 * an undo could not be made. */
static bool test_pair_init(struct test_pair *p, int records, const char *path, size_t flags)
{
    char why[256] = "";
    p->base = test_doc(records);
    for (int i = 0; i < 2; i++)
        p->doc[i] = test_big_version(p->base, i + 1);
    for (int i = 0; i < 2; i++) {
        p->d[i] = jsondelta_diff(p->doc[i], p->doc[!i]);
        p->u[i] = jsondelta_undo(p->doc[i], p->d[i], why, sizeof(why));
    }
    p->meta = json_pack("{s:s, s:s}", "source", "api", "author", "test");
    json_dump_file(p->doc[0], path, flags);
    return p->u[0] && p->u[1];
}

static json_t *test_pair_doc(const struct test_pair *p, int k)
{
    return p->doc[k % 2 ? 0 : 1];
}

/* Commits version k (from doc[x] to doc[!x]); 0 or -1. */
static int test_pair_commit(struct config_store *s, const struct test_pair *p, int k,
                            const char *path)
{
    int x = k % 2 ? 1 : 0;
    struct config_api_stamp was = config_api_stamp_of(path);
    char why[256];
    return config_store_commit(s, (uint64_t)k, p->doc[!x], p->d[x], p->u[x], p->meta, &was, why,
                               sizeof(why));
}

static void test_pair_free(struct test_pair *p)
{
    for (int i = 0; i < 2; i++) {
        json_decref(p->doc[i]);
        json_decref(p->d[i]);
        json_decref(p->u[i]);
    }
    json_decref(p->meta);
    json_decref(p->base);
}

/* One of test_quiet's stores: its file, its pair of versions (meta with a
 * note of note bytes, in every journal line), the file's version 8 s into
 * the stream and at its end. */
struct test_quiet_store {
    char path[256];
    struct test_pair p;
    struct config_store *s;
    size_t note;
    uint64_t v_mid, v_end;
};

/* Store i of test_quiet, whose journal lines carry a note of a share-th of
 * its file (0: none); false when it cannot be made. */
static bool test_quiet_init(struct test_quiet_store *q, const char *dir, int i, size_t share)
{
    snprintf(q->path, sizeof(q->path), "%s/q%d.json", dir, i);
    bool ok = test_pair_init(&q->p, 100000, q->path, JSON_INDENT(2));
    q->s = config_store_new(q->path);
    struct stat st;
    q->note = share && stat(q->path, &st) == 0 ? (size_t)st.st_size / share : 0;
    char *text = q->note ? malloc(q->note + 1) : NULL;
    if (text) {
        memset(text, 'n', q->note);
        text[q->note] = '\0';
        json_object_set_new(q->p.meta, "note", json_string(text));
    }
    free(text);
    return ok && q->s && (q->note || !share);
}

/* Whether test_quiet's stream ends, ms into it: store q written (its
 * v_end read) after 12.5 s, or 30 s. */
static bool test_quiet_done(struct test_quiet_store *q, double ms)
{
    struct config_api_stamp stamp;
    if (ms < 12500)
        return false;
    config_store_behind(q->s, &stamp, &q->v_end);
    return q->v_end > 2 || ms >= 30000;
}

/* After the stream: the file is the newest version, k; the store freed. */
static void test_quiet_end(struct tap *t, struct test_quiet_store *q, int i, int k)
{
    struct config_api_stamp stamp;
    uint64_t v = 0;
    for (int n = 0; n < 200 && q->s && config_store_behind(q->s, &stamp, &v); n++) {
        struct timespec nap = {0, 50 * 1000000L};
        nanosleep(&nap, NULL);
    }
    json_t *f = test_load(q->path);
    TAP_CHECK(t, v == (uint64_t)k && json_equal(f, test_pair_doc(&q->p, k)),
              "after the stream file %d is the newest version, %d (%llu)", i, k,
              (unsigned long long)v);
    json_decref(f);
    config_store_free(q->s);
    test_pair_free(&q->p);
}

/* A writer whose steps are long (a large document) waits for a pause in
 * the commits before it writes the file (config_store_quiet), and under a
 * stream writes anyway only once it is late (config_store_late): 10 s
 * behind and the journal's lines of the versions the file lacks an eighth
 * of the file's size, or those lines half its size. Three stores of the
 * same document through 12.5-30 s of versions every 50 ms: one whose changes
 * are a record each (its lines a thousandth of the file after 10 s) keeps
 * its file at the version before them throughout (a writer resting nine
 * times a step wrote one after about a second; one forced at 10 s wrote it
 * then); one whose lines are each a fortieth of the file (a long history
 * note) is written within a second or two; one whose lines are each an
 * eight-hundredth (a quarter of the file after 10 s) is not written in the
 * first 8 s and is before the stream ends. All are the newest version after. */
static void test_quiet(struct tap *t, const char *dir)
{
    static const size_t share[3] = {0, 40, 800};
    struct test_quiet_store q[3];
    int bad = 0, k = 2, n = 3;
    for (int i = 0; i < n; i++)
        bad += !test_quiet_init(&q[i], dir, i, share[i]);
    double gap = 0, last = 0, t0 = test_now_ms();
    struct config_api_stamp stamp;
    bool mid = false;
    /* 12.5 s, and on until the third is written (its lag is also nine
     * times its first write's CPU: seconds in a sanitizer's build), at
     * most 30 s. */
    for (; bad == 0 && !test_quiet_done(&q[2], test_now_ms() - t0); k++) {
        for (int i = 0; i < n; i++)
            bad += test_pair_commit(q[i].s, &q[i].p, k, q[i].path) != 0;
        double now = test_now_ms();
        gap = last && now - last > gap ? now - last : gap;
        last = now;
        for (int i = 0; k == 2 && i < n; i++)
            config_store_flush(q[i].s, false); /* the first write: its step is long */
        last = k == 2 ? test_now_ms() : last;  /* the flushes are no gap in the stream */
        if (!mid && now - t0 >= 8000) {
            config_store_behind(q[2].s, &stamp, &q[2].v_mid);
            mid = true;
        }
        struct timespec nap = {0, 50 * 1000000L};
        nanosleep(&nap, NULL);
    }
    bool behind = bad == 0 && config_store_behind(q[0].s, &stamp, &q[0].v_end);
    for (int i = 1; bad == 0 && i < n; i++)
        config_store_behind(q[i].s, &stamp, &q[i].v_end);
    TAP_CHECK(t, bad == 0 && mid, "versions 2..%d committed to all three, 50 ms apart", k - 1);
    if (gap < 250) {
        TAP_CHECK(t, behind && q[0].v_end == 2,
                  "through the stream of small changes the file stayed at version 2 (%llu)",
                  (unsigned long long)q[0].v_end);
        TAP_CHECK(t, q[2].v_mid == 2,
                  "with lines of %zu bytes the file was at version 2 8 s in (%llu)", q[2].note,
                  (unsigned long long)q[2].v_mid);
    } else /* a commit came after a pause: the writer may write then */
        TAP_CHECK(t, behind || q[0].v_end >= 2, "a slow machine (%.0f ms between two commits)",
                  gap);
    for (int i = 1; i < n; i++)
        TAP_CHECK(t, q[i].v_end > 2,
                  "with lines of %zu bytes the file was written during the stream (%llu)",
                  q[i].note, (unsigned long long)q[i].v_end);
    for (int i = 0; i < n; i++)
        if (q[i].s)
            test_quiet_end(t, &q[i], i, k - 1);
}

/* The whole of a file, or NULL; *len its length. */
static char *test_slurp(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    char *buf = NULL;
    if (f && fseek(f, 0, SEEK_END) == 0) {
        long n = ftell(f);
        rewind(f);
        buf = n >= 0 ? malloc((size_t)n + 1) : NULL;
        if (buf && fread(buf, 1, (size_t)n, f) != (size_t)n) {
            free(buf);
            buf = NULL;
        }
        if (buf)
            buf[n] = '\0'; /* text too (test_put_text) */
        *len = (size_t)n;
    }
    if (f)
        fclose(f);
    return buf;
}

/* Whether path holds exactly len bytes of text. */
static bool test_holds(const char *path, const char *text, size_t len)
{
    size_t n = 0;
    char *got = test_slurp(path, &n);
    bool same = got && n == len && memcmp(got, text, len) == 0;
    free(got);
    return same;
}

/* A document dumped into a file as it is made (the writer's path, issue
 * #55) holds the very bytes of config_history_text and their digest,
 * through jansson's pieces and more than one 64 KB buffer; it is only a
 * temporary file until committed; the history's copy of it and its own
 * dump are the same bytes; a file that cannot be made leaves nothing.
 * With k records: 3,000 make some 150 KB of text; 70,000 some 3.6 MB,
 * more than three of the windows whose writeback the dump and the copies
 * start and wait for as they go (config_history.c's pacing). */
static void test_dump_stream(struct tap *t, const char *dir, int k)
{
    json_t *doc = test_doc(k);
    size_t len = 0;
    char *text = config_history_text(doc, &len), want[DIGEST_SHA256_HEX], got[DIGEST_SHA256_HEX];
    digest_sha256_hex(text, len, want);
    char path[300], tmp[400], hist[300], p[400];
    snprintf(path, sizeof(path), "%s/stream%d.json", dir, k);
    snprintf(hist, sizeof(hist), "%s/streamhist%d", dir, k);
    mkdir(hist, 0700);
    int rc = config_history_dump_tmp(path, doc, 0600, true, got, tmp, sizeof(tmp));
    TAP_CHECK(t, rc == 0 && len > 128 * 1024 && test_holds(tmp, text, len),
              "the dump is config_history_text's %zu bytes", len);
    TAP_CHECK(t, strcmp(got, want) == 0, "its digest is theirs (%s)", got);
    TAP_CHECK(t, access(path, F_OK) != 0, "nothing at the path before the commit");
    json_t *meta = json_pack("{s:s}", "source", "api");
    TAP_CHECK(t, config_history_put_copy(hist, 7, tmp, meta) == 0, "copied into the history");
    config_history_path(hist, 7, ".json", p, sizeof(p));
    TAP_CHECK(t, test_holds(p, text, len), "the history's copy is the same bytes");
    TAP_CHECK(t,
              config_history_commit_tmp(tmp, path, true) == 0 && test_holds(path, text, len) &&
                  access(tmp, F_OK) != 0,
              "committed: the file is the dump, the temporary gone");
    struct stat st;
    TAP_CHECK(t, stat(path, &st) == 0 && (st.st_mode & 0777) == 0600, "with the mode asked");
    TAP_CHECK(t, config_history_put_doc(hist, 8, doc, meta) == 0, "dumped into the history");
    config_history_path(hist, 8, ".json", p, sizeof(p));
    json_t *m = config_history_load(hist, 8, ".meta.json");
    TAP_CHECK(
        t, test_holds(p, text, len) && m && json_integer_value(json_object_get(m, "version")) == 8,
        "the same bytes, and its meta");
    json_decref(m);
    snprintf(path, sizeof(path), "%s/missing/stream%d.json", dir, k);
    got[0] = 'x';
    rc = config_history_dump_tmp(path, doc, 0600, true, got, tmp, sizeof(tmp));
    TAP_CHECK(t, rc == -1 && errno == ENOENT && got[0] == '\0' && access(tmp, F_OK) != 0,
              "a directory missing: -1 (ENOENT), no digest, nothing left");
    TAP_CHECK(t, config_history_put_copy(hist, 9, path, meta) == -1, "a copy of nothing fails");
    config_history_path(hist, 9, ".json", p, sizeof(p));
    TAP_CHECK(t, access(p, F_OK) != 0, "and leaves no version");
    /* From a pipe, which the kernel does not copy: by hand, the same bytes. */
    char fifo[300];
    snprintf(fifo, sizeof(fifo), "%s/stream%d.fifo", dir, k);
    pid_t child = mkfifo(fifo, 0600) == 0 ? fork() : -1;
    if (child == 0) {
        FILE *f = fopen(fifo, "w");
        size_t w = f ? fwrite(text, 1, len, f) : 0;
        if (f)
            fclose(f);
        _exit(w == len ? 0 : 1);
    }
    rc = child > 0 ? config_history_put_copy(hist, 10, fifo, meta) : -1;
    int st_child = -1;
    if (child > 0)
        waitpid(child, &st_child, 0);
    config_history_path(hist, 10, ".json", p, sizeof(p));
    TAP_CHECK(t, rc == 0 && st_child == 0 && test_holds(p, text, len),
              "copied by hand from a pipe: the same bytes");
    json_decref(meta);
    free(text);
    json_decref(doc);
}

/* config_history_stop's for the tests: yes from the call numbered
 * *arg on (counting down), never when it starts negative. */
static bool test_stop_after(void *arg)
{
    int *left = arg;
    return *left >= 0 && (*left)-- == 0;
}

/* A dump that may be given up (the writer's dump of a version as it is,
 * let go when a newer one comes): asked after each 64 KB; given up, it
 * fails with ECANCELED and leaves nothing; never asked to stop, it is the
 * whole dump. */
static void test_dump_until(struct tap *t, const char *dir)
{
    json_t *doc = test_doc(3000); /* some 150 KB of text: three buffers */
    size_t len = 0;
    char *text = config_history_text(doc, &len), got[DIGEST_SHA256_HEX], tmp[400], path[300];
    snprintf(path, sizeof(path), "%s/until.json", dir);
    int left = 1;
    struct config_history_stop until = {test_stop_after, &left};
    got[0] = 'x';
    int rc = config_history_dump_tmp_until(path, doc, 0600, true, got, tmp, sizeof(tmp), &until);
    TAP_CHECK(t, rc == -1 && errno == ECANCELED && got[0] == '\0' && access(tmp, F_OK) != 0,
              "given up at the second buffer: -1 (ECANCELED), no digest, nothing left");
    TAP_CHECK(t, left == -1, "asked once a buffer until then (%d)", left);
    left = -1;
    rc = config_history_dump_tmp_until(path, doc, 0600, true, got, tmp, sizeof(tmp), &until);
    TAP_CHECK(t, rc == 0 && test_holds(tmp, text, len), "not given up: the whole dump");
    unlink(tmp);
    free(text);
    json_decref(doc);
}

/* A large document's write after a pause dumps the version as it is and
 * gives it up when a newer one is committed meanwhile (asked every 64 KB):
 * config_store_let_go returns once the writer let go, the file is the
 * newest version after the next pause, and every version is in the
 * history. The second commit of a pair comes later and later after the
 * first (300 ms, the pause, then 25 ms more each try, a dump of this
 * document being 50 ms and more) until it lands inside a dump; at most 30
 * tries and 40 s. */
static void test_let_go(struct tap *t, const char *dir)
{
    char path[256], hist[256];
    snprintf(path, sizeof(path), "%s/lg.json", dir);
    snprintf(hist, sizeof(hist), "%s/lg-history", dir);
    struct test_pair p;
    int k = 2, bad = !test_pair_init(&p, 200000, path, JSON_COMPACT);
    mkdir(hist, 0700);
    struct config_store *s = config_store_new(path);
    if (s)
        config_store_set_history(s, hist, 100);
    uint64_t gone = 0;
    double waited = 0, t0 = test_now_ms();
    for (int i = 0; s && !gone && i < 30 && test_now_ms() - t0 < 40000; i++) {
        bad += test_pair_commit(s, &p, k++, path) != 0;
        struct timespec nap = {0, (300 + 25 * i) * 1000000L};
        nanosleep(&nap, NULL);
        bad += test_pair_commit(s, &p, k++, path) != 0;
        double w0 = test_now_ms();
        config_store_let_go(s, 3000);
        waited = test_now_ms() - w0 > waited ? test_now_ms() - w0 : waited;
        gone = config_store_let_gos(s);
    }
    TAP_CHECK(t, s && bad == 0 && gone >= 1,
              "a dump in place given up for a newer version (%llu, versions 2..%d)",
              (unsigned long long)gone, k - 1);
    TAP_CHECK(t, waited < 2000, "config_store_let_go returned once the writer let go (%.0f ms)",
              waited);
    if (s)
        config_store_flush(s, true);
    json_t *f = test_load(path);
    TAP_CHECK(t, json_equal(f, test_pair_doc(&p, k - 1)), "then the file is the newest, %d", k - 1);
    json_decref(f);
    int missing = 0;
    for (int v = 2; s && v < k; v++) {
        json_t *h = config_store_load(s, (uint64_t)v, ".json");
        missing += !json_equal(h, test_pair_doc(&p, v));
        json_decref(h);
    }
    TAP_CHECK(t, s && missing == 0, "every version 2..%d in the history as it was (%d not)", k - 1,
              missing);
    config_store_free(s);
    test_pair_free(&p);
}

/* A crash at any moment of a stream finds every version committed: the
 * journal and the file copied (in that order, as a crash leaves them:
 * the file is announced in the journal before it is renamed) after every
 * batch of commits, with the writer writing the file and the history and
 * cutting the journal beside them (its cut is written outside the store's
 * lock, the lines committed meanwhile added under it: config_store.c),
 * recover to the newest version. */
static void test_cut_under_commits(struct tap *t, const char *dir)
{
    char path[256], hist[256], snap[256], journal[300], sjournal[300];
    snprintf(path, sizeof(path), "%s/c.json", dir);
    snprintf(hist, sizeof(hist), "%s/chist", dir);
    snprintf(snap, sizeof(snap), "%s/csnap.json", dir);
    mkdir(hist, 0750);
    config_journal_path(path, journal, sizeof(journal));
    config_journal_path(snap, sjournal, sizeof(sjournal));
    json_t *d1 = test_doc(1);
    json_dump_file(d1, path, JSON_INDENT(2));
    json_decref(d1);
    struct config_store *s = config_store_new(path);
    TAP_CHECK(t, s && config_store_set_history(s, hist, 3) == 0, "a store for a stream");
    int bad = 0, batches = 8, per = 40;
    for (int b = 0; s && b < batches; b++) {
        int last = 1 + (b + 1) * per;
        test_commit_run(t, s, 2 + b * per, last, path);
        /* The copies as at one moment: the file read between two reads
         * of the journal that are the same (the writer appends a marker
         * or cuts the journal meanwhile: taken again). */
        size_t jl = 0, fl = 0, jl2 = 0;
        char *jt = NULL, *ft = NULL, *jt2 = NULL;
        for (int tries = 0; tries < 1000; tries++) {
            free(jt);
            free(ft);
            jt = test_slurp(journal, &jl);
            ft = test_slurp(path, &fl);
            jt2 = test_slurp(journal, &jl2);
            bool same = jt && jt2 && jl == jl2 && memcmp(jt, jt2, jl) == 0;
            free(jt2);
            if (same)
                break;
            usleep(1000);
        }
        if (jt && ft) {
            test_put_text(sjournal, jt);
            test_put_text(snap, ft);
        }
        json_t *got = jt && ft && config_store_recover(snap) == 0 ? test_load(snap) : NULL;
        json_t *want = test_doc(last);
        bad += !json_equal(got, want);
        json_decref(got);
        json_decref(want);
        free(jt);
        free(ft);
    }
    TAP_CHECK(t, bad == 0, "a crash after each of %d batches recovers the newest version (%d not)",
              batches, bad);
    config_store_flush(s, true);
    size_t torn = 0;
    json_t *lines = config_journal_read(journal, &torn);
    TAP_CHECK(t, json_array_size(lines) == 1 && torn == 0,
              "once written, the journal is the file's marker alone (%zu lines)",
              json_array_size(lines));
    json_decref(lines);
    char cut[320];
    snprintf(cut, sizeof(cut), "%s.cut", journal);
    TAP_CHECK(t, access(cut, F_OK) != 0, "no cut left behind");
    config_store_free(s);
}

int main(void)
{
    struct tap t = {0, 0};
    char dir[] = "/tmp/gtm-store-XXXXXX";
    if (!mkdtemp(dir))
        return 1;
    test_writer(&t, dir);
    test_recover(&t, dir);
    test_same_text(&t, dir);
    test_quiet(&t, dir);
    test_dump_stream(&t, dir, 3000);
    test_dump_stream(&t, dir, 70000);
    test_dump_until(&t, dir);
    test_let_go(&t, dir);
    test_cut_under_commits(&t, dir);
    char cmd[300];
    snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
    if (system(cmd) != 0)
        fprintf(stderr, "cannot remove %s\n", dir);
    return tap_done(&t);
}

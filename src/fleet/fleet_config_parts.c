/*
 * fleet_config_parts.c -- whole configuration documents larger than one
 * etcd request (fleet_config.h): written in parts before the version that
 * names them, and read back when a fetch brings such a version.
 *
 * etcd refuses a request larger than --max-request-bytes (1.5 MiB by
 * default), and the JSON gateway sends values in base64, a third larger:
 * a configuration of 100,000 records (some 8 MB of compact JSON) cannot
 * be one key. Its compact text is cut into slices of "config_part_kib"
 * (FLEET_CONFIG_PART_MAX by default),
 *
 *   PREFIX/config/v/p/NNNNNNNNNNNN/NODE.NONCE/PPPPPP   raw slices, in order
 *
 * put one request each, and only then is the version written (the
 * compare-and-swap of fleet_config.c), with
 * "parts": {"prefix": "NNNNNNNNNNNN/NODE.NONCE/", "n": K, "sha256": HEX}
 * instead of "doc". The version record is signed with members, so the
 * slices need no signature: their digest is in it. NODE.NONCE keeps two
 * writers of the same version number from mixing their slices; the
 * loser's are deleted when its compare fails, and the versions' pruning
 * deletes the slices of the versions it drops. They sort after every
 * numbered version and under config/v/, which the fresh read and the
 * watch skip, so nothing else reads them.
 *
 * Runs on the fleet thread, but for the work in proportion to the
 * document (its text made and hashed, or hashed and parsed), which runs
 * off it (fleet_work.c) so that the session's keep-alives are not held up
 * for seconds. Ownership: the records passed in are borrowed and changed
 * in place; each call's state is freed here.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/digest.h"
#include "common/log.h"
#include "fleet/fleet_int.h"

struct fleet_parts_call {
    struct fleet *f;
    json_t *records;  /* a reference held until done */
    size_t at;        /* put: the next slice; get: the record being read */
    char *text;       /* put: the document's compact text; get: the slices read so far */
    size_t len, n;    /* get: len is text's, n the slices in it */
    size_t cap;       /* get: text's allocation */
    char prefix[128]; /* under config/v/p/ */
    /* The work off the fleet thread (fleet_work.c): get, the digest the
     * record names in, the parsed document out (owned until attached) or
     * why; put, the record's document in (a reference held by records),
     * its text (text, len) and digest out. */
    char sha256[DIGEST_SHA256_HEX];
    json_t *doc;
    char why[300];
    /* get: this node's own document (fleet_cfg.own, a reference; NULL:
     * none) and its digest ("" until hashed, or when that failed); tried:
     * hashed by this call already. */
    json_t *own;
    char own_sha[DIGEST_SHA256_HEX];
    bool own_tried;
    double own_ms;
    size_t *bytes;   /* put: the caller's, set before done */
    size_t part_max; /* put: a slice's length ("config_part_kib") */
    fleet_parts_fn done;
    void *arg;
};

static char *fleet_parts_key(const struct fleet *f, const char *prefix, size_t i)
{
    char num[16];
    snprintf(num, sizeof(num), "%06zu", i);
    return fleet_key(f, FLEET_CONFIG_PARTS, prefix, num);
}

/* The range request of every part under prefix. */
static json_t *fleet_parts_range(const struct fleet *f, const char *prefix)
{
    char *from = fleet_key(f, FLEET_CONFIG_PARTS, prefix, NULL);
    char *end = etcd_prefix_end_b64(from);
    json_t *req = json_pack("{s:o, s:s}", "key", fleet_b64s(from), "range_end", end);
    free(from);
    free(end);
    return req;
}

static void fleet_parts_on_dropped(void *arg, enum etcd_status st, json_t *resp, const char *err)
{
    (void)arg;
    (void)resp;
    if (st != ETCD_OK && st != ETCD_ERR_CANCELLED)
        log_warn("event=fleet_config_parts result=not_dropped error=\"%s\"", err ? err : "etcd");
}

/* Frees call c and what it holds; its caller is not told (the fleet is
 * being freed: an etcd call cancelled, a job of fleet_work.c cancelled). */
static void fleet_parts_free(struct fleet_parts_call *c)
{
    json_decref(c->doc);
    json_decref(c->own);
    json_decref(c->records);
    free(c->text);
    free(c);
}

static void fleet_parts_end(struct fleet_parts_call *c, bool ok, const char *err)
{
    c->done(c->arg, ok, err);
    fleet_parts_free(c);
}

/* ---- writing ------------------------------------------------------------ */

static void fleet_parts_put_next(struct fleet_parts_call *c);

static void fleet_parts_on_put(void *arg, enum etcd_status st, json_t *resp, const char *err)
{
    struct fleet_parts_call *c = arg;
    (void)resp;
    if (st == ETCD_ERR_CANCELLED) { /* the fleet is being freed */
        fleet_parts_free(c);
        return;
    }
    if (st != ETCD_OK) {
        char why[300];
        snprintf(why, sizeof(why), "a part of the document was not written (%s)",
                 err ? err : "etcd");
        if (st != ETCD_ERR_NET) /* the ones written are not needed (best effort) */
            etcd_call(c->f->etcd, "/v3/kv/deleterange", fleet_parts_range(c->f, c->prefix),
                      fleet_parts_on_dropped, NULL);
        fleet_parts_end(c, false, why);
        return;
    }
    pthread_mutex_lock(&c->f->lock);
    c->f->writes++;
    c->f->keys_written++;
    pthread_mutex_unlock(&c->f->lock);
    fleet_parts_put_next(c);
}

static void fleet_parts_put_next(struct fleet_parts_call *c)
{
    if (c->at == c->n) {
        json_t *rec = json_array_get(c->records, 0);
        json_object_del(rec, "doc");
        json_object_set_new(rec, "parts",
                            json_pack("{s:s, s:I, s:s}", "prefix", c->prefix, "n", (json_int_t)c->n,
                                      "sha256", c->sha256));
        fleet_parts_end(c, true, NULL);
        return;
    }
    size_t off = c->at * c->part_max;
    size_t len = c->len - off < c->part_max ? c->len - off : c->part_max;
    char *key = fleet_parts_key(c->f, c->prefix, c->at);
    char *kb = etcd_b64(key, strlen(key)), *vb = etcd_b64(c->text + off, len);
    json_t *req = json_pack("{s:s, s:s}", "key", kb, "value", vb);
    free(key);
    free(kb);
    free(vb);
    c->at++;
    etcd_call(c->f->etcd, "/v3/kv/put", req, fleet_parts_on_put, c);
}

/* Off the fleet thread: the document's compact text and, when it goes in
 * parts, their digest. */
static void fleet_parts_dump_run(void *arg)
{
    struct fleet_parts_call *c = arg;
    c->text = json_dumps(json_object_get(json_array_get(c->records, 0), "doc"), JSON_COMPACT);
    c->len = c->text ? strlen(c->text) : 0;
    if (c->len > c->part_max)
        digest_sha256_hex(c->text, c->len, c->sha256);
}

static void fleet_parts_dumped(void *arg, bool cancelled)
{
    struct fleet_parts_call *c = arg;
    if (cancelled) { /* the fleet is being freed: as an etcd call's cancel */
        fleet_parts_free(c);
        return;
    }
    *c->bytes = c->len;
    if (!c->text || c->len <= c->part_max) { /* one key: "doc" as it is */
        fleet_parts_end(c, true, NULL);
        return;
    }
    c->n = (c->len + c->part_max - 1) / c->part_max;
    fleet_parts_put_next(c);
}

void fleet_config_parts_put(struct fleet *f, json_t *record, uint64_t v, size_t *bytes,
                            fleet_parts_fn done, void *arg)
{
    struct fleet_parts_call *c = calloc(1, sizeof(*c));
    if (!c)
        abort();
    *c = (struct fleet_parts_call){.f = f,
                                   .records = json_pack("[O]", record),
                                   .bytes = bytes,
                                   .part_max = f->p.config_part_kib ? f->p.config_part_kib * 1024u
                                                                    : FLEET_CONFIG_PART_MAX,
                                   .done = done,
                                   .arg = arg};
    snprintf(c->prefix, sizeof(c->prefix), "%012llu/%s.%08x/", (unsigned long long)v, f->p.node,
             (unsigned)random());
    fleet_work_start(f, fleet_parts_dump_run, fleet_parts_dumped, c);
}

void fleet_config_parts_drop(struct fleet *f, json_t *record)
{
    const char *prefix =
        json_string_value(json_object_get(json_object_get(record, "parts"), "prefix"));
    if (prefix)
        etcd_call(f->etcd, "/v3/kv/deleterange", fleet_parts_range(f, prefix),
                  fleet_parts_on_dropped, NULL);
}

/* ---- reading ------------------------------------------------------------- */

/* The parts of a record are read FLEET_CONFIG_PARTS_PAGE at a time: all
 * of a 1,000,000-record document's in one range (some 115 MB of base64)
 * was past the reply bound (ETCD_REPLY_MAX) and etcd's time, so no node
 * could read the fleet's first version. Each page starts at the next
 * part's key; the slices are joined in c->text (owned by the call). */

/* Appends a page's slices; false with why (not base64, more than n). */
static bool fleet_parts_take(struct fleet_parts_call *c, json_t *kvs, size_t n, char *why,
                             size_t len)
{
    json_t *kv;
    size_t i;
    if (c->n + json_array_size(kvs) > n) {
        snprintf(why, len, "more than its %zu parts are in etcd", n);
        return false;
    }
    json_array_foreach(kvs, i, kv)
    {
        size_t vl;
        char *v = etcd_unb64(json_string_value(json_object_get(kv, "value")) ?: "", &vl);
        if (v && c->len + vl + 1 > c->cap) {
            size_t cap = c->cap ? c->cap : FLEET_CONFIG_PART_MAX * 2;
            while (cap < c->len + vl + 1)
                cap *= 2;
            char *grown = realloc(c->text, cap);
            if (!grown)
                abort();
            c->text = grown;
            c->cap = cap;
        }
        if (!v) {
            snprintf(why, len, "a part is not base64");
            return false;
        }
        memcpy(c->text + c->len, v, vl);
        c->len += vl;
        c->text[c->len] = '\0';
        c->n++;
        free(v);
    }
    return true;
}

static void fleet_parts_get_next(struct fleet_parts_call *c);

/* Off the fleet thread: the slices read (c->text), checked against the
 * digest their record names (c->sha256); c->doc the document, or NULL
 * and c->why. */
static void fleet_parts_join_run(void *arg)
{
    struct fleet_parts_call *c = arg;
    char hex[DIGEST_SHA256_HEX];
    digest_sha256_hex(c->text ? c->text : "", c->len, hex);
    json_error_t je;
    c->doc = NULL;
    if (strcmp(c->sha256, hex) != 0)
        snprintf(c->why, sizeof(c->why), "its parts do not have the digest the version names");
    else if (!(c->doc = json_loadb(c->text ? c->text : "", c->len, 0, &je)) ||
             !json_is_object(c->doc)) {
        snprintf(c->why, sizeof(c->why), "its parts are not a JSON object: %s",
                 c->doc ? "" : je.text);
        json_decref(c->doc);
        c->doc = NULL;
    }
}

/* The record being read has its document (c->doc) or not (c->why): the
 * next record's parts, or the end. Fleet thread. */
static void fleet_parts_joined(void *arg, bool cancelled)
{
    struct fleet_parts_call *c = arg;
    if (cancelled) { /* the fleet is being freed: as an etcd call's cancel */
        fleet_parts_free(c);
        return;
    }
    json_t *rec = json_array_get(c->records, c->at);
    c->len = c->n = 0; /* the buffer is kept for the next record */
    if (!c->doc) {
        char msg[400];
        snprintf(msg, sizeof(msg), "version %lld: %s",
                 (long long)json_integer_value(json_object_get(rec, "version")), c->why);
        fleet_parts_end(c, false, msg);
        return;
    }
    json_object_set_new(rec, "doc", c->doc);
    c->doc = NULL;
    pthread_mutex_lock(&c->f->lock);
    c->f->cfg.parts_read++;
    pthread_mutex_unlock(&c->f->lock);
    c->at++;
    fleet_parts_get_next(c);
}

/* The next page of the record being read: from part c->n on, at most one
 * more than its parts still to come (a reply with more is refused). */
static void fleet_parts_get_page(struct fleet_parts_call *c, const char *prefix, size_t n);

static void fleet_parts_on_get(void *arg, enum etcd_status st, json_t *resp, const char *err)
{
    struct fleet_parts_call *c = arg;
    if (st == ETCD_ERR_CANCELLED) {
        fleet_parts_free(c);
        return;
    }
    char why[300] = "";
    json_t *rec = json_array_get(c->records, c->at), *parts = json_object_get(rec, "parts");
    size_t n = (size_t)json_integer_value(json_object_get(parts, "n"));
    json_t *kvs = json_object_get(resp, "kvs");
    bool ok = st == ETCD_OK && fleet_parts_take(c, kvs, n, why, sizeof(why));
    if (st != ETCD_OK)
        snprintf(why, sizeof(why), "%s", err ? err : "etcd");
    else if (ok && c->n < n && json_array_size(kvs) == 0) {
        snprintf(why, sizeof(why), "%zu of its %zu parts are in etcd", c->n, n);
        ok = false;
    }
    if (ok && c->n < n) { /* the next page */
        fleet_parts_get_page(c, json_string_value(json_object_get(parts, "prefix")), n);
        return;
    }
    if (!ok) {
        snprintf(c->why, sizeof(c->why), "%s", why);
        c->doc = NULL;
        fleet_parts_joined(c, false);
        return;
    }
    /* fleet_config_parts_ok made sure the digest is 64 characters. */
    snprintf(c->sha256, sizeof(c->sha256), "%s",
             json_string_value(json_object_get(parts, "sha256")));
    fleet_work_start(c->f, fleet_parts_join_run, fleet_parts_joined, c);
}

static void fleet_parts_get_page(struct fleet_parts_call *c, const char *prefix, size_t n)
{
    size_t left = n - c->n;
    json_t *req = fleet_parts_range(c->f, prefix);
    char *key = fleet_parts_key(c->f, prefix, c->n);
    json_object_set_new(req, "key", fleet_b64s(key));
    json_object_set_new(
        req, "limit",
        json_integer(
            (json_int_t)(left < FLEET_CONFIG_PARTS_PAGE ? left + 1 : FLEET_CONFIG_PARTS_PAGE)));
    free(key);
    etcd_call(c->f->etcd, "/v3/kv/range", req, fleet_parts_on_get, c);
}

/* ---- a whole version this node has: its own document ------------------- */

static int fleet_parts_own_add(const char *buf, size_t size, void *data)
{
    digest_sha256_add(data, buf, size);
    return 0;
}

/* Off the fleet thread: the digest of own's compact text, as the writer
 * of parts makes it (fleet_parts_dump_run), without the text in memory.
 * own is installed on its node and never changed, so it is read as it is
 * (jansson's dump changes nothing; its counts are atomic). */
static void fleet_parts_own_run(void *arg)
{
    struct fleet_parts_call *c = arg;
    double t0 = deadline_mono();
    struct digest_sha256_run *d = digest_sha256_begin();
    int rc = d ? json_dump_callback(c->own, fleet_parts_own_add, d, JSON_COMPACT) : -1;
    digest_sha256_end_hex(d, c->own_sha);
    if (rc != 0)
        c->own_sha[0] = '\0';
    c->own_ms = (deadline_mono() - t0) * 1e3;
}

/* Back on the fleet thread: the digest kept for the next fetch while the
 * same document is this node's, and the reading goes on. */
static void fleet_parts_own_hashed(void *arg, bool cancelled)
{
    struct fleet_parts_call *c = arg;
    if (cancelled) {
        fleet_parts_free(c);
        return;
    }
    c->own_tried = true;
    pthread_mutex_lock(&c->f->lock);
    if (c->f->cfg.own == c->own)
        snprintf(c->f->cfg.own_sha, sizeof(c->f->cfg.own_sha), "%s", c->own_sha);
    pthread_mutex_unlock(&c->f->lock);
    log_info("event=fleet_config_own result=%s ms=%.1f", c->own_sha[0] ? "hashed" : "failed",
             c->own_ms);
    fleet_parts_get_next(c);
}

/* Whether rec, a whole version in parts, is this node's own document (its
 * digest is the one the record names, which its signature covers): then it
 * gets that document as its "doc" and is not read. false when own's digest
 * is still to be made (started here: the reading goes on when it is). */
static bool fleet_parts_own_is(struct fleet_parts_call *c, json_t *rec, bool *wait)
{
    *wait = false;
    if (!c->own)
        return false;
    if (!c->own_sha[0] && !c->own_tried) {
        *wait = true;
        fleet_work_start(c->f, fleet_parts_own_run, fleet_parts_own_hashed, c);
        return false;
    }
    const char *sum = json_string_value(json_object_get(json_object_get(rec, "parts"), "sha256"));
    if (!c->own_sha[0] || !sum || strcmp(sum, c->own_sha) != 0)
        return false;
    json_object_set(rec, "doc", c->own);
    pthread_mutex_lock(&c->f->lock);
    c->f->cfg.parts_own++;
    pthread_mutex_unlock(&c->f->lock);
    return true;
}

static void fleet_parts_get_next(struct fleet_parts_call *c)
{
    for (; c->at < json_array_size(c->records); c->at++) {
        json_t *rec = json_array_get(c->records, c->at);
        if (json_object_get(rec, "doc") || !json_object_get(rec, "parts"))
            continue;
        bool wait;
        if (fleet_parts_own_is(c, rec, &wait))
            continue;
        if (wait)
            return; /* fleet_parts_own_hashed goes on */
        json_t *parts = json_object_get(rec, "parts");
        fleet_parts_get_page(c, json_string_value(json_object_get(parts, "prefix")),
                             (size_t)json_integer_value(json_object_get(parts, "n")));
        return;
    }
    fleet_parts_end(c, true, NULL);
}

void fleet_config_parts_get(struct fleet *f, json_t *records, fleet_parts_fn done, void *arg)
{
    struct fleet_parts_call *c = calloc(1, sizeof(*c));
    if (!c)
        abort();
    *c = (struct fleet_parts_call){
        .f = f, .records = json_incref(records), .done = done, .arg = arg};
    pthread_mutex_lock(&f->lock);
    c->own = json_incref(f->cfg.own);
    snprintf(c->own_sha, sizeof(c->own_sha), "%s", f->cfg.own_sha);
    pthread_mutex_unlock(&f->lock);
    fleet_parts_get_next(c);
}

bool fleet_config_parts_ok(json_t *parts, uint64_t v)
{
    const char *prefix = json_string_value(json_object_get(parts, "prefix"));
    json_t *n = json_object_get(parts, "n");
    const char *sum = json_string_value(json_object_get(parts, "sha256"));
    char num[16];
    snprintf(num, sizeof(num), "%012llu/", (unsigned long long)v);
    /* The slices of this very version, under its own number: a record
     * cannot name another version's, or a key outside config/v/p/. */
    return prefix && strncmp(prefix, num, strlen(num)) == 0 && strlen(prefix) < 100 &&
           !strstr(prefix, "..") && prefix[strlen(prefix) - 1] == '/' &&
           strchr(prefix + strlen(num), '/') == prefix + strlen(prefix) - 1 && json_is_integer(n) &&
           json_integer_value(n) > 0 && json_integer_value(n) < 100000 && sum && strlen(sum) == 64;
}

/*
 * fleet_config.c -- the fleet's configuration in etcd (fleet_config.h):
 * head as the watch delivers it, fetching the versions this node has not
 * applied, and publishing a new version in one compare-and-swap
 * transaction.
 */
#include <event2/event.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/deadline.h"
#include "common/log.h"
#include "fleet/fleet_int.h"

/* A publish, from its caller's thread to the fleet thread and back. */
struct fleet_cfg_job {
    json_t *record; /* the version's record, completed here (owned) */
    uint64_t base, version;
    unsigned keep;
    size_t doc_bytes; /* a whole version: its document's compact length */
    int64_t wait_rev; /* done once the watch applied this revision */
    int phase;        /* 0 queued, 1 sent to etcd, 2 waiting for the watch (L) */
    bool sync;        /* no version: done once the watch reached etcd's revision */
    struct fleet_wait w;
    struct fleet_cfg_job *next;
};

/* A call's context: its fleet, job, and the sync sequence it belongs to. */
struct fleet_cfg_call {
    struct fleet *f;
    struct fleet_cfg_job *job;
    unsigned gen;
    uint64_t head;    /* a fetch: the head it fetches up to */
    int64_t head_rev; /* and head's revision then */
    json_t *records;  /* a fetch reading parts: what it fetched (owned) */
    /* A fetch from the version after the one this node serves: that
     * version (its first record can build on it); 0 for a fetch from the
     * newest whole version. */
    uint64_t chained;
};

static char *fleet_config_vkey(const struct fleet *f, uint64_t v)
{
    char num[32];
    snprintf(num, sizeof(num), "%012llu", (unsigned long long)v);
    return fleet_key(f, "config/v/", num, NULL);
}

static struct fleet_cfg_call *fleet_config_call(struct fleet *f, struct fleet_cfg_job *j)
{
    struct fleet_cfg_call *c = calloc(1, sizeof(*c));
    if (!c)
        abort();
    *c = (struct fleet_cfg_call){.f = f, .job = j, .gen = f->sync_step};
    return c;
}

/* ---- head and fetching (fleet thread) ----------------------------------- */

void fleet_config_begin_read(struct fleet *f)
{
    pthread_mutex_lock(&f->lock);
    f->cfg.head = f->cfg.seen; /* the read puts head back when it is there */
    f->cfg.head_rev = 0;
    pthread_mutex_unlock(&f->lock);
}

void fleet_config_head_seen(struct fleet *f, json_t *v, int64_t mod_rev, const char *key,
                            const char *signer)
{
    json_t *ver = json_object_get(v, "version");
    uint64_t h =
        json_is_integer(ver) && json_integer_value(ver) > 0 ? (uint64_t)json_integer_value(ver) : 0;
    json_t *full = json_object_get(v, "full");
    uint64_t fv = json_is_integer(full) && json_integer_value(full) > 0 &&
                          (uint64_t)json_integer_value(full) <= h
                      ? (uint64_t)json_integer_value(full)
                      : h;
    json_t *cb = json_object_get(v, "chain_bytes"), *fb = json_object_get(v, "full_bytes");
    bool sized = json_is_integer(cb) && json_integer_value(cb) >= 0 && json_is_integer(fb) &&
                 json_integer_value(fb) >= 0;
    pthread_mutex_lock(&f->lock);
    bool back = !v || h < f->cfg.seen;
    if (!back) {
        f->cfg.seen = h;
        f->cfg.full = fv;
        f->cfg.sizes_known = sized;
        f->cfg.chain_bytes = sized ? (uint64_t)json_integer_value(cb) : 0;
        f->cfg.full_bytes = sized ? (uint64_t)json_integer_value(fb) : 0;
    }
    f->cfg.head = f->cfg.seen;
    f->cfg.head_rev = v ? mod_rev : 0; /* what the next version's compare must see */
    uint64_t seen = f->cfg.seen;
    pthread_mutex_unlock(&f->lock);
    if (back && seen)
        log_warn("event=fleet_config_head_back head=%llu seen=%llu note=\"the fleet's "
                 "configuration head was %s: not followed; the next version is numbered on from "
                 "%llu\"",
                 (unsigned long long)h, (unsigned long long)seen,
                 v ? "put back to an older version" : "deleted", (unsigned long long)seen);
    if (v && back) {
        /* A member signed it once: an older head put back (a deletion is
         * not one, and is only logged). */
        char why[160];
        snprintf(why, sizeof(why), "version %llu, older than version %llu seen here",
                 (unsigned long long)h, (unsigned long long)seen);
        fleet_reject(f, key, FLEET_REJ_REPLAY, signer, why);
    }
}

/* The newest version a live member's signed node record says it serves:
 * head cannot be older (a node that starts while an older head is put
 * back takes the version its peers serve, not the one head names). */
static uint64_t fleet_config_peers(struct fleet *f, char who[FLEET_NODE_MAX + 1])
{
    uint64_t max = 0;
    who[0] = '\0';
    pthread_mutex_lock(&f->lock);
    for (size_t i = 0; f->p.keys.enabled && i < f->n_nodes; i++)
        if (i != f->self && f->nodes[i].live && f->nodes[i].config_version > max) {
            max = f->nodes[i].config_version;
            snprintf(who, FLEET_NODE_MAX + 1, "%s", f->nodes[i].name);
        }
    pthread_mutex_unlock(&f->lock);
    return max;
}

/* Raises head to the version the peers serve when head is older (a
 * replay, counted once per head revision). */
static void fleet_config_floor(struct fleet *f)
{
    char who[FLEET_NODE_MAX + 1];
    uint64_t peers = fleet_config_peers(f, who);
    pthread_mutex_lock(&f->lock);
    uint64_t head = f->cfg.head;
    int64_t head_rev = f->cfg.head_rev;
    bool report = peers > head && head_rev && head_rev != f->cfg.floor_rev;
    if (peers > head) {
        f->cfg.head = f->cfg.seen = peers;
        f->cfg.floor_rev = head_rev;
    }
    pthread_mutex_unlock(&f->lock);
    if (report) {
        char why[200], *key = fleet_key(f, "config/head", NULL, NULL);
        snprintf(why, sizeof(why), "version %llu, older than version %llu that member %s serves",
                 (unsigned long long)head, (unsigned long long)peers, who);
        fleet_reject(f, key, FLEET_REJ_REPLAY, "", why);
        free(key);
    }
}

/* v holds a whole document, or a delta against the version before it. */
static bool fleet_config_has_doc(json_t *v)
{
    json_t *base = json_object_get(v, "base"), *ver = json_object_get(v, "version");
    if (json_is_object(json_object_get(v, "doc")))
        return true;
    if (json_is_integer(ver) && json_integer_value(ver) > 0 &&
        fleet_config_parts_ok(json_object_get(v, "parts"), (uint64_t)json_integer_value(ver)))
        return true;
    return json_is_object(json_object_get(v, "delta")) && json_is_integer(base) &&
           json_integer_value(base) + 1 == json_integer_value(ver);
}

/* The records of a fetch reply that are what their keys say, in order,
 * up to head; NULL when head's own is not among them (pruned meanwhile,
 * or refused). *beyond: the newest valid version after head in the reply
 * (0: none): head is then one put back. */
static json_t *fleet_config_records(struct fleet *f, json_t *resp, uint64_t head, uint64_t *beyond)
{
    *beyond = 0;
    json_t *out = json_array(), *kv;
    size_t i;
    bool have_head = false;
    json_array_foreach(json_object_get(resp, "kvs"), i, kv)
    {
        size_t kl, vl;
        char *key = etcd_unb64(json_string_value(json_object_get(kv, "key")) ?: "", &kl);
        char *text = etcd_unb64(json_string_value(json_object_get(kv, "value")) ?: "", &vl);
        json_t *v = text ? json_loads(text, 0, NULL) : NULL;
        const char *signer = NULL;
        enum fleet_verdict vd = key && json_is_object(v)
                                    ? fleet_verify(&f->p.keys, key, v, NULL, &signer)
                                    : FLEET_SIG_MISSING;
        json_t *ver = json_object_get(v, "version");
        char *want =
            json_is_integer(ver) ? fleet_config_vkey(f, (uint64_t)json_integer_value(ver)) : NULL;
        if (vd != FLEET_SIG_OK)
            fleet_reject(f, key ? key : "config/v/?", vd, signer, NULL);
        else if (!want || strcmp(want, key) != 0 || !fleet_config_has_doc(v))
            fleet_reject(f, key, FLEET_REJ_FIELDS, signer,
                         "a configuration version must carry its own version and a doc, or a "
                         "delta against the version before");
        else {
            uint64_t n = (uint64_t)json_integer_value(ver);
            json_object_del(v, "sig");
            json_object_set_new(v, "signer", json_string(signer ? signer : ""));
            have_head |= n == head;
            if (n <= head)
                json_array_append(out, v);
            else if (n > *beyond)
                *beyond = n;
        }
        free(want);
        json_decref(v);
        free(key);
        free(text);
    }
    if (!have_head) {
        json_decref(out);
        return NULL;
    }
    return out;
}

/* Drops the parts of each whole version in recs (a fetch's, in order)
 * that also carries its delta against the record before it, or, for the
 * first one, against chained (the version this node serves): the delta
 * makes it from what this node has (config_fleet_docs), and the document
 * is not read. Should the delta not fit after all, the node fetches again
 * from the newest whole version with its parts (fleet_config_need_full). */
static void fleet_config_skip_parts(struct fleet *f, json_t *recs, uint64_t chained)
{
    json_t *rec;
    size_t i;
    uint64_t prev = chained, skipped = 0;
    json_array_foreach(recs, i, rec)
    {
        json_t *base = json_object_get(rec, "base");
        if (prev && json_object_get(rec, "parts") &&
            json_is_object(json_object_get(rec, "delta")) && json_is_integer(base) &&
            (uint64_t)json_integer_value(base) == prev) {
            json_object_del(rec, "parts");
            skipped++;
        }
        prev = (uint64_t)json_integer_value(json_object_get(rec, "version"));
    }
    pthread_mutex_lock(&f->lock);
    f->cfg.parts_skipped += skipped;
    pthread_mutex_unlock(&f->lock);
}

/* A fetch of the versions up to head (whose revision was rev) ended with
 * recs (stolen), or NULL with why. */
static void fleet_config_fetched(struct fleet *f, uint64_t head, int64_t rev, json_t *recs,
                                 const char *why)
{
    if (!recs) {
        /* Refused, pruned or an etcd error: tried again when head moves,
         * else in FLEET_CONFIG_RETRY_S (not every tick: a whole version
         * can be megabytes). */
        log_warn("event=fleet_config_fetch result=failed version=%llu error=\"%s\"",
                 (unsigned long long)head, why);
        pthread_mutex_lock(&f->lock);
        f->cfg.failed_rev = rev;
        pthread_mutex_unlock(&f->lock);
        f->cfg.retry_at = deadline_mono() + FLEET_CONFIG_RETRY_S;
        if (fleet_config_head(f) != head)
            fleet_config_run(f);
        return;
    }
    f->cfg.offered = head;
    pthread_mutex_lock(&f->lock);
    f->cfg.offer_open = true;
    f->cfg.offer_at = deadline_mono();
    pthread_mutex_unlock(&f->lock);
    f->cfg.on_config(f->cfg.arg, head, recs);
    json_decref(recs);
}

static void fleet_config_on_parts(void *arg, bool ok, const char *err)
{
    struct fleet_cfg_call *c = arg;
    struct fleet *f = c->f;
    json_t *recs = c->records;
    bool stale = c->gen != f->sync_step;
    uint64_t head = c->head;
    int64_t rev = c->head_rev;
    free(c);
    f->cfg.fetching = false;
    if (stale || !ok) {
        if (!stale)
            fleet_config_fetched(f, head, rev, NULL, err ? err : "its parts");
        json_decref(recs);
        return;
    }
    fleet_config_fetched(f, head, rev, recs, NULL);
}

static void fleet_config_on_fetch(void *arg, enum etcd_status st, json_t *resp, const char *err)
{
    struct fleet_cfg_call *c = arg;
    struct fleet *f = c->f;
    uint64_t head = c->head, chained = c->chained;
    int64_t c_rev = c->head_rev;
    bool stale = st == ETCD_ERR_CANCELLED || c->gen != f->sync_step;
    free(c);
    if (st == ETCD_ERR_CANCELLED)
        return; /* the fleet is being freed */
    f->cfg.fetching = false;
    if (stale)
        return; /* a fresh read follows, and fetches again */
    uint64_t beyond = 0;
    json_t *recs = st == ETCD_OK ? fleet_config_records(f, resp, head, &beyond) : NULL;
    if (beyond) {
        /* A member signed a newer version than head names: head was put
         * back. Fetched again up to that one. */
        json_decref(recs);
        char why[160], *key = fleet_key(f, "config/head", NULL, NULL);
        snprintf(why, sizeof(why), "version %llu, and version %llu is in etcd",
                 (unsigned long long)head, (unsigned long long)beyond);
        fleet_reject(f, key, FLEET_REJ_REPLAY, "", why);
        free(key);
        pthread_mutex_lock(&f->lock);
        if (beyond > f->cfg.seen)
            f->cfg.head = f->cfg.seen = beyond;
        pthread_mutex_unlock(&f->lock);
        fleet_config_run(f);
        return;
    }
    if (!recs) {
        fleet_config_fetched(f, head, c_rev, NULL,
                             st != ETCD_OK ? (err ? err : "etcd") : "not there, or refused");
        return;
    }
    fleet_config_skip_parts(f, recs, chained);
    /* A whole version in parts: read them first (the fetch goes on). */
    struct fleet_cfg_call *pc = fleet_config_call(f, NULL);
    pc->head = head;
    pc->head_rev = c_rev;
    pc->records = recs;
    f->cfg.fetching = true;
    fleet_config_parts_get(f, recs, fleet_config_on_parts, pc);
}

/* Fetches the versions after the one this node serves, up to head. */
static void fleet_config_fetch(struct fleet *f)
{
    fleet_config_floor(f);
    pthread_mutex_lock(&f->lock);
    uint64_t head = f->cfg.head, applied = f->cfg.applied, full = f->cfg.full;
    int64_t head_rev = f->cfg.head_rev, failed_rev = f->cfg.failed_rev;
    bool want_full = f->cfg.want_full, open = f->cfg.offer_open;
    double open_at = f->cfg.offer_at;
    f->cfg.want_full = false;
    pthread_mutex_unlock(&f->lock);
    if (head_rev == 0 && head && head <= applied)
        return; /* head is gone from etcd, and this node has it: nothing to fetch */
    if (head_rev && head_rev == failed_rev && deadline_mono() < f->cfg.retry_at)
        return;
    if (head == 0) {
        pthread_mutex_lock(&f->lock);
        bool idle = f->cfg.jobs == NULL; /* no bootstrap under way, or waited for */
        pthread_mutex_unlock(&f->lock);
        if (!f->cfg.told_empty || (idle && deadline_mono() >= f->cfg.empty_again_at)) {
            f->cfg.told_empty = true;
            f->cfg.empty_again_at = deadline_mono() + FLEET_CONFIG_EMPTY_AGAIN_S;
            f->cfg.offered = 0;
            json_t *none = json_array();
            f->cfg.on_config(f->cfg.arg, 0, none);
            json_decref(none);
        }
        return;
    }
    f->cfg.told_empty = false;
    if (f->cfg.fetching || (head == f->cfg.offered && !want_full)) {
        if (want_full) { /* after the fetch under way */
            pthread_mutex_lock(&f->lock);
            f->cfg.want_full = true;
            pthread_mutex_unlock(&f->lock);
        }
        return;
    }
    /* From the version after this node's own while the chain since the
     * newest whole document reaches it (or that document is the next
     * version: its delta builds it from this node's), else from that
     * document: every version from full on is in etcd. */
    if (!full || full > head)
        full = head;
    bool chained = applied + 1 >= full && applied < head && !want_full;
    /* The owner is still applying a version offered before that the chain
     * would start from: fetched once it has (fleet_config_applied), not
     * with the whole version again (its parts read twice), since an offer
     * replaces the one not yet taken. */
    if (!chained && !want_full && open && f->cfg.offered + 1 >= full && f->cfg.offered < head &&
        deadline_mono() < open_at + FLEET_CONFIG_OFFER_WAIT_S)
        return;
    uint64_t from = chained ? applied + 1 : full;
    /* Up to head, and one version past it if there is one: a head put
     * back (a replay) names an older version than the newest in etcd.
     * Numbered versions only: the parts of whole ones sort after them. */
    char *a = fleet_config_vkey(f, from), *b = fleet_key(f, "config/v/p", NULL, NULL);
    char *ab = etcd_b64(a, strlen(a)), *bb = etcd_b64(b, strlen(b));
    json_t *req = json_pack("{s:s, s:s, s:I}", "key", ab, "range_end", bb, "limit",
                            (json_int_t)(head - from + 2));
    free(a);
    free(b);
    free(ab);
    free(bb);
    f->cfg.fetching = true;
    struct fleet_cfg_call *c = fleet_config_call(f, NULL);
    c->head = head;
    c->head_rev = head_rev;
    c->chained = chained ? applied : 0;
    etcd_call(f->etcd, "/v3/kv/range", req, fleet_config_on_fetch, c);
}

/* ---- publishing ----------------------------------------------------------- */

static void fleet_config_done_locked(struct fleet *f, struct fleet_cfg_job *j,
                                     enum shared_status st, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static void fleet_config_done_locked(struct fleet *f, struct fleet_cfg_job *j,
                                     enum shared_status st, const char *fmt, ...)
{
    struct fleet_cfg_job **pp = &f->cfg.jobs;
    while (*pp && *pp != j)
        pp = &(*pp)->next;
    if (*pp)
        *pp = j->next;
    va_list ap;
    va_start(ap, fmt);
    bool drop = fleet_wait_end_locked(f, &j->w, st, fmt, ap);
    va_end(ap);
    if (drop) {
        json_decref(j->record);
        free(j);
    }
}

static void fleet_config_on_txn(void *arg, enum etcd_status st, json_t *resp, const char *err)
{
    struct fleet_cfg_call *c = arg;
    struct fleet *f = c->f;
    struct fleet_cfg_job *j = c->job;
    free(c);
    if (st == ETCD_ERR_CANCELLED)
        return; /* stop: fleet_config_fail_all answered j */
    /* The parts of a version not written are dropped (not after a net
     * error: it may have been written). */
    if (!(st == ETCD_OK && json_is_true(json_object_get(resp, "succeeded"))) && st != ETCD_ERR_NET)
        fleet_config_parts_drop(f, j->record);
    pthread_mutex_lock(&f->lock);
    if (st == ETCD_ERR_NET)
        fleet_config_done_locked(f, j, SHARED_UNKNOWN,
                                 "etcd did not answer (%s): the version may or may not have been "
                                 "written; read the configuration's version again",
                                 err ? err : "");
    else if (st != ETCD_OK)
        fleet_config_done_locked(f, j, SHARED_UNAVAILABLE,
                                 "etcd refused the version (%s); nothing was changed",
                                 err ? err : "error");
    else if (!json_is_true(json_object_get(resp, "succeeded")))
        fleet_config_done_locked(f, j, SHARED_CONFLICT,
                                 "another node wrote a version of the configuration meanwhile");
    else {
        f->writes++;
        f->keys_written += 2;
        j->wait_rev =
            etcd_json_int(json_object_get(json_object_get(resp, "header"), "revision"), 0);
        j->phase = 2;
    }
    pthread_mutex_unlock(&f->lock);
    if (st == ETCD_ERR_NET)
        fleet_keep_call_failed(f, st, "config", err);
    fleet_config_run(f);
}

/* A put of v (stolen; signed here) at key, as a transaction operation;
 * *len (when not NULL) gets the value's length. */
static json_t *fleet_config_put_op(struct fleet *f, const char *key, json_t *v, size_t *len)
{
    fleet_compat_stamp(v, fleet_compat_write_format(f));
    fleet_sign(&f->p.keys, key, v);
    char *text = json_dumps(v, JSON_COMPACT);
    json_decref(v);
    if (len)
        *len = text ? strlen(text) : 0;
    json_t *op = json_pack("{s:{s:o, s:o}}", "request_put", "key", fleet_b64s(key), "value",
                           fleet_b64s(text ? text : "{}"));
    free(text);
    return op;
}

/* Job j carries a delta against the fleet's head that every node of the
 * fleet can read. (L) */
static bool fleet_config_delta_ok_locked(const struct fleet *f, const struct fleet_cfg_job *j)
{
    json_t *base = json_object_get(j->record, "base");
    return json_is_object(json_object_get(j->record, "delta")) && json_is_integer(base) &&
           (uint64_t)json_integer_value(base) == j->base && f->cfg.head == j->base &&
           fleet_compat_write_format(f) >= FLEET_FORMAT_CUR;
}

/* The chain since the newest whole version can take version v as a
 * delta (fleet_config.h): shorter than keep, or, when head gives the
 * sizes, shorter than FLEET_CONFIG_CHAIN_MAX with its bytes below a
 * share of the whole document's. (L) */
static bool fleet_config_chain_short_locked(const struct fleet *f, uint64_t v, unsigned keep)
{
    uint64_t chain = v - f->cfg.full;
    return chain < keep || (f->cfg.sizes_known && chain < FLEET_CONFIG_CHAIN_MAX &&
                            f->cfg.chain_bytes < f->cfg.full_bytes / FLEET_CONFIG_CHAIN_SHARE);
}

/* Whether job j goes as a delta (else its whole document), and the newest
 * whole version once it is written. (L) */
static bool fleet_config_as_delta_locked(const struct fleet *f, const struct fleet_cfg_job *j,
                                         uint64_t *full)
{
    uint64_t v = j->base + 1;
    bool delta = fleet_config_delta_ok_locked(f, j) && f->cfg.full && f->cfg.full <= j->base &&
                 fleet_config_chain_short_locked(f, v, j->keep);
    *full = delta ? f->cfg.full : v;
    return delta;
}

/* Head's sizes (fleet_config.h) for the version after the one it names:
 * a whole one whose document is doc_bytes long, or a delta of rec_len
 * bytes on the chain as head gives it (none when head gives none). */
static void fleet_config_head_sizes(struct fleet *f, json_t *head, bool whole, size_t doc_bytes,
                                    size_t rec_len)
{
    pthread_mutex_lock(&f->lock);
    bool known = whole ? doc_bytes > 0 : f->cfg.sizes_known;
    uint64_t chain = whole ? 0 : f->cfg.chain_bytes + rec_len;
    uint64_t full_bytes = whole ? doc_bytes : f->cfg.full_bytes;
    pthread_mutex_unlock(&f->lock);
    if (known) {
        json_object_set_new(head, "chain_bytes", json_integer((json_int_t)chain));
        json_object_set_new(head, "full_bytes", json_integer((json_int_t)full_bytes));
    }
}

/* Sends job j's transaction, its parts written (j is phase 1). full: the
 * newest whole version once it is written. Caller holds no lock. */
static void fleet_config_send_txn(struct fleet *f, struct fleet_cfg_job *j, int64_t head_rev,
                                  uint64_t full)
{
    uint64_t v = j->base + 1;
    json_object_set_new(j->record, "node", json_string(f->p.node));
    json_object_set_new(j->record, "time", json_real(health_now()));
    char *vkey = fleet_config_vkey(f, v), *hkey = fleet_key(f, "config/head", NULL, NULL);
    json_t *rec = json_copy(j->record);
    json_t *ops = json_array();
    size_t rec_len = 0;
    json_array_append_new(ops, fleet_config_put_op(f, vkey, rec, &rec_len));
    json_t *head = json_pack("{s:I, s:s, s:I}", "version", (json_int_t)v, "node", f->p.node, "full",
                             (json_int_t)full);
    fleet_config_head_sizes(f, head, full == v, j->doc_bytes, rec_len);
    json_array_append_new(ops, fleet_config_put_op(f, hkey, head, NULL));
    /* The newest keep versions stay, and every one from the newest whole
     * document on (a delta needs the chain back to it). */
    uint64_t drop_below = v + 1 > j->keep ? v + 1 - j->keep : 0;
    if (full < drop_below)
        drop_below = full;
    for (int parts = 0; drop_below > 0 && parts < 2; parts++) { /* versions, their parts */
        char num[16];
        snprintf(num, sizeof(num), "%012llu", (unsigned long long)drop_below);
        const char *dir = parts ? FLEET_CONFIG_PARTS : "config/v/";
        char *from = fleet_key(f, dir, "000000000000", NULL), *to = fleet_key(f, dir, num, NULL);
        json_array_append_new(ops, json_pack("{s:{s:o, s:o}}", "request_delete_range", "key",
                                             fleet_b64s(from), "range_end", fleet_b64s(to)));
        free(from);
        free(to);
    }
    json_t *txn =
        json_pack("{s:[{s:o, s:s, s:I, s:s}], s:o}", "compare", "key", fleet_b64s(hkey), "target",
                  "MOD", "mod_revision", (json_int_t)head_rev, "result", "EQUAL", "success", ops);
    free(vkey);
    free(hkey);
    j->version = v;
    etcd_call(f->etcd, "/v3/kv/txn", txn, fleet_config_on_txn, fleet_config_call(f, j));
}

/* j is still a job of f (a stop may have answered and freed it). (L) */
static bool fleet_config_job_live_locked(const struct fleet *f, const struct fleet_cfg_job *j)
{
    for (const struct fleet_cfg_job *x = f->cfg.jobs; x; x = x->next)
        if (x == j)
            return true;
    return false;
}

/* A whole version's parts are written (or not): its transaction next. */
static void fleet_config_on_parts_put(void *arg, bool ok, const char *err)
{
    struct fleet_cfg_call *c = arg;
    struct fleet *f = c->f;
    struct fleet_cfg_job *j = c->job;
    int64_t head_rev = c->head_rev;
    uint64_t full = c->head;
    free(c);
    pthread_mutex_lock(&f->lock);
    bool live = fleet_config_job_live_locked(f, j);
    if (live && !ok)
        fleet_config_done_locked(f, j, SHARED_UNAVAILABLE,
                                 "etcd refused the version (%s); nothing was changed",
                                 err ? err : "error");
    pthread_mutex_unlock(&f->lock);
    if (live && ok)
        fleet_config_send_txn(f, j, head_rev, full);
    else
        fleet_config_run(f);
}

/* etcd's revision when it read the head (a linearizable read): the sync
 * job j waits for the watch to reach it. */
static void fleet_config_on_sync(void *arg, enum etcd_status st, json_t *resp, const char *err)
{
    struct fleet_cfg_call *c = arg;
    struct fleet *f = c->f;
    struct fleet_cfg_job *j = c->job;
    free(c);
    if (st == ETCD_ERR_CANCELLED)
        return; /* stop: fleet_config_fail_all answered j */
    pthread_mutex_lock(&f->lock);
    int64_t rev = etcd_json_int(json_object_get(json_object_get(resp, "header"), "revision"), 0);
    if (st != ETCD_OK || rev <= 0)
        fleet_config_done_locked(f, j, SHARED_UNAVAILABLE, "etcd did not answer (%s)",
                                 err ? err : "no revision");
    else {
        j->wait_rev = rev;
        j->phase = 2;
    }
    pthread_mutex_unlock(&f->lock);
    if (st == ETCD_ERR_NET)
        fleet_keep_call_failed(f, st, "config", err);
    fleet_config_run(f);
}

/* Sends job j (phase 1 already): a sync's read of the head; a version as
 * a delta or whole, a long whole document in parts first. Caller holds no
 * lock. */
static void fleet_config_send(struct fleet *f, struct fleet_cfg_job *j, int64_t head_rev)
{
    if (j->sync) {
        char *hkey = fleet_key(f, "config/head", NULL, NULL);
        json_t *req = json_pack("{s:o, s:b}", "key", fleet_b64s(hkey), "count_only", true);
        free(hkey);
        etcd_call(f->etcd, "/v3/kv/range", req, fleet_config_on_sync, fleet_config_call(f, j));
        return;
    }
    uint64_t full;
    pthread_mutex_lock(&f->lock);
    bool delta = fleet_config_as_delta_locked(f, j, &full);
    /* A whole version keeps its delta beside the document: a node that
     * has the version before applies the delta and never reads the
     * document's parts (fleet_config_on_fetch), which cost every node
     * seconds at 100,000 records; the document is for a node that does
     * not have it. */
    bool beside = !delta && fleet_config_delta_ok_locked(f, j);
    pthread_mutex_unlock(&f->lock);
    if (delta)
        json_object_del(j->record, "doc");
    else if (!beside) {
        json_object_del(j->record, "delta");
        json_object_del(j->record, "base");
    }
    json_object_set_new(j->record, "version", json_integer((json_int_t)(j->base + 1)));
    if (delta) {
        fleet_config_send_txn(f, j, head_rev, full);
        return;
    }
    struct fleet_cfg_call *c = fleet_config_call(f, j);
    c->head_rev = head_rev;
    c->head = full;
    fleet_config_parts_put(f, j->record, j->base + 1, &j->doc_bytes, fleet_config_on_parts_put, c);
}

/* Ends the jobs the watch caught up with; returns a queued job to send
 * (made phase 1) and head's revision, or NULL. Caller holds the lock. */
static struct fleet_cfg_job *fleet_config_next_locked(struct fleet *f, int64_t *head_rev)
{
    struct fleet_cfg_job *start = NULL;
    bool sending = false;
    for (struct fleet_cfg_job *j = f->cfg.jobs, *n; j; j = n) {
        n = j->next;
        if (j->phase == 2 && f->rev >= j->wait_rev)
            fleet_config_done_locked(f, j, SHARED_OK, NULL);
        else if (j->phase == 1)
            sending = true;
        else if (j->phase == 0 && !start)
            start = j;
    }
    if (!start || sending || f->conn != FLEET_CONN_SYNCED)
        return NULL;
    /* An empty fleet takes any first number (a node's own history goes on). */
    if (!start->sync && f->cfg.head != 0 && start->base != f->cfg.head) {
        fleet_config_done_locked(f, start, SHARED_CONFLICT,
                                 "the fleet's configuration is at version %llu, not %llu",
                                 (unsigned long long)f->cfg.head, (unsigned long long)start->base);
        return NULL;
    }
    start->phase = 1;
    *head_rev = f->cfg.head_rev;
    return start;
}

void fleet_config_run(struct fleet *f)
{
    if (!f->cfg.on_config || f->stopping)
        return;
    for (;;) {
        int64_t head_rev = 0;
        pthread_mutex_lock(&f->lock);
        struct fleet_cfg_job *j = fleet_config_next_locked(f, &head_rev);
        bool put = f->cfg.put_due && f->conn == FLEET_CONN_SYNCED;
        if (put)
            f->cfg.put_due = false;
        pthread_mutex_unlock(&f->lock);
        if (put)
            fleet_put_node(f);
        if (!j)
            break;
        fleet_config_send(f, j, head_rev);
    }
    if (f->conn == FLEET_CONN_SYNCED)
        fleet_config_fetch(f);
}

void fleet_config_fail_all(struct fleet *f, const char *why)
{
    pthread_mutex_lock(&f->lock);
    while (f->cfg.jobs)
        fleet_config_done_locked(f, f->cfg.jobs, SHARED_UNAVAILABLE, "%s", why);
    pthread_mutex_unlock(&f->lock);
}

void fleet_config_node_fields_locked(struct fleet *f, json_t *rec)
{
    if (!f->cfg.on_config)
        return;
    json_object_set_new(rec, "config_version", json_integer((json_int_t)f->cfg.applied));
    if (f->cfg.error[0])
        json_object_set_new(rec, "config_error", json_string(f->cfg.error));
}

/* ---- the caller's side ------------------------------------------------------ */

/* What the caller is told at the deadline (caller holds the lock). */
static enum shared_status fleet_config_timeout_locked(struct fleet *f, struct fleet_cfg_job *j,
                                                      uint64_t *version, char *err, size_t errlen)
{
    if (j->phase == 0) {
        struct fleet_cfg_job **pp = &f->cfg.jobs;
        while (*pp && *pp != j)
            pp = &(*pp)->next;
        if (*pp)
            *pp = j->next;
        json_decref(j->record);
        free(j);
        snprintf(err, errlen, "etcd could not be reached in time; nothing was sent");
        return SHARED_UNAVAILABLE;
    }
    j->w.abandoned = true; /* the fleet thread frees it */
    if (j->phase == 2) {
        *version = j->version;
        return SHARED_OK; /* in etcd; the watch brings it shortly */
    }
    snprintf(err, errlen,
             "etcd did not answer in time: the version may or may not have been written; read "
             "the configuration's version again");
    return SHARED_UNKNOWN;
}

int fleet_config_sync(struct fleet *f, double deadline)
{
    struct fleet_cfg_job *j = calloc(1, sizeof(*j));
    if (!j)
        abort();
    j->sync = true;
    pthread_mutex_lock(&f->lock);
    if (f->conn != FLEET_CONN_SYNCED) { /* no job is sent before it is: no wait */
        pthread_mutex_unlock(&f->lock);
        free(j);
        return -1;
    }
    struct fleet_cfg_job **pp = &f->cfg.jobs;
    while (*pp)
        pp = &(*pp)->next;
    *pp = j;
    fleet_wait_locked(f, &j->w, deadline);
    if (!j->w.done) {
        uint64_t v;
        char err[8];
        fleet_config_timeout_locked(f, j, &v, err, sizeof(err));
        pthread_mutex_unlock(&f->lock);
        return -1;
    }
    pthread_mutex_unlock(&f->lock);
    int rc = j->w.result == SHARED_OK ? 0 : -1;
    free(j);
    return rc;
}

enum shared_status fleet_config_publish(struct fleet *f, json_t *record, uint64_t base,
                                        unsigned keep, double deadline, uint64_t *version,
                                        char *err, size_t errlen)
{
    struct fleet_cfg_job *j = calloc(1, sizeof(*j));
    if (!j)
        abort();
    /* A shallow copy: the document's values are shared, never changed
     * (a change makes a new document; jansson's counts are atomic). */
    j->record = json_copy(record);
    j->base = base;
    j->keep = keep > 1 ? keep : 2;
    *version = 0;
    err[0] = '\0';
    pthread_mutex_lock(&f->lock);
    struct fleet_cfg_job **pp = &f->cfg.jobs;
    while (*pp)
        pp = &(*pp)->next;
    *pp = j;
    fleet_wait_locked(f, &j->w, deadline);
    if (!j->w.done) {
        enum shared_status st = fleet_config_timeout_locked(f, j, version, err, errlen);
        pthread_mutex_unlock(&f->lock);
        return st;
    }
    pthread_mutex_unlock(&f->lock);
    enum shared_status st = j->w.result;
    *version = st == SHARED_OK ? j->version : 0;
    snprintf(err, errlen, "%s", j->w.err);
    json_decref(j->record);
    free(j);
    return st;
}

void fleet_config_applied(struct fleet *f, uint64_t version, const char *error)
{
    pthread_mutex_lock(&f->lock);
    bool moved = f->cfg.applied != version || strcmp(f->cfg.error, error ? error : "") != 0;
    f->cfg.applied = version;
    snprintf(f->cfg.error, sizeof(f->cfg.error), "%s", error ? error : "");
    f->cfg.put_due |= moved;
    moved |= f->cfg.offer_open; /* a fetch may wait for this */
    f->cfg.offer_open = false;
    /* A version of the fleet's is served: whole versions from now on are
     * built from it, never this node's document from before. */
    json_t *own = version && !f->cfg.error[0] ? f->cfg.own : NULL;
    if (own) {
        f->cfg.own = NULL;
        f->cfg.own_sha[0] = '\0';
    }
    pthread_mutex_unlock(&f->lock);
    json_decref(own); /* outside the lock: it can be the last of a document */
    if (moved)
        event_active(f->ev_jobs, EV_TIMEOUT, 0);
}

void fleet_config_need_full(struct fleet *f)
{
    pthread_mutex_lock(&f->lock);
    f->cfg.want_full = true;
    pthread_mutex_unlock(&f->lock);
    event_active(f->ev_jobs, EV_TIMEOUT, 0);
}

uint64_t fleet_config_head(struct fleet *f)
{
    pthread_mutex_lock(&f->lock);
    uint64_t h = f->cfg.head;
    pthread_mutex_unlock(&f->lock);
    return h;
}

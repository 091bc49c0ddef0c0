/*
 * fleet_store.c -- the shared store (health/shared_store.h) on etcd:
 * records of a kind (overrides) under PREFIX/KIND/ID, ids from the counter
 * key PREFIX/seq/KIND, expiry through leases, and the health core kept in
 * step with what the watch delivers.
 *
 * Create: one transaction that compares the counter's mod revision with
 * the one this node had applied when the caller decided (so a decision
 * taken on an old view fails with a conflict and is taken again), bumps
 * the counter and puts the record (on its own lease when it expires). An
 * id is therefore never handed out twice, by any node. The call returns
 * once the watch has applied the transaction's revision here.
 *
 * Expiry: the lease deletes the key even when every node is down; leases
 * can outlive their TTL across an etcd leader change, so every node also
 * deletes records past their "expires" time (a transaction on the record's
 * mod revision: the first node wins, the others find it changed) and the
 * health thread drops them locally at that time.
 */
#include <event2/event.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/log.h"
#include "fleet/fleet_int.h"
#include "health/override.h"
#include "health/service.h"

struct fleet_jobcall {
    struct fleet *f;
    struct fleet_job *job; /* NULL for an expiry delete */
    struct fleet_rec *rec; /* expiry: the record being deleted */
};

static json_t *fleet_store_b64(const char *s)
{
    char *b = etcd_b64(s, strlen(s));
    json_t *j = json_string(b);
    free(b);
    return j;
}

/* Asks the health thread to write the state file (the last known state
 * for a restart without etcd), without waiting for it. */
static void fleet_store_save(struct fleet *f)
{
    if (f->health_service)
        health_service_save_async(f->health_service);
}

struct fleet_kind *fleet_store_kind(struct fleet *f, const char *name)
{
    return strcmp(name, f->overrides.name) == 0 ? &f->overrides : NULL;
}

static void fleet_store_free_recs(struct fleet_kind *k)
{
    while (k->recs) {
        struct fleet_rec *r = k->recs;
        k->recs = r->next;
        json_decref(r->value);
        free(r);
    }
}

void fleet_store_begin_read(struct fleet *f)
{
    struct fleet_kind *k = &f->overrides;
    fleet_store_free_recs(k);
    pthread_mutex_lock(&f->lock);
    k->seq_val = k->seq_mod = 0;
    pthread_mutex_unlock(&f->lock);
    k->reading = true;
}

void fleet_store_seq(struct fleet *f, struct fleet_kind *k, const char *value, int64_t mod_rev)
{
    pthread_mutex_lock(&f->lock);
    k->seq_val = value ? strtoll(value, NULL, 10) : 0;
    k->seq_mod = mod_rev;
    pthread_mutex_unlock(&f->lock);
}

void fleet_store_apply(struct fleet *f, struct fleet_kind *k, const char *id, json_t *value,
                       int64_t mod_rev)
{
    struct fleet_rec **pp = &k->recs;
    while (*pp && strcmp((*pp)->id, id) != 0)
        pp = &(*pp)->next;
    if (!value) {
        if (*pp) {
            struct fleet_rec *r = *pp;
            *pp = r->next;
            json_decref(r->value);
            free(r);
        }
        if (!k->reading && override_remove_why(f->health, id, "removed_in_fleet"))
            fleet_store_save(f);
        return;
    }
    if (!*pp) {
        *pp = calloc(1, sizeof(**pp));
        if (!*pp)
            abort();
        snprintf((*pp)->id, sizeof((*pp)->id), "%s", id);
    }
    json_decref((*pp)->value);
    (*pp)->value = json_incref(value);
    (*pp)->mod_rev = mod_rev;
    (*pp)->deleting = false;
    if (!k->reading && override_upsert_json(f->health, value, health_now()) > 0)
        fleet_store_save(f);
}

void fleet_store_resync(struct fleet *f, struct fleet_kind *k)
{
    json_t *arr = json_array();
    for (struct fleet_rec *r = k->recs; r; r = r->next)
        json_array_append(arr, r->value);
    size_t n = override_sync_json(f->health, arr, health_now());
    json_decref(arr);
    k->reading = false;
    if (n)
        fleet_store_save(f);
}

/* ---- jobs (fleet thread) ------------------------------------------------ */

/* Finishes a job: the waiting caller wakes up (or, if it gave up, the job
 * is freed here). Caller holds f->lock. */
static void fleet_job_done_locked(struct fleet *f, struct fleet_job *j, enum shared_status st,
                                  const char *fmt, ...) __attribute__((format(printf, 4, 5)));
static void fleet_job_done_locked(struct fleet *f, struct fleet_job *j, enum shared_status st,
                                  const char *fmt, ...)
{
    struct fleet_job **pp = &f->jobs;
    while (*pp && *pp != j)
        pp = &(*pp)->next;
    if (*pp)
        *pp = j->next;
    j->result = st;
    if (fmt) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(j->err, sizeof(j->err), fmt, ap);
        va_end(ap);
    }
    j->done = true;
    if (j->abandoned) {
        json_decref(j->record);
        free(j);
    }
    pthread_cond_broadcast(&f->cond);
}

static void fleet_job_finish(struct fleet *f, struct fleet_job *j, enum shared_status st,
                             const char *msg)
{
    pthread_mutex_lock(&f->lock);
    fleet_job_done_locked(f, j, st, msg ? "%s" : NULL, msg);
    pthread_mutex_unlock(&f->lock);
}

static void fleet_on_job_txn(void *arg, enum etcd_status st, json_t *resp, const char *err)
{
    struct fleet_jobcall *c = arg;
    struct fleet *f = c->f;
    struct fleet_job *j = c->job;
    free(c);
    if (st != ETCD_OK) {
        char msg[300];
        snprintf(msg, sizeof(msg), "etcd did not confirm the change (%s); nothing was applied",
                 err ? err : "error");
        fleet_job_finish(f, j, SHARED_UNAVAILABLE, msg);
        if (st == ETCD_ERR_NET)
            fleet_sync_failed(f, "write", err);
        return;
    }
    if (!json_is_true(json_object_get(resp, "succeeded"))) {
        if (j->op == FLEET_JOB_REMOVE)
            fleet_job_finish(f, j, SHARED_NOT_FOUND, NULL);
        else
            fleet_job_finish(f, j, SHARED_CONFLICT,
                             "another node changed the shared records meanwhile");
        return;
    }
    pthread_mutex_lock(&f->lock);
    f->writes++;
    f->keys_written += j->op == FLEET_JOB_CREATE ? 2 : 1;
    j->wait_rev = etcd_json_int(json_object_get(json_object_get(resp, "header"), "revision"), 0);
    j->deadline = fleet_mono() + 2 * f->p.etcd.timeout_s;
    j->phase = 2;
    pthread_mutex_unlock(&f->lock);
    fleet_store_run_jobs(f);
}

static void fleet_job_create_txn(struct fleet *f, struct fleet_job *j)
{
    struct fleet_kind *k = j->kind;
    char num[32];
    snprintf(num, sizeof(num), "%lld", (long long)(k->seq_val + 1));
    snprintf(j->id, sizeof(j->id), "%s-%lld", k->id_prefix, (long long)(k->seq_val + 1));
    json_object_set_new(j->record, "id", json_string(j->id));
    json_object_set_new(j->record, "node", json_string(f->p.node));
    char *text = json_dumps(j->record, JSON_COMPACT);
    char *seq = fleet_key(f, "seq/", k->name, NULL);
    char sub[64];
    snprintf(sub, sizeof(sub), "%s/", k->name);
    char *key = fleet_key(f, sub, j->id, NULL);
    json_t *put =
        json_pack("{s:o, s:o}", "key", fleet_store_b64(key), "value", fleet_store_b64(text));
    if (j->lease)
        json_object_set_new(put, "lease", json_integer(j->lease));
    json_t *txn =
        json_pack("{s:[{s:o, s:s, s:I, s:s}], s:[{s:{s:o, s:o}}, {s:o}]}", "compare", "key",
                  fleet_store_b64(seq), "target", "MOD", "mod_revision", (json_int_t)k->seq_mod,
                  "result", "EQUAL", "success", "request_put", "key", fleet_store_b64(seq), "value",
                  fleet_store_b64(num), "request_put", put);
    free(text);
    free(seq);
    free(key);
    struct fleet_jobcall *c = calloc(1, sizeof(*c));
    if (!c)
        abort();
    *c = (struct fleet_jobcall){.f = f, .job = j};
    etcd_call(f->etcd, "/v3/kv/txn", txn, fleet_on_job_txn, c);
}

static void fleet_on_job_lease(void *arg, enum etcd_status st, json_t *resp, const char *err)
{
    struct fleet_jobcall *c = arg;
    struct fleet *f = c->f;
    struct fleet_job *j = c->job;
    free(c);
    j->lease = st == ETCD_OK ? etcd_json_int(json_object_get(resp, "ID"), 0) : 0;
    if (!j->lease) {
        char msg[300];
        snprintf(msg, sizeof(msg), "etcd did not grant a lease (%s); nothing was applied",
                 err ? err : "no id");
        fleet_job_finish(f, j, SHARED_UNAVAILABLE, msg);
        return;
    }
    /* The view may have moved while the lease was granted. */
    if (j->view != (uint64_t)j->kind->seq_mod) {
        fleet_job_finish(f, j, SHARED_CONFLICT,
                         "another node changed the shared records meanwhile");
        return;
    }
    fleet_job_create_txn(f, j);
}

static void fleet_job_remove_txn(struct fleet *f, struct fleet_job *j)
{
    char sub[64];
    snprintf(sub, sizeof(sub), "%s/", j->kind->name);
    char *key = fleet_key(f, sub, j->id, NULL);
    json_t *txn = json_pack("{s:[{s:o, s:s, s:I, s:s}], s:[{s:{s:o}}]}", "compare", "key",
                            fleet_store_b64(key), "target", "CREATE", "create_revision",
                            (json_int_t)0, "result", "GREATER", "success", "request_delete_range",
                            "key", fleet_store_b64(key));
    free(key);
    struct fleet_jobcall *c = calloc(1, sizeof(*c));
    if (!c)
        abort();
    *c = (struct fleet_jobcall){.f = f, .job = j};
    etcd_call(f->etcd, "/v3/kv/txn", txn, fleet_on_job_txn, c);
}

/* Starts a queued job (fleet thread; caller holds no lock). */
static void fleet_job_start(struct fleet *f, struct fleet_job *j)
{
    if (f->conn != FLEET_CONN_SYNCED || f->degraded) {
        char msg[200];
        snprintf(msg, sizeof(msg), "etcd is unreachable (no reply for %.1f s); nothing was changed",
                 fleet_mono() - f->last_ok);
        fleet_job_finish(f, j, SHARED_UNAVAILABLE, msg);
        return;
    }
    if (j->op == FLEET_JOB_REMOVE) {
        fleet_job_remove_txn(f, j);
        return;
    }
    if (j->view != (uint64_t)j->kind->seq_mod) {
        fleet_job_finish(f, j, SHARED_CONFLICT,
                         "another node changed the shared records meanwhile");
        return;
    }
    if (j->ttl_s <= 0) {
        fleet_job_create_txn(f, j);
        return;
    }
    struct fleet_jobcall *c = calloc(1, sizeof(*c));
    if (!c)
        abort();
    *c = (struct fleet_jobcall){.f = f, .job = j};
    etcd_call(f->etcd, "/v3/lease/grant", json_pack("{s:I}", "TTL", (json_int_t)ceil(j->ttl_s)),
              fleet_on_job_lease, c);
}

void fleet_store_run_jobs(struct fleet *f)
{
    for (;;) {
        struct fleet_job *start = NULL;
        pthread_mutex_lock(&f->lock);
        double now = fleet_mono();
        for (struct fleet_job *j = f->jobs, *n; j; j = n) {
            n = j->next;
            if (j->phase == 2 && (f->rev >= j->wait_rev || now >= j->deadline))
                fleet_job_done_locked(f, j, SHARED_OK, NULL);
            else if (j->phase == 0 && !start)
                start = j;
        }
        if (start)
            start->phase = 1;
        pthread_mutex_unlock(&f->lock);
        if (!start)
            return;
        fleet_job_start(f, start);
    }
}

void fleet_store_fail_all(struct fleet *f, const char *why)
{
    pthread_mutex_lock(&f->lock);
    while (f->jobs)
        fleet_job_done_locked(f, f->jobs, SHARED_UNAVAILABLE, "%s", why);
    pthread_mutex_unlock(&f->lock);
}

/* ---- expiry --------------------------------------------------------------- */

static void fleet_on_expire_txn(void *arg, enum etcd_status st, json_t *resp, const char *err)
{
    struct fleet_jobcall *c = arg;
    free(c);
}

void fleet_store_expire(struct fleet *f)
{
    if (f->conn != FLEET_CONN_SYNCED)
        return;
    double now = health_now();
    struct fleet_kind *k = &f->overrides;
    for (struct fleet_rec *r = k->recs; r; r = r->next) {
        double exp = json_number_value(json_object_get(r->value, "expires"));
        if (exp <= 0 || exp > now || r->deleting)
            continue;
        r->deleting = true;
        char sub[64];
        snprintf(sub, sizeof(sub), "%s/", k->name);
        char *key = fleet_key(f, sub, r->id, NULL);
        json_t *txn = json_pack("{s:[{s:o, s:s, s:I, s:s}], s:[{s:{s:o}}]}", "compare", "key",
                                fleet_store_b64(key), "target", "MOD", "mod_revision",
                                (json_int_t)r->mod_rev, "result", "EQUAL", "success",
                                "request_delete_range", "key", fleet_store_b64(key));
        free(key);
        struct fleet_jobcall *c = calloc(1, sizeof(*c));
        if (!c)
            abort();
        *c = (struct fleet_jobcall){.f = f};
        etcd_call(f->etcd, "/v3/kv/txn", txn, fleet_on_expire_txn, c);
    }
}

/* ---- the store's operations (admin thread) -------------------------------- */

static uint64_t fleet_store_view(void *arg, const char *kind)
{
    struct fleet *f = arg;
    struct fleet_kind *k = fleet_store_kind(f, kind);
    pthread_mutex_lock(&f->lock);
    uint64_t v = k ? (uint64_t)k->seq_mod : 0;
    pthread_mutex_unlock(&f->lock);
    return v;
}

/* Queues j and waits for it; returns its result (the job is freed). */
static enum shared_status fleet_store_wait(struct fleet *f, struct fleet_job *j, char id[32],
                                           char *err, size_t errlen)
{
    double limit = 4 * f->p.etcd.timeout_s * (double)(f->p.etcd.n_urls + 1) + 2;
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    double end = (double)ts.tv_sec + (double)ts.tv_nsec / 1e9 + limit;
    ts.tv_sec = (time_t)end;
    ts.tv_nsec = (long)((end - floor(end)) * 1e9);
    pthread_mutex_lock(&f->lock);
    j->next = NULL;
    struct fleet_job **pp = &f->jobs;
    while (*pp)
        pp = &(*pp)->next;
    *pp = j;
    pthread_mutex_unlock(&f->lock);
    event_active(f->ev_jobs, EV_TIMEOUT, 0);
    pthread_mutex_lock(&f->lock);
    while (!j->done)
        if (pthread_cond_timedwait(&f->cond, &f->lock, &ts) != 0)
            break;
    if (!j->done) {
        j->abandoned = true; /* the fleet thread frees it */
        pthread_mutex_unlock(&f->lock);
        snprintf(err, errlen,
                 "etcd did not answer within %.0f s; the change may or may not "
                 "have been made: check the list again",
                 limit);
        return SHARED_UNKNOWN;
    }
    pthread_mutex_unlock(&f->lock);
    enum shared_status st = j->result;
    if (id)
        snprintf(id, 32, "%s", j->id);
    snprintf(err, errlen, "%s", j->err);
    json_decref(j->record);
    free(j);
    return st;
}

static enum shared_status fleet_store_create(void *arg, const char *kind, json_t *record,
                                             double ttl_s, uint64_t view, char id[32], char *err,
                                             size_t errlen)
{
    struct fleet *f = arg;
    struct fleet_job *j = calloc(1, sizeof(*j));
    if (!j)
        abort();
    j->op = FLEET_JOB_CREATE;
    j->kind = fleet_store_kind(f, kind);
    j->record = json_deep_copy(record);
    j->ttl_s = ttl_s;
    j->view = view;
    if (!j->kind) {
        json_decref(j->record);
        free(j);
        snprintf(err, errlen, "no shared kind %s", kind);
        return SHARED_UNAVAILABLE;
    }
    return fleet_store_wait(f, j, id, err, errlen);
}

static enum shared_status fleet_store_remove(void *arg, const char *kind, const char *id, char *err,
                                             size_t errlen)
{
    struct fleet *f = arg;
    struct fleet_job *j = calloc(1, sizeof(*j));
    if (!j)
        abort();
    j->op = FLEET_JOB_REMOVE;
    j->kind = fleet_store_kind(f, kind);
    snprintf(j->id, sizeof(j->id), "%s", id);
    if (!j->kind || strlen(id) >= sizeof(j->id) || strchr(id, '/')) {
        free(j);
        return SHARED_NOT_FOUND;
    }
    return fleet_store_wait(f, j, NULL, err, errlen);
}

static const struct shared_store_ops fleet_store_ops = {
    .view = fleet_store_view, .create = fleet_store_create, .remove = fleet_store_remove};

void fleet_store_init(struct fleet *f)
{
    f->overrides = (struct fleet_kind){.name = "overrides", .id_prefix = "ovr"};
    f->store = (struct shared_store){.ops = &fleet_store_ops, .arg = f, .node = f->p.node};
}

void fleet_store_free(struct fleet *f)
{
    fleet_store_free_recs(&f->overrides);
}

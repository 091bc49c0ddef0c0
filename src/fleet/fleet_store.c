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
 * Expiry is etcd's: the record's lease deletes the key (even when every
 * node is down), and the watch removes it from every node. No node deletes
 * a record by its own clock (a node running ahead would delete its peers'
 * records as they are made). A lease can outlive its TTL across an etcd
 * leader change (without --experimental-enable-lease-checkpoint). The
 * health thread still drops an override locally at its "expires" time.
 */
#include <event2/event.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/log.h"
#include "common/deadline.h"
#include "fleet/fleet_int.h"
#include "drill/drill.h"
#include "health/override.h"
#include "health/service.h"

struct fleet_jobcall {
    struct fleet *f;
    struct fleet_job *job; /* NULL for an expiry delete */
    struct fleet_rec *rec; /* expiry: the record being deleted */
};

/* Frees j's records (not j). */
static void fleet_job_free_record(struct fleet_job *j)
{
    json_decref(j->record);
    json_decref(j->sealed);
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
    for (size_t i = 0; i < f->n_kinds; i++)
        if (strcmp(name, f->kinds[i].name) == 0)
            return &f->kinds[i];
    return NULL;
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
    for (size_t i = 0; i < f->n_kinds; i++) {
        struct fleet_kind *k = &f->kinds[i];
        fleet_store_free_recs(k);
        pthread_mutex_lock(&f->lock);
        k->seq_val = k->seq_mod = 0;
        pthread_mutex_unlock(&f->lock);
        k->reading = true;
    }
}

/* The id counter as etcd holds it: a plain decimal from 0 to 10^15 (gtmd
 * counts up from 0); anything else (a huge or negative number, text) is
 * -1, and creations are refused rather than wrap the next id. */
static int64_t fleet_store_parse_seq(const char *value)
{
    if (!value)
        return 0;
    char *end;
    errno = 0;
    long long v = strtoll(value, &end, 10);
    if (errno || end == value || *end || v < 0 || v > 1000000000000000LL)
        return -1;
    return v;
}

void fleet_store_seq(struct fleet *f, struct fleet_kind *k, const char *value, int64_t mod_rev)
{
    int64_t v = fleet_store_parse_seq(value);
    if (v < 0) {
        char q[80];
        log_error("event=fleet_rejected key=seq/%s why=\"not an id counter gtmd wrote: %s\"",
                  k->name, log_quote(value, q, sizeof(q)));
    }
    pthread_mutex_lock(&f->lock);
    k->seq_val = v;
    k->seq_mod = mod_rev;
    pthread_mutex_unlock(&f->lock);
}

void fleet_store_apply(struct fleet *f, struct fleet_kind *k, const char *id, json_t *value,
                       int64_t mod_rev, const char *signer, bool own)
{
    struct fleet_rec **pp = &k->recs;
    while (*pp && strcmp((*pp)->id, id) != 0)
        pp = &(*pp)->next;
    if (!value) {
        json_t *old = NULL;
        bool applied = false;
        if (*pp) {
            struct fleet_rec *r = *pp;
            *pp = r->next;
            old = r->value;
            applied = r->refused == FLEET_SIG_OK;
            free(r);
        }
        if (!k->reading && applied)
            k->del(f, id, old);
        json_decref(old);
        return;
    }
    if (!*pp) {
        *pp = calloc(1, sizeof(**pp));
        if (!*pp)
            abort();
        snprintf((*pp)->id, sizeof((*pp)->id), "%s", id);
    }
    struct fleet_rec *r = *pp;
    json_decref(r->value);
    r->value = json_incref(value);
    r->mod_rev = mod_rev;
    r->deleting = false;
    r->own = own;
    snprintf(r->signer, sizeof(r->signer), "%s", signer ? signer : "");
    if (!k->reading)
        fleet_adopt(f, k, r);
}

void fleet_store_resync(struct fleet *f, struct fleet_kind *k)
{
    k->reading = false;
    k->resync(f, k);
}

/* ---- what each kind does on this node ---------------------------------------- */

/* The times of a record that are in its writer's clock. */
static const char *const fleet_ovr_times[] = {"created", "expires", NULL};
static const char *const fleet_drill_times[] = {"started", "ends", NULL};

/* value (borrowed) in this node's clock: a new reference. A record's times
 * (keys, NULL-terminated) are in the clock of the node that wrote it; on a
 * node whose clock is off its peers' (fleet_beat.c), they are shifted by
 * the offset, so the record ends here when it ends for the others too. */
static json_t *fleet_store_localize(struct fleet *f, json_t *value, const char *const *keys)
{
    pthread_mutex_lock(&f->lock);
    bool shift = f->skewed;
    double off = f->clock_offset;
    pthread_mutex_unlock(&f->lock);
    if (!shift)
        return json_incref(value);
    json_t *c = json_deep_copy(value);
    for (size_t i = 0; c && keys[i]; i++) {
        double t = json_number_value(json_object_get(c, keys[i]));
        if (t > 0)
            json_object_set_new(c, keys[i], json_real(t + off));
    }
    return c ? c : json_incref(value);
}

static enum fleet_verdict fleet_ovr_put(struct fleet *f, const char *id, json_t *value, char *why,
                                        size_t len)
{
    json_t *v = fleet_store_localize(f, value, fleet_ovr_times);
    int rc = override_upsert_json(f->health, v, health_now());
    json_decref(v);
    if (rc > 0)
        fleet_store_save(f);
    if (rc == OVERRIDE_UPSERT_INVALID) {
        snprintf(why, len, "a field rule of overrides fails (event=override_rejected says which)");
        return FLEET_REJ_FIELDS;
    }
    if (rc == OVERRIDE_UPSERT_FULL) {
        snprintf(why, len, "max_overrides (%zu) are in force here", override_max(f->health));
        return FLEET_REJ_MAX;
    }
    return FLEET_SIG_OK; /* applied, known, or expired already */
}

static void fleet_ovr_del(struct fleet *f, const char *id, json_t *old)
{
    if (override_remove_why(f->health, id, "removed_in_fleet"))
        fleet_store_save(f);
}

/* After a fresh read: the overrides here become etcd's, each checked. */
static void fleet_ovr_resync(struct fleet *f, struct fleet_kind *k)
{
    json_t *ids = json_array();
    for (struct fleet_rec *r = k->recs; r; r = r->next)
        json_array_append_new(ids, json_pack("{s:s}", "id", r->id));
    size_t n = override_remove_not_in_json(f->health, ids);
    json_decref(ids);
    if (n)
        fleet_store_save(f);
    for (struct fleet_rec *r = k->recs; r; r = r->next)
        fleet_adopt(f, k, r);
}

/* A drill started on some node: it starts here with the same id and end. */
static enum fleet_verdict fleet_drill_put(struct fleet *f, const char *id, json_t *value, char *why,
                                          size_t len)
{
    json_t *v = fleet_store_localize(f, value, fleet_drill_times);
    enum drill_start_rc rc = drill_core_adopt(f->drills, v, health_now(), why, len);
    json_decref(v);
    if (rc == DRILL_CONFLICT) {
        char q[300];
        log_warn("event=drill_adopt id=%s result=refused why=\"%s\"", id,
                 log_quote(why, q, sizeof(q)));
    }
    if (rc == DRILL_STARTED)
        fleet_store_save(f);
    return rc == DRILL_CONFLICT  ? FLEET_REJ_CONFLICT
           : rc == DRILL_INVALID ? FLEET_REJ_FIELDS
                                 : FLEET_SIG_OK;
}

/* A drill's key went: aborted on some node (DELETE, abort_if), or its
 * lease ran out with its duration. */
static void fleet_drill_del(struct fleet *f, const char *id, json_t *old)
{
    json_t *v = fleet_store_localize(f, old, fleet_drill_times);
    double ends = json_number_value(json_object_get(v, "ends"));
    json_decref(v);
    bool due = ends > 0 && ends <= health_now() + 1;
    if (drill_core_end(f->drills, id, due ? DRILL_PASSED : DRILL_ABORTED,
                       due ? "duration reached" : "ended on another node of the fleet"))
        fleet_store_save(f);
}

static void fleet_drill_resync(struct fleet *f, struct fleet_kind *k)
{
    for (struct fleet_rec *r = k->recs; r; r = r->next)
        fleet_adopt(f, k, r);
    /* Active here but not in etcd: it ended in the fleet meanwhile.
     * Practice drills are started by each node's own schedule, never
     * through etcd: they are left alone. */
    json_t *list = drill_core_list_json(f->drills);
    size_t i;
    json_t *d;
    json_array_foreach(json_object_get(list, "active"), i, d)
    {
        const char *id = json_string_value(json_object_get(d, "id"));
        bool shared = false;
        for (struct fleet_rec *r = k->recs; r && !shared && id; r = r->next)
            shared = strcmp(r->id, id) == 0;
        const char *author = json_string_value(json_object_get(d, "author"));
        if (author && strcmp(author, "practice") == 0)
            continue;
        if (id && !shared && drill_core_end(f->drills, id, DRILL_ABORTED, "not in the fleet"))
            fleet_store_save(f);
    }
    json_decref(list);
}

/* Drill listener (any thread that ends a drill): the fleet thread deletes
 * its key, so every node ends it. */
static void fleet_drill_ended(void *arg, json_t *drill)
{
    struct fleet *f = arg;
    const char *id = json_string_value(json_object_get(drill, "id"));
    if (!id || strlen(id) >= 32)
        return;
    pthread_mutex_lock(&f->lock);
    if (f->n_ended == f->cap_ended) {
        size_t cap = f->cap_ended ? 2 * f->cap_ended : 8;
        char(*n)[32] = realloc(f->ended, cap * sizeof(*n));
        if (!n)
            abort();
        f->ended = n;
        f->cap_ended = cap;
    }
    snprintf(f->ended[f->n_ended++], 32, "%s", id);
    pthread_mutex_unlock(&f->lock);
    event_active(f->ev_jobs, EV_TIMEOUT, 0);
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
    va_list ap;
    va_start(ap, fmt);
    bool drop = fleet_wait_end_locked(f, &j->w, st, fmt, ap);
    va_end(ap);
    if (drop) {
        fleet_job_free_record(j);
        free(j);
    }
}

void fleet_wait_locked(struct fleet *f, const struct fleet_wait *w, double deadline)
{
    struct timespec ts = deadline_after(deadline - deadline_mono());
    event_active(f->ev_jobs, EV_TIMEOUT, 0);
    while (!w->done)
        if (pthread_cond_timedwait(&f->cond, &f->lock, &ts) != 0)
            break;
}

bool fleet_wait_end_locked(struct fleet *f, struct fleet_wait *w, enum shared_status st,
                           const char *fmt, va_list ap)
{
    w->result = st;
    if (fmt)
        vsnprintf(w->err, sizeof(w->err), fmt, ap);
    w->done = true;
    pthread_cond_broadcast(&f->cond);
    return w->abandoned;
}

static void fleet_job_finish(struct fleet *f, struct fleet_job *j, enum shared_status st,
                             const char *msg)
{
    pthread_mutex_lock(&f->lock);
    fleet_job_done_locked(f, j, st, msg ? "%s" : NULL, msg);
    pthread_mutex_unlock(&f->lock);
}

/* The job's change is in etcd as of revision rev: done once the watch has
 * applied it here. */
static void fleet_job_committed(struct fleet *f, struct fleet_job *j, int64_t rev)
{
    pthread_mutex_lock(&f->lock);
    f->writes++;
    f->keys_written += j->op == FLEET_JOB_CREATE ? 3 : 1; /* a create: counter, record, seal */
    j->wait_rev = rev;
    j->deadline = deadline_mono() + 2 * f->p.etcd.timeout_s;
    j->phase = 2;
    pthread_mutex_unlock(&f->lock);
    fleet_store_run_jobs(f);
}

static void fleet_job_verify(struct fleet *f, struct fleet_job *j, int phase);
static void fleet_job_remove_txn(struct fleet *f, struct fleet_job *j);

/* The start of every reply to a job's transaction (arg freed): its job,
 * or NULL when the reply is dealt with here: the fleet stops, or etcd did
 * not answer (the record's key is read back, as phase). */
static struct fleet_job *fleet_jobcall_take(void *arg, enum etcd_status st, const char *err,
                                            int phase, struct fleet **f)
{
    struct fleet_jobcall *c = arg;
    struct fleet_job *j = c->job;
    *f = c->f;
    free(c);
    if (st == ETCD_ERR_CANCELLED)
        return NULL; /* stop: fleet_store_fail_all answered (and may have freed) j */
    if (st == ETCD_ERR_NET) {
        fleet_job_verify(*f, j, phase);
        fleet_keep_call_failed(*f, st, "write", err);
        return NULL;
    }
    return j;
}

static void fleet_on_job_seal(void *arg, enum etcd_status st, json_t *resp, const char *err)
{
    struct fleet *f;
    struct fleet_job *j = fleet_jobcall_take(arg, st, err, 5, &f);
    if (!j)
        return;
    if (st != ETCD_OK || !json_is_true(json_object_get(resp, "succeeded"))) {
        char msg[300];
        snprintf(msg, sizeof(msg),
                 "the record was created in etcd but could not be sealed (%s): it applies on no "
                 "node",
                 st != ETCD_OK ? (err ? err : "error") : "its key changed meanwhile");
        fleet_job_finish(f, j, SHARED_UNAVAILABLE, msg);
        return;
    }
    fleet_job_committed(
        f, j, etcd_json_int(json_object_get(json_object_get(resp, "header"), "revision"), 0));
}

/* Job j's record is in etcd, its key created at revision rev: it is put
 * again with "born": rev, signed, on the condition that nobody touched the
 * key since (fleet_life.c). Every node applies only the sealed record. */
static void fleet_job_seal(struct fleet *f, struct fleet_job *j, int64_t rev)
{
    char sub[64];
    snprintf(sub, sizeof(sub), "%s/", j->kind->name);
    char *key = fleet_key(f, sub, j->id, NULL);
    json_decref(j->sealed);
    j->sealed = fleet_life_seal(f, key, j->record, rev);
    char *text = json_dumps(j->sealed, JSON_COMPACT);
    json_t *put = json_pack("{s:o, s:o}", "key", fleet_b64s(key), "value", fleet_b64s(text));
    if (j->lease)
        json_object_set_new(put, "lease", json_integer(j->lease));
    json_t *txn =
        json_pack("{s:[{s:o, s:s, s:I, s:s}, {s:o, s:s, s:I, s:s}], s:[{s:o}]}", "compare", "key",
                  fleet_b64s(key), "target", "CREATE", "create_revision", (json_int_t)rev, "result",
                  "EQUAL", "key", fleet_b64s(key), "target", "MOD", "mod_revision", (json_int_t)rev,
                  "result", "EQUAL", "success", "request_put", put);
    free(text);
    free(key);
    struct fleet_jobcall *c = calloc(1, sizeof(*c));
    if (!c)
        abort();
    *c = (struct fleet_jobcall){.f = f, .job = j};
    pthread_mutex_lock(&f->lock);
    j->phase = 5;
    pthread_mutex_unlock(&f->lock);
    etcd_call(f->etcd, "/v3/kv/txn", txn, fleet_on_job_seal, c);
}

/* The reply to fleet_job_verify's read of the record's key. */
static void fleet_on_job_verify(void *arg, enum etcd_status st, json_t *resp, const char *err)
{
    struct fleet_jobcall *c = arg;
    struct fleet *f = c->f;
    struct fleet_job *j = c->job;
    free(c);
    if (st == ETCD_ERR_CANCELLED)
        return; /* stop: fleet_store_fail_all answered (and may have freed) j */
    if (st != ETCD_OK) {
        fleet_job_finish(f, j, SHARED_UNKNOWN,
                         "etcd did not confirm the change and could not be asked whether it was "
                         "made: check the list again");
        return;
    }
    json_t *kv = json_array_get(json_object_get(resp, "kvs"), 0);
    if (j->op == FLEET_JOB_REMOVE) { /* gone: by this call or another, either way removed */
        if (kv && !j->retried) {
            /* The delete may still be pending in etcd's log and commit
             * later: sent once more, its outcome is then known. */
            j->retried = true;
            fleet_job_remove_txn(f, j);
        } else if (kv)
            fleet_job_finish(f, j, SHARED_UNAVAILABLE,
                             "etcd did not confirm the deletion, twice, and a read after it "
                             "shows the record is still there");
        else
            fleet_job_committed(
                f, j,
                etcd_json_int(json_object_get(json_object_get(resp, "header"), "revision"), 0));
        return;
    }
    size_t len;
    const char *vb = json_string_value(json_object_get(kv, "value"));
    char *text = vb ? etcd_unb64(vb, &len) : NULL;
    json_t *v = text ? json_loads(text, 0, NULL) : NULL;
    free(text);
    bool ours = v && json_equal(v, j->record), sealed = v && j->sealed && json_equal(v, j->sealed);
    json_decref(v);
    if (sealed) /* the seal's reply was lost */
        fleet_job_committed(f, j, etcd_json_int(json_object_get(kv, "mod_revision"), 0));
    else if (j->phase == 5)
        fleet_job_finish(f, j, SHARED_UNKNOWN,
                         "the record was created in etcd, and etcd did not confirm its seal: it "
                         "applies on no node unless the seal was made; check the list again");
    else if (ours) /* a lost reply, or a retry on another URL that found it done */
        fleet_job_seal(f, j, etcd_json_int(json_object_get(kv, "create_revision"), 0));
    else if (j->phase == 3)
        fleet_job_finish(f, j, SHARED_CONFLICT,
                         "another node changed the shared records meanwhile");
    else
        fleet_job_finish(f, j, SHARED_UNAVAILABLE,
                         "etcd did not confirm the change, and a read after it shows it was "
                         "not made; nothing was applied");
}

/* A change whose outcome the txn's reply does not tell (no reply; or, for
 * a create, a failed compare, which the client's own retry of a committed
 * txn on another URL also gets): the record's key is read (linearizable)
 * and the job answered from what it holds. phase 3: after a failed
 * compare. */
static void fleet_job_verify(struct fleet *f, struct fleet_job *j, int phase)
{
    char sub[64];
    snprintf(sub, sizeof(sub), "%s/", j->kind->name);
    char *key = fleet_key(f, sub, j->id, NULL);
    json_t *b = json_pack("{s:o}", "key", fleet_b64s(key));
    free(key);
    struct fleet_jobcall *c = calloc(1, sizeof(*c));
    if (!c)
        abort();
    *c = (struct fleet_jobcall){.f = f, .job = j};
    pthread_mutex_lock(&f->lock);
    j->phase = phase;
    pthread_mutex_unlock(&f->lock);
    etcd_call(f->etcd, "/v3/kv/range", b, fleet_on_job_verify, c);
}

static void fleet_on_job_txn(void *arg, enum etcd_status st, json_t *resp, const char *err)
{
    struct fleet *f;
    struct fleet_job *j = fleet_jobcall_take(arg, st, err, 1, &f);
    if (!j)
        return;
    if (st != ETCD_OK) {
        char msg[300];
        snprintf(msg, sizeof(msg), "etcd did not confirm the change (%s); nothing was applied",
                 err ? err : "error");
        fleet_job_finish(f, j, SHARED_UNAVAILABLE, msg);
        return;
    }
    int64_t rev = etcd_json_int(json_object_get(json_object_get(resp, "header"), "revision"), 0);
    if (!json_is_true(json_object_get(resp, "succeeded"))) {
        /* A remove whose key is gone: this node's view held the record
         * when the job was made (fleet_store_remove's caller checked), so
         * either another node removed it meanwhile or the client's retry
         * on another member found this very delete done (its first
         * member timed out after committing it). Either way it is gone,
         * as asked: answered like a delete, once the watch has it. */
        if (j->op == FLEET_JOB_REMOVE)
            fleet_job_committed(f, j, rev);
        else
            fleet_job_verify(f, j, 3);
        return;
    }
    if (j->op == FLEET_JOB_CREATE)
        fleet_job_seal(f, j, rev); /* the record's key was created at rev */
    else
        fleet_job_committed(f, j, rev);
}

static void fleet_job_create_txn(struct fleet *f, struct fleet_job *j)
{
    struct fleet_kind *k = j->kind;
    if (k->seq_val < 0) {
        fleet_job_finish(f, j, SHARED_UNAVAILABLE,
                         "etcd's id counter for these records is not one gtmd wrote: nothing "
                         "was applied (see the log, event=fleet_rejected)");
        return;
    }
    char num[32];
    snprintf(num, sizeof(num), "%lld", (long long)(k->seq_val + 1));
    snprintf(j->id, sizeof(j->id), "%s-%lld", k->id_prefix, (long long)(k->seq_val + 1));
    json_object_set_new(j->record, "id", json_string(j->id));
    json_object_set_new(j->record, "node", json_string(f->p.node));
    json_object_set_new(j->record, FLEET_LIFE_FORMAT, json_integer(fleet_compat_write_format(f)));
    char *seq = fleet_key(f, "seq/", k->name, NULL);
    char sub[64];
    snprintf(sub, sizeof(sub), "%s/", k->name);
    char *key = fleet_key(f, sub, j->id, NULL);
    fleet_sign(&f->p.keys, key, j->record);
    char *text = json_dumps(j->record, JSON_COMPACT);
    json_t *put = json_pack("{s:o, s:o}", "key", fleet_b64s(key), "value", fleet_b64s(text));
    if (j->lease)
        json_object_set_new(put, "lease", json_integer(j->lease));
    /* The record's key must not exist: a counter set back (it is a plain
     * number anyone can write) must not make this write replace a live
     * record. */
    json_t *txn = json_pack(
        "{s:[{s:o, s:s, s:I, s:s}, {s:o, s:s, s:I, s:s}], s:[{s:{s:o, s:o}}, {s:o}]}", "compare",
        "key", fleet_b64s(seq), "target", "MOD", "mod_revision", (json_int_t)k->seq_mod, "result",
        "EQUAL", "key", fleet_b64s(key), "target", "CREATE", "create_revision", (json_int_t)0,
        "result", "EQUAL", "success", "request_put", "key", fleet_b64s(seq), "value",
        fleet_b64s(num), "request_put", put);
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
    if (st == ETCD_ERR_CANCELLED)
        return; /* stop: fleet_store_fail_all answered (and may have freed) j */
    pthread_mutex_lock(&f->lock);
    bool gone = j->w.abandoned; /* answered "nothing was sent" at its deadline */
    if (!gone)
        j->phase = 1;
    pthread_mutex_unlock(&f->lock);
    if (gone) {
        fleet_job_finish(f, j, SHARED_UNAVAILABLE, NULL); /* frees it; the lease expires */
        return;
    }
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
    json_t *txn =
        json_pack("{s:[{s:o, s:s, s:I, s:s}], s:[{s:{s:o}}]}", "compare", "key", fleet_b64s(key),
                  "target", "CREATE", "create_revision", (json_int_t)0, "result", "GREATER",
                  "success", "request_delete_range", "key", fleet_b64s(key));
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
    /* Not "degraded": that is about the view's age. A write only needs
     * etcd to answer, and the transaction's compare protects it from a
     * stale view; so any quorum reply since the sync lets writes through. */
    double quiet = deadline_mono() - f->last_quorum;
    if (f->conn != FLEET_CONN_SYNCED || quiet > FLEET_BEAT_S + f->p.etcd.timeout_s) {
        /* Without a quorum reply for longer than a heartbeat and a call's
         * timeout, the write would only wait for etcd to fail it. */
        char msg[200];
        snprintf(msg, sizeof(msg),
                 "etcd is unreachable (no quorum reply for %.1f s); nothing was changed",
                 deadline_mono() - f->last_quorum);
        fleet_job_finish(f, j, SHARED_UNAVAILABLE, msg);
        return;
    }
    if (f->kept_since > 0) {
        /* Calls are failing on every member while the session is kept
         * (fleet_session.h): a write sent now would most likely end with
         * its outcome unknown. Refused before anything is sent. */
        char msg[200];
        snprintf(msg, sizeof(msg),
                 "etcd calls have failed on every member for %.1f s (the session is kept while "
                 "they are retried); nothing was changed",
                 deadline_mono() - f->kept_since);
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
    pthread_mutex_lock(&f->lock);
    j->phase = 4; /* nothing written yet */
    pthread_mutex_unlock(&f->lock);
    etcd_call(f->etcd, "/v3/lease/grant", json_pack("{s:I}", "TTL", (json_int_t)ceil(j->ttl_s)),
              fleet_on_job_lease, c);
}

void fleet_store_run_jobs(struct fleet *f)
{
    for (;;) {
        struct fleet_job *start = NULL;
        pthread_mutex_lock(&f->lock);
        double now = deadline_mono();
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

/* Deletes record r of kind k when its key still holds what this node saw
 * (a transaction on its mod revision: with several nodes, one wins). */
static void fleet_store_delete_rec(struct fleet *f, struct fleet_kind *k, struct fleet_rec *r)
{
    r->deleting = true;
    char sub[64];
    snprintf(sub, sizeof(sub), "%s/", k->name);
    char *key = fleet_key(f, sub, r->id, NULL);
    json_t *txn =
        json_pack("{s:[{s:o, s:s, s:I, s:s}], s:[{s:{s:o}}]}", "compare", "key", fleet_b64s(key),
                  "target", "MOD", "mod_revision", (json_int_t)r->mod_rev, "result", "EQUAL",
                  "success", "request_delete_range", "key", fleet_b64s(key));
    free(key);
    struct fleet_jobcall *c = calloc(1, sizeof(*c));
    if (!c)
        abort();
    *c = (struct fleet_jobcall){.f = f};
    etcd_call(f->etcd, "/v3/kv/txn", txn, fleet_on_expire_txn, c);
}

void fleet_store_expire(struct fleet *f)
{
    if (f->conn != FLEET_CONN_SYNCED)
        return;
    /* No record is deleted by this node's clock: one running an hour ahead
     * would delete every peer's record as it is made. Expiry is etcd's (the
     * record's lease); only drills this node ended itself are deleted. */
    /* Drills this node ended itself: end them on every node. */
    pthread_mutex_lock(&f->lock);
    size_t n = f->n_ended;
    char(*ids)[32] = n ? malloc(n * sizeof(*ids)) : NULL;
    if (n && !ids)
        abort();
    if (n)
        memcpy(ids, f->ended, n * sizeof(*ids));
    f->n_ended = 0;
    pthread_mutex_unlock(&f->lock);
    struct fleet_kind *dk = fleet_store_kind(f, "drills");
    for (size_t i = 0; dk && i < n; i++)
        for (struct fleet_rec *r = dk->recs; r; r = r->next)
            if (strcmp(r->id, ids[i]) == 0 && !r->deleting)
                fleet_store_delete_rec(f, dk, r);
    free(ids);
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

/* What the caller is told when the deadline comes before the job is done
 * (caller holds f->lock): the truth of its phase. The job is unlinked and
 * freed when it never went to etcd, else left to the fleet thread. */
static enum shared_status fleet_store_timeout_locked(struct fleet *f, struct fleet_job *j,
                                                     char *err, size_t errlen)
{
    if (j->phase == 0 || j->phase == 4) {
        /* Queued, or waiting for a lease: no write was sent (the lease's
         * reply, when it comes, sends none: fleet_on_job_lease). */
        if (j->phase == 0) {
            struct fleet_job **pp = &f->jobs;
            while (*pp && *pp != j)
                pp = &(*pp)->next;
            if (*pp)
                *pp = j->next;
            fleet_job_free_record(j);
            free(j);
        } else
            j->w.abandoned = true;
        snprintf(err, errlen,
                 "etcd did not answer within the write deadline; nothing was sent, nothing "
                 "was applied");
        return SHARED_UNAVAILABLE;
    }
    bool committed = j->phase == 2;
    if (committed && j->id[0] == '\0')
        committed = false;
    char id[32];
    snprintf(id, sizeof(id), "%s", j->id);
    j->w.abandoned = true; /* the fleet thread frees it */
    if (committed) {
        snprintf(err, errlen, "%s", id);
        return SHARED_OK; /* in etcd; this node's watch applies it shortly */
    }
    snprintf(err, errlen,
             "etcd did not answer within the write deadline; the change may or may not have "
             "been made: check the list again");
    return SHARED_UNKNOWN;
}

/* Queues j and waits for it until deadline (CLOCK_MONOTONIC); returns its
 * result (the job is freed here, or by the fleet thread when abandoned). */
static enum shared_status fleet_store_wait(struct fleet *f, struct fleet_job *j, double deadline,
                                           char id[32], char *err, size_t errlen)
{
    double left = deadline - deadline_mono();
    if (left <= 0) {
        fleet_job_free_record(j);
        free(j);
        snprintf(err, errlen, "the write deadline passed before it was sent; nothing was applied");
        return SHARED_UNAVAILABLE;
    }
    pthread_mutex_lock(&f->lock);
    j->next = NULL;
    struct fleet_job **pp = &f->jobs;
    while (*pp)
        pp = &(*pp)->next;
    *pp = j;
    fleet_wait_locked(f, &j->w, deadline);
    if (!j->w.done) {
        char done_id[32] = "";
        if (j->phase == 2 && id)
            snprintf(done_id, sizeof(done_id), "%s", j->id);
        enum shared_status st = fleet_store_timeout_locked(f, j, err, errlen);
        pthread_mutex_unlock(&f->lock);
        if (st == SHARED_OK && id) {
            snprintf(id, 32, "%s", done_id);
            err[0] = '\0';
        }
        return st;
    }
    pthread_mutex_unlock(&f->lock);
    enum shared_status st = j->w.result;
    if (id)
        snprintf(id, 32, "%s", j->id);
    snprintf(err, errlen, "%s", j->w.err);
    fleet_job_free_record(j);
    free(j);
    return st;
}

static enum shared_status fleet_store_create(void *arg, const char *kind, json_t *record,
                                             double ttl_s, uint64_t view, double deadline,
                                             char id[32], char *err, size_t errlen)
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
        fleet_job_free_record(j);
        free(j);
        snprintf(err, errlen, "no shared kind %s", kind);
        return SHARED_UNAVAILABLE;
    }
    return fleet_store_wait(f, j, deadline, id, err, errlen);
}

static enum shared_status fleet_store_remove(void *arg, const char *kind, const char *id,
                                             double deadline, char *err, size_t errlen)
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
    return fleet_store_wait(f, j, deadline, NULL, err, errlen);
}

static const struct shared_store_ops fleet_store_ops = {
    .view = fleet_store_view, .create = fleet_store_create, .remove = fleet_store_remove};

int fleet_store_init(struct fleet *f, struct drill_core *drills)
{
    f->kinds[0] = (struct fleet_kind){.name = "overrides",
                                      .id_prefix = "ovr",
                                      .expires_key = "expires",
                                      .put = fleet_ovr_put,
                                      .del = fleet_ovr_del,
                                      .resync = fleet_ovr_resync};
    f->n_kinds = 1;
    f->drills = drills;
    if (drills) {
        f->kinds[1] = (struct fleet_kind){.name = "drills",
                                          .id_prefix = "drl",
                                          .expires_key = "ends",
                                          .put = fleet_drill_put,
                                          .del = fleet_drill_del,
                                          .resync = fleet_drill_resync};
        f->n_kinds = 2;
        struct drill_hooks h = {.ended = fleet_drill_ended, .arg = f};
        if (drill_core_add_hooks(drills, &h) != 0)
            return -1;
    }
    f->store = (struct shared_store){.ops = &fleet_store_ops, .arg = f, .node = f->p.node};
    return 0;
}

void fleet_store_stop(struct fleet *f)
{
    if (f->drills)
        drill_core_remove_hooks(f->drills, f);
}

void fleet_store_free(struct fleet *f)
{
    for (size_t i = 0; i < f->n_kinds; i++)
        fleet_store_free_recs(&f->kinds[i]);
    free(f->ended);
}

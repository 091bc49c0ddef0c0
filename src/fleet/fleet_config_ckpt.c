/*
 * fleet_config_ckpt.c -- a whole configuration document written behind a
 * version that went to etcd as a delta (fleet_config.c).
 *
 * A node that has no version (a new one) or missed more than the chain
 * reads the newest whole version (head's "full") and the deltas after it,
 * so every version from it on stays in etcd, and once the chain is `keep`
 * long a change was written whole: at 100,000 records 15 MB of parts put
 * before the version, on that change's path (1.5-2.7 s from the call to
 * every node serving it, against some 0.5 s for a delta).
 *
 * For a document that needs parts (fleet_config_parts.c), a version whose
 * chain is half of `keep` long goes as a delta like any other, and once
 * it is in etcd its whole document is written behind it: the parts, then
 * the version's key again, the same record with "parts" (or "doc") beside
 * its delta, in a transaction that holds only while the key is still the
 * one the change wrote (its mod revision): a version pruned or replaced
 * meanwhile is left alone, and the parts are dropped. Then head names it
 * as "full" if head has not moved; else the next version this node
 * publishes does (fleet_config_full_locked). The pruning moves with it.
 * A node that reads such a version builds it from its delta when it has
 * the one before, and from the document otherwise
 * (fleet_config_skip_parts).
 *
 * A node of the release before reads "doc" or "parts" as it did. One
 * checkpoint at a time per node; runs on the fleet thread. Ownership: the
 * call holds its copy of the record until it ends.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "common/log.h"
#include "fleet/fleet_int.h"

struct fleet_ckpt {
    struct fleet *f;
    json_t *record; /* the version's record with its document (owned) */
    uint64_t version;
    int64_t rev; /* the revision the change wrote the version at */
};

bool fleet_config_ckpt_due_locked(const struct fleet *f, uint64_t v, unsigned keep)
{
    uint64_t full = fleet_config_full_locked(f);
    return f->cfg.big && !f->cfg.ck_busy && full && v > full && v - full >= (keep + 1) / 2;
}

uint64_t fleet_config_full_locked(const struct fleet *f)
{
    return f->cfg.ck_done > f->cfg.full && f->cfg.ck_done <= f->cfg.head ? f->cfg.ck_done
                                                                         : f->cfg.full;
}

static void fleet_ckpt_on_head(void *arg, enum etcd_status st, json_t *resp, const char *err)
{
    (void)err;
    /* Not written: head moved meanwhile, and the next version this node
     * publishes names the whole version instead. */
    if (st == ETCD_OK && json_is_true(json_object_get(resp, "succeeded")))
        log_info("event=fleet_config_checkpoint version=%llu result=named",
                 (unsigned long long)(uintptr_t)arg);
}

/* Head names the whole version at once, so that every node publishing
 * next builds on it, when head has not moved since this node saw it (one
 * try). */
static void fleet_ckpt_name(struct fleet *f, uint64_t v)
{
    pthread_mutex_lock(&f->lock);
    uint64_t head = f->cfg.head;
    int64_t head_rev = f->cfg.head_rev;
    bool newer = v > f->cfg.full && v <= head;
    pthread_mutex_unlock(&f->lock);
    if (!newer || !head_rev)
        return;
    char *hkey = fleet_key(f, "config/head", NULL, NULL);
    json_t *txn =
        json_pack("{s:[{s:o, s:s, s:I, s:s}], s:[o]}", "compare", "key", fleet_b64s(hkey), "target",
                  "MOD", "mod_revision", (json_int_t)head_rev, "result", "EQUAL", "success",
                  fleet_config_put_op(f, hkey,
                                      json_pack("{s:I, s:s, s:I}", "version", (json_int_t)head,
                                                "node", f->p.node, "full", (json_int_t)v)));
    free(hkey);
    etcd_call(f->etcd, "/v3/kv/txn", txn, fleet_ckpt_on_head, (void *)(uintptr_t)v);
}

/* The checkpoint ends (written or not). */
static void fleet_ckpt_end(struct fleet_ckpt *c, bool written, const char *why)
{
    struct fleet *f = c->f;
    pthread_mutex_lock(&f->lock);
    if (f->cfg.ck_busy == c->version)
        f->cfg.ck_busy = 0;
    if (written && c->version > f->cfg.ck_done)
        f->cfg.ck_done = c->version;
    pthread_mutex_unlock(&f->lock);
    if (written) {
        log_info("event=fleet_config_checkpoint version=%llu result=written",
                 (unsigned long long)c->version);
        fleet_ckpt_name(f, c->version);
    } else
        log_warn("event=fleet_config_checkpoint version=%llu result=not_written why=\"%s\"",
                 (unsigned long long)c->version, why ? why : "");
    json_decref(c->record);
    free(c);
}

static void fleet_ckpt_on_txn(void *arg, enum etcd_status st, json_t *resp, const char *err)
{
    struct fleet_ckpt *c = arg;
    if (st == ETCD_ERR_CANCELLED) { /* the fleet is being freed */
        json_decref(c->record);
        free(c);
        return;
    }
    bool ok = st == ETCD_OK && json_is_true(json_object_get(resp, "succeeded"));
    if (!ok && st != ETCD_ERR_NET) /* not written: its parts are not needed */
        fleet_config_parts_drop(c->f, c->record);
    if (ok) {
        pthread_mutex_lock(&c->f->lock);
        c->f->writes++;
        c->f->keys_written++;
        pthread_mutex_unlock(&c->f->lock);
    }
    fleet_ckpt_end(c, ok,
                   st == ETCD_OK ? "the version was pruned or replaced meanwhile"
                                 : (err ? err : "etcd"));
}

/* The parts are in etcd (or the document is short): the version again. */
static void fleet_ckpt_on_parts(void *arg, bool ok, const char *err)
{
    struct fleet_ckpt *c = arg;
    struct fleet *f = c->f;
    if (!ok) {
        fleet_ckpt_end(c, false, err);
        return;
    }
    char *vkey = fleet_config_vkey(f, c->version);
    json_t *txn = json_pack("{s:[{s:o, s:s, s:I, s:s}], s:[o]}", "compare", "key", fleet_b64s(vkey),
                            "target", "MOD", "mod_revision", (json_int_t)c->rev, "result", "EQUAL",
                            "success", fleet_config_put_op(f, vkey, json_copy(c->record)));
    free(vkey);
    etcd_call(f->etcd, "/v3/kv/txn", txn, fleet_ckpt_on_txn, c);
}

void fleet_config_ckpt_start(struct fleet *f, json_t *record, json_t *doc, uint64_t v, int64_t rev)
{
    struct fleet_ckpt *c = calloc(1, sizeof(*c));
    if (!c)
        abort();
    *c = (struct fleet_ckpt){.f = f, .record = json_copy(record), .version = v, .rev = rev};
    json_object_set_new(c->record, "doc", doc);
    json_object_del(c->record, "sig");
    fleet_config_parts_put(f, c->record, v, fleet_ckpt_on_parts, c);
}

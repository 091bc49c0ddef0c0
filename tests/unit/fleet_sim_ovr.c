/*
 * fleet_sim_ovr.c -- overrides in the fleet simulator (fleet_sim_int.h) and
 * invariant I3 (issue #54): an acknowledged override is served within
 * SIM_BOUND_MS by every node that reaches etcd, and is never lost.
 *
 * A client makes and deletes overrides through the nodes' API, one call at
 * a time. A create is what fleet_store.c does: a transaction that puts the
 * record unsealed (its key gets create revision R), then the seal: a put of
 * the record with "born": R, on the condition that the key is still the
 * one created at R (fleet_life.c). A delete deletes the key. Each write
 * goes through the modelled etcd (fleet_sim.c: link delays, cuts, writes
 * failing during an election, commits held by an fsync stall); a failed or
 * timed-out call is retried by the client. The call is acknowledged once
 * the node's own watch has applied its last revision (fleet_store.c).
 *
 * Each node applies what its watch delivers and what a fresh read (after a
 * resync) finds with the product's code: fleet_life_record decides whether
 * the record is the one its key was created for (refused, or not sealed
 * yet: absent), fleet_compat_drop_unknown and fleet_life_strip clean it, and
 * the node's own health core (health/override.c) holds what it serves:
 * override_upsert_json, override_remove_why, and after a fresh read
 * override_remove_not_in_json (as fleet_ovr_resync). A watch event of a
 * revision the node has applied already is skipped, as a watch started
 * after a fresh read starts past that read's revision.
 *
 * I3 is checked two ways. Timely: SIM_BOUND_MS after each acknowledgement
 * (plus the node's CPU starvation after it), every node not cut from etcd
 * meanwhile serves the override (made) or no longer serves it (deleted).
 * Never lost: after every apply, a node serves exactly the overrides etcd
 * held live at the revision it applied last (sealed and not deleted); an
 * override deleted that comes back, or a live one that goes, is a
 * violation whenever it happens.
 *
 * The classes: override (calls during another class's fault), override_cut
 * (the node a call went through is cut from etcd right after the ack) and
 * replay (forced resyncs and restarts while overrides change, and each deleted
 * override's old sealed value put back at its key, as issue #37's
 * attacker did; fleet_life_record refuses it unless SIM_REVERT_REPLAY
 * takes that check back).
 *
 * All state lives in struct sim_ovr, allocated by sim_ovr_start and freed
 * (health cores included) by sim_ovr_free.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fleet/fleet_compat.h"
#include "fleet_sim_int.h"
#include "health/override.h"

#define SIM_OPS_MAX 256
#define SIM_CALLS_MAX 64
#define SIM_IDS_MAX 64
#define SIM_CALL_TRIES 8
#define SIM_CLIENT_END_MS 7000 /* no new call after: each ack has time to be checked */

enum sim_op_kind { OP_CREATE, OP_SEAL, OP_DELETE, OP_PUT_BACK };

/* One write of an override to etcd. */
struct sim_op {
    uint8_t kind;
    int id;         /* ovr-ID */
    int call;       /* the client's call (-1: the put back) */
    int64_t born;   /* OP_SEAL, OP_PUT_BACK: the value's "born" */
    int64_t rev;    /* committed at (0: not yet, or never) */
    bool cond_fail; /* OP_SEAL: the key was not the one created at born */
};

enum sim_call_what { CALL_CREATE, CALL_DELETE };

/* One API call of the client, and its acknowledgement. */
struct sim_call {
    uint8_t what, node;
    int id;
    int tries;
    int64_t started, wait_rev, acked; /* acked 0: not (yet) */
    bool over;                        /* acknowledged or given up */
};

/* What etcd holds at an override's key at one revision. */
struct sim_key {
    bool present, sealed;
    int64_t create_rev, born;
};

enum {
    ACT_CLIENT = 0, /* the client's next call */
    ACT_RETRY,      /* w: the call, tried again */
    ACT_TIMEOUT,    /* w: the call's deadline */
    ACT_PUT_BACK,   /* w: the id whose old value is put back */
    ACT_RESYNC,     /* w: the node made to resync */
    ACT_RESTART,    /* w: the node restarted (state file, then a fresh read) */
    ACT_CHECK       /* arg - ACT_CHECK: the node; w: the call checked */
};

struct sim_ovr {
    struct fleet fl; /* for fleet_life_record: members on, nothing else read */
    struct health_core core[SIM_N_MAX];
    int64_t applied[SIM_N_MAX]; /* the last revision applied (watch or read) */
    struct sim_op op[SIM_OPS_MAX];
    size_t nop;
    struct sim_call call[SIM_CALLS_MAX];
    size_t ncall;
    int next_id; /* the counter: ids 1..next_id-1 handed out */
    int64_t seal_rev[SIM_IDS_MAX], del_rev[SIM_IDS_MAX], create_rev[SIM_IDS_MAX];
    bool cut_done;                      /* override_cut: the cut after the first ack is planned */
    bool wrong[SIM_N_MAX][SIM_IDS_MAX]; /* reported already, until it is right again */
    /* replay: each node's state file, as it was before its last change
     * (the save of that change lost in the crash); owned here. */
    json_t *saved[SIM_N_MAX];
    bool starting[SIM_N_MAX]; /* restarted, not read etcd yet: no watch */
};

/* ---- etcd's side ---------------------------------------------------------- */

/* The key of id at revision rev (the ops committed up to it, in order). */
static struct sim_key sim_ovr_key_at(const struct sim_ovr *o, int id, int64_t rev)
{
    struct sim_key k = {0};
    int64_t last = 0;
    for (;;) { /* the committed ops of id, by revision */
        const struct sim_op *next = NULL;
        for (size_t i = 0; i < o->nop; i++) {
            const struct sim_op *p = &o->op[i];
            if (p->id == id && p->rev > last && p->rev <= rev && !p->cond_fail &&
                (!next || p->rev < next->rev))
                next = p;
        }
        if (!next)
            return k;
        last = next->rev;
        if (next->kind == OP_DELETE)
            k = (struct sim_key){0};
        else if (next->kind == OP_CREATE)
            k = (struct sim_key){.present = true, .create_rev = next->rev};
        else
            k = (struct sim_key){.present = true,
                                 .sealed = true,
                                 .create_rev = k.present ? k.create_rev : next->rev,
                                 .born = next->born};
    }
}

/* Whether etcd held ovr-id live at revision rev: sealed by its writer and
 * not deleted since (a value put back makes nothing live). */
static bool sim_ovr_live_at(const struct sim_ovr *o, int id, int64_t rev)
{
    return o->seal_rev[id] && o->seal_rev[id] <= rev && !(o->del_rev[id] && o->del_rev[id] <= rev);
}

/* The record's value as its writer signed it (json: a new reference). */
static json_t *sim_ovr_value(int id, const struct sim_key *k)
{
    char idb[32];
    snprintf(idb, sizeof(idb), "ovr-%d", id);
    json_t *v = json_pack("{s:s, s:s, s:s, s:s, s:s, s:f, s:s, s:i}", "id", idb, "target",
                          id % 2 ? "region:eu" : "region:us", "state", "down", "reason",
                          "simulated", "author", "sim", "created", SIM_EPOCH + id, "node", "sim",
                          FLEET_FORMAT_KEY, FLEET_FORMAT_CUR);
    if (!v)
        abort();
    if (k->sealed)
        json_object_set_new(v, FLEET_LIFE_BORN, json_integer((json_int_t)k->born));
    return v;
}

void sim_ovr_committed(struct sim *s, int32_t wi)
{
    struct sim_ovr *o = s->ovr;
    struct sim_op *p = &o->op[s->w[wi].ovr];
    p->rev = s->w[wi].rev;
    if (p->kind == OP_SEAL) {
        struct sim_key k = sim_ovr_key_at(o, p->id, p->rev - 1);
        p->cond_fail = !k.present || k.sealed || k.create_rev != p->born;
        if (!p->cond_fail)
            o->seal_rev[p->id] = p->rev;
    } else if (p->kind == OP_CREATE)
        o->create_rev[p->id] = p->rev;
    else if (p->kind == OP_DELETE && !o->del_rev[p->id] &&
             sim_ovr_key_at(o, p->id, p->rev - 1).present)
        o->del_rev[p->id] = p->rev; /* only the first delete of what was there */
    sim_log(s, SIM_ETCD, "commits %s of ovr-%d at revision %lld%s",
            p->kind == OP_CREATE   ? "create"
            : p->kind == OP_SEAL   ? "seal"
            : p->kind == OP_DELETE ? "delete"
                                   : "a put back of the old value",
            p->id, (long long)p->rev, p->cond_fail ? " (condition fails: nothing put)" : "");
}

/* ---- the node's side: the product's apply path ----------------------------- */

static bool sim_ovr_serves(struct sim_ovr *o, unsigned n, int id)
{
    char idb[32];
    snprintf(idb, sizeof(idb), "ovr-%d", id);
    for (const struct override *x = o->core[n].overrides; x; x = x->next)
        if (strcmp(x->id, idb) == 0)
            return true;
    return false;
}

/* Whether node n applies the value of key k (fleet_dispatch_record): the
 * record its key was created for, sealed. v is borrowed. */
static bool sim_ovr_accepts(struct sim *s, json_t *v, const struct sim_key *k)
{
    bool pending = false;
    char why[300];
    /* The fix of issue #37 taken back: the node does not bind the record to
     * its key's life (it checks the record against its own "born"). */
    int64_t create_rev = s->revert == SIM_REVERT_REPLAY && k->sealed ? k->born : k->create_rev;
    enum fleet_verdict vd =
        fleet_life_record(&s->ovr->fl, v, create_rev, &pending, why, sizeof(why));
    return vd == FLEET_SIG_OK && !pending;
}

static double sim_ovr_now(const struct sim *s)
{
    return SIM_EPOCH + (double)s->now / 1000.0 + 1.0;
}

/* Node n applies key id as k (absent: deleted). */
static void sim_ovr_apply(struct sim *s, unsigned n, int id, const struct sim_key *k)
{
    struct sim_ovr *o = s->ovr;
    char idb[32];
    snprintf(idb, sizeof(idb), "ovr-%d", id);
    if (s->cls == SIM_REPLAY) {
        json_decref(o->saved[n]);
        o->saved[n] = override_list_json(&o->core[n]);
    }
    json_t *v = k->present ? sim_ovr_value(id, k) : NULL;
    if (v && sim_ovr_accepts(s, v, k)) {
        fleet_compat_drop_unknown("overrides", v);
        fleet_life_strip(v);
        override_upsert_json(&o->core[n], v, sim_ovr_now(s));
    } else
        override_remove_why(&o->core[n], idb, "removed_in_fleet");
    json_decref(v);
}

static void sim_ovr_try_ack(struct sim *s, unsigned n);

/* Never lost: n serves exactly what etcd held live at the revision it
 * applied last. */
static void sim_ovr_check_state(struct sim *s, unsigned n)
{
    struct sim_ovr *o = s->ovr;
    if (o->starting[n])
        return; /* serves its state file until it has read etcd */
    for (int id = 1; id < o->next_id; id++) {
        bool has = sim_ovr_serves(o, n, id), want = sim_ovr_live_at(o, id, o->applied[n]);
        bool was = o->wrong[n][id];
        o->wrong[n][id] = has != want;
        if (has == want || was)
            continue;
        if (has)
            sim_violation(s, SIM_I3, "n%u serves ovr-%d, deleted at revision %lld (applied: %lld)",
                          n, id, (long long)o->del_rev[id], (long long)o->applied[n]);
        else
            sim_violation(s, SIM_I3, "n%u lost ovr-%d, live since revision %lld (applied: %lld)", n,
                          id, (long long)o->seal_rev[id], (long long)o->applied[n]);
    }
}

void sim_ovr_deliver(struct sim *s, unsigned n, int32_t wi)
{
    struct sim_ovr *o = s->ovr;
    const struct sim_write *w = &s->w[wi];
    const struct sim_op *p = &o->op[w->ovr];
    if (w->rev <= o->applied[n] || o->starting[n])
        return; /* a fresh read covered it (the watch starts past the read), or none yet */
    o->applied[n] = w->rev;
    if (!p->cond_fail) {
        struct sim_key k = sim_ovr_key_at(o, p->id, w->rev);
        sim_ovr_apply(s, n, p->id, &k);
    }
    sim_ovr_check_state(s, n);
    sim_ovr_try_ack(s, n);
}

void sim_ovr_read(struct sim *s, unsigned n)
{
    struct sim_ovr *o = s->ovr;
    /* The read's snapshot: etcd's revision as the answer left it. */
    int64_t at = s->now - s->nd[n].link, rev = 0;
    for (size_t i = 0; i < s->nw; i++)
        if (s->w[i].rev > rev && s->w[i].ct <= at)
            rev = s->w[i].rev;
    if (rev < o->applied[n])
        rev = o->applied[n]; /* linearizable: never behind what was applied */
    o->starting[n] = false;
    json_t *ids = json_array();
    for (int id = 1; id < o->next_id; id++) {
        struct sim_key k = sim_ovr_key_at(o, id, rev);
        json_t *v = k.present ? sim_ovr_value(id, &k) : NULL;
        if (v && sim_ovr_accepts(s, v, &k))
            json_array_append_new(
                ids, json_pack("{s:s}", "id", json_string_value(json_object_get(v, "id"))));
        json_decref(v);
    }
    override_remove_not_in_json(&o->core[n], ids); /* as fleet_ovr_resync */
    json_decref(ids);
    for (int id = 1; id < o->next_id; id++) {
        struct sim_key k = sim_ovr_key_at(o, id, rev);
        if (k.present)
            sim_ovr_apply(s, n, id, &k);
    }
    sim_log(s, (int)n, "fresh read of the overrides at revision %lld", (long long)rev);
    if (rev > o->applied[n])
        o->applied[n] = rev;
    sim_ovr_check_state(s, n);
    sim_ovr_try_ack(s, n);
}

/* ---- the client --------------------------------------------------------------- */

static void sim_ovr_send(struct sim *s, int c, uint8_t kind, int64_t born)
{
    struct sim_ovr *o = s->ovr;
    struct sim_call *cl = &o->call[c];
    if (o->nop >= SIM_OPS_MAX) {
        s->overflow = true;
        return;
    }
    int32_t wi = sim_send(s, cl->node, W_OVR);
    if (wi < 0)
        return;
    o->op[o->nop] = (struct sim_op){.kind = kind, .id = cl->id, .call = c, .born = born};
    s->w[wi].ovr = (int32_t)o->nop++;
}

/* A call (try) begins: a create takes the next id from the counter. */
static void sim_ovr_try(struct sim *s, int c)
{
    struct sim_ovr *o = s->ovr;
    struct sim_call *cl = &o->call[c];
    cl->tries++;
    cl->started = s->now;
    cl->wait_rev = 0;
    if (cl->what == CALL_CREATE) {
        if (o->next_id >= SIM_IDS_MAX) {
            cl->over = true;
            return;
        }
        cl->id = o->next_id++;
    }
    sim_log(s, cl->node, "API: %s ovr-%d (try %d)", cl->what == CALL_CREATE ? "make" : "delete",
            cl->id, cl->tries);
    sim_ovr_send(s, c, cl->what == CALL_CREATE ? OP_CREATE : OP_DELETE, 0);
    sim_push(s, s->now + SIM_TIMEOUT_MS + 500, EV_OVR, SIM_ETCD, c, ACT_TIMEOUT);
}

static void sim_ovr_next_call(struct sim *s, int64_t after)
{
    if (after < SIM_CLIENT_END_MS)
        sim_push(s, after, EV_OVR, SIM_ETCD, 0, ACT_CLIENT);
}

/* The call failed (an error, a failed condition, no answer in time). */
static void sim_ovr_failed(struct sim *s, int c, const char *why)
{
    struct sim_call *cl = &s->ovr->call[c];
    if (cl->over)
        return;
    sim_log(s, cl->node, "API: %s ovr-%d failed (%s)", cl->what == CALL_CREATE ? "make" : "delete",
            cl->id, why);
    if (cl->tries >= SIM_CALL_TRIES) {
        cl->over = true;
        sim_ovr_next_call(s, s->now + sim_range(s, 100, 600));
        return;
    }
    cl->wait_rev = -1; /* this try is over: its late replies count for nothing */
    sim_push(s, s->now + sim_range(s, 100, 400), EV_OVR, SIM_ETCD, c, ACT_RETRY);
}

void sim_ovr_reply(struct sim *s, unsigned n, int32_t wi, bool ok)
{
    struct sim_ovr *o = s->ovr;
    const struct sim_op *p = &o->op[s->w[wi].ovr];
    struct sim_call *cl = &o->call[p->call];
    bool current = !cl->over && cl->wait_rev == 0 && cl->node == n &&
                   (cl->what == CALL_DELETE || cl->id == p->id);
    if (!current)
        return;
    if (!ok) {
        sim_ovr_failed(s, p->call, "etcd's answer: an error, or none");
        return;
    }
    if (p->kind == OP_CREATE) {
        sim_ovr_send(s, p->call, OP_SEAL, s->w[wi].rev);
        return;
    }
    if (p->cond_fail) {
        sim_ovr_failed(s, p->call, "the seal's condition failed");
        return;
    }
    cl->wait_rev = s->w[wi].rev;
    sim_ovr_try_ack(s, n);
}

/* The timely half of I3, SIM_BOUND_MS after the ack (plus the node's CPU
 * starvation after it; a node cut from etcd meanwhile is not judged). */
static void sim_ovr_plan_checks(struct sim *s, int c)
{
    const struct sim_faults *fx = &s->fx;
    int64_t t = s->now;
    for (unsigned n = 0; n < s->n; n++) {
        int64_t dl = t + SIM_BOUND_MS;
        if (fx->starve_node == (int)n) {
            int64_t from = fx->starve.from > t ? fx->starve.from : t;
            dl += fx->starve.to > from ? fx->starve.to - from : 0;
        }
        sim_push(s, dl, EV_OVR, SIM_ETCD, c, ACT_CHECK + (int32_t)n);
    }
}

static void sim_ovr_acked(struct sim *s, int c)
{
    struct sim_ovr *o = s->ovr;
    struct sim_call *cl = &o->call[c];
    cl->acked = s->now;
    cl->over = true;
    sim_log(s, cl->node, "API: %s ovr-%d acknowledged",
            cl->what == CALL_CREATE ? "made" : "deleted", cl->id);
    sim_ovr_plan_checks(s, c);
    if (s->cls == SIM_OVERRIDE_CUT && !o->cut_done && cl->what == CALL_CREATE) {
        o->cut_done = true; /* the node it went through is cut right after */
        s->fx.cut_node = cl->node;
        s->fx.cut_up = s->fx.cut_down =
            (struct sim_win){s->now + 1, s->now + 1 + sim_range(s, 500, 3000)};
        s->fx.rewatch = s->fx.cut_down.to + sim_range(s, 100, 400);
        sim_log(s, SIM_ETCD, "n%u cut from etcd until %lld", cl->node,
                (long long)s->fx.cut_down.to);
    }
    if (s->cls == SIM_REPLAY && cl->what == CALL_DELETE)
        sim_push(s, s->now + sim_range(s, 50, 1500), EV_OVR, SIM_ETCD, cl->id, ACT_PUT_BACK);
    sim_ovr_next_call(s, s->now + sim_range(s, 100, 1200));
}

/* The call through n is acknowledged once n's watch applied its revision. */
static void sim_ovr_try_ack(struct sim *s, unsigned n)
{
    struct sim_ovr *o = s->ovr;
    for (size_t c = 0; c < o->ncall; c++) {
        struct sim_call *cl = &o->call[c];
        if (!cl->over && cl->node == n && cl->wait_rev > 0 && o->applied[n] >= cl->wait_rev)
            sim_ovr_acked(s, (int)c);
    }
}

/* The client's next call: delete a live override (half the time when
 * there is one), else make one; through a node drawn at random. */
static void sim_ovr_client(struct sim *s)
{
    struct sim_ovr *o = s->ovr;
    if (o->ncall >= SIM_CALLS_MAX)
        return;
    int live[SIM_IDS_MAX], k = 0;
    for (int id = 1; id < o->next_id; id++)
        if (sim_ovr_live_at(o, id, s->etcd_rev) && !o->del_rev[id])
            live[k++] = id;
    struct sim_call *cl = &o->call[o->ncall];
    *cl = (struct sim_call){.what = CALL_CREATE, .node = (uint8_t)sim_range(s, 0, s->n - 1)};
    if (k && sim_range(s, 0, 1)) {
        cl->what = CALL_DELETE;
        cl->id = live[sim_range(s, 0, k - 1)];
    }
    sim_ovr_try(s, (int)o->ncall++);
}

/* Issue #37's replay: the old sealed value of a deleted override put back
 * at its key by a writer of the prefix that is no node. */
static void sim_ovr_put_back(struct sim *s, int id)
{
    struct sim_ovr *o = s->ovr;
    if (o->nop >= SIM_OPS_MAX || !o->seal_rev[id]) {
        s->overflow = o->nop >= SIM_OPS_MAX;
        return;
    }
    int32_t wi = sim_write_new(s, 0, W_OVR_PUT);
    if (wi < 0)
        return;
    o->op[o->nop] =
        (struct sim_op){.kind = OP_PUT_BACK, .id = id, .call = -1, .born = o->create_rev[id]};
    s->w[wi].ovr = (int32_t)o->nop++;
    sim_log(s, SIM_ETCD, "ovr-%d's old value put back at its key", id);
    sim_commit(s, wi, s->now);
}

static void sim_ovr_check(struct sim *s, int c, unsigned n)
{
    struct sim_ovr *o = s->ovr;
    const struct sim_call *cl = &o->call[c];
    const struct sim_faults *fx = &s->fx;
    struct sim_win w = {cl->acked, s->now + 1};
    bool cut = fx->cut_node == (int)n && ((fx->cut_up.from < w.to && fx->cut_up.to > w.from) ||
                                          (fx->cut_down.from < w.to && fx->cut_down.to > w.from));
    bool want = cl->what == CALL_CREATE;
    if (cut || o->starting[n] || (want && o->del_rev[cl->id]))
        return; /* not reaching etcd (or not yet, restarted), or deleted since */
    if (sim_ovr_serves(o, n, cl->id) != want)
        sim_violation(s, SIM_I3, "n%u %s ovr-%d %lld ms after its %s was acknowledged", n,
                      want ? "does not serve" : "still serves", cl->id,
                      (long long)(s->now - cl->acked), want ? "making" : "deletion");
}

/* Node n syncs again, as after a failed call: a fresh read follows. */
static void sim_ovr_resync(struct sim *s, unsigned n)
{
    struct sim_node *d = &s->nd[n];
    d->conn = CONN_SYNCING;
    d->gen++;
    d->beat_inflight = false;
}

/* Node n's overrides after a restart: its health core anew, what its state
 * file holds (override_restore, as a start does), and no watch until the
 * fresh read of its first sync. (Its probes, heartbeats and reports go
 * on: only the overrides' side restarts.) */
static void sim_ovr_restart(struct sim *s, unsigned n)
{
    struct sim_ovr *o = s->ovr;
    health_core_free(&o->core[n]);
    health_core_init(&o->core[n]);
    json_t *file = o->saved[n] ? json_incref(o->saved[n]) : json_array();
    struct override_restore_stats st;
    override_restore(&o->core[n], file, sim_ovr_now(s), &st);
    json_decref(file);
    o->starting[n] = true;
    sim_log(s, (int)n, "restarts: %zu overrides from its state file", st.restored);
    sim_ovr_resync(s, n);
}

void sim_ovr_event(struct sim *s, int32_t w, int32_t arg)
{
    struct sim_ovr *o = s->ovr;
    switch (arg) {
    case ACT_CLIENT:
        sim_ovr_client(s);
        break;
    case ACT_RETRY:
        if (!o->call[w].over)
            sim_ovr_try(s, w);
        break;
    case ACT_TIMEOUT:
        if (!o->call[w].over && s->now >= o->call[w].started + SIM_TIMEOUT_MS + 500)
            sim_ovr_failed(s, w, "no answer in time");
        break;
    case ACT_PUT_BACK:
        sim_ovr_put_back(s, w);
        break;
    case ACT_RESYNC:
        sim_log(s, w, "resyncs (its etcd connection reset)");
        sim_ovr_resync(s, (unsigned)w);
        break;
    case ACT_RESTART:
        sim_ovr_restart(s, (unsigned)w);
        break;
    default:
        sim_ovr_check(s, w, (unsigned)(arg - ACT_CHECK));
        break;
    }
}

/* ---- life ----------------------------------------------------------------------- */

void sim_ovr_start(struct sim *s)
{
    struct sim_ovr *o = calloc(1, sizeof(*o));
    if (!o)
        abort();
    s->ovr = o;
    o->fl.p.keys.enabled = true;
    o->next_id = 1;
    for (unsigned n = 0; n < s->n; n++)
        health_core_init(&o->core[n]);
    sim_ovr_next_call(s, sim_range(s, 300, 1500));
    if (s->cls == SIM_REPLAY)
        for (int64_t i = 0, k = sim_range(s, 2, 4); i < k; i++)
            sim_push(s, sim_range(s, 1000, 7500), EV_OVR, SIM_ETCD,
                     (int32_t)sim_range(s, 0, s->n - 1), ACT_RESYNC + (int32_t)sim_range(s, 0, 1));
}

void sim_ovr_free(struct sim *s)
{
    struct sim_ovr *o = s->ovr;
    if (!o)
        return;
    for (unsigned n = 0; n < s->n; n++) {
        health_core_free(&o->core[n]); /* its overrides with it */
        json_decref(o->saved[n]);
    }
    free(o);
    s->ovr = NULL;
}

/*
 * fleet_sync.c -- the fleet's conversation with etcd: lease, node key,
 * the fresh read, the watch, publishing own observations, keep-alive,
 * loss and recovery.
 *
 * Sync sequence (after start and after any failure): keep the lease alive
 * or grant a new one -> put PREFIX/nodes/NODE on it -> range over PREFIX
 * (rebuild every table, reconcile shared records) -> watch PREFIX from the
 * next revision. Each step's callback checks that its sequence is still
 * the current one (sync_gen), so a late reply of an abandoned attempt
 * changes nothing.
 */
#include <event2/event.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/event_ring.h"
#include "common/log.h"
#include "fleet/fleet_int.h"
#include "fleet/fleet_session.h"
#include "fleet/fleet_peer.h"
#include "health/service.h"

/* Where a value was read: its key, and etcd's revisions and lease of it. */
struct fleet_kv {
    const char *key;
    int64_t mod_rev, create_rev, lease;
};

struct fleet_call {
    struct fleet *f;
    unsigned gen;
    size_t n;
    struct fleet_ep **eps; /* publish: what was written */
    uint8_t *states;
    bool node_put;    /* publish: the node record went with it */
    uint64_t rrev_hi; /* publish: the highest report sequence in it (fleet_stamp.h) */
};

static struct fleet_call *fleet_call_new(struct fleet *f)
{
    struct fleet_call *c = calloc(1, sizeof(*c));
    if (!c)
        abort();
    c->f = f;
    c->gen = f->sync_step;
    return c;
}

static void fleet_call_free(struct fleet_call *c)
{
    free(c->eps);
    free(c->states);
    free(c);
}

char *fleet_key(const struct fleet *f, const char *a, const char *b, const char *c)
{
    size_t n = strlen(f->p.prefix) + strlen(a) + (b ? strlen(b) : 0) + (c ? strlen(c) + 1 : 0) + 1;
    char *k = malloc(n);
    if (!k)
        abort();
    snprintf(k, n, "%s%s%s%s%s", f->p.prefix, a, b ? b : "", c ? "/" : "", c ? c : "");
    return k;
}

json_t *fleet_b64s(const char *s)
{
    char *b = etcd_b64(s, strlen(s));
    json_t *j = json_string(b);
    free(b);
    return j;
}

/* The endpoint name in keys: the slot key without "endpoint:". */
static const char *fleet_ep_name(const struct fleet_ep *e)
{
    return strncmp(e->key, "endpoint:", 9) == 0 ? e->key + 9 : e->key;
}

/* A unary call answered: every one gtmd makes is linearizable (writes,
 * lease calls, ranges without serializable), so a quorum answered. */
void fleet_sync_contact(struct fleet *f)
{
    pthread_mutex_lock(&f->lock);
    f->last_ok = deadline_mono();
    f->last_quorum = f->last_ok;
    pthread_mutex_unlock(&f->lock);
    f->sync_answered = true;
    f->answered_url = etcd_endpoint(f->etcd); /* where the call ended up */
    if (f->kept_since > 0 && f->conn == FLEET_CONN_SYNCED)
        log_info("event=fleet_etcd_call_answered node=%s etcd=%s session=kept failing_s=%.2f",
                 f->p.node, f->answered_url, f->last_ok - f->kept_since);
    f->kept_since = 0;
}

void fleet_sync_failed(struct fleet *f, const char *what, const char *err)
{
    if (f->conn == FLEET_CONN_DOWN)
        return;
    if (f->conn == FLEET_CONN_SYNCED)
        log_warn("event=fleet_etcd_lost node=%s etcd=%s step=%s error=\"%s\"", f->p.node,
                 etcd_endpoint(f->etcd), what, err ? err : "");
    etcd_watch_cancel(f->watch);
    f->watch = NULL;
    f->publishing = 0;
    etcd_failover(f->etcd);
    f->sync_step++; /* abandons the callbacks of the failed sequence */
    pthread_mutex_lock(&f->lock);
    f->conn = FLEET_CONN_DOWN;
    f->url = etcd_endpoint(f->etcd);
    pthread_mutex_unlock(&f->lock);
    /* Short backoff: a heal must be noticed within about a second (writes
     * are refused until the sync is done); each attempt is one call. */
    double delay = 0.1 * pow(2, f->retry_n < 3 ? f->retry_n : 3);
    f->retry_n++;
    f->next_sync = deadline_mono() + (delay < FLEET_TICK_S ? delay : FLEET_TICK_S);
}

/* A callback of an abandoned sequence, or one that failed: true when the
 * caller must stop. */
static bool fleet_call_stale(struct fleet_call *c, enum etcd_status st, const char *what,
                             const char *err)
{
    struct fleet *f = c->f;
    if (c->gen != f->sync_step || st == ETCD_ERR_CANCELLED)
        return true;
    if (st != ETCD_OK) {
        fleet_keep_call_failed(f, st, what, err);
        return true;
    }
    fleet_sync_contact(f);
    return false;
}

bool fleet_sync_reply(struct fleet *f, unsigned gen, enum etcd_status st, const char *what,
                      const char *err)
{
    struct fleet_call c = {.f = f, .gen = gen};
    return !fleet_call_stale(&c, st, what, err);
}

/* Ends call c (freed here): its fleet, or NULL when the reply is stale or
 * an error (fleet_call_stale). For callbacks that need nothing else of c. */
static struct fleet *fleet_call_end(void *arg, enum etcd_status st, const char *what,
                                    const char *err)
{
    struct fleet_call *c = arg;
    struct fleet *f = c->f;
    bool stale = fleet_call_stale(c, st, what, err);
    fleet_call_free(c);
    return stale ? NULL : f;
}

/* ---- dispatch of keys (range and watch) ------------------------------- */

static uint8_t fleet_state_of(json_t *v)
{
    const char *s = json_string_value(json_object_get(v, "s"));
    return !s                       ? HEALTH_UNKNOWN
           : strcmp(s, "up") == 0   ? HEALTH_UP
           : strcmp(s, "down") == 0 ? HEALTH_DOWN
                                    : HEALTH_UNKNOWN;
}

static void fleet_node_update(struct fleet *f, const char *name, json_t *v, bool bulk)
{
    uint16_t idx = fleet_node_get(f, name);
    if (idx == FLEET_NODE_NONE)
        return; /* etcd holds more node names than a fleet has */
    pthread_mutex_lock(&f->lock);
    struct fleet_node *n = &f->nodes[idx];
    bool was_live = n->live;
    int was_layout = n->layout;
    n->live = v != NULL;
    if (v) {
        snprintf(n->version, sizeof(n->version), "%s",
                 json_string_value(json_object_get(v, "version")) ?: "");
        snprintf(n->config_hash, sizeof(n->config_hash), "%s",
                 json_string_value(json_object_get(v, "config_hash")) ?: "");
        n->last_seen = json_number_value(json_object_get(v, "last_seen"));
        n->started = json_number_value(json_object_get(v, "started"));
        json_decref(n->vantage);
        n->vantage = json_incref(json_object_get(v, "vantage"));
        json_t *lay = json_object_get(v, "layout");
        n->layout = json_is_integer(lay) ? (int)json_integer_value(lay) : 1;
        n->formats_hi = fleet_compat_announced(v);
        fleet_node_read_fields_locked(n, v);
        json_t *cv = json_object_get(v, "config_version");
        n->config_version = json_is_integer(cv) ? (uint64_t)json_integer_value(cv) : 0;
        snprintf(n->config_error, sizeof(n->config_error), "%s",
                 json_string_value(json_object_get(v, "config_error")) ?: "");
    }
    pthread_mutex_unlock(&f->lock);
    fleet_peer_node_seen(f, idx, v);
    if (v && !bulk && idx != f->self && n->layout < 2 && (!was_live || was_layout != n->layout))
        log_warn("event=fleet_mixed node=%s layout=%d this_layout=%d note=\"upgrade every node "
                 "of a fleet together: this node reads its reports, it does not read this "
                 "node's, and it refuses this node's overrides and drills\"",
                 name, n->layout, FLEET_LAYOUT);
    if (!bulk && (was_live != n->live || was_layout != n->layout))
        fleet_pools_check_layout(f); /* a node came or went: the write format may move */
    if (idx == f->self && !v && f->conn == FLEET_CONN_SYNCED) {
        /* Our own key vanished: the lease expired in etcd. */
        f->lease = 0;
        fleet_sync_failed(f, "lease", "this node's lease expired in etcd");
        return;
    }
    if (!bulk && v && idx != f->self && fleet_compat_update(f)) {
        fleet_pools_check_layout(f); /* format 3 is layout 3 (fleet_pools_layout) */
        fleet_put_node(f);           /* the fleet's write format moved */
    }
    if (!bulk && was_live != n->live) {
        log_info("event=fleet_node node=%s live=%s", name, v ? "yes" : "no");
        event_ring_push(
            f->health->events, "fleet",
            json_pack("{s:s, s:s, s:b}", "action", "node", "node", name, "live", v != NULL));
        fleet_recompute_all(f);
    }
}

/* One report: node's observation of endpoint ep (ep_len octets,
 * "POOL/NAME"); legacy: read at its layout-1 key (obs/ENDPOINT/NODE). */
static void fleet_obs_update(struct fleet *f, const char *node_name, const char *ep_name,
                             size_t ep_len, json_t *v, bool bulk, bool legacy,
                             const struct fleet_kv *kv)
{
    if (!fleet_node_name_ok(node_name) || ep_len == 0 || ep_len > 590)
        return;
    char key[600];
    snprintf(key, sizeof(key), "endpoint:%.*s", (int)ep_len, ep_name);
    uint16_t node = fleet_node_get(f, node_name);
    struct fleet_ep *ep = fleet_ep_get(f, key, false);
    if (!ep && f->n_eps < f->n_local + FLEET_FOREIGN_EPS_MAX)
        ep = fleet_ep_get(f, key, true);
    if (node == FLEET_NODE_NONE || !ep)
        return; /* beyond what etcd may make us remember */
    uint8_t st = v ? fleet_state_of(v) : HEALTH_UNKNOWN;
    if (v) {
        double t = json_number_value(json_object_get(v, "t"));
        pthread_mutex_lock(&f->lock);
        f->watch_lag = t > 0 ? health_now() - t : f->watch_lag;
        pthread_mutex_unlock(&f->lock);
    }
    if (node == f->self) {
        if (legacy) /* a key of this node's before an upgrade is not what it writes now */
            return;
        ep->published = st; /* what etcd holds for us */
        f->eps_keys_dirty = true;
        if (v && fleet_life_own_replayed(f, v, bulk, &ep->seen_n)) { /* refused, written again */
            fleet_reject(f, kv->key, FLEET_REJ_REPLAY, node_name, "an older report of this node");
            ep->published = HEALTH_UNKNOWN;
        }
        return;
    }
    bool stale = false;
    if (!bulk && fleet_life_report_replayed(f, ep, node, v, kv->lease, kv->mod_rev, &stale)) {
        fleet_reject(f, kv->key, FLEET_REJ_REPLAY, node_name,
                     "an older report of the member's lease than the one applied here");
        return;
    }
    if (stale)
        return; /* delivered again (a watch restarted from an older revision) */
    if (v)
        fleet_beat_report_stamp(f, node, v, bulk);
    if (bulk) { /* verdicts are computed once the read is applied */
        pthread_mutex_lock(&f->lock);
        fleet_obs_put_locked(f, ep, node, st, v ? json_number_value(json_object_get(v, "t")) : 0,
                             false);
        pthread_mutex_unlock(&f->lock);
        if (v)
            fleet_life_report_kept(f, ep, node, v, kv->lease, kv->mod_rev);
        return;
    }
    fleet_obs_set(f, ep, node, st, v ? json_number_value(json_object_get(v, "t")) : 0);
    if (v)
        fleet_life_report_kept(f, ep, node, v, kv->lease, kv->mod_rev);
}

/* The member a key speaks for, copied to out: the node of nodes/NODE,
 * beat/NODE, reports/NODE/ENDPOINT and (the layout before, read for one
 * release) obs/ENDPOINT/NODE; NULL for records any member may write
 * (overrides, drills). A name too long for out is "" (no member's). */
static const char *fleet_key_owner(const char *rest, char out[FLEET_NODE_MAX + 2])
{
    const char *name = NULL;
    size_t len = 0;
    if (strncmp(rest, "nodes/", 6) == 0 || strncmp(rest, "beat/", 5) == 0 ||
        strncmp(rest, "rtt/", 4) == 0) {
        name = strchr(rest, '/') + 1;
        len = strlen(name);
    } else if (strncmp(rest, FLEET_REPORTS, strlen(FLEET_REPORTS)) == 0) {
        name = rest + strlen(FLEET_REPORTS);
        const char *slash = strchr(name, '/');
        len = slash ? (size_t)(slash - name) : strlen(name);
    } else if (strncmp(rest, "obs/", 4) == 0) {
        name = strrchr(rest, '/') + 1;
        len = strlen(name);
    }
    if (!name)
        return NULL;
    if (len > FLEET_NODE_MAX)
        len = 0;
    snprintf(out, FLEET_NODE_MAX + 2, "%.*s", (int)len, name);
    return out;
}

/* A signed report of a member (node record, heartbeat, observation) is
 * its own only on the lease it signed it for: the record's "lease" must be
 * the key's, and an observation's the lease of the member's node record.
 * So a writer cannot replay a member's old report once its lease is gone
 * (the lease ends with the member: its reports go with it). A lease id can
 * be granted again once it ended (etcd lets any client choose the id), so
 * the node record is also sealed with its key's create revision
 * (fleet_life.c): one put back on a lease granted again is refused, and
 * the reports on that lease with it. *pending: a node record not sealed
 * yet (its member seals it at once), ignored. */
static enum fleet_verdict fleet_dispatch_on_lease(struct fleet *f, const char *rest,
                                                  const char *owner, json_t *v,
                                                  const struct fleet_kv *kv, bool *pending,
                                                  char *why, size_t len)
{
    if (!f->p.keys.enabled)
        return FLEET_SIG_OK;
    int64_t signed_for = etcd_json_int(json_object_get(v, "lease"), 0);
    if (signed_for == 0 || signed_for != kv->lease)
        return FLEET_SIG_NOT_ON_LEASE;
    uint16_t idx = fleet_node_get(f, owner);
    if (strncmp(rest, "nodes/", 6) == 0) {
        enum fleet_verdict vd = fleet_life_record(f, v, kv->create_rev, pending, why, len);
        if (vd == FLEET_SIG_OK && !*pending && idx != FLEET_NODE_NONE)
            f->nodes[idx].lease = kv->lease; /* fleet thread only */
        else if (vd == FLEET_REJ_REPLAY)
            snprintf(why, len, "a node record put back on its lease granted again");
        return vd;
    }
    bool report = strncmp(rest, "obs/", 4) == 0 || strncmp(rest, "rtt/", 4) == 0 ||
                  strncmp(rest, FLEET_REPORTS, strlen(FLEET_REPORTS)) == 0;
    if (report && (idx == FLEET_NODE_NONE || f->nodes[idx].lease != kv->lease))
        return FLEET_SIG_NOT_ON_LEASE;
    return FLEET_SIG_OK;
}

void fleet_reject(struct fleet *f, const char *key, enum fleet_verdict vd, const char *signer,
                  const char *detail)
{
    pthread_mutex_lock(&f->lock);
    f->rejected[vd]++;
    bool again = strcmp(f->rejected_last_key, key) == 0 && f->rejected_last == vd;
    snprintf(f->rejected_last_key, sizeof(f->rejected_last_key), "%s", key);
    f->rejected_last = vd;
    snprintf(f->rejected_last_signer, sizeof(f->rejected_last_signer), "%s", signer ? signer : "");
    pthread_mutex_unlock(&f->lock);
    if (!again) {
        char kq[300], sq[100], dq[400];
        log_warn("event=fleet_rejected key=%s why=%s signer=%s detail=\"%s\"",
                 log_quote(key, kq, sizeof(kq)), fleet_verdict_name(vd),
                 log_quote(signer ? signer : "", sq, sizeof(sq)),
                 log_quote(detail ? detail : "", dq, sizeof(dq)));
    }
}

/* Whether v, read at key, is signed by the member it speaks for (always,
 * without "members"); signer gets the signer's name ("" unsigned). A
 * refused record is counted by reason, reported in status and metrics, and
 * logged the first time each key is refused for a reason (fleet_reject). */
static bool fleet_dispatch_trusted(struct fleet *f, const struct fleet_kv *kv, const char *rest,
                                   json_t *v, char signer_out[64])
{
    const char *signer = NULL;
    char owner_buf[FLEET_NODE_MAX + 2];
    const char *owner = fleet_key_owner(rest, owner_buf);
    enum fleet_verdict vd = fleet_verify(&f->p.keys, kv->key, v, owner, &signer);
    char why[300] = "";
    /* A record of a format this release does not read (fleet_compat.h). */
    if (vd == FLEET_SIG_OK)
        vd = fleet_compat_check(v, false, why, sizeof(why));
    bool pending = false;
    if (vd == FLEET_SIG_OK && owner)
        vd = fleet_dispatch_on_lease(f, rest, owner, v, kv, &pending, why, sizeof(why));
    snprintf(signer_out, 64, "%s", signer ? signer : "");
    if (vd == FLEET_SIG_OK)
        return !pending;
    fleet_reject(f, kv->key, vd, signer, why[0] ? why : NULL);
    return false;
}

/* Whether record v (signed by signer, "" unsigned) is one this node
 * accepted itself through its API: it checked the safety rule then. With
 * "members" only its own signature says so ("node" is the writer's
 * claim); without, nothing can be trusted and "node" is taken as is. */
static bool fleet_own_record(const struct fleet *f, json_t *v, const char *signer)
{
    if (!v)
        return false;
    if (f->p.keys.enabled)
        return strcmp(signer, f->p.node) == 0;
    const char *node = json_string_value(json_object_get(v, "node"));
    return node && strcmp(node, f->p.node) == 0;
}

/* An override or drill of kind k, id (checked: signed by a member, or
 * "members" off) put (v) or deleted (v NULL): applied when it is the record
 * its key was created for (fleet_life.c); one put back is refused and, as
 * one not sealed yet, absent. */
static void fleet_dispatch_record(struct fleet *f, const struct fleet_kv *kv, struct fleet_kind *k,
                                  const char *id, json_t *v, const char *signer)
{
    if (v) {
        bool pending = false;
        char why[300] = "";
        enum fleet_verdict vd = fleet_life_record(f, v, kv->create_rev, &pending, why, sizeof(why));
        if (vd != FLEET_SIG_OK)
            fleet_reject(f, kv->key, vd, signer, why);
        if (vd != FLEET_SIG_OK || pending)
            v = NULL; /* as if absent: one applied before under this key is removed */
        else {
            fleet_compat_drop_unknown(k->name, v); /* a newer release's fields */
            fleet_life_strip(v);
        }
    }
    fleet_store_apply(f, k, id, v, kv->mod_rev, signer, fleet_own_record(f, v, signer));
}

/* One key put (value) or deleted (value NULL). */
static void fleet_dispatch(struct fleet *f, const struct fleet_kv *kv, const char *value, bool bulk)
{
    size_t pl = strlen(f->p.prefix);
    const char *key = kv->key;
    if (strncmp(key, f->p.prefix, pl) != 0)
        return;
    const char *rest = key + pl;
    if (strncmp(rest, "config/v/", 9) == 0)
        return;                          /* a configuration version: fetched when head names it */
    if (strncmp(rest, "seq/", 4) == 0) { /* a plain number, not JSON */
        struct fleet_kind *k = fleet_store_kind(f, rest + 4);
        if (k)
            fleet_store_seq(f, k, value, value ? kv->mod_rev : 0);
        return;
    }
    json_error_t jerr;
    json_t *v = value ? json_loads(value, 0, &jerr) : NULL;
    if (value && !json_is_object(v)) {
        json_decref(v);
        return; /* not ours: ignore */
    }
    char signer[64] = "";
    if (v && (!fleet_dispatch_trusted(f, kv, rest, v, signer) ||
              !fleet_life_member_fresh(f, key, rest, v, kv->lease, kv->mod_rev, bulk))) {
        /* Not written by the member it speaks for, or superseded: as if
         * absent. A member's report or record, or head, stays as last
         * applied; an override or drill whose key now holds something
         * else is gone, as a fresh read would find it. */
        json_decref(v);
        v = NULL;
        signer[0] = '\0';
        if (strncmp(rest, "rtt/", 4) == 0 && strcmp(rest + 4, f->p.node) == 0)
            fleet_rtt_seen(f, rest + 4, NULL); /* ours overwritten: write it again */
        const char *slash = strchr(rest, '/');
        char kind[32];
        snprintf(kind, sizeof(kind), "%.*s", slash ? (int)(slash - rest) : 0, rest);
        if (!slash || !fleet_store_kind(f, kind))
            return;
    }
    if (v) { /* checked: the record as its writer made it */
        json_object_del(v, "sig");
        json_object_del(v, "signer");
        json_object_del(v, "lease");
    }
    if (strncmp(rest, FLEET_REPORTS, strlen(FLEET_REPORTS)) == 0) {
        const char *node = rest + strlen(FLEET_REPORTS), *slash = strchr(node, '/');
        char name[FLEET_NODE_MAX + 2];
        if (slash && (size_t)(slash - node) <= FLEET_NODE_MAX) {
            snprintf(name, sizeof(name), "%.*s", (int)(slash - node), node);
            if (!strchr(slash + 1, '/')) /* reports/NODE/POOL: layout 3 (fleet_pools.c) */
                fleet_pools_seen(f, name, slash + 1, v, kv->lease, kv->mod_rev, key, bulk);
            else
                fleet_obs_update(f, name, slash + 1, strlen(slash + 1), v, bulk, false, kv);
        }
    } else if (strncmp(rest, "obs/", 4) == 0) { /* the layout before (gtmd 1.x) */
        const char *slash = strrchr(rest + 4, '/');
        if (slash)
            fleet_obs_update(f, slash + 1, rest + 4, (size_t)(slash - rest - 4), v, bulk, true, kv);
    } else if (strncmp(rest, "beat/", 5) == 0 && fleet_node_name_ok(rest + 5)) {
        if (!bulk) /* a fresh read's heartbeats are old: no clock to compare */
            fleet_beat_seen(f, rest + 5, v);
    } else if (strncmp(rest, "nodes/", 6) == 0 && fleet_node_name_ok(rest + 6))
        fleet_node_update(f, rest + 6, v, bulk);
    else if (strncmp(rest, "rtt/", 4) == 0 && fleet_node_name_ok(rest + 4))
        fleet_rtt_seen(f, rest + 4, v); /* round-trip times (fleet_rtt.c) */
    else if (strcmp(rest, "config/head") == 0)
        fleet_config_head_seen(f, v, kv->mod_rev, key, signer); /* fleet_config_run follows */
    else {
        const char *slash = strchr(rest, '/');
        char kind[32];
        if (slash && (size_t)(slash - rest) < sizeof(kind)) {
            snprintf(kind, sizeof(kind), "%.*s", (int)(slash - rest), rest);
            struct fleet_kind *k = fleet_store_kind(f, kind);
            if (k && strlen(slash + 1) < 32)
                fleet_dispatch_record(f, kv, k, slash + 1, v, signer);
        }
    }
    json_decref(v);
}

/* Decodes one kv of a range or watch reply and dispatches it. */
static void fleet_dispatch_kv(struct fleet *f, json_t *kv, bool deleted, bool bulk)
{
    size_t klen, vlen;
    const char *kb = json_string_value(json_object_get(kv, "key"));
    char *key = kb ? etcd_unb64(kb, &klen) : NULL;
    if (!key)
        return;
    const char *vb = json_string_value(json_object_get(kv, "value"));
    char *value = deleted ? NULL : etcd_unb64(vb ? vb : "", &vlen);
    struct fleet_kv at = {.key = key,
                          .mod_rev = etcd_json_int(json_object_get(kv, "mod_revision"), 0),
                          .create_rev = etcd_json_int(json_object_get(kv, "create_revision"), 0),
                          .lease = etcd_json_int(json_object_get(kv, "lease"), 0)};
    if (deleted || value)
        fleet_dispatch(f, &at, value, bulk);
    free(key);
    free(value);
}

/* ---- watch ------------------------------------------------------------ */

bool fleet_sync_watch_events(struct fleet *f, json_t *res)
{
    json_t *events = json_object_get(res, "events");
    size_t i;
    json_t *ev;
    json_array_foreach(events, i, ev)
    {
        const char *type = json_string_value(json_object_get(ev, "type"));
        fleet_dispatch_kv(f, json_object_get(ev, "kv"), type && strcmp(type, "DELETE") == 0, false);
        if (f->conn != FLEET_CONN_SYNCED)
            return false; /* a dispatch found the lease gone */
    }
    fleet_election_header(f, json_object_get(res, "header"));
    /* Not the header's revision: on the reply that creates the watch, and
     * on a batch of catch-up events, it is the member's revision, ahead of
     * what was delivered (fleet_session.h). */
    int64_t rev = fleet_session_watch_rev(f->rev, res);
    pthread_mutex_lock(&f->lock);
    f->rev = rev;
    fleet_beat_watch_advanced_locked(f);
    f->watch_events += json_array_size(events);
    pthread_mutex_unlock(&f->lock);
    return true;
}

/* ---- the fresh read ----------------------------------------------------- */

void fleet_sync_after_range(struct fleet *f)
{
    if (fleet_compat_update(f))
        f->node_put_due = true; /* written with the first publish below */
    /* Every fresh read hands head over again: a node whose own edit could
     * not be published while etcd was away publishes it now. */
    f->cfg.offered = 0;
    f->cfg.told_empty = false;
    pthread_mutex_lock(&f->lock);
    f->cfg.offer_open = false;
    pthread_mutex_unlock(&f->lock);
    fleet_recompute_all(f);
    for (size_t i = 0; i < f->n_kinds; i++)
        fleet_store_resync(f, &f->kinds[i]);
    bool first = !f->ever_synced;
    pthread_mutex_lock(&f->lock);
    f->conn = FLEET_CONN_SYNCED;
    f->ever_synced = true;
    if (!first)
        f->resyncs++;
    pthread_cond_broadcast(&f->cond);
    pthread_mutex_unlock(&f->lock);
    f->retry_n = 0;
    pthread_mutex_lock(&f->lock);
    f->fresh_at = f->range_sent; /* the read was linearizable */
    f->lag_since = 0;
    pthread_mutex_unlock(&f->lock);
    f->next_beat = deadline_mono();
    f->next_keepalive = deadline_mono() + f->p.stale_after / 3;
    f->next_node_put = deadline_mono() + f->p.stale_after / 2;
    log_info("event=fleet_sync node=%s etcd=%s revision=%lld nodes=%zu endpoints=%zu", f->p.node,
             etcd_endpoint(f->etcd), (long long)f->rev, f->n_nodes, f->n_eps);
    fleet_set_degraded(f, false);
    f->watch_resumes = 0;
    fleet_watch_start(f);
    fleet_publish(f);
    fleet_store_run_jobs(f);
    fleet_config_run(f);
}

void fleet_sync_read_range(struct fleet *f, json_t *resp)
{
    pthread_mutex_lock(&f->lock);
    fleet_clear_locked(f);
    pthread_mutex_unlock(&f->lock);
    /* What etcd holds for this node is read again below. */
    for (size_t b = 0; b < f->n_buckets; b++)
        for (struct fleet_ep *e = f->buckets[b]; e; e = e->next) {
            e->published = HEALTH_UNKNOWN;
            e->writing = false;
        }
    f->eps_keys_dirty = true;
    fleet_store_begin_read(f);
    fleet_pools_begin_read(f);
    fleet_config_begin_read(f);
    fleet_rtt_begin_read(f);
    json_t *kvs = json_object_get(resp, "kvs");
    size_t i;
    json_t *kv;
    json_array_foreach(kvs, i, kv) fleet_dispatch_kv(f, kv, false, true);
    pthread_mutex_lock(&f->lock);
    f->rev = etcd_json_int(json_object_get(json_object_get(resp, "header"), "revision"), 0);
    f->nodes[f->self].live = true;
    pthread_mutex_unlock(&f->lock);
}

/* ---- node key and lease ----------------------------------------------- */

static json_t *fleet_node_put_op(struct fleet *f)
{
    pthread_mutex_lock(&f->lock);
    json_t *v =
        json_pack("{s:s, s:s, s:f, s:f, s:O, s:s, s:i}", "version", f->version, "config_hash",
                  f->config_hash, "last_seen", health_now(), "started", f->nodes[f->self].started,
                  "vantage", f->vantage, "node", f->p.node, "layout", FLEET_LAYOUT);
    fleet_node_own_fields_locked(f, v);
    fleet_config_node_fields_locked(f, v);
    fleet_peer_node_fields_locked(f, v);
    /* The formats it writes and reads: the release before reads past the
     * field (fleet_compat.h). Its "format" is the fleet's write format. */
    fleet_compat_announce(v);
    int w = fleet_compat_write_format(f);
    if (f->p.keys.enabled || w > FLEET_FORMAT_PREV)
        json_object_set_new(v, FLEET_LIFE_FORMAT, json_integer(w));
    if (f->p.keys.enabled && f->node_born) /* sealed once its key's create revision is known */
        json_object_set_new(v, FLEET_LIFE_BORN, json_integer((json_int_t)f->node_born));
    pthread_mutex_unlock(&f->lock);
    char *key = fleet_key(f, "nodes/", f->p.node, NULL);
    fleet_sign_on_lease(f, key, v);
    char *text = json_dumps(v, JSON_COMPACT);
    json_decref(v);
    json_t *op = json_pack("{s:{s:o, s:o, s:I}}", "request_put", "key", fleet_b64s(key), "value",
                           fleet_b64s(text), "lease", (json_int_t)f->lease);
    free(key);
    free(text);
    return op;
}

static void fleet_sync_node(struct fleet *f);

static void fleet_on_node_put(void *arg, enum etcd_status st, json_t *resp, const char *err)
{
    struct fleet_call *c = arg;
    fleet_node_put_release(c->f, c->node_put); /* before a stale call returns */
    struct fleet *f = fleet_call_end(arg, st, "node", err);
    if (!f)
        return;
    pthread_mutex_lock(&f->lock);
    f->writes++;
    f->keys_written++;
    pthread_mutex_unlock(&f->lock);
    /* The node record's key as the transaction left it: sealed with its
     * create revision, or put again so (once; twice means the key went
     * meanwhile, and the sync starts over). */
    json_t *kv = json_array_get(
        json_object_get(json_object_get(json_array_get(json_object_get(resp, "responses"), 1),
                                        "response_range"),
                        "kvs"),
        0);
    int64_t born = etcd_json_int(json_object_get(kv, "create_revision"), 0);
    if (f->p.keys.enabled && born != f->node_born) {
        f->node_born = born;
        if (born && f->node_seals++ == 0) {
            fleet_sync_node(f);
            return;
        }
        fleet_sync_failed(f, "node", "this node's record could not be sealed");
        return;
    }
    fleet_read_start(f);
}

/* Puts the node record and reads its key back (its create revision).
 * When a put of it on this lease is still in flight (a sequence abandoned
 * since; its reply has not come), the record on the lease is that one or
 * the one before: the sync reads on, and the put is due once that reply
 * came (fleet_publish), so the two cannot land out of order. */
static void fleet_sync_node(struct fleet *f)
{
    if (f->node_put_busy && f->node_put_lease == f->lease && f->node_born) {
        f->node_put_due = true;
        fleet_read_start(f);
        return;
    }
    char *key = fleet_key(f, "nodes/", f->p.node, NULL);
    json_t *txn = json_pack("{s:[o, {s:{s:o}}]}", "success", fleet_node_put_op(f), "request_range",
                            "key", fleet_b64s(key));
    free(key);
    struct fleet_call *c = fleet_call_new(f);
    c->node_put = fleet_node_put_take(f);
    etcd_call(f->etcd, "/v3/kv/txn", txn, fleet_on_node_put, c);
}

static void fleet_on_grant(void *arg, enum etcd_status st, json_t *resp, const char *err)
{
    struct fleet *f = fleet_call_end(arg, st, "lease grant", err);
    if (!f)
        return;
    f->lease = etcd_json_int(json_object_get(resp, "ID"), 0);
    f->node_born = 0; /* a new lease: the node record's key is created again */
    if (f->lease == 0) {
        fleet_sync_failed(f, "lease grant", "no lease id in the reply");
        return;
    }
    fleet_sync_node(f);
}

static void fleet_sync_grant(struct fleet *f)
{
    json_t *b = json_pack("{s:I}", "TTL", (json_int_t)ceil(f->p.stale_after));
    etcd_call(f->etcd, "/v3/lease/grant", b, fleet_on_grant, fleet_call_new(f));
}

static void fleet_on_sync_keepalive(void *arg, enum etcd_status st, json_t *resp, const char *err)
{
    struct fleet *f = fleet_call_end(arg, st, "lease keepalive", err);
    if (!f)
        return;
    if (etcd_json_int(json_object_get(resp, "TTL"), 0) > 0)
        fleet_sync_node(f);
    else
        fleet_sync_grant(f);
}

void fleet_sync_start(struct fleet *f)
{
    f->sync_step++;
    etcd_watch_cancel(f->watch);
    f->watch = NULL;
    f->publishing = 0;
    f->beat_inflight = false;
    f->sync_started = deadline_mono();
    f->sync_answered = false;
    f->rewatch_at = 0;
    f->kept_since = 0;
    f->node_seals = 0;
    pthread_mutex_lock(&f->lock);
    f->conn = FLEET_CONN_SYNCING;
    f->url = etcd_endpoint(f->etcd);
    if (f->nodes[f->self].started == 0)
        f->nodes[f->self].started = health_now();
    pthread_mutex_unlock(&f->lock);
    if (f->lease) {
        json_t *b = json_pack("{s:I}", "ID", (json_int_t)f->lease);
        etcd_call(f->etcd, "/v3/lease/keepalive", b, fleet_on_sync_keepalive, fleet_call_new(f));
    } else
        fleet_sync_grant(f);
}

/* ---- publishing --------------------------------------------------------- */

static void fleet_on_publish(void *arg, enum etcd_status st, json_t *resp, const char *err)
{
    struct fleet_call *c = arg;
    struct fleet *f = c->f;
    for (size_t i = 0; i < c->n; i++)
        c->eps[i]->writing = false;
    if (c->gen == f->sync_step && f->publishing > 0)
        f->publishing--;
    fleet_node_put_release(f, c->node_put);
    if (fleet_call_stale(c, st, "publish", err)) {
        fleet_call_free(c);
        return;
    }
    for (size_t i = 0; i < c->n; i++)
        c->eps[i]->published = c->states[i];
    if (c->rrev_hi > f->report_rrev_acked)
        f->report_rrev_acked = c->rrev_hi;
    f->eps_keys_dirty = true;
    pthread_mutex_lock(&f->lock);
    f->writes++;
    f->keys_written += c->n;
    pthread_mutex_unlock(&f->lock);
    fleet_call_free(c);
    fleet_publish(f);
}

/* The put (or delete, for an endpoint this node no longer checks) of an
 * observation. Its "t" is when the probe that says st last ran (the
 * stamped rule judges a report by it; now when the slot has no result
 * yet), its "rrev" its sequence in this run (fleet_stamp.h), noted in c. */
static json_t *fleet_obs_op(struct fleet *f, struct fleet_call *c, struct fleet_ep *e, uint8_t st,
                            int64_t ran_ms)
{
    char *key = fleet_key(f, FLEET_REPORTS, f->p.node, fleet_ep_name(e));
    json_t *op;
    if (st == HEALTH_UNKNOWN)
        op = json_pack("{s:{s:o}}", "request_delete_range", "key", fleet_b64s(key));
    else {
        double now = health_now();
        double ran = fleet_stamp_probe_wall(ran_ms, health_mono_ms(), now);
        json_t *v = json_pack("{s:s, s:f}", "s", health_state_name((enum health_state)st), "t",
                              ran > 0 ? ran : now);
        c->rrev_hi = ++f->report_rrev;
        fleet_stamp_report_put(v, c->rrev_hi);
        op = fleet_report_put_op(f, key, v, &e->pub_n, NULL);
    }
    free(key);
    return op;
}

/* Adds e to the batch when etcd does not hold its current own state. */
static void fleet_publish_add(struct fleet *f, struct fleet_call *c, json_t *ops,
                              struct fleet_ep *e)
{
    /* Read before the state (health_slot_ran_at): the stamp is never newer
     * than the result that gave the state. */
    int64_t ran_ms = e->slot ? health_slot_ran_at(e->slot) : 0;
    /* Layout 3 or a watcher: no endpoint key (one left is deleted). */
    uint8_t want = e->local && f->p.publish && f->layout_out != FLEET_LAYOUT_POOLS
                       ? (uint8_t)health_slot_probe(e->slot)
                       : HEALTH_UNKNOWN;
    if (want == e->published || e->writing)
        return; /* one write per key at a time keeps their order */
    json_array_append_new(ops, fleet_obs_op(f, c, e, want, ran_ms));
    e->writing = true;
    c->eps[c->n] = e;
    c->states[c->n++] = want;
}

/* One publishing transaction (the node record when due, and with eps the
 * endpoint keys); false when there is nothing to write. */
static bool fleet_publish_one(struct fleet *f, bool eps)
{
    struct fleet_call *c = fleet_call_new(f);
    c->eps = calloc(FLEET_TXN_OPS, sizeof(*c->eps));
    c->states = calloc(FLEET_TXN_OPS, sizeof(*c->states));
    if (!c->eps || !c->states)
        abort();
    json_t *ops = json_array();
    /* Else once the one in flight is answered, or its rest is over. */
    if (f->node_put_due && fleet_node_put_free(f) && fleet_node_put_rested(f)) {
        json_array_append_new(ops, fleet_node_put_op(f));
        f->node_put_due = false;
        c->node_put = fleet_node_put_take(f);
    }
    for (size_t i = 0; eps && i < f->n_local && json_array_size(ops) < FLEET_TXN_OPS; i++)
        fleet_publish_add(f, c, ops, f->local[i]);
    /* Endpoints this node no longer checks: withdraw its observation. */
    for (size_t b = 0; eps && b < f->n_buckets && json_array_size(ops) < FLEET_TXN_OPS; b++)
        for (struct fleet_ep *e = f->buckets[b]; e && json_array_size(ops) < FLEET_TXN_OPS;
             e = e->next)
            if (!e->local && e->published != HEALTH_UNKNOWN)
                fleet_publish_add(f, c, ops, e);
    if (json_array_size(ops) == 0) {
        json_decref(ops);
        fleet_call_free(c);
        return false;
    }
    f->publishing++;
    etcd_call(f->etcd, "/v3/kv/txn", json_pack("{s:o}", "success", ops), fleet_on_publish, c);
    return true;
}

/* Writes what etcd does not hold as it is now. Moving between layouts,
 * the new layout's keys go first and the old ones are deleted once they
 * are written, so this node's vote is never missing on a reader. */
void fleet_publish(struct fleet *f)
{
    if (f->conn != FLEET_CONN_SYNCED)
        return;
    fleet_pools_check_layout(f);
    bool pools = f->layout_out == FLEET_LAYOUT_POOLS;
    if (f->node_put_due && f->publishing < FLEET_PUBLISH_INFLIGHT)
        fleet_publish_one(f, false);
    if (!f->p.publish)
        return; /* a watcher writes no report (fixed for the run: none to delete) */
    if (pools) {
        fleet_pools_publish(f);
        if (fleet_pools_pending(f) || !f->eps_keys_dirty)
            return; /* no endpoint key of ours left to delete */
    }
    bool found = true;
    while (f->publishing < FLEET_PUBLISH_INFLIGHT && (found = fleet_publish_one(f, true)))
        ;
    if (pools && !found)
        f->eps_keys_dirty = false; /* a whole scan found none (replies set it again) */
    if (!pools && f->publishing == 0)
        fleet_pools_publish(f); /* the pool keys of layout 3 go */
}

void fleet_put_node(struct fleet *f)
{
    f->node_put_due = true;
    fleet_publish(f);
}

/* ---- periodic ------------------------------------------------------------ */

static void fleet_on_keepalive(void *arg, enum etcd_status st, json_t *resp, const char *err)
{
    struct fleet_call *c = arg;
    /* Unanswered with the session kept: sent again soon, not a third of
     * the lease's TTL later (a put on the lease does not renew it). */
    if (st == ETCD_ERR_NET && c->gen == c->f->sync_step)
        c->f->next_keepalive = deadline_mono() + FLEET_RETRY_S;
    struct fleet *f = fleet_call_end(arg, st, "lease keepalive", err);
    if (!f)
        return;
    if (etcd_json_int(json_object_get(resp, "TTL"), 0) <= 0) {
        f->lease = 0;
        fleet_sync_failed(f, "lease keepalive", "the lease expired in etcd");
    }
}

void fleet_sync_tick(struct fleet *f)
{
    if (f->stopping)
        return;
    double now = deadline_mono();
    fleet_beat_tick(f, now);
    if (f->conn == FLEET_CONN_DOWN && now >= f->next_sync) {
        fleet_sync_start(f);
        return;
    }
    if (f->conn == FLEET_CONN_SYNCING && !f->sync_answered &&
        (now - f->sync_started >= FLEET_RETRY_S ||
         (now - f->sync_started >= FLEET_CONNECT_S && etcd_connecting(f->etcd)))) {
        /* No reply yet: the URL may be cut off. Start over on the next one
         * (the abandoned call ends by its own timeout). */
        etcd_failover(f->etcd);
        fleet_sync_start(f);
        return;
    }
    if (f->conn != FLEET_CONN_SYNCED)
        return;
    if (fleet_keep_expire_silent(f, now))
        return;
    if (now >= f->next_keepalive) {
        f->next_keepalive = now + f->p.stale_after / 3;
        json_t *b = json_pack("{s:I}", "ID", (json_int_t)f->lease);
        etcd_call(f->etcd, "/v3/lease/keepalive", b, fleet_on_keepalive, fleet_call_new(f));
    }
    if (now >= f->next_node_put) {
        f->next_node_put = now + f->p.stale_after / 2;
        fleet_put_node(f);
    }
    fleet_publish(f); /* the pool keys gathered since the last round (one a tick) */
}

static void fleet_on_revoke(void *arg, enum etcd_status st, json_t *resp, const char *err)
{
    struct fleet_call *c = arg;
    event_base_loopbreak(c->f->base);
    fleet_call_free(c);
}

void fleet_revoke_lease(struct fleet *f)
{
    f->stopping = true;
    struct timeval tv = {(time_t)f->p.etcd.timeout_s + 1, 0};
    event_base_loopexit(f->base, &tv);
    if (!f->lease || f->conn != FLEET_CONN_SYNCED) {
        event_base_loopbreak(f->base);
        return;
    }
    f->sync_step++;
    etcd_watch_cancel(f->watch);
    f->watch = NULL;
    json_t *b = json_pack("{s:I}", "ID", (json_int_t)f->lease);
    etcd_call(f->etcd, "/v3/lease/revoke", b, fleet_on_revoke, fleet_call_new(f));
}

/*
 * server_keyshare.c -- a fleet signs with one key set (doc/dnssec.md,
 * "Fleet keys"): with fleet.key_secret_file, the key sets of the zones
 * under a signing policy with a key_directory are shared through etcd,
 * sealed with AES-256-GCM (fleet_keyseal.h):
 *
 *   PREFIX/dnssec/keys/ZONE     the sealed set (zone_kasp_share.h), revision N
 *   PREFIX/dnssec/loaded/NODE   {"zones": {ZONE: digest}}: the sets NODE
 *                               has loaded (on this node's lease)
 *   PREFIX/dnssec/lock          the node that advances steps (on its lease,
 *                               created only where absent: etcd's lock)
 *
 * Every second, on the main thread, this node keeps its own lease (TTL
 * fleet.stale_after), reads PREFIX/dnssec/ and PREFIX/nodes/ (the live
 * members), loads a set whose revision it has not loaded (opened and
 * checked whole before anything is written: zone_kasp_share_import), takes
 * the lock when it is free, says what it has loaded, and, holding the
 * lock, writes its own set when its key manager changed it (a compare on
 * the blob's mod revision: a set is never written over one this node has
 * not loaded). The key manager (server_kasp.c) applies a step that makes
 * or deletes a key only through server_keyshare_may_act: on the lock's
 * holder, once every live member reports the fleet's newest set loaded.
 * Timestamps already in the set (a key becoming active) need no step:
 * every node applies them from the same set at the same wall time.
 *
 * A set that cannot be opened (another secret, a blob altered) or that
 * fails its checks is logged once per revision (event=dnssec_fleet_keys),
 * counted (gtmd_dnssec_fleet_key_errors_total), published as an event and
 * shown in GET /v1/dnssec's "fleet_keys"; the node keeps the last set it
 * had and serves signatures of it only.
 *
 * Why its own etcd client on the main thread and not the fleet thread's:
 * the key manager and the signer run here under reload_lock, and a key set
 * is written a few times an hour; a second connection costs nothing and
 * keeps the fleet thread's hot path (reports, beats) apart. Its own lease
 * too: the lock and the loaded record die with this node's process.
 *
 * Owns srv->keyshare and everything in it (server_keyshare_stop frees).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <event2/event.h>
#include <openssl/crypto.h>

#include "common/digest.h"
#include "common/event_ring.h"
#include "common/log.h"
#include "daemon/server_int.h"
#include "fleet/etcd.h"
#include "fleet/fleet_keyseal.h"
#include "zone/zone_kasp_share.h"
#include "zone/zone_kasp_store.h"

#define SERVER_KEYSHARE_TICK_MS 1000
#define SERVER_KEYSHARE_MAX_ZONES 256

struct server_keyshare_zone {
    char origin[256];
    int64_t mod_rev; /* of the fleet's blob this node last loaded or wrote (0: none) */
    int64_t bad_rev; /* of the blob it last could not load (logged once) */
    uint64_t rev;    /* the set's revision it holds */
    char digest[65]; /* the fleet's set it holds ("": none yet) */
    char state[24];  /* "no_set", "loaded", "cannot_decrypt", "invalid" */
    char error[300]; /* why the fleet's newest set is not loaded */
    bool writing;    /* a put of this zone is out (put_rev, put_digest) */
    uint64_t put_rev;
    char put_digest[65];
    /* The key manager's last answer for the zone (server_keyshare_may_act):
     * shown by GET /v1/dnssec ("may_step", "why_not"). */
    bool may_step;
    char why_not[300];
    bool held; /* the key manager's last run could not step (server_keyshare_held) */
    struct server_keyshare *ks; /* the owner: a put's callback argument is the zone */
};

struct server_keyshare {
    struct server *srv;
    struct etcd *etcd;
    char *prefix, *node;
    unsigned char secret[FLEET_KEYSEAL_SECRET];
    double ttl;
    int64_t lease;
    bool busy;         /* the tick's chain of calls is out */
    int64_t round_at;  /* wall time of the last round that read etcd whole (0: none) */
    bool failing;      /* the last chain failed (logged once) */
    bool put_failing;  /* the last quiet put failed (logged once until one succeeds) */
    bool leader;       /* holds PREFIX/dnssec/lock */
    char holder[80];   /* who holds it ("" none) */
    json_t *reports;   /* {node: {zone: digest}} from PREFIX/dnssec/loaded/ */
    json_t *live;      /* [node] from PREFIX/nodes/ */
    json_t *shown;     /* {"live", "loaded"} as GET /v1/dnssec last showed them (copies) */
    json_t *blobs;     /* {zone: {"env": envelope, "mod": N}} from the last read */
    char *loaded_sent; /* the loaded record last written (JSON text) */
    struct server_keyshare_zone *zones;
    size_t n_zones;
    struct event *tick;
    char pending[600]; /* a reload's secret file holds another secret: why ("" none) */
};

/* The key under the prefix (caller frees). */
static char *server_keyshare_key(const struct server_keyshare *ks, const char *a, const char *b)
{
    size_t n = strlen(ks->prefix) + strlen(a) + strlen(b) + 1;
    char *k = malloc(n);
    if (!k)
        abort();
    snprintf(k, n, "%s%s%s", ks->prefix, a, b);
    return k;
}

static json_t *server_keyshare_b64(const char *s)
{
    char *b = etcd_b64(s, strlen(s));
    json_t *j = json_string(b);
    free(b);
    return j;
}

/* The zone's record (made on first sight; NULL past the limit). */
static struct server_keyshare_zone *server_keyshare_zone(struct server_keyshare *ks,
                                                         const char *origin)
{
    for (size_t i = 0; i < ks->n_zones; i++)
        if (strcmp(ks->zones[i].origin, origin) == 0)
            return &ks->zones[i];
    if (ks->n_zones >= SERVER_KEYSHARE_MAX_ZONES)
        return NULL;
    struct server_keyshare_zone *z = &ks->zones[ks->n_zones++];
    memset(z, 0, sizeof(*z));
    snprintf(z->origin, sizeof(z->origin), "%s", origin);
    snprintf(z->state, sizeof(z->state), "no_set");
    z->ks = ks;
    return z;
}

/* Whether zone c's keys are shared (a policy and a key directory). */
static bool server_keyshare_managed(const struct config *cfg, const struct config_zone *c)
{
    return c->dnssec.key_directory && c->dnssec.policy &&
           zone_kasp_find(&cfg->kasp, c->dnssec.policy);
}

/* The plaintext of zone c's local set (caller frees; NULL on an error). */
static char *server_keyshare_export(const struct config_zone *c, struct errlist *errs)
{
    struct zone_kasp_keys keys;
    if (!zone_kasp_store_load(c->dnssec.key_directory, c->origin, &keys, errs))
        return NULL;
    json_t *doc = zone_kasp_share_export(c->dnssec.key_directory, c->origin, &keys, errs);
    char *text = doc ? json_dumps(doc, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
    json_decref(doc);
    return text;
}

/* Frees text holding private keys. */
static void server_keyshare_wipe(char *text)
{
    if (text)
        OPENSSL_cleanse(text, strlen(text));
    free(text);
}

/* A set that does not load: said once per blob revision. */
static void server_keyshare_fail(struct server_keyshare *ks, struct server_keyshare_zone *z,
                                 int64_t mod, const char *state, const char *why)
{
    snprintf(z->state, sizeof(z->state), "%s", state);
    snprintf(z->error, sizeof(z->error), "%s", why);
    if (z->bad_rev == mod)
        return;
    z->bad_rev = mod;
    atomic_fetch_add(&ks->srv->keyshare_errors, 1);
    log_error("event=dnssec_fleet_keys zone=%s result=%s mod_revision=%lld kept_rev=%llu "
              "error=\"%s\"",
              z->origin, state, (long long)mod, (unsigned long long)z->rev, why);
    event_ring_push(ks->srv->health.events, "dnssec_fleet_keys",
                    json_pack("{s:s, s:s, s:s, s:I}", "zone", z->origin, "result", state, "error",
                              why, "kept_rev", (json_int_t)z->rev));
}

/* Loads the fleet's blob of zone c when it is new here; whether the
 * zone's keys changed (a re-sign is due). Under reload_lock. */
static bool server_keyshare_load(struct server_keyshare *ks, const struct config_zone *c,
                                 struct server_keyshare_zone *z, json_t *env, int64_t mod)
{
    if (mod == z->mod_rev || mod == z->bad_rev)
        return false;
    char *pt = NULL, digest[65], err[300];
    size_t len;
    uint64_t rev;
    enum fleet_keyseal_status st =
        fleet_keyseal_open(ks->secret, c->origin, env, &pt, &len, &rev, digest, err, sizeof(err));
    if (st != FLEET_KEYSEAL_OK) {
        server_keyshare_fail(ks, z, mod, "cannot_decrypt", err);
        return false;
    }
    json_error_t je;
    json_t *doc = json_loadb(pt, len, 0, &je);
    server_keyshare_wipe(pt);
    struct zone_kasp_keys keys;
    struct errlist errs;
    errlist_init(&errs);
    bool ok = doc && zone_kasp_share_import(c->dnssec.key_directory, c->origin, doc, &keys, &errs);
    json_decref(doc);
    if (!ok) {
        snprintf(err, sizeof(err), "the set does not load: %s",
                 errs.count ? errs.msgs[0] : "not JSON");
        errlist_free(&errs);
        server_keyshare_fail(ks, z, mod, "invalid", err);
        return false;
    }
    errlist_free(&errs);
    z->mod_rev = mod;
    z->rev = rev;
    memcpy(z->digest, digest, sizeof(z->digest));
    snprintf(z->state, sizeof(z->state), "loaded");
    z->error[0] = '\0';
    log_info("event=dnssec_fleet_keys zone=%s result=loaded rev=%llu keys=%zu digest=%.16s",
             c->origin, (unsigned long long)rev, keys.n, digest);
    return true;
}

/* The reply of a put of a zone's set; arg is the zone (ks->zones is
 * never reallocated, and etcd_free ends the calls out with
 * ETCD_ERR_CANCELLED before ks is freed). */
static void server_keyshare_on_put(void *arg, enum etcd_status st, json_t *resp, const char *err)
{
    struct server_keyshare_zone *z = arg;
    if (st == ETCD_ERR_CANCELLED)
        return;
    bool ok = st == ETCD_OK && json_is_true(json_object_get(resp, "succeeded"));
    /* The zones are read by the admin thread's status, under reload_lock. */
    pthread_mutex_lock(&z->ks->srv->reload_lock);
    z->writing = false;
    if (ok) {
        /* Our own write: loaded here already, not to be read back. */
        z->mod_rev = etcd_json_int(json_object_get(json_object_get(resp, "header"), "revision"), 0);
        z->rev = z->put_rev;
        memcpy(z->digest, z->put_digest, sizeof(z->digest));
        snprintf(z->state, sizeof(z->state), "loaded");
        z->error[0] = '\0';
    }
    pthread_mutex_unlock(&z->ks->srv->reload_lock);
    if (ok)
        log_info("event=dnssec_fleet_keys zone=%s result=written rev=%llu digest=%.16s", z->origin,
                 (unsigned long long)z->put_rev, z->put_digest);
    else
        log_warn("event=dnssec_fleet_keys zone=%s result=write_failed rev=%llu error=\"%s\"",
                 z->origin, (unsigned long long)z->put_rev,
                 st == ETCD_OK ? "the set changed in etcd meanwhile" : err);
}

/* Holding the lock: writes zone c's local set when it is not the fleet's
 * (the key manager changed it, or etcd holds none). Under reload_lock. */
static void server_keyshare_write(struct server_keyshare *ks, const struct config_zone *c,
                                  struct server_keyshare_zone *z, bool exists, int64_t mod)
{
    if (z->writing || (exists && mod != z->mod_rev) || c->dnssec.keys_pending)
        return; /* only over the set this node holds; never an empty set */
    struct errlist errs;
    errlist_init(&errs);
    char *text = server_keyshare_export(c, &errs);
    errlist_free(&errs);
    if (!text)
        return;
    char digest[65];
    digest_sha256_hex(text, strlen(text), digest);
    if (exists && strcmp(digest, z->digest) == 0) {
        server_keyshare_wipe(text);
        return;
    }
    z->put_rev = exists ? z->rev + 1 : 1;
    memcpy(z->put_digest, digest, sizeof(z->put_digest));
    json_t *env = fleet_keyseal_seal(ks->secret, c->origin, z->put_rev, text, strlen(text));
    server_keyshare_wipe(text);
    char *key = server_keyshare_key(ks, "dnssec/keys/", c->origin);
    char *val = env ? json_dumps(env, JSON_COMPACT) : NULL;
    json_decref(env);
    if (!val) {
        free(key);
        return;
    }
    json_t *txn =
        json_pack("{s:[{s:o, s:s, s:I, s:s}], s:[{s:{s:o, s:o}}]}", "compare", "key",
                  server_keyshare_b64(key), "target", "MOD", "mod_revision",
                  (json_int_t)(exists ? mod : 0), "result", "EQUAL", "success", "request_put",
                  "key", server_keyshare_b64(key), "value", server_keyshare_b64(val));
    free(key);
    free(val);
    z->writing = true;
    etcd_call(ks->etcd, "/v3/kv/txn", txn, server_keyshare_on_put, z);
}

/* Every zone against the blobs just read: loads, then (holding the lock)
 * writes. Under reload_lock. Whether a zone's keys changed. */
static bool server_keyshare_zones(struct server_keyshare *ks)
{
    struct config *cfg = ks->srv->cfg;
    bool changed = false;
    for (size_t i = 0; i < cfg->n_zones; i++) {
        const struct config_zone *c = &cfg->zones[i];
        struct server_keyshare_zone *z =
            server_keyshare_managed(cfg, c) ? server_keyshare_zone(ks, c->origin) : NULL;
        if (!z)
            continue;
        json_t *b = json_object_get(ks->blobs, c->origin);
        int64_t mod = b ? etcd_json_int(json_object_get(b, "mod"), 0) : 0;
        if (b && server_keyshare_load(ks, c, z, json_object_get(b, "env"), mod))
            changed = true;
        if (ks->leader)
            server_keyshare_write(ks, c, z, b != NULL, mod);
    }
    return changed;
}

/* ---- the tick: lease, reads, lock, loaded record ---------------------- */

static void server_keyshare_arm(struct server_keyshare *ks)
{
    struct timeval tv = {.tv_sec = SERVER_KEYSHARE_TICK_MS / 1000,
                         .tv_usec = (SERVER_KEYSHARE_TICK_MS % 1000) * 1000};
    evtimer_add(ks->tick, &tv);
}

/* A call that failed ends this tick's chain (the next tick starts over). */
static bool server_keyshare_failed(struct server_keyshare *ks, enum etcd_status st,
                                   const char *what, const char *err)
{
    if (st == ETCD_OK)
        return false;
    if (st != ETCD_ERR_CANCELLED) {
        if (!ks->failing) /* once per outage, not every second */
            log_warn("event=dnssec_fleet_keys_call what=%s error=\"%s\"", what, err ? err : "");
        ks->failing = true;
        ks->busy = false;
    }
    return true;
}

/* A small unary call whose reply only matters for its success. */
static void server_keyshare_on_quiet(void *arg, enum etcd_status st, json_t *resp, const char *err)
{
    struct server_keyshare *ks = arg;
    (void)resp;
    /* A put that failed is made again by a later tick (the record is
     * compared with etcd's; the lock taken when still free). Said once
     * per outage, as a failed tick is. */
    if (st == ETCD_ERR_CANCELLED)
        return;
    if (st != ETCD_OK && !ks->failing && !ks->put_failing)
        log_warn("event=dnssec_fleet_keys_call what=put error=\"%s\"", err ? err : "");
    ks->put_failing = st != ETCD_OK;
}

/* This node's loaded record, written when it changes (on the lease). */
static void server_keyshare_say_loaded(struct server_keyshare *ks)
{
    json_t *zones = json_object();
    pthread_mutex_lock(&ks->srv->reload_lock); /* the admin thread's rollover may add a zone */
    for (size_t i = 0; i < ks->n_zones; i++)
        if (ks->zones[i].digest[0])
            json_object_set_new(zones, ks->zones[i].origin, json_string(ks->zones[i].digest));
    pthread_mutex_unlock(&ks->srv->reload_lock);
    json_t *rec = json_pack("{s:s, s:O}", "node", ks->node, "zones", zones);
    char *text = json_dumps(rec, JSON_COMPACT | JSON_SORT_KEYS);
    json_decref(rec);
    /* Written again unless etcd holds it as this tick read it: a record
     * lost with a lease, or a put that failed or was overtaken by an
     * older one (each call has its own connection), would otherwise keep
     * the lock holder waiting for this node forever ("node N has not
     * loaded key set revision R": a KSK's DS gone from the parent and
     * never acted on, issue #56's chain test under ASan). A put still in
     * flight at the next read is made once more: the same value. */
    json_t *mine = json_object_get(ks->reports, ks->node);
    bool same =
        ks->loaded_sent && strcmp(ks->loaded_sent, text) == 0 && mine && json_equal(mine, zones);
    json_decref(zones);
    if (same) {
        free(text);
        return;
    }
    char *key = server_keyshare_key(ks, "dnssec/loaded/", ks->node);
    json_t *put = json_pack("{s:o, s:o, s:I}", "key", server_keyshare_b64(key), "value",
                            server_keyshare_b64(text), "lease", (json_int_t)ks->lease);
    free(key);
    free(ks->loaded_sent);
    ks->loaded_sent = text;
    etcd_call(ks->etcd, "/v3/kv/put", put, server_keyshare_on_quiet, ks);
}

/* Takes the lock when it is free: put only where the key was never
 * created (create_revision 0), on this node's lease. */
static void server_keyshare_take_lock(struct server_keyshare *ks)
{
    char *key = server_keyshare_key(ks, "dnssec/lock", "");
    json_t *txn =
        json_pack("{s:[{s:o, s:s, s:I, s:s}], s:[{s:{s:o, s:o, s:I}}]}", "compare", "key",
                  server_keyshare_b64(key), "target", "CREATE", "create_revision", (json_int_t)0,
                  "result", "EQUAL", "success", "request_put", "key", server_keyshare_b64(key),
                  "value", server_keyshare_b64(ks->node), "lease", (json_int_t)ks->lease);
    free(key);
    etcd_call(ks->etcd, "/v3/kv/txn", txn, server_keyshare_on_quiet, ks);
}

/* One key-value of PREFIX/dnssec/ into the view. */
static void server_keyshare_kv(struct server_keyshare *ks, json_t *kv)
{
    size_t kl = 0, vl = 0;
    char *k = etcd_unb64(json_string_value(json_object_get(kv, "key")), &kl);
    char *v = etcd_unb64(json_string_value(json_object_get(kv, "value")), &vl);
    size_t pl = strlen(ks->prefix) + strlen("dnssec/");
    const char *rest = k && kl > pl ? k + pl : "";
    json_t *doc = v ? json_loadb(v, vl, 0, NULL) : NULL;
    if (strcmp(rest, "lock") == 0 && v) {
        snprintf(ks->holder, sizeof(ks->holder), "%s", v);
        ks->leader =
            strcmp(v, ks->node) == 0 && etcd_json_int(json_object_get(kv, "lease"), 0) == ks->lease;
    } else if (strncmp(rest, "keys/", 5) == 0)
        /* A value that is not JSON is kept too (as null): it fails to open,
         * said like any set that does not, and is never written over blind. */
        json_object_set_new(
            ks->blobs, rest + 5,
            json_pack("{s:o, s:I}", "env", doc ? json_incref(doc) : json_null(), "mod",
                      (json_int_t)etcd_json_int(json_object_get(kv, "mod_revision"), 0)));
    else if (strncmp(rest, "loaded/", 7) == 0 && json_is_object(json_object_get(doc, "zones")))
        json_object_set(ks->reports, rest + 7, json_object_get(doc, "zones"));
    json_decref(doc);
    free(k);
    free(v);
}

static bool server_keyshare_recheck(struct server_keyshare *ks, bool *freed);

/* The reply of the read of PREFIX/nodes/ (keys only): the live members,
 * then everything this tick decides. */
static void server_keyshare_on_nodes(void *arg, enum etcd_status st, json_t *resp, const char *err)
{
    struct server_keyshare *ks = arg;
    if (server_keyshare_failed(ks, st, "nodes", err))
        return;
    size_t i, pl = strlen(ks->prefix) + strlen("nodes/");
    json_t *kv, *live = json_array();
    json_array_foreach(json_object_get(resp, "kvs"), i, kv)
    {
        size_t kl = 0;
        char *k = etcd_unb64(json_string_value(json_object_get(kv, "key")), &kl);
        if (k && kl > pl && !strchr(k + pl, '/'))
            json_array_append_new(live, json_string(k + pl));
        free(k);
    }
    struct server *srv = ks->srv;
    pthread_mutex_lock(&srv->reload_lock);
    json_decref(ks->live);
    ks->live = live;
    ks->round_at = (int64_t)time(NULL); /* read by the view's makers, under the lock */
    bool changed = server_keyshare_zones(ks), freed = false;
    bool view = server_keyshare_recheck(ks, &freed);
    /* The members or what they loaded changed: the view shows them. */
    view |= !ks->shown || !json_equal(json_object_get(ks->shown, "live"), ks->live) ||
            !json_equal(json_object_get(ks->shown, "loaded"), ks->reports);
    /* A new set: the key manager fills the zones' keys and signs again;
     * steps that became this node's: it takes them now. Its run refreshes
     * the view; else the view shows the new answers now. */
    if ((changed || freed) && srv->kasp_timer)
        event_active(srv->kasp_timer, EV_TIMEOUT, 0);
    else if (view)
        server_dnssec_refresh(srv, srv->cfg);
    pthread_mutex_unlock(&srv->reload_lock);
    if (!ks->holder[0])
        server_keyshare_take_lock(ks);
    server_keyshare_say_loaded(ks);
    ks->busy = false;
    ks->failing = false;
}

static void server_keyshare_on_range(void *arg, enum etcd_status st, json_t *resp, const char *err)
{
    struct server_keyshare *ks = arg;
    if (server_keyshare_failed(ks, st, "range", err))
        return;
    size_t i;
    json_t *kv;
    /* The view is read by the admin thread's status and rollover, under it. */
    pthread_mutex_lock(&ks->srv->reload_lock);
    json_object_clear(ks->blobs);
    json_object_clear(ks->reports);
    ks->holder[0] = '\0';
    ks->leader = false;
    json_array_foreach(json_object_get(resp, "kvs"), i, kv) server_keyshare_kv(ks, kv);
    pthread_mutex_unlock(&ks->srv->reload_lock);
    char *from = server_keyshare_key(ks, "nodes/", "");
    char *end = etcd_prefix_end_b64(from);
    json_t *body = json_pack("{s:o, s:s, s:b}", "key", server_keyshare_b64(from), "range_end", end,
                             "keys_only", 1);
    free(from);
    free(end);
    etcd_call(ks->etcd, "/v3/kv/range", body, server_keyshare_on_nodes, ks);
}

static void server_keyshare_read(struct server_keyshare *ks)
{
    char *from = server_keyshare_key(ks, "dnssec/", "");
    char *end = etcd_prefix_end_b64(from);
    json_t *body = json_pack("{s:o, s:s}", "key", server_keyshare_b64(from), "range_end", end);
    free(from);
    free(end);
    etcd_call(ks->etcd, "/v3/kv/range", body, server_keyshare_on_range, ks);
}

static void server_keyshare_on_lease(void *arg, enum etcd_status st, json_t *resp, const char *err)
{
    struct server_keyshare *ks = arg;
    if (server_keyshare_failed(ks, st, "lease", err))
        return;
    int64_t id = etcd_json_int(json_object_get(resp, "ID"), 0);
    if (etcd_json_int(json_object_get(resp, "TTL"), 0) <= 0 || id == 0) {
        ks->lease = 0; /* expired: a new one next tick; the lock and record went with it */
        ks->busy = false;
        return;
    }
    ks->lease = id;
    server_keyshare_read(ks);
}

static void server_keyshare_on_tick(evutil_socket_t fd, short what, void *arg)
{
    struct server_keyshare *ks = arg;
    (void)fd;
    (void)what;
    server_keyshare_arm(ks);
    if (ks->busy)
        return;
    ks->busy = true;
    if (ks->lease)
        etcd_call(ks->etcd, "/v3/lease/keepalive", json_pack("{s:I}", "ID", (json_int_t)ks->lease),
                  server_keyshare_on_lease, ks);
    else
        etcd_call(ks->etcd, "/v3/lease/grant", json_pack("{s:I}", "TTL", (json_int_t)ks->ttl),
                  server_keyshare_on_lease, ks);
}

/* ---- what the rest of the daemon asks --------------------------------- */

/* Whether zone z's store here is the set the fleet holds (no step of this
 * node waits to be written). */
static bool server_keyshare_local_is_fleet(struct server *srv, const struct server_keyshare_zone *z)
{
    const struct config *cfg = srv->cfg;
    for (size_t i = 0; i < cfg->n_zones; i++) {
        if (strcmp(cfg->zones[i].origin, z->origin) != 0)
            continue;
        struct errlist errs;
        errlist_init(&errs);
        char *text = server_keyshare_export(&cfg->zones[i], &errs);
        errlist_free(&errs);
        char digest[DIGEST_SHA256_HEX] = "";
        if (text)
            digest_sha256_hex(text, strlen(text), digest);
        server_keyshare_wipe(text);
        return strcmp(digest, z->digest) == 0;
    }
    return false;
}

/* server_keyshare_may_act's answer for z (NULL: past the zone limit). */
static bool server_keyshare_decide(struct server *srv, struct server_keyshare *ks,
                                   struct server_keyshare_zone *z, const char *origin, char *why,
                                   size_t len)
{
    if (!ks->leader) {
        snprintf(why, len, "the steps are %s's (it holds the fleet's key lock)",
                 ks->holder[0] ? ks->holder : "no node's yet");
        return false;
    }
    /* etcd holds no set for the zone (its last read, under this lock) and
     * this node holds the lock: it makes the first keys, written to etcd
     * at its next tick with a create-only compare. */
    if (z && !z->digest[0] && !z->writing && !json_object_get(ks->blobs, origin))
        return true;
    if (!z || !z->digest[0] || z->writing || !server_keyshare_local_is_fleet(srv, z)) {
        snprintf(why, len, "this node's last step is not written to etcd yet");
        return false;
    }
    size_t i;
    json_t *n;
    json_array_foreach(ks->live, i, n)
    {
        json_t *zones = json_object_get(ks->reports, json_string_value(n));
        const char *d = json_string_value(json_object_get(zones, origin));
        if (!d || strcmp(d, z->digest) != 0) {
            snprintf(why, len, "node %s has not loaded key set revision %llu", json_string_value(n),
                     (unsigned long long)z->rev);
            return false;
        }
    }
    return true;
}

bool server_keyshare_may_act(struct server *srv, const char *origin, char *why, size_t len)
{
    struct server_keyshare *ks = srv->keyshare;
    if (!ks)
        return true;
    struct server_keyshare_zone *z = server_keyshare_zone(ks, origin);
    bool may = server_keyshare_decide(srv, ks, z, origin, why, len);
    if (z) {
        z->may_step = may;
        snprintf(z->why_not, sizeof(z->why_not), "%s", may ? "" : why);
    }
    return may;
}

void server_keyshare_held(struct server *srv, const char *origin, bool held)
{
    struct server_keyshare *ks = srv->keyshare;
    struct server_keyshare_zone *z = ks ? server_keyshare_zone(ks, origin) : NULL;
    if (z)
        z->held = held;
}

/* Each shared zone's answer asked again after a read of etcd (reload_lock
 * held): true when one changed, for the view; *freed when the steps of a
 * zone whose key manager was held are this node's now (held is the key
 * manager's own flag: an admin call asking may_act in between must not
 * take the wake-up away). The key manager's timer is armed for the next step
 * it can see, and one it could not take sees nothing: a KSK whose DS left
 * the parent is seen to leave only by the parent's check, which a node
 * that may not step does not make. So a node whose steps were held (a
 * member had not reported the newest set yet) when its timer ran slept
 * until its next timestamp, in an hour, with the old KSK's DS gone from
 * the parent: the chain test's algorithm rollover under ASan, CI of the
 * thirty-first session. */
static bool server_keyshare_recheck(struct server_keyshare *ks, bool *freed)
{
    const struct config *cfg = ks->srv->cfg;
    bool changed = false;
    *freed = false;
    for (size_t i = 0; cfg && i < cfg->n_zones; i++) {
        const struct config_zone *c = &cfg->zones[i];
        if (!server_keyshare_managed(cfg, c))
            continue;
        struct server_keyshare_zone *z = server_keyshare_zone(ks, c->origin);
        if (!z)
            continue;
        bool was = z->may_step;
        char before[sizeof(z->why_not)], why[sizeof(z->why_not)];
        memcpy(before, z->why_not, sizeof(before));
        server_keyshare_may_act(ks->srv, c->origin, why, sizeof(why));
        changed |= was != z->may_step || strcmp(before, z->why_not) != 0;
        *freed |= z->held && z->may_step;
    }
    return changed;
}

void server_keyshare_kick(struct server *srv)
{
    if (srv->keyshare)
        event_active(srv->keyshare->tick, EV_TIMEOUT, 0);
}

json_t *server_keyshare_json(struct server *srv)
{
    struct server_keyshare *ks = srv->keyshare;
    if (!ks)
        return json_null();
    json_t *zones = json_array();
    for (size_t i = 0; i < ks->n_zones; i++) {
        const struct server_keyshare_zone *z = &ks->zones[i];
        json_t *o = json_pack("{s:s, s:s, s:I, s:s}", "zone", z->origin, "state", z->state, "rev",
                              (json_int_t)z->rev, "digest", z->digest);
        if (z->error[0])
            json_object_set_new(o, "error", json_string(z->error));
        /* Why this node takes no step that makes or deletes a key now:
         * the last answer to the key manager or to the tick's recheck. */
        json_object_set_new(o, "may_step", json_boolean(z->may_step));
        if (!z->may_step)
            json_object_set_new(o, "why_not", json_string(z->why_not));
        json_array_append_new(zones, o);
    }
    char kid[FLEET_KEYSEAL_KID];
    fleet_keyseal_kid(ks->secret, kid);
    /* What the last round read: the live members and the sets each says
     * it has loaded (why a holder waits is there to see); kept to make the
     * view again when a round finds them changed. */
    json_decref(ks->shown);
    ks->shown = json_pack("{s:o, s:o}", "live", json_deep_copy(ks->live), "loaded",
                          json_deep_copy(ks->reports));
    return json_pack("{s:s, s:b, s:s, s:s, s:s?, s:o, s:I, s:o, s:o}", "node", ks->node,
                     "lock_held", ks->leader, "lock_holder", ks->holder, "secret_id", kid,
                     "secret_pending", ks->pending[0] ? ks->pending : NULL, "zones", zones,
                     "round_at", (json_int_t)ks->round_at, "live", json_deep_copy(ks->live),
                     "loaded", json_deep_copy(ks->reports));
}

json_t *server_keyshare_reload_note(struct server *srv, const struct fleet_params *p)
{
    struct server_keyshare *ks = srv->keyshare;
    json_t *restart_needed = json_array();
    if (!ks || !p->has_key_secret)
        return restart_needed;
    if (memcmp(p->key_secret, ks->secret, sizeof(ks->secret)) == 0) {
        ks->pending[0] = '\0';
        return restart_needed;
    }
    char now[FLEET_KEYSEAL_KID], want[FLEET_KEYSEAL_KID];
    fleet_keyseal_kid(ks->secret, now);
    fleet_keyseal_kid(p->key_secret, want);
    snprintf(ks->pending, sizeof(ks->pending),
             "%s holds another key-sharing secret (id %s) than the one running (id %s): the "
             "running secret and keys stay until a restart",
             p->key_secret_file ? p->key_secret_file : "fleet.key_secret_file", want, now);
    log_warn("event=reload restart_needed=fleet.key_secret_file note=\"%s\"", ks->pending);
    json_array_append_new(restart_needed, json_string("fleet.key_secret_file"));
    return restart_needed;
}

void server_keyshare_start(struct server *srv, const struct fleet_params *p)
{
    if (!p->enabled || !p->has_key_secret)
        return;
    char err[256];
    struct server_keyshare *ks = calloc(1, sizeof(*ks));
    if (!ks)
        abort();
    ks->etcd = etcd_new(srv->base, &p->etcd, err, sizeof(err));
    ks->zones = calloc(SERVER_KEYSHARE_MAX_ZONES, sizeof(*ks->zones));
    if (!ks->etcd || !ks->zones) {
        log_error("event=dnssec_fleet_keys result=off error=\"%s\"", err);
        if (ks->etcd)
            etcd_free(ks->etcd);
        free(ks->zones);
        free(ks);
        return;
    }
    ks->srv = srv;
    ks->prefix = strdup(p->prefix);
    ks->node = strdup(p->node);
    memcpy(ks->secret, p->key_secret, sizeof(ks->secret));
    ks->ttl = p->stale_after;
    ks->reports = json_object();
    ks->live = json_array();
    ks->blobs = json_object();
    ks->tick = evtimer_new(srv->base, server_keyshare_on_tick, ks);
    pthread_mutex_lock(&srv->reload_lock);
    srv->keyshare = ks;
    pthread_mutex_unlock(&srv->reload_lock);
    log_info("event=dnssec_fleet_keys result=on node=%s prefix=%sdnssec/", ks->node, ks->prefix);
    event_active(ks->tick, EV_TIMEOUT, 0);
}

void server_keyshare_stop(struct server *srv)
{
    pthread_mutex_lock(&srv->reload_lock);
    struct server_keyshare *ks = srv->keyshare;
    srv->keyshare = NULL;
    pthread_mutex_unlock(&srv->reload_lock);
    if (!ks)
        return;
    event_free(ks->tick);
    etcd_free(ks->etcd); /* the calls out end with ETCD_ERR_CANCELLED: nothing touched */
    json_decref(ks->reports);
    json_decref(ks->shown);
    json_decref(ks->live);
    json_decref(ks->blobs);
    free(ks->loaded_sent);
    free(ks->prefix);
    free(ks->node);
    free(ks->zones);
    OPENSSL_cleanse(ks->secret, sizeof(ks->secret));
    free(ks);
}

/*
 * server_int.h -- what server.c (start, run, stop) and server_reload.c
 * (SIGHUP, POST /v1/reload, a secondary zone's new copy) share: the
 * server's state and the steps both use.
 *
 * Threads: the main thread owns the struct; reloads run on the main thread
 * or the admin thread, one at a time (reload_lock). Ownership as noted per
 * field: the server owns everything it points to but the borrowed readers.
 */
#ifndef GTM_DAEMON_SERVER_INT_H
#define GTM_DAEMON_SERVER_INT_H

#include <jansson.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <time.h>

#include "anycast/anycast_drain.h"
#include "common/bigalloc.h"
#include "common/errlist.h"
#include "control/config.h"
#include "control/config_api.h"
#include "control/config_digest.h"
#include "daemon/notify.h"
#include "admin/admin.h"
#include "daemon/server_safety.h"
#include "drill/drill.h"
#include "health/health.h"
#include "net/net.h"
#include "serve/serve.h"

struct admin;
struct anycast;
struct drill_service;
struct event;
struct event_base;
struct fleet;
struct gslb;
struct health_service;
struct policy_orders;
struct scheduler;
struct webhook_core;
struct xfr_in;
struct server_update;

struct server {
    char *config_path;
    const char *node; /* --node, or NULL */
    struct config *cfg;
    /* The file's stamp before cfg was read from it (config_api_seed). */
    struct config_api_stamp cfg_stamp;
    struct serve serve;                /* the served set, its readers and counters */
    bool serve_ready;                  /* serve_init ran (the "net" module) */
    struct serve_reader *widen_reader; /* the health thread's, for widened scopes */
    struct net net;                    /* DNS worker threads */
    struct server_update *updater;     /* RFC 2136 updates (server_update.h); NULL: none */
    struct event_base *base;
    uint64_t generation;
    struct health_core health;
    struct health_service *health_svc; /* expiry and the state file */
    struct drill_core drills;          /* initialised once the config is loaded */
    bool drills_ready;
    struct drill_service *drill_svc;   /* the drill thread: end times, abort_if */
    struct serve_reader *drill_reader; /* its reader of the served set */
    struct scheduler *sched;
    struct admin *admin;
    /* GET /v1/dnssec's view as last built (server_dnssec_view): the next
     * reload keeps the age of keys that stayed; admin gets a copy. Owned;
     * read and replaced only by the admin module's start and reload walk,
     * under reload_lock (a reload may run on the admin thread). */
    json_t *dnssec_view;
    struct webhook_core *webhooks; /* outgoing notifications; NULL: none */
    struct dnstap *dnstap;         /* the dnstap writer (dnstap.h); NULL: none */
    struct fleet *fleet;           /* NULL without a "fleet" section */
    struct server_safety safety;   /* the fleet's safety rule on adoption */
    struct config_digest digest;   /* of srv->cfg's shared part (server_config_hash) */
    struct load_dropper *dropper;  /* frees retired sets (load.h); NULL: waited for */
    /* The records array the policy set a reload retires gives back and the
     * next one takes (bigalloc.h); freed after every set. */
    struct bigalloc_spare records_spare;
    /* The table the policy sets' records intern their region lists in
     * (policy_orders.h); owned, freed after every set. */
    struct policy_orders *orders;
    pthread_mutex_t reload_lock; /* one reload at a time (SIGHUP, API, re-sign) */
    atomic_ullong reloads_ok, reloads_failed;
    /* Updates the updater answered, by rcode, and those that changed a
     * zone (server_update.c; /metrics). */
    atomic_ullong updates[ADMIN_UPDATE_RCODES], updates_changed;
    /* Zones signed at load: when the current set's signatures need
     * renewing (wall clock), 0 when no zone is signed at load. Written
     * under reload_lock. The timer runs on the main thread. */
    time_t resign_due;
    struct event *resign_timer;
    /* The key manager (server_kasp.c): its timer on the main thread, the
     * time it last looked (transitions after it are logged), and the
     * transitions so far (/metrics). Written under reload_lock. */
    struct event *kasp_timer;
    int64_t kasp_last;
    atomic_ullong kasp_transitions;
    /* The parent's DS as checked and pushed per zone (server_kasp_parent.c);
     * owned, main thread under reload_lock. Pushes by result (/metrics). */
    struct server_kasp_parents *kasp_parents;
    atomic_ullong kasp_ds_push_ok, kasp_ds_push_failed;
    atomic_ullong kasp_parent_ok, kasp_parent_failed; /* DS queries to parent servers */
    atomic_ullong kasp_ds_overdue; /* zones with a DS alarm (new DS missing, old DS staying) */
    /* The fleet's shared key sets (server_keyshare.c; NULL without
     * fleet.key_secret_file): main thread, status under reload_lock. */
    struct server_keyshare *keyshare;
    atomic_ullong keyshare_errors; /* sets that did not load (/metrics) */
    double started;
    struct notify notify; /* systemd's $NOTIFY_SOCKET (notify.h) */
    /* Secondary zones (xfr_in.h): the thread, and the event on the main
     * base it fires when a copy changed (a reload follows). */
    struct xfr_in *xfr_in;
    struct event *xfr_reload;
    /* The configuration's versions and the API's changes (config_api.h),
     * set up at start; confapi_ops hands them to the admin thread. */
    struct config_api confapi;
    bool confapi_ready;
    /* The copy of the document the first change would make, made beside
     * the start's compile (config_api_prewarm_begin); handed over when
     * confapi starts, dropped by a start that fails first. */
    struct config_api_prewarm *prewarm;
    struct admin_config_ops confapi_ops;
    /* Fitness to serve and the anycast route (anycast.h; the "anycast"
     * module, server_anycast.c): the controller, NULL before its start;
     * the drain, restored from the state file; the TUN device's
     * descriptor (-1: none), opened before the privilege drop and closed
     * last, after the route was withdrawn. */
    struct anycast *anycast;
    struct anycast_drain drain;
    int anycast_tun;
};

/* ---- server.c ---- */

/* Reads and checks the configuration file, or doc (borrowed): the
 * document that is to become it, or the running one's again (a secondary
 * zone's reload). NULL, with errs, if wrong. */
/* known: the delta of the change doc is (config_api_known_delta), or NULL:
 * the records it touched are compiled, the others taken as they run. */
struct config *server_load_config(struct server *srv, json_t *doc, json_t *known,
                                  struct errlist *errs);
/* 0 when RLIMIT_NOFILE covers what c and g need; else -1 and why in err. */
int server_check_nofile(const struct config *c, const struct gslb *g, char *err, size_t errlen);
/* The hash of the configuration a fleet node publishes (config_mismatch). */
void server_config_hash(struct server *srv, const struct config *cfg, const struct serve_set *set,
                        char out[24]);
/* The net params of c; np->listen is allocated (the caller frees it). */
void server_net_params(const struct config *c, struct net_params *np);
/* Hands the secondary zones of cfg to the secondary thread
 * (server_modules.c). */
void server_configure_secondaries(struct server *srv, const struct config *cfg,
                                  const struct serve_set *set);
double server_elapsed_ms(const struct timespec *t0);
void server_log_errors(const struct errlist *e, const char *prefix);
/* Tells systemd (and the log) what is served now. */
void server_notify_serving(struct server *srv, const struct serve_set *set);
/* Gives the scheduler the probe targets of set; the longest timeout (ms). */
uint32_t server_plan_probes(struct server *srv, const struct serve_set *set);
/* What a set about to be published names besides its data: the secondary
 * thread that takes NOTIFYs, the health service whose listener signs the
 * policy answers workers ask for. */
void server_set_hooks(struct server *srv, struct serve_set *set);
/* When the signatures of a set signed at load need renewing. */
void server_set_resign_due(struct server *srv);
/* Builds the zones again with fresh signatures and publishes them (a
 * failure keeps the old set, tried again in a minute). Caller holds
 * reload_lock. */
void server_resign(struct server *srv);
/* Logs the geo database of set; what POST /v1/reload shows of it. */
json_t *server_geo_loaded(const struct serve_set *set);

/* ---- server_anycast.c: the "anycast" module's steps ---- */

int server_anycast_start(struct server *srv, struct serve_set *set);
void server_anycast_apply(struct server *srv, const struct config *next,
                          const struct serve_set *set, bool same);
void server_anycast_keep(struct config *next, struct config *running);
void server_anycast_stop(struct server *srv);

/* ---- server_reload.c ---- */

/* Reloads the configuration file (doc NULL: every zone file read again),
 * or serves doc (borrowed; a change through the API: config_api.c): the
 * new set is served, or (with every error in the result) nothing changes.
 * *ok says which. Both go through one path (config_delta.h): a change
 * keeps what it does not touch. A served doc is written as the file right
 * after the swap, under reload_lock (so no other reload reads an older
 * file than what is served); "file_error" in the result when that
 * failed. The result belongs to the caller. Takes reload_lock. */
json_t *server_reload(struct server *srv, json_t *doc, bool *ok);
/* The view of c's signing policies and of the zones that name one
 * (server_dnssec.c); prev, the last view or NULL, keeps the time keys
 * that stayed were first seen. The caller owns it. */
json_t *server_dnssec_view(const struct config *c, json_t *prev);
/* GET /v1/dnssec's view of c built anew and handed to admin (when it
 * runs). Caller holds reload_lock. */
void server_dnssec_refresh(struct server *srv, const struct config *c);

/* ---- server_keyshare.c: a fleet signs with one key set ---- */
struct fleet_params;
/* Starts sharing the zones' key sets when p has a key secret (main thread). */
void server_keyshare_start(struct server *srv, const struct fleet_params *p);
void server_keyshare_stop(struct server *srv);
/* Whether the key manager may apply a step that makes or deletes a key of
 * zone origin here (true without key sharing); why not, in why. Main
 * thread, under reload_lock. */
bool server_keyshare_may_act(struct server *srv, const char *origin, char *why, size_t len);
/* Runs the key sharing's round now (a step was taken); main thread. */
void server_keyshare_kick(struct server *srv);
/* The key manager's run for origin could step (held false) or not (held
 * true): a held zone's key manager is woken once its steps are this
 * node's (server_keyshare.c's recheck). Under reload_lock. */
void server_keyshare_held(struct server *srv, const char *origin, bool held);
/* GET /v1/dnssec's "fleet_keys" (null without key sharing); under reload_lock. */
json_t *server_keyshare_json(struct server *srv);
/* A reload whose fleet.key_secret_file holds another secret than the
 * running one (p, the new configuration's, read before the modules'
 * reload puts the running fleet params back): the running secret stays
 * (a restart applies it; every node must change together); a warning,
 * fleet_keys.secret_pending, and the returned array (the caller's) holds
 * "fleet.key_secret_file" for restart_needed (empty otherwise). Under
 * reload_lock. */
json_t *server_keyshare_reload_note(struct server *srv, const struct fleet_params *p);

/* ---- server_kasp.c: the key manager ---- */

/* Fills the keys of every zone of cfg under a policy with a
 * key_directory from its key store (before a load), making the first
 * keys of an empty store; act: also take the steps that are due (at
 * start; at a reload they are the timer's, which signs the served set
 * again: a zone the reload keeps keeps its old signatures). false with
 * messages naming the file. */
bool server_kasp_prepare(struct server *srv, struct config *cfg, bool act, struct errlist *errs);
/* The timer (main thread): started once the first set serves. */
void server_kasp_start(struct server *srv);
void server_kasp_stop(struct server *srv);

/* ---- server_kasp_parent.c: the parent's DS, checked and pushed ---- */
struct zone_kasp_keys;
struct zone_kasp_parent;
struct zone_kasp_policy;
/* Checks the parent's servers and pushes the DS when due for zone z
 * (keys as loaded at now); *view gets the zone's parent state for the
 * scheduler. Returns when it wants to run again (-1: nothing to watch). */
int64_t server_kasp_parent_step(struct server *srv, const struct config_zone *z,
                                const struct zone_kasp_policy *p, const struct zone_kasp_keys *keys,
                                int64_t now, const struct zone_kasp_parent **view);
/* After the steps of zone z changed its keys at now: the push they make
 * due (an old KSK's DS delete, once the new DS is seen) is built at once
 * from the last check rather than at the next one. Returns now when a
 * push waits to be sent, else -1. */
int64_t server_kasp_parent_after(struct server *srv, const struct config_zone *z,
                                 const struct zone_kasp_policy *p,
                                 const struct zone_kasp_keys *keys, int64_t now);
/* Adds "parent" to each zone of view (GET /v1/dnssec) that has a state. */
void server_kasp_parent_decorate(struct server *srv, json_t *view);
/* The parent's DS queries off reload_lock (each server up to 1 s, so
 * that the admin API and reloads never wait on them): _take (under the
 * lock) moves out what the steps asked for, _ask (without it) asks, and
 * _put (under the lock again) hands the answers to the next step, which
 * matches them to the keys; put frees f. */
struct server_kasp_fetch;
struct server_kasp_fetch *server_kasp_parent_fetch_take(struct server *srv);
void server_kasp_parent_fetch_ask(struct server_kasp_fetch *f);
void server_kasp_parent_fetch_put(struct server *srv, struct server_kasp_fetch *f);
void server_kasp_parent_free(struct server *srv);
/* An emergency rollover (POST /v1/dnssec/ZONE/rollover, admin thread)
 * of key "zsk", "ksk" or "algorithm": the result and its HTTP status;
 * takes reload_lock. */
json_t *server_kasp_rollover(struct server *srv, const char *zone, const char *key, bool force,
                             int *status);
/* Logs and counts a key transition (events "dnssec_key"). */
struct zone_kasp_key;
void server_kasp_note(struct server *srv, const char *zone, const struct zone_kasp_key *k,
                      const char *what, int64_t at);

/* ---- server_kasp_algroll.c: the algorithm rollover ---- */
/* Makes a KSK and a ZSK of p's algorithm into keys and plans the
 * rollover from now (zone_kasp_algroll_start); the caller saves keys.
 * false with a message naming the key directory. */
bool server_kasp_algroll_begin(struct server *srv, const struct config_zone *z,
                               const struct zone_kasp_policy *p, struct zone_kasp_keys *keys,
                               int64_t now, struct errlist *errs);
/* POST .../rollover {"key": "algorithm"} on keys loaded from the store:
 * refused (409, with why) while one is in flight or when the keys are of
 * the policy's algorithm already; else begun and saved. */
json_t *server_kasp_algroll_api(struct server *srv, const struct config_zone *z,
                                const struct zone_kasp_policy *p, struct zone_kasp_keys *keys,
                                int *status, struct errlist *errs);
/* Validates doc as a change's reload would (control_validate_fn):
 * the same configuration, delta and set built, then freed. */
struct errlist;
void server_validate(struct server *srv, json_t *doc, struct errlist *errs, struct errlist *warns);
/* control_build_fn: load_set_warn of a candidate (server_reload.c). */
struct serve_set *server_build(struct config *cfg, struct health_core *core, struct errlist *errs,
                               struct errlist *warns);

/* The reload a secondary zone asks for (a catalog's new copy, a copy that
 * cannot be loaded alone): the running configuration's document again,
 * not the file, whose edits wait for the operator's reload; compared like
 * a change that touched nothing (zones kept but secondary and catalog
 * ones, whose copies are read). The file is not written and the
 * configuration API notes no version. As server_reload otherwise. */
json_t *server_reload_running(struct server *srv, bool *ok);

/* ---- server_secondary.c ---- */

/* The secondary thread said zones changed: each new copy loaded alone
 * and published, the rest shared (a catalog's, or one that cannot be
 * loaded alone: a reload of the running configuration); expiry applied to
 * the zones served. Main thread. */
void server_secondaries_changed(struct server *srv);

#endif

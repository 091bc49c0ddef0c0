/*
 * admin.h -- the REST/JSON admin API (doc/admin-api.md) and /metrics.
 *
 * libevent's evhttp on its own thread and event_base, listening on TCP
 * and/or unix sockets (mode 0600). Bearer tokens: a read token and an
 * operate token (operate implies read), compared in constant time. Every
 * mutating call appends one JSON line to the audit log, kept open and
 * reopened on request (admin_reopen_audit).
 *
 * The admin thread is a reader of the serve core (serve/serve.h): it reads
 * the served set and the query and policy counters through it, health
 * state through the health core (the health service writes the state
 * file), drills through the drill core (it starts and aborts them, and
 * listens to it to audit every end), and runs reloads through the
 * daemon's callback (serialised with SIGHUP). It knows nothing of the DNS
 * workers (net/).
 *
 * Ownership: admin_new() returns an object owned by the caller; the env
 * pointers given to admin_start must outlive it (admin_stop frees it).
 */
#ifndef GTM_ADMIN_ADMIN_H
#define GTM_ADMIN_ADMIN_H

#include <jansson.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "admin/admin_config.h"
#include "drill/drill.h"
#include "health/health.h"
#include "serve/serve.h"

struct webhook_core;
struct dnstap;

struct health_service;
struct fleet;
struct shared_store;

/* The configuration's resources (admin_confapi.c), served by the daemon
 * (config_api.h): the document and its version, a change applied (or
 * validated only), the versions kept. Every json_t returned belongs to
 * the caller; doc is borrowed. */
struct config_api; /* the daemon's (control/config_api.h), opaque here */
struct server;     /* the daemon's: its reload */

/* A change made to the newest document where it is applied (the store
 * thread), so that changes from clients that run at once neither copy the
 * document each nor conflict: fn sets or removes resources of doc (a copy
 * whose members are shared with the running document's: replaced, never
 * changed in place), notes each in touched (KIND -> {NAME: true}) and may
 * refine change (the history's text: "create" or "replace"); it returns 0,
 * or an HTTP status with why, doc then left as it found it. */
struct admin_config_edit {
    int (*fn)(json_t *doc, json_t *touched, void *arg, char *change, size_t change_len, char *why,
              size_t why_len);
    void *arg;
    uint64_t if_version; /* If-Match (0: none); only edits without one are grouped */
    bool dry_run;
    const char *clients; /* dry run: the what-if's clients (NULL: none) */
    const char *author;
    char change[700];
    int status;  /* out: the HTTP status */
    json_t *out; /* out: the reply's body (the caller's) */
};

struct admin_config_ops {
    /* A copy to edit, its version and its origin (for apply). */
    json_t *(*document)(struct config_api *api, uint64_t *version, uint64_t *origin, char *err,
                        size_t len);
    /* The same to read: a new root whose kinds' objects are the running
     * document's own (only its top-level keys may be replaced). */
    json_t *(*read)(struct config_api *api, uint64_t *version, char *err, size_t len);
    /* Runs on the admin API's store thread (it may wait for etcd, and a
     * reload takes a while): doc was made from version base, editing the
     * copy document gave with origin; touched: what the edit set or
     * removed, KIND -> {NAME: true} for every kind (NULL: unknown). */
    json_t *(*apply)(struct config_api *api, json_t *doc, uint64_t base, uint64_t origin,
                     json_t *touched, uint64_t if_version, const char *author, const char *change,
                     bool dry_run, const char *clients, int *status);
    /* Store thread: edits[0..n) made in order on one copy of the newest
     * document, which is then served as one version (group commit: a
     * reload for all the changes that queued behind the one before). An
     * edit that fails is answered alone and changes nothing; when the
     * version would not load, each edit is tried alone, in order, so that
     * only the invalid ones are refused. A dry run or an If-Match edit
     * comes alone (n = 1). */
    void (*edit)(struct config_api *api, struct admin_config_edit *const *edits, size_t n);
    /* Store thread, when no call came for a while (admin_store.c): makes
     * ready what the next change would make on its path (NULL: nothing),
     * so that the first change after a start costs what any other does.
     * True when it is to be asked again while the thread stays idle (a
     * fleet node: versions come to it without a call). */
    bool (*warm)(struct config_api *api);
    json_t *(*history)(struct config_api *api);
    json_t *(*version)(struct config_api *api, uint64_t v);
    struct config_api *api;
};

/* The kinds of resources /v1/config serves and changes: the only parts of
 * the configuration the API sends or touches. NULL-terminated. */
extern const char *const admin_config_kinds[];

#define ADMIN_UPDATE_RCODES 11 /* NOERROR .. NOTZONE */

struct admin_env {
    struct serve *serve; /* admin_start takes a reader slot of it */
    struct health_core *health;
    struct health_service *health_service; /* writes the state file (service.h) */
    struct drill_core *drills;             /* drills (drill.h); admin_start listens */
    /* Reloads config and zones; returns the JSON result (caller frees). */
    json_t *(*reload)(struct server *srv, json_t *doc, bool *ok); /* doc: NULL */
    struct server *reload_arg;
    double started;            /* wall-clock start time */
    unsigned workers;          /* DNS worker count, for /v1/status */
    atomic_ullong *reloads_ok; /* owned by the daemon */
    atomic_ullong *reloads_failed;
    /* POST /v1/dnssec/ZONE/rollover (server_kasp.c, under the daemon's
     * reload lock): the result JSON (the caller's) and its HTTP status;
     * NULL: not offered. Called with reload_arg. */
    json_t *(*dnssec_rollover)(struct server *srv, const char *zone, const char *key, bool force,
                               int *status);
    /* Key transitions of the key manager (server_kasp.c); the daemon's. */
    atomic_ullong *kasp_transitions;
    atomic_ullong *kasp_ds_push_ok, *kasp_ds_push_failed; /* DS pushes by result */
    atomic_ullong *kasp_parent_ok, *kasp_parent_failed;   /* DS checks, by answered or not */
    atomic_ullong *kasp_ds_overdue; /* zones waiting for a DS past parent.ds_wait_warn */
    atomic_ullong *keyshare_errors; /* fleet key sets that did not load */
    /* Dynamic updates the updater answered (doc/updates.md), by rcode
     * (ADMIN_UPDATE_RCODES of them, 0..10), and those that changed a
     * zone; owned by the daemon. */
    atomic_ullong *updates;
    atomic_ullong *updates_changed;
    struct fleet *fleet;                   /* NULL without a fleet (fleet_view.h) */
    const struct shared_store *store;      /* overrides go through it when not NULL */
    struct webhook_core *webhooks;         /* outgoing notifications (webhook.h); NULL: none */
    const struct dnstap *dnstap;           /* the dnstap writer (dnstap.h); NULL: none */
    const struct admin_config_ops *config; /* /v1/config (NULL: not served); outlives admin */
    struct anycast *anycast;               /* fitness and route (anycast.h); NULL: none */
    struct anycast_drain *drain;           /* the node's drain (anycast_drain.h); outlives admin */
};

struct admin;
struct anycast;
struct anycast_drain;

/* Opens the listeners of cfg (TCP and unix sockets), starting no thread:
 * the daemon binds before it drops its privileges. Unix sockets are given
 * to owner and group (the user gtmd drops to; (uid_t)-1 and (gid_t)-1:
 * unchanged), mode 0600. Connections wait in the backlog until
 * admin_start. NULL with a message in err when a listener cannot be
 * opened. */
struct admin *admin_new(const struct admin_params *cfg, uid_t owner, gid_t group, char *err,
                        size_t errlen);
/* Starts the admin thread on a's listeners (cfg: the same section; its
 * tokens and audit log apply). -1 with a message in err; admin_stop
 * cleans up either way. */
int admin_start(struct admin *a, const struct admin_env *env, const struct admin_params *cfg,
                char *err, size_t errlen);
/* New tokens and audit log after a reload (listeners stay). */
void admin_update(struct admin *a, const struct admin_params *cfg);
/* Opens the audit log again by its path (SIGUSR1, after logrotate moved
 * it): later lines go to the new file. On failure the old file is kept
 * and -1 returned (logged). Any thread. */
int admin_reopen_audit(struct admin *a);
void admin_stop(struct admin *a);

/* The view GET /v1/dnssec serves ({"policies": [...], "zones": [...]},
 * built by the daemon from the configuration: zone_kasp.h); admin takes
 * it and frees the one it replaces. Any thread. */
void admin_set_dnssec(struct admin *a, json_t *view);

/* The API's safety rule, for a record of kind ("overrides", "drills") as
 * the API writes it to the shared store: true when applying it on s would
 * leave a policy record that is served now with no serving region (why
 * says which). Any thread that has entered s. An override of a target s
 * does not have, or a drill whose fields do not parse, is not unsafe
 * (nothing changes; the field rules are checked where it is applied). */
bool admin_record_unsafe(const struct serve_set *s, const char *kind, json_t *record, char *why,
                         size_t len);

#endif

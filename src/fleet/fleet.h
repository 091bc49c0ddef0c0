/*
 * fleet.h -- the prober fleet: several gtmd nodes share their probe
 * observations, overrides (and drills, through the shared store) in etcd
 * and decide endpoint health by a quorum of vantage points (doc/fleet.md).
 *
 * The fleet client runs on its own thread with its own event base. It
 *  - keeps a lease (TTL stale_after) and, on it, PREFIX/nodes/NODE (version,
 *    config hash, vantage, last seen) and PREFIX/reports/NODE/ENDPOINT for
 *    every checked endpoint: this node's damped probe state, written when
 *    it changes (never per probe result);
 *  - reads PREFIX at start and after any loss of etcd (a fresh range read)
 *    and then watches it, so it always holds every node's observations,
 *    the live nodes and the shared overrides;
 *  - computes each endpoint's fleet verdict (fleet_quorum.h) and publishes
 *    it in the slot's fleet byte, which the query path reads lock-free
 *    (precedence: override > fleet > probe); a node whose own probe
 *    disagrees serves the fleet verdict and reports the disagreement;
 *  - applies shared overrides to the health core and shared drills to the
 *    drill core as the watch delivers them (and deletes the key of a drill
 *    this node ended), and implements the shared store (shared_store.h)
 *    through which the admin API creates and removes both in etcd
 *    transactions;
 *  - without etcd it keeps the last known state; after stale_after seconds
 *    without a reply it clears every fleet byte (own probes again, event
 *    fleet_degraded) until a fresh read succeeds (fleet_recovered).
 *
 * Threads: start, set_endpoints, wait_synced and stop from the main
 * thread; the views (fleet_view.h) and the store from the admin thread.
 *
 * Ownership: fleet_start copies the params and env strings; fleet_stop
 * revokes the lease (best effort), stops the thread and frees everything.
 * The health core and service must outlive the fleet.
 */
#ifndef GTM_FLEET_FLEET_H
#define GTM_FLEET_FLEET_H

#include <stdbool.h>
#include <stddef.h>

#include "fleet/fleet_config.h"
#include "fleet/fleet_params.h"
#include <jansson.h>

#include "health/health.h"
#include "health/shared_store.h"

struct gslb;
struct health_service;

/* The safety rule, for an override or drill another node wrote (fleet
 * thread): true when applying record (kind "overrides" or "drills", the
 * record as the API writes it) would leave a policy record that is served
 * now with no serving region on this node; why then says which. */
typedef bool (*fleet_unsafe_fn)(void *arg, const char *kind, json_t *record, char *why, size_t len);

struct fleet_env {
    struct health_core *health;
    struct health_service *health_service; /* state file writes after shared changes */
    struct drill_core *drills;             /* shared through etcd too; may be NULL */
    const char *version;                   /* gtmd version */
    const char *const *vantage;            /* probe_source addresses as written */
    size_t n_vantage;
    fleet_unsafe_fn unsafe; /* NULL: the safety rule is not checked on adoption */
    void *unsafe_arg;
    /* The fleet's configuration (fleet_config.h): NULL when this node does
     * not follow it; config_applied is the version it serves at start. */
    fleet_config_fn on_config;
    void *config_arg;
    uint64_t config_applied;
    /* The shared part of the document this node serves, when that is no
     * version of the fleet's (a node joining, or the first node): a whole
     * version whose parts' digest is its compact text's is taken as this
     * document, not read from etcd and parsed (at 1,000,000 records some
     * 90 MB, and the parsed copy freed on the main thread as the first
     * change came). Borrowed: fleet_start takes a reference. NULL: none. */
    json_t *config_own;
    /* Where the direct peer channel listens when fleet.peer_listen is
     * absent ("IP:0": the admin API's address; NULL: off). */
    const char *peer_default;
};

struct fleet;

/* Starts the fleet thread; NULL with a message in err (bad TLS files...).
 * It connects in the background. */
struct fleet *fleet_start(const struct fleet_params *p, const struct fleet_env *env, char *err,
                          size_t errlen);

/* The checked endpoints of g (their slot keys and slots are copied) and
 * the config hash this node now serves; at start and after each reload. */
void fleet_set_endpoints(struct fleet *f, const struct gslb *g, const char *config_hash);

/* Waits until the first read of etcd is applied, at most timeout_s. */
bool fleet_wait_synced(struct fleet *f, double timeout_s);

/* The shared store on etcd for the admin API. */
const struct shared_store *fleet_store(struct fleet *f);

/* Whether an operator drained this node (anycast_drain.h): its node
 * record in etcd says so, for every node's fleet view. Any thread. */
void fleet_set_drained(struct fleet *f, bool drained);

/* This node's name. */
const char *fleet_node(const struct fleet *f);

void fleet_stop(struct fleet *f);

#endif

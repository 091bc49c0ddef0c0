/*
 * fleet_params.h -- the "fleet" section of the configuration (gtmd.conf(5),
 * doc/fleet.md): where etcd is, the key prefix, this node's name, the
 * quorum rule and how long the fleet state stays trusted without etcd.
 *
 * Absent section: enabled is false and gtmd is a single node. The node
 * name defaults to the host name; the command line (--node) overrides it
 * after parsing (fleet_params_set_node).
 *
 * Ownership: a struct fleet_params owns its strings (fleet_params_free);
 * the password is read from password_file at parse time.
 */
#ifndef GTM_FLEET_FLEET_PARAMS_H
#define GTM_FLEET_FLEET_PARAMS_H

#include <jansson.h>
#include <stdbool.h>

#include "common/cfgschema.h"
#include "common/jsoncfg.h"
#include "fleet/etcd.h"
#include "fleet/fleet_quorum.h"
#include "fleet/fleet_sign.h"

#define FLEET_NODE_MAX 63

/* What a node does with policy names once its view of etcd is older than
 * isolation.after (doc/fleet.md): keep answering from it, or answer
 * REFUSED / SERVFAIL so resolvers use the other name servers. */
enum fleet_isolation {
    FLEET_ISOLATION_SERVE = 0,
    FLEET_ISOLATION_REFUSE,
    FLEET_ISOLATION_SERVFAIL
};

/* The rule of the live verdict (fleet_stamped.c, fleet_decide.h). */
enum fleet_decision { FLEET_DECISION_STAMPED = 0, FLEET_DECISION_GAPS };

struct fleet_params {
    bool enabled;
    struct etcd_params etcd; /* urls, credentials, TLS files, call timeout */
    char *prefix;            /* ends with '/'; default "/gtmd/" */
    char *node;              /* [A-Za-z0-9._-], 1..63 characters */
    struct fleet_quorum quorum;
    double stale_after;     /* seconds; also the TTL of the node's lease */
    double isolation_after; /* seconds (default stale_after) */
    enum fleet_isolation isolation;
    char *password_file;     /* full path, NULL without one: read again at every reload */
    struct fleet_keys keys;  /* "members" and "key_file" (fleet_sign.h) */
    double latency_interval; /* seconds: at most one write of this node's round-trip
                                table per interval (fleet_rtt.c) */
    /* false: a watcher, which neither probes nor writes reports, and
     * serves the verdicts of the nodes that publish (doc/fleet.md). */
    bool publish;
    unsigned read_page; /* keys per request of a fresh read (pages) */
    /* KiB of each part of a whole configuration document in etcd
     * (fleet_config_parts.c); 0 (a fleet made without params): 512. */
    unsigned config_part_kib;
    /* The direct peer channel (fleet_peer.h): "peer_listen": false turns
     * it off; a string is where it listens ("IP:PORT"); absent (NULL): the
     * admin API's address, a port the kernel picks (fleet_env). */
    bool peer_off;
    char *peer_listen;
    /* "decision": the rule of the live verdict (doc/fleet.md "The live
     * verdict"): the stamped rule (default), or the gaps rule of the
     * releases before, for an operator who must go back. */
    enum fleet_decision decision;
    /* "key_secret_file": the fleet's key-sharing secret (fleet_keyseal.h),
     * read at parse time; with it the zones under a signing policy share
     * one key set through etcd (doc/dnssec.md, "Fleet keys"). */
    char *key_secret_file; /* full path, NULL: no key sharing */
    bool has_key_secret;
    unsigned char key_secret[32];
};

/* The keys of the "fleet" section: fleet_schema's entries. */
enum fleet_key {
    FLEET_K_ETCD,
    FLEET_K_PREFIX,
    FLEET_K_NODE,
    FLEET_K_DOWN_QUORUM,
    FLEET_K_STALE_AFTER,
    FLEET_K_TLS,
    FLEET_K_USERNAME,
    FLEET_K_PASSWORD_FILE,
    FLEET_K_TIMEOUT,
    FLEET_K_ISOLATION,
    FLEET_K_KEY_FILE,
    FLEET_K_MEMBERS,
    FLEET_K_LATENCY_INTERVAL,
    FLEET_K_PUBLISH,
    FLEET_K_READ_PAGE,
    FLEET_K_PEER_LISTEN,
    FLEET_K_DECISION,
    FLEET_K_KEY_SECRET_FILE,
    FLEET_K_CONFIG_PART_KIB,
    FLEET_K_N
};
enum fleet_tls_key { TLS_CA_FILE, TLS_CERT_FILE, TLS_KEY_FILE, TLS_N };
extern const struct cfgschema fleet_schema, fleet_tls_schema;

/* Parses v (the "fleet" value, NULL when absent) into out. */
void fleet_params_parse(const struct jsoncfg *j, json_t *v, struct fleet_params *out);
/* Replaces the node name (--node); false when the name is not valid, or
 * not a member whose key is this node's (with "members"). */
bool fleet_params_set_node(struct fleet_params *p, const char *node);
/* True for a usable node name: 1..63 of [A-Za-z0-9._-]. */
bool fleet_node_name_ok(const char *s);
void fleet_params_free(struct fleet_params *p);
/* What runs that the file does not show, into part (the section's
 * restart-only part, cfgschema_restart_part): the node's name as
 * resolved (the host name, --node) and, for password_file, a SHA-256 of
 * the password read from it. The fleet keeps both from its start, so a
 * reload that changes them needs a restart like a changed key. */
void fleet_params_restart_inputs(const struct fleet_params *p, json_t *part);
/* "serve", "refuse", "servfail". */
const char *fleet_isolation_name(enum fleet_isolation a);
/* "stamped", "gaps". */
const char *fleet_decision_name(enum fleet_decision d);

#endif

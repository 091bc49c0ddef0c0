/*
 * config.h -- the JSON configuration file (gtmd.conf(5)).
 *
 * config_load() reads and validates the whole file; every problem is added
 * to errs as "FILE: $.json.path: message" (or FILE:LINE for JSON syntax), so
 * 'gtmd check' can print them all at once. Paths inside the file are relative
 * to the file's directory and are stored resolved.
 *
 * Ownership: a struct config owns all its strings; config_free() releases it.
 */
#ifndef GTM_CONTROL_CONFIG_H
#define GTM_CONTROL_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/types.h>

#include "admin/admin_config.h"
#include "common/errlist.h"
#include "control/config_api.h"
#include "fleet/fleet_params.h"
#include "drill/drill_params.h"
#include "geo/geo_params.h"
#include "guard/guard_config.h"
#include "webhook/webhook_params.h"
#include "net/tls_params.h"
#include "anycast/anycast_params.h"
#include "dnstap/dnstap_params.h"
#include "net/xdp_params.h"
#include "health/health_params.h"
#include "dns/tsig.h"
#include "zone/zone_kasp.h"
#include "zone/zone_params.h"
#include "zone/zone_update_params.h"
#include "zone/zone_xfr_params.h"
#include "xfr/xfr_in_params.h"

struct gslb;

struct config_listen {
    struct sockaddr_storage addr;
    socklen_t addr_len;
    char *text; /* as written */
};

struct config_zone {
    char *origin;                     /* absolute, presentation form */
    char *file;                       /* resolved path */
    struct zone_dnssec_params dnssec; /* the entry's "dnssec" object */
    struct zone_xfr_params xfr;       /* the entry's "transfer" object */
    struct xfr_in_params primary;     /* "primary": a secondary zone when primary.n > 0 */
    char *catalog_dir;                /* "catalog": a catalog zone; its members' copies here */
    bool catalog_member;              /* listed by a catalog, not in the file */
    /* "generate_catalog": gtmd makes this zone (no file: file is NULL), a
     * catalog of its other zones (xfr_catalog_gen.h): those in
     * gen_members, or every zone but catalogs when gen_members is NULL. */
    bool gen_catalog;
    char **gen_members; /* absolute presentation forms, lowercase; owned */
    size_t n_gen_members;
    struct zone_update_params update; /* "update": who may change it by RFC 2136 */
};

struct config_tcp {
    unsigned max_connections; /* across all workers */
    unsigned idle_timeout_ms;
    unsigned message_timeout_ms;
};

/* The "user" and "group" gtmd runs as after binding its sockets. */
struct config_user {
    char *user;  /* NULL: stay as started */
    char *group; /* the group's name (given, or the user's primary group) */
    uid_t uid;
    gid_t gid;
};

struct config {
    char *path;
    char *dir;
    struct config_user run_as;
    struct config_listen *listen;
    size_t n_listen;
    unsigned workers; /* resolved: 0 in the file means one per core */
    bool pin_workers; /* pin each worker thread to a CPU (net/spread.h) */
    bool udp_hash;    /* udp_steering "hash": the kernel's hash, not the receiving CPU */
    struct config_zone *zones;
    size_t n_zones;
    uint16_t edns_udp_max;
    struct config_tcp tcp;
    struct xdp_params xdp;         /* "xdp": the AF_XDP listener (enabled false when absent) */
    struct tls_params tls;         /* "tls": DNS over TLS (enabled false when absent) */
    struct dnstap_params dnstap;   /* "dnstap": the query log (enabled false when absent) */
    struct anycast_params anycast; /* "anycast": route control (enabled false when absent) */
    char *identity;                /* NULL: hidden (false or ""); default the host name,
                                      or the fleet's node name with a fleet */
    bool identity_default;         /* "identity" absent: --node changes it too */
    char *version;                 /* NULL: hidden; default "gtmd VERSION" */
    struct cookie_params cookies;  /* as configured; the loader decides the secret */
    struct rrl_params *rrl;        /* owned; NULL: no rate limiting (load_set takes it) */
    struct admin_params admin;
    struct health_params health;         /* state_file, state_max_age, probe_source */
    struct webhook_params notify;        /* "notify": outgoing webhooks */
    struct config_api_params config_api; /* "config_api": changes through the API */
    struct geo_params geo;               /* geoip: the database file */
    struct drill_params drills;          /* the "drills" section */
    struct fleet_params fleet;           /* "fleet"; enabled false when absent */
    struct tsig_keyring tsig;            /* "tsig_keys" (the loader moves it into the set) */
    struct zone_kasp_set kasp;           /* "dnssec_policies": signing policies */
    /* What only a restart applies, as it runs: the canonical values of
     * the keys flagged restart-only (config_keys.h; defaults filled in)
     * and, of the keys partly so, their schema's restart-only part
     * (cfgschema_restart_part); then what runs that the file does not
     * show (config_restart_inputs). A reload compares them
     * ("restart_needed", server_modules.h). Owned. */
    json_t *restart_part;
    struct gslb *gslb; /* regions, checks, pools, records; never NULL once loaded */
    /* The document it was loaded from (one reference; never changed): what
     * the next configuration is compared with (config_delta.h), and what a
     * secondary zone's reload reads again rather than the file, so that an
     * edit not yet reloaded by the operator is not applied by it. */
    json_t *root;
    /* The running daemon's loads (start, reload, re-sign) set a secondary
     * zone's copy that does not load aside, to be transferred anew
     * (load.h); 'gtmd check' and the configuration API's checks only say
     * so. Not from the file. */
    bool set_aside_broken;
    /* Read from the running configuration's root again (a secondary
     * zone's reload), not from the file nor a change through the API: no
     * version is noted and the file is not written. Set by the daemon. */
    bool from_running;
};

/* NULL when the file has errors (all of them in errs). */
struct config *config_load(const char *path, struct errlist *errs);
/* The same for a document already parsed (a change through the API, which
 * is not read back from a file): root is borrowed (the config takes a
 * reference and never changes it); path names it in messages and is
 * where relative paths resolve from. */
struct config *config_load_doc(const char *path, json_t *root, struct errlist *errs);
/* The same, taking the compiled records the document did not change from
 * the running policy set (policy_config.h: policy_config_parse_reuse). */
struct policy_reuse;
struct config *config_load_doc_reuse(const char *path, json_t *root,
                                     const struct policy_reuse *reuse, struct errlist *errs);
/* config_load with reuse (NULL: none; borrowed for the call), as
 * config_load_doc_reuse takes it. */
struct config *config_load_reuse(const char *path, const struct policy_reuse *reuse,
                                 struct errlist *errs);
/* The part of a configuration document every node of a fleet shares: a
 * shallow copy of root without the node-local keys (listen, admin, fleet,
 * config_api...). The caller owns it. */
json_t *config_shared_part(json_t *root);
/* shared's shared part with local's node-local keys: the document a node
 * serves of a fleet's configuration. The caller owns it. */
json_t *config_with_local(json_t *shared, json_t *local);
void config_free(struct config *c);
/* Adds to c's restart_part what runs that the file does not show: the
 * fleet's resolved node name and password (fleet_params_restart_inputs),
 * the user's ids as the user database gives them now. Called once the
 * command line has been applied (--node). */
void config_restart_inputs(struct config *c);

#endif

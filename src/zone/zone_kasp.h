/*
 * zone_kasp.h -- signing policies: the top-level "dnssec_policies" of
 * the configuration (gtmd.conf(5), DNSSEC POLICIES), named after Knot's
 * "policy" section in gtmd's snake_case, and what each one computes
 * (zone_kasp_timeline.h):
 *
 *   "dnssec_policies": {"default": {
 *       "algorithm": 13, "ksk_lifetime": "none", "zsk_lifetime": 2592000,
 *       "dnskey_ttl": 3600, "zone_max_ttl": 86400, "propagation_delay": 3600,
 *       "signature_validity": 1209600, "signature_refresh": 345600,
 *       "denial": "nsec3", "nsec3": {"iterations": 0},
 *       "publish_safety": 3600, "retire_safety": 3600,
 *       "parent": {"cds": true, "ds_ttl": 86400, "registration_delay": 86400,
 *                  "propagation_delay": 3600, "check_interval": 60, "ds_digest": "sha256",
 *                  "ds_push": {"primary": "192.0.2.1:53", "key": "up.example."},
 *                  "servers": ["192.0.2.1:53"]}}}
 *
 * A zone names one with "dnssec": {"policy": NAME, "key_directory": DIR}
 * (gtmd makes, keeps and rolls its keys: zone_kasp_store.h,
 * zone_kasp_sched.h, daemon/server_kasp.c) or {"policy": NAME, "keys":
 * [...]} (the operator's keys): either way the zone is signed on the
 * policy's settings (denial, NSEC3 iterations, signature validity and
 * refresh) and its timeline shown (doc/dnssec.md, "Signing policies").
 *
 * Ownership: a zone_kasp_set owns its policies and their strings
 * (zone_kasp_free).
 */
#ifndef GTM_ZONE_KASP_H
#define GTM_ZONE_KASP_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "common/cfgschema.h"
#include "common/jsoncfg.h"
#include "zone/zone_kasp_timeline.h"

#define ZONE_KASP_MAX_SERVERS 8

struct zone_kasp_policy {
    char *name;
    uint8_t algorithm;                    /* 8, 13 or 15 */
    uint32_t ksk_lifetime;                /* seconds; 0: "none" (no scheduled KSK rollover) */
    uint32_t zsk_lifetime;                /* seconds; 0: "none" */
    struct zone_kasp_timing timing;       /* the durations, RFC 7583's names */
    uint32_t validity, refresh;           /* signature_validity, signature_refresh */
    bool nsec3;                           /* "denial": "nsec3" */
    uint16_t iterations;                  /* NSEC3 extra iterations */
    bool cds;                             /* parent.cds: publish CDS/CDNSKEY (RFC 7344) */
    char *ds_push_primary;                /* parent.ds_push.primary, "ADDR:PORT"; NULL: no push */
    char *ds_push_key;                    /* its TSIG key id (in tsig_keys: config.c checks) */
    char *servers[ZONE_KASP_MAX_SERVERS]; /* parent.servers: where the DS is checked */
    size_t n_servers;
    uint32_t check_interval; /* parent.check_interval: seconds between DS checks */
    uint8_t ds_digest;       /* parent.ds_digest: 2 (SHA-256) or 4 (SHA-384) */
    uint32_t ds_wait_warn;   /* parent.ds_wait_warn: seconds before the DS alarm; 0: never */
    char *parent_zone;       /* parent.zone, with its final dot; NULL: found by asking */
    char *path;              /* "$.dnssec_policies[\"NAME\"]", for messages */
};

struct zone_kasp_set {
    struct zone_kasp_policy *v;
    size_t n;
};

/* One policy's table (the entries of the "dnssec_policies" map). */
extern const struct cfgschema zone_kasp_schema;

/* Reads v (the "dnssec_policies" object, may be NULL) at path into out,
 * refusing a policy whose timing cannot be safe (the lifetime or refresh
 * checks of zone_kasp_timeline.h, at the key's path); errors to j. */
void zone_kasp_parse(const struct jsoncfg *j, json_t *v, const char *path,
                     struct zone_kasp_set *out);

/* The policy called name, or NULL. */
const struct zone_kasp_policy *zone_kasp_find(const struct zone_kasp_set *s, const char *name);

/* The policy's settings and computed intervals as JSON (the caller owns
 * it): {"name", "algorithm", ..., "intervals": {"ipub", "iret", ...}}. */
json_t *zone_kasp_json(const struct zone_kasp_policy *p);

/* Lines for `gtmd check`: the policy's intervals with their formulas. */
void zone_kasp_print(FILE *out, const struct zone_kasp_policy *p);

/* A zone's DNSSEC status under policy p (zone_kasp_status.c): each key
 * of sp (read from its .key file) taken as active since 'since' (keys
 * given by hand, "keys" without a key_directory), with the times the
 * policy makes due (retirement, successor publication, removal), the
 * earliest as "policy_due", and "next_action" saying that nothing acts
 * on keys given by hand. A key file that cannot be read adds to errs
 * and is left out. The caller owns the result. */
struct zone_sign_params;
struct errlist;
json_t *zone_kasp_zone_json(const char *origin, const struct zone_kasp_policy *p,
                            const struct zone_sign_params *sp, int64_t since, struct errlist *errs);

void zone_kasp_free(struct zone_kasp_set *s);

#endif

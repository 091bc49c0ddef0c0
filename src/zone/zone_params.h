/*
 * zone_params.h -- the "dnssec" object of a zone entry in the
 * configuration (gtmd.conf(5)): how zone_verify() judges a signed zone,
 * and, with "keys", how gtmd signs an unsigned zone at load.
 *
 *   "zones": [{"origin": "example.com.", "file": "example.com.zone",
 *              "dnssec": {"keys": ["Kexample.com.+013+12345", ...],
 *                         "denial": "nsec3",
 *                         "nsec3": {"iterations": 0, "salt": "-"},
 *                         "validity": 1209600, "refresh": 345600,
 *                         "expiry_warning": 604800}}]
 *
 * Ownership: the strings in struct zone_sign_params belong to the params
 * (zone_dnssec_params_free).
 */
#ifndef GTM_ZONE_ZONE_PARAMS_H
#define GTM_ZONE_ZONE_PARAMS_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/cfgschema.h"
#include "common/jsoncfg.h"

#define ZONE_EXPIRY_WARNING_DEFAULT (7u * 86400u)
#define ZONE_SIGN_VALIDITY_DEFAULT (14u * 86400u)
#define ZONE_SIGN_REFRESH_DEFAULT (4u * 86400u)
#define ZONE_SIGN_MAX_KEYS 8

/* Signing at load (zone_sign.h). n_keys == 0: the zone is served as it is
 * in its file (pre-signed or unsigned). */
struct zone_sign_params {
    size_t n_keys;
    char *keys[ZONE_SIGN_MAX_KEYS];      /* base paths, resolved against the config */
    char *key_paths[ZONE_SIGN_MAX_KEYS]; /* "FILE: $.zones[0].dnssec.keys[1]", for messages */
    bool nsec3;                          /* "denial": "nsec3" (default "nsec") */
    uint16_t iterations;                 /* NSEC3 extra iterations (RFC 9276: 0) */
    uint8_t salt_len;
    uint8_t salt[255];
    /* Keys whose DNSKEY is in the zone but which sign nothing: a ZSK
     * pre-published or retired by the key manager (zone_kasp_store.h). */
    bool publish_only[ZONE_SIGN_MAX_KEYS];
    /* Keys that sign but whose DNSKEY is not in the zone: an algorithm
     * rollover's new ZSK before its DNSKEY goes in and its old ZSK after
     * its DNSKEY left (zone_kasp_algroll.h). */
    bool sign_only[ZONE_SIGN_MAX_KEYS];
    /* Keys whose CDS and CDNSKEY go in the zone too (RFC 7344: the KSK
     * the parent should have a DS for; the key manager marks it), with
     * the DS digest cds_digest (2: SHA-256, 4: SHA-384; 0: no CDS at all,
     * so that no CDS set, and never a deletion record, is published by
     * accident). */
    bool cds[ZONE_SIGN_MAX_KEYS];
    uint8_t cds_digest;
    uint32_t validity; /* seconds from signing to signature expiration */
    uint32_t refresh;  /* re-sign this long before the signatures expire */
};

struct zone_dnssec_params {
    /* Signatures that expire within this many seconds are a warning
     * (expired ones are an error). Default 7 days. */
    uint32_t expiry_warning;
    struct zone_sign_params sign;
    /* The signing policy's zone_max_ttl and dnskey_ttl (TTLsig and TTLkey
     * of its timeline), which zone_verify warns the zone exceeds; 0
     * without a policy. */
    uint32_t policy_max_ttl, policy_dnskey_ttl;
    /* "policy": the name of a signing policy (zone_kasp.h), or NULL. The
     * policy gives the signing settings (zone_dnssec_params_apply); the
     * keys are "keys" (the operator's) or, with key_directory, gtmd's. */
    char *policy;
    /* "key_directory": where gtmd makes and keeps the zone's keys and
     * their state (zone_kasp_store.h), resolved against the config's
     * directory; NULL: the keys are "keys", the operator's. With it, the
     * daemon fills sign.keys from the store before each load. */
    char *key_directory;
    /* Set by the daemon's key manager: a fleet member sharing its keys
     * (fleet.key_secret_file) whose store is still empty, waiting for the
     * fleet's set from etcd or the lock to make the first keys. Such a zone
     * is kept out of the served set (doc/dnssec.md, "Bootstrapping"). */
    bool keys_pending;
};

/* Sets the defaults, then reads v (the "dnssec" object, may be NULL) at
 * JSON path 'path'; errors go to j's list. */
enum zone_dnssec_key {
    DS_EXPIRY_WARNING,
    DS_KEYS,
    DS_DENIAL,
    DS_NSEC3,
    DS_VALIDITY,
    DS_REFRESH,
    DS_POLICY,
    DS_KEY_DIRECTORY,
    DS_N
};
/* The keys of a zone's "dnssec" object. */
extern const struct cfgschema zone_dnssec_schema;

void zone_dnssec_params_parse(const struct jsoncfg *j, json_t *v, const char *path,
                              struct zone_dnssec_params *out);

/* The signing settings of policy p into out's: denial, NSEC3 iterations,
 * signature validity and refresh. */
struct zone_kasp_policy;
void zone_dnssec_params_apply(struct zone_dnssec_params *out, const struct zone_kasp_policy *p);

/* Frees the strings of p (not p itself). */
void zone_dnssec_params_free(struct zone_dnssec_params *p);

#endif

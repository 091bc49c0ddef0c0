/*
 * fleet_sign.h -- who may speak for the fleet: the members the
 * configuration lists, each with an Ed25519 public key, and this node's
 * private key. Every record a node publishes in etcd (its node record,
 * its observations, the overrides and drills it accepted) carries
 * "signer" (its node name) and "sig" (Ed25519 over the etcd key and the
 * record without "sig", keys sorted); a node counts only records signed by
 * a listed member, so a writer to the etcd prefix who is not a member
 * cannot forge votes, overrides or drills, and a member cannot sign in
 * another member's name. What binds a signed record to its life (so that
 * one deleted or superseded cannot be put back) is fleet_life.c's.
 *
 *   "fleet": {..., "key_file": "ns1.key",
 *             "members": {"ns1": "BASE64 of the 32-octet public key",
 *                         "ns2": "...", "ns3": "..."}}
 *
 * key_file is a PEM private key (openssl genpkey -algorithm ed25519), mode
 * 0600 like the token files; a member's key is what
 *   openssl pkey -in ns1.key -pubout -outform DER | tail -c 32 | base64
 * prints. Without "members" nothing is signed or checked (a warning says
 * that any etcd writer then rules the fleet).
 *
 * Ownership: struct fleet_keys owns its OpenSSL keys and strings
 * (fleet_keys_free). Thread-safe once loaded: OpenSSL's one-shot
 * sign/verify keep no state in the keys.
 */
#ifndef GTM_FLEET_FLEET_SIGN_H
#define GTM_FLEET_FLEET_SIGN_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#include "common/jsoncfg.h"

#define FLEET_MAX_MEMBERS 64

struct fleet_member {
    char *name;
    void *pub; /* EVP_PKEY */
    unsigned char raw[32];
};

struct fleet_keys {
    bool enabled; /* "members" given: sign and check */
    void *own;    /* EVP_PKEY of key_file */
    char *own_name;
    struct fleet_member members[FLEET_MAX_MEMBERS];
    size_t n;
};

/* What a check of a record found. */
enum fleet_verdict {
    FLEET_SIG_OK = 0,
    FLEET_SIG_MISSING,       /* no "signer" or "sig" */
    FLEET_SIG_STRANGER,      /* the signer is not a listed member */
    FLEET_SIG_BAD,           /* the signature does not verify */
    FLEET_SIG_IMPERSONATION, /* signed by a member, in another member's name */
    FLEET_SIG_NOT_ON_LEASE,  /* a member's report, not on the lease it signed it for */
    /* A member's override or drill refused on adoption (fleet_adopt.c): */
    FLEET_REJ_FIELDS,   /* a field rule fails ("role", "force", the record's own) */
    FLEET_REJ_ID,       /* the id is not KIND-N, or not the id of its key */
    FLEET_REJ_MAX,      /* max_overrides are in force here */
    FLEET_REJ_UNSAFE,   /* it would leave a served record with no serving region, unforced */
    FLEET_REJ_CONFLICT, /* a drill: another live drill holds its region here */
    /* A record's life (fleet_life.c): */
    FLEET_REJ_REPLAY,     /* deleted or superseded, and put back (not the record its key holds) */
    FLEET_REJ_OLD_FORMAT, /* an override or drill of a gtmd before record format 2: unbound */
    FLEET_REJ_NEW_FORMAT, /* a record of a format beyond what this release reads (fleet_compat.h) */
    FLEET_VERDICTS        /* how many there are */
};

const char *fleet_verdict_name(enum fleet_verdict v);

/*
 * Reads "key_file" and "members" of the fleet object v (at $.fleet) for
 * the node named node into out; errors name their JSON path. The own
 * node must be a member, and its key_file's public key must be the one
 * listed for it.
 */
void fleet_keys_parse(const struct jsoncfg *j, json_t *v, const char *node, struct fleet_keys *out);

/* Adds "signer" and "sig" to value, published at etcd key key (no-op when
 * signing is off); false when OpenSSL fails. */
bool fleet_sign(const struct fleet_keys *k, const char *key, json_t *value);

/*
 * Checks value, read at etcd key key. expect: the member the key belongs
 * to (a node record or an observation names its node), or NULL when any
 * member may have written it (overrides, drills). *signer gets the
 * signer's name (points into value). Always FLEET_SIG_OK when signing is
 * off.
 */
enum fleet_verdict fleet_verify(const struct fleet_keys *k, const char *key, const json_t *value,
                                const char *expect, const char **signer);

/* Octets msg (len of them) signed with this node's key into sig: the
 * direct peer channel's datagrams (fleet_peer.h), whose form ("GTP1"...)
 * cannot be mistaken for a record's signed text ("gtmd-fleet-1"...).
 * false when signing is off or OpenSSL fails. */
bool fleet_sign_bytes(const struct fleet_keys *k, const void *msg, size_t len,
                      unsigned char sig[64]);
/* Whether sig is member who's signature of msg: FLEET_SIG_OK,
 * FLEET_SIG_STRANGER (not a member) or FLEET_SIG_BAD. */
enum fleet_verdict fleet_verify_bytes(const struct fleet_keys *k, const char *who, const void *msg,
                                      size_t len, const unsigned char sig[64]);
/* d becomes a copy of s that d owns (keys shared by reference count). */
void fleet_keys_copy(struct fleet_keys *d, const struct fleet_keys *s);

/* True when node is a member whose listed key is this node's key (or
 * signing is off): --node may rename a node after parsing. */
bool fleet_keys_own_is(const struct fleet_keys *k, const char *node);

void fleet_keys_free(struct fleet_keys *k);

#endif

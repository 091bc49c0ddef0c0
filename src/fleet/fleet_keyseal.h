/*
 * fleet_keyseal.h -- the sealing of a zone's DNSSEC key set for the fleet
 * (doc/dnssec.md, "Fleet keys"): AES-256-GCM with the fleet's key-sharing
 * secret (fleet.key_secret_file, 32 bytes), so that etcd, and whoever can
 * read it, holds no private key in plaintext.
 *
 * The envelope, the value of PREFIX/dnssec/keys/ZONE:
 *   {"v": 1, "alg": "AES-256-GCM", "zone": Z, "kid": K, "rev": N,
 *    "digest": D, "nonce": b64(12 bytes), "ct": b64, "tag": b64(16 bytes)}
 * K is the first 16 hex digits of SHA-256("gtmd-keyshare-kid" || secret):
 * it names the secret without revealing it, so a member with another
 * secret says "wrong secret", not "corrupt". N is the key set's revision
 * (the writer's count, one more at every write) and D the SHA-256 of the
 * plaintext: what a member reports as loaded. The associated data binds
 * "gtmd-keyshare/1", Z, K, N and D to the ciphertext: a blob copied under
 * another zone's key, or relabelled with another revision or digest, fails
 * to open. The nonce is random (RAND_bytes) at every seal: a key set is
 * written at most a few times an hour, far below GCM's 2^32 random-nonce
 * bound per key.
 *
 * Pure: no I/O beyond OpenSSL; any thread.
 *
 * Ownership: the returned envelope and plaintext belong to the caller.
 */
#ifndef GTM_FLEET_FLEET_KEYSEAL_H
#define GTM_FLEET_FLEET_KEYSEAL_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define FLEET_KEYSEAL_SECRET 32
#define FLEET_KEYSEAL_KID 17 /* 16 hex digits and the NUL */

/* Reads the secret from text: 64 hex digits or the base64 of 32 bytes,
 * surrounding white space ignored. false with a message in err. */
bool fleet_keyseal_parse_secret(const char *text, unsigned char out[FLEET_KEYSEAL_SECRET],
                                char *err, size_t errlen);

/* The secret's id (above). */
void fleet_keyseal_kid(const unsigned char secret[FLEET_KEYSEAL_SECRET],
                       char kid[FLEET_KEYSEAL_KID]);

/* The envelope of len bytes of pt for zone at revision rev; NULL only when
 * OpenSSL fails. */
json_t *fleet_keyseal_seal(const unsigned char secret[FLEET_KEYSEAL_SECRET], const char *zone,
                           uint64_t rev, const void *pt, size_t len);

enum fleet_keyseal_status {
    FLEET_KEYSEAL_OK = 0,
    FLEET_KEYSEAL_MALFORMED,    /* not an envelope of this version */
    FLEET_KEYSEAL_WRONG_ZONE,   /* the envelope names another zone */
    FLEET_KEYSEAL_WRONG_SECRET, /* sealed with another secret (kid differs) */
    FLEET_KEYSEAL_CORRUPT,      /* the tag does not verify, or the digest differs */
};
/* "ok", "malformed", "wrong_zone", "wrong_secret", "corrupt". */
const char *fleet_keyseal_status_name(enum fleet_keyseal_status s);

/* Opens env for zone: *pt gets the plaintext (NUL-terminated, caller
 * frees), *len its length, *rev the revision and digest its SHA-256 hex.
 * Anything but FLEET_KEYSEAL_OK leaves *pt NULL and says why in err. */
enum fleet_keyseal_status fleet_keyseal_open(const unsigned char secret[FLEET_KEYSEAL_SECRET],
                                             const char *zone, json_t *env, char **pt, size_t *len,
                                             uint64_t *rev, char digest[65], char *err,
                                             size_t errlen);

#endif

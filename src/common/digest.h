/*
 * digest.h -- SHA-256 as lowercase hex, the one form gtmd writes digests
 * in (the fleet's configuration hash, the audit log's body digests, what
 * a reload compares of a secret).
 *
 * Ownership: nothing allocated; out is the caller's.
 */
#ifndef GTM_COMMON_DIGEST_H
#define GTM_COMMON_DIGEST_H

#include <stdbool.h>
#include <stddef.h>

#define DIGEST_SHA256_HEX 65 /* 64 hex digits and the NUL */

/* SHA-256 of len bytes at data into out (32 octets); false (out zeroed)
 * when OpenSSL fails. */
bool digest_sha256(const void *data, size_t len, unsigned char out[32]);

/* SHA-256 of len bytes at data into out; "" when OpenSSL fails. */
void digest_sha256_hex(const void *data, size_t len, char out[DIGEST_SHA256_HEX]);

/* SHA-256 of data given piece by piece (a document dumped to a file as
 * it is made, never whole in memory). begin: NULL when OpenSSL fails;
 * add with NULL does nothing; end writes the hex digest ("" when
 * OpenSSL failed or d is NULL) and frees d. */
struct digest_sha256_run;
struct digest_sha256_run *digest_sha256_begin(void);
void digest_sha256_add(struct digest_sha256_run *d, const void *data, size_t len);
void digest_sha256_end_hex(struct digest_sha256_run *d, char out[DIGEST_SHA256_HEX]);

/* Whether two secrets (a presented token and a configured one) are equal,
 * in time that depends on neither their contents nor their lengths: both
 * are hashed (SHA-256) and the digests compared with CRYPTO_memcmp, so a
 * length mismatch does not return early. NULL never equals anything. */
bool digest_secret_eq(const char *given, const char *want);

#endif

/*
 * siphash.h -- SipHash (Aumasson and Bernstein, "SipHash: a fast
 * short-input PRF", 2012): a keyed 64-bit hash, used for DNS server
 * cookies (SipHash-2-4, RFC 9018) and for the response rate limiting
 * table's index (SipHash-1-3), so that a client who does not know the key
 * cannot predict either.
 *
 * Ownership: nothing is allocated; the caller owns key and input.
 */
#ifndef GTM_GUARD_SIPHASH_H
#define GTM_GUARD_SIPHASH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define SIPHASH_KEY_LEN 16

/* SipHash-2-4 of in[0..len) under the 16-octet key. The reference
 * implementation writes the result as 8 octets in little-endian order
 * (siphash_put_le does the same). */
uint64_t siphash24(const uint8_t key[SIPHASH_KEY_LEN], const void *in, size_t len);

/* SipHash-1-3, the same with one compression and three finalization rounds:
 * about twice as fast on short input, and the variant hash tables use
 * against flooding (Rust's HashMap, the Linux kernel's hsiphash); the RRL
 * table's index. Not for cookies (RFC 9018 says SipHash-2-4). */
uint64_t siphash13(const uint8_t key[SIPHASH_KEY_LEN], const void *in, size_t len);

/* Writes v as 8 little-endian octets. */
void siphash_put_le(uint64_t v, uint8_t out[8]);

/* Fills key with random octets from the kernel (getrandom); false when it
 * has none to give. */
bool siphash_random_key(uint8_t key[SIPHASH_KEY_LEN]);

#endif

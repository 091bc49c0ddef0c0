/*
 * dnssec.h -- DNSSEC wire helpers shared by the zone compiler, the query
 * path and the zone checks: canonical name order (RFC 4034 §6.1), NSEC3
 * owner hashes (RFC 5155 §5) and base32hex (RFC 4648 §7), RRSIG and NSEC3
 * RDATA fields, and NSEC/NSEC3 type bitmaps (RFC 4034 §4.1.2).
 *
 * Everything here works on the caller's buffers and allocates nothing, so
 * the query path may use it.
 */
#ifndef GTM_DNS_DNSSEC_H
#define GTM_DNS_DNSSEC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "dns/sha1.h"

#define DNS_NSEC3_HASH_SHA1 1
#define DNS_NSEC3_FLAG_OPTOUT 0x01
#define DNS_NSEC3_MAX_ITERATIONS 2500 /* RFC 5155 §10.3, for 4096-bit keys */
#define DNS_DNSKEY_FLAG_ZONE 0x0100
#define DNS_DNSKEY_FLAG_SEP 0x0001

/* Canonical DNS name order of two uncompressed wire names: labels compared
 * from the root down, each as a lowercased octet string. <0, 0, >0. */
int dns_name_canon_cmp(const uint8_t *a, size_t alen, const uint8_t *b, size_t blen);

/* H(name) of RFC 5155 §5: SHA-1 over the lowercase wire name and the salt,
 * then iterations more times over the digest and the salt. */
void dns_nsec3_hash(const uint8_t *name, size_t len, const uint8_t *salt, size_t salt_len,
                    uint16_t iterations, uint8_t out[DNS_SHA1_LEN]);

/* Decodes base32hex (either case, no padding) into out; the number of
 * octets, or -1 on a bad character, a length that is not a whole number of
 * octets or more than max octets. */
int dns_base32hex_decode(const uint8_t *in, size_t len, uint8_t *out, size_t max);
/* Encodes len octets as lowercase base32hex into out (room for
 * (len * 8 + 4) / 5 characters); returns the number of characters. */
size_t dns_base32hex_encode(const uint8_t *in, size_t len, char *out);

/* RRSIG RDATA fields (RFC 4034 §3.1); rd must hold at least 18 octets. */
static inline uint16_t dns_rrsig_covered(const uint8_t *rd)
{
    return (uint16_t)(rd[0] << 8 | rd[1]);
}
static inline uint8_t dns_rrsig_labels(const uint8_t *rd)
{
    return rd[3];
}
static inline uint32_t dns_rrsig_expiration(const uint8_t *rd)
{
    return (uint32_t)rd[8] << 24 | (uint32_t)rd[9] << 16 | (uint32_t)rd[10] << 8 | rd[11];
}
static inline uint32_t dns_rrsig_inception(const uint8_t *rd)
{
    return (uint32_t)rd[12] << 24 | (uint32_t)rd[13] << 16 | (uint32_t)rd[14] << 8 | rd[15];
}

/* The parameters of NSEC3 or NSEC3PARAM RDATA (RFC 5155 §3.2, §4.2). */
struct dns_nsec3_params {
    uint8_t alg;
    uint8_t flags;
    uint16_t iterations;
    uint8_t salt_len;
    const uint8_t *salt;
};

/* Parses the leading parameter fields; false when rd is too short. For
 * NSEC3 RDATA, *next_len and *next (may be NULL) get the next hashed owner
 * and *bitmap_off where the type bitmap starts. */
bool dns_nsec3_params_parse(const uint8_t *rd, size_t rdlen, struct dns_nsec3_params *p);
bool dns_nsec3_rdata_parse(const uint8_t *rd, size_t rdlen, struct dns_nsec3_params *p,
                           const uint8_t **next, size_t *next_len, size_t *bitmap_off);

/* True when the type bitmap bm[0..len) lists type; false for a malformed
 * bitmap. */
bool dns_type_bitmap_has(const uint8_t *bm, size_t len, uint16_t type);

/* Wraparound-aware "a is before b" of RRSIG times (RFC 4034 §3.1.5, serial
 * number arithmetic of RFC 1982). */
static inline bool dns_time_before(uint32_t a, uint32_t b)
{
    return (int32_t)(a - b) < 0;
}

#endif

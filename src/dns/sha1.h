/*
 * sha1.h -- SHA-1 (FIPS 180-4), for NSEC3 owner hashes (RFC 5155 §5).
 *
 * Our own small implementation rather than OpenSSL's: the query path hashes
 * the next closer name of an NSEC3 denial, and OpenSSL 3's digests fetch the
 * algorithm through a provider, which may take a lock and allocate. This
 * one works on the caller's stack only. Not for anything security-relevant
 * beyond naming NSEC3 records (SHA-1 is what RFC 5155 fixes for them).
 *
 * Ownership: plain values; nothing is allocated.
 */
#ifndef GTM_DNS_SHA1_H
#define GTM_DNS_SHA1_H

#include <stddef.h>
#include <stdint.h>

#define DNS_SHA1_LEN 20

struct dns_sha1 {
    uint32_t h[5];
    uint64_t total; /* octets hashed so far */
    uint8_t buf[64];
    size_t used;
};

void dns_sha1_init(struct dns_sha1 *c);
void dns_sha1_update(struct dns_sha1 *c, const void *data, size_t len);
void dns_sha1_final(struct dns_sha1 *c, uint8_t out[DNS_SHA1_LEN]);

#endif

/*
 * sha1.c -- SHA-1 (FIPS 180-4 §6.1).
 */
#include "dns/sha1.h"

#include <string.h>

static uint32_t sha1_rol(uint32_t x, unsigned n)
{
    return (x << n) | (x >> (32 - n));
}

/* One round: the four round kinds differ only in f and k. */
#define SHA1_ROUND(f, k)                                                                           \
    do {                                                                                           \
        uint32_t t_ = sha1_rol(a, 5) + (f) + e + (k) + w[i];                                       \
        e = d;                                                                                     \
        d = cc;                                                                                    \
        cc = sha1_rol(b, 30);                                                                      \
        b = a;                                                                                     \
        a = t_;                                                                                    \
    } while (0)

static void sha1_block(struct dns_sha1 *c, const uint8_t *p)
{
    uint32_t w[80];
    for (unsigned i = 0; i < 16; i++)
        w[i] = (uint32_t)p[4 * i] << 24 | (uint32_t)p[4 * i + 1] << 16 |
               (uint32_t)p[4 * i + 2] << 8 | p[4 * i + 3];
    for (unsigned i = 16; i < 80; i++)
        w[i] = sha1_rol(w[i - 3] ^ w[i - 8] ^ w[i - 14] ^ w[i - 16], 1);
    uint32_t a = c->h[0], b = c->h[1], cc = c->h[2], d = c->h[3], e = c->h[4];
    unsigned i = 0;
    for (; i < 20; i++)
        SHA1_ROUND((b & cc) | (~b & d), 0x5a827999u);
    for (; i < 40; i++)
        SHA1_ROUND(b ^ cc ^ d, 0x6ed9eba1u);
    for (; i < 60; i++)
        SHA1_ROUND((b & cc) | (b & d) | (cc & d), 0x8f1bbcdcu);
    for (; i < 80; i++)
        SHA1_ROUND(b ^ cc ^ d, 0xca62c1d6u);
    c->h[0] += a;
    c->h[1] += b;
    c->h[2] += cc;
    c->h[3] += d;
    c->h[4] += e;
}

void dns_sha1_init(struct dns_sha1 *c)
{
    c->h[0] = 0x67452301u;
    c->h[1] = 0xefcdab89u;
    c->h[2] = 0x98badcfeu;
    c->h[3] = 0x10325476u;
    c->h[4] = 0xc3d2e1f0u;
    c->total = 0;
    c->used = 0;
}

void dns_sha1_update(struct dns_sha1 *c, const void *data, size_t len)
{
    const uint8_t *p = data;
    c->total += len;
    while (len > 0) {
        size_t take = 64 - c->used < len ? 64 - c->used : len;
        memcpy(c->buf + c->used, p, take);
        c->used += take;
        p += take;
        len -= take;
        if (c->used == 64) {
            sha1_block(c, c->buf);
            c->used = 0;
        }
    }
}

void dns_sha1_final(struct dns_sha1 *c, uint8_t out[DNS_SHA1_LEN])
{
    uint64_t bits = c->total * 8;
    c->buf[c->used++] = 0x80;
    if (c->used > 56) {
        memset(c->buf + c->used, 0, 64 - c->used);
        sha1_block(c, c->buf);
        c->used = 0;
    }
    memset(c->buf + c->used, 0, 56 - c->used);
    for (unsigned i = 0; i < 8; i++)
        c->buf[56 + i] = (uint8_t)(bits >> (56 - 8 * i));
    sha1_block(c, c->buf);
    c->used = 0;
    for (unsigned i = 0; i < 5; i++) {
        out[4 * i] = (uint8_t)(c->h[i] >> 24);
        out[4 * i + 1] = (uint8_t)(c->h[i] >> 16);
        out[4 * i + 2] = (uint8_t)(c->h[i] >> 8);
        out[4 * i + 3] = (uint8_t)c->h[i];
    }
}

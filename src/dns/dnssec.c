/*
 * dnssec.c -- DNSSEC wire helpers.
 */
#include "dns/dnssec.h"

#include <string.h>

#include "dns/dns.h"

static inline uint8_t dnssec_lower(uint8_t c)
{
    return (c >= 'A' && c <= 'Z') ? (uint8_t)(c + 32) : c;
}

/* Label starts of an uncompressed name, leftmost first; the count. */
static unsigned dnssec_labels(const uint8_t *n, size_t len, uint8_t off[DNS_MAX_LABELS])
{
    unsigned k = 0;
    for (size_t p = 0; p < len && n[p] != 0 && k < DNS_MAX_LABELS; p += 1 + (size_t)n[p])
        off[k++] = (uint8_t)p;
    return k;
}

int dns_name_canon_cmp(const uint8_t *a, size_t alen, const uint8_t *b, size_t blen)
{
    uint8_t la[DNS_MAX_LABELS], lb[DNS_MAX_LABELS];
    unsigned na = dnssec_labels(a, alen, la), nb = dnssec_labels(b, blen, lb);
    while (na > 0 && nb > 0) {
        const uint8_t *x = a + la[--na], *y = b + lb[--nb];
        unsigned n = x[0] < y[0] ? x[0] : y[0];
        for (unsigned i = 1; i <= n; i++) {
            uint8_t cx = dnssec_lower(x[i]), cy = dnssec_lower(y[i]);
            if (cx != cy)
                return cx < cy ? -1 : 1;
        }
        if (x[0] != y[0])
            return x[0] < y[0] ? -1 : 1;
    }
    return na == nb ? 0 : na < nb ? -1 : 1;
}

void dns_nsec3_hash(const uint8_t *name, size_t len, const uint8_t *salt, size_t salt_len,
                    uint16_t iterations, uint8_t out[DNS_SHA1_LEN])
{
    struct dns_sha1 c;
    uint8_t lower[DNS_MAX_NAME];
    for (size_t i = 0; i < len && i < sizeof(lower); i++)
        lower[i] = dnssec_lower(name[i]);
    dns_sha1_init(&c);
    dns_sha1_update(&c, lower, len < sizeof(lower) ? len : sizeof(lower));
    dns_sha1_update(&c, salt, salt_len);
    dns_sha1_final(&c, out);
    for (unsigned i = 0; i < iterations; i++) {
        dns_sha1_init(&c);
        dns_sha1_update(&c, out, DNS_SHA1_LEN);
        dns_sha1_update(&c, salt, salt_len);
        dns_sha1_final(&c, out);
    }
}

static int dnssec_b32_value(uint8_t ch)
{
    if (ch >= '0' && ch <= '9')
        return ch - '0';
    ch = dnssec_lower(ch);
    if (ch >= 'a' && ch <= 'v')
        return ch - 'a' + 10;
    return -1;
}

int dns_base32hex_decode(const uint8_t *in, size_t len, uint8_t *out, size_t max)
{
    uint32_t acc = 0;
    unsigned bits = 0;
    size_t n = 0;
    for (size_t i = 0; i < len; i++) {
        int v = dnssec_b32_value(in[i]);
        if (v < 0)
            return -1;
        acc = (acc << 5) | (uint32_t)v;
        bits += 5;
        if (bits >= 8) {
            bits -= 8;
            if (n >= max)
                return -1;
            out[n++] = (uint8_t)(acc >> bits);
        }
    }
    /* Left-over bits must be padding zeros of less than one octet. */
    if (bits >= 5 || (acc & ((1u << bits) - 1)) != 0)
        return -1;
    return (int)n;
}

size_t dns_base32hex_encode(const uint8_t *in, size_t len, char *out)
{
    static const char digits[] = "0123456789abcdefghijklmnopqrstuv";
    uint32_t acc = 0;
    unsigned bits = 0;
    size_t n = 0;
    for (size_t i = 0; i < len; i++) {
        acc = (acc << 8) | in[i];
        bits += 8;
        while (bits >= 5) {
            bits -= 5;
            out[n++] = digits[(acc >> bits) & 31];
        }
    }
    if (bits > 0)
        out[n++] = digits[(acc << (5 - bits)) & 31];
    return n;
}

bool dns_nsec3_params_parse(const uint8_t *rd, size_t rdlen, struct dns_nsec3_params *p)
{
    if (rdlen < 5 || rdlen < 5u + rd[4])
        return false;
    p->alg = rd[0];
    p->flags = rd[1];
    p->iterations = dns_get16(rd + 2);
    p->salt_len = rd[4];
    p->salt = rd + 5;
    return true;
}

bool dns_nsec3_rdata_parse(const uint8_t *rd, size_t rdlen, struct dns_nsec3_params *p,
                           const uint8_t **next, size_t *next_len, size_t *bitmap_off)
{
    if (!dns_nsec3_params_parse(rd, rdlen, p))
        return false;
    size_t o = 5u + p->salt_len;
    if (o >= rdlen || o + 1 + rd[o] > rdlen || rd[o] == 0)
        return false;
    if (next)
        *next = rd + o + 1;
    *next_len = rd[o];
    *bitmap_off = o + 1 + rd[o];
    return true;
}

bool dns_type_bitmap_has(const uint8_t *bm, size_t len, uint16_t type)
{
    size_t o = 0;
    while (o + 2 <= len) {
        uint8_t window = bm[o], blen = bm[o + 1];
        if (blen == 0 || blen > 32 || o + 2 + blen > len)
            return false;
        if (window == type >> 8) {
            unsigned bit = type & 0xff;
            return bit / 8 < blen && (bm[o + 2 + bit / 8] & (0x80 >> (bit % 8))) != 0;
        }
        o += 2u + blen;
    }
    return false;
}

/*
 * name.h -- domain names in wire form.
 *
 * A "name" here is an uncompressed wire-format name (length-prefixed labels,
 * ending in the root label), at most 255 octets. Lookups use lowercase names;
 * the label offset array lets callers walk the suffixes (ancestors) of a name
 * without re-parsing it.
 */
#ifndef GTM_DNS_NAME_H
#define GTM_DNS_NAME_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "dns/dns.h"

/* A parsed name with its label starts: label[i] is the offset of the i-th
 * label (0 = leftmost); label[count] is the offset of the root label. */
struct dns_name {
    uint8_t wire[DNS_MAX_NAME];
    uint8_t len;
    uint8_t count; /* labels, not counting the root */
    uint8_t label[DNS_MAX_LABELS];
};

/*
 * Reads a possibly compressed name from pkt[*pos..]. On success fills out
 * (lowercased when lower is true), sets *pos past the name in the original
 * stream, and returns true. Fails on truncation, pointer loops or forward
 * chains longer than the packet, names over 255 octets and bad label types.
 */
bool dns_name_parse(const uint8_t *pkt, size_t pktlen, size_t *pos, struct dns_name *out,
                    bool lower);

/* Skips a name in pkt at *pos (compressed names end at the first pointer). */
bool dns_name_skip(const uint8_t *pkt, size_t pktlen, size_t *pos);

/* Fills label offsets of an uncompressed wire name; false if malformed. */
bool dns_name_index(const uint8_t *wire, size_t len, struct dns_name *out);

/* Length of an uncompressed wire name including the root label. */
size_t dns_name_wire_len(const uint8_t *wire);

/* The same for a name in a buffer of max octets (a name inside RDATA):
 * 0 when it does not end within max, exceeds 255 octets, or holds a
 * compression pointer or an extended label type. */
size_t dns_name_wire_len_max(const uint8_t *wire, size_t max);

/* Lowercases ASCII letters of an uncompressed wire name in place. */
void dns_name_lower(uint8_t *wire, size_t len);

/* Case-insensitive equality of two uncompressed wire names. */
bool dns_name_equal(const uint8_t *a, size_t alen, const uint8_t *b, size_t blen);

/* True when child is name or below it (both uncompressed lowercase). */
bool dns_name_is_sub(const uint8_t *child, size_t clen, const uint8_t *name, size_t nlen);

/* Number of labels (root excluded) of an uncompressed wire name. */
unsigned dns_name_label_count(const uint8_t *wire);

/* One 8-octet step of dns_name_hash: a multiply and a fold, so that every
 * input bit reaches the low bits the tables index with. */
static inline uint64_t dns_name_hash_step(uint64_t h, uint64_t w)
{
    h = (h ^ w) * 0xff51afd7ed558ccdull;
    return h ^ (h >> 32);
}

/* Hash of a lowercase uncompressed wire name, used by every name table.
 * Eight octets per step rather than FNV-1a's one: FNV's multiply chain
 * made hashing a 25-octet name about 100 cycles, and the query path
 * hashes each question name (once, at parsing: dns_query.qname_hash) and
 * each suffix of a name below a delegation; this is about a third of that
 * (doc/architecture.md, "On the wire"). Names come from zone files and
 * the configuration, so an unkeyed hash is enough: queries never insert. */
static inline uint32_t dns_name_hash(const uint8_t *wire, size_t len)
{
    uint64_t h = 0x9e3779b97f4a7c15ull ^ (uint64_t)len;
    size_t i = 0;
    for (; i + 8 <= len; i += 8) {
        uint64_t w;
        __builtin_memcpy(&w, wire + i, 8);
        h = dns_name_hash_step(h, w);
    }
    if (i < len) {
        /* The tail without reading past the name: 4, 2 and 1 octets. */
        uint64_t w = 0;
        size_t r = len - i;
        if (r & 4) {
            uint32_t x;
            __builtin_memcpy(&x, wire + i, 4);
            w = x;
            i += 4;
        }
        if (r & 2) {
            uint16_t x;
            __builtin_memcpy(&x, wire + i, 2);
            w = (w << 16) | x;
            i += 2;
        }
        if (r & 1)
            w = (w << 8) | wire[i];
        h = dns_name_hash_step(h, w);
    }
    h *= 0xc4ceb9fe1a85ec53ull;
    return (uint32_t)(h ^ (h >> 29));
}

/* Writes the presentation form ("www.example.com.") into buf. */
void dns_name_to_str(const uint8_t *wire, char *buf, size_t buflen);

/* Parses a presentation-form name (absolute; trailing dot optional) into a
 * lowercase wire name. Escapes (\DDD, \X) are honoured. */
bool dns_name_from_str(const char *s, struct dns_name *out);

#endif

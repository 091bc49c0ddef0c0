/*
 * packet.h -- parsing of incoming queries (header, question, EDNS).
 *
 * The parser never allocates: a struct dns_query lives on the worker's stack
 * and points into the caller's packet buffer, which must outlive it.
 */
#ifndef GTM_DNS_PACKET_H
#define GTM_DNS_PACKET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "dns/name.h"

enum dns_parse_result {
    DNS_PARSE_OK = 0,
    DNS_PARSE_DROP,    /* not worth a reply: shorter than a header, or QR=1 */
    DNS_PARSE_FORMERR, /* reply FORMERR (question echoed when qname_ok) */
    DNS_PARSE_NOTIMP,  /* opcode other than QUERY, NOTIFY, UPDATE */
    DNS_PARSE_BADVERS, /* EDNS version > 0 */
    DNS_PARSE_NOTAUTH, /* unused: a TSIG is checked against the keys later */
};

/* Client subnet option (RFC 7871), kept for policies that use location.
 * Only a valid option is kept: the parser answers FORMERR for an unknown
 * FAMILY, a SOURCE PREFIX-LENGTH beyond the family's length, an ADDRESS
 * longer or shorter than the prefix needs, non-zero bits past the prefix,
 * a non-zero SCOPE PREFIX-LENGTH, or a second ECS option. */
struct dns_ecs {
    bool present;
    uint16_t family;       /* 1 = IPv4, 2 = IPv6 */
    uint8_t source_prefix; /* 0: no location given (policies: unknown location) */
    uint8_t addr[16];      /* zero-padded past source_prefix */
};

struct dns_query {
    uint16_t id;
    uint16_t flags; /* as received */
    uint16_t qtype;
    uint16_t qclass;
    bool qname_ok;           /* question parsed: it can be echoed */
    size_t question_len;     /* octets of the question in the packet */
    const uint8_t *question; /* points at the question in the packet */
    struct dns_name qname;   /* lowercased */
    uint32_t qname_hash;     /* dns_name_hash(qname) when qname_ok: the lookup's first probe */

    bool edns;         /* an OPT record was present */
    bool opt_ok;       /* ...and every record parsed: echo OPT even in FORMERR */
    bool tsig;         /* a well-formed TSIG record ends the message */
    size_t tsig_owner; /* offset of its owner (key name) in the packet */
    size_t tsig_rdata; /* offset of its RDATA */
    uint16_t tsig_rdlen;
    uint8_t edns_version;
    bool edns_do;
    uint16_t edns_udp_size;
    struct dns_ecs ecs;
    bool nsid; /* an empty NSID option asks for our identity (RFC 5001) */
    /* The first COOKIE option (RFC 7873 §5.2: later ones are ignored), as
     * received: its length is not checked here (cookie_present with any
     * cookie_len); it points into the packet. */
    bool cookie_present;
    uint16_t cookie_len;
    const uint8_t *cookie;
    uint16_t qdcount; /* QDCOUNT as received */
};

/* Parses pkt into q. On FORMERR/NOTIMP/BADVERS, q holds whatever was parsed
 * so that the error reply can echo the question and OPT. */
enum dns_parse_result dns_query_parse(const uint8_t *pkt, size_t len, struct dns_query *q);

#endif

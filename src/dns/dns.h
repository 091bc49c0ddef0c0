/*
 * dns.h -- DNS protocol constants and big-endian helpers shared by every
 * module that touches the wire. Their presentation names are in
 * dns/rrtype.h, query building and the OPT record in dns/msg_build.h.
 */
#ifndef GTM_DNS_DNS_H
#define GTM_DNS_DNS_H

#include <stdint.h>
#include <string.h>

#define DNS_HEADER_SIZE 12
#define DNS_MAX_NAME 255
#define DNS_MAX_LABELS 128
#define DNS_UDP_MIN 512
#define DNS_EDNS_DEFAULT_MAX 1232
#define DNS_TCP_MAX 65535

/* header flag bits in the 16-bit flags word */
#define DNS_FLAG_QR 0x8000
#define DNS_FLAG_AA 0x0400
#define DNS_FLAG_TC 0x0200
#define DNS_FLAG_RD 0x0100
#define DNS_FLAG_RA 0x0080
#define DNS_FLAG_AD 0x0020
#define DNS_FLAG_CD 0x0010
#define DNS_OPCODE(flags) (((flags) >> 11) & 0xf)

enum dns_rcode {
    DNS_RCODE_NOERROR = 0,
    DNS_RCODE_FORMERR = 1,
    DNS_RCODE_SERVFAIL = 2,
    DNS_RCODE_NXDOMAIN = 3,
    DNS_RCODE_NOTIMP = 4,
    DNS_RCODE_REFUSED = 5,
    DNS_RCODE_YXDOMAIN = 6,
    DNS_RCODE_YXRRSET = 7,
    DNS_RCODE_NXRRSET = 8,
    DNS_RCODE_NOTAUTH = 9,
    DNS_RCODE_NOTZONE = 10,
    DNS_RCODE_BADVERS = 16,   /* extended: needs OPT */
    DNS_RCODE_BADCOOKIE = 23, /* extended (RFC 7873): needs OPT */
};

enum dns_type {
    DNS_TYPE_A = 1,
    DNS_TYPE_NS = 2,
    DNS_TYPE_CNAME = 5,
    DNS_TYPE_SOA = 6,
    DNS_TYPE_PTR = 12,
    DNS_TYPE_HINFO = 13,
    DNS_TYPE_MX = 15,
    DNS_TYPE_TXT = 16,
    DNS_TYPE_AAAA = 28,
    DNS_TYPE_SRV = 33,
    DNS_TYPE_NAPTR = 35,
    DNS_TYPE_DNAME = 39,
    DNS_TYPE_OPT = 41,
    DNS_TYPE_DS = 43,
    DNS_TYPE_RRSIG = 46,
    DNS_TYPE_NSEC = 47,
    DNS_TYPE_DNSKEY = 48,
    DNS_TYPE_NSEC3 = 50,
    DNS_TYPE_NSEC3PARAM = 51,
    DNS_TYPE_SVCB = 64,
    DNS_TYPE_HTTPS = 65,
    DNS_TYPE_TSIG = 250,
    DNS_TYPE_IXFR = 251,
    DNS_TYPE_AXFR = 252,
    DNS_TYPE_MAILB = 253,
    DNS_TYPE_MAILA = 254,
    DNS_TYPE_ANY = 255,
    DNS_TYPE_CAA = 257,
};

#define DNS_CLASS_IN 1
#define DNS_CLASS_CH 3
#define DNS_CLASS_HS 4
#define DNS_CLASS_NONE 254
#define DNS_CLASS_ANY 255
#define DNS_OPCODE_QUERY 0
#define DNS_OPCODE_NOTIFY 4
#define DNS_OPCODE_UPDATE 5
#define DNS_EDNS_OPT_NSID 3 /* RFC 5001 */
#define DNS_EDNS_OPT_ECS 8
#define DNS_EDNS_OPT_COOKIE 10 /* RFC 7873 */
#define DNS_TSIG_BADKEY 17

static inline uint16_t dns_get16(const uint8_t *p)
{
    return (uint16_t)((p[0] << 8) | p[1]);
}

static inline uint32_t dns_get32(const uint8_t *p)
{
    return ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) | ((uint32_t)p[2] << 8) | p[3];
}

static inline void dns_put16(uint8_t *p, uint16_t v)
{
    p[0] = (uint8_t)(v >> 8);
    p[1] = (uint8_t)v;
}

static inline void dns_put32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24);
    p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
}

#endif

/* Unit tests for src/dns/packet.c and src/dns/msg_build.c (queries built
 * by the one builder are parsed back by the responder's parser). */
#include <string.h>

#include "dns/msg_build.h"
#include "dns/packet.h"
#include "tap.h"

/* Builds a query for www.example.com/A; returns its length. */
static size_t mk_query(uint8_t *p, bool edns, uint8_t version)
{
    static const uint8_t hdr[] = {0x12, 0x34, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0};
    static const uint8_t q[] = {3,   'W', 'w', 'w', 7,   'e', 'x', 'a', 'm', 'p', 'l',
                                'e', 3,   'c', 'o', 'm', 0,   0,   1,   0,   1};
    size_t n = 0;
    memcpy(p, hdr, sizeof(hdr));
    n += sizeof(hdr);
    memcpy(p + n, q, sizeof(q));
    n += sizeof(q);
    if (edns) {
        const uint8_t opt[] = {0, 0, 41, 0x10, 0, 0, version, 0x80, 0, 0, 0};
        memcpy(p + n, opt, sizeof(opt));
        n += sizeof(opt);
        p[11] = 1;
    }
    return n;
}

/* The builder writes exactly the octets of a hand-made query: the dns
 * check's (no EDNS) and explain's (ID "GT", EDNS 1232). */
static void test_build_bytes(struct tap *t)
{
    static const uint8_t plain[] = {0,   0,   0,   0,   0,   1,   0,   0,   0,   0,   0,
                                    0,   3,   'w', 'w', 'w', 7,   'e', 'x', 'a', 'm', 'p',
                                    'l', 'e', 3,   'c', 'o', 'm', 0,   0,   28,  0,   1};
    static const uint8_t explain[] = {0x47, 0x54, 0, 0, 0, 1, 0,  0,    0,    0, 0, 1, 1, 'a', 0,
                                      0,    15,   0, 1, 0, 0, 41, 0x04, 0xd0, 0, 0, 0, 0, 0,   0};
    struct dns_name n, a;
    uint8_t out[600];
    dns_name_from_str("WWW.Example.com", &n);
    struct dns_msg_query q = {.qname = &n, .qtype = 28, .qclass = DNS_CLASS_IN};
    size_t len = dns_msg_build_query(&q, out, sizeof(out));
    TAP_CHECK(t, len == sizeof(plain) && memcmp(out, plain, len) == 0,
              "query without EDNS: header, lowercase name, type, class (%zu)", len);
    dns_name_from_str("a.", &a);
    struct dns_opt opt = {.payload = DNS_EDNS_DEFAULT_MAX};
    struct dns_msg_query e = {
        .id = 0x4754, .qname = &a, .qtype = DNS_TYPE_MX, .qclass = DNS_CLASS_IN, .opt = &opt};
    len = dns_msg_build_query(&e, out, sizeof(out));
    TAP_CHECK(t, len == sizeof(explain) && memcmp(out, explain, len) == 0,
              "query with OPT: ARCOUNT 1, payload 1232, version 0, no flags (%zu)", len);
    TAP_CHECK(t, dns_msg_build_query(&e, out, sizeof(explain)) == sizeof(explain),
              "a buffer of exactly the length is enough");
    TAP_CHECK(t,
              dns_msg_build_query(&e, out, sizeof(explain) - 1) == 0 &&
                  dns_msg_build_query(&q, out, sizeof(plain) - 1) == 0,
              "one octet short: 0");
    q.flags = DNS_FLAG_QR | DNS_FLAG_RD;
    len = dns_msg_build_query(&q, out, sizeof(out));
    TAP_CHECK(t, len > 0 && dns_get16(out + 2) == DNS_FLAG_RD, "QR cleared, RD kept");
}

/* Built queries parse back with every field as asked; ECS bits past the
 * source prefix are cleared (the parser refuses them otherwise). */
static void test_build_parse(struct tap *t)
{
    struct dns_name n;
    struct dns_query pq;
    uint8_t out[600];
    struct dns_ecs v4 = {.family = 1, .source_prefix = 23, .addr = {192, 0, 3, 255}};
    struct dns_opt opt = {.payload = 4000, .do_bit = true, .ecs = &v4};
    dns_name_from_str("x.example.", &n);
    struct dns_msg_query q = {.id = 7,
                              .flags = DNS_FLAG_RD | DNS_FLAG_CD,
                              .qname = &n,
                              .qtype = DNS_TYPE_AAAA,
                              .qclass = DNS_CLASS_CH,
                              .opt = &opt};
    size_t len = dns_msg_build_query(&q, out, sizeof(out));
    TAP_CHECK(t, len == 12 + 11 + 4 + 11 + 8 + 3, "length with a /23 ECS (%zu)", len);
    TAP_CHECK(t,
              dns_query_parse(out, len, &pq) == DNS_PARSE_OK && pq.id == 7 &&
                  pq.flags == (DNS_FLAG_RD | DNS_FLAG_CD) && pq.qtype == DNS_TYPE_AAAA &&
                  pq.qclass == DNS_CLASS_CH &&
                  dns_name_equal(pq.qname.wire, pq.qname.len, n.wire, n.len),
              "header and question parse back");
    TAP_CHECK(t,
              pq.edns && pq.edns_do && pq.edns_udp_size == 4000 && pq.edns_version == 0 &&
                  pq.ecs.present && pq.ecs.family == 1 && pq.ecs.source_prefix == 23 &&
                  pq.ecs.addr[0] == 192 && pq.ecs.addr[2] == 2 && pq.ecs.addr[3] == 0,
              "OPT parses back: DO, payload, ECS 192.0.2.0/23");
    struct dns_ecs v6 = {
        .family = 2, .source_prefix = 56, .addr = {0x20, 1, 0xd, 0xb8, 0, 0xc0, 1}};
    opt.ecs = &v6;
    opt.do_bit = false;
    len = dns_msg_build_query(&q, out, sizeof(out));
    TAP_CHECK(t,
              len == 12 + 11 + 4 + 11 + 8 + 7 && dns_query_parse(out, len, &pq) == DNS_PARSE_OK &&
                  !pq.edns_do && pq.ecs.family == 2 && pq.ecs.source_prefix == 56 &&
                  pq.ecs.addr[6] == 1,
              "IPv6 /56 ECS parses back");
    dns_name_from_str(".", &n);
    opt.ecs = NULL;
    len = dns_msg_build_query(&q, out, sizeof(out));
    TAP_CHECK(t,
              len == 12 + 1 + 4 + 11 && dns_query_parse(out, len, &pq) == DNS_PARSE_OK &&
                  pq.qname.count == 0,
              "root name");
}

static void test_opt(struct tap *t)
{
    uint8_t out[64];
    struct dns_ecs e = {.family = 1, .source_prefix = 0};
    struct dns_opt o = {.payload = 1232, .ext_rcode = DNS_RCODE_BADVERS >> 4, .ecs = &e};
    TAP_CHECK(t, dns_msg_opt_size(&o) == 19, "ECS /0: no address octets");
    e.source_prefix = 32;
    o.ecs_scope = 24;
    size_t len = dns_msg_put_opt(&o, out, sizeof(out));
    TAP_CHECK(t,
              len == 23 && out[0] == 0 && dns_get16(out + 1) == DNS_TYPE_OPT &&
                  dns_get32(out + 5) == 0x01000000 && dns_get16(out + 9) == 12,
              "OPT: root owner, extended rcode in TTL, RDLENGTH");
    TAP_CHECK(t, out[11 + 6] == 32 && out[11 + 7] == 24, "source and scope prefixes written");
    TAP_CHECK(t, dns_msg_put_opt(&o, out, 22) == 0, "does not fit: 0");
    e.source_prefix = 33;
    TAP_CHECK(t, dns_msg_put_opt(&o, out, sizeof(out)) == 0, "IPv4 prefix 33 refused");
    e.family = 3;
    e.source_prefix = 8;
    TAP_CHECK(t, dns_msg_put_opt(&o, out, sizeof(out)) == 0, "family 3 refused");
    e.family = 2;
    e.source_prefix = 128;
    TAP_CHECK(t, dns_msg_opt_size(&o) == 35 && dns_msg_put_opt(&o, out, sizeof(out)) == 35,
              "IPv6 /128: 16 address octets");
    o.ecs = NULL;
    TAP_CHECK(t, dns_msg_opt_size(&o) == 11 && dns_msg_put_opt(&o, out, 11) == 11,
              "no ECS: 11 octets");
}

/* ---- ECS (RFC 7871) validation ------------------------------------------ */

/* Builds a query whose OPT carries the given options (raw CODE LEN DATA
 * octets); returns its length. */
static size_t ecs_query(uint8_t *p, const uint8_t *opts, size_t olen)
{
    size_t n = mk_query(p, true, 0);
    memcpy(p + n, opts, olen);
    p[n - 2] = (uint8_t)(olen >> 8);
    p[n - 1] = (uint8_t)olen;
    return n + olen;
}

/* Parses a query with one ECS option: FAMILY, SOURCE, SCOPE, then alen
 * address octets. */
static enum dns_parse_result ecs_parse(uint16_t family, uint8_t source, uint8_t scope,
                                       const uint8_t *addr, size_t alen, struct dns_query *q)
{
    uint8_t p[600], o[64];
    o[0] = 0;
    o[1] = 8;
    o[2] = 0;
    o[3] = (uint8_t)(4 + alen);
    o[4] = (uint8_t)(family >> 8);
    o[5] = (uint8_t)family;
    o[6] = source;
    o[7] = scope;
    memcpy(o + 8, addr, alen);
    size_t n = ecs_query(p, o, 8 + alen);
    return dns_query_parse(p, n, q);
}

static void test_ecs(struct tap *t)
{
    struct dns_query q;
    const uint8_t a4[] = {192, 0, 2, 0}, a3odd[] = {192, 0, 3};
    const uint8_t a6[16] = {0x20, 0x01, 0x0d, 0xb8, 0, 1, 0x80};
    TAP_CHECK(t,
              ecs_parse(1, 24, 0, a4, 3, &q) == DNS_PARSE_OK && q.ecs.present &&
                  q.ecs.family == 1 && q.ecs.source_prefix == 24 && q.ecs.addr[2] == 2 &&
                  q.ecs.addr[3] == 0,
              "ECS IPv4 /24 with 3 octets");
    TAP_CHECK(t, ecs_parse(1, 32, 0, a4, 4, &q) == DNS_PARSE_OK && q.ecs.source_prefix == 32,
              "ECS IPv4 /32 with 4 octets");
    TAP_CHECK(t,
              ecs_parse(1, 0, 0, a4, 0, &q) == DNS_PARSE_OK && q.ecs.present &&
                  q.ecs.source_prefix == 0,
              "ECS SOURCE PREFIX-LENGTH 0 without address: accepted (no location)");
    TAP_CHECK(t, ecs_parse(2, 0, 0, a6, 0, &q) == DNS_PARSE_OK && q.ecs.family == 2, "ECS IPv6 /0");
    TAP_CHECK(t,
              ecs_parse(2, 49, 0, a6, 7, &q) == DNS_PARSE_OK && q.ecs.source_prefix == 49 &&
                  q.ecs.addr[6] == 0x80 && q.ecs.addr[7] == 0 && q.ecs.addr[15] == 0,
              "ECS IPv6 /49 with 7 octets, rest zero");
    TAP_CHECK(t, ecs_parse(2, 128, 0, a6, 16, &q) == DNS_PARSE_OK, "ECS IPv6 /128");
    TAP_CHECK(t, ecs_parse(1, 23, 0, a4, 3, &q) == DNS_PARSE_OK, "ECS IPv4 /23, bit 24 clear");
    /* FORMERR: unknown family */
    TAP_CHECK(t, ecs_parse(0, 0, 0, a4, 0, &q) == DNS_PARSE_FORMERR, "ECS family 0: FORMERR");
    TAP_CHECK(t, ecs_parse(3, 8, 0, a4, 1, &q) == DNS_PARSE_FORMERR, "ECS family 3: FORMERR");
    /* FORMERR: SOURCE PREFIX-LENGTH beyond the family's length */
    TAP_CHECK(t, ecs_parse(1, 33, 0, a4, 4, &q) == DNS_PARSE_FORMERR, "ECS IPv4 /33: FORMERR");
    TAP_CHECK(t, ecs_parse(1, 33, 0, a6, 5, &q) == DNS_PARSE_FORMERR,
              "ECS IPv4 /33 with 5 octets: FORMERR");
    TAP_CHECK(t, ecs_parse(2, 129, 0, a6, 16, &q) == DNS_PARSE_FORMERR, "ECS IPv6 /129: FORMERR");
    /* FORMERR: ADDRESS longer (or shorter) than the prefix needs */
    TAP_CHECK(t, ecs_parse(1, 24, 0, a4, 4, &q) == DNS_PARSE_FORMERR,
              "ECS /24 with 4 octets: FORMERR");
    TAP_CHECK(t, ecs_parse(1, 0, 0, a4, 1, &q) == DNS_PARSE_FORMERR,
              "ECS /0 with 1 octet: FORMERR");
    TAP_CHECK(t, ecs_parse(2, 48, 0, a6, 7, &q) == DNS_PARSE_FORMERR,
              "ECS IPv6 /48 with 7 octets: FORMERR");
    TAP_CHECK(t, ecs_parse(1, 24, 0, a4, 2, &q) == DNS_PARSE_FORMERR,
              "ECS /24 with 2 octets: FORMERR");
    /* FORMERR: non-zero bits beyond the prefix */
    TAP_CHECK(t, ecs_parse(1, 23, 0, a3odd, 3, &q) == DNS_PARSE_FORMERR,
              "ECS /23 with bit 24 set: FORMERR");
    TAP_CHECK(t, ecs_parse(2, 48, 0, a6, 6, &q) == DNS_PARSE_OK,
              "ECS IPv6 /48 (bit 49 is in the next octet)");
    TAP_CHECK(t, ecs_parse(2, 41, 0, a6, 6, &q) == DNS_PARSE_FORMERR,
              "ECS IPv6 /41 with bit 48 set: FORMERR");
    TAP_CHECK(t, ecs_parse(1, 24, 0, a4, 3, &q) == DNS_PARSE_OK && q.qname_ok,
              "question parsed before the ECS check");
    /* FORMERR: SCOPE PREFIX-LENGTH must be 0 in a query */
    TAP_CHECK(t, ecs_parse(1, 24, 24, a4, 3, &q) == DNS_PARSE_FORMERR && q.qname_ok,
              "ECS SCOPE in a query: FORMERR, question still echoed");
    /* the option's framing */
    uint8_t p[600];
    const uint8_t shortopt[] = {0, 8, 0, 3, 0, 1, 0};
    size_t n = ecs_query(p, shortopt, sizeof(shortopt));
    TAP_CHECK(t, dns_query_parse(p, n, &q) == DNS_PARSE_FORMERR, "ECS shorter than 4: FORMERR");
    const uint8_t two[] = {0, 8, 0, 4, 0, 1, 0, 0, 0, 8, 0, 4, 0, 1, 0, 0};
    n = ecs_query(p, two, sizeof(two));
    TAP_CHECK(t, dns_query_parse(p, n, &q) == DNS_PARSE_FORMERR, "two ECS options: FORMERR");
    const uint8_t cookie[] = {0, 10, 0, 8, 1, 2, 3, 4,  5, 6,   7,
                              8, 0,  8, 0, 6, 0, 1, 16, 0, 198, 51};
    n = ecs_query(p, cookie, sizeof(cookie));
    TAP_CHECK(t,
              dns_query_parse(p, n, &q) == DNS_PARSE_OK && q.ecs.present &&
                  q.ecs.source_prefix == 16 && q.ecs.addr[0] == 198 && q.ecs.addr[1] == 51,
              "ECS after a cookie option");
    TAP_CHECK(t, dns_query_parse(p, n - 1, &q) == DNS_PARSE_FORMERR,
              "ECS option cut short by the packet end: FORMERR");
}

int main(void)
{
    struct tap t = {0, 0};
    test_build_bytes(&t);
    test_build_parse(&t);
    test_opt(&t);
    uint8_t p[600];
    struct dns_query q;
    size_t n = mk_query(p, false, 0);

    TAP_CHECK(&t, dns_query_parse(p, n, &q) == DNS_PARSE_OK, "plain query");
    TAP_CHECK(&t, q.qtype == 1 && q.qclass == 1 && q.id == 0x1234, "fields");
    TAP_CHECK(&t, q.question[1] == 'W' && q.qname.wire[1] == 'w', "case kept in question");
    TAP_CHECK(&t, dns_query_parse(p, 11, &q) == DNS_PARSE_DROP, "short packet dropped");
    p[2] |= 0x80;
    TAP_CHECK(&t, dns_query_parse(p, n, &q) == DNS_PARSE_DROP, "response dropped");
    p[2] = 0x01 | (4 << 3);
    TAP_CHECK(&t, dns_query_parse(p, n, &q) == DNS_PARSE_OK && DNS_OPCODE(q.flags) == 4,
              "opcode NOTIFY: parsed like a query (query.c answers it)");
    p[2] = 0x01 | (5 << 3);
    TAP_CHECK(&t, dns_query_parse(p, n, &q) == DNS_PARSE_OK && DNS_OPCODE(q.flags) == 5,
              "opcode UPDATE: parsed like a query (its zone section is the question)");
    p[2] = 0x01 | (2 << 3);
    TAP_CHECK(&t, dns_query_parse(p, n, &q) == DNS_PARSE_NOTIMP, "opcode STATUS: NOTIMP");
    n = mk_query(p, false, 0);
    p[5] = 2;
    TAP_CHECK(&t, dns_query_parse(p, n, &q) == DNS_PARSE_FORMERR, "QDCOUNT 2: FORMERR");
    p[5] = 0;
    TAP_CHECK(&t, dns_query_parse(p, n, &q) == DNS_PARSE_FORMERR, "QDCOUNT 0: FORMERR");
    n = mk_query(p, true, 0);
    TAP_CHECK(&t,
              dns_query_parse(p, n, &q) == DNS_PARSE_OK && q.edns && q.edns_do &&
                  q.edns_udp_size == 4096,
              "EDNS parsed with DO");
    n = mk_query(p, true, 1);
    TAP_CHECK(&t, dns_query_parse(p, n, &q) == DNS_PARSE_BADVERS, "EDNS version 1: BADVERS");
    n = mk_query(p, true, 0);
    memcpy(p + n, p + n - 11, 11);
    p[11] = 2;
    TAP_CHECK(&t, dns_query_parse(p, n + 11, &q) == DNS_PARSE_FORMERR, "two OPT: FORMERR");
    n = mk_query(p, true, 0);
    p[11] = 3;
    TAP_CHECK(&t, dns_query_parse(p, n, &q) == DNS_PARSE_FORMERR, "ARCOUNT past the end");
    n = mk_query(p, true, 0);
    p[n - 1] = 8; /* OPT RDLEN claims 8 octets that are not there */
    TAP_CHECK(&t, dns_query_parse(p, n, &q) == DNS_PARSE_FORMERR, "OPT rdata past the end");
    /* ECS option: family 1, /24, 192.0.2 */
    n = mk_query(p, true, 0);
    const uint8_t ecs[] = {0, 8, 0, 7, 0, 1, 24, 0, 192, 0, 2};
    memcpy(p + n, ecs, sizeof(ecs));
    p[n - 1] = sizeof(ecs);
    TAP_CHECK(&t,
              dns_query_parse(p, n + sizeof(ecs), &q) == DNS_PARSE_OK && q.ecs.present &&
                  q.ecs.source_prefix == 24 && q.ecs.addr[0] == 192,
              "ECS parsed");
    p[n + 6] = 16; /* /16 with 3 address octets: malformed */
    TAP_CHECK(&t, dns_query_parse(p, n + sizeof(ecs), &q) == DNS_PARSE_FORMERR,
              "ECS with wrong address length: FORMERR");
    n = mk_query(p, false, 0);
    p[12] = 0xc0;
    p[13] = 0x0c;
    TAP_CHECK(&t, dns_query_parse(p, n, &q) == DNS_PARSE_FORMERR, "pointer loop in question");
    test_ecs(&t);
    return tap_done(&t);
}

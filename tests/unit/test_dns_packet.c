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
    TAP_CHECK(&t, dns_query_parse(p, n, &q) == DNS_PARSE_NOTIMP, "opcode NOTIFY: NOTIMP");
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
    return tap_done(&t);
}

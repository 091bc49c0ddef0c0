/* Unit tests for src/dns/packet.c */
#include <string.h>

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

int main(void)
{
    struct tap t = {0, 0};
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

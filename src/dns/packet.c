/*
 * packet.c -- parsing of incoming queries.
 */
#include "dns/packet.h"

#include <string.h>

/* Parses the ECS option body; returns false when it is malformed, which
 * RFC 7871 §7.1.2 answers with FORMERR. */
static bool packet_parse_ecs(const uint8_t *p, uint16_t len, struct dns_ecs *ecs)
{
    if (len < 4)
        return false;
    uint16_t family = dns_get16(p);
    uint8_t source = p[2], scope = p[3];
    unsigned maxbits = family == 1 ? 32 : family == 2 ? 128 : 0;
    if (maxbits == 0 || source > maxbits || scope != 0)
        return false;
    unsigned need = (source + 7u) / 8u;
    if (len - 4u != need)
        return false;
    memset(ecs->addr, 0, sizeof(ecs->addr));
    memcpy(ecs->addr, p + 4, need);
    /* Bits past the source prefix must be zero. */
    if (source % 8 && (ecs->addr[need - 1] & (uint8_t)(0xff >> (source % 8))))
        return false;
    ecs->present = true;
    ecs->family = family;
    ecs->source_prefix = source;
    return true;
}

/* Parses one OPT record whose fixed part starts at p (after the owner). */
static enum dns_parse_result packet_parse_opt(const uint8_t *pkt, size_t len, size_t pos,
                                              uint16_t rdlen, struct dns_query *q)
{
    const uint8_t *rr = pkt + pos; /* TYPE CLASS TTL RDLEN */
    uint32_t ttl = dns_get32(rr + 4);
    size_t p = pos + 10, end = pos + 10 + rdlen;

    q->edns = true;
    q->edns_udp_size = dns_get16(rr + 2);
    q->edns_version = (uint8_t)(ttl >> 16);
    q->edns_do = (ttl & 0x8000) != 0;
    while (p < end) {
        if (end - p < 4)
            return DNS_PARSE_FORMERR;
        uint16_t code = dns_get16(pkt + p), olen = dns_get16(pkt + p + 2);
        p += 4;
        if (olen > end - p)
            return DNS_PARSE_FORMERR;
        if (code == DNS_EDNS_OPT_ECS) {
            if (q->ecs.present || !packet_parse_ecs(pkt + p, olen, &q->ecs))
                return DNS_PARSE_FORMERR;
        } else if (code == DNS_EDNS_OPT_NSID && olen == 0) {
            q->nsid = true; /* a non-empty NSID in a query is ignored */
        } else if (code == DNS_EDNS_OPT_COOKIE && !q->cookie_present) {
            q->cookie_present = true;
            q->cookie = pkt + p;
            q->cookie_len = olen;
        }
        p += olen;
    }
    (void)len;
    return DNS_PARSE_OK;
}

/* Checks a TSIG record (RFC 8945 §4.2): last in the message, class ANY,
 * RDATA = algorithm name, time(6), fudge(2), MAC size(2), MAC, original
 * ID(2), error(2), other length(2), other data. */
static bool packet_check_tsig(const uint8_t *pkt, size_t len, size_t owner, size_t pos, bool last,
                              struct dns_query *q)
{
    uint16_t klass = dns_get16(pkt + pos + 2), rdlen = dns_get16(pkt + pos + 8);
    size_t rd = pos + 10, end = rd + rdlen, p = rd;
    if (!last || klass != DNS_CLASS_ANY || !dns_name_skip(pkt, end, &p) || end - p < 10)
        return false;
    uint16_t mac = dns_get16(pkt + p + 8);
    p += 10;
    if (end - p < (size_t)mac + 6)
        return false;
    p += mac + 4;
    uint16_t other = dns_get16(pkt + p);
    if (end - p - 2 != other)
        return false;
    (void)len;
    q->tsig = true;
    q->tsig_owner = owner;
    q->tsig_rdata = rd;
    q->tsig_rdlen = rdlen;
    return true;
}

/* Walks the answer, authority and additional sections; only the OPT in the
 * additional section matters, but every record must be well formed. */
static enum dns_parse_result packet_parse_records(const uint8_t *pkt, size_t len, size_t pos,
                                                  unsigned an, unsigned ns, unsigned ar,
                                                  struct dns_query *q)
{
    unsigned total = an + ns + ar;
    for (unsigned i = 0; i < total; i++) {
        size_t owner = pos;
        if (!dns_name_skip(pkt, len, &pos) || len - pos < 10)
            return DNS_PARSE_FORMERR;
        uint16_t type = dns_get16(pkt + pos);
        uint16_t rdlen = dns_get16(pkt + pos + 8);
        if (rdlen > len - pos - 10)
            return DNS_PARSE_FORMERR;
        if (type == DNS_TYPE_TSIG) {
            if (!packet_check_tsig(pkt, len, owner, pos, i + 1 == total, q))
                return DNS_PARSE_FORMERR;
        } else if (type == DNS_TYPE_OPT) {
            /* OPT only in additional, once, owned by the root (RFC 6891 §6.1.1). */
            if (i < an + ns || q->edns || pkt[owner] != 0)
                return DNS_PARSE_FORMERR;
            enum dns_parse_result r = packet_parse_opt(pkt, len, pos, rdlen, q);
            if (r != DNS_PARSE_OK)
                return r;
        }
        pos += 10 + (size_t)rdlen;
    }
    /* Trailing garbage after the last record is tolerated, as NSD and Knot do. */
    q->opt_ok = q->edns;
    return DNS_PARSE_OK;
}

enum dns_parse_result dns_query_parse(const uint8_t *pkt, size_t len, struct dns_query *q)
{
    memset(q, 0, offsetof(struct dns_query, qname));
    q->qname.len = 0;
    q->edns = false;
    q->opt_ok = false;
    q->tsig = false;
    q->edns_version = 0;
    q->edns_do = false;
    q->edns_udp_size = 0;
    q->ecs.present = false;
    q->nsid = false;
    q->cookie_present = false;
    q->cookie_len = 0;
    q->cookie = NULL;
    q->qdcount = 0;

    if (len < DNS_HEADER_SIZE)
        return DNS_PARSE_DROP;
    q->id = dns_get16(pkt);
    q->flags = dns_get16(pkt + 2);
    if (q->flags & DNS_FLAG_QR)
        return DNS_PARSE_DROP;
    /* NOTIFY (RFC 1996) and UPDATE (RFC 2136: its zone section is the
     * question) are parsed like a query: query.c answers them. */
    unsigned opcode = DNS_OPCODE(q->flags);
    if (opcode != DNS_OPCODE_QUERY && opcode != DNS_OPCODE_NOTIFY && opcode != DNS_OPCODE_UPDATE)
        return DNS_PARSE_NOTIMP;
    unsigned qd = dns_get16(pkt + 4), an = dns_get16(pkt + 6), ns = dns_get16(pkt + 8),
             ar = dns_get16(pkt + 10);
    q->qdcount = (uint16_t)qd;
    if (qd != 1) {
        /* Still read the OPT of a question-less query, to echo it. */
        if (qd == 0)
            packet_parse_records(pkt, len, DNS_HEADER_SIZE, an, ns, ar, q);
        return DNS_PARSE_FORMERR;
    }
    size_t pos = DNS_HEADER_SIZE;
    if (!dns_name_parse(pkt, len, &pos, &q->qname, true) || len - pos < 4)
        return DNS_PARSE_FORMERR;
    /* Nothing precedes the question but the header, so a compression pointer
     * there can only be bogus; rejecting it keeps the echoed question valid. */
    if (pos - DNS_HEADER_SIZE != q->qname.len)
        return DNS_PARSE_FORMERR;
    q->qtype = dns_get16(pkt + pos);
    q->qclass = dns_get16(pkt + pos + 2);
    pos += 4;
    q->question = pkt + DNS_HEADER_SIZE;
    q->question_len = pos - DNS_HEADER_SIZE;
    q->qname_ok = true;
    q->qname_hash = dns_name_hash(q->qname.wire, q->qname.len);
    enum dns_parse_result r = packet_parse_records(pkt, len, pos, an, ns, ar, q);
    if (r != DNS_PARSE_OK)
        return r;
    if (q->edns && q->edns_version > 0)
        return DNS_PARSE_BADVERS;
    return DNS_PARSE_OK; /* a TSIG is checked against the keys (query.c) */
}

/*
 * msg_build.c -- queries and OPT records in wire form.
 */
#include "dns/msg_build.h"

#include <string.h>

#include "dns/dns.h"

#define MSG_BUILD_OPT_FIXED 11 /* root owner, TYPE, CLASS, TTL, RDLENGTH */
#define MSG_BUILD_ECS_FIXED 8  /* OPTION-CODE, OPTION-LENGTH, FAMILY, 2 prefixes */

static unsigned msg_build_ecs_octets(const struct dns_ecs *e)
{
    return (e->source_prefix + 7u) / 8u;
}

size_t dns_msg_opt_size(const struct dns_opt *o)
{
    size_t n = MSG_BUILD_OPT_FIXED;
    if (o->ecs)
        n += MSG_BUILD_ECS_FIXED + msg_build_ecs_octets(o->ecs);
    if (o->nsid)
        n += 4 + (size_t)o->nsid_len;
    if (o->cookie)
        n += 4 + (size_t)o->cookie_len;
    return n;
}

/* Writes one option (code, length, data) at p; returns its size. */
static size_t msg_build_put_option(uint16_t code, const uint8_t *data, uint16_t len, uint8_t *p)
{
    dns_put16(p, code);
    dns_put16(p + 2, len);
    if (len)
        memcpy(p + 4, data, len);
    return 4 + (size_t)len;
}

/* Writes the ECS option at p (room already checked); false when the family
 * or source prefix is invalid. The scope is the caller's decision. */
static bool msg_build_put_ecs(const struct dns_ecs *e, uint8_t scope, uint8_t *p)
{
    unsigned bits = e->family == 1 ? 32 : e->family == 2 ? 128 : 0;
    if (bits == 0 || e->source_prefix > bits)
        return false;
    unsigned alen = msg_build_ecs_octets(e);
    dns_put16(p, DNS_EDNS_OPT_ECS);
    dns_put16(p + 2, (uint16_t)(4 + alen));
    dns_put16(p + 4, e->family);
    p[6] = e->source_prefix;
    p[7] = scope;
    memcpy(p + 8, e->addr, alen);
    if (e->source_prefix % 8)
        p[8 + alen - 1] &= (uint8_t)(0xff << (8 - e->source_prefix % 8));
    return true;
}

size_t dns_msg_put_opt(const struct dns_opt *o, uint8_t *out, size_t cap)
{
    size_t size = dns_msg_opt_size(o);
    if (size > cap)
        return 0;
    out[0] = 0; /* the root owns OPT */
    dns_put16(out + 1, DNS_TYPE_OPT);
    dns_put16(out + 3, o->payload);
    /* TTL: extended rcode, version 0, DO and zero flags (RFC 6891 §6.1.3). */
    dns_put32(out + 5, ((uint32_t)o->ext_rcode << 24) | (o->do_bit ? 0x8000u : 0u));
    dns_put16(out + 9, (uint16_t)(size - MSG_BUILD_OPT_FIXED));
    size_t pos = MSG_BUILD_OPT_FIXED;
    if (o->ecs) {
        if (!msg_build_put_ecs(o->ecs, o->ecs_scope, out + pos))
            return 0;
        pos += MSG_BUILD_ECS_FIXED + msg_build_ecs_octets(o->ecs);
    }
    if (o->nsid)
        pos += msg_build_put_option(DNS_EDNS_OPT_NSID, o->nsid, o->nsid_len, out + pos);
    if (o->cookie)
        msg_build_put_option(DNS_EDNS_OPT_COOKIE, o->cookie, o->cookie_len, out + pos);
    return size;
}

size_t dns_msg_build_query(const struct dns_msg_query *q, uint8_t *out, size_t cap)
{
    size_t len = DNS_HEADER_SIZE + q->qname->len + 4u;
    if (len > cap)
        return 0;
    dns_put16(out, q->id);
    dns_put16(out + 2, (uint16_t)(q->flags & ~DNS_FLAG_QR));
    dns_put16(out + 4, 1); /* QDCOUNT */
    memset(out + 6, 0, 6);
    memcpy(out + DNS_HEADER_SIZE, q->qname->wire, q->qname->len);
    dns_put16(out + len - 4, q->qtype);
    dns_put16(out + len - 2, q->qclass);
    if (!q->opt)
        return len;
    size_t opt = dns_msg_put_opt(q->opt, out + len, cap - len);
    if (opt == 0)
        return 0;
    dns_put16(out + 10, 1); /* ARCOUNT */
    return len + opt;
}

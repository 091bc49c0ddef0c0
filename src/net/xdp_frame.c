/*
 * xdp_frame.c -- Ethernet/IP/UDP framing for the AF_XDP listener.
 */
#include "net/xdp_frame.h"

#include <netinet/in.h>
#include <string.h>

#define XDP_ETH_IPV4 0x0800
#define XDP_ETH_IPV6 0x86DD
#define XDP_TTL 64

static uint16_t xdp_get16(const uint8_t *p)
{
    return (uint16_t)(p[0] << 8 | p[1]);
}

static void xdp_put16(uint8_t *p, uint16_t v)
{
    p[0] = (uint8_t)(v >> 8);
    p[1] = (uint8_t)v;
}

uint32_t xdp_frame_csum_add(uint32_t sum, const uint8_t *d, size_t len)
{
    /* 64-bit sum of 32-bit big-endian words, folded at the end: a DNS
     * reply of a few hundred octets is summed in a few dozen steps. */
    uint64_t s = sum;
    size_t i = 0;
    for (; i + 4 <= len; i += 4)
        s += (uint32_t)d[i] << 24 | (uint32_t)d[i + 1] << 16 | (uint32_t)d[i + 2] << 8 | d[i + 3];
    if (i + 2 <= len) {
        s += (uint32_t)d[i] << 8 | d[i + 1];
        i += 2;
    }
    if (i < len)
        s += (uint32_t)d[i] << 8;
    while (s >> 32)
        s = (s & 0xffffffffu) + (s >> 32);
    s = (s & 0xffff) + (s >> 16);
    s = (s & 0xffff) + (s >> 16);
    return (uint32_t)s;
}

uint16_t xdp_frame_csum_fold(uint32_t sum)
{
    while (sum >> 16)
        sum = (sum & 0xffff) + (sum >> 16);
    return (uint16_t)~sum;
}

/* The UDP header at u, of udp_len octets (header and payload). */
static int xdp_frame_udp(const uint8_t *u, size_t avail, struct xdp_frame_info *fi, size_t hdr)
{
    if (avail < 8)
        return -1;
    size_t ulen = xdp_get16(u + 4);
    if (ulen < 8 || ulen > avail)
        return -1;
    fi->hdr_len = hdr;
    fi->payload_len = ulen - 8;
    return 0;
}

static int xdp_frame_parse4(const uint8_t *f, size_t len, struct xdp_frame_info *fi)
{
    const uint8_t *ip = f + XDP_FRAME_ETH;
    if (len < XDP_FRAME_HDR4 || ip[0] != 0x45 || ip[9] != IPPROTO_UDP ||
        (xdp_get16(ip + 6) & 0x3fff) != 0)
        return -1;
    size_t tot = xdp_get16(ip + 2);
    if (tot < 28 || tot > len - XDP_FRAME_ETH)
        return -1;
    struct sockaddr_in *sin = (struct sockaddr_in *)&fi->client;
    memset(sin, 0, sizeof(*sin));
    sin->sin_family = AF_INET;
    memcpy(&sin->sin_addr, ip + 12, 4);
    memcpy(&sin->sin_port, ip + 20, 2);
    return xdp_frame_udp(ip + 20, tot - 20, fi, XDP_FRAME_HDR4);
}

static int xdp_frame_parse6(const uint8_t *f, size_t len, unsigned ifindex,
                            struct xdp_frame_info *fi)
{
    const uint8_t *ip = f + XDP_FRAME_ETH;
    if (len < XDP_FRAME_HDR6 || (ip[0] >> 4) != 6 || ip[6] != IPPROTO_UDP)
        return -1;
    size_t plen = xdp_get16(ip + 4);
    if (plen > len - XDP_FRAME_ETH - 40)
        return -1;
    struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&fi->client;
    memset(sin6, 0, sizeof(*sin6));
    sin6->sin6_family = AF_INET6;
    memcpy(&sin6->sin6_addr, ip + 8, 16);
    memcpy(&sin6->sin6_port, ip + 40, 2);
    if (IN6_IS_ADDR_LINKLOCAL(&sin6->sin6_addr))
        sin6->sin6_scope_id = ifindex;
    return xdp_frame_udp(ip + 40, plen, fi, XDP_FRAME_HDR6);
}

int xdp_frame_parse(const uint8_t *f, size_t len, unsigned ifindex, struct xdp_frame_info *fi)
{
    if (len < XDP_FRAME_ETH)
        return -1;
    uint16_t proto = xdp_get16(f + 12);
    if (proto == XDP_ETH_IPV4)
        return xdp_frame_parse4(f, len, fi);
    if (proto == XDP_ETH_IPV6)
        return xdp_frame_parse6(f, len, ifindex, fi);
    return -1;
}

/* The UDP header of the reply at u (ports swapped from the query's qu),
 * its checksum over the pseudo-header sum ph, the header and the DNS
 * payload that follows it. */
static void xdp_frame_udp_reply(const uint8_t *qu, uint8_t *u, size_t dns_len, uint32_t ph)
{
    memcpy(u, qu + 2, 2);
    memcpy(u + 2, qu, 2);
    xdp_put16(u + 4, (uint16_t)(dns_len + 8));
    xdp_put16(u + 6, 0);
    uint16_t c = xdp_frame_csum_fold(xdp_frame_csum_add(ph, u, dns_len + 8));
    xdp_put16(u + 6, c ? c : 0xffff); /* 0 means "no checksum" (RFC 768) */
}

size_t xdp_frame_reply(const uint8_t *q, const struct xdp_frame_info *fi, uint8_t *out,
                       size_t dns_len)
{
    const uint8_t *qi = q + XDP_FRAME_ETH;
    uint8_t *ip = out + XDP_FRAME_ETH;
    uint8_t ph[4];
    memcpy(out, q + 6, 6); /* to the sender, from us */
    memcpy(out + 6, q, 6);
    memcpy(out + 12, q + 12, 2);
    if (fi->hdr_len == XDP_FRAME_HDR4) {
        size_t tot = 20 + 8 + dns_len;
        ip[0] = 0x45;
        ip[1] = qi[1] & 0xfc; /* the query's DSCP, no ECN */
        xdp_put16(ip + 2, (uint16_t)tot);
        xdp_put16(ip + 4, 0);      /* id: not fragmented, DF set (RFC 6864) */
        xdp_put16(ip + 6, 0x4000); /* DF */
        ip[8] = XDP_TTL;
        ip[9] = IPPROTO_UDP;
        xdp_put16(ip + 10, 0);
        memcpy(ip + 12, qi + 16, 4);
        memcpy(ip + 16, qi + 12, 4);
        xdp_put16(ip + 10, xdp_frame_csum_fold(xdp_frame_csum_add(0, ip, 20)));
        xdp_put16(ph, IPPROTO_UDP);
        xdp_put16(ph + 2, (uint16_t)(dns_len + 8));
        uint32_t sum = xdp_frame_csum_add(xdp_frame_csum_add(0, ip + 12, 8), ph, 4);
        xdp_frame_udp_reply(qi + 20, ip + 20, dns_len, sum);
        return XDP_FRAME_HDR4 + dns_len;
    }
    /* IPv6: version 6, the query's traffic class (no ECN) and flow label. */
    uint32_t vtf = (uint32_t)qi[0] << 24 | (uint32_t)qi[1] << 16 | (uint32_t)qi[2] << 8 | qi[3];
    vtf = (vtf & ~0x00300000u) | 0x60000000u;
    ip[0] = (uint8_t)(vtf >> 24);
    ip[1] = (uint8_t)(vtf >> 16);
    ip[2] = (uint8_t)(vtf >> 8);
    ip[3] = (uint8_t)vtf;
    xdp_put16(ip + 4, (uint16_t)(dns_len + 8));
    ip[6] = IPPROTO_UDP;
    ip[7] = XDP_TTL;
    memcpy(ip + 8, qi + 24, 16);
    memcpy(ip + 24, qi + 8, 16);
    xdp_put16(ph, (uint16_t)(dns_len + 8));
    xdp_put16(ph + 2, IPPROTO_UDP);
    uint32_t sum = xdp_frame_csum_add(xdp_frame_csum_add(0, ip + 8, 32), ph, 4);
    xdp_frame_udp_reply(qi + 40, ip + 40, dns_len, sum);
    return XDP_FRAME_HDR6 + dns_len;
}

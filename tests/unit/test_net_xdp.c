/*
 * test_net_xdp.c -- the AF_XDP listener's framing (net/xdp_frame.h) and its
 * configuration section (net/xdp_params.h), without a network: query
 * frames are built here, the replies checked field by field, and the
 * checksums verified by a plain 16-bit RFC 1071 sum written independently
 * of the one under test.
 */
#include <arpa/inet.h>
#include <jansson.h>
#include <netinet/in.h>
#include <string.h>

#include "common/errlist.h"
#include "net/xdp_frame.h"
#include "net/xdp_params.h"
#include "tap.h"

static const uint8_t MAC_SRV[6] = {2, 0, 0, 0, 0, 1};
static const uint8_t MAC_CLI[6] = {2, 0, 0, 0, 0, 2};

/* The reference: 16-bit words, carries folded at the end. */
static uint16_t ref_sum(const uint8_t *parts[], const size_t lens[], int n)
{
    uint32_t s = 0;
    uint8_t odd = 0;
    int have_odd = 0;
    for (int k = 0; k < n; k++)
        for (size_t i = 0; i < lens[k]; i++) {
            if (have_odd) {
                s += (uint32_t)(odd << 8 | parts[k][i]);
                have_odd = 0;
            } else {
                odd = parts[k][i];
                have_odd = 1;
            }
        }
    if (have_odd)
        s += (uint32_t)(odd << 8);
    while (s >> 16)
        s = (s & 0xffff) + (s >> 16);
    return (uint16_t)s;
}

static void put16(uint8_t *p, unsigned v)
{
    p[0] = (uint8_t)(v >> 8);
    p[1] = (uint8_t)v;
}

/* A query frame from the client to the server (IPv4 or IPv6). */
static size_t make_query(uint8_t *f, int v6, const uint8_t *dns, size_t dlen, size_t pad)
{
    memcpy(f, MAC_SRV, 6);
    memcpy(f + 6, MAC_CLI, 6);
    put16(f + 12, v6 ? 0x86dd : 0x0800);
    uint8_t *ip = f + 14, *u;
    if (!v6) {
        memset(ip, 0, 20);
        ip[0] = 0x45;
        put16(ip + 2, (unsigned)(28 + dlen));
        ip[8] = 64;
        ip[9] = IPPROTO_UDP;
        inet_pton(AF_INET, "10.9.0.2", ip + 12);
        inet_pton(AF_INET, "10.9.0.1", ip + 16);
        u = ip + 20;
    } else {
        memset(ip, 0, 40);
        ip[0] = 0x60;
        put16(ip + 4, (unsigned)(8 + dlen));
        ip[6] = IPPROTO_UDP;
        ip[7] = 64;
        inet_pton(AF_INET6, "fe80::2", ip + 8);
        inet_pton(AF_INET6, "fd00::1", ip + 24);
        u = ip + 40;
    }
    put16(u, 40000);
    put16(u + 2, 53);
    put16(u + 4, (unsigned)(8 + dlen));
    put16(u + 6, 0);
    memcpy(u + 8, dns, dlen);
    size_t len = (size_t)(u + 8 + dlen - f);
    memset(f + len, 0, pad); /* Ethernet padding */
    return len + pad;
}

static void check_reply(struct tap *t, int v6, size_t dlen)
{
    uint8_t q[2048], out[2048], dns[1500];
    for (size_t i = 0; i < sizeof(dns); i++)
        dns[i] = (uint8_t)(i * 7 + 3);
    size_t qlen = make_query(q, v6, dns, 33, v6 ? 0 : 6);
    struct xdp_frame_info fi;
    int r = xdp_frame_parse(q, qlen, 7, &fi);
    TAP_CHECK(t, r == 0 && fi.payload_len == 33, "v%d query parses, payload 33 (padding ignored)",
              v6 ? 6 : 4);
    TAP_CHECK(t, fi.hdr_len == (v6 ? XDP_FRAME_HDR6 : XDP_FRAME_HDR4), "v%d header length",
              v6 ? 6 : 4);
    if (v6) {
        const struct sockaddr_in6 *c = (const struct sockaddr_in6 *)&fi.client;
        TAP_CHECK(t,
                  c->sin6_family == AF_INET6 && ntohs(c->sin6_port) == 40000 &&
                      c->sin6_scope_id == 7 && c->sin6_addr.s6_addr[0] == 0xfe,
                  "v6 client: link-local address, port, scope = the interface");
    } else {
        const struct sockaddr_in *c = (const struct sockaddr_in *)&fi.client;
        TAP_CHECK(t,
                  c->sin_family == AF_INET && ntohs(c->sin_port) == 40000 &&
                      c->sin_addr.s_addr == inet_addr("10.9.0.2"),
                  "v4 client address and port");
    }
    memcpy(out + fi.hdr_len, dns, dlen);
    size_t flen = xdp_frame_reply(q, &fi, out, dlen);
    TAP_CHECK(t, flen == fi.hdr_len + dlen, "v%d reply frame length (%zu octets of DNS)",
              v6 ? 6 : 4, dlen);
    TAP_CHECK(t, memcmp(out, MAC_CLI, 6) == 0 && memcmp(out + 6, MAC_SRV, 6) == 0,
              "v%d MACs swapped", v6 ? 6 : 4);
    uint8_t *ip = out + 14;
    uint8_t *u = ip + (v6 ? 40 : 20);
    TAP_CHECK(t,
              (u[0] << 8 | u[1]) == 53 && (u[2] << 8 | u[3]) == 40000 &&
                  (size_t)(u[4] << 8 | u[5]) == dlen + 8,
              "v%d ports swapped, UDP length", v6 ? 6 : 4);
    uint8_t ph[12 + 24];
    const uint8_t *parts[2];
    size_t lens[2];
    if (!v6) {
        TAP_CHECK(t, memcmp(ip + 12, q + 14 + 16, 4) == 0 && memcmp(ip + 16, q + 14 + 12, 4) == 0,
                  "v4 addresses swapped");
        TAP_CHECK(t, (size_t)(ip[2] << 8 | ip[3]) == 28 + dlen && ip[0] == 0x45 && ip[6] == 0x40,
                  "v4 total length, no options, DF");
        parts[0] = ip;
        lens[0] = 20;
        TAP_CHECK(t, ref_sum(parts, lens, 1) == 0xffff, "v4 header checksum verifies");
        memcpy(ph, ip + 12, 8);
        ph[8] = 0;
        ph[9] = IPPROTO_UDP;
        put16(ph + 10, (unsigned)(dlen + 8));
        lens[0] = 12;
    } else {
        TAP_CHECK(t, memcmp(ip + 8, q + 14 + 24, 16) == 0 && memcmp(ip + 24, q + 14 + 8, 16) == 0,
                  "v6 addresses swapped");
        TAP_CHECK(t, (size_t)(ip[4] << 8 | ip[5]) == 8 + dlen && (ip[0] >> 4) == 6,
                  "v6 payload length, version");
        memcpy(ph, ip + 8, 32);
        memset(ph + 32, 0, 4);
        put16(ph + 32, (unsigned)(dlen + 8)); /* a 32-bit length: high half 0 */
        memmove(ph + 34, ph + 32, 2);
        memset(ph + 32, 0, 2);
        /* then 3 zero octets and the next header: as 16-bit words, 0 and 17 */
        lens[0] = 36;
    }
    uint8_t tail[4] = {0, 0, 0, IPPROTO_UDP};
    parts[0] = ph;
    parts[1] = u;
    lens[1] = dlen + 8;
    uint16_t s = ref_sum(parts, lens, 2);
    if (v6) {
        const uint8_t *p3[3] = {ph, tail, u};
        size_t l3[3] = {36, 4, dlen + 8};
        s = ref_sum(p3, l3, 3);
    }
    TAP_CHECK(t, s == 0xffff && (u[6] | u[7]) != 0, "v%d UDP checksum verifies (%zu octets)",
              v6 ? 6 : 4, dlen);
}

static void check_rejects(struct tap *t)
{
    uint8_t q[256], dns[12] = {0};
    struct xdp_frame_info fi;
    size_t len = make_query(q, 0, dns, sizeof(dns), 0);
    TAP_CHECK(t, xdp_frame_parse(q, len, 1, &fi) == 0, "a plain v4 query parses");
    q[14] = 0x46;
    TAP_CHECK(t, xdp_frame_parse(q, len, 1, &fi) != 0, "IPv4 options: refused");
    q[14] = 0x45;
    q[14 + 6] = 0x20; /* MF */
    TAP_CHECK(t, xdp_frame_parse(q, len, 1, &fi) != 0, "a first fragment: refused");
    q[14 + 6] = 0x00;
    q[14 + 7] = 0x10; /* an offset */
    TAP_CHECK(t, xdp_frame_parse(q, len, 1, &fi) != 0, "a later fragment: refused");
    q[14 + 7] = 0;
    TAP_CHECK(t, xdp_frame_parse(q, len - 1, 1, &fi) != 0, "a frame shorter than the IP length");
    put16(q + 14 + 20 + 4, 100);
    TAP_CHECK(t, xdp_frame_parse(q, len, 1, &fi) != 0, "a UDP length past the IP payload");
    put16(q + 14 + 20 + 4, 8 + sizeof(dns));
    q[14 + 9] = IPPROTO_TCP;
    TAP_CHECK(t, xdp_frame_parse(q, len, 1, &fi) != 0, "TCP: refused");
    q[14 + 9] = IPPROTO_UDP;
    put16(q + 12, 0x8100);
    TAP_CHECK(t, xdp_frame_parse(q, len, 1, &fi) != 0, "a VLAN tag: refused");
    len = make_query(q, 1, dns, sizeof(dns), 0);
    q[14 + 6] = 0; /* hop-by-hop options header */
    TAP_CHECK(t, xdp_frame_parse(q, len, 1, &fi) != 0, "IPv6 extension header: refused");
    TAP_CHECK(t, xdp_frame_parse(q, 13, 1, &fi) != 0, "a runt frame: refused");
}

static int parse_cfg(const char *text, struct xdp_params *p)
{
    struct errlist errs;
    errlist_init(&errs);
    struct jsoncfg j = {.errs = &errs, .file = "t.json", .dir = "."};
    json_error_t e;
    json_t *v = json_loads(text, 0, &e);
    xdp_params_parse(&j, v, p);
    json_decref(v);
    int n = (int)errs.count;
    errlist_free(&errs);
    return n;
}

static void check_params(struct tap *t)
{
    struct xdp_params p;
    TAP_CHECK(t,
              parse_cfg("{\"interface\": \"eth0\"}", &p) == 0 && p.enabled && !p.generic &&
                  p.n_queues == 1 && p.queues[0] == 0 && p.frames == XDP_DEFAULT_FRAMES,
              "defaults: native mode, queue 0, %d frames", XDP_DEFAULT_FRAMES);
    xdp_params_free(&p);
    TAP_CHECK(t,
              parse_cfg("{\"interface\": \"eth1\", \"queues\": [0, 3], \"mode\": \"generic\", "
                        "\"frames\": 1024}",
                        &p) == 0 &&
                  p.generic && p.n_queues == 2 && p.queues[1] == 3 && p.frames == 1024,
              "queues, generic mode, frames");
    xdp_params_free(&p);
    TAP_CHECK(t, parse_cfg("{\"interface\": \"eth0\", \"queues\": [1, 1]}", &p) == 1,
              "a queue listed twice is an error");
    xdp_params_free(&p);
    TAP_CHECK(t, parse_cfg("{\"interface\": \"eth0\", \"mode\": \"skb\"}", &p) == 1,
              "an unknown mode is an error");
    xdp_params_free(&p);
    TAP_CHECK(t, parse_cfg("{\"interface\": \"eth0\", \"frames\": 1000}", &p) == 1,
              "frames not a power of two is an error");
    xdp_params_free(&p);
    TAP_CHECK(t, parse_cfg("{\"queues\": [0], \"bogus\": 1}", &p) == 2,
              "a missing interface and an unknown key: two errors");
    xdp_params_free(&p);
}

int main(void)
{
    struct tap t = {0};
    size_t sizes[] = {12, 13, 301, 512, 1232, 1452};
    for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
        check_reply(&t, 0, sizes[i]);
        check_reply(&t, 1, sizes[i]);
    }
    check_rejects(&t);
    check_params(&t);
    return tap_done(&t);
}

/*
 * xdp_frame.h -- Ethernet/IP/UDP framing for the AF_XDP listener: reads a
 * query frame the XDP program redirected, and writes the reply's headers
 * (MACs, addresses and ports swapped; lengths; IPv4 header and UDP
 * checksums). Pure functions on caller-owned buffers, no allocation, so
 * the unit tests run them without a network.
 *
 * Only what the program (xdp_prog.bpf.c) redirects is accepted: untagged
 * Ethernet, IPv4 without options and not fragmented, or IPv6 directly
 * followed by UDP.
 */
#ifndef GTM_NET_XDP_FRAME_H
#define GTM_NET_XDP_FRAME_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#define XDP_FRAME_ETH 14
#define XDP_FRAME_HDR4 (XDP_FRAME_ETH + 20 + 8)
#define XDP_FRAME_HDR6 (XDP_FRAME_ETH + 40 + 8)

struct xdp_frame_info {
    size_t hdr_len;                 /* Ethernet + IP + UDP header octets */
    size_t payload_len;             /* the DNS message's octets, from frame + hdr_len */
    struct sockaddr_storage client; /* the query's source address and port */
};

/* Reads the query frame f[0..len) into fi. ifindex is the scope of an
 * IPv6 link-local source. 0, or -1 when it is not a well-formed UDP
 * datagram of the accepted shapes (lengths checked against len; Ethernet
 * padding past the IP length is ignored). */
int xdp_frame_parse(const uint8_t *f, size_t len, unsigned ifindex, struct xdp_frame_info *fi);

/*
 * Writes into out[0..fi->hdr_len) the headers of the reply to the query
 * frame q (parsed into fi), for a DNS reply of dns_len octets already at
 * out + fi->hdr_len; out may not overlap q's headers. Returns the frame's
 * length.
 */
size_t xdp_frame_reply(const uint8_t *q, const struct xdp_frame_info *fi, uint8_t *out,
                       size_t dns_len);

/* The Internet checksum (RFC 1071) of d[0..len) added to sum, folded and
 * complemented only by xdp_frame_csum_fold. */
uint32_t xdp_frame_csum_add(uint32_t sum, const uint8_t *d, size_t len);
uint16_t xdp_frame_csum_fold(uint32_t sum);

#endif

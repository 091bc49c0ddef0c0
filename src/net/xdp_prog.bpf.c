/*
 * xdp_prog.bpf.c -- the XDP program of gtmd's AF_XDP listener (net/xdp.h).
 *
 * Compiled at build time with clang -target bpf and embedded in gtmd
 * (net/xdp_obj.S); never linked into the daemon as C.
 *
 * It redirects to the queue's AF_XDP socket only what the XDP workers
 * answer: an untagged Ethernet frame with an IPv4 header of 20 octets (no
 * options) that is not a fragment, or an IPv6 header directly followed by
 * UDP, to a UDP port and address gtmd listens on (gtmd_listen). Everything
 * else -- ARP, neighbour discovery, TCP, ICMP, fragments, IPv4 options,
 * IPv6 extension headers, other ports and addresses, VLAN tags -- goes to
 * the kernel (XDP_PASS), which hands DNS over TCP and the rest to the
 * socket path. A queue without a socket in gtmd_xsks passes too
 * (bpf_redirect_map's fallback action).
 */
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/in.h>
#include <linux/ip.h>
#include <linux/ipv6.h>
#include <linux/udp.h>

#include <bpf/bpf_endian.h>
#include <bpf/bpf_helpers.h>

/* A listen address: family (4 or 6), port (network order) and address;
 * an all-zero address is the wildcard. Filled by gtmd before attaching. */
struct gtmd_listen_key {
    __u8 family;
    __u8 pad;
    __u16 port;
    __u8 addr[16];
};

struct {
    __uint(type, BPF_MAP_TYPE_HASH);
    __uint(max_entries, 64);
    __type(key, struct gtmd_listen_key);
    __type(value, __u8);
} gtmd_listen SEC(".maps");

struct {
    __uint(type, BPF_MAP_TYPE_XSKMAP);
    __uint(max_entries, 64);
    __type(key, __u32);
    __type(value, __u32);
} gtmd_xsks SEC(".maps");

static __always_inline int gtmd_listening(struct gtmd_listen_key *k)
{
    if (bpf_map_lookup_elem(&gtmd_listen, k))
        return 1;
    __builtin_memset(k->addr, 0, sizeof(k->addr));
    return bpf_map_lookup_elem(&gtmd_listen, k) != 0;
}

SEC("xdp")
int gtmd_xdp(struct xdp_md *ctx)
{
    void *data = (void *)(long)ctx->data;
    void *end = (void *)(long)ctx->data_end;
    struct ethhdr *eth = data;
    struct gtmd_listen_key k = {0};
    struct udphdr *udp;

    if ((void *)(eth + 1) > end)
        return XDP_PASS;
    if (eth->h_proto == bpf_htons(ETH_P_IP)) {
        struct iphdr *ip = (void *)(eth + 1);
        if ((void *)(ip + 1) > end || ip->ihl != 5 || ip->protocol != IPPROTO_UDP)
            return XDP_PASS;
        if (ip->frag_off & bpf_htons(0x3fff)) /* MF or an offset: a fragment */
            return XDP_PASS;
        udp = (void *)(ip + 1);
        k.family = 4;
        __builtin_memcpy(k.addr, &ip->daddr, 4);
    } else if (eth->h_proto == bpf_htons(ETH_P_IPV6)) {
        struct ipv6hdr *ip6 = (void *)(eth + 1);
        if ((void *)(ip6 + 1) > end || ip6->nexthdr != IPPROTO_UDP)
            return XDP_PASS;
        udp = (void *)(ip6 + 1);
        k.family = 6;
        __builtin_memcpy(k.addr, &ip6->daddr, 16);
    } else {
        return XDP_PASS;
    }
    if ((void *)(udp + 1) > end)
        return XDP_PASS;
    k.port = udp->dest;
    if (!gtmd_listening(&k))
        return XDP_PASS;
    return bpf_redirect_map(&gtmd_xsks, ctx->rx_queue_index, XDP_PASS);
}

char _license[] SEC("license") = "GPL";

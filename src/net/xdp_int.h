/*
 * xdp_int.h -- the AF_XDP listener's structures, shared by xdp.c (set-up)
 * and xdp_serve.c (the worker loop). Not for use outside those files.
 *
 * Ownership: as in xdp.h; a queue's rings point into memory its socket and
 * UMEM own.
 */
#ifndef GTM_NET_XDP_INT_H
#define GTM_NET_XDP_INT_H

#include <net/if.h>
#include <stddef.h>
#include <stdint.h>
#include <xdp/xsk.h>

/* One UMEM frame per packet. The kernel writes a query at the frame's
 * start plus its headroom (256 octets in copy mode); the reply is built in
 * the same frame from XDP_REPLY_OFF on, so the query stays readable while
 * it is answered and the frame goes back out as is: no copy, no second
 * frame. */
#define XDP_FRAME_SIZE 4096u
#define XDP_REPLY_OFF 2048u
/* An IPv4 path must carry a 512-octet DNS reply (RFC 1035) and its headers. */
#define XDP_MIN_MTU 576u

/* The program's listen map key (xdp_prog.bpf.c: struct gtmd_listen_key). */
struct xdp_listen_key {
    uint8_t family;
    uint8_t pad;
    uint16_t port; /* network order */
    uint8_t addr[16];
};

struct xdp_queue {
    unsigned id; /* the NIC's receive queue */
    unsigned ifindex, mtu;
    unsigned frames;
    void *area; /* frames * XDP_FRAME_SIZE octets, mmap'd */
    size_t area_len;
    struct xsk_umem *umem;
    struct xsk_socket *xsk;
    int fd;
    struct xsk_ring_prod fill, tx;
    struct xsk_ring_cons comp, rx;
    uint32_t tx_pending; /* sent to the TX ring, not yet completed */
};

struct xdp_listener {
    char ifname[IF_NAMESIZE];
    int ifindex;
    unsigned mtu;
    struct bpf_object *obj;
    int link_fd; /* the BPF link holding the program on the interface */
    struct xdp_queue *queues;
    size_t n_queues;
};

#endif

/*
 * xdp.c -- the AF_XDP listener: load and attach the program, open each
 * queue's UMEM and socket, detach.
 */
#include "net/xdp.h"

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <errno.h>
#include <linux/if_link.h>
#include <net/if.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>
#include <xdp/xsk.h>

#include "common/log.h"
#include "net/xdp_int.h"

/* The program, compiled by clang -target bpf and embedded (xdp_obj.S). */
extern const unsigned char gtmd_xdp_obj[];
extern const unsigned char gtmd_xdp_obj_end[];

#define XDP_PROG_NAME "gtmd_xdp"

/* libbpf's messages (the verifier's log on a load failure) go to the log. */
static int xdp_libbpf_print(enum libbpf_print_level level, const char *fmt, va_list ap)
{
    char msg[512];
    if (level == LIBBPF_DEBUG)
        return 0;
    vsnprintf(msg, sizeof(msg), fmt, ap);
    size_t n = strlen(msg);
    while (n && msg[n - 1] == '\n')
        msg[--n] = '\0';
    char q[1100];
    log_info("event=libbpf note=\"%s\"", log_quote(msg, q, sizeof(q)));
    return 0;
}

static unsigned xdp_if_mtu(const char *ifname)
{
    struct ifreq ifr;
    int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    memset(&ifr, 0, sizeof(ifr));
    snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", ifname);
    int r = fd >= 0 ? ioctl(fd, SIOCGIFMTU, &ifr) : -1;
    if (fd >= 0)
        close(fd);
    return r == 0 && ifr.ifr_mtu > 0 ? (unsigned)ifr.ifr_mtu : 0;
}

/* The program's listen map: one key per listen address (all-zero address
 * for 0.0.0.0 and [::]). */
static int xdp_fill_listen(struct xdp_listener *x, const struct net_listen *l, size_t n, char *err,
                           size_t errlen)
{
    int fd = bpf_object__find_map_fd_by_name(x->obj, "gtmd_listen");
    for (size_t i = 0; i < n; i++) {
        struct xdp_listen_key k;
        uint8_t one = 1;
        memset(&k, 0, sizeof(k));
        if (l[i].addr.ss_family == AF_INET) {
            const struct sockaddr_in *s = (const struct sockaddr_in *)&l[i].addr;
            k.family = 4;
            k.port = s->sin_port;
            memcpy(k.addr, &s->sin_addr, 4);
        } else {
            const struct sockaddr_in6 *s = (const struct sockaddr_in6 *)&l[i].addr;
            k.family = 6;
            k.port = s->sin6_port;
            memcpy(k.addr, &s->sin6_addr, 16);
        }
        if (fd < 0 || bpf_map_update_elem(fd, &k, &one, BPF_ANY) != 0) {
            snprintf(err, errlen, "cannot fill the program's listen map: %s", strerror(errno));
            return -1;
        }
    }
    return 0;
}

/* A UMEM of p->frames frames and a socket bound to queue q->id, every
 * frame handed to the kernel's fill ring, the socket in the program's map. */
static int xdp_queue_open(struct xdp_listener *x, struct xdp_queue *q, const struct xdp_params *p,
                          int map_fd, char *err, size_t errlen)
{
    q->frames = p->frames;
    q->area_len = (size_t)p->frames * XDP_FRAME_SIZE;
    q->area = mmap(NULL, q->area_len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (q->area == MAP_FAILED) {
        q->area = NULL;
        snprintf(err, errlen, "cannot map %zu octets for queue %u: %s", q->area_len, q->id,
                 strerror(errno));
        return -1;
    }
    struct xsk_umem_config uc = {.fill_size = p->frames,
                                 .comp_size = p->frames,
                                 .frame_size = XDP_FRAME_SIZE,
                                 .frame_headroom = 0,
                                 .flags = 0};
    int r = xsk_umem__create(&q->umem, q->area, q->area_len, &q->fill, &q->comp, &uc);
    if (r != 0) {
        q->umem = NULL;
        snprintf(err, errlen,
                 "cannot register the UMEM of queue %u: %s (locked memory: raise "
                 "LimitMEMLOCK or give CAP_IPC_LOCK)",
                 q->id, strerror(-r));
        return -1;
    }
    struct xsk_socket_config sc = {.rx_size = p->frames,
                                   .tx_size = p->frames,
                                   .libxdp_flags = XSK_LIBXDP_FLAGS__INHIBIT_PROG_LOAD,
                                   .xdp_flags = 0,
                                   .bind_flags = XDP_USE_NEED_WAKEUP};
    if (p->generic)
        sc.bind_flags |= XDP_COPY;
    r = xsk_socket__create(&q->xsk, x->ifname, q->id, q->umem, &q->rx, &q->tx, &sc);
    if (r != 0) {
        q->xsk = NULL;
        snprintf(err, errlen, "cannot open an AF_XDP socket on %s queue %u: %s", x->ifname, q->id,
                 strerror(-r));
        return -1;
    }
    q->fd = xsk_socket__fd(q->xsk);
    uint32_t idx = 0;
    if (xsk_ring_prod__reserve(&q->fill, p->frames, &idx) != p->frames) {
        snprintf(err, errlen, "cannot fill the fill ring of queue %u", q->id);
        return -1;
    }
    for (unsigned i = 0; i < p->frames; i++)
        *xsk_ring_prod__fill_addr(&q->fill, idx + i) = (uint64_t)i * XDP_FRAME_SIZE;
    xsk_ring_prod__submit(&q->fill, p->frames);
    if (bpf_map_update_elem(map_fd, &q->id, &q->fd, BPF_ANY) != 0) {
        snprintf(err, errlen, "cannot put queue %u's socket in the program's map: %s", q->id,
                 strerror(errno));
        return -1;
    }
    return 0;
}

/* The name of the program with this id ("" when it cannot be read). */
static void xdp_prog_name(uint32_t id, char *name, size_t len)
{
    struct bpf_prog_info info;
    uint32_t ilen = sizeof(info);
    int fd = bpf_prog_get_fd_by_id(id);
    name[0] = '\0';
    memset(&info, 0, sizeof(info));
    if (fd >= 0 && bpf_obj_get_info_by_fd(fd, &info, &ilen) == 0)
        snprintf(name, len, "%s", info.name);
    if (fd >= 0)
        close(fd);
}

/* Makes room on the interface: a stale program of ours (attached without a
 * link by a gtmd that did not detach it) is detached; any other program,
 * or ours held by a live link (another gtmd running), stops the attach. */
static int xdp_clear_stale(struct xdp_listener *x, char *err, size_t errlen)
{
    LIBBPF_OPTS(bpf_xdp_query_opts, qo);
    if (bpf_xdp_query(x->ifindex, 0, &qo) != 0 || qo.attach_mode == XDP_ATTACHED_NONE)
        return 0;
    uint32_t id = qo.prog_id ? qo.prog_id : qo.drv_prog_id ? qo.drv_prog_id : qo.skb_prog_id;
    char name[BPF_OBJ_NAME_LEN + 1];
    xdp_prog_name(id, name, sizeof(name));
    if (strcmp(name, XDP_PROG_NAME) != 0) {
        snprintf(err, errlen, "another XDP program (id %u, \"%s\") is attached to %s", id, name,
                 x->ifname);
        return -1;
    }
    uint32_t mode = qo.attach_mode == XDP_ATTACHED_SKB ? XDP_FLAGS_SKB_MODE : XDP_FLAGS_DRV_MODE;
    if (bpf_xdp_detach(x->ifindex, mode, NULL) != 0) {
        snprintf(err, errlen,
                 "gtmd's XDP program (id %u) on %s is held by a running process (another gtmd?)",
                 id, x->ifname);
        return -1;
    }
    log_warn("event=xdp_stale interface=%s prog_id=%u note=\"detached a stale gtmd XDP program\"",
             x->ifname, id);
    return 0;
}

/* Attaches through a BPF link: the kernel detaches the program when the
 * link's descriptor closes, at xdp_detach or when gtmd dies. */
static int xdp_link(struct xdp_listener *x, bool generic, char *err, size_t errlen)
{
    if (xdp_clear_stale(x, err, errlen) != 0)
        return -1;
    struct bpf_program *prog = bpf_object__find_program_by_name(x->obj, XDP_PROG_NAME);
    LIBBPF_OPTS(bpf_link_create_opts, lo,
                .flags = generic ? XDP_FLAGS_SKB_MODE : XDP_FLAGS_DRV_MODE);
    x->link_fd = prog ? bpf_link_create(bpf_program__fd(prog), x->ifindex, BPF_XDP, &lo) : -1;
    if (x->link_fd < 0) {
        snprintf(
            err, errlen, "cannot attach XDP in %s mode to %s: %s%s", generic ? "generic" : "native",
            x->ifname, strerror(errno),
            generic ? ""
                    : " (the driver may lack native XDP; \"mode\": \"generic\" asks for SKB mode)");
        return -1;
    }
    return 0;
}

static int xdp_load(struct xdp_listener *x, char *err, size_t errlen)
{
    LIBBPF_OPTS(bpf_object_open_opts, oo, .object_name = XDP_PROG_NAME);
    libbpf_set_print(xdp_libbpf_print);
    x->obj = bpf_object__open_mem(gtmd_xdp_obj, (size_t)(gtmd_xdp_obj_end - gtmd_xdp_obj), &oo);
    if (!x->obj) {
        snprintf(err, errlen, "cannot open the embedded XDP program: %s", strerror(errno));
        return -1;
    }
    if (bpf_object__load(x->obj) != 0) {
        snprintf(err, errlen, "cannot load the XDP program: %s (needs CAP_BPF and CAP_NET_ADMIN)",
                 strerror(errno));
        return -1;
    }
    return 0;
}

struct xdp_listener *xdp_attach(const struct xdp_params *p, const struct net_listen *listen,
                                size_t n, char *err, size_t errlen)
{
    struct xdp_listener *x = calloc(1, sizeof(*x));
    if (!x)
        abort();
    x->link_fd = -1;
    snprintf(x->ifname, sizeof(x->ifname), "%s", p->interface);
    x->ifindex = (int)if_nametoindex(p->interface);
    x->mtu = xdp_if_mtu(p->interface);
    if (x->ifindex == 0) {
        snprintf(err, errlen, "no interface %s", p->interface);
        goto fail;
    }
    if (x->mtu < XDP_MIN_MTU) {
        snprintf(err, errlen, "%s's MTU (%u) is below %u", p->interface, x->mtu, XDP_MIN_MTU);
        goto fail;
    }
    if (xdp_load(x, err, errlen) != 0 || xdp_fill_listen(x, listen, n, err, errlen) != 0)
        goto fail;
    int map_fd = bpf_object__find_map_fd_by_name(x->obj, "gtmd_xsks");
    x->queues = calloc(p->n_queues, sizeof(*x->queues));
    if (!x->queues)
        abort();
    for (size_t i = 0; i < p->n_queues; i++) {
        struct xdp_queue *q = &x->queues[x->n_queues++];
        q->id = p->queues[i];
        q->fd = -1;
        q->ifindex = (unsigned)x->ifindex;
        q->mtu = x->mtu;
        if (xdp_queue_open(x, q, p, map_fd, err, errlen) != 0)
            goto fail;
    }
    if (xdp_link(x, p->generic, err, errlen) != 0)
        goto fail;
    log_info("event=xdp_attached interface=%s mode=%s queues=%zu mtu=%u", x->ifname,
             p->generic ? "generic" : "native", x->n_queues, x->mtu);
    return x;
fail:
    xdp_detach(x);
    return NULL;
}

size_t xdp_queue_count(const struct xdp_listener *x)
{
    return x ? x->n_queues : 0;
}

struct xdp_queue *xdp_queue_get(struct xdp_listener *x, size_t i)
{
    return &x->queues[i];
}

unsigned xdp_queue_id(const struct xdp_queue *q)
{
    return q->id;
}

void xdp_detach(struct xdp_listener *x)
{
    if (!x)
        return;
    if (x->link_fd >= 0) {
        close(x->link_fd); /* the program leaves the interface */
        log_info("event=xdp_detached interface=%s", x->ifname);
    }
    for (size_t i = 0; i < x->n_queues; i++) {
        struct xdp_queue *q = &x->queues[i];
        if (q->xsk)
            xsk_socket__delete(q->xsk);
        if (q->umem)
            xsk_umem__delete(q->umem);
        if (q->area)
            munmap(q->area, q->area_len);
    }
    free(x->queues);
    if (x->obj)
        bpf_object__close(x->obj);
    free(x);
}

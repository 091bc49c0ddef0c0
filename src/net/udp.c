/*
 * udp.c -- batched UDP serving with recvmmsg/sendmmsg.
 */
#include "net/udp.h"

#include <errno.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "dns/dns.h"
#include "net/worker.h"

#define UDP_BATCH 32
#define UDP_IN_MAX 4096  /* larger datagrams are not DNS queries we answer */
#define UDP_OUT_MAX 4096 /* edns_udp_max is at most 4096 */
#define UDP_CTL 64       /* room for one IP_PKTINFO or IPV6_PKTINFO message */

struct udp_batch {
    struct mmsghdr in_msgs[UDP_BATCH];
    struct iovec in_iov[UDP_BATCH];
    struct sockaddr_storage addrs[UDP_BATCH];
    struct mmsghdr out_msgs[UDP_BATCH];
    struct iovec out_iov[UDP_BATCH];
    uint8_t in[UDP_BATCH][UDP_IN_MAX];
    uint8_t out[UDP_BATCH][UDP_OUT_MAX];
    struct query_parsed parsed[UDP_BATCH]; /* the batch's queries, parsed ahead */
    /* On a wildcard socket: where each query came to, and the reply's
     * source, as control messages (kept 8-aligned for CMSG_*). */
    uint64_t in_ctl[UDP_BATCH][UDP_CTL / 8];
    uint64_t out_ctl[UDP_BATCH][UDP_CTL / 8];
};

struct udp_batch *udp_batch_new(void)
{
    struct udp_batch *b = calloc(1, sizeof(*b));
    if (!b)
        abort();
    for (int i = 0; i < UDP_BATCH; i++) {
        b->in_iov[i].iov_base = b->in[i];
        b->in_iov[i].iov_len = UDP_IN_MAX;
        b->in_msgs[i].msg_hdr.msg_iov = &b->in_iov[i];
        b->in_msgs[i].msg_hdr.msg_iovlen = 1;
        b->in_msgs[i].msg_hdr.msg_name = &b->addrs[i];
    }
    return b;
}

void udp_batch_free(struct udp_batch *b)
{
    free(b);
}

static void udp_send_all(int fd, struct udp_batch *b, unsigned n)
{
    unsigned sent = 0;
    while (sent < n) {
        int r = sendmmsg(fd, b->out_msgs + sent, n - sent, MSG_DONTWAIT);
        if (r > 0) {
            sent += (unsigned)r;
            continue;
        }
        if (r < 0 && errno == EINTR)
            continue;
        /* A full socket buffer or an unreachable client drops this reply,
         * as it would be dropped on the wire; skip it and go on. */
        sent++;
    }
}

/* On a wildcard socket: the reply to datagram i leaves from the address
 * it came to (and, for IPv6, on its interface: link-local addresses). */
static void udp_set_source(struct udp_batch *b, int i, struct msghdr *out)
{
    struct msghdr *in = &b->in_msgs[i].msg_hdr;
    for (struct cmsghdr *c = CMSG_FIRSTHDR(in); c; c = CMSG_NXTHDR(in, c)) {
        bool v4 = c->cmsg_level == IPPROTO_IP && c->cmsg_type == IP_PKTINFO;
        bool v6 = c->cmsg_level == IPPROTO_IPV6 && c->cmsg_type == IPV6_PKTINFO;
        if (!v4 && !v6)
            continue;
        out->msg_control = b->out_ctl[i];
        out->msg_controllen =
            v4 ? CMSG_SPACE(sizeof(struct in_pktinfo)) : CMSG_SPACE(sizeof(struct in6_pktinfo));
        struct cmsghdr *o = CMSG_FIRSTHDR(out);
        o->cmsg_level = c->cmsg_level;
        o->cmsg_type = c->cmsg_type;
        if (v4) {
            struct in_pktinfo pi;
            memcpy(&pi, CMSG_DATA(c), sizeof(pi));
            pi.ipi_spec_dst = pi.ipi_addr; /* the source: what the client asked */
            pi.ipi_ifindex = 0;            /* the route picks the interface */
            o->cmsg_len = CMSG_LEN(sizeof(pi));
            memcpy(CMSG_DATA(o), &pi, sizeof(pi));
        } else {
            o->cmsg_len = CMSG_LEN(sizeof(struct in6_pktinfo));
            memcpy(CMSG_DATA(o), CMSG_DATA(c), sizeof(struct in6_pktinfo));
        }
        return;
    }
}

bool udp_local_addr(const struct msghdr *m, const struct sockaddr_storage *listen,
                    struct sockaddr_storage *out)
{
    for (struct cmsghdr *c = CMSG_FIRSTHDR(m); c; c = CMSG_NXTHDR((struct msghdr *)m, c)) {
        memset(out, 0, sizeof(*out));
        if (c->cmsg_level == IPPROTO_IP && c->cmsg_type == IP_PKTINFO &&
            listen->ss_family == AF_INET) {
            struct in_pktinfo pi;
            struct sockaddr_in *a = (struct sockaddr_in *)out;
            memcpy(&pi, CMSG_DATA(c), sizeof(pi));
            a->sin_family = AF_INET;
            a->sin_addr = pi.ipi_addr;
            a->sin_port = ((const struct sockaddr_in *)listen)->sin_port;
            return true;
        }
        if (c->cmsg_level == IPPROTO_IPV6 && c->cmsg_type == IPV6_PKTINFO &&
            listen->ss_family == AF_INET6) {
            struct in6_pktinfo pi;
            struct sockaddr_in6 *a = (struct sockaddr_in6 *)out;
            memcpy(&pi, CMSG_DATA(c), sizeof(pi));
            a->sin6_family = AF_INET6;
            a->sin6_addr = pi.ipi6_addr;
            a->sin6_port = ((const struct sockaddr_in6 *)listen)->sin6_port;
            return true;
        }
    }
    return false;
}

/* An UPDATE's job over UDP: the reply leaves from the worker's socket
 * (sendmsg is safe from the updater's thread; the updater stops before
 * the workers close their sockets), from the address the request came to. */
struct udp_update {
    struct net_update u; /* first: the updater sees this part */
    int fd;
    socklen_t from_len;
    uint64_t ctl[UDP_CTL / 8];
    size_t ctl_len;
};

static void udp_update_reply(struct net_update *u, const uint8_t *msg, size_t len)
{
    struct udp_update *uu = (struct udp_update *)u;
    struct iovec iov = {(void *)msg, len};
    struct msghdr mh = {
        .msg_name = &u->from, .msg_namelen = uu->from_len, .msg_iov = &iov, .msg_iovlen = 1};
    if (uu->ctl_len) {
        mh.msg_control = uu->ctl;
        mh.msg_controllen = uu->ctl_len;
    }
    if (len)
        (void)sendmsg(uu->fd, &mh, MSG_DONTWAIT | MSG_NOSIGNAL); /* lost like any datagram */
    free(u->msg);
    free(uu);
}

/* Datagram i was an UPDATE the query path accepted: hands it to the
 * updater. Returns the length of a reply to send now in out (the updater
 * cannot take it), or 0. */
static size_t udp_update_start(struct worker *w, int fd, int i, const struct query_update *upd,
                               uint8_t *out)
{
    struct udp_batch *b = w->udp;
    struct udp_update *uu = (struct udp_update *)worker_update_job(
        b->in[i], b->in_msgs[i].msg_len, &b->addrs[i], upd, sizeof(*uu), false);
    if (!uu)
        return 0;
    uu->u.reply = udp_update_reply;
    uu->fd = fd;
    uu->from_len = b->in_msgs[i].msg_hdr.msg_namelen;
    if (w->udp_wildcard) {
        struct msghdr mh = {0};
        udp_set_source(b, i, &mh);
        if (mh.msg_controllen <= sizeof(uu->ctl)) {
            memcpy(uu->ctl, b->out_ctl[i], mh.msg_controllen);
            uu->ctl_len = mh.msg_controllen;
        }
    }
    size_t n = worker_update_submit(w, &uu->u, out, UDP_OUT_MAX);
    if (n) {
        free(uu->u.msg);
        free(uu);
    }
    return n;
}

/* Answers the n datagrams just received in b and sends the replies. */
static void udp_answer_batch(struct worker *w, int fd, int n)
{
    struct udp_batch *b = w->udp;
    const struct serve_set *s = serve_enter(w->reader);
    struct query_hint hints[UDP_BATCH];
    unsigned out = 0;
    worker_clock(w);
    /* Parse the whole batch, then start the loads of every name's hash
     * table slot, then of the nodes (about 12 datagrams per recvmmsg at
     * 100k QPS): the batch's cache misses overlap instead of stalling each
     * answer in turn. answer_lookup went from 11 % to 5 % of the worker's
     * CPU samples and gtmd's own code from 19-22 % to 14-16 %, for 2-3 %
     * in the two passes. A third pass for the node's name (memcmp's miss)
     * made it worse: 8-9 % (doc/architecture.md, "On the wire"). Parsing
     * here rather than in the answer pass reads each name once. */
    for (int i = 0; i < n; i++) {
        hints[i].zone = NULL;
        /* A truncated datagram's msg_len is past in[i]: no answer. */
        if (b->in_msgs[i].msg_hdr.msg_flags & MSG_TRUNC)
            continue;
        query_parse(b->in[i], b->in_msgs[i].msg_len, &b->parsed[i]);
        query_prefetch(s, &b->parsed[i], &hints[i]);
    }
    for (int i = 0; i < n; i++)
        query_prefetch_node(&hints[i]);
    for (int i = 0; i < n; i++) {
        if (b->in_msgs[i].msg_hdr.msg_flags & MSG_TRUNC)
            continue;
        struct worker_dst dst = {.listen = w->listen,
                                 .local = &w->net->listen[w->listen],
                                 .pktinfo = w->udp_wildcard ? &b->in_msgs[i].msg_hdr : NULL};
        struct query_update upd;
        size_t len = worker_answer(w, s, &b->addrs[i], &dst, b->in[i], b->in_msgs[i].msg_len,
                                   &b->parsed[i], b->out[out], NULL, &upd, SERVE_UDP);
        if (upd.start)
            len = udp_update_start(w, fd, i, &upd, b->out[out]);
        if (len == 0)
            continue;
        b->out_iov[out].iov_base = b->out[out];
        b->out_iov[out].iov_len = len;
        memset(&b->out_msgs[out].msg_hdr, 0, sizeof(b->out_msgs[out].msg_hdr));
        b->out_msgs[out].msg_hdr.msg_iov = &b->out_iov[out];
        b->out_msgs[out].msg_hdr.msg_iovlen = 1;
        b->out_msgs[out].msg_hdr.msg_name = &b->addrs[i];
        b->out_msgs[out].msg_hdr.msg_namelen = b->in_msgs[i].msg_hdr.msg_namelen;
        if (w->udp_wildcard)
            udp_set_source(b, i, &b->out_msgs[out].msg_hdr);
        out++;
    }
    serve_leave(w->reader);
    serve_count_messages(w->reader, SERVE_UDP, (uint64_t)n);
    if (out)
        udp_send_all(fd, b, out);
}

void udp_serve(struct worker *w)
{
    struct udp_batch *b = w->udp;
    while (!atomic_load_explicit(&w->net->stopping, memory_order_relaxed)) {
        for (int i = 0; i < UDP_BATCH; i++) {
            b->in_msgs[i].msg_hdr.msg_namelen = sizeof(b->addrs[i]);
            b->in_msgs[i].msg_hdr.msg_flags = 0;
            if (w->udp_wildcard) {
                b->in_msgs[i].msg_hdr.msg_control = b->in_ctl[i];
                b->in_msgs[i].msg_hdr.msg_controllen = sizeof(b->in_ctl[i]);
            }
        }
        /* Blocks for the first datagram, then takes whatever else is
         * queued: one system call per wake-up, no event loop in between. */
        int n = recvmmsg(w->udp_fd, b->in_msgs, UDP_BATCH, MSG_WAITFORONE, NULL);
        if (n > 0)
            udp_answer_batch(w, w->udp_fd, n);
    }
}

/*
 * udp.c -- batched UDP serving with recvmmsg/sendmmsg.
 */
#include "net/udp.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "dns/dns.h"
#include "net/worker.h"

#define UDP_BATCH 32
#define UDP_IN_MAX 4096  /* larger datagrams are not DNS queries we answer */
#define UDP_OUT_MAX 4096 /* edns_udp_max is at most 4096 */

struct udp_batch {
    struct mmsghdr in_msgs[UDP_BATCH];
    struct iovec in_iov[UDP_BATCH];
    struct sockaddr_storage addrs[UDP_BATCH];
    struct mmsghdr out_msgs[UDP_BATCH];
    struct iovec out_iov[UDP_BATCH];
    uint8_t in[UDP_BATCH][UDP_IN_MAX];
    uint8_t out[UDP_BATCH][UDP_OUT_MAX];
    struct query_parsed parsed[UDP_BATCH]; /* the batch's queries, parsed ahead */
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
        size_t len = worker_answer(w, s, &b->addrs[i], b->in[i], b->in_msgs[i].msg_len,
                                   &b->parsed[i], b->out[out], NULL);
        if (len == 0)
            continue;
        b->out_iov[out].iov_base = b->out[out];
        b->out_iov[out].iov_len = len;
        memset(&b->out_msgs[out].msg_hdr, 0, sizeof(b->out_msgs[out].msg_hdr));
        b->out_msgs[out].msg_hdr.msg_iov = &b->out_iov[out];
        b->out_msgs[out].msg_hdr.msg_iovlen = 1;
        b->out_msgs[out].msg_hdr.msg_name = &b->addrs[i];
        b->out_msgs[out].msg_hdr.msg_namelen = b->in_msgs[i].msg_hdr.msg_namelen;
        out++;
    }
    serve_leave(w->reader);
    serve_count_messages(w->reader, 0, (uint64_t)n);
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
        }
        /* Blocks for the first datagram, then takes whatever else is
         * queued: one system call per wake-up, no event loop in between. */
        int n = recvmmsg(w->udp_fd, b->in_msgs, UDP_BATCH, MSG_WAITFORONE, NULL);
        if (n > 0)
            udp_answer_batch(w, w->udp_fd, n);
    }
}

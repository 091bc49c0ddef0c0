/*
 * xdp_serve.c -- the loop of an XDP worker thread: take a batch of
 * queries from the queue's RX ring, answer each into its own frame, put
 * the replies on the TX ring and kick the kernel once per batch; frames
 * come back through the completion ring and go straight to the fill ring.
 *
 * Every frame is always in exactly one place (fill ring, RX ring, this
 * loop, TX ring, completion ring), and each ring holds every frame, so a
 * reserve never fails.
 */
#include <errno.h>
#include <poll.h>
#include <stdbool.h>
#include <string.h>
#include <sys/socket.h>

#include "net/worker.h"
#include "net/xdp.h"
#include "net/xdp_frame.h"
#include "net/xdp_int.h"

#define XDP_BATCH 32 /* the kernel's copy-mode TX sends 32 per kick */

static uint64_t xdp_frame_base(uint64_t addr)
{
    return addr & ~(uint64_t)(XDP_FRAME_SIZE - 1);
}

/* Completed transmissions' frames back to the fill ring. */
static void xdp_recycle(struct xdp_queue *q)
{
    uint32_t ci = 0, fi = 0;
    uint32_t n = xsk_ring_cons__peek(&q->comp, XDP_BATCH * 4, &ci);
    if (!n)
        return;
    xsk_ring_prod__reserve(&q->fill, n, &fi);
    for (uint32_t i = 0; i < n; i++)
        *xsk_ring_prod__fill_addr(&q->fill, fi + i) =
            xdp_frame_base(*xsk_ring_cons__comp_addr(&q->comp, ci + i));
    xsk_ring_prod__submit(&q->fill, n);
    xsk_ring_cons__release(&q->comp, n);
    q->tx_pending -= n;
}

/* Lets the kernel send what is on the TX ring (copy mode sends in the
 * system call). A busy queue (EAGAIN, EBUSY, ENOBUFS) is kicked again on
 * the next turn of the loop. */
static void xdp_kick(struct xdp_queue *q)
{
    if (!q->tx_pending || !xsk_ring_prod__needs_wakeup(&q->tx))
        return;
    while (sendto(q->fd, NULL, 0, MSG_DONTWAIT, NULL, 0) < 0 && errno == EINTR)
        ;
}

struct xdp_rx {
    uint8_t *frame; /* the frame's start */
    uint8_t *pkt;   /* the query frame */
    uint64_t base;  /* the frame's UMEM address */
    struct xdp_frame_info fi;
    bool ok;
};

/* Answers the query in r into its frame; the reply frame's length, or 0. */
static size_t xdp_answer_one(struct worker *w, struct xdp_queue *q, const struct serve_set *s,
                             struct xdp_rx *r, struct query_parsed *p)
{
    uint8_t *out = r->frame + XDP_REPLY_OFF;
    size_t room = XDP_FRAME_SIZE - XDP_REPLY_OFF - r->fi.hdr_len;
    size_t mtu_room = q->mtu - (r->fi.hdr_len - XDP_FRAME_ETH);
    w->udp_cap = (uint16_t)(room < mtu_room ? room : mtu_room);
    static const struct worker_dst dst = {.listen = SIZE_MAX}; /* not known: dnstap_view.h */
    size_t n = worker_answer(w, s, &r->fi.client, &dst, r->pkt + r->fi.hdr_len, r->fi.payload_len,
                             p, out + r->fi.hdr_len, NULL, NULL, SERVE_UDP);
    if (n == 0)
        return 0;
    return xdp_frame_reply(r->pkt, &r->fi, out, n);
}

static void xdp_batch(struct worker *w, struct xdp_queue *q, uint32_t ri, uint32_t n)
{
    struct xdp_rx rx[XDP_BATCH];
    struct query_parsed parsed[XDP_BATCH];
    struct query_hint hints[XDP_BATCH];
    uint32_t ti = 0, fi = 0, sent = 0, dropped = 0;
    const struct serve_set *s = serve_enter(w->reader);
    worker_clock(w);
    /* Parse and prefetch the batch first, as udp.c does. */
    for (uint32_t i = 0; i < n; i++) {
        const struct xdp_desc *d = xsk_ring_cons__rx_desc(&q->rx, ri + i);
        struct xdp_rx *r = &rx[i];
        r->base = xdp_frame_base(d->addr);
        r->frame = (uint8_t *)q->area + r->base;
        r->pkt = (uint8_t *)q->area + d->addr;
        hints[i].zone = NULL;
        /* A query reaching into the reply's half is not answered. */
        r->ok = d->addr - r->base + d->len <= XDP_REPLY_OFF &&
                xdp_frame_parse(r->pkt, d->len, q->ifindex, &r->fi) == 0;
        if (!r->ok)
            continue;
        query_parse(r->pkt + r->fi.hdr_len, r->fi.payload_len, &parsed[i]);
        query_prefetch(s, &parsed[i], &hints[i]);
    }
    xsk_ring_cons__release(&q->rx, n);
    for (uint32_t i = 0; i < n; i++)
        query_prefetch_node(&hints[i]);
    uint64_t drop[XDP_BATCH];
    uint32_t len[XDP_BATCH];
    for (uint32_t i = 0; i < n; i++) {
        len[i] = rx[i].ok ? (uint32_t)xdp_answer_one(w, q, s, &rx[i], &parsed[i]) : 0;
        if (len[i])
            sent++;
        else
            drop[dropped++] = rx[i].base;
    }
    serve_leave(w->reader);
    serve_count_messages(w->reader, SERVE_UDP, n);
    if (sent) {
        xsk_ring_prod__reserve(&q->tx, sent, &ti);
        for (uint32_t i = 0, k = 0; i < n; i++) {
            if (!len[i])
                continue;
            struct xdp_desc *d = xsk_ring_prod__tx_desc(&q->tx, ti + k++);
            d->addr = rx[i].base + XDP_REPLY_OFF;
            d->len = len[i];
        }
        xsk_ring_prod__submit(&q->tx, sent);
        q->tx_pending += sent;
    }
    /* Frames without a reply go back to the kernel at once. */
    if (dropped) {
        xsk_ring_prod__reserve(&q->fill, dropped, &fi);
        for (uint32_t i = 0; i < dropped; i++)
            *xsk_ring_prod__fill_addr(&q->fill, fi + i) = drop[i];
        xsk_ring_prod__submit(&q->fill, dropped);
    }
}

void xdp_serve(struct worker *w)
{
    struct xdp_queue *q = w->xdpq;
    struct pollfd pfd = {.fd = q->fd, .events = POLLIN};
    while (!atomic_load_explicit(&w->net->stopping, memory_order_relaxed)) {
        uint32_t ri;
        xdp_recycle(q);
        uint32_t n = xsk_ring_cons__peek(&q->rx, XDP_BATCH, &ri);
        if (n == 0) {
            /* Nothing queued: sleep until the kernel puts a query on the
             * RX ring (or a short while, to see a stop or send what a busy
             * queue refused). */
            xdp_kick(q);
            poll(&pfd, 1, q->tx_pending ? 1 : 200);
            continue;
        }
        xdp_batch(w, q, ri, n);
        xdp_kick(q);
    }
}

/*
 * xdp.h -- the AF_XDP listener: UDP queries taken from chosen receive
 * queues of one interface by an XDP program, answered by the same
 * worker_answer/query path as the socket workers, and sent back through
 * the queue's AF_XDP socket. TCP and everything else the program does not
 * redirect stays with the kernel and the socket workers (xdp_prog.bpf.c
 * says what is redirected). doc/xdp.md has the measurements and what the
 * interface needs.
 *
 * Not for use outside src/net (net.h is the module's interface).
 *
 * Ownership: struct net owns the listener (xdp_attach/xdp_detach); the
 * listener owns the BPF object, its link (which detaches the program when
 * closed, also when the process dies), and each queue's UMEM and socket.
 * A worker thread per queue uses its queue (worker.xdpq) and nothing else.
 */
#ifndef GTM_NET_XDP_H
#define GTM_NET_XDP_H

#include <stddef.h>

#include "net/net.h"
#include "net/xdp_params.h"

struct worker;
struct xdp_listener;
struct xdp_queue;

/*
 * Loads the program, fills its listen map from listen[0..n), opens a UMEM
 * and an AF_XDP socket per configured queue and attaches the program to
 * the interface (in p's mode). Needs CAP_NET_ADMIN, CAP_BPF and
 * CAP_NET_RAW, before privileges are dropped. A stale program of ours
 * (attached by a gtmd that did not detach it) is replaced; another
 * program's is left alone. NULL with the reason in err when any step
 * fails: the caller serves UDP on sockets only.
 */
struct xdp_listener *xdp_attach(const struct xdp_params *p, const struct net_listen *listen,
                                size_t n, char *err, size_t errlen);

/* Queue i (0 .. xdp_queue_count) for its worker; its number on the NIC. */
size_t xdp_queue_count(const struct xdp_listener *x);
struct xdp_queue *xdp_queue_get(struct xdp_listener *x, size_t i);
unsigned xdp_queue_id(const struct xdp_queue *q);

/* Detaches the program and frees everything (NULL: nothing). Call after
 * the workers have stopped. */
void xdp_detach(struct xdp_listener *x);

/* The loop of an XDP worker thread on w->xdpq: receive a batch, answer
 * it, send it. Returns when the server stops (seen within 200 ms). */
void xdp_serve(struct worker *w);

#endif

/*
 * udp.h -- batched UDP serving with recvmmsg/sendmmsg.
 *
 * Ownership: the worker owns its udp_batch (udp_batch_new/free).
 */
#ifndef GTM_NET_UDP_H
#define GTM_NET_UDP_H

struct worker;
struct udp_batch;

struct udp_batch *udp_batch_new(void);
void udp_batch_free(struct udp_batch *b);

/* libevent read callback for a UDP socket; arg is the struct worker. */
void udp_on_readable(int fd, short what, void *arg);

#endif

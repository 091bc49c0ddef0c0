/*
 * udp.h -- batched UDP serving with recvmmsg/sendmmsg.
 *
 * Each UDP thread owns one SO_REUSEPORT socket and blocks in recvmmsg
 * (as gdnsd does): a wake-up costs one receive and one send system call
 * per batch, with no event loop in between. TCP stays on the libevent
 * workers.
 *
 * Ownership: the worker owns its udp_batch (udp_batch_new/free).
 */
#ifndef GTM_NET_UDP_H
#define GTM_NET_UDP_H

#include <stdbool.h>
#include <sys/socket.h>

struct worker;
struct udp_batch;

struct udp_batch *udp_batch_new(void);
void udp_batch_free(struct udp_batch *b);

/* The loop of a UDP thread: blocking recvmmsg on w->udp_fd (which has a
 * receive timeout, so net.stopping is seen within it), answer the
 * batch, sendmmsg the replies. Returns when the server stops. */
void udp_serve(struct worker *w);

/* The address a datagram came to, from its IP_PKTINFO or IPV6_PKTINFO
 * (m: its header), with the port of listen (the wildcard address it was
 * received on): into out, true; false when m has neither. */
bool udp_local_addr(const struct msghdr *m, const struct sockaddr_storage *listen,
                    struct sockaddr_storage *out);

#endif

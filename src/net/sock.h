/*
 * sock.h -- creation of the listening sockets.
 */
#ifndef GTM_NET_SOCK_H
#define GTM_NET_SOCK_H

#include <stddef.h>
#include <stdbool.h>
#include <sys/socket.h>

/* A non-blocking UDP or TCP socket bound to addr with SO_REUSEPORT, so that
 * every worker binds its own; a TCP socket is not listening yet (listen(2)
 * needs no privilege, so the daemon binds before it drops them and listens
 * once the worker starts). Returns the fd or -1 (errno set). */
int sock_bind(const struct sockaddr_storage *addr, socklen_t len, int type);

/* Checks that no other process holds addr for type: binds a socket
 * without SO_REUSEPORT (which would let a second gtmd share the port) and
 * closes it. Returns 0, or -1 with errno set. */
int sock_check_free(const struct sockaddr_storage *addr, socklen_t len, int type);

/* Formats addr as "a.b.c.d:port" or "[v6]:port". */
void sock_addr_str(const struct sockaddr_storage *addr, char *buf, size_t buflen);

/* True for 0.0.0.0 and [::]: a socket bound there receives for every
 * address of the host, and its replies must leave from the address each
 * query came to (udp.c), or a client of a host with several addresses
 * drops them. */
bool sock_is_wildcard(const struct sockaddr_storage *addr);

/* Asks the kernel for each datagram's destination address and interface
 * (IP_PKTINFO, IPV6_RECVPKTINFO); 0 or -1 with errno. */
int sock_want_dst(int fd, int family);

#endif

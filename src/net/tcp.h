/*
 * tcp.h -- DNS over TCP (RFC 7766) for one worker.
 *
 * Pipelined queries are answered in order as each complete message arrives;
 * a connection is closed after idle_timeout without a query, when a
 * started message is not complete within message_timeout, when its replies
 * stay unread for idle_timeout, or at once when a header shows a message
 * is no query. Memory is bounded per connection and per worker (tcp.c
 * explains how). When the worker's
 * share of max_connections is reached, a new connection evicts the least
 * recently active idle one (or, if none is idle, the least recently active),
 * so a flood of connections cannot lock fresh clients out.
 *
 * Ownership: the worker owns its tcp_pool and every connection in it.
 */
#ifndef GTM_NET_TCP_H
#define GTM_NET_TCP_H

struct worker;
struct tcp_pool;

/* Limits are read from the current served set on every accept and sweep,
 * so a reload changes them for existing workers. */
struct tcp_pool *tcp_pool_new(struct worker *w);
void tcp_pool_free(struct tcp_pool *p);

/* libevent callback for a listening socket; arg is the struct worker.
 * When accept4 fails for want of descriptors or memory (EMFILE, ENFILE,
 * ENOBUFS, ENOMEM), the worker stops accepting for 100 ms, doubling up to
 * 1 s while the errors go on, and logs tcp_accept_paused once per burst
 * and tcp_accept_resumed at its end. */
void tcp_on_accept(int fd, short what, void *arg);
/* The same for a DNS over TLS listener: its connections start with a TLS
 * handshake (tls.h) on the worker's current context. */
void tcp_on_accept_tls(int fd, short what, void *arg);

#endif

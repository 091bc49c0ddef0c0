/*
 * worker.h -- one DNS worker thread: a TCP event loop or a UDP thread,
 * with its own sockets, buffers, random state and serve reader.
 *
 * Not for use outside src/net (net.h is the module's interface).
 *
 * Ownership: struct net (net.h) owns its workers; a worker owns its
 * sockets, events, buffers and connections.
 */
#ifndef GTM_NET_WORKER_H
#define GTM_NET_WORKER_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <time.h>

#include "answer/query.h"
#include "dns/dns.h"
#include "guard/rrl.h"
#include "net/net.h"
#include "serve/serve.h"

struct event_base;
struct event;
struct udp_batch;
struct tcp_pool;
struct xdp_queue;
struct ssl_ctx_st;
struct dnstap_queue;
struct msghdr;

/* Query counters are bucketed by rcode (NOERROR..REFUSED, then "other")
 * and by qtype (the list in worker.c, then "other"). */
#define WORKER_RCODES (DNS_RCODE_REFUSED + 2)
#define WORKER_QTYPES 13
/* The /metrics label of a bucket: the mnemonic from dns/rrtype.h, or
 * "other" for the last one. Static strings. */
const char *worker_rcode_label(unsigned bucket);
const char *worker_qtype_label(unsigned bucket);

/* Workers sit side by side in net->workers; each is aligned to and padded
 * to two cache lines (the adjacent-line prefetcher's pair), so the fields
 * a worker writes per batch or per answer (rng, rrl, clocks, tap_count)
 * share no line pair with the next worker's. */
#define WORKER_ALIGN 128

struct worker {
    _Alignas(WORKER_ALIGN) struct net *net;
    struct serve_reader *reader; /* this thread's slot and counters */
    unsigned id;
    pthread_t thread;
    struct event_base *base;
    struct udp_batch *udp;  /* buffers for recvmmsg/sendmmsg (UDP threads) */
    int udp_fd;             /* the socket of a UDP thread; -1 on TCP workers */
    bool udp_wildcard;      /* udp_fd is bound to 0.0.0.0 or [::]: replies name their source */
    struct tcp_pool *tcp;   /* connections of this worker */
    struct xdp_queue *xdpq; /* an XDP worker's queue (owned by net's xdp listener) */
    uint16_t udp_cap;       /* query_client.udp_cap for this worker's answers */
    int *fds;               /* sockets this worker polls: DNS over TCP, then over TLS */
    struct event **evs;     /* one per fd */
    size_t n_fds;
    size_t n_tcp_fds; /* fds[n_tcp_fds ..) are DNS over TLS listeners */
    /* The TLS context new connections take (a reference of this worker's;
     * NULL without TLS), and the one a reload hands over (net_tls_reload):
     * swapped in at the next accept, without a lock. */
    struct ssl_ctx_st *tls_ctx;
    _Atomic(struct ssl_ctx_st *) tls_next;
    bool started;                /* thread running: join it on stop */
    uint64_t rng;                /* random state for weighted selection */
    struct rrl_thread rrl;       /* response rate limiting: this thread's slip count */
    uint32_t now_mono, now_wall; /* seconds, read by worker_clock once per batch */
    struct timespec now_real;    /* the same wall clock read: dnstap's query time */
    struct dnstap_queue *tap;    /* this thread's dnstap queue; NULL: no dnstap */
    uint32_t tap_count;          /* queries since the last one logged (sampling) */
    size_t listen;               /* a UDP thread's listen address (index) */
};

/* Where a query came to: the index of its listen address in net->listen
 * (past the end: not known, the AF_XDP listener's), that address (NULL:
 * not known) and, on a wildcard UDP socket, the datagram's header with
 * its IP_PKTINFO or IPV6_PKTINFO (NULL otherwise). Read only when the
 * query is logged to dnstap. */
struct worker_dst {
    size_t listen;
    const struct sockaddr_storage *local;
    const struct msghdr *pktinfo;
};

/* Reads the clocks the query path needs (RRL, cookies) once for a batch
 * of queries (one UDP batch, one TCP read). */
void worker_clock(struct worker *w);

/* Answers one query from s (which w's reader has entered), counts it
 * under transport (SERVE_UDP, SERVE_TCP or SERVE_TLS) and logs it to
 * dnstap when s's dnstap view samples it (dst: where it came to). p is
 * the query already parsed from in by query_parse (UDP parses a batch
 * ahead), or NULL to parse it here. xfr (TCP and TLS only, else NULL):
 * where an allowed zone transfer begins instead of a reply (xfr->start).
 * upd (NULL: updates refused): where an accepted UPDATE is marked
 * (upd->start, no reply). */
size_t worker_answer(struct worker *w, const struct serve_set *s,
                     const struct sockaddr_storage *client, const struct worker_dst *dst,
                     const uint8_t *in, size_t len, struct query_parsed *p, uint8_t *out,
                     struct answer_xfr *xfr, struct query_update *upd, unsigned transport);

/* A job for the UPDATE in[0..len) from client that the query path handed
 * on (upd), of extra octets (the transport's part of the job, which
 * starts with struct net_update), with reply set; NULL without memory. */
struct net_update *worker_update_job(const uint8_t *in, size_t len,
                                     const struct sockaddr_storage *client,
                                     const struct query_update *upd, size_t size, bool tcp);

/* Hands job to the updater: 0 when it took it. When it refuses (its
 * queue is full, or it is stopping) the reply, SERVFAIL, is made into out
 * (cap octets) and its length returned; job stays the caller's to free. */
size_t worker_update_submit(struct worker *w, struct net_update *job, uint8_t *out, size_t cap);

#endif

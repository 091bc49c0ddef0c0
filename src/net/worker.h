/*
 * worker.h -- DNS worker threads: one libevent event_base each, their own
 * SO_REUSEPORT UDP and TCP sockets, and lock-free access to the snapshot.
 *
 * Snapshot protocol (a one-slot hazard pointer per worker): before touching
 * the snapshot a worker publishes the pointer it read in 'hazard' and checks
 * it is still current; when done with a batch it clears the slot. A reload
 * swaps serve_ctx.current and then waits (serve_retire) until no worker's
 * hazard equals the old pointer before freeing it. Queries never wait.
 *
 * Ownership: serve_ctx owns the workers and the current snapshot; the daemon
 * owns serve_ctx.
 */
#ifndef GTM_NET_WORKER_H
#define GTM_NET_WORKER_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "answer/query.h"
#include "daemon/config.h"
#include "dns/dns.h"
#include "zone/snapshot.h"

struct event_base;
struct event;
struct udp_batch;
struct tcp_pool;

/* Query counters are bucketed by rcode (NOERROR..REFUSED, then "other")
 * and by qtype (the list in worker.c, then "other"). */
#define WORKER_RCODES (DNS_RCODE_REFUSED + 2)
#define WORKER_QTYPES 13
/* The /metrics label of a bucket: the mnemonic from dns/rrtype.h, or
 * "other" for the last one. Static strings. */
const char *worker_rcode_label(unsigned bucket);
const char *worker_qtype_label(unsigned bucket);

struct worker {
    struct serve_ctx *ctx;
    unsigned id;
    pthread_t thread;
    struct event_base *base;
    _Atomic(const struct snapshot *) hazard;
    struct udp_batch *udp; /* buffers for recvmmsg/sendmmsg (UDP threads) */
    int udp_fd;            /* the socket of a UDP thread; -1 on TCP workers */
    struct tcp_pool *tcp;  /* connections of this worker */
    int *fds;              /* sockets this worker polls */
    struct event **evs;    /* one per fd */
    size_t n_fds;
    bool started;              /* thread running: join it on stop */
    uint64_t rng;              /* random state for weighted selection */
    atomic_ullong queries_udp; /* counters read by status and metrics */
    atomic_ullong queries_tcp;
    /* [transport udp/tcp][rcode bucket][qtype bucket], for /metrics */
    atomic_ullong counts[2][WORKER_RCODES][WORKER_QTYPES];
};

struct serve_ctx {
    _Atomic(const struct snapshot *) current;
    _Atomic(const struct snapshot *) admin_hazard; /* the admin thread's slot */
    _Atomic(uint16_t) udp_max;
    /* TCP limits, changed by reloads while workers read them. */
    _Atomic unsigned tcp_max_connections;
    _Atomic unsigned tcp_idle_ms;
    _Atomic unsigned tcp_message_ms;
    /* workers[0 .. n_tcp_workers) run libevent loops for TCP; the rest are
     * UDP threads, one per worker and listen address. */
    struct worker *workers;
    unsigned n_workers;
    unsigned n_tcp_workers;
    atomic_bool stopping;
};

/* Publishes and returns the snapshot this worker will use. */
static inline const struct snapshot *worker_snapshot_enter(struct worker *w)
{
    const struct snapshot *s;
    do {
        s = atomic_load(&w->ctx->current);
        atomic_store(&w->hazard, s);
    } while (s != atomic_load(&w->ctx->current));
    return s;
}

/* The same protocol for the admin thread (one reader there at a time). */
static inline const struct snapshot *serve_snapshot_enter_admin(struct serve_ctx *ctx)
{
    const struct snapshot *s;
    do {
        s = atomic_load(&ctx->current);
        atomic_store(&ctx->admin_hazard, s);
    } while (s != atomic_load(&ctx->current));
    return s;
}

static inline void serve_snapshot_leave_admin(struct serve_ctx *ctx)
{
    atomic_store_explicit(&ctx->admin_hazard, NULL, memory_order_release);
}

static inline void worker_snapshot_leave(struct worker *w)
{
    atomic_store_explicit(&w->hazard, NULL, memory_order_release);
}

/*
 * Creates the sockets and threads for cfg's listen addresses. Returns 0, or
 * -1 with a message in errbuf (sockets that could not be bound, ...).
 */
int serve_start(struct serve_ctx *ctx, const struct config *cfg, struct snapshot *initial,
                char *errbuf, size_t errlen);

/* Installs a new snapshot and returns the old one once no worker uses it;
 * the caller frees it. */
struct snapshot *serve_swap(struct serve_ctx *ctx, struct snapshot *next, const struct config *cfg);

/* Stops and joins every worker, closes sockets, frees the current snapshot. */
void serve_stop(struct serve_ctx *ctx);

/* Answers a batch-friendly single query with the worker's current limits. */
size_t worker_answer(struct worker *w, const struct snapshot *s,
                     const struct sockaddr_storage *client, const uint8_t *in, size_t len,
                     uint8_t *out, bool tcp);

#endif

/*
 * query.h -- one query in, one reply out: parse, decide, encode.
 *
 * This is the whole per-query path shared by UDP, TCP, the fuzzer and the
 * unit tests. It allocates nothing and takes no lock; the served set must
 * stay alive for the duration of the call (a reader entered it, serve.h).
 */
#ifndef GTM_ANSWER_QUERY_H
#define GTM_ANSWER_QUERY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "serve/serve.h"

/* Who asks: feeds hashed selection, geo policies and scoped drills. */
struct answer_trace;
struct rrl_thread;
struct policy_loss;

struct query_client {
    const struct sockaddr_storage *addr; /* may be NULL */
    uint64_t *rng;                       /* per-thread random state, non-zero */
    struct answer_trace *trace;          /* explain only; NULL on the DNS path */
    struct serve_reader *reader;         /* counts policy answers; NULL = not counted */
    struct rrl_thread *rrl;              /* this thread's RRL state; NULL = never limited */
    /* Seconds of CLOCK_MONOTONIC (rate limiting) and CLOCK_REALTIME (cookie
     * timestamps), read once per batch by the caller; 0 = read the clock
     * when needed. */
    uint32_t now_mono, now_wall;
    /* Targets lost for canary clients (scoped drills), as the caller's
     * reader entered them (serve_loss); NULL = none. */
    const struct policy_loss *loss;
    uint16_t qtype; /* out: the question's type (0 if none) */
    uint8_t rcode;  /* out: the reply's rcode (low 4 bits + ext) */
};

/*
 * Answers the query in[0..inlen) into out from the served set s (which must
 * hold 65535 octets for TCP, s->limits.edns_udp_max for UDP). Returns the reply length, or 0 when
 * the packet gets no reply (too short, a response, or a reply that response
 * rate limiting dropped; query_guard.h).
 */
size_t query_answer(const struct serve_set *s, struct query_client *client, const uint8_t *in,
                    size_t inlen, uint8_t *out, bool tcp);

/* What query_prefetch found out about a query, for query_prefetch_node. */
struct query_hint {
    const struct zone *zone; /* NULL: nothing to prefetch */
    uint32_t hash;           /* of the question name */
};

/*
 * Reads the question name of in[0..inlen) (no checks beyond the name's
 * own) and starts loading the zone's hash table slot for it, filling h.
 * query_prefetch_node(h), called once the slots of the whole batch are on
 * their way, starts loading the node. Neither changes anything: they only
 * let a batch's cache misses overlap (net/udp.c says by how much).
 */
void query_prefetch(const struct serve_set *s, const uint8_t *in, size_t inlen,
                    struct query_hint *h);
void query_prefetch_node(const struct query_hint *h);

#endif

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

#include "answer/lookup.h"
#include "dns/packet.h"
#include "dns/tsig.h"
#include "serve/serve.h"

/* Who asks: feeds hashed selection, geo policies and scoped drills. */
struct answer_trace;
struct answer_xfr;
struct rrl_thread;
struct policy_loss;

/* An RFC 2136 UPDATE the query path accepted for a zone that takes
 * updates from the request's key (query.c, query_update): the caller hands
 * the message to the updater, which replies later; no reply is encoded. */
struct query_update {
    bool start;           /* out: an update to hand on */
    struct tsig_ctx tsig; /* out: the verified request's TSIG state */
};

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
    /* A TCP connection's transfer state (xfr_out.h): an allowed AXFR or
     * IXFR starts there instead of a reply. NULL on UDP. */
    struct answer_xfr *xfr;
    /* Where an accepted UPDATE is handed on (start set, no reply); NULL:
     * every UPDATE is refused (the AF_XDP path, explain). */
    struct query_update *update;
    /* The largest UDP reply the caller's path can carry (the AF_XDP path:
     * the interface MTU less the IP and UDP headers; at least 512), below
     * the EDNS size; 0 = no limit beyond edns_udp_max (the socket path,
     * where the kernel fragments). A larger reply is truncated (TC). */
    uint16_t udp_cap;
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

/*
 * The reply to the UPDATE in[0..inlen) with rcode: the header and zone
 * section echoed (and OPT when the request had one), signed with tsig
 * when it has a key (the request's MAC in it; now: seconds since the
 * epoch). out holds cap octets (at least 512). Returns the length, 0 when
 * in is not a message query_update accepted.
 */
size_t query_update_reply(const uint8_t *in, size_t inlen, uint16_t rcode, struct tsig_ctx *tsig,
                          uint64_t now, uint8_t *out, size_t cap);

/* A query parsed ahead of its answer (UDP parses a whole batch first, to
 * prefetch). Owned by the caller; query_answer_parsed may change it (an
 * error reply drops what it cannot echo). */
struct query_parsed {
    struct dns_query q;
    enum dns_parse_result r;
    struct answer_zone_hint zone; /* set by query_prefetch */
};

/* Parses in[0..inlen) into p. p->q points into in, which must stay as it
 * is until the answer. */
void query_parse(const uint8_t *in, size_t inlen, struct query_parsed *p);

/* query_answer for a query parsed by query_parse from the same in. */
size_t query_answer_parsed(const struct serve_set *s, struct query_client *client,
                           const uint8_t *in, size_t inlen, struct query_parsed *p, uint8_t *out,
                           bool tcp);

/* What query_prefetch found out about a query, for query_prefetch_node. */
struct query_hint {
    const struct zone *zone; /* NULL: nothing to prefetch */
    uint32_t hash;           /* of the question name */
};

/*
 * Starts loading the zone's hash table slot for the question of the parsed
 * query p (nothing when it did not parse), filling h, and keeps the
 * question's zone in p for the answer.
 * query_prefetch_node(h), called once the slots of the whole batch are on
 * their way, starts loading the node. Neither changes anything: they only
 * let a batch's cache misses overlap (net/udp.c says by how much).
 */
void query_prefetch(const struct serve_set *s, struct query_parsed *p, struct query_hint *h);
void query_prefetch_node(const struct query_hint *h);

#endif

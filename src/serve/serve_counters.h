/*
 * serve_counters.h -- query and policy-answer counters, one block per
 * reader, each written only by its reader's thread and summed on read.
 *
 * Hot path: a reader bumps its own counters with a relaxed load and a
 * relaxed store (single writer, so no read-modify-write instruction and no
 * shared cache line); a status or /metrics reader sums every reader's
 * block with relaxed loads. Sums are monotonic between two reads.
 *
 * Policy answers are counted per (record, serving region). A record's
 * column is identified across reloads by a counter id from a registry
 * keyed by record name, record type and region name: a reload that keeps
 * the record and the region keeps the id, so the counter goes on from
 * where it was (before serve/, a reload reset them). Ids are never reused
 * or freed before exit; the registry grows by the distinct keys the
 * configurations of a run have had (at most SERVE_POLICY_MAX_IDS; past
 * that, new keys are not counted and a warning is logged once).
 *
 * Ownership: the counters live inside struct serve_reader (serve.h); the
 * id chunks belong to the reader and are freed with the serve core.
 */
#ifndef GTM_SERVE_SERVE_COUNTERS_H
#define GTM_SERVE_SERVE_COUNTERS_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "guard/cookie.h"
#include "guard/rrl.h"
#include "policy/policy_geo.h"
#include "serve/serve_registry.h"

/* Query counter buckets: [transport][rcode][qtype]. The bucket of an rcode
 * or a qtype and its label are decided by the readers that count (net/),
 * which register the labels with serve_set_query_labels (serve.h). */
#define SERVE_TRANSPORTS 3 /* 0 udp, 1 tcp, 2 tls (DNS over TLS) */
#define SERVE_UDP 0
#define SERVE_TCP 1
#define SERVE_TLS 2
#define SERVE_RCODES 7
#define SERVE_QTYPES 13
/* Responses limited by RRL, by class (guard/rrl.h) and what became of
 * them: 0 dropped, 1 slipped (sent truncated, or BADCOOKIE). */
#define SERVE_RRL_ACTIONS 2

/* DNS over TLS connections: accepted, handshakes completed (full or
 * resumed), handshakes failed (not TLS, no shared protocol or cipher, cut
 * short) and handshakes closed unfinished at the idle timeout. */
enum serve_tls_kind {
    SERVE_TLS_ACCEPTED,
    SERVE_TLS_FULL,
    SERVE_TLS_RESUMED,
    SERVE_TLS_FAILED,
    SERVE_TLS_TIMEOUT,
    SERVE_TLS_KINDS
};

/* Policy counters are stored in chunks of ids, each reader's made by the
 * reader itself when it first counts an answer in it (serve_count_id):
 * 8 octets per id and reader, 12 ids per record over five regions (with
 * the canary columns), so 100,000 records made 19 MB of chunks in two
 * readers before a query came, most of which a real estate's cold names
 * and never-ramped canary columns leave untouched (issue #38). A chunk is
 * a slice of address space the reader reserved when it was added
 * (serve_counters_reserve), its pages zero until counted in: nothing on
 * the query path asks malloc. A calloc there (before issue #55's last
 * round) could sweep a whole arena's freed chunks first: 1.5-2 s in a
 * DNS worker, holding its set, right after a fleet node let go of a
 * 1,000,000-record document, and the reload waiting for that set. */
#define SERVE_POLICY_CHUNK 1024
/* 16,777,216 ids: 1,000,000 records each served from five regions, with
 * the canary columns (12 ids a record), and room for the keys later
 * configurations of the run add. 4,194,304 left the records past some
 * 700,000 of a 1,000,000-name estate uncounted (six ids a record over two
 * regions). The table of chunk pointers is 128 KB a reader; the chunks
 * themselves are made only where answers are counted. */
#define SERVE_POLICY_CHUNKS 16384
#define SERVE_POLICY_MAX_IDS (SERVE_POLICY_CHUNK * SERVE_POLICY_CHUNKS)
_Static_assert(SERVE_POLICY_MAX_IDS >= 12u * 1000000u,
               "every column of a 1,000,000-record estate over five regions is counted");

struct serve_counters {
    /* Datagrams (UDP) or messages (TCP) received, replied to or not. */
    _Atomic uint64_t messages[SERVE_TRANSPORTS];
    /* Queries answered, by transport, rcode bucket and qtype bucket. */
    _Atomic uint64_t queries[SERVE_TRANSPORTS][SERVE_RCODES][SERVE_QTYPES];
    /* Geo and nearest lookups by what placed the client (policy_geo.h). */
    _Atomic uint64_t geo[POLICY_GEO_KINDS];
    /* Queries with a COOKIE option, by its state (guard/cookie.h). */
    _Atomic uint64_t cookies[COOKIE_KINDS];
    /* Responses RRL limited, by class and action. */
    _Atomic uint64_t rrl[RRL_CLASSES][SERVE_RRL_ACTIONS];
    _Atomic uint64_t tls[SERVE_TLS_KINDS];
    /* Policy answers by counter id: chunk[id / CHUNK][id % CHUNK]. */
    _Atomic(_Atomic uint64_t *) policy[SERVE_POLICY_CHUNKS];
};

/* Sums of every reader's query counters. */
struct serve_query_totals {
    uint64_t messages[SERVE_TRANSPORTS];
    uint64_t queries[SERVE_TRANSPORTS][SERVE_RCODES][SERVE_QTYPES];
    uint64_t cookies[COOKIE_KINDS];
    uint64_t rrl[RRL_CLASSES][SERVE_RRL_ACTIONS];
    uint64_t tls[SERVE_TLS_KINDS];
};

/* One more for a counter only its reader's thread writes. */
static inline void serve_counter_bump(_Atomic uint64_t *c, uint64_t n)
{
    atomic_store_explicit(c, atomic_load_explicit(c, memory_order_relaxed) + n,
                          memory_order_relaxed);
}

#endif

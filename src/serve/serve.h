/*
 * serve.h -- one owner for what is served: the current served set (zones,
 * policy set, generation, limits; serve_set.h), the readers that use it,
 * the swap with its grace period, and the counters of what was answered.
 *
 * Readers. Every thread that reads the served set has a reader slot of its
 * own (serve_reader_add): each DNS worker (UDP thread or TCP loop), the
 * admin thread, and later any other module that needs one. A reader calls
 * serve_enter() before it touches the set and serve_leave() when done:
 * enter loads the current pointer, publishes it in the reader's hazard
 * slot and checks it is still current (retrying otherwise). Entering
 * never waits. A reader holds a set for a short while (one UDP batch, one
 * TCP read, one admin request) and never enters twice without leaving.
 * Inside, a reader never waits for another thread that may itself wait
 * for readers (serve_publish, serve_sync: the health thread does,
 * so no health_service_save() while entered).
 *
 * Swap. serve_publish() installs a new set and then waits until no
 * reader's hazard slot holds the old one (the grace period: polled every
 * 100 microseconds), and hands the old set back to the caller to free.
 * The caller must not be inside serve_enter() on a reader itself.
 *
 * Loss view. Beside the set, the core publishes the targets that scoped
 * drills lose for their canary clients (policy/policy_loss.h), which
 * change without a reload. serve_enter() enters the current view too (a
 * second hazard slot per reader, same protocol); serve_loss() gives it.
 * serve_publish_loss() swaps it and waits for its own grace period.
 *
 * Counters (serve_counters.h): each reader counts what it answered in its
 * own block; serve_sum_queries and serve_sum_policy add the blocks up.
 * Answers to canary clients of scoped drills are also counted apart, for
 * the drills' recovery timeline (serve_policy_id, serve_sum_id).
 *
 * Threads: serve_publish and serve_reader_add take the core's mutex (one
 * publication at a time); enter, leave and counting take no lock.
 *
 * Ownership: the daemon owns struct serve (serve_init / serve_destroy);
 * the core owns the current set and every reader; serve_destroy frees
 * them, after every reader's thread has stopped.
 */
#ifndef GTM_SERVE_SERVE_H
#define GTM_SERVE_SERVE_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "policy/policy_loss.h"
#include "serve/serve_counters.h"
#include "serve/serve_set.h"

struct serve;

/* Readers are aligned to and padded to this (two cache lines: the
 * adjacent-line prefetcher of x86 fetches lines in pairs), so that no
 * two workers' readers share a line pair that either writes per query. */
#define SERVE_READER_ALIGN 128

struct serve_reader {
    struct serve *serve;
    unsigned id;
    _Atomic uint64_t entries;                        /* serve_enter calls (serve_sync) */
    _Atomic(const struct serve_set *) hazard;        /* the set in use, or NULL */
    _Atomic(const struct policy_loss *) loss_hazard; /* the loss view in use */
    bool counts_policy; /* counts policy answers (serve_reader_add_counting) */
    /* Where its policy counters' chunks lie (serve_counters_reserve):
     * address space for every chunk, mapped when the reader is added,
     * its pages made by the kernel as answers are first counted in them.
     * NULL: none (the reader does not count policy answers). */
    _Atomic uint64_t *policy_space;
    char name[16];                  /* a DNS worker's name ("udp2"), "" for other readers */
    struct serve_counters counters; /* written by this reader only */
};

/* What every worker reads per batch (current, loss) has a line pair of its
 * own: the locks and the registry after it are written by publications
 * and by id lookups (serve_policy_id) from the admin and drill threads,
 * which would otherwise take the line from under every worker. Aligned
 * members: a struct serve lives in a struct or on the stack, or in
 * memory from aligned_alloc(SERVE_READER_ALIGN, ...). */
struct serve {
    _Alignas(SERVE_READER_ALIGN) _Atomic(struct serve_set *) current;
    _Atomic(struct policy_loss *) loss; /* scoped drills' view; NULL: none */
    _Alignas(SERVE_READER_ALIGN) struct serve_reader **readers; /* max_readers slots, in order */
    unsigned max_readers;
    _Atomic unsigned n_readers;
    pthread_mutex_t lock; /* publication, reader_add, id chunks */
    /* The registry's own lock (taken inside lock by a publication, alone
     * by serve_policy_id): never held while a publication waits for its
     * readers, so a thread that looks an id up while holding a lock a
     * reader waits for (the drill core's) cannot close a cycle with it. */
    pthread_mutex_t reg_lock;
    struct serve_registry registry;
    /* Labels of the query counter buckets, from the readers that count
     * (static strings; NULL until registered). */
    const char *(*rcode_label)(unsigned bucket);
    const char *(*qtype_label)(unsigned bucket);
};

/* Prepares sv for at most max_readers readers; nothing is served yet. */
void serve_init(struct serve *sv, unsigned max_readers);
/* Frees the current set, the readers and the counters; no reader may run. */
void serve_destroy(struct serve *sv);

/* A new reader slot, or NULL when all max_readers are taken. Its policy
 * answer counters have no memory: a reader that counts policy answers
 * (serve_count_policy, the DNS workers) is made by
 * serve_reader_add_counting instead. The chunks of policy counters cost 8
 * bytes per column per counting reader (10 MB per reader at 100,000
 * records), which the admin, drill, configuration and webhook readers,
 * that never count, do not pay (issue #38). */
struct serve_reader *serve_reader_add(struct serve *sv);
struct serve_reader *serve_reader_add_counting(struct serve *sv);
/* A counting reader of the DNS worker called name (copied; at most 15
 * characters kept), whose messages serve_sum_workers reports apart. */
struct serve_reader *serve_reader_add_worker(struct serve *sv, const char *name);

/* Installs next (taking ownership), waits for the grace period, and returns
 * the set it replaced (NULL the first time); the caller frees it. */
struct serve_set *serve_publish(struct serve *sv, struct serve_set *next);

/* Installs next as the loss view (taking ownership; NULL: none), waits
 * until no reader holds the old one, and returns it for the caller to free
 * (policy_loss_free). The caller must not be inside serve_enter() itself. */
struct policy_loss *serve_publish_loss(struct serve *sv, struct policy_loss *next);

/* The current set (and loss view) for a reader; valid until serve_leave(r). */
static inline const struct serve_set *serve_enter(struct serve_reader *r)
{
    const struct serve_set *s;
    const struct policy_loss *l;
    /* Before the hazard store, which orders it for serve_sync. */
    serve_counter_bump(&r->entries, 1);
    do {
        s = atomic_load(&r->serve->current);
        atomic_store(&r->hazard, s);
    } while (s != atomic_load(&r->serve->current));
    do {
        l = atomic_load(&r->serve->loss);
        atomic_store(&r->loss_hazard, l);
    } while (l != atomic_load(&r->serve->loss));
    return s;
}

/* The loss view the reader entered with its set (NULL: none). */
static inline const struct policy_loss *serve_loss(struct serve_reader *r)
{
    return atomic_load_explicit(&r->loss_hazard, memory_order_relaxed);
}

static inline void serve_leave(struct serve_reader *r)
{
    atomic_store_explicit(&r->hazard, NULL, memory_order_release);
    atomic_store_explicit(&r->loss_hazard, NULL, memory_order_release);
}

/* Counting, on the reader's own thread. */
static inline void serve_count_messages(struct serve_reader *r, unsigned transport, uint64_t n)
{
    serve_counter_bump(&r->counters.messages[transport], n);
}

static inline void serve_count_query(struct serve_reader *r, unsigned transport, unsigned rcode,
                                     unsigned qtype)
{
    serve_counter_bump(&r->counters.queries[transport][rcode][qtype], 1);
}

/* A query whose COOKIE option was in state st. */
static inline void serve_count_cookie(struct serve_reader *r, enum cookie_status st)
{
    serve_counter_bump(&r->counters.cookies[st], 1);
}

/* A response RRL limited: dropped (slipped false) or slipped. */
static inline void serve_count_rrl(struct serve_reader *r, enum rrl_class cls, bool slipped)
{
    serve_counter_bump(&r->counters.rrl[cls][slipped ? 1 : 0], 1);
}

static inline void serve_count_tls(struct serve_reader *r, enum serve_tls_kind k)
{
    serve_counter_bump(&r->counters.tls[k], 1);
}

/* The reader's chunk k, taken now from its space: the first answer
 * counted in it (serve_counters.h). NULL for a reader not made to count
 * policy answers, or without the space (the answer is not counted). */
_Atomic uint64_t *serve_counters_chunk(struct serve_reader *r, uint32_t k);
/* Maps r's space for its policy counters (a counting reader, when added;
 * logged when the address space is not there) and unmaps it (at
 * serve_destroy). */
void serve_counters_reserve(struct serve_reader *r);
void serve_counters_unreserve(struct serve_reader *r);

static inline void serve_count_id(struct serve_reader *r, uint32_t id)
{
    if (id == SERVE_NO_ID)
        return;
    _Atomic uint64_t *chunk =
        atomic_load_explicit(&r->counters.policy[id / SERVE_POLICY_CHUNK], memory_order_relaxed);
    if (!chunk)
        chunk = serve_counters_chunk(r, id / SERVE_POLICY_CHUNK);
    if (chunk)
        serve_counter_bump(&chunk[id % SERVE_POLICY_CHUNK], 1);
}

/* One lookup of a geo or nearest record, by what placed the client. */
static inline void serve_count_geo(struct serve_reader *r, unsigned kind)
{
    if (kind < POLICY_GEO_KINDS)
        serve_counter_bump(&r->counters.geo[kind], 1);
}

/* The counter id of the answers of record (index into s->gslb->records)
 * served by region (-1: no serving region), of canary clients only when
 * canary; SERVE_NO_ID when the set counts none there. Any thread, while s
 * is alive (entered, or owned). */
static inline uint32_t serve_policy_id_of(const struct serve_set *s, size_t record, int region,
                                          bool canary)
{
    if (!s->policy_rows)
        return SERVE_NO_ID;
    size_t col = region >= 0 ? (size_t)region : s->policy_stride - 1;
    return serve_registry_row_id(s->policy_rows[record], s->policy_cols[col] + (canary ? 1 : 0));
}

/* One answer of record (index into s->gslb->records) served by region
 * (-1: no serving region); canary: to a canary client of a scoped drill,
 * which is also counted apart. s is the set r has entered. */
static inline void serve_count_policy(struct serve_reader *r, const struct serve_set *s,
                                      size_t record, int region, bool canary)
{
    if (!s->policy_rows)
        return;
    const struct serve_registry_row *row = s->policy_rows[record];
    uint32_t k = s->policy_cols[region >= 0 ? (size_t)region : s->policy_stride - 1];
    serve_count_id(r, serve_registry_row_id(row, k));
    if (canary)
        serve_count_id(r, serve_registry_row_id(row, k + 1));
}

/* Registers the labels of the query buckets (functions returning static
 * strings for buckets 0..SERVE_RCODES-1 and 0..SERVE_QTYPES-1); called
 * once by whoever counts queries. */
void serve_set_query_labels(struct serve *sv, const char *(*rcode_label)(unsigned),
                            const char *(*qtype_label)(unsigned));

/* Sums every reader's query counters (any thread). */
void serve_sum_queries(struct serve *sv, struct serve_query_totals *out);

/* Messages received by one DNS worker (serve_reader_add_worker). */
struct serve_worker_total {
    char name[16];
    uint64_t messages; /* over every transport */
};

/* The messages of each DNS worker's reader, in the order they were
 * added, into out (at most cap); returns how many workers there are
 * (which may be more than cap; out may be NULL when cap is 0). Any
 * thread. */
size_t serve_sum_workers(struct serve *sv, struct serve_worker_total *out, size_t cap);

/* Geo lookups by kind, summed over every reader (any thread). */
void serve_sum_geo(struct serve *sv, uint64_t out[POLICY_GEO_KINDS]);

/* Answers of record (index into s->gslb->records) by region (-1: none),
 * summed over every reader since the start, across reloads that kept the
 * record and the region. s must stay alive (entered, or owned). */
uint64_t serve_sum_policy(struct serve *sv, const struct serve_set *s, size_t record, int region);

/* The counter id of the answers of record (name, type) served by region
 * (NULL: no serving region), of canary clients only when canary; ids
 * outlive sets and reloads. SERVE_NO_ID when no published set had that
 * column. Takes the registry's lock (any thread). */
uint32_t serve_policy_id(struct serve *sv, const char *record, uint16_t rtype, const char *region,
                         bool canary);
/* The sum of counter id over every reader (any thread; 0 for SERVE_NO_ID). */
uint64_t serve_sum_id(struct serve *sv, uint32_t id);

/* Returns once every reader that was inside serve_enter..serve_leave when
 * it was called has left (or entered again): whatever state a query reads
 * (health bytes, the loss view) and was changed before the call is seen
 * by every query answered after it returns. The drills' recovery timeline
 * takes its baselines after it; the widener of geo scopes frees the
 * bitmaps it replaced after it (policy_geo.h: the pointer is swapped,
 * seq_cst, before the call). The caller must not be inside serve_enter()
 * itself. */
void serve_sync(struct serve *sv);

#endif

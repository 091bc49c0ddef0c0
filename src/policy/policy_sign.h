/*
 * policy_sign.h -- signatures of policy answers in zones signed at load,
 * made off the query path.
 *
 * A policy record's RRset changes with health, overrides, drills and the
 * client's location, so each distinct answer needs its own RRSIG. The
 * store keeps them keyed by (record, type, the set of records in the
 * answer) -- a 64-bit hash of the sorted RDATA, checked against the
 * stored RDATA -- and the DNS workers find the one for the exact RRset
 * they serve with a lock-free probe of an open-addressing table. Nothing
 * is signed on the query path.
 *
 * Who signs: policy_sigs_update(), called by the loader before a set is
 * published (every start, reload and re-sign) and by the health thread's
 * listener after every state change (probe transition, override, drill
 * byte; daemon/server.c). It evaluates every signed record in the current
 * state along every region order it can use (one for failover, weighted
 * and all; one per class for geo and nearest), and signs each answer that
 * selection can give there and the store lacks: select all (every window
 * of `answers` when that cuts the list), one endpoint at a time (weighted
 * or hashed with answers 1, and CNAME records), the combinations of
 * weighted or hashed multi-answer selections while there are at most
 * POLICY_SIGN_MAX_COMBOS of them, and always the "all candidates" RRset
 * (every up endpoint the selection chose from).
 *
 * What a query without a signature gets (lookup.c): the signed "all
 * candidates" RRset of its state and order, else the last answer signed
 * for the record (between a state change and the end of its signing:
 * the answer of a moment ago), else the RRset unsigned (only when the
 * store is full, logged). The worker also leaves a request for the exact
 * answer (policy_sigs_request), which wakes the signer: the next update
 * signs it, so a random selection's answers are served signed from then
 * on (a cache bounded like the rest of the table).
 *
 * Memory: at most `limit` signed answers per table. When an update would
 * pass it, the update builds a new table with the answers of the current
 * state only, publishes it and hands the old one back to the caller, who
 * frees it (policy_sigs_retired_free) once no worker can read it
 * (serve_sync).
 *
 * Ownership: the served set owns its store (policy_sigs_free); entries
 * belong to their table. The store borrows the gslb and zones of its set.
 */
#ifndef GTM_POLICY_POLICY_SIGN_H
#define GTM_POLICY_POLICY_SIGN_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "health/service.h"
#include "policy/policy.h"
#include "policy/policy_eval.h"
#include "policy/policy_geo.h"
#include "zone/snapshot.h"
#include "zone/zone.h"

/* Answers signed per table unless the caller says otherwise. */
#define POLICY_SIGS_LIMIT_DEFAULT 65536
/* Multi-answer weighted or hashed selections are enumerated up to this
 * many combinations per order; beyond, only "all candidates" is signed. */
#define POLICY_SIGN_MAX_COMBOS 64

/* One signed answer: its RDATA (sorted, count x (RDLENGTH RDATA)) and the
 * RRset of RRSIGs covering it. Immutable once published. */
struct policy_sig_entry {
    uint64_t hash;
    uint32_t record; /* index in gslb.records */
    uint16_t rtype;
    uint16_t count;
    uint32_t rdata_len;
    uint8_t *rdata;
    struct zone_rrset sigs; /* type RRSIG; rdata owned by the entry */
};

struct policy_sig_table {
    size_t cap; /* slots, a power of two */
    size_t limit;
    size_t n; /* entries (writer only) */
    _Atomic(struct policy_sig_entry *) *slots;
    /* Per record: the last answer signed for it (the query's fallback). */
    _Atomic(struct policy_sig_entry *) *last;
};

/* Requests for answers the updates do not enumerate (random multi-answer
 * selections): a worker that served one without its signature leaves it
 * here, and the next update signs it (the signing thread's cache). */
#define POLICY_SIGS_REQUESTS 64

struct policy_sig_request {
    _Atomic uint32_t state; /* 0 free, 1 being written, 2 ready */
    uint32_t record;
    uint16_t rtype;
    uint16_t n;
    const struct policy_endpoint *eps[POLICY_MAX_ANSWERS];
};

struct policy_sigs {
    _Atomic(struct policy_sig_table *) table;
    pthread_mutex_t lock; /* one writer at a time (update, insert) */
    const struct gslb *g;
    /* Per record: the zone whose keys sign it; NULL: not signed (its zone
     * is not signed at load). */
    const struct zone **zones;
    size_t n_records;
    size_t limit;
    _Atomic uint64_t signatures; /* RRsets signed since the store was made */
    _Atomic uint64_t updates;
    _Atomic uint64_t unsigned_answers; /* queries answered without a signature */
    bool full_logged;
    struct policy_sig_request requests[POLICY_SIGS_REQUESTS];
    _Atomic uint32_t request_next;
    _Atomic bool wake_pending; /* a wake is on its way to the signer */
    /* Whose listener runs the updates (health_service_kick wakes it);
     * NULL: nobody is woken. Set before the set is published. */
    struct health_service *signer;
    _Atomic uint64_t requests_dropped; /* no free request slot */
};

/* Tables an update replaced: free once no reader can hold them. */
struct policy_sigs_retired {
    struct policy_sig_table *t[2];
    size_t n;
};

/* A store for the records of g that fall in zones signed at load with
 * policy keys (zone.policy_keys); NULL when there is none (no record to
 * sign). limit 0: POLICY_SIGS_LIMIT_DEFAULT. */
struct policy_sigs *policy_sigs_new(const struct gslb *g, const struct snapshot *zones,
                                    size_t limit);
void policy_sigs_free(struct policy_sigs *s);
void policy_sigs_retired_free(struct policy_sigs_retired *r);

/* Signs every answer of the current state that the store lacks (above).
 * Returns the number of RRsets signed; *retired gets a replaced table. */
size_t policy_sigs_update(struct policy_sigs *s, const struct policy_geo *geo,
                          struct policy_sigs_retired *retired);

/* Whether record (index) is in a zone whose policy answers are signed. */
static inline bool policy_sigs_covers(const struct policy_sigs *s, uint32_t record)
{
    return s && record < s->n_records && s->zones[record];
}

/* The RDATA of the answer eps[0..n) into buf as count x (RDLENGTH RDATA),
 * the form hashed, stored and compared here; returns its length. buf has
 * room for every endpoint's RDATA plus 2 octets each (the caller's). */
size_t policy_sigs_rdata(const struct policy_endpoint *const *eps, uint16_t n, uint8_t *buf);

/* The hash of an answer: record, type and the set of its records (rdata:
 * count x (RDLENGTH RDATA), in any order). */
uint64_t policy_sigs_hash(uint32_t record, uint16_t rtype, const uint8_t *rdata, size_t len,
                          uint16_t count);

/* The signed entry of exactly that answer, or NULL (any thread, lock-free;
 * valid while the caller holds the served set). */
const struct policy_sig_entry *policy_sigs_find(const struct policy_sigs *s, uint32_t record,
                                                uint16_t rtype, const uint8_t *rdata, size_t len,
                                                uint16_t count);

/* What /metrics shows (any thread; takes the lock, waits for an update
 * under way). */
struct policy_sigs_stats {
    size_t entries;            /* signed answers in the current table */
    uint64_t signatures;       /* RRsets signed since the store was made */
    uint64_t unsigned_answers; /* answers sent without a signature */
    uint64_t requests_dropped; /* worker requests lost: no free slot */
};
void policy_sigs_stats(struct policy_sigs *s, struct policy_sigs_stats *out);

/* The health service whose listener runs updates (the daemon's calls
 * policy_sigs_update): workers that ask for a signature kick it. Before
 * the store's set is published; NULL: nobody is woken. */
void policy_sigs_set_wake(struct policy_sigs *s, struct health_service *signer);

/* Asks for the signature of answer eps[0..n) of record (a worker, lock-
 * free): signed by the next update, at most POLICY_SIGS_REQUESTS waiting
 * (more are dropped and counted). The endpoints belong to the store's
 * gslb. */
void policy_sigs_request(struct policy_sigs *s, const struct policy_record *r, uint16_t rtype,
                         const struct policy_endpoint *const *eps, uint16_t n);

/* The last answer signed for record, or NULL. */
static inline const struct policy_sig_entry *policy_sigs_last(const struct policy_sigs *s,
                                                              uint32_t record)
{
    struct policy_sig_table *t =
        atomic_load_explicit(&((struct policy_sigs *)s)->table, memory_order_acquire);
    return atomic_load_explicit(&t->last[record], memory_order_acquire);
}

/* Signs one answer (endpoints eps[0..n)) of record if the store lacks it
 * (writer side, takes the lock); true when it is in the store afterwards.
 * Exposed for the unit tests; updates use it for every answer. */
bool policy_sigs_add(struct policy_sigs *s, const struct policy_record *r, uint16_t rtype,
                     const struct policy_endpoint *const *eps, uint16_t n);

#endif

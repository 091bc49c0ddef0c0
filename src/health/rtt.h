/*
 * rtt.h -- round-trip times of endpoints as the vantage points see them:
 * the data of "policy": "latency" (doc/policies.md).
 *
 * This node's own measurements live in its health slots: every passing
 * probe gives a round-trip sample (probe.h says what each check type
 * times), folded into an exponentially weighted moving average whose
 * weight halves every "latency_half_life" of the check (time-based, so a
 * check's interval does not change how fast it moves; the first
 * HEALTH_RTT_WARMUP samples are averaged plainly, so no single first
 * sample decides). Other nodes'
 * tables arrive through the fleet (src/fleet/fleet_rtt.c), one immutable
 * table per node, and are kept here until the node's record goes.
 *
 * An average "moves" when it changes by more than HEALTH_RTT_MOVE_PCT %
 * and HEALTH_RTT_MOVE_US of the value last noted: only then is the
 * generation bumped (gen, and own_gen for this node's own entries), the
 * sorted tables of latency records rebuilt off the query path
 * (policy_latency.h, on the health thread: the core's layers_changed
 * listeners are told, at most every HEALTH_RTT_TELL_MS) and this node's
 * table published to the fleet (at most every fleet.latency_interval).
 * Jitter inside the margin writes nothing and rebuilds nothing.
 *
 * Locking: a slot's rtt fields are under the core's lock (health.h);
 * the tables and self under rtt.lock, which is never held while the
 * core's lock is taken (take the core's first if both are needed).
 * Ownership: the store owns its tables (health_rtt_put takes one).
 */
#ifndef GTM_HEALTH_RTT_H
#define GTM_HEALTH_RTT_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define HEALTH_RTT_MOVE_PCT 10
#define HEALTH_RTT_MOVE_US 2000
#define HEALTH_RTT_NODE_MAX 63 /* as a fleet node name */
#define HEALTH_RTT_WARMUP 4    /* samples averaged plainly before the half-life rules */
#define HEALTH_RTT_TELL_MS 100 /* at most 10 rebuilds of latency tables a second */

/* One vantage point's view of one endpoint. */
struct health_rtt_entry {
    uint32_t ewma_us; /* the moving average, microseconds */
    uint32_t samples; /* passing probes counted (0: unknown) */
    double at;        /* wall time of the last sample (that node's clock) */
};

struct health_rtt_row {
    char *key; /* the endpoint's slot key, "endpoint:POOL/NAME" */
    struct health_rtt_entry e;
};

/* Another node's table, as it published it. Immutable once put. */
struct health_rtt_table {
    char node[HEALTH_RTT_NODE_MAX + 1];
    double t; /* when it was written (its clock) */
    size_t n;
    struct health_rtt_row *rows; /* sorted by key (health_rtt_table_sort) */
};

struct health_rtt {
    pthread_mutex_t lock; /* the tables and self */
    struct health_rtt_table **tables;
    size_t n_tables, cap_tables;
    char self[HEALTH_RTT_NODE_MAX + 1]; /* this node's fleet name ("": none) */
    _Atomic uint64_t gen;               /* any entry or table moved: rebuild */
    _Atomic uint64_t own_gen;           /* one of this node's own entries moved: publish */
    /* The listeners are told at most every HEALTH_RTT_TELL_MS: a move
     * within that of the last telling is left pending, and told by the
     * next probe result (health_rtt_flush) once the time has passed. */
    _Atomic int64_t told_ms; /* monotonic ms of the last telling */
    _Atomic bool pending;
};

struct health_core;
struct health_slot;

void health_rtt_init(struct health_rtt *r);
void health_rtt_free(struct health_rtt *r);

/* Whether an average moved from was to now (the margin above). */
bool health_rtt_moved(uint32_t was_us, uint32_t now_us);

/* Folds one sample into slot s (caller holds the core's lock): true when
 * the average moved (or is new), and the caller then calls
 * health_rtt_changed once the lock is released. */
bool health_rtt_sample_locked(struct health_slot *s, uint32_t rtt_us, uint32_t half_life_ms,
                              double now);
/* Bumps the generations (own: one of this node's entries) and tells the
 * core's layers_changed listeners, or leaves that pending when they were
 * told less than HEALTH_RTT_TELL_MS ago. Caller holds no lock of the
 * core. */
void health_rtt_changed(struct health_core *c, bool own);
/* Tells the listeners of a pending move once the time has passed (every
 * probe result calls it: one atomic load when nothing is pending). */
void health_rtt_flush(struct health_core *c);

/* This node's entries of slots[0..n) (NULL slots give unknown). */
void health_rtt_own(struct health_core *c, struct health_slot *const *slots, size_t n,
                    struct health_rtt_entry *out);

/* Sorts t's rows by key and drops repeated keys (the last one wins). */
void health_rtt_table_sort(struct health_rtt_table *t);
void health_rtt_table_free(struct health_rtt_table *t);

/* Replaces node t->node's table with t (taken), or removes node's table
 * (health_rtt_drop), or every table (health_rtt_clear, before a fresh
 * read); each bumps gen and tells the listeners when something changed. */
void health_rtt_put(struct health_core *c, struct health_rtt_table *t);
void health_rtt_drop(struct health_core *c, const char *node);
void health_rtt_clear(struct health_core *c);

/* Node's entry for key: true when node has a table holding it. */
bool health_rtt_find(struct health_core *c, const char *node, const char *key,
                     struct health_rtt_entry *out);
/* Whether node has a table (is a live vantage point). */
bool health_rtt_has(struct health_core *c, const char *node);

/* Sets this node's name (the fleet, at start). */
void health_rtt_set_self(struct health_core *c, const char *node);
/* Whether node names this node ("" does: the node that answers). */
bool health_rtt_is_self(struct health_core *c, const char *node);

#endif

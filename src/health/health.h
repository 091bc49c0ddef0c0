/*
 * health.h -- the health core: one slot of packed state per endpoint.
 *
 * Probers report raw pass/fail results (health_report); the core applies
 * rise/fall damping, logs every transition as one structured line, and
 * publishes the effective state in an atomic byte that DNS workers read
 * without locks (health_slot_up). Slots never move, so compiled policy
 * sets can point at them; a reload maps endpoints to existing slots by key
 * ("endpoint:POOL/NAME", "az:NAME", "region:NAME"), which keeps their
 * state across reloads.
 *
 * Lifetime. Each compiled policy set that maps a slot holds a reference
 * (health_core_slot takes it, health_core_release gives it back when the
 * set is freed: after the serve grace period and once no prober plan or
 * probe in flight uses the set, policy.h). An endpoint slot is freed when
 * its last reference goes and no override names it (an override keeps its
 * target's slot, so that it applies if the endpoint comes back; its
 * removal frees the slot then). Region and az slots are kept for the run:
 * drills and their loss views point at them outside any policy set, and
 * there are few of them.
 *
 * Each slot carries layers read lock-free by the DNS workers: the probe
 * verdict ('effective'), the fleet verdict ('fleet', set by the fleet
 * client from the quorum of vantage points, src/fleet), the operator's
 * override ('override') and the drill layer ('drill': set on region and az
 * slots while a live drill covers them, src/drill). The precedence
 * (drill > override > fleet > probe) is applied by the policy module
 * (policy.h), which also combines a slot with its region and az.
 *
 * Threads: health_core_slot() is called by the loader (main thread) under
 * the core's mutex; health_report() only by the prober thread; readers of
 * 'effective', 'override' and 'drill' anywhere.
 *
 * Ownership: the core owns every slot; health_core_free() at exit.
 */
#ifndef GTM_HEALTH_HEALTH_H
#define GTM_HEALTH_HEALTH_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "common/event_ring.h"
#include "health/rtt.h"

struct intern; /* common/intern.h */

enum health_state { HEALTH_UNKNOWN = 0, HEALTH_DOWN = 1, HEALTH_UP = 2 };

/* Probe latency histogram bounds in seconds (the last bucket is +Inf). */
#define HEALTH_HIST_BUCKETS 11
extern const double health_hist_bounds[HEALTH_HIST_BUCKETS - 1];

/* Kinds of probe failure, for metrics. Each probe type sets the kind where
 * it detects the failure (probe.h); nobody parses the reason text. */
enum health_fail_kind {
    HEALTH_FAIL_TIMEOUT = 0,
    HEALTH_FAIL_REFUSED,
    HEALTH_FAIL_RESET,
    HEALTH_FAIL_STATUS,
    HEALTH_FAIL_TLS,
    HEALTH_FAIL_PROTOCOL,
    HEALTH_FAIL_DNS,
    HEALTH_FAIL_OTHER,
    HEALTH_FAIL_KINDS
};
extern const char *const health_fail_names[HEALTH_FAIL_KINDS];

/* Room for a slot's reason with its NUL: a longer one is cut to
 * HEALTH_REASON_LEN - 1 octets (health_slot_set_reason_locked), as the
 * slot's own 128-octet array cut it before. */
#define HEALTH_REASON_LEN 128

/* Fields in order of size, so that no padding is left between them (304
 * octets, health.c asserts it): 10,000 endpoints have one each. */
struct health_slot {
    char *key;                 /* "endpoint:POOL/NAME", "az:NAME" or "region:NAME" */
    _Atomic uint8_t effective; /* probe verdict as published (enum health_state) */
    _Atomic uint8_t override;  /* operator's forced state; HEALTH_UNKNOWN = none */
    _Atomic uint8_t fleet;     /* the fleet's quorum verdict (src/fleet); HEALTH_UNKNOWN =
                                  none: no fleet, no report, or etcd lost for stale_after */
    _Atomic uint8_t drill;     /* HEALTH_DOWN while a live drill covers the slot
                                  (health_drill_set); HEALTH_UNKNOWN = none */
    _Atomic uint8_t external;  /* external verdicts (verdict.h): DOWN when any
                                  says down, else UP when any says up */
    /* Under core->lock (as the other plain fields below). */
    uint8_t probe_state;       /* rise/fall damped probe verdict */
    uint16_t ok_run, fail_run; /* consecutive results */
    /* The core's mapping (map_gen) that last marked it: in use, referenced
     * by the current config, while that is the core's newest
     * (health_slot_in_use). A number, not a flag cleared on every slot,
     * so that a change starts its mapping without a walk of every slot
     * (issue #55: 10,000 endpoints, a tenth of a change's store thread).
     * 16 bits, in what was padding: the walk comes once in 65,535. */
    uint16_t use_gen;
    uint32_t key_hash; /* of key (health.c's index), never changes */
    /* A partial override (a traffic dial, override.h) newer than any full
     * one: health_dial_pack, 0 = none. 'override' then holds the state of
     * the clients outside the dial (the newest full override, if any). */
    _Atomic uint64_t dial;
    /* The earliest time (health_mono_ms) the probe verdict may change: a
     * rise or fall in progress (an up endpoint failing its first checks, a
     * down one passing them) changes it after the checks still needed, one
     * interval each; 0 when steady (the last result agreed with the
     * state). Written by the prober thread (health_report), read by DNS
     * workers for health-aware TTLs (policy_answer.h). */
    _Atomic int64_t change_at_ms;
    /* The earliest expiry of an override (or dial) on this slot, in the
     * same clock; 0 when none expires. Set under the core's lock with the
     * override layer (health_override_apply_locked). */
    _Atomic int64_t override_until_ms;
    /* When the probe last gave a result (health_mono_ms; 0: never), for
     * the fleet's stamps (a report says when its probe ran, a heartbeat
     * how current its reports are: fleet_stamp.h), in the low 40 bits
     * (34 years of ms); above it, the check's interval (ms, 16 bits,
     * clamped at 65.5 s) and fall (7 bits, clamped at 127) of that result:
     * the fleet's stamped rule judges "ran lately" and "a peer's probe
     * would have seen a death by now" (fall x interval) with them
     * (fleet_stamped.c). One word, since the slot's size is bounded
     * (health.c) and the three are written together. Written by the
     * prober thread (health_report), read by the fleet thread through
     * health_slot_ran_at, _interval_ms and _allow_ms. */
    _Atomic int64_t ran_at_ms;
    /* Load figures (load shedding, policy_eval.h), as double bits, NaN
     * when unknown: the last one the endpoint's check read from its reply
     * (probe_load.h), and one pushed by an external verdict ("load"),
     * which wins while it lasts. Written by the prober thread and under
     * the core's lock (verdicts); read by DNS workers. */
    _Atomic uint64_t load_probe;
    _Atomic uint64_t load_pushed;
    /* Written (by the prober thread, the loader, the state file) and read
     * (status, metrics, the state file) only under core->lock. */
    double since; /* wall time of the last transition */
    /* Last probe detail: a text of the core's reason table (intern.h),
     * shared with the other slots whose reason is the same and replaced
     * only when the text changes (health_slot_set_reason_locked): a probe
     * repeats the same few texts ("ok", "connection refused") on
     * thousands of endpoints, and an array of 128 octets in each slot was
     * a quarter of its size (issue #38).
     * The core owns it: a reader copies it before it releases the lock
     * (the next result may free it). Never NULL in a slot of a core. */
    const char *reason;
    uint32_t last_latency_us;
    uint32_t rtt_samples; /* round-trip times (rtt.h): samples of rtt_ewma_us */
    uint64_t probes, failures;
    /* Counts per finite bucket of health_hist_bounds (not cumulative); the
     * +Inf bucket's is probes less their sum, every probe being counted in
     * one bucket (health_slot_hist_count). */
    uint64_t latency_hist[HEALTH_HIST_BUCKETS - 1];
    double latency_sum_s;
    /* Round-trip times (rtt.h): the moving average, the wall time of its
     * last sample, and the average last noted as moved. */
    double rtt_ewma_us;
    double rtt_at;
    uint32_t rtt_mark_us;
    unsigned refs;                       /* policy sets that map it (under lock) */
    uint64_t fail_by[HEALTH_FAIL_KINDS]; /* failures by reason kind */
    struct health_core *core;            /* the core that owns it (health epochs) */
    struct health_slot *next_in_bucket;
};

/* Probes of s whose latency fell in bucket b of health_hist_bounds
 * (HEALTH_HIST_BUCKETS - 1: above the last bound). Caller holds the
 * core's lock. */
static inline uint64_t health_slot_hist_count(const struct health_slot *s, unsigned b)
{
    if (b < HEALTH_HIST_BUCKETS - 1)
        return s->latency_hist[b];
    uint64_t finite = 0;
    for (unsigned i = 0; i < HEALTH_HIST_BUCKETS - 1; i++)
        finite += s->latency_hist[i];
    return s->probes - finite;
}

struct override;
struct verdict;
struct health_certs;

/* Whom the core tells about changes (the health service, service.h, and
 * the drill service, src/drill, and the fleet client, src/fleet). Each
 * hook runs on the thread that made the change (health_hooks_tell),
 * without the core's lock, so it may take the lock; it must not block,
 * and must not set, add or remove listeners of this core (a removal
 * waits for the calls running, this one included). */
struct health_hooks {
    void (*state_changed)(void *arg);     /* a slot's probe state changed */
    void (*overrides_changed)(void *arg); /* an override was added or removed */
    void (*layers_changed)(void *arg);    /* another layer changed (a drill byte) */
    void *arg;
};

/* Overrides the core keeps at most, unless max_overrides says otherwise. */
#define HEALTH_MAX_OVERRIDES_DEFAULT 1000
/* The largest max_overrides: no gtmd holds more overrides than this, so a
 * state file with more valid ones was not written by gtmd and is refused.
 * A file with more than max_overrides but at most this many (max_overrides
 * lowered by a reload, or in the configuration of a restart) is restored
 * whole: state is never lost and a restart never refused for it. */
#define HEALTH_MAX_OVERRIDES_LIMIT 100000

/* Listeners: [0] is the health service's (health_core_set_hooks), the
 * others are added with health_core_add_hooks. */
#define HEALTH_MAX_HOOKS 4

/* Which hook of the listeners health_hooks_tell calls. */
enum health_hook_kind { HEALTH_HOOK_STATE, HEALTH_HOOK_OVERRIDES, HEALTH_HOOK_LAYERS };

struct health_core {
    pthread_mutex_t lock;       /* guards the key index, the slots' plain fields,
                                   the overrides and the counters below */
    struct override *overrides; /* operator overrides, newest first (override.h) */
    size_t n_overrides;         /* entries in that list */
    size_t max_overrides;       /* override_add refuses past it (override_set_max) */
    uint64_t next_override_id;
    struct verdict *verdicts; /* external verdicts, newest first (verdict.h) */
    size_t n_verdicts, max_verdicts;
    uint64_t next_verdict_id;
    /* The key index: chains by key_hash, n_buckets a power of two that
     * doubles once the slots outnumber it (a change maps every endpoint's
     * slot by key: 10,000 endpoints in a fixed 1,024 chains were a tenth
     * of a change's work, issue #38). */
    struct health_slot **buckets;
    uint32_t n_buckets;
    size_t n_slots;   /* in the table now */
    uint16_t map_gen; /* the newest mapping (health_core_begin_mapping); from 1 */
    /* The reasons of the slots (intern.h: its own lock, taken under
     * this one; its chains double once the texts outnumber them: most
     * estates have a few dozen texts, but a reason may name its
     * endpoint's host). Owned; a slot holds one reference of its text. */
    struct intern *reasons;
    uint64_t slots_freed; /* endpoint slots freed since start */
    uint64_t transitions;
    struct health_hooks hooks[HEALTH_MAX_HOOKS]; /* under lock; NULL members: none */
    /* Calls of each listener running now (under lock; health_hooks_tell),
     * and what a removal waits on for them to end: a listener's context
     * may be freed once its removal returned. */
    unsigned hook_calls[HEALTH_MAX_HOOKS];
    pthread_cond_t hooks_idle;
    /* Where transitions and override changes are told (GET /v1/events);
     * NULL: nowhere. Set by the daemon before any thread starts, owned by
     * it; pushed to after the lock is released. */
    struct event_ring *events;
    /* Health epochs (below): writes of the state bytes begun and ended. */
    _Atomic uint64_t writes_begun, writes_ended;
    /* 0: policy names are answered. Else the DNS rcode every policy name
     * gets (REFUSED or SERVFAIL): set by the fleet while the node is
     * isolated from etcd with such an isolation action (doc/fleet.md), so
     * resolvers ask the other name servers. Read by the query path. */
    _Atomic uint16_t policy_rcode;
    /* Slots with a dial (a partial override) now: while 0, the query path
     * skips looking for dials (policy_eval). Changed under lock. */
    _Atomic uint32_t n_dials;
    /* The next planned change of live state (health_mono_ms): the start of
     * the next live practice drill (src/drill sets it); 0 = none. Health-
     * aware TTLs end before it (policy_answer.h). */
    _Atomic int64_t planned_at_ms;
    /* Round-trip times of this node's and other vantage points (rtt.h). */
    struct health_rtt rtt;
    /* Certificates of endpoints probed over TLS (cert.h), under lock;
     * NULL until the first. */
    struct health_certs *certs;
};

static inline void health_set_policy_rcode(struct health_core *c, uint16_t rcode)
{
    atomic_store_explicit(&c->policy_rcode, rcode, memory_order_release);
}

static inline uint16_t health_policy_rcode(const struct health_core *c)
{
    return atomic_load_explicit(&c->policy_rcode, memory_order_acquire);
}

/*
 * Health epochs. Every store of a byte the query path reads (a slot's
 * probe verdict or override, and any layer added later) is bracketed by
 * health_write_begin() and health_write_end(), so that a reader can tell
 * whether what it read between health_epoch_enter() and
 * health_epoch_valid() is one consistent state, and which one: the
 * epoch, the number of writes before it. Two readers that saw the same
 * epoch saw the same state. Widened ECS scopes use this (policy_geo.h):
 * a trie built off the query path for the state of epoch E is used by a
 * query only if the query read the state of epoch E too.
 *
 * Writers may run on any thread, concurrently; readers never wait. Every
 * such byte is stored with release and loaded with acquire (free on x86),
 * which is what makes health_epoch_valid exact.
 */
static inline void health_write_begin(struct health_core *c)
{
    atomic_fetch_add(&c->writes_begun, 1);
}

static inline void health_write_end(struct health_core *c)
{
    atomic_fetch_add_explicit(&c->writes_ended, 1, memory_order_release);
}

/* Before reading state: the current epoch in *epoch; false when a write is
 * in progress (nothing read now is known to be consistent). */
static inline bool health_epoch_enter(struct health_core *c, uint64_t *epoch)
{
    /* Ended first: a write counted there began before the later read of
     * begun, so equal counts mean no write was in progress in between. */
    uint64_t e = atomic_load_explicit(&c->writes_ended, memory_order_acquire);
    uint64_t b = atomic_load_explicit(&c->writes_begun, memory_order_acquire);
    *epoch = b;
    return b == e;
}

/* After reading state: true when no write began since health_epoch_enter
 * gave epoch, so everything read in between is the state of epoch. State
 * bytes are stored with release and loaded with acquire: a reader that saw
 * a byte of a write sees that write's health_write_begin here. (No fence:
 * ThreadSanitizer does not model atomic_thread_fence.) */
static inline bool health_epoch_valid(struct health_core *c, uint64_t epoch)
{
    return atomic_load_explicit(&c->writes_begun, memory_order_acquire) == epoch;
}

void health_core_init(struct health_core *c);
void health_core_free(struct health_core *c);

/*
 * Listeners. A removal (health_core_set_hooks, health_core_remove_hooks)
 * returns once no call of the removed listener runs, and none starts
 * after: its context may be freed then. So it waits for running calls:
 * it may be called by any thread that does not hold the core's lock nor
 * a lock a hook takes, and never from inside a hook of this core (it
 * would wait for itself). A slot whose removed listener still runs is
 * not reused until that call ends.
 */
/* Installs the health service's hooks (copied), or removes them when h is
 * NULL; either way, no call of the listener it replaces runs after. */
void health_core_set_hooks(struct health_core *c, const struct health_hooks *h);
/* Adds another listener (copied); -1 when HEALTH_MAX_HOOKS are taken. */
int health_core_add_hooks(struct health_core *c, const struct health_hooks *h);
/* Removes the listeners added with this arg (see above). */
void health_core_remove_hooks(struct health_core *c, void *arg);
/* Calls one kind of hook of every listener in turn, on this thread, each
 * outside the lock; a listener removed before its turn is skipped. After
 * a change made under the lock: the caller holds no lock of the core. */
void health_hooks_tell(struct health_core *c, enum health_hook_kind kind);

/* Whether s is referenced by the current config (caller holds c->lock). */
static inline bool health_slot_in_use(const struct health_core *c, const struct health_slot *s)
{
    return s->use_gen == c->map_gen;
}

/* Finds or creates the slot for key ("endpoint:POOL/NAME", "az:NAME",
 * "region:NAME"), marks it in use and takes a reference for the caller's
 * policy set; loader thread. */
struct health_slot *health_core_slot(struct health_core *c, const char *key);
/* Gives back a reference taken by health_core_slot (a policy set is being
 * freed: no reader, plan or probe can reach it any more). An endpoint slot
 * without references and without an override is freed; s must not be used
 * after. Any thread that holds no lock of the core. */
void health_core_release(struct health_core *c, struct health_slot *s);
/* Finds a slot without creating or marking it; NULL when absent. */
struct health_slot *health_core_find(struct health_core *c, const char *key);

/* Copies into every slot of dst the layers (probe, override, fleet, drill,
 * dial, external) of src's slot of the same key, if any: a private core
 * that answers as the live one (a dry run's candidate set). Takes both
 * locks, dst's first; dst must not be a core whose lock src's holder can
 * take. */
void health_core_copy_layers(struct health_core *dst, struct health_core *src);

/* Marks every slot unused (a new mapping generation: no walk); the
 * loader then marks the ones it maps. */
void health_core_begin_mapping(struct health_core *c);

/* Recomputes target's slot override byte from the newest override of that
 * target in c->overrides. Caller holds c->lock. The slot is created (not in
 * use) when the target is not in the current config, so the override
 * applies if it comes back; an endpoint slot that only its last override
 * kept (no policy set maps it) is freed when that override goes. */
void health_override_apply_locked(struct health_core *c, const char *target);

/* Sets target's external byte (verdict.h; caller holds c->lock), creating
 * the slot like health_override_apply_locked; frees an endpoint slot only
 * the last verdict kept. */
void health_external_set_locked(struct health_core *c, const char *target, enum health_state st);

/* Verdicts the core keeps at most, unless max_verdicts says otherwise. */
#define HEALTH_MAX_VERDICTS_DEFAULT 1000

/* One probe result as the health core counts it. */
struct health_result {
    bool ok;
    double load;                /* the load figure the check read from the reply; NAN: none */
    enum health_fail_kind kind; /* counted in fail_by when !ok */
    uint32_t latency_us;
    uint32_t rtt_us;           /* the round-trip sample (probe.h); 0: none */
    uint32_t rtt_half_life_ms; /* the check's latency_half_life */
    const char *reason;        /* copied into the slot */
    uint32_t interval_ms;      /* the check's interval: the next result is due then; 0: unknown
                                  (no change_at_ms is estimated) */
    /* While a fall or a rise is in progress, the earliest time to the next
     * result (the check's fast_interval less the prober's spread); 0: the
     * same as interval_ms. */
    uint32_t fast_interval_ms;
};

/* CLOCK_MONOTONIC in milliseconds: the clock of change_at_ms. */
int64_t health_mono_ms(void);

/* The next planned change of live state (a live practice drill's start),
 * health_mono_ms; 0 = none. Set by the drill thread, read by workers. */
static inline void health_core_set_planned(struct health_core *c, int64_t at_ms)
{
    atomic_store_explicit(&c->planned_at_ms, at_ms, memory_order_relaxed);
}

static inline int64_t health_core_planned(const struct health_core *c)
{
    return atomic_load_explicit(&c->planned_at_ms, memory_order_relaxed);
}

static inline uint64_t health_load_bits(double v)
{
    uint64_t b;
    __builtin_memcpy(&b, &v, sizeof(b));
    return b;
}

static inline double health_load_value(uint64_t b)
{
    double v;
    __builtin_memcpy(&v, &b, sizeof(v));
    return v;
}

/* The endpoint's load figure: a pushed one while a verdict carries it,
 * else the one its check read last; NaN when neither is known. */
static inline double health_slot_load(const struct health_slot *s)
{
    double p = health_load_value(atomic_load_explicit(&s->load_pushed, memory_order_relaxed));
    return p == p ? p
                  : health_load_value(atomic_load_explicit(&s->load_probe, memory_order_relaxed));
}

/* Sets the pushed load of the slot keyed target (NaN: none); caller holds
 * the core's lock (verdict.c). A slot the config lacks gets one (not in
 * use), like a verdict's state. */
void health_external_load_locked(struct health_core *c, const char *target, double load);

/* When an override on s expires next (health_mono_ms), 0 when none does. */
static inline int64_t health_slot_override_until(const struct health_slot *s)
{
    return atomic_load_explicit(&s->override_until_ms, memory_order_relaxed);
}

#define HEALTH_RAN_BITS 40
#define HEALTH_RAN_MASK ((INT64_C(1) << HEALTH_RAN_BITS) - 1)

/* When s's probe last gave a result (health_mono_ms), 0 when never. Read
 * before the probe's state, the state read is at least that recent. */
static inline int64_t health_slot_ran_at(const struct health_slot *s)
{
    return atomic_load_explicit(&s->ran_at_ms, memory_order_acquire) & HEALTH_RAN_MASK;
}

/* The check's interval and fall x interval of that result, ms (0: no
 * result yet). */
static inline uint32_t health_slot_interval_ms(const struct health_slot *s)
{
    int64_t v = atomic_load_explicit(&s->ran_at_ms, memory_order_relaxed);
    return (uint32_t)((v >> HEALTH_RAN_BITS) & 0xffff);
}

static inline uint32_t health_slot_allow_ms(const struct health_slot *s)
{
    int64_t v = atomic_load_explicit(&s->ran_at_ms, memory_order_relaxed);
    return (uint32_t)((v >> HEALTH_RAN_BITS) & 0xffff) * (uint32_t)((v >> 56) & 0x7f);
}

/* When s's probe verdict may change next (health_mono_ms), 0 when steady. */
static inline int64_t health_slot_change_at(const struct health_slot *s)
{
    return atomic_load_explicit(&s->change_at_ms, memory_order_relaxed);
}

/* Applies one probe result (prober thread). The first result of an
 * UNKNOWN slot decides at once; later ones follow rise/fall. Returns true
 * when, after it, a fall or a rise is in progress (an up slot failing
 * short of fall, a down one passing short of rise): the next result may
 * change the state, so the prober probes sooner (fast_interval). */
bool health_report(struct health_core *c, struct health_slot *s, const struct health_result *r,
                   unsigned rise, unsigned fall);

/* Sets a slot's state directly (state file at start-up). Caller holds
 * the core's lock. */
void health_restore(struct health_slot *s, enum health_state st, double since);

/* Makes text, cut to HEALTH_REASON_LEN - 1 octets, s's reason: the same
 * text as it was already (a steady endpoint repeats its reason every
 * interval) costs a comparison, and another slot's text is shared, not
 * copied. Caller holds c->lock; s is a slot of c. */
void health_slot_set_reason_locked(struct health_core *c, struct health_slot *s, const char *text);

/* Sets the fleet layer of a slot (the fleet client is the only caller). */
static inline void health_slot_set_fleet(struct health_slot *s, enum health_state st)
{
    atomic_store_explicit(&s->fleet, (uint8_t)st, memory_order_release);
}

/* Sets the drill layer of the slot keyed key (HEALTH_DOWN, or
 * HEALTH_UNKNOWN for none). A key the current config does not have gets a
 * slot (not in use), so the drill applies if it comes back. The drill
 * module (src/drill) is the only caller. */
void health_drill_set(struct health_core *c, const char *key, enum health_state st);

/* The probe layer only. */
static inline enum health_state health_slot_probe(const struct health_slot *s)
{
    return (enum health_state)atomic_load_explicit(&s->effective, memory_order_acquire);
}

/* The operator layer only (HEALTH_UNKNOWN when no override applies). */
static inline enum health_state health_slot_override(const struct health_slot *s)
{
    return (enum health_state)atomic_load_explicit(&s->override, memory_order_acquire);
}

/* A dial word: the share of clients (basis points, 1..9999), the state
 * they get and the salt of their buckets (policy_dial.h). */
static inline uint64_t health_dial_pack(uint16_t share, enum health_state st, uint32_t salt)
{
    return (uint64_t)share | ((uint64_t)st << 16) | (1ull << 24) | ((uint64_t)salt << 32);
}
static inline uint16_t health_dial_share(uint64_t d)
{
    return (uint16_t)(d & 0xffff);
}
static inline enum health_state health_dial_state(uint64_t d)
{
    return (enum health_state)((d >> 16) & 0xff);
}
static inline uint32_t health_dial_salt(uint64_t d)
{
    return (uint32_t)(d >> 32);
}
/* The dial of a slot (0: none). */
static inline uint64_t health_slot_dial(const struct health_slot *s)
{
    return atomic_load_explicit(&s->dial, memory_order_acquire);
}

/* The drill layer only (HEALTH_DOWN while a live drill covers the slot). */
static inline enum health_state health_slot_drill(const struct health_slot *s)
{
    return (enum health_state)atomic_load_explicit(&s->drill, memory_order_acquire);
}

/* The fleet layer only (HEALTH_UNKNOWN when the fleet has no verdict). */
static inline enum health_state health_slot_fleet(const struct health_slot *s)
{
    return (enum health_state)atomic_load_explicit(&s->fleet, memory_order_relaxed);
}

/* The external layer only (verdict.h). */
static inline enum health_state health_slot_external(const struct health_slot *s)
{
    return (enum health_state)atomic_load_explicit(&s->external, memory_order_acquire);
}

/* The probe as the fleet sees it: the fleet verdict when there is one,
 * else this node's own probe; an external "down" verdict on the slot
 * wins over both (verdict.h). */
static inline enum health_state health_slot_observed(const struct health_slot *s)
{
    if (health_slot_external(s) == HEALTH_DOWN)
        return HEALTH_DOWN;
    enum health_state f = health_slot_fleet(s);
    return f != HEALTH_UNKNOWN ? f : health_slot_probe(s);
}

/* The slot's own layers: drill wins over override, override over the
 * fleet verdict, which wins over the probe. */
static inline enum health_state health_slot_effective(const struct health_slot *s)
{
    enum health_state d = health_slot_drill(s);
    if (d != HEALTH_UNKNOWN)
        return d;
    enum health_state o = health_slot_override(s);
    return o != HEALTH_UNKNOWN ? o : health_slot_observed(s);
}

static inline bool health_slot_up(const struct health_slot *s)
{
    return health_slot_effective(s) == HEALTH_UP;
}

static inline enum health_state health_slot_state(const struct health_slot *s)
{
    return (enum health_state)atomic_load_explicit(&s->effective, memory_order_acquire);
}

const char *health_state_name(enum health_state s);
double health_now(void);

#endif

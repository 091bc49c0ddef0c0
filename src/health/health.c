/*
 * health.c -- the health core: slots, rise/fall damping, transitions.
 */
#include "health/health.h"

#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>

#include "common/intern.h"
#include "common/log.h"
#include "dns/name.h"
#include "health/cert.h"
#include "health/override.h"
#include "health/verdict.h"

const double health_hist_bounds[HEALTH_HIST_BUCKETS - 1] = {0.001, 0.0025, 0.005, 0.01, 0.025,
                                                            0.05,  0.1,    0.25,  0.5,  1.0};
const char *const health_fail_names[HEALTH_FAIL_KINDS] = {"timeout", "refused",  "reset", "status",
                                                          "tls",     "protocol", "dns",   "other"};

/* A slot a malloc chunk of 320 octets on 64-bit glibc (456 before issue
 * #38's diet, 304 before issue #54's ran_at_ms, which a report's stamp
 * needs): a field added past it costs 16 octets an endpoint. */
_Static_assert(sizeof(void *) != 8 || sizeof(struct health_slot) <= 304,
               "struct health_slot grew past 304 octets");

void health_core_init(struct health_core *c)
{
    memset(c, 0, sizeof(*c));
    pthread_mutex_init(&c->lock, NULL);
    pthread_cond_init(&c->hooks_idle, NULL);
    c->next_override_id = 1;
    c->map_gen = 1; /* a slot made and not mapped (use_gen 0) is not in use */
    c->max_overrides = HEALTH_MAX_OVERRIDES_DEFAULT;
    c->next_verdict_id = 1;
    c->max_verdicts = HEALTH_MAX_VERDICTS_DEFAULT;
    c->n_buckets = 1024;
    c->buckets = calloc(c->n_buckets, sizeof(*c->buckets));
    c->reasons = intern_new();
    if (!c->buckets)
        abort();
    health_rtt_init(&c->rtt);
}

void health_core_free(struct health_core *c)
{
    for (uint32_t i = 0; i < c->n_buckets; i++) {
        struct health_slot *s = c->buckets[i];
        while (s) {
            struct health_slot *n = s->next_in_bucket;
            free(s->key);
            free(s);
            s = n;
        }
    }
    free(c->buckets);
    /* Every reason with the slots that held it: no reference is left. */
    intern_free(c->reasons);
    health_rtt_free(&c->rtt);
    health_cert_free(c);
    override_free_all(c);
    verdict_free_all(c);
    pthread_cond_destroy(&c->hooks_idle);
    pthread_mutex_destroy(&c->lock);
}

/* Clears listener i and returns once none of its calls runs (caller holds
 * c->lock, which the wait releases meanwhile). None starts meanwhile:
 * the slot is empty, and health_core_add_hooks leaves it while a call of
 * the removed listener runs. */
static void health_hooks_clear_locked(struct health_core *c, int i)
{
    memset(&c->hooks[i], 0, sizeof(c->hooks[i]));
    while (c->hook_calls[i] > 0)
        pthread_cond_wait(&c->hooks_idle, &c->lock);
}

void health_core_set_hooks(struct health_core *c, const struct health_hooks *h)
{
    pthread_mutex_lock(&c->lock);
    health_hooks_clear_locked(c, 0);
    if (h)
        c->hooks[0] = *h;
    pthread_mutex_unlock(&c->lock);
}

int health_core_add_hooks(struct health_core *c, const struct health_hooks *h)
{
    int rc = -1;
    pthread_mutex_lock(&c->lock);
    for (int i = 1; i < HEALTH_MAX_HOOKS && rc < 0; i++) {
        const struct health_hooks *o = &c->hooks[i];
        if (!o->state_changed && !o->overrides_changed && !o->layers_changed &&
            c->hook_calls[i] == 0) {
            c->hooks[i] = *h;
            rc = 0;
        }
    }
    pthread_mutex_unlock(&c->lock);
    return rc;
}

void health_core_remove_hooks(struct health_core *c, void *arg)
{
    pthread_mutex_lock(&c->lock);
    for (int i = 1; i < HEALTH_MAX_HOOKS; i++)
        if (c->hooks[i].arg == arg)
            health_hooks_clear_locked(c, i);
    pthread_mutex_unlock(&c->lock);
}

typedef void (*health_hook_fn)(void *arg);

static health_hook_fn health_hook_of(const struct health_hooks *h, enum health_hook_kind kind)
{
    switch (kind) {
    case HEALTH_HOOK_STATE:
        return h->state_changed;
    case HEALTH_HOOK_OVERRIDES:
        return h->overrides_changed;
    case HEALTH_HOOK_LAYERS:
        return h->layers_changed;
    }
    return NULL;
}

void health_hooks_tell(struct health_core *c, enum health_hook_kind kind)
{
    pthread_mutex_lock(&c->lock);
    for (int i = 0; i < HEALTH_MAX_HOOKS; i++) {
        health_hook_fn fn = health_hook_of(&c->hooks[i], kind);
        void *arg = c->hooks[i].arg;
        if (!fn)
            continue;
        /* Counted while it runs, so that a removal waits for it; called
         * without the lock, which the hook may take. */
        c->hook_calls[i]++;
        pthread_mutex_unlock(&c->lock);
        fn(arg);
        pthread_mutex_lock(&c->lock);
        if (--c->hook_calls[i] == 0)
            pthread_cond_broadcast(&c->hooks_idle);
    }
    pthread_mutex_unlock(&c->lock);
}

static uint32_t health_key_hash(const char *key)
{
    return dns_name_hash((const uint8_t *)key, strlen(key));
}

static struct health_slot *health_find_locked(struct health_core *c, const char *key)
{
    uint32_t h = health_key_hash(key);
    struct health_slot *s = c->buckets[h & (c->n_buckets - 1)];
    while (s && (s->key_hash != h || strcmp(s->key, key) != 0))
        s = s->next_in_bucket;
    return s;
}

/* Twice the chains, every slot moved to its new one (caller holds
 * c->lock; nothing walks the chains across a release of it). Left as it
 * is when memory is short: longer chains are slower, not wrong. */
static void health_index_grow_locked(struct health_core *c)
{
    uint32_t n = c->n_buckets * 2;
    struct health_slot **b = n > c->n_buckets ? calloc(n, sizeof(*b)) : NULL;
    if (!b)
        return;
    for (uint32_t i = 0; i < c->n_buckets; i++)
        for (struct health_slot *s = c->buckets[i], *next; s; s = next) {
            next = s->next_in_bucket;
            s->next_in_bucket = b[s->key_hash & (n - 1)];
            b[s->key_hash & (n - 1)] = s;
        }
    free(c->buckets);
    c->buckets = b;
    c->n_buckets = n;
}

void health_slot_set_reason_locked(struct health_core *c, struct health_slot *s, const char *text)
{
    size_t n = strnlen(text, HEALTH_REASON_LEN - 1);
    if (s->reason && strncmp(s->reason, text, n) == 0 && s->reason[n] == '\0')
        return; /* the same: nothing to find or allocate */
    const char *was = s->reason;
    s->reason = intern_take_text(c->reasons, text, n);
    intern_release(was);
}

/* Creates and indexes a slot (caller holds c->lock and checked it is new). */
static struct health_slot *health_slot_new_locked(struct health_core *c, const char *key,
                                                  const char *reason)
{
    struct health_slot *s = calloc(1, sizeof(*s));
    if (!s || !(s->key = strdup(key)))
        abort();
    s->key_hash = health_key_hash(key);
    s->since = health_now();
    health_slot_set_reason_locked(c, s, reason);
    atomic_init(&s->load_probe, health_load_bits(NAN));
    atomic_init(&s->load_pushed, health_load_bits(NAN));
    s->core = c;
    if (c->n_slots >= c->n_buckets)
        health_index_grow_locked(c);
    uint32_t h = s->key_hash & (c->n_buckets - 1);
    s->next_in_bucket = c->buckets[h];
    c->buckets[h] = s;
    c->n_slots++;
    return s;
}

struct health_slot *health_core_find(struct health_core *c, const char *key)
{
    pthread_mutex_lock(&c->lock);
    struct health_slot *s = health_find_locked(c, key);
    pthread_mutex_unlock(&c->lock);
    return s;
}

struct health_slot *health_core_slot(struct health_core *c, const char *key)
{
    pthread_mutex_lock(&c->lock);
    struct health_slot *s = health_find_locked(c, key);
    if (!s)
        s = health_slot_new_locked(c, key, "not probed yet");
    s->use_gen = c->map_gen;
    s->refs++;
    pthread_mutex_unlock(&c->lock);
    return s;
}

/* Frees s if nothing keeps it (caller holds c->lock): an endpoint slot
 * that no policy set maps, no override names and no drill covers. */
static void health_slot_collect_locked(struct health_core *c, struct health_slot *s)
{
    /* "check:" slots are the children of composite checks (composite.h). */
    if (s->refs > 0 ||
        (strncmp(s->key, "endpoint:", 9) != 0 && strncmp(s->key, "check:", 6) != 0) ||
        atomic_load_explicit(&s->override, memory_order_relaxed) != HEALTH_UNKNOWN ||
        atomic_load_explicit(&s->dial, memory_order_relaxed) != 0 ||
        atomic_load_explicit(&s->drill, memory_order_relaxed) != HEALTH_UNKNOWN ||
        atomic_load_explicit(&s->external, memory_order_relaxed) != HEALTH_UNKNOWN)
        return;
    struct health_slot **pp = &c->buckets[s->key_hash & (c->n_buckets - 1)];
    while (*pp && *pp != s)
        pp = &(*pp)->next_in_bucket;
    if (!*pp)
        return;
    *pp = s->next_in_bucket;
    c->n_slots--;
    c->slots_freed++;
    intern_release(s->reason);
    health_cert_forget_locked(c, s);
    free(s->key);
    free(s);
}

void health_core_release(struct health_core *c, struct health_slot *s)
{
    if (!s)
        return;
    pthread_mutex_lock(&c->lock);
    if (s->refs > 0)
        s->refs--;
    health_slot_collect_locked(c, s);
    pthread_mutex_unlock(&c->lock);
}

void health_core_begin_mapping(struct health_core *c)
{
    pthread_mutex_lock(&c->lock);
    if (++c->map_gen == 0) {
        /* Wrapped: no slot may keep a number that comes round again. */
        for (uint32_t i = 0; i < c->n_buckets; i++)
            for (struct health_slot *s = c->buckets[i]; s; s = s->next_in_bucket)
                s->use_gen = 0;
        c->map_gen = 1;
    }
    pthread_mutex_unlock(&c->lock);
}

void health_core_copy_layers(struct health_core *dst, struct health_core *src)
{
    pthread_mutex_lock(&dst->lock);
    pthread_mutex_lock(&src->lock);
    for (uint32_t i = 0; i < dst->n_buckets; i++)
        for (struct health_slot *d = dst->buckets[i]; d; d = d->next_in_bucket) {
            const struct health_slot *s = health_find_locked(src, d->key);
            if (!s)
                continue; /* new here: as the loader left it */
            atomic_store(&d->effective, atomic_load(&s->effective));
            atomic_store(&d->override, atomic_load(&s->override));
            atomic_store(&d->fleet, atomic_load(&s->fleet));
            atomic_store(&d->drill, atomic_load(&s->drill));
            atomic_store(&d->dial, atomic_load(&s->dial));
            atomic_store(&d->external, atomic_load(&s->external));
            d->probe_state = s->probe_state;
            d->since = s->since;
        }
    pthread_mutex_unlock(&src->lock);
    pthread_mutex_unlock(&dst->lock);
}

double health_now(void)
{
    struct timeval tv;
    gettimeofday(&tv, NULL);
    return (double)tv.tv_sec + (double)tv.tv_usec / 1e6;
}

const char *health_state_name(enum health_state s)
{
    switch (s) {
    case HEALTH_UP:
        return "up";
    case HEALTH_DOWN:
        return "down";
    default:
        return "unknown";
    }
}

/* Counts one result in the slot (caller holds c->lock). */
static void health_count_locked(struct health_core *c, struct health_slot *s,
                                const struct health_result *r)
{
    s->probes++;
    s->last_latency_us = r->latency_us;
    double secs = r->latency_us / 1e6;
    unsigned b = 0;
    while (b < HEALTH_HIST_BUCKETS - 1 && secs > health_hist_bounds[b])
        b++;
    if (b < HEALTH_HIST_BUCKETS - 1) /* the +Inf bucket's: probes less these */
        s->latency_hist[b]++;
    s->latency_sum_s += secs;
    health_slot_set_reason_locked(c, s, r->reason);
    if (r->ok) {
        s->ok_run = s->ok_run < UINT16_MAX ? s->ok_run + 1 : s->ok_run;
        s->fail_run = 0;
    } else {
        s->failures++;
        s->fail_by[r->kind < HEALTH_FAIL_KINDS ? r->kind : HEALTH_FAIL_OTHER]++;
        s->fail_run = s->fail_run < UINT16_MAX ? s->fail_run + 1 : s->fail_run;
        s->ok_run = 0;
    }
}

/* Rise/fall: the state the slot moves to after its runs were counted, or
 * HEALTH_UNKNOWN when it stays; *why says which rule fired. */
static enum health_state health_damp(const struct health_slot *s, bool ok, unsigned rise,
                                     unsigned fall, const char **why)
{
    if (s->probe_state == HEALTH_UNKNOWN) {
        *why = "first probe result";
        return ok ? HEALTH_UP : HEALTH_DOWN;
    }
    if (s->probe_state == HEALTH_UP && !ok && s->fail_run >= fall) {
        *why = "fall threshold reached";
        return HEALTH_DOWN;
    }
    if (s->probe_state == HEALTH_DOWN && ok && s->ok_run >= rise) {
        *why = "rise threshold reached";
        return HEALTH_UP;
    }
    return HEALTH_UNKNOWN;
}

int64_t health_mono_ms(void)
{
    struct timespec ts;
    /* Coarse: read on the query path (health-aware TTLs, ramps); a few ms
     * of resolution is plenty for TTLs in seconds. */
    clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* How many more results in a row would change the probe verdict of s,
 * after its runs were counted and its state settled: a fall in progress
 * (up, failing) needs fall - fail_run more failures, a rise (down,
 * passing) rise - ok_run more passes; otherwise steady (0). */
static unsigned health_left(const struct health_slot *s, unsigned rise, unsigned fall)
{
    if (s->probe_state == HEALTH_UP && s->fail_run > 0 && s->fail_run < fall)
        return fall - s->fail_run;
    if (s->probe_state == HEALTH_DOWN && s->ok_run > 0 && s->ok_run < rise)
        return rise - s->ok_run;
    return 0;
}

/* When the probe verdict of s may change next: left more results, each
 * the result's spacing apart (fast_interval while in progress, when the
 * check has one); 0 when steady or the spacing is unknown. */
static int64_t health_change_at(unsigned left, const struct health_result *r)
{
    uint32_t every = r->fast_interval_ms ? r->fast_interval_ms : r->interval_ms;
    if (!left || !r->interval_ms)
        return 0;
    return health_mono_ms() + (int64_t)left * every;
}

bool health_report(struct health_core *c, struct health_slot *s, const struct health_result *r,
                   unsigned rise, unsigned fall)
{
    const char *why = NULL;
    char detail[HEALTH_REASON_LEN]; /* the reason, copied under the lock */
    pthread_mutex_lock(&c->lock);
    health_count_locked(c, s, r);
    bool rtt_moved = r->ok && r->rtt_us &&
                     health_rtt_sample_locked(s, r->rtt_us, r->rtt_half_life_ms, health_now());
    enum health_state from = (enum health_state)s->probe_state;
    enum health_state to = health_damp(s, r->ok, rise, fall, &why);
    /* Everything a reader sees changes under the lock (persist.c and the
     * admin views read state, since and reason together under it). */
    if (to != HEALTH_UNKNOWN) {
        s->probe_state = (uint8_t)to;
        s->since = health_now();
        health_write_begin(c);
        atomic_store_explicit(&s->effective, (uint8_t)to, memory_order_release);
        health_write_end(c);
        c->transitions++;
        snprintf(detail, sizeof(detail), "%s", s->reason);
    }
    unsigned left = health_left(s, rise, fall);
    atomic_store_explicit(&s->change_at_ms, health_change_at(left, r), memory_order_relaxed);
    /* Release, after the state: a reader that loads ran_at_ms first sees a
     * state at least as new (fleet_publish_add). */
    int64_t every = r->interval_ms < 0xffff ? r->interval_ms : 0xffff;
    int64_t times = fall < 1 ? 1 : fall > 127 ? 127 : fall;
    atomic_store_explicit(&s->ran_at_ms,
                          (health_mono_ms() & HEALTH_RAN_MASK) | every << HEALTH_RAN_BITS |
                              times << 56,
                          memory_order_release);
    atomic_store_explicit(&s->load_probe, health_load_bits(r->ok ? r->load : NAN),
                          memory_order_relaxed);
    pthread_mutex_unlock(&c->lock);
    if (rtt_moved)
        health_rtt_changed(c, true);
    else
        health_rtt_flush(c); /* a move held back by the rate of rebuilds */
    if (to == HEALTH_UNKNOWN)
        return left > 0;
    char why_q[160], detail_q[300];
    log_info("event=health_change endpoint=%s from=%s to=%s why=\"%s\" detail=\"%s\"", s->key,
             health_state_name(from), health_state_name(to), log_quote(why, why_q, sizeof(why_q)),
             log_quote(detail, detail_q, sizeof(detail_q)));
    event_ring_push(c->events, "health",
                    json_pack("{s:s, s:s, s:s, s:s, s:s, s:s}", "key", s->key, "layer", "probe",
                              "from", health_state_name(from), "to", health_state_name(to), "why",
                              why, "detail", detail));
    health_hooks_tell(c, HEALTH_HOOK_STATE);
    return left > 0;
}

void health_restore(struct health_slot *s, enum health_state st, double since)
{
    s->probe_state = (uint8_t)st;
    s->since = since;
    if (s->core) {
        health_slot_set_reason_locked(s->core, s, "restored");
        health_write_begin(s->core);
    }
    atomic_store_explicit(&s->effective, (uint8_t)st, memory_order_release);
    if (s->core)
        health_write_end(s->core);
}

void health_drill_set(struct health_core *c, const char *key, enum health_state st)
{
    pthread_mutex_lock(&c->lock);
    struct health_slot *s = health_find_locked(c, key);
    if (!s)
        s = health_slot_new_locked(c, key, "not in the current config");
    health_write_begin(c);
    atomic_store_explicit(&s->drill, (uint8_t)st, memory_order_release);
    health_write_end(c);
    pthread_mutex_unlock(&c->lock);
    /* Widened ECS scopes follow (the health service's listener). */
    health_hooks_tell(c, HEALTH_HOOK_LAYERS);
}

void health_override_apply_locked(struct health_core *c, const char *target)
{
    struct health_slot *s = health_find_locked(c, target);
    if (!s)
        s = health_slot_new_locked(c, target, "not in the current config");
    /* The newest override decides. When it is partial (a dial), it
     * decides for its share of the clients, and the newest full override
     * (if any) for the others; older dials are hidden by the newest. */
    uint8_t st = HEALTH_UNKNOWN;
    uint64_t dial = 0;
    double until = 0; /* the earliest expiry of any override on target */
    for (struct override *o = c->overrides; o; o = o->next) {
        if (!o->target || strcmp(o->target, target) != 0)
            continue;
        if (o->expires > 0 && (until == 0 || o->expires < until))
            until = o->expires;
    }
    for (struct override *o = c->overrides; o; o = o->next) {
        if (!o->target || strcmp(o->target, target) != 0)
            continue;
        if (override_is_full(o)) {
            st = (uint8_t)o->state;
            break;
        }
        if (dial == 0 && st == HEALTH_UNKNOWN)
            dial = health_dial_pack(o->share, o->state, o->salt);
    }
    uint64_t was = atomic_load_explicit(&s->dial, memory_order_relaxed);
    if (!was && dial)
        atomic_fetch_add(&c->n_dials, 1);
    health_write_begin(c);
    atomic_store_explicit(&s->override, st, memory_order_release);
    atomic_store_explicit(&s->dial, dial, memory_order_release);
    int64_t until_ms = 0;
    if (until > 0) {
        double left = until - health_now();
        until_ms = health_mono_ms() + (left > 0 ? (int64_t)(left * 1000) : 0);
    }
    atomic_store_explicit(&s->override_until_ms, until_ms, memory_order_relaxed);
    health_write_end(c);
    if (was && !dial)
        atomic_fetch_sub(&c->n_dials, 1);
    health_slot_collect_locked(c, s);
}

void health_external_load_locked(struct health_core *c, const char *target, double load)
{
    struct health_slot *s = health_find_locked(c, target);
    if (!s && load != load)
        return;
    if (!s)
        s = health_slot_new_locked(c, target, "not in the current config");
    atomic_store_explicit(&s->load_pushed, health_load_bits(load), memory_order_relaxed);
}

void health_external_set_locked(struct health_core *c, const char *target, enum health_state st)
{
    struct health_slot *s = health_find_locked(c, target);
    if (!s && st == HEALTH_UNKNOWN)
        return;
    if (!s)
        s = health_slot_new_locked(c, target, "not in the current config");
    health_write_begin(c);
    atomic_store_explicit(&s->external, (uint8_t)st, memory_order_release);
    health_write_end(c);
    health_slot_collect_locked(c, s);
}

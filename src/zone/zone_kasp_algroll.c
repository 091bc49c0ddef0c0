/*
 * zone_kasp_algroll.c -- the algorithm rollover's schedule
 * (zone_kasp_algroll.h).
 */
#include "zone/zone_kasp_algroll.h"

/* Whether timestamp v is set and not after now. */
static bool zone_kasp_algroll_reached(int64_t v, int64_t now)
{
    return v >= 0 && v <= now;
}

bool zone_kasp_algroll_key_live(const struct zone_kasp_key *k, int64_t now)
{
    return !zone_kasp_algroll_reached(k->t[ZONE_KASP_T_RETIRED], now) &&
           !zone_kasp_algroll_reached(k->t[ZONE_KASP_T_RETIRE_ACTIVE], now);
}

/* The algorithm of the first live key (0: none), and whether every live
 * key and every key that signs at now has it. */
static uint8_t zone_kasp_algroll_current(const struct zone_kasp_keys *keys, int64_t now, bool *one)
{
    uint8_t alg = 0;
    *one = true;
    for (size_t i = 0; i < keys->n; i++) {
        const struct zone_kasp_key *k = &keys->v[i];
        if (!zone_kasp_algroll_key_live(k, now) && !zone_kasp_key_signs(k, now))
            continue;
        if (alg == 0)
            alg = k->algorithm;
        else if (k->algorithm != alg)
            *one = false;
    }
    return alg;
}

bool zone_kasp_algroll_wanted(const struct zone_kasp_keys *keys, uint8_t alg, int64_t now)
{
    bool one;
    uint8_t cur = zone_kasp_algroll_current(keys, now, &one);
    return cur != 0 && one && cur != alg;
}

bool zone_kasp_algroll_in_flight(const struct zone_kasp_keys *keys, int64_t now)
{
    bool one;
    return zone_kasp_algroll_current(keys, now, &one) != 0 && !one;
}

/* Every timestamp of k unset, then created at t0. */
static void zone_kasp_algroll_new(struct zone_kasp_key *k, int64_t t0)
{
    for (int i = 0; i < ZONE_KASP_T_N; i++)
        k->t[i] = -1;
    k->t[ZONE_KASP_T_CREATED] = t0;
}

/* The old keys (another algorithm than nk's, not on their way out yet)
 * leave at tswap; the old ZSKs sign until tend. old_ksk: the old KSKs'
 * times too (false: zone_kasp_sched_ds_gone has set them). */
static void zone_kasp_algroll_retire(struct zone_kasp_keys *keys, uint8_t alg, int64_t tswap,
                                     int64_t tend, bool old_ksk)
{
    for (size_t i = 0; i < keys->n; i++) {
        struct zone_kasp_key *o = &keys->v[i];
        if (o->algorithm == alg || (o->ksk && !old_ksk))
            continue;
        if (o->t[ZONE_KASP_T_RETIRED] >= 0 && o->t[ZONE_KASP_T_RETIRED] <= tswap)
            continue; /* leaving earlier already (a ZSK rollover's old key) */
        o->t[ZONE_KASP_T_RETIRED] = tswap;
        /* A KSK's signature over the DNSKEY RRset goes with it; a ZSK's
         * RRSIGs stay until no cache holds a DNSKEY RRset with its
         * algorithm (RFC 6781 4.1.4: signatures go last). */
        o->t[ZONE_KASP_T_RETIRE_ACTIVE] = o->ksk ? tswap : tend;
        o->t[ZONE_KASP_T_REMOVED] = tend;
    }
}

void zone_kasp_algroll_start(const struct zone_kasp_timing *t, struct zone_kasp_keys *keys,
                             size_t nk, size_t nz, int64_t t0, bool by_parent)
{
    struct zone_kasp_algorithm_roll r;
    zone_kasp_algorithm(t, t0, &r);
    struct zone_kasp_key *k = &keys->v[nk], *z = &keys->v[nz];
    zone_kasp_algroll_new(k, t0);
    zone_kasp_algroll_new(z, t0);
    /* The new ZSK signs at once, unpublished: its RRSIGs reach every
     * cache before any DNSKEY RRset with its algorithm does. */
    z->t[ZONE_KASP_T_ACTIVE] = t0;
    z->t[ZONE_KASP_T_PUBLISHED] = r.new_keys;
    z->t[ZONE_KASP_T_READY] = r.new_ready;
    k->t[ZONE_KASP_T_PUBLISHED] = r.new_keys;
    k->t[ZONE_KASP_T_READY] = r.new_ready;
    if (by_parent)
        return; /* the swap waits for the new DS: zone_kasp_algroll_ds_seen */
    k->t[ZONE_KASP_T_ACTIVE] = r.old_keys_gone;
    zone_kasp_algroll_retire(keys, k->algorithm, r.old_keys_gone, r.old_sigs_gone, true);
}

void zone_kasp_algroll_ds_seen(const struct zone_kasp_timing *t, struct zone_kasp_keys *keys,
                               size_t nk, int64_t seen)
{
    /* A KSK rollover's step: the new KSK active IpubP + retire_safety
     * after the later of seen and Trdy, the old KSK's DS unwanted now.
     * The old keys keep their place until the old DS is gone
     * (zone_kasp_algroll_ds_gone). */
    zone_kasp_sched_ds_seen(t, keys, nk, seen);
}

void zone_kasp_algroll_ds_gone(const struct zone_kasp_timing *t, struct zone_kasp_keys *keys,
                               size_t ok, int64_t gone, int64_t now)
{
    bool in_zone = keys->v[ok].t[ZONE_KASP_T_RETIRED] < 0;
    zone_kasp_sched_ds_gone(t, keys, ok, gone, now);
    if (!in_zone)
        return;
    /* The KSK that took over: its algorithm is the new one. */
    uint8_t alg = keys->v[ok].algorithm;
    for (size_t i = 0; i < keys->n; i++) {
        const struct zone_kasp_key *k = &keys->v[i];
        if (i != ok && k->ksk && k->t[ZONE_KASP_T_ACTIVE] >= 0 &&
            k->t[ZONE_KASP_T_RETIRE_ACTIVE] < 0 && k->t[ZONE_KASP_T_RETIRED] < 0)
            alg = k->algorithm;
    }
    if (alg == keys->v[ok].algorithm)
        return; /* a KSK rollover: the ZSKs stay */
    int64_t tswap = keys->v[ok].t[ZONE_KASP_T_RETIRED];
    int64_t tend = tswap + (int64_t)t->dprp + t->ttl_key + t->retire_safety;
    zone_kasp_algroll_retire(keys, alg, tswap, tend, false);
}

/* The new ZSK of a rollover that zone_kasp_algroll_start timed and whose
 * new DNSKEYs are not published at now: active (signing) since it was
 * made, published exactly new_keys after (-1: none). */
static int zone_kasp_algroll_unserved(const struct zone_kasp_timing *t,
                                      const struct zone_kasp_keys *keys, int64_t now)
{
    for (size_t i = 0; i < keys->n; i++) {
        const struct zone_kasp_key *z = &keys->v[i];
        int64_t t0 = z->t[ZONE_KASP_T_ACTIVE];
        if (z->ksk || t0 < 0 || z->t[ZONE_KASP_T_CREATED] != t0)
            continue;
        struct zone_kasp_algorithm_roll r;
        zone_kasp_algorithm(t, t0, &r);
        if (z->t[ZONE_KASP_T_PUBLISHED] == r.new_keys && r.new_keys > t0 && r.new_keys > now)
            return (int)i;
    }
    return -1;
}

/* v moved by d when it is one of the times a or b. */
static void zone_kasp_algroll_move(int64_t *v, int64_t a, int64_t b, int64_t d)
{
    if (*v >= 0 && (*v == a || *v == b))
        *v += d;
}

bool zone_kasp_algroll_served(const struct zone_kasp_timing *t, struct zone_kasp_keys *keys,
                              int64_t served, int64_t now)
{
    int nz = zone_kasp_algroll_unserved(t, keys, now);
    if (nz < 0)
        return false;
    struct zone_kasp_key *z = &keys->v[nz];
    int64_t t0 = z->t[ZONE_KASP_T_ACTIVE], d = served - t0;
    if (d <= 0)
        return false;
    struct zone_kasp_algorithm_roll r;
    zone_kasp_algorithm(t, t0, &r);
    for (size_t i = 0; i < keys->n; i++) {
        struct zone_kasp_key *k = &keys->v[i];
        if (k->algorithm == z->algorithm) {
            /* The new KSK and ZSK (made with it); the ZSK's Tact stays:
             * it signs from t0, only the steps after it wait longer. */
            if (k->t[ZONE_KASP_T_CREATED] != t0)
                continue;
            zone_kasp_algroll_move(&k->t[ZONE_KASP_T_PUBLISHED], r.new_keys, r.new_keys, d);
            zone_kasp_algroll_move(&k->t[ZONE_KASP_T_READY], r.new_ready, r.new_ready, d);
            if (k->ksk)
                zone_kasp_algroll_move(&k->t[ZONE_KASP_T_ACTIVE], r.old_keys_gone, r.old_keys_gone,
                                       d);
            continue;
        }
        /* An old key's times that zone_kasp_algroll_retire set (none
         * with by_parent: zone_kasp_algroll_ds_gone sets them later).
         * A key that left at the same second anyway only leaves later:
         * never less safe. */
        zone_kasp_algroll_move(&k->t[ZONE_KASP_T_RETIRED], r.old_keys_gone, r.old_keys_gone, d);
        zone_kasp_algroll_move(&k->t[ZONE_KASP_T_RETIRE_ACTIVE], r.old_keys_gone, r.old_sigs_gone,
                               d);
        zone_kasp_algroll_move(&k->t[ZONE_KASP_T_REMOVED], r.old_sigs_gone, r.old_sigs_gone, d);
    }
    return true;
}

/*
 * zone_kasp_sched.c -- the key manager's scheduler (zone_kasp_sched.h).
 */
#include "zone/zone_kasp_sched.h"

const char *zone_kasp_kt_name(enum zone_kasp_kt t)
{
    static const char *const names[ZONE_KASP_T_N] = {
        [ZONE_KASP_T_CREATED] = "created",
        [ZONE_KASP_T_PUBLISHED] = "published",
        [ZONE_KASP_T_READY] = "ready",
        [ZONE_KASP_T_ACTIVE] = "active",
        [ZONE_KASP_T_RETIRE_ACTIVE] = "retire_active",
        [ZONE_KASP_T_RETIRED] = "retired",
        [ZONE_KASP_T_REMOVED] = "removed",
    };
    return (unsigned)t < ZONE_KASP_T_N ? names[t] : "?";
}

const char *zone_kasp_act_name(enum zone_kasp_act a)
{
    switch (a) {
    case ZONE_KASP_ACT_NEW_KSK:
        return "generate the first KSK";
    case ZONE_KASP_ACT_NEW_ZSK:
        return "generate the first ZSK";
    case ZONE_KASP_ACT_ROLL_ZSK:
        return "publish a successor ZSK (pre-publication)";
    case ZONE_KASP_ACT_EVENT:
        return "key reaches its next state";
    case ZONE_KASP_ACT_PURGE:
        return "delete a removed key's files";
    case ZONE_KASP_ACT_ROLL_KSK:
        return "publish a successor KSK (double-KSK)";
    case ZONE_KASP_ACT_DS_SEEN:
        return "the new KSK's DS is at the parent: delete the old DS, schedule the swap";
    case ZONE_KASP_ACT_DS_GONE:
        return "the old KSK's DS is gone from the parent: schedule its removal";
    case ZONE_KASP_ACT_NONE:
        break;
    }
    return "none";
}

const struct zone_kasp_parent_ds *zone_kasp_parent_find(const struct zone_kasp_parent *parent,
                                                        const struct zone_kasp_key *k)
{
    if (!parent)
        return NULL;
    for (size_t i = 0; i < parent->n && i < ZONE_KASP_MAX_KEYS; i++)
        if (parent->v[i].tag == k->tag && parent->v[i].algorithm == k->algorithm)
            return &parent->v[i];
    return NULL;
}

/* Whether timestamp v is set and not after now. */
static bool zone_kasp_reached(int64_t v, int64_t now)
{
    return v >= 0 && v <= now;
}

const char *zone_kasp_key_state(const struct zone_kasp_key *k, int64_t now)
{
    const char *s = "generated";
    for (int i = ZONE_KASP_T_PUBLISHED; i < ZONE_KASP_T_N; i++)
        if (zone_kasp_reached(k->t[i], now))
            s = i == ZONE_KASP_T_RETIRE_ACTIVE ? "retire-active" : zone_kasp_kt_name(i);
    return s;
}

bool zone_kasp_key_published(const struct zone_kasp_key *k, int64_t now)
{
    return zone_kasp_reached(k->t[ZONE_KASP_T_PUBLISHED], now) &&
           !zone_kasp_reached(k->t[ZONE_KASP_T_RETIRED], now);
}

bool zone_kasp_key_signs(const struct zone_kasp_key *k, int64_t now)
{
    if (k->ksk) /* double-KSK: a published KSK signs the DNSKEY RRset */
        return zone_kasp_key_published(k, now);
    /* A ZSK signs from Tact to its retire-active time, published or not:
     * an algorithm rollover (zone_kasp_algroll.h) signs with the new ZSK
     * before its DNSKEY is published and with the old one after its
     * DNSKEY left. A key retired without a retire-active time signs no
     * more. */
    if (!zone_kasp_reached(k->t[ZONE_KASP_T_ACTIVE], now) ||
        zone_kasp_reached(k->t[ZONE_KASP_T_RETIRE_ACTIVE], now))
        return false;
    return k->t[ZONE_KASP_T_RETIRE_ACTIVE] >= 0 ||
           !zone_kasp_reached(k->t[ZONE_KASP_T_RETIRED], now);
}

int zone_kasp_sched_current_zsk(const struct zone_kasp_keys *keys, int64_t now)
{
    for (size_t i = 0; i < keys->n; i++)
        if (!keys->v[i].ksk && zone_kasp_key_signs(&keys->v[i], now))
            return (int)i;
    return -1;
}

bool zone_kasp_sched_has_successor(const struct zone_kasp_keys *keys, size_t cur)
{
    const struct zone_kasp_key *c = &keys->v[cur];
    for (size_t i = 0; i < keys->n; i++)
        if (i != cur && !keys->v[i].ksk && keys->v[i].t[ZONE_KASP_T_PUBLISHED] >= 0 &&
            keys->v[i].t[ZONE_KASP_T_RETIRED] < 0 &&
            keys->v[i].t[ZONE_KASP_T_ACTIVE] > c->t[ZONE_KASP_T_ACTIVE])
            return true;
    return false;
}

/* Whether the zone has a key of the role that is, or will be, in use:
 * published or planned, and not retired by now. */
static bool zone_kasp_has_role(const struct zone_kasp_keys *keys, bool ksk, int64_t now)
{
    for (size_t i = 0; i < keys->n; i++) {
        const struct zone_kasp_key *k = &keys->v[i];
        if (k->ksk == ksk && k->t[ZONE_KASP_T_ACTIVE] >= 0 &&
            !zone_kasp_reached(k->t[ZONE_KASP_T_RETIRE_ACTIVE], now))
            return true;
    }
    return false;
}

/* Takes candidate (act, at, key, which) when it is earlier than out's. */
static void zone_kasp_take(struct zone_kasp_action *out, enum zone_kasp_act act, int64_t at,
                           size_t key, enum zone_kasp_kt which)
{
    if (out->act != ZONE_KASP_ACT_NONE && out->at <= at)
        return;
    out->act = act;
    out->at = at;
    out->key = key;
    out->which = which;
}

int zone_kasp_sched_current_ksk(const struct zone_kasp_keys *keys, int64_t now)
{
    for (size_t i = 0; i < keys->n; i++) {
        const struct zone_kasp_key *k = &keys->v[i];
        if (k->ksk && zone_kasp_reached(k->t[ZONE_KASP_T_ACTIVE], now) &&
            !zone_kasp_reached(k->t[ZONE_KASP_T_RETIRE_ACTIVE], now))
            return (int)i;
    }
    return -1;
}

int zone_kasp_sched_ksk_successor(const struct zone_kasp_keys *keys, int64_t now)
{
    for (size_t i = 0; i < keys->n; i++) {
        const struct zone_kasp_key *k = &keys->v[i];
        if (k->ksk && k->t[ZONE_KASP_T_PUBLISHED] >= 0 &&
            !zone_kasp_reached(k->t[ZONE_KASP_T_ACTIVE], now) && k->t[ZONE_KASP_T_RETIRED] < 0)
            return (int)i;
    }
    return -1;
}

int zone_kasp_sched_parent_ksk(const struct zone_kasp_keys *keys, int64_t now)
{
    int best = -1;
    for (size_t i = 0; i < keys->n; i++) {
        const struct zone_kasp_key *k = &keys->v[i];
        if (k->ksk && zone_kasp_reached(k->t[ZONE_KASP_T_READY], now) &&
            !zone_kasp_reached(k->t[ZONE_KASP_T_RETIRED], now) &&
            (best < 0 || k->t[ZONE_KASP_T_PUBLISHED] > keys->v[best].t[ZONE_KASP_T_PUBLISHED]))
            best = (int)i;
    }
    return best;
}

bool zone_kasp_sched_ds_unwanted(const struct zone_kasp_key *k, int64_t now)
{
    /* A KSK is retire-active once its successor's DS is at every parent
     * server (zone_kasp_sched_ds_seen) or it was given up (retire-active
     * and retired at once: zone_kasp_sched_abandon); Trem is set only
     * once its DS is gone (zone_kasp_sched_ds_gone). */
    return k->ksk && zone_kasp_reached(k->t[ZONE_KASP_T_RETIRE_ACTIVE], now) &&
           k->t[ZONE_KASP_T_REMOVED] < 0;
}

bool zone_kasp_sched_parent_wanted(const struct zone_kasp_keys *keys, int64_t now)
{
    for (size_t i = 0; i < keys->n; i++) {
        const struct zone_kasp_key *k = &keys->v[i];
        if (!k->ksk)
            continue;
        if (k->t[ZONE_KASP_T_ACTIVE] < 0 && zone_kasp_reached(k->t[ZONE_KASP_T_READY], now) &&
            k->t[ZONE_KASP_T_RETIRED] < 0)
            return true;
        if (zone_kasp_sched_ds_unwanted(k, now))
            return true;
    }
    return false;
}

int zone_kasp_sched_ds_waiting(const struct zone_kasp_keys *keys, int64_t now, int64_t *since)
{
    int best = -1;
    for (size_t i = 0; i < keys->n; i++) {
        const struct zone_kasp_key *k = &keys->v[i];
        if (k->ksk && k->t[ZONE_KASP_T_ACTIVE] < 0 &&
            zone_kasp_reached(k->t[ZONE_KASP_T_READY], now) && k->t[ZONE_KASP_T_RETIRED] < 0 &&
            (best < 0 || k->t[ZONE_KASP_T_READY] < keys->v[best].t[ZONE_KASP_T_READY]))
            best = (int)i;
    }
    *since = best >= 0 ? keys->v[best].t[ZONE_KASP_T_READY] : -1;
    return best;
}

int zone_kasp_sched_ds_overdue(const struct zone_kasp_keys *keys, int64_t now, uint32_t warn,
                               int64_t *since)
{
    int w = zone_kasp_sched_ds_waiting(keys, now, since);
    if (w < 0 || warn == 0 || now - *since < (int64_t)warn)
        return -1;
    return w;
}

int zone_kasp_sched_ds_leaving(const struct zone_kasp_keys *keys, int64_t now, int64_t *since)
{
    int best = -1;
    for (size_t i = 0; i < keys->n; i++) {
        const struct zone_kasp_key *k = &keys->v[i];
        if (zone_kasp_sched_ds_unwanted(k, now) && zone_kasp_key_published(k, now) &&
            (best < 0 ||
             k->t[ZONE_KASP_T_RETIRE_ACTIVE] < keys->v[best].t[ZONE_KASP_T_RETIRE_ACTIVE]))
            best = (int)i;
    }
    *since = best >= 0 ? keys->v[best].t[ZONE_KASP_T_RETIRE_ACTIVE] : -1;
    return best;
}

int zone_kasp_sched_ksk_retiring(const struct zone_kasp_keys *keys, int64_t now)
{
    for (size_t i = 0; i < keys->n; i++) {
        const struct zone_kasp_key *k = &keys->v[i];
        if (k->ksk && zone_kasp_reached(k->t[ZONE_KASP_T_RETIRE_ACTIVE], now) &&
            zone_kasp_key_published(k, now))
            return (int)i;
    }
    return -1;
}

int zone_kasp_sched_ds_stale(const struct zone_kasp_keys *keys, int64_t now, uint32_t warn,
                             int64_t *since)
{
    int w = zone_kasp_sched_ds_leaving(keys, now, since);
    if (w < 0 || warn == 0 || now - *since < (int64_t)warn)
        return -1;
    return w;
}

/* The KSK steps of sched_next: the successor due, a DS seen, a DS gone. */
static void zone_kasp_next_ksk(const struct zone_kasp_intervals *iv, uint32_t ksk_lifetime,
                               const struct zone_kasp_keys *keys,
                               const struct zone_kasp_parent *parent, int64_t now,
                               struct zone_kasp_action *out)
{
    int cur = zone_kasp_sched_current_ksk(keys, now);
    /* No new rollover while the last one's old KSK is still in the zone
     * (its DS not gone from the parent yet, or not from every cache):
     * three KSKs, and two DS to watch. */
    if (cur >= 0 && ksk_lifetime && keys->v[cur].t[ZONE_KASP_T_RETIRE_ACTIVE] < 0 &&
        zone_kasp_sched_ksk_successor(keys, now) < 0 &&
        zone_kasp_sched_ksk_retiring(keys, now) < 0) {
        int64_t due =
            keys->v[cur].t[ZONE_KASP_T_ACTIVE] + (int64_t)ksk_lifetime - (int64_t)iv->ipub;
        zone_kasp_take(out, ZONE_KASP_ACT_ROLL_KSK, due < now ? now : due, (size_t)cur,
                       ZONE_KASP_T_PUBLISHED);
    }
    bool asked = parent && parent->n_servers > 0;
    for (size_t i = 0; asked && i < keys->n; i++) {
        const struct zone_kasp_key *k = &keys->v[i];
        const struct zone_kasp_parent_ds *d = zone_kasp_parent_find(parent, k);
        if (!k->ksk || !d)
            continue;
        /* Only a ready successor: its DS before Trdy could meet a cached
         * DNSKEY RRset without it. */
        if (k->t[ZONE_KASP_T_ACTIVE] < 0 && k->t[ZONE_KASP_T_RETIRED] < 0 &&
            zone_kasp_reached(k->t[ZONE_KASP_T_READY], now) && d->seen_since >= 0)
            zone_kasp_take(out, ZONE_KASP_ACT_DS_SEEN, now, i, ZONE_KASP_T_ACTIVE);
        if (zone_kasp_sched_ds_unwanted(k, now) && d->gone_since >= 0)
            zone_kasp_take(out, ZONE_KASP_ACT_DS_GONE, now, i, ZONE_KASP_T_RETIRED);
    }
}

void zone_kasp_sched_next(const struct zone_kasp_timing *t, uint32_t zsk_lifetime,
                          uint32_t ksk_lifetime, const struct zone_kasp_keys *keys,
                          const struct zone_kasp_parent *parent, int64_t now,
                          struct zone_kasp_action *out)
{
    struct zone_kasp_intervals iv;
    zone_kasp_intervals(t, &iv);
    out->act = ZONE_KASP_ACT_NONE;
    out->at = -1;
    out->key = 0;
    out->which = ZONE_KASP_T_CREATED;
    /* What makes or deletes keys first: on a tie it goes before an event. */
    if (!zone_kasp_has_role(keys, true, now))
        zone_kasp_take(out, ZONE_KASP_ACT_NEW_KSK, now, 0, ZONE_KASP_T_CREATED);
    if (!zone_kasp_has_role(keys, false, now))
        zone_kasp_take(out, ZONE_KASP_ACT_NEW_ZSK, now, 0, ZONE_KASP_T_CREATED);
    for (size_t i = 0; i < keys->n; i++) {
        int64_t rem = keys->v[i].t[ZONE_KASP_T_REMOVED];
        if (rem >= 0)
            zone_kasp_take(out, ZONE_KASP_ACT_PURGE, rem < now ? now : rem, i, ZONE_KASP_T_REMOVED);
    }
    zone_kasp_next_ksk(&iv, ksk_lifetime, keys, parent, now, out);
    int cur = zone_kasp_sched_current_zsk(keys, now);
    if (cur >= 0 && zsk_lifetime && keys->v[cur].t[ZONE_KASP_T_RETIRE_ACTIVE] < 0 &&
        !zone_kasp_sched_has_successor(keys, (size_t)cur)) {
        int64_t due = keys->v[cur].t[ZONE_KASP_T_ACTIVE] + (int64_t)zsk_lifetime - (int64_t)iv.ipub;
        zone_kasp_take(out, ZONE_KASP_ACT_ROLL_ZSK, due < now ? now : due, (size_t)cur,
                       ZONE_KASP_T_PUBLISHED);
    }
    for (size_t i = 0; i < keys->n; i++)
        for (int w = ZONE_KASP_T_PUBLISHED; w <= ZONE_KASP_T_RETIRED; w++)
            if (keys->v[i].t[w] > now)
                zone_kasp_take(out, ZONE_KASP_ACT_EVENT, keys->v[i].t[w], i, w);
}

void zone_kasp_sched_first(struct zone_kasp_key *k, int64_t now)
{
    for (int i = 0; i < ZONE_KASP_T_N; i++)
        k->t[i] = i <= ZONE_KASP_T_ACTIVE ? now : -1;
}

void zone_kasp_sched_roll_zsk(const struct zone_kasp_timing *t, struct zone_kasp_key *cur,
                              struct zone_kasp_key *n, int64_t now, int64_t due, bool force)
{
    struct zone_kasp_intervals iv;
    zone_kasp_intervals(t, &iv);
    for (int i = 0; i < ZONE_KASP_T_N; i++)
        n->t[i] = -1;
    n->t[ZONE_KASP_T_CREATED] = now;
    n->t[ZONE_KASP_T_PUBLISHED] = now;
    n->t[ZONE_KASP_T_READY] = now + (int64_t)iv.ipub;
    /* Pre-publication: active once in every cache that holds the DNSKEY
     * RRset (Trdy), and not before the old key's lifetime is up. */
    int64_t act = due + (int64_t)iv.ipub;
    n->t[ZONE_KASP_T_ACTIVE] = force                           ? now
                               : act > n->t[ZONE_KASP_T_READY] ? act
                                                               : n->t[ZONE_KASP_T_READY];
    cur->t[ZONE_KASP_T_RETIRE_ACTIVE] = n->t[ZONE_KASP_T_ACTIVE];
    /* Its signatures out of every cache: Iret after it stops signing. */
    cur->t[ZONE_KASP_T_RETIRED] = cur->t[ZONE_KASP_T_RETIRE_ACTIVE] + (int64_t)iv.iret;
    cur->t[ZONE_KASP_T_REMOVED] = cur->t[ZONE_KASP_T_RETIRED] + (int64_t)iv.iret;
}

void zone_kasp_sched_roll_ksk(const struct zone_kasp_timing *t, struct zone_kasp_key *n,
                              int64_t now)
{
    struct zone_kasp_intervals iv;
    zone_kasp_intervals(t, &iv);
    for (int i = 0; i < ZONE_KASP_T_N; i++)
        n->t[i] = -1;
    n->t[ZONE_KASP_T_CREATED] = now;
    n->t[ZONE_KASP_T_PUBLISHED] = now;
    /* In every cache that holds the DNSKEY RRset: its DS may go up. */
    n->t[ZONE_KASP_T_READY] = now + (int64_t)iv.ipub;
}

void zone_kasp_sched_ds_seen(const struct zone_kasp_timing *t, struct zone_kasp_keys *keys,
                             size_t n, int64_t seen)
{
    struct zone_kasp_intervals iv;
    zone_kasp_intervals(t, &iv);
    struct zone_kasp_key *k = &keys->v[n];
    int64_t from = seen > k->t[ZONE_KASP_T_READY] ? seen : k->t[ZONE_KASP_T_READY];
    /* Every DS RRset cached before the new DS reached the last parent
     * server has expired IpubP (DprpP + TTLds) later: from then on every
     * resolver's DS set names the new KSK, and the old may go. */
    k->t[ZONE_KASP_T_ACTIVE] = from + (int64_t)iv.ipub_parent + (int64_t)t->retire_safety;
    /* The predecessors' DS is unwanted from now on (the daemon pushes its
     * delete at once; CDS/CDNSKEY name only the new KSK since its Trdy),
     * but they stay in the DNSKEY RRset, signing it, until their DS is
     * gone from every parent server: zone_kasp_sched_ds_gone. */
    for (size_t i = 0; i < keys->n; i++) {
        struct zone_kasp_key *o = &keys->v[i];
        if (i == n || !o->ksk || o->t[ZONE_KASP_T_PUBLISHED] < 0 ||
            o->t[ZONE_KASP_T_RETIRED] >= 0 || o->t[ZONE_KASP_T_RETIRE_ACTIVE] >= 0)
            continue;
        o->t[ZONE_KASP_T_RETIRE_ACTIVE] = from;
    }
}

void zone_kasp_sched_ds_gone(const struct zone_kasp_timing *t, struct zone_kasp_keys *keys,
                             size_t n, int64_t gone, int64_t now)
{
    struct zone_kasp_key *k = &keys->v[n];
    if (k->t[ZONE_KASP_T_RETIRED] >= 0) {
        /* Out of the zone already: only its files are left. */
        int64_t ret = k->t[ZONE_KASP_T_RETIRED];
        k->t[ZONE_KASP_T_REMOVED] = ret > now ? ret : now;
        return;
    }
    /* A resolver may have fetched the DS RRset, old DS included, from the
     * last server just before it dropped it: TTLds later no cache holds
     * it. And not before the new KSK's DS is in every cache (its Tact). */
    int64_t at = gone + (int64_t)t->ttl_ds + (int64_t)t->retire_safety;
    for (size_t i = 0; i < keys->n; i++) {
        const struct zone_kasp_key *o = &keys->v[i];
        if (i != n && o->ksk && o->t[ZONE_KASP_T_ACTIVE] > at &&
            o->t[ZONE_KASP_T_RETIRE_ACTIVE] < 0 && o->t[ZONE_KASP_T_RETIRED] < 0)
            at = o->t[ZONE_KASP_T_ACTIVE];
    }
    if (at < now)
        at = now;
    k->t[ZONE_KASP_T_RETIRED] = at;
    k->t[ZONE_KASP_T_REMOVED] = at; /* nothing signs with it, no DS names it */
}

void zone_kasp_sched_abandon(struct zone_kasp_key *k, int64_t now)
{
    k->t[ZONE_KASP_T_RETIRE_ACTIVE] = now;
    k->t[ZONE_KASP_T_RETIRED] = now;
}

/* ZSK keys->v[n], now ready at rdy: active then if it was to be active at
 * its old Trdy, its predecessor (the ZSK that stopped signing then)
 * moved with it. */
static void zone_kasp_sched_served_zsk(struct zone_kasp_keys *keys, size_t n, int64_t rdy)
{
    struct zone_kasp_key *k = &keys->v[n];
    int64_t act = k->t[ZONE_KASP_T_ACTIVE];
    if (act < 0 || act == k->t[ZONE_KASP_T_PUBLISHED] || act >= rdy)
        return; /* forced (active at once), or active later anyway */
    int64_t d = rdy - act;
    k->t[ZONE_KASP_T_ACTIVE] = rdy;
    for (size_t i = 0; i < keys->n; i++) {
        struct zone_kasp_key *o = &keys->v[i];
        if (i == n || o->ksk || o->t[ZONE_KASP_T_RETIRE_ACTIVE] != act)
            continue;
        for (int w = ZONE_KASP_T_RETIRE_ACTIVE; w <= ZONE_KASP_T_REMOVED; w++)
            if (o->t[w] >= act)
                o->t[w] += d;
    }
}

unsigned zone_kasp_sched_served(const struct zone_kasp_timing *t, struct zone_kasp_keys *keys,
                                int64_t served, int64_t now)
{
    struct zone_kasp_intervals iv;
    zone_kasp_intervals(t, &iv);
    unsigned moved = 0;
    for (size_t i = 0; i < keys->n; i++) {
        struct zone_kasp_key *k = &keys->v[i];
        int64_t pub = k->t[ZONE_KASP_T_PUBLISHED], rdy = k->t[ZONE_KASP_T_READY];
        /* Only a successor as roll_zsk / roll_ksk made it, not moved yet:
         * a first or adopted key is ready at Tpub, an algorithm
         * rollover's keys are published after they were made. */
        if (pub < 0 || iv.ipub == 0 || k->t[ZONE_KASP_T_CREATED] != pub ||
            rdy != pub + (int64_t)iv.ipub || rdy <= now || served <= pub)
            continue;
        k->t[ZONE_KASP_T_READY] = served + (int64_t)iv.ipub;
        if (!k->ksk)
            zone_kasp_sched_served_zsk(keys, i, k->t[ZONE_KASP_T_READY]);
        moved |= 1u << i;
    }
    return moved;
}

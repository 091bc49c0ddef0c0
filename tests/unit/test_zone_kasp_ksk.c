/* Unit tests for the KSK rollover by double-KSK in the key manager's
 * scheduler (src/zone/zone_kasp_sched.c, RFC 7583 3.3.1, RFC 6781 4.1.2),
 * driven the way the daemon drives it against a simulated parent: the
 * DS of the KSK the parent should have (zone_kasp_sched_parent_ksk) is
 * "pushed" and appears at the parent Dreg later, a retired KSK's DS is
 * deleted the same way, and every 100 s the parent's state goes into the
 * scheduler as struct zone_kasp_parent. Every step is checked for what
 * makes a KSK rollover safe: every DS RRset a resolver may still cache
 * (published at the parent within the last IpubP) names a KSK that is in
 * every DNSKEY RRset a resolver may cache (published at least Ipub ago).
 * Then the same with a parent that never takes the DS: the old KSK stays. */
#include <string.h>

#include "tap.h"
#include "zone/zone_kasp_sched.h"

/* Ipub = 3600 + 3600 + 600 = 7800; IpubP = 3600 + 86400 = 90000. */
static const struct zone_kasp_timing T = {.dprp = 3600,
                                          .ttl_key = 3600,
                                          .ttl_sig = 86400,
                                          .publish_safety = 600,
                                          .retire_safety = 600,
                                          .dprp_parent = 3600,
                                          .ttl_ds = 86400,
                                          .dreg = 86400};
#define IPUB 7800
#define IPUBP 90000
#define DREG 86400
#define KLIFE (10 * 86400)
#define T0 1700000000
#define STEP 100
#define MAX_HIST 64

/* The simulated parent: its DS set (a bit per key tag) after each change. */
struct parent_sim {
    bool accepts;  /* false: every push is refused */
    uint32_t mask; /* the DS set now */
    uint32_t want_add, want_del;
    int64_t add_at, del_at; /* when a pushed change shows (-1: none pending) */
    int64_t hist_t[MAX_HIST];
    uint32_t hist_m[MAX_HIST];
    size_t n_hist;
    struct zone_kasp_parent view; /* what the scheduler is given */
};

static void parent_set(struct parent_sim *p, uint32_t mask, int64_t now)
{
    if (mask == p->mask || p->n_hist >= MAX_HIST)
        return;
    p->mask = mask;
    p->hist_t[p->n_hist] = now;
    p->hist_m[p->n_hist++] = mask;
}

/* One check interval: pushes what the zone wants, lets pending changes
 * show, and refreshes the view as the daemon's check would. */
static void parent_tick(struct parent_sim *p, const struct zone_kasp_keys *keys, int64_t now)
{
    int want = zone_kasp_sched_parent_ksk(keys, now);
    uint32_t wbit = want >= 0 ? 1u << keys->v[want].tag : 0;
    if (p->accepts && wbit && !(p->mask & wbit) && p->add_at < 0) {
        p->want_add = wbit;
        p->add_at = now + DREG;
    }
    for (size_t i = 0; i < keys->n; i++) {
        const struct zone_kasp_key *k = &keys->v[i];
        uint32_t b = 1u << k->tag;
        if (p->accepts && k->ksk && k->t[ZONE_KASP_T_RETIRED] >= 0 &&
            k->t[ZONE_KASP_T_RETIRED] <= now && (p->mask & b) && p->del_at < 0) {
            p->want_del = b;
            p->del_at = now + DREG;
        }
    }
    if (p->add_at >= 0 && now >= p->add_at) {
        parent_set(p, p->mask | p->want_add, now);
        p->add_at = -1;
    }
    if (p->del_at >= 0 && now >= p->del_at) {
        parent_set(p, p->mask & ~p->want_del, now);
        p->del_at = -1;
    }
    p->view.n_servers = 2;
    p->view.n = 0;
    for (size_t i = 0; i < keys->n && p->view.n < ZONE_KASP_MAX_KEYS; i++) {
        const struct zone_kasp_key *k = &keys->v[i];
        if (!k->ksk)
            continue;
        uint32_t b = 1u << k->tag;
        struct zone_kasp_parent_ds *d = &p->view.v[p->view.n++];
        d->tag = k->tag;
        d->algorithm = k->algorithm;
        d->checked = now;
        d->seen_since = d->gone_since = -1;
        /* since the last change that set (or cleared) its bit */
        for (size_t h = p->n_hist; h-- > 0;) {
            bool in = p->hist_m[h] & b, before = h ? (p->hist_m[h - 1] & b) : false;
            if (in != before || h == 0) {
                if (in && (p->mask & b))
                    d->seen_since = p->hist_t[h];
                break;
            }
        }
        if (!(p->mask & b))
            d->gone_since = now;
    }
}

static uint16_t next_tag = 1;

static void step(struct zone_kasp_keys *keys, struct parent_sim *p, int64_t now)
{
    for (int i = 0; i < 16; i++) {
        struct zone_kasp_action a;
        zone_kasp_sched_next(&T, 0, KLIFE, keys, &p->view, now, &a);
        if (a.act == ZONE_KASP_ACT_NONE || a.at > now)
            return;
        if (a.act == ZONE_KASP_ACT_PURGE) {
            keys->v[a.key] = keys->v[--keys->n];
        } else if (a.act == ZONE_KASP_ACT_DS_SEEN) {
            const struct zone_kasp_parent_ds *d = zone_kasp_parent_find(&p->view, &keys->v[a.key]);
            zone_kasp_sched_ds_seen(&T, keys, a.key, d->seen_since);
        } else if (a.act == ZONE_KASP_ACT_DS_GONE) {
            zone_kasp_sched_ds_gone(&keys->v[a.key], now);
        } else if (a.act == ZONE_KASP_ACT_EVENT) {
            return; /* the daemon signs again; nothing to apply */
        } else {
            struct zone_kasp_key *k = &keys->v[keys->n++];
            memset(k, 0, sizeof(*k));
            k->ksk = a.act != ZONE_KASP_ACT_NEW_ZSK;
            k->algorithm = 13;
            k->tag = next_tag++;
            if (a.act == ZONE_KASP_ACT_ROLL_KSK)
                zone_kasp_sched_roll_ksk(&T, k, now);
            else
                zone_kasp_sched_first(k, now);
        }
    }
}

/* Whether the KSK with tag is in every DNSKEY RRset a resolver may hold
 * at now: published Ipub ago or more (or the zone's first KSK). */
static bool in_every_dnskey(const struct zone_kasp_keys *keys, uint16_t tag, int64_t now)
{
    for (size_t i = 0; i < keys->n; i++) {
        const struct zone_kasp_key *k = &keys->v[i];
        if (k->ksk && k->tag == tag && zone_kasp_key_published(k, now) &&
            (k->t[ZONE_KASP_T_PUBLISHED] == T0 || now - k->t[ZONE_KASP_T_PUBLISHED] >= IPUB))
            return true;
    }
    return false;
}

/* Every DS set of the parent in (now - IpubP, now] meets such a KSK. */
static bool safe_at(struct tap *t, const struct zone_kasp_keys *keys, const struct parent_sim *p,
                    int64_t now)
{
    for (size_t h = 0; h < p->n_hist; h++) {
        int64_t until = h + 1 < p->n_hist ? p->hist_t[h + 1] : now + 1;
        if (until + IPUBP <= now)
            continue; /* expired from every cache */
        bool ok = false;
        for (uint16_t tag = 0; tag < 32 && !ok; tag++)
            ok = (p->hist_m[h] & (1u << tag)) && in_every_dnskey(keys, tag, now);
        if (!ok) {
            TAP_CHECK(t, 0, "at %lld the DS set 0x%x (from %lld) names no KSK every cache has",
                      (long long)(now - T0), p->hist_m[h], (long long)(p->hist_t[h] - T0));
            return false;
        }
    }
    return true;
}

static void test_two_rollovers(struct tap *t)
{
    struct zone_kasp_keys keys = {.n = 0};
    struct parent_sim p = {.accepts = true, .add_at = -1, .del_at = -1};
    step(&keys, &p, T0);
    parent_set(&p, 1u << keys.v[0].tag, T0); /* the first DS, put there by hand */
    bool ok = true, overdue = false;
    int rolls = 0;
    uint16_t prev = keys.v[0].tag;
    /* Two rollovers of KLIFE + Dreg + IpubP + retire_safety each, then
     * Dreg for the last old DS to go and a check to see it. */
    int64_t per = KLIFE + DREG + IPUBP + 600;
    int64_t prev_act = T0, end = T0 + 2 * per + DREG + 10 * STEP;
    for (int64_t now = T0; now <= end && ok; now += STEP) {
        parent_tick(&p, &keys, now);
        step(&keys, &p, now);
        ok = safe_at(t, &keys, &p, now);
        int64_t since;
        /* The DS shows Dreg after the push, seen at the next check. */
        overdue |= zone_kasp_sched_ds_overdue(&keys, now, DREG + 2 * STEP, &since) >= 0;
        int cur = zone_kasp_sched_current_ksk(&keys, now);
        if (!ok || cur < 0 || keys.v[cur].tag == prev)
            continue;
        const struct zone_kasp_key *k = &keys.v[cur];
        rolls++;
        TAP_CHECK(t, k->t[ZONE_KASP_T_PUBLISHED] == prev_act + KLIFE - IPUB,
                  "roll %d: Tpub(new) = Tact(old) + lifetime - Ipub", rolls);
        TAP_CHECK(t, k->t[ZONE_KASP_T_READY] == k->t[ZONE_KASP_T_PUBLISHED] + IPUB,
                  "roll %d: Trdy = Tpub + Ipub", rolls);
        /* The DS goes up at Trdy, shows Dreg later, is seen at the next
         * check (one STEP at most): Tact = seen + IpubP + retire_safety. */
        int64_t seen_min = k->t[ZONE_KASP_T_READY] + DREG;
        int64_t lo = seen_min + IPUBP + 600, hi = lo + 2 * STEP;
        TAP_CHECK(t, k->t[ZONE_KASP_T_ACTIVE] >= lo && k->t[ZONE_KASP_T_ACTIVE] <= hi,
                  "roll %d: Tact = DS seen + IpubP + retire_safety (%lld in [%lld, %lld])", rolls,
                  (long long)(k->t[ZONE_KASP_T_ACTIVE] - T0), (long long)(lo - T0),
                  (long long)(hi - T0));
        for (size_t i = 0; i < keys.n; i++)
            if (keys.v[i].tag == prev)
                TAP_CHECK(t, keys.v[i].t[ZONE_KASP_T_RETIRED] == k->t[ZONE_KASP_T_ACTIVE],
                          "roll %d: the old KSK leaves the DNSKEY RRset as the new one takes over",
                          rolls);
        prev = k->tag;
        prev_act = k->t[ZONE_KASP_T_ACTIVE];
    }
    TAP_CHECK(t, ok, "every step of two KSK rollovers is safe");
    TAP_CHECK(t, rolls == 2, "two KSK rollovers (got %d)", rolls);
    size_t ksks = 0;
    for (size_t i = 0; i < keys.n; i++)
        ksks += keys.v[i].ksk;
    TAP_CHECK(t, ksks == 1, "the old KSKs left the store once their DS was gone (%zu KSKs)", ksks);
    int64_t since;
    TAP_CHECK(t, zone_kasp_sched_ds_waiting(&keys, end, &since) < 0,
              "no KSK waits for its DS once the rollovers are done");
    TAP_CHECK(t, !overdue, "a parent that publishes within Dreg never raises the DS alarm");
}

static void test_parent_refuses(struct tap *t)
{
    struct zone_kasp_keys keys = {.n = 0};
    struct parent_sim p = {.accepts = false, .add_at = -1, .del_at = -1};
    step(&keys, &p, T0);
    parent_set(&p, 1u << keys.v[0].tag, T0);
    uint16_t first = keys.v[0].tag;
    bool ok = true;
    int64_t end = T0 + 3 * (int64_t)KLIFE;
    for (int64_t now = T0; now <= end && ok; now += STEP) {
        parent_tick(&p, &keys, now);
        step(&keys, &p, now);
        ok = safe_at(t, &keys, &p, now);
    }
    TAP_CHECK(t, ok, "every step is safe while the parent refuses the DS");
    int cur = zone_kasp_sched_current_ksk(&keys, end);
    int succ = zone_kasp_sched_ksk_successor(&keys, end);
    TAP_CHECK(t, cur >= 0 && keys.v[cur].tag == first && zone_kasp_key_published(&keys.v[cur], end),
              "the old KSK stays published and current");
    TAP_CHECK(t, succ >= 0 && keys.v[succ].t[ZONE_KASP_T_ACTIVE] < 0,
              "its successor waits for the DS, active never set");
    TAP_CHECK(t, zone_kasp_sched_parent_wanted(&keys, end), "the parent is still asked");
    TAP_CHECK(t, zone_kasp_sched_parent_ksk(&keys, end) == succ,
              "the parent should have the successor's DS (CDS names it)");
    /* The alarm (parent.ds_wait_warn): the successor waits since its
     * Trdy; overdue once it has waited the bound, not a second before. */
    int64_t since = 0, rdy = keys.v[succ].t[ZONE_KASP_T_READY];
    TAP_CHECK(t, zone_kasp_sched_ds_waiting(&keys, end, &since) == succ && since == rdy,
              "the successor waits for its DS since its Trdy");
    TAP_CHECK(t, zone_kasp_sched_ds_waiting(&keys, rdy - 1, &since) < 0 && since == -1,
              "not before it is ready");
    TAP_CHECK(t, zone_kasp_sched_ds_overdue(&keys, rdy + 86399, 86400, &since) < 0,
              "not overdue a second before the bound");
    TAP_CHECK(t, zone_kasp_sched_ds_overdue(&keys, rdy + 86400, 86400, &since) == succ,
              "overdue at the bound");
    TAP_CHECK(t, zone_kasp_sched_ds_overdue(&keys, end, 0, &since) < 0, "a bound of 0: never");
    /* No parent server configured: a seen DS does not count. */
    p.view.n_servers = 0;
    struct zone_kasp_action a;
    zone_kasp_sched_next(&T, 0, KLIFE, &keys, &p.view, end, &a);
    TAP_CHECK(t, a.act != ZONE_KASP_ACT_DS_SEEN, "without parent servers nothing is seen");
}

static void test_abandon(struct tap *t)
{
    struct zone_kasp_keys keys = {.n = 0};
    struct parent_sim p = {.accepts = false, .add_at = -1, .del_at = -1};
    step(&keys, &p, T0);
    struct zone_kasp_key *n = &keys.v[keys.n++];
    memset(n, 0, sizeof(*n));
    n->ksk = true;
    n->tag = 30;
    zone_kasp_sched_roll_ksk(&T, n, T0 + 10);
    TAP_CHECK(t, zone_kasp_sched_ksk_successor(&keys, T0 + 20) == 2,
              "an emergency KSK is in flight");
    zone_kasp_sched_abandon(n, T0 + 20);
    TAP_CHECK(t,
              zone_kasp_sched_ksk_successor(&keys, T0 + 20) < 0 &&
                  !zone_kasp_key_published(n, T0 + 20),
              "a given-up successor leaves the zone");
    p.view.n_servers = 1;
    p.view.n = 1;
    p.view.v[0] = (struct zone_kasp_parent_ds){
        .tag = 30, .algorithm = 0, .seen_since = -1, .gone_since = T0 + 20, .checked = T0 + 20};
    struct zone_kasp_action a;
    zone_kasp_sched_next(&T, 0, 0, &keys, &p.view, T0 + 20, &a);
    TAP_CHECK(t, a.act == ZONE_KASP_ACT_DS_GONE && a.key == 2,
              "and its files go once no parent server has its DS");
}

int main(void)
{
    struct tap t = {0};
    test_two_rollovers(&t);
    test_parent_refuses(&t);
    test_abandon(&t);
    return tap_done(&t);
}

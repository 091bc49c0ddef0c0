/* Unit tests for the KSK rollover by double-KSK in the key manager's
 * scheduler (src/zone/zone_kasp_sched.c, RFC 7583 3.3.1, RFC 6781 4.1.2),
 * driven the way the daemon drives it against a simulated parent of two
 * servers: a primary, where a pushed change (the DS of the KSK the parent
 * should have, zone_kasp_sched_parent_ksk, added; an unwanted DS,
 * zone_kasp_sched_ds_unwanted, deleted) shows Dreg after the push, and a
 * secondary that shows what the primary had DprpP earlier. Every 100 s
 * both servers' state goes into the scheduler as struct zone_kasp_parent
 * (seen: at both; gone: at neither), the scheduler's actions are applied,
 * then the pushes they make due are sent (server_kasp_parent_after).
 * Every step is checked for what makes a KSK rollover safe:
 *   - every DS a server lists, or listed within the last TTLds (a cache
 *     may hold it), names a KSK that is in the zone now: the parent never
 *     lists the DS of a KSK that left, nor does a cache;
 *   - every such DS set names a KSK that is in every DNSKEY RRset a
 *     resolver may cache (published at least Ipub ago).
 * Then a parent that never takes the new DS (the old KSK stays), one
 * that never removes the old DS (the old KSK stays beside the new one,
 * the alarm rises, no rollover starts until the DS goes), and a given-up
 * successor. */
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
#define TTLDS 86400
#define SAFETY 600
#define DREG 86400
#define LAG 3600 /* the secondary follows the primary DprpP later */
#define KLIFE (10 * 86400)
#define T0 1700000000
#define STEP 100
#define MAX_HIST 64
#define MAX_TAG 32

/* One parent server: its DS set (a bit per key tag) after each change. */
struct server_sim {
    uint32_t mask;
    int64_t hist_t[MAX_HIST];
    uint32_t hist_m[MAX_HIST];
    size_t n_hist;
};

struct parent_sim {
    bool accepts;             /* false: every push is refused */
    bool keeps_old;           /* true: a delete is acknowledged and ignored */
    struct server_sim srv[2]; /* [0] the primary, [1] the secondary */
    uint32_t want_add, want_del;
    int64_t add_at, del_at;        /* when a pushed change shows (-1: none pending) */
    int64_t first_del[MAX_TAG];    /* when the delete of a tag's DS was first pushed */
    unsigned n_del;                /* delete pushes in all */
    struct zone_kasp_parent view;  /* what the scheduler is given */
    int64_t seen_at[MAX_TAG];      /* when DS_SEEN was applied to a tag */
    int64_t gone_at[MAX_TAG];      /* the gone_since DS_GONE was applied with */
    int64_t retired_at[MAX_TAG];   /* the Tret DS_GONE gave */
    int64_t published_at[MAX_TAG]; /* when a KSK was made */
};

static void parent_init(struct parent_sim *p, bool accepts, bool keeps_old)
{
    memset(p, 0, sizeof(*p));
    p->accepts = accepts;
    p->keeps_old = keeps_old;
    p->add_at = p->del_at = -1;
    for (int i = 0; i < MAX_TAG; i++)
        p->first_del[i] = p->seen_at[i] = p->gone_at[i] = p->retired_at[i] = p->published_at[i] =
            -1;
}

static void server_set(struct server_sim *s, uint32_t mask, int64_t now)
{
    if (mask == s->mask || s->n_hist >= MAX_HIST)
        return;
    s->mask = mask;
    s->hist_t[s->n_hist] = now;
    s->hist_m[s->n_hist++] = mask;
}

/* The set s held at time 'when' (0 before its first). */
static uint32_t server_at(const struct server_sim *s, int64_t when)
{
    uint32_t m = 0;
    for (size_t h = 0; h < s->n_hist && s->hist_t[h] <= when; h++)
        m = s->hist_m[h];
    return m;
}

/* One check interval: pending pushes show at the primary, the secondary
 * catches up, and the view is refreshed as the daemon's check does it. */
static void parent_tick(struct parent_sim *p, const struct zone_kasp_keys *keys, int64_t now)
{
    struct server_sim *pri = &p->srv[0];
    if (p->add_at >= 0 && now >= p->add_at) {
        server_set(pri, pri->mask | p->want_add, now);
        p->add_at = -1;
    }
    if (p->del_at >= 0 && now >= p->del_at) {
        server_set(pri, pri->mask & ~p->want_del, now);
        p->del_at = -1;
    }
    server_set(&p->srv[1], server_at(pri, now - LAG), now);
    struct zone_kasp_parent old = p->view;
    p->view.n_servers = 2;
    p->view.n = 0;
    for (size_t i = 0; i < keys->n && p->view.n < ZONE_KASP_MAX_KEYS; i++) {
        const struct zone_kasp_key *k = &keys->v[i];
        if (!k->ksk)
            continue;
        uint32_t b = 1u << k->tag;
        const struct zone_kasp_parent_ds *was = zone_kasp_parent_find(&old, k);
        struct zone_kasp_parent_ds *d = &p->view.v[p->view.n++];
        bool all = (p->srv[0].mask & p->srv[1].mask & b) != 0;
        bool none = ((p->srv[0].mask | p->srv[1].mask) & b) == 0;
        d->tag = k->tag;
        d->algorithm = k->algorithm;
        d->checked = now;
        d->seen_since = all ? (was && was->seen_since >= 0 ? was->seen_since : now) : -1;
        d->gone_since = none ? (was && was->gone_since >= 0 ? was->gone_since : now) : -1;
    }
}

/* The pushes the daemon sends after the steps (server_kasp_parent_pushes):
 * the wanted KSK's DS while it is not at every server, else each
 * unwanted DS while a server has it. */
static void parent_push(struct parent_sim *p, const struct zone_kasp_keys *keys, int64_t now)
{
    int want = zone_kasp_sched_parent_ksk(keys, now);
    const struct zone_kasp_parent_ds *d =
        want >= 0 ? zone_kasp_parent_find(&p->view, &keys->v[want]) : NULL;
    if (d && d->seen_since < 0) {
        uint32_t wbit = 1u << keys->v[want].tag;
        if (p->accepts && !(p->srv[0].mask & wbit) && p->add_at < 0) {
            p->want_add = wbit;
            p->add_at = now + DREG;
        }
        return;
    }
    for (size_t i = 0; i < keys->n; i++) {
        const struct zone_kasp_key *k = &keys->v[i];
        d = zone_kasp_parent_find(&p->view, k);
        if (!zone_kasp_sched_ds_unwanted(k, now) || !d || d->gone_since >= 0)
            continue;
        if (p->first_del[k->tag] < 0)
            p->first_del[k->tag] = now;
        p->n_del++;
        uint32_t b = 1u << k->tag;
        if (p->accepts && !p->keeps_old && (p->srv[0].mask & b) && p->del_at < 0) {
            p->want_del = b;
            p->del_at = now + DREG;
        }
        return;
    }
}

static uint16_t next_tag = 1;

/* Applies the actions due at now as server_kasp.c does. */
static void step(struct zone_kasp_keys *keys, struct parent_sim *p, int64_t now)
{
    for (int i = 0; i < 16; i++) {
        struct zone_kasp_action a;
        zone_kasp_sched_next(&T, 0, KLIFE, keys, &p->view, now, &a);
        if (a.act == ZONE_KASP_ACT_NONE || a.at > now)
            return;
        struct zone_kasp_key *ak = &keys->v[a.key];
        const struct zone_kasp_parent_ds *d = zone_kasp_parent_find(&p->view, ak);
        if (a.act == ZONE_KASP_ACT_PURGE) {
            keys->v[a.key] = keys->v[--keys->n];
        } else if (a.act == ZONE_KASP_ACT_DS_SEEN) {
            zone_kasp_sched_ds_seen(&T, keys, a.key, d->seen_since);
            p->seen_at[ak->tag] = now;
        } else if (a.act == ZONE_KASP_ACT_DS_GONE) {
            zone_kasp_sched_ds_gone(&T, keys, a.key, d->gone_since, now);
            p->gone_at[ak->tag] = d->gone_since;
            p->retired_at[ak->tag] = ak->t[ZONE_KASP_T_RETIRED];
        } else if (a.act == ZONE_KASP_ACT_EVENT) {
            return; /* the daemon signs again; nothing to apply */
        } else {
            struct zone_kasp_key *k = &keys->v[keys->n++];
            memset(k, 0, sizeof(*k));
            k->ksk = a.act != ZONE_KASP_ACT_NEW_ZSK;
            k->algorithm = 13;
            k->tag = next_tag++;
            if (k->ksk)
                p->published_at[k->tag] = now;
            if (a.act == ZONE_KASP_ACT_ROLL_KSK)
                zone_kasp_sched_roll_ksk(&T, k, now);
            else
                zone_kasp_sched_first(k, now);
        }
    }
}

/* One check interval: the parent's view, the steps, the pushes. */
static void run_at(struct zone_kasp_keys *keys, struct parent_sim *p, int64_t now)
{
    parent_tick(p, keys, now);
    step(keys, p, now);
    parent_push(p, keys, now);
}

/* The KSK with tag in the zone at now, and whether it is in every
 * DNSKEY RRset a resolver may hold (published Ipub ago or more, or the
 * zone's first KSK). */
static bool ksk_in_zone(const struct zone_kasp_keys *keys, uint16_t tag, int64_t now, bool cached)
{
    for (size_t i = 0; i < keys->n; i++) {
        const struct zone_kasp_key *k = &keys->v[i];
        if (k->ksk && k->tag == tag && zone_kasp_key_published(k, now))
            return !cached || k->t[ZONE_KASP_T_PUBLISHED] == T0 ||
                   now - k->t[ZONE_KASP_T_PUBLISHED] >= IPUB;
    }
    return false;
}

/* Every DS set of either server that a cache may still hold at now (in
 * effect within the last TTLds) names only KSKs in the zone, and one
 * KSK that every cache has. */
static bool safe_at(struct tap *t, const struct zone_kasp_keys *keys, const struct parent_sim *p,
                    int64_t now)
{
    for (int s = 0; s < 2; s++) {
        const struct server_sim *sv = &p->srv[s];
        for (size_t h = 0; h < sv->n_hist; h++) {
            int64_t until = h + 1 < sv->n_hist ? sv->hist_t[h + 1] : now + 1;
            if (until + TTLDS <= now)
                continue; /* expired from every cache */
            bool one = false;
            for (uint16_t tag = 0; tag < MAX_TAG; tag++) {
                if (!(sv->hist_m[h] & (1u << tag)))
                    continue;
                if (!ksk_in_zone(keys, tag, now, false)) {
                    TAP_CHECK(t, 0,
                              "at %lld server %d's DS set 0x%x (from %lld) names KSK %u, which is "
                              "not in the zone",
                              (long long)(now - T0), s, sv->hist_m[h],
                              (long long)(sv->hist_t[h] - T0), tag);
                    return false;
                }
                one |= ksk_in_zone(keys, tag, now, true);
            }
            if (!one) {
                TAP_CHECK(t, 0,
                          "at %lld server %d's DS set 0x%x (from %lld) names no KSK every "
                          "cache has",
                          (long long)(now - T0), s, sv->hist_m[h], (long long)(sv->hist_t[h] - T0));
                return false;
            }
        }
    }
    return true;
}

/* The zone's first keys and the first DS, put at both servers by hand. */
static uint16_t start(struct zone_kasp_keys *keys, struct parent_sim *p)
{
    keys->n = 0;
    step(keys, p, T0);
    uint16_t first = keys->v[0].ksk ? keys->v[0].tag : keys->v[1].tag;
    /* There since long before: both servers have it DprpP before T0. */
    server_set(&p->srv[0], 1u << first, T0 - LAG);
    server_set(&p->srv[1], 1u << first, T0 - LAG);
    return first;
}

static size_t count_ksks(const struct zone_kasp_keys *keys)
{
    size_t n = 0;
    for (size_t i = 0; i < keys->n; i++)
        n += keys->v[i].ksk;
    return n;
}

/* The checks of one rollover, made when KSK k has just become current
 * and prev was the one before. */
static void check_roll(struct tap *t, const struct zone_kasp_key *k, int64_t prev_act, int rolls)
{
    TAP_CHECK(t, k->t[ZONE_KASP_T_PUBLISHED] == prev_act + KLIFE - IPUB,
              "roll %d: Tpub(new) = Tact(old) + lifetime - Ipub", rolls);
    TAP_CHECK(t, k->t[ZONE_KASP_T_READY] == k->t[ZONE_KASP_T_PUBLISHED] + IPUB,
              "roll %d: Trdy = Tpub + Ipub", rolls);
    /* The DS goes up at Trdy, shows at the primary Dreg later and at the
     * secondary DprpP after that, seen at that check (one STEP at most):
     * Tact = seen + IpubP + retire_safety. */
    int64_t seen_min = k->t[ZONE_KASP_T_READY] + DREG + LAG;
    int64_t lo = seen_min + IPUBP + SAFETY, hi = lo + 2 * STEP;
    TAP_CHECK(t, k->t[ZONE_KASP_T_ACTIVE] >= lo && k->t[ZONE_KASP_T_ACTIVE] <= hi,
              "roll %d: Tact = DS seen + IpubP + retire_safety (%lld in [%lld, %lld])", rolls,
              (long long)(k->t[ZONE_KASP_T_ACTIVE] - T0), (long long)(lo - T0),
              (long long)(hi - T0));
}

/* The checks of an old KSK's way out, once it has left. */
static void check_old_out(struct tap *t, const struct parent_sim *p, uint16_t old, uint16_t new,
                          int64_t new_act)
{
    TAP_CHECK(t, p->seen_at[new] >= 0 && p->first_del[old] == p->seen_at[new],
              "KSK %u: its DS delete is pushed in the run that saw the new DS everywhere (%lld, "
              "%lld)",
              old, (long long)(p->first_del[old] - T0), (long long)(p->seen_at[new] - T0));
    TAP_CHECK(t, p->gone_at[old] == p->first_del[old] + DREG + LAG,
              "KSK %u: its DS gone from both servers Dreg + DprpP after the delete (%lld)", old,
              (long long)(p->gone_at[old] - T0));
    int64_t want = p->gone_at[old] + TTLDS + SAFETY;
    if (want < new_act)
        want = new_act;
    TAP_CHECK(t, p->retired_at[old] == want,
              "KSK %u: it leaves the zone at max(Tact(new), gone + TTLds + retire_safety) "
              "(%lld; want %lld)",
              old, (long long)(p->retired_at[old] - T0), (long long)(want - T0));
}

static void test_two_rollovers(struct tap *t)
{
    struct zone_kasp_keys keys;
    struct parent_sim p;
    parent_init(&p, true, false);
    uint16_t prev = start(&keys, &p);
    bool ok = true, overdue = false, stale = false;
    int rolls = 0;
    uint16_t tags[3] = {prev, 0, 0};
    int64_t acts[3] = {T0, 0, 0};
    /* Two rollovers of KLIFE + Dreg + DprpP + IpubP + retire_safety each,
     * then Dreg for the last old DS to go, TTLds after that (less IpubP
     * already passed) for it to leave, and a few checks. */
    int64_t per = KLIFE + DREG + LAG + IPUBP + SAFETY;
    int64_t end = T0 + 2 * per + DREG + 20 * STEP;
    for (int64_t now = T0; now <= end && ok; now += STEP) {
        run_at(&keys, &p, now);
        ok = safe_at(t, &keys, &p, now);
        int64_t since;
        /* The new DS shows Dreg + DprpP after the push, seen at the next
         * check; the old one goes as fast. */
        overdue |= zone_kasp_sched_ds_overdue(&keys, now, DREG + LAG + 2 * STEP, &since) >= 0;
        stale |= zone_kasp_sched_ds_stale(&keys, now, DREG + LAG + 2 * STEP, &since) >= 0;
        int cur = zone_kasp_sched_current_ksk(&keys, now);
        if (!ok || cur < 0 || keys.v[cur].tag == prev || rolls >= 2)
            continue;
        rolls++;
        check_roll(t, &keys.v[cur], acts[rolls - 1], rolls);
        prev = tags[rolls] = keys.v[cur].tag;
        acts[rolls] = keys.v[cur].t[ZONE_KASP_T_ACTIVE];
    }
    TAP_CHECK(t, ok, "every step of two KSK rollovers is safe");
    TAP_CHECK(t, rolls == 2, "two KSK rollovers (got %d)", rolls);
    for (int r = 1; r <= rolls; r++)
        check_old_out(t, &p, tags[r - 1], tags[r], acts[r]);
    TAP_CHECK(t, count_ksks(&keys) == 1,
              "the old KSKs left the zone and the store once their DS was gone (%zu KSKs)",
              count_ksks(&keys));
    int64_t since;
    TAP_CHECK(t, zone_kasp_sched_ds_waiting(&keys, end, &since) < 0,
              "no KSK waits for its DS once the rollovers are done");
    TAP_CHECK(t, !overdue, "a parent that publishes within Dreg never raises the DS alarm");
    TAP_CHECK(t, !stale, "a parent that deletes within Dreg never raises the old-DS alarm");
    TAP_CHECK(t, !zone_kasp_sched_parent_wanted(&keys, end),
              "and the parent is not asked any more");
}

/* Runs the scheduler and the parent every STEP from T0 to end while every
 * step is safe (safe_at); false at the first unsafe one. */
static bool run_safe(struct tap *t, struct zone_kasp_keys *keys, struct parent_sim *p, int64_t end)
{
    bool ok = true;
    for (int64_t now = T0; now <= end && ok; now += STEP) {
        run_at(keys, p, now);
        ok = safe_at(t, keys, p, now);
    }
    return ok;
}

static void test_parent_refuses(struct tap *t)
{
    struct zone_kasp_keys keys;
    struct parent_sim p;
    parent_init(&p, false, false);
    uint16_t first = start(&keys, &p);
    int64_t end = T0 + 3 * (int64_t)KLIFE;
    bool ok = run_safe(t, &keys, &p, end);
    TAP_CHECK(t, ok, "every step is safe while the parent refuses the DS");
    int cur = zone_kasp_sched_current_ksk(&keys, end);
    int succ = zone_kasp_sched_ksk_successor(&keys, end);
    TAP_CHECK(t, cur >= 0 && keys.v[cur].tag == first && zone_kasp_key_published(&keys.v[cur], end),
              "the old KSK stays published and current");
    TAP_CHECK(t, succ >= 0 && keys.v[succ].t[ZONE_KASP_T_ACTIVE] < 0,
              "its successor waits for the DS, active never set");
    TAP_CHECK(t, p.n_del == 0 && keys.v[cur].t[ZONE_KASP_T_RETIRE_ACTIVE] < 0,
              "the old DS is never unwanted, no delete is pushed");
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
    TAP_CHECK(t, zone_kasp_sched_ds_stale(&keys, end, 1, &since) < 0,
              "no old-DS alarm: no DS is unwanted");
    /* No parent server configured: a seen DS does not count. */
    p.view.n_servers = 0;
    struct zone_kasp_action a;
    zone_kasp_sched_next(&T, 0, KLIFE, &keys, &p.view, end, &a);
    TAP_CHECK(t, a.act != ZONE_KASP_ACT_DS_SEEN, "without parent servers nothing is seen");
}

/* The end of test_parent_keeps_old_ds: the parent deletes the old DS at
 * last; the old KSK leaves then, and the rollover that was held starts. */
static void test_old_ds_goes_at_last(struct tap *t, struct zone_kasp_keys *keys,
                                     struct parent_sim *p, uint16_t first, uint16_t second,
                                     int64_t from)
{
    p->keeps_old = false;
    bool ok = true;
    int64_t end = from + DREG + LAG + TTLDS + SAFETY + 20 * STEP, third_at = -1;
    for (int64_t now = from; now <= end && ok; now += STEP) {
        run_at(keys, p, now);
        ok = safe_at(t, keys, p, now);
        if (third_at < 0 && count_ksks(keys) >= 2 && !ksk_in_zone(keys, first, now, false))
            for (size_t i = 0; i < keys->n; i++)
                if (keys->v[i].ksk && keys->v[i].tag != second)
                    third_at = keys->v[i].t[ZONE_KASP_T_PUBLISHED];
    }
    TAP_CHECK(t, ok, "every step is safe while the old DS finally goes");
    TAP_CHECK(t, p->gone_at[first] == from + DREG + LAG,
              "the old DS is gone Dreg + DprpP after the parent took the delete (%lld)",
              (long long)(p->gone_at[first] - from));
    TAP_CHECK(t, p->retired_at[first] == p->gone_at[first] + TTLDS + SAFETY,
              "the old KSK leaves the zone TTLds + retire_safety after its DS is gone");
    TAP_CHECK(t, third_at == p->retired_at[first],
              "the next KSK rollover, due long ago, starts as the old KSK leaves (%lld, %lld)",
              (long long)(third_at - T0), (long long)(p->retired_at[first] - T0));
}

static void test_parent_keeps_old_ds(struct tap *t)
{
    struct zone_kasp_keys keys;
    struct parent_sim p;
    parent_init(&p, true, true);
    uint16_t first = start(&keys, &p);
    int64_t end = T0 + 3 * (int64_t)KLIFE;
    bool ok = run_safe(t, &keys, &p, end);
    TAP_CHECK(t, ok, "every step is safe while the parent keeps the old DS");
    int cur = zone_kasp_sched_current_ksk(&keys, end);
    int old = -1;
    for (size_t i = 0; i < keys.n; i++)
        if (keys.v[i].tag == first)
            old = (int)i;
    TAP_CHECK(t, cur >= 0 && keys.v[cur].tag != first, "the new KSK is active");
    TAP_CHECK(t, count_ksks(&keys) == 2 && old >= 0, "two KSKs: the old one never leaves");
    if (cur < 0 || old < 0)
        return;
    const struct zone_kasp_key *o = &keys.v[old], *n = &keys.v[cur];
    uint16_t second = n->tag;
    TAP_CHECK(t,
              zone_kasp_key_published(o, end) && zone_kasp_key_signs(o, end) &&
                  o->t[ZONE_KASP_T_RETIRED] < 0 && o->t[ZONE_KASP_T_REMOVED] < 0,
              "the old KSK stays in the DNSKEY RRset, signing it, Tret unset");
    TAP_CHECK(t, o->t[ZONE_KASP_T_RETIRE_ACTIVE] == p.seen_at[second],
              "its DS unwanted since the new DS was seen at every server");
    TAP_CHECK(t, p.first_del[first] == p.seen_at[second] && p.n_del > 1,
              "the delete was pushed then, and again at every check (%u)", p.n_del);
    int64_t since = 0, un = o->t[ZONE_KASP_T_RETIRE_ACTIVE];
    TAP_CHECK(t, zone_kasp_sched_ds_leaving(&keys, end, &since) == old && since == un,
              "the old KSK waits for its DS to leave since then");
    TAP_CHECK(t, zone_kasp_sched_ds_stale(&keys, un + 86399, 86400, &since) < 0,
              "old-DS alarm: not a second before the bound");
    TAP_CHECK(t, zone_kasp_sched_ds_stale(&keys, un + 86400, 86400, &since) == old,
              "old-DS alarm at the bound");
    TAP_CHECK(t, zone_kasp_sched_ds_stale(&keys, end, 0, &since) < 0, "a bound of 0: never");
    TAP_CHECK(t, zone_kasp_sched_ds_overdue(&keys, end, 1, &since) < 0,
              "no new-DS alarm: the new DS is there");
    TAP_CHECK(t, zone_kasp_sched_parent_wanted(&keys, end), "the parent is still asked");
    TAP_CHECK(t, zone_kasp_sched_parent_ksk(&keys, end) == cur, "CDS names the new KSK only");
    struct zone_kasp_action a;
    zone_kasp_sched_next(&T, 0, KLIFE, &keys, &p.view, end, &a);
    TAP_CHECK(t,
              end > n->t[ZONE_KASP_T_ACTIVE] + KLIFE && a.act != ZONE_KASP_ACT_ROLL_KSK &&
                  a.act != ZONE_KASP_ACT_DS_GONE,
              "no new rollover though the new KSK's lifetime is up (next: %s)",
              zone_kasp_act_name(a.act));
    test_old_ds_goes_at_last(t, &keys, &p, first, second, end + STEP);
}

static void test_abandon(struct tap *t)
{
    struct zone_kasp_keys keys;
    struct parent_sim p;
    parent_init(&p, false, false);
    start(&keys, &p);
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
    int64_t since;
    TAP_CHECK(t,
              zone_kasp_sched_ds_unwanted(n, T0 + 20) &&
                  zone_kasp_sched_ds_leaving(&keys, T0 + 20, &since) < 0,
              "its DS is unwanted, and no KSK waits in the zone for it to go");
    p.view.n_servers = 1;
    p.view.n = 1;
    p.view.v[0] = (struct zone_kasp_parent_ds){
        .tag = 30, .algorithm = 0, .seen_since = -1, .gone_since = T0 + 20, .checked = T0 + 20};
    struct zone_kasp_action a;
    zone_kasp_sched_next(&T, 0, 0, &keys, &p.view, T0 + 20, &a);
    TAP_CHECK(t, a.act == ZONE_KASP_ACT_DS_GONE && a.key == 2,
              "and its files go once no parent server has its DS");
    zone_kasp_sched_ds_gone(&T, &keys, 2, T0 + 20, T0 + 30);
    TAP_CHECK(t, n->t[ZONE_KASP_T_REMOVED] == T0 + 30 && n->t[ZONE_KASP_T_RETIRED] == T0 + 20,
              "at once: it left the zone before");
}

int main(void)
{
    struct tap t = {0};
    test_two_rollovers(&t);
    test_parent_refuses(&t);
    test_parent_keeps_old_ds(&t);
    test_abandon(&t);
    return tap_done(&t);
}

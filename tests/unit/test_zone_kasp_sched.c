/* Unit tests for the key manager's scheduler (src/zone/zone_kasp_sched.c):
 * a zone's first keys, then the ZSK rollover by pre-publication driven
 * the way the daemon drives it (the next action applied when due) through
 * three rollovers, with each time checked against RFC 7583 section 3.2.1
 * (Tpub(new) = Tact(old) + lifetime - Ipub, Tact(new) = Tret(old) =
 * Tact(old) + lifetime, Trem(old) = Tret(old) + Iret), and every second
 * of the run checked for what makes it safe: one ZSK signs, it was
 * published at least Ipub before it signs (the first excepted), a ZSK
 * stays published Iret after it stops signing, never more than two ZSKs
 * are published. Then a late timer, an emergency rollover, and a forced
 * one. The daemon serves a successor's DNSKEY RRset only after it made
 * the key and re-signed the zone, so a step here serves it SERVED s after
 * Tpub and the ready stage (Ipub) counts from then
 * (zone_kasp_sched_served); test_served checks that rule alone. */
#include <string.h>

#include "tap.h"
#include "zone/zone_kasp_sched.h"

/* Production-like durations: Ipub = 3600 + 3600 + 600 = 7800,
 * Iret = 0 + 3600 + 86400 + 600 = 90600. */
static const struct zone_kasp_timing T = {.dprp = 3600,
                                          .ttl_key = 3600,
                                          .ttl_sig = 86400,
                                          .publish_safety = 600,
                                          .retire_safety = 600,
                                          .dprp_parent = 3600,
                                          .ttl_ds = 86400,
                                          .dreg = 86400};
#define IPUB 7800
#define IRET 90600
#define LIFE (30 * 86400)
#define T0 1700000000
#define SERVED 1 /* the re-sign that serves a new key ends within the second after */

/* Applies actions due at now as the daemon does (a made key gets the
 * next index; a purged key leaves the list). */
static uint16_t next_tag = 1; /* unique tags: indexes move when a key leaves */

static void step(struct zone_kasp_keys *keys, int64_t now)
{
    for (int i = 0; i < 16; i++) {
        struct zone_kasp_action a;
        zone_kasp_sched_next(&T, LIFE, 0, keys, NULL, now, &a);
        if (a.act == ZONE_KASP_ACT_NONE || a.at > now)
            return;
        if (a.act == ZONE_KASP_ACT_PURGE) {
            keys->v[a.key] = keys->v[--keys->n];
            continue;
        }
        struct zone_kasp_key *k = &keys->v[keys->n++];
        memset(k, 0, sizeof(*k));
        k->ksk = a.act == ZONE_KASP_ACT_NEW_KSK;
        k->tag = next_tag++;
        if (a.act == ZONE_KASP_ACT_ROLL_ZSK) {
            zone_kasp_sched_roll_zsk(&T, &keys->v[a.key], k, now, a.at, false);
            zone_kasp_sched_served(&T, keys, now + SERVED, now);
        } else
            zone_kasp_sched_first(k, now);
    }
}

/* The safety rules at second now; false (with a diagnostic) at the first
 * broken one. */
static bool safe_at(struct tap *t, const struct zone_kasp_keys *keys, int64_t now)
{
    int signing = 0, published = 0;
    for (size_t i = 0; i < keys->n; i++) {
        const struct zone_kasp_key *k = &keys->v[i];
        if (k->ksk)
            continue;
        published += zone_kasp_key_published(k, now);
        if (zone_kasp_key_signs(k, now)) {
            signing++;
            if (k->t[ZONE_KASP_T_PUBLISHED] != T0 && now - k->t[ZONE_KASP_T_PUBLISHED] < IPUB) {
                TAP_CHECK(t, 0, "at %lld ZSK %u signs %lld s after publication (< Ipub)",
                          (long long)now, k->tag, (long long)(now - k->t[ZONE_KASP_T_PUBLISHED]));
                return false;
            }
        }
        int64_t ra = k->t[ZONE_KASP_T_RETIRE_ACTIVE];
        if (ra >= 0 && now >= ra && now < ra + IRET && !zone_kasp_key_published(k, now)) {
            TAP_CHECK(t, 0, "at %lld ZSK %u withdrawn before Iret after it stopped signing",
                      (long long)now, k->tag);
            return false;
        }
    }
    if (signing != 1 || published > 2) {
        TAP_CHECK(t, 0, "at %lld: %d ZSKs sign, %d published", (long long)now, signing, published);
        return false;
    }
    return true;
}

static void test_first_keys(struct tap *t)
{
    struct zone_kasp_keys keys = {.n = 0};
    struct zone_kasp_action a;
    zone_kasp_sched_next(&T, LIFE, 0, &keys, NULL, T0, &a);
    TAP_CHECK(t, a.act == ZONE_KASP_ACT_NEW_KSK && a.at == T0, "an empty store gets a KSK now");
    step(&keys, T0);
    TAP_CHECK(t, keys.n == 2 && keys.v[0].ksk && !keys.v[1].ksk, "a KSK and a ZSK are made");
    TAP_CHECK(t, zone_kasp_key_signs(&keys.v[1], T0) && zone_kasp_key_signs(&keys.v[0], T0),
              "both sign at once (nothing was cached before)");
    TAP_CHECK(t, strcmp(zone_kasp_key_state(&keys.v[1], T0), "active") == 0, "state active");
    zone_kasp_sched_next(&T, LIFE, 0, &keys, NULL, T0, &a);
    TAP_CHECK(t, a.act == ZONE_KASP_ACT_ROLL_ZSK && a.at == T0 + LIFE - IPUB,
              "the successor is due at Tact + lifetime - Ipub = %lld (got %lld)",
              (long long)(T0 + LIFE - IPUB), (long long)a.at);
}

/* The next second to look at after now: 100 s on, or the next action's
 * second when sooner. */
static int64_t next_check(const struct zone_kasp_keys *keys, int64_t now)
{
    struct zone_kasp_action a;
    zone_kasp_sched_next(&T, LIFE, 0, keys, NULL, now, &a);
    if (a.act != ZONE_KASP_ACT_NONE && a.at > now && a.at < now + 100)
        return a.at;
    return now + 100;
}

static void test_three_rollovers(struct tap *t)
{
    struct zone_kasp_keys keys = {.n = 0};
    int64_t end = T0 + 3 * (int64_t)LIFE + IPUB + 2 * IRET;
    uint16_t prev_tag = 0;
    int64_t prev_act = T0;
    int rolls = 0;
    bool ok = true;
    /* Every 100 s and at each action's second (the serve lag puts the
     * later ones off the hundred). */
    for (int64_t now = T0; now <= end && ok; now = next_check(&keys, now)) {
        step(&keys, now);
        ok = safe_at(t, &keys, now);
        int cur = zone_kasp_sched_current_zsk(&keys, now);
        if (ok && cur >= 0 && keys.v[cur].tag != prev_tag) {
            const struct zone_kasp_key *k = &keys.v[cur];
            if (prev_tag) {
                rolls++;
                TAP_CHECK(t, k->t[ZONE_KASP_T_PUBLISHED] == prev_act + LIFE - IPUB,
                          "roll %d: Tpub(new) = Tact(old) + lifetime - Ipub", rolls);
                TAP_CHECK(t, k->t[ZONE_KASP_T_ACTIVE] == prev_act + LIFE + SERVED,
                          "roll %d: Tact(new) = Trdy = Tact(old) + lifetime + the serve lag",
                          rolls);
                TAP_CHECK(t, k->t[ZONE_KASP_T_READY] == k->t[ZONE_KASP_T_PUBLISHED] + SERVED + IPUB,
                          "roll %d: Trdy = when the new DNSKEY was served + Ipub", rolls);
                for (size_t i = 0; i < keys.n; i++)
                    if (keys.v[i].tag == prev_tag)
                        TAP_CHECK(
                            t,
                            keys.v[i].t[ZONE_KASP_T_RETIRE_ACTIVE] == prev_act + LIFE + SERVED &&
                                keys.v[i].t[ZONE_KASP_T_RETIRED] == prev_act + LIFE + SERVED + IRET,
                            "roll %d: Tret(old) = Tact(new), Trem(old) = Tret + Iret", rolls);
            }
            prev_tag = k->tag;
            prev_act = k->t[ZONE_KASP_T_ACTIVE];
        }
    }
    TAP_CHECK(t, ok, "every second of 3 rollovers is safe");
    TAP_CHECK(t, rolls == 3, "three ZSK rollovers (got %d)", rolls);
    TAP_CHECK(t, keys.n == 2, "the removed ZSKs left the store (%zu keys)", keys.n);
}

static void test_late_and_emergency(struct tap *t)
{
    struct zone_kasp_keys keys = {.n = 0};
    step(&keys, T0);
    /* The daemon was down when the successor was due: published when it
     * runs again, active Ipub after it is served, never sooner. */
    int64_t late = T0 + LIFE + 5000;
    step(&keys, late);
    TAP_CHECK(t,
              keys.n == 3 && keys.v[2].t[ZONE_KASP_T_PUBLISHED] == late &&
                  keys.v[2].t[ZONE_KASP_T_ACTIVE] == late + SERVED + IPUB,
              "a late successor is active Ipub after it is served");
    TAP_CHECK(t,
              zone_kasp_key_signs(&keys.v[1], late + SERVED + IPUB - 1) &&
                  !zone_kasp_key_signs(&keys.v[1], late + SERVED + IPUB),
              "the old ZSK signs until then");
    TAP_CHECK(t, zone_kasp_sched_has_successor(&keys, 1), "it has a successor");

    struct zone_kasp_keys e = {.n = 0};
    step(&e, T0);
    struct zone_kasp_key n;
    zone_kasp_sched_roll_zsk(&T, &e.v[1], &n, T0 + 10, T0 + 10 - IPUB, false);
    TAP_CHECK(t,
              n.t[ZONE_KASP_T_ACTIVE] == T0 + 10 + IPUB &&
                  e.v[1].t[ZONE_KASP_T_RETIRED] == T0 + 10 + IPUB + IRET,
              "an emergency rollover keeps pre-publication's timing");
    struct zone_kasp_keys f = {.n = 0};
    step(&f, T0);
    zone_kasp_sched_roll_zsk(&T, &f.v[1], &n, T0 + 10, T0 + 10, true);
    TAP_CHECK(t,
              n.t[ZONE_KASP_T_ACTIVE] == T0 + 10 && f.v[1].t[ZONE_KASP_T_RETIRE_ACTIVE] == T0 + 10,
              "a forced one signs with the new key at once");
    TAP_CHECK(t, f.v[1].t[ZONE_KASP_T_RETIRED] == T0 + 10 + IRET,
              "and keeps the old key published Iret more");
}

/* The API's rollovers: the key is published at the second of the call
 * (rounded down) and the zone re-signed after; the set with it is served
 * 2 s later (a slow re-sign). Each stage then lasts its whole length from
 * when it was served; once only; a forced key still signs at once. */
static void test_served(struct tap *t)
{
    struct zone_kasp_keys e = {.n = 0};
    step(&e, T0);
    struct zone_kasp_keys first = e;
    TAP_CHECK(t,
              zone_kasp_sched_served(&T, &e, T0 + 2, T0 + 1) == 0 &&
                  memcmp(&e, &first, sizeof(e)) == 0,
              "first keys (active at once) never move");
    struct zone_kasp_key *n = &e.v[e.n++], *c = &e.v[1];
    zone_kasp_sched_roll_zsk(&T, c, n, T0 + 10, T0 + 10, false);
    struct zone_kasp_keys before = e;
    TAP_CHECK(t,
              zone_kasp_sched_served(&T, &e, T0 + 10, T0 + 10) == 0 &&
                  memcmp(&e, &before, sizeof(e)) == 0,
              "served within Tpub's second: nothing to move");
    TAP_CHECK(t, zone_kasp_sched_served(&T, &e, T0 + 12, T0 + 11) == 1u << 2,
              "served at Tpub + 2: the new ZSK moves");
    TAP_CHECK(t,
              n->t[ZONE_KASP_T_PUBLISHED] == T0 + 10 && n->t[ZONE_KASP_T_CREATED] == T0 + 10 &&
                  n->t[ZONE_KASP_T_READY] == T0 + 12 + IPUB &&
                  n->t[ZONE_KASP_T_ACTIVE] == T0 + 12 + IPUB,
              "in the zone since Tpub, ready and active Ipub after it was served");
    TAP_CHECK(t,
              c->t[ZONE_KASP_T_ACTIVE] == T0 && c->t[ZONE_KASP_T_RETIRE_ACTIVE] == T0 + 12 + IPUB &&
                  c->t[ZONE_KASP_T_RETIRED] == T0 + 12 + IPUB + IRET &&
                  c->t[ZONE_KASP_T_REMOVED] == T0 + 12 + IPUB + 2 * IRET,
              "the old ZSK signs until then, leaves Iret later, its files Iret after");
    TAP_CHECK(t, e.v[0].t[ZONE_KASP_T_RETIRED] == -1 && e.v[0].t[ZONE_KASP_T_ACTIVE] == T0,
              "the KSK does not move");
    struct zone_kasp_keys moved = e;
    TAP_CHECK(t,
              zone_kasp_sched_served(&T, &e, T0 + 20, T0 + 19) == 0 &&
                  memcmp(&e, &moved, sizeof(e)) == 0,
              "a later re-sign moves nothing again");
    e = before;
    TAP_CHECK(t, zone_kasp_sched_served(&T, &e, T0 + 10 + IPUB + 1, T0 + 10 + IPUB) == 0,
              "a first serve seen only once the key is ready (a restart): nothing moves");

    /* Forced: the new ZSK signs at once, and the old one stops at once. */
    e = first;
    n = &e.v[e.n++];
    c = &e.v[1];
    zone_kasp_sched_roll_zsk(&T, c, n, T0 + 10, T0 + 10, true);
    TAP_CHECK(t,
              zone_kasp_sched_served(&T, &e, T0 + 11, T0 + 10) == 1u << 2 &&
                  n->t[ZONE_KASP_T_READY] == T0 + 11 + IPUB &&
                  n->t[ZONE_KASP_T_ACTIVE] == T0 + 10 &&
                  c->t[ZONE_KASP_T_RETIRE_ACTIVE] == T0 + 10 &&
                  c->t[ZONE_KASP_T_RETIRED] == T0 + 10 + IRET,
              "forced: ready moves, active stays at Tpub, the old key's times stay");

    /* A scheduled successor whose old key's lifetime ends after its Trdy:
     * its Tact is the lifetime's, not the ready stage's, and stays. */
    e = first;
    n = &e.v[e.n++];
    c = &e.v[1];
    zone_kasp_sched_roll_zsk(&T, c, n, T0 + 10, T0 + 10 + 100, false);
    TAP_CHECK(t,
              zone_kasp_sched_served(&T, &e, T0 + 11, T0 + 10) == 1u << 2 &&
                  n->t[ZONE_KASP_T_READY] == T0 + 11 + IPUB &&
                  n->t[ZONE_KASP_T_ACTIVE] == T0 + 110 + IPUB &&
                  c->t[ZONE_KASP_T_RETIRE_ACTIVE] == T0 + 110 + IPUB,
              "active when the old key's lifetime ends, later than the moved Trdy");

    /* A KSK: ready (its CDS, DS push and DS wait) Ipub after served; its
     * Tact waits for the DS as before. */
    e = first;
    n = &e.v[e.n++];
    memset(n, 0, sizeof(*n));
    n->ksk = true;
    zone_kasp_sched_roll_ksk(&T, n, T0 + 10);
    TAP_CHECK(t,
              zone_kasp_sched_served(&T, &e, T0 + 12, T0 + 10) == 1u << 2 &&
                  n->t[ZONE_KASP_T_PUBLISHED] == T0 + 10 &&
                  n->t[ZONE_KASP_T_READY] == T0 + 12 + IPUB && n->t[ZONE_KASP_T_ACTIVE] == -1 &&
                  e.v[0].t[ZONE_KASP_T_RETIRED] == -1,
              "a new KSK is ready Ipub after it was served; nothing else moves");
}

int main(void)
{
    struct tap t = {0};
    test_first_keys(&t);
    test_three_rollovers(&t);
    test_late_and_emergency(&t);
    test_served(&t);
    return tap_done(&t);
}

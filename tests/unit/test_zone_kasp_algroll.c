/* Unit tests for the algorithm rollover's schedule
 * (src/zone/zone_kasp_algroll.c, RFC 6781 4.1.4): each step's time
 * against the formulas, and a sweep over the whole rollover every 100 s
 * that checks what makes it safe for a validator that wants an RRSIG of
 * every algorithm of the DNSKEY RRset it holds (RFC 4035 2.2):
 *   - every algorithm of a DNSKEY RRset a cache may hold (published within
 *     the last Dprp + TTLkey) has a ZSK signing now;
 *   - a DNSKEY goes in only when its algorithm's signatures have been
 *     served for Dprp + TTLsig (every cached RRset carries one);
 *   - every DS a cache may hold names a KSK that is published now. */
#include <string.h>

#include "tap.h"
#include "zone/zone_kasp_algroll.h"

/* Ipub-like sums: Dprp + TTLsig + publish_safety = 3600 + 86400 + 600. */
static const struct zone_kasp_timing T = {.dprp = 3600,
                                          .ttl_key = 3600,
                                          .ttl_sig = 86400,
                                          .publish_safety = 600,
                                          .retire_safety = 600,
                                          .dprp_parent = 3600,
                                          .ttl_ds = 86400,
                                          .dreg = 86400};
#define T0 1700000000
#define TKEYS (T0 + 3600 + 86400 + 600)           /* t0 + Dsgn + Dprp + TTLsig + publish_safety */
#define TRDY (TKEYS + 3600 + 3600 + 600)          /* + Dprp + TTLkey + publish_safety */
#define TSWAP (TRDY + 86400 + 3600 + 86400 + 600) /* + Dreg + DprpP + TTLds + retire_safety */
#define TEND (TSWAP + 3600 + 3600 + 600)          /* + Dprp + TTLkey + retire_safety */
#define STEP 100

static void key(struct zone_kasp_keys *ks, uint16_t tag, uint8_t alg, bool ksk, int64_t act)
{
    struct zone_kasp_key *k = &ks->v[ks->n++];
    memset(k, 0, sizeof(*k));
    k->tag = tag;
    k->algorithm = alg;
    k->ksk = ksk;
    for (int i = 0; i < ZONE_KASP_T_N; i++)
        k->t[i] = i <= ZONE_KASP_T_ACTIVE ? act : -1;
}

/* Two old keys of algorithm 13 and two new of 15 (indices 2 and 3). */
static void start(struct zone_kasp_keys *ks, bool by_parent)
{
    ks->n = 0;
    key(ks, 1, 13, true, T0 - 86400 * 30);
    key(ks, 2, 13, false, T0 - 86400 * 30);
    key(ks, 3, 15, true, T0);
    key(ks, 4, 15, false, T0);
    zone_kasp_algroll_start(&T, ks, 2, 3, T0, by_parent);
}

static void test_times(struct tap *t)
{
    struct zone_kasp_keys ks;
    start(&ks, false);
    const struct zone_kasp_key *ok = &ks.v[0], *oz = &ks.v[1], *nk = &ks.v[2], *nz = &ks.v[3];
    TAP_CHECK(t, nz->t[ZONE_KASP_T_ACTIVE] == T0 && nz->t[ZONE_KASP_T_PUBLISHED] == TKEYS,
              "the new ZSK signs at t0, its DNSKEY goes in at t0 + Dprp + TTLsig + "
              "publish_safety (%lld)",
              (long long)nz->t[ZONE_KASP_T_PUBLISHED]);
    TAP_CHECK(t, nk->t[ZONE_KASP_T_PUBLISHED] == TKEYS && nk->t[ZONE_KASP_T_READY] == TRDY,
              "the new KSK is published with it and ready Dprp + TTLkey + publish_safety later");
    TAP_CHECK(t, nk->t[ZONE_KASP_T_ACTIVE] == TSWAP,
              "without a parent check, the swap is Dreg + DprpP + TTLds + retire_safety after "
              "Trdy (%lld)",
              (long long)nk->t[ZONE_KASP_T_ACTIVE]);
    TAP_CHECK(t, ok->t[ZONE_KASP_T_RETIRED] == TSWAP && ok->t[ZONE_KASP_T_RETIRE_ACTIVE] == TSWAP,
              "the old KSK leaves the DNSKEY RRset at the swap");
    TAP_CHECK(t, oz->t[ZONE_KASP_T_RETIRED] == TSWAP && oz->t[ZONE_KASP_T_RETIRE_ACTIVE] == TEND,
              "the old ZSK's DNSKEY leaves at the swap, its RRSIGs Dprp + TTLkey + "
              "retire_safety later");
    TAP_CHECK(t, oz->t[ZONE_KASP_T_REMOVED] == TEND && ok->t[ZONE_KASP_T_REMOVED] == TEND,
              "the old keys' files go at the end");
    TAP_CHECK(t, zone_kasp_key_signs(nz, T0) && !zone_kasp_key_published(nz, T0),
              "at t0 the new ZSK signs unpublished");
    TAP_CHECK(t, zone_kasp_key_signs(oz, TSWAP) && !zone_kasp_key_published(oz, TSWAP),
              "at the swap the old ZSK signs unpublished");
    TAP_CHECK(t, !zone_kasp_key_signs(oz, TEND), "at the end the old ZSK signs no more");
    TAP_CHECK(t, !zone_kasp_key_signs(nk, TKEYS - 1) && zone_kasp_key_signs(nk, TKEYS),
              "the new KSK signs the DNSKEY RRset from its publication");
}

/* Whether a key of alg with role ksk satisfies pred at some time in [a, b]
 * (checked at STEP and at b). */
static bool some(const struct zone_kasp_keys *ks, uint8_t alg, bool zsk_only,
                 bool (*pred)(const struct zone_kasp_key *, int64_t), int64_t a, int64_t b)
{
    for (size_t i = 0; i < ks->n; i++) {
        if (ks->v[i].algorithm != alg || (zsk_only && ks->v[i].ksk))
            continue;
        for (int64_t x = a;; x += STEP) {
            if (x > b)
                x = b;
            if (pred(&ks->v[i], x))
                return true;
            if (x == b)
                break;
        }
    }
    return false;
}

/* The sweep's three rules at every STEP from t0 - 1 day to the end + 1 day;
 * ds_at: when the parent's DS set had the new KSK's DS at every server;
 * old_until: when no cache can hold a DS set with the old KSK's DS. */
static void sweep(struct tap *t, const struct zone_kasp_keys *ks, int64_t ds_at, int64_t old_until,
                  int64_t end, const char *what)
{
    int bad_sig = 0, bad_pub = 0, bad_ds = 0;
    const uint8_t algs[2] = {13, 15};
    for (int64_t now = T0 - 86400; now <= end + 86400; now += STEP) {
        for (int a = 0; a < 2; a++) {
            int64_t cache = now - T.dprp - T.ttl_key;
            if (some(ks, algs[a], false, zone_kasp_key_published, cache, now) &&
                !some(ks, algs[a], true, zone_kasp_key_signs, now, now))
                bad_sig++;
            /* A DNSKEY of alg now: its signatures served since Dprp + TTLsig ago. */
            if (some(ks, algs[a], false, zone_kasp_key_published, now, now) &&
                !some(ks, algs[a], true, zone_kasp_key_signs, now - T.dprp - T.ttl_sig,
                      now - T.dprp - T.ttl_sig))
                bad_pub++;
        }
        /* A DS set, listed or cached: the old KSK's until old_until, the
         * new KSK's from ds_at. */
        bool old_ds = now < old_until;
        bool new_ds = now >= ds_at;
        if ((old_ds && !zone_kasp_key_published(&ks->v[0], now)) ||
            (new_ds && !zone_kasp_key_published(&ks->v[2], now)))
            bad_ds++;
    }
    TAP_CHECK(t, bad_sig == 0, "%s: every cached DNSKEY algorithm has a signing ZSK (%d bad)", what,
              bad_sig);
    TAP_CHECK(t, bad_pub == 0, "%s: no DNSKEY before its algorithm's RRSIGs are cached (%d bad)",
              what, bad_pub);
    TAP_CHECK(t, bad_ds == 0, "%s: every cacheable DS names a published KSK (%d bad)", what,
              bad_ds);
}

static void test_sweep(struct tap *t)
{
    struct zone_kasp_keys ks;
    start(&ks, false);
    /* Without a check the parent is assumed to publish within Dreg of Trdy
     * (and the old DS to be out of every cache DprpP + TTLds later). */
    sweep(t, &ks, TRDY + T.dreg, TRDY + T.dreg + T.dprp_parent + T.ttl_ds, TEND, "timed by Dreg");

    /* With the parent checked: the DS is seen 3 days after Trdy (a slow
     * registrar); nothing retires before. */
    start(&ks, true);
    TAP_CHECK(t,
              ks.v[2].t[ZONE_KASP_T_ACTIVE] < 0 && ks.v[0].t[ZONE_KASP_T_RETIRED] < 0 &&
                  ks.v[1].t[ZONE_KASP_T_RETIRED] < 0,
              "by the parent: the old keys stay until the new DS is seen");
    int64_t seen = TRDY + 3 * 86400;
    zone_kasp_algroll_ds_seen(&T, &ks, 2, seen);
    int64_t act = seen + T.dprp_parent + T.ttl_ds + T.retire_safety;
    TAP_CHECK(t,
              ks.v[2].t[ZONE_KASP_T_ACTIVE] == act &&
                  ks.v[0].t[ZONE_KASP_T_RETIRE_ACTIVE] == seen &&
                  zone_kasp_sched_ds_unwanted(&ks.v[0], seen),
              "the DS seen: the new KSK active DprpP + TTLds + retire_safety later, the old DS "
              "unwanted at once (its delete pushed)");
    TAP_CHECK(t,
              ks.v[0].t[ZONE_KASP_T_RETIRED] < 0 && ks.v[1].t[ZONE_KASP_T_RETIRED] < 0 &&
                  ks.v[1].t[ZONE_KASP_T_RETIRE_ACTIVE] < 0,
              "the old KSK and ZSK stay until the old DS is gone");
    /* The old DS is deleted at once but the parent takes 2 days (a slow
     * registrar): gone then, seen gone at the next check. */
    int64_t gone = seen + 2 * 86400;
    TAP_CHECK(t,
              zone_kasp_algroll_in_flight(&ks, gone) && zone_kasp_key_published(&ks.v[0], gone) &&
                  zone_kasp_key_published(&ks.v[1], gone) && zone_kasp_key_signs(&ks.v[1], gone),
              "while the parent lists the old DS, the old algorithm's keys stay and sign");
    zone_kasp_algroll_ds_gone(&T, &ks, 0, gone, gone + STEP);
    int64_t swap = gone + T.ttl_ds + T.retire_safety;
    TAP_CHECK(t,
              ks.v[0].t[ZONE_KASP_T_RETIRED] == swap && ks.v[1].t[ZONE_KASP_T_RETIRED] == swap &&
                  ks.v[0].t[ZONE_KASP_T_REMOVED] == swap,
              "the swap is TTLds + retire_safety after the old DS is gone (the old DS out of "
              "every cache), later than the new KSK's Tact");
    TAP_CHECK(t,
              ks.v[1].t[ZONE_KASP_T_RETIRE_ACTIVE] == swap + T.dprp + T.ttl_key + T.retire_safety,
              "the old ZSK signs Dprp + TTLkey + retire_safety more");
    sweep(t, &ks, seen, gone + T.ttl_ds, swap + T.dprp + T.ttl_key + T.retire_safety,
          "by the parent, old DS slow to go");

    /* A parent that drops the old DS at once: the swap is the new KSK's
     * Tact, as IpubP after seen covers the caches. */
    start(&ks, true);
    zone_kasp_algroll_ds_seen(&T, &ks, 2, seen);
    zone_kasp_algroll_ds_gone(&T, &ks, 0, seen + STEP, seen + STEP);
    TAP_CHECK(t, ks.v[0].t[ZONE_KASP_T_RETIRED] == act && ks.v[1].t[ZONE_KASP_T_RETIRED] == act,
              "a quick parent: the swap is at the new KSK's Tact = max(seen, Trdy) + IpubP + "
              "retire_safety");
    sweep(t, &ks, seen, seen + STEP + T.ttl_ds, act + T.dprp + T.ttl_key + T.retire_safety,
          "by the parent, old DS quick to go");
}

static void test_wanted(struct tap *t)
{
    struct zone_kasp_keys ks = {.n = 0};
    TAP_CHECK(t, !zone_kasp_algroll_wanted(&ks, 15, T0), "no keys: nothing to roll");
    key(&ks, 1, 13, true, T0 - 100);
    key(&ks, 2, 13, false, T0 - 100);
    TAP_CHECK(t, !zone_kasp_algroll_wanted(&ks, 13, T0), "same algorithm: no rollover");
    TAP_CHECK(t, zone_kasp_algroll_wanted(&ks, 15, T0), "the policy says 15: a rollover");
    start(&ks, false);
    TAP_CHECK(t, zone_kasp_algroll_in_flight(&ks, T0) && zone_kasp_algroll_in_flight(&ks, TSWAP),
              "in flight from t0 through the swap");
    TAP_CHECK(
        t, !zone_kasp_algroll_wanted(&ks, 15, T0 + 1) && !zone_kasp_algroll_wanted(&ks, 13, TSWAP),
        "none starts while one is in flight");
    TAP_CHECK(t,
              !zone_kasp_algroll_in_flight(&ks, TEND) && !zone_kasp_algroll_wanted(&ks, 15, TEND),
              "done at the end");
    TAP_CHECK(t, zone_kasp_algroll_wanted(&ks, 13, TEND), "and back to 13 may start then");
}

/* The set with the new ZSK's signatures is served 2 s after t0 (keys
 * made, zone re-signed; t0 rounded down): every later step moves by 2 s,
 * so the signatures-only stage lasts its whole length from when they are
 * served; once only, and never once the new DNSKEYs are out. */
static void test_served(struct tap *t)
{
    struct zone_kasp_keys ks, before;
    start(&ks, false);
    before = ks;
    TAP_CHECK(t, !zone_kasp_algroll_served(&T, &ks, T0, T0), "served at t0: nothing moves");
    TAP_CHECK(t, zone_kasp_algroll_served(&T, &ks, T0 + 2, T0 + 1), "served at t0 + 2: moved");
    const struct zone_kasp_key *ok = &ks.v[0], *oz = &ks.v[1], *nk = &ks.v[2], *nz = &ks.v[3];
    TAP_CHECK(t, nz->t[ZONE_KASP_T_ACTIVE] == T0 && nz->t[ZONE_KASP_T_CREATED] == T0,
              "the new ZSK still signs from t0");
    TAP_CHECK(t,
              nz->t[ZONE_KASP_T_PUBLISHED] - (T0 + 2) == TKEYS - T0 &&
                  nk->t[ZONE_KASP_T_PUBLISHED] == TKEYS + 2,
              "the new DNSKEYs go in a whole stage after the signatures were served");
    TAP_CHECK(t,
              nk->t[ZONE_KASP_T_READY] == TRDY + 2 && nz->t[ZONE_KASP_T_READY] == TRDY + 2 &&
                  nk->t[ZONE_KASP_T_ACTIVE] == TSWAP + 2,
              "Trdy and Tswap move with it");
    TAP_CHECK(t,
              ok->t[ZONE_KASP_T_RETIRED] == TSWAP + 2 && oz->t[ZONE_KASP_T_RETIRED] == TSWAP + 2 &&
                  ok->t[ZONE_KASP_T_RETIRE_ACTIVE] == TSWAP + 2 &&
                  oz->t[ZONE_KASP_T_RETIRE_ACTIVE] == TEND + 2 &&
                  oz->t[ZONE_KASP_T_REMOVED] == TEND + 2 &&
                  ok->t[ZONE_KASP_T_ACTIVE] == T0 - 86400 * 30,
              "the old keys leave 2 s later too");
    struct zone_kasp_keys moved = ks;
    TAP_CHECK(t,
              !zone_kasp_algroll_served(&T, &ks, T0 + 5, T0 + 4) &&
                  memcmp(&ks, &moved, sizeof(ks)) == 0,
              "a later re-sign moves nothing again");
    ks = before;
    TAP_CHECK(t,
              !zone_kasp_algroll_served(&T, &ks, TKEYS + 1, TKEYS) &&
                  memcmp(&ks, &before, sizeof(ks)) == 0,
              "the new DNSKEYs are out already: nothing moves");
    start(&ks, true);
    before = ks;
    TAP_CHECK(t,
              zone_kasp_algroll_served(&T, &ks, T0 + 1, T0) &&
                  ks.v[3].t[ZONE_KASP_T_PUBLISHED] == TKEYS + 1 &&
                  ks.v[2].t[ZONE_KASP_T_ACTIVE] == -1 &&
                  memcmp(&ks.v[0], &before.v[0], sizeof(ks.v[0])) == 0 &&
                  memcmp(&ks.v[1], &before.v[1], sizeof(ks.v[1])) == 0,
              "by the parent: the new keys move, the swap still waits for the DS");
}

int main(void)
{
    struct tap t = {0};
    test_times(&t);
    test_sweep(&t);
    test_wanted(&t);
    test_served(&t);
    return tap_done(&t);
}

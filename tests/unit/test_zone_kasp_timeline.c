/* Unit tests for RFC 7583's timeline (src/zone/zone_kasp_timeline.c):
 * each interval and event time against the formula, computed by hand
 * from typical production durations (an hour of propagation, an hour's
 * DNSKEY TTL, a day's zone maximum TTL, a TLD with a day's DS TTL and a
 * day to register a DS), with and without the safety margins; the
 * shortest safe lifetimes and the messages that refuse shorter ones. */
#include <string.h>

#include "tap.h"
#include "zone/zone_kasp_timeline.h"

static const struct zone_kasp_timing PROD = {.dprp = 3600,
                                             .ttl_key = 3600,
                                             .ttl_sig = 86400,
                                             .dsgn = 0,
                                             .dprp_parent = 3600,
                                             .ttl_ds = 86400,
                                             .dreg = 86400};

static void test_intervals(struct tap *t)
{
    struct zone_kasp_intervals iv;
    zone_kasp_intervals(&PROD, &iv);
    /* Ipub = Dprp + TTLkey = 3600 + 3600 */
    TAP_CHECK(t, iv.ipub == 7200, "Ipub = Dprp + TTLkey = 7200 (got %llu)",
              (unsigned long long)iv.ipub);
    /* Iret = Dsgn + Dprp + TTLsig = 0 + 3600 + 86400 */
    TAP_CHECK(t, iv.iret == 90000, "Iret = Dsgn + Dprp + TTLsig = 90000 (got %llu)",
              (unsigned long long)iv.iret);
    /* IpubP = DprpP + TTLds = 3600 + 86400; IretK = Dreg + IpubP */
    TAP_CHECK(t, iv.ipub_parent == 90000, "IpubP = DprpP + TTLds = 90000");
    TAP_CHECK(t, iv.iret_ksk == 176400, "IretK = Dreg + IpubP = 86400 + 90000 = 176400");
    TAP_CHECK(t, iv.min_zsk == 97200, "shortest ZSK lifetime Ipub + Iret = 97200 (27 h)");
    TAP_CHECK(t, iv.min_ksk == 183600, "shortest KSK lifetime Ipub + IretK = 183600 (51 h)");
    /* Algorithm: Dsgn+Dprp+TTLsig 90000, + Ipub 7200, + IretK 176400,
     * + Dprp+TTLkey 7200 = 280800. */
    TAP_CHECK(t, iv.algorithm_total == 280800, "algorithm rollover takes 280800 s (got %llu)",
              (unsigned long long)iv.algorithm_total);
    struct zone_kasp_timing m = PROD;
    m.publish_safety = 3600;
    m.retire_safety = 1800;
    zone_kasp_intervals(&m, &iv);
    TAP_CHECK(t, iv.ipub == 10800 && iv.iret == 91800 && iv.iret_ksk == 178200,
              "safety margins: Ipub 7200+3600, Iret 90000+1800, IretK 176400+1800");
    TAP_CHECK(t, iv.min_zsk == 102600 && iv.min_ksk == 189000,
              "safety margins in the shortest lifetimes: 10800+91800, 10800+178200");
}

static void test_zsk(struct tap *t)
{
    struct zone_kasp_key_times k;
    /* Published at 1,000,000 with a 30-day lifetime (2,592,000 s). */
    zone_kasp_zsk(&PROD, 1000000, 2592000, &k);
    TAP_CHECK(t, k.t[ZONE_KASP_PUBLISHED] == 1000000, "ZSK Tpub");
    TAP_CHECK(t, k.t[ZONE_KASP_READY] == 1007200, "ZSK Trdy = Tpub + Ipub = 1007200");
    TAP_CHECK(t, k.t[ZONE_KASP_SUBMITTED] == -1, "a ZSK has no DS");
    TAP_CHECK(t, k.t[ZONE_KASP_ACTIVE] == 1007200, "ZSK Tact = Trdy");
    TAP_CHECK(t, k.t[ZONE_KASP_RETIRED] == 3599200, "ZSK Tret = Tact + Lzsk = 3599200");
    TAP_CHECK(t, k.t[ZONE_KASP_REMOVED] == 3689200, "ZSK Trem = Tret + Iret = 3689200");
    /* Its successor: published Ipub before Tret, ready (and active) at Tret. */
    struct zone_kasp_key_times s;
    zone_kasp_zsk(&PROD, k.t[ZONE_KASP_RETIRED] - 7200, 2592000, &s);
    TAP_CHECK(t, s.t[ZONE_KASP_ACTIVE] == k.t[ZONE_KASP_RETIRED],
              "successor published at Tret - Ipub is active at the predecessor's Tret");
    zone_kasp_zsk(&PROD, 1000000, 0, &k);
    TAP_CHECK(t, k.t[ZONE_KASP_RETIRED] == -1 && k.t[ZONE_KASP_REMOVED] == -1,
              "a ZSK without a lifetime is never retired");
}

static void test_ksk(struct tap *t)
{
    struct zone_kasp_key_times k;
    zone_kasp_ksk(&PROD, 1000000, 31536000, &k); /* a year */
    TAP_CHECK(t, k.t[ZONE_KASP_READY] == 1007200, "KSK Trdy = Tpub + Ipub");
    TAP_CHECK(t, k.t[ZONE_KASP_SUBMITTED] == 1007200, "KSK Tsbm = Trdy");
    TAP_CHECK(t, k.t[ZONE_KASP_ACTIVE] == 1183600, "KSK Tact = Tsbm + Dreg + DprpP + TTLds");
    TAP_CHECK(t, k.t[ZONE_KASP_RETIRED] == 32719600, "KSK Tret = Tact + Lksk");
    TAP_CHECK(t, k.t[ZONE_KASP_REMOVED] == 32719600, "KSK Trem = Tret (double-KSK)");
    /* The successor, published IretK + Ipub before Tret, takes over at Tret. */
    struct zone_kasp_key_times s;
    zone_kasp_ksk(&PROD, 32719600 - 176400 - 7200, 31536000, &s);
    TAP_CHECK(t, s.t[ZONE_KASP_ACTIVE] == k.t[ZONE_KASP_RETIRED],
              "KSK successor published at Tret - IretK - Ipub is active at Tret");
    zone_kasp_ksk(&PROD, 1000000, 0, &k);
    TAP_CHECK(t, k.t[ZONE_KASP_RETIRED] == -1, "a KSK without a lifetime is never retired");
}

static void test_algorithm(struct tap *t)
{
    struct zone_kasp_algorithm_roll r;
    zone_kasp_algorithm(&PROD, 5000, &r);
    TAP_CHECK(t, r.new_signatures == 5000, "new signatures first, at t0");
    TAP_CHECK(t, r.new_keys == 95000, "new keys after Dsgn + Dprp + TTLsig = 90000");
    TAP_CHECK(t, r.new_ready == 102200 && r.ds_submitted == 102200,
              "new keys ready and DS submitted after Ipub = 7200");
    TAP_CHECK(t, r.old_keys_gone == 278600, "old keys removed after IretK = 176400");
    TAP_CHECK(t, r.old_sigs_gone == 285800, "old signatures removed after Dprp + TTLkey = 7200");
}

static void test_checks(struct tap *t)
{
    struct zone_kasp_timing s = {.dprp = 30, .ttl_key = 60, .ttl_sig = 3600};
    char why[512] = "";
    bool ok = zone_kasp_lifetime_ok(&s, 60, false, why, sizeof(why));
    TAP_CHECK(t, !ok, "a 60 s ZSK lifetime is refused (Ipub 90 + Iret 3630)");
    TAP_CHECK(t,
              strstr(why, "60 s is shorter than the pre-publication interval Ipub + the retire "
                          "interval Iret = 90 + 3630 = 3720 s") != NULL,
              "the message names the sum: %s", why);
    TAP_CHECK(t, strstr(why, "Dprp 30 + TTLkey 60") && strstr(why, "TTLsig 3600"),
              "the message names each term");
    TAP_CHECK(t, zone_kasp_lifetime_ok(&s, 3720, false, why, sizeof(why)),
              "exactly Ipub + Iret is safe");
    TAP_CHECK(t, !zone_kasp_lifetime_ok(&s, 3719, false, why, sizeof(why)),
              "one second less is not");
    TAP_CHECK(t, zone_kasp_lifetime_ok(&s, 0, false, why, sizeof(why)),
              "no lifetime (no rollover) is safe");
    s.dreg = 100;
    s.ttl_ds = 200;
    s.dprp_parent = 10;
    ok = zone_kasp_lifetime_ok(&s, 300, true, why, sizeof(why));
    TAP_CHECK(t, !ok && strstr(why, "IretK = 90 + 310 = 400 s"), "KSK 300 s refused: %s", why);
    TAP_CHECK(t, zone_kasp_lifetime_ok(&s, 400, true, why, sizeof(why)), "KSK 400 s is safe");
    TAP_CHECK(t,
              !zone_kasp_refresh_ok(&s, 3630, why, sizeof(why)) &&
                  strstr(why, "Dprp + TTLsig = 30 + 3600 = 3630 s"),
              "refresh 3630 refused: %s", why);
    TAP_CHECK(t, zone_kasp_refresh_ok(&s, 3631, why, sizeof(why)), "refresh 3631 is enough");
}

int main(void)
{
    struct tap t = {0};
    test_intervals(&t);
    test_zsk(&t);
    test_ksk(&t);
    test_algorithm(&t);
    test_checks(&t);
    return tap_done(&t);
}

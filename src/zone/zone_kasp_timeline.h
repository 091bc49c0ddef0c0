/*
 * zone_kasp_timeline.h -- RFC 7583's key timeline as pure arithmetic:
 * the intervals a signing policy (zone_kasp.h) implies, each key's event
 * times in the three rollovers gtmd will run (ZSK pre-publication, KSK
 * double-KSK, algorithm rollover in RFC 6781 4.1.4's order), the shortest
 * safe lifetimes, and the check that refuses a policy whose timing cannot
 * be safe. No clock, no I/O: times are seconds since the epoch given by
 * the caller, so the unit tests check every formula with numbers.
 *
 * The names are RFC 7583's (section 2 and 3):
 *   Dprp    propagation delay: primary to every secondary and fleet node
 *   TTLkey  the DNSKEY RRset's TTL
 *   TTLsig  the largest TTL of a signed RRset (the zone's maximum TTL)
 *   Dsgn    time to sign the zone with a new key: 0 here, gtmd signs the
 *           whole zone at once when the active key changes
 *   DprpP   the parent's propagation delay
 *   TTLds   the TTL of the DS RRset at the parent
 *   Dreg    the parent's registration delay (submission to publication)
 *   Ipub    = Dprp + TTLkey (+ publish_safety)
 *   Iret    = Dsgn + Dprp + TTLsig (+ retire_safety)            (ZSK)
 *   IpubP   = DprpP + TTLds
 *   IretK   = Dreg + IpubP (+ retire_safety)                    (KSK)
 * and the events: Tpub (published), Trdy (ready: in every cache that has
 * the DNSKEY RRset), Tsbm (KSK: its DS submitted to the parent), Tact
 * (active: signing), Tret (retired: no longer signing), Trem (removed
 * from the zone).
 *
 * Ownership: plain values; nothing is allocated.
 */
#ifndef GTM_ZONE_KASP_TIMELINE_H
#define GTM_ZONE_KASP_TIMELINE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* The durations of a policy, in seconds. */
struct zone_kasp_timing {
    uint32_t dprp;           /* Dprp: propagation_delay */
    uint32_t ttl_key;        /* TTLkey: dnskey_ttl */
    uint32_t ttl_sig;        /* TTLsig: zone_max_ttl */
    uint32_t dsgn;           /* Dsgn: 0 (the whole zone is signed at once) */
    uint32_t publish_safety; /* added to Ipub (RFC 7583 3.2.1's safety margin) */
    uint32_t retire_safety;  /* added to Iret and IretK */
    uint32_t dprp_parent;    /* DprpP: parent.propagation_delay */
    uint32_t ttl_ds;         /* TTLds: parent.ds_ttl */
    uint32_t dreg;           /* Dreg: parent.registration_delay */
};

/* What the durations imply, in seconds (64 bits: sums of 32-bit terms). */
struct zone_kasp_intervals {
    uint64_t ipub;            /* Dprp + TTLkey + publish_safety */
    uint64_t iret;            /* Dsgn + Dprp + TTLsig + retire_safety */
    uint64_t ipub_parent;     /* DprpP + TTLds */
    uint64_t iret_ksk;        /* Dreg + IpubP + retire_safety */
    uint64_t min_zsk;         /* shortest safe ZSK lifetime: Ipub + Iret */
    uint64_t min_ksk;         /* shortest safe KSK lifetime: Ipub + IretK */
    uint64_t algorithm_total; /* start of an algorithm rollover to its end */
};
void zone_kasp_intervals(const struct zone_kasp_timing *t, struct zone_kasp_intervals *out);

enum zone_kasp_event {
    ZONE_KASP_PUBLISHED, /* Tpub */
    ZONE_KASP_READY,     /* Trdy */
    ZONE_KASP_SUBMITTED, /* Tsbm: a KSK's DS given to the parent (-1 for a ZSK) */
    ZONE_KASP_ACTIVE,    /* Tact */
    ZONE_KASP_RETIRED,   /* Tret */
    ZONE_KASP_REMOVED,   /* Trem */
    ZONE_KASP_EVENT_N
};
/* The event's name as status shows it ("published", ...). */
const char *zone_kasp_event_name(enum zone_kasp_event e);

/* One key's event times; -1: the event does not apply or never comes (a
 * key without a lifetime is never retired). */
struct zone_kasp_key_times {
    int64_t t[ZONE_KASP_EVENT_N];
};

/* A ZSK rolled by pre-publication (RFC 7583 3.2.1), published at tpub,
 * lifetime seconds (0: none): Trdy = Tpub + Ipub, Tact = Trdy, Tret =
 * Tact + lifetime, Trem = Tret + Iret. Its successor is published at Tret
 * - Ipub and becomes active at Tret. */
void zone_kasp_zsk(const struct zone_kasp_timing *t, int64_t tpub, uint64_t lifetime,
                   struct zone_kasp_key_times *out);

/* A KSK rolled by double-KSK (RFC 7583 3.3.1) published at tpub. It
 * signs the DNSKEY RRset from its publication, beside its predecessor
 * (that is the method), so that a resolver holding either DS validates.
 * Trdy = Tpub + Ipub, Tsbm = Trdy (its DS goes to the parent), Tact =
 * Tsbm + IretK (its DS at the parent and the old one out of every cache:
 * it signs alone from then, and its predecessor retires), Tret = Tact +
 * lifetime, Trem = Tret (no DS names it by then, so it leaves the DNSKEY
 * RRset as it retires). Its successor is published at Tret - IretK - Ipub. */
void zone_kasp_ksk(const struct zone_kasp_timing *t, int64_t tpub, uint64_t lifetime,
                   struct zone_kasp_key_times *out);

/* An algorithm rollover (RFC 6781 4.1.4, the conservative order) started
 * at t0: the new algorithm's signatures first, its keys once those are
 * in every cache, its DS once the keys are ready, the old keys out once
 * the new DS is everywhere, the old signatures last. */
struct zone_kasp_algorithm_roll {
    int64_t new_signatures; /* t0: the zone signed with both algorithms */
    int64_t new_keys;       /* + Dsgn + Dprp + TTLsig: new DNSKEYs published */
    int64_t new_ready;      /* + Ipub */
    int64_t ds_submitted;   /* = new_ready: the new DS replaces the old at the parent */
    int64_t old_keys_gone;  /* + IretK: old DNSKEYs removed */
    int64_t old_sigs_gone;  /* + Dprp + TTLkey: old signatures removed; the end */
};
void zone_kasp_algorithm(const struct zone_kasp_timing *t, int64_t t0,
                         struct zone_kasp_algorithm_roll *out);

/* Whether a lifetime (0: none) is safe for its role; when not, why holds
 * the sum it falls short of, with each term ("60 s is shorter than ...").
 * ksk: the KSK's rule (Ipub + IretK), else the ZSK's (Ipub + Iret). */
bool zone_kasp_lifetime_ok(const struct zone_kasp_timing *t, uint64_t lifetime, bool ksk, char *why,
                           size_t len);

/* Whether signatures refreshed refresh seconds before they expire are
 * replaced in every cache in time: refresh > Dprp + TTLsig (a copy
 * fetched just before the refresh reaches the last secondary Dprp later
 * and lives TTLsig in a cache). why as above. */
bool zone_kasp_refresh_ok(const struct zone_kasp_timing *t, uint64_t refresh, char *why,
                          size_t len);

#endif

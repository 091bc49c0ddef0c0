/*
 * zone_kasp_algroll.h -- the algorithm rollover of the key manager (RFC
 * 6781 4.1.4, the conservative order; RFC 7583 section 3.4): pure
 * arithmetic on a zone's keys (zone_kasp_sched.h), no clock, no I/O, so
 * that the unit tests check each step's time against the formulas of
 * zone_kasp_algorithm (zone_kasp_timeline.h).
 *
 * Started when the policy's "algorithm" differs from the algorithm of
 * the zone's keys (zone_kasp_algroll_wanted), or by the admin API
 * (POST /v1/dnssec/ZONE/rollover {"key": "algorithm"}). The daemon makes
 * a KSK and a ZSK of the new algorithm at t0 and zone_kasp_algroll_start
 * gives every key its timestamps:
 *
 *   t0                      the new ZSK signs every RRset (its DNSKEY not
 *                           published yet: RRSIGs first, since a validator
 *                           that holds a DNSKEY RRset with an algorithm
 *                           may want that algorithm's RRSIG on every RRset);
 *   Tkeys = t0 + Dsgn + Dprp + TTLsig + publish_safety
 *                           the new KSK and ZSK published (the new
 *                           signatures are in every cache by then); the
 *                           new KSK signs the DNSKEY RRset from here;
 *   Trdy  = Tkeys + Dprp + TTLkey + publish_safety
 *                           the new DNSKEYs in every cache: the new KSK's
 *                           DS may replace the old at the parent (CDS);
 *   Tswap = Trdy + Dreg + DprpP + TTLds + retire_safety (no parent check), or,
 *           with the parent checked, as in a KSK rollover (zone_kasp_sched.h):
 *           the new DS seen at every parent server at 'seen'
 *           (zone_kasp_algroll_ds_seen) makes the old DS unwanted (its
 *           delete is pushed) and the new KSK active at max(seen, Trdy) +
 *           DprpP + TTLds + retire_safety; the old DS seen gone from every
 *           server at 'gone' (zone_kasp_algroll_ds_gone) gives Tswap =
 *           max(that, gone + TTLds + retire_safety): the parent never
 *           lists a DS of the old algorithm while the zone has no DNSKEY
 *           of it, nor does any cache;
 *                           every cached DS names the new KSK: the old
 *                           KSK and ZSK leave the DNSKEY RRset;
 *   Tend  = Tswap + Dprp + TTLkey + retire_safety
 *                           the old DNSKEY RRset out of every cache: the
 *                           old ZSK stops signing and its files go (the
 *                           old KSK's go at Tswap with the parent
 *                           checked: its DS is gone by then).
 *
 * A ZSK signs from Tact to Tretire-active whether or not it is published
 * (zone_kasp_key_signs): the new ZSK before its DNSKEY, the old one after.
 *
 * Ownership: plain values; nothing is allocated.
 */
#ifndef GTM_ZONE_KASP_ALGROLL_H
#define GTM_ZONE_KASP_ALGROLL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "zone/zone_kasp_sched.h"
#include "zone/zone_kasp_timeline.h"

/* Whether key k is in use or planned at now: not retired and not out of
 * signing (a key on its way out is no longer counted). */
bool zone_kasp_algroll_key_live(const struct zone_kasp_key *k, int64_t now);

/* Whether an algorithm rollover to alg should start at now: the zone has
 * live keys, none of them of alg, and no rollover is in flight. */
bool zone_kasp_algroll_wanted(const struct zone_kasp_keys *keys, uint8_t alg, int64_t now);

/* Whether a rollover is in flight at now: live keys of two algorithms. */
bool zone_kasp_algroll_in_flight(const struct zone_kasp_keys *keys, int64_t now);

/* The timestamps of an algorithm rollover started at t0: nk and nz are
 * the new KSK and ZSK (made at t0, of the new algorithm); every live key
 * of another algorithm is an old key. by_parent: the swap waits for the
 * new DS at the parent's servers (the new KSK's Tact stays -1 until
 * zone_kasp_algroll_ds_seen); otherwise it is timed by Dreg. */
void zone_kasp_algroll_start(const struct zone_kasp_timing *t, struct zone_kasp_keys *keys,
                             size_t nk, size_t nz, int64_t t0, bool by_parent);

/* A set signed by the rollover's new ZSK was first served at 'served'
 * (the caller rounds up to the next second, never down). Every step of
 * a rollover that zone_kasp_algroll_start timed from t0 (the new ZSK's
 * Tact) moves by served - t0, so the first stage (new signatures only)
 * lasts Dsgn + Dprp + TTLsig + publish_safety from when resolvers can
 * see the signatures, not from when the keys were made (the keys are
 * made, the store saved and the zone re-signed after t0, which is
 * rounded down to its second). Nothing moves once the new DNSKEYs are
 * published at now, or when the times moved already; the new ZSK still
 * signs from t0. Whether anything moved. */
bool zone_kasp_algroll_served(const struct zone_kasp_timing *t, struct zone_kasp_keys *keys,
                              int64_t served, int64_t now);

/* The new KSK nk's DS was seen at every parent server at 'seen': the new
 * KSK's Tact and the old KSK's DS unwanted, as above (the KSK rollover's
 * zone_kasp_sched_ds_seen). */
void zone_kasp_algroll_ds_seen(const struct zone_kasp_timing *t, struct zone_kasp_keys *keys,
                               size_t nk, int64_t seen);

/* KSK ok's unwanted DS has been at no parent server since 'gone' (seen at
 * now): zone_kasp_sched_ds_gone, and, when the KSK that took over is of
 * another algorithm, the old algorithm's ZSKs leave with it: Tswap (its
 * Tret) and Tend as above. */
void zone_kasp_algroll_ds_gone(const struct zone_kasp_timing *t, struct zone_kasp_keys *keys,
                               size_t ok, int64_t gone, int64_t now);

#endif

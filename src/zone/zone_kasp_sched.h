/*
 * zone_kasp_sched.h -- the key manager's scheduler: from a policy's
 * timing, a zone's keys with their RFC 7583 timestamps (zone_kasp_store.h
 * keeps them) and the time now, the next thing to do and when. Pure: no
 * clock, no I/O, no key material; the daemon (server_kasp.c) applies
 * what it says (makes the key, saves the state, signs again), and the
 * unit tests check the arithmetic against RFC 7583 section 3.2.
 *
 * A key's state is a function of time: the last of its timestamps that
 * is not after now names it ("created", "published", "ready", "active",
 * "retire-active": published but signing no more, "retired": out of the
 * DNSKEY RRset, "removed": its files deleted). -1 is a timestamp not set
 * (never reached).
 *
 * What the scheduler runs:
 *   - a zone without a KSK or a ZSK gets one, published and active at
 *     once (nothing is in a cache yet: the zone was not signed with it);
 *   - the ZSK rollover by pre-publication (RFC 7583 3.2.1): the successor
 *     is published at Tact + lifetime - Ipub, active at the later of its
 *     Trdy = Tpub + Ipub and the old key's Tact + lifetime; the old key
 *     stops signing then (retire-active) and leaves the zone Iret later;
 *   - an emergency ZSK rollover (zone_kasp_sched_roll_zsk with now as the
 *     time): the same timeline started now, or forced: the new key signs
 *     at once (caches that hold the old DNSKEY RRset fail to validate for
 *     up to Ipub: that is what "force" says).
 *   - the KSK rollover by double-KSK (RFC 7583 3.3.1, RFC 6781 4.1.2),
 *     in the order BIND's key manager and RFC 6781 4.1.4 give it:
 *     1. the successor is published at Tact + ksk_lifetime - Ipub and
 *        signs the DNSKEY RRset beside its predecessor at once; from its
 *        Trdy = Tpub + Ipub it is the KSK the parent should have
 *        (CDS/CDNSKEY, DS push: zone_kasp_sched_parent_ksk). Its Tact
 *        stays unset (-1) until its DS has been seen at every parent
 *        server (DS_SEEN, at 'seen');
 *     2. then the predecessor's DS is unwanted at once: its Tretire-active
 *        = max(seen, Trdy) (zone_kasp_sched_ds_unwanted: the daemon
 *        pushes the DS delete), and the successor is active at Tact =
 *        max(seen, Trdy) + IpubP + retire_safety (every cached DS RRset
 *        holds the new DS by then);
 *     3. the predecessor stays in the DNSKEY RRset (Tret unset) until its
 *        DS is gone from every parent server (DS_GONE, at 'gone'): it
 *        retires, and its files go, at max(Tact(new), gone + TTLds +
 *        retire_safety), when no cached DS RRset names it any more.
 *     So the old KSK is never removed while the parent has no DS for the
 *     new one, nor while any parent server (or cache) still lists its
 *     own DS. A parent that never drops the old DS holds the old KSK in
 *     the zone (zone_kasp_sched_ds_stale raises the alarm), and no new
 *     KSK rollover starts meanwhile. No parent server to ask (n_servers
 *     0): the rollover waits at step 1.
 *
 * Ownership: plain values; nothing is allocated.
 */
#ifndef GTM_ZONE_KASP_SCHED_H
#define GTM_ZONE_KASP_SCHED_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "zone/zone_kasp_timeline.h"

#define ZONE_KASP_MAX_KEYS 8 /* ZONE_SIGN_MAX_KEYS: every key in the store is loaded */

enum zone_kasp_kt {
    ZONE_KASP_T_CREATED,
    ZONE_KASP_T_PUBLISHED,
    ZONE_KASP_T_READY,
    ZONE_KASP_T_ACTIVE,
    ZONE_KASP_T_RETIRE_ACTIVE, /* stops signing */
    ZONE_KASP_T_RETIRED,       /* leaves the DNSKEY RRset */
    ZONE_KASP_T_REMOVED,       /* its files are deleted */
    ZONE_KASP_T_N
};
/* "created", ..., "retire_active", ... (the state file's and the API's keys). */
const char *zone_kasp_kt_name(enum zone_kasp_kt t);

struct zone_kasp_key {
    char base[128]; /* the file name without .key/.private: "Kexample.com.+013+12345" */
    uint16_t tag;
    uint8_t algorithm;
    bool ksk;
    int64_t t[ZONE_KASP_T_N]; /* -1: not set */
};

struct zone_kasp_keys {
    struct zone_kasp_key v[ZONE_KASP_MAX_KEYS];
    size_t n;
};

/* The state of k at now: the name of its last timestamp not after now
 * ("generated" before it is published). */
const char *zone_kasp_key_state(const struct zone_kasp_key *k, int64_t now);
/* Whether k's DNSKEY is in the zone at now. */
bool zone_kasp_key_published(const struct zone_kasp_key *k, int64_t now);
/* Whether k signs at now (a KSK signs the DNSKEY RRset while published;
 * a ZSK everything else while active and not retire-active, whether or
 * not its DNSKEY is published: an algorithm rollover signs before it and
 * after it, zone_kasp_algroll.h). */
bool zone_kasp_key_signs(const struct zone_kasp_key *k, int64_t now);

/* The parent's DS for one KSK, as the daemon (server_kasp.c) last found
 * it at every server of the policy's parent.servers: it asks each one
 * for the zone's DS RRset every parent.check_interval and fills this;
 * the scheduler only reads it. Matched to a key by tag and algorithm.
 * Times are seconds since the epoch; -1: not so (yet).
 *   seen_since: since when a DS for this key (the policy's digest) has
 *     been in the answer of EVERY parent server, without a break; -1 when
 *     the last check did not find it at all of them (one that timed out
 *     counts as not seen).
 *   gone_since: since when NO parent server has had a DS for it; -1 when
 *     the last check found one at some server, or one did not answer.
 *   checked: the last check's time; -1: never checked. */
struct zone_kasp_parent_ds {
    uint16_t tag;
    uint8_t algorithm;
    int64_t seen_since;
    int64_t gone_since;
    int64_t checked;
};

/* The parent's view of a zone's KSKs (one entry per KSK the daemon
 * checked; a KSK without an entry counts as never checked: not seen and
 * not gone). The scheduler moves a KSK rollover on only when the new
 * KSK's DS has been seen at every parent server; without parent servers
 * (n_servers 0) it never does. */
struct zone_kasp_parent {
    struct zone_kasp_parent_ds v[ZONE_KASP_MAX_KEYS];
    size_t n;
    size_t n_servers; /* how many servers were asked (parent.servers) */
};

/* The entry of parent for key k, or NULL (parent may be NULL). */
const struct zone_kasp_parent_ds *zone_kasp_parent_find(const struct zone_kasp_parent *parent,
                                                        const struct zone_kasp_key *k);

enum zone_kasp_act {
    ZONE_KASP_ACT_NONE,
    ZONE_KASP_ACT_NEW_KSK,  /* make the zone's first KSK, active at once */
    ZONE_KASP_ACT_NEW_ZSK,  /* make the zone's first ZSK, active at once */
    ZONE_KASP_ACT_ROLL_ZSK, /* make the successor ZSK (pre-publication) */
    ZONE_KASP_ACT_EVENT,    /* key 'key' reaches timestamp 'which': sign again */
    ZONE_KASP_ACT_PURGE,    /* key 'key' reaches 'removed': delete its files */
    ZONE_KASP_ACT_ROLL_KSK, /* make the successor KSK (double-KSK) of KSK 'key' */
    ZONE_KASP_ACT_DS_SEEN,  /* KSK 'key' (a successor) has its DS at every parent
                               server: zone_kasp_sched_ds_seen */
    ZONE_KASP_ACT_DS_GONE,  /* KSK 'key', whose DS is unwanted, has it at no parent
                               server any more: zone_kasp_sched_ds_gone */
};

struct zone_kasp_action {
    enum zone_kasp_act act;
    int64_t at; /* when; not before now for what makes a key */
    size_t key; /* the key it concerns (ROLL_ZSK: the ZSK rolled) */
    enum zone_kasp_kt which;
};
/* "none", "generate KSK", ... for logs and status. */
const char *zone_kasp_act_name(enum zone_kasp_act a);

/* The next action for keys under the policy (a lifetime 0: none) at
 * now, with the parent's DS as last checked (parent NULL: never checked):
 * the earliest of what is due (at <= now) or comes. Timestamps at or
 * before now are facts already, never actions. */
void zone_kasp_sched_next(const struct zone_kasp_timing *t, uint32_t zsk_lifetime,
                          uint32_t ksk_lifetime, const struct zone_kasp_keys *keys,
                          const struct zone_kasp_parent *parent, int64_t now,
                          struct zone_kasp_action *out);

/* The zone's current ZSK at now (active, not retire-active), or -1. */
int zone_kasp_sched_current_zsk(const struct zone_kasp_keys *keys, int64_t now);
/* Whether a successor of key cur (a ZSK) is already published or planned. */
bool zone_kasp_sched_has_successor(const struct zone_kasp_keys *keys, size_t cur);

/* The zone's current KSK at now (active, not retire-active), or -1. */
int zone_kasp_sched_current_ksk(const struct zone_kasp_keys *keys, int64_t now);
/* A KSK rollover in flight: the index of a successor KSK published or
 * planned, not active yet and not retired, or -1. */
int zone_kasp_sched_ksk_successor(const struct zone_kasp_keys *keys, int64_t now);
/* The KSK whose DS the parent should have at now (the CDS/CDNSKEY
 * records and the DS pushed): the latest published KSK that is ready and
 * not retired; -1 when none. */
int zone_kasp_sched_parent_ksk(const struct zone_kasp_keys *keys, int64_t now);
/* Whether the parent's servers must be asked at now: a successor KSK is
 * ready and waits for its DS, or an unwanted DS may still be there. */
bool zone_kasp_sched_parent_wanted(const struct zone_kasp_keys *keys, int64_t now);
/* Whether KSK k's DS should leave the parent at now: its successor's DS
 * is at every parent server (k is retire-active) or k was given up, and
 * its DS has not been seen gone yet (no Trem). The daemon pushes the
 * delete while a server has it. */
bool zone_kasp_sched_ds_unwanted(const struct zone_kasp_key *k, int64_t now);

/* The KSK that waits for its DS at the parent at now (ready, no DS seen
 * so no Tact, not retired: a KSK rollover's successor or an algorithm
 * rollover's new KSK), the one waiting longest; -1 when none. *since:
 * when it began to wait (its Trdy). */
int zone_kasp_sched_ds_waiting(const struct zone_kasp_keys *keys, int64_t now, int64_t *since);
/* The waiting KSK (zone_kasp_sched_ds_waiting) once it has waited warn
 * seconds or more (policy parent.ds_wait_warn; 0: never), else -1. */
int zone_kasp_sched_ds_overdue(const struct zone_kasp_keys *keys, int64_t now, uint32_t warn,
                               int64_t *since);

/* The KSK still in the zone whose DS should be gone from the parent at
 * now (zone_kasp_sched_ds_unwanted and published: it stays until the DS
 * is gone), the one waiting longest; -1 when none. *since: when its DS
 * became unwanted (its Tretire-active: the delete was pushed then). */
int zone_kasp_sched_ds_leaving(const struct zone_kasp_keys *keys, int64_t now, int64_t *since);
/* A KSK on its way out and still in the zone at now (retire-active and
 * published: its DS not gone from the parent yet, or not from every
 * cache), or -1. No KSK rollover starts while there is one. */
int zone_kasp_sched_ksk_retiring(const struct zone_kasp_keys *keys, int64_t now);
/* The leaving KSK (zone_kasp_sched_ds_leaving) once its old DS has been
 * at the parent warn seconds or more after it became unwanted (policy
 * parent.ds_wait_warn; 0: never), else -1: "old DS still at parent". */
int zone_kasp_sched_ds_stale(const struct zone_kasp_keys *keys, int64_t now, uint32_t warn,
                             int64_t *since);

/* The timestamps of n, the successor of the current KSK, made at now:
 * published now, ready at now + Ipub, active not yet (DS_SEEN sets it). */
void zone_kasp_sched_roll_ksk(const struct zone_kasp_timing *t, struct zone_kasp_key *n,
                              int64_t now);
/* KSK keys->v[n]'s DS seen at every parent server since seen: its Tact =
 * max(seen, Trdy) + IpubP + retire_safety; every other KSK that is
 * published and not on its way out is retire-active at max(seen, Trdy)
 * (its DS unwanted from then: the delete is pushed) and stays in the
 * zone, Tret unset, until its DS is gone (zone_kasp_sched_ds_gone). */
void zone_kasp_sched_ds_seen(const struct zone_kasp_timing *t, struct zone_kasp_keys *keys,
                             size_t n, int64_t seen);
/* KSK keys->v[n] (zone_kasp_sched_ds_unwanted) has its DS at no parent
 * server since gone, seen at now. Still in the zone (Tret unset): it
 * retires, and is removed, at the latest of the active KSK's Tact, gone
 * + TTLds + retire_safety (the old DS out of every cache) and now. Out
 * of it already (given up, or retired by an older schedule): removed at
 * the later of its Tret and now. */
void zone_kasp_sched_ds_gone(const struct zone_kasp_timing *t, struct zone_kasp_keys *keys,
                             size_t n, int64_t gone, int64_t now);
/* A successor KSK given up (a forced KSK rollover over one in flight):
 * retired at now, its files deleted once its DS is gone from the parent. */
void zone_kasp_sched_abandon(struct zone_kasp_key *k, int64_t now);

/* The timestamps of a first key made at now: every one up to active set
 * to now, the rest -1 (nothing caches a key before it is published, and
 * the zone was not signed with any). */
void zone_kasp_sched_first(struct zone_kasp_key *k, int64_t now);

/* The timestamps of n, the successor of ZSK cur, made at now with the
 * rollover due at 'due' (cur's Tact + lifetime - Ipub; now for an
 * emergency): n published at now, ready at now + Ipub, active at the
 * later of that and due + Ipub; cur retire-active when n is active,
 * retired Iret later, removed Iret after that. force: n active at once
 * and cur retire-active now. */
void zone_kasp_sched_roll_zsk(const struct zone_kasp_timing *t, struct zone_kasp_key *cur,
                              struct zone_kasp_key *n, int64_t now, int64_t due, bool force);

/* The set that re-signing published at a rollover's start was first
 * served at 'served' (the caller rounds up, never down). A successor ZSK
 * or KSK that zone_kasp_sched_roll_zsk / _roll_ksk published at the
 * second it was made (Tpub = Tcreated, rounded down, before the zone
 * was re-signed) and that is not ready at now has its Trdy moved to
 * served + Ipub: the ready stage lasts Ipub from when resolvers can
 * fetch the new DNSKEY RRset. Tpub stays (the key is in the zone since
 * then). A ZSK that was to become active at its old Trdy becomes active
 * at the new one, and its predecessor stops signing, retires and is
 * removed as much later; a forced ZSK (active at Tpub) stays active, a
 * ZSK active later anyway (its predecessor's lifetime) keeps its Tact.
 * A KSK's Tact waits for its DS (zone_kasp_sched_ds_seen counts from
 * Trdy). Once only: a moved Trdy is no longer Tpub + Ipub. Returns the
 * keys moved, bit i for keys->v[i]; 0 when none. */
unsigned zone_kasp_sched_served(const struct zone_kasp_timing *t, struct zone_kasp_keys *keys,
                                int64_t served, int64_t now);

#endif

/*
 * zone_kasp_store.h -- the key store of a zone under a signing policy
 * ("dnssec": {"policy": P, "key_directory": DIR}): the keys gtmd makes
 * (OpenSSL, through ldns) as BIND/ldns files DIR/K<zone>+AAA+TAG.key and
 * .private, written 0600 in a directory that must be 0700, and the zone's
 * key state, DIR/<zone>kasp.json: each key with its role, algorithm and
 * RFC 7583 timestamps (zone_kasp_sched.h), written atomically (a
 * temporary file, fsync, rename, fsync of the directory) so that a crash
 * leaves the old state or the new, never half of one.
 *
 * A directory that group or others can open, a state file that is not
 * the store's JSON, or a key file that cannot be read is an error that
 * names the file; the caller (server_kasp.c) then keeps the zone's last
 * good signatures.
 *
 * Ownership: plain values in caller-owned structs; the functions that
 * fill a zone_sign_params give it strings it frees (zone_dnssec_params_free).
 */
#ifndef GTM_ZONE_KASP_STORE_H
#define GTM_ZONE_KASP_STORE_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "common/errlist.h"
#include "zone/zone_kasp_sched.h"
#include "zone/zone_params.h"

/* Makes dir (0700) when it does not exist; false with a message naming it
 * when it is not a directory or group or others may open it. */
bool zone_kasp_store_dir_ok(const char *dir, struct errlist *errs);

/* Reads the zone's state into keys (empty when there is no state file
 * yet); false with a message naming the file when it is not readable or
 * not the store's JSON. */
bool zone_kasp_store_load(const char *dir, const char *origin, struct zone_kasp_keys *keys,
                          struct errlist *errs);

/* Writes keys as the zone's state, atomically. false with a message. */
bool zone_kasp_store_save(const char *dir, const char *origin, const struct zone_kasp_keys *keys,
                          struct errlist *errs);

/* Makes a key of algorithm alg (8: RSA 2048 bits, 13, 15) for origin,
 * writes its files (0600, never over an existing file) with the DNSKEY's
 * TTL ttl, and fills k's name, tag, algorithm and role (timestamps -1).
 * false with a message. */
bool zone_kasp_store_generate(const char *dir, const char *origin, uint8_t alg, bool ksk,
                              uint32_t ttl, struct zone_kasp_key *k, struct errlist *errs);

/* Copies the operator's key base (base.key and base.private) into the
 * store (adoption: a zone moving onto a policy keeps its keys) and fills
 * k as zone_kasp_store_generate does. false with a message. */
bool zone_kasp_store_adopt(const char *dir, const char *base, const char *where,
                           struct zone_kasp_key *k, struct errlist *errs);

/* Deletes key k's files (a missing file is no error). */
void zone_kasp_store_purge(const char *dir, const struct zone_kasp_key *k);

/* Replaces sp's keys with the keys of the store published at now; those
 * that do not sign then are publish_only, those that sign at now
 * unpublished are added as sign_only (an algorithm rollover), and the
 * KSK the parent should have (zone_kasp_sched_parent_ksk) is marked cds
 * (published only when the caller sets sp->cds_digest). origin names the zone in the
 * messages of a key that later fails to load. */
void zone_kasp_store_fill(const char *dir, const char *origin, const struct zone_kasp_keys *keys,
                          int64_t now, struct zone_sign_params *sp);

/* ---- for the fleet's shared key set (zone_kasp_share.h) ---- */

/* DIR/<zone>kasp.json ("root.kasp.json" for the root). */
void zone_kasp_state_path(char *buf, size_t len, const char *dir, const char *origin);
/* One key of the state file as JSON (the caller owns it), and back: false
 * when o is not one. */
json_t *zone_kasp_key_to_json(const struct zone_kasp_key *k);
bool zone_kasp_key_from_json(json_t *o, struct zone_kasp_key *k);
/* Writes data (a string) to path, 0600, through path.tmp, fsynced,
 * renamed over path, and the directory fsynced: the rename is durable
 * too. false with a message naming path. */
bool zone_kasp_write_atomic(const char *dir, const char *path, const char *data,
                            struct errlist *errs);

/* The keys as GET /v1/dnssec shows them (the caller owns the array). */
json_t *zone_kasp_store_json(const struct zone_kasp_keys *keys, int64_t now);

#endif

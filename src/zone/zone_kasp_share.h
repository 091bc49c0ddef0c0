/*
 * zone_kasp_share.h -- a zone's key set as one document, for a fleet that
 * signs with one key set (doc/dnssec.md, "Fleet keys"): every key of the
 * store with its RFC 7583 timestamps and the text of its two files.
 *
 *   {"zone": Z, "keys": [{"file", "tag", "algorithm", "role", "created",
 *     ..., "removed", "key": TEXT of .key, "private": TEXT of .private}]}
 *
 * The document holds private keys: the fleet seals it (fleet_keyseal.h)
 * before it leaves the process, and nothing here logs it.
 *
 * Import is all or nothing as the signer sees it: every key is checked
 * first (the .key text is a DNSKEY of the tag and algorithm the state
 * says, the .private text a private key ldns reads), then the key files
 * are written (atomically, 0600), and only then the state file, which is
 * what names the keys the zone is signed with. A document that fails a
 * check changes nothing on disk: the node keeps the last key set it had.
 * Key files of the node's old state that the new set no longer lists are
 * deleted after the state is written.
 *
 * Ownership: export returns a document the caller owns; import borrows.
 */
#ifndef GTM_ZONE_KASP_SHARE_H
#define GTM_ZONE_KASP_SHARE_H

#include <jansson.h>
#include <stdbool.h>

#include "common/errlist.h"
#include "zone/zone_kasp_sched.h"

/* The set in dir for origin (keys as loaded from its state); NULL with a
 * message naming the file that could not be read. */
json_t *zone_kasp_share_export(const char *dir, const char *origin,
                               const struct zone_kasp_keys *keys, struct errlist *errs);

/* Writes doc's set into dir (above) and gives it in keys. false with
 * messages (naming the JSON path of what is wrong) and nothing written. */
bool zone_kasp_share_import(const char *dir, const char *origin, json_t *doc,
                            struct zone_kasp_keys *keys, struct errlist *errs);

#endif

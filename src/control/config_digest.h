/*
 * config_digest.h -- what every node of a fleet should share, digested so
 * that a change costs what it touches.
 *
 * The fleet compares nodes by a hash of their configuration without its
 * node-local keys (status: config_hash, config_mismatch). It was the
 * SHA-256 of the whole document dumped with sorted keys: 110 ms of CPU and
 * more at 100,000 records, on every node, for every change, under the
 * reload lock (issue #38). This digest is a sum instead: every part of the
 * document -- each member of an object-valued top-level key (each record,
 * pool, check...), a mark for each such key, and each other top-level
 * value -- is hashed alone (SHA-256 of its name and its compact dump with
 * sorted keys) and the digests are added as four 64-bit lanes. A sum does
 * not depend on order, so a new document is digested from the one before
 * by taking out the parts that changed and adding their new values; the
 * changed parts are found by jsonwalk.h (a step per member, a hash per
 * change). Every node gets the same sum for the same document whatever
 * versions it went through. It detects differences between nodes that
 * trust each other; it is not meant to resist someone choosing documents
 * to collide.
 *
 * Threads: one caller at a time (the reload lock, or the start).
 * Ownership: the digest holds a reference to the last document given;
 * config_digest_free drops it.
 */
#ifndef GTM_CONTROL_CONFIG_DIGEST_H
#define GTM_CONTROL_CONFIG_DIGEST_H

#include <jansson.h>
#include <stdint.h>

/* Zeroed: no document yet. */
struct config_digest {
    uint64_t sum[4];
    json_t *root; /* the document sum is of (a reference), NULL: none */
};

/* Makes d the digest of root: from d's document by the parts that differ
 * when d has one (the documents are never changed once given), else from
 * every part. */
void config_digest_update(struct config_digest *d, json_t *root);

/* The same when delta (jsondelta.h) turns d's document into root, or
 * NULL (then as config_digest_update): the members of a key the delta
 * changes by name are the only ones compared, a key it leaves alone is not
 * walked (a change of one record in 100,000 costs one record, not a walk
 * of 100,000). */
void config_digest_update_delta(struct config_digest *d, json_t *root, json_t *delta);

/* The sum as 64 hex digits. */
void config_digest_hex(const struct config_digest *d, char out[65]);

void config_digest_free(struct config_digest *d);

#endif

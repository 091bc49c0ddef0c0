/*
 * fleet_config.h -- the fleet's configuration in etcd (doc/fleet.md, "One
 * configuration for the fleet"): the part of the configuration file every
 * node shares, versioned, so that a change made through any node's API is
 * served by every node.
 *
 *   PREFIX/config/head              {"version": N, "full": F,
 *                                    "chain_bytes": C, "full_bytes": B}
 *   PREFIX/config/v/NNNNNNNNNNNN    {"version": N, "doc": {...}, "author",
 *                                    "change", "source", "node", "time"}
 *                                or {"version": N, "base": N-1,
 *                                    "delta": {...}, ...}
 *
 * A version holds either the whole shared document ("doc") or what it
 * changes against the version before ("delta", jsondelta.h): a change of
 * one record in 100,000 is one record in etcd, and a node applying it
 * keeps every other member's very object (so its loader keeps their
 * compiled form). F is the newest version with a whole document; every
 * version from F on is kept, so a node that has any of them, or none,
 * can follow the chain: it fetches from the version after its own, or
 * from F. A whole document is written again once the chain since F is
 * `keep` versions long and its records (C bytes) reach a quarter of F's
 * document (B bytes), or it is FLEET_CONFIG_CHAIN_MAX long, and whenever
 * the fleet's write format (fleet_compat.h) is the release before's,
 * which reads only "doc". So a change of one record in 100,000 no longer
 * rewrites the 10 MB document every keep changes (about a second of
 * etcd's time on every 20th change), while what a new node reads after
 * the document stays below a quarter of it. A head without C and B (the
 * release before writes none) falls back to keep alone.
 *
 * Both are signed like every record (fleet_sign.h); any member may write
 * them. A version is written by one transaction that compares head's mod
 * revision with the one the writer saw, puts v/N and head, and deletes the
 * version that falls out of "keep": of two writers on the same version one
 * wins and the other gets SHARED_CONFLICT. The fresh read skips config/v/
 * (the documents are large); when head moves, the node fetches the
 * versions it has not applied and hands them, oldest first, to its owner
 * (fleet_env.on_config), which keeps them all and applies the newest.
 * "Has not applied" is what the owner last told (fleet_config_applied):
 * the owner may have applied more while the fetch was under way, so the
 * records can begin with versions it has, and a delta among them whose
 * base it no longer holds is no gap.
 *
 * Threads: fleet_config_publish blocks its caller (never the fleet thread)
 * until the version is in etcd and this node's watch has seen it, or the
 * deadline (CLOCK_MONOTONIC seconds); fleet_config_applied from any thread.
 *
 * Ownership: publish copies record; the records handed to on_config are
 * borrowed for the call.
 */
#ifndef GTM_FLEET_FLEET_CONFIG_H
#define GTM_FLEET_FLEET_CONFIG_H

#include <jansson.h>
#include <stdint.h>

#include "health/shared_store.h"

struct fleet;

/* The fleet thread's news: head is the fleet's version (0: etcd holds no
 * configuration yet), records the versions this node had not applied when
 * the fetch began (it may have applied some since), in order, head's last
 * (empty when head is 0). Runs on the fleet thread: it
 * must hand the work over, not do it. records is the callee's to keep (a
 * reference): the fleet thread neither reads nor changes it after. */
typedef void (*fleet_config_fn)(void *arg, uint64_t head, json_t *records);

/* A fetch that failed is tried again after this long (or when head moves). */
#define FLEET_CONFIG_RETRY_S 5.0
/* An empty fleet is told so again after this long while it stays empty
 * and no version is being published: the owner's first version (its
 * bootstrap) may have failed, and nothing else would make it try again. */
#define FLEET_CONFIG_EMPTY_AGAIN_S 10.0
/* How long a fetch that would read a whole version again waits for the
 * owner to settle the one offered before (fleet_config_applied). */
#define FLEET_CONFIG_OFFER_WAIT_S 5.0
/* The chain since the newest whole version: at most this many versions,
 * and (past keep) the versions' bytes below 1/FLEET_CONFIG_CHAIN_SHARE of
 * the whole document's. */
#define FLEET_CONFIG_CHAIN_MAX 1000
#define FLEET_CONFIG_CHAIN_SHARE 4

/*
 * Writes record (borrowed: "doc", "author", "change", "source", and
 * optionally "delta", what doc changes against version base: written
 * instead of doc when every live member reads deltas and the chain since
 * the last whole document is short enough (above); the version, node and
 * time are added) as version base + 1 when the fleet is
 * at version base, or etcd holds none yet; drops version base + 1 - keep.
 * *version gets the new version. SHARED_CONFLICT when the fleet is not at
 * base (err says where it is), SHARED_UNAVAILABLE when nothing was sent,
 * SHARED_UNKNOWN when no answer came in time.
 */
enum shared_status fleet_config_publish(struct fleet *f, json_t *record, uint64_t base,
                                        unsigned keep, double deadline, uint64_t *version,
                                        char *err, size_t errlen);

/* Waits until this node's watch has seen everything etcd held when the
 * call was made (a linearizable read of the head's revision, then the
 * watch reaching it), until deadline (deadline_mono's clock): then
 * fleet_config_head is the fleet's newest version as of the call, not as
 * a late watch last said. 0, or -1 (etcd not reached in time). A change
 * refused by a node's validation uses it to tell a bad change from one
 * made on a version another node had already replaced. */
int fleet_config_sync(struct fleet *f, double deadline);
/* (-1 at once when the node is not synced with etcd: nothing is sent
 * then.) */

/* The version this node serves, and why the fleet's newer one is not
 * (error "" when it is): published in its node record, shown in status. */
void fleet_config_applied(struct fleet *f, uint64_t version, const char *error);

/* A version's delta did not fit what this node has: the versions are
 * fetched again from the newest whole document. */
void fleet_config_need_full(struct fleet *f);

/* The fleet's version as this node's watch last saw it (0: none). */
uint64_t fleet_config_head(struct fleet *f);

#endif

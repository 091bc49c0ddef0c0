/*
 * tsig_replay.h -- the MACs of signed zone transfer requests seen within
 * their time window, so that a captured request cannot be replayed
 * (RFC 8945 5.2.3 lets a server refuse, with BADTIME, a message older than
 * the last one a key signed; refusing the same MAC twice is that rule
 * held where it cannot hurt: a transfer is asked over TCP and a client
 * signs each new request afresh, while a UDP query retried with the same
 * octets must still be answered, so only transfers are checked).
 *
 * Bounded: the last TSIG_REPLAY_CAP requests are remembered (a ring); an
 * entry is forgotten once the request it records is outside its window
 * (time signed + the window used to check it), when it could no longer
 * be accepted anyway. Only requests whose MAC verified are recorded, so
 * only holders of a key can fill it.
 *
 * Threads: any worker may call tsig_replay_seen; a mutex guards it (it is
 * used for transfers only, never for a query). Ownership: reference
 * counted, shared by a serve set and the sets after it (a reload keeps
 * what was seen).
 */
#ifndef GTM_DNS_TSIG_REPLAY_H
#define GTM_DNS_TSIG_REPLAY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "dns/tsig.h"

#define TSIG_REPLAY_CAP 1024

struct tsig_replay;

/* A new, empty cache with one reference; NULL when out of memory. */
struct tsig_replay *tsig_replay_new(void);
/* Another reference to r (NULL: a new cache). */
struct tsig_replay *tsig_replay_reuse(struct tsig_replay *r);
void tsig_replay_unref(struct tsig_replay *r);

/*
 * Whether ctx's request (its key and MAC, as tsig_verify left them) was
 * seen before and is still within its window at now; when not, it is
 * recorded until ctx->time_signed + window. r NULL: never seen.
 */
bool tsig_replay_seen(struct tsig_replay *r, const struct tsig_ctx *ctx, uint64_t now,
                      uint64_t window);

#endif

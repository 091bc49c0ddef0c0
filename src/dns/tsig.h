/*
 * tsig.h -- transaction signatures (RFC 8945): the keys gtmd shares with
 * its secondaries and primaries, checking a signed request and signing the
 * replies to it (one message, or every message of a zone transfer).
 *
 * Algorithms: hmac-sha256 (the one every peer has), hmac-sha384,
 * hmac-sha512, hmac-sha224 and the legacy hmac-sha1. Only full-length MACs
 * are accepted (no truncation, RFC 8945 §5.2.2.1 allows refusing it).
 *
 * Ownership: a keyring owns its keys and their secrets (tsig_keyring_free).
 * A struct tsig_ctx lives with one request (on the stack, or in a transfer's
 * state) and points at a key of a keyring that must outlive it. Nothing here
 * allocates on the query path.
 */
#ifndef GTM_DNS_TSIG_H
#define GTM_DNS_TSIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "dns/packet.h"

#define TSIG_MAX_MAC 64     /* SHA-512 */
#define TSIG_MAX_SECRET 256 /* octets of a decoded secret */
#define TSIG_FUDGE 300      /* seconds of clock difference allowed by default (RFC 8945 10) */

enum tsig_error {
    TSIG_OK = 0,
    TSIG_BADSIG = 16,
    TSIG_BADKEY = 17,
    TSIG_BADTIME = 18,
    TSIG_BADTRUNC = 22,
};

struct tsig_alg;

struct tsig_key {
    char *id;          /* the name in the configuration, for logs */
    uint8_t name[255]; /* key name, lowercase wire */
    uint8_t name_len;
    const struct tsig_alg *alg;
    uint8_t secret[TSIG_MAX_SECRET];
    size_t secret_len;
    /* The most clock difference this server allows with the key (the
     * key's "fudge", default TSIG_FUDGE): a message is checked against the
     * smaller of this and its own Fudge, so a peer cannot widen the
     * window by asking; it is also the Fudge of what gtmd signs. */
    uint16_t fudge;
};

struct tsig_keyring {
    struct tsig_key *keys;
    size_t n;
};

/* The state of one signed exchange: the key, the last MAC (the request's,
 * then each signed reply's), and the request's time for a BADTIME reply. */
struct tsig_ctx {
    const struct tsig_key *key;
    uint8_t mac[TSIG_MAX_MAC];
    uint16_t mac_len;
    uint64_t time_signed; /* the request's */
    uint16_t fudge;       /* the request's */
    uint16_t window;      /* what it was checked with: min(fudge, the key's) */
    uint16_t error;       /* enum tsig_error found by tsig_verify */
};

/* The algorithm of name ("hmac-sha256", case-insensitive), or NULL. */
const struct tsig_alg *tsig_alg_by_name(const char *name);
const char *tsig_alg_name(const struct tsig_alg *a);
size_t tsig_alg_mac_len(const struct tsig_alg *a);

/* The key named by the lowercase wire name, or NULL. */
const struct tsig_key *tsig_keyring_find(const struct tsig_keyring *kr, const uint8_t *name,
                                         size_t len);
void tsig_keyring_free(struct tsig_keyring *kr);

/*
 * Checks the TSIG that ends pkt (q parsed it: q->tsig) against the keys of
 * kr at time now (seconds since the epoch). Fills ctx (key NULL when the
 * key is unknown) and returns TSIG_OK, TSIG_BADKEY (unknown key or
 * algorithm), TSIG_BADSIG, TSIG_BADTRUNC or TSIG_BADTIME (now further
 * than min(the request's Fudge, the key's fudge) from its time signed).
 */
enum tsig_error tsig_verify(const struct tsig_keyring *kr, const uint8_t *pkt, size_t len,
                            const struct dns_query *q, uint64_t now, struct tsig_ctx *ctx);

/* Octets a TSIG record with ctx's key adds to a message. */
size_t tsig_record_len(const struct tsig_ctx *ctx);

/*
 * Signs the reply msg[0..len) (its ID is the request's) by appending a TSIG
 * record, if cap allows; returns the new length (len when it does not fit
 * or ctx has no key). first: the first (or only) reply, whose MAC covers
 * the request's MAC and every TSIG variable (a ctx with no MAC yet signs a
 * request of ours, such as a NOTIFY); later messages of a transfer
 * cover the previous MAC and the timers only (RFC 8945 §5.3.1). error: the
 * TSIG error to send (BADTIME adds the server's time as other data). ctx's
 * MAC becomes this reply's.
 */
size_t tsig_sign(struct tsig_ctx *ctx, uint8_t *msg, size_t len, size_t cap, bool first,
                 uint64_t now, uint16_t error);

/*
 * Checks the TSIG of msg, a reply to a request we signed with ctx (whose
 * MAC is the request's, then each checked reply's): first for the first
 * message of the reply (its MAC covers the request's MAC and every TSIG
 * variable), else a later message of a transfer (the previous MAC and the
 * timers, RFC 8945 §5.3.1). msg must be signed; its time is checked
 * with min(its Fudge, the key's fudge). Returns TSIG_OK
 * (ctx's MAC becomes this message's) or the error; *tsig_at gets the
 * offset of the TSIG record (0 when there is none), so that the caller can
 * parse the message without it.
 */
enum tsig_error tsig_verify_reply(struct tsig_ctx *ctx, const uint8_t *msg, size_t len, bool first,
                                  uint64_t now, size_t *tsig_at);

/* tsig_verify_reply for a later message of a transfer after unsigned ones
 * (RFC 8945 §5.3.1: a server may sign as seldom as every 100th message):
 * before holds those messages as received, one after the other (without
 * their TCP length fields), which this message's MAC covers too. */
enum tsig_error tsig_verify_reply_after(struct tsig_ctx *ctx, const uint8_t *before,
                                        size_t before_len, const uint8_t *msg, size_t len,
                                        bool first, uint64_t now, size_t *tsig_at);

/* Whether msg ends with a TSIG record. */
bool tsig_present(const uint8_t *msg, size_t len);

#endif

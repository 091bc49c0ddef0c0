/*
 * cookie.h -- DNS Cookies (RFC 7873) with interoperable server cookies
 * (RFC 9018): judging the COOKIE option of a query and making the one of
 * the reply.
 *
 * A server cookie is 16 octets: Version (1), Reserved (3, zero when we
 * make one), Timestamp (4, seconds, serial number arithmetic) and Hash =
 * SipHash-2-4(Client Cookie | Version | Reserved | Timestamp | Client-IP)
 * under the 16-octet server secret; Client-IP is 4 octets for IPv4 and 16
 * for IPv6. A server cookie is valid when it has that form, its hash
 * matches under the current secret or the previous one (kept across one
 * rotation), and its timestamp is at most one hour in the past and at most
 * five minutes ahead (RFC 9018 §4.3).
 *
 * Ownership: struct cookie_params is a value (no pointers); the served
 * set holds one per configuration. Nothing here allocates.
 */
#ifndef GTM_GUARD_COOKIE_H
#define GTM_GUARD_COOKIE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "guard/siphash.h"

#define COOKIE_CLIENT_LEN 8
#define COOKIE_SERVER_LEN 16                                     /* the RFC 9018 form we make */
#define COOKIE_REPLY_LEN (COOKIE_CLIENT_LEN + COOKIE_SERVER_LEN) /* our option's length */
#define COOKIE_MAX_AGE 3600   /* seconds a server cookie stays valid */
#define COOKIE_MAX_AHEAD 300  /* seconds a timestamp may be ahead of our clock */
#define COOKIE_RENEW_AGE 1800 /* an older valid cookie is replaced by a fresh one */

struct cookie_params {
    bool enabled;          /* COOKIE options are judged and answered */
    bool require;          /* UDP queries with a client cookie alone get BADCOOKIE
                              too (RFC 7873 §5.2.3, choice 2) */
    bool rotate_on_reload; /* a reload makes a new random secret */
    bool secret_from_config;
    bool has_previous; /* previous is accepted too (after a rotation) */
    uint8_t secret[SIPHASH_KEY_LEN];
    uint8_t previous[SIPHASH_KEY_LEN];
};

enum cookie_status {
    COOKIE_NONE = 0,    /* no COOKIE option (or cookies off) */
    COOKIE_CLIENT_ONLY, /* a client cookie alone (RFC 7873 §5.2.3) */
    COOKIE_BAD,         /* a server cookie that is not valid (§5.2.4) */
    COOKIE_VALID,       /* a valid server cookie (§5.2.5) */
    COOKIE_MALFORMED,   /* a length §5.2.2 rejects (set by the caller: FORMERR) */
    COOKIE_KINDS
};

/* "none", "client_only", "bad", "valid", "malformed" (static strings). */
const char *cookie_status_name(enum cookie_status st);

/* True for the lengths RFC 7873 §5.2.2 accepts: 8 (client cookie alone)
 * or 16 to 40 (with a server cookie of 8 to 32 octets). */
bool cookie_len_ok(size_t len);

/*
 * Judges the COOKIE option opt[0..len) (len accepted by cookie_len_ok) of a
 * query from addr (AF_INET or AF_INET6) at wall-clock second now, and
 * writes into reply the COOKIE_REPLY_LEN octets to send back: the client
 * cookie and either the query's own server cookie (valid under the current
 * secret and less than COOKIE_RENEW_AGE old) or a fresh one.
 */
enum cookie_status cookie_check(const struct cookie_params *p, const uint8_t *opt, size_t len,
                                const struct sockaddr_storage *addr, uint32_t now,
                                uint8_t reply[COOKIE_REPLY_LEN]);

/* A fresh server cookie for client (8 octets) at time now: out gets
 * COOKIE_SERVER_LEN octets. */
void cookie_make(const uint8_t secret[SIPHASH_KEY_LEN], const uint8_t client[COOKIE_CLIENT_LEN],
                 const struct sockaddr_storage *addr, uint32_t now, uint8_t out[COOKIE_SERVER_LEN]);

#endif

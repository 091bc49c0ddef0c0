/*
 * policy_dial.h -- traffic dials and gradual failback: which clients a
 * partial override or a failback ramp applies to.
 *
 * A dial is an override that applies to a share of the clients only
 * ("percent", override.h). A failback ramp ("failback": {"ramp": S} on a
 * record) brings a recovered region back to a growing share of the
 * clients over S seconds. Both pick their clients with the same stable
 * bucket: a hash of the client's network key (its /24 for IPv4, /56 for
 * IPv6, from ECS when the record uses it, else the source address: the
 * key of "select": "hashed") and a salt, mapped to 0..9999. A client is
 * in a share of N basis points when its bucket is below N, so a client in
 * a share stays in every larger share with the same salt: turning a dial
 * up, or a ramp progressing, only adds clients.
 *
 * ECS scope: an answer that a dial or a ramp decided depends on the
 * client's key and nothing finer, so its scope is the key's prefix (24 or
 * 56), or the client's source prefix when shorter (the bits it did not
 * send are zero in the key): a resolver that caches the answer for that
 * scope serves it only to clients with the same bucket.
 *
 * Runs on the query path: no allocation, no lock.
 */
#ifndef GTM_POLICY_POLICY_DIAL_H
#define GTM_POLICY_POLICY_DIAL_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>

#include "dns/packet.h"
#include "health/health.h"

/* Shares are in basis points: 10000 is every client. */
#define POLICY_DIAL_FULL 10000u

/* Who asks, for dials and ramps (lives on the evaluating thread's stack). */
struct policy_dial_client {
    const struct sockaddr_storage *addr; /* source address; may be NULL */
    const struct dns_ecs *ecs;           /* client subnet; may be NULL */
    bool use_ecs;                        /* the record locates clients by ECS */
    bool used;                           /* a dial or ramp decided for this client */
    uint8_t scope;                       /* the ECS scope its key gives */
};

/* The client's network key (8 octets: the /24 or /56, masked to the ECS
 * source prefix, and the family in the last octet); *scope receives the
 * prefix the key depends on when it comes from ECS (else 0), *from_ecs
 * whether it does. */
void policy_dial_client_key(const struct sockaddr_storage *addr, const struct dns_ecs *ecs,
                            bool use_ecs, uint8_t key[8], uint8_t *scope, bool *from_ecs);
/* The bucket (0..9999) of key under salt. */
uint16_t policy_dial_bucket_key(const uint8_t key[8], uint32_t salt);
/* The bucket of client c under salt; marks c as used (its scope set). */
uint16_t policy_dial_bucket(struct policy_dial_client *c, uint32_t salt);
/* The default salt of a target ("region:us-east"): independent shares for
 * different targets, nested ones for successive dials on one target. */
uint32_t policy_dial_salt(const char *target);

#endif

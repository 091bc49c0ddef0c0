/*
 * policy_loss.h -- targets lost for some clients: what the DNS path reads
 * of scoped drills (src/drill).
 *
 * A loss view is a list of groups; each group is a set of client networks
 * (a scoped drill's canary) and the region and az slots that are lost for
 * clients inside them. The view is immutable once built: the drill module
 * builds a new one at every change and publishes it through the serve
 * core (serve_publish_loss), which frees the old one after a grace period,
 * so workers read it without a lock.
 *
 * Per query, policy_loss_match() finds the groups whose networks hold the
 * client (the ECS network when the query has ECS, else the source address)
 * and gives the slots to lay over the live state (a policy_overlay's drill
 * part) and the narrowest ECS scope the answer must carry:
 *
 *  - inside a canary network N: the scope is at least N's prefix length,
 *    so a resolver never caches the drilled answer for clients outside N;
 *  - outside N: the scope is long enough that the returned prefix does not
 *    contain N (one bit past the common prefix of the client and N), so a
 *    resolver never hands the normal answer to N's clients from its cache.
 *
 * Ownership: a view owns its groups, networks and tags, not the slots
 * (the health core's, which live for the whole run).
 */
#ifndef GTM_POLICY_POLICY_LOSS_H
#define GTM_POLICY_POLICY_LOSS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "dns/packet.h"
#include "health/health.h"

/* Slots lost for one client at most (the rest are ignored). */
#define POLICY_LOSS_MAX 64

/* An IPv4 or IPv6 network; bits past len are zero. */
struct policy_net {
    uint8_t family; /* 1 IPv4, 2 IPv6 (as in ECS) */
    uint8_t len;    /* prefix length */
    uint8_t addr[16];
};

/* Parses "ADDRESS/LEN" (IPv4 or IPv6) with no bits set past LEN; false
 * with a reason in err otherwise. */
bool policy_net_parse(const char *text, struct policy_net *out, char *err, size_t errlen);
/* "ADDRESS/LEN" into buf (at least 64 octets). */
void policy_net_format(const struct policy_net *n, char *buf, size_t len);
/* True when the network (family, addr, len) lies inside n. */
bool policy_net_holds(const struct policy_net *n, uint8_t family, const uint8_t *addr,
                      unsigned len);

struct policy_loss_group {
    char *tag; /* who: the scoped drill's id, for explain */
    struct policy_net *nets;
    size_t n_nets;
    const struct health_slot **slots; /* lost inside nets */
    size_t n_slots;
};

struct policy_loss {
    struct policy_loss_group *groups;
    size_t n_groups;
};

/* An empty view; policy_loss_add() fills it before it is published. */
struct policy_loss *policy_loss_new(void);
/* Adds a group (everything copied). */
void policy_loss_add(struct policy_loss *v, const char *tag, const struct policy_net *nets,
                     size_t n_nets, const struct health_slot *const *slots, size_t n_slots);
void policy_loss_free(struct policy_loss *v);

/* The client of a query as the loss view sees it. */
struct policy_loss_client {
    uint8_t family; /* 0: unknown (no address) */
    uint8_t len;    /* prefix length: the ECS source prefix, or 32/128 */
    uint8_t addr[16];
};

/* The client from the source address (may be NULL) and ECS (may be NULL
 * or absent): ECS wins when present. */
void policy_loss_client_of(const struct sockaddr_storage *src, const struct dns_ecs *ecs,
                           struct policy_loss_client *out);

struct policy_loss_match {
    const struct health_slot *lost[POLICY_LOSS_MAX];
    uint16_t n_lost;
    uint8_t scope_min;   /* ECS scope the answer needs at least */
    const char *tags[4]; /* the first matching groups' tags */
    uint8_t n_tags;
};

/* Matches client against v (NULL: nothing lost, scope 0). No allocation,
 * no lock: runs on the DNS path. */
void policy_loss_match(const struct policy_loss *v, const struct policy_loss_client *client,
                       struct policy_loss_match *out);

#endif

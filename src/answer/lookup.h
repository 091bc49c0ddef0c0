/*
 * lookup.h -- decides the answer to a query: which RRsets go in which
 * section, the rcode and the AA bit ("decide, then encode").
 *
 * The plan is a fixed-size structure on the worker's stack; it points into
 * the snapshot's zones (which outlive the query) and into its own name
 * storage for CNAME chain targets. Nothing is allocated.
 */
#ifndef GTM_ANSWER_LOOKUP_H
#define GTM_ANSWER_LOOKUP_H

#include <stdbool.h>
#include <stdint.h>

#include "dns/name.h"
#include "dns/packet.h"
#include "zone/snapshot.h"

#define ANSWER_MAX_RRS 48
#define ANSWER_MAX_CHAIN 12 /* CNAME hops followed inside our zones */

enum answer_section { ANSWER_SEC_ANSWER = 0, ANSWER_SEC_AUTHORITY, ANSWER_SEC_ADDITIONAL };

struct answer_rr {
    const struct zone_rrset *rrset;
    const uint8_t *owner; /* wire name; NULL = the question's name */
    uint8_t owner_len;
    uint8_t section;
    bool required; /* additional record whose absence must set TC */
};

struct answer_plan {
    uint16_t rcode;
    bool aa;
    uint8_t n_names;
    uint16_t n;
    struct answer_rr rrs[ANSWER_MAX_RRS];
    uint8_t names[ANSWER_MAX_CHAIN][DNS_MAX_NAME]; /* CNAME targets */
};

/* Fills plan for q against s. tcp selects the full ANY answer. */
void answer_lookup(const struct snapshot *s, const struct dns_query *q, bool tcp,
                   struct answer_plan *plan);

#endif

/*
 * lookup_int.h -- internals shared by lookup.c and lookup_dnssec.c. Not
 * for use outside src/answer.
 */
#ifndef GTM_ANSWER_LOOKUP_INT_H
#define GTM_ANSWER_LOOKUP_INT_H

#include "answer/lookup.h"

struct lookup_ctx {
    const struct serve_set *set;
    struct serve_reader *reader; /* counts policy answers; may be NULL */
    uint16_t qtype;
    bool tcp;
    bool dnssec;   /* DO=1: add RRSIGs and denial proofs */
    bool negative; /* this query ended in NXDOMAIN or NODATA */
    const struct policy_client *client;
    struct answer_plan *plan;
    const struct dns_name *name;     /* the name this step of the chain looks up */
    const struct zone_node *wild_ce; /* while answering through a wildcard: its parent */
};

/* Appends one RRset to the plan (dropped when the plan is full). */
void lookup_add(struct answer_plan *p, const struct zone_rrset *set, const uint8_t *owner,
                size_t owner_len, enum answer_section sec, bool required);

/* lookup_dnssec.c: the NSEC/NSEC3 records (RFC 4035 §3.1.3, RFC 5155 §7.2)
 * added to the authority section with DO=1, from what the zone found at
 * load; each adds nothing in a zone without a denial chain. */

/* NXDOMAIN (node: the closest encloser of c->name) or NODATA (node: the
 * name's node, or the wildcard node while c->wild_ce is set). */
void lookup_dnssec_negative(struct lookup_ctx *c, const struct zone *z,
                            const struct zone_node *node, uint16_t rcode);
/* A positive answer synthesised from the wildcard below ce: no closer
 * match exists. */
void lookup_dnssec_wildcard(struct lookup_ctx *c, const struct zone *z, const struct zone_node *ce);
/* A referral: the DS RRset of the cut, or the proof that it has none. */
void lookup_dnssec_referral(struct lookup_ctx *c, const struct zone *z,
                            const struct zone_node *cut);

#endif

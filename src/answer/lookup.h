/*
 * lookup.h -- decides the answer to a query: which RRsets go in which
 * section, the rcode and the AA bit ("decide, then encode").
 *
 * The plan is a fixed-size structure on the worker's stack; it points into
 * the served set's zones (which outlive the query) and into its own name
 * storage for CNAME chain targets. Nothing is allocated.
 */
#ifndef GTM_ANSWER_LOOKUP_H
#define GTM_ANSWER_LOOKUP_H

#include <stdbool.h>
#include <stdint.h>

#include "dns/name.h"
#include "dns/packet.h"
#include "policy/policy_answer.h"
#include "policy/policy_eval.h"
#include "serve/serve.h"
#include "zone/snapshot.h"

#define ANSWER_MAX_RRS 48
#define ANSWER_MAX_CHAIN 12 /* CNAME hops followed inside our zones */
#define ANSWER_MAX_SYNTH 4  /* policy answers computed per query */

enum answer_section { ANSWER_SEC_ANSWER = 0, ANSWER_SEC_AUTHORITY, ANSWER_SEC_ADDITIONAL };

struct answer_rr {
    const struct zone_rrset *rrset;
    const uint8_t *owner; /* wire name; NULL = the question's name */
    uint8_t owner_len;
    uint8_t section;
    bool required; /* additional record whose absence must set TC */
};

/* An RRset computed from a policy record for this query. */
struct answer_synth {
    struct zone_rrset rrset;
    uint8_t rdata[POLICY_ANSWER_RDATA];
};

/* What GET /v1/explain shows: the first policy decision of the query. */
struct answer_trace {
    bool used; /* a policy record was evaluated */
    const struct policy_record *record;
    uint16_t rtype;
    struct policy_trace policy;
    struct policy_result result;
};

struct answer_plan {
    struct answer_trace *trace; /* NULL on the DNS path */
    uint16_t rcode;
    uint16_t rclass; /* class of the records: IN, or CH for identity answers */
    bool aa;
    /* For response rate limiting (guard/rrl.h): the zone of the question
     * (NULL when none), whether the answer is a pure referral, and whether
     * a wildcard made any of it. */
    const struct zone *zone;
    bool referral;
    bool wildcard;
    bool dnssec;       /* DO=1: RRsets go out with their RRSIGs (rrset->sigs) */
    uint8_t ecs_scope; /* widest prefix giving the same answer */
    uint8_t n_synth;
    uint8_t n_names;
    uint16_t n;
    struct answer_rr rrs[ANSWER_MAX_RRS];
    uint8_t names[ANSWER_MAX_CHAIN][DNS_MAX_NAME]; /* CNAME targets */
    struct answer_synth synth[ANSWER_MAX_SYNTH];
};

/* The question's zone, when the caller has already looked it up
 * (snapshot_find_zone for q's name and type in the same set): UDP's
 * prefetch pass does, so the answer does not look again. */
struct answer_zone_hint {
    const struct zone *zone; /* NULL: not in our zones */
    bool known;              /* false: answer_lookup looks it up */
};

/* Fills plan for q against the served set s (hint: the question's zone,
 * or NULL). tcp selects the full ANY answer; client (source address, ECS, random state) feeds
 * policy records. Policy answers are counted in reader's counters (NULL, or a traced plan: not
 * counted); reader must have entered s. */
void answer_lookup(const struct serve_set *s, const struct dns_query *q,
                   const struct answer_zone_hint *hint, bool tcp,
                   const struct policy_client *client, struct serve_reader *reader,
                   struct answer_plan *plan);

#endif

/*
 * policy_answer.h -- the final answer of a policy record to one query:
 * the records served (their data, count and TTL), their signatures when
 * the query has DO and the record's zone is signed at load
 * (policy_sign.h), and the ECS scope, with the floor a scoped drill puts
 * on it applied. The DNS path (src/answer/lookup.c) only places the
 * answer in the reply and counts it.
 *
 * Threads: any worker; nothing here blocks or allocates.
 * Ownership: the answer's data is written into the caller's buffer; its
 * signatures belong to the set's signature store (valid while the caller
 * holds the set).
 */
#ifndef GTM_POLICY_POLICY_ANSWER_H
#define GTM_POLICY_POLICY_ANSWER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "policy/policy_eval.h"
#include "policy/policy_loss.h"
#include "policy/policy_sign.h"
#include "zone/zone.h"

/* The largest answer's data: POLICY_MAX_ANSWERS AAAA records (2 octets of
 * length and 16 of address each), or a CNAME's name. */
#define POLICY_ANSWER_RDATA (POLICY_MAX_ANSWERS * 18 > 260 ? POLICY_MAX_ANSWERS * 18 : 260)

struct policy_answer {
    struct policy_result res; /* the evaluation: outcome, serving region, geo kind */
    uint8_t ecs_scope;        /* the scope to return (the drill floor applied) */
    uint16_t count;           /* records; 0: nothing is answered (when_all_down empty) */
    uint32_t ttl;
    uint32_t rdata_len;            /* in the caller's buffer: count x (RDLENGTH RDATA) */
    const struct zone_rrset *sigs; /* the RRSIGs; NULL: unsigned */
};

/* The answer of record r to a query of rtype from client c, its data into
 * rdata (POLICY_ANSWER_RDATA octets). With dnssec and a signed record:
 * the signed answer; when the exact one is not signed yet (a random
 * selection, a state still being signed) it is asked for, and the answer
 * becomes the signed one of every candidate, else the record's last
 * signed one (never an answer a validator would reject, unless the store
 * has none: then it is counted as unsigned). c->trace, when set, records
 * the evaluation (explain). */
/* Sets on c the client as a scoped drill's loss view v sees it (query.c,
 * once per query): the targets it loses (ov, backed by lm), the ECS scope
 * its answers need at least (with ECS; policy_answer applies it), and
 * whether it is a canary. lm and ov must outlive c's use. */
void policy_answer_client(const struct policy_loss *v, const struct sockaddr_storage *src,
                          const struct dns_ecs *ecs, struct policy_loss_match *lm,
                          struct policy_overlay *ov, struct policy_client *c);

void policy_answer(const struct gslb *g, struct policy_sigs *sigs, const struct policy_record *r,
                   uint16_t rtype, const struct policy_client *c, bool dnssec, uint8_t *rdata,
                   struct policy_answer *out);

/* The TTL of r's answer res: r->ttl, or with a health-aware TTL
 * ("ttl_min", as gdnsd shortens TTLs near a change) the seconds until
 * res->change_at_ms, rounded up, between ttl_min and ttl (ttl_min once
 * that time has passed without the change). */
uint32_t policy_answer_ttl(const struct policy_record *r, const struct policy_result *res);

#endif

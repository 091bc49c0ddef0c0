/*
 * policy_answer.c -- the final answer of a policy record (policy_answer.h).
 */
#include "policy/policy_answer.h"

#include <string.h>

#include "dns/dns.h"

/* The signed form of the answer in out (rdata), by the store's rules
 * (policy_answer.h). */
static void policy_answer_sign(const struct gslb *g, struct policy_sigs *ps,
                               const struct policy_record *r, uint16_t rtype,
                               const struct policy_client *c, uint8_t *rdata,
                               struct policy_answer *out)
{
    const struct policy_sig_entry *e =
        policy_sigs_find(ps, r->index, rtype, rdata, out->rdata_len, out->count);
    if (e) {
        out->sigs = &e->sigs;
        return;
    }
    /* Signed by the next update (a random selection's answer, or one of
     * a state whose signing is under way). */
    policy_sigs_request(ps, r, rtype, out->res.eps, out->count);
    if (rtype != DNS_TYPE_CNAME) {
        struct policy_result all;
        uint8_t rd[POLICY_ANSWER_RDATA];
        struct policy_client plain = *c; /* explain traces the answer's evaluation only */
        plain.trace = NULL;
        policy_eval_all(g, r, rtype, &plain, &all);
        size_t len = policy_sigs_rdata(all.eps, all.n, rd);
        e = all.n ? policy_sigs_find(ps, r->index, rtype, rd, len, all.n) : NULL;
    }
    if (!e)
        e = policy_sigs_last(ps, r->index);
    if (!e) {
        atomic_fetch_add_explicit(&ps->unsigned_answers, 1, memory_order_relaxed);
        return;
    }
    memcpy(rdata, e->rdata, e->rdata_len);
    out->rdata_len = e->rdata_len;
    out->count = e->count;
    out->sigs = &e->sigs;
}

void policy_answer_client(const struct policy_loss *v, const struct sockaddr_storage *src,
                          const struct dns_ecs *ecs, struct policy_loss_match *lm,
                          struct policy_overlay *ov, struct policy_client *c)
{
    struct policy_loss_client lc;
    policy_loss_client_of(src, ecs, &lc);
    policy_loss_match(v, &lc, lm);
    ov->lost = lm->lost;
    ov->n_lost = lm->n_lost;
    c->overlay = lm->n_lost ? ov : NULL;
    c->ecs_scope_min = ecs && ecs->present ? lm->scope_min : 0;
    c->canary = lm->n_tags > 0;
}

uint32_t policy_answer_ttl(const struct policy_record *r, const struct policy_result *res)
{
    if (!r->health_ttl || !res->change_at_ms)
        return r->ttl;
    int64_t left = res->change_at_ms - health_mono_ms();
    /* Past due (a probe result late): the change may come any moment. */
    uint64_t secs = left <= 0 ? 0 : ((uint64_t)left + 999) / 1000;
    if (secs < r->ttl_min)
        secs = r->ttl_min;
    return secs < r->ttl ? (uint32_t)secs : r->ttl;
}

void policy_answer(const struct gslb *g, struct policy_sigs *sigs, const struct policy_record *r,
                   uint16_t rtype, const struct policy_client *c, bool dnssec, uint8_t *rdata,
                   struct policy_answer *out)
{
    policy_eval(g, r, rtype, c, &out->res);
    /* A scoped drill is running: never a scope that mixes canary and other
     * clients (policy_loss.h). */
    out->ecs_scope = out->res.ecs_scope < c->ecs_scope_min ? c->ecs_scope_min : out->res.ecs_scope;
    out->ttl = policy_answer_ttl(r, &out->res);
    out->sigs = NULL;
    out->count = rtype == DNS_TYPE_CNAME && out->res.n ? 1 : out->res.n; /* one CNAME per name */
    out->rdata_len = out->count ? (uint32_t)policy_sigs_rdata(out->res.eps, out->count, rdata) : 0;
    if (out->count && dnssec && policy_sigs_covers(sigs, r->index))
        policy_answer_sign(g, sigs, r, rtype, c, rdata, out);
}

/*
 * identity.c -- CHAOS-class TXT answers about the server.
 */
#include "answer/identity.h"

#include <string.h>

#include "dns/dns.h"

/* The names, as lowercase wire names, and which text answers each. */
static const struct {
    const char *wire;
    size_t len;
    bool version;
} identity_names[] = {
    {"\002id\006server", 11, false},
    {"\010hostname\004bind", 15, false},
    {"\007version\004bind", 14, true},
    {"\007version\006server", 16, true},
};

bool answer_identity(const struct serve_set *s, const struct dns_query *q, struct answer_plan *plan)
{
    const char *text = NULL;
    bool known = false;
    for (size_t i = 0; i < sizeof(identity_names) / sizeof(identity_names[0]) && !known; i++)
        if (q->qname.len == identity_names[i].len &&
            memcmp(q->qname.wire, identity_names[i].wire, identity_names[i].len) == 0) {
            known = true;
            text = identity_names[i].version ? s->identity.version : s->identity.identity;
        }
    if (!known || !text || (q->qtype != DNS_TYPE_TXT && q->qtype != DNS_TYPE_ANY))
        return false;
    size_t len = strlen(text); /* at most 255 (config check) */
    struct answer_synth *sy = &plan->synth[0];
    dns_put16(sy->rdata, (uint16_t)(len + 1));
    sy->rdata[2] = (uint8_t)len;
    memcpy(sy->rdata + 3, text, len);
    sy->rrset = (struct zone_rrset){.rdata = sy->rdata,
                                    .rdata_len = (uint32_t)len + 3,
                                    .ttl = 0,
                                    .type = DNS_TYPE_TXT,
                                    .count = 1};
    plan->rcode = DNS_RCODE_NOERROR;
    plan->rclass = DNS_CLASS_CH;
    plan->aa = false; /* as NSD and Knot answer them */
    plan->zone = NULL;
    plan->referral = plan->wildcard = false;
    plan->dnssec = false; /* nothing here is signed */
    plan->ecs_scope = 0;
    plan->n_names = 0;
    plan->n_synth = 1;
    plan->n = 1;
    plan->rrs[0] = (struct answer_rr){
        .rrset = &sy->rrset, .owner = NULL, .owner_len = 0, .section = ANSWER_SEC_ANSWER};
    return true;
}
